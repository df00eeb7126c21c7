"""Helpers for the plugin's end-to-end tests: `kubectl etcd …` run through the
kubectl on PATH, as a user runs it, against the real control plane (kbed).

The plugin is "installed" the way `make install` does it — kubectl-etcd and
kubectl_complete-etcd in one directory put first on PATH — but into a
temporary directory, so the tests never touch the machine's PATH.
"""
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))

from kbed.harness import Bed, free_port  # noqa: E402,F401

MANIFESTS = os.path.join(ROOT, "manifests")
FIXTURES = os.path.join(ROOT, "test", "fixtures", "validate")
ANN = "etcd.k8s-operator.io/target-replicas"


def build_dir():
    b = os.environ.get("EO_BUILD") or os.path.join(ROOT, "build")
    return os.path.abspath(b)


class Plugin:
    """kubectl etcd, installed in a private bin directory."""

    def __init__(self):
        self.bin = tempfile.mkdtemp(prefix="plugin-bin-")
        src = os.path.join(build_dir(), "kubectl-etcd")
        if not os.access(src, os.X_OK):
            raise FileNotFoundError("%s is not built (make all)" % src)
        shutil.copy2(src, os.path.join(self.bin, "kubectl-etcd"))
        shutil.copy2(os.path.join(ROOT, "plugin", "kubectl_complete-etcd"),
                     os.path.join(self.bin, "kubectl_complete-etcd"))
        self.kubectl_bin = os.environ.get("EO_KUBECTL") or shutil.which("kubectl") or "kubectl"

    def cleanup(self):
        shutil.rmtree(self.bin, ignore_errors=True)

    def env(self, kubeconfig=None, extra=None):
        e = dict(os.environ)
        e["PATH"] = self.bin + os.pathsep + e.get("PATH", "")
        e.pop("KUBECONFIG", None)
        e.pop("NO_COLOR", None)
        if kubeconfig:
            e["KUBECONFIG"] = kubeconfig
        e.update(extra or {})
        return e

    def run(self, *args, kubeconfig=None, input=None, env=None, timeout=120):
        """kubectl etcd ARGS: the CompletedProcess (text)."""
        return subprocess.run([self.kubectl_bin, "etcd"] + [str(a) for a in args], input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=self.env(kubeconfig, env), timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def start(self, *args, kubeconfig=None, env=None):
        """kubectl etcd ARGS in the background, output to pipes (for SIGINT tests)."""
        return subprocess.Popen([self.kubectl_bin, "etcd"] + [str(a) for a in args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(kubeconfig, env),
                                start_new_session=True)

    def on_terminal(self, *args, kubeconfig=None, answer=None, wait_for="Proceed? [y/N]",
                    timeout=60):
        """Run in a pseudo-terminal; type `answer` once `wait_for` shows.
        Returns (exit status, everything the terminal showed)."""
        pid, fd = pty.fork()
        if pid == 0:  # child: stdin/stdout/stderr are the terminal
            try:
                os.execvpe(self.kubectl_bin, [self.kubectl_bin, "etcd"] + [str(a) for a in args],
                           self.env(kubeconfig, {"TERM": "xterm"}))
            finally:
                os._exit(127)
        out = b""
        answered = answer is None
        deadline = time.monotonic() + timeout
        status = None
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        chunk = b""
                    if not chunk:
                        break
                    out += chunk
                    if not answered and wait_for.encode() in out:
                        os.write(fd, answer.encode() + b"\n")
                        answered = True
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
                    # drain what is left
                    while True:
                        r, _, _ = select.select([fd], [], [], 0.1)
                        if not r:
                            break
                        try:
                            chunk = os.read(fd, 4096)
                        except OSError:
                            break
                        if not chunk:
                            break
                        out += chunk
                    break
        finally:
            if status is None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                _, status = os.waitpid(pid, 0)
            os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r\n", "\n")


def cluster(name, replicas, ns="default", **spec):
    spec = dict(spec, replicas=replicas)
    return json.dumps({"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
                       "metadata": {"name": name, "namespace": ns}, "spec": spec})


def publish_settled(bed, name, n, ns="default", leader=0):
    """The status a controller publishes once n members are healthy (for
    tests of the plugin without a controller)."""
    ec = bed.get("etcdclusters", name, ns=ns)
    gen = ec["metadata"]["generation"]
    members = [{"name": "%s-%d" % (name, k), "id": str(1000 + k), "healthy": True,
                "leader": k == leader, "dbSize": 20480, "raftIndex": 42} for k in range(n)]
    st, out = bed.patch("etcdclusters", name, {"status": {
        "phase": "Running", "observedGeneration": gen, "replicas": n, "readyReplicas": n,
        "learners": 0, "leader": "%s-%d" % (name, leader), "clusterID": "777", "members": members}},
        ns=ns, sub="status")
    if st != 200:
        raise AssertionError("status patch: %s %s" % (st, out))
    return out


def kubeconfig(path, clusters=(), users=(), contexts=(), current=None):
    doc = {"apiVersion": "v1", "kind": "Config", "clusters": list(clusters), "users": list(users),
           "contexts": list(contexts)}
    if current:
        doc["current-context"] = current
    with open(path, "w") as f:
        json.dump(doc, f)
    os.chmod(path, 0o600)
    return path
