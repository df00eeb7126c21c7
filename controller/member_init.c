/*
 * member_init.c — the pure half of the member init step: its configuration,
 * the decision how this member starts, and etcd's configuration file.
 * The I/O half (asking the cluster, files, the waiting loop) is
 * member_init_run.c.
 *
 * The one idea: a Pod never guesses whether a cluster exists. It asks the
 * cluster; the only member that may found one is ordinal 0, when the
 * controller still allows it (EC_BOOTSTRAP, cleared once status.clusterID is
 * recorded), it has no data, and nobody answers. Data is deleted only on
 * positive evidence that its member was removed; in every doubt the data is
 * kept — etcd itself refuses to run as a removed member.
 */
#include "member_init.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "scaling.h"

static const char *const verdict_names[] = {"StartNew", "StartExisting", "StartOnData", "Wipe",
					    "Wait"};

const char *mi_verdict_name(enum mi_verdict v)
{
	return (unsigned)v < EO_ARRAY_LEN(verdict_names) ? verdict_names[v] : "?";
}

/* ---- configuration ---------------------------------------------------- */

/* A value built from other values (a URL, a path, a token) must fit whole:
 * cut, it would name another host or file. -1 names the field and its limit. */
static int fit(char *dst, size_t size, const char *field, struct eo_err *err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fit(char *dst, size_t size, const char *field, struct eo_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < size)
		return 0;
	dst[0] = '\0';
	if (n < 0)
		return eo_err_set(err, EO_EINVAL, "member-init: %s: cannot be formatted", field);
	return eo_err_set(err, EO_EINVAL,
			  "member-init: %s would be %d characters, over its limit of %zu: shorten "
			  "the names it is made of (cluster name, namespace, cluster domain, paths)",
			  field, n, size - 1);
}

/* Values end up in YAML and URLs: allow only what names and URLs need. */
static bool safe_value(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == '"' || *s == '\\' || *s == '\'' || *s == ',' ||
		    *s == '#' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int set_str(char *dst, size_t size, const char *flag, const char *v, struct eo_err *err)
{
	if (!v || !*v)
		return eo_err_set(err, EO_EINVAL, "member-init: %s: empty value", flag);
	if (!safe_value(v))
		return eo_err_set(err, EO_EINVAL,
				  "member-init: %s: \"%.80s\" holds a character not allowed in a name or URL",
				  flag, v);
	if (eo_strlcpy(dst, v, size) != 0)
		return eo_err_set(err, EO_EINVAL, "member-init: %s: longer than %zu characters", flag,
				  size - 1);
	return 0;
}

static int set_endpoints(struct mi_config *cfg, const char *v, struct eo_err *err)
{
	char buf[4096];
	if (eo_strlcpy(buf, v, sizeof(buf)) != 0)
		return eo_err_set(err, EO_EINVAL, "member-init: --endpoints: too long");
	cfg->nendpoints = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (cfg->nendpoints >= MI_MAX_ENDPOINTS)
			return eo_err_set(err, EO_EINVAL, "member-init: --endpoints: more than %d",
					  MI_MAX_ENDPOINTS);
		if (set_str(cfg->endpoints[cfg->nendpoints++], sizeof(cfg->endpoints[0]),
			    "--endpoints", t, err) != 0)
			return -1;
	}
	return 0;
}

/* --etcd-arg=name=value: one of spec.etcd.extraArgs */
static int set_extra(struct mi_config *cfg, const char *v, struct eo_err *err)
{
	const char *eq = strchr(v, '=');
	if (cfg->nextra >= EC_MAX_EXTRA_ARGS)
		return eo_err_set(err, EO_EINVAL, "member-init: more than %d --etcd-arg",
				  EC_MAX_EXTRA_ARGS);
	struct ec_extra_arg *a = &cfg->extra[cfg->nextra];
	size_t n = eq ? (size_t)(eq - v) : 0;
	if (!eq || n == 0 || n >= sizeof(a->name) ||
	    eo_strlcpy(a->value, eq + 1, sizeof(a->value)) != 0)
		return eo_err_set(err, EO_EINVAL, "member-init: --etcd-arg: name=value, not \"%.60s\"", v);
	memcpy(a->name, v, n);
	a->name[n] = '\0';
	char why[160];
	if (!cluster_extra_arg_ok(a, why, sizeof(why)))
		return eo_err_set(err, EO_EINVAL, "member-init: --etcd-arg %s: %s", a->name, why);
	cfg->nextra++;
	return 0;
}

/* Where each string flag lands in the configuration. */
#define MI_STR(flag, field) {flag, offsetof(struct mi_config, field), sizeof(((struct mi_config *)0)->field)}
static const struct {
	const char *flag;
	size_t off, size;
} mi_strs[] = {
	MI_STR("pod-name", pod_name),
	MI_STR("namespace", namespace),
	MI_STR("listen-ip", listen_ip),
	MI_STR("cluster-name", cluster_name),
	MI_STR("cluster-domain", cluster_domain),
	MI_STR("data-dir", data_dir),
	MI_STR("config-file", config_file),
	MI_STR("member-id-file", id_file),
	MI_STR("install-guard", install_guard),
	MI_STR("peer-url", peer_url),
	MI_STR("client-url", client_url),
	MI_STR("token", token),
	MI_STR("peer-tls-dir", peer_tls_dir),
	MI_STR("client-tls-dir", client_tls_dir),
	MI_STR("peer-allowed-cn", peer_allowed_cn),
	MI_STR("auto-compaction-mode", compaction_mode),
	MI_STR("auto-compaction-retention", compaction_retention),
	MI_STR("quota-backend-bytes", quota_bytes),
};
#define MI_NSTRS EO_ARRAY_LEN(mi_strs)

/* The integer flags, read as int64 by the command-line layer, then narrowed. */
struct mi_ints {
	int64_t heartbeat_ms, election_ms, wait_s, retry_ms, ask_timeout_ms, data_rounds,
		bootstrap_rounds;
};

/*
 * Parse argv (the words after "member-init") with the one command-line
 * layer (cli.h), then check each value: every string here ends up in etcd's
 * configuration file, so only what a name or URL may hold is let through.
 */
static int parse_flags(int argc, char **argv, struct mi_config *cfg, struct eo_err *err)
{
	const char *strs[MI_NSTRS] = {0};
	const char *endpoints = NULL;
	struct cli_strlist extra = {0};
	struct mi_ints n = {cfg->heartbeat_ms, cfg->election_ms, cfg->wait_s, cfg->retry_ms,
			    cfg->ask_timeout_ms, cfg->data_rounds, cfg->bootstrap_rounds};
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t nf = 0;
	for (size_t i = 0; i < MI_NSTRS; i++)
		flags[nf++] = (struct cli_flag){.name = mi_strs[i].flag, .type = CLI_STR, .dest = &strs[i]};
	const struct cli_flag more[] = {
		CLI_RANGE("heartbeat-ms", CLI_INT, &n.heartbeat_ms, 10, 10000, "N", ""),
		CLI_RANGE("election-ms", CLI_INT, &n.election_ms, 50, 100000, "N", ""),
		CLI_RANGE("wait-seconds", CLI_INT, &n.wait_s, 1, 86400, "N", ""),
		CLI_RANGE("retry-ms", CLI_INT, &n.retry_ms, 10, 60000, "N", ""),
		CLI_RANGE("ask-timeout-ms", CLI_INT, &n.ask_timeout_ms, 100, 60000, "N", ""),
		CLI_RANGE("data-rounds", CLI_INT, &n.data_rounds, 0, 1000, "N", ""),
		CLI_RANGE("bootstrap-rounds", CLI_INT, &n.bootstrap_rounds, 1, 1000, "N", ""),
		CLI_FLAG("endpoints", 0, CLI_STR, &endpoints, "URLS", ""),
		CLI_FLAG("etcd-arg", 0, CLI_STRLIST, &extra, "NAME=VALUE", ""),
		CLI_FLAG("bootstrap", 0, CLI_BOOL, &cfg->bootstrap, NULL, ""),
	};
	memcpy(flags + nf, more, sizeof(more));
	nf += EO_ARRAY_LEN(more);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, nf, &p, err) != 0) {
		eo_err_prefix(err, "member-init: ");
		return -1;
	}
	if (p.npos > 0)
		return eo_err_set(err, EO_EINVAL, "member-init: unexpected argument \"%.60s\"", p.pos[0]);
	for (size_t i = 0; i < MI_NSTRS; i++) {
		char shown[64];
		snprintf(shown, sizeof(shown), "--%s", mi_strs[i].flag);
		if (strs[i] && set_str((char *)cfg + mi_strs[i].off, mi_strs[i].size, shown, strs[i], err) != 0)
			return -1;
	}
	cfg->heartbeat_ms = (int)n.heartbeat_ms;
	cfg->election_ms = (int)n.election_ms;
	cfg->wait_s = (int)n.wait_s;
	cfg->retry_ms = (int)n.retry_ms;
	cfg->ask_timeout_ms = (int)n.ask_timeout_ms;
	cfg->data_rounds = (int)n.data_rounds;
	cfg->bootstrap_rounds = (int)n.bootstrap_rounds;
	if (endpoints && set_endpoints(cfg, endpoints, err) != 0)
		return -1;
	for (int i = 0; i < extra.n; i++)
		if (set_extra(cfg, extra.v[i], err) != 0)
			return -1;
	return 0;
}

static int from_env(char *dst, size_t size, const char *env, const char *flag, struct eo_err *err)
{
	const char *v = getenv(env);
	if (dst[0] || !v || !*v)
		return 0;
	return set_str(dst, size, flag, v, err);
}

int mi_config_parse(int argc, char **argv, struct mi_config *cfg, struct eo_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->heartbeat_ms = EC_HEARTBEAT_MS;
	cfg->election_ms = EC_ELECTION_MS;
	cfg->wait_s = 300;
	cfg->retry_ms = 2000;
	cfg->ask_timeout_ms = 1500;
	cfg->data_rounds = 2;
	cfg->bootstrap_rounds = 2;
	const char *b = getenv("EC_BOOTSTRAP");
	cfg->bootstrap = b && strcmp(b, "true") == 0;
	eo_strlcpy(cfg->cluster_domain, "cluster.local", sizeof(cfg->cluster_domain));

	if (parse_flags(argc - 1, argv + 1, cfg, err) != 0)
		return -1;
	if (from_env(cfg->pod_name, sizeof(cfg->pod_name), "POD_NAME", "POD_NAME", err) != 0 ||
	    from_env(cfg->namespace, sizeof(cfg->namespace), "POD_NAMESPACE", "POD_NAMESPACE", err) != 0 ||
	    from_env(cfg->listen_ip, sizeof(cfg->listen_ip), "POD_IP", "POD_IP", err) != 0)
		return -1;

	static const struct {
		const char *what;
		size_t off;
	} required[] = {
		{"--pod-name (or POD_NAME)", offsetof(struct mi_config, pod_name)},
		{"--namespace (or POD_NAMESPACE)", offsetof(struct mi_config, namespace)},
		{"--listen-ip (or POD_IP)", offsetof(struct mi_config, listen_ip)},
		{"--cluster-name", offsetof(struct mi_config, cluster_name)},
		{"--data-dir", offsetof(struct mi_config, data_dir)},
		{"--config-file", offsetof(struct mi_config, config_file)},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(required); i++)
		if (!((char *)cfg + required[i].off)[0])
			return eo_err_set(err, EO_EINVAL, "member-init: %s is required", required[i].what);

	char prefix[80];
	if (fit(prefix, sizeof(prefix), "the Pod name prefix (--cluster-name + \"-\")", err, "%s-",
		cfg->cluster_name) != 0)
		return -1;
	cfg->ordinal = sc_ordinal_of_name(prefix, cfg->pod_name);
	if (cfg->ordinal < 0)
		return eo_err_set(err, EO_EINVAL,
				  "member-init: Pod name \"%s\" is not \"%s<ordinal>\": is this Pod from "
				  "the StatefulSet of EtcdCluster %s?",
				  cfg->pod_name, prefix, cfg->cluster_name);
	/* These go into etcd's YAML as they are: only the characters etcd's
	 * values have, so nothing can end the quoting. */
	if (cfg->compaction_mode[0] && strcmp(cfg->compaction_mode, "periodic") != 0 &&
	    strcmp(cfg->compaction_mode, "revision") != 0)
		return eo_err_set(err, EO_EINVAL, "member-init: --auto-compaction-mode: periodic or "
				  "revision, not \"%s\"", cfg->compaction_mode);
	if (cfg->compaction_retention[0] &&
	    strspn(cfg->compaction_retention, "0123456789hms.") != strlen(cfg->compaction_retention))
		return eo_err_set(err, EO_EINVAL, "member-init: --auto-compaction-retention: a duration "
				  "(1h, 30m) or a count, not \"%s\"", cfg->compaction_retention);
	if (cfg->quota_bytes[0] && strspn(cfg->quota_bytes, "0123456789") != strlen(cfg->quota_bytes))
		return eo_err_set(err, EO_EINVAL, "member-init: --quota-backend-bytes: a number of "
				  "bytes, not \"%s\"", cfg->quota_bytes);
	if (ec_timing_check(cfg->heartbeat_ms, cfg->election_ms, "--heartbeat-ms", "--election-ms",
			    err) != 0) {
		eo_err_prefix(err, "member-init: ");
		return -1;
	}
	if (!cfg->id_file[0] &&
	    mi_default_id_file(cfg->data_dir, cfg->id_file, sizeof(cfg->id_file), err) != 0)
		return -1;
	/* The peer URL's host is a DNS name: at most 253 characters. */
	char host[254];
	if ((!cfg->peer_url[0] || !cfg->client_url[0]) &&
	    fit(host, sizeof(host), "the Pod's DNS name (<pod>.<cluster>-peer.<namespace>.svc."
		"<--cluster-domain>)", err, "%s.%s-peer.%s.svc.%s", cfg->pod_name,
		cfg->cluster_name, cfg->namespace, cfg->cluster_domain) != 0)
		return -1;
	const char *ps = cfg->peer_tls_dir[0] ? "https" : "http";
	const char *cs = cfg->client_tls_dir[0] ? "https" : "http";
	if (!cfg->peer_url[0] &&
	    fit(cfg->peer_url, sizeof(cfg->peer_url), "the peer URL", err, "%s://%s:2380", ps,
		host) != 0)
		return -1;
	if (!cfg->client_url[0] &&
	    fit(cfg->client_url, sizeof(cfg->client_url), "the client URL", err, "%s://%s:2379", cs,
		host) != 0)
		return -1;
	if (!cfg->token[0] &&
	    fit(cfg->token, sizeof(cfg->token), "the initial-cluster-token (<namespace>-<cluster>)",
		err, "%s-%s", cfg->namespace, cfg->cluster_name) != 0)
		return -1;
	if (cfg->nendpoints == 0) {
		/* The client Service (voters only), then every possible peer. */
		if (fit(cfg->endpoints[cfg->nendpoints++], sizeof(cfg->endpoints[0]),
			"the client Service URL (--endpoints default)", err,
			"%s://%s-client.%s.svc.%s:2379", cs, cfg->cluster_name, cfg->namespace,
			cfg->cluster_domain) != 0)
			return -1;
		for (int k = 0; k < 9 && cfg->nendpoints < MI_MAX_ENDPOINTS; k++)
			if (k != cfg->ordinal &&
			    fit(cfg->endpoints[cfg->nendpoints++], sizeof(cfg->endpoints[0]),
				"a peer's client URL (--endpoints default)", err,
				"%s://%s-%d.%s-peer.%s.svc.%s:2379", cs, cfg->cluster_name, k,
				cfg->cluster_name, cfg->namespace, cfg->cluster_domain) != 0)
				return -1;
	}
	return 0;
}

/* ---- the decision ----------------------------------------------------- */

uint64_t mi_bootstrap_id(const char *peer_url, const char *token)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s%s", peer_url, token);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    EVP_Digest(buf, (size_t)n, md, &len, EVP_sha1(), NULL) != 1 || len < 8)
		return 0;
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | md[i];
	return id;
}

void mi_member_name(const struct mi_config *cfg, const struct etcd_member *m, char *out,
		    size_t size)
{
	if (m->name[0]) {
		eo_strlcpy(out, m->name, size);
		return;
	}
	if (m->npeer > 0 && strcmp(m->peer_urls[0], cfg->peer_url) == 0) {
		eo_strlcpy(out, cfg->pod_name, size);
		return;
	}
	/* http://<pod>.<…> → <pod> when <pod> is "<cluster>-<k>". */
	char prefix[80], host[256] = "";
	/* cluster_name is at most 63 characters: the prefix always fits. */
	snprintf(prefix, sizeof(prefix), "%s-", cfg->cluster_name);
	if (m->npeer > 0) {
		const char *h = strstr(m->peer_urls[0], "://");
		h = h ? h + 3 : m->peer_urls[0];
		size_t n = strcspn(h, ".:/");
		if (n < sizeof(host)) {
			memcpy(host, h, n);
			host[n] = '\0';
		}
	}
	if (sc_ordinal_of_name(prefix, host) >= 0)
		eo_strlcpy(out, host, size);
	else /* 23 characters: fits every caller's name buffer */
		snprintf(out, size, "member-%016llx", (unsigned long long)m->id);
}

uint64_t mi_bootstrap_cluster_id(uint64_t member_id)
{
	unsigned char b[8], md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(member_id >> (56 - 8 * i));
	if (EVP_Digest(b, sizeof(b), md, &len, EVP_sha1(), NULL) != 1 || len < 8)
		return 0;
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | md[i];
	return id;
}

/* initial-cluster from the live list (etcd_initial_cluster), each member
 * named by mi_member_name: unstarted members have no name of their own, and
 * two of them under the same empty name would be merged into one by etcd,
 * which then counts one member too few. -1 when it does not fit. */
static int live_initial_cluster(const struct mi_config *cfg, const struct etcd_members *ms,
				uint64_t self_id, char *out, size_t size)
{
	struct etcd_members *named = malloc(sizeof(*named)); /* 35 kB: not on the stack */
	if (!named)
		return -1;
	*named = *ms;
	for (int i = 0; i < named->n; i++)
		mi_member_name(cfg, &ms->m[i], named->m[i].name, sizeof(named->m[i].name));
	int rc = etcd_initial_cluster(named, self_id, cfg->pod_name, out, size);
	free(named);
	return rc;
}

/* "<pod>=<peer URL>": always fits (checked here, at compile time). */
_Static_assert(sizeof(((struct mi_decision *)0)->initial_cluster) >
		       sizeof(((struct mi_config *)0)->pod_name) +
			       sizeof(((struct mi_config *)0)->peer_url),
	       "initial_cluster holds <pod>=<peer URL>");
_Static_assert(sizeof(((struct mi_decision *)0)->token) >
		       sizeof(((struct mi_config *)0)->token) + 17,
	       "token holds <token>-<16 hex digits>");

static void only_self(const struct mi_config *cfg, struct mi_decision *d)
{
	snprintf(d->initial_cluster, sizeof(d->initial_cluster), "%s=%s", cfg->pod_name,
		 cfg->peer_url);
}

static void verdict(struct mi_decision *d, enum mi_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict(struct mi_decision *d, enum mi_verdict v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	d->verdict = v;
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
}

/* Whether the list's cluster is the one the data was recorded in (unknown
 * on either side: it cannot say otherwise). */
static bool same_cluster(const struct mi_facts *f)
{
	return !f->recorded_cluster || !f->members.cluster_id ||
	       f->recorded_cluster == f->members.cluster_id;
}

static void decide_on_data(const struct mi_config *cfg, const struct mi_facts *f,
			   const struct etcd_member *self, struct mi_decision *d)
{
	if (f->list_known && !same_cluster(f)) {
		verdict(d, MI_WAIT,
			"the data here is of member %llx of cluster %llu, but the members that answer "
			"are of cluster %llu: a cluster founded anew? keeping the data and waiting; "
			"nothing of that cluster is evidence about this data",
			(unsigned long long)f->recorded_id, (unsigned long long)f->recorded_cluster,
			(unsigned long long)f->members.cluster_id);
		return;
	}
	if (f->list_known && f->quorum_read && f->has_id &&
	    !etcd_members_find_id(&f->members, f->recorded_id) && (!self || !self->name[0])) {
		/* Only the recorded cluster's own list is evidence: without the
		 * cluster id beside the member id (a file of an older version),
		 * the list of an unrelated cluster would look the same. */
		if (!f->recorded_cluster || f->recorded_cluster != f->members.cluster_id) {
			verdict(d, MI_WAIT,
				"the data here belongs to member %llx, which the members that answer "
				"(cluster %llu, read with quorum) do not have, but %s: keeping the data "
				"and waiting, it is never wiped without the recorded cluster's evidence "
				"(if this member was removed, a person deletes the data)",
				(unsigned long long)f->recorded_id,
				(unsigned long long)f->members.cluster_id,
				f->recorded_cluster ? "the answer names no cluster"
						    : "the member-id file records no cluster id, so "
						      "this list cannot be told from another cluster's");
			return;
		}
		verdict(d, MI_WIPE,
			"the data here belongs to member %llx, which the cluster (member list "
			"read with quorum) no longer has: it was removed; wiping the data so "
			"this Pod can join %s",
			(unsigned long long)f->recorded_id,
			self ? "as the member re-added with its peer URL" : "when it is added again");
		return;
	}
	if (f->list_known && self) {
		if (f->has_id && f->recorded_id != self->id) {
			/* Starting would run etcd as the data's member, and recording
			 * our URL's id over it would destroy the evidence. */
			verdict(d, MI_WAIT,
				"the data here belongs to member %llx, but our peer URL is member "
				"%llx (%s) now; %s",
				(unsigned long long)f->recorded_id, (unsigned long long)self->id,
				self->name[0] ? "started" : "not started",
				f->quorum_read ? "keeping the data: a person must look (see the "
						 "controller's status)"
					       : "keeping the data and asking again until a member "
						 "list is read with quorum");
			return;
		}
		only_self(cfg, d);
		d->member_id = self->id;
		d->cluster_id = f->members.cluster_id;
		verdict(d, MI_START_EXISTING,
			"data present and member %llx (%s) is in the cluster: starting on the data",
			(unsigned long long)self->id, self->learner ? "learner" : "voter");
		return;
	}
	if (f->round + 1 < cfg->data_rounds && !(f->list_known && f->quorum_read)) {
		verdict(d, MI_WAIT, "data present; %s: asking again before starting on the data",
			f->list_known ? "the member list could not be read with quorum"
				      : "no member answers yet");
		return;
	}
	only_self(cfg, d);
	verdict(d, MI_START_ON_DATA,
		"data present; %s: starting on the data (etcd itself refuses to run as a "
		"removed member; the data is never deleted without evidence)",
		f->list_known ? "our peer URL is not in the member list and there is no "
				"evidence that this data's member was removed"
			      : "no member answers (the whole cluster may be restarting)");
}

void mi_decide(const struct mi_config *cfg, const struct mi_facts *f, struct mi_decision *d)
{
	memset(d, 0, sizeof(*d));
	const struct etcd_member *self =
		f->list_known ? etcd_members_find_peer(&f->members, cfg->peer_url) : NULL;

	if (f->data_unknown) {
		verdict(d, MI_WAIT,
			"cannot tell whether %s holds data (%s): waiting, neither starting empty nor "
			"touching it; fix the volume", cfg->data_dir,
			f->data_error[0] ? f->data_error : "unreadable");
		return;
	}
	if (f->has_data) {
		decide_on_data(cfg, f, self, d);
		return;
	}

	if (!f->list_known) {
		if (cfg->ordinal == 0 && cfg->bootstrap && f->round + 1 >= cfg->bootstrap_rounds) {
			if (f->nonce)
				snprintf(d->token, sizeof(d->token), "%s-%016llx", cfg->token,
					 (unsigned long long)f->nonce);
			d->member_id = mi_bootstrap_id(cfg->peer_url, d->token[0] ? d->token : cfg->token);
			if (!d->member_id) {
				verdict(d, MI_WAIT,
					"cannot compute the founding member's id: the peer URL and "
					"initial-cluster-token together are over 511 characters");
				return;
			}
			/* Known now, as etcd will compute it: recorded with the member
			 * id before etcd runs, so this data is never without it. */
			d->cluster_id = mi_bootstrap_cluster_id(d->member_id);
			only_self(cfg, d);
			verdict(d, MI_START_NEW,
				"ordinal 0, no data, bootstrap allowed by the controller and no member "
				"answers: founding a new one-member cluster (member %llx, cluster %llu)",
				(unsigned long long)d->member_id, (unsigned long long)d->cluster_id);
			return;
		}
		verdict(d, MI_WAIT, "no data and no member of %s answers yet%s", cfg->cluster_name,
			cfg->ordinal == 0 && cfg->bootstrap
				? " (making sure before founding a new cluster)"
				: cfg->ordinal == 0 ? " (the cluster was founded already: this Pod "
						      "never founds it again)"
						    : "");
		return;
	}
	if (!self) {
		verdict(d, MI_WAIT,
			"not a member yet: waiting for the controller to add %s as a learner "
			"(%d members now)", cfg->peer_url, f->members.n);
		return;
	}
	if (self->name[0]) {
		d->volume_lost = true;
		verdict(d, MI_WAIT,
			"member %llx (%s) has run before but this Pod has no data: its volume was "
			"lost; waiting for the controller to replace it (remove, then add again as a "
			"learner)", (unsigned long long)self->id, self->name);
		return;
	}
	if (live_initial_cluster(cfg, &f->members, self->id, d->initial_cluster,
				 sizeof(d->initial_cluster)) != 0) {
		verdict(d, MI_WAIT,
			"the live member list (%d members) does not fit in initial-cluster (limit %zu "
			"characters, or out of memory): cannot join with it", f->members.n, sizeof(d->initial_cluster) - 1);
		return;
	}
	d->member_id = self->id;
	d->cluster_id = f->members.cluster_id;
	verdict(d, MI_START_EXISTING, "joining as %s %llx with the live member list (%d members)",
		self->learner ? "learner" : "voter", (unsigned long long)self->id, f->members.n);
}

/*
 * The TLS half of etcd's configuration. Both sides require certificates of
 * their CA (client-cert-auth); the peer side, when the operator issued its
 * certificates, also the peer certificate's CN, so the client certificate
 * (same CA) cannot speak raft. etcd reads the certificate files on every new
 * connection, so a renewed Secret is used without a restart. With client
 * TLS the kubelet's probes (no client certificate) get plain /health on
 * :2381, which also serves /metrics.
 */
static int render_tls(const struct mi_config *cfg, struct eo_buf *out)
{
	int rc = 0;
	if (cfg->peer_tls_dir[0]) {
		rc = eo_buf_printf(out,
			"peer-transport-security:\n"
			"  cert-file: '%s/tls.crt'\n"
			"  key-file: '%s/tls.key'\n"
			"  trusted-ca-file: '%s/ca.crt'\n"
			"  client-cert-auth: true\n",
			cfg->peer_tls_dir, cfg->peer_tls_dir, cfg->peer_tls_dir);
		if (rc == 0 && cfg->peer_allowed_cn[0])
			rc = eo_buf_printf(out, "  allowed-cn: ['%s']\n", cfg->peer_allowed_cn);
	}
	if (rc == 0 && cfg->client_tls_dir[0])
		rc = eo_buf_printf(out,
			"client-transport-security:\n"
			"  cert-file: '%s/tls.crt'\n"
			"  key-file: '%s/tls.key'\n"
			"  trusted-ca-file: '%s/ca.crt'\n"
			"  client-cert-auth: true\n"
			"listen-metrics-urls: 'http://%s:2381'\n",
			cfg->client_tls_dir, cfg->client_tls_dir, cfg->client_tls_dir,
			cfg->listen_ip);
	return rc;
}

int mi_render_config(const struct mi_config *cfg, const struct mi_decision *d, struct eo_buf *out,
		     struct eo_err *err)
{
	if (d->verdict != MI_START_NEW && d->verdict != MI_START_EXISTING &&
	    d->verdict != MI_START_ON_DATA)
		return eo_err_set(err, EO_EINVAL, "member-init: no configuration for a %s decision",
				  mi_verdict_name(d->verdict));
	int rc = eo_buf_printf(out,
		"# Written by etcd-controller member-init: %s\n"
		"name: '%s'\n"
		"data-dir: '%s'\n"
		"listen-peer-urls: '%s://%s:2380'\n"
		"listen-client-urls: '%s://%s:2379'\n"
		"initial-advertise-peer-urls: '%s'\n"
		"advertise-client-urls: '%s'\n"
		"initial-cluster: '%s'\n"
		"initial-cluster-state: '%s'\n"
		"initial-cluster-token: '%s'\n"
		"heartbeat-interval: %d\n"
		"election-timeout: %d\n"
		"strict-reconfig-check: true\n"
		/* A configuration file turns off what the command line has on by
		 * default: the JSON gateway (the controller's client) among them. */
		"enable-grpc-gateway: true\n"
		"logger: 'zap'\n"
		"log-outputs: ['stderr']\n",
		mi_verdict_name(d->verdict), cfg->pod_name, cfg->data_dir,
		cfg->peer_tls_dir[0] ? "https" : "http", cfg->listen_ip,
		cfg->client_tls_dir[0] ? "https" : "http", cfg->listen_ip, cfg->peer_url, cfg->client_url, d->initial_cluster,
		d->verdict == MI_START_NEW ? "new" : "existing", d->token[0] ? d->token : cfg->token,
		cfg->heartbeat_ms,
		cfg->election_ms);
	if (rc == 0 && cfg->compaction_mode[0])
		rc = eo_buf_printf(out, "auto-compaction-mode: '%s'\n", cfg->compaction_mode);
	if (rc == 0 && cfg->compaction_retention[0])
		rc = eo_buf_printf(out, "auto-compaction-retention: '%s'\n", cfg->compaction_retention);
	if (rc == 0 && cfg->quota_bytes[0])
		rc = eo_buf_printf(out, "quota-backend-bytes: %s\n", cfg->quota_bytes);
	if (rc == 0)
		rc = render_tls(cfg, out);
	/* spec.etcd.extraArgs last: plain scalars, so YAML types them as etcd's
	 * flags would (numbers, true/false); the charset allows no other YAML */
	for (int i = 0; rc == 0 && i < cfg->nextra; i++)
		rc = eo_buf_printf(out, cfg->extra[i].value[0] ? "%s: %s\n" : "%s: ''\n",
				   cfg->extra[i].name, cfg->extra[i].value);
	if (rc != 0)
		return eo_err_set(err, EO_ENOMEM, "member-init: out of memory writing the configuration");
	return 0;
}
