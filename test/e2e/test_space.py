"""Space end to end (issue 14) on the real control plane (kbed) with real etcd: a
3-member cluster with a 16 MiB backend quota is filled until etcd raises the
NOSPACE alarm, while a writer puts sequential keys through the client Service.

Asserts: the generated etcd configuration carries the quota and
auto-compaction; the alarm is reported (Degraded with reason NoSpace, one
Warning Event); the controller recovers it alone — compacts, defragments
each member one at a time with the leader last, disarms — and records it
(Events, status.maintenance); the cluster takes writes again; every
acknowledged key is still there. And the shared policy refuses, through the
webhook, a quota larger than the volume.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed, client_url, member_url  # noqa: E402
import etcd_load  # noqa: E402

QUOTA = 16 * 1024 * 1024

# Overwrites 4 keys with 256 KiB values until etcd refuses with NOSPACE:
# the history (old revisions), not the live data, fills the quota, so a
# compaction can free it. Prints the number of puts and etcd's last words.
FILL = r"""
import base64, json, sys, time, urllib.request as u
url = sys.argv[1]
val = base64.b64encode(b"v" * 262144).decode()
n, last, end = 0, "", time.time() + 240
while time.time() < end:
    body = json.dumps({"key": base64.b64encode(b"blob/%d" % (n % 4)).decode(), "value": val}).encode()
    r = u.Request(url + "/v3/kv/put", data=body, headers={"Content-Type": "application/json"})
    try:
        u.urlopen(r, timeout=10).read()
        n += 1
    except u.HTTPError as e:
        last = e.read().decode()
        if "space exceeded" in last or e.code == 429:
            break
        time.sleep(0.2)
    except Exception as e:
        last = str(e)
        time.sleep(0.2)
print(json.dumps({"puts": n, "last": last}))
"""


class Space(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = ControllerBed(webhook=True)

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()

    def test_1_quota_over_the_volume_refused(self):
        obj = {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
               "metadata": {"name": "toobig", "namespace": "default"},
               "spec": {"replicas": 1, "storage": {"size": "64Mi"},
                        "maintenance": {"quotaBackendBytes": "128Mi"}}}
        r = self.cb.bed.kubectl("apply", "-f", "-", input=json.dumps(obj), check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("larger than the volume", r.stderr)

    def test_2_nospace_recovered_with_every_acknowledged_key(self):
        cb = self.cb
        cb.create("space", 3, maintenance={"quotaBackendBytes": "16Mi",
                                           "autoCompaction": {"mode": "Revision", "retention": "1000000"}})
        cb.wait_settled("space", 3, timeout=240)
        sts = cb.bed.get("statefulsets", "space")
        init = [k for k in sts["spec"]["template"]["spec"]["initContainers"] if k["name"] == "member-init"][0]
        for flag in ("--quota-backend-bytes=%d" % QUOTA, "--auto-compaction-mode=revision",
                     "--auto-compaction-retention=1000000"):
            self.assertIn(flag, init["args"])
        seen = {"nospace": False}

        def watch(ec):
            for c in (ec.get("status") or {}).get("conditions", []):
                if c["type"] == "Degraded" and c.get("reason") == "NoSpace" and c["status"] == "True":
                    seen["nospace"] = True
            return False

        with cb.load("space", "ack", pods_invariant=False) as load:
            r = cb.bed.run_in_cluster(["python3", "-c", FILL, client_url("space")], timeout=300)
            fill = json.loads(r.stdout.strip().splitlines()[-1])
            self.assertIn("space exceeded", fill["last"], fill)
            t_full = time.time()
            # reported, then recovered: the alarm gone and writes acknowledged again
            def recovered():
                ec = cb.get("space")
                watch(ec)
                al = cb.etcd(member_url("space", 0),
                             "/v3/maintenance/alarm", {"action": "GET"}) if seen["nospace"] else {"alarms": [1]}
                acked, _, times = etcd_load.read_log(load.wlog)
                return not al.get("alarms") and times and times[-1] > t_full + 1
            try:
                cb.bed.wait_for(recovered, 180, "NOSPACE reported and recovered, writes acknowledged again",
                                interval=1.0)
            except AssertionError:
                sys.stderr.write("status: %s\nevents: %s\ncontroller log tail:\n%s\n" % (
                    json.dumps(cb.get("space").get("status"), indent=1),
                    [(e["reason"], e["message"]) for e in cb.events("space")][-12:],
                    "\n".join(l for l in cb.controller.output().splitlines()
                              if "space" in l or "NOSPACE" in l)[-6000:]))
                raise
            finally:
                with open(os.environ.get("SPACE_CTL_LOG", os.devnull), "w") as f:
                    f.write(cb.controller.output())
        self.assertTrue(seen["nospace"], "Degraded/NoSpace was never reported")
        r = load.result()
        keys = set(cb.count_keys("space", "ack/"))
        missing = [s for s in r["acked"] if etcd_load.key("ack", s) not in keys]
        self.assertEqual(missing, [], "acknowledged writes missing after the recovery: %s" % missing[:10])
        # the gateway answers NOSPACE with 429 (gRPC ResourceExhausted)
        self.assertTrue(any("space exceeded" in f[2] or "429" in f[2] for f in r["fails"]),
                        "the writer never met NOSPACE: %s" % r["fails"][:3])
        # the record: one Warning, compaction, each member defragmented once, the leader last, disarm
        evs = sorted(cb.events("space"), key=lambda e: e["metadata"]["creationTimestamp"])
        reasons = [e["reason"] for e in evs]
        self.assertEqual(reasons.count("NoSpace"), 1, reasons)
        self.assertEqual([e["type"] for e in evs if e["reason"] == "NoSpace"], ["Warning"])
        i = reasons.index("NoSpace")
        after = [e for e in evs[i:] if e["reason"] in ("Compacted", "Defragmented", "NoSpaceRecovered")]
        self.assertEqual([e["reason"] for e in after][:5],
                         ["Compacted", "Defragmented", "Defragmented", "Defragmented", "NoSpaceRecovered"],
                         [(e["reason"], e["message"]) for e in after])
        defr = [e["message"] for e in after if e["reason"] == "Defragmented"][:3]
        self.assertIn("(the leader)", defr[2], defr)
        self.assertEqual(len({m.split(" defragmented ")[1].split(" ")[0] for m in defr}), 3, defr)
        st = cb.get("space")["status"]
        self.assertIn("NOSPACE recovered", st["maintenance"]["lastAction"])
        self.assertGreater(st["maintenance"]["compactedRevision"], 0)
        cb.wait_settled("space", 3, timeout=120)
        # and a put through the client Service works
        cb.etcd(client_url("space"), "/v3/kv/put", {"key": "YWZ0ZXI=", "value": "eA=="})


if __name__ == "__main__":
    unittest.main()
