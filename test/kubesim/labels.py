"""Label and field selectors, as kube-apiserver parses and matches them.

Two inputs describe the same thing: the query-string syntax
(`app=web,tier!=db,env in (a,b),!legacy`) and the structured LabelSelector
(`matchLabels` + `matchExpressions`) that StatefulSets, PDBs and webhook
configurations carry. Both become one list of requirements
(key, operator, values), and one function matches a requirement list against
a label map, so every caller shares the exact Kubernetes semantics (`!=` and
`notin` match when the key is absent; an empty selector matches everything).
"""
import re

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


class SelectorError(ValueError):
    """A selector string or LabelSelector that kube-apiserver would refuse."""


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _check_key(key, text):
    if not re.fullmatch(_KEY, key) or len(key.split("/")[-1]) > 63:
        raise SelectorError("unable to parse requirement: invalid label key %r in %r" % (key, text))


def _check_value(v, text):
    if len(v) > 63 or not re.fullmatch(_VALUE, v):
        raise SelectorError("unable to parse requirement: invalid label value %r in %r" % (v, text))


def parse(text):
    """Parse a labelSelector query string into requirements; raise SelectorError."""
    reqs = []
    if text is None:
        return reqs
    for part in _split_top(text):
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", part)
        if m:
            key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            _check_key(key, text)
            for v in vals:
                _check_value(v, text)
            reqs.append((key, "In" if op == "in" else "NotIn", vals))
            continue
        m = re.fullmatch(r"([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(\S*)", part)
        if m:
            key, op, val = m.groups()
            _check_key(key, text)
            if op in ("<", ">"):
                if not re.fullmatch(r"-?\d+", val):
                    raise SelectorError("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
                reqs.append((key, "Gt" if op == ">" else "Lt", [val]))
                continue
            _check_value(val, text)
            reqs.append((key, "NotIn" if op == "!=" else "In", [val]))
            continue
        m = re.fullmatch(r"(!?)\s*([^=!<>\s()]+)", part)
        if m:
            _check_key(m.group(2), text)
            reqs.append((m.group(2), "DoesNotExist" if m.group(1) else "Exists", []))
            continue
        raise SelectorError("unable to parse requirement: %r" % part)
    return reqs


def from_label_selector(sel):
    """Requirements from a metav1.LabelSelector dict (None → matches everything)."""
    reqs = []
    if not sel:
        return reqs
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "In", [str(v)]))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise SelectorError("%r is not a valid label selector operator" % op)
        vals = [str(v) for v in (e.get("values") or [])]
        if op in ("In", "NotIn") and not vals:
            raise SelectorError("values: Required value: must be specified when `operator` is 'In' or 'NotIn'")
        reqs.append((e.get("key", ""), op, vals))
    return reqs


def matches(reqs, labels):
    """True when a label map satisfies every requirement."""
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        val = labels.get(key)
        if op == "In" and not (has and val in vals):
            return False
        if op == "NotIn" and has and val in vals:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
        if op in ("Gt", "Lt"):
            try:
                n = int(val)
            except (TypeError, ValueError):
                return False
            if (op == "Gt" and not n > int(vals[0])) or (op == "Lt" and not n < int(vals[0])):
                return False
    return True


def compile_labels(sel):
    """Accept None, a query string, a {k: v} dict or a LabelSelector dict; return requirements."""
    if sel is None or sel == "":
        return []
    if isinstance(sel, str):
        return parse(sel)
    if isinstance(sel, list):
        return sel
    if "matchLabels" in sel or "matchExpressions" in sel:
        return from_label_selector(sel)
    return [(k, "In", [str(v)]) for k, v in sel.items()]


def parse_fields(text, allowed=None, custom=False):
    """fieldSelector (=, ==, !=) into requirements. allowed: the field paths the
    kind supports (None: any dotted path, for in-process callers)."""
    reqs = []
    for part in _split_top(text or ""):
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9.]*)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (text, part))
        field, op, val = m.groups()
        if allowed is not None and field not in allowed:
            if custom:
                raise SelectorError('"%s" is not a known field selector: only "metadata.name", "metadata.namespace"' % field)
            raise SelectorError("field label not supported: %s" % field)
        reqs.append((field, op != "!=", val))
    return reqs


def _field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    for field, eq, val in reqs:
        if (_field_value(obj, field) == val) != eq:
            return False
    return True


META_FIELDS = {"metadata.name", "metadata.namespace"}
# the field selectors kube-apiserver supports per kind, beyond metadata.name/namespace
FIELD_SELECTORS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "persistentvolumeclaims": set(),
}


def allowed_fields(key):
    return META_FIELDS | FIELD_SELECTORS.get(key, set())
