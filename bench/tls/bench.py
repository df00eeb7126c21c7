"""etcd write throughput and latency with TLS against without (make bench →
bench/tls/run.sh BUILD). Prints figures and ratios; never passes or fails.

Two 3-member clusters on the real control plane, same release, same size, in
the same run: "plain" and "tls" (peer and client TLS, mode Auto). From inside
the cluster network, through each client Service, PUTS sequential puts of a
small key on one kept-alive connection (what etcd clients do: one gRPC
connection), then PUTS/4 with a new connection each (a TLS handshake per
put: the worst case). For each: puts per second, p50 and p99 latency, and
TLS / plain.
"""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "test"))

from ctlbed import ControllerBed  # noqa: E402

PUTS = int(os.environ.get("BENCH_TLS_PUTS", "2000"))

CLIENT = r"""
import base64, http.client, json, ssl, sys, time, urllib.parse
url, n, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "keep"
u = urllib.parse.urlparse(url)
ctx = None
if u.scheme == "https":
    ctx = ssl.create_default_context(cafile=sys.argv[4]); ctx.load_cert_chain(sys.argv[5], sys.argv[6])
def conn():
    if ctx:
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)
c = conn() if keep else None
lat = []
val = base64.b64encode(b"v" * 100).decode()
t0 = time.perf_counter()
for i in range(n):
    body = json.dumps({"key": base64.b64encode(b"bench/%06d" % i).decode(), "value": val})
    t = time.perf_counter()
    cc = c if keep else conn()
    cc.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
    r = cc.getresponse(); r.read()
    if r.status != 200:
        raise SystemExit("put %d: HTTP %d" % (i, r.status))
    if not keep:
        cc.close()
    lat.append(time.perf_counter() - t)
print(json.dumps({"seconds": time.perf_counter() - t0, "lat": lat}))
"""


def log(*a):
    print(*a, flush=True)


def measure(cb, name, n, keep, tls):
    r = cb.bed.run_in_cluster(["python3", "-c", CLIENT, cb.client_url(name), str(n), "keep" if keep else "new"]
                              + list(tls or ()), timeout=600)
    d = json.loads(r.stdout)
    lat = sorted(d["lat"])
    return {"rate": n / d["seconds"], "p50": statistics.median(lat) * 1000,
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000}


def main():
    with ControllerBed() as cb:
        t = time.time()
        for name, spec in (("plain", {}), ("tls", {"security": {"tls": {"peer": {"mode": "Auto"},
                                                                          "client": {"mode": "Auto"}}}})):
            cb.create(name, 1, **spec)
            cb.wait_settled(name, 1, timeout=120)
            for n in (2, 3):
                cb.scale(name, n)
                cb.wait_settled(name, n, timeout=180)
        tls = cb.use_tls("tls")
        log("two 3-member clusters (etcd %s) made in %.0f s" % (cb.get("plain")["spec"].get("version", "?"),
                                                                time.time() - t))
        rows = []
        for keep, n in ((True, PUTS), (False, max(1, PUTS // 4))):
            # warm both, then measure in alternation so drift hits both alike
            measure(cb, "plain", 50, keep, None)
            measure(cb, "tls", 50, keep, tls)
            p = measure(cb, "plain", n, keep, None)
            s = measure(cb, "tls", n, keep, tls)
            rows.append((keep, n, p, s))
        log("%-28s %7s %10s %9s %9s" % ("connection", "puts", "puts/s", "p50 ms", "p99 ms"))
        for keep, n, p, s in rows:
            what = "kept alive" if keep else "new per put (handshake)"
            log("%-28s %7d %10.0f %9.2f %9.2f   plain" % (what, n, p["rate"], p["p50"], p["p99"]))
            log("%-28s %7d %10.0f %9.2f %9.2f   tls" % ("", n, s["rate"], s["p50"], s["p99"]))
            log("%-28s %7s %10.2f %9.2f %9.2f   tls / plain" % ("", "", s["rate"] / p["rate"], s["p50"] / p["p50"],
                                                                  s["p99"] / p["p99"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
