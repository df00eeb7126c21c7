/*
 * backup_pod.h — the Pods the backup controller makes where this process
 * cannot do the work itself: the restore Pod that puts a snapshot on a new
 * cluster's first volume before any member starts, and (PVC destinations)
 * the Pod that writes a snapshot onto a claim.
 *
 * Both run this project's image for the part that needs the network and a
 * check (`etcd-controller snapshot-fetch` / `snapshot-save`), and the
 * restore runs etcd's own image for `etcdutl snapshot restore` — the tool
 * that must match the data it writes.
 */
#ifndef EO_CONTROLLER_BACKUP_POD_H
#define EO_CONTROLLER_BACKUP_POD_H

#include <json-c/json.h>

#include "backup.h"
#include "cluster.h"
#include "ctl.h"

/* ---- restore (spec.bootstrap.restore) ---------------------------------- */

#define RS_POD_SUFFIX "-restore"
#define RS_APP_NAME "etcd-restore"
#define RS_SNAPSHOT_FILE "/snapshot/snapshot.db"
#define RS_EXIT_BAD_SNAPSHOT 3

/* Where the snapshot comes from, resolved from the EtcdBackup. */
struct rs_source {
	char backup[254];
	enum eb_dest dest;
	struct eb_s3 s3;
	struct eb_pvc pvc;
	char key[512];
	char sha256[65]; /* "" → the object's metadata */
};

/* Resolve spec.bootstrap.restore {backupName, key} against the EtcdBackup
 * object: key absent → its lastSnapshot. -1 with a message naming what is
 * missing. */
int rs_resolve(json_object *backup, const char *key, struct rs_source *out, struct eo_err *err);

/* The member-0 peer URL and the fresh initial-cluster-token of a restored
 * cluster (the new EtcdCluster's uid in it: a new cluster id even when the
 * snapshot came from a cluster of the same name). */
void rs_peer_url(const struct etcd_cluster *ec, char *out, size_t size);
void rs_token(const struct etcd_cluster *ec, char *out, size_t size);

/* The restore Pod (pure; new reference) and the claim of member 0 it fills
 * (the StatefulSet's claim template, by name, so the StatefulSet adopts it). */
json_object *rs_pod(const struct etcd_cluster *ec, const struct rs_source *src,
		    const struct res_opts *opts);
json_object *rs_claim(const struct etcd_cluster *ec, const struct res_opts *opts);

/*
 * The gate in front of a cluster's first StatefulSet: while a cluster with
 * spec.bootstrap.restore has no StatefulSet and no recorded cluster id, the
 * restore Pod runs first. 0: go on with the pass (no restore, or done);
 * 1: hold the pass (*requeue_ms says when to look again); -1: err.
 * A missing or bad snapshot marks the cluster Failed with the reason, and
 * nothing starts.
 */
int rs_gate(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec, int64_t *requeue_ms,
	    struct eo_err *err);

/* ---- PVC destinations --------------------------------------------------- */

/*
 * The controller cannot mount a claim, so for each run it starts a Pod that
 * does (`etcd-controller snapshot-receive`, backup_recv.c), sends it the
 * snapshot it streams from etcd (backup_run.c: bk_snapshot_to_http), asks it
 * to delete what retention drops, and deletes it. The Pod is owned by the
 * EtcdBackup and labelled with its uid; a token made for the run, in the
 * Pod's environment, is required on every request.
 */
#define BKP_APP_NAME "etcd-backup-receiver"
#define BKP_LABEL_OF "etcd.k8s-operator.io/receiver-of"
#define BKP_PORT 8080

struct bkp_recv {
	char pod[300];
	char url[64];   /* http://<pod IP>:8080 */
	char token[33];
};
/* The receiver Pod (pure; new reference). */
json_object *bkp_recv_pod(const struct etcd_backup *eb, const char *name, const char *token,
			  const struct res_opts *opts);
/* Make it and wait until it is ready (up to timeout_ms). */
int bkp_recv_start(struct ctl *c, const struct etcd_backup *eb, struct bkp_recv *r, long timeout_ms,
		   struct eo_err *err);
void bkp_recv_stop(struct ctl *c, const struct etcd_backup *eb, struct bkp_recv *r);

#endif
