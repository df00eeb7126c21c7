"""Server-side printing: meta.k8s.io/v1 Table responses, as kube-apiserver
returns them when a client asks `Accept: ...;as=Table` (kubectl get does).

kubectl prints whatever columns the server sends, so `kubectl get pods`
looks like it does against a cluster only if the bed computes the same
columns. Built-in kinds get the columns of kube-apiserver's printers (the
ones users read: pods' READY/STATUS/RESTARTS, StatefulSets' READY, ...);
CRD kinds get their additionalPrinterColumns (a small JSONPath subset), or
NAME and AGE. Ages are computed here as human durations, as the server does.
"""
import datetime
import json
import re

NAME_COL = {"name": "Name", "type": "string", "format": "name", "priority": 0,
            "description": "Name must be unique within a namespace. More info: "
                           "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}


def _col(name, typ="string", priority=0, desc="", fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


def _parse_ts(ts):
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 60 * 2:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 60 * 3:
        return "%dm" % m
    hrs = m // 60
    if hrs < 8:
        return "%dh%dm" % (hrs, m % 60) if m % 60 else "%dh" % hrs
    if hrs < 48:
        return "%dh" % hrs
    if hrs < 24 * 8:
        return "%dd%dh" % (hrs // 24, hrs % 24) if hrs % 24 else "%dd" % (hrs // 24)
    if hrs < 24 * 365 * 2:
        return "%dd" % (hrs // 24)
    if hrs < 24 * 365 * 8:
        return "%dy%dd" % (hrs // (24 * 365), (hrs // 24) % 365)
    return "%dy" % (hrs // (24 * 365))


def age(ts):
    t = _parse_ts(ts)
    if t is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def _md(o):
    return o.get("metadata") or {}


def _none(v):
    return v if v not in (None, "", []) else "<none>"


# ---- built-in printers ---------------------------------------------------
def _pod_status(pod):
    st = pod.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    inits = (pod.get("spec") or {}).get("initContainers") or []
    initializing = False
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        initializing = True
        if term:
            reason = "Init:" + (term.get("reason") or ("Signal:%d" % term["signal"] if term.get("signal") else "ExitCode:%d" % term.get("exitCode", 0)))
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(inits))
        break
    ready = 0
    restarts = 0
    for cs in st.get("initContainerStatuses") or []:
        restarts += cs.get("restartCount", 0)
    if not initializing:
        has_running = False
        for cs in reversed(st.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            state = cs.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated"):
                t = state["terminated"]
                reason = t.get("reason") or ("Signal:%d" % t["signal"] if t.get("signal") else "ExitCode:%d" % t.get("exitCode", 0))
            elif state.get("running"):
                has_running = True
                if cs.get("ready"):
                    ready += 1
        if reason == "Completed" and has_running:
            reason = "Running"
    else:
        for cs in st.get("containerStatuses") or []:
            restarts += cs.get("restartCount", 0)
    if _md(pod).get("deletionTimestamp"):
        reason = "Terminating"
    total = len((pod.get("spec") or {}).get("containers") or [])
    return "%d/%d" % (ready, total), reason, restarts


def _pods(o):
    ready, status, restarts = _pod_status(o)
    st = o.get("status") or {}
    return [_md(o).get("name"), ready, status, restarts, age(_md(o).get("creationTimestamp")),
            _none(st.get("podIP")), _none((o.get("spec") or {}).get("nodeName")), "<none>", "<none>"]


def _ports(svc):
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        s = "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            s = "%s:%s/%s" % (p.get("port"), p["nodePort"], p.get("protocol", "TCP"))
        out.append(s)
    return ",".join(out) or "<none>"


def _selector(sel):
    return ",".join("%s=%s" % kv for kv in sorted((sel or {}).items())) or "<none>"


def _endpoints(o):
    addrs = []
    for ss in o.get("subsets") or []:
        ports = ss.get("ports") or [{}]
        for a in ss.get("addresses") or []:
            for p in ports:
                addrs.append("%s:%s" % (a.get("ip"), p.get("port")) if p.get("port") else a.get("ip"))
    if not addrs:
        return "<none>"
    if len(addrs) > 3:
        return ",".join(addrs[:3]) + " + %d more..." % (len(addrs) - 3)
    return ",".join(addrs)


def _event_time(e):
    return e.get("lastTimestamp") or (e.get("series") or {}).get("lastObservedTime") or e.get("eventTime") or \
        e.get("firstTimestamp") or _md(e).get("creationTimestamp")


def _event_obj(e):
    io = e.get("involvedObject") or {}
    return "%s/%s" % ((io.get("kind") or "").lower(), io.get("name"))


PRINTERS = {
    "pods": ([_col("Ready"), _col("Status"), _col("Restarts", "string"), _col("Age"), _col("IP", priority=1),
              _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
             lambda o: _pods(o)[1:]),
    "statefulsets.apps": ([_col("Ready"), _col("Age"), _col("Containers", priority=1), _col("Images", priority=1)],
                          lambda o: ["%d/%d" % ((o.get("status") or {}).get("readyReplicas", 0), (o.get("spec") or {}).get("replicas", 1)),
                                     age(_md(o).get("creationTimestamp")),
                                     ",".join(c.get("name", "") for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []),
                                     ",".join(c.get("image", "") for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])]),
    "services": ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), _col("Age"), _col("Selector", priority=1)],
                 lambda o: [(o.get("spec") or {}).get("type", "ClusterIP"), _none((o.get("spec") or {}).get("clusterIP")),
                            "<none>", _ports(o), age(_md(o).get("creationTimestamp")), _selector((o.get("spec") or {}).get("selector"))]),
    "endpoints": ([_col("Endpoints"), _col("Age")], lambda o: [_endpoints(o), age(_md(o).get("creationTimestamp"))]),
    "persistentvolumeclaims": ([_col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"), _col("StorageClass"),
                                _col("VolumeAttributesClass"), _col("Age"), _col("VolumeMode", priority=1)],
                               lambda o: [(o.get("status") or {}).get("phase", "Pending"), (o.get("spec") or {}).get("volumeName", ""),
                                          ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
                                          ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m)
                                                   for m in (o.get("status") or {}).get("accessModes") or []),
                                          _none((o.get("spec") or {}).get("storageClassName")), "<unset>",
                                          age(_md(o).get("creationTimestamp")), (o.get("spec") or {}).get("volumeMode", "Filesystem")]),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Subobject", priority=1),
                _col("Source", priority=1), _col("Message"), _col("First Seen", priority=1), _col("Count", priority=1),
                _col("Name", priority=1)],
               lambda o: [age(_event_time(o)), o.get("type", ""), o.get("reason", ""), _event_obj(o),
                          (o.get("involvedObject") or {}).get("fieldPath", ""),
                          (o.get("source") or {}).get("component", "") or o.get("reportingComponent", ""),
                          o.get("message", ""), age(o.get("firstTimestamp") or _event_time(o)), o.get("count", 1),
                          _md(o).get("name")]),
    "namespaces": ([_col("Status"), _col("Age")],
                   lambda o: [(o.get("status") or {}).get("phase", "Active"), age(_md(o).get("creationTimestamp"))]),
    "configmaps": ([_col("Data", "integer"), _col("Age")],
                   lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(_md(o).get("creationTimestamp"))]),
    "secrets": ([_col("Type"), _col("Data", "integer"), _col("Age")],
                lambda o: [o.get("type", "Opaque"), len(o.get("data") or {}) + len(o.get("stringData") or {}),
                           age(_md(o).get("creationTimestamp"))]),
    "serviceaccounts": ([_col("Secrets", "integer"), _col("Age")],
                        lambda o: [len(o.get("secrets") or []), age(_md(o).get("creationTimestamp"))]),
    "leases.coordination.k8s.io": ([_col("Holder"), _col("Age")],
                                   lambda o: [(o.get("spec") or {}).get("holderIdentity", ""), age(_md(o).get("creationTimestamp"))]),
    "poddisruptionbudgets.policy": ([_col("Min Available"), _col("Max Unavailable"), _col("Allowed Disruptions", "integer"), _col("Age")],
                                    lambda o: [str((o.get("spec") or {}).get("minAvailable", "N/A")),
                                               str((o.get("spec") or {}).get("maxUnavailable", "N/A")),
                                               (o.get("status") or {}).get("disruptionsAllowed", 0), age(_md(o).get("creationTimestamp"))]),
    "customresourcedefinitions.apiextensions.k8s.io": ([_col("Created At", "date")],
                                                       lambda o: [_md(o).get("creationTimestamp", "")]),
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": ([_col("Webhooks", "integer"), _col("Age")],
                                                                   lambda o: [len(o.get("webhooks") or []), age(_md(o).get("creationTimestamp"))]),
    "validatingwebhookconfigurations.admissionregistration.k8s.io": ([_col("Webhooks", "integer"), _col("Age")],
                                                                     lambda o: [len(o.get("webhooks") or []), age(_md(o).get("creationTimestamp"))]),
}


# ---- JSONPath subset for additionalPrinterColumns ------------------------
_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]|\[\*\]")


def jsonpath(obj, path):
    """Values at a simple JSONPath: .a.b, [n], [*], [?(@.k=="v")]. Returns a list."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    cur = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt = []
        for c in cur:
            if m.group(1) is not None:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(c, list) and int(m.group(2)) < len(c):
                    nxt.append(c[int(m.group(2))])
            elif m.group(3) is not None:
                if isinstance(c, list):
                    for it in c:
                        v = it
                        for part in m.group(3).split("."):
                            v = v.get(part) if isinstance(v, dict) else None
                        if v is not None and str(v) == m.group(4):
                            nxt.append(it)
            else:
                if isinstance(c, list):
                    nxt.extend(c)
        cur = nxt
    return cur


def _cell(values, typ):
    if not values:
        return None
    v = values[0] if len(values) == 1 else values
    if typ == "date" and isinstance(v, str):
        return age(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    if typ == "string" and not isinstance(v, str):
        return json.dumps(v) if not isinstance(v, bool) else ("true" if v else "false")
    return v


def _custom_columns(res):
    cols = res.printer_columns
    if not cols:
        return [_col("Age", "date")], lambda o: [age(_md(o).get("creationTimestamp"))]
    defs = [_col(c["name"], c.get("type", "string"), c.get("priority", 0), c.get("description", ""), c.get("format", ""))
            for c in cols]
    return defs, lambda o: [_cell(jsonpath(o, c.get("jsonPath", "")), c.get("type", "string")) for c in cols]


def table(res, objs, include_object=None, crds=None, list_meta=None, headers=True):
    if res.custom:
        defs, row = _custom_columns(res)
    elif res.key in PRINTERS:
        defs, row = PRINTERS[res.key]
    else:
        defs, row = [_col("Age")], lambda o: [age(_md(o).get("creationTimestamp"))]
    rows = []
    for o in objs:
        r = {"cells": [_md(o).get("name")] + row(o)}
        inc = include_object or "Metadata"
        if inc == "Object":   # a whole object, kind and all: kubectl decodes it to sort by a field
            r["object"] = dict({"kind": res.kind, "apiVersion": res.api_version}, **o)
        elif inc == "Metadata":
            r["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": _md(o)}
        rows.append(r)
    out = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_meta or {}),
           "columnDefinitions": [NAME_COL] + defs if headers else [], "rows": rows}
    out["metadata"].pop("remainingItemCount", None) if not out["metadata"].get("continue") else None
    return out
