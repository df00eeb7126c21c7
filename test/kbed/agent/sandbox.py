"""Container launcher: puts one process into a private mount (and UTS)
namespace with its volumes at their mountPaths and the bed's hosts file over
/etc/hosts, then execs the container's command.

Every Pod container has an image (spec "rootfs", the agent's unpacked
image): setup_image() builds an overlay of it, mounts /proc, /dev, /sys, the
volumes and the bed's files into it and pivot_roots there, so the process
sees the image and its volumes and nothing of the host. What follows about
shadowing is the host-root mode, left for `sandbox.py --hosts` (`kbed run`:
a host program inside the bed's network) and a host without /etc/hosts. The kubelet runs
`python3 sandbox.py SPEC.json` for every container start; the exec keeps the
pid, so the kubelet's child *is* the container process.

The one idea that makes it safe: a mount path that does not exist on the host
(/var/lib/etcd on a machine without it, /etc/etcd, /data) is never created on
the host. Inside the namespace the deepest existing ancestor A of that path is
*shadowed*: A is bind-mounted aside into a private tmpfs (the "scratch"), a
fresh tmpfs is mounted over A, and every entry A had is recreated in it —
directories and files as bind mounts of the originals, symlinks copied — so
the process still sees all of A, but the new mount point is created in the
tmpfs, which only this namespace sees. When A is "/" itself (a top-level path
such as /data) the same shadow is built as a new root in the scratch and the
process is chrooted into it. Directories inside a volume are the exception:
they are the container's own storage, so nested mount points are created in
them as a container runtime does.

Every bind source (volume dirs, the hosts file, the scratch) is opened as an
O_PATH descriptor before anything is mounted and mounted from
/proc/self/fd/N, so a volume mounted over (say) /tmp cannot hide the source of
a later one. The process gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the
kubelet thread that spawned it even if the bed is killed outright.

SPEC (JSON): argv (argv[0] looked up in env's PATH inside the root when it
has no slash), env, cwd, hostname, hosts, rootfs, netns, scratch (an
existing empty directory owned by the kubelet), mounts [{source, target,
readOnly, file}], uid, gid, groups, readOnlyRoot, noNewPrivs, status (a file
for a start error: {"reason", "message"}; then exit 128).

Also a CLI for tests and people: `sandbox.py --hosts FILE -- CMD ARGS…` runs
CMD with only the hosts file replaced ("inside the cluster network").
"""
import ctypes
import json
import os
import signal
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155            # x86_64; glibc has no wrapper
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)


class SandboxError(Exception):
    pass


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise SandboxError("%s: %s" % (what, os.strerror(e)))


def _mount(src, target, fstype, flags, data=None):
    _check(_libc.mount(src.encode() if src else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None),
           "mount %s on %s (%s)" % (src, target, fstype or "bind"))


def _bind(src, target, readonly=False, rec=True):
    _mount(src, target, None, MS_BIND | (MS_REC if rec else 0))
    if readonly:
        _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


class Namespace:
    """Builds the container's view; see the module comment."""

    def __init__(self, scratch_fd_path, image_root=None):
        self.scratch = scratch_fd_path
        self.root = image_root or "/"
        self.image = image_root is not None   # an overlay of the image: every path is ours
        self.ours = set()      # real paths (under root) this namespace may create entries in
        self.stash_n = 0

    def host_path(self, path):
        """A container path as seen from here (before any chroot)."""
        return self.root.rstrip("/") + "/" + path.lstrip("/") if self.root != "/" else path

    def resolve(self, path):
        """(deepest existing real path, missing components) of a container path,
        following symlinks inside the root."""
        comps = [c for c in path.split("/") if c and c != "."]
        cur = self.root
        hops = 0
        while comps:
            c = comps.pop(0)
            if c == "..":
                if cur != self.root:
                    cur = os.path.dirname(cur)
                continue
            cand = os.path.join(cur, c)
            if os.path.islink(cand):
                hops += 1
                if hops > 40:
                    raise SandboxError("too many symlinks resolving %s" % path)
                link = os.readlink(cand)
                if link.startswith("/"):
                    cur = self.root
                comps = [x for x in link.split("/") if x and x != "."] + comps
                continue
            if os.path.lexists(cand):
                cur = cand
                continue
            return cur, [c] + comps
        return cur, []

    def shadow(self, a):
        """Cover existing directory a with a tmpfs that shows a's entries."""
        st = os.stat(a)
        stash = os.path.join(self.scratch, "stash", str(self.stash_n))
        self.stash_n += 1
        os.makedirs(stash)
        _bind(a, stash)
        _mount("tmpfs", a, "tmpfs", 0, "mode=%o" % stat.S_IMODE(st.st_mode))
        os.chown(a, st.st_uid, st.st_gid)
        self._populate(stash, a)
        self.ours.add(a)

    def new_root(self):
        """Shadow "/" by building a root in the scratch; chroot happens at the end."""
        root = os.path.join(self.scratch, "root")
        os.mkdir(root)
        _mount("tmpfs", root, "tmpfs", 0, "mode=755")
        self._populate("/", root)
        self.root = root
        self.ours.add(root)

    @staticmethod
    def _populate(src, dst):
        for name in sorted(os.listdir(src)):
            p, q = os.path.join(src, name), os.path.join(dst, name)
            lst = os.lstat(p)
            if stat.S_ISLNK(lst.st_mode):
                os.symlink(os.readlink(p), q)
            elif stat.S_ISDIR(lst.st_mode):
                os.mkdir(q, stat.S_IMODE(lst.st_mode))
                _bind(p, q)
            else:
                with open(q, "w"):
                    pass
                _bind(p, q, rec=False)

    def ensure(self, path, is_dir):
        """Make container path exist (as a dir or a file) without touching the host."""
        base, rest = self.resolve(path)
        if not rest:
            return base
        if base == self.root and self.root == "/":
            raise SandboxError("internal: a top-level mount path needs new_root() first")
        if not self.image and base not in self.ours:
            self.shadow(base)
        cur = base
        for i, c in enumerate(rest):
            cur = os.path.join(cur, c)
            if i == len(rest) - 1 and not is_dir:
                with open(cur, "w"):
                    pass
            else:
                os.mkdir(cur, 0o755)
            self.ours.add(cur)
        return cur


def _needs_new_root(mounts, cwd):
    for p in [m["target"] for m in mounts] + [cwd or "/"]:
        first = [c for c in p.split("/") if c and c != "."][:1]
        if first and not os.path.lexists("/" + first[0]):
            return True
    return False


def setup(spec):
    """Everything up to exec; raises SandboxError."""
    mounts = sorted(spec.get("mounts") or [], key=lambda m: m["target"].rstrip("/").count("/"))
    if spec.get("netns"):
        # the Pod's network namespace, which the agent created and holds open
        fd = os.open(spec["netns"], os.O_RDONLY)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "setns(%s)" % spec["netns"])
        finally:
            os.close(fd)
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare(CLONE_NEWNS|CLONE_NEWUTS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Descriptors before the first mount (later mounts may cover the paths the
    # sources live on) but after unshare (a bind source must be a mount of
    # this namespace).
    fds = {}
    for i, m in enumerate(mounts):
        try:
            fds[i] = os.open(m["source"], os.O_PATH)
        except OSError as e:
            raise SandboxError("volume source %s for %s: %s" % (m["source"], m["target"], e.strerror))
    hosts_fd = os.open(spec["hosts"], os.O_PATH) if spec.get("hosts") else None
    if spec.get("hostname"):
        h = spec["hostname"].encode()
        _check(_libc.sethostname(h, len(h)), "sethostname %s" % spec["hostname"])
    ns = None
    # A machine may have no /etc/hosts at all (a debootstrapped system): then
    # the mount point is made inside the namespace like any missing path.
    no_hosts_file = hosts_fd is not None and not os.path.exists("/etc/hosts")
    if mounts or no_hosts_file or not os.path.isdir(spec.get("cwd") or "/"):
        scratch = spec["scratch"]
        _mount("tmpfs", scratch, "tmpfs", 0, "mode=700")
        sfd = os.open(scratch, os.O_PATH)
        ns = Namespace("/proc/self/fd/%d" % sfd)
        if _needs_new_root(mounts, spec.get("cwd")):
            ns.new_root()
        for i, m in enumerate(mounts):
            target = ns.ensure(m["target"], not m.get("file"))
            _bind("/proc/self/fd/%d" % fds[i], target, readonly=bool(m.get("readOnly")))
            ns.ours.add(target)   # a volume: the container's own storage
    if hosts_fd is not None:
        etc_hosts = ns.ensure("/etc/hosts", False) if ns else "/etc/hosts"
        _bind("/proc/self/fd/%d" % hosts_fd, etc_hosts, rec=False)
    cwd = spec.get("cwd") or "/"
    if ns is not None:
        ns.ensure(cwd, True)     # the kubelet creates a missing workingDir
    if spec.get("readOnlyRoot"):
        # the root mount only, as a runtime does: volumes mounted below stay writable
        _mount(None, ns.root if ns is not None else "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    if ns is not None and ns.root != "/":
        os.chroot(ns.root)
    os.chdir(cwd)


def setup_image(spec):
    """The container's view when it has an image (every Pod container): the
    unpacked image (spec["rootfs"], shared and never written) as the lower
    layer of an overlay whose upper layer is a tmpfs of this namespace (the
    container's writable layer, gone with it, as a runtime's), /proc, a
    minimal /dev, /sys read-only, the volumes, /etc/hosts, /etc/hostname and
    /etc/resolv.conf mounted into it; then pivot_root into it and detach the
    host's tree, so nothing of the host is reachable. readOnlyRoot: the
    overlay is made read-only last (volumes, separate mounts, stay writable)."""
    mounts = sorted(spec.get("mounts") or [], key=lambda m: m["target"].rstrip("/").count("/"))
    if spec.get("netns"):
        fd = os.open(spec["netns"], os.O_RDONLY)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), "setns(%s)" % spec["netns"])
        finally:
            os.close(fd)
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare(CLONE_NEWNS|CLONE_NEWUTS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    fds = {}
    for i, m in enumerate(mounts):
        try:
            fds[i] = os.open(m["source"], os.O_PATH)
        except OSError as e:
            raise SandboxError("volume source %s for %s: %s" % (m["source"], m["target"], e.strerror))
    hosts_fd = os.open(spec["hosts"], os.O_PATH) if spec.get("hosts") else None
    try:
        lower_fd = os.open(spec["rootfs"], os.O_PATH | os.O_DIRECTORY)
    except OSError as e:
        raise SandboxError("image root %s: %s" % (spec["rootfs"], e.strerror))
    hostname = spec.get("hostname") or ""
    if hostname:
        h = hostname.encode()
        _check(_libc.sethostname(h, len(h)), "sethostname %s" % hostname)
    scratch = spec["scratch"]
    _mount("tmpfs", scratch, "tmpfs", 0, "mode=700")
    sfd = os.open(scratch, os.O_PATH)
    sp = "/proc/self/fd/%d" % sfd
    for d in ("upper", "work", "root"):
        os.mkdir(os.path.join(sp, d), 0o755)
    root = os.path.join(sp, "root")
    _mount("overlay", root, "overlay", 0, "lowerdir=/proc/self/fd/%d,upperdir=%s/upper,workdir=%s/work"
           % (lower_fd, sp, sp))
    ns = Namespace(sp, image_root=root)
    # the kernel's file systems
    _mount("proc", ns.ensure("/proc", True), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    dev = ns.ensure("/dev", True)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k")
    for n in DEV_NODES:
        if os.path.exists("/dev/" + n):
            with open(os.path.join(dev, n), "w"):
                pass
            _bind("/dev/" + n, os.path.join(dev, n), rec=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))
    os.mkdir(os.path.join(dev, "shm"), 0o1777)
    _mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    try:
        _mount("sysfs", ns.ensure("/sys", True), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    except SandboxError:
        pass    # not every host lets a network namespace mount sysfs; nothing here needs it
    for i, m in enumerate(mounts):
        target = ns.ensure(m["target"], not m.get("file"))
        _bind("/proc/self/fd/%d" % fds[i], target, readonly=bool(m.get("readOnly")))
    if hosts_fd is not None:
        _bind("/proc/self/fd/%d" % hosts_fd, ns.ensure("/etc/hosts", False), rec=False)
    if hostname:
        hf = os.path.join(sp, "hostname")
        with open(hf, "w") as f:
            f.write(hostname + "\n")
        os.chmod(hf, 0o644)
        _bind(hf, ns.ensure("/etc/hostname", False), rec=False)
    cwd = spec.get("cwd") or "/"
    ns.ensure(cwd, True)     # the runtime creates a missing working directory
    # into the image, the host's tree detached: pivot_root(".", ".") stacks the
    # old root on the new one, and the lazy unmount takes it away
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's root")
    os.chdir("/")
    for fd in list(fds.values()) + [lower_fd, sfd] + ([hosts_fd] if hosts_fd is not None else []):
        os.close(fd)
    if spec.get("readOnlyRoot"):
        _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    os.chdir(cwd)


def lookup_path(argv0, env):
    """argv[0] as the runtime resolves it: a name without a slash through the
    container's PATH, inside the container's root."""
    if "/" in argv0:
        return argv0
    for d in (env.get("PATH") or DEFAULT_PATH).split(":"):
        p = os.path.join(d or ".", argv0)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise SandboxError('exec: "%s": executable file not found in $PATH' % argv0)


def become(spec):
    """Drop to the container's user, as the runtime does just before exec."""
    if spec.get("noNewPrivs"):
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    uid = spec.get("uid")
    if uid is None:
        return
    gid = spec.get("gid", uid)
    os.setgroups(sorted(set(int(g) for g in spec.get("groups") or [])))
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def main_spec(path):
    with open(path) as f:
        spec = json.load(f)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if spec.get("parent") and os.getppid() != spec["parent"]:
        return 128   # the kubelet is already gone
    # opened now: after pivot_root the pod directory is out of reach
    status_fd = None
    if spec.get("status"):
        try:
            status_fd = os.open(spec["status"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError:
            pass
    try:
        argv = list(spec["argv"])
        env = spec.get("env") or {}
        if spec.get("rootfs"):
            setup_image(spec)
        else:
            setup(spec)
        become(spec)
        argv[0] = lookup_path(argv[0], env)
        os.execve(argv[0], argv, env)
    except (SandboxError, OSError) as e:
        msg = str(e)
        if isinstance(e, OSError) and not isinstance(e, SandboxError):
            # runc's wording
            what = spec["argv"][0]
            if e.errno == 2:
                msg = 'exec: "%s": stat %s: no such file or directory' % (what, what)
            else:
                msg = 'exec: "%s": %s' % (what, (e.strerror or str(e)).lower())
        sys.stderr.write("kbed sandbox: %s\n" % msg)
        sys.stderr.flush()
        if status_fd is not None:
            try:
                os.write(status_fd, json.dumps({"reason": "StartError", "message": msg}).encode())
            except OSError:
                pass
        return 128


def main_cli(argv):
    hosts = None
    if len(argv) >= 2 and argv[0] == "--hosts":
        hosts, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: sandbox.py --hosts FILE -- CMD [ARGS...] | sandbox.py SPEC.json\n")
        return 2
    try:
        enter_cluster_network(hosts)
        os.execvp(argv[0], argv)
    except (SandboxError, OSError) as e:
        sys.stderr.write("sandbox: %s\n" % e)
        return 127


def enter_cluster_network(hosts):
    """This process, from now on, sees `hosts` as /etc/hosts (and nothing
    else changed). The scratch directory, needed only where the machine has
    no /etc/hosts to mount over, sits beside the hosts file (the bed's
    directory); on the host it stays an empty directory."""
    spec = {"hosts": hosts, "cwd": os.getcwd()}
    if hosts:
        spec["scratch"] = os.path.join(os.path.dirname(os.path.abspath(hosts)), "sandbox-scratch")
        os.makedirs(spec["scratch"], exist_ok=True)
    setup(spec)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 1 and args[0].endswith(".json"):
        sys.exit(main_spec(args[0]))
    sys.exit(main_cli(args))
