/*
 * backup_ctl.h — the EtcdBackup controller inside etcd-controller: its own
 * work queue and worker (snapshots are long; they never hold a cluster's
 * worker), fed by the EtcdBackup informer of main.c.
 *
 * A pass over one EtcdBackup: read it, decide whether a run is due
 * (backup_next_run), and if so take one snapshot from a healthy voter of
 * its cluster to its destination (backup_run.h), record it in status, and
 * apply retention; otherwise come back when the next run is due. One
 * worker: backups run one at a time, which also bounds the load they put
 * on etcd.
 *
 * It also tells the cluster reconcile whether a cluster's scheduled backups
 * have gone stale (the BackupStale condition), from what the passes saw.
 */
#ifndef EO_CONTROLLER_BACKUP_CTL_H
#define EO_CONTROLLER_BACKUP_CTL_H

#include <json-c/json.h>

#include "cluster.h"
#include "ctl.h"
#include "workqueue.h"

#define BK_CONDITION "BackupStale"

struct bk;

/* cluster_q (may be NULL): where cluster keys go when a cluster's backups
 * turn stale or fresh. Free with bk_free after bk_stop. */
struct bk *bk_new(struct ctl *ctl, struct wq *cluster_q);
void bk_free(struct bk *b);
/* An informer event for an EtcdBackup object. */
void bk_enqueue(struct bk *b, json_object *obj);
int bk_start(struct bk *b);
/* Stop taking keys; a snapshot in flight finishes first. */
void bk_stop(struct bk *b);

/* One pass over "ns/name" (the worker calls it; tests may too). */
int bk_reconcile(struct bk *b, const char *key, int64_t *requeue_ms, struct eo_err *err);

/* Set or clear BK_CONDITION in st for the cluster ns/name. */
void bk_cluster_condition(struct bk *b, const char *ns, const char *name, struct ec_status *st,
			  const char *now);

/* The backup metrics, appended in Prometheus text (metrics.h's extra hook). */
int bk_metrics_render(struct eo_buf *out, void *ud);

#endif
