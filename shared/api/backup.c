/*
 * backup.c — the EtcdBackup model (backup.h): parse, build, and the pure
 * decisions of the backup controller.
 *
 * The one idea: status.snapshots is the list of snapshots known good — a
 * snapshot enters it only after the whole object is written and its hash
 * checked, and retention only ever trims its tail — so whatever fails
 * midway, the list never names a partial object and never loses its head.
 */
#include "backup.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

static const char *const PHASES[] = {"", "Pending", "Running", "Succeeded", "Failed"};

const char *eb_phase_name(enum eb_phase p)
{
	return (unsigned)p < EO_ARRAY_LEN(PHASES) ? PHASES[p] : "";
}

enum eb_phase eb_phase_parse(const char *s)
{
	for (size_t i = 1; s && i < EO_ARRAY_LEN(PHASES); i++)
		if (strcmp(s, PHASES[i]) == 0)
			return (enum eb_phase)i;
	return EB_PHASE_UNSET;
}

/* A string field: required or optional, and within its buffer. */
static int str_field(json_object *obj, const char *path, bool required, char *out, size_t size,
		     struct eo_err *err)
{
	json_object *v = json_at(obj, path);
	out[0] = '\0';
	if (!v) {
		if (required)
			return eo_err_set(err, EO_EINVAL, "%s: required", path);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return eo_err_set(err, EO_EINVAL, "%s: expected a string, got %s", path, json_type_label(v));
	const char *s = json_object_get_string(v);
	if (required && !*s)
		return eo_err_set(err, EO_EINVAL, "%s: must not be empty", path);
	if (eo_strlcpy(out, s, size) != 0)
		return eo_err_set(err, EO_EINVAL, "%s: longer than %zu characters", path, size - 1);
	return 0;
}

static void snapshot_parse(json_object *o, struct eb_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	eo_strlcpy(s->key, json_opt_str(o, "key", ""), sizeof(s->key));
	eo_strlcpy(s->sha256, json_opt_str(o, "sha256", ""), sizeof(s->sha256));
	eo_strlcpy(s->taken_at, json_opt_str(o, "takenAt", ""), sizeof(s->taken_at));
	s->revision = json_opt_int(o, "revision", 0);
	s->size = json_opt_int(o, "size", 0);
}

int backup_parse(json_object *obj, struct etcd_backup *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	eo_strlcpy(out->name, json_opt_str(obj, "metadata.name", ""), sizeof(out->name));
	eo_strlcpy(out->namespace, json_opt_str(obj, "metadata.namespace", ""), sizeof(out->namespace));
	eo_strlcpy(out->uid, json_opt_str(obj, "metadata.uid", ""), sizeof(out->uid));
	out->generation = json_opt_int(obj, "metadata.generation", 0);
	struct eb_spec *sp = &out->spec;
	if (str_field(obj, "spec.clusterName", true, sp->cluster_name, sizeof(sp->cluster_name), err) ||
	    str_field(obj, "spec.schedule", false, sp->schedule, sizeof(sp->schedule), err))
		return -1;
	int64_t keep = EB_DEFAULT_KEEP;
	if (json_at(obj, "spec.retention.keep") &&
	    json_get_int_range(obj, "spec.retention.keep", 1, EB_MAX_KEEP, &keep, err) != 0)
		return -1;
	sp->keep = (int)keep;
	if (sp->schedule[0]) {
		struct cron c;
		if (cron_parse(sp->schedule, &c, err) != 0) {
			eo_err_prefix(err, "spec.schedule: ");
			return -1;
		}
	}
	bool s3 = json_at(obj, "spec.destination.s3") != NULL;
	bool pvc = json_at(obj, "spec.destination.pvc") != NULL;
	if (s3 == pvc)
		return eo_err_set(err, EO_EINVAL, "spec.destination: exactly one of s3 and pvc");
	if (s3) {
		sp->dest = EB_DEST_S3;
		struct eb_s3 *d = &sp->s3;
		if (str_field(obj, "spec.destination.s3.endpoint", true, d->endpoint, sizeof(d->endpoint), err) ||
		    str_field(obj, "spec.destination.s3.bucket", true, d->bucket, sizeof(d->bucket), err) ||
		    str_field(obj, "spec.destination.s3.prefix", false, d->prefix, sizeof(d->prefix), err) ||
		    str_field(obj, "spec.destination.s3.region", false, d->region, sizeof(d->region), err) ||
		    str_field(obj, "spec.destination.s3.credentialsSecret", true, d->credentials_secret,
			      sizeof(d->credentials_secret), err))
			return -1;
		d->force_path_style = json_opt_bool(obj, "spec.destination.s3.forcePathStyle", false);
		size_t n = strlen(d->prefix);
		while (n > 0 && d->prefix[n - 1] == '/')
			d->prefix[--n] = '\0';
	} else {
		sp->dest = EB_DEST_PVC;
		if (str_field(obj, "spec.destination.pvc.claimName", true, sp->pvc.claim_name,
			      sizeof(sp->pvc.claim_name), err) ||
		    str_field(obj, "spec.destination.pvc.path", false, sp->pvc.path, sizeof(sp->pvc.path), err))
			return -1;
		if (strstr(sp->pvc.path, ".."))
			return eo_err_set(err, EO_EINVAL, "spec.destination.pvc.path: must not hold \"..\"");
		/* a path inside the claim: no slash at either end */
		size_t n = strlen(sp->pvc.path);
		while (n > 0 && sp->pvc.path[n - 1] == '/')
			sp->pvc.path[--n] = '\0';
		size_t lead = strspn(sp->pvc.path, "/");
		memmove(sp->pvc.path, sp->pvc.path + lead, n - lead + 1);
	}

	struct eb_status *st = &out->status;
	st->phase = eb_phase_parse(json_opt_str(obj, "status.phase", ""));
	st->observed_generation = json_opt_int(obj, "status.observedGeneration", 0);
	json_object *last = json_at(obj, "status.lastSnapshot");
	if (last && json_object_is_type(last, json_type_object)) {
		snapshot_parse(last, &st->last);
		st->has_last = st->last.key[0] != '\0';
	}
	json_object *snaps = json_at(obj, "status.snapshots");
	for (size_t i = 0; snaps && json_object_is_type(snaps, json_type_array) &&
			   i < json_object_array_length(snaps) && st->nsnapshots < EB_MAX_KEEP; i++)
		snapshot_parse(json_object_array_get_idx(snaps, i), &st->snapshots[st->nsnapshots++]);
	eo_strlcpy(st->last_schedule_time, json_opt_str(obj, "status.lastScheduleTime", ""),
		   sizeof(st->last_schedule_time));
	eo_strlcpy(st->last_success_time, json_opt_str(obj, "status.lastSuccessfulTime", ""),
		   sizeof(st->last_success_time));
	eo_strlcpy(st->next_schedule_time, json_opt_str(obj, "status.nextScheduleTime", ""),
		   sizeof(st->next_schedule_time));
	st->failures = json_opt_int(obj, "status.consecutiveFailures", 0);
	eo_strlcpy(st->started_at, json_opt_str(obj, "status.progress.startedAt", ""),
		   sizeof(st->started_at));
	st->bytes = json_opt_int(obj, "status.progress.bytes", 0);
	st->total_bytes = json_opt_int(obj, "status.progress.totalBytes", 0);
	eo_strlcpy(st->message, json_opt_str(obj, "status.message", ""), sizeof(st->message));
	json_object *conds = json_at(obj, "status.conditions");
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (strcmp(json_opt_str(c, "type", ""), "Ready") != 0)
			continue;
		struct eb_condition *r = &st->ready;
		eo_strlcpy(r->type, "Ready", sizeof(r->type));
		eo_strlcpy(r->status, json_opt_str(c, "status", ""), sizeof(r->status));
		eo_strlcpy(r->reason, json_opt_str(c, "reason", ""), sizeof(r->reason));
		eo_strlcpy(r->message, json_opt_str(c, "message", ""), sizeof(r->message));
		eo_strlcpy(r->last_transition, json_opt_str(c, "lastTransitionTime", ""),
			   sizeof(r->last_transition));
	}
	return 0;
}

static json_object *str(const char *s) { return json_object_new_string(s); }

json_object *backup_snapshot_json(const struct eb_snapshot *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "key", str(s->key));
	json_object_object_add(o, "revision", json_object_new_int64(s->revision));
	json_object_object_add(o, "size", json_object_new_int64(s->size));
	json_object_object_add(o, "sha256", str(s->sha256));
	json_object_object_add(o, "takenAt", str(s->taken_at));
	return o;
}

static void opt_str(json_object *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_object_add(o, key, str(v));
}

json_object *backup_status_json(const struct eb_status *st)
{
	json_object *o = json_object_new_object();
	opt_str(o, "phase", eb_phase_name(st->phase));
	if (st->observed_generation)
		json_object_object_add(o, "observedGeneration",
				       json_object_new_int64(st->observed_generation));
	if (st->has_last)
		json_object_object_add(o, "lastSnapshot", backup_snapshot_json(&st->last));
	json_object *a = json_object_new_array();
	for (int i = 0; i < st->nsnapshots; i++)
		json_object_array_add(a, backup_snapshot_json(&st->snapshots[i]));
	json_object_object_add(o, "snapshots", a);
	opt_str(o, "lastScheduleTime", st->last_schedule_time);
	opt_str(o, "lastSuccessfulTime", st->last_success_time);
	opt_str(o, "nextScheduleTime", st->next_schedule_time);
	json_object_object_add(o, "consecutiveFailures", json_object_new_int64(st->failures));
	if (st->phase == EB_RUNNING) {
		json_object *p = json_object_new_object();
		opt_str(p, "startedAt", st->started_at);
		json_object_object_add(p, "bytes", json_object_new_int64(st->bytes));
		json_object_object_add(p, "totalBytes", json_object_new_int64(st->total_bytes));
		json_object_object_add(o, "progress", p);
	}
	opt_str(o, "message", st->message);
	json_object *conds = json_object_new_array();
	if (st->ready.status[0]) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "type", str("Ready"));
		json_object_object_add(c, "status", str(st->ready.status));
		json_object_object_add(c, "reason", str(st->ready.reason));
		json_object_object_add(c, "message", str(st->ready.message));
		json_object_object_add(c, "lastTransitionTime", str(st->ready.last_transition));
		json_object_array_add(conds, c);
	}
	json_object_object_add(o, "conditions", conds);
	return o;
}

void backup_set_ready(struct eb_status *st, bool ok, const char *reason, const char *message,
		      const char *now)
{
	struct eb_condition *c = &st->ready;
	const char *s = ok ? "True" : "False";
	if (strcmp(c->status, s) != 0 || !c->last_transition[0])
		eo_strlcpy(c->last_transition, now, sizeof(c->last_transition));
	eo_strlcpy(c->type, "Ready", sizeof(c->type));
	eo_strlcpy(c->status, s, sizeof(c->status));
	eo_strlcpy(c->reason, reason, sizeof(c->reason));
	eo_strlcpy(c->message, message, sizeof(c->message));
}

int backup_key(const struct etcd_backup *b, int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char ts[32];
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	const char *prefix = b->spec.dest == EB_DEST_S3 ? b->spec.s3.prefix : b->spec.pvc.path;
	int n = snprintf(out, size, "%s%s%s/%s/%s-%s.db", prefix, *prefix ? "/" : "", b->namespace,
			 b->spec.cluster_name, b->name, ts);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

void backup_record(struct eb_status *st, const struct eb_snapshot *s, int keep,
		   struct eb_snapshot *drop, int *ndrop)
{
	*ndrop = 0;
	if (keep < 1)
		keep = 1;
	if (keep > EB_MAX_KEEP)
		keep = EB_MAX_KEEP;
	/* the same key again (a run retried within its second): replace it */
	int n = 0;
	struct eb_snapshot old[EB_MAX_KEEP];
	for (int i = 0; i < st->nsnapshots; i++)
		if (strcmp(st->snapshots[i].key, s->key) != 0)
			old[n++] = st->snapshots[i];
	st->snapshots[0] = *s;
	st->nsnapshots = 1;
	for (int i = 0; i < n; i++) {
		if (st->nsnapshots < keep)
			st->snapshots[st->nsnapshots++] = old[i];
		else
			drop[(*ndrop)++] = old[i];
	}
	st->last = *s;
	st->has_last = true;
}

int backup_next_run(const struct etcd_backup *b, int64_t created, int64_t now, int64_t *next,
		    struct eo_err *err)
{
	if (!b->spec.schedule[0]) {
		enum eb_phase p = b->status.phase;
		*next = p == EB_PHASE_UNSET || p == EB_PENDING || p == EB_RUNNING ? now : -1;
		return 0;
	}
	struct cron c;
	if (cron_parse(b->spec.schedule, &c, err) != 0)
		return -1;
	int64_t from = created;
	if (b->status.last_schedule_time[0])
		eo_rfc3339_parse(b->status.last_schedule_time, &from);
	*next = cron_next(&c, from);
	return 0;
}

bool backup_stale(const struct etcd_backup *b, int64_t created, int64_t now, int64_t *age_s,
		  int64_t *period_s)
{
	struct cron c;
	struct eo_err err;
	*age_s = *period_s = 0;
	if (!b->spec.schedule[0] || cron_parse(b->spec.schedule, &c, &err) != 0)
		return false;
	int64_t since = created;
	if (b->status.last_success_time[0])
		eo_rfc3339_parse(b->status.last_success_time, &since);
	int64_t period = cron_period(&c, since);
	if (period <= 0)
		return false;
	*age_s = now - since;
	*period_s = period;
	return now - since > 2 * period;
}
