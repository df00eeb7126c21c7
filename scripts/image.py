#!/usr/bin/env python3
"""scripts/image.py — the operator's OCI image, built without a container
daemon, from the binaries `make` built (`make image` runs it).

    scripts/image.py --build build --out build/image --version V --name REPO

writes, under --out:
    oci/                    an OCI image layout (oci-layout, index.json, blobs/sha256/…)
    etcd-operator.oci.tar   the same layout as one tar (skopeo's "oci-archive:")
    sbom.spdx.json          SPDX 2.3: the Debian packages whose files are in the image
    digest                  the image (manifest) digest, sha256:…

The one idea: the image is a pure function of its inputs. Every byte is
written here — tar headers (sorted names, uid/gid 0, numeric, one mtime),
the gzip header (mtime 0, no name), the JSON (sorted keys, no spaces) and
the created time (SOURCE_DATE_EPOCH, the commit's time) — so the same
binaries and the same Debian packages give the same digest, which
test/integration/test_image.py checks. A container tool (crane, umoci)
would still need this reproducible layer tar made first and could not set
the created time and user without a registry or extra passes; umoci is used
by the test instead, as an independent reader that checks what this writes.

Contents, nothing else: the programs (stripped) in /usr/local/bin; the
shared libraries they load (ldd's closure, as this bookworm machine's
packages ship them, at their merged-/usr paths with the soname links) and
the dynamic loader; /lib and /lib64 as links into /usr as on Debian; CA
certificates; /etc/passwd and /etc/group with the non-root user 65532;
an empty /tmp. No shell, no package manager. The config runs as 65532:65532.

The writing is a library too (Tree, init_layout, write_image, write_index,
operator_tree): the test bed's image store (test/kbed/imagestore.py) builds
etcd images with it and takes this image as `make image` made it.
"""
import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

PROGRAMS = ["etcd-controller", "etcd-webhook", "kubectl-etcd", "etcd-certs", "etcd-member-guard"]
CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
USER = "65532:65532"
PASSWD = ("root:x:0:0:root:/root:/usr/sbin/nologin\n"
          "nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin\n")
GROUP = "root:x:0:\nnonroot:x:65532:\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_INDEX = "application/vnd.oci.image.index.v1+json"


def die(msg):
    print(f"image: {msg}", file=sys.stderr)
    sys.exit(1)


def canon_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Tree:
    """The image's files: path (no leading /) → (kind, payload, mode, host path or None)."""

    def __init__(self):
        self.entries = {}

    def _parents(self, path):
        d = os.path.dirname(path)
        while d and d not in self.entries:
            self.entries[d] = ("dir", None, 0o755, None)
            d = os.path.dirname(d)

    def add_dir(self, path, mode=0o755):
        self._parents(path)
        self.entries[path] = ("dir", None, mode, None)

    def add_file(self, path, data, mode=0o644, host=None):
        self._parents(path)
        self.entries[path] = ("file", data, mode, host)

    def add_link(self, path, target, host=None):
        self._parents(path)
        self.entries[path] = ("link", target, 0o777, host)

    def tar(self, mtime):
        """The layer: sorted names, root-owned, numeric, one mtime, ustar (no pax records)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
            for path in sorted(self.entries):
                kind, payload, mode, _ = self.entries[path]
                ti = tarfile.TarInfo(path)
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname, ti.mode = mtime, 0, 0, "", "", mode
                if kind == "dir":
                    ti.type = tarfile.DIRTYPE
                    t.addfile(ti)
                elif kind == "link":
                    ti.type, ti.linkname = tarfile.SYMTYPE, payload
                    t.addfile(ti)
                else:
                    ti.size = len(payload)
                    t.addfile(ti, io.BytesIO(payload))
        return buf.getvalue()


def add_host_object(tree, host_path):
    """A library as ldd names it (/lib/x86_64-linux-gnu/libc.so.6): the real
    file at its canonical path, and the name ldd used as a link to it when
    the name is a soname link. Returns the host files it read."""
    real = os.path.realpath(host_path)
    name_dir = os.path.realpath(os.path.dirname(host_path))
    name = os.path.join(name_dir, os.path.basename(host_path))
    with open(real, "rb") as f:
        tree.add_file(real.lstrip("/"), f.read(), os.stat(real).st_mode & 0o755, host=real)
    if name != real:
        tree.add_link(name.lstrip("/"), os.path.relpath(real, name_dir), host=host_path)
    return [host_path, real]


def ldd_closure(binary):
    """The shared objects a dynamic binary loads, loader included; [] for a static one."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode != 0 or "not a dynamic executable" in r.stdout + r.stderr:
        return []
    libs = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            i = parts.index("=>")
            if i + 1 < len(parts) and parts[i + 1].startswith("/"):
                libs.append(parts[i + 1])
            elif "not found" in line:
                die(f"{binary}: {line.strip()}")
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])  # the loader
    return libs


def dpkg_owners(paths):
    """host path → Debian package (name:arch) for each path dpkg knows."""
    r = subprocess.run(["dpkg-query", "-S"] + sorted(set(paths)), capture_output=True, text=True)
    owners = {}
    for line in r.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        if path and "," not in pkgs and not pkgs.startswith("diversion"):
            owners[path] = pkgs
    return owners


def dpkg_versions(pkgs):
    fmt = "${binary:Package}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n"
    r = subprocess.run(["dpkg-query", "-W", "-f", fmt] + sorted(pkgs), capture_output=True, text=True)
    if r.returncode != 0:
        die(f"dpkg-query -W: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        bp, name, ver, arch, src, srcver = line.split("\t")
        out[bp] = {"name": name, "version": ver, "arch": arch, "source": src, "source_version": srcver}
    return out


def spdx_id(s):
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in s)


def sbom(tree, args, created, digest, revision):
    """SPDX 2.3 JSON: the image, the operator's programs, and every Debian
    package a file of the image came from (dpkg decides, version from dpkg)."""
    host_files = {}  # image path → the host paths it was read as
    for path, (kind, _, _, host) in tree.entries.items():
        if host:
            host_files.setdefault(path, set()).add(host)
            # dpkg records some files under /lib (before merged /usr), some under /usr/lib
            for alt in (host.replace("/usr/lib/", "/lib/", 1), host.replace("/lib/", "/usr/lib/", 1)):
                host_files[path].add(alt)
    owners = dpkg_owners([h for hs in host_files.values() for h in hs])
    file_pkg = {}
    for path, hs in host_files.items():
        for h in sorted(hs):
            if h in owners:
                file_pkg[path] = owners[h]
                break
    pkgs = set(file_pkg.values())
    # the CA bundle is made by update-ca-certificates from this package's
    # certificates, so dpkg owns no such file; name the package all the same
    pkgs.add(subprocess.run(["dpkg-query", "-W", "-f", "${binary:Package}", "ca-certificates"],
                            capture_output=True, text=True).stdout.strip() or "ca-certificates")
    versions = dpkg_versions(pkgs)
    image_id = "SPDXRef-Image"
    op_id = "SPDXRef-Package-etcd-k8s-operator"
    packages = [
        {"SPDXID": image_id, "name": args.name, "versionInfo": args.version,
         "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER",
         "checksums": [{"algorithm": "SHA256", "checksumValue": digest.split(":", 1)[1]}],
         "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                           "referenceLocator": f"pkg:oci/etcd-operator@{digest.replace(':', '%3A')}"
                                               f"?repository_url={args.name.rsplit('/', 1)[0]}"}]},
        {"SPDXID": op_id, "name": "etcd-k8s-operator", "versionInfo": args.version,
         "downloadLocation": "https://github.com/etcd-k8s-operator/etcd-k8s-operator",
         "sourceInfo": f"git revision {revision}", "filesAnalyzed": False,
         "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
         "primaryPackagePurpose": "APPLICATION"},
    ]
    rels = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image_id},
            {"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": op_id}]
    for bp in sorted(versions):
        v = versions[bp]
        pid = "SPDXRef-Package-deb-" + spdx_id(f"{v['name']}-{v['arch']}")
        packages.append({
            "SPDXID": pid, "name": v["name"], "versionInfo": v["version"], "supplier": "Organization: Debian",
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
            "sourceInfo": f"built from Debian source package {v['source']} {v['source_version']}",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": f"pkg:deb/debian/{v['name']}@{v['version']}"
                                                  f"?arch={v['arch']}&distro=debian-12"}]})
        rels.append({"spdxElementId": image_id, "relationshipType": "CONTAINS", "relatedSpdxElement": pid})
    files = []
    for path in sorted(tree.entries):
        kind, data, _, _ = tree.entries[path]
        if kind != "file":
            continue
        fid = "SPDXRef-File-" + spdx_id(path)
        files.append({"SPDXID": fid, "fileName": "/" + path,
                      "checksums": [{"algorithm": "SHA1", "checksumValue": hashlib.sha1(data).hexdigest()},
                                    {"algorithm": "SHA256", "checksumValue": hashlib.sha256(data).hexdigest()}],
                      "licenseConcluded": "NOASSERTION", "copyrightText": "NOASSERTION"})
        owner = file_pkg.get(path)
        if owner:
            owner_id = "SPDXRef-Package-deb-" + spdx_id(f"{versions[owner]['name']}-{versions[owner]['arch']}")
        elif path.startswith("usr/local/bin/"):
            owner_id = op_id
        else:
            owner_id = image_id
        rels.append({"spdxElementId": owner_id, "relationshipType": "CONTAINS", "relatedSpdxElement": fid})
    return {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{args.name}:{args.version}",
        "documentNamespace": f"https://github.com/etcd-k8s-operator/etcd-k8s-operator/spdx/"
                             f"etcd-operator-{args.version}-{digest.split(':', 1)[1]}",
        "creationInfo": {"created": created, "creators": ["Tool: etcd-k8s-operator-scripts-image.py"]},
        "documentDescribes": [image_id],
        "packages": packages, "files": files, "relationships": rels,
    }


def write_blob(layout, data):
    d = sha256(data)
    with open(os.path.join(layout, "blobs", "sha256", d.split(":", 1)[1]), "wb") as f:
        f.write(data)
    return d


def init_layout(layout):
    """An OCI image layout's skeleton (blobs/sha256 and oci-layout); keeps what is there."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(canon_json({"imageLayoutVersion": "1.0.0"}))


def write_image(layout, tree, image_config, epoch, created_by, annotations=None):
    """One single-layer image of tree into layout's blobs, every byte
    reproducible (see the module comment): the layer, the config (the
    container config image_config: User, Entrypoint, Cmd, Env, WorkingDir,
    Labels…) and the manifest. Returns the manifest's descriptor (mediaType,
    digest, size) for an index; the index is the caller's (write_index)."""
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    layer_tar = tree.tar(epoch)
    layer_gz = gzip.compress(layer_tar, compresslevel=6, mtime=0)
    config = {
        "created": created, "architecture": "amd64", "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
        "history": [{"created": created, "created_by": created_by}],
    }
    config_b = canon_json(config)
    layer_d = write_blob(layout, layer_gz)
    config_d = write_blob(layout, config_b)
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": config_d, "size": len(config_b)},
                "layers": [{"mediaType": MT_LAYER, "digest": layer_d, "size": len(layer_gz)}]}
    if annotations:
        manifest["annotations"] = annotations
    manifest_b = canon_json(manifest)
    return {"mediaType": MT_MANIFEST, "digest": write_blob(layout, manifest_b), "size": len(manifest_b),
            "_layer": (len(layer_tar), len(layer_gz))}


def write_index(layout, descriptors):
    """layout's index.json: these manifest descriptors, in this order."""
    index = {"schemaVersion": 2, "mediaType": MT_INDEX,
             "manifests": [{k: v for k, v in d.items() if not k.startswith("_")} for d in descriptors]}
    tmp = os.path.join(layout, "index.json.tmp")
    with open(tmp, "wb") as f:
        f.write(canon_json(index))
    os.replace(tmp, os.path.join(layout, "index.json"))


def operator_tree(build):
    """The operator image's files from the programs in build (see the module comment)."""
    tree = Tree()
    libs = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in PROGRAMS:
            src = os.path.join(build, p)
            if not os.access(src, os.X_OK):
                die(f"{src} is not built (make)")
            stripped = os.path.join(tmp, p)
            subprocess.run(["strip", "-o", stripped, src], check=True)
            with open(stripped, "rb") as f:
                tree.add_file(f"usr/local/bin/{p}", f.read(), 0o755)
            libs += ldd_closure(src)
    for lib in sorted(set(libs)):
        add_host_object(tree, lib)
    with open(CA_FILE, "rb") as f:
        tree.add_file(CA_FILE.lstrip("/"), f.read(), 0o644, host=CA_FILE)
    tree.add_file("etc/passwd", PASSWD.encode())
    tree.add_file("etc/group", GROUP.encode())
    tree.add_file("etc/nsswitch.conf", NSSWITCH.encode())
    tree.add_dir("tmp", 0o1777)
    # merged /usr, as on Debian: the loader's path in every ELF is /lib64/…
    tree.add_link("lib", "usr/lib")
    tree.add_link("lib64", "usr/lib64")
    return tree


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="where make put the programs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--name", default="ghcr.io/etcd-k8s-operator/etcd-operator")
    ap.add_argument("--revision", default="unknown", help="the git commit, for the labels")
    args = ap.parse_args()

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    tree = operator_tree(args.build)
    labels = {"org.opencontainers.image.title": "etcd-k8s-operator",
              "org.opencontainers.image.description":
                  "Safe, one-member-at-a-time scaling of etcd clusters on Kubernetes",
              "org.opencontainers.image.source": "https://github.com/etcd-k8s-operator/etcd-k8s-operator",
              "org.opencontainers.image.version": args.version,
              "org.opencontainers.image.revision": args.revision,
              "org.opencontainers.image.created": created}
    revision = args.revision
    layout = os.path.join(args.out, "oci")
    shutil.rmtree(layout, ignore_errors=True)
    init_layout(layout)
    desc = write_image(layout, tree, {"User": USER, "Entrypoint": ["/usr/local/bin/etcd-controller"],
                                      "WorkingDir": "/", "Env": ["PATH=/usr/local/bin", f"SSL_CERT_FILE={CA_FILE}"],
                                      "Labels": labels},
                       epoch, f"scripts/image.py (make image, {args.version})", labels)
    digest = desc["digest"]
    ref = f"{args.name}:{args.version}"
    write_index(layout, [dict(desc, annotations={"org.opencontainers.image.ref.name": args.version,
                                                 "io.containerd.image.name": ref})])

    # the layout as one archive, made as reproducibly as the layer
    archive = Tree()
    for dirpath, dirnames, filenames in os.walk(layout):
        rel = os.path.relpath(dirpath, layout)
        if rel != ".":
            archive.add_dir(rel)
        for fn in filenames:
            with open(os.path.join(dirpath, fn), "rb") as f:
                archive.add_file(os.path.normpath(os.path.join(rel, fn)), f.read())
    with open(os.path.join(args.out, "etcd-operator.oci.tar"), "wb") as f:
        f.write(archive.tar(epoch))

    with open(os.path.join(args.out, "sbom.spdx.json"), "w") as f:
        json.dump(sbom(tree, args, created, digest, revision), f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(args.out, "digest"), "w") as f:
        f.write(digest + "\n")
    nfiles = sum(1 for k in tree.entries.values() if k[0] == "file")
    tar_n, gz_n = desc["_layer"]
    print(f"image: {ref} {digest}\n"
          f"image: {nfiles} files, layer {tar_n >> 20} MiB ({gz_n >> 20} MiB gzip), "
          f"created {created}; layout {layout}, archive and SBOM in {args.out}")


if __name__ == "__main__":
    main()
