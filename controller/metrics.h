/*
 * metrics.h — the controller's Prometheus metrics (DESIGN §8): reconciles by
 * result, reconcile and step durations, membership changes by kind, actions
 * by kind, errors by kind, leadership and queue depth. Thread-safe; rendered
 * in the text exposition format by metrics_render.
 */
#ifndef EO_CONTROLLER_METRICS_H
#define EO_CONTROLLER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "eo.h"

struct metrics;

struct metrics *metrics_new(void); /* free with metrics_free */
void metrics_free(struct metrics *m);

/* result: "success", "requeue" (a step in flight), "error". */
void metrics_reconcile(struct metrics *m, const char *result, double seconds);
/* A step of status.scaling finished (or was left for another) after seconds. */
void metrics_step(struct metrics *m, const char *step, double seconds);
/* kind: "add_learner", "promote", "remove", "transfer_leadership". */
void metrics_membership(struct metrics *m, const char *kind);
/* kind: the action taken (sc_kind_name). */
void metrics_action(struct metrics *m, const char *kind);
/* kind: "kube", "etcd", "conflict", "observe". */
void metrics_error(struct metrics *m, const char *kind);
void metrics_set_leader(struct metrics *m, bool leading);
void metrics_set_queue_depth(struct metrics *m, size_t n);
void metrics_set_clusters(struct metrics *m, size_t n);

/* Another module's metrics, appended after these (the backup controller's). */
void metrics_set_extra(struct metrics *m, int (*render)(struct eo_buf *out, void *ud), void *ud);
/* Append the exposition text. 0, or -1 when out of memory. */
int metrics_render(struct metrics *m, struct eo_buf *out);

#endif
