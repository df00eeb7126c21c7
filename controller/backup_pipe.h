/*
 * backup_pipe.h — a bounded byte pipe between two threads: the snapshot
 * stream from etcd writes into it, the upload reads from it. Writers block
 * while it is full and readers while it is empty, so the stream runs at the
 * pace of the slower side and memory stays at the pipe's capacity whatever
 * the snapshot's size. Either side may fail it; the other then sees the
 * error at its next call.
 */
#ifndef EO_CONTROLLER_BACKUP_PIPE_H
#define EO_CONTROLLER_BACKUP_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eo.h"

struct bpipe;

/* capacity bytes of buffer; free with bpipe_free. */
struct bpipe *bpipe_new(size_t capacity);
void bpipe_free(struct bpipe *p);

/* The writer: the total first (once), then the bytes, then close (ok) or
 * fail. Writes block while full; -1 when the reader failed the pipe. */
void bpipe_set_total(struct bpipe *p, int64_t total);
int bpipe_write(struct bpipe *p, const char *data, size_t n, struct eo_err *err);
void bpipe_close(struct bpipe *p);
void bpipe_fail(struct bpipe *p, const struct eo_err *why);

/* The reader: wait for the total (-1 when the writer failed first; err
 * has why); read up to n bytes (0 at a clean end, -1 failed). */
int bpipe_wait_total(struct bpipe *p, int64_t *total, struct eo_err *err);
ssize_t bpipe_read(struct bpipe *p, char *buf, size_t n, struct eo_err *err);
/* Bytes read so far. */
int64_t bpipe_consumed(struct bpipe *p);

#endif
