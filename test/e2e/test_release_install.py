"""The release bundle on the real control plane, and the operator upgraded
over a running cluster (issue 15).

The operator is first installed the README's source way (manifests/, the
image by the tag the manifests name), and a 3-member cluster is grown by it
(staged 1 -> 2 -> 3 by its webhook) under a writer. Then the release's
install.yaml (`scripts/release.sh`: the image pinned as NAME:V@sha256:…) is
applied over it the README's release way, through `etcd-certs inject` with
the same CA: both Deployments roll to the pinned image — a new controller
and webhook over a running cluster, as an operator upgrade is. Throughout:
no member is added or removed, no etcd Pod is made again, no acknowledged
write is lost; after it, the new operator scales the cluster to 4.

The bed's node agent runs every Pod from its image in a local OCI store, so
the pinned digest must be the image `make image` built, or the Pods fail
with ErrImagePull. (There is no earlier release to start from yet: the
first install is this tree's manifests, which run the same binaries under
another reference; what the test proves is the upgrade path — Deployments
rolled, the clusters left alone.)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NS = "etcd-operator-system"


def build_dir():
    return os.environ.get("EO_BUILD") or os.path.join(ROOT, "build")


class ReleaseInstall(unittest.TestCase):
    def deployment_images(self, cb):
        return {d: cb.bed.get("deployments", d, ns=NS)["spec"]["template"]["spec"]["containers"][0]["image"]
                for d in ("etcd-webhook", "etcd-controller")}

    def rolled_out(self, cb, d):
        r = cb.bed.kubectl("-n", NS, "rollout", "status", "deployment/" + d, "--timeout", "180s",
                           check=False, timeout=210)
        self.assertEqual(r.returncode, 0, "%s: %s\n%s" % (d, r.stderr, cb.bed.operator_logs()[-3000:]))

    def test_release_bundle_upgrades_the_operator_over_a_running_cluster(self):
        with ControllerBed(start_controller=False) as cb, tempfile.TemporaryDirectory() as tmp:
            certs = cb.bed.install_operator()
            cb.create("up", 3)  # staged 1 -> 2 -> 3 by the installed webhook
            cb.wait_settled("up", 3, timeout=240)

            # the release, from what `make image` built (the bed's store holds it)
            dist = os.path.join(tmp, "dist")
            r = subprocess.run([os.path.join(ROOT, "scripts", "release.sh"), build_dir(), dist],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(build_dir(), "image", "digest")) as f:
                digest = f.read().strip()
            bundle = os.path.join(dist, "install.yaml")
            r = subprocess.run([os.path.join(build_dir(), "etcd-certs"), "inject", "--ca",
                                os.path.join(certs, "ca.crt"), "-f", bundle],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            injected = r.stdout

            before_images = self.deployment_images(cb)
            ids_before = sorted(m["ID"] for m in cb.members("up"))
            with cb.pod_uids("up") as uids, cb.load("up", prefix="op", pods_invariant=False) as load:
                cb.bed.kubectl("apply", "-f", "-", input=injected)
                for d in ("etcd-webhook", "etcd-controller"):
                    self.rolled_out(cb, d)
                after_images = self.deployment_images(cb)
                for d, image in after_images.items():
                    self.assertTrue(image.endswith("@" + digest), "%s runs %s" % (d, image))
                    self.assertNotEqual(image, before_images[d], "%s was not upgraded" % d)
                # the new controller has taken over and publishes the cluster as settled
                cb.bed.wait_for(lambda: cb.settled("up", 3), 120, "up settled under the new operator")
            load.check(self)
            self.assertEqual(sorted(m["ID"] for m in cb.members("up")), ids_before,
                             "an operator upgrade changes no membership")
            self.assertEqual({p: len(u) for p, u in uids.items()}, {"up-0": 1, "up-1": 1, "up-2": 1},
                             "no etcd Pod was made again")
            ctrl = cb.bed.get("deployments", "etcd-controller", ns=NS)["spec"]["template"]["spec"]["containers"][0]
            self.assertIn("--operator-image=" + after_images["etcd-controller"], ctrl.get("args", []))

            # and the upgraded operator scales (its webhook stages nothing: one step)
            cb.scale("up", 4)
            cb.wait_settled("up", 4, timeout=240)


if __name__ == "__main__":
    unittest.main()
