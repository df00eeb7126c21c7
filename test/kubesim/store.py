"""The bed's object store: what etcd plus the registry layer are for kube-apiserver.

Every object lives under (resource key, namespace, name). One lock guards the
whole store and one counter gives every committed change the next
resourceVersion, across all kinds, exactly as etcd's revision does; that single
idea is what makes watches resumable, conflicts detectable and event order
total. Each commit is appended to a bounded history, so a watch can replay
from any resourceVersion still in it and answers Gone for one that is not.

Delivery never happens under the store lock's callers' feet: watches get their
events pushed into their own queues inside the commit (so order is commit
order), and subscribers are called from one dispatcher thread, outside the
lock, in commit order.

Objects go in and come out as deep copies; nobody shares a dict with the
store. The store knows only storage semantics (uid, resourceVersion,
generation, finalizers + deletionTimestamp, subresources); HTTP, admission,
validation and garbage collection sit above it.

Resource keys: "plural" for core/v1, "plural.group" otherwise (see KUBESIM.md).
Cluster-scoped objects use namespace "" (None is accepted and means the same).
"""
import collections
import datetime
import logging
import queue
import threading
import uuid

import labels as sel

log = logging.getLogger("kubesim.store")


class StoreError(Exception):
    """Base class; .key/.ns/.name say which object."""

    def __init__(self, msg, key=None, ns=None, name=None):
        super().__init__(msg)
        self.key, self.ns, self.name = key, ns or "", name


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    pass


class Invalid(StoreError):
    """Storage-level refusal (e.g. a missing name); .causes lists field errors."""

    def __init__(self, msg, key=None, ns=None, name=None, causes=None):
        super().__init__(msg, key, ns, name)
        self.causes = causes or []


class Gone(StoreError):
    """A watch asked for a resourceVersion older than the kept history."""

    def __init__(self, msg, requested=0, oldest=0):
        super().__init__(msg)
        self.requested, self.oldest = requested, oldest


def now_rfc3339(plus_seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=plus_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shift(ts, seconds):
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return now_rfc3339()
    return (t + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_grace(pod, requested=None):
    """The grace period kube-apiserver gives a Pod DELETE (CheckGracefulDelete):
    DeleteOptions.gracePeriodSeconds, else spec.terminationGracePeriodSeconds,
    else 30; 0 for a Pod never scheduled or already Succeeded/Failed (nothing
    runs that needs stopping); a negative request means 1."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    g = requested if requested is not None else spec.get("terminationGracePeriodSeconds")
    g = 30 if g is None else int(g)
    if g < 0:
        g = 1
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    return g


def copy(o):
    """Deep copy of JSON-shaped data (dict/list/scalars); faster than copy.deepcopy."""
    if isinstance(o, dict):
        return {k: copy(v) for k, v in o.items()}
    if isinstance(o, list):
        return [copy(v) for v in o]
    return o


# Kinds whose objects kube-apiserver does not give a metadata.generation.
NO_GENERATION = {
    "pods", "services", "endpoints", "events", "secrets", "configmaps",
    "serviceaccounts", "namespaces", "persistentvolumeclaims",
    "leases.coordination.k8s.io", "events.events.k8s.io",
}
CLUSTER_SCOPED = {
    "namespaces", "customresourcedefinitions.apiextensions.k8s.io",
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    "persistentvolumes", "nodes", "storageclasses.storage.k8s.io",
}


def _rv_int(rv, what="resourceVersion"):
    try:
        return int(rv)
    except (TypeError, ValueError):
        raise Invalid("%s %r is not a valid resource version" % (what, rv)) from None


class Watch:
    """A stream of (type, obj) for one key; created by Store.watch."""

    def __init__(self, store, key, ns, label_reqs, field_reqs):
        self._store, self.key, self.ns = store, key, ns or ""
        self._labels, self._fields = label_reqs, field_reqs
        self._q = queue.Queue()
        self.closed = False

    def _visible(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata") or {}
        if self.ns and md.get("namespace", "") != self.ns:
            return False
        return sel.matches(self._labels, md.get("labels")) and sel.fields_match(self._fields, obj)

    def _offer(self, etype, obj, old):
        """Called inside the commit. A change that moves an object into or out
        of the selector becomes ADDED / DELETED for this watcher, as in
        kube-apiserver's watch cache."""
        now_in, was_in = self._visible(obj), self._visible(old)
        if etype == "ADDED":
            if now_in:
                self._q.put(("ADDED", obj))
        elif etype == "DELETED":
            if was_in or now_in:
                self._q.put(("DELETED", obj))
        else:
            if now_in and was_in:
                self._q.put(("MODIFIED", obj))
            elif now_in:
                self._q.put(("ADDED", obj))
            elif was_in:
                self._q.put(("DELETED", obj))

    def get(self, timeout=None):
        """Next (type, obj) — obj is the caller's own copy — or None on timeout/stop."""
        try:
            item = self._q.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            return None
        return item[0], copy(item[1])

    def idle_rv(self):
        """The store's resourceVersion if nothing is queued for this watch, else
        None: a bookmark taken then can never overtake an undelivered event."""
        with self._store._lock:
            if self._q.empty():
                return str(self._store._rv)
        return None

    def stop(self):
        if not self.closed:
            self.closed = True
            self._store._drop_watch(self)
            self._q.put(None)


class Store:
    """Thread-safe object store; see the module comment."""

    def __init__(self, history=10000):
        self._lock = threading.RLock()
        self._objs = {}            # key -> {(ns, name): obj}
        self._rv = 0
        self._history = collections.deque()   # (rv, type, key, obj, old)
        self._history_max = history
        self._compacted = 0        # every event with rv <= this is gone from history
        self._watches = set()
        self._subs = []
        self._dispatch_q = queue.Queue()
        self._dispatcher = None
        self._crd_keys = set()     # generation counts any change outside metadata/status
        self._closed = False

    # ---- kinds -----------------------------------------------------------
    def register_kind(self, key, namespaced=True, generation=True, custom=False):
        """Declare scope and generation rule for a key (CRD-served kinds: custom=True)."""
        with self._lock:
            if namespaced:
                CLUSTER_SCOPED.discard(key)
            else:
                CLUSTER_SCOPED.add(key)
            if generation:
                NO_GENERATION.discard(key)
            else:
                NO_GENERATION.add(key)
            if custom:
                self._crd_keys.add(key)
            else:
                self._crd_keys.discard(key)

    @staticmethod
    def namespaced(key):
        return key not in CLUSTER_SCOPED

    # ---- reads -----------------------------------------------------------
    @property
    def resource_version(self):
        with self._lock:
            return str(self._rv)

    def get(self, key, ns, name):
        with self._lock:
            obj = self._objs.get(key, {}).get((self._ns(key, ns), name))
            if obj is None:
                raise NotFound('%s "%s" not found' % (key, name), key, ns, name)
            return copy(obj)

    def list(self, key, ns=None, label_selector=None, field_selector=None):
        """(items sorted by namespace/name, resourceVersion of the snapshot)."""
        lreqs = sel.compile_labels(label_selector)
        freqs = sel.parse_fields(field_selector) if isinstance(field_selector, str) else (field_selector or [])
        with self._lock:
            out = []
            for (ons, oname), obj in sorted(self._objs.get(key, {}).items()):
                if ns and ons != ns:
                    continue
                md = obj["metadata"]
                if sel.matches(lreqs, md.get("labels")) and sel.fields_match(freqs, obj):
                    out.append(copy(obj))
            return out, str(self._rv)

    def keys(self):
        with self._lock:
            return [k for k, v in self._objs.items() if v]

    # ---- writes ----------------------------------------------------------
    def create(self, key, obj):
        obj = copy(obj)
        md = obj.setdefault("metadata", {})
        ns = self._ns(key, md.get("namespace"))
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise Invalid("metadata.name: Required value: name or generateName is required", key, ns,
                              causes=[{"reason": "FieldValueRequired", "message": "Required value: name or generateName is required", "field": "metadata.name"}])
        if ns:
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        with self._lock:
            bucket = self._objs.setdefault(key, {})
            if (ns, md["name"]) in bucket:
                raise AlreadyExists('%s "%s" already exists' % (key, md["name"]), key, ns, md["name"])
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            md.pop("deletionTimestamp", None)
            md.pop("resourceVersion", None)
            if key in NO_GENERATION:
                md.pop("generation", None)
            else:
                md["generation"] = 1
            self._commit(key, "ADDED", obj, None)
            bucket[(ns, md["name"])] = obj
            return copy(obj)

    def update(self, key, obj, subresource=None):
        """Replace an object. Precondition: metadata.resourceVersion, if set.
        subresource "status" takes only .status from obj, "scale" only
        .spec.replicas. Removing the last finalizer of an object being deleted
        deletes it."""
        md = obj.get("metadata") or {}
        name = md.get("name")
        with self._lock:
            bucket = self._objs.get(key, {})
            ns = self._ns(key, md.get("namespace"))
            cur = bucket.get((ns, name))
            if cur is None:
                raise NotFound('%s "%s" not found' % (key, name), key, ns, name)
            want_rv = md.get("resourceVersion")
            if want_rv not in (None, "") and str(want_rv) != cur["metadata"]["resourceVersion"]:
                raise Conflict('Operation cannot be fulfilled on %s "%s": the object has been modified; '
                               'please apply your changes to the latest version and try again' % (key, name), key, ns, name)
            if subresource == "status":
                new = copy(cur)
                if "status" in obj:
                    new["status"] = copy(obj["status"])
                else:
                    new.pop("status", None)
            elif subresource == "scale":
                new = copy(cur)
                new.setdefault("spec", {})["replicas"] = (obj.get("spec") or {}).get("replicas")
            elif subresource is None:
                new = copy(obj)
                nmd = new.setdefault("metadata", {})
                for f in ("uid", "creationTimestamp", "name", "deletionTimestamp", "generation"):
                    if f in cur["metadata"]:
                        nmd[f] = cur["metadata"][f]
                    else:
                        nmd.pop(f, None)
                if ns:
                    nmd["namespace"] = ns
                if cur["metadata"].get("deletionTimestamp") and "deletionGracePeriodSeconds" in cur["metadata"]:
                    nmd["deletionGracePeriodSeconds"] = cur["metadata"]["deletionGracePeriodSeconds"]
                else:
                    nmd.pop("deletionGracePeriodSeconds", None)
            else:
                raise Invalid("unknown subresource %r" % subresource, key, ns, name)
            if self._spec_changed(key, cur, new) and "generation" in cur["metadata"]:
                new["metadata"]["generation"] = cur["metadata"]["generation"] + 1
            new["metadata"].pop("resourceVersion", None)
            if _same(cur, new):
                return copy(cur)   # a no-op write commits nothing, as in kube-apiserver
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") and \
                    not cur["metadata"].get("deletionGracePeriodSeconds"):
                # the last finalizer gone: deleted — unless a grace period is still running
                # (kube-apiserver's ShouldDeleteDuringUpdate); whoever ends it deletes with grace 0
                self._commit(key, "DELETED", new, cur)
                del bucket[(ns, name)]
                return copy(new)
            self._commit(key, "MODIFIED", new, cur)
            bucket[(ns, name)] = new
            return copy(new)

    def delete(self, key, ns, name, uid=None, resource_version=None, finalizers_add=None, grace_seconds=0):
        """Delete now, or — when the object has finalizers (or finalizers_add
        gives some), or grace_seconds > 0 — set deletionTimestamp (now + grace)
        and deletionGracePeriodSeconds and leave the object to whoever owns the
        finalizers or ends the grace period (the kubelet, for Pods: it deletes
        again with grace 0). A later delete may only shorten a running grace
        period; grace 0 without finalizers removes the object at once (a force
        delete). See pod_grace() for the grace a Pod DELETE gets.
        Preconditions uid/resource_version → Conflict."""
        with self._lock:
            ns = self._ns(key, ns)
            bucket = self._objs.get(key, {})
            cur = bucket.get((ns, name))
            if cur is None:
                raise NotFound('%s "%s" not found' % (key, name), key, ns, name)
            cmd = cur["metadata"]
            if uid and cmd.get("uid") != uid:
                raise Conflict('Operation cannot be fulfilled on %s "%s": Precondition failed: UID in precondition: %s, UID in object meta: %s'
                               % (key, name, uid, cmd.get("uid")), key, ns, name)
            if resource_version and cmd.get("resourceVersion") != str(resource_version):
                raise Conflict('Operation cannot be fulfilled on %s "%s": the object has been modified; '
                               'please apply your changes to the latest version and try again' % (key, name), key, ns, name)
            fins = list(cmd.get("finalizers") or [])
            for f in finalizers_add or []:
                if f not in fins:
                    fins.append(f)
            terminating = bool(cmd.get("deletionTimestamp"))
            grace = max(0, int(grace_seconds or 0))
            if terminating:
                grace = min(grace, int(cmd.get("deletionGracePeriodSeconds") or 0))
            if fins or grace > 0:
                if terminating and fins == (cmd.get("finalizers") or []) and \
                        grace == int(cmd.get("deletionGracePeriodSeconds") or 0):
                    return copy(cur)
                new = copy(cur)
                nmd = new["metadata"]
                if fins:
                    nmd["finalizers"] = fins
                if not terminating:
                    nmd["deletionTimestamp"] = now_rfc3339(grace)
                elif grace != int(cmd.get("deletionGracePeriodSeconds") or 0):   # shortened: from the same start
                    nmd["deletionTimestamp"] = _shift(cmd["deletionTimestamp"],
                                                      grace - int(cmd.get("deletionGracePeriodSeconds") or 0))
                nmd["deletionGracePeriodSeconds"] = grace
                self._commit(key, "MODIFIED", new, cur)
                bucket[(ns, name)] = new
                return copy(new)
            gone = copy(cur)
            self._commit(key, "DELETED", gone, cur)
            del bucket[(ns, name)]
            return copy(gone)

    def mutate(self, key, ns, name, fn, subresource=None, retries=50):
        """Read-modify-write with retry on Conflict. fn(obj) edits obj in place;
        returning False skips the write (the current object is returned)."""
        for _ in range(retries):
            obj = self.get(key, ns, name)
            if fn(obj) is False:
                return obj
            try:
                return self.update(key, obj, subresource=subresource)
            except Conflict:
                continue
        raise Conflict('Operation cannot be fulfilled on %s "%s": too many conflicting writers' % (key, name), key, ns, name)

    # ---- watch & subscribe -----------------------------------------------
    def watch(self, key, ns=None, since_rv=None, label_selector=None, field_selector=None):
        """Events for key with resourceVersion > since_rv (None/""/"0": from now).
        Raises Gone when since_rv is older than the kept history."""
        lreqs = sel.compile_labels(label_selector)
        freqs = sel.parse_fields(field_selector) if isinstance(field_selector, str) else (field_selector or [])
        w = Watch(self, key, ns, lreqs, freqs)
        with self._lock:
            if since_rv not in (None, "", "0", 0):
                since = _rv_int(since_rv)
                if since < self._compacted:
                    raise Gone("too old resource version: %d (%d)" % (since, self._compacted + 1), since, self._compacted + 1)
                for rv, etype, k, obj, old in self._history:
                    if rv > since and k == key:
                        w._offer(etype, obj, old)
            self._watches.add(w)
        return w

    def subscribe(self, fn):
        """fn(event_type, key, obj) for every later commit, from one dispatcher
        thread, outside the store lock, in commit order."""
        with self._lock:
            self._subs.append(fn)
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="store-dispatch", daemon=True)
                self._dispatcher.start()

    def compact(self, keep=0):
        """Forget history except the last `keep` events (watches from before get Gone)."""
        with self._lock:
            while len(self._history) > keep:
                self._compacted = self._history.popleft()[0]
            if keep == 0:
                self._compacted = self._rv

    def close(self):
        with self._lock:
            self._closed = True
            watches = list(self._watches)
        for w in watches:
            w.stop()
        self._dispatch_q.put(None)

    # ---- internals -------------------------------------------------------
    def _ns(self, key, ns):
        if key in CLUSTER_SCOPED:
            return ""
        return ns or ""

    def _spec_changed(self, key, cur, new):
        if key in self._crd_keys:
            strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
            return strip(cur) != strip(new)
        return cur.get("spec") != new.get("spec")

    def _commit(self, key, etype, obj, old):
        """Assign the next resourceVersion to obj and publish; caller holds the lock."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._history.append((self._rv, etype, key, obj, old))
        while len(self._history) > self._history_max:
            self._compacted = self._history.popleft()[0]
        for w in list(self._watches):
            if w.key == key:
                w._offer(etype, obj, old)
        if self._subs:
            self._dispatch_q.put((etype, key, obj))

    def _drop_watch(self, w):
        with self._lock:
            self._watches.discard(w)

    def _dispatch(self):
        while True:
            item = self._dispatch_q.get()
            if item is None:
                return
            etype, key, obj = item
            for fn in list(self._subs):
                try:
                    fn(etype, key, copy(obj))
                except Exception:  # a subscriber's bug must not stop the others
                    log.exception("store subscriber %r failed on %s %s", fn, etype, key)


def _same(a, b):
    """Equal apart from resourceVersion."""
    am = {k: v for k, v in a["metadata"].items() if k != "resourceVersion"}
    bm = {k: v for k, v in b["metadata"].items() if k != "resourceVersion"}
    if am != bm:
        return False
    return {k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in b.items() if k != "metadata"}
