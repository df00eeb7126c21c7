"""Garbage collection and namespace termination: kube-controller-manager's
garbage collector and namespace controller, for the bed.

The idea: everything is level-triggered from the store. A store subscriber
only queues "look at this"; one worker thread does the work, and a resync
every second re-examines every object that is being deleted, so nothing
depends on seeing one particular event.

  * A dependent whose ownerReferences all name owners that no longer exist
    (by uid) is deleted (Background). If some owners remain, the dangling
    references are removed instead, as kube's GC does.
  * An owner being deleted with the `foregroundDeletion` finalizer: its
    dependents are deleted (Foreground for those with blockOwnerDeletion),
    and the finalizer is removed once no blocking dependent remains.
  * An owner with the `orphan` finalizer: its dependents lose their
    ownerReference to it, then the finalizer goes.
  * A namespace being deleted (finalizer "kubernetes"): every object in it is
    deleted, and when none is left the namespace goes.
"""
import logging
import queue
import threading
import time

import store as st

log = logging.getLogger("kubesim.gc")


class GC:
    def __init__(self, store, catalogue, interval=1.0):
        self.store, self.cat = store, catalogue
        self.interval = interval
        self._q = queue.Queue()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, name="gc", daemon=True)

    def start(self):
        self.store.subscribe(self._on_event)
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._q.put(None)

    def _on_event(self, etype, key, obj):
        md = obj.get("metadata") or {}
        if etype == "DELETED" or md.get("deletionTimestamp") or (etype == "ADDED" and md.get("ownerReferences")):
            self._q.put((etype, key, obj))

    # ---- loop ------------------------------------------------------------
    def _loop(self):
        next_resync = time.monotonic() + self.interval
        while not self._stop.is_set():
            try:
                item = self._q.get(timeout=max(0.01, next_resync - time.monotonic()))
            except queue.Empty:
                item = "resync"
            if item is None:
                return
            if time.monotonic() >= next_resync:
                item_then = item
                item = "resync"
            else:
                item_then = None
            try:
                if item == "resync":
                    next_resync = time.monotonic() + self.interval
                    self._resync()
                    if item_then not in (None, "resync"):
                        self._handle(*item_then)
                else:
                    self._handle(*item)
            except Exception:  # keep collecting whatever one object does
                log.exception("garbage collector")

    def _handle(self, etype, key, obj):
        md = obj["metadata"]
        if etype == "DELETED":
            self._owner_gone(md.get("uid"))
            for ref in md.get("ownerReferences") or []:
                owner = self._owner(obj, ref)
                if owner is not None and owner[1]["metadata"].get("deletionTimestamp"):
                    self._deleting(*owner)
            return
        if md.get("deletionTimestamp"):
            self._deleting(key, obj)
        elif md.get("ownerReferences"):
            self._check_owners(key, obj)

    def _resync(self):
        for key in self.store.keys():
            for o in self.store.list(key)[0]:
                md = o["metadata"]
                if md.get("deletionTimestamp"):
                    self._deleting(key, o)
                elif md.get("ownerReferences"):
                    self._check_owners(key, o)

    # ---- owners and dependents ------------------------------------------
    def _owner(self, dep, ref):
        """(key, owner) if the referenced owner exists with that uid, else None."""
        res = self.cat.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if res is None:
            # a kind the bed does not serve: like kube's GC, never delete on an
            # owner it cannot look up
            return ("", {"metadata": {}})
        ns = (dep.get("metadata") or {}).get("namespace") if res.namespaced else None
        try:
            o = self.store.get(res.key, ns, ref.get("name"))
        except st.NotFound:
            return None
        if o["metadata"].get("uid") != ref.get("uid"):
            return None
        return res.key, o

    def _dependents(self, uid):
        out = []
        for key in self.store.keys():
            for o in self.store.list(key)[0]:
                for ref in o["metadata"].get("ownerReferences") or []:
                    if ref.get("uid") == uid:
                        out.append((key, o, ref))
                        break
        return out

    def _delete(self, key, o, policy="Background"):
        md = o["metadata"]
        try:
            self.store.delete(key, md.get("namespace"), md["name"], uid=md.get("uid"),
                              finalizers_add=["foregroundDeletion"] if policy == "Foreground" else None,
                              grace_seconds=st.pod_grace(o) if key == "pods" else 0)
        except (st.NotFound, st.Conflict):
            pass

    def _drop_refs(self, key, o, uids):
        md = o["metadata"]

        def edit(x):
            refs = x["metadata"].get("ownerReferences") or []
            keep = [r for r in refs if r.get("uid") not in uids]
            if len(keep) == len(refs):
                return False
            if keep:
                x["metadata"]["ownerReferences"] = keep
            else:
                x["metadata"].pop("ownerReferences", None)
        try:
            self.store.mutate(key, md.get("namespace"), md["name"], edit)
        except st.NotFound:
            pass

    def _check_owners(self, key, o):
        refs = o["metadata"].get("ownerReferences") or []
        dangling = [r.get("uid") for r in refs if self._owner(o, r) is None]
        if not dangling:
            return
        if len(dangling) == len(refs):
            self._delete(key, o)
        else:
            self._drop_refs(key, o, set(dangling))

    def _owner_gone(self, uid):
        if not uid:
            return
        for key, o, _ in self._dependents(uid):
            self._check_owners(key, o)

    def _remove_finalizer(self, key, o, fin):
        md = o["metadata"]

        def edit(x):
            fins = x["metadata"].get("finalizers") or []
            if fin not in fins:
                return False
            x["metadata"]["finalizers"] = [f for f in fins if f != fin]
        try:
            self.store.mutate(key, md.get("namespace"), md["name"], edit)
        except st.NotFound:
            pass

    def _deleting(self, key, o):
        fins = o["metadata"].get("finalizers") or []
        if key == "namespaces" and "kubernetes" in fins:
            self._namespace(o)
        if "orphan" in fins:
            uid = o["metadata"]["uid"]
            for dkey, d, _ in self._dependents(uid):
                self._drop_refs(dkey, d, {uid})
            self._remove_finalizer(key, o, "orphan")
        if "foregroundDeletion" in fins:
            uid = o["metadata"]["uid"]
            blocking = 0
            for dkey, d, ref in self._dependents(uid):
                if ref.get("blockOwnerDeletion"):
                    blocking += 1
                if not d["metadata"].get("deletionTimestamp"):
                    self._delete(dkey, d, "Foreground" if ref.get("blockOwnerDeletion") else "Background")
            if blocking == 0:
                self._remove_finalizer(key, o, "foregroundDeletion")

    def _namespace(self, nso):
        ns = nso["metadata"]["name"]
        left = 0
        for key in self.store.keys():
            if key == "namespaces" or not self.store.namespaced(key):
                continue
            for o in self.store.list(key, ns)[0]:
                left += 1
                if not o["metadata"].get("deletionTimestamp"):
                    self._delete(key, o)
        if left == 0:
            self._remove_finalizer("namespaces", nso, "kubernetes")
