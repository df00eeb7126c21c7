"""The runtime through the whole bed (bed.py start/run/fault/stop) with the
kubectl on PATH: an etcd StatefulSet applied with kubectl, its members
reached with etcdctl inside the cluster network, the STATUS column kubectl
prints for crash loops, image pulls and failed init containers, the fault
CLI, and no Pod process left after `bed.py stop`."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import test_workloads as tw

HERE = os.path.dirname(os.path.abspath(__file__))
BED = [sys.executable, "-S", os.path.join(HERE, "bed.py")]


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@unittest.skipUnless(shutil.which("kubectl"), "kubectl not on PATH")
class KubectlRuntimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="kubesim-kubectl-")
        r = subprocess.run(BED + ["start", "--dir", cls.dir, "--die-with-parent", str(os.getpid()), "--backoff-base", "1"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("bed.py start failed: %s%s" % (r.stdout, r.stderr))
        cls.env = dict(os.environ, KUBECONFIG=os.path.join(cls.dir, "kubeconfig"))
        cls.stopped = False

    @classmethod
    def tearDownClass(cls):
        if not cls.stopped:
            subprocess.run(BED + ["stop", "--dir", cls.dir], capture_output=True, timeout=60)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def kubectl(self, *args, check=True, timeout=60, stdin=None):
        r = subprocess.run(["kubectl"] + list(args), env=self.env, capture_output=True, text=True,
                           timeout=timeout, input=stdin)
        if check:
            self.assertEqual(r.returncode, 0, "kubectl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def bed(self, *args, check=True, timeout=30):
        r = subprocess.run(BED + [args[0], "--dir", self.dir] + list(args[1:]), env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if check:
            self.assertEqual(r.returncode, 0, "bed.py %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def wait(self, fn, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.25)
        pods = self.kubectl("get", "pods", "-o", "wide", check=False).stdout
        self.fail("timed out after %ss waiting for %s (last: %r)\n%s" % (timeout, what, last, pods))

    def pod_table(self):
        """{name: (ready, status, restarts)} from kubectl's own table."""
        out = {}
        for line in self.kubectl("get", "pods", "--no-headers").stdout.splitlines():
            f = line.split()
            out[f[0]] = (f[1], f[2], f[3])
        return out

    def test_a_etcd_statefulset_with_kubectl(self):
        items = [tw.service("demo-peer", {"app": "demo"}, [("peer", 2380), ("client", 2379)],
                            headless=True, publish_not_ready=True),
                 tw.service("demo-client", {"app": "demo"}, [("client", 2379)]),
                 tw.etcd_statefulset("demo", 3, "demo-peer")]
        self.kubectl("apply", "-f", "-",
                     stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        self.kubectl("rollout", "status", "statefulset/demo", "--timeout=60s", timeout=70)
        r = self.bed("run", "--", "etcdctl", "--endpoints",
                     "http://demo-0.demo-peer.default.svc.cluster.local:2379,http://demo-client.default.svc:2379",
                     "endpoint", "health")
        self.assertEqual((r.stdout + r.stderr).count("is healthy"), 2, r.stdout + r.stderr)
        self.assertIn("etcdserver", self.kubectl("logs", "demo-0", "--tail=50").stdout)
        ips = self.kubectl("get", "pods", "-l", "app=demo", "-o", "jsonpath={.items[*].status.podIP}").stdout.split()
        self.assertEqual(len(set(ips)), 3)

    def test_b_fault_cli_kill_and_dns(self):
        self.bed("fault", "kill", "pod=demo-1", "container=etcd")
        self.wait(lambda: self.pod_table().get("demo-1", ("", "", "0"))[2] == "1", 20, "RESTARTS 1")
        self.kubectl("wait", "--for=condition=Ready", "pod/demo-1", "--timeout=30s", timeout=40)
        name = "demo-2.demo-peer.default.svc.cluster.local"
        self.bed("fault", "dns", "name=" + name, "holdSeconds=30")
        self.assertNotEqual(self.bed("run", "--", "getent", "hosts", name, check=False).returncode, 0)
        self.bed("fault", "dns", "name=" + name, "holdSeconds=0")
        self.wait(lambda: self.bed("run", "--", "getent", "hosts", name, check=False).returncode == 0, 10,
                  "name back after the hold is lifted")

    def test_c_status_column(self):
        crash = tw.busybox_pod("crash", "exit 3")
        img = tw.busybox_pod("img", "sleep 1000")
        img["spec"]["containers"][0]["image"] = "busybox:broken"
        bad = tw.busybox_pod("badinit", "sleep 1000",
                             spec={"initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "exit 7"]}]})
        self.bed("fault", "image", "image=busybox:broken", "fail=true")
        self.kubectl("create", "-f", "-",
                     stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [crash, img, bad]}))
        want = {"crash": {"CrashLoopBackOff"}, "img": {"ErrImagePull", "ImagePullBackOff"},
                "badinit": {"Init:Error", "Init:CrashLoopBackOff"}}
        seen = {k: set() for k in want}
        backoffs = []

        def check():
            for name, (_, status, _) in self.pod_table().items():
                if name in seen:
                    seen[name].add(status)
            msg = self.kubectl("get", "pod", "crash", "-o",
                               "jsonpath={.status.containerStatuses[0].state.waiting.message}").stdout
            if msg.startswith("back-off "):
                backoffs.append(msg.split()[1])
            return all(seen[k] & want[k] for k in want) and backoffs
        self.wait(check, 30, "kubectl STATUS %s" % want)
        # back-off 1s, 2s, 4s, 8s with --backoff-base 1 (Kubernetes' default would start at 10s)
        self.assertIn(backoffs[0], ("1s", "2s", "4s", "8s"), "bed.py start --backoff-base 1: %s" % backoffs)
        # sorting asks for a Table with whole objects in its rows (includeObject=Object)
        names = set(self.kubectl("get", "events", "-o", "jsonpath={.items[*].metadata.name}").stdout.split())
        rows = self.kubectl("get", "events", "--sort-by=.lastTimestamp", "--no-headers").stdout.splitlines()
        self.assertTrue(any(n.startswith("crash.") for n in names), names)
        self.assertLessEqual(names, {r.split()[0] for r in rows})   # events only come, never go, here

    def test_d_deleted_pod_recreated(self):
        uid = self.kubectl("get", "pod", "demo-2", "-o", "jsonpath={.metadata.uid}").stdout
        self.kubectl("delete", "pod", "demo-2")
        self.wait(lambda: self.kubectl("get", "pod", "demo-2", "-o", "jsonpath={.metadata.uid}", check=False).stdout
                  not in ("", uid), 20, "a new demo-2")
        self.kubectl("wait", "--for=condition=Ready", "pod/demo-2", "--timeout=40s", timeout=50)

    def test_e_claim_retention_policy_through_the_gc(self):
        tmpl = tw.busybox_pod("x", "sleep 1000", labels={"app": "ret"})
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ret", "namespace": "default"},
               "spec": {"replicas": 2, "serviceName": "ret", "podManagementPolicy": "Parallel",
                        "selector": {"matchLabels": {"app": "ret"}},
                        "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete", "whenDeleted": "Delete"},
                        "template": {"metadata": {"labels": {"app": "ret"}}, "spec": tmpl["spec"]},
                        "volumeClaimTemplates": [{"metadata": {"name": "d"},
                                                  "spec": {"resources": {"requests": {"storage": "1Mi"}}}}]}}
        self.kubectl("create", "-f", "-", stdin=json.dumps(sts))
        self.kubectl("rollout", "status", "statefulset/ret", "--timeout=30s", timeout=40)
        claims = lambda: set(self.kubectl("get", "pvc", "-o", "name").stdout.split())
        self.assertTrue({"persistentvolumeclaim/d-ret-0", "persistentvolumeclaim/d-ret-1"} <= claims())
        self.kubectl("scale", "statefulset/ret", "--replicas=1")
        self.wait(lambda: "persistentvolumeclaim/d-ret-1" not in claims(), 20, "whenScaled: Delete")
        self.assertIn("persistentvolumeclaim/d-ret-0", claims())
        self.kubectl("delete", "statefulset/ret")
        self.wait(lambda: "persistentvolumeclaim/d-ret-0" not in claims(), 20, "whenDeleted: Delete")
        self.wait(lambda: "ret-0" not in self.pod_table(), 20, "Pods collected with their StatefulSet")

    def test_f_graceful_and_forced_pod_deletion(self):
        script = "trap '' TERM; echo armed; sleep 1000 & wait; sleep 1000"   # only SIGKILL ends it
        pods = [tw.busybox_pod(n, script, grace=g) for n, g in (("grace", 30), ("forced", 1))]
        self.kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))
        for n in ("grace", "forced"):
            self.wait(lambda: "armed" in self.kubectl("logs", n, check=False).stdout, 20, "%s running" % n)
        # the Pod's own 30 s; the object stays, Terminating
        grace_of = lambda: json.loads(self.kubectl("get", "pod", "grace", "-o", "json").stdout)["metadata"][
            "deletionGracePeriodSeconds"]
        self.kubectl("delete", "pod", "grace", "--wait=false")
        self.assertEqual(grace_of(), 30)
        self.assertEqual(self.pod_table()["grace"][1], "Terminating")
        # a second DELETE may shorten it (DeleteOptions.gracePeriodSeconds), never lengthen it
        self.kubectl("delete", "pod", "grace", "--grace-period=60", "--wait=false")
        self.assertEqual(grace_of(), 30)
        self.kubectl("delete", "pod", "grace", "--grace-period=3", "--wait=false")
        self.assertEqual(grace_of(), 3)
        # the kubelet restarts the kill with the shorter period, SIGKILLs and removes the object
        # (well before 30 s; kubectl 1.20's `wait --for=delete` fails on an object already gone, so poll)
        self.wait(lambda: self.kubectl("get", "pod", "grace", check=False).returncode != 0, 20, "grace gone")
        # --force --grace-period=0: gone from the API at once; the kubelet still stops the processes,
        # giving them the Pod's own terminationGracePeriodSeconds (1 here) as kubelet does
        pid = [p["containers"]["main"] for p in json.loads(self.bed("state").stdout)["runtime"]["pods"]
               if p["name"] == "forced"][0]
        self.kubectl("delete", "pod", "forced", "--force", "--grace-period=0")
        self.assertNotEqual(self.kubectl("get", "pod", "forced", check=False).returncode, 0)
        self.wait(lambda: not _alive(pid), 20, "the forced Pod's process killed")

    def test_z_stop_leaves_no_pod_process(self):
        state = json.loads(self.bed("state").stdout)
        pids = [pid for p in state["runtime"]["pods"] for pid in p["containers"].values() if pid]
        self.assertGreaterEqual(len(pids), 3)   # the etcd members at least
        self.assertTrue(all(_alive(p) for p in pids))
        self.bed("stop", timeout=60)
        type(self).stopped = True
        self.assertEqual([p for p in pids if _alive(p)], [])


if __name__ == "__main__":
    unittest.main()
