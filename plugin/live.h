/*
 * live.h — the plugin's live reads of etcd (members, health, alarm list):
 * etcd's own answers, reached through the API server, not what the
 * controller last published.
 *
 * The one idea: the user's kubectl can reach the API server and nothing
 * else, and the API server can reach every Pod: the pods proxy
 * (/api/v1/namespaces/NS/pods/POD:PORT/proxy/…) carries a request to one
 * member's etcd JSON gateway in plain HTTP, with the user's own RBAC
 * (get/create on pods/proxy). The answers go through shared/etcd's parsers.
 *
 * The limit, chosen and said: with client TLS on (spec.security.tls.client)
 * etcd's client port wants a client certificate, and the API server's proxy
 * cannot present one. There the member list and the alarms are not read
 * live: `members` says so and shows what the controller published in
 * status; `alarm list` refuses with the reason. Health is still live: etcd
 * then serves /health in plain HTTP on its metrics port (the kubelet's
 * probes use it), and the proxy reaches that.
 */
#ifndef PL_LIVE_H
#define PL_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cluster.h"
#include "eo.h"
#include "etcd.h"
#include "kube.h"

#define LIVE_PORT_CLIENT 2379
#define LIVE_PORT_METRICS 2381 /* controller/resources.h RES_PORT_METRICS */

/* The pods-proxy path to one member's port; rest starts with '/'. malloc'd. */
char *live_proxy_path(const char *ns, const char *pod, int port, const char *rest);

/* One member as the live view shows it: etcd's member entry and, when the
 * member answered, its own maintenance status. */
struct live_member {
	struct etcd_member m;
	bool has_status;
	struct etcd_status st;
	char why[256]; /* no status: why ("not started", the proxy's error) */
};

struct live_view {
	bool from_status;   /* the controller's published view (client TLS on) */
	char responder[64]; /* the Pod whose member list this is */
	uint64_t leader;    /* 0: none known */
	struct live_member m[ETCD_MAX_MEMBERS];
	int n;
};

/* The view the controller published (status.members), for client TLS. Pure. */
void live_view_from_status(const struct etcd_cluster *c, struct live_view *v);
/* etcd's member list merged with each member's status (statuses[i] may be
 * NULL, whys[i] then says why). Pure. */
void live_view_build(const struct etcd_members *ms, const struct etcd_status *const *statuses,
		     const char *const *whys, const char *responder, struct live_view *v);
/* "leader", "follower", "learner", or "unknown" when no status came. */
const char *live_role(const struct live_view *v, const struct live_member *m);

/* The EtcdCluster NAME, fetched and parsed (obj may be NULL). On failure the
 * exit code is in *rc (reported already). */
int live_get_cluster(struct kube_client *kc, const char *ns, const char *name,
		     struct etcd_cluster *c, int *rc);
/* Whether the client port wants a client certificate. */
bool live_client_tls(const struct etcd_cluster *c);
/* The Pods to ask, in order: the members the controller knows, else NAME-0. */
int live_pods(const struct etcd_cluster *c, char pods[][64], int max);

/* One request to etcd on pod:port through the API server. 0 with the body
 * in resp when etcd answered 2xx. Otherwise -1 and err says why in etcd's
 * words (a gateway error through etcd_parse_error) or the API server's (the
 * Pod unreachable: "error trying to reach service: …"). */
int live_call(struct kube_client *kc, const char *ns, const char *pod, int port,
	      const char *method, const char *rest, const char *body, struct eo_buf *resp,
	      struct eo_err *err);

/* One proxied GET /health's answer judged: true when healthy; else why
 * (etcd's reason, or the API server's when the Pod could not be reached:
 * status 0 is no answer at all, transport_msg says why). Pure. */
bool live_health_verdict(long status, const char *body, size_t len, const char *transport_msg,
			 char *why, size_t size);

/* The live member view: the member list from the first Pod that answers,
 * then each started member's status from its own Pod. -1 when no Pod gave
 * a member list (err: the last reason). */
int live_gather(struct kube_client *kc, const char *ns, const struct etcd_cluster *c,
		struct live_view *v, struct eo_err *err);

/* The view as a table (wide: all URLs, applied index, errors). Pure. */
int live_render_members(const struct live_view *v, bool wide, bool color, struct eo_buf *out);
/* The view as JSON for -o json|yaml. Pure; new reference. */
json_object *live_members_json(const struct live_view *v, const char *ns, const char *name);

#endif
