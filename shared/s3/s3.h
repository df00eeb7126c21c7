/*
 * s3.h — an S3 client on libcurl for snapshots: streamed PUT (one request,
 * or a multipart upload whose parts are streamed too), GET streamed to a
 * callback, HEAD, DELETE, ListObjectsV2, and a metadata rewrite by copy.
 *
 * Requests are signed by libcurl (CURLOPT_AWS_SIGV4, "aws:amz:<region>:s3")
 * with the access key as user name and the secret as password; payloads are
 * sent as UNSIGNED-PAYLOAD (S3's rule for streamed bodies) except the small
 * ones this client builds itself, whose SHA-256 it signs. The credentials
 * live in struct s3_client only: no message, log line or error here ever
 * holds them, and libcurl's verbose mode is never turned on.
 *
 * Path-style URLs (endpoint/bucket/key) for S3-compatible servers
 * (SeaweedFS, Ceph, …: force_path_style), else virtual-host style
 * (bucket.endpoint/key) as AWS prefers.
 *
 * Memory is flat whatever the object's size: bodies go from the caller's
 * read callback straight into the socket, and come back through its write
 * callback. An object is written by one PUT up to part_size, above it by a
 * multipart upload; a failed multipart upload is aborted, so no part of it
 * is ever visible as an object (a single PUT is atomic by itself).
 */
#ifndef EO_S3_H
#define EO_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eo.h"

struct s3_conf {
	const char *endpoint;   /* "http://127.0.0.1:8333" or "https://s3.eu-west-1.amazonaws.com";
				   no scheme → https:// */
	const char *bucket;
	const char *region;     /* NULL or "" → "us-east-1" */
	bool path_style;
	const char *access_key; /* copied; never logged */
	const char *secret_key; /* copied; never logged */
	const char *ca_file;    /* NULL: the system's CAs */
	long connect_timeout_ms; /* 0 → 10000 */
	long stall_timeout_ms;  /* a transfer that moves no byte this long fails; 0 → 60000 */
	int64_t part_size;      /* multipart above this and in parts of it; 0 → 16 MiB
				   (never below 5 MiB, S3's smallest part, except in tests) */
};

struct s3_client;

/* Copies what it needs from conf. NULL with err set when the endpoint or
 * bucket is unusable. Free with s3_client_free (accepts NULL). */
struct s3_client *s3_client_new(const struct s3_conf *conf, struct eo_err *err);
void s3_client_free(struct s3_client *c);

/* User metadata: sent as x-amz-meta-<name>; names are lowercase tokens. */
struct s3_meta {
	const char *name;
	const char *value;
};

/* The body source of a PUT: fill at most n bytes; return how many, 0 at the
 * end, -1 with err set to fail the upload. */
typedef ssize_t (*s3_read_fn)(void *ud, char *buf, size_t n, struct eo_err *err);
/* The sink of a GET: 0 to go on, -1 with err set to stop. */
typedef int (*s3_write_fn)(void *ud, const char *data, size_t n, struct eo_err *err);

struct s3_put_info {
	int parts;              /* 0: a single PUT */
	int64_t bytes;
	char etag[80];
};

/* Write key with exactly size bytes from rd. The upload fails (and a
 * multipart upload is aborted) when rd fails or ends early. */
int s3_put(struct s3_client *c, const char *key, int64_t size, s3_read_fn rd, void *ud,
	   const struct s3_meta *meta, size_t nmeta, struct s3_put_info *info, struct eo_err *err);

struct s3_object {
	char key[1024];
	int64_t size;
	char etag[80];
	char last_modified[40];
	/* HEAD/GET only: these user metadata values, "" when absent */
	char meta_sha256[72];
	char meta_revision[24];
};

/* Stream key's body into wr; info (may be NULL) gets the headers. A 404 is
 * err->code 404 ("no such key"). */
int s3_get(struct s3_client *c, const char *key, s3_write_fn wr, void *ud, struct s3_object *info,
	   struct eo_err *err);
int s3_head(struct s3_client *c, const char *key, struct s3_object *info, struct eo_err *err);
/* Deleting a key that is not there succeeds (S3's own rule). */
int s3_delete(struct s3_client *c, const char *key, struct eo_err *err);
/* Every key under prefix, in key order; fn returns non-zero to stop. */
int s3_list(struct s3_client *c, const char *prefix,
	    int (*fn)(const struct s3_object *o, void *ud), void *ud, struct eo_err *err);
/* Create the bucket (tests and first setups; 409 "already owned by you"
 * counts as done). */
int s3_make_bucket(struct s3_client *c, struct eo_err *err);
/* Replace key's user metadata by copying it onto itself (server-side; up to
 * 5 GiB, S3's limit for one copy). */
int s3_set_meta(struct s3_client *c, const char *key, const struct s3_meta *meta, size_t nmeta,
		struct eo_err *err);

/*
 * Pure helpers (no I/O), public for unit tests.
 */
/* The request URL: path-style or virtual-host, the key percent-encoded per
 * segment as SigV4 wants it, the query (already canonical: sorted,
 * encoded, "name=" for a bare name) appended. malloc'd; NULL when the
 * endpoint is not a URL. */
char *s3_url(const char *endpoint, const char *bucket, bool path_style, const char *key,
	     const char *query);
/* Percent-encode all but RFC 3986 unreserved characters (and '/' when
 * keep_slash). malloc'd. */
char *s3_uri_encode(const char *s, bool keep_slash);
/* The text of the first <tag>…</tag> at or after *pos in xml (entities
 * decoded, cut to size); *pos moves past it. -1 when there is none. */
int s3_xml_next(const char *xml, const char *tag, const char **pos, char *out, size_t size);
/* An S3 error body (<Error><Code>…<Message>…) as "Code: Message"; or the
 * HTTP status alone. */
void s3_error_text(long status, const char *body, char *out, size_t size);
/* The CompleteMultipartUpload body for parts 1..n. malloc'd. */
char *s3_complete_body(const char (*etags)[80], int n);
/* The part size for an object of size bytes: at least want, and large
 * enough that it needs at most 10000 parts (S3's limit). */
int64_t s3_part_size(int64_t size, int64_t want);

#endif
