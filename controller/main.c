/*
 * etcd-controller — reconciles EtcdClusters (DESIGN §4), and, as
 * `etcd-controller member-init`, the init step of every etcd Pod.
 *
 * main.c is the thin part: flags, the process's lifecycle and signals.
 * Lifecycle: parse flags → API client → health/metrics endpoints → (leader
 * election: block until this replica holds the Lease) → informers that
 * enqueue cluster keys → workers that reconcile them → on SIGTERM, stop
 * taking keys, let the reconciles in flight finish, release the Lease, exit
 * 0; on a lost Lease, stop acting at once and exit 1 so the Pod restarts as
 * a standby.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup_ctl.h"
#include "cluster.h"
#include "ctl.h"
#include "httpd.h"
#include "json.h"
#include "kube.h"
#include "kubeconfig.h"
#include "leader.h"
#include "log.h"
#include "member_init.h"
#include "reconcile.h"
#include "snapshot_cmd.h"
#include "workqueue.h"
#include "eo_version.h"


static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_lost;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static const char usage[] =
	"usage: etcd-controller [flags]\n"
	"       etcd-controller member-init --help     (the init step of an etcd Pod)\n"
	"       etcd-controller snapshot-fetch --help  (the first step of a restore Pod)\n"
	"\n"
	"Reconciles EtcdClusters (etcd.k8s-operator.io/v1alpha1): membership changes one\n"
	"member at a time, new members as learners, each step recorded in status.scaling\n"
	"before it is taken.\n"
	"\n"
	"flags:\n"
	"  --kubeconfig PATH            out of cluster (else $KUBECONFIG, ~/.kube/config, in-cluster)\n"
	"  --context NAME               kubeconfig context\n"
	"  --namespace NS               watch only this namespace (default: all)\n"
	"  --leader-elect               one active replica through a coordination.k8s.io Lease\n"
	"  --leader-elect-namespace NS  the Lease's namespace (default: $POD_NAMESPACE, else the\n"
	"                               kubeconfig's namespace)\n"
	"  --leader-elect-id NAME       the Lease's name (etcd-k8s-operator-controller)\n"
	"  --leader-elect-lease-duration DUR   a standby takes a Lease unchanged this long (15s)\n"
	"  --leader-elect-renew-deadline DUR   the holder stops acting when it could not renew\n"
	"                               for this long (10s; less than the lease duration)\n"
	"  --leader-elect-retry-period DUR     between attempts to take or renew (2s)\n"
	"  --identity ID                this replica in the Lease and Events ($POD_NAME_host_pid)\n"
	"  --step-timeout DUR           a learner not ready / caught up / promoted within this is\n"
	"                               rolled back (5m; e.g. 90s, 2m)\n"
	"  --workers N                  clusters reconciled at once (2)\n"
	"  --health-addr ADDR           /healthz and /readyz on HOST:PORT or :PORT (off)\n"
	"  --metrics-addr ADDR          /metrics on HOST:PORT or :PORT (off)\n"
	"  --log-level LEVEL            debug, info, warn, error (info)\n"
	"  --operator-image IMAGE       image of the member init step (" EC_OPERATOR_IMAGE ")\n"
	"  --etcd-heartbeat-ms N        etcd --heartbeat-interval in new Pods (100)\n"
	"  --etcd-election-ms N         etcd --election-timeout in new Pods (1000)\n"
	"  --init-wait DUR              how long a Pod's init step waits to be added (5m)\n"
	"  --replace-grace DUR          a started member whose Pod's init step reported its volume\n"
	"                               lost (exit status 4) and is still in it after this is\n"
	"                               replaced: removed, added again as a learner (30s)\n"
	"  --rollback-backoff DUR       after a rollback, retry the same spec after this (2 × step\n"
	"                               timeout, at least 10s)\n"
	"  --etcd-timeout DUR           deadline of each etcd call (5s)\n"
	"  --tls-ca-lifetime DUR        lifetime of a cluster CA made in TLS mode Auto (43800h, 5 years)\n"
	"  --tls-cert-lifetime DUR      lifetime of its peer, server and client certificates (2160h,\n"
	"                               90 days); each is renewed at two thirds of it\n"
	"  --tls-ca-overlap DUR         after a CA rotation's switch, the old CA stays trusted in\n"
	"                               ca.crt this long (10m): time for every kubelet to refresh\n"
	"                               the members' files\n"
	"  --version, --help\n"
	"\n"
	"Fault tests only: --crash-at ACTION[:before|:after] (or EO_CRASH_AT) makes the process\n"
	"exit with status 3 right before (status.scaling written, action not taken) or right\n"
	"after an action: AddLearner, RaiseStatefulSet, Promote, TransferLeadership,\n"
	"RemoveMember, LowerStatefulSet, DeletePVC, Rollback, ReplaceMember, ... It changes\n"
	"nothing else.\n";

/* "5m", "90s", "500ms", "1h", "2m30s", "30" (seconds) → ms; -1 when unreadable. */
static int64_t parse_duration(const char *s)
{
	if (!s || !*s)
		return -1;
	int64_t total = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0)
			return -1;
		int64_t unit = 1000;
		size_t skip = 1;
		if (strncmp(end, "ms", 2) == 0) {
			unit = 1;
			skip = 2;
		} else if (*end == 'm') {
			unit = 60000;
		} else if (*end == 'h') {
			unit = 3600000;
		} else if (*end != 's') {
			skip = 0;
			if (*end)
				return -1;
		}
		end += skip;
		total += (int64_t)(v * (double)unit);
		p = end;
		if (*p && (*p < '0' || *p > '9') && *p != '.')
			return -1;
	}
	return total;
}

struct opts {
	const char *kubeconfig, *context, *namespace;
	bool leader_elect;
	const char *le_namespace, *le_id, *identity;
	int64_t step_timeout_ms, init_wait_ms, replace_grace_ms, rollback_backoff_ms, etcd_timeout_ms;
	int64_t tls_ca_ms, tls_cert_ms, tls_overlap_ms;
	int64_t le_lease_ms, le_renew_ms, le_retry_ms;
	int workers;
	const char *health_addr, *metrics_addr, *log_level, *operator_image, *crash_at;
	int heartbeat_ms, election_ms;
};

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_KUBECONFIG = 1000, O_CONTEXT, O_NAMESPACE, O_LE, O_LE_NS, O_LE_ID, O_IDENTITY,
		O_STEP, O_WORKERS, O_HEALTH, O_METRICS, O_LOG, O_IMAGE, O_HB, O_EL, O_INIT_WAIT,
		O_GRACE, O_BACKOFF, O_ETCD_TIMEOUT, O_CRASH, O_VERSION, O_HELP, O_LE_LEASE, O_LE_RENEW,
		O_LE_RETRY, O_TLS_CA, O_TLS_CERT, O_TLS_OVERLAP,
	};
	static const struct option lo[] = {
		{"kubeconfig", required_argument, NULL, O_KUBECONFIG},
		{"context", required_argument, NULL, O_CONTEXT},
		{"namespace", required_argument, NULL, O_NAMESPACE},
		{"leader-elect", optional_argument, NULL, O_LE},
		{"leader-elect-namespace", required_argument, NULL, O_LE_NS},
		{"leader-elect-id", required_argument, NULL, O_LE_ID},
		{"leader-elect-lease-duration", required_argument, NULL, O_LE_LEASE},
		{"leader-elect-renew-deadline", required_argument, NULL, O_LE_RENEW},
		{"leader-elect-retry-period", required_argument, NULL, O_LE_RETRY},
		{"identity", required_argument, NULL, O_IDENTITY},
		{"step-timeout", required_argument, NULL, O_STEP},
		{"workers", required_argument, NULL, O_WORKERS},
		{"health-addr", required_argument, NULL, O_HEALTH},
		{"metrics-addr", required_argument, NULL, O_METRICS},
		{"log-level", required_argument, NULL, O_LOG},
		{"operator-image", required_argument, NULL, O_IMAGE},
		{"etcd-heartbeat-ms", required_argument, NULL, O_HB},
		{"etcd-election-ms", required_argument, NULL, O_EL},
		{"init-wait", required_argument, NULL, O_INIT_WAIT},
		{"replace-grace", required_argument, NULL, O_GRACE},
		{"rollback-backoff", required_argument, NULL, O_BACKOFF},
		{"etcd-timeout", required_argument, NULL, O_ETCD_TIMEOUT},
		{"tls-ca-lifetime", required_argument, NULL, O_TLS_CA},
		{"tls-ca-overlap", required_argument, NULL, O_TLS_OVERLAP},
		{"tls-cert-lifetime", required_argument, NULL, O_TLS_CERT},
		{"crash-at", required_argument, NULL, O_CRASH},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	*o = (struct opts){.step_timeout_ms = 300000, .init_wait_ms = 300000,
			   .replace_grace_ms = 30000, .etcd_timeout_ms = 5000, .workers = 2,
			   .log_level = "info", .le_id = "etcd-k8s-operator-controller",
			   .heartbeat_ms = 100, .election_ms = 1000, .le_lease_ms = 15000,
			   .le_renew_ms = 10000, .le_retry_ms = 2000};
	o->crash_at = getenv("EO_CRASH_AT");
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int64_t d;
		switch (c) {
		case O_KUBECONFIG: o->kubeconfig = optarg; break;
		case O_CONTEXT: o->context = optarg; break;
		case O_NAMESPACE: o->namespace = optarg; break;
		case O_LE:
			o->leader_elect = !optarg || strcmp(optarg, "true") == 0;
			break;
		case O_LE_NS: o->le_namespace = optarg; break;
		case O_LE_ID: o->le_id = optarg; break;
		case O_IDENTITY: o->identity = optarg; break;
		case O_HEALTH: o->health_addr = optarg; break;
		case O_METRICS: o->metrics_addr = optarg; break;
		case O_LOG: o->log_level = optarg; break;
		case O_IMAGE: o->operator_image = optarg; break;
		case O_CRASH: o->crash_at = optarg; break;
		case O_WORKERS:
			if (parse_int(optarg, 1, 64, &o->workers) != 0) {
				fprintf(stderr, "etcd-controller: --workers: want 1..64, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case O_HB:
		case O_EL:
			if (parse_int(optarg, 10, 100000, c == O_HB ? &o->heartbeat_ms : &o->election_ms) != 0) {
				fprintf(stderr, "etcd-controller: %s: want milliseconds 10..100000, got \"%s\"\n",
					c == O_HB ? "--etcd-heartbeat-ms" : "--etcd-election-ms", optarg);
				return 2;
			}
			break;
		case O_STEP:
		case O_INIT_WAIT:
		case O_GRACE:
		case O_BACKOFF:
		case O_ETCD_TIMEOUT:
		case O_LE_LEASE:
		case O_LE_RENEW:
		case O_LE_RETRY:
		case O_TLS_CA:
		case O_TLS_CERT:
		case O_TLS_OVERLAP:
			d = parse_duration(optarg);
			if (d <= 0) {
				fprintf(stderr, "etcd-controller: %s: \"%s\" is not a duration (e.g. 90s, 5m, "
					"500ms)\n", argv[optind - 1], optarg);
				return 2;
			}
			if (c == O_STEP) o->step_timeout_ms = d;
			else if (c == O_INIT_WAIT) o->init_wait_ms = d;
			else if (c == O_GRACE) o->replace_grace_ms = d;
			else if (c == O_BACKOFF) o->rollback_backoff_ms = d;
			else if (c == O_LE_LEASE) o->le_lease_ms = d;
			else if (c == O_LE_RENEW) o->le_renew_ms = d;
			else if (c == O_LE_RETRY) o->le_retry_ms = d;
			else if (c == O_TLS_CA) o->tls_ca_ms = d;
			else if (c == O_TLS_CERT) o->tls_cert_ms = d;
			else if (c == O_TLS_OVERLAP) o->tls_overlap_ms = d;
			else o->etcd_timeout_ms = d;
			break;
		case O_VERSION:
			printf("etcd-controller %s\n", EO_VERSION);
			return 0;
		case O_HELP:
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fprintf(stderr, "etcd-controller: unknown or incomplete flag %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "etcd-controller: unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return 2;
	}
	/* The Lease counts whole seconds: 1500ms would become 1 s after this check. */
	if (o->le_lease_ms < 1000 || o->le_renew_ms < 1000 || o->le_retry_ms < 1000 ||
	    o->le_lease_ms % 1000 || o->le_renew_ms % 1000 || o->le_retry_ms % 1000 ||
	    o->le_renew_ms >= o->le_lease_ms || o->le_retry_ms >= o->le_renew_ms) {
		fprintf(stderr, "etcd-controller: leader election wants whole seconds with retry period "
			"< renew deadline < lease duration (got %lldms, %lldms, %lldms)\n",
			(long long)o->le_retry_ms, (long long)o->le_renew_ms, (long long)o->le_lease_ms);
		return 2;
	}
	/* A leaf never outlives its CA (certs_make_leaf refuses), and etcd's
	 * clocks are compared in seconds: a minute at least. */
	if ((o->tls_ca_ms && o->tls_ca_ms < 120000) || (o->tls_cert_ms && o->tls_cert_ms < 60000) ||
	    (o->tls_cert_ms && o->tls_cert_ms >= (o->tls_ca_ms ? o->tls_ca_ms : 43800LL * 3600000))) {
		fprintf(stderr, "etcd-controller: --tls-cert-lifetime (at least 1m) must be shorter than "
			"--tls-ca-lifetime (at least 2m)\n");
		return 2;
	}
	if (o->election_ms < 5 * o->heartbeat_ms) {
		fprintf(stderr, "etcd-controller: --etcd-election-ms %d must be at least 5 × "
			"--etcd-heartbeat-ms (%d)\n", o->election_ms, o->heartbeat_ms);
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

/* ---- informers and workers -------------------------------------------- */

struct app {
	struct ctl ctl;
	struct wq *q;
	const char *namespace; /* NULL: all */
	pthread_mutex_t mu;
	int synced, informers;
	char **keys; /* EtcdClusters seen, for the clusters gauge */
	size_t nkeys;
};

struct informer {
	struct app *app;
	const struct kube_res *res;
	const char *selector;
	pthread_t thread;
	bool started;
	bool synced;
};

static void track_cluster(struct app *a, const char *key, bool present)
{
	pthread_mutex_lock(&a->mu);
	size_t i;
	for (i = 0; i < a->nkeys; i++)
		if (strcmp(a->keys[i], key) == 0)
			break;
	if (present && i == a->nkeys) {
		char **k = realloc(a->keys, (a->nkeys + 1) * sizeof(*k));
		if (!k)
			abort();
		a->keys = k;
		a->keys[a->nkeys++] = eo_strdup0(key);
	} else if (!present && i < a->nkeys) {
		free(a->keys[i]);
		a->keys[i] = a->keys[--a->nkeys];
	}
	metrics_set_clusters(a->ctl.metrics, a->nkeys);
	pthread_mutex_unlock(&a->mu);
}

/* The EtcdCluster an object belongs to: itself, or the owner its labels
 * (else a claim's name "data-<cluster>-<k>") name. */
static bool owner_key(const struct kube_res *res, json_object *obj, char *key, size_t size)
{
	const char *ns = json_opt_str(obj, "metadata.namespace", "");
	const char *name = json_opt_str(obj, "metadata.name", "");
	if (res == &KUBE_ETCDCLUSTERS) {
		snprintf(key, size, "%s/%s", ns, name);
		return *ns && *name;
	}
	const char *cl = json_opt_str(obj, "metadata.labels[" EC_LABEL_CLUSTER "]", "");
	if (*cl) {
		snprintf(key, size, "%s/%s", ns, cl);
		return true;
	}
	if (res == &KUBE_PVCS && strncmp(name, "data-", 5) == 0) {
		const char *dash = strrchr(name, '-');
		if (dash && dash > name + 5) {
			snprintf(key, size, "%s/%.*s", ns, (int)(dash - name - 5), name + 5);
			return true;
		}
	}
	return false;
}

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct informer *inf = ud;
	struct app *a = inf->app;
	if (ev == KUBE_EV_SYNCED) {
		pthread_mutex_lock(&a->mu);
		if (!inf->synced) {
			inf->synced = true;
			a->synced++;
		}
		pthread_mutex_unlock(&a->mu);
		return g_stop != 0;
	}
	if (inf->res == &KUBE_ETCDBACKUPS) { /* their own queue (backup_ctl.c) */
		if (obj && a->ctl.backup)
			bk_enqueue(a->ctl.backup, obj);
		return g_stop != 0;
	}
	char key[400];
	if (obj && owner_key(inf->res, obj, key, sizeof(key))) {
		if (inf->res == &KUBE_ETCDCLUSTERS)
			track_cluster(a, key, ev != KUBE_EV_DELETED);
		wq_add(a->q, key);
	}
	return g_stop != 0;
}

static void *informer_main(void *arg)
{
	struct informer *inf = arg;
	struct eo_err err = {0};
	char q[300];
	if (kube_informer_run(inf->app->ctl.kc, inf->res, inf->app->namespace, inf->selector, on_event,
			      inf, &g_stop, &err) != 0 && !g_stop)
		log_error("watch ended", "resource=%s error=%s", inf->res->plural,
			  log_q(q, sizeof(q), err.msg));
	return NULL;
}

static void *worker_main(void *arg)
{
	struct app *a = arg;
	char q[300];
	char *key;
	while ((key = wq_get(a->q))) {
		int64_t requeue = 0;
		struct eo_err err = {0};
		if (rec_reconcile(&a->ctl, key, &requeue, &err) != 0) {
			int64_t d = 200;
			if (err.code == 409)
				wq_add_after(a->q, key, d);
			else
				d = wq_add_rate_limited(a->q, key);
			log_warn("reconcile failed", "cluster=%s retry_in_ms=%lld error=%s", key, (long long)d,
				 log_q(q, sizeof(q), err.msg));
		} else {
			wq_forget(a->q, key);
			if (requeue > 0)
				wq_add_after(a->q, key, requeue);
		}
		wq_done(a->q, key);
		free(key);
		metrics_set_queue_depth(a->ctl.metrics, wq_len(a->q));
	}
	return NULL;
}

static bool ready(void *ud, char *why, size_t size)
{
	struct app *a = ud;
	pthread_mutex_lock(&a->mu);
	bool ok = a->informers == 0 || a->synced == a->informers;
	int synced = a->synced, n = a->informers;
	pthread_mutex_unlock(&a->mu);
	if (!ok)
		snprintf(why, size, "%d of %d watches have synced", synced, n);
	return ok;
}

static void on_lost(void *ud)
{
	struct app *a = ud;
	atomic_store(&a->ctl.leading, false); /* stop acting at once */
	metrics_set_leader(a->ctl.metrics, false);
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
	struct app a = {.namespace = o->namespace};
	pthread_mutex_init(&a.mu, NULL);
	a.ctl.kc = kube_client_new(conn, &kopts, &err);
	if (!a.ctl.kc) {
		log_error("no API client", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	a.ctl.metrics = metrics_new();
	a.ctl.step_timeout_ms = o->step_timeout_ms;
	a.ctl.replace_grace_ms = o->replace_grace_ms;
	a.ctl.rollback_backoff_ms = o->rollback_backoff_ms;
	a.ctl.etcd_timeout_ms = (long)o->etcd_timeout_ms;
	a.ctl.tls_ca_s = (long)(o->tls_ca_ms / 1000);
	a.ctl.tls_leaf_s = (long)(o->tls_cert_ms / 1000);
	a.ctl.tls_ca_overlap_s = (long)((o->tls_overlap_ms ? o->tls_overlap_ms : 600000) / 1000);
	a.ctl.res = (struct res_opts){.operator_image = o->operator_image,
				      .heartbeat_ms = o->heartbeat_ms,
				      .election_ms = o->election_ms,
				      .init_wait_s = (int)(o->init_wait_ms / 1000)};
	if (o->identity)
		eo_strlcpy(a.ctl.identity, o->identity, sizeof(a.ctl.identity));
	else
		default_identity(a.ctl.identity, sizeof(a.ctl.identity));
	if (o->crash_at && *o->crash_at) {
		const char *colon = strchr(o->crash_at, ':');
		size_t n = colon ? (size_t)(colon - o->crash_at) : strlen(o->crash_at);
		snprintf(crash_action, sizeof(crash_action), "%.*s", (int)n, o->crash_at);
		eo_strlcpy(crash_when, colon ? colon + 1 : "after", sizeof(crash_when));
		a.ctl.crash_hook = crash_hook;
		log_warn("crash point armed (fault tests only)", "action=%s when=%s", crash_action,
			 crash_when);
	}
	a.q = wq_new(500, 10000);
	/* EtcdBackups: a worker and queue of their own (snapshots are long),
	 * the BackupStale condition for the cluster passes, their metrics */
	a.ctl.backup = bk_new(&a.ctl, a.q);
	metrics_set_extra(a.ctl.metrics, bk_metrics_render, a.ctl.backup);
	int rc = 0;
	bool all_joined = true; /* false: a detached thread may still use what is shared */
	struct leader *le = NULL;

	struct httpd *health = NULL, *metrics = NULL;
	bool same = o->health_addr && o->metrics_addr && strcmp(o->health_addr, o->metrics_addr) == 0;
	if (o->health_addr && strcmp(o->health_addr, "0") != 0 &&
	    !(health = httpd_start(o->health_addr, true, same, a.ctl.metrics, ready, &a, &err)))
		goto fail;
	if (!same && o->metrics_addr && strcmp(o->metrics_addr, "0") != 0 &&
	    !(metrics = httpd_start(o->metrics_addr, false, true, a.ctl.metrics, NULL, NULL, &err)))
		goto fail;

	if (o->leader_elect) {
		const char *ns = o->le_namespace ? o->le_namespace : getenv("POD_NAMESPACE");
		if (!ns || !*ns)
			ns = kube_client_namespace(a.ctl.kc);
		struct leader_opts lo = {.namespace = ns, .name = o->le_id, .identity = a.ctl.identity,
					 .lease_s = (int)(o->le_lease_ms / 1000),
					 .renew_deadline_s = (int)(o->le_renew_ms / 1000),
					 .retry_s = (int)(o->le_retry_ms / 1000)};
		le = leader_new(a.ctl.kc, &lo);
		if (leader_acquire(le, &g_stop, &err) != 0) { /* stopped while standing by */
			leader_free(le);
			le = NULL;
			goto done;
		}
		if (leader_start_renewing(le, on_lost, &a, &err) != 0)
			goto fail;
	}
	atomic_store(&a.ctl.leading, true);
	metrics_set_leader(a.ctl.metrics, true);
	log_info("controller started", "identity=%s namespace=%s workers=%d step_timeout_ms=%lld",
		 a.ctl.identity, o->namespace ? o->namespace : "(all)", o->workers,
		 (long long)o->step_timeout_ms);

	static const char managed[] = "app.kubernetes.io/managed-by=etcd-k8s-operator";
	struct informer infs[] = {
		{&a, &KUBE_ETCDCLUSTERS, NULL, 0, false, false},
		{&a, &KUBE_STATEFULSETS, managed, 0, false, false},
		{&a, &KUBE_PODS, managed, 0, false, false},
		{&a, &KUBE_PVCS, managed, 0, false, false}, /* the claim template carries the labels */
		{&a, &KUBE_SERVICES, managed, 0, false, false},
		{&a, &KUBE_PDBS, managed, 0, false, false},
		{&a, &KUBE_ETCDBACKUPS, NULL, 0, false, false},
	};
	a.informers = (int)EO_ARRAY_LEN(infs);
	for (size_t i = 0; i < EO_ARRAY_LEN(infs); i++)
		infs[i].started = pthread_create(&infs[i].thread, NULL, informer_main, &infs[i]) == 0;
	pthread_t workers[64];
	int nw = 0;
	for (; nw < o->workers; nw++)
		if (pthread_create(&workers[nw], NULL, worker_main, &a) != 0)
			break;
	if (a.ctl.backup && bk_start(a.ctl.backup) != 0)
		log_error("no backup worker: EtcdBackups are not served", "identity=%s", a.ctl.identity);

	while (!g_stop && !g_lost)
		eo_sleep_ms(100);
	log_info(g_lost ? "stopping: leadership lost" : "stopping: finishing the reconciles in flight",
		 "identity=%s", a.ctl.identity);
	wq_shutdown(a.q);
	for (int i = 0; i < nw; i++)
		pthread_join(workers[i], NULL);
	bk_stop(a.ctl.backup); /* a snapshot in flight finishes first */
	g_stop = 1;
	for (size_t i = 0; i < EO_ARRAY_LEN(infs); i++) {
		if (!infs[i].started)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 3;
		if (pthread_timedjoin_np(infs[i].thread, NULL, &ts) != 0) {
			pthread_detach(infs[i].thread); /* a watch stuck in a read: the exit ends it */
			all_joined = false;
		}
	}
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
		wq_free(a.q);
		bk_free(a.ctl.backup);
		metrics_free(a.ctl.metrics);
		kube_client_free(a.ctl.kc);
		for (size_t i = 0; i < a.nkeys; i++)
			free(a.keys[i]);
		free(a.keys);
		pthread_mutex_destroy(&a.mu);
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
