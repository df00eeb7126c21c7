"""What the bed serves: the resource catalogue, and the documents clients
discover it through (/version, /api, /apis, per-group-version resource lists,
and the small OpenAPI documents kubectl needs before it will create objects).

The catalogue is the one place that knows, for each resource, its group,
version, kind, plural, scope, short names and subresources. Built-in kinds are
listed below; CRD-defined kinds are added and removed at run time by crd.py.
Everything else in the bed (routing, admission matching, tables, the store's
scope rules) asks the catalogue, so a CRD, once applied, is served like a
built-in.

Discovery is served in the classic shapes only (APIVersions, APIGroupList,
APIResourceList, Content-Type application/json). kubectl 1.26+ asks for the
aggregated form first and falls back to these when the server answers plain
JSON, exactly as it does against an older kube-apiserver; kubectl 1.20 only
knows these.

OpenAPI: kubectl 1.27+ decides whether the server validates fields itself by
looking for a `fieldValidation` parameter on the PATCH operation of the kind
in /openapi/v3/<gv>; when it finds one it sends fieldValidation=Strict and
validates nothing client-side. Older kubectl (1.20 on a fresh Debian)
reads only /openapi/v2, for server dry-run support and for client-side
validation. So the bed serves v3 documents that declare the parameter (and
no schemas, so kubectl apply falls back to its built-in strategic-merge
metadata) and a v2 document with every kind's PATCH operation and the CRD
schemas (openapi2.py) — in protobuf when asked, since client-go decodes
only that.
"""
import threading

SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "kubesim",
    "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.6",
    "compiler": "gc", "platform": "linux/amd64",
}

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


class Resource:
    """One served resource (one version of it)."""

    def __init__(self, group, version, kind, plural, singular=None, namespaced=True,
                 short_names=(), categories=(), subresources=(), verbs=None, custom=False):
        self.group, self.version, self.kind, self.plural = group, version, kind, plural
        self.singular = singular or kind.lower()
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.subresources = list(subresources)   # "status", "scale", "log"
        self.verbs = list(verbs or ALL_VERBS)
        self.custom = custom
        # CRD extras (crd.py fills these)
        self.schema = None
        self.scale_paths = (".spec.replicas", ".status.replicas", None)
        self.printer_columns = None
        self.crd_name = None

    @property
    def key(self):
        return self.plural if not self.group else "%s.%s" % (self.plural, self.group)

    @property
    def api_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def group_resource(self):
        """As kube-apiserver prints a qualified resource: "pods", "etcdclusters.etcd.k8s-operator.io"."""
        return self.key

    @property
    def group_kind(self):
        return self.kind if not self.group else "%s.%s" % (self.kind, self.group)

    def gvk(self):
        return {"group": self.group, "version": self.version, "kind": self.kind}

    def gvr(self):
        return {"group": self.group, "version": self.version, "resource": self.plural}

    def base_path(self, ns=None):
        root = "/api/v1" if not self.group else "/apis/%s/%s" % (self.group, self.version)
        if self.namespaced and ns:
            return "%s/namespaces/%s/%s" % (root, ns, self.plural)
        return "%s/%s" % (root, self.plural)


def _builtin():
    R = Resource
    return [
        R("", "v1", "Pod", "pods", short_names=["po"], categories=["all"], subresources=["status", "log"]),
        R("", "v1", "Service", "services", short_names=["svc"], categories=["all"], subresources=["status"]),
        R("", "v1", "Endpoints", "endpoints", singular="endpoints", short_names=["ep"]),
        R("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=["pvc"], subresources=["status"]),
        R("", "v1", "Event", "events", short_names=["ev"]),
        R("", "v1", "Secret", "secrets"),
        R("", "v1", "ConfigMap", "configmaps", short_names=["cm"]),
        R("", "v1", "ServiceAccount", "serviceaccounts", short_names=["sa"]),
        R("", "v1", "Namespace", "namespaces", namespaced=False, short_names=["ns"], subresources=["status"],
          verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
        R("apps", "v1", "StatefulSet", "statefulsets", short_names=["sts"], categories=["all"], subresources=["status", "scale"]),
        R("coordination.k8s.io", "v1", "Lease", "leases"),
        R("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=["pdb"], subresources=["status"]),
        R("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
          namespaced=False, short_names=["crd", "crds"], categories=["api-extensions"], subresources=["status"]),
        R("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
          namespaced=False, categories=["api-extensions"]),
        R("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
          namespaced=False, categories=["api-extensions"]),
    ]


class Catalogue:
    """Thread-safe registry of served resources; CRDs come and go."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_key = {}
        for r in _builtin():
            self._by_key[r.key] = r

    def add(self, res):
        with self._lock:
            self._by_key[res.key] = res

    def remove(self, key):
        with self._lock:
            self._by_key.pop(key, None)

    def by_key(self, key):
        with self._lock:
            return self._by_key.get(key)

    def find(self, group, version, plural):
        with self._lock:
            r = self._by_key.get(plural if not group else "%s.%s" % (plural, group))
        if r and r.version == version:
            return r
        return None

    def by_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for r in self._by_key.values():
                if r.group == group and r.version == version and r.kind == kind:
                    return r
        return None

    def all(self):
        with self._lock:
            return sorted(self._by_key.values(), key=lambda r: (r.group, r.plural))

    def groups(self):
        """{group: [versions]} for the named groups (core excluded)."""
        out = {}
        for r in self.all():
            if r.group:
                vs = out.setdefault(r.group, [])
                if r.version not in vs:
                    vs.append(r.version)
        return out

    # ---- documents -------------------------------------------------------
    def api_versions(self, server_address):
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}

    def _group_doc(self, group, versions):
        gvs = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self):
        order = ["apps", "coordination.k8s.io", "policy", "apiextensions.k8s.io", "admissionregistration.k8s.io"]
        groups = self.groups()
        names = [g for g in order if g in groups] + sorted(g for g in groups if g not in order)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group_doc(g, groups[g]) for g in names]}

    def api_group(self, group):
        versions = self.groups().get(group)
        if not versions:
            return None
        doc = self._group_doc(group, versions)
        doc.update(kind="APIGroup", apiVersion="v1")
        return doc

    def resource_list(self, group, version):
        rs = [r for r in self.all() if r.group == group and r.version == version]
        if not rs:
            return None
        out = []
        for r in rs:
            entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                     "kind": r.kind, "verbs": r.verbs}
            if r.short_names:
                entry["shortNames"] = r.short_names
            if r.categories:
                entry["categories"] = r.categories
            out.append(entry)
            for sub in r.subresources:
                if sub == "scale":
                    out.append({"name": r.plural + "/scale", "singularName": "", "namespaced": r.namespaced,
                                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": SUB_VERBS})
                elif sub == "log":
                    out.append({"name": r.plural + "/log", "singularName": "", "namespaced": r.namespaced,
                                "kind": "Pod", "verbs": ["get"]})
                else:
                    out.append({"name": "%s/%s" % (r.plural, sub), "singularName": "", "namespaced": r.namespaced,
                                "kind": r.kind, "verbs": SUB_VERBS})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": version if not group else "%s/%s" % (group, version), "resources": out}

    # ---- OpenAPI ---------------------------------------------------------
    def openapi_v3_root(self):
        paths = {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1"}}
        for g, vs in self.groups().items():
            for v in vs:
                paths["apis/%s/%s" % (g, v)] = {"serverRelativeURL": "/openapi/v3/apis/%s/%s" % (g, v)}
        return {"paths": paths}

    def openapi_v3_gv(self, group, version):
        rs = [r for r in self.all() if r.group == group and r.version == version]
        if not rs:
            return None
        paths = {}
        for r in rs:
            item = "/" + r.base_path("{namespace}" if r.namespaced else None).lstrip("/") + "/{name}"
            params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                      for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
            paths[item] = {"patch": {"operationId": "patch" + r.kind, "parameters": params,
                                     "x-kubernetes-action": "patch",
                                     "x-kubernetes-group-version-kind": r.gvk()}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes (kubesim)", "version": SERVER_VERSION["gitVersion"]},
                "paths": paths, "components": {"schemas": {}}}

    def openapi_v2(self, protobuf):
        """The v2 document (see openapi2.py): JSON-shaped dict, or its protobuf bytes."""
        import openapi2
        doc = openapi2.document(self.all())
        return openapi2.protobuf(doc) if protobuf else doc
