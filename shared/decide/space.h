/*
 * space.h — what to do about etcd's disk space (issue 14), as one pure
 * function: members' database sizes and the alarms in, the one next
 * maintenance action out.
 *
 * The one idea: like the scaling protocol, every step is derived from what
 * is observed now, so a controller that crashes between steps resumes.
 * Fragmentation (1 - dbSizeInUse/dbSize) says which member still needs a
 * defragmentation; a defragmented member drops below the line by itself.
 * The only thing remembered is the revision last compacted to
 * (status.maintenance.compactedRevision), so a NOSPACE recovery compacts
 * once and then moves on.
 *
 * NOSPACE recovery: compact to the current revision → defragment every
 * member one at a time, followers first, the leader last, every member
 * answering before the next → deactivate the alarm. Which members are done
 * is recorded (status.maintenance.defragmentedMembers), not read from
 * dbSizeInUse: a quiet follower frees its compacted pages only at its next
 * write, which the alarm forbids, so its in-use figure stays high. If the
 * files still fill the quota after that, disarming would only raise the
 * alarm again: it is reported instead (SP_STUCK) with what a person can do.
 *
 * Threshold defragmentation: only on a settled cluster (the caller says so:
 * no scaling, roll, upgrade or suspension), every member healthy, and only
 * a member whose free space is worth a pause.
 *
 * No I/O, no clock, no allocation.
 */
#ifndef EO_SPACE_H
#define EO_SPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"

/* During a NOSPACE recovery a member is defragmented when this share of
 * its file is free (after the compaction most of it usually is). */
#define SP_RECOVER_PCT 10
/* Below this much free space a defragmentation is not worth a pause. */
#define SP_MIN_FREE_BYTES (1LL << 20)
/* Disarming while the data in use is above this share of the quota would
 * only raise the alarm again. */
#define SP_FULL_PCT 90
/* Each member applies a compaction on its own, and frees the pages in the
 * background after it: its dbSizeInUse drops a moment later, and a
 * defragmentation before that frees nothing. A recovery waits this long
 * after its compaction before it picks the first member. */
#define SP_COMPACT_SETTLE_MS 5000

struct sp_member {
	uint64_t id;
	char name[64];
	bool leader;
	bool reachable; /* its status answered, as itself */
	bool ready;     /* … and it is healthy (knows a leader, no error); an alarm aside */
	int64_t db_size, db_in_use;
};

struct sp_observed {
	struct sp_member m[EC_MAX_MEMBERS];
	int n;
	bool nospace;                /* a NOSPACE alarm is active */
	int64_t revision;            /* the store's current revision (0: unknown) */
	int64_t compacted_revision;  /* status.maintenance.compactedRevision */
	int64_t quota_bytes;         /* the backend quota the members run with */
	int64_t threshold_pct;       /* spec.maintenance.defragThreshold; 0: never */
	bool settled;                /* nothing else in flight (the caller's word) */
	int64_t now_ms;              /* wall clock, Unix ms */
	int64_t compacted_at_ms;     /* when compacted_revision was compacted (0: unknown) */
	uint64_t done[EC_MAX_MEMBERS]; /* defragmented by this recovery since it compacted */
	int ndone;
};

enum sp_kind {
	SP_NONE,    /* nothing to do */
	SP_WAIT,    /* a recovery waits (a member does not answer) */
	SP_COMPACT, /* compact to revision */
	SP_DEFRAG,  /* defragment member m */
	SP_DISARM,  /* deactivate the NOSPACE alarm */
	SP_STUCK,   /* NOSPACE, compacted and defragmented, still full: report */
};
const char *sp_kind_name(enum sp_kind k);

struct sp_action {
	enum sp_kind kind;
	int member;        /* SP_DEFRAG: index into o->m */
	int64_t revision;  /* SP_COMPACT */
	bool recovery;     /* part of a NOSPACE recovery */
	char message[256]; /* for the log, the Event and status.maintenance.lastAction */
};

/* Fragmentation of a member in percent (0 when unknown). */
int sp_fragmentation(const struct sp_member *m);

void sp_decide(const struct sp_observed *o, struct sp_action *a);

#endif
