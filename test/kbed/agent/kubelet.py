"""The bed's kubelet: runs every Pod that kube-scheduler bound to one of the
agent's Nodes as real processes and keeps the Pod's status the way kubelet
does, through the real API server.

The one idea: one worker thread per Pod (by uid) owns that Pod's containers
and is the only writer of its status; it steps a few small state machines
(container.py) every quarter second or when woken, and publishes status only
when it changed. Workers of the same namespace/name are chained: a Pod
recreated under the same name (a StatefulSet replacing a deleted member)
starts only after its predecessor's processes are gone, so two etcd processes
never share a volume — what the API's graceful deletion guarantees in a
cluster.

Deletion: when a Pod gets metadata.deletionTimestamp (graceful deletion) the
worker sends SIGTERM to every container's process group, SIGKILL after the
grace period (metadata.deletionGracePeriodSeconds, else
spec.terminationGracePeriodSeconds, default 30; 0 kills at once) and then
removes the Pod object from the store. When the object is deleted outright
(DELETED event) the same termination runs without the final delete.
"""
import logging
import os
import queue
import shutil
import threading
import time

from . import container as ctr
from . import images
from . import podspec
from . import network
from . import podnet
from . import volumes as vols
from .rtutil import IPAllocator, Recorder, is_terminating, now_rfc3339

log = logging.getLogger("kbed.kubelet")
# How often a running Pod's Secret and ConfigMap volumes are brought in step
# (kubelet: its sync period plus the cache's TTL, up to about a minute).
VOLUME_REFRESH_SECONDS = 2.0



class NotReady(Exception):
    """A volume cannot be set up yet (claim not bound, object missing)."""


class PodWorker(threading.Thread):
    def __init__(self, kubelet, pod, prev):
        md = pod["metadata"]
        super().__init__(name="pod-%s/%s" % (md.get("namespace"), md["name"]), daemon=True)
        self.k, self.cfg, self.store = kubelet, kubelet.cfg, kubelet.store
        self.faults, self.spawner = kubelet.faults, kubelet.spawner
        self.pod, self.prev = pod, prev
        if not pod.get("kind"):
            pod["kind"], pod["apiVersion"] = "Pod", "v1"
        self.node = (pod.get("spec") or {}).get("nodeName")
        self.host_ip = kubelet.node_ips[self.node]
        self.uid, self.ns, self.name = md["uid"], md.get("namespace", "default"), md["name"]
        spec = pod.get("spec") or {}
        self.hostname = spec.get("hostname") or self.name
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.pod_dir = os.path.join(self.cfg["dir"], "pods", self.uid)
        self.ip = None
        self.netns = None
        self.resolv_conf = None
        self.inits = [ctr.Container(self, c, True) for c in spec.get("initContainers") or []]
        self.mains = [ctr.Container(self, c, False) for c in spec.get("containers") or []]
        self.vol_dirs = None
        self.claim_uids = set()        # uids of the PVCs this Pod has mounted
        self.mount_error = None
        self.wake = threading.Event()
        self.done = threading.Event()
        self.stopping = False
        self._stop_req = None          # (grace, delete_object)
        self._published = None
        self._transitions = {}
        self._start_time = now_rfc3339()
        self._last_mount_event = 0.0
        self._last_refresh = time.monotonic()

    # ---- requests from the kubelet (any thread) -------------------------
    def update(self, pod):
        if not pod.get("kind"):
            pod["kind"], pod["apiVersion"] = "Pod", "v1"
        self.pod = pod
        self.wake.set()

    def request_stop(self, grace, delete_object):
        req = self._stop_req
        if req is None or grace < req[0] or (delete_object and not req[1]):
            self._stop_req = (grace if req is None else min(grace, req[0]), delete_object or bool(req and req[1]))
        self.wake.set()

    def grace_seconds(self):
        md, spec = self.pod.get("metadata") or {}, self.pod.get("spec") or {}
        g = md.get("deletionGracePeriodSeconds") if md.get("deletionTimestamp") else None
        if g is None:
            g = spec.get("terminationGracePeriodSeconds")
        return 30 if g is None else max(0, int(g))

    def event(self, etype, reason, message):
        self.k.recorder.event(self.pod, etype, reason, message)

    # ---- the worker ----------------------------------------------------
    def run(self):
        try:
            if self.prev is not None:
                while not self.prev.done.wait(0.2):
                    if self._stop_req is not None:
                        break
            if self._stop_req is None:
                self._setup()
                while self._stop_req is None:
                    self._step()
                    self._publish()
                    self.wake.wait(0.25)
                    self.wake.clear()
        except Exception:
            log.exception("pod %s/%s worker failed", self.ns, self.name)
        finally:
            self._shutdown()

    def _setup(self):
        os.makedirs(self.pod_dir, exist_ok=True)
        self.ip = self.k.ips[self.node].allocate()
        self.netns = self.k.podnet.create(self.uid, self.ip)
        spec = self.pod.get("spec") or {}
        if spec.get("dnsPolicy", "ClusterFirst") in ("ClusterFirst", "ClusterFirstWithHostNet"):
            self.resolv_conf = os.path.join(self.pod_dir, "resolv.conf")
            with open(self.resolv_conf, "w") as f:
                f.write(network.resolv_conf(self.ns, self.cfg.get("cluster_domain") or "cluster.local"))
        self._publish()

    def _step(self):
        now = time.monotonic()
        if self.vol_dirs is None:
            if now - self._last_mount_event < 1.0 and self.mount_error:
                return
            try:
                self.vol_dirs = self._prepare_volumes()
                self.mount_error = None
            except (NotReady, podspec.ConfigError, OSError) as e:
                self._last_mount_event = now
                if str(e) != self.mount_error:
                    self.event("Warning", "FailedMount", "MountVolume.SetUp failed: %s" % e)
                self.mount_error = str(e)
                return
        if now - self._last_refresh >= VOLUME_REFRESH_SECONDS:
            self._last_refresh = now
            self._refresh_volumes()
        for c in self.inits:
            if not c.done:
                c.step(now)
                if not c.done:
                    return
            if not c._succeeded():
                return          # an init container failed for good: Pod Failed
        for c in self.mains:
            c.step(now)

    # ---- volumes & environment -----------------------------------------
    def _lookup(self, kind, ns, name):
        try:
            return self.store.get(kind, ns, name)
        except Exception:
            return None

    def _prepare_volumes(self):
        out, claims = {}, set()
        spec = self.pod.get("spec") or {}
        base = os.path.join(self.pod_dir, "volumes")
        for v in spec.get("volumes") or []:
            name = v.get("name")
            dest = os.path.join(base, name)
            if "emptyDir" in v:
                os.makedirs(dest, exist_ok=True)
                vols.apply_fs_group(dest, self.fs_group())
                out[name] = dest
            elif "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"].get("claimName")
                got = self.k.volumes.bound_dir(self.ns, claim)
                if got is None:
                    raise NotReady('persistentvolumeclaim "%s" not found or not bound yet' % claim)
                out[name] = got[0]
                claims.add(got[1])
                vols.apply_fs_group(got[0], self.fs_group(), (spec.get("securityContext") or {}).get("fsGroupChangePolicy"))
            elif "hostPath" in v:
                hp = v["hostPath"]
                if hp.get("type") == "DirectoryOrCreate":
                    os.makedirs(hp["path"], exist_ok=True)
                if not os.path.exists(hp["path"]):
                    raise NotReady("hostPath %s does not exist" % hp["path"])
                out[name] = hp["path"]
            elif any(k in v for k in ("configMap", "secret", "downwardAPI", "projected")):
                out[name] = vols.materialise(self.pod, v, dest, self._lookup, self._sa_token)
                vols.apply_fs_group(out[name], self.fs_group())
            else:
                raise podspec.ConfigError('volume "%s": the test bed supports emptyDir, persistentVolumeClaim, '
                                          'hostPath, configMap, secret, downwardAPI and projected' % name)
        self.claim_uids = claims
        return out

    def _refresh_volumes(self):
        """Secrets and ConfigMaps changed under a running Pod reach its files (a
        rotated certificate, without a restart), as kubelet's periodic sync does."""
        for v in (self.pod.get("spec") or {}).get("volumes") or []:
            dest = (self.vol_dirs or {}).get(v.get("name"))
            if dest is None or not vols.refreshable(v):
                continue
            try:
                if vols.refresh(self.pod, v, dest, self._lookup):
                    vols.apply_fs_group(dest, self.fs_group())
                    log.info("pod %s/%s: volume %s refreshed", self.ns, self.name, v.get("name"))
            except (podspec.ConfigError, OSError) as e:
                log.debug("pod %s/%s: volume %s not refreshed: %s", self.ns, self.name, v.get("name"), e)

    def container_mounts(self, spec, env):
        mounts, targets = [], set()
        vols_spec = {v.get("name"): v for v in (self.pod.get("spec") or {}).get("volumes") or []}
        for m in spec.get("volumeMounts") or []:
            v = vols_spec.get(m.get("name"))
            if v is None or m.get("name") not in self.vol_dirs:
                raise podspec.ConfigError('volumeMount "%s" names no volume of the Pod' % m.get("name"))
            src = self.vol_dirs[m["name"]]
            sub = m.get("subPath") or podspec.expand(m.get("subPathExpr") or "", env)
            if sub:
                sub = os.path.normpath(sub)
                if sub.startswith("..") or os.path.isabs(sub):
                    raise podspec.ConfigError("subPath %r must be a relative path inside the volume" % sub)
                src = os.path.join(src, sub)
                if not os.path.exists(src):
                    os.makedirs(src)
            ro = bool(m.get("readOnly")) or any(k in v for k in ("configMap", "secret", "downwardAPI", "projected"))
            mounts.append({"source": src, "target": m["mountPath"], "readOnly": ro, "file": os.path.isfile(src)})
            targets.add(m["mountPath"].rstrip("/"))
        if self.resolv_conf and "/etc/resolv.conf" not in targets:
            mounts.append({"source": self.resolv_conf, "target": "/etc/resolv.conf", "readOnly": True, "file": True})
        return mounts

    def _sa_token(self, src):
        """A bound token for a serviceAccountToken projection (TokenRequest, as kubelet does)."""
        spec = self.pod.get("spec") or {}
        aud = [src["audience"]] if src.get("audience") else None
        return self.k.store.token(self.ns, spec.get("serviceAccountName") or "default", self.name, self.uid,
                                  max(600, int(src.get("expirationSeconds") or 3607)), aud)

    def fs_group(self):
        return ((self.pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")

    def run_as(self, cspec, img):
        """(uid, gid, supplementary groups) the container runs as: its
        securityContext over the Pod's over the image's User, as kubelet and
        the runtime decide (an unset group: the user's group in the image's
        /etc/passwd, else 0)."""
        psc = (self.pod.get("spec") or {}).get("securityContext") or {}
        csc = cspec.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        nonroot = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        user = (img.config or {}).get("User") or ""
        if uid is None:
            try:
                uid, img_gid, numeric = images.parse_user(user, img.rootfs)
            except KeyError as e:
                raise podspec.ConfigError(str(e))
            if nonroot and not numeric:
                raise podspec.ConfigError("container has runAsNonRoot and image has non-numeric user (%s), "
                                          "cannot verify user is non-root" % user.partition(":")[0])
            if gid is None:
                gid = img_gid
        if nonroot and uid == 0:
            raise podspec.ConfigError("container has runAsNonRoot and image will run as root")
        if gid is None:
            gid = images.passwd_gid(img.rootfs, uid)
        groups = list(psc.get("supplementalGroups") or [])
        if psc.get("fsGroup") is not None:
            groups.append(psc["fsGroup"])
        return uid, gid, groups

    def container_env(self, spec, img):
        """The image's Env, then HOSTNAME and the service variables, then the container's."""
        base = podspec.image_env(img.config)
        base["HOSTNAME"] = self.hostname
        base.update(self.k.service_env())
        pod = dict(self.pod)
        pod["status"] = dict(pod.get("status") or {}, podIP=self.ip, hostIP=self.host_ip, podIPs=[{"ip": self.ip}])
        return podspec.build_env(pod, spec, self._lookup, base)


    # ---- status --------------------------------------------------------
    def _phase(self):
        for c in self.inits:
            t = c.state.get("terminated")
            if c.done and t and t.get("exitCode") != 0:
                return "Failed"
        if not all(c.done for c in self.inits):
            return "Pending"
        running = stopped = succeeded = waiting = 0
        for c in self.mains:
            if c.running:
                running += 1
            elif "terminated" in c.state:
                stopped += 1
                succeeded += c.state["terminated"].get("exitCode") == 0
            elif c.last_state.get("terminated"):
                stopped += 1
            else:
                waiting += 1
        if waiting:
            return "Pending"
        if running:
            return "Running"
        if stopped:
            if self.restart_policy == "Always":
                return "Running"
            if stopped == succeeded:
                return "Succeeded"
            return "Running" if self.restart_policy == "OnFailure" else "Failed"
        return "Pending"

    def _cond(self, ctype, ok, reason=None, message=None):
        status = "True" if ok else "False"
        prev = self._transitions.get(ctype)
        if prev is None or prev[0] != status:
            self._transitions[ctype] = (status, now_rfc3339())
        c = {"type": ctype, "status": status, "lastProbeTime": None,
             "lastTransitionTime": self._transitions[ctype][1]}
        if not ok and reason:
            c["reason"], c["message"] = reason, message
        return c

    def status(self):
        init_ok = all(c.done and c._succeeded() for c in self.inits)
        unready = [c.name for c in self.mains if not c.ready]
        not_ready_msg = "containers with unready status: [%s]" % " ".join(unready)
        init_msg = "containers with incomplete status: [%s]" % " ".join(c.name for c in self.inits if not c.done)
        conds = [
            self._cond("Initialized", init_ok, "ContainersNotInitialized", init_msg),
            self._cond("Ready", init_ok and not unready, "ContainersNotReady", not_ready_msg),
            self._cond("ContainersReady", init_ok and not unready, "ContainersNotReady", not_ready_msg),
            self._cond("PodScheduled", True),
        ]
        st = {"phase": self._phase(), "conditions": conds, "hostIP": self.host_ip, "hostIPs": [{"ip": self.host_ip}],
              "startTime": self._start_time,
              "containerStatuses": [c.status() for c in self.mains]}
        if self.ip:
            st["podIP"], st["podIPs"] = self.ip, [{"ip": self.ip}]
        if self.inits:
            st["initContainerStatuses"] = [c.status() for c in self.inits]
        return st

    def _publish(self):
        st = self.status()
        if st == self._published:
            return
        uid = self.uid

        def fn(o):
            if o["metadata"]["uid"] != uid:
                return False
            qos = (o.get("status") or {}).get("qosClass")   # the API server sets it; immutable
            o["status"] = dict(st, qosClass=qos) if qos else st
        try:
            self.pod = self.store.mutate("pods", self.ns, self.name, fn, subresource="status")
            self._published = st
        except Exception as e:   # the object is gone: the kubelet's event handler stops us
            if getattr(e, "code", 0) != 404:
                log.warning("status of %s/%s not written: %s", self.ns, self.name, e)

    # ---- termination ---------------------------------------------------
    def _shutdown(self):
        self.stopping = True
        grace, delete_object = self._stop_req or (self.grace_seconds(), False)
        if grace > 0 and any(c.running for c in self.inits + self.mains):
            self.event("Normal", "Killing", "Stopping container %s" % ", ".join(c.name for c in self.mains))
        for c in self.inits + self.mains:
            c.kill(grace)
        deadline = time.monotonic() + grace + 10
        while any(c.running for c in self.inits + self.mains):
            now = time.monotonic()
            shorter = (self._stop_req or (grace,))[0]
            if shorter < grace:   # a second DELETE shortened the grace period: kubelet restarts
                grace = shorter   # the kill with the shorter one, counted from now
                for c in self.inits + self.mains:
                    if c.running and c.kill_deadline is not None:
                        c.kill_deadline = min(c.kill_deadline, now + grace)
            for c in self.inits + self.mains:
                if c.running:
                    c.step(now)
            if now > deadline:
                log.error("pod %s/%s: processes survived SIGKILL", self.ns, self.name)
                break
            time.sleep(0.05)
        self.k.podnet.remove(self.uid)
        if self.ip:
            self.k.ips[self.node].release(self.ip)
        shutil.rmtree(self.pod_dir, ignore_errors=True)
        if delete_object:
            try:
                self.store.delete("pods", self.ns, self.name, uid=self.uid, grace_seconds=0)
            except Exception as e:
                log.debug("pod %s/%s already gone: %s", self.ns, self.name, e)
        self.done.set()
        self.k.worker_done(self)


class Kubelet:
    """Watches Pods (through store events and a periodic resync) and runs a PodWorker per Pod."""

    def __init__(self, store, cfg, volumes, faults, spawner):
        self.store, self.cfg, self.volumes = store, cfg, volumes
        self.faults, self.spawner = faults, spawner
        self.node_ips = dict(cfg["node_ips"])
        self.ips = {n: IPAllocator(cfg["pod_prefixes"][n]) for n in cfg["nodes"]}
        self.down = set()      # nodes whose processes a fault stopped: their Pods are left alone
        self.podnet = podnet.PodNetworks()
        self.recorder = Recorder(store, "kubelet", cfg["nodes"][0])
        self.workers = {}      # uid -> PodWorker (also finished ones whose Pod object remains)
        self.by_name = {}      # (ns, name) -> newest worker
        self._lock = threading.Lock()
        self._q = queue.Queue()
        self._closing = False
        self._t = threading.Thread(target=self._loop, name="kubelet", daemon=True)
        self._sa = None
        self.images = None     # images.Store, set by the agent

    def start(self):
        self._t.start()

    def service_env(self):
        """KUBERNETES_SERVICE_* from the `kubernetes` Service, as kubelet sets them."""
        if self._sa is None:
            try:
                svc = self.store.get("services", "default", "kubernetes")
                ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["port"]
                self._sa = {"KUBERNETES_SERVICE_HOST": ip, "KUBERNETES_SERVICE_PORT": str(port),
                            "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
                            "KUBERNETES_PORT": "tcp://%s:%d" % (ip, port)}
            except Exception:
                return {}
        return self._sa

    def pull(self, image):
        """The image from the bed's store (images.Image); podspec.ImageError as kubelet words it."""
        if self.images is None:
            raise podspec.ImageError('Failed to pull image "%s": the test bed has no image store' % image)
        try:
            return self.images.pull(image)
        except images.PullError as e:
            raise podspec.ImageError('Failed to pull image "%s": %s' % (image, e)) from None

    def on_event(self, etype, obj):
        self._q.put((etype, obj))

    def _loop(self):
        last_sync = 0.0
        while not self._closing:
            try:
                item = self._q.get(timeout=0.5)
            except queue.Empty:
                item = None
            if self._closing:
                return
            try:
                if item is not None:
                    self._handle(*item)
                if time.monotonic() - last_sync > 2.0:
                    last_sync = time.monotonic()
                    self._resync()
            except Exception:
                log.exception("kubelet loop")

    def _handle(self, etype, pod):
        md = pod["metadata"]
        uid, key = md["uid"], (md.get("namespace", "default"), md["name"])
        with self._lock:
            if self._closing:
                return
            w = self.workers.get(uid)
            if etype == "DELETED":
                if w is not None:
                    w.request_stop(self._grace(pod), False)
                    if w.done.is_set():
                        self.workers.pop(uid, None)
                return
            node = (pod.get("spec") or {}).get("nodeName")
            if node not in self.node_ips or node in self.down:
                return
            if w is None:
                if is_terminating(pod) or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    if is_terminating(pod):
                        self._delete_now(pod)
                    return
                w = PodWorker(self, pod, self.by_name.get(key))
                self.workers[uid], self.by_name[key] = w, w
                w.start()
                return
            w.update(pod)
            if is_terminating(pod):
                if w.done.is_set():
                    self._delete_now(pod)
                else:
                    w.request_stop(self._grace(pod), True)

    @staticmethod
    def _grace(pod):
        md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        g = md.get("deletionGracePeriodSeconds") if md.get("deletionTimestamp") else None
        if g is None:
            g = spec.get("terminationGracePeriodSeconds")
        return 30 if g is None else max(0, int(g))

    def _delete_now(self, pod):
        md = pod["metadata"]
        try:
            self.store.delete("pods", md.get("namespace", "default"), md["name"], uid=md["uid"], grace_seconds=0)
        except Exception:
            pass

    def _resync(self):
        pods, _ = self.store.list("pods")
        seen = set()
        for p in pods:
            seen.add(p["metadata"]["uid"])
            self._handle("MODIFIED", p)
        with self._lock:
            gone = [w for uid, w in self.workers.items() if uid not in seen]
        for w in gone:
            self._handle("DELETED", w.pod)
        self.volumes.sweep()

    def worker_done(self, w):
        with self._lock:
            if self.by_name.get((w.ns, w.name)) is w:
                del self.by_name[(w.ns, w.name)]
            if w._stop_req and (w._stop_req[1] or not self._exists(w)):
                self.workers.pop(w.uid, None)

    def _exists(self, w):
        try:
            return self.store.get("pods", w.ns, w.name)["metadata"]["uid"] == w.uid
        except Exception:
            return False

    def find(self, ns, name):
        with self._lock:
            w = self.by_name.get((ns, name))
        if w is None or w.done.is_set():
            raise LookupError('pod "%s" in namespace "%s" is not running on the test bed' % (name, ns))
        return w

    def lingering(self, ns):
        """Names of Pods in ns whose processes are still running or stopping although
        the Pod object is gone or terminating. Read against the store itself, not
        against the events this kubelet has handled so far, so a controller that
        has just deleted a Pod sees it lingering at once."""
        with self._lock:
            ws = [w for w in self.workers.values() if w.ns == ns and not w.done.is_set()]
        out = set()
        for w in ws:
            if w._stop_req is not None:
                out.add(w.name)
                continue
            try:
                cur = self.store.get("pods", w.ns, w.name)
            except Exception:
                cur = None
            if cur is None or cur["metadata"].get("uid") != w.uid or is_terminating(cur):
                out.add(w.name)
        return out

    def in_use(self):
        with self._lock:
            ws = [w for w in self.workers.values() if not w.done.is_set()]
        out = set()
        for w in ws:
            out |= w.claim_uids
        return out

    def stop_node(self, node):
        """Fault: the node's processes die at once; its Pod objects stay, as when a machine fails."""
        with self._lock:
            self.down.add(node)
            ws = [w for w in self.workers.values() if w.node == node and not w.done.is_set()]
        for w in ws:
            w.request_stop(0, False)
        for w in ws:
            w.done.wait(15)
        with self._lock:
            for w in ws:
                self.workers.pop(w.uid, None)
                if self.by_name.get((w.ns, w.name)) is w:
                    del self.by_name[(w.ns, w.name)]
        return [w.name for w in ws]

    def start_node(self, node):
        with self._lock:
            self.down.discard(node)

    def stop(self, max_grace=None):
        """Terminate every Pod's processes (the bed is stopping); the Pod objects stay."""
        with self._lock:
            self._closing = True
            ws = list(self.workers.values())
        for w in ws:
            g = w.grace_seconds()
            w.request_stop(g if max_grace is None else min(g, max_grace), False)
        for w in ws:
            w.done.wait(w.grace_seconds() + 15 if max_grace is None else max_grace + 15)
