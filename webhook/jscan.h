/*
 * jscan.h — a one-pass JSON reader that builds nothing: it validates a
 * document by RFC 8259 as it walks it, hands out the raw bytes of the
 * strings and the values of the plain integers it is asked for, and skips
 * the rest at memory speed.
 *
 * Made for readers that must agree with json-c (webhook/review_fast.c):
 * every function answers JSCAN_YES or JSCAN_NO, and NO means "not sure this
 * reads the same as json-c would" as much as "malformed" — a fraction or an
 * exponent, a raw control character in a string, a surrogate escape, nesting
 * deeper than JSCAN_MAX_DEPTH. The caller then steps aside to json-c.
 *
 *     struct jscan s = {body, body + len, 0};
 *     struct jscan_members m;
 *     if (jscan_obj_open(&s, &m) != JSCAN_YES) ...
 *     while (jscan_obj_next(&s, &m, &key, &klen) == JSCAN_YES && !m.done)
 *             if (jscan_key_is(key, klen, "name")) jscan_opt_str(&s, name, sizeof name);
 *             else jscan_skip(&s);
 */
#ifndef EO_WEBHOOK_JSCAN_H
#define EO_WEBHOOK_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSCAN_MAX_DEPTH 24 /* json-c refuses at 32 */

enum { JSCAN_NO = 0, JSCAN_YES = 1 };

struct jscan {
	const char *p, *end;
	int depth;
};

static inline void jscan_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* ---- values with cluster_parse's meaning --------------------------------- */

static inline char jscan_peek(struct jscan *s)
{
	jscan_ws(s);
	return s->p < s->end ? *s->p : 0;
}

static inline bool jscan_key_is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* Each key the decoder reads may appear once (json-c keeps the last). */
static inline int jscan_once(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return JSCAN_NO;
	*seen |= bit;
	return JSCAN_YES;
}

/* Members of an object: call with s->p at '{'. Returns JSCAN_YES with *key set for
 * each member (the value is next, after ':'), NO to step aside, and sets
 * *done at the closing brace. */
struct jscan_members {
	bool first, done;
};

int jscan_obj_open(struct jscan *s, struct jscan_members *m);
int jscan_obj_next(struct jscan *s, struct jscan_members *m, const char **key, size_t *klen);

/* A string at s->p: its raw bytes (between the quotes) and whether it holds
 * escapes (then the raw bytes are not its value). */
int jscan_string(struct jscan *s, const char **str, size_t *len, bool *escaped);
/* A plain integer of at most 18 digits (anything else: NO). */
int jscan_number(struct jscan *s, int64_t *v);
int jscan_literal(struct jscan *s, const char *word);
/* Any value, validated and passed over. */
int jscan_skip(struct jscan *s);

/* Values with json_opt_*'s meaning (shared/json.h): a value of another type
 * gives the default; an escaped string steps aside. opt_str cuts to size as
 * eo_strlcpy does; opt_str_exact steps aside when the string does not fit. */
int jscan_opt_str(struct jscan *s, char *dst, size_t size);
int jscan_opt_str_exact(struct jscan *s, char *dst, size_t size);
int jscan_opt_int(struct jscan *s, int64_t *v, int64_t def);
int jscan_opt_bool(struct jscan *s, bool *v, bool def);

#endif
