"""The controller's benchmark (make bench → bench/controller/run.sh BUILD).

Prints figures and ratios; never passes or fails on speed.

A. Learner first (this controller): one cluster, ~50 MB put into etcd, then
   1 → 2 → 3 → 4 → 5 one spec change at a time while a writer puts small
   keys through the client Service. Per scale step: the time of each
   protocol step (sampled from status.scaling), the total, the longest gap
   between acknowledged writes and the failed puts.
B. Voter first (the old operator's order), same run, same data: MemberAdd of
   a voter, then the StatefulSet raised at once (the Pod "later" only by
   the time it takes to start), 1 → … → 5, the same figures.
C. Controller memory: RSS of the controller process managing 0 and then 50
   one-member EtcdClusters (50 real etcd Pods: the bed runs them as
   processes; a mode without Pods would leave every cluster in Creating and
   measure a controller that never talks to etcd, so real members it is).
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

from ctlbed import ControllerBed, client_url, member_url  # noqa: E402
import etcd_load  # noqa: E402

DATA_MB = int(os.environ.get("BENCH_DATA_MB", "50"))
TOP = int(os.environ.get("BENCH_TOP", "5"))
CLUSTERS = int(os.environ.get("BENCH_CLUSTERS", "50"))



def log(*a):
    print(*a, flush=True)


class StepClock:
    """Samples status.scaling.step and records when each step began."""

    def __init__(self, cb, name):
        self.cb, self.name = cb, name
        self.trace = []  # (t, step or None)

    def sample(self):
        st = (self.cb.get(self.name).get("status") or {})
        s = (st.get("scaling") or {}).get("step")
        if not self.trace or self.trace[-1][1] != s:
            self.trace.append((time.time(), s))

    def durations(self, t0, t1):
        """{step: seconds} within [t0, t1]."""
        out = {}
        tr = [(t, s) for t, s in self.trace if t0 <= t <= t1] + [(t1, None)]
        for (ta, sa), (tb, _) in zip(tr, tr[1:]):
            if sa:
                out[sa] = out.get(sa, 0.0) + tb - ta
        return out


def load_data(cb, name):
    t = time.time()
    cb.bed.run_in_cluster(["python3", "-c", etcd_load.BULK_LOADER, member_url(name, 0), "bulk", str(DATA_MB)], timeout=600)
    db = max(m.get("dbSize", 0) for m in cb.get(name)["status"]["members"]) if cb.get(name).get("status") else 0
    log("  loaded %d MB in %.1f s" % (DATA_MB, time.time() - t))
    return db


def write_stats(load, t0, t1):
    acked, fails, times = etcd_load.read_log(load.wlog)
    gap = etcd_load.longest_gap([t0] + [t for t in times if t0 <= t <= t1] + [t1])
    nfail = sum(1 for _, t, _ in fails if t0 <= t <= t1)
    return gap, nfail


def learner_first(cb):
    log("A. learner first (this controller), %d MB" % DATA_MB)
    cb.create("lf", 1)
    cb.wait_settled("lf", 1)
    load_data(cb, "lf")
    clock = StepClock(cb, "lf")
    rows = []
    with cb.load("lf", "w") as load:
        for n in range(2, TOP + 1):
            t0 = time.time()
            cb.scale("lf", n)
            while not cb.settled("lf", n):
                clock.sample()
                time.sleep(0.1)
                if time.time() - t0 > 300:
                    raise AssertionError("lf did not reach %d" % n)
            t1 = time.time()
            gap, nfail = write_stats(load, t0, t1)
            rows.append((n, t1 - t0, clock.durations(t0, t1), gap, nfail))
            log("  %d → %d: %.1f s  steps %s  longest write gap %.2f s  failed puts %d" % (
                n - 1, n, t1 - t0, " ".join("%s=%.1f" % kv for kv in clock.durations(t0, t1).items()), gap, nfail))
    r = load.result()
    log("  writes acknowledged %d, failed %d, probes failed %d" % (len(r["acked"]), len(r["fails"]),
                                                                    len(r["probes_fail"])))
    return rows


def member_healthy(cb, name, k):
    try:
        st = cb.etcd(member_url(name, k), "/v3/maintenance/status", {}, timeout=2)
        return bool(st.get("leader"))
    except AssertionError:
        return False


def voter_first(cb):
    log("B. voter first (the old operator's order), %d MB" % DATA_MB)
    cb.create("vf", 1)
    cb.wait_settled("vf", 1)
    load_data(cb, "vf")
    cb.stop_controller()  # from here on the benchmark plays the old operator
    rows = []
    with cb.load("vf", "w") as load:
        for n in range(2, TOP + 1):
            k = n - 1
            # etcd's strict reconfig check refuses a voter for a few seconds after
            # the last one joined ("unhealthy cluster"); the old operator retried too
            end = time.time() + 60
            while True:
                try:
                    t0 = time.time()
                    cb.etcd(member_url("vf", 0), "/v3/cluster/member/add",
                            {"peerURLs": [member_url("vf", k, port=2380)]})
                    break
                except AssertionError as e:
                    if "unhealthy cluster" not in str(e) or time.time() > end:
                        raise
                    time.sleep(0.5)
            t_add = time.time()
            cb.bed.kubectl("scale", "statefulset", "vf", "--replicas", str(n))
            cb.bed.wait_for(lambda: member_healthy(cb, "vf", k), 300, "vf-%d healthy" % k, interval=0.2)
            # the Pod's readiness makes it a Service endpoint; give the writer a moment to see it
            t1 = time.time()
            gap, nfail = write_stats(load, t0, t1 + 1.0)
            rows.append((n, t1 - t0, {"MemberAdd(voter)": t_add - t0, "PodStartAndJoin": t1 - t_add}, gap, nfail))
            log("  %d → %d: %.1f s  longest write gap %.2f s  failed puts %d" % (n - 1, n, t1 - t0, gap, nfail))
            time.sleep(1.0)
    r = load.result()
    log("  writes acknowledged %d, failed %d, probes failed %d" % (len(r["acked"]), len(r["fails"]),
                                                                    len(r["probes_fail"])))
    return rows


def controller_pid(cb):
    """The etcd-controller process of this bed (`kbed run` execs it in the bed's namespaces)."""
    want = b"kubeconfig-controller"
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"etcd-controller") and any(want in a for a in argv):
            return int(d)
    return None


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory(build):
    log("C. controller memory, %d one-member clusters" % CLUSTERS)
    with ControllerBed(controller_args=["--workers", "4"]) as cb:
        time.sleep(3)
        pid = controller_pid(cb)
        base = rss_kb(pid)
        log("  idle, no cluster: RSS %.1f MB" % (base / 1024))
        t0 = time.time()
        for i in range(CLUSTERS):
            cb.create("m%02d" % i, 1)
        ready = lambda: sum(1 for i in range(CLUSTERS) if cb.settled("m%02d" % i, 1))  # noqa: E731
        cb.bed.wait_for(lambda: ready() == CLUSTERS, 900, "%d clusters Running" % CLUSTERS, interval=2)
        log("  %d clusters Running after %.0f s" % (CLUSTERS, time.time() - t0))
        samples = []
        for _ in range(30):
            samples.append(rss_kb(pid))
            time.sleep(1)
        med, peak = statistics.median(samples), max(samples)
        log("  managing %d clusters: RSS median %.1f MB, peak %.1f MB (%.0f KB per cluster above idle)" % (
            CLUSTERS, med / 1024, peak / 1024, (med - base) / CLUSTERS))
        return base, med, peak


def main():
    build = os.environ.get("EO_BUILD") or os.path.join(ROOT, "build")
    os.environ["EO_BUILD"] = build
    t_all = time.time()
    with ControllerBed() as cb:
        lf = learner_first(cb)
        vf = voter_first(cb)
    base, med, peak = memory(build)
    log("")
    log("summary (%d MB of data; one run on a shared 2-core machine: read ratios, not absolutes)" % DATA_MB)
    log("  %-7s %-28s %-28s %s" % ("step", "learner first: time / gap", "voter first: time / gap",
                                    "gap ratio voter/learner"))
    for (n, tl, _, gl, fl), (_, tv, _, gv, fv) in zip(lf, vf):
        log("  %d → %d   %6.1f s / %5.2f s (%d fail)   %6.1f s / %5.2f s (%d fail)   %6.1f×" % (
            n - 1, n, tl, gl, fl, tv, gv, fv, gv / gl if gl > 0 else float("inf")))
    steps = {}
    for _, _, d, _, _ in lf:
        for k, v in d.items():
            steps.setdefault(k, []).append(v)
    log("  learner-first step times (mean over the %d scale steps): %s" % (
        len(lf), ", ".join("%s %.1f s" % (k, statistics.mean(v)) for k, v in steps.items())))
    log("  controller RSS: idle %.1f MB; %d clusters median %.1f MB, peak %.1f MB" % (
        base / 1024, CLUSTERS, med / 1024, peak / 1024))
    log("  bench time %.0f s" % (time.time() - t_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
