/*
 * scaling_roll.c — a roll: every member's Pod made again, one at a time, on
 * its own data, so that it starts with what a running etcd cannot take in:
 * a new etcd image (a version upgrade), a trust bundle with a new CA
 * (etcd reads the CAs it trusts only at start), or new Pod knobs or etcd
 * flags (spec.pod, spec.etcd.extraArgs: their hash, EC_ANN_POD_SPEC).
 *
 * The one idea: the roll is derived from what is observed, like the rest of
 * the protocol. The StatefulSet's template carries the wanted image (and,
 * during a CA rotation, the wanted revision, SC_ANN_REVISION); a Pod made
 * from an older template differs. One such Pod is deleted when the cluster
 * is whole — every voter healthy with one leader, every Pod ready, no
 * learner, every member caught up with the leader's raft index — followers
 * first; the leader last, after leadership moved to a member already made
 * again. A controller that crashes anywhere resumes by looking again:
 * nothing is remembered. A Pod made again that is not ready within the step
 * timeout stops the roll where it is: the others keep quorum.
 *
 * Called after sc_decide: scaling always goes first. No I/O, no clock, no
 * allocation.
 */
#include <stdio.h>
#include <string.h>

#include "scaling_impl.h"

/* A member this far behind the leader's raft index is still catching up. */
#define ROLL_CAUGHT_UP_ENTRIES 1000

static bool stale(const struct sc_observed *o, int k, const char *image, const char *want)
{
	char pod_spec[24];
	cluster_pod_revision(&o->ec, pod_spec, sizeof(pod_spec));
	return strcmp(o->pods[k].image, image) != 0 || strcmp(o->pods[k].pod_spec, pod_spec) != 0 ||
	       (want[0] && strcmp(o->pods[k].revision, want) != 0);
}

static void roll_wait(struct sc_action *a, const char *what, const char *who, const char *why)
{
	a->kind = SC_WAIT;
	a->requeue_ms = SC_RQ_POLL;
	sc_progressing(a, "True", "RollingMembers", "%s waits for %s: %s", what, who, why);
}

int sc_roll(const struct sc_observed *o, const char *want, struct sc_action *a)
{
	if (!want)
		want = "";
	char image[256];
	cluster_etcd_image(&o->ec, image, sizeof(image)); /* what spec asks for, template or not */
	char pod_spec[24];
	cluster_pod_revision(&o->ec, pod_spec, sizeof(pod_spec));
	int n = sc_desired(o), left = 0, missing = 0;
	bool upgrading = false;
	for (int k = 0; k < n; k++)
		if (!o->pods[k].exists)
			missing++;
		else if (stale(o, k, image, want)) {
			left++;
			upgrading = upgrading || strcmp(o->pods[k].image, image) != 0;
		}
	/* Upgrading from the moment spec asks for another image (the admission
	 * rules hold scaling while it says so), also while a Pod starts. */
	if (upgrading && a->phase == EC_RUNNING)
		a->phase = EC_UPGRADING;
	/* A staged scale waits for the upgrade (one change at a time); a voter
	 * down with nothing pending is the roll's to judge. */
	bool take = a->kind == SC_NONE || (upgrading && a->staging) || (left && a->settled_wait);
	if (!take || !o->statefulset || !o->sts_current ||
	    strcmp(o->sts_image, image) != 0 || strcmp(o->sts_pod_spec, pod_spec) != 0 ||
	    (want[0] && strcmp(o->sts_revision, want) != 0))
		return -1; /* something else first, or the template is not there yet */
	if (a->kind != SC_NONE) {
		a->kind = SC_NONE;
		a->event_reason[0] = '\0';
	}
	if (left == 0) /* a rotation is done only when every Pod is there to carry it */
		return want[0] && missing ? -1 : 0;
	const char *what = upgrading ? "upgrade" : "roll";
	char nb[300], dur[32];

	/* A Pod made again that does not become ready stops the roll. */
	for (int k = 0; k < n; k++) {
		const struct sc_pod *p = &o->pods[k];
		if (!p->exists || p->ready || p->terminating || stale(o, k, image, want) || !p->created_ms ||
		    o->now_ms - p->created_ms < o->step_timeout_ms)
			continue;
		char trouble[300];
		sc_pod_trouble(o, k, trouble, sizeof(trouble));
		dur_text(o->now_ms - p->created_ms, dur, sizeof(dur));
		a->kind = SC_WAIT;
		a->requeue_ms = SC_RQ_DEGRADED;
		/* the way out first: the message is cut at 255 bytes */
		sc_progressing(a, "False", upgrading ? "UpgradeStalled" : "RollStalled",
			       "%s stopped at %s, not ready %s after it was made again: %sfix the "
			       "cause (kubectl describe pod %s); %d of %d still to go, the others "
			       "serve%s",
			       what, sc_name_of(o, k, nb, sizeof(nb)), dur,
			       upgrading ? "set spec.version back to what the others run, or " : "", nb,
			       left, n, trouble);
		return left;
	}

	struct sc_view v;
	sc_build_view(o, &v);
	/* A Pod of an older template that is not ready (made on an image that
	 * never started, before spec went back): making it again takes nothing
	 * that serves, and it is what the way out of a stall needs. */
	for (int k = 0; k < n && v.quorum; k++) {
		const struct sc_pod *p = &o->pods[k];
		int i = v.by_ord[k];
		if (!p->exists || p->ready || p->terminating || !stale(o, k, image, want) ||
		    (i >= 0 && o->members[i].healthy))
			continue;
		a->kind = SC_RESTART_POD;
		a->ordinal = k;
		a->requeue_ms = SC_RQ_STEP;
		sc_progressing(a, "True", "RollingMembers", "%s: making %s again first: not ready, "
			       "and made from an older template", what, sc_name_of(o, k, nb, sizeof(nb)));
		sc_event(a, upgrading ? "UpgradingMember" : "RestartingMember", false);
		return left;
	}
	if (!v.quorum || v.learners > 0 || v.voters != n || !v.all_voters_healthy ||
	    v.leader_idx < 0) {
		roll_wait(a, what, "the cluster", "every voter healthy with one leader, no learner");
		return left;
	}
	uint64_t leader_index = o->members[v.leader_idx].raft_index;
	for (int k = 0; k < n; k++) {
		const struct sc_pod *p = &o->pods[k];
		int i = v.by_ord[k];
		sc_name_of(o, k, nb, sizeof(nb));
		if (!p->exists || p->terminating || !p->ready || i < 0) {
			roll_wait(a, what, nb, "its Pod is not ready");
			return left;
		}
		if (o->members[i].raft_index + ROLL_CAUGHT_UP_ENTRIES < leader_index) {
			roll_wait(a, what, nb, "catching up with the leader");
			return left;
		}
	}
	/* Followers first (lowest ordinal), the leader last. */
	int leader_ord = o->members[v.leader_idx].ordinal, pick = -1, fresh = -1;
	for (int k = 0; k < n; k++) {
		bool current = !stale(o, k, image, want);
		if (current && fresh < 0 && k != leader_ord)
			fresh = k;
		if (!current && k != leader_ord && pick < 0)
			pick = k;
	}
	if (pick < 0 && n > 1 && fresh >= 0) {
		a->kind = SC_TRANSFER_LEADERSHIP;
		a->member_id = o->members[v.leader_idx].id;
		a->target_id = o->members[v.by_ord[fresh]].id;
		a->requeue_ms = SC_RQ_STEP;
		sc_progressing(a, "True", "RollingMembers",
			       "%s: moving leadership from %s to %s, already made again", what,
			       sc_name_of(o, leader_ord, nb, sizeof(nb)), o->members[v.by_ord[fresh]].name);
		sc_event(a, "RollTransferringLeadership", false);
		return left;
	}
	if (pick < 0)
		pick = leader_ord; /* one member, or none made again yet to lead */
	a->kind = SC_RESTART_POD;
	a->ordinal = pick;
	a->requeue_ms = SC_RQ_STEP;
	sc_progressing(a, "True", "RollingMembers", "%s: making %s again on its data%s%s (%d of %d "
		       "still to go)%s",
		       what, sc_name_of(o, pick, nb, sizeof(nb)), upgrading ? " with " : "",
		       upgrading ? image : "", left, n,
		       n == 1 ? "; a single member is unavailable until it is back" : "");
	sc_event(a, upgrading ? "UpgradingMember" : "RestartingMember", false);
	return left;
}
