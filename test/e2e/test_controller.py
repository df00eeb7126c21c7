"""The controller end to end (DESIGN §4), with the webhook, on the real control plane (kbed)
with real etcd: a cluster created with 3 members (staged by the webhook to
1 → 2 → 3), then 3 → 5 → 3 → 1 → 3, while a writer puts sequential keys
through the client Service and a prober checks quorum.

Asserts: every acknowledged write is there afterwards, quorum is never lost
(no two failed probes in a row), never two learners, never a voter without
its Pod, the target annotation is gone at the end, the steps happen in the
protocol's order (Events), the removed members' claims are gone, and the
client Service only ever routes to voters. The same on etcd 3.5 members:
1 → 3 → 5 → 3 → 1 under the writer.
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed, MANIFESTS  # noqa: E402


class ScaleWithWebhook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = ControllerBed(webhook=True)

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()

    def test_1_create_three_staged(self):
        cb = self.cb
        r = cb.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "samples", "etcdcluster-demo-3.yaml"))
        self.assertIn("1 → 2 → 3", r.stderr + r.stdout)  # the webhook's warning names the path
        ec = cb.get("demo")
        self.assertEqual(ec["spec"]["replicas"], 1)
        self.assertEqual(ec["metadata"]["annotations"]["etcd.k8s-operator.io/target-replicas"], "3")
        cb.wait_status("demo", lambda e: (e.get("status") or {}).get("readyReplicas", 0) >= 1,
                       "the first member", 60)
        with cb.load("demo", "create") as load:
            cb.wait_settled("demo", 3)
        load.check(self)
        reasons = cb.reasons("demo")
        for want in ("Creating", "ClusterCreated", "BootstrapDisabled", "MemberAdded", "MemberPromoted",
                     "ScaleStaged"):
            self.assertIn(want, reasons)
        # add → raise → promote, in that order, for each new member
        adds = [i for i, r in enumerate(reasons) if r == "MemberAdded"]
        self.assertEqual(len(adds), 2)
        for i in adds:
            self.assertEqual(reasons[i + 1:i + 3], ["StatefulSetScaled", "MemberPromoted"])
        st = cb.get("demo")["status"]
        self.assertEqual([m["name"] for m in st["members"]], ["demo-0", "demo-1", "demo-2"])
        self.assertTrue(st["clusterID"])
        self.assertEqual(sum(1 for m in st["members"] if m["leader"]), 1)
        # the bootstrap permission is gone once the id is recorded: from the
        # template, and from Pod 0, which was made while it was there
        ann = "etcd.k8s-operator.io/bootstrap"
        sts = cb.bed.get("statefulsets", "demo")
        self.assertEqual(sts["spec"]["template"]["metadata"]["annotations"][ann], "false")
        for p in cb.bed.list("pods", selector="etcd.k8s-operator.io/cluster=demo"):
            self.assertEqual(p["metadata"]["annotations"][ann], "false", p["metadata"]["name"])

    def test_2_scale_sequence_under_load(self):
        cb = self.cb
        if not cb.settled("demo", 3):
            self.skipTest("needs the cluster of test_1")
        with cb.load("demo", "seq") as load:
            for n in (5, 3, 1, 3):
                cb.scale("demo", n)
                cb.wait_settled("demo", n)
                pods = sorted(p["metadata"]["name"] for p in cb.bed.list(
                    "pods", selector="etcd.k8s-operator.io/cluster=demo"))
                self.assertEqual(pods, ["demo-%d" % k for k in range(n)])
                claims = sorted(c["metadata"]["name"] for c in cb.bed.list("persistentvolumeclaims")
                                if c["metadata"]["name"].startswith("data-demo-"))
                self.assertEqual(claims, ["data-demo-%d" % k for k in range(n)],
                                 "a removed member's claim must go (its data is never reused)")
                # the client Service selects voters only (the EndpointSlice
                # controller follows the Pods' readiness within a moment)
                def ready_addresses():
                    return sum(1 for sl in cb.bed.list("endpointslices",
                                                       selector="kubernetes.io/service-name=demo-client")
                               for e in sl.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
                cb.bed.wait_for(lambda: ready_addresses() == n, 30, "%d ready client endpoints" % n, 0.3)
                self.assertEqual(len(cb.members("demo")), n)
                pdb = cb.bed.get("poddisruptionbudgets", "demo")
                self.assertEqual(pdb["spec"]["maxUnavailable"], (n - 1) // 2)
        r = load.check(self)
        reasons = cb.reasons("demo")
        self.assertIn("MemberRemoved", reasons)
        self.assertIn("VolumeDeleted", reasons)
        sys.stderr.write("\n  writes acknowledged %d, failed puts %d, probes ok %d failed %d\n" % (
            len(r["acked"]), len(r["fails"]), r["probes_ok"], len(r["probes_fail"])))

    def test_3_webhook_down_while_staging(self):
        """The controller's own step toward the target goes through the
        webhook; with the webhook down it is refused (failurePolicy Fail),
        retried with back-off, and completes when the webhook is back."""
        cb = self.cb
        if not cb.settled("demo", 3):
            self.skipTest("needs the cluster of test_2")
        with cb.load("demo", "hook") as load:
            cb.scale("demo", 5)  # staged: spec 4, target 5
            ec = cb.get("demo")
            self.assertEqual(ec["spec"]["replicas"], 4)
            cb.bed.fault("webhook", mode="down")
            try:
                cb.wait_status("demo", lambda e: (e.get("status") or {}).get("readyReplicas") == 4
                               and (e.get("status") or {}).get("phase") == "Running", "4 voters", 120)
                cb.bed.wait_for(lambda: "failed calling webhook" in cb.controller.output()
                                or "webhook" in cb.controller.output().split("PatchReplicasToward")[-1],
                                60, "the controller to meet the webhook's absence")
                self.assertEqual(cb.get("demo")["spec"]["replicas"], 4)
            finally:
                cb.bed.fault("webhook", mode="ok")
            cb.wait_settled("demo", 5)
        load.check(self)



class ScaleOnEtcd35(unittest.TestCase):
    """The same protocol on etcd 3.5 members (the cluster-side release before
    3.6, still what Kubernetes <= 1.33 pairs with): 1 → 3 → 5 → 3 → 1 under the
    writer and the prober, with no acknowledged write lost."""

    @classmethod
    def setUpClass(cls):
        cls.cb = ControllerBed(webhook=True)

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()

    def test_scale_sequence_on_35(self):
        cb = self.cb
        cb.create("old", 1, version="3.5.36")
        cb.wait_settled("old", 1)
        with cb.load("old", "v35") as load:
            for n in (3, 5, 3, 1):
                cb.scale("old", n)
                cb.wait_settled("old", n)
                self.assertEqual(len(cb.members("old")), n)
        r = load.check(self)
        versions = {p["spec"]["containers"][0]["image"] for p in cb.bed.list(
            "pods", selector="etcd.k8s-operator.io/cluster=old")}
        self.assertEqual(versions, {"gcr.io/etcd-development/etcd:v3.5.36"})
        sys.stderr.write("\n  3.5: writes acknowledged %d, failed puts %d, probes ok %d failed %d\n" % (
            len(r["acked"]), len(r["fails"]), r["probes_ok"], len(r["probes_fail"])))


if __name__ == "__main__":
    unittest.main()
