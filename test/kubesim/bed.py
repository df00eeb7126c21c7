#!/usr/bin/env python3
"""kubesim: the Kubernetes test bed — one command to start it, one to stop it.

  bed.py start --dir DIR [--build BUILD] [--manifests DIR] [--crd FILE]... [--die-with-parent PID]
               [--backoff-base SECONDS]   (the kubelet's restart back-off base; 10 s as in Kubernetes)
      starts the bed in the background (its own session), waits until it
      serves, prints DIR/kubeconfig. Everything lives under DIR.
  bed.py stop --dir DIR          stops it and every process it started
  bed.py run --dir DIR -- CMD…   runs CMD "inside the cluster network": a private
                                 mount namespace with DIR/hosts over /etc/hosts,
                                 KUBECONFIG=DIR/kubeconfig
  bed.py fault --dir DIR KIND [--key value]…   fault injection (api, webhook,
                                 kill, image, dns, volume, clear, list)
  bed.py services --dir DIR --namespace NS --name SVC [--port 443] --target HOST:PORT
  bed.py state --dir DIR         the debugging dump
  bed.py serve --dir DIR …       the bed itself in the foreground (start runs this)

The idea that makes "no orphans" hold: the bed is a session leader and keeps
a list of every descendant it has ever seen (pid + start time, refreshed
every half second, in DIR/descendants). Stopping — by `stop`, SIGTERM, or
the death of the --die-with-parent process — stops the runtime (Pods get
SIGTERM, then SIGKILL), then kills whatever descendant is left; `stop` then
kills anything still alive from that list (matching start times, so a
reused pid is never touched), even if the bed itself had to be SIGKILLed.
"""
import json
import os
import signal
import sys
import time

# Everything else is imported where it is used: `bed.py run` starts before
# every in-cluster command and should cost little more than the interpreter.

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

ROOT = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.path.join(HERE, "testdata")


# ---- process bookkeeping (no orphans) -------------------------------------
def _stat(pid):
    """(ppid, starttime) of a live pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), fields[19]


def descendants(root):
    """{pid: starttime} of every live descendant of root."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                kids.setdefault(st[0], []).append((int(d), st[1]))
    out, stack = {}, [root]
    while stack:
        p = stack.pop()
        for c, start in kids.get(p, []):
            if c not in out:
                out[c] = start
                stack.append(c)
    return out


def kill_listed(procs, grace=2.0):
    """SIGTERM, wait up to grace, SIGKILL: only pids whose start time still matches."""
    alive = {p: s for p, s in procs.items() if (_stat(p) or (None, None))[1] == s}
    for p in alive:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = {p: s for p, s in alive.items() if (_stat(p) or (None, None))[1] == s}
        time.sleep(0.05)
    for p, s in alive.items():
        if (_stat(p) or (None, None))[1] == s:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    return sorted(alive)


# ---- the bed in-process ----------------------------------------------------
def load_gc():
    """gc.py by path: `import gc` would give Python's builtin gc module."""
    import importlib.util
    mod = sys.modules.get("kubesim_gc")
    if mod is None:
        spec = importlib.util.spec_from_file_location("kubesim_gc", os.path.join(HERE, "gc.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["kubesim_gc"] = mod
    return mod


def find_crd_files(manifests):
    """CRD documents under a manifests dir (recursively), else the test copy."""
    import yamlish
    out = []
    if manifests and os.path.isdir(manifests):
        for dirpath, _, files in sorted(os.walk(manifests)):
            for fn in sorted(files):
                if fn.endswith((".yaml", ".yml")):
                    p = os.path.join(dirpath, fn)
                    try:
                        docs = yamlish.load_file(p)
                    except (ValueError, OSError):
                        continue
                    if any(isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition" for d in docs):
                        out.append(p)
    if manifests and not out:
        out.append(os.path.join(TESTDATA, "etcdcluster-crd.yaml"))
    return out


class Bed:
    """All the bed's parts in this process (used by `serve`, and by tests in-process)."""

    def __init__(self, directory, build=None, manifests=None, crd_files=(), history=10000, runtime_enabled=True,
                 backoff_base=None):
        import admission as adm
        import apiserver
        import crd as crdmod
        import discovery
        import pki
        import registry
        import logging
        import secrets
        import store as st
        import threading
        self.dir = os.path.abspath(directory)
        self.log = logging.getLogger("kubesim.bed")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        t0 = time.monotonic()
        self.ca = pki.make_ca(self.dir)
        leaf = threading.Thread(target=lambda: setattr(self, "admin", pki.make_cert(
            self.dir, "admin", self.ca, "kubesim-admin", orgs=["system:masters"], client=True)))
        leaf.start()
        self.serving = pki.make_cert(self.dir, "apiserver", self.ca, "kube-apiserver",
                                     dns=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                          "kubernetes.default.svc.cluster.local"], ips=["127.0.0.1"], server=True)
        leaf.join()
        if getattr(self, "admin", None) is None:
            raise RuntimeError("could not make the admin client certificate (see the log)")
        t_pki = time.monotonic()
        self.token = secrets.token_urlsafe(32)
        _write(os.path.join(self.dir, "token"), self.token, 0o600)
        self.store = st.Store(history=history)
        self.cat = discovery.Catalogue()
        self.admission = adm.Admission(self.store, self.cat)
        self.crds = crdmod.CRDs(self.store, self.cat)
        self.reg = registry.Registry(self.store, self.cat, self.admission, self.crds)
        self.api = apiserver.APIServer(self.store, self.cat, self.reg, self.admission, self.crds, self.token,
                                       self.serving[0], self.serving[1], self.ca[0],
                                       logs_dir=os.path.join(self.dir, "logs"))
        ctx = registry.Ctx()
        self.gc = load_gc().GC(self.store, self.cat).start()
        self.store.subscribe(self._namespace_defaults)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.reg.create(self.cat.by_key("namespaces"), None,
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, ctx)
        self.crd_files = list(crd_files) + find_crd_files(manifests)
        self._load_crds(self.crd_files, ctx)
        hosts = os.path.join(self.dir, "hosts")
        if not os.path.exists(hosts):
            _write(hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        self.api.start()
        self.address = self.api.address
        t_api = time.monotonic()
        self.runtime = None
        self.runtime_error = None
        if runtime_enabled:
            self._start_runtime(build, backoff_base)
        self.write_kubeconfigs()
        self.startup_seconds = time.monotonic() - t0
        self.log.info("start-up: certificates %.3fs, API %.3fs, runtime %.3fs", t_pki - t0, t_api - t_pki,
                      time.monotonic() - t_api)

    def _namespace_defaults(self, etype, key, obj):
        """The service-account and root-CA publisher controllers: every
        namespace gets ServiceAccount "default" and ConfigMap kube-root-ca.crt."""
        if key != "namespaces" or etype != "ADDED":
            return
        import store as st
        ns = obj["metadata"]["name"]
        with open(self.ca[0]) as f:
            ca = f.read()
        for k, o in (("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": "default", "namespace": ns}}),
                     ("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "kube-root-ca.crt", "namespace": ns},
                                     "data": {"ca.crt": ca}})):
            try:
                self.store.create(k, o)
            except st.AlreadyExists:
                pass

    def _load_crds(self, files, ctx):
        import apierrors
        import yamlish
        res = self.cat.by_key("customresourcedefinitions.apiextensions.k8s.io")
        for p in files:
            for d in yamlish.load_file(p):
                if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition":
                    try:
                        self.reg.create(res, None, d, ctx)
                        self.log.info("CRD %s loaded from %s", d["metadata"]["name"], p)
                    except apierrors.APIError as e:
                        raise RuntimeError("CRD in %s refused: %s" % (p, e.message)) from None

    def _start_runtime(self, build, backoff_base=None):
        try:
            import runtime
        except ImportError as e:
            self.runtime_error = "runtime.py not importable (%s): the bed serves the API only; no Pods run" % e
            self.log.warning("%s", self.runtime_error)
            return
        from rtutil import claim_block
        block, self._block_claim = claim_block()     # held until the bed stops
        host, port = self.address.rsplit(":", 1)
        cfg = {"dir": self.dir, "build": os.path.abspath(build) if build else "", "ip_block": block,
               "cluster_domain": "cluster.local", "hosts_path": os.path.join(self.dir, "hosts"),
               "logs_dir": os.path.join(self.dir, "logs"), "api_host": host, "api_port": int(port),
               "token": self.token, "ca_file": self.ca[0],
               "extra_hosts": [(host, n) for n in ("kubernetes.default.svc.cluster.local", "kubernetes.default.svc",
                                                   "kubernetes.default", "kubernetes")]}
        if backoff_base is not None:
            cfg["backoff_base"] = float(backoff_base)
        self.runtime = runtime.start(self.store, cfg)
        self.api.runtime = self.runtime
        self.ip_block = block
        self.log.info("runtime started (Pod IPs in %s.0.0/16)", block)

    def write_kubeconfigs(self):
        import base64
        with open(self.ca[0], "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        server = "https://%s" % self.address

        def kc(user):
            return {"apiVersion": "v1", "kind": "Config", "current-context": "kubesim",
                    "clusters": [{"name": "kubesim", "cluster": {"server": server, "certificate-authority-data": ca}}],
                    "contexts": [{"name": "kubesim", "context": {"cluster": "kubesim", "user": "admin", "namespace": "default"}}],
                    "users": [{"name": "admin", "user": user}], "preferences": {}}
        _write(os.path.join(self.dir, "kubeconfig"), json.dumps(kc({"token": self.token}), indent=2), 0o600)
        _write(os.path.join(self.dir, "kubeconfig-cert"), json.dumps(kc({
            "client-certificate": self.admin[0], "client-key": self.admin[1]}), indent=2), 0o600)
        _write(os.path.join(self.dir, "address"), self.address + "\n")

    def stop(self, max_grace=5.0):
        if self.runtime is not None:
            try:
                self.runtime.stop(max_grace)
            except Exception:
                self.log.exception("runtime stop")
        self.api.stop()
        self.gc.stop()
        self.store.close()
        if getattr(self, "_block_claim", None) is not None:
            self._block_claim.close()


def _write(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- serve -----------------------------------------------------------------
def cmd_serve(a):
    import logging
    import threading
    d = os.path.abspath(a.dir)
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    logging.basicConfig(filename=os.path.join(d, "logs", "bed.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    access = logging.getLogger("kubesim.access")
    access.propagate = False
    ah = logging.FileHandler(os.path.join(d, "logs", "apiserver.log"))
    ah.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access.addHandler(ah)
    access.setLevel(logging.INFO)
    log = logging.getLogger("kubesim.bed")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _write(os.path.join(d, "bed.pid"), "%d\n" % os.getpid())
    for f in ("ready", "stopped"):
        try:
            os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass
    try:
        bed = Bed(d, build=a.build, manifests=a.manifests, crd_files=a.crd or [], history=a.history,
                  backoff_base=a.backoff_base)
    except Exception as e:
        log.exception("bed failed to start")
        _write(os.path.join(d, "failed"), "%s: %s\n" % (type(e).__name__, e))
        return 1
    log.info("serving on https://%s (start-up %.3fs)", bed.address, bed.startup_seconds)
    if bed.runtime_error:
        log.warning("%s", bed.runtime_error)
    _write(os.path.join(d, "ready"), json.dumps({"kubeconfig": os.path.join(d, "kubeconfig"), "address": bed.address,
                                                 "startup_seconds": round(bed.startup_seconds, 3),
                                                 "runtime": bed.runtime is not None,
                                                 "runtime_error": bed.runtime_error}) + "\n")
    parent = a.die_with_parent
    parent_start = (_stat(parent) or (None, None))[1] if parent else None
    seen = {}
    while not stop.wait(0.5):
        if parent and (_stat(parent) or (None, None))[1] != parent_start:
            log.info("parent %d is gone: stopping", parent)
            break
        now = descendants(os.getpid())
        if now.keys() - seen.keys():
            seen.update(now)
            _write(os.path.join(d, "descendants"), "".join("%d %s\n" % kv for kv in sorted(seen.items())))
    log.info("stopping")
    bed.stop(max_grace=a.grace)
    left = descendants(os.getpid())
    if left:
        log.info("killing %d leftover descendant(s): %s", len(left), sorted(left))
        kill_listed(left)
    _write(os.path.join(d, "stopped"), "%d\n" % os.getpid())
    logging.shutdown()
    return 0


# ---- start / stop ----------------------------------------------------------
def spawn(d, build=None, manifests=None, crds=(), die_with_parent=0, history=10000, grace=5.0, timeout=30.0,
          backoff_base=None):
    """Start `serve` for DIR in its own session and wait until it is ready.
    Returns the ready info (kubeconfig, address, startup_seconds, runtime...);
    raises RuntimeError with the reason and where to look when it fails.
    The interpreter runs with -S: the bed needs nothing outside the standard
    library, and skipping site-packages saves a good part of its start-up."""
    import subprocess
    d = os.path.abspath(d)
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    for f in ("ready", "failed", "stopped"):
        try:
            os.unlink(os.path.join(d, f))
        except FileNotFoundError:
            pass
    args = [sys.executable, "-S", os.path.abspath(__file__), "serve", "--dir", d, "--history", str(history),
            "--grace", str(grace)]
    if build:
        args += ["--build", os.path.abspath(build)]
    if manifests:
        args += ["--manifests", os.path.abspath(manifests)]
    for c in crds or []:
        args += ["--crd", os.path.abspath(c)]
    if die_with_parent:
        args += ["--die-with-parent", str(die_with_parent)]
    if backoff_base is not None:
        args += ["--backoff-base", str(float(backoff_base))]
    t0 = time.monotonic()
    with open(os.path.join(d, "logs", "bed.out"), "ab") as out:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                             close_fds=True, cwd=d)
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(d, "ready")):
            with open(os.path.join(d, "ready")) as f:
                info = json.load(f)
            info["spawn_seconds"] = time.monotonic() - t0
            info["pid"] = p.pid
            info["popen"] = p          # for in-process callers; not part of the ready file
            return info
        if p.poll() is not None:
            break
        time.sleep(0.005)
    msg = ""
    if os.path.exists(os.path.join(d, "failed")):
        with open(os.path.join(d, "failed")) as f:
            msg = f.read().strip()
    if p.poll() is None:
        p.kill()
        p.wait()
        msg = msg or "not ready within %.0fs" % timeout
    raise RuntimeError("kubesim: failed to start: %s (see %s)" % (msg or "exited %s" % p.returncode,
                                                                 os.path.join(d, "logs", "bed.log")))


def cmd_start(a):
    t0 = time.monotonic()
    try:
        info = spawn(a.dir, a.build, a.manifests, a.crd or [], a.die_with_parent, a.history, a.grace, a.timeout,
                     a.backoff_base)
    except RuntimeError as e:
        sys.stderr.write("%s\n" % e)
        return 1
    print(info["kubeconfig"])
    sys.stderr.write("kubesim: up in %.2fs on https://%s%s\n" % (
        time.monotonic() - t0, info["address"], "" if info.get("runtime") else " (API only: %s)" % info.get("runtime_error")))
    return 0


def _bed_pid(d):
    try:
        with open(os.path.join(d, "bed.pid")) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().split(b"\0")
    except OSError:
        return None
    if b"serve" in cmd and d.encode() in cmd:
        return pid
    return None


def cmd_stop(a):
    d = os.path.abspath(a.dir)
    pid = _bed_pid(d)
    if pid:
        start = (_stat(pid) or (None, None))[1]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + a.timeout
        while time.monotonic() < deadline and (_stat(pid) or (None, None))[1] == start:
            time.sleep(0.02)
        if (_stat(pid) or (None, None))[1] == start:
            sys.stderr.write("kubesim: bed %d did not stop in %.0fs; killing its process group\n" % (pid, a.timeout))
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
    listed = {}
    try:
        with open(os.path.join(d, "descendants")) as f:
            for line in f:
                p, s = line.split()
                listed[int(p)] = s
    except OSError:
        pass
    killed = kill_listed(listed, grace=1.0) if listed else []
    if killed:
        sys.stderr.write("kubesim: killed leftover processes %s\n" % killed)
    return 0


# ---- run -------------------------------------------------------------------
def cmd_run(a):
    d = os.path.abspath(a.dir)
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        sys.stderr.write("kubesim run: no command given (bed.py run --dir DIR -- CMD ...)\n")
        return 2
    hosts = os.path.join(d, "hosts")
    if not os.path.exists(hosts):
        sys.stderr.write("kubesim run: %s does not exist; is the bed started?\n" % hosts)
        return 2
    os.environ["KUBECONFIG"] = os.path.join(d, "kubeconfig")
    os.environ.setdefault("KUBECACHEDIR", os.path.join(d, "kube-cache"))
    import sandbox
    try:
        sandbox.enter_cluster_network(hosts)   # also where the machine has no /etc/hosts
    except (sandbox.SandboxError, OSError) as e:
        sys.stderr.write("kubesim run: entering the cluster network: %s\n" % e)
        return 125
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        sys.stderr.write("kubesim run: %s: %s\n" % (cmd[0], e.strerror))
        return 127


# ---- admin client ----------------------------------------------------------
def admin(d, method, path, body=None, timeout=30):
    import ssl
    import urllib.error
    import urllib.request
    d = os.path.abspath(d)
    with open(os.path.join(d, "address")) as f:
        address = f.read().strip()
    with open(os.path.join(d, "token")) as f:
        token = f.read().strip()
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
    req = urllib.request.Request("https://%s%s" % (address, path), method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        data = e.read()
        try:
            return e.code, json.loads(data)
        except ValueError:
            return e.code, {"message": data.decode(errors="replace")}


def _kv(items):
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit("kubesim fault: expected key=value, got %r" % it)
        k, v = it.split("=", 1)
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def cmd_fault(a):
    if a.kind == "list":
        code, out = admin(a.dir, "GET", "/_bed/faults")
    elif a.kind == "clear":
        code, out = admin(a.dir, "DELETE", "/_bed/faults")
    else:
        code, out = admin(a.dir, "POST", "/_bed/faults/" + a.kind, _kv(a.params))
    print(json.dumps(out, indent=2))
    return 0 if code == 200 else 1


def cmd_services(a):
    code, out = admin(a.dir, "POST", "/_bed/services", {"namespace": a.namespace, "name": a.name,
                                                        "port": a.port, "target": a.target})
    print(json.dumps(out, indent=2))
    return 0 if code == 200 else 1


def cmd_state(a):
    code, out = admin(a.dir, "GET", "/_bed/state")
    print(json.dumps(out, indent=2))
    return 0 if code == 200 else 1


def _positive(v):
    import argparse
    try:
        f = float(v)
    except ValueError:
        f = -1
    if not f > 0:
        raise argparse.ArgumentTypeError("want a number of seconds > 0, got %r" % v)
    return f


class _RunArgs:
    def __init__(self, d, cmd):
        self.dir, self.cmd = d, cmd


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["run", "--dir"] and len(argv) >= 3:   # the hot path, without argparse
        return cmd_run(_RunArgs(argv[2], argv[3:]))
    import argparse
    ap = argparse.ArgumentParser(prog="bed.py", description="kubesim, the Kubernetes test bed")
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("start", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--dir", required=True)
        p.add_argument("--build", default=os.environ.get("EO_BUILD"))
        p.add_argument("--manifests", default=None, help="load the CRDs found here (default: none)")
        p.add_argument("--crd", action="append", help="also load the CRDs in this file")
        p.add_argument("--die-with-parent", type=int, default=0, metavar="PID")
        p.add_argument("--history", type=int, default=10000, help="watch history kept (events)")
        p.add_argument("--grace", type=float, default=5.0, help="max Pod termination grace on stop (s)")
        p.add_argument("--timeout", type=float, default=30.0)
        p.add_argument("--backoff-base", type=_positive, default=None, metavar="SECONDS",
                       help="the kubelet's restart back-off base (default 10, as Kubernetes; doubles to 300)")
    p = sub.add_parser("stop")
    p.add_argument("--dir", required=True)
    p.add_argument("--timeout", type=float, default=20.0)
    p = sub.add_parser("run")
    p.add_argument("--dir", required=True)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = sub.add_parser("fault", help="KIND is api, webhook, kill, image, dns, volume, list or clear")
    p.add_argument("--dir", required=True)
    p.add_argument("kind")
    p.add_argument("params", nargs="*", help="key=value (values parsed as JSON when they can be)")
    p = sub.add_parser("services")
    p.add_argument("--dir", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--target", required=True)
    p = sub.add_parser("state")
    p.add_argument("--dir", required=True)
    a = ap.parse_args(argv)
    return {"start": cmd_start, "serve": cmd_serve, "stop": cmd_stop, "run": cmd_run, "fault": cmd_fault,
            "services": cmd_services, "state": cmd_state}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
