"""kubectl etcd upgrade, suspend and resume on the real control plane, with the
controller and the webhook running.

One bed, one cluster: three members on etcd 3.5.36 (staged by the webhook).
A downgrade is refused by the plugin before anything is written; `upgrade
--version 3.6.16 --yes` prints the roll order (the leader last), follows the
operator's messages and exits 0 once every member runs 3.6.16; then `suspend
--yes --wait` ends on phase Suspended and `resume --wait` on Running with
every member ready.

    cd test/e2e && PATH=<kubectl dir>:$PATH EO_BUILD=../../build PYTHONPATH=.. \
        python3 -m unittest -v test_plugin_lifecycle
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctlbed import ControllerBed  # noqa: E402
from plugintest import Plugin  # noqa: E402


class PluginLifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.plugin = Plugin()
        try:
            cls.cb = ControllerBed(webhook=True)
        except BaseException:
            cls.plugin.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cb.stop()
        cls.plugin.cleanup()

    def etcd(self, *args, timeout=300):
        return self.plugin.run(*args, kubeconfig=self.cb.bed.kubeconfig, timeout=timeout)

    def explain(self, r):
        return "exit %d\nstdout:\n%s\nstderr:\n%s" % (r.returncode, r.stdout, r.stderr)

    def test_upgrade_then_suspend_and_resume(self):
        cb = self.cb
        cb.create("lc", 3, version="3.5.36")
        cb.wait_settled("lc", 3, timeout=180)
        leader = cb.get("lc")["status"]["leader"]

        # refused by the rules before any write
        gen = cb.get("lc")["metadata"]["generation"]
        r = self.etcd("upgrade", "lc", "--version", "3.4.30", "--yes")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("refused by the admission rules (nothing was written)", r.stderr)
        self.assertIn("down to 3.4.30", r.stderr)
        self.assertEqual(cb.get("lc")["metadata"]["generation"], gen)
        # no terminal, no --yes: nothing written either
        r = self.etcd("upgrade", "lc", "--version", "3.6.16")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("Re-run with --yes", r.stderr)
        self.assertEqual(cb.get("lc")["spec"]["version"], "3.5.36")

        t0 = time.time()
        r = self.etcd("upgrade", "lc", "--version", "3.6.16", "--yes", "--timeout", "4m")
        took = time.time() - t0
        sys.stderr.write("\n" + r.stdout)
        self.assertEqual(r.returncode, 0, self.explain(r))
        plan = [l.strip() for l in r.stdout.splitlines() if l.strip()[:2] in ("1.", "2.", "3.")]
        self.assertEqual(len(plan), 3, r.stdout)
        self.assertTrue(plan[2].startswith("3. " + leader) and "leader" in plan[2], r.stdout)
        self.assertIn("upgrade:", r.stdout)      # the operator's messages, with elapsed time
        self.assertIn("Done: every member of default/lc runs 3.6.16", r.stdout)
        st = cb.get("lc")["status"]
        self.assertEqual((st["version"], st["phase"]), ("3.6.16", "Running"))
        # again: nothing to do
        r = self.etcd("upgrade", "lc", "--version", "3.6.16")
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn("Nothing to do", r.stdout)
        r = self.etcd("status", "lc")
        self.assertIn("3.6.16 (asked: 3.6.16)", r.stdout)

        r = self.etcd("suspend", "lc", "--yes", "--wait", "--timeout", "3m")
        sys.stderr.write(r.stdout)
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn("is Suspended", r.stdout)
        st = cb.get("lc")["status"]
        self.assertEqual(st["phase"], "Suspended")
        prog = [c for c in st.get("conditions", []) if c["type"] == "Progressing"]
        self.assertEqual(prog[0]["reason"], "Suspended", st)   # every member stopped, not stopping
        # suspended: an upgrade is refused by the rules
        r = self.etcd("upgrade", "lc", "--version", "3.6.17", "--yes")
        self.assertEqual(r.returncode, 1, self.explain(r))
        self.assertIn("suspended", r.stderr)

        r = self.etcd("resume", "lc", "--wait", "--timeout", "3m")
        sys.stderr.write(r.stdout)
        self.assertEqual(r.returncode, 0, self.explain(r))
        self.assertIn("is Running, 3 of 3 members ready", r.stdout)
        cb.wait_settled("lc", 3, timeout=30)
        sys.stderr.write("\n[test_plugin_lifecycle] upgrade 3 members 3.5.36 -> 3.6.16 in %.0f s\n"
                         % took)


if __name__ == "__main__":
    unittest.main()
