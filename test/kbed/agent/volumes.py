"""Storage for the bed's Pods: an external provisioner for PersistentVolumes
(a directory each), fsGroup ownership, and the files of configMap, secret,
downwardAPI and projected volumes.

The one idea: the agent provisions as a CSI external-provisioner does and
leaves the binding to kube-controller-manager's PV controller. A claim of the
bed's StorageClass (`standard`, the default) gets a PersistentVolume
`pvc-<claim uid>` whose hostPath is DIR/volumes/pvc-<claim uid>, pre-bound to
the claim through claimRef; the PV controller binds the two. A released PV
(its claim deleted; reclaim policy Delete) has its directory removed once no
running container uses it, and then the PV object is deleted. A new claim of
the same name — a StatefulSet scaling up again after the operator deleted a
removed member's PVC — has a new uid, so a new empty directory: it never sees
a removed member's data. A bound claim that asks for more (the class allows
expansion) is grown at once, PV and claim status, as an online resize is.
"""
import base64
import logging
import os
import shutil
import threading
import time

from . import podspec

log = logging.getLogger("kbed.volumes")

PROVISIONER = "kbed.local/hostpath"
STORAGE_CLASS = "standard"


def apply_fs_group(path, gid, policy=None):
    """Give a volume to the Pod's fsGroup as kubelet does: group ownership,
    group read/write, setgid directories. OnRootMismatch skips a volume whose
    root already has that group."""
    if gid is None or not os.path.isdir(path):
        return
    st = os.stat(path)
    if policy == "OnRootMismatch" and st.st_gid == gid and st.st_mode & 0o2070 == 0o2070:
        return
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, f) for f in files]:
            try:
                os.lchown(name, -1, gid)
                if not os.path.islink(name):
                    m = os.stat(name).st_mode
                    extra = 0o2070 if name == root else (0o060 if m & 0o600 else 0o040)
                    os.chmod(name, (m & 0o7777) | extra)
            except OSError as e:
                log.debug("fsGroup on %s: %s", name, e)


class Volumes:
    def __init__(self, store, state_dir, in_use):
        """in_use() -> uids of the claims live Pods have mounted."""
        self.store, self.in_use = store, in_use
        self.root = os.path.join(state_dir, "volumes")
        os.makedirs(self.root, exist_ok=True)
        self._lock = threading.Lock()

    def ensure_class(self):
        sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": {"name": STORAGE_CLASS,
                           "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
              "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
              "volumeBindingMode": "Immediate", "allowVolumeExpansion": True}
        try:
            self.store.create("storageclasses", sc)
        except Exception as e:
            if getattr(e, "code", 0) != 409:
                raise

    def pv_dir(self, claim_uid):
        return os.path.join(self.root, "pvc-" + claim_uid)

    # ---- provisioner -----------------------------------------------------
    def on_pvc(self, etype, pvc):
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        if etype == "DELETED" or md.get("deletionTimestamp"):
            return
        if spec.get("volumeName"):
            self._expand(pvc)
            return
        cls = spec.get("storageClassName")
        if cls not in (None, STORAGE_CLASS):
            return
        uid = md["uid"]
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        with self._lock:
            os.makedirs(self.pv_dir(uid), exist_ok=True)
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": "pvc-" + uid,
                           "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
              "spec": {"capacity": {"storage": size},
                       "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy": "Delete",
                       "storageClassName": STORAGE_CLASS,
                       "volumeMode": spec.get("volumeMode") or "Filesystem",
                       "hostPath": {"path": self.pv_dir(uid), "type": "Directory"},
                       "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                                    "namespace": md.get("namespace", "default"), "name": md["name"],
                                    "uid": uid}}}
        try:
            self.store.create("persistentvolumes", pv)
        except Exception as e:
            if getattr(e, "code", 0) != 409:
                log.warning("provisioning %s/%s: %s", md.get("namespace"), md["name"], e)

    def _expand(self, pvc):
        """Online expansion as the external resizer and the kubelet do it: a
        bound claim of ours asking more than its status.capacity has its PV's
        capacity and then its own status.capacity raised (a directory has no
        size to grow). Kubernetes itself refuses a shrink."""
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        want = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        have = ((pvc.get("status") or {}).get("capacity") or {}).get("storage")
        if (pvc.get("status") or {}).get("phase") != "Bound" or not want or not have or want == have:
            return
        if spec.get("storageClassName") not in (None, STORAGE_CLASS):
            return
        try:
            self.store.patch("persistentvolumes", None, spec["volumeName"],
                             {"spec": {"capacity": {"storage": want}}})
            self.store.patch("persistentvolumeclaims", md.get("namespace", "default"), md["name"],
                             {"status": {"capacity": {"storage": want}}}, subresource="status")
            log.info("expanded %s/%s to %s", md.get("namespace"), md["name"], want)
        except Exception as e:
            log.warning("expanding %s/%s: %s", md.get("namespace"), md["name"], e)

    def on_pv(self, etype, pv):
        """Delete a released volume of ours once nothing uses it."""
        md = pv["metadata"]
        if etype == "DELETED" or (md.get("annotations") or {}).get("pv.kubernetes.io/provisioned-by") != PROVISIONER:
            return
        if (pv.get("status") or {}).get("phase") not in ("Released", "Failed"):
            return
        uid = md["name"][len("pvc-"):]
        if uid in self.in_use():
            return          # a Pod still runs on it; sweep() comes back
        with self._lock:
            shutil.rmtree(self.pv_dir(uid), ignore_errors=True)
        try:
            self.store.delete("persistentvolumes", None, md["name"])
        except Exception as e:
            log.debug("pv %s: %s", md["name"], e)

    def sweep(self):
        for pv in self.store.list("persistentvolumes")[0]:
            self.on_pv("MODIFIED", pv)

    def bound_dir(self, ns, claim):
        """(directory, claim uid) if the claim exists and is bound, else None."""
        try:
            pvc = self.store.get("persistentvolumeclaims", ns, claim)
        except Exception:
            return None
        if pvc["metadata"].get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") != "Bound":
            return None
        try:
            pv = self.store.get("persistentvolumes", None, pvc["spec"]["volumeName"])
        except Exception:
            return None
        d = ((pv.get("spec") or {}).get("hostPath") or {}).get("path")
        return (d, pvc["metadata"]["uid"]) if d and os.path.isdir(d) else None

    def wipe(self, ns, claim):
        """Fault: the claim's volume lost its data (contents removed in place)."""
        got = self.bound_dir(ns, claim)
        if got is None:
            raise LookupError('no bound volume for persistentvolumeclaim "%s" in namespace "%s"' % (claim, ns))
        d = got[0]
        for entry in os.listdir(d):
            p = os.path.join(d, entry)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        return d


def _put(payload, rel, content, mode):
    rel = os.path.normpath(rel)
    if rel.startswith("..") or os.path.isabs(rel):
        raise podspec.ConfigError("volume item path %r must be relative and inside the volume" % rel)
    payload[rel] = (content, mode)


def _items(obj, is_secret, items, default_mode, optional, what, payload):
    """A ConfigMap's or Secret's keys (or the chosen items) into payload."""
    data = {}
    for k, v in (obj.get("data") or {}).items():
        data[k] = base64.b64decode(v) if is_secret else v.encode()
    if not is_secret:
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v)
    if items:
        for it in items:
            if it.get("key") not in data:
                if optional:
                    continue
                raise podspec.ConfigError("configmap/secret %s has no key %s" % (what, it.get("key")))
            _put(payload, it.get("path") or it["key"], data[it["key"]], it.get("mode", default_mode))
    else:
        for k, v in data.items():
            _put(payload, k, v, default_mode)


def _payload(pod, vol, lookup, sa_token):
    """{relative path: (bytes, mode)} of a configMap/secret/downwardAPI/projected volume."""
    ns = pod["metadata"].get("namespace", "default")
    payload = {}

    def one(kind, src, default_mode):
        name = src.get("name") if kind == "configmaps" else src.get("secretName", src.get("name"))
        obj = lookup(kind, ns, name)
        if obj is None:
            if src.get("optional"):
                return
            raise podspec.ConfigError('%s "%s" not found' % (kind[:-1], name))
        _items(obj, kind == "secrets", src.get("items"), src.get("defaultMode", default_mode),
               src.get("optional"), "%s/%s" % (ns, name), payload)

    def downward(items, default_mode):
        for it in items or []:
            val = podspec.field_value(pod, it["fieldRef"].get("fieldPath", "")) if "fieldRef" in it else ""
            _put(payload, it["path"], val.encode(), it.get("mode", default_mode))

    if "configMap" in vol:
        one("configmaps", vol["configMap"], vol["configMap"].get("defaultMode", 0o644))
    elif "secret" in vol:
        one("secrets", vol["secret"], vol["secret"].get("defaultMode", 0o644))
    elif "downwardAPI" in vol:
        downward(vol["downwardAPI"].get("items"), vol["downwardAPI"].get("defaultMode", 0o644))
    elif "projected" in vol:
        mode = vol["projected"].get("defaultMode", 0o644)
        for src in vol["projected"].get("sources") or []:
            if "configMap" in src:
                one("configmaps", src["configMap"], mode)
            elif "secret" in src:
                one("secrets", src["secret"], mode)
            elif "downwardAPI" in src:
                downward(src["downwardAPI"].get("items"), mode)
            elif "serviceAccountToken" in src:
                try:
                    tok = sa_token(src["serviceAccountToken"])
                except Exception as e:
                    raise podspec.ConfigError("serviceAccountToken projection: %s" % e) from None
                _put(payload, src["serviceAccountToken"].get("path", "token"), tok.encode(), mode)
    return payload


def _current(dest):
    """The contents the volume shows now (through ..data), or None."""
    data = os.path.join(dest, "..data")
    if not os.path.islink(data):
        return None
    out = {}
    for root, _, files in os.walk(data + "/"):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, data + "/")] = fh.read()
    return out


def _publish(dest, payload):
    """kubelet's atomic writer: the files in a new ..<time> directory, then the
    ..data symlink swapped to it in one rename, so a reader (etcd reloading
    its certificate) sees the old set or the new set, never a mix; top-level
    names are symlinks through ..data."""
    os.makedirs(dest, exist_ok=True)
    stamp = "..%s" % time.strftime("%Y_%m_%d_%H_%M_%S.") + "%06d" % (time.time_ns() // 1000 % 1000000)
    tsdir = os.path.join(dest, stamp)
    os.makedirs(tsdir)
    for rel, (content, mode) in payload.items():
        p = os.path.join(tsdir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content)
        os.chmod(p, mode)
    data = os.path.join(dest, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    tmp = os.path.join(dest, "..data_tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(stamp, tmp)
    os.rename(tmp, data)
    tops = {rel.split(os.sep, 1)[0] for rel in payload}
    for top in tops:
        link = os.path.join(dest, top)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..data", top), link)
    for name in os.listdir(dest):
        if not name.startswith("..") and name not in tops and os.path.islink(os.path.join(dest, name)):
            os.unlink(os.path.join(dest, name))
    if old and old != stamp:
        shutil.rmtree(os.path.join(dest, old), ignore_errors=True)


def materialise(pod, vol, dest, lookup, sa_token=None):
    """Write the files of a configMap/secret/downwardAPI/projected volume into dest.

    lookup(kind, ns, name) -> object or None; sa_token(source) -> a token for
    a serviceAccountToken projection. ConfigError when a required object is missing."""
    payload = _payload(pod, vol, lookup, sa_token)
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    _publish(dest, payload)
    return dest


def refreshable(vol):
    """A volume kubelet keeps in step with its objects (a token is not: it is
    refreshed near its expiry, which the bed's tests never reach)."""
    if "projected" in vol:
        return not any("serviceAccountToken" in s for s in vol["projected"].get("sources") or [])
    return any(k in vol for k in ("configMap", "secret", "downwardAPI"))


def refresh(pod, vol, dest, lookup):
    """Bring a running Pod's volume in step with its ConfigMap/Secret, as kubelet's
    periodic sync does; True when the files changed. A missing object keeps the
    files (kubelet does too)."""
    payload = _payload(pod, vol, lookup, None)
    if _current(dest) == {rel: content for rel, (content, _) in payload.items()}:
        return False  # modes are not compared: fsGroup adds group bits
    _publish(dest, payload)
    return True
