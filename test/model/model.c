/*
 * model.c — the world of model.h, played against the real decision.
 *
 * Each event copies the state, moves it, then normalises it (the leader
 * re-elected as etcd would, member tags renumbered per ordinal) and checks
 * the invariants; violations found inside a transition (a decision, an
 * action, an init step) are reported the same way. Who plays what:
 *   etcd         the member list, learners, catch-up, the leader, and the
 *                refusals of --strict-reconfig-check (too many learners,
 *                not in sync, not enough started members, unhealthy cluster)
 *   StatefulSet  Pods 0..replicas-1 exist (Parallel), higher ones terminate;
 *                a Pod gets its claim when it has none
 *   kubelet      the init step runs the real mi_decide on what the Pod would
 *                read; etcd then runs on the data it chose (a removed
 *                member's data: etcd exits, the container crash-loops)
 *   user         the script's spec edits, each through the real admission
 *                rules (policy_admit) against the object as stored
 *   controller   DECIDE = observe + sc_decide + sc_status (+ the PDB), ACT =
 *                the action; a crash drops the action between the two
 */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../controller/member_init.h"
#include "json.h"
#include "policy.h"

#define CLUSTER_ID 77ULL
#define OTHER_CLUSTER_ID 78ULL
#define BASE_S 1700000000LL
#define STEP_TIMEOUT_MS 30000
#define BACKOFF_MS 60000
/* status.scaling.startedAt this long ago, per age class: fresh, past the
 * step timeout, past the rollback back-off. */
static const int age_s[3] = {0, 40, 70};

static struct md_config cfg;
static long seen_kind[SC_REPORT_DEGRADED + 1], seen_verdict[MI_WAIT + 1], seen_refusal;
static struct etcd_cluster tmpl;
static int nord; /* ordinals in play */

static const char *const step_names[] = {
	"", EC_STEP_ADD_LEARNER, EC_STEP_START_POD, EC_STEP_CATCH_UP, EC_STEP_PROMOTE,
	EC_STEP_VERIFY, EC_STEP_TRANSFER_LEADERSHIP, EC_STEP_REMOVE_MEMBER, EC_STEP_SHRINK,
	EC_STEP_DELETE_VOLUME, EC_STEP_ROLLBACK, EC_STEP_REPLACE,
};

static const char *const event_names[EV_N] = {
	[EV_DECIDE] = "controller decides",
	[EV_DECIDE_LOST] = "controller decides, status write LOST",
	[EV_ACT] = "controller acts",
	[EV_CRASH] = "controller CRASHES (pending action lost)",
	[EV_TICK] = "world tick",
	[EV_TIME] = "time passes",
	[EV_USER] = "user runs kubectl etcd scale",
	[EV_EDIT] = "user edits the object (kubectl patch)",
	[EV_STALL] = "FAULT: Pod stalls",
	[EV_UNSTALL] = "Pod recovers",
	[EV_DNS] = "FAULT: DNS delay, Pod cannot reach peers",
	[EV_UNDNS] = "DNS resolves for Pod",
};

const char *md_event_name(int ev)
{
	return ev >= 0 && ev < EV_N ? event_names[ev] : "?";
}

bool md_event_takes_ordinal(int ev)
{
	return ev == EV_STALL || ev == EV_UNSTALL || ev == EV_DNS || ev == EV_UNDNS;
}

/* ---- ids, names, small helpers -------------------------------------- */

static uint64_t mid(int k, int tag)
{
	return 100 + 10 * (uint64_t)k + (uint64_t)tag;
}

static bool mid_decode(uint64_t id, int *k, int *tag)
{
	if (id < 100 || id >= 100 + 10 * MD_ORD)
		return false;
	*k = (int)((id - 100) / 10);
	*tag = (int)((id - 100) % 10);
	return *tag > 0;
}

static void violate(struct md_violation *v, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void violate(struct md_violation *v, const char *what, const char *fmt, ...)
{
	if (!v || v->what[0])
		return; /* the first one found is the one reported */
	va_list ap;
	va_start(ap, fmt);
	eo_strlcpy(v->what, what, sizeof(v->what));
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

static void say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(FILE *f, const char *fmt, ...)
{
	if (!f)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("        ", f);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	va_end(ap);
}

static bool is_voter(const struct mstate *s, int k)
{
	return s->m_tag[k] && !s->m_learner[k];
}

/* etcd of Pod k runs as its ordinal's member and reaches its peers. */
static bool connected(const struct mstate *s, int k)
{
	return s->m_tag[k] && s->pod[k] == POD_RUN && s->run_tag[k] == s->m_tag[k] &&
	       !s->stall[k] && !s->dns[k];
}

static int count_voters(const struct mstate *s)
{
	int n = 0;
	for (int k = 0; k < nord; k++)
		n += is_voter(s, k);
	return n;
}

static int count_learners(const struct mstate *s)
{
	int n = 0;
	for (int k = 0; k < nord; k++)
		n += s->m_tag[k] && s->m_learner[k];
	return n;
}

static void rfc3339(int64_t secs, char out[32])
{
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int step_index(const char *step)
{
	for (size_t i = 1; i < EO_ARRAY_LEN(step_names); i++)
		if (strcmp(step_names[i], step) == 0)
			return (int)i;
	return -1;
}

static bool acting(enum sc_kind k)
{
	return k != SC_NONE && k != SC_WAIT && k != SC_REPORT_DEGRADED;
}

/* ---- the EtcdCluster: compact ⇄ parsed ------------------------------- */

static void ec_expand(const struct mstate *s, struct etcd_cluster *ec)
{
	*ec = tmpl;
	ec->spec.replicas = s->spec;
	ec->target = s->target ? s->target : EC_TARGET_NONE;
	if (s->target)
		snprintf(ec->target_raw, sizeof(ec->target_raw), "%d", s->target);
	ec->generation = s->gen_ok ? 1 : 2;

	struct ec_status *st = &ec->status;
	memset(st, 0, sizeof(*st));
	st->phase = (enum ec_phase)s->st_phase;
	st->observed_generation = 1;
	st->replicas = s->st_replicas;
	st->ready_replicas = s->st_ready;
	st->learners = s->st_learners;
	snprintf(st->cluster_id, sizeof(st->cluster_id), "%llu", CLUSTER_ID);
	sc_selector(ec, st->selector, sizeof(st->selector));
	if (s->sc_active) {
		struct ec_scaling *sc = &st->scaling;
		sc->active = true;
		sc->from = s->sc_from;
		sc->to = s->sc_to;
		eo_strlcpy(sc->step, step_names[s->sc_step], sizeof(sc->step));
		if (s->sc_mord)
			snprintf(sc->member_id, sizeof(sc->member_id), "%llu",
				 (unsigned long long)mid(s->sc_mord - 1, s->sc_mtag));
		rfc3339(BASE_S - age_s[s->sc_age], sc->started_at);
	}
	for (int k = 0; k < nord; k++) {
		if (!(s->stm[k] & 1))
			continue;
		struct ec_member *m = &st->members[st->nmembers++];
		snprintf(m->name, sizeof(m->name), "demo-%d", k);
		snprintf(m->id, sizeof(m->id), "%llu", (unsigned long long)mid(k, s->stm_tag[k]));
		sc_peer_url(ec, k, m->peer_url, sizeof(m->peer_url));
		sc_client_url(ec, k, m->client_url, sizeof(m->client_url));
		m->learner = s->stm[k] & 2;
		m->healthy = s->stm[k] & 4;
		m->leader = s->stm[k] & 8;
		if (m->leader)
			eo_strlcpy(st->leader, m->name, sizeof(st->leader));
	}
}

/* The status as written, back into the state. */
static void status_compact(const struct ec_status *st, int64_t generation, struct mstate *s,
			   struct md_violation *v)
{
	s->st_phase = (uint8_t)st->phase;
	s->gen_ok = st->observed_generation == generation;
	s->st_replicas = (uint8_t)st->replicas;
	s->st_ready = (uint8_t)st->ready_replicas;
	s->st_learners = (uint8_t)st->learners;
	s->sc_active = st->scaling.active;
	s->sc_step = s->sc_from = s->sc_to = s->sc_mord = s->sc_mtag = s->sc_age = 0;
	if (st->scaling.active) {
		int i = step_index(st->scaling.step);
		if (i < 0)
			violate(v, "model", "unknown step \"%s\" in status.scaling", st->scaling.step);
		s->sc_step = (uint8_t)(i < 0 ? 0 : i);
		s->sc_from = (uint8_t)st->scaling.from;
		s->sc_to = (uint8_t)st->scaling.to;
		int k, tag;
		if (st->scaling.member_id[0] &&
		    mid_decode(strtoull(st->scaling.member_id, NULL, 10), &k, &tag)) {
			s->sc_mord = (uint8_t)(k + 1);
			s->sc_mtag = (uint8_t)tag;
		}
		int64_t t = 0;
		if (eo_rfc3339_parse(st->scaling.started_at, &t) != 0)
			violate(v, "model", "status.scaling.startedAt \"%s\" unreadable",
				st->scaling.started_at);
		int64_t age = BASE_S - t;
		s->sc_age = age >= age_s[2] ? 2 : age >= age_s[1] ? 1 : 0;
	}
	memset(s->stm, 0, sizeof(s->stm));
	memset(s->stm_tag, 0, sizeof(s->stm_tag));
	for (int i = 0; i < st->nmembers; i++) {
		const struct ec_member *m = &st->members[i];
		int k = sc_ordinal_of_name("demo-", m->name), k2, tag;
		if (k < 0 || k >= nord || !mid_decode(strtoull(m->id, NULL, 10), &k2, &tag) || k2 != k) {
			violate(v, "model", "status member %s (id %s) outside the model", m->name, m->id);
			continue;
		}
		s->stm[k] = (uint8_t)(1 | (m->learner ? 2 : 0) | (m->healthy ? 4 : 0) |
				      (m->leader ? 8 : 0));
		s->stm_tag[k] = (uint8_t)tag;
	}
}

/* ---- observation: what the controller reads ---------------------------- */

static void observe(const struct mstate *s, struct sc_observed *o)
{
	memset(o, 0, sizeof(*o));
	ec_expand(s, &o->ec);
	o->peer_service = o->client_service = o->statefulset = o->pdb = true;
	o->pdb_max_unavailable = s->pdb;
	o->sts_replicas = s->sts;
	o->now_ms = BASE_S * 1000;
	rfc3339(BASE_S, o->now_rfc3339);
	o->step_timeout_ms = STEP_TIMEOUT_MS;
	o->rollback_backoff_ms = BACKOFF_MS;
	for (int k = 0; k < nord; k++) {
		struct sc_pod *p = &o->pods[k];
		p->exists = s->pod[k] != POD_NONE;
		p->terminating = s->pod[k] == POD_TERM;
		p->initializing = s->pod[k] == POD_INIT;
		p->ready = connected(s, k) && s->leader;
		if (s->pod[k] == POD_INIT && s->stall[k])
			eo_strlcpy(p->waiting_reason, "ErrImagePull", sizeof(p->waiting_reason));
		if (s->pod[k] == POD_CRASH)
			eo_strlcpy(p->waiting_reason, "CrashLoopBackOff", sizeof(p->waiting_reason));
		o->pvcs[k] = s->pvc[k] != 0;
		o->pvc_terminating[k] = s->pvc[k] == 2;
	}
	/* The member list comes from a voter that answers (the client Service). */
	bool any = false;
	for (int k = 0; k < nord; k++)
		any |= is_voter(s, k) && s->pod[k] == POD_RUN && s->run_tag[k] == s->m_tag[k] &&
		       !s->stall[k];
	if (!any) {
		eo_strlcpy(o->etcd_error, "connection refused", sizeof(o->etcd_error));
		return;
	}
	o->etcd_answered = true;
	o->members_quorum_read = s->leader != 0;
	if (!s->leader)
		eo_strlcpy(o->etcd_error, "context deadline exceeded (no leader)",
			   sizeof(o->etcd_error));
	o->cluster_id = CLUSTER_ID;
	for (int k = 0; k < nord; k++) {
		if (!s->m_tag[k])
			continue;
		struct sc_member *m = &o->members[o->nmembers++];
		m->id = mid(k, s->m_tag[k]);
		if (s->m_started[k])
			snprintf(m->name, sizeof(m->name), "demo-%d", k);
		sc_peer_url(&o->ec, k, m->peer_url, sizeof(m->peer_url));
		sc_client_url(&o->ec, k, m->client_url, sizeof(m->client_url));
		m->ordinal = k;
		m->learner = s->m_learner[k];
		m->reachable = s->pod[k] == POD_RUN && !s->stall[k];
		m->mismatch = m->reachable && s->run_tag[k] != s->m_tag[k];
		if (m->mismatch) {
			m->answered_id = mid(k, s->run_tag[k]);
			m->answered_cluster = CLUSTER_ID;
		}
		m->healthy = m->reachable && !m->mismatch && !s->dns[k] && s->leader;
		m->leader_seen = m->healthy ? mid(s->leader - 1, s->m_tag[s->leader - 1]) : 0;
		m->raft_index = 100;
		m->raft_applied_index = s->m_learner[k] && !s->m_caught[k] ? 50 : 100;
		m->db_size = 20480;
	}
}

/* ---- normalising: etcd's election, canonical tags ----------------------- */

static void renumber(uint8_t *slots[], int n)
{
	uint8_t map[16] = {0}, next = 1;
	for (int i = 0; i < n; i++) {
		uint8_t t = *slots[i];
		if (!t)
			continue;
		if (!map[t])
			map[t] = next++;
		*slots[i] = map[t];
	}
}

static void normalize(struct mstate *s)
{
	int voters = 0, up = 0, lowest = -1;
	for (int k = 0; k < nord; k++) {
		if (!s->m_tag[k])
			s->m_learner[k] = s->m_started[k] = s->m_caught[k] = 0;
		if (!s->m_learner[k])
			s->m_caught[k] = 0;
		if (s->pod[k] != POD_RUN && s->pod[k] != POD_CRASH)
			s->run_tag[k] = 0;
		if (s->pod[k] != POD_INIT)
			s->init_round[k] = 0;
		if (s->pod[k] == POD_NONE)
			s->stall[k] = s->dns[k] = 0;
		if (!s->pvc[k])
			s->data[k] = 0;
		if (!(s->stm[k] & 1))
			s->stm[k] = s->stm_tag[k] = 0;
		if (!is_voter(s, k))
			continue;
		voters++;
		if (connected(s, k)) {
			up++;
			if (lowest < 0)
				lowest = k;
		}
	}
	if (voters == 0 || up < ec_quorum(voters))
		s->leader = 0;
	else if (!s->leader || !is_voter(s, s->leader - 1) || !connected(s, s->leader - 1))
		s->leader = (uint8_t)(lowest + 1);
	if (!s->sc_active)
		s->sc_step = s->sc_from = s->sc_to = s->sc_mord = s->sc_mtag = s->sc_age = 0;
	if (!s->pend)
		s->pend_ord = s->pend_repl = s->pend_tag = s->pend_tord = s->pend_ttag =
			s->pend_voter = s->pend_pdb = s->pend_stale = 0;

	/* Member tags: only equality matters, so renumber per ordinal in a
	 * fixed order of the places that hold one. */
	for (int k = 0; k < nord; k++) {
		uint8_t zero = 0;
		uint8_t *slots[8];
		int n = 0;
		slots[n++] = &s->m_tag[k];
		slots[n++] = &s->run_tag[k];
		slots[n++] = &s->data[k];
		slots[n++] = s->sc_mord == k + 1 ? &s->sc_mtag : &zero;
		slots[n++] = &s->stm_tag[k];
		slots[n++] = s->pend && s->pend_tag && s->pend_ord == k ? &s->pend_tag : &zero;
		slots[n++] = s->pend && s->pend_tord == k + 1 ? &s->pend_ttag : &zero;
		renumber(slots, n);
	}
}

/* A tag for a new member of ordinal k: one no place holds. */
static uint8_t fresh_tag(const struct mstate *s, int k)
{
	for (uint8_t t = 1; t < 10; t++) {
		bool used = s->m_tag[k] == t || s->run_tag[k] == t || s->data[k] == t ||
			    (s->sc_mord == k + 1 && s->sc_mtag == t) || s->stm_tag[k] == t ||
			    (s->pend && s->pend_ord == k && s->pend_tag == t) ||
			    (s->pend && s->pend_tord == k + 1 && s->pend_ttag == t);
		if (!used)
			return t;
	}
	return 0;
}

/* ---- invariants of a state ----------------------------------------------- */

/* A voter counts toward quorum when healthy, or when it is down only
 * because of an injected fault and its Pod still has its data (the
 * environment's doing, not the controller's). */
static bool available(const struct mstate *s, int k)
{
	if (!is_voter(s, k))
		return false;
	if (connected(s, k))
		return true;
	return (s->stall[k] || s->dns[k]) && (s->pod[k] == POD_RUN || s->pod[k] == POD_INIT) &&
	       s->pvc[k] == 1 && s->data[k] == s->m_tag[k];
}

static void check_state(const struct mstate *s, struct md_violation *v)
{
	int voters = count_voters(s), avail = 0;
	for (int k = 0; k < nord; k++)
		avail += available(s, k);
	if (voters == 0)
		violate(v, "no-voters", "the member list has no voter left");
	else if (avail < ec_quorum(voters))
		violate(v, "quorum",
			"%d voting members but only %d healthy (or down only by an injected fault), "
			"quorum needs %d", voters, avail, ec_quorum(voters));
	if (count_learners(s) > 1)
		violate(v, "two-learners", "%d learners in the member list", count_learners(s));
	for (int k = 0; k < nord; k++)
		if (is_voter(s, k) && k >= s->sts)
			violate(v, "voter-without-pod",
				"voter demo-%d has no Pod: the StatefulSet is at %d", k, s->sts);
}

/* ---- the controller's pass ------------------------------------------------ */

/* Checks on a decision, against the observation it was made on. */
static void check_decision(const struct sc_observed *o, const struct sc_action *a,
			   struct md_violation *v)
{
	switch (a->kind) {
	case SC_CREATE_RESOURCES:
	case SC_SET_BOOTSTRAP_DONE:
	case SC_REPLACE_MEMBER:
		violate(v, "unexpected", "%s on a cluster whose resources exist, bootstrap is "
			"done and no volume was lost", sc_kind_name(a->kind));
		break;
	case SC_ADD_LEARNER:
		for (int i = 0; i < o->nmembers; i++)
			if (o->members[i].learner)
				violate(v, "two-learners", "MemberAdd of demo-%d while learner %s is in "
					"the member list", a->ordinal, o->members[i].peer_url);
		break;
	case SC_REMOVE_MEMBER:
		for (int i = 0; i < o->nmembers; i++) {
			const struct sc_member *m = &o->members[i];
			if (m->id != a->member_id && !m->learner && !m->healthy)
				violate(v, "remove-while-unhealthy",
					"MemberRemove of %llu while voter demo-%d is unhealthy",
					(unsigned long long)a->member_id, m->ordinal);
		}
		break;
	default:
		break;
	}
}

static bool do_decide(const struct mstate *in, bool lost, struct mstate *out,
		      struct md_violation *v, FILE *nar, enum sc_kind *kind)
{
	struct sc_observed o;
	struct sc_action a;
	struct ec_status st;
	observe(in, &o);
	sc_decide(&o, &a);
	if (cfg.seed_lower_first && a.kind == SC_REMOVE_MEMBER) {
		/* The second seeded bug: the Pod goes before its member does. */
		a.kind = SC_LOWER_STS;
		a.replicas = a.ordinal;
		snprintf(a.message, sizeof(a.message), "(SEEDED BUG) StatefulSet lowered to %d before "
			 "MemberRemove of demo-%d", a.ordinal, a.ordinal);
	}
	*kind = a.kind;
	if ((unsigned)a.kind < EO_ARRAY_LEN(seen_kind))
		seen_kind[a.kind]++;
	if (cfg.witness[0] && strcmp(cfg.witness, sc_kind_name(a.kind)) == 0)
		violate(v, "witness", "the decision %s", cfg.witness);
	check_decision(&o, &a, v);
	sc_status(&o, &a, &st);
	if (!lost)
		status_compact(&st, o.ec.generation, out, v);
	int pdb = o.members_quorum_read ? sc_pdb_max_unavailable(&o) : in->pdb;
	if (acting(a.kind)) {
		out->pend = (uint8_t)(a.kind + 1);
		out->pend_pdb = (uint8_t)pdb;
		out->pend_ord = (uint8_t)a.ordinal;
		out->pend_repl = (uint8_t)a.replicas;
		int k, tag;
		if (a.member_id && mid_decode(a.member_id, &k, &tag)) {
			out->pend_ord = (uint8_t)k;
			out->pend_tag = (uint8_t)tag;
		}
		if (a.target_id && mid_decode(a.target_id, &k, &tag)) {
			out->pend_tord = (uint8_t)(k + 1);
			out->pend_ttag = (uint8_t)tag;
		}
		/* The seeded bug: the operator this project replaces added the
		 * member as a voter, before its Pod existed. */
		out->pend_voter = cfg.seed_voter_first && a.kind == SC_ADD_LEARNER;
	} else {
		out->pdb = (uint8_t)pdb;
	}
	if (nar) {
		say(nar, "decision: %s%s — %s", sc_kind_name(a.kind),
		    out->pend_voter ? " (SEEDED BUG: as a VOTER)" : "", a.message);
		if (st.scaling.active)
			say(nar, "status.scaling: %s %d → %d%s", st.scaling.step, st.scaling.from,
			    st.scaling.to, lost ? " (not written)" : "");
	}
	return true;
}

/* etcd's answer to a membership change, as --strict-reconfig-check gives it. */
static const char *etcd_refuses(const struct mstate *s, enum sc_kind kind, int k, int tag,
				bool voter)
{
	int voters = count_voters(s), started = 0, active = 0;
	for (int j = 0; j < nord; j++) {
		started += is_voter(s, j) && s->m_started[j];
		active += is_voter(s, j) && connected(s, j);
	}
	if (!s->leader)
		return "context deadline exceeded (no leader)";
	switch (kind) {
	case SC_ADD_LEARNER:
		if (s->m_tag[k])
			return "peer URL exists (taken as done)";
		if (!voter && count_learners(s) > 0)
			return "too many learner members in cluster";
		if (voter && !(started == 1 && voters + 1 == 2) && started < ec_quorum(voters + 1))
			return "etcdserver: re-configuration failed due to not enough started members";
		if (active < voters)
			return "etcdserver: unhealthy cluster";
		return NULL;
	case SC_PROMOTE:
		if (s->m_tag[k] != tag)
			return "member not found";
		if (!s->m_learner[k])
			return "can only promote a learner member";
		if (!s->m_caught[k] || !connected(s, k))
			return "can only promote a learner member which is in sync with leader";
		if (started + 1 < ec_quorum(voters + 1))
			return "etcdserver: re-configuration failed due to not enough started members";
		return NULL;
	default: /* removals */
		if (s->m_tag[k] != tag)
			return "member not found (taken as done)";
		if (s->m_learner[k])
			return NULL;
		if (started - s->m_started[k] < ec_quorum(voters - 1))
			return "etcdserver: re-configuration failed due to not enough started members";
		if (connected(s, k) && active - 1 < ec_quorum(voters - 1))
			return "etcdserver: unhealthy cluster";
		return NULL;
	}
}

static void do_act(const struct mstate *in, struct mstate *s, struct md_violation *v, FILE *nar)
{
	enum sc_kind kind = (enum sc_kind)(in->pend - 1);
	int k = in->pend_ord, tag = in->pend_tag;
	s->pend = 0;
	s->pdb = in->pend_pdb; /* the reconciler syncs the PDB just before acting */
	const char *no = NULL;
	switch (kind) {
	case SC_RAISE_STS:
	case SC_LOWER_STS:
		s->sts = in->pend_repl;
		say(nar, "StatefulSet replicas → %d", s->sts);
		break;
	case SC_DELETE_PVC:
		if (!s->pvc[k]) {
			say(nar, "claim data-demo-%d: already gone", k);
			break;
		}
		if (s->data[k] && s->m_tag[k] == s->data[k])
			violate(v, "data-deleted",
				"claim data-demo-%d deleted while it holds the data of member %llu, "
				"which is in the cluster", k, (unsigned long long)mid(k, s->data[k]));
		if (s->pod[k] != POD_NONE) {
			s->pvc[k] = 2; /* kept until its Pod is gone */
		} else {
			s->pvc[k] = 0;
			s->data[k] = 0;
		}
		say(nar, "claim data-demo-%d deleted", k);
		break;
	case SC_PATCH_REPLICAS: {
		if (in->pend_stale && !cfg.patch_blind) {
			say(nar, "spec.replicas → %d: 409 Conflict (the object changed since it was "
			    "read)", in->pend_repl);
			break;
		}
		struct etcd_cluster old, next, mutated;
		ec_expand(in, &old);
		next = old;
		next.spec.replicas = in->pend_repl;
		struct policy_request req = {.op = POLICY_UPDATE, .old = &old, .new = &next};
		struct policy_decision pd;
		policy_admit(&req, &pd, &mutated);
		if (!pd.allowed) {
			say(nar, "spec.replicas → %d refused by admission: %s", in->pend_repl, pd.reason);
			break;
		}
		if (mutated.spec.replicas != in->spec)
			s->gen_ok = 0;
		s->spec = (uint8_t)mutated.spec.replicas;
		s->target = mutated.target > 0 ? (uint8_t)mutated.target : 0;
		say(nar, "spec.replicas → %d (target %d)", s->spec, s->target);
		break;
	}
	case SC_DROP_TARGET:
		if (in->pend_stale && !cfg.patch_blind) {
			say(nar, "drop target: 409 Conflict (the object changed since it was read)");
			break;
		}
		s->target = 0;
		say(nar, "target annotation dropped");
		break;
	case SC_ADD_LEARNER:
		if ((no = etcd_refuses(in, kind, k, 0, in->pend_voter))) {
			seen_refusal++;
			say(nar, "MemberAdd demo-%d: %s", k, no);
			break;
		}
		s->m_tag[k] = fresh_tag(in, k);
		s->m_learner[k] = !in->pend_voter;
		s->m_started[k] = s->m_caught[k] = 0;
		say(nar, "MemberAdd demo-%d as a %s: id %llu", k, in->pend_voter ? "VOTER" : "learner",
		    (unsigned long long)mid(k, s->m_tag[k]));
		break;
	case SC_PROMOTE:
		if ((no = etcd_refuses(in, kind, k, tag, false))) {
			seen_refusal++;
			say(nar, "MemberPromote %llu: %s", (unsigned long long)mid(k, tag), no);
			break;
		}
		s->m_learner[k] = 0;
		say(nar, "MemberPromote demo-%d", k);
		break;
	case SC_TRANSFER_LEADERSHIP: {
		int t = in->pend_tord - 1;
		if (!in->leader || in->leader - 1 != k || in->m_tag[k] != tag || t < 0 ||
		    in->m_tag[t] != in->pend_ttag || !is_voter(in, t) || !connected(in, t)) {
			say(nar, "MoveLeader: refused (leader or target changed)");
			break;
		}
		s->leader = (uint8_t)(t + 1);
		say(nar, "leadership moved from demo-%d to demo-%d", k, t);
		break;
	}
	case SC_REMOVE_MEMBER:
	case SC_ROLLBACK:
	case SC_REPLACE_MEMBER:
		if ((no = etcd_refuses(in, kind, k, tag, false))) {
			seen_refusal++;
			say(nar, "MemberRemove %llu: %s", (unsigned long long)mid(k, tag), no);
			break;
		}
		s->m_tag[k] = 0;
		say(nar, "MemberRemove demo-%d (id %llu)", k, (unsigned long long)mid(k, tag));
		break;
	default:
		violate(v, "model", "no way to act on %s", sc_kind_name(kind));
		break;
	}
}

/* ---- the kubelet: the member-init step ---------------------------------- */

static void init_config(int k, struct mi_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->pod_name, sizeof(c->pod_name), "demo-%d", k);
	eo_strlcpy(c->namespace, "default", sizeof(c->namespace));
	eo_strlcpy(c->cluster_name, "demo", sizeof(c->cluster_name));
	eo_strlcpy(c->cluster_domain, "cluster.local", sizeof(c->cluster_domain));
	eo_strlcpy(c->data_dir, "/var/lib/etcd/data", sizeof(c->data_dir));
	eo_strlcpy(c->token, "default-demo", sizeof(c->token));
	c->ordinal = k;
	c->data_rounds = 2;
	c->bootstrap_rounds = 2;
	c->retry_ms = 2000;
	sc_peer_url(&tmpl, k, c->peer_url, sizeof(c->peer_url));
	sc_client_url(&tmpl, k, c->client_url, sizeof(c->client_url));
}

static void init_list(const struct mstate *s, uint64_t cluster, int drop_k, struct mi_facts *f)
{
	f->list_known = true;
	f->members.cluster_id = cluster;
	f->members.n = 0;
	for (int j = 0; j < nord; j++) {
		if (!s->m_tag[j] || j == drop_k)
			continue;
		struct etcd_member *m = &f->members.m[f->members.n++];
		memset(m, 0, sizeof(*m));
		m->id = mid(j, s->m_tag[j]);
		if (s->m_started[j]) {
			snprintf(m->name, sizeof(m->name), "demo-%d", j);
			sc_client_url(&tmpl, j, m->client_urls[0], sizeof(m->client_urls[0]));
			m->nclient = 1;
		}
		sc_peer_url(&tmpl, j, m->peer_urls[0], sizeof(m->peer_urls[0]));
		m->npeer = 1;
		m->learner = s->m_learner[j];
	}
}

static struct mi_facts facts, whatif; /* large: kept off the stack */

static void init_step(struct mstate *s, int k, struct md_violation *v, FILE *nar)
{
	struct mi_config c;
	struct mi_decision d;
	init_config(k, &c);
	memset(&facts, 0, sizeof(facts));
	facts.has_data = s->data[k] != 0;
	facts.has_id = facts.has_data;
	facts.recorded_id = facts.has_data ? mid(k, s->data[k]) : 0;
	facts.recorded_cluster = facts.has_data ? CLUSTER_ID : 0;
	facts.round = s->init_round[k];
	if (!s->dns[k] && s->leader) {
		init_list(s, CLUSTER_ID, -1, &facts);
		facts.quorum_read = true;
	}

	/* The wipe rule under answers that are no evidence: a member's local
	 * list that lacks the id (it lags), and a quorum list of another
	 * cluster. Neither may wipe. */
	if (facts.has_data) {
		whatif = facts;
		init_list(s, CLUSTER_ID, k, &whatif);
		whatif.quorum_read = false;
		mi_decide(&c, &whatif, &d);
		if (d.verdict == MI_WIPE)
			violate(v, "wipe-without-evidence",
				"demo-%d wiped its data on a member list read without quorum: %s", k,
				d.message);
		whatif.quorum_read = true;
		whatif.members.cluster_id = OTHER_CLUSTER_ID;
		mi_decide(&c, &whatif, &d);
		if (d.verdict == MI_WIPE)
			violate(v, "wipe-without-evidence",
				"demo-%d wiped its data on the member list of another cluster: %s", k,
				d.message);
	}

	mi_decide(&c, &facts, &d);
	if ((unsigned)d.verdict < EO_ARRAY_LEN(seen_verdict))
		seen_verdict[d.verdict]++;
	if (cfg.witness[0] && strcmp(cfg.witness, mi_verdict_name(d.verdict)) == 0)
		violate(v, "witness", "demo-%d's init step says %s", k, cfg.witness);
	say(nar, "demo-%d init step: %s — %s", k, mi_verdict_name(d.verdict), d.message);
	int dk, dtag;
	switch (d.verdict) {
	case MI_START_NEW:
		violate(v, "refounded", "demo-%d founded a new cluster: %s", k, d.message);
		break;
	case MI_START_EXISTING:
		if (!facts.has_data) {
			if (!mid_decode(d.member_id, &dk, &dtag) || dk != k) {
				violate(v, "model", "demo-%d joins as unknown member %llu", k,
					(unsigned long long)d.member_id);
				break;
			}
			s->data[k] = (uint8_t)dtag;
		}
		s->pod[k] = POD_RUN;
		s->run_tag[k] = s->data[k];
		break;
	case MI_START_ON_DATA:
		s->pod[k] = POD_RUN;
		s->run_tag[k] = s->data[k];
		break;
	case MI_WIPE:
		if (s->m_tag[k] == s->data[k])
			violate(v, "data-wiped",
				"demo-%d wiped the data of member %llu, which is in the cluster", k,
				(unsigned long long)mid(k, s->data[k]));
		s->data[k] = 0;
		s->init_round[k] = 0;
		break;
	case MI_WAIT:
		if (s->init_round[k] < 2)
			s->init_round[k]++;
		break;
	}
}

/* ---- the world's tick ------------------------------------------------------ */

static void tick(struct mstate *s, struct md_violation *v, FILE *nar)
{
	bool fresh[MD_ORD] = {false};
	/* StatefulSet controller (Parallel): Pods below replicas, none above. */
	for (int k = 0; k < nord; k++) {
		switch (s->pod[k]) {
		case POD_TERM:
			s->pod[k] = POD_NONE;
			if (s->pvc[k] == 2)
				s->pvc[k] = 0;
			say(nar, "Pod demo-%d gone", k);
			break;
		case POD_INIT:
		case POD_RUN:
		case POD_CRASH:
			if (k >= s->sts) {
				s->pod[k] = POD_TERM;
				say(nar, "Pod demo-%d terminating", k);
			}
			break;
		case POD_NONE:
			if (k < s->sts && s->pvc[k] != 2) {
				s->pod[k] = POD_INIT;
				fresh[k] = true;
				if (!s->pvc[k]) {
					s->pvc[k] = 1;
					s->data[k] = 0;
				}
				say(nar, "Pod demo-%d created%s", k,
				    s->data[k] ? " on a claim that holds data" : "");
			}
			break;
		}
	}
	/* The init steps of Pods created before this tick. */
	for (int k = 0; k < nord; k++)
		if (s->pod[k] == POD_INIT && !fresh[k] && !s->stall[k])
			init_step(s, k, v, nar);
	/* etcd: a member starts (publishes its name) and a learner catches up
	 * once it reaches the leader; a removed member's etcd exits. */
	for (int k = 0; k < nord; k++) {
		if (s->pod[k] != POD_RUN || s->stall[k])
			continue;
		if (s->m_tag[k] && s->run_tag[k] == s->m_tag[k]) {
			if (!s->dns[k] && s->leader) {
				if (s->m_learner[k] && s->m_started[k] && !s->m_caught[k]) {
					s->m_caught[k] = 1;
					say(nar, "learner demo-%d caught up", k);
				}
				if (!s->m_started[k])
					say(nar, "member demo-%d started", k);
				s->m_started[k] = 1;
			}
		} else if (!s->dns[k]) {
			s->pod[k] = POD_CRASH;
			say(nar, "demo-%d: etcd exits (member %llu was removed); crash loop", k,
			    (unsigned long long)mid(k, s->run_tag[k]));
		}
	}
}

/* ---- events ------------------------------------------------------------------ */

/* The user asks for the next size of the script, either as `kubectl etcd
 * scale demo --replicas N --take-over` writes it (plugin/scale.c
 * build_patch: on a settled cluster spec.replicas N and no target, else the
 * step in flight kept and target N) or as a plain edit (spec.replicas N,
 * the annotation removed: how a step in flight is cancelled). Either goes
 * through the admission rules against the object as stored. */
static bool user_edit(const struct mstate *in, struct mstate *s, bool plugin, FILE *nar)
{
	int want = cfg.script[in->user_next];
	struct etcd_cluster old, next, mutated;
	ec_expand(in, &old);
	next = old;
	bool fresh = !plugin ||
		     (policy_settled(&old) && !(old.target >= 0 && old.target != old.spec.replicas));
	if (fresh) {
		next.spec.replicas = want;
		next.target = EC_TARGET_NONE;
		next.target_raw[0] = '\0';
	} else {
		next.target = want;
		snprintf(next.target_raw, sizeof(next.target_raw), "%d", want);
	}
	struct policy_request req = {.op = POLICY_UPDATE, .old = &old, .new = &next};
	struct policy_decision pd;
	policy_admit(&req, &pd, &mutated);
	if (!pd.allowed)
		return false; /* refused: the user tries again later */
	if (mutated.spec.replicas != in->spec)
		s->gen_ok = 0;
	s->spec = (uint8_t)mutated.spec.replicas;
	s->target = mutated.target > 0 ? (uint8_t)mutated.target : 0;
	s->user_next++;
	s->intent = (uint8_t)want;
	if (in->pend)
		s->pend_stale = 1;
	char how[64];
	snprintf(how, sizeof(how), plugin ? "kubectl etcd scale --replicas %d%s"
					  : "spec.replicas %d, annotation removed%s", want,
		 plugin && !fresh ? " --take-over" : "");
	if (s->target)
		say(nar, "%s: admission stores spec.replicas %d, target %d", how, s->spec, s->target);
	else
		say(nar, "%s: admission stores spec.replicas %d, no target", how, s->spec);
	return true;
}

bool md_step(const struct mstate *in, int ev, int k, struct mstate *out, struct md_violation *v,
	     FILE *nar)
{
	struct mstate s = *in;
	enum sc_kind kind;
	switch (ev) {
	case EV_DECIDE:
	case EV_DECIDE_LOST:
		if (in->pend || (ev == EV_DECIDE_LOST && in->n_lost >= cfg.lost_writes))
			return false;
		if (ev == EV_DECIDE_LOST)
			s.n_lost++;
		do_decide(in, ev == EV_DECIDE_LOST, &s, v, nar, &kind);
		break;
	case EV_ACT:
		if (!in->pend)
			return false;
		do_act(in, &s, v, nar);
		break;
	case EV_CRASH:
		if (!in->pend || in->n_crash >= cfg.crashes)
			return false;
		s.n_crash++;
		s.pend = 0;
		say(nar, "the decided %s is never taken; the next pass starts from status and "
		    "observation", sc_kind_name((enum sc_kind)(in->pend - 1)));
		break;
	case EV_TICK:
		tick(&s, v, nar);
		break;
	case EV_TIME:
		if (!in->sc_active || in->sc_age >= 2)
			return false;
		s.sc_age++;
		say(nar, "step %s now %s", step_names[in->sc_step],
		    s.sc_age == 1 ? "past its timeout" : "past the rollback back-off");
		break;
	case EV_USER:
	case EV_EDIT:
		if (in->user_next >= cfg.nscript || !user_edit(in, &s, ev == EV_USER, nar))
			return false;
		break;
	case EV_STALL:
		if (in->n_pod >= cfg.pod_faults || in->stall[k] ||
		    (in->pod[k] != POD_INIT && in->pod[k] != POD_RUN))
			return false;
		s.n_pod++;
		s.stall[k] = 1;
		break;
	case EV_UNSTALL:
		if (!in->stall[k])
			return false;
		s.stall[k] = 0;
		break;
	case EV_DNS:
		if (in->n_dns >= cfg.dns_faults || in->dns[k] ||
		    (in->pod[k] != POD_INIT && in->pod[k] != POD_RUN) ||
		    (in->m_tag[k] && !in->m_learner[k]))
			return false;
		s.n_dns++;
		s.dns[k] = 1;
		break;
	case EV_UNDNS:
		if (!in->dns[k])
			return false;
		s.dns[k] = 0;
		break;
	default:
		return false;
	}
	normalize(&s);
	check_state(&s, v);
	*out = s;
	return memcmp(&s, in, sizeof(s)) != 0 || (v && v->what[0]);
}

/* ---- the fault-free continuation ------------------------------------------- */

static bool settled_shape(const struct mstate *s)
{
	int F = s->intent;
	if (s->spec != F || s->target || !s->gen_ok || s->pend || s->sts != F || !s->leader ||
	    s->sc_active || s->st_phase != EC_RUNNING || s->st_ready != F || s->st_replicas != F ||
	    s->st_learners)
		return false;
	for (int k = 0; k < nord; k++) {
		if (k < F && (!is_voter(s, k) || !connected(s, k)))
			return false;
		if (k >= F && (s->m_tag[k] || s->pod[k] != POD_NONE || s->pvc[k]))
			return false;
	}
	return true;
}

static void seq(struct mstate *s, int ev, int k, struct md_violation *v)
{
	struct mstate n;
	if (md_step(s, ev, k, &n, v, NULL))
		*s = n;
}

void md_fair_step(const struct mstate *in, struct mstate *out, bool *settled,
		  struct md_violation *v)
{
	struct mstate s = *in;
	*settled = false;
	for (int k = 0; k < nord; k++) {
		seq(&s, EV_UNSTALL, k, v);
		seq(&s, EV_UNDNS, k, v);
	}
	if (s.pend) {
		seq(&s, EV_ACT, 0, v);
	} else {
		struct mstate n = s;
		enum sc_kind kind;
		struct mstate probe = s;
		do_decide(&s, false, &probe, NULL, NULL, &kind);
		normalize(&probe);
		if (kind == SC_NONE && settled_shape(&s) && memcmp(&probe, &s, sizeof(s)) == 0) {
			*settled = true;
			*out = s;
			return;
		}
		if (md_step(&s, EV_DECIDE, 0, &n, v, NULL))
			s = n;
		if (s.pend)
			seq(&s, EV_ACT, 0, v);
	}
	seq(&s, EV_TICK, 0, v);
	if (memcmp(&s, in, sizeof(s)) == 0)
		seq(&s, EV_TIME, 0, v);
	*out = s;
}

/* ---- setup and description ---------------------------------------------------- */

void md_init(const struct md_config *c)
{
	cfg = *c;
	nord = c->start;
	for (int i = 0; i < c->nscript; i++)
		if (c->script[i] > nord)
			nord = c->script[i];
	if (nord > MD_ORD)
		nord = MD_ORD;
	const char *json =
		"{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
		"\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"uid\":\"u1\","
		"\"generation\":1,\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":1}}";
	struct eo_err err = {0};
	json_object *o = json_parse(json, strlen(json), &err);
	if (!o || cluster_parse(o, &tmpl, &err) != 0) {
		fprintf(stderr, "check_scaling: the EtcdCluster template does not parse: %s\n", err.msg);
		exit(2);
	}
	json_object_put(o);
}

void md_initial(struct mstate *s)
{
	memset(s, 0, sizeof(*s));
	int n = cfg.start;
	s->spec = s->intent = (uint8_t)n;
	s->sts = (uint8_t)n;
	for (int k = 0; k < n; k++) {
		s->m_tag[k] = 1;
		s->m_started[k] = 1;
		s->pod[k] = POD_RUN;
		s->run_tag[k] = 1;
		s->pvc[k] = 1;
		s->data[k] = 1;
	}
	s->st_phase = EC_RUNNING;
	normalize(s);
	/* Let the controller publish what it sees until it has nothing to do. */
	for (int i = 0; i < 20; i++) {
		struct mstate n2;
		struct md_violation v = {.what = ""};
		bool settled;
		md_fair_step(s, &n2, &settled, &v);
		if (settled)
			return;
		*s = n2;
	}
	fprintf(stderr, "check_scaling: the starting cluster of %d does not settle\n", n);
	exit(2);
}

void md_coverage(char *out, size_t size)
{
	size_t n = 0;
	n += (size_t)snprintf(out + n, size - n, "decisions:");
	for (size_t k = 0; k < EO_ARRAY_LEN(seen_kind); k++)
		if (seen_kind[k] && n < size)
			n += (size_t)snprintf(out + n, size - n, " %s", sc_kind_name((enum sc_kind)k));
	if (n < size)
		n += (size_t)snprintf(out + n, size - n, "; init verdicts:");
	for (size_t v = 0; v < EO_ARRAY_LEN(seen_verdict); v++)
		if (seen_verdict[v] && n < size)
			n += (size_t)snprintf(out + n, size - n, " %s", mi_verdict_name((enum mi_verdict)v));
	if (n < size)
		snprintf(out + n, size - n, "; etcd refusals: %ld", seen_refusal);
}

void md_describe(const struct mstate *s, char *out, size_t size)
{
	static const char pod_ch[] = {'-', 'i', 'R', 'C', 't'};
	size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__))
	PUT("spec %d", s->spec);
	if (s->target)
		PUT("→%d", s->target);
	PUT("%s want %d | status %s %d/%d", s->gen_ok ? "" : "*", s->intent,
	    ec_phase_name((enum ec_phase)s->st_phase), s->st_ready, s->st_replicas);
	if (s->sc_active) {
		PUT(" [%s %d→%d", step_names[s->sc_step], s->sc_from, s->sc_to);
		if (s->sc_age)
			PUT(" %s", s->sc_age == 1 ? "timed-out" : "backed-off");
		PUT("]");
	}
	PUT(" | sts %d pdb %d | members", s->sts, s->pdb);
	for (int k = 0; k < nord; k++)
		if (s->m_tag[k])
			PUT(" %d:%s%s%s", k, s->m_learner[k] ? "L" : "V", s->leader == k + 1 ? "*" : "",
			    !s->m_started[k] ? "(new)" : s->m_learner[k] && s->m_caught[k] ? "(sync)" : "");
	PUT(" | pods ");
	for (int k = 0; k < nord; k++) {
		PUT("%c", pod_ch[s->pod[k]]);
		if (s->stall[k])
			PUT("!");
		if (s->dns[k])
			PUT("?");
	}
	PUT(" claims ");
	for (int k = 0; k < nord; k++)
		PUT("%c", !s->pvc[k] ? '-' : s->pvc[k] == 2 ? 'x' : !s->data[k] ? 'e'
			  : s->data[k] == s->m_tag[k] ? 'd' : 'o');
	if (s->pend)
		PUT(" | pending %s", sc_kind_name((enum sc_kind)(s->pend - 1)));
#undef PUT
}
