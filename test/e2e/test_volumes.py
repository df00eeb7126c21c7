"""Volumes when a cluster is deleted, on the real control-plane bed
(issue 14): spec.storage.whenDeleted.

- Retain (unset): the claims outlive the cluster. A cluster created again
  under the same name finds claims older than itself: their data and
  membership are the deleted cluster's. Before this, its first member
  started on that data and waited forever for the old cluster's quorum. Now
  nothing is made: Degraded (VolumesOfAnotherCluster) names the claims and
  both ways out, and once a person deletes them the cluster is created
  fresh, without the old data.
- Delete: the StatefulSet's claim retention policy deletes the claims with
  the cluster (kube-controller-manager's StatefulSet controller and garbage
  collector do it); the same name can be created again at once.
"""
import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed, member_url  # noqa: E402


def b64(s):
    return base64.b64encode(s.encode()).decode()


class WhenDeleted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = ControllerBed()

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()

    def delete_cluster(self, name):
        cb = self.cb
        cb.bed.kubectl("delete", "etcdcluster", name, "--wait=true", timeout=120)
        cb.bed.wait_for(lambda: cb.bed.get("statefulsets", name) is None and
                        not cb.bed.list("pods", selector="etcd.k8s-operator.io/cluster=" + name),
                        120, "%s's StatefulSet and Pods to go" % name)

    def test_retained_claims_stop_a_new_cluster_until_deleted(self):
        cb = self.cb
        cb.create("r", 1)
        cb.wait_settled("r", 1)
        cb.etcd(member_url("r", 0), "/v3/kv/put", {"key": b64("old/key"), "value": b64("old")})
        old_id = cb.get("r")["status"]["clusterID"]
        self.delete_cluster("r")
        self.assertIsNotNone(cb.bed.get("persistentvolumeclaims", "data-r-0"), "Retain keeps the claim")

        cb.create("r", 1)

        def blocked():
            st = cb.get("r").get("status") or {}
            c = [c for c in st.get("conditions") or [] if c["type"] == "Degraded"]
            return c and c[0]["status"] == "True" and c[0]["reason"] == "VolumesOfAnotherCluster" and c[0]
        cond = cb.bed.wait_for(blocked, 60, "the new r to stop on the old claims")
        self.assertIn("data-r-{0}", cond["message"])
        self.assertIn("Delete them", cond["message"])
        self.assertIn("another name", cond["message"])
        self.assertIsNone(cb.bed.get("statefulsets", "r"), "nothing is made on another cluster's data")
        cb.bed.wait_for(lambda: "VolumesOfAnotherCluster" in cb.reasons("r"), 30, "the Warning Event")

        cb.bed.kubectl("delete", "pvc", "data-r-0", "--wait=true", timeout=120)
        cb.wait_settled("r", 1)
        st = cb.get("r")["status"]
        self.assertNotEqual(st["clusterID"], old_id, "a new cluster, not the deleted one")
        got = cb.etcd(member_url("r", 0), "/v3/kv/range", {"key": b64("old/key")})
        self.assertEqual(got.get("kvs", []), [], "none of the deleted cluster's data")
        self.assertNotIn("Degraded", [c["type"] for c in st["conditions"] if c["status"] == "True"])

    def test_delete_takes_the_claims_with_the_cluster(self):
        cb = self.cb
        cb.create("d", 1, storage={"whenDeleted": "Delete"})
        cb.wait_settled("d", 1)
        sts = cb.bed.get("statefulsets", "d")
        self.assertEqual(sts["spec"]["persistentVolumeClaimRetentionPolicy"],
                         {"whenDeleted": "Delete", "whenScaled": "Retain"})
        self.delete_cluster("d")
        cb.bed.wait_for(lambda: cb.bed.get("persistentvolumeclaims", "data-d-0") is None, 120,
                        "the claim to go with the cluster")
        cb.create("d", 1, storage={"whenDeleted": "Delete"})
        cb.wait_settled("d", 1)

    def test_retention_follows_the_spec(self):
        cb = self.cb
        cb.create("s", 1)
        cb.wait_settled("s", 1)
        self.assertEqual(cb.bed.get("statefulsets", "s")["spec"]["persistentVolumeClaimRetentionPolicy"]
                         ["whenDeleted"], "Retain")
        cb.bed.kubectl("patch", "etcdcluster", "s", "--type", "merge",
                       "-p", '{"spec":{"storage":{"whenDeleted":"Delete"}}}')
        cb.bed.wait_for(lambda: cb.bed.get("statefulsets", "s")["spec"]
                        ["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete",
                        60, "the StatefulSet to take whenDeleted: Delete")
        out = cb.bed.kubectl("patch", "etcdcluster", "s", "--type", "merge",
                             "-p", '{"spec":{"storage":{"whenDeleted":"Sometimes"}}}', check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("Unsupported value", out.stderr)


if __name__ == "__main__":
    unittest.main()
