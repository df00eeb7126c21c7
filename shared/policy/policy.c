/*
 * policy.c — the scaling arithmetic shared by the admission halves: what
 * "settled" means, where a cancelled step returns to, the one-at-a-time plan
 * and its short text, and how a decision is applied (to the parsed view, or
 * as a JSON Patch against the object as received).
 *
 * The mutating half lives in policy_mutate.c, the validating half in
 * policy_validate.c; this file holds what both and their callers need.
 * Everything here is pure: values in, values out.
 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "jsonpatch.h"
#include "policy_impl.h"

bool policy_settled(const struct etcd_cluster *c)
{
	return c->status.observed_generation == c->generation &&
	       c->status.phase == EC_RUNNING &&
	       (int64_t)c->status.ready_replicas == c->spec.replicas;
}

int64_t policy_settled_size(const struct etcd_cluster *c)
{
	if (policy_settled(c))
		return c->spec.replicas;
	if (c->status.scaling.active && c->status.scaling.from >= EC_MIN_REPLICAS &&
	    c->status.scaling.from <= EC_MAX_REPLICAS)
		return c->status.scaling.from;
	if (c->status.replicas >= EC_MIN_REPLICAS && c->status.replicas <= EC_MAX_REPLICAS)
		return c->status.replicas;
	return c->spec.replicas;
}

int64_t policy_current_size(const struct etcd_cluster *old)
{
	if (policy_in_range(old->spec.replicas))
		return old->spec.replicas;
	if (policy_in_range(old->status.replicas))
		return old->status.replicas;
	return EC_MIN_REPLICAS;
}

/* Cut s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
	size_t len = strlen(s);
	if (len <= max)
		return;
	size_t i = max;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	s[i] = '\0';
}

void policy_warn(struct policy_decision *d, const char *fmt, ...)
{
	if (d->nwarnings >= POLICY_MAX_WARNINGS)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	utf8_cut(buf, POLICY_WARNING_MAX);
	for (int i = 0; i < d->nwarnings; i++)
		if (strcmp(d->warnings[i], buf) == 0)
			return;
	memcpy(d->warnings[d->nwarnings++], buf, strlen(buf) + 1);
}

void policy_refuse(struct policy_decision *d, const char *fmt, ...)
{
	if (!d->allowed)
		return;
	d->allowed = false;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	utf8_cut(d->reason, sizeof(d->reason) - 1);
}

void policy_unsettled_why(const struct etcd_cluster *c, char *out, size_t size)
{
	const struct ec_status *st = &c->status;
	if (st->scaling.active && st->scaling.from != st->scaling.to)
		snprintf(out, size, "a step %d \xe2\x86\x92 %d is in flight", st->scaling.from,
			 st->scaling.to);
	else if (st->phase == EC_PHASE_UNSET)
		snprintf(out, size, "the operator has not reported its status yet");
	else if (st->observed_generation != c->generation)
		snprintf(out, size,
			 "the operator has not acted on the last change yet (generation %lld, "
			 "observed %lld)",
			 (long long)c->generation, (long long)st->observed_generation);
	else if (st->phase == EC_UPGRADING)
		snprintf(out, size, "an upgrade to %s is rolling through the members, one at a "
			 "time (status.version %s until every member runs it)", c->spec.version,
			 st->version[0] ? st->version : "unknown");
	else if (st->phase != EC_RUNNING)
		snprintf(out, size, "status.phase is %s, %d of %lld members ready",
			 ec_phase_name(st->phase), st->ready_replicas, (long long)c->spec.replicas);
	else
		snprintf(out, size, "%d of %lld members are ready", st->ready_replicas,
			 (long long)c->spec.replicas);
}

int policy_plan(int64_t from, int64_t to, struct policy_step *steps, int max)
{
	if (from < 0 || to < 0 || from > INT32_MAX || to > INT32_MAX)
		return -1;
	int dir = to > from ? 1 : -1;
	int total = (int)(to > from ? to - from : from - to);
	for (int i = 0; i < total && i < max; i++) {
		int a = (int)from + dir * i, b = a + dir;
		steps[i] = (struct policy_step){a, b, ec_quorum(b), ec_tolerance(b)};
	}
	return total;
}

#define ARROW " \xe2\x86\x92 " /* " → " */

int policy_staged_path(int64_t from, int64_t to, char *out, size_t size)
{
	if (!out || size == 0)
		return -1;
	int64_t dir = to >= from ? 1 : -1;
	/* The distance as unsigned: to - from may not fit an int64. */
	uint64_t dist = to >= from ? (uint64_t)to - (uint64_t)from : (uint64_t)from - (uint64_t)to;
	size_t len = 0;
	int n;
	out[0] = '\0';
#define PUT(...)                                                                         \
	do {                                                                             \
		n = snprintf(out + len, size - len, __VA_ARGS__);                        \
		if (n < 0 || (size_t)n >= size - len)                                    \
			return -1;                                                       \
		len += (size_t)n;                                                        \
	} while (0)
	PUT("%lld", (long long)from);
	if (dist <= 4) {
		for (uint64_t i = 1; i <= dist; i++)
			PUT(ARROW "%lld", (long long)(from + dir * (int64_t)i));
	} else {
		PUT(ARROW "%lld" ARROW "\xe2\x80\xa6" ARROW "%lld", (long long)(from + dir),
		    (long long)to);
	}
#undef PUT
	return (int)len;
}

void policy_apply(const struct policy_decision *d, struct etcd_cluster *c)
{
	if (d->patch_replicas) {
		c->spec.replicas = d->replicas;
		c->spec.replicas_set = true;
	}
	if (d->patch_target) {
		c->target = d->target;
		snprintf(c->target_raw, sizeof(c->target_raw), "%lld", (long long)d->target);
	} else if (d->drop_target) {
		c->target = EC_TARGET_NONE;
		c->target_raw[0] = '\0';
	}
}

void policy_admit(const struct policy_request *req, struct policy_decision *d,
		  struct etcd_cluster *mutated)
{
	policy_mutate(req, d);
	if (!req->new) {
		policy_validate(req, d);
		return;
	}
	struct etcd_cluster copy = *req->new;
	policy_apply(d, &copy);
	struct policy_request r = *req;
	r.new = &copy;
	policy_validate(&r, d);
	if (mutated)
		*mutated = copy;
}

static bool is_obj(json_object *o)
{
	return o && json_object_is_type(o, json_type_object);
}

/* What a JSON Patch against an object needs to know of it: which members
 * exist (non-null). */
struct policy_shape {
	bool spec_obj;      /* spec is an object */
	bool spec_replicas; /* … holding replicas */
	bool meta_obj;      /* metadata is an object */
	bool ann_obj;       /* metadata.annotations is an object */
	bool ann_key;       /* … holding the target annotation */
};

static void shape_of(json_object *obj, struct policy_shape *out)
{
	memset(out, 0, sizeof(*out));
	json_object *spec = json_at(obj, "spec");
	json_object *meta = json_at(obj, "metadata");
	json_object *ann = is_obj(meta) ? json_at(meta, "annotations") : NULL;
	out->spec_obj = is_obj(spec);
	out->spec_replicas = out->spec_obj && json_at(spec, "replicas") != NULL;
	out->meta_obj = is_obj(meta);
	out->ann_obj = is_obj(ann);
	out->ann_key = out->ann_obj && json_at(ann, "[" EC_ANN_TARGET "]") != NULL;
}

static int patch_for_shape(const struct policy_decision *d, const struct policy_shape *s,
			   struct eo_buf *out)
{
	char num[32], val[128];
	if (d->patch_replicas) {
		snprintf(num, sizeof(num), "%lld", (long long)d->replicas);
		if (s->spec_obj) {
			const char *const p[] = {"spec", "replicas"};
			if (jsonpatch_op(out, s->spec_replicas ? "replace" : "add", p, 2, num) != 0)
				return -1;
		} else {
			/* "add" also replaces a member that is there (RFC 6902 §4.1). */
			const char *const p[] = {"spec"};
			snprintf(val, sizeof(val), "{\"replicas\":%s}", num);
			if (jsonpatch_op(out, "add", p, 1, val) != 0)
				return -1;
		}
	}

	if (d->patch_target) {
		snprintf(num, sizeof(num), "\"%lld\"", (long long)d->target);
		if (s->ann_obj) {
			const char *const p[] = {"metadata", "annotations", EC_ANN_TARGET};
			if (jsonpatch_op(out, s->ann_key ? "replace" : "add", p, 3, num) != 0)
				return -1;
		} else if (s->meta_obj) {
			/* No map yet, or null: adding under it would fail; add the map. */
			const char *const p[] = {"metadata", "annotations"};
			snprintf(val, sizeof(val), "{\"" EC_ANN_TARGET "\":%s}", num);
			if (jsonpatch_op(out, "add", p, 2, val) != 0)
				return -1;
		} else {
			const char *const p[] = {"metadata"};
			snprintf(val, sizeof(val), "{\"annotations\":{\"" EC_ANN_TARGET "\":%s}}",
				 num);
			if (jsonpatch_op(out, "add", p, 1, val) != 0)
				return -1;
		}
	} else if (d->drop_target && s->ann_key) {
		const char *const p[] = {"metadata", "annotations", EC_ANN_TARGET};
		if (jsonpatch_op(out, "remove", p, 3, NULL) != 0)
			return -1;
	}
	if (out->len > 0 && jsonpatch_finish(out) != 0)
		return -1;
	return 0;
}

int policy_patch(const struct policy_decision *d, json_object *obj, struct eo_buf *out)
{
	struct policy_shape s;
	shape_of(obj, &s);
	return patch_for_shape(d, &s, out);
}

int policy_from_scale(json_object *scale, struct etcd_cluster *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	out->target = EC_TARGET_NONE;
	if (!is_obj(scale))
		return eo_err_set(err, EO_EPARSE, "object: expected an autoscaling/v1 Scale, got %s",
				  scale ? json_type_label(scale) : "nothing");
	const char *kind = json_opt_str(scale, "kind", NULL);
	if (kind && strcmp(kind, "Scale") != 0)
		return eo_err_set(err, EO_EPARSE, "kind: expected Scale, got \"%s\"", kind);
	eo_strlcpy(out->name, json_opt_str(scale, "metadata.name", ""), sizeof(out->name));
	eo_strlcpy(out->namespace, json_opt_str(scale, "metadata.namespace", ""),
		   sizeof(out->namespace));
	eo_strlcpy(out->uid, json_opt_str(scale, "metadata.uid", ""), sizeof(out->uid));
	/* ScaleSpec.replicas is omitempty in Go: absent means 0. */
	json_object *spec = json_at(scale, "spec");
	if (spec && !is_obj(spec) && !json_object_is_type(spec, json_type_null))
		return eo_err_set(err, EO_EPARSE, "spec: expected an object, got %s",
				  json_type_label(spec));
	json_object *rep = json_at(scale, "spec.replicas");
	if (rep && !json_object_is_type(rep, json_type_null)) {
		if (json_get_int(scale, "spec.replicas", &out->spec.replicas, err) != 0)
			return -1;
		out->spec.replicas_set = true;
	}
	json_object *st = json_at(scale, "status.replicas");
	if (st && json_object_is_type(st, json_type_int)) {
		int64_t v = json_object_get_int64(st);
		out->status.replicas = v < 0 || v > INT32_MAX ? 0 : (int)v;
	}
	eo_strlcpy(out->spec.version, EC_DEFAULT_VERSION, sizeof(out->spec.version));
	eo_strlcpy(out->spec.storage_size, EC_DEFAULT_STORAGE, sizeof(out->spec.storage_size));
	eo_strlcpy(out->spec.cluster_domain, EC_DEFAULT_DOMAIN, sizeof(out->spec.cluster_domain));
	eo_strlcpy(out->spec.maint.compaction_mode_raw, "Periodic", sizeof(out->spec.maint.compaction_mode_raw));
	eo_strlcpy(out->spec.maint.compaction_retention, EC_DEFAULT_COMPACTION_RETENTION,
		   sizeof(out->spec.maint.compaction_retention));
	eo_strlcpy(out->spec.maint.quota_raw, EC_DEFAULT_QUOTA, sizeof(out->spec.maint.quota_raw));
	out->spec.maint.quota_bytes = EC_DEFAULT_QUOTA_BYTES;
	out->spec.maint.defrag_threshold = EC_DEFAULT_DEFRAG_THRESHOLD;
	return 0;
}
