/*
 * model.h — the world of the scaling model checker (check_scaling.c): etcd,
 * the StatefulSet controller, the kubelet with each Pod's member-init step,
 * the user and the controller's own pass, as one small value that a search
 * can copy, hash and compare.
 *
 * The one idea: a state is a fixed-size struct of small integers in which
 * every fact the real decision (sc_decide, and mi_decide for the init step)
 * can tell apart has exactly one encoding, so the number of distinct states
 * is finite and meaningful. Three abstractions make it so:
 *   - time is an age class of status.scaling.startedAt (fresh, past the step
 *     timeout, past the rollback back-off) instead of a clock;
 *   - member ids are (ordinal, tag) pairs, renumbered per ordinal after
 *     every event (ids are only ever compared for equality);
 *   - the EtcdCluster status is kept as the fields a decision reads (phase,
 *     counts, status.scaling, the members list), conditions and messages
 *     dropped (they feed only reports and Events).
 * Everything else — observation, the decision, the status, the actions with
 * etcd's own refusals — goes through the real code of libetcdop.
 *
 * The controller's pass is two events, DECIDE (observe, decide, publish the
 * status) and ACT (take the action): what the controller holds between them
 * is its in-memory state, which a crash loses, and the world may move in
 * between (as it does between the status write and the action in
 * controller/reconcile.c).
 */
#ifndef EO_TEST_MODEL_H
#define EO_TEST_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "scaling.h"

#define MD_ORD 6     /* ordinals the state can hold (sizes up to 6) */
#define MD_SCRIPT 6  /* spec edits in a scenario */

enum md_pod { POD_NONE, POD_INIT, POD_RUN, POD_CRASH, POD_TERM };

/* The state. Zero-filled before use (it is hashed as bytes). */
struct mstate {
	/* The EtcdCluster: spec, annotation, whether status caught up with it. */
	uint8_t spec, target;  /* target 0: no annotation */
	uint8_t gen_ok;        /* status.observedGeneration == metadata.generation */
	uint8_t user_next;     /* next edit of the script */
	uint8_t intent;        /* the size the user asked for last (accepted) */
	/* status, as written by the controller */
	uint8_t st_phase, st_replicas, st_ready, st_learners;
	uint8_t sc_active, sc_step, sc_from, sc_to, sc_mord, sc_mtag, sc_age;
	uint8_t stm[MD_ORD];   /* status.members by ordinal: bit0 present, 1 learner, 2 healthy, 3 leader */
	uint8_t stm_tag[MD_ORD];
	/* owned objects */
	uint8_t sts, pdb;
	/* etcd: at most one member per ordinal (the peer URL is the ordinal's) */
	uint8_t m_tag[MD_ORD]; /* 0: no member */
	uint8_t m_learner[MD_ORD], m_started[MD_ORD], m_caught[MD_ORD];
	uint8_t leader;        /* ordinal + 1; 0: none */
	/* Pods and claims */
	uint8_t pod[MD_ORD];   /* enum md_pod */
	uint8_t run_tag[MD_ORD];   /* POD_RUN / POD_CRASH: whose data etcd runs on */
	uint8_t init_round[MD_ORD];
	uint8_t pvc[MD_ORD];   /* 0 none, 1 bound, 2 being deleted */
	uint8_t data[MD_ORD];  /* the member (tag) whose data the claim holds; 0: empty */
	uint8_t stall[MD_ORD]; /* fault: the Pod makes no progress / its etcd is down */
	uint8_t dns[MD_ORD];   /* fault: the Pod cannot reach its peers */
	/* the controller's pass between DECIDE and ACT (its memory) */
	uint8_t pend;          /* enum sc_kind + 1; 0: none */
	uint8_t pend_ord, pend_repl, pend_tag, pend_tord, pend_ttag, pend_voter, pend_pdb;
	uint8_t pend_stale;    /* the user changed the object since the pass read it */
	/* faults used */
	uint8_t n_crash, n_lost, n_pod, n_dns;
};

enum md_event {
	EV_DECIDE,      /* observe, decide, publish the status */
	EV_DECIDE_LOST, /* … the status write is lost (the pass goes on) */
	EV_ACT,         /* take the decided action */
	EV_CRASH,       /* the controller dies between the status write and the action */
	EV_TICK,        /* the StatefulSet controller, the kubelet, the init steps, etcd move */
	EV_TIME,        /* time passes: the step's age moves to the next class */
	EV_USER,        /* the next size of the script by `kubectl etcd scale --take-over` */
	EV_EDIT,        /* … by a plain edit: spec.replicas N, the annotation removed */
	EV_STALL,       /* fault: Pod k stops making progress (bad image, process down) */
	EV_UNSTALL,
	EV_DNS,         /* fault: Pod k (a new member) cannot reach its peers */
	EV_UNDNS,
	EV_N
};

struct md_config {
	int script[MD_SCRIPT], nscript; /* the sizes the user asks for, in order */
	int start;                      /* the settled size it starts from */
	int crashes, lost_writes, pod_faults, dns_faults;
	bool seed_voter_first;          /* the seeded bug: MemberAdd a voter, not a learner */
	bool seed_lower_first;          /* another: the StatefulSet lowered instead of MemberRemove */
	char witness[32];               /* a decision or init verdict to stop at, as a
					   "violation" named witness: its shortest trace */
	bool patch_blind;               /* the controller's patches of the EtcdCluster carry no
					   resourceVersion (controller/reconcile.c today): they
					   land on whatever the user wrote since the pass read it */
};

/* What went wrong in a transition ("" when nothing). */
struct md_violation {
	char what[48];
	char detail[400];
};

void md_init(const struct md_config *cfg);
/* The starting state: a cluster settled at cfg->start members. */
void md_initial(struct mstate *s);
/*
 * Apply event ev (with ordinal k where it takes one) to in. Returns false
 * when the event is not enabled or changes nothing. v receives a violation
 * found in the transition or in the resulting state; narrate (may be NULL)
 * receives a readable account of the transition.
 */
bool md_step(const struct mstate *in, int ev, int k, struct mstate *out, struct md_violation *v,
	     FILE *narrate);
/*
 * The fault-free continuation: faults healed, the pending action taken, one
 * controller pass, one tick, and time passing only when nothing else moves.
 * Sets *settled when s is settled at the user's intent (nothing to do).
 */
void md_fair_step(const struct mstate *s, struct mstate *out, bool *settled,
		  struct md_violation *v);
/* One line describing the world. */
void md_describe(const struct mstate *s, char *out, size_t size);
const char *md_event_name(int ev);
/* What the search made the real code say: decisions and init-step verdicts seen. */
void md_coverage(char *out, size_t size);
bool md_event_takes_ordinal(int ev);

#endif
