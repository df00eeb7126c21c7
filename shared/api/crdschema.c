/*
 * crdschema.c — the CRD's structural schema applied to an object, as
 * kube-apiserver applies it (crdschema.h says what is covered and why).
 *
 * The one idea: one recursive walk over the object with the schema node
 * beside it. Where the schema lists properties and leaves nothing open, a key
 * it does not list is an unknown field (strict field validation); the other
 * checks are the OpenAPI keywords, in the API server's words, so a message
 * from `kubectl etcd validate` reads like the refusal it predicts.
 */
#include "crdschema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

json_object *crdschema_of(json_object *crd, const char *version)
{
	json_object *versions = json_at(crd, "spec.versions");
	size_t n = versions && json_object_is_type(versions, json_type_array)
			   ? json_object_array_length(versions) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(versions, i);
		if (strcmp(json_opt_str(v, "name", ""), version) == 0)
			return json_at(v, "schema.openAPIV3Schema");
	}
	return NULL;
}

void crdschema_result_free(struct crdschema_result *r)
{
	if (!r)
		return;
	eo_buf_free(&r->unknown);
	eo_buf_free(&r->invalid);
}

static void unknown(struct crdschema_result *r, const char *path)
{
	eo_buf_printf(&r->unknown, "%sunknown field \"%s\"", r->nunknown ? ", " : "", path);
	r->nunknown++;
}

static void invalid(struct crdschema_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void invalid(struct crdschema_result *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	eo_buf_printf(&r->invalid, "%s%s", r->ninvalid ? "; " : "", msg);
	r->ninvalid++;
}

/* The JSON type name the API server reports for a value. */
static const char *type_of(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean: return "boolean";
	case json_type_int: return "integer";
	case json_type_double: return "number";
	case json_type_string: return "string";
	case json_type_array: return "array";
	case json_type_object: return "object";
	default: return "null";
	}
}

static bool is_integral(json_object *v)
{
	if (json_object_is_type(v, json_type_int))
		return true;
	if (!json_object_is_type(v, json_type_double))
		return false;
	double d = json_object_get_double(v);
	return isfinite(d) && d == floor(d);
}

static bool type_ok(const char *t, json_object *schema, json_object *v)
{
	if (!*t)
		return true;
	if (json_opt_bool(schema, "x-kubernetes-int-or-string", false))
		return json_object_is_type(v, json_type_string) || is_integral(v);
	if (!strcmp(t, "object"))
		return json_object_is_type(v, json_type_object);
	if (!strcmp(t, "array"))
		return json_object_is_type(v, json_type_array);
	if (!strcmp(t, "string"))
		return json_object_is_type(v, json_type_string);
	if (!strcmp(t, "boolean"))
		return json_object_is_type(v, json_type_boolean);
	if (!strcmp(t, "integer"))
		return is_integral(v);
	if (!strcmp(t, "number"))
		return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
	return true;
}

/* A value as the API server quotes it in "Invalid value: …". */
static void shown(json_object *v, char *out, size_t size)
{
	if (json_object_is_type(v, json_type_string))
		snprintf(out, size, "\"%s\"", json_object_get_string(v));
	else
		snprintf(out, size, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

static void check_enum(json_object *schema, json_object *v, const char *path,
		       struct crdschema_result *r)
{
	json_object *en = json_at(schema, "enum");
	if (!en || !json_object_is_type(en, json_type_array))
		return;
	size_t n = json_object_array_length(en);
	for (size_t i = 0; i < n; i++)
		if (json_object_equal(json_object_array_get_idx(en, i), v))
			return;
	struct eo_buf b = {0};
	for (size_t i = 0; i < n; i++) {
		char s[256];
		shown(json_object_array_get_idx(en, i), s, sizeof(s));
		eo_buf_printf(&b, "%s%s", i ? ", " : "", s);
	}
	char val[256];
	shown(v, val, sizeof(val));
	invalid(r, "%s: Unsupported value: %s: supported values: %s", path, val,
		b.data ? b.data : "");
	eo_buf_free(&b);
}

static void check_number(json_object *schema, json_object *v, const char *path,
			 struct crdschema_result *r)
{
	double x = json_object_get_double(v);
	char val[64];
	shown(v, val, sizeof(val));
	json_object *min = json_at(schema, "minimum"), *max = json_at(schema, "maximum");
	if (min && x < json_object_get_double(min))
		invalid(r, "%s: Invalid value: %s: %s in body should be greater than or equal to %s",
			path, val, path, json_object_to_json_string_ext(min, JSON_C_TO_STRING_PLAIN));
	if (max && x > json_object_get_double(max))
		invalid(r, "%s: Invalid value: %s: %s in body should be less than or equal to %s", path,
			val, path, json_object_to_json_string_ext(max, JSON_C_TO_STRING_PLAIN));
}

/* UTF-8 characters, as the API server counts a string's length. */
static int64_t chars(const char *s)
{
	int64_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void check_string(json_object *schema, json_object *v, const char *path,
			 struct crdschema_result *r)
{
	const char *s = json_object_get_string(v);
	char val[300];
	shown(v, val, sizeof(val));
	json_object *maxl = json_at(schema, "maxLength"), *minl = json_at(schema, "minLength");
	if (maxl && chars(s) > json_object_get_int64(maxl))
		invalid(r, "%s: Too long: may not be more than %lld bytes", path,
			(long long)json_object_get_int64(maxl));
	if (minl && chars(s) < json_object_get_int64(minl))
		invalid(r, "%s: Invalid value: %s: %s in body should be at least %lld chars long", path,
			val, path, (long long)json_object_get_int64(minl));
	const char *pattern = json_opt_str(schema, "pattern", NULL);
	regex_t re;
	/* The API server's patterns are RE2; those POSIX ERE cannot read are
	 * left to it rather than guessed at. */
	if (pattern && regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0) {
		if (regexec(&re, s, 0, NULL, 0) != 0)
			invalid(r, "%s: Invalid value: %s: %s in body should match '%s'", path, val, path,
				pattern);
		regfree(&re);
	}
}

static void walk(json_object *schema, json_object *v, const char *path, struct crdschema_result *r);

static void walk_object(json_object *schema, json_object *v, const char *path,
			struct crdschema_result *r)
{
	json_object *req = json_at(schema, "required");
	for (size_t i = 0; req && json_object_is_type(req, json_type_array) &&
			   i < json_object_array_length(req); i++) {
		const char *k = json_object_get_string(json_object_array_get_idx(req, i));
		if (k && !json_object_object_get_ex(v, k, NULL))
			invalid(r, "%s%s%s: Required value", path, *path ? "." : "", k);
	}
	json_object *props = json_at(schema, "properties");
	json_object *addl = json_at(schema, "additionalProperties");
	bool open = json_opt_bool(schema, "x-kubernetes-preserve-unknown-fields", false) ||
		    (addl && json_object_is_type(addl, json_type_boolean) &&
		     json_object_get_boolean(addl));
	bool embedded = json_opt_bool(schema, "x-kubernetes-embedded-resource", false);
	json_object_object_foreach(v, key, val)
	{
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
		json_object *ps = NULL;
		if (props && json_object_object_get_ex(props, key, &ps))
			walk(ps, val, sub, r);
		else if (addl && json_object_is_type(addl, json_type_object))
			walk(addl, val, sub, r);
		else if (!open && !(embedded && (!strcmp(key, "apiVersion") || !strcmp(key, "kind") ||
						 !strcmp(key, "metadata"))))
			unknown(r, sub);
	}
}

static void walk(json_object *schema, json_object *v, const char *path, struct crdschema_result *r)
{
	/* A null for a field that is not nullable is dropped, not refused. */
	if (!schema || !v)
		return;
	const char *t = json_opt_str(schema, "type", "");
	if (!type_ok(t, schema, v)) {
		invalid(r, "%s: Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", path,
			type_of(v), path, t, type_of(v));
		return;
	}
	check_enum(schema, v, path, r);
	switch (json_object_get_type(v)) {
	case json_type_object:
		walk_object(schema, v, path, r);
		break;
	case json_type_array: {
		size_t n = json_object_array_length(v);
		json_object *maxi = json_at(schema, "maxItems");
		if (maxi && (int64_t)n > json_object_get_int64(maxi))
			invalid(r, "%s: Too many: %zu: must have at most %lld items", path, n,
				(long long)json_object_get_int64(maxi));
		json_object *items = json_at(schema, "items");
		for (size_t i = 0; items && i < n; i++) {
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			walk(items, json_object_array_get_idx(v, i), sub, r);
		}
		break;
	}
	case json_type_int:
	case json_type_double:
		check_number(schema, v, path, r);
		break;
	case json_type_string:
		check_string(schema, v, path, r);
		break;
	default:
		break;
	}
}

/* ObjectMeta's fields: strict field validation knows them without a schema. */
static const char *const META[] = {
	"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
	"annotations", "ownerReferences", "finalizers", "managedFields",
};

int crdschema_check(json_object *schema, json_object *obj, struct crdschema_result *out)
{
	memset(out, 0, sizeof(*out));
	if (!schema || !json_object_is_type(obj, json_type_object))
		return 0;
	json_object *props = json_at(schema, "properties");
	json_object_object_foreach(obj, key, val)
	{
		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "status"))
			continue;
		if (!strcmp(key, "metadata")) {
			if (!json_object_is_type(val, json_type_object))
				continue;
			json_object_object_foreach(val, mk, mv)
			{
				(void)mv;
				bool known = false;
				for (size_t i = 0; i < EO_ARRAY_LEN(META) && !known; i++)
					known = strcmp(mk, META[i]) == 0;
				if (!known) {
					char sub[600];
					snprintf(sub, sizeof(sub), "metadata.%s", mk);
					unknown(out, sub);
				}
			}
			continue;
		}
		json_object *ps = NULL;
		if (props && json_object_object_get_ex(props, key, &ps))
			walk(ps, val, key, out);
		else if (!json_opt_bool(schema, "x-kubernetes-preserve-unknown-fields", false))
			unknown(out, key);
	}
	return out->nunknown + out->ninvalid;
}
