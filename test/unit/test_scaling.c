/*
 * Unit tests for shared/decide/scaling.c, the scaling protocol as a pure decision.
 *
 * Besides single snapshots, a small world model (test/helpers/scaling_world.c)
 * plays etcd, the StatefulSet controller and the kubelet: each round
 * observes the world, decides, publishes the status (as the reconciler does,
 * before acting), acts, and lets the world move one tick. Whole scalings run to completion on it, and
 * the crash sweep stops the controller at every round in two ways (after
 * the status write, before the action; and after the action) to check that
 * the next observation always resumes — with quorum never lost, never two
 * learners, never a voter without its Pod.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "json.h"
#include "scaling.h"
#include "../helpers/scaling_world.h"

/* ---- tests ------------------------------------------------------------ */

static void test_names_and_ordinals(void **state)
{
	struct world w;
	world_init(&w, 1);
	char url[256];
	sc_peer_url(&w.ec, 10, url, sizeof(url));
	assert_string_equal(url, "http://demo-10.demo-peer.default.svc.cluster.local:2380");
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec, url), 10);
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec,
		"http://demo-2.demo-peer.default.svc.cluster.local:2380"), 2);
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec,
		"http://demo-02.demo-peer.default.svc.cluster.local:2380"), -1);
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec,
		"http://other-1.demo-peer.default.svc.cluster.local:2380"), -1);
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec,
		"http://demo-1.demo-peer.kube-system.svc.cluster.local:2380"), -1);
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec, "http://10.0.0.1:2380"), -1);
	assert_int_equal(sc_ordinal_of_peer_url(&w.ec, ""), -1);
	assert_int_equal(sc_ordinal_of_name("data-demo-", "data-demo-12"), 12);
	assert_int_equal(sc_ordinal_of_name("data-demo-", "data-demo-x"), -1);
	assert_int_equal(sc_ordinal_of_name("data-demo-", "data-demo-"), -1);
	assert_int_equal(sc_ordinal_of_name("demo-", "demo-1-0"), -1);
	char sel[256];
	sc_selector(&w.ec, sel, sizeof(sel));
	assert_string_equal(sel, "etcd.k8s-operator.io/cluster=demo,app.kubernetes.io/name=etcd");
	assert_string_equal(sc_kind_name(SC_PATCH_REPLICAS), "PatchReplicasToward");
}

static void test_create_bootstraps_one_member_then_clears_flag(void **state)
{
	struct world w;
	world_init(&w, 1);
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_CREATE_RESOURCES);
	assert_true(a.bootstrap);
	assert_int_equal(a.replicas, 1);
	assert_int_equal(w.ec.status.phase, EC_CREATING);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT); /* member 0 not up yet */
	assert_non_null(strstr(a.progressing_message, "demo-0"));
	world_tick(&w);
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_string_equal(a.event_reason, "ClusterCreated");
	assert_string_equal(w.ec.status.cluster_id, "77");
	/* Founded and recorded, but Pod 0 may still found: no client traffic. */
	struct sc_observed o;
	world_observe(&w, &o);
	assert_true(o.pods[0].bootstrap);
	assert_false(sc_pod_is_voter(&o, &a, 0));
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_SET_BOOTSTRAP_DONE);
	assert_false(w.bootstrap_flag);
	world_observe(&w, &o);
	assert_true(sc_pod_is_voter(&o, &a, 0));
	assert_true(world_run(&w, 1, 10, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 1);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Available");
	assert_non_null(c);
	assert_string_equal(c->status, "True");
}

static void test_claims_of_a_deleted_cluster_block_creation(void **state)
{
	/* A new EtcdCluster over claims older than it: nothing is made, the
	 * claims are named with both ways out, until they are gone. */
	struct world w;
	world_init(&w, 3);
	struct sc_observed o;
	struct sc_action a;
	world_observe(&w, &o);
	o.pvcs[0] = o.pvc_foreign[0] = true;
	o.pvcs[2] = o.pvc_foreign[2] = true;
	o.pvcs[1] = true; /* a claim of its own: not named */
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_REPORT_DEGRADED);
	assert_int_equal(a.phase, EC_CREATING);
	assert_string_equal(a.degraded_reason, "VolumesOfAnotherCluster");
	assert_string_equal(a.event_reason, "VolumesOfAnotherCluster");
	assert_non_null(strstr(a.degraded_message, "data-demo-{0,2}"));
	assert_non_null(strstr(a.degraded_message, "Delete them"));
	assert_non_null(strstr(a.degraded_message, "another name"));
	/* Being deleted: on its way out, no longer blocks. */
	o.pvc_terminating[0] = o.pvc_terminating[2] = true;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_CREATE_RESOURCES);
	/* Once the cluster is founded its claims are its own whatever their age. */
	world_created(&w, 1);
	world_observe(&w, &o);
	o.pvc_foreign[0] = true;
	sc_decide(&o, &a);
	assert_int_not_equal(a.kind, SC_REPORT_DEGRADED);
}

static void test_pod0_never_refounds_after_bootstrap(void **state)
{
	/* With status.clusterID recorded, a missing StatefulSet comes back
	 * without the bootstrap flag and as many Pods as members. */
	struct world w;
	world_created(&w, 3);
	w.created = false;
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_CREATE_RESOURCES);
	assert_false(a.bootstrap);
	assert_int_equal(a.replicas, 3);
}

static void test_pod_made_for_bootstrap_loses_the_permission(void **state)
{
	/* Pod 0 was made while the template allowed bootstrap; with OnDelete it
	 * keeps that template. Once the id is recorded it must lose the
	 * permission too, before anything else happens: its init step runs
	 * again after a node restart, and without data and without an answer
	 * it would found a second cluster. */
	struct world w;
	world_created(&w, 1);
	assert_false(w.bootstrap_flag);
	assert_false(w.pod_bootstrap[0]);
	/* The template was cleared, but the Pod's own annotation was not (a
	 * patch that failed, or a controller version that never made it). */
	w.pod_bootstrap[0] = true;
	world_set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_SET_BOOTSTRAP_DONE);
	assert_false(w.pod_bootstrap[0]);
	assert_int_equal(w.adds, 0); /* nothing else first */
	assert_true(world_run(&w, 2, 40, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
	/* A terminating Pod is not patched (it will not run again). */
	w.pod_bootstrap[1] = true;
	w.pod_terminating[1] = true;
	struct sc_observed o;
	world_observe(&w, &o);
	sc_decide(&o, &a);
	assert_int_not_equal(a.kind, SC_SET_BOOTSTRAP_DONE);
}

static void test_scale_up_steps_in_order(void **state)
{
	struct world w;
	world_created(&w, 1);
	world_set_spec(&w, 2, EC_TARGET_NONE);
	const char *want[] = {EC_STEP_ADD_LEARNER, EC_STEP_START_POD, EC_STEP_START_POD,
			      EC_STEP_CATCH_UP, EC_STEP_CATCH_UP, EC_STEP_PROMOTE};
	enum sc_kind kinds[] = {SC_ADD_LEARNER, SC_RAISE_STS, SC_WAIT, SC_WAIT, SC_WAIT, SC_PROMOTE};
	w.catchup_ticks = 1;
	w.down[1] = true; /* the new Pod takes a round to start */
	for (size_t i = 0; i < EO_ARRAY_LEN(want); i++) {
		if (i == 3)
			w.down[1] = false;
		struct sc_action a;
		enum sc_kind k = world_reconcile(&w, NO_CRASH, &a);
		assert_int_equal(k, kinds[i]);
		assert_string_equal(w.ec.status.scaling.step, want[i]);
		assert_int_equal(w.ec.status.scaling.from, 1);
		assert_int_equal(w.ec.status.scaling.to, 2);
		assert_int_equal(w.ec.status.phase, EC_SCALING);
		if (k == SC_ADD_LEARNER)
			assert_string_equal(a.peer_url,
				"http://demo-1.demo-peer.default.svc.cluster.local:2380");
		/* A learner never counts as a voter in the published status. */
		if (i > 0) {
			assert_int_equal(w.ec.status.replicas, 1);
			assert_int_equal(w.ec.status.learners, 1);
		}
		if (i > 0 && i < 3) /* ordinal and reason in the message */
			assert_non_null(strstr(w.ec.status.scaling.message, "demo-1"));
		world_tick(&w);
	}
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_string_equal(a.event_reason, "ScaleStepCompleted");
	assert_false(w.ec.status.scaling.active);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_NONE);
	world_assert_settled(&w, 2);
}

static void test_staged_target_walks_one_step_at_a_time(void **state)
{
	struct world w;
	world_created(&w, 1);
	/* What the webhook stores for a request of 5: spec 2, target 5. */
	world_set_spec(&w, 2, 5);
	assert_true(world_run(&w, 5, 300, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 5);
	assert_int_equal(w.adds, 4);
	assert_int_equal(w.promotes, 4);
	assert_int_equal(w.ec.target, EC_TARGET_NONE);
	assert_non_null(strstr(w.events, "ScaleStaged"));
	assert_non_null(strstr(w.events, "TargetReached"));
	/* 5 → 3 → 1 → 3 */
	world_set_spec(&w, 4, 3);
	assert_true(world_run(&w, 3, 300, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 3);
	world_set_spec(&w, 2, 1);
	assert_true(world_run(&w, 1, 300, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 1);
	assert_int_equal(w.pvc_deletes, 4);
	world_set_spec(&w, 2, 3);
	assert_true(world_run(&w, 3, 300, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 3);
}

static void test_patch_waits_for_settled_status(void **state)
{
	struct world w;
	world_created(&w, 2);
	world_set_spec(&w, 2, 3); /* generation moved: the published status is stale */
	w.ec.spec.replicas = 2;
	struct sc_observed o;
	struct sc_action a;
	world_observe(&w, &o);
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT);
	assert_string_equal(a.progressing_reason, "Staging");
	struct ec_status st;
	sc_status(&o, &a, &st);
	w.ec.status = st;
	world_observe(&w, &o);
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_PATCH_REPLICAS);
	assert_int_equal(a.replicas, 3);
	/* The status published with the patch stays settled. */
	sc_status(&o, &a, &st);
	assert_int_equal(st.phase, EC_RUNNING);
}

static void test_scale_down_moves_leadership_first(void **state)
{
	struct world w;
	world_created(&w, 3);
	/* Make the highest ordinal the leader. */
	w.leader = w.m[world_member_at(&w, 2)].id;
	world_set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	/* The disruption budget of 2 voters (none) before anything moves. */
	assert_int_equal(w.pdb_budget, 1);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_string_equal(a.progressing_reason, "TighteningBudget");
	assert_int_equal(w.pdb_budget, 0);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_TRANSFER_LEADERSHIP);
	assert_int_equal(a.member_id, w.m[world_member_at(&w, 2)].id);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_TRANSFER_LEADERSHIP);
	/* The leaving member is out of the client Service already. */
	struct sc_observed o;
	world_observe(&w, &o);
	assert_false(sc_pod_is_voter(&o, &a, 2));
	assert_true(sc_pod_is_voter(&o, &a, 0));
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_REMOVE_MEMBER);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_REMOVE_MEMBER);
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_LOWER_STS);
	assert_int_equal(a.replicas, 2);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_SHRINK);
	world_tick(&w);
	/* The Pod is terminating: the claim waits. */
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_true(w.pvc[2]);
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_DELETE_PVC);
	assert_int_equal(a.ordinal, 2);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_DELETE_VOLUME);
	world_tick(&w);
	assert_true(world_run(&w, 2, 10, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
	assert_int_equal(w.transfers, 1);
}

static void test_unhealthy_member_shows_in_the_phase(void **state)
{
	/* kubectl get ec prints the phase: with a voter down it says Degraded,
	 * as the condition does, and Running again once the voter is back. */
	struct world w;
	world_created(&w, 3);
	w.down[1] = true;
	struct sc_action a;
	world_reconcile(&w, NO_CRASH, &a);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Degraded");
	assert_string_equal(c->status, "True");
	assert_string_equal(c->reason, "MemberUnhealthy");
	assert_int_equal(w.ec.status.phase, EC_DEGRADED);
	w.down[1] = false;
	world_reconcile(&w, NO_CRASH, &a);
	assert_int_equal(w.ec.status.phase, EC_RUNNING);
	assert_string_equal(cluster_condition(&w.ec.status, "Degraded")->status, "False");
}

static void test_scale_down_refused_without_quorum_after(void **state)
{
	struct world w;
	world_created(&w, 3);
	w.down[0] = true; /* 2 of 3 healthy: removing demo-2 leaves 1 of 2 */
	world_set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	for (int i = 0; i < 5; i++) {
		enum sc_kind k = world_reconcile(&w, NO_CRASH, &a);
		assert_true(k == SC_WAIT);
		world_tick(&w);
	}
	assert_int_equal(world_voter_count(&w), 3);
	assert_non_null(strstr(a.progressing_message, "demo-0"));
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Degraded");
	assert_string_equal(c->status, "True");
	assert_string_equal(c->reason, "MemberUnhealthy");
	w.down[0] = false;
	assert_true(world_run(&w, 2, 30, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
}

static void test_quorum_lost_reports_and_never_acts(void **state)
{
	struct world w;
	world_created(&w, 3);
	w.down[1] = w.down[2] = true;
	world_set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
	assert_string_equal(a.event_reason, "QuorumLost");
	assert_true(a.event_warning);
	assert_int_equal(w.ec.status.phase, EC_DEGRADED);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Degraded");
	assert_string_equal(c->status, "True");
	assert_string_equal(c->reason, "QuorumLost");
	assert_non_null(strstr(c->message, "force-new-cluster"));
	c = cluster_condition(&w.ec.status, "Available");
	assert_string_equal(c->status, "False");
	/* The same state again: no second Event. */
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
	assert_string_equal(a.event_reason, "");
	assert_int_equal(w.removes, 0);
	/* Back: the scale-down goes on. */
	w.down[1] = w.down[2] = false;
	w.quorum_lost_ever = false; /* lost on purpose above */
	assert_true(world_run(&w, 2, 40, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
}

static void test_pods_come_back_for_members_while_degraded(void **state)
{
	/* Someone scaled the StatefulSet to 1 by hand: demo-1 and demo-2 lose
	 * their Pods, quorum is lost. Membership is never touched, but the Pods
	 * come back, on their data, and the cluster recovers by itself. */
	struct world w;
	world_created(&w, 3);
	uint64_t ids[3];
	for (int k = 0; k < 3; k++)
		ids[k] = w.m[world_member_at(&w, k)].id;
	w.sts = 1;
	world_tick(&w);
	world_tick(&w);
	assert_false(w.pod[1]);
	w.quorum_lost_ever = false; /* lost on purpose */
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_RAISE_STS);
	assert_int_equal(a.replicas, 3);
	assert_string_equal(a.degraded_reason, "QuorumLost");
	assert_int_equal(w.ec.status.phase, EC_DEGRADED);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Degraded");
	assert_string_equal(c->reason, "QuorumLost");
	assert_non_null(strstr(c->message, "raised from 1 to 3"));
	w.quorum_lost_ever = false;
	for (int r = 0; r < 40 && !(w.ec.status.phase == EC_RUNNING && a.kind == SC_NONE); r++) {
		world_tick(&w);
		world_reconcile(&w, NO_CRASH, &a);
	}
	/* Quorum was lost, and voters were without Pods, by the hand that
	 * scaled the StatefulSet; the controller only brought them back. */
	w.quorum_lost_ever = w.voter_without_pod = false;
	world_assert_settled(&w, 3);
	for (int k = 0; k < 3; k++)
		assert_true(w.m[world_member_at(&w, k)].id == ids[k]); /* same members */
	assert_int_equal(w.removes, 0);
	assert_int_equal(w.adds, 2);
	/* Scaled to zero: nobody answers; the members last published get Pods. */
	w.sts = 0;
	world_tick(&w);
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_RAISE_STS);
	assert_string_equal(a.degraded_reason, "NoMemberAnswers");
	assert_int_equal(a.replicas, 3);
}

static void test_nobody_answers_is_degraded(void **state)
{
	struct world w;
	world_created(&w, 1);
	w.down[0] = true;
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
	assert_string_equal(a.degraded_reason, "NoMemberAnswers");
	assert_int_equal(w.ec.status.ready_replicas, 0);
	assert_int_equal(w.ec.status.replicas, 1); /* what was known stands */
}

static void test_cluster_id_mismatch_is_degraded(void **state)
{
	struct world w;
	world_created(&w, 3);
	w.cluster_id = 99;
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
	assert_string_equal(a.degraded_reason, "ClusterIDMismatch");
	assert_string_equal(w.ec.status.cluster_id, "77");
}

/* Drop the member of ordinal k from an observation (a list that misses it). */
static void drop_member(struct sc_observed *o, int k)
{
	int j = 0;
	for (int i = 0; i < o->nmembers; i++)
		if (o->members[i].ordinal != k)
			o->members[j++] = o->members[i];
	o->nmembers = j;
}

static void test_member_list_without_quorum_never_acts(void **state)
{
	/* A member's local list lags: here it misses demo-4, the voter promoted
	 * last. Acted on, it would lower the StatefulSet under that voter and
	 * then delete its claim (its data). Read with quorum, the same list
	 * would be the truth and the StatefulSet would come down. */
	struct world w;
	world_created(&w, 5);
	struct sc_observed o;
	world_observe(&w, &o);
	drop_member(&o, 4);
	o.members_quorum_read = false;
	snprintf(o.etcd_error, sizeof(o.etcd_error), "etcd demo-0: member list: request timed out");
	struct sc_action a;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT);
	assert_string_equal(a.progressing_reason, "NoQuorumRead");
	assert_non_null(strstr(a.progressing_message, "request timed out"));
	assert_true(a.hold_generation);
	o.pods[4].exists = false; /* … nor the claim of a Pod that is gone */
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT);
	/* The same list with quorum: a removal happened, the tail follows. */
	o.members_quorum_read = true;
	o.pods[4].exists = true;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_LOWER_STS);
	/* A lagging list that still shows a promoted member as a learner must
	 * not roll it back (MemberRemove of what is by now a voter). */
	world_observe(&w, &o);
	o.members[o.nmembers - 1].learner = true;
	o.members_quorum_read = false;
	w.ec.spec.replicas = 4;
	o.ec.spec.replicas = 4;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT);
	/* A lost quorum is still reported as such. */
	w.ec.spec.replicas = 5;
	w.down[1] = w.down[2] = w.down[3] = true;
	world_observe(&w, &o);
	o.members_quorum_read = false;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_REPORT_DEGRADED);
	assert_string_equal(a.degraded_reason, "QuorumLost");
}

static void test_member_answering_as_another_blocks(void **state)
{
	/* demo-0's Pod founded a new cluster after losing its volume (or
	 * mounts another member's): its address answers for someone else. */
	struct world w;
	world_created(&w, 3);
	struct sc_observed o;
	world_observe(&w, &o);
	int i0 = -1;
	for (int i = 0; i < o.nmembers; i++)
		if (o.members[i].ordinal == 0)
			i0 = i;
	o.members[i0].mismatch = true;
	o.members[i0].healthy = false;
	o.members[i0].leader_seen = 0;
	o.members[i0].answered_id = 4242;
	o.members[i0].answered_cluster = 99;
	struct sc_action a;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_REPORT_DEGRADED);
	assert_string_equal(a.degraded_reason, "MemberMismatch");
	assert_non_null(strstr(a.degraded_message, "4242"));
	assert_false(sc_pod_is_voter(&o, &a, 0)); /* no client traffic to the impostor */
	assert_true(sc_pod_is_voter(&o, &a, 1));
}

static void test_unmanaged_member_blocks(void **state)
{
	struct world w;
	world_created(&w, 1);
	struct sc_observed o;
	world_observe(&w, &o);
	struct sc_member *m = &o.members[o.nmembers++];
	memset(m, 0, sizeof(*m));
	m->id = 5;
	m->ordinal = -1;
	snprintf(m->peer_url, sizeof(m->peer_url), "http://10.1.2.3:2380");
	struct sc_action a;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_REPORT_DEGRADED);
	assert_string_equal(a.degraded_reason, "UnmanagedMember");
	assert_non_null(strstr(a.degraded_message, "10.1.2.3"));
}

static void test_bad_image_rolls_back_and_holds(void **state)
{
	struct world w;
	world_created(&w, 1);
	w.broken[1] = true;
	world_set_spec(&w, 2, 3);
	struct sc_action a;
	int rolled = -1;
	for (int r = 0; r < 120 && rolled < 0; r++) {
		if (world_reconcile(&w, NO_CRASH, &a) == SC_ROLLBACK)
			rolled = r;
		world_tick(&w);
	}
	assert_true(rolled > 0);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Progressing");
	assert_string_equal(c->status, "False");
	assert_string_equal(c->reason, "StepTimedOut");
	assert_non_null(strstr(c->message, "ErrImagePull"));
	/* The StatefulSet comes down, the claim goes, then it holds. */
	for (int r = 0; r < 10; r++) {
		world_reconcile(&w, NO_CRASH, &a);
		world_tick(&w);
	}
	assert_int_equal(w.sts, 1);
	assert_false(w.pvc[1]);
	assert_int_equal(world_voter_count(&w), 1);
	assert_int_equal(w.ec.status.phase, EC_FAILED);
	c = cluster_condition(&w.ec.status, "Progressing");
	assert_string_equal(c->reason, "StepTimedOut");
	assert_non_null(strstr(c->message, "ErrImagePull"));
	int adds = w.adds;
	for (int r = 0; r < 20; r++) {
		assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
		world_tick(&w);
	}
	assert_int_equal(w.adds, adds); /* no hot loop */
	assert_false(w.quorum_lost_ever);
	/* A spec change (the image fixed) retries at once. */
	w.broken[1] = false;
	w.ec.generation++;
	assert_true(world_run(&w, 3, 100, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 3);
	assert_int_equal(w.rollbacks, 1);
}

static void test_rollback_retries_after_backoff(void **state)
{
	struct world w;
	world_created(&w, 1);
	w.broken[1] = true;
	world_set_spec(&w, 2, EC_TARGET_NONE);
	for (int r = 0; r < 200 && w.rollbacks == 0; r++) {
		world_reconcile(&w, NO_CRASH, NULL);
		world_tick(&w);
	}
	assert_int_equal(w.rollbacks, 1);
	w.broken[1] = false;
	/* The back-off is 2 × step timeout (120 s): the same spec succeeds
	 * on the retry after it. */
	assert_true(world_run(&w, 2, 300, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
	assert_int_equal(w.adds, 2);
}

static void test_cancel_removes_learner_without_hold(void **state)
{
	struct world w;
	world_created(&w, 1);
	w.broken[1] = true;
	world_set_spec(&w, 2, EC_TARGET_NONE);
	for (int r = 0; r < 4; r++) {
		world_reconcile(&w, NO_CRASH, NULL);
		world_tick(&w);
	}
	assert_int_equal(w.max_learners, 1);
	world_set_spec(&w, 1, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_ROLLBACK);
	assert_string_equal(a.progressing_reason, "Cancelled");
	assert_true(world_run(&w, 1, 20, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 1);
}

static void test_lost_volume_is_replaced(void **state)
{
	struct world w;
	world_created(&w, 3);
	w.lost[1] = true;
	w.lost_since[1] = w.now;
	uint64_t old = w.m[world_member_at(&w, 1)].id;
	struct sc_action a;
	/* Within the grace period: reported, not touched. */
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
	for (int r = 0; r < 12 && a.kind != SC_REPLACE_MEMBER; r++) {
		world_tick(&w);
		world_reconcile(&w, NO_CRASH, &a);
	}
	assert_int_equal(a.kind, SC_REPLACE_MEMBER);
	assert_int_equal(a.member_id, old);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_REPLACE);
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_ADD_LEARNER);
	assert_int_equal(a.ordinal, 1); /* the hole, not ordinal 3 */
	assert_true(world_run(&w, 3, 40, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 3);
	assert_int_not_equal(w.m[world_member_at(&w, 1)].id, old);
}

static void test_refused_founder_is_replaced(void **state)
{
	/* Pod 0, the founding member, has its data emptied under the running
	 * Pod; the guard in etcd's container refuses every restart (exit 4).
	 * Within the grace nothing is touched; then the member is removed, the
	 * Pod deleted (only a new Pod's init step can join), a learner added
	 * at ordinal 0 and promoted: three voters of the one cluster. Without
	 * the Pod's deletion the learner would never start there. */
	struct world w;
	world_created(&w, 3);
	uint64_t cluster = w.cluster_id, old = w.m[world_member_at(&w, 0)].id;
	w.refused[0] = true;
	w.lost_since[0] = w.now;
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
	for (int r = 0; r < 12 && a.kind != SC_REPLACE_MEMBER; r++) {
		assert_int_not_equal(a.kind, SC_DELETE_POD); /* never a started member's Pod */
		world_tick(&w);
		world_reconcile(&w, NO_CRASH, &a);
	}
	assert_int_equal(a.kind, SC_REPLACE_MEMBER);
	assert_int_equal(a.member_id, old);
	world_tick(&w);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_DELETE_POD);
	assert_int_equal(a.ordinal, 0);
	assert_true(strstr(w.events, "DeletingRefusedPod") != NULL);
	assert_true(world_run(&w, 3, 40, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 3);
	assert_int_not_equal(w.m[world_member_at(&w, 0)].id, old);
	assert_true(w.cluster_id == cluster);
	assert_int_equal(w.pod_deletes, 1);
	assert_int_equal(w.removes, 1);
}

static void test_refused_pod_of_unstarted_learner_is_deleted(void **state)
{
	/* A learner was added at the ordinal of a refused Pod (a controller
	 * that crashed after the removal, or an older one): the Pod is
	 * deleted, not waited on until the step times out. */
	struct world w;
	world_created(&w, 3);
	int i = world_member_at(&w, 2);
	w.m[i].present = false;
	struct wmember *l = &w.m[w.nm++];
	memset(l, 0, sizeof(*l));
	l->present = true;
	l->id = w.next_id++;
	l->ordinal = 2;
	l->learner = true;
	w.refused[2] = true;
	w.lost_since[2] = w.now;
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_DELETE_POD);
	assert_int_equal(a.ordinal, 2);
	assert_true(world_run(&w, 3, 40, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 3);
	assert_int_equal(w.rollbacks, 0);
}

static void test_slow_init_is_never_taken_for_a_lost_volume(void **state)
{
	/* Two Pods sit in their init step for minutes with their data intact
	 * (their init image cannot be pulled after a node restart): nothing
	 * says a volume was lost, so no member is removed. Replacing on time
	 * alone would remove demo-1, then demo-2 (each removal keeps quorum),
	 * leaving one voter, and their init steps would wipe the data. */
	struct world w;
	world_created(&w, 5);
	w.slow[1] = w.slow[2] = true;
	w.lost_since[1] = w.lost_since[2] = w.now - 600000;
	struct sc_action a;
	for (int r = 0; r < 20; r++) {
		world_reconcile(&w, NO_CRASH, &a);
		assert_int_not_equal(a.kind, SC_REPLACE_MEMBER);
		world_tick(&w);
	}
	assert_int_equal(w.removes, 0);
	assert_int_equal(world_voter_count(&w), 5);
	w.slow[1] = w.slow[2] = false;
	assert_true(world_run(&w, 5, 20, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 5);
}

static void test_lost_volume_of_single_member_is_degraded(void **state)
{
	struct world w;
	world_created(&w, 1);
	w.lost[0] = true;
	w.lost_since[0] = w.now - 60000;
	struct sc_action a;
	for (int r = 0; r < 5; r++) {
		assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
		world_tick(&w);
	}
	assert_int_equal(w.removes, 0);
	assert_int_equal(w.nm, 1); /* never founded anew */
}

static void test_orphan_learner_is_finished_or_removed(void **state)
{
	/* A learner added by a controller that crashed right after MemberAdd,
	 * no record: finished when the spec wants it … */
	struct world w;
	world_created(&w, 1);
	world_set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(world_reconcile(&w, CRASH_AFTER_ACT, &a), SC_ADD_LEARNER);
	memset(&w.ec.status.scaling, 0, sizeof(w.ec.status.scaling));
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_RAISE_STS);
	assert_true(world_run(&w, 2, 30, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
	/* … and removed when it does not. */
	world_created(&w, 1);
	world_set_spec(&w, 2, EC_TARGET_NONE);
	world_reconcile(&w, NO_CRASH, &a);
	world_set_spec(&w, 1, EC_TARGET_NONE);
	assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_ROLLBACK);
	assert_true(world_run(&w, 1, 30, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 1);
}

static void test_killed_learner_pod_resumes(void **state)
{
	struct world w;
	world_created(&w, 1);
	w.catchup_ticks = 3;
	world_set_spec(&w, 2, EC_TARGET_NONE);
	for (int r = 0; r < 4; r++) {
		world_reconcile(&w, NO_CRASH, NULL);
		world_tick(&w);
	}
	w.down[1] = true;
	for (int r = 0; r < 3; r++) {
		struct sc_action a;
		assert_int_equal(world_reconcile(&w, NO_CRASH, &a), SC_WAIT);
		assert_string_equal(w.ec.status.scaling.step, EC_STEP_START_POD);
		world_tick(&w);
	}
	w.down[1] = false;
	assert_true(world_run(&w, 2, 30, -1, NO_CRASH) >= 0);
	world_assert_settled(&w, 2);
	assert_int_equal(w.adds, 1);
}

static void test_status_members_sorted_by_number(void **state)
{
	struct world w;
	world_created(&w, 1);
	struct sc_observed o;
	world_observe(&w, &o);
	int ords[] = {10, 2, 11, 1, 9, 3, 4, 5, 6, 7, 8};
	for (size_t i = 0; i < EO_ARRAY_LEN(ords); i++) {
		struct sc_member *m = &o.members[o.nmembers++];
		*m = o.members[0];
		m->id = 500 + i;
		m->ordinal = ords[i];
		snprintf(m->name, sizeof(m->name), "demo-%d", ords[i]);
	}
	struct sc_action a;
	sc_decide(&o, &a);
	struct ec_status st;
	sc_status(&o, &a, &st);
	assert_int_equal(st.nmembers, 12);
	for (int i = 0; i < 12; i++) {
		char want[32];
		snprintf(want, sizeof(want), "demo-%d", i);
		assert_string_equal(st.members[i].name, want);
	}
	assert_int_equal(st.replicas, 12);
	/* The PDB follows the voters' tolerance, or spec's when smaller. */
	o.ec.spec.replicas = 12;
	assert_int_equal(sc_pdb_max_unavailable(&o), 5);
	o.ec.spec.replicas = 7;
	assert_int_equal(sc_pdb_max_unavailable(&o), 3);
	world_observe(&w, &o);
	assert_int_equal(sc_pdb_max_unavailable(&o), 0);
}

static void test_unstarted_member_named_by_pod(void **state)
{
	struct world w;
	world_created(&w, 1);
	world_set_spec(&w, 2, EC_TARGET_NONE);
	world_reconcile(&w, NO_CRASH, NULL); /* AddLearner */
	world_tick(&w);
	struct sc_observed o;
	world_observe(&w, &o);
	struct sc_action a;
	sc_decide(&o, &a);
	struct ec_status st;
	sc_status(&o, &a, &st);
	assert_int_equal(st.nmembers, 2);
	assert_string_equal(st.members[1].name, "demo-1");
	assert_true(st.members[1].learner);
	assert_int_equal(st.learners, 1);
	assert_string_equal(st.leader, "demo-0");
	assert_true(st.members[0].leader);
	assert_false(sc_pod_is_voter(&o, &a, 1));
}

/* The sweep: a crash at every round of every scaling, in both ways. */
static void sweep(int from, int to)
{
	struct world base;
	world_created(&base, from);
	int rounds;
	{
		struct world w = base;
		world_set_spec(&w, from + (to > from ? 1 : -1), to);
		rounds = world_run(&w, to, 400, -1, NO_CRASH);
		assert_true(rounds > 0);
	}
	for (int r = 0; r <= rounds; r++)
		for (int c = CRASH_BEFORE_ACT; c <= CRASH_AFTER_ACT; c++) {
			struct world w = base;
			world_set_spec(&w, from + (to > from ? 1 : -1), to);
			int got = world_run(&w, to, 400, r, (enum world_crash)c);
			if (got < 0)
				fail_msg("%d → %d with a crash at round %d (%s) did not settle", from,
					 to, r, c == CRASH_BEFORE_ACT ? "before act" : "after act");
			world_assert_settled(&w, to);
		}
}

static void test_crash_sweep_up(void **state)
{
	sweep(1, 3);
	sweep(3, 5);
}

static void test_crash_sweep_down(void **state)
{
	sweep(5, 3);
	sweep(3, 1);
}

/* A restarted controller sees only the world: run with the record wiped
 * at every round (a status write that was lost). */
static void test_lost_status_writes(void **state)
{
	struct world base;
	world_created(&base, 1);
	for (int r = 0; r < 40; r++) {
		struct world w = base;
		world_set_spec(&w, 2, 3);
		for (int i = 0; i < 400; i++) {
			struct sc_action a;
			enum sc_kind k = world_reconcile(&w, NO_CRASH, &a);
			if (i == r)
				memset(&w.ec.status.scaling, 0, sizeof(w.ec.status.scaling));
			if (k == SC_NONE && w.ec.spec.replicas == 3 && w.ec.target == EC_TARGET_NONE)
				break;
			world_tick(&w);
		}
		world_assert_settled(&w, 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_ordinals),
		cmocka_unit_test(test_create_bootstraps_one_member_then_clears_flag),
		cmocka_unit_test(test_claims_of_a_deleted_cluster_block_creation),
		cmocka_unit_test(test_pod0_never_refounds_after_bootstrap),
		cmocka_unit_test(test_pod_made_for_bootstrap_loses_the_permission),
		cmocka_unit_test(test_scale_up_steps_in_order),
		cmocka_unit_test(test_staged_target_walks_one_step_at_a_time),
		cmocka_unit_test(test_patch_waits_for_settled_status),
		cmocka_unit_test(test_scale_down_moves_leadership_first),
		cmocka_unit_test(test_unhealthy_member_shows_in_the_phase),
		cmocka_unit_test(test_scale_down_refused_without_quorum_after),
		cmocka_unit_test(test_quorum_lost_reports_and_never_acts),
		cmocka_unit_test(test_pods_come_back_for_members_while_degraded),
		cmocka_unit_test(test_nobody_answers_is_degraded),
		cmocka_unit_test(test_cluster_id_mismatch_is_degraded),
		cmocka_unit_test(test_member_list_without_quorum_never_acts),
		cmocka_unit_test(test_member_answering_as_another_blocks),
		cmocka_unit_test(test_unmanaged_member_blocks),
		cmocka_unit_test(test_bad_image_rolls_back_and_holds),
		cmocka_unit_test(test_rollback_retries_after_backoff),
		cmocka_unit_test(test_cancel_removes_learner_without_hold),
		cmocka_unit_test(test_lost_volume_is_replaced),
		cmocka_unit_test(test_refused_founder_is_replaced),
		cmocka_unit_test(test_refused_pod_of_unstarted_learner_is_deleted),
		cmocka_unit_test(test_slow_init_is_never_taken_for_a_lost_volume),
		cmocka_unit_test(test_lost_volume_of_single_member_is_degraded),
		cmocka_unit_test(test_orphan_learner_is_finished_or_removed),
		cmocka_unit_test(test_killed_learner_pod_resumes),
		cmocka_unit_test(test_status_members_sorted_by_number),
		cmocka_unit_test(test_unstarted_member_named_by_pod),
		cmocka_unit_test(test_crash_sweep_up),
		cmocka_unit_test(test_crash_sweep_down),
		cmocka_unit_test(test_lost_status_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
