/*
 * space_ctl.c — space maintenance of a cluster: NOSPACE recovery and
 * threshold defragmentation (shared/space.c decides; this file observes,
 * acts and tells).
 *
 * The one idea: this runs after the scaling protocol in the same pass and
 * takes at most one step, so a defragmentation never overlaps a membership
 * change or a roll, and each member is seen healthy again by a fresh
 * observation before the next one is touched. A NOSPACE alarm holds the
 * scaling protocol instead (reconcile.c): a read-only cluster is recovered
 * before it is changed.
 */
#include "space_ctl.h"

#include <stdio.h>
#include <string.h>

#include "etcd.h"
#include "events.h"
#include "log.h"

/* A defragmentation rewrites the member's whole file: allow it time. */
#define SPACE_DEFRAG_TIMEOUT_MS 120000

void space_plan(const struct observation *o, bool settled, struct space_plan *p)
{
	memset(p, 0, sizeof(*p));
	struct sp_observed *in = &p->in;
	const struct etcd_cluster *ec = &o->s.ec;
	/* the leader as the members see it (under NOSPACE none is "healthy") */
	uint64_t leader = 0;
	for (int i = 0; i < o->s.nmembers && !leader; i++)
		if (o->s.members[i].reachable && !o->s.members[i].mismatch)
			leader = o->s.members[i].leader_seen;
	for (int i = 0; i < o->s.nmembers && in->n < EC_MAX_MEMBERS; i++) {
		const struct sc_member *m = &o->s.members[i];
		struct sp_member *d = &in->m[in->n];
		d->id = m->id;
		eo_strlcpy(d->name, m->name, sizeof(d->name));
		d->leader = m->id == leader;
		d->reachable = m->reachable && !m->mismatch;
		d->ready = d->reachable && m->healthy;
		d->db_size = m->db_size;
		d->db_in_use = m->db_size_in_use;
		if (m->nospace)
			in->nospace = true;
		if (m->revision > in->revision)
			in->revision = m->revision;
		eo_strlcpy(p->urls[in->n], m->client_url, sizeof(p->urls[0]));
		in->n++;
	}
	in->compacted_revision = ec->status.maint.compacted_revision;
	in->compacted_at_ms = obs_time_ms(ec->status.maint.compacted_at);
	in->now_ms = o->s.now_ms;
	for (int i = 0; i < ec->status.maint.ndefragmented && in->ndone < EC_MAX_MEMBERS; i++)
		if (etcd_id_parse(ec->status.maint.defragmented[i], &in->done[in->ndone]) == 0)
			in->ndone++;
	in->quota_bytes = ec->spec.maint.quota_bytes > 0 ? ec->spec.maint.quota_bytes
							 : EC_DEFAULT_QUOTA_BYTES;
	in->threshold_pct = ec->spec.maint.defrag_threshold;
	in->settled = settled && o->s.etcd_answered && o->s.members_quorum_read;
	sp_decide(in, &p->act);
}

void space_report(const struct observation *o, const struct space_plan *p, struct ec_status *st)
{
	st->maint = o->s.ec.status.maint;
	if (!p->in.nospace)
		return;
	st->phase = EC_DEGRADED;
	char msg[256];
	snprintf(msg, sizeof(msg), "etcd raised the NOSPACE alarm: the cluster refuses writes. %s",
		 p->act.message);
	cluster_set_condition(st, "Degraded", "True", SPACE_REASON_NOSPACE, msg, o->s.now_rfc3339);
}

static struct etcd_client *members_client(struct ctl *c, const struct observation *o,
					  const struct space_plan *p, struct eo_err *err)
{
	const char *eps[EC_MAX_MEMBERS];
	size_t n = 0;
	/* the leader first: compaction and the alarm go through it anyway */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < p->in.n; i++)
			if (p->in.m[i].reachable && p->urls[i][0] && p->in.m[i].leader == (pass == 0))
				eps[n++] = p->urls[i];
	if (n == 0) {
		eo_err_set(err, EO_ETRANSPORT, "no member answers");
		return NULL;
	}
	return etcd_client_new(eps, n, o->etls, c->etcd_timeout_ms, err);
}

static void record(struct ec_status *st, const struct observation *o, const char *what)
{
	eo_strlcpy(st->maint.last_action, what, sizeof(st->maint.last_action));
	eo_strlcpy(st->maint.last_action_at, o->s.now_rfc3339, sizeof(st->maint.last_action_at));
}

int space_act(struct ctl *c, struct observation *o, const struct space_plan *p,
	      struct ec_status *st, struct eo_err *err)
{
	const struct etcd_cluster *ec = &o->s.ec;
	const struct sp_action *a = &p->act;
	char q[300];
	/* The alarm, told once: when the Degraded reason becomes NoSpace. */
	const struct ec_condition *was = cluster_condition(&ec->status, "Degraded");
	if (p->in.nospace && (!was || strcmp(was->reason, SPACE_REASON_NOSPACE) != 0)) {
		char msg[256];
		snprintf(msg, sizeof(msg), "etcd raised the NOSPACE alarm: the database reached its "
			 "quota (%lld bytes) and the cluster refuses writes; the controller compacts, "
			 "defragments and disarms it", (long long)p->in.quota_bytes);
		ev_emit(c->kc, o->ec, true, SPACE_REASON_NOSPACE, msg, c->identity);
		log_warn("NOSPACE alarm", "cluster=%s/%s quota=%lld", ec->namespace, ec->name,
			 (long long)p->in.quota_bytes);
	}
	if (a->kind == SP_NONE || a->kind == SP_WAIT || a->kind == SP_STUCK) {
		if (a->kind != SP_NONE)
			log_debug("space", "cluster=%s/%s decision=%s msg=%s", ec->namespace, ec->name,
				 sp_kind_name(a->kind), log_q(q, sizeof(q), a->message));
		return 0;
	}
	struct etcd_client *cl = members_client(c, o, p, err);
	if (!cl)
		return -1;
	int rc = 0;
	const char *reason = "";
	char done[256];
	switch (a->kind) {
	case SP_COMPACT:
		rc = etcd_compact(cl, a->revision, err);
		if (rc == 0) {
			st->maint.compacted_revision = a->revision;
			eo_strlcpy(st->maint.compacted_at, o->s.now_rfc3339, sizeof(st->maint.compacted_at));
			st->maint.ndefragmented = 0; /* a recovery starts over */
			reason = "Compacted";
			snprintf(done, sizeof(done), "%scompacted the history up to revision %lld",
				 a->recovery ? "NOSPACE recovery: " : "", (long long)a->revision);
		}
		break;
	case SP_DEFRAG: {
		const struct sp_member *m = &p->in.m[a->member];
		etcd_client_set_timeout(cl, SPACE_DEFRAG_TIMEOUT_MS);
		int64_t t0 = eo_now_ms();
		rc = etcd_defragment(cl, p->urls[a->member], err);
		if (rc == 0 && a->recovery && st->maint.ndefragmented < EC_MAX_MEMBERS)
			etcd_id_dec(m->id, st->maint.defragmented[st->maint.ndefragmented++]);
		if (rc == 0) {
			reason = "Defragmented";
			snprintf(done, sizeof(done), "%sdefragmented %s%s (%d%% of %lld bytes was free) "
				 "in %.1fs", a->recovery ? "NOSPACE recovery: " : "", m->name,
				 m->leader ? " (the leader)" : "", sp_fragmentation(m),
				 (long long)m->db_size, (double)(eo_now_ms() - t0) / 1000.0);
		}
		break;
	}
	case SP_DISARM: {
		struct etcd_alarms al;
		rc = etcd_alarm_list(cl, &al, err);
		int n = 0;
		for (int i = 0; rc == 0 && i < al.n; i++) {
			if (strcmp(al.a[i].alarm, "NOSPACE") != 0)
				continue;
			rc = etcd_alarm_disarm(cl, al.a[i].member_id, "NOSPACE", err);
			n++;
		}
		if (rc == 0) {
			reason = "NoSpaceRecovered";
			snprintf(done, sizeof(done), "NOSPACE recovered: compacted to revision %lld, "
				 "every member defragmented, %d alarm%s disarmed; the cluster takes "
				 "writes again", (long long)p->in.compacted_revision, n, n == 1 ? "" : "s");
		}
		break;
	}
	default:
		break;
	}
	etcd_client_free(cl);
	if (rc != 0) {
		metrics_error(c->metrics, "etcd");
		eo_err_prefix(err, "%s: ", sp_kind_name(a->kind));
		return -1;
	}
	metrics_action(c->metrics, sp_kind_name(a->kind));
	record(st, o, done);
	if (a->kind == SP_DISARM) {
		/* the report follows at once, not a pass later */
		const struct ec_condition *d = cluster_condition(st, "Degraded");
		if (d && strcmp(d->reason, SPACE_REASON_NOSPACE) == 0)
			cluster_set_condition(st, "Degraded", "False", "NoSpaceRecovered", done,
					      o->s.now_rfc3339);
	}
	ev_emit(c->kc, o->ec, false, reason, done, c->identity);
	log_info("space", "cluster=%s/%s action=%s msg=%s", ec->namespace, ec->name,
		 sp_kind_name(a->kind), log_q(q, sizeof(q), done));
	return 1;
}
