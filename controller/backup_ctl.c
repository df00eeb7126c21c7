/*
 * backup_ctl.c — the EtcdBackup controller (backup_ctl.h).
 *
 * The one idea: status is written before and after each run, never during
 * its decisions — "Running" with lastScheduleTime first (so a controller
 * that dies midway leaves a run that the next pass reports as interrupted,
 * instead of repeating it in a loop), then the outcome with the snapshot
 * appended only when it is whole (backup.c). The snapshot list is the only
 * record of what exists; retention deletes from its tail, and a key whose
 * deletion failed stays listed so the next run tries again.
 *
 * Destinations: S3 is written by this process (streamed, backup_run.c). A
 * PVC cannot be mounted by a running process, so a short-lived Pod does it
 * (backup_pod.c: `etcd-controller snapshot-save` on the claim, the same
 * streamed code), and the pass that sees it finish reads its result from
 * the Pod's termination message.
 */
#include "backup_ctl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "backup_pod.h"
#include "backup_run.h"
#include "events.h"
#include "json.h"
#include "kube.h"
#include "log.h"
#include "s3.h"
#include "tls.h"

#define BK_MAX_TRACKED 256
#define BK_ONESHOT_TRIES 3

struct tracked {
	char key[320];      /* ns/backup */
	char cluster[320];  /* ns/cluster */
	bool scheduled, stale;
	int64_t age_s, period_s;
	/* metrics */
	double last_success, last_duration;
	int64_t last_size, failures_total, successes_total;
};

struct bk {
	struct ctl *ctl;
	struct wq *q, *cluster_q;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	struct tracked t[BK_MAX_TRACKED];
	int nt;
};

struct bk *bk_new(struct ctl *ctl, struct wq *cluster_q)
{
	struct bk *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->ctl = ctl;
	b->cluster_q = cluster_q;
	b->q = wq_new(2000, 300000);
	pthread_mutex_init(&b->mu, NULL);
	return b;
}

void bk_free(struct bk *b)
{
	if (!b)
		return;
	wq_free(b->q);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void bk_enqueue(struct bk *b, json_object *obj)
{
	char key[320];
	snprintf(key, sizeof(key), "%s/%s", json_opt_str(obj, "metadata.namespace", ""),
		 json_opt_str(obj, "metadata.name", ""));
	wq_add(b->q, key);
}

static void *worker(void *arg)
{
	struct bk *b = arg;
	char *key, q[300];
	while ((key = wq_get(b->q))) {
		int64_t requeue = 0;
		struct eo_err err = {0};
		if (bk_reconcile(b, key, &requeue, &err) != 0) {
			int64_t d = wq_add_rate_limited(b->q, key);
			log_warn("backup pass failed", "backup=%s retry_in_ms=%lld error=%s", key,
				 (long long)d, log_q(q, sizeof(q), err.msg));
		} else {
			wq_forget(b->q, key);
			if (requeue > 0)
				wq_add_after(b->q, key, requeue);
		}
		wq_done(b->q, key);
		free(key);
	}
	return NULL;
}

int bk_start(struct bk *b)
{
	b->started = pthread_create(&b->th, NULL, worker, b) == 0;
	return b->started ? 0 : -1;
}

void bk_stop(struct bk *b)
{
	if (!b)
		return;
	wq_shutdown(b->q);
	if (b->started)
		pthread_join(b->th, NULL);
	b->started = false;
}

/* ---- bookkeeping: staleness and metrics --------------------------------- */

static struct tracked *track(struct bk *b, const char *key)
{
	for (int i = 0; i < b->nt; i++)
		if (strcmp(b->t[i].key, key) == 0)
			return &b->t[i];
	if (b->nt == BK_MAX_TRACKED)
		return NULL;
	struct tracked *t = &b->t[b->nt++];
	memset(t, 0, sizeof(*t));
	eo_strlcpy(t->key, key, sizeof(t->key));
	return t;
}

static void untrack(struct bk *b, const char *key)
{
	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < b->nt; i++)
		if (strcmp(b->t[i].key, key) == 0) {
			if (b->t[i].scheduled && b->cluster_q)
				wq_add(b->cluster_q, b->t[i].cluster);
			b->t[i] = b->t[--b->nt];
			break;
		}
	pthread_mutex_unlock(&b->mu);
}

/* Note a backup's schedule and staleness; the cluster is looked at again
 * when its answer changes. */
static void note_stale(struct bk *b, const struct etcd_backup *eb, int64_t created, int64_t now)
{
	char key[320], cluster[320];
	snprintf(key, sizeof(key), "%s/%s", eb->namespace, eb->name);
	snprintf(cluster, sizeof(cluster), "%s/%s", eb->namespace, eb->spec.cluster_name);
	int64_t age, period;
	bool stale = backup_stale(eb, created, now, &age, &period);
	bool scheduled = eb->spec.schedule[0] != '\0';
	pthread_mutex_lock(&b->mu);
	struct tracked *t = track(b, key);
	bool changed = false;
	if (t) {
		changed = t->stale != stale || t->scheduled != scheduled || strcmp(t->cluster, cluster) != 0;
		if (changed && t->cluster[0] && strcmp(t->cluster, cluster) != 0 && b->cluster_q)
			wq_add(b->cluster_q, t->cluster);
		eo_strlcpy(t->cluster, cluster, sizeof(t->cluster));
		t->stale = stale;
		t->scheduled = scheduled;
		t->age_s = age;
		t->period_s = period;
	}
	pthread_mutex_unlock(&b->mu);
	if (changed && b->cluster_q)
		wq_add(b->cluster_q, cluster);
}

static void note_run(struct bk *b, const char *key, bool ok, double seconds, int64_t size)
{
	pthread_mutex_lock(&b->mu);
	struct tracked *t = track(b, key);
	if (t) {
		if (ok) {
			t->successes_total++;
			t->last_success = (double)eo_wall_ms() / 1000.0;
			t->last_size = size;
		} else {
			t->failures_total++;
		}
		t->last_duration = seconds;
	}
	pthread_mutex_unlock(&b->mu);
}

void bk_cluster_condition(struct bk *b, const char *ns, const char *name, struct ec_status *st,
			  const char *now)
{
	if (!b)
		return;
	char cluster[320], msg[256] = "";
	snprintf(cluster, sizeof(cluster), "%s/%s", ns, name);
	bool any = false, stale = false;
	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < b->nt; i++) {
		const struct tracked *t = &b->t[i];
		if (!t->scheduled || strcmp(t->cluster, cluster) != 0)
			continue;
		any = true;
		if (t->stale && !stale) {
			stale = true;
			const char *slash = strchr(t->key, '/');
			snprintf(msg, sizeof(msg), "EtcdBackup %s: no good snapshot for %llds, more than "
				 "twice its schedule's period (%llds)", slash ? slash + 1 : t->key,
				 (long long)t->age_s, (long long)t->period_s);
		}
	}
	pthread_mutex_unlock(&b->mu);
	if (!any)
		return;
	if (stale)
		cluster_set_condition(st, BK_CONDITION, "True", "BackupStale", msg, now);
	else
		cluster_set_condition(st, BK_CONDITION, "False", "BackupsCurrent",
				      "every scheduled EtcdBackup of this cluster succeeded within "
				      "twice its period", now);
}

int bk_metrics_render(struct eo_buf *out, void *ud)
{
	struct bk *b = ud;
	if (!b)
		return 0;
	pthread_mutex_lock(&b->mu);
	int rc = eo_buf_printf(out,
		"# HELP etcd_backup_last_success_timestamp_seconds When the EtcdBackup last took a good snapshot.\n"
		"# TYPE etcd_backup_last_success_timestamp_seconds gauge\n");
	for (int i = 0; rc == 0 && i < b->nt; i++)
		if (b->t[i].successes_total)
			rc = eo_buf_printf(out, "etcd_backup_last_success_timestamp_seconds{backup=\"%s\"} %.3f\n",
					   b->t[i].key, b->t[i].last_success);
	if (rc == 0)
		rc = eo_buf_printf(out, "# HELP etcd_backup_last_duration_seconds Time the last run took.\n"
				   "# TYPE etcd_backup_last_duration_seconds gauge\n");
	for (int i = 0; rc == 0 && i < b->nt; i++)
		if (b->t[i].successes_total + b->t[i].failures_total)
			rc = eo_buf_printf(out, "etcd_backup_last_duration_seconds{backup=\"%s\"} %.3f\n",
					   b->t[i].key, b->t[i].last_duration);
	if (rc == 0)
		rc = eo_buf_printf(out, "# HELP etcd_backup_last_size_bytes Size of the last good snapshot.\n"
				   "# TYPE etcd_backup_last_size_bytes gauge\n");
	for (int i = 0; rc == 0 && i < b->nt; i++)
		if (b->t[i].successes_total)
			rc = eo_buf_printf(out, "etcd_backup_last_size_bytes{backup=\"%s\"} %lld\n",
					   b->t[i].key, (long long)b->t[i].last_size);
	if (rc == 0)
		rc = eo_buf_printf(out, "# HELP etcd_backup_runs_total Snapshot runs by result.\n"
				   "# TYPE etcd_backup_runs_total counter\n");
	for (int i = 0; rc == 0 && i < b->nt; i++)
		rc = eo_buf_printf(out, "etcd_backup_runs_total{backup=\"%s\",result=\"success\"} %lld\n"
				   "etcd_backup_runs_total{backup=\"%s\",result=\"failure\"} %lld\n",
				   b->t[i].key, (long long)b->t[i].successes_total, b->t[i].key,
				   (long long)b->t[i].failures_total);
	if (rc == 0)
		rc = eo_buf_printf(out, "# HELP etcd_backup_stale 1 when a scheduled EtcdBackup's last good "
				   "snapshot is older than twice its period.\n"
				   "# TYPE etcd_backup_stale gauge\n");
	for (int i = 0; rc == 0 && i < b->nt; i++)
		if (b->t[i].scheduled)
			rc = eo_buf_printf(out, "etcd_backup_stale{backup=\"%s\"} %d\n", b->t[i].key,
					   b->t[i].stale ? 1 : 0);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* ---- status and Events -------------------------------------------------- */

static int write_status(struct bk *b, const struct etcd_backup *eb, const struct eb_status *st,
			struct eo_err *err)
{
	json_object *s = backup_status_json(st);
	if (st->phase != EB_RUNNING)
		json_object_object_add(s, "progress", NULL); /* merge patch: remove it */
	json_object *patch = json_object_new_object();
	json_object_object_add(patch, "status", s);
	int rc = kube_patch(b->ctl->kc, &KUBE_ETCDBACKUPS, eb->namespace, eb->name, "status",
			    KUBE_PATCH_MERGE, json_compact(patch), NULL, err);
	json_object_put(patch);
	if (rc != 0)
		eo_err_prefix(err, "status of EtcdBackup %s/%s: ", eb->namespace, eb->name);
	return rc;
}

static void event(struct bk *b, json_object *obj, bool warning, const char *reason, const char *msg)
{
	json_object *e = ev_build(obj, warning, reason, msg, "etcd-controller", b->ctl->identity,
				  (long long)eo_wall_ms() * 1000000LL + (eo_now_ms() % 1000) * 1000);
	json_set(e, "involvedObject.kind", json_object_new_string(EB_KIND));
	struct eo_err err = {0};
	char q[300];
	if (kube_create(b->ctl->kc, &KUBE_EVENTS, json_opt_str(obj, "metadata.namespace", ""), e, NULL,
			&err) != 0)
		log_debug("event not recorded", "reason=%s error=%s", reason, log_q(q, sizeof(q), err.msg));
	json_object_put(e);
}

static void rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- one run ------------------------------------------------------------ */

/* Where a snapshot is read from: a healthy voter's client URL (a follower
 * rather than the leader: a snapshot reads the whole database, and the
 * leader has enough to do), and for a cluster with client TLS the
 * controller's client certificate (tls.c, read, never written here). */
struct member_pick {
	char url[300];
	struct tls_state ts;
	struct etcd_tls etls;
	const struct etcd_tls *tls;
};

static void pick_done(struct member_pick *m)
{
	tls_state_clear(&m->ts);
}

static int pick_member(struct bk *b, const struct etcd_backup *eb, struct member_pick *mp,
		       struct eo_err *err)
{
	memset(mp, 0, sizeof(*mp));
	json_object *ec = NULL;
	if (kube_get(b->ctl->kc, &KUBE_ETCDCLUSTERS, eb->namespace, eb->spec.cluster_name, &ec, err) != 0) {
		if (err->code == EO_HTTP_NOT_FOUND)
			eo_err_set(err, 404, "EtcdCluster %s/%s does not exist", eb->namespace,
				   eb->spec.cluster_name);
		return -1;
	}
	json_object *ms = json_at(ec, "status.members");
	const char *pick = NULL;
	for (size_t i = 0; ms && json_object_is_type(ms, json_type_array) &&
			   i < json_object_array_length(ms); i++) {
		json_object *m = json_object_array_get_idx(ms, i);
		const char *cu = json_opt_str(m, "clientURL", "");
		if (!json_opt_bool(m, "healthy", false) || json_opt_bool(m, "learner", false) || !*cu)
			continue;
		if (!pick || !json_opt_bool(m, "leader", false))
			pick = cu;
		if (!json_opt_bool(m, "leader", false))
			break;
	}
	int rc = 0;
	struct etcd_cluster parsed;
	if (!pick) {
		rc = eo_err_set(err, EO_ETRANSPORT, "EtcdCluster %s/%s has no healthy voting member to "
				"take a snapshot from", eb->namespace, eb->spec.cluster_name);
	} else if (cluster_parse(ec, &parsed, err) != 0) {
		rc = -1;
	} else {
		eo_strlcpy(mp->url, pick, sizeof(mp->url));
		if (parsed.spec.tls_client.mode != EC_TLS_OFF) {
			tls_sync(b->ctl, &parsed, false, &mp->ts);
			mp->tls = tls_client_of(&mp->ts, &mp->etls);
			if (!mp->tls)
				rc = eo_err_set(err, EO_EINVAL, "EtcdCluster %s/%s wants client certificates and "
						"the controller's are not usable: %s", eb->namespace,
						eb->spec.cluster_name, mp->ts.message);
		}
	}
	json_object_put(ec);
	if (rc != 0)
		pick_done(mp);
	return rc;
}

static int secret_value(json_object *sec, const char *key, char **out, struct eo_err *err)
{
	char path[128];
	snprintf(path, sizeof(path), "data[%s]", key);
	const char *v = json_opt_str(sec, path, NULL);
	if (!v)
		return eo_err_set(err, EO_EINVAL, "Secret %s has no key %s",
				  json_opt_str(sec, "metadata.name", "?"), key);
	size_t n;
	if (eo_b64_decode(v, strlen(v), out, &n, err) != 0)
		return -1;
	/* a trailing newline from `echo … | base64` is not part of a key */
	while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
		(*out)[--n] = '\0';
	return 0;
}

static void wipe_str(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

static struct s3_client *bk_s3_client(struct kube_client *kc, const struct etcd_backup *eb,
			       struct eo_err *err)
{
	const struct eb_s3 *d = &eb->spec.s3;
	json_object *sec = NULL;
	if (kube_get(kc, &KUBE_SECRETS, eb->namespace, d->credentials_secret, &sec, err) != 0) {
		eo_err_prefix(err, "credentials Secret %s/%s: ", eb->namespace, d->credentials_secret);
		return NULL;
	}
	char *ak = NULL, *sk = NULL;
	struct s3_client *c = NULL;
	if (secret_value(sec, EB_SECRET_ACCESS_KEY, &ak, err) == 0 &&
	    secret_value(sec, EB_SECRET_SECRET_KEY, &sk, err) == 0) {
		struct s3_conf conf = {.endpoint = d->endpoint, .bucket = d->bucket, .region = d->region,
				       .path_style = d->force_path_style, .access_key = ak,
				       .secret_key = sk};
		c = s3_client_new(&conf, err);
	}
	wipe_str(ak);
	wipe_str(sk);
	json_object_put(sec);
	return c;
}

struct progress {
	struct bk *b;
	const struct etcd_backup *eb;
	struct eb_status *st;
	int64_t last;
};

static void on_progress(void *ud, int64_t bytes, int64_t total)
{
	struct progress *p = ud;
	int64_t now = eo_now_ms();
	p->st->bytes = bytes;
	p->st->total_bytes = total;
	if (now - p->last < 2000 && bytes < total)
		return;
	p->last = now;
	/* only the progress: a small patch, no resourceVersion */
	json_object *pr = json_object_new_object();
	json_object_object_add(pr, "startedAt", json_object_new_string(p->st->started_at));
	json_object_object_add(pr, "bytes", json_object_new_int64(bytes));
	json_object_object_add(pr, "totalBytes", json_object_new_int64(total));
	json_object *patch = json_object_new_object();
	json_set(patch, "status.progress", pr);
	struct eo_err err = {0};
	kube_patch(p->b->ctl->kc, &KUBE_ETCDBACKUPS, p->eb->namespace, p->eb->name, "status",
		   KUBE_PATCH_MERGE, json_compact(patch), NULL, &err);
	json_object_put(patch);
}

/* The S3 run, start to end, in this process. */
static int run_s3(struct bk *b, const struct etcd_backup *eb, struct eb_status *st,
		  struct eb_snapshot *snap, const char **reason, struct eo_err *err)
{
	char key[512], cluster[320];
	struct member_pick mp;
	*reason = "ClusterNotReady";
	if (pick_member(b, eb, &mp, err) != 0)
		return -1;
	*reason = "CredentialsUnusable";
	struct s3_client *s3 = bk_s3_client(b->ctl->kc, eb, err);
	if (!s3) {
		pick_done(&mp);
		return -1;
	}
	*reason = "InvalidSpec";
	if (backup_key(eb, eo_wall_ms() / 1000, key, sizeof(key)) != 0) {
		s3_client_free(s3);
		pick_done(&mp);
		return eo_err_set(err, EO_EINVAL, "the object key for this snapshot is over %zu "
				  "characters: shorten spec.destination.s3.prefix", sizeof(key) - 1);
	}
	snprintf(cluster, sizeof(cluster), "%s/%s", eb->namespace, eb->spec.cluster_name);
	struct progress p = {b, eb, st, 0};
	struct bk_run_opts o = {.etcd_endpoint = mp.url, .tls = mp.tls, .stall_ms = 60000,
				.progress = on_progress, .progress_ud = &p, .cluster = cluster};
	*reason = "SnapshotFailed";
	int rc = bk_snapshot_to_s3(&o, s3, key, snap, err);
	if (rc == 0)
		log_info("snapshot taken", "backup=%s/%s key=%s bytes=%lld revision=%lld member=%s",
			 eb->namespace, eb->name, key, (long long)snap->size, (long long)snap->revision,
			 mp.url);
	s3_client_free(s3);
	pick_done(&mp);
	return rc;
}

/* The PVC run: a receiver Pod on the claim, the snapshot streamed to it;
 * the Pod stays for retention and is deleted by the caller. */
static int run_pvc(struct bk *b, const struct etcd_backup *eb, struct eb_status *st,
		   struct eb_snapshot *snap, struct bkp_recv *recv, const char **reason,
		   struct eo_err *err)
{
	char key[512], cluster[320];
	struct member_pick mp;
	*reason = "ClusterNotReady";
	if (pick_member(b, eb, &mp, err) != 0)
		return -1;
	*reason = "InvalidSpec";
	if (backup_key(eb, eo_wall_ms() / 1000, key, sizeof(key)) != 0) {
		pick_done(&mp);
		return eo_err_set(err, EO_EINVAL, "the file name for this snapshot is over %zu characters: "
				  "shorten spec.destination.pvc.path", sizeof(key) - 1);
	}
	*reason = "ReceiverNotReady";
	if (bkp_recv_start(b->ctl, eb, recv, 90000, err) != 0) {
		pick_done(&mp);
		return -1;
	}
	snprintf(cluster, sizeof(cluster), "%s/%s", eb->namespace, eb->spec.cluster_name);
	struct progress p = {b, eb, st, 0};
	struct bk_run_opts o = {.etcd_endpoint = mp.url, .tls = mp.tls, .stall_ms = 60000,
				.progress = on_progress, .progress_ud = &p, .cluster = cluster};
	*reason = "SnapshotFailed";
	int rc = bk_snapshot_to_http(&o, recv->url, recv->token, key, snap, err);
	if (rc == 0)
		log_info("snapshot taken", "backup=%s/%s claim=%s key=%s bytes=%lld revision=%lld member=%s",
			 eb->namespace, eb->name, eb->spec.pvc.claim_name, key, (long long)snap->size,
			 (long long)snap->revision, mp.url);
	pick_done(&mp);
	return rc;
}

/* Retention: delete what fell off the list; a key that could not be
 * deleted goes back on (past keep) to be tried again next time. */
static void apply_retention(struct bk *b, const struct etcd_backup *eb, struct eb_status *st,
			    const struct eb_snapshot *drop, int ndrop, const struct bkp_recv *recv)
{
	if (ndrop == 0)
		return;
	struct eo_err err = {0};
	char q[300];
	struct s3_client *s3 = eb->spec.dest == EB_DEST_S3 ? bk_s3_client(b->ctl->kc, eb, &err) : NULL;
	for (int i = 0; i < ndrop; i++) {
		int rc = s3 ? s3_delete(s3, drop[i].key, &err)
		     : recv && recv->url[0] ? bk_http_delete(recv->url, recv->token, drop[i].key, &err)
					    : eo_err_set(&err, EO_EINVAL, "no receiver to delete it");
		if (rc == 0) {
			log_info("snapshot deleted by retention", "backup=%s/%s key=%s keep=%d",
				 eb->namespace, eb->name, drop[i].key, eb->spec.keep);
			continue;
		}
		log_warn("snapshot not deleted; kept listed to retry", "backup=%s/%s key=%s error=%s",
			 eb->namespace, eb->name, drop[i].key, log_q(q, sizeof(q), err.msg));
		if (st->nsnapshots < EB_MAX_KEEP)
			st->snapshots[st->nsnapshots++] = drop[i];
	}
	s3_client_free(s3);
}

static void finish_run(struct bk *b, json_object *obj, const struct etcd_backup *eb,
		       struct eb_status *st, int rc, const struct eb_snapshot *snap, const char *reason,
		       const struct eo_err *run_err, double seconds, struct bkp_recv *recv)
{
	char now[32], msg[256], q[300], key[320];
	eo_rfc3339_now(now);
	snprintf(key, sizeof(key), "%s/%s", eb->namespace, eb->name);
	st->bytes = st->total_bytes = 0;
	st->started_at[0] = '\0';
	if (rc == 0) {
		struct eb_snapshot drop[EB_MAX_KEEP];
		int ndrop = 0;
		backup_record(st, snap, eb->spec.keep, drop, &ndrop);
		apply_retention(b, eb, st, drop, ndrop, recv);
		st->phase = EB_SUCCEEDED;
		st->failures = 0;
		eo_strlcpy(st->last_success_time, now, sizeof(st->last_success_time));
		snprintf(msg, sizeof(msg), "snapshot %s: %lld bytes, revision %lld, in %.1fs", snap->key,
			 (long long)snap->size, (long long)snap->revision, seconds);
		backup_set_ready(st, true, "SnapshotTaken", msg, now);
		eo_strlcpy(st->message, msg, sizeof(st->message));
		event(b, obj, false, "SnapshotTaken", msg);
	} else {
		st->phase = EB_FAILED;
		st->failures++;
		snprintf(msg, sizeof(msg), "%s", run_err->msg);
		backup_set_ready(st, false, reason, msg, now);
		eo_strlcpy(st->message, msg, sizeof(st->message));
		event(b, obj, true, reason, msg);
		log_warn("snapshot failed", "backup=%s reason=%s error=%s", key, reason,
			 log_q(q, sizeof(q), msg));
	}
	note_run(b, key, rc == 0, seconds, rc == 0 ? snap->size : 0);
}

/* ---- the pass ----------------------------------------------------------- */

static bool split(const char *key, char ns[64], char name[254])
{
	const char *s = strchr(key, '/');
	if (!s || s == key || !s[1] || (size_t)(s - key) >= 64 || strlen(s + 1) >= 254)
		return false;
	memcpy(ns, key, (size_t)(s - key));
	ns[s - key] = '\0';
	strcpy(name, s + 1);
	return true;
}

/* The next run of a one-time backup that failed: soon, a few times. */
static int64_t oneshot_retry(const struct etcd_backup *eb, int64_t now)
{
	if (eb->spec.schedule[0] || eb->status.phase != EB_FAILED ||
	    eb->status.failures >= BK_ONESHOT_TRIES)
		return -1;
	int64_t last = now;
	if (eb->status.last_schedule_time[0])
		eo_rfc3339_parse(eb->status.last_schedule_time, &last);
	return last + (10LL << (eb->status.failures - 1));
}

int bk_reconcile(struct bk *b, const char *key, int64_t *requeue_ms, struct eo_err *err)
{
	char ns[64], name[254], q[300];
	*requeue_ms = 0;
	if (!split(key, ns, name))
		return eo_err_set(err, EO_EINVAL, "bad key \"%.100s\"", key);
	json_object *obj = NULL;
	if (kube_get(b->ctl->kc, &KUBE_ETCDBACKUPS, ns, name, &obj, err) != 0) {
		if (err->code == EO_HTTP_NOT_FOUND) {
			eo_err_clear(err);
			untrack(b, key);
			return 0;
		}
		return -1;
	}
	int rc = 0;
	struct etcd_backup eb;
	char now_s[32];
	eo_rfc3339_now(now_s);
	int64_t now = eo_wall_ms() / 1000, created = now;
	eo_rfc3339_parse(json_opt_str(obj, "metadata.creationTimestamp", ""), &created);
	if (backup_parse(obj, &eb, err) != 0) {
		/* the user's to fix: say so once in status, then wait for an edit */
		struct etcd_backup shell;
		memset(&shell, 0, sizeof(shell));
		eo_strlcpy(shell.namespace, ns, sizeof(shell.namespace));
		eo_strlcpy(shell.name, name, sizeof(shell.name));
		struct eb_status st = {.phase = EB_FAILED};
		backup_set_ready(&st, false, "InvalidSpec", err->msg, now_s);
		eo_strlcpy(st.message, err->msg, sizeof(st.message));
		log_warn("EtcdBackup not readable", "backup=%s error=%s", key, log_q(q, sizeof(q), err->msg));
		eo_err_clear(err);
		if (atomic_load(&b->ctl->leading) &&
		    strcmp(json_opt_str(obj, "status.message", ""), st.message) != 0)
			rc = write_status(b, &shell, &st, err);
		json_object_put(obj);
		return rc;
	}
	if (!atomic_load(&b->ctl->leading)) {
		json_object_put(obj);
		return 0;
	}
	struct eb_status st = eb.status;
	st.observed_generation = eb.generation;

	/* A run that was in flight when a controller stopped: it did not
	 * finish, so it is a failure; a one-time backup runs again. */
	if (st.phase == EB_RUNNING) {
		struct eo_err e = {0};
		eo_err_set(&e, EO_ECANCELED, "the run started at %s was interrupted (controller "
			   "restarted)", st.started_at[0] ? st.started_at : st.last_schedule_time);
		finish_run(b, obj, &eb, &st, -1, NULL, "Interrupted", &e, 0, NULL);
		if (!eb.spec.schedule[0])
			st.failures--; /* not the backup's fault: does not use up a try */
		if (write_status(b, &eb, &st, err) != 0) {
			json_object_put(obj);
			return -1;
		}
		eb.status = st;
	}

	int64_t next;
	if (backup_next_run(&eb, created, now, &next, err) != 0) {
		json_object_put(obj);
		return -1;
	}
	if (next < 0)
		next = oneshot_retry(&eb, now);
	if (next >= 0 && next <= now) {
		/* Run now: record the start first. */
		st.phase = EB_RUNNING;
		eo_strlcpy(st.last_schedule_time, now_s, sizeof(st.last_schedule_time));
		eo_strlcpy(st.started_at, now_s, sizeof(st.started_at));
		st.bytes = st.total_bytes = 0;
		snprintf(st.message, sizeof(st.message), "taking a snapshot of EtcdCluster %s", eb.spec.cluster_name);
		if (write_status(b, &eb, &st, err) != 0) {
			json_object_put(obj);
			return -1;
		}
		int64_t t0 = eo_now_ms();
		struct eb_snapshot snap;
		struct eo_err run_err = {0};
		const char *reason = "";
		struct bkp_recv recv = {0};
		int r = eb.spec.dest == EB_DEST_PVC ? run_pvc(b, &eb, &st, &snap, &recv, &reason, &run_err)
						    : run_s3(b, &eb, &st, &snap, &reason, &run_err);
		finish_run(b, obj, &eb, &st, r, &snap, reason, &run_err, (eo_now_ms() - t0) / 1000.0, &recv);
		if (eb.spec.dest == EB_DEST_PVC)
			bkp_recv_stop(b->ctl, &eb, &recv);
		rc = write_status(b, &eb, &st, err);
		eb.status = st;
	}
	now = eo_wall_ms() / 1000;
	if (backup_next_run(&eb, created, now, &next, err) != 0) {
		json_object_put(obj);
		return -1;
	}
	if (next < 0)
		next = oneshot_retry(&eb, now);
	note_stale(b, &eb, created, now);
	char next_s[32] = "";
	if (next >= 0 && eb.spec.schedule[0])
		rfc3339(next, next_s);
	if (rc == 0 && strcmp(next_s, eb.status.next_schedule_time) != 0) {
		eo_strlcpy(st.next_schedule_time, next_s, sizeof(st.next_schedule_time));
		st = eb.status;
		eo_strlcpy(st.next_schedule_time, next_s, sizeof(st.next_schedule_time));
		st.observed_generation = eb.generation;
		rc = write_status(b, &eb, &st, err);
	}
	if (next >= 0) {
		int64_t wait = (next - now) * 1000;
		*requeue_ms = wait < 1000 ? 1000 : wait;
	}
	/* come back when the backup would turn stale, to say so */
	int64_t age, period;
	if (eb.spec.schedule[0] && !backup_stale(&eb, created, now, &age, &period) && period > 0) {
		int64_t flip = (2 * period - age + 1) * 1000;
		if (flip > 0 && (*requeue_ms == 0 || flip < *requeue_ms))
			*requeue_ms = flip;
	}
	json_object_put(obj);
	return rc;
}
