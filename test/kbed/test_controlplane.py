"""The bed's control plane (test/kbed) with the real kubectl: start, the API
through the host relay, version, RBAC really enforced, CRDs and server-side
apply, the controller manager and scheduler at work, `run` inside the bed
network, the api fault, state, and stop / --die-with-parent leaving no
process behind.

Runs the control plane alone (--no-agent): the node agent has its own tests.
Needs the binaries of scripts/kube-bins.sh (skipped, saying so, without
them) and root (network namespaces).

    cd test/kbed && PYTHONPATH=.. python3 -m unittest -v test_controlplane
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTDIR)
if TESTDIR not in sys.path:
    sys.path.insert(0, TESTDIR)

from kbed import bins, cli, procs  # noqa: E402

BED = os.path.join(ROOT, "scripts", "bed")
MANIFESTS = os.path.join(ROOT, "manifests")
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("kubectl"):
        return "no kubectl on PATH"
    try:
        bins.find()
    except bins.BinsError as e:
        return str(e)
    return None


SKIP = _skip_reason()


def bed(*args, timeout=180, check=True):
    p = subprocess.run([BED] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("bed %s exited %d:\n%s%s" % (" ".join(args), p.returncode,
                                                         p.stdout.decode(), p.stderr.decode()))
    return p


def alive(listed):
    return sorted(p for p, s in listed.items() if procs.start_time(p) == s)


def read_descendants(d):
    out = {}
    with open(os.path.join(d, "descendants")) as f:
        for line in f:
            p, s = line.split()
            out[int(p)] = s
    return out


@unittest.skipIf(SKIP, SKIP)
class ControlPlane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kbed-test-")
        cls.dir = os.path.join(cls.tmp, "bed")
        t0 = time.monotonic()
        p = bed("start", "--dir", cls.dir, "--manifests", MANIFESTS, "--no-agent", "--die-with-parent",
                str(os.getpid()), check=False)
        cls.start_seconds = time.monotonic() - t0
        if p.returncode != 0:
            log = os.path.join(cls.dir, "logs", "bed.log")
            tail = open(log).read()[-3000:] if os.path.exists(log) else ""
            bed("stop", "--dir", cls.dir, check=False)
            raise AssertionError("start failed (%d): %s\n%s" % (p.returncode, p.stderr.decode(), tail))
        cls.kubeconfig = p.stdout.decode().strip()
        with open(os.path.join(cls.dir, "ready")) as f:
            cls.ready = json.load(f)
        sys.stderr.write("\n[kbed start: %.2fs wall, %.2fs in serve]\n" % (cls.start_seconds,
                                                                         cls.ready["startup_seconds"]))

    @classmethod
    def tearDownClass(cls):
        listed = read_descendants(cls.dir) if os.path.exists(os.path.join(cls.dir, "descendants")) else {}
        bed("stop", "--dir", cls.dir, check=False)
        left = alive(listed)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if left:
            raise AssertionError("processes left after stop: %s" % left)

    def kubectl(self, *args, check=True, timeout=60, stdin=None):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=os.path.join(self.tmp, "kcache"))
        p = subprocess.run(["kubectl"] + list(args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=env)
        if check and p.returncode != 0:
            self.fail("kubectl %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
        return p

    def kjson(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def wait(self, what, pred, timeout=60, interval=0.2):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = pred()
                if last:
                    return last
            except (AssertionError, ValueError, subprocess.SubprocessError) as e:
                last = e
            time.sleep(interval)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))

    # ---- start, the relay, the kubeconfig ----------------------------
    def test_kubeconfig_points_at_the_host_relay(self):
        with open(self.kubeconfig) as f:
            kc = json.load(f)
        server = kc["clusters"][0]["cluster"]["server"]
        self.assertTrue(server.startswith("https://127.0.0.1:"), server)
        self.assertIn("certificate-authority-data", kc["clusters"][0]["cluster"])
        self.assertIn("client-certificate-data", kc["users"][0]["user"])
        self.assertEqual(kc["clusters"][0]["cluster"]["server"], "https://" + self.ready["address"])

    def test_version_is_the_real_one(self):
        v = json.loads(self.kubectl("get", "--raw", "/version").stdout)
        self.assertEqual(v["gitVersion"], "v1.37.2")
        self.assertEqual((v["major"], v["minor"]), ("1", "37"))

    def test_namespaces_and_bootstrap(self):
        names = {n["metadata"]["name"] for n in self.kjson("get", "ns")["items"]}
        self.assertTrue({"default", "kube-system", "kube-public", "kube-node-lease"} <= names, names)
        svc = self.kjson("get", "svc", "kubernetes", "-n", "default")
        self.assertEqual(svc["spec"]["clusterIP"], "10.96.0.1")
        eps = self.kjson("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes")
        addrs = [a for it in eps["items"] for e in it["endpoints"] for a in e["addresses"]]
        self.assertEqual(addrs, ["10.244.0.1"])

    def test_admin_can_do_everything(self):
        out = self.kubectl("auth", "can-i", "--list").stdout.decode()
        self.assertRegex(out, r"\*\.\*\s+\[\]\s+\[\]\s+\[\*\]")
        self.assertEqual(self.kubectl("auth", "whoami", "-o", "json", check=False).returncode in (0, 1), True)

    # ---- RBAC ----------------------------------------------------------
    def test_rbac_is_enforced_for_a_service_account(self):
        ns = "rbac-test"
        self.kubectl("create", "namespace", ns)
        self.kubectl("-n", ns, "create", "serviceaccount", "nobody")
        token = self.kubectl("-n", ns, "create", "token", "nobody").stdout.decode().strip()
        self.assertTrue(token)
        auth = ["--token", token, "--kubeconfig", os.path.join(self.tmp, "empty-kubeconfig"),
                "--server", "https://" + self.ready["address"],
                "--certificate-authority", os.path.join(self.dir, "ca.crt")]
        with open(os.path.join(self.tmp, "empty-kubeconfig"), "w") as f:
            f.write("apiVersion: v1\nkind: Config\n")
        p = self.kubectl("-n", ns, "get", "pods", *auth, check=False)
        self.assertNotEqual(p.returncode, 0)
        err = p.stderr.decode()
        self.assertIn("Forbidden", err)
        self.assertIn("system:serviceaccount:%s:nobody" % ns, err)
        # can-i as the service account agrees, by impersonation
        p = self.kubectl("auth", "can-i", "list", "pods", "-n", ns, "--as",
                         "system:serviceaccount:%s:nobody" % ns, check=False)
        self.assertEqual(p.stdout.decode().strip(), "no")
        # a RoleBinding makes it allowed (so the token itself is accepted)
        self.kubectl("-n", ns, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
        self.kubectl("-n", ns, "create", "rolebinding", "nobody-reads", "--role=pod-reader",
                     "--serviceaccount=%s:nobody" % ns)
        self.wait("the RoleBinding to apply",
                  lambda: self.kubectl("-n", ns, "get", "pods", *auth, check=False).returncode == 0, timeout=20)
        p = self.kubectl("-n", "default", "get", "pods", *auth, check=False)
        self.assertIn("Forbidden", p.stderr.decode())

    # ---- CRDs and server-side apply ---------------------------------
    def test_crd_established_and_explained(self):
        crd = self.kjson("get", "crd", "etcdclusters.etcd.k8s-operator.io")
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conds.get("Established"), "True")
        out = self.wait("explain", lambda: self.kubectl("explain", "etcdcluster.spec.replicas", check=False)
                        .stdout.decode())
        self.assertIn("replicas", out)

    def test_server_side_apply_of_a_sample(self):
        sample = os.path.join(MANIFESTS, "samples", "etcdcluster-demo.yaml")
        p = self.kubectl("apply", "--server-side", "--field-manager=kbed-test", "-f", sample)
        self.assertIn("serverside-applied", p.stdout.decode())
        items = self.kjson("get", "etcdclusters", "--show-managed-fields")["items"]
        self.assertEqual(len(items), 1)
        managers = {m["manager"] for m in items[0]["metadata"]["managedFields"]}
        self.assertIn("kbed-test", managers)
        # a second apply of the same object is a no-op, not a conflict;
        # another manager changing an owned field is a conflict
        self.kubectl("apply", "--server-side", "--field-manager=kbed-test", "-f", sample)
        with open(sample) as f:
            text = f.read()
        self.assertRegex(text, r"replicas: *[0-9]+")
        import re
        other = re.sub(r"replicas: *[0-9]+", "replicas: 5", text, count=1)
        p = self.kubectl("apply", "--server-side", "--field-manager=someone-else", "-f", "-",
                         stdin=other.encode(), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("conflict", p.stderr.decode().lower())

    # ---- the controller manager and the scheduler -------------------
    def test_deployment_makes_replicaset_and_pods(self):
        ns = "deploy-test"
        self.kubectl("create", "namespace", ns)
        self.kubectl("-n", ns, "create", "deployment", "web", "--image=registry.example/web:1", "--replicas=2")
        self.wait("a ReplicaSet", lambda: self.kjson("-n", ns, "get", "rs", "-l", "app=web")["items"])
        pods = self.wait("2 Pods", lambda: (lambda it: it if len(it) == 2 else None)(
            self.kjson("-n", ns, "get", "pods", "-l", "app=web")["items"]))
        for p in pods:
            self.assertEqual(p["spec"]["serviceAccountName"], "default")
        # no Node: the scheduler looks at them and says so
        def unschedulable():
            for p in self.kjson("-n", ns, "get", "pods", "-l", "app=web")["items"]:
                conds = {c["type"]: c for c in p["status"].get("conditions", [])}
                if conds.get("PodScheduled", {}).get("reason") != "Unschedulable":
                    return False
            return True
        self.wait("the scheduler to mark the Pods Unschedulable", unschedulable)
        # the namespace's ServiceAccount and root CA ConfigMap (controller manager)
        cm = self.kjson("-n", ns, "get", "configmap", "kube-root-ca.crt")
        with open(os.path.join(self.dir, "ca.crt")) as f:
            self.assertEqual(cm["data"]["ca.crt"].strip(), f.read().strip())

    # ---- run -----------------------------------------------------------
    def test_run_inside_the_bed_network(self):
        p = bed("run", "--dir", self.dir, "--", "kubectl", "get", "--raw", "/readyz", check=False)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout.decode().strip(), "ok")
        p = bed("run", "--dir", self.dir, "--", "sh", "-c", "echo $KUBECONFIG; ip route show table local; exit 7",
                check=False)
        self.assertEqual(p.returncode, 7)
        out = p.stdout.decode()
        self.assertIn(os.path.join(self.dir, "kubeconfig-incluster"), out)
        self.assertIn("local 10.244.0.1 dev kbr0", out)       # the API server's address, on the bridge
        self.assertIn("local 10.96.0.0/16 dev lo", out)
        if os.path.exists(os.path.join(self.dir, "hosts")):
            p = bed("run", "--dir", self.dir, "--", "cat", "/etc/hosts")
            with open(os.path.join(self.dir, "hosts"), "rb") as f:
                self.assertEqual(p.stdout, f.read())
        # the host's own routes are untouched
        host = subprocess.run(["ip", "route", "show", "table", "local"], stdout=subprocess.PIPE).stdout.decode()
        self.assertNotIn("10.244.0.1 ", host)
        self.assertNotIn("10.96.0.0/16", host)

    def test_state(self):
        st = json.loads(bed("state", "--dir", self.dir).stdout)
        comps = st["controlPlane"]["components"]
        for n in COMPONENTS:
            self.assertTrue(comps[n]["running"], n)
        self.assertEqual(st["address"], self.ready["address"])
        self.assertGreater(st["controlPlane"]["timings"]["total"], 0)

    def test_unknown_fault_is_refused(self):
        p = bed("fault", "--dir", self.dir, "api", "--sideways", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--down", p.stdout.decode())

    # ---- api fault (last: named so it sorts after the others) --------
    def test_zz_api_down_and_back(self):
        t0 = time.monotonic()
        p = bed("fault", "--dir", self.dir, "api", "--down", "4")
        self.assertEqual(json.loads(p.stdout)["api"], "down")
        t1 = time.monotonic()
        r = self.kubectl("get", "--raw", "/readyz", check=False, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("refused", r.stderr.decode())    # like a stopped API server, not an EOF
        self.assertLess(time.monotonic() - t1, 3.5)
        st = json.loads(bed("state", "--dir", self.dir).stdout)
        self.assertFalse(st["controlPlane"]["components"]["kube-apiserver"]["running"])
        self.assertEqual(st["controlPlane"]["apiFault"]["mode"], "down")
        self.wait("the API again", lambda: self.kubectl("get", "--raw", "/readyz", check=False,
                                                        timeout=10).returncode == 0, timeout=90, interval=0.5)
        self.assertGreaterEqual(time.monotonic() - t0, 4)
        # same data
        self.assertIn("etcdclusters.etcd.k8s-operator.io",
                      self.kubectl("get", "crd", "-o", "name").stdout.decode())
        # --stop / --start
        bed("fault", "--dir", self.dir, "api", "--stop")
        self.assertNotEqual(self.kubectl("get", "--raw", "/readyz", check=False, timeout=20).returncode, 0)
        bed("fault", "--dir", self.dir, "api", "--start")
        self.assertEqual(self.kubectl("get", "--raw", "/readyz").stdout.decode().strip(), "ok")


class FaultParams(unittest.TestCase):
    def test_forms(self):
        self.assertEqual(cli.parse_params(["--down", "5"]), {"down": 5})
        self.assertEqual(cli.parse_params(["--down=2.5", "--stop"]), {"down": 2.5, "stop": True})
        self.assertEqual(cli.parse_params(["pod=web-0", "--namespace", "ns1", "--wait"]),
                         {"pod": "web-0", "namespace": "ns1", "wait": True})
        with self.assertRaises(SystemExit):
            cli.parse_params(["loose"])


@unittest.skipIf(SKIP, SKIP)
class Lifecycle(unittest.TestCase):
    def test_die_with_parent_leaves_no_process(self):
        tmp = tempfile.mkdtemp(prefix="kbed-test-")
        d = os.path.join(tmp, "bed")
        parent = subprocess.Popen(["sleep", "600"])
        try:
            bed("start", "--dir", d, "--no-agent", "--die-with-parent", str(parent.pid))
            pid = cli.bed_pid(d)
            self.assertIsNotNone(pid)
            listed = read_descendants(d)
            names = set()
            for p in listed:
                try:
                    with open("/proc/%d/comm" % p) as f:
                        names.add(f.read().strip())
                except OSError:
                    pass
            self.assertTrue({"etcd", "kube-apiserver"} <= names, names)
            parent.send_signal(signal.SIGTERM)
            parent.wait()
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and (alive(listed) or cli.bed_pid(d)):
                time.sleep(0.2)
            self.assertEqual(alive(listed), [])
            self.assertIsNone(cli.bed_pid(d))
            self.assertTrue(os.path.exists(os.path.join(d, "stopped")))
            # stop on a stopped bed is fine
            bed("stop", "--dir", d)
        finally:
            parent.kill()
            parent.wait()
            bed("stop", "--dir", d, check=False)
            shutil.rmtree(tmp, ignore_errors=True)

    def test_stop_leaves_no_process_even_after_sigkill(self):
        tmp = tempfile.mkdtemp(prefix="kbed-test-")
        d = os.path.join(tmp, "bed")
        try:
            bed("start", "--dir", d, "--no-agent")
            pid = cli.bed_pid(d)
            listed = read_descendants(d)
            self.assertGreaterEqual(len(alive(listed)), 4)
            os.kill(pid, signal.SIGKILL)      # the bed cannot clean up: stop must
            bed("stop", "--dir", d)
            time.sleep(0.2)
            self.assertEqual(alive(listed), [])
        finally:
            bed("stop", "--dir", d, check=False)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
