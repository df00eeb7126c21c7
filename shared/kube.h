/*
 * kube.h — a Kubernetes REST client on libcurl: CRUD, patches, the status and
 * scale subresources, and watch streams parsed line by line.
 *
 * Every request has a deadline; 429, 5xx (but not 500s that carry a Status
 * from admission) and connection errors are retried with exponential back-off
 * within that deadline; a 401 triggers one credential refresh and retry.
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
const struct kube_conn *kube_client_conn(const struct kube_client *kc);

/* "/apis/apps/v1/namespaces/ns/statefulsets/name/scale"; ns NULL or "" for
 * all namespaces / cluster-scoped; name and sub may be NULL. malloc'd. */
char *kube_path(const struct kube_res *res, const char *ns, const char *name, const char *sub);

/* A raw request: method, absolute path (with query), optional body and its
 * content type. *out (may be NULL) receives the parsed JSON response. */
int kube_request(struct kube_client *kc, const char *method, const char *path,
		 const char *content_type, const char *body, json_object **out,
		 struct eo_err *err);

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
/* propagation: NULL (server default), "Background" or "Foreground". */
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
 * one seen when the server closes, relists on 410, backs off on errors.
 * Objects deleted while a relist was needed are reported as DELETED. */
int kube_informer_run(struct kube_client *kc, const struct kube_res *res, const char *ns,
		      const char *label_selector, kube_watch_fn fn, void *ud,
		      volatile sig_atomic_t *stop, struct eo_err *err);

/* Turn a Status object (or any error body) into a message a person can act on. */
void kube_status_message(json_object *status, long http_code, char *out, size_t size);

#endif
