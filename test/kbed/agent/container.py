"""One container of a Pod on the bed: start (through sandbox.py), exit
handling, restart back-off, probes, and its containerStatuses entry.

The one idea: a container is a small state machine the pod worker steps
from a single thread — waiting → running → terminated → (back-off) → running
— and everything slow happens elsewhere: the process runs on its own, probes
run in their own threads and only flip booleans, kills are asynchronous
(SIGTERM now, SIGKILL at a deadline checked on a later step). So the worker's
step never blocks, and the status it publishes is always a pure function of
this state.

Every process is spawned from one long-lived thread (Spawner) and sets
PR_SET_PDEATHSIG, so when the bed process dies, however it dies, its
containers die with it; each container is its own session and process group,
so a signal reaches everything it started.
"""
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from . import podspec
from . import probes
from .rtutil import now_rfc3339

log = logging.getLogger("kbed.container")

SANDBOX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")


class Spawner:
    """Runs subprocess.Popen on one thread that lives as long as the bed, so
    PR_SET_PDEATHSIG (which fires when the *thread* that forked exits) means
    "when the bed dies"."""

    def __init__(self):
        self._q = queue.Queue()
        self._t = threading.Thread(target=self._run, name="spawner", daemon=True)
        self._t.start()

    def _run(self):
        while True:
            item = self._q.get()
            if item is None:
                return
            args, kw, box, done = item
            try:
                box.append(subprocess.Popen(args, **kw))
            except Exception as e:
                box.append(e)
            done.set()

    def popen(self, args, **kw):
        box, done = [], threading.Event()
        self._q.put((args, kw, box, done))
        done.wait()
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]


def killpg(pid, sig):
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class Container:
    def __init__(self, worker, spec, init):
        self.w, self.spec, self.init = worker, spec, init
        self.name = spec["name"]
        self.proc = None
        self.started_at = None          # monotonic, of the running instance
        has_inits = bool((worker.pod.get("spec") or {}).get("initContainers"))
        self.state = {"waiting": {"reason": "PodInitializing" if has_inits else "ContainerCreating"}}
        self.last_state = {}
        self.restart_count = 0
        self.instances = 0
        self.backoff = podspec.Backoff(worker.cfg["backoff_base"], worker.cfg["backoff_max"])
        self.pull_backoff = podspec.Backoff(worker.cfg["backoff_base"], worker.cfg["backoff_max"])
        self.next_start = 0.0
        self.done = False               # terminated for good (init success, or no restart)
        self.kill_deadline = None
        self._started_wall = None
        self._status_path = None
        self._log_path = None
        self.env = {}
        self.image_id = None            # repo@sha256:… of the image pulled
        self.startup = self.readiness = self.liveness = None
        self.probes_live = False

    # ---- state ---------------------------------------------------------
    @property
    def running(self):
        return self.proc is not None

    @property
    def started(self):
        return self.running and (self.startup is None or self.startup.ok)

    @property
    def ready(self):
        if not self.started or self.init:
            return False
        return self.readiness.ok if self.readiness is not None else True

    def status(self):
        img = self.spec.get("image", "")
        st = {"name": self.name, "image": img, "imageID": self.image_id or "",
              "ready": self.ready if not self.init else bool(self.done and self._succeeded()),
              "restartCount": self.restart_count, "state": self.state, "lastState": self.last_state}
        if not self.init:
            st["started"] = self.started
        if self.instances:
            st["containerID"] = "kbed://%s-%s-%d" % (self.w.uid[:8], self.name, self.instances)
        return st

    def _succeeded(self):
        t = self.state.get("terminated")
        return bool(t) and t.get("exitCode") == 0

    # ---- stepping ------------------------------------------------------
    def step(self, now):
        """Advance; returns nothing. Called only from the pod worker thread."""
        if self.proc is not None:
            rc = self.proc.poll()
            if rc is None:
                self._check_running(now)
                return
            self._exited(rc)
        if not self.done and self.proc is None and now >= self.next_start and not self.w.stopping:
            self._start(now)

    def _check_running(self, now):
        if self.kill_deadline is not None:
            if now >= self.kill_deadline:
                killpg(self.proc.pid, signal.SIGKILL)
            return
        if self.startup is not None and self.startup.ok and not self.probes_live:
            self._start_probes(after_startup=True)
        failed = None
        if self.startup is not None and self.startup.failed:
            failed = ("startup", self.startup.message)
        elif self.liveness is not None and self.liveness.failed:
            failed = ("liveness", self.liveness.message)
        if failed:
            self.w.event("Normal", "Killing", "Container %s failed %s probe, will be restarted" % (self.name, failed[0]))
            self.kill(self.w.grace_seconds())

    def kill(self, grace):
        """SIGTERM now; SIGKILL once grace seconds have passed (checked by step)."""
        if self.proc is None:
            return
        self._stop_probes()
        if grace <= 0:
            killpg(self.proc.pid, signal.SIGKILL)
            self.kill_deadline = time.monotonic()
        else:
            killpg(self.proc.pid, signal.SIGTERM)
            self.kill_deadline = time.monotonic() + grace

    def _exited(self, rc):
        pid, self.proc = self.proc.pid, None
        killpg(pid, signal.SIGKILL)     # whatever the container left behind
        self._stop_probes()
        ran = time.monotonic() - (self.started_at or time.monotonic())
        start_err = self._read_start_error()
        code = rc if rc >= 0 else 128 - rc
        term = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": self._started_wall, "finishedAt": now_rfc3339(),
                "containerID": "kbed://%s-%s-%d" % (self.w.uid[:8], self.name, self.instances)}
        if rc < 0:
            term["signal"] = -rc
        if start_err:
            term["reason"], term["message"] = "StartError", start_err
        elif code != 0:
            tail = self._log_tail()
            if self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError" and tail:
                term["message"] = tail
            if "address already in use" in tail:
                self.w.event("Warning", "KubesimNetwork", "container %s: address already in use — on the test bed "
                             "Pods share the node's network namespace (each with its own IP): listen on the Pod "
                             "IP ($(POD_IP) from status.podIP), not 0.0.0.0 or localhost" % self.name)
        self._terminated(term, ran, was_killed=self.kill_deadline is not None)
        self.kill_deadline = None

    def _terminated(self, term, ran, was_killed=False):
        policy = self.w.restart_policy
        code = term["exitCode"]
        if self.init:
            restart = code != 0 and policy != "Never"
        else:
            restart = policy == "Always" or (policy == "OnFailure" and (code != 0 or was_killed))
        if self.w.stopping:
            restart = False
        if not restart:
            self.state, self.done = {"terminated": term}, True
            if code != 0 and not self.w.stopping:
                self.w.event("Warning", "BackOff" if self.init else "Failed",
                             "Container %s exited with code %d" % (self.name, code))
            return
        delay = self.backoff.next_delay(ran)
        self.last_state = {"terminated": term}
        self.next_start = time.monotonic() + delay
        if delay > 0:
            msg = "back-off %s restarting failed container=%s pod=%s_%s(%s)" % (
                _dur(delay), self.name, self.w.name, self.w.ns, self.w.uid)
            self.state = {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
            self.w.event("Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                         % (self.name, self.w.name, self.w.ns, self.w.uid))
        else:
            self.state = {"terminated": term}

    def _read_start_error(self):
        try:
            with open(self._status_path) as f:
                return json.load(f).get("message")
        except (OSError, ValueError, TypeError):
            return None

    def _start(self, now):
        w = self.w
        image = self.spec.get("image", "")
        try:
            if w.faults.image_failing(image):
                raise podspec.ImageError('Failed to pull image "%s": rpc error: code = NotFound desc = '
                                         'failed to pull and unpack image "%s": not found (injected by the test bed)' % (image, image))
            img = w.k.pull(image)
        except podspec.ImageError as e:
            delay = self.pull_backoff.next_delay(0)
            self.next_start = now + max(delay, 0.5)
            reason = "ErrImagePull" if delay == 0 or self.state.get("waiting", {}).get("reason") != "ErrImagePull" else "ImagePullBackOff"
            if reason == "ImagePullBackOff":
                msg = 'Back-off pulling image "%s"' % image
            else:
                msg = str(e)
            self.state = {"waiting": {"reason": reason, "message": msg}}
            w.event("Warning", "Failed" if reason == "ErrImagePull" else "BackOff", msg)
            return
        if self.pull_backoff.current:
            w.event("Normal", "Pulled", 'Successfully pulled image "%s"' % image)
        self.pull_backoff.current = 0.0
        self.image_id = img.image_id
        try:
            self.env = w.container_env(self.spec, img)
            mounts = w.container_mounts(self.spec, self.env)
            argv = podspec.container_argv(self.spec, self.env, img.config)
            run_as = w.run_as(self.spec, img)
            csc = self.spec.get("securityContext") or {}
        except podspec.ConfigError as e:
            self.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
            self.next_start = now + 1.0
            w.event("Warning", "Failed", "Error: %s" % e)
            return
        except podspec.StartError as e:
            self.instances += 1
            if self.instances > 1:
                self.restart_count += 1
            self._started_wall = now_rfc3339()
            self.started_at = time.monotonic()
            w.event("Warning", "Failed", "Error: failed to start container %s: %s" % (self.name, e))
            self._terminated({"exitCode": 128, "reason": "StartError", "message": str(e),
                              "startedAt": self._started_wall, "finishedAt": self._started_wall}, 0)
            return
        self.instances += 1
        if self.instances > 1:
            self.restart_count += 1
        d = w.pod_dir
        scratch = os.path.join(d, "sandbox", "%s-%d" % (self.name, self.instances))
        os.makedirs(scratch, exist_ok=True)
        self._status_path = os.path.join(d, "start-%s.json" % self.name)
        try:
            os.unlink(self._status_path)
        except OSError:
            pass
        spec = {"argv": argv, "env": self.env, "rootfs": img.rootfs,
                "cwd": self.spec.get("workingDir") or img.config.get("WorkingDir") or "/",
                "hostname": w.hostname, "hosts": w.cfg["hosts_path"], "scratch": scratch, "netns": w.netns,
                "mounts": mounts, "status": self._status_path, "parent": os.getpid(),
                "uid": run_as[0], "gid": run_as[1], "groups": run_as[2],
                "readOnlyRoot": bool(csc.get("readOnlyRootFilesystem")),
                "noNewPrivs": csc.get("allowPrivilegeEscalation") is False}
        spec_path = os.path.join(d, "spec-%s.json" % self.name)
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        logf = self._open_log()
        try:
            self.proc = w.spawner.popen([sys.executable, "-S", SANDBOX, spec_path], stdin=subprocess.DEVNULL,
                                        stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                                        close_fds=True)
        finally:
            logf.close()
        self.started_at = time.monotonic()
        self._started_wall = now_rfc3339()
        self.state = {"running": {"startedAt": self._started_wall}}
        self.kill_deadline = None
        w.event("Normal", "Started", "Started container %s" % self.name)
        if not self.init:
            self._start_probes(after_startup=False)

    def _log_tail(self, limit=2048):
        try:
            with open(self._log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self._log_path) - limit))
                return f.read().decode("utf-8", "replace").strip()
        except (OSError, TypeError):
            return ""

    def _open_log(self):
        path = os.path.join(self.w.cfg["logs_dir"], "%s_%s_%s.log" % (self.w.ns, self.w.name, self.name))
        self._log_path = path
        if self.instances > 1 and os.path.exists(path):
            os.replace(path, path[:-4] + ".previous.log")
        return open(path, "wb")

    # ---- probes --------------------------------------------------------
    def _start_probes(self, after_startup):
        def mk(kind):
            p = self.spec.get(kind + "Probe")
            if not p:
                return None
            pr = probes.Prober(kind, p, self.w.ip, self.spec, self.proc.pid, self.env, self._probe_note)
            pr.start()
            return pr
        if not after_startup:
            self.startup = mk("startup")
            if self.startup is not None:
                return
        self.readiness, self.liveness = mk("readiness"), mk("liveness")
        self.probes_live = True

    def _probe_note(self, prober, failure=None):
        if failure:
            self.w.event("Warning", "Unhealthy", "%s probe failed: %s" % (prober.kind.capitalize(), failure))
        self.w.wake.set()

    def _stop_probes(self):
        for p in (self.startup, self.readiness, self.liveness):
            if p is not None:
                p.stop()
        self.startup = self.readiness = self.liveness = None
        self.probes_live = False


def _dur(sec):
    sec = int(round(sec))
    if sec >= 60:
        return "%dm%ds" % (sec // 60, sec % 60)
    return "%ds" % sec
