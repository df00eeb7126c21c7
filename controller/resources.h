/*
 * resources.h — the objects an EtcdCluster owns, built as json-c values:
 * the peer (headless) Service, the client Service, the StatefulSet with the
 * member init step, the PodDisruptionBudget and the NetworkPolicy. Pure: no
 * I/O.
 *
 * Every builder returns a new reference the caller owns (json_object_put).
 */
#ifndef EO_CONTROLLER_RESOURCES_H
#define EO_CONTROLLER_RESOURCES_H

#include <stdbool.h>

#include <json-c/json.h>

#include "cluster.h"

/* Labels beyond cluster.h's: who manages it, and the voter mark the client
 * Service selects (learners and leaving members get no client traffic). */
#define RES_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define RES_MANAGED_BY "etcd-k8s-operator"
#define RES_LABEL_VOTER "etcd.k8s-operator.io/voter"

/* The init step's bootstrap permission: the member-init container's env
 * EC_BOOTSTRAP comes from the Pod's annotation RES_ANN_BOOTSTRAP (downward
 * API, read each time the container starts). The template carries "true"
 * only until status.clusterID is recorded; then the controller sets it to
 * "false" on the template and on every Pod made from it — with OnDelete a
 * Pod lives on with the template it was made from, and an env value of its
 * own would let Pod 0 found a second cluster whenever its init step ran
 * again without data (a node's local disk lost, and no peer answering yet). */
#define RES_ENV_BOOTSTRAP "EC_BOOTSTRAP"
#define RES_ANN_BOOTSTRAP "etcd.k8s-operator.io/bootstrap"
/* The init step's flag carrying one spec.etcd.extraArgs entry: name=value. */
#define RES_ARG_ETCD "--etcd-arg="
#define RES_INIT_CONTAINER "member-init"
#define RES_ETCD_CONTAINER "etcd"

/* Paths inside the Pod. The root filesystem is read-only; the containers
 * write only to these volumes: the data volume, the config emptyDir (the
 * init step writes etcd's configuration there) and an emptyDir at /tmp. */
#define RES_DATA_MOUNT "/var/lib/etcd"
#define RES_DATA_DIR "/var/lib/etcd/data"
#define RES_CONFIG_MOUNT "/etc/etcd"
#define RES_CONFIG_FILE "/etc/etcd/etcd.conf.yml"
#define RES_TMP_MOUNT "/tmp"
/* TLS (spec.security.tls): the peer Secret in etcd's container, the server
 * Secret in both (the init step dials etcd with it); files tls.crt, tls.key
 * and ca.crt. With client TLS etcd also serves /health and /metrics in plain
 * HTTP on RES_PORT_METRICS for the kubelet's probes, which carry no client
 * certificate. */
#define RES_TLS_PEER_DIR "/etc/etcd-tls/peer"
#define RES_TLS_SERVER_DIR "/etc/etcd-tls/server"
#define RES_PORT_METRICS 2381
/* The guard before every etcd start: the init step copies it from the
 * operator's image onto this emptyDir (read-only in etcd's container), and
 * etcd's container starts etcd through it. */
#define RES_GUARD_MOUNT "/opt/etcd-guard"
#define RES_GUARD_BIN "/opt/etcd-guard/etcd-member-guard"

/* The member Pods' identity (Pod Security "restricted"): a numeric non-root
 * user and group, the project image's (Dockerfile: USER 65532:65532), also
 * the fsGroup that makes the data volume writable for it. */
#define RES_RUN_AS 65532

/* Who may reach a member (the NetworkPolicy res_network_policy builds):
 *   peer 2380    the cluster's own members;
 *   client 2379  (also /metrics and /health) the members, the controller's
 *                Pods — labelled RES_CONTROLLER_LABEL=RES_CONTROLLER_NAME in
 *                res_opts.controller_namespace — and any Pod of the
 *                cluster's namespace labelled RES_LABEL_CLIENT_OF=<cluster>.
 * Policies are additive: a user widens this with a NetworkPolicy of their own
 * selecting the member Pods (README, "Network policy"). */
#define RES_LABEL_CLIENT_OF "etcd.k8s-operator.io/client-of"
#define RES_CONTROLLER_LABEL "app.kubernetes.io/name"
#define RES_CONTROLLER_NAME "etcd-controller"
#define RES_CONTROLLER_NAMESPACE "etcd-operator-system" /* manifests/ install here */
#define RES_PORT_CLIENT 2379
#define RES_PORT_PEER 2380

struct res_opts {
	const char *operator_image; /* NULL → EC_OPERATOR_IMAGE */
	int heartbeat_ms;           /* etcd --heartbeat-interval; 0 → EC_HEARTBEAT_MS */
	int election_ms;            /* etcd --election-timeout; 0 → EC_ELECTION_MS */
	int init_wait_s;            /* how long the init step waits to be added; 0 → 300 */
	int probe_period_s;         /* readiness probe period; 0 → 2 */
	/* the controller's namespace, for the NetworkPolicy; NULL or "" →
	 * RES_CONTROLLER_NAMESPACE (reconcile.c fills it from $POD_NAMESPACE) */
	const char *controller_namespace;
};

json_object *res_peer_service(const struct etcd_cluster *c);
json_object *res_client_service(const struct etcd_cluster *c);
json_object *res_statefulset(const struct etcd_cluster *c, int replicas, bool bootstrap,
			     const struct res_opts *opts);
json_object *res_pdb(const struct etcd_cluster *c, int max_unavailable);
/* The StatefulSet's persistentVolumeClaimRetentionPolicy for spec.storage.whenDeleted
 * (new object, caller puts). */
json_object *res_claim_retention(const struct etcd_cluster *c);
/* networking.k8s.io/v1 NetworkPolicy <name>: ingress to the member Pods as
 * above, nothing else. Its spec is all the controller compares and repairs
 * (written out in full — policyTypes, protocols — so that the API server's
 * defaults leave it equal to what was sent). */
json_object *res_network_policy(const struct etcd_cluster *c, const struct res_opts *opts);

/* The labels every owned object carries (new object). */
json_object *res_labels(const struct etcd_cluster *c);
/* The ownerReference to the EtcdCluster (controller, blockOwnerDeletion). */
json_object *res_owner_ref(const struct etcd_cluster *c);

/* Read back from an observed StatefulSet: whether its template still allows
 * bootstrap (the annotation, or an env value "true" from an older template);
 * and set both (in place) to false. */
bool res_sts_bootstrap(json_object *sts);
int res_sts_clear_bootstrap(json_object *sts);
/* Whether the template carries its own EC_BOOTSTRAP value (an older
 * template: clearing it needs a whole update); else the merge patch that
 * clears the annotation (new object; no resourceVersion, so no conflict
 * with the StatefulSet controller's status writes). */
bool res_sts_bootstrap_in_env(json_object *sts);
json_object *res_sts_bootstrap_off_patch(void);
/* Whether an observed Pod may still found a cluster (its annotation says
 * "true"); the merge patch that takes that away (new object). */
bool res_pod_bootstrap(json_object *pod);
json_object *res_pod_bootstrap_off_patch(void);
/* The etcd container's image in the template ("" when absent), and set it
 * in place; returns true when it changed. With updateStrategy OnDelete a new
 * image reaches members only as their Pods are made again: one at a time by
 * the roll (sc_roll), which compares each Pod's image (res_pod_image). */
const char *res_sts_image(json_object *sts);
/* resources_pod.c, for res_statefulset: spec.etcd.extraArgs as the init
 * step's RES_ARG_ETCD flags, appended to argv; spec.pod laid over the
 * template's metadata, Pod spec and etcd container (in place), with the
 * EC_ANN_POD_SPEC hash when anything is asked. */
void res_extra_args(const struct etcd_cluster *c, json_object *argv);
void res_pod_knobs(const struct etcd_cluster *c, json_object *tmeta, json_object *pod,
		   json_object *etcd);
/* Bring an observed StatefulSet's Pod template (in place) to what spec.pod
 * and spec.etcd.extraArgs ask, when its EC_ANN_POD_SPEC differs: the whole
 * template made again, its bootstrap permission and rotation revision kept.
 * Returns true when it changed. Running Pods are the roll's (sc_roll). */
bool res_sts_sync_template(json_object *sts, const struct etcd_cluster *c,
			   const struct res_opts *opts);
const char *res_pod_image(json_object *pod);
bool res_sts_set_image(json_object *sts, const char *image);
/* The member-init step's spec.maintenance flags (auto-compaction, quota) in
 * the template as c asks; true when it changed sts. */
bool res_sts_set_space_args(json_object *sts, const struct etcd_cluster *c);

#endif
