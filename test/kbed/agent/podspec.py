"""What a container spec means, as pure functions (no processes, no store
I/O): image → executable, Kubernetes `$(VAR)` expansion, the environment
(env, envFrom, fieldRef, secretKeyRef, configMapKeyRef, resourceFieldRef),
and the kubelet's restart back-off.

The one idea: an image is modelled as what its Dockerfile declares —
ENTRYPOINT, CMD and which executables it contains — and the container's
command/args are combined with it exactly as a container runtime does
(command replaces ENTRYPOINT, args replace CMD). Executables are then mapped
by basename to real binaries on this machine: an etcd image contains only
etcd, etcdctl and etcdutl (upstream images are distroless: no shell — a
manifest that runs /bin/sh in an etcd image fails here as it would in a
cluster); this project's image (debian-slim, see the Dockerfile) contains the binaries
in BUILD and a base system, but no etcd tools; shell images contain whatever
the host has. Objects (Secrets, ConfigMaps) are passed in
through a lookup function, so everything here is testable with plain dicts.
"""
import base64
import os
import re
import shutil

PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL_IMAGES = {"busybox", "alpine", "debian", "ubuntu", "bash", "fedora", "centos", "python"}
OPERATOR_BINS = {"etcd-controller", "etcd-webhook", "kubectl-etcd", "etcd-certs", "etcd-member-guard"}
# on this machine but not in the project's debian-slim image
NOT_IN_SLIM = {"etcd", "etcdctl", "etcdutl", "kubectl", "curl", "wget", "python3", "python"}


class ImageError(Exception):
    """The image cannot be pulled (waiting: ErrImagePull)."""


class StartError(Exception):
    """The container cannot start (terminated: StartError, exit code 128)."""


class ConfigError(Exception):
    """A referenced Secret/ConfigMap/key is missing (waiting: CreateContainerConfigError)."""


def image_repo(image):
    """Repository of an image reference without tag or digest."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    return ref


# version -> directory holding that release's etcd, etcdctl and etcdutl (set by the agent)
ETCD_BINS = {}


def image_tag(image):
    ref = (image or "").split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def image_family(image):
    """("etcd"|"operator"|"shell", model) or raise ImageError."""
    repo = image_repo(image or "")
    last = repo.rsplit("/", 1)[-1]
    if last == "etcd":
        version = image_tag(image).lstrip("v")
        if version not in ETCD_BINS:
            raise ImageError('Failed to pull image "%s": the test bed holds etcd images for v%s only'
                             % (image, ", v".join(sorted(ETCD_BINS)) or "(none built)"))
        return "etcd", {"entrypoint": [], "cmd": ["/usr/local/bin/etcd"],
                        "bins": ("etcd", "etcdctl", "etcdutl"), "dir": ETCD_BINS[version]}
    if repo.endswith("etcd-operator"):
        # the project's Dockerfile: debian-slim, its programs in /usr/local/bin, no ENTRYPOINT
        return "operator", {"entrypoint": [], "cmd": ["/usr/local/bin/etcd-controller", "--help"], "bins": None}
    if last in SHELL_IMAGES:
        return "shell", {"entrypoint": [], "cmd": ["sh"], "bins": None}
    raise ImageError('Failed to pull image "%s": the test bed has no image "%s" (it knows etcd images '
                     '(…/etcd), this project\'s image (…/etcd-operator) and shell images such as busybox)'
                     % (image, repo))


IMAGE_BIN = "/usr/local/bin"     # where etcd's and this project's images keep their programs


def image_programs(image, build):
    """{container path: host file} of the programs an image holds at IMAGE_BIN;
    the container sees them there (bind mounts), as it would in the image."""
    family, model = image_family(image)
    if family == "etcd":
        return {os.path.join(IMAGE_BIN, b): os.path.join(model["dir"], b) for b in model["bins"]}
    if family == "operator" and build:
        return {os.path.join(IMAGE_BIN, b): os.path.join(build, b) for b in sorted(OPERATOR_BINS)
                if os.path.isfile(os.path.join(build, b))}
    return {}


def resolve_executable(family, model, name, build):
    """The path to exec for `name` inside an image of `family` (the container
    path for an image's own programs, else a host path); StartError if the
    image lacks it."""
    base = os.path.basename(name)
    missing = StartError('exec: "%s": stat %s: no such file or directory' % (name, name))
    if name not in (base, os.path.join(IMAGE_BIN, base)) and family in ("etcd", "operator"):
        raise missing
    if family == "etcd":
        if base not in model["bins"]:
            raise missing
        return os.path.join(IMAGE_BIN, base)
    if family == "operator":
        p = os.path.join(build or "", base)
        if base in OPERATOR_BINS:
            if build and os.path.isfile(p) and os.access(p, os.X_OK):
                return os.path.join(IMAGE_BIN, base)
            raise StartError('exec: "%s": %s not built (looked for %s; build with make BUILD=…)' % (name, base, p))
        if base in NOT_IN_SLIM:
            raise missing
    if "/" in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        found = shutil.which(base)
    else:
        found = shutil.which(name, path=PATH_ENV)
    if not found:
        raise missing
    return found


def container_argv(container, env, build):
    """The argv the container runs, argv[0] a host path; ImageError/StartError."""
    family, model = image_family(container.get("image"))
    command = container.get("command")
    args = container.get("args")
    if command:
        argv = [expand(c, env) for c in command] + [expand(a, env) for a in (args or [])]
    elif args is not None and args != []:
        argv = list(model["entrypoint"]) + [expand(a, env) for a in args]
    else:
        argv = list(model["entrypoint"]) + list(model["cmd"])
    if not argv:
        raise StartError("no command specified")
    if in_volume(container, argv[0]):
        # a program on one of the container's volumes (etcd's container runs
        # the guard its init step copied onto an emptyDir): the sandbox execs
        # it inside the mount namespace, where the volume is at its path; a
        # missing file is a start error there, as in a runtime
        return argv
    argv[0] = resolve_executable(family, model, argv[0], build)
    return argv


def in_volume(container, path):
    """Whether an absolute path lies below one of the container's volumeMounts."""
    if not isinstance(path, str) or not path.startswith("/"):
        return False
    path = os.path.normpath(path)
    for m in container.get("volumeMounts") or []:
        mp = os.path.normpath(m.get("mountPath") or "")
        if mp != "/" and path.startswith(mp + "/"):
            return True
    return False


def map_exec_argv(container, argv, build):
    """argv[0] of an exec probe mapped like a container's command."""
    family, model = image_family(container.get("image"))
    return [resolve_executable(family, model, argv[0], build)] + list(argv[1:])


def expand(s, env):
    """Kubernetes $(VAR) expansion: $$ is a literal $, unknown $(VAR) stays as written."""
    if not isinstance(s, str) or "$" not in s:
        return s
    out, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            j = s.find(")", i + 2)
            if j < 0:
                out.append(s[i:])
                break
            name = s[i + 2:j]
            out.append(env[name] if name in env else "$(" + name + ")")
            i = j + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


_LABEL_PATH = re.compile(r"metadata\.(labels|annotations)\[['\"]?(.+?)['\"]?\]$")


def field_value(pod, path):
    """The value of a downward-API fieldRef.fieldPath; ConfigError for an unsupported path."""
    md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {
        "metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": status.get("podIP"), "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(p.get("ip", "") for p in status.get("podIPs") or []),
        "status.hostIPs": status.get("hostIP"),
    }
    if path in simple:
        return simple[path] or ""
    m = _LABEL_PATH.match(path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        d = md.get(path.split(".")[1]) or {}
        return "\n".join('%s="%s"' % (k, d[k]) for k in sorted(d))
    raise ConfigError('unsupported fieldRef fieldPath "%s"' % path)


def _resource_value(container, ref):
    res = ref.get("resource", "")
    kind, _, what = res.partition(".")
    v = ((container.get("resources") or {}).get(kind) or {}).get(what)
    if v is None:   # no limit: the node's allocatable, as the kubelet reports it
        v = str(os.cpu_count() or 1) if what == "cpu" else str(8 * 1024 ** 3)
    return str(v)


def _obj_value(obj, key, is_secret):
    data = obj.get("data") or {}
    if key in data:
        return base64.b64decode(data[key]).decode("utf-8", "replace") if is_secret else data[key]
    if is_secret and key in (obj.get("stringData") or {}):
        return obj["stringData"][key]
    if not is_secret and key in (obj.get("binaryData") or {}):
        return base64.b64decode(obj["binaryData"][key]).decode("utf-8", "replace")
    return None


def build_env(pod, container, lookup, base=None):
    """The container's environment as an ordered dict.

    lookup(kind, ns, name) returns the Secret/ConfigMap dict or None
    (kind "secrets"|"configmaps"). base: variables every container gets
    (PATH, HOSTNAME, KUBERNETES_SERVICE_*). Each env value is expanded with the
    variables defined before it, as the kubelet does."""
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    env = dict(base or {})
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        for kind, ref in (("configmaps", src.get("configMapRef")), ("secrets", src.get("secretRef"))):
            if not ref:
                continue
            obj = lookup(kind, ns, ref.get("name"))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError('%s "%s" not found' % (kind[:-1], ref.get("name")))
            keys = list((obj.get("data") or {}).keys())
            if kind == "configmaps":
                keys += list((obj.get("binaryData") or {}).keys())
            for k in keys:
                env[prefix + k] = _obj_value(obj, k, kind == "secrets")
    defined = dict(env)
    for e in container.get("env") or []:
        name = e.get("name")
        if "valueFrom" not in e:
            env[name] = expand(e.get("value", ""), defined)
        else:
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[name] = field_value(pod, vf["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in vf:
                env[name] = _resource_value(container, vf["resourceFieldRef"])
            else:
                kind, ref = ("secrets", vf.get("secretKeyRef")) if "secretKeyRef" in vf else ("configmaps", vf.get("configMapKeyRef"))
                if not ref:
                    raise ConfigError("env %s: valueFrom has no supported source" % name)
                obj = lookup(kind, ns, ref.get("name"))
                val = None if obj is None else _obj_value(obj, ref.get("key"), kind == "secrets")
                if val is None:
                    if ref.get("optional"):
                        continue
                    what = "secret" if kind == "secrets" else "configmap"
                    if obj is None:
                        raise ConfigError('%s "%s" not found' % (what, ref.get("name")))
                    raise ConfigError("couldn't find key %s in %s %s/%s" % (ref.get("key"), what.capitalize(), ns, ref.get("name")))
                env[name] = val
        defined[name] = env[name]
    return env


class Backoff:
    """The kubelet's crash back-off: the first restart is immediate, then
    base, 2·base, 4·base … capped at max; reset after a clean run of 2·max."""

    def __init__(self, base=10.0, cap=300.0):
        self.base, self.cap = float(base), float(cap)
        self.current = 0.0

    def next_delay(self, ran_for):
        """Delay before restarting a container that ran `ran_for` seconds."""
        if ran_for >= 2 * self.cap:
            self.current = 0.0
        delay = self.current
        self.current = self.base if self.current == 0 else min(self.cap, self.current * 2)
        return delay
