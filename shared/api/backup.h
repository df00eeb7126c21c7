/*
 * backup.h — the EtcdBackup model (DESIGN §3.1): the fixed API names, a
 * parsed view of spec and status, the status object the controller writes,
 * and the pure decisions about it: object keys, retention, the schedule's
 * next run and whether backups have gone stale. No I/O.
 *
 * Fixed-size fields as in cluster.h: a struct etcd_backup can be copied and
 * kept on the stack.
 */
#ifndef EO_BACKUP_H
#define EO_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cron.h"
#include "eo.h"

#define EB_KIND "EtcdBackup"
#define EB_PLURAL "etcdbackups"
#define EB_DEFAULT_KEEP 7
#define EB_MAX_KEEP 64
/* Secret keys of spec.destination.s3.credentialsSecret (fixed). */
#define EB_SECRET_ACCESS_KEY "accessKeyID"
#define EB_SECRET_SECRET_KEY "secretAccessKey"
/* The label that ties an EtcdBackup's helper objects (PVC Jobs) to it. */
#define EB_LABEL_BACKUP "etcd.k8s-operator.io/backup"

enum eb_phase { EB_PHASE_UNSET, EB_PENDING, EB_RUNNING, EB_SUCCEEDED, EB_FAILED };
const char *eb_phase_name(enum eb_phase p); /* "" for UNSET */
enum eb_phase eb_phase_parse(const char *s);

enum eb_dest { EB_DEST_NONE, EB_DEST_S3, EB_DEST_PVC };

struct eb_s3 {
	char endpoint[256];
	char bucket[64];
	char prefix[256];
	char region[64];
	char credentials_secret[254];
	bool force_path_style;
};

struct eb_pvc {
	char claim_name[254];
	char path[256];
};

struct eb_snapshot {
	char key[512];
	int64_t revision;
	int64_t size;
	char sha256[65];
	char taken_at[32];
};

struct eb_spec {
	char cluster_name[254];
	char schedule[128]; /* "" → one snapshot now */
	int keep;
	enum eb_dest dest;
	struct eb_s3 s3;
	struct eb_pvc pvc;
};

struct eb_condition {
	char type[32];
	char status[8];
	char reason[64];
	char message[256];
	char last_transition[32];
};

struct eb_status {
	enum eb_phase phase;
	int64_t observed_generation;
	bool has_last;
	struct eb_snapshot last;            /* lastSnapshot: the newest good one */
	struct eb_snapshot snapshots[EB_MAX_KEEP]; /* newest first */
	int nsnapshots;
	char last_schedule_time[32];        /* when the last run (good or not) started */
	char last_success_time[32];
	char next_schedule_time[32];
	int64_t failures;                   /* runs failed since the last success */
	/* the run in flight (Running) */
	char started_at[32];
	int64_t bytes, total_bytes;
	char message[256];
	struct eb_condition ready;          /* conditions[0]: Ready */
};

struct etcd_backup {
	char name[254];
	char namespace[64];
	char uid[64];
	int64_t generation;
	struct eb_spec spec;
	struct eb_status status;
};

/* Parse an EtcdBackup. Spec errors name their path ("spec.retention.keep:
 * 0 is out of range (1 to 64)"); status is read leniently. */
int backup_parse(json_object *obj, struct etcd_backup *out, struct eo_err *err);
/* The status object (new reference). */
json_object *backup_status_json(const struct eb_status *st);
json_object *backup_snapshot_json(const struct eb_snapshot *s);
/* Set the Ready condition; last_transition moves only when status does. */
void backup_set_ready(struct eb_status *st, bool ok, const char *reason, const char *message,
		      const char *now);

/* The object key of a snapshot taken at epoch second t:
 *   "<prefix>/<namespace>/<cluster>/<backup>-20261207T174500Z.db"
 * (prefix: s3.prefix, or pvc.path — the file's path on the claim; none when
 * empty). -1 when too long. */
int backup_key(const struct etcd_backup *b, int64_t t, char *out, size_t size);

/* Record a good snapshot: newest first, lastSnapshot set. Then retention:
 * *ndrop keys (copied to drop) fall beyond keep and are to be deleted;
 * the newest is never among them whatever keep says. */
void backup_record(struct eb_status *st, const struct eb_snapshot *s, int keep,
		   struct eb_snapshot *drop, int *ndrop);

/* When the next run is due, epoch seconds: for a one-time backup, now if it
 * never ran (phase unset or Pending), else -1 (done); for a schedule, the
 * first time after the last run's start (or, never run, after the object's
 * creation: `created`), -1 when the schedule never fires. err on a bad
 * schedule. */
int backup_next_run(const struct etcd_backup *b, int64_t created, int64_t now, int64_t *next,
		    struct eo_err *err);

/* A scheduled backup is stale when its last success (or, never, its
 * creation) is older than twice the schedule's period. */
bool backup_stale(const struct etcd_backup *b, int64_t created, int64_t now, int64_t *age_s,
		  int64_t *period_s);

#endif
