/*
 * backup.c — `kubectl etcd backup NAME`, `kubectl etcd backups NAME` and
 * `kubectl etcd restore NEW --from-backup B`: snapshots and restores as
 * EtcdBackup objects and spec.bootstrap.restore (DESIGN §3.1).
 *
 * The one idea: the plugin only writes the objects the operator acts on and
 * reads back what it publishes — a one-time EtcdBackup whose status.progress
 * (bytes, total) `--wait` turns into a live line with the rate, and an
 * EtcdCluster whose first member the operator restores. Nothing here talks
 * to etcd or to the bucket, so these commands need no credentials beyond
 * the API's.
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "cluster.h"
#include "json.h"
#include "render.h"
#include "term.h"

/* ---- flags -------------------------------------------------------------- */

size_t backup_flags(struct backup_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("to", 0, CLI_STR, &o->to, "DEST", "s3://BUCKET[/PREFIX], pvc:CLAIM[/PATH], or etcdbackup/NAME (its destination); default: the destination of the cluster's one EtcdBackup"),
		CLI_FLAG("endpoint", 0, CLI_STR, &o->endpoint, "URL", "S3 endpoint (https://s3.REGION.amazonaws.com, http://seaweedfs:8333)"),
		CLI_FLAG("region", 0, CLI_STR, &o->region, "REGION", "S3 signing region (us-east-1)"),
		CLI_FLAG("credentials-secret", 0, CLI_STR, &o->secret, "SECRET", "Secret with accessKeyID and secretAccessKey"),
		CLI_FLAG("path-style", 0, CLI_BOOL, &o->path_style, NULL, "endpoint/bucket/key URLs (S3-compatible servers)"),
		CLI_FLAG("name", 0, CLI_STR, &o->backup_name, "NAME", "the EtcdBackup's name (default NAME-<UTC time>)"),
		CLI_FLAG("schedule", 0, CLI_STR, &o->schedule, "CRON", "make a scheduled EtcdBackup instead (\"0 3 * * *\", @daily; UTC)"),
		CLI_FLAG("keep", 0, CLI_INT, &o->keep, "N", "snapshots kept (retention.keep, default 7)"),
		CLI_FLAG("wait", 0, CLI_BOOL, &o->wait, NULL, "follow the snapshot (bytes, rate) until it is written"),
		CLI_FLAG("timeout", 0, CLI_DURATION, &o->timeout_ms, "DUR", "give up waiting after this (10m)"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

/* "s3://bucket/prefix" or "pvc:claim/path" into the spec's destination. */
static int parse_to(struct backup_opts *o, struct eo_err *err)
{
	const char *to = o->to;
	if (!to)
		return 0;
	if (strncmp(to, "s3://", 5) == 0) {
		const char *b = to + 5, *slash = strchr(b, '/');
		size_t n = slash ? (size_t)(slash - b) : strlen(b);
		if (n == 0 || n >= sizeof(o->bucket))
			return eo_err_set(err, EO_EINVAL, "--to %s: no bucket (s3://BUCKET[/PREFIX])", to);
		memcpy(o->bucket, b, n);
		o->bucket[n] = '\0';
		eo_strlcpy(o->prefix, slash ? slash + 1 : "", sizeof(o->prefix));
		if (!o->endpoint || !o->secret)
			return eo_err_set(err, EO_EINVAL, "--to s3://… needs --endpoint and --credentials-secret");
		return 0;
	}
	if (strncmp(to, "pvc:", 4) == 0) {
		const char *c = to + 4, *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || n >= sizeof(o->claim))
			return eo_err_set(err, EO_EINVAL, "--to %s: no claim (pvc:CLAIM[/PATH])", to);
		memcpy(o->claim, c, n);
		o->claim[n] = '\0';
		eo_strlcpy(o->prefix, slash ? slash + 1 : "", sizeof(o->prefix));
		return 0;
	}
	if (strncmp(to, "etcdbackup/", 11) == 0 && to[11]) {
		o->like = to + 11;
		return 0;
	}
	return eo_err_set(err, EO_EINVAL, "--to %s: want s3://BUCKET[/PREFIX], pvc:CLAIM[/PATH] or "
			  "etcdbackup/NAME", to);
}

int backup_parse_args(int argc, char **argv, struct backup_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	o->keep = -1;
	o->timeout_ms = 600000;
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = backup_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos != 1)
		return eo_err_set(err, EO_EINVAL, "backup takes one cluster NAME, got %d arguments", p.npos);
	o->cluster = p.pos[0];
	if (o->keep != -1 && (o->keep < 1 || o->keep > EB_MAX_KEEP))
		return eo_err_set(err, EO_EINVAL, "--keep %lld: want 1..%d", (long long)o->keep, EB_MAX_KEEP);
	if (o->schedule) {
		struct cron c;
		if (cron_parse(o->schedule, &c, err) != 0) {
			eo_err_prefix(err, "--schedule: ");
			return -1;
		}
		if (o->wait)
			return eo_err_set(err, EO_EINVAL, "--wait follows one snapshot; a --schedule runs "
					  "later (see kubectl etcd backups %s)", o->cluster);
	}
	return parse_to(o, err);
}

/* The EtcdBackup object the command creates (new reference). dest: the
 * destination object to copy (from --to etcdbackup/NAME or the cluster's
 * one EtcdBackup), NULL to build it from the flags. */
json_object *backup_object(const struct backup_opts *o, const char *ns, const char *name,
			   json_object *dest)
{
	json_object *b = json_object_new_object();
	json_object_object_add(b, "apiVersion", json_object_new_string(EC_API_VERSION));
	json_object_object_add(b, "kind", json_object_new_string(EB_KIND));
	json_set(b, "metadata.name", json_object_new_string(name));
	json_set(b, "metadata.namespace", json_object_new_string(ns));
	json_set(b, "metadata.labels[" EC_LABEL_CLUSTER "]", json_object_new_string(o->cluster));
	json_set(b, "spec.clusterName", json_object_new_string(o->cluster));
	if (o->schedule)
		json_set(b, "spec.schedule", json_object_new_string(o->schedule));
	if (o->keep > 0)
		json_set(b, "spec.retention.keep", json_object_new_int64(o->keep));
	json_object *d = NULL;
	if (dest) {
		json_object_deep_copy(dest, &d, NULL);
	} else if (o->claim[0]) {
		d = json_object_new_object();
		json_set(d, "pvc.claimName", json_object_new_string(o->claim));
		if (o->prefix[0])
			json_set(d, "pvc.path", json_object_new_string(o->prefix));
	} else {
		d = json_object_new_object();
		json_set(d, "s3.endpoint", json_object_new_string(o->endpoint ? o->endpoint : ""));
		json_set(d, "s3.bucket", json_object_new_string(o->bucket));
		if (o->prefix[0])
			json_set(d, "s3.prefix", json_object_new_string(o->prefix));
		if (o->region)
			json_set(d, "s3.region", json_object_new_string(o->region));
		json_set(d, "s3.credentialsSecret", json_object_new_string(o->secret ? o->secret : ""));
		if (o->path_style)
			json_set(d, "s3.forcePathStyle", json_object_new_boolean(1));
	}
	json_set(b, "spec.destination", d);
	return b;
}

/* The EtcdBackups of a cluster, from a list. */
static json_object *of_cluster(json_object *list, const char *cluster)
{
	json_object *out = json_object_new_array();
	json_object *items = json_at(list, "items");
	for (size_t i = 0; items && json_object_is_type(items, json_type_array) &&
			   i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		if (strcmp(json_opt_str(it, "spec.clusterName", ""), cluster) == 0)
			json_object_array_add(out, json_object_get(it));
	}
	return out;
}

static void progress_line(json_object *b, int64_t t0, bool tty)
{
	int64_t bytes = json_opt_int(b, "status.progress.bytes", 0);
	int64_t total = json_opt_int(b, "status.progress.totalBytes", 0);
	char hb[32], ht[32];
	pl_human_bytes(bytes, hb, sizeof(hb));
	pl_human_bytes(total, ht, sizeof(ht));
	double secs = (eo_now_ms() - t0) / 1000.0;
	char rate[32] = "";
	if (secs > 0.5 && bytes > 0) {
		pl_human_bytes((int64_t)(bytes / secs), rate, sizeof(rate));
		strcat(rate, "/s");
	}
	if (tty)
		printf("\r\033[K");
	printf("snapshot: %s of %s%s%s (%.0fs)%s", hb, total ? ht : "?", rate[0] ? ", " : "", rate, secs,
	       tty ? "" : "\n");
	fflush(stdout);
}

/* Follow one EtcdBackup until it succeeds or fails. */
static int follow(struct kube_client *kc, const char *ns, const char *name, int64_t timeout_ms)
{
	bool tty = isatty(STDOUT_FILENO) == 1;
	int64_t t0 = eo_now_ms(), last_print = 0, last_bytes = -1;
	pl_catch_interrupts();
	while (!pl_interrupted) {
		struct eo_err err = {0};
		json_object *b = NULL;
		if (kube_get(kc, &KUBE_ETCDBACKUPS, ns, name, &b, &err) != 0)
			return pl_api_fail(&err, name, ns);
		const char *phase = json_opt_str(b, "status.phase", "");
		if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0) {
			if (tty && last_print)
				printf("\r\033[K");
			int rc = PL_EXIT_OK;
			if (strcmp(phase, "Succeeded") == 0) {
				char hb[32], safe[600];
				pl_human_bytes(json_opt_int(b, "status.lastSnapshot.size", 0), hb, sizeof(hb));
				term_safe(safe, sizeof(safe), json_opt_str(b, "status.lastSnapshot.key", ""));
				printf("snapshot %s: %s at revision %lld, sha256 %.16s… (%.1fs)\n", safe, hb,
				       (long long)json_opt_int(b, "status.lastSnapshot.revision", 0),
				       json_opt_str(b, "status.lastSnapshot.sha256", ""),
				       (eo_now_ms() - t0) / 1000.0);
			} else {
				rc = pl_fail("backup %s failed: %s", name,
					     json_opt_str(b, "status.message", "(no message)"));
			}
			json_object_put(b);
			return rc;
		}
		int64_t bytes = json_opt_int(b, "status.progress.bytes", -1);
		if (bytes != last_bytes || eo_now_ms() - last_print > (tty ? 1000 : 10000)) {
			progress_line(b, t0, tty);
			last_print = eo_now_ms();
			last_bytes = bytes;
		}
		json_object_put(b);
		if (eo_now_ms() - t0 > timeout_ms) {
			if (tty)
				printf("\n");
			return pl_fail("backup %s: not done after %llds; it goes on (kubectl etcd backups to "
				       "see it)", name, (long long)(timeout_ms / 1000));
		}
		eo_sleep_ms(500);
	}
	if (tty)
		printf("\n");
	fprintf(stderr, "Interrupted: the snapshot goes on in the operator; see kubectl etcd backups.\n");
	return PL_EXIT_INTERRUPTED;
}

int backup_main(int argc, char **argv)
{
	struct backup_opts o;
	bool help;
	struct eo_err err = {0};
	if (backup_parse_args(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("backup", "%s", err.msg);
	if (help) {
		pl_help(stdout, "backup");
		return PL_EXIT_OK;
	}
	pl_setup_logging(&o.g);
	struct kube_client *kc = NULL;
	if (pl_connect(&o.g, &kc, &err) != 0)
		return pl_fail("%s", err.msg);
	const char *ns = pl_namespace(kc);
	int rc = PL_EXIT_OK;
	json_object *ec = NULL, *dest = NULL, *like = NULL, *list = NULL;
	if (kube_get(kc, &KUBE_ETCDCLUSTERS, ns, o.cluster, &ec, &err) != 0) {
		rc = pl_api_fail(&err, o.cluster, ns);
		goto out;
	}
	if (o.like) {
		if (kube_get(kc, &KUBE_ETCDBACKUPS, ns, o.like, &like, &err) != 0) {
			rc = pl_api_fail(&err, o.like, ns);
			goto out;
		}
		dest = json_at(like, "spec.destination");
	} else if (!o.to) {
		if (kube_list(kc, &KUBE_ETCDBACKUPS, ns, NULL, &list, &err) != 0) {
			rc = pl_api_fail(&err, NULL, ns);
			goto out;
		}
		json_object *mine = of_cluster(list, o.cluster);
		size_t n = json_object_array_length(mine);
		if (n != 1) {
			json_object_put(mine);
			rc = pl_usage_error("backup", "%s: say where with --to (the cluster has %zu "
					    "EtcdBackups, so none is the obvious destination)", o.cluster, n);
			goto out;
		}
		json_object_deep_copy(json_at(json_object_array_get_idx(mine, 0), "spec.destination"), &dest,
				      NULL);
		json_object_put(mine);
		like = dest; /* freed below */
	}
	char name[254];
	if (o.backup_name)
		eo_strlcpy(name, o.backup_name, sizeof(name));
	else {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		char ts[32];
		strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
		snprintf(name, sizeof(name), "%.200s-%s", o.cluster, ts);
	}
	json_object *obj = backup_object(&o, ns, name, dest);
	int got = kube_create(kc, &KUBE_ETCDBACKUPS, ns, obj, NULL, &err);
	json_object_put(obj);
	if (got != 0) {
		rc = pl_api_fail(&err, name, ns);
		goto out;
	}
	printf("etcdbackup.etcd.k8s-operator.io/%s created%s\n", name,
	       o.schedule ? " (scheduled)" : "");
	fflush(stdout);
	if (o.wait)
		rc = follow(kc, ns, name, o.timeout_ms);
out:
	json_object_put(ec);
	json_object_put(like);
	json_object_put(list);
	kube_client_free(kc);
	return rc;
}

/* ---- backups: the snapshots of a cluster -------------------------------- */

struct row {
	const char *backup, *key, *taken;
	int64_t revision, size;
};

static int by_time(const void *a, const void *b)
{
	return strcmp(((const struct row *)b)->taken, ((const struct row *)a)->taken);
}

int render_snapshots(json_object *backups, const char *cluster, int64_t now, bool color,
		     struct eo_buf *out)
{
	struct row rows[EB_MAX_KEEP * 16];
	size_t n = 0, nb = json_object_array_length(backups);
	for (size_t i = 0; i < nb; i++) {
		json_object *b = json_object_array_get_idx(backups, i);
		json_object *snaps = json_at(b, "status.snapshots");
		for (size_t k = 0; snaps && json_object_is_type(snaps, json_type_array) &&
				   k < json_object_array_length(snaps) && n < EO_ARRAY_LEN(rows); k++) {
			json_object *s = json_object_array_get_idx(snaps, k);
			rows[n++] = (struct row){json_opt_str(b, "metadata.name", ""), json_opt_str(s, "key", ""),
						 json_opt_str(s, "takenAt", ""), json_opt_int(s, "revision", 0),
						 json_opt_int(s, "size", 0)};
		}
	}
	if (n == 0)
		return eo_buf_printf(out, "No snapshots of %s yet (%zu EtcdBackup%s).\n", cluster, nb,
				     nb == 1 ? "" : "s");
	qsort(rows, n, sizeof(rows[0]), by_time);
	static const char *const hdr[] = {"BACKUP", "SNAPSHOT", "AGE", "REVISION", "SIZE"};
	struct pl_table *t = pl_table_new(5, hdr);
	if (!t)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char age[32], rev[24], size[32];
		pl_age_of(rows[i].taken, now, age, sizeof(age));
		snprintf(rev, sizeof(rev), "%lld", (long long)rows[i].revision);
		pl_human_bytes(rows[i].size, size, sizeof(size));
		const char *cells[] = {rows[i].backup, rows[i].key, age, rev, size};
		pl_table_add(t, cells, NULL);
	}
	int rc = pl_table_render(t, "", color, out);
	pl_table_free(t);
	/* the backups' own state, for one that failed last */
	for (size_t i = 0; rc == 0 && i < nb; i++) {
		json_object *b = json_object_array_get_idx(backups, i);
		if (strcmp(json_opt_str(b, "status.phase", ""), "Failed") == 0) {
			char safe[400];
			term_safe(safe, sizeof(safe), json_opt_str(b, "status.message", ""));
			rc = eo_buf_printf(out, "%s: last run failed: %s\n",
					   json_opt_str(b, "metadata.name", ""), safe);
		}
	}
	return rc;
}

size_t backups_flags(struct backups_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("output", 'o', CLI_STR, &o->output, "FORMAT", "json: the EtcdBackups as the API server has them"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int backups_main(int argc, char **argv)
{
	struct backups_opts o;
	memset(&o, 0, sizeof(o));
	pl_global_init(&o.g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t nf = backups_flags(&o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	struct eo_err err = {0};
	if (cli_parse(argc, argv, flags, nf, &p, &err) != 0)
		return pl_usage_error("backups", "%s", err.msg);
	if (p.help) {
		pl_help(stdout, "backups");
		return PL_EXIT_OK;
	}
	if (p.npos != 1)
		return pl_usage_error("backups", "backups takes one cluster NAME, got %d arguments", p.npos);
	if (o.output && strcmp(o.output, "json") != 0)
		return pl_usage_error("backups", "unknown output format \"%s\": use -o json", o.output);
	const char *cluster = p.pos[0];
	pl_setup_logging(&o.g);
	struct kube_client *kc = NULL;
	if (pl_connect(&o.g, &kc, &err) != 0)
		return pl_fail("%s", err.msg);
	const char *ns = pl_namespace(kc);
	json_object *list = NULL;
	int rc = PL_EXIT_OK;
	if (kube_list(kc, &KUBE_ETCDBACKUPS, ns, NULL, &list, &err) != 0) {
		rc = pl_api_fail(&err, NULL, ns);
	} else {
		json_object *mine = of_cluster(list, cluster);
		struct eo_buf b = {0};
		if (o.output)
			term_json_append(&b, json_object_to_json_string_ext(mine, JSON_C_TO_STRING_PRETTY |
									       JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			render_snapshots(mine, cluster, eo_wall_ms() / 1000, pl_color(&o.g, stdout), &b);
		if (b.data)
			fputs(b.data, stdout);
		if (o.output)
			fputc('\n', stdout);
		eo_buf_free(&b);
		json_object_put(mine);
	}
	json_object_put(list);
	kube_client_free(kc);
	return rc;
}

/* ---- restore ------------------------------------------------------------ */

size_t restore_flags(struct restore_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("from-backup", 0, CLI_STR, &o->backup, "BACKUP", "the EtcdBackup to restore from (required)"),
		CLI_FLAG("snapshot", 0, CLI_STR, &o->key, "KEY", "one of its snapshots (default: its lastSnapshot)"),
		CLI_FLAG("replicas", 0, CLI_INT, &o->replicas, "N", "grow to N voting members after the restore (1)"),
		CLI_FLAG("version", 0, CLI_STR, &o->version, "X.Y.Z", "etcd version (default: the backed-up cluster's)"),
		CLI_FLAG("storage-size", 0, CLI_STR, &o->storage, "SIZE", "each member's volume (default: the backed-up cluster's)"),
		CLI_FLAG("wait", 0, CLI_BOOL, &o->wait, NULL, "wait until the restored cluster is Running (or Failed)"),
		CLI_FLAG("timeout", 0, CLI_DURATION, &o->timeout_ms, "DUR", "give up waiting after this (10m)"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int restore_parse_args(int argc, char **argv, struct restore_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	o->replicas = 1;
	o->timeout_ms = 600000;
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = restore_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos != 1)
		return eo_err_set(err, EO_EINVAL, "restore takes the NEW cluster's name, got %d arguments",
				  p.npos);
	o->name = p.pos[0];
	if (!o->backup || !*o->backup)
		return eo_err_set(err, EO_EINVAL, "--from-backup is required (kubectl etcd backups "
				  "CLUSTER lists them)");
	if (o->replicas < EC_MIN_REPLICAS || o->replicas > EC_MAX_REPLICAS)
		return eo_err_set(err, EO_EINVAL, "--replicas %lld: want %d..%d", (long long)o->replicas,
				  EC_MIN_REPLICAS, EC_MAX_REPLICAS);
	return 0;
}

/* The new EtcdCluster (new reference): one member restored, then grown to
 * replicas through the target annotation, as a staged scale. */
json_object *restore_object(const struct restore_opts *o, const char *ns, const char *version,
			    const char *storage, json_object *security)
{
	json_object *c = json_object_new_object();
	json_object_object_add(c, "apiVersion", json_object_new_string(EC_API_VERSION));
	json_object_object_add(c, "kind", json_object_new_string(EC_KIND));
	json_set(c, "metadata.name", json_object_new_string(o->name));
	json_set(c, "metadata.namespace", json_object_new_string(ns));
	json_set(c, "spec.replicas", json_object_new_int64(o->replicas));
	if (version && *version)
		json_set(c, "spec.version", json_object_new_string(version));
	if (storage && *storage)
		json_set(c, "spec.storage.size", json_object_new_string(storage));
	if (security) { /* the backed-up cluster's TLS modes (Auto makes new certificates) */
		json_object *copy = NULL;
		if (json_object_deep_copy(security, &copy, NULL) == 0)
			json_set(c, "spec.security", copy);
	}
	json_set(c, "spec.bootstrap.restore.backupName", json_object_new_string(o->backup));
	if (o->key && *o->key)
		json_set(c, "spec.bootstrap.restore.key", json_object_new_string(o->key));
	return c;
}

int restore_main(int argc, char **argv)
{
	struct restore_opts o;
	bool help;
	struct eo_err err = {0};
	if (restore_parse_args(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("restore", "%s", err.msg);
	if (help) {
		pl_help(stdout, "restore");
		return PL_EXIT_OK;
	}
	pl_setup_logging(&o.g);
	struct kube_client *kc = NULL;
	if (pl_connect(&o.g, &kc, &err) != 0)
		return pl_fail("%s", err.msg);
	const char *ns = pl_namespace(kc);
	int rc = PL_EXIT_OK;
	json_object *b = NULL, *src = NULL, *obj = NULL;
	if (kube_get(kc, &KUBE_ETCDBACKUPS, ns, o.backup, &b, &err) != 0) {
		rc = pl_api_fail(&err, o.backup, ns);
		goto out;
	}
	/* the snapshot must be listed (its hash is what the restore checks) */
	const char *key = o.key && *o.key ? o.key : json_opt_str(b, "status.lastSnapshot.key", "");
	bool listed = false;
	json_object *snaps = json_at(b, "status.snapshots");
	for (size_t i = 0; snaps && json_object_is_type(snaps, json_type_array) &&
			   i < json_object_array_length(snaps); i++)
		listed |= strcmp(json_opt_str(json_object_array_get_idx(snaps, i), "key", ""), key) == 0;
	if (!*key) {
		rc = pl_fail("EtcdBackup %s has no snapshot yet", o.backup);
		goto out;
	}
	if (!listed) {
		rc = pl_fail("EtcdBackup %s lists no snapshot %s (kubectl etcd backups %s)", o.backup, key,
			     json_opt_str(b, "spec.clusterName", "CLUSTER"));
		goto out;
	}
	const char *version = o.version, *storage = o.storage;
	json_object *security = NULL;
	if (kube_get(kc, &KUBE_ETCDCLUSTERS, ns, json_opt_str(b, "spec.clusterName", ""), &src, &err) == 0) {
		if (!version)
			version = json_opt_str(src, "spec.version", NULL);
		if (!storage)
			storage = json_opt_str(src, "spec.storage.size", NULL);
		security = json_at(src, "spec.security");
	}
	obj = restore_object(&o, ns, version, storage, security);
	if (kube_create(kc, &KUBE_ETCDCLUSTERS, ns, obj, NULL, &err) != 0) {
		rc = pl_api_fail(&err, o.name, ns);
		goto out;
	}
	printf("etcdcluster.etcd.k8s-operator.io/%s created: member 0 restored from %s, snapshot %s%s\n",
	       o.name, o.backup, key, o.replicas > 1 ? ", then grown one learner at a time" : "");
	fflush(stdout);
	if (o.wait) {
		int64_t t0 = eo_now_ms();
		pl_catch_interrupts();
		for (;;) {
			json_object *c = NULL;
			if (kube_get(kc, &KUBE_ETCDCLUSTERS, ns, o.name, &c, &err) != 0) {
				rc = pl_api_fail(&err, o.name, ns);
				break;
			}
			const char *phase = json_opt_str(c, "status.phase", "");
			bool done = strcmp(phase, "Failed") == 0 ||
				    (strcmp(phase, "Running") == 0 &&
				     json_opt_int(c, "status.readyReplicas", 0) == o.replicas);
			if (done) {
				char msg[300] = "";
				json_object *conds = json_at(c, "status.conditions");
				for (size_t i = 0; conds && i < json_object_array_length(conds); i++)
					if (!strcmp(json_opt_str(json_object_array_get_idx(conds, i), "type", ""), "Available"))
						eo_strlcpy(msg, json_opt_str(json_object_array_get_idx(conds, i), "message", ""), sizeof(msg));
				if (strcmp(phase, "Failed") == 0)
					rc = pl_fail("restore of %s failed: %s", o.name, msg);
				else
					printf("%s: Running with %lld voting member%s (%.0fs)\n", o.name,
					       (long long)o.replicas, o.replicas == 1 ? "" : "s",
					       (eo_now_ms() - t0) / 1000.0);
				json_object_put(c);
				break;
			}
			json_object_put(c);
			if (pl_interrupted) {
				rc = PL_EXIT_INTERRUPTED;
				break;
			}
			if (eo_now_ms() - t0 > o.timeout_ms) {
				rc = pl_fail("%s: not Running after %llds (kubectl etcd status %s)", o.name,
					     (long long)(o.timeout_ms / 1000), o.name);
				break;
			}
			eo_sleep_ms(1000);
		}
	}
out:
	json_object_put(b);
	json_object_put(src);
	json_object_put(obj);
	kube_client_free(kc);
	return rc;
}
