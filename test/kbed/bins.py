"""Where the real binaries are: scripts/kube-bins.sh --print lists the sets
it has built (NAME=DIR lines; a set is complete when DIR/.complete exists).
The bed never builds: run scripts/kube-bins.sh first (make does).

  KBED_KUBE_DIR  a directory with kube-apiserver, kube-controller-manager,
                 kube-scheduler (overrides the cache)
  KBED_ETCD      the etcd binary for the API server's store (overrides)
"""
import os
import re
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "scripts", "kube-bins.sh")
KUBE_BINS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


class BinsError(RuntimeError):
    pass


def _vkey(v):
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.-]", v))


def listed():
    """{"kube": (version, dir), "etcd": {version: dir}} of the complete sets."""
    out = {"kube": None, "etcd": {}}
    try:
        p = subprocess.run([SCRIPT, "--print"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
        text = p.stdout.decode()
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    for line in text.splitlines():
        name, _, d = line.partition("=")
        if not d or not os.path.isfile(os.path.join(d, ".complete")):
            continue
        m = re.match(r"^%s-(.+)-[0-9a-f]+$" % re.escape(name), os.path.basename(d))
        version = m.group(1) if m else "?"
        if name == "kube":
            out["kube"] = (version, d)
        elif name == "etcd":
            out["etcd"][version] = d
    return out


def find():
    """{"kube_dir", "kube_version", "store_etcd", "store_etcd_version", "etcd_bins": {version: dir}}.
    The store is etcd 3.6 (Kubernetes >= 1.34 pairs with 3.6), else the newest 3.5."""
    ls = listed()
    kube_dir = os.environ.get("KBED_KUBE_DIR")
    kube_version = None
    if not kube_dir:
        if not ls["kube"]:
            raise BinsError("the Kubernetes binaries are not built: run scripts/kube-bins.sh (several minutes, "
                            "once; they are cached in ~/.cache/etcd-k8s-operator)")
        kube_version, kube_dir = ls["kube"]
    for b in KUBE_BINS:
        if not os.access(os.path.join(kube_dir, b), os.X_OK):
            raise BinsError("%s is missing from %s" % (b, kube_dir))
    store, store_version = os.environ.get("KBED_ETCD"), None
    if not store:
        for pref in ("3.6.", "3.5."):
            vs = sorted((v for v in ls["etcd"] if v.startswith(pref)), key=_vkey)
            if vs:
                store_version = vs[-1]
                store = os.path.join(ls["etcd"][store_version], "etcd")
                break
    if not store:
        store = shutil.which("etcd")
        if not store:
            raise BinsError("no etcd for the API server's store: run scripts/kube-bins.sh")
        store_version = "PATH"
    return {"kube_dir": kube_dir, "kube_version": kube_version, "store_etcd": store,
            "store_etcd_version": store_version, "etcd_bins": dict(ls["etcd"])}
