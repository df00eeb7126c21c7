/*
 * render.h — turning what the controller publishes into text: kubectl-style
 * tables, human sizes and ages, the status views, the scaling plan, and the
 * live progress of a scale derived from successive status snapshots.
 *
 * Everything declared here is pure (values in, text appended to an eo_buf),
 * so the views are unit-tested from fixture JSON and the progress display
 * from sequences of snapshots, without a cluster or a controller.
 */
#ifndef PL_RENDER_H
#define PL_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cluster.h"
#include "eo.h"

/* ---- tables and formats (table.c) ---- */

/* ANSI colours; used only when the caller decided colour is on. */
#define PL_GREEN "\033[32m"
#define PL_YELLOW "\033[33m"
#define PL_RED "\033[31m"
#define PL_BOLD "\033[1m"
#define PL_DIM "\033[2m"
#define PL_RESET "\033[0m"

/* A table as kubectl prints one: upper-case headers, columns padded to
 * their widest cell (UTF-8 aware) and three spaces apart. */
struct pl_table;
struct pl_table *pl_table_new(int ncols, const char *const *headers); /* NULL: out of memory */
/* Copies the cells; colors[i] (may be NULL, or NULL entries) wraps cell i. */
int pl_table_add(struct pl_table *t, const char *const *cells, const char *const *colors);
int pl_table_rows(const struct pl_table *t);
/* indent before every line; color false drops the colour codes. */
int pl_table_render(const struct pl_table *t, const char *indent, bool color, struct eo_buf *out);
void pl_table_free(struct pl_table *t);

/* "512 B", "20 KiB", "1.5 MiB" */
void pl_human_bytes(int64_t n, char *out, size_t size);
/* Kubernetes' HumanDuration for ages: "45s", "3m20s", "5h", "2d3h", "<unknown>" when secs < 0. */
void pl_human_age(int64_t secs, char *out, size_t size);
/* Age of an RFC 3339 timestamp at now (epoch seconds); "<unknown>" if unreadable. */
void pl_age_of(const char *rfc3339, int64_t now, char *out, size_t size);
/* Display width of UTF-8 text (code points). */
size_t pl_text_width(const char *s);

/* ---- status views (render.c) ---- */

/* The table of clusters of a list (EtcdClusterList JSON); with_ns adds the
 * NAMESPACE column. "No EtcdClusters found in namespace X." when empty. */
int render_cluster_table(json_object *list, bool with_ns, const char *ns, int64_t now,
			 bool color, struct eo_buf *out);
/* The same; wide (-o wide) adds LEADER, the Available and Degraded
 * conditions and the client TLS mode, as kubectl's wide adds columns. */
int render_cluster_table_ex(json_object *list, bool with_ns, bool wide, const char *ns,
			    int64_t now, bool color, struct eo_buf *out);
/* -o name: "etcdcluster.etcd.k8s-operator.io/NAME", one a line. */
int render_cluster_names(json_object *list, struct eo_buf *out);
/* One cluster: summary, members, conditions, the step in flight and the
 * recent events (events: an EventList or array, may be NULL; events_note: a
 * line shown instead when they could not be read, may be NULL). */
int render_cluster_detail(json_object *obj, json_object *events, const char *events_note,
			  int64_t now, bool color, struct eo_buf *out);

/* ---- the plan (plan.c) ---- */

/* The plan of `scale NAME --replicas to` from `from` voters, as the lines
 *   Plan for default/demo: 1 → 3, one member at a time (2 steps)
 *     step 1/2: 1 → 2   quorum 2, tolerates 0 failures
 * plus a warning for an even target; "nothing to do" when from == to. */
int render_plan(const char *ns, const char *name, int from, int to, bool color,
		struct eo_buf *out);

/* ---- live progress (progress.c) ---- */

enum progress_result {
	PROGRESS_WAITING, /* the scale goes on */
	PROGRESS_DONE,    /* every step settled at the target */
	PROGRESS_FAILED,  /* the operator rolled a step back, or the cluster failed */
};

/* The state of a scale being followed; zero it with progress_init. */
struct progress {
	char name[254];
	int from, to, dir;     /* the whole scale */
	int nsteps, step;      /* step is 1-based; 0 before the first line */
	int step_from, step_to;
	int level;             /* sub-steps already printed in this step */
	int64_t step_started_ms, started_ms;
	bool transfer_needed;  /* scale-down: the leaving member led */
	char member_id[24];
	char last_note[256];   /* the last info line printed (not repeated) */
	char failure[512];     /* why, when PROGRESS_FAILED */
	char reached[128];     /* what was reached last, for timeouts and Ctrl-C */
};

void progress_init(struct progress *p, const char *name, int from, int to, int64_t now_ms);
/*
 * Feed one snapshot of the EtcdCluster (parsed) observed at now_ms; appends
 * one line per sub-step it implies ("step 1/2: 1 → 2", "  learner added
 * (id 42)   0.4s"). A snapshot that skipped intermediate states prints every
 * sub-step it implies, so the display never depends on seeing each update.
 */
enum progress_result progress_feed(struct progress *p, const struct etcd_cluster *c,
				   int64_t now_ms, struct eo_buf *out);

#endif
