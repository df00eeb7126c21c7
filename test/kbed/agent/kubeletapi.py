"""The kubelet's HTTPS endpoint, for `kubectl logs`: kube-apiserver dials
<node InternalIP>:10250 and asks for /containerLogs/<ns>/<pod>/<container>.

The one idea: the agent already writes every container's output to
logs/pods/<ns>_<pod>_<container>.log (and the instance before a restart to
.previous.log), so the endpoint only reads those files — the whole file,
its last `tailLines`, or followed while the container runs (`follow=true`).
Only the log endpoint is served; exec, attach and port-forward are answered
404 as a kubelet without those features would.
"""
import http.server
import logging
import os
import re
import ssl
import threading
import time
import urllib.parse

log = logging.getLogger("kbed.kubeletapi")

PORT = 10250
PATH_RE = re.compile(r"^/containerLogs/([^/]+)/([^/]+)/([^/]+)$")


def tail_lines(data, n):
    if n is None or n < 0:
        return data
    if n == 0:
        return b""
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-n:])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # the bed's log, not stderr
        log.debug("kubelet api: " + fmt, *args)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        m = PATH_RE.match(u.path)
        if not m:
            return self._plain(404, "the test bed's kubelet serves only /containerLogs\n")
        ns, pod, ctr = (urllib.parse.unquote(x) for x in m.groups())
        q = urllib.parse.parse_qs(u.query)
        previous = q.get("previous", ["false"])[0] == "true"
        follow = q.get("follow", ["false"])[0] == "true" and not previous
        try:
            n = int(q["tailLines"][0]) if "tailLines" in q else None
        except ValueError:
            return self._plain(400, "tailLines must be a number\n")
        path = os.path.join(self.server.logs_dir, "%s_%s_%s%s.log" % (ns, pod, ctr, ".previous" if previous else ""))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            what = "previous terminated container" if previous else "container"
            return self._plain(404, 'no logs of %s "%s" in pod "%s"\n' % (what, ctr, pod))
        data = tail_lines(data, n)
        if not follow:
            return self._send(200, data)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._chunk(data)
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                idle = 0.0
                while not self.server.closing:
                    more = f.read(65536)
                    if more:
                        self._chunk(more)
                        idle = 0.0
                        continue
                    time.sleep(0.2)
                    idle += 0.2
                    if idle >= 1.0 and not self.server.running(ns, pod):
                        break
                    if idle >= 1.0:
                        idle = 0.0
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def _chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _plain(self, code, text):
        self._send(code, text.encode())

    def _send(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class KubeletAPI:
    """One HTTPS listener per node address (port 10250), all reading the same log files."""

    def __init__(self, node_ips, cert_file, key_file, logs_dir, running):
        self.servers = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        for ip in node_ips:
            s = Server((ip, PORT), Handler)
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
            s.logs_dir, s.closing, s.running = logs_dir, False, running
            self.servers.append(s)

    def start(self):
        for s in self.servers:
            threading.Thread(target=s.serve_forever, name="kubelet-api", daemon=True).start()
        return self

    def stop(self):
        for s in self.servers:
            s.closing = True
            s.shutdown()
            s.server_close()
