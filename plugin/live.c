/*
 * live.c — reaching each member's etcd through the API server's pods proxy,
 * and the live member view (live.h says why this way and where it stops).
 *
 * The one idea: the proxy is only a transport. What comes back is etcd's
 * JSON gateway answer, read by the parsers the controller uses
 * (shared/etcd/etcd_parse.c); only an answer from the API server itself (a
 * Status: the Pod is not running, the port refused) is read as Kubernetes'.
 */
#include "live.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "plugin.h"
#include "render.h"
#include "term.h"

char *live_proxy_path(const char *ns, const char *pod, int port, const char *rest)
{
	char *ens = kube_escape(ns), *epod = kube_escape(pod);
	char *p = eo_strdupf("/api/v1/namespaces/%s/pods/%s:%d/proxy%s", ens, epod, port, rest);
	free(ens);
	free(epod);
	return p;
}

bool live_client_tls(const struct etcd_cluster *c)
{
	return c->spec.tls_client.mode != EC_TLS_OFF;
}

int live_pods(const struct etcd_cluster *c, char pods[][64], int max)
{
	int n = 0;
	for (int i = 0; i < c->status.nmembers && n < max; i++)
		if (c->status.members[i].name[0])
			eo_strlcpy(pods[n++], c->status.members[i].name, 64);
	if (n == 0 && max > 0)
		snprintf(pods[n++], 64, "%.60s-0", c->name);
	return n;
}

int live_get_cluster(struct kube_client *kc, const char *ns, const char *name,
		     struct etcd_cluster *c, int *rc)
{
	json_object *obj = NULL;
	struct eo_err err;
	int64_t t0 = eo_now_ms();
	int got = kube_get(kc, &KUBE_ETCDCLUSTERS, ns, name, &obj, &err);
	pl_log_call("GET", "etcdcluster", t0, got, &err);
	if (got != 0) {
		*rc = pl_api_fail(&err, name, ns);
		return -1;
	}
	got = cluster_parse(obj, c, &err);
	json_object_put(obj);
	if (got != 0) {
		*rc = pl_fail("etcdcluster \"%s\": %s", name, err.msg);
		return -1;
	}
	return 0;
}

int live_call(struct kube_client *kc, const char *ns, const char *pod, int port,
	      const char *method, const char *rest, const char *body, struct eo_buf *resp,
	      struct eo_err *err)
{
	char *path = live_proxy_path(ns, pod, port, rest);
	long status = 0;
	struct eo_buf raw = {0};
	int64_t t0 = eo_now_ms();
	int rc = kube_request_raw(kc, method, path, body ? "application/json" : NULL, body, &status,
				  &raw, err);
	free(path);
	char what[160];
	snprintf(what, sizeof(what), "%.60s:%d%.80s (pods proxy)", pod, port, rest);
	if (rc == 0 && status / 100 == 2) {
		pl_log_call(method, what, t0, 0, err);
		eo_buf_append(resp, raw.data ? raw.data : "", raw.len);
		eo_buf_free(&raw);
		return 0;
	}
	if (rc == 0) {
		/* An answer that is not 2xx: the API server's own Status (the Pod
		 * cannot be reached), or etcd's gateway error passed through. */
		json_object *o = raw.len ? json_tokener_parse(raw.data) : NULL;
		bool from_api = o && strcmp(json_opt_str(o, "kind", ""), "Status") == 0;
		json_object_put(o);
		if (from_api || !raw.len) {
			char msg[256];
			kube_error_message(status, raw.data, raw.len, msg, sizeof(msg));
			eo_err_set(err, (int)status, "%s", msg);
		} else {
			etcd_parse_error(status, raw.data, raw.len, err);
		}
	}
	pl_log_call(method, what, t0, -1, err);
	eo_buf_free(&raw);
	return -1;
}

bool live_health_verdict(long status, const char *body, size_t len, const char *transport_msg,
			 char *why, size_t size)
{
	why[0] = '\0';
	if (status == 0) {
		snprintf(why, size, "no answer: %s", transport_msg ? transport_msg : "");
		return false;
	}
	json_object *o = len ? json_tokener_parse(body) : NULL;
	bool from_api = o && strcmp(json_opt_str(o, "kind", ""), "Status") == 0;
	json_object_put(o);
	if (from_api || !len) {
		char msg[256];
		kube_error_message(status, body, len, msg, sizeof(msg));
		snprintf(why, size, "unreachable through the API server: %s", msg);
		return false;
	}
	struct eo_err err;
	if (etcd_parse_health(status, body, len, &err) == 0)
		return true;
	snprintf(why, size, "%s", err.msg);
	return false;
}

void live_view_build(const struct etcd_members *ms, const struct etcd_status *const *statuses,
		     const char *const *whys, const char *responder, struct live_view *v)
{
	memset(v, 0, sizeof(*v));
	eo_strlcpy(v->responder, responder ? responder : "", sizeof(v->responder));
	for (int i = 0; i < ms->n && i < ETCD_MAX_MEMBERS; i++) {
		struct live_member *m = &v->m[v->n++];
		m->m = ms->m[i];
		if (statuses && statuses[i]) {
			m->has_status = true;
			m->st = *statuses[i];
			if (!v->leader)
				v->leader = m->st.leader;
		} else {
			eo_strlcpy(m->why, whys && whys[i] ? whys[i] : "no answer", sizeof(m->why));
		}
	}
}

void live_view_from_status(const struct etcd_cluster *c, struct live_view *v)
{
	memset(v, 0, sizeof(*v));
	v->from_status = true;
	for (int i = 0; i < c->status.nmembers && v->n < ETCD_MAX_MEMBERS; i++) {
		const struct ec_member *e = &c->status.members[i];
		struct live_member *m = &v->m[v->n++];
		etcd_id_parse(e->id, &m->m.id);
		eo_strlcpy(m->m.name, e->name, sizeof(m->m.name));
		if (e->peer_url[0])
			eo_strlcpy(m->m.peer_urls[m->m.npeer++], e->peer_url, sizeof(m->m.peer_urls[0]));
		if (e->client_url[0])
			eo_strlcpy(m->m.client_urls[m->m.nclient++], e->client_url,
				   sizeof(m->m.client_urls[0]));
		m->m.learner = e->learner;
		m->has_status = true;
		m->st.member_id = m->m.id;
		m->st.db_size = e->db_size;
		m->st.db_size_in_use = -1; /* not published */
		m->st.raft_index = (uint64_t)(e->raft_index > 0 ? e->raft_index : 0);
		m->st.is_learner = e->learner;
		eo_strlcpy(m->st.version, e->version, sizeof(m->st.version));
		if (e->leader)
			v->leader = m->m.id;
	}
}

const char *live_role(const struct live_view *v, const struct live_member *m)
{
	if (m->m.learner)
		return "learner";
	if (v->leader && m->m.id == v->leader)
		return "leader";
	if (!m->has_status && !v->leader)
		return "unknown";
	return "follower";
}

int live_gather(struct kube_client *kc, const char *ns, const struct etcd_cluster *c,
		struct live_view *v, struct eo_err *err)
{
	char pods[ETCD_MAX_MEMBERS][64];
	int npods = live_pods(c, pods, ETCD_MAX_MEMBERS);
	struct etcd_members *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return eo_err_set(err, EO_ENOMEM, "out of memory");
	const char *responder = NULL;
	int rc = -1;
	/* The member list as the member answering sees it (not linearizable:
	 * a cluster without quorum is when the list matters most). */
	for (int i = 0; i < npods && !responder; i++) {
		struct eo_buf b = {0};
		if (live_call(kc, ns, pods[i], LIVE_PORT_CLIENT, "POST", "/v3/cluster/member/list",
			      "{}", &b, err) == 0 &&
		    etcd_parse_members(b.data, b.len, ms, err) == 0)
			responder = pods[i];
		else
			eo_err_prefix(err, "%s: ", pods[i]);
		eo_buf_free(&b);
	}
	if (!responder)
		goto out;
	struct etcd_status sts[ETCD_MAX_MEMBERS];
	const struct etcd_status *stp[ETCD_MAX_MEMBERS] = {0};
	char whys[ETCD_MAX_MEMBERS][256];
	const char *whyp[ETCD_MAX_MEMBERS] = {0};
	for (int i = 0; i < ms->n; i++) {
		whyp[i] = whys[i];
		if (!ms->m[i].name[0]) {
			snprintf(whys[i], sizeof(whys[i]), "not started: added, its etcd has not joined yet");
			continue;
		}
		struct eo_buf b = {0};
		struct eo_err e;
		if (live_call(kc, ns, ms->m[i].name, LIVE_PORT_CLIENT, "POST",
			      "/v3/maintenance/status", "{}", &b, &e) == 0 &&
		    etcd_parse_status(b.data, b.len, &sts[i], &e) == 0)
			stp[i] = &sts[i];
		else
			snprintf(whys[i], sizeof(whys[i]), "%s", e.msg);
		eo_buf_free(&b);
	}
	live_view_build(ms, stp, whyp, responder, v);
	rc = 0;
out:
	free(ms);
	return rc;
}

static void join_urls(char urls[][256], int n, bool all, char *out, size_t size)
{
	out[0] = '\0';
	size_t len = 0;
	for (int i = 0; i < n && (all || i < 1); i++)
		len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s", i ? "," : "",
					urls[i]);
	if (!out[0])
		eo_strlcpy(out, "-", size);
}

int live_render_members(const struct live_view *v, bool wide, bool color, struct eo_buf *out)
{
	static const char *const narrow_h[] = {"ID", "NAME", "ROLE", "TERM", "INDEX", "DB SIZE",
					       "IN USE", "VERSION", "PEER URL", "CLIENT URL"};
	static const char *const wide_h[] = {"ID", "NAME", "ROLE", "TERM", "INDEX", "DB SIZE",
					     "IN USE", "VERSION", "PEER URLS", "CLIENT URLS",
					     "APPLIED", "ERRORS"};
	int ncols = wide ? 12 : 10;
	struct pl_table *t = pl_table_new(ncols, wide ? wide_h : narrow_h);
	if (!t)
		return -1;
	for (int i = 0; i < v->n; i++) {
		const struct live_member *m = &v->m[i];
		char id[17], term[24], idx[24], db[32], use[32], peer[1100], client[1100], app[24];
		etcd_id_hex(m->m.id, id);
		const struct etcd_status *s = m->has_status ? &m->st : NULL;
		snprintf(term, sizeof(term), s && s->raft_term ? "%llu" : "-",
			 (unsigned long long)(s ? s->raft_term : 0));
		snprintf(idx, sizeof(idx), s ? "%llu" : "-",
			 (unsigned long long)(s ? s->raft_index : 0));
		snprintf(app, sizeof(app), s && !v->from_status ? "%llu" : "-",
			 (unsigned long long)(s ? s->raft_applied_index : 0));
		if (s)
			pl_human_bytes(s->db_size, db, sizeof(db));
		else
			eo_strlcpy(db, "-", sizeof(db));
		if (s && s->db_size_in_use >= 0 && !v->from_status)
			pl_human_bytes(s->db_size_in_use, use, sizeof(use));
		else
			eo_strlcpy(use, "-", sizeof(use));
		join_urls((char(*)[256])m->m.peer_urls, m->m.npeer, wide, peer, sizeof(peer));
		join_urls((char(*)[256])m->m.client_urls, m->m.nclient, wide, client, sizeof(client));
		const char *role = live_role(v, m);
		const char *errs = s ? (s->errors[0] ? s->errors : "-") : m->why;
		const char *cells[12] = {id, m->m.name[0] ? m->m.name : "(not started)", role, term, idx,
					 db, use, s && s->version[0] ? s->version : "-", peer, client,
					 app, errs};
		const char *colors[12] = {0};
		colors[2] = !strcmp(role, "leader") ? PL_GREEN : !strcmp(role, "unknown") ? PL_YELLOW : NULL;
		if (pl_table_add(t, cells, colors) != 0) {
			pl_table_free(t);
			return -1;
		}
	}
	int rc = pl_table_render(t, "", color, out);
	pl_table_free(t);
	/* Why a member shows no numbers, under the table (wide has a column). */
	for (int i = 0; rc == 0 && !wide && i < v->n; i++) {
		const struct live_member *m = &v->m[i];
		const char *note = !m->has_status ? m->why : m->st.errors;
		if (!note[0])
			continue;
		rc = term_safe_append(out, m->m.name[0] ? m->m.name : "(not started)", 0) |
		     eo_buf_printf(out, m->has_status ? ": " : ": no status: ") |
		     term_safe_append(out, note, 0) | eo_buf_append(out, "\n", 1);
	}
	return rc;
}

static json_object *urls_json(char urls[][256], int n)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(urls[i]));
	return a;
}

static json_object *u64_json(uint64_t x)
{
	char d[21];
	snprintf(d, sizeof(d), "%llu", (unsigned long long)x);
	return json_object_new_string(d);
}

json_object *live_members_json(const struct live_view *v, const char *ns, const char *name)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "cluster", json_object_new_string(name));
	json_object_object_add(o, "namespace", json_object_new_string(ns));
	json_object_object_add(o, "source", json_object_new_string(v->from_status ? "status" : "etcd"));
	if (v->responder[0])
		json_object_object_add(o, "responder", json_object_new_string(v->responder));
	if (v->leader)
		json_object_object_add(o, "leader", u64_json(v->leader));
	json_object *arr = json_object_new_array();
	for (int i = 0; i < v->n; i++) {
		const struct live_member *m = &v->m[i];
		json_object *j = json_object_new_object();
		char hex[17];
		etcd_id_hex(m->m.id, hex);
		json_object_object_add(j, "id", u64_json(m->m.id));
		json_object_object_add(j, "idHex", json_object_new_string(hex));
		json_object_object_add(j, "name", json_object_new_string(m->m.name));
		json_object_object_add(j, "role", json_object_new_string(live_role(v, m)));
		json_object_object_add(j, "isLearner", json_object_new_boolean(m->m.learner));
		json_object_object_add(j, "isLeader", json_object_new_boolean(v->leader && m->m.id == v->leader));
		json_object_object_add(j, "peerURLs", urls_json((char(*)[256])m->m.peer_urls, m->m.npeer));
		json_object_object_add(j, "clientURLs", urls_json((char(*)[256])m->m.client_urls, m->m.nclient));
		if (m->has_status) {
			const struct etcd_status *s = &m->st;
			if (!v->from_status) {
				json_object_object_add(j, "raftTerm", u64_json(s->raft_term));
				json_object_object_add(j, "raftAppliedIndex", u64_json(s->raft_applied_index));
				json_object_object_add(j, "dbSizeInUse", json_object_new_int64(s->db_size_in_use));
			}
			json_object_object_add(j, "raftIndex", u64_json(s->raft_index));
			json_object_object_add(j, "dbSize", json_object_new_int64(s->db_size));
			json_object_object_add(j, "version", json_object_new_string(s->version));
			if (s->errors[0])
				json_object_object_add(j, "errors", json_object_new_string(s->errors));
		} else {
			json_object_object_add(j, "error", json_object_new_string(m->why));
		}
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "members", arr);
	return o;
}
