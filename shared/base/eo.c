/*
 * eo.c — error records, buffers, files and clocks shared by every
 * module. Small on purpose: the house rule is that these few helpers are
 * used everywhere instead of ad-hoc string and error handling.
 */
#include "eo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int eo_err_set(struct eo_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void eo_err_prefix(struct eo_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	char head[sizeof(err->msg)], old[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s%s", head, old);
}

void eo_err_clear(struct eo_err *err)
{
	if (err) {
		err->code = EO_OK;
		err->msg[0] = '\0';
	}
}

static int buf_reserve(struct eo_buf *b, size_t extra)
{
	if (b->max && b->len + extra > b->max)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int eo_buf_append(struct eo_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int eo_buf_printf(struct eo_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
		va_end(ap2);
		return -1;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
	return 0;
}

char *eo_buf_steal(struct eo_buf *b)
{
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void eo_buf_free(struct eo_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *eo_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* out of memory: nothing sensible left to do */
	return s;
}

char *eo_strdup0(const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

int eo_strlcpy(char *dst, const char *src, size_t size)
{
	if (!size)
		return -1;
	size_t n = strlen(src ? src : "");
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

int eo_read_file(const char *path, size_t max, char **out, size_t *out_len,
		 struct eo_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return eo_err_set(err, EO_ESYS, "cannot read %s: %s", path, strerror(errno));
	struct eo_buf b = {.max = max};
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			eo_buf_free(&b);
			return eo_err_set(err, EO_ESYS, "cannot read %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		if (eo_buf_append(&b, chunk, (size_t)n) != 0) {
			close(fd);
			eo_buf_free(&b);
			return eo_err_set(err, EO_EINVAL, "%s is larger than %zu bytes", path, max);
		}
	}
	close(fd);
	if (out_len)
		*out_len = b.len;
	*out = eo_buf_steal(&b);
	return 0;
}

int eo_write_file(const char *path, const void *data, size_t len, int mode,
		  struct eo_err *err)
{
	char *tmp = eo_strdupf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		eo_err_set(err, EO_ESYS, "cannot write %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			eo_err_set(err, EO_ESYS, "cannot write %s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			free(tmp);
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		eo_err_set(err, EO_ESYS, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int64_t eo_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t eo_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void eo_sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int eo_nap_ms(int64_t ms, volatile sig_atomic_t *stop)
{
	int64_t until = eo_now_ms() + ms;
	for (;;) {
		if (stop && *stop)
			return -1;
		int64_t left = until - eo_now_ms();
		if (left <= 0)
			return 0;
		eo_sleep_ms(left < 50 ? left : 50);
	}
}

void eo_rfc3339_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int eo_rfc3339_parse(const char *s, int64_t *epoch_s)
{
	struct tm tm = {0};
	const char *p = strptime(s ? s : "", "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') /* fraction of a second: ignored */
		while (*++p >= '0' && *p <= '9')
			;
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		offset = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*epoch_s = (int64_t)timegm(&tm) - offset;
	return 0;
}
