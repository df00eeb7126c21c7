/*
 * workqueue.c — see workqueue.h.
 *
 * The one idea: every key has one entry with three flags — dirty (wants a
 * look), processing (a worker has it), and a due time (a delayed look) —
 * and a FIFO holds the dirty keys no worker has. A key can be in the FIFO
 * only when dirty and not processing, so no two workers ever get the same
 * key, and any number of adds collapse into one hand-out. Entries are few
 * (one per EtcdCluster), so they live in a plain array searched linearly.
 */
#include "workqueue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eo.h"

struct entry {
	char *key;
	bool dirty, processing, queued;
	int64_t due; /* monotonic ms; 0: none */
	int failures;
};

struct wq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry *e;
	size_t n, cap;
	char **fifo; /* keys (borrowed from entries), ring of capacity fcap */
	size_t head, len, fcap;
	bool shutdown;
	int64_t base_ms, max_ms;
};

struct wq *wq_new(int64_t base_ms, int64_t max_ms)
{
	struct wq *q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	q->base_ms = base_ms > 0 ? base_ms : 500;
	q->max_ms = max_ms > 0 ? max_ms : 30000;
	return q;
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->e[i].key);
	free(q->e);
	free(q->fifo);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static struct entry *find(struct wq *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->e[i].key, key) == 0)
			return &q->e[i];
	return NULL;
}

static struct entry *get_entry(struct wq *q, const char *key)
{
	struct entry *e = find(q, key);
	if (e)
		return e;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct entry *ne = realloc(q->e, cap * sizeof(*ne));
		if (!ne)
			abort();
		/* The FIFO borrows key pointers, which do not move with the array. */
		q->e = ne;
		q->cap = cap;
	}
	e = &q->e[q->n++];
	memset(e, 0, sizeof(*e));
	e->key = eo_strdup0(key);
	return e;
}

/* Drop an entry nobody needs any more (keeps the array small). */
static void maybe_drop(struct wq *q, struct entry *e)
{
	if (e->dirty || e->processing || e->queued || e->due || e->failures)
		return;
	free(e->key);
	size_t i = (size_t)(e - q->e);
	q->e[i] = q->e[--q->n];
}

static void push(struct wq *q, struct entry *e)
{
	if (e->queued)
		return;
	if (q->len == q->fcap) {
		size_t cap = q->fcap ? q->fcap * 2 : 16;
		char **nf = malloc(cap * sizeof(*nf));
		if (!nf)
			abort();
		for (size_t i = 0; i < q->len; i++)
			nf[i] = q->fifo[(q->head + i) % q->fcap];
		free(q->fifo);
		q->fifo = nf;
		q->head = 0;
		q->fcap = cap;
	}
	q->fifo[(q->head + q->len) % q->fcap] = e->key;
	q->len++;
	e->queued = true;
	pthread_cond_signal(&q->cv);
}

static void add_locked(struct wq *q, const char *key)
{
	struct entry *e = get_entry(q, key);
	if (e->dirty)
		return;
	e->dirty = true;
	if (!e->processing)
		push(q, e);
}

void wq_add(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	if (!q->shutdown)
		add_locked(q, key);
	pthread_mutex_unlock(&q->mu);
}

void wq_add_after(struct wq *q, const char *key, int64_t delay_ms)
{
	if (delay_ms <= 0) {
		wq_add(q, key);
		return;
	}
	pthread_mutex_lock(&q->mu);
	if (!q->shutdown) {
		struct entry *e = get_entry(q, key);
		int64_t due = eo_now_ms() + delay_ms;
		if (!e->due || due < e->due)
			e->due = due;
		pthread_cond_broadcast(&q->cv); /* a sleeper may need to wake sooner */
	}
	pthread_mutex_unlock(&q->mu);
}

int64_t wq_add_rate_limited(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = get_entry(q, key);
	int f = e->failures < 30 ? e->failures++ : e->failures;
	int64_t d = q->base_ms;
	for (int i = 0; i < f && d < q->max_ms; i++)
		d *= 2;
	if (d > q->max_ms)
		d = q->max_ms;
	pthread_mutex_unlock(&q->mu);
	wq_add_after(q, key, d);
	return d;
}

void wq_forget(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = find(q, key);
	if (e) {
		e->failures = 0;
		maybe_drop(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

int wq_failures(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = find(q, key);
	int f = e ? e->failures : 0;
	pthread_mutex_unlock(&q->mu);
	return f;
}

/* Move due delayed keys in; returns the next due time (0: none). */
static int64_t promote_due(struct wq *q, int64_t now)
{
	int64_t next = 0;
	for (size_t i = 0; i < q->n; i++) {
		struct entry *e = &q->e[i];
		if (!e->due)
			continue;
		if (e->due <= now) {
			e->due = 0;
			add_locked(q, e->key);
		} else if (!next || e->due < next) {
			next = e->due;
		}
	}
	return next;
}

static void deadline_ts(int64_t mono_ms, struct timespec *ts)
{
	ts->tv_sec = mono_ms / 1000;
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

static char *get(struct wq *q, int64_t until)
{
	pthread_mutex_lock(&q->mu);
	char *out = NULL;
	for (;;) {
		if (q->shutdown)
			break;
		int64_t now = eo_now_ms();
		int64_t next = promote_due(q, now);
		if (q->len) {
			char *key = q->fifo[q->head];
			q->head = (q->head + 1) % q->fcap;
			q->len--;
			struct entry *e = find(q, key);
			e->queued = false;
			e->dirty = false;
			e->processing = true;
			out = eo_strdup0(key);
			break;
		}
		if (until && now >= until)
			break;
		int64_t wake = next;
		if (until && (!wake || until < wake))
			wake = until;
		if (wake) {
			struct timespec ts;
			deadline_ts(wake, &ts);
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		} else {
			pthread_cond_wait(&q->cv, &q->mu);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return out;
}

char *wq_get(struct wq *q)
{
	return get(q, 0);
}

char *wq_get_timeout(struct wq *q, int64_t timeout_ms)
{
	return get(q, eo_now_ms() + (timeout_ms > 0 ? timeout_ms : 1));
}

void wq_done(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = find(q, key);
	if (e) {
		e->processing = false;
		if (e->dirty && !q->shutdown)
			push(q, e);
		maybe_drop(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_shutdown(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

size_t wq_len(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}
