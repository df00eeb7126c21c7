"""etcd TLS end to end on the real control plane (issue 12).

Auto mode: a cluster asked for with 3 members and peer and client TLS is
created at 1 and grown by the webhook's staging over https peer URLs; the
controller made the CA and the three certificates as Secrets owned by the
EtcdCluster and shows their expiry; etcdctl with <name>-client-tls works
through the client Service, and without a client certificate is refused;
3 -> 1 under the writer loses no acknowledged write.

Secret mode: a kubernetes.io/tls Secret without ca.crt gives TLSReady=False
with reason CAMissing, and the controller acts on nothing (no StatefulSet).

No key material in the controller's log.

    cd test/e2e && PYTHONPATH=../ EO_BUILD=../../build python3 -m unittest -v test_tls
"""
import base64
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ctlbed import ControllerBed  # noqa: E402
from kbed import bins  # noqa: E402

TLS_BOTH = {"tls": {"peer": {"mode": "Auto"}, "client": {"mode": "Auto"}}}


def etcdctl():
    d = bins.find()["etcd_bins"]
    v = sorted((v for v in d if v.startswith("3.6.")), key=bins._vkey)
    return os.path.join(d[v[-1]], "etcdctl")


def condition(ec, ctype):
    for c in (ec.get("status") or {}).get("conditions", []):
        if c.get("type") == ctype:
            return c
    return {}


class TLSAuto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.time()
        cls.cb = ControllerBed(webhook=True)

    @classmethod
    def tearDownClass(cls):
        log = cls.cb.controller.output() if cls.cb.controller else ""
        cls.cb.stop()
        sys.stderr.write("\n[test_tls] %.0f s in all\n" % (time.time() - cls.t0))
        # no key material in any log the controller wrote
        assert "PRIVATE KEY" not in log, "a private key in the controller's log"

    def test_1_auto_three_members_mutual_tls_scale_down_under_load(self):
        cb = self.cb
        t = time.time()
        cb.create("sec", 3, security=TLS_BOTH)
        ec = cb.get("sec")
        self.assertEqual(ec["spec"]["replicas"], 1, "the webhook stages a new cluster from one member")
        cb.wait_settled("sec", 3, timeout=240)
        grow = time.time() - t

        # the Secrets, owned by the EtcdCluster
        uid = cb.get("sec")["metadata"]["uid"]
        for s in ("sec-ca", "sec-peer-tls", "sec-server-tls", "sec-client-tls"):
            sec = cb.bed.get("secrets", s)
            self.assertEqual(sec["type"], "kubernetes.io/tls")
            self.assertEqual(sorted(sec["data"]), ["ca.crt", "tls.crt", "tls.key"])
            self.assertIn(uid, [r["uid"] for r in sec["metadata"].get("ownerReferences", [])])
        st = cb.get("sec")["status"]
        for k in ("caNotAfter", "peerNotAfter", "serverNotAfter", "clientNotAfter"):
            self.assertRegex(st["tls"][k], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(condition(cb.get("sec"), "TLSReady").get("status"), "True")

        # etcdctl with <name>-client-tls through the client Service; without, refused
        ca, cert, key = cb.use_tls("sec")
        ep = cb.client_url("sec")
        self.assertTrue(ep.startswith("https://"))
        ctl = etcdctl()
        r = cb.bed.run_in_cluster([ctl, "--endpoints", ep, "--cacert", ca, "--cert", cert, "--key", key,
                                   "put", "/tls/hello", "world"], check=False, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cb.bed.run_in_cluster([ctl, "--endpoints", ep, "--cacert", ca, "--cert", cert, "--key", key,
                                   "member", "list", "-w", "json"], timeout=30)
        ms = json.loads(r.stdout)["members"]
        self.assertEqual(len(ms), 3)
        for m in ms:
            self.assertTrue(all(u.startswith("https://") for u in m["peerURLs"]), m)
            self.assertTrue(all(u.startswith("https://") for u in m.get("clientURLs", [])), m)
        r = cb.bed.run_in_cluster([ctl, "--endpoints", ep, "--cacert", ca, "--dial-timeout", "3s",
                                   "--command-timeout", "5s", "get", "/tls/hello"], check=False, timeout=30)
        self.assertNotEqual(r.returncode, 0, "etcd answered a client without a certificate: %s" % r.stdout)
        self.assertNotIn("world", r.stdout)

        # 3 -> 1 under the writer (over mutual TLS): no acknowledged write lost
        t = time.time()
        with cb.load("sec", prefix="tls") as load:
            cb.scale("sec", 1)
            cb.wait_settled("sec", 1, timeout=180)
        res = load.check(self)
        shrink = time.time() - t
        sys.stderr.write("\n[test_tls] created 1 -> 3 with TLS in %.0f s; 3 -> 1 under load in %.0f s, "
                         "%d acknowledged writes, none lost\n" % (grow, shrink, len(res["acked"])))

    def test_3_a_certificate_that_no_longer_fits_is_reissued_in_place(self):
        """Auto mode owns its Secrets: one spoiled by hand (a client certificate for the
        wrong CN) is re-issued in place — the same Secret updated, the cluster serving."""
        cb = self.cb
        if not cb.settled("sec", 1):
            self.skipTest("needs the cluster of test_1")
        before = cb.bed.get("secrets", "sec-client-tls")
        bogus = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                                 b"-----END CERTIFICATE-----\n").decode()
        st, out = cb.bed.patch("secrets", "sec-client-tls", {"data": {"tls.crt": bogus}})
        self.assertEqual(st, 200, out)
        cb.bed.wait_for(lambda: cb.bed.get("secrets", "sec-client-tls")["data"]["tls.crt"] not in (bogus,),
                        60, "the controller to re-issue the client certificate")
        after = cb.bed.get("secrets", "sec-client-tls")
        self.assertEqual(after["metadata"]["uid"], before["metadata"]["uid"], "updated in place, not re-made")
        self.assertTrue(base64.b64decode(after["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----"))
        cb.wait_settled("sec", 1)
        ca, cert, key = cb.use_tls("sec")
        r = cb.bed.run_in_cluster([etcdctl(), "--endpoints", cb.client_url("sec"), "--cacert", ca, "--cert", cert,
                                   "--key", key, "get", "/tls/hello", "--print-value-only"], check=False, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "world"), r.stderr)

    def test_2_secret_mode_without_ca_is_reported_and_nothing_is_done(self):
        cb = self.cb
        # a kubernetes.io/tls Secret with tls.crt and tls.key but no ca.crt
        d = os.path.join(cb.bed.dir, "byo")
        subprocess.run([os.path.join(cb.bed.build, "etcd-certs"), "all", "--out", d, "--service",
                        "byo-client", "--namespace", "default"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        with open(os.path.join(d, "tls.crt")) as f:
            crt = f.read()
        with open(os.path.join(d, "tls.key")) as f:
            key = f.read()
        b = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        cb.bed.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": "byo-tls", "namespace": "default"},
                       "data": {"tls.crt": b(crt), "tls.key": b(key)}}, ns="default")
        cb.create("byo", 1, security={"tls": {"client": {"mode": "Secret", "secretName": "byo-tls"}}})
        cb.wait_status("byo", lambda ec: condition(ec, "TLSReady").get("reason") == "CAMissing",
                       "TLSReady=False, CAMissing", timeout=60)
        c = condition(cb.get("byo"), "TLSReady")
        self.assertEqual(c["status"], "False")
        self.assertIn("no ca.crt", c["message"])
        time.sleep(3)
        self.assertEqual([s["metadata"]["name"] for s in cb.bed.list("statefulsets", "default")
                          if s["metadata"]["name"] == "byo"], [], "acted on a cluster whose Secret does not fit")
        self.assertIn("TLSNotReady", cb.reasons("byo"))
        # the user's Secret is untouched
        self.assertNotIn("ca.crt", cb.bed.get("secrets", "byo-tls")["data"])


if __name__ == "__main__":
    unittest.main()
