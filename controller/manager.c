/*
 * manager.c — informers and workers (manager.h).
 *
 * The one idea: an event only ever names a cluster. Whatever kind changed
 * (the EtcdCluster, or a StatefulSet, Pod, claim, Service or PDB it owns,
 * found by its labels), the key of its EtcdCluster goes on the queue, and
 * the reconciler looks at the whole world afresh; the queue keeps one copy
 * of a key however many events arrive, and no two workers hold the same key.
 */
#include "manager.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup_ctl.h"
#include "cluster.h"
#include "json.h"
#include "kube.h"
#include "log.h"
#include "reconcile.h"
#include "workqueue.h"

#define MGR_INFORMERS 7

struct informer {
	struct mgr *m;
	const struct kube_res *res;
	const char *selector;
	pthread_t thread;
	bool started;
	bool synced;
};

struct mgr {
	struct ctl *ctl;
	struct wq *q;
	const char *namespace; /* NULL: all */
	volatile sig_atomic_t *stop;
	pthread_mutex_t mu;
	int synced, informers;
	char **keys; /* EtcdClusters seen, for the clusters gauge */
	size_t nkeys;
	struct informer infs[MGR_INFORMERS];
	pthread_t workers[64];
	int nworkers;
};

static void track_cluster(struct mgr *a, const char *key, bool present)
{
	pthread_mutex_lock(&a->mu);
	size_t i;
	for (i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i], key) == 0)
			break;
	if (present && i == a->nkeys) {
		char **k = realloc(a->keys, (a->nkeys + 1) * sizeof(*k));
		if (!k)
			abort();
		a->keys = k;
		a->keys[a->nkeys++] = eo_strdup0(key);
	} else if (!present && i < a->nkeys) {
		free(a->keys[i]);
		a->keys[i] = a->keys[--a->nkeys];
	}
	metrics_set_clusters(a->ctl->metrics, a->nkeys);
	pthread_mutex_unlock(&a->mu);
}

/* The EtcdCluster an object belongs to: itself, or the owner its labels
 * (else a claim's name "data-<cluster>-<k>") name. */
static bool owner_key(const struct kube_res *res, json_object *obj, char *key, size_t size)
{
	const char *ns = json_opt_str(obj, "metadata.namespace", "");
	const char *name = json_opt_str(obj, "metadata.name", "");
	if (res == &KUBE_ETCDCLUSTERS) {
		snprintf(key, size, "%s/%s", ns, name);
		return *ns && *name;
	}
	const char *cl = json_opt_str(obj, "metadata.labels[" EC_LABEL_CLUSTER "]", "");
	if (*cl) {
		snprintf(key, size, "%s/%s", ns, cl);
		return true;
	}
	if (res == &KUBE_PVCS && strncmp(name, "data-", 5) == 0) {
		const char *dash = strrchr(name, '-');
		if (dash && dash > name + 5) {
			snprintf(key, size, "%s/%.*s", ns, (int)(dash - name - 5), name + 5);
			return true;
		}
	}
	return false;
}

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct informer *inf = ud;
	struct mgr *a = inf->m;
	if (ev == KUBE_EV_SYNCED) {
		pthread_mutex_lock(&a->mu);
		if (!inf->synced) {
			inf->synced = true;
			a->synced++;
		}
		pthread_mutex_unlock(&a->mu);
		return *a->stop != 0;
	}
	if (inf->res == &KUBE_ETCDBACKUPS) { /* their own queue (backup_ctl.c) */
		if (obj && a->ctl->backup)
			bk_enqueue(a->ctl->backup, obj);
		return *a->stop != 0;
	}
	char key[400];
	if (obj && owner_key(inf->res, obj, key, sizeof(key))) {
		if (inf->res == &KUBE_ETCDCLUSTERS)
			track_cluster(a, key, ev != KUBE_EV_DELETED);
		wq_add(a->q, key);
	}
	return *a->stop != 0;
}

static void *informer_main(void *arg)
{
	struct informer *inf = arg;
	struct eo_err err = {0};
	char q[300];
	if (kube_informer_run(inf->m->ctl->kc, inf->res, inf->m->namespace, inf->selector, on_event,
			      inf, inf->m->stop, &err) != 0 && !*inf->m->stop)
		log_error("watch ended", "resource=%s error=%s", inf->res->plural,
			  log_q(q, sizeof(q), err.msg));
	return NULL;
}

static void *worker_main(void *arg)
{
	struct mgr *a = arg;
	char q[300];
	char *key;
	while ((key = wq_get(a->q))) {
		int64_t requeue = 0;
		struct eo_err err = {0};
		if (rec_reconcile(a->ctl, key, &requeue, &err) != 0) {
			int64_t d = 200;
			if (err.code == EO_HTTP_CONFLICT)
				wq_add_after(a->q, key, d);
			else
				d = wq_add_rate_limited(a->q, key);
			log_warn("reconcile failed", "cluster=%s retry_in_ms=%lld error=%s", key, (long long)d,
				 log_q(q, sizeof(q), err.msg));
		} else {
			wq_forget(a->q, key);
			if (requeue > 0)
				wq_add_after(a->q, key, requeue);
		}
		wq_done(a->q, key);
		free(key);
		metrics_set_queue_depth(a->ctl->metrics, wq_len(a->q));
	}
	return NULL;
}

bool mgr_ready(void *ud, char *why, size_t size)
{
	struct mgr *a = ud;
	pthread_mutex_lock(&a->mu);
	bool ok = a->informers == 0 || a->synced == a->informers;
	int synced = a->synced, n = a->informers;
	pthread_mutex_unlock(&a->mu);
	if (!ok)
		snprintf(why, size, "%d of %d watches have synced", synced, n);
	return ok;
}

struct mgr *mgr_new(struct ctl *ctl, const char *namespace, volatile sig_atomic_t *stop)
{
	struct mgr *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->ctl = ctl;
	m->namespace = namespace;
	m->stop = stop;
	pthread_mutex_init(&m->mu, NULL);
	m->q = wq_new(500, 10000);
	/* EtcdBackups: a worker and queue of their own (snapshots are long),
	 * the BackupStale condition for the cluster passes, their metrics */
	ctl->backup = bk_new(ctl, m->q);
	metrics_set_extra(ctl->metrics, bk_metrics_render, ctl->backup);
	return m;
}

void mgr_start(struct mgr *m, int workers)
{
	static const char managed[] = "app.kubernetes.io/managed-by=etcd-k8s-operator";
	const struct {
		const struct kube_res *res;
		const char *selector;
	} watched[MGR_INFORMERS] = {
		{&KUBE_ETCDCLUSTERS, NULL},
		{&KUBE_STATEFULSETS, managed},
		{&KUBE_PODS, managed},
		{&KUBE_PVCS, managed}, /* the claim template carries the labels */
		{&KUBE_SERVICES, managed},
		{&KUBE_PDBS, managed},
		{&KUBE_ETCDBACKUPS, NULL},
	};
	pthread_mutex_lock(&m->mu);
	m->informers = MGR_INFORMERS;
	pthread_mutex_unlock(&m->mu);
	for (size_t i = 0; i < MGR_INFORMERS; i++) {
		m->infs[i] = (struct informer){.m = m, .res = watched[i].res,
					       .selector = watched[i].selector};
		m->infs[i].started = pthread_create(&m->infs[i].thread, NULL, informer_main,
						    &m->infs[i]) == 0;
	}
	if (workers > (int)EO_ARRAY_LEN(m->workers))
		workers = (int)EO_ARRAY_LEN(m->workers);
	for (m->nworkers = 0; m->nworkers < workers; m->nworkers++)
		if (pthread_create(&m->workers[m->nworkers], NULL, worker_main, m) != 0)
			break;
	if (m->ctl->backup && bk_start(m->ctl->backup) != 0)
		log_error("no backup worker: EtcdBackups are not served", "identity=%s",
			  m->ctl->identity);
}

bool mgr_stop(struct mgr *m)
{
	wq_shutdown(m->q);
	for (int i = 0; i < m->nworkers; i++)
		pthread_join(m->workers[i], NULL);
	m->nworkers = 0;
	bk_stop(m->ctl->backup); /* a snapshot in flight finishes first */
	*m->stop = 1;
	bool all_joined = true;
	for (size_t i = 0; i < MGR_INFORMERS; i++) {
		if (!m->infs[i].started)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 3;
		if (pthread_timedjoin_np(m->infs[i].thread, NULL, &ts) != 0) {
			pthread_detach(m->infs[i].thread); /* a watch stuck in a read: the exit ends it */
			all_joined = false;
		}
		m->infs[i].started = false;
	}
	return all_joined;
}

void mgr_free(struct mgr *m)
{
	if (!m)
		return;
	wq_free(m->q);
	bk_free(m->ctl->backup);
	m->ctl->backup = NULL;
	for (size_t i = 0; i < m->nkeys; i++)
		free(m->keys[i]);
	free(m->keys);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
