/*
 * scaling.c — the scaling protocol (DESIGN §4) as a pure decision: one
 * observed snapshot → the one next action, the status.scaling record to write
 * before it, and the report (phase, conditions, event).
 *
 * The one idea: every branch asks "what does the world look like?", never
 * "what was I doing?". A learner in the member list means a scale-up (or a
 * replacement) is in flight whatever status.scaling says; more Pods than
 * members means a removal happened and the StatefulSet must come down; a
 * claim above the StatefulSet whose Pod is gone must be deleted. The record
 * only supplies time (step timeouts) and the memory of a rollback.
 *
 * Order of questions, each answered before the next is asked:
 *   1. owned objects exist?            → create them
 *   2. bootstrapped (status.clusterID)? → record it / take the permission away
 *   3. a cluster we may touch?         → otherwise report Degraded; act never
 *                                        on membership (Pods for members only)
 *   4. a Pod the guard refuses, with no started member at its ordinal (removed
 *      by 5, or added again)?         → delete it: only a new Pod's init step
 *                                        can let etcd start there again
 *      a learner?                      → finish it or roll back (scaling_learner.c)
 *   5. a member to replace or a hole?  → remove the lost member / add a learner there
 *   6. leftovers of a removal?         → lower the StatefulSet, delete the claim
 *   7. spec vs voters                  → add a learner / move leadership / remove one
 *   8. settled                         → clear the record, step toward the target
 *   (5–8: scaling_members.c)
 *
 * This file holds 1–3, the refused Pod of 4, and the helpers every branch
 * fills the action with.
 * What is published for a decision is scaling_status.c; names, URLs and the
 * member-list view are scaling_names.c.
 */
#include "scaling_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"


/* ---- helpers that fill the action ------------------------------------ */

int sc_desired(const struct sc_observed *o)
{
	int64_t d = o->ec.spec.replicas;
	if (d < EC_MIN_REPLICAS)
		d = EC_MIN_REPLICAS;
	if (d > EC_MAX_REPLICAS)
		d = EC_MAX_REPLICAS;
	return (int)d;
}

int64_t sc_started_ms(const struct ec_scaling *s)
{
	int64_t t;
	if (!s->active || !s->started_at[0] || eo_rfc3339_parse(s->started_at, &t) != 0)
		return -1;
	return t * 1000;
}

const char *sc_name_of(const struct sc_observed *o, int k, char *buf, size_t size)
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
void sc_set_step(struct sc_action *a, const struct sc_observed *o, const char *step,
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

void sc_progressing(struct sc_action *a, const char *status, const char *reason,
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

void sc_event(struct sc_action *a, const char *reason, bool warning)
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

void sc_degraded(struct sc_action *a, const struct sc_observed *o, const char *reason,
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
	a->requeue_ms = SC_RQ_DEGRADED;
	if (condition_changed(o, "Degraded", "True", reason))
		sc_event(a, reason, true);
}

/* The Pod's trouble, for messages: " (Pod demo-3: ErrImagePull: …)". */
void sc_pod_trouble(const struct sc_observed *o, int k, char *out, size_t size)
{
	out[0] = '\0';
	if (k < 0 || k >= SC_MAX_ORDINALS)
		return;
	const struct sc_pod *p = &o->pods[k];
	char nb[300];
	if (!p->exists)
		snprintf(out, size, " (Pod %s does not exist yet)", sc_name_of(o, k, nb, sizeof(nb)));
	else if (p->waiting_reason[0])
		snprintf(out, size, " (Pod %s: %s%s%s)", sc_name_of(o, k, nb, sizeof(nb)),
			 p->waiting_reason, p->waiting_message[0] ? ": " : "", p->waiting_message);
	else if (p->initializing)
		snprintf(out, size, " (Pod %s: in its init step)", sc_name_of(o, k, nb, sizeof(nb)));
}

/* ---- 1–3: before the cluster may be touched ------------------------- */

/* The first Pod whose etcd the guard refuses while no started member is at
 * its ordinal, or -1. */
static int refused_pod(const struct sc_observed *o, const struct sc_view *v)
{
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		const struct sc_pod *p = &o->pods[k];
		if (!p->exists || p->terminating || !p->guard_refused)
			continue;
		int i = v->by_ord[k];
		if (i < 0 || !o->members[i].name[0])
			return k;
	}
	return -1;
}

static void decide_creating(const struct sc_observed *o, struct sc_action *a)
{
	char trouble[300], nb[300];
	a->phase = EC_CREATING;
	if (o->etcd_answered && o->cluster_id) {
		/* sc_status records the id; the next pass clears the bootstrap flag. */
		a->kind = SC_WAIT;
		a->requeue_ms = SC_RQ_FAST;
		sc_progressing(a, "True", "Creating", "member %s founded cluster %llu",
			       sc_name_of(o, 0, nb, sizeof(nb)), (unsigned long long)o->cluster_id);
		sc_event(a, "ClusterCreated", false);
		return;
	}
	sc_pod_trouble(o, 0, trouble, sizeof(trouble));
	a->kind = SC_WAIT;
	a->requeue_ms = SC_RQ_POLL;
	sc_progressing(a, "True", "Creating", "waiting for member %s to found the cluster%s",
		       sc_name_of(o, 0, nb, sizeof(nb)), trouble);
}

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
	sc_event(a, "StatefulSetScaled", true);
	a->requeue_ms = SC_RQ_STEP;
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
		sc_progressing(a, "True", "Creating",
			       "creating%s; the StatefulSet starts at 1 Pod, which may found the cluster",
			       missing);
	else
		sc_progressing(a, "True", "Repair", "recreating%s (StatefulSet at %d)", missing,
			       a->replicas);
	sc_event(a, a->bootstrap ? "Creating" : "ResourcesRecreated", !a->bootstrap);
	a->requeue_ms = SC_RQ_STEP;
}

/* A new cluster over claims a deleted cluster of its name left: their data
 * and membership are another cluster's (its Pod 0 would wait for that
 * cluster's quorum forever, and a scale-up would delete the rest). Nothing is
 * made until a person chooses; true when that is the case. */
static bool decide_foreign_claims(const struct sc_observed *o, struct sc_action *a)
{
	char list[64] = "";
	int n = 0;
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		if (!o->pvcs[k] || !o->pvc_foreign[k] || o->pvc_terminating[k])
			continue;
		size_t len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%s%d", n++ ? "," : "", k);
	}
	if (!n)
		return false;
	sc_degraded(a, o, "VolumesOfAnotherCluster",
		    "claims data-%s-{%s} predate this EtcdCluster: a deleted cluster %s left them, "
		    "with its data. Nothing is made on them. Delete them if that data is not needed, "
		    "or keep them and create this cluster under another name",
		    o->ec.name, list, o->ec.name);
	a->phase = EC_CREATING;
	a->requeue_ms = SC_RQ_POLL;
	return true;
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

	/* 1. Owned objects, made only on claims of this cluster's own. */
	if (!o->ec.status.cluster_id[0] && decide_foreign_claims(o, a))
		return;
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
		sc_degraded(a, o, "ClusterIDMismatch",
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
		sc_progressing(a, "True", "Creating",
			       "cluster %s recorded: no Pod may found a cluster any more",
			       o->ec.status.cluster_id);
		sc_event(a, "BootstrapDisabled", false);
		a->requeue_ms = SC_RQ_FAST;
		return;
	}

	/* 3. A cluster we may touch. */
	if (!o->etcd_answered) {
		sc_degraded(a, o, "NoMemberAnswers",
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
			sc_degraded(a, o, "UnmanagedMember",
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
			sc_degraded(a, o, "MemberMismatch",
				    "the Pod of member %s (id %llu) answers as member %llu of cluster %llu, "
				    "not of %llu: it runs on other data (a cluster founded anew, another "
				    "member's volume); it is out of the client Service and nothing will be "
				    "changed: see its log",
				    m->name[0] ? m->name : sc_name_of(o, m->ordinal, nb, sizeof(nb)),
				    (unsigned long long)m->id, (unsigned long long)m->answered_id,
				    (unsigned long long)m->answered_cluster, (unsigned long long)o->cluster_id);
			return;
		}
	}
	if (!v.quorum) {
		sc_degraded(a, o, "QuorumLost",
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
		a->requeue_ms = SC_RQ_POLL;
		a->scaling = o->ec.status.scaling;
		a->phase = o->ec.status.phase == EC_FAILED ? EC_FAILED
			   : a->scaling.active		   ? EC_SCALING
							   : EC_RUNNING;
		a->hold_generation = true; /* nothing of the spec was acted on */
		sc_progressing(a, a->scaling.active ? "True" : "False", "NoQuorumRead",
			       "the member list could not be read with quorum (%s); no change until it can",
			       o->etcd_error[0] ? o->etcd_error : "no member answered");
		return;
	}

	/* 4. A Pod whose etcd the guard refuses (no data under a configuration
	 * that has run) and whose member is gone or never started: etcd cannot
	 * start in it again, whatever membership says — the init step, which
	 * runs once per Pod, must decide afresh (join as the learner added
	 * there, or wait to be added). Deleting it takes nothing: its etcd is
	 * not running. A started member there is step 5's (replace it first). */
	int refused = refused_pod(o, &v);
	if (refused >= 0) {
		char nb[300];
		a->kind = SC_DELETE_POD;
		a->ordinal = refused;
		a->phase = EC_SCALING;
		a->scaling = o->ec.status.scaling;
		sc_progressing(a, "True", a->scaling.active ? a->scaling.step : "ReplacePod",
			       "Pod %s: the guard refuses to start etcd without its data, and its "
			       "member is %s: deleting the Pod so that its init step joins afresh",
			       sc_name_of(o, refused, nb, sizeof(nb)),
			       v.by_ord[refused] < 0 ? "removed" : "added again, not started");
		sc_event(a, "DeletingRefusedPod", true);
		a->requeue_ms = SC_RQ_STEP;
		return;
	}

	/* Then a learner in flight; 5–8 otherwise. */
	if (v.learner >= 0)
		sc_decide_learner(o, &v, a);
	else
		sc_decide_members(o, &v, a);
}

