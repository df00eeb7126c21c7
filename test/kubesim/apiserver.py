"""The bed's HTTPS front: TLS, authentication, routing of Kubernetes REST
paths, watch streaming, logs, tables, fault injection and the /_bed admin
endpoints. Semantics live in registry.py; this file only translates HTTP to
calls and results (or APIErrors) back to HTTP, the way kube-apiserver's
handler chain does: authenticate → fault hook → route → verb handler →
JSON (or Table) encoding, with admission warnings as `Warning: 299` headers.

One thread per connection (ThreadingHTTPServer, HTTP/1.1 keep-alive); the
TLS handshake runs in that thread, not in accept(), so a slow or broken
client cannot stall the listener. Watches are chunked streams fed by a store
Watch; they end on timeoutSeconds, client disconnect or server shutdown.
"""
import base64
import http.server
import json
import logging
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
import uuid

import apierrors as E
import kproto
import labels
import registry as R
import store as st
import tables

log = logging.getLogger("kubesim.api")

VERB_OF = {"POST": "create", "PUT": "update", "PATCH": "patch"}
PATCH_TYPES = {"application/merge-patch+json": "merge", "application/json-patch+json": "json",
               "application/strategic-merge-patch+json": "strategic"}


class Faults:
    """API faults: fail the next N requests matching verb/resource/subresource."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def add(self, rule):
        code = rule.get("code", 500)
        if code not in (409, 500, "timeout", 429, 503):
            raise ValueError('code must be 409, 500, 429, 503 or "timeout", not %r' % (code,))
        r = {"verb": rule.get("verb", "*"), "resource": rule.get("resource", "*"),
             "subresource": rule.get("subresource", ""), "namespace": rule.get("namespace", "*"),
             "name": rule.get("name", "*"), "code": code, "count": int(rule.get("count", 1)),
             "seconds": float(rule.get("seconds", 10))}
        with self._lock:
            self._rules.append(r)
        return r

    def clear(self):
        with self._lock:
            self._rules = []

    def list(self):
        with self._lock:
            return [dict(r) for r in self._rules]

    def take(self, verb, resource, subresource, ns, name):
        with self._lock:
            for r in self._rules:
                if r["count"] <= 0:
                    continue
                if r["verb"] not in ("*", verb) or r["resource"] not in ("*", resource):
                    continue
                if (r["subresource"] or "") not in ("*", subresource or ""):
                    continue
                if r["namespace"] not in ("*", ns or "") or r["name"] not in ("*", name or ""):
                    continue
                r["count"] -= 1
                return dict(r)
        return None


class Route:
    def __init__(self):
        self.kind = None          # "resource" | "discovery" | other
        self.group = ""
        self.version = ""
        self.ns = None
        self.resource = None
        self.name = None
        self.sub = None
        self.watch_prefix = False


def parse_path(path):
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    r = Route()
    if not parts:
        return r
    if parts[0] == "api":
        if len(parts) == 1:
            r.kind = "api"
            return r
        r.version, rest = parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) == 1:
            r.kind = "apis"
            return r
        r.group = parts[1]
        if len(parts) == 2:
            r.kind = "group"
            return r
        r.version, rest = parts[2], parts[3:]
    else:
        return r
    if not rest:
        r.kind = "resources"
        return r
    if rest[0] == "watch":
        r.watch_prefix, rest = True, rest[1:]
        if not rest:
            return r
    if rest[0] == "namespaces" and len(rest) >= 2 and not r.group:
        if len(rest) == 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")):
            pass
        else:
            r.ns, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) >= 3:
        r.ns, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return r
    r.kind = "resource"
    r.resource = rest[0]
    r.name = rest[1] if len(rest) > 1 else None
    r.sub = rest[2] if len(rest) > 2 else None
    return r


def _user_from_cert(cert):
    if not cert:
        return None
    cn, orgs = None, []
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    if not cn:
        return None
    return {"username": cn, "groups": orgs + ["system:authenticated"]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, OSError):
            pass

    def _go(self):
        self.server.api.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _go


class BedHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, api, ssl_ctx):
        self.api = api
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(None)
        # headers and body go out as two writes; with Nagle on, the body waits for the
        # client's delayed ACK (40 ms a request). Go servers (kube-apiserver) set this too.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class APIServer:
    def __init__(self, store, catalogue, registry, admission, crds, token, cert, key, ca,
                 logs_dir=None, host="127.0.0.1", port=0):
        self.store, self.cat, self.reg = store, catalogue, registry
        self.admission, self.crds = admission, crds
        self.token = token
        self.faults = Faults()
        self.runtime = None
        self.logs_dir = logs_dir
        self.stopping = threading.Event()
        self.bookmark_interval = 5.0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.httpd = BedHTTPServer((host, port), self, ctx)
        self.address = "%s:%d" % self.httpd.server_address[:2]
        self._thread = None
        self.access = logging.getLogger("kubesim.access")

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="apiserver", daemon=True)
        self._thread.start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- plumbing --------------------------------------------------------
    def _read_body(self, h):
        if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                line = h.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > 8 * 1024 * 1024:
                    raise E.APIError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728", {})
                parts.append(h.rfile.read(size))
                h.rfile.readline(1024)
        n = int(h.headers.get("Content-Length") or 0)
        if n > 8 * 1024 * 1024:
            raise E.APIError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728", {})
        return h.rfile.read(n) if n else b""

    def _send(self, h, code, body, ctype="application/json", warnings=(), headers=None):
        data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body, separators=(",", ":")).encode()
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Audit-Id", str(uuid.uuid4()))
        for w in warnings:
            # UTF-8 goes out as raw bytes (Go's server allows obs-text); control characters do not
            text = "".join(c if c >= " " and c != "\x7f" else " " for c in w)
            text = text.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8").decode("latin-1")
            h.send_header("Warning", '299 - "%s"' % text)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _send_error(self, h, err, warnings=()):
        self._send(h, err.code, err.status(), warnings=warnings, headers=err.headers)

    def _authenticate(self, h):
        auth = h.headers.get("Authorization", "")
        user = None
        if auth.startswith("Bearer "):
            if auth[7:].strip() == self.token:
                user = {"username": "kubesim-admin", "groups": ["system:masters", "system:authenticated"]}
        else:
            try:
                user = _user_from_cert(h.connection.getpeercert())
            except (ValueError, AttributeError):
                user = None
        if user and h.headers.get("Impersonate-User"):
            user = {"username": h.headers["Impersonate-User"],
                    "groups": h.headers.get_all("Impersonate-Group") or ["system:authenticated"]}
        return user

    # ---- entry -----------------------------------------------------------
    def handle(self, h):
        t0 = time.monotonic()
        code = [0]
        orig_send = h.send_response

        def send_response(c, msg=None):
            code[0] = c
            orig_send(c, msg)
        h.send_response = send_response
        try:
            self._handle(h)
        except E.APIError as e:
            self._send_error(h, e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            h.close_connection = True
        except Exception as e:  # the bed must answer, not die
            log.exception("internal error serving %s %s", h.command, h.path)
            try:
                self._send_error(h, E.internal("%s: %s" % (type(e).__name__, e)))
            except OSError:
                h.close_connection = True
        finally:
            self.access.info("%s %s %s %.1fms", h.command, h.path, code[0], (time.monotonic() - t0) * 1000)

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send(h, 200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            import discovery
            return self._send(h, 200, discovery.SERVER_VERSION)
        user = self._authenticate(h)
        if user is None:
            self._read_body(h)
            raise E.unauthorized()
        if path.startswith("/_bed/"):
            return self._admin(h, path[len("/_bed/"):], q)
        if path.startswith("/openapi/"):
            return self._openapi(h, path)
        r = parse_path(path)
        if r.kind == "api":
            return self._send(h, 200, self.cat.api_versions(self.address))
        if r.kind == "apis":
            return self._send(h, 200, self.cat.api_group_list())
        if r.kind == "group":
            doc = self.cat.api_group(r.group)
            if doc is None:
                raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
            return self._send(h, 200, doc)
        if r.kind == "resources":
            doc = self.cat.resource_list(r.group, r.version)
            if doc is None:
                raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
            return self._send(h, 200, doc)
        if r.kind != "resource":
            self._read_body(h)
            raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
        return self._resource(h, r, q, user)

    def _openapi(self, h, path):
        if path == "/openapi/v2":
            pb = "protobuf" in h.headers.get("Accept", "")
            doc = self.cat.openapi_v2(pb)
            return self._send(h, 200, doc, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" if pb else "application/json")
        if path == "/openapi/v3":
            return self._send(h, 200, self.cat.openapi_v3_root())
        parts = path[len("/openapi/v3/"):].split("/")
        doc = None
        if parts[0] == "api" and len(parts) == 2:
            doc = self.cat.openapi_v3_gv("", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = self.cat.openapi_v3_gv(parts[1], parts[2])
        if doc is None:
            raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
        return self._send(h, 200, doc)

    # ---- resources -------------------------------------------------------
    def _resource(self, h, r, q, user):
        res = self.cat.find(r.group, r.version, r.resource)
        if res is None:
            self._read_body(h)
            raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
        if r.sub and r.sub not in res.subresources:
            self._read_body(h)
            raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
        if res.namespaced and r.ns is None and r.name and not r.watch_prefix:
            self._read_body(h)
            raise E.APIError(404, "NotFound", "the server could not find the requested resource", {})
        ns = r.ns if res.namespaced else None
        m = h.command
        watch = r.watch_prefix or q.get("watch") in ("true", "1")
        if m in ("GET", "HEAD"):
            verb = "watch" if watch else ("get" if r.name else "list")
        elif m == "DELETE":
            verb = "delete" if r.name else "deletecollection"
        else:
            verb = VERB_OF.get(m)
        if verb is None:
            raise E.method_not_allowed()
        body = b"" if m in ("GET", "HEAD") else self._read_body(h)
        if body and "protobuf" in h.headers.get("Content-Type", ""):
            try:
                body = json.dumps(kproto.decode(body)).encode()
            except kproto.ProtoError as e:
                raise E.unsupported_media("the body of the request was in an unknown format - accepted media "
                                          "types include: application/json, application/yaml (%s)" % e) from None
        fault = self.faults.take(verb, res.plural, r.sub, ns, r.name)
        if fault:
            return self._fault(h, fault, res, r.name)
        ctx = R.Ctx(user, dry_run=q.get("dryRun") == "All", field_validation=q.get("fieldValidation", ""),
                    field_manager=q.get("fieldManager"))
        if "dryRun" in q and q["dryRun"] not in ("All", ""):
            raise E.bad_request('Invalid dryRun value: "%s": supported values: "All"' % q["dryRun"])
        if q.get("fieldSelector") and verb in ("watch", "list", "deletecollection"):
            try:
                labels.parse_fields(q["fieldSelector"], labels.allowed_fields(res.key), res.custom)
            except labels.SelectorError as e:
                raise E.bad_request(str(e)) from None
        if verb == "watch":
            return self._watch(h, res, ns, r.name, q)
        if verb == "list":
            lst = self.reg.list(res, ns, q.get("labelSelector"), q.get("fieldSelector"),
                                int(q.get("limit") or 0), q.get("continue"))
            if self._wants_table(h):
                return self._send(h, 200, tables.table(res, lst["items"], q.get("includeObject"), self.crds,
                                                       lst["metadata"]))
            return self._send(h, 200, lst)
        if verb == "get":
            if r.sub == "log":
                return self._logs(h, ns, r.name, q)
            obj = self.reg.get_scale(res, ns, r.name) if r.sub == "scale" else self.reg.get(res, ns, r.name)
            if self._wants_table(h) and r.sub is None:
                return self._send(h, 200, tables.table(res, [obj], q.get("includeObject"), self.crds,
                                                       {"resourceVersion": obj["metadata"].get("resourceVersion", "")}))
            return self._send(h, 200, obj)
        if verb == "create":
            if r.name:
                raise E.method_not_allowed()
            obj = self.reg.create(res, ns, self._json(body), ctx)
            return self._send(h, 201, obj, warnings=ctx.warnings)
        if verb == "update":
            obj = self.reg.update(res, ns, r.name, self._json(body), ctx, r.sub)
            return self._send(h, 200, obj, warnings=ctx.warnings)
        if verb == "patch":
            ctype = h.headers.get("Content-Type", "").split(";")[0].strip()
            ptype = PATCH_TYPES.get(ctype)
            if ptype is None:
                raise E.unsupported_media("the body of the request was in an unknown format - accepted media types "
                                          "include: application/json-patch+json, application/merge-patch+json, "
                                          "application/apply-patch+yaml" +
                                          ("" if res.custom else ", application/strategic-merge-patch+json"))
            obj = self.reg.patch(res, ns, r.name, ptype, body, ctx, r.sub)
            return self._send(h, 200, obj, warnings=ctx.warnings)
        if verb == "delete":
            opts = self._delete_options(body, q)
            ctx.dry_run = ctx.dry_run or opts.get("dryRun") == ["All"]
            code, out = self.reg.delete(res, ns, r.name, opts, ctx)
            return self._send(h, code, out, warnings=ctx.warnings)
        if verb == "deletecollection":
            opts = self._delete_options(body, q)
            ctx.dry_run = ctx.dry_run or opts.get("dryRun") == ["All"]
            out = self.reg.delete_collection(res, ns, q.get("labelSelector"), q.get("fieldSelector"), opts, ctx)
            return self._send(h, 200, out, warnings=ctx.warnings)
        raise E.method_not_allowed()

    @staticmethod
    def _json(body):
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise E.bad_request("the body of the request could not be decoded as JSON: %s" % e) from None

    def _delete_options(self, body, q):
        opts = self._json(body) if body.strip() else {}
        if not isinstance(opts, dict):
            raise E.bad_request("DeleteOptions must be a JSON object")
        for k in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if k in q:
                v = q[k]
                opts[k] = v if k == "propagationPolicy" else (v == "true" if k == "orphanDependents" else int(v))
        if q.get("dryRun") == "All":
            opts["dryRun"] = ["All"]
        return opts

    @staticmethod
    def _wants_table(h):
        acc = h.headers.get("Accept", "")
        return "as=Table" in acc

    def _fault(self, h, fault, res, name):
        if fault["code"] == 409:
            raise E.conflict(res, name or "")
        if fault["code"] == "timeout":
            time.sleep(fault["seconds"])
            raise E.timeout()
        if fault["code"] == 429:
            raise E.too_many()
        if fault["code"] == 503:
            raise E.APIError(503, "ServiceUnavailable", "the server is currently unable to handle the request", {})
        raise E.internal("injected fault (kubesim /_bed/faults/api)")

    # ---- watch -----------------------------------------------------------
    def _watch(self, h, res, ns, name, q):
        rv = q.get("resourceVersion", "")
        try:
            timeout = float(q.get("timeoutSeconds") or 1800)
        except ValueError:
            raise E.bad_request("invalid timeoutSeconds %r" % q.get("timeoutSeconds")) from None
        fsel = q.get("fieldSelector") or ""
        if name:
            fsel = ("metadata.name=%s" % name) + ("," + fsel if fsel else "")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial_events = q.get("sendInitialEvents") in ("true", "1")
        table = self._wants_table(h)
        initial = []
        gone = None
        try:
            if rv in ("", "0") or initial_events:
                items, lrv = self.store.list(res.key, ns, q.get("labelSelector"), fsel)
                initial = items
                w = self.store.watch(res.key, ns, lrv, q.get("labelSelector"), fsel)
            else:
                w = self.store.watch(res.key, ns, rv, q.get("labelSelector"), fsel)
        except st.Gone as g:
            gone, w = g, None
        except st.Invalid as e:
            raise E.bad_request(str(e)) from None
        except ValueError as e:
            raise E.bad_request(str(e)) from None
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Cache-Control", "no-cache, private")
        h.send_header("Audit-Id", str(uuid.uuid4()))
        h.end_headers()
        h.close_connection = True
        first = [True]

        def emit(etype, obj):
            if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                obj = tables.table(res, [obj], q.get("includeObject"), self.crds,
                                   {"resourceVersion": obj["metadata"].get("resourceVersion", "")}, headers=True)
            first[0] = False
            data = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        try:
            if gone is not None:
                emit("ERROR", E.expired(str(gone)).status())
                initial, w = [], None
            for obj in initial if w is not None else []:
                emit("ADDED", obj)
            if initial_events and w is not None:
                emit("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version,
                                  "metadata": {"resourceVersion": w.idle_rv() or self.store.resource_version,
                                               "annotations": {"k8s.io/initial-events-end": "true"}}})
            deadline = time.monotonic() + timeout
            while w is not None and not self.stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ev = w.get(timeout=min(left, self.bookmark_interval if bookmarks else 1.0))
                if ev is None:
                    if w.closed or self._client_gone(h):
                        break
                    if bookmarks:
                        brv = w.idle_rv()
                        if brv:
                            emit("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version,
                                              "metadata": {"resourceVersion": brv}})
                    continue
                emit(*ev)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return
        finally:
            if w is not None:
                w.stop()
        try:
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except OSError:
            pass

    @staticmethod
    def _client_gone(h):
        """A watch client sends nothing after its request, so a readable socket
        means it closed (EOF or close_notify): end the stream instead of
        holding a thread until timeoutSeconds."""
        try:
            r, _, _ = select.select([h.connection], [], [], 0)
            if not r:
                return False
            h.connection.setblocking(False)
            try:
                return h.connection.recv(1) == b""
            finally:
                h.connection.setblocking(True)
        except ssl.SSLWantReadError:
            return False
        except (OSError, ValueError):
            return True

    # ---- logs ------------------------------------------------------------
    def log_path(self, ns, pod, container):
        return os.path.join(self.logs_dir or ".", "%s_%s_%s.log" % (ns, pod, container))

    def _logs(self, h, ns, name, q):
        pod = self.reg.get(self.cat.by_key("pods"), ns, name)
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        inits = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        c = q.get("container")
        if not c:
            if len(names) != 1:
                raise E.bad_request("a container name must be specified for pod %s, choose one of: [%s]%s" % (
                    name, " ".join(names), (" or one of the init containers: [%s]" % " ".join(inits)) if inits else ""))
            c = names[0]
        elif c not in names + inits:
            raise E.bad_request("container %s is not valid for pod %s" % (c, name))
        path = self.log_path(ns, name, c)
        if q.get("previous") in ("true", "1"):
            path = path[:-4] + ".previous.log"
            if not os.path.exists(path):
                raise E.bad_request('previous terminated container "%s" in pod "%s" not found' % (c, name))
        if not os.path.exists(path):
            raise E.bad_request('container "%s" in pod "%s" is waiting to start: ContainerCreating' % (c, name))
        with open(path, "rb") as f:
            data = f.read()
        if q.get("tailLines"):
            n = int(q["tailLines"])
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-n:]) if n > 0 else b""
        if q.get("limitBytes"):
            data = data[:int(q["limitBytes"])]
        if q.get("follow") not in ("true", "1"):
            return self._send(h, 200, data, "text/plain")
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.close_connection = True
        try:
            if data:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                h.wfile.flush()
            with open(path, "rb") as f:
                f.seek(0, 2)
                while not self.stopping.is_set():
                    chunk = f.read(65536)
                    if chunk:
                        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        h.wfile.flush()
                        continue
                    try:
                        p = self.store.get("pods", ns, name)
                    except st.NotFound:
                        break
                    statuses = ((p.get("status") or {}).get("containerStatuses") or []) + \
                        ((p.get("status") or {}).get("initContainerStatuses") or [])
                    state = next((s.get("state") or {} for s in statuses if s.get("name") == c), {})
                    if state.get("terminated"):
                        rest = f.read()
                        if rest:
                            h.wfile.write(b"%x\r\n%s\r\n" % (len(rest), rest))
                        break
                    time.sleep(0.2)
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    # ---- admin -----------------------------------------------------------
    def _admin(self, h, what, q):
        body = self._read_body(h)
        params = self._json(body) if body.strip() else {}
        m = h.command
        try:
            if what == "state" and m == "GET":
                return self._send(h, 200, self.state())
            if what == "faults" and m == "GET":
                return self._send(h, 200, {"api": self.faults.list(), "webhook": self.admission.fault_state()})
            if what == "faults" and m == "DELETE":
                self.faults.clear()
                self.admission.set_fault({"mode": "ok"})
                return self._send(h, 200, {"cleared": True})
            if what == "faults/api" and m == "POST":
                return self._send(h, 200, self.faults.add(params))
            if what == "faults/webhook" and m == "POST":
                return self._send(h, 200, self.admission.set_fault(params))
            if what == "services" and m == "POST":
                return self._send(h, 200, self.admission.services.add(params))
            if what == "services" and m == "GET":
                return self._send(h, 200, self.admission.services.all())
            if what == "compact" and m == "POST":
                self.store.compact(int(params.get("keep", 0)))
                return self._send(h, 200, {"compacted": self.store.resource_version})
            if what.startswith("faults/") and m == "POST":
                kind = what.split("/", 1)[1]
                if self.runtime is None or not hasattr(self.runtime, "fault"):
                    raise E.APIError(501, "NotImplemented", "fault %r needs the runtime (runtime.py), which this bed "
                                     "runs without" % kind, {})
                try:
                    out = self.runtime.fault(kind, params)
                except LookupError as e:
                    raise E.APIError(404, "NotFound", "fault %s: %s" % (kind, e), {}) from None
                return self._send(h, 200, out if out is not None else {"ok": True})
        except (ValueError, KeyError, TypeError) as e:
            raise E.bad_request("bad /_bed/%s request: %s" % (what, e)) from None
        raise E.APIError(404, "NotFound", "no admin endpoint %s %s" % (m, what), {})

    def state(self):
        counts = {}
        for k in self.store.keys():
            counts[k] = len(self.store.list(k)[0])
        out = {"address": self.address, "resourceVersion": self.store.resource_version, "objects": counts,
               "faults": self.faults.list(), "webhookFault": self.admission.fault_state(),
               "services": self.admission.services.all(), "runtime": None,
               "served": sorted(r.key for r in self.cat.all())}
        if self.runtime is not None and hasattr(self.runtime, "state"):
            try:
                out["runtime"] = self.runtime.state()
            except Exception as e:  # debugging aid only
                out["runtime"] = "error: %s" % e
        return out
