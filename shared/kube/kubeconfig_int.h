/*
 * kubeconfig_int.h — what kubeconfig.c (which files, which entry wins) and
 * kubeconfig_entry.c (what one entry means) share. Not for other modules.
 */
#ifndef EO_KUBECONFIG_INT_H
#define EO_KUBECONFIG_INT_H

#include <json-c/json.h>

#include "kubeconfig.h"

#define KC_MAX_PEM (1u << 20)

/* One kubeconfig file as read, kept parsed so lines can be cited. */
struct kc_file {
	char *path;
	char *dir; /* absolute directory relative paths resolve against */
	json_object **docs;
	size_t ndocs;
	json_object *root; /* docs[0], or NULL for an empty file */
};

/* A named entry (context, cluster or user) and the file that defined it. */
struct named {
	const char *kind; /* "context", "cluster", "user" */
	const char *name;
	json_object *entry; /* the list item: {name, <kind>} */
	json_object *body;  /* its <kind> mapping, may be NULL */
	const struct kc_file *file;
};

/* "kubeconfig FILE:LINE: msg" (the line of node when known); returns -1. */
int kc_fail(struct eo_err *err, int code, const struct kc_file *f, json_object *node,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Length of a list that may be absent, null or of the wrong type. */
size_t kc_arr_len(json_object *a);
/* p relative to dir, cleaned like Go's filepath.Join; NULL or "" gives NULL.
 * malloc'd. */
char *kc_resolve_path(const char *dir, const char *p);
/* A string field of the entry's body: absent or null gives NULL (borrowed),
 * another type an error citing its line. */
int kc_field_str(const struct named *n, const char *key, const char **out, struct eo_err *err);

/* A zeroed connection with its lock ready; free with kube_conn_free. */
struct kube_conn *kc_conn_new(void);
void kc_exec_free(struct kube_exec *x);
/* Fill c's server and TLS fields from a cluster entry; *ext gets the
 * entry's exec extension (borrowed) if it has one. */
int kc_read_cluster(const struct named *n, struct kube_conn *c, json_object **ext,
		    struct eo_err *err);
/* Fill c's credentials (certificate, token, token file, exec) from a user. */
int kc_read_user(const struct named *n, struct kube_conn *c, struct eo_err *err);
/* c->exec->cluster_info_json from what c finally resolved to. */
void kc_build_cluster_info(struct kube_conn *c, json_object *ext);

#endif
