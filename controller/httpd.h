/*
 * httpd.h — the controller's plain-HTTP endpoints on libmicrohttpd:
 * /healthz (the process serves), /readyz (its watches have synced and it
 * leads or stands by normally), /metrics (Prometheus text).
 */
#ifndef EO_CONTROLLER_HTTPD_H
#define EO_CONTROLLER_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "eo.h"
#include "metrics.h"

struct httpd;

/*
 * What one client may hold. A liveness probe is one short connection at a
 * time from the node's address; Prometheus keeps one. The deadline is not
 * an idle timeout: a byte every second does not extend it, so clients that
 * trickle their headers cannot keep a slot.
 */
struct httpd_limits {
	unsigned max_connections; /* 0: HTTPD_MAX_CONNECTIONS */
	unsigned max_per_ip;      /* 0: HTTPD_MAX_PER_IP */
	unsigned deadline_ms;     /* 0: HTTPD_DEADLINE_MS; from the connect, or the previous
				   * answer sent on it, until the request's headers are in */
};

#define HTTPD_MAX_CONNECTIONS 512u
#define HTTPD_MAX_PER_IP 8u
#define HTTPD_DEADLINE_MS 5000u

/* What /readyz asks; NULL: always ready. */
typedef bool (*httpd_ready_fn)(void *ud, char *why, size_t size);

/*
 * Listen on addr ("HOST:PORT", ":PORT" for all addresses, port 0 for an
 * ephemeral one) serving health (/healthz, /readyz) and/or /metrics. Free
 * with httpd_stop. httpd_port tells the port actually bound. httpd_start
 * uses the default limits; httpd_start_limits takes them (lim NULL: the
 * defaults).
 */
struct httpd *httpd_start(const char *addr, bool health, bool metrics, struct metrics *m,
			  httpd_ready_fn ready, void *ud, struct eo_err *err);
struct httpd *httpd_start_limits(const char *addr, bool health, bool metrics, struct metrics *m,
				 httpd_ready_fn ready, void *ud, const struct httpd_limits *lim,
				 struct eo_err *err);
int httpd_port(const struct httpd *h);
void httpd_stop(struct httpd *h);

/* Parse "HOST:PORT" / ":PORT" / "PORT". 0 or -1 with err. */
int httpd_parse_addr(const char *addr, char host[64], int *port, struct eo_err *err);

#endif
