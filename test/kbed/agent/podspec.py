"""What a container spec means, as pure functions (no processes, no store
I/O): the container's argv from its command/args and its image's config,
Kubernetes `$(VAR)` expansion, the environment (the image's Env, then env,
envFrom, fieldRef, secretKeyRef, configMapKeyRef, resourceFieldRef), and the
kubelet's restart back-off.

The one idea: an image is what its config declares (images.py pulls it from
the bed's OCI store) — Entrypoint, Cmd, Env, WorkingDir, User — and the
container's command/args are combined with it exactly as a container runtime
does (command replaces Entrypoint and drops Cmd, args replace Cmd). The
program is looked up inside the image's root when the container starts
(sandbox.py), so a manifest that runs /bin/sh in a distroless image fails
here as it would in a cluster. Objects (Secrets, ConfigMaps) are passed in
through a lookup function, so everything here is testable with plain dicts.
"""
import base64
import os
import re

PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # an image without PATH


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


def image_env(config):
    """The image config's Env ("K=V" list) as an ordered dict; PATH defaulted as runtimes do."""
    env = {}
    for kv in (config or {}).get("Env") or []:
        k, _, v = kv.partition("=")
        env[k] = v
    env.setdefault("PATH", PATH_ENV)
    return env


def container_argv(container, env, config):
    """The argv the container runs (argv[0] resolved in the image at start);
    StartError when neither the Pod nor the image names a program."""
    entrypoint = list((config or {}).get("Entrypoint") or [])
    cmd = list((config or {}).get("Cmd") or [])
    command = container.get("command")
    args = container.get("args")
    if command:
        argv = [expand(c, env) for c in command] + [expand(a, env) for a in (args or [])]
    elif args:
        argv = entrypoint + [expand(a, env) for a in args]
    else:
        argv = entrypoint + cmd
    if not argv:
        raise StartError("no command specified")
    return argv


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
