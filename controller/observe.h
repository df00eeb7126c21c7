/*
 * observe.h — one look at an EtcdCluster's world: its owned objects from
 * the API server and its members from etcd, as the snapshot sc_decide takes
 * plus the raw objects the reconciler needs to act on.
 */
#ifndef EO_CONTROLLER_OBSERVE_H
#define EO_CONTROLLER_OBSERVE_H

#include <json-c/json.h>

#include "ctl.h"
#include "etcd.h"
#include "scaling.h"

struct observation {
	struct sc_observed s;
	json_object *ec;   /* the EtcdCluster as read (owned reference) */
	json_object *sts;  /* owned, or NULL when missing */
	json_object *pdb;  /* owned, or NULL */
	json_object *pods; /* the Pod list (owned), or NULL */
	json_object *pvcs; /* the namespace's claim list (owned), or NULL */
	json_object *pod[SC_MAX_ORDINALS]; /* borrowed from pods, by ordinal */
	bool voter_label[SC_MAX_ORDINALS]; /* the Pod carries the voter label */
	/* Where etcd answers: the leader's client URL and every healthy voter's
	 * (leader first), for the actions. */
	char leader_url[256];
	char voter_urls[EC_MAX_MEMBERS][256];
	int nvoter_urls;
	/* TLS for every etcd call of the pass (client TLS on), borrowed from
	 * the caller of obs_gather_tls; NULL: plain http. */
	const struct etcd_tls *etls;
	/* The revision the template must carry (SC_ANN_REVISION), set by the
	 * reconciler before it acts; "": leave the template's alone. */
	char want_revision[24];
};

/* Fill o for the EtcdCluster object ec_obj (o takes a reference) already
 * parsed into ec. -1 with err only when the API server cannot be read;
 * etcd's silence is an observation (s.etcd_answered false), not an error. */
int obs_gather(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
	       struct observation *o, struct eo_err *err);
/* The same, speaking to etcd with etls (borrowed for o's life; NULL: none). */
int obs_gather_tls(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
		   const struct etcd_tls *etls, struct observation *o, struct eo_err *err);
void obs_free(struct observation *o);

/* Pure helpers over API objects (tested on fixtures). */
void obs_pod(json_object *pod, struct sc_pod *out);
/* A member's maintenance status into sm (id already set): reachable, and
 * healthy only when it answered as that member of the cluster whose member
 * list was read (cluster_id, 0: unknown). */
void obs_member_status(const struct etcd_status *st, uint64_t cluster_id, struct sc_member *sm);
/* "2026-11-29T05:20:22Z" → Unix ms, 0 when unreadable. */
int64_t obs_time_ms(const char *rfc3339);

#endif
