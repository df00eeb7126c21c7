"""The Helm chart (charts/etcd-operator), with helm 4 built from its Go module
(test/helmbin, by scripts/kube-bins.sh).

ChartRenders, no bed, seconds:
- `helm lint` passes, with bundled certificates and with cert-manager;
- crds/ is manifests/crd byte for byte (the chart ships copies, since Helm
  packages a chart's own files: copy them again after changing the CRDs);
- the rendered RBAC rules are manifests/rbac's, which test_zz_rbac holds
  against every call the operator makes, so the chart cannot drift from them;
- the namespace is the release's everywhere it is spelled (the webhooks'
  service and namespaceSelector, the certificate's DNS names, the bindings),
  the bundled caBundle is the CA that signed the served pair, and the image,
  replicas and resources come from the values.

HelmInstall, on the bed (the real kube-apiserver 1.37): `helm install` into a
namespace that is not manifests/' own, both Deployments roll out, a 3-member
EtcdCluster applied to an empty namespace is staged by the webhook and grows
to 3 healthy members; `helm upgrade` with the same values keeps the webhook's
CA and pair (the chart looks its Secret up) and the cluster keeps running
with the same members, the webhook still trusted.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))

from kbed import yamlish  # noqa: E402
from kbed.harness import Bed  # noqa: E402

CHART = os.path.join(ROOT, "charts", "etcd-operator")
MANIFESTS = os.path.join(ROOT, "manifests")
SAMPLE_3 = os.path.join(MANIFESTS, "samples", "etcdcluster-demo-3.yaml")
NS = "etcd-helm"        # not manifests/' etcd-operator-system: the chart must spell it everywhere
RELEASE = "etcd-operator"
ANN = "etcd.k8s-operator.io/target-replicas"


def helm_binary():
    out = subprocess.run([os.path.join(ROOT, "scripts", "kube-bins.sh"), "--print"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    for line in out.splitlines():
        if line.startswith("helm="):
            b = os.path.join(line[5:], "helm")
            return b if os.access(b, os.X_OK) else None
    return None


class Helm:
    """helm with its cache, config and data in a directory of its own."""

    def __init__(self, binary, home, kubeconfig=None):
        self.binary, self.kubeconfig = binary, kubeconfig
        self.env = dict(os.environ, HELM_CACHE_HOME=os.path.join(home, "cache"),
                        HELM_CONFIG_HOME=os.path.join(home, "config"), HELM_DATA_HOME=os.path.join(home, "data"))
        self.env.pop("KUBECONFIG", None)

    def run(self, *args, check=True, timeout=120):
        cmd = [self.binary] + list(args)
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("helm %s exited %d\n%s\n%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def template(self, *sets, ns=NS):
        out = self.run("template", RELEASE, CHART, "--namespace", ns, *sets).stdout
        return [d for d in yamlish.load_all(out) if d]


def by_kind(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return found


def cert_text(pem):
    r = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("openssl x509: %s" % r.stderr)
    return r.stdout


def setUpModule():
    global HELM_BIN
    HELM_BIN = helm_binary()
    if not HELM_BIN:
        raise unittest.SkipTest("helm is not built: run scripts/kube-bins.sh")


class ChartRenders(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="test-helm-")
        cls.helm = Helm(HELM_BIN, cls.tmp.name)
        cls.docs = cls.helm.template()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_lint(self):
        for sets in ((), ("--set", "certManager.enabled=true"), ("--set", "webhook.replicas=1")):
            r = self.helm.run("lint", "--strict", CHART, "--namespace", NS, *sets)
            self.assertIn("1 chart(s) linted, 0 chart(s) failed", r.stdout, sets)

    def test_crds_are_manifests_crd(self):
        want = sorted(f for f in os.listdir(os.path.join(MANIFESTS, "crd")) if f != "kustomization.yaml")
        self.assertEqual(sorted(os.listdir(os.path.join(CHART, "crds"))), want)
        for f in want:
            with open(os.path.join(MANIFESTS, "crd", f), "rb") as a, open(os.path.join(CHART, "crds", f), "rb") as b:
                self.assertEqual(a.read(), b.read(), "charts/etcd-operator/crds/%s differs from manifests/crd: "
                                 "copy it again" % f)

    def test_rbac_is_manifests_rbac(self):
        want = {}
        for f in os.listdir(os.path.join(MANIFESTS, "rbac")):
            if f == "kustomization.yaml":
                continue
            for d in yamlish.load_file(os.path.join(MANIFESTS, "rbac", f)):
                if d and d["kind"] in ("ClusterRole", "Role"):
                    want[(d["kind"], d["metadata"]["name"])] = d["rules"]
                if d and d["kind"] in ("ClusterRoleBinding", "RoleBinding", "ServiceAccount"):
                    want[(d["kind"], d["metadata"]["name"])] = None
        got = {}
        for d in self.docs:
            if d["kind"] in ("ClusterRole", "Role"):
                got[(d["kind"], d["metadata"]["name"])] = d["rules"]
            if d["kind"] in ("ClusterRoleBinding", "RoleBinding", "ServiceAccount"):
                got[(d["kind"], d["metadata"]["name"])] = None
        self.assertEqual(got, want)
        self.assertEqual(by_kind(self.docs, "ServiceAccount", "etcd-webhook")[0]["automountServiceAccountToken"],
                         False)
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            for b in by_kind(self.docs, kind):
                self.assertEqual(b["subjects"], [{"kind": "ServiceAccount", "name": "etcd-controller",
                                                  "namespace": NS}])

    def test_namespace_spelled_everywhere(self):
        text = self.helm.run("template", RELEASE, CHART, "--namespace", NS).stdout
        self.assertNotIn("etcd-operator-system", text)
        for d in self.docs:
            if d["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                hook = d["webhooks"][0]
                self.assertEqual(hook["clientConfig"]["service"]["namespace"], NS)
                self.assertEqual(hook["namespaceSelector"]["matchExpressions"][0]["values"], ["kube-system", NS])
            elif d["kind"] not in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
                self.assertEqual(d["metadata"].get("namespace"), NS, "%s %s" % (d["kind"], d["metadata"]["name"]))

    def test_bundled_certificate(self):
        secret = by_kind(self.docs, "Secret", "etcd-webhook-tls")[0]
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        self.assertEqual(sorted(secret["data"]), ["ca.crt", "tls.crt", "tls.key"])
        # the Secret and the mount the webhook's flags read
        dep = by_kind(self.docs, "Deployment", "etcd-webhook")[0]["spec"]["template"]["spec"]
        self.assertEqual(dep["volumes"][0]["secret"]["secretName"], "etcd-webhook-tls")
        for hook in by_kind(self.docs, "MutatingWebhookConfiguration") + \
                by_kind(self.docs, "ValidatingWebhookConfiguration"):
            self.assertEqual(hook["webhooks"][0]["clientConfig"]["caBundle"], secret["data"]["ca.crt"])
        with tempfile.TemporaryDirectory() as d:
            paths = {}
            for k in ("ca.crt", "tls.crt"):
                paths[k] = os.path.join(d, k)
                with open(paths[k], "wb") as f:
                    f.write(base64.b64decode(secret["data"][k]))
            r = subprocess.run(["openssl", "verify", "-CAfile", paths["ca.crt"], paths["tls.crt"]],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        leaf = cert_text(base64.b64decode(secret["data"]["tls.crt"]).decode())
        self.assertIn("DNS:etcd-webhook.%s.svc, DNS:etcd-webhook.%s.svc.cluster.local" % (NS, NS), leaf)
        self.assertIn("TLS Web Server Authentication", leaf)
        self.assertIn("prime256v1", leaf)

    def test_cert_manager(self):
        docs = self.helm.template("--set", "certManager.enabled=true")
        self.assertEqual(by_kind(docs, "Secret"), [], "cert-manager writes the Secret")
        cert = by_kind(docs, "Certificate", "etcd-webhook")[0]
        self.assertEqual(cert["spec"]["secretName"], "etcd-webhook-tls")
        self.assertEqual(cert["spec"]["dnsNames"], ["etcd-webhook.%s.svc" % NS,
                                                    "etcd-webhook.%s.svc.cluster.local" % NS])
        self.assertEqual(cert["spec"]["issuerRef"], {"kind": "Issuer", "name": "etcd-operator-ca"})
        self.assertEqual(len(by_kind(docs, "Issuer")), 2)
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            hook = by_kind(docs, kind)[0]
            self.assertEqual(hook["metadata"]["annotations"], {"cert-manager.io/inject-ca-from": NS + "/etcd-webhook"})
            self.assertNotIn("caBundle", hook["webhooks"][0]["clientConfig"])

    def test_values(self):
        digest = "sha256:" + "ab" * 32
        docs = self.helm.template("--set", "image.digest=" + digest, "--set", "webhook.replicas=1",
                                  "--set", "controller.replicas=3", "--set", "controller.resources.limits.memory=1Gi")
        hook = by_kind(docs, "Deployment", "etcd-webhook")[0]["spec"]
        ctl = by_kind(docs, "Deployment", "etcd-controller")[0]["spec"]
        self.assertEqual((hook["replicas"], ctl["replicas"]), (1, 3))
        for d in (hook, ctl):
            self.assertEqual(d["template"]["spec"]["containers"][0]["image"],
                             "ghcr.io/etcd-k8s-operator/etcd-operator@" + digest)
        self.assertEqual(ctl["template"]["spec"]["containers"][0]["resources"]["limits"],
                         {"cpu": "1", "memory": "1Gi"})
        self.assertEqual(by_kind(docs, "PodDisruptionBudget"), [], "no budget that would block drains at 1")
        # the default: the chart's appVersion, and a budget for the two replicas
        img = by_kind(self.docs, "Deployment", "etcd-webhook")[0]["spec"]["template"]["spec"]["containers"][0]
        with open(os.path.join(CHART, "Chart.yaml")) as f:
            app = yamlish.load_all(f.read())[0]["appVersion"]
        self.assertEqual(img["image"], "ghcr.io/etcd-k8s-operator/etcd-operator:" + app)
        self.assertEqual(len(by_kind(self.docs, "PodDisruptionBudget")), 1)


class HelmInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = Bed()     # no CRDs loaded: the chart brings them
        try:
            cls.helm = Helm(HELM_BIN, os.path.join(cls.bed.dir, "helm"), kubeconfig=cls.bed.kubeconfig)
            # the namespace first, enforcing Pod Security "restricted" as manifests/' does
            cls.bed.kubectl("create", "namespace", NS)
            cls.bed.kubectl("label", "namespace", NS, "pod-security.kubernetes.io/enforce=restricted",
                            "pod-security.kubernetes.io/enforce-version=latest")
        except BaseException:
            cls.bed.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()

    def logs(self):
        out = []
        d = os.path.join(self.bed.dir, "logs", "pods")
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.startswith(NS + "_"):
                with open(os.path.join(d, f), errors="replace") as fh:
                    out.append("==> %s\n%s" % (f, fh.read()[-3000:]))
        return "\n".join(out)

    def rolled_out(self, timeout=240):
        for d in ("etcd-webhook", "etcd-controller"):
            r = self.bed.kubectl("-n", NS, "rollout", "status", "deployment/" + d, "--timeout", "%ds" % timeout,
                                 check=False, timeout=timeout + 30)
            if r.returncode != 0:
                pods = self.bed.kubectl("-n", NS, "get", "pods", "-o", "wide", check=False).stdout
                self.fail("deployment %s not available: %s\n%s\n%s" % (d, r.stderr, pods, self.logs()[-6000:]))

    def apply_when_ready(self, *args, input=None):
        """The webhook's Endpoints may trail its Deployment by a moment: apply until admitted."""
        def attempt():
            r = self.bed.kubectl(*args, input=input, check=False)
            if r.returncode != 0:
                raise AssertionError(r.stderr.strip())
            return r
        return self.bed.wait_for(attempt, 60, "kubectl %s admitted" % " ".join(args), 0.5)

    def healthy(self, n):
        ec = self.bed.get("etcdclusters", "demo")
        st = ec.get("status") or {}
        members = st.get("members") or []
        return (ec["spec"]["replicas"] == n and st.get("phase") == "Running" and st.get("readyReplicas") == n
                and not st.get("scaling") and ANN not in (ec["metadata"].get("annotations") or {})
                and len(members) == n and all(m.get("healthy") and not m.get("learner") for m in members))

    def wait_healthy(self, n, timeout=300):
        try:
            self.bed.wait_for(lambda: self.healthy(n), timeout, "demo at %d healthy members" % n, 0.5)
        except AssertionError:
            sys.stderr.write("status: %s\n%s\n" % (json.dumps(self.bed.get("etcdclusters", "demo").get("status"),
                                                              indent=1), self.logs()[-6000:]))
            raise

    def webhook_trust(self):
        """{"ca.crt", "tls.crt", "tls.key" of the Secret, "mutating", "validating" caBundle: its
        sha256}, digests so that a failure shows no key material."""
        secret = self.bed.get("secrets", "etcd-webhook-tls", ns=NS)["data"]
        out = {k: hashlib.sha256(secret[k].encode()).hexdigest()[:16] for k in ("ca.crt", "tls.crt", "tls.key")}
        for k, n in (("mutatingwebhookconfigurations", "mutating"), ("validatingwebhookconfigurations", "validating")):
            bundle = self.bed.get(k, "etcd-operator-" + n, ns=None)["webhooks"][0]["clientConfig"].get("caBundle", "")
            out[n] = hashlib.sha256(bundle.encode()).hexdigest()[:16]
        return out

    def test_install_scale_and_upgrade(self):
        self.helm.run("install", RELEASE, CHART, "--namespace", NS, timeout=300)
        self.assertIsNotNone(self.bed.get("customresourcedefinitions", "etcdclusters.etcd.k8s-operator.io", ns=None))
        self.rolled_out()
        pods = self.bed.list("pods", NS)
        self.assertEqual(len(pods), 4, [p["metadata"]["name"] for p in pods])
        for p in pods:
            self.assertEqual(p["spec"]["securityContext"].get("runAsUser"), 65532)

        # 3 members asked of an empty namespace: staged 1 -> 2 -> 3 by the webhook
        r = self.apply_when_ready("apply", "-f", SAMPLE_3)
        self.assertIn("1 → 2 → 3", r.stderr, "the staged path is shown as a warning")
        ec = self.bed.get("etcdclusters", "demo")
        self.assertEqual((ec["spec"]["replicas"], ec["metadata"]["annotations"][ANN]), (1, "3"))
        self.wait_healthy(3)
        ids = sorted(m["id"] for m in self.bed.get("etcdclusters", "demo")["status"]["members"])

        trust = self.webhook_trust()
        self.assertEqual((trust["mutating"], trust["validating"]), (trust["ca.crt"], trust["ca.crt"]))

        # the same values again: the Secret is looked up and kept, so is the trust
        self.helm.run("upgrade", RELEASE, CHART, "--namespace", NS, timeout=300)
        self.assertEqual(self.webhook_trust(), trust, "helm upgrade changed the webhook's certificates")
        status = json.loads(self.helm.run("status", RELEASE, "--namespace", NS, "-o", "json").stdout)
        self.assertEqual((status["version"], status["info"]["status"]), (2, "deployed"))
        self.rolled_out()

        # the webhook still answers, trusted: a jump through the scale subresource is refused
        r = self.bed.kubectl("scale", "ec", "demo", "--replicas", "5", check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("kubectl etcd scale", r.stderr)
        self.wait_healthy(3)
        self.assertEqual(sorted(m["id"] for m in self.bed.get("etcdclusters", "demo")["status"]["members"]), ids,
                         "the upgrade changed the membership")


if __name__ == "__main__":
    unittest.main()
