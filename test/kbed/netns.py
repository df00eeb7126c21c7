"""The bed's private network namespace, and the one way out of it.

`serve` opens its host-side listening socket first (127.0.0.1, a free port),
then calls isolate(): unshare(CLONE_NEWNET) while the process is still
single-threaded, so every thread and child made afterwards lives in the new
namespace; `lo` comes up, the bridge kbr0 holds 10.244.0.1/16 (the API
server's advertised address; the node agent puts each Pod's veth on it) and
the node addresses, and an AnyIP local route makes every address of
10.96.0.0/16 (Service ClusterIPs) local. All of it exists before the first
component starts, so no address ever moves under a running connection.
Nothing in the namespace reaches any other network, so no packet to a Pod
address ever leaves the bed.

The Relay thread then copies bytes between connections accepted on the
host-side socket (a socket keeps the namespace it was made in) and
10.244.0.1:6443 inside the bed, so kubectl on the host works.

enter(pid, hosts) is the other direction, for `run`: join the bed's network
namespace (setns on /proc/PID/ns/net) and a private mount namespace with
the bed's hosts file bind-mounted over /etc/hosts.
"""
import ctypes
import os
import socket
import subprocess
import threading

from .agent.proxy import pump as _pump   # the one byte pump, shared with the ClusterIP proxy

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

POD_RANGE = "10.244.0.0/16"
SERVICE_RANGE = "10.96.0.0/16"
API_IP = "10.244.0.1"

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(OSError):
    pass


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise NetnsError(e, "%s: %s" % (what, os.strerror(e)))


_host_ns = None         # an fd of the namespace we came from (for Relay.resume)


BRIDGE = "kbr0"


def isolate(node_ips=()):
    """Move this (single-threaded) process into a new network namespace and
    set it up. Raises NetnsError/RuntimeError."""
    global _host_ns
    if threading.active_count() != 1:
        raise RuntimeError("netns.isolate() must run before any thread is started")
    _host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    script = ("link set lo up\n"
              "link add %s type bridge\n"
              "addr add %s/16 dev %s\n" % (BRIDGE, API_IP, BRIDGE)
              + "".join("addr add %s/32 dev %s\n" % (ip, BRIDGE) for ip in node_ips)
              + "link set %s up\n"
              "route add local %s dev lo\n" % (BRIDGE, SERVICE_RANGE))
    p = subprocess.run(["ip", "-batch", "-"], input=script.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    if p.returncode != 0:
        raise RuntimeError("ip -batch failed (exit %d): %s" % (p.returncode, p.stdout.decode(errors="replace")))


def enter(pid, hosts=None):
    """Join the network namespace of pid; with hosts, also a private mount
    namespace where hosts is mounted over /etc/hosts."""
    fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), "setns(net of %d)" % pid)
    finally:
        os.close(fd)
    if hosts:
        # the containers' own way: a private mount namespace with hosts over /etc/hosts,
        # which also works on a machine without an /etc/hosts (a minimal Debian has none)
        from .agent import sandbox
        try:
            sandbox.enter_cluster_network(hosts)
        except sandbox.SandboxError as e:
            raise NetnsError(1, "the bed's hosts file over /etc/hosts: %s" % e) from None


def in_host_namespace(fn):
    """fn() run on a short-lived thread that first joins the namespace this
    process came from (setns acts on the calling thread only); a socket made
    there stays in that namespace."""
    out = {}

    def run():
        try:
            _check(_libc.setns(_host_ns, CLONE_NEWNET), "setns(host net)")
            out["value"] = fn()
        except BaseException as e:      # re-raised on the caller's thread
            out["error"] = e
    t = threading.Thread(target=run, name="host-netns")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


class Relay:
    """Accepts on a listening socket made before isolate() (so in the host's
    namespace) and connects each connection to target inside the bed.

    pause() closes the host-side port and resume() opens the same port again,
    so that while the API server is stopped (the api fault) a client on the
    host is refused, as by a real stopped API server, instead of accepted and
    closed (which client-go retries as an EOF)."""

    def __init__(self, listener, target, log=None):
        self.listener, self.target, self.log = listener, target, log
        self.port = listener.getsockname()[1]
        self.address = "%s:%d" % listener.getsockname()[:2]
        self._closed = False
        self._lock = threading.Lock()
        self.connections = 0
        self.failed = 0

    def start(self):
        threading.Thread(target=self._accept, args=(self.listener,), name="relay", daemon=True).start()
        return self

    @property
    def listening(self):
        return self.listener is not None

    def pause(self):
        with self._lock:
            lst, self.listener = self.listener, None
        if lst is not None:
            _close_listener(lst)

    def resume(self):
        with self._lock:
            if self.listener is not None or self._closed:
                return
            self.listener = in_host_namespace(lambda: listen_host(self.port))
            threading.Thread(target=self._accept, args=(self.listener,), name="relay", daemon=True).start()

    def _accept(self, lst):
        while True:
            try:
                c, _ = lst.accept()
            except OSError:
                if self._closed or self.listener is not lst:
                    return
                continue
            threading.Thread(target=self._serve, args=(c,), name="relay-conn", daemon=True).start()

    def _serve(self, c):
        try:
            u = socket.create_connection(self.target, timeout=5)
        except OSError as e:
            self.failed += 1
            if self.log:
                self.log.debug("relay: %s:%d: %s", self.target[0], self.target[1], e)
            c.close()
            return
        self.connections += 1
        u.settimeout(None)
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = threading.Thread(target=_pump, args=(u, c), name="relay-down", daemon=True)
        t.start()
        _pump(c, u)
        t.join()
        c.close()
        u.close()

    def close(self):
        self._closed = True
        self.pause()


def _close_listener(s):
    try:
        s.shutdown(socket.SHUT_RDWR)      # wakes the thread blocked in accept()
    except OSError:
        pass
    s.close()


def listen_host(port=0):
    """The host-side listener (call before isolate())."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s
