"""kube-proxy for the bed: a TCP forwarder on each ClusterIP:port.

The one idea: inside the bed's network namespace all of 10.96.0.0/16 (the
Service range kube-apiserver allocates from) is routed to `lo` as local, so
every ClusterIP can be bound as it is, and "kube-proxy" is simply a listener on
ClusterIP:port that picks a ready endpoint per connection, round robin, and
splices bytes both ways. The table of backends is replaced atomically on
every change (ServiceNetwork.sync); a connection that fails to reach a
backend tries the next one, as kube-proxy's userspace mode did; established
connections are left alone when endpoints change, as with iptables. A
ClusterIP with no ready endpoint accepts and closes the connection (the
client sees a reset-like EOF rather than a hang).
"""
import logging
import socket
import threading

log = logging.getLogger("kbed.proxy")

CONNECT_TIMEOUT = 2.0


class _Listener:
    def __init__(self, ip, port):
        self.ip, self.port = ip, port
        self.backends = []
        self._rr = 0
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((ip, port))
            self.sock.listen(128)
        except OSError:
            self.sock.close()
            raise
        self.sock.settimeout(0.5)
        self.closed = False
        self._t = threading.Thread(target=self._accept, name="proxy-%s:%d" % (ip, port), daemon=True)
        self._t.start()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _pick(self):
        with self._lock:
            b = list(self.backends)
            start = self._rr
            self._rr += 1
        if not b:
            return []
        start %= len(b)
        return b[start:] + b[:start]

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="proxy-conn", daemon=True).start()

    def _serve(self, client):
        upstream = None
        for ip, port in self._pick():
            try:
                upstream = socket.create_connection((ip, port), timeout=CONNECT_TIMEOUT)
                break
            except OSError as e:
                log.debug("proxy %s:%d -> %s:%d: %s", self.ip, self.port, ip, port, e)
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        for sk in (client, upstream):   # a relay must not add Nagle's waits of its own (iptables adds none)
            sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t = threading.Thread(target=pump, args=(upstream, client), name="proxy-pump", daemon=True)
        t.start()
        pump(client, upstream)
        t.join()
        client.close()
        upstream.close()


def pump(src, dst):
    """Copy src to dst until EOF, then half-close dst (both directions run one each)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Proxy:
    def __init__(self):
        self._listeners = {}
        self._lock = threading.Lock()

    def update(self, table):
        """table: {(cluster_ip, port): [(backend_ip, backend_port), …]} — the whole desired state."""
        with self._lock:
            for key in [k for k in self._listeners if k not in table]:
                self._listeners.pop(key).close()
            for key, backends in table.items():
                lst = self._listeners.get(key)
                if lst is None:
                    try:
                        lst = _Listener(*key)
                    except OSError as e:
                        log.error("proxy: cannot listen on %s:%d: %s", key[0], key[1], e)
                        continue
                    self._listeners[key] = lst
                with lst._lock:
                    lst.backends = list(backends)

    def stop(self):
        with self._lock:
            for lst in self._listeners.values():
                lst.close()
            self._listeners.clear()
