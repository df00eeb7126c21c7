"""test_release.py — `make release` (scripts/release.sh) gives a bundle that
parses, runs one image pinned by the digest of the image shipped beside it,
and sums that verify.

The image is built from EO_BUILD's programs into a temporary directory
(scripts/image.py), the release into another; a few seconds. The digest is
read back from the shipped archive's own index.json, not from the script's
notes, and a byte changed in a shipped file must make `sha256sum -c` fail.
"""
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test"))
from kbed import yamlish  # noqa: E402

BUILD = os.environ.get("EO_BUILD", os.path.join(ROOT, "build"))
VERSION = subprocess.run([os.path.join(BUILD, "kubectl-etcd"), "--version"], capture_output=True,
                         text=True).stdout.split()[1]
NAME = "ghcr.io/etcd-k8s-operator/etcd-operator"


class Release(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="eo-release-")
        image = os.path.join(cls.tmp, "image")
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        subprocess.run(["python3", os.path.join(ROOT, "scripts", "image.py"), "--build", BUILD, "--out", image,
                        "--version", VERSION, "--name", NAME], check=True, env=env, capture_output=True)
        cls.dist = os.path.join(cls.tmp, "dist")
        r = subprocess.run([os.path.join(ROOT, "scripts", "release.sh"), BUILD, cls.dist],
                           env=dict(env, IMAGE_DIR=image), capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"release.sh failed:\n{r.stderr}")
        with open(os.path.join(cls.dist, "install.yaml")) as f:
            cls.docs = [d for d in yamlish.load_all(f.read()) if d]
        # the digest as the shipped image itself says it
        with tarfile.open(os.path.join(cls.dist, f"etcd-operator-{VERSION}.oci.tar")) as t:
            index = json.load(t.extractfile("index.json"))
            cls.digest = index["manifests"][0]["digest"]
            manifest_blob = t.extractfile("blobs/sha256/" + cls.digest.split(":", 1)[1]).read()
        assert "sha256:" + hashlib.sha256(manifest_blob).hexdigest() == cls.digest

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def kinds(self, kind):
        return [d for d in self.docs if d.get("kind") == kind]

    def test_bundle_holds_the_whole_operator(self):
        have = {(d["kind"], d["metadata"]["name"]) for d in self.docs}
        for want in [("Namespace", "etcd-operator-system"),
                     ("CustomResourceDefinition", "etcdclusters.etcd.k8s-operator.io"),
                     ("CustomResourceDefinition", "etcdbackups.etcd.k8s-operator.io"),
                     ("ServiceAccount", "etcd-controller"), ("ServiceAccount", "etcd-webhook"),
                     ("Deployment", "etcd-controller"), ("Deployment", "etcd-webhook")]:
            self.assertIn(want, have)
        self.assertTrue(self.kinds("ClusterRole") and self.kinds("ClusterRoleBinding"))
        self.assertTrue(self.kinds("MutatingWebhookConfiguration") and self.kinds("ValidatingWebhookConfiguration"))

    def test_every_container_runs_the_shipped_image_by_digest(self):
        ref = f"{NAME}:{VERSION}@{self.digest}"
        seen = 0
        for d in self.kinds("Deployment"):
            spec = d["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                self.assertEqual(c["image"], ref, d["metadata"]["name"])
                seen += 1
        self.assertGreaterEqual(seen, 2)
        ctl = [d for d in self.kinds("Deployment") if d["metadata"]["name"] == "etcd-controller"][0]
        args = ctl["spec"]["template"]["spec"]["containers"][0]["args"]
        self.assertIn(f"--operator-image={ref}", args)
        with open(os.path.join(self.dist, "install.yaml")) as f:
            text = f.read()
        self.assertFalse(re.search(r"^\s*(- )?image: [^@\s]+$", text, re.M), "an image not pinned by digest")

    def test_sums_verify_and_a_changed_byte_fails_them(self):
        listed = set()
        with open(os.path.join(self.dist, "SHA256SUMS")) as f:
            for line in f:
                listed.add(line.split()[1])
        self.assertEqual(listed, set(os.listdir(self.dist)) - {"SHA256SUMS"})
        r = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=self.dist, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(self.dist, "install.yaml"), "a") as f:
            f.write("# tampered\n")
        r = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=self.dist, capture_output=True,
                           text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("install.yaml: FAILED", r.stdout)

    def test_krew_manifest_points_at_the_archive_with_its_sha256(self):
        with open(os.path.join(self.dist, "etcd.yaml")) as f:
            krew = yamlish.load_all(f.read())[0]
        self.assertEqual(krew["spec"]["version"], "v" + VERSION)
        plat = krew["spec"]["platforms"][0]
        archive = "kubectl-etcd_linux_amd64.tar.gz"
        self.assertTrue(plat["uri"].endswith(f"/v{VERSION}/{archive}"), plat["uri"])
        with open(os.path.join(self.dist, archive), "rb") as f:
            data = f.read()
        self.assertEqual(plat["sha256"], hashlib.sha256(data).hexdigest())
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            self.assertIn("kubectl-etcd", t.getnames())


if __name__ == "__main__":
    unittest.main()
