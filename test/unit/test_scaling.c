/*
 * Unit tests for shared/scaling.c, the scaling protocol as a pure decision.
 *
 * Besides single snapshots, a small world model plays etcd, the StatefulSet
 * controller and the kubelet: each round observes the world, decides,
 * publishes the status (as the reconciler does, before acting), acts, and
 * lets the world move one tick. Whole scalings run to completion on it, and
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

/* ---- the world -------------------------------------------------------- */

struct wmember {
	bool present;
	uint64_t id;
	int ordinal;
	bool learner, started;
	uint64_t applied;
	int running_ticks;
};

struct world {
	struct etcd_cluster ec;
	bool created; /* services, StatefulSet, PDB */
	int sts;
	bool bootstrap_flag;
	struct wmember m[SC_MAX_ORDINALS + 4];
	int nm;
	uint64_t leader;
	uint64_t raft_index;
	uint64_t cluster_id;
	bool pod[SC_MAX_ORDINALS], pod_terminating[SC_MAX_ORDINALS];
	bool pod_bootstrap[SC_MAX_ORDINALS]; /* made while the template allowed bootstrap */
	bool pvc[SC_MAX_ORDINALS];
	bool broken[SC_MAX_ORDINALS];    /* the Pod never starts (bad image) */
	bool lost[SC_MAX_ORDINALS];      /* the Pod's volume is gone: its init step says so */
	bool slow[SC_MAX_ORDINALS];      /* the Pod sits in its init step, data intact (an
					    image pull, DNS): no evidence of anything */
	int64_t lost_since[SC_MAX_ORDINALS];
	bool down[SC_MAX_ORDINALS];      /* the process is down (a fault) */
	int catchup_ticks;
	int64_t now;
	uint64_t next_id;
	/* what the run saw */
	int max_learners, adds, removes, promotes, transfers, pvc_deletes, rollbacks;
	int pdb_budget;   /* the PodDisruptionBudget's maxUnavailable */
	bool quorum_lost_ever;
	bool voter_without_pod;
	char events[4096];
};

static struct etcd_cluster parse_ec(const char *json)
{
	struct eo_err err;
	json_object *o = json_parse(json, strlen(json), &err);
	assert_non_null(o);
	struct etcd_cluster c;
	assert_int_equal(cluster_parse(o, &c, &err), 0);
	json_object_put(o);
	return c;
}

static void world_init(struct world *w, int replicas)
{
	memset(w, 0, sizeof(*w));
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
		 "\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"uid\":\"u1\","
		 "\"generation\":1,\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":%d}}",
		 replicas);
	w->ec = parse_ec(buf);
	w->now = 1700000000000LL;
	w->next_id = 1000;
	w->catchup_ticks = 1;
	w->raft_index = 10;
}

static int member_at(const struct world *w, int k)
{
	for (int i = 0; i < w->nm; i++)
		if (w->m[i].present && w->m[i].ordinal == k)
			return i;
	return -1;
}

static bool running(const struct world *w, int i)
{
	const struct wmember *m = &w->m[i];
	int k = m->ordinal;
	return m->present && w->pod[k] && !w->pod_terminating[k] && !w->broken[k] &&
	       !w->lost[k] && !w->slow[k] && !w->down[k];
}

static void voters(const struct world *w, int *n, int *healthy)
{
	*n = *healthy = 0;
	for (int i = 0; i < w->nm; i++)
		if (w->m[i].present && !w->m[i].learner) {
			(*n)++;
			if (running(w, i) && w->m[i].started)
				(*healthy)++;
		}
}

static void rfc3339(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void observe(const struct world *w, struct sc_observed *o)
{
	memset(o, 0, sizeof(*o));
	o->ec = w->ec;
	o->peer_service = o->client_service = o->statefulset = o->pdb = w->created;
	o->pdb_max_unavailable = w->created ? w->pdb_budget : -1;
	o->sts_replicas = w->sts;
	o->sts_bootstrap = w->bootstrap_flag;
	o->now_ms = w->now;
	rfc3339(w->now, o->now_rfc3339);
	o->step_timeout_ms = 60000;
	o->replace_grace_ms = 10000;
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		struct sc_pod *p = &o->pods[k];
		p->exists = w->pod[k];
		p->terminating = w->pod_terminating[k];
		p->bootstrap = p->exists && w->pod_bootstrap[k];
		int i = member_at(w, k);
		p->ready = p->exists && !w->broken[k] && !w->lost[k] && !w->slow[k] && !w->down[k] && i >= 0 &&
			   running(w, i);
		if (p->exists && w->broken[k])
			snprintf(p->waiting_reason, sizeof(p->waiting_reason), "ErrImagePull");
		if (p->exists && (w->lost[k] || w->slow[k])) {
			p->initializing = true;
			p->init_since_ms = w->lost_since[k];
			p->volume_lost = w->lost[k];
		}
		o->pvcs[k] = w->pvc[k];
	}
	int any = -1;
	for (int i = 0; i < w->nm; i++)
		if (running(w, i) && w->m[i].started && !w->m[i].learner)
			any = i;
	if (any < 0) {
		snprintf(o->etcd_error, sizeof(o->etcd_error), "connection refused");
		return;
	}
	o->etcd_answered = true;
	o->members_quorum_read = true;
	o->cluster_id = w->cluster_id;
	int nv, nh;
	voters(w, &nv, &nh);
	bool quorum = nh >= ec_quorum(nv);
	for (int i = 0; i < w->nm; i++) {
		const struct wmember *m = &w->m[i];
		if (!m->present)
			continue;
		struct sc_member *s = &o->members[o->nmembers++];
		s->id = m->id;
		s->ordinal = m->ordinal;
		s->learner = m->learner;
		if (m->started)
			snprintf(s->name, sizeof(s->name), "demo-%d", m->ordinal);
		sc_peer_url(&w->ec, m->ordinal, s->peer_url, sizeof(s->peer_url));
		sc_client_url(&w->ec, m->ordinal, s->client_url, sizeof(s->client_url));
		s->reachable = running(w, i);
		s->leader_seen = s->reachable && quorum ? w->leader : 0;
		s->healthy = s->reachable && s->leader_seen != 0;
		s->raft_index = m->learner ? m->applied : w->raft_index;
		s->raft_applied_index = m->learner ? m->applied : w->raft_index;
		s->db_size = 20480;
	}
}

static void check_invariants(struct world *w)
{
	int nl = 0;
	for (int i = 0; i < w->nm; i++)
		if (w->m[i].present && w->m[i].learner)
			nl++;
	if (nl > w->max_learners)
		w->max_learners = nl;
	int nv, nh;
	voters(w, &nv, &nh);
	if (nv > 0 && nh < ec_quorum(nv))
		w->quorum_lost_ever = true;
	for (int i = 0; i < w->nm; i++)
		if (w->m[i].present && !w->m[i].learner && w->m[i].ordinal >= w->sts)
			w->voter_without_pod = true;
}

static uint64_t pick_leader(struct world *w, uint64_t not)
{
	for (int i = 0; i < w->nm; i++)
		if (w->m[i].present && !w->m[i].learner && w->m[i].id != not && running(w, i))
			return w->m[i].id;
	return 0;
}

static void remove_member(struct world *w, uint64_t id)
{
	for (int i = 0; i < w->nm; i++)
		if (w->m[i].present && w->m[i].id == id) {
			w->m[i].present = false;
			w->removes++;
			if (w->leader == id)
				w->leader = pick_leader(w, id);
			return;
		}
	fail_msg("MemberRemove of an unknown id %llu", (unsigned long long)id);
}

/* The action, as the reconciler would take it. */
static void act(struct world *w, const struct sc_action *a)
{
	switch (a->kind) {
	case SC_NONE:
	case SC_WAIT:
	case SC_REPORT_DEGRADED:
		break;
	case SC_CREATE_RESOURCES:
		w->created = true;
		w->sts = a->replicas;
		w->bootstrap_flag = a->bootstrap;
		break;
	case SC_SET_BOOTSTRAP_DONE:
		w->bootstrap_flag = false;
		memset(w->pod_bootstrap, 0, sizeof(w->pod_bootstrap));
		break;
	case SC_ADD_LEARNER: {
		int nl = 0;
		for (int i = 0; i < w->nm; i++)
			if (w->m[i].present && w->m[i].learner)
				nl++;
		assert_int_equal(nl, 0); /* etcd: too many learner members */
		assert_int_equal(member_at(w, a->ordinal), -1); /* peer URL exists */
		/* Only on a settled cluster: every voter healthy and a quorum. */
		int nv, nh;
		voters(w, &nv, &nh);
		assert_int_equal(nh, nv);
		struct wmember *m = &w->m[w->nm++];
		memset(m, 0, sizeof(*m));
		m->present = true;
		m->id = w->next_id++;
		m->ordinal = a->ordinal;
		m->learner = true;
		w->adds++;
		break;
	}
	case SC_RAISE_STS:
	case SC_LOWER_STS:
		w->sts = a->replicas;
		break;
	case SC_PROMOTE:
		for (int i = 0; i < w->nm; i++)
			if (w->m[i].present && w->m[i].id == a->member_id) {
				assert_true(w->m[i].learner);
				assert_true(w->m[i].applied >= w->raft_index);
				w->m[i].learner = false;
				w->promotes++;
			}
		break;
	case SC_TRANSFER_LEADERSHIP:
		assert_int_equal(w->leader, a->member_id);
		w->leader = a->target_id;
		w->transfers++;
		break;
	case SC_REMOVE_MEMBER: {
		assert_int_not_equal(w->leader, a->member_id); /* never remove the leader */
		/* A drain during the removal may not take a second voter: the
		 * budget is already the one of the smaller cluster. */
		int nv, nh;
		voters(w, &nv, &nh);
		assert_true(w->pdb_budget <= ec_tolerance(nv - 1));
		remove_member(w, a->member_id);
		break;
	}
	case SC_ROLLBACK:
		w->rollbacks++;
		remove_member(w, a->member_id);
		break;
	case SC_REPLACE_MEMBER:
		remove_member(w, a->member_id);
		break;
	case SC_DELETE_PVC:
		assert_false(w->pod[a->ordinal]);
		/* Never the claim of a member that is still in the cluster. */
		assert_int_equal(member_at(w, a->ordinal), -1);
		w->pvc[a->ordinal] = false;
		w->pvc_deletes++;
		break;
	case SC_PATCH_REPLICAS: {
		/* Through the webhook: the old object must be settled. */
		assert_int_equal(w->ec.status.phase, EC_RUNNING);
		assert_int_equal(w->ec.status.observed_generation, w->ec.generation);
		int64_t d = a->replicas - w->ec.spec.replicas;
		assert_true(d == 1 || d == -1);
		w->ec.spec.replicas = a->replicas;
		w->ec.generation++;
		break;
	}
	case SC_DROP_TARGET:
		w->ec.target = EC_TARGET_NONE;
		break;
	}
}

/* One tick: the StatefulSet controller, the kubelet and etcd move. */
static void tick(struct world *w)
{
	w->now += 1000;
	w->raft_index += 3;
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		if (w->pod_terminating[k]) {
			w->pod[k] = w->pod_terminating[k] = false;
		} else if (w->pod[k] && k >= w->sts) {
			w->pod_terminating[k] = true;
		} else if (!w->pod[k] && k < w->sts && w->created) {
			w->pod[k] = true;
			w->pvc[k] = true;
			w->pod_bootstrap[k] = w->bootstrap_flag;
		}
	}
	/* Pod 0 founds the cluster when bootstrap is allowed and nobody exists. */
	if (w->pod[0] && w->pod_bootstrap[0] && w->nm == 0 && !w->broken[0]) {
		struct wmember *m = &w->m[w->nm++];
		memset(m, 0, sizeof(*m));
		m->present = true;
		m->id = w->next_id++;
		m->ordinal = 0;
		w->leader = m->id;
		w->cluster_id = 77;
	}
	for (int i = 0; i < w->nm; i++) {
		struct wmember *m = &w->m[i];
		if (!running(w, i))
			continue;
		m->started = true;
		if (++m->running_ticks > w->catchup_ticks)
			m->applied = w->raft_index + 3; /* caught up by the next observation */
	}
	/* A lost volume is back once its member was re-added (unstarted). */
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		int i = member_at(w, k);
		if (w->lost[k] && i >= 0 && !w->m[i].started)
			w->lost[k] = false;
	}
	if (!w->leader)
		w->leader = pick_leader(w, 0);
	check_invariants(w);
}

enum crash { NO_CRASH, CRASH_BEFORE_ACT, CRASH_AFTER_ACT };

/* One reconcile: observe, decide, publish, act. Returns the action kind. */
static enum sc_kind reconcile(struct world *w, enum crash crash, struct sc_action *out)
{
	struct sc_observed o;
	struct sc_action a;
	observe(w, &o);
	sc_decide(&o, &a);
	struct ec_status st;
	sc_status(&o, &a, &st);
	w->ec.status = st;
	if (a.event_reason[0]) {
		size_t n = strlen(w->events);
		snprintf(w->events + n, sizeof(w->events) - n, "%s ", a.event_reason);
	}
	if (crash != CRASH_BEFORE_ACT) {
		/* The reconciler's side effects of the observation, then the action. */
		if (w->created && o.members_quorum_read)
			w->pdb_budget = sc_pdb_max_unavailable(&o);
		act(w, &a);
	}
	check_invariants(w);
	if (out)
		*out = a;
	return a.kind;
}

/* Run until settled at spec == goal with no target; at most max rounds. */
static int run(struct world *w, int goal, int max, int crash_round, enum crash crash)
{
	for (int r = 0; r < max; r++) {
		struct sc_action a;
		enum sc_kind k = reconcile(w, r == crash_round ? crash : NO_CRASH, &a);
		if (k == SC_NONE && w->ec.spec.replicas == goal && w->ec.target == EC_TARGET_NONE)
			return r;
		tick(w);
	}
	return -1;
}

static int voter_count(const struct world *w)
{
	int n, h;
	voters(w, &n, &h);
	return n;
}

static void set_spec(struct world *w, int replicas, int target)
{
	w->ec.spec.replicas = replicas;
	w->ec.target = target;
	w->ec.generation++;
}

static void assert_settled(const struct world *w, int n)
{
	assert_int_equal(voter_count(w), n);
	assert_int_equal(w->sts, n);
	for (int k = n; k < SC_MAX_ORDINALS; k++) {
		assert_false(w->pvc[k]);
		assert_false(w->pod[k]);
	}
	assert_int_equal(w->ec.status.phase, EC_RUNNING);
	assert_int_equal(w->ec.status.replicas, n);
	assert_int_equal(w->ec.status.ready_replicas, n);
	assert_false(w->ec.status.scaling.active);
	assert_false(w->quorum_lost_ever);
	assert_false(w->voter_without_pod);
	assert_true(w->max_learners <= 1);
}

/* A cluster created with 1 member and settled. */
static void created(struct world *w, int replicas)
{
	world_init(w, 1);
	assert_true(run(w, 1, 40, -1, NO_CRASH) >= 0);
	assert_settled(w, 1);
	if (replicas > 1) {
		set_spec(w, 2, replicas > 2 ? replicas : EC_TARGET_NONE);
		assert_true(run(w, replicas, 200, -1, NO_CRASH) >= 0);
		assert_settled(w, replicas);
	}
}

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
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_CREATE_RESOURCES);
	assert_true(a.bootstrap);
	assert_int_equal(a.replicas, 1);
	assert_int_equal(w.ec.status.phase, EC_CREATING);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT); /* member 0 not up yet */
	assert_non_null(strstr(a.progressing_message, "demo-0"));
	tick(&w);
	tick(&w);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_string_equal(a.event_reason, "ClusterCreated");
	assert_string_equal(w.ec.status.cluster_id, "77");
	/* Founded and recorded, but Pod 0 may still found: no client traffic. */
	struct sc_observed o;
	observe(&w, &o);
	assert_true(o.pods[0].bootstrap);
	assert_false(sc_pod_is_voter(&o, &a, 0));
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_SET_BOOTSTRAP_DONE);
	assert_false(w.bootstrap_flag);
	observe(&w, &o);
	assert_true(sc_pod_is_voter(&o, &a, 0));
	assert_true(run(&w, 1, 10, -1, NO_CRASH) >= 0);
	assert_settled(&w, 1);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Available");
	assert_non_null(c);
	assert_string_equal(c->status, "True");
}

static void test_pod0_never_refounds_after_bootstrap(void **state)
{
	/* With status.clusterID recorded, a missing StatefulSet comes back
	 * without the bootstrap flag and as many Pods as members. */
	struct world w;
	created(&w, 3);
	w.created = false;
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_CREATE_RESOURCES);
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
	created(&w, 1);
	assert_false(w.bootstrap_flag);
	assert_false(w.pod_bootstrap[0]);
	/* The template was cleared, but the Pod's own annotation was not (a
	 * patch that failed, or a controller version that never made it). */
	w.pod_bootstrap[0] = true;
	set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_SET_BOOTSTRAP_DONE);
	assert_false(w.pod_bootstrap[0]);
	assert_int_equal(w.adds, 0); /* nothing else first */
	assert_true(run(&w, 2, 40, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
	/* A terminating Pod is not patched (it will not run again). */
	w.pod_bootstrap[1] = true;
	w.pod_terminating[1] = true;
	struct sc_observed o;
	observe(&w, &o);
	sc_decide(&o, &a);
	assert_int_not_equal(a.kind, SC_SET_BOOTSTRAP_DONE);
}

static void test_scale_up_steps_in_order(void **state)
{
	struct world w;
	created(&w, 1);
	set_spec(&w, 2, EC_TARGET_NONE);
	const char *want[] = {EC_STEP_ADD_LEARNER, EC_STEP_START_POD, EC_STEP_START_POD,
			      EC_STEP_CATCH_UP, EC_STEP_CATCH_UP, EC_STEP_PROMOTE};
	enum sc_kind kinds[] = {SC_ADD_LEARNER, SC_RAISE_STS, SC_WAIT, SC_WAIT, SC_WAIT, SC_PROMOTE};
	w.catchup_ticks = 1;
	w.down[1] = true; /* the new Pod takes a round to start */
	for (size_t i = 0; i < EO_ARRAY_LEN(want); i++) {
		if (i == 3)
			w.down[1] = false;
		struct sc_action a;
		enum sc_kind k = reconcile(&w, NO_CRASH, &a);
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
		tick(&w);
	}
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_string_equal(a.event_reason, "ScaleStepCompleted");
	assert_false(w.ec.status.scaling.active);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_NONE);
	assert_settled(&w, 2);
}

static void test_staged_target_walks_one_step_at_a_time(void **state)
{
	struct world w;
	created(&w, 1);
	/* What the webhook stores for a request of 5: spec 2, target 5. */
	set_spec(&w, 2, 5);
	assert_true(run(&w, 5, 300, -1, NO_CRASH) >= 0);
	assert_settled(&w, 5);
	assert_int_equal(w.adds, 4);
	assert_int_equal(w.promotes, 4);
	assert_int_equal(w.ec.target, EC_TARGET_NONE);
	assert_non_null(strstr(w.events, "ScaleStaged"));
	assert_non_null(strstr(w.events, "TargetReached"));
	/* 5 → 3 → 1 → 3 */
	set_spec(&w, 4, 3);
	assert_true(run(&w, 3, 300, -1, NO_CRASH) >= 0);
	assert_settled(&w, 3);
	set_spec(&w, 2, 1);
	assert_true(run(&w, 1, 300, -1, NO_CRASH) >= 0);
	assert_settled(&w, 1);
	assert_int_equal(w.pvc_deletes, 4);
	set_spec(&w, 2, 3);
	assert_true(run(&w, 3, 300, -1, NO_CRASH) >= 0);
	assert_settled(&w, 3);
}

static void test_patch_waits_for_settled_status(void **state)
{
	struct world w;
	created(&w, 2);
	set_spec(&w, 2, 3); /* generation moved: the published status is stale */
	w.ec.spec.replicas = 2;
	struct sc_observed o;
	struct sc_action a;
	observe(&w, &o);
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT);
	assert_string_equal(a.progressing_reason, "Staging");
	struct ec_status st;
	sc_status(&o, &a, &st);
	w.ec.status = st;
	observe(&w, &o);
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
	created(&w, 3);
	/* Make the highest ordinal the leader. */
	w.leader = w.m[member_at(&w, 2)].id;
	set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	/* The disruption budget of 2 voters (none) before anything moves. */
	assert_int_equal(w.pdb_budget, 1);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_string_equal(a.progressing_reason, "TighteningBudget");
	assert_int_equal(w.pdb_budget, 0);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_TRANSFER_LEADERSHIP);
	assert_int_equal(a.member_id, w.m[member_at(&w, 2)].id);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_TRANSFER_LEADERSHIP);
	/* The leaving member is out of the client Service already. */
	struct sc_observed o;
	observe(&w, &o);
	assert_false(sc_pod_is_voter(&o, &a, 2));
	assert_true(sc_pod_is_voter(&o, &a, 0));
	tick(&w);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_REMOVE_MEMBER);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_REMOVE_MEMBER);
	tick(&w);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_LOWER_STS);
	assert_int_equal(a.replicas, 2);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_SHRINK);
	tick(&w);
	/* The Pod is terminating: the claim waits. */
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
	assert_true(w.pvc[2]);
	tick(&w);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_DELETE_PVC);
	assert_int_equal(a.ordinal, 2);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_DELETE_VOLUME);
	tick(&w);
	assert_true(run(&w, 2, 10, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
	assert_int_equal(w.transfers, 1);
}

static void test_scale_down_refused_without_quorum_after(void **state)
{
	struct world w;
	created(&w, 3);
	w.down[0] = true; /* 2 of 3 healthy: removing demo-2 leaves 1 of 2 */
	set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	for (int i = 0; i < 5; i++) {
		enum sc_kind k = reconcile(&w, NO_CRASH, &a);
		assert_true(k == SC_WAIT);
		tick(&w);
	}
	assert_int_equal(voter_count(&w), 3);
	assert_non_null(strstr(a.progressing_message, "demo-0"));
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Degraded");
	assert_string_equal(c->status, "True");
	assert_string_equal(c->reason, "MemberUnhealthy");
	w.down[0] = false;
	assert_true(run(&w, 2, 30, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
}

static void test_quorum_lost_reports_and_never_acts(void **state)
{
	struct world w;
	created(&w, 3);
	w.down[1] = w.down[2] = true;
	set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
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
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
	assert_string_equal(a.event_reason, "");
	assert_int_equal(w.removes, 0);
	/* Back: the scale-down goes on. */
	w.down[1] = w.down[2] = false;
	w.quorum_lost_ever = false; /* lost on purpose above */
	assert_true(run(&w, 2, 40, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
}

static void test_pods_come_back_for_members_while_degraded(void **state)
{
	/* Someone scaled the StatefulSet to 1 by hand: demo-1 and demo-2 lose
	 * their Pods, quorum is lost. Membership is never touched, but the Pods
	 * come back, on their data, and the cluster recovers by itself. */
	struct world w;
	created(&w, 3);
	uint64_t ids[3];
	for (int k = 0; k < 3; k++)
		ids[k] = w.m[member_at(&w, k)].id;
	w.sts = 1;
	tick(&w);
	tick(&w);
	assert_false(w.pod[1]);
	w.quorum_lost_ever = false; /* lost on purpose */
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_RAISE_STS);
	assert_int_equal(a.replicas, 3);
	assert_string_equal(a.degraded_reason, "QuorumLost");
	assert_int_equal(w.ec.status.phase, EC_DEGRADED);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Degraded");
	assert_string_equal(c->reason, "QuorumLost");
	assert_non_null(strstr(c->message, "raised from 1 to 3"));
	w.quorum_lost_ever = false;
	for (int r = 0; r < 40 && !(w.ec.status.phase == EC_RUNNING && a.kind == SC_NONE); r++) {
		tick(&w);
		reconcile(&w, NO_CRASH, &a);
	}
	/* Quorum was lost, and voters were without Pods, by the hand that
	 * scaled the StatefulSet; the controller only brought them back. */
	w.quorum_lost_ever = w.voter_without_pod = false;
	assert_settled(&w, 3);
	for (int k = 0; k < 3; k++)
		assert_true(w.m[member_at(&w, k)].id == ids[k]); /* same members */
	assert_int_equal(w.removes, 0);
	assert_int_equal(w.adds, 2);
	/* Scaled to zero: nobody answers; the members last published get Pods. */
	w.sts = 0;
	tick(&w);
	tick(&w);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_RAISE_STS);
	assert_string_equal(a.degraded_reason, "NoMemberAnswers");
	assert_int_equal(a.replicas, 3);
}

static void test_nobody_answers_is_degraded(void **state)
{
	struct world w;
	created(&w, 1);
	w.down[0] = true;
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
	assert_string_equal(a.degraded_reason, "NoMemberAnswers");
	assert_int_equal(w.ec.status.ready_replicas, 0);
	assert_int_equal(w.ec.status.replicas, 1); /* what was known stands */
}

static void test_cluster_id_mismatch_is_degraded(void **state)
{
	struct world w;
	created(&w, 3);
	w.cluster_id = 99;
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
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
	created(&w, 5);
	struct sc_observed o;
	observe(&w, &o);
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
	observe(&w, &o);
	o.members[o.nmembers - 1].learner = true;
	o.members_quorum_read = false;
	w.ec.spec.replicas = 4;
	o.ec.spec.replicas = 4;
	sc_decide(&o, &a);
	assert_int_equal(a.kind, SC_WAIT);
	/* A lost quorum is still reported as such. */
	w.ec.spec.replicas = 5;
	w.down[1] = w.down[2] = w.down[3] = true;
	observe(&w, &o);
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
	created(&w, 3);
	struct sc_observed o;
	observe(&w, &o);
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
	created(&w, 1);
	struct sc_observed o;
	observe(&w, &o);
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
	created(&w, 1);
	w.broken[1] = true;
	set_spec(&w, 2, 3);
	struct sc_action a;
	int rolled = -1;
	for (int r = 0; r < 120 && rolled < 0; r++) {
		if (reconcile(&w, NO_CRASH, &a) == SC_ROLLBACK)
			rolled = r;
		tick(&w);
	}
	assert_true(rolled > 0);
	const struct ec_condition *c = cluster_condition(&w.ec.status, "Progressing");
	assert_string_equal(c->status, "False");
	assert_string_equal(c->reason, "StepTimedOut");
	assert_non_null(strstr(c->message, "ErrImagePull"));
	/* The StatefulSet comes down, the claim goes, then it holds. */
	for (int r = 0; r < 10; r++) {
		reconcile(&w, NO_CRASH, &a);
		tick(&w);
	}
	assert_int_equal(w.sts, 1);
	assert_false(w.pvc[1]);
	assert_int_equal(voter_count(&w), 1);
	assert_int_equal(w.ec.status.phase, EC_FAILED);
	c = cluster_condition(&w.ec.status, "Progressing");
	assert_string_equal(c->reason, "StepTimedOut");
	assert_non_null(strstr(c->message, "ErrImagePull"));
	int adds = w.adds;
	for (int r = 0; r < 20; r++) {
		assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
		tick(&w);
	}
	assert_int_equal(w.adds, adds); /* no hot loop */
	assert_false(w.quorum_lost_ever);
	/* A spec change (the image fixed) retries at once. */
	w.broken[1] = false;
	w.ec.generation++;
	assert_true(run(&w, 3, 100, -1, NO_CRASH) >= 0);
	assert_settled(&w, 3);
	assert_int_equal(w.rollbacks, 1);
}

static void test_rollback_retries_after_backoff(void **state)
{
	struct world w;
	created(&w, 1);
	w.broken[1] = true;
	set_spec(&w, 2, EC_TARGET_NONE);
	for (int r = 0; r < 200 && w.rollbacks == 0; r++) {
		reconcile(&w, NO_CRASH, NULL);
		tick(&w);
	}
	assert_int_equal(w.rollbacks, 1);
	w.broken[1] = false;
	/* The back-off is 2 × step timeout (120 s): the same spec succeeds
	 * on the retry after it. */
	assert_true(run(&w, 2, 300, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
	assert_int_equal(w.adds, 2);
}

static void test_cancel_removes_learner_without_hold(void **state)
{
	struct world w;
	created(&w, 1);
	w.broken[1] = true;
	set_spec(&w, 2, EC_TARGET_NONE);
	for (int r = 0; r < 4; r++) {
		reconcile(&w, NO_CRASH, NULL);
		tick(&w);
	}
	assert_int_equal(w.max_learners, 1);
	set_spec(&w, 1, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_ROLLBACK);
	assert_string_equal(a.progressing_reason, "Cancelled");
	assert_true(run(&w, 1, 20, -1, NO_CRASH) >= 0);
	assert_settled(&w, 1);
}

static void test_lost_volume_is_replaced(void **state)
{
	struct world w;
	created(&w, 3);
	w.lost[1] = true;
	w.lost_since[1] = w.now;
	uint64_t old = w.m[member_at(&w, 1)].id;
	struct sc_action a;
	/* Within the grace period: reported, not touched. */
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
	for (int r = 0; r < 12 && a.kind != SC_REPLACE_MEMBER; r++) {
		tick(&w);
		reconcile(&w, NO_CRASH, &a);
	}
	assert_int_equal(a.kind, SC_REPLACE_MEMBER);
	assert_int_equal(a.member_id, old);
	assert_string_equal(w.ec.status.scaling.step, EC_STEP_REPLACE);
	tick(&w);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_ADD_LEARNER);
	assert_int_equal(a.ordinal, 1); /* the hole, not ordinal 3 */
	assert_true(run(&w, 3, 40, -1, NO_CRASH) >= 0);
	assert_settled(&w, 3);
	assert_int_not_equal(w.m[member_at(&w, 1)].id, old);
}

static void test_slow_init_is_never_taken_for_a_lost_volume(void **state)
{
	/* Two Pods sit in their init step for minutes with their data intact
	 * (their init image cannot be pulled after a node restart): nothing
	 * says a volume was lost, so no member is removed. Replacing on time
	 * alone would remove demo-1, then demo-2 (each removal keeps quorum),
	 * leaving one voter, and their init steps would wipe the data. */
	struct world w;
	created(&w, 5);
	w.slow[1] = w.slow[2] = true;
	w.lost_since[1] = w.lost_since[2] = w.now - 600000;
	struct sc_action a;
	for (int r = 0; r < 20; r++) {
		reconcile(&w, NO_CRASH, &a);
		assert_int_not_equal(a.kind, SC_REPLACE_MEMBER);
		tick(&w);
	}
	assert_int_equal(w.removes, 0);
	assert_int_equal(voter_count(&w), 5);
	w.slow[1] = w.slow[2] = false;
	assert_true(run(&w, 5, 20, -1, NO_CRASH) >= 0);
	assert_settled(&w, 5);
}

static void test_lost_volume_of_single_member_is_degraded(void **state)
{
	struct world w;
	created(&w, 1);
	w.lost[0] = true;
	w.lost_since[0] = w.now - 60000;
	struct sc_action a;
	for (int r = 0; r < 5; r++) {
		assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_REPORT_DEGRADED);
		tick(&w);
	}
	assert_int_equal(w.removes, 0);
	assert_int_equal(w.nm, 1); /* never founded anew */
}

static void test_orphan_learner_is_finished_or_removed(void **state)
{
	/* A learner added by a controller that crashed right after MemberAdd,
	 * no record: finished when the spec wants it … */
	struct world w;
	created(&w, 1);
	set_spec(&w, 2, EC_TARGET_NONE);
	struct sc_action a;
	assert_int_equal(reconcile(&w, CRASH_AFTER_ACT, &a), SC_ADD_LEARNER);
	memset(&w.ec.status.scaling, 0, sizeof(w.ec.status.scaling));
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_RAISE_STS);
	assert_true(run(&w, 2, 30, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
	/* … and removed when it does not. */
	created(&w, 1);
	set_spec(&w, 2, EC_TARGET_NONE);
	reconcile(&w, NO_CRASH, &a);
	set_spec(&w, 1, EC_TARGET_NONE);
	assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_ROLLBACK);
	assert_true(run(&w, 1, 30, -1, NO_CRASH) >= 0);
	assert_settled(&w, 1);
}

static void test_killed_learner_pod_resumes(void **state)
{
	struct world w;
	created(&w, 1);
	w.catchup_ticks = 3;
	set_spec(&w, 2, EC_TARGET_NONE);
	for (int r = 0; r < 4; r++) {
		reconcile(&w, NO_CRASH, NULL);
		tick(&w);
	}
	w.down[1] = true;
	for (int r = 0; r < 3; r++) {
		struct sc_action a;
		assert_int_equal(reconcile(&w, NO_CRASH, &a), SC_WAIT);
		assert_string_equal(w.ec.status.scaling.step, EC_STEP_START_POD);
		tick(&w);
	}
	w.down[1] = false;
	assert_true(run(&w, 2, 30, -1, NO_CRASH) >= 0);
	assert_settled(&w, 2);
	assert_int_equal(w.adds, 1);
}

static void test_status_members_sorted_by_number(void **state)
{
	struct world w;
	created(&w, 1);
	struct sc_observed o;
	observe(&w, &o);
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
	observe(&w, &o);
	assert_int_equal(sc_pdb_max_unavailable(&o), 0);
}

static void test_unstarted_member_named_by_pod(void **state)
{
	struct world w;
	created(&w, 1);
	set_spec(&w, 2, EC_TARGET_NONE);
	reconcile(&w, NO_CRASH, NULL); /* AddLearner */
	tick(&w);
	struct sc_observed o;
	observe(&w, &o);
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
	created(&base, from);
	int rounds;
	{
		struct world w = base;
		set_spec(&w, from + (to > from ? 1 : -1), to);
		rounds = run(&w, to, 400, -1, NO_CRASH);
		assert_true(rounds > 0);
	}
	for (int r = 0; r <= rounds; r++)
		for (int c = CRASH_BEFORE_ACT; c <= CRASH_AFTER_ACT; c++) {
			struct world w = base;
			set_spec(&w, from + (to > from ? 1 : -1), to);
			int got = run(&w, to, 400, r, (enum crash)c);
			if (got < 0)
				fail_msg("%d → %d with a crash at round %d (%s) did not settle", from,
					 to, r, c == CRASH_BEFORE_ACT ? "before act" : "after act");
			assert_settled(&w, to);
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
	created(&base, 1);
	for (int r = 0; r < 40; r++) {
		struct world w = base;
		set_spec(&w, 2, 3);
		for (int i = 0; i < 400; i++) {
			struct sc_action a;
			enum sc_kind k = reconcile(&w, NO_CRASH, &a);
			if (i == r)
				memset(&w.ec.status.scaling, 0, sizeof(w.ec.status.scaling));
			if (k == SC_NONE && w.ec.spec.replicas == 3 && w.ec.target == EC_TARGET_NONE)
				break;
			tick(&w);
		}
		assert_settled(&w, 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_ordinals),
		cmocka_unit_test(test_create_bootstraps_one_member_then_clears_flag),
		cmocka_unit_test(test_pod0_never_refounds_after_bootstrap),
		cmocka_unit_test(test_pod_made_for_bootstrap_loses_the_permission),
		cmocka_unit_test(test_scale_up_steps_in_order),
		cmocka_unit_test(test_staged_target_walks_one_step_at_a_time),
		cmocka_unit_test(test_patch_waits_for_settled_status),
		cmocka_unit_test(test_scale_down_moves_leadership_first),
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
