"""Process bookkeeping: no orphans.

`serve` is a session leader and keeps the list of every descendant it has
ever seen (pid + start time, refreshed every half second, in
DIR/descendants). Whatever stops the bed kills the listed processes whose
start time still matches, so a reused pid is never touched; `stop` does it
again from the file even when `serve` itself had to be SIGKILLed.

Component is one long-running child (etcd, kube-apiserver, ...): started
with its log appended to DIR/logs/<name>.log, stopped with SIGTERM then
SIGKILL.
"""
import os
import signal
import subprocess
import time


def stat(pid):
    """(ppid, starttime) of a live (non-zombie) pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), fields[19]


def start_time(pid):
    st = stat(pid)
    return st[1] if st else None


def descendants(root):
    """{pid: starttime} of every live descendant of root."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(int(d))
            if st:
                kids.setdefault(st[0], []).append((int(d), st[1]))
    out, stack = {}, [root]
    while stack:
        p = stack.pop()
        for c, start in kids.get(p, []):
            if c not in out:
                out[c] = start
                stack.append(c)
    return out


def kill_listed(procs, grace=2.0):
    """SIGTERM, wait up to grace, SIGKILL: only pids whose start time still
    matches. Returns the pids that were alive."""
    alive = {p: s for p, s in procs.items() if start_time(p) == s}
    first = sorted(alive)
    for p in alive:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = {p: s for p, s in alive.items() if start_time(p) == s}
        time.sleep(0.05)
    for p, s in alive.items():
        if start_time(p) == s:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    return first


class Component:
    """One child process of the bed."""

    def __init__(self, name, argv, logs_dir, env=None, cwd=None):
        self.name, self.argv, self.env, self.cwd = name, list(argv), env, cwd
        self.log_path = os.path.join(logs_dir, name + ".log")
        self.proc = None
        self.starts = 0
        self.started_at = None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        if self.running():
            return
        with open(self.log_path, "ab") as log:
            log.write(("---- %s: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), " ".join(self.argv))).encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         close_fds=True, env=self.env, cwd=self.cwd)
        self.starts += 1
        self.started_at = time.time()

    def stop(self, grace=5.0):
        """SIGTERM, wait up to grace, SIGKILL. Returns the exit status (or None)."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def state(self):
        return {"pid": self.pid, "running": self.running(), "starts": self.starts,
                "exit": None if self.proc is None or self.proc.returncode is None else self.proc.returncode,
                "log": self.log_path}
