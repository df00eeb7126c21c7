"""The node agent's view of the real kube-apiserver, shaped like a small store.

The agent's parts (kubelet, volume provisioner, service network) were written
against a store with get/list/create/update/mutate/delete/subscribe; this
module gives them the same calls over HTTPS to the real API server, so what
they do is what a kubelet does: read and write objects through the API.

The one idea: every resource the agent reacts to is kept by an informer
(list, then watch from that resourceVersion; relist on 410 or a broken
stream), whose cache answers list() and whose events go to the subscribers
from one dispatcher thread. Reads of anything else, and every write, go to
the API server directly. Errors come back as the exceptions below, named as
the API's reasons are.
"""
import http.client
import json
import logging
import queue
import ssl
import threading
import time
import urllib.parse

log = logging.getLogger("kbed.remote")


class APIError(Exception):
    def __init__(self, code, message, reason=""):
        super().__init__(message)
        self.code, self.reason = code, reason


class NotFound(APIError):
    pass


class Conflict(APIError):
    pass


class AlreadyExists(APIError):
    pass


# key -> (group, version, resource, namespaced)
RESOURCES = {
    "pods": ("", "v1", "pods", True),
    "services": ("", "v1", "services", True),
    "events": ("", "v1", "events", True),
    "configmaps": ("", "v1", "configmaps", True),
    "secrets": ("", "v1", "secrets", True),
    "serviceaccounts": ("", "v1", "serviceaccounts", True),
    "persistentvolumeclaims": ("", "v1", "persistentvolumeclaims", True),
    "persistentvolumes": ("", "v1", "persistentvolumes", False),
    "nodes": ("", "v1", "nodes", False),
    "namespaces": ("", "v1", "namespaces", False),
    "endpointslices": ("discovery.k8s.io", "v1", "endpointslices", True),
    "leases": ("coordination.k8s.io", "v1", "leases", True),
    "storageclasses": ("storage.k8s.io", "v1", "storageclasses", False),
}


def _path(key, ns=None, name=None, subresource=None):
    group, version, resource, namespaced = RESOURCES[key]
    p = "/api/v1" if not group else "/apis/%s/%s" % (group, version)
    if namespaced and ns:
        p += "/namespaces/%s" % urllib.parse.quote(ns, safe="")
    p += "/" + resource
    if name:
        p += "/" + urllib.parse.quote(name, safe="")
    if subresource:
        p += "/" + subresource
    return p


def _kind(key):
    group, version, resource, _ = RESOURCES[key]
    return ("%s/%s" % (group, version)) if group else version


class Client:
    """HTTPS to the API server with a client certificate; one connection per thread."""

    def __init__(self, api, ca_file, cert_file, key_file, timeout=30):
        u = urllib.parse.urlparse(api)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self, fresh=False, timeout=None):
        if fresh or timeout is not None:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                               timeout=timeout or self.timeout)
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                               timeout=self.timeout)
        return c

    def request(self, method, path, body=None, query=None, content_type="application/json"):
        """(status, decoded JSON body or None). Retries once on a dropped keep-alive connection."""
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Accept": "application/json", "User-Agent": "kbed-agent/1.0"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            c = self._conn()
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                c.close()
                self._local.conn = None
                if attempt:
                    raise
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            obj = {"message": raw.decode("utf-8", "replace")}
        return r.status, obj

    def check(self, status, obj, what):
        if status < 300:
            return obj
        msg = (obj or {}).get("message") or "HTTP %d" % status
        reason = (obj or {}).get("reason") or ""
        cls = {404: NotFound, 409: AlreadyExists if reason == "AlreadyExists" else Conflict}.get(status, APIError)
        raise cls(status, "%s: %s" % (what, msg), reason)


class Informer(threading.Thread):
    """list + watch of one resource, cached by (namespace, name)."""

    def __init__(self, client, key, emit):
        super().__init__(name="informer-" + key, daemon=True)
        self.client, self.key, self.emit = client, key, emit
        self.cache = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()
        self.closing = False
        self._resp_conn = None

    def items(self, ns=None):
        with self.lock:
            return [o for (ons, _), o in sorted(self.cache.items()) if ns is None or ons == ns]

    def get(self, ns, name):
        with self.lock:
            return self.cache.get((ns or "", name))

    @staticmethod
    def _id(obj):
        md = obj.get("metadata") or {}
        return md.get("namespace") or "", md.get("name")

    def run(self):
        rv = None
        while not self.closing:
            try:
                if rv is None:
                    rv = self._relist()
                rv = self._watch(rv)
            except Exception as e:   # broken stream, API server restarting: relist after a pause
                if self.closing:
                    return
                log.debug("informer %s: %s", self.key, e)
                rv = None
                time.sleep(0.5)

    def _relist(self):
        st, obj = self.client.request("GET", _path(self.key))
        obj = self.client.check(st, obj, "list " + self.key)
        fresh = {self._id(o): o for o in obj.get("items") or []}
        with self.lock:
            old, self.cache = self.cache, fresh
        for k, o in fresh.items():
            prev = old.get(k)
            if prev is None:
                self.emit("ADDED", self.key, o)
            elif prev.get("metadata", {}).get("resourceVersion") != o["metadata"].get("resourceVersion"):
                self.emit("MODIFIED", self.key, o)
        for k, o in old.items():
            if k not in fresh:
                self.emit("DELETED", self.key, o)
        self.synced.set()
        return obj["metadata"].get("resourceVersion")

    def _watch(self, rv):
        q = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "300"}
        conn = self.client._conn(fresh=True, timeout=330)
        self._resp_conn = conn
        try:
            conn.request("GET", _path(self.key) + "?" + urllib.parse.urlencode(q),
                         headers={"Accept": "application/json", "User-Agent": "kbed-agent/1.0"})
            r = conn.getresponse()
            if r.status != 200:
                r.read()
                return None
            while not self.closing:
                line = r.readline()
                if not line:
                    return rv          # server closed the watch: resume from rv
                ev = json.loads(line)
                etype, o = ev.get("type"), ev.get("object") or {}
                if etype == "ERROR":
                    return None        # 410 Gone or similar: relist
                nrv = (o.get("metadata") or {}).get("resourceVersion")
                if nrv:
                    rv = nrv
                if etype == "BOOKMARK":
                    continue
                k = self._id(o)
                with self.lock:
                    if etype == "DELETED":
                        self.cache.pop(k, None)
                    else:
                        self.cache[k] = o
                self.emit(etype, self.key, o)
            return rv
        finally:
            conn.close()

    def stop(self):
        self.closing = True
        c = self._resp_conn
        if c is not None and c.sock is not None:
            try:
                c.sock.shutdown(2)
            except OSError:
                pass


class RemoteStore:
    """get/list/create/update/mutate/delete/subscribe over the real API."""

    def __init__(self, client):
        self.client = client
        self._subs = []
        self._informers = {}
        self._q = queue.Queue()
        self._dispatcher = threading.Thread(target=self._dispatch, name="store-dispatch", daemon=True)
        self._dispatcher.start()

    # ---- informers -----------------------------------------------------
    def watch(self, *keys):
        for key in keys:
            if key not in self._informers:
                inf = Informer(self.client, key, lambda et, k, o: self._q.put((et, k, o)))
                self._informers[key] = inf
                inf.start()

    def wait_synced(self, timeout):
        end = time.monotonic() + timeout
        for inf in self._informers.values():
            if not inf.synced.wait(max(0.0, end - time.monotonic())):
                return False
        return True

    def subscribe(self, fn):
        self._subs.append(fn)

    def _dispatch(self):
        while True:
            item = self._q.get()
            if item is None:
                return
            for fn in list(self._subs):
                try:
                    fn(*item)
                except Exception:
                    log.exception("subscriber")

    def close(self):
        for inf in self._informers.values():
            inf.stop()
        self._q.put(None)

    # ---- reads ---------------------------------------------------------
    def get(self, key, ns, name, cached=False):
        inf = self._informers.get(key)
        if cached and inf is not None and inf.synced.is_set():
            o = inf.get(ns, name)
            if o is None:
                raise NotFound(404, '%s "%s" not found' % (key, name), "NotFound")
            return json.loads(json.dumps(o))
        st, obj = self.client.request("GET", _path(key, ns, name))
        return self.client.check(st, obj, "get %s %s/%s" % (key, ns, name))

    def list(self, key, ns=None, label_selector=None, field_selector=None):
        """(items, resourceVersion); from the informer's cache when there is one."""
        inf = self._informers.get(key)
        if inf is not None and inf.synced.is_set() and not label_selector and not field_selector:
            return inf.items(ns), None
        q = {}
        if label_selector:
            q["labelSelector"] = label_selector
        if field_selector:
            q["fieldSelector"] = field_selector
        st, obj = self.client.request("GET", _path(key, ns), query=q)
        obj = self.client.check(st, obj, "list " + key)
        return obj.get("items") or [], obj["metadata"].get("resourceVersion")

    # ---- writes --------------------------------------------------------
    def create(self, key, obj):
        md = obj.get("metadata") or {}
        obj.setdefault("apiVersion", _kind(key))
        st, out = self.client.request("POST", _path(key, md.get("namespace")), obj)
        return self.client.check(st, out, "create %s %s" % (key, md.get("name") or md.get("generateName")))

    def update(self, key, obj, subresource=None):
        md = obj["metadata"]
        st, out = self.client.request("PUT", _path(key, md.get("namespace"), md["name"], subresource), obj)
        return self.client.check(st, out, "update %s %s" % (key, md["name"]))

    def patch(self, key, ns, name, patch, subresource=None, kind="merge"):
        ct = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
              "json": "application/json-patch+json"}[kind]
        st, out = self.client.request("PATCH", _path(key, ns, name, subresource), patch, content_type=ct)
        return self.client.check(st, out, "patch %s %s" % (key, name))

    def mutate(self, key, ns, name, fn, subresource=None, retries=20):
        """Read-modify-write with retry on Conflict; fn returning False skips the write."""
        for _ in range(retries):
            obj = self.get(key, ns, name)
            if fn(obj) is False:
                return obj
            try:
                return self.update(key, obj, subresource=subresource)
            except Conflict:
                time.sleep(0.05)
        raise Conflict(409, "%s %s/%s: too many conflicting writers" % (key, ns, name), "Conflict")

    def delete(self, key, ns, name, uid=None, grace_seconds=None, resource_version=None):
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        pre = {}
        if uid:
            pre["uid"] = uid
        if resource_version:
            pre["resourceVersion"] = resource_version
        if pre:
            body["preconditions"] = pre
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = int(grace_seconds)
        st, out = self.client.request("DELETE", _path(key, ns, name), body)
        return self.client.check(st, out, "delete %s %s/%s" % (key, ns, name))

    def token(self, ns, sa, pod_name, pod_uid, seconds=3600, audiences=None):
        """A bound service-account token for a Pod (TokenRequest), as kubelet asks for one."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": int(seconds),
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod_name, "uid": pod_uid}}}
        if audiences:
            body["spec"]["audiences"] = list(audiences)
        st, out = self.client.request("POST", _path("serviceaccounts", ns, sa, "token"), body)
        out = self.client.check(st, out, "token for %s/%s" % (ns, sa))
        return out["status"]["token"]
