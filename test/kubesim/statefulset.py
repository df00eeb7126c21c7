"""The bed's StatefulSet controller, following kube-controller-manager's
stateful_set_control.go.

The one idea: every sync is a pure function of what is observed now — the
StatefulSet and the Pods it owns — and takes at most the steps the policy
allows, then returns; the next event (or the 1 s resync) continues. With
OrderedReady ("monotonic") a sync stops at the first ordinal that is missing,
terminating or not Running+Ready, so ordinal i is created only when 0..i-1
are Running and Ready, and scale-down deletes the highest ordinal only, then
waits for it to be gone. With Parallel every missing Pod is created and every
condemned Pod deleted in one sync. A Pod that failed is deleted and made
again; a deleted one is made again. PersistentVolumeClaims
`<claim>-<sts>-<ordinal>` are created before their Pod and kept on scale-down
and on delete, unless persistentVolumeClaimRetentionPolicy says Delete (then
they get an ownerReference — to the StatefulSet for whenDeleted, to the
condemned Pod instead for whenScaled — and the garbage collector removes them,
as in Kubernetes). Template changes roll out under RollingUpdate from the highest
ordinal down to the partition, one Pod at a time, only while all are ready.
"""
import hashlib
import json
import logging
import queue
import re
import threading
import time

import labels as sel
import store as st
from rtutil import Recorder, controller_ref, is_ready, is_terminating, owner_ref

log = logging.getLogger("kubesim.statefulset")

KEY = "statefulsets.apps"


def revision_hash(sts):
    tmpl = (sts.get("spec") or {}).get("template") or {}
    return hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]


def ordinal_of(sts_name, pod_name):
    m = re.fullmatch(re.escape(sts_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def running_and_ready(pod):
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod) and not is_terminating(pod)


def claim_name(tmpl, sts_name, ordinal):
    return "%s-%s-%d" % (tmpl["metadata"]["name"], sts_name, ordinal)


def new_pod(sts, ordinal, rev):
    md, spec = sts["metadata"], sts["spec"]
    tmpl = st.copy(spec.get("template") or {})
    tmd = tmpl.get("metadata") or {}
    name = "%s-%d" % (md["name"], ordinal)
    lbl = dict(tmd.get("labels") or {})
    lbl.update({"statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": str(ordinal),
                "controller-revision-hash": "%s-%s" % (md["name"], rev)})
    pmd = {"name": name, "namespace": md.get("namespace", "default"), "labels": lbl,
           "ownerReferences": [owner_ref(sts, "StatefulSet", "apps/v1")]}
    if tmd.get("annotations"):
        pmd["annotations"] = dict(tmd["annotations"])
    pspec = tmpl.get("spec") or {}
    pspec["hostname"] = name
    if spec.get("serviceName"):
        pspec["subdomain"] = spec["serviceName"]
    vols = [v for v in pspec.get("volumes") or []]
    for ct in spec.get("volumeClaimTemplates") or []:
        vols = [v for v in vols if v.get("name") != ct["metadata"]["name"]]
        vols.append({"name": ct["metadata"]["name"],
                     "persistentVolumeClaim": {"claimName": claim_name(ct, md["name"], ordinal)}})
    if vols:
        pspec["volumes"] = vols
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pmd, "spec": pspec}


def claim_ref(owner, kind, api_version):
    """An ownerReference as the StatefulSet controller puts on claims (not a controller reference)."""
    md = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": md["name"], "uid": md["uid"]}


def new_claim(sts, tmpl, ordinal):
    md, spec = sts["metadata"], sts["spec"]
    lbl = dict((tmpl.get("metadata") or {}).get("labels") or {})
    lbl.update((spec.get("selector") or {}).get("matchLabels") or {})
    cmd = {"name": claim_name(tmpl, md["name"], ordinal), "namespace": md.get("namespace", "default"),
           "labels": lbl}
    if (tmpl.get("metadata") or {}).get("annotations"):
        cmd["annotations"] = dict(tmpl["metadata"]["annotations"])
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    if policy.get("whenDeleted") == "Delete":
        cmd["ownerReferences"] = [claim_ref(sts, "StatefulSet", "apps/v1")]
    cspec = st.copy(tmpl.get("spec") or {})
    cspec.setdefault("accessModes", ["ReadWriteOnce"])
    cspec.setdefault("volumeMode", "Filesystem")
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": cmd, "spec": cspec}


class StatefulSetController:
    def __init__(self, store):
        self.store = store
        self.recorder = Recorder(store, "statefulset-controller")
        self._q = queue.Queue()
        self._pending = set()
        self._lock = threading.Lock()
        self._closing = False
        self.lingering = lambda ns: set()   # names whose processes are still stopping (the kubelet's view)
        self._t = threading.Thread(target=self._loop, name="statefulset-controller", daemon=True)

    def start(self):
        self._t.start()

    def stop(self):
        self._closing = True
        self._q.put(None)

    def on_event(self, etype, key, obj):
        md = obj.get("metadata") or {}
        if key == KEY:
            self._enqueue(md.get("namespace", "default"), md["name"])
        elif key == "pods":
            ref = controller_ref(obj)
            if ref and ref.get("kind") == "StatefulSet":
                self._enqueue(md.get("namespace", "default"), ref["name"])

    def _enqueue(self, ns, name):
        with self._lock:
            if (ns, name) in self._pending:
                return
            self._pending.add((ns, name))
        self._q.put((ns, name))

    def _loop(self):
        last = 0.0
        while not self._closing:
            try:
                item = self._q.get(timeout=0.5)
            except queue.Empty:
                item = None
            if self._closing:
                return
            if item is not None:
                with self._lock:
                    self._pending.discard(item)
                try:
                    self.sync(*item)
                except Exception:
                    log.exception("statefulset %s/%s sync failed", *item)
                    time.sleep(0.2)
                    self._enqueue(*item)
            if time.monotonic() - last > 1.0:
                last = time.monotonic()
                try:
                    for s in self.store.list(KEY)[0]:
                        self._enqueue(s["metadata"].get("namespace", "default"), s["metadata"]["name"])
                except Exception:
                    log.exception("statefulset resync")

    # ---- one sync --------------------------------------------------------
    def sync(self, ns, name):
        try:
            sts = self.store.get(KEY, ns, name)
        except st.NotFound:
            return
        if is_terminating(sts):
            return
        spec = sts.get("spec") or {}
        uid = sts["metadata"]["uid"]
        reqs = sel.from_label_selector(spec.get("selector"))
        pods = {}
        for p in self.store.list("pods", ns)[0]:
            ref = controller_ref(p)
            o = ordinal_of(name, p["metadata"]["name"])
            if ref and ref.get("uid") == uid and o is not None and sel.matches(reqs, p["metadata"].get("labels")):
                pods[o] = p
        try:
            self._steps(sts, pods, self.lingering(ns))
        finally:
            self._status(sts)

    def _steps(self, sts, pods, lingering):
        """lingering: Pod names deleted from the store whose processes are still
        stopping; they count as terminating Pods (the store may delete a Pod
        object at once, while Kubernetes keeps it until the kubelet is done)."""
        spec, name = sts["spec"], sts["metadata"]["name"]
        going = {ordinal_of(name, n) for n in lingering} - {None} - set(pods)
        replicas = spec.get("replicas", 1)
        replicas = 1 if replicas is None else int(replicas)
        monotonic = (spec.get("podManagementPolicy") or "OrderedReady") != "Parallel"
        rev = revision_hash(sts)
        valid = [pods.get(i) for i in range(replicas)]
        condemned = sorted((o for o in pods if o >= replicas), reverse=True)
        first_unhealthy = None
        for p in [x for x in valid if x] + [pods[o] for o in sorted(condemned)]:
            if not running_and_ready(p):
                first_unhealthy = p
                break
        for i, p in enumerate(valid):
            if p is not None and (p.get("status") or {}).get("phase") in ("Failed", "Succeeded") and not is_terminating(p):
                self._delete_pod(sts, p, "failed")
                if monotonic:
                    return
                continue
            if p is None and i in going:
                if monotonic:
                    return
                continue
            if p is None:
                self._create(sts, i, rev)
                if monotonic:
                    return
                continue
            self._ensure_claims(sts, i, p)
            self._claim_owners(sts, i, p, condemned=False)
            if is_terminating(p) and monotonic:
                return
            if not running_and_ready(p) and monotonic:
                return
        if monotonic and any(o >= replicas for o in going):
            return
        for o in condemned:
            p = pods[o]
            if is_terminating(p):
                if monotonic:
                    return
                continue
            if not running_and_ready(p) and monotonic and p is not first_unhealthy:
                return
            self._claim_owners(sts, o, p, condemned=True)
            self._delete_pod(sts, p, "scale down")
            if monotonic:
                return
        strategy = spec.get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return
        if any(p is None or not running_and_ready(p) for p in valid):
            return
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
        want = "%s-%s" % (name, rev)
        for i in range(replicas - 1, partition - 1, -1):
            p = valid[i]
            if p["metadata"].get("labels", {}).get("controller-revision-hash") != want:
                self._delete_pod(sts, p, "update to revision %s" % want)
                return

    def _create(self, sts, ordinal, rev):
        ns = sts["metadata"].get("namespace", "default")
        self._ensure_claims(sts, ordinal, None)
        pod = new_pod(sts, ordinal, rev)
        try:
            self.store.create("pods", pod)
        except st.AlreadyExists:
            return      # the old one is still going away
        self.recorder.event(sts, "Normal", "SuccessfulCreate", "create Pod %s in StatefulSet %s successful"
                            % (pod["metadata"]["name"], sts["metadata"]["name"]))
        log.info("statefulset %s/%s: created pod %s", ns, sts["metadata"]["name"], pod["metadata"]["name"])

    def _ensure_claims(self, sts, ordinal, pod):
        ns = sts["metadata"].get("namespace", "default")
        for ct in sts["spec"].get("volumeClaimTemplates") or []:
            cname = claim_name(ct, sts["metadata"]["name"], ordinal)
            try:
                self.store.get("persistentvolumeclaims", ns, cname)
                continue
            except st.NotFound:
                pass
            try:
                self.store.create("persistentvolumeclaims", new_claim(sts, ct, ordinal))
                self.recorder.event(sts, "Normal", "SuccessfulCreate", "create Claim %s Pod %s-%d in StatefulSet %s success"
                                    % (cname, sts["metadata"]["name"], ordinal, sts["metadata"]["name"]))
            except st.AlreadyExists:
                pass

    def _claim_owners(self, sts, ordinal, pod, condemned):
        """persistentVolumeClaimRetentionPolicy as UpdatePodClaimForRetentionPolicy does it: a
        condemned ordinal's claims (whenScaled: Delete) are owned by its Pod and not the set, so
        the GC removes them after the Pod; otherwise (whenDeleted: Delete) by the set only."""
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        scaled, deleted = policy.get("whenScaled") == "Delete", policy.get("whenDeleted") == "Delete"
        if not scaled and not deleted:
            return
        ns = sts["metadata"].get("namespace", "default")
        set_ref = claim_ref(sts, "StatefulSet", "apps/v1")
        pod_ref = claim_ref(pod, "Pod", "v1") if pod is not None else None
        if condemned and scaled:
            want, drop = pod_ref, set_ref
        elif deleted:
            want, drop = set_ref, pod_ref
        else:
            want, drop = None, pod_ref
        for ct in sts["spec"].get("volumeClaimTemplates") or []:
            def own(c):
                refs = c["metadata"].get("ownerReferences") or []
                keep = [r for r in refs if not drop or r.get("uid") != drop["uid"]]
                if want and not any(r.get("uid") == want["uid"] for r in keep):
                    keep.append(want)
                if keep == refs:
                    return False
                if keep:
                    c["metadata"]["ownerReferences"] = keep
                else:
                    c["metadata"].pop("ownerReferences", None)
            try:
                self.store.mutate("persistentvolumeclaims", ns, claim_name(ct, sts["metadata"]["name"], ordinal), own)
            except st.NotFound:
                pass

    def _delete_pod(self, sts, pod, why):
        md = pod["metadata"]
        try:
            self.store.delete("pods", md.get("namespace", "default"), md["name"], uid=md["uid"],
                              grace_seconds=st.pod_grace(pod))   # graceful, as through the API
        except (st.NotFound, st.Conflict):
            return
        self.recorder.event(sts, "Normal", "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful"
                            % (md["name"], sts["metadata"]["name"]))
        log.info("statefulset %s/%s: deleted pod %s (%s)", md.get("namespace"), sts["metadata"]["name"], md["name"], why)

    def _status(self, sts):
        ns, name = sts["metadata"].get("namespace", "default"), sts["metadata"]["name"]
        uid = sts["metadata"]["uid"]
        pods = [p for p in self.store.list("pods", ns)[0]
                if (controller_ref(p) or {}).get("uid") == uid and ordinal_of(name, p["metadata"]["name"]) is not None]
        update_rev = "%s-%s" % (name, revision_hash(sts))
        old = sts.get("status") or {}
        current_rev = old.get("currentRevision") or update_rev
        live = [p for p in pods if not is_terminating(p)]
        revs = [p["metadata"].get("labels", {}).get("controller-revision-hash") for p in live]
        replicas = sts["spec"].get("replicas", 1)
        if revs.count(update_rev) == len(live) and len(live) >= (1 if replicas is None else replicas):
            current_rev = update_rev
        ready = sum(1 for p in pods if running_and_ready(p))
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
                  "readyReplicas": ready, "currentReplicas": revs.count(current_rev),
                  "updatedReplicas": revs.count(update_rev), "availableReplicas": ready,
                  "currentRevision": current_rev, "updateRevision": update_rev,
                  "collisionCount": old.get("collisionCount", 0)}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]

        def fn(o):
            if o["metadata"]["uid"] != uid or o.get("status") == status:
                return False
            o["status"] = status
        try:
            self.store.mutate(KEY, ns, name, fn, subresource="status")
        except st.NotFound:
            pass
