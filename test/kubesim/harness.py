"""The Python API every end-to-end test uses to get a Kubernetes test bed.

    from harness import Bed            # (sys.path: test/kubesim)
    with Bed(manifests=True) as bed:   # starts a bed; always stopped, also on failure
        bed.kubectl("apply", "-f", "manifests/samples/etcdcluster-demo.yaml")
        bed.wait_for(lambda: bed.get("etcdclusters", "demo").get("status"), 60, "demo has a status")

The idea: a test talks to the bed the ways a user would (the real kubectl on
PATH, plain HTTPS with the bed's token) and everything the harness starts —
the bed, webhooks, controllers, in-cluster commands — is registered in one
place and stopped at the end, in reverse order, by process group, whether
the test passed, failed or was interrupted (context manager + atexit; the
bed itself also dies with this process through --die-with-parent).

Paths: `build_dir` defaults to $EO_BUILD or `build`, and `manifests=True`
means the repository's manifests/; relative paths are tried from the
current directory, then from the repository root (tests run from their own
directory). KUBESIM_KEEP=1 keeps the bed's directory after the test; on a
failure inside `with`, the tail of the bed's log is printed to stderr.
"""
import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BED_PY = os.path.join(HERE, "bed.py")
sys.path.insert(0, HERE)

import bed as bedmod  # noqa: E402
import pki  # noqa: E402


class KubectlError(AssertionError):
    """kubectl exited non-zero; .result is the CompletedProcess."""

    def __init__(self, args, result):
        super().__init__("kubectl %s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), result.returncode, result.stdout.strip()[-2000:], result.stderr.strip()[-2000:]))
        self.result = result


def _resolve(path, must_exist=False):
    if path is None:
        return None
    if os.path.isabs(path):
        return path
    if os.path.exists(path):
        return os.path.abspath(path)
    cand = os.path.join(ROOT, path)
    if os.path.exists(cand) or not must_exist:
        return cand
    return os.path.abspath(path)


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A process the harness started, in its own process group; .log is its output file."""

    def __init__(self, name, popen, log):
        self.name, self.popen, self.log = name, popen, log
        self.pid = popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace=5.0):
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.popen.wait(5)
        else:
            try:   # children it may have left in its group
                os.killpg(self.popen.pid, signal.SIGKILL)
            except OSError:
                pass
        return self.popen.returncode

    def output(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Webhook(Proc):
    """A started admission webhook: .port, .ca (PEM path), .ca_bundle (base64)."""


class Bed:
    def __init__(self, build_dir=None, manifests=False, crds=(), directory=None, kubectl=None,
                 start_timeout=30.0, history=None, grace=3.0, backoff_base=None):
        """backoff_base: the kubelet's restart back-off base in seconds (None: 10, as Kubernetes)."""
        self.build = _resolve(build_dir or os.environ.get("EO_BUILD") or "build")
        if manifests is True:
            self.manifests = os.path.join(ROOT, "manifests")
        else:
            self.manifests = _resolve(manifests) if manifests else None
        self.kubectl_bin = kubectl or os.environ.get("EO_KUBECTL") or shutil.which("kubectl") or "kubectl"
        self.keep = os.environ.get("KUBESIM_KEEP") == "1"
        self.dir = os.path.abspath(directory) if directory else tempfile.mkdtemp(prefix="kubesim-")
        os.makedirs(self.dir, exist_ok=True)
        self._procs = []
        self._webhooks = []
        self._stopped = False
        t0 = time.monotonic()
        try:
            self.info = bedmod.spawn(self.dir, self.build, self.manifests, [_resolve(c) for c in crds],
                                     die_with_parent=os.getpid(), history=history or 10000, grace=grace,
                                     timeout=start_timeout, backoff_base=backoff_base)
        except RuntimeError as e:
            tail = self.bed_log(40)
            self._cleanup_dir()
            raise RuntimeError("%s\n%s" % (e, tail)) from None
        self.startup_seconds = time.monotonic() - t0
        atexit.register(self.stop)
        self.kubeconfig = self.info["kubeconfig"]
        with open(os.path.join(self.dir, "token")) as f:
            self.token = f.read().strip()
        with open(os.path.join(self.dir, "address")) as f:
            self.address = f.read().strip()
        self.ca = os.path.join(self.dir, "ca.crt")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.kubeconfig_cert = os.path.join(self.dir, "kubeconfig-cert")
        self._ssl = ssl.create_default_context(cafile=self.ca)
        self._paths = {}

    # ---- lifecycle -------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is not None and etype is not KeyboardInterrupt:
            sys.stderr.write("\n---- kubesim bed log (tail) from %s ----\n%s\n" % (self.dir, self.bed_log(30)))
        self.stop()
        return False

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        for p in reversed(self._procs):
            try:
                p.stop()
            except Exception as e:  # stopping must go on
                sys.stderr.write("kubesim harness: stopping %s: %s\n" % (p.name, e))
        subprocess.run([sys.executable, "-S", BED_PY, "stop", "--dir", self.dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)
        try:
            self.info["popen"].wait(10)
        except (subprocess.TimeoutExpired, KeyError, AttributeError):
            pass
        self._cleanup_dir()

    def _cleanup_dir(self):
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def bed_log(self, lines=50):
        out = []
        for name in ("bed.log", "bed.out"):
            p = os.path.join(self.dir, "logs", name)
            try:
                with open(p, errors="replace") as f:
                    out.append("".join(f.readlines()[-lines:]))
            except OSError:
                pass
        return "\n".join(out)

    # ---- kubectl and HTTP ------------------------------------------------
    def kubectl(self, *args, input=None, check=True, env=None, timeout=60, kubeconfig=None):
        cmd = [self.kubectl_bin, "--kubeconfig", kubeconfig or self.kubeconfig] + [str(a) for a in args]
        e = dict(os.environ)
        e.pop("KUBECONFIG", None)
        e.setdefault("KUBECACHEDIR", os.path.join(self.dir, "kube-cache"))   # discovery cache dies with the bed
        e.update(env or {})
        r = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=e, timeout=timeout)
        if check and r.returncode != 0:
            raise KubectlError([str(a) for a in args], r)
        return r

    def api(self, method, path, body=None, headers=None, content_type=None, timeout=30, raw=False):
        """(status, decoded JSON or text). body: dict/list (JSON) or bytes/str."""
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPSConnection(host, int(port), context=self._ssl, timeout=timeout)
        h = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = content_type or "application/json"
        elif body is not None:
            h["Content-Type"] = content_type or "application/json"
        h.update(headers or {})
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no 40 ms Nagle wait
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            self.last_headers = r.getheaders()
        finally:
            conn.close()
        if raw:
            return r.status, data
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data.decode(errors="replace")

    def warnings(self):
        """Warning headers of the last api() call, as kubectl would print them."""
        import re
        out = []
        for k, v in getattr(self, "last_headers", []):
            if k.lower() == "warning":
                m = re.match(r'\d{3} \S+ "(.*)"', v)
                out.append(m.group(1).replace('\\"', '"').replace("\\\\", "\\") if m else v)
        return out

    def _discover(self):
        paths = {}
        st, doc = self.api("GET", "/api/v1")
        groups = [("", "v1", doc)]
        st, gl = self.api("GET", "/apis")
        for g in gl.get("groups", []):
            v = g["preferredVersion"]["version"]
            st, d = self.api("GET", "/apis/%s/%s" % (g["name"], v))
            if st == 200:
                groups.append((g["name"], v, d))
        for group, version, d in groups:
            for r in d.get("resources", []):
                if "/" in r["name"]:
                    continue
                base = "/api/v1" if not group else "/apis/%s/%s" % (group, version)
                entry = (base, r["name"], r["namespaced"])
                for n in [r["name"], r.get("singularName", ""), r["kind"].lower()] + r.get("shortNames", []):
                    if n:
                        paths.setdefault(n, entry)
                if group:
                    paths.setdefault("%s.%s" % (r["name"], group), entry)
        self._paths = paths

    def path(self, resource, name=None, ns="default", sub=None):
        """REST path for a resource given as plural, singular, kind, short name or plural.group."""
        key = resource.lower()
        if key not in self._paths:
            self._discover()
        if key not in self._paths:
            raise KeyError("the bed serves no resource %r" % resource)
        base, plural, namespaced = self._paths[key]
        p = base + ("/namespaces/%s" % ns if namespaced and ns else "") + "/" + plural
        if name:
            p += "/" + name
        if sub:
            p += "/" + sub
        return p

    def get(self, resource, name, ns="default", sub=None):
        """The object as a dict, or None when it does not exist."""
        st, out = self.api("GET", self.path(resource, name, ns, sub))
        if st == 404:
            return None
        if st != 200:
            raise AssertionError("GET %s/%s: %s %s" % (resource, name, st, out))
        return out

    def list(self, resource, ns="default", selector=None):
        import urllib.parse
        p = self.path(resource, None, ns)
        if selector:
            p += "?labelSelector=" + urllib.parse.quote(selector)
        st, out = self.api("GET", p)
        if st != 200:
            raise AssertionError("LIST %s: %s %s" % (resource, st, out))
        return out["items"]

    def create(self, obj, ns=None):
        kind = obj["kind"]
        ns = ns or obj.get("metadata", {}).get("namespace") or "default"
        return self.api("POST", self.path(kind, None, ns), obj)

    def patch(self, resource, name, patch, ns="default", type="merge", sub=None):
        ctype = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}[type]
        return self.api("PATCH", self.path(resource, name, ns, sub), patch, content_type=ctype)

    def delete(self, resource, name, ns="default", propagation=None):
        body = {"propagationPolicy": propagation} if propagation else None
        return self.api("DELETE", self.path(resource, name, ns), body)

    def events(self, ns="default", involved=None):
        items = self.list("events", ns)
        if involved:
            items = [e for e in items if e.get("involvedObject", {}).get("name") == involved]
        return items

    def logs(self, pod, container=None, ns="default", previous=False):
        import urllib.parse
        q = {}
        if container:
            q["container"] = container
        if previous:
            q["previous"] = "true"
        p = self.path("pods", pod, ns, "log") + ("?" + urllib.parse.urlencode(q) if q else "")
        st, out = self.api("GET", p, raw=True)
        return out.decode(errors="replace") if st == 200 else ""

    def state(self):
        return self.api("GET", "/_bed/state")[1]

    # ---- faults and services --------------------------------------------
    def fault(self, kind, **params):
        """kind: api | webhook | kill | image | dns | volume (see KUBESIM.md)."""
        st, out = self.api("POST", "/_bed/faults/" + kind, params)
        if st != 200:
            raise AssertionError("fault %s %s: %s %s" % (kind, params, st, out))
        return out

    def clear_faults(self):
        return self.api("DELETE", "/_bed/faults")[1]

    def register_service(self, namespace, name, target, port=443):
        st, out = self.api("POST", "/_bed/services", {"namespace": namespace, "name": name, "port": port,
                                                      "target": target})
        if st != 200:
            raise AssertionError("register service: %s %s" % (st, out))
        return out

    # ---- waiting ---------------------------------------------------------
    def wait_for(self, predicate, timeout=60, what="condition", interval=0.2):
        """Poll predicate() until it returns something truthy; return that.
        On timeout, fail with what was awaited, the last value or error, and
        the Pods' state."""
        deadline = time.monotonic() + timeout
        last, err = None, None
        while True:
            try:
                last = predicate()
                err = None
                if last:
                    return last
            except Exception as e:  # keep polling; report the last error
                err = e
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        pods = []
        try:
            for p in self.list("pods", None):
                st = p.get("status", {})
                pods.append("%s/%s %s ready=%s" % (p["metadata"].get("namespace"), p["metadata"]["name"],
                                                   st.get("phase"), [c.get("ready") for c in st.get("containerStatuses", [])]))
        except Exception:
            pass
        raise AssertionError("timed out after %.0fs waiting for %s; last value: %r%s\npods: %s" % (
            timeout, what, last, "; last error: %s" % err if err else "", "; ".join(pods) or "none"))

    # ---- manifests, certificates, processes ------------------------------
    def apply_manifests(self, paths, namespace=None):
        """kubectl apply each path (a file, a directory, or a kustomization
        directory); caBundle of webhook configurations is filled for webhooks
        this harness has started."""
        if isinstance(paths, str):
            paths = [paths]
        out = []
        for p in paths:
            p = _resolve(p)
            args = ["apply"]
            if os.path.isdir(p) and os.path.exists(os.path.join(p, "kustomization.yaml")):
                args += ["-k", p]
            else:
                args += ["-f", p]
            if namespace:
                args += ["-n", namespace]
            out.append(self.kubectl(*args).stdout)
        for w in self._webhooks:
            self.inject_ca_bundle(w.namespace, w.service, w.ca_bundle)
        return "".join(out)

    def make_client_cert(self, cn, groups=(), directory=None):
        """A client certificate signed by the bed's CA: (crt, key) paths."""
        d = directory or os.path.join(self.dir, "clients")
        os.makedirs(d, exist_ok=True)
        safe = "".join(c if c.isalnum() else "-" for c in cn)
        return pki.make_cert(d, safe, (self.ca, self.ca_key), cn, orgs=list(groups), client=True)

    def kubeconfig_for(self, cn, groups=()):
        """A kubeconfig that authenticates with a client certificate for cn."""
        import base64
        crt, key = self.make_client_cert(cn, groups)
        with open(self.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "kubesim",
              "clusters": [{"name": "kubesim", "cluster": {"server": "https://" + self.address,
                                                           "certificate-authority-data": ca}}],
              "contexts": [{"name": "kubesim", "context": {"cluster": "kubesim", "user": cn}}],
              "users": [{"name": cn, "user": {"client-certificate": crt, "client-key": key}}]}
        path = os.path.join(self.dir, "clients", "kubeconfig-" + os.path.basename(crt)[:-4])
        with open(path, "w") as f:
            json.dump(kc, f)
        return path

    def _spawn(self, name, argv, env=None, cwd=None):
        logdir = os.path.join(self.dir, "logs")
        os.makedirs(logdir, exist_ok=True)
        log = os.path.join(logdir, "%s.log" % name)
        e = dict(os.environ)
        e.update(env or {})
        with open(log, "ab") as f:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=e,
                                 cwd=cwd or self.dir, start_new_session=True)
        return p, log

    def webhook_certs(self, service, namespace, out):
        """(ca.crt, tls.crt, tls.key) for service.namespace.svc, by BUILD/etcd-certs when built, else openssl."""
        os.makedirs(out, exist_ok=True)
        certs = os.path.join(self.build or "", "etcd-certs")
        if self.build and os.access(certs, os.X_OK):
            r = subprocess.run([certs, "ca", "--out", out], capture_output=True, text=True, timeout=30)
            r2 = subprocess.run([certs, "serve", "--ca", out, "--out", out, "--service", service, "-n", namespace,
                                 "--ip", "127.0.0.1"], capture_output=True, text=True, timeout=30)
            if r.returncode == 0 and r2.returncode == 0:
                return (os.path.join(out, "ca.crt"), os.path.join(out, "tls.crt"), os.path.join(out, "tls.key"))
        ca = pki.make_ca(out, "ca", "kubesim-webhook-ca")
        crt, key = pki.make_cert(out, "tls", ca, "%s.%s.svc" % (service, namespace), server=True, ips=["127.0.0.1"],
                                 dns=[service, "%s.%s" % (service, namespace), "%s.%s.svc" % (service, namespace),
                                      "%s.%s.svc.cluster.local" % (service, namespace)])
        return ca[0], crt, key

    def start_webhook(self, args=(), service="etcd-webhook", namespace="etcd-operator-system", binary=None,
                      timeout=15):
        """Run BUILD/etcd-webhook on 127.0.0.1:<free port> with a fresh certificate,
        map the Service to it and fill caBundle in the applied webhook configurations."""
        import base64
        binary = binary or os.path.join(self.build or "", "etcd-webhook")
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError("webhook binary %s not found or not executable; build it first (make)" % binary)
        certdir = os.path.join(self.dir, "webhook-%s-%s" % (namespace, service))
        ca, crt, key = self.webhook_certs(service, namespace, certdir)
        port = free_port()
        argv = [binary, "--tls-cert-file", crt, "--tls-private-key-file", key, "--secure-port", str(port),
                "--bind-address", "127.0.0.1"] + list(args)
        p, log = self._spawn("webhook-" + service, argv)
        w = Webhook("webhook " + service, p, log)
        w.port, w.ca, w.service, w.namespace = port, ca, service, namespace
        with open(ca, "rb") as f:
            w.ca_bundle = base64.b64encode(f.read()).decode()
        self._procs.append(w)
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False

        def healthy():
            if not w.alive():
                raise AssertionError("webhook exited %s:\n%s" % (p.returncode, w.output()[-2000:]))
            try:
                c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=1)
                c.request("GET", "/healthz")
                ok = c.getresponse().status == 200
                c.close()
                return ok
            except OSError:
                return False
        self.wait_for(healthy, timeout, "webhook %s to answer /healthz on 127.0.0.1:%d" % (service, port), 0.05)
        self.register_service(namespace, service, "127.0.0.1:%d" % port)
        self._webhooks.append(w)
        self.inject_ca_bundle(namespace, service, w.ca_bundle)
        return w

    def inject_ca_bundle(self, namespace, service, ca_bundle):
        """Set caBundle on every webhook (of every configuration) that calls namespace/service."""
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            for cfg in self.list(kind, None):
                ops = []
                for i, wh in enumerate(cfg.get("webhooks") or []):
                    svc = (wh.get("clientConfig") or {}).get("service") or {}
                    if svc.get("name") == service and svc.get("namespace") == namespace and \
                            wh["clientConfig"].get("caBundle") != ca_bundle:
                        ops.append({"op": "add", "path": "/webhooks/%d/clientConfig/caBundle" % i, "value": ca_bundle})
                if ops:
                    st, out = self.patch(kind, cfg["metadata"]["name"], ops, ns=None, type="json")
                    if st != 200:
                        raise AssertionError("caBundle injection into %s: %s %s" % (cfg["metadata"]["name"], st, out))

    def run_in_cluster(self, cmd, check=True, timeout=60, input=None, background=False, name=None, env=None):
        """Run cmd (a list) inside the cluster network (`bed.py run`): Service and
        Pod DNS names resolve. background=True returns a Proc stopped at the end."""
        # -S: bed.py needs only the standard library; site-packages cost most of its start-up
        argv = [sys.executable, "-S", BED_PY, "run", "--dir", self.dir, "--"] + [str(c) for c in cmd]
        if background:
            p, log = self._spawn(name or os.path.basename(str(cmd[0])), argv, env=env)
            proc = Proc(name or str(cmd[0]), p, log)
            self._procs.append(proc)
            return proc
        e = dict(os.environ)
        e.update(env or {})
        r = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=e)
        if check and r.returncode != 0:
            raise AssertionError("in-cluster %s exited %d\nstdout: %s\nstderr: %s" % (
                cmd, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    def start_controller(self, args=(), binary=None, env=None):
        """BUILD/etcd-controller --kubeconfig DIR/kubeconfig ARGS, inside the cluster network."""
        binary = binary or os.path.join(self.build or "", "etcd-controller")
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError("controller binary %s not found or not executable; build it first (make)" % binary)
        return self.run_in_cluster([binary, "--kubeconfig", self.kubeconfig] + list(args), background=True,
                                   name="controller", env=env)
