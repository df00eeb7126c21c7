/*
 * kube.h — a Kubernetes REST client on libcurl: CRUD, patches, the status and
 * scale subresources, and watch streams parsed line by line.
 *
 * Every request has a deadline (opts.timeout_ms, retries included). Retried
 * with exponential back-off and jitter, always within that deadline: 429
 * (Retry-After honoured), 502, 503, 504 and connection errors; a 500 only
 * when the server says a retry helps (Retry-After, or a Status with
 * details.retryAfterSeconds) — admission webhook failures come as 500 and a
 * retry will not fix them. POST is not idempotent: it is retried only when
 * the connection never opened, or on 429 (the server did not process it).
 * A 401 drops cached credentials (kube_conn_invalidate) and retries once.
 *
 * TLS: 1.2 or newer; the connection's CA only (not the system store) when it
 * has one; a client certificate from the kubeconfig or the exec plugin.
 * tls-server-name: libcurl has no SNI override, so the request URL names
 * that host (SNI and certificate check use it) and CURLOPT_CONNECT_TO sends
 * the connection to the server's real address; the Host header stays the
 * real one. The cluster's proxy-url is used when set; otherwise libcurl's
 * proxy variables apply, except for a server on this machine.
 * Errors come back in err: err->code is the HTTP status (404, 409, 422 …) or
 * an EO_E* transport code, err->msg the API server's Status message ("admission
 * webhook \"validate.etcd.k8s-operator.io\" denied the request: …").
 * Warning headers (admission warnings) go to the client's on_warning callback.
 *
 * The client is thread-safe: each call uses its own curl handle from a small
 * pool, so watches in their own threads and a worker can share one client.
 */
#ifndef EO_KUBE_H
#define EO_KUBE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "eo.h"
#include "kubeconfig.h"

/* A resource type: "" group is core. */
struct kube_res {
	const char *group;
	const char *version;
	const char *plural;
	const char *kind;
	bool namespaced;
};

extern const struct kube_res KUBE_ETCDCLUSTERS;
extern const struct kube_res KUBE_ETCDBACKUPS;
extern const struct kube_res KUBE_STATEFULSETS;
extern const struct kube_res KUBE_PODS;
extern const struct kube_res KUBE_SERVICES;
extern const struct kube_res KUBE_PVCS;
extern const struct kube_res KUBE_EVENTS;
extern const struct kube_res KUBE_LEASES;
extern const struct kube_res KUBE_PDBS;
extern const struct kube_res KUBE_SECRETS;
extern const struct kube_res KUBE_CONFIGMAPS;
extern const struct kube_res KUBE_NAMESPACES;

struct kube_client;

struct kube_client_opts {
	long timeout_ms;         /* whole-request deadline incl. retries; 0 → 30000 */
	int max_retries;         /* 0 → 4 */
	const char *user_agent;  /* e.g. "kubectl-etcd/0.1.0 (linux/amd64)" */
	void (*on_warning)(const char *text, void *ud); /* admission warnings */
	void *warning_ud;
};

/* Takes ownership of conn (also on failure). Free with kube_client_free. */
struct kube_client *kube_client_new(struct kube_conn *conn, const struct kube_client_opts *opts,
				    struct eo_err *err);
void kube_client_free(struct kube_client *kc);
/* The resolved default namespace of the connection. */
const char *kube_client_namespace(const struct kube_client *kc);

/* "/apis/apps/v1/namespaces/ns/statefulsets/name/scale"; ns NULL or "" for
 * all namespaces / cluster-scoped; name and sub may be NULL. malloc'd. */
char *kube_path(const struct kube_res *res, const char *ns, const char *name, const char *sub);

/* A raw request: method, absolute path (with query), optional body and its
 * content type. *out (may be NULL) receives the parsed JSON response. */
int kube_request(struct kube_client *kc, const char *method, const char *path,
		 const char *content_type, const char *body, json_object **out,
		 struct eo_err *err);
/* The same, for answers that need not be JSON or that mean something even
 * when not 2xx (a proxied etcd's 503 {"health":"false"}): 0 when an HTTP
 * answer came back, whatever its status (*status, the body appended to
 * resp); -1 when none did (transport, timeout). Retries as any request. */
int kube_request_raw(struct kube_client *kc, const char *method, const char *path,
		     const char *content_type, const char *body, long *status,
		     struct eo_buf *resp, struct eo_err *err);

/* For get/create/update/patch/delete of a namespaced resource, ns NULL or ""
 * means the client's namespace (create: the object's metadata.namespace
 * first). out, where given, receives the server's answer (json_object_put). */
int kube_get(struct kube_client *kc, const struct kube_res *res, const char *ns,
	     const char *name, json_object **out, struct eo_err *err);
/* ns NULL: all namespaces. label_selector may be NULL. */
int kube_list(struct kube_client *kc, const struct kube_res *res, const char *ns,
	      const char *label_selector, json_object **out, struct eo_err *err);
int kube_create(struct kube_client *kc, const struct kube_res *res, const char *ns,
		json_object *obj, json_object **out, struct eo_err *err);
/* PUT; obj must carry metadata.resourceVersion; a stale one gives code 409.
 * sub: NULL, "status" or "scale". */
int kube_update(struct kube_client *kc, const struct kube_res *res, const char *ns,
		const char *name, const char *sub, json_object *obj, json_object **out,
		struct eo_err *err);

enum kube_patch_type { KUBE_PATCH_MERGE, KUBE_PATCH_JSON };
int kube_patch(struct kube_client *kc, const struct kube_res *res, const char *ns,
	       const char *name, const char *sub, enum kube_patch_type type,
	       const char *patch, json_object **out, struct eo_err *err);
/* propagation: NULL (server default), "Background", "Foreground" or "Orphan",
 * sent as a DeleteOptions body. */
int kube_delete(struct kube_client *kc, const struct kube_res *res, const char *ns,
		const char *name, const char *propagation, struct eo_err *err);

/* Watch. */
enum kube_event {
	KUBE_EV_ADDED,
	KUBE_EV_MODIFIED,
	KUBE_EV_DELETED,
	KUBE_EV_SYNCED, /* informer only: the initial list has been delivered (obj NULL) */
};
/* obj is borrowed for the call. Return non-zero to stop the watch. */
typedef int (*kube_watch_fn)(enum kube_event ev, json_object *obj, void *ud);

struct kube_watch_opts {
	const char *label_selector;
	const char *resource_version;       /* start from here; NULL: server's choice */
	long timeout_seconds;               /* server-side watch length; 0 → 300 */
	volatile sig_atomic_t *stop;        /* checked while streaming; may be NULL */
	char *last_rv;                      /* out, optional: last resourceVersion seen (64 bytes) */
};
/* One watch request, streamed and parsed line by line. Returns 0 when the
 * server closes the stream, -1 with code 410 when the resourceVersion is too
 * old ("Gone"), EO_ECANCELED when *stop was set or the callback asked to. */
int kube_watch(struct kube_client *kc, const struct kube_res *res, const char *ns,
	       struct kube_watch_opts *opts, kube_watch_fn fn, void *ud, struct eo_err *err);

/* List-then-watch until *stop: lists (delivering ADDED for each item, then
 * SYNCED), watches from the list's resourceVersion, resumes from the last
 * one seen when the server closes, relists on 410, backs off on errors
 * (0.5 s doubling to 30 s, logged as warnings). Objects deleted while a
 * relist was needed are reported as DELETED. A relist reports only what
 * changed against what was already delivered (ADDED, MODIFIED for a new
 * resourceVersion, DELETED), then SYNCED again. List items get apiVersion
 * and kind filled in. Returns 0 when *stop is set, -1 with EO_ECANCELED when
 * fn returned non-zero. */
int kube_informer_run(struct kube_client *kc, const struct kube_res *res, const char *ns,
		      const char *label_selector, kube_watch_fn fn, void *ud,
		      volatile sig_atomic_t *stop, struct eo_err *err);

/* Turn a Status object (or any error body) into a message a person can act on. */
void kube_status_message(json_object *status, long http_code, char *out, size_t size);

/*
 * Request building and response parsing: pure functions, no I/O. The client
 * above is built on them; they are public so unit tests (and callers that
 * build their own requests for kube_request) can use them.
 */

/* Percent-encode everything but RFC 3986 unreserved characters (for query
 * values such as label selectors, and path segments). malloc'd. */
char *kube_escape(const char *s);
/* kube_path(res, ns, NULL, NULL) plus "?labelSelector=…" when the selector
 * is non-empty. malloc'd. */
char *kube_list_path(const struct kube_res *res, const char *ns, const char *label_selector);
/* The watch request: "…?watch=1&allowWatchBookmarks=true&timeoutSeconds=N"
 * plus resourceVersion and labelSelector when set. malloc'd. */
char *kube_watch_path(const struct kube_res *res, const char *ns,
		      const struct kube_watch_opts *opts);

/* Any error body: a Status goes through kube_status_message; other JSON or
 * text is summarised ("HTTP 502 Bad Gateway: <first ~200 printable bytes>"). */
void kube_error_message(long http_code, const char *body, size_t len, char *out, size_t size);

/* Parse one Warning header value (RFC 7234: `299 - "text"`, optionally a
 * date, several separated by commas). Calls fn with each code-299 text,
 * unquoted, and returns how many. Parsing stops at the first malformed
 * warning; those before it are still delivered. */
int kube_warning_parse(const char *value, void (*fn)(const char *text, void *ud), void *ud);

/* Retry-After: delta-seconds or an HTTP-date; milliseconds to wait from
 * now_s (epoch seconds), or -1 when unreadable. */
long kube_retry_after_ms(const char *value, int64_t now_s);

/*
 * Watch stream framing: the body is one JSON document per '\n'-terminated
 * line. Bytes arrive in arbitrary chunks; each line is fed to a json-c
 * tokener as it arrives (no re-scan, no copy of large lines), and fn gets
 * each complete document (borrowed for the call). Blank lines are skipped.
 * A line longer than max_line, or one that is not exactly one JSON value, is
 * an EO_EPARSE error. fn returning non-zero stops the feed: kube_lines_feed
 * then returns 1.
 */
struct kube_lines;
typedef int (*kube_doc_fn)(json_object *doc, void *ud);
/* max_line 0 → 16 MiB. Free with kube_lines_free. */
struct kube_lines *kube_lines_new(size_t max_line);
void kube_lines_free(struct kube_lines *l);
/* 0: all bytes consumed; 1: fn asked to stop; -1: err filled. */
int kube_lines_feed(struct kube_lines *l, const char *data, size_t len, kube_doc_fn fn,
		    void *ud, struct eo_err *err);
/* At end of stream: delivers a last document not followed by '\n'; an
 * incomplete one is an error. Same returns as kube_lines_feed. */
int kube_lines_finish(struct kube_lines *l, kube_doc_fn fn, void *ud, struct eo_err *err);

/* One decoded watch line {"type":…,"object":…}: ADDED/MODIFIED/DELETED go
 * to fn; BOOKMARK only updates last_rv; every event with an object carrying
 * metadata.resourceVersion updates last_rv (64 bytes, may be NULL). An ERROR
 * event gives -1 with err->code from its Status (410 when the
 * resourceVersion is too old). Returns 0 to go on, 1 when fn asked to stop. */
int kube_watch_event(json_object *line, char *last_rv, kube_watch_fn fn, void *ud,
		     struct eo_err *err);

#endif
