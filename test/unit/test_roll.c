/*
 * Unit tests for shared/decide/scaling_roll.c (which member's Pod a roll makes
 * again next, and when it waits) and shared/decide/scaling_suspend.c (stopping
 * every Pod one at a time, starting them all together). Snapshots come from the scaling tests'
 * world (a settled cluster), then the revisions are set by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scaling.h"
#include "../helpers/scaling_world.h"

#define NEW "aaaaaaaaaaaaaaaa"
#define OLD "bbbbbbbbbbbbbbbb"

/* A settled cluster of n, the template at NEW, every Pod at rev. */
static void settled(int n, const char *rev, struct sc_observed *o, struct sc_action *a)
{
	static struct world w;
	world_created(&w, n);
	world_observe(&w, o);
	sc_decide(o, a);
	assert_int_equal(a->kind, SC_NONE);
	o->sts_current = true;
	strcpy(o->sts_revision, NEW);
	strcpy(o->ec.spec.version, "3.5.36");
	cluster_etcd_image(&o->ec, o->sts_image, sizeof(o->sts_image));
	for (int k = 0; k < n; k++) {
		strcpy(o->pods[k].revision, rev);
		strcpy(o->pods[k].image, o->sts_image);
	}
}

static int leader_ordinal(const struct sc_observed *o)
{
	for (int i = 0; i < o->nmembers; i++)
		if (o->members[i].id == o->members[0].leader_seen)
			return o->members[i].ordinal;
	return -1;
}

static int member_of(const struct sc_observed *o, int k)
{
	for (int i = 0; i < o->nmembers; i++)
		if (o->members[i].ordinal == k)
			return i;
	return -1;
}

static void test_nothing_to_roll(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, NEW, &o, &a);
	assert_int_equal(sc_roll(&o, NEW, &a), 0);
	assert_int_equal(a.kind, SC_NONE);
	/* no revision wanted: only images count, and they agree */
	assert_int_equal(sc_roll(&o, "", &a), 0);
	assert_int_equal(a.kind, SC_NONE);
	assert_int_equal(a.phase, EC_RUNNING);
	/* a rotation is not done while a Pod is missing */
	o.pods[2].exists = false;
	assert_int_equal(sc_roll(&o, NEW, &a), -1);
	assert_int_equal(sc_roll(&o, "", &a), 0);
}

#define IMG_OLD "gcr.io/etcd-development/etcd:v3.5.36"
#define IMG_NEW "gcr.io/etcd-development/etcd:v3.6.16"

static void images(struct sc_observed *o, int n, const char *img)
{
	strcpy(o->ec.spec.version, "3.6.16"); /* asks for IMG_NEW */
	strcpy(o->sts_image, IMG_NEW);
	for (int k = 0; k < n; k++)
		strcpy(o->pods[k].image, img);
}

static void test_an_upgrade_rolls_followers_first_as_upgrading(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, "", &o, &a);
	strcpy(o.sts_revision, "");
	images(&o, 3, IMG_OLD);
	int lead = leader_ordinal(&o);
	assert_int_equal(sc_roll(&o, "", &a), 3);
	assert_int_equal(a.kind, SC_RESTART_POD);
	assert_int_not_equal(a.ordinal, lead);
	assert_int_equal(a.phase, EC_UPGRADING);
	assert_string_equal(a.event_reason, "UpgradingMember");
	assert_non_null(strstr(a.progressing_message, IMG_NEW));

	/* while a Pod made again starts, sc_decide waits: the phase still says so */
	struct sc_action w = a;
	w.kind = SC_WAIT;
	w.phase = EC_RUNNING;
	assert_int_equal(sc_roll(&o, "", &w), -1);
	assert_int_equal(w.phase, EC_UPGRADING);

	/* spec asks for the new image before the template has it: Upgrading at once,
	 * but nothing is made again from the old template */
	settled(3, "", &o, &a);
	strcpy(o.ec.spec.version, "3.6.16");
	assert_int_equal(sc_roll(&o, "", &a), -1);
	assert_int_equal(a.kind, SC_NONE);
	assert_int_equal(a.phase, EC_UPGRADING);

	/* a staged scale (the target annotation) waits for the upgrade */
	settled(3, "", &o, &a);
	images(&o, 3, IMG_OLD);
	a.kind = SC_PATCH_REPLICAS;
	a.replicas = 4;
	a.staging = true;
	assert_int_equal(sc_roll(&o, "", &a), 3);
	assert_int_equal(a.kind, SC_RESTART_POD);

	/* only the leader left: leadership moves to a member on the new image */
	settled(3, "", &o, &a);
	strcpy(o.sts_revision, "");
	images(&o, 3, IMG_NEW);
	strcpy(o.pods[lead].image, IMG_OLD);
	assert_int_equal(sc_roll(&o, "", &a), 1);
	assert_int_equal(a.kind, SC_TRANSFER_LEADERSHIP);
}

static void test_a_pod_made_again_that_never_gets_ready_stops_the_upgrade(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, "", &o, &a);
	strcpy(o.sts_revision, "");
	images(&o, 3, IMG_OLD);
	int lead = leader_ordinal(&o), k = lead == 0 ? 1 : 0;
	strcpy(o.pods[k].image, IMG_NEW);
	o.pods[k].ready = false;
	o.pods[k].created_ms = o.now_ms - o.step_timeout_ms + 1000;
	assert_int_equal(sc_roll(&o, "", &a), 2);
	assert_int_equal(a.kind, SC_WAIT); /* still within the step timeout */
	assert_string_equal(a.progressing_status, "True");

	settled(3, "", &o, &a);
	strcpy(o.sts_revision, "");
	images(&o, 3, IMG_OLD);
	strcpy(o.pods[k].image, IMG_NEW);
	o.pods[k].ready = false;
	o.pods[k].created_ms = o.now_ms - o.step_timeout_ms - 1000;
	assert_int_equal(sc_roll(&o, "", &a), 2);
	assert_int_equal(a.kind, SC_WAIT);
	assert_string_equal(a.progressing_status, "False");
	assert_string_equal(a.progressing_reason, "UpgradeStalled");
	assert_non_null(strstr(a.progressing_message, "set spec.version back"));
	assert_int_equal(a.phase, EC_UPGRADING);

	/* the way out: spec back to the old image; the broken Pod is made again first,
	 * though the cluster is not whole */
	strcpy(o.ec.spec.version, "3.5.36");
	cluster_etcd_image(&o.ec, o.sts_image, sizeof(o.sts_image));
	int i = member_of(&o, k);
	o.members[i].healthy = false;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT); /* a voter down: no membership change */
	assert_true(a.settled_wait);
	assert_int_equal(sc_roll(&o, "", &a), 1);
	assert_int_equal(a.kind, SC_RESTART_POD);
	assert_int_equal(a.ordinal, k);
}

static void test_waits_for_the_template(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, OLD, &o, &a);
	o.sts_current = false; /* the StatefulSet controller has not seen the new template */
	assert_int_equal(sc_roll(&o, NEW, &a), -1);
	assert_int_equal(a.kind, SC_NONE);
	o.sts_current = true;
	strcpy(o.sts_revision, OLD);
	assert_int_equal(sc_roll(&o, NEW, &a), -1);
	assert_int_equal(a.kind, SC_NONE);
}

static void test_scaling_goes_first(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, OLD, &o, &a);
	a.kind = SC_ADD_LEARNER;
	assert_int_equal(sc_roll(&o, NEW, &a), -1);
	assert_int_equal(a.kind, SC_ADD_LEARNER);
}

static void test_followers_first_lowest_ordinal(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, OLD, &o, &a);
	int lead = leader_ordinal(&o);
	assert_true(lead >= 0);
	assert_int_equal(sc_roll(&o, NEW, &a), 3);
	assert_int_equal(a.kind, SC_RESTART_POD);
	assert_int_not_equal(a.ordinal, lead);
	assert_int_equal(a.ordinal, lead == 0 ? 1 : 0);
	assert_string_equal(a.event_reason, "RestartingMember");
	assert_string_equal(a.progressing_reason, "RollingMembers");
	/* out of the client Service while it goes */
	assert_false(sc_pod_is_voter(&o, &a, a.ordinal));
	assert_true(sc_pod_is_voter(&o, &a, lead));
}

static void test_leader_last_after_moving_leadership(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, NEW, &o, &a);
	int lead = leader_ordinal(&o);
	strcpy(o.pods[lead].revision, OLD);
	assert_int_equal(sc_roll(&o, NEW, &a), 1);
	assert_int_equal(a.kind, SC_TRANSFER_LEADERSHIP);
	assert_int_equal(a.member_id, o.members[member_of(&o, lead)].id);
	int fresh = lead == 0 ? 1 : 0;
	assert_int_equal(a.target_id, o.members[member_of(&o, fresh)].id);
}

static void test_a_single_member_is_restarted(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(1, "", &o, &a); /* a Pod made before revisions existed */
	assert_int_equal(sc_roll(&o, NEW, &a), 1);
	assert_int_equal(a.kind, SC_RESTART_POD);
	assert_int_equal(a.ordinal, 0);
	assert_non_null(strstr(a.progressing_message, "single member"));
}

static void test_waits_for_a_pod_and_a_catch_up(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, OLD, &o, &a);
	strcpy(o.pods[1].revision, NEW);
	o.pods[1].ready = false; /* just made again */
	assert_int_equal(sc_roll(&o, NEW, &a), 2);
	assert_int_equal(a.kind, SC_WAIT);
	assert_non_null(strstr(a.progressing_message, "not ready"));

	settled(3, OLD, &o, &a);
	int lead = member_of(&o, leader_ordinal(&o));
	int behind = member_of(&o, leader_ordinal(&o) == 2 ? 1 : 2);
	o.members[lead].raft_index = 50000;
	o.members[behind].raft_index = 10;
	assert_int_equal(sc_roll(&o, NEW, &a), 3);
	assert_int_equal(a.kind, SC_WAIT);
	assert_non_null(strstr(a.progressing_message, "catching up"));

	settled(3, OLD, &o, &a);
	o.members[behind].healthy = false;
	assert_int_equal(sc_roll(&o, NEW, &a), 3);
	assert_int_equal(a.kind, SC_WAIT);
}

static void test_suspend_stops_one_pod_at_a_time_then_resumes_all(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, "", &o, &a);
	assert_false(sc_suspension(&o, &a)); /* not suspended: the protocol's */
	o.ec.spec.suspended = true;
	o.sts_replicas = 3;
	assert_true(sc_suspension(&o, &a));
	assert_int_equal(a.kind, SC_LOWER_STS);
	assert_int_equal(a.replicas, 2); /* demo-2 first */
	assert_int_equal(a.phase, EC_SUSPENDED);
	assert_string_equal(a.event_reason, "Suspending");
	/* lowered, demo-2 still stopping: wait */
	o.sts_replicas = 2;
	strcpy(o.ec.status.conditions[0].type, "Progressing");
	strcpy(o.ec.status.conditions[0].reason, "Suspending");
	o.ec.status.nconditions = 1;
	assert_true(sc_suspension(&o, &a));
	assert_int_equal(a.kind, SC_WAIT);
	assert_non_null(strstr(a.progressing_message, "demo-2"));
	o.pods[2].exists = false;
	assert_true(sc_suspension(&o, &a));
	assert_int_equal(a.kind, SC_LOWER_STS);
	assert_int_equal(a.replicas, 1);
	assert_string_equal(a.event_reason, ""); /* one Event for the whole suspension */
	o.sts_replicas = 0;
	o.pods[1].exists = o.pods[0].exists = false;
	assert_true(sc_suspension(&o, &a));
	assert_int_equal(a.kind, SC_NONE);
	assert_string_equal(a.progressing_reason, "Suspended");
	assert_string_equal(a.event_reason, "Suspended");
	/* resume: all three at once, then the protocol's again */
	o.ec.spec.suspended = false;
	o.ec.status.phase = EC_SUSPENDED;
	assert_true(sc_suspension(&o, &a));
	assert_int_equal(a.kind, SC_RAISE_STS);
	assert_int_equal(a.replicas, 3);
	assert_string_equal(a.event_reason, "Resuming");
	o.sts_replicas = 3;
	assert_false(sc_suspension(&o, &a));
}

/* spec.pod / extraArgs: the Pods whose pod-spec hash is not the spec's roll,
 * as an image change does (followers first, not as an upgrade), and only once
 * the template carries the hash. */
static void test_pod_knobs_roll(void **state)
{
	struct sc_observed o;
	struct sc_action a;
	settled(3, "", &o, &a);
	assert_int_equal(sc_roll(&o, "", &a), 0);
	strcpy(o.ec.spec.pod.json, "{\"nodeSelector\":{\"disk\":\"ssd\"}}");
	char want[24];
	cluster_pod_revision(&o.ec, want, sizeof(want));
	assert_int_equal(sc_roll(&o, "", &a), -1); /* the template first */
	assert_int_equal(a.kind, SC_NONE);
	strcpy(o.sts_pod_spec, want);
	int lead = leader_ordinal(&o);
	assert_int_equal(sc_roll(&o, "", &a), 3);
	assert_int_equal(a.kind, SC_RESTART_POD);
	assert_int_not_equal(a.ordinal, lead);
	assert_int_equal(a.phase, EC_RUNNING);
	assert_string_equal(a.event_reason, "RestartingMember");
	for (int k = 0; k < 3; k++)
		strcpy(o.pods[k].pod_spec, want);
	sc_decide(&o, &a); /* the next pass */
	assert_int_equal(sc_roll(&o, "", &a), 0);
	/* extraArgs count too */
	strcpy(o.ec.spec.pod.extra_args[0].name, "log-level");
	strcpy(o.ec.spec.pod.extra_args[0].value, "warn");
	o.ec.spec.pod.nextra_args = 1;
	assert_int_equal(sc_roll(&o, "", &a), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_to_roll),
		cmocka_unit_test(test_waits_for_the_template),
		cmocka_unit_test(test_scaling_goes_first),
		cmocka_unit_test(test_followers_first_lowest_ordinal),
		cmocka_unit_test(test_leader_last_after_moving_leadership),
		cmocka_unit_test(test_a_single_member_is_restarted),
		cmocka_unit_test(test_waits_for_a_pod_and_a_catch_up),
		cmocka_unit_test(test_an_upgrade_rolls_followers_first_as_upgrading),
		cmocka_unit_test(test_a_pod_made_again_that_never_gets_ready_stops_the_upgrade),
		cmocka_unit_test(test_suspend_stops_one_pod_at_a_time_then_resumes_all),
		cmocka_unit_test(test_pod_knobs_roll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
