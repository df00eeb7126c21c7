"""test_install_generate.py — `kubectl etcd install generate` prints
manifests/ as kustomize does (the compiled-in copy is not stale), with the
image it is given everywhere, and a webhook certificate that the caBundle
it writes actually verifies, for the Service name the API server calls.

Offline and quick: the binary from EO_BUILD, kubectl (scripts/kube-bins.sh's)
for `kubectl kustomize manifests/`, openssl for the certificate checks.
"""
import base64
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test"))
from kbed import yamlish  # noqa: E402

BUILD = os.environ.get("EO_BUILD", os.path.join(ROOT, "build"))
PLUGIN = os.path.join(BUILD, "kubectl-etcd")
REPO = "ghcr.io/etcd-k8s-operator/etcd-operator"
IMAGE = "registry.example.com/etcd-operator:9.9.9@sha256:" + "ab" * 32


def run(*args):
    return subprocess.run([PLUGIN, *args], capture_output=True, text=True)


def kubectl():
    r = subprocess.run([os.path.join(ROOT, "scripts", "kube-bins.sh"), "--print"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("kubectl="):
            return os.path.join(line.split("=", 1)[1], "kubectl")
    return shutil.which("kubectl")


class InstallGenerate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = run("install", "generate", "--image", IMAGE)
        assert r.returncode == 0, r.stderr
        cls.text = r.stdout
        cls.docs = [d for d in yamlish.load_all(r.stdout) if d]
        cls.secret = [d for d in cls.docs if d["kind"] == "Secret"][0]
        cls.tmp = tempfile.mkdtemp(prefix="eo-install-gen-")
        for k in ("ca.crt", "tls.crt", "tls.key"):
            with open(os.path.join(cls.tmp, k), "wb") as f:
                f.write(base64.b64decode(cls.secret["data"][k]))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_is_manifests_as_kustomize_prints_them_but_image_and_certificates(self):
        k = kubectl()
        if not k or not os.access(k, os.X_OK):
            self.skipTest("no kubectl (scripts/install-deps.sh builds it)")
        r = subprocess.run([k, "kustomize", os.path.join(ROOT, "manifests")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = [d for d in yamlish.load_all(r.stdout) if d]
        got = [copy.deepcopy(d) for d in self.docs if d["kind"] != "Secret"]
        for d in got:  # undo what generate changes, then nothing else may differ
            if d["kind"] == "Deployment":
                for c in d["spec"]["template"]["spec"]["containers"]:
                    self.assertEqual(c["image"], IMAGE)
                    c["image"] = REPO + ":0.1.0"
                    if "args" in c and f"--operator-image={IMAGE}" in c["args"]:
                        c["args"].remove(f"--operator-image={IMAGE}")
            for w in d.get("webhooks", []):
                self.assertTrue(w["clientConfig"].pop("caBundle"))
        # kustomize sorts by kind; generate keeps manifests/' order (namespace first)
        key = lambda d: (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])  # noqa: E731
        self.assertEqual([key(d) for d in sorted(got, key=key)], [key(d) for d in sorted(want, key=key)])
        self.assertEqual(sorted(got, key=key), sorted(want, key=key))
        self.assertEqual(got[0]["kind"], "Namespace")

    def test_controller_gives_etcd_pods_the_same_image(self):
        ctl = [d for d in self.docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "etcd-controller"][0]
        self.assertIn(f"--operator-image={IMAGE}", ctl["spec"]["template"]["spec"]["containers"][0]["args"])

    def test_default_image_is_this_version(self):
        version = run("--version").stdout.split()[1]
        r = run("install", "generate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count(f"image: {REPO}:{version}\n"), 2)
        self.assertIn(f"--operator-image={REPO}:{version}\n", r.stdout)

    def test_cabundle_verifies_the_serving_certificate_for_the_service(self):
        ca = base64.b64decode(self.secret["data"]["ca.crt"])
        hooks = [w for d in self.docs for w in d.get("webhooks", [])]
        self.assertEqual(len(hooks), 2)
        for w in hooks:
            self.assertEqual(base64.b64decode(w["clientConfig"]["caBundle"]).strip(), ca.strip())
        r = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-verify_hostname",
                            "etcd-webhook.etcd-operator-system.svc", "-CAfile", os.path.join(self.tmp, "ca.crt"),
                            os.path.join(self.tmp, "tls.crt")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        pub = [subprocess.run(cmd, capture_output=True).stdout for cmd in (
            ["openssl", "x509", "-noout", "-pubkey", "-in", os.path.join(self.tmp, "tls.crt")],
            ["openssl", "pkey", "-pubout", "-in", os.path.join(self.tmp, "tls.key")])]
        self.assertTrue(pub[0])
        self.assertEqual(pub[0], pub[1])
        self.assertEqual((self.secret["metadata"]["name"], self.secret["metadata"]["namespace"]),
                         ("etcd-webhook-tls", "etcd-operator-system"))
        self.assertNotIn("PRIVATE KEY-----", self.text)

    def test_each_run_makes_a_new_ca(self):
        again = [d for d in yamlish.load_all(run("install", "generate").stdout) if d and d["kind"] == "Secret"][0]
        self.assertNotEqual(again["data"]["ca.crt"], self.secret["data"]["ca.crt"])

    def test_usage_errors(self):
        for args in (["install"], ["install", "apply"], ["install", "generate", "x"],
                     ["install", "generate", "--image", ""], ["install", "generate", "--image", "a b"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, "", args)
        r = run("install", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("install generate", r.stdout)


if __name__ == "__main__":
    unittest.main()
