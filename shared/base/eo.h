/*
 * eo.h — the few helpers every file of libetcdop and its programs speaks:
 * the caller-owned error record, growable buffers, base64, files and time.
 *
 * The one idea: a function returns 0 or -1 and, on -1, fills a struct eo_err
 * the caller owns with a message a person can act on. Nothing below main()
 * exits or prints on its own.
 */
#ifndef EO_H
#define EO_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * err->code, one space for every error of every module:
 *   EO_OK and the negative EO_E* below — our own;
 *   100..599 — the HTTP status a server answered with (the API server, S3):
 *              compare with the EO_HTTP_* names, never a bare number;
 *   ≥ 1000   — etcd's own errors (ETCD_E*, etcd/etcd.h).
 */
enum {
	EO_OK = 0,
	EO_ESYS = -1,       /* a system call failed; msg has strerror */
	EO_EINVAL = -2,     /* bad input from a person or a file */
	EO_EPARSE = -3,     /* malformed JSON/YAML or an unexpected shape */
	EO_ETRANSPORT = -4, /* could not connect / TLS / connection reset */
	EO_ETIMEOUT = -5,   /* the deadline passed */
	EO_ECANCELED = -6,  /* stopped by the caller (signal, stop flag) */
	EO_ENOMEM = -7,
	EO_EUSAGE = -8,     /* a command line that cannot run: exit status 2 and a pointer to --help */
};

/* The HTTP statuses the code acts on. */
enum {
	EO_HTTP_BAD_REQUEST = 400,
	EO_HTTP_NOT_FOUND = 404,
	EO_HTTP_CONFLICT = 409, /* resourceVersion moved on, or it already exists */
	EO_HTTP_GONE = 410,     /* a watch's resourceVersion is too old */
};

struct eo_err {
	int code;
	char msg[256];
};

/* Set code and message; err may be NULL. Always returns -1 so callers can
 * write `return eo_err_set(err, EO_EINVAL, "...")`. */
int eo_err_set(struct eo_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put context in front of an existing message: "kubeconfig x: " + msg. */
void eo_err_prefix(struct eo_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void eo_err_clear(struct eo_err *err);

/* Growable byte buffer, always NUL-terminated. Zero-initialise, then append;
 * free with eo_buf_free. eo_buf_steal hands the bytes to the caller (free()). */
struct eo_buf {
	char *data;
	size_t len, cap;
	size_t max; /* 0: unlimited; else appends past max fail */
};
int eo_buf_append(struct eo_buf *b, const void *p, size_t n);
int eo_buf_printf(struct eo_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *eo_buf_steal(struct eo_buf *b);
void eo_buf_free(struct eo_buf *b);

/* malloc'd printf; aborts only on out-of-memory (as asprintf callers do). */
char *eo_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* strdup that accepts NULL. */
char *eo_strdup0(const char *s);
/* Bounded copy that always terminates; returns -1 when truncated. */
int eo_strlcpy(char *dst, const char *src, size_t size);

/* Base64 (standard alphabet, padded) through OpenSSL. Results are malloc'd
 * and NUL-terminated; *out_len excludes the NUL. */
char *eo_b64_encode(const void *data, size_t len);
int eo_b64_decode(const char *text, size_t text_len, char **out, size_t *out_len,
		  struct eo_err *err);

/* Read a whole file (at most max bytes) into a malloc'd NUL-terminated buffer. */
int eo_read_file(const char *path, size_t max, char **out, size_t *out_len,
		 struct eo_err *err);
/* Write a file atomically (temp file + rename) with the given mode. */
int eo_write_file(const char *path, const void *data, size_t len, int mode,
		  struct eo_err *err);

/* Time. */
int64_t eo_now_ms(void);      /* monotonic milliseconds */
int64_t eo_wall_ms(void);     /* Unix epoch milliseconds */
void eo_sleep_ms(int64_t ms);
/* Sleep up to ms, waking within 50 ms once *stop is set (stop may be NULL):
 * 0 when the time passed, -1 when stopped. The one stoppable sleep. */
int eo_nap_ms(int64_t ms, volatile sig_atomic_t *stop);
/* RFC 3339 UTC timestamp "2026-11-29T05:20:22Z" of the current time. */
void eo_rfc3339_now(char out[32]);
/* Parse RFC 3339 ("...Z" or with offset, optional fraction) to epoch seconds. */
int eo_rfc3339_parse(const char *s, int64_t *epoch_s);

#define EO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
