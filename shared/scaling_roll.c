/*
 * scaling_roll.c — a roll: every member's Pod made again, one at a time, on
 * its own data, so that it starts with what a running etcd cannot take in
 * (today: a trust bundle with a new CA, which etcd reads only at start).
 *
 * The one idea: the roll is derived from what is observed, like the rest of
 * the protocol. The StatefulSet's template carries the wanted revision
 * (SC_ANN_REVISION); a Pod made from an older template carries an older
 * one. One such Pod is deleted when the cluster is whole — every voter
 * healthy with one leader, every Pod ready, no learner, every member caught
 * up with the leader's raft index — followers first; the leader last, after
 * leadership moved to a member already made again. A controller that
 * crashes anywhere resumes by looking again: nothing is remembered.
 *
 * Called only when sc_decide has nothing to do (settled): scaling always
 * goes first. No I/O, no clock, no allocation.
 */
#include <stdio.h>
#include <string.h>

#include "scaling_impl.h"

/* A member this far behind the leader's raft index is still catching up. */
#define ROLL_CAUGHT_UP_ENTRIES 1000

static void roll_wait(struct sc_action *a, const char *who, const char *why)
{
	a->kind = SC_WAIT;
	a->requeue_ms = SC_RQ_POLL;
	sc_progressing(a, "True", "RollingMembers", "roll waits for %s: %s", who, why);
}

int sc_roll(const struct sc_observed *o, const char *want, struct sc_action *a)
{
	if (a->kind != SC_NONE || !want || !want[0] || !o->sts_current ||
	    strcmp(o->sts_revision, want) != 0)
		return -1; /* nothing settled to roll, or the template is not there yet */
	int n = sc_desired(o);
	char nb[300];
	int stale = 0;
	for (int k = 0; k < n; k++)
		if (strcmp(o->pods[k].revision, want) != 0)
			stale++;
	if (stale == 0)
		return 0;
	struct sc_view v;
	sc_build_view(o, &v);
	if (!v.quorum || v.learners > 0 || v.voters != n || !v.all_voters_healthy ||
	    v.leader_idx < 0) {
		roll_wait(a, "the cluster", "every voter healthy with one leader, no learner");
		return stale;
	}
	uint64_t leader_index = o->members[v.leader_idx].raft_index;
	for (int k = 0; k < n; k++) {
		const struct sc_pod *p = &o->pods[k];
		int i = v.by_ord[k];
		sc_name_of(o, k, nb, sizeof(nb));
		if (!p->exists || p->terminating || !p->ready || i < 0) {
			roll_wait(a, nb, "its Pod is not ready");
			return stale;
		}
		if (o->members[i].raft_index + ROLL_CAUGHT_UP_ENTRIES < leader_index) {
			roll_wait(a, nb, "catching up with the leader");
			return stale;
		}
	}
	/* Followers first (lowest ordinal), the leader last. */
	int leader_ord = o->members[v.leader_idx].ordinal, pick = -1, fresh = -1;
	for (int k = 0; k < n; k++) {
		bool current = strcmp(o->pods[k].revision, want) == 0;
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
			       "roll: moving leadership from %s to %s, already made again",
			       sc_name_of(o, leader_ord, nb, sizeof(nb)), o->members[v.by_ord[fresh]].name);
		sc_event(a, "RollTransferringLeadership", false);
		return stale;
	}
	if (pick < 0)
		pick = leader_ord; /* one member, or none made again yet to lead */
	a->kind = SC_RESTART_POD;
	a->ordinal = pick;
	a->requeue_ms = SC_RQ_STEP;
	sc_progressing(a, "True", "RollingMembers",
		       "roll: making %s again on its data (%d of %d still to go)%s",
		       sc_name_of(o, pick, nb, sizeof(nb)), stale, n,
		       n == 1 ? "; a single member is unavailable until it is back" : "");
	sc_event(a, "RestartingMember", false);
	return stale;
}
