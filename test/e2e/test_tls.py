"""etcd TLS end to end on the real control plane (issue 12).

Auto mode: a cluster asked for with 3 members and peer and client TLS is
created at 1 and grown by the webhook's staging over https peer URLs; the
controller made the CA and the three certificates as Secrets owned by the
EtcdCluster and shows their expiry; etcdctl with <name>-client-tls works
through the client Service, and without a client certificate is refused;
3 -> 1 under the writer loses no acknowledged write. The peer port refuses
no certificate, and the client certificate (right CA, not a peer's CN); the members themselves speak raft over it.

Secret mode: a kubernetes.io/tls Secret without ca.crt gives TLSReady=False
with reason CAMissing, and the controller acts on nothing (no StatefulSet).

Secret mode with a leaf for the wrong names (NameMismatch) or expired in 2020
(Expired), both made with the openssl command as a user might: the same.

Rotation (etcd 3.5, the controller at --tls-cert-lifetime 1m): the leaves are
renewed at two thirds of their life and the running members serve the new
certificate without a restart (the bed's kubelet refreshes Secret volumes as
kubelet does); then the CA is rotated on request (the rotate-ca annotation)
under a writer that follows its Secret: both CAs trusted, every member made
again exactly once (the leader last, after leadership moved), the new CA
signing, the old one dropped from every ca.crt; no acknowledged write lost.

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

        # the peer port refuses a connection without a certificate, and one with a
        # certificate of the cluster's CA that is not a peer's (the client certificate:
        # allowed-cn). (The members themselves, talking raft over https peer URLs above,
        # are the connections it lets in; from the bed's host address etcd also checks
        # the peer certificate's names against the caller's IP, so no test peer here.)
        host = "sec-0.sec-peer.default.svc.cluster.local"
        for what, creds in (("no certificate", []), ("the client certificate", [cert, key])):
            r = cb.bed.run_in_cluster(["python3", "-c", PEER_MEMBERS, host, ca] + creds, check=False, timeout=30)
            self.assertNotEqual(r.returncode, 0, "the peer port let in %s: %s" % (what, r.stdout[-300:]))

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

    def test_4_secret_mode_wrong_names_or_expired_is_reported_and_nothing_is_done(self):
        cb = self.cb
        b = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        cases = {
            # for another cluster's names
            "wsan": (openssl_leaf(os.path.join(cb.bed.dir, "wsan"), ["other-client.default.svc"]),
                     "NameMismatch"),
            # the right names, expired in 2020
            "wexp": (openssl_leaf(os.path.join(cb.bed.dir, "wexp"),
                                  ["wexp-client", "wexp-client.default.svc", "*.wexp-peer.default.svc",
                                   "*.wexp-peer.default.svc.cluster.local", "localhost"],
                                  "20200101000000Z", "20200102000000Z"), "Expired"),
        }
        for name, ((ca, crt, key), _) in cases.items():
            cb.bed.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                           "metadata": {"name": name + "-tls", "namespace": "default"},
                           "data": {"ca.crt": b(ca), "tls.crt": b(crt), "tls.key": b(key)}}, ns="default")
            cb.create(name, 1, security={"tls": {"client": {"mode": "Secret", "secretName": name + "-tls"}}})
        for name, (_, reason) in cases.items():
            cb.wait_status(name, lambda ec: condition(ec, "TLSReady").get("reason") == reason,
                           "%s: TLSReady=False, %s" % (name, reason), timeout=60)
            c = condition(cb.get(name), "TLSReady")
            self.assertEqual(c["status"], "False")
            self.assertIn(name + "-tls", c["message"])
            cb.bed.wait_for(lambda: "TLSNotReady" in cb.reasons(name), 30, "%s: the TLSNotReady Event" % name)
        time.sleep(3)
        made = {s["metadata"]["name"] for s in cb.bed.list("statefulsets", "default")}
        self.assertEqual(made & set(cases), set(), "acted on a cluster whose Secret does not fit")

    def test_5_secret_mode_late_renewal_is_warned_and_the_cluster_serves(self):
        """A user's certificate past two thirds of its life (cert-manager's renewal
        late): it still fits, so the cluster is made and serves, and TLSReady says
        CertificateExpiringSoon with a Warning Event, before it expires."""
        cb = self.cb
        b = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        n, dom = "late", "default.svc.cluster.local"
        names = ["%s-%d.%s-peer.%s" % (n, k, n, dom) for k in range(10)]
        names += ["%s-client" % n, "%s-client.default" % n, "%s-client.default.svc" % n,
                  "%s-client.%s" % (n, dom), "localhost", "IP:127.0.0.1"]
        fmt = lambda t: time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))  # noqa: E731
        now = time.time()
        ca, crt, key = openssl_leaf(os.path.join(cb.bed.dir, n), names, fmt(now - 5 * 86400), fmt(now + 86400))
        cb.bed.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": n + "-tls", "namespace": "default"},
                       "data": {"ca.crt": b(ca), "tls.crt": b(crt), "tls.key": b(key)}}, ns="default")
        cb.create(n, 1, security={"tls": {"client": {"mode": "Secret", "secretName": n + "-tls"}}})
        cb.wait_settled(n, 1, timeout=120)
        c = condition(cb.get(n), "TLSReady")
        self.assertEqual((c.get("status"), c.get("reason")), ("True", "CertificateExpiringSoon"), c)
        self.assertIn("renew it", c["message"])
        cb.bed.wait_for(lambda: "CertificateExpiringSoon" in cb.reasons(n), 30, "the Warning Event")
        # settled means the controller read the member list over TLS with the user's certificate
        self.assertEqual(len(cb.get(n)["status"]["members"]), 1)


def openssl_leaf(d, dns, start=None, end=None):
    """(ca.crt, tls.crt, tls.key) PEM texts from the openssl command: a CA and a
    leaf for server and client use with these DNS names, valid from start to end
    ("YYYYmmddHHMMSSZ"; default: from now, a day) — an expired one, or one for
    the wrong names, as a user might bring."""
    os.makedirs(d, exist_ok=True)
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=user-ca",
        "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-new", *ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=user-leaf")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
                "default_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n")
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                % ",".join(n if n.startswith("IP:") else "DNS:" + n for n in dns))
    open(os.path.join(d, "index.txt"), "w").close()
    dates = ["-startdate", start, "-enddate", end] if start else ["-days", "1"]
    run("openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key",
        "-in", "tls.csr", "-out", "tls.crt", "-extfile", "ext.cnf", "-notext", *dates)
    out = []
    for k in ("ca.crt", "tls.crt", "tls.key"):
        with open(os.path.join(d, k)) as f:
            out.append(f.read())
    return tuple(out)


# GET https://HOST:2380/members (etcd's peer API) trusting CA, with CERT KEY if given
PEER_MEMBERS = (
    "import ssl,sys,urllib.request as u\n"
    "c=ssl.create_default_context(cafile=sys.argv[2])\n"
    "if len(sys.argv)>3: c.load_cert_chain(sys.argv[3],sys.argv[4])\n"
    "print(u.urlopen('https://%s:2380/members'%sys.argv[1],timeout=5,context=c).read().decode())\n")

SERVED = (
    "import ssl,socket,sys,base64\n"
    "c=ssl.create_default_context(cafile=sys.argv[3]); c.load_cert_chain(sys.argv[4],sys.argv[5])\n"
    "s=c.wrap_socket(socket.create_connection((sys.argv[1],int(sys.argv[2])),5),server_hostname=sys.argv[1])\n"
    "print(base64.b64encode(s.getpeercert(True)).decode())\n")


def der(secret, key="tls.crt"):
    """The DER of the first certificate of a Secret's PEM key."""
    import ssl
    return base64.b64encode(ssl.PEM_cert_to_DER_cert(base64.b64decode(secret["data"][key]).decode())).decode()


def pems(secret, key):
    return base64.b64decode(secret["data"][key]).decode().count("-----BEGIN CERTIFICATE-----")


class TLSRotation(unittest.TestCase):
    """Rotation on the real control plane with etcd 3.5: leaves renewed at two thirds of a
    one-minute life and served by the running members without a restart; then the CA
    rotated on request under a writer that follows its Secret: every member made again
    exactly once (the leader last), the new CA alone trusted at the end, no write lost."""

    def served(self, cb, name, k, tls):
        host = "%s-%d.%s-peer.default.svc.cluster.local" % (name, k, name)
        r = cb.bed.run_in_cluster(["python3", "-c", SERVED, host, "2379"] + list(tls), check=False, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr[-500:])
        return r.stdout.strip()

    def pods(self, cb, name):
        return {p["metadata"]["name"]: (p["metadata"]["uid"],
                                        sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", [])))
                for p in cb.bed.list("pods", selector="etcd.k8s-operator.io/cluster=" + name)}

    def test_leaf_renewal_then_ca_rotation_under_load(self):
        t0 = time.time()
        with ControllerBed(controller_args=["--tls-cert-lifetime", "1m", "--tls-ca-overlap", "5s"]) as cb:
            cb.create("rot", 1, security=TLS_BOTH, version="3.5.36")  # 3.6 in TLSAuto
            cb.wait_settled("rot", 1, timeout=120)
            for n in (2, 3):
                cb.scale("rot", n)
                cb.wait_settled("rot", n, timeout=120)
            tls = cb.use_tls("rot")

            # 1. leaves renewed at two thirds of their life, picked up without a restart
            before = self.pods(cb, "rot")
            server0 = der(cb.bed.get("secrets", "rot-server-tls"))
            cb.bed.wait_for(lambda: der(cb.bed.get("secrets", "rot-server-tls")) != server0, 70,
                            "the server certificate renewed at two thirds of its minute")
            tls = cb.use_tls("rot")
            for k in range(3):
                cb.bed.wait_for(lambda: self.served(cb, "rot", k, tls) ==
                                der(cb.bed.get("secrets", "rot-server-tls")), 30,
                                "rot-%d serving the renewed certificate" % k)
            self.assertEqual(self.pods(cb, "rot"), before, "a member restarted for a renewal")
            renewed = time.time() - t0

            # 2. the CA rotated on request, under a writer that follows its Secret
            ca0 = cb.bed.get("secrets", "rot-ca")
            t1 = time.time()
            with cb.pod_uids("rot") as uids, cb.follow_tls("rot"), \
                    cb.load("rot", prefix="rot", pods_invariant=False) as load:
                st, out = cb.bed.patch("etcdclusters", "rot",
                                       {"metadata": {"annotations": {"etcd.k8s-operator.io/rotate-ca": "1"}}})
                self.assertEqual(st, 200, out)
                cb.bed.wait_for(lambda: "CARotated" in cb.reasons("rot"), 240, "the CA rotation to end")
                cb.wait_settled("rot", 3, timeout=120)
            rotated = time.time() - t1
            res = load.check(self)
            reasons = cb.reasons("rot")
            for r in ("CARotationStarted", "RestartingMember", "CASwitched", "CARotated"):
                self.assertIn(r, reasons)
            self.assertIn("RollTransferringLeadership", reasons, "the leader is made again last, "
                          "after leadership moved")
            # every member's Pod made again exactly once
            self.assertEqual(sorted(uids), ["rot-0", "rot-1", "rot-2"])
            for name, u in uids.items():
                self.assertEqual(len(u), 2, "%s made %d times" % (name, len(u) - 1))
            # the new CA alone, every certificate from it, served by every member
            ca = cb.bed.get("secrets", "rot-ca")
            self.assertNotEqual(der(ca), der(ca0), "a new CA")
            self.assertEqual(pems(ca, "ca.crt"), 1)
            self.assertEqual(der(ca, "ca.crt"), der(ca))
            self.assertNotIn("next.crt", ca["data"])
            for s in ("rot-peer-tls", "rot-server-tls", "rot-client-tls"):
                sec = cb.bed.get("secrets", s)
                self.assertEqual(pems(sec, "ca.crt"), 1, s)
                self.assertEqual(der(sec, "ca.crt"), der(ca), s)
            tls = cb.use_tls("rot")
            for k in range(3):
                cb.bed.wait_for(lambda: self.served(cb, "rot", k, tls) ==
                                der(cb.bed.get("secrets", "rot-server-tls")), 30,
                                "rot-%d serving a certificate of the new CA" % k)
            self.assertEqual(cb.count_keys("rot", "rot/")[:1], ["rot/000001"])
            log = cb.controller.output()
            self.assertNotIn("PRIVATE KEY", log)
            sys.stderr.write("\n[test_tls] leaves renewed in place after %.0f s; CA rotated in %.0f s, "
                             "%d acknowledged writes, none lost\n" % (renewed, rotated, len(res["acked"])))


if __name__ == "__main__":
    unittest.main()
