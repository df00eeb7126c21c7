/*
 * etcd.h — an etcd v3 client over the JSON gateway (grpc-gateway) on libcurl.
 *
 * Gateway facts this builds on: every /v3/... call is a POST; 64-bit ids and
 * counters are JSON strings in decimal; keys and values are base64; fields
 * that are false/0/empty are omitted; errors are {"error","message","code"}
 * with an HTTP status derived from the gRPC code (9 → 412, 14 → 503).
 *
 * Every call has a deadline (a MemberRemove on a cluster without quorum
 * hangs forever otherwise). Cluster-wide calls try the endpoints in order
 * and move on after a connection failure; per-member calls (status,
 * transfer-leadership, health) go to the one endpoint named.
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
};
/* Errors worth retrying after a short wait (not synced, unhealthy, no
 * leader, transport failures, timeouts). */
bool etcd_err_retryable(const struct eo_err *err);

struct etcd_tls {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
};

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

/* Member list. linearizable: ask with quorum (3.5+ honours it; 3.4 ignores
 * it silently). */
int etcd_member_list(struct etcd_client *c, bool linearizable, struct etcd_members *out,
		     struct eo_err *err);
/* Add one member with its peer URL; out (may be NULL) gets its id. */
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
};
/* Maintenance status of the member at endpoint. */
int etcd_status(struct etcd_client *c, const char *endpoint, struct etcd_status *out,
		struct eo_err *err);
/* Move leadership to target; must be sent to the current leader's endpoint. */
int etcd_move_leader(struct etcd_client *c, const char *leader_endpoint, uint64_t target_id,
		     struct eo_err *err);
/* GET /health on one endpoint: 0 when {"health":"true"}. */
int etcd_health(struct etcd_client *c, const char *endpoint, struct eo_err *err);

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
int etcd_id_parse(const char *dec, uint64_t *id);

#endif
