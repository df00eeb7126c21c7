"""The plugin benchmark (bench/plugin/run.sh): wall time of
`kubectl etcd status NAME` against `kubectl get etcdcluster NAME -o json`,
on the same test bed, in the same run.

Both read the same EtcdCluster from the same API server. The runs
alternate (plugin, kubectl, plugin, …) so drift on a shared machine hits
both alike; each figure is the median of ROUNDS runs with the 10th–90th
percentile spread, and the ratio is taken per pair and then the median.

Three ways to run the plugin are timed, because `kubectl etcd` costs
kubectl's own start-up before the plugin runs (kubectl finds kubectl-etcd on
PATH and execs it):
  plugin alone        kubectl-etcd status NAME         (the plugin's own cost)
  through kubectl     kubectl etcd status NAME         (what a person types)
  kubectl get         kubectl get etcdcluster NAME -o json
The plugin's status also fetches the cluster's Events (two requests, sent at
once on two connections); kubectl get makes one request after discovery
(cached on disk after the first run, as a person's kubectl would have it).
"bed round trip" is one GET on a kept-alive connection: the test bed's own
latency, which every figure above contains at least once.
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))

from kbed.harness import Bed  # noqa: E402
from plugintest import Plugin, cluster, publish_settled  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))
WARMUP = 3


def timed(cmd, env):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=60)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), r.returncode, r.stderr.decode()[-500:]))
    return dt


def round_trip(bed, n=20):
    """One GET of the object on a kept-alive connection (Python's client): the
    API server's own latency, a floor under any client's figure."""
    import http.client
    import ssl
    host, port = bed.address.rsplit(":", 1)
    c = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=bed.ca))
    path = bed.path("etcdclusters", "demo")
    out = []
    for _ in range(n + 2):
        t0 = time.perf_counter()
        c.request("GET", path, headers={"Authorization": "Bearer " + bed.token})
        c.getresponse().read()
        out.append(time.perf_counter() - t0)
    c.close()
    return out[2:]


def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def show(name, v):
    print("  %-18s median %6.1f ms   p10 %6.1f   p90 %6.1f   (n=%d)" % (
        name, statistics.median(v) * 1e3, pct(v, 0.1) * 1e3, pct(v, 0.9) * 1e3, len(v)))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EO_BUILD", "build"))
    os.environ["EO_BUILD"] = build
    plugin = Plugin()
    bed = Bed(build_dir=build, manifests=True)
    try:
        bed.kubectl("apply", "-f", "-", input=cluster("demo", 3))
        publish_settled(bed, "demo", 3)
        env = plugin.env(bed.kubeconfig, {"HOME": bed.dir})  # a private kubectl cache
        kubectl = plugin.kubectl_bin
        cmds = {
            "plugin alone": [os.path.join(plugin.bin, "kubectl-etcd"), "status", "demo"],
            "through kubectl": [kubectl, "etcd", "status", "demo"],
            "kubectl get": [kubectl, "get", "etcdcluster", "demo", "-o", "json"],
        }
        for c in cmds.values():
            for _ in range(WARMUP):
                timed(c, env)
        times = {k: [] for k in cmds}
        order = list(cmds)
        for i in range(ROUNDS):
            seq = order if i % 2 == 0 else order[::-1]
            for k in seq:
                times[k].append(timed(cmds[k], env))
        ver = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout.split("\n")[0]
        print("kubectl etcd status vs kubectl get, same bed, %d alternating rounds (%s)" % (ROUNDS, ver))
        for k in order:
            show(k, times[k])
        show("bed round trip", round_trip(bed))
        for k in ("plugin alone", "through kubectl"):
            ratios = [a / b for a, b in zip(times[k], times["kubectl get"])]
            print("  ratio %-15s median %.3f of kubectl get (p10 %.3f, p90 %.3f); target <= 0.2" % (
                k + ":", statistics.median(ratios), pct(ratios, 0.1), pct(ratios, 0.9)))
    finally:
        bed.stop()
        plugin.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
