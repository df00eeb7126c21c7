/*
 * backup_pipe.c — the bounded pipe of backup_pipe.h: a ring buffer, one
 * mutex and one condition variable for both directions (one writer, one
 * reader: a broadcast wakes the other side, which rechecks).
 */
#include "backup_pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct bpipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t cap, head, len; /* data at head .. head+len (mod cap) */
	int64_t total, consumed;
	bool has_total, closed, failed;
	struct eo_err why;
};

struct bpipe *bpipe_new(size_t capacity)
{
	struct bpipe *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->buf = malloc(capacity);
	if (!p->buf) {
		free(p);
		return NULL;
	}
	p->cap = capacity;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

void bpipe_free(struct bpipe *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->buf);
	free(p);
}

void bpipe_set_total(struct bpipe *p, int64_t total)
{
	pthread_mutex_lock(&p->mu);
	p->total = total;
	p->has_total = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int bpipe_write(struct bpipe *p, const char *data, size_t n, struct eo_err *err)
{
	pthread_mutex_lock(&p->mu);
	while (n > 0) {
		while (p->len == p->cap && !p->failed)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->failed) {
			if (err)
				*err = p->why;
			pthread_mutex_unlock(&p->mu);
			return -1;
		}
		size_t tail = (p->head + p->len) % p->cap;
		size_t room = p->cap - p->len;
		size_t run = tail + room <= p->cap ? room : p->cap - tail;
		size_t k = n < run ? n : run;
		memcpy(p->buf + tail, data, k);
		p->len += k;
		data += k;
		n -= k;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void bpipe_close(struct bpipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->closed = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void bpipe_fail(struct bpipe *p, const struct eo_err *why)
{
	pthread_mutex_lock(&p->mu);
	if (!p->failed) {
		p->failed = true;
		p->why = *why;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int bpipe_wait_total(struct bpipe *p, int64_t *total, struct eo_err *err)
{
	pthread_mutex_lock(&p->mu);
	while (!p->has_total && !p->failed && !p->closed)
		pthread_cond_wait(&p->cv, &p->mu);
	int rc = 0;
	if (p->has_total)
		*total = p->total;
	else if (p->failed)
		rc = -1, *err = p->why;
	else
		rc = eo_err_set(err, EO_EPARSE, "the snapshot stream ended before it began");
	pthread_mutex_unlock(&p->mu);
	return rc;
}

ssize_t bpipe_read(struct bpipe *p, char *buf, size_t n, struct eo_err *err)
{
	pthread_mutex_lock(&p->mu);
	while (p->len == 0 && !p->closed && !p->failed)
		pthread_cond_wait(&p->cv, &p->mu);
	ssize_t got;
	if (p->failed) {
		*err = p->why;
		got = -1;
	} else if (p->len == 0) {
		got = 0;
	} else {
		size_t run = p->head + p->len <= p->cap ? p->len : p->cap - p->head;
		size_t k = n < run ? n : run;
		memcpy(buf, p->buf + p->head, k);
		p->head = (p->head + k) % p->cap;
		p->len -= k;
		p->consumed += (int64_t)k;
		got = (ssize_t)k;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return got;
}

int64_t bpipe_consumed(struct bpipe *p)
{
	pthread_mutex_lock(&p->mu);
	int64_t c = p->consumed;
	pthread_mutex_unlock(&p->mu);
	return c;
}
