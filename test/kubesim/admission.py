"""The admission webhook chain, built from the Mutating/ValidatingWebhookConfiguration
objects in the store, calling real webhooks over HTTPS as kube-apiserver does.

The one idea: each request is matched against the configurations as they are
*now* in the store (no cache to go stale), and every outcome is translated
into exactly what kube-apiserver would return — a denial becomes the
webhook's Status with the message `admission webhook "<name>" denied the
request: ...` (code at least 400), a call failure becomes a 500
`failed calling webhook ...` unless failurePolicy is Ignore, warnings become
Warning headers.

Mutating webhooks run first, in order (configurations sorted by name, hooks
in their order), each seeing the previous one's result; JSONPatch responses
are applied. A hook with reinvocationPolicy IfNeeded is called once more if
a later hook changed the object (kube-apiserver's reinvocation rule).
Validating hooks then run (kube runs them in parallel and reports the first
error; the bed runs them in order, which gives the same answer for our hooks).

clientConfig.service references are resolved through the service map
(POST /_bed/services), because webhooks in tests are plain local processes;
the certificate is still verified against caBundle and the DNS name
`<service>.<namespace>.svc`, as kube-apiserver does.
"""
import base64
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

import apierrors as E
import labels as L
import patch as P
import store as st

log = logging.getLogger("kubesim.admission")

MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
VALIDATING = "validatingwebhookconfigurations.admissionregistration.k8s.io"


class ServiceMap:
    """(namespace, service, port) → "host:port" of the process serving it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._map = {}

    def add(self, p):
        ns, name, target = p["namespace"], p["name"], p["target"]
        port = int(p.get("port", 443))
        host, _, tport = target.rpartition(":")
        if not host or not tport.isdigit():
            raise ValueError('target must be "host:port", not %r' % target)
        with self._lock:
            self._map[(ns, name, port)] = target
        return {"namespace": ns, "name": name, "port": port, "target": target}

    def resolve(self, ns, name, port):
        with self._lock:
            return self._map.get((ns, name, int(port)))

    def all(self):
        with self._lock:
            return [{"namespace": k[0], "name": k[1], "port": k[2], "target": v} for k, v in sorted(self._map.items())]


class CallError(Exception):
    """A webhook could not be called or answered nonsense (failurePolicy applies)."""


class _Conn(http.client.HTTPSConnection):
    """HTTPS to `address` while verifying the certificate for `server_name`."""

    def __init__(self, address, server_name, context, timeout):
        host, _, port = address.rpartition(":")
        super().__init__(host.strip("[]"), int(port), context=context, timeout=timeout)
        self._server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # headers, then body: no Nagle wait
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


def _rule_matches(rule, attrs, policy):
    res = attrs.res
    ops = rule.get("operations") or []
    if "*" not in ops and attrs.op not in ops:
        return False
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if "*" not in groups and res.group not in groups:
        return False
    if "*" not in versions and res.version not in versions and policy != "Equivalent":
        return False
    want = res.plural + ("/" + attrs.subresource if attrs.subresource else "")
    ok = False
    for pat in rule.get("resources") or []:
        if pat == "*/*" or pat == want:
            ok = True
        elif pat == "*" and not attrs.subresource:
            ok = True
        elif "/" in pat and attrs.subresource:
            pr, ps = pat.split("/", 1)
            if pr in ("*", res.plural) and ps in ("*", attrs.subresource):
                ok = True
    if not ok:
        return False
    scope = rule.get("scope", "*")
    if scope == "Namespaced" and not res.namespaced:
        return False
    if scope == "Cluster" and res.namespaced:
        return False
    return True


class Admission:
    def __init__(self, store, catalogue):
        self.store, self.cat = store, catalogue
        self.services = ServiceMap()
        self._fault = {"mode": "ok", "delaySeconds": 0, "name": "*"}
        self._flock = threading.Lock()
        self._contexts = {}     # caBundle -> ssl.SSLContext
        self._pool = {}         # (address, server name, caBundle) -> idle keep-alive connections

    # ---- faults ----------------------------------------------------------
    def set_fault(self, p):
        mode = p.get("mode", "ok")
        if mode not in ("ok", "down", "slow"):
            raise ValueError('mode must be "ok", "down" or "slow", not %r' % mode)
        f = {"mode": mode, "delaySeconds": float(p.get("delaySeconds", 0)), "name": p.get("name", "*")}
        with self._flock:
            self._fault = f
        return dict(f)

    def fault_state(self):
        with self._flock:
            return dict(self._fault)

    # ---- selection -------------------------------------------------------
    def _hooks(self, key):
        items, _ = self.store.list(key)
        for cfg in sorted(items, key=lambda c: c["metadata"]["name"]):
            for wh in cfg.get("webhooks") or []:
                yield cfg["metadata"]["name"], wh

    def _matches(self, wh, attrs, obj, old):
        policy = wh.get("matchPolicy", "Equivalent")
        if not any(_rule_matches(r, attrs, policy) for r in wh.get("rules") or []):
            return False
        res = attrs.res
        try:
            nsel = L.from_label_selector(wh.get("namespaceSelector"))
            osel = L.from_label_selector(wh.get("objectSelector"))
        except L.SelectorError:
            return False
        if nsel:
            if res.key == "namespaces":
                o = obj or old or {}
                nslabels = (o.get("metadata") or {}).get("labels") or {}
                if not L.matches(nsel, nslabels):
                    return False
            elif res.namespaced:
                try:
                    nso = self.store.get("namespaces", None, attrs.ns)
                    nslabels = nso["metadata"].get("labels") or {}
                except st.NotFound:
                    nslabels = {"kubernetes.io/metadata.name": attrs.ns}
                if not L.matches(nsel, nslabels):
                    return False
        if osel:
            labs = [((o or {}).get("metadata") or {}).get("labels") or {} for o in (obj, old) if o is not None]
            if not any(L.matches(osel, lab) for lab in labs):
                return False
        return True

    # ---- calling ---------------------------------------------------------
    def _review(self, attrs, obj, old, uid):
        res = attrs.res
        gvr = res.gvr()
        req = {"uid": uid, "kind": attrs.kind, "resource": gvr, "requestKind": attrs.kind, "requestResource": gvr,
               "name": attrs.name or ((obj or {}).get("metadata") or {}).get("name", ""),
               "operation": attrs.op, "userInfo": attrs.ctx.user, "object": obj, "oldObject": old,
               "dryRun": bool(attrs.ctx.dry_run), "options": attrs.options}
        if attrs.subresource:
            req["subResource"] = attrs.subresource
            req["requestSubResource"] = attrs.subresource
        if res.namespaced:
            req["namespace"] = attrs.ns
        return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": req}

    def _tls_context(self, ca_bundle):
        """The client context for a caBundle (only it is trusted; no bundle: the system's
        roots), made once per bundle: loading the system's roots costs ~20 ms a call."""
        with self._flock:
            ctx = self._contexts.get(ca_bundle)
        if ctx is not None:
            return ctx
        try:
            if ca_bundle:
                ctx = ssl.create_default_context(cadata=base64.b64decode(ca_bundle).decode())
            else:
                ctx = ssl.create_default_context()
        except (ValueError, ssl.SSLError) as e:
            raise CallError("failed to call webhook: unable to load root certificates: %s" % e) from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        with self._flock:
            if len(self._contexts) > 64:
                self._contexts.clear()
            self._contexts[ca_bundle] = ctx
        return ctx

    def _conn(self, key, ctx, timeout):
        """(connection, reused): an idle keep-alive connection to the webhook if there is
        one (kube-apiserver's client keeps them too: no TLS handshake per review), else a new one."""
        with self._flock:
            idle = self._pool.get(key) or []
            conn = idle.pop() if idle else None
        if conn is not None:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        return _Conn(key[0], key[1], ctx, timeout), False

    def _idle(self, key, conn):
        with self._flock:
            idle = self._pool.setdefault(key, [])
            if len(idle) < 4:
                idle.append(conn)
                return
        conn.close()

    def _call(self, wh, review):
        cc = wh.get("clientConfig") or {}
        timeout = int(wh.get("timeoutSeconds") or 10)
        if cc.get("url"):
            u = urllib.parse.urlsplit(cc["url"])
            server_name = u.hostname
            address = "%s:%d" % (u.hostname, u.port or 443)
            path = u.path or "/"
            shown = cc["url"]
        else:
            svc = cc.get("service") or {}
            port = int(svc.get("port") or 443)
            server_name = "%s.%s.svc" % (svc.get("name"), svc.get("namespace"))
            path = svc.get("path") or "/"
            shown = "https://%s:%d%s" % (server_name, port, path)
            address = self.services.resolve(svc.get("namespace"), svc.get("name"), port)
            if address is None:
                raise CallError('failed to call webhook: Post "%s?timeout=%ds": service "%s" not found'
                                % (shown, timeout, svc.get("name")))
        url_shown = '%s?timeout=%ds' % (shown.split("?")[0], timeout)
        with self._flock:
            fault = dict(self._fault)
        if fault.get("name", "*") not in ("*", wh.get("name")):
            fault = {"mode": "ok", "delaySeconds": 0}
        if fault["mode"] == "down":
            raise CallError('failed to call webhook: Post "%s": dial tcp %s: connect: connection refused' % (url_shown, address))
        deadline = time.monotonic() + timeout
        if fault["mode"] == "slow":
            time.sleep(min(fault["delaySeconds"], timeout))
            if fault["delaySeconds"] >= timeout:
                raise CallError('failed to call webhook: Post "%s": context deadline exceeded' % url_shown)
        ctx = self._tls_context(cc.get("caBundle") or "")
        body = json.dumps(review).encode()
        key = (address, server_name, cc.get("caBundle") or "")
        try:
            while True:
                left = max(0.05, deadline - time.monotonic())
                conn, reused = self._conn(key, ctx, left)
                try:
                    conn.request("POST", "%s?timeout=%ds" % (path, timeout), body,
                                 {"Content-Type": "application/json", "Accept": "application/json, */*"})
                    resp = conn.getresponse()
                    data = resp.read()
                except (ConnectionError, http.client.RemoteDisconnected, ssl.SSLEOFError, BrokenPipeError):
                    conn.close()
                    if reused:      # the server closed an idle connection: a fresh one, as Go's transport does
                        continue
                    raise
                except BaseException:
                    conn.close()
                    raise
                if resp.will_close:
                    conn.close()
                else:
                    self._idle(key, conn)
                break
        except ssl.SSLCertVerificationError as e:
            raise CallError('failed to call webhook: Post "%s": tls: failed to verify certificate: %s'
                            % (url_shown, e.verify_message)) from None
        except (socket.timeout, TimeoutError):
            raise CallError('failed to call webhook: Post "%s": context deadline exceeded' % url_shown) from None
        except ConnectionRefusedError:
            raise CallError('failed to call webhook: Post "%s": dial tcp %s: connect: connection refused'
                            % (url_shown, address)) from None
        except (OSError, http.client.HTTPException) as e:
            raise CallError('failed to call webhook: Post "%s": %s' % (url_shown, e)) from None
        if resp.status != 200:
            raise CallError('failed to call webhook: an error on the server ("%s") has prevented the request from '
                            'succeeding' % data.decode(errors="replace")[:200].strip())
        try:
            out = json.loads(data)
        except ValueError as e:
            raise CallError("received invalid webhook response: %s" % e) from None
        if not isinstance(out, dict) or out.get("apiVersion") != "admission.k8s.io/v1" or out.get("kind") != "AdmissionReview":
            raise CallError("received invalid webhook response: expected webhook response of admission.k8s.io/v1, "
                            "Kind=AdmissionReview, got %s, Kind=%s" % ((out or {}).get("apiVersion"), (out or {}).get("kind")))
        r = out.get("response")
        if not isinstance(r, dict):
            raise CallError("received invalid webhook response: response is missing")
        if r.get("uid") != review["request"]["uid"]:
            raise CallError('received invalid webhook response: expected response.uid="%s", got "%s"'
                            % (review["request"]["uid"], r.get("uid", "")))
        return r

    def _invoke(self, wh, attrs, obj, old, mutating):
        """Call one hook. Returns the (possibly patched) object; raises APIError."""
        name = wh.get("name", "")
        ctx = attrs.ctx
        if ctx.dry_run and wh.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise E.bad_request('admission webhook "%s" does not support dry run' % name)
        review = self._review(attrs, obj, old, str(uuid.uuid4()))
        try:
            r = self._call(wh, review)
            patched = obj
            if mutating and r.get("patch") and r.get("allowed"):
                if r.get("patchType") != "JSONPatch":
                    raise CallError('received invalid webhook response: expected patchType="JSONPatch", got "%s"'
                                    % r.get("patchType", ""))
                try:
                    ops = json.loads(base64.b64decode(r["patch"]))
                    patched = P.json_patch(obj, ops)
                except (ValueError, P.PatchError) as e:
                    raise CallError("received invalid webhook response: %s" % e) from None
        except CallError as e:
            msg = 'failed calling webhook "%s": %s' % (name, e)
            if wh.get("failurePolicy", "Fail") == "Ignore":
                log.warning("Failed calling webhook, failing open %s: %s", name, msg)
                return obj
            log.warning("Failed calling webhook, failing closed %s: %s", name, msg)
            raise E.internal(msg) from None
        for w in r.get("warnings") or []:
            ctx.warn(w)
        if not r.get("allowed"):
            s = dict(r.get("status") or r.get("result") or {})
            code = int(s.get("code") or 0)
            if code < 400:
                code = 400
            msg = s.get("message") or ""
            reason = s.get("reason") or ""
            denied = 'admission webhook "%s" denied the request' % name
            text = "%s: %s" % (denied, msg) if msg else ("%s: %s" % (denied, reason) if reason else denied + " without explanation")
            raise E.APIError(code, reason, text, s.get("details"))
        return patched

    # ---- the two phases --------------------------------------------------
    def mutate(self, attrs, obj, old):
        hooks = [(c, w) for c, w in self._hooks(MUTATING)]
        if not hooks:
            return obj
        prev_reinvocable, reinvoke, should_reinvoke = [], set(), False
        for i, (cfg, wh) in enumerate(hooks):
            if not self._matches(wh, attrs, obj, old):
                continue
            new = self._invoke(wh, attrs, obj, old, True)
            if new != obj:
                reinvoke.update(prev_reinvocable)
                prev_reinvocable = []
                should_reinvoke = True
            obj = new
            if wh.get("reinvocationPolicy") == "IfNeeded":
                prev_reinvocable.append(i)
        if should_reinvoke and reinvoke:
            for i, (cfg, wh) in enumerate(hooks):
                if i in reinvoke and self._matches(wh, attrs, obj, old):
                    obj = self._invoke(wh, attrs, obj, old, True)
        return obj

    def validate(self, attrs, obj, old):
        for cfg, wh in self._hooks(VALIDATING):
            if self._matches(wh, attrs, obj, old):
                self._invoke(wh, attrs, obj, old, False)
