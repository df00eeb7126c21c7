/*
 * kube_testsrv.h — a scriptable Kubernetes API server for C tests: starts
 * test/helpers/kube_server.py over HTTPS on a random 127.11.X.Y address and an
 * ephemeral port, with its own PKI (tls_fixture), and talks to its /_test/
 * controls (scripted answers, accepted tokens, watch behaviour, request log).
 * kube_server.py's docstring lists what it serves.
 *
 * The server dies with the test: its stdin is a pipe from the test (it exits
 * at EOF), it has PR_SET_PDEATHSIG, and an atexit handler kills what is left.
 * Run tests from the repository root (test/run.sh does).
 */
#ifndef EO_KUBE_TESTSRV_H
#define EO_KUBE_TESTSRV_H

#include <sys/types.h>

#include <json-c/json.h>

#include "../helpers/tls_fixture.h"
#include "kube.h"

#define KUBE_TESTSRV_TOKEN "s3cret-token"

struct kube_testsrv {
	pid_t pid;
	int in_fd;
	char addr[32]; /* 127.11.X.Y */
	int port;
	char url[64];  /* https://addr:port */
	/* server certificate for kube.test.internal, localhost and addr;
	 * client certificate CN alice, O system:masters */
	struct tls_fixture tls;
	struct kube_client *ctl; /* for /_test/ calls */
};

int kube_testsrv_start(struct kube_testsrv *s, struct eo_err *err);
/* Stops the server and removes its files; safe to call twice. */
void kube_testsrv_stop(struct kube_testsrv *s);

/* A connection as kubeconfig_load would resolve it: server, the fixture CA,
 * namespace "default", origin "kubeconfig test", token (may be NULL).
 * Free with kube_conn_free (or hand it to kube_client_new). */
struct kube_conn *kube_testsrv_conn(const struct kube_testsrv *s, const char *token);

/* POST a control: "/_test/script", "/_test/tokens", "/_test/watch",
 * "/_test/put", "/_test/vanish", "/_test/kick", "/_test/reset". */
int kube_testsrv_ctl(struct kube_testsrv *s, const char *path, const char *json,
		     struct eo_err *err);
/* The requests the server saw, filtered by method and path (NULL: any), as a
 * new array (json_object_put); NULL if the log could not be read. */
json_object *kube_testsrv_requests(struct kube_testsrv *s, const char *method, const char *path);

#endif
