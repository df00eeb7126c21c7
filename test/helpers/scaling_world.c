/*
 * scaling_world.c — the world model of scaling_world.h.
 */
#include "scaling_world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "json.h"

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

void world_init(struct world *w, int replicas)
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

int world_member_at(const struct world *w, int k)
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
	       !w->lost[k] && !w->slow[k] && !w->down[k] && !w->refused[k];
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

void world_observe(const struct world *w, struct sc_observed *o)
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
		int i = world_member_at(w, k);
		p->ready = p->exists && !w->broken[k] && !w->lost[k] && !w->slow[k] && !w->down[k] && i >= 0 &&
			   running(w, i);
		if (p->exists && w->refused[k]) {
			/* initialized long ago; etcd's container in back-off */
			p->volume_lost = p->guard_refused = true;
			p->refused_since_ms = w->lost_since[k];
			snprintf(p->waiting_reason, sizeof(p->waiting_reason), "CrashLoopBackOff");
		}
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
		assert_int_equal(world_member_at(w, a->ordinal), -1); /* peer URL exists */
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
	case SC_DELETE_POD: {
		/* Never the Pod of a started member: its data may be all there is. */
		int i = world_member_at(w, a->ordinal);
		assert_true(i < 0 || !w->m[i].started);
		assert_true(w->pod[a->ordinal]);
		w->pod_terminating[a->ordinal] = true;
		w->refused[a->ordinal] = false; /* the new Pod's init step runs */
		w->pod_deletes++;
		break;
	}
	case SC_RESTART_POD:
		fail_msg("a roll is not part of the scaling protocol (sc_decide never restarts)");
		break;
	case SC_DELETE_PVC:
		assert_false(w->pod[a->ordinal]);
		/* Never the claim of a member that is still in the cluster. */
		assert_int_equal(world_member_at(w, a->ordinal), -1);
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
void world_tick(struct world *w)
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
		int i = world_member_at(w, k);
		if (w->lost[k] && i >= 0 && !w->m[i].started)
			w->lost[k] = false;
	}
	if (!w->leader)
		w->leader = pick_leader(w, 0);
	check_invariants(w);
}

/* One reconcile: observe, decide, publish, act. Returns the action kind. */
enum sc_kind world_reconcile(struct world *w, enum world_crash crash, struct sc_action *out)
{
	struct sc_observed o;
	struct sc_action a;
	world_observe(w, &o);
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
int world_run(struct world *w, int goal, int max, int crash_round, enum world_crash crash)
{
	for (int r = 0; r < max; r++) {
		struct sc_action a;
		enum sc_kind k = world_reconcile(w, r == crash_round ? crash : NO_CRASH, &a);
		if (k == SC_NONE && w->ec.spec.replicas == goal && w->ec.target == EC_TARGET_NONE)
			return r;
		world_tick(w);
	}
	return -1;
}

int world_voter_count(const struct world *w)
{
	int n, h;
	voters(w, &n, &h);
	return n;
}

void world_set_spec(struct world *w, int replicas, int target)
{
	w->ec.spec.replicas = replicas;
	w->ec.target = target;
	w->ec.generation++;
}

void world_assert_settled(const struct world *w, int n)
{
	assert_int_equal(world_voter_count(w), n);
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
void world_created(struct world *w, int replicas)
{
	world_init(w, 1);
	assert_true(world_run(w, 1, 40, -1, NO_CRASH) >= 0);
	world_assert_settled(w, 1);
	if (replicas > 1) {
		world_set_spec(w, 2, replicas > 2 ? replicas : EC_TARGET_NONE);
		assert_true(world_run(w, replicas, 200, -1, NO_CRASH) >= 0);
		world_assert_settled(w, replicas);
	}
}
