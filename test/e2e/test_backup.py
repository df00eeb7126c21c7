"""Backups and restore on the real control plane (issue 16).

A real S3-compatible server (SeaweedFS, built by scripts/kube-bins.sh) runs
inside the bed's network; the controller runs as a process with fast flags
(ctlbed.py). Under a steady writer an EtcdBackup takes one snapshot; a new
EtcdCluster restored from it holds every key written up to the snapshot's
revision, a gap-free prefix of the writer's sequence and nothing written
after the backup finished, under a new cluster id, then grows 1 → 3. A
snapshot altered in the bucket, and one that is not there, are refused: the
cluster is Failed with the reason and no member is ever made.

    cd test/e2e && PYTHONPATH=../ EO_BUILD=../../build python3 -m unittest -v test_backup
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

from ctlbed import ROOT, ControllerBed  # noqa: E402
from kbed.harness import BED_IP, free_port  # noqa: E402
import etcd_load  # noqa: E402

ACCESS, SECRET = "AKIDBEDTEST", "bed/secret+key="
BUCKET = "etcd-backups"


def weed_binary():
    out = subprocess.run([os.path.join(ROOT, "scripts", "kube-bins.sh"), "--print"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    for line in out.splitlines():
        if line.startswith("s3="):
            b = os.path.join(line[3:], "weed")
            return b if os.access(b, os.X_OK) else None
    return None


def low_port():
    """A free port whose +10000 (SeaweedFS's gRPC twin) is a port too."""
    while True:
        p = free_port()
        if p < 55000:
            return p


def b64(s):
    return base64.b64encode(s.encode()).decode()


class BackupRestore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        weed = weed_binary()
        if not weed:
            raise unittest.SkipTest("SeaweedFS is not built: run scripts/kube-bins.sh")
        cls.t0 = time.time()
        cls.cb = ControllerBed(webhook=False)
        try:
            cls._start_s3(weed)
        except BaseException:
            cls.cb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        sys.stderr.write("# test_backup: %.0fs in all\n" % (time.time() - cls.t0))
        cls.cb.stop()

    @classmethod
    def _start_s3(cls, weed):
        bed = cls.cb.bed
        d = os.path.join(bed.dir, "s3")
        os.makedirs(os.path.join(d, "data"))
        with open(os.path.join(d, "s3.json"), "w") as f:
            json.dump({"identities": [{"name": "backup", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                                       "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
        ports = {k: low_port() for k in ("master", "volume", "filer", "s3")}
        cls.endpoint = "http://%s:%d" % (BED_IP, ports["s3"])
        cls.weed = bed.run_in_cluster(
            [weed, "server", "-dir=" + os.path.join(d, "data"), "-ip=" + BED_IP, "-ip.bind=" + BED_IP,
             "-master.port=%d" % ports["master"], "-volume.port=%d" % ports["volume"],
             "-filer.port=%d" % ports["filer"], "-s3", "-s3.port=%d" % ports["s3"],
             "-s3.config=" + os.path.join(d, "s3.json"), "-s3.port.iceberg=0", "-s3.port.lance=0",
             "-master.telemetry=false", "-volume.max=8", "-master.volumeSizeLimitMB=256"],
            background=True, name="seaweedfs")
        up = "import sys,urllib.request as u\ntry:\n u.urlopen(sys.argv[1],timeout=1)\nexcept u.HTTPError:\n pass\n"
        bed.wait_for(lambda: bed.run_in_cluster(["python3", "-c", up, cls.endpoint], check=False,
                                                timeout=10).returncode == 0, 60, "SeaweedFS's S3 port")
        cls.s3_curl("PUT", BUCKET)  # the bucket
        bed.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-creds", "namespace": "default"},
                    "stringData": {"accessKeyID": ACCESS, "secretAccessKey": SECRET}})

    @classmethod
    def s3_curl(cls, method, path, infile=None, outfile=None):
        """curl with SigV4 inside the bed (the test's own view of the bucket)."""
        argv = ["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "%s:%s" % (ACCESS, SECRET),
                "-X", method, "%s/%s" % (cls.endpoint, path)]
        if infile:
            argv += ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--data-binary", "@" + infile]
        if outfile:
            argv += ["-o", outfile]
        return cls.cb.bed.run_in_cluster(argv, timeout=60)

    def backup(self, name, cluster, **spec):
        obj = {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdBackup",
               "metadata": {"name": name, "namespace": "default"},
               "spec": dict({"clusterName": cluster,
                             "destination": {"s3": {"endpoint": self.endpoint, "bucket": BUCKET, "prefix": "e2e",
                                                    "credentialsSecret": "s3-creds", "forcePathStyle": True}}},
                            **spec)}
        self.cb.bed.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def plugin(self, *args, check=True):
        """BUILD/kubectl-etcd against the bed; its stdout."""
        r = subprocess.run([os.path.join(os.environ.get("EO_BUILD", os.path.join(ROOT, "build")), "kubectl-etcd")]
                           + list(args) + ["--kubeconfig", self.cb.bed.kubeconfig],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("kubectl etcd %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                                       r.stderr))
        return r.stdout + r.stderr

    def get_backup(self, name):
        return self.cb.bed.get("etcdbackups", name)

    def kvs(self, cluster, prefix):
        """{key: mod_revision}; retried while the client Service settles on a new voter."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = {"key": b64(prefix), "range_end": b64(end), "keys_only": True}
        tls = self.cb.tls.get(("default", cluster))
        r = self.cb.bed.wait_for(lambda: (self.cb.etcd(self.cb.client_url(cluster), "/v3/kv/range", body,
                                                       timeout=10, tls=tls),), 30, "a range on %s" % cluster)[0]
        return {base64.b64decode(kv["key"]).decode(): int(kv["mod_revision"]) for kv in r.get("kvs", [])}

    # the tests run in name order: a_ takes the snapshot b_ and c_ use
    def test_a_backup_under_writer_then_restore_and_grow(self):
        cb = self.cb
        t = time.time()
        cb.create("src", 1)
        cb.wait_settled("src", 1, timeout=90)
        # every minute, keep 2: runs in the background while the rest goes on (test_c checks it)
        self.backup("minutely", "src", schedule="* * * * *", retention={"keep": 2})
        with cb.load("src", prefix="w") as load:
            time.sleep(2)
            self.backup("once", "src")
            cb.bed.wait_for(lambda: (self.get_backup("once").get("status") or {}).get("phase")
                            in ("Succeeded", "Failed"), 60, "the backup to finish")
            done_seq = max(etcd_load.read_log(load.wlog)[0] or [0])
            time.sleep(2)  # and more writes after it
        load.check(self)
        st = self.get_backup("once")["status"]
        self.assertEqual(st["phase"], "Succeeded", json.dumps(st))
        snap = st["lastSnapshot"]
        self.assertEqual([s["key"] for s in st["snapshots"]], [snap["key"]])
        self.assertRegex(snap["key"], r"^e2e/default/src/once-\d{8}T\d{6}Z\.db$")
        self.assertRegex(snap["sha256"], r"^[0-9a-f]{64}$")
        self.assertGreater(snap["size"], 0)
        cond = {c["type"]: c for c in st["conditions"]}
        self.assertEqual(cond["Ready"]["status"], "True")
        sys.stderr.write("# backup under load: %s, %d bytes at revision %d (writer at %d when it finished)\n"
                         % (snap["key"], snap["size"], snap["revision"], done_seq))
        src = self.kvs("src", "w/")
        self.assertGreater(len(src), done_seq - 1)

        listing = self.plugin("backups", "src")
        self.assertIn(snap["key"], listing)
        self.assertIn(str(snap["revision"]), listing)
        out = self.plugin("restore", "dst", "--from-backup", "once")
        self.assertIn("member 0 restored from once", out)
        cb.wait_settled("dst", 1, timeout=120)
        # a scheduled backup of dst that cannot succeed (no such Secret): test_f
        # finds dst's BackupStale condition True once two periods have passed
        obj = {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdBackup",
               "metadata": {"name": "doomed", "namespace": "default"},
               "spec": {"clusterName": "dst", "schedule": "* * * * *",
                        "destination": {"s3": {"endpoint": self.endpoint, "bucket": BUCKET,
                                               "credentialsSecret": "no-such-secret", "forcePathStyle": True}}}}
        cb.bed.kubectl("apply", "-f", "-", input=json.dumps(obj))
        restored = self.kvs("dst", "w/")
        must = sorted(k for k, rev in src.items() if rev <= snap["revision"])
        self.assertEqual([k for k in must if k not in restored], [],
                         "keys at or below the snapshot's revision missing after the restore")
        seqs = sorted(int(k.split("/")[1]) for k in restored)
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "the restore is not a prefix of the writes")
        self.assertLessEqual(len(seqs), done_seq + 1, "the restore holds writes made after the backup finished")
        self.assertLess(len(seqs), len(src), "the writes after the backup reached the restore")
        a, b = cb.get("src")["status"]["clusterID"], cb.get("dst")["status"]["clusterID"]
        self.assertNotEqual(a, b, "the restored cluster kept the old cluster id")
        self.assertIn("Restored", cb.reasons("dst"))
        self.assertEqual(cb.bed.list("pods", selector="app.kubernetes.io/name=etcd-restore"), [])
        # then it grows as any cluster does, and the data stays
        for n in (2, 3):
            cb.scale("dst", n)
            cb.wait_settled("dst", n, timeout=120)
        self.assertEqual(len(cb.members("dst")), 3)
        # spec.bootstrap is read once: the API server refuses changing it (the CRD's rule)
        r = cb.bed.kubectl("patch", "etcdclusters", "dst", "--type", "merge", "-p",
                           json.dumps({"spec": {"bootstrap": {"restore": {"backupName": "other"}}}}), check=False)
        self.assertNotEqual(r.returncode, 0, "spec.bootstrap changed")
        self.assertIn("spec.bootstrap", r.stdout + r.stderr)
        self.assertEqual(sorted(self.kvs("dst", "w/")), sorted(restored))
        sys.stderr.write("# restored %d keys (snapshot revision %d), grown to 3, in %.0fs\n"
                         % (len(restored), snap["revision"], time.time() - t))

    def test_b_altered_or_missing_snapshot_refused(self):
        cb = self.cb
        snap = self.get_backup("once")["status"]["lastSnapshot"]
        # cut the object short in the bucket, as damage would
        f = os.path.join(cb.bed.dir, "snap.db")
        self.s3_curl("GET", "%s/%s" % (BUCKET, snap["key"]), outfile=f)
        with open(f, "rb") as fh:
            data = fh.read()
        self.assertEqual(len(data), snap["size"])
        with open(f, "wb") as fh:
            fh.write(data[: len(data) - 4096])
        self.s3_curl("PUT", "%s/%s" % (BUCKET, snap["key"]), infile=f)
        cb.create("bad", 1, bootstrap={"restore": {"backupName": "once"}})
        cb.create("gone", 1, bootstrap={"restore": {"backupName": "once", "key": "e2e/default/src/none.db"}})

        def failed(name, reason):
            st = cb.get(name).get("status") or {}
            cond = {c["type"]: c for c in st.get("conditions", [])}
            return st.get("phase") == "Failed" and (cond.get("Available") or {}).get("reason") == reason and cond
        try:
            bad = cb.bed.wait_for(lambda: failed("bad", "RestoreFailed"), 90, "bad: Failed, RestoreFailed")
        except AssertionError:
            pod = cb.bed.get("pods", "bad-restore")
            sys.stderr.write("status: %s\nrestore pod: %s\ncontroller: %s\n" % (
                json.dumps(cb.get("bad").get("status")), json.dumps(pod.get("status")),
                cb.controller.output()[-3000:]))
            raise
        self.assertIn("SHA-256", bad["Available"]["message"])
        gone = cb.bed.wait_for(lambda: failed("gone", "RestoreFailed"), 90, "gone: Failed, RestoreFailed")
        self.assertIn("404", gone["Available"]["message"])
        for name in ("bad", "gone"):
            st, _ = cb.bed.api("GET", cb.bed.path("statefulsets", name))
            self.assertEqual(st, 404, "%s: a StatefulSet was made on a refused snapshot" % name)
            self.assertEqual(cb.bed.list("pods", selector="etcd.k8s-operator.io/cluster=%s,app.kubernetes.io/name=etcd"
                                         % name), [])
        sys.stderr.write("# refused: %s | %s\n" % (bad["Available"]["message"][:160],
                                                   gone["Available"]["message"][:160]))

    def test_c_schedule_and_retention(self):
        """Every minute, keep 2: after three good runs exactly two snapshots are
        listed and exactly those two are in the bucket; the plugin's one-time
        backup to the same destination follows its progress to the end."""
        cb = self.cb
        out = self.plugin("backup", "src", "--to", "etcdbackup/minutely", "--name", "adhoc", "--wait")
        self.assertRegex(out, r"snapshot e2e/default/src/adhoc-\d{8}T\d{6}Z\.db: .* at revision \d+, sha256 ")

        def taken():
            return [e for e in cb.bed.events("default") if e.get("reason") == "SnapshotTaken"
                    and (e.get("involvedObject") or {}).get("name") == "minutely"]

        def three_runs():
            st = self.get_backup("minutely").get("status") or {}
            return st.get("phase") == "Succeeded" and len(taken()) >= 3 and st
        st = cb.bed.wait_for(three_runs, 200, "three scheduled runs of minutely", interval=1)
        runs = len(taken())
        keys = [s["key"] for s in st["snapshots"]]
        self.assertEqual(len(keys), 2, json.dumps(st))
        self.assertEqual(keys[0], st["lastSnapshot"]["key"])
        self.assertRegex(st.get("nextScheduleTime", ""), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$")
        f = os.path.join(cb.bed.dir, "list.xml")
        # curl signs the query as written: it must be canonical already (sorted, '/' encoded)
        self.s3_curl("GET", "%s?list-type=2&prefix=e2e%%2Fdefault%%2Fsrc%%2Fminutely-" % BUCKET, outfile=f)
        with open(f) as fh:
            listed = sorted(k.split("</Key>")[0] for k in fh.read().split("<Key>")[1:])
        self.assertEqual(listed, sorted(keys), "the bucket holds other than the two kept snapshots")
        cond = {c["type"]: c for c in cb.get("src")["status"].get("conditions", [])}
        self.assertEqual((cond.get("BackupStale") or {}).get("status"), "False", json.dumps(cond))
        sys.stderr.write("# scheduled: %d good runs, kept %s\n" % (runs, keys))

    def test_d_pvc_destination_and_restore(self):
        """A one-time backup onto a claim (through the receiver Pod), then a
        cluster restored from that file."""
        cb = self.cb
        cb.bed.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": "snaps", "namespace": "default"},
                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
        obj = {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdBackup",
               "metadata": {"name": "tovol", "namespace": "default"},
               "spec": {"clusterName": "src", "destination": {"pvc": {"claimName": "snaps", "path": "etcd/"}}}}
        cb.bed.kubectl("apply", "-f", "-", input=json.dumps(obj))
        cb.bed.wait_for(lambda: (self.get_backup("tovol").get("status") or {}).get("phase")
                        in ("Succeeded", "Failed"), 120, "the backup onto the claim")
        st = self.get_backup("tovol")["status"]
        self.assertEqual(st["phase"], "Succeeded", json.dumps(st))
        self.assertRegex(st["lastSnapshot"]["key"], r"^etcd/default/src/tovol-\d{8}T\d{6}Z\.db$")
        cb.bed.wait_for(lambda: cb.bed.list("pods", selector="app.kubernetes.io/name=etcd-backup-receiver") == [],
                        60, "the receiver Pod gone")
        out = self.plugin("restore", "fromvol", "--from-backup", "tovol")
        self.assertIn("member 0 restored from tovol", out)
        cb.wait_settled("fromvol", 1, timeout=120)
        seqs = sorted(int(k.split("/")[1]) for k in self.kvs("fromvol", "w/"))
        self.assertGreater(len(seqs), 0)
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        sys.stderr.write("# pvc: %s, %d bytes; restored %d keys\n" % (st["lastSnapshot"]["key"],
                                                                     st["lastSnapshot"]["size"], len(seqs)))

    def test_e_tls_cluster_backup_and_restore(self):
        """A cluster with peer and client TLS (mode Auto): the snapshot is read
        with the controller's client certificate; the restore gets TLS of its
        own (https peer URL in its member id) and holds the data."""
        cb = self.cb
        tls = {"tls": {"peer": {"mode": "Auto"}, "client": {"mode": "Auto"}}}
        cb.create("sec", 1, security=tls)
        cb.wait_settled("sec", 1, timeout=120)
        cb.use_tls("sec")
        for i in range(20):  # retried while the client Service settles on the new voter
            cb.bed.wait_for(lambda: cb.etcd(cb.client_url("sec"), "/v3/kv/put",
                                            {"key": b64("t/%03d" % i), "value": b64("v")},
                                            tls=cb.tls[("default", "sec")]), 30, "a put on sec")
        self.backup("secb", "sec")
        cb.bed.wait_for(lambda: (self.get_backup("secb").get("status") or {}).get("phase")
                        in ("Succeeded", "Failed"), 60, "the TLS cluster's backup")
        st = self.get_backup("secb")["status"]
        self.assertEqual(st["phase"], "Succeeded", json.dumps(st))
        out = self.plugin("restore", "sec2", "--from-backup", "secb")
        self.assertIn("member 0 restored", out)
        self.assertEqual(cb.get("sec2")["spec"].get("security"), tls, "restore kept the source's TLS")
        cb.wait_settled("sec2", 1, timeout=120)
        cb.use_tls("sec2")
        self.assertEqual(len(self.kvs("sec2", "t/")), 20)
        peer = cb.members("sec2")[0]["peerURLs"][0]
        self.assertTrue(peer.startswith("https://"), peer)

    def test_f_stale_condition(self):
        """The failing every-minute backup of dst (made in test_a): its runs fail
        with the reason, and after twice its period without a good snapshot dst
        says BackupStale=True, naming it."""
        cb = self.cb
        st = self.get_backup("doomed")["status"]
        self.assertEqual(st["phase"], "Failed", json.dumps(st))
        self.assertGreaterEqual(st["consecutiveFailures"], 1)
        cond = {c["type"]: c for c in st["conditions"]}
        self.assertEqual(cond["Ready"]["reason"], "CredentialsUnusable")
        self.assertIn("no-such-secret", cond["Ready"]["message"])

        def stale():
            c = {k["type"]: k for k in cb.get("dst")["status"].get("conditions", [])}.get("BackupStale") or {}
            return c.get("status") == "True" and c
        c = cb.bed.wait_for(stale, 150, "BackupStale=True on dst", interval=1)
        self.assertIn("doomed", c["message"])
        sys.stderr.write("# stale: %s\n" % c["message"])


if __name__ == "__main__":
    unittest.main()
