"""The /openapi/v2 document, in JSON and in the protobuf form client-go asks
for (gnostic's openapi_v2.Document).

Why the bed serves more than an empty document: kubectl before 1.27 reads
only this version, and it decides two things from it.
  * Whether a kind supports server-side dry run (`--dry-run=server`, and
    `kubectl diff`): it looks for the PATCH operation of the kind's item path
    (found by its `x-kubernetes-group-version-kind` extension) and a
    `dryRun` query parameter on it; a kind it cannot find is refused with
    "<gvk> doesn't support dry-run". So every served kind, CRD kinds
    included, gets its PATCH operation here, as kube-apiserver publishes.
  * Client-side validation (`--validate`, on by default): kinds that have a
    definition are validated against it (unknown fields, types, required);
    kinds without one are not validated. kube-apiserver publishes the CRD
    schemas converted to OpenAPI v2, so an old kubectl refuses
    `spec.bogus` of an EtcdCluster before sending it; the bed publishes the
    same conversion (below) and no definitions for built-in kinds, which an
    old kubectl then leaves to the server.

The one idea: build the document once as plain JSON-shaped dicts, and encode
that same structure field by field into protobuf (a hand-written encoder for
the handful of gnostic messages used), so the two forms never disagree.

The CRD conversion follows apiextensions-apiserver's v2 conversion: what v2
cannot say is dropped rather than approximated — a nullable value, an
int-or-string and a preserve-unknown-fields object lose their type (anything
validates), and oneOf/anyOf/allOf/not and defaults are not published.
"""
import json

import discovery


# ---- the document as JSON ----------------------------------------------------
def _definition_name(res):
    rev = ".".join(reversed(res.group.split("."))) if res.group else "io.k8s.api.core"
    return "%s.%s.%s" % (rev, res.version, res.kind)


def _v2_schema(s):
    """A CRD structural schema (OpenAPI v3) as the v2 schema kube-apiserver publishes."""
    if not isinstance(s, dict):
        return {}
    if s.get("nullable") or s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields"):
        out = {}
        if s.get("description"):
            out["description"] = s["description"]
        return out
    out = {}
    for k in ("description", "type", "format", "pattern", "maximum", "minimum", "exclusiveMaximum",
              "exclusiveMinimum", "maxLength", "minLength", "maxItems", "minItems", "uniqueItems",
              "maxProperties", "minProperties", "multipleOf", "required", "enum"):
        if k in s:
            out[k] = s[k]
    if isinstance(s.get("properties"), dict):
        out["properties"] = {k: _v2_schema(v) for k, v in s["properties"].items()}
    if isinstance(s.get("items"), dict):
        out["items"] = _v2_schema(s["items"])
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        out["additionalProperties"] = _v2_schema(ap)
    elif isinstance(ap, bool):
        out["additionalProperties"] = ap
    return out


def _crd_definition(res):
    d = _v2_schema(res.schema or {})
    d.setdefault("type", "object")
    props = d.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string", "description": "APIVersion defines the versioned schema "
                                                                      "of this representation of an object."})
    props.setdefault("kind", {"type": "string", "description": "Kind is a string value representing the REST "
                                                               "resource this object represents."})
    props["metadata"] = {"type": "object", "description": "Standard object's metadata."}
    d["x-kubernetes-group-version-kind"] = [res.gvk()]
    return d


def document(resources):
    paths, definitions = {}, {}
    for r in resources:
        item = r.base_path("{namespace}" if r.namespaced else None) + "/{name}"
        params = [{"uniqueItems": True, "type": "string", "name": n, "in": "query"}
                  for n in ("dryRun", "fieldManager", "fieldValidation")]
        params.append({"uniqueItems": True, "type": "boolean", "name": "force", "in": "query"})
        paths[item] = {"patch": {"operationId": "patch%s%s" % ("Namespaced" if r.namespaced else "", r.kind),
                                 "consumes": ["application/json-patch+json", "application/merge-patch+json",
                                              "application/apply-patch+yaml"] +
                                             ([] if r.custom else ["application/strategic-merge-patch+json"]),
                                 "produces": ["application/json", "application/yaml"],
                                 "schemes": ["https"], "parameters": params,
                                 "x-kubernetes-action": "patch",
                                 "x-kubernetes-group-version-kind": r.gvk()}}
        if r.custom and r.schema:
            definitions[_definition_name(r)] = _crd_definition(r)
    return {"swagger": "2.0",
            "info": {"title": "Kubernetes (kubesim)", "version": discovery.SERVER_VERSION["gitVersion"]},
            "paths": dict(sorted(paths.items())), "definitions": dict(sorted(definitions.items()))}


# ---- protobuf ------------------------------------------------------------------
def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len(num, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def _vint(num, n):
    return _varint(num << 3) + _varint(int(n))


def _double(num, x):
    import struct
    return _varint((num << 3) | 1) + struct.pack("<d", float(x))


def _any(value):
    """gnostic Any: the value as YAML text (JSON is YAML)."""
    return _len(2, json.dumps(value))


def _named_any(num, name, value):
    return _len(num, _len(1, name) + _len(2, _any(value)))


def _extensions(num, d):
    return b"".join(_named_any(num, k, v) for k, v in d.items() if k.startswith("x-"))


def _query_param(p):
    # ParametersItem{parameter: Parameter{non_body_parameter: NonBodyParameter{query_parameter_sub_schema}}}
    q = _len(2, p["in"]) + _len(4, p["name"]) + _len(6, p["type"])
    if p.get("uniqueItems"):
        q += _vint(20, 1)
    return _len(1, _len(2, _len(3, q)))


def _operation(op):
    out = _len(5, op["operationId"])
    out += b"".join(_len(6, x) for x in op.get("produces", []))
    out += b"".join(_len(7, x) for x in op.get("consumes", []))
    out += b"".join(_len(8, _query_param(p)) for p in op.get("parameters", []))
    out += b"".join(_len(10, x) for x in op.get("schemes", []))
    return out + _extensions(13, op)


# Schema field numbers (gnostic openapi_v2.Schema)
_S_STR = {"format": 2, "title": 3, "description": 4, "pattern": 13}
_S_DBL = {"multipleOf": 6, "maximum": 7, "minimum": 9}
_S_BOOL = {"exclusiveMaximum": 8, "exclusiveMinimum": 10, "uniqueItems": 16}
_S_INT = {"maxLength": 11, "minLength": 12, "maxItems": 14, "minItems": 15, "maxProperties": 17, "minProperties": 18}


def _schema(s):
    out = b""
    for k, n in _S_STR.items():
        if s.get(k):
            out += _len(n, s[k])
    for k, n in _S_DBL.items():
        if k in s:
            out += _double(n, s[k])
    for k, n in _S_BOOL.items():
        if s.get(k):
            out += _vint(n, 1)
    for k, n in _S_INT.items():
        if k in s:
            out += _vint(n, s[k])
    out += b"".join(_len(19, x) for x in s.get("required", []))
    out += b"".join(_len(20, _any(x)) for x in s.get("enum", []))
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        out += _len(21, _len(1, _schema(ap)))
    elif isinstance(ap, bool):
        out += _len(21, _vint(2, 1 if ap else 0))
    if s.get("type"):
        out += _len(22, _len(1, s["type"]))
    if "items" in s:
        out += _len(23, _len(1, _schema(s["items"])))
    if "properties" in s:
        out += _len(25, b"".join(_len(1, _len(1, k) + _len(2, _schema(v))) for k, v in s["properties"].items()))
    return out + _extensions(31, s)


def protobuf(doc):
    info = _len(1, doc["info"]["title"]) + _len(2, doc["info"]["version"])
    paths = b"".join(_len(2, _len(1, p) + _len(2, _len(8, _operation(item["patch"]))))
                     for p, item in doc["paths"].items())
    defs = b"".join(_len(1, _len(1, name) + _len(2, _schema(s))) for name, s in doc["definitions"].items())
    return _len(1, doc["swagger"]) + _len(2, info) + _len(8, paths) + _len(9, defs)
