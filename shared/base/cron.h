/*
 * cron.h — the schedule of an EtcdBackup: a five-field cron expression
 * (minute hour day-of-month month day-of-week), read as Kubernetes CronJobs
 * read it, evaluated in UTC. Pure: no I/O, no clock.
 *
 *   "0,30 * * * *"  "0 3 * * 1-5"  "15 2 1,15 * *"  "0 0 * JAN,JUL SUN"
 *   "@hourly" "@daily" (= "@midnight") "@weekly" "@monthly" "@yearly" (= "@annually")
 *
 * Fields take '*', numbers, ranges a-b, steps ('*' '/' n, a-b/n, a/n meaning
 * a-max/n; "*" "/" 15 is every 15 minutes in the first field),
 * lists; months and weekdays also take three-letter English names; weekday 7
 * is Sunday as 0 is. As in cron, when both day-of-month and day-of-week are
 * restricted (neither is '*'), a day matches when either does.
 */
#ifndef EO_CRON_H
#define EO_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "eo.h"

struct cron {
	uint64_t minute;  /* bit m: minute m (0..59) */
	uint32_t hour;    /* 0..23 */
	uint32_t dom;     /* 1..31 */
	uint16_t month;   /* 1..12 */
	uint8_t dow;      /* 0..6, Sunday 0 */
	bool dom_star, dow_star;
};

/* Parse; an error names the field and what was wrong with it
 * ("schedule \"0 25 * * *\": hour: 25 is out of range 0-23"). */
int cron_parse(const char *expr, struct cron *out, struct eo_err *err);

/* The first whole minute strictly after `after` (epoch seconds, UTC) that
 * matches; -1 when none does within five years (e.g. "0 0 30 2 *"). */
int64_t cron_next(const struct cron *c, int64_t after);

/* The shortest gap between two runs, in seconds, looked at over the next
 * year from `from` (for "the last backup is older than twice its period");
 * -1 when it never runs. */
int64_t cron_period(const struct cron *c, int64_t from);

#endif
