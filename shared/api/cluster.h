/*
 * cluster.h — the EtcdCluster model: the fixed API names of DESIGN §3, a
 * parsed view of spec, status and the target annotation, and the builder
 * for the status object the controller publishes.
 *
 * The parsed view uses fixed-size fields (names are DNS labels, ids are
 * decimal uint64): a struct etcd_cluster can be copied, compared and kept on
 * the stack, which keeps the pure policy code free of ownership questions.
 */
#ifndef EO_CLUSTER_H
#define EO_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "eo.h"

/* Fixed names (DESIGN §3): relied on by users' manifests and outside tests. */
#define EC_GROUP "etcd.k8s-operator.io"
#define EC_VERSION "v1alpha1"
#define EC_API_VERSION "etcd.k8s-operator.io/v1alpha1"
#define EC_KIND "EtcdCluster"
#define EC_PLURAL "etcdclusters"
#define EC_ANN_TARGET "etcd.k8s-operator.io/target-replicas"
/* A new value asks for the cluster's CA to be rotated now (TLS Auto). */
#define EC_ANN_ROTATE_CA "etcd.k8s-operator.io/rotate-ca"

#define EC_MIN_REPLICAS 1
#define EC_MAX_REPLICAS 9
#define EC_DEFAULT_REPLICAS 3
#define EC_DEFAULT_VERSION "3.6.16"
#define EC_DEFAULT_STORAGE "1Gi"
#define EC_DEFAULT_DOMAIN "cluster.local"
/* etcd's image when spec.image is empty: EC_ETCD_IMAGE_REPO ":v" version. */
#define EC_ETCD_IMAGE_REPO "gcr.io/etcd-development/etcd"
/* This project's image: the three binaries, the member init step among them. */
#define EC_OPERATOR_IMAGE "ghcr.io/etcd-k8s-operator/etcd-operator:0.1.0"
/* etcd's raft timing in new Pods (etcd's own defaults), and its tuning
 * guide's rule that an election lasts at least 5 heartbeats. */
#define EC_HEARTBEAT_MS 100
#define EC_ELECTION_MS 1000
#define EC_ELECTION_HEARTBEATS 5
/* Labels on everything the controller owns. */
#define EC_LABEL_CLUSTER "etcd.k8s-operator.io/cluster"
#define EC_LABEL_APP "app.kubernetes.io/name"

/* The longest EtcdCluster name: the StatefulSet of that name labels its Pods
 * controller-revision-hash=<name>-<hash of up to 10 characters>, and a label
 * value has at most 63 (63 - 1 - 10 = 52); above it the StatefulSet exists
 * but can make no Pod. (<name>-client, a Service name of at most 63, alone
 * would allow 56.) The name is also the start of Service names, so it must
 * be a DNS-1035 label: a lowercase letter first, no dots. */
#define EC_MAX_NAME_LEN 52
/* Bounds of the spec's free strings, the same in the CRD schema. */
#define EC_MAX_DNS_SUBDOMAIN 253
#define EC_MAX_IMAGE_LEN 255

#define EC_MAX_MEMBERS 16
/* Available, Progressing, Degraded, TLSReady, BackupStale, VolumeResize, and
 * room for two more: a condition past the end is dropped, silently. */
#define EC_MAX_CONDITIONS 8

enum ec_phase { EC_PHASE_UNSET, EC_CREATING, EC_RUNNING, EC_SCALING, EC_DEGRADED, EC_FAILED,
		EC_UPGRADING, EC_SUSPENDED };
const char *ec_phase_name(enum ec_phase p); /* "" for UNSET */
enum ec_phase ec_phase_parse(const char *s); /* UNSET when unknown */

struct ec_member {
	char name[64];
	char id[24]; /* decimal uint64, as in the API */
	char peer_url[256];
	char client_url[256];
	bool learner, healthy, leader;
	int64_t db_size;
	int64_t raft_index;
	char version[32]; /* the etcd version it reports; "" unknown */
};

/*
 * Names of the steps in status.scaling.step (the controller writes them, the
 * plugin shows them as progress). Scale up n → n+1:
 *   AddLearner → StartPod → CatchUp → Promote → Verify
 * Scale down n → n-1:
 *   TransferLeadership → RemoveMember → ShrinkStatefulSet → DeleteVolume
 * Rollback of a learner whose Pod never became ready: Rollback.
 * Replacing a member that lost its volume: ReplaceMember (then the scale-up steps).
 */
#define EC_STEP_ADD_LEARNER "AddLearner"
#define EC_STEP_START_POD "StartPod"
#define EC_STEP_CATCH_UP "CatchUp"
#define EC_STEP_PROMOTE "Promote"
#define EC_STEP_VERIFY "Verify"
#define EC_STEP_TRANSFER_LEADERSHIP "TransferLeadership"
#define EC_STEP_REMOVE_MEMBER "RemoveMember"
#define EC_STEP_SHRINK "ShrinkStatefulSet"
#define EC_STEP_DELETE_VOLUME "DeleteVolume"
#define EC_STEP_ROLLBACK "Rollback"
#define EC_STEP_REPLACE "ReplaceMember"

/* The step in flight: enough to resume after a crash. */
struct ec_scaling {
	bool active;
	int from, to;
	char step[32];       /* e.g. "AddLearner", "Promote", "RemoveMember" */
	char member_id[24];
	char started_at[32]; /* RFC 3339 */
	char message[256];
};

struct ec_condition {
	char type[16];   /* Available | Progressing | Degraded */
	char status[8];  /* True | False | Unknown */
	char reason[64];
	char message[256];
	char last_transition[32];
};

/*
 * spec.security.tls.peer / .client (DESIGN §3.1): absent (plain), {mode:
 * Auto} (the controller's CA issues and rotates the certificates) or {mode:
 * Secret, secretName: S} (a kubernetes.io/tls Secret with ca.crt that the
 * user or cert-manager keeps). mode_raw keeps what was written, so the policy
 * can name a wrong value; mode is EC_TLS_INVALID then.
 */
enum ec_tls_mode { EC_TLS_OFF, EC_TLS_AUTO, EC_TLS_SECRET, EC_TLS_INVALID };
struct ec_tls_side {
	enum ec_tls_mode mode;
	char mode_raw[32];
	char secret_name[254];
	bool secret_name_set;
};
const char *ec_tls_mode_name(enum ec_tls_mode m); /* "" for OFF, "Auto", "Secret", "?" */

/* The Secrets of Auto mode (fixed names, DESIGN §3.1): "<name>" suffix. */
#define EC_TLS_CA_SUFFIX "-ca"
#define EC_TLS_PEER_SUFFIX "-peer-tls"
#define EC_TLS_SERVER_SUFFIX "-server-tls"
#define EC_TLS_CLIENT_SUFFIX "-client-tls"

/*
 * spec.pod — the member Pods' knobs: resources (the etcd container's),
 * nodeSelector, tolerations, affinity (replaces the default anti-affinity),
 * priorityClassName, labels and annotations (added to the Pods; the
 * operator's own win, and a key it owns is refused at admission) — kept as
 * the compact JSON that was written ("" when absent): the template builder
 * applies it, the pure code needs only its keys and its hash.
 * spec.etcd.extraArgs — more etcd flags, {name: value} without the leading
 * dashes; written into etcd's configuration file by the init step (etcd
 * ignores command-line flags when it reads one).
 */
#define EC_MAX_POD_JSON 8192
#define EC_MAX_EXTRA_ARGS 24
/* The Pod annotation carrying cluster_pod_revision(): a Pod whose value
 * differs from the cluster's is made again by the roll (sc_roll). */
#define EC_ANN_POD_SPEC "etcd.k8s-operator.io/pod-spec"
struct ec_extra_arg {
	char name[64];
	char value[256];
};
struct ec_pod {
	char json[EC_MAX_POD_JSON];
	/* the first label or annotation key of spec.pod the operator owns
	 * (cluster_pod_key_owned), as its path; "" when none */
	char owned_key[320];
	struct ec_extra_arg extra_args[EC_MAX_EXTRA_ARGS];
	int nextra_args;
};

/*
 * spec.maintenance (issue 14, space): etcd's own auto-compaction, its backend
 * quota, and the fragmentation at which the controller defragments a member.
 * The raw strings are kept so the policy can name a wrong value; the parse
 * only refuses wrong JSON types (as the CRD's schema would).
 */
enum ec_compaction_mode { EC_COMPACT_PERIODIC, EC_COMPACT_REVISION, EC_COMPACT_INVALID };
#define EC_DEFAULT_COMPACTION_RETENTION "1h"
#define EC_DEFAULT_QUOTA "2Gi"
#define EC_DEFAULT_QUOTA_BYTES (2LL * 1024 * 1024 * 1024) /* etcd's own default */
#define EC_DEFAULT_DEFRAG_THRESHOLD 50
struct ec_maintenance {
	enum ec_compaction_mode compaction_mode;
	char compaction_mode_raw[32];
	char compaction_retention[32]; /* Periodic: etcd duration ("1h", "30m"); Revision: a count */
	char quota_raw[32];            /* as written ("2Gi", "33554432") */
	int64_t quota_bytes;           /* parsed; -1 when quota_raw is not a quantity. Absent:
					  etcd's 2Gi, or 3/4 of spec.storage.size when that is
					  smaller (room is left for the WAL and snapshots) */
	bool quota_set;
	int64_t defrag_threshold;      /* percent of the file that is free; 0: never */
};
/* etcd's names for the mode ("periodic", "revision"); "" for INVALID. */
const char *ec_compaction_mode_flag(enum ec_compaction_mode m);
/* A Kubernetes quantity as bytes: "2Gi", "500Mi", "1G", "33554432"; -1 when
 * malformed, negative, fractional or beyond int64. */
int64_t ec_quantity_bytes(const char *s);

struct ec_spec {
	int64_t replicas; /* as sent: may be anything a client wrote (10^9, -1) */
	bool replicas_set;
	char version[32];
	char image[256];
	char storage_size[32];
	char storage_class[254];
	bool storage_class_set;
	bool delete_volumes; /* spec.storage.whenDeleted: Delete (absent or Retain: false) */
	char cluster_domain[254];
	bool suspended;     /* spec.suspended: every Pod stopped, volumes and membership kept */
	struct ec_tls_side tls_peer, tls_client;
	/* spec.bootstrap.restore (DESIGN §3.1): member 0 starts from this
	 * EtcdBackup's snapshot (key "" → its lastSnapshot); immutable */
	bool restore_set;
	char restore_backup[254];
	char restore_key[512];
	/* spec.pod and spec.etcd.extraArgs (cluster_pod.c) */
	struct ec_pod pod;
	struct ec_maintenance maint;
};

/* Each certificate's notAfter (RFC 3339) as the controller last saw it:
 * status.tls.{ca,peer,server,client}NotAfter; "" when there is none. */
struct ec_tls_status {
	char ca[32], peer[32], server[32], client[32];
};

/* status.maintenance: what the controller did about space, and the
 * revision it last compacted to (a NOSPACE recovery compacts once). */
struct ec_maint_status {
	int64_t compacted_revision;
	char compacted_at[32]; /* RFC 3339: when (members apply it on their own, later) */
	/* members (decimal ids) a NOSPACE recovery defragmented since it compacted */
	char defragmented[EC_MAX_MEMBERS][24];
	int ndefragmented;
	char last_action[256];
	char last_action_at[32];
};

struct ec_status {
	enum ec_phase phase;
	int64_t observed_generation;
	int replicas;       /* voting members */
	int ready_replicas; /* healthy voting members */
	int learners;
	char selector[256];
	char cluster_id[24];
	char leader[64];
	char version[32];   /* the etcd version every member runs (the lowest reported) */
	struct ec_member members[EC_MAX_MEMBERS];
	int nmembers;
	struct ec_scaling scaling;
	struct ec_condition conditions[EC_MAX_CONDITIONS];
	int nconditions;
	struct ec_tls_status tls;
	struct ec_maint_status maint;
};

/* target annotation states */
#define EC_TARGET_NONE (-1)
#define EC_TARGET_INVALID (-2)

struct etcd_cluster {
	char name[254];
	char namespace[64];
	char uid[64];
	char resource_version[32];
	int64_t generation;
	bool deleting; /* metadata.deletionTimestamp set */
	int64_t target; /* annotation value, EC_TARGET_NONE, or EC_TARGET_INVALID */
	char target_raw[32];
	char rotate_ca[64]; /* EC_ANN_ROTATE_CA's value, "" when absent */
	struct ec_spec spec;
	struct ec_status status;
};

/* Parse an EtcdCluster object. Spec fields of the wrong type are errors
 * naming their path; missing spec fields take the CRD's defaults; status is
 * read leniently (a controller may not have written it yet: missing is zero),
 * but a status integer is read as 64-bit and must fit its field (0..INT32_MAX
 * for counts and scaling.from/to, 0..INT64_MAX for observedGeneration,
 * dbSize, raftIndex): anything else is an error naming its path. */
int cluster_parse(json_object *obj, struct etcd_cluster *out, struct eo_err *err);

/* The status object as the controller publishes it (new reference). */
json_object *cluster_status_json(const struct ec_status *st);

/* Set or replace a condition; last_transition changes only when status does. */
void cluster_set_condition(struct ec_status *st, const char *type, const char *status,
			   const char *reason, const char *message, const char *now);
const struct ec_condition *cluster_condition(const struct ec_status *st, const char *type);

/* The image etcd runs: spec.image, else EC_ETCD_IMAGE_REPO ":v" version. */
void cluster_etcd_image(const struct etcd_cluster *c, char *out, size_t size);
/* 0 when an election of election_ms lasts at least EC_ELECTION_HEARTBEATS
 * heartbeats of heartbeat_ms; else -1 and err names the flags as given. */
int ec_timing_check(int64_t heartbeat_ms, int64_t election_ms, const char *heartbeat_flag,
		    const char *election_flag, struct eo_err *err);

/* spec.pod and spec.etcd.extraArgs of obj into out (cluster_parse calls it):
 * a wrong type is an error naming its path; so is a spec.pod over
 * EC_MAX_POD_JSON bytes or more than EC_MAX_EXTRA_ARGS flags. */
int cluster_parse_pod(json_object *obj, struct ec_pod *out, struct eo_err *err);
/* Whether a Pod label or annotation key is the operator's (or the
 * StatefulSet controller's): the etcd.k8s-operator.io/ prefix,
 * app.kubernetes.io/name and /managed-by, controller-revision-hash,
 * statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index. */
bool cluster_pod_key_owned(const char *key);
/* What the member Pods are made with beyond the image: a 16-hex-digit hash
 * of spec.pod and spec.etcd.extraArgs, "" when both are absent (so Pods of a
 * cluster that never set them need no roll). out has at least 17 bytes. */
void cluster_pod_revision(const struct etcd_cluster *c, char *out, size_t size);
/* A Kubernetes quantity ("1Gi", "500Mi", "1.5G", "2e9", "1000") in bytes;
 * -1 when it is not one. */
int cluster_quantity_bytes(const char *s, double *out);
/* Whether one spec.etcd.extraArgs entry may be written into etcd's
 * configuration: a flag the operator does not own (name, data-dir, the
 * URLs, initial-cluster*, TLS files, discovery, …), a name of [a-z0-9-]
 * and a value that YAML reads as a plain scalar ([A-Za-z0-9._:/,=+@%-],
 * no indicator first). When not, why (a sentence) goes to why. */
bool cluster_extra_arg_ok(const struct ec_extra_arg *a, char *why, size_t size);

/* Quorum arithmetic. */
static inline int ec_quorum(int voters) { return voters / 2 + 1; }
static inline int ec_tolerance(int voters) { return voters > 0 ? (voters - 1) / 2 : 0; }

/* etcd versions "3.5.17" (a leading 'v' is accepted). */
struct ec_version {
	int major, minor, patch;
};
int ec_version_parse(const char *s, struct ec_version *v);
int ec_version_cmp(const struct ec_version *a, const struct ec_version *b);

#endif
