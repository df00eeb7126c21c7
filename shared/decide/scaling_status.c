/*
 * scaling_status.c — what the controller publishes for an observation and a
 * decision (DESIGN §3): members sorted by ordinal as a number, voters,
 * healthy voters, learners, leader, clusterID, selector, phase, scaling and
 * the conditions Available / Progressing / Degraded; plus the voter label
 * of each Pod and the PodDisruptionBudget's budget. Pure.
 *
 * The one idea: status is derived from the same view the decision used, so
 * what people read (and what the webhook judges "settled" by) is exactly
 * what the controller acted on.
 */
#include <stdio.h>
#include <string.h>

#include "scaling_impl.h"

static void id_dec(uint64_t id, char out[24])
{
	snprintf(out, 24, "%llu", (unsigned long long)id);
}

static int member_cmp_ord(const struct sc_member *a, const struct sc_member *b)
{
	int ka = a->ordinal < 0 ? 1 << 20 : a->ordinal, kb = b->ordinal < 0 ? 1 << 20 : b->ordinal;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

void sc_status(const struct sc_observed *o, const struct sc_action *a, struct ec_status *out)
{
	const struct ec_status *old = &o->ec.status;
	*out = *old; /* keeps conditions for their transition times */
	out->phase = a->phase;
	out->observed_generation = a->hold_generation ? old->observed_generation : o->ec.generation;
	sc_selector(&o->ec, out->selector, sizeof(out->selector));
	if (!out->cluster_id[0] && o->etcd_answered && o->cluster_id)
		snprintf(out->cluster_id, sizeof(out->cluster_id), "%llu",
			 (unsigned long long)o->cluster_id);
	out->scaling = a->scaling;

	if (o->etcd_answered) {
		struct sc_view v;
		sc_build_view(o, &v);
		/* Members, by ordinal as a number. */
		int idx[EC_MAX_MEMBERS], n = o->nmembers < EC_MAX_MEMBERS ? o->nmembers : EC_MAX_MEMBERS;
		for (int i = 0; i < n; i++)
			idx[i] = i;
		for (int i = 1; i < n; i++)
			for (int j = i; j > 0 && member_cmp_ord(&o->members[idx[j]],
								 &o->members[idx[j - 1]]) < 0; j--) {
				int t = idx[j];
				idx[j] = idx[j - 1];
				idx[j - 1] = t;
			}
		out->nmembers = n;
		out->leader[0] = '\0';
		for (int i = 0; i < n; i++) {
			const struct sc_member *m = &o->members[idx[i]];
			struct ec_member *e = &out->members[i];
			memset(e, 0, sizeof(*e));
			if (m->name[0])
				eo_strlcpy(e->name, m->name, sizeof(e->name));
			else if (m->ordinal >= 0)
				snprintf(e->name, sizeof(e->name), "%s-%d", o->ec.name, m->ordinal);
			id_dec(m->id, e->id);
			eo_strlcpy(e->peer_url, m->peer_url, sizeof(e->peer_url));
			eo_strlcpy(e->client_url, m->client_url, sizeof(e->client_url));
			e->learner = m->learner;
			e->healthy = m->healthy;
			e->leader = v.leader && m->id == v.leader;
			e->db_size = m->db_size;
			e->raft_index = (int64_t)m->raft_index;
			eo_strlcpy(e->version, m->version, sizeof(e->version));
			if (e->leader)
				eo_strlcpy(out->leader, e->name, sizeof(out->leader));
		}
		out->replicas = v.voters;
		out->ready_replicas = v.healthy_voters;
		out->learners = v.learners;
		/* The version every member runs: the lowest any reports (as etcd's
		 * own cluster version); kept when none answered. */
		struct ec_version lo = {0}, mv;
		const char *low = NULL;
		for (int i = 0; i < o->nmembers; i++)
			if (ec_version_parse(o->members[i].version, &mv) == 0 &&
			    (!low || ec_version_cmp(&mv, &lo) < 0)) {
				lo = mv;
				low = o->members[i].version;
			}
		if (low)
			eo_strlcpy(out->version, low, sizeof(out->version));
	} else {
		/* Nobody answers: what we knew stands, but nothing is healthy. */
		out->ready_replicas = 0;
		out->leader[0] = '\0';
		for (int i = 0; i < out->nmembers; i++)
			out->members[i].healthy = out->members[i].leader = false;
	}

	/* Available: the cluster serves (a leader and a quorum of voters). */
	const char *now = o->now_rfc3339;
	if (a->phase == EC_CREATING && !out->cluster_id[0]) {
		cluster_set_condition(out, "Available", "False", "Creating",
				      "the first member has not founded the cluster yet", now);
	} else if (a->phase == EC_SUSPENDED) {
		cluster_set_condition(out, "Available", "False", "Suspended",
				      "spec.suspended: the members are stopped or starting", now);
	} else if (strcmp(a->degraded_status, "True") == 0 &&
		   (strcmp(a->degraded_reason, "QuorumLost") == 0 ||
		    strcmp(a->degraded_reason, "NoMemberAnswers") == 0)) {
		cluster_set_condition(out, "Available", "False", a->degraded_reason,
				      a->degraded_message, now);
	} else if (o->etcd_answered) {
		struct sc_view v;
		sc_build_view(o, &v);
		char msg[256];
		int spare = v.agreeing - ec_quorum(v.voters);
		snprintf(msg, sizeof(msg), "%d of %d voters healthy, quorum %d: %d more failure%s tolerated",
			 v.healthy_voters, v.voters, ec_quorum(v.voters), spare < 0 ? 0 : spare,
			 spare == 1 ? "" : "s");
		cluster_set_condition(out, "Available", v.quorum ? "True" : "False",
				      v.quorum ? "QuorumHealthy" : "QuorumLost", msg, now);
	}

	if (a->progressing_status[0])
		cluster_set_condition(out, "Progressing", a->progressing_status,
				      a->progressing_reason, a->progressing_message, now);

	/* Degraded: quorum problems come from the decision; a single unhealthy
	 * voter is reported here (the cluster serves, but tolerates less). */
	if (strcmp(a->degraded_status, "True") == 0) {
		cluster_set_condition(out, "Degraded", "True", a->degraded_reason,
				      a->degraded_message, now);
	} else if (o->etcd_answered && out->cluster_id[0]) {
		struct sc_view v;
		sc_build_view(o, &v);
		if (v.healthy_voters < v.voters) {
			char msg[256];
			int n = 0;
			n += snprintf(msg, sizeof(msg), "%d of %d voters unhealthy:",
				      v.voters - v.healthy_voters, v.voters);
			for (int i = 0; i < o->nmembers && n < (int)sizeof(msg) - 1; i++)
				if (!o->members[i].learner && !o->members[i].healthy)
					n += snprintf(msg + n, sizeof(msg) - (size_t)n, " %s%s",
						      o->members[i].name[0] ? o->members[i].name
									    : "(unstarted)",
						      o->members[i].reachable ? " (no leader)"
									      : " (unreachable)");
			cluster_set_condition(out, "Degraded", "True", "MemberUnhealthy", msg, now);
			/* `kubectl get ec` shows the phase: it must not say Running
			 * while a condition says Degraded. A step in flight keeps its
			 * own phase (a member restarting in a roll is expected). */
			if (out->phase == EC_RUNNING)
				out->phase = EC_DEGRADED;
		} else {
			cluster_set_condition(out, "Degraded", "False", "Healthy",
					      "every voter is healthy", now);
		}
	}
}

bool sc_pod_is_voter(const struct sc_observed *o, const struct sc_action *a, int k)
{
	if (k < 0 || k >= SC_MAX_ORDINALS || !o->etcd_answered)
		return false;
	/* No client traffic before the founding is recorded and the Pod can no
	 * longer found another cluster: writes taken by a cluster that might
	 * still be founded again would be lost with it. */
	if (!o->ec.status.cluster_id[0] || o->pods[k].bootstrap)
		return false;
	for (int i = 0; i < o->nmembers; i++) {
		const struct sc_member *m = &o->members[i];
		if (m->ordinal != k)
			continue;
		if (m->learner || !m->name[0] || m->mismatch)
			return false;
		/* Leaving: out of the client Service before it goes. */
		if ((a->kind == SC_TRANSFER_LEADERSHIP || a->kind == SC_REMOVE_MEMBER ||
		     a->kind == SC_REPLACE_MEMBER) &&
		    a->member_id == m->id)
			return false;
		if (a->kind == SC_RESTART_POD && a->ordinal == k)
			return false;
		return true;
	}
	return false;
}

int sc_pdb_max_unavailable(const struct sc_observed *o)
{
	int voters = 0;
	if (o->etcd_answered) {
		for (int i = 0; i < o->nmembers; i++)
			if (!o->members[i].learner)
				voters++;
	} else {
		voters = o->ec.status.replicas;
	}
	int64_t want = o->ec.spec.replicas;
	if (want >= EC_MIN_REPLICAS && want < voters)
		voters = (int)want;
	return ec_tolerance(voters);
}
