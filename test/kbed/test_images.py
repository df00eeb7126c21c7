"""The bed runs images: the node agent pulls each Pod's image from the bed's
local OCI store (agent/images.py) and runs the container inside that root
file system (agent/sandbox.py).

- an image the store does not hold: ErrImagePull with kubelet's wording,
  then ImagePullBackOff; the Pod never runs;
- this project's image (the digest `make image` wrote) runs the webhook as
  the image's user 65532 (the Pod names none) with a read-only root, its
  Secret volume mounted, and none of the host's files: no shell, no BUILD
  directory, its own /etc/hostname;
- each cached etcd release's image (gcr.io/etcd-development/etcd:vX.Y.Z,
  one pinned by digest) answers /version with the version its tag names; one
  with neither command nor args runs the image's CMD, and an exec probe finds
  etcdctl through the image's PATH; /bin/sh in that distroless image is a
  StartError.

Needs root, the binaries of scripts/kube-bins.sh and a built BUILD (make);
the first run fills BUILD/kbed-images (about 15 s), later ones reuse it.

    cd test/kbed && PYTHONPATH=.. python3 -m unittest -v test_images
"""
import json
import os
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTDIR)
if TESTDIR not in sys.path:
    sys.path.insert(0, TESTDIR)

from kbed import bins  # noqa: E402
from kbed.agent import images  # noqa: E402

BUILD = os.path.abspath(os.environ.get("EO_BUILD") or os.path.join(ROOT, "build"))
OPERATOR = images.manifests_image()
NS = "images"


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (namespaces, mounts)"
    if not shutil.which("kubectl"):
        return "no kubectl on PATH"
    if not os.access(os.path.join(BUILD, "etcd-webhook"), os.X_OK):
        return "%s is not built (make)" % BUILD
    try:
        if not bins.find()["etcd_bins"]:
            return "no cached etcd release (scripts/kube-bins.sh)"
    except bins.BinsError as e:
        return str(e)
    return None


SKIP = _skip_reason()


def pod(name, image, **container):
    c = dict({"name": "main", "image": image}, **container)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"containers": [c], "terminationGracePeriodSeconds": 2}}


POD_IP = {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


@unittest.skipIf(SKIP, SKIP)
class BedRunsImages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from kbed.harness import Bed
        cls.bed = Bed(build_dir=BUILD)
        cls.bed.kubectl("create", "namespace", NS)
        cls.bed.wait_for(lambda: cls.bed.get("serviceaccounts", "default", NS), 30, "the default ServiceAccount")
        cls.etcd_versions = sorted(bins.find()["etcd_bins"])

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()

    # ---- helpers ---------------------------------------------------------
    def create(self, obj):
        st, out = self.bed.create(obj)
        self.assertEqual(st, 201, out)

    def status(self, name, container="main"):
        p = self.bed.get("pods", name, NS) or {}
        for s in (p.get("status") or {}).get("containerStatuses") or []:
            if s["name"] == container:
                return s
        return {}

    def wait_ready(self, name, timeout=60):
        def ready():
            return self.status(name).get("ready")
        try:
            self.bed.wait_for(ready, timeout, "pod %s ready" % name)
        except AssertionError:
            raise AssertionError("pod %s not ready: %s\nlog:\n%s" % (
                name, json.dumps(self.status(name)), self.bed.pod_log(NS, name, "main")[-2000:])) from None

    def pid(self, name, container="main"):
        for p in self.bed.state()["agent"]["pods"]:
            if p["namespace"] == NS and p["name"] == name and not p["done"]:
                return p["containers"][container]
        self.fail("no process for %s/%s" % (name, container))

    def get_in_cluster(self, url):
        code = "import sys,urllib.request as u;print(u.urlopen(sys.argv[1],timeout=5).read().decode())"
        return self.bed.run_in_cluster(["python3", "-c", code, url], timeout=30).stdout

    # ---- tests -----------------------------------------------------------
    def test_missing_image_is_err_image_pull(self):
        self.create(pod("missing", "registry.example/nope:1", command=["/nope"]))
        self.bed.wait_for(lambda: self.status("missing").get("state", {}).get("waiting", {}).get("reason")
                          == "ErrImagePull", 30, "ErrImagePull")
        msg = self.status("missing")["state"]["waiting"]["message"]
        self.assertIn('Failed to pull image "registry.example/nope:1": rpc error: code = NotFound', msg)
        self.assertIn('registry.example/nope:1: not found', msg)
        self.bed.wait_for(lambda: self.status("missing").get("state", {}).get("waiting", {}).get("reason")
                          == "ImagePullBackOff", 30, "ImagePullBackOff")
        self.assertNotIn("containerID", self.status("missing"))
        # a name the store holds, with a digest it does not: no match either
        bad = "gcr.io/etcd-development/etcd@sha256:" + "0" * 64
        self.create(pod("missing-digest", bad))
        self.bed.wait_for(lambda: self.status("missing-digest").get("state", {}).get("waiting", {}).get("reason")
                          == "ErrImagePull", 30, "ErrImagePull by digest")

    def test_operator_image_non_root_read_only_no_host_files(self):
        certs = self.bed.webhook_certs("imgwh", NS, os.path.join(self.bed.dir, "imgwh"), ips=())
        self.bed.kubectl("-n", NS, "create", "secret", "tls", "imgwh-tls", "--cert", certs[1], "--key", certs[2])
        p = pod("webhook", OPERATOR, command=["/usr/local/bin/etcd-webhook"],
                args=["--tls-cert-file=/etc/etcd-webhook/tls/tls.crt",
                      "--tls-private-key-file=/etc/etcd-webhook/tls/tls.key",
                      "--secure-port=9443", "--bind-address=0.0.0.0"],
                ports=[{"name": "https", "containerPort": 9443}],
                readinessProbe={"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"},
                                "periodSeconds": 1},
                securityContext={"readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                 "allowPrivilegeEscalation": False},
                volumeMounts=[{"name": "tls", "mountPath": "/etc/etcd-webhook/tls", "readOnly": True}])
        p["spec"]["securityContext"] = {"fsGroup": 65532}
        p["spec"]["volumes"] = [{"name": "tls", "secret": {"secretName": "imgwh-tls", "defaultMode": 0o440}}]
        self.create(p)
        self.wait_ready("webhook")
        st = self.status("webhook")
        # the image `make image` wrote, by its digest
        with open(os.path.join(BUILD, "image", "digest")) as f:
            digest = f.read().strip()
        self.assertEqual(st["imageID"], images.normalize(OPERATOR)[0] + "@" + digest)
        pid = self.pid("webhook")
        with open("/proc/%d/status" % pid) as f:
            ids = {ln.split(":")[0]: ln.split()[1:] for ln in f if ln.startswith(("Uid:", "Gid:"))}
        self.assertEqual(ids["Uid"], ["65532"] * 4, "the image's User (the Pod names none)")
        self.assertEqual(ids["Gid"], ["65532"] * 4)
        root = "/proc/%d/root" % pid
        with open("/proc/%d/mountinfo" % pid) as f:
            root_opts = [ln.split()[5] for ln in f if ln.split()[4] == "/"]
        self.assertTrue(root_opts and root_opts[-1].split(",")[0] == "ro", root_opts)
        with self.assertRaises(OSError) as cm:
            open(os.path.join(root, "tmp", "written"), "w").close()
        self.assertEqual(cm.exception.strerror, "Read-only file system")
        # the image's files, none of the host's
        self.assertTrue(os.path.isfile(os.path.join(root, "usr/local/bin/etcd-webhook")))
        for host_only in ("bin/sh", "usr/bin/python3", "etc/debian_version", "root",
                          BUILD.lstrip("/"), os.path.join(ROOT, "scripts").lstrip("/")):
            self.assertFalse(os.path.lexists(os.path.join(root, host_only)), host_only)
        with open(os.path.join(root, "etc/hostname")) as f:
            self.assertEqual(f.read().strip(), "webhook")
        self.assertEqual(sorted(os.listdir(os.path.join(root, "etc/etcd-webhook/tls")))[-2:],
                         ["tls.crt", "tls.key"])

    def test_etcd_images_run_the_version_their_tag_names(self):
        store = images.Store(os.path.join(BUILD, "kbed-images"))
        refs = store.refs()
        names = {}
        for i, v in enumerate(self.etcd_versions):
            image = "gcr.io/etcd-development/etcd:v" + v
            self.assertIn(image, refs)
            if i == 0:     # one pinned by digest, as a release pins it
                image = "gcr.io/etcd-development/etcd@" + refs[image]
            name = "etcd-" + v.replace(".", "-")
            names[name] = (v, image)
            self.create(pod(name, image, command=["etcd"], env=[POD_IP],
                            args=["--name=" + name, "--data-dir=/var/lib/etcd/data",
                                  "--listen-client-urls=http://$(POD_IP):2379,http://127.0.0.1:2379",
                                  "--advertise-client-urls=http://$(POD_IP):2379",
                                  "--listen-peer-urls=http://127.0.0.1:2380",
                                  "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                                  "--initial-cluster=%s=http://127.0.0.1:2380" % name],
                            readinessProbe={"exec": {"command": ["etcdctl", "endpoint", "health"]},
                                            "periodSeconds": 1, "timeoutSeconds": 5}))
        # neither command nor args: the image's CMD (etcd on localhost, in /var/lib/etcd)
        newest = self.etcd_versions[-1]
        self.create(pod("etcd-cmd", "quay.io/coreos/etcd:v" + newest,
                        readinessProbe={"exec": {"command": ["etcdctl", "endpoint", "health"]},
                                        "periodSeconds": 1, "timeoutSeconds": 5}))
        # no shell in a distroless image
        self.create(pod("etcd-sh", "gcr.io/etcd-development/etcd:v" + newest, command=["/bin/sh", "-c", "true"]))
        for name, (v, image) in names.items():
            self.wait_ready(name)
            p = self.bed.get("pods", name, NS)
            out = json.loads(self.get_in_cluster("http://%s:2379/version" % p["status"]["podIP"]))
            self.assertEqual(out["etcdserver"], v, name)
            self.assertTrue(self.status(name)["imageID"].startswith("gcr.io/etcd-development/etcd@sha256:"))
        self.wait_ready("etcd-cmd")
        root = "/proc/%d/root" % self.pid("etcd-cmd")
        self.assertTrue(os.path.isdir(os.path.join(root, "var/lib/etcd/default.etcd/member")),
                        "etcd's default data dir in the image's WorkingDir")
        self.assertEqual(sorted(os.listdir(os.path.join(root, "usr/local/bin"))), ["etcd", "etcdctl", "etcdutl"])

        def start_error():
            t = (self.status("etcd-sh").get("lastState") or {}).get("terminated") or \
                self.status("etcd-sh").get("state", {}).get("terminated") or {}
            return t if t.get("reason") == "StartError" else None
        t = self.bed.wait_for(start_error, 30, "StartError for /bin/sh")
        self.assertEqual(t["exitCode"], 128)
        self.assertIn('exec: "/bin/sh"', t.get("message", ""))


if __name__ == "__main__":
    unittest.main()
