/*
 * server.h — the webhook's HTTPS server: libmicrohttpd on GnuTLS, TLS 1.2
 * and 1.3 only, epoll with a thread pool sized to the CPUs this process may
 * run on, certificates reloaded from disk, graceful stop.
 *
 * Routes (on the path alone: kube-apiserver appends ?timeout=5s):
 *   POST /mutate, POST /validate   AdmissionReview in and out
 *   GET  /healthz, /readyz          "ok" (readyz: 503 once stopping)
 *   GET  /metrics                   Prometheus text
 * Another method on a known path → 405; an unknown path → 404; a body over
 * max_body → 413 (announced by Content-Length: refused before it is read;
 * chunked: the connection is closed when the cap is passed); two
 * Content-Length headers, or one beside Transfer-Encoding → 400 (which body
 * is meant is ambiguous, the stuff of request smuggling).
 */
#ifndef EO_WEBHOOK_SERVER_H
#define EO_WEBHOOK_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "eo.h"

struct whsrv_config {
	const char *cert_file, *key_file; /* PEM, required */
	const char *bind_address;         /* IPv4 or IPv6 literal; NULL: 0.0.0.0 */
	uint16_t port;                    /* 0: an ephemeral port (tests) */
	unsigned threads;                 /* 0: the CPUs this process may use (affinity, cgroup quota) */
	size_t max_body;                  /* 0: WHSRV_MAX_BODY */
	int reload_interval_ms;           /* 0: 1000 */
	int drain_timeout_ms;             /* 0: 20000 (stop: wait for in-flight requests) */
	unsigned connection_timeout_s;    /* 0: 30; a connection silent this long (no TLS hello,
					   * no request, idle keep-alive) is closed */
	unsigned max_connections;         /* 0: WHSRV_MAX_CONNECTIONS */
	unsigned max_connections_per_ip;  /* 0: WHSRV_MAX_CONNECTIONS_PER_IP */
};

#define WHSRV_MAX_BODY (3u * 1024 * 1024)
#define WHSRV_MAX_CONNECTIONS 4096u
/* kube-apiserver holds one connection per concurrent review (HTTP/1.1) from
 * each of its addresses; a Pod that can reach the port gets this many at
 * most, so it cannot take the whole WHSRV_MAX_CONNECTIONS. */
#define WHSRV_MAX_CONNECTIONS_PER_IP 256u
/*
 * TLS 1.3, and TLS 1.2 with ECDHE and an AEAD cipher only (GCM,
 * ChaCha20-Poly1305): no CBC suites (Lucky13-style padding oracles, SHA-1
 * MACs), no static RSA key exchange (no forward secrecy). TLS 1.3 suites
 * are all AEAD; its key exchange is chosen by the groups, left at NORMAL's.
 */
#define WHSRV_TLS_PRIORITIES                                                               \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:" \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct whsrv;

/* Load the certificate pair and start serving. NULL with err when the pair
 * cannot be loaded or the address cannot be bound. One server per process
 * (the TLS callback and the metrics are process-wide). */
struct whsrv *whsrv_start(const struct whsrv_config *cfg, struct eo_err *err);

/* The port actually bound (useful with port 0). */
uint16_t whsrv_port(const struct whsrv *s);

/* Check the certificate files now rather than at the next tick (tests). */
int whsrv_check_certs(struct whsrv *s);

/*
 * Graceful stop: /readyz turns 503, a new connection is closed at once, requests
 * in flight are finished (up to drain_timeout_ms), then everything is freed.
 * Returns the number of requests still in flight when it gave up (0: clean).
 * Accepts NULL.
 */
int whsrv_stop(struct whsrv *s);

#endif
