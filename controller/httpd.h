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

/* What /readyz asks; NULL: always ready. */
typedef bool (*httpd_ready_fn)(void *ud, char *why, size_t size);

/*
 * Listen on addr ("HOST:PORT", ":PORT" for all addresses, port 0 for an
 * ephemeral one) serving health (/healthz, /readyz) and/or /metrics. Free
 * with httpd_stop. httpd_port tells the port actually bound.
 */
struct httpd *httpd_start(const char *addr, bool health, bool metrics, struct metrics *m,
			  httpd_ready_fn ready, void *ud, struct eo_err *err);
int httpd_port(const struct httpd *h);
void httpd_stop(struct httpd *h);

/* Parse "HOST:PORT" / ":PORT" / "PORT". 0 or -1 with err. */
int httpd_parse_addr(const char *addr, char host[64], int *port, struct eo_err *err);

#endif
