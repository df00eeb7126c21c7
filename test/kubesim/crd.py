"""Serving CustomResourceDefinitions: what apiextensions-apiserver does for a
CRD-defined kind.

When a CRD is written, its storage version becomes a Resource in the
catalogue (discovery, routing, short names, printer columns, status/scale
subresources with their JSON paths) and the CRD's status says Established.
Objects of the kind then go through the CRD's structural schema:

  prepare():  prune fields the schema does not know (reported per
              fieldValidation: Strict → 400 "strict decoding error",
              Warn → a warning, Ignore → silent), then apply `default`s;
  validate(): types, bounds, enums, patterns, lengths, item counts,
              required, and x-kubernetes-validations CEL rules (cel.py),
              with transition rules (those naming oldSelf) evaluated only on
              update when the old value exists — kube-apiserver's rule.

Error texts are kube-apiserver's (`spec.replicas in body should be less than
or equal to 9`, `Invalid value: "string": <message>` for CEL).
"""
import re

import apierrors as E
import cel
import discovery
import store as st

CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"


def _type_of(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


class CRDs:
    def __init__(self, store, catalogue, log=None):
        self.store, self.cat, self.log = store, catalogue, log
        self._programs = {}

    # ---- CRD lifecycle ---------------------------------------------------
    @staticmethod
    def _version(crd):
        vs = (crd.get("spec") or {}).get("versions") or []
        for v in vs:
            if v.get("storage") and v.get("served", True):
                return v
        for v in vs:
            if v.get("served", True):
                return v
        return None

    def validate_crd(self, crd, old):
        errs = []
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        if not group or "." not in group:
            errs.append(E.field_error("spec.group", "Invalid", "should be a domain with at least one dot", group))
        if not names.get("plural"):
            errs.append(E.field_error("spec.names.plural", "Required", ""))
        if not names.get("kind"):
            errs.append(E.field_error("spec.names.kind", "Required", ""))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errs.append(E.field_error("spec.scope", "NotSupported", 'supported values: "Cluster", "Namespaced"', spec.get("scope")))
        want = "%s.%s" % (names.get("plural", ""), group)
        if crd.get("metadata", {}).get("name") != want:
            errs.append(E.field_error("metadata.name", "Invalid", 'must be spec.names.plural+"."+spec.group',
                                      crd.get("metadata", {}).get("name")))
        vs = spec.get("versions") or []
        if not vs:
            errs.append(E.field_error("spec.versions", "Invalid", "must have exactly one version marked as storage version", vs))
        elif sum(1 for v in vs if v.get("storage")) != 1:
            errs.append(E.field_error("spec.versions", "Invalid", "must have exactly one version marked as storage version", []))
        for i, v in enumerate(vs):
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                errs.append(E.field_error("spec.versions[%d].schema.openAPIV3Schema" % i, "Required",
                                          "schemas are required"))
                continue
            for path, rule in self._rules(schema, "spec.versions[%d].schema.openAPIV3Schema" % i):
                try:
                    cel.compile_rule(rule)
                except cel.CELError as e:
                    errs.append(E.field_error(path, "Invalid", "compilation failed: %s" % e, rule))
        if old is not None:
            ospec = old.get("spec") or {}
            if ospec.get("scope") != spec.get("scope"):
                errs.append(E.field_error("spec.scope", "Invalid", "field is immutable", spec.get("scope")))
            if (ospec.get("names") or {}).get("plural") != names.get("plural"):
                errs.append(E.field_error("spec.names.plural", "Invalid", "field is immutable", names.get("plural")))
        return errs

    def _rules(self, schema, path):
        if not isinstance(schema, dict):
            return
        for j, r in enumerate(schema.get("x-kubernetes-validations") or []):
            yield "%s.x-kubernetes-validations[%d].rule" % (path, j), r.get("rule", "")
        for k, sub in (schema.get("properties") or {}).items():
            yield from self._rules(sub, "%s.properties[%s]" % (path, k))
        if isinstance(schema.get("items"), dict):
            yield from self._rules(schema["items"], path + ".items")
        if isinstance(schema.get("additionalProperties"), dict):
            yield from self._rules(schema["additionalProperties"], path + ".additionalProperties")

    def resource_for(self, crd):
        spec = crd["spec"]
        names = spec["names"]
        v = self._version(crd)
        if v is None:
            return None
        subs = v.get("subresources") or spec.get("subresources") or {}
        res = discovery.Resource(spec["group"], v["name"], names["kind"], names["plural"],
                                 singular=names.get("singular") or names["kind"].lower(),
                                 namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                                 short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
                                 subresources=[s for s in ("status", "scale") if s in subs], custom=True)
        res.schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
        sc = subs.get("scale") or {}
        res.scale_paths = (sc.get("specReplicasPath", ".spec.replicas"), sc.get("statusReplicasPath", ".status.replicas"),
                           sc.get("labelSelectorPath"))
        res.printer_columns = v.get("additionalPrinterColumns") or spec.get("additionalPrinterColumns")
        res.crd_name = crd["metadata"]["name"]
        res.list_kind = names.get("listKind") or names["kind"] + "List"
        return res

    def established(self, crd):
        """Serve the CRD's kind and mark it Established (what the CRD controllers do)."""
        res = self.resource_for(crd)
        if res is None:
            return crd
        self.cat.add(res)
        self.store.register_kind(res.key, namespaced=res.namespaced, custom=True)
        names = crd["spec"]["names"]
        now = st.now_rfc3339()
        accepted = {"kind": names["kind"], "listKind": names.get("listKind") or names["kind"] + "List",
                    "plural": names["plural"], "singular": names.get("singular") or names["kind"].lower()}
        for f in ("shortNames", "categories"):
            if names.get(f):
                accepted[f] = names[f]

        def mark(o):
            s = o.setdefault("status", {})
            conds = {c.get("type"): c for c in s.get("conditions") or []}
            want = [("NamesAccepted", "NoConflicts", "no conflicts found"),
                    ("Established", "InitialNamesAccepted", "the initial names have been accepted")]
            new_conds = []
            for t, reason, msg in want:
                c = conds.get(t)
                if c and c.get("status") == "True":
                    new_conds.append(c)
                else:
                    new_conds.append({"type": t, "status": "True", "reason": reason, "message": msg,
                                      "lastTransitionTime": now})
            stored = list(s.get("storedVersions") or [])
            if res.version not in stored:
                stored.append(res.version)
            new = {"acceptedNames": accepted, "conditions": new_conds, "storedVersions": stored}
            if s == new:
                return False
            o["status"] = new
        try:
            return self.store.mutate(CRD_KEY, None, crd["metadata"]["name"], mark, subresource="status")
        except st.NotFound:
            return crd

    def removed(self, crd):
        res = self.resource_for(crd)
        if res is None:
            return
        items, _ = self.store.list(res.key)
        for o in items:
            try:
                self.store.delete(res.key, o["metadata"].get("namespace"), o["metadata"]["name"])
            except st.NotFound:
                pass
        self.cat.remove(res.key)

    def load_existing(self):
        for crd in self.store.list(CRD_KEY)[0]:
            self.established(crd)

    # ---- objects of a CRD kind ------------------------------------------
    def prepare(self, res, obj, old, ctx):
        schema = res.schema or {}
        unknown = []
        for k in list(obj.keys()):
            if k in ("apiVersion", "kind", "metadata"):
                continue
            props = schema.get("properties") or {}
            if k in props:
                obj[k] = self._prune(obj[k], props[k], k, unknown)
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                unknown.append(k)
                del obj[k]
        if unknown:
            texts = ['unknown field "%s"' % u for u in unknown]
            if ctx.field_validation == "Strict":
                raise E.bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                                    % (res.kind, res.version, res.kind, ", ".join(texts)))
            if ctx.field_validation == "Warn":
                for t in texts:
                    ctx.warn(t)
        for k, sub in (schema.get("properties") or {}).items():
            if k in ("apiVersion", "kind", "metadata"):
                continue
            if k not in obj and "default" in sub:
                obj[k] = st.copy(sub["default"])
            if k in obj:
                obj[k] = self._default(obj[k], sub)

    def _prune(self, v, schema, path, unknown):
        if not isinstance(schema, dict):
            return v
        if isinstance(v, dict):
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-embedded-resource")
            out = {}
            for k, val in v.items():
                if props and k in props:
                    out[k] = self._prune(val, props[k], _join(path, k), unknown)
                elif isinstance(addl, dict):
                    out[k] = self._prune(val, addl, _join(path, k), unknown)
                elif addl is True or keep_unknown or (props is None and addl is None and schema.get("type") != "object"):
                    out[k] = val
                elif props is None and addl is None and keep_unknown is None and schema.get("type") == "object":
                    unknown.append(_join(path, k))
                else:
                    unknown.append(_join(path, k))
            return out
        if isinstance(v, list) and isinstance(schema.get("items"), dict):
            return [self._prune(x, schema["items"], path + "[%d]" % i, unknown) for i, x in enumerate(v)]
        return v

    def _default(self, v, schema):
        if not isinstance(schema, dict):
            return v
        if isinstance(v, dict):
            for k, sub in (schema.get("properties") or {}).items():
                if (k not in v or (v[k] is None and not sub.get("nullable"))) and "default" in sub:
                    v[k] = st.copy(sub["default"])
                if k in v:
                    v[k] = self._default(v[k], sub)
            addl = schema.get("additionalProperties")
            if isinstance(addl, dict):
                for k in list(v):
                    v[k] = self._default(v[k], addl)
        elif isinstance(v, list) and isinstance(schema.get("items"), dict):
            return [self._default(x, schema["items"]) for x in v]
        return v

    def validate(self, res, obj, old):
        import validation
        errs = validation.validate_metadata(res, obj)
        schema = res.schema or {}
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        obody = None if old is None else {k: v for k, v in old.items() if k not in ("apiVersion", "kind", "metadata")}
        root = dict(schema)
        props = {k: v for k, v in (schema.get("properties") or {}).items() if k not in ("apiVersion", "kind", "metadata")}
        root["properties"] = props
        root_rules = root.pop("x-kubernetes-validations", None)
        self._check(body, root, "", obody, errs, old is not None)
        if root_rules:
            self._cel(root_rules, obj, old, "", "object", errs, old is not None)
        return errs

    def _check(self, v, schema, path, old, errs, is_update):
        if not isinstance(schema, dict):
            return
        p = path or "<root>"
        if v is None:
            if schema.get("nullable"):
                return
            if schema.get("type"):
                errs.append(E.field_error(p, "Invalid", "%s in body must be of type %s: \"null\"" % (p, schema["type"]), "null"))
            return
        t = schema.get("type")
        actual = _type_of(v)
        if schema.get("x-kubernetes-int-or-string"):
            if actual not in ("integer", "string"):
                errs.append(E.field_error(p, "Invalid", "%s in body must be of type int-or-string: \"%s\"" % (p, actual), actual))
                return
        elif t and not (t == actual or (t == "number" and actual == "integer")):
            errs.append(E.field_error(p, "Invalid", "%s in body must be of type %s: \"%s\"" % (p, t, actual), actual))
            return
        if "enum" in schema and v not in schema["enum"]:
            errs.append(E.field_error(p, "NotSupported", "supported values: " + ", ".join(
                E._go_value(x) for x in schema["enum"]), v))
        if actual in ("integer", "number"):
            mn, mx = schema.get("minimum"), schema.get("maximum")
            if mn is not None:
                if schema.get("exclusiveMinimum") and not v > mn:
                    errs.append(E.field_error(p, "Invalid", "%s in body should be greater than %s" % (p, mn), v))
                elif v < mn:
                    errs.append(E.field_error(p, "Invalid", "%s in body should be greater than or equal to %s" % (p, mn), v))
            if mx is not None:
                if schema.get("exclusiveMaximum") and not v < mx:
                    errs.append(E.field_error(p, "Invalid", "%s in body should be less than %s" % (p, mx), v))
                elif v > mx:
                    errs.append(E.field_error(p, "Invalid", "%s in body should be less than or equal to %s" % (p, mx), v))
            if schema.get("multipleOf") and v % schema["multipleOf"]:
                errs.append(E.field_error(p, "Invalid", "%s in body should be a multiple of %s" % (p, schema["multipleOf"]), v))
        if actual == "string":
            if schema.get("maxLength") is not None and len(v) > schema["maxLength"]:
                errs.append(E.field_error(p, "TooLong", "may not be more than %d bytes" % schema["maxLength"]))
            if schema.get("minLength") is not None and len(v) < schema["minLength"]:
                errs.append(E.field_error(p, "Invalid", "%s in body should be at least %d chars long" % (p, schema["minLength"]), v))
            if schema.get("pattern"):
                try:
                    if not re.search(schema["pattern"], v):
                        errs.append(E.field_error(p, "Invalid", "%s in body should match '%s'" % (p, schema["pattern"]), v))
                except re.error:
                    pass
        if actual == "array":
            if schema.get("maxItems") is not None and len(v) > schema["maxItems"]:
                errs.append(E.field_error(p, "TooMany", "must have at most %d items" % schema["maxItems"], len(v)))
            if schema.get("minItems") is not None and len(v) < schema["minItems"]:
                errs.append(E.field_error(p, "Invalid", "%s in body should have at least %d items" % (p, schema["minItems"]), v))
            items = schema.get("items")
            if isinstance(items, dict):
                for i, x in enumerate(v):
                    self._check(x, items, "%s[%d]" % (path, i), None, errs, is_update)
        if actual == "object":
            for r in schema.get("required") or []:
                if r not in v:
                    errs.append(E.field_error(_join(path, r), "Required", ""))
            if schema.get("maxProperties") is not None and len(v) > schema["maxProperties"]:
                errs.append(E.field_error(p, "TooMany", "must have at most %d items" % schema["maxProperties"], len(v)))
            props = schema.get("properties") or {}
            addl = schema.get("additionalProperties")
            for k, x in v.items():
                sub = props.get(k) if k in props else (addl if isinstance(addl, dict) else None)
                if sub is not None:
                    ox = old.get(k) if isinstance(old, dict) else None
                    self._check(x, sub, _join(path, k), ox, errs, is_update)
        rules = schema.get("x-kubernetes-validations")
        if rules:
            self._cel(rules, v, old, path, t or actual, errs, is_update)

    def _program(self, rule):
        p = self._programs.get(rule)
        if p is None:
            p = cel.compile_rule(rule)
            self._programs[rule] = p
        return p

    def _cel(self, rules, v, old, path, typ, errs, is_update):
        for r in rules:
            rule = r.get("rule", "")
            try:
                prog = self._program(rule)
            except cel.CELError as e:
                errs.append(E.field_error(path or "<root>", "Invalid", "compilation failed: %s" % e, typ))
                continue
            env = {"self": v}
            if prog.uses_old_self:
                if not is_update or old is None:
                    if not r.get("optionalOldSelf"):
                        continue
                    env["oldSelf"] = None
                else:
                    env["oldSelf"] = old
            fpath = path
            if r.get("fieldPath"):
                fpath = (path or "") + r["fieldPath"] if r["fieldPath"].startswith(".") else _join(path, r["fieldPath"])
                fpath = fpath.lstrip(".")
            fpath = fpath or "<root>"
            try:
                ok = prog.eval(env)
            except cel.CELError as e:
                errs.append(E.field_error(fpath, "Invalid", "%s evaluating rule: %s" % (e, rule), typ))
                continue
            if ok is True:
                continue
            msg = r.get("message") or "failed rule: %s" % rule
            if r.get("messageExpression"):
                try:
                    m = self._program(r["messageExpression"]).eval(env)
                    if isinstance(m, str) and m.strip():
                        msg = m
                except cel.CELError:
                    pass
            reason = r.get("reason", "FieldValueInvalid")
            kind = {"FieldValueForbidden": "Forbidden", "FieldValueRequired": "Required",
                    "FieldValueDuplicate": "Duplicate"}.get(reason, "Invalid")
            if kind == "Invalid":
                errs.append(E.field_error(fpath, "Invalid", msg, typ))
            else:
                errs.append(E.field_error(fpath, kind, msg))
