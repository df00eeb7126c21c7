"""The bed's Nodes, as kubelet registers and heartbeats them.

The one idea: a Node is only as alive as its heartbeats. Each node gets a
Node object (Ready, with capacity, addresses and the kubelet endpoint) and a
Lease in kube-node-lease renewed every few seconds; kube-controller-manager's
node lifecycle controller then does the rest, exactly as in a cluster. A
stopped node (a fault) stops renewing, so the control plane sees it go
NotReady and taints it on its own.
"""
import logging
import threading
import time

from .rtutil import now_rfc3339

log = logging.getLogger("kbed.nodes")

LEASE_SECONDS = 40
RENEW_EVERY = 2.0
STATUS_EVERY = 10.0


def _now_micro():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%06dZ" % (int(time.time() * 1e6) % 1000000)


def node_object(name, ip, version, zone):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name,
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "topology.kubernetes.io/zone": zone,
                                    "node.kubernetes.io/instance-type": "kbed"}},
            "spec": {}}


def node_status(ip, name, version, ready):
    now = now_rfc3339()
    cond = [("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID"),
            ("Ready", "True" if ready else "False", "KubeletReady" if ready else "KubeletNotReady")]
    res = {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {"capacity": res, "allocatable": res,
            "conditions": [{"type": t, "status": s, "reason": r, "message": "kbed node agent",
                            "lastHeartbeatTime": now, "lastTransitionTime": now} for t, s, r in cond],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": name, "systemUUID": name, "bootID": name, "kernelVersion": "kbed",
                         "osImage": "kbed node agent", "containerRuntimeVersion": "kbed://1.0",
                         "kubeletVersion": version, "kubeProxyVersion": version,
                         "operatingSystem": "linux", "architecture": "amd64"}}


class Nodes(threading.Thread):
    def __init__(self, store, names, ips, version):
        super().__init__(name="nodes", daemon=True)
        self.store, self.names, self.ips, self.version = store, list(names), dict(ips), version
        self.stopped = set()
        self.closing = False
        self.registered = threading.Event()
        self._lock = threading.Lock()

    def register(self):
        for i, n in enumerate(self.names):
            try:
                self.store.create("nodes", node_object(n, self.ips[n], self.version, "zone-%d" % i))
            except Exception as e:
                if getattr(e, "code", 0) != 409:
                    raise
            self._status(n, True)
            self._lease(n)
        self.registered.set()

    def _status(self, n, ready):
        st = node_status(self.ips[n], n, self.version, ready)

        def fn(o):
            prev = {c["type"]: c for c in (o.get("status") or {}).get("conditions") or []}
            for c in st["conditions"]:
                p = prev.get(c["type"])
                if p is not None and p.get("status") == c["status"]:
                    c["lastTransitionTime"] = p.get("lastTransitionTime", c["lastTransitionTime"])
            o["status"] = dict(o.get("status") or {}, **st)
        self.store.mutate("nodes", None, n, fn, subresource="status")

    def _lease(self, n):
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": n, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": n, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": _now_micro()}}
        try:
            def fn(o):
                o["spec"]["renewTime"] = _now_micro()
                o["spec"]["holderIdentity"] = n
            self.store.mutate("leases", "kube-node-lease", n, fn)
        except Exception as e:
            if getattr(e, "code", 0) != 404:
                raise
            self.store.create("leases", body)

    def stop_node(self, n):
        with self._lock:
            self.stopped.add(n)

    def start_node(self, n):
        with self._lock:
            self.stopped.discard(n)

    def run(self):
        last_status = time.monotonic()
        while not self.closing:
            time.sleep(RENEW_EVERY)
            with self._lock:
                live = [n for n in self.names if n not in self.stopped]
            status_due = time.monotonic() - last_status > STATUS_EVERY
            if status_due:
                last_status = time.monotonic()
            for n in live:
                try:
                    self._lease(n)
                    if status_due:
                        self._status(n, True)
                except Exception as e:   # the API server may be down (a fault): try again later
                    log.debug("heartbeat %s: %s", n, e)
