"""Defaulting and validation of the built-in kinds — the part of each
kube-apiserver REST strategy that a client can observe.

Not the whole of Kubernetes validation: the bed checks what a controller or a
manifest in this project could get wrong and a real cluster would refuse
(names, labels, the StatefulSet and Pod fields that cannot change, the
namespace in a namespaced object, required fields of the objects we use) and
fills the defaults a client reads back (Pod and StatefulSet template defaults,
Service port defaults, webhook configuration defaults, the namespace name
label). Errors are field errors in apierrors' shape; the caller turns them
into one 422 with kube-apiserver's aggregate message.
"""
import re

from apierrors import field_error as ferr

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")

NAME_RULE = {"namespaces": "label", "services": "dns1035"}


def _name_errors(key, name):
    rule = NAME_RULE.get(key, "subdomain")
    if rule == "label":
        if len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
            return [ferr("metadata.name", "Invalid", LABEL_MSG, name)]
    elif rule == "dns1035":
        if len(name) > 63 or not DNS1035_LABEL.fullmatch(name):
            return [ferr("metadata.name", "Invalid", DNS1035_MSG, name)]
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
        return [ferr("metadata.name", "Invalid", SUBDOMAIN_MSG, name)]
    return []


def _label_errors(path, labels):
    errs = []
    for k, v in (labels or {}).items():
        prefix, _, nm = k.rpartition("/")
        if not nm or len(nm) > 63 or not QUALIFIED_NAME.fullmatch(nm) or (prefix and not DNS1123_SUBDOMAIN.fullmatch(prefix)):
            errs.append(ferr(path, "Invalid", "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                             "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
                             "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')", k))
        if not isinstance(v, str):
            errs.append(ferr(path, "Invalid", "label values must be strings", v))
        elif len(v) > 63 or not LABEL_VALUE.fullmatch(v):
            errs.append(ferr("%s" % path, "Invalid", "a valid label must be an empty string or consist of alphanumeric "
                             "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                             "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                             "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')", v))
    return errs


def validate_metadata(res, obj):
    md = obj.get("metadata") or {}
    errs = []
    if md.get("name"):
        errs += _name_errors(res.key, md["name"])
    errs += _label_errors("metadata.labels", md.get("labels"))
    ann = md.get("annotations") or {}
    if sum(len(k) + len(str(v)) for k, v in ann.items()) > 256 * 1024:
        errs.append(ferr("metadata.annotations", "TooLong", "must have at most 262144 bytes"))
    for k, v in ann.items():
        if not isinstance(v, str):
            errs.append(ferr("metadata.annotations", "Invalid", "annotation values must be strings", v))
    return errs


# ---- defaults ------------------------------------------------------------
def _default_container(c):
    c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(":latest") or ":" not in str(c.get("image", "")).rsplit("/", 1)[-1] else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        pr = c.get(probe)
        if isinstance(pr, dict):
            pr.setdefault("timeoutSeconds", 1)
            pr.setdefault("periodSeconds", 10)
            pr.setdefault("successThreshold", 1)
            pr.setdefault("failureThreshold", 3)
            if isinstance(pr.get("httpGet"), dict):
                pr["httpGet"].setdefault("path", "/")
                pr["httpGet"].setdefault("scheme", "HTTP")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            _default_container(c)
    for v in spec.get("volumes") or []:
        if isinstance(v, dict) and not any(k for k in v if k != "name"):
            v["emptyDir"] = {}
        for src in ("configMap", "secret"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)


def apply_defaults(res, obj):
    key = res.key
    spec = obj.get("spec")
    if key == "pods" and isinstance(spec, dict):
        default_pod_spec(spec)
    elif key == "statefulsets.apps" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        tpl = spec.get("template")
        if isinstance(tpl, dict) and isinstance(tpl.get("spec"), dict):
            default_pod_spec(tpl["spec"])
        for vct in spec.get("volumeClaimTemplates") or []:
            if isinstance(vct, dict):
                vct.setdefault("apiVersion", "v1")
                vct.setdefault("kind", "PersistentVolumeClaim")
                if isinstance(vct.get("spec"), dict):
                    vct["spec"].setdefault("volumeMode", "Filesystem")
    elif key == "services" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
    elif key == "persistentvolumeclaims" and isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    elif key == "namespaces":
        md = obj.setdefault("metadata", {})
        if md.get("name"):
            md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif key in ("mutatingwebhookconfigurations.admissionregistration.k8s.io",
                 "validatingwebhookconfigurations.admissionregistration.k8s.io"):
        for wh in obj.get("webhooks") or []:
            if not isinstance(wh, dict):
                continue
            wh.setdefault("failurePolicy", "Fail")
            wh.setdefault("matchPolicy", "Equivalent")
            wh.setdefault("namespaceSelector", {})
            wh.setdefault("objectSelector", {})
            wh.setdefault("timeoutSeconds", 10)
            if key.startswith("mutating"):
                wh.setdefault("reinvocationPolicy", "Never")
            for r in wh.get("rules") or []:
                if isinstance(r, dict):
                    r.setdefault("scope", "*")
            svc = (wh.get("clientConfig") or {}).get("service")
            if isinstance(svc, dict):
                svc.setdefault("port", 443)
    elif key == "secrets":
        if not obj.get("type"):
            obj["type"] = "Opaque"


# ---- validation ----------------------------------------------------------
STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _pod_spec_errors(path, spec):
    errs = []
    cs = spec.get("containers")
    if not cs:
        errs.append(ferr(path + ".containers", "Required", ""))
    seen = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            p = "%s.%s[%d]" % (path, group, i)
            if not isinstance(c, dict):
                errs.append(ferr(p, "Invalid", "must be an object", c))
                continue
            if not c.get("name"):
                errs.append(ferr(p + ".name", "Required", ""))
            elif c["name"] in seen:
                errs.append(ferr(p + ".name", "Duplicate", "", c["name"]))
            else:
                seen.add(c["name"])
                if len(c["name"]) > 63 or not DNS1123_LABEL.fullmatch(c["name"]):
                    errs.append(ferr(p + ".name", "Invalid", LABEL_MSG, c["name"]))
            if not c.get("image"):
                errs.append(ferr(p + ".image", "Required", ""))
    return errs


def validate(res, obj, old):
    """Field errors for a create (old None) or update of a built-in kind."""
    key = res.key
    errs = validate_metadata(res, obj)
    spec = obj.get("spec") or {}
    if key == "pods":
        errs += _pod_spec_errors("spec", spec)
        if old is not None:
            errs += _pod_update_errors(old.get("spec") or {}, spec)
    elif key == "statefulsets.apps":
        sel = spec.get("selector")
        if not sel:
            errs.append(ferr("spec.selector", "Required", ""))
        tpl = spec.get("template") or {}
        tlabels = (tpl.get("metadata") or {}).get("labels") or {}
        if sel and isinstance(sel, dict):
            import labels as L
            try:
                if not L.matches(L.from_label_selector(sel), tlabels):
                    errs.append(ferr("spec.template.metadata.labels", "Invalid", "`selector` does not match template `labels`", tlabels))
            except L.SelectorError as e:
                errs.append(ferr("spec.selector", "Invalid", str(e), sel))
        errs += _pod_spec_errors("spec.template.spec", tpl.get("spec") or {})
        if isinstance(spec.get("replicas"), int) and spec["replicas"] < 0:
            errs.append(ferr("spec.replicas", "Invalid", "must be greater than or equal to 0", spec["replicas"]))
        if old is not None:
            ospec = old.get("spec") or {}
            strip = lambda s: {k: v for k, v in s.items() if k not in STS_MUTABLE}
            if strip(ospec) != strip(spec):
                errs.append(ferr("spec", "Forbidden", "updates to statefulset spec for fields other than 'replicas', "
                                 "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                                 "'minReadySeconds' are forbidden"))
    elif key == "services":
        for i, p in enumerate(spec.get("ports") or []):
            port = p.get("port") if isinstance(p, dict) else None
            if not isinstance(port, int) or not 1 <= port <= 65535:
                errs.append(ferr("spec.ports[%d].port" % i, "Invalid", "must be between 1 and 65535, inclusive", port))
        if old is not None:
            oip = (old.get("spec") or {}).get("clusterIP")
            if oip and spec.get("clusterIP") not in (None, "", oip):
                errs.append(ferr("spec.clusterIPs[0]", "Invalid", "may not change once set", spec.get("clusterIP")))
    elif key == "persistentvolumeclaims" and old is not None:
        ospec = dict(old.get("spec") or {})
        nspec = dict(spec)
        for s in (ospec, nspec):
            s.pop("resources", None)
            s.pop("volumeName", None)
        if ospec != nspec:
            errs.append(ferr("spec", "Forbidden", "spec is immutable after creation except resources.requests and "
                             "volumeAttributesClassName for bound claims"))
    elif key in ("mutatingwebhookconfigurations.admissionregistration.k8s.io",
                 "validatingwebhookconfigurations.admissionregistration.k8s.io"):
        errs += _webhook_errors(obj)
    return errs


def _pod_update_errors(ospec, nspec):
    def strip(s):
        s = {k: v for k, v in s.items() if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")}
        for group in ("containers", "initContainers"):
            if isinstance(s.get(group), list):
                s[group] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c for c in s[group]]
        return s
    if strip(ospec) != strip(nspec):
        return [ferr("spec", "Forbidden", "pod updates may not change fields other than `spec.containers[*].image`,"
                     "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                     "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                     "was previously negative)")]
    return []


def _webhook_errors(obj):
    errs = []
    names = set()
    for i, wh in enumerate(obj.get("webhooks") or []):
        p = "webhooks[%d]" % i
        name = wh.get("name", "")
        if not name:
            errs.append(ferr(p + ".name", "Required", ""))
        elif name in names:
            errs.append(ferr(p + ".name", "Duplicate", "", name))
        elif name.count(".") < 2 or not DNS1123_SUBDOMAIN.fullmatch(name):
            errs.append(ferr(p + ".name", "Invalid", "should be a domain with at least three segments separated by dots", name))
        names.add(name)
        if wh.get("sideEffects") not in ("None", "NoneOnDryRun"):
            errs.append(ferr(p + ".sideEffects", "NotSupported" if wh.get("sideEffects") else "Required",
                             'supported values: "None", "NoneOnDryRun"' if wh.get("sideEffects") else "",
                             wh.get("sideEffects")))
        if not wh.get("admissionReviewVersions"):
            errs.append(ferr(p + ".admissionReviewVersions", "Required",
                             "must specify one of v1, v1beta1"))
        elif "v1" not in wh["admissionReviewVersions"] and "v1beta1" not in wh["admissionReviewVersions"]:
            errs.append(ferr(p + ".admissionReviewVersions", "Invalid", "must include at least one of v1, v1beta1",
                             wh["admissionReviewVersions"]))
        cc = wh.get("clientConfig") or {}
        if bool(cc.get("url")) == bool(cc.get("service")):
            errs.append(ferr(p + ".clientConfig", "Required", "exactly one of url or service is required"))
        ts = wh.get("timeoutSeconds")
        if isinstance(ts, int) and not 1 <= ts <= 30:
            errs.append(ferr(p + ".timeoutSeconds", "Invalid", "the timeout value must be between 1 and 30 seconds", ts))
        if wh.get("failurePolicy") not in ("Fail", "Ignore"):
            errs.append(ferr(p + ".failurePolicy", "NotSupported", 'supported values: "Fail", "Ignore"', wh.get("failurePolicy")))
    return errs
