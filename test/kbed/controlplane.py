"""The real control plane of the bed: etcd (the API server's store),
kube-apiserver, kube-controller-manager and kube-scheduler, as child
processes of `serve`, all inside the bed's network namespace.

Addresses (inside the namespace, so fixed):
  etcd store        http://127.0.0.1:12379 (peer 12380), data in DIR/store
  kube-apiserver    0.0.0.0:6443, advertised as 10.244.0.1
  controller-mgr    127.0.0.1:10257 (healthz)
  scheduler         127.0.0.1:10259 (healthz)
The host reaches the API server through the relay on 127.0.0.1:PORT.
"""
import base64
import json
import logging
import os
import shutil
import ssl
import threading
import time
import urllib.request

from . import kclient, pki, procs

API_IP = "10.244.0.1"
API_PORT = 6443
STORE_CLIENT = "http://127.0.0.1:12379"
STORE_PEER = "http://127.0.0.1:12380"
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
SA_ISSUER = "https://kubernetes.default.svc." + CLUSTER_DOMAIN
KCM_PORT = 10257
SCHED_PORT = 10259

AUDIT_POLICY = """\
# Every request at Metadata level (who, verb, resource, response code):
# a later test derives the RBAC the operator really uses from this log.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
"""

log = logging.getLogger("kbed.controlplane")


def write_file(path, text, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def kubeconfig(server, ca_file, cert_file, key_file, user, embed=False, namespace="default"):
    def data(p):
        with open(p, "rb") as f:
            return base64.b64encode(f.read()).decode()
    cluster = {"server": server}
    u = {}
    if embed:
        cluster["certificate-authority-data"] = data(ca_file)
        u = {"client-certificate-data": data(cert_file), "client-key-data": data(key_file)}
    else:
        cluster["certificate-authority"] = ca_file
        u = {"client-certificate": cert_file, "client-key": key_file}
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "kbed", "preferences": {},
        "clusters": [{"name": "kbed", "cluster": cluster}],
        "contexts": [{"name": "kbed", "context": {"cluster": "kbed", "user": user, "namespace": namespace}}],
        "users": [{"name": user, "user": u}]}, indent=2) + "\n"


class ControlPlane:
    def __init__(self, directory, bins, node_names, node_ips):
        self.dir = directory
        self.bins = bins
        self.pki_dir = os.path.join(directory, "pki")
        self.logs = os.path.join(directory, "logs")
        self.node_names, self.node_ips = list(node_names), list(node_ips)
        self.certs = None
        self.components = {}
        self.timings = {}
        self.api_lock = threading.Lock()
        self.api_fault = None            # {"mode": "stopped"|"down", "until": ...}
        self._down_timer = None
        self.relay = None                # netns.Relay: closed while the API server is stopped

    # ---- set-up -------------------------------------------------------
    def make_pki(self):
        for d in (self.pki_dir, os.path.join(self.dir, "store")):
            shutil.rmtree(d, ignore_errors=True)
        try:
            os.unlink(os.path.join(self.dir, "audit.log"))     # this bed's requests only
        except FileNotFoundError:
            pass
        self.certs = pki.make_all(self.pki_dir, self.node_ips, self.node_names)
        shutil.copyfile(self.certs["ca"][0], os.path.join(self.dir, "ca.crt"))
        c = self.certs
        inside = "https://%s:%d" % (API_IP, API_PORT)
        for name, user in (("controller-manager", "system:kube-controller-manager"),
                           ("scheduler", "system:kube-scheduler"), ("admin", "kubernetes-admin"),
                           ("agent", "kbed-agent")):
            write_file(os.path.join(self.pki_dir, name + ".kubeconfig"),
                       kubeconfig(inside, c["ca"][0], c[name][0], c[name][1], user), 0o600)
        write_file(os.path.join(self.pki_dir, "audit-policy.yaml"), AUDIT_POLICY)

    def write_user_kubeconfigs(self, host_address):
        c = self.certs
        write_file(os.path.join(self.dir, "kubeconfig"),
                   kubeconfig("https://" + host_address, c["ca"][0], c["admin"][0], c["admin"][1],
                              "kubernetes-admin", embed=True), 0o600)
        write_file(os.path.join(self.dir, "kubeconfig-incluster"),
                   kubeconfig("https://%s:%d" % (API_IP, API_PORT), c["ca"][0], c["admin"][0], c["admin"][1],
                              "kubernetes-admin", embed=True), 0o600)

    def _argv(self):
        c, p, kd = self.certs, self.pki_dir, self.bins["kube_dir"]
        etcd = [self.bins["store_etcd"], "--name=store", "--data-dir=" + os.path.join(self.dir, "store"),
                "--listen-client-urls=" + STORE_CLIENT, "--advertise-client-urls=" + STORE_CLIENT,
                "--listen-peer-urls=" + STORE_PEER, "--initial-advertise-peer-urls=" + STORE_PEER,
                "--initial-cluster=store=" + STORE_PEER, "--initial-cluster-state=new",
                "--unsafe-no-fsync=true", "--log-level=warn", "--quota-backend-bytes=4294967296"]
        apiserver = [os.path.join(kd, "kube-apiserver"),
                     "--etcd-servers=" + STORE_CLIENT,
                     "--advertise-address=" + API_IP, "--bind-address=0.0.0.0", "--secure-port=%d" % API_PORT,
                     "--tls-cert-file=" + c["apiserver"][0], "--tls-private-key-file=" + c["apiserver"][1],
                     "--cert-dir=" + os.path.join(p, "apiserver-generated"),
                     "--client-ca-file=" + c["ca"][0],
                     "--authorization-mode=RBAC",
                     "--service-cluster-ip-range=" + SERVICE_CIDR,
                     "--service-account-issuer=" + SA_ISSUER,
                     "--service-account-key-file=" + c["sa"][1],
                     "--service-account-signing-key-file=" + c["sa"][0],
                     "--kubelet-client-certificate=" + c["apiserver-kubelet-client"][0],
                     "--kubelet-client-key=" + c["apiserver-kubelet-client"][1],
                     "--kubelet-certificate-authority=" + c["ca"][0],
                     "--kubelet-preferred-address-types=InternalIP,Hostname",
                     "--enable-aggregator-routing=true",
                     "--allow-privileged=true",
                     "--audit-log-path=" + os.path.join(self.dir, "audit.log"),
                     "--audit-policy-file=" + os.path.join(p, "audit-policy.yaml"),
                     "--audit-log-maxsize=0",
                     "--profiling=false",
                     "--shutdown-delay-duration=0s"]
        kcm = [os.path.join(kd, "kube-controller-manager"),
               "--kubeconfig=" + os.path.join(p, "controller-manager.kubeconfig"),
               "--authentication-kubeconfig=" + os.path.join(p, "controller-manager.kubeconfig"),
               "--authorization-kubeconfig=" + os.path.join(p, "controller-manager.kubeconfig"),
               "--bind-address=127.0.0.1", "--secure-port=%d" % KCM_PORT,
               "--controllers=*",
               "--use-service-account-credentials=true",
               "--service-account-private-key-file=" + c["sa"][0],
               "--root-ca-file=" + c["ca"][0],
               "--cluster-signing-cert-file=" + c["ca"][0], "--cluster-signing-key-file=" + c["ca"][1],
               "--service-cluster-ip-range=" + SERVICE_CIDR,
               "--leader-elect=false",
               # a node whose agent stops heartbeating is NotReady within
               # grace + period (~17 s)
               "--node-monitor-period=2s", "--node-monitor-grace-period=15s",
               "--profiling=false"]
        sched = [os.path.join(kd, "kube-scheduler"),
                 "--kubeconfig=" + os.path.join(p, "scheduler.kubeconfig"),
                 "--authentication-kubeconfig=" + os.path.join(p, "scheduler.kubeconfig"),
                 "--authorization-kubeconfig=" + os.path.join(p, "scheduler.kubeconfig"),
                 "--bind-address=127.0.0.1", "--secure-port=%d" % SCHED_PORT,
                 "--leader-elect=false", "--profiling=false"]
        return [("etcd", etcd), ("kube-apiserver", apiserver), ("kube-controller-manager", kcm),
                ("kube-scheduler", sched)]

    def start_processes(self, names):
        """Start these components (the API server waits for its store by
        itself; the controller manager and scheduler are started once the
        API server is ready: before its RBAC bootstrap is done they are
        refused and exit)."""
        argvs = dict(self._argv())
        for name in names:
            comp = procs.Component(name, argvs[name], self.logs, cwd=self.dir)
            self.components[name] = comp
            comp.start()
            log.info("%s started (pid %d)", name, comp.pid)

    def supervise(self):
        """Called every half second once the bed is up: a component that died
        by itself is logged and started again (kube-apiserver not while the
        api fault holds it down). The restarts show in state()."""
        for name, comp in self.components.items():
            if comp.proc is None or comp.proc.poll() is None:
                continue
            if name == "kube-apiserver":
                with self.api_lock:
                    if self.api_fault is not None or comp.running():
                        continue
                    log.error("kube-apiserver exited by itself (status %s): starting it again",
                              comp.proc.returncode)
                    comp.start()
                continue
            log.error("%s exited by itself (status %s): starting it again (see %s)", name, comp.proc.returncode,
                      comp.log_path)
            comp.start()

    # ---- clients and readiness -----------------------------------------
    def client(self, timeout=10.0):
        c = self.certs
        return kclient.Client(API_IP, API_PORT, c["ca"][0], c["admin"][0], c["admin"][1], timeout=timeout)

    def _check_alive(self, *names):
        for n in names:
            comp = self.components.get(n)
            if comp is not None and comp.proc is not None and comp.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s during start-up (see %s)"
                                   % (n, comp.proc.returncode, comp.log_path))

    def wait_api_ready(self, timeout=60.0, check=("etcd", "kube-apiserver")):
        cl = self.client(timeout=2.0)
        deadline = time.monotonic() + timeout
        last = None
        try:
            while time.monotonic() < deadline:
                self._check_alive(*check)
                try:
                    code, body = cl.raw("GET", "/readyz")
                    if code == 200:
                        return True
                    last = "readyz %d: %s" % (code, body[-300:].decode(errors="replace"))
                except (OSError, Exception) as e:     # refused while it starts
                    last = str(e)
                    cl.close()
                time.sleep(0.05)
        finally:
            cl.close()
        raise RuntimeError("kube-apiserver not ready in %.0fs: %s" % (timeout, last))

    @staticmethod
    def _healthz(port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen("https://127.0.0.1:%d/healthz" % port, context=ctx, timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def ensure_defaults(self):
        """Namespace default's ServiceAccount "default" and ConfigMap
        kube-root-ca.crt, as the controller manager's serviceaccount and
        root-ca-cert-publisher controllers make them (it starts ~40
        controllers one by one, each with its own ServiceAccount, and reaches
        those only seconds later): so a Pod can be created in namespace
        default as soon as `start` returns. Made as the controllers would;
        they adopt (and correct) them."""
        cl = self.client()
        with open(self.certs["ca"][0]) as f:
            ca = f.read()
        try:
            for path, obj in (
                    ("/api/v1/namespaces/default/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": {"name": "default", "namespace": "default"}}),
                    ("/api/v1/namespaces/default/configmaps",
                     {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "kube-root-ca.crt", "namespace": "default"},
                      "data": {"ca.crt": ca}})):
                code, data = cl.raw("POST", path, obj)
                if code not in (201, 409):
                    raise RuntimeError("creating %s: HTTP %d %s" % (path, code, data[:300].decode(errors="replace")))
        finally:
            cl.close()

    def wait_controllers(self, timeout=60.0):
        """The controller manager and scheduler serve /healthz, and namespace
        default has its ServiceAccount (so Pods can be created at once)."""
        deadline = time.monotonic() + timeout
        pending = {"kube-controller-manager": KCM_PORT, "kube-scheduler": SCHED_PORT}
        cl = self.client(timeout=2.0)
        sa = False
        try:
            while time.monotonic() < deadline:
                self._check_alive("kube-controller-manager", "kube-scheduler")
                for n, port in list(pending.items()):
                    if self._healthz(port):
                        del pending[n]
                if not sa:
                    try:
                        sa = cl.raw("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200
                    except Exception:
                        cl.close()
                if not pending and sa:
                    return True
                time.sleep(0.05)
        finally:
            cl.close()
        raise RuntimeError("not up in %.0fs: %s" % (timeout, ", ".join(
            list(pending) + ([] if sa else ["ServiceAccount default/default"]))))

    # ---- CRDs ---------------------------------------------------------
    def load_crds(self, docs, timeout=30.0):
        """Create (or replace) the CRDs in docs [(file, obj)] and wait until Established."""
        cl = self.client()
        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        names = []
        try:
            for src, d in docs:
                name = d["metadata"]["name"]
                code, data = cl.raw("POST", base, d)
                if code == 409:
                    cur = cl.get(base + "/" + name)
                    d = dict(d, metadata=dict(d["metadata"], resourceVersion=cur["metadata"]["resourceVersion"]))
                    code, data = cl.raw("PUT", base + "/" + name, d)
                if code not in (200, 201):
                    raise RuntimeError("CRD %s from %s refused: HTTP %d %s" % (
                        name, src, code, data[:500].decode(errors="replace")))
                names.append(name)
                log.info("CRD %s created from %s", name, src)
            deadline = time.monotonic() + timeout
            for name in names:
                while True:
                    obj = cl.get(base + "/" + name)
                    conds = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
                    if conds.get("Established") == "True":
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("CRD %s not Established in %.0fs: %s" % (name, timeout, conds))
                    time.sleep(0.02)
        finally:
            cl.close()
        return names

    # ---- the api fault --------------------------------------------------
    def api_stop(self):
        with self.api_lock:
            if self._down_timer is not None:
                self._down_timer.cancel()
                self._down_timer = None
            # SIGTERM, then SIGKILL after 2 s: with watches open its graceful
            # shutdown otherwise drags on for many seconds
            if self.relay is not None:
                self.relay.pause()
            self.components["kube-apiserver"].stop(grace=2.0)
            self.api_fault = {"mode": "stopped", "since": time.time()}
        log.info("fault: kube-apiserver stopped")

    def api_start(self, wait=True):
        with self.api_lock:
            if self._down_timer is not None:
                self._down_timer.cancel()
                self._down_timer = None
            comp = self.components["kube-apiserver"]
            comp.start()
            self.api_fault = None
        log.info("fault: kube-apiserver started again (pid %d)", comp.pid)
        if self.relay is not None:
            self._wait_port(comp)
            self.relay.resume()
        if wait:
            t0 = time.monotonic()
            self.wait_api_ready(timeout=60.0, check=("kube-apiserver",))
            log.info("fault: kube-apiserver ready again in %.2fs", time.monotonic() - t0)

    @staticmethod
    def _wait_port(comp, timeout=60.0):
        """Until the API server accepts connections (then the host port opens again)."""
        import socket
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and comp.running():
            try:
                socket.create_connection((API_IP, API_PORT), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def api_down(self, seconds):
        self.api_stop()
        until = time.time() + seconds

        def back():
            try:
                self.api_start(wait=True)
            except Exception:
                log.exception("fault: starting kube-apiserver again")
        with self.api_lock:
            self.api_fault = {"mode": "down", "since": time.time(), "until": until}
            self._down_timer = threading.Timer(seconds, back)
            self._down_timer.daemon = True
            self._down_timer.start()
        return until

    def fault(self, params):
        """fault api: {"stop": true} | {"start": true} | {"down": SECONDS}."""
        if params.get("stop"):
            self.api_stop()
            return {"api": "stopped"}
        if params.get("start"):
            self.api_start(wait=bool(params.get("wait", True)))
            return {"api": "running", "pid": self.components["kube-apiserver"].pid}
        if params.get("down") is not None:
            try:
                seconds = float(params["down"])
            except (TypeError, ValueError):
                raise ValueError("api --down wants seconds, got %r" % params["down"]) from None
            if not seconds > 0:
                raise ValueError("api --down wants seconds > 0")
            until = self.api_down(seconds)
            return {"api": "down", "seconds": seconds, "until": until}
        raise ValueError("fault api wants --stop, --start or --down SECONDS")

    # ---- stop -----------------------------------------------------------
    def stop(self, grace=5.0):
        with self.api_lock:
            if self._down_timer is not None:
                self._down_timer.cancel()
                self._down_timer = None
        for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            comp = self.components.get(name)
            if comp is not None:
                rc = comp.stop(grace)
                log.info("%s stopped (status %s)", name, rc)

    def state(self):
        return {"components": {n: c.state() for n, c in self.components.items()},
                "apiFault": self.api_fault, "timings": self.timings,
                "binaries": {"kube": self.bins.get("kube_dir"), "kubeVersion": self.bins.get("kube_version"),
                             "storeEtcd": self.bins.get("store_etcd"),
                             "storeEtcdVersion": self.bins.get("store_etcd_version")}}
