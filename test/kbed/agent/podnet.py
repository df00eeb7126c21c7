"""Pod networking: a network namespace per Pod on one bridge, as a CNI
bridge plugin sets it up.

The one idea: the whole bed already lives in a private network namespace (the
"bed host"), so the agent may wire it freely. The host side has a bridge
`kbr0` holding 10.244.0.1/16 (the API server's advertised address) and the
node addresses; each Pod gets a namespace of its own, held open by a sleeping
holder process, with one end of a veth pair as its `eth0`
(10.244.<node>.<n>/16, default route via 10.244.0.1) and the other end on the
bridge. Pods reach each other over the bridge and Services through the bed
host, where 10.96.0.0/16 is routed locally to the ClusterIP proxy. Two Pods
may therefore listen on the same port, as the webhook's and controller's
replicas do, and nothing a Pod sends can leave the bed.
"""
import logging
import os
import signal
import subprocess
import threading

log = logging.getLogger("kbed.podnet")

BRIDGE = "kbr0"
GATEWAY = "10.244.0.1"


def _ip(*args, netns_pid=None):
    cmd = ["ip"] + list(args)
    if netns_pid is not None:
        cmd = ["nsenter", "--net=/proc/%d/ns/net" % netns_pid, "--"] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise OSError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


def setup_host(node_ips):
    """The bed host's side: the bridge with the gateway and node addresses
    (the bed's netns.isolate makes them before anything starts; this makes
    whatever is missing, for an agent started on its own)."""
    if subprocess.run(["ip", "link", "show", BRIDGE], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        _ip("link", "add", BRIDGE, "type", "bridge")
    have = _ip("-4", "addr", "show", "dev", BRIDGE)
    if " %s/16 " % GATEWAY not in have:
        _ip("addr", "add", GATEWAY + "/16", "dev", BRIDGE)
    for ip in node_ips:
        if " %s/32 " % ip not in have:
            _ip("addr", "add", ip + "/32", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    _ip("link", "set", "lo", "up")


class PodNetworks:
    """Creates and removes the per-Pod namespaces (one holder process each)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seq = 0
        self._holders = {}     # pod uid -> Popen

    def create(self, uid, ip):
        """Returns the path of the Pod's network namespace (/proc/<holder>/ns/net)."""
        with self._lock:
            self._seq += 1
            host_if = "kv%d" % self._seq
        holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            path = "/proc/%d/ns/net" % holder.pid
            # unshare execs sleep once the namespace exists: wait for that
            for _ in range(200):
                try:
                    if os.readlink(path) != os.readlink("/proc/self/ns/net"):
                        break
                except OSError:
                    pass
                threading.Event().wait(0.005)
            _ip("link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", str(holder.pid))
            _ip("link", "set", host_if, "master", BRIDGE, "up")
            _ip("link", "set", "lo", "up", netns_pid=holder.pid)
            _ip("addr", "add", ip + "/16", "dev", "eth0", netns_pid=holder.pid)
            _ip("link", "set", "eth0", "up", netns_pid=holder.pid)
            _ip("route", "add", "default", "via", GATEWAY, netns_pid=holder.pid)
        except BaseException:
            holder.kill()
            holder.wait()
            raise
        with self._lock:
            self._holders[uid] = holder
        return path

    def remove(self, uid):
        with self._lock:
            holder = self._holders.pop(uid, None)
        if holder is not None:   # the veth pair goes with the namespace
            try:
                os.killpg(holder.pid, signal.SIGKILL)
            except OSError:
                pass
            holder.wait()

    def stop(self):
        with self._lock:
            uids = list(self._holders)
        for uid in uids:
            self.remove(uid)
