/*
 * metrics.h — the webhook's Prometheus metrics: counters and a latency
 * histogram kept in process-wide atomics (one webhook per process), rendered
 * in the text exposition format on GET /metrics.
 *
 *   etcd_webhook_requests_total{endpoint,decision,code}
 *   etcd_webhook_request_duration_seconds{endpoint}   histogram, 100 µs … 1 s
 *   etcd_webhook_requests_in_flight
 *   etcd_webhook_certificate_reloads_total{result="success|failure"}
 *   etcd_webhook_certificate_expiry_seconds            seconds until notAfter
 */
#ifndef EO_WEBHOOK_METRICS_H
#define EO_WEBHOOK_METRICS_H

#include <stdint.h>

#include "eo.h"

enum wh_endpoint {
	WH_EP_MUTATE,
	WH_EP_VALIDATE,
	WH_EP_HEALTHZ,
	WH_EP_READYZ,
	WH_EP_METRICS,
	WH_EP_OTHER,
	WH_EP_COUNT
};
/* WH_DEC_NONE: endpoints that decide nothing (health, metrics, 404s). */
enum wh_decision { WH_DEC_ALLOWED, WH_DEC_DENIED, WH_DEC_ERROR, WH_DEC_NONE, WH_DEC_COUNT };

const char *wh_endpoint_name(enum wh_endpoint e);

/* Count one answered request; seconds is the handler's time. */
void wh_metrics_request(enum wh_endpoint e, enum wh_decision d, int code, double seconds);
void wh_metrics_in_flight(int delta);
int64_t wh_metrics_in_flight_now(void);

/* Render everything; reloads and expiry come from the TLS store. 0 or -1. */
int wh_metrics_render(struct eo_buf *out, uint64_t reloads_ok, uint64_t reloads_failed,
		      int64_t cert_not_after, int64_t now);

/* Zero every metric (tests). */
void wh_metrics_reset(void);

#endif
