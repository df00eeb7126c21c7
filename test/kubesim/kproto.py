"""Decoding the Kubernetes protobuf request bodies that kubectl 1.32+ sends.

kubectl 1.32 and later send `Content-Type: application/vnd.kubernetes.protobuf`
for objects built by its generator commands (`kubectl create namespace`,
`create configmap`, `create secret`, `create serviceaccount`), with no JSON
fallback; kube-apiserver decodes them with the generated code of each type.
The bed has no generated code, so this module carries the field numbers of
exactly those kinds (and ObjectMeta), decodes the wire format, and returns
the JSON object the same request would have carried. Any other kind is
refused with a message naming what is supported — never decoded by guess.

Wire format: the 4 bytes "k8s\\0", then a runtime.Unknown message
{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw (the object's own message),
3: contentEncoding, 4: contentType}. Go's generated marshallers write
non-pointer strings, ints and bools even when empty, so zero values are
dropped again here (as omitempty would have in JSON).
"""
import base64

MAGIC = b"k8s\x00"


class ProtoError(ValueError):
    pass


# message schemas: field number -> (json name, kind, sub-schema)
# kinds: s string, b bytes, i varint int, bool, m message, rs repeated string,
# rm repeated message, map (string->string), mapb (string->bytes), time
TIME = {1: ("seconds", "i", None), 2: ("nanos", "i", None)}
OWNER_REF = {1: ("kind", "s", None), 3: ("name", "s", None), 4: ("uid", "s", None), 5: ("apiVersion", "s", None),
             6: ("controller", "bool", None), 7: ("blockOwnerDeletion", "bool", None)}
OBJECT_META = {1: ("name", "s", None), 2: ("generateName", "s", None), 3: ("namespace", "s", None),
               4: ("selfLink", "s", None), 5: ("uid", "s", None), 6: ("resourceVersion", "s", None),
               7: ("generation", "i", None), 8: ("creationTimestamp", "time", None),
               9: ("deletionTimestamp", "time", None), 10: ("deletionGracePeriodSeconds", "i", None),
               11: ("labels", "map", None), 12: ("annotations", "map", None),
               13: ("ownerReferences", "rm", OWNER_REF), 14: ("finalizers", "rs", None),
               17: ("managedFields", "skip", None)}
OBJECT_REF = {1: ("kind", "s", None), 2: ("namespace", "s", None), 3: ("name", "s", None), 4: ("uid", "s", None),
              5: ("apiVersion", "s", None), 6: ("resourceVersion", "s", None), 7: ("fieldPath", "s", None)}
LOCAL_REF = {1: ("name", "s", None)}

KINDS = {
    ("v1", "Namespace"): {1: ("metadata", "m", OBJECT_META), 2: ("spec", "m", {1: ("finalizers", "rs", None)}),
                          3: ("status", "m", {1: ("phase", "s", None), 2: ("conditions", "skip", None)})},
    ("v1", "ConfigMap"): {1: ("metadata", "m", OBJECT_META), 2: ("data", "map", None), 3: ("binaryData", "mapb", None),
                          4: ("immutable", "bool!", None)},
    ("v1", "Secret"): {1: ("metadata", "m", OBJECT_META), 2: ("data", "mapb", None), 3: ("type", "s", None),
                       4: ("stringData", "map", None), 5: ("immutable", "bool!", None)},
    ("v1", "ServiceAccount"): {1: ("metadata", "m", OBJECT_META), 2: ("secrets", "rm", OBJECT_REF),
                               3: ("imagePullSecrets", "rm", LOCAL_REF),
                               4: ("automountServiceAccountToken", "bool!", None)},
}


def _varint(buf, i):
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ProtoError("varint too long")


def _fields(buf):
    """Yield (field number, wire type, value) of a message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ProtoError("truncated field %d" % num)
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield num, wt, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _map_entry(buf, as_bytes):
    k, v = "", b"" if as_bytes else ""
    for num, _, val in _fields(buf):
        if num == 1:
            k = val.decode()
        elif num == 2:
            v = base64.b64encode(val).decode() if as_bytes else val.decode()
    if as_bytes and isinstance(v, bytes):
        v = ""
    return k, v


def _rfc3339(seconds):
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_message(buf, schema, path):
    out = {}
    for num, wt, val in _fields(buf):
        if num not in schema:
            raise ProtoError("field %d of %s is not known to the bed's decoder" % (num, path))
        name, kind, sub = schema[num]
        if kind == "skip":
            continue
        if kind == "s":
            out[name] = val.decode()
        elif kind == "b":
            out[name] = base64.b64encode(val).decode()
        elif kind == "i":
            out[name] = _signed(val)
        elif kind in ("bool", "bool!"):
            out[name] = bool(val)
        elif kind == "m":
            out[name] = decode_message(val, sub, path + "." + name)
        elif kind == "time":
            t = decode_message(val, TIME, path + "." + name)
            if t.get("seconds"):
                out[name] = _rfc3339(t["seconds"])
        elif kind == "rs":
            out.setdefault(name, []).append(val.decode())
        elif kind == "rm":
            out.setdefault(name, []).append(decode_message(val, sub, path + "." + name))
        elif kind in ("map", "mapb"):
            k, v = _map_entry(val, kind == "mapb")
            out.setdefault(name, {})[k] = v
    # omitempty: drop the zero values Go's marshaller writes for non-pointer fields
    for num, (name, kind, _) in schema.items():
        if name in out and kind != "bool!" and out[name] in ("", 0, False, {}):
            del out[name]
    return out


def decode(body):
    """JSON-shaped object from a protobuf request body; ProtoError when the
    body is not one the bed can decode."""
    if not body.startswith(MAGIC):
        raise ProtoError("body does not start with the Kubernetes protobuf magic number")
    api_version = kind = ""
    raw = None
    for num, _, val in _fields(body[4:]):
        if num == 1:
            for n2, _, v2 in _fields(val):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = val
        elif num == 3 and val:
            raise ProtoError("content encoding %r is not supported" % val.decode(errors="replace"))
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise ProtoError("the bed decodes protobuf bodies only for %s; send %s/%s as JSON (kubectl create -f or apply)"
                         % (", ".join(k for _, k in sorted(KINDS)), api_version, kind))
    obj = decode_message(raw or b"", schema, kind)
    out = {"apiVersion": api_version, "kind": kind}
    out.update(obj)
    out.setdefault("metadata", {})
    return out
