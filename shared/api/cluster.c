/*
 * cluster.c — EtcdCluster objects to and from the parsed view in cluster.h.
 *
 * Parsing is strict where a person wrote the field (spec: a wrong type is an
 * error naming its path, so a GitOps CI job can point at the line) and
 * lenient where the controller wrote it (status: read what is there, a
 * missing field is zero) — except for numbers: a status integer that is not
 * an integer or does not fit its field is an error naming its path, because
 * a number read wrong (4294967301 as 5) is worse than none.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const char *const phase_names[] = {"", "Creating", "Running", "Scaling", "Degraded",
					  "Failed", "Upgrading", "Suspended"};

const char *ec_phase_name(enum ec_phase p)
{
	return (unsigned)p < EO_ARRAY_LEN(phase_names) ? phase_names[p] : "";
}

enum ec_phase ec_phase_parse(const char *s)
{
	for (size_t i = 1; s && i < EO_ARRAY_LEN(phase_names); i++)
		if (strcmp(s, phase_names[i]) == 0)
			return (enum ec_phase)i;
	return EC_PHASE_UNSET;
}

/* Copy an optional string field that must be a string when present. */
static int spec_str(json_object *obj, const char *path, char *out, size_t size,
		    const char *def, bool *present, struct eo_err *err)
{
	json_object *v = json_at(obj, path);
	if (present)
		*present = v != NULL && !json_object_is_type(v, json_type_null);
	if (!v || json_object_is_type(v, json_type_null)) {
		eo_strlcpy(out, def, size);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return eo_err_set(err, EO_EPARSE, "%s: expected a string, got %s", path,
				  json_type_label(v));
	if (eo_strlcpy(out, json_object_get_string(v), size) != 0)
		return eo_err_set(err, EO_EPARSE, "%s: longer than %zu characters", path, size - 1);
	return 0;
}

const char *ec_compaction_mode_flag(enum ec_compaction_mode m)
{
	return m == EC_COMPACT_PERIODIC ? "periodic" : m == EC_COMPACT_REVISION ? "revision" : "";
}

int64_t ec_quantity_bytes(const char *s)
{
	static const struct { const char *suf; int64_t mul; } sfx[] = {
		{"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30}, {"Ti", 1LL << 40},
		{"k", 1000LL}, {"M", 1000000LL}, {"G", 1000000000LL}, {"T", 1000000000000LL}, {"", 1}};
	if (!s || !*s)
		return -1;
	int64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (p == s)
		return -1;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (strcmp(p, sfx[i].suf) == 0)
			return v > INT64_MAX / sfx[i].mul ? -1 : v * sfx[i].mul;
	return -1;
}

/* spec.maintenance: absent fields take the defaults; a wrong JSON type is an
 * error naming its path, a wrong value is left for the policy to refuse. */
static int parse_maintenance(json_object *obj, const char *storage, struct ec_maintenance *m,
			     struct eo_err *err)
{
	json_object *mt = json_at(obj, "spec.maintenance");
	if (mt && !json_object_is_type(mt, json_type_null) && !json_object_is_type(mt, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.maintenance: expected an object, got %s",
				  json_type_label(mt));
	json_object *ac = json_at(obj, "spec.maintenance.autoCompaction");
	if (ac && !json_object_is_type(ac, json_type_null) && !json_object_is_type(ac, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.maintenance.autoCompaction: expected an object, "
				  "got %s", json_type_label(ac));
	if (spec_str(obj, "spec.maintenance.autoCompaction.mode", m->compaction_mode_raw,
		     sizeof(m->compaction_mode_raw), "Periodic", NULL, err) != 0)
		return -1;
	m->compaction_mode = strcmp(m->compaction_mode_raw, "Periodic") == 0   ? EC_COMPACT_PERIODIC
			     : strcmp(m->compaction_mode_raw, "Revision") == 0 ? EC_COMPACT_REVISION
									       : EC_COMPACT_INVALID;
	json_object *ret = json_at(obj, "spec.maintenance.autoCompaction.retention");
	if (ret && json_object_is_type(ret, json_type_int)) {
		snprintf(m->compaction_retention, sizeof(m->compaction_retention), "%lld",
			 (long long)json_object_get_int64(ret));
	} else if (spec_str(obj, "spec.maintenance.autoCompaction.retention", m->compaction_retention,
			    sizeof(m->compaction_retention),
			    m->compaction_mode == EC_COMPACT_REVISION ? "10000"
								      : EC_DEFAULT_COMPACTION_RETENTION,
			    NULL, err) != 0) {
		return -1;
	}
	json_object *q = json_at(obj, "spec.maintenance.quotaBackendBytes");
	if (q && json_object_is_type(q, json_type_int)) {
		snprintf(m->quota_raw, sizeof(m->quota_raw), "%lld", (long long)json_object_get_int64(q));
		m->quota_set = true;
	} else if (spec_str(obj, "spec.maintenance.quotaBackendBytes", m->quota_raw,
			    sizeof(m->quota_raw), "", &m->quota_set, err) != 0) {
		eo_err_set(err, EO_EPARSE, "spec.maintenance.quotaBackendBytes: expected a quantity "
			   "(\"2Gi\") or an integer of bytes");
		return -1;
	}
	if (m->quota_set) {
		m->quota_bytes = ec_quantity_bytes(m->quota_raw);
	} else {
		int64_t vol = ec_quantity_bytes(storage);
		m->quota_bytes = EC_DEFAULT_QUOTA_BYTES;
		if (vol > 0 && vol / 4 * 3 < m->quota_bytes)
			m->quota_bytes = vol / 4 * 3;
		snprintf(m->quota_raw, sizeof(m->quota_raw), "%lld", (long long)m->quota_bytes);
	}
	json_object *th = json_at(obj, "spec.maintenance.defragThreshold");
	m->defrag_threshold = EC_DEFAULT_DEFRAG_THRESHOLD;
	if (th && !json_object_is_type(th, json_type_null) &&
	    json_get_int(obj, "spec.maintenance.defragThreshold", &m->defrag_threshold, err) != 0)
		return -1;
	return 0;
}

static void opt_copy(json_object *obj, const char *path, char *out, size_t size)
{
	eo_strlcpy(out, json_opt_str(obj, path, ""), size);
}

const char *ec_tls_mode_name(enum ec_tls_mode m)
{
	switch (m) {
	case EC_TLS_OFF: return "";
	case EC_TLS_AUTO: return "Auto";
	case EC_TLS_SECRET: return "Secret";
	default: return "?";
	}
}

/* spec.security.tls.<side>: absent or null is plain; an object with mode and
 * secretName otherwise. A mode that is neither Auto nor Secret is kept raw
 * for the policy to name (EC_TLS_INVALID); wrong types are errors. */
static int parse_tls_side(json_object *obj, const char *path, struct ec_tls_side *out,
			  struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	json_object *v = json_at(obj, path);
	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return eo_err_set(err, EO_EPARSE, "%s: expected an object, got %s", path,
				  json_type_label(v));
	char p[96];
	snprintf(p, sizeof(p), "%s.mode", path);
	if (spec_str(obj, p, out->mode_raw, sizeof(out->mode_raw), "", NULL, err) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s.secretName", path);
	if (spec_str(obj, p, out->secret_name, sizeof(out->secret_name), "",
		     &out->secret_name_set, err) != 0)
		return -1;
	out->mode = strcmp(out->mode_raw, "Auto") == 0     ? EC_TLS_AUTO
		    : strcmp(out->mode_raw, "Secret") == 0 ? EC_TLS_SECRET
							   : EC_TLS_INVALID;
	return 0;
}

/* "3" → 3; anything else (empty, signs, letters, overflow) is invalid. */
static int64_t parse_target(const char *s)
{
	if (!s || !*s || strlen(s) > 18)
		return EC_TARGET_INVALID;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return EC_TARGET_INVALID;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/*
 * A status integer: absent or null is 0 (not written yet); otherwise read as
 * 64-bit and checked against what the field can hold before it is narrowed,
 * so 4294967301 is an error naming "status.scaling.from", never 5.
 * `where` is the path of obj for the message ("status", "status.members[2]").
 */
static int status_int(json_object *obj, const char *where, const char *key, int64_t max,
		      int64_t *out, struct eo_err *err)
{
	*out = 0;
	json_object *v = json_at(obj, key);
	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	if (json_get_int_range(obj, key, 0, max, out, err) != 0) {
		eo_err_prefix(err, "%s.", where);
		return -1;
	}
	return 0;
}

static int status_int32(json_object *obj, const char *where, const char *key, int *out,
			struct eo_err *err)
{
	int64_t v;
	if (status_int(obj, where, key, INT32_MAX, &v, err) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_member(json_object *m, const char *where, struct ec_member *out,
			struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	opt_copy(m, "name", out->name, sizeof(out->name));
	opt_copy(m, "id", out->id, sizeof(out->id));
	opt_copy(m, "peerURL", out->peer_url, sizeof(out->peer_url));
	opt_copy(m, "clientURL", out->client_url, sizeof(out->client_url));
	out->learner = json_opt_bool(m, "learner", false);
	out->healthy = json_opt_bool(m, "healthy", false);
	out->leader = json_opt_bool(m, "leader", false);
	opt_copy(m, "version", out->version, sizeof(out->version));
	if (status_int(m, where, "dbSize", INT64_MAX, &out->db_size, err) != 0 ||
	    status_int(m, where, "raftIndex", INT64_MAX, &out->raft_index, err) != 0)
		return -1;
	return 0;
}

static int parse_status(json_object *st, struct ec_status *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!st)
		return 0;
	out->phase = ec_phase_parse(json_opt_str(st, "phase", ""));
	if (status_int(st, "status", "observedGeneration", INT64_MAX, &out->observed_generation,
		       err) != 0 ||
	    status_int32(st, "status", "replicas", &out->replicas, err) != 0 ||
	    status_int32(st, "status", "readyReplicas", &out->ready_replicas, err) != 0 ||
	    status_int32(st, "status", "learners", &out->learners, err) != 0)
		return -1;
	opt_copy(st, "selector", out->selector, sizeof(out->selector));
	opt_copy(st, "clusterID", out->cluster_id, sizeof(out->cluster_id));
	opt_copy(st, "leader", out->leader, sizeof(out->leader));
	opt_copy(st, "version", out->version, sizeof(out->version));
	opt_copy(st, "tls.caNotAfter", out->tls.ca, sizeof(out->tls.ca));
	opt_copy(st, "tls.peerNotAfter", out->tls.peer, sizeof(out->tls.peer));
	opt_copy(st, "tls.serverNotAfter", out->tls.server, sizeof(out->tls.server));
	opt_copy(st, "tls.clientNotAfter", out->tls.client, sizeof(out->tls.client));
	if (status_int(st, "status", "maintenance.compactedRevision", INT64_MAX,
		       &out->maint.compacted_revision, err) != 0)
		return -1;
	opt_copy(st, "maintenance.compactedTime", out->maint.compacted_at, sizeof(out->maint.compacted_at));
	json_object *dm = json_at(st, "maintenance.defragmentedMembers");
	for (size_t i = 0; dm && json_object_is_type(dm, json_type_array) &&
			   i < json_object_array_length(dm) && out->maint.ndefragmented < EC_MAX_MEMBERS; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(dm, i));
		eo_strlcpy(out->maint.defragmented[out->maint.ndefragmented++], id ? id : "",
			   sizeof(out->maint.defragmented[0]));
	}
	opt_copy(st, "maintenance.lastAction", out->maint.last_action, sizeof(out->maint.last_action));
	opt_copy(st, "maintenance.lastActionTime", out->maint.last_action_at,
		 sizeof(out->maint.last_action_at));

	json_object *members = json_at(st, "members");
	if (members && json_object_is_type(members, json_type_array)) {
		size_t n = json_object_array_length(members);
		for (size_t i = 0; i < n && out->nmembers < EC_MAX_MEMBERS; i++) {
			char where[32];
			snprintf(where, sizeof(where), "status.members[%zu]", i);
			if (parse_member(json_object_array_get_idx(members, i), where,
					 &out->members[out->nmembers++], err) != 0)
				return -1;
		}
	}

	json_object *sc = json_at(st, "scaling");
	if (sc && json_object_is_type(sc, json_type_object)) {
		struct ec_scaling *s = &out->scaling;
		s->active = true;
		if (status_int32(sc, "status.scaling", "from", &s->from, err) != 0 ||
		    status_int32(sc, "status.scaling", "to", &s->to, err) != 0)
			return -1;
		opt_copy(sc, "step", s->step, sizeof(s->step));
		opt_copy(sc, "memberID", s->member_id, sizeof(s->member_id));
		opt_copy(sc, "startedAt", s->started_at, sizeof(s->started_at));
		opt_copy(sc, "message", s->message, sizeof(s->message));
	}

	json_object *conds = json_at(st, "conditions");
	if (conds && json_object_is_type(conds, json_type_array)) {
		size_t n = json_object_array_length(conds);
		for (size_t i = 0; i < n && out->nconditions < EC_MAX_CONDITIONS; i++) {
			json_object *c = json_object_array_get_idx(conds, i);
			struct ec_condition *d = &out->conditions[out->nconditions++];
			opt_copy(c, "type", d->type, sizeof(d->type));
			opt_copy(c, "status", d->status, sizeof(d->status));
			opt_copy(c, "reason", d->reason, sizeof(d->reason));
			opt_copy(c, "message", d->message, sizeof(d->message));
			opt_copy(c, "lastTransitionTime", d->last_transition,
				 sizeof(d->last_transition));
		}
	}
	return 0;
}

int cluster_parse(json_object *obj, struct etcd_cluster *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	out->target = EC_TARGET_NONE;
	if (!obj || !json_object_is_type(obj, json_type_object))
		return eo_err_set(err, EO_EPARSE, "object: expected an EtcdCluster object, got %s",
				  obj ? json_type_label(obj) : "nothing");

	const char *kind = json_opt_str(obj, "kind", NULL);
	if (kind && strcmp(kind, EC_KIND) != 0)
		return eo_err_set(err, EO_EPARSE, "kind: expected %s, got \"%s\"", EC_KIND, kind);

	json_object *meta = json_at(obj, "metadata");
	if (meta && !json_object_is_type(meta, json_type_object))
		return eo_err_set(err, EO_EPARSE, "metadata: expected an object, got %s",
				  json_type_label(meta));
	opt_copy(obj, "metadata.name", out->name, sizeof(out->name));
	opt_copy(obj, "metadata.namespace", out->namespace, sizeof(out->namespace));
	opt_copy(obj, "metadata.uid", out->uid, sizeof(out->uid));
	opt_copy(obj, "metadata.resourceVersion", out->resource_version,
		 sizeof(out->resource_version));
	out->generation = json_opt_int(obj, "metadata.generation", 0);
	out->deleting = json_at(obj, "metadata.deletionTimestamp") != NULL;

	json_object *ann = json_at(obj, "metadata.annotations[" EC_ANN_TARGET "]");
	if (ann) {
		const char *raw = json_object_is_type(ann, json_type_string)
					  ? json_object_get_string(ann) : "";
		eo_strlcpy(out->target_raw, raw, sizeof(out->target_raw));
		out->target = parse_target(raw);
	}

	opt_copy(obj, "metadata.annotations[" EC_ANN_ROTATE_CA "]", out->rotate_ca,
		 sizeof(out->rotate_ca));

	json_object *spec = json_at(obj, "spec");
	if (spec && !json_object_is_type(spec, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec: expected an object, got %s",
				  json_type_label(spec));
	struct ec_spec *s = &out->spec;
	json_object *rep = json_at(obj, "spec.replicas");
	if (rep && !json_object_is_type(rep, json_type_null)) {
		if (json_get_int(obj, "spec.replicas", &s->replicas, err) != 0)
			return -1;
		s->replicas_set = true;
	} else {
		s->replicas = EC_DEFAULT_REPLICAS;
	}
	if (spec_str(obj, "spec.version", s->version, sizeof(s->version), EC_DEFAULT_VERSION,
		     NULL, err) != 0 ||
	    spec_str(obj, "spec.image", s->image, sizeof(s->image), "", NULL, err) != 0 ||
	    spec_str(obj, "spec.storage.size", s->storage_size, sizeof(s->storage_size),
		     EC_DEFAULT_STORAGE, NULL, err) != 0 ||
	    spec_str(obj, "spec.storage.storageClassName", s->storage_class,
		     sizeof(s->storage_class), "", &s->storage_class_set, err) != 0 ||
	    spec_str(obj, "spec.clusterDomain", s->cluster_domain, sizeof(s->cluster_domain),
		     EC_DEFAULT_DOMAIN, NULL, err) != 0)
		return -1;
	char when_deleted[16];
	if (spec_str(obj, "spec.storage.whenDeleted", when_deleted, sizeof(when_deleted), "Retain",
		     NULL, err) != 0)
		return -1;
	if (strcmp(when_deleted, "Retain") != 0 && strcmp(when_deleted, "Delete") != 0)
		return eo_err_set(err, EO_EPARSE,
				  "spec.storage.whenDeleted: \"%s\" is not Retain or Delete (Retain keeps "
				  "the volumes when the cluster is deleted; Delete deletes them with it)",
				  when_deleted);
	s->delete_volumes = strcmp(when_deleted, "Delete") == 0;
	json_object *susp = json_at(obj, "spec.suspended");
	if (susp && !json_object_is_type(susp, json_type_null)) {
		if (!json_object_is_type(susp, json_type_boolean))
			return eo_err_set(err, EO_EPARSE, "spec.suspended: expected true or false, got %s",
					  json_type_label(susp));
		s->suspended = json_object_get_boolean(susp);
	}
	json_object *sec = json_at(obj, "spec.security");
	if (sec && !json_object_is_type(sec, json_type_null) &&
	    !json_object_is_type(sec, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.security: expected an object, got %s",
				  json_type_label(sec));
	json_object *tls = json_at(obj, "spec.security.tls");
	if (tls && !json_object_is_type(tls, json_type_null) &&
	    !json_object_is_type(tls, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.security.tls: expected an object, got %s",
				  json_type_label(tls));
	if (parse_tls_side(obj, "spec.security.tls.peer", &s->tls_peer, err) != 0 ||
	    parse_tls_side(obj, "spec.security.tls.client", &s->tls_client, err) != 0)
		return -1;
	json_object *restore = json_at(obj, "spec.bootstrap.restore");
	if (restore && !json_object_is_type(restore, json_type_null)) {
		if (!json_object_is_type(restore, json_type_object))
			return eo_err_set(err, EO_EPARSE, "spec.bootstrap.restore: expected an object, "
					  "got %s", json_type_label(restore));
		s->restore_set = true;
		if (spec_str(obj, "spec.bootstrap.restore.backupName", s->restore_backup,
			     sizeof(s->restore_backup), "", NULL, err) != 0 ||
		    spec_str(obj, "spec.bootstrap.restore.key", s->restore_key, sizeof(s->restore_key), "", NULL,
			     err) != 0)
			return -1;
		if (!s->restore_backup[0])
			return eo_err_set(err, EO_EPARSE, "spec.bootstrap.restore.backupName: required "
					  "(the EtcdBackup to restore from)");
	}
	if (cluster_parse_pod(obj, &s->pod, err) != 0 ||
	    parse_maintenance(obj, s->storage_size, &s->maint, err) != 0)
		return -1;
	if (!s->version[0])
		eo_strlcpy(s->version, EC_DEFAULT_VERSION, sizeof(s->version));
	if (!s->cluster_domain[0])
		eo_strlcpy(s->cluster_domain, EC_DEFAULT_DOMAIN, sizeof(s->cluster_domain));

	return parse_status(json_at(obj, "status"), &out->status, err);
}

static void add_str(json_object *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_object_add(o, key, json_object_new_string(v));
}

json_object *cluster_status_json(const struct ec_status *st)
{
	json_object *o = json_object_new_object();
	add_str(o, "phase", ec_phase_name(st->phase));
	json_object_object_add(o, "observedGeneration",
			       json_object_new_int64(st->observed_generation));
	json_object_object_add(o, "replicas", json_object_new_int(st->replicas));
	json_object_object_add(o, "readyReplicas", json_object_new_int(st->ready_replicas));
	json_object_object_add(o, "learners", json_object_new_int(st->learners));
	add_str(o, "selector", st->selector);
	add_str(o, "clusterID", st->cluster_id);
	add_str(o, "leader", st->leader);
	add_str(o, "version", st->version);
	if (st->tls.ca[0] || st->tls.peer[0] || st->tls.server[0] || st->tls.client[0]) {
		json_object *t = json_object_new_object();
		add_str(t, "caNotAfter", st->tls.ca);
		add_str(t, "peerNotAfter", st->tls.peer);
		add_str(t, "serverNotAfter", st->tls.server);
		add_str(t, "clientNotAfter", st->tls.client);
		json_object_object_add(o, "tls", t);
	}
	if (st->maint.compacted_revision || st->maint.last_action[0]) {
		json_object *m = json_object_new_object();
		if (st->maint.compacted_revision)
			json_object_object_add(m, "compactedRevision",
					       json_object_new_int64(st->maint.compacted_revision));
		add_str(m, "compactedTime", st->maint.compacted_at);
		if (st->maint.ndefragmented > 0) {
			json_object *dm = json_object_new_array();
			for (int i = 0; i < st->maint.ndefragmented; i++)
				json_object_array_add(dm, json_object_new_string(st->maint.defragmented[i]));
			json_object_object_add(m, "defragmentedMembers", dm);
		}
		add_str(m, "lastAction", st->maint.last_action);
		add_str(m, "lastActionTime", st->maint.last_action_at);
		json_object_object_add(o, "maintenance", m);
	}

	json_object *members = json_object_new_array();
	for (int i = 0; i < st->nmembers; i++) {
		const struct ec_member *m = &st->members[i];
		json_object *j = json_object_new_object();
		add_str(j, "name", m->name);
		add_str(j, "id", m->id);
		add_str(j, "peerURL", m->peer_url);
		add_str(j, "clientURL", m->client_url);
		json_object_object_add(j, "learner", json_object_new_boolean(m->learner));
		json_object_object_add(j, "healthy", json_object_new_boolean(m->healthy));
		json_object_object_add(j, "leader", json_object_new_boolean(m->leader));
		json_object_object_add(j, "dbSize", json_object_new_int64(m->db_size));
		json_object_object_add(j, "raftIndex", json_object_new_int64(m->raft_index));
		add_str(j, "version", m->version);
		json_object_array_add(members, j);
	}
	json_object_object_add(o, "members", members);

	if (st->scaling.active) {
		const struct ec_scaling *s = &st->scaling;
		json_object *j = json_object_new_object();
		json_object_object_add(j, "from", json_object_new_int(s->from));
		json_object_object_add(j, "to", json_object_new_int(s->to));
		add_str(j, "step", s->step);
		add_str(j, "memberID", s->member_id);
		add_str(j, "startedAt", s->started_at);
		add_str(j, "message", s->message);
		json_object_object_add(o, "scaling", j);
	}

	json_object *conds = json_object_new_array();
	for (int i = 0; i < st->nconditions; i++) {
		const struct ec_condition *c = &st->conditions[i];
		json_object *j = json_object_new_object();
		add_str(j, "type", c->type);
		add_str(j, "status", c->status);
		add_str(j, "reason", c->reason);
		json_object_object_add(j, "message", json_object_new_string(c->message));
		add_str(j, "lastTransitionTime", c->last_transition);
		json_object_array_add(conds, j);
	}
	json_object_object_add(o, "conditions", conds);
	return o;
}

const struct ec_condition *cluster_condition(const struct ec_status *st, const char *type)
{
	for (int i = 0; i < st->nconditions; i++)
		if (strcmp(st->conditions[i].type, type) == 0)
			return &st->conditions[i];
	return NULL;
}

void cluster_set_condition(struct ec_status *st, const char *type, const char *status,
			   const char *reason, const char *message, const char *now)
{
	struct ec_condition *c = (struct ec_condition *)cluster_condition(st, type);
	if (!c) {
		if (st->nconditions >= EC_MAX_CONDITIONS)
			return;
		c = &st->conditions[st->nconditions++];
		memset(c, 0, sizeof(*c));
		eo_strlcpy(c->type, type, sizeof(c->type));
	}
	if (strcmp(c->status, status) != 0 || !c->last_transition[0])
		eo_strlcpy(c->last_transition, now, sizeof(c->last_transition));
	eo_strlcpy(c->status, status, sizeof(c->status));
	eo_strlcpy(c->reason, reason, sizeof(c->reason));
	eo_strlcpy(c->message, message, sizeof(c->message));
}

int ec_timing_check(int64_t heartbeat_ms, int64_t election_ms, const char *heartbeat_flag,
		    const char *election_flag, struct eo_err *err)
{
	if (election_ms >= EC_ELECTION_HEARTBEATS * heartbeat_ms)
		return 0;
	return eo_err_set(err, EO_EINVAL,
			  "%s %lld must be at least %d × %s (%lld): a member must miss several "
			  "heartbeats before it calls an election",
			  election_flag, (long long)election_ms, EC_ELECTION_HEARTBEATS,
			  heartbeat_flag, (long long)heartbeat_ms);
}

void cluster_etcd_image(const struct etcd_cluster *c, char *out, size_t size)
{
	if (c->spec.image[0])
		eo_strlcpy(out, c->spec.image, size);
	else
		snprintf(out, size, "%s:v%s", EC_ETCD_IMAGE_REPO, c->spec.version);
}

int ec_version_parse(const char *s, struct ec_version *v)
{
	if (!s)
		return -1;
	if (*s == 'v')
		s++;
	int n = 0;
	if (sscanf(s, "%d.%d.%d%n", &v->major, &v->minor, &v->patch, &n) != 3 || s[n] != '\0')
		return -1;
	if (v->major < 0 || v->minor < 0 || v->patch < 0 || v->major > 99 || v->minor > 999 ||
	    v->patch > 9999)
		return -1;
	/* sscanf's %d takes a sign and spaces: allow only digits and dots. */
	for (const char *p = s; *p; p++)
		if ((*p < '0' || *p > '9') && *p != '.')
			return -1;
	return 0;
}

int ec_version_cmp(const struct ec_version *a, const struct ec_version *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}
