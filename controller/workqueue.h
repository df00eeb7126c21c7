/*
 * workqueue.h — the controller's level-triggered work queue of cluster keys
 * ("namespace/name"), in the manner of client-go's:
 *
 *   - a key added many times before a worker takes it is handed out once
 *     (events only say "look again", the reconcile reads the world);
 *   - a key is with at most one worker at a time; added while it is being
 *     worked on, it is handed out again once that worker is done;
 *   - wq_add_after for waits (a step in flight: look again in 1–2 s) keeps
 *     the earliest time asked for;
 *   - wq_add_rate_limited for errors: exponential back-off per key
 *     (base × 2^(failures−1), capped), reset by wq_forget after a success.
 *
 * Thread-safe. Keys are copied.
 */
#ifndef EO_CONTROLLER_WORKQUEUE_H
#define EO_CONTROLLER_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct wq;

/* base_ms, max_ms: the error back-off (0 → 500 ms, 30 s). Free with wq_free. */
struct wq *wq_new(int64_t base_ms, int64_t max_ms);
void wq_free(struct wq *q);

void wq_add(struct wq *q, const char *key);
void wq_add_after(struct wq *q, const char *key, int64_t delay_ms);
/* Back off after an error; returns the delay chosen. */
int64_t wq_add_rate_limited(struct wq *q, const char *key);
void wq_forget(struct wq *q, const char *key);
int wq_failures(struct wq *q, const char *key);

/* Block until a key is due; the caller owns the returned copy (free()) and
 * must call wq_done with it. NULL once wq_shutdown was called. */
char *wq_get(struct wq *q);
/* Like wq_get, but gives up after timeout_ms and returns NULL. */
char *wq_get_timeout(struct wq *q, int64_t timeout_ms);
void wq_done(struct wq *q, const char *key);

/* Wake every waiting wq_get; later gets return NULL. */
void wq_shutdown(struct wq *q);
/* Keys waiting to be handed out now (not delayed, not in flight). */
size_t wq_len(struct wq *q);

#endif
