/*
 * leader.h — leader election on a coordination.k8s.io/v1 Lease, with
 * client-go's timing (lease 15 s, renew deadline 10 s, retry 2 s), so two
 * controller replicas are safe: only the holder acts; one that cannot renew
 * within the deadline stops acting and exits (the Pod restarts as a standby).
 */
#ifndef EO_CONTROLLER_LEADER_H
#define EO_CONTROLLER_LEADER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "eo.h"
#include "kube.h"

struct leader_opts {
	const char *namespace; /* of the Lease */
	const char *name;      /* of the Lease */
	const char *identity;  /* this replica (holderIdentity) */
	int lease_s, renew_deadline_s, retry_s; /* 0 → 15, 10, 2 */
};

/*
 * What a replica remembers of the Lease it does not hold: the record it saw
 * last and when (its own monotonic clock). A Lease is taken over only when
 * the record has not changed for a whole lease duration on this clock, so
 * the holder's and this replica's wall clocks never have to agree.
 */
struct leader_seen {
	char holder[128];
	char renew_time[40];
	char resource_version[32];
	int64_t changed_at_ms; /* monotonic; 0: never seen */
};

/* Pure: may `me` take (or keep) the Lease whose spec is lease_spec (NULL: no
 * Lease yet), at monotonic now_ms? Updates *seen. */
bool leader_may_take(struct leader_seen *seen, json_object *lease, const char *me,
		     int64_t now_ms);

struct leader;
struct leader *leader_new(struct kube_client *kc, const struct leader_opts *o); /* leader_free */
void leader_free(struct leader *l);

/* Block until this replica holds the Lease (0) or *stop is set (-1). */
int leader_acquire(struct leader *l, volatile sig_atomic_t *stop, struct eo_err *err);
/* Renew in a thread; when a renewal has not succeeded for the renew
 * deadline (or another replica holds the Lease), on_lost(ud) is called once
 * from that thread. */
int leader_start_renewing(struct leader *l, void (*on_lost)(void *ud), void *ud,
			  struct eo_err *err);
/* Stop renewing; if still the holder, give the Lease up at once (holder
 * cleared, duration 1 s) so a standby takes over without waiting. */
void leader_release(struct leader *l);

#endif
