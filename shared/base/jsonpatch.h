/*
 * jsonpatch.h — building RFC 6902 JSON Patch text, with RFC 6901 pointers.
 *
 * The one idea: a pointer is built from raw tokens, never from a
 * pre-joined string, so a key that holds '/' or '~' (Kubernetes annotation
 * keys do: "etcd.k8s-operator.io/target-replicas") is escaped exactly once,
 * as "~1" and "~0", and then JSON-escaped as a string.
 *
 * Usage: zero an eo_buf, call jsonpatch_op() for each operation (the first
 * opens the array), then jsonpatch_finish() closes it ("[]" when no
 * operation was added). The buffer belongs to the caller (eo_buf_free).
 */
#ifndef EO_JSONPATCH_H
#define EO_JSONPATCH_H

#include <stddef.h>

#include "eo.h"

/*
 * Append {"op":op,"path":"/t0/t1/…"[,"value":value_json]} to b.
 * op: "add", "replace", "remove", "test" … (written as given);
 * tokens: the pointer's reference tokens, unescaped; ntokens 0 is the root "";
 * value_json: the value as JSON text, or NULL for "remove".
 * Returns 0, or -1 when the buffer cannot grow (b->max reached, no memory).
 */
int jsonpatch_op(struct eo_buf *b, const char *op, const char *const *tokens, size_t ntokens,
		 const char *value_json);

/* Close the array (or write "[]" if nothing was added). 0 or -1. */
int jsonpatch_finish(struct eo_buf *b);

/* Append one token escaped per RFC 6901 ('~' → "~0", '/' → "~1"), without
 * JSON escaping. 0 or -1. */
int jsonpatch_escape_token(struct eo_buf *b, const char *token);

/* Append s as a JSON string literal (quotes included; '/' left as is). */
int jsonpatch_json_string(struct eo_buf *b, const char *s);

#endif
