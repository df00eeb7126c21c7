"""API errors as kube-apiserver shapes them: a metav1.Status with code, reason,
message and details (name, group, kind, causes).

Every failure in the bed becomes an APIError somewhere below the HTTP layer,
and the HTTP layer only serialises it; so the wording lives here, once, copied
in shape from k8s.io/apimachinery/pkg/api/errors. `kind` in details is the
resource plural for NotFound/AlreadyExists/Conflict and the Kind for Invalid,
as there.
"""


class APIError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
        self.headers = headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if not self.reason:
            del s["reason"]
        if self.details:
            s["details"] = self.details
        return s


def _details(res, name, kind=None):
    d = {}
    if name:
        d["name"] = name
    if res is not None and res.group:
        d["group"] = res.group
    d["kind"] = kind if kind is not None else (res.plural if res is not None else "")
    return d


def not_found(res, name):
    return APIError(404, "NotFound", '%s "%s" not found' % (res.group_resource, name), _details(res, name))


def namespace_not_found(ns):
    return APIError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})


def already_exists(res, name):
    return APIError(409, "AlreadyExists", '%s "%s" already exists' % (res.group_resource, name), _details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return APIError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (res.group_resource, name, why),
                    _details(res, name))


def field_error(field, kind, detail="", value=None, has_value=False):
    """One field.Error: kind is Invalid | Required | Forbidden | NotSupported | TooLong | Duplicate | TypeInvalid."""
    reasons = {"Invalid": "FieldValueInvalid", "Required": "FieldValueRequired", "Forbidden": "FieldValueForbidden",
               "NotSupported": "FieldValueNotSupported", "TooLong": "FieldValueTooLong",
               "Duplicate": "FieldValueDuplicate", "TypeInvalid": "FieldValueTypeInvalid", "TooMany": "FieldValueTooMany"}
    words = {"Invalid": "Invalid value", "Required": "Required value", "Forbidden": "Forbidden",
             "NotSupported": "Unsupported value", "TooLong": "Too long", "Duplicate": "Duplicate value",
             "TypeInvalid": "Invalid value", "TooMany": "Too many"}
    msg = words[kind]
    if has_value or value is not None:
        msg += ": " + _go_value(value)
    if detail:
        msg += ": " + detail
    return {"reason": reasons[kind], "message": msg, "field": field}


def _go_value(v):
    """Values in field errors print as Go's %#v-ish: strings quoted, numbers bare."""
    import json
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return '"%s"' % ("object" if isinstance(v, dict) else "array")


def invalid(res, name, causes):
    """422 Invalid with the aggregate message kube-apiserver writes."""
    parts = ["%s: %s" % (c["field"], c["message"]) if c.get("field") else c["message"] for c in causes]
    agg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return APIError(422, "Invalid", '%s "%s" is invalid: %s' % (res.group_kind, name, agg),
                    dict(_details(res, name, kind=res.kind), causes=causes))


def bad_request(message):
    return APIError(400, "BadRequest", message)


def forbidden(res, name, message):
    gr = res.group_resource if res is not None else ""
    return APIError(403, "Forbidden", '%s "%s" is forbidden: %s' % (gr, name, message), _details(res, name))


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return APIError(405, "MethodNotAllowed", message, {})


def unsupported_media(message):
    return APIError(415, "UnsupportedMediaType", message, {})


def internal(message, causes=None):
    return APIError(500, "InternalError", "Internal error occurred: %s" % message,
                    {"causes": causes or [{"message": message}]})


def expired(message):
    return APIError(410, "Expired", message)


def unauthorized():
    return APIError(401, "Unauthorized", "Unauthorized")


def timeout(message="the server was unable to return a response in the time allotted, but may still be processing the request"):
    return APIError(504, "Timeout", message, {})


def too_many(message="Too many requests, please try again later.", retry_after=1):
    return APIError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after},
                    headers={"Retry-After": str(retry_after)})
