/*
 * yaml_scalar.c — what a YAML scalar means: the YAML 1.2 core schema
 * (integers, floats, true/false, null/~/empty; anything else a string),
 * explicit tags, and which strings must be quoted to stay strings (also for
 * YAML 1.1 readers: yes/no/on/off).
 */
#include <yaml.h>

#include "yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "yaml_impl.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

static int all_in(const char *s, size_t n, const char *set)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr(set, s[i]))
			return 0;
	return 1;
}

static int is_float_text(const char *s, size_t n)
{
	size_t i = 0, d1 = 0, d2 = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, d1++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, d2++;
	}
	if (d1 == 0 && d2 == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!all_in(s + i, n - i, "0123456789"))
			return 0;
		return 1;
	}
	return i == n;
}

/* A double that prints as the shortest text reading back the same, with a
 * '.' so it stays a float through JSON and YAML. */
static json_object *new_double(double d)
{
	if (!isfinite(d))
		return json_object_new_double(d);
	char txt[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(txt, sizeof(txt), "%.*g", prec, d);
		if (strtod(txt, NULL) == d)
			break;
	}
	if (!strpbrk(txt, ".eEn"))
		strcat(txt, ".0");
	return json_object_new_double_s(d, txt);
}

enum stype { S_STR, S_NULL, S_BOOL, S_INT, S_FLOAT };

/* What a plain scalar means; fills *i / *d for numbers. */
static enum stype resolve(const char *s, size_t n, int64_t *iv, double *dv, int *bv)
{
	char tmp[64];
	if (n == 0)
		return S_NULL;
	if ((n == 1 && s[0] == '~') ||
	    (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4))))
		return S_NULL;
	if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) {
		*bv = 1;
		return S_BOOL;
	}
	if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) {
		*bv = 0;
		return S_BOOL;
	}
	if (n >= sizeof(tmp))
		return S_STR; /* no number of ours is that long */
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	const char *digits = tmp + (tmp[0] == '-' || tmp[0] == '+');
	int base = 0;
	if (n > 2 && tmp[0] == '0' && tmp[1] == 'o' && all_in(tmp + 2, n - 2, "01234567"))
		base = 8;
	else if (n > 2 && tmp[0] == '0' && tmp[1] == 'x' &&
		 all_in(tmp + 2, n - 2, "0123456789abcdefABCDEF"))
		base = 16;
	else if (all_in(digits, strlen(digits), "0123456789"))
		base = 10;
	if (base) {
		errno = 0;
		long long v = base == 10 ? strtoll(tmp, NULL, 10) : strtoll(tmp + 2, NULL, base);
		if (errno == 0) {
			*iv = v;
			return S_INT;
		}
		if (base != 10)
			return S_STR;
		*dv = strtod(tmp, NULL); /* too big for 64 bits: a float, as JSON readers do */
		return S_FLOAT;
	}
	const char *u = digits;
	if (!strcmp(u, ".inf") || !strcmp(u, ".Inf") || !strcmp(u, ".INF")) {
		*dv = tmp[0] == '-' ? -INFINITY : INFINITY;
		return S_FLOAT;
	}
	if (u == tmp && (!strcmp(u, ".nan") || !strcmp(u, ".NaN") || !strcmp(u, ".NAN"))) {
		*dv = NAN;
		return S_FLOAT;
	}
	if (is_float_text(tmp, n)) {
		*dv = strtod(tmp, NULL);
		return S_FLOAT;
	}
	return S_STR;
}

static json_object *typed(enum stype t, const char *s, size_t n, int64_t iv, double dv, int bv)
{
	switch (t) {
	case S_NULL: return NULL;
	case S_BOOL: return json_object_new_boolean(bv);
	case S_INT: return json_object_new_int64(iv);
	case S_FLOAT: return new_double(dv);
	default: return json_object_new_string_len(s, (int)n);
	}
}

/* Whether a YAML 1.1 reader (kubectl's go-yaml, PyYAML) would take this
 * plain text for something other than a string: its extra booleans, and
 * numbers with '_', 0b or sexagesimal ':'. Quoting those costs nothing and
 * keeps our output safe to feed to kubectl apply. */
static int yaml11_special(const char *s, size_t n)
{
	static const char *const words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
					    "on", "On", "ON", "off", "Off", "OFF", "=", "<<"};
	for (size_t i = 0; i < EO_ARRAY_LEN(words); i++)
		if (n == strlen(words[i]) && !memcmp(s, words[i], n))
			return 1;
	size_t i = (n > 0 && (s[0] == '-' || s[0] == '+'));
	if (i >= n || !((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
		return 0;
	/* digits with '_', ':', '.', 'b', 'x', 'o', 'e' or a sign after 'e':
	 * the only texts of that shape are numbers to some resolver */
	return all_in(s + i, n - i, "0123456789_:.bBxXoOeE+-abcdefABCDEF") &&
	       (memchr(s, '_', n) || memchr(s, ':', n) || (n > i + 1 && s[i] == '0' && s[i + 1] == 'b'));
}

int yaml_str_needs_quotes(const char *s, size_t n)
{
	int64_t iv;
	double dv;
	int bv;
	return resolve(s, n, &iv, &dv, &bv) != S_STR || yaml11_special(s, n);
}

int yaml_scalar_value(const yaml_event_t *ev, json_object **out, const char **why)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	int64_t iv = 0;
	double dv = 0;
	int bv = 0;
	*out = NULL;
	if (tag && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
		const char *t = tag + strlen(TAG_PREFIX);
		enum stype got = resolve(s, n, &iv, &dv, &bv), want;
		if (!strcmp(t, "str") || !strcmp(t, "binary") || !strcmp(t, "timestamp")) {
			*out = json_object_new_string_len(s, (int)n);
			return 0;
		} else if (!strcmp(t, "int")) {
			want = S_INT;
		} else if (!strcmp(t, "float")) {
			want = S_FLOAT;
			if (got == S_INT) {
				got = S_FLOAT;
				dv = (double)iv;
			}
		} else if (!strcmp(t, "bool")) {
			want = S_BOOL;
		} else if (!strcmp(t, "null")) {
			want = S_NULL;
		} else {
			*why = "this tag cannot be put on a scalar";
			return -1;
		}
		if (got != want) {
			*why = "the value does not match its tag";
			return -1;
		}
		*out = typed(got, s, n, iv, dv, bv);
		return 0;
	}
	if (!plain || (tag && !strcmp(tag, "!"))) {
		*out = json_object_new_string_len(s, (int)n);
		return 0;
	}
	enum stype t = resolve(s, n, &iv, &dv, &bv); /* before typed() reads iv, dv, bv */
	*out = typed(t, s, n, iv, dv, bv);
	return 0;
}
