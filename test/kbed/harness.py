"""The Python API every end-to-end test uses to get a Kubernetes test bed on
the real control plane.

    from kbed.harness import Bed       # (PYTHONPATH: test/)
    with Bed(manifests=True) as bed:   # starts a bed; always stopped, also on failure
        bed.kubectl("apply", "-f", "manifests/samples/etcdcluster-demo.yaml")
        bed.wait_for(lambda: bed.get("etcdclusters", "demo").get("status"), 60, "demo has a status")

The idea: a test talks to the bed the ways a user would (the real kubectl on
PATH, HTTPS to the real kube-apiserver with the bed's admin certificate) and
everything the harness starts — the bed, webhooks, controllers, in-cluster
commands — is registered in one place and stopped at the end, in reverse
order, by process group, whether the test passed, failed or was interrupted
(context manager + atexit; the bed itself also dies with this process through
--die-with-parent).

Processes a test starts itself (a webhook or controller under test, a load
writer) run "inside the cluster": in the bed's network namespace, where Pod
and Service addresses and the cluster DNS names work. A controller started by
start_controller() talks to the API server through the bed's fault proxy
(faultproxy.py), so fault("api", verb=…, code=…) can fail its requests; the
operator as users install it (Deployments, RBAC) is install_operator().

Paths: `build_dir` defaults to $EO_BUILD or `build`, and `manifests=True`
means the repository's manifests/; relative paths are tried from the current
directory, then from the repository root. KBED_KEEP=1 keeps the bed's
directory after the test; on a failure inside `with`, the tail of the bed's
log is printed to stderr.
"""
import atexit
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

from . import cli as bedcli
from . import faultproxy
from . import pki

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTDIR)
API_INSIDE = "10.244.0.1"
OPERATOR_NS = "etcd-operator-system"
CONTROLLER_SA = "system:serviceaccount:%s:etcd-controller" % OPERATOR_NS
WEBHOOK_SA = "system:serviceaccount:%s:etcd-webhook" % OPERATOR_NS
BED_IP = API_INSIDE        # where a process a test runs inside the bed may listen
FAULT_PROXY_PORT = 6444


def free_port(host="127.0.0.1"):
    """A TCP port free on host now (the kernel's pick)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class KubectlError(AssertionError):
    """kubectl exited non-zero; the message carries its command, status and output."""

    def __init__(self, args, result):
        super().__init__("kubectl %s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), result.returncode, result.stdout[-2000:], result.stderr[-2000:]))
        self.result = result


def _resolve(path, must_exist=False):
    if path is None:
        return None
    if os.path.isabs(path):
        return path
    for base in (os.getcwd(), ROOT):
        p = os.path.join(base, path)
        if os.path.exists(p):
            return os.path.abspath(p)
    if must_exist:
        raise FileNotFoundError(path)
    return os.path.abspath(path)


def _env():
    e = dict(os.environ)
    e["PYTHONPATH"] = TESTDIR + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


class Proc:
    """A process the harness started (its own process group); output in its log."""

    def __init__(self, name, popen, log):
        self.name, self.popen, self.log = name, popen, log

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
                self.popen.wait(10)
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
                 start_timeout=90.0, grace=3.0, backoff_base=None, nodes=3):
        """backoff_base: the agent's restart back-off base in seconds (None: 10, as kubelet)."""
        self.build = _resolve(build_dir or os.environ.get("EO_BUILD") or "build")
        if manifests is True:
            self.manifests = os.path.join(ROOT, "manifests")
        else:
            self.manifests = _resolve(manifests) if manifests else None
        self.kubectl_bin = kubectl or os.environ.get("EO_KUBECTL") or shutil.which("kubectl") or "kubectl"
        self.keep = os.environ.get("KBED_KEEP") == "1"
        self.dir = os.path.abspath(directory) if directory else tempfile.mkdtemp(prefix="kbed-")
        os.makedirs(self.dir, exist_ok=True)
        self._procs = []
        self._webhooks = []
        self._stopped = False
        self._fault_proxy = None
        crd_files = [_resolve(c) for c in crds]
        if self.manifests and not crd_files:
            crd_files = []
        t0 = time.monotonic()
        try:
            self.info = bedcli.spawn(self.dir, self.build, self.manifests, crd_files, os.getpid(), grace,
                                     start_timeout, backoff_base, nodes, False)
        except RuntimeError as e:
            tail = self.bed_log(40)
            self._cleanup_dir()
            raise RuntimeError("%s\n%s" % (e, tail)) from None
        self.startup_seconds = time.monotonic() - t0
        atexit.register(self.stop)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.kubeconfig_incluster = os.path.join(self.dir, "kubeconfig-incluster")
        with open(os.path.join(self.dir, "address")) as f:
            self.address = f.read().strip()
        self.pki = os.path.join(self.dir, "pki")
        self.ca = os.path.join(self.pki, "ca.crt")
        self.ca_key = os.path.join(self.pki, "ca.key")
        self._ssl = ssl.create_default_context(cafile=self.ca)
        self._ssl.load_cert_chain(os.path.join(self.pki, "admin.crt"), os.path.join(self.pki, "admin.key"))
        self._paths = {}

    # ---- lifecycle -------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        if etype is not None and etype is not KeyboardInterrupt:
            sys.stderr.write("\n---- kbed log (tail) from %s ----\n%s\n" % (self.dir, self.bed_log(30)))
        self.stop()
        return False

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        try:
            self._record_rbac_usage()
        except Exception as e:   # a record of the run, never a reason to fail the stop
            sys.stderr.write("kbed harness: RBAC usage not recorded: %s\n" % e)
        for p in reversed(self._procs):
            try:
                p.stop()
            except Exception as e:  # stopping must go on
                sys.stderr.write("kbed harness: stopping %s: %s\n" % (p.name, e))
        try:
            bedcli.stop_dir(self.dir, timeout=60)
        except Exception as e:
            sys.stderr.write("kbed harness: stopping the bed: %s\n" % e)
        try:
            self.info["popen"].wait(10)
        except (subprocess.TimeoutExpired, KeyError, AttributeError):
            pass
        try:
            self._record_key_leaks()
        except Exception as e:   # a record of the run, never a reason to fail the stop
            sys.stderr.write("kbed harness: logs not checked for keys: %s\n" % e)
        self._cleanup_dir()

    def _record_key_leaks(self):
        """Append to $EO_KEY_LEAKS every log of this bed (the controller's, the webhook's,
        the agent's, every container's) that holds a PEM private key: test/run.sh fails the
        run on any. Key files and the API server's audit log (the admin's choice) are not logs
        of ours."""
        path = os.environ.get("EO_KEY_LEAKS")
        if not path:
            return
        found = []
        for root, _, files in os.walk(self.dir):
            for f in files:
                if not (f.endswith(".log") or f.endswith(".out")) or f == "audit.log":
                    continue
                p = os.path.join(root, f)
                try:
                    with open(p, "rb") as fh:
                        if b"PRIVATE KEY-----" in fh.read():
                            found.append(os.path.relpath(p, self.dir))
                except OSError:
                    pass
        if found:
            with open(path, "a") as fh:
                for f in found:
                    fh.write("%s: %s\n" % (sys.argv[0], f))

    def rbac_usage(self):
        """What the operator's ServiceAccounts asked of the API server on this bed, from
        its audit log: [{"user", "group", "resource", "verb", "code", "uri"}] (a request
        made through the fault proxy counts for the identity it impersonated)."""
        out = []
        try:
            f = open(os.path.join(self.dir, "audit.log"))
        except OSError:
            return out
        with f:
            for line in f:
                if CONTROLLER_SA not in line and WEBHOOK_SA not in line:
                    continue
                ev = json.loads(line)
                who = (ev.get("impersonatedUser") or ev.get("user") or {}).get("username")
                if who not in (CONTROLLER_SA, WEBHOOK_SA):
                    continue
                if (ev.get("userAgent") or "").startswith("kubectl"):
                    continue    # a test asking `kubectl auth can-i --as …`, not the operator
                ref = ev.get("objectRef") or {}
                res = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
                out.append({"user": who, "group": ref.get("apiGroup", ""), "resource": res,
                            "verb": ev.get("verb"), "code": (ev.get("responseStatus") or {}).get("code"),
                            "uri": ev.get("requestURI")})
        return out

    def _record_rbac_usage(self):
        """Append this bed's usage to $EO_RBAC_USAGE (test/run.sh sets it), so one check after
        the whole e2e suite (test_zz_rbac) can compare every call made with the roles."""
        path = os.environ.get("EO_RBAC_USAGE")
        if not path:
            return
        rows = {(u["user"], u["group"], u["resource"], u["verb"], u["code"]) for u in self.rbac_usage()}
        with open(path, "a") as f:
            for r in sorted(rows, key=str):
                f.write(json.dumps(dict(zip(("user", "group", "resource", "verb", "code"), r))) + "\n")

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
        """(status, decoded JSON or text) as the bed's admin. body: dict/list (JSON) or bytes/str."""
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPSConnection(host, int(port), context=self._ssl, timeout=timeout)
        h = {"Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = content_type or "application/json"
        elif body is not None:
            h["Content-Type"] = content_type or "application/json"
        h.update(headers or {})
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        p = self.path(resource, None, ns)
        if selector:
            p += "?labelSelector=" + urllib.parse.quote(selector)
        st, out = self.api("GET", p)
        if st != 200:
            raise AssertionError("LIST %s: %s %s" % (resource, st, out))
        return out["items"]

    def changes(self, resource, since, ns="default", name=None, seconds=1):
        """Every version of the objects written after resourceVersion `since`, oldest
        first, replayed by a watch from it: a state that lasted a moment is still seen,
        where polling can miss it. [(type, object)]"""
        p = self.path(resource, None, ns) + "?watch=1&resourceVersion=%s&timeoutSeconds=%d" % (since, seconds)
        if name:
            p += "&fieldSelector=" + urllib.parse.quote("metadata.name=" + name)
        st, data = self.api("GET", p, raw=True, timeout=seconds + 30)
        if st != 200:
            raise AssertionError("WATCH %s from %s: %s %s" % (resource, since, st, data[:300]))
        out = []
        for line in data.decode().splitlines():
            if line.strip():
                ev = json.loads(line)
                if ev.get("type") == "ERROR":
                    raise AssertionError("WATCH %s from %s: %s" % (resource, since, ev.get("object")))
                out.append((ev["type"], ev["object"]))
        return out

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
        """A container's log through the API server (kubectl logs' path), or "" when there is none."""
        q = {}
        if container:
            q["container"] = container
        if previous:
            q["previous"] = "true"
        p = self.path("pods", pod, ns, "log") + ("?" + urllib.parse.urlencode(q) if q else "")
        st, out = self.api("GET", p, raw=True)
        return out.decode(errors="replace") if st == 200 else ""

    def pod_log(self, ns, pod, container):
        """A container's output as the agent recorded it (DIR/logs/pods)."""
        p = os.path.join(self.dir, "logs", "pods", "%s_%s_%s.log" % (ns, pod, container))
        try:
            with open(p, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def state(self):
        return bedcli.control(self.dir, {"op": "state"}, timeout=30)[1]

    # ---- faults and services --------------------------------------------
    def fault(self, kind, **params):  # noqa: C901 - one dispatch, read top-down
        """kind: api (verb/resource/subresource/code/count through the fault proxy, or
        stop/start/down for the API server itself) | kill | image | dns | volume | node."""
        if kind == "webhook":
            return self._webhook_fault(params.get("mode", "down"))
        if kind == "api" and "code" in params:
            self._ensure_fault_proxy()
            out = None
            for sock in self._fault_socks():
                out = faultproxy.send(sock, params)
                if "error" in out:
                    raise AssertionError("fault api %s: %s" % (params, out["error"]))
            return out
        code, out = bedcli.control(self.dir, {"op": "fault", "kind": kind, "params": params}, timeout=120)
        if code != 200:
            raise AssertionError("fault %s %s: %s %s" % (kind, params, code, out))
        return out

    def _webhook_fault(self, mode):
        """down: every webhook this harness started stops (connections refused); ok: they start again."""
        for w in self._webhooks:
            if mode == "down":
                w.stop()
            elif mode == "ok" and not w.alive():
                w.popen, w.log = self._spawn("webhook-" + w.service, w.argv)
                self._wait_webhook(w)   # "ok" means answering again, as the fault's end did on the old bed
            elif mode not in ("down", "ok"):
                raise ValueError("webhook fault mode is down or ok, not %r" % mode)
        return {"webhook": mode}

    def clear_faults(self):
        out = {"faults": []}
        for sock in self._fault_socks():
            out = faultproxy.send(sock, {"clear": True})
        return out

    def _fault_socks(self):
        return [p for p in (getattr(self, "_fault_sock", None), getattr(self, "_host_fault_sock", None)) if p]

    def host_fault_kubeconfig(self):
        """A kubeconfig for clients on the host (the plugin under test) whose server is a
        fault proxy on 127.0.0.1 in front of the bed's API server: fault("api", …) reaches
        them as it reaches a controller started by start_controller()."""
        if getattr(self, "_host_fault_kc", None):
            return self._host_fault_kc
        d = os.path.join(self.dir, "faultproxy-host")
        os.makedirs(d, exist_ok=True)
        crt, key = pki.make_cert(d, "serving", (self.ca, self.ca_key), "kbed-fault-proxy",
                                 ips=["127.0.0.1"], server=True)
        sock = os.path.join(d, "control.sock")
        port = free_port()
        argv = [sys.executable, "-m", "kbed.faultproxy", "--listen", "127.0.0.1:%d" % port,
                "--upstream", "https://" + self.address, "--ca", self.ca, "--cert", crt, "--key", key,
                "--admin-cert", os.path.join(self.pki, "admin.crt"),
                "--admin-key", os.path.join(self.pki, "admin.key"), "--control", sock]
        p, log = self._spawn("faultproxy-host", argv)
        self._procs.append(Proc("faultproxy-host", p, log))
        self.wait_for(lambda: os.path.exists(sock), 15, "the host fault proxy", 0.05)
        self._host_fault_sock = sock
        with open(self.kubeconfig) as f:
            kc = f.read()
        self._host_fault_kc = os.path.join(d, "kubeconfig")
        with open(self._host_fault_kc, "w") as f:
            f.write(kc.replace("https://" + self.address, "https://127.0.0.1:%d" % port))
        os.chmod(self._host_fault_kc, 0o600)
        return self._host_fault_kc

    @property
    def kubeconfig_cert(self):
        """A kubeconfig naming its client certificate and key as files (not embedded)."""
        if getattr(self, "_kc_cert", None) is None:
            self._kc_cert = self.kubeconfig_for("kbed-admin-files", groups=["system:masters"])
        return self._kc_cert

    def register_service(self, namespace, name, target, port=443):
        """A Service without selector and its EndpointSlice pointing at target (IP:PORT in the bed)."""
        ip, tport = target.rsplit(":", 1)
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
               "spec": {"ports": [{"name": "https", "port": port, "targetPort": int(tport), "protocol": "TCP"}]}}
        st, out = self.api("POST", "/api/v1/namespaces/%s/services" % namespace, svc)
        if st not in (200, 201, 409):
            raise AssertionError("register service: %s %s" % (st, out))
        es = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": name + "-bed", "namespace": namespace,
                           "labels": {"kubernetes.io/service-name": name,
                                      "endpointslice.kubernetes.io/managed-by": "kbed.local"}},
              "addressType": "IPv4",
              "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
              "ports": [{"name": "https", "port": int(tport), "protocol": "TCP"}]}
        path = "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % namespace
        st, out = self.api("POST", path, es)
        if st == 409:
            cur = self.api("GET", path + "/" + name + "-bed")[1]
            es["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            st, out = self.api("PUT", path + "/" + name + "-bed", es)
        if st not in (200, 201):
            raise AssertionError("register endpointslice: %s %s" % (st, out))
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

    def kubeconfig_for(self, cn, groups=(), server=None):
        """A kubeconfig that authenticates with a client certificate for cn."""
        crt, key = self.make_client_cert(cn, groups)
        with open(self.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        kc = {"apiVersion": "v1", "kind": "Config", "current-context": "kbed",
              "clusters": [{"name": "kbed", "cluster": {"server": server or "https://" + self.address,
                                                        "certificate-authority-data": ca}}],
              "contexts": [{"name": "kbed", "context": {"cluster": "kbed", "user": cn}}],
              "users": [{"name": cn, "user": {"client-certificate": crt, "client-key": key}}]}
        path = os.path.join(self.dir, "clients", "kubeconfig-" + os.path.basename(crt)[:-4])
        with open(path, "w") as f:
            json.dump(kc, f)
        return path

    def _spawn(self, name, argv, env=None, cwd=None):
        logdir = os.path.join(self.dir, "logs")
        os.makedirs(logdir, exist_ok=True)
        log = os.path.join(logdir, "%s.log" % name)
        e = _env()
        e.update(env or {})
        with open(log, "ab") as f:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=e,
                                 cwd=cwd or self.dir, start_new_session=True)
        return p, log

    def webhook_certs(self, service, namespace, out, ips=(API_INSIDE,)):
        """(ca.crt, tls.crt, tls.key) for service.namespace.svc, made by BUILD/etcd-certs."""
        os.makedirs(out, exist_ok=True)
        certs = os.path.join(self.build or "", "etcd-certs")
        r = subprocess.run([certs, "ca", "--out", out], capture_output=True, text=True, timeout=30)
        args = [certs, "serve", "--ca", out, "--out", out, "--service", service, "-n", namespace]
        for ip in ips:
            args += ["--ip", ip]
        r2 = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or r2.returncode != 0:
            raise AssertionError("etcd-certs failed: %s %s" % (r.stderr, r2.stderr))
        return (os.path.join(out, "ca.crt"), os.path.join(out, "tls.crt"), os.path.join(out, "tls.key"))

    def _free_port(self):
        # the bed's namespace has nothing on these but what tests start; the host's pick is as good
        return free_port()

    @property
    def token(self):
        """A bearer token of a cluster-admin ServiceAccount (kube-system/kbed-admin), for tests
        of token authentication."""
        if getattr(self, "_token", None) is None:
            self.api("POST", "/api/v1/namespaces/kube-system/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kbed-admin"}})
            self.api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                      "metadata": {"name": "kbed-admin"},
                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "cluster-admin"},
                      "subjects": [{"kind": "ServiceAccount", "name": "kbed-admin", "namespace": "kube-system"}]})
            st, out = self.api("POST", "/api/v1/namespaces/kube-system/serviceaccounts/kbed-admin/token",
                               {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": 86400}})
            if st != 201:
                raise AssertionError("token for kube-system/kbed-admin: %s %s" % (st, out))
            self._token = out["status"]["token"]
        return self._token

    def start_webhook(self, args=(), service="etcd-webhook", namespace="etcd-operator-system", binary=None,
                      timeout=20):
        """Run BUILD/etcd-webhook inside the bed on 10.244.0.1:<port> with a fresh certificate,
        point the Service at it and fill caBundle in the applied webhook configurations."""
        binary = binary or os.path.join(self.build or "", "etcd-webhook")
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError("webhook binary %s not found or not executable; build it first (make)" % binary)
        certdir = os.path.join(self.dir, "webhook-%s-%s" % (namespace, service))
        ca, crt, key = self.webhook_certs(service, namespace, certdir)
        port = self._free_port()
        argv = [binary, "--tls-cert-file", crt, "--tls-private-key-file", key, "--secure-port", str(port),
                "--bind-address", API_INSIDE] + list(args)
        p, log = self._spawn("webhook-" + service, self._in_cluster_argv(argv))
        w = Webhook("webhook " + service, p, log)
        w.argv = self._in_cluster_argv(argv)
        w.port, w.ca, w.service, w.namespace = port, ca, service, namespace
        with open(ca, "rb") as f:
            w.ca_bundle = base64.b64encode(f.read()).decode()
        self._procs.append(w)
        self._wait_webhook(w, timeout)
        self.register_service(namespace, service, "%s:%d" % (API_INSIDE, port))
        self._webhooks.append(w)
        self.inject_ca_bundle(namespace, service, w.ca_bundle)
        return w

    def _wait_webhook(self, w, timeout=20):
        """Until the webhook w answers /healthz inside the bed (or fail with its output)."""
        probe = ("import ssl,sys,http.client as h\nc=ssl.create_default_context(cafile=sys.argv[1])\n"
                 "c.check_hostname=False\nx=h.HTTPSConnection(sys.argv[2],int(sys.argv[3]),context=c,timeout=1)\n"
                 "x.request('GET','/healthz')\nsys.exit(0 if x.getresponse().status==200 else 1)\n")

        def healthy():
            if not w.alive():
                raise AssertionError("webhook exited %s:\n%s" % (w.popen.returncode, w.output()[-2000:]))
            return self.run_in_cluster(["python3", "-c", probe, w.ca, API_INSIDE, str(w.port)],
                                       check=False, timeout=10).returncode == 0
        self.wait_for(healthy, timeout, "webhook %s to answer /healthz on %s:%d" % (w.service, API_INSIDE, w.port),
                      0.2)

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

    def _in_cluster_argv(self, cmd):
        return [sys.executable, "-m", "kbed", "run", "--dir", self.dir, "--"] + [str(c) for c in cmd]

    def run_in_cluster(self, cmd, check=True, timeout=60, input=None, background=False, name=None, env=None):
        """Run cmd (a list) inside the bed's network (`kbed run`): Pod and Service
        addresses and DNS names work. background=True returns a Proc stopped at the end."""
        argv = self._in_cluster_argv(cmd)
        if background:
            p, log = self._spawn(name or os.path.basename(str(cmd[0])), argv, env=env)
            proc = Proc(name or str(cmd[0]), p, log)
            self._procs.append(proc)
            return proc
        e = _env()
        e.update(env or {})
        r = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=e)
        if check and r.returncode != 0:
            raise AssertionError("in-cluster %s exited %d\nstdout: %s\nstderr: %s" % (
                cmd, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return r

    # ---- the operator as a user installs it ------------------------------
    def install_operator(self, timeout=180):
        """The README's install section, step for step: etcd-certs makes the webhook's
        CA and pair, the namespace and Secret are applied, the kustomization goes
        through `etcd-certs inject` into kubectl apply, and both Deployments
        become available (their Pods run this project's image, as user 65532,
        under their ServiceAccounts with RBAC enforced)."""
        certs = os.path.join(self.dir, "operator-certs")
        tool = os.path.join(self.build, "etcd-certs")
        r = subprocess.run([tool, "all", "--out", certs], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("etcd-certs all: %s" % r.stderr)
        self.kubectl("apply", "-f", os.path.join(ROOT, "manifests", "namespace", "namespace.yaml"),
                     "-f", os.path.join(certs, "secret.yaml"))
        kust = self.kubectl("kustomize", os.path.join(ROOT, "manifests")).stdout
        r = subprocess.run([tool, "inject", "--ca", os.path.join(certs, "ca.crt"), "-f", "-"], input=kust,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("etcd-certs inject: %s" % r.stderr)
        self.kubectl("apply", "-f", "-", input=r.stdout)
        for d in ("etcd-webhook", "etcd-controller"):
            r = self.kubectl("-n", "etcd-operator-system", "rollout", "status", "deployment/" + d,
                             "--timeout", "%ds" % timeout, check=False, timeout=timeout + 30)
            if r.returncode != 0:
                pods = self.kubectl("-n", "etcd-operator-system", "get", "pods", "-o", "wide", check=False).stdout
                raise AssertionError("deployment %s not available: %s\n%s\n%s" % (
                    d, r.stderr, pods, self.operator_logs()[-3000:]))
        return certs

    def operator_logs(self):
        """The output of every operator Pod's containers, as the agent recorded it."""
        out = []
        d = os.path.join(self.dir, "logs", "pods")
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.startswith("etcd-operator-system_"):
                with open(os.path.join(d, f), errors="replace") as fh:
                    out.append("==> %s\n%s" % (f, fh.read()[-4000:]))
        return "\n".join(out)

    # ---- the fault proxy and a controller under test ---------------------
    def _ensure_fault_proxy(self):
        if self._fault_proxy is not None:
            return
        d = os.path.join(self.dir, "faultproxy")
        os.makedirs(d, exist_ok=True)
        crt, key = pki.make_cert(d, "serving", (self.ca, self.ca_key), "kbed-fault-proxy",
                                 ips=[API_INSIDE], server=True)
        self._fault_sock = os.path.join(d, "control.sock")
        argv = ["python3", "-m", "kbed.faultproxy", "--listen", "%s:%d" % (API_INSIDE, FAULT_PROXY_PORT),
                "--upstream", "https://%s:6443" % API_INSIDE, "--ca", self.ca, "--cert", crt, "--key", key,
                "--admin-cert", os.path.join(self.pki, "admin.crt"),
                "--admin-key", os.path.join(self.pki, "admin.key"), "--control", self._fault_sock]
        self._fault_proxy = self.run_in_cluster(argv, background=True, name="faultproxy")
        self.wait_for(lambda: os.path.exists(self._fault_sock), 15, "the fault proxy", 0.05)
        self.kubeconfig_faults = os.path.join(d, "kubeconfig")
        with open(self.kubeconfig_incluster) as f:
            kc = f.read()
        with open(self.kubeconfig_faults, "w") as f:
            f.write(kc.replace("https://%s:6443" % API_INSIDE, "https://%s:%d" % (API_INSIDE, FAULT_PROXY_PORT)))
        os.chmod(self.kubeconfig_faults, 0o600)

    def install_rbac(self):
        """The operator's namespace, ServiceAccounts and RBAC from manifests/, as installed."""
        if getattr(self, "_rbac", False):
            return
        self.kubectl("apply", "-f", os.path.join(ROOT, "manifests", "namespace", "namespace.yaml"))
        self.kubectl("apply", "-k", os.path.join(ROOT, "manifests", "rbac"))
        self._rbac = True

    def _controller_kubeconfig(self):
        """A kubeconfig for the fault proxy whose certificate names the controller's
        ServiceAccount: the proxy passes that identity on by impersonation, so the real
        API server applies the controller's RBAC (and audits it) as for its Deployment."""
        if getattr(self, "_ctl_kc", None) is None:
            self._ensure_fault_proxy()
            crt, key = self.make_client_cert(CONTROLLER_SA, ["system:serviceaccounts",
                                                             "system:serviceaccounts:" + OPERATOR_NS])
            with open(self.ca, "rb") as f:
                ca = base64.b64encode(f.read()).decode()
            kc = {"apiVersion": "v1", "kind": "Config", "current-context": "kbed",
                  "clusters": [{"name": "kbed", "cluster": {
                      "server": "https://%s:%d" % (API_INSIDE, FAULT_PROXY_PORT), "certificate-authority-data": ca}}],
                  "contexts": [{"name": "kbed", "context": {"cluster": "kbed", "user": "etcd-controller",
                                                            "namespace": OPERATOR_NS}}],
                  "users": [{"name": "etcd-controller", "user": {"client-certificate": crt, "client-key": key}}]}
            self._ctl_kc = os.path.join(self.dir, "faultproxy", "kubeconfig-controller")
            with open(self._ctl_kc, "w") as f:
                json.dump(kc, f)
            os.chmod(self._ctl_kc, 0o600)
        return self._ctl_kc

    def start_controller(self, args=(), binary=None, env=None, name="controller"):
        """BUILD/etcd-controller inside the bed, through the fault proxy, as the controller's
        ServiceAccount with the RBAC of manifests/ (installed here if it is not yet)."""
        binary = binary or os.path.join(self.build or "", "etcd-controller")
        if not os.access(binary, os.X_OK):
            raise FileNotFoundError("controller binary %s not found or not executable; build it first (make)" % binary)
        self.install_rbac()
        e = {"POD_NAMESPACE": OPERATOR_NS}
        e.update(env or {})
        return self.run_in_cluster([binary, "--kubeconfig", self._controller_kubeconfig()] + list(args),
                                   background=True, name=name, env=e)
