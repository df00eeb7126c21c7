/*
 * log.c — logfmt lines, written with one fwrite so concurrent threads never
 * interleave within a line. Every control character in any part is written
 * as a visible escape (term.h): one event is always one line, and nothing a
 * server's error message contained can reach a terminal that tails the log.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "eo.h"
#include "term.h"

static const char *log_component = "etcdop";
static enum eo_log_level log_min = EO_LOG_INFO;
static FILE *log_out;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *component, enum eo_log_level min_level)
{
	log_component = component;
	log_min = min_level;
}

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < EO_ARRAY_LEN(level_names); i++)
		if (s && strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_set_output(FILE *out)
{
	log_out = out;
}

const char *log_q(char *buf, size_t size, const char *text)
{
	size_t o = 0;
	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	const char *p = text ? text : "";
	char piece[TERM_PIECE_MAX];
	for (size_t k; (k = term_piece(p, TERM_QUOTE, piece)) > 0; p += k) {
		size_t len = strlen(piece);
		if (o + len + 2 > size) /* the closing quote and the NUL */
			break;
		memcpy(buf + o, piece, len);
		o += len;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

void log_emit(enum eo_log_level lvl, const char *msg, const char *kvfmt, ...)
{
	if (lvl < log_min)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	char qmsg[512];
	struct eo_buf line = {0};
	eo_buf_printf(&line, "ts=%s level=%s component=%s msg=%s", when, level_names[lvl],
		      log_component, log_q(qmsg, sizeof(qmsg), msg));
	if (kvfmt && *kvfmt) {
		char tail[2048];
		va_list ap;
		va_start(ap, kvfmt);
		vsnprintf(tail, sizeof(tail), kvfmt, ap);
		va_end(ap);
		/* Tokens only, by contract; escaped all the same should one not be. */
		eo_buf_append(&line, " ", 1);
		term_safe_append(&line, tail, 0);
	}
	eo_buf_append(&line, "\n", 1);
	FILE *out = log_out ? log_out : stderr;
	if (line.data) {
		fwrite(line.data, 1, line.len, out);
		fflush(out);
	}
	eo_buf_free(&line);
}
