"""The three patch formats kube-apiserver accepts for PATCH:

  application/merge-patch+json            RFC 7386 JSON merge patch
  application/json-patch+json             RFC 6902 JSON patch
  application/strategic-merge-patch+json  Kubernetes strategic merge patch

Merge patch and JSON patch are exact. Strategic merge patch (SMP) is an
approximation: kube-apiserver reads each list's merge strategy from the Go
struct tags of the built-in type; the bed has no types, so it knows the
merge-by-key lists of the built-in kinds by field name (the table below) and
treats every other list as atomic, which is what those types declare. It
handles what `kubectl apply` and `kubectl patch --type strategic` send:
nulls delete keys, lists merged by key, primitive lists merged as sets
(finalizers), and the directives `$patch` (replace / delete / merge),
`$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.

All functions take and return fresh JSON data; they never change their input.
Errors raise PatchError with a message in kube-apiserver's words.
"""
from store import copy


class PatchError(ValueError):
    """A patch that cannot be applied; the server answers 422 (or 400 for bad JSON)."""


# ---- RFC 7386 ------------------------------------------------------------
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy(patch)
    out = copy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- RFC 6902 ------------------------------------------------------------
def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError('invalid JSON pointer %r: must start with "/"' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container, tok, path, allow_end=False):
    if tok == "-" and allow_end:
        return len(container)
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise PatchError("invalid array index %r in %s" % (tok, path))
    i = int(tok)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError("array index %d out of bounds in %s" % (i, path))
    return i


def _walk(doc, toks, path):
    cur = doc
    for t in toks:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError('doc is missing path: "%s"' % path)
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, path)]
        else:
            raise PatchError('doc is missing path: "%s"' % path)
    return cur


def _add(doc, path, value):
    toks = _pointer(path)
    if not toks:
        return copy(value)
    parent = _walk(doc, toks[:-1], path)
    last = toks[-1]
    if isinstance(parent, dict):
        parent[last] = copy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), copy(value))
    else:
        raise PatchError('add operation does not apply: doc is missing path: "%s"' % path)
    return doc


def _remove(doc, path):
    toks = _pointer(path)
    if not toks:
        raise PatchError("remove operation cannot remove the whole document")
    parent = _walk(doc, toks[:-1], path)
    last = toks[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError('remove operation does not apply: doc is missing path: "%s"' % path)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path))
    raise PatchError('remove operation does not apply: doc is missing path: "%s"' % path)


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("invalid operation %r: missing op" % (op,))
        kind, path = op["op"], op.get("path")
        if path is None:
            raise PatchError("%s operation is missing path" % kind)
        if kind == "add":
            if "value" not in op:
                raise PatchError("add operation is missing value")
            doc = _add(doc, path, op["value"])
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if "value" not in op:
                raise PatchError("replace operation is missing value")
            toks = _pointer(path)
            if not toks:
                doc = copy(op["value"])
                continue
            _walk(doc, toks, path)  # must exist
            _remove(doc, path)
            doc = _add(doc, path, op["value"])
        elif kind in ("move", "copy"):
            frm = op.get("from")
            if frm is None:
                raise PatchError("%s operation is missing from" % kind)
            val = copy(_walk(doc, _pointer(frm), frm))
            if kind == "move":
                _remove(doc, frm)
            doc = _add(doc, path, val)
        elif kind == "test":
            have = _walk(doc, _pointer(path), path)
            if have != op.get("value"):
                raise PatchError("testing value %s failed: test operation does not apply" % path)
        else:
            raise PatchError("unexpected kind of operation %r" % kind)
    return doc


# ---- strategic merge patch ----------------------------------------------
# Merge keys of the built-in kinds' merge-by-key lists (patchStrategy=merge,
# patchMergeKey=...). "ports" depends on where it is: container ports merge by
# containerPort, Service ports by port.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "volumes": "name", "imagePullSecrets": "name", "ownerReferences": "uid",
    "conditions": "type", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "schedulingGates": "name", "secrets": "name", "webhooks": "name",
}
SET_LISTS = {"finalizers"}


def _merge_key(field, items):
    if field == "ports":
        for it in items:
            if isinstance(it, dict):
                return "containerPort" if "containerPort" in it else "port"
        return None
    return MERGE_KEYS.get(field)


def strategic_merge_patch(target, patch):
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    out = _smp_map(target if isinstance(target, dict) else {}, patch)
    return out if out is not None else {}


def _smp_map(orig, patch):
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy(v) for k, v in patch.items() if k != "$patch"}
    if directive not in (None, "merge"):
        raise PatchError("Unknown patch type: %s" % directive)
    out = copy(orig)
    orders, deletes = {}, {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            deletes[k.split("/", 1)[1]] = v
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            merged = _smp_map(out.get(k) if isinstance(out.get(k), dict) else {}, v)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            out[k] = _smp_list(k, out.get(k) if isinstance(out.get(k), list) else [], v)
        else:
            out[k] = v
    for field, vals in deletes.items():
        if isinstance(out.get(field), list):
            out[field] = [x for x in out[field] if x not in vals]
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _reorder(field, out[field], order)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _smp_list(field, orig, patch):
    if any(isinstance(p, dict) and p.get("$patch") == "replace" and len(p) == 1 for p in patch):
        return [copy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    if field in SET_LISTS:
        out = list(orig)
        for p in patch:
            if p not in out:
                out.append(p)
        return out
    key = _merge_key(field, orig + patch)
    if not key or not all(isinstance(p, dict) for p in patch):
        return [copy(p) for p in patch]   # atomic list: replaced
    out = [copy(o) for o in orig]
    for p in patch:
        if key not in p:
            raise PatchError("map: %s does not contain declared merge key: %s" % (p, key))
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == p[key]), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append({k: copy(v) for k, v in p.items() if k != "$patch" and v is not None})
        else:
            merged = _smp_map(out[idx], p)
            if merged is None:
                out.pop(idx)
            else:
                out[idx] = merged
    return out


def _reorder(field, items, order):
    key = _merge_key(field, items) if items and isinstance(items[0], dict) else None

    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    wanted = [ident(o) if isinstance(o, dict) else o for o in order]
    first = sorted((x for x in items if ident(x) in wanted), key=lambda x: wanted.index(ident(x)))
    rest = [x for x in items if ident(x) not in wanted]
    return first + rest
