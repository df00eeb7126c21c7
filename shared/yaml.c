/*
 * yaml.c — YAML streams read into json-c values on libyaml's event API
 * (writing them back is yaml_emit.c).
 *
 * Parsing is one loop over libyaml's events with an explicit stack of open
 * collections, so nesting depth costs no C stack and is bounded. A finished
 * value is handed to whatever is open on top: a sequence appends it, a
 * mapping takes it as a key or as the value of the pending key, an empty
 * stack makes it the document. Scalars get their type here (YAML 1.2 core
 * schema) and never later.
 *
 * The one idea for aliases: an anchor remembers its value and how many nodes
 * it spans; an alias deep-copies the value and pays that many nodes from a
 * budget proportional to the nodes really written in the file, so a
 * "billion laughs" stream fails after a few thousand copies.
 *
 * Lines live in a side table: each successful parse registers its nodes
 * (sorted by address) under its docs array, and yaml_docs_free removes the
 * entry. Nodes that die during the parse (merge sources) are kept alive in a
 * graveyard owned by that entry, so no address in the table can be reused
 * while the table still names it.
 */
#include <yaml.h> /* ours, and libyaml's through it (see yaml.h) */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define YAML_MAX_DEPTH 1000
#define YAML_ALIAS_FREE_NODES 10000 /* alias copies allowed on top of 10× the file's own nodes */

#define TAG_PREFIX "tag:yaml.org,2002:"

/* ---- side table of lines ---------------------------------------------- */

struct line_ent {
	json_object *node;
	int line;
};

struct line_set {
	json_object **docs;
	struct line_ent *ents;
	size_t n;
	json_object **grave;
	size_t ngrave;
	struct line_set *next;
};

static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct line_set *sets;

static int ent_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct line_ent *)a)->node;
	uintptr_t y = (uintptr_t)((const struct line_ent *)b)->node;
	return x < y ? -1 : x > y;
}

int yaml_line_of(json_object *node)
{
	if (!node)
		return 0;
	int line = 0;
	struct line_ent key = {.node = node};
	pthread_mutex_lock(&sets_lock);
	for (struct line_set *s = sets; s && !line; s = s->next) {
		struct line_ent *e = bsearch(&key, s->ents, s->n, sizeof(*s->ents), ent_cmp);
		if (e)
			line = e->line;
	}
	pthread_mutex_unlock(&sets_lock);
	return line;
}

static void line_set_free(struct line_set *s)
{
	for (size_t i = 0; i < s->ngrave; i++)
		json_object_put(s->grave[i]);
	free(s->grave);
	free(s->ents);
	free(s);
}

void yaml_docs_free(json_object **docs, size_t n)
{
	if (!docs)
		return;
	struct line_set *found = NULL;
	pthread_mutex_lock(&sets_lock);
	for (struct line_set **pp = &sets; *pp; pp = &(*pp)->next) {
		if ((*pp)->docs == docs) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&sets_lock);
	if (found)
		line_set_free(found);
	for (size_t i = 0; i < n; i++)
		json_object_put(docs[i]);
	free(docs);
}

/* ---- scalars: the YAML 1.2 core schema --------------------------------- */

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

/* The value of a scalar event. Returns 0, or -1 with *why set. */
static int scalar_value(const yaml_event_t *ev, json_object **out, const char **why)
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

/* ---- the builder -------------------------------------------------------- */

struct anchor {
	char *name;
	json_object *value; /* a reference held here */
	size_t size;        /* nodes the anchored value spans */
};

struct frame {
	json_object *node;
	int is_map;
	char *key;          /* mapping: the key waiting for its value, or NULL */
	int key_is_merge;   /* the pending key is a plain "<<" */
	json_object **merges; /* mapping: "<<" values, applied at the end */
	size_t nmerges;
	char *anchor;
	size_t start_total;
};

struct builder {
	const char *source;
	struct frame stack[YAML_MAX_DEPTH];
	int depth;
	json_object *root;
	int have_root;
	struct anchor *anchors;
	size_t nanchors;
	size_t total, alias_total;
	struct line_ent *ents;
	size_t nents, cap_ents;
	json_object **grave;
	size_t ngrave, cap_grave;
	json_object **docs;
	size_t ndocs, cap_docs;
	struct eo_err *err;
	int syntax_error; /* libyaml's own error, as opposed to one of ours */
};

static int fail_at(struct builder *b, const yaml_mark_t *m, const char *fmt, const char *arg)
{
	char what[200];
	snprintf(what, sizeof(what), fmt, arg ? arg : "");
	return eo_err_set(b->err, EO_EPARSE, "%s:%zu:%zu: %s", b->source, m->line + 1,
			  m->column + 1, what);
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(p, c * elem);
	if (!q)
		abort();
	*cap = c;
	return q;
}

static void note_line(struct builder *b, json_object *o, const yaml_mark_t *m)
{
	if (!o)
		return;
	b->ents = grow(b->ents, &b->cap_ents, b->nents + 1, sizeof(*b->ents));
	b->ents[b->nents].node = o;
	b->ents[b->nents].line = (int)m->line + 1;
	b->nents++;
}

static void bury(struct builder *b, json_object *o)
{
	if (!o)
		return;
	b->grave = grow(b->grave, &b->cap_grave, b->ngrave + 1, sizeof(*b->grave));
	b->grave[b->ngrave++] = o;
}

static void clear_anchors(struct builder *b)
{
	for (size_t i = 0; i < b->nanchors; i++) {
		free(b->anchors[i].name);
		json_object_put(b->anchors[i].value);
	}
	free(b->anchors);
	b->anchors = NULL;
	b->nanchors = 0;
}

static void set_anchor(struct builder *b, const char *name, json_object *v, size_t size)
{
	b->anchors = realloc(b->anchors, (b->nanchors + 1) * sizeof(*b->anchors));
	if (!b->anchors)
		abort();
	b->anchors[b->nanchors].name = eo_strdup0(name);
	b->anchors[b->nanchors].value = json_object_get(v);
	b->anchors[b->nanchors].size = size;
	b->nanchors++;
}

static void frame_free(struct frame *f)
{
	json_object_put(f->node);
	free(f->key);
	for (size_t i = 0; i < f->nmerges; i++)
		json_object_put(f->merges[i]);
	free(f->merges);
	free(f->anchor);
	memset(f, 0, sizeof(*f));
}

/* Hand a finished value (ownership included) to whatever is open on top. */
static int put_value(struct builder *b, json_object *v, const yaml_mark_t *m)
{
	if (b->depth == 0) {
		b->root = v;
		b->have_root = 1;
		return 0;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (!f->is_map) {
		json_object_array_add(f->node, v);
		return 0;
	}
	if (!f->key) {
		/* A key that came through an alias: only scalars can be keys. */
		if (v && (json_object_is_type(v, json_type_object) ||
			  json_object_is_type(v, json_type_array))) {
			json_object_put(v);
			return fail_at(b, m, "a mapping key must be a scalar%s", "");
		}
		f->key = eo_strdup0(v ? json_object_get_string(v) : "null");
		json_object_put(v);
		return 0;
	}
	if (f->key_is_merge) {
		int ok = v && json_object_is_type(v, json_type_object);
		if (v && json_object_is_type(v, json_type_array)) {
			ok = 1;
			for (size_t i = 0; i < json_object_array_length(v); i++)
				if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object))
					ok = 0;
		}
		if (!ok) {
			json_object_put(v);
			return fail_at(b, m, "the merge key << needs a mapping or a list of mappings%s", "");
		}
		f->merges = realloc(f->merges, (f->nmerges + 1) * sizeof(*f->merges));
		if (!f->merges)
			abort();
		f->merges[f->nmerges++] = v;
	} else {
		if (json_object_object_get_ex(f->node, f->key, NULL)) {
			json_object_put(v);
			return fail_at(b, m, "duplicate key \"%s\"", f->key);
		}
		json_object_object_add(f->node, f->key, v);
	}
	free(f->key);
	f->key = NULL;
	f->key_is_merge = 0;
	return 0;
}

/* Keys from "<<" sources that the mapping does not set itself; earlier
 * sources win over later ones, as YAML's merge key says. */
static void apply_merges(struct builder *b, struct frame *f)
{
	for (size_t i = 0; i < f->nmerges; i++) {
		json_object *src = f->merges[i];
		size_t n = json_object_is_type(src, json_type_array) ? json_object_array_length(src) : 1;
		for (size_t j = 0; j < n; j++) {
			json_object *m = json_object_is_type(src, json_type_array)
						 ? json_object_array_get_idx(src, j)
						 : src;
			json_object_object_foreach(m, k, val)
			{
				if (!json_object_object_get_ex(f->node, k, NULL))
					json_object_object_add(f->node, k, json_object_get(val));
			}
		}
		bury(b, src); /* its own nodes may be in the line table */
		f->merges[i] = NULL;
	}
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = NULL;
	for (size_t i = b->nanchors; i-- > 0;)
		if (!strcmp(b->anchors[i].name, name)) {
			a = &b->anchors[i];
			break;
		}
	if (!a)
		return fail_at(b, &ev->start_mark, "alias *%s names no anchor defined before it", name);
	size_t own = b->total - b->alias_total;
	if (b->alias_total + a->size > YAML_ALIAS_FREE_NODES + 10 * own)
		return fail_at(b, &ev->start_mark,
			       "aliases expand to too many nodes (at *%s); refusing a possible alias bomb",
			       name);
	json_object *copy = NULL;
	if (a->value && json_object_deep_copy(a->value, &copy, NULL) != 0)
		return fail_at(b, &ev->start_mark, "cannot copy the value of *%s", name);
	b->total += a->size;
	b->alias_total += a->size;
	return put_value(b, copy, &ev->start_mark);
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
	b->total++;
	if (top && top->is_map && !top->key) {
		const char *s = (const char *)ev->data.scalar.value;
		top->key = eo_strdup0(s);
		top->key_is_merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
				    !ev->data.scalar.tag && !strcmp(s, "<<");
		if (ev->data.scalar.anchor)
			set_anchor(b, (const char *)ev->data.scalar.anchor,
				   json_object_new_string(s), 1);
		/* set_anchor took its own reference; drop the constructor's one */
		if (ev->data.scalar.anchor)
			json_object_put(b->anchors[b->nanchors - 1].value);
		return 0;
	}
	json_object *v;
	const char *why = NULL;
	if (scalar_value(ev, &v, &why) != 0)
		return fail_at(b, &ev->start_mark, "%s", why);
	note_line(b, v, &ev->start_mark);
	if (ev->data.scalar.anchor)
		set_anchor(b, (const char *)ev->data.scalar.anchor, v, 1);
	return put_value(b, v, &ev->start_mark);
}

static int on_start(struct builder *b, const yaml_event_t *ev, int is_map)
{
	struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
	if (top && top->is_map && !top->key)
		return fail_at(b, &ev->start_mark, "a mapping key must be a scalar%s", "");
	if (b->depth == YAML_MAX_DEPTH)
		return fail_at(b, &ev->start_mark, "nesting deeper than %s levels", "1000");
	const yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
					   : ev->data.sequence_start.anchor;
	struct frame *f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->node = is_map ? json_object_new_object() : json_object_new_array();
	f->anchor = anchor ? eo_strdup0((const char *)anchor) : NULL;
	f->start_total = b->total++;
	note_line(b, f->node, &ev->start_mark);
	return 0;
}

static int on_end(struct builder *b, const yaml_event_t *ev)
{
	struct frame *f = &b->stack[b->depth - 1];
	if (f->is_map)
		apply_merges(b, f);
	json_object *v = f->node;
	f->node = NULL;
	if (f->anchor)
		set_anchor(b, f->anchor, v, b->total - f->start_total);
	frame_free(f);
	b->depth--;
	return put_value(b, v, &ev->start_mark);
}

static void end_document(struct builder *b)
{
	if (b->have_root && b->root) {
		b->docs = grow(b->docs, &b->cap_docs, b->ndocs + 1, sizeof(*b->docs));
		b->docs[b->ndocs++] = b->root;
	}
	b->root = NULL;
	b->have_root = 0;
	clear_anchors(b);
}

static void builder_free(struct builder *b)
{
	while (b->depth > 0)
		frame_free(&b->stack[--b->depth]);
	json_object_put(b->root);
	clear_anchors(b);
	for (size_t i = 0; i < b->ngrave; i++)
		json_object_put(b->grave[i]);
	free(b->grave);
	free(b->ents);
	for (size_t i = 0; i < b->ndocs; i++)
		json_object_put(b->docs[i]);
	free(b->docs);
}

static int looks_like_json(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n')
			continue;
		return buf[i] == '{' || buf[i] == '[';
	}
	return 0;
}

static int parse_events(struct builder *b, const char *buf, size_t len)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return eo_err_set(b->err, EO_ENOMEM, "%s: out of memory", b->source);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	int rc = 0, done = 0;
	while (!done && rc == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			const yaml_mark_t *m = &p.problem_mark;
			b->syntax_error = 1;
			rc = eo_err_set(b->err, EO_EPARSE, "%s:%zu:%zu: %s%s%s%s", b->source,
					m->line + 1, m->column + 1, p.problem ? p.problem : "malformed YAML",
					p.context ? " (" : "", p.context ? p.context : "",
					p.context ? ")" : "");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = 1; break;
		case YAML_DOCUMENT_START_EVENT: b->have_root = 0; break;
		case YAML_DOCUMENT_END_EVENT: end_document(b); break;
		case YAML_ALIAS_EVENT: rc = on_alias(b, &ev); break;
		case YAML_SCALAR_EVENT: rc = on_scalar(b, &ev); break;
		case YAML_SEQUENCE_START_EVENT: rc = on_start(b, &ev, 0); break;
		case YAML_MAPPING_START_EVENT: rc = on_start(b, &ev, 1); break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: rc = on_end(b, &ev); break;
		default: break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

int yaml_parse_docs(const char *buf, size_t len, const char *source_name, json_object ***docs,
		    size_t *ndocs, struct eo_err *err)
{
	*docs = NULL;
	*ndocs = 0;
	struct builder *b = calloc(1, sizeof(*b));
	if (!b)
		return eo_err_set(err, EO_ENOMEM, "out of memory");
	b->source = source_name ? source_name : "<input>";
	b->err = err;
	if (parse_events(b, buf, len) != 0) {
		int syntax = b->syntax_error;
		builder_free(b);
		free(b);
		if (!syntax || !looks_like_json(buf, len))
			return -1;
		/* JSON that libyaml (YAML 1.1) trips over, e.g. tab indentation. */
		struct eo_err jerr;
		json_object *o = json_parse(buf, len, &jerr);
		if (!o)
			return -1; /* the YAML error is the more useful one */
		*docs = malloc(sizeof(**docs));
		if (!*docs)
			abort();
		(*docs)[0] = o;
		*ndocs = 1;
		eo_err_clear(err);
		return 0;
	}
	if (b->ndocs == 0) {
		builder_free(b);
		free(b);
		return 0;
	}
	struct line_set *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	qsort(b->ents, b->nents, sizeof(*b->ents), ent_cmp);
	s->docs = b->docs;
	s->ents = b->ents;
	s->n = b->nents;
	s->grave = b->grave;
	s->ngrave = b->ngrave;
	*docs = b->docs;
	*ndocs = b->ndocs;
	b->docs = NULL;
	b->ndocs = 0;
	b->ents = NULL;
	b->nents = 0;
	b->grave = NULL;
	b->ngrave = 0;
	builder_free(b);
	free(b);
	pthread_mutex_lock(&sets_lock);
	s->next = sets;
	sets = s;
	pthread_mutex_unlock(&sets_lock);
	return 0;
}

