"""A rolling upgrade's cost (make bench → bench/upgrade/run.sh BUILD). Prints
figures and ratios; never passes or fails on speed.

One 3-member cluster on etcd 3.5.36 holding BENCH_UPGRADE_MB (default 100) MB,
a writer putting small keys through the client Service throughout.

A. The floor: one follower's Pod deleted by hand and made again on the same
   image and the same data — Pod start plus catch-up, what any roll pays per
   member at least.
B. The upgrade 3.5.36 → 3.6.16: per member, from its old Pod's deletion to
   its new Pod ready and caught up; the total from the spec change to every
   member on 3.6.16 and settled; the ratio of each to the floor; the longest
   gap between acknowledged writes and the failed puts.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "test"))

from ctlbed import ControllerBed, member_url  # noqa: E402
import etcd_load  # noqa: E402

DATA_MB = int(os.environ.get("BENCH_UPGRADE_MB", "100"))
OLD, NEW = "3.5.36", "3.6.16"



def log(*a):
    print(*a, flush=True)


def pods(cb):
    out = {}
    for p in cb.bed.list("pods", selector="etcd.k8s-operator.io/cluster=up"):
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (p.get("status") or {}).get("conditions", []))
        out[p["metadata"]["name"]] = (p["metadata"]["uid"], p["spec"]["containers"][0]["image"], ready,
                                      bool(p["metadata"].get("deletionTimestamp")))
    return out


def caught_up(cb):
    ms = cb.get("up")["status"].get("members", [])
    idx = [m.get("raftIndex", 0) for m in ms]
    return len(ms) == 3 and all(m.get("healthy") for m in ms) and max(idx) - min(idx) < 1000


class Tracker:
    """Per member: when its Pod began to go (deletion seen) and when its new Pod
    was ready with every member caught up."""

    def __init__(self, cb):
        self.cb, self.first = cb, pods(cb)
        self.gone, self.back = {}, {}

    def sample(self):
        now, ps = time.time(), pods(self.cb)
        for name, (uid, _, _, _) in self.first.items():
            cur = ps.get(name)
            if name not in self.gone and (cur is None or cur[0] != uid or cur[3]):
                self.gone[name] = now
            if name in self.gone and name not in self.back and cur and cur[0] != uid and cur[2] \
                    and caught_up(self.cb):
                self.back[name] = now


def main():
    with ControllerBed(webhook=True) as cb:
        cb.create("up", 3, version=OLD)
        cb.wait_settled("up", 3, timeout=180)
        t = time.time()
        cb.bed.run_in_cluster(["python3", "-c", etcd_load.BULK_LOADER, member_url("up", 0), "bulk", str(DATA_MB)], timeout=900)
        db = max(m.get("dbSize", 0) for m in cb.get("up")["status"]["members"])
        log("3 members on %s, %d MB loaded in %.0f s (db %.0f MB)" % (OLD, DATA_MB, time.time() - t, db / 1e6))
        with cb.load("up", "w") as load:
            # A. the floor: a follower's Pod made again on the same image and data
            leader = cb.get("up")["status"]["leader"]
            victim = next(n for n in ("up-0", "up-1", "up-2") if n != leader)
            tr = Tracker(cb)
            t0 = time.time()
            cb.bed.kubectl("delete", "pod", victim, "--wait=false")
            while victim not in tr.back:
                tr.sample()
                time.sleep(0.1)
                if time.time() - t0 > 300:
                    raise AssertionError("%s did not come back" % victim)
            floor = tr.back[victim] - tr.gone[victim]
            cb.wait_settled("up", 3, timeout=120)
            log("A. floor (%s made again on the same image and data): %.1f s" % (victim, floor))

            # B. the upgrade
            tr = Tracker(cb)
            t0 = time.time()
            cb.bed.kubectl("patch", "etcdclusters", "up", "--type", "merge",
                           "-p", json.dumps({"spec": {"version": NEW}}))
            while not (cb.settled("up", 3) and cb.get("up")["status"].get("version") == NEW
                       and len(tr.back) == 3):
                tr.sample()
                time.sleep(0.1)
                if time.time() - t0 > 600:
                    raise AssertionError("the upgrade did not finish: %s" % json.dumps(cb.get("up")["status"]))
            t1 = time.time()
        acked, fails, times = etcd_load.read_log(load.wlog)
        gap = etcd_load.longest_gap([t0] + [x for x in times if t0 <= x <= t1] + [t1])
        nfail = sum(1 for _, x, _ in fails if t0 <= x <= t1)
        log("B. upgrade %s -> %s, 3 members, %d MB:" % (OLD, NEW, DATA_MB))
        for name in sorted(tr.back, key=lambda n: tr.gone[n]):
            d = tr.back[name] - tr.gone[name]
            log("   %-6s %5.1f s   %.2f x the floor%s" % (name, d, d / floor if floor else 0,
                                                         "   (leader at the start)" if name == leader else ""))
        total = t1 - t0
        log("   total  %5.1f s   %.2f x three floors (%.1f s)" % (total, total / (3 * floor) if floor else 0,
                                                              3 * floor))
        log("   longest gap between acknowledged writes %.2f s; failed puts %d of %d" % (
            gap, nfail, nfail + len([x for x in times if t0 <= x <= t1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
