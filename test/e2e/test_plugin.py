"""`kubectl etcd` through the kubectl on PATH, against the test bed, without a
controller: every command and flag, the kubeconfig and auth forms, the
prompt on a real (pseudo-)terminal, and the promise that nothing is written
without consent (resourceVersion unchanged).

Statuses a controller would publish are written with the status
subresource where a test needs a settled cluster. test_plugin_scale.py runs
the plugin with the real webhook and controller.
"""
import base64
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from plugintest import (ANN, FIXTURES, ROOT, Bed, Plugin, build_dir, cluster,  # noqa: E402
                        kubeconfig, publish_settled)
from kbed import yamlish  # noqa: E402  (test/, on the path through plugintest)


def built_version():
    """What `kubectl-etcd --version` says: the tree's one version (scripts/version.sh)."""
    return subprocess.run([os.path.join(build_dir(), "kubectl-etcd"), "--version"], capture_output=True,
                          text=True, check=True).stdout.split()[1]


class PluginOnBed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plugin = Plugin()
        cls.bed = Bed(manifests=True)
        cls.kc = cls.bed.host_fault_kubeconfig()   # the plugin meets injected API errors through it
        cls.tmp = tempfile.mkdtemp(prefix="plugin-e2e-")
        cls.bed.kubectl("create", "namespace", "team-a")
        cls.bed.kubectl("apply", "-f", "-", input=cluster("demo", 1))
        cls.bed.kubectl("apply", "-f", "-", input=cluster("orders", 1, ns="team-a"))
        publish_settled(cls.bed, "demo", 1)
        publish_settled(cls.bed, "orders", 1, ns="team-a")

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()
        cls.plugin.cleanup()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def etcd(self, *args, **kw):
        kw.setdefault("kubeconfig", self.kc)
        return self.plugin.run(*args, **kw)

    def ok(self, *args, **kw):
        r = self.etcd(*args, **kw)
        self.assertEqual(r.returncode, 0, "kubectl etcd %s: %s %s" % (" ".join(map(str, args)), r.stdout, r.stderr))
        return r

    def rv(self, name, ns="default"):
        return self.bed.get("etcdclusters", name, ns=ns)["metadata"]["resourceVersion"]

    def fresh(self, name, n=1, ns="default"):
        """A new settled cluster of n members."""
        self.bed.kubectl("apply", "-f", "-", input=cluster(name, n, ns=ns))
        publish_settled(self.bed, name, n, ns=ns)

    # ---- usage, help, exit codes -------------------------------------
    def test_help_and_usage_errors(self):
        r = self.ok("--help", kubeconfig=None)
        for cmd in ("status", "scale", "validate", "version", "completion"):
            self.assertIn(cmd, r.stdout)
        self.assertIn("--request-timeout", r.stdout)
        for cmd in ("status", "scale", "validate", "version", "completion"):
            r = self.ok(cmd, "--help", kubeconfig=None)
            self.assertIn("Usage:", r.stdout)
            self.assertEqual(r.stdout, self.ok("help", cmd, kubeconfig=None).stdout)
            self.assertEqual(r.stdout, self.ok(cmd, "-h", kubeconfig=None).stdout)
        r = self.etcd("stauts")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown command "stauts"', r.stderr)
        self.assertIn("status", r.stderr)  # did you mean
        r = self.etcd("status", "--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown flag: --bogus", r.stderr)
        self.assertIn("kubectl etcd status --help", r.stderr)
        r = self.etcd("scale", "demo")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--replicas N is required", r.stderr)
        r = self.etcd("status", "demo", "-n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("flag needs an argument: -n", r.stderr)

    def test_as_is_refused_clearly(self):
        for flag in (["--as", "bob"], ["--as=bob"], ["--as-group", "ops"]):
            r = self.etcd("status", "demo", *flag)
            self.assertEqual(r.returncode, 2, flag)
            self.assertIn("is not supported by kubectl etcd", r.stderr)
            self.assertIn("impersonation", r.stderr)

    def test_kubectl_rejects_global_flags_before_the_plugin(self):
        r = subprocess.run([self.plugin.kubectl_bin, "-n", "team-a", "etcd", "status"],
                           capture_output=True, text=True, env=self.plugin.env(self.kc), timeout=60)
        self.assertNotEqual(r.returncode, 0)
        # ...and after the command they work
        r = self.ok("status", "-n", "team-a")
        self.assertIn("orders", r.stdout)

    def test_version(self):
        r = self.ok("version", kubeconfig="/nonexistent")
        # offline: the plugin's line, the commit it was built from, exit 0
        self.assertRegex(r.stdout.strip(), r"^kubectl-etcd version %s \(commit [0-9a-f]+(-dirty)?\)$"
                         % built_version().replace(".", r"\."))
        self.assertIn("not connected", r.stderr)

    # ---- status --------------------------------------------------------
    def test_status_table_and_all_namespaces(self):
        r = self.ok("status")
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "REPLICAS", "READY", "LEARNERS", "PHASE", "VERSION",
                                            "TARGET", "AGE"])
        row = [l for l in lines if l.startswith("demo ")][0].split()
        self.assertEqual(row[:7], ["demo", "1", "1/1", "0", "Running", "3.6.16", "1"])
        self.assertNotIn("orders", r.stdout)
        for flag in ("-A", "--all-namespaces"):
            r = self.ok("status", flag)
            self.assertEqual(r.stdout.splitlines()[0].split()[:2], ["NAMESPACE", "NAME"])
            self.assertIn("team-a", r.stdout)
            self.assertIn("orders", r.stdout)
        for form in (["-n", "team-a"], ["-nteam-a"], ["-n=team-a"], ["--namespace", "team-a"],
                     ["--namespace=team-a"]):
            r = self.ok("status", *form)
            self.assertIn("orders", r.stdout, form)
        r = self.ok("status", "-n", "kube-public")
        self.assertIn('No EtcdClusters found in namespace "kube-public"', r.stdout)
        self.assertNotIn("\033[", r.stdout)  # not a terminal: no colour

    def test_status_one_cluster(self):
        r = self.ok("status", "demo")
        for want in ("Name:         demo", "Phase:        Running", "Cluster ID:   777",
                     "Leader:       demo-0", "NAME     ROLE     HEALTH    DB SIZE   RAFT INDEX",
                     "demo-0   leader   healthy   20 KiB    42", "Step in flight: none", "Events:"):
            self.assertIn(want, r.stdout)

    def test_status_not_found(self):
        r = self.etcd("status", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), 'Error: etcdcluster "nope" not found in namespace "default"')
        r = self.etcd("status", "nope", "-n", "team-a")
        self.assertIn('not found in namespace "team-a"', r.stderr)
        r = self.etcd("scale", "nope", "--replicas", "3", "--yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn('etcdcluster "nope" not found in namespace "default"', r.stderr)

    def test_output_json_and_yaml_parse_back(self):
        one = json.loads(self.ok("status", "demo", "-o", "json").stdout)
        self.assertEqual(one["kind"], "EtcdCluster")
        self.assertEqual(one["metadata"]["name"], "demo")
        self.assertEqual(one["status"]["members"][0]["name"], "demo-0")
        y = yamlish.load_all(self.ok("status", "demo", "-o", "yaml").stdout)
        self.assertEqual(len(y), 1)
        self.assertEqual(y[0]["spec"], one["spec"])
        self.assertEqual(y[0]["status"], one["status"])
        self.assertEqual(y[0]["metadata"]["resourceVersion"], one["metadata"]["resourceVersion"])
        lst = json.loads(self.ok("status", "-A", "-ojson").stdout)
        names = sorted(i["metadata"]["name"] for i in lst["items"])
        self.assertIn("demo", names)
        self.assertIn("orders", names)
        ly = yamlish.load_all(self.ok("status", "-o=yaml").stdout)[0]
        self.assertIn("demo", [i["metadata"]["name"] for i in ly["items"]])
        # kubectl itself reads our YAML back as the same object
        r = self.bed.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-",
                             input=self.ok("status", "demo", "-o", "yaml").stdout)
        self.assertEqual(json.loads(r.stdout)["spec"], one["spec"])

    def test_status_watch_redraws_and_ends_on_ctrl_c(self):
        self.fresh("watched")
        p = self.plugin.start("status", "watched", "--watch", "-o", "json", kubeconfig=self.kc)
        try:
            time.sleep(1.5)
            self.bed.patch("etcdclusters", "watched", {"metadata": {"labels": {"seen": "yes"}}})
            time.sleep(1.5)
        finally:
            p.send_signal(2)
            out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        docs = [json.loads("{" + d) for d in ("\n" + out).split("\n{")[1:]]
        self.assertGreaterEqual(len(docs), 2, out)
        self.assertNotIn("labels", docs[0]["metadata"])
        self.assertEqual(docs[-1]["metadata"]["labels"], {"seen": "yes"})

    # ---- kubeconfig and auth ------------------------------------------
    def _cluster_entry(self, name="kbed", server=None, ca=True):
        c = {"server": server or "https://" + self.bed.address}
        if ca:
            with open(self.bed.ca, "rb") as f:
                c["certificate-authority-data"] = base64.b64encode(f.read()).decode()
        return {"name": name, "cluster": c}

    def test_two_file_kubeconfig_and_context(self):
        a = kubeconfig(os.path.join(self.tmp, "a.json"), clusters=[self._cluster_entry()],
                       users=[{"name": "admin", "user": {"token": self.bed.token}}])
        b = kubeconfig(os.path.join(self.tmp, "b.json"),
                       clusters=[self._cluster_entry("nowhere", server="https://127.0.0.1:1")],
                       contexts=[{"name": "broken", "context": {"cluster": "nowhere", "user": "admin"}},
                                 {"name": "team", "context": {"cluster": "kbed", "user": "admin",
                                                              "namespace": "team-a"}}],
                       current="team")
        r = self.ok("status", kubeconfig=a + ":" + b)
        self.assertIn("orders", r.stdout)  # the context's namespace
        r = self.ok("status", "--context", "team", "-n", "default", kubeconfig=a + ":" + b)
        self.assertIn("demo", r.stdout)
        r = self.etcd("status", "--context=broken", "--request-timeout=3s", kubeconfig=a + ":" + b)
        self.assertEqual(r.returncode, 1)
        r = self.etcd("status", "--context", "missing", kubeconfig=a + ":" + b)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing", r.stderr)
        # --kubeconfig means that one file only
        r = self.etcd("status", "--kubeconfig", b, kubeconfig=a)
        self.assertEqual(r.returncode, 1)

    def test_token_flag_and_token_file(self):
        bad = kubeconfig(os.path.join(self.tmp, "bad-token.json"), clusters=[self._cluster_entry()],
                         users=[{"name": "u", "user": {"token": "not-the-token"}}],
                         contexts=[{"name": "c", "context": {"cluster": "kbed", "user": "u"}}],
                         current="c")
        r = self.etcd("status", kubeconfig=bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Unauthorized", r.stderr)
        self.assertNotIn("not-the-token", r.stderr)
        r = self.ok("status", "--token", self.bed.token, kubeconfig=bad)
        self.assertIn("demo", r.stdout)
        tf = os.path.join(self.tmp, "token")
        with open(tf, "w") as f:
            f.write(self.bed.token + "\n")
        tkc = kubeconfig(os.path.join(self.tmp, "token-file.json"), clusters=[self._cluster_entry()],
                         users=[{"name": "u", "user": {"tokenFile": tf}}],
                         contexts=[{"name": "c", "context": {"cluster": "kbed", "user": "u"}}],
                         current="c")
        self.assertIn("demo", self.ok("status", kubeconfig=tkc).stdout)

    def test_server_and_insecure_flags(self):
        noca = kubeconfig(os.path.join(self.tmp, "noca.json"), clusters=[self._cluster_entry(ca=False)],
                          users=[{"name": "u", "user": {"token": self.bed.token}}],
                          contexts=[{"name": "c", "context": {"cluster": "kbed", "user": "u"}}],
                          current="c")
        r = self.etcd("status", "--request-timeout", "5s", kubeconfig=noca)
        self.assertEqual(r.returncode, 1)  # the bed's CA is not trusted by the system
        self.assertIn("demo", self.ok("status", "--insecure-skip-tls-verify", kubeconfig=noca).stdout)
        other = kubeconfig(os.path.join(self.tmp, "elsewhere.json"),
                           clusters=[self._cluster_entry(server="https://127.0.0.1:1")],
                           users=[{"name": "u", "user": {"token": self.bed.token}}],
                           contexts=[{"name": "c", "context": {"cluster": "kbed", "user": "u"}}],
                           current="c")
        r = self.ok("status", "--server", "https://" + self.bed.address, kubeconfig=other)
        self.assertIn("demo", r.stdout)

    def test_client_certificate(self):
        self.assertIn("demo", self.ok("status", kubeconfig=self.bed.kubeconfig_cert).stdout)

    def test_exec_credential_plugin(self):
        for api in ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"):
            script = os.path.join(self.tmp, "cred-plugin-" + api.rsplit("/", 1)[1])
            with open(script, "w") as f:
                f.write("#!/bin/sh\n"
                        "[ -n \"$KUBERNETES_EXEC_INFO\" ] || exit 3\n"
                        "printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
                        "\"status\":{\"token\":\"%s\"}}'\n" % (api, self.bed.token))
            os.chmod(script, stat.S_IRWXU)
            user = {"exec": {"apiVersion": api, "command": script, "interactiveMode": "Never"}}
            kc = kubeconfig(os.path.join(self.tmp, "exec.json"), clusters=[self._cluster_entry()],
                            users=[{"name": "u", "user": user}],
                            contexts=[{"name": "c", "context": {"cluster": "kbed", "user": "u"}}],
                            current="c")
            self.assertIn("demo", self.ok("status", kubeconfig=kc).stdout, api)

    def test_verbosity_and_request_timeout(self):
        r = self.ok("status", "-v=6")
        self.assertIn("level=", r.stderr)
        self.assertNotIn(self.bed.token, r.stderr)
        self.assertEqual(self.ok("status", "--v", "0").stderr, "")
        # a list that never answers: --request-timeout bounds it
        self.bed.fault("api", verb="list", resource="etcdclusters", code="timeout", seconds=20, count=1)
        t0 = time.monotonic()
        r = self.etcd("status", "--request-timeout", "2s")
        took = time.monotonic() - t0
        self.bed.clear_faults()
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertLess(took, 15)

    # ---- scale without a controller ------------------------------------
    def test_no_write_off_a_terminal_without_yes(self):
        self.fresh("careful")
        rv = self.rv("careful")
        r = self.etcd("scale", "careful", "--replicas", "3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("stdin is not a terminal", r.stderr)
        self.assertIn("--yes", r.stderr)
        self.assertIn("step 1/2: 1 \u2192 2   quorum 2, tolerates 0 failures", r.stdout)
        self.assertEqual(self.rv("careful"), rv)
        r = self.etcd("scale", "careful", "--replicas", "3", input="y\n")  # a pipe is not a terminal
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.rv("careful"), rv)

    def test_dry_run_writes_nothing(self):
        self.fresh("dry")
        rv = self.rv("dry")
        r = self.ok("scale", "dry", "--replicas", "4", "--dry-run")
        self.assertIn("Plan for default/dry: 1 \u2192 4, one member at a time (3 steps)", r.stdout)
        self.assertIn("Warning: 4 is an even size", r.stdout)
        self.assertIn("Dry run: nothing was written.", r.stdout)
        r = self.ok("scale", "dry", "--replicas", "3", "--dry-run=server", "--yes")
        self.assertIn("Dry run (server)", r.stdout)
        self.assertEqual(self.rv("dry"), rv)
        r = self.ok("scale", "dry", "--replicas", "1")
        self.assertIn("Nothing to do: default/dry already has 1 member.", r.stdout)
        self.assertEqual(self.rv("dry"), rv)
        r = self.etcd("scale", "dry", "--replicas", "12", "--yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn("1 to 9 members", r.stderr)
        self.assertEqual(self.rv("dry"), rv)

    def test_prompt_on_a_terminal(self):
        self.fresh("asked")
        rv = self.rv("asked")
        code, out = self.plugin.on_terminal("scale", "asked", "--replicas", "3", kubeconfig=self.kc,
                                            answer="n")
        self.assertEqual(code, 1, out)
        self.assertIn("Proceed? [y/N]", out)
        self.assertIn("Not confirmed: nothing was written.", out)
        self.assertEqual(self.rv("asked"), rv)
        # yes: the first step is written as the webhook stages it, then the
        # plugin waits for a controller that is not there, within its limit
        code, out = self.plugin.on_terminal("scale", "asked", "--replicas", "3", "--step-timeout", "2s",
                                            kubeconfig=self.kc, answer="y")
        self.assertEqual(code, 1, out)
        self.assertIn("step 1/2: 1 \u2192 2", out)
        self.assertIn("did not finish within 2.0s (--step-timeout)", out)
        self.assertIn("Is etcd-controller running", out)
        self.assertIn("kubectl etcd status asked --watch", out)
        ec = self.bed.get("etcdclusters", "asked")
        self.assertEqual(ec["spec"]["replicas"], 2)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "3")

    def test_colour_only_on_a_terminal(self):
        code, out = self.plugin.on_terminal("status", "demo", kubeconfig=self.kc)
        self.assertEqual(code, 0, out)
        self.assertIn("\033[32mRunning\033[0m", out)
        code, out = self.plugin.on_terminal("status", "demo", "--no-color", kubeconfig=self.kc)
        self.assertNotIn("\033[", out)

    def test_overall_timeout_and_single_step(self):
        self.fresh("slow")
        t0 = time.monotonic()
        r = self.etcd("scale", "slow", "--replicas", "2", "--yes", "--timeout", "2s")
        self.assertEqual(r.returncode, 1)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertIn("did not finish within 2.0s (--timeout)", r.stderr)
        self.assertIn("Warning: 2 is an even size", r.stdout)
        ec = self.bed.get("etcdclusters", "slow")
        self.assertEqual(ec["spec"]["replicas"], 2)
        self.assertNotIn(ANN, ec["metadata"].get("annotations") or {})  # one step: no target

    def test_in_flight_needs_wait_or_take_over(self):
        self.fresh("busy")
        self.bed.patch("etcdclusters", "busy", {"metadata": {"annotations": {ANN: "3"}}, "spec": {"replicas": 2}})
        rv = self.rv("busy")
        r = self.etcd("scale", "busy", "--replicas", "5", "--yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not settled", r.stdout)
        self.assertIn("heading for:    3 members", r.stdout)
        self.assertIn("kubectl etcd status busy --watch", r.stdout)
        self.assertIn("--take-over", r.stdout)
        self.assertEqual(self.rv("busy"), rv)
        # heading for the same size: follow it, write nothing
        r = self.etcd("scale", "busy", "--replicas", "3", "--timeout", "2s")
        self.assertIn("already heading for 3", r.stdout)
        self.assertEqual(self.rv("busy"), rv)
        # take over: the step in flight stays, the target changes
        r = self.etcd("scale", "busy", "--replicas", "5", "--yes", "--take-over", "--step-timeout", "2s")
        self.assertEqual(r.returncode, 1)
        ec = self.bed.get("etcdclusters", "busy")
        self.assertEqual(ec["spec"]["replicas"], 2)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "5")

    def test_resume_after_ctrl_c_without_take_over(self):
        # what Ctrl-C leaves: a step 1 -> 2 in flight, no target annotation
        self.fresh("resumed")
        self.bed.patch("etcdclusters", "resumed", {"spec": {"replicas": 2}})
        r = self.etcd("scale", "resumed", "--replicas", "3", "--yes", "--step-timeout", "1s")
        self.assertEqual(r.returncode, 1)  # no controller: times out, but the target is set
        self.assertIn("The step in flight finishes first; then the operator heads for 3.", r.stdout)
        ec = self.bed.get("etcdclusters", "resumed")
        self.assertEqual(ec["spec"]["replicas"], 2)
        self.assertEqual(ec["metadata"]["annotations"][ANN], "3")
        # a cluster that is merely unhealthy, nothing in flight: not without --take-over
        self.fresh("sick", 3)
        self.bed.patch("etcdclusters", "sick", {"status": {"phase": "Degraded", "readyReplicas": 1}},
                       sub="status")
        rv = self.rv("sick")
        r = self.etcd("scale", "sick", "--replicas", "5", "--yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn("its phase is Degraded", r.stdout)
        self.assertIn("--take-over", r.stdout)
        self.assertEqual(self.rv("sick"), rv)

    def test_conflict_is_retried(self):
        self.fresh("raced")
        self.bed.fault("api", verb="patch", resource="etcdclusters", code=409, count=1)
        r = self.etcd("scale", "raced", "--replicas", "2", "--yes", "--step-timeout", "1s")
        self.bed.clear_faults()
        self.assertEqual(r.returncode, 1)  # timed out waiting, but the write went through
        self.assertIn("did not finish", r.stderr)
        self.assertEqual(self.bed.get("etcdclusters", "raced")["spec"]["replicas"], 2)

    def test_server_errors_shown_as_sent(self):
        self.fresh("refused")
        self.bed.fault("api", verb="patch", resource="etcdclusters", code=500, count=1)
        r = self.etcd("scale", "refused", "--replicas", "2", "--yes")
        self.bed.clear_faults()
        self.assertEqual(r.returncode, 1)
        self.assertIn("Error from server: ", r.stderr)
        self.assertIn("injected fault", r.stderr)
        self.assertEqual(self.bed.get("etcdclusters", "refused")["spec"]["replicas"], 1)

    def test_ctrl_c_while_waiting_removes_the_target(self):
        self.fresh("stopped")
        p = self.plugin.start("scale", "stopped", "--replicas", "3", "--yes", kubeconfig=self.kc)
        try:
            self.bed.wait_for(lambda: (self.bed.get("etcdclusters", "stopped")["metadata"].get("annotations")
                                       or {}).get(ANN), 30, "the target annotation")
            time.sleep(0.5)
        finally:
            p.send_signal(2)
            out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, out + err)
        self.assertIn("Interrupted", out)
        self.assertIn("stays at 2 members", out)
        self.assertIn("To resume: kubectl etcd scale stopped --replicas 3", out)
        ec = self.bed.get("etcdclusters", "stopped")
        self.assertNotIn(ANN, ec["metadata"].get("annotations") or {})
        self.assertEqual(ec["spec"]["replicas"], 2)

    # ---- validate -------------------------------------------------------
    def test_validate_offline(self):
        env = {"HOME": "/nonexistent"}
        r = self.plugin.run("validate", "-f", os.path.join(FIXTURES, "good.yaml"),
                            kubeconfig="/nonexistent/kubeconfig", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("good.yaml:3: skipped ConfigMap default/settings (not an EtcdCluster)", r.stdout)
        self.assertIn("good.yaml:12: default/orders: OK", r.stdout)
        self.assertIn("good.yaml:12: default/orders: warning: spec.replicas: staged 1 \u2192 2 \u2192 3",
                      r.stdout)
        self.assertIn("good.yaml:20: team-a/sessions: OK", r.stdout)
        r = self.plugin.run("validate", "-f", os.path.join(FIXTURES, "bad.yaml"),
                            kubeconfig="/nonexistent/kubeconfig", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.count(": refused: "), 4, r.stdout)
        self.assertIn("bad.yaml:16: default/typo: refused: spec.replicas: expected an integer", r.stdout)
        r = self.plugin.run("validate", "-f", os.path.join(FIXTURES, "new.yaml"), "--old",
                            os.path.join(FIXTURES, "old.yaml"), kubeconfig="/nonexistent", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("default/orders: OK", r.stdout)
        self.assertIn("team-a/sessions: refused: spec.version: cannot go from 3.5.17 down to 3.4.30",
                      r.stdout)
        self.assertIn("default/audit: refused: spec.clusterDomain", r.stdout)
        self.assertIn("default/brand-new: warning: spec.replicas: 4 members tolerate 1 failure", r.stdout)
        # --old as `kubectl get etcdclusters -o yaml` writes it: one kind List
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as old_list:
            old_list.write("apiVersion: v1\nkind: List\nitems:\n"
                           "- apiVersion: etcd.k8s-operator.io/v1alpha1\n  kind: EtcdCluster\n"
                           "  metadata: {name: orders}\n  spec: {replicas: 3, version: \"3.5.17\"}\n")
            old_list.flush()
            new_doc = ("apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\n"
                       "metadata: {name: orders}\nspec: {replicas: 1, version: \"3.5.17\"}\n")
            r = self.plugin.run("validate", "-f", "-", "--old", old_list.name, input=new_doc,
                                kubeconfig="/nonexistent", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("staged 3 \u2192 2 \u2192 1", r.stdout)  # an UPDATE of the listed object
        with open(os.path.join(FIXTURES, "cluster.json")) as f:
            r = self.plugin.run("validate", "-f", "-", "-f", os.path.join(FIXTURES, "other-operators.yaml"),
                                input=f.read(), kubeconfig="/nonexistent", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("<stdin>:1: ci/from-json: OK", r.stdout)
        self.assertIn("skipped EtcdCluster default/legacy (another group's EtcdCluster", r.stdout)
        self.assertIn("other-operators.yaml:13: default/listed: OK", r.stdout)
        r = self.plugin.run("validate", "-f", "/nonexistent.yaml", kubeconfig="/nonexistent", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent.yaml", r.stderr)

    # ---- completion, krew ---------------------------------------------
    def complete(self, *words):
        """What the shell gets for `kubectl etcd WORDS…`: through kubectl's own
        plugin completion (1.26+), else by running kubectl_complete-etcd as
        kubectl would."""
        if self.kubectl_minor() >= 26:
            cmd = [self.plugin.kubectl_bin, "__complete", "etcd"] + list(words)
        else:
            cmd = [os.path.join(self.plugin.bin, "kubectl_complete-etcd")] + list(words)
        return subprocess.run(cmd, capture_output=True, text=True, env=self.plugin.env(self.kc), timeout=60)

    def kubectl_minor(self):
        r = subprocess.run([self.plugin.kubectl_bin, "version", "--client", "-o", "json"],
                           capture_output=True, text=True, timeout=60)
        try:
            return int("".join(ch for ch in json.loads(r.stdout)["clientVersion"]["minor"] if ch.isdigit()))
        except (ValueError, KeyError):
            return 0

    def test_completion_through_kubectl(self):
        r = self.complete("")
        self.assertIn("status\t", r.stdout)
        self.assertIn("scale\t", r.stdout)
        self.assertEqual(r.stdout.strip().splitlines()[-1], ":4")
        r = self.complete("scale", "d")
        names = [l.split("\t")[0] for l in r.stdout.splitlines()]
        self.assertIn("demo", names)
        self.assertNotIn("orders", names)  # another namespace
        r = self.complete("status", "-n", "team-a", "")
        self.assertIn("orders", [l.split("\t")[0] for l in r.stdout.splitlines()])
        r = self.complete("validate", "-f", "")
        self.assertEqual(r.stdout.strip().splitlines()[-1], ":8")  # filter by extension
        self.assertIn("yaml", r.stdout.splitlines())

    def test_completion_scripts(self):
        r = self.ok("completion", "bash", kubeconfig=None)
        chk = subprocess.run(["bash", "-n"], input=r.stdout, capture_output=True, text=True)
        self.assertEqual(chk.returncode, 0, chk.stderr)
        # bash completes the binary called directly
        script = r.stdout + "\nCOMP_WORDS=(kubectl-etcd sc); COMP_CWORD=1; _kubectl_etcd; echo \"${COMPREPLY[*]}\"\n"
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                             env=self.plugin.env(self.kc))
        self.assertEqual(out.stdout.strip(), "scale")
        self.assertIn("compdef _kubectl-etcd kubectl-etcd", self.ok("completion", "zsh", kubeconfig=None).stdout)
        r = self.etcd("completion", "fish")
        self.assertEqual(r.returncode, 2)

    def test_krew_release_manifest(self):
        dist = os.path.join(self.tmp, "krew")
        r = subprocess.run([os.path.join(ROOT, "plugin", "krew", "make-release.sh"), build_dir()],
                           capture_output=True, text=True, env=dict(os.environ, DIST=dist), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(dist, "etcd.yaml")) as f:
            m = yamlish.load_all(f.read())[0]
        import hashlib
        with open(os.path.join(dist, "kubectl-etcd_linux_amd64.tar.gz"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        p = m["spec"]["platforms"][0]
        self.assertEqual(m["kind"], "Plugin")
        self.assertEqual(m["metadata"]["name"], "etcd")
        v = "v" + built_version()  # the version the binary reports (git describe)
        self.assertEqual(m["spec"]["version"], v)
        self.assertEqual(p["sha256"], digest)
        self.assertTrue(p["uri"].endswith("/%s/kubectl-etcd_linux_amd64.tar.gz" % v))
        self.assertEqual(p["bin"], "kubectl-etcd")
        self.assertNotIn("@", json.dumps(m))


if __name__ == "__main__":
    unittest.main()
