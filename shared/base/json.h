/*
 * json.h — typed access to json-c objects by path, with errors that name
 * the path: "spec.replicas: expected an integer, got a string".
 *
 * A path is dot-separated keys; "[N]" indexes an array and "[key]" names a key
 * that itself holds dots or slashes:
 *     "spec.storage.size"   "status.members[0].name"
 *     "metadata.annotations[etcd.k8s-operator.io/target-replicas]"
 *
 * Getters borrow: returned json_object and string pointers live as long as
 * the root does. json_get_* (required) fail with EO_EPARSE when missing or
 * mistyped; json_opt_* return the default then.
 */
#ifndef EO_JSON_H
#define EO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "eo.h"

/* Look up a path; NULL if any part is missing (or an index is out of range). */
json_object *json_at(json_object *root, const char *path);

int json_get_str(json_object *root, const char *path, const char **out, struct eo_err *err);
/* Integers, 64-bit; an integral double (3.0) is accepted, 3.5 or "3" is
 * not, and neither is a number beyond int64 (never saturated or wrapped). */
int json_get_int(json_object *root, const char *path, int64_t *out, struct eo_err *err);
/* The same, and within min..max: "status.scaling.from: 4294967301 is out of
 * range (0 to 2147483647)". Use it before narrowing to a smaller type. */
int json_get_int_range(json_object *root, const char *path, int64_t min, int64_t max,
		       int64_t *out, struct eo_err *err);
int json_get_obj(json_object *root, const char *path, json_object **out, struct eo_err *err);

const char *json_opt_str(json_object *root, const char *path, const char *def);
int64_t json_opt_int(json_object *root, const char *path, int64_t def);
bool json_opt_bool(json_object *root, const char *path, bool def);

/* Set a value at a dotted path, creating intermediate objects; takes
 * ownership of val (also on failure). Array indexes are not created. */
int json_set(json_object *root, const char *path, json_object *val);
/* Remove a key at a path; 0 also when it was not there. */
int json_del(json_object *root, const char *path);

/* Parse a whole document; on failure the error names the byte offset and
 * json-c's reason. The result is owned by the caller (json_object_put). */
json_object *json_parse(const char *buf, size_t len, struct eo_err *err);
/* Serialise compactly without escaping '/' (Kubernetes keys hold slashes);
 * the string belongs to obj. */
const char *json_compact(json_object *obj);

/* Human name of a json-c type ("an integer", "a string", …). */
const char *json_type_label(json_object *o);

#endif
