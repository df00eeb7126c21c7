"""test_image.py — the operator's OCI image (scripts/image.py, `make image`)
is reproducible, well formed as another tool reads it, minimal, and runs.

Built from EO_BUILD's programs into temporary directories (a few seconds
each): two builds with the same inputs give the same digest and the same
bytes; another SOURCE_DATE_EPOCH gives another digest (the time is used,
not now). umoci (Debian; scripts/install-deps.sh) unpacks the layout, which
checks every digest, and its runtime config must run as 65532. Each program
runs inside the unpacked root filesystem as 65532 (chroot, when root) and
prints the version of the build: the libraries it needs are all there.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("EO_BUILD", os.path.join(ROOT, "build"))
PROGRAMS = ["etcd-controller", "etcd-webhook", "kubectl-etcd", "etcd-certs", "etcd-member-guard"]
EPOCH = "1700000000"
VERSION = subprocess.run([os.path.join(BUILD, "kubectl-etcd"), "--version"], capture_output=True,
                         text=True).stdout.split()[1]


def build_image(out, epoch=EPOCH):
    env = dict(os.environ, SOURCE_DATE_EPOCH=epoch)
    subprocess.run(["python3", os.path.join(ROOT, "scripts", "image.py"), "--build", BUILD, "--out", out,
                    "--version", VERSION, "--revision", "test"], check=True, env=env, capture_output=True)
    with open(os.path.join(out, "digest")) as f:
        return f.read().strip()


def load_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def blob(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1]), "rb") as f:
        return f.read()


class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="eo-image-")
        cls.a, cls.b = os.path.join(cls.tmp, "a"), os.path.join(cls.tmp, "b")
        cls.digest_a, cls.digest_b = build_image(cls.a), build_image(cls.b)
        cls.layout = os.path.join(cls.a, "oci")
        index = load_json(os.path.join(cls.layout, "index.json"))
        cls.index = index
        cls.manifest = json.loads(blob(cls.layout, index["manifests"][0]["digest"]))
        cls.config = json.loads(blob(cls.layout, cls.manifest["config"]["digest"]))
        cls.layer = gzip.decompress(blob(cls.layout, cls.manifest["layers"][0]["digest"]))
        with tarfile.open(fileobj=io.BytesIO(cls.layer)) as t:
            cls.members = t.getmembers()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_same_inputs_same_digest_and_bytes(self):
        self.assertEqual(self.digest_a, self.digest_b)
        for f in ("etcd-operator.oci.tar", "sbom.spdx.json"):
            with open(os.path.join(self.a, f), "rb") as x, open(os.path.join(self.b, f), "rb") as y:
                self.assertEqual(hashlib.sha256(x.read()).hexdigest(), hashlib.sha256(y.read()).hexdigest(), f)

    def test_created_time_is_source_date_epoch(self):
        self.assertEqual(self.config["created"], "2023-11-14T22:13:20Z")
        other = build_image(os.path.join(self.tmp, "c"), epoch="1700000001")
        self.assertNotEqual(other, self.digest_a)

    def test_layout_digests_and_diff_id(self):
        self.assertEqual(self.index["manifests"][0]["digest"], self.digest_a)
        blobs = os.path.join(self.layout, "blobs", "sha256")
        for name in os.listdir(blobs):
            with open(os.path.join(blobs, name), "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), name)
        self.assertEqual(self.config["rootfs"]["diff_ids"],
                         ["sha256:" + hashlib.sha256(self.layer).hexdigest()])

    def test_minimal_root_owned_no_shell(self):
        names = {m.name for m in self.members}
        for m in self.members:
            self.assertEqual((m.uid, m.gid, m.mtime), (0, 0, int(EPOCH)), m.name)
        self.assertEqual([m.name for m in self.members], sorted(m.name for m in self.members))
        for shell in ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "bin/dash", "usr/bin/dash",
                      "bin/busybox", "usr/bin/busybox"):
            self.assertNotIn(shell, names)
        self.assertFalse([n for n in names if n.startswith(("bin/", "usr/bin/", "sbin/", "usr/sbin/"))])
        for p in PROGRAMS:
            self.assertIn(f"usr/local/bin/{p}", names)
        self.assertIn("etc/ssl/certs/ca-certificates.crt", names)
        with tarfile.open(fileobj=io.BytesIO(self.layer)) as t:
            passwd = t.extractfile("etc/passwd").read().decode()
        self.assertIn("nonroot:x:65532:65532:", passwd)

    def test_config_runs_as_non_root(self):
        c = self.config["config"]
        self.assertEqual(c["User"], "65532:65532")
        self.assertEqual(c["Entrypoint"], ["/usr/local/bin/etcd-controller"])
        self.assertEqual(c["Labels"]["org.opencontainers.image.version"], VERSION)

    def test_sbom_names_the_debian_packages_with_dpkg_versions(self):
        sbom = load_json(os.path.join(self.a, "sbom.spdx.json"))
        self.assertEqual(sbom["spdxVersion"], "SPDX-2.3")
        pkgs = {p["name"]: p.get("versionInfo") for p in sbom["packages"]}
        for deb in ("libc6", "libcurl4", "libssl3", "libjson-c5", "libmicrohttpd12", "libyaml-0-2",
                    "libgnutls30", "ca-certificates"):
            want = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", deb], capture_output=True,
                                  text=True).stdout
            self.assertEqual(pkgs.get(deb), want, deb)
        self.assertEqual(pkgs["etcd-k8s-operator"], VERSION)
        files = {f["fileName"] for f in sbom["files"]}
        self.assertIn("/usr/local/bin/etcd-controller", files)

    def test_umoci_unpacks_it_and_each_program_runs_inside_as_65532(self):
        if not shutil.which("umoci"):
            self.skipTest("umoci not installed (scripts/install-deps.sh)")
        bundle = os.path.join(self.tmp, "bundle")
        cmd = ["umoci", "unpack", "--image", f"{self.layout}:{VERSION}", bundle]
        if os.geteuid() != 0:
            cmd.insert(2, "--rootless")
        r = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        spec = load_json(os.path.join(bundle, "config.json"))
        self.assertEqual((spec["process"]["user"]["uid"], spec["process"]["user"]["gid"]), (65532, 65532))
        if os.geteuid() != 0:
            self.skipTest("running inside the root filesystem needs chroot (root)")
        rootfs = os.path.join(bundle, "rootfs")
        for p in PROGRAMS:
            want = subprocess.run([os.path.join(BUILD, p), "--version"], capture_output=True,
                                  text=True).stdout
            r = subprocess.run(["chroot", "--userspec=65532:65532", rootfs, f"/usr/local/bin/{p}", "--version"],
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout), (0, want), f"{p}: {r.stderr}")
        r = subprocess.run(["chroot", rootfs, "/bin/sh", "-c", "true"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, "a shell ran inside the image")


if __name__ == "__main__":
    unittest.main()
