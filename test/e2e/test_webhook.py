"""The admission webhook on the test bed, driven with the real kubectl.

The bed's API server calls build/etcd-webhook through the webhook
configurations in manifests/ (caBundle filled by the harness), as
kube-apiserver would: mutating first, then validating, with JSON Patch
applied and warnings passed to kubectl. No controller runs here: where a rule
depends on the cluster being settled, the test publishes the status a
controller would (through the status subresource).
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))

from kbed.harness import Bed  # noqa: E402

MANIFESTS = os.path.join(ROOT, "manifests")
ANN = "etcd.k8s-operator.io/target-replicas"
ARROW = "\u2192"


def cluster(name, replicas, version="3.5.17"):
    return ("apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\n"
            "metadata:\n  name: %s\n  namespace: default\n"
            "spec:\n  replicas: %d\n  version: \"%s\"\n" % (name, replicas, version))


class WebhookOnTheBed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = Bed(manifests=True)
        try:
            cls.bed.apply_manifests([os.path.join(MANIFESTS, "namespace")])
            cls.webhook = cls.bed.start_webhook()
            cls.bed.apply_manifests([os.path.join(MANIFESTS, "webhook", "mutating-webhook.yaml"),
                                     os.path.join(MANIFESTS, "webhook", "validating-webhook.yaml")])
        except Exception:
            cls.bed.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()

    # ---- helpers ----------------------------------------------------------
    def apply(self, name, replicas, check=True, extra=(), **kw):
        return self.bed.kubectl("apply", *extra, "-f", "-", input=cluster(name, replicas, **kw), check=check)

    def get(self, name):
        return self.bed.get("etcdclusters", name)

    def settle(self, name, voters=None, **status):
        """The status a controller publishes once `voters` members are healthy
        (default: spec.replicas) and it has seen the latest generation."""
        ec = self.get(name)
        n = voters if voters is not None else ec["spec"]["replicas"]
        st = {"phase": "Running", "observedGeneration": ec["metadata"]["generation"], "replicas": n,
              "readyReplicas": n,
              "members": [{"name": "%s-%d" % (name, i), "healthy": True, "learner": False} for i in range(n)]}
        st.update(status)
        code, out = self.bed.patch("etcdclusters", name, {"status": st}, sub="status")
        self.assertEqual(code, 200, out)

    def refused(self, *args, input=None):
        r = self.bed.kubectl(*args, input=input, check=False)
        self.assertNotEqual(r.returncode, 0, "kubectl %s was admitted: %s" % (" ".join(args), r.stdout))
        return r.stderr

    # ---- staging ----------------------------------------------------------
    def test_apply_1_to_3_is_staged_with_the_path_in_a_warning(self):
        self.apply("stage", 1)
        self.settle("stage")
        r = self.apply("stage", 3)
        self.assertIn("Warning:", r.stderr)
        self.assertIn("1 %s 2 %s 3" % (ARROW, ARROW), r.stderr)
        ec = self.get("stage")
        self.assertEqual(ec["spec"]["replicas"], 2)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "3")

        # the controller's next step once 2 are healthy: the target is reached and dropped
        self.settle("stage")
        code, out = self.bed.patch("etcdclusters", "stage", {"spec": {"replicas": 3}})
        self.assertEqual(code, 200, out)
        ec = self.get("stage")
        self.assertEqual(ec["spec"]["replicas"], 3)
        self.assertNotIn(ANN, ec["metadata"].get("annotations") or {})

    def test_create_of_three_starts_at_one(self):
        r = self.apply("fresh", 3)
        self.assertIn("1 %s 2 %s 3" % (ARROW, ARROW), r.stderr)
        ec = self.get("fresh")
        self.assertEqual(ec["spec"]["replicas"], 1)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "3")

    def test_server_dry_run_gives_the_same_answer_and_stores_nothing(self):
        self.apply("dry", 1)
        self.settle("dry")
        r = self.apply("dry", 3, extra=("--dry-run=server", "-o", "json"))
        self.assertIn("1 %s 2 %s 3" % (ARROW, ARROW), r.stderr)
        self.assertIn('"replicas": 2', r.stdout)
        self.assertEqual(self.get("dry")["spec"]["replicas"], 1)

    def test_not_settled_holds_the_step_in_flight_and_cancel_is_allowed(self):
        self.apply("busy", 1)
        self.settle("busy")
        self.apply("busy", 3)  # staged at 2, target 3
        self.settle("busy", voters=1, phase="Scaling",
                    scaling={"from": 1, "to": 2, "step": "CatchUp"})
        self.apply("busy", 3)  # a GitOps sync re-applies 3 meanwhile
        ec = self.get("busy")
        self.assertEqual(ec["spec"]["replicas"], 2)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "3")
        # a patch straight to 3 is held at the step in flight too
        r = self.bed.kubectl("patch", "ec", "busy", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
        self.assertIn("held at 2", r.stderr)
        self.assertEqual(self.get("busy")["spec"]["replicas"], 2)
        # the scale subresource cannot be held (no annotation): refused, with the way out
        err = self.refused("scale", "etcdcluster/busy", "--replicas", "3")
        self.assertIn("changing 1 %s 2" % ARROW, err)
        self.assertIn("scale to 1 to cancel", err)
        # cancelling is always allowed, and drops the target
        self.apply("busy", 1)
        ec = self.get("busy")
        self.assertEqual(ec["spec"]["replicas"], 1)
        self.assertNotIn(ANN, ec["metadata"].get("annotations") or {})

    # ---- refusals -----------------------------------------------------------
    def test_kubectl_scale_jump_is_refused_naming_kubectl_etcd_scale(self):
        self.apply("jump", 1)
        self.settle("jump")
        err = self.refused("scale", "etcdcluster/jump", "--replicas", "5")
        self.assertIn("kubectl etcd scale jump --replicas 5", err)
        self.assertEqual(self.get("jump")["spec"]["replicas"], 1)
        # one step through the scale subresource is fine
        self.bed.kubectl("scale", "etcdcluster/jump", "--replicas", "2")
        self.assertEqual(self.get("jump")["spec"]["replicas"], 2)

    def test_version_downgrade_and_skipped_minor_are_refused(self):
        self.apply("ver", 1, version="3.5.17")
        self.settle("ver")
        err = self.refused("apply", "-f", "-", input=cluster("ver", 1, version="3.4.23"))
        self.assertIn("cannot go from 3.5.17 down to 3.4.23", err)
        # 3.5 below 3.5.26 to 3.6: through 3.5.26 first (etcd's upgrade notes)
        err = self.refused("apply", "-f", "-", input=cluster("ver", 1, version="3.6.16"))
        self.assertIn("Upgrade to 3.5.26 (or a newer 3.5.x) first, then to 3.6.16", err)
        # a new cluster on 3.4 is refused (DESIGN §3: 3.5 or newer); one made on 3.4
        # by an older operator may only move on to 3.5 (unit-tested in test_policy)
        err = self.refused("apply", "-f", "-", input=cluster("old", 1, version="3.4.23"))
        self.assertIn("3.4.23 is not a version this operator runs: it runs 3.5.x, 3.6.x and 3.7.x", err)
        self.apply("new", 1, version="3.7.4")
        self.assertEqual(self.get("new")["spec"]["version"], "3.7.4")

    def test_scale_down_below_quorum_is_refused(self):
        self.apply("quorum", 1)
        self.settle("quorum")
        self.apply("quorum", 2)
        self.settle("quorum")
        self.apply("quorum", 3)
        self.settle("quorum")
        members = [{"name": "quorum-0", "healthy": False}, {"name": "quorum-1", "healthy": True},
                   {"name": "quorum-2", "healthy": True}]
        self.settle("quorum", voters=3, members=members)
        err = self.refused("apply", "-f", "-", input=cluster("quorum", 2))
        self.assertIn("removing quorum-2 would leave 1 healthy voting member", err)

    def test_delete_is_allowed(self):
        self.apply("gone", 1)
        self.bed.kubectl("delete", "etcdcluster", "gone")
        self.assertIsNone(self.get("gone"))


if __name__ == "__main__":
    unittest.main()
