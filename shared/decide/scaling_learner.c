/*
 * scaling_learner.c — step 4 of the scaling protocol: a learner in the
 * member list, whoever added it and whatever status.scaling says. It is
 * finished (its Pod raised, waited for, caught up, promoted) or, when the
 * spec no longer wants it or a sub-step runs out of time, removed again.
 *
 * The one idea: each sub-step times out on its own clock, and only while it
 * is the sub-step the learner is in, so a learner that was slow to start
 * still gets the whole time to catch up. Pure, like scaling.c.
 */
#include <stdio.h>
#include <string.h>

#include "scaling_impl.h"

static bool timed_out(const struct sc_observed *o, const char *step)
{
	const struct ec_scaling *s = &o->ec.status.scaling;
	int64_t t = sc_started_ms(s);
	return t >= 0 && strcmp(s->step, step) == 0 && o->now_ms - t > o->step_timeout_ms;
}

/* The learner ran out of time in `step`: remove it again. */
static void learner_timed_out(const struct sc_observed *o, const struct sc_view *v,
			      struct sc_action *a, const char *late)
{
	const struct sc_member *l = &o->members[v->learner];
	char nb[300], trouble[300], dur[32];
	sc_name_of(o, l->ordinal, nb, sizeof(nb));
	sc_pod_trouble(o, l->ordinal, trouble, sizeof(trouble));
	dur_text(o->step_timeout_ms, dur, sizeof(dur));
	a->kind = SC_ROLLBACK;
	sc_set_step(a, o, EC_STEP_ROLLBACK, v->voters, v->voters + 1, l->id);
	sc_progressing(a, "False", "StepTimedOut",
		       "learner %s did not %s within %s%s; removing it and lowering the StatefulSet; "
		       "retried after a back-off or when the spec changes",
		       nb, late, dur, trouble);
	sc_event(a, "RolledBack", true);
	a->requeue_ms = SC_RQ_STEP;
}

void sc_decide_learner(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a)
{
	const struct sc_member *l = &o->members[v->learner];
	const struct sc_member *leader = &o->members[v->leader_idx];
	int k = l->ordinal, from = v->voters, to = v->voters + 1, D = sc_desired(o);
	char nb[300], trouble[300];
	sc_name_of(o, k, nb, sizeof(nb));
	a->phase = EC_SCALING;
	a->ordinal = k;
	a->member_id = l->id;

	/* Cancelled: the spec no longer wants another voter (a learner that
	 * fills a hole below the highest voter is a replacement: it stays). */
	bool fills_hole = k < v->max_voter_ord;
	if (!fills_hole && D <= v->voters) {
		a->kind = SC_ROLLBACK;
		sc_set_step(a, o, EC_STEP_ROLLBACK, from, to, l->id);
		sc_progressing(a, "True", "Cancelled",
			       "spec.replicas is %d: removing learner %s (id %llu) added for %d → %d", D,
			       nb, (unsigned long long)l->id, from, to);
		sc_event(a, "RolledBack", true);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}

	if (o->sts_replicas < k + 1) {
		a->kind = SC_RAISE_STS;
		a->replicas = k + 1;
		sc_set_step(a, o, EC_STEP_START_POD, from, to, l->id);
		sc_progressing(a, "True", EC_STEP_START_POD,
			       "StatefulSet %s raised to %d for learner %s", o->ec.name, k + 1, nb);
		sc_event(a, "StatefulSetScaled", false);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}
	/* Each sub-step times out on its own clock, and only while it is still
	 * the sub-step the learner is in. */
	const struct sc_pod *p = &o->pods[k];
	if (!p->exists || !p->ready || p->terminating || !l->reachable) {
		if (timed_out(o, EC_STEP_START_POD)) {
			learner_timed_out(o, v, a, "start and become ready");
			return;
		}
		sc_pod_trouble(o, k, trouble, sizeof(trouble));
		a->kind = SC_WAIT;
		sc_set_step(a, o, EC_STEP_START_POD, from, to, l->id);
		sc_progressing(a, "True", EC_STEP_START_POD,
			       "waiting for learner %s to start and its Pod to be ready%s", nb, trouble);
		a->requeue_ms = SC_RQ_POLL;
		return;
	}
	if (l->raft_applied_index < leader->raft_index) {
		if (timed_out(o, EC_STEP_CATCH_UP)) {
			learner_timed_out(o, v, a, "catch up with the leader");
			return;
		}
		a->kind = SC_WAIT;
		sc_set_step(a, o, EC_STEP_CATCH_UP, from, to, l->id);
		sc_progressing(a, "True", EC_STEP_CATCH_UP,
			       "learner %s catching up: applied index %llu of the leader's %llu", nb,
			       (unsigned long long)l->raft_applied_index,
			       (unsigned long long)leader->raft_index);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}
	if (timed_out(o, EC_STEP_PROMOTE)) {
		learner_timed_out(o, v, a, "get promoted");
		return;
	}
	a->kind = SC_PROMOTE;
	sc_set_step(a, o, EC_STEP_PROMOTE, from, to, l->id);
	sc_progressing(a, "True", EC_STEP_PROMOTE, "promoting learner %s (id %llu) to a voter", nb,
		       (unsigned long long)l->id);
	sc_event(a, "MemberPromoted", false);
	a->requeue_ms = SC_RQ_STEP;
}
