"""kbed: the Kubernetes test bed on the real control plane — one command to
start it, one to stop it (scripts/bed is `python3 -m kbed` with PYTHONPATH).

  start --dir DIR [--build BUILD] [--manifests DIR] [--crd FILE]... [--die-with-parent PID]
        [--backoff-base SECONDS] [--nodes N] [--no-agent] [--timeout SECONDS]
      starts `serve` in the background (its own session), waits until the API
      serves, the node agent is ready and the CRDs are Established, prints
      DIR/kubeconfig (https://127.0.0.1:PORT, certificates embedded).
  stop --dir DIR                 stops it and every process it started
  run --dir DIR -- CMD…          runs CMD inside the bed's network namespace, in a
                                 private mount namespace with DIR/hosts over
                                 /etc/hosts, KUBECONFIG=DIR/kubeconfig-incluster
                                 (https://10.244.0.1:6443); CMD's exit status
  fault --dir DIR KIND [--key value]…   fault injection: `api --stop`, `api --start`,
                                 `api --down SECONDS` here; every other KIND goes to
                                 the node agent (key=value is accepted too)
  state --dir DIR                the debugging dump (JSON)
  serve --dir DIR …              the bed itself in the foreground (start runs this)

How it is put together (DESIGN §7): `serve` opens a listening socket on the
host's 127.0.0.1, moves itself into a new private network namespace
(netns.py), and there runs etcd, kube-apiserver, kube-controller-manager and
kube-scheduler (controlplane.py) and the node agent (kbed.agent, which runs
the Pods). A relay thread joins the host socket to 10.244.0.1:6443. The CLI
talks to `serve` through the Unix socket DIR/control.sock.

No orphans: `serve` is a session leader and lists every descendant it has
ever seen (pid + start time) in DIR/descendants; stopping — by `stop`,
SIGTERM, or the death of the --die-with-parent process — stops the Pods (the
agent), then the scheduler, controller manager, API server and etcd, then
kills whatever descendant is left; `stop` kills anything still alive from the
list (matching start times) even if `serve` had to be SIGKILLed.

Files in DIR: kubeconfig, kubeconfig-incluster, ca.crt, address (host
127.0.0.1:PORT), bed.pid, netns.pid, ready / failed / stopped, descendants,
control.sock, hosts, audit.log, pki/, store/ (the API server's etcd),
logs/{bed,etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.log.
"""
import json
import os
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTDIR)
NODE_BASE = 10          # bed-node-i is 10.244.0.(10+i)


def node_layout(n):
    names = ["bed-node-%d" % i for i in range(n)]
    return names, {name: "10.244.0.%d" % (NODE_BASE + i) for i, name in enumerate(names)}


def _write(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _stat(pid):
    from . import procs
    return procs.stat(pid)


def find_crd_files(manifests):
    """(file, doc) of every CustomResourceDefinition under manifests, recursively."""
    from . import yamlish
    out = []
    if not manifests:
        return out
    if not os.path.isdir(manifests):
        raise RuntimeError("--manifests %s is not a directory" % manifests)
    for dirpath, dirs, files in os.walk(manifests):
        dirs.sort()
        for fn in sorted(files):
            if fn.endswith((".yaml", ".yml")):
                p = os.path.join(dirpath, fn)
                try:
                    docs = yamlish.load_file(p)
                except (ValueError, OSError):
                    continue
                out += [(p, d) for d in docs if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
    return out


def crd_docs(files):
    from . import yamlish
    out = []
    for p in files:
        docs = [d for d in yamlish.load_file(p) if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"]
        if not docs:
            raise RuntimeError("--crd %s holds no CustomResourceDefinition" % p)
        out += [(p, d) for d in docs]
    return out


class Stopping(BaseException):
    """Raised by the signal handler while the bed starts (BaseException: no
    `except Exception` on the way may swallow it)."""
    pass


# ---- serve -----------------------------------------------------------------
class Serve:
    def __init__(self, a):
        import logging
        import threading
        self.a = a
        self.dir = os.path.abspath(a.dir)
        self.log = logging.getLogger("kbed")
        self.stop_event = threading.Event()
        self.cp = None
        self.agent = None
        self.agent_error = None
        self.relay = None
        self.address = None
        self.started = time.time()
        self.startup_seconds = None
        self.nodes, self.node_ips = node_layout(a.nodes)
        self.seen = {}

    # the descendants list, from the moment there can be any
    def track(self):
        from . import procs
        while not self.stop_event.wait(0.5):
            self.record_descendants(procs)

    def record_descendants(self, procs=None):
        if procs is None:
            from . import procs
        now = procs.descendants(os.getpid())
        if now.keys() - self.seen.keys():
            self.seen.update(now)
            _write(os.path.join(self.dir, "descendants"), "".join("%d %s\n" % kv for kv in sorted(self.seen.items())))

    def import_agent(self):
        if self.a.no_agent or os.environ.get("KBED_NO_AGENT"):
            self.agent_error = "the node agent is off (--no-agent): the bed serves the API only; Pods stay Pending"
            return None
        try:
            from . import agent
        except ModuleNotFoundError as e:
            if e.name in ("kbed.agent",):
                self.agent_error = "kbed.agent is not there: the bed serves the API only; Pods stay Pending"
                return None
            raise
        return agent

    def start(self):
        import threading
        from . import bins, controlplane, netns
        d = self.dir
        t0 = time.monotonic()
        timings = {}
        # before any thread: the host-side socket, then the namespace
        listener = netns.listen_host()
        netns.isolate(list(self.node_ips.values()))
        _write(os.path.join(d, "netns.pid"), "%d\n" % os.getpid())
        self.address = "%s:%d" % listener.getsockname()[:2]
        _write(os.path.join(d, "address"), self.address + "\n")
        threading.Thread(target=self.track, name="descendants", daemon=True).start()
        b = bins.find()
        self.log.info("binaries: kube %s (%s), store etcd %s (%s), etcd sets %s", b["kube_version"], b["kube_dir"],
                      b["store_etcd_version"], b["store_etcd"], sorted(b["etcd_bins"]))
        agentmod = self.import_agent()
        crds = crd_docs(self.a.crd or []) + find_crd_files(self.a.manifests)
        timings["netns"] = time.monotonic() - t0
        self.cp = cp = controlplane.ControlPlane(d, b, self.nodes, [self.node_ips[n] for n in self.nodes])
        cp.timings = timings
        cp.make_pki()
        timings["pki"] = time.monotonic() - t0
        cp.write_user_kubeconfigs(self.address)
        cp.start_processes(["etcd", "kube-apiserver"])
        self.record_descendants()
        self.relay = netns.Relay(listener, (controlplane.API_IP, controlplane.API_PORT), self.log).start()
        cp.relay = self.relay
        self.start_control()
        cp.wait_api_ready(timeout=self.a.timeout)
        timings["api"] = time.monotonic() - t0
        self.log.info("kube-apiserver ready after %.2fs", timings["api"])
        cp.start_processes(["kube-controller-manager", "kube-scheduler"])
        self.record_descendants()
        cp.ensure_defaults()

        # the CRDs and the controllers on a helper thread, while this one
        # starts the node agent (its Pods' processes are started by threads
        # of its own; this thread lives as long as the bed)
        side = {}

        def crds_and_controllers():
            try:
                if crds:
                    cp.load_crds(crds, timeout=self.a.timeout)
                    timings["crds"] = time.monotonic() - t0
                cp.wait_controllers(timeout=self.a.timeout)
                timings["controllers"] = time.monotonic() - t0
            except BaseException as e:
                side["error"] = e
        helper = threading.Thread(target=crds_and_controllers, name="start-crds", daemon=True)
        helper.start()
        if agentmod is not None:
            hosts = os.path.join(d, "hosts")
            if not os.path.exists(hosts):
                _write(hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
            c = cp.certs
            cfg = {"dir": d, "api": "https://%s:%d" % (controlplane.API_IP, controlplane.API_PORT),
                   "ca_file": c["ca"][0], "cert_file": c["agent"][0], "key_file": c["agent"][1],
                   "kubelet_cert_file": c["kubelet"][0], "kubelet_key_file": c["kubelet"][1],
                   "nodes": list(self.nodes), "node_ips": dict(self.node_ips),
                   "cluster_domain": controlplane.CLUSTER_DOMAIN, "hosts_path": hosts,
                   "build": os.path.abspath(self.a.build) if self.a.build else "",
                   "etcd_bins": dict(b["etcd_bins"])}
            if self.a.backoff_base is not None:
                cfg["backoff_base"] = float(self.a.backoff_base)
            self.agent = agentmod.start(cfg)
            timings["agent_started"] = time.monotonic() - t0
        helper.join()
        if "error" in side:
            raise side["error"]
        if self.agent is not None:
            left = max(5.0, self.a.timeout - (time.monotonic() - t0))
            if not self.agent.wait_ready(left):
                raise RuntimeError("the node agent was not ready in %.0fs (see logs/)" % left)
            timings["agent"] = time.monotonic() - t0
        self.startup_seconds = time.monotonic() - t0
        timings["total"] = self.startup_seconds
        self.log.info("start-up: %s", ", ".join("%s %.2fs" % kv for kv in timings.items()))

    # ---- the control channel (DIR/control.sock) ------------------------
    def start_control(self):
        import threading
        path = os.path.join(self.dir, "control.sock")
        _unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # relative to cwd (DIR): sun_path holds only 108 bytes
        old = os.getcwd()
        os.chdir(self.dir)
        try:
            s.bind("control.sock")
        finally:
            os.chdir(old)
        os.chmod(path, 0o600)
        s.listen(16)
        self.control = s
        threading.Thread(target=self._control_loop, name="control", daemon=True).start()

    def _control_loop(self):
        import threading
        while True:
            try:
                c, _ = self.control.accept()
            except OSError:
                return
            threading.Thread(target=self._control_one, args=(c,), name="control-conn", daemon=True).start()

    def _control_one(self, c):
        try:
            f = c.makefile("rwb")
            line = f.readline()
            try:
                req = json.loads(line)
                code, out = self.handle(req)
            except Exception as e:       # a request must never kill the bed
                self.log.exception("control request %r", line[:200])
                code, out = 500, {"error": "%s: %s" % (type(e).__name__, e)}
            f.write((json.dumps({"code": code, "body": out}) + "\n").encode())
            f.flush()
        except OSError:
            pass
        finally:
            c.close()

    def handle(self, req):
        op = req.get("op")
        if op == "state":
            return 200, self.state()
        if op == "stop":
            self.stop_event.set()
            return 200, {"stopping": True}
        if op == "fault":
            kind, params = req.get("kind"), req.get("params") or {}
            try:
                if kind == "api":
                    if self.cp is None:
                        raise LookupError("the control plane is not started")
                    return 200, self.cp.fault(params)
                if self.agent is None:
                    return 404, {"error": "fault %s: no node agent in this bed (%s)" % (kind, self.agent_error)}
                return 200, self.agent.fault(kind, params)
            except ValueError as e:
                return 400, {"error": str(e)}
            except LookupError as e:
                return 404, {"error": str(e).strip("'\"")}
        return 400, {"error": "unknown op %r" % op}

    def state(self):
        out = {"dir": self.dir, "pid": os.getpid(), "address": self.address,
               "kubeconfig": os.path.join(self.dir, "kubeconfig"), "startedAt": self.started,
               "startupSeconds": self.startup_seconds, "nodes": self.node_ips,
               "relay": None if self.relay is None else {"listening": self.relay.listening,
                                                         "connections": self.relay.connections,
                                                         "failed": self.relay.failed},
               "controlPlane": None if self.cp is None else self.cp.state(),
               "agent": None, "agentError": self.agent_error}
        if self.agent is not None:
            try:
                out["agent"] = self.agent.state()
            except Exception as e:
                out["agent"] = {"error": "%s: %s" % (type(e).__name__, e)}
        return out

    # ---- stop -----------------------------------------------------------
    def shutdown(self):
        from . import procs
        self.stop_event.set()
        if self.agent is not None:
            try:
                self.agent.stop(max_grace=self.a.grace)
            except Exception:
                self.log.exception("agent stop")
        if self.cp is not None:
            self.cp.stop()
        if self.relay is not None:
            self.relay.close()
        ctl = getattr(self, "control", None)
        if ctl is not None:
            ctl.close()
            _unlink(os.path.join(self.dir, "control.sock"))
        left = procs.descendants(os.getpid())
        if left:
            self.log.info("killing %d leftover descendant(s): %s", len(left), sorted(left))
            procs.kill_listed(left)


def cmd_serve(a):
    import logging
    from . import procs
    d = os.path.abspath(a.dir)
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    logging.basicConfig(filename=os.path.join(d, "logs", "bed.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    log = logging.getLogger("kbed")
    srv = Serve(a)
    starting = [True]

    def on_signal(*_):
        srv.stop_event.set()
        if starting[0]:
            starting[0] = False
            raise Stopping()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _write(os.path.join(d, "bed.pid"), "%d\n" % os.getpid())
    for f in ("ready", "failed", "stopped", "descendants", "netns.pid", "address"):
        _unlink(os.path.join(d, f))
    parent = a.die_with_parent
    parent_start = procs.start_time(parent) if parent else None
    try:
        srv.start()
        starting[0] = False
    except Stopping:
        log.info("stopped during start-up")
        srv.shutdown()
        _write(os.path.join(d, "failed"), "stopped during start-up\n")
        _write(os.path.join(d, "stopped"), "%d\n" % os.getpid())
        return 1
    except Exception as e:
        starting[0] = False
        log.exception("bed failed to start")
        _write(os.path.join(d, "failed"), "%s: %s\n" % (type(e).__name__, e))
        srv.shutdown()
        _write(os.path.join(d, "stopped"), "%d\n" % os.getpid())
        return 1
    log.info("serving on https://%s (start-up %.2fs)%s", srv.address, srv.startup_seconds,
             "" if srv.agent else "; " + (srv.agent_error or ""))
    _write(os.path.join(d, "ready"), json.dumps({
        "kubeconfig": os.path.join(d, "kubeconfig"), "address": srv.address,
        "startup_seconds": round(srv.startup_seconds, 3), "agent": srv.agent is not None,
        "agent_error": srv.agent_error, "pid": os.getpid()}) + "\n")
    while not srv.stop_event.wait(0.5):
        if parent and procs.start_time(parent) != parent_start:
            log.info("parent %d is gone: stopping", parent)
            break
        try:
            srv.cp.supervise()
        except Exception:
            log.exception("supervise")
    log.info("stopping")
    _unlink(os.path.join(d, "ready"))
    srv.shutdown()
    _write(os.path.join(d, "stopped"), "%d\n" % os.getpid())
    log.info("stopped")
    logging.shutdown()
    return 0


# ---- start / stop ----------------------------------------------------------
def spawn(d, build=None, manifests=None, crds=(), die_with_parent=0, grace=5.0, timeout=120.0,
          backoff_base=None, nodes=3, no_agent=False):
    """Start `serve` for DIR in its own session and wait until it is ready.
    Returns the ready info; raises RuntimeError saying why and where to look."""
    import subprocess
    d = os.path.abspath(d)
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    pid = bed_pid(d)
    if pid:
        raise RuntimeError("a bed (pid %d) is already running in %s; stop it first" % (pid, d))
    for f in ("ready", "failed", "stopped"):
        _unlink(os.path.join(d, f))
    args = [sys.executable, "-S", "-m", "kbed", "serve", "--dir", d, "--grace", str(grace),
            "--timeout", str(timeout), "--nodes", str(nodes)]
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
    if no_agent:
        args += ["--no-agent"]
    env = dict(os.environ)
    env["PYTHONPATH"] = TESTDIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.monotonic()
    with open(os.path.join(d, "logs", "bed.out"), "ab") as out:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                             close_fds=True, cwd=d, env=env)
    deadline = t0 + timeout + 10
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(d, "ready")):
            with open(os.path.join(d, "ready")) as f:
                info = json.load(f)
            info["spawn_seconds"] = time.monotonic() - t0
            info["popen"] = p          # for in-process callers; not part of the ready file
            return info
        if p.poll() is not None:
            break
        time.sleep(0.01)
    msg = ""
    if os.path.exists(os.path.join(d, "failed")):
        with open(os.path.join(d, "failed")) as f:
            msg = f.read().strip()
    if p.poll() is None:
        stop_dir(d, timeout=20)
        p.wait()
        msg = msg or "not ready within %.0fs" % timeout
    raise RuntimeError("kbed: failed to start: %s (see %s)" % (msg or "exited %s" % p.returncode,
                                                              os.path.join(d, "logs", "bed.log")))


def cmd_start(a):
    t0 = time.monotonic()
    try:
        info = spawn(a.dir, a.build, a.manifests, a.crd or [], a.die_with_parent, a.grace, a.timeout,
                     a.backoff_base, a.nodes, a.no_agent)
    except RuntimeError as e:
        sys.stderr.write("%s\n" % e)
        return 1
    print(info["kubeconfig"])
    sys.stderr.write("kbed: up in %.2fs on https://%s%s\n" % (
        time.monotonic() - t0, info["address"], "" if info.get("agent") else " (%s)" % info.get("agent_error")))
    return 0


def bed_pid(d):
    """The pid of DIR's running `serve`, or None."""
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
    if b"serve" in cmd and os.fsencode(d) in cmd:
        return pid
    return None


def stop_dir(d, timeout=30.0):
    """Stop DIR's bed; returns the pids killed from the list afterwards."""
    from . import procs
    d = os.path.abspath(d)
    pid = bed_pid(d)
    if pid:
        start = procs.start_time(pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and procs.start_time(pid) == start:
            time.sleep(0.02)
        if procs.start_time(pid) == start:
            sys.stderr.write("kbed: bed %d did not stop in %.0fs; killing its process group\n" % (pid, timeout))
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
    return procs.kill_listed(listed, grace=1.0) if listed else []


def cmd_stop(a):
    killed = stop_dir(a.dir, a.timeout)
    if killed:
        sys.stderr.write("kbed: killed leftover processes %s\n" % killed)
    return 0


# ---- run -------------------------------------------------------------------
def cmd_run(d, cmd):
    d = os.path.abspath(d)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        sys.stderr.write("kbed run: no command given (run --dir DIR -- CMD ...)\n")
        return 2
    pid = bed_pid(d)
    if pid is None:
        sys.stderr.write("kbed run: no bed is running in %s\n" % d)
        return 125
    from . import netns
    hosts = os.path.join(d, "hosts")
    try:
        netns.enter(pid, hosts if os.path.exists(hosts) else None)
    except OSError as e:
        sys.stderr.write("kbed run: entering the bed network: %s\n" % e)
        return 125
    os.environ["KUBECONFIG"] = os.path.join(d, "kubeconfig-incluster")
    os.environ.setdefault("KUBECACHEDIR", os.path.join(d, "kube-cache"))
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        sys.stderr.write("kbed run: %s: %s\n" % (cmd[0], e.strerror))
        return 127


# ---- the control channel, client side ------------------------------------
def control(d, req, timeout=120.0):
    """(code, body) from DIR's running serve."""
    d = os.path.abspath(d)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        s.connect("/proc/self/fd/%d/control.sock" % fd)      # any length of DIR
        s.sendall((json.dumps(req) + "\n").encode())
        f = s.makefile("rb")
        line = f.readline()
    finally:
        os.close(fd)
        s.close()
    if not line:
        raise OSError("the bed closed the control channel without an answer")
    r = json.loads(line)
    return r["code"], r["body"]


def parse_params(items):
    """[--key value | --flag | key=value ...] → {key: value} (values parsed as JSON when they can be)."""
    def val(v):
        try:
            return json.loads(v)
        except ValueError:
            return v
    out, i = {}, 0
    while i < len(items):
        it = items[i]
        if it.startswith("--"):
            k, eq, v = it[2:].partition("=")
            if eq:
                out[k] = val(v)
            elif i + 1 < len(items) and not items[i + 1].startswith("--"):
                out[k] = val(items[i + 1])
                i += 1
            else:
                out[k] = True
        elif "=" in it:
            k, v = it.split("=", 1)
            out[k] = val(v)
        else:
            raise SystemExit("kbed fault: expected --key value or key=value, got %r" % it)
        i += 1
    return out


def cmd_fault(a):
    try:
        code, out = control(a.dir, {"op": "fault", "kind": a.kind, "params": parse_params(a.params)})
    except OSError as e:
        sys.stderr.write("kbed fault: no bed answers in %s: %s\n" % (a.dir, e))
        return 2
    print(json.dumps(out, indent=2))
    return 0 if code == 200 else 1


def cmd_state(a):
    try:
        code, out = control(a.dir, {"op": "state"}, timeout=30)
    except OSError as e:
        sys.stderr.write("kbed state: no bed answers in %s: %s\n" % (a.dir, e))
        return 2
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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["run", "--dir"] and len(argv) >= 3:   # the hot path, without argparse
        return cmd_run(argv[2], argv[3:])
    import argparse
    ap = argparse.ArgumentParser(prog="bed", description="kbed, the Kubernetes test bed on the real control plane")
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("start", "serve"):
        p = sub.add_parser(name)
        p.add_argument("--dir", required=True)
        p.add_argument("--build", default=os.environ.get("EO_BUILD"))
        p.add_argument("--manifests", default=None, help="load the CRDs found here (default: none)")
        p.add_argument("--crd", action="append", help="also load the CRDs in this file")
        p.add_argument("--die-with-parent", type=int, default=0, metavar="PID")
        p.add_argument("--grace", type=float, default=5.0, help="max Pod termination grace on stop (s)")
        p.add_argument("--timeout", type=float, default=120.0, help="start-up limit (s)")
        p.add_argument("--backoff-base", type=_positive, default=None, metavar="SECONDS",
                       help="the kubelet's restart back-off base (default 10, as Kubernetes; doubles to 300)")
        p.add_argument("--nodes", type=int, default=3, help="number of Nodes (bed-node-0..N-1)")
        p.add_argument("--no-agent", action="store_true", help="the control plane alone (no Nodes, no Pods run)")
    p = sub.add_parser("stop")
    p.add_argument("--dir", required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p = sub.add_parser("run")
    p.add_argument("--dir", required=True)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = sub.add_parser("fault", help="KIND: api (--stop, --start, --down SECONDS) or a node agent fault")
    p.add_argument("--dir", required=True)
    p.add_argument("kind")
    p.add_argument("params", nargs=argparse.REMAINDER, help="--key value, --flag or key=value")
    p = sub.add_parser("state")
    p.add_argument("--dir", required=True)
    a = ap.parse_args(argv)
    if a.command == "run":
        return cmd_run(a.dir, a.cmd)
    if a.command in ("start", "serve") and not 1 <= a.nodes <= 200:
        ap.error("--nodes wants 1..200")
    return {"start": cmd_start, "serve": cmd_serve, "stop": cmd_stop, "fault": cmd_fault,
            "state": cmd_state}[a.command](a)
