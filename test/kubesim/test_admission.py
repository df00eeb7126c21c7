"""The bed's admission chain with a small test webhook (a Python HTTPS server
in this process) and the real kubectl: JSON patches, denials and warnings
as kubectl prints them, reinvocation, the scale subresource (Scale objects,
mutation applied back to spec.replicas), selectors, failurePolicy with the
webhook down, timeouts, caBundle checking — and, when it is built, the
project's own etcd-webhook started by the harness.
"""
import base64
import http.server
import json
import os
import shutil
import ssl
import tempfile
import threading
import time
import unittest

import pki
from harness import Bed

SVC, NS = "test-hook", "hooks"


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle(self):
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            pass     # the bed gave up on a slow answer: expected in the timeout test

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        path = self.path.split("?")[0]
        self.server.seen.append((path, self.path, req))
        resp = self.server.decide(path, req)
        resp["uid"] = req["uid"]
        if path == "/slow":
            time.sleep(2.5)
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def jsonpatch(ops):
    return {"allowed": True, "patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(ops).encode()).decode()}


def decide(path, req):
    obj = req.get("object") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if path == "/first":
        ops = [{"op": "add", "path": "/metadata/annotations", "value": dict(
            (obj["metadata"].get("annotations") or {}), **{"seen-b": labels.get("b", "none")})}]
        if labels.get("mutated") != "yes":
            ops.append({"op": "add", "path": "/metadata/labels/mutated", "value": "yes"})
        r = jsonpatch(ops)
        r["warnings"] = ["first says hi"]
        return r
    if path == "/second":
        return jsonpatch([{"op": "add", "path": "/metadata/labels/b", "value": "2"}]) if "b" not in labels else {"allowed": True}
    if path == "/deny":
        if "forbidden" in (obj.get("data") or {}):
            return {"allowed": False, "status": {"message": "forbidden key is not allowed"}}
        if "forbidden403" in (obj.get("data") or {}):
            return {"allowed": False, "status": {"code": 403, "reason": "Forbidden", "message": "no, really"}}
        return {"allowed": True, "warnings": ["validated by deny hook"]}
    if path == "/scale-mutate":
        if obj.get("spec", {}).get("replicas") == 7:
            return jsonpatch([{"op": "replace", "path": "/spec/replicas", "value": 3}])
        return {"allowed": True}
    if path == "/scale-validate":
        if obj.get("spec", {}).get("replicas", 0) > 5:
            return {"allowed": False, "status": {"message": "too big; use kubectl etcd scale"}}
        return {"allowed": True}
    return {"allowed": True}


def webhooks(ca_bundle, policy="Fail", timeout=5):
    def cc(path):
        return {"service": {"namespace": NS, "name": SVC, "path": path, "port": 443}, "caBundle": ca_bundle}
    sel = {"matchLabels": {"hooked": "yes"}}
    nsel = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}
    cm_rule = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]
    ec_scale = [{"apiGroups": ["etcd.k8s-operator.io"], "apiVersions": ["v1alpha1"], "operations": ["UPDATE"],
                 "resources": ["etcdclusters/scale"]}]
    common = {"sideEffects": "None", "admissionReviewVersions": ["v1"], "failurePolicy": policy,
              "timeoutSeconds": timeout, "namespaceSelector": nsel}
    mut = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
           "metadata": {"name": "test-mutating"},
           "webhooks": [dict(common, name="first.test.kubesim.io", clientConfig=cc("/first"), rules=cm_rule,
                             objectSelector=sel, reinvocationPolicy="IfNeeded"),
                        dict(common, name="second.test.kubesim.io", clientConfig=cc("/second"), rules=cm_rule,
                             objectSelector=sel),
                        dict(common, name="scale-mutate.test.kubesim.io", clientConfig=cc("/scale-mutate"), rules=ec_scale)]}
    val = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
           "metadata": {"name": "test-validating"},
           "webhooks": [dict(common, name="deny.test.kubesim.io", clientConfig=cc("/deny"), objectSelector=sel,
                             rules=[dict(cm_rule[0], operations=["CREATE", "UPDATE", "DELETE"])]),
                        dict(common, name="scale-validate.test.kubesim.io", clientConfig=cc("/scale-validate"),
                             rules=ec_scale)]}
    return mut, val


def cm(name, data=None, hooked=True, ns="default"):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {"hooked": "yes"} if hooked else {}},
            "data": data or {"a": "1"}}


class AdmissionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = Bed(manifests=True)
        cls.tmp = tempfile.mkdtemp(prefix="kubesim-hook-")
        ca = pki.make_ca(cls.tmp)
        crt, key = pki.make_cert(cls.tmp, "hook", ca, "%s.%s.svc" % (SVC, NS), dns=["%s.%s.svc" % (SVC, NS)], server=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        cls.srv.daemon_threads = True
        cls.srv.socket = ctx.wrap_socket(cls.srv.socket, server_side=True)
        cls.srv.seen, cls.srv.decide = [], decide
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        with open(ca[0], "rb") as f:
            cls.ca_bundle = base64.b64encode(f.read()).decode()
        cls.bed.register_service(NS, SVC, "127.0.0.1:%d" % cls.srv.server_address[1])
        cls.apply_hooks()

    @classmethod
    def apply_hooks(cls, policy="Fail", timeout=5, ca_bundle=None):
        for doc in webhooks(ca_bundle or cls.ca_bundle, policy, timeout):
            cls.bed.kubectl("apply", "-f", "-", input=json.dumps(doc))

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.bed.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.bed.clear_faults()
        self.srv.seen.clear()

    def seen(self, path):
        return [r for p, _, r in self.srv.seen if p == path]

    def test_mutation_warning_and_reinvocation(self):
        r = self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("mut1")))
        self.assertIn("Warning: first says hi", r.stderr)
        self.assertIn("Warning: validated by deny hook", r.stderr)
        o = self.bed.get("cm", "mut1")
        self.assertEqual(o["metadata"]["labels"], {"hooked": "yes", "mutated": "yes", "b": "2"})
        # /first ran before /second added b, then once more because of it (IfNeeded)
        self.assertEqual(o["metadata"]["annotations"]["seen-b"], "2")
        self.assertEqual(len(self.seen("/first")), 2)
        self.assertEqual(len(self.seen("/second")), 1)
        full = [u for p, u, _ in self.srv.seen if p == "/first"][0]
        self.assertTrue(full.endswith("?timeout=5s"), full)

    def test_admission_review_contents(self):
        self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("rev1")))
        self.bed.kubectl("label", "cm", "rev1", "x=y")
        self.bed.kubectl("delete", "cm", "rev1")
        creates = [r for r in self.seen("/deny") if r["operation"] == "CREATE"]
        updates = [r for r in self.seen("/deny") if r["operation"] == "UPDATE"]
        deletes = [r for r in self.seen("/deny") if r["operation"] == "DELETE"]
        c, u, d = creates[0], updates[0], deletes[0]
        self.assertEqual(c["kind"], {"group": "", "version": "v1", "kind": "ConfigMap"})
        self.assertEqual(c["resource"], {"group": "", "version": "v1", "resource": "configmaps"})
        self.assertEqual((c["name"], c["namespace"], c["dryRun"]), ("rev1", "default", False))
        self.assertIsNone(c["oldObject"])
        self.assertEqual(c["options"]["kind"], "CreateOptions")
        self.assertIn("system:masters", c["userInfo"]["groups"])
        self.assertEqual(u["oldObject"]["metadata"]["name"], "rev1")
        self.assertEqual(u["object"]["metadata"]["labels"]["x"], "y")
        self.assertIsNone(d["object"])
        self.assertEqual(d["oldObject"]["metadata"]["name"], "rev1")
        self.bed.kubectl("create", "-f", "-", "--dry-run=server", input=json.dumps(cm("rev2")))
        self.assertTrue(self.seen("/deny")[-1]["dryRun"])
        self.assertIsNone(self.bed.get("cm", "rev2"))

    def test_denial_reaches_kubectl_as_kube_apiserver_words_it(self):
        r = self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("deny1", {"forbidden": "x"})), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('admission webhook "deny.test.kubesim.io" denied the request: forbidden key is not allowed', r.stderr)
        st, body = self.bed.create(cm("deny1", {"forbidden": "x"}))
        self.assertEqual((st, body["code"]), (400, 400))   # a denial without a code becomes 400
        st, body = self.bed.create(cm("deny2", {"forbidden403": "x"}))
        self.assertEqual((st, body["reason"]), (403, "Forbidden"))
        self.assertEqual(body["message"], 'admission webhook "deny.test.kubesim.io" denied the request: no, really')
        self.assertIsNone(self.bed.get("cm", "deny1"))
        # not matched: no label, or an excluded namespace
        self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("deny3", {"forbidden": "x"}, hooked=False)))
        self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("deny4", {"forbidden": "x"}, ns="kube-system")))

    def test_scale_subresource_sees_scale_and_mutation_goes_back(self):
        self.bed.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
            "metadata": {"name": "sc1"}, "spec": {"replicas": 1}}))
        self.bed.kubectl("scale", "ec", "sc1", "--replicas=2")
        rv = self.seen("/scale-validate")[-1]
        self.assertEqual((rv["kind"]["kind"], rv["kind"]["group"], rv["object"]["apiVersion"]), ("Scale", "autoscaling", "autoscaling/v1"))
        self.assertEqual((rv["resource"]["resource"], rv["subResource"]), ("etcdclusters", "scale"))
        self.assertEqual((rv["object"]["spec"]["replicas"], rv["oldObject"]["spec"]["replicas"]), (2, 1))
        r = self.bed.kubectl("scale", "ec", "sc1", "--replicas=6", check=False)
        self.assertIn('admission webhook "scale-validate.test.kubesim.io" denied the request: too big', r.stderr)
        self.bed.kubectl("scale", "ec", "sc1", "--replicas=7")      # the mutating hook makes it 3
        self.assertEqual(self.bed.get("ec", "sc1")["spec"]["replicas"], 3)

    def test_failure_policy_with_webhook_down(self):
        self.bed.fault("webhook", mode="down")
        r = self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("down1")), check=False)
        self.assertIn('Internal error occurred: failed calling webhook "first.test.kubesim.io": failed to call webhook: '
                      'Post "https://test-hook.hooks.svc:443/first?timeout=5s"', r.stderr)
        self.assertIn("connect: connection refused", r.stderr)
        try:
            self.apply_hooks(policy="Ignore")
            self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("down2")))
            self.assertNotIn("mutated", self.bed.get("cm", "down2")["metadata"]["labels"])
        finally:
            self.bed.clear_faults()
            self.apply_hooks()

    def test_timeouts_slow_webhook(self):
        self.bed.fault("webhook", mode="slow", delaySeconds=2)
        try:
            self.apply_hooks(timeout=1)
            r = self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("slow1")), check=False)
            self.assertIn("context deadline exceeded", r.stderr)
            self.bed.clear_faults()
            # a webhook that really takes too long
            mut, val = webhooks(self.ca_bundle, timeout=1)
            val["webhooks"][0]["clientConfig"]["service"]["path"] = "/slow"
            self.bed.kubectl("apply", "-f", "-", input=json.dumps(val))
            t0 = time.monotonic()
            r = self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("slow2")), check=False)
            self.assertIn("context deadline exceeded", r.stderr)
            self.assertLess(time.monotonic() - t0, 2.4)
        finally:
            self.bed.clear_faults()
            self.apply_hooks()

    def test_ca_bundle_is_checked(self):
        other = tempfile.mkdtemp(prefix="kubesim-otherca-")
        wrong = pki.make_ca(other, "ca", "some-other-ca")
        with open(wrong[0], "rb") as f:
            bundle = base64.b64encode(f.read()).decode()
        try:
            self.apply_hooks(ca_bundle=bundle)
            r = self.bed.kubectl("create", "-f", "-", input=json.dumps(cm("ca1")), check=False)
            self.assertIn("tls: failed to verify certificate", r.stderr)
        finally:
            self.apply_hooks()
            shutil.rmtree(other, ignore_errors=True)


class ProjectWebhookTest(unittest.TestCase):
    """The harness starts BUILD/etcd-webhook and the manifests' configurations call it."""

    def test_etcd_webhook_stages_a_jump(self):
        with Bed(manifests=True) as bed:
            binary = os.path.join(bed.build or "", "etcd-webhook")
            if not os.access(binary, os.X_OK):
                self.skipTest("%s is not built" % binary)
            bed.kubectl("create", "namespace", "etcd-operator-system")
            bed.apply_manifests(["manifests/webhook/mutating-webhook.yaml", "manifests/webhook/validating-webhook.yaml"])
            bed.start_webhook()
            cfg = bed.get("mutatingwebhookconfigurations", "etcd-operator-mutating", ns=None)
            self.assertTrue(cfg["webhooks"][0]["clientConfig"].get("caBundle"))
            r = bed.kubectl("apply", "-f", "manifests/samples/etcdcluster-demo-3.yaml"
                            if os.path.exists("manifests/samples/etcdcluster-demo-3.yaml")
                            else os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                              "manifests/samples/etcdcluster-demo-3.yaml"))
            self.assertIn("Warning:", r.stderr)
            items = bed.list("etcdclusters")
            self.assertEqual(len(items), 1)
            self.assertIn("etcd.k8s-operator.io/target-replicas", items[0]["metadata"].get("annotations", {}))


if __name__ == "__main__":
    unittest.main()
