/*
 * log.h — structured logging: one logfmt line per event on stderr,
 *
 *   ts=2026-11-29T05:20:22.123Z level=info component=webhook msg="review" uid=… op=UPDATE
 *
 * The message is free text (quoted and escaped here); the key=value tail is
 * printf-formatted by the caller and must hold tokens only: names, uids,
 * numbers. Free text in the tail goes through log_q(), which quotes it.
 * Never pass a token, a key or a certificate: nothing here could tell.
 */
#ifndef EO_LOG_H
#define EO_LOG_H

#include <stdio.h>

enum eo_log_level { EO_LOG_DEBUG, EO_LOG_INFO, EO_LOG_WARN, EO_LOG_ERROR };

/* component: "webhook", "controller", "kubectl-etcd" … (a static string). */
void log_init(const char *component, enum eo_log_level min_level);
/* Parse "debug|info|warn|error"; -1 when unknown. */
int log_level_parse(const char *s);
void log_set_output(FILE *out); /* default stderr; for tests */

void log_emit(enum eo_log_level lvl, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Quote free text for the kv tail: log_info("x", "reason=%s", log_q(buf, sizeof buf, s)).
 * '"' and '\' are backslash-escaped, and every control character, DEL, C1
 * control and byte of invalid UTF-8 is written as a visible escape (\n,
 * \x1b, \u009b: term.h), so the value is one line that no terminal acts on.
 * Cut to fit size (at least 3), never inside an escape. Returns buf. */
const char *log_q(char *buf, size_t size, const char *text);

#define log_debug(msg, ...) log_emit(EO_LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) log_emit(EO_LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_emit(EO_LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_emit(EO_LOG_ERROR, msg, __VA_ARGS__)

#endif
