/*
 * backup_pod.c — the restore Pod and its gate (backup_pod.h).
 *
 * The one idea: a restored cluster's first volume is filled before its
 * StatefulSet exists, by a Pod of its own that ends. So no member can ever
 * start on a snapshot that was not checked: the StatefulSet is made only
 * after that Pod succeeded, and a Pod that failed leaves the cluster Failed
 * with the Pod's own last words as the reason. Then member 0 starts on its
 * data exactly like a member restarting (member-init: data, nobody answers
 * → start on it), and the cluster grows one learner at a time as any does.
 *
 * The Pod: an init container of this project's image downloads the
 * snapshot, checks the SHA-256 recorded for it and etcd's own hash at its
 * end, and records member 0's id and the new cluster's id beside the data
 * (as a founding does); then etcd's image runs `etcdutl snapshot restore`
 * with the new cluster's names and a token holding the new EtcdCluster's
 * uid, so the restored cluster gets ids of its own.
 */
#include "backup_pod.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "json.h"
#include "kube.h"
#include "log.h"
#include "resources.h"

static json_object *str(const char *s) { return json_object_new_string(s); }
static json_object *num(int64_t v) { return json_object_new_int64(v); }

int rs_resolve(json_object *backup, const char *key, struct rs_source *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	struct etcd_backup eb;
	if (backup_parse(backup, &eb, err) != 0) {
		eo_err_prefix(err, "EtcdBackup %s: ", json_opt_str(backup, "metadata.name", "?"));
		return -1;
	}
	eo_strlcpy(out->backup, eb.name, sizeof(out->backup));
	out->dest = eb.spec.dest;
	out->s3 = eb.spec.s3;
	out->pvc = eb.spec.pvc;
	const struct eb_snapshot *s = NULL;
	if (key && *key) {
		for (int i = 0; i < eb.status.nsnapshots; i++)
			if (strcmp(eb.status.snapshots[i].key, key) == 0)
				s = &eb.status.snapshots[i];
		if (!s && eb.status.has_last && strcmp(eb.status.last.key, key) == 0)
			s = &eb.status.last;
		eo_strlcpy(out->key, key, sizeof(out->key));
		if (s)
			eo_strlcpy(out->sha256, s->sha256, sizeof(out->sha256));
		/* not listed: only S3 keeps the hash with the object to check it by */
		if (!s && eb.spec.dest != EB_DEST_S3)
			return eo_err_set(err, EO_EINVAL, "EtcdBackup %s lists no snapshot %s, and without "
					  "its recorded SHA-256 it cannot be checked", eb.name, key);
		return 0;
	}
	if (!eb.status.has_last)
		return eo_err_set(err, EO_EINVAL, "EtcdBackup %s has no snapshot yet (status.lastSnapshot "
				  "is empty)", eb.name);
	eo_strlcpy(out->key, eb.status.last.key, sizeof(out->key));
	eo_strlcpy(out->sha256, eb.status.last.sha256, sizeof(out->sha256));
	return 0;
}

void rs_peer_url(const struct etcd_cluster *ec, char *out, size_t size)
{
	/* as member-init builds it: https when the peers speak TLS */
	snprintf(out, size, "%s://%s-0.%s-peer.%s.svc.%s:2380",
		 ec->spec.tls_peer.mode != EC_TLS_OFF ? "https" : "http", ec->name, ec->name,
		 ec->namespace, ec->spec.cluster_domain);
}

void rs_token(const struct etcd_cluster *ec, char *out, size_t size)
{
	snprintf(out, size, "%s-%s-%s", ec->namespace, ec->name, ec->uid);
}

static json_object *labels(const struct etcd_cluster *ec)
{
	json_object *l = json_object_new_object();
	json_object_object_add(l, EC_LABEL_CLUSTER, str(ec->name));
	json_object_object_add(l, EC_LABEL_APP, str(RS_APP_NAME));
	json_object_object_add(l, RES_LABEL_MANAGED_BY, str(RES_MANAGED_BY));
	return l;
}

static json_object *strv(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (; *v; v++)
		json_object_array_add(a, str(*v));
	return a;
}

static json_object *mount(const char *name, const char *path, bool ro)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "name", str(name));
	json_object_object_add(m, "mountPath", str(path));
	if (ro)
		json_object_object_add(m, "readOnly", json_object_new_boolean(1));
	return m;
}

/* Pod Security "restricted", as the member Pods (resources.c). */
static json_object *container_security(void)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "allowPrivilegeEscalation", json_object_new_boolean(0));
	json_object_object_add(s, "readOnlyRootFilesystem", json_object_new_boolean(1));
	json_object_object_add(s, "runAsNonRoot", json_object_new_boolean(1));
	json_object *drop = json_object_new_array();
	json_object_array_add(drop, str("ALL"));
	json_object *caps = json_object_new_object();
	json_object_object_add(caps, "drop", drop);
	json_object_object_add(s, "capabilities", caps);
	return s;
}

static json_object *pod_security(void)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "runAsNonRoot", json_object_new_boolean(1));
	json_object_object_add(s, "runAsUser", num(RES_RUN_AS));
	json_object_object_add(s, "runAsGroup", num(RES_RUN_AS));
	json_object_object_add(s, "fsGroup", num(RES_RUN_AS));
	json_object_object_add(s, "fsGroupChangePolicy", str("OnRootMismatch"));
	json_object *sp = json_object_new_object();
	json_object_object_add(sp, "type", str("RuntimeDefault"));
	json_object_object_add(s, "seccompProfile", sp);
	return s;
}

static json_object *secret_env(const char *name, const char *secret, const char *key)
{
	json_object *ref = json_object_new_object();
	json_object_object_add(ref, "name", str(secret));
	json_object_object_add(ref, "key", str(key));
	json_object *from = json_object_new_object();
	json_object_object_add(from, "secretKeyRef", ref);
	json_object *e = json_object_new_object();
	json_object_object_add(e, "name", str(name));
	json_object_object_add(e, "valueFrom", from);
	return e;
}

static json_object *volume(const char *name, const char *claim, bool ro)
{
	json_object *v = json_object_new_object();
	json_object_object_add(v, "name", str(name));
	if (claim) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "claimName", str(claim));
		if (ro)
			json_object_object_add(c, "readOnly", json_object_new_boolean(1));
		json_object_object_add(v, "persistentVolumeClaim", c);
	} else {
		json_object_object_add(v, "emptyDir", json_object_new_object());
	}
	return v;
}

static json_object *owner(const struct etcd_cluster *ec)
{
	json_object *refs = json_object_new_array();
	json_object_array_add(refs, res_owner_ref(ec));
	return refs;
}

json_object *rs_claim(const struct etcd_cluster *ec, const struct res_opts *opts)
{
	json_object *sts = res_statefulset(ec, 1, true, opts);
	json_object *tmpl = json_at(sts, "spec.volumeClaimTemplates[0]");
	json_object *claim = NULL;
	json_object_deep_copy(tmpl, &claim, NULL);
	json_object_put(sts);
	char name[300];
	snprintf(name, sizeof(name), "data-%s-0", ec->name);
	json_object_object_add(claim, "apiVersion", str("v1"));
	json_object_object_add(claim, "kind", str("PersistentVolumeClaim"));
	json_set(claim, "metadata.name", str(name));
	json_set(claim, "metadata.namespace", str(ec->namespace));
	return claim;
}

json_object *rs_pod(const struct etcd_cluster *ec, const struct rs_source *src,
		    const struct res_opts *opts)
{
	const char *op_image = opts && opts->operator_image && *opts->operator_image
				       ? opts->operator_image : EC_OPERATOR_IMAGE;
	char name[300], peer[400], token[400], member[300], init_cluster[800], etcd_image[300];
	snprintf(name, sizeof(name), "%s" RS_POD_SUFFIX, ec->name);
	snprintf(member, sizeof(member), "%s-0", ec->name);
	rs_peer_url(ec, peer, sizeof(peer));
	rs_token(ec, token, sizeof(token));
	snprintf(init_cluster, sizeof(init_cluster), "%s=%s", member, peer);
	cluster_etcd_image(ec, etcd_image, sizeof(etcd_image));

	json_object *pod = json_object_new_object();
	json_object_object_add(pod, "apiVersion", str("v1"));
	json_object_object_add(pod, "kind", str("Pod"));
	json_object *md = json_object_new_object();
	json_object_object_add(md, "name", str(name));
	json_object_object_add(md, "namespace", str(ec->namespace));
	json_object_object_add(md, "labels", labels(ec));
	json_object *ann = json_object_new_object();
	json_object_object_add(ann, "etcd.k8s-operator.io/restore-from",
			       json_object_new_string(src->backup));
	json_object_object_add(ann, "etcd.k8s-operator.io/restore-key", str(src->key));
	json_object_object_add(md, "annotations", ann);
	json_object_object_add(md, "ownerReferences", owner(ec));
	json_object_object_add(pod, "metadata", md);

	/* the fetch step */
	json_object *args = json_object_new_array();
	const char *common[] = {"--out", RS_SNAPSHOT_FILE, "--data-dir", RES_DATA_DIR,
				"--member-id-file", RES_DATA_MOUNT "/member-id", NULL};
	for (const char *const *p = common; *p; p++)
		json_object_array_add(args, str(*p));
	const char *kv[][2] = {{"--peer-url", peer}, {"--token", token}, {"--sha256", src->sha256}};
	for (size_t i = 0; i < EO_ARRAY_LEN(kv); i++) {
		json_object_array_add(args, str(kv[i][0]));
		json_object_array_add(args, str(kv[i][1]));
	}
	json_object *env = json_object_new_array();
	json_object *fetch_mounts = json_object_new_array();
	json_object_array_add(fetch_mounts, mount("data", RES_DATA_MOUNT, false));
	json_object_array_add(fetch_mounts, mount("snapshot", "/snapshot", false));
	json_object_array_add(fetch_mounts, mount("tmp", RES_TMP_MOUNT, false));
	char file[900];
	if (src->dest == EB_DEST_S3) {
		const char *s3[][2] = {{"--s3-endpoint", src->s3.endpoint}, {"--bucket", src->s3.bucket},
				       {"--region", src->s3.region[0] ? src->s3.region : "us-east-1"},
				       {"--key", src->key}};
		for (size_t i = 0; i < EO_ARRAY_LEN(s3); i++) {
			json_object_array_add(args, str(s3[i][0]));
			json_object_array_add(args, str(s3[i][1]));
		}
		if (src->s3.force_path_style)
			json_object_array_add(args, str("--path-style"));
		json_object_array_add(env, secret_env("AWS_ACCESS_KEY_ID", src->s3.credentials_secret,
						      EB_SECRET_ACCESS_KEY));
		json_object_array_add(env, secret_env("AWS_SECRET_ACCESS_KEY", src->s3.credentials_secret,
						      EB_SECRET_SECRET_KEY));
	} else {
		snprintf(file, sizeof(file), "/backup/%s", src->key);
		json_object_array_add(args, str("--file"));
		json_object_array_add(args, str(file));
		json_object_array_add(fetch_mounts, mount("backup", "/backup", true));
	}
	const char *fetch_cmd[] = {"/usr/local/bin/etcd-controller", "snapshot-fetch", NULL};
	json_object *fetch = json_object_new_object();
	json_object_object_add(fetch, "name", str("fetch"));
	json_object_object_add(fetch, "image", str(op_image));
	json_object_object_add(fetch, "imagePullPolicy", str("IfNotPresent"));
	json_object_object_add(fetch, "command", strv(fetch_cmd));
	json_object_object_add(fetch, "args", args);
	json_object_object_add(fetch, "env", env);
	json_object_object_add(fetch, "volumeMounts", fetch_mounts);
	json_object_object_add(fetch, "securityContext", container_security());
	json_object_object_add(fetch, "terminationMessagePolicy", str("FallbackToLogsOnError"));

	/* etcdutl, on etcd's own image */
	const char *restore_cmd[] = {"/usr/local/bin/etcdutl", NULL};
	const char *restore_args[] = {"snapshot", "restore", RS_SNAPSHOT_FILE, "--data-dir", RES_DATA_DIR,
				      "--name", member, "--initial-cluster", init_cluster,
				      "--initial-advertise-peer-urls", peer, "--initial-cluster-token",
				      token, NULL};
	json_object *restore = json_object_new_object();
	json_object_object_add(restore, "name", str("restore"));
	json_object_object_add(restore, "image", str(etcd_image));
	json_object_object_add(restore, "imagePullPolicy", str("IfNotPresent"));
	json_object_object_add(restore, "command", strv(restore_cmd));
	json_object_object_add(restore, "args", strv(restore_args));
	json_object *rm = json_object_new_array();
	json_object_array_add(rm, mount("data", RES_DATA_MOUNT, false));
	json_object_array_add(rm, mount("snapshot", "/snapshot", false));
	json_object_array_add(rm, mount("tmp", RES_TMP_MOUNT, false));
	json_object_object_add(restore, "volumeMounts", rm);
	json_object_object_add(restore, "securityContext", container_security());
	json_object_object_add(restore, "terminationMessagePolicy", str("FallbackToLogsOnError"));

	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "restartPolicy", str("Never"));
	json_object_object_add(spec, "automountServiceAccountToken", json_object_new_boolean(0));
	json_object_object_add(spec, "enableServiceLinks", json_object_new_boolean(0));
	json_object_object_add(spec, "securityContext", pod_security());
	json_object *inits = json_object_new_array();
	json_object_array_add(inits, fetch);
	json_object_object_add(spec, "initContainers", inits);
	json_object *ctrs = json_object_new_array();
	json_object_array_add(ctrs, restore);
	json_object_object_add(spec, "containers", ctrs);
	char claim[300];
	snprintf(claim, sizeof(claim), "data-%s-0", ec->name);
	json_object *vols = json_object_new_array();
	json_object_array_add(vols, volume("data", claim, false));
	json_object_array_add(vols, volume("snapshot", NULL, false));
	json_object_array_add(vols, volume("tmp", NULL, false));
	if (src->dest == EB_DEST_PVC)
		json_object_array_add(vols, volume("backup", src->pvc.claim_name, true));
	json_object_object_add(spec, "volumes", vols);
	json_object_object_add(pod, "spec", spec);
	return pod;
}

/* ---- the gate ----------------------------------------------------------- */

static void set_status(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
		       const char *phase, const char *reason, const char *message, bool warning)
{
	const char *old_phase = json_opt_str(ec_obj, "status.phase", "");
	json_object *conds = json_at(ec_obj, "status.conditions");
	const char *old_msg = "";
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds); i++) {
		json_object *k = json_object_array_get_idx(conds, i);
		if (strcmp(json_opt_str(k, "type", ""), "Available") == 0)
			old_msg = json_opt_str(k, "message", "");
	}
	if (strcmp(old_phase, phase) == 0 && strcmp(old_msg, message) == 0)
		return;
	char now[32];
	eo_rfc3339_now(now);
	json_object *cond = json_object_new_object();
	json_object_object_add(cond, "type", str("Available"));
	json_object_object_add(cond, "status", str("False"));
	json_object_object_add(cond, "reason", str(reason));
	json_object_object_add(cond, "message", str(message));
	json_object_object_add(cond, "lastTransitionTime", str(now));
	json_object *arr = json_object_new_array();
	json_object_array_add(arr, cond);
	/* an update with the resourceVersion read, as every status write of
	 * the controller (RBAC: update on etcdclusters/status, no patch); a
	 * conflict is left to the next pass */
	json_object *body = NULL;
	if (json_object_deep_copy(ec_obj, &body, NULL) != 0) {
		json_object_put(arr);
		return;
	}
	json_object *st = json_at(body, "status");
	if (!st || !json_object_is_type(st, json_type_object)) {
		st = json_object_new_object();
		json_object_object_add(body, "status", st);
	}
	json_object_object_add(st, "phase", str(phase));
	json_object_object_add(st, "observedGeneration", num(ec->generation));
	json_object_object_add(st, "conditions", arr);
	struct eo_err err = {0};
	char q[300];
	if (kube_update(c->kc, &KUBE_ETCDCLUSTERS, ec->namespace, ec->name, "status", body, NULL,
			&err) != 0)
		log_warn("restore status not written", "cluster=%s/%s error=%s", ec->namespace, ec->name,
			 log_q(q, sizeof(q), err.msg));
	json_object_put(body);
	ev_emit(c->kc, ec_obj, warning, reason, message, c->identity);
}

/* The failure a finished restore Pod reports: its containers' exit codes
 * and last words. *bad: the snapshot itself was refused. */
static void pod_failure(json_object *pod, char *out, size_t size, bool *bad)
{
	const char *lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
	*bad = false;
	snprintf(out, size, "the restore Pod failed");
	for (size_t l = 0; l < EO_ARRAY_LEN(lists); l++) {
		json_object *a = json_at(pod, lists[l]);
		for (size_t i = 0; a && json_object_is_type(a, json_type_array) &&
				   i < json_object_array_length(a); i++) {
			json_object *s = json_object_array_get_idx(a, i);
			json_object *t = json_at(s, "state.terminated");
			if (!t || json_opt_int(t, "exitCode", 0) == 0)
				continue;
			const char *who = json_opt_str(s, "name", "?");
			int64_t code = json_opt_int(t, "exitCode", 0);
			const char *msg = json_opt_str(t, "message", json_opt_str(t, "reason", ""));
			/* the last line of the log is the reason */
			size_t n = strlen(msg);
			while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
				n--;
			const char *line = msg;
			for (size_t k = 0; k < n; k++)
				if (msg[k] == '\n')
					line = msg + k + 1;
			snprintf(out, size, "%s exited %lld: %.*s", who, (long long)code,
				 (int)(n - (size_t)(line - msg)), line);
			/* fetch: 3 is a refused snapshot; etcdutl failing on a
			 * checked file is a refusal of the data too */
			*bad = (strcmp(who, "fetch") == 0 && code == RS_EXIT_BAD_SNAPSHOT) ||
			       strcmp(who, "restore") == 0;
			return;
		}
	}
}

int rs_gate(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec, int64_t *requeue_ms,
	    struct eo_err *err)
{
	json_object *r = json_at(ec_obj, "spec.bootstrap.restore");
	if (!r || ec->status.cluster_id[0] || ec->deleting)
		return 0;
	json_object *sts = NULL;
	if (kube_get(c->kc, &KUBE_STATEFULSETS, ec->namespace, ec->name, &sts, err) == 0) {
		json_object_put(sts);
		return 0;
	}
	if (err->code != EO_HTTP_NOT_FOUND)
		return -1;
	eo_err_clear(err);
	if (!atomic_load(&c->leading))
		return 1;
	const char *backup = json_opt_str(r, "backupName", "");
	const char *key = json_opt_str(r, "key", "");
	char pod_name[300], msg[512], q[300];
	snprintf(pod_name, sizeof(pod_name), "%s" RS_POD_SUFFIX, ec->name);
	json_object *pod = NULL;
	if (kube_get(c->kc, &KUBE_PODS, ec->namespace, pod_name, &pod, err) != 0) {
		if (err->code != EO_HTTP_NOT_FOUND)
			return -1;
		eo_err_clear(err);
		json_object *bo = NULL;
		struct rs_source src;
		if (kube_get(c->kc, &KUBE_ETCDBACKUPS, ec->namespace, backup, &bo, err) != 0) {
			if (err->code != EO_HTTP_NOT_FOUND)
				return -1;
			snprintf(msg, sizeof(msg), "spec.bootstrap.restore: EtcdBackup %s/%s does not exist; "
				 "nothing is started until it does", ec->namespace, backup);
			eo_err_clear(err);
			set_status(c, ec_obj, ec, "Failed", "RestoreSourceMissing", msg, true);
			*requeue_ms = 30000;
			return 1;
		}
		struct eo_err rerr = {0};
		int rc = rs_resolve(bo, key, &src, &rerr);
		json_object_put(bo);
		if (rc != 0) {
			snprintf(msg, sizeof(msg), "spec.bootstrap.restore: %s", rerr.msg);
			set_status(c, ec_obj, ec, "Failed", "RestoreSourceMissing", msg, true);
			*requeue_ms = 30000;
			return 1;
		}
		json_object *claim = rs_claim(ec, &c->res);
		rc = kube_create(c->kc, &KUBE_PVCS, ec->namespace, claim, NULL, err);
		json_object_put(claim);
		if (rc != 0 && err->code != EO_HTTP_CONFLICT)
			return -1;
		eo_err_clear(err);
		json_object *p = rs_pod(ec, &src, &c->res);
		rc = kube_create(c->kc, &KUBE_PODS, ec->namespace, p, NULL, err);
		json_object_put(p);
		if (rc != 0 && err->code != EO_HTTP_CONFLICT)
			return -1;
		eo_err_clear(err);
		snprintf(msg, sizeof(msg), "restoring member 0 from EtcdBackup %s, snapshot %s", src.backup,
			 src.key);
		log_info("restore started", "cluster=%s/%s backup=%s key=%s", ec->namespace, ec->name,
			 src.backup, log_q(q, sizeof(q), src.key));
		set_status(c, ec_obj, ec, "Creating", "Restoring", msg, false);
		*requeue_ms = 2000;
		return 1;
	}
	const char *phase = json_opt_str(pod, "status.phase", "");
	int ret = 1;
	if (strcmp(phase, "Succeeded") == 0) {
		log_info("restore done; creating the members", "cluster=%s/%s", ec->namespace, ec->name);
		ev_emit(c->kc, ec_obj, false, "Restored", "member 0's data restored from the snapshot "
			"and checked; starting it", c->identity);
		if (kube_delete(c->kc, &KUBE_PODS, ec->namespace, pod_name, "Background", err) != 0 &&
		    err->code != EO_HTTP_NOT_FOUND) {
			json_object_put(pod);
			return -1;
		}
		eo_err_clear(err);
		ret = 0;
	} else if (strcmp(phase, "Failed") == 0) {
		bool bad;
		char why[400];
		pod_failure(pod, why, sizeof(why), &bad);
		if (bad) {
			/* refused data is final: the Pod stays as the evidence */
			snprintf(msg, sizeof(msg), "restore refused the snapshot, nothing was started: %s",
				 why);
			set_status(c, ec_obj, ec, "Failed", "RestoreFailed", msg, true);
			*requeue_ms = 0;
		} else {
			snprintf(msg, sizeof(msg), "restore failed, trying again: %s", why);
			set_status(c, ec_obj, ec, "Failed", "RestoreRetrying", msg, true);
			kube_delete(c->kc, &KUBE_PODS, ec->namespace, pod_name, "Background", err);
			eo_err_clear(err);
			*requeue_ms = 15000;
		}
	} else {
		*requeue_ms = 2000;
	}
	json_object_put(pod);
	return ret;
}

/* ---- PVC destinations: the receiver Pod ---------------------------------- */

json_object *bkp_recv_pod(const struct etcd_backup *eb, const char *name, const char *token,
			  const struct res_opts *opts)
{
	const char *op_image = opts && opts->operator_image && *opts->operator_image
				       ? opts->operator_image : EC_OPERATOR_IMAGE;
	json_object *pod = json_object_new_object();
	json_object_object_add(pod, "apiVersion", str("v1"));
	json_object_object_add(pod, "kind", str("Pod"));
	json_set(pod, "metadata.name", str(name));
	json_set(pod, "metadata.namespace", str(eb->namespace));
	json_set(pod, "metadata.labels[" EC_LABEL_APP "]", str(BKP_APP_NAME));
	json_set(pod, "metadata.labels[" BKP_LABEL_OF "]", str(eb->uid));
	json_object *ref = json_object_new_object();
	json_object_object_add(ref, "apiVersion", str(EC_API_VERSION));
	json_object_object_add(ref, "kind", str(EB_KIND));
	json_object_object_add(ref, "name", str(eb->name));
	json_object_object_add(ref, "uid", str(eb->uid));
	json_object_object_add(ref, "controller", json_object_new_boolean(1));
	json_object *refs = json_object_new_array();
	json_object_array_add(refs, ref);
	json_set(pod, "metadata.ownerReferences", refs);

	const char *cmd[] = {"/usr/local/bin/etcd-controller", "snapshot-receive", NULL};
	char port[16];
	snprintf(port, sizeof(port), "%d", BKP_PORT);
	const char *args[] = {"--dir", "/backup", "--port", port, NULL};
	json_object *k = json_object_new_object();
	json_object_object_add(k, "name", str("receiver"));
	json_object_object_add(k, "image", str(op_image));
	json_object_object_add(k, "imagePullPolicy", str("IfNotPresent"));
	json_object_object_add(k, "command", strv(cmd));
	json_object_object_add(k, "args", strv(args));
	json_object *env = json_object_new_array();
	json_object *e = json_object_new_object();
	json_object_object_add(e, "name", str("BACKUP_TOKEN"));
	json_object_object_add(e, "value", str(token));
	json_object_array_add(env, e);
	json_object_object_add(k, "env", env);
	json_object *ports = json_object_new_array();
	json_object *p = json_object_new_object();
	json_object_object_add(p, "containerPort", num(BKP_PORT));
	json_object_array_add(ports, p);
	json_object_object_add(k, "ports", ports);
	json_object *probe = json_object_new_object();
	json_set(probe, "httpGet.path", str("/healthz"));
	json_set(probe, "httpGet.port", num(BKP_PORT));
	json_object_object_add(probe, "periodSeconds", num(1));
	json_object_object_add(k, "readinessProbe", probe);
	json_object *m = json_object_new_array();
	json_object_array_add(m, mount("backup", "/backup", false));
	json_object_object_add(k, "volumeMounts", m);
	json_object_object_add(k, "securityContext", container_security());
	json_object *ctrs = json_object_new_array();
	json_object_array_add(ctrs, k);
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "restartPolicy", str("Never"));
	json_object_object_add(spec, "automountServiceAccountToken", json_object_new_boolean(0));
	json_object_object_add(spec, "enableServiceLinks", json_object_new_boolean(0));
	json_object_object_add(spec, "securityContext", pod_security());
	json_object_object_add(spec, "containers", ctrs);
	json_object *vols = json_object_new_array();
	json_object_array_add(vols, volume("backup", eb->spec.pvc.claim_name, false));
	json_object_object_add(spec, "volumes", vols);
	json_object_object_add(pod, "spec", spec);
	return pod;
}

/* Receivers of this backup left by an earlier run (a controller that
 * stopped midway): deleted before a new one starts. */
static void delete_old_receivers(struct ctl *c, const struct etcd_backup *eb)
{
	char sel[128];
	snprintf(sel, sizeof(sel), BKP_LABEL_OF "=%s", eb->uid);
	json_object *list = NULL;
	struct eo_err err = {0};
	if (kube_list(c->kc, &KUBE_PODS, eb->namespace, sel, &list, &err) != 0)
		return;
	json_object *items = json_at(list, "items");
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		const char *n = json_opt_str(json_object_array_get_idx(items, i), "metadata.name", "");
		kube_delete(c->kc, &KUBE_PODS, eb->namespace, n, "Background", &err);
	}
	json_object_put(list);
}

int bkp_recv_start(struct ctl *c, const struct etcd_backup *eb, struct bkp_recv *r, long timeout_ms,
		   struct eo_err *err)
{
	memset(r, 0, sizeof(*r));
	delete_old_receivers(c, eb);
	unsigned char raw[16];
	FILE *f = fopen("/dev/urandom", "rb");
	if (!f || fread(raw, 1, sizeof(raw), f) != sizeof(raw)) {
		if (f)
			fclose(f);
		return eo_err_set(err, EO_ESYS, "no random token for the receiver");
	}
	fclose(f);
	for (int i = 0; i < 16; i++)
		sprintf(r->token + 2 * i, "%02x", raw[i]);
	snprintf(r->pod, sizeof(r->pod), "%.200s-receiver-%lld", eb->name, (long long)(eo_wall_ms() / 1000));
	json_object *pod = bkp_recv_pod(eb, r->pod, r->token, &c->res);
	int rc = kube_create(c->kc, &KUBE_PODS, eb->namespace, pod, NULL, err);
	json_object_put(pod);
	if (rc != 0) {
		eo_err_prefix(err, "receiver Pod for claim %s: ", eb->spec.pvc.claim_name);
		return -1;
	}
	int64_t until = eo_now_ms() + timeout_ms;
	const char *why = "not scheduled yet";
	char last[200] = "";
	while (eo_now_ms() < until) {
		json_object *p = NULL;
		if (kube_get(c->kc, &KUBE_PODS, eb->namespace, r->pod, &p, err) == 0) {
			const char *ip = json_opt_str(p, "status.podIP", "");
			bool ready = false;
			json_object *conds = json_at(p, "status.conditions");
			for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
				json_object *k = json_object_array_get_idx(conds, i);
				if (!strcmp(json_opt_str(k, "type", ""), "Ready"))
					ready = !strcmp(json_opt_str(k, "status", ""), "True");
			}
			const char *phase = json_opt_str(p, "status.phase", "");
			eo_strlcpy(last, json_opt_str(p, "status.conditions[0].message", phase), sizeof(last));
			bool over = !strcmp(phase, "Failed") || !strcmp(phase, "Succeeded");
			if (ready && *ip) {
				snprintf(r->url, sizeof(r->url), "http://%s:%d", ip, BKP_PORT);
				json_object_put(p);
				return 0;
			}
			json_object_put(p);
			if (over) {
				why = "it ended";
				break;
			}
			why = "not ready";
		}
		eo_sleep_ms(500);
	}
	bkp_recv_stop(c, eb, r);
	return eo_err_set(err, EO_ETIMEOUT, "receiver Pod %s for claim %s: %s within %lds (%s)", r->pod,
			  eb->spec.pvc.claim_name, why, timeout_ms / 1000, last);
}

void bkp_recv_stop(struct ctl *c, const struct etcd_backup *eb, struct bkp_recv *r)
{
	struct eo_err err = {0};
	if (r->pod[0])
		kube_delete(c->kc, &KUBE_PODS, eb->namespace, r->pod, "Background", &err);
	memset(r->token, 0, sizeof(r->token));
	r->pod[0] = '\0';
}
