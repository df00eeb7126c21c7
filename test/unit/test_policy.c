/* Unit tests for the admission rules (shared/policy/): every rule, the edges of settled / in flight /
 * cancel, re-invocation idempotence over every size, the staged path text.
 * The JSON Patch side is in test_jsonpatch.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "policy.h"

/* A settled cluster "demo" of n healthy voters, generation 4, 3.5.17. */
static struct etcd_cluster settled(int64_t n)
{
	struct etcd_cluster c;
	memset(&c, 0, sizeof(c));
	strcpy(c.name, "demo");
	strcpy(c.namespace, "default");
	c.generation = 4;
	c.target = EC_TARGET_NONE;
	c.spec.replicas = n;
	c.spec.replicas_set = true;
	strcpy(c.spec.version, "3.5.17");
	strcpy(c.spec.storage_size, "1Gi");
	strcpy(c.spec.cluster_domain, "cluster.local");
	c.status.phase = EC_RUNNING;
	c.status.observed_generation = 4;
	c.status.replicas = (int)n;
	c.status.ready_replicas = (int)n;
	for (int i = 0; i < n && i < EC_MAX_MEMBERS; i++) {
		struct ec_member *m = &c.status.members[c.status.nmembers++];
		snprintf(m->name, sizeof(m->name), "demo-%d", i);
		m->healthy = true;
		m->leader = i == 0;
	}
	return c;
}

/* A cluster whose spec moved from `from` to `to` and whose step is in flight. */
static struct etcd_cluster in_flight(int from, int to)
{
	struct etcd_cluster c = settled(from);
	c.spec.replicas = to;
	c.generation = 5;
	c.status.phase = EC_SCALING;
	c.status.scaling.active = true;
	c.status.scaling.from = from;
	c.status.scaling.to = to;
	strcpy(c.status.scaling.step, EC_STEP_CATCH_UP);
	if (to > from) { /* the new member is a learner so far */
		struct ec_member *m = &c.status.members[c.status.nmembers++];
		snprintf(m->name, sizeof(m->name), "demo-%d", from);
		m->learner = true;
		m->healthy = true;
	}
	return c;
}

static void with_target(struct etcd_cluster *c, int64_t t)
{
	c->target = t;
	snprintf(c->target_raw, sizeof(c->target_raw), "%lld", (long long)t);
}

static struct policy_decision run_mutate(enum policy_op op, const struct etcd_cluster *o,
					 const struct etcd_cluster *n)
{
	struct policy_request r = {.op = op, .old = o, .new = n};
	struct policy_decision d;
	policy_mutate(&r, &d);
	return d;
}

static struct policy_decision run_validate(enum policy_op op, const struct etcd_cluster *o,
					   const struct etcd_cluster *n)
{
	struct policy_request r = {.op = op, .old = o, .new = n};
	struct policy_decision d;
	memset(&d, 0, sizeof(d));
	policy_validate(&r, &d);
	return d;
}

static struct policy_decision run_admit(enum policy_op op, const struct etcd_cluster *o,
					const struct etcd_cluster *n, struct etcd_cluster *out)
{
	struct policy_request r = {.op = op, .old = o, .new = n};
	struct policy_decision d;
	policy_admit(&r, &d, out);
	return d;
}

static bool has_warning(const struct policy_decision *d, const char *needle)
{
	for (int i = 0; i < d->nwarnings; i++)
		if (strstr(d->warnings[i], needle))
			return true;
	return false;
}

/* ---- settled ------------------------------------------------------------ */

static void test_settled_edges(void **state)
{
	struct etcd_cluster c = settled(3);
	assert_true(policy_settled(&c));
	assert_int_equal(policy_settled_size(&c), 3);
	c.status.observed_generation = 3;
	assert_false(policy_settled(&c));
	c = settled(3);
	c.status.phase = EC_DEGRADED;
	assert_false(policy_settled(&c));
	c = settled(3);
	c.status.ready_replicas = 2;
	assert_false(policy_settled(&c));
	c = settled(3);
	c.status.phase = EC_PHASE_UNSET;
	assert_false(policy_settled(&c));

	c = in_flight(1, 2);
	assert_false(policy_settled(&c));
	assert_int_equal(policy_settled_size(&c), 1);
	c.status.scaling.active = false; /* no step recorded: voters stand in */
	assert_int_equal(policy_settled_size(&c), 1);
}

/* ---- mutating ------------------------------------------------------------ */

static void test_create_stages(void **state)
{
	struct etcd_cluster n = settled(3);
	memset(&n.status, 0, sizeof(n.status));
	struct policy_decision d = run_mutate(POLICY_CREATE, NULL, &n);
	assert_true(d.allowed);
	assert_true(d.patch_replicas);
	assert_int_equal(d.replicas, 1);
	assert_true(d.patch_target);
	assert_int_equal(d.target, 3);
	assert_false(d.drop_target);
	assert_true(has_warning(&d, "1 \xe2\x86\x92 2 \xe2\x86\x92 3"));

	/* CREATE of one member: nothing to do */
	n.spec.replicas = 1;
	d = run_mutate(POLICY_CREATE, NULL, &n);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);
	assert_int_equal(d.nwarnings, 0);

	/* CREATE already staged (a re-invocation): left as it is */
	with_target(&n, 5);
	d = run_mutate(POLICY_CREATE, NULL, &n);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);

	/* target equal to the size: dropped */
	with_target(&n, 1);
	d = run_mutate(POLICY_CREATE, NULL, &n);
	assert_true(d.drop_target);
	assert_false(d.patch_replicas);

	/* CREATE of 2 is a jump from nothing too: 1 then 2 */
	n.target = EC_TARGET_NONE;
	n.target_raw[0] = 0;
	n.spec.replicas = 2;
	d = run_mutate(POLICY_CREATE, NULL, &n);
	assert_int_equal(d.replicas, 1);
	assert_int_equal(d.target, 2);
}

static void test_create_admit_allowed(void **state)
{
	struct etcd_cluster n = settled(3), out;
	memset(&n.status, 0, sizeof(n.status));
	struct policy_decision d = run_admit(POLICY_CREATE, NULL, &n, &out);
	assert_true(d.allowed);
	assert_int_equal(out.spec.replicas, 1);
	assert_int_equal(out.target, 3);
	assert_string_equal(out.target_raw, "3");
	/* without the mutating half, the validating half refuses */
	d = run_validate(POLICY_CREATE, NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "starts with one member"));
	assert_non_null(strstr(d.reason, EC_ANN_TARGET));
}

static void test_update_settled_jump_staged(void **state)
{
	struct etcd_cluster o = settled(1), n = settled(1);
	n.spec.replicas = 3;
	struct policy_decision d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_true(d.patch_replicas);
	assert_int_equal(d.replicas, 2);
	assert_true(d.patch_target);
	assert_int_equal(d.target, 3);
	assert_true(has_warning(&d, "staged 1 \xe2\x86\x92 2 \xe2\x86\x92 3"));

	/* down: 5 → 1 */
	o = settled(5);
	n = settled(5);
	n.spec.replicas = 1;
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_int_equal(d.replicas, 4);
	assert_int_equal(d.target, 1);
	assert_true(has_warning(&d, "5 \xe2\x86\x92 4 \xe2\x86\x92 3 \xe2\x86\x92 2 \xe2\x86\x92 1"));

	/* one step: untouched, no warning */
	o = settled(1);
	n = settled(1);
	n.spec.replicas = 2;
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);
	assert_int_equal(d.nwarnings, 0);
}

static void test_controller_step_and_reached(void **state)
{
	/* settled at 2 on the way to 3: the controller sets 3, the target is reached */
	struct etcd_cluster o = settled(2), n = settled(2);
	with_target(&o, 3);
	with_target(&n, 3);
	n.spec.replicas = 3;
	struct policy_decision d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_false(d.patch_replicas);
	assert_false(d.patch_target);
	assert_true(d.drop_target);

	/* settled at 2 on the way to 5: the next step keeps the target */
	with_target(&o, 5);
	with_target(&n, 5);
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);

	/* staged, spec unchanged (a label change meanwhile): left as it is */
	n.spec.replicas = 2;
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);

	/* the requested size equals the current one: annotation dropped */
	with_target(&n, 2);
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_true(d.drop_target);
	assert_false(d.patch_replicas);
}

static void test_not_settled_hold_and_cancel(void **state)
{
	struct etcd_cluster o = in_flight(1, 2), n = in_flight(1, 2);
	with_target(&o, 3);
	with_target(&n, 3);

	/* a sync re-applies 3 while 1 → 2 is in flight: held at 2, target kept */
	n.spec.replicas = 3;
	struct policy_decision d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_true(d.patch_replicas);
	assert_int_equal(d.replicas, 2);
	assert_false(d.patch_target);
	assert_false(d.drop_target);
	assert_true(has_warning(&d, "held at 2"));

	/* a new request for 5: held at 2, target 5 */
	n.target = EC_TARGET_NONE;
	n.target_raw[0] = 0;
	n.spec.replicas = 5;
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_int_equal(d.replicas, 2);
	assert_true(d.patch_target);
	assert_int_equal(d.target, 5);

	/* cancel: back to 1 with the kept annotation → annotation dropped, allowed */
	with_target(&n, 3);
	n.spec.replicas = 1;
	struct etcd_cluster out;
	d = run_admit(POLICY_UPDATE, &o, &n, &out);
	assert_true(d.allowed);
	assert_false(d.patch_replicas);
	assert_true(d.drop_target);
	assert_int_equal(out.spec.replicas, 1);
	assert_int_equal(out.target, EC_TARGET_NONE);

	/* cancel through the annotation (kubectl etcd scale --replicas 1) */
	with_target(&n, 1);
	n.spec.replicas = 1;
	d = run_admit(POLICY_UPDATE, &o, &n, &out);
	assert_true(d.allowed);
	assert_int_equal(out.spec.replicas, 1);
	assert_int_equal(out.target, EC_TARGET_NONE);

	/* a scale-down in flight (3 → 2) cancelled back to 3 */
	o = in_flight(3, 2);
	n = o;
	n.spec.replicas = 3;
	d = run_admit(POLICY_UPDATE, &o, &n, &out);
	assert_true(d.allowed);
	assert_int_equal(out.spec.replicas, 3);
}

static void test_not_settled_validate(void **state)
{
	struct etcd_cluster o = in_flight(1, 2), n = in_flight(1, 2);
	n.spec.replicas = 3;
	struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.replicas: cannot go to 3"));
	assert_non_null(strstr(d.reason, "in flight"));
	assert_non_null(strstr(d.reason, "set 1 to cancel"));

	/* the step in flight and the cancel are both fine */
	n.spec.replicas = 2;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	n.spec.replicas = 1;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);

	/* degraded (not scaling): no move at all */
	o = settled(3);
	o.status.phase = EC_DEGRADED;
	o.status.ready_replicas = 2;
	n = o;
	n.spec.replicas = 4;
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "Degraded"));
}

/* Every combination of old state and request: mutating the mutated object
 * changes nothing, and every warning fits kube-apiserver's 120 characters. */
static void test_idempotent_everywhere(void **state)
{
	int checked = 0;
	for (int kind = 0; kind < 4; kind++)
		for (int cur = 1; cur <= 9; cur++)
			for (int spec = 1; spec <= 9; spec++)
				for (int t = -1; t <= 9; t++) {
					struct etcd_cluster o;
					if (kind == 0)
						o = settled(cur);
					else if (kind == 1 && cur < 9)
						o = in_flight(cur, cur + 1);
					else if (kind == 2 && cur > 1)
						o = in_flight(cur, cur - 1);
					else if (kind == 3)
						o = settled(cur), o.status.phase = EC_DEGRADED;
					else
						continue;
					struct etcd_cluster n = o;
					n.spec.replicas = spec;
					if (t >= 0)
						with_target(&n, t);
					else
						n.target = EC_TARGET_NONE, n.target_raw[0] = 0;
					struct policy_decision d1 = run_mutate(POLICY_UPDATE, &o, &n);
					for (int w = 0; w < d1.nwarnings; w++)
						assert_true(strlen(d1.warnings[w]) <= 120);
					struct etcd_cluster m = n;
					policy_apply(&d1, &m);
					struct policy_decision d2 = run_mutate(POLICY_UPDATE, &o, &m);
					if (d2.patch_replicas || d2.patch_target || d2.drop_target)
						fail_msg("not idempotent: kind %d cur %d spec %d t %d",
							 kind, cur, spec, t);
					/* the staged object moves at most one from the old size */
					if (t != 0 && m.spec.replicas - o.spec.replicas > 1)
						fail_msg("moved by more than one: %d→%lld", cur,
							 (long long)m.spec.replicas);
					checked++;
				}
	assert_true(checked > 1000);
}

static void test_mutate_leaves_bad_input_to_validation(void **state)
{
	struct etcd_cluster o = settled(1), n = settled(1);
	n.spec.replicas = 1000000000;
	struct policy_decision d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_false(d.patch_replicas || d.patch_target);
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.replicas: 1000000000 is not a size"));

	n = settled(1);
	n.target = EC_TARGET_INVALID;
	strcpy(n.target_raw, "three");
	d = run_mutate(POLICY_UPDATE, &o, &n);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "\"three\" is not a member count"));

	with_target(&n, 12);
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "12 is not a size"));
}

static void test_delete_and_scale_not_mutated(void **state)
{
	struct etcd_cluster o = settled(3);
	struct policy_request r = {.op = POLICY_DELETE, .old = &o};
	struct policy_decision d;
	policy_admit(&r, &d, NULL);
	assert_true(d.allowed);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);

	struct etcd_cluster n = o;
	n.spec.replicas = 5;
	r = (struct policy_request){.op = POLICY_UPDATE, .scale_subresource = true, .old = &o,
				    .new = &n};
	policy_mutate(&r, &d);
	assert_false(d.patch_replicas || d.patch_target);
}

/* ---- validating ---------------------------------------------------------- */

static void test_bounds(void **state)
{
	struct etcd_cluster o = settled(1), n = settled(1);
	int64_t bad[] = {0, -1, 10, 1000000000, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		n.spec.replicas = bad[i];
		struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
		assert_false(d.allowed);
		assert_non_null(strstr(d.reason, "between 1 and 9"));
	}
	/* ratchet: an object stored with 12 can still be edited otherwise */
	o.spec.replicas = 12;
	n = o;
	strcpy(n.spec.image, "example/etcd:custom");
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
}

static void test_one_step_and_message(void **state)
{
	struct etcd_cluster o = settled(1), n = settled(1);
	n.spec.replicas = 5;
	struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_string_equal(d.reason,
			    "spec.replicas: cannot go from 1 to 5 in one change: etcd membership "
			    "changes one member at a time. Use \"kubectl etcd scale demo --replicas "
			    "5\", or apply replicas 2 with the annotation "
			    "etcd.k8s-operator.io/target-replicas: \"5\" and let the operator continue");
	strcpy(n.namespace, "prod");
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_non_null(strstr(d.reason, "kubectl etcd scale demo -n prod --replicas 5"));

	n = settled(1);
	n.spec.replicas = 2;
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_true(d.allowed);
	assert_true(has_warning(&d, "2 members tolerate 0 failures"));
}

static void test_even_warning_only_on_targets(void **state)
{
	/* 1 → 3 staged: the step 2 is not a target, so no even warning */
	struct etcd_cluster o = settled(1), n = settled(1);
	n.spec.replicas = 3;
	struct policy_decision d = run_admit(POLICY_UPDATE, &o, &n, NULL);
	assert_true(d.allowed);
	assert_false(has_warning(&d, "odd"));
	assert_true(has_warning(&d, "1 \xe2\x86\x92 2 \xe2\x86\x92 3"));
	/* 3 → 4 as a target: warned */
	o = settled(3);
	n = settled(3);
	n.spec.replicas = 4;
	d = run_admit(POLICY_UPDATE, &o, &n, NULL);
	assert_true(d.allowed);
	assert_true(has_warning(&d, "4 members tolerate 1 failure, no more than 3 do"));
	/* 1 → 4 staged: the target 4 is warned, through the annotation */
	o = settled(1);
	n = settled(1);
	n.spec.replicas = 4;
	d = run_admit(POLICY_UPDATE, &o, &n, NULL);
	assert_true(d.allowed);
	assert_true(has_warning(&d, "4 members"));
	/* no warning on an unrelated edit of an even cluster */
	o = settled(4);
	n = settled(4);
	strcpy(n.spec.storage_size, "2Gi");
	d = run_admit(POLICY_UPDATE, &o, &n, NULL);
	assert_int_equal(d.nwarnings, 0);
}

static void test_versions(void **state)
{
	struct {
		const char *from, *to;
		const char *needle; /* NULL: allowed */
	} cases[] = {
		{"3.5.17", "3.5.18", NULL},
		{"3.4.23", "3.5.17", NULL},
		{"3.5.17", "3.6.0", "Upgrade to 3.5.26 (or a newer 3.5.x) first, then to 3.6.0"},
		{"3.5.25", "3.6.16", "below 3.5.26"},
		{"3.5.26", "3.6.0", NULL},
		{"3.5.36", "3.6.16", NULL},
		{"3.5.17", "v3.5.17", NULL},
		{"3.5.17", "3.5", "is not an etcd version"},
		{"3.5.17", "latest", "is not an etcd version"},
		{"3.5.17", "3.5.-1", "is not an etcd version"},
		{"3.5.17", "3.7.0", "Upgrade to 3.6.x first"},
		{"3.6.16", "3.7.4", NULL},
		{"3.7.4", "3.8.0", "runs 3.5.x, 3.6.x and 3.7.x"},
		{"3.5.17", "4.0.0", "runs 3.5.x"},
		{"3.4.23", "3.4.30", "runs 3.5.x"}, /* a cluster on 3.4 may only move on to 3.5 */
		{"3.5.17", "3.4.23", "cannot go from 3.5.17 down to 3.4.23"},
		{"3.5.17", "3.5.16", "down to"},
		{"3.4.23", "3.6.0", "Upgrade to 3.5.x first"},
		{"bogus", "3.5.17", NULL}, /* ratchet: a bad stored version can be fixed */
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		struct etcd_cluster o = settled(3), n = settled(3);
		strcpy(o.spec.version, cases[i].from);
		strcpy(n.spec.version, cases[i].to);
		struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
		if (!cases[i].needle) {
			if (!d.allowed)
				fail_msg("%s → %s refused: %s", cases[i].from, cases[i].to, d.reason);
		} else {
			assert_false(d.allowed);
			if (!strstr(d.reason, cases[i].needle))
				fail_msg("%s → %s: \"%s\" lacks \"%s\"", cases[i].from, cases[i].to,
					 d.reason, cases[i].needle);
		}
	}
	/* CREATE: 3.5, 3.6 and 3.7 (DESIGN §3: 3.5.x or newer), nothing older or unknown */
	static const struct {
		const char *version;
		bool allowed;
	} creates[] = {{"3.9.1", false}, {"3.4.23", false}, {"3.3.0", false},
		       {"3.5.0", true},  {"3.6.16", true}, {"3.7.4", true}};
	for (size_t i = 0; i < EO_ARRAY_LEN(creates); i++) {
		struct etcd_cluster n = settled(1);
		strcpy(n.spec.version, creates[i].version);
		struct policy_decision d = run_validate(POLICY_CREATE, NULL, &n);
		if (d.allowed != creates[i].allowed)
			fail_msg("create on %s: %s (%s)", creates[i].version,
				 d.allowed ? "allowed" : "refused", d.reason);
	}
}

static void test_version_while_scaling(void **state)
{
	struct etcd_cluster o = in_flight(1, 2), n = in_flight(1, 2);
	strcpy(n.spec.version, "3.5.18");
	struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "while the cluster is scaling"));
	assert_non_null(strstr(d.reason, "kubectl etcd status demo"));

	o = settled(3);
	n = settled(3);
	strcpy(n.spec.version, "3.5.18");
	n.spec.replicas = 4;
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "also moves spec.replicas"));

	n = settled(3);
	strcpy(n.spec.version, "3.5.18");
	with_target(&n, 5);
	with_target(&o, 5);
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "staged scale to 5"));
}

static void test_no_scaling_while_upgrading(void **state)
{
	struct etcd_cluster o = settled(3), n = settled(3);
	o.status.phase = n.status.phase = EC_UPGRADING;
	strcpy(o.status.version, "3.5.36");
	n.spec.replicas = 4;
	struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	if (!strstr(d.reason, "an upgrade to 3.5.17 is rolling through the members"))
		fail_msg("%s", d.reason);
	/* nor another version on top of the roll */
	n = settled(3);
	n.status.phase = EC_UPGRADING;
	strcpy(n.spec.version, "3.5.18");
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "rolling through the members"));
	/* … but back to what every member runs is the way out of a stalled one */
	strcpy(o.spec.version, "3.6.99");
	strcpy(n.spec.version, "3.5.36");
	d = run_validate(POLICY_UPDATE, &o, &n);
	if (!d.allowed)
		fail_msg("back to status.version refused: %s", d.reason);
	strcpy(n.spec.version, "3.5.35"); /* not what they run: a downgrade */
	assert_false(run_validate(POLICY_UPDATE, &o, &n).allowed);
}

static void test_suspend_and_resume(void **state)
{
	struct etcd_cluster o = settled(3), n = settled(3);
	n.spec.suspended = true;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	/* only from a settled cluster */
	struct etcd_cluster f = in_flight(2, 3), g = in_flight(2, 3);
	g.spec.suspended = true;
	struct policy_decision d = run_validate(POLICY_UPDATE, &f, &g);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "cannot suspend demo now"));
	/* nothing moves while suspended */
	o.spec.suspended = true;
	n.spec.replicas = 4;
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "Resume first"));
	n = o;
	strcpy(n.spec.version, "3.5.18");
	assert_false(run_validate(POLICY_UPDATE, &o, &n).allowed);
	/* resuming alone is let in; with a scale, not */
	n = o;
	n.spec.suspended = false;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	n.spec.replicas = 4;
	assert_false(run_validate(POLICY_UPDATE, &o, &n).allowed);
	/* a new cluster cannot start suspended */
	n = settled(1);
	n.spec.suspended = true;
	assert_false(run_validate(POLICY_CREATE, NULL, &n).allowed);
}

static void test_immutable(void **state)
{
	struct etcd_cluster o = settled(3), n = settled(3);
	strcpy(n.spec.storage_class, "fast");
	n.spec.storage_class_set = true;
	struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.storage.storageClassName: cannot change from "
					 "(unset) to \"fast\""));
	o = n;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	strcpy(n.spec.cluster_domain, "example.org");
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.clusterDomain: cannot change from "
					 "\"cluster.local\" to \"example.org\""));
	/* spec.bootstrap.restore: read once, never added, removed or changed */
	o = settled(3);
	n = settled(3);
	n.spec.restore_set = true;
	strcpy(n.spec.restore_backup, "nightly");
	d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.bootstrap.restore: cannot be added, removed or changed"));
	o = n;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	strcpy(n.spec.restore_key, "other.db");
	assert_false(run_validate(POLICY_UPDATE, &o, &n).allowed);
	n = o;
	n.spec.restore_set = false;
	n.spec.restore_backup[0] = '\0';
	assert_false(run_validate(POLICY_UPDATE, &o, &n).allowed);
}

/* Names and string fields the owned objects are built from: refused at
 * CREATE when Kubernetes could not make those objects. */
static void test_names_and_lengths(void **state)
{
	struct etcd_cluster n = settled(1);
	n.status = (struct ec_status){0};
	/* 52 characters: the longest name whose StatefulSet can make Pods */
	memset(n.name, 'a', 52);
	n.name[52] = '\0';
	assert_true(run_validate(POLICY_CREATE, NULL, &n).allowed);
	n.name[52] = 'b';
	n.name[53] = '\0';
	struct policy_decision d = run_validate(POLICY_CREATE, NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "metadata.name: \"aaaa"));
	assert_non_null(strstr(d.reason, "is 53 characters; an EtcdCluster name has at most 52"));
	assert_non_null(strstr(d.reason, "controller-revision-hash"));
	assert_non_null(strstr(d.reason, "Choose a name of at most 52 characters"));
	memset(n.name, 'a', 253);
	n.name[253] = '\0';
	assert_false(run_validate(POLICY_CREATE, NULL, &n).allowed);
	/* Service names are DNS-1035 labels: a letter first, no dots */
	const char *bad[] = {"1demo", "demo.prod", "Demo", "demo-", "de_mo"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(n.name, bad[i]);
		d = run_validate(POLICY_CREATE, NULL, &n);
		if (d.allowed)
			fail_msg("name \"%s\" admitted", bad[i]);
		assert_non_null(strstr(d.reason, "metadata.name: "));
	}
	strcpy(n.name, "d-1");
	assert_true(run_validate(POLICY_CREATE, NULL, &n).allowed);
	/* an UPDATE of an object stored before the rule is judged on what changes */
	struct etcd_cluster o = settled(3), u = settled(3);
	memset(o.name, 'a', 60);
	o.name[60] = '\0';
	strcpy(u.name, o.name);
	u.spec.replicas = 2;
	assert_true(run_validate(POLICY_UPDATE, &o, &u).allowed);

	strcpy(n.name, "demo");
	strcpy(n.spec.cluster_domain, "Cluster.Local");
	d = run_validate(POLICY_CREATE, NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.clusterDomain: \"Cluster.Local\" is not a DNS domain"));
	strcpy(n.spec.cluster_domain, "cluster.local");
	strcpy(n.spec.storage_class, "fast ssd");
	n.spec.storage_class_set = true;
	d = run_validate(POLICY_CREATE, NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.storage.storageClassName: \"fast ssd\""));
	strcpy(n.spec.storage_class, "fast-ssd.example.com");
	assert_true(run_validate(POLICY_CREATE, NULL, &n).allowed);
	strcpy(n.spec.image, "registry.example/etcd:v3.5.17 --x");
	d = run_validate(POLICY_CREATE, NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.image: "));
	strcpy(n.spec.image, "registry.example/etcd:v3.5.17");
	assert_true(run_validate(POLICY_CREATE, NULL, &n).allowed);
}

static void test_quorum_on_scale_down(void **state)
{
	/* 3 → 2 with demo-0 just gone unhealthy: demo-2 leaves, 1 of 2 healthy */
	struct etcd_cluster o = settled(3), n = settled(3);
	o.status.members[0].healthy = false;
	n.spec.replicas = 2;
	struct policy_decision d = run_validate(POLICY_UPDATE, &o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "removing demo-2 would leave 1 healthy voting member, "
					 "fewer than the quorum of 2 for 2"));
	/* the unhealthy one is the one removed: fine */
	o = settled(3);
	o.status.members[2].healthy = false;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	/* 2 → 1 with demo-0 unhealthy */
	o = settled(2);
	o.status.members[0].healthy = false;
	n = settled(2);
	n.spec.replicas = 1;
	assert_false(run_validate(POLICY_UPDATE, &o, &n).allowed);
	/* no member list: the counts stand in */
	o = settled(3);
	o.status.nmembers = 0;
	o.status.ready_replicas = 3;
	n = settled(3);
	n.spec.replicas = 2;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
	/* cancelling a scale-up removes a learner: allowed even with a voter down */
	o = in_flight(1, 2);
	o.status.members[0].healthy = false;
	n = o;
	n.spec.replicas = 1;
	assert_true(run_validate(POLICY_UPDATE, &o, &n).allowed);
}

static void test_delete_allowed(void **state)
{
	struct etcd_cluster o = in_flight(1, 2);
	struct policy_decision d = run_validate(POLICY_DELETE, &o, NULL);
	assert_true(d.allowed);
	/* missing objects are refused, not crashed on */
	d = run_validate(POLICY_UPDATE, NULL, &o);
	assert_false(d.allowed);
	d = run_validate(POLICY_CREATE, NULL, NULL);
	assert_false(d.allowed);
}

/* ---- scale subresource ---------------------------------------------------- */

static json_object *parse(const char *text)
{
	struct eo_err err;
	json_object *o = json_parse(text, strlen(text), &err);
	assert_non_null(o);
	return o;
}

static struct policy_decision scale(int64_t spec_old, int status_old, const char *new_spec)
{
	char a[256], b[256];
	snprintf(a, sizeof(a),
		 "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
		 "\"demo\",\"namespace\":\"default\"},\"spec\":{\"replicas\":%lld},\"status\":"
		 "{\"replicas\":%d,\"selector\":\"x\"}}",
		 (long long)spec_old, status_old);
	snprintf(b, sizeof(b),
		 "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
		 "\"demo\",\"namespace\":\"default\"},\"spec\":%s,\"status\":{\"replicas\":%d}}",
		 new_spec, status_old);
	json_object *jo = parse(a), *jn = parse(b);
	struct etcd_cluster o, n;
	struct eo_err err;
	assert_int_equal(policy_from_scale(jo, &o, &err), 0);
	assert_int_equal(policy_from_scale(jn, &n, &err), 0);
	json_object_put(jo);
	json_object_put(jn);
	struct policy_request r = {.op = POLICY_UPDATE, .scale_subresource = true, .old = &o,
				   .new = &n};
	struct policy_decision d;
	policy_admit(&r, &d, NULL);
	assert_false(d.patch_replicas || d.patch_target || d.drop_target);
	return d;
}

static void test_scale_subresource(void **state)
{
	struct policy_decision d = scale(1, 1, "{\"replicas\":5}");
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "\"kubectl etcd scale demo --replicas 5\""));
	assert_non_null(strstr(d.reason, "scale subresource"));
	assert_true(scale(1, 1, "{\"replicas\":2}").allowed);
	assert_true(scale(3, 3, "{\"replicas\":2}").allowed);
	assert_true(scale(3, 3, "{\"replicas\":3}").allowed);
	d = scale(3, 3, "{\"replicas\":4}");
	assert_true(d.allowed);
	assert_true(has_warning(&d, "4 members"));
	/* omitted replicas (Go's omitempty) is 0 */
	d = scale(1, 1, "{}");
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "0 is not a size"));
	/* a step in flight (spec 2, 1 voter): only 2 or back to 1 */
	d = scale(2, 1, "{\"replicas\":3}");
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "changing 1 \xe2\x86\x92 2"));
	assert_true(scale(2, 1, "{\"replicas\":1}").allowed);

	struct etcd_cluster c;
	struct eo_err err;
	json_object *bad = parse("{\"kind\":\"Scale\",\"spec\":{\"replicas\":\"5\"}}");
	assert_int_equal(policy_from_scale(bad, &c, &err), -1);
	assert_string_equal(err.msg, "spec.replicas: expected an integer, got a string");
	json_object_put(bad);
	bad = parse("{\"kind\":\"EtcdCluster\"}");
	assert_int_equal(policy_from_scale(bad, &c, &err), -1);
	json_object_put(bad);
	assert_int_equal(policy_from_scale(NULL, &c, &err), -1);
}

/* ---- plan and path --------------------------------------------------------- */

static void test_plan(void **state)
{
	struct policy_step s[8];
	assert_int_equal(policy_plan(1, 3, s, 8), 2);
	assert_int_equal(s[0].from, 1);
	assert_int_equal(s[0].to, 2);
	assert_int_equal(s[0].quorum, 2);
	assert_int_equal(s[0].tolerance, 0);
	assert_int_equal(s[1].to, 3);
	assert_int_equal(s[1].quorum, 2);
	assert_int_equal(s[1].tolerance, 1);
	assert_int_equal(policy_plan(5, 3, s, 8), 2);
	assert_int_equal(s[1].to, 3);
	assert_int_equal(policy_plan(0, 1, s, 8), 1);
	assert_int_equal(s[0].quorum, 1);
	assert_int_equal(policy_plan(3, 3, s, 8), 0);
	assert_int_equal(policy_plan(1, 1000000000, s, 8), 999999999);
	assert_int_equal(s[7].to, 9);
	assert_int_equal(policy_plan(-1, 3, s, 8), -1);
	assert_int_equal(policy_plan(1, INT64_MAX, s, 8), -1);
}

static void test_staged_path(void **state)
{
	char buf[128];
	int len = policy_staged_path(1, 3, buf, sizeof(buf));
	assert_int_equal(len, (int)strlen(buf));
	assert_string_equal(buf, "1 \xe2\x86\x92 2 \xe2\x86\x92 3");
	policy_staged_path(3, 1, buf, sizeof(buf));
	assert_string_equal(buf, "3 \xe2\x86\x92 2 \xe2\x86\x92 1");
	policy_staged_path(4, 4, buf, sizeof(buf));
	assert_string_equal(buf, "4");
	policy_staged_path(1, 5, buf, sizeof(buf));
	assert_string_equal(buf, "1 \xe2\x86\x92 2 \xe2\x86\x92 3 \xe2\x86\x92 4 \xe2\x86\x92 5");
	policy_staged_path(1, 6, buf, sizeof(buf));
	assert_string_equal(buf, "1 \xe2\x86\x92 2 \xe2\x86\x92 \xe2\x80\xa6 \xe2\x86\x92 6");

	/* 10^9 and the extremes: short (the text never walks the members) */
	policy_staged_path(1, 1000000000, buf, sizeof(buf));
	assert_string_equal(buf, "1 \xe2\x86\x92 2 \xe2\x86\x92 \xe2\x80\xa6 \xe2\x86\x92 1000000000");
	assert_true(policy_staged_path(INT64_MIN, INT64_MAX, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "9223372036854775807"));
	assert_true(policy_staged_path(INT64_MAX, INT64_MIN, buf, sizeof(buf)) > 0);
	assert_int_equal(policy_staged_path(1, 3, buf, 6), -1);
	assert_int_equal(strlen(buf) < 6, 1);

	/* a staged 10^9 request in the mutating half is refused, not spelled out */
	struct etcd_cluster o = settled(1), n = settled(1);
	n.spec.replicas = 1000000000;
	struct policy_decision d = run_admit(POLICY_UPDATE, &o, &n, NULL);
	assert_false(d.allowed);
	assert_true(strlen(d.reason) < sizeof(d.reason));
}

/* ---- spec.maintenance (space) -------------------------------------------- */

/* The settled 1-member cluster with spec.storage.size and a spec.maintenance
 * JSON object ("" for none), parsed the way the webhook parses it. */
static struct etcd_cluster with_maint(const char *size, const char *maint)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
		 "\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\"},\"spec\":{"
		 "\"replicas\":1,\"version\":\"3.5.17\",\"storage\":{\"size\":\"%s\"}%s%s}}",
		 size, maint[0] ? ",\"maintenance\":" : "", maint);
	json_object *o = parse(text);
	struct etcd_cluster c;
	struct eo_err err = {0};
	assert_int_equal(cluster_parse(o, &c, &err), 0);
	json_object_put(o);
	return c;
}

static void test_space_defaults(void **state)
{
	(void)state;
	struct etcd_cluster c = with_maint("1Gi", "");
	assert_int_equal(c.spec.maint.compaction_mode, EC_COMPACT_PERIODIC);
	assert_string_equal(c.spec.maint.compaction_retention, "1h");
	assert_false(c.spec.maint.quota_set);
	/* 3/4 of a 1Gi volume: below etcd's 2Gi */
	assert_int_equal(c.spec.maint.quota_bytes, 805306368);
	assert_int_equal(c.spec.maint.defrag_threshold, 50);
	assert_true(run_validate(POLICY_CREATE, NULL, &c).allowed);
	c = with_maint("10Gi", "{}");
	assert_int_equal(c.spec.maint.quota_bytes, 2147483648LL);
	c = with_maint("1Gi", "{\"autoCompaction\":{\"mode\":\"Revision\"}}");
	assert_string_equal(c.spec.maint.compaction_retention, "10000");
	assert_true(run_validate(POLICY_CREATE, NULL, &c).allowed);
}

static void test_space_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *size, *maint, *want; /* want NULL: allowed */
	} cases[] = {
		{"1Gi", "{\"quotaBackendBytes\":\"32Mi\"}", NULL},
		{"1Gi", "{\"quotaBackendBytes\":33554432}", NULL},
		{"1Gi", "{\"quotaBackendBytes\":\"1Gi\"}", NULL},
		{"1Gi", "{\"quotaBackendBytes\":\"2Gi\"}", "larger than the volume"},
		{"1Gi", "{\"quotaBackendBytes\":\"lots\"}", "not a quantity"},
		{"1Gi", "{\"quotaBackendBytes\":\"1.5Mi\"}", "not a quantity"},
		{"1Gi", "{\"quotaBackendBytes\":\"4Mi\"}", "below 8Mi"},
		{"1Gi", "{\"autoCompaction\":{\"mode\":\"Hourly\"}}", "not a mode etcd has"},
		{"1Gi", "{\"autoCompaction\":{\"retention\":\"1h30m\"}}", NULL},
		{"1Gi", "{\"autoCompaction\":{\"retention\":\"1 hour\"}}", "not a duration"},
		{"1Gi", "{\"autoCompaction\":{\"mode\":\"Revision\",\"retention\":\"1h\"}}",
		 "not a number of revisions"},
		{"1Gi", "{\"autoCompaction\":{\"mode\":\"Revision\",\"retention\":5000}}", NULL},
		{"1Gi", "{\"defragThreshold\":101}", "not a percentage"},
		{"1Gi", "{\"defragThreshold\":0}", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct etcd_cluster c = with_maint(cases[i].size, cases[i].maint);
		struct policy_decision d = run_validate(POLICY_CREATE, NULL, &c);
		if (!cases[i].want) {
			if (!d.allowed)
				fail_msg("%s refused: %s", cases[i].maint, d.reason);
			continue;
		}
		assert_false(d.allowed);
		if (!strstr(d.reason, cases[i].want))
			fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].maint, d.reason, cases[i].want);
		assert_non_null(strstr(d.reason, "spec.maintenance."));
	}
	/* a wrong JSON type is the parse's error, naming the path */
	json_object *o = parse("{\"metadata\":{\"name\":\"demo\"},\"spec\":{\"maintenance\":"
			       "{\"quotaBackendBytes\":true}}}");
	struct etcd_cluster c;
	struct eo_err err = {0};
	assert_int_equal(cluster_parse(o, &c, &err), -1);
	assert_non_null(strstr(err.msg, "spec.maintenance.quotaBackendBytes"));
	json_object_put(o);
	assert_int_equal(ec_quantity_bytes("16Mi"), 16777216);
	assert_int_equal(ec_quantity_bytes("2G"), 2000000000);
	assert_int_equal(ec_quantity_bytes("99999999999999999999"), -1);
	assert_int_equal(ec_quantity_bytes("Mi"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_space_defaults),
		cmocka_unit_test(test_space_refusals),
		cmocka_unit_test(test_settled_edges),
		cmocka_unit_test(test_create_stages),
		cmocka_unit_test(test_create_admit_allowed),
		cmocka_unit_test(test_update_settled_jump_staged),
		cmocka_unit_test(test_controller_step_and_reached),
		cmocka_unit_test(test_not_settled_hold_and_cancel),
		cmocka_unit_test(test_not_settled_validate),
		cmocka_unit_test(test_idempotent_everywhere),
		cmocka_unit_test(test_mutate_leaves_bad_input_to_validation),
		cmocka_unit_test(test_delete_and_scale_not_mutated),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_one_step_and_message),
		cmocka_unit_test(test_even_warning_only_on_targets),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_version_while_scaling),
		cmocka_unit_test(test_no_scaling_while_upgrading),
		cmocka_unit_test(test_suspend_and_resume),
		cmocka_unit_test(test_immutable),
		cmocka_unit_test(test_names_and_lengths),
		cmocka_unit_test(test_quorum_on_scale_down),
		cmocka_unit_test(test_delete_allowed),
		cmocka_unit_test(test_scale_subresource),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_staged_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
