"""The bed's API server against the real kubectl (the one on PATH, and an old
one when the machine has it): CRUD, watch, 409, generation, subresources,
scale, the three patch types, apply, cascading delete, selectors, 410,
namespaces, dry run, logs, auth and API faults.

One bed serves the whole class (start-up is the slow part); each test uses
its own object names.
"""
import json
import os
import re
import subprocess
import time
import unittest

from harness import Bed, KubectlError

# Older kubectl binaries to try besides the one on PATH (colon-separated). A fresh Debian machine
# has only Debian's kubectl 1.20 on PATH, so the whole suite runs with it there; here, point this
# at a copy of it (KUBESIM_OLD_KUBECTL=/path/to/kubectl-1.20:...) to exercise it as well.
OLD_KUBECTL = [p for p in (os.environ.get("KUBESIM_OLD_KUBECTL") or
                           "/usr/lib/google-cloud-sdk/bin/kubectl.1.27").split(":") if p]
EC_KEY = "etcdclusters.etcd.k8s-operator.io"


def ec(name, replicas=1, **spec):
    spec = dict(spec, replicas=replicas)
    return {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def cm(name, ns="default", labels=None, owner=None, data=None):
    md = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {"k": "v"}}


class APITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = Bed(manifests=True)
        print("\nkubesim start-up (harness Bed(): serve interpreter + bed init, wall clock): %.2fs" % cls.bed.startup_seconds)

    @classmethod
    def tearDownClass(cls):
        cls.bed.stop()

    def k(self, *args, **kw):
        return self.bed.kubectl(*args, **kw)

    # ---- discovery, CRUD, output ----------------------------------------
    def test_discovery_short_names_and_crd_kind(self):
        out = self.k("api-resources").stdout
        for line in ("etcdclusters  ", "ec,etcdc", "sts", "pvc", "pdb"):
            self.assertIn(line.strip(), out)
        self.assertIn("kube-system", self.k("get", "ns").stdout)
        self.assertIn("NAME", self.k("get", "ec").stdout + "NAME")  # "No resources found" is fine too

    def test_crud_with_generator_commands_and_yaml_json_output(self):
        self.k("create", "configmap", "crud1", "--from-literal=a=1")   # protobuf body from kubectl 1.32+
        got = json.loads(self.k("get", "cm", "crud1", "-o", "json").stdout)
        self.assertEqual(got["data"], {"a": "1"})
        self.assertIn("resourceVersion: ", self.k("get", "cm", "crud1", "-o", "yaml").stdout)
        r = self.k("create", "configmap", "crud1", "--from-literal=a=1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('configmaps "crud1" already exists', r.stderr)
        self.k("delete", "cm", "crud1")
        r = self.k("get", "cm", "crud1", check=False)
        self.assertIn('Error from server (NotFound): configmaps "crud1" not found', r.stderr)
        st, body = self.bed.api("GET", "/api/v1/namespaces/default/configmaps/crud1")
        self.assertEqual((st, body["reason"], body["details"]), (404, "NotFound", {"name": "crud1", "kind": "configmaps"}))

    def test_watch_sees_change(self):
        self.k("create", "configmap", "watch1", "--from-literal=a=1")
        p = subprocess.Popen([self.bed.kubectl_bin, "--kubeconfig", self.bed.kubeconfig, "get", "cm", "watch1", "-w",
                              "-o", "jsonpath={.data.a}{\"\\n\"}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "1")
            self.k("patch", "cm", "watch1", "-p", '{"data":{"a":"2"}}')
            self.assertEqual(p.stdout.readline().strip(), "2")
        finally:
            p.kill()
            p.wait()

    def test_conflict_on_stale_resource_version(self):
        st, obj = self.bed.create(ec("conflict1"))
        self.assertEqual(st, 201, obj)
        obj["metadata"]["labels"] = {"x": "1"}
        st, fresh = self.bed.api("PUT", self.bed.path("etcdclusters", "conflict1"), obj)
        self.assertEqual(st, 200, fresh)
        obj["metadata"]["labels"] = {"x": "2"}          # still the old resourceVersion
        st, body = self.bed.api("PUT", self.bed.path("etcdclusters", "conflict1"), obj)
        self.assertEqual(st, 409)
        self.assertEqual(body["reason"], "Conflict")
        self.assertEqual(body["message"], 'Operation cannot be fulfilled on etcdclusters.etcd.k8s-operator.io '
                         '"conflict1": the object has been modified; please apply your changes to the latest '
                         'version and try again')
        self.assertEqual(body["details"], {"name": "conflict1", "group": "etcd.k8s-operator.io", "kind": "etcdclusters"})
        r = self.k("replace", "-f", "-", input=json.dumps(obj), check=False)
        self.assertIn("the object has been modified", r.stderr)
        # a PUT without resourceVersion is refused for custom resources (kube-apiserver: 422)
        del obj["metadata"]["resourceVersion"]
        st, body = self.bed.api("PUT", self.bed.path("etcdclusters", "conflict1"), obj)
        self.assertEqual((st, body["reason"]), (422, "Invalid"))

    def test_generation_and_status_subresource(self):
        st, o = self.bed.create(ec("gen1", replicas=1))
        self.assertEqual(o["metadata"]["generation"], 1)
        self.k("label", "ec", "gen1", "a=b")
        self.k("annotate", "ec", "gen1", "c=d")
        self.assertEqual(self.bed.get("ec", "gen1")["metadata"]["generation"], 1)
        st, o = self.bed.patch("ec", "gen1", {"status": {"phase": "Running", "replicas": 1}}, sub="status")
        self.assertEqual(st, 200, o)
        self.assertEqual((o["metadata"]["generation"], o["status"]["phase"]), (1, "Running"))
        # status through the main resource is ignored; spec through status is ignored
        st, o = self.bed.patch("ec", "gen1", {"spec": {"replicas": 2}, "status": {"phase": "Failed"}})
        self.assertEqual((o["metadata"]["generation"], o["spec"]["replicas"], o["status"]["phase"]), (2, 2, "Running"))
        st, o = self.bed.patch("ec", "gen1", {"spec": {"replicas": 3}, "status": {"phase": "Scaling"}}, sub="status")
        self.assertEqual((o["metadata"]["generation"], o["spec"]["replicas"], o["status"]["phase"]), (2, 2, "Scaling"))

    def test_schema_defaults_bounds_and_cel(self):
        st, o = self.bed.create({"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
                                 "metadata": {"name": "def1"}})
        self.assertEqual(st, 201, o)
        self.assertEqual(o["spec"], {"replicas": 3, "version": "3.5.17", "storage": {"size": "1Gi"},
                                     "clusterDomain": "cluster.local"})
        r = self.k("create", "-f", "-", input=json.dumps(ec("def2", replicas=0)), check=False)
        self.assertIn('The EtcdCluster "def2" is invalid: spec.replicas: Invalid value: 0: spec.replicas in body '
                      'should be greater than or equal to 1', r.stderr)
        r = self.k("patch", "ec", "def1", "--type", "merge", "-p", '{"spec":{"clusterDomain":"other.local"}}', check=False)
        self.assertIn('spec.clusterDomain: Invalid value: "string": clusterDomain is immutable', r.stderr)
        st, _ = self.bed.patch("ec", "def1", {"spec": {"storage": {"storageClassName": "fast"}}})
        self.assertEqual(st, 200)
        st, body = self.bed.patch("ec", "def1", {"spec": {"storage": {"storageClassName": "slow"}}})
        self.assertEqual(st, 422)
        self.assertIn("storageClassName is immutable", body["message"])
        r = self.k("create", "-f", "-", input=json.dumps(ec("def3", bogus=1)), check=False)
        # kubectl 1.25+ asks the server to be strict; older kubectl (Debian's 1.20) validates
        # against the CRD schema the server publishes in /openapi/v2, as kube-apiserver does
        self.assertTrue('strict decoding error: unknown field "spec.bogus"' in r.stderr or
                        'unknown field "bogus" in io.k8s-operator.etcd.v1alpha1.EtcdCluster.spec' in r.stderr,
                        r.stderr)
        self.assertNotEqual(r.returncode, 0)
        self.assertIsNone(self.bed.get("ec", "def3"))

    def test_kubectl_scale_on_crd_and_statefulset(self):
        self.bed.create(ec("scale1", replicas=1))
        self.bed.patch("ec", "scale1", {"status": {"replicas": 1, "selector": "app=scale1"}}, sub="status")
        self.assertIn("scaled", self.k("scale", "ec", "scale1", "--replicas=2").stdout)
        scale = self.bed.get("ec", "scale1", sub="scale")
        self.assertEqual((scale["kind"], scale["apiVersion"]), ("Scale", "autoscaling/v1"))
        self.assertEqual((scale["spec"]["replicas"], scale["status"]), (2, {"replicas": 1, "selector": "app=scale1"}))
        r = self.k("scale", "ec", "scale1", "--replicas=10", check=False)
        self.assertIn("spec.replicas in body should be less than or equal to 9", r.stderr)
        self.assertEqual(self.bed.get("ec", "scale1")["spec"]["replicas"], 2)

    def test_patch_types_merge_json_strategic(self):
        pod = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "patch1"},
               "spec": {"replicas": 0, "serviceName": "patch1", "selector": {"matchLabels": {"app": "patch1"}},
                        "template": {"metadata": {"labels": {"app": "patch1"}},
                                     "spec": {"containers": [{"name": "a", "image": "busybox", "env": [{"name": "X", "value": "1"}]},
                                                             {"name": "b", "image": "busybox"}]}}}}
        self.k("create", "-f", "-", input=json.dumps(pod))
        self.k("patch", "sts", "patch1", "--type", "strategic", "-p",
               '{"spec":{"template":{"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"2"}]}]}}}}')
        cs = self.bed.get("sts", "patch1")["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in cs], ["a", "b"])
        self.assertEqual([e["name"] for e in cs[0]["env"]], ["X", "Y"])
        self.k("patch", "sts", "patch1", "--type", "merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
        self.k("patch", "sts", "patch1", "--type", "json", "-p",
               '[{"op":"replace","path":"/spec/replicas","value":0},{"op":"add","path":"/metadata/labels/j","value":"2"}]')
        self.assertEqual(self.bed.get("sts", "patch1")["metadata"]["labels"], {"m": "1", "j": "2"})
        r = self.k("patch", "sts", "patch1", "--type", "json", "-p", '[{"op":"remove","path":"/spec/nothing"}]', check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.k("patch", "ec", "x", "--type", "strategic", "-p", "{}", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_apply_create_then_update_three_way(self):
        doc = cm("apply1", data={"a": "1", "b": "2"})
        self.assertIn("created", self.k("apply", "-f", "-", input=json.dumps(doc)).stdout)
        got = self.bed.get("cm", "apply1")
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", got["metadata"]["annotations"])
        self.k("patch", "cm", "apply1", "-p", '{"data":{"c":"3"}}')     # a change made by someone else
        doc["data"] = {"a": "10"}                                     # b removed from the manifest
        self.assertIn("configured", self.k("apply", "-f", "-", input=json.dumps(doc)).stdout)
        self.assertEqual(self.bed.get("cm", "apply1")["data"], {"a": "10", "c": "3"})
        self.assertIn("unchanged", self.k("apply", "-f", "-", input=json.dumps(doc)).stdout)

    def test_server_dry_run_and_diff(self):
        out = self.k("create", "-f", "-", "--dry-run=server", "-o", "json", input=json.dumps(ec("dry1"))).stdout
        self.assertEqual(json.loads(out)["spec"]["version"], "3.5.17")      # defaulted by the server
        self.assertIsNone(self.bed.get("ec", "dry1"))
        self.bed.create(ec("dry2", replicas=1))
        r = self.k("diff", "-f", "-", input=json.dumps(ec("dry2", replicas=2)), check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("+  replicas: 2", r.stdout)

    def test_openapi_v2_tells_old_kubectl_about_dry_run_and_crd_schemas(self):
        """kubectl before 1.26 reads only /openapi/v2 (protobuf): a kind without a PATCH
        operation carrying a dryRun parameter "doesn't support dry-run"; CRD schemas are
        its client-side validation. Decoded here by field number, apart from the encoder."""
        import kproto

        def msg(buf, *path):
            """Submessages (or strings) at a path of field numbers; repeated fields fan out."""
            out = [buf]
            for num in path:
                out = [v for b in out for n, wt, v in kproto._fields(b) if n == num and wt == 2]
            return out
        st, pb = self.bed.api("GET", "/openapi/v2", headers={
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"}, raw=True)
        self.assertEqual(st, 200)
        ops = {}
        for item in msg(pb, 8, 2):                            # Document.paths.path[] (NamedPathItem)
            name = msg(item, 1)[0].decode()
            patch = msg(item, 2, 8)                           # PathItem.patch (Operation)
            gvk = [json.loads(y) for ext in msg(patch[0], 13) if msg(ext, 1)[0] == b"x-kubernetes-group-version-kind"
                   for y in msg(ext, 2, 2)]
            params = [p.decode() for p in msg(patch[0], 8, 1, 2, 3, 4)]   # query parameter names
            ops[name] = (gvk, params)
        gvk, params = ops["/apis/etcd.k8s-operator.io/v1alpha1/namespaces/{namespace}/etcdclusters/{name}"]
        self.assertEqual(gvk, [{"group": "etcd.k8s-operator.io", "version": "v1alpha1", "kind": "EtcdCluster"}])
        self.assertIn("dryRun", params)
        self.assertIn("dryRun", ops["/api/v1/namespaces/{namespace}/configmaps/{name}"][1])
        defs = {msg(d, 1)[0].decode(): d for d in msg(pb, 9, 1)}
        ec_def = defs["io.k8s-operator.etcd.v1alpha1.EtcdCluster"]
        props = {msg(p, 1)[0].decode(): p for p in msg(ec_def, 2, 25, 1)}
        self.assertTrue({"apiVersion", "kind", "metadata", "spec"} <= set(props), sorted(props))
        spec_props = {msg(p, 1)[0].decode() for p in msg(props["spec"], 2, 25, 1)}
        self.assertIn("replicas", spec_props)
        st, doc = self.bed.api("GET", "/openapi/v2")           # the JSON form says the same
        self.assertEqual(set(doc["paths"]), set(ops))
        self.assertEqual(set(doc["definitions"]), set(defs))

    def test_patch_without_resource_version_never_conflicts(self):
        """kube-apiserver re-applies such a patch to the newest object until it lands; a
        controller writing status meanwhile must not turn `kubectl patch` into a 409."""
        import threading
        self.bed.create(ec("busy1"))
        stop, writes = threading.Event(), [0]

        def writer():
            while not stop.is_set():
                self.bed.patch("ec", "busy1", {"status": {"observedGeneration": writes[0]}}, sub="status")
                writes[0] += 1
        t = threading.Thread(target=writer)
        t.start()
        try:
            for i in range(5):
                self.k("label", "ec", "busy1", "round=%d" % i, "--overwrite")
                self.k("patch", "ec", "busy1", "--type", "merge", "-p", '{"spec":{"replicas":%d}}' % (i % 3 + 1))
        finally:
            stop.set()
            t.join()
        got = self.bed.get("ec", "busy1")
        self.assertEqual((got["metadata"]["labels"]["round"], got["spec"]["replicas"]), ("4", 2))
        self.assertGreater(writes[0], 10)

    def test_cascading_delete_background_foreground_orphan(self):
        for policy, owner_name in (("background", "own-bg"), ("foreground", "own-fg"), ("orphan", "own-or")):
            st, owner = self.bed.create(cm(owner_name))
            st, dep = self.bed.create(cm(owner_name + "-dep", owner=owner))
            self.assertEqual(st, 201, dep)
            self.k("delete", "cm", owner_name, "--cascade=" + policy)
            if policy == "orphan":
                d = self.bed.wait_for(lambda: (lambda o: o if o and not o["metadata"].get("ownerReferences") else None)(
                    self.bed.get("cm", owner_name + "-dep")), 10, "orphaned dependent")
                self.assertNotIn("ownerReferences", d["metadata"])
            else:
                self.bed.wait_for(lambda: self.bed.get("cm", owner_name + "-dep") is None, 10, "dependent deleted")
            self.bed.wait_for(lambda: self.bed.get("cm", owner_name) is None, 10, "owner deleted")

    def test_label_and_field_selectors(self):
        for n, labels in (("sel-a", {"tier": "web", "env": "prod"}), ("sel-b", {"tier": "db"}), ("sel-c", {"env": "dev"})):
            self.bed.create(cm(n, labels=labels))

        def names(*sel):
            return sorted(self.k("get", "cm", "-o", "name", *sel).stdout.split())
        self.assertEqual(names("-l", "tier=web"), ["configmap/sel-a"])
        self.assertEqual(names("-l", "tier in (web,db),env!=prod"), ["configmap/sel-b"])
        self.assertEqual(names("-l", "env,!tier"), ["configmap/sel-c"])
        self.assertEqual(names("-l", "tier notin (web),tier"), ["configmap/sel-b"])
        self.assertEqual(names("--field-selector", "metadata.name=sel-c"), ["configmap/sel-c"])
        r = self.k("get", "cm", "-l", "a in b", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_watch_resume_bookmarks_and_410(self):
        st, o = self.bed.create(cm("gone1"))
        rv = o["metadata"]["resourceVersion"]
        self.bed.patch("cm", "gone1", {"data": {"k": "2"}})
        st, data = self.bed.api("GET", "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1&"
                                "fieldSelector=metadata.name%3Dgone1&resourceVersion=" + rv, raw=True)
        events = [json.loads(line) for line in data.splitlines() if line.strip()]
        self.assertEqual([(e["type"], e["object"]["data"]["k"]) for e in events], [("MODIFIED", "2")])
        st, data = self.bed.api("GET", "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=2&"
                                "allowWatchBookmarks=true&resourceVersion=" + rv, raw=True)
        self.assertIn("BOOKMARK", [json.loads(x)["type"] for x in data.splitlines() if x.strip()])
        self.bed.api("POST", "/_bed/compact", {})
        st, data = self.bed.api("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv, raw=True)
        ev = json.loads(data.splitlines()[0])
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
        self.assertRegex(ev["object"]["message"], r"too old resource version: \d+ \(\d+\)")

    def test_namespaces_missing_and_deleted_with_contents(self):
        r = self.k("create", "configmap", "x", "-n", "nosuch", "--from-literal=a=b", check=False)
        self.assertIn('namespaces "nosuch" not found', r.stderr)
        self.k("create", "namespace", "ns-del")
        self.k("create", "configmap", "inside", "-n", "ns-del", "--from-literal=a=b")
        self.bed.create(ec("inside"), ns="ns-del")
        self.k("delete", "namespace", "ns-del")
        self.assertIsNone(self.bed.get("ns", "ns-del", ns=None))
        self.assertIsNone(self.bed.get("cm", "inside", ns="ns-del"))
        self.assertEqual(self.bed.list("ec", "ns-del"), [])

    def test_logs_and_events(self):
        if not self.bed.info.get("runtime"):
            self.skipTest("the bed runs without runtime.py: %s" % self.bed.info.get("runtime_error"))
        self.k("run", "logs1", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello-from-logs1")
        self.bed.wait_for(lambda: "hello-from-logs1" in self.k("logs", "logs1", check=False).stdout, 20, "pod log")
        self.assertIn("logs1", self.k("get", "events").stdout)
        r = self.k("logs", "nosuchpod", check=False)
        self.assertIn('pods "nosuchpod" not found', r.stderr)

    def test_auth_client_cert_and_bad_token(self):
        self.assertIn("default", self.k("get", "ns", kubeconfig=self.bed.kubeconfig_cert).stdout)
        kc = self.bed.kubeconfig_for("alice", ["devs"])
        self.assertIn("default", self.k("get", "ns", kubeconfig=kc).stdout)
        r = self.k("get", "ns", "--token", "wrong", check=False)
        self.assertIn("Unauthorized", r.stderr)

    def test_api_fault_injection(self):
        self.bed.create(cm("fault1"))
        self.bed.fault("api", verb="patch", resource="configmaps", code=409, count=1)
        r = self.k("label", "cm", "fault1", "a=b", check=False)
        self.assertIn("the object has been modified", r.stderr)
        self.k("label", "cm", "fault1", "a=b")
        self.bed.fault("api", verb="get", resource="configmaps", code=500, count=1)
        r = self.k("get", "cm", "fault1", check=False)
        self.assertIn("InternalError", r.stderr)
        self.k("get", "cm", "fault1")

    def test_old_kubectl(self):
        found = [p for p in OLD_KUBECTL if os.access(p, os.X_OK)]
        if not found:
            self.skipTest("no old kubectl at %s" % ":".join(OLD_KUBECTL))
        for n, binary in enumerate(found):
            with self.subTest(kubectl=binary):
                self._old_kubectl(binary, "old%d" % n)

    def _old_kubectl(self, binary, p):
        def k(*a, **kw):
            saved = self.bed.kubectl_bin
            self.bed.kubectl_bin = binary
            try:
                return self.bed.kubectl(*a, env={"KUBECACHEDIR": os.path.join(self.bed.dir, "cache-" + p)}, **kw)
            finally:
                self.bed.kubectl_bin = saved
        k("create", "-f", "-", input=json.dumps(ec(p + "-ec")))
        k("apply", "-f", "-", input=json.dumps(cm(p + "-cm")))
        k("create", "configmap", p + "-cm2", "--from-literal=a=b")
        k("scale", "ec", p + "-ec", "--replicas=2")
        k("patch", "ec", p + "-ec", "--type", "merge", "-p", '{"metadata":{"labels":{"v":"old"}}}')
        self.assertIn(p + "-ec", k("get", "ec", "-l", "v=old").stdout)
        out = k("create", "-f", "-", "--dry-run=server", "-o", "json", input=json.dumps(ec(p + "-dry"))).stdout
        self.assertEqual(json.loads(out)["spec"]["version"], "3.5.17")
        self.assertIsNone(self.bed.get("ec", p + "-dry"))
        r = k("diff", "-f", "-", input=json.dumps(ec(p + "-ec", replicas=3)), check=False)
        self.assertIn("+  replicas: 3", r.stdout, r.stderr)
        r = k("create", "-f", "-", input=json.dumps(ec(p + "-bogus", bogus=1)), check=False)
        self.assertIn('unknown field', r.stderr)
        self.assertIsNone(self.bed.get("ec", p + "-bogus"))
        k("delete", "ec", p + "-ec")
        self.assertIsNone(self.bed.get("ec", p + "-ec"))

if __name__ == "__main__":
    unittest.main()
