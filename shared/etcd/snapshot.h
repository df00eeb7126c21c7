/*
 * snapshot.h — etcd's snapshot stream, and the check of what it carries.
 *
 * etcd's Maintenance.Snapshot through the v3 JSON gateway (checked against
 * etcd 3.5.36 and 3.6.16): POST /v3/maintenance/snapshot with {} answers
 * 200 and one JSON document per line, {"result":{"blob":"<base64>",
 * "remainingBytes":"N","version":"3.6.0"}}, zero fields omitted. The blobs
 * are the bbolt database (32 KiB a message), then one last message of 32
 * bytes: the SHA-256 of the database, which etcd appends so that
 * `etcdutl snapshot restore` can tell a whole snapshot from a cut one.
 * remainingBytes of the first message plus its blob is the database's size,
 * so the stream's whole length (database + 32) is known from the first
 * message — enough to give an upload its Content-Length. A failure midway
 * is a line {"error":{"grpc_code":…,"message":…}} or a cut connection.
 * The messages carry no header, so the revision is read separately just
 * before the stream opens (a lower bound: the snapshot holds at least
 * every write up to it).
 *
 * The file kept is the stream's bytes as they are (database + hash), the
 * format `etcdctl snapshot save` writes.
 */
#ifndef EO_SNAPSHOT_H
#define EO_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eo.h"
#include "etcd.h"

#define SNAP_HASH_LEN 32

/*
 * The check, fed the file's bytes in any pieces: the SHA-256 of the whole
 * file (recorded with the snapshot, checked before a restore) and etcd's
 * own — the last 32 bytes must be the SHA-256 of everything before them.
 * A cut or altered file fails at least one of the two.
 */
struct snap_check {
	void *all, *db;                   /* EVP_MD_CTX */
	unsigned char tail[SNAP_HASH_LEN]; /* the last bytes seen, not yet in db */
	size_t ntail;
	int64_t bytes;
};
int snap_check_init(struct snap_check *k, struct eo_err *err);
void snap_check_feed(struct snap_check *k, const void *data, size_t n);
/* sha256 (may be NULL): the whole file's, 64 hex digits. -1 when etcd's
 * hash does not match (or the file is shorter than it). Frees k's state. */
int snap_check_finish(struct snap_check *k, char sha256[65], struct eo_err *err);
void snap_check_free(struct snap_check *k);

/* Where the stream's bytes go, and when their total is known (called once,
 * before the first bytes). Either returns -1 with err set to stop. */
struct snap_sink {
	int (*size)(void *ud, int64_t total, struct eo_err *err);
	int (*data)(void *ud, const char *p, size_t n, struct eo_err *err);
	void *ud;
};

struct snap_result {
	int64_t revision;   /* the lower bound read before the stream */
	int64_t size;       /* bytes delivered: database + 32 */
	char sha256[65];    /* of those bytes */
	char version[32];   /* the storage version etcd names (3.6+), or "" */
};

/* Stream a snapshot from the member at endpoint into sink, checking it as
 * it passes. stall_ms: fail when no byte arrives for this long (0 → 60 s).
 * 0 only when every byte arrived and etcd's hash matched. */
int snap_stream(const char *endpoint, const struct etcd_tls *tls, long stall_ms,
		const struct snap_sink *sink, struct snap_result *res, struct eo_err *err);

/* The revision etcd's store is at (a Range's header.revision). */
int snap_revision(const char *endpoint, const struct etcd_tls *tls, long timeout_ms,
		  int64_t *revision, struct eo_err *err);

/* One decoded line of the stream (pure; for tests): the blob (malloc'd)
 * and remainingBytes; an {"error":…} line is -1 with etcd's message. */
int snap_parse_line(const char *line, size_t len, char **blob, size_t *blob_len,
		    int64_t *remaining, char *version, size_t vsize, struct eo_err *err);

#endif
