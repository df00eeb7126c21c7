/*
 * kubeconfig.h — from kubeconfig files (or a Pod's service account) to one
 * resolved connection: server, TLS material, credentials and namespace.
 *
 * Resolution follows kubectl exactly:
 *   - --kubeconfig names exactly one file; otherwise $KUBECONFIG is a
 *     ':'-list merged so that the first file to set a value wins
 *     (current-context included; a map entry such as a named context is
 *     taken whole from the first file that defines it); otherwise
 *     ~/.kube/config; otherwise in-cluster config when
 *     KUBERNETES_SERVICE_HOST/PORT are set.
 *   - --context / --cluster / --user override the context's choices.
 *   - namespace: the flag, then the context's, then "default" (in a Pod: the
 *     service account's namespace file).
 *   - relative paths in a file resolve against that file's directory.
 *
 * Certificates and keys are loaded into memory (PEM) at resolution time so
 * libcurl gets them as blobs; a token file is re-read on every use (the
 * kubelet rotates projected tokens); an exec credential is cached until its
 * expirationTimestamp or until kube_conn_invalidate() after a 401.
 */
#ifndef EO_KUBECONFIG_H
#define EO_KUBECONFIG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "eo.h"

/* An exec credential plugin, as named by a kubeconfig user. */
struct kube_exec {
	char *api_version;      /* client.authentication.k8s.io/v1 or /v1beta1 */
	char *command;          /* resolved like kubectl: relative with '/' → file dir, else PATH */
	char **args;            /* NULL-terminated */
	char **env;             /* NULL-terminated "NAME=VALUE" added to our environment */
	char *interactive_mode; /* Never | IfAvailable | Always (v1 requires it; default IfAvailable) */
	int provide_cluster_info;
	char *install_hint;
	/* KUBERNETES_EXEC_INFO spec.cluster as JSON when provideClusterInfo
	 * (server, CA, tls-server-name, the cluster's exec extension), or NULL */
	char *cluster_info_json;
};

struct kube_conn {
	char *server;          /* "https://host:port", no trailing slash */
	char *ca_pem;          /* NULL: system trust store */
	size_t ca_len;
	int insecure;          /* insecure-skip-tls-verify */
	char *tls_server_name; /* SNI / verification name override, or NULL */
	char *cert_pem, *key_pem; /* client certificate, or NULL */
	size_t cert_len, key_len;
	char *token;           /* static bearer token (flag or kubeconfig), or NULL */
	char *token_file;      /* re-read on each use, or NULL */
	struct kube_exec *exec; /* or NULL */
	char *namespace;       /* resolved, never NULL */
	char *context_name;    /* for messages; "" in-cluster */
	char *cluster_name, *user_name;
	char *origin;          /* "kubeconfig /path/…" or "in-cluster service account": for messages */
	char *proxy_url;       /* the cluster's proxy-url, or NULL (then libcurl's proxy variables apply) */

	/* exec credential cache, guarded by lock */
	pthread_mutex_t lock;
	char *exec_token, *exec_cert_pem, *exec_key_pem;
	int64_t exec_expiry_s; /* epoch seconds; 0: no expiry given */
	int exec_valid;
};

struct kubeconfig_opts {
	const char *kubeconfig;  /* --kubeconfig, or NULL */
	const char *context;     /* --context */
	const char *cluster;     /* --cluster */
	const char *user;        /* --user */
	const char *namespace;   /* -n */
	const char *token;       /* --token: replaces the user's credentials */
	const char *server;      /* --server */
	int insecure_skip_tls_verify; /* --insecure-skip-tls-verify: 1, else 0 */
};

/* Resolve a connection. On failure the message names the file, and where
 * libyaml knows it the line: "kubeconfig /x/config:14: context \"prod\" names
 * user \"ops\", which is not defined". Free with kube_conn_free. */
int kubeconfig_load(const struct kubeconfig_opts *opts, struct kube_conn **out,
		    struct eo_err *err);

/* In-cluster configuration. sa_dir: NULL for
 * /var/run/secrets/kubernetes.io/serviceaccount (tests pass their own). */
int kubeconfig_in_cluster(const char *sa_dir, struct kube_conn **out, struct eo_err *err);

/* Credentials to put on one request. Strings are malloc'd copies the caller
 * frees with kube_creds_clear. Runs the exec plugin when its cached
 * credential is missing or expired. Thread-safe. */
struct kube_creds {
	char *token;              /* bearer, or NULL */
	char *cert_pem, *key_pem; /* client certificate from the exec plugin, or NULL */
	size_t cert_len, key_len;
};
int kube_conn_credentials(struct kube_conn *c, struct kube_creds *out, struct eo_err *err);
void kube_creds_clear(struct kube_creds *cr);

/* After a 401: forget a cached exec credential so the next request runs the
 * plugin again (a token file is re-read anyway). Returns 1 if anything was
 * dropped, i.e. whether a retry can help. */
int kube_conn_invalidate(struct kube_conn *c);

void kube_conn_free(struct kube_conn *c);

/* Deadline for one run of an exec credential plugin, in milliseconds; 0
 * restores the default (60 s, or $EO_EXEC_TIMEOUT_MS when set). After it the
 * plugin is killed and the request fails with EO_ETIMEOUT. For tests. */
void kube_exec_set_timeout_ms(long ms);

#endif
