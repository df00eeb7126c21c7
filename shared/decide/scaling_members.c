/*
 * scaling_members.c — steps 5–8 of the scaling protocol, with no learner in
 * the member list: replace a member whose volume was lost, fill a hole,
 * finish the tail of a removal (StatefulSet down, claim deleted), hold after
 * a rollback, then compare voters with spec.replicas — add a learner, move
 * leadership, remove the highest ordinal — and, settled, step toward the
 * target annotation. Pure, like scaling.c.
 *
 * The one idea: a membership change only on a settled cluster (every voter
 * healthy), checked here after the repairs that never change membership;
 * the only changes on an unsettled one are DESIGN's recovery paths (a lost
 * volume's member removed, its hole filled), each quorum-checked.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "scaling_impl.h"

/* A started voter whose Pod's init step reported its volume lost (it found
 * no data for a member that has run: positive evidence, never inferred from
 * a Pod that is merely slow — pulling an image, waiting for DNS — whose data
 * is intact), still in its init step past the grace period; or whose etcd
 * the guard refuses to start for the same reason (the data vanished under
 * the running Pod), not ready for that long. */
static int lost_member(const struct sc_observed *o, const struct sc_view *v)
{
	int64_t grace = o->replace_grace_ms > 0 ? o->replace_grace_ms : 30000;
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		int i = v->by_ord[k];
		if (i < 0 || o->members[i].learner || o->members[i].healthy)
			continue;
		const struct sc_pod *p = &o->pods[k];
		if (!p->exists || p->terminating || !p->volume_lost)
			continue;
		if (p->initializing && p->init_since_ms > 0 && o->now_ms - p->init_since_ms >= grace)
			return k;
		if (p->guard_refused && p->refused_since_ms > 0 &&
		    o->now_ms - p->refused_since_ms >= grace)
			return k;
	}
	return -1;
}

/* The healthy voter, other than `not`, with the most applied entries. */
static int transfer_target(const struct sc_observed *o, int not)
{
	int best = -1;
	for (int i = 0; i < o->nmembers; i++) {
		const struct sc_member *m = &o->members[i];
		if (i == not || m->learner || !m->healthy || m->ordinal < 0)
			continue;
		if (best < 0 || m->raft_applied_index > o->members[best].raft_applied_index ||
		    (m->raft_applied_index == o->members[best].raft_applied_index &&
		     m->ordinal < o->members[best].ordinal))
			best = i;
	}
	return best;
}

/* What the webhook calls settled, on the object as last published. */
static bool settled_on_record(const struct etcd_cluster *c)
{
	return policy_settled(c);
}

/* After the membership matches the spec (every voter healthy): clear the
 * record, then move spec.replicas toward the target annotation. */
static void decide_settled(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a)
{
	int D = sc_desired(o);
	const struct ec_scaling *rec = &o->ec.status.scaling;
	a->phase = EC_RUNNING;
	if (rec->active) {
		bool rb = strcmp(rec->step, EC_STEP_ROLLBACK) == 0;
		a->kind = SC_WAIT;
		a->requeue_ms = SC_RQ_FAST;
		a->scaling.active = false;
		sc_progressing(a, "False", "Settled", "%s %d → %d %s; %d voters healthy",
			       rb ? "rollback of" : "scaling", rec->from, rec->to,
			       rb ? "done" : "completed", v->voters);
		sc_event(a, rb ? "RollbackCompleted" : "ScaleStepCompleted", false);
		return;
	}
	int64_t t = o->ec.target;
	if (t >= EC_MIN_REPLICAS && t <= EC_MAX_REPLICAS && t != D) {
		int next = t > D ? D + 1 : D - 1;
		a->staging = true;
		if (!settled_on_record(&o->ec)) {
			a->kind = SC_WAIT;
			a->requeue_ms = SC_RQ_FAST;
			sc_progressing(a, "True", "Staging",
				       "%d voters healthy; publishing the settled status before the next "
				       "step toward %lld", v->voters, (long long)t);
			return;
		}
		/* The controller's own change goes through the same rules as a
		 * person's: check it before sending it. */
		struct etcd_cluster next_obj = o->ec;
		next_obj.spec.replicas = next;
		struct policy_request req = {.op = POLICY_UPDATE, .old = &o->ec, .new = &next_obj};
		struct policy_decision pd;
		policy_admit(&req, &pd, NULL);
		if (!pd.allowed) {
			a->kind = SC_WAIT;
			a->requeue_ms = SC_RQ_POLL;
			sc_progressing(a, "False", "StagingRefused", "next step %d → %d refused: %s", D,
				       next, pd.reason);
			return;
		}
		a->kind = SC_PATCH_REPLICAS;
		a->replicas = next;
		/* The status stays settled: the webhook judges this change by it. */
		sc_progressing(a, "True", "Staging", "spec.replicas %d → %d on the way to %lld", D, next,
			       (long long)t);
		sc_event(a, "ScaleStaged", false);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}
	if (t == D) {
		a->kind = SC_DROP_TARGET;
		sc_progressing(a, "False", "Settled", "target %lld reached; dropping the %s annotation",
			       (long long)t, EC_ANN_TARGET);
		sc_event(a, "TargetReached", false);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}
	a->kind = SC_NONE;
	a->requeue_ms = SC_RQ_IDLE;
	sc_progressing(a, "False", "Settled", "%d of %d voters healthy%s", v->healthy_voters, v->voters,
		       t == EC_TARGET_INVALID ? "; the target annotation is not a number and is ignored"
					      : "");
}

/*
 * Inside a rollback (the learner is gone, the StatefulSet and the claim
 * follow): the record keeps saying Rollback and, when the step had timed
 * out, Progressing keeps saying StepTimedOut with the original reason.
 */
static void rollback_progress(struct sc_action *a, const struct sc_observed *o, int D, int n,
			      const char *what)
{
	const struct ec_scaling *rec = &o->ec.status.scaling;
	const struct ec_condition *c = cluster_condition(&o->ec.status, "Progressing");
	sc_set_step(a, o, EC_STEP_ROLLBACK, rec->from, rec->to, 0);
	eo_strlcpy(a->scaling.message, what, sizeof(a->scaling.message));
	eo_strlcpy(a->message, what, sizeof(a->message));
	if (D > n && c && strcmp(c->reason, "StepTimedOut") == 0) {
		eo_strlcpy(a->progressing_status, "False", sizeof(a->progressing_status));
		eo_strlcpy(a->progressing_reason, c->reason, sizeof(a->progressing_reason));
		eo_strlcpy(a->progressing_message, c->message, sizeof(a->progressing_message));
	} else {
		eo_strlcpy(a->progressing_status, "True", sizeof(a->progressing_status));
		eo_strlcpy(a->progressing_reason, EC_STEP_ROLLBACK, sizeof(a->progressing_reason));
		eo_strlcpy(a->progressing_message, what, sizeof(a->progressing_message));
	}
}

/* A timed-out rollback is done: wait for a spec change or the back-off
 * before trying the same step again (no hot loop on a bad image). */
static bool rollback_hold(const struct sc_observed *o, int D, int n, struct sc_action *a)
{
	const struct ec_scaling *rec = &o->ec.status.scaling;
	if (!rec->active || strcmp(rec->step, EC_STEP_ROLLBACK) != 0 || D <= n)
		return false;
	if (o->ec.generation != o->ec.status.observed_generation)
		return false; /* the spec changed since the rollback */
	int64_t backoff = o->rollback_backoff_ms > 0 ? o->rollback_backoff_ms
						     : 2 * o->step_timeout_ms;
	if (backoff < 10000)
		backoff = 10000;
	int64_t t = sc_started_ms(rec);
	if (t >= 0 && o->now_ms - t >= backoff)
		return false;
	char dur[32], what[256];
	int64_t left = t >= 0 ? backoff - (o->now_ms - t) : backoff;
	dur_text(left, dur, sizeof(dur));
	snprintf(what, sizeof(what), "rolled back %d → %d; retrying in %s or when the spec changes",
		 rec->from, rec->to, dur);
	a->kind = SC_WAIT;
	a->phase = EC_FAILED;
	a->hold_generation = true;
	rollback_progress(a, o, D, n, what);
	a->scaling = *rec; /* the start time of the hold is the rollback's */
	a->requeue_ms = left < SC_RQ_STEP ? SC_RQ_STEP : left;
	return true;
}

/* Pods above the members and claims above the StatefulSet: the tail of a
 * removal (scale-down or rollback). Returns true when it decided. */
static bool decide_leftovers(const struct sc_observed *o, int D, int n, struct sc_action *a)
{
	const struct ec_scaling *rec = &o->ec.status.scaling;
	bool in_rollback = rec->active && strcmp(rec->step, EC_STEP_ROLLBACK) == 0;
	int from = rec->active ? rec->from : (o->sts_replicas > n ? o->sts_replicas : n + 1);
	int to = rec->active ? rec->to : n;
	char nb[300], what[256];

	if (o->sts_replicas > n) {
		a->kind = SC_LOWER_STS;
		a->replicas = n;
		snprintf(what, sizeof(what), "StatefulSet %s lowered from %d to %d", o->ec.name,
			 o->sts_replicas, n);
		if (in_rollback) {
			rollback_progress(a, o, D, n, what);
		} else {
			sc_set_step(a, o, EC_STEP_SHRINK, from, to, 0);
			sc_progressing(a, "True", EC_STEP_SHRINK, "%s", what);
		}
		sc_event(a, "StatefulSetScaled", false);
		a->requeue_ms = SC_RQ_STEP;
		return true;
	}
	if (o->sts_replicas < n) {
		a->kind = SC_RAISE_STS;
		a->replicas = n;
		if (rec->active)
			a->scaling = *rec;
		sc_progressing(a, "True", "Repair",
			       "StatefulSet %s has %d replicas for %d members: raising it", o->ec.name,
			       o->sts_replicas, n);
		sc_event(a, "StatefulSetScaled", true);
		a->requeue_ms = SC_RQ_STEP;
		return true;
	}
	for (int k = n; k < SC_MAX_ORDINALS; k++) {
		if (!o->pvcs[k] && !o->pods[k].exists)
			continue;
		sc_name_of(o, k, nb, sizeof(nb));
		if (o->pods[k].exists || o->pvc_terminating[k]) {
			a->kind = SC_WAIT;
			snprintf(what, sizeof(what), "waiting for the %s of removed member %s to go away",
				 o->pods[k].exists ? "Pod" : "claim", nb);
			a->requeue_ms = SC_RQ_POLL;
		} else {
			a->kind = SC_DELETE_PVC;
			a->ordinal = k;
			snprintf(what, sizeof(what),
				 "deleting claim data-%s of removed member %s: its data must never be "
				 "reused", nb, nb);
			sc_event(a, "VolumeDeleted", false);
			a->requeue_ms = SC_RQ_STEP;
		}
		if (in_rollback) {
			rollback_progress(a, o, D, n, what);
		} else {
			const char *step = a->kind == SC_DELETE_PVC ||
							   (rec->active &&
							    strcmp(rec->step, EC_STEP_DELETE_VOLUME) == 0)
						   ? EC_STEP_DELETE_VOLUME
						   : EC_STEP_SHRINK;
			sc_set_step(a, o, step, from, to, 0);
			sc_progressing(a, "True", step, "%s", what);
		}
		return true;
	}
	return false;
}

void sc_decide_members(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a)
{
	const struct ec_scaling *rec = &o->ec.status.scaling;
	int D = sc_desired(o), n = v->voters;
	char nb[300], trouble[300];
	a->phase = EC_SCALING;

	/* A member whose volume was lost: remove it; it is a hole afterwards. */
	int lost = lost_member(o, v);
	if (lost >= 0) {
		const struct sc_member *m = &o->members[v->by_ord[lost]];
		sc_name_of(o, lost, nb, sizeof(nb));
		if (v->healthy_voters < ec_quorum(n - 1)) {
			sc_degraded(a, o, "ReplaceBlocked",
				    "member %s lost its volume, but removing it would leave %d healthy of "
				    "%d voters, below quorum %d; restore a member first",
				    nb, v->healthy_voters, n - 1, ec_quorum(n - 1));
			return;
		}
		a->kind = SC_REPLACE_MEMBER;
		a->ordinal = lost;
		a->member_id = m->id;
		sc_set_step(a, o, EC_STEP_REPLACE, n, n, m->id);
		sc_progressing(a, "True", EC_STEP_REPLACE,
			       "member %s (id %llu) came back without its data: removing it to add it "
			       "again as a learner", nb, (unsigned long long)m->id);
		sc_event(a, "ReplacingMember", true);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}

	/* A hole below the highest voter (a replacement in progress) is filled
	 * before anything else; otherwise members are exactly 0..n-1. */
	int hole = -1;
	for (int k = 0; k < v->max_voter_ord; k++)
		if (v->by_ord[k] < 0) {
			hole = k;
			break;
		}
	if (hole < 0) {
		if (decide_leftovers(o, D, n, a))
			return;
		if (rollback_hold(o, D, n, a))
			return;
	}

	/* From here on a membership change: only on a settled cluster. */
	if (!v->all_voters_healthy) {
		a->kind = SC_WAIT;
		a->requeue_ms = SC_RQ_POLL;
		bool pending = hole >= 0 || D != n || rec->active;
		a->phase = pending ? EC_SCALING : EC_RUNNING;
		a->settled_wait = !pending;
		if (rec->active && strcmp(rec->step, EC_STEP_PROMOTE) == 0)
			sc_set_step(a, o, EC_STEP_VERIFY, rec->from, rec->to, 0);
		else if (rec->active)
			a->scaling = *rec;
		for (int i = 0; i < o->nmembers; i++) {
			const struct sc_member *m = &o->members[i];
			if (m->learner || m->healthy)
				continue;
			sc_pod_trouble(o, m->ordinal, trouble, sizeof(trouble));
			sc_progressing(a, pending ? "True" : "False",
				       a->scaling.active ? a->scaling.step
							 : pending ? "WaitingForHealth" : "Settled",
				       "member %s is not healthy%s; no membership change until every "
				       "voter is", m->name[0] ? m->name : sc_name_of(o, m->ordinal, nb, sizeof(nb)),
				       trouble);
			break;
		}
		return;
	}

	int add = hole >= 0 ? hole : (D > n ? n : -1);
	if (add >= 0) {
		a->kind = SC_ADD_LEARNER;
		a->ordinal = add;
		sc_peer_url(&o->ec, add, a->peer_url, sizeof(a->peer_url));
		sc_set_step(a, o, EC_STEP_ADD_LEARNER, n, n + 1, 0);
		sc_name_of(o, add, nb, sizeof(nb));
		if (hole >= 0)
			sc_progressing(a, "True", EC_STEP_ADD_LEARNER,
				       "adding %s again as a learner, replacing the member that lost its "
				       "volume", nb);
		else
			sc_progressing(a, "True", EC_STEP_ADD_LEARNER, "adding %s as a learner for %d → %d",
				       nb, n, n + 1);
		sc_event(a, "MemberAdded", false);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}

	if (D < n) {
		int i = v->by_ord[n - 1];
		const struct sc_member *m = &o->members[i];
		sc_name_of(o, n - 1, nb, sizeof(nb));
		/* The budget first: with n − 1 voters a drain may take fewer. */
		if (o->pdb_max_unavailable < 0 || o->pdb_max_unavailable > ec_tolerance(n - 1)) {
			a->kind = SC_WAIT;
			a->requeue_ms = SC_RQ_FAST;
			if (rec->active)
				a->scaling = *rec;
			sc_progressing(a, "True", "TighteningBudget",
				       "PodDisruptionBudget %s to maxUnavailable %d before %s leaves "
				       "(it allows %d now)", o->ec.name, ec_tolerance(n - 1), nb,
				       o->pdb_max_unavailable);
			return;
		}
		/* Quorum after the removal, counting only voters that stay healthy
		 * (the same rule the webhook applies to the spec change). */
		int healthy_after = v->healthy_voters - (m->healthy ? 1 : 0);
		if (healthy_after < ec_quorum(n - 1)) {
			a->kind = SC_WAIT;
			a->requeue_ms = SC_RQ_POLL;
			sc_progressing(a, "False", "ScaleDownRefused",
				       "removing %s would leave %d healthy of %d voters, below quorum %d",
				       nb, healthy_after, n - 1, ec_quorum(n - 1));
			return;
		}
		if (m->id == v->leader) {
			int t = transfer_target(o, i);
			if (t < 0) {
				a->kind = SC_WAIT;
				a->requeue_ms = SC_RQ_POLL;
				sc_progressing(a, "True", EC_STEP_TRANSFER_LEADERSHIP,
					       "%s leads and no other healthy voter can take over", nb);
				return;
			}
			a->kind = SC_TRANSFER_LEADERSHIP;
			a->member_id = m->id;
			a->target_id = o->members[t].id;
			a->ordinal = n - 1;
			sc_set_step(a, o, EC_STEP_TRANSFER_LEADERSHIP, n, n - 1, m->id);
			sc_progressing(a, "True", EC_STEP_TRANSFER_LEADERSHIP,
				       "%s leads: moving leadership to %s before removing it", nb,
				       o->members[t].name);
			sc_event(a, "LeadershipTransferred", false);
			a->requeue_ms = SC_RQ_STEP;
			return;
		}
		a->kind = SC_REMOVE_MEMBER;
		a->member_id = m->id;
		a->ordinal = n - 1;
		sc_set_step(a, o, EC_STEP_REMOVE_MEMBER, n, n - 1, m->id);
		sc_progressing(a, "True", EC_STEP_REMOVE_MEMBER, "removing member %s (id %llu) for %d → %d",
			       nb, (unsigned long long)m->id, n, n - 1);
		sc_event(a, "MemberRemoved", false);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}
	decide_settled(o, v, a);
}

/*
 * Degraded, and members whose Pods cannot exist (the StatefulSet was scaled
 * down by hand, or to zero): raise it so each member gets its Pod back. That
 * never changes membership — each Pod starts on its own data or waits — and
 * is the only thing done while degraded; without it the cluster could never
 * regain the quorum those Pods are missing for.
 */
