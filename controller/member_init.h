/*
 * member_init.h — `etcd-controller member-init`, the init step of every etcd
 * Pod: it decides how this member starts and writes etcd's configuration
 * file into the Pod's shared emptyDir; etcd then runs `--config-file`.
 *
 * The decision (mi_decide) is pure and takes the facts gathered by mi_run:
 * whether the data directory holds a WAL, the member (and cluster) id
 * recorded beside it, and the cluster's member list (read with quorum when
 * it could be).
 *
 *   data dir unreadable    → wait: whether there is data is not known
 *   data, listed as the member recorded (or none recorded) → start on it
 *   data, our peer URL now another member's → wait (keep the data, never
 *                            overwrite the record: it is the evidence)
 *   data, removed          → wipe it, then as without data — only on positive
 *                            evidence: the recorded id is absent from a member
 *                            list read with quorum of the recorded cluster,
 *                            and our peer URL is absent or belongs to an
 *                            unstarted (re-added) member
 *   data, nobody answers   → start on it after a short try (a whole cluster
 *                            restarting must not wait for itself)
 *   no data, unstarted member with our peer URL → join with the live list
 *   no data, started member with our peer URL   → the volume was lost: say so
 *                            and exit MI_EXIT_VOLUME_LOST, the evidence the
 *                            controller replaces the member on
 *   no data, not listed    → wait to be added (bounded, then exit non-zero)
 *   no data, ordinal 0, bootstrap allowed, nobody answers → a new cluster
 *
 * A start on data names only this member in initial-cluster (etcd ignores
 * it when the data is there): should the data ever vanish under a running
 * Pod, a restarted etcd then fails instead of joining its old cluster
 * empty under its old id (a voter that forgot what it acknowledged).
 *
 * A founding records the cluster id with the member id at once: both are
 * etcd's own hashes of what the init step chose (mi_bootstrap_id,
 * mi_bootstrap_cluster_id), so no founded member's file lacks it. Without a
 * recorded cluster id (files of older versions) data is never wiped.
 *
 * `member-init guard -- etcd --config-file=F …` (mi_guard_main) is the check
 * before every start of etcd in the same Pod, which the init step (once per
 * Pod) cannot be: a start without data is allowed once, on the one-time
 * ticket the init step leaves beside the configuration (MI_FIRST_START); any
 * later start without data (a founding configuration included) is refused.
 */
#ifndef EO_CONTROLLER_MEMBER_INIT_H
#define EO_CONTROLLER_MEMBER_INIT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "eo.h"
#include "etcd.h"

#define MI_MAX_ENDPOINTS 12

/* Exit status of member-init when this Pod's volume was lost (its member has
 * run before, there is no data here): read by the controller from the Pod's
 * status (init container state or last state) as the evidence to replace
 * the member. A Pod that is merely slow never shows it. */
#define MI_EXIT_VOLUME_LOST 4
/* err->code of mi_run for that case. */
#define MI_EVOLUME_LOST 4004
/* Rounds of the same lost-volume answer before exiting with it. */
#define MI_LOST_ROUNDS 2
/* Beside etcd's configuration file: present from the init step's start
 * decision without data until the guard lets etcd start once on it. */
#define MI_FIRST_START ".first-start"

struct mi_config {
	char pod_name[64];        /* POD_NAME / --pod-name: "<cluster>-<ordinal>" */
	char namespace[64];       /* POD_NAMESPACE / --namespace */
	char listen_ip[64];       /* POD_IP / --listen-ip: etcd listens here */
	char cluster_name[64];    /* --cluster-name */
	char cluster_domain[254]; /* --cluster-domain (cluster.local) */
	char data_dir[512];       /* --data-dir */
	char config_file[512];    /* --config-file */
	char id_file[512];        /* --member-id-file (default: beside the data dir) */
	char install_guard[512];  /* --install-guard: copy etcd-member-guard here ("": not) */
	bool bootstrap;           /* EC_BOOTSTRAP=true / --bootstrap */
	int ordinal;              /* from pod_name */
	int heartbeat_ms, election_ms;
	int wait_s;               /* --wait-seconds: give up (exit non-zero) after this */
	int retry_ms;             /* between rounds (2000) */
	int ask_timeout_ms;       /* per endpoint (1500) */
	int data_rounds;          /* with data and no answer, start after this many rounds (2) */
	int bootstrap_rounds;     /* ordinal 0 founds after this many silent rounds (2) */
	char peer_url[256];       /* --peer-url: advertised (default the Pod's DNS name) */
	char client_url[256];     /* --client-url: advertised */
	char token[192];          /* initial-cluster-token: "<namespace>-<cluster>" */
	char endpoints[MI_MAX_ENDPOINTS][256]; /* --endpoints: where to ask (default: the
						  client Service, then each peer) */
	int nendpoints;
	/* TLS (spec.security.tls): directories holding tls.crt, tls.key and
	 * ca.crt. peer_tls_dir set: peer URLs are https and etcd's peer side
	 * wants certificates of ca.crt (and peer_allowed_cn, when set, as their
	 * CN). client_tls_dir set: client URLs are https, etcd wants client
	 * certificates, serves probes on plain :2381, and the init step presents
	 * this certificate when it asks the cluster. */
	char peer_tls_dir[256];   /* --peer-tls-dir */
	char client_tls_dir[256]; /* --client-tls-dir */
	char peer_allowed_cn[96]; /* --peer-allowed-cn */
	/* --etcd-arg=name=value (repeated): spec.etcd.extraArgs, appended to
	 * etcd's configuration file as "name: value" (checked by the shared
	 * policy at admission, and again here: cluster_extra_arg_ok) */
	struct ec_extra_arg extra[EC_MAX_EXTRA_ARGS];
	int nextra;
	/* Space (spec.maintenance): etcd's auto-compaction and backend quota,
	 * read by etcd only when it starts; "" leaves etcd's default. */
	char compaction_mode[16];      /* --auto-compaction-mode: periodic | revision */
	char compaction_retention[32]; /* --auto-compaction-retention: "1h", "10000" */
	char quota_bytes[24];          /* --quota-backend-bytes: decimal bytes */
};

/* Parse the subcommand's arguments (argv[0] is "member-init") and the Pod's
 * environment (POD_NAME, POD_NAMESPACE, POD_IP, EC_BOOTSTRAP); fill the
 * defaults. A missing or malformed value is an error naming it. */
int mi_config_parse(int argc, char **argv, struct mi_config *cfg, struct eo_err *err);

/* What mi_run found out in one round. */
struct mi_facts {
	bool has_data;        /* data_dir holds a WAL */
	bool data_unknown;    /* … cannot tell: data_dir unreadable (data_error says why) */
	char data_error[200];
	bool has_id;          /* the member-id file was read */
	uint64_t recorded_id;
	uint64_t recorded_cluster; /* its second line, the cluster id; 0: not recorded */
	uint64_t nonce;       /* random, for a founding's token (0: use the token as is) */
	bool list_known;      /* some endpoint answered a member list */
	bool quorum_read;     /* … through a linearizable read (see etcd_member_list) */
	struct etcd_members members;
	int round;            /* 0, 1, …: rounds asked so far, this one excluded */
};

enum mi_verdict { MI_START_NEW, MI_START_EXISTING, MI_START_ON_DATA, MI_WIPE, MI_WAIT };
const char *mi_verdict_name(enum mi_verdict v);

struct mi_decision {
	enum mi_verdict verdict;
	bool volume_lost;            /* MI_WAIT because this member's volume was lost */
	uint64_t member_id;          /* to record in the id file; 0: leave it */
	uint64_t cluster_id;         /* … with the cluster's id; 0: not known */
	char initial_cluster[4096];  /* name=peerURL,… */
	char token[256];             /* initial-cluster-token ("": the configured one) */
	char message[512];           /* for the log: what and why */
};

void mi_decide(const struct mi_config *cfg, const struct mi_facts *f, struct mi_decision *d);

/* etcd's configuration file (YAML) for a start decision. */
int mi_render_config(const struct mi_config *cfg, const struct mi_decision *d, struct eo_buf *out,
		     struct eo_err *err);

/* The id etcd gives a member of a new cluster: the first 8 bytes, big
 * endian, of SHA-1(peer URL ‖ initial-cluster-token) (etcd's NewMember
 * without a time). A founding uses "<token>-<random>": with the same token a
 * Pod 0 that founded again would get the very member id and cluster id of
 * the cluster it split from — indistinguishable to the controller, and
 * accepted by the old members as their member 0 with its log forgotten. */
uint64_t mi_bootstrap_id(const char *peer_url, const char *token);
/* The id of the one-member cluster founded by member_id: the first 8 bytes,
 * big endian, of SHA-1 over the members' ids (8 bytes each, big endian,
 * ascending) — etcd's RaftCluster genID. */
uint64_t mi_bootstrap_cluster_id(uint64_t member_id);

/* The name of a member in initial-cluster: its own when started, else the
 * Pod name in its peer URL ("demo-2" from http://demo-2.demo-peer…), else
 * "member-<hex id>". */
void mi_member_name(const struct mi_config *cfg, const struct etcd_member *m, char *out,
		    size_t size);

/* The whole step: rounds of gather → decide until a start (config and id
 * file written, 0) or wait_s passes or *stop is set (-1, err says why), or
 * the volume was lost (-1, err->code MI_EVOLUME_LOST). */
int mi_run(const struct mi_config *cfg, volatile sig_atomic_t *stop, struct eo_err *err);

/* `etcd-controller member-init …`: parse, run; returns the exit status
 * (0, 1 gave up or failed, 2 bad arguments, MI_EXIT_VOLUME_LOST).
 * `member-init guard …` goes to mi_guard_main. */
int mi_main(int argc, char **argv);

/* ---- the guard before every etcd start (member_guard.c) ---------------- */

/* What the guard found beside etcd's configuration. */
struct mi_guard_facts {
	bool config_read;          /* etcd's configuration file was read … */
	char config_error[200];    /* … else why not */
	bool state_new;            /* it says initial-cluster-state: new (a founding) */
	bool has_data;             /* data-dir holds a WAL */
	bool data_unknown;         /* … cannot tell (data_error says why) */
	char data_error[200];
	bool first_start;          /* the init step's one-time ticket is there */
	bool has_id;               /* the member-id file was read */
	uint64_t recorded_id, recorded_cluster;
};

struct mi_guard_decision {
	bool start;                /* exec etcd (after taking the ticket) */
	int exit_code;             /* when not: 1, or MI_EXIT_VOLUME_LOST */
	char message[512];
};

/* Pure: start etcd only on its data, or without data on the init step's
 * one-time ticket; refuse anything else. */
void mi_guard_decide(const struct mi_guard_facts *f, struct mi_guard_decision *d);

/* `etcd-controller member-init guard [--member-id-file F] -- etcd
 * --config-file=F …`: gathers the facts from etcd's configuration file and
 * the volume, decides, and execs the command or returns the exit status
 * (2 bad arguments). argv[0] is "guard". */
int mi_guard_main(int argc, char **argv);

/* ---- the volume's files (member_files.c: libc and eo only, so the guard
 * links statically) ------------------------------------------------------ */

/* The member-id file's default place: "member-id" in data_dir's parent. */
int mi_default_id_file(const char *data_dir, char *out, size_t size, struct eo_err *err);
/* Read "<member id>\n[<cluster id>\n]"; false when absent or malformed. */
bool mi_read_id_file(const char *path, uint64_t *member_id, uint64_t *cluster_id);
/* Whether data_dir holds a WAL: 1 yes, 0 no, -1 cannot tell (why says). */
int mi_data_present(const char *data_dir, char *why, size_t size);
/* Copy the guard program `from` (etcd-member-guard beside etcd-controller)
 * to `to` (on the emptyDir etcd's container mounts), mode 0555, atomically.
 * etcd's image has no shell and no libraries of ours: the guard is static. */
int mi_install_guard(const char *from, const char *to, struct eo_err *err);

#endif
