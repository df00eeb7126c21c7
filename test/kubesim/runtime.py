"""The runtime half of the bed, wired together: StatefulSet controller,
kubelet, PVC provisioner, Endpoints + DNS + ClusterIP proxy, and runtime
fault injection. bed.py calls `start(store, config)` and gets a handle with
`stop()`, `fault(kind, params)` and `state()`.

The one idea: every component is level-triggered and keeps its own queue; the
store's single subscriber callback only routes events into those queues (it
never does work on the store's dispatcher thread), and every component also
resyncs from a full list now and then, so a missed or reordered event delays
a change by at most a second instead of losing it.

config (dict): dir (state dir), build (BUILD dir with the project's
binaries), ip_block ("127.N": Pods get 127.N.0-127.x.y, Services
127.N.128-254.x.y), cluster_domain, hosts_path, logs_dir; optional:
backoff_base (s, default 10), backoff_max (default 300), api_host + api_port +
token + ca_file (then Pods get KUBERNETES_SERVICE_* and a service-account
token at /var/run/secrets/kubernetes.io/serviceaccount), extra_hosts
([(ip, name)] lines for the hosts file).

Faults (fault(kind, params); ValueError for bad params, LookupError when the
target does not exist):
  kill   {"namespace", "pod", "container" (default: the first), "signal" (default "KILL")}
  image  {"image", "fail": true|false}   new starts of that image fail with ErrImagePull
  dns    {"name", "holdSeconds"}         the name is absent from the hosts file meanwhile
  volume {"namespace", "claim"}          the claim's directory is emptied (a lost volume)
"""
import logging
import os
import queue
import signal
import threading

import container as ctr
import dns
import kubelet as kl
import proxy as px
import statefulset
import volumes as vols
from rtutil import IPAllocator

log = logging.getLogger("kubesim.runtime")


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._images = set()

    def set_image(self, image, fail):
        with self._lock:
            (self._images.add if fail else self._images.discard)(image)

    def image_failing(self, image):
        with self._lock:
            return image in self._images

    def images(self):
        with self._lock:
            return sorted(self._images)


def _signal(v):
    if v is None or v == "":
        return signal.SIGKILL
    if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
        return signal.Signals(int(v))
    name = str(v).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return signal.Signals[name]
    except KeyError:
        raise ValueError("unknown signal %r (use e.g. KILL, TERM, INT, 9)" % v) from None


class Runtime:
    def __init__(self, store, config):
        cfg = dict(config)
        if not cfg.get("dir") or not cfg.get("ip_block"):
            raise ValueError("runtime config needs dir and ip_block")
        cfg.setdefault("cluster_domain", "cluster.local")
        cfg.setdefault("hosts_path", os.path.join(cfg["dir"], "hosts"))
        cfg.setdefault("logs_dir", os.path.join(cfg["dir"], "logs"))
        cfg.setdefault("backoff_base", 10.0)
        cfg.setdefault("backoff_max", 300.0)
        os.makedirs(cfg["logs_dir"], exist_ok=True)
        os.makedirs(os.path.join(cfg["dir"], "pods"), exist_ok=True)
        self.store, self.cfg = store, cfg
        self.ips = IPAllocator(cfg["ip_block"])
        self.faults = Faults()
        self.spawner = ctr.Spawner()
        self.proxy = px.Proxy()
        self.volumes = vols.Volumes(store, cfg["dir"], lambda: self.kubelet.in_use())
        self.kubelet = kl.Kubelet(store, cfg, self.ips, self.volumes, self.faults, self.spawner)
        self.net = dns.ServiceNetwork(store, cfg, self.ips, self.proxy)
        self.sts = statefulset.StatefulSetController(store)
        self.sts.lingering = self.kubelet.lingering
        self._pvc_q = queue.Queue()
        self._stopped = False
        self._pvc_t = threading.Thread(target=self._pvc_loop, name="pvc-provisioner", daemon=True)

    def start(self):
        for key in ("persistentvolumeclaims", "pods"):
            for o in self.store.list(key)[0]:
                self._route("ADDED", key, o)
        self.store.subscribe(self._route)
        self._pvc_t.start()
        self.net.start()
        self.kubelet.start()
        self.sts.start()
        return self

    def _route(self, etype, key, obj):
        if self._stopped:
            return
        if key == "pods":
            self.kubelet.on_event(etype, obj)
            self.sts.on_event(etype, key, obj)
            self.net.on_event(etype, key, obj)
        elif key == statefulset.KEY:
            self.sts.on_event(etype, key, obj)
        elif key in ("services", "endpoints"):
            self.net.on_event(etype, key, obj)
        elif key == "persistentvolumeclaims":
            self._pvc_q.put((etype, obj))

    def _pvc_loop(self):
        while True:
            item = self._pvc_q.get()
            if item is None:
                return
            try:
                self.volumes.on_pvc(*item)
            except Exception:
                log.exception("pvc provisioner")

    # ---- faults ----------------------------------------------------------
    def fault(self, kind, params):
        params = params or {}
        if kind == "kill":
            ns, pod = params.get("namespace") or "default", params.get("pod")
            if not pod:
                raise ValueError("kill fault needs pod (and optionally namespace, container, signal)")
            sig = _signal(params.get("signal"))
            w = self.kubelet.find(ns, pod)
            cs = [c for c in w.mains + w.inits if not params.get("container") or c.name == params["container"]]
            if not cs:
                raise LookupError('pod "%s" has no container "%s"' % (pod, params.get("container")))
            c = cs[0]
            proc = c.proc
            if proc is None:
                raise LookupError('container "%s" of pod "%s" is not running' % (c.name, pod))
            ctr.killpg(proc.pid, sig)
            w.wake.set()
            return {"pod": pod, "namespace": ns, "container": c.name, "pid": proc.pid, "signal": sig.name}
        if kind == "image":
            image = params.get("image")
            if not image:
                raise ValueError("image fault needs image and fail (true to fail, false to clear)")
            fail = params.get("fail", True)
            if isinstance(fail, str):
                fail = fail.lower() not in ("false", "0", "no", "off", "")
            self.faults.set_image(image, bool(fail))
            return {"image": image, "fail": bool(fail)}
        if kind == "dns":
            name, secs = params.get("name"), params.get("holdSeconds")
            try:
                secs = float(secs)
            except (TypeError, ValueError):
                raise ValueError("dns fault needs name and holdSeconds (a number)") from None
            self.net.hold(name, secs)
            return {"name": name, "holdSeconds": secs}
        if kind == "volume":
            ns, claim = params.get("namespace") or "default", params.get("claim")
            if not claim:
                raise ValueError("volume fault needs claim (and optionally namespace)")
            return {"namespace": ns, "claim": claim, "path": self.volumes.wipe(ns, claim)}
        raise ValueError("unknown runtime fault %r (kill, image, dns, volume)" % kind)

    def state(self):
        pods = []
        with self.kubelet._lock:
            ws = list(self.kubelet.workers.values())
        for w in ws:
            pods.append({"namespace": w.ns, "name": w.name, "uid": w.uid, "ip": w.ip, "done": w.done.is_set(),
                         "containers": {c.name: (c.proc.pid if c.proc else None) for c in w.inits + w.mains}})
        return {"pods": pods, "failingImages": self.faults.images(), "hosts": self.cfg["hosts_path"]}

    def stop(self, max_grace=None):
        """Stop everything: no more controller actions, every Pod process
        terminated (SIGTERM, SIGKILL after its grace period, capped by max_grace)."""
        if self._stopped:
            return
        self._stopped = True
        self.sts.stop()
        self.kubelet.stop(max_grace)
        self.net.stop()
        self.proxy.stop()
        self._pvc_q.put(None)


def start(store, config):
    """Start the runtime on `store`; returns the handle (stop, fault, state)."""
    return Runtime(store, config).start()
