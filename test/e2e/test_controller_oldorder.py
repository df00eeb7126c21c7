"""Documentation of the failure this project fixes (DESIGN §1), replayed on
the real control-plane bed by the test itself, never by the product: the old operator's
order — MemberAdd of a VOTER first, its Pod later — on a one-member cluster.

With one voter, adding a second voter moves the quorum to 2 at once; until
the new member's Pod exists and joins, the cluster cannot commit: writes
time out. The test shows exactly that (failed puts, failed quorum probes, no
acknowledged write for the whole absence), then lets the Pod come (the
StatefulSet raised by hand; the init step joins with the live member list)
and shows the cluster serving again with every acknowledged write present.
The learner-first order of the controller on the same scale is in
test_controller.py (no failed probe at all).
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed, client_url, member_url  # noqa: E402
import etcd_load  # noqa: E402

ABSENCE = 8.0  # seconds between the voter's MemberAdd and its Pod


class VoterFirstLosesQuorum(unittest.TestCase):
    def test_voter_first_stalls_writes(self):
        with ControllerBed() as cb:
            cb.create("old", 1)
            cb.wait_settled("old", 1)
            cb.stop_controller()  # from here on the test plays the old operator
            with cb.load("old", "old") as load:
                time.sleep(1.5)
                cb.etcd(client_url("old"), "/v3/cluster/member/add",
                        {"peerURLs": [member_url("old", 1, port=2380)]})  # a voter: no isLearner
                t_add = time.time()  # committed by now
                time.sleep(ABSENCE)
                t_pod = time.time()
                cb.bed.kubectl("scale", "statefulset", "old", "--replicas", "2")
                cb.bed.wait_for(lambda: etcd_load.read_log(load.wlog)[2][-1] > t_pod, 60,
                                "writes to be acknowledged again")
            r = load.result()
            # the old order: no acknowledged write while the new voter was absent
            acked_during = [t for t in r["times"] if t_add + 0.5 < t < t_pod]
            self.assertEqual(acked_during, [], "writes were acknowledged without quorum?")
            self.assertGreater(len(r["fails"]), 0, "puts failed (timed out) while the voter was absent")
            self.assertGreaterEqual(r["probe_fail_streak"], 3, "the prober saw quorum lost")
            gap = etcd_load.longest_gap(r["times"])
            self.assertGreaterEqual(gap, ABSENCE - 1.0)
            # nothing acknowledged was lost; the cluster serves again with 2 voters
            keys = set(cb.count_keys("old", "old/"))
            self.assertEqual([s for s in r["acked"] if etcd_load.key("old", s) not in keys], [])
            self.assertEqual(sum(1 for m in cb.members("old") if not m.get("isLearner")), 2)
            sys.stderr.write("\n  voter-first: no write acknowledged for %.1f s, %d failed puts, "
                             "%d failed probes\n" % (gap, len(r["fails"]), len(r["probes_fail"])))


if __name__ == "__main__":
    unittest.main()
