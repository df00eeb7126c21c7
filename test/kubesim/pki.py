"""Certificates for the bed, made with the openssl CLI (OpenSSL 3: `req -x509
-CA` issues a leaf in one process, so a CA plus two leaves cost three short
processes, ~25 ms each).

One CA per bed signs the API server's serving certificate (127.0.0.1 and
localhost), the client certificates the bed accepts (the CA is also the
client CA, as in a kubeadm cluster) and, for tests, webhook serving
certificates. Keys are P-256 ECDSA: quick to make, accepted by Go (kubectl),
OpenSSL (libcurl) and GnuTLS (libmicrohttpd).

Files are written 0600; nothing here prints key material.
"""
import os
import subprocess
import tempfile


class PKIError(RuntimeError):
    pass


def _run(args, cwd):
    p = subprocess.run(["openssl"] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise PKIError("openssl %s failed (exit %d): %s" % (args[0], p.returncode,
                                                            p.stderr.decode(errors="replace").strip()[-400:]))


def _config(path, ext_lines):
    with open(path, "w") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n[ext]\n" + "\n".join(ext_lines) + "\n")


def make_ca(directory, name="ca", cn="kubesim-ca"):
    """Write DIR/<name>.crt and DIR/<name>.key; return (crt, key) paths."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "openssl.cnf")
        _config(cfg, ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
                      "subjectKeyIdentifier=hash"])
        _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", crt, "-subj", "/CN=" + cn, "-days", "3650",
              "-config", cfg, "-extensions", "ext"], tmp)
    os.chmod(key, 0o600)
    return crt, key


def make_cert(directory, name, ca, cn, orgs=(), dns=(), ips=(), client=False, server=False, days=365):
    """Issue a leaf signed by ca=(crt, key). Returns (crt, key) paths under directory."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    usages = []
    if server:
        usages.append("serverAuth")
    if client:
        usages.append("clientAuth")
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           "authorityKeyIdentifier=keyid"]
    if usages:
        ext.append("extendedKeyUsage=" + ",".join(usages))
    sans = ["DNS:" + d for d in dns] + ["IP:" + i for i in ips]
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    subj = "".join("/O=" + o for o in orgs) + "/CN=" + cn
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "openssl.cnf")
        _config(cfg, ext)
        _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", crt, "-subj", subj, "-days", str(days),
              "-CA", ca[0], "-CAkey", ca[1], "-config", cfg, "-extensions", "ext"], tmp)
    os.chmod(key, 0o600)
    return crt, key
