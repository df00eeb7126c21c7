/*
 * duration.c — Go's duration grammar in, elapsed time out (duration.h).
 * Milliseconds are the unit everywhere in this codebase; finer units are
 * accepted on input and rounded.
 */
#include "duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eo.h"

/* One unit of a Go duration, in milliseconds; -1 when not a unit. */
static double unit_ms(const char *u, size_t len)
{
	static const struct {
		const char *name;
		double ms;
	} units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"\xce\xbcs", 1e-3},
		     {"ms", 1},    {"s", 1000},  {"m", 60000},          {"h", 3600000}};
	for (size_t i = 0; i < EO_ARRAY_LEN(units); i++)
		if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
			return units[i].ms;
	return -1;
}

static int bare_seconds(const char *s, int64_t *ms)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v > INT64_MAX / 1000)
		return -1;
	*ms = (int64_t)v * 1000;
	return 0;
}

int dur_parse(const char *s, int64_t *ms)
{
	if (!s || !*s)
		return -1;
	if (bare_seconds(s, ms) == 0)
		return 0;
	if (*s == '+' && bare_seconds(++s, ms) == 0)
		return 0;
	double total = 0;
	const char *p = s;
	if (!*p)
		return -1;
	while (*p) {
		const char *num = p;
		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
		if (p == num)
			return -1;
		char *end;
		double v = strtod(num, &end);
		if (end != p)
			return -1;
		const char *u = p;
		while (*p && !isdigit((unsigned char)*p) && *p != '.')
			p++;
		double k = unit_ms(u, (size_t)(p - u));
		if (k < 0)
			return -1;
		total += v * k;
	}
	if (total > 9.2e18)
		return -1;
	*ms = (int64_t)(total + 0.5);
	return 0;
}

void dur_text(int64_t ms, char *out, size_t size)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(out, size, "%lldms", (long long)ms);
	} else if (ms < 60000) {
		snprintf(out, size, "%.1fs", (double)ms / 1000.0);
	} else {
		int64_t s = ms / 1000, h = s / 3600, m = (s / 60) % 60;
		if (h)
			snprintf(out, size, "%lldh%lldm%llds", (long long)h, (long long)m,
				 (long long)(s % 60));
		else
			snprintf(out, size, "%lldm%llds", (long long)m, (long long)(s % 60));
	}
}
