/*
 * duration.h — the one duration grammar and the one way to print one.
 *
 * Read as Go's time.ParseDuration reads (what every Kubernetes flag takes):
 * "0", "500ms", "5s", "1m30s", "1.5h", units ns us µs ms s m h; a bare
 * integer means seconds, as kubectl's --request-timeout has it. Negative
 * values are refused. Printed the way a person reads elapsed time: "250ms",
 * "4.2s", "5m0s", "1h2m3s" (Go's style, tenths below a minute).
 */
#ifndef EO_DURATION_H
#define EO_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* 0 with *ms set, or -1 when s is not a duration. */
int dur_parse(const char *s, int64_t *ms);
/* ms as text into out (a negative ms prints as 0). */
void dur_text(int64_t ms, char *out, size_t size);

#endif
