"""A writer and a quorum prober for etcd, run inside the bed's cluster network
(`bed.run_in_cluster`), used by the controller's end-to-end tests and the
benchmark.

    python3 etcd_load.py write  URL PREFIX OUT STOPFILE [--value-bytes N] [--interval S]
    python3 etcd_load.py probe  URL OUT STOPFILE [--interval S]

write: puts PREFIX/000001, PREFIX/000002, … one after the other through the
  v3 JSON gateway at URL (the client Service). Every put that etcd
  acknowledged (HTTP 200 with a header) is appended to OUT as
  "ack <seq> <t>", every failure as "fail <seq> <t> <why>" and the same key
  is tried again (a failed put may still be applied; retrying the same key
  with the same value is idempotent for the check). Stops when STOPFILE
  exists.
probe: every interval, a linearizable range (one key, count only) at URL
  with a 1 s deadline; appends "ok <t>" or "fail <t> <why>".
Both take --cacert F --cert F --key F for an https URL with client TLS
(the EtcdCluster's <name>-client-tls).

Only the standard library; every request has a deadline.
"""
import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

# A program for `python3 -c` inside the cluster: URL PREFIX MB puts MB megabytes
# as 128 KiB values (PREFIX/00000, …) to one member, one after the other.
BULK_LOADER = r"""
import base64, json, sys, urllib.request as u
url, prefix, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
val = base64.b64encode(b"v" * (128 * 1024)).decode()
for i in range(mb * 8):
    body = json.dumps({"key": base64.b64encode(("%s/%05d" % (prefix, i)).encode()).decode(), "value": val})
    u.urlopen(u.Request(url + "/v3/kv/put", data=body.encode()), timeout=30).read()
print("ok")
"""

TLS = None  # an ssl.SSLContext with the client certificate, for https URLs
TLS_FILES = None  # (cacert, cert, key) it was read from, and their mtimes
TLS_STAMP = None


def tls_context(cacert, cert, key):
    ctx = ssl.create_default_context(cafile=cacert)
    ctx.load_cert_chain(cert, key)
    return ctx


def tls_current():
    """The context, read again when its files changed: a client that follows its
    mounted Secret, as one must through a certificate or CA rotation."""
    global TLS, TLS_STAMP
    if TLS_FILES is None:
        return None
    try:
        stamp = tuple(os.stat(f).st_mtime_ns for f in TLS_FILES)
        if stamp != TLS_STAMP:
            TLS = tls_context(*TLS_FILES)
            TLS_STAMP = stamp
    except (OSError, ssl.SSLError):
        pass  # a file half-written: keep the context that worked
    return TLS


def post(url, path, body, timeout):
    req = urllib.request.Request(url.rstrip("/") + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    ctx = tls_current() if url.startswith("https") else None
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
        return json.loads(r.read() or b"{}")


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def key(prefix, seq):
    return "%s/%06d" % (prefix, seq)


def write(url, prefix, out, stop, value_bytes=16, interval=0.0):
    seq, pad = 1, "x" * max(0, value_bytes - 8)
    with open(out, "a", buffering=1) as f:
        while not os.path.exists(stop):
            t = time.time()
            try:
                r = post(url, "/v3/kv/put", {"key": b64(key(prefix, seq)), "value": b64("%08d%s" % (seq, pad))}, 2.0)
                if "header" not in r:
                    raise RuntimeError("no header in %r" % r)
                f.write("ack %d %.3f\n" % (seq, t))
                seq += 1
            except Exception as e:  # noqa: BLE001 - every failure is data here
                f.write("fail %d %.3f %s\n" % (seq, t, str(e).replace("\n", " ")[:200]))
                time.sleep(0.05)
            if interval:
                time.sleep(interval)


def probe(url, out, stop, interval=0.2):
    with open(out, "a", buffering=1) as f:
        while not os.path.exists(stop):
            t = time.time()
            try:
                post(url, "/v3/kv/range", {"key": b64("probe"), "count_only": True}, 1.0)
                f.write("ok %.3f\n" % t)
            except Exception as e:  # noqa: BLE001
                f.write("fail %.3f %s\n" % (t, str(e).replace("\n", " ")[:200]))
            time.sleep(interval)


def read_log(path):
    """(acked seqs, failures [(seq, t, why)], ack times) of a writer log."""
    acked, fails, times = [], [], []
    try:
        with open(path) as f:
            for line in f:
                p = line.split(" ", 3)
                if p[0] == "ack":
                    acked.append(int(p[1]))
                    times.append(float(p[2]))
                elif p[0] == "fail":
                    fails.append((int(p[1]), float(p[2]), p[3].strip() if len(p) > 3 else ""))
    except OSError:
        pass
    return acked, fails, times


def longest_gap(times, start=None, end=None):
    """The longest time between consecutive acknowledged writes in [start, end]."""
    ts = [t for t in times if (start is None or t >= start) and (end is None or t <= end)]
    return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)


def main(argv):
    opts = {}
    pos = []
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    global TLS_FILES
    if opts.get("cert"):
        TLS_FILES = (opts.get("cacert"), opts["cert"], opts["key"])
        tls_current()
    if pos and pos[0] == "write" and len(pos) == 5:
        write(pos[1], pos[2], pos[3], pos[4], int(opts.get("value-bytes", 16)), float(opts.get("interval", 0)))
    elif pos and pos[0] == "probe" and len(pos) == 4:
        probe(pos[1], pos[2], pos[3], float(opts.get("interval", 0.2)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
