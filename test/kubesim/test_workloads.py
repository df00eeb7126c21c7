"""The bed's runtime with real processes: a StatefulSet of three real etcd
members reachable through Pod DNS names and a ClusterIP Service, restarts,
recreation, scale-down, publishNotReadyAddresses, OrderedReady, crash and
image back-off, probes, init containers, volumes, graceful deletion, the
runtime faults, and no process left behind when the bed stops.

Runs as root (mount namespaces); etcd and etcdctl from PATH."""
import os
import shutil
import signal
import sys
import threading
import time
import unittest

import rtbed
import store as st

NS = "default"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.5.9"


def etcd_statefulset(name, replicas, peer_svc, policy="Parallel"):
    peers = ",".join("%s-%d=http://%s-%d.%s.%s.svc.cluster.local:2380" % (name, i, name, i, peer_svc, NS)
                     for i in range(replicas))
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "serviceName": peer_svc, "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 2,
                         "containers": [{
                             "name": "etcd", "image": ETCD_IMAGE,
                             "command": ["/usr/local/bin/etcd", "--name=$(POD_NAME)", "--data-dir=/var/lib/etcd/data",
                                         "--listen-peer-urls=http://$(POD_IP):2380",
                                         "--listen-client-urls=http://$(POD_IP):2379",
                                         "--advertise-client-urls=http://$(POD_NAME).%s.$(POD_NS).svc.cluster.local:2379" % peer_svc,
                                         "--initial-advertise-peer-urls=http://$(POD_NAME).%s.$(POD_NS).svc.cluster.local:2380" % peer_svc,
                                         "--initial-cluster=" + peers, "--initial-cluster-state=new",
                                         "--initial-cluster-token=kubesim-test",
                                         "--heartbeat-interval=50", "--election-timeout=500"],
                             "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                     {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                     {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                             "ports": [{"name": "client", "containerPort": 2379}, {"name": "peer", "containerPort": 2380}],
                             "readinessProbe": {"httpGet": {"path": "/health", "port": "client"}, "periodSeconds": 1},
                             "volumeMounts": [{"name": "data", "mountPath": "/var/lib/etcd"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}}


def service(name, selector, ports, headless=False, publish_not_ready=False):
    spec = {"selector": selector, "ports": [{"name": n, "port": p} for n, p in ports]}
    if headless:
        spec["clusterIP"] = "None"
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def busybox_pod(name, script, **extra):
    c = {"name": extra.pop("container", "main"), "image": "busybox:1.36", "command": ["sh", "-c", script]}
    c.update(extra.pop("c", {}))
    spec = {"containers": [c], "terminationGracePeriodSeconds": extra.pop("grace", 1)}
    spec.update(extra.pop("spec", {}))
    md = {"name": name, "namespace": NS, "labels": extra.pop("labels", {"app": name})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


class EtcdStatefulSetTest(unittest.TestCase):
    """Three real etcd members, static bootstrap through their Pod DNS names."""

    @classmethod
    def setUpClass(cls):
        cls.bed = rtbed.RuntimeBed()
        s = cls.bed.store
        s.create("services", service("demo-peer", {"app": "demo"}, [("peer", 2380), ("client", 2379)],
                                     headless=True, publish_not_ready=True))
        s.create("services", service("demo-client", {"app": "demo"}, [("client", 2379)]))
        t0 = time.monotonic()
        s.create("statefulsets.apps", etcd_statefulset("demo", 3, "demo-peer"))
        cls.bed.wait(lambda: (s.get("statefulsets.apps", NS, "demo").get("status") or {}).get("readyReplicas") == 3,
                     60, "3 ready etcd Pods")
        cls.ready_seconds = time.monotonic() - t0
        sys.stderr.write("\n[figure] 3 etcd Pods Ready %.1fs after the StatefulSet was created\n" % cls.ready_seconds)

    @classmethod
    def tearDownClass(cls):
        cls.bed.close()

    def etcdctl(self, endpoint, *args):
        r = self.bed.run_in_net(["etcdctl", "--endpoints", endpoint, "--command-timeout=5s"] + list(args))
        self.assertEqual(r.returncode, 0, "etcdctl %s at %s: %s%s" % (args, endpoint, r.stdout, r.stderr))
        return r.stdout + r.stderr

    def test_a_members_answer_through_pod_dns(self):
        for i in range(3):
            url = "http://demo-%d.demo-peer.%s.svc.cluster.local:2379" % (i, NS)
            self.assertIn("is healthy", self.etcdctl(url, "endpoint", "health"))
        out = self.etcdctl("http://demo-0.demo-peer.%s.svc.cluster.local:2379" % NS, "member", "list")
        self.assertEqual(out.count(", started, "), 3, out)
        s = self.bed.store
        for i in range(3):
            pvc = s.get("persistentvolumeclaims", NS, "data-demo-%d" % i)
            self.assertEqual(pvc["status"]["phase"], "Bound")
            pod = s.get("pods", NS, "demo-%d" % i)
            self.assertEqual(pod["spec"]["hostname"], "demo-%d" % i)
            self.assertEqual(pod["spec"]["subdomain"], "demo-peer")
            self.assertEqual(pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"], str(i))
            self.assertTrue(pod["status"]["podIP"].startswith(self.bed.block + "."))
            self.assertTrue(os.listdir(os.path.join(self.bed.dir, "volumes", NS, "data-demo-%d" % i)))
        ep = s.get("endpoints", NS, "demo-peer")
        self.assertEqual(sorted(a["hostname"] for a in ep["subsets"][0]["addresses"]), ["demo-0", "demo-1", "demo-2"])
        st_ = s.get("statefulsets.apps", NS, "demo")["status"]
        self.assertEqual((st_["replicas"], st_["readyReplicas"], st_["updatedReplicas"], st_["observedGeneration"]),
                         (3, 3, 3, 1))
        self.assertFalse(os.path.exists("/etc/etcd"))   # the host's directories are untouched
        self.assertFalse(os.path.exists("/var/lib/etcd/data"))

    def test_b_clusterip_proxy_reaches_ready_members(self):
        url = "http://demo-client.%s.svc.cluster.local:2379" % NS
        self.etcdctl(url, "put", "greeting", "hello")
        for _ in range(3):   # round robin over the members
            self.assertIn("hello", self.etcdctl(url, "get", "greeting"))
        svc = self.bed.store.get("services", NS, "demo-client")
        self.assertTrue(svc["spec"]["clusterIP"].startswith(self.bed.block + "."))

    def test_c_killed_process_restarts(self):
        before = self.bed.container("demo-1")["restartCount"]
        res = self.bed.rt.fault("kill", {"namespace": NS, "pod": "demo-1", "container": "etcd", "signal": "KILL"})
        self.assertEqual(res["signal"], "SIGKILL")
        self.bed.wait(lambda: self.bed.container("demo-1")["restartCount"] == before + 1, 20, "restartCount + 1")
        last = self.bed.container("demo-1")["lastState"]["terminated"]
        self.assertEqual(last["exitCode"], 137)
        self.bed.wait(lambda: self.bed.ready("demo-1"), 30, "demo-1 ready again")
        self.etcdctl("http://demo-1.demo-peer.%s.svc.cluster.local:2379" % NS, "endpoint", "health")

    def test_d_deleted_pod_is_recreated_on_its_volume(self):
        old = self.bed.pod("demo-2")["metadata"]["uid"]
        self.bed.store.delete("pods", NS, "demo-2")
        self.bed.wait(lambda: self.bed.pod("demo-2")["metadata"]["uid"] != old and self.bed.ready("demo-2"),
                      40, "demo-2 recreated and ready")
        # same member, same data: it rejoined instead of failing as a new member would
        out = self.etcdctl("http://demo-2.demo-peer.%s.svc.cluster.local:2379" % NS, "get", "greeting",
                           "--consistency=s")
        self.assertIn("hello", out)

    def test_e_scale_down_removes_highest_and_keeps_its_claim(self):
        s = self.bed.store
        s.update("statefulsets.apps", {"metadata": {"name": "demo", "namespace": NS}, "spec": {"replicas": 2}},
                 subresource="scale")
        self.bed.wait(lambda: (s.get("statefulsets.apps", NS, "demo").get("status") or {}).get("replicas") == 2
                      and not self.bed.rt.kubelet.lingering(NS), 30, "scale down to 2")
        with self.assertRaises(st.NotFound):
            s.get("pods", NS, "demo-2")
        s.get("pods", NS, "demo-1")
        self.assertEqual(s.get("persistentvolumeclaims", NS, "data-demo-2")["status"]["phase"], "Bound")
        self.assertTrue(os.listdir(os.path.join(self.bed.dir, "volumes", NS, "data-demo-2")))
        self.bed.wait(lambda: not self.bed.resolves("demo-2.demo-peer.%s.svc.cluster.local" % NS), 10,
                      "demo-2's name gone")


class EtcdDeadlockTest(unittest.TestCase):
    """The failure this project was born from: a static etcd cluster behind a
    headless Service that publishes only ready Pods never forms (no member can
    resolve its peers, none becomes ready, so no name is ever published);
    publishing not-ready addresses breaks the loop."""

    def test_peer_service_without_publish_not_ready_deadlocks(self):
        bed = rtbed.RuntimeBed()
        try:
            s = bed.store
            s.create("services", service("dead-peer", {"app": "dead"}, [("peer", 2380), ("client", 2379)], headless=True))
            s.create("statefulsets.apps", etcd_statefulset("dead", 3, "dead-peer"))
            stuck = ("could not connect", "publish error", "no such host")
            bed.wait(lambda: all(any(w in bed.log("dead-%d" % i, "etcd") for w in stuck) for i in range(3)), 30,
                     "every member failing to reach its peers")
            self.assertEqual((s.get("statefulsets.apps", NS, "dead").get("status") or {}).get("readyReplicas"), 0)
            self.assertFalse(bed.resolves("dead-1.dead-peer.%s.svc.cluster.local" % NS))
            self.assertEqual(s.get("endpoints", NS, "dead-peer")["subsets"][0].get("addresses"), None)
            s.mutate("services", NS, "dead-peer", lambda o: o["spec"].update(publishNotReadyAddresses=True))
            bed.wait(lambda: (s.get("statefulsets.apps", NS, "dead").get("status") or {}).get("readyReplicas") == 3,
                     40, "the cluster forming once not-ready addresses are published")
        finally:
            bed.close(max_grace=0)


class WorkloadTest(unittest.TestCase):
    """Busybox-style Pods (the host's /bin/sh) for the kubelet's and controller's rules."""

    @classmethod
    def setUpClass(cls):
        cls.bed = rtbed.RuntimeBed(backoff_base=0.5)

    @classmethod
    def tearDownClass(cls):
        cls.bed.close()

    def setUp(self):
        self.s = self.bed.store

    def test_publish_not_ready_addresses(self):
        # two headless Services; each Pod's subdomain names one of them; neither Pod is ready
        self.s.create("services", service("pub", {"grp": "dns"}, [("p", 80)], headless=True, publish_not_ready=True))
        self.s.create("services", service("nopub", {"grp": "dns"}, [("p", 80)], headless=True))
        probe = {"exec": {"command": ["sh", "-c", "test -f /tmp/ready-$(hostname)"]}, "periodSeconds": 1}
        for name, sub in (("a", "pub"), ("b", "nopub")):
            self.s.create("pods", busybox_pod(name, "sleep 1000", labels={"grp": "dns"}, c={"readinessProbe": probe},
                                              spec={"hostname": name, "subdomain": sub}))
        a, b = "a.pub.%s.svc.cluster.local" % NS, "b.nopub.%s.svc.cluster.local" % NS
        self.bed.wait(lambda: self.bed.resolves(a), 10, "not-ready a resolves under publishNotReadyAddresses")
        self.assertFalse(self.bed.resolves(b), "not-ready b must not resolve")
        self.assertFalse(self.bed.ready("b"))
        ep = self.s.get("endpoints", NS, "nopub")
        self.assertEqual(len(ep["subsets"][0]["notReadyAddresses"]), 2)
        self.assertNotIn("addresses", ep["subsets"][0])
        open("/tmp/ready-b", "w").close()   # /tmp is shared with the host: make b ready
        try:
            self.bed.wait(lambda: self.bed.resolves(b), 10, "b resolves once ready")
            self.assertTrue(self.bed.ready("b"))
        finally:
            os.unlink("/tmp/ready-b")

    def test_ordered_ready_one_at_a_time_and_scale_down_from_the_top(self):
        sts_name = "ord"
        seen, errors = [], []

        def watch(etype, key, obj):
            if key != "pods" or not obj["metadata"]["name"].startswith(sts_name + "-"):
                return
            name = obj["metadata"]["name"]
            i = int(name.rsplit("-", 1)[1])
            if etype == "ADDED":
                for j in range(i):
                    if not self.bed.ready("%s-%d" % (sts_name, j)):
                        errors.append("%s created while %s-%d not ready" % (name, sts_name, j))
            if etype == "DELETED":
                if any(n.startswith(sts_name + "-") and n != name for n in self.bed.rt.kubelet.lingering(NS)):
                    errors.append("%s deleted while another is still terminating" % name)
            seen.append((etype, name))
        self.s.subscribe(watch)
        tmpl = busybox_pod("x", "sleep 1000", labels={"app": sts_name},
                           c={"readinessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 1, "periodSeconds": 1}})
        self.s.create("statefulsets.apps", {
            "metadata": {"name": sts_name, "namespace": NS},
            "spec": {"replicas": 3, "serviceName": "ord", "selector": {"matchLabels": {"app": sts_name}},
                     "template": {"metadata": {"labels": {"app": sts_name}}, "spec": tmpl["spec"]},
                     "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {"resources": {"requests": {"storage": "1Mi"}}}}]}})
        self.bed.wait(lambda: (self.s.get("statefulsets.apps", NS, sts_name).get("status") or {}).get("readyReplicas") == 3,
                      30, "3 ordered replicas ready")
        self.assertEqual([n for t, n in seen if t == "ADDED"], ["ord-0", "ord-1", "ord-2"])
        self.s.update("statefulsets.apps", {"metadata": {"name": sts_name, "namespace": NS}, "spec": {"replicas": 1}},
                      subresource="scale")
        self.bed.wait(lambda: (self.s.get("statefulsets.apps", NS, sts_name).get("status") or {}).get("replicas") == 1
                      and not self.bed.rt.kubelet.lingering(NS) and ("DELETED", "ord-1") in seen, 30, "scale down to 1")
        self.assertEqual([n for t, n in seen if t == "DELETED"], ["ord-2", "ord-1"])
        self.assertEqual(errors, [])
        for i in range(3):   # claims are kept on scale-down
            self.s.get("persistentvolumeclaims", NS, "d-ord-%d" % i)

    def test_rolling_update_replaces_from_the_top(self):
        tmpl = {"metadata": {"labels": {"app": "roll"}},
                "spec": busybox_pod("x", "echo v=$V; sleep 1000", c={"env": [{"name": "V", "value": "1"}]})["spec"]}
        self.s.create("statefulsets.apps", {"metadata": {"name": "roll", "namespace": NS},
                                            "spec": {"replicas": 2, "serviceName": "roll", "podManagementPolicy": "Parallel",
                                                     "selector": {"matchLabels": {"app": "roll"}}, "template": tmpl}})
        sts = lambda: self.s.get("statefulsets.apps", NS, "roll")
        self.bed.wait(lambda: (sts().get("status") or {}).get("readyReplicas") == 2, 15, "2 ready")
        old_rev = sts()["status"]["updateRevision"]
        order = []
        self.s.subscribe(lambda t, k, o: order.append(o["metadata"]["name"])
                         if k == "pods" and t == "DELETED" and o["metadata"]["name"].startswith("roll-") else None)

        def bump(o):
            o["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "2"
        self.s.mutate("statefulsets.apps", NS, "roll", bump)
        self.bed.wait(lambda: (lambda s_: s_.get("updatedReplicas") == 2 and s_.get("readyReplicas") == 2
                               and s_.get("currentRevision") == s_.get("updateRevision") != old_rev)(sts().get("status") or {}),
                      30, "both Pods on the new revision")
        self.assertEqual(order, ["roll-1", "roll-0"])
        self.bed.wait(lambda: "v=2" in self.bed.log("roll-0", "main"), 5, "the new template's output")
        self.assertEqual(sts()["status"]["observedGeneration"], 2)

    def test_restart_policy_never_phases(self):
        self.s.create("pods", busybox_pod("ok", "exit 0", spec={"restartPolicy": "Never"}))
        self.s.create("pods", busybox_pod("ko", "exit 4", spec={"restartPolicy": "Never"}))
        self.bed.wait(lambda: self.bed.pod_status("ok").get("phase") == "Succeeded", 10, "Succeeded")
        self.bed.wait(lambda: self.bed.pod_status("ko").get("phase") == "Failed", 10, "Failed")
        c = self.bed.container("ko")
        self.assertEqual((c["state"]["terminated"]["exitCode"], c["restartCount"]), (4, 0))

    def test_crash_loop_back_off(self):
        self.s.create("pods", busybox_pod("crash", "echo dying; exit 3", c={"terminationMessagePolicy": "FallbackToLogsOnError"}))
        c = self.bed.wait(lambda: (lambda c: c if c.get("restartCount", 0) >= 2 and
                                   c["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff" else None)(
            self.bed.container("crash")), 20, "CrashLoopBackOff")
        self.assertEqual(c["lastState"]["terminated"]["exitCode"], 3)
        self.assertEqual(c["lastState"]["terminated"]["reason"], "Error")
        self.assertEqual(c["lastState"]["terminated"]["message"], "dying")
        self.assertIn("back-off", c["state"]["waiting"]["message"])
        self.assertEqual(self.bed.pod_status("crash")["phase"], "Running")
        self.assertIn("dying", self.bed.log("crash", "main"))

    def test_image_faults(self):
        img = "busybox:broken"
        self.bed.rt.fault("image", {"image": img, "fail": True})
        pod = busybox_pod("img", "sleep 1000")
        pod["spec"]["containers"][0]["image"] = img
        self.s.create("pods", pod)
        self.bed.wait(lambda: self.bed.container("img").get("state", {}).get("waiting", {}).get("reason")
                      in ("ErrImagePull", "ImagePullBackOff"), 10, "ErrImagePull")
        self.assertEqual(self.bed.pod_status("img")["phase"], "Pending")
        self.bed.rt.fault("image", {"image": img, "fail": False})
        self.bed.wait(lambda: "running" in self.bed.container("img").get("state", {}), 15, "running after the fault clears")
        unknown = busybox_pod("unknown", "true")
        unknown["spec"]["containers"][0]["image"] = "docker.io/library/nginx:1.25"
        self.s.create("pods", unknown)
        c = self.bed.wait(lambda: self.bed.container("unknown").get("state", {}).get("waiting", {}).get("reason") == "ErrImagePull"
                          and self.bed.container("unknown"), 10, "ErrImagePull for an unknown image")
        self.assertIn("nginx", c["state"]["waiting"]["message"])
        noshell = busybox_pod("noshell", "true")
        noshell["spec"]["containers"][0]["image"] = ETCD_IMAGE
        self.s.create("pods", noshell)
        c = self.bed.wait(lambda: self.bed.container("noshell").get("lastState", {}).get("terminated", {}).get("reason")
                          == "StartError" and self.bed.container("noshell"), 10, "StartError (etcd images have no shell)")
        self.assertEqual(c["lastState"]["terminated"]["exitCode"], 128)

    def test_liveness_failure_restarts(self):
        self.s.create("pods", busybox_pod("live", "sleep 1000", c={
            "livenessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 1, "failureThreshold": 2}}))
        self.bed.wait(lambda: self.bed.container("live").get("restartCount", 0) >= 1, 20, "liveness restart")
        reasons = {e["reason"] for e in self.s.list("events", NS)[0] if e["involvedObject"]["name"] == "live"}
        self.assertTrue({"Unhealthy", "Killing", "Started"} <= reasons, reasons)

    def test_init_containers_and_volumes(self):
        self.s.create("configmaps", {"metadata": {"name": "cfg", "namespace": NS}, "data": {"conf.yaml": "a: 1\n"}})
        self.s.create("secrets", {"metadata": {"name": "sec", "namespace": NS}, "data": {"pw": "aHVudGVyMg=="}})
        self.s.create("persistentvolumeclaims", {"metadata": {"name": "store", "namespace": NS},
                                                 "spec": {"resources": {"requests": {"storage": "1Mi"}}}})
        pod = busybox_pod("vols", "cat /work-area/made-by-init /etc/app/conf.yaml /etc/sec/pw; echo; "
                                  "echo persisted > /data/file; ls /data; sleep 1000",
                          c={"volumeMounts": [{"name": "work", "mountPath": "/work-area"},
                                              {"name": "cfg", "mountPath": "/etc/app/conf.yaml", "subPath": "conf.yaml"},
                                              {"name": "sec", "mountPath": "/etc/sec"},
                                              {"name": "data", "mountPath": "/data"}]},
                          spec={"initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "echo from-init > /work-area/made-by-init"],
                                                    "volumeMounts": [{"name": "work", "mountPath": "/work-area"}]}],
                                "volumes": [{"name": "work", "emptyDir": {}},
                                            {"name": "cfg", "configMap": {"name": "cfg"}},
                                            {"name": "sec", "secret": {"secretName": "sec"}},
                                            {"name": "data", "persistentVolumeClaim": {"claimName": "store"}}]})
        self.s.create("pods", pod)
        self.bed.wait(lambda: "file" in self.bed.log("vols", "main"), 15, "main container output")
        out = self.bed.log("vols", "main")
        for want in ("from-init", "a: 1", "hunter2"):
            self.assertIn(want, out)
        self.assertEqual(self.bed.container("vols", init=True)["state"]["terminated"]["reason"], "Completed")
        for p in ("/work-area", "/etc/app", "/etc/sec", "/data"):
            self.assertFalse(os.path.exists(p), "%s created on the host" % p)
        vol = os.path.join(self.bed.dir, "volumes", NS, "store")
        with open(os.path.join(vol, "file")) as f:
            self.assertEqual(f.read(), "persisted\n")
        res = self.bed.rt.fault("volume", {"namespace": NS, "claim": "store"})
        self.assertEqual(os.listdir(res["path"]), [])
        with self.assertRaises(LookupError):
            self.bed.rt.fault("volume", {"namespace": NS, "claim": "nope"})
        # a failing init container: the Pod stays Pending, Init:Error / Init:CrashLoopBackOff shape
        bad = busybox_pod("badinit", "sleep 1000", spec={"initContainers": [
            {"name": "init", "image": "busybox", "command": ["sh", "-c", "exit 7"]}]})
        self.s.create("pods", bad)
        c = self.bed.wait(lambda: (lambda c: c if c.get("restartCount", 0) >= 1 else None)(
            self.bed.container("badinit", init=True)), 15, "init container restarted")
        self.assertEqual(c.get("lastState", {}).get("terminated", {}).get("exitCode")
                         or c["state"].get("terminated", {}).get("exitCode"), 7)
        st_ = self.bed.pod_status("badinit")
        self.assertEqual(st_["phase"], "Pending")
        self.assertEqual(self.bed.container("badinit")["state"]["waiting"]["reason"], "PodInitializing")
        init_cond = [x for x in st_["conditions"] if x["type"] == "Initialized"][0]
        self.assertEqual(init_cond["status"], "False")

    def test_claim_deleted_while_mounted(self):
        pvc = {"metadata": {"name": "keep", "namespace": NS}, "spec": {"resources": {"requests": {"storage": "1Mi"}}}}
        uid = self.s.create("persistentvolumeclaims", pvc)["metadata"]["uid"]
        self.s.create("pods", busybox_pod("holder", "echo x > /data/f; sleep 1000", spec={
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "keep"}}]},
            c={"volumeMounts": [{"name": "d", "mountPath": "/data"}]}))
        vol = os.path.join(self.bed.dir, "volumes", NS, "keep")
        self.bed.wait(lambda: os.path.exists(os.path.join(vol, "f")), 10, "the Pod's file on its volume")
        self.s.delete("persistentvolumeclaims", NS, "keep")
        retired = os.path.join(self.bed.dir, "volumes", ".trash", uid)
        self.bed.wait(lambda: os.path.exists(os.path.join(retired, "f")), 5, "volume retired, not removed")
        self.bed.rt.volumes.sweep()
        self.assertTrue(os.path.exists(os.path.join(retired, "f")), "a mounted volume must outlive its claim")
        # a new claim of the same name starts empty (never a removed member's data)
        self.s.create("persistentvolumeclaims", pvc)
        self.bed.wait(lambda: self.s.get("persistentvolumeclaims", NS, "keep").get("status", {}).get("phase") == "Bound",
                      5, "new claim bound")
        self.assertEqual(os.listdir(vol), [])
        self.s.delete("pods", NS, "holder")
        self.bed.wait(lambda: not os.path.exists(retired), 10, "retired volume removed once unmounted")

    def test_dns_hold_and_clusterip_proxy(self):
        self.s.create("pods", busybox_pod("web", "sleep 1000", labels={"app": "web"},
                                          c={"ports": [{"name": "http", "containerPort": 8080}]}))
        self.s.create("services", {"metadata": {"name": "web", "namespace": NS},
                                   "spec": {"selector": {"app": "web"},
                                            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
        name = "web.%s.svc.cluster.local" % NS
        self.bed.wait(lambda: self.bed.resolves(name), 10, "service name")
        self.bed.rt.fault("dns", {"name": name, "holdSeconds": 1.5})
        self.assertFalse(self.bed.resolves(name))
        self.assertTrue(self.bed.resolves("web.%s.svc" % NS))   # only the held name is gone
        self.bed.wait(lambda: self.bed.resolves(name), 10, "name back after the hold")
        ep = self.bed.wait(lambda: self.s.get("endpoints", NS, "web").get("subsets"), 10, "endpoints")
        self.assertEqual(ep[0]["ports"][0]["port"], 8080)

    def test_graceful_deletion(self):
        # ignores SIGTERM: the kubelet must SIGKILL it after the grace period
        self.s.create("pods", busybox_pod("term-ignorer", "trap '' TERM; echo armed; sleep 1000 & wait; sleep 1000", grace=1))
        self.bed.wait(lambda: "armed" in self.bed.log("term-ignorer", "main"), 10, "running, SIGTERM ignored")
        pid = self.bed.rt.kubelet.find(NS, "term-ignorer").mains[0].proc.pid
        # deletionTimestamp (graceful deletion, also held by a finalizer here): processes end, then
        # the kubelet deletes with grace 0, which leaves the object to its finalizer
        pod = self.s.get("pods", NS, "term-ignorer")
        self.s.delete("pods", NS, "term-ignorer", finalizers_add=["test.kubesim/hold"], grace_seconds=st.pod_grace(pod))
        self.assertTrue(_alive(pid))
        self.bed.wait(lambda: not _alive(pid), 10, "SIGKILL after the grace period")
        self.bed.wait(lambda: not self.bed.rt.kubelet.lingering(NS), 10, "worker done")
        self.bed.wait(lambda: self.s.get("pods", NS, "term-ignorer")["metadata"]["deletionGracePeriodSeconds"] == 0, 10,
                      "the kubelet's final delete")
        self.s.mutate("pods", NS, "term-ignorer", lambda o: o["metadata"].update(finalizers=[]))
        with self.assertRaises(st.NotFound):
            self.s.get("pods", NS, "term-ignorer")

    def test_statefulset_waits_for_its_terminating_pod(self):
        """A StatefulSet's Pod deleted gracefully stays (Terminating) until the kubelet has
        stopped its processes; only then does the object go, and only then is the
        replacement created — never two Pods of one ordinal."""
        term_ignorer = busybox_pod("x", "trap '' TERM; echo armed; sleep 1000 & wait; sleep 1000", labels={"app": "gr"},
                               grace=2)
        self.s.create("statefulsets.apps", {
            "metadata": {"name": "gr", "namespace": NS},
            "spec": {"replicas": 1, "serviceName": "gr", "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": {"app": "gr"}},
                     "template": {"metadata": {"labels": {"app": "gr"}}, "spec": term_ignorer["spec"]}}})
        self.bed.wait(lambda: "armed" in self.bed.log("gr-0", "main"), 10, "gr-0 ignoring SIGTERM")
        old = self.s.get("pods", NS, "gr-0")
        pid = self.bed.rt.kubelet.find(NS, "gr-0").mains[0].proc.pid
        w = self.s.watch("pods", NS, since_rv=old["metadata"]["resourceVersion"], field_selector="metadata.name=gr-0")
        try:
            out = self.s.delete("pods", NS, "gr-0", grace_seconds=st.pod_grace(old))
            self.assertEqual(out["metadata"]["deletionGracePeriodSeconds"], 2)
            self.assertTrue(out["metadata"]["deletionTimestamp"])
            events = []
            while not any(t == "ADDED" for t, _ in events):
                ev = w.get(timeout=20)
                self.assertIsNotNone(ev, "no replacement within 20 s; events so far: %s" % events)
                t, o = ev
                if t == "DELETED":
                    self.assertFalse(_alive(pid), "the object went before its process")
                events.append((t, o["metadata"]["uid"] == old["metadata"]["uid"]))
        finally:
            w.stop()
        kinds = [t for t, is_old in events if is_old]
        self.assertEqual(kinds[-1], "DELETED")
        self.assertEqual(events[-1], ("ADDED", False))
        self.assertNotIn(("ADDED", False), events[:-1])
        self.assertIn(("DELETED", True), events[:-1])   # the old object went first

    def test_grace_rules(self):
        pod = {"spec": {"nodeName": "kubesim-node", "terminationGracePeriodSeconds": 5}, "status": {"phase": "Running"}}
        self.assertEqual(st.pod_grace(pod), 5)
        self.assertEqual(st.pod_grace(pod, 0), 0)
        self.assertEqual(st.pod_grace(pod, -3), 1)
        self.assertEqual(st.pod_grace({"spec": {"nodeName": "n"}}), 30)
        self.assertEqual(st.pod_grace({"spec": {"terminationGracePeriodSeconds": 5}}), 0)    # never scheduled
        self.assertEqual(st.pod_grace(dict(pod, status={"phase": "Succeeded"})), 0)        # nothing runs
        # only ever shortened; grace 0 with no finalizer removes at once
        self.s.create("configmaps", {"metadata": {"name": "gr-cm", "namespace": NS}})
        o = self.s.delete("configmaps", NS, "gr-cm", grace_seconds=10)
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 10)
        self.assertEqual(self.s.delete("configmaps", NS, "gr-cm", grace_seconds=20)["metadata"]["resourceVersion"],
                         o["metadata"]["resourceVersion"])
        self.assertEqual(self.s.delete("configmaps", NS, "gr-cm", grace_seconds=3)["metadata"]["deletionGracePeriodSeconds"], 3)
        o = self.s.mutate("configmaps", NS, "gr-cm", lambda x: x.__setitem__("data", {"a": "b"}))
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 3)    # an update does not end the grace
        self.s.delete("configmaps", NS, "gr-cm")
        with self.assertRaises(st.NotFound):
            self.s.get("configmaps", NS, "gr-cm")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def _sessions(sids):
    """pids of live processes whose session id is in sids."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) in sids:
            out.append(int(d))
    return out


class StopTest(unittest.TestCase):
    def test_stop_leaves_no_process(self):
        bed = rtbed.RuntimeBed()
        try:
            bed.store.create("pods", busybox_pod("p1", "sleep 1000 & sleep 1000 & wait"))
            bed.store.create("pods", busybox_pod("p2", "trap '' TERM; sleep 1000; true", grace=1))
            bed.wait(lambda: all("running" in bed.container(p).get("state", {}) for p in ("p1", "p2")), 10, "running")
            sids = {c["containers"]["main"] for c in bed.rt.state()["pods"]}
            bed.wait(lambda: len(_sessions(sids)) == 5, 10, "2 sh + 3 sleep")
        finally:
            bed.close()
        self.assertEqual(_sessions(sids), [])


if __name__ == "__main__":
    unittest.main()
