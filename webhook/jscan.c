/*
 * jscan.c — the one-pass JSON reader of jscan.h.
 *
 * The one idea: validating and skipping are the same walk, and almost all
 * of a body is skipped, so the walk is made cheap where bytes are many —
 * inside strings, eight bytes at a time — and exact where json-c could read
 * a value differently, by refusing to guess (JSCAN_NO).
 */
#include "jscan.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Eight bytes at a time: does any byte need a look (a quote, a backslash,
 * or a control character)? The classic SWAR tests for a zero byte and for a
 * byte below a bound. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
static inline bool plain8(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	uint64_t hit = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x);
	return (hit & HIGHS) == 0;
}

/* A string at s->p ('"'): its raw bytes and whether it holds escapes. */
int jscan_string(struct jscan *s, const char **str, size_t *len, bool *escaped)
{
	if (s->p >= s->end || *s->p != '"')
		return JSCAN_NO;
	const char *start = ++s->p;
	*escaped = false;
	for (;;) {
		/* Fast over the plain bytes. */
		while (s->end - s->p >= 8 && plain8(s->p))
			s->p += 8;
		while (s->p < s->end && *s->p != '"' && *s->p != '\\' &&
		       (unsigned char)*s->p >= 0x20)
			s->p++;
		if (s->p >= s->end || (unsigned char)*s->p < 0x20)
			return JSCAN_NO; /* unterminated, or a raw control character */
		if (*s->p == '"')
			break;
		*escaped = true;
		if (s->end - s->p < 2)
			return JSCAN_NO;
		char e = s->p[1];
		if (e == 'u') {
			if (s->end - s->p < 6)
				return JSCAN_NO;
			int v = 0;
			for (int i = 2; i < 6; i++) {
				int h = hexval(s->p[i]);
				if (h < 0)
					return JSCAN_NO;
				v = v * 16 + h;
			}
			if (v >= 0xD800 && v <= 0xDFFF)
				return JSCAN_NO; /* surrogates: json-c's own rules */
			s->p += 6;
		} else if (strchr("\"\\/bfnrt", e) && e) {
			s->p += 2;
		} else {
			return JSCAN_NO;
		}
	}
	*str = start;
	*len = (size_t)(s->p - start);
	s->p++;
	return JSCAN_YES;
}

/* A number that is a plain integer of at most 18 digits; others (fractions,
 * exponents, longer) go to the general path. */
int jscan_number(struct jscan *s, int64_t *v)
{
	const char *q = s->p;
	bool neg = false;
	if (q < s->end && *q == '-') {
		neg = true;
		q++;
	}
	if (q >= s->end || *q < '0' || *q > '9')
		return JSCAN_NO;
	if (*q == '0' && q + 1 < s->end && q[1] >= '0' && q[1] <= '9')
		return JSCAN_NO; /* leading zero */
	int64_t n = 0;
	int digits = 0;
	while (q < s->end && *q >= '0' && *q <= '9') {
		if (++digits > 18)
			return JSCAN_NO;
		n = n * 10 + (*q++ - '0');
	}
	if (q < s->end && (*q == '.' || *q == 'e' || *q == 'E'))
		return JSCAN_NO;
	*v = neg ? -n : n;
	s->p = q;
	return JSCAN_YES;
}

int jscan_literal(struct jscan *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return JSCAN_NO;
	s->p += n;
	return JSCAN_YES;
}


int jscan_obj_open(struct jscan *s, struct jscan_members *m)
{
	jscan_ws(s);
	if (s->p >= s->end || *s->p != '{' || ++s->depth > JSCAN_MAX_DEPTH)
		return JSCAN_NO;
	s->p++;
	m->first = true;
	m->done = false;
	return JSCAN_YES;
}

int jscan_obj_next(struct jscan *s, struct jscan_members *m, const char **key, size_t *klen)
{
	jscan_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		s->depth--;
		m->done = true;
		return JSCAN_YES;
	}
	if (!m->first) {
		if (s->p >= s->end || *s->p != ',')
			return JSCAN_NO;
		s->p++;
		jscan_ws(s);
	}
	m->first = false;
	bool esc;
	if (jscan_string(s, key, klen, &esc) != JSCAN_YES || esc)
		return JSCAN_NO; /* an escaped key might spell one we read */
	jscan_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return JSCAN_NO;
	s->p++;
	jscan_ws(s);
	return JSCAN_YES;
}

int jscan_skip(struct jscan *s)
{
	jscan_ws(s);
	if (s->p >= s->end)
		return JSCAN_NO;
	const char *str;
	size_t n;
	bool esc;
	int64_t v;
	switch (*s->p) {
	case '"':
		return jscan_string(s, &str, &n, &esc);
	case 't':
		return jscan_literal(s, "true");
	case 'f':
		return jscan_literal(s, "false");
	case 'n':
		return jscan_literal(s, "null");
	case '{': {
		struct jscan_members m;
		if (jscan_obj_open(s, &m) != JSCAN_YES)
			return JSCAN_NO;
		for (;;) {
			if (jscan_obj_next(s, &m, &str, &n) != JSCAN_YES)
				return JSCAN_NO;
			if (m.done)
				return JSCAN_YES;
			if (jscan_skip(s) != JSCAN_YES)
				return JSCAN_NO;
		}
	}
	case '[':
		if (++s->depth > JSCAN_MAX_DEPTH)
			return JSCAN_NO;
		s->p++;
		jscan_ws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			s->depth--;
			return JSCAN_YES;
		}
		for (;;) {
			if (jscan_skip(s) != JSCAN_YES)
				return JSCAN_NO;
			jscan_ws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				continue;
			}
			if (s->p < s->end && *s->p == ']') {
				s->p++;
				s->depth--;
				return JSCAN_YES;
			}
			return JSCAN_NO;
		}
	default:
		return jscan_number(s, &v);
	}
}




/* json_opt_str + eo_strlcpy: a string is copied (cut to size), any other
 * type gives "". An escaped string steps aside. */
int jscan_opt_str(struct jscan *s, char *dst, size_t size)
{
	dst[0] = '\0';
	if (jscan_peek(s) != '"')
		return jscan_skip(s);
	const char *str;
	size_t n;
	bool esc;
	if (jscan_string(s, &str, &n, &esc) != JSCAN_YES || esc)
		return JSCAN_NO;
	if (n >= size)
		n = size - 1;
	memcpy(dst, str, n);
	dst[n] = '\0';
	return JSCAN_YES;
}

/* The same, but the whole string must fit (a longer one steps aside). */
int jscan_opt_str_exact(struct jscan *s, char *dst, size_t size)
{
	dst[0] = '\0';
	if (jscan_peek(s) != '"')
		return jscan_skip(s);
	const char *str;
	size_t n;
	bool esc;
	if (jscan_string(s, &str, &n, &esc) != JSCAN_YES || esc || n >= size)
		return JSCAN_NO;
	memcpy(dst, str, n);
	dst[n] = '\0';
	return JSCAN_YES;
}

/* json_opt_int: an integer, else the default for any other type. */
int jscan_opt_int(struct jscan *s, int64_t *v, int64_t def)
{
	char c = jscan_peek(s);
	*v = def;
	if (c == '-' || (c >= '0' && c <= '9'))
		return jscan_number(s, v);
	return jscan_skip(s);
}

int jscan_opt_bool(struct jscan *s, bool *v, bool def)
{
	char c = jscan_peek(s);
	*v = def;
	if (c == 't' && jscan_literal(s, "true") == JSCAN_YES) {
		*v = true;
		return JSCAN_YES;
	}
	if (c == 'f' && jscan_literal(s, "false") == JSCAN_YES) {
		*v = false;
		return JSCAN_YES;
	}
	return jscan_skip(s);
}

