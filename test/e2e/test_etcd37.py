"""etcd 3.7 on the real control plane: the newest minor admission lets in
(3.5, 3.6 and 3.7; DESIGN §3 asks for 3.5 or newer, and each is run here).

Three members on 3.6.16 under a writer and a prober are rolled to 3.7.4,
one member at a time, then grown to 4 on 3.7: every member reports 3.7.4,
status.version says so, and no acknowledged write is lost.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed  # noqa: E402


class Etcd37(unittest.TestCase):
    def test_36_to_37_then_scale_on_37(self):
        with ControllerBed() as cb:
            cb.create("s", 1, version="3.6.16")
            cb.wait_settled("s", 1)
            cb.scale("s", 3)
            cb.wait_settled("s", 3, timeout=180)
            with cb.load("s", prefix="s", pods_invariant=False) as load:
                cb.bed.kubectl("patch", "etcdclusters", "s", "--type", "merge",
                               "-p", json.dumps({"spec": {"version": "3.7.4"}}))
                cb.bed.wait_for(lambda: cb.get("s").get("status", {}).get("version") == "3.7.4", 240,
                                "every member on 3.7.4")
                cb.wait_settled("s", 3, timeout=120)
                cb.scale("s", 4)
                cb.wait_settled("s", 4, timeout=180)
            load.check(self)
            st = cb.get("s")["status"]
            self.assertEqual(st["version"], "3.7.4")
            self.assertEqual(sorted(m.get("version") for m in st["members"]), ["3.7.4"] * 4)
            images = {p["spec"]["containers"][0]["image"]
                      for p in cb.bed.list("pods", selector="etcd.k8s-operator.io/cluster=s")}
            self.assertEqual(images, {"gcr.io/etcd-development/etcd:v3.7.4"})


if __name__ == "__main__":
    unittest.main()
