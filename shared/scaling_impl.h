/*
 * scaling_impl.h — what the files of the scaling protocol share inside
 * libetcdop (scaling.c decides, scaling_status.c reports): the view of the
 * member list both derive their counts from. Not for other callers.
 */
#ifndef EO_SCALING_IMPL_H
#define EO_SCALING_IMPL_H

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

#endif
