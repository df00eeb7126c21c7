/*
 * space.c — the space decisions of space.h: NOSPACE recovery and threshold
 * defragmentation. Pure; test/unit/test_space.c replays each step.
 *
 * Order is the point: followers first, the leader last (a defragmentation
 * blocks its member; on the leader it stalls every write, so it comes once,
 * at the end), one member per decision, and none while another member does
 * not answer (a defragmenting member plus a silent one could cost quorum).
 */
#include "space.h"

#include <stdio.h>
#include <string.h>

const char *sp_kind_name(enum sp_kind k)
{
	static const char *const names[] = {"None", "Wait", "Compact", "Defragment", "Disarm",
					    "Stuck"};
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

int sp_fragmentation(const struct sp_member *m)
{
	if (m->db_size <= 0 || m->db_in_use < 0 || m->db_in_use > m->db_size)
		return 0;
	return (int)((m->db_size - m->db_in_use) * 100 / m->db_size);
}

/* The next member to defragment: the most fragmented follower at or above
 * pct, else the leader when it is; -1 for none. */
static int pick(const struct sp_observed *o, int64_t pct)
{
	int best = -1, leader = -1;
	for (int i = 0; i < o->n; i++) {
		const struct sp_member *m = &o->m[i];
		if (!m->reachable || m->db_size - m->db_in_use < SP_MIN_FREE_BYTES ||
		    sp_fragmentation(m) < pct)
			continue;
		if (m->leader)
			leader = i;
		else if (best < 0 || sp_fragmentation(m) > sp_fragmentation(&o->m[best]))
			best = i;
	}
	return best >= 0 ? best : leader;
}

static bool done(const struct sp_observed *o, uint64_t id)
{
	for (int i = 0; i < o->ndone; i++)
		if (o->done[i] == id)
			return true;
	return false;
}

static void mib(int64_t b, char *out, size_t size)
{
	snprintf(out, size, "%.1f MiB", (double)b / (1024.0 * 1024.0));
}

static void defrag(const struct sp_observed *o, int k, struct sp_action *a)
{
	const struct sp_member *m = &o->m[k];
	char sz[32], use[32];
	mib(m->db_size, sz, sizeof(sz));
	mib(m->db_in_use, use, sizeof(use));
	a->kind = SP_DEFRAG;
	a->member = k;
	snprintf(a->message, sizeof(a->message),
		 "%sdefragmenting %s (%s): %d%% of its %s database is free (%s in use)",
		 a->recovery ? "NOSPACE recovery: " : "", m->name[0] ? m->name : "?",
		 m->leader ? "the leader, last" : "a follower", sp_fragmentation(m), sz, use);
}

void sp_decide(const struct sp_observed *o, struct sp_action *a)
{
	memset(a, 0, sizeof(*a));
	a->member = -1;
	a->recovery = o->nospace;
	if (o->nospace) {
		for (int i = 0; i < o->n; i++)
			if (!o->m[i].reachable) {
				a->kind = SP_WAIT;
				snprintf(a->message, sizeof(a->message),
					 "NOSPACE recovery waits: member %s does not answer",
					 o->m[i].name[0] ? o->m[i].name : "?");
				return;
			}
		if (o->revision > 0 && o->revision > o->compacted_revision) {
			a->kind = SP_COMPACT;
			a->revision = o->revision;
			snprintf(a->message, sizeof(a->message),
				 "NOSPACE recovery: compacting the history up to revision %lld",
				 (long long)o->revision);
			return;
		}
		if (o->compacted_at_ms > 0 && o->now_ms - o->compacted_at_ms < SP_COMPACT_SETTLE_MS) {
			a->kind = SP_WAIT;
			snprintf(a->message, sizeof(a->message),
				 "NOSPACE recovery waits for every member to apply the compaction");
			return;
		}
		/* every member once, followers first, the leader last */
		int k = -1;
		for (int pass = 0; pass < 2 && k < 0; pass++)
			for (int i = 0; i < o->n && k < 0; i++)
				if (o->m[i].leader == (pass == 1) && !done(o, o->m[i].id))
					k = i;
		if (k >= 0) {
			defrag(o, k, a);
			return;
		}
		int64_t full = o->quota_bytes > 0 ? o->quota_bytes / 100 * SP_FULL_PCT : INT64_MAX;
		int64_t in_use = 0;
		for (int i = 0; i < o->n; i++)
			if (o->m[i].db_size > in_use)
				in_use = o->m[i].db_size; /* defragmented: the file is the live data */
		if (in_use >= full) {
			char use[32], q[32];
			mib(in_use, use, sizeof(use));
			mib(o->quota_bytes, q, sizeof(q));
			a->kind = SP_STUCK;
			snprintf(a->message, sizeof(a->message),
				 "NOSPACE: %s of the %s quota is live data after compaction and "
				 "defragmentation; delete keys or raise spec.maintenance."
				 "quotaBackendBytes (and restart the members), then the alarm is disarmed",
				 use, q);
			return;
		}
		a->kind = SP_DISARM;
		snprintf(a->message, sizeof(a->message),
			 "NOSPACE recovery: compacted to revision %lld and defragmented; disarming "
			 "the alarm", (long long)o->compacted_revision);
		return;
	}
	if (!o->settled || o->threshold_pct <= 0)
		return;
	for (int i = 0; i < o->n; i++)
		if (!o->m[i].ready)
			return; /* each healthy before the next */
	int k = pick(o, o->threshold_pct);
	if (k >= 0)
		defrag(o, k, a);
}
