/*
 * scaling.c — the scaling protocol (DESIGN §4) as a pure decision: one
 * observed snapshot → the one next action, the status.scaling record to write
 * before it, and the report (phase, conditions, event).
 *
 * The one idea: every branch below asks "what does the world look like?",
 * never "what was I doing?". A learner in the member list means a scale-up
 * (or a replacement) is in flight whatever status.scaling says; more Pods
 * than members means a removal happened and the StatefulSet must come down;
 * a claim above the StatefulSet whose Pod is gone must be deleted. The
 * record only supplies time (step timeouts) and the memory of a rollback.
 *
 * Order of questions, each answered before the next is asked:
 *   1. owned objects exist?            → create them
 *   2. bootstrapped (status.clusterID)? → record it / wait for member 0
 *   3. a cluster we may touch?         → otherwise report Degraded, act never
 *   4. a learner?                      → finish it (raise, wait, promote) or roll back
 *   5. a member to replace or a hole?  → remove the lost member / add a learner there
 *   6. leftovers of a removal?         → lower the StatefulSet, delete the claim
 *   7. spec vs voters                  → add a learner / move leadership / remove one
 *   8. settled                         → clear the record, step toward the target
 *
 * What is published for a decision is scaling_status.c; the names, URLs and
 * the member-list view both use are scaling_names.c.
 */
#include "scaling_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define RQ_FAST 500     /* a status write just recorded something to act on */
#define RQ_STEP 1000    /* an action was taken; look at its effect */
#define RQ_POLL 2000    /* waiting for a Pod, a catch-up, a termination */
#define RQ_DEGRADED 5000
#define RQ_IDLE 30000   /* settled: refresh the published member health */

/* ---- helpers that fill the action ------------------------------------ */

static int desired(const struct sc_observed *o)
{
	int64_t d = o->ec.spec.replicas;
	if (d < EC_MIN_REPLICAS)
		d = EC_MIN_REPLICAS;
	if (d > EC_MAX_REPLICAS)
		d = EC_MAX_REPLICAS;
	return (int)d;
}

static int64_t started_ms(const struct ec_scaling *s)
{
	int64_t t;
	if (!s->active || !s->started_at[0] || eo_rfc3339_parse(s->started_at, &t) != 0)
		return -1;
	return t * 1000;
}

static void fmt_dur(int64_t ms, char *out, size_t size)
{
	int64_t s = ms / 1000;
	if (s >= 60)
		snprintf(out, size, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else if (ms >= 1000 || ms == 0)
		snprintf(out, size, "%llds", (long long)s);
	else
		snprintf(out, size, "%lldms", (long long)ms);
}

static const char *name_of(const struct sc_observed *o, int k, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%d", o->ec.name, k);
	return buf;
}

static void id_dec(uint64_t id, char out[24])
{
	snprintf(out, 24, "%llu", (unsigned long long)id);
}

/*
 * Record step in a->scaling. The start time is kept when the record already
 * names this step for the same change (so a step's timeout runs from when it
 * began, across controller restarts), and is now otherwise.
 */
static void set_step(struct sc_action *a, const struct sc_observed *o, const char *step,
		     int from, int to, uint64_t member_id)
{
	const struct ec_scaling *old = &o->ec.status.scaling;
	struct ec_scaling *s = &a->scaling;
	memset(s, 0, sizeof(*s));
	s->active = true;
	s->from = from;
	s->to = to;
	eo_strlcpy(s->step, step, sizeof(s->step));
	if (member_id)
		id_dec(member_id, s->member_id);
	else if (old->active && strcmp(old->step, step) == 0)
		eo_strlcpy(s->member_id, old->member_id, sizeof(s->member_id));
	if (old->active && strcmp(old->step, step) == 0 && old->from == from && old->to == to &&
	    old->started_at[0])
		eo_strlcpy(s->started_at, old->started_at, sizeof(s->started_at));
	else
		eo_strlcpy(s->started_at, o->now_rfc3339, sizeof(s->started_at));
}

static void progressing(struct sc_action *a, const char *status, const char *reason,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void progressing(struct sc_action *a, const char *status, const char *reason,
			const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	eo_strlcpy(a->progressing_status, status, sizeof(a->progressing_status));
	eo_strlcpy(a->progressing_reason, reason, sizeof(a->progressing_reason));
	vsnprintf(a->progressing_message, sizeof(a->progressing_message), fmt, ap);
	va_end(ap);
	eo_strlcpy(a->message, a->progressing_message, sizeof(a->message));
	if (a->scaling.active)
		eo_strlcpy(a->scaling.message, a->progressing_message, sizeof(a->scaling.message));
}

static void event(struct sc_action *a, const char *reason, bool warning)
{
	eo_strlcpy(a->event_reason, reason, sizeof(a->event_reason));
	a->event_warning = warning;
}

/* An event for a report only when the condition it reports is new, so a
 * cluster that stays degraded does not flood its Events. */
static bool condition_changed(const struct sc_observed *o, const char *type, const char *status,
			      const char *reason)
{
	const struct ec_condition *c = cluster_condition(&o->ec.status, type);
	return !c || strcmp(c->status, status) != 0 || strcmp(c->reason, reason) != 0;
}

static void degraded(struct sc_action *a, const struct sc_observed *o, const char *reason,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void degraded(struct sc_action *a, const struct sc_observed *o, const char *reason,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	a->kind = SC_REPORT_DEGRADED;
	a->phase = EC_DEGRADED;
	eo_strlcpy(a->degraded_status, "True", sizeof(a->degraded_status));
	eo_strlcpy(a->degraded_reason, reason, sizeof(a->degraded_reason));
	vsnprintf(a->degraded_message, sizeof(a->degraded_message), fmt, ap);
	va_end(ap);
	eo_strlcpy(a->message, a->degraded_message, sizeof(a->message));
	/* The record of a step in flight stays: it resumes when the cluster is back. */
	a->scaling = o->ec.status.scaling;
	eo_strlcpy(a->progressing_status, "False", sizeof(a->progressing_status));
	eo_strlcpy(a->progressing_reason, "Blocked", sizeof(a->progressing_reason));
	snprintf(a->progressing_message, sizeof(a->progressing_message),
		 "no membership change while degraded (%s)", reason);
	a->requeue_ms = RQ_DEGRADED;
	if (condition_changed(o, "Degraded", "True", reason))
		event(a, reason, true);
}

/* The Pod's trouble, for messages: " (Pod demo-3: ErrImagePull: …)". */
static void pod_trouble(const struct sc_observed *o, int k, char *out, size_t size)
{
	out[0] = '\0';
	if (k < 0 || k >= SC_MAX_ORDINALS)
		return;
	const struct sc_pod *p = &o->pods[k];
	char nb[300];
	if (!p->exists)
		snprintf(out, size, " (Pod %s does not exist yet)", name_of(o, k, nb, sizeof(nb)));
	else if (p->waiting_reason[0])
		snprintf(out, size, " (Pod %s: %s%s%s)", name_of(o, k, nb, sizeof(nb)),
			 p->waiting_reason, p->waiting_message[0] ? ": " : "", p->waiting_message);
	else if (p->initializing)
		snprintf(out, size, " (Pod %s: in its init step)", name_of(o, k, nb, sizeof(nb)));
}

/* ---- the branches ---------------------------------------------------- */

static void decide_creating(const struct sc_observed *o, struct sc_action *a)
{
	char trouble[300], nb[300];
	a->phase = EC_CREATING;
	if (o->etcd_answered && o->cluster_id) {
		/* sc_status records the id; the next pass clears the bootstrap flag. */
		a->kind = SC_WAIT;
		a->requeue_ms = RQ_FAST;
		progressing(a, "True", "Creating", "member %s founded cluster %llu",
			    name_of(o, 0, nb, sizeof(nb)), (unsigned long long)o->cluster_id);
		event(a, "ClusterCreated", false);
		return;
	}
	pod_trouble(o, 0, trouble, sizeof(trouble));
	a->kind = SC_WAIT;
	a->requeue_ms = RQ_POLL;
	progressing(a, "True", "Creating", "waiting for member %s to found the cluster%s",
		    name_of(o, 0, nb, sizeof(nb)), trouble);
}

static bool timed_out(const struct sc_observed *o, const char *step)
{
	const struct ec_scaling *s = &o->ec.status.scaling;
	int64_t t = started_ms(s);
	return t >= 0 && strcmp(s->step, step) == 0 && o->now_ms - t > o->step_timeout_ms;
}

/* The learner ran out of time in `step`: remove it again. */
static void learner_timed_out(const struct sc_observed *o, const struct sc_view *v,
			      struct sc_action *a, const char *late)
{
	const struct sc_member *l = &o->members[v->learner];
	char nb[300], trouble[300], dur[32];
	name_of(o, l->ordinal, nb, sizeof(nb));
	pod_trouble(o, l->ordinal, trouble, sizeof(trouble));
	fmt_dur(o->step_timeout_ms, dur, sizeof(dur));
	a->kind = SC_ROLLBACK;
	set_step(a, o, EC_STEP_ROLLBACK, v->voters, v->voters + 1, l->id);
	progressing(a, "False", "StepTimedOut",
		    "learner %s did not %s within %s%s; removing it and lowering the StatefulSet; "
		    "retried after a back-off or when the spec changes",
		    nb, late, dur, trouble);
	event(a, "RolledBack", true);
	a->requeue_ms = RQ_STEP;
}

static void decide_learner(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a)
{
	const struct sc_member *l = &o->members[v->learner];
	const struct sc_member *leader = &o->members[v->leader_idx];
	int k = l->ordinal, from = v->voters, to = v->voters + 1, D = desired(o);
	char nb[300], trouble[300];
	name_of(o, k, nb, sizeof(nb));
	a->phase = EC_SCALING;
	a->ordinal = k;
	a->member_id = l->id;

	/* Cancelled: the spec no longer wants another voter (a learner that
	 * fills a hole below the highest voter is a replacement: it stays). */
	bool fills_hole = k < v->max_voter_ord;
	if (!fills_hole && D <= v->voters) {
		a->kind = SC_ROLLBACK;
		set_step(a, o, EC_STEP_ROLLBACK, from, to, l->id);
		progressing(a, "True", "Cancelled",
			    "spec.replicas is %d: removing learner %s (id %llu) added for %d → %d", D,
			    nb, (unsigned long long)l->id, from, to);
		event(a, "RolledBack", true);
		a->requeue_ms = RQ_STEP;
		return;
	}

	if (o->sts_replicas < k + 1) {
		a->kind = SC_RAISE_STS;
		a->replicas = k + 1;
		set_step(a, o, EC_STEP_START_POD, from, to, l->id);
		progressing(a, "True", EC_STEP_START_POD,
			    "StatefulSet %s raised to %d for learner %s", o->ec.name, k + 1, nb);
		event(a, "StatefulSetScaled", false);
		a->requeue_ms = RQ_STEP;
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
		pod_trouble(o, k, trouble, sizeof(trouble));
		a->kind = SC_WAIT;
		set_step(a, o, EC_STEP_START_POD, from, to, l->id);
		progressing(a, "True", EC_STEP_START_POD,
			    "waiting for learner %s to start and its Pod to be ready%s", nb, trouble);
		a->requeue_ms = RQ_POLL;
		return;
	}
	if (l->raft_applied_index < leader->raft_index) {
		if (timed_out(o, EC_STEP_CATCH_UP)) {
			learner_timed_out(o, v, a, "catch up with the leader");
			return;
		}
		a->kind = SC_WAIT;
		set_step(a, o, EC_STEP_CATCH_UP, from, to, l->id);
		progressing(a, "True", EC_STEP_CATCH_UP,
			    "learner %s catching up: applied index %llu of the leader's %llu", nb,
			    (unsigned long long)l->raft_applied_index,
			    (unsigned long long)leader->raft_index);
		a->requeue_ms = RQ_STEP;
		return;
	}
	if (timed_out(o, EC_STEP_PROMOTE)) {
		learner_timed_out(o, v, a, "get promoted");
		return;
	}
	a->kind = SC_PROMOTE;
	set_step(a, o, EC_STEP_PROMOTE, from, to, l->id);
	progressing(a, "True", EC_STEP_PROMOTE, "promoting learner %s (id %llu) to a voter", nb,
		    (unsigned long long)l->id);
	event(a, "MemberPromoted", false);
	a->requeue_ms = RQ_STEP;
}

/* A started voter whose Pod's init step reported its volume lost (it found
 * no data for a member that has run: positive evidence, never inferred from
 * a Pod that is merely slow — pulling an image, waiting for DNS — whose data
 * is intact), still in its init step past the grace period. */
static int lost_member(const struct sc_observed *o, const struct sc_view *v)
{
	int64_t grace = o->replace_grace_ms > 0 ? o->replace_grace_ms : 30000;
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		int i = v->by_ord[k];
		if (i < 0 || o->members[i].learner || o->members[i].healthy)
			continue;
		const struct sc_pod *p = &o->pods[k];
		if (p->exists && !p->terminating && p->initializing && p->volume_lost &&
		    p->init_since_ms > 0 && o->now_ms - p->init_since_ms >= grace)
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
	int D = desired(o);
	const struct ec_scaling *rec = &o->ec.status.scaling;
	a->phase = EC_RUNNING;
	if (rec->active) {
		bool rb = strcmp(rec->step, EC_STEP_ROLLBACK) == 0;
		a->kind = SC_WAIT;
		a->requeue_ms = RQ_FAST;
		a->scaling.active = false;
		progressing(a, "False", "Settled", "%s %d → %d %s; %d voters healthy",
			    rb ? "rollback of" : "scaling", rec->from, rec->to,
			    rb ? "done" : "completed", v->voters);
		event(a, rb ? "RollbackCompleted" : "ScaleStepCompleted", false);
		return;
	}
	int64_t t = o->ec.target;
	if (t >= EC_MIN_REPLICAS && t <= EC_MAX_REPLICAS && t != D) {
		int next = t > D ? D + 1 : D - 1;
		if (!settled_on_record(&o->ec)) {
			a->kind = SC_WAIT;
			a->requeue_ms = RQ_FAST;
			progressing(a, "True", "Staging",
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
			a->requeue_ms = RQ_POLL;
			progressing(a, "False", "StagingRefused", "next step %d → %d refused: %s", D,
				    next, pd.reason);
			return;
		}
		a->kind = SC_PATCH_REPLICAS;
		a->replicas = next;
		/* The status stays settled: the webhook judges this change by it. */
		progressing(a, "True", "Staging", "spec.replicas %d → %d on the way to %lld", D, next,
			    (long long)t);
		event(a, "ScaleStaged", false);
		a->requeue_ms = RQ_STEP;
		return;
	}
	if (t == D) {
		a->kind = SC_DROP_TARGET;
		progressing(a, "False", "Settled", "target %lld reached; dropping the %s annotation",
			    (long long)t, EC_ANN_TARGET);
		event(a, "TargetReached", false);
		a->requeue_ms = RQ_STEP;
		return;
	}
	a->kind = SC_NONE;
	a->requeue_ms = RQ_IDLE;
	progressing(a, "False", "Settled", "%d of %d voters healthy%s", v->healthy_voters, v->voters,
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
	set_step(a, o, EC_STEP_ROLLBACK, rec->from, rec->to, 0);
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
	int64_t t = started_ms(rec);
	if (t >= 0 && o->now_ms - t >= backoff)
		return false;
	char dur[32], what[256];
	int64_t left = t >= 0 ? backoff - (o->now_ms - t) : backoff;
	fmt_dur(left, dur, sizeof(dur));
	snprintf(what, sizeof(what), "rolled back %d → %d; retrying in %s or when the spec changes",
		 rec->from, rec->to, dur);
	a->kind = SC_WAIT;
	a->phase = EC_FAILED;
	a->hold_generation = true;
	rollback_progress(a, o, D, n, what);
	a->scaling = *rec; /* the start time of the hold is the rollback's */
	a->requeue_ms = left < RQ_STEP ? RQ_STEP : left;
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
			set_step(a, o, EC_STEP_SHRINK, from, to, 0);
			progressing(a, "True", EC_STEP_SHRINK, "%s", what);
		}
		event(a, "StatefulSetScaled", false);
		a->requeue_ms = RQ_STEP;
		return true;
	}
	if (o->sts_replicas < n) {
		a->kind = SC_RAISE_STS;
		a->replicas = n;
		if (rec->active)
			a->scaling = *rec;
		progressing(a, "True", "Repair",
			    "StatefulSet %s has %d replicas for %d members: raising it", o->ec.name,
			    o->sts_replicas, n);
		event(a, "StatefulSetScaled", true);
		a->requeue_ms = RQ_STEP;
		return true;
	}
	for (int k = n; k < SC_MAX_ORDINALS; k++) {
		if (!o->pvcs[k] && !o->pods[k].exists)
			continue;
		name_of(o, k, nb, sizeof(nb));
		if (o->pods[k].exists || o->pvc_terminating[k]) {
			a->kind = SC_WAIT;
			snprintf(what, sizeof(what), "waiting for the %s of removed member %s to go away",
				 o->pods[k].exists ? "Pod" : "claim", nb);
			a->requeue_ms = RQ_POLL;
		} else {
			a->kind = SC_DELETE_PVC;
			a->ordinal = k;
			snprintf(what, sizeof(what),
				 "deleting claim data-%s of removed member %s: its data must never be "
				 "reused", nb, nb);
			event(a, "VolumeDeleted", false);
			a->requeue_ms = RQ_STEP;
		}
		if (in_rollback) {
			rollback_progress(a, o, D, n, what);
		} else {
			const char *step = a->kind == SC_DELETE_PVC ||
							   (rec->active &&
							    strcmp(rec->step, EC_STEP_DELETE_VOLUME) == 0)
						   ? EC_STEP_DELETE_VOLUME
						   : EC_STEP_SHRINK;
			set_step(a, o, step, from, to, 0);
			progressing(a, "True", step, "%s", what);
		}
		return true;
	}
	return false;
}

static void decide_members(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a)
{
	const struct ec_scaling *rec = &o->ec.status.scaling;
	int D = desired(o), n = v->voters;
	char nb[300], trouble[300];
	a->phase = EC_SCALING;

	/* A member whose volume was lost: remove it; it is a hole afterwards. */
	int lost = lost_member(o, v);
	if (lost >= 0) {
		const struct sc_member *m = &o->members[v->by_ord[lost]];
		name_of(o, lost, nb, sizeof(nb));
		if (v->healthy_voters < ec_quorum(n - 1)) {
			degraded(a, o, "ReplaceBlocked",
				 "member %s lost its volume, but removing it would leave %d healthy of "
				 "%d voters, below quorum %d; restore a member first",
				 nb, v->healthy_voters, n - 1, ec_quorum(n - 1));
			return;
		}
		a->kind = SC_REPLACE_MEMBER;
		a->ordinal = lost;
		a->member_id = m->id;
		set_step(a, o, EC_STEP_REPLACE, n, n, m->id);
		progressing(a, "True", EC_STEP_REPLACE,
			    "member %s (id %llu) came back without its data: removing it to add it "
			    "again as a learner", nb, (unsigned long long)m->id);
		event(a, "ReplacingMember", true);
		a->requeue_ms = RQ_STEP;
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
		a->requeue_ms = RQ_POLL;
		bool pending = hole >= 0 || D != n || rec->active;
		a->phase = pending ? EC_SCALING : EC_RUNNING;
		if (rec->active && strcmp(rec->step, EC_STEP_PROMOTE) == 0)
			set_step(a, o, EC_STEP_VERIFY, rec->from, rec->to, 0);
		else if (rec->active)
			a->scaling = *rec;
		for (int i = 0; i < o->nmembers; i++) {
			const struct sc_member *m = &o->members[i];
			if (m->learner || m->healthy)
				continue;
			pod_trouble(o, m->ordinal, trouble, sizeof(trouble));
			progressing(a, pending ? "True" : "False",
				    a->scaling.active ? a->scaling.step
						      : pending ? "WaitingForHealth" : "Settled",
				    "member %s is not healthy%s; no membership change until every "
				    "voter is", m->name[0] ? m->name : name_of(o, m->ordinal, nb, sizeof(nb)),
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
		set_step(a, o, EC_STEP_ADD_LEARNER, n, n + 1, 0);
		name_of(o, add, nb, sizeof(nb));
		if (hole >= 0)
			progressing(a, "True", EC_STEP_ADD_LEARNER,
				    "adding %s again as a learner, replacing the member that lost its "
				    "volume", nb);
		else
			progressing(a, "True", EC_STEP_ADD_LEARNER, "adding %s as a learner for %d → %d",
				    nb, n, n + 1);
		event(a, "MemberAdded", false);
		a->requeue_ms = RQ_STEP;
		return;
	}

	if (D < n) {
		int i = v->by_ord[n - 1];
		const struct sc_member *m = &o->members[i];
		name_of(o, n - 1, nb, sizeof(nb));
		/* The budget first: with n − 1 voters a drain may take fewer. */
		if (o->pdb_max_unavailable < 0 || o->pdb_max_unavailable > ec_tolerance(n - 1)) {
			a->kind = SC_WAIT;
			a->requeue_ms = RQ_FAST;
			if (rec->active)
				a->scaling = *rec;
			progressing(a, "True", "TighteningBudget",
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
			a->requeue_ms = RQ_POLL;
			progressing(a, "False", "ScaleDownRefused",
				    "removing %s would leave %d healthy of %d voters, below quorum %d",
				    nb, healthy_after, n - 1, ec_quorum(n - 1));
			return;
		}
		if (m->id == v->leader) {
			int t = transfer_target(o, i);
			if (t < 0) {
				a->kind = SC_WAIT;
				a->requeue_ms = RQ_POLL;
				progressing(a, "True", EC_STEP_TRANSFER_LEADERSHIP,
					    "%s leads and no other healthy voter can take over", nb);
				return;
			}
			a->kind = SC_TRANSFER_LEADERSHIP;
			a->member_id = m->id;
			a->target_id = o->members[t].id;
			a->ordinal = n - 1;
			set_step(a, o, EC_STEP_TRANSFER_LEADERSHIP, n, n - 1, m->id);
			progressing(a, "True", EC_STEP_TRANSFER_LEADERSHIP,
				    "%s leads: moving leadership to %s before removing it", nb,
				    o->members[t].name);
			event(a, "LeadershipTransferred", false);
			a->requeue_ms = RQ_STEP;
			return;
		}
		a->kind = SC_REMOVE_MEMBER;
		a->member_id = m->id;
		a->ordinal = n - 1;
		set_step(a, o, EC_STEP_REMOVE_MEMBER, n, n - 1, m->id);
		progressing(a, "True", EC_STEP_REMOVE_MEMBER, "removing member %s (id %llu) for %d → %d",
			    nb, (unsigned long long)m->id, n, n - 1);
		event(a, "MemberRemoved", false);
		a->requeue_ms = RQ_STEP;
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
static void pods_for_members(const struct sc_observed *o, int need, struct sc_action *a)
{
	if (need > SC_MAX_ORDINALS)
		need = SC_MAX_ORDINALS;
	if (need <= o->sts_replicas)
		return;
	a->kind = SC_RAISE_STS;
	a->replicas = need;
	size_t n = strlen(a->degraded_message);
	snprintf(a->degraded_message + n, sizeof(a->degraded_message) - n,
		 "; StatefulSet raised from %d to %d so every member has its Pod", o->sts_replicas,
		 need);
	eo_strlcpy(a->message, a->degraded_message, sizeof(a->message));
	event(a, "StatefulSetScaled", true);
	a->requeue_ms = RQ_STEP;
}

static void decide_create_resources(const struct sc_observed *o, struct sc_action *a)
{
	a->kind = SC_CREATE_RESOURCES;
	a->bootstrap = !o->ec.status.cluster_id[0];
	a->replicas = 1;
	if (o->statefulset) {
		a->replicas = o->sts_replicas;
	} else if (!a->bootstrap) {
		/* Recreated after someone deleted it: a Pod for every member. */
		for (int i = 0; i < o->nmembers; i++)
			if (o->members[i].ordinal + 1 > a->replicas)
				a->replicas = o->members[i].ordinal + 1;
		int known = o->ec.status.replicas + o->ec.status.learners;
		if (!o->etcd_answered && known > a->replicas)
			a->replicas = known;
	}
	a->phase = a->bootstrap ? EC_CREATING : o->ec.status.phase;
	a->scaling = o->ec.status.scaling;
	char missing[128] = "";
	snprintf(missing, sizeof(missing), "%s%s%s%s", o->peer_service ? "" : " peer-Service",
		 o->client_service ? "" : " client-Service", o->statefulset ? "" : " StatefulSet",
		 o->pdb ? "" : " PodDisruptionBudget");
	if (a->bootstrap)
		progressing(a, "True", "Creating",
			    "creating%s; the StatefulSet starts at 1 Pod, which may found the cluster",
			    missing);
	else
		progressing(a, "True", "Repair", "recreating%s (StatefulSet at %d)", missing,
			    a->replicas);
	event(a, a->bootstrap ? "Creating" : "ResourcesRecreated", !a->bootstrap);
	a->requeue_ms = RQ_STEP;
}

void sc_decide(const struct sc_observed *o, struct sc_action *a)
{
	memset(a, 0, sizeof(*a));
	eo_strlcpy(a->degraded_status, "False", sizeof(a->degraded_status));
	eo_strlcpy(a->degraded_reason, "Healthy", sizeof(a->degraded_reason));
	a->phase = EC_RUNNING;

	if (o->ec.deleting) {
		a->kind = SC_NONE;
		a->phase = o->ec.status.phase;
		a->scaling = o->ec.status.scaling;
		snprintf(a->message, sizeof(a->message), "being deleted: owned objects go with it");
		return;
	}

	/* 1. Owned objects. */
	if (!o->peer_service || !o->client_service || !o->statefulset || !o->pdb) {
		decide_create_resources(o, a);
		return;
	}

	/* 2. Bootstrap. */
	if (!o->ec.status.cluster_id[0]) {
		decide_creating(o, a);
		return;
	}
	uint64_t recorded = strtoull(o->ec.status.cluster_id, NULL, 10);
	if (o->etcd_answered && o->cluster_id && o->cluster_id != recorded) {
		degraded(a, o, "ClusterIDMismatch",
			 "members answer for cluster %llu, but this EtcdCluster founded %llu: a member "
			 "bootstrapped anew; nothing will be changed, see the members' logs",
			 (unsigned long long)o->cluster_id, (unsigned long long)recorded);
		return;
	}
	/* The permission goes from the template and from each Pod made while
	 * the template had it (with OnDelete such a Pod lives on, and its init
	 * step runs again after a node restart). Nothing else happens first. */
	bool pod_may_found = false;
	for (int k = 0; k < SC_MAX_ORDINALS; k++)
		pod_may_found |= o->pods[k].exists && !o->pods[k].terminating && o->pods[k].bootstrap;
	if (o->sts_bootstrap || pod_may_found) {
		a->kind = SC_SET_BOOTSTRAP_DONE;
		a->phase = o->ec.status.phase == EC_PHASE_UNSET ? EC_CREATING : o->ec.status.phase;
		a->scaling = o->ec.status.scaling;
		progressing(a, "True", "Creating",
			    "cluster %s recorded: no Pod may found a cluster any more",
			    o->ec.status.cluster_id);
		event(a, "BootstrapDisabled", false);
		a->requeue_ms = RQ_FAST;
		return;
	}

	/* 3. A cluster we may touch. */
	if (!o->etcd_answered) {
		degraded(a, o, "NoMemberAnswers",
			 "no member of %s answers (%s); no membership change until one does",
			 o->ec.name, o->etcd_error[0] ? o->etcd_error : "unreachable");
		/* The members last published. */
		char prefix[300];
		snprintf(prefix, sizeof(prefix), "%s-", o->ec.name);
		int need = 0;
		for (int i = 0; i < o->ec.status.nmembers; i++) {
			int k = sc_ordinal_of_name(prefix, o->ec.status.members[i].name);
			if (k + 1 > need)
				need = k + 1;
		}
		pods_for_members(o, need, a);
		return;
	}
	struct sc_view v;
	sc_build_view(o, &v);
	for (int i = 0; v.foreign && i < o->nmembers; i++)
		if (o->members[i].ordinal < 0) {
			degraded(a, o, "UnmanagedMember",
				 "member %s (peer URL %s) is not one of this cluster's Pods; remove it "
				 "by hand, nothing will be changed until then",
				 o->members[i].name[0] ? o->members[i].name : "(unstarted)",
				 o->members[i].peer_url);
			return;
		}
	for (int i = 0; i < o->nmembers; i++) {
		const struct sc_member *m = &o->members[i];
		char nb[300];
		if (m->mismatch) {
			degraded(a, o, "MemberMismatch",
				 "the Pod of member %s (id %llu) answers as member %llu of cluster %llu, "
				 "not of %llu: it runs on other data (a cluster founded anew, another "
				 "member's volume); it is out of the client Service and nothing will be "
				 "changed: see its log",
				 m->name[0] ? m->name : name_of(o, m->ordinal, nb, sizeof(nb)),
				 (unsigned long long)m->id, (unsigned long long)m->answered_id,
				 (unsigned long long)m->answered_cluster, (unsigned long long)o->cluster_id);
			return;
		}
	}
	if (!v.quorum) {
		degraded(a, o, "QuorumLost",
			 "%d of %d voters healthy with a common leader, quorum needs %d: no membership "
			 "change and no force-new-cluster; bring the members' Pods back",
			 v.agreeing, v.voters, ec_quorum(v.voters));
		int need = 0;
		for (int i = 0; i < o->nmembers; i++)
			if (o->members[i].ordinal + 1 > need)
				need = o->members[i].ordinal + 1;
		pods_for_members(o, need, a);
		return;
	}

	/* Every answer below acts on the member list: a member's local copy can
	 * lag behind the cluster (miss a member just added or promoted, keep
	 * one just removed), and the StatefulSet lowered or a claim deleted on
	 * such a list would take a voter's Pod or data. Only a quorum read. */
	if (!o->members_quorum_read) {
		a->kind = SC_WAIT;
		a->requeue_ms = RQ_POLL;
		a->scaling = o->ec.status.scaling;
		a->phase = o->ec.status.phase == EC_FAILED ? EC_FAILED
			   : a->scaling.active		   ? EC_SCALING
							   : EC_RUNNING;
		a->hold_generation = true; /* nothing of the spec was acted on */
		progressing(a, a->scaling.active ? "True" : "False", "NoQuorumRead",
			    "the member list could not be read with quorum (%s); no change until it can",
			    o->etcd_error[0] ? o->etcd_error : "no member answered");
		return;
	}

	/* 4. A learner in flight; 5–8 otherwise. */
	if (v.learner >= 0)
		decide_learner(o, &v, a);
	else
		decide_members(o, &v, a);
}

