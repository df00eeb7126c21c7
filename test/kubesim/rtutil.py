"""Small helpers the runtime half of the bed shares: timestamps, owner
references, the Pod/Service address allocator and Kubernetes Events.

The one idea: every address the bed hands out comes from one allocator over
the bed's own /16 of loopback (127.A.B.C, A random per bed), split into a
Pod range and a Service range, and handed out next-fit so a recreated Pod gets
a new address as it would in a cluster (an old process still draining on its
old address never collides with its successor). Linux routes all of
127.0.0.0/8 to `lo`, so any of these addresses can be bound without
configuring an interface.
"""
import datetime
import errno
import logging
import random
import socket
import threading
import uuid

log = logging.getLogger("kubesim.runtime")

NODE_NAME = "kubesim-node"
HOST_IP = "127.0.0.1"


BLOCK_SENTINEL_PORT = 32767   # on 127.N.255.254, which no Pod or Service ever gets


def claim_block(first=32, last=250):
    """("127.N", socket): a /16 of loopback no other bed on this machine is using.

    Beds choose their block at random, and several engineers' tests run at
    once: two beds on one block would put two Pods on one address (one etcd
    answering for another bed's cluster). So a bed binds 127.N.255.254 on a
    fixed port and holds that socket while it lives; a bind that fails means
    another bed (in any process or chroot sharing the network) owns the block.
    The kernel frees the address when the holder dies, however it dies."""
    blocks = list(range(first, last + 1))
    random.shuffle(blocks)
    for n in blocks:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.%d.255.254" % n, BLOCK_SENTINEL_PORT))
        except OSError as e:
            s.close()
            if e.errno == errno.EADDRINUSE:
                continue
            raise
        return "127.%d" % n, s
    raise RuntimeError("every loopback block 127.%d-127.%d is held by another test bed" % (first, last))


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
    """Next-fit allocator over 127.<block>.X.Y.

    Pods get X in 0..127, Services X in 128..254 (Y in 1..254). A released
    address is reused only after the range wraps."""

    def __init__(self, block):
        parts = block.split(".")
        if len(parts) != 2 or parts[0] != "127" or not parts[1].isdigit() or not 1 <= int(parts[1]) <= 254:
            raise ValueError("ip_block %r: want \"127.N\" with N in 1..254 (a loopback /16 of its own)" % block)
        self.block = block
        self._lock = threading.Lock()
        self._used = set()
        self._next = {"pod": 0, "service": 0}
        self._ranges = {"pod": (0, 128), "service": (128, 255)}

    def _addr(self, kind, i):
        lo, _ = self._ranges[kind]
        return "%s.%d.%d" % (self.block, lo + i // 254, 1 + i % 254)

    def allocate(self, kind):
        lo, hi = self._ranges[kind]
        size = (hi - lo) * 254
        with self._lock:
            for step in range(size):
                i = (self._next[kind] + step) % size
                ip = self._addr(kind, i)
                if ip not in self._used:
                    self._used.add(ip)
                    self._next[kind] = (i + 1) % size
                    return ip
        raise RuntimeError("no free %s address left in %s.0.0/16" % (kind, self.block))

    def claim(self, ip):
        """Mark an address taken (one already in an object); False if it is outside the block."""
        if not ip.startswith(self.block + "."):
            return False
        with self._lock:
            self._used.add(ip)
        return True

    def release(self, ip):
        with self._lock:
            self._used.discard(ip)


class Recorder:
    """Writes core/v1 Events as kubelet and controllers do; repeats of the same
    (object, reason, message) bump count and lastTimestamp instead of adding."""

    def __init__(self, store, component):
        self.store, self.component = store, component
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
              "involvedObject": {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                                 "namespace": ns, "name": md.get("name"), "uid": md.get("uid"),
                                 "resourceVersion": md.get("resourceVersion")},
              "reason": reason, "message": message, "type": etype,
              "source": {"component": self.component, "host": NODE_NAME},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1,
              "reportingComponent": self.component, "reportingInstance": NODE_NAME}
        try:
            self.store.create("events", ev)
        except Exception as e:   # events are best effort, as in Kubernetes
            log.debug("event %s/%s not written: %s", ns, name, e)
