/*
 * scaling_world.h — a small world for the scaling tests: etcd, the
 * StatefulSet controller and the kubelet, played by data.
 *
 * Each round observes the world, decides with sc_decide, publishes the
 * status (as the reconciler does, before acting), acts, and lets the world
 * move one tick (world_tick). Invariants are checked after every round and
 * recorded in the world (quorum ever lost, a voter without its Pod, the most
 * learners at once), so a test asserts on a whole run.
 */
#ifndef EO_TEST_SCALING_WORLD_H
#define EO_TEST_SCALING_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "scaling.h"

struct wmember {
	bool present;
	uint64_t id;
	int ordinal;
	bool learner, started;
	uint64_t applied;
	int running_ticks;
};

struct world {
	struct etcd_cluster ec;
	bool created; /* services, StatefulSet, PDB */
	int sts;
	bool bootstrap_flag;
	struct wmember m[SC_MAX_ORDINALS + 4];
	int nm;
	uint64_t leader;
	uint64_t raft_index;
	uint64_t cluster_id;
	bool pod[SC_MAX_ORDINALS], pod_terminating[SC_MAX_ORDINALS];
	bool pod_bootstrap[SC_MAX_ORDINALS]; /* made while the template allowed bootstrap */
	bool pvc[SC_MAX_ORDINALS];
	bool broken[SC_MAX_ORDINALS];    /* the Pod never starts (bad image) */
	bool lost[SC_MAX_ORDINALS];      /* the Pod's volume is gone: its init step says so */
	bool slow[SC_MAX_ORDINALS];      /* the Pod sits in its init step, data intact (an
					    image pull, DNS): no evidence of anything */
	bool refused[SC_MAX_ORDINALS];   /* the volume was emptied under the running Pod: the
					    guard refuses etcd's restarts in it until the Pod
					    is deleted (its init step then runs again) */
	int64_t lost_since[SC_MAX_ORDINALS];
	bool down[SC_MAX_ORDINALS];      /* the process is down (a fault) */
	int catchup_ticks;
	int64_t now;
	uint64_t next_id;
	/* what the run saw */
	int max_learners, adds, removes, promotes, transfers, pvc_deletes, rollbacks, pod_deletes;
	int pdb_budget;   /* the PodDisruptionBudget's maxUnavailable */
	bool quorum_lost_ever;
	bool voter_without_pod;
	char events[4096];
};

/* Where world_reconcile stops, to play a controller that crashes. */
enum world_crash { NO_CRASH, CRASH_BEFORE_ACT, CRASH_AFTER_ACT };

void world_init(struct world *w, int replicas);
int world_member_at(const struct world *w, int k);
void world_observe(const struct world *w, struct sc_observed *o);
void world_tick(struct world *w);
enum sc_kind world_reconcile(struct world *w, enum world_crash crash, struct sc_action *out);
int world_run(struct world *w, int goal, int max, int crash_round, enum world_crash crash);
int world_voter_count(const struct world *w);
void world_set_spec(struct world *w, int replicas, int target);
void world_assert_settled(const struct world *w, int n);
void world_created(struct world *w, int replicas);

#endif
