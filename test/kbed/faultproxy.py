"""A fault-injecting front for the real kube-apiserver: what a flaky load
balancer in front of the API server does to a client, on purpose.

The real API server cannot be told to fail the next three StatefulSet
patches; the controller's fault tests need exactly that. So a client under
test (the controller started by a test) is given a kubeconfig whose server is
this proxy. It terminates TLS with a certificate of the bed's CA, answers a
matching request with the injected status (a Kubernetes Status object, as the
API server words it), and forwards everything else to the real API server —
as the caller: a bearer token is passed on as it came, and a client
certificate's identity (CN, O) is passed on by impersonation from the
proxy's own admin identity, so RBAC judges the caller, not the proxy.
Watches stream through unbuffered.

    python3 -m kbed.faultproxy --listen IP:PORT --upstream https://IP:PORT \
        --ca CA --cert CRT --key KEY --admin-cert CRT --admin-key KEY --control SOCKET

Faults arrive as JSON lines on the Unix socket SOCKET (it works across
network namespaces): {"verb", "resource", "subresource", "code", "count"}
adds one (code "timeout" with "seconds": the request is held that long, then
dropped unanswered); {"clear": true} removes all; every reply is the current list.
"""
import argparse
import http.client
import json
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
REASONS = {409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests",
           404: "NotFound", 403: "Forbidden"}
PATH_RE = re.compile(r"^/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/([^/]+)(?:/([^/]+))?(?:/([^/]+))?$")


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, f):
        code = f.get("code", 500)
        f = {"verb": f.get("verb", "*"), "resource": f.get("resource", "*"),
             "subresource": f.get("subresource") or "",
             "code": "timeout" if code == "timeout" else int(code),
             "seconds": float(f.get("seconds", 30)), "count": int(f.get("count", 1))}
        with self.lock:
            self.items.append(f)

    def clear(self):
        with self.lock:
            self.items = []

    def snapshot(self):
        with self.lock:
            return [dict(f) for f in self.items]

    def take(self, verb, resource, sub):
        """The status to inject for this request, consuming one count; None to pass."""
        with self.lock:
            for f in self.items:
                if f["count"] <= 0:
                    continue
                if f["verb"] not in ("*", verb) or f["resource"] not in ("*", resource):
                    continue
                if f["subresource"] != sub:
                    continue
                f["count"] -= 1
                return f["code"], f["seconds"]
        return None, 0


def classify(method, path, query):
    """(verb, resource, subresource) as RBAC names them."""
    m = PATH_RE.match(path)
    if not m:
        return VERBS.get(method, method.lower()), "", ""
    resource, name, sub = m.group(1), m.group(2), m.group(3) or ""
    verb = VERBS.get(method, method.lower())
    if method == "GET" and not name:
        verb = "watch" if query.get("watch", ["0"])[0] in ("1", "true") else "list"
    return verb, resource, sub


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        srv = self.server
        try:
            conn = srv.ctx.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        rfile = conn.makefile("rb")
        try:
            while self._one(conn, rfile):
                pass
        except (OSError, ssl.SSLError, http.client.HTTPException):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _one(self, conn, rfile):
        line = rfile.readline(65536)
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers = []
        while True:
            h = rfile.readline(65536)
            if h in (b"\r\n", b"\n", b""):
                break
            k, v = h.decode("latin-1").split(":", 1)
            headers.append((k.strip(), v.strip()))
        hmap = {k.lower(): v for k, v in headers}
        body = b""
        if "content-length" in hmap:
            body = rfile.read(int(hmap["content-length"]))
        elif hmap.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(rfile.readline().split(b";")[0], 16)
                if size == 0:
                    rfile.readline()
                    break
                body += rfile.read(size)
                rfile.readline()
        u = urllib.parse.urlsplit(target)
        verb, resource, sub = classify(method, u.path, urllib.parse.parse_qs(u.query))
        code, seconds = self.server.faults.take(verb, resource, sub)
        if code == "timeout":     # a request that is never answered: held, then dropped
            time.sleep(seconds)
            return False
        if code is not None:
            what = "injected fault: %s %s%s answered %d by the test bed's fault proxy" % (
                verb, resource, "/" + sub if sub else "", code)
            if code == 409:   # worded as kube-apiserver words a stale write
                what = ("Operation cannot be fulfilled on %s: the object has been modified; please apply "
                        "your changes to the latest version and try again (%s)" % (resource, what))
            st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": what,
                  "reason": REASONS.get(code, "InternalError"), "code": code}
            data = json.dumps(st).encode()
            conn.sendall(("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % (code, REASONS.get(code, "Error"), len(data))).encode() + data)
            return True
        return self._forward(conn, method, target, headers, body)

    def _forward(self, conn, method, target, headers, body):
        srv = self.server
        peer = conn.getpeercert() or {}
        send = {}
        for k, v in headers:
            if k.lower() in ("host", "connection", "content-length", "transfer-encoding") or \
                    k.lower().startswith("impersonate-"):
                continue
            send[k] = v
        up = http.client.HTTPSConnection(srv.upstream[0], srv.upstream[1],
                                         context=srv.admin_ctx if "authorization" not in
                                         {k.lower() for k in send} else srv.plain_ctx, timeout=600)
        if "authorization" not in {k.lower() for k in send} and peer:
            cn, orgs = None, []
            for rdn in peer.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn and "system:masters" not in orgs:
                send["Impersonate-User"] = cn
                up.putheader_groups = orgs
        try:
            up.putrequest(method, target, skip_accept_encoding=True)
            for k, v in send.items():
                up.putheader(k, v)
            for g in getattr(up, "putheader_groups", []):
                up.putheader("Impersonate-Group", g)
            up.putheader("Content-Length", str(len(body)))
            up.endheaders(body)
            r = up.getresponse()
            out = ["HTTP/1.1 %d %s\r\n" % (r.status, r.reason)]
            streaming = r.getheader("Content-Length") is None
            for k, v in r.getheaders():
                if k.lower() in ("transfer-encoding", "connection", "content-length"):
                    continue
                out.append("%s: %s\r\n" % (k, v))
            if streaming:
                out.append("Transfer-Encoding: chunked\r\n\r\n")
                conn.sendall("".join(out).encode("latin-1"))
                while True:
                    chunk = r.read1(65536)
                    if not chunk:
                        break
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.sendall(b"0\r\n\r\n")
            else:
                data = r.read()
                out.append("Content-Length: %d\r\n\r\n" % len(data))
                conn.sendall("".join(out).encode("latin-1") + data)
            return True
        finally:
            up.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def control_loop(path, faults):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    while True:
        c, _ = s.accept()
        with c, c.makefile("rwb") as f:
            for line in f:
                try:
                    req = json.loads(line)
                    if req.get("clear"):
                        faults.clear()
                    elif req:
                        faults.add(req)
                    reply = {"faults": faults.snapshot()}
                except (ValueError, TypeError) as e:
                    reply = {"error": str(e)}
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()


def send(path, req, timeout=5):
    """Client side: one request to a running proxy's control socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    with s, s.makefile("rwb") as f:
        f.write(json.dumps(req).encode() + b"\n")
        f.flush()
        return json.loads(f.readline())


def main(argv=None):
    p = argparse.ArgumentParser(prog="kbed.faultproxy")
    for a in ("--listen", "--upstream", "--ca", "--cert", "--key", "--admin-cert", "--admin-key", "--control"):
        p.add_argument(a, required=True)
    a = p.parse_args(argv)
    host, port = a.listen.rsplit(":", 1)
    up = urllib.parse.urlsplit(a.upstream)
    srv = Server((host, int(port)), Handler)
    srv.faults = Faults()
    srv.upstream = (up.hostname, up.port or 443)
    srv.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=a.ca)
    srv.ctx.load_cert_chain(a.cert, a.key)
    srv.ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.admin_ctx = ssl.create_default_context(cafile=a.ca)
    srv.admin_ctx.load_cert_chain(a.admin_cert, a.admin_key)
    srv.plain_ctx = ssl.create_default_context(cafile=a.ca)
    threading.Thread(target=control_loop, args=(a.control, srv.faults), daemon=True).start()
    sys.stdout.write("faultproxy listening on %s\n" % a.listen)
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
