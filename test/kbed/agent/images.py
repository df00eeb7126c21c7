"""The bed's images: a local OCI store the node agent pulls from, and the
root file systems unpacked from it.

The store is one OCI image layout (oci-layout, index.json, blobs/sha256) in
STORE/oci, every image named by a full reference in its index entry
(`org.opencontainers.image.ref.name` and `io.containerd.image.name`, as
containerd and skopeo's `oci:` transport write them). It is filled once and
reused (STORE defaults to BUILD/kbed-images; fill() only adds what is
missing or stale), from:

- this project's image as `make image` made it (BUILD/image/oci); when that
  is missing or older than BUILD's programs, the bed runs scripts/image.py
  itself exactly as `make image` does (never `make`: the bed does not
  build), so the digest is the one `make image` gives. It is tagged with its
  git version and also under EC_OPERATOR_IMAGE (shared/api/cluster.h,
  `…/etcd-operator:0.1.0`), the name manifests/ and the controller's
  --operator-image default use, so the manifests apply unchanged;
- etcd images from the cached etcd releases (scripts/kube-bins.sh; static Go
  builds), written with scripts/image.py's code, one layer like upstream's
  distroless image: etcd, etcdctl, etcdutl in /usr/local/bin, CA
  certificates, /etc/passwd, /tmp, /var/lib/etcd, CMD /usr/local/bin/etcd,
  root. Tagged as upstream publishes them: gcr.io/etcd-development/etcd:vX.Y.Z
  and quay.io/coreos/etcd:vX.Y.Z.

No shell image: no test runs one (a Pod asking for busybox fails as
ErrImagePull, as any image the store lacks).

Pulling (pull()) resolves name:tag or name@sha256:… (Docker's normalisation:
busybox is docker.io/library/busybox:latest), reads the config, and unpacks
the layers once per manifest digest into STORE/rootfs/<hex> (tarfile,
numeric owners and modes kept). What it does not handle it refuses rather
than unpacks wrongly: whiteouts (.wh.* — layers are applied in order without
deletions), device nodes and fifos, paths or hard links leaving the root,
extraction through a symbolic link, media types other than tar/tar+gzip, a
blob whose digest does not match. The sandbox mounts that directory, never
modified, as the lower layer of an overlay (sandbox.py).

One lock file serialises fills and unpacks between beds sharing a store.
"""
import fcntl
import gzip
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
IMAGE_PY = os.path.join(ROOT, "scripts", "image.py")
CLUSTER_H = os.path.join(ROOT, "shared", "api", "cluster.h")
OPERATOR_REPO = "ghcr.io/etcd-k8s-operator/etcd-operator"
ETCD_REPOS = ("gcr.io/etcd-development/etcd", "quay.io/coreos/etcd")
ETCD_PROGRAMS = ("etcd", "etcdctl", "etcdutl")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REF_NAME = "org.opencontainers.image.ref.name"
CTRD_NAME = "io.containerd.image.name"
SOURCE = "dev.kbed.source"      # what an entry was made from, to tell when it is stale
LAYER_TYPES = ("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar",
               "application/vnd.docker.image.rootfs.diff.tar.gzip")
GC_AGE = 3600                    # an unreferenced root file system is removed after an hour unused
# distroless's users (gcr.io/distroless/static: root, nobody, nonroot)
ETCD_PASSWD = ("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
               "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
ETCD_GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"


class PullError(Exception):
    """The image cannot be pulled; the message is kubelet's (after "Failed to pull image …: ")."""


def _image_lib():
    mod = sys.modules.get("eo_image")
    if mod is None:
        spec = importlib.util.spec_from_file_location("eo_image", IMAGE_PY)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["eo_image"] = mod
    return mod


def manifests_image():
    """EC_OPERATOR_IMAGE, the operator image the manifests and the controller name."""
    try:
        with open(CLUSTER_H) as f:
            m = re.search(r'#define\s+EC_OPERATOR_IMAGE\s+"([^"]+)"', f.read())
        if m:
            return m.group(1)
    except OSError:
        pass
    return OPERATOR_REPO + ":0.1.0"


def normalize(ref):
    """(repository, tag or None, digest or None), Docker's way: a name without a
    registry is on docker.io, a single name in library/, no tag and no digest is :latest."""
    ref = (ref or "").strip()
    name, _, digest = ref.partition("@")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    if not tag and not digest:
        tag = "latest"
    return name, tag, digest or None


def canonical(ref):
    name, tag, digest = normalize(ref)
    return name + (":" + tag if tag else "") + ("@" + digest if digest else "")


class Image:
    """A pulled image: its reference, manifest digest, container config and unpacked root."""

    def __init__(self, ref, repo, digest, config, rootfs):
        self.ref, self.repo, self.digest, self.config, self.rootfs = ref, repo, digest, config, rootfs

    @property
    def image_id(self):
        return "%s@%s" % (self.repo, self.digest)


class Store:
    def __init__(self, root):
        self.root = root
        self.layout = os.path.join(root, "oci")
        self.rootfs_dir = os.path.join(root, "rootfs")
        os.makedirs(self.rootfs_dir, exist_ok=True)
        os.chmod(root, 0o755)

    # ---- the layout ------------------------------------------------------
    def _lock(self):
        f = open(os.path.join(self.root, "lock"), "a")
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    def _blob(self, digest):
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexd):
            raise PullError("unsupported digest %s" % digest)
        return os.path.join(self.layout, "blobs", "sha256", hexd)

    def entries(self):
        try:
            with open(os.path.join(self.layout, "index.json")) as f:
                return json.load(f).get("manifests") or []
        except (OSError, ValueError):
            return []

    def _complete(self, desc):
        """Whether the manifest and every blob it names are in the store."""
        try:
            with open(self._blob(desc["digest"]), "rb") as f:
                m = json.load(f)
            return all(os.path.exists(self._blob(d["digest"])) for d in [m["config"]] + m["layers"])
        except (OSError, ValueError, KeyError, PullError):
            return False

    def refs(self):
        """{reference: manifest digest} of the store."""
        return {e["annotations"][REF_NAME]: e["digest"] for e in self.entries()
                if (e.get("annotations") or {}).get(REF_NAME)}

    # ---- filling ---------------------------------------------------------
    def fill(self, build, etcd_bins, log=None):
        """Add this project's image (from build) and an etcd image per cached
        release; what is there and current is kept. Returns {ref: digest}."""
        lib = _image_lib()
        with self._lock():
            lib.init_layout(self.layout)
            entries = [e for e in self.entries() if self._complete(e)]
            if build:
                entries = self._fill_operator(lib, build, entries, log)
            for version in sorted(etcd_bins or {}):
                entries = self._fill_etcd(lib, version, etcd_bins[version], entries, log)
            lib.write_index(self.layout, entries)
            self._gc(entries)
        return self.refs()

    @staticmethod
    def _entry(desc, ref, source):
        return {"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"],
                "annotations": {REF_NAME: ref, CTRD_NAME: ref, SOURCE: source}}

    def _fill_operator(self, lib, build, entries, log):
        image_dir = os.path.join(build, "image")
        digest_file = os.path.join(image_dir, "digest")
        progs = [os.path.join(build, p) for p in lib.PROGRAMS]
        if not all(os.access(p, os.X_OK) for p in progs):
            if log:
                log.warning("image store: %s has not all of %s (make): no operator image", build, lib.PROGRAMS)
            return entries
        newest = max(os.stat(p).st_mtime for p in progs + [IMAGE_PY])
        if not os.path.exists(digest_file) or os.stat(digest_file).st_mtime < newest:
            self._make_image(build, image_dir, log)
        src = os.path.join(image_dir, "oci")
        with open(os.path.join(src, "index.json")) as f:
            desc = json.load(f)["manifests"][0]
        with open(os.path.join(src, "blobs", "sha256", desc["digest"].split(":", 1)[1]), "rb") as f:
            manifest = json.load(f)
        for d in [desc, manifest["config"]] + manifest["layers"]:
            dst = self._blob(d["digest"])
            if not os.path.exists(dst):
                _link_or_copy(os.path.join(src, "blobs", "sha256", d["digest"].split(":", 1)[1]), dst)
        made = desc["annotations"].get(CTRD_NAME) or OPERATOR_REPO + ":" + desc["annotations"][REF_NAME]
        refs = [made] + [r for r in [manifests_image()] if r != made]
        repo = normalize(made)[0]
        entries = [e for e in entries if normalize(e["annotations"].get(REF_NAME, ""))[0] != repo]
        return entries + [self._entry(desc, r, "make image: " + build) for r in refs]

    @staticmethod
    def _make_image(build, out, log):
        """`make image`'s recipe without `make all` (the bed does not build)."""
        def git(*a):  # "" without git or outside a checkout: the image is still made
            try:
                r = subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True)
            except OSError:
                return ""
            return r.stdout.strip() if r.returncode == 0 else ""
        version = subprocess.run([os.path.join(ROOT, "scripts", "version.sh")], capture_output=True,
                                 text=True).stdout.strip() or "0.0.0-unknown"
        env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH") or git("log", "-1", "--format=%ct") or "0")
        if log:
            log.info("image store: %s/image missing or older than the programs: scripts/image.py (as make image)", build)
        r = subprocess.run([sys.executable, IMAGE_PY, "--build", build, "--out", out, "--name", OPERATOR_REPO,
                            "--version", version, "--revision", git("rev-parse", "HEAD") or "unknown"],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError("scripts/image.py: %s" % (r.stderr.strip() or r.stdout.strip()))

    def _fill_etcd(self, lib, version, bin_dir, entries, log):
        source = "etcd release " + os.path.abspath(bin_dir)
        refs = ["%s:v%s" % (repo, version) for repo in ETCD_REPOS]
        have = {e["annotations"].get(REF_NAME): e for e in entries}
        if all(r in have and have[r]["annotations"].get(SOURCE) == source for r in refs):
            return entries
        if not all(os.path.isfile(os.path.join(bin_dir, p)) for p in ETCD_PROGRAMS):
            if log:
                log.warning("image store: %s lacks one of %s: no etcd %s image", bin_dir, ETCD_PROGRAMS, version)
            return entries
        t0 = time.monotonic()
        tree = lib.Tree()
        for p in ETCD_PROGRAMS:
            with open(os.path.join(bin_dir, p), "rb") as f:
                tree.add_file("usr/local/bin/" + p, f.read(), 0o755)
        with open(lib.CA_FILE, "rb") as f:
            tree.add_file(lib.CA_FILE.lstrip("/"), f.read(), 0o644)
        tree.add_file("etc/passwd", ETCD_PASSWD.encode())
        tree.add_file("etc/group", ETCD_GROUP.encode())
        tree.add_file("etc/nsswitch.conf", lib.NSSWITCH.encode())
        tree.add_dir("tmp", 0o1777)
        tree.add_dir("var/etcd", 0o755)
        tree.add_dir("var/lib/etcd", 0o755)
        labels = {"org.opencontainers.image.title": "etcd", "org.opencontainers.image.version": "v" + version,
                  "org.opencontainers.image.source": "https://github.com/etcd-io/etcd",
                  "org.opencontainers.image.description": "etcd v%s, as the test bed builds it from the "
                                                          "release binaries (upstream's layout)" % version}
        # upstream: FROM distroless/static; ADD etcd etcdctl etcdutl /usr/local/bin/;
        # WORKDIR /var/etcd/; WORKDIR /var/lib/etcd/; EXPOSE 2379 2380; CMD ["/usr/local/bin/etcd"]
        config = {"Cmd": ["/usr/local/bin/etcd"], "WorkingDir": "/var/lib/etcd",
                  "Env": ["PATH=" + DEFAULT_PATH, "SSL_CERT_FILE=" + lib.CA_FILE],
                  "ExposedPorts": {"2379/tcp": {}, "2380/tcp": {}}, "Labels": labels}
        desc = lib.write_image(self.layout, tree, config, 0, "test/kbed image store (etcd %s)" % version, labels)
        if log:
            log.info("image store: etcd v%s image %s in %.1fs", version, desc["digest"], time.monotonic() - t0)
        entries = [e for e in entries if e["annotations"].get(REF_NAME) not in refs]
        return entries + [self._entry(desc, r, source) for r in refs]

    def _gc(self, entries):
        keep = set()
        for e in entries:
            keep.add(e["digest"])
            try:
                with open(self._blob(e["digest"]), "rb") as f:
                    m = json.load(f)
                keep.update(d["digest"] for d in [m["config"]] + m["layers"])
            except (OSError, ValueError, KeyError):
                pass
        bdir = os.path.join(self.layout, "blobs", "sha256")
        for h in os.listdir(bdir):
            if "sha256:" + h not in keep:
                os.unlink(os.path.join(bdir, h))
        now = time.time()
        for h in os.listdir(self.rootfs_dir):
            p = os.path.join(self.rootfs_dir, h)
            stale = "sha256:" + h not in keep and now - os.lstat(p).st_mtime > GC_AGE
            if stale or (".tmp" in h and now - os.lstat(p).st_mtime > GC_AGE):
                shutil.rmtree(p, ignore_errors=True)

    # ---- pulling ---------------------------------------------------------
    def resolve(self, ref):
        """The index entry for a reference; PullError (kubelet's NotFound) without one."""
        name, tag, digest = normalize(ref)
        for e in self.entries():
            en, et, _ = normalize((e.get("annotations") or {}).get(REF_NAME, ""))
            if en != name:
                continue
            if (digest and e["digest"] == digest) or (not digest and et == tag):
                return e
        want = canonical(ref)
        raise PullError("rpc error: code = NotFound desc = failed to pull and unpack image \"%s\": failed to "
                        "resolve reference \"%s\": %s: not found" % (want, want, want))

    def pull(self, ref):
        """Image (config, unpacked root) for a reference; PullError."""
        e = self.resolve(ref)
        with open(self._blob(e["digest"]), "rb") as f:
            manifest = json.load(f)
        with open(self._blob(manifest["config"]["digest"]), "rb") as f:
            config = json.load(f)
        if config.get("os", "linux") != "linux" or config.get("architecture", "amd64") != "amd64":
            raise PullError("no matching manifest for linux/amd64 in the store's image %s" % ref)
        rootfs = self.unpack(e["digest"], manifest)
        return Image(ref, normalize(ref)[0], e["digest"], config.get("config") or {}, rootfs)

    def unpack(self, digest, manifest):
        """STORE/rootfs/<hex>: the manifest's layers applied in order, once."""
        dst = os.path.join(self.rootfs_dir, digest.split(":", 1)[1])
        if os.path.isdir(dst):
            os.utime(dst)
            return dst
        with self._lock():
            if os.path.isdir(dst):
                return dst
            tmp = tempfile.mkdtemp(prefix=os.path.basename(dst)[:12] + ".tmp", dir=self.rootfs_dir)
            try:
                os.chmod(tmp, 0o755)
                for layer in manifest.get("layers") or []:
                    self._apply(tmp, layer)
                os.rename(tmp, dst)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return dst

    def _apply(self, root, layer):
        if layer.get("mediaType") not in LAYER_TYPES:
            raise PullError("layer %s: media type %s is not handled by the test bed" % (
                layer.get("digest"), layer.get("mediaType")))
        path = self._blob(layer["digest"])
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if "sha256:" + h.hexdigest() != layer["digest"]:
            raise PullError("layer %s: the blob's digest does not match (a corrupt store)" % layer["digest"])
        real_root = os.path.realpath(root)
        with open(path, "rb") as raw:
            fileobj = gzip.GzipFile(fileobj=raw) if layer["mediaType"].endswith(("gzip", ".gzip")) else raw
            with tarfile.open(fileobj=fileobj, mode="r|") as t:
                for m in t:
                    name = m.name
                    while name.startswith("./"):
                        name = name[2:]
                    name = os.path.normpath(name or ".")
                    if name == ".":
                        continue
                    why = None
                    if m.name.startswith("/") or name.startswith(".."):
                        why = "a path outside the root"
                    elif os.path.basename(name).startswith(".wh."):
                        why = "a whiteout (deletions across layers are not handled)"
                    elif not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
                        why = "a device node or fifo"
                    elif m.islnk() and (m.linkname.startswith("/") or
                                        os.path.normpath(m.linkname).startswith("..")):
                        why = "a hard link outside the root"
                    elif not os.path.realpath(os.path.join(root, os.path.dirname(name))).startswith(real_root):
                        why = "a path through a symbolic link"
                    if why:
                        raise PullError("layer %s: %s refused: %s" % (layer["digest"], m.name, why))
                    m.name = name
                    target = os.path.join(root, name)
                    if os.path.lexists(target) and not (m.isdir() and os.path.isdir(target)
                                                        and not os.path.islink(target)):
                        if os.path.isdir(target) and not os.path.islink(target):
                            shutil.rmtree(target)
                        else:
                            os.unlink(target)
                    t.extract(m, root, numeric_owner=True, **_TRUSTED)


# Every member was checked above, so tarfile's own filter (3.11.4 and later;
# Debian bookworm's python3 is 3.11.2) is told not to second-guess it.
_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def parse_user(user, rootfs):
    """(uid, gid or None, numeric) of an image config's User ("", "uid",
    "uid:gid", "name", "name:group"), names looked up in the image's
    /etc/passwd and /etc/group as runc does; KeyError for an unknown name.
    gid None: the runtime's default (the user's passwd group, else 0)."""
    user = (user or "").strip()
    if not user:
        return 0, None, True
    u, _, g = user.partition(":")
    numeric = u.isdigit()
    uid = int(u) if numeric else _lookup(rootfs, "etc/passwd", u, 2)
    gid = None
    if g:
        gid = int(g) if g.isdigit() else _lookup(rootfs, "etc/group", g, 2)
    return uid, gid, numeric


def passwd_gid(rootfs, uid):
    """The primary group of uid in the image's /etc/passwd, else 0 (runc's default)."""
    try:
        with open(os.path.join(rootfs, "etc", "passwd")) as f:
            for line in f:
                p = line.strip().split(":")
                if len(p) >= 4 and p[2] == str(uid) and p[3].isdigit():
                    return int(p[3])
    except OSError:
        pass
    return 0


def _lookup(rootfs, rel, name, field):
    try:
        with open(os.path.join(rootfs, rel)) as f:
            for line in f:
                p = line.strip().split(":")
                if len(p) > field and p[0] == name and p[field].isdigit():
                    return int(p[field])
    except OSError:
        pass
    raise KeyError("unable to find %s %s: no matching entries in %s file" % (
        "user" if "passwd" in rel else "group", name, os.path.basename(rel)))
