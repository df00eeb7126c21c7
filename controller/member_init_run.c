/*
 * member_init_run.c — the I/O half of the member init step: look at the
 * volume, ask the cluster, decide (member_init.c), and either write etcd's
 * configuration or wait and ask again.
 *
 * The one idea: ask with quorum where possible. A member list is read from
 * one endpoint at a time through etcd_member_list(linearizable), whose
 * linearizable barrier read fails on a member cut off from the leader, so an
 * answer that lacks our recorded id is evidence, not a stale view. Only when
 * no endpoint can answer that way is a local (serializable) list kept, and
 * it is never used to delete data.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "member_init.h"

static void look_for_wal(const char *data_dir, struct mi_facts *f)
{
	int r = mi_data_present(data_dir, f->data_error, sizeof(f->data_error));
	f->has_data = r == 1;
	f->data_unknown = r < 0;
}

static void read_id(const char *path, struct mi_facts *f)
{
	f->has_id = mi_read_id_file(path, &f->recorded_id, &f->recorded_cluster);
}

static int write_id(const char *path, uint64_t id, uint64_t cluster, struct eo_err *err)
{
	char m[21], c[21], buf[64];
	etcd_id_dec(id, m);
	etcd_id_dec(cluster, c);
	/* Two 20-digit numbers and two newlines always fit. */
	int n = snprintf(buf, sizeof(buf), "%s\n%s%s", m, cluster ? c : "", cluster ? "\n" : "");
	return eo_write_file(path, buf, (size_t)n, 0644, err);
}

/* The guard's one-time ticket: "<config file>.first-start". */
static int ticket_path(const char *config_file, char *out, size_t size, struct eo_err *err)
{
	int n = snprintf(out, size, "%s" MI_FIRST_START, config_file);
	if (n < 0 || (size_t)n >= size)
		return eo_err_set(err, EO_EINVAL, "member-init: --config-file: over %zu characters",
				  size - sizeof(MI_FIRST_START));
	return 0;
}

/* A start without data leaves the ticket for one start of etcd; a start on
 * data takes any old one away (etcd must never start without its data). */
static int set_ticket(const struct mi_config *cfg, bool on, struct eo_err *err)
{
	char path[600];
	if (ticket_path(cfg->config_file, path, sizeof(path), err) != 0)
		return -1;
	static const char text[] = "etcd-controller member-init: etcd may start once without data\n";
	if (on)
		return eo_write_file(path, text, sizeof(text) - 1, 0644, err);
	if (unlink(path) != 0 && errno != ENOENT)
		return eo_err_set(err, EO_ESYS, "member-init: removing %s: %s", path, strerror(errno));
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

static int wipe(const struct mi_config *cfg, struct eo_err *err)
{
	if (nftw(cfg->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		return eo_err_set(err, EO_ESYS, "member-init: wiping %s: %s", cfg->data_dir,
				  strerror(errno));
	if (unlink(cfg->id_file) != 0 && errno != ENOENT)
		return eo_err_set(err, EO_ESYS, "member-init: removing %s: %s", cfg->id_file,
				  strerror(errno));
	return 0;
}

/* One round of asking: the first quorum read wins; a local list is kept
 * as a fallback. *why gets the last failure, for the log. */
static void ask(const struct mi_config *cfg, struct mi_facts *f, char *why, size_t size)
{
	f->list_known = f->quorum_read = false;
	why[0] = '\0';
	for (int i = 0; i < cfg->nendpoints; i++) {
		const char *ep = cfg->endpoints[i];
		struct eo_err err = {0};
		/* client TLS: present the member's server certificate (it allows
		 * clientAuth) and trust the cluster's CA, all from the mounted
		 * Secret */
		char ca[300], crt[300], key[300];
		snprintf(ca, sizeof(ca), "%s/ca.crt", cfg->client_tls_dir);
		snprintf(crt, sizeof(crt), "%s/tls.crt", cfg->client_tls_dir);
		snprintf(key, sizeof(key), "%s/tls.key", cfg->client_tls_dir);
		struct etcd_tls tls = {.ca_file = ca, .cert_file = crt, .key_file = key};
		struct etcd_client *c = etcd_client_new(&ep, 1, cfg->client_tls_dir[0] ? &tls : NULL,
							cfg->ask_timeout_ms, &err);
		if (!c) {
			eo_strlcpy(why, err.msg, size); /* a message: cut to size is fine */
			continue;
		}
		struct etcd_members ms;
		if (etcd_member_list(c, true, &ms, &err) == 0) {
			f->members = ms;
			f->list_known = f->quorum_read = true;
			etcd_client_free(c);
			return;
		}
		eo_strlcpy(why, err.msg, size);
		/* Answered but without quorum (not a learner, not unreachable):
		 * its local view is better than nothing for joining. */
		if (!f->list_known && err.code != ETCD_ELEARNER && err.code != EO_ETRANSPORT &&
		    etcd_member_list(c, false, &ms, &err) == 0) {
			f->members = ms;
			f->list_known = true;
		}
		etcd_client_free(c);
	}
}

/* A founding's token suffix: random, so a cluster founded again never
 * shares its ids with the one it would split from. */
static uint64_t nonce(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v) || v == 0)
		v = (uint64_t)eo_wall_ms() * 2654435761u ^ (uint64_t)getpid() << 32 ^ (uint64_t)eo_now_ms();
	return v ? v : 1;
}

int mi_run(const struct mi_config *cfg, volatile sig_atomic_t *stop, struct eo_err *err)
{
	char q[600], why[256];
	int64_t start = eo_now_ms(), deadline = start + (int64_t)cfg->wait_s * 1000, last_log = 0;
	char last_msg[512] = "";
	int lost_rounds = 0;
	uint64_t founding_nonce = nonce();
	log_info("member init", "pod=%s cluster=%s ordinal=%d bootstrap=%s peer_url=%s",
		 cfg->pod_name, cfg->cluster_name, cfg->ordinal, cfg->bootstrap ? "true" : "false",
		 cfg->peer_url);
	for (int round = 0;; round++) {
		struct mi_facts f;
		memset(&f, 0, sizeof(f));
		f.round = round;
		f.nonce = founding_nonce;
		look_for_wal(cfg->data_dir, &f);
		read_id(cfg->id_file, &f);
		ask(cfg, &f, why, sizeof(why));
		struct mi_decision d;
		mi_decide(cfg, &f, &d);

		if (d.verdict == MI_WIPE) {
			log_warn("wiping the data of a removed member", "data_dir=%s reason=%s",
				 cfg->data_dir, log_q(q, sizeof(q), d.message));
			if (wipe(cfg, err) != 0)
				return -1;
			continue;
		}
		if (d.verdict != MI_WAIT) {
			struct eo_buf conf = {0};
			if (mi_render_config(cfg, &d, &conf, err) != 0 ||
			    eo_write_file(cfg->config_file, conf.data, conf.len, 0644, err) != 0) {
				eo_buf_free(&conf);
				eo_err_prefix(err, "member-init: %s: ", cfg->config_file);
				return -1;
			}
			eo_buf_free(&conf);
			if (set_ticket(cfg, !f.has_data, err) != 0)
				return -1;
			uint64_t cluster = d.cluster_id ? d.cluster_id : f.recorded_cluster;
			if (d.member_id &&
			    (!f.has_id || f.recorded_id != d.member_id || f.recorded_cluster != cluster) &&
			    write_id(cfg->id_file, d.member_id, cluster, err) != 0) {
				eo_err_prefix(err, "member-init: recording the member id: ");
				return -1;
			}
			log_info("configuration written", "decision=%s config=%s reason=%s",
				 mi_verdict_name(d.verdict), cfg->config_file,
				 log_q(q, sizeof(q), d.message));
			return 0;
		}
		int64_t now = eo_now_ms();
		if (strcmp(last_msg, d.message) != 0 || now - last_log >= 30000) {
			char w[300];
			log_info("waiting", "reason=%s last_error=%s waited_s=%lld",
				 log_q(q, sizeof(q), d.message), log_q(w, sizeof(w), why[0] ? why : "none"),
				 (long long)((now - start) / 1000));
			eo_strlcpy(last_msg, d.message, sizeof(last_msg));
			last_log = now;
		}
		lost_rounds = d.volume_lost ? lost_rounds + 1 : 0;
		if (lost_rounds >= MI_LOST_ROUNDS)
			return eo_err_set(err, MI_EVOLUME_LOST,
					  "member-init: %s; exiting with status %d so the controller "
					  "sees it", d.message, MI_EXIT_VOLUME_LOST);
		if (now >= deadline)
			return eo_err_set(err, EO_ETIMEOUT,
					  "member-init: gave up after %d s: %s (last error: %s); the "
					  "kubelet will run this step again", cfg->wait_s, d.message,
					  why[0] ? why : "none");
		if (eo_nap_ms(cfg->retry_ms, stop) != 0)
			return eo_err_set(err, EO_ECANCELED, "member-init: stopped by a signal while "
					  "waiting: %s", d.message);
	}
}

/* etcd-member-guard lives beside this program (the operator's image puts
 * both in /usr/local/bin); etcd's container has neither. */
static int install_guard(const char *to, struct eo_err *err)
{
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(self) - 1)
		return eo_err_set(err, EO_ESYS, "member-init: --install-guard: cannot tell where this "
				  "program is (/proc/self/exe): %s", n < 0 ? strerror(errno) : "too long");
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	char from[600];
	snprintf(from, sizeof(from), "%.*s/etcd-member-guard", slash ? (int)(slash - self) : 1,
		 slash ? self : ".");
	if (mi_install_guard(from, to, err) != 0)
		return -1;
	log_info("guard installed", "from=%s to=%s", from, to);
	return 0;
}

static volatile sig_atomic_t mi_stop;
static void on_signal(int sig)
{
	(void)sig;
	mi_stop = 1;
}

static const char usage[] =
	"usage: etcd-controller member-init --cluster-name NAME --data-dir DIR --config-file FILE [flags]\n"
	"\n"
	"The init step of an etcd Pod of an EtcdCluster: decides how this member starts\n"
	"(found a new cluster, join with the live member list, restart on its data, or\n"
	"wipe the data of a removed member) and writes etcd's configuration file.\n"
	"\n"
	"From the Pod: POD_NAME, POD_NAMESPACE, POD_IP, EC_BOOTSTRAP (true: ordinal 0 may\n"
	"found a new cluster when nobody answers).\n"
	"\n"
	"flags:\n"
	"  --cluster-name NAME       the EtcdCluster\n"
	"  --cluster-domain DOMAIN   cluster DNS domain (cluster.local)\n"
	"  --data-dir DIR            etcd's data directory (on the member's volume)\n"
	"  --config-file FILE        where to write etcd's configuration\n"
	"  --member-id-file FILE     the member id beside the data (default: next to --data-dir)\n"
	"  --install-guard FILE      first copy etcd-member-guard (beside this program) to FILE,\n"
	"                            mode 0555: etcd's container starts etcd through it\n"
	"  --heartbeat-ms N          etcd heartbeat interval (100)\n"
	"  --election-ms N           etcd election timeout (1000)\n"
	"  --auto-compaction-mode M  etcd's auto-compaction: periodic | revision (etcd's default: off)\n"
	"  --auto-compaction-retention R  what it keeps: a duration (1h) or a count of revisions\n"
	"  --quota-backend-bytes N   etcd's backend quota in bytes (etcd's default: 2 GiB)\n"
	"  --wait-seconds N          give up waiting to be added after N s, exit 1 (300)\n"
	"  --retry-ms N              between attempts (2000)\n"
	"  --pod-name, --namespace, --listen-ip, --bootstrap true|false   instead of the env\n"
	"  --peer-url URL, --client-url URL   advertised URLs (default: the Pod's DNS name)\n"
	"  --endpoints URL,...       where to ask (default: the client Service, then each peer)\n"
	"  --peer-tls-dir DIR        peer TLS: DIR holds tls.crt, tls.key, ca.crt; https peer URLs\n"
	"  --peer-allowed-cn CN      with --peer-tls-dir: the CN etcd requires of peers\n"
	"  --client-tls-dir DIR      client TLS: https client URLs, client certificates required,\n"
	"                            probes on plain :2381; this step presents DIR's certificate\n"
	"\n"
	"Exit status: 0 configured; 1 gave up or failed (the kubelet runs it again); 2 bad\n"
	"arguments; 4 this Pod's volume was lost (its member has run, there is no data here):\n"
	"the controller reads that from the Pod's status and replaces the member.\n"
	"\n"
	"etcd-controller member-init guard --help: the check before every etcd start.\n";

int mi_main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "guard") == 0)
		return mi_guard_main(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	log_init("member-init", EO_LOG_INFO);
	struct mi_config cfg;
	struct eo_err err = {0};
	if (mi_config_parse(argc, argv, &cfg, &err) != 0) {
		char q[300];
		log_error("bad arguments", "error=%s", log_q(q, sizeof(q), err.msg));
		return 2;
	}
	if (cfg.install_guard[0] && install_guard(cfg.install_guard, &err) != 0) {
		char q[300];
		log_error("cannot install the guard", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (mi_run(&cfg, &mi_stop, &err) != 0) {
		char q[300];
		log_error("member init failed", "error=%s", log_q(q, sizeof(q), err.msg));
		return err.code == MI_EVOLUME_LOST ? MI_EXIT_VOLUME_LOST : 1;
	}
	return 0;
}
