"""Unit tests of the bed's store (store.py) and selectors (labels.py): no
processes, no network — the contract H5's runtime and the API server build on."""
import threading
import time
import unittest

import labels
import store as st


def pod(name, ns="default", labels_=None, spec=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels_ or {}},
            "spec": spec or {"containers": [{"name": "c", "image": "busybox"}]}}


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.s = st.Store(history=50)

    def tearDown(self):
        self.s.close()

    def test_create_fills_metadata_and_rv_increases_across_kinds(self):
        a = self.s.create("pods", pod("a"))
        b = self.s.create("configmaps", {"metadata": {"name": "b", "namespace": "default"}, "data": {}})
        c = self.s.create("statefulsets.apps", {"metadata": {"name": "s", "namespace": "default"}, "spec": {"replicas": 1}})
        self.assertTrue(a["metadata"]["uid"])
        self.assertTrue(a["metadata"]["creationTimestamp"].endswith("Z"))
        rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, b, c)]
        self.assertEqual(rvs, sorted(set(rvs)))
        self.assertEqual(c["metadata"]["generation"], 1)
        self.assertNotIn("generation", b["metadata"])
        with self.assertRaises(st.AlreadyExists):
            self.s.create("pods", pod("a"))

    def test_copies_are_private(self):
        self.s.create("pods", pod("a"))
        got = self.s.get("pods", "default", "a")
        got["spec"]["containers"][0]["image"] = "changed"
        self.assertEqual(self.s.get("pods", "default", "a")["spec"]["containers"][0]["image"], "busybox")

    def test_conflict_on_stale_rv_and_generation_only_on_spec(self):
        o = self.s.create("statefulsets.apps", {"metadata": {"name": "s", "namespace": "default"}, "spec": {"replicas": 1}})
        o2 = dict(o, metadata=dict(o["metadata"], labels={"x": "y"}))
        o2 = self.s.update("statefulsets.apps", o2)
        self.assertEqual(o2["metadata"]["generation"], 1)
        with self.assertRaises(st.Conflict) as cm:
            self.s.update("statefulsets.apps", o)   # stale
        self.assertIn("the object has been modified", str(cm.exception))
        o2["spec"]["replicas"] = 3
        o3 = self.s.update("statefulsets.apps", o2)
        self.assertEqual(o3["metadata"]["generation"], 2)
        o3["status"] = {"replicas": 3}
        o3["spec"]["replicas"] = 9
        o4 = self.s.update("statefulsets.apps", o3, subresource="status")
        self.assertEqual(o4["spec"]["replicas"], 3)
        self.assertEqual(o4["status"], {"replicas": 3})
        self.assertEqual(o4["metadata"]["generation"], 2)
        o5 = self.s.update("statefulsets.apps", {"metadata": {"name": "s", "namespace": "default"}, "spec": {"replicas": 5}}, subresource="scale")
        self.assertEqual(o5["spec"]["replicas"], 5)
        self.assertEqual(o5["status"], {"replicas": 3})
        self.assertEqual(o5["metadata"]["generation"], 3)

    def test_custom_kind_generation_counts_non_spec_fields(self):
        self.s.register_kind("widgets.example.com", custom=True)
        o = self.s.create("widgets.example.com", {"metadata": {"name": "w", "namespace": "default"}, "data": 1})
        o["data"] = 2
        self.assertEqual(self.s.update("widgets.example.com", o)["metadata"]["generation"], 2)

    def test_noop_update_commits_nothing(self):
        o = self.s.create("pods", pod("a"))
        again = self.s.update("pods", o)
        self.assertEqual(again["metadata"]["resourceVersion"], o["metadata"]["resourceVersion"])

    def test_mutate_retries_and_skip(self):
        self.s.create("configmaps", {"metadata": {"name": "c", "namespace": "default"}, "data": {"n": "0"}})

        def bump(o):
            o["data"]["n"] = str(int(o["data"]["n"]) + 1)
        threads = [threading.Thread(target=lambda: [self.s.mutate("configmaps", "default", "c", bump) for _ in range(20)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.s.get("configmaps", "default", "c")["data"]["n"], "80")
        before = self.s.resource_version
        self.s.mutate("configmaps", "default", "c", lambda o: False)
        self.assertEqual(self.s.resource_version, before)

    def test_finalizers_delay_delete(self):
        o = pod("a")
        o["metadata"]["finalizers"] = ["x/y"]
        self.s.create("pods", o)
        d = self.s.delete("pods", "default", "a")
        self.assertIn("deletionTimestamp", d["metadata"])
        got = self.s.get("pods", "default", "a")
        got["metadata"]["finalizers"] = []
        self.s.update("pods", got)
        with self.assertRaises(st.NotFound):
            self.s.get("pods", "default", "a")

    def test_cluster_scoped_ignores_namespace(self):
        self.s.create("namespaces", {"metadata": {"name": "n1", "namespace": "whatever"}})
        self.assertNotIn("namespace", self.s.get("namespaces", None, "n1")["metadata"])

    def test_list_with_selectors(self):
        self.s.create("pods", pod("a", labels_={"app": "x", "tier": "web"}))
        self.s.create("pods", pod("b", labels_={"app": "x"}))
        self.s.create("pods", pod("c", ns="other", labels_={"app": "y"}))
        names = lambda sel, ns=None: [o["metadata"]["name"] for o in self.s.list("pods", ns, sel)[0]]
        self.assertEqual(names("app=x"), ["a", "b"])
        self.assertEqual(names("app=x,tier!=web"), ["b"])
        self.assertEqual(names("app in (x,y),!tier"), ["b", "c"])
        self.assertEqual(names(None, "other"), ["c"])
        self.assertEqual(names({"app": "y"}), ["c"])
        self.assertEqual(names({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}), ["a"])

    def test_watch_resume_and_selector_transitions(self):
        a = self.s.create("pods", pod("a", labels_={"app": "x"}))
        rv0 = a["metadata"]["resourceVersion"]
        self.s.create("configmaps", {"metadata": {"name": "other", "namespace": "default"}})
        a["metadata"]["labels"] = {"app": "z"}
        self.s.update("pods", a)
        w = self.s.watch("pods", "default", rv0, "app=x")
        t, o = w.get(1)
        self.assertEqual((t, o["metadata"]["name"]), ("DELETED", "a"))  # left the selector
        self.assertIsNone(w.get(0.05))
        self.s.create("pods", pod("b", labels_={"app": "x"}))
        self.assertEqual(w.get(1)[0], "ADDED")
        w.stop()

    def test_watch_gone_when_too_old(self):
        first = self.s.create("pods", pod("a"))
        for i in range(60):
            self.s.create("configmaps", {"metadata": {"name": "c%d" % i, "namespace": "default"}})
        with self.assertRaises(st.Gone) as cm:
            self.s.watch("pods", None, first["metadata"]["resourceVersion"])
        self.assertIn("too old resource version", str(cm.exception))
        self.s.watch("pods", None, self.s.resource_version).stop()

    def test_subscribe_in_commit_order_outside_lock(self):
        seen, done = [], threading.Event()

        def sub(etype, key, obj):
            # calling back into the store must not deadlock
            self.s.list("pods")
            seen.append((etype, key, obj["metadata"]["name"]))
            if etype == "DELETED":
                done.set()
        self.s.subscribe(sub)
        self.s.create("pods", pod("a"))
        self.s.mutate("pods", "default", "a", lambda o: o["metadata"].update(labels={"k": "v"}))
        self.s.delete("pods", "default", "a")
        self.assertTrue(done.wait(2))
        self.assertEqual([e[0] for e in seen], ["ADDED", "MODIFIED", "DELETED"])


class LabelsTest(unittest.TestCase):
    def test_parse_forms(self):
        r = labels.parse("a=1,b==2,c!=3,d in (x, y),e notin (z),f,!g,h>4")
        self.assertEqual([x[1] for x in r], ["In", "In", "NotIn", "In", "NotIn", "Exists", "DoesNotExist", "Gt"])
        self.assertTrue(labels.matches(r, {"a": "1", "b": "2", "d": "y", "f": "", "h": "5"}))
        self.assertFalse(labels.matches(r, {"a": "1", "b": "2", "d": "y", "f": "", "h": "5", "g": "1"}))

    def test_bad_selector(self):
        for bad in ("a in x", "=b", "a=b c"):
            with self.assertRaises(labels.SelectorError, msg=bad):
                labels.parse(bad)

    def test_field_selector(self):
        r = labels.parse_fields("metadata.name=a,metadata.namespace!=kube-system")
        self.assertTrue(labels.fields_match(r, {"metadata": {"name": "a", "namespace": "default"}}))
        with self.assertRaises(labels.SelectorError):
            labels.parse_fields("spec.nodeName=x", labels.allowed_fields("configmaps"))
        self.assertEqual(labels.parse_fields("spec.nodeName=x", labels.allowed_fields("pods")), [("spec.nodeName", True, "x")])


if __name__ == "__main__":
    unittest.main()
