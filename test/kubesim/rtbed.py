"""Test fixture for the runtime tests: a store plus the runtime, no API
server, so the kubelet, StatefulSet controller and DNS can be tested on their
own (and before the API server exists). Every test gets its own state
directory and its own random loopback block in 127.32–127.250.

The one idea: tests never sleep for a fixed time; they poll a condition on
the store (or the hosts file) with a deadline and, when it fails, print the
state that explains why (Pod statuses, log tails).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import rtutil
import runtime
import store as st

HERE = os.path.dirname(os.path.abspath(__file__))
SANDBOX = os.path.join(HERE, "sandbox.py")


class RuntimeBed:
    def __init__(self, backoff_base=0.5, build=None):
        self.dir = tempfile.mkdtemp(prefix="kubesim-rt-")
        self.store = st.Store()
        self.block, self._claim = rtutil.claim_block()
        self.rt = runtime.start(self.store, {
            "dir": self.dir, "build": build or os.environ.get("EO_BUILD", ""), "ip_block": self.block,
            "cluster_domain": "cluster.local", "backoff_base": backoff_base, "backoff_max": 30})
        self.hosts = os.path.join(self.dir, "hosts")

    def close(self, max_grace=None):
        self.rt.stop(max_grace)
        self.store.close()
        self._claim.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- polling -------------------------------------------------------
    def wait(self, fn, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = fn()
            except st.NotFound:
                last = None
            if last:
                return last
            time.sleep(0.1)
        raise AssertionError("timed out after %ss waiting for %s\n%s" % (timeout, what, self.dump()))

    def pod(self, name, ns="default"):
        return self.store.get("pods", ns, name)

    def pod_status(self, name, ns="default"):
        try:
            return self.pod(name, ns).get("status") or {}
        except st.NotFound:
            return {}

    def ready(self, name, ns="default"):
        for c in self.pod_status(name, ns).get("conditions") or []:
            if c["type"] == "Ready":
                return c["status"] == "True"
        return False

    def container(self, pod, name=None, ns="default", init=False):
        for c in self.pod_status(pod, ns).get("initContainerStatuses" if init else "containerStatuses") or []:
            if name is None or c["name"] == name:
                return c
        return {}

    def log(self, pod, container, ns="default"):
        try:
            with open(os.path.join(self.dir, "logs", "%s_%s_%s.log" % (ns, pod, container))) as f:
                return f.read()
        except OSError:
            return ""

    def dump(self):
        out = []
        for p in self.store.list("pods")[0]:
            md = p["metadata"]
            out.append("pod %s/%s: %s" % (md.get("namespace"), md["name"], json.dumps(p.get("status"))[:1500]))
            for c in (p.get("spec") or {}).get("initContainers", []) + (p.get("spec") or {}).get("containers", []):
                tail = self.log(md["name"], c["name"], md.get("namespace"))[-600:]
                if tail:
                    out.append("  log %s:\n    %s" % (c["name"], tail.replace("\n", "\n    ")))
        return "\n".join(out)

    # ---- inside the cluster network ------------------------------------
    def run_in_net(self, argv, timeout=20):
        """Run argv with the bed's hosts file as /etc/hosts (as bed.py run does)."""
        return subprocess.run([sys.executable, "-S", SANDBOX, "--hosts", self.hosts, "--"] + list(argv),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def resolves(self, name):
        return self.run_in_net(["getent", "hosts", name]).returncode == 0
