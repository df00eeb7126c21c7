/*
 * scaling.h — the scaling protocol of DESIGN §4 as one pure function:
 * an observed snapshot of a cluster in, the one next action out.
 *
 * The one idea: the decision is derived from what is observed right now —
 * etcd's member list (learner flags, health, raft indexes), the StatefulSet,
 * the Pods and the claims — and never from what the controller remembers.
 * status.scaling (the step in flight, written before each step is taken) only
 * adds what cannot be observed: when a step started (for the step timeout)
 * and that a rollback happened (so it is not retried in a hot loop). A
 * controller that crashed after any action therefore resumes by calling
 * sc_decide on the next observation; test/unit/test_scaling.c replays every
 * such crash point.
 *
 * Ordinals are integers taken from peer URLs and Pod names, never compared
 * as text ("demo-10" sorts before "demo-2" as a string).
 *
 * No I/O, no clock (now comes in the snapshot), no allocation.
 */
#ifndef EO_SCALING_H
#define EO_SCALING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

/* The Pod annotation a roll compares (roll.h). */
#define SC_ANN_REVISION "etcd.k8s-operator.io/revision"

/* Ordinals the snapshot can hold (spec.replicas is at most 9). */
#define SC_MAX_ORDINALS EC_MAX_MEMBERS

/* One etcd member as observed: the member list plus its own status. */
struct sc_member {
	uint64_t id;
	char name[64];        /* "" until the member has started once */
	char peer_url[256];
	char client_url[256]; /* advertised, else derived from the peer URL */
	int ordinal;          /* from the peer URL; -1: not one of this cluster's */
	bool learner;
	bool reachable;       /* its maintenance status answered */
	bool mismatch;        /* … but as another member or another cluster (the Pod runs
				 on other data: a cluster founded anew, a wrong volume):
				 never healthy, never a voter behind the client Service */
	uint64_t answered_id, answered_cluster; /* who answered, when mismatch */
	bool healthy;         /* reachable as itself, knows a leader, no alarm */
	uint64_t leader_seen; /* the leader id in its status; 0: none */
	uint64_t raft_index;
	uint64_t raft_applied_index;
	int64_t db_size;
	char version[32];     /* the etcd version it reports; "" unknown */
	/* Space (space.h): what its status says of its database and alarms. */
	int64_t db_size_in_use;
	int64_t revision;     /* the store's revision it reports */
	bool nospace;         /* its status names the NOSPACE alarm */
};

/* One Pod of the StatefulSet, by ordinal. */
struct sc_pod {
	bool exists;
	bool ready;
	bool terminating;      /* metadata.deletionTimestamp set */
	bool bootstrap;        /* its bootstrap annotation still lets its init step found a
				  cluster (made while the template allowed it) */
	bool initializing;     /* its init step (member-init) has not finished */
	int64_t init_since_ms; /* wall ms since when it is initializing; 0: unknown */
	bool volume_lost;      /* its init step said so: it exited with member-init's
				  lost-volume status (now or as its last termination);
				  or the guard in etcd's container did (guard_refused) */
	bool guard_refused;    /* etcd's container is not running, and its latest start was
				  refused by the guard with that status: no data under a
				  configuration that has run. Only a new Pod runs the
				  init step again, which can let it start */
	int64_t refused_since_ms; /* … since when the Pod is not ready (wall ms); 0: unknown */
	char revision[24];         /* its annotation SC_ANN_REVISION: what it was made to run
				      with that a running member cannot take in (sc_roll) */
	char image[256];           /* its etcd container's image */
	char pod_spec[24];         /* its annotation EC_ANN_POD_SPEC (spec.pod, extraArgs) */
	int64_t created_ms;        /* metadata.creationTimestamp, wall ms; 0: unknown */
	char waiting_reason[64];   /* a container's waiting reason: ErrImagePull, CrashLoopBackOff */
	char waiting_message[160];
};

/*
 * Everything sc_decide looks at. The caller fills it from the API and etcd;
 * ec is the parsed EtcdCluster as read (its status is what the controller
 * wrote last, status.scaling included).
 */
struct sc_observed {
	struct etcd_cluster ec;

	/* Owned objects. */
	bool peer_service, client_service, statefulset, pdb;
	int pdb_max_unavailable; /* the PDB's spec.maxUnavailable as observed; -1: unknown */
	int sts_replicas;   /* spec.replicas of the StatefulSet */
	bool sts_bootstrap; /* its template still allows ordinal 0 to bootstrap */
	char sts_revision[24]; /* its template's SC_ANN_REVISION */
	char sts_image[256];   /* its template's etcd image */
	char sts_pod_spec[24]; /* its template's EC_ANN_POD_SPEC */
	bool sts_current;      /* the StatefulSet controller has seen its latest spec */
	struct sc_pod pods[SC_MAX_ORDINALS];
	bool pvcs[SC_MAX_ORDINALS];            /* claim data-<name>-<k> exists */
	bool pvc_terminating[SC_MAX_ORDINALS]; /* … and is being deleted */
	bool pvc_foreign[SC_MAX_ORDINALS];     /* … and is older than the EtcdCluster: left
						  by a deleted cluster of the same name */

	/* etcd. */
	bool etcd_answered; /* a member list was read */
	bool members_quorum_read; /* … through a linearizable (quorum) read: only then may
				     membership, the StatefulSet or a claim be changed —
				     a member's local list can lag (it misses a member just
				     added or promoted, or keeps one just removed) */
	char etcd_error[200]; /* why not, when not (or why the list is not a quorum read) */
	uint64_t cluster_id;
	struct sc_member members[EC_MAX_MEMBERS];
	int nmembers;

	/* Time and knobs. */
	int64_t now_ms;             /* wall clock, Unix ms */
	char now_rfc3339[32];
	int64_t step_timeout_ms;    /* --step-timeout */
	int64_t replace_grace_ms;   /* a started member whose Pod's init step reported its
				       volume lost, and is still in it this long, is
				       replaced (0 → 30 s) */
	int64_t rollback_backoff_ms; /* wait after a rollback before retrying the same
					spec (0 → 2 × step timeout, at least 10 s) */
};

enum sc_kind {
	SC_NONE,               /* settled: nothing to do */
	SC_WAIT,               /* a step is in flight or a report changed: look again soon */
	SC_CREATE_RESOURCES,   /* create the missing Services / StatefulSet / PDB */
	SC_SET_BOOTSTRAP_DONE, /* take the bootstrap permission from the template and from
				  every Pod that has it (status.clusterID recorded) */
	SC_ADD_LEARNER,        /* MemberAdd peer_url as a learner */
	SC_RAISE_STS,          /* StatefulSet replicas → replicas */
	SC_PROMOTE,            /* MemberPromote member_id */
	SC_TRANSFER_LEADERSHIP, /* move leadership from member_id to target_id */
	SC_REMOVE_MEMBER,      /* MemberRemove member_id (scale-down) */
	SC_LOWER_STS,          /* StatefulSet replicas → replicas */
	SC_DELETE_PVC,         /* delete the claim of ordinal */
	SC_ROLLBACK,           /* MemberRemove the learner member_id (its Pod never came) */
	SC_REPLACE_MEMBER,     /* MemberRemove member_id, whose Pod lost its volume */
	SC_DELETE_POD,         /* delete the Pod of ordinal, whose etcd the guard refuses and
				  which has no started member (removed, or added again):
				  its replacement's init step joins the cluster */
	SC_RESTART_POD,        /* delete the Pod of ordinal, a healthy voter, to make it again
				  on its data with the template's revision (roll.h) */
	SC_PATCH_REPLICAS,     /* spec.replicas → replicas, one step toward the target */
	SC_DROP_TARGET,        /* remove the target annotation (reached) */
	SC_REPORT_DEGRADED,    /* quorum lost or a cluster the protocol cannot reason about */
};
const char *sc_kind_name(enum sc_kind k);

struct sc_action {
	enum sc_kind kind;
	int ordinal;        /* ADD_LEARNER, DELETE_PVC, DELETE_POD, REPLACE, ROLLBACK: the ordinal */
	int replicas;       /* CREATE / RAISE / LOWER: StatefulSet; PATCH: spec.replicas */
	bool bootstrap;     /* CREATE: the template allows bootstrap */
	uint64_t member_id; /* PROMOTE, REMOVE, ROLLBACK, REPLACE; TRANSFER: the leader */
	uint64_t target_id; /* TRANSFER: the new leader */
	char peer_url[256]; /* ADD_LEARNER */

	/* status.scaling as it must read before the action is taken
	 * (active false: cleared). */
	struct ec_scaling scaling;

	/* The report: phase and the three conditions. */
	enum ec_phase phase;
	bool hold_generation; /* keep status.observedGeneration (a rollback waits for a spec change) */
	char progressing_status[8], progressing_reason[64], progressing_message[256];
	char degraded_status[8], degraded_reason[64], degraded_message[256];

	/* The Event for this decision ("" reason: none), and the log line. */
	char event_reason[40];
	bool event_warning;
	char message[256];

	int64_t requeue_ms; /* look again after this long */
	bool staging;       /* the next step of a staged scale (the membership is settled):
			       a roll holds it until every member runs the new image */
	bool settled_wait;  /* nothing pending, a voter not healthy: a roll may look (its
			       Pod may be the one the roll made, or must make again) */
};

/* The next action. Never fails: a state it cannot reason about is reported
 * (SC_REPORT_DEGRADED or SC_WAIT with a message), never acted on. */
void sc_decide(const struct sc_observed *o, struct sc_action *a);

/*
 * spec.suspended (scaling_suspend.c): when the cluster is suspended, or is
 * resuming from Suspended (the phase on record), fill a with the step
 * (SC_LOWER_STS one Pod at a time, SC_RAISE_STS to spec.replicas at once,
 * SC_WAIT, SC_NONE) and return true; sc_decide is not called then. false:
 * the protocol's (call sc_decide).
 */
bool sc_suspension(const struct sc_observed *o, struct sc_action *a);

/*
 * The roll (scaling_roll.c): when a (from sc_decide) is SC_NONE, the next
 * step of making again, on its data, one at a time, followers first, every
 * member's Pod that differs from the template — its etcd image (an
 * upgrade: phase Upgrading), or, when want is not "", its revision
 * annotation (a CA rotation; the template must carry want). SC_RESTART_POD,
 * SC_TRANSFER_LEADERSHIP or SC_WAIT; a is left alone otherwise. A Pod made
 * again that is not ready within the step timeout stops the roll
 * (Progressing False, UpgradeStalled). Returns the Pods still to make again
 * (0: none), or -1 when it did not look (a was not SC_NONE, or the template
 * is not there yet).
 */
int sc_roll(const struct sc_observed *o, const char *want, struct sc_action *a);

/*
 * The status to publish for this observation and decision: members (sorted
 * by ordinal), voters, healthy voters, learners, leader, clusterID (recorded
 * once), selector, phase, scaling and the conditions Available, Progressing,
 * Degraded (last transition times kept from the old status when the status
 * of a condition is unchanged).
 */
void sc_status(const struct sc_observed *o, const struct sc_action *a, struct ec_status *out);

/* Whether the Pod of ordinal k should carry the voter label that the client
 * Service selects: its member is a started voter that is not about to leave,
 * answers as itself, and the Pod can no longer found a cluster (the founding
 * is recorded in status.clusterID and its bootstrap permission is gone). */
bool sc_pod_is_voter(const struct sc_observed *o, const struct sc_action *a, int k);

/* The PodDisruptionBudget's maxUnavailable: the failure tolerance of the
 * voters, or of spec.replicas when fewer (a scale-down tightens the budget
 * before a voter leaves, so a drain cannot take a second one meanwhile). */
int sc_pdb_max_unavailable(const struct sc_observed *o);

/* Names and URLs. */
/* "http://<name>-<k>.<name>-peer.<ns>.svc.<domain>:2380" */
void sc_peer_url(const struct etcd_cluster *c, int k, char *out, size_t size);
/* "http://<name>-<k>.<name>-peer.<ns>.svc.<domain>:2379" */
void sc_client_url(const struct etcd_cluster *c, int k, char *out, size_t size);
/* The ordinal a peer URL names in this cluster, or -1. */
int sc_ordinal_of_peer_url(const struct etcd_cluster *c, const char *url);
/* The ordinal in "<prefix><k>" (k decimal without leading zeros), or -1. */
int sc_ordinal_of_name(const char *prefix, const char *name);
/* The label selector of the member Pods (status.selector). */
void sc_selector(const struct etcd_cluster *c, char *out, size_t size);

#endif
