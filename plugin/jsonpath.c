/*
 * jsonpath.c — `-o jsonpath=TEMPLATE`, the part of kubectl's JSONPath that
 * scripts use: text outside braces as it is; in braces a path from the
 * root ("$" optional) of .field, ['field'] (keys with dots, as labels have),
 * [N] (negative from the end) and [*] (every element or value), or a quoted
 * literal ({"\n"}). Several results of one expression are joined by a space;
 * a key that is not there gives nothing (kubectl's
 * --allow-missing-template-keys=true).
 *
 * The one idea: refuse what is not covered rather than guess — range/end,
 * filters ([?()]), slices, recursive descent (..) and unions name
 * themselves in the error, with -o json and jq as the way out. Pure.
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "term.h"

#define JP_MAX_NODES 4096

struct nodes {
	json_object *v[JP_MAX_NODES];
	size_t n;
};

static int unsupported(struct eo_err *err, const char *what)
{
	return eo_err_set(err, EO_EINVAL,
			  "jsonpath: %s is not supported here (paths of .field, ['field'], [N] "
			  "and [*] are): use -o json with jq", what);
}

static void add(struct nodes *out, json_object *v)
{
	if (v && out->n < JP_MAX_NODES)
		out->v[out->n++] = v;
}

/* One step applied to every node of cur into next. key NULL: an index
 * (idx) or, with all, every child. */
static void step(const struct nodes *cur, const char *key, bool all, long idx, struct nodes *next)
{
	next->n = 0;
	for (size_t i = 0; i < cur->n; i++) {
		json_object *v = cur->v[i], *c = NULL;
		if (key) {
			if (json_object_is_type(v, json_type_object) &&
			    json_object_object_get_ex(v, key, &c))
				add(next, c);
		} else if (json_object_is_type(v, json_type_array)) {
			long n = (long)json_object_array_length(v);
			if (all)
				for (long k = 0; k < n; k++)
					add(next, json_object_array_get_idx(v, (size_t)k));
			else if ((idx < 0 ? idx + n : idx) >= 0 && (idx < 0 ? idx + n : idx) < n)
				add(next, json_object_array_get_idx(v, (size_t)(idx < 0 ? idx + n : idx)));
		} else if (all && json_object_is_type(v, json_type_object)) {
			json_object_object_foreach(v, k, val)
			{
				(void)k;
				add(next, val);
			}
		}
	}
}

static void print_value(json_object *v, struct eo_buf *out)
{
	if (json_object_is_type(v, json_type_string))
		term_safe_append(out, json_object_get_string(v), 0);
	else
		term_json_append(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
									     JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* A quoted literal {"…"} with \n, \t, \" and \\ as kubectl reads them. */
static int literal(const char *s, size_t len, struct eo_buf *out, struct eo_err *err)
{
	if (len < 2 || s[len - 1] != s[0])
		return eo_err_set(err, EO_EINVAL, "jsonpath: unterminated quoted text");
	for (size_t i = 1; i + 1 < len; i++) {
		char c = s[i];
		if (c == '\\' && i + 2 < len) {
			c = s[++i];
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
		}
		eo_buf_append(out, &c, 1);
	}
	return 0;
}

/* One expression between braces. */
static int expr(const char *s, size_t len, json_object *root, struct eo_buf *out,
		struct eo_err *err)
{
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len && (*s == '"' || *s == '\''))
		return literal(s, len, out, err);
	if (len >= 5 && !strncmp(s, "range", 5))
		return unsupported(err, "{range}");
	if (len >= 3 && !strncmp(s, "end", 3))
		return unsupported(err, "{end}");
	static struct nodes a, b; /* large; the plugin is one thread here */
	struct nodes *cur = &a, *next = &b;
	cur->n = 0;
	add(cur, root);
	size_t i = 0;
	if (i < len && s[i] == '$')
		i++;
	if (i < len && s[i] == '@')
		i++;
	char key[256];
	while (i < len) {
		if (s[i] == '.') {
			if (i + 1 < len && s[i + 1] == '.')
				return unsupported(err, "recursive descent (..)");
			size_t k = ++i;
			while (i < len && s[i] != '.' && s[i] != '[')
				i++;
			if (i == k) /* a trailing "." or ".[": nothing named */
				continue;
			if (i - k >= sizeof(key))
				return eo_err_set(err, EO_EINVAL, "jsonpath: a field name too long");
			memcpy(key, s + k, i - k);
			key[i - k] = '\0';
			if (!strcmp(key, "*"))
				step(cur, NULL, true, 0, next);
			else
				step(cur, key, false, 0, next);
		} else if (s[i] == '[') {
			const char *close = memchr(s + i, ']', len - i);
			if (!close)
				return eo_err_set(err, EO_EINVAL, "jsonpath: unclosed [");
			const char *in = s + i + 1;
			size_t n = (size_t)(close - in);
			if (n >= 2 && (in[0] == '\'' || in[0] == '"') && in[n - 1] == in[0]) {
				if (n - 2 >= sizeof(key))
					return eo_err_set(err, EO_EINVAL, "jsonpath: a field name too long");
				memcpy(key, in + 1, n - 2);
				key[n - 2] = '\0';
				step(cur, key, false, 0, next);
			} else if (n == 1 && in[0] == '*') {
				step(cur, NULL, true, 0, next);
			} else if (n && in[0] == '?') {
				return unsupported(err, "a filter ([?()])");
			} else if (memchr(in, ':', n)) {
				return unsupported(err, "a slice ([a:b])");
			} else if (memchr(in, ',', n)) {
				return unsupported(err, "a union ([a,b])");
			} else {
				char num[32];
				char *end;
				if (n == 0 || n >= sizeof(num))
					return eo_err_set(err, EO_EINVAL, "jsonpath: bad index []");
				memcpy(num, in, n);
				num[n] = '\0';
				long idx = strtol(num, &end, 10);
				if (*end)
					return eo_err_set(err, EO_EINVAL, "jsonpath: bad index [%s]", num);
				step(cur, NULL, false, idx, next);
			}
			i = (size_t)(close - s) + 1;
		} else {
			return eo_err_set(err, EO_EINVAL, "jsonpath: unexpected \"%c\" in {%.*s}", s[i],
					  (int)len, s);
		}
		struct nodes *t = cur;
		cur = next;
		next = t;
	}
	for (size_t k = 0; k < cur->n; k++) {
		if (k)
			eo_buf_append(out, " ", 1);
		print_value(cur->v[k], out);
	}
	return 0;
}

int pl_jsonpath(const char *tmpl, json_object *root, struct eo_buf *out, struct eo_err *err)
{
	const char *p = tmpl;
	while (*p) {
		if (*p != '{') {
			const char *b = strchr(p, '{');
			size_t n = b ? (size_t)(b - p) : strlen(p);
			eo_buf_append(out, p, n);
			p += n;
			continue;
		}
		/* The closing brace, past any quoted literal. */
		const char *q = p + 1;
		char quote = 0;
		for (; *q && (quote || *q != '}'); q++) {
			if (quote && *q == '\\' && q[1])
				q++;
			else if (*q == '"' || *q == '\'')
				quote = quote == *q ? 0 : quote ? quote : *q;
		}
		if (!*q)
			return eo_err_set(err, EO_EINVAL, "jsonpath: unclosed { in \"%s\"", tmpl);
		if (expr(p + 1, (size_t)(q - p - 1), root, out, err) != 0)
			return -1;
		p = q + 1;
	}
	return 0;
}

int pl_output_jsonpath(const char *output, const char **tmpl, struct eo_err *err)
{
	*tmpl = NULL;
	if (!output || strncmp(output, "jsonpath", 8) != 0)
		return 0;
	if (output[8] != '=' && output[8] != '\0')
		return eo_err_set(err, EO_EINVAL, "unknown output format \"%s\"", output);
	if (output[8] == '\0' || output[9] == '\0')
		return eo_err_set(err, EO_EINVAL, "template format specified but no template given: "
				  "write -o jsonpath=TEMPLATE");
	*tmpl = output + 9;
	/* Checked once up front, so a bad template is a usage error (2). */
	json_object *probe = json_object_new_object();
	struct eo_buf scratch = {0};
	int rc = pl_jsonpath(*tmpl, probe, &scratch, err);
	eo_buf_free(&scratch);
	json_object_put(probe);
	return rc;
}
