/*
 * scaling_impl.h — what the files of the scaling protocol share inside
 * libetcdop (scaling.c, scaling_learner.c and scaling_members.c decide,
 * scaling_status.c reports): the view of the member list they all derive
 * their counts from, and the helpers that fill an action. Not for other
 * callers.
 */
#ifndef EO_SCALING_IMPL_H
#define EO_SCALING_IMPL_H

#include "duration.h"
#include "scaling.h"

/* Counts derived once from the member list. */
struct sc_view {
	int voters, healthy_voters, learners, started_voters;
	int learner;                     /* index of the (first) learner, or -1 */
	int by_ord[SC_MAX_ORDINALS];     /* member index per ordinal, or -1 */
	int foreign;                     /* members whose peer URL is not ours */
	int max_voter_ord;               /* -1 when none */
	uint64_t leader;                 /* the leader most healthy voters agree on */
	int leader_idx;
	int agreeing;                    /* healthy voters that see that leader */
	bool quorum;
	bool all_voters_healthy;
};

void sc_build_view(const struct sc_observed *o, struct sc_view *v);

/* Requeue delays (ms). */
#define SC_RQ_FAST 500      /* a status write just recorded something to act on */
#define SC_RQ_STEP 1000     /* an action was taken; look at its effect */
#define SC_RQ_POLL 2000     /* waiting for a Pod, a catch-up, a termination */
#define SC_RQ_DEGRADED 5000
#define SC_RQ_IDLE 30000    /* settled: refresh the published member health */

/* Helpers that fill the action (scaling.c). */
int sc_desired(const struct sc_observed *o);          /* spec.replicas, clamped */
int64_t sc_started_ms(const struct ec_scaling *s);    /* the record's start, -1 */
const char *sc_name_of(const struct sc_observed *o, int k, char *buf, size_t size);
/* Record step in a->scaling (the start time kept for the same step). */
void sc_set_step(struct sc_action *a, const struct sc_observed *o, const char *step, int from,
		 int to, uint64_t member_id);
/* The Progressing condition and the log line (and the record's message). */
void sc_progressing(struct sc_action *a, const char *status, const char *reason, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
void sc_event(struct sc_action *a, const char *reason, bool warning);
/* Report Degraded and act on nothing (the record of a step in flight stays). */
void sc_degraded(struct sc_action *a, const struct sc_observed *o, const char *reason,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* " (Pod demo-3: ErrImagePull: …)" for messages, "" when nothing to say. */
void sc_pod_trouble(const struct sc_observed *o, int k, char *out, size_t size);

/* Step 4 (scaling_learner.c) and steps 5–8 (scaling_members.c); v is the
 * view of o, with quorum and a member list read with quorum. */
void sc_decide_learner(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a);
void sc_decide_members(const struct sc_observed *o, const struct sc_view *v, struct sc_action *a);

#endif
