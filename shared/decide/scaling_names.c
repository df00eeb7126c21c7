/*
 * scaling_names.c — the names and URLs of the scaling protocol (peer and
 * client URLs of an ordinal, ordinals read back from URLs and Pod names,
 * the member Pods' selector) and the member-list view the decision and the
 * status are both computed from. Pure.
 *
 * The one idea: an ordinal is an integer parsed strictly ("demo-02" is not
 * ordinal 2), never a string compared as text — "demo-10" sorts before
 * "demo-2" as a string.
 */
#include <stdio.h>
#include <string.h>

#include "ectls.h"
#include "scaling_impl.h"

static const char *const kind_names[] = {
	[SC_NONE] = "None",
	[SC_WAIT] = "Wait",
	[SC_CREATE_RESOURCES] = "CreateResources",
	[SC_SET_BOOTSTRAP_DONE] = "SetBootstrapDone",
	[SC_ADD_LEARNER] = "AddLearner",
	[SC_RAISE_STS] = "RaiseStatefulSet",
	[SC_PROMOTE] = "Promote",
	[SC_TRANSFER_LEADERSHIP] = "TransferLeadership",
	[SC_REMOVE_MEMBER] = "RemoveMember",
	[SC_LOWER_STS] = "LowerStatefulSet",
	[SC_DELETE_PVC] = "DeletePVC",
	[SC_ROLLBACK] = "Rollback",
	[SC_REPLACE_MEMBER] = "ReplaceMember",
	[SC_DELETE_POD] = "DeletePod",
	[SC_RESTART_POD] = "RestartPod",
	[SC_PATCH_REPLICAS] = "PatchReplicasToward",
	[SC_DROP_TARGET] = "DropTarget",
	[SC_REPORT_DEGRADED] = "ReportDegraded",
};

const char *sc_kind_name(enum sc_kind k)
{
	return (unsigned)k < EO_ARRAY_LEN(kind_names) && kind_names[k] ? kind_names[k] : "?";
}

/* ---- names ---------------------------------------------------------- */

/* https:// on a side with TLS (spec.security.tls, fixed at creation). */
void sc_peer_url(const struct etcd_cluster *c, int k, char *out, size_t size)
{
	snprintf(out, size, "%s://%s-%d.%s-peer.%s.svc.%s:2380", ectls_peer_on(c) ? "https" : "http",
		 c->name, k, c->name, c->namespace, c->spec.cluster_domain);
}

void sc_client_url(const struct etcd_cluster *c, int k, char *out, size_t size)
{
	snprintf(out, size, "%s://%s-%d.%s-peer.%s.svc.%s:2379",
		 ectls_client_on(c) ? "https" : "http", c->name, k, c->name, c->namespace,
		 c->spec.cluster_domain);
}

int sc_ordinal_of_name(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);
	if (!name || strncmp(name, prefix, n) != 0)
		return -1;
	const char *p = name + n;
	if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 4)
		return -1;
	int v = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

int sc_ordinal_of_peer_url(const struct etcd_cluster *c, const char *url)
{
	char prefix[320], suffix[320];
	snprintf(prefix, sizeof(prefix), "%s://%s-", ectls_peer_on(c) ? "https" : "http", c->name);
	snprintf(suffix, sizeof(suffix), ".%s-peer.%s.svc.%s:2380", c->name, c->namespace,
		 c->spec.cluster_domain);
	size_t lp = strlen(prefix), ls = strlen(suffix), lu = url ? strlen(url) : 0;
	if (lu <= lp + ls || strncmp(url, prefix, lp) != 0 ||
	    strcmp(url + lu - ls, suffix) != 0)
		return -1;
	char digits[8];
	size_t nd = lu - lp - ls;
	if (nd >= sizeof(digits))
		return -1;
	memcpy(digits, url + lp, nd);
	digits[nd] = '\0';
	int k = sc_ordinal_of_name("", digits);
	return k < SC_MAX_ORDINALS ? k : -1;
}

void sc_selector(const struct etcd_cluster *c, char *out, size_t size)
{
	snprintf(out, size, "%s=%s,%s=etcd", EC_LABEL_CLUSTER, c->name, EC_LABEL_APP);
}

/* ---- the view: counts derived once from the member list --------------- */

void sc_build_view(const struct sc_observed *o, struct sc_view *v)
{
	memset(v, 0, sizeof(*v));
	v->learner = -1;
	v->leader_idx = -1;
	v->max_voter_ord = -1;
	for (int k = 0; k < SC_MAX_ORDINALS; k++)
		v->by_ord[k] = -1;
	for (int i = 0; i < o->nmembers; i++) {
		const struct sc_member *m = &o->members[i];
		if (m->ordinal < 0 || m->ordinal >= SC_MAX_ORDINALS)
			v->foreign++;
		else if (v->by_ord[m->ordinal] < 0)
			v->by_ord[m->ordinal] = i;
		if (m->learner) {
			v->learners++;
			if (v->learner < 0)
				v->learner = i;
			continue;
		}
		v->voters++;
		if (m->name[0])
			v->started_voters++;
		if (m->healthy)
			v->healthy_voters++;
		if (m->ordinal > v->max_voter_ord)
			v->max_voter_ord = m->ordinal;
	}
	/* The leader: the id most healthy voters report, if it is a voter. */
	for (int i = 0; i < o->nmembers; i++) {
		const struct sc_member *m = &o->members[i];
		if (m->learner || !m->healthy || !m->leader_seen)
			continue;
		int n = 0;
		for (int j = 0; j < o->nmembers; j++)
			if (!o->members[j].learner && o->members[j].healthy &&
			    o->members[j].leader_seen == m->leader_seen)
				n++;
		if (n > v->agreeing) {
			v->agreeing = n;
			v->leader = m->leader_seen;
		}
	}
	for (int i = 0; i < o->nmembers; i++)
		if (v->leader && o->members[i].id == v->leader && !o->members[i].learner)
			v->leader_idx = i;
	if (v->leader_idx < 0)
		v->leader = 0, v->agreeing = 0;
	v->quorum = v->voters > 0 && v->leader_idx >= 0 && v->agreeing >= ec_quorum(v->voters);
	v->all_voters_healthy = v->voters > 0 && v->healthy_voters == v->voters;
}

