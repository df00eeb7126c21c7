"""The bed's certificates, made with the openssl CLI (OpenSSL 3: `req -x509
-CA` issues a leaf in one process). Keys are EC P-256: quick to make and
accepted everywhere (Go, OpenSSL, GnuTLS). Nothing is cached across beds: a
fresh CA per bed, ~25 ms per certificate, the leaves made in parallel.

Everything lands in DIR/pki; keys are written 0600 and never printed.

  ca.crt/key                 the bed CA: client CA, serving CA, cluster signer
  apiserver.crt/key          kube-apiserver serving (127.0.0.1, 10.244.0.1, 10.96.0.1, kubernetes.*)
  admin                      CN=kubernetes-admin, O=system:masters
  controller-manager         CN=system:kube-controller-manager
  scheduler                  CN=system:kube-scheduler
  agent                      CN=kbed-agent, O=system:masters (the node agent)
  apiserver-kubelet-client   CN=kube-apiserver-kubelet-client, O=system:masters
  kubelet                    the agent's kubelet serving cert (node IPs and names)
  sa.key/sa.pub              service-account token signing pair
"""
import os
import subprocess
import tempfile
import threading

APISERVER_IPS = ["127.0.0.1", "10.244.0.1", "10.96.0.1"]
APISERVER_DNS = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local"]


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


_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def make_ca(directory, name="ca", cn="kbed-ca"):
    """DIR/<name>.crt and .key; returns (crt, key)."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "openssl.cnf")
        _config(cfg, ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
                      "subjectKeyIdentifier=hash"])
        _run(["req", "-x509"] + _EC + ["-keyout", key, "-out", crt, "-subj", "/CN=" + cn, "-days", "3650",
                                       "-config", cfg, "-extensions", "ext"], tmp)
    os.chmod(key, 0o600)
    return crt, key


def make_cert(directory, name, ca, cn, orgs=(), dns=(), ips=(), client=False, server=False, days=365):
    """A leaf signed by ca=(crt, key): DIR/<name>.crt and .key; returns (crt, key)."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    usages = (["serverAuth"] if server else []) + (["clientAuth"] if client else [])
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           "authorityKeyIdentifier=keyid", "subjectKeyIdentifier=hash"]
    if usages:
        ext.append("extendedKeyUsage=" + ",".join(usages))
    sans = ["DNS:" + d for d in dns] + ["IP:" + i for i in ips]
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    subj = "".join("/O=" + o for o in orgs) + "/CN=" + cn
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "openssl.cnf")
        _config(cfg, ext)
        _run(["req", "-x509"] + _EC + ["-keyout", key, "-out", crt, "-subj", subj, "-days", str(days),
                                       "-CA", ca[0], "-CAkey", ca[1], "-config", cfg, "-extensions", "ext"], tmp)
    os.chmod(key, 0o600)
    return crt, key


def make_keypair(directory, name="sa"):
    """An EC P-256 private key (PKCS#8) and its public key: DIR/<name>.key, .pub."""
    key, pub = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pub")
    _run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], directory)
    os.chmod(key, 0o600)
    _run(["pkey", "-in", key, "-pubout", "-out", pub], directory)
    return key, pub


def make_all(directory, node_ips, node_names=()):
    """Every certificate the bed needs, in directory (created). Returns
    {name: (crt, key)} plus "sa": (key, pub)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    ca = make_ca(directory)
    jobs = {
        "apiserver": dict(cn="kube-apiserver", dns=APISERVER_DNS, ips=APISERVER_IPS, server=True),
        "admin": dict(cn="kubernetes-admin", orgs=["system:masters"], client=True),
        "controller-manager": dict(cn="system:kube-controller-manager", client=True),
        "scheduler": dict(cn="system:kube-scheduler", client=True),
        "agent": dict(cn="kbed-agent", orgs=["system:masters"], client=True),
        "apiserver-kubelet-client": dict(cn="kube-apiserver-kubelet-client", orgs=["system:masters"], client=True),
        "kubelet": dict(cn="kbed-kubelet", dns=list(node_names) + ["localhost"],
                        ips=list(node_ips) + ["127.0.0.1"], server=True, client=True),
    }
    out, errors = {"ca": ca}, []

    def one(name, kw):
        try:
            out[name] = make_cert(directory, name, ca, **kw)
        except Exception as e:       # reported below, on the caller's thread
            errors.append("%s: %s" % (name, e))

    def sa():
        try:
            out["sa"] = make_keypair(directory, "sa")
        except Exception as e:
            errors.append("sa: %s" % e)

    threads = [threading.Thread(target=one, args=kv) for kv in jobs.items()] + [threading.Thread(target=sa)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise PKIError("; ".join(errors))
    return out
