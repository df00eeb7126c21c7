/*
 * metrics.c — Prometheus text for the webhook.
 *
 * The one idea: everything is a fixed array of relaxed atomics indexed by
 * small enums (endpoint × decision × status code; endpoint × bucket), so
 * counting on the request path is a handful of uncontended increments and
 * needs no lock; /metrics reads the arrays and prints what is non-zero.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>

static const char *const ep_names[WH_EP_COUNT] = {"mutate", "validate", "healthz",
						  "readyz", "metrics", "other"};
static const char *const dec_names[WH_DEC_COUNT] = {"allowed", "denied", "error", "none"};
static const int codes[] = {200, 400, 404, 405, 413, 500, 503};
#define NCODES (int)(sizeof(codes) / sizeof(codes[0]) + 1) /* last: any other */

/* Upper bounds in seconds; sub-millisecond where a good webhook lives. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				 0.025,  0.05,    0.1,    0.25,  0.5,    1};
#define NBUCKETS (int)(sizeof(buckets) / sizeof(buckets[0]))

static _Atomic uint64_t requests[WH_EP_COUNT][WH_DEC_COUNT][NCODES];
static _Atomic uint64_t hist[WH_EP_COUNT][NBUCKETS + 1]; /* last: +Inf only */
static _Atomic uint64_t hist_sum_ns[WH_EP_COUNT];
static _Atomic uint64_t hist_count[WH_EP_COUNT];
static _Atomic int64_t in_flight;

const char *wh_endpoint_name(enum wh_endpoint e)
{
	return (unsigned)e < WH_EP_COUNT ? ep_names[e] : "other";
}

static int code_index(int code)
{
	for (int i = 0; i < NCODES - 1; i++)
		if (codes[i] == code)
			return i;
	return NCODES - 1;
}

void wh_metrics_request(enum wh_endpoint e, enum wh_decision d, int code, double seconds)
{
	if ((unsigned)e >= WH_EP_COUNT)
		e = WH_EP_OTHER;
	if ((unsigned)d >= WH_DEC_COUNT)
		d = WH_DEC_NONE;
	atomic_fetch_add_explicit(&requests[e][d][code_index(code)], 1, memory_order_relaxed);
	int b = 0;
	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	atomic_fetch_add_explicit(&hist[e][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_count[e], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_sum_ns[e], (uint64_t)(seconds * 1e9),
				  memory_order_relaxed);
}

void wh_metrics_in_flight(int delta)
{
	atomic_fetch_add_explicit(&in_flight, delta, memory_order_relaxed);
}

int64_t wh_metrics_in_flight_now(void)
{
	return atomic_load(&in_flight);
}

void wh_metrics_reset(void)
{
	for (int e = 0; e < WH_EP_COUNT; e++) {
		for (int d = 0; d < WH_DEC_COUNT; d++)
			for (int c = 0; c < NCODES; c++)
				atomic_store(&requests[e][d][c], 0);
		for (int b = 0; b <= NBUCKETS; b++)
			atomic_store(&hist[e][b], 0);
		atomic_store(&hist_sum_ns[e], 0);
		atomic_store(&hist_count[e], 0);
	}
	atomic_store(&in_flight, 0);
}

int wh_metrics_render(struct eo_buf *out, uint64_t reloads_ok, uint64_t reloads_failed,
		      int64_t cert_not_after, int64_t now)
{
	int rc = 0;
	rc |= eo_buf_printf(out, "# HELP etcd_webhook_requests_total Requests answered, by "
				 "endpoint, admission decision and HTTP status code.\n"
				 "# TYPE etcd_webhook_requests_total counter\n");
	for (int e = 0; e < WH_EP_COUNT; e++)
		for (int d = 0; d < WH_DEC_COUNT; d++)
			for (int c = 0; c < NCODES; c++) {
				uint64_t v = atomic_load(&requests[e][d][c]);
				if (!v)
					continue;
				char code[8];
				if (c < NCODES - 1)
					snprintf(code, sizeof(code), "%d", codes[c]);
				else
					snprintf(code, sizeof(code), "other");
				rc |= eo_buf_printf(out,
						    "etcd_webhook_requests_total{endpoint=\"%s\","
						    "decision=\"%s\",code=\"%s\"} %llu\n",
						    ep_names[e], dec_names[d], code,
						    (unsigned long long)v);
			}

	rc |= eo_buf_printf(out, "# HELP etcd_webhook_request_duration_seconds Time from the "
				 "request's headers to its answer.\n"
				 "# TYPE etcd_webhook_request_duration_seconds histogram\n");
	for (int e = 0; e < WH_EP_COUNT; e++) {
		uint64_t count = atomic_load(&hist_count[e]);
		if (!count && e != WH_EP_MUTATE && e != WH_EP_VALIDATE)
			continue;
		uint64_t cum = 0;
		for (int b = 0; b < NBUCKETS; b++) {
			cum += atomic_load(&hist[e][b]);
			rc |= eo_buf_printf(out,
					    "etcd_webhook_request_duration_seconds_bucket{endpoint="
					    "\"%s\",le=\"%g\"} %llu\n",
					    ep_names[e], buckets[b], (unsigned long long)cum);
		}
		cum += atomic_load(&hist[e][NBUCKETS]);
		rc |= eo_buf_printf(out,
				    "etcd_webhook_request_duration_seconds_bucket{endpoint=\"%s\","
				    "le=\"+Inf\"} %llu\n"
				    "etcd_webhook_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n"
				    "etcd_webhook_request_duration_seconds_count{endpoint=\"%s\"} "
				    "%llu\n",
				    ep_names[e], (unsigned long long)cum, ep_names[e],
				    (double)atomic_load(&hist_sum_ns[e]) / 1e9, ep_names[e],
				    (unsigned long long)cum);
	}

	rc |= eo_buf_printf(
		out,
		"# HELP etcd_webhook_requests_in_flight Requests being read, decided or answered.\n"
		"# TYPE etcd_webhook_requests_in_flight gauge\n"
		"etcd_webhook_requests_in_flight %lld\n"
		"# HELP etcd_webhook_certificate_reloads_total Serving certificate reloads from "
		"disk.\n"
		"# TYPE etcd_webhook_certificate_reloads_total counter\n"
		"etcd_webhook_certificate_reloads_total{result=\"success\"} %llu\n"
		"etcd_webhook_certificate_reloads_total{result=\"failure\"} %llu\n"
		"# HELP etcd_webhook_certificate_expiry_seconds Seconds until the serving "
		"certificate's notAfter (negative: expired).\n"
		"# TYPE etcd_webhook_certificate_expiry_seconds gauge\n"
		"etcd_webhook_certificate_expiry_seconds %lld\n",
		(long long)atomic_load(&in_flight), (unsigned long long)reloads_ok,
		(unsigned long long)reloads_failed, (long long)(cert_not_after - now));
	return rc ? -1 : 0;
}
