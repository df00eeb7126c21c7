/*
 * cron.c — five-field cron schedules (cron.h), parsed into bit sets and
 * stepped forward in UTC.
 *
 * The one idea: the next run is found by skipping whole units that cannot
 * match — a month that is not in the set jumps to the first of the next
 * month, a day to the next midnight, an hour to the next full hour — so
 * even "once a year" costs a few hundred steps, never a walk over minutes.
 */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun",
				     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct field {
	const char *name;
	int min, max;
	const char *const *names; /* value min + i, or NULL */
	int nnames;
};

static const struct field FIELDS[5] = {
	{"minute", 0, 59, NULL, 0},
	{"hour", 0, 23, NULL, 0},
	{"day of month", 1, 31, NULL, 0},
	{"month", 1, 12, MONTHS, 12},
	{"day of week", 0, 7, DAYS, 7}, /* 7 is Sunday too */
};

/* A number or a name at *p; advances *p. */
static int value(const struct field *f, const char **p, int *out)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		while (isdigit((unsigned char)*s) && v < 1000)
			v = v * 10 + (*s++ - '0');
		if (isdigit((unsigned char)*s))
			return -1;
		*out = (int)v;
		*p = s;
		return 0;
	}
	for (int i = 0; i < f->nnames; i++)
		if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
			*out = f->min + i;
			*p = s + 3;
			return 0;
		}
	return -1;
}

/* One field ("1-5", "*" "/15", "MON,WED") into a bit set. */
static int field_parse(const struct field *f, const char *text, uint64_t *bits, bool *star,
		       struct eo_err *err)
{
	*bits = 0;
	*star = strcmp(text, "*") == 0 || strcmp(text, "?") == 0;
	const char *p = text;
	for (;;) {
		int lo, hi, step = 1;
		bool all = false;
		if (*p == '*' || *p == '?') {
			lo = f->min;
			hi = f->max == 7 ? 6 : f->max;
			all = true;
			p++;
		} else {
			if (value(f, &p, &lo) != 0)
				return eo_err_set(err, EO_EINVAL, "%s: \"%s\" is not a value, range or list",
						  f->name, text);
			hi = lo;
			if (*p == '-') {
				p++;
				if (value(f, &p, &hi) != 0)
					return eo_err_set(err, EO_EINVAL, "%s: \"%s\" has a range without an end",
							  f->name, text);
			}
		}
		if (*p == '/') {
			p++;
			if (value(&FIELDS[0], &p, &step) != 0 || step < 1)
				return eo_err_set(err, EO_EINVAL, "%s: \"%s\" has a step that is not a "
						  "positive number", f->name, text);
			if (!all && hi == lo)
				hi = f->max == 7 ? 6 : f->max;
		}
		if (lo < f->min || lo > f->max || hi < f->min || hi > f->max)
			return eo_err_set(err, EO_EINVAL, "%s: %d is out of range %d-%d", f->name,
					  lo < f->min || lo > f->max ? lo : hi, f->min, f->max);
		if (hi < lo)
			return eo_err_set(err, EO_EINVAL, "%s: the range %d-%d runs backwards", f->name,
					  lo, hi);
		for (int v = lo; v <= hi; v += step)
			*bits |= 1ull << (f->max == 7 && v == 7 ? 0 : v);
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return eo_err_set(err, EO_EINVAL, "%s: unexpected \"%c\" in \"%s\"", f->name, *p,
					  text);
		p++;
	}
}

static const struct {
	const char *name, *expr;
} MACROS[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

int cron_parse(const char *expr, struct cron *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!expr)
		expr = "";
	const char *e = expr;
	while (isspace((unsigned char)*e))
		e++;
	if (*e == '@') {
		size_t n = strcspn(e, " \t");
		for (size_t i = 0; i < EO_ARRAY_LEN(MACROS); i++)
			if (strlen(MACROS[i].name) == n && strncasecmp(e, MACROS[i].name, n) == 0)
				return cron_parse(MACROS[i].expr, out, err);
		return eo_err_set(err, EO_EINVAL, "schedule \"%.64s\": unknown macro (@hourly, @daily, "
				  "@weekly, @monthly, @yearly)", expr);
	}
	char buf[256], *fields[6];
	if (eo_strlcpy(buf, e, sizeof(buf)) != 0)
		return eo_err_set(err, EO_EINVAL, "schedule: longer than %zu characters", sizeof(buf) - 1);
	int n = 0;
	for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 5)
			return eo_err_set(err, EO_EINVAL, "schedule \"%.64s\": more than five fields "
					  "(minute hour day-of-month month day-of-week; no seconds)", expr);
		fields[n++] = t;
	}
	if (n != 5)
		return eo_err_set(err, EO_EINVAL, "schedule \"%.64s\": %d field%s, want five (minute "
				  "hour day-of-month month day-of-week, e.g. \"0 3 * * *\")", expr, n,
				  n == 1 ? "" : "s");
	uint64_t bits[5];
	bool star[5];
	for (int i = 0; i < 5; i++)
		if (field_parse(&FIELDS[i], fields[i], &bits[i], &star[i], err) != 0) {
			eo_err_prefix(err, "schedule \"%.64s\": ", expr);
			return -1;
		}
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	out->dow = (uint8_t)bits[4];
	out->dom_star = star[2];
	out->dow_star = star[4];
	return 0;
}

static bool day_matches(const struct cron *c, const struct tm *t)
{
	bool d = c->dom >> t->tm_mday & 1, w = c->dow >> t->tm_wday & 1;
	if (c->dom_star || c->dow_star)
		return d && w;
	return d || w;
}

int64_t cron_next(const struct cron *c, int64_t after)
{
	time_t t = (time_t)(after - (after % 60 + 60) % 60 + 60); /* the next whole minute */
	time_t end = t + (time_t)5 * 366 * 86400;
	struct tm tm;
	while (t < end) {
		gmtime_r(&t, &tm);
		if (!(c->month >> (tm.tm_mon + 1) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			t = timegm(&tm); /* normalises month 12 into the next year */
			continue;
		}
		if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			t = timegm(&tm);
			continue;
		}
		if (!(c->hour >> tm.tm_hour & 1)) {
			t += 3600 - tm.tm_min * 60 - tm.tm_sec;
			continue;
		}
		if (!(c->minute >> tm.tm_min & 1)) {
			t += 60 - tm.tm_sec;
			continue;
		}
		return (int64_t)t;
	}
	return -1;
}

int64_t cron_period(const struct cron *c, int64_t from)
{
	int64_t prev = cron_next(c, from), best = -1;
	if (prev < 0)
		return -1;
	for (int i = 0; i < 2000; i++) {
		int64_t next = cron_next(c, prev);
		if (next < 0 || next - from > 366 * 86400)
			break;
		if (best < 0 || next - prev < best)
			best = next - prev;
		if (best == 60)
			break;
		prev = next;
	}
	return best < 0 ? 366 * 86400 : best; /* once a year or rarer */
}
