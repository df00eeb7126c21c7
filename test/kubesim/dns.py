"""Service networking on the bed: the Endpoints controller, cluster DNS as a
hosts file, and the ClusterIP addresses the proxy (proxy.py) serves.

The one idea: everything is recomputed from scratch — Services + Pods →
Endpoints → hosts file + proxy table — on any change (debounced), exactly
with Kubernetes' rules, and written only where it changed. The rules:
- a Pod belongs to a Service's endpoints when the selector matches, it has an
  IP, it is not Succeeded/Failed, and it is not terminating — unless the
  Service has publishNotReadyAddresses, which keeps terminating Pods and puts
  every Pod under `addresses`; otherwise a Pod that is not Ready goes under
  `notReadyAddresses`;
- DNS (CoreDNS' kubernetes plugin) publishes only `addresses`: for a headless
  Service (clusterIP None) `<svc>.<ns>.svc.<domain>` → each address, and
  `<hostname>.<svc>.<ns>.svc.<domain>` for an address whose Pod set
  spec.hostname and spec.subdomain == the Service's name (a StatefulSet Pod of
  the governing Service), plus the dashed-IP form; for any other Service the
  names → its ClusterIP. So with publishNotReadyAddresses false a Pod that is
  not Ready has no name — the deadlock of the operator this project replaces.
- short forms `<svc>.<ns>.svc` and `<svc>.<ns>` are written too (a hosts file
  has no search path; bare `<svc>` is ambiguous across namespaces and left out).
The hosts file is rewritten in place (same inode: bind mounts of it in every
container keep seeing it): the new content is written over the old from
offset 0 and the file truncated to its length, so a reader never sees it empty.
"""
import logging
import os
import threading
import time

import labels as sel
import store as st
from rtutil import NODE_NAME, is_ready, is_terminating

log = logging.getLogger("kubesim.dns")

HEADER = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _ip_key(ip):
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (999,)


def _target_port(svc_port, pod):
    tp = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(tp, int) or (isinstance(tp, str) and tp.isdigit()):
        return int(tp)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp:
                return int(p["containerPort"])
    return None


def endpoint_subsets(svc, pods):
    """The Endpoints subsets the endpoints controller computes for a selector Service."""
    spec = svc.get("spec") or {}
    pub = bool(spec.get("publishNotReadyAddresses"))
    reqs = sel.compile_labels(spec.get("selector") or {})
    groups = {}
    for p in pods:
        md, pst = p["metadata"], p.get("status") or {}
        if not sel.matches(reqs, md.get("labels")) or not pst.get("podIP"):
            continue
        if pst.get("phase") in ("Succeeded", "Failed"):
            continue
        if is_terminating(p) and not pub:
            continue
        addr = {"ip": pst["podIP"], "nodeName": (p.get("spec") or {}).get("nodeName") or NODE_NAME,
                "targetRef": {"kind": "Pod", "namespace": md.get("namespace", "default"),
                              "name": md["name"], "uid": md["uid"]}}
        pspec = p.get("spec") or {}
        if pspec.get("hostname") and pspec.get("subdomain") == svc["metadata"]["name"]:
            addr["hostname"] = pspec["hostname"]
        ports = []
        for sp in spec.get("ports") or []:
            tp = _target_port(sp, p)
            if tp is None:
                continue
            ep = {"port": tp, "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                ep["name"] = sp["name"]
            if sp.get("appProtocol"):
                ep["appProtocol"] = sp["appProtocol"]
            ports.append(ep)
        if spec.get("ports") and not ports:
            continue
        g = groups.setdefault(tuple(sorted((e.get("name", ""), e["port"], e["protocol"]) for e in ports)),
                              {"addresses": [], "notReadyAddresses": [], "ports": ports})
        g["addresses" if pub or is_ready(p) else "notReadyAddresses"].append(addr)
    subsets = []
    for key in sorted(groups):
        g = groups[key]
        s = {}
        for k in ("addresses", "notReadyAddresses"):
            if g[k]:
                s[k] = sorted(g[k], key=lambda a: _ip_key(a["ip"]))
        if g["ports"]:
            s["ports"] = sorted(g["ports"], key=lambda e: (e.get("name", ""), e["port"]))
        subsets.append(s)
    return subsets


def hosts_lines(services, endpoints, cluster_ips, domain, held):
    """[(ip, name)] for the hosts file.

    services: Service dicts; endpoints: {(ns, name): Endpoints dict};
    cluster_ips: {(ns, name): ip the proxy serves}; held: names to leave out."""
    out = []

    def add(ip, name):
        if name not in held:
            out.append((ip, name))

    for svc in services:
        md, spec = svc["metadata"], svc.get("spec") or {}
        ns, name = md.get("namespace", "default"), md["name"]
        if spec.get("type") == "ExternalName":
            continue
        full = "%s.%s.svc.%s" % (name, ns, domain)
        names = (full, "%s.%s.svc" % (name, ns), "%s.%s" % (name, ns))
        if spec.get("clusterIP") == "None":
            ep = endpoints.get((ns, name)) or {}
            for s in ep.get("subsets") or []:
                for a in s.get("addresses") or []:
                    for n in names:
                        add(a["ip"], n)
                    if a.get("hostname"):
                        add(a["ip"], "%s.%s" % (a["hostname"], full))
                    add(a["ip"], "%s.%s" % (a["ip"].replace(".", "-"), full))
        elif (ns, name) in cluster_ips:
            for n in names:
                add(cluster_ips[(ns, name)], n)
    return out


def render(lines, extra=()):
    body = [HEADER, "# kubesim cluster DNS: rewritten in place on every change\n"]
    for ip, name in list(extra) + lines:
        body.append("%s\t%s\n" % (ip, name))
    return "".join(body)


def write_in_place(path, content):
    """Overwrite path's content keeping its inode; never leaves it empty."""
    data = content.encode()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


class ServiceNetwork:
    """Keeps Endpoints objects, the hosts file and the proxy table in step with Services and Pods."""

    def __init__(self, store, cfg, ips, proxy):
        self.store, self.cfg, self.ips, self.proxy = store, cfg, ips, proxy
        self.domain = cfg.get("cluster_domain") or "cluster.local"
        self.hosts_path = cfg["hosts_path"]
        self.extra = list(cfg.get("extra_hosts") or [])    # [(ip, name)] e.g. the API server
        self._dirty = threading.Event()
        self._held = {}          # name -> monotonic deadline
        self._vips = {}          # (ns, name, uid) -> ip, for Services whose clusterIP is not ours
        self._content = None
        self._managed = set()     # Endpoints this controller writes (Services with a selector)
        self._managed_now = set()
        self._closing = False
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._t = threading.Thread(target=self._loop, name="service-network", daemon=True)
        if not os.path.exists(self.hosts_path):
            write_in_place(self.hosts_path, render([], self.extra))

    def start(self):
        self.sync()
        self._t.start()

    def stop(self):
        self._closing = True
        self._dirty.set()

    def on_event(self, etype, key, obj):
        if key in ("services", "pods", "endpoints"):
            self._dirty.set()

    def hold(self, name, seconds):
        """Fault: leave `name` out of the hosts file for `seconds`."""
        if not name or seconds is None or float(seconds) < 0:
            raise ValueError("dns fault needs a name and holdSeconds >= 0")
        with self._lock:
            self._held[name] = time.monotonic() + float(seconds)
        self.sync()

    def _loop(self):
        while not self._closing:
            with self._lock:
                nxt = min(self._held.values(), default=None)
            timeout = 1.0 if nxt is None else max(0.01, min(1.0, nxt - time.monotonic()))
            self._dirty.wait(timeout)
            if self._closing:
                return
            time.sleep(0.02)        # debounce bursts of events
            self._dirty.clear()
            try:
                self.sync()
            except Exception:
                log.exception("service network sync")

    def sync(self):
        with self._sync_lock:
            self._sync()

    def _sync(self):
        services = self.store.list("services")[0]
        pods = self.store.list("pods")[0]
        by_ns = {}
        for p in pods:
            by_ns.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
        endpoints, cluster_ips, table = {}, {}, {}
        self._managed_now = set()
        for svc in services:
            md, spec = svc["metadata"], svc.get("spec") or {}
            key = (md.get("namespace", "default"), md["name"])
            if spec.get("type") == "ExternalName":
                continue
            if spec.get("selector"):
                subsets = endpoint_subsets(svc, by_ns.get(key[0], []))
                self._managed_now.add(key)
                endpoints[key] = self._write_endpoints(svc, subsets)
            else:
                try:
                    endpoints[key] = self.store.get("endpoints", *key)
                except st.NotFound:
                    endpoints[key] = {}
            if spec.get("clusterIP") != "None":
                ip = self._cluster_ip(svc)
                if ip:
                    cluster_ips[key] = ip
                    for sp in spec.get("ports") or []:
                        if sp.get("protocol", "TCP") != "TCP":
                            continue
                        backends = []
                        for s in endpoints[key].get("subsets") or []:
                            port = next((e["port"] for e in s.get("ports") or []
                                         if e.get("name", "") == sp.get("name", "")), None)
                            if port is None:
                                continue
                            backends += [(a["ip"], port) for a in s.get("addresses") or []]
                        table[(ip, int(sp["port"]))] = backends
        now = time.monotonic()
        with self._lock:
            self._held = {n: d for n, d in self._held.items() if d > now}
            held = set(self._held)
        content = render(hosts_lines(services, endpoints, cluster_ips, self.domain, held), self.extra)
        if content != self._content:
            write_in_place(self.hosts_path, content)
            self._content = content
        if self.proxy is not None:
            self.proxy.update(table)
        live = {(s["metadata"].get("namespace", "default"), s["metadata"]["name"], s["metadata"]["uid"]) for s in services}
        selected = set(self._managed_now)
        for k in self._managed - selected:       # the endpoints controller deletes them with the Service
            try:
                self.store.delete("endpoints", *k)
            except st.NotFound:
                pass
        self._managed = selected
        for k in [k for k in self._vips if k not in live]:
            self.ips.release(self._vips.pop(k))

    def _cluster_ip(self, svc):
        md, spec = svc["metadata"], svc.get("spec") or {}
        key = (md.get("namespace", "default"), md["name"], md["uid"])
        ip = spec.get("clusterIP")
        if ip and ip.startswith(self.ips.block + "."):
            self.ips.claim(ip)
            return ip
        if key in self._vips:
            return self._vips[key]
        new = self.ips.allocate("service")
        if ip:      # an address from elsewhere (a manifest's fixed IP): serve it on one of ours
            self._vips[key] = new
            return new

        def fn(o):
            if o["metadata"]["uid"] != md["uid"] or (o.get("spec") or {}).get("clusterIP"):
                return False
            o["spec"]["clusterIP"] = new
            o["spec"]["clusterIPs"] = [new]
        try:
            got = self.store.mutate("services", key[0], key[1], fn)
        except st.NotFound:
            self.ips.release(new)
            return None
        have = got["spec"].get("clusterIP")
        if have != new:
            self.ips.release(new)
            return self._cluster_ip(got)
        self._vips[key] = new
        return new

    def _write_endpoints(self, svc, subsets):
        md = svc["metadata"]
        ns, name = md.get("namespace", "default"), md["name"]
        try:
            cur = self.store.get("endpoints", ns, name)
        except st.NotFound:
            cur = None
        lbl = dict(md.get("labels") or {})
        if cur is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "labels": lbl}}
            if subsets:
                obj["subsets"] = subsets
            try:
                return self.store.create("endpoints", obj)
            except st.AlreadyExists:
                return self._write_endpoints(svc, subsets)
        if (cur.get("subsets") or []) == subsets and (cur["metadata"].get("labels") or {}) == lbl:
            return cur

        def fn(o):
            o["metadata"]["labels"] = lbl
            if subsets:
                o["subsets"] = subsets
            else:
                o.pop("subsets", None)
        try:
            return self.store.mutate("endpoints", ns, name, fn)
        except st.NotFound:
            return {"subsets": subsets}
