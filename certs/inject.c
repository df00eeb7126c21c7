/*
 * inject.c — fill clientConfig.caBundle in webhook configurations, changing
 * nothing else in the text.
 *
 * The one idea: parse with libyaml only to learn *where* things are, then
 * splice the original text. libyaml's document loader keeps a start and end
 * mark on every node, so each webhook's clientConfig gives one small edit —
 * replace the caBundle value, or insert a `caBundle:` entry in front of the
 * mapping's first key at the same indentation (after the `{` of a flow
 * mapping). Every other byte, comments and quoting included, is copied as
 * it was: a round trip through a data model would reformat the CRD and the
 * Deployments piped through with the webhooks, and could retype what it
 * passes along (YAML 1.1's octal 0440, "yes", "3.10").
 *
 * libyaml counts marks in characters, not bytes; the edits are collected
 * with character indexes and turned into byte offsets in one pass over the
 * UTF-8 text at the end.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "yamljson.h"

#include "certs.h"

struct edit {
	size_t start, end; /* character indexes; bytes after to_bytes() */
	char *text;        /* replacement (owned) */
	bool keep_break;   /* append "\n" if the replaced span ended with one */
};

struct ictx {
	const char *what;
	const char *b64;
	struct edit *edits;
	size_t nedits, cap;
	int nwebhooks;
	struct eo_err *err;
};

static int add_edit(struct ictx *c, size_t start, size_t end, char *text, bool keep_break)
{
	for (size_t i = 0; i < c->nedits; i++)
		if (c->edits[i].start == start) { /* the same node again, through an alias */
			free(text);
			return 0;
		}
	if (c->nedits == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct edit *e = realloc(c->edits, cap * sizeof(*e));
		if (!e) {
			free(text);
			return eo_err_set(c->err, EO_ENOMEM, "out of memory");
		}
		c->edits = e;
		c->cap = cap;
	}
	c->edits[c->nedits++] = (struct edit){start, end, text, keep_break};
	return 0;
}

static int at_fail(struct ictx *c, const yaml_node_t *n, const char *msg, const char *name)
{
	return eo_err_set(c->err, EO_EPARSE, "%s:%zu:%zu: %s%s%s", c->what,
			  n ? n->start_mark.line + 1 : 0, n ? n->start_mark.column + 1 : 0, msg,
			  name ? " " : "", name ? name : "");
}

static bool is_scalar(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

/* The value of key in a mapping node, with the key node in *key_out. */
static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *map, const char *key,
			    yaml_node_t **key_out)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (is_scalar(k, key)) {
			if (key_out)
				*key_out = k;
			return yaml_document_get_node(d, p->value);
		}
	}
	return NULL;
}

static int fill_client_config(struct ictx *c, yaml_document_t *d, yaml_node_t *hook, int index)
{
	char where[64];
	snprintf(where, sizeof(where), "(webhooks[%d])", index);
	yaml_node_t *cc = map_get(d, hook, "clientConfig", NULL);
	if (!cc || cc->type != YAML_MAPPING_NODE)
		return at_fail(c, cc ? cc : hook, "a webhook needs a clientConfig mapping", where);

	yaml_node_t *old = map_get(d, cc, "caBundle", NULL);
	if (old) {
		if (old->type != YAML_SCALAR_NODE)
			return at_fail(c, old, "caBundle is not a string", where);
		size_t s = old->start_mark.index, e = old->end_mark.index;
		if (s == e) /* `caBundle:` with no value: the mark sits right after ':' */
			return add_edit(c, s, e, eo_strdupf(" %s", c->b64), false);
		/* keep the quoting: JSON stays JSON */
		const char *q = old->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE   ? "\""
				: old->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ? "'"
											    : "";
		return add_edit(c, s, e, eo_strdupf("%s%s%s", q, c->b64, q), true);
	}
	if (cc->data.mapping.style == YAML_FLOW_MAPPING_STYLE) {
		/* Insert after '{' (found from the node's start: an anchor or tag
		 * may come first). The index is fixed up in to_bytes(). A mapping
		 * whose first key is double-quoted is taken for JSON and gets a
		 * JSON member. */
		bool empty = cc->data.mapping.pairs.start == cc->data.mapping.pairs.top;
		yaml_node_t *first = empty ? NULL
					   : yaml_document_get_node(d, cc->data.mapping.pairs.start->key);
		bool json = first && first->type == YAML_SCALAR_NODE &&
			    first->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		return add_edit(c, cc->start_mark.index, (size_t)-1,
				json ? eo_strdupf("\"caBundle\":\"%s\",", c->b64)
				     : eo_strdupf("caBundle: %s%s", c->b64, empty ? "" : ", "),
				false);
	}
	if (cc->data.mapping.pairs.start == cc->data.mapping.pairs.top)
		return at_fail(c, cc, "clientConfig is empty", where);
	yaml_node_t *first = yaml_document_get_node(d, cc->data.mapping.pairs.start->key);
	size_t col = first->start_mark.column;
	char *text = malloc(strlen(c->b64) + col + 16);
	if (!text)
		return eo_err_set(c->err, EO_ENOMEM, "out of memory");
	int n = sprintf(text, "caBundle: %s\n", c->b64);
	memset(text + n, ' ', col);
	text[n + col] = '\0';
	return add_edit(c, first->start_mark.index, first->start_mark.index, text, false);
}

static int walk_object(struct ictx *c, yaml_document_t *d, yaml_node_t *obj, int depth)
{
	if (!obj || obj->type != YAML_MAPPING_NODE || depth > 4)
		return 0;
	yaml_node_t *kind = map_get(d, obj, "kind", NULL);
	if (is_scalar(kind, "List") || is_scalar(kind, "MutatingWebhookConfigurationList") ||
	    is_scalar(kind, "ValidatingWebhookConfigurationList")) {
		yaml_node_t *items = map_get(d, obj, "items", NULL);
		if (!items || items->type != YAML_SEQUENCE_NODE)
			return 0;
		for (yaml_node_item_t *i = items->data.sequence.items.start; i < items->data.sequence.items.top; i++)
			if (walk_object(c, d, yaml_document_get_node(d, *i), depth + 1) != 0)
				return -1;
		return 0;
	}
	if (!is_scalar(kind, "MutatingWebhookConfiguration") &&
	    !is_scalar(kind, "ValidatingWebhookConfiguration"))
		return 0;
	yaml_node_t *hooks = map_get(d, obj, "webhooks", NULL);
	if (!hooks || hooks->type != YAML_SEQUENCE_NODE)
		return at_fail(c, hooks ? hooks : obj, "a webhook configuration without a webhooks list",
			       NULL);
	int index = 0;
	for (yaml_node_item_t *i = hooks->data.sequence.items.start; i < hooks->data.sequence.items.top;
	     i++, index++) {
		yaml_node_t *hook = yaml_document_get_node(d, *i);
		if (!hook || hook->type != YAML_MAPPING_NODE)
			return at_fail(c, hook, "webhooks[] entries must be mappings", NULL);
		if (fill_client_config(c, d, hook, index) != 0)
			return -1;
		c->nwebhooks++;
	}
	return 0;
}

static int edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* A forward cursor from character index to byte offset over UTF-8 text;
 * it restarts from the beginning when asked for an earlier index. */
struct cursor {
	const char *text;
	size_t len, ch, byte;
};

static size_t cursor_byte(struct cursor *k, size_t ch)
{
	if (ch < k->ch)
		k->ch = k->byte = 0;
	while (k->ch < ch && k->byte < k->len) {
		k->byte++;
		while (k->byte < k->len && ((unsigned char)k->text[k->byte] & 0xC0) == 0x80)
			k->byte++;
		k->ch++;
	}
	return k->byte;
}

/* Turn the edits' character indexes into byte offsets. A flow-mapping
 * insertion starts at its node, which may open with an anchor or a tag:
 * it moves to just past the '{'. */
static int to_bytes(struct ictx *c, const char *text, size_t len)
{
	struct cursor k = {text, len, 0, 0};
	for (size_t i = 0; i < c->nedits; i++) {
		struct edit *e = &c->edits[i];
		bool flow = e->end == (size_t)-1;
		e->start = cursor_byte(&k, e->start);
		e->end = flow ? e->start : cursor_byte(&k, e->end);
		if (flow) {
			const char *brace = memchr(text + e->start, '{', len - e->start);
			if (!brace)
				return eo_err_set(c->err, EO_EPARSE,
						  "%s: a flow-style clientConfig without '{'", c->what);
			e->start = e->end = (size_t)(brace - text) + 1;
		}
	}
	return 0;
}

static int apply(struct ictx *c, const char *text, size_t len, struct eo_buf *out)
{
	size_t pos = 0;
	for (size_t i = 0; i < c->nedits; i++) {
		struct edit *e = &c->edits[i];
		if (e->start < pos || e->end < e->start || e->end > len)
			return eo_err_set(c->err, EO_EPARSE, "%s: overlapping caBundle edits; "
					  "is a clientConfig shared in an unusual way?", c->what);
		if (eo_buf_append(out, text + pos, e->start - pos) != 0 ||
		    eo_buf_append(out, e->text, strlen(e->text)) != 0 ||
		    (e->keep_break && e->end > e->start && text[e->end - 1] == '\n' &&
		     eo_buf_append(out, "\n", 1) != 0))
			return eo_err_set(c->err, EO_ENOMEM, "out of memory");
		pos = e->end;
	}
	if (eo_buf_append(out, text + pos, len - pos) != 0)
		return eo_err_set(c->err, EO_ENOMEM, "out of memory");
	return 0;
}

int certs_inject(const char *text, size_t len, const char *what, const char *ca_b64,
		 struct eo_buf *out, int *nwebhooks, struct eo_err *err)
{
	struct ictx c = {.what = what, .b64 = ca_b64, .err = err};
	*nwebhooks = 0;
	/* libyaml skips a byte-order mark without counting it; so do we. */
	size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;

	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return eo_err_set(err, EO_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text + bom, len - bom);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	int rc = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&parser, &doc)) {
			rc = eo_err_set(err, EO_EPARSE, "%s:%zu:%zu: not valid YAML: %s%s%s", what,
					parser.problem_mark.line + 1, parser.problem_mark.column + 1,
					parser.problem ? parser.problem : "parse error",
					parser.context ? " " : "", parser.context ? parser.context : "");
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) { /* end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		rc = walk_object(&c, &doc, root, 0);
		yaml_document_delete(&doc);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&parser);

	if (rc == 0 && c.nedits) {
		qsort(c.edits, c.nedits, sizeof(*c.edits), edit_cmp);
		rc = to_bytes(&c, text + bom, len - bom);
		for (size_t i = 0; rc == 0 && i < c.nedits; i++) {
			c.edits[i].start += bom;
			c.edits[i].end += bom;
		}
	}
	if (rc == 0)
		rc = apply(&c, text, len, out);
	if (rc == 0)
		*nwebhooks = c.nwebhooks;
	for (size_t i = 0; i < c.nedits; i++)
		free(c.edits[i].text);
	free(c.edits);
	return rc;
}
