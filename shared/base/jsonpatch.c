/*
 * jsonpatch.c — RFC 6902 operations as text, pointers escaped per RFC 6901.
 *
 * The patch is written straight into a growable buffer: the webhook builds
 * one per review on its hot path, and a handful of appends is cheaper and
 * simpler than building a json-c tree to serialise it. Whether the array is
 * already open is read from the buffer itself (empty → write '['), so there
 * is no builder state to carry around.
 */
#include "jsonpatch.h"

#include <stdio.h>
#include <string.h>

int jsonpatch_escape_token(struct eo_buf *b, const char *token)
{
	const char *p = token, *run = token;
	for (; *p; p++) {
		if (*p != '~' && *p != '/')
			continue;
		if (eo_buf_append(b, run, (size_t)(p - run)) != 0 ||
		    eo_buf_append(b, *p == '~' ? "~0" : "~1", 2) != 0)
			return -1;
		run = p + 1;
	}
	return eo_buf_append(b, run, (size_t)(p - run));
}

int jsonpatch_json_string(struct eo_buf *b, const char *s)
{
	if (eo_buf_append(b, "\"", 1) != 0)
		return -1;
	const unsigned char *p = (const unsigned char *)s, *run = p;
	for (; *p; p++) {
		char esc[8];
		const char *e = NULL;
		switch (*p) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				e = esc;
			}
		}
		if (!e)
			continue;
		if (eo_buf_append(b, run, (size_t)(p - run)) != 0 ||
		    eo_buf_append(b, e, strlen(e)) != 0)
			return -1;
		run = p + 1;
	}
	if (eo_buf_append(b, run, (size_t)(p - run)) != 0)
		return -1;
	return eo_buf_append(b, "\"", 1);
}

int jsonpatch_op(struct eo_buf *b, const char *op, const char *const *tokens, size_t ntokens,
		 const char *value_json)
{
	if (eo_buf_append(b, b->len == 0 ? "[" : ",", 1) != 0 ||
	    eo_buf_append(b, "{\"op\":", 6) != 0 || jsonpatch_json_string(b, op) != 0 ||
	    eo_buf_append(b, ",\"path\":", 8) != 0)
		return -1;

	/* Escape the pointer first (RFC 6901), then write it as a JSON string. */
	struct eo_buf ptr = {0};
	int rc = 0;
	for (size_t i = 0; i < ntokens && rc == 0; i++)
		rc = eo_buf_append(&ptr, "/", 1) != 0 || jsonpatch_escape_token(&ptr, tokens[i]) != 0
			     ? -1 : 0;
	if (rc == 0)
		rc = jsonpatch_json_string(b, ptr.data ? ptr.data : "");
	eo_buf_free(&ptr);
	if (rc != 0)
		return -1;

	if (value_json && (eo_buf_append(b, ",\"value\":", 9) != 0 ||
			   eo_buf_append(b, value_json, strlen(value_json)) != 0))
		return -1;
	return eo_buf_append(b, "}", 1);
}

int jsonpatch_finish(struct eo_buf *b)
{
	if (b->len == 0)
		return eo_buf_append(b, "[]", 2);
	return eo_buf_append(b, "]", 1);
}
