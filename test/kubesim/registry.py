"""The REST semantics of kube-apiserver's generic registry, without HTTP.

Every write takes kube-apiserver's path, in its order:

  decode → defaults (+ CRD pruning) → mutating admission → defaults again for
  CRDs → strategy (system fields, status/scale subresource rules) →
  validation (built-in or CRD schema + CEL) → validating admission → store

and every failure is an APIError with kube-apiserver's code, reason and
wording. The idea that keeps this small: create, update, patch and the scale
subresource all end in one function (_admit_and_validate) that sees the
proposed object and the old one, so admission, validation and dry-run behave
the same whichever verb got there.

The store underneath commits; this layer never holds the store lock across
admission (webhook calls can take seconds), so an update is optimistic: it
reads, admits, and writes with the read resourceVersion as precondition.
PATCH retries that loop on a conflict (as kube-apiserver's GuaranteedUpdate
does) unless the patch itself pinned a resourceVersion.
"""
import base64
import json
import time
import uuid

import apierrors as E
import patch as P
import store as st
import validation

PATCH_RETRY_SECONDS = 30.0   # how long a patch keeps re-applying itself under conflicting writers

CREATE, UPDATE, DELETE = "CREATE", "UPDATE", "DELETE"


class Ctx:
    """Per-request context: who, dry run, field validation, collected warnings."""

    def __init__(self, user=None, dry_run=False, field_validation="", field_manager=None):
        self.user = user or {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}
        self.dry_run = dry_run
        self.field_validation = field_validation or "Warn"
        self.field_manager = field_manager
        self.warnings = []

    def warn(self, text):
        if text and text not in self.warnings:
            self.warnings.append(text)


class Attrs:
    """What an admission plugin is told about a request."""

    def __init__(self, res, op, ns, name, ctx, subresource="", options=None, kind=None):
        self.res, self.op, self.ns, self.name, self.ctx = res, op, ns, name, ctx
        self.subresource = subresource or ""
        self.options = options or {}
        self.kind = kind or res.gvk()


def _get_path(obj, path):
    cur = obj
    for part in [p for p in (path or "").split(".") if p]:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj, path, value):
    parts = [p for p in path.split(".") if p]
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def selector_string(sel):
    """metav1.LabelSelector → the string form Scale.status.selector carries."""
    if not sel:
        return ""
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op == "In":
            parts.append("%s in (%s)" % (e["key"], ",".join(sorted(e.get("values") or []))))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e["key"], ",".join(sorted(e.get("values") or []))))
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(sorted(parts))


class Registry:
    def __init__(self, store, catalogue, admission=None, crds=None, log=None):
        self.store, self.cat, self.admission, self.crds = store, catalogue, admission, crds
        self.log = log

    # ---- reads -----------------------------------------------------------
    def get(self, res, ns, name):
        try:
            return self._out(res, self.store.get(res.key, ns, name))
        except st.NotFound:
            raise E.not_found(res, name) from None

    def list(self, res, ns, label_selector=None, field_selector=None, limit=0, cont=None):
        try:
            items, rv = self.store.list(res.key, ns or None, label_selector, field_selector)
        except ValueError as e:   # labels.SelectorError
            raise E.bad_request(str(e)) from None
        start = None
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont.encode() + b"==="))
                start, rv = tok["start"], tok["rv"]
            except (ValueError, KeyError, TypeError):
                raise E.bad_request("continue key is not valid: %s" % cont) from None
        if start:
            items = [o for o in items if self._sort_key(o) > start]
        meta = {"resourceVersion": rv}
        if limit and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            tok = {"rv": rv, "start": self._sort_key(items[-1])}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(tok).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = rest
        out_items = []
        for o in items:
            o = self._out(res, o)
            if not res.custom:   # typed lists carry no per-item kind/apiVersion
                o.pop("kind", None)
                o.pop("apiVersion", None)
            out_items.append(o)
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta, "items": out_items}

    @staticmethod
    def _sort_key(o):
        md = o["metadata"]
        return "%s/%s" % (md.get("namespace", ""), md["name"])

    def _out(self, res, obj):
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        return obj

    # ---- helpers ---------------------------------------------------------
    def _check_body(self, res, body, what="object"):
        if not isinstance(body, dict):
            raise E.bad_request("the body of the request was in an unknown format - accepted media types include: "
                                "application/json, application/yaml")
        if not body.get("kind"):
            raise E.bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body, separators=(",", ":"))[:200])
        if body.get("apiVersion") != res.api_version:
            raise E.bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                                % (body.get("apiVersion"), res.api_version))
        if body.get("kind") != res.kind:
            raise E.bad_request("the kind in the data (%s) does not match the expected kind (%s)" % (body.get("kind"), res.kind))
        if not isinstance(body.get("metadata", {}), dict):
            raise E.bad_request("metadata must be an object")

    def _check_namespace(self, res, ns, op, name):
        if not res.namespaced:
            return
        if not ns:
            raise E.bad_request("the server could not find the requested resource")
        try:
            nso = self.store.get("namespaces", None, ns)
        except st.NotFound:
            raise E.namespace_not_found(ns) from None
        if op == CREATE and nso["metadata"].get("deletionTimestamp"):
            err = E.forbidden(res, name, "unable to create new content in namespace %s because it is being terminated" % ns)
            err.details["causes"] = [{"reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % ns,
                                      "field": "metadata.namespace"}]
            raise err

    def _prepare(self, res, obj, old, ctx):
        """Defaults and (CRDs) pruning; may add warnings or raise strict-decoding errors."""
        if res.custom and self.crds:
            self.crds.prepare(res, obj, old, ctx)
        else:
            validation.apply_defaults(res, obj)

    def _validate(self, res, obj, old):
        if res.custom and self.crds:
            errs = self.crds.validate(res, obj, old)
        else:
            errs = validation.validate(res, obj, old)
            if res.key == "customresourcedefinitions.apiextensions.k8s.io" and self.crds:
                errs += self.crds.validate_crd(obj, old)
        if errs:
            raise E.invalid(res, (obj.get("metadata") or {}).get("name", ""), errs)

    def _admit_and_validate(self, attrs, obj, old, validate_obj=None, validate_old=None):
        """Mutating admission → (re)default → validation → validating admission.
        validate_obj/old: for the scale subresource, the parent object the
        Scale is applied to (validated by the parent's rules). Returns obj."""
        res, ctx = attrs.res, attrs.ctx
        admit = self.admission is not None and res.key not in (
            "mutatingwebhookconfigurations.admissionregistration.k8s.io",
            "validatingwebhookconfigurations.admissionregistration.k8s.io")
        if admit:
            obj = self.admission.mutate(attrs, obj, old)
            if attrs.subresource != "scale" and obj is not None:
                self._prepare(res, obj, old, Ctx(field_validation="Ignore"))
        if validate_obj is not None:
            validate_obj = validate_obj(obj)
            self._validate(res, validate_obj, validate_old)
        elif obj is not None and attrs.op != DELETE:
            self._validate(res, obj, old)
        if admit:
            self.admission.validate(attrs, obj, old)
        return obj if validate_obj is None else validate_obj

    # ---- create ----------------------------------------------------------
    def create(self, res, ns, body, ctx):
        self._check_body(res, body)
        obj = st.copy(body)
        md = obj.setdefault("metadata", {})
        if res.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise E.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if md.get("resourceVersion"):
            raise E.internal("resourceVersion should not be set on objects to be created")
        name = md.get("name", "")
        if not name and not md.get("generateName"):
            raise E.invalid(res, "", [E.field_error("metadata.name", "Required", "name or generateName is required")])
        self._check_namespace(res, ns, CREATE, name)
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields"):
            md.pop(f, None)
        if "status" in res.subresources:
            obj.pop("status", None)
        self._prepare(res, obj, None, ctx)
        attrs = Attrs(res, CREATE, ns, name, ctx, options={"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                                                             **({"fieldManager": ctx.field_manager} if ctx.field_manager else {}),
                                                             **({"dryRun": ["All"]} if ctx.dry_run else {})})
        obj = self._admit_and_validate(attrs, obj, None)
        md = obj.setdefault("metadata", {})
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        if res.key == "namespaces":
            obj.setdefault("status", {})["phase"] = "Active"
        if ctx.dry_run:
            try:
                self.store.get(res.key, ns, md["name"])
                raise E.already_exists(res, md["name"])
            except st.NotFound:
                pass
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = st.now_rfc3339()
            if res.key not in st.NO_GENERATION:
                md["generation"] = 1
            return obj
        try:
            out = self.store.create(res.key, obj)
        except st.AlreadyExists:
            raise E.already_exists(res, md["name"]) from None
        if res.key == "customresourcedefinitions.apiextensions.k8s.io" and self.crds:
            out = self.crds.established(out)
        return self._out(res, out)

    # ---- update ----------------------------------------------------------
    def update(self, res, ns, name, body, ctx, subresource=None, _patching=False):
        if subresource == "scale":
            return self.update_scale(res, ns, name, body, ctx)
        self._check_body(res, body)
        md = body.get("metadata") or {}
        if md.get("name") and md["name"] != name:
            raise E.bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (md["name"], name))
        if res.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise E.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        try:
            cur = self.store.get(res.key, ns, name)
        except st.NotFound:
            raise E.not_found(res, name) from None
        rv = md.get("resourceVersion")
        if not rv and res.custom and not _patching:
            raise E.invalid(res, name, [E.field_error("metadata.resourceVersion", "Invalid",
                                                      "must be specified for an update", 0)])
        if rv and str(rv) != cur["metadata"]["resourceVersion"]:
            raise E.conflict(res, name)
        new = st.copy(body)
        nmd = new.setdefault("metadata", {})
        nmd["name"] = name
        if res.namespaced:
            nmd["namespace"] = ns
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if f in cur["metadata"]:
                nmd[f] = cur["metadata"][f]
            else:
                nmd.pop(f, None)
        if subresource == "status":
            keep = st.copy(cur)
            if "status" in new:
                keep["status"] = new["status"]
            else:
                keep.pop("status", None)
            new = keep
        elif subresource is None:
            if "status" in res.subresources:
                if "status" in cur:
                    new["status"] = st.copy(cur["status"])
                else:
                    new.pop("status", None)
        else:
            raise E.not_found(res, name)
        self._prepare(res, new, cur, ctx)
        attrs = Attrs(res, UPDATE, ns, name, ctx, subresource,
                      options={"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1",
                               **({"fieldManager": ctx.field_manager} if ctx.field_manager else {}),
                               **({"dryRun": ["All"]} if ctx.dry_run else {})})
        new = self._admit_and_validate(attrs, new, cur)
        new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        if ctx.dry_run:
            return self._out(res, new)
        try:
            out = self.store.update(res.key, new)
        except st.Conflict:
            raise E.conflict(res, name) from None
        except st.NotFound:
            raise E.not_found(res, name) from None
        if res.key == "customresourcedefinitions.apiextensions.k8s.io" and self.crds:
            out = self.crds.established(out)
        return self._out(res, out)

    # ---- patch -----------------------------------------------------------
    def patch(self, res, ns, name, ptype, body_bytes, ctx, subresource=None):
        try:
            doc = json.loads(body_bytes or b"null")
        except ValueError as e:
            raise E.bad_request("error decoding patch: %s" % e) from None
        if ptype == "strategic" and res.custom:
            raise E.unsupported_media("the body of the request was in an unknown format - accepted media types include: "
                                      "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        # kube-apiserver re-applies the patch to the newest object (admission included) for as
        # long as the request lasts (GuaranteedUpdate); a patch that pins no resourceVersion
        # never answers 409 just because another writer was faster
        deadline = time.monotonic() + PATCH_RETRY_SECONDS
        while True:
            try:
                cur = self.store.get(res.key, ns, name)
            except st.NotFound:
                raise E.not_found(res, name) from None
            base = self.scale_of(res, cur) if subresource == "scale" else self._out(res, cur)
            try:
                if ptype == "merge":
                    if not isinstance(doc, dict):
                        raise P.PatchError("merge patch must be a JSON object")
                    patched = P.merge_patch(base, doc)
                elif ptype == "json":
                    patched = P.json_patch(base, doc)
                else:
                    patched = P.strategic_merge_patch(base, doc)
            except P.PatchError as e:
                raise E.APIError(422, "Invalid", str(e), {}) from None
            if not isinstance(patched, dict):
                raise E.bad_request("the patched object is not a JSON object")
            pinned = (patched.get("metadata") or {}).get("resourceVersion")
            if pinned != cur["metadata"]["resourceVersion"]:
                if pinned:
                    raise E.conflict(res, name)
            patched.setdefault("metadata", {})["resourceVersion"] = cur["metadata"]["resourceVersion"]
            pinned_by_client = (isinstance(doc, dict) and "resourceVersion" in (doc.get("metadata") or {})) or \
                (isinstance(doc, list) and any(isinstance(o, dict) and str(o.get("path", "")).startswith("/metadata/resourceVersion") for o in doc))
            try:
                return self.update(res, ns, name, patched, ctx, subresource, _patching=True)
            except E.APIError as e:
                if e.code == 409 and e.reason == "Conflict" and not pinned_by_client and time.monotonic() < deadline:
                    continue
                raise

    # ---- scale -----------------------------------------------------------
    def _scale_paths(self, res):
        if res.key == "statefulsets.apps":
            return ".spec.replicas", ".status.replicas", None
        return res.scale_paths

    def scale_of(self, res, obj):
        spec_p, status_p, sel_p = self._scale_paths(res)
        md = obj["metadata"]
        if res.key == "statefulsets.apps":
            selector = selector_string((obj.get("spec") or {}).get("selector"))
        else:
            selector = _get_path(obj, sel_p) if sel_p else None
        status = {"replicas": _get_path(obj, status_p) or 0}
        if selector:
            status["selector"] = selector
        smd = {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": smd,
                "spec": {"replicas": _get_path(obj, spec_p) or 0}, "status": status}

    def get_scale(self, res, ns, name):
        try:
            return self.scale_of(res, self.store.get(res.key, ns, name))
        except st.NotFound:
            raise E.not_found(res, name) from None

    def update_scale(self, res, ns, name, body, ctx):
        if not isinstance(body, dict) or body.get("kind") != "Scale":
            raise E.bad_request("the body of the request must be an autoscaling/v1 Scale")
        try:
            cur = self.store.get(res.key, ns, name)
        except st.NotFound:
            raise E.not_found(res, name) from None
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and str(rv) != cur["metadata"]["resourceVersion"]:
            raise E.conflict(res, name)
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise E.APIError(422, "Invalid", 'Scale.autoscaling "%s" is invalid: spec.replicas: Invalid value: %s: must be '
                             'greater than or equal to 0' % (name, json.dumps(replicas)),
                             {"name": name, "group": "autoscaling", "kind": "Scale",
                              "causes": [E.field_error("spec.replicas", "Invalid", "must be greater than or equal to 0", replicas)]})
        old_scale = self.scale_of(res, cur)
        new_scale = st.copy(body)
        new_scale["metadata"] = dict(old_scale["metadata"], **{k: v for k, v in (body.get("metadata") or {}).items()
                                                              if k in ("labels", "annotations")})
        new_scale["status"] = old_scale["status"]
        spec_p = self._scale_paths(res)[0]

        def apply(scale):
            n = st.copy(cur)
            _set_path(n, spec_p, (scale.get("spec") or {}).get("replicas"))
            return n
        attrs = Attrs(res, UPDATE, ns, name, ctx, "scale",
                      options={"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1",
                               **({"dryRun": ["All"]} if ctx.dry_run else {})},
                      kind={"group": "autoscaling", "version": "v1", "kind": "Scale"})
        new = self._admit_and_validate(attrs, new_scale, old_scale, validate_obj=apply, validate_old=cur)
        if ctx.dry_run:
            return self.scale_of(res, new)
        try:
            out = self.store.update(res.key, new)
        except st.Conflict:
            raise E.conflict(res, name) from None
        return self.scale_of(res, out)

    # ---- delete ----------------------------------------------------------
    def delete(self, res, ns, name, opts, ctx):
        """Returns (http_code, body)."""
        opts = opts or {}
        try:
            cur = self.store.get(res.key, ns, name)
        except st.NotFound:
            raise E.not_found(res, name) from None
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != cur["metadata"].get("uid"):
            raise E.conflict(res, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                             % (pre["uid"], cur["metadata"].get("uid")))
        if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]:
            raise E.conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in "
                             "object meta: %s" % (pre["resourceVersion"], cur["metadata"]["resourceVersion"]))
        policy = opts.get("propagationPolicy")
        if policy is None and opts.get("orphanDependents") is not None:
            policy = "Orphan" if opts["orphanDependents"] else "Background"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise E.invalid(res, name, [E.field_error("propagationPolicy", "NotSupported",
                                                      'supported values: "Foreground", "Background", "Orphan", "nil"', policy)])
        attrs = Attrs(res, DELETE, ns, name, ctx, options={"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1",
                                                             **({"propagationPolicy": policy} if policy else {}),
                                                             **({"dryRun": ["All"]} if ctx.dry_run else {})})
        self._admit_and_validate(attrs, None, self._out(res, st.copy(cur)))
        if ctx.dry_run:
            return 200, self._out(res, cur)
        if res.key == "namespaces":
            return 200, self._out(res, self._terminate_namespace(cur))
        fins = {"Foreground": ["foregroundDeletion"], "Orphan": ["orphan"]}.get(policy)
        grace = 0
        if res.key == "pods":   # graceful: the kubelet stops the containers, then removes the object
            grace = st.pod_grace(cur, opts.get("gracePeriodSeconds"))
        try:
            out = self.store.delete(res.key, ns, name, finalizers_add=fins, grace_seconds=grace)
        except st.NotFound:
            raise E.not_found(res, name) from None
        except st.Conflict as e:
            raise E.conflict(res, name, str(e).split(": ", 1)[-1]) from None
        if out["metadata"].get("deletionTimestamp") and (out["metadata"].get("finalizers") or
                                                         out["metadata"].get("deletionGracePeriodSeconds")):
            return (202 if policy == "Foreground" else 200), self._out(res, out)
        if res.key == "customresourcedefinitions.apiextensions.k8s.io" and self.crds:
            self.crds.removed(out)
        if res.key == "pods":
            return 200, self._out(res, out)
        details = {"name": name, "kind": res.plural, "uid": out["metadata"].get("uid")}
        if res.group:
            details["group"] = res.group
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _terminate_namespace(self, cur):
        name = cur["metadata"]["name"]
        if name in ("default", "kube-system", "kube-public"):
            raise E.forbidden(self.cat.by_key("namespaces"), name, "this namespace may not be deleted")

        def mark(o):
            if o.get("status", {}).get("phase") == "Terminating":
                return False
            o.setdefault("status", {})["phase"] = "Terminating"
        self.store.mutate("namespaces", None, name, mark)
        return self.store.delete("namespaces", None, name, finalizers_add=["kubernetes"])

    def delete_collection(self, res, ns, label_selector, field_selector, opts, ctx):
        lst = self.list(res, ns, label_selector, field_selector)
        deleted = []
        for o in lst["items"]:
            md = o["metadata"]
            try:
                code, body = self.delete(res, md.get("namespace", ""), md["name"], opts, ctx)
            except E.APIError as e:
                if e.code == 404:
                    continue
                raise
            deleted.append(self._out(res, o))
        return {"kind": res.kind + "List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": self.store.resource_version}, "items": deleted}
