/*
 * etcd_proc.h — real etcd members as child processes, for tests.
 *
 * Each member listens on its own loopback address <net>.<host> (client
 * :2379, peer :2380), where <net> is "<block>.X" with X picked at random
 * once per test run inside the caller's block (etcd client tests "127.10",
 * controller tests "127.13", see team CONVENTIONS), so concurrent runs rarely
 * collide; a candidate X whose addresses already have a listener is skipped.
 * Data directories and logs live in one temporary directory per run.
 *
 * Nothing outlives the test: every member runs in its own process group,
 * dies with the test process (PR_SET_PDEATHSIG, which also covers a crash or
 * a `timeout` kill that skips atexit), and etcd_proc_cleanup() — registered
 * with atexit by etcd_proc_setup() and safe to call again — kills what is
 * left and removes the directory (kept when ETCD_PROC_KEEP=1, for reading
 * the logs after a failure).
 *
 * Typical use:
 *
 *     etcd_proc_setup("127.10", &err);
 *     struct etcd_proc_opts o = {.name = "m1", .host = 1, .strict_reconfig = true};
 *     struct etcd_proc *m1 = etcd_proc_start(&o, &err);
 *     etcd_proc_wait_healthy(m1, 10000, &err);
 *     ... m1->client_url ...
 *     // a joining member: initial_cluster from the live member list
 *     etcd_initial_cluster(&members, added.id, "m2", ic, sizeof ic);
 *     struct etcd_proc_opts o2 = {.name = "m2", .host = 2, .existing = true,
 *                                 .initial_cluster = ic};
 *     ...
 *     etcd_proc_stop(m1, 5000);  etcd_proc_restart(m1, &err);  etcd_proc_kill(m1);
 *     etcd_proc_cleanup();
 *
 * Not thread-safe; call from the test's main thread (the death signal is
 * tied to the thread that started the member).
 */
#ifndef EO_ETCD_PROC_H
#define EO_ETCD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "eo.h"

/* Once per run: pick <block>.X, make the temporary directory, register the
 * cleanup. block is "127.10" etc. Later calls return 0 and keep the first
 * choice. Fails when etcd is missing (ETCD_BIN overrides /usr/bin/etcd). */
int etcd_proc_setup(const char *block, struct eo_err *err);
/* "127.10.37" (after setup), the run's directory. Static strings. */
const char *etcd_proc_net(void);
const char *etcd_proc_dir(void);
/* <net>.<host>, http://<net>.<host>:2379 and :2380. */
void etcd_proc_addr(int host, char out[32]);
void etcd_proc_client_url(int host, char out[64]);
void etcd_proc_peer_url(int host, char out[64]);

/* TLS material for one member's client port (peers stay plain http): a CA,
 * a server certificate for <net>.<host> and a client certificate, made with
 * the openssl tool in the run's directory. */
struct etcd_proc_tls {
	char ca[512];
	char server_cert[512], server_key[512];
	char client_cert[512], client_key[512];
};
int etcd_proc_make_tls(int host, struct etcd_proc_tls *out, struct eo_err *err);

struct etcd_proc_opts {
	const char *name;             /* member name; also names its data dir and log */
	int host;                     /* 1..254: listens on <net>.<host> */
	const char *initial_cluster;  /* NULL: "<name>=<own peer URL>" (a new 1-member cluster) */
	bool existing;                /* --initial-cluster-state existing (default new) */
	bool strict_reconfig;         /* --strict-reconfig-check */
	bool default_timing;          /* keep etcd's 100 ms heartbeat / 1 s election
				       * (default here: 50 ms / 500 ms, faster tests) */
	const char *advertise_client_url; /* NULL: own client URL (names are allowed here) */
	const char *advertise_peer_url;   /* NULL: own peer URL */
	const char *const *extra_args;    /* NULL-terminated, appended last, so they win */
	const char *const *exec_prefix;   /* NULL-terminated argv run in front of etcd
					   * (e.g. {"unshare", "-m", "--", NULL}) */
	const struct etcd_proc_tls *tls;  /* non-NULL: https client port requiring
					   * client certificates; copied */
};

/* A running (or stopped) member. Fields are read-only for callers. */
struct etcd_proc {
	char name[64];
	int host;
	char addr[32];
	char client_url[64];
	char peer_url[64];
	char data_dir[512];
	char log_path[512];
	bool tls;         /* client_url is https:// and wants tls_files' client cert */
	struct etcd_proc_tls tls_files;
	pid_t pid;        /* 0 when not running */
	int last_status;  /* waitpid status of the last exit, -1 before any */
	char **argv;      /* private: kept for restarts */
};

/* Spawn a member (returns at once; see etcd_proc_wait_healthy). Owned by the
 * run: free with etcd_proc_free, or leave it to etcd_proc_cleanup. */
struct etcd_proc *etcd_proc_start(const struct etcd_proc_opts *o, struct eo_err *err);
/* Poll GET /health until {"health":"true"} (learners answer true too).
 * Fails at timeout, or at once when the process exits, with the last line
 * of its log in the message. */
int etcd_proc_wait_healthy(struct etcd_proc *p, long timeout_ms, struct eo_err *err);
/* Reap without blocking; false once the process has exited. */
bool etcd_proc_running(struct etcd_proc *p);
/* Wait up to timeout_ms for the process to exit by itself (a removed member
 * does); 0 when it has. */
int etcd_proc_wait_exit(struct etcd_proc *p, long timeout_ms);
/* SIGTERM to the group, SIGKILL after grace_ms (0 → 5000); waits for it.
 * Keeps the data. Returns 0 (the member is gone either way). */
int etcd_proc_stop(struct etcd_proc *p, long grace_ms);
/* SIGKILL to the group and reap (a crash, as a test fault). */
void etcd_proc_kill(struct etcd_proc *p);
/* Start the same command again on the same data (after stop or kill). */
int etcd_proc_restart(struct etcd_proc *p, struct eo_err *err);
/* Remove the data directory of a stopped member (a lost volume). */
int etcd_proc_wipe(struct etcd_proc *p, struct eo_err *err);
/* The last non-empty line of the member's log, for messages. */
void etcd_proc_log_tail(const struct etcd_proc *p, char *out, size_t size);
/* Kill (if running) and free; NULL is fine. Files stay until cleanup. */
void etcd_proc_free(struct etcd_proc *p);
/* Kill and free every member still registered, remove the run's directory. */
void etcd_proc_cleanup(void);

/* A TCP listener on <net>.<host>, ephemeral port, that never accepts or
 * answers: connections complete (kernel backlog) and then hang. For deadline
 * tests. Returns the fd (close it when done) and fills url. */
int etcd_proc_blackhole(int host, char url[64], struct eo_err *err);

/* A listener on <net>.<host> whose accept queue is full, so new SYNs are
 * dropped and a connect hangs in SYN-SENT (a blackholed address). fds[0] is
 * the listener, fds[1] the connection that fills it; close both when done. */
int etcd_proc_synhole(int host, char url[64], int fds[2], struct eo_err *err);

#endif
