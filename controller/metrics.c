/*
 * metrics.c — counters and histograms behind one mutex, rendered as
 * Prometheus text.
 *
 * The one idea: the label values are few and known (results, step names,
 * action kinds), so each family is a small table searched linearly; no
 * allocation after the first use of a label value, and a render is one pass.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 24

static const double reconcile_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double step_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
#define MAX_BUCKETS 12

struct counter {
	char label[40];
	double value;
};

struct hist {
	char label[40];
	unsigned long long buckets[MAX_BUCKETS];
	unsigned long long count;
	double sum;
};

struct family {
	struct counter c[MAX_SERIES];
	int n;
};

struct hfamily {
	struct hist h[MAX_SERIES];
	int n;
	const double *bounds;
	int nbounds;
};

struct metrics {
	pthread_mutex_t mu;
	struct family reconciles, membership, actions, errors;
	struct hfamily reconcile_seconds, step_seconds;
	int leader;
	size_t depth, clusters;
	int (*extra)(struct eo_buf *out, void *ud);
	void *extra_ud;
};

void metrics_set_extra(struct metrics *m, int (*render)(struct eo_buf *out, void *ud), void *ud)
{
	pthread_mutex_lock(&m->mu);
	m->extra = render;
	m->extra_ud = ud;
	pthread_mutex_unlock(&m->mu);
}

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	pthread_mutex_init(&m->mu, NULL);
	m->reconcile_seconds.bounds = reconcile_buckets;
	m->reconcile_seconds.nbounds = (int)EO_ARRAY_LEN(reconcile_buckets);
	m->step_seconds.bounds = step_buckets;
	m->step_seconds.nbounds = (int)EO_ARRAY_LEN(step_buckets);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void inc(struct metrics *m, struct family *f, const char *label)
{
	pthread_mutex_lock(&m->mu);
	int i;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->c[i].label, label) == 0)
			break;
	if (i == f->n && f->n < MAX_SERIES)
		eo_strlcpy(f->c[f->n++].label, label, sizeof(f->c[0].label));
	if (i < f->n)
		f->c[i].value += 1;
	pthread_mutex_unlock(&m->mu);
}

static void observe(struct metrics *m, struct hfamily *f, const char *label, double v)
{
	pthread_mutex_lock(&m->mu);
	int i;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->h[i].label, label) == 0)
			break;
	if (i == f->n && f->n < MAX_SERIES)
		eo_strlcpy(f->h[f->n++].label, label, sizeof(f->h[0].label));
	if (i < f->n) {
		struct hist *h = &f->h[i];
		for (int b = 0; b < f->nbounds; b++)
			if (v <= f->bounds[b])
				h->buckets[b]++;
		h->count++;
		h->sum += v;
	}
	pthread_mutex_unlock(&m->mu);
}

void metrics_reconcile(struct metrics *m, const char *result, double seconds)
{
	inc(m, &m->reconciles, result);
	observe(m, &m->reconcile_seconds, "", seconds);
}

void metrics_step(struct metrics *m, const char *step, double seconds)
{
	observe(m, &m->step_seconds, step, seconds < 0 ? 0 : seconds);
}

void metrics_membership(struct metrics *m, const char *kind) { inc(m, &m->membership, kind); }
void metrics_action(struct metrics *m, const char *kind) { inc(m, &m->actions, kind); }
void metrics_error(struct metrics *m, const char *kind) { inc(m, &m->errors, kind); }

void metrics_set_leader(struct metrics *m, bool leading)
{
	pthread_mutex_lock(&m->mu);
	m->leader = leading;
	pthread_mutex_unlock(&m->mu);
}

void metrics_set_queue_depth(struct metrics *m, size_t n)
{
	pthread_mutex_lock(&m->mu);
	m->depth = n;
	pthread_mutex_unlock(&m->mu);
}

void metrics_set_clusters(struct metrics *m, size_t n)
{
	pthread_mutex_lock(&m->mu);
	m->clusters = n;
	pthread_mutex_unlock(&m->mu);
}

static int counters(struct eo_buf *b, const struct family *f, const char *name, const char *label,
		    const char *help)
{
	int rc = eo_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (int i = 0; i < f->n && rc == 0; i++)
		rc = eo_buf_printf(b, "%s{%s=\"%s\"} %.0f\n", name, label, f->c[i].label, f->c[i].value);
	return rc;
}

static int histograms(struct eo_buf *b, const struct hfamily *f, const char *name,
		      const char *label, const char *help)
{
	int rc = eo_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < f->n && rc == 0; i++) {
		const struct hist *h = &f->h[i];
		char lab[96] = "";
		if (label)
			snprintf(lab, sizeof(lab), "%s=\"%s\",", label, h->label);
		for (int j = 0; j < f->nbounds && rc == 0; j++)
			rc = eo_buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name, lab, f->bounds[j],
					   h->buckets[j]);
		if (lab[0])
			lab[strlen(lab) - 1] = '\0';
		if (rc == 0)
			rc = eo_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum%s%s%s %g\n"
					   "%s_count%s%s%s %llu\n",
					   name, lab, lab[0] ? "," : "", h->count, name, lab[0] ? "{" : "",
					   lab, lab[0] ? "}" : "", h->sum, name, lab[0] ? "{" : "", lab,
					   lab[0] ? "}" : "", h->count);
	}
	return rc;
}

int metrics_render(struct metrics *m, struct eo_buf *out)
{
	pthread_mutex_lock(&m->mu);
	int rc = counters(out, &m->reconciles, "etcd_controller_reconciles_total", "result",
			  "Reconciles of EtcdClusters by result.");
	if (rc == 0)
		rc = histograms(out, &m->reconcile_seconds, "etcd_controller_reconcile_duration_seconds",
				NULL, "Time of one reconcile (observe, decide, act).");
	if (rc == 0)
		rc = histograms(out, &m->step_seconds, "etcd_controller_step_duration_seconds", "step",
				"Time a scaling step (status.scaling.step) was in flight.");
	if (rc == 0)
		rc = counters(out, &m->membership, "etcd_controller_membership_changes_total", "kind",
			      "etcd membership changes made, by kind.");
	if (rc == 0)
		rc = counters(out, &m->actions, "etcd_controller_actions_total", "action",
			      "Actions taken by the scaling protocol.");
	if (rc == 0)
		rc = counters(out, &m->errors, "etcd_controller_errors_total", "kind",
			      "Errors met while reconciling, by kind.");
	if (rc == 0)
		rc = eo_buf_printf(out,
				   "# HELP etcd_controller_leader 1 while this replica holds the Lease "
				   "(or runs without leader election).\n"
				   "# TYPE etcd_controller_leader gauge\netcd_controller_leader %d\n"
				   "# HELP etcd_controller_workqueue_depth Keys waiting for a worker.\n"
				   "# TYPE etcd_controller_workqueue_depth gauge\n"
				   "etcd_controller_workqueue_depth %zu\n"
				   "# HELP etcd_controller_clusters EtcdClusters known to this controller.\n"
				   "# TYPE etcd_controller_clusters gauge\netcd_controller_clusters %zu\n",
				   m->leader, m->depth, m->clusters);
	int (*extra)(struct eo_buf *, void *) = m->extra;
	void *extra_ud = m->extra_ud;
	pthread_mutex_unlock(&m->mu);
	if (rc == 0 && extra)
		rc = extra(out, extra_ud);
	return rc;
}
