/*
 * space_ctl.h — the I/O half of the space decisions (shared/space.h): it
 * turns one observation into sp_decide's input, reports what it sees (the
 * Degraded condition with reason NoSpace, one Warning Event when the alarm
 * appears), and takes the one action decided: a compaction, one member's
 * defragmentation, or the alarm's deactivation, each recorded in
 * status.maintenance and as an Event.
 */
#ifndef EO_CONTROLLER_SPACE_CTL_H
#define EO_CONTROLLER_SPACE_CTL_H

#include "ctl.h"
#include "observe.h"
#include "space.h"

#define SPACE_REASON_NOSPACE "NoSpace"

struct space_plan {
	struct sp_observed in;
	struct sp_action act;
	char urls[EC_MAX_MEMBERS][256]; /* client URL of in.m[i] */
};

/* Decide (pure) for observation o. settled: the scaling protocol, the roll
 * and suspension have nothing to do. */
void space_plan(const struct observation *o, bool settled, struct space_plan *p);

/* Before the status is written: the NoSpace report into st (phase
 * Degraded, condition Degraded/NoSpace) and the record kept from the old
 * status. */
void space_report(const struct observation *o, const struct space_plan *p, struct ec_status *st);

/* Take the action (when there is one); st->maint records it. Returns 1
 * when it acted (the caller publishes st again and looks again soon), 0
 * when nothing was done, -1 with err when the action failed. Emits the
 * Events. */
int space_act(struct ctl *c, struct observation *o, const struct space_plan *p,
	      struct ec_status *st, struct eo_err *err);

#endif
