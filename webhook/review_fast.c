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
#include <string.h>

#include "jscan.h"

enum { YES = JSCAN_YES, NO = JSCAN_NO };

/* spec_str: null or missing → default; a string that fits → copied; else
 * cluster_parse fails, so step aside. */
static int spec_str(struct jscan *s, char *dst, size_t size, bool *present)
{
	if (jscan_peek(s) == 'n') {
		if (present)
			*present = false;
		return jscan_literal(s, "null");
	}
	if (jscan_peek(s) != '"')
		return NO;
	if (present)
		*present = true;
	return jscan_opt_str_exact(s, dst, size);
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

static int annotations(struct jscan *s, struct etcd_cluster *c, struct policy_shape *sh)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	sh->ann_obj = true;
	while (jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (!jscan_key_is(k, n, EC_ANN_TARGET)) {
			if (jscan_skip(s) != YES)
				return NO;
			continue;
		}
		if (jscan_once(&seen, 1) != YES)
			return NO;
		if (jscan_peek(s) == 'n') { /* null: as if absent */
			if (jscan_literal(s, "null") != YES)
				return NO;
			continue;
		}
		sh->ann_key = true;
		char raw[64];
		if (jscan_opt_str_exact(s, raw, sizeof(raw)) != YES)
			return NO; /* a target that long is invalid anyway: let json-c say so */
		eo_strlcpy(c->target_raw, raw, sizeof(c->target_raw));
		c->target = parse_target(raw);
	}
	return NO;
}

static int metadata(struct jscan *s, struct etcd_cluster *c, struct policy_shape *sh)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	sh->meta_obj = true;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "name"))
			rc = jscan_once(&seen, 1) && jscan_opt_str(s, c->name, sizeof(c->name));
		else if (jscan_key_is(k, n, "namespace"))
			rc = jscan_once(&seen, 2) && jscan_opt_str(s, c->namespace, sizeof(c->namespace));
		else if (jscan_key_is(k, n, "uid"))
			rc = jscan_once(&seen, 4) && jscan_opt_str(s, c->uid, sizeof(c->uid));
		else if (jscan_key_is(k, n, "resourceVersion"))
			rc = jscan_once(&seen, 8) &&
			     jscan_opt_str(s, c->resource_version, sizeof(c->resource_version));
		else if (jscan_key_is(k, n, "generation"))
			rc = jscan_once(&seen, 16) && jscan_opt_int(s, &c->generation, 0);
		else if (jscan_key_is(k, n, "deletionTimestamp")) {
			rc = jscan_once(&seen, 32);
			c->deleting = jscan_peek(s) != 'n';
			if (rc == YES)
				rc = jscan_skip(s);
		} else if (jscan_key_is(k, n, "annotations")) {
			rc = jscan_once(&seen, 64);
			if (rc == YES)
				rc = jscan_peek(s) == '{' ? annotations(s, c, sh) : jscan_skip(s);
		} else
			rc = jscan_skip(s);
	}
	return NO;
}

static int storage(struct jscan *s, struct ec_spec *sp)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "size"))
			rc = jscan_once(&seen, 1) && spec_str(s, sp->storage_size, sizeof(sp->storage_size), NULL);
		else if (jscan_key_is(k, n, "storageClassName"))
			rc = jscan_once(&seen, 2) && spec_str(s, sp->storage_class, sizeof(sp->storage_class),
							&sp->storage_class_set);
		else
			rc = jscan_skip(s);
	}
	return NO;
}

static int spec(struct jscan *s, struct ec_spec *sp, struct policy_shape *sh)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	sh->spec_obj = true;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "replicas")) {
			rc = jscan_once(&seen, 1);
			char c = jscan_peek(s);
			if (rc == YES && c == 'n') {
				rc = jscan_literal(s, "null");
			} else if (rc == YES) {
				if (c != '-' && (c < '0' || c > '9'))
					return NO; /* not an integer: cluster_parse's error */
				rc = jscan_number(s, &sp->replicas);
				sp->replicas_set = true;
				sh->spec_replicas = true;
			}
		} else if (jscan_key_is(k, n, "version"))
			rc = jscan_once(&seen, 2) && spec_str(s, sp->version, sizeof(sp->version), NULL);
		else if (jscan_key_is(k, n, "image"))
			rc = jscan_once(&seen, 4) && spec_str(s, sp->image, sizeof(sp->image), NULL);
		else if (jscan_key_is(k, n, "clusterDomain"))
			rc = jscan_once(&seen, 8) &&
			     spec_str(s, sp->cluster_domain, sizeof(sp->cluster_domain), NULL);
		else if (jscan_key_is(k, n, "storage")) {
			rc = jscan_once(&seen, 16);
			if (rc == YES && jscan_peek(s) == '{')
				rc = storage(s, sp);
			else if (rc == YES)
				rc = jscan_peek(s) == 'n' ? jscan_literal(s, "null") : NO;
		} else
			rc = jscan_skip(s);
	}
	return NO;
}

static int member(struct jscan *s, struct ec_member *mb)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	memset(mb, 0, sizeof(*mb));
	if (jscan_peek(s) != '{')
		return jscan_skip(s); /* parse_member of a non-object: all defaults */
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "name"))
			rc = jscan_once(&seen, 1) && jscan_opt_str(s, mb->name, sizeof(mb->name));
		else if (jscan_key_is(k, n, "learner"))
			rc = jscan_once(&seen, 2) && jscan_opt_bool(s, &mb->learner, false);
		else if (jscan_key_is(k, n, "healthy"))
			rc = jscan_once(&seen, 4) && jscan_opt_bool(s, &mb->healthy, false);
		else if (jscan_key_is(k, n, "leader"))
			rc = jscan_once(&seen, 8) && jscan_opt_bool(s, &mb->leader, false);
		else
			rc = jscan_skip(s); /* the rules read no other member field */
	}
	return NO;
}

static int members(struct jscan *s, struct ec_status *st)
{
	if (jscan_peek(s) != '[')
		return jscan_skip(s);
	if (++s->depth > JSCAN_MAX_DEPTH)
		return NO;
	s->p++;
	if (jscan_peek(s) == ']') {
		s->p++;
		s->depth--;
		return YES;
	}
	for (;;) {
		int rc = st->nmembers < EC_MAX_MEMBERS ? member(s, &st->members[st->nmembers++])
						       : jscan_skip(s);
		if (rc != YES)
			return NO;
		char c = jscan_peek(s);
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

static int scaling(struct jscan *s, struct ec_scaling *sc)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	int64_t v;
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	sc->active = true;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "from")) {
			rc = jscan_once(&seen, 1) && jscan_opt_int(s, &v, 0);
			sc->from = (int)v;
		} else if (jscan_key_is(k, n, "to")) {
			rc = jscan_once(&seen, 2) && jscan_opt_int(s, &v, 0);
			sc->to = (int)v;
		} else if (jscan_key_is(k, n, "step"))
			rc = jscan_once(&seen, 4) && jscan_opt_str(s, sc->step, sizeof(sc->step));
		else
			rc = jscan_skip(s);
	}
	return NO;
}

static int status(struct jscan *s, struct ec_status *st)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	int64_t v;
	char phase[16];
	if (jscan_peek(s) != '{')
		return jscan_skip(s); /* not an object: read as empty */
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "phase")) {
			rc = jscan_once(&seen, 1) && jscan_opt_str_exact(s, phase, sizeof(phase));
			st->phase = ec_phase_parse(phase);
		} else if (jscan_key_is(k, n, "observedGeneration")) {
			rc = jscan_once(&seen, 2) && jscan_opt_int(s, &st->observed_generation, 0);
		} else if (jscan_key_is(k, n, "replicas")) {
			rc = jscan_once(&seen, 4) && jscan_opt_int(s, &v, 0);
			st->replicas = (int)v;
		} else if (jscan_key_is(k, n, "readyReplicas")) {
			rc = jscan_once(&seen, 8) && jscan_opt_int(s, &v, 0);
			st->ready_replicas = (int)v;
		} else if (jscan_key_is(k, n, "learners")) {
			rc = jscan_once(&seen, 16) && jscan_opt_int(s, &v, 0);
			st->learners = (int)v;
		} else if (jscan_key_is(k, n, "members")) {
			rc = jscan_once(&seen, 32) && members(s, st);
		} else if (jscan_key_is(k, n, "scaling")) {
			rc = jscan_once(&seen, 64);
			if (rc == YES)
				rc = jscan_peek(s) == '{' ? scaling(s, &st->scaling) : jscan_skip(s);
		} else
			rc = jscan_skip(s); /* conditions and the rest: not read by the rules */
	}
	return NO;
}

static int cluster(struct jscan *s, struct etcd_cluster *c, struct policy_shape *sh)
{
	struct jscan_members m;
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
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			break;
		if (jscan_key_is(k, n, "kind")) {
			rc = jscan_once(&seen, 1);
			if (rc == YES && jscan_peek(s) == '"') {
				rc = jscan_opt_str_exact(s, kind, sizeof(kind));
				if (rc == YES && strcmp(kind, EC_KIND) != 0)
					return NO; /* cluster_parse refuses it */
			} else if (rc == YES) {
				rc = jscan_skip(s);
			}
		} else if (jscan_key_is(k, n, "metadata")) {
			rc = jscan_once(&seen, 2);
			char c0 = jscan_peek(s);
			if (rc == YES)
				rc = c0 == '{' ? metadata(s, c, sh) : c0 == 'n' ? jscan_literal(s, "null") : NO;
		} else if (jscan_key_is(k, n, "spec")) {
			rc = jscan_once(&seen, 4);
			char c0 = jscan_peek(s);
			if (rc == YES)
				rc = c0 == '{' ? spec(s, &c->spec, sh) : c0 == 'n' ? jscan_literal(s, "null") : NO;
		} else if (jscan_key_is(k, n, "status")) {
			rc = jscan_once(&seen, 8) && status(s, &c->status);
		} else
			rc = jscan_skip(s);
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
static int object(struct jscan *s, struct etcd_cluster *c, struct policy_shape *sh, bool *has)
{
	char first = jscan_peek(s);
	*has = first == '{';
	if (first == 'n')
		return jscan_literal(s, "null");
	return first == '{' ? cluster(s, c, sh) : NO;
}

static int resource(struct jscan *s, char *dst, size_t size)
{
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	dst[0] = '\0';
	if (jscan_peek(s) != '{')
		return jscan_skip(s);
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "resource"))
			rc = jscan_once(&seen, 1) && jscan_opt_str_exact(s, dst, size);
		else
			rc = jscan_skip(s);
	}
	return NO;
}

static int request(struct jscan *s, struct review_fast *out, bool *has_uid, bool *has_op)
{
	struct policy_shape old_shape;
	struct jscan_members m;
	const char *k;
	size_t n;
	unsigned seen = 0;
	int rc = YES;
	if (jscan_obj_open(s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(s, &m, &k, &n) == YES) {
		if (m.done)
			return YES;
		if (jscan_key_is(k, n, "uid")) {
			rc = jscan_once(&seen, 1);
			if (rc == YES && jscan_peek(s) != '"')
				return NO; /* the general path's 400 */
			rc = rc && jscan_opt_str_exact(s, out->uid, sizeof(out->uid));
			*has_uid = true;
		} else if (jscan_key_is(k, n, "operation")) {
			rc = jscan_once(&seen, 2);
			if (rc == YES && jscan_peek(s) != '"')
				return NO;
			rc = rc && jscan_opt_str(s, out->operation, sizeof(out->operation));
			*has_op = true;
		} else if (jscan_key_is(k, n, "subResource"))
			rc = jscan_once(&seen, 4) && jscan_opt_str(s, out->subresource, sizeof(out->subresource));
		else if (jscan_key_is(k, n, "namespace"))
			rc = jscan_once(&seen, 8) && jscan_opt_str(s, out->namespace, sizeof(out->namespace));
		else if (jscan_key_is(k, n, "name"))
			rc = jscan_once(&seen, 16) && jscan_opt_str(s, out->name, sizeof(out->name));
		else if (jscan_key_is(k, n, "resource"))
			rc = jscan_once(&seen, 32) && resource(s, out->resource, sizeof(out->resource));
		else if (jscan_key_is(k, n, "dryRun"))
			rc = jscan_once(&seen, 64) && jscan_opt_bool(s, &out->dry_run, false);
		else if (jscan_key_is(k, n, "object"))
			rc = jscan_once(&seen, 128) && object(s, &out->object, &out->shape, &out->has_object);
		else if (jscan_key_is(k, n, "oldObject"))
			rc = jscan_once(&seen, 256) && object(s, &out->old, &old_shape, &out->has_old);
		else
			rc = jscan_skip(s);
	}
	return NO;
}

int review_fast_decode(const char *body, size_t len, struct review_fast *out)
{
	struct jscan s = {body, body + len, 0};
	struct jscan_members m;
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
	if (jscan_obj_open(&s, &m) != YES)
		return NO;
	while (rc == YES && jscan_obj_next(&s, &m, &k, &n) == YES) {
		if (m.done)
			break;
		if (jscan_key_is(k, n, "kind")) {
			rc = jscan_once(&seen, 1) && jscan_opt_str_exact(&s, kind, sizeof(kind));
		} else if (jscan_key_is(k, n, "apiVersion")) {
			rc = jscan_once(&seen, 2) && jscan_opt_str_exact(&s, out->api_version,
							     sizeof(out->api_version));
		} else if (jscan_key_is(k, n, "request")) {
			rc = jscan_once(&seen, 4);
			if (rc == YES && jscan_peek(&s) != '{')
				return NO;
			rc = rc && request(&s, out, &has_uid, &has_op);
			has_req = true;
		} else
			rc = jscan_skip(&s);
	}
	if (rc != YES || !m.done)
		return NO;
	jscan_ws(&s);
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
