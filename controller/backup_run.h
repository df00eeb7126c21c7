/*
 * backup_run.h — one snapshot, from an etcd member to a destination,
 * streamed: etcd's snapshot stream (shared/etcd/snapshot.c) on one thread feeds
 * a bounded pipe (backup_pipe.h) that the upload (shared/s3/s3.c) or a file
 * drains on the other. Memory is the pipe's capacity plus one message.
 *
 * A snapshot counts only when all of it arrived, etcd's own hash matched,
 * and the object is complete where it was written; otherwise what was
 * written is removed (an aborted multipart upload leaves nothing; a single
 * PUT that completed before the check failed is deleted), and the error
 * says which side failed.
 */
#ifndef EO_CONTROLLER_BACKUP_RUN_H
#define EO_CONTROLLER_BACKUP_RUN_H

#include <stdint.h>

#include "backup.h"
#include "eo.h"
#include "etcd.h"
#include "s3.h"

#define BK_PIPE_BYTES (1u << 20)

struct bk_run_opts {
	const char *etcd_endpoint;
	const struct etcd_tls *tls;   /* NULL: plain */
	long stall_ms;                /* either side idle this long fails (0 → 60 s) */
	/* called with bytes moved and the total, at most every 500 ms and at
	 * the end; may be NULL */
	void (*progress)(void *ud, int64_t bytes, int64_t total);
	void *progress_ud;
	const char *cluster;          /* for the object's metadata: "ns/name" */
};

/* Stream a snapshot into key; out gets key, revision, size, sha256, takenAt. */
int bk_snapshot_to_s3(const struct bk_run_opts *o, struct s3_client *s3, const char *key,
		      struct eb_snapshot *out, struct eo_err *err);
/* The same into a file: written as path.partial, renamed when good. */
int bk_snapshot_to_file(const struct bk_run_opts *o, const char *path, struct eb_snapshot *out,
			struct eo_err *err);

/* The same to a receiver Pod (a PVC destination, backup_recv.c): PUT
 * url/key with the bearer token; the receiver's answer (size, SHA-256 of
 * what it stored) must match what was sent. */
int bk_snapshot_to_http(const struct bk_run_opts *o, const char *url, const char *token,
			const char *key, struct eb_snapshot *out, struct eo_err *err);
int bk_http_delete(const char *url, const char *token, const char *key, struct eo_err *err);

/* Download key into a file at path, checking the whole file's SHA-256
 * against want (64 hex digits; "" → the object's x-amz-meta-sha256, and
 * none there is an error) and etcd's own hash at its end. A file that fails
 * is removed. err->code BK_EBAD_SNAPSHOT when the data itself is bad (hash
 * mismatch, missing object): trying again will not help. */
#define BK_EBAD_SNAPSHOT 4100
int bk_fetch_s3(struct s3_client *s3, const char *key, const char *want_sha256, const char *path,
		struct eo_err *err);
/* The same from a file (a PVC destination). */
int bk_fetch_file(const char *src, const char *want_sha256, const char *path, struct eo_err *err);

#endif
