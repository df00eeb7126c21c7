"""The bed's node agent: what needs a container runtime, and nothing else.

kube-apiserver, kube-controller-manager and kube-scheduler are the real ones;
this agent plays the part a kubelet, a container runtime, a CSI provisioner,
CoreDNS and kube-proxy play on real nodes, against the real API server:
- registers the bed's Nodes and keeps their Leases and status (nodes.py);
- runs every Pod bound to one of them as real processes inside its image's
  root file system (pulled from a local OCI store: images.py), with probes,
  restarts, graceful deletion and the Pod's user and fsGroup (kubelet.py,
  container.py, sandbox.py, probes.py, podspec.py);
- provisions a directory PersistentVolume for each claim (volumes.py);
- keeps cluster DNS (a hosts file) and a ClusterIP proxy from the real
  EndpointSlices (network.py, proxy.py).

`start(cfg)` returns the handle the bed drives: stop(), fault(), state(),
wait_ready(). cfg keys: dir, api, ca_file, cert_file, key_file, nodes,
node_ips, cluster_domain, hosts_path, build, etcd_bins, backoff_base,
kube_version, image_store (default BUILD/kbed-images: the OCI store Pods'
images come from, filled from BUILD's `make image` and etcd_bins).

Faults (fault(kind, params); ValueError for bad params, LookupError when the
target does not exist):
  kill   {"namespace", "pod", "container" (default: the first), "signal" (default "KILL")}
  image  {"image", "fail": true|false}   new starts of that image fail with ErrImagePull
  dns    {"name", "holdSeconds"}         the name is absent from the hosts file meanwhile
  volume {"namespace", "claim"}          the claim's directory is emptied (a lost volume)
  node   {"name", "action": "stop"|"start"}  a node's Pods are killed and its heartbeats stop
"""
import logging
import os
import queue
import signal
import threading

from . import container as ctr
from . import kubelet as kl
from . import kubeletapi
from . import network
from . import images
from . import podnet
from . import proxy as px
from . import volumes as vols
from .nodes import Nodes
from .remote import Client, RemoteStore

log = logging.getLogger("kbed.agent")

WATCHED = ("pods", "services", "endpointslices", "persistentvolumeclaims", "persistentvolumes")


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


class Agent:
    def __init__(self, cfg):
        cfg = dict(cfg)
        cfg.setdefault("cluster_domain", "cluster.local")
        cfg.setdefault("hosts_path", os.path.join(cfg["dir"], "hosts"))
        cfg.setdefault("logs_dir", os.path.join(cfg["dir"], "logs", "pods"))
        cfg.setdefault("backoff_base", 10.0)
        cfg.setdefault("backoff_max", 300.0)
        cfg.setdefault("nodes", ["bed-node-0", "bed-node-1", "bed-node-2"])
        cfg.setdefault("node_ips", {n: "10.244.0.%d" % (10 + i) for i, n in enumerate(cfg["nodes"])})
        cfg.setdefault("pod_prefixes", {n: "10.244.%d" % (1 + i) for i, n in enumerate(cfg["nodes"])})
        os.chmod(cfg["dir"], 0o755)   # container users traverse it to their volumes
        os.makedirs(cfg["logs_dir"], exist_ok=True)
        agent_dir = os.path.join(cfg["dir"], "agent")
        os.makedirs(os.path.join(agent_dir, "pods"), exist_ok=True)
        os.chmod(agent_dir, 0o755)
        cfg["dir_agent"] = agent_dir
        # the images Pods run (images.py): filled once, reused by later beds
        cfg.setdefault("image_store", os.path.join(cfg["build"], "kbed-images") if cfg.get("build")
                       else os.path.join(cfg["dir"], "images"))
        self.images = images.Store(cfg["image_store"])
        refs = self.images.fill(cfg.get("build"), cfg.get("etcd_bins"), log)
        log.info("image store %s: %s", cfg["image_store"], ", ".join(sorted(refs)) or "(empty)")
        self.cfg = cfg
        client = Client(cfg["api"], cfg["ca_file"], cfg["cert_file"], cfg["key_file"])
        self.store = RemoteStore(client)
        self.faults = Faults()
        self.spawner = ctr.Spawner()
        self.proxy = px.Proxy()
        self.volumes = vols.Volumes(self.store, agent_dir, lambda: self.kubelet.in_use())
        kcfg = dict(cfg, dir=agent_dir)
        self.kubelet = kl.Kubelet(self.store, kcfg, self.volumes, self.faults, self.spawner)
        self.kubelet.images = self.images
        self.net = network.ServiceNetwork(self.store, cfg, self.proxy)
        self.nodes = Nodes(self.store, cfg["nodes"], cfg["node_ips"], cfg.get("kube_version", "v1.37.2"))
        self._pv_q = queue.Queue()
        self._stopped = False
        self.kubelet_api = None
        self._pv_t = threading.Thread(target=self._pv_loop, name="provisioner", daemon=True)

    def start(self):
        podnet.setup_host(list(self.cfg["node_ips"].values()))
        self.store.subscribe(self._route)
        self.store.watch(*WATCHED)
        self.nodes.register()
        self.nodes.start()
        self.volumes.ensure_class()
        self.store.wait_synced(30)
        self._pv_t.start()
        self.net.start()
        self.kubelet.start()
        if self.cfg.get("kubelet_cert_file"):
            self.kubelet_api = kubeletapi.KubeletAPI(
                list(self.cfg["node_ips"].values()), self.cfg["kubelet_cert_file"], self.cfg["kubelet_key_file"],
                self.cfg["logs_dir"], self._running).start()
        return self

    def _running(self, ns, pod):
        try:
            self.kubelet.find(ns, pod)
            return True
        except LookupError:
            return False

    def wait_ready(self, timeout=30):
        return self.nodes.registered.wait(timeout) and self.store.wait_synced(timeout)

    def _route(self, etype, key, obj):
        if self._stopped:
            return
        if key == "pods":
            self.kubelet.on_event(etype, obj)
        elif key in ("services", "endpointslices"):
            self.net.on_event(etype, key, obj)
        elif key in ("persistentvolumeclaims", "persistentvolumes"):
            self._pv_q.put((etype, key, obj))

    def _pv_loop(self):
        while True:
            item = self._pv_q.get()
            if item is None:
                return
            etype, key, obj = item
            try:
                (self.volumes.on_pvc if key == "persistentvolumeclaims" else self.volumes.on_pv)(etype, obj)
            except Exception:
                log.exception("provisioner")

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
        if kind == "node":
            name, action = params.get("name"), (params.get("action") or "stop")
            if name not in self.cfg["nodes"]:
                raise LookupError("no node %r (the bed has %s)" % (name, ", ".join(self.cfg["nodes"])))
            if action == "stop":
                self.nodes.stop_node(name)
                killed = self.kubelet.stop_node(name)
                return {"node": name, "action": "stop", "podsKilled": killed}
            if action == "start":
                self.nodes.start_node(name)
                self.kubelet.start_node(name)
                return {"node": name, "action": "start"}
            raise ValueError("node fault action is stop or start, not %r" % action)
        raise ValueError("unknown runtime fault %r (kill, image, dns, volume, node)" % kind)

    def state(self):
        pods = []
        with self.kubelet._lock:
            ws = list(self.kubelet.workers.values())
        for w in ws:
            pods.append({"namespace": w.ns, "name": w.name, "uid": w.uid, "node": w.node, "ip": w.ip,
                         "done": w.done.is_set(),
                         "containers": {c.name: (c.proc.pid if c.proc else None) for c in w.inits + w.mains}})
        return {"pods": pods, "failingImages": self.faults.images(), "hosts": self.cfg["hosts_path"],
                "nodes": self.cfg["node_ips"], "stoppedNodes": sorted(self.nodes.stopped)}

    def stop(self, max_grace=None):
        """Every Pod process terminated (SIGTERM, SIGKILL after its grace period, capped by max_grace)."""
        if self._stopped:
            return
        self._stopped = True
        self.nodes.closing = True
        self.kubelet.stop(max_grace)
        self.kubelet.podnet.stop()
        if self.kubelet_api is not None:
            self.kubelet_api.stop()
        self.net.stop()
        self.proxy.stop()
        self._pv_q.put(None)
        self.store.close()


def start(cfg):
    """Start the agent; returns the handle (stop, fault, state, wait_ready)."""
    return Agent(cfg).start()
