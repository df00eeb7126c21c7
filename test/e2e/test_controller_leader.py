"""Leader election between two controller replicas (coordination.k8s.io/v1
Lease), on the real control plane (kbed): only the holder acts; SIGTERM releases the Lease
and exits 0, and the standby takes over at once; a replica that cannot renew
within the deadline stops acting and exits non-zero; a standby takes a Lease
whose holder went silent after the lease duration.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed  # noqa: E402

LEASE = "etcd-k8s-operator-controller"


class LeaderElection(unittest.TestCase):
    def test_one_active_replica(self):
        with ControllerBed(start_controller=False) as cb:
            # client-go's timing scaled down (15 s / 10 s / 2 s in production)
            le = ["--leader-elect", "--leader-elect-namespace", "etcd-operator-system",
                  "--leader-elect-lease-duration", "6s", "--leader-elect-renew-deadline", "4s",
                  "--leader-elect-retry-period", "1s"]
            a = cb.start_controller(le + ["--identity", "replica-a"], name="replica-a")
            cb.bed.wait_for(lambda: "leading" in a.output(), 20, "replica-a to lead")
            b = cb.start_controller(le + ["--identity", "replica-b"], name="replica-b")
            cb.bed.wait_for(lambda: "standing by" in b.output(), 20, "replica-b to stand by")
            self.assertEqual(cb.bed.get("leases", LEASE, ns="etcd-operator-system")["spec"]["holderIdentity"], "replica-a")

            cb.create("le", 1)
            cb.wait_settled("le", 1)
            self.assertIn("action=CreateResources", a.output())
            self.assertNotIn("action=", b.output(), "the standby never acts")

            # SIGTERM: finish, release the Lease, exit 0; the standby takes over at once
            t0 = time.time()
            self.assertEqual(a.stop(grace=20), 0)
            self.assertIn("lease released", a.output())
            cb.bed.wait_for(lambda: cb.bed.get("leases", LEASE, ns="etcd-operator-system")["spec"].get("holderIdentity") == "replica-b",
                            10, "replica-b to take the released Lease")
            self.assertLess(time.time() - t0, 10)
            cb.controller = b
            cb.scale("le", 2)
            cb.wait_settled("le", 2)
            self.assertIn("action=AddLearner", b.output())

            # a replica that cannot renew stops and exits non-zero
            cb.bed.fault("api", verb="update", resource="leases", code=500, count=1000)
            cb.bed.fault("api", verb="get", resource="leases", code=500, count=1000)
            self.assertEqual(cb.wait_exit(b, 40), 1)
            self.assertIn("leadership lost", b.output())
            cb.bed.clear_faults()

            # a new replica takes the silent Lease once it has stood unchanged
            # for the lease duration (6 s here), then acts
            c = cb.start_controller(le + ["--identity", "replica-c"], name="replica-c")
            t_silent = time.time()
            cb.bed.wait_for(lambda: cb.bed.get("leases", LEASE, ns="etcd-operator-system")["spec"].get("holderIdentity") == "replica-c",
                            40, "replica-c to take the expired Lease")
            self.assertGreaterEqual(time.time() - t_silent, 5, "not before the lease duration")
            cb.controller = c
            cb.scale("le", 1)
            cb.wait_settled("le", 1)


if __name__ == "__main__":
    unittest.main()
