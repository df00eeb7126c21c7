"""Service networking on the bed: cluster DNS as a hosts file and the
ClusterIP table for the proxy (proxy.py), both from the real EndpointSlices
that kube-controller-manager writes.

The one idea: everything is recomputed from scratch — Services +
EndpointSlices → hosts file + proxy table — on any change (debounced), with
CoreDNS' and kube-proxy's rules, and written only where it changed:
- an endpoint counts when its `conditions.ready` is true; the EndpointSlice
  controller already marks every Pod ready for a Service with
  publishNotReadyAddresses, so a Pod that is not Ready has no name unless the
  Service publishes not-ready addresses — the deadlock of the operator this
  project replaces, kept faithfully;
- a headless Service (clusterIP None): `<svc>.<ns>.svc.<domain>` → each
  endpoint, `<hostname>.<svc>.<ns>.svc.<domain>` for an endpoint with a
  hostname (a StatefulSet Pod of its governing Service), and the dashed-IP
  form; any other Service: its names → its ClusterIP;
- short forms `<svc>.<ns>.svc` and `<svc>.<ns>` too (a hosts file has no
  search path; a bare `<svc>` is ambiguous across namespaces and left out).
The hosts file is rewritten in place (same inode: the bind mounts of it in
every container keep seeing it): the new content is written over the old from
offset 0 and the file truncated, so a reader never sees it empty.
"""
import logging
import os
import socket
import struct
import threading
import time

log = logging.getLogger("kbed.network")

HEADER = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
DNS_IP = "10.96.0.10"      # kube-dns's customary ClusterIP, reserved by the agent's kube-dns Service


def resolv_conf(namespace, domain):
    """A Pod's /etc/resolv.conf under dnsPolicy ClusterFirst, as kubelet writes it."""
    return ("nameserver %s\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n"
            % (DNS_IP, namespace, domain, domain, domain))


class DNSServer(threading.Thread):
    """Cluster DNS over UDP from the same table as the hosts file: A records for
    the names it holds, NXDOMAIN at once for any other (a resolver that gets no
    answer waits 5 s a try, which no cluster's CoreDNS makes it do)."""

    def __init__(self, ip=DNS_IP, port=53):
        super().__init__(name="cluster-dns", daemon=True)
        self.table = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(0.5)
        self.closing = False

    def run(self):
        while not self.closing:
            try:
                data, peer = self.sock.recvfrom(1500)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self.answer(data)
            except (ValueError, IndexError, struct.error):
                continue
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def answer(self, q):
        qid, flags, qd = struct.unpack(">HHH", q[:6])
        if qd != 1:
            raise ValueError("one question")
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace").lower())
            i += 1 + q[i]
        qtype, qclass = struct.unpack(">HH", q[i + 1:i + 5])
        question = q[12:i + 5]
        name = ".".join(labels)
        ips = self.table.get(name)
        rd = flags & 0x0100
        if ips is None:
            return struct.pack(">HHHHHH", qid, 0x8180 | rd | 3, 1, 0, 0, 0) + question   # NXDOMAIN
        answers = b""
        count = 0
        if qtype in (1, 255) and qclass == 1:
            for ip in ips:
                answers += struct.pack(">HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(ip)
                count += 1
        return struct.pack(">HHHHHH", qid, 0x8180 | rd, 1, count, 0, 0) + question + answers

    def update(self, lines):
        table = {}
        for ip, name in lines:
            table.setdefault(name.lower(), []).append(ip)
        self.table = table

    def stop(self):
        self.closing = True
        self.sock.close()
SERVICE_LABEL = "kubernetes.io/service-name"


def _ip_key(ip):
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (999,)


def ready_endpoints(slices):
    """[(ip, hostname or None, {port name: port})] of the ready endpoints of one Service's slices."""
    out = []
    for sl in slices:
        if sl.get("addressType") != "IPv4":
            continue
        ports = {p.get("name") or "": p.get("port") for p in sl.get("ports") or [] if p.get("port")}
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            for ip in ep.get("addresses") or []:
                out.append((ip, ep.get("hostname"), ports))
    return sorted(out, key=lambda e: _ip_key(e[0]))


def hosts_lines(services, slices_by_svc, domain, held):
    """[(ip, name)] for the hosts file; held: names to leave out."""
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
            for ip, hostname, _ in ready_endpoints(slices_by_svc.get((ns, name), [])):
                for n in names:
                    add(ip, n)
                if hostname:
                    add(ip, "%s.%s" % (hostname, full))
                add(ip, "%s.%s" % (ip.replace(".", "-"), full))
        elif spec.get("clusterIP"):
            for n in names:
                add(spec["clusterIP"], n)
    return out


def proxy_table(services, slices_by_svc):
    """{(clusterIP, port): [(ip, targetPort)]} for every TCP port of every ClusterIP Service."""
    table = {}
    for svc in services:
        md, spec = svc["metadata"], svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or spec.get("type") == "ExternalName":
            continue
        eps = ready_endpoints(slices_by_svc.get((md.get("namespace", "default"), md["name"]), []))
        for sp in spec.get("ports") or []:
            if sp.get("protocol", "TCP") != "TCP":
                continue
            pname = sp.get("name") or ""
            table[(ip, int(sp["port"]))] = [(eip, ports[pname]) for eip, _, ports in eps if pname in ports]
    return table


def render(lines, extra=()):
    body = [HEADER, "# kbed cluster DNS: rewritten in place on every change\n"]
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
    """Keeps the hosts file and the proxy table in step with Services and EndpointSlices."""

    def __init__(self, store, cfg, proxy):
        self.store, self.cfg, self.proxy = store, cfg, proxy
        self.domain = cfg.get("cluster_domain") or "cluster.local"
        self.hosts_path = cfg["hosts_path"]
        self.extra = list(cfg.get("extra_hosts") or [])
        self._dirty = threading.Event()
        self._held = {}          # name -> monotonic deadline
        self._content = None
        self._closing = False
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._t = threading.Thread(target=self._loop, name="service-network", daemon=True)
        self.dns = DNSServer()
        if not os.path.exists(self.hosts_path):
            write_in_place(self.hosts_path, render([], self.extra))

    def start(self):
        self.ensure_dns_service()
        self.sync()
        self.dns.start()
        self._t.start()

    def ensure_dns_service(self):
        """kube-system/kube-dns holding DNS_IP, so the API server never hands it to another Service."""
        svc = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kube-dns", "namespace": "kube-system",
                            "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
               "spec": {"clusterIP": DNS_IP, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}}
        try:
            self.store.create("services", svc)
        except Exception as e:
            if getattr(e, "code", 0) != 409:
                raise

    def stop(self):
        self._closing = True
        self._dirty.set()
        self.dns.stop()

    def on_event(self, etype, key, obj):
        if key in ("services", "endpointslices"):
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
            services = self.store.list("services")[0]
            by_svc = {}
            for sl in self.store.list("endpointslices")[0]:
                md = sl["metadata"]
                svc = (md.get("labels") or {}).get(SERVICE_LABEL)
                if svc:
                    by_svc.setdefault((md.get("namespace", "default"), svc), []).append(sl)
            now = time.monotonic()
            with self._lock:
                self._held = {n: d for n, d in self._held.items() if d > now}
                held = set(self._held)
            lines = hosts_lines(services, by_svc, self.domain, held)
            self.dns.update(lines)
            content = render(lines, self.extra)
            if content != self._content:
                write_in_place(self.hosts_path, content)
                self._content = content
            if self.proxy is not None:
                self.proxy.update(proxy_table(services, by_svc))
