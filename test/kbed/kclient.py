"""A very small Kubernetes API client (standard library): HTTPS with a client
certificate or a bearer token, JSON in and out. Enough for the bed's own
needs (readiness, CRDs, a few checks in tests); everything else uses kubectl.
"""
import http.client
import json
import ssl


class APIError(Exception):
    def __init__(self, code, body):
        self.code, self.body = code, body
        msg = body.get("message") if isinstance(body, dict) else body
        super().__init__("HTTP %s: %s" % (code, msg))


class Client:
    def __init__(self, host, port, ca_file, cert_file=None, key_file=None, token=None, timeout=10.0):
        self.host, self.port, self.token, self.timeout = host, int(port), token, timeout
        self.ctx = ssl.create_default_context(cafile=ca_file)
        if cert_file:
            self.ctx.load_cert_chain(cert_file, key_file)
        self._conn = None

    def _connection(self):
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def raw(self, method, path, body=None, content_type="application/json", timeout=None):
        """(status, bytes); raises OSError/http.client errors on transport failure."""
        headers = {"Accept": "application/json"}
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        for attempt in (0, 1):
            conn = self._connection()
            if timeout is not None:
                conn.timeout = timeout
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
            except Exception:
                self.close()
                raise

    def request(self, method, path, body=None, content_type="application/json", ok=(200, 201, 202)):
        code, data = self.raw(method, path, body, content_type)
        try:
            obj = json.loads(data) if data else None
        except ValueError:
            obj = data.decode(errors="replace")
        if code not in ok:
            raise APIError(code, obj)
        return obj

    def get(self, path):
        return self.request("GET", path)

    def create(self, path, obj):
        return self.request("POST", path, obj)
