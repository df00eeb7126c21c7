/*
 * etcd-controller — reconciles EtcdClusters (DESIGN §4), and, as
 * `etcd-controller member-init`, the init step of every etcd Pod.
 *
 * main.c is the thin part: flags, the process's lifecycle and signals.
 * Lifecycle: parse flags → API client → health/metrics endpoints → (leader
 * election: block until this replica holds the Lease) → the manager's
 * informers and workers (manager.h) → on SIGTERM, stop taking keys, let the
 * reconciles in flight finish, release the Lease, exit 0; on a lost Lease,
 * stop acting at once and exit 1 so the Pod restarts as a standby.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cluster.h"
#include "ctl.h"
#include "eo_version.h"
#include "httpd.h"
#include "kube.h"
#include "kubeconfig.h"
#include "leader.h"
#include "log.h"
#include "manager.h"
#include "member_init.h"
#include "snapshot_cmd.h"

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_lost;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static const char usage_head[] =
	"usage: etcd-controller [flags]\n"
	"       etcd-controller member-init --help     (the init step of an etcd Pod)\n"
	"       etcd-controller snapshot-fetch --help  (the first step of a restore Pod)\n"
	"\n"
	"Reconciles EtcdClusters (etcd.k8s-operator.io/v1alpha1): membership changes one\n"
	"member at a time, new members as learners, each step recorded in status.scaling\n"
	"before it is taken.\n"
	"\n"
	"flags (durations as 90s, 5m, 1h30m):\n";

static const char usage_tail[] =
	"\n"
	"Fault tests only: --crash-at ACTION[:before|:after] (or EO_CRASH_AT) makes the process\n"
	"exit with status 3 right before (status.scaling written, action not taken) or right\n"
	"after an action: AddLearner, RaiseStatefulSet, Promote, TransferLeadership,\n"
	"RemoveMember, LowerStatefulSet, DeletePVC, Rollback, ReplaceMember, ... It changes\n"
	"nothing else.\n";

struct opts {
	const char *kubeconfig, *context, *namespace;
	bool leader_elect, version;
	const char *le_namespace, *le_id, *identity;
	int64_t step_timeout_ms, init_wait_ms, replace_grace_ms, rollback_backoff_ms, etcd_timeout_ms;
	int64_t tls_ca_ms, tls_cert_ms, tls_overlap_ms;
	int64_t le_lease_ms, le_renew_ms, le_retry_ms;
	int64_t workers;
	const char *health_addr, *metrics_addr, *log_level, *operator_image, *crash_at;
	int64_t heartbeat_ms, election_ms;
};

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

/* The flag table over o; returns how many. */
static size_t controller_flags(struct opts *o, struct cli_flag *out)
{
	const struct cli_flag all[] = {
		CLI_FLAG("kubeconfig", 0, CLI_STR, &o->kubeconfig, "PATH", "out of cluster (else $KUBECONFIG, ~/.kube/config, in-cluster)"),
		CLI_FLAG("context", 0, CLI_STR, &o->context, "NAME", "kubeconfig context"),
		CLI_FLAG("namespace", 0, CLI_STR, &o->namespace, "NS", "watch only this namespace (default: all)"),
		CLI_FLAG("leader-elect", 0, CLI_BOOL, &o->leader_elect, NULL, "one active replica through a coordination.k8s.io Lease"),
		CLI_FLAG("leader-elect-namespace", 0, CLI_STR, &o->le_namespace, "NS", "the Lease's namespace (default: $POD_NAMESPACE, else the kubeconfig's)"),
		CLI_FLAG("leader-elect-id", 0, CLI_STR, &o->le_id, "NAME", "the Lease's name (etcd-k8s-operator-controller)"),
		CLI_RANGE("leader-elect-lease-duration", CLI_DURATION, &o->le_lease_ms, 1000, HOUR_MS, "DUR", "a standby takes a Lease unchanged this long (15s)"),
		CLI_RANGE("leader-elect-renew-deadline", CLI_DURATION, &o->le_renew_ms, 1000, HOUR_MS, "DUR", "the holder stops acting when it could not renew for this long (10s)"),
		CLI_RANGE("leader-elect-retry-period", CLI_DURATION, &o->le_retry_ms, 1000, HOUR_MS, "DUR", "between attempts to take or renew (2s)"),
		CLI_FLAG("identity", 0, CLI_STR, &o->identity, "ID", "this replica in the Lease and Events ($POD_NAME_host_pid)"),
		CLI_RANGE("step-timeout", CLI_DURATION, &o->step_timeout_ms, 1, DAY_MS, "DUR", "a learner not ready / caught up / promoted within this is rolled back (5m)"),
		CLI_RANGE("workers", CLI_INT, &o->workers, 1, 64, "N", "clusters reconciled at once (2)"),
		CLI_FLAG("health-addr", 0, CLI_STR, &o->health_addr, "ADDR", "/healthz and /readyz on HOST:PORT or :PORT (off)"),
		CLI_FLAG("metrics-addr", 0, CLI_STR, &o->metrics_addr, "ADDR", "/metrics on HOST:PORT or :PORT (off)"),
		CLI_FLAG("log-level", 0, CLI_STR, &o->log_level, "LEVEL", "debug, info, warn, error (info)"),
		CLI_FLAG("operator-image", 0, CLI_STR, &o->operator_image, "IMAGE", "image of the member init step (" EC_OPERATOR_IMAGE ")"),
		CLI_RANGE("etcd-heartbeat-ms", CLI_INT, &o->heartbeat_ms, 10, 100000, "N", "etcd --heartbeat-interval in new Pods (100)"),
		CLI_RANGE("etcd-election-ms", CLI_INT, &o->election_ms, 10, 100000, "N", "etcd --election-timeout in new Pods (1000; at least 5 heartbeats)"),
		CLI_RANGE("init-wait", CLI_DURATION, &o->init_wait_ms, 1000, DAY_MS, "DUR", "how long a Pod's init step waits to be added (5m)"),
		CLI_RANGE("replace-grace", CLI_DURATION, &o->replace_grace_ms, 1, DAY_MS, "DUR", "a member whose init step reported its volume lost (exit 4) and is still in it after this is replaced (30s)"),
		CLI_RANGE("rollback-backoff", CLI_DURATION, &o->rollback_backoff_ms, 1, DAY_MS, "DUR", "after a rollback, retry the same spec after this (2 × step timeout, at least 10s)"),
		CLI_RANGE("etcd-timeout", CLI_DURATION, &o->etcd_timeout_ms, 1, HOUR_MS, "DUR", "deadline of each etcd call (5s)"),
		CLI_RANGE("tls-ca-lifetime", CLI_DURATION, &o->tls_ca_ms, 120000, 100 * 365 * DAY_MS, "DUR", "lifetime of a cluster CA made in TLS mode Auto (43800h, 5 years)"),
		CLI_RANGE("tls-cert-lifetime", CLI_DURATION, &o->tls_cert_ms, 60000, 100 * 365 * DAY_MS, "DUR", "lifetime of its peer, server and client certificates (2160h); renewed at 2/3"),
		CLI_RANGE("tls-ca-overlap", CLI_DURATION, &o->tls_overlap_ms, 1, 365 * DAY_MS, "DUR", "after a CA rotation's switch, the old CA stays trusted this long (10m)"),
		{.name = "crash-at", .type = CLI_STR, .dest = &o->crash_at, .metavar = "ACTION", .help = "fault tests only (below)", .hidden = true},
		CLI_FLAG("version", 0, CLI_BOOL, &o->version, NULL, "print the version and exit"),
	};
	memcpy(out, all, sizeof(all));
	return EO_ARRAY_LEN(all);
}

/* -1: go on; else the exit status (after --help, --version or a usage error). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.step_timeout_ms = 300000, .init_wait_ms = 300000,
			   .replace_grace_ms = 30000, .etcd_timeout_ms = 5000, .workers = 2,
			   .log_level = "info", .le_id = "etcd-k8s-operator-controller",
			   .heartbeat_ms = EC_HEARTBEAT_MS, .election_ms = EC_ELECTION_MS,
			   .le_lease_ms = 15000, .le_renew_ms = 10000, .le_retry_ms = 2000};
	o->crash_at = getenv("EO_CRASH_AT");
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = controller_flags(o, flags);
	struct cli_parsed p;
	struct eo_err err = {0};
	if (cli_parse(argc - 1, argv + 1, flags, n, &p, &err) != 0) {
		fprintf(stderr, "etcd-controller: %s (see --help)\n", err.msg);
		return 2;
	}
	if (p.help) {
		fputs(usage_head, stdout);
		cli_flags_help(stdout, flags, n);
		fputs(usage_tail, stdout);
		return 0;
	}
	if (o->version) {
		printf("etcd-controller %s\n", EO_VERSION);
		return 0;
	}
	if (p.npos > 0) {
		fprintf(stderr, "etcd-controller: unexpected argument \"%s\" (see --help)\n", p.pos[0]);
		return 2;
	}
	/* The Lease counts whole seconds: 1500ms would become 1 s after this check. */
	if (o->le_lease_ms % 1000 || o->le_renew_ms % 1000 || o->le_retry_ms % 1000 ||
	    o->le_renew_ms >= o->le_lease_ms || o->le_retry_ms >= o->le_renew_ms) {
		fprintf(stderr, "etcd-controller: leader election wants whole seconds with retry period "
			"< renew deadline < lease duration (got %lldms, %lldms, %lldms)\n",
			(long long)o->le_retry_ms, (long long)o->le_renew_ms, (long long)o->le_lease_ms);
		return 2;
	}
	/* A leaf never outlives its CA (certs_make_leaf refuses). */
	if (o->tls_cert_ms && o->tls_cert_ms >= (o->tls_ca_ms ? o->tls_ca_ms : 43800LL * HOUR_MS)) {
		fprintf(stderr, "etcd-controller: --tls-cert-lifetime (at least 1m) must be shorter than "
			"--tls-ca-lifetime (at least 2m)\n");
		return 2;
	}
	if (ec_timing_check(o->heartbeat_ms, o->election_ms, "--etcd-heartbeat-ms",
			    "--etcd-election-ms", &err) != 0) {
		fprintf(stderr, "etcd-controller: %s\n", err.msg);
		return 2;
	}
	return -1;
}

/* ---- crash points (fault tests) --------------------------------------- */

static char crash_action[64], crash_when[16];

static void crash_hook(const char *action, const char *when, void *ud)
{
	(void)ud;
	if (strcmp(action, crash_action) != 0 || strcmp(when, crash_when) != 0)
		return;
	log_warn("crash point reached: exiting as asked by --crash-at (a fault test)",
		 "action=%s when=%s", action, when);
	fflush(stderr);
	_exit(3);
}

/* ---- the process ------------------------------------------------------- */

static void on_lost(void *ud)
{
	struct ctl *ctl = ud;
	atomic_store(&ctl->leading, false); /* stop acting at once */
	metrics_set_leader(ctl->metrics, false);
	g_lost = 1;
}

static void default_identity(char *out, size_t size)
{
	char host[128] = "";
	const char *pod = getenv("POD_NAME");
	if (!pod || !*pod) {
		gethostname(host, sizeof(host) - 1);
		pod = host;
	}
	snprintf(out, size, "%s_%d_%04x", pod, (int)getpid(), (unsigned)(eo_now_ms() & 0xffff));
}

static int run(const struct opts *o)
{
	struct eo_err err = {0};
	char q[300];
	struct kubeconfig_opts ko = {.kubeconfig = o->kubeconfig, .context = o->context};
	struct kube_conn *conn = NULL;
	if (kubeconfig_load(&ko, &conn, &err) != 0) {
		log_error("no connection to the API server", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	struct kube_client_opts kopts = {.timeout_ms = 15000,
					 .user_agent = "etcd-controller/" EO_VERSION " (linux)"};
	struct ctl ctl = {0};
	ctl.kc = kube_client_new(conn, &kopts, &err);
	if (!ctl.kc) {
		log_error("no API client", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	ctl.metrics = metrics_new();
	ctl.step_timeout_ms = o->step_timeout_ms;
	ctl.replace_grace_ms = o->replace_grace_ms;
	ctl.rollback_backoff_ms = o->rollback_backoff_ms;
	ctl.etcd_timeout_ms = (long)o->etcd_timeout_ms;
	ctl.tls_ca_s = (long)(o->tls_ca_ms / 1000);
	ctl.tls_leaf_s = (long)(o->tls_cert_ms / 1000);
	ctl.tls_ca_overlap_s = (long)((o->tls_overlap_ms ? o->tls_overlap_ms : 600000) / 1000);
	ctl.res = (struct res_opts){.operator_image = o->operator_image,
				    .heartbeat_ms = (int)o->heartbeat_ms,
				    .election_ms = (int)o->election_ms,
				    .init_wait_s = (int)(o->init_wait_ms / 1000)};
	if (o->identity)
		eo_strlcpy(ctl.identity, o->identity, sizeof(ctl.identity));
	else
		default_identity(ctl.identity, sizeof(ctl.identity));
	if (o->crash_at && *o->crash_at) {
		const char *colon = strchr(o->crash_at, ':');
		size_t n = colon ? (size_t)(colon - o->crash_at) : strlen(o->crash_at);
		snprintf(crash_action, sizeof(crash_action), "%.*s", (int)n, o->crash_at);
		eo_strlcpy(crash_when, colon ? colon + 1 : "after", sizeof(crash_when));
		ctl.crash_hook = crash_hook;
		log_warn("crash point armed (fault tests only)", "action=%s when=%s", crash_action,
			 crash_when);
	}
	struct mgr *m = mgr_new(&ctl, o->namespace, &g_stop);
	int rc = 0;
	bool all_joined = true; /* false: a detached thread may still use what is shared */
	struct leader *le = NULL;

	struct httpd *health = NULL, *metrics = NULL;
	bool same = o->health_addr && o->metrics_addr && strcmp(o->health_addr, o->metrics_addr) == 0;
	if (o->health_addr && strcmp(o->health_addr, "0") != 0 &&
	    !(health = httpd_start(o->health_addr, true, same, ctl.metrics, mgr_ready, m, &err)))
		goto fail;
	if (!same && o->metrics_addr && strcmp(o->metrics_addr, "0") != 0 &&
	    !(metrics = httpd_start(o->metrics_addr, false, true, ctl.metrics, NULL, NULL, &err)))
		goto fail;

	if (o->leader_elect) {
		const char *ns = o->le_namespace ? o->le_namespace : getenv("POD_NAMESPACE");
		if (!ns || !*ns)
			ns = kube_client_namespace(ctl.kc);
		struct leader_opts lo = {.namespace = ns, .name = o->le_id, .identity = ctl.identity,
					 .lease_s = (int)(o->le_lease_ms / 1000),
					 .renew_deadline_s = (int)(o->le_renew_ms / 1000),
					 .retry_s = (int)(o->le_retry_ms / 1000)};
		le = leader_new(ctl.kc, &lo);
		if (leader_acquire(le, &g_stop, &err) != 0) { /* stopped while standing by */
			leader_free(le);
			le = NULL;
			goto done;
		}
		if (leader_start_renewing(le, on_lost, &ctl, &err) != 0)
			goto fail;
	}
	atomic_store(&ctl.leading, true);
	metrics_set_leader(ctl.metrics, true);
	log_info("controller started", "identity=%s namespace=%s workers=%lld step_timeout_ms=%lld",
		 ctl.identity, o->namespace ? o->namespace : "(all)", (long long)o->workers,
		 (long long)o->step_timeout_ms);
	mgr_start(m, (int)o->workers);
	while (!g_stop && !g_lost)
		eo_sleep_ms(100);
	log_info(g_lost ? "stopping: leadership lost" : "stopping: finishing the reconciles in flight",
		 "identity=%s", ctl.identity);
	all_joined = mgr_stop(m);
	rc = g_lost ? 1 : 0;
	goto done;
fail:
	log_error("cannot start", "error=%s", log_q(q, sizeof(q), err.msg));
	rc = 1;
done:
	leader_free(le); /* releases the Lease unless it was lost */
	httpd_stop(health);
	httpd_stop(metrics);
	log_info("stopped", "exit=%d", rc);
	if (all_joined) { /* nothing uses them any more */
		mgr_free(m);
		metrics_free(ctl.metrics);
		kube_client_free(ctl.kc);
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "member-init") == 0)
		return mi_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "snapshot-fetch") == 0)
		return snapcmd_fetch_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "snapshot-save") == 0)
		return snapcmd_save_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "snapshot-receive") == 0)
		return snapcmd_receive_main(argc - 1, argv + 1);
	struct opts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	int lvl = log_level_parse(o.log_level);
	if (lvl < 0) {
		fprintf(stderr, "etcd-controller: --log-level: debug, info, warn or error, not \"%s\"\n",
			o.log_level);
		return 2;
	}
	log_init("controller", (enum eo_log_level)lvl);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return run(&o);
}
