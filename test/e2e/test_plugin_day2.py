"""The plugin's day-2 reads on the test bed, through the kubectl on PATH:
`members` live from etcd through the API server's pods proxy (one leader,
raft term and index, DB sizes, versions; -o wide|name|json|yaml), `health`
(exit 0 when every member is healthy), `alarm list` (none on a fresh
cluster), and `status NAME` showing only the Events of this very cluster
(matched by uid, so a predecessor of the same name stays out). One
3-member cluster with the real webhook and controller; the tests only read.
"""
import json
import os
import re
import subprocess
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from plugintest import MANIFESTS, Bed, Plugin, build_dir, cluster  # noqa: E402

CONTROLLER_FLAGS = ["--step-timeout", "60s", "--etcd-heartbeat-ms", "50", "--etcd-election-ms", "500"]


class Day2Reads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plugin = Plugin()
        cls.bed = Bed(manifests=True)
        try:
            cls.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "namespace", "namespace.yaml"))
            for f in ("mutating-webhook.yaml", "validating-webhook.yaml"):
                cls.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "webhook", f))
            cls.bed.start_webhook()
            cls.controller = cls.bed.start_controller(CONTROLLER_FLAGS)
            cls.bed.wait_for(lambda: cls.bed.kubectl("apply", "-f", "-", input=cluster("demo", 3),
                                                     check=False).returncode == 0,
                             20, "the webhook to admit demo")
            cls.bed.wait_for(lambda: cls.settled(3), 180, "demo settled at 3", interval=0.5)
        except BaseException:
            cls.bed.stop()
            cls.plugin.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()
        cls.plugin.cleanup()

    @classmethod
    def settled(cls, n):
        ec = cls.bed.get("etcdclusters", "demo")
        st = ec.get("status") or {}
        return (st.get("phase") == "Running" and st.get("replicas") == n
                and st.get("readyReplicas") == n and not st.get("scaling"))

    def etcd(self, *args, **kw):
        return self.plugin.run(*args, kubeconfig=self.bed.kubeconfig, **kw)

    def test_members_live_table(self):
        r = self.etcd("members", "demo")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("ID"), r.stdout)
        for h in ("ROLE", "TERM", "INDEX", "DB SIZE", "IN USE", "VERSION", "PEER URL", "CLIENT URL"):
            self.assertIn(h, lines[0])
        rows = [l for l in lines[1:] if l.strip()]
        self.assertEqual(len(rows), 3, r.stdout)
        self.assertEqual(sum(" leader " in l for l in rows), 1, r.stdout)
        self.assertEqual(sum(" follower " in l for l in rows), 2, r.stdout)
        for k in range(3):
            self.assertIn("demo-%d" % k, r.stdout)

    def test_members_json_is_etcds_answer(self):
        r = self.etcd("members", "demo", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["source"], "etcd")
        ms = doc["members"]
        self.assertEqual(sorted(m["name"] for m in ms), ["demo-0", "demo-1", "demo-2"])
        leaders = [m for m in ms if m["isLeader"]]
        self.assertEqual(len(leaders), 1)
        self.assertEqual(leaders[0]["id"], doc["leader"])
        terms = {m["raftTerm"] for m in ms}
        self.assertEqual(len(terms), 1, ms)  # one term, as every member sees it
        for m in ms:
            self.assertGreater(int(m["raftIndex"]), 0)
            self.assertGreater(m["dbSize"], 0)
            self.assertGreater(m["dbSizeInUse"], 0)
            self.assertLessEqual(m["dbSizeInUse"], m["dbSize"])
            self.assertRegex(m["version"], r"^3\.\d+\.\d+$")
            self.assertTrue(m["peerURLs"] and m["clientURLs"], m)
            self.assertFalse(m["isLearner"])
        # what the controller published agrees on who leads
        st = self.bed.get("etcdclusters", "demo")["status"]
        self.assertEqual(leaders[0]["name"], st["leader"])

    def test_members_other_formats(self):
        r = self.etcd("members", "demo", "-o", "name")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.split()), ["member/demo-0", "member/demo-1", "member/demo-2"])
        r = self.etcd("members", "demo", "-o", "wide")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("APPLIED", r.stdout.splitlines()[0])
        r = self.etcd("members", "demo", "-o", "yaml")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("source: etcd", r.stdout)
        r = self.etcd("members", "demo", "-o", "jsonpath")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        r = self.etcd("members", "demo", "-o", "jsonpath={.members[*].name}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.split()), ["demo-0", "demo-1", "demo-2"])
        r = self.etcd("members", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn('etcdcluster "nosuch" not found', r.stderr)

    def test_health_all_healthy(self):
        r = self.etcd("health", "demo")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("3 of 3 members healthy", r.stdout)
        r = self.etcd("health", "demo", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertTrue(doc["healthy"])
        self.assertEqual(len(doc["members"]), 3)

    def test_alarm_list_none(self):
        r = self.etcd("alarm", "list", "demo")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), "No alarms.")
        r = self.etcd("alarm", "list", "demo", "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["alarms"], [])

    def test_status_events_are_this_clusters(self):
        uid = self.bed.get("etcdclusters", "demo")["metadata"]["uid"]

        def event(name, reason, uid):
            return json.dumps({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": "default"},
                "involvedObject": {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
                                   "name": "demo", "namespace": "default", "uid": uid},
                "reason": reason, "message": reason + " happened", "type": "Normal",
                "firstTimestamp": "2026-12-07T10:00:00Z", "lastTimestamp": "2099-01-01T00:00:00Z",
                "count": 1, "source": {"component": "test"}})
        self.bed.kubectl("create", "-f", "-", input=event("demo.stale", "StalePredecessor",
                                                         "00000000-0000-0000-0000-000000000000"))
        self.bed.kubectl("create", "-f", "-", input=event("demo.fresh", "FreshOfThisOne", uid))
        r = self.etcd("status", "demo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("FreshOfThisOne", r.stdout)
        self.assertNotIn("StalePredecessor", r.stdout)

    def test_status_wide_and_name(self):
        r = self.etcd("status", "-o", "wide")
        self.assertEqual(r.returncode, 0, r.stderr)
        hdr = r.stdout.splitlines()[0]
        for h in ("NAME", "PHASE", "LEADER", "AVAILABLE", "DEGRADED", "CLIENT TLS"):
            self.assertIn(h, hdr)
        leader = self.bed.get("etcdclusters", "demo")["status"]["leader"]
        self.assertIn(leader, r.stdout)
        r = self.etcd("status", "demo", "-o", "wide")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        r = self.etcd("status", "-o", "name")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "etcdcluster.etcd.k8s-operator.io/demo\n")
        r = self.etcd("status", "-o", "jsonpath={.items[*].metadata.name}")
        self.assertEqual((r.returncode, r.stdout), (0, "demo"), r.stderr)
        r = self.etcd("status", "demo", "-o", "jsonpath={.status.phase}{'\\n'}")
        self.assertEqual((r.returncode, r.stdout), (0, "Running\n"), r.stderr)
        r = self.etcd("status", "-o", "jsonpath={range .items[*]}{.metadata.name}{end}")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not supported", r.stderr)

    def test_version_reads_the_operators_deployments(self):
        # a Deployment of no replicas stands for the controller's (no Pod is run)
        self.bed.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "etcd-controller", "namespace": "etcd-operator-system"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "c"}},
                     "template": {"metadata": {"labels": {"app": "c"}},
                                  "spec": {"containers": [{"name": "controller",
                                                           "image": "registry.example/etcd-operator:9.9.9"}]}}}}))
        r = self.etcd("version")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        version = subprocess.run([os.path.join(build_dir(), "kubectl-etcd"), "--version"], capture_output=True,
                                 text=True).stdout.split()[1]
        self.assertRegex(lines[0], r"^kubectl-etcd version %s \(commit [0-9a-f]+(-dirty)?\)$" % re.escape(version))
        self.assertIn("controller  9.9.9 (image registry.example/etcd-operator:9.9.9, 0/0 ready", r.stdout)
        self.assertIn("webhook     unknown: no Deployment etcd-operator-system/etcd-webhook", r.stdout)
        doc = json.loads(self.etcd("version", "-o", "json").stdout)
        self.assertEqual(doc["controller"]["version"], "9.9.9")
        self.assertIn("error", doc["webhook"])
        r = self.etcd("version", "--client")
        self.assertEqual(len(r.stdout.splitlines()), 1)

    def test_validate_agrees_with_the_api_server(self):
        """A typo'd field: validate refuses it as strict field validation does,
        and the real API server refuses the same file with the same words."""
        d = tempfile.mkdtemp(prefix="validate-dir-")
        try:
            bad = os.path.join(d, "a-typo.yaml")
            with open(bad, "w") as f:
                f.write("apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\n"
                        "metadata: {name: typo}\nspec:\n  replica: 3\n  storage: {sise: 5Gi}\n")
            with open(os.path.join(d, "b-ns.yaml"), "w") as f:
                f.write("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-x}\n")
            r = self.etcd("validate", "-f", d)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn('a-typo.yaml:1: default/typo: refused: strict decoding error: '
                          'unknown field "spec.replica", unknown field "spec.storage.sise"', r.stdout)
            self.assertIn("b-ns.yaml:1: skipped Namespace team-x (not an EtcdCluster)", r.stdout)
            k = self.bed.kubectl("apply", "-f", bad, check=False)
            self.assertNotEqual(k.returncode, 0, k.stdout)
            self.assertIn('unknown field "spec.replica"', k.stderr)
            self.assertIn('unknown field "spec.storage.sise"', k.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_y_client_tls(self):
        """Client TLS: members says the live view is unavailable and why, and
        shows the published members; alarm list refuses; health is still live,
        through etcd's plain metrics port."""
        self.bed.kubectl("apply", "-f", "-", input=cluster(
            "sec", 1, security={"tls": {"peer": {"mode": "Auto"}, "client": {"mode": "Auto"}}}))

        def settled():
            st = self.bed.get("etcdclusters", "sec").get("status") or {}
            return st.get("phase") == "Running" and st.get("readyReplicas") == 1
        self.bed.wait_for(settled, 180, "sec running", interval=0.5)
        r = self.etcd("members", "sec")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("live view of \"sec\" is unavailable: client TLS is on", r.stderr)
        self.assertIn("sec-0", r.stdout)
        self.assertEqual(json.loads(self.etcd("members", "sec", "-o", "json").stdout)["source"], "status")
        r = self.etcd("alarm", "list", "sec")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("client TLS is on", r.stderr)
        r = self.etcd("health", "sec")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 of 1 members healthy", r.stdout)
        self.assertIn("metrics port", r.stdout)

    def test_zz_suspended_is_unhealthy(self):
        """Last: every member stopped; health says why and exits 1, members too."""
        r = self.etcd("suspend", "demo", "--yes", "--wait", "--timeout", "3m", timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.etcd("health", "demo")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("3 of 3", r.stdout)
        r = self.etcd("members", "demo")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no member", r.stderr)


if __name__ == "__main__":
    unittest.main()
