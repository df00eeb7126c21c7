"""The bed's lifecycle: start-up time (printed), stop leaves no process (the
bed's session and every descendant it recorded), the bed dies with its
parent, `bed.py run` puts a command in the cluster network, the fault CLI,
the harness cleans up after a failing test, and the bed serves the API even
without the runtime.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import Bed

HERE = os.path.dirname(os.path.abspath(__file__))
BED = [sys.executable, "-S", os.path.join(HERE, "bed.py")]
ROOT = os.path.dirname(os.path.dirname(HERE))


def session_members(sid):
    """Live processes of a session (zombies waiting for init to reap them are not running)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat="], capture_output=True, text=True).stdout
    return [int(p) for p, s, stat in (line.split() for line in out.splitlines())
            if int(s) == sid and not stat.startswith("Z")]


def alive_listed(d):
    """Descendants the bed recorded that are still alive (same start time)."""
    import bed as bedmod
    left = []
    try:
        with open(os.path.join(d, "descendants")) as f:
            for line in f:
                pid, start = line.split()
                st = bedmod._stat(int(pid))
                if st and st[1] == start:
                    left.append(int(pid))
    except OSError:
        pass
    return left


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %.0fs: %s" % (timeout, what))


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kubesim-life-")

    def tearDown(self):
        subprocess.run(BED + ["stop", "--dir", self.dir], capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", self.dir])

    def start(self, *extra):
        t0 = time.monotonic()
        r = subprocess.run(BED + ["start", "--dir", self.dir, "--manifests", os.path.join(ROOT, "manifests")] + list(extra),
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), os.path.join(self.dir, "kubeconfig"))
        with open(os.path.join(self.dir, "bed.pid")) as f:
            return int(f.read()), took

    def kubectl(self, *args, check=True):
        r = subprocess.run(["kubectl", "--kubeconfig", os.path.join(self.dir, "kubeconfig")] + list(args),
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, KUBECACHEDIR=os.path.join(self.dir, "kube-cache")))
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_start_fast_and_stop_leaves_no_process(self):
        pid, took = self.start()
        with open(os.path.join(self.dir, "ready")) as f:
            info = json.load(f)
        print("\nkubesim start-up: bed.py start %.2fs wall clock (its own interpreter included); "
              "bed init %.3fs" % (took, info["startup_seconds"]))
        self.assertIn("default", self.kubectl("get", "ns").stdout)
        if info["runtime"]:
            self.kubectl("run", "sleeper", "--image=busybox", "--restart=Never", "--", "sleep", "300")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "Running" not in self.kubectl("get", "pod", "sleeper").stdout:
                time.sleep(0.2)
            wait(lambda: len(alive_listed(self.dir)) > 0, 5, "the bed to record the Pod's processes")
        self.assertEqual(subprocess.run(BED + ["stop", "--dir", self.dir], capture_output=True).returncode, 0)
        self.assertEqual(session_members(pid), [])
        self.assertEqual(alive_listed(self.dir), [])
        self.assertTrue(os.path.exists(os.path.join(self.dir, "stopped")))

    def test_bed_dies_with_its_parent(self):
        parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                                   "subprocess.run(sys.argv[1:] + ['--die-with-parent', str(__import__('os').getpid())],"
                                   " check=True, capture_output=True)\nprint('up', flush=True)\ntime.sleep(600)\n"]
                                  + BED + ["start", "--dir", self.dir], stdout=subprocess.PIPE, text=True)
        self.assertEqual(parent.stdout.readline().strip(), "up")
        with open(os.path.join(self.dir, "bed.pid")) as f:
            pid = int(f.read())
        self.assertTrue(session_members(pid))
        parent.kill()
        parent.wait()
        wait(lambda: not session_members(pid), 15, "the bed to stop after its parent died")
        self.assertTrue(os.path.exists(os.path.join(self.dir, "stopped")))

    def test_run_in_cluster_network_and_exit_status(self):
        self.start()
        r = subprocess.run(BED + ["run", "--dir", self.dir, "--", "sh", "-c", 'echo "$KUBECONFIG"; exit 7'],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertEqual(r.stdout.strip(), os.path.join(self.dir, "kubeconfig"))
        with open(os.path.join(self.dir, "hosts"), "a") as f:
            f.write("127.0.0.99\tonly-in-the-bed.example\n")
        r = subprocess.run(BED + ["run", "--dir", self.dir, "--", "getent", "hosts", "only-in-the-bed.example"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 and "hosts" in open(os.path.join(self.dir, "hosts")).read() and \
                "only-in-the-bed" not in open(os.path.join(self.dir, "hosts")).read():
            self.skipTest("the runtime rewrote the hosts file meanwhile")
        self.assertIn("127.0.0.99", r.stdout, r.stderr)
        self.assertNotIn("only-in-the-bed", subprocess.run(["getent", "hosts", "only-in-the-bed.example"],
                                                           capture_output=True, text=True).stdout)

    def test_fault_cli(self):
        self.start()
        r = subprocess.run(BED + ["fault", "--dir", self.dir, "api", "verb=list", "resource=configmaps", "code=500",
                                  "count=1"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("InternalError", self.kubectl("get", "cm", check=False).stderr)
        self.kubectl("get", "cm")
        subprocess.run(BED + ["fault", "--dir", self.dir, "webhook", "mode=down"], check=True, capture_output=True)
        out = json.loads(subprocess.run(BED + ["fault", "--dir", self.dir, "list"], capture_output=True, text=True).stdout)
        self.assertEqual(out["webhook"]["mode"], "down")
        subprocess.run(BED + ["fault", "--dir", self.dir, "clear"], check=True, capture_output=True)
        out = json.loads(subprocess.run(BED + ["fault", "--dir", self.dir, "list"], capture_output=True, text=True).stdout)
        self.assertEqual(out["webhook"]["mode"], "ok")
        r = subprocess.run(BED + ["fault", "--dir", self.dir, "api", "code=418"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("code must be", r.stdout)


class HarnessCleanupTest(unittest.TestCase):
    def test_failure_inside_with_stops_everything(self):
        holder = {}
        with self.assertRaises(RuntimeError):
            with Bed() as bed:
                holder["dir"] = bed.dir
                with open(os.path.join(bed.dir, "bed.pid")) as f:
                    holder["pid"] = int(f.read())
                holder["bg"] = bed.run_in_cluster(["sleep", "300"], background=True, name="sleeper")
                wait(lambda: holder["bg"].alive(), 5, "background command")
                raise RuntimeError("a test failing")
        self.assertFalse(os.path.exists(holder["dir"]))
        self.assertEqual(session_members(holder["pid"]), [])
        self.assertFalse(holder["bg"].alive())
        self.assertEqual(session_members(holder["bg"].pid), [])


class HarnessOptionsTest(unittest.TestCase):
    def test_backoff_base(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crash"},
               "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}]}}
        with Bed(backoff_base=1) as bed:
            st, out = bed.create(pod)
            self.assertEqual(st, 201, out)

            def first_backoff():
                cs = (bed.get("pods", "crash").get("status") or {}).get("containerStatuses") or [{}]
                msg = ((cs[0].get("state") or {}).get("waiting") or {}).get("message", "")
                return msg.split()[1] if msg.startswith("back-off ") else None
            # 1 s, doubling (Kubernetes' 10 s would say "back-off 10s")
            self.assertIn(bed.wait_for(first_backoff, 30, "a restart back-off", 0.05), ("1s", "2s", "4s", "8s"))


class BlockClaimTest(unittest.TestCase):
    def test_two_beds_never_share_a_loopback_block(self):
        import rtutil
        block, held = rtutil.claim_block()
        n = int(block.split(".")[1])
        try:
            with self.assertRaises(RuntimeError):      # the only candidate is taken
                rtutil.claim_block(n, n)
            others = [rtutil.claim_block() for _ in range(3)]
            self.assertNotIn(block, [b for b, _ in others])
            self.assertEqual(len({b for b, _ in others}), 3)
            for _, s in others:
                s.close()
        finally:
            held.close()
        again, s = rtutil.claim_block(n, n)             # free again once its holder lets go
        s.close()
        self.assertEqual(again, block)


class NoRuntimeTest(unittest.TestCase):
    def test_serves_the_api_without_runtime(self):
        import bed as bedmod
        d = tempfile.mkdtemp(prefix="kubesim-nort-")
        saved = sys.modules.get("runtime", "absent")
        sys.modules["runtime"] = None          # import runtime → ImportError
        try:
            b = bedmod.Bed(d, manifests=os.path.join(ROOT, "manifests"))
        finally:
            if saved == "absent":
                del sys.modules["runtime"]
            else:
                sys.modules["runtime"] = saved
        try:
            self.assertIsNone(b.runtime)
            self.assertIn("runtime.py not importable", b.runtime_error)
            r = subprocess.run(["kubectl", "--kubeconfig", os.path.join(d, "kubeconfig"), "get", "ec"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            b.stop()
            subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    unittest.main()
