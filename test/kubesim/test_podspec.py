"""Unit tests of the runtime's pure rules: $(VAR) expansion, the container
environment, image → executable mapping, crash back-off, Endpoints and DNS
records, StatefulSet Pod/claim shapes. No processes, no network."""
import base64
import os
import tempfile
import unittest

import dns
import podspec
import statefulset


def pod(name="p", ns="ns1", labels=None, ip="127.9.0.5", ready=True, phase="Running", spec=None, deleting=False):
    md = {"name": name, "namespace": ns, "uid": "uid-" + name, "labels": labels or {}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "spec": spec or {"nodeName": "n1"},
            "status": {"phase": phase, "podIP": ip, "hostIP": "127.0.0.1",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class ExpandTest(unittest.TestCase):
    def test_kubernetes_rules(self):
        env = {"A": "x", "B": "y$(A)"}
        cases = [("$(A)", "x"), ("$$(A)", "$(A)"), ("$(NOPE)", "$(NOPE)"), ("a$(A)b$(B)", "axby$(A)"),
                 ("$", "$"), ("$$", "$"), ("$A", "$A"), ("$(A", "$(A"), ("$()", "$()"),
                 ("$$$(A)", "$x"), ("100$", "100$"), ("", "")]
        for src, want in cases:
            self.assertEqual(podspec.expand(src, env), want, src)


class EnvTest(unittest.TestCase):
    def setUp(self):
        self.objs = {
            ("secrets", "ns1", "s"): {"data": {"pw": base64.b64encode(b"hunter2").decode()}},
            ("configmaps", "ns1", "c"): {"data": {"mode": "fast", "K2": "v2"}},
        }
        self.lookup = lambda kind, ns, name: self.objs.get((kind, ns, name))
        self.pod = pod(labels={"app": "demo"})

    def test_values_fieldrefs_and_order(self):
        c = {"name": "c", "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "URL", "value": "http://$(POD).$(NS):$(PORT)"},
            {"name": "PORT", "value": "2379"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "mode"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
        ], "envFrom": [{"configMapRef": {"name": "c"}, "prefix": "CM_"}]}
        env = podspec.build_env(self.pod, c, self.lookup, {"PATH": "/bin"})
        self.assertEqual(env["POD"], "p")
        self.assertEqual(env["NS"], "ns1")
        self.assertEqual(env["IP"], "127.9.0.5")
        self.assertEqual(env["NODE"], "n1")
        self.assertEqual(env["APP"], "demo")
        self.assertEqual(env["URL"], "http://p.ns1:$(PORT)")   # PORT is defined later: stays literal
        self.assertEqual(env["PW"], "hunter2")
        self.assertEqual(env["MODE"], "fast")
        self.assertEqual(env["CM_K2"], "v2")
        self.assertNotIn("OPT", env)
        self.assertEqual(env["PATH"], "/bin")

    def test_missing_refs_are_config_errors(self):
        for ref in ({"secretKeyRef": {"name": "nope", "key": "k"}},
                    {"secretKeyRef": {"name": "s", "key": "nokey"}},
                    {"fieldRef": {"fieldPath": "spec.bogus"}}):
            with self.assertRaises(podspec.ConfigError):
                podspec.build_env(self.pod, {"env": [{"name": "X", "valueFrom": ref}]}, self.lookup)


class ImageTest(unittest.TestCase):
    def test_families(self):
        for img in ("gcr.io/etcd-development/etcd:v3.5.9", "quay.io/coreos/etcd:v3.4.23",
                    "registry.k8s.io/etcd:3.5.12-0", "etcd", "gcr.io/etcd-development/etcd@sha256:abc"):
            self.assertEqual(podspec.image_family(img)[0], "etcd", img)
        self.assertEqual(podspec.image_family("ghcr.io/etcd-k8s-operator/etcd-operator:0.1.0")[0], "operator")
        self.assertEqual(podspec.image_family("busybox:1.36")[0], "shell")
        self.assertEqual(podspec.image_repo("localhost:5000/a/busybox:1"), "localhost:5000/a/busybox")
        with self.assertRaises(podspec.ImageError) as cm:
            podspec.image_family("nginx:latest")
        self.assertIn('Failed to pull image "nginx:latest"', str(cm.exception))

    def test_argv_mapping(self):
        c = {"image": "gcr.io/etcd-development/etcd:v3.5.9", "command": ["/usr/local/bin/etcd", "--name=$(N)"]}
        argv = podspec.container_argv(c, {"N": "m0"}, None)
        self.assertTrue(os.path.isabs(argv[0]) and argv[0].endswith("/etcd"))
        self.assertEqual(argv[1], "--name=m0")
        # no command: the image's CMD; args alone replace CMD (etcd images have no ENTRYPOINT)
        self.assertTrue(podspec.container_argv({"image": "quay.io/coreos/etcd:v3.4"}, {}, None)[0].endswith("/etcd"))
        with self.assertRaises(podspec.StartError):
            podspec.container_argv({"image": "gcr.io/etcd-development/etcd:v3.5.9", "args": ["--name=x"]}, {}, None)
        # etcd images are distroless: no shell
        with self.assertRaises(podspec.StartError):
            podspec.container_argv({"image": "gcr.io/etcd-development/etcd:v3.5.9", "command": ["/bin/sh", "-c", "x"]}, {}, None)
        with tempfile.TemporaryDirectory() as build:
            exe = os.path.join(build, "etcd-controller")
            with open(exe, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(exe, 0o755)
            img = {"image": "ghcr.io/etcd-k8s-operator/etcd-operator:0.1.0"}
            self.assertEqual(podspec.container_argv(img, {}, build), [exe, "--help"])   # the Dockerfile's CMD
            self.assertEqual(podspec.container_argv(dict(img, command=["/usr/local/bin/etcd-controller"],
                                                         args=["member-init"]), {}, build), [exe, "member-init"])
            with self.assertRaises(podspec.StartError):   # no ENTRYPOINT: args alone replace CMD
                podspec.container_argv(dict(img, args=["member-init"]), {}, build)
            with self.assertRaises(podspec.StartError):   # not built
                podspec.container_argv(dict(img, command=["/usr/local/bin/etcd-webhook"]), {}, build)
            with self.assertRaises(podspec.StartError):   # debian-slim has no etcdctl
                podspec.container_argv(dict(img, command=["etcdctl"]), {}, build)
            self.assertEqual(podspec.container_argv(dict(img, command=["/bin/sh", "-c", "true"]), {}, build)[1:], ["-c", "true"])
        self.assertEqual(podspec.container_argv({"image": "busybox", "command": ["sh", "-c", "true"]}, {}, None)[1:], ["-c", "true"])


class BackoffTest(unittest.TestCase):
    def test_first_restart_immediate_then_doubling_to_cap(self):
        b = podspec.Backoff(10, 300)
        self.assertEqual([b.next_delay(1) for _ in range(8)], [0, 10, 20, 40, 80, 160, 300, 300])
        self.assertEqual(b.next_delay(601), 0)   # a clean run of 2·cap resets


class EndpointsDnsTest(unittest.TestCase):
    def svc(self, name, headless=True, pub=False):
        spec = {"selector": {"app": "demo"}, "ports": [{"name": "client", "port": 2379, "targetPort": "client"}]}
        if headless:
            spec["clusterIP"] = "None"
        if pub:
            spec["publishNotReadyAddresses"] = True
        return {"metadata": {"name": name, "namespace": "ns1", "uid": "u-" + name}, "spec": spec}

    def pods(self):
        def sp(n):
            return {"hostname": n, "subdomain": "peer", "nodeName": "n1",
                    "containers": [{"name": "etcd", "ports": [{"name": "client", "containerPort": 2379}]}]}
        return [pod("demo-0", labels={"app": "demo"}, ip="127.9.0.1", spec=sp("demo-0")),
                pod("demo-1", labels={"app": "demo"}, ip="127.9.0.2", ready=False, spec=sp("demo-1")),
                pod("demo-2", labels={"app": "demo"}, ip="127.9.0.3", deleting=True, spec=sp("demo-2")),
                pod("done", labels={"app": "demo"}, ip="127.9.0.4", phase="Succeeded", spec=sp("done")),
                pod("other", labels={"app": "x"}, ip="127.9.0.9")]

    def test_not_ready_and_terminating(self):
        subs = dns.endpoint_subsets(self.svc("peer"), self.pods())
        self.assertEqual([a["ip"] for a in subs[0]["addresses"]], ["127.9.0.1"])
        self.assertEqual([a["ip"] for a in subs[0]["notReadyAddresses"]], ["127.9.0.2"])
        self.assertEqual(subs[0]["addresses"][0]["hostname"], "demo-0")
        self.assertEqual(subs[0]["ports"], [{"name": "client", "port": 2379, "protocol": "TCP"}])
        subs = dns.endpoint_subsets(self.svc("peer", pub=True), self.pods())
        self.assertEqual([a["ip"] for a in subs[0]["addresses"]], ["127.9.0.1", "127.9.0.2", "127.9.0.3"])
        self.assertNotIn("notReadyAddresses", subs[0])

    def test_hosts_records(self):
        peer, pub = self.svc("peer"), self.svc("peer", pub=True)
        for svc, want in ((peer, {"demo-0"}), (pub, {"demo-0", "demo-1", "demo-2"})):
            eps = {("ns1", "peer"): {"subsets": dns.endpoint_subsets(svc, self.pods())}}
            lines = dns.hosts_lines([svc], eps, {}, "cluster.local", set())
            got = {n.split(".")[0] for _, n in lines if n.endswith(".peer.ns1.svc.cluster.local")
                   and n.startswith("demo-")}
            self.assertEqual(got, want)
            self.assertIn(("127.9.0.1", "peer.ns1.svc"), lines)
        eps = {("ns1", "peer"): {"subsets": dns.endpoint_subsets(peer, self.pods())}}
        held = dns.hosts_lines([peer], eps, {}, "cluster.local", {"demo-0.peer.ns1.svc.cluster.local"})
        self.assertNotIn(("127.9.0.1", "demo-0.peer.ns1.svc.cluster.local"), held)
        cip = self.svc("client", headless=False)
        lines = dns.hosts_lines([cip], {}, {("ns1", "client"): "127.9.128.1"}, "cluster.local", set())
        self.assertEqual(sorted(lines), sorted([("127.9.128.1", "client.ns1.svc.cluster.local"),
                                                ("127.9.128.1", "client.ns1.svc"), ("127.9.128.1", "client.ns1")]))

    def test_write_in_place_keeps_inode(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "hosts")
            dns.write_in_place(p, "a long first content\n" * 10)
            ino = os.stat(p).st_ino
            dns.write_in_place(p, "short\n")
            self.assertEqual(os.stat(p).st_ino, ino)
            with open(p) as f:
                self.assertEqual(f.read(), "short\n")


class StatefulSetShapeTest(unittest.TestCase):
    def test_pod_and_claim(self):
        sts = {"metadata": {"name": "demo", "namespace": "ns1", "uid": "u1"},
               "spec": {"serviceName": "demo-peer", "selector": {"matchLabels": {"app": "demo"}},
                        "template": {"metadata": {"labels": {"app": "demo"}},
                                     "spec": {"containers": [{"name": "etcd", "image": "etcd"}]}},
                        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                  "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}}
        p = statefulset.new_pod(sts, 2, "abc")
        self.assertEqual(p["metadata"]["name"], "demo-2")
        self.assertEqual(p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "demo-2")
        self.assertEqual(p["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "2")
        self.assertEqual(p["metadata"]["labels"]["app"], "demo")
        self.assertEqual(p["spec"]["hostname"], "demo-2")
        self.assertEqual(p["spec"]["subdomain"], "demo-peer")
        self.assertEqual(p["spec"]["volumes"], [{"name": "data", "persistentVolumeClaim": {"claimName": "data-demo-2"}}])
        ref = p["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["uid"], ref["controller"]), ("StatefulSet", "u1", True))
        c = statefulset.new_claim(sts, sts["spec"]["volumeClaimTemplates"][0], 2)
        self.assertEqual(c["metadata"]["name"], "data-demo-2")
        self.assertEqual(c["metadata"]["labels"], {"app": "demo"})
        self.assertNotIn("ownerReferences", c["metadata"])    # Retain by default
        self.assertEqual(statefulset.ordinal_of("demo", "demo-12"), 12)
        self.assertIsNone(statefulset.ordinal_of("demo", "demo-x"))
        self.assertIsNone(statefulset.ordinal_of("demo", "demo-peer-1"))


if __name__ == "__main__":
    unittest.main()
