/*
 * review_fast.c — decode an AdmissionReview for EtcdCluster in one pass over
 * the bytes, without a tree.
 *
 * Why: the general decoder (json-c, then cluster_parse) allocates an object
 * and a hash table for every JSON object in the body, and kube-apiserver
 * sends whole objects — managedFields, the last-applied annotation, status —
 * of which the rules read a few dozen bytes. That was three quarters of a
 * review's cost.
 *
 * The one idea: be exact or step aside. The scanner validates all of the
 * body by RFC 8259 (strings, numbers, literals, nesting) and copies the
 * fields the rules read with cluster_parse()'s meaning (defaults, lenient
 * status, truncation). Where json-c and cluster_parse could see something
 * else — an escape in a copied string, a fraction or exponent anywhere, a
 * duplicate key it reads, deep nesting, a type error — it returns 0 and the
 * general path decides, so the two never differ (the fuzzer compares their
 * replies byte for byte).
 */
#include "review_fast.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 24 /* json-c refuses at 32; deeper than this: general path */

enum { NO = 0, YES = 1 }; /* NO: step aside */

struct scan {
	const char *p, *end;
	int depth;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

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
static int string(struct scan *s, const char **str, size_t *len, bool *escaped)
{
	if (s->p >= s->end || *s->p != '"')
		return NO;
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
			return NO; /* unterminated, or a raw control character */
		if (*s->p == '"')
			break;
		*escaped = true;
		if (s->end - s->p < 2)
			return NO;
		char e = s->p[1];
		if (e == 'u') {
			if (s->end - s->p < 6)
				return NO;
			int v = 0;
			for (int i = 2; i < 6; i++) {
				int h = hexval(s->p[i]);
				if (h < 0)
					return NO;
				v = v * 16 + h;
			}
			if (v >= 0xD800 && v <= 0xDFFF)
				return NO; /* surrogates: json-c's own rules */
			s->p += 6;
		} else if (strchr("\"\\/bfnrt", e) && e) {
			s->p += 2;
		} else {
			return NO;
		}
	}
	*str = start;
	*len = (size_t)(s->p - start);
	s->p++;
	return YES;
}

/* A number that is a plain integer of at most 18 digits; others (fractions,
 * exponents, longer) go to the general path. */
static int number(struct scan *s, int64_t *v)
{
	const char *q = s->p;
	bool neg = false;
	if (q < s->end && *q == '-') {
		neg = true;
		q++;
	}
	if (q >= s->end || *q < '0' || *q > '9')
		return NO;
	if (*q == '0' && q + 1 < s->end && q[1] >= '0' && q[1] <= '9')
		return NO; /* leading zero */
	int64_t n = 0;
	int digits = 0;
	while (q < s->end && *q >= '0' && *q <= '9') {
		if (++digits > 18)
			return NO;
		n = n * 10 + (*q++ - '0');
	}
	if (q < s->end && (*q == '.' || *q == 'e' || *q == 'E'))
		return NO;
	*v = neg ? -n : n;
	s->p = q;
	return YES;
}

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return NO;
	s->p += n;
	return YES;
}

static int skip_value(struct scan *s);

/* Members of an object: call with s->p at '{'. Returns YES with *key set for
 * each member (the value is next, after ':'), NO to step aside, and sets
 * *done at the closing brace. */
struct members {
	bool first, done;
};

static int obj_open(struct scan *s, struct members *m)
{
	ws(s);
	if (s->p >= s->end || *s->p != '{' || ++s->depth > MAX_DEPTH)
		return NO;
	s->p++;
	m->first = true;
	m->done = false;
	return YES;
}

static int obj_next(struct scan *s, struct members *m, const char **key, size_t *klen)
{
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		s->depth--;
		m->done = true;
		return YES;
	}
	if (!m->first) {
		if (s->p >= s->end || *s->p != ',')
			return NO;
		s->p++;
		ws(s);
	}
	m->first = false;
	bool esc;
	if (string(s, key, klen, &esc) != YES || esc)
		return NO; /* an escaped key might spell one we read */
	ws(s);
	if (s->p >= s->end || *s->p != ':')
		return NO;
	s->p++;
	ws(s);
	return YES;
}

static int skip_value(struct scan *s)
{
	ws(s);
	if (s->p >= s->end)
		return NO;
	const char *str;
	size_t n;
	bool esc;
	int64_t v;
	switch (*s->p) {
	case '"':
		return string(s, &str, &n, &esc);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	case '{': {
		struct members m;
		if (obj_open(s, &m) != YES)
			return NO;
		for (;;) {
			if (obj_next(s, &m, &str, &n) != YES)
				return NO;
			if (m.done)
				return YES;
			if (skip_value(s) != YES)
				return NO;
		}
	}
	case '[':
		if (++s->depth > MAX_DEPTH)
			return NO;
		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			s->depth--;
			return YES;
		}
		for (;;) {
			if (skip_value(s) != YES)
				return NO;
			ws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				continue;
			}
			if (s->p < s->end && *s->p == ']') {
				s->p++;
				s->depth--;
				return YES;
			}
			return NO;
		}
	default:
		return number(s, &v);
	}
}

static bool key_is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* Each key the decoder reads may appear once (json-c keeps the last). */
static int once(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return NO;
	*seen |= bit;
	return YES;
}

/* ---- values with cluster_parse's meaning --------------------------------- */

static char peek(struct scan *s)
{
	ws(s);
	return s->p < s->end ? *s->p : 0;
}

/* json_opt_str + eo_strlcpy: a string is copied (cut to size), any other
 * type gives "". An escaped string steps aside. */
static int opt_str(struct scan *s, char *dst, size_t size)
{
	dst[0] = '\0';
	if (peek(s) != '"')
		return skip_value(s);
	const char *str;
	size_t n;
	bool esc;
	if (string(s, &str, &n, &esc) != YES || esc)
		return NO;
	if (n >= size)
		n = size - 1;
	memcpy(dst, str, n);
	dst[n] = '\0';
	return YES;
}

/* The same, but the whole string must fit (a longer one steps aside). */
static int opt_str_exact(struct scan *s, char *dst, size_t size)
{
	dst[0] = '\0';
	if (peek(s) != '"')
		return skip_value(s);
	const char *str;
	size_t n;
	bool esc;
	if (string(s, &str, &n, &esc) != YES || esc || n >= size)
		return NO;
	memcpy(dst, str, n);
	dst[n] = '\0';
	return YES;
}

/* json_opt_int: an integer, else the default for any other type. */
static int opt_int(struct scan *s, int64_t *v, int64_t def)
{
	char c = peek(s);
	*v = def;
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(s, v);
	return skip_value(s);
}

static int opt_bool(struct scan *s, bool *v, bool def)
{
	char c = peek(s);
	*v = def;
	if (c == 't' && literal(s, "true") == YES) {
		*v = true;
		return YES;
	}
	if (c == 'f' && literal(s, "false") == YES) {
		*v = false;
		return YES;
	}
	return skip_value(s);
}

/* spec_str: null or missing → default; a string that fits → copied; else
 * cluster_parse fails, so step aside. */
static int spec_str(struct scan *s, char *dst, size_t size, bool *present)
{
	if (peek(s) == 'n') {
		if (present)
			*present = false;
		return literal(s, "null");
	}
	if (peek(s) != '"')
		return NO;
	if (present)
		*present = true;
	return opt_str_exact(s, dst, size);
}

/* ---- the EtcdCluster ------------------------------------------------------ */

static int64_t parse_target(const char *raw)
{
	if (!*raw || strlen(raw) > 18)
		return EC_TARGET_INVALID;
	int64_t v = 0;
	for (const char *p = raw; *p; p++) {
		if (*p < '0' || *p > '9')
			return EC_TARGET_INVALID;
		v = v * 10 + (*p - '0');
	}
	return v;
}

static int annotations(struct scan *s, struct etcd_cluster *c, struct policy_shape *sh)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	if (obj_open(s, &m) != YES)
		return NO;
	sh->ann_obj = true;
	while (obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (!key_is(k, n, EC_ANN_TARGET)) {
			if (skip_value(s) != YES)
				return NO;
			continue;
		}
		if (once(&seen, 1) != YES)
			return NO;
		if (peek(s) == 'n') { /* null: as if absent */
			if (literal(s, "null") != YES)
				return NO;
			continue;
		}
		sh->ann_key = true;
		char raw[64];
		if (opt_str_exact(s, raw, sizeof(raw)) != YES)
			return NO; /* a target that long is invalid anyway: let json-c say so */
		eo_strlcpy(c->target_raw, raw, sizeof(c->target_raw));
		c->target = parse_target(raw);
	}
	return NO;
}

static int metadata(struct scan *s, struct etcd_cluster *c, struct policy_shape *sh)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (obj_open(s, &m) != YES)
		return NO;
	sh->meta_obj = true;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "name"))
			rc = once(&seen, 1) && opt_str(s, c->name, sizeof(c->name));
		else if (key_is(k, n, "namespace"))
			rc = once(&seen, 2) && opt_str(s, c->namespace, sizeof(c->namespace));
		else if (key_is(k, n, "uid"))
			rc = once(&seen, 4) && opt_str(s, c->uid, sizeof(c->uid));
		else if (key_is(k, n, "resourceVersion"))
			rc = once(&seen, 8) &&
			     opt_str(s, c->resource_version, sizeof(c->resource_version));
		else if (key_is(k, n, "generation"))
			rc = once(&seen, 16) && opt_int(s, &c->generation, 0);
		else if (key_is(k, n, "deletionTimestamp")) {
			rc = once(&seen, 32);
			c->deleting = peek(s) != 'n';
			if (rc == YES)
				rc = skip_value(s);
		} else if (key_is(k, n, "annotations")) {
			rc = once(&seen, 64);
			if (rc == YES)
				rc = peek(s) == '{' ? annotations(s, c, sh) : skip_value(s);
		} else
			rc = skip_value(s);
	}
	return NO;
}

static int storage(struct scan *s, struct ec_spec *sp)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "size"))
			rc = once(&seen, 1) && spec_str(s, sp->storage_size, sizeof(sp->storage_size), NULL);
		else if (key_is(k, n, "storageClassName"))
			rc = once(&seen, 2) && spec_str(s, sp->storage_class, sizeof(sp->storage_class),
							&sp->storage_class_set);
		else
			rc = skip_value(s);
	}
	return NO;
}

static int spec(struct scan *s, struct ec_spec *sp, struct policy_shape *sh)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (obj_open(s, &m) != YES)
		return NO;
	sh->spec_obj = true;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "replicas")) {
			rc = once(&seen, 1);
			char c = peek(s);
			if (rc == YES && c == 'n') {
				rc = literal(s, "null");
			} else if (rc == YES) {
				if (c != '-' && (c < '0' || c > '9'))
					return NO; /* not an integer: cluster_parse's error */
				rc = number(s, &sp->replicas);
				sp->replicas_set = true;
				sh->spec_replicas = true;
			}
		} else if (key_is(k, n, "version"))
			rc = once(&seen, 2) && spec_str(s, sp->version, sizeof(sp->version), NULL);
		else if (key_is(k, n, "image"))
			rc = once(&seen, 4) && spec_str(s, sp->image, sizeof(sp->image), NULL);
		else if (key_is(k, n, "clusterDomain"))
			rc = once(&seen, 8) &&
			     spec_str(s, sp->cluster_domain, sizeof(sp->cluster_domain), NULL);
		else if (key_is(k, n, "storage")) {
			rc = once(&seen, 16);
			if (rc == YES && peek(s) == '{')
				rc = storage(s, sp);
			else if (rc == YES)
				rc = peek(s) == 'n' ? literal(s, "null") : NO;
		} else
			rc = skip_value(s);
	}
	return NO;
}

static int member(struct scan *s, struct ec_member *mb)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	memset(mb, 0, sizeof(*mb));
	if (peek(s) != '{')
		return skip_value(s); /* parse_member of a non-object: all defaults */
	if (obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "name"))
			rc = once(&seen, 1) && opt_str(s, mb->name, sizeof(mb->name));
		else if (key_is(k, n, "learner"))
			rc = once(&seen, 2) && opt_bool(s, &mb->learner, false);
		else if (key_is(k, n, "healthy"))
			rc = once(&seen, 4) && opt_bool(s, &mb->healthy, false);
		else if (key_is(k, n, "leader"))
			rc = once(&seen, 8) && opt_bool(s, &mb->leader, false);
		else
			rc = skip_value(s); /* the rules read no other member field */
	}
	return NO;
}

static int members(struct scan *s, struct ec_status *st)
{
	if (peek(s) != '[')
		return skip_value(s);
	if (++s->depth > MAX_DEPTH)
		return NO;
	s->p++;
	if (peek(s) == ']') {
		s->p++;
		s->depth--;
		return YES;
	}
	for (;;) {
		int rc = st->nmembers < EC_MAX_MEMBERS ? member(s, &st->members[st->nmembers++])
						       : skip_value(s);
		if (rc != YES)
			return NO;
		char c = peek(s);
		if (!c)
			return NO;
		s->p++;
		if (c == ']') {
			s->depth--;
			return YES;
		}
		if (c != ',')
			return NO;
	}
}

static int scaling(struct scan *s, struct ec_scaling *sc)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	int64_t v;
	if (obj_open(s, &m) != YES)
		return NO;
	sc->active = true;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "from")) {
			rc = once(&seen, 1) && opt_int(s, &v, 0);
			sc->from = (int)v;
		} else if (key_is(k, n, "to")) {
			rc = once(&seen, 2) && opt_int(s, &v, 0);
			sc->to = (int)v;
		} else if (key_is(k, n, "step"))
			rc = once(&seen, 4) && opt_str(s, sc->step, sizeof(sc->step));
		else
			rc = skip_value(s);
	}
	return NO;
}

static int status(struct scan *s, struct ec_status *st)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	int64_t v;
	char phase[16];
	if (peek(s) != '{')
		return skip_value(s); /* not an object: read as empty */
	if (obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "phase")) {
			rc = once(&seen, 1) && opt_str_exact(s, phase, sizeof(phase));
			st->phase = ec_phase_parse(phase);
		} else if (key_is(k, n, "observedGeneration")) {
			rc = once(&seen, 2) && opt_int(s, &st->observed_generation, 0);
		} else if (key_is(k, n, "replicas")) {
			rc = once(&seen, 4) && opt_int(s, &v, 0);
			st->replicas = (int)v;
		} else if (key_is(k, n, "readyReplicas")) {
			rc = once(&seen, 8) && opt_int(s, &v, 0);
			st->ready_replicas = (int)v;
		} else if (key_is(k, n, "learners")) {
			rc = once(&seen, 16) && opt_int(s, &v, 0);
			st->learners = (int)v;
		} else if (key_is(k, n, "members")) {
			rc = once(&seen, 32) && members(s, st);
		} else if (key_is(k, n, "scaling")) {
			rc = once(&seen, 64);
			if (rc == YES)
				rc = peek(s) == '{' ? scaling(s, &st->scaling) : skip_value(s);
		} else
			rc = skip_value(s); /* conditions and the rest: not read by the rules */
	}
	return NO;
}

static int cluster(struct scan *s, struct etcd_cluster *c, struct policy_shape *sh)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	char kind[32];
	/* Zero all but the member slots (10 KiB): each is zeroed when used. */
	size_t m0 = offsetof(struct etcd_cluster, status.members);
	size_t m1 = m0 + sizeof(c->status.members);
	memset(c, 0, m0);
	memset((char *)c + m1, 0, sizeof(*c) - m1);
	memset(sh, 0, sizeof(*sh));
	c->target = EC_TARGET_NONE;
	c->spec.replicas = EC_DEFAULT_REPLICAS;
	eo_strlcpy(c->spec.storage_size, EC_DEFAULT_STORAGE, sizeof(c->spec.storage_size));
	if (obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			break;
		if (key_is(k, n, "kind")) {
			rc = once(&seen, 1);
			if (rc == YES && peek(s) == '"') {
				rc = opt_str_exact(s, kind, sizeof(kind));
				if (rc == YES && strcmp(kind, EC_KIND) != 0)
					return NO; /* cluster_parse refuses it */
			} else if (rc == YES) {
				rc = skip_value(s);
			}
		} else if (key_is(k, n, "metadata")) {
			rc = once(&seen, 2);
			char c0 = peek(s);
			if (rc == YES)
				rc = c0 == '{' ? metadata(s, c, sh) : c0 == 'n' ? literal(s, "null") : NO;
		} else if (key_is(k, n, "spec")) {
			rc = once(&seen, 4);
			char c0 = peek(s);
			if (rc == YES)
				rc = c0 == '{' ? spec(s, &c->spec, sh) : c0 == 'n' ? literal(s, "null") : NO;
		} else if (key_is(k, n, "status")) {
			rc = once(&seen, 8) && status(s, &c->status);
		} else
			rc = skip_value(s);
	}
	if (rc != YES || !m.done)
		return NO;
	/* cluster_parse's defaults for what was absent, null or empty. */
	if (!c->spec.version[0])
		eo_strlcpy(c->spec.version, EC_DEFAULT_VERSION, sizeof(c->spec.version));
	if (!c->spec.cluster_domain[0])
		eo_strlcpy(c->spec.cluster_domain, EC_DEFAULT_DOMAIN, sizeof(c->spec.cluster_domain));
	return YES;
}

/* ---- the envelope --------------------------------------------------------- */

/* object / oldObject, decoded where they stand (an EtcdCluster is assumed:
 * the scale subresource, known only once the whole request is read, takes
 * the general path anyway). null means absent; another type steps aside. */
static int object(struct scan *s, struct etcd_cluster *c, struct policy_shape *sh, bool *has)
{
	char first = peek(s);
	*has = first == '{';
	if (first == 'n')
		return literal(s, "null");
	return first == '{' ? cluster(s, c, sh) : NO;
}

static int resource(struct scan *s, char *dst, size_t size)
{
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	dst[0] = '\0';
	if (peek(s) != '{')
		return skip_value(s);
	if (obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "resource"))
			rc = once(&seen, 1) && opt_str_exact(s, dst, size);
		else
			rc = skip_value(s);
	}
	return NO;
}

static int request(struct scan *s, struct review_fast *out, bool *has_uid, bool *has_op)
{
	struct policy_shape old_shape;
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (key_is(k, n, "uid")) {
			rc = once(&seen, 1);
			if (rc == YES && peek(s) != '"')
				return NO; /* the general path's 400 */
			rc = rc && opt_str_exact(s, out->uid, sizeof(out->uid));
			*has_uid = true;
		} else if (key_is(k, n, "operation")) {
			rc = once(&seen, 2);
			if (rc == YES && peek(s) != '"')
				return NO;
			rc = rc && opt_str(s, out->operation, sizeof(out->operation));
			*has_op = true;
		} else if (key_is(k, n, "subResource"))
			rc = once(&seen, 4) && opt_str(s, out->subresource, sizeof(out->subresource));
		else if (key_is(k, n, "namespace"))
			rc = once(&seen, 8) && opt_str(s, out->namespace, sizeof(out->namespace));
		else if (key_is(k, n, "name"))
			rc = once(&seen, 16) && opt_str(s, out->name, sizeof(out->name));
		else if (key_is(k, n, "resource"))
			rc = once(&seen, 32) && resource(s, out->resource, sizeof(out->resource));
		else if (key_is(k, n, "dryRun"))
			rc = once(&seen, 64) && opt_bool(s, &out->dry_run, false);
		else if (key_is(k, n, "object"))
			rc = once(&seen, 128) && object(s, &out->object, &out->shape, &out->has_object);
		else if (key_is(k, n, "oldObject"))
			rc = once(&seen, 256) && object(s, &out->old, &old_shape, &out->has_old);
		else
			rc = skip_value(s);
	}
	return NO;
}

int review_fast_decode(const char *body, size_t len, struct review_fast *out)
{
	struct scan s = {body, body + len, 0};
	struct members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	char kind[32] = "";
	bool has_req = false, has_uid = false, has_op = false;

	out->api_version[0] = out->uid[0] = out->operation[0] = out->subresource[0] = '\0';
	out->namespace[0] = out->name[0] = out->resource[0] = '\0';
	out->dry_run = out->has_object = out->has_old = false;
	memset(&out->shape, 0, sizeof(out->shape));
	if (obj_open(&s, &m) != YES)
		return NO;
	while (rc == YES && obj_next(&s, &m, &k, &n) == YES) {
		if (m.done)
			break;
		if (key_is(k, n, "kind")) {
			rc = once(&seen, 1) && opt_str_exact(&s, kind, sizeof(kind));
		} else if (key_is(k, n, "apiVersion")) {
			rc = once(&seen, 2) && opt_str_exact(&s, out->api_version,
							     sizeof(out->api_version));
		} else if (key_is(k, n, "request")) {
			rc = once(&seen, 4);
			if (rc == YES && peek(&s) != '{')
				return NO;
			rc = rc && request(&s, out, &has_uid, &has_op);
			has_req = true;
		} else
			rc = skip_value(&s);
	}
	if (rc != YES || !m.done)
		return NO;
	ws(&s);
	if (s.p != s.end)
		return NO; /* trailing bytes: the general path says what */

	/* What the fast path handles; the rest goes the general way. */
	if (strcmp(kind, "AdmissionReview") != 0 || !has_req || !has_uid || !has_op)
		return NO;
	if (out->api_version[0] && strcmp(out->api_version, "admission.k8s.io/v1") != 0 &&
	    strcmp(out->api_version, "admission.k8s.io/v1beta1") != 0)
		return NO;
	if (out->subresource[0] || (out->resource[0] && strcmp(out->resource, EC_PLURAL) != 0))
		return NO;
	bool create = strcmp(out->operation, "CREATE") == 0;
	bool update = strcmp(out->operation, "UPDATE") == 0;
	bool del = strcmp(out->operation, "DELETE") == 0;
	if (!create && !update && !del)
		return NO;

	if ((!del && !out->has_object) || (update && !out->has_old))
		return NO; /* a missing object: the general path words it */
	return YES;
}
