/*
 * render.c — the views of `kubectl etcd status`: a table of clusters, and one
 * cluster in detail (summary, members, conditions, the step in flight, recent
 * Events).
 *
 * The one idea: show only what the controller publishes in .status (plus the
 * spec and the target annotation people wrote, and the Events the controller
 * recorded). The plugin never asks Pods or etcd, so it needs read access to
 * EtcdClusters and Events only, and works when etcd demands client
 * certificates. A field the controller has not written yet shows as "-",
 * never as a guess. Everything read is someone else's text (an Event message
 * anyone in the namespace may write), so it reaches the view only made safe
 * for the terminal (term.h): table cells by pl_table_add, the rest here.
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "policy.h"
#include "term.h"

#define ARROW "\xe2\x86\x92"

static const char *phase_color(enum ec_phase p)
{
	switch (p) {
	case EC_RUNNING:
		return PL_GREEN;
	case EC_CREATING:
	case EC_SCALING:
	case EC_UPGRADING:
	case EC_SUSPENDED:
		return PL_YELLOW;
	case EC_DEGRADED:
	case EC_FAILED:
		return PL_RED;
	default:
		return NULL;
	}
}

static const char *phase_text(const struct etcd_cluster *c)
{
	const char *p = ec_phase_name(c->status.phase);
	return p && *p ? p : "-";
}

/* The size the cluster is heading for: the target annotation, else spec. */
static int64_t heading_for(const struct etcd_cluster *c)
{
	return c->target >= 0 ? c->target : c->spec.replicas;
}

int render_cluster_table(json_object *list, bool with_ns, const char *ns, int64_t now,
			 bool color, struct eo_buf *out)
{
	return render_cluster_table_ex(list, with_ns, false, ns, now, color, out);
}

/* A condition's status ("True", "False", "Unknown"), "-" when not set. */
static const char *cond_status(const struct etcd_cluster *c, const char *type)
{
	const struct ec_condition *k = cluster_condition(&c->status, type);
	return k && k->status[0] ? k->status : "-";
}

int render_cluster_table_ex(json_object *list, bool with_ns, bool wide, const char *ns,
			    int64_t now, bool color, struct eo_buf *out)
{
	json_object *items = json_at(list, "items");
	size_t n = items && json_object_is_type(items, json_type_array)
			   ? json_object_array_length(items) : 0;
	char safe[256];
	if (n == 0) {
		if (with_ns)
			return eo_buf_printf(out, "No EtcdClusters found.\n");
		return eo_buf_printf(out, "No EtcdClusters found in namespace \"%s\".\n",
				     term_safe(safe, sizeof(safe), ns));
	}
	static const char *const hdr[] = {"NAMESPACE", "NAME",    "REPLICAS", "READY",
					  "LEARNERS",  "PHASE",   "VERSION",  "TARGET",
					  "AGE",       "LEADER",  "AVAILABLE", "DEGRADED",
					  "CLIENT TLS"};
	int off = with_ns ? 0 : 1;
	int ncols = (wide ? 13 : 9) - off;
	struct pl_table *t = pl_table_new(ncols, hdr + off);
	if (!t)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *obj = json_object_array_get_idx(items, i);
		struct etcd_cluster c;
		struct eo_err err;
		if (cluster_parse(obj, &c, &err) != 0) {
			/* Still list it: a cluster whose spec cannot be read is news. */
			memset(&c, 0, sizeof(c));
			eo_strlcpy(c.name, json_opt_str(obj, "metadata.name", "?"), sizeof(c.name));
			eo_strlcpy(c.namespace, json_opt_str(obj, "metadata.namespace", ""),
				   sizeof(c.namespace));
			c.target = EC_TARGET_NONE;
			eo_strlcpy(c.spec.version, "?", sizeof(c.spec.version));
		}
		char replicas[16], ready[32], learners[16], target[24], age[32];
		snprintf(replicas, sizeof(replicas), "%d", c.status.replicas);
		snprintf(ready, sizeof(ready), "%d/%d", c.status.ready_replicas, c.status.replicas);
		snprintf(learners, sizeof(learners), "%d", c.status.learners);
		snprintf(target, sizeof(target), "%lld", (long long)heading_for(&c));
		pl_age_of(json_opt_str(obj, "metadata.creationTimestamp", ""), now, age, sizeof(age));
		const char *tls = c.spec.tls_client.mode == EC_TLS_OFF ? "off"
								       : ec_tls_mode_name(c.spec.tls_client.mode);
		const char *cells[] = {c.namespace, c.name,       replicas, ready, learners,
				       phase_text(&c), c.spec.version, target,   age,
				       c.status.leader[0] ? c.status.leader : "-",
				       cond_status(&c, "Available"), cond_status(&c, "Degraded"), tls};
		const char *colors[13] = {0};
		if (strcmp(cells[11], "True") == 0)
			colors[11] = PL_RED;
		colors[5] = phase_color(c.status.phase);
		if (c.status.ready_replicas < c.status.replicas)
			colors[3] = PL_RED;
		if (heading_for(&c) != c.status.replicas)
			colors[7] = PL_YELLOW;
		rc = pl_table_add(t, cells + off, colors + off);
	}
	if (rc == 0)
		rc = pl_table_render(t, "", color, out);
	pl_table_free(t);
	return rc;
}

int render_cluster_names(json_object *list, struct eo_buf *out)
{
	json_object *items = json_at(list, "items");
	size_t n = items && json_object_is_type(items, json_type_array)
			   ? json_object_array_length(items) : 0;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = eo_buf_printf(out, "etcdcluster.etcd.k8s-operator.io/") |
		     term_safe_append(out, json_opt_str(json_object_array_get_idx(items, i),
							"metadata.name", ""), 0) |
		     eo_buf_append(out, "\n", 1);
	return rc;
}

/* "Label:       value", value made safe. */
static int field(struct eo_buf *out, bool color, const char *label, const char *value,
		 const char *col)
{
	int rc = eo_buf_printf(out, "%-14s%s", label, color && col ? col : "");
	rc |= term_safe_append(out, value, 0);
	rc |= eo_buf_printf(out, "%s\n", color && col ? PL_RESET : "");
	return rc ? -1 : 0;
}

/* "  label:    value\n" in the step in flight, value made safe. */
static int step_line(struct eo_buf *out, const char *label, const char *value)
{
	int rc = eo_buf_printf(out, "  %-10s", label);
	rc |= term_safe_append(out, value, 0);
	rc |= eo_buf_append(out, "\n", 1);
	return rc ? -1 : 0;
}

static int render_members(const struct etcd_cluster *c, bool color, struct eo_buf *out)
{
	int rc = eo_buf_printf(out, "\nMembers:\n");
	if (c->status.nmembers == 0)
		return rc | eo_buf_printf(out, "  none reported yet\n");
	static const char *const hdr[] = {"NAME", "ROLE", "HEALTH", "DB SIZE", "RAFT INDEX"};
	struct pl_table *t = pl_table_new(5, hdr);
	if (!t)
		return -1;
	for (int i = 0; i < c->status.nmembers && rc == 0; i++) {
		const struct ec_member *m = &c->status.members[i];
		const char *role = m->learner ? "learner" : m->leader ? "leader" : "follower";
		char db[32], idx[32];
		pl_human_bytes(m->db_size, db, sizeof(db));
		snprintf(idx, sizeof(idx), "%lld", (long long)m->raft_index);
		const char *cells[] = {m->name[0] ? m->name : "(not started)", role,
				       m->healthy ? "healthy" : "unhealthy", db, idx};
		const char *colors[5] = {0};
		colors[1] = m->leader ? PL_BOLD : m->learner ? PL_YELLOW : NULL;
		colors[2] = m->healthy ? PL_GREEN : PL_RED;
		rc = pl_table_add(t, cells, colors);
	}
	if (rc == 0)
		rc = pl_table_render(t, "  ", color, out);
	pl_table_free(t);
	return rc;
}

static int render_conditions(const struct etcd_cluster *c, int64_t now, bool color,
			     struct eo_buf *out)
{
	int rc = eo_buf_printf(out, "\nConditions:\n");
	if (c->status.nconditions == 0)
		return rc | eo_buf_printf(out, "  none reported yet\n");
	static const char *const hdr[] = {"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"};
	struct pl_table *t = pl_table_new(5, hdr);
	if (!t)
		return -1;
	for (int i = 0; i < c->status.nconditions && rc == 0; i++) {
		const struct ec_condition *k = &c->status.conditions[i];
		char age[32];
		pl_age_of(k->last_transition, now, age, sizeof(age));
		/* Degraded=True is the bad one; for the others False is. */
		bool good = strcmp(k->type, "Degraded") == 0 ? strcmp(k->status, "True") != 0
							     : strcmp(k->status, "True") == 0;
		const char *colors[5] = {0};
		colors[1] = strcmp(k->type, "Progressing") == 0 ? NULL : good ? PL_GREEN : PL_RED;
		const char *cells[] = {k->type, k->status, k->reason[0] ? k->reason : "-", age,
				       k->message[0] ? k->message : "-"};
		rc = pl_table_add(t, cells, colors);
	}
	if (rc == 0)
		rc = pl_table_render(t, "  ", color, out);
	pl_table_free(t);
	return rc;
}

static int render_step(const struct etcd_cluster *c, int64_t now, struct eo_buf *out)
{
	const struct ec_scaling *s = &c->status.scaling;
	if (!s->active)
		return eo_buf_printf(out, "\nStep in flight: none\n");
	char elapsed[32];
	pl_age_of(s->started_at, now, elapsed, sizeof(elapsed));
	int rc = eo_buf_printf(out, "\nStep in flight:\n");
	rc |= step_line(out, "step:", s->step[0] ? s->step : "-");
	rc |= eo_buf_printf(out, "  %-10s%d " ARROW " %d\n", "members:", s->from, s->to);
	if (s->member_id[0])
		rc |= step_line(out, "member:", s->member_id);
	rc |= step_line(out, "elapsed:", elapsed);
	if (s->message[0])
		rc |= step_line(out, "message:", s->message);
	return rc;
}

static const char *event_time(json_object *e)
{
	const char *keys[] = {"lastTimestamp", "eventTime", "series.lastObservedTime",
			      "firstTimestamp", "metadata.creationTimestamp"};
	for (size_t i = 0; i < EO_ARRAY_LEN(keys); i++) {
		const char *t = json_opt_str(e, keys[i], NULL);
		if (t && *t)
			return t;
	}
	return "";
}

static int cmp_events(const void *a, const void *b)
{
	int64_t ta = 0, tb = 0;
	eo_rfc3339_parse(event_time(*(json_object *const *)a), &ta);
	eo_rfc3339_parse(event_time(*(json_object *const *)b), &tb);
	return ta < tb ? -1 : ta > tb;
}

#define MAX_EVENTS 10

static int render_events(json_object *events, const char *note, int64_t now, bool color,
			 struct eo_buf *out)
{
	int rc = eo_buf_printf(out, "\nEvents:\n");
	if (note)
		return rc | eo_buf_printf(out, "  ") | term_safe_append(out, note, 0) |
		       eo_buf_append(out, "\n", 1);
	json_object *items = events && json_object_is_type(events, json_type_array)
				     ? events : json_at(events, "items");
	size_t n = items && json_object_is_type(items, json_type_array)
			   ? json_object_array_length(items) : 0;
	if (n == 0)
		return rc | eo_buf_printf(out, "  none\n");
	json_object **v = calloc(n, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = json_object_array_get_idx(items, i);
	qsort(v, n, sizeof(*v), cmp_events);
	static const char *const hdr[] = {"LAST SEEN", "TYPE", "REASON", "MESSAGE"};
	struct pl_table *t = pl_table_new(4, hdr);
	if (!t) {
		free(v);
		return -1;
	}
	for (size_t i = n > MAX_EVENTS ? n - MAX_EVENTS : 0; i < n && rc == 0; i++) {
		char age[32], msg[320];
		pl_age_of(event_time(v[i]), now, age, sizeof(age));
		const char *type = json_opt_str(v[i], "type", "Normal");
		int64_t count = json_opt_int(v[i], "count", 1);
		const char *m = json_opt_str(v[i], "message", json_opt_str(v[i], "note", ""));
		if (count > 1)
			snprintf(msg, sizeof(msg), "%s (x%lld)", m, (long long)count);
		else
			snprintf(msg, sizeof(msg), "%s", m);
		const char *cells[] = {age, type, json_opt_str(v[i], "reason", ""), msg};
		const char *colors[4] = {0};
		colors[1] = strcmp(type, "Warning") == 0 ? PL_YELLOW : NULL;
		rc = pl_table_add(t, cells, colors);
	}
	if (rc == 0)
		rc = pl_table_render(t, "  ", color, out);
	pl_table_free(t);
	free(v);
	return rc;
}

int render_cluster_detail(json_object *obj, json_object *events, const char *events_note,
			  int64_t now, bool color, struct eo_buf *out)
{
	struct etcd_cluster c;
	struct eo_err err;
	if (cluster_parse(obj, &c, &err) != 0) {
		struct eo_buf raw = {0};
		int rc = eo_buf_printf(&raw, "%s/%s: cannot read this EtcdCluster: %s",
				       json_opt_str(obj, "metadata.namespace", ""),
				       json_opt_str(obj, "metadata.name", "?"), err.msg);
		rc |= term_safe_append(out, raw.data, 0) | eo_buf_append(out, "\n", 1);
		eo_buf_free(&raw);
		return rc ? -1 : 0;
	}
	char line[512], age[32];
	int rc = 0;
	rc |= field(out, color, "Name:", c.name, PL_BOLD);
	rc |= field(out, color, "Namespace:", c.namespace, NULL);
	rc |= field(out, color, "Phase:", phase_text(&c), phase_color(c.status.phase));

	snprintf(line, sizeof(line), "%d voting member%s, %d ready, %d learner%s", c.status.replicas,
		 c.status.replicas == 1 ? "" : "s", c.status.ready_replicas, c.status.learners,
		 c.status.learners == 1 ? "" : "s");
	rc |= field(out, color, "Size:", line,
		    c.status.ready_replicas < c.status.replicas ? PL_RED : NULL);
	if (c.status.replicas > 0) {
		snprintf(line, sizeof(line), "quorum %d, tolerates %d failure%s",
			 ec_quorum(c.status.replicas), ec_tolerance(c.status.replicas),
			 ec_tolerance(c.status.replicas) == 1 ? "" : "s");
		rc |= field(out, color, "Quorum:", line, NULL);
	}
	int64_t to = heading_for(&c);
	if (to != c.status.replicas || c.target >= 0) {
		char path[128];
		policy_staged_path(c.status.replicas, to, path, sizeof(path));
		snprintf(line, sizeof(line), "%lld (spec.replicas %lld; path %s)", (long long)to,
			 (long long)c.spec.replicas, path);
	} else {
		snprintf(line, sizeof(line), "%lld (reached)", (long long)to);
	}
	rc |= field(out, color, "Target:", line, to != c.status.replicas ? PL_YELLOW : NULL);
	if (c.target == EC_TARGET_INVALID) {
		snprintf(line, sizeof(line), "annotation %s is \"%s\", not a number", EC_ANN_TARGET,
			 c.target_raw);
		rc |= field(out, color, "Warning:", line, PL_RED);
	}
	/* What every member runs (status.version) next to what spec asks: they
	 * differ while an upgrade rolls. Before a controller reports, spec alone. */
	if (c.status.version[0]) {
		bool same = strcmp(c.status.version, c.spec.version) == 0;
		snprintf(line, sizeof(line), "%s (asked: %s%s)", c.status.version, c.spec.version,
			 same ? "" : ", upgrading");
		rc |= field(out, color, "Version:", line, same ? NULL : PL_YELLOW);
	} else {
		rc |= field(out, color, "Version:", c.spec.version, NULL);
	}
	if (c.spec.suspended)
		rc |= field(out, color, "Suspended:", c.status.phase == EC_SUSPENDED
			    ? "yes: every member stopped, volumes kept"
			    : "asked (spec.suspended: true): members stopping", PL_YELLOW);
	rc |= field(out, color, "Cluster ID:", c.status.cluster_id[0] ? c.status.cluster_id : "-",
		    NULL);
	rc |= field(out, color, "Leader:", c.status.leader[0] ? c.status.leader : "-",
		    c.status.leader[0] ? NULL : PL_RED);
	if (c.status.observed_generation != c.generation) {
		snprintf(line, sizeof(line),
			 "generation %lld, observed %lld (the controller has not acted on the "
			 "latest spec yet)",
			 (long long)c.generation, (long long)c.status.observed_generation);
		rc |= field(out, color, "Generation:", line, PL_YELLOW);
	}
	pl_age_of(json_opt_str(obj, "metadata.creationTimestamp", ""), now, age, sizeof(age));
	rc |= field(out, color, "Age:", age, NULL);

	rc |= render_members(&c, color, out);
	rc |= render_conditions(&c, now, color, out);
	rc |= render_step(&c, now, out);
	rc |= render_events(events, events_note, now, color, out);
	return rc ? -1 : 0;
}
