/*
 * kube_stream.c — framing and decoding of a watch stream, apart from the
 * network: bytes in arbitrary chunks → one JSON document per line → events.
 *
 * The one idea: the json-c tokener is incremental, so each chunk of a line
 * is handed to it as it arrives and never copied or re-scanned; a newline
 * then only has to check that the line held exactly one complete value.
 * A watch line can be megabytes (a large object) and arrive in pieces of a
 * few bytes; both cost the same here. Pure: no I/O.
 */
#include "kube.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Deep enough for managedFields of real objects (json-c's default is 32). */
#define KUBE_JSON_DEPTH 96

struct kube_lines {
	json_tokener *tok;
	size_t max_line;
	size_t line_len; /* bytes of the current line so far */
	int dirty;       /* the current line has started a value */
	json_object *doc; /* complete value waiting for its newline */
};

struct kube_lines *kube_lines_new(size_t max_line)
{
	struct kube_lines *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->tok = json_tokener_new_ex(KUBE_JSON_DEPTH);
	if (!l->tok) {
		free(l);
		return NULL;
	}
	l->max_line = max_line ? max_line : (size_t)16 << 20;
	return l;
}

void kube_lines_free(struct kube_lines *l)
{
	if (!l)
		return;
	json_tokener_free(l->tok);
	json_object_put(l->doc);
	free(l);
}

static int only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			return 0;
	return 1;
}

/* Hand one piece of the current line (no '\n' in it) to the tokener. */
static int consume(struct kube_lines *l, const char *p, size_t n, struct eo_err *err)
{
	if (l->doc) {
		if (!only_space(p, n))
			return eo_err_set(err, EO_EPARSE,
					  "watch stream: more than one JSON value on a line");
		return 0;
	}
	size_t i = 0;
	if (!l->dirty)
		while (i < n && isspace((unsigned char)p[i]))
			i++;
	if (i == n)
		return 0;
	l->dirty = 1;
	json_object *o = json_tokener_parse_ex(l->tok, p + i, (int)(n - i));
	enum json_tokener_error jerr = json_tokener_get_error(l->tok);
	if (jerr == json_tokener_continue)
		return 0;
	if (jerr != json_tokener_success) {
		json_object_put(o);
		return eo_err_set(err, EO_EPARSE, "watch stream: invalid JSON in an event: %s",
				  json_tokener_error_desc(jerr));
	}
	l->doc = o;
	size_t used = json_tokener_get_parse_end(l->tok);
	if (!only_space(p + i + used, n - i - used))
		return eo_err_set(err, EO_EPARSE, "watch stream: more than one JSON value on a line");
	return 0;
}

/* A newline (or the end of the stream): deliver the line's document. */
static int end_line(struct kube_lines *l, kube_doc_fn fn, void *ud, struct eo_err *err)
{
	if (l->dirty && !l->doc) {
		/* A bare number needs a terminator before json-c will finish it. */
		if (consume(l, " ", 1, err) != 0)
			return -1;
		if (!l->doc)
			return eo_err_set(err, EO_EPARSE,
					  "watch stream: a line ended inside a JSON value (%zu bytes)",
					  l->line_len);
	}
	json_tokener_reset(l->tok);
	l->line_len = 0;
	l->dirty = 0;
	json_object *doc = l->doc;
	l->doc = NULL;
	if (!doc)
		return 0;
	int r = fn ? fn(doc, ud) : 0;
	json_object_put(doc);
	return r ? 1 : 0;
}

int kube_lines_feed(struct kube_lines *l, const char *data, size_t len, kube_doc_fn fn,
		    void *ud, struct eo_err *err)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;
		if (seg > l->max_line - l->line_len)
			return eo_err_set(err, EO_EPARSE,
					  "watch stream: an event line is longer than %zu bytes",
					  l->max_line);
		l->line_len += seg;
		if (consume(l, data, seg, err) != 0)
			return -1;
		if (!nl)
			break;
		data += seg + 1;
		len -= seg + 1;
		int r = end_line(l, fn, ud, err);
		if (r != 0)
			return r;
	}
	return 0;
}

int kube_lines_finish(struct kube_lines *l, kube_doc_fn fn, void *ud, struct eo_err *err)
{
	if (!l->dirty && !l->doc)
		return 0;
	return end_line(l, fn, ud, err);
}

int kube_watch_event(json_object *line, char *last_rv, kube_watch_fn fn, void *ud,
		     struct eo_err *err)
{
	const char *type = json_opt_str(line, "type", NULL);
	json_object *obj = json_at(line, "object");
	if (!type || !obj || !json_object_is_type(obj, json_type_object))
		return eo_err_set(err, EO_EPARSE,
				  "watch stream: an event without \"type\" and \"object\"");
	if (!strcmp(type, "ERROR")) {
		long code = (long)json_opt_int(obj, "code", 500);
		char msg[sizeof(err->msg)];
		kube_status_message(obj, code, msg, sizeof(msg));
		return eo_err_set(err, code > 0 ? (int)code : 500, "%s", msg);
	}
	const char *rv = json_opt_str(obj, "metadata.resourceVersion", NULL);
	if (rv && *rv && last_rv)
		eo_strlcpy(last_rv, rv, 64);
	enum kube_event ev;
	if (!strcmp(type, "ADDED"))
		ev = KUBE_EV_ADDED;
	else if (!strcmp(type, "MODIFIED"))
		ev = KUBE_EV_MODIFIED;
	else if (!strcmp(type, "DELETED"))
		ev = KUBE_EV_DELETED;
	else if (!strcmp(type, "BOOKMARK"))
		return 0;
	else
		return eo_err_set(err, EO_EPARSE, "watch stream: unknown event type \"%.40s\"", type);
	return fn && fn(ev, obj, ud) != 0 ? 1 : 0;
}
