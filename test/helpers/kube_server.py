#!/usr/bin/env python3
"""A small, scriptable Kubernetes API server over HTTPS for the C client tests.

Started through test/helpers/kube_testsrv.c by the kube client tests (never by
the test runner itself):

    kube_server.py --addr 127.11.X.Y --cert server.crt --key server.key \
                   --client-ca ca.crt --token SECRET

It prints "READY <port>" once listening on an ephemeral port, and exits when
its stdin closes, so a test that dies cannot leave it behind.

What it serves, faithfully to kube-apiserver where the client cares:
  * authentication: a bearer token from the accepted set, or a client
    certificate signed by --client-ca; otherwise 401 with a Status;
  * EtcdClusters (etcd.k8s-operator.io/v1alpha1): get, list, create, update
    (stale resourceVersion -> 409 with the real message), merge patch, JSON
    patch, status and scale subresources, delete with DeleteOptions;
  * watch: chunked, one JSON event per line, from a resourceVersion, with
    bookmarks off, ERROR 410 for a compacted resourceVersion.
Test controls (no auth) under /_test/: scripted responses for the next
requests to a path (status, body, headers, hang), accepted tokens, the
request log, watch behaviour (split events into tiny chunks, close after N
events, answer HTTP 410), and store changes behind the client's back.
"""
import argparse
import json
import re
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

GROUP = "etcd.k8s-operator.io"
API = f"/apis/{GROUP}/v1alpha1"
PATH_RE = re.compile(API + r"(?:/namespaces/([^/]+))?/etcdclusters(?:/([^/]+))?(?:/(status|scale))?$")

lock = threading.Condition()
state = {
    "tokens": set(),
    "objects": {},       # (ns, name) -> object
    "rv": 100,
    "events": [],        # (rv, type, object)
    "compacted": 0,      # watches from an rv below this get 410
    "scripts": [],       # {"method","path","responses":[...]}
    "log": [],
    "watch": {},         # applies to the next watch: chunk, close_after, http410
    "kick": 0,           # bumped to make every open watch close
}


def status_obj(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if details:
        st["details"] = details
    return st


def not_found(name):
    return status_obj(404, "NotFound", f'etcdclusters.{GROUP} "{name}" not found',
                      {"name": name, "group": GROUP, "kind": "etcdclusters"})


def bump(obj, evtype):
    """Give obj the next resourceVersion and record the event. Lock held."""
    state["rv"] += 1
    obj["metadata"]["resourceVersion"] = str(state["rv"])
    state["events"].append((state["rv"], evtype, json.loads(json.dumps(obj))))
    lock.notify_all()


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def json_patch(doc, ops):
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if cur != op["value"]:
                raise ValueError(f"test failed at {op['path']}")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise ValueError(f"replace of a missing {op['path']}")
                parent[last] = op["value"]
        elif kind == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise ValueError(f"unsupported op {kind}")
    return doc


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-test-server"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        super().setup()

    # ---- responses ----
    def send(self, code, body, headers=(), ctype="application/json"):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            # Go's server sends UTF-8 header bytes as they are; so do we.
            self.send_header(k, v.encode().decode("latin-1"))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    # ---- request plumbing ----
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def who(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in state["tokens"]:
            return "token"
        cert = self.request.getpeercert()
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return "cert:" + v
        return None

    def handle_any(self, method):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.body()
        if url.path.startswith("/_test/"):
            return self.control(method, url.path, raw)
        who = self.who()
        with lock:
            state["log"].append({
                "method": method, "path": url.path, "query": q, "who": who or "none",
                "ua": self.headers.get("User-Agent", ""),
                "accept": self.headers.get("Accept", ""),
                "ctype": self.headers.get("Content-Type", ""),
                "host": self.headers.get("Host", ""),
                "peer": self.client_address[1],
                "body": raw.decode(errors="replace"), "t": time.monotonic()})
            script = None
            for s in state["scripts"]:
                if s["method"] == method and s["path"] == url.path and s["responses"]:
                    script = s["responses"].pop(0)
                    break
        if script is not None:
            if script.get("hang"):
                time.sleep(script["hang"])
            return self.send(script.get("status", 200), script.get("body", {}),
                             [tuple(h) for h in script.get("headers", [])],
                             script.get("ctype", "application/json"))
        if not who:
            return self.send(401, status_obj(401, "Unauthorized", "Unauthorized"))
        if url.path == "/version":
            return self.send(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        m = PATH_RE.match(url.path)
        if not m:
            return self.send(404, status_obj(404, "NotFound",
                                             "the server could not find the requested resource"))
        ns, name, sub = m.groups()
        if method == "GET" and not name and q.get("watch") in ("1", "true"):
            return self.watch(ns, q)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            return self.send(400, status_obj(400, "BadRequest", "the body is not JSON"))
        return self.crud(method, ns, name, sub, doc)

    def crud(self, method, ns, name, sub, doc):
        with lock:
            objs = state["objects"]
            if method == "GET" and not name:
                items = [o for (n, _), o in sorted(objs.items()) if ns in (None, n)]
                return self.send(200, {"kind": "EtcdClusterList", "apiVersion": f"{GROUP}/v1alpha1",
                                       "metadata": {"resourceVersion": str(state["rv"])},
                                       "items": items})
            if method == "POST" and not name:
                meta = doc.setdefault("metadata", {})
                key = (ns, meta.get("name"))
                if key in objs:
                    return self.send(409, status_obj(409, "AlreadyExists",
                                                     f'etcdclusters.{GROUP} "{key[1]}" already exists',
                                                     {"name": key[1], "group": GROUP,
                                                      "kind": "etcdclusters"}))
                meta.update({"namespace": ns, "uid": str(uuid.uuid4()), "generation": 1})
                objs[key] = doc
                bump(doc, "ADDED")
                return self.send(201, doc)
            key = (ns, name)
            cur = objs.get(key)
            if cur is None:
                return self.send(404, not_found(name))
            if method == "GET":
                return self.send(200, cur)
            if method == "DELETE":
                del objs[key]
                bump(cur, "DELETED")
                return self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                       "details": {"name": name, "group": GROUP,
                                                   "kind": "etcdclusters", "uid": cur["metadata"]["uid"]}})
            if method == "PUT":
                rv = doc.get("metadata", {}).get("resourceVersion")
                if rv != cur["metadata"]["resourceVersion"]:
                    return self.send(409, status_obj(
                        409, "Conflict",
                        f'Operation cannot be fulfilled on etcdclusters.{GROUP} "{name}": the object '
                        "has been modified; please apply your changes to the latest version and try again",
                        {"name": name, "group": GROUP, "kind": "etcdclusters"}))
                new = json.loads(json.dumps(cur))
                if sub == "status":
                    new["status"] = doc.get("status")
                else:
                    new["spec"] = doc.get("spec")
                    if new["spec"] != cur.get("spec"):
                        new["metadata"]["generation"] += 1
                objs[key] = new
                bump(new, "MODIFIED")
                return self.send(200, new)
            if method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
                new = json.loads(json.dumps(cur))
                try:
                    if ctype == "application/merge-patch+json":
                        new = merge_patch(new, doc)
                    elif ctype == "application/json-patch+json":
                        new = json_patch(new, doc)
                    else:
                        return self.send(415, status_obj(415, "UnsupportedMediaType",
                                                         f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json"))
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    return self.send(422, status_obj(422, "Invalid", f"the patch cannot be applied: {e}"))
                if new.get("spec") != cur.get("spec"):
                    new["metadata"]["generation"] += 1
                objs[key] = new
                bump(new, "MODIFIED")
                return self.send(200, new)
        return self.send(405, status_obj(405, "MethodNotAllowed", f"{method} is not allowed here"))

    def watch(self, ns, q):
        with lock:
            wopts, state["watch"] = state["watch"], {}
            kick = state["kick"]
            since = int(q.get("resourceVersion") or state["rv"])
        if wopts.get("http410"):
            return self.send(410, status_obj(410, "Expired", f"too old resource version: {since}"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = int(wopts.get("chunk") or 0)

        def emit(ev):
            data = (json.dumps(ev) + "\n").encode()
            if not piece:
                return self.chunk(data)
            for i in range(0, len(data), piece):
                self.chunk(data[i:i + piece])
                time.sleep(0.002)

        deadline = time.monotonic() + int(q.get("timeoutSeconds") or 300)
        sent = 0
        close_after = wopts.get("close_after")
        try:
            if since < state["compacted"]:
                emit({"type": "ERROR", "object": status_obj(
                    410, "Expired", f"too old resource version: {since} ({state['compacted']})")})
            else:
                while time.monotonic() < deadline and (close_after is None or sent < close_after):
                    with lock:
                        if state["kick"] != kick:
                            break
                        pending = [e for e in state["events"] if e[0] > since and ns in (None, e[2]["metadata"]["namespace"])]
                        if not pending:
                            lock.wait(0.2)
                            continue
                    for rv, typ, obj in pending:
                        emit({"type": typ, "object": obj})
                        since = rv
                        sent += 1
                        if close_after is not None and sent >= close_after:
                            break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True

    def control(self, method, path, raw):
        doc = json.loads(raw) if raw else {}
        with lock:
            if path == "/_test/script":
                state["scripts"].append(doc)
            elif path == "/_test/tokens":
                state["tokens"] = set(doc["tokens"])
            elif path == "/_test/log":
                if method == "GET":
                    return self.send(200, state["log"])
                state["log"] = []
            elif path == "/_test/watch":
                state["watch"] = doc
            elif path == "/_test/put":
                meta = doc["metadata"]
                key = (meta["namespace"], meta["name"])
                old = state["objects"].get(key)
                meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
                state["objects"][key] = doc
                bump(doc, "MODIFIED" if old else "ADDED")
            elif path == "/_test/vanish":
                # Delete without an event, and forget history so that any
                # watch from before answers 410: the client must relist.
                state["objects"].pop((doc["namespace"], doc["name"]), None)
                state["rv"] += 1
                state["compacted"] = state["rv"]
                state["events"] = []
            elif path == "/_test/kick":
                state["kick"] += 1
                lock.notify_all()
            elif path == "/_test/reset":
                state.update(objects={}, events=[], scripts=[], log=[], watch={}, compacted=0)
            else:
                return self.send(404, {"error": "no such control"})
        return self.send(200, {"ok": True})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that went away is not news


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", required=True)
    ap.add_argument("--token", required=True)
    a = ap.parse_args()
    state["tokens"] = {a.token}
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.load_verify_locations(a.client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    srv = Server((a.addr, 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(f"READY {srv.server_address[1]}", flush=True)
    sys.stdin.read()  # until the test closes our stdin (or dies)
    srv.shutdown()


if __name__ == "__main__":
    main()
