"""RBAC exactly what the code uses, judged on the whole end-to-end run.

Every bed of the e2e suite records, from the real API server's audit log,
what the operator's ServiceAccounts asked of it (the controller under test
runs as its ServiceAccount through the fault proxy's impersonation, and the
installed Deployments as themselves); test/run.sh collects that in
$EO_RBAC_USAGE. Runs last (its name), and holds the union against the roles
in manifests/rbac: a refused call is a missing rule, a rule no call used is
a surplus one, and the webhook makes no call at all.
"""
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))

from kbed import yamlish  # noqa: E402
from kbed.harness import CONTROLLER_SA, WEBHOOK_SA  # noqa: E402

RBAC = os.path.join(ROOT, "manifests", "rbac")
# Granted without being a request of its own: the OwnerReferencesPermissionEnforcement
# admission checks it when the controller sets blockOwnerDeletion on what it owns.
NOT_REQUESTS = {("etcd.k8s-operator.io", "etcdclusters/finalizers", "update")}


def granted():
    """(group, resource, verb) the controller's ClusterRole and Role grant."""
    out = set()
    for fn in sorted(os.listdir(RBAC)):
        if not fn.endswith(".yaml"):
            continue
        for doc in yamlish.load_file(os.path.join(RBAC, fn)):
            if not doc or doc.get("kind") not in ("ClusterRole", "Role"):
                continue
            if doc["metadata"]["name"] not in ("etcd-operator-controller", "etcd-operator-leader-election"):
                continue
            for rule in doc.get("rules") or []:
                for g in rule.get("apiGroups") or [""]:
                    for r in rule.get("resources") or []:
                        for v in rule.get("verbs") or []:
                            out.add((g, r, v))
    return out


class RBACOverTheWholeRun(unittest.TestCase):
    def setUp(self):
        path = os.environ.get("EO_RBAC_USAGE")
        if not path or not os.path.exists(path):
            self.skipTest("no record of a whole e2e run (test/run.sh sets EO_RBAC_USAGE)")
        with open(path) as f:
            self.rows = [json.loads(line) for line in f if line.strip()]
        if not any(r["user"] == CONTROLLER_SA for r in self.rows):
            self.skipTest("the run made no call as the controller")

    def test_no_call_refused(self):
        refused = sorted({(r["group"], r["resource"], r["verb"]) for r in self.rows
                          if r["user"] == CONTROLLER_SA and r["code"] == 403})
        self.assertEqual(refused, [], "calls the controller's RBAC refused (a missing rule)")

    def test_webhook_makes_no_call(self):
        self.assertEqual([r for r in self.rows if r["user"] == WEBHOOK_SA], [])

    def test_every_rule_used(self):
        used = {(r["group"], r["resource"], r["verb"]) for r in self.rows
                if r["user"] == CONTROLLER_SA and r["code"] != 403}
        surplus = sorted(granted() - used - NOT_REQUESTS)
        self.assertEqual(surplus, [], "rules granted that no call of the whole run used (a surplus rule)")


if __name__ == "__main__":
    unittest.main()
