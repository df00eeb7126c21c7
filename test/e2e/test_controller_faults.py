"""The controller under faults, on the real control plane (kbed) with real etcd (DESIGN §4
"Faults", issue 5). Each fault ends with a healthy cluster and every
acknowledged write present (a writer runs through all of them), quorum
never lost (the prober), one learner at most and no voter without its Pod.

One cluster "f", one bed, the faults in order:
  crash points: the controller is killed right after MemberAdd, right after
    raising the StatefulSet, right before promote, right after MemberRemove
    and right before the claim is deleted (--crash-at, a test-only flag),
    and a new one resumes from what it observes (1 → 2 → 1);
  the new Pod killed while it joins; its peer DNS name held back 20 s; the
  member to remove is the leader; 409s and 500s from the API; a member's
  volume lost (its init step says so and exits 4; replaced: removed, added
  again as a learner); quorum lost (reported Degraded, nothing changed); an
  image that never starts (rolled back, held, retried on a spec change).
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed, client_url, member_url  # noqa: E402

NS = "default"


def step(cb, name):
    return ((cb.get(name).get("status") or {}).get("scaling") or {}).get("step")


class Faults(unittest.TestCase):
    """One cluster "f" through a sequence of faults, a writer running throughout."""

    @classmethod
    def setUpClass(cls):
        cls.cb = ControllerBed(controller_args=["--step-timeout", "25s"])
        cls.cb.create("f", 1)
        cls.cb.wait_settled("f", 1)

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()

    def setUp(self):
        if not any(self.cb.settled("f", n) for n in range(1, 6)):
            self.skipTest("the cluster of an earlier step did not settle")

    def test_0_crash_points_resume(self):
        cb = self.cb
        with cb.load("f", "crash") as load:
            # scale-up: crash after MemberAdd, after the raise, before promote
            cb.stop_controller()
            points = [("AddLearner:after", "AddLearner"), ("RaiseStatefulSet:after", "StartPod"),
                      ("Promote:before", "Promote")]
            for i, (point, recorded) in enumerate(points):
                p = cb.start_controller(["--crash-at", point])
                if i == 0:
                    cb.scale("f", 2)
                self.assertEqual(cb.wait_exit(p), 3, "crash point %s not reached:\n%s" % (point, p.output()[-2000:]))
                self.assertEqual(step(cb, "f"), recorded, point)
                if point == "AddLearner:after":
                    learners = [m for m in cb.members("f") if m.get("isLearner")]
                    self.assertEqual(len(learners), 1, "MemberAdd was taken before the crash")
                    self.assertEqual(cb.bed.get("statefulsets", "f")["spec"]["replicas"], 1)
                if point == "RaiseStatefulSet:after":
                    self.assertEqual(cb.bed.get("statefulsets", "f")["spec"]["replicas"], 2)
                if point == "Promote:before":
                    self.assertEqual(sum(1 for m in cb.members("f") if m.get("isLearner")), 1)
            cb.start_controller()
            cb.wait_settled("f", 2)
            # scale-down: crash after MemberRemove, before the claim's delete
            cb.stop_controller()
            p = cb.start_controller(["--crash-at", "RemoveMember:after"])
            cb.scale("f", 1)
            self.assertEqual(cb.wait_exit(p), 3)
            # no controller runs: a list of one member proves MemberRemove was
            # taken before the crash (through the client Service the removed
            # member may still answer for a moment, from its own copy)
            cb.bed.wait_for(lambda: len(cb.members("f")) == 1, 15, "the member list without f-1")
            self.assertEqual(step(cb, "f"), "RemoveMember")
            p = cb.start_controller(["--crash-at", "DeletePVC:before"])
            self.assertEqual(cb.wait_exit(p), 3)
            self.assertEqual(step(cb, "f"), "DeleteVolume")
            cb.bed.get("persistentvolumeclaims", "data-f-1")  # still there
            cb.start_controller()
            cb.wait_settled("f", 1)
        load.check(self)
        self.assertNotIn("data-f-1", [c["metadata"]["name"] for c in cb.bed.list("persistentvolumeclaims")])

    def test_1_new_pod_killed_while_joining(self):
        cb = self.cb
        with cb.load("f", "kill") as load:
            cb.scale("f", 2)
            killed, uid = None, None

            def kill():
                nonlocal killed, uid
                if step(cb, "f") not in ("StartPod", "CatchUp", "Promote"):
                    return False
                try:
                    uid = cb.bed.get("pods", "f-1")["metadata"]["uid"]
                    killed = cb.bed.fault("kill", namespace=NS, pod="f-1", container="etcd")
                    return True
                except AssertionError:  # not there or not running yet
                    return False
            cb.bed.wait_for(kill, 60, "the learner's etcd process to kill", interval=0.1)
            cb.wait_settled("f", 2)
        load.check(self)
        self.assertTrue(killed)

        # The kill took effect: the node restarted the container, or the
        # controller gave up on the learner and made its Pod again. The node
        # publishes the restart on its own clock, so it is waited for: etcd
        # can answer healthy before the Pod's status says it restarted.
        def recovered():
            pod = cb.bed.get("pods", "f-1")
            if pod["metadata"]["uid"] != uid:
                return "replaced"
            restarts = [c.get("restartCount", 0) for c in pod["status"].get("containerStatuses") or []
                        if c["name"] == "etcd"]
            return "restarted" if restarts and restarts[0] >= 1 else None
        how = cb.bed.wait_for(recovered, 30, "f-1's etcd to restart or its Pod to be made again")
        self.assertIn(how, ("restarted", "replaced"))

    def test_2_peer_dns_held_back(self):
        cb = self.cb
        name = member_url("f", 2, NS)[len("http://"):].split(":")[0]
        with cb.load("f", "dns") as load:
            cb.bed.fault("dns", name=name, holdSeconds=20)
            t0 = time.time()
            cb.scale("f", 3)
            cb.wait_settled("f", 3)
        load.check(self)
        self.assertGreater(time.time() - t0, 15, "the name was held: the join cannot finish before it resolves")

    def test_3_leader_is_the_member_to_remove(self):
        cb = self.cb
        st = cb.get("f")["status"]
        target = [m for m in st["members"] if m["name"] == "f-2"][0]
        leader = [m for m in st["members"] if m["leader"]][0]
        if leader["name"] != "f-2":
            cb.etcd(member_url("f", int(leader["name"].split("-")[1]), NS),
                    "/v3/maintenance/transfer-leadership", {"targetID": target["id"]})
        # asked of etcd itself: the published status refreshes only every 30 s
        # when nothing changes, and the controller looks at etcd afresh anyway
        cb.bed.wait_for(lambda: cb.etcd(member_url("f", 2, NS), "/v3/maintenance/status", {})
                        .get("leader") == target["id"], 30, "f-2 to lead", interval=0.3)
        with cb.load("f", "lead") as load:
            cb.scale("f", 2)
            cb.wait_settled("f", 2)
        load.check(self)
        reasons = cb.reasons("f")
        self.assertIn("LeadershipTransferred", reasons)
        i = len(reasons) - 1 - reasons[::-1].index("LeadershipTransferred")
        self.assertIn("MemberRemoved", reasons[i:], "moved first, removed after")
        self.assertNotEqual(cb.get("f")["status"]["leader"], "f-2")

    def test_4_conflicts_and_server_errors(self):
        cb = self.cb
        with cb.load("f", "api") as load:
            cb.bed.fault("api", verb="update", resource="etcdclusters", subresource="status", code=409, count=6)
            cb.bed.fault("api", verb="patch", resource="statefulsets", code=500, count=3)
            cb.bed.fault("api", verb="get", resource="statefulsets", code=500, count=3)
            cb.bed.fault("api", verb="list", resource="pods", code=500, count=2)
            cb.scale("f", 3)
            cb.wait_settled("f", 3)
        load.check(self)
        self.assertIn("has been modified", cb.controller.output(), "the injected 409s were met")
        self.assertIn("injected fault", cb.controller.output(), "the injected 500s were met")

    def test_5_lost_volume_is_replaced(self):
        cb = self.cb
        before = {m["name"]: m["id"] for m in cb.get("f")["status"]["members"]}
        with cb.load("f", "vol", pods_invariant=False) as load:  # the test deletes a Pod itself
            cb.bed.fault("volume", namespace=NS, claim="data-f-1")
            cb.bed.delete("pods", "f-1")
            cb.wait_status("f", lambda e: ((e["status"].get("scaling") or {}).get("step") in
                                           ("ReplaceMember", "AddLearner", "StartPod", "CatchUp", "Promote")),
                           "the replacement to start", 90)
            cb.wait_settled("f", 3)
        load.check(self)
        after = {m["name"]: m["id"] for m in cb.get("f")["status"]["members"]}
        self.assertEqual(sorted(after), ["f-0", "f-1", "f-2"])
        self.assertNotEqual(after["f-1"], before["f-1"], "f-1 is a new member (removed, added again)")
        self.assertEqual(after["f-0"], before["f-0"])
        self.assertIn("ReplacingMember", cb.reasons("f"))
        # the evidence the controller replaced on: the init step said so and
        # exited with its lost-volume status (4); its next run joined
        log = cb.bed.logs("f-1", container="member-init", previous=True)
        self.assertIn("volume was lost", log)
        init = cb.bed.get("pods", "f-1")["status"]["initContainerStatuses"][0]
        self.assertEqual(init["lastState"]["terminated"]["exitCode"], 4)
        self.assertIn("joining as learner", cb.bed.logs("f-1", container="member-init"))

    def test_6_quorum_lost_is_reported_not_acted_on(self):
        cb = self.cb
        image = cb.bed.get("statefulsets", "f")["spec"]["template"]["spec"]["containers"][0]["image"]
        ids = sorted(m["id"] for m in cb.get("f")["status"]["members"])
        cb.bed.fault("image", image=image, fail=True)
        try:
            cb.bed.delete("pods", "f-1")
            cb.bed.delete("pods", "f-2")
            cb.wait_status("f", lambda e: e["status"].get("phase") == "Degraded", "phase Degraded", 90)
            ec = cb.get("f")
            cond = {c["type"]: c for c in ec["status"]["conditions"]}
            self.assertEqual(cond["Degraded"]["status"], "True")
            self.assertEqual(cond["Degraded"]["reason"], "QuorumLost")
            self.assertIn("no membership change", cond["Degraded"]["message"])
            self.assertEqual(cond["Available"]["status"], "False")
            self.assertIn("QuorumLost", cb.reasons("f"))
            time.sleep(8)  # the controller keeps looking; it must not act
            self.assertEqual(sorted(m["id"] for m in cb.get("f")["status"]["members"]), ids)
        finally:
            cb.bed.fault("image", image=image, fail=False)
        cb.wait_settled("f", 3)
        self.assertEqual(sorted(m["id"] for m in cb.get("f")["status"]["members"]), ids)

    def test_7_image_that_never_starts_rolls_back(self):
        cb = self.cb
        # a shorter step timeout for this one: the rollback is what is waited for
        cb.stop_controller()
        cb.start_controller(["--step-timeout", "15s"])
        bad = "quay.io/coreos/etcd:v3.4.99"
        cb.bed.fault("image", image=bad, fail=True)
        with cb.load("f", "img") as load:
            cb.bed.kubectl("patch", "etcdclusters", "f", "--type", "merge", "-p",
                           json.dumps({"spec": {"replicas": 4, "image": bad}}))

            def rolled_back(e):
                st = e.get("status") or {}
                c = {x["type"]: x for x in st.get("conditions", [])}.get("Progressing") or {}
                return (c.get("reason") == "StepTimedOut" and st.get("phase") == "Failed"
                        and st.get("learners") == 0)
            cb.wait_status("f", rolled_back, "the rollback", 120)
            cond = {x["type"]: x for x in cb.get("f")["status"]["conditions"]}["Progressing"]
            self.assertEqual(cond["status"], "False")
            self.assertIn("ErrImagePull", cond["message"])
            cb.bed.wait_for(lambda: cb.bed.get("statefulsets", "f")["spec"]["replicas"] == 3, 30,
                            "the StatefulSet back at 3")
            adds = cb.reasons("f").count("MemberAdded")
            time.sleep(6)  # held: no new attempt without a spec change (back-off 2 × 15 s)
            self.assertEqual(cb.reasons("f").count("MemberAdded"), adds)
            self.assertIn("RolledBack", cb.reasons("f"))
            # a spec change retries at once
            cb.bed.fault("image", image=bad, fail=False)
            cb.bed.kubectl("patch", "etcdclusters", "f", "--type", "json", "-p",
                           json.dumps([{"op": "remove", "path": "/spec/image"}]))
            cb.wait_settled("f", 4)
        load.check(self)


if __name__ == "__main__":
    unittest.main()
