"""What only a real Kubernetes shows: the operator installed as the README
says (the webhook and the controller as the Deployments in manifests/, from
this project's image, as user 65532, under their ServiceAccounts with RBAC
enforced by the real kube-apiserver), then driven the ways users and GitOps
tools drive it.

- a jump 1 → 3 applied server-side (Flux's way) and client-side is staged
  1 → 2 → 3 by the mutating webhook, with the warning, and grows to 3;
- `kubectl explain` serves the CRD's schema; the CRD's defaults and CEL rules
  are applied by the real server;
- `kubectl auth can-i` for the controller's and the webhook's ServiceAccounts
  matches what the code needs (the webhook: nothing at all);
- the controller rides out an API server restart (its watches see the stream
  end, bookmarks and 410 Gone, and resume) and still scales afterwards;
- the etcd Pods are admitted under Pod Security "restricted" (the namespace
  enforces it from the start);
- from the API server's audit log: no request of the installed controller
  was refused and the webhook made none (test_zz_rbac then holds every call
  of the whole e2e run against the roles: no missing and no surplus rule).
"""
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))

from kbed.harness import Bed  # noqa: E402

ANN = "etcd.k8s-operator.io/target-replicas"
CTL_SA = "system:serviceaccount:etcd-operator-system:etcd-controller"
HOOK_SA = "system:serviceaccount:etcd-operator-system:etcd-webhook"


def cluster(name, replicas, **spec):
    return json.dumps({"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
                       "metadata": {"name": name, "namespace": "default"},
                       "spec": dict(spec, replicas=replicas)})


class RealKubernetes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = Bed(manifests=True)
        try:
            cls.bed.kubectl("label", "namespace", "default", "pod-security.kubernetes.io/enforce=restricted",
                            "pod-security.kubernetes.io/enforce-version=latest")
            cls.install_seconds = time.monotonic()
            cls.bed.install_operator()
            cls.install_seconds = time.monotonic() - cls.install_seconds
        except BaseException:
            cls.bed.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()

    def ec(self, name):
        return self.bed.get("etcdclusters", name)

    def settled(self, name, n):
        ec = self.ec(name)
        st = ec.get("status") or {}
        return (ec["spec"]["replicas"] == n and st.get("phase") == "Running" and st.get("readyReplicas") == n
                and not st.get("scaling") and ANN not in (ec["metadata"].get("annotations") or {}))

    def wait_settled(self, name, n, timeout=240):
        try:
            self.bed.wait_for(lambda: self.settled(name, n), timeout, "%s settled at %d" % (name, n), 0.5)
        except AssertionError:
            sys.stderr.write("status: %s\n%s\n" % (json.dumps(self.ec(name).get("status"), indent=1),
                                                   self.bed.operator_logs()[-6000:]))
            raise

    def apply_when_ready(self, *args, input=None):
        """The webhook's Endpoints may trail its Deployment by a moment: apply until admitted."""
        def attempt():
            r = self.bed.kubectl(*args, input=input, check=False)
            if r.returncode != 0:
                raise AssertionError(r.stderr.strip())
            return r
        return self.bed.wait_for(attempt, 60, "kubectl %s admitted" % " ".join(args), 0.5)

    def test_1_operator_pods_run_as_installed(self):
        pods = self.bed.list("pods", "etcd-operator-system")
        self.assertEqual(len(pods), 4, [p["metadata"]["name"] for p in pods])
        for p in pods:
            self.assertEqual(p["status"]["phase"], "Running", p["metadata"]["name"])
            sc = p["spec"].get("securityContext") or {}
            self.assertEqual(sc.get("runAsUser"), 65532)
            self.assertIn(p["spec"]["serviceAccountName"], ("etcd-controller", "etcd-webhook"))
            self.assertNotEqual(p["status"].get("podIP", "").split(".")[:2], ["127", "0"])
        nodes = {p["spec"]["nodeName"] for p in pods}
        self.assertGreaterEqual(len(nodes), 2, "replicas spread over nodes by their anti-affinity")

    def test_2_server_side_apply_of_a_jump_is_staged(self):
        r = self.apply_when_ready("apply", "--server-side", "--field-manager", "flux", "-f", "-",
                                  input=cluster("ssa", 3))
        self.assertIn("1 → 2 → 3", r.stderr, "the staged path is shown as a warning")
        ec = self.ec("ssa")
        self.assertEqual(ec["spec"]["replicas"], 1)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "3")
        self.wait_settled("ssa", 3)

    def test_3_client_side_apply_of_a_jump_is_staged(self):
        r = self.apply_when_ready("apply", "-f", "-", input=cluster("csa", 3))
        self.assertIn("1 → 2 → 3", r.stderr)
        ec = self.ec("csa")
        self.assertEqual((ec["spec"]["replicas"], ec["metadata"]["annotations"][ANN]), (1, "3"))
        self.assertEqual(ec["spec"]["version"], "3.6.16", "the CRD's default, applied by the real server")
        self.wait_settled("csa", 3)

    def test_4_explain_and_cel(self):
        r = self.bed.kubectl("explain", "etcdcluster.spec.replicas")
        self.assertIn("replicas", r.stdout)
        self.assertIn("integer", r.stdout)
        self.apply_when_ready("apply", "-f", "-", input=cluster("cel", 1))
        r = self.bed.kubectl("patch", "etcdcluster", "cel", "--type", "merge", "-p",
                             '{"spec":{"clusterDomain":"other.local"}}', check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("clusterDomain", r.stderr)

    def test_5_rbac_is_what_the_code_needs(self):
        def can(sa, verb, res, *args):
            if "/" in res:      # a subresource: can-i takes it as a flag
                res, sub = res.split("/", 1)
                args = ("--subresource", sub) + args
            r = self.bed.kubectl("auth", "can-i", "--as", sa, verb, res, *args, check=False)
            return r.stdout.strip() == "yes"
        for verb, res in (("watch", "etcdclusters.etcd.k8s-operator.io"),
                          ("create", "statefulsets.apps"), ("delete", "persistentvolumeclaims"), ("update", "etcdclusters.etcd.k8s-operator.io/status"),
                          ("create", "events"), ("list", "pods")):
            self.assertTrue(can(CTL_SA, verb, res, "-n", "default"), "controller may %s %s" % (verb, res))
        for verb, res in (("delete", "nodes"), ("list", "secrets"), ("create", "clusterroles"), ("*", "*")):
            self.assertFalse(can(CTL_SA, verb, res, "-n", "default"), "controller may not %s %s" % (verb, res))
        for verb, res in (("get", "etcdclusters.etcd.k8s-operator.io"), ("list", "pods"), ("get", "secrets")):
            self.assertFalse(can(HOOK_SA, verb, res, "-n", "default"), "the webhook makes no API calls")

    def test_6_controller_survives_an_api_server_restart(self):
        self.apply_when_ready("apply", "-f", "-", input=cluster("restart", 1))
        self.wait_settled("restart", 1)
        self.bed.fault("api", down=8)
        time.sleep(9)
        self.bed.wait_for(lambda: self.bed.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
                          60, "the API server back")
        self.apply_when_ready("patch", "etcdcluster", "restart", "--type", "merge", "-p", '{"spec":{"replicas":2}}')
        self.wait_settled("restart", 2)


    def test_7_scale_down_and_drift(self):
        """Exercise the rest of what the controller may do: shrink 3 → 1 (leadership
        moved, members removed, the StatefulSet lowered, claims deleted), put back a
        NetworkPolicy edited by hand, and roll a new image into the StatefulSet."""
        if not self.settled("csa", 3):
            self.skipTest("needs the cluster of test_3")
        self.apply_when_ready("patch", "etcdcluster", "csa", "--type", "merge", "-p", '{"spec":{"replicas":2}}')
        self.wait_settled("csa", 2)
        self.apply_when_ready("patch", "etcdcluster", "csa", "--type", "merge", "-p", '{"spec":{"replicas":1}}')
        self.wait_settled("csa", 1)
        self.bed.kubectl("patch", "networkpolicy", "csa", "--type", "merge", "-p",
                         '{"spec":{"ingress":[]}}')
        self.bed.wait_for(lambda: self.bed.get("networkpolicies", "csa")["spec"].get("ingress"), 60,
                          "the controller to put the NetworkPolicy back")
        image = "quay.io/coreos/etcd:v3.6.16"
        self.apply_when_ready("patch", "etcdcluster", "csa", "--type", "merge", "-p",
                              json.dumps({"spec": {"image": image}}))
        self.bed.wait_for(lambda: self.bed.get("statefulsets", "csa")["spec"]["template"]["spec"]
                          ["containers"][0]["image"] == image, 60, "the new image in the StatefulSet")

    def test_8_rbac_audit(self):
        """Runs last: no call of the installed controller was refused, and the webhook
        made none (test_zz_rbac holds the whole run's calls against the roles)."""
        usage = self.bed.rbac_usage()
        refused = ["%s %s" % (u["verb"], u["uri"]) for u in usage if u["user"] == CTL_SA and u["code"] == 403]
        self.assertEqual(refused, [], "requests the controller's RBAC refused (a missing rule)")
        self.assertEqual([u["uri"] for u in usage if u["user"] == HOOK_SA], [], "the webhook makes no API calls")
        self.assertTrue(any(u["user"] == CTL_SA for u in usage), "the audit log holds the controller's calls")


if __name__ == "__main__":
    unittest.main()
