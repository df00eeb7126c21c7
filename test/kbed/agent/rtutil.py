"""Small helpers the node agent's parts share: timestamps, owner references,
the per-node Pod address allocator and Kubernetes Events.

Pod addresses are 10.244.<node>.x inside the bed's own network namespace,
where 10.244.0.0/16 is routed to `lo` as local (AnyIP): any of them can be
bound without configuring an interface, and none is reachable from outside.
"""
import datetime
import logging
import threading
import uuid

log = logging.getLogger("kbed.agent")



def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def controller_ref(obj):
    """The ownerReference with controller: true, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_ref(owner, kind, api_version):
    md = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": md["name"], "uid": md["uid"],
            "controller": True, "blockOwnerDeletion": True}


def is_ready(pod):
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def is_terminating(obj):
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


class IPAllocator:
    """Next-fit allocator over one node's /24 (A.B.C.2 .. A.B.C.254).

    A released address is reused only after the range wraps, so a recreated
    Pod gets a new address as it would in a cluster (an old process still
    draining on its old address never collides with its successor)."""

    def __init__(self, prefix):
        parts = prefix.split(".")
        if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise ValueError("pod prefix %r: want A.B.C (a /24)" % prefix)
        self.prefix = prefix
        self._lock = threading.Lock()
        self._used = set()
        self._next = 0

    def allocate(self):
        with self._lock:
            for step in range(253):
                i = (self._next + step) % 253
                ip = "%s.%d" % (self.prefix, 2 + i)
                if ip not in self._used:
                    self._used.add(ip)
                    self._next = (i + 1) % 253
                    return ip
        raise RuntimeError("no free Pod address left in %s.0/24" % self.prefix)

    def release(self, ip):
        with self._lock:
            self._used.discard(ip)


class Recorder:
    """Writes core/v1 Events as kubelet and controllers do; repeats of the same
    (object, reason, message) bump count and lastTimestamp instead of adding."""

    def __init__(self, store, component, host=""):
        self.store, self.component, self.host = store, component, host
        self._lock = threading.Lock()
        self._seen = {}

    def event(self, obj, etype, reason, message):
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or "default"
        key = (ns, md.get("uid"), reason, message)
        now = now_rfc3339()
        with self._lock:
            name = self._seen.get(key)
            if name is None:
                name = "%s.%s" % (md.get("name"), uuid.uuid4().hex[:16])
                self._seen[key] = name
                if len(self._seen) > 5000:
                    self._seen.clear()
                fresh = True
            else:
                fresh = False
        try:
            if not fresh:
                def bump(ev):
                    ev["count"] = ev.get("count", 1) + 1
                    ev["lastTimestamp"] = now
                self.store.mutate("events", ns, name, bump)
                return
        except Exception:   # expired or deleted: write a new one
            pass
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": {"kind": obj.get("kind") or "Pod", "apiVersion": obj.get("apiVersion") or "v1",
                                 "namespace": ns, "name": md.get("name"), "uid": md.get("uid"),
                                 "resourceVersion": md.get("resourceVersion")},
              "reason": reason, "message": message, "type": etype,
              "source": {"component": self.component, "host": self.host},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1,
              "reportingComponent": self.component, "reportingInstance": self.host}
        try:
            self.store.create("events", ev)
        except Exception as e:   # events are best effort, as in Kubernetes
            log.debug("event %s/%s not written: %s", ns, name, e)
