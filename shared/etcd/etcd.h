/*
 * etcd.h — an etcd v3 client over the JSON gateway (grpc-gateway) on libcurl.
 *
 * Gateway facts this builds on: every /v3/... call is a POST; 64-bit ids and
 * counters are JSON strings in decimal; keys and values are base64; fields
 * that are false/0/empty are omitted; errors are {"error","message","code"}
 * with an HTTP status derived from the gRPC code (9 → 412, 14 → 503).
 *
 * Every call has a deadline (a MemberRemove on a cluster without quorum
 * hangs forever otherwise); the deadline covers the whole call, all
 * endpoints included. Cluster-wide calls try the endpoints in order and move
 * on after a connection failure, or when the endpoint is a learner (it
 * refuses before doing anything); an answer from etcd is final. Per-member
 * calls (status, transfer-leadership, health) go to the one endpoint named.
 */
#ifndef EO_ETCD_H
#define EO_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eo.h"

/* etcd's errors, classified by meaning (err->code). */
enum {
	ETCD_EBASE = 1000,
	ETCD_ENOT_SYNCED,        /* "can only promote a learner member which is in sync with leader": retry */
	ETCD_ETOO_MANY_LEARNERS, /* "too many learner members in cluster" */
	ETCD_EUNHEALTHY,         /* "unhealthy cluster" (strict reconfig check): retry */
	ETCD_EMEMBER_NOT_FOUND,  /* "member not found" */
	ETCD_EPEER_URL_EXISTS,   /* "Peer URLs already exists" */
	ETCD_ENOT_LEARNER,       /* "can only promote a learner member" */
	ETCD_ELEARNER,           /* "rpc not supported for learner" */
	ETCD_ENOT_LEADER,        /* "not leader" (transfer-leadership sent to a follower) */
	ETCD_ENO_LEADER,         /* "no leader" */
	ETCD_EOTHER,             /* any other gateway error; msg has etcd's text */
	/* Added later; new codes are only ever appended. */
	ETCD_EMEMBER_EXISTS,     /* "member ID already exist": the same peer URL was added within the same second */
	ETCD_ENOT_ENOUGH_STARTED,/* "re-configuration failed due to not enough started members": retry */
	ETCD_EBAD_TRANSFEREE,    /* "bad leader transferee": target is a learner or not a member */
	ETCD_ELEADER_CHANGED,    /* "leader changed": retry */
	ETCD_ETIMEDOUT,          /* etcd's own deadline ("request timed out", "context deadline exceeded"):
				  * a write may still be applied, observe before retrying */
};
/* etcd's own "not yet": a learner not in sync, the strict reconfig check
 * (unhealthy, not enough started members), no leader or a leader change.
 * The cluster answered; asking again soon is the whole remedy. */
bool etcd_err_not_yet(const struct eo_err *err);
/* Errors worth retrying after a short wait: etcd_err_not_yet, transport
 * failures, timeouts. */
bool etcd_err_retryable(const struct eo_err *err);
/* Short name of an ETCD_E* / EO_E* code for logs ("ENOT_SYNCED"); HTTP
 * statuses give "HTTP". Static string. */
const char *etcd_err_name(int code);

/* TLS for https:// endpoints: files, or PEM text in memory (the controller
 * holds its client certificate from a Secret and writes no key to disk).
 * Each pair may be NULL; PEM text wins over a file. The client copies what
 * it is given and wipes its copy of the key when freed. */
struct etcd_tls {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *ca_pem;
	const char *cert_pem;
	const char *key_pem;
};

/* Not thread-safe: one client per thread (it keeps one libcurl handle so
 * connections are reused; names are resolved afresh on every call). */
struct etcd_client;

/* endpoints: "http://127.0.0.2:2379" …; copied. tls may be NULL.
 * timeout_ms: per-call deadline (0 → 5000). Free with etcd_client_free. */
struct etcd_client *etcd_client_new(const char *const *endpoints, size_t n,
				    const struct etcd_tls *tls, long timeout_ms,
				    struct eo_err *err);
void etcd_client_free(struct etcd_client *c);
void etcd_client_set_timeout(struct etcd_client *c, long timeout_ms);

#define ETCD_MAX_URLS 4
struct etcd_member {
	uint64_t id;
	char name[128];                  /* "" until the member has started */
	char peer_urls[ETCD_MAX_URLS][256];
	int npeer;
	char client_urls[ETCD_MAX_URLS][256]; /* none until the member has started */
	int nclient;
	bool learner;
};

#define ETCD_MAX_MEMBERS 16
struct etcd_members {
	uint64_t cluster_id;
	uint64_t responder_id;  /* the member that answered */
	struct etcd_member m[ETCD_MAX_MEMBERS];
	int n;
};

/* Member list. linearizable: ask with quorum. 3.5+ honours the request
 * field; 3.4 ignores it silently and answers from the member's local copy
 * even without quorum, so with linearizable the client first makes a
 * linearizable (quorum) read on the same endpoint and only then lists:
 * a member cut off from quorum then fails (ETCD_ETIMEDOUT / EO_ETIMEOUT)
 * instead of answering a stale list. */
int etcd_member_list(struct etcd_client *c, bool linearizable, struct etcd_members *out,
		     struct eo_err *err);
/* Add one member with its peer URL; out (may be NULL) gets its id.
 * Writes (add, promote, remove, put) move to the next endpoint only when
 * the request was never sent; a timeout after sending is EO_ETIMEOUT and
 * the change may still happen: list members before adding again. */
int etcd_member_add(struct etcd_client *c, const char *peer_url, bool learner,
		    struct etcd_member *out, struct eo_err *err);
int etcd_member_promote(struct etcd_client *c, uint64_t id, struct eo_err *err);
int etcd_member_remove(struct etcd_client *c, uint64_t id, struct eo_err *err);

struct etcd_status {
	char version[32];
	int64_t db_size;
	uint64_t leader;         /* member id of the leader as this member sees it; 0: none */
	uint64_t member_id;      /* this member */
	uint64_t raft_index;
	uint64_t raft_term;
	uint64_t raft_applied_index;
	bool is_learner;
	char errors[256];        /* "; "-joined alarms/errors, or "" */
	/* Added later. */
	uint64_t cluster_id;
	int64_t db_size_in_use;
	int64_t revision;        /* header.revision: the store's current revision */
	bool nospace;            /* errors name the NOSPACE alarm */
};
/* Maintenance status of the member at endpoint. */
int etcd_status(struct etcd_client *c, const char *endpoint, struct etcd_status *out,
		struct eo_err *err);
/* Move leadership to target; must be sent to the current leader's endpoint. */
int etcd_move_leader(struct etcd_client *c, const char *leader_endpoint, uint64_t target_id,
		     struct eo_err *err);
/* GET /health on one endpoint: 0 when {"health":"true"}. */
int etcd_health(struct etcd_client *c, const char *endpoint, struct eo_err *err);

/*
 * Space (issue 14): alarms, compaction, defragmentation. etcd keeps alarms
 * per member, replicated through raft: the NOSPACE alarm of one member makes
 * the whole cluster refuse writes until it is deactivated, and etcd raises
 * it again at once if the member is still over its quota.
 */
#define ETCD_MAX_ALARMS 32
struct etcd_alarm {
	uint64_t member_id;
	char alarm[16]; /* "NOSPACE", "CORRUPT" */
};
struct etcd_alarms {
	struct etcd_alarm a[ETCD_MAX_ALARMS];
	int n;
};
/* Every alarm of the cluster (action GET). */
int etcd_alarm_list(struct etcd_client *c, struct etcd_alarms *out, struct eo_err *err);
/* Deactivate the alarm ("NOSPACE") of one member. */
int etcd_alarm_disarm(struct etcd_client *c, uint64_t member_id, const char *alarm,
		      struct eo_err *err);
/* Compact the key space up to revision (physical: wait until it is applied
 * to the backend). An already compacted revision is success. */
int etcd_compact(struct etcd_client *c, int64_t revision, struct eo_err *err);
/* Defragment the member at endpoint. It blocks that member (reads and
 * writes) while it rewrites its file: the caller's timeout must allow it. */
int etcd_defragment(struct etcd_client *c, const char *endpoint, struct eo_err *err);

/* Key/value, for tests and probes. */
int etcd_put(struct etcd_client *c, const char *key, const void *val, size_t len,
	     struct eo_err *err);
/* *val malloc'd (NUL-terminated) or NULL when the key does not exist. */
int etcd_get(struct etcd_client *c, const char *key, char **val, size_t *len,
	     struct eo_err *err);
/* Number of keys with a prefix (count_only range). */
int etcd_count_prefix(struct etcd_client *c, const char *prefix, int64_t *count,
		      struct eo_err *err);

/* Hex form for logs ("8e9e05c52164694d"); decimal is what the API uses. */
void etcd_id_hex(uint64_t id, char out[17]);
void etcd_id_dec(uint64_t id, char out[21]);
/* Decimal digits only, no sign or blanks, 1..UINT64_MAX; -1 otherwise. */
int etcd_id_parse(const char *dec, uint64_t *id);

/* Lookups in a member list; NULL when absent. */
const struct etcd_member *etcd_members_find_id(const struct etcd_members *ms, uint64_t id);
const struct etcd_member *etcd_members_find_peer(const struct etcd_members *ms,
						  const char *peer_url);
/* "--initial-cluster" value for a member joining with state "existing",
 * built the way etcdctl member add prints it: name=peerURL for each peer URL
 * of each member, self_name for member self_id (which has no name yet).
 * -1 when it does not fit in size. */
int etcd_initial_cluster(const struct etcd_members *ms, uint64_t self_id, const char *self_name,
			 char *out, size_t size);

/*
 * Pure wire helpers (no I/O): used by the calls above and by unit tests with
 * captured bodies. Parsers borrow nothing from body and fill *out wholly.
 */
/* Classify etcd's error text ("etcdserver: too many learner members…"). */
int etcd_classify(const char *message);
/* Turn a non-2xx answer into err (code ETCD_E* for a gateway error, else the
 * HTTP status), with etcd's words and a hint. Always returns -1. */
int etcd_parse_error(long http_status, const char *body, size_t len, struct eo_err *err);
int etcd_parse_members(const char *body, size_t len, struct etcd_members *out,
		       struct eo_err *err);
/* A MemberAdd answer: the added member (the answer's "members" are ignored). */
int etcd_parse_member_add(const char *body, size_t len, struct etcd_member *out,
			  struct eo_err *err);
int etcd_parse_status(const char *body, size_t len, struct etcd_status *out,
		      struct eo_err *err);
int etcd_parse_alarms(const char *body, size_t len, struct etcd_alarms *out, struct eo_err *err);
/* A Range answer: *val (malloc'd, NUL-terminated) is the first value or
 * NULL; count is the answer's count (0 when omitted). val/count may be NULL. */
int etcd_parse_range(const char *body, size_t len, char **val, size_t *vlen,
		     int64_t *count, struct eo_err *err);
/* GET /health: 0 for {"health":"true"}. */
int etcd_parse_health(long http_status, const char *body, size_t len, struct eo_err *err);
/* Request bodies (malloc'd JSON). Keys may hold any bytes. */
char *etcd_body_put(const void *key, size_t klen, const void *val, size_t vlen);
/* prefix: every key starting with key; count_only: {"count_only":true}. */
char *etcd_body_range(const void *key, size_t klen, bool prefix, bool count_only);

#endif
