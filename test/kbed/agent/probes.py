"""Container probes (readiness, liveness, startup) as the kubelet runs them.

One Prober thread per probe per running container instance; it owns the
consecutive success/failure counters and turns them into one boolean the pod
worker reads (`ok`), calling `notify()` whenever that boolean flips, so the
worker never blocks on a probe's timeout. httpGet goes to the Pod's IP (2xx
and 3xx succeed), tcpSocket connects, exec runs the command inside the
container's namespaces with nsenter (mount, UTS and root: it sees the
image's root, the same volumes and /etc/hosts; the program is looked up in
the container's PATH there). Thresholds and timings follow the Pod API defaults.
"""
import http.client
import logging
import socket
import ssl
import subprocess
import threading

from . import podspec

log = logging.getLogger("kbed.probes")


def _port(probe_port, container):
    if isinstance(probe_port, int) or (isinstance(probe_port, str) and probe_port.isdigit()):
        return int(probe_port)
    for p in container.get("ports") or []:
        if p.get("name") == probe_port:
            return int(p["containerPort"])
    raise ValueError('port "%s" is not a named port of container "%s"' % (probe_port, container.get("name")))


_INSECURE = []


def _insecure_context():
    """kubelet's HTTPS probes verify nothing; one context for all (no CA store loaded)."""
    if not _INSECURE:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        _INSECURE.append(ctx)
    return _INSECURE[0]


def run_once(probe, pod_ip, container, pid, env):
    """(success, message) of one probe attempt."""
    timeout = max(1, int(probe.get("timeoutSeconds") or 1))
    where = ""
    try:
        if "httpGet" in probe:
            h = probe["httpGet"]
            host, port = h.get("host") or pod_ip, _port(h.get("port"), container)
            where = 'Get "%s://%s:%d%s": dial tcp %s:%d: ' % ((h.get("scheme") or "HTTP").lower(), host, port,
                                                            h.get("path") or "/", host, port)
            if (h.get("scheme") or "HTTP").upper() == "HTTPS":
                conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_insecure_context())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            try:
                headers = {x.get("name"): x.get("value") for x in h.get("httpHeaders") or []}
                headers.setdefault("User-Agent", "kube-probe/1.32")
                conn.request("GET", h.get("path") or "/", headers=headers)
                resp = conn.getresponse()
                body = resp.read(10240)
            finally:
                conn.close()
            if 200 <= resp.status < 400:
                return True, ""
            return False, "HTTP probe failed with statuscode: %d%s" % (
                resp.status, (": " + body.decode("utf-8", "replace").strip()[:200]) if body else "")
        if "tcpSocket" in probe:
            t = probe["tcpSocket"]
            host, port = t.get("host") or pod_ip, _port(t.get("port"), container)
            where = "dial tcp %s:%d: " % (host, port)
            with socket.create_connection((host, port), timeout=timeout):
                return True, ""
        if "exec" in probe:
            if pid is None:
                return False, "container is not running"
            static = {e.get("name"): e.get("value", "") for e in container.get("env") or [] if "valueFrom" not in e}
            argv = [podspec.expand(a, static) for a in probe["exec"].get("command") or []]
            if not argv:
                return False, "exec probe has no command"
            cmd = ["nsenter", "-t", str(pid), "-m", "-u", "-n", "-r", "-w", "--"] + argv
            try:
                r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=timeout, start_new_session=True)
            except subprocess.TimeoutExpired:
                return False, "command timed out after %ds" % timeout
            if r.returncode == 0:
                return True, ""
            return False, "command %s exited %d: %s" % (probe["exec"].get("command"), r.returncode,
                                                       r.stdout.decode("utf-8", "replace").strip()[:300])
        if "grpc" in probe:
            return False, "grpc probes are not supported by the test bed"
        return False, "probe has no handler (httpGet, tcpSocket or exec)"
    except socket.timeout:
        return False, where + "i/o timeout (timeout: %ds)" % timeout
    except ConnectionRefusedError:
        return False, where + "connect: connection refused"
    except (OSError, http.client.HTTPException) as e:
        return False, where + (getattr(e, "strerror", None) or str(e) or type(e).__name__)
    except (ValueError, podspec.StartError, podspec.ImageError) as e:
        return False, str(e)


class Prober(threading.Thread):
    """Runs one probe until stop(); .ok is the probe's current verdict.

    kind "readiness": ok starts False, becomes True after successThreshold
    successes, False after failureThreshold failures. "liveness": ok starts
    True, False after failureThreshold failures. "startup": ok starts False,
    True after the first success (and then the thread ends), and .failed is
    set after failureThreshold failures."""

    def __init__(self, kind, probe, pod_ip, container, pid, env, notify):
        super().__init__(name="probe-%s-%s" % (kind, container.get("name")), daemon=True)
        self.kind, self.probe, self.pod_ip = kind, probe, pod_ip
        self.container, self.pid, self.env = container, pid, env
        self.notify = notify
        self.ok = kind == "liveness"
        self.failed = False
        self.message = ""
        self._stop_ev = threading.Event()

    def stop(self):
        self._stop_ev.set()

    def _set(self, ok, failed=False):
        changed = ok != self.ok or failed != self.failed
        self.ok, self.failed = ok, failed
        if changed:
            self.notify(self)

    def run(self):
        p = self.probe
        period = max(1, int(p.get("periodSeconds") or 10))
        succ_need = max(1, int(p.get("successThreshold") or 1))
        fail_need = max(1, int(p.get("failureThreshold") or 3))
        if self._stop_ev.wait(max(0, int(p.get("initialDelaySeconds") or 0))):
            return
        succ = fail = 0
        while not self._stop_ev.is_set():
            ok, msg = run_once(p, self.pod_ip, self.container, self.pid, self.env)
            if self._stop_ev.is_set():
                return
            if ok:
                succ, fail = succ + 1, 0
            else:
                succ, fail = 0, fail + 1
                self.message = msg
            if self.kind == "readiness":
                if ok and succ >= succ_need:
                    self._set(True)
                elif not ok and fail >= fail_need:
                    self._set(False)
            elif self.kind == "liveness":
                if not ok and fail >= fail_need:
                    self._set(False, failed=True)
                    return
            else:   # startup
                if ok:
                    self._set(True)
                    return
                if fail >= fail_need:
                    self._set(False, failed=True)
                    return
            if not ok:
                self.notify(self, msg)
            self._stop_ev.wait(period)
