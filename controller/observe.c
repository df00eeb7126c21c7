/*
 * observe.c — read an EtcdCluster's world into a struct sc_observed.
 *
 * The one idea: look, never remember. Every reconcile reads the owned
 * objects fresh from the API server and asks etcd itself — the member list
 * through a linearizable barrier where quorum allows, then each member's own
 * maintenance status at its own client URL — so the decision rests on what
 * is true now, whatever this process believed a second ago. Members whose
 * Pod does not exist are not called at all (they cannot answer, and a
 * dead address would only cost a timeout).
 */
#include "observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "json.h"
#include "log.h"
#include "member_init.h"
#include "resources.h"

int64_t obs_time_ms(const char *s)
{
	int64_t t;
	return s && *s && eo_rfc3339_parse(s, &t) == 0 ? t * 1000 : 0;
}

static json_object *condition(json_object *pod, const char *type)
{
	json_object *conds = json_at(pod, "status.conditions");
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (strcmp(json_opt_str(c, "type", ""), type) == 0)
			return c;
	}
	return NULL;
}

/* The first waiting reason worth reporting among these container statuses. */
static void waiting(json_object *statuses, struct sc_pod *out)
{
	for (size_t i = 0; statuses && json_object_is_type(statuses, json_type_array) &&
			   i < json_object_array_length(statuses) && !out->waiting_reason[0]; i++) {
		json_object *cs = json_object_array_get_idx(statuses, i);
		const char *r = json_opt_str(cs, "state.waiting.reason", "");
		if (!r[0] || strcmp(r, "PodInitializing") == 0 || strcmp(r, "ContainerCreating") == 0)
			continue;
		eo_strlcpy(out->waiting_reason, r, sizeof(out->waiting_reason));
		const char *m = json_opt_str(cs, "state.waiting.message", "");
		if (!m[0])
			m = json_opt_str(cs, "lastState.terminated.message", "");
		eo_strlcpy(out->waiting_message, m, sizeof(out->waiting_message));
	}
}

/* The guard before every etcd start (etcd-member-guard) refused etcd's
 * container with the lost-volume status: no data under a configuration
 * that has run. Only while the container is not running — running again,
 * the guard let it through (its data is there), whatever its last
 * termination says. Since when: the Pod's Ready condition turned False
 * (the member has been out since), else that refusal. */
static void guard_refusal(json_object *pod, json_object *statuses, struct sc_pod *out)
{
	for (size_t i = 0; statuses && json_object_is_type(statuses, json_type_array) &&
			   i < json_object_array_length(statuses); i++) {
		json_object *cs = json_object_array_get_idx(statuses, i);
		if (strcmp(json_opt_str(cs, "name", ""), RES_ETCD_CONTAINER) != 0 ||
		    json_at(cs, "state.running"))
			continue;
		json_object *t = json_at(cs, "state.terminated");
		if (!t)
			t = json_at(cs, "lastState.terminated");
		if (!t || json_opt_int(t, "exitCode", 0) != MI_EXIT_VOLUME_LOST)
			continue;
		out->volume_lost = out->guard_refused = true;
		json_object *ready = condition(pod, "Ready");
		if (ready && strcmp(json_opt_str(ready, "status", ""), "True") != 0)
			out->refused_since_ms = obs_time_ms(json_opt_str(ready, "lastTransitionTime", ""));
		if (!out->refused_since_ms)
			out->refused_since_ms = obs_time_ms(json_opt_str(t, "finishedAt", ""));
	}
}

void obs_pod(json_object *pod, struct sc_pod *out)
{
	memset(out, 0, sizeof(*out));
	out->exists = true;
	out->terminating = json_at(pod, "metadata.deletionTimestamp") != NULL;
	out->bootstrap = res_pod_bootstrap(pod);
	eo_strlcpy(out->revision, json_opt_str(pod, "metadata.annotations[" SC_ANN_REVISION "]", ""),
		   sizeof(out->revision));
	eo_strlcpy(out->image, res_pod_image(pod), sizeof(out->image));
	eo_strlcpy(out->pod_spec, json_opt_str(pod, "metadata.annotations[" EC_ANN_POD_SPEC "]", ""),
		   sizeof(out->pod_spec));
	out->created_ms = obs_time_ms(json_opt_str(pod, "metadata.creationTimestamp", ""));
	json_object *ready = condition(pod, "Ready");
	out->ready = ready && strcmp(json_opt_str(ready, "status", ""), "True") == 0;
	json_object *init = condition(pod, "Initialized");
	if (init && strcmp(json_opt_str(init, "status", ""), "True") != 0) {
		out->initializing = true;
		out->init_since_ms = obs_time_ms(json_opt_str(init, "lastTransitionTime", ""));
		if (!out->init_since_ms)
			out->init_since_ms = obs_time_ms(json_opt_str(pod, "status.startTime", ""));
		if (!out->init_since_ms)
			out->init_since_ms = obs_time_ms(json_opt_str(pod, "metadata.creationTimestamp", ""));
	}
	json_object *inits = json_at(pod, "status.initContainerStatuses");
	for (size_t i = 0; inits && json_object_is_type(inits, json_type_array) &&
			   i < json_object_array_length(inits); i++) {
		json_object *cs = json_object_array_get_idx(inits, i);
		if (strcmp(json_opt_str(cs, "name", ""), RES_INIT_CONTAINER) != 0)
			continue;
		/* Its latest termination: the current state when terminated, else
		 * the last one (running again, or waiting in back-off). */
		json_object *t = json_at(cs, "state.terminated");
		if (!t)
			t = json_at(cs, "lastState.terminated");
		out->volume_lost = t && json_opt_int(t, "exitCode", 0) == MI_EXIT_VOLUME_LOST;
	}
	waiting(inits, out);
	json_object *ctrs = json_at(pod, "status.containerStatuses");
	guard_refusal(pod, ctrs, out);
	waiting(ctrs, out);
}

static int get_opt(struct kube_client *kc, const struct kube_res *res, const char *ns,
		   const char *name, json_object **out, struct eo_err *err)
{
	*out = NULL;
	if (kube_get(kc, res, ns, name, out, err) == 0)
		return 0;
	if (err->code == EO_HTTP_NOT_FOUND) {
		eo_err_clear(err);
		return 0;
	}
	return -1;
}

static void observe_pods(struct observation *o, const struct etcd_cluster *ec)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%s-", ec->name);
	json_object *items = json_at(o->pods, "items");
	for (size_t i = 0; items && json_object_is_type(items, json_type_array) &&
			   i < json_object_array_length(items); i++) {
		json_object *p = json_object_array_get_idx(items, i);
		int k = sc_ordinal_of_name(prefix, json_opt_str(p, "metadata.name", ""));
		if (k < 0 || k >= SC_MAX_ORDINALS)
			continue;
		o->pod[k] = p;
		obs_pod(p, &o->s.pods[k]);
		o->voter_label[k] = strcmp(json_opt_str(p, "metadata.labels[" RES_LABEL_VOTER "]", ""),
					   "true") == 0;
	}
}

/* A claim made before this EtcdCluster existed cannot be one its
 * StatefulSet made: it was left by a deleted cluster of the same name (its
 * data and membership are another cluster's). The API server's clock
 * stamps both, so the comparison holds whatever the nodes' clocks say. */
static void observe_pvcs(struct observation *o, json_object *list, const struct etcd_cluster *ec)
{
	int64_t ec_created = obs_time_ms(json_opt_str(o->ec, "metadata.creationTimestamp", ""));
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "data-%s-", ec->name);
	json_object *items = json_at(list, "items");
	for (size_t i = 0; items && json_object_is_type(items, json_type_array) &&
			   i < json_object_array_length(items); i++) {
		json_object *p = json_object_array_get_idx(items, i);
		int k = sc_ordinal_of_name(prefix, json_opt_str(p, "metadata.name", ""));
		if (k < 0 || k >= SC_MAX_ORDINALS)
			continue;
		o->s.pvcs[k] = true;
		o->s.pvc_terminating[k] = json_at(p, "metadata.deletionTimestamp") != NULL;
		int64_t created = obs_time_ms(json_opt_str(p, "metadata.creationTimestamp", ""));
		o->s.pvc_foreign[k] = ec_created && created && created < ec_created;
	}
}

void obs_member_status(const struct etcd_status *st, uint64_t cluster_id, struct sc_member *sm)
{
	sm->reachable = true;
	if (st->member_id != sm->id || (cluster_id && st->cluster_id && st->cluster_id != cluster_id)) {
		/* Someone else answers at this member's address: not this member. */
		sm->mismatch = true;
		sm->answered_id = st->member_id;
		sm->answered_cluster = st->cluster_id;
		return;
	}
	sm->leader_seen = st->leader;
	sm->healthy = st->leader != 0 && !st->errors[0];
	sm->raft_index = st->raft_index;
	sm->raft_applied_index = st->raft_applied_index;
	sm->db_size = st->db_size;
	sm->db_size_in_use = st->db_size_in_use;
	sm->revision = st->revision;
	sm->nospace = st->nospace;
	eo_strlcpy(sm->version, st->version, sizeof(sm->version));
}

/* The member's client URL: advertised, else its peer URL on :2379. */
static void client_url_of(const struct etcd_member *m, char *out, size_t size)
{
	if (m->nclient > 0) {
		eo_strlcpy(out, m->client_urls[0], size);
		return;
	}
	eo_strlcpy(out, m->npeer ? m->peer_urls[0] : "", size);
	char *port = strrchr(out, ':');
	if (port && strcmp(port, ":2380") == 0)
		strcpy(port, ":2379");
}

/*
 * The member list, read with quorum where any member can give it: each Pod
 * in turn (the leader last published first, then ready Pods), each call with
 * its own deadline, so one member cut off from the others (it answers a
 * linearizable read only when its deadline has passed) cannot use up the
 * time of all. Without any quorum read: a member's local list, which may
 * lag — good for the published status, never for a decision (sc_decide
 * changes nothing on it).
 */
static int read_members(struct ctl *c, const struct etcd_tls *etls, const char *const *eps, int n,
			struct etcd_members *ms, bool *quorum, char *why, size_t size)
{
	int64_t end = eo_now_ms() + 2 * (int64_t)c->etcd_timeout_ms;
	struct eo_err err = {0};
	*quorum = false;
	why[0] = '\0';
	for (int i = 0; i < n && eo_now_ms() < end; i++) {
		struct etcd_client *one = etcd_client_new(&eps[i], 1, etls, c->etcd_timeout_ms, &err);
		int rc = one ? etcd_member_list(one, true, ms, &err) : -1;
		etcd_client_free(one);
		if (rc == 0) {
			*quorum = true;
			return 0;
		}
		if (!why[0] || err.code != ETCD_ELEARNER)
			eo_strlcpy(why, err.msg, size);
		eo_err_clear(&err);
	}
	struct etcd_client *all = etcd_client_new(eps, (size_t)n, etls, c->etcd_timeout_ms, &err);
	int rc = all ? etcd_member_list(all, false, ms, &err) : -1;
	etcd_client_free(all);
	if (rc != 0 && !why[0])
		eo_strlcpy(why, err.msg, size);
	return rc;
}

static void observe_etcd(struct ctl *c, struct observation *o, const struct etcd_cluster *ec)
{
	struct sc_observed *s = &o->s;
	/* Ask the Pods that exist: the last leader, then ready ones. */
	char urls[SC_MAX_ORDINALS][256], prefix[300];
	const char *eps[SC_MAX_ORDINALS];
	int n = 0;
	snprintf(prefix, sizeof(prefix), "%s-", ec->name);
	int last_leader = sc_ordinal_of_name(prefix, ec->status.leader);
	for (int pass = 0; pass < 3; pass++)
		for (int k = 0; k < SC_MAX_ORDINALS; k++) {
			const struct sc_pod *p = &s->pods[k];
			if (!p->exists || p->terminating)
				continue;
			bool first = k == last_leader;
			if ((pass == 0) != first || (pass > 0 && p->ready != (pass == 1)))
				continue;
			sc_client_url(ec, k, urls[n], sizeof(urls[n]));
			eps[n] = urls[n];
			n++;
		}
	if (n == 0) {
		snprintf(s->etcd_error, sizeof(s->etcd_error), "no member Pod exists");
		return;
	}
	struct eo_err err = {0};
	struct etcd_members ms;
	if (read_members(c, o->etls, eps, n, &ms, &s->members_quorum_read, s->etcd_error,
			 sizeof(s->etcd_error)) != 0)
		return;
	struct etcd_client *cl = etcd_client_new(eps, (size_t)n, o->etls, c->etcd_timeout_ms, &err);
	if (!cl) {
		eo_strlcpy(s->etcd_error, err.msg, sizeof(s->etcd_error));
		return;
	}
	s->etcd_answered = true;
	s->cluster_id = ms.cluster_id;
	etcd_client_set_timeout(cl, c->etcd_timeout_ms < 1500 ? c->etcd_timeout_ms : 1500);
	/* Voters first, so a learner's applied index is read after the
	 * leader's raft index it is compared with. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < ms.n && i < EC_MAX_MEMBERS; i++) {
			const struct etcd_member *m = &ms.m[i];
			if (m->learner != (pass == 1))
				continue;
			struct sc_member *sm = &s->members[s->nmembers++];
			memset(sm, 0, sizeof(*sm));
			sm->id = m->id;
			sm->learner = m->learner;
			eo_strlcpy(sm->name, m->name, sizeof(sm->name));
			eo_strlcpy(sm->peer_url, m->npeer ? m->peer_urls[0] : "", sizeof(sm->peer_url));
			client_url_of(m, sm->client_url, sizeof(sm->client_url));
			sm->ordinal = sc_ordinal_of_peer_url(ec, sm->peer_url);
			if (sm->ordinal >= 0 && (!s->pods[sm->ordinal].exists ||
						 s->pods[sm->ordinal].initializing))
				continue; /* nothing there can answer */
			struct etcd_status st;
			if (!sm->client_url[0] || etcd_status(cl, sm->client_url, &st, &err) != 0)
				continue;
			obs_member_status(&st, ms.cluster_id, sm);
		}
	etcd_client_free(cl);
	/* Where to send actions: the leader, then the other healthy voters. */
	uint64_t leader = 0;
	for (int i = 0; i < s->nmembers && !leader; i++)
		if (s->members[i].healthy && !s->members[i].learner)
			leader = s->members[i].leader_seen;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < s->nmembers; i++) {
			const struct sc_member *m = &s->members[i];
			if (m->learner || !m->healthy || (m->id == leader) != (pass == 0) ||
			    o->nvoter_urls >= EC_MAX_MEMBERS)
				continue;
			if (m->id == leader)
				eo_strlcpy(o->leader_url, m->client_url, sizeof(o->leader_url));
			eo_strlcpy(o->voter_urls[o->nvoter_urls++], m->client_url,
				   sizeof(o->voter_urls[0]));
		}
}

int obs_gather(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
	       struct observation *o, struct eo_err *err)
{
	return obs_gather_tls(c, ec_obj, ec, NULL, o, err);
}

int obs_gather_tls(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
		   const struct etcd_tls *etls, struct observation *o, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	o->etls = etls;
	o->s.pdb_max_unavailable = -1;
	o->ec = json_object_get(ec_obj);
	struct sc_observed *s = &o->s;
	s->ec = *ec;
	s->now_ms = eo_wall_ms();
	eo_rfc3339_now(s->now_rfc3339);
	s->step_timeout_ms = c->step_timeout_ms;
	s->replace_grace_ms = c->replace_grace_ms;
	s->rollback_backoff_ms = c->rollback_backoff_ms;

	char name[300];
	json_object *svc = NULL, *pvcs = NULL;
	snprintf(name, sizeof(name), "%s-peer", ec->name);
	if (get_opt(c->kc, &KUBE_SERVICES, ec->namespace, name, &svc, err) != 0)
		goto fail;
	s->peer_service = svc != NULL;
	json_object_put(svc);
	snprintf(name, sizeof(name), "%s-client", ec->name);
	if (get_opt(c->kc, &KUBE_SERVICES, ec->namespace, name, &svc, err) != 0)
		goto fail;
	s->client_service = svc != NULL;
	json_object_put(svc);
	if (get_opt(c->kc, &KUBE_STATEFULSETS, ec->namespace, ec->name, &o->sts, err) != 0 ||
	    get_opt(c->kc, &KUBE_PDBS, ec->namespace, ec->name, &o->pdb, err) != 0)
		goto fail;
	if (o->sts) {
		s->statefulset = true;
		s->sts_replicas = (int)json_opt_int(o->sts, "spec.replicas", 1);
		s->sts_bootstrap = res_sts_bootstrap(o->sts);
		eo_strlcpy(s->sts_revision, json_opt_str(o->sts, "spec.template.metadata.annotations["
							  SC_ANN_REVISION "]", ""),
			   sizeof(s->sts_revision));
		s->sts_current = json_opt_int(o->sts, "status.observedGeneration", -1) ==
				 json_opt_int(o->sts, "metadata.generation", -2);
		eo_strlcpy(s->sts_image, res_sts_image(o->sts), sizeof(s->sts_image));
		eo_strlcpy(s->sts_pod_spec, json_opt_str(o->sts, "spec.template.metadata.annotations["
							       EC_ANN_POD_SPEC "]", ""),
			   sizeof(s->sts_pod_spec));
	}
	if (o->pdb) {
		s->pdb = true;
		json_object *mu = json_at(o->pdb, "spec.maxUnavailable");
		if (mu && json_object_is_type(mu, json_type_int))
			o->s.pdb_max_unavailable = json_object_get_int(mu);
	}
	char sel[300];
	sc_selector(ec, sel, sizeof(sel));
	if (kube_list(c->kc, &KUBE_PODS, ec->namespace, sel, &o->pods, err) != 0)
		goto fail;
	observe_pods(o, ec);
	/* Claims by name (data-<cluster>-<k>): what the StatefulSet makes,
	 * whatever labels a provisioner leaves on them. */
	if (kube_list(c->kc, &KUBE_PVCS, ec->namespace, NULL, &pvcs, err) != 0)
		goto fail;
	observe_pvcs(o, pvcs, ec);
	o->pvcs = pvcs; /* kept for the volume size (volumes.c) */
	observe_etcd(c, o, ec);
	return 0;
fail:
	eo_err_prefix(err, "observing %s/%s: ", ec->namespace, ec->name);
	obs_free(o);
	return -1;
}

void obs_free(struct observation *o)
{
	json_object_put(o->ec);
	json_object_put(o->sts);
	json_object_put(o->pdb);
	json_object_put(o->pods);
	json_object_put(o->pvcs);
	memset(o, 0, sizeof(*o));
}
