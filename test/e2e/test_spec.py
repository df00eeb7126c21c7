"""The spec's Pod knobs, etcd flags and volume resize (issue 14) end to end,
with the webhook, on the real control plane (kbed) with real etcd.

- a cluster created with spec.pod (resources, nodeSelector, tolerations,
  priorityClassName, labels, annotations) and spec.etcd.extraArgs: its Pod
  carries each knob, the operator's labels and the default spread stay,
  the Pod runs as 65532 with fsGroup 65532, and etcd starts with the flags;
- the admission refusals, each with its reason: an owned label, an owned
  etcd flag, a smaller volume;
- spec.storage.size 1Gi → 2Gi: the claim asks for 2Gi (the bed's class
  `standard` allows expansion), with the VolumeResize condition and an Event;
- a knob changed on the running cluster: the member is made again through
  the roll and carries it.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed  # noqa: E402

POD = {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}},
       "nodeSelector": {"kubernetes.io/os": "linux"},
       "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
       "priorityClassName": "etcd-spec-test",
       "labels": {"team": "infra"},
       "annotations": {"example.com/owner": "ops"}}
SEL = "etcd.k8s-operator.io/cluster=knobs"


class SpecKnobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = ControllerBed(webhook=True)
        try:
            cls.cb.bed.kubectl("create", "priorityclass", "etcd-spec-test", "--value=1000")
        except BaseException:
            cls.cb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()

    def patch(self, spec, check=True):
        return self.cb.bed.kubectl("patch", "etcdclusters", "knobs", "--type", "merge",
                                   "-p", json.dumps({"spec": spec}), check=check)

    def pod(self):
        pods = self.cb.bed.list("pods", selector=SEL)
        self.assertEqual(len(pods), 1)
        return pods[0]

    def test_1_knobs_on_the_pod(self):
        cb = self.cb
        cb.create("knobs", 1, storage={"size": "1Gi"}, pod=POD,
                  etcd={"extraArgs": {"snapshot-count": 5000, "max-request-bytes": "2097152",
                                      "log-level": "warn"}})
        cb.wait_settled("knobs", 1, timeout=120)
        p = self.pod()
        spec, md = p["spec"], p["metadata"]
        etcd = [k for k in spec["containers"] if k["name"] == "etcd"][0]
        self.assertEqual(etcd["resources"]["requests"], {"cpu": "50m", "memory": "64Mi"})
        self.assertEqual(etcd["resources"]["limits"], {"memory": "512Mi"})
        self.assertEqual(spec["nodeSelector"], {"kubernetes.io/os": "linux"})
        self.assertIn({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}, spec["tolerations"])
        self.assertEqual(spec["priorityClassName"], "etcd-spec-test")
        self.assertEqual(spec.get("priority"), 1000)
        self.assertEqual(md["labels"]["team"], "infra")
        self.assertEqual(md["labels"]["etcd.k8s-operator.io/cluster"], "knobs")
        self.assertEqual(md["annotations"]["example.com/owner"], "ops")
        self.assertTrue(md["annotations"]["etcd.k8s-operator.io/pod-spec"])
        self.assertEqual(spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
                         [0]["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(spec["securityContext"]["fsGroup"], 65532)
        self.assertEqual(spec["securityContext"]["runAsUser"], 65532)
        # etcd read the flags: with log-level warn it logs no info line
        log = cb.bed.kubectl("logs", "knobs-0", "-c", "etcd").stdout
        self.assertNotIn('"level":"info"', log)
        init = [k for k in spec["initContainers"] if k["name"] == "member-init"][0]
        self.assertIn("--etcd-arg=snapshot-count=5000", init["args"])
        self.assertIn("--etcd-arg=max-request-bytes=2097152", init["args"])

    def test_2_refusals_with_reasons(self):
        r = self.patch({"pod": {"labels": {"app.kubernetes.io/name": "x"}}}, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.pod.labels[app.kubernetes.io/name]: the operator owns", r.stderr)
        r = self.patch({"etcd": {"extraArgs": {"initial-cluster-state": "new"}}}, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.etcd.extraArgs[initial-cluster-state]: the operator sets this flag", r.stderr)
        r = self.patch({"storage": {"size": "512Mi"}}, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot shrink a PersistentVolumeClaim", r.stderr)

    def test_3_resize(self):
        cb = self.cb
        if not cb.settled("knobs", 1):
            self.skipTest("needs the cluster of test_1")
        self.patch({"storage": {"size": "2Gi"}})
        cb.bed.wait_for(lambda: cb.bed.get("persistentvolumeclaims", "data-knobs-0")["spec"]["resources"]
                        ["requests"]["storage"] == "2Gi", 60, "data-knobs-0 asks for 2Gi")
        cb.wait_status("knobs", lambda e: any(c["type"] == "VolumeResize" for c in
                                              (e.get("status") or {}).get("conditions") or []),
                       "the VolumeResize condition", 30)
        self.assertIn("ExpandingVolumes", cb.reasons("knobs"))
        # the bed's provisioner grows it online (as a CSI resizer and the
        # kubelet would): then the condition says done
        cb.wait_status("knobs", lambda e: any(c["type"] == "VolumeResize" and c["status"] == "True"
                                              for c in (e.get("status") or {}).get("conditions") or []),
                       "VolumeResize=True", 60)
        self.assertEqual(cb.bed.get("persistentvolumeclaims", "data-knobs-0")["status"]["capacity"]
                         ["storage"], "2Gi")
        self.assertIn("VolumesExpanded", cb.reasons("knobs"))

    def test_4_knob_change_rolls(self):
        cb = self.cb
        if not cb.settled("knobs", 1):
            self.skipTest("needs the cluster of test_1")
        before = self.pod()["metadata"]["uid"]
        self.patch({"pod": {"labels": {"team": "platform"}}})
        cb.bed.wait_for(lambda: any(p["metadata"]["uid"] != before and
                                    p["metadata"]["labels"].get("team") == "platform"
                                    for p in cb.bed.list("pods", selector=SEL)),
                        120, "knobs-0 made again with the new label")
        cb.wait_settled("knobs", 1, timeout=120)
        self.assertIn("RestartingMember", cb.reasons("knobs"))


if __name__ == "__main__":
    unittest.main()
