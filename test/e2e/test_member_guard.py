"""The guard before every etcd start, on the real control plane (kbed) with real etcd
(issue 17). etcd's container starts etcd through etcd-member-guard, which the init step
copies onto an emptyDir; a restart of etcd without its data is refused there (exit 4)
instead of founding a new cluster (Pod 0's configuration says initial-cluster-state
new) or rejoining empty.

A 3-member cluster "g" under the writer and the prober. The founding member's volume
(data-g-0) is emptied under its running Pod and its etcd killed: the kubelet restarts
the container, the guard refuses (exit 4 in the Pod's containerStatuses), the controller
reads that, removes the member, deletes the Pod (only a new Pod's init step can join)
and adds the member again as a learner. The cluster settles at 3 voters with the same
cluster id; no acknowledged write is lost and quorum is never lost.

Without the guard the restarted Pod 0 founds a one-member cluster again on its
old configuration: no exit 4, no replacement (the check below fails at once).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed  # noqa: E402

NS = "default"


def etcd_status(pod):
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == "etcd":
            return cs
    return {}


def refused(pod):
    """The guard's refusal: etcd's container not running, its latest termination exit 4."""
    cs = etcd_status(pod)
    if "running" in (cs.get("state") or {}):
        return None
    t = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get("terminated")
    return t if t and t.get("exitCode") == 4 else None


class Guard(unittest.TestCase):
    def test_founder_emptied_under_its_pod_is_replaced_not_refounded(self):
        with ControllerBed() as cb:
            cb.create("g", 1)
            cb.wait_settled("g", 1)
            for n in (2, 3):
                cb.scale("g", n)
                cb.wait_settled("g", n)
            st = cb.get("g")["status"]
            before = {m["name"]: m["id"] for m in st["members"]}
            cluster = st["clusterID"]
            pod0 = cb.bed.get("pods", "g-0")
            self.assertEqual(etcd_status(pod0)["name"], "etcd")
            self.assertEqual(pod0["spec"]["containers"][0]["command"][:3],
                             ["/opt/etcd-guard/etcd-member-guard", "--", "/usr/local/bin/etcd"])
            uid0, rv0 = pod0["metadata"]["uid"], pod0["metadata"]["resourceVersion"]
            t0 = time.time()
            with cb.load("g", "guard", pods_invariant=False) as load:  # g-0's Pod is replaced
                cb.bed.fault("volume", namespace=NS, claim="data-g-0")
                cb.bed.fault("kill", namespace=NS, pod="g-0", container="etcd")
                seen = {}

                def refusal():  # in any version of the old Pod: the controller may delete it at once
                    for _, p in cb.bed.changes("pods", rv0, name="g-0"):
                        if p["metadata"]["uid"] == uid0 and refused(p):
                            seen["t"] = refused(p)
                    return bool(seen)
                cb.bed.wait_for(refusal, 40, "the guard's refusal (exit 4) in g-0's etcd container",
                                interval=0.2)
                self.assertIn("refusing to start etcd", seen["t"].get("message", ""))
                self.assertIn("Refusing to found a new empty cluster", seen["t"].get("message", ""))
                cb.wait_status("g", lambda e: "ReplacingMember" in cb.reasons("g"),
                               "the member to be replaced", 60)
                cb.wait_settled("g", 3, timeout=120)
            took = time.time() - t0
            load.check(self)
            st = cb.get("g")["status"]
            after = {m["name"]: m["id"] for m in st["members"]}
            self.assertEqual(sorted(after), ["g-0", "g-1", "g-2"])
            self.assertEqual(st["clusterID"], cluster, "the same cluster, not one founded anew")
            self.assertNotEqual(after["g-0"], before["g-0"], "g-0 is a new member (removed, added again)")
            self.assertEqual(after["g-1"], before["g-1"])
            self.assertEqual(after["g-2"], before["g-2"])
            reasons = cb.reasons("g")
            self.assertIn("DeletingRefusedPod", reasons)
            self.assertNotEqual(cb.bed.get("pods", "g-0")["metadata"]["uid"], uid0)
            self.assertIn("joining as learner", cb.bed.logs("g-0", container="member-init"))
            # every member answers for the one cluster
            ids = {m["ID"] for m in cb.members("g")}
            self.assertEqual(len(ids), 3)
            sys.stderr.write("replaced in %.0f s; %d writes acknowledged\n" % (took, len(load.result()["acked"])))


if __name__ == "__main__":
    unittest.main()
