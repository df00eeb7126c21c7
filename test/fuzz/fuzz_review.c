/*
 * fuzz_review.c — libFuzzer target over the webhook's request decoder and
 * the admission rules.
 *
 * The first byte picks a mode:
 *   0 (even) — the bytes after it are a request body for POST /mutate;
 *   1 (odd, < 0x80) — the same for POST /validate;
 *   ≥ 0x80 — the bytes are a compact description of an old and a new
 *            EtcdCluster; the rules run on them and their promises are
 *            checked: a refusal always has a reason, warnings fit 120 bytes,
 *            the mutation moves spec.replicas by at most one, and mutating
 *            the mutated object changes nothing (re-invocation).
 * A broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../webhook/review.h"
#include "cluster.h"
#include "json.h"
#include "policy.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "broken promise: %s\n", what);
		abort();
	}
}

static void check_decision(const struct policy_decision *d)
{
	check(d->nwarnings >= 0 && d->nwarnings <= POLICY_MAX_WARNINGS, "warning count");
	for (int i = 0; i < d->nwarnings; i++)
		check(strlen(d->warnings[i]) <= POLICY_WARNING_MAX, "warning over 120 bytes");
	check(d->allowed || d->reason[0], "refusal without a reason");
	check(strlen(d->reason) < sizeof(d->reason), "reason unterminated");
}

/* Fill a cluster from bytes: replicas, target, status fields, members. */
static void cluster_from(const uint8_t *p, size_t n, struct etcd_cluster *c)
{
	uint8_t b[24] = {0};
	memcpy(b, p, n < sizeof(b) ? n : sizeof(b));
	memset(c, 0, sizeof(*c));
	strcpy(c->name, "demo");
	strcpy(c->namespace, "default");
	c->generation = b[0] % 4;
	c->spec.replicas = (int8_t)b[1] % 12; /* negatives and out-of-range included */
	if (b[2] & 0x80)
		c->spec.replicas = (int64_t)b[2] << 40; /* huge */
	c->target = b[3] % 3 == 0 ? EC_TARGET_NONE : b[3] % 3 == 1 ? EC_TARGET_INVALID : b[4] % 12;
	snprintf(c->target_raw, sizeof(c->target_raw), "%lld", (long long)c->target);
	static const char *versions[] = {"3.4.23", "3.5.17", "3.5.18", "3.6.0", "3.7.1", "v3.5.17", "x"};
	strcpy(c->spec.version, versions[b[5] % 7]);
	strcpy(c->spec.cluster_domain, b[6] & 1 ? "cluster.local" : "example.org");
	c->spec.storage_class_set = b[6] & 2;
	strcpy(c->spec.storage_class, b[6] & 4 ? "fast" : "");
	c->status.phase = (enum ec_phase)(b[7] % 6);
	c->status.observed_generation = b[8] % 4;
	c->status.replicas = b[9] % 11;
	c->status.ready_replicas = b[10] % 11;
	c->status.scaling.active = b[11] & 1;
	c->status.scaling.from = b[12] % 11;
	c->status.scaling.to = b[13] % 11;
	c->status.nmembers = b[14] % 10;
	for (int i = 0; i < c->status.nmembers; i++) {
		struct ec_member *m = &c->status.members[i];
		uint8_t bits = b[15 + i % 9];
		snprintf(m->name, sizeof(m->name), bits & 1 ? "demo-%d" : "weird%d", i);
		m->learner = bits & 2;
		m->healthy = bits & 4;
	}
}

static void rules(const uint8_t *data, size_t size)
{
	struct etcd_cluster o, n, m;
	cluster_from(data, size, &o);
	cluster_from(size > 24 ? data + 24 : data, size > 24 ? size - 24 : 0, &n);
	enum policy_op op = (enum policy_op)(data[0] % 3);
	struct policy_request r = {.op = op, .old = op == POLICY_CREATE ? NULL : &o,
				   .new = op == POLICY_DELETE ? NULL : &n,
				   .scale_subresource = size > 48 && (data[48] & 1)};
	struct policy_decision d;
	policy_admit(&r, &d, &m);
	check_decision(&d);
	if (op == POLICY_DELETE)
		check(d.allowed, "DELETE refused");
	if (op == POLICY_DELETE || d.patch_replicas + d.patch_target + d.drop_target == 0)
		return;
	/* The mutation stays one member from the old size (CREATE: it is 1). */
	int64_t from = op == POLICY_CREATE ? 0 : o.spec.replicas;
	if (d.patch_replicas && from >= EC_MIN_REPLICAS && from <= EC_MAX_REPLICAS)
		check(d.replicas - from <= 1 && from - d.replicas <= 1, "mutation moved by more than one");
	/* Re-invocation: mutating the mutated object changes nothing. */
	struct policy_request again = r;
	again.new = &m;
	struct policy_decision d2;
	policy_mutate(&again, &d2);
	check(!d2.patch_replicas && !d2.patch_target && !d2.drop_target, "mutation not idempotent");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] >= 0x80) {
		if (size > 1)
			rules(data + 1, size - 1);
		return 0;
	}
	enum review_endpoint ep = data[0] % 2 ? REVIEW_VALIDATE : REVIEW_MUTATE;
	struct review_result r;
	review_handle(ep, (const char *)data + 1, size - 1, &r);
	check(r.http_status == 200 || r.http_status == 400, "status neither 200 nor 400");
	if (r.http_status == 200) {
		/* A 200 reply is always a JSON AdmissionReview with the uid echoed. */
		struct eo_err err;
		json_object *j = json_parse(r.body.data, r.body.len, &err);
		check(j != NULL, "reply is not JSON");
		check(json_at(j, "response.uid") != NULL, "reply without a uid");
		check(json_at(j, "response.allowed") != NULL, "reply without allowed");
		json_object_put(j);
	}
	review_result_free(&r);
	return 0;
}
