/*
 * yaml.c — YAML streams read into json-c values on libyaml's event API
 * (writing them back is yaml_emit.c).
 *
 * Parsing is one loop over libyaml's events with an explicit stack of open
 * collections, so nesting depth costs no C stack and is bounded. A finished
 * value is handed to whatever is open on top: a sequence appends it, a
 * mapping takes it as a key or as the value of the pending key, an empty
 * stack makes it the document. Scalars get their type here (YAML 1.2 core
 * schema, yaml_scalar.c) and never later.
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
#include <yaml.h>

#include "yamljson.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "yaml_impl.h"

#define YAML_MAX_DEPTH 1000
#define YAML_ALIAS_FREE_NODES 10000 /* alias copies allowed on top of 10× the file's own nodes */

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
	if (yaml_scalar_value(ev, &v, &why) != 0)
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

