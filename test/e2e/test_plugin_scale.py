"""`kubectl etcd scale` with the real admission webhook and controller on the
test bed, through the kubectl on PATH: the live progress of each step,
Ctrl-C in the middle of a scale (the step in flight finishes, nothing more
happens) and the printed resume command reaching the target, admission
warnings and refusals shown as the API server sends them, and a scale-down
to one member. The tests run in order on one cluster.
"""
import json
import os
import signal
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from plugintest import ANN, MANIFESTS, Bed, Plugin, cluster  # noqa: E402

CONTROLLER_FLAGS = ["--step-timeout", "60s", "--etcd-heartbeat-ms", "50", "--etcd-election-ms", "500"]


class Lines:
    """Collects a process's stdout line by line in a thread."""

    def __init__(self, stream):
        self.lines = []
        self._t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._t.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def join(self):
        self._t.join(10)


class ScaleWithController(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plugin = Plugin()
        cls.bed = Bed(manifests=True)
        try:
            cls.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "namespace", "namespace.yaml"))
            for f in ("mutating-webhook.yaml", "validating-webhook.yaml"):
                cls.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "webhook", f))
            cls.bed.start_webhook()
            cls.controller = cls.bed.start_controller(CONTROLLER_FLAGS)
            cls.bed.wait_for(lambda: cls.bed.kubectl("apply", "-f", "-", input=cluster("demo", 1),
                                                     check=False).returncode == 0,
                             20, "the webhook to admit demo")
            cls.wait_settled(1)
        except BaseException:
            cls.bed.stop()
            cls.plugin.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()
        cls.plugin.cleanup()

    @classmethod
    def settled(cls, n):
        ec = cls.bed.get("etcdclusters", "demo")
        st = ec.get("status") or {}
        return (ec["spec"]["replicas"] == n and st.get("phase") == "Running" and st.get("replicas") == n
                and st.get("readyReplicas") == n and not st.get("scaling")
                and st.get("observedGeneration") == ec["metadata"]["generation"])

    @classmethod
    def wait_settled(cls, n, timeout=120):
        try:
            cls.bed.wait_for(lambda: cls.settled(n), timeout, "demo settled at %d" % n, interval=0.3)
        except AssertionError:
            sys.stderr.write("status: %s\ncontroller log tail:\n%s\n" % (
                json.dumps(cls.bed.get("etcdclusters", "demo").get("status"), indent=1),
                cls.controller.output()[-3000:]))
            raise

    def etcd(self, *args, **kw):
        return self.plugin.run(*args, kubeconfig=self.bed.kubeconfig, **kw)

    def in_order(self, text, needles):
        at = 0
        for n in needles:
            i = text.find(n, at)
            self.assertGreaterEqual(i, 0, "%r missing or out of order in:\n%s" % (n, text))
            at = i + len(n)

    def test_1_up_interrupted_then_resumed(self):
        p = self.plugin.start("scale", "demo", "--replicas", "3", "--yes", kubeconfig=self.bed.kubeconfig)
        out = Lines(p.stdout)
        try:
            self.bed.wait_for(lambda: "learner added" in out.text(), 60, "the first learner", interval=0.1)
        finally:
            p.send_signal(signal.SIGINT)
            err = p.stderr.read()
            p.wait(60)
            out.join()
            p.stdout.close()
            p.stderr.close()
        text = out.text()
        self.assertEqual(p.returncode, 130, text + err)
        self.in_order(text, ["Plan for default/demo: 1 \u2192 3", "step 1/2: 1 \u2192 2",
                             "learner added (id ", "Interrupted: stopped waiting at step 1/2",
                             "Removed the target annotation", "To resume: kubectl etcd scale demo --replicas 3"])
        ec = self.bed.get("etcdclusters", "demo")
        self.assertNotIn(ANN, ec["metadata"].get("annotations") or {})
        step = ec["spec"]["replicas"]
        self.assertEqual(step, 2)
        # the operator finishes the step in flight, and nothing more
        self.wait_settled(step)
        time.sleep(2)
        self.assertTrue(self.settled(step), "the cluster moved on after Ctrl-C")

        r = self.etcd("scale", "demo", "--replicas", "3", "--yes", timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.in_order(r.stdout, ["step 1/1: 2 \u2192 3", "learner added (id ", "Pod demo-2 ready",
                                 "caught up", "promoted", "healthy (3/3 voters)",
                                 "Done: default/demo has 3 members"])
        self.assertTrue(self.settled(3))
        st = self.etcd("status", "demo")
        self.assertIn("3 voting members, 3 ready, 0 learners", st.stdout)
        self.assertIn("MemberPromoted", st.stdout)  # the controller's Events

    def test_2_admission_answers_as_sent(self):
        def written():  # the controller keeps updating status: compare what a write changes
            ec = self.bed.get("etcdclusters", "demo")
            return ec["metadata"]["generation"], ec["spec"], ec["metadata"].get("annotations")
        before = written()
        r = self.etcd("scale", "demo", "--replicas", "4", "--dry-run=server")
        self.assertEqual(r.returncode, 0, r.stderr)
        # the webhook's warning, relayed by the API server in a Warning header
        self.assertIn("Warning: spec.replicas: 4 members tolerate 1 failure, no more than 3 do", r.stderr)
        self.assertEqual(written(), before)
        self.bed.fault("webhook", mode="down")
        try:
            r = self.etcd("scale", "demo", "--replicas", "2", "--yes")
        finally:
            self.bed.fault("webhook", mode="ok")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Error from server: ", r.stderr)
        self.assertIn("etcd.k8s-operator.io", r.stderr)  # names the webhook that failed
        # and says what to do about it
        self.assertIn("hint: the operator's admission webhook is not answering", r.stderr)
        self.assertIn("logs deployment/etcd-webhook", r.stderr)
        self.assertEqual(self.bed.get("etcdclusters", "demo")["spec"]["replicas"], 3)

    def test_3_down_to_one(self):
        r = self.etcd("scale", "demo", "--replicas", "1", "--yes", timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.in_order(r.stdout, ["step 1/2: 3 \u2192 2", "member removed", "StatefulSet shrunk",
                                 "volume deleted", "healthy (2/2 voters)", "step 2/2: 2 \u2192 1",
                                 "member removed", "StatefulSet shrunk", "volume deleted",
                                 "healthy (1/1 voters)", "Done: default/demo has 1 member"])
        self.assertTrue(self.settled(1))
        claims = [c["metadata"]["name"] for c in self.bed.list("persistentvolumeclaims")]
        self.assertNotIn("data-demo-1", claims)
        self.assertNotIn("data-demo-2", claims)


if __name__ == "__main__":
    unittest.main()
