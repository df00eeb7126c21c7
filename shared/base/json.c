/*
 * json.c — path lookup over json-c with errors that say which field and what
 * was wrong. The path walker is the whole trick: one small tokenizer for
 * "a.b[0][key.with.dots]" used by every getter and by json_set/json_del.
 */
#include "json.h"

#include <math.h>
#include <string.h>

/* One segment of a path: a key (possibly bracketed) or an array index. */
struct seg {
	char key[256];
	int is_index;
	size_t index;
};

/* Read the next segment at *p; returns 0 at the end, 1 on a segment, -1 on a
 * malformed path. */
static int next_seg(const char **p, struct seg *s)
{
	const char *c = *p;
	if (*c == '.')
		c++;
	if (!*c)
		return 0;
	s->is_index = 0;
	size_t n = 0;
	if (*c == '[') {
		const char *end = strchr(c, ']');
		if (!end)
			return -1;
		n = (size_t)(end - c - 1);
		if (n == 0 || n >= sizeof(s->key))
			return -1;
		memcpy(s->key, c + 1, n);
		s->key[n] = '\0';
		int digits = 1;
		for (size_t i = 0; i < n; i++)
			if (s->key[i] < '0' || s->key[i] > '9')
				digits = 0;
		if (digits) {
			s->is_index = 1;
			s->index = (size_t)strtoull(s->key, NULL, 10);
		}
		*p = end + 1;
		return 1;
	}
	while (c[n] && c[n] != '.' && c[n] != '[')
		n++;
	if (n == 0 || n >= sizeof(s->key))
		return -1;
	memcpy(s->key, c, n);
	s->key[n] = '\0';
	*p = c + n;
	return 1;
}

static json_object *step(json_object *cur, const struct seg *s)
{
	if (!cur)
		return NULL;
	if (s->is_index && json_object_is_type(cur, json_type_array)) {
		if (s->index >= json_object_array_length(cur))
			return NULL;
		return json_object_array_get_idx(cur, s->index);
	}
	json_object *next = NULL;
	if (json_object_is_type(cur, json_type_object) &&
	    json_object_object_get_ex(cur, s->key, &next))
		return next;
	return NULL;
}

json_object *json_at(json_object *root, const char *path)
{
	const char *p = path;
	struct seg s;
	json_object *cur = root;
	int r = 0;
	while (cur && (r = next_seg(&p, &s)) == 1)
		cur = step(cur, &s);
	if (cur && r < 0)
		return NULL;
	return cur;
}

const char *json_type_label(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a number";
	case json_type_int: return "an integer";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "an unknown type";
}

static int get_typed(json_object *root, const char *path, json_type want, const char *label,
		     json_object **out, struct eo_err *err)
{
	json_object *o = json_at(root, path);
	if (!o)
		return eo_err_set(err, EO_EPARSE, "%s: required field is missing", path);
	if (!json_object_is_type(o, want))
		return eo_err_set(err, EO_EPARSE, "%s: expected %s, got %s", path, label,
				  json_type_label(o));
	*out = o;
	return 0;
}

int json_get_str(json_object *root, const char *path, const char **out, struct eo_err *err)
{
	json_object *o = NULL;
	if (get_typed(root, path, json_type_string, "a string", &o, err) != 0)
		return -1;
	*out = json_object_get_string(o);
	return 0;
}

/* An integer, or a double that holds an exact integer within int64: 0.
 * Not an integer: -1. An integer beyond int64: -2 — json-c saturates those
 * to INT64_MAX / INT64_MIN (keeping the unsigned value above INT64_MAX), and
 * a saturated number read as a real one is a silent wrong answer. INT64_MIN
 * itself cannot be told from a saturated smaller number, so it counts as
 * beyond too; no field this project reads comes near it. */
static int as_int(json_object *o, int64_t *out)
{
	if (json_object_is_type(o, json_type_int)) {
		int64_t v = json_object_get_int64(o);
		if (v == INT64_MIN || (v == INT64_MAX && json_object_get_uint64(o) != (uint64_t)INT64_MAX))
			return -2;
		*out = v;
		return 0;
	}
	if (json_object_is_type(o, json_type_double)) {
		double d = json_object_get_double(o);
		if (!isfinite(d) || d != floor(d))
			return -1;
		if (d < -9.2e18 || d > 9.2e18)
			return -2;
		*out = (int64_t)d;
		return 0;
	}
	return -1;
}

static int int_error(json_object *o, int rc, const char *path, struct eo_err *err)
{
	if (rc == -2)
		return eo_err_set(err, EO_EPARSE, "%s: a number beyond the 64-bit integer range", path);
	return eo_err_set(err, EO_EPARSE, "%s: expected an integer, got %s", path, json_type_label(o));
}

int json_get_int(json_object *root, const char *path, int64_t *out, struct eo_err *err)
{
	json_object *o = json_at(root, path);
	if (!o)
		return eo_err_set(err, EO_EPARSE, "%s: required field is missing", path);
	int rc = as_int(o, out);
	return rc == 0 ? 0 : int_error(o, rc, path, err);
}

int json_get_int_range(json_object *root, const char *path, int64_t min, int64_t max,
		       int64_t *out, struct eo_err *err)
{
	int64_t v;
	if (json_get_int(root, path, &v, err) != 0)
		return -1;
	if (v < min || v > max)
		return eo_err_set(err, EO_EPARSE, "%s: %lld is out of range (%lld to %lld)", path,
				  (long long)v, (long long)min, (long long)max);
	*out = v;
	return 0;
}

int json_get_obj(json_object *root, const char *path, json_object **out, struct eo_err *err)
{
	return get_typed(root, path, json_type_object, "an object", out, err);
}

const char *json_opt_str(json_object *root, const char *path, const char *def)
{
	json_object *o = json_at(root, path);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : def;
}

int64_t json_opt_int(json_object *root, const char *path, int64_t def)
{
	json_object *o = json_at(root, path);
	int64_t v;
	return o && as_int(o, &v) == 0 ? v : def;
}

bool json_opt_bool(json_object *root, const char *path, bool def)
{
	json_object *o = json_at(root, path);
	return o && json_object_is_type(o, json_type_boolean) ? json_object_get_boolean(o) : def;
}

int json_set(json_object *root, const char *path, json_object *val)
{
	const char *p = path;
	struct seg s, next;
	json_object *cur = root;
	if (!root || next_seg(&p, &s) != 1) {
		json_object_put(val);
		return -1;
	}
	for (;;) {
		const char *peek = p;
		int r = next_seg(&peek, &next);
		if (r < 0 || s.is_index || !json_object_is_type(cur, json_type_object)) {
			json_object_put(val);
			return -1;
		}
		if (r == 0)
			return json_object_object_add(cur, s.key, val) == 0 ? 0 : -1;
		json_object *child = NULL;
		if (!json_object_object_get_ex(cur, s.key, &child) ||
		    !json_object_is_type(child, json_type_object)) {
			child = json_object_new_object();
			json_object_object_add(cur, s.key, child);
		}
		cur = child;
		p = peek;
		s = next;
	}
}

int json_del(json_object *root, const char *path)
{
	const char *p = path;
	struct seg s, next;
	json_object *cur = root;
	if (!root || next_seg(&p, &s) != 1)
		return -1;
	for (;;) {
		const char *peek = p;
		int r = next_seg(&peek, &next);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (json_object_is_type(cur, json_type_object))
				json_object_object_del(cur, s.key);
			return 0;
		}
		cur = step(cur, &s);
		if (!cur)
			return 0;
		p = peek;
		s = next;
	}
}

json_object *json_parse(const char *buf, size_t len, struct eo_err *err)
{
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		return NULL;
	}
	json_object *obj = NULL;
	if (len > (size_t)INT32_MAX) {
		eo_err_set(err, EO_EPARSE, "JSON document too large (%zu bytes)", len);
	} else {
		obj = json_tokener_parse_ex(tok, buf, (int)len);
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		size_t end = json_tokener_get_parse_end(tok);
		if (jerr == json_tokener_continue && !obj) {
			/* A bare number ("3") is complete only once json-c sees what
			 * follows it: end the input explicitly. */
			obj = json_tokener_parse_ex(tok, "", 1);
			jerr = json_tokener_get_error(tok);
			end = len;
		}
		if (jerr == json_tokener_continue) {
			json_object_put(obj);
			obj = NULL;
			eo_err_set(err, EO_EPARSE, "JSON ends early after %zu bytes", len);
		} else if (jerr != json_tokener_success) {
			json_object_put(obj);
			obj = NULL;
			eo_err_set(err, EO_EPARSE, "JSON invalid at byte %zu: %s", end,
				   json_tokener_error_desc(jerr));
		} else {
			/* Trailing non-space bytes mean two documents or garbage. */
			for (size_t i = end; i < len; i++) {
				char c = buf[i];
				if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\0') {
					json_object_put(obj);
					obj = NULL;
					eo_err_set(err, EO_EPARSE, "JSON has trailing data at byte %zu", i);
					break;
				}
			}
		}
	}
	json_tokener_free(tok);
	return obj;
}

const char *json_compact(json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
}
