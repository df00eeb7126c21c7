"""Storage for the bed's Pods: a provisioner that binds every
PersistentVolumeClaim to a directory, and the files of configMap, secret,
downwardAPI and projected volumes.

The one idea: a claim's data is the directory DIR/volumes/<ns>/<claim>, and
the claim's uid is recorded beside it (DIR/volumes/<ns>/.<claim>.uid). A
deleted claim's directory is moved to DIR/volumes/.trash/<uid> at once (a
running Pod's bind mount follows the inode, so it keeps working, as a PV stays
attached until its Pod is gone) and removed once no container uses it; a new
claim of the same name — a StatefulSet scaling up again after the operator
deleted a removed member's PVC — therefore always starts empty, as a freshly
provisioned volume does, and never sees a removed member's data. Reclaim
policy is Delete, the default for dynamically provisioned volumes.
"""
import base64
import logging
import os
import shutil
import threading

import podspec

log = logging.getLogger("kubesim.volumes")


class Volumes:
    def __init__(self, store, state_dir, in_use):
        """in_use() -> uids of the claims live Pods have mounted."""
        self.store, self.in_use = store, in_use
        self.root = os.path.join(state_dir, "volumes")
        self.trash = os.path.join(self.root, ".trash")
        os.makedirs(self.trash, exist_ok=True)
        self._lock = threading.Lock()

    def claim_dir(self, ns, claim):
        return os.path.join(self.root, ns, claim)

    def _uid_file(self, ns, claim):
        return os.path.join(self.root, ns, "." + claim + ".uid")

    # ---- provisioner -----------------------------------------------------
    def on_pvc(self, etype, pvc):
        md = pvc["metadata"]
        ns, name, uid = md.get("namespace", "default"), md["name"], md["uid"]
        with self._lock:
            if etype == "DELETED":
                self._retire(ns, name, uid)
                return
            if (pvc.get("status") or {}).get("phase") == "Bound" and os.path.isdir(self.claim_dir(ns, name)):
                return
            self._provision(ns, name, uid)
        self._bind(pvc)

    def _provision(self, ns, name, uid):
        d, uf = self.claim_dir(ns, name), self._uid_file(ns, name)
        try:
            with open(uf) as f:
                old = f.read().strip()
        except OSError:
            old = None
        if old != uid and os.path.lexists(d):
            os.rename(d, os.path.join(self.trash, old or ("unknown-" + uid)))
        os.makedirs(d, exist_ok=True)
        with open(uf, "w") as f:
            f.write(uid)

    def _retire(self, ns, name, uid):
        d, uf = self.claim_dir(ns, name), self._uid_file(ns, name)
        try:
            with open(uf) as f:
                if f.read().strip() != uid:
                    return   # a newer claim of that name owns the directory
        except OSError:
            return
        if os.path.lexists(d):
            os.rename(d, os.path.join(self.trash, uid))
        os.unlink(uf)
        self.sweep()

    def sweep(self):
        """Remove retired volume directories (named by claim uid) no live Pod still mounts."""
        busy = self.in_use()
        for entry in os.listdir(self.trash):
            if entry not in busy:
                shutil.rmtree(os.path.join(self.trash, entry), ignore_errors=True)

    def _bind(self, pvc):
        md = pvc["metadata"]
        ns, name, uid = md.get("namespace", "default"), md["name"], md["uid"]

        def spec_fn(o):
            if o["metadata"]["uid"] != uid or o["metadata"].get("deletionTimestamp"):
                return False
            ann = o["metadata"].setdefault("annotations", {})
            if o["spec"].get("volumeName") and ann.get("pv.kubernetes.io/bind-completed") == "yes":
                return False
            o["spec"]["volumeName"] = o["spec"].get("volumeName") or "pvc-" + uid
            ann["pv.kubernetes.io/bind-completed"] = "yes"
            ann["pv.kubernetes.io/bound-by-controller"] = "yes"
            ann.setdefault("volume.kubernetes.io/storage-provisioner", "kubesim.local/hostpath")

        def status_fn(o):
            if o["metadata"]["uid"] != uid:
                return False
            spec = o.get("spec") or {}
            want = {"phase": "Bound", "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")}}
            if o.get("status") == want:
                return False
            o["status"] = want
        try:
            self.store.mutate("persistentvolumeclaims", ns, name, spec_fn)
            self.store.mutate("persistentvolumeclaims", ns, name, status_fn, subresource="status")
        except Exception as e:   # deleted meanwhile: nothing to bind
            log.debug("pvc %s/%s not bound: %s", ns, name, e)

    def bound_dir(self, ns, claim):
        """(directory, claim uid) if the claim exists and is bound, else None."""
        try:
            pvc = self.store.get("persistentvolumeclaims", ns, claim)
        except Exception:
            return None
        if pvc["metadata"].get("deletionTimestamp"):
            return None
        with self._lock:
            try:
                with open(self._uid_file(ns, claim)) as f:
                    if f.read().strip() != pvc["metadata"]["uid"]:
                        return None
            except OSError:
                return None
        d = self.claim_dir(ns, claim)
        return (d, pvc["metadata"]["uid"]) if os.path.isdir(d) else None

    def wipe(self, ns, claim):
        """Fault: the claim's volume lost its data (contents removed in place)."""
        d = self.claim_dir(ns, claim)
        if not os.path.isdir(d):
            raise LookupError('no volume for persistentvolumeclaim "%s" in namespace "%s"' % (claim, ns))
        for entry in os.listdir(d):
            p = os.path.join(d, entry)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        return d


def _write(dest, rel, content, mode):
    rel = os.path.normpath(rel)
    if rel.startswith("..") or os.path.isabs(rel):
        raise podspec.ConfigError("volume item path %r must be relative and inside the volume" % rel)
    p = os.path.join(dest, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(content)
    os.chmod(p, mode)


def _items(obj, is_secret, items, default_mode, optional, what, dest):
    """Write a ConfigMap's or Secret's keys (or the chosen items) under dest."""
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
            _write(dest, it.get("path") or it["key"], data[it["key"]], it.get("mode", default_mode))
    else:
        for k, v in data.items():
            _write(dest, k, v, default_mode)


def materialise(pod, vol, dest, lookup, sa_token=None):
    """Write the files of a configMap/secret/downwardAPI/projected volume into dest.

    lookup(kind, ns, name) -> object or None; sa_token: (token, ca_pem) for
    serviceAccountToken projections. ConfigError when a required object is missing."""
    ns = pod["metadata"].get("namespace", "default")
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)

    def one(kind, src, default_mode, sub_dest):
        name = src.get("name") if kind == "configmaps" else src.get("secretName", src.get("name"))
        obj = lookup(kind, ns, name)
        if obj is None:
            if src.get("optional"):
                return
            raise podspec.ConfigError('%s "%s" not found' % (kind[:-1], name))
        _items(obj, kind == "secrets", src.get("items"), src.get("defaultMode", default_mode),
               src.get("optional"), "%s/%s" % (ns, name), sub_dest)

    def downward(items, default_mode):
        for it in items or []:
            if "fieldRef" in it:
                val = podspec.field_value(pod, it["fieldRef"].get("fieldPath", ""))
            else:
                val = ""
            _write(dest, it["path"], val.encode(), it.get("mode", default_mode))

    mode = vol.get("defaultMode", 0o644)
    if "configMap" in vol:
        one("configmaps", vol["configMap"], vol["configMap"].get("defaultMode", 0o644), dest)
    elif "secret" in vol:
        one("secrets", vol["secret"], vol["secret"].get("defaultMode", 0o644), dest)
    elif "downwardAPI" in vol:
        downward(vol["downwardAPI"].get("items"), vol["downwardAPI"].get("defaultMode", 0o644))
    elif "projected" in vol:
        mode = vol["projected"].get("defaultMode", 0o644)
        for src in vol["projected"].get("sources") or []:
            if "configMap" in src:
                one("configmaps", src["configMap"], mode, dest)
            elif "secret" in src:
                one("secrets", src["secret"], mode, dest)
            elif "downwardAPI" in src:
                downward(src["downwardAPI"].get("items"), mode)
            elif "serviceAccountToken" in src:
                if sa_token is None:
                    raise podspec.ConfigError("serviceAccountToken projection: the bed was started without an API token")
                _write(dest, src["serviceAccountToken"].get("path", "token"), sa_token[0].encode(), mode)
    return dest
