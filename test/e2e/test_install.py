"""The install path, on the test bed, with kubectl as a user runs it.

1. The CRD from manifests/ carries the static rules itself, so they hold with
   no webhook installed: defaults, bounds, the version pattern, immutable
   clusterDomain and storageClassName (CEL transition rules), the scale
   subresource, short names and printer columns.
2. The webhook configurations from manifests/, with caBundle filled by
   `etcd-certs inject` from a CA made by `etcd-certs all`, are trusted by the
   API server calling a webhook that serves etcd-certs' pair: a 1 -> 3 apply is
   staged with a warning, a jump through the scale subresource is refused
   naming `kubectl etcd scale`, and the same configurations with another CA's
   bundle fail closed.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))

from kbed.harness import BED_IP, Bed, KubectlError, free_port  # noqa: E402

MANIFESTS = os.path.join(ROOT, "manifests")
SAMPLE_1 = os.path.join(MANIFESTS, "samples", "etcdcluster-demo.yaml")
SAMPLE_3 = os.path.join(MANIFESTS, "samples", "etcdcluster-demo-3.yaml")


def build_dir():
    return os.environ.get("EO_BUILD") or os.path.join(ROOT, "build")


def cluster(name, replicas, **spec):
    spec = dict(spec, replicas=replicas)
    return json.dumps({"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
                       "metadata": {"name": name, "namespace": "default"}, "spec": spec})


class CRDRulesWithoutWebhook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = Bed(manifests=True)

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()

    def refused(self, *args, input=None):
        r = self.bed.kubectl(*args, input=input, check=False)
        self.assertNotEqual(r.returncode, 0, "kubectl %s was accepted: %s" % (" ".join(args), r.stdout))
        return r.stderr

    def test_defaults_columns_and_short_names(self):
        self.bed.kubectl("apply", "-f", SAMPLE_1)
        ec = self.bed.get("etcdclusters", "demo")
        self.assertEqual(ec["spec"], {"replicas": 1, "version": "3.6.16", "storage": {"size": "1Gi"},
                                      "clusterDomain": "cluster.local"})
        for name in ("ec", "etcdc", "etcdcluster", "etcdclusters.etcd.k8s-operator.io"):
            out = self.bed.kubectl("get", name).stdout
            header = out.splitlines()[0].split()
            # VERSION is asked for, RUNNING what every member runs (status.version)
            self.assertEqual(header, ["NAME", "REPLICAS", "READY", "PHASE", "VERSION", "RUNNING", "AGE"], name)
            self.assertIn("demo", out)

    def test_bounds_and_version_pattern(self):
        for n in (0, 10):
            err = self.refused("apply", "-f", "-", input=cluster("bounds-%d" % n, n))
            self.assertIn("spec.replicas", err)
        err = self.refused("apply", "-f", "-", input=cluster("vprefix", 1, version="v3.5.17"))
        self.assertIn("spec.version", err)
        err = self.refused("apply", "-f", "-", input=cluster("size", 1, storage={"size": "lots"}))
        self.assertIn("spec.storage.size", err)

    def test_immutable_fields(self):
        self.bed.kubectl("apply", "-f", "-", input=cluster("imm", 1, clusterDomain="corp.local",
                                                           storage={"storageClassName": "fast"}))
        err = self.refused("patch", "ec", "imm", "--type", "merge", "-p",
                           '{"spec":{"clusterDomain":"cluster.local"}}')
        self.assertIn("clusterDomain is immutable", err)
        err = self.refused("patch", "ec", "imm", "--type", "merge", "-p",
                           '{"spec":{"storage":{"storageClassName":"slow"}}}')
        self.assertIn("storageClassName is immutable", err)
        self.refused("patch", "ec", "imm", "--type", "merge", "-p", '{"spec":{"storage":{"storageClassName":null}}}')
        # what may change still does
        self.bed.kubectl("patch", "ec", "imm", "--type", "merge", "-p", '{"spec":{"storage":{"size":"2Gi"}}}')
        self.assertEqual(self.bed.get("etcdclusters", "imm")["spec"]["storage"],
                         {"size": "2Gi", "storageClassName": "fast"})

    def test_scale_subresource(self):
        self.bed.kubectl("apply", "-f", "-", input=cluster("scaled", 1))
        self.bed.kubectl("scale", "ec", "scaled", "--replicas", "2")
        self.assertEqual(self.bed.get("etcdclusters", "scaled")["spec"]["replicas"], 2)
        st, scale = self.bed.api("GET", self.bed.path("etcdclusters", "scaled", sub="scale"))
        self.assertEqual(st, 200)
        self.assertEqual(scale["spec"]["replicas"], 2)
        self.refused("scale", "ec", "scaled", "--replicas", "12")


class WebhookTrustedThroughInjectedBundle(unittest.TestCase):
    def setUp(self):
        self.certs = os.path.join(build_dir(), "etcd-certs")
        self.webhook = os.path.join(build_dir(), "etcd-webhook")
        for b in (self.certs, self.webhook):
            self.assertTrue(os.access(b, os.X_OK), "%s is not built (make all)" % b)
        self.tmp = tempfile.TemporaryDirectory(prefix="test-install-")
        self.bed = Bed(manifests=True)

    def tearDown(self):
        self.bed.stop()
        self.tmp.cleanup()

    def etcd_certs(self, *args):
        r = subprocess.run([self.certs] + list(args), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "etcd-certs %s: %s" % (" ".join(args), r.stderr))
        return r

    def install(self, out, trust=None):
        """etcd-certs all, the webhook on its pair, and the configurations with
        caBundle filled by etcd-certs (from the CA in trust instead, if given)."""
        hooks = [os.path.join(MANIFESTS, "webhook", f) for f in ("mutating-webhook.yaml", "validating-webhook.yaml")]
        self.etcd_certs("all", "--out", out, "--ip", BED_IP, "-f", hooks[0], "-f", hooks[1])
        port = free_port()
        self.bed.run_in_cluster([self.webhook, "--tls-cert-file", os.path.join(out, "tls.crt"),
                                 "--tls-private-key-file", os.path.join(out, "tls.key"),
                                 "--secure-port", str(port), "--bind-address", BED_IP],
                                background=True, name="etcd-webhook")
        self.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "namespace", "namespace.yaml"))
        self.bed.register_service("etcd-operator-system", "etcd-webhook", "%s:%d" % (BED_IP, port))
        if trust:
            other = self.etcd_certs("inject", "--ca", trust, "-f", hooks[0], "-f", hooks[1]).stdout
            self.bed.kubectl("apply", "-f", "-", input=other)
        else:
            self.bed.kubectl("apply", "-f", os.path.join(out, "webhooks.yaml"))

    def settle(self, name, replicas):
        """Publish the status a controller would once `replicas` members are healthy."""
        gen = self.bed.get("etcdclusters", name)["metadata"]["generation"]
        st, out = self.bed.patch("etcdclusters", name, {"status": {
            "phase": "Running", "observedGeneration": gen, "replicas": replicas,
            "readyReplicas": replicas}}, sub="status")
        self.assertEqual(st, 200, out)

    def create_when_ready(self, path):
        """The webhook may need a moment to answer; kubectl apply until it does."""
        def attempt():
            r = self.bed.kubectl("apply", "-f", path, check=False)
            if r.returncode != 0:
                raise AssertionError(r.stderr.strip())
            return r
        return self.bed.wait_for(attempt, 20, "the webhook to admit the first EtcdCluster")

    def test_staged_apply_and_refused_scale(self):
        self.install(os.path.join(self.tmp.name, "certs"))
        cfg = self.bed.get("validatingwebhookconfigurations", "etcd-operator-validating", ns=None)
        with open(os.path.join(self.tmp.name, "certs", "ca.crt"), "rb") as f:
            import base64
            self.assertEqual(cfg["webhooks"][0]["clientConfig"]["caBundle"], base64.b64encode(f.read()).decode())

        self.create_when_ready(SAMPLE_1)
        self.settle("demo", 1)
        r = self.bed.kubectl("apply", "-f", SAMPLE_3)
        self.assertIn("Warning:", r.stderr)
        ec = self.bed.get("etcdclusters", "demo")
        self.assertEqual(ec["spec"]["replicas"], 2, "1 -> 3 must be staged one step at a time")
        self.assertEqual(ec["metadata"]["annotations"]["etcd.k8s-operator.io/target-replicas"], "3")

        self.bed.kubectl("apply", "-f", "-", input=cluster("jump", 1))
        self.settle("jump", 1)
        r = self.bed.kubectl("scale", "ec", "jump", "--replicas", "5", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("kubectl etcd scale", r.stderr)
        self.assertEqual(self.bed.get("etcdclusters", "jump")["spec"]["replicas"], 1)

    def test_another_cas_bundle_fails_closed(self):
        other = os.path.join(self.tmp.name, "other")
        self.etcd_certs("ca", "--out", other)
        self.install(os.path.join(self.tmp.name, "certs"), trust=os.path.join(other, "ca.crt"))
        r = self.bed.kubectl("apply", "-f", SAMPLE_1, check=False)
        self.assertNotEqual(r.returncode, 0, "an untrusted webhook certificate was accepted")
        self.assertIn("etcd.k8s-operator.io", r.stderr)  # names the webhook that failed
        self.assertIsNone(self.bed.get("etcdclusters", "demo"))

if __name__ == "__main__":
    unittest.main()
