/*
 * reconcile.c — observe → decide → record → act, for one EtcdCluster.
 *
 * The one idea: the record goes first. The status (status.scaling naming
 * the step about to be taken) is written with the resourceVersion just read
 * before anything is changed, so a controller killed at any instant leaves
 * a status that says what it was doing, and the next pass — this process or
 * another — decides again from the world (shared/decide/scaling.c). A write that
 * loses a conflict (409) aborts the pass before it acts: two controllers
 * can never both act on one reading.
 *
 * Each pass takes at most one action and returns with the time to look
 * again; nothing here waits for Pods, catch-up or elections.
 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup_ctl.h"
#include "backup_pod.h"
#include "etcd.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "observe.h"
#include "resources.h"
#include "space_ctl.h"
#include "tls.h"
#include "volumes.h"

static bool acting(enum sc_kind k)
{
	return k != SC_NONE && k != SC_WAIT && k != SC_REPORT_DEGRADED;
}

static void crash_point(struct ctl *c, const struct sc_action *a, const char *when)
{
	if (c->crash_hook && acting(a->kind))
		c->crash_hook(sc_kind_name(a->kind), when, c->crash_ud);
}

/* Write the status when it differs from the one read; o->ec becomes the
 * object as the API server returned it (new resourceVersion). */
static int publish(struct ctl *c, struct observation *o, const struct ec_status *st,
		   struct eo_err *err)
{
	json_object *want = cluster_status_json(st);
	json_object *have = cluster_status_json(&o->s.ec.status);
	bool same = json_object_equal(want, have);
	json_object_put(have);
	if (same) {
		json_object_put(want);
		return 0;
	}
	json_object *body = NULL;
	if (json_object_deep_copy(o->ec, &body, NULL) != 0) {
		json_object_put(want);
		return eo_err_set(err, EO_ENOMEM, "out of memory copying the EtcdCluster");
	}
	json_object_object_add(body, "status", want);
	json_object *out = NULL;
	int rc = kube_update(c->kc, &KUBE_ETCDCLUSTERS, o->s.ec.namespace, o->s.ec.name, "status",
			     body, &out, err);
	json_object_put(body);
	if (rc != 0) {
		metrics_error(c->metrics, err->code == EO_HTTP_CONFLICT ? "conflict" : "kube");
		eo_err_prefix(err, "status of %s/%s: ", o->s.ec.namespace, o->s.ec.name);
		return -1;
	}
	json_object_put(o->ec);
	o->ec = out;
	return 0;
}

static struct etcd_client *voters_client(struct ctl *c, const struct observation *o,
					 struct eo_err *err)
{
	const char *eps[EC_MAX_MEMBERS];
	for (int i = 0; i < o->nvoter_urls; i++)
		eps[i] = o->voter_urls[i];
	if (o->nvoter_urls == 0) {
		eo_err_set(err, EO_ETRANSPORT, "no healthy voter to send the change to");
		return NULL;
	}
	return etcd_client_new(eps, (size_t)o->nvoter_urls, o->etls, c->etcd_timeout_ms, err);
}

static int merge_patch(struct ctl *c, const struct kube_res *res, const char *ns, const char *name,
		       json_object *patch, struct eo_err *err)
{
	int rc = kube_patch(c->kc, res, ns, name, NULL, KUBE_PATCH_MERGE, json_compact(patch), NULL,
			    err);
	json_object_put(patch);
	return rc;
}

static json_object *replicas_patch(int n)
{
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "replicas", json_object_new_int(n));
	json_object *p = json_object_new_object();
	json_object_object_add(p, "spec", spec);
	return p;
}

/*
 * A patch of the EtcdCluster's own spec or annotations, pinned to the
 * resourceVersion the decision was made on. Unpinned, a user's edit that
 * lands between the controller's read and its write (a new target, a
 * cancellation) would be overwritten by the step computed for the old one —
 * a lost update the model checker (test/model) finds with no fault at all.
 * A 409 means the object moved: nothing is done, the watch brings the new
 * version and the next pass decides again. The version pinned is the one
 * this pass's own status write returned (o->ec): that write was itself
 * conditional on the version read, so nothing else came in between — and a
 * status that changes every pass (raftIndex under load) must not turn every
 * patch into a conflict.
 */
static int pinned_patch(struct ctl *c, const struct observation *o, json_object *patch,
			struct eo_err *err)
{
	const struct etcd_cluster *ec = &o->s.ec;
	json_object *md = NULL;
	if (!json_object_object_get_ex(patch, "metadata", &md)) {
		md = json_object_new_object();
		json_object_object_add(patch, "metadata", md);
	}
	json_object_object_add(md, "resourceVersion",
			       json_object_new_string(json_opt_str(o->ec, "metadata.resourceVersion",
								   ec->resource_version)));
	int rc = merge_patch(c, &KUBE_ETCDCLUSTERS, ec->namespace, ec->name, patch, err);
	if (rc != 0 && err->code == EO_HTTP_CONFLICT) {
		log_info("EtcdCluster changed since this pass read it; deciding again", "cluster=%s/%s",
			 ec->namespace, ec->name);
		eo_err_clear(err);
		return 0;
	}
	return rc;
}

static int create_one(struct ctl *c, const char *ns, const struct kube_res *res, json_object *obj,
		      struct eo_err *err)
{
	int rc = kube_create(c->kc, res, ns, obj, NULL, err);
	json_object_put(obj);
	if (rc != 0 && err->code == EO_HTTP_CONFLICT) { /* made meanwhile: fine */
		eo_err_clear(err);
		rc = 0;
	}
	return rc;
}

static int create_missing(struct ctl *c, const struct observation *o, const struct sc_action *a,
			  struct eo_err *err)
{
	const struct etcd_cluster *ec = &o->s.ec;
	const char *ns = ec->namespace;
	if (!o->s.peer_service && create_one(c, ns, &KUBE_SERVICES, res_peer_service(ec), err) != 0)
		return -1;
	if (!o->s.client_service &&
	    create_one(c, ns, &KUBE_SERVICES, res_client_service(ec), err) != 0)
		return -1;
	if (!o->s.statefulset &&
	    create_one(c, ns, &KUBE_STATEFULSETS,
		       res_statefulset(ec, a->replicas, a->bootstrap, &c->res), err) != 0)
		return -1;
	if (!o->s.pdb &&
	    create_one(c, ns, &KUBE_PDBS, res_pdb(ec, sc_pdb_max_unavailable(&o->s)), err) != 0)
		return -1;
	return 0;
}

static const struct kube_res NETWORK_POLICIES = {"networking.k8s.io", "v1", "networkpolicies",
						  "NetworkPolicy", true};

/* Whether obj names the EtcdCluster of uid as its controller. */
static bool owned_by(json_object *obj, const char *uid)
{
	json_object *refs = json_at(obj, "metadata.ownerReferences");
	for (size_t i = 0; refs && json_object_is_type(refs, json_type_array) &&
			   i < json_object_array_length(refs); i++) {
		json_object *r = json_object_array_get_idx(refs, i);
		if (strcmp(json_opt_str(r, "uid", ""), uid) == 0 && json_opt_bool(r, "controller", false))
			return true;
	}
	return false;
}

/*
 * The cluster's NetworkPolicy (resources.c): made when missing, its spec put
 * back when it differs (a policy from an older controller, or an edit) — one
 * GET a pass, like the observation's. The controller's namespace in it is
 * c->res.controller_namespace when main.c sets it, else $POD_NAMESPACE (the
 * Deployment sets it), else the kubeconfig's, as for the Lease. Failures are
 * logged and the pass goes on: membership work must not wait on it. A
 * policy of that name that another owner made is left alone. An API server
 * that does not serve networking.k8s.io/v1 answers 404 to the create too:
 * such a cluster has no NetworkPolicy to make (debug log only).
 */
static void sync_network_policy(struct ctl *c, const struct observation *o)
{
	const struct etcd_cluster *ec = &o->s.ec;
	if (ec->deleting)
		return;
	struct res_opts ro = c->res;
	if (!ro.controller_namespace || !*ro.controller_namespace) {
		const char *ns = getenv("POD_NAMESPACE");
		ro.controller_namespace = ns && *ns ? ns : kube_client_namespace(c->kc);
	}
	struct eo_err err = {0};
	char q[300];
	json_object *have = NULL;
	if (kube_get(c->kc, &NETWORK_POLICIES, ec->namespace, ec->name, &have, &err) != 0) {
		if (err.code != EO_HTTP_NOT_FOUND) {
			log_warn("NetworkPolicy not read", "cluster=%s/%s error=%s", ec->namespace,
				 ec->name, log_q(q, sizeof(q), err.msg));
			return;
		}
		eo_err_clear(&err);
		if (create_one(c, ec->namespace, &NETWORK_POLICIES, res_network_policy(ec, &ro), &err) == 0)
			log_info("NetworkPolicy created", "cluster=%s/%s", ec->namespace, ec->name);
		else if (err.code == EO_HTTP_NOT_FOUND)
			log_debug("NetworkPolicy not served", "cluster=%s/%s error=%s", ec->namespace,
				  ec->name, log_q(q, sizeof(q), err.msg));
		else
			log_warn("NetworkPolicy not created", "cluster=%s/%s error=%s", ec->namespace,
				 ec->name, log_q(q, sizeof(q), err.msg));
		return;
	}
	json_object *want = res_network_policy(ec, &ro);
	if (owned_by(have, ec->uid) && !json_object_equal(json_at(have, "spec"), json_at(want, "spec"))) {
		/* a JSON Patch replace: the whole spec, no merge with what was there */
		json_object *op = json_object_new_object();
		json_object_object_add(op, "op", json_object_new_string("replace"));
		json_object_object_add(op, "path", json_object_new_string("/spec"));
		json_object_object_add(op, "value", json_object_get(json_at(want, "spec")));
		json_object *patch = json_object_new_array();
		json_object_array_add(patch, op);
		if (kube_patch(c->kc, &NETWORK_POLICIES, ec->namespace, ec->name, NULL, KUBE_PATCH_JSON,
			       json_compact(patch), NULL, &err) != 0)
			log_warn("NetworkPolicy not updated", "cluster=%s/%s error=%s", ec->namespace,
				 ec->name, log_q(q, sizeof(q), err.msg));
		else
			log_info("NetworkPolicy updated", "cluster=%s/%s", ec->namespace, ec->name);
		json_object_put(patch);
	}
	json_object_put(want);
	json_object_put(have);
}

/* The voter label the client Service selects: on every started voter that
 * is not about to leave, off everywhere else. Only on a member list read
 * with quorum — a lagging list would label a removed member or a learner. */
static void sync_voter_labels(struct ctl *c, const struct observation *o, const struct sc_action *a)
{
	const struct etcd_cluster *ec = &o->s.ec;
	struct eo_err err = {0};
	char q[300];
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		const struct sc_pod *p = &o->s.pods[k];
		if (!p->exists || p->terminating)
			continue;
		bool want = sc_pod_is_voter(&o->s, a, k);
		if (want == o->voter_label[k])
			continue;
		json_object *labels = json_object_new_object();
		json_object_object_add(labels, RES_LABEL_VOTER, want ? json_object_new_string("true") : NULL);
		json_object *md = json_object_new_object();
		json_object_object_add(md, "labels", labels);
		json_object *patch = json_object_new_object();
		json_object_object_add(patch, "metadata", md);
		char pod[300];
		snprintf(pod, sizeof(pod), "%s-%d", ec->name, k);
		if (merge_patch(c, &KUBE_PODS, ec->namespace, pod, patch, &err) != 0)
			log_warn("voter label not set", "cluster=%s/%s pod=%s error=%s", ec->namespace,
				 ec->name, pod, log_q(q, sizeof(q), err.msg));
	}
}

/* The side effects that follow the observation rather than a decision:
 * the voter labels, the StatefulSet's image for Pods made from now on, the
 * PDB's budget and the NetworkPolicy. Membership-derived ones are skipped
 * unless the member list was read with quorum — never act blind. */
static void sync_owned(struct ctl *c, const struct observation *o, const struct sc_action *a)
{
	const struct etcd_cluster *ec = &o->s.ec;
	struct eo_err err = {0};
	char q[300];
	if (o->s.members_quorum_read)
		sync_voter_labels(c, o, a);
	/* The template follows spec.image / spec.version and spec.maintenance
	 * for Pods made from now on (OnDelete: running members are not
	 * restarted; etcd reads its quota and compaction flags only at start). */
	char image[300];
	cluster_etcd_image(ec, image, sizeof(image));
	json_object *sts = NULL;
	/* spec.pod / extraArgs: the whole template again (image and the space
	 * flags with it); else the image and spec.maintenance's flags in place */
	if (o->sts && json_object_deep_copy(o->sts, &sts, NULL) == 0 &&
	    (res_sts_sync_template(sts, ec, &c->res) | res_sts_set_image(sts, image) |
	     res_sts_set_space_args(sts, ec))) {
		if (kube_update(c->kc, &KUBE_STATEFULSETS, ec->namespace, ec->name, NULL, sts, NULL,
				&err) != 0)
			log_warn("StatefulSet template not updated", "cluster=%s/%s error=%s",
				 ec->namespace, ec->name, log_q(q, sizeof(q), err.msg));
		else
			log_info("StatefulSet template updated", "cluster=%s/%s image=%s", ec->namespace,
				 ec->name, image);
	}
	json_object_put(sts);
	if (o->sts && o->want_revision[0] && strcmp(o->s.sts_revision, o->want_revision) != 0) {
		/* Pods made from now on carry it; running ones are rolled (sc_roll) */
		json_object *patch = json_object_new_object();
		json_set(patch, "spec.template.metadata.annotations[" SC_ANN_REVISION "]",
			 json_object_new_string(o->want_revision));
		if (merge_patch(c, &KUBE_STATEFULSETS, ec->namespace, ec->name, patch, &err) != 0)
			log_warn("StatefulSet revision not updated", "cluster=%s/%s error=%s",
				 ec->namespace, ec->name, log_q(q, sizeof(q), err.msg));
		else
			log_info("StatefulSet revision updated", "cluster=%s/%s revision=%s",
				 ec->namespace, ec->name, o->want_revision);
	}
	/* spec.storage.whenDeleted can change at any time: the StatefulSet
	 * controller then sets or drops the claims' owner references. */
	const char *when = json_opt_str(o->sts, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
					"Retain");
	if (o->sts && strcmp(when, ec->spec.delete_volumes ? "Delete" : "Retain") != 0) {
		json_object *patch = json_object_new_object();
		json_set(patch, "spec.persistentVolumeClaimRetentionPolicy", res_claim_retention(ec));
		if (merge_patch(c, &KUBE_STATEFULSETS, ec->namespace, ec->name, patch, &err) != 0)
			log_warn("StatefulSet volume retention not updated", "cluster=%s/%s error=%s",
				 ec->namespace, ec->name, log_q(q, sizeof(q), err.msg));
		else
			log_info("StatefulSet volume retention updated", "cluster=%s/%s when_deleted=%s",
				 ec->namespace, ec->name, ec->spec.delete_volumes ? "Delete" : "Retain");
	}
	int want = sc_pdb_max_unavailable(&o->s);
	if (o->s.members_quorum_read && o->pdb && o->s.pdb_max_unavailable != want) {
		json_object *spec = json_object_new_object();
		json_object_object_add(spec, "maxUnavailable", json_object_new_int(want));
		json_object *patch = json_object_new_object();
		json_object_object_add(patch, "spec", spec);
		if (merge_patch(c, &KUBE_PDBS, ec->namespace, ec->name, patch, &err) != 0)
			log_warn("PodDisruptionBudget not updated", "cluster=%s/%s error=%s",
				 ec->namespace, ec->name, log_q(q, sizeof(q), err.msg));
	}
	sync_network_policy(c, o);
}

/* Take the bootstrap permission away: the template first (no new Pod gets
 * it), then every Pod that has it. */
static int bootstrap_off(struct ctl *c, const struct observation *o, struct eo_err *err)
{
	const struct etcd_cluster *ec = &o->s.ec;
	if (o->s.sts_bootstrap && !res_sts_bootstrap_in_env(o->sts)) {
		if (merge_patch(c, &KUBE_STATEFULSETS, ec->namespace, ec->name,
				res_sts_bootstrap_off_patch(), err) != 0)
			return -1;
	} else if (o->s.sts_bootstrap) {
		json_object *sts = NULL;
		if (!o->sts || json_object_deep_copy(o->sts, &sts, NULL) != 0)
			return eo_err_set(err, EO_ENOMEM, "copying the StatefulSet");
		int rc = res_sts_clear_bootstrap(sts) == 0
				 ? kube_update(c->kc, &KUBE_STATEFULSETS, ec->namespace, ec->name, NULL,
					       sts, NULL, err)
				 : eo_err_set(err, EO_EINVAL,
					      "StatefulSet %s/%s has no member-init container with %s: "
					      "not made by this controller?",
					      ec->namespace, ec->name, RES_ENV_BOOTSTRAP);
		json_object_put(sts);
		if (rc != 0)
			return -1;
	}
	for (int k = 0; k < SC_MAX_ORDINALS; k++) {
		const struct sc_pod *p = &o->s.pods[k];
		if (!p->exists || p->terminating || !p->bootstrap)
			continue;
		char pod[300];
		snprintf(pod, sizeof(pod), "%s-%d", ec->name, k);
		if (merge_patch(c, &KUBE_PODS, ec->namespace, pod, res_pod_bootstrap_off_patch(), err) != 0) {
			if (err->code != EO_HTTP_NOT_FOUND)
				return -1;
			eo_err_clear(err);
		}
	}
	return 0;
}

/* Take the action. *soon: a benign "not yet" (a learner not in sync):
 * look again shortly without counting a failure. */
static int act(struct ctl *c, struct observation *o, const struct sc_action *a,
	       struct ec_status *st, bool *soon, struct eo_err *err)
{
	const struct etcd_cluster *ec = &o->s.ec;
	struct etcd_client *cl = NULL;
	char name[300];
	int rc = 0;
	switch (a->kind) {
	case SC_NONE:
	case SC_WAIT:
	case SC_REPORT_DEGRADED:
		return 0;
	case SC_CREATE_RESOURCES:
		return create_missing(c, o, a, err);
	case SC_SET_BOOTSTRAP_DONE:
		return bootstrap_off(c, o, err);
	case SC_RAISE_STS:
	case SC_LOWER_STS:
		return merge_patch(c, &KUBE_STATEFULSETS, ec->namespace, ec->name,
				   replicas_patch(a->replicas), err);
	case SC_DELETE_PVC:
		snprintf(name, sizeof(name), "data-%s-%d", ec->name, a->ordinal);
		rc = kube_delete(c->kc, &KUBE_PVCS, ec->namespace, name, NULL, err);
		if (rc != 0 && err->code == EO_HTTP_NOT_FOUND) {
			eo_err_clear(err);
			rc = 0;
		}
		return rc;
	case SC_DELETE_POD:
	case SC_RESTART_POD:
		/* The StatefulSet makes it again; its init step runs afresh. */
		snprintf(name, sizeof(name), "%s-%d", ec->name, a->ordinal);
		rc = kube_delete(c->kc, &KUBE_PODS, ec->namespace, name, NULL, err);
		if (rc != 0 && err->code == EO_HTTP_NOT_FOUND) {
			eo_err_clear(err);
			rc = 0;
		}
		return rc;
	case SC_PATCH_REPLICAS:
		return pinned_patch(c, o, replicas_patch(a->replicas), err);
	case SC_DROP_TARGET: {
		json_object *ann = json_object_new_object();
		json_object_object_add(ann, EC_ANN_TARGET, NULL);
		json_object *md = json_object_new_object();
		json_object_object_add(md, "annotations", ann);
		json_object *patch = json_object_new_object();
		json_object_object_add(patch, "metadata", md);
		return pinned_patch(c, o, patch, err);
	}
	case SC_ADD_LEARNER:
	case SC_PROMOTE:
	case SC_TRANSFER_LEADERSHIP:
	case SC_REMOVE_MEMBER:
	case SC_ROLLBACK:
	case SC_REPLACE_MEMBER:
		break;
	}

	if (!(cl = voters_client(c, o, err)))
		return -1;
	struct etcd_member added;
	switch (a->kind) {
	case SC_ADD_LEARNER:
		rc = etcd_member_add(cl, a->peer_url, true, &added, err);
		if (rc == 0) {
			metrics_membership(c->metrics, "add_learner");
			etcd_id_dec(added.id, st->scaling.member_id);
		} else if (err->code == ETCD_EPEER_URL_EXISTS) {
			eo_err_clear(err); /* added before a crash: found next pass */
			rc = 0;
		}
		break;
	case SC_PROMOTE:
		rc = etcd_member_promote(cl, a->member_id, err);
		if (rc == 0)
			metrics_membership(c->metrics, "promote");
		break;
	case SC_TRANSFER_LEADERSHIP:
		rc = o->leader_url[0] ? etcd_move_leader(cl, o->leader_url, a->target_id, err)
				      : eo_err_set(err, EO_ETRANSPORT, "the leader's client URL is unknown");
		if (rc == 0)
			metrics_membership(c->metrics, "transfer_leadership");
		break;
	case SC_REMOVE_MEMBER:
	case SC_ROLLBACK:
	case SC_REPLACE_MEMBER:
		rc = etcd_member_remove(cl, a->member_id, err);
		if (rc == 0)
			metrics_membership(c->metrics, "remove");
		else if (err->code == ETCD_EMEMBER_NOT_FOUND) {
			eo_err_clear(err);
			rc = 0;
		}
		break;
	default:
		break;
	}
	etcd_client_free(cl);
	if (rc != 0 && etcd_err_not_yet(err)) {
		/* etcd's "not yet" (a learner not in sync, the strict reconfig
		 * check for a few seconds after a member joins, an election): look
		 * again soon, no back-off. The decision is remade from the world. */
		char q[300];
		log_info("etcd says not yet", "cluster=%s/%s action=%s reason=%s", ec->namespace,
			 ec->name, sc_kind_name(a->kind), log_q(q, sizeof(q), err->msg));
		eo_err_clear(err);
		*soon = true;
		return 0;
	}
	if (rc != 0)
		metrics_error(c->metrics, "etcd");
	return rc;
}

static bool split_key(const char *key, char ns[64], char name[254])
{
	const char *slash = strchr(key, '/');
	if (!slash || slash == key || !slash[1] || (size_t)(slash - key) >= 64 || strlen(slash + 1) >= 254)
		return false;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	strcpy(name, slash + 1);
	return true;
}

int rec_reconcile(struct ctl *c, const char *key, int64_t *requeue_ms, struct eo_err *err)
{
	char ns[64], name[254], q[300];
	int64_t t0 = eo_now_ms();
	*requeue_ms = 0;
	if (!split_key(key, ns, name))
		return eo_err_set(err, EO_EINVAL, "bad key \"%.100s\"", key);
	json_object *ec_obj = NULL;
	if (kube_get(c->kc, &KUBE_ETCDCLUSTERS, ns, name, &ec_obj, err) != 0) {
		if (err->code == EO_HTTP_NOT_FOUND) { /* deleted: its objects go with it (ownerReferences) */
			eo_err_clear(err);
			return 0;
		}
		metrics_error(c->metrics, "kube");
		metrics_reconcile(c->metrics, "error", (eo_now_ms() - t0) / 1000.0);
		return -1;
	}
	struct etcd_cluster ec;
	if (cluster_parse(ec_obj, &ec, err) != 0) {
		log_warn("EtcdCluster not readable", "cluster=%s error=%s", key, log_q(q, sizeof(q), err->msg));
		json_object_put(ec_obj);
		eo_err_clear(err);
		*requeue_ms = 60000;
		return 0;
	}
	/* A restored cluster's first volume is filled before anything else is
	 * made (backup_pod.c): nothing starts until its snapshot is checked. */
	int64_t hold_ms = 0;
	int gate = rs_gate(c, ec_obj, &ec, &hold_ms, err);
	if (gate != 0) {
		json_object_put(ec_obj);
		*requeue_ms = hold_ms;
		if (gate < 0) {
			metrics_error(c->metrics, "kube");
			metrics_reconcile(c->metrics, "error", (eo_now_ms() - t0) / 1000.0);
			return -1;
		}
		metrics_reconcile(c->metrics, "requeue", (eo_now_ms() - t0) / 1000.0);
		return 0;
	}
	/* The certificates first: the observation speaks to etcd with the
	 * client certificate this finds, and Pods need the Secrets to start. */
	struct tls_state ts;
	struct etcd_tls etls_buf;
	tls_sync(c, &ec, atomic_load(&c->leading), &ts);
	struct observation o;
	int rc = obs_gather_tls(c, ec_obj, &ec, tls_client_of(&ts, &etls_buf), &o, err);
	json_object_put(ec_obj);
	if (rc != 0) {
		tls_state_clear(&ts);
		metrics_error(c->metrics, "observe");
		metrics_reconcile(c->metrics, "error", (eo_now_ms() - t0) / 1000.0);
		return -1;
	}

	struct sc_action a;
	struct ec_status st;
	bool suspension = sc_suspension(&o.s, &a);
	if (!suspension)
		sc_decide(&o.s, &a);
	/* A certificate that does not fit (Secret mode: the user's to fix) holds
	 * every change of the cluster: a member made now could not join or
	 * serve. The reason is in the TLSReady condition. */
	if (ts.on && !ts.ok && acting(a.kind)) {
		log_info("held for TLS", "cluster=%s action=%s reason=%s", key, sc_kind_name(a.kind),
			 ts.reason);
		a.kind = SC_WAIT;
		a.scaling = ec.status.scaling;
		a.event_reason[0] = '\0';
		snprintf(a.message, sizeof(a.message), "held until the TLS certificates fit (%s)",
			 ts.reason);
		a.requeue_ms = 10000;
	}
	/* A CA rotation's phase 1: the template carries the new CA's
	 * fingerprint; the members are made again one at a time to trust both. */
	bool rotating = ts.on && ts.ok && ts.rotating;
	if (rotating)
		eo_strlcpy(o.want_revision, ts.trust_fp, sizeof(o.want_revision));
	/* … and a version upgrade: the Pods whose etcd image is not the
	 * template's, made again the same way. */
	int roll_left = (ts.on && !ts.ok) || suspension ? -1
							 : sc_roll(&o.s, rotating ? ts.trust_fp : "", &a);
	/* Space (space_ctl.c): a NOSPACE alarm holds every other change until
	 * it is recovered; a threshold defragmentation waits for a settled
	 * cluster with nothing else to do. */
	struct space_plan sp;
	space_plan(&o, !suspension && !(ts.on && !ts.ok) && a.kind == SC_NONE && roll_left <= 0 &&
			       ec.status.phase == EC_RUNNING && !ec.status.scaling.active,
		   &sp);
	if (sp.in.nospace)
		a.event_reason[0] = '\0'; /* the NoSpace Event says it; no Event a pass */
	if (sp.in.nospace && acting(a.kind)) {
		log_info("held for NOSPACE", "cluster=%s action=%s", key, sc_kind_name(a.kind));
		a.kind = SC_WAIT;
		a.scaling = ec.status.scaling;
		a.event_reason[0] = '\0';
		snprintf(a.message, sizeof(a.message), "held until the NOSPACE alarm is recovered");
		a.requeue_ms = 2000;
	}
	sc_status(&o.s, &a, &st);
	bk_cluster_condition(c->backup, ec.namespace, ec.name, &st, o.s.now_rfc3339);
	if (ts.on) {
		st.tls = ts.expiry;
		cluster_set_condition(&st, TLS_CONDITION, ts.ok ? "True" : "False", ts.reason,
				      ts.message, o.s.now_rfc3339);
	}
	space_report(&o, &sp, &st);
	const struct ec_scaling *old = &ec.status.scaling;

	/* A replica that lost the Lease writes and does nothing more. */
	if (!atomic_load(&c->leading)) {
		obs_free(&o);
		tls_state_clear(&ts);
		return 0;
	}
	/* The claims follow spec.storage.size upward (its condition is recorded
	 * with the rest; a claim patched twice asks the same). */
	vol_sync(c, o.ec, &ec, o.pvcs, &st, o.s.now_rfc3339);
	/* 1. Record (a 409 ends the pass before anything is changed). */
	if (publish(c, &o, &st, err) != 0)
		goto fail;
	if (old->active && (!st.scaling.active || strcmp(old->step, st.scaling.step) != 0 ||
			    strcmp(old->started_at, st.scaling.started_at) != 0)) {
		int64_t t = obs_time_ms(old->started_at);
		if (t)
			metrics_step(c->metrics, old->step, (o.s.now_ms - t) / 1000.0);
	}
	crash_point(c, &a, "before");

	/* 2. Act: the side effects of the observation, then the decision. */
	if (!atomic_load(&c->leading)) {
		obs_free(&o);
		tls_state_clear(&ts);
		return 0;
	}
	sync_owned(c, &o, &a);
	bool soon = false;
	if (act(c, &o, &a, &st, &soon, err) != 0) {
		log_warn("action failed", "cluster=%s action=%s error=%s", key, sc_kind_name(a.kind),
			 log_q(q, sizeof(q), err->msg));
		goto fail;
	}
	if (rotating && roll_left == 0 && tls_switch_ca(c, &ec, &ts, err) != 0) {
		log_warn("CA not switched", "cluster=%s error=%s", key, log_q(q, sizeof(q), err->msg));
		goto fail;
	}
	if (acting(a.kind) && !soon) { /* taken: not an etcd "not yet" */
		metrics_action(c->metrics, sc_kind_name(a.kind));
		crash_point(c, &a, "after");
	}
	/* The id of a learner just added, for people (the next pass finds it by
	 * its peer URL either way). */
	if (a.kind == SC_ADD_LEARNER && st.scaling.member_id[0]) {
		struct eo_err e2 = {0};
		if (publish(c, &o, &st, &e2) != 0)
			log_debug("member id not recorded", "cluster=%s error=%s", key,
				  log_q(q, sizeof(q), e2.msg));
	}

	/* … then space: one compaction, defragmentation or disarm, recorded. */
	int space_rc = 0;
	if (sp.in.nospace || sp.act.kind != SP_NONE) {
		struct eo_err e2 = {0};
		space_rc = space_act(c, &o, &sp, &st, &e2);
		if (space_rc < 0)
			log_warn("space action failed", "cluster=%s action=%s error=%s", key,
				 sp_kind_name(sp.act.kind), log_q(q, sizeof(q), e2.msg));
		eo_err_clear(&e2);
		if (space_rc > 0 && publish(c, &o, &st, &e2) != 0)
			log_warn("space record not written", "cluster=%s error=%s", key,
				 log_q(q, sizeof(q), e2.msg));
	}

	/* 3. Tell. */
	if (!old->active && st.scaling.active)
		ev_emit(c->kc, o.ec, false, "ScaleStepStarted", st.scaling.message[0] ? st.scaling.message
									     : a.message, c->identity);
	if (a.event_reason[0] && !soon)
		ev_emit(c->kc, o.ec, a.event_warning, a.event_reason, a.message, c->identity);
	if (ts.event_reason[0])
		ev_emit(c->kc, o.ec, ts.event_warning, ts.event_reason, ts.event_message, c->identity);
	{
		const struct ec_condition *was = cluster_condition(&ec.status, TLS_CONDITION);
		bool expiring = ts.ok && strcmp(ts.reason, TLS_EXPIRING_SOON) == 0;
		if (ts.on && (!ts.ok || expiring) && (!was || strcmp(was->reason, ts.reason) != 0))
			ev_emit(c->kc, o.ec, true, expiring ? TLS_EXPIRING_SOON : "TLSNotReady",
				ts.message, c->identity);
	}
	if (acting(a.kind) && !soon)
		log_info("action", "cluster=%s action=%s step=%s msg=%s", key, sc_kind_name(a.kind),
			 st.scaling.active ? st.scaling.step : "-", log_q(q, sizeof(q), a.message));
	else
		log_debug("reconciled", "cluster=%s decision=%s phase=%s msg=%s", key,
			  sc_kind_name(a.kind), ec_phase_name(st.phase), log_q(q, sizeof(q), a.message));
	*requeue_ms = soon ? 1000 : a.requeue_ms;
	if ((sp.in.nospace || space_rc != 0) && (*requeue_ms <= 0 || *requeue_ms > 2000))
		*requeue_ms = 2000; /* the next step of a recovery, or a member seen healthy again */
	metrics_reconcile(c->metrics, acting(a.kind) || a.kind == SC_WAIT ? "requeue" : "success",
			  (eo_now_ms() - t0) / 1000.0);
	obs_free(&o);
	tls_state_clear(&ts);
	return 0;
fail:
	metrics_reconcile(c->metrics, "error", (eo_now_ms() - t0) / 1000.0);
	obs_free(&o);
	tls_state_clear(&ts);
	return -1;
}
