/*
 * kube_impl.h — private to the kube_*.c files: the client record and the one
 * HTTP exchange (with retries, credentials and TLS) every request and every
 * watch goes through. Not for use outside shared/kube/.
 */
#ifndef EO_KUBE_IMPL_H
#define EO_KUBE_IMPL_H

#include <pthread.h>

#include <curl/curl.h>

#include "kube.h"

#define KUBE_POOL_MAX 8

struct kube_client {
	struct kube_conn *conn; /* owned */
	long timeout_ms;
	int max_retries;
	char *user_agent;
	void (*on_warning)(const char *text, void *ud);
	void *warning_ud;
	/* Where requests go. With tls-server-name, the URL names that host (so
	 * SNI and certificate checks use it) and connect_to sends the connection
	 * to the real address; host_hdr keeps the Host header the real one. */
	char *base;       /* URL prefix without trailing '/' */
	char *connect_to; /* "name:port:host:port", or NULL */
	char *host_hdr;   /* "Host: host[:port]", or NULL */
	int loopback;     /* the server is this machine: never through a proxy (as Go does) */
	pthread_mutex_t lock; /* guards idle[] */
	CURL *idle[KUBE_POOL_MAX];
	int nidle;
};

/* One logical request. The caller fills the first part; kube_call_run fills
 * the results; kube_call_done frees them. */
struct kube_call {
	const char *method, *path, *content_type, *body;
	/* Streaming (watch): a 2xx body goes to on_data as it arrives (return
	 * non-zero to stop); the transfer may last stream_ms; only a 401 is
	 * retried. A stream that goes quiet past the low-speed limit ends as if
	 * the server had closed it. */
	int stream;
	long stream_ms;
	int (*on_data)(const char *p, size_t n, void *ud);
	void *data_ud;
	volatile sig_atomic_t *stop;

	long status;         /* final HTTP status, 0 if none */
	struct eo_buf resp;  /* the response body (error bodies also when streaming) */
	int data_stopped;    /* on_data asked to stop */
};

/* 0 on a 2xx answer (for a stream: once it has ended); -1 with err filled:
 * err->code the HTTP status, or EO_ETRANSPORT / EO_ETIMEOUT / EO_ECANCELED. */
int kube_call_run(struct kube_client *kc, struct kube_call *call, struct eo_err *err);
void kube_call_done(struct kube_call *call);

#endif
