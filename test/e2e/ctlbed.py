"""Helpers for the controller's end-to-end tests on the real control plane (kbed): start the
bed with the webhook and the controller, drive EtcdClusters, run the writer
and the prober inside the cluster network, and watch the invariants the
protocol promises while it works.

    with ControllerBed(webhook=True) as cb:
        cb.create("demo", 1); cb.wait_settled("demo", 1)
        with cb.load("demo") as load:          # writer + prober + monitor
            cb.scale("demo", 3); cb.wait_settled("demo", 3)
        load.check(self)                        # no acknowledged write lost, …

Controller flags used by the tests (documented in the controller's --help):
short step timeout, fast etcd heartbeat/election in new Pods, a short grace
before a Pod stuck in its init step counts as a lost volume.
"""
import base64
import contextlib
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))
sys.path.insert(0, HERE)

from kbed.harness import Bed  # noqa: E402
import etcd_load  # noqa: E402

MANIFESTS = os.path.join(ROOT, "manifests")
LOAD = os.path.join(HERE, "etcd_load.py")
FAST_FLAGS = ["--step-timeout", "40s", "--etcd-heartbeat-ms", "50", "--etcd-election-ms", "500",
              "--replace-grace", "6s", "--init-wait", "2m"]


def client_url(name, ns="default"):
    return "http://%s-client.%s.svc.cluster.local:2379" % (name, ns)


def member_url(name, k, ns="default", port=2379):
    return "http://%s-%d.%s-peer.%s.svc.cluster.local:%d" % (name, k, name, ns, port)


class ControllerBed:
    def __init__(self, webhook=False, controller_args=(), start_controller=True):
        self.bed = Bed(manifests=True)
        self.tls = {}  # (ns, name) -> (cacert, cert, key): speak https with these (use_tls)
        self.webhook = None
        self.controller = None
        self.controller_args = list(FAST_FLAGS) + list(controller_args)
        try:
            if webhook:
                self.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "namespace", "namespace.yaml"))
                for f in ("mutating-webhook.yaml", "validating-webhook.yaml"):
                    self.bed.kubectl("apply", "-f", os.path.join(MANIFESTS, "webhook", f))
                self.webhook = self.bed.start_webhook()
            if start_controller:
                self.start_controller()
        except BaseException:
            self.bed.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.bed.stop()

    # ---- the controller ------------------------------------------------
    def start_controller(self, extra=(), env=None, name="controller"):
        """BUILD/etcd-controller inside the bed, through the fault proxy; its log is logs/<name>.log."""
        self.controller = self.bed.start_controller(self.controller_args + list(extra), env=env, name=name)
        return self.controller

    def stop_controller(self, proc=None):
        proc = proc or self.controller
        return proc.stop() if proc else None

    def wait_exit(self, proc, timeout=120):
        """Wait for a controller to exit on its own (a crash point); its status."""
        end = time.time() + timeout
        while time.time() < end:
            if not proc.alive():
                return proc.popen.returncode
            time.sleep(0.2)
        raise AssertionError("controller did not exit within %ds; log tail:\n%s" % (timeout, proc.output()[-3000:]))

    # ---- EtcdClusters --------------------------------------------------
    def create(self, name, replicas, ns="default", **spec):
        spec = dict(spec, replicas=replicas)
        obj = {"apiVersion": "etcd.k8s-operator.io/v1alpha1", "kind": "EtcdCluster",
               "metadata": {"name": name, "namespace": ns}, "spec": spec}
        return self.bed.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def scale(self, name, replicas, ns="default"):
        """spec.replicas through kubectl (and the webhook when installed)."""
        return self.bed.kubectl("-n", ns, "patch", "etcdclusters", name, "--type", "merge",
                                "-p", json.dumps({"spec": {"replicas": replicas}}))

    def get(self, name, ns="default"):
        return self.bed.get("etcdclusters", name, ns=ns)

    def settled(self, name, n, ns="default"):
        ec = self.get(name, ns)
        st = ec.get("status") or {}
        ann = (ec["metadata"].get("annotations") or {}).get("etcd.k8s-operator.io/target-replicas")
        return (ec["spec"]["replicas"] == n and st.get("phase") == "Running" and st.get("replicas") == n
                and st.get("readyReplicas") == n and st.get("learners", 0) == 0 and not st.get("scaling")
                and st.get("observedGeneration") == ec["metadata"]["generation"] and ann is None)

    def wait_settled(self, name, n, timeout=150, ns="default"):
        try:
            self.bed.wait_for(lambda: self.settled(name, n, ns), timeout,
                              "%s settled at %d healthy voters" % (name, n), interval=0.3)
        except AssertionError:
            sys.stderr.write("status: %s\ncontroller log tail:\n%s\n" % (
                json.dumps(self.get(name, ns).get("status"), indent=1),
                self.controller.output()[-4000:] if self.controller else "(none)"))
            raise

    def wait_status(self, name, pred, what, timeout=120, ns="default"):
        self.bed.wait_for(lambda: pred(self.get(name, ns)), timeout, what, interval=0.3)

    def events(self, name, ns="default"):
        return [e for e in self.bed.events(ns) if (e.get("involvedObject") or {}).get("name") == name
                and (e.get("involvedObject") or {}).get("kind") == "EtcdCluster"]

    def reasons(self, name, ns="default"):
        evs = sorted(self.events(name, ns), key=lambda e: e["metadata"]["name"])
        return [e.get("reason") for e in evs]

    # ---- etcd, from inside the cluster network -------------------------
    def use_tls(self, name, ns="default"):
        """From now on reach this cluster over https with its <name>-client-tls
        (written under the bed's directory, 0600): the Load, etcd(), members()."""
        s = self.bed.get("secrets", name + "-client-tls", ns=ns)
        d = os.path.join(self.bed.dir, "tls-%s-%s" % (ns, name))
        os.makedirs(d, mode=0o700, exist_ok=True)
        paths = []
        for k in ("ca.crt", "tls.crt", "tls.key"):
            p = os.path.join(d, k)
            fd = os.open(p + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64decode(s["data"][k]))
            os.replace(p + ".tmp", p)  # a reader sees the old file or the new one
            paths.append(p)
        self.tls[(ns, name)] = tuple(paths)
        return tuple(paths)

    @contextlib.contextmanager
    def pod_uids(self, name, ns="default"):
        """While the block runs, every uid each member Pod of the cluster ever had
        ({pod name: {uid}}, sampled every 0.3 s; a Pod lives for seconds at least):
        how many times each was made again."""
        uids, stop = {}, threading.Event()

        def run():
            while not stop.wait(0.3):
                try:
                    for p in self.bed.list("pods", ns, selector="etcd.k8s-operator.io/cluster=" + name):
                        uids.setdefault(p["metadata"]["name"], set()).add(p["metadata"]["uid"])
                except Exception:  # noqa: BLE001 - an API blip: next round
                    pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            yield uids
        finally:
            stop.set()
            t.join(5)

    @contextlib.contextmanager
    def follow_tls(self, name, ns="default"):
        """While the block runs, the files of use_tls follow <name>-client-tls as a
        mounted Secret does (the Load's clients read them again when they change)."""
        stop = threading.Event()

        def run():
            rv = None
            while not stop.wait(0.5):
                try:
                    s = self.bed.get("secrets", name + "-client-tls", ns=ns)
                    if s and s["metadata"]["resourceVersion"] != rv:
                        self.use_tls(name, ns)
                        rv = s["metadata"]["resourceVersion"]
                except Exception:  # noqa: BLE001 - an API blip: next round
                    pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join(5)

    def client_url(self, name, ns="default"):
        url = client_url(name, ns)
        return url.replace("http://", "https://", 1) if (ns, name) in self.tls else url

    def etcd(self, url, path, body, timeout=5, tls=None):
        """One v3 JSON-gateway call from inside the cluster network; tls: (cacert,
        cert, key) for an https URL (default: the first cluster use_tls set up)."""
        if url.startswith("https") and tls is None:
            tls = next(iter(self.tls.values()), None)
        code = ("import sys,json,ssl,urllib.request as u\n"
                "c=None\n"
                "if len(sys.argv)>5:\n"
                "  c=ssl.create_default_context(cafile=sys.argv[5]); c.load_cert_chain(sys.argv[6],sys.argv[7])\n"
                "r=u.Request(sys.argv[1]+sys.argv[2],data=sys.argv[3].encode(),"
                "headers={'Content-Type':'application/json'})\n"
                "try:\n  print(u.urlopen(r,timeout=float(sys.argv[4]),context=c).read().decode())\n"
                "except u.HTTPError as e:\n  print(e.read().decode()); sys.exit(1)\n")
        r = self.bed.run_in_cluster(["python3", "-c", code, url, path, json.dumps(body), str(timeout)]
                                    + list(tls or ()), check=False, timeout=timeout + 30)
        if r.returncode != 0:
            raise AssertionError("etcd %s%s: %s %s" % (url, path, r.stdout, r.stderr[-500:]))
        return json.loads(r.stdout)

    def members(self, name, ns="default"):
        return self.etcd(self.client_url(name, ns), "/v3/cluster/member/list", {},
                         tls=self.tls.get((ns, name))).get("members", [])

    def count_keys(self, name, prefix, ns="default"):
        b = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        r = self.etcd(self.client_url(name, ns), "/v3/kv/range", {"key": b(prefix), "range_end": b(end),
                                                                  "keys_only": True},
                      tls=self.tls.get((ns, name)))
        return sorted(base64.b64decode(kv["key"]).decode() for kv in r.get("kvs", []))

    def load(self, name, prefix="k", ns="default", pods_invariant=True):
        return Load(self, name, prefix, ns, pods_invariant)


class Load:
    """A writer and a prober through the client Service, and a monitor that
    samples the EtcdCluster's status and the Pods for the protocol's
    invariants, while the block runs."""

    def __init__(self, cb, name, prefix, ns, pods_invariant=True):
        self.cb, self.name, self.prefix, self.ns = cb, name, prefix, ns
        self.pods_invariant = pods_invariant
        d = cb.bed.dir
        tag = "%s-%s-%d" % (name, prefix, int(time.time() * 1000))
        self.stopfile = os.path.join(d, "stop-" + tag)
        self.wlog = os.path.join(d, "writer-%s.log" % tag)
        self.plog = os.path.join(d, "prober-%s.log" % tag)
        self.samples = []
        self.violations = []
        self._stop = threading.Event()

    def __enter__(self):
        url = self.cb.client_url(self.name, self.ns)
        tls = self.cb.tls.get((self.ns, self.name))
        opts = ["--cacert", tls[0], "--cert", tls[1], "--key", tls[2]] if tls else []
        self.procs = [
            self.cb.bed.run_in_cluster(["python3", LOAD, "write", url, self.prefix, self.wlog, self.stopfile]
                                       + opts, background=True, name="writer-" + self.name),
            self.cb.bed.run_in_cluster(["python3", LOAD, "probe", url, self.plog, self.stopfile] + opts,
                                       background=True, name="prober-" + self.name)]
        self._mon = threading.Thread(target=self._monitor, daemon=True)
        self._mon.start()
        # wait for the first acknowledged write
        self.cb.bed.wait_for(lambda: etcd_load.read_log(self.wlog)[0], 30, "the writer's first write")
        return self

    def __exit__(self, *exc):
        time.sleep(1.0)  # a last second of load on the final size
        open(self.stopfile, "w").close()
        self._stop.set()
        self._mon.join(10)
        # both see the stop file after their in-flight request (2 s deadline at most)
        end = time.time() + 5
        while any(p.alive() for p in self.procs) and time.time() < end:
            time.sleep(0.05)

    def _monitor(self):
        while not self._stop.is_set():
            try:
                ec = self.cb.get(self.name, self.ns)
                st = ec.get("status") or {}
                pods = self.cb.bed.list("pods", self.ns,
                                        selector="etcd.k8s-operator.io/cluster=%s" % self.name)
                names = {p["metadata"]["name"] for p in pods}
                learners = [m for m in st.get("members", []) if m.get("learner")]
                voters = [m for m in st.get("members", []) if not m.get("learner")]
                self.samples.append((time.time(), st.get("replicas"), len(learners), st.get("phase")))
                if len(learners) > 1:
                    self.violations.append("two learners at once: %s" % learners)
                for m in voters if self.pods_invariant else []:
                    if m.get("name") and m["name"] not in names:
                        self.violations.append("voter %s without a Pod" % m["name"])
                cond = {c["type"]: c for c in st.get("conditions", [])}
                if (cond.get("Available") or {}).get("status") == "False" and st.get("clusterID"):
                    self.violations.append("Available=False: %s" % cond["Available"].get("message"))
            except Exception:  # noqa: BLE001 - an API blip is not a finding
                pass
            self._stop.wait(0.3)

    def result(self):
        acked, fails, times = etcd_load.read_log(self.wlog)
        probes_ok, probes_fail, streak, worst = 0, [], 0, 0
        first = times[0] if times else 0.0  # the Service had a voter behind it from here on
        try:
            with open(self.plog) as f:
                for line in f:
                    p = line.split(" ", 2)
                    if len(p) < 2 or float(p[1]) < first:
                        continue
                    if line.startswith("ok"):
                        probes_ok += 1
                        streak = 0
                    else:
                        probes_fail.append(line.strip())
                        streak += 1
                        worst = max(worst, streak)
        except OSError:
            pass
        return {"acked": acked, "fails": fails, "times": times, "probes_ok": probes_ok,
                "probes_fail": probes_fail, "probe_fail_streak": worst}

    def check(self, tc, allow_failed_puts=True):
        """No acknowledged write lost; the prober never saw quorum lost (no two
        failed probes in a row); the monitor saw no violation."""
        r = self.result()
        tc.assertGreater(len(r["acked"]), 0, "the writer never wrote")
        keys = set(self.cb.count_keys(self.name, self.prefix + "/", self.ns))
        missing = [s for s in r["acked"] if etcd_load.key(self.prefix, s) not in keys]
        tc.assertEqual(missing, [], "acknowledged writes missing afterwards: %s" % missing[:10])
        tc.assertLessEqual(r["probe_fail_streak"], 1, "quorum lost? %d probes failed in a row: %s"
                           % (r["probe_fail_streak"], r["probes_fail"][:10]))
        tc.assertEqual(self.violations[:5], [], "invariants broken while scaling")
        if not allow_failed_puts:
            tc.assertEqual(r["fails"][:5], [], "puts failed")
        return r
