/*
 * health.c — `kubectl etcd health NAME`: each member healthy or not, with
 * etcd's reason, asked of the member itself; exit status 1 unless all are.
 *
 * The one idea: the same question the kubelet's probe asks — GET /health,
 * which etcd answers true only with a leader, no alarm and a quorum read —
 * sent through the API server's pods proxy (live.h). With client TLS on,
 * etcd serves /health in plain HTTP on its metrics port, so the answer is
 * live there too. The members are etcd's own list when a member gives one,
 * else those the controller published; a member added but not started is
 * unhealthy ("not started").
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "live.h"
#include "render.h"

size_t health_flags(struct live_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("output", 'o', CLI_STR, &o->output, "FORMAT", "json or yaml"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

struct verdict {
	char name[128];
	bool healthy;
	char why[300];
	int64_t took_ms;
};

/* The members to judge: etcd's list from the first Pod that gives one
 * (plain client port only), else the controller's published names. */
static int members_to_ask(struct kube_client *kc, const char *ns, const struct etcd_cluster *c,
			  struct verdict *out, int max, const char **source)
{
	int n = 0;
	if (!live_client_tls(c)) {
		char pods[ETCD_MAX_MEMBERS][64];
		int npods = live_pods(c, pods, ETCD_MAX_MEMBERS);
		for (int i = 0; i < npods; i++) {
			struct eo_buf b = {0};
			struct eo_err err;
			struct etcd_members ms;
			int ok = live_call(kc, ns, pods[i], LIVE_PORT_CLIENT, "POST",
					   "/v3/cluster/member/list", "{}", &b, &err) == 0 &&
				 etcd_parse_members(b.data, b.len, &ms, &err) == 0;
			eo_buf_free(&b);
			if (!ok)
				continue;
			for (int k = 0; k < ms.n && n < max; k++) {
				struct verdict *v = &out[n++];
				memset(v, 0, sizeof(*v));
				eo_strlcpy(v->name, ms.m[k].name, sizeof(v->name));
				if (!v->name[0]) {
					char hex[17];
					etcd_id_hex(ms.m[k].id, hex);
					snprintf(v->name, sizeof(v->name), "(id %s)", hex);
					snprintf(v->why, sizeof(v->why),
						 "not started: added, its etcd has not joined yet");
				}
			}
			*source = "etcd's member list";
			return n;
		}
	}
	for (int i = 0; i < c->status.nmembers && n < max; i++) {
		memset(&out[n], 0, sizeof(out[n]));
		eo_strlcpy(out[n++].name, c->status.members[i].name, sizeof(out[0].name));
	}
	*source = "the members in status";
	return n;
}

static json_object *verdicts_json(const struct verdict *vs, int n, const char *ns,
				  const char *name, bool all)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "cluster", json_object_new_string(name));
	json_object_object_add(o, "namespace", json_object_new_string(ns));
	json_object_object_add(o, "healthy", json_object_new_boolean(all));
	json_object *arr = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(vs[i].name));
		json_object_object_add(j, "healthy", json_object_new_boolean(vs[i].healthy));
		if (!vs[i].healthy)
			json_object_object_add(j, "reason", json_object_new_string(vs[i].why));
		json_object_object_add(j, "tookMs", json_object_new_int64(vs[i].took_ms));
		json_object_array_add(arr, j);
	}
	json_object_object_add(o, "members", arr);
	return o;
}

int health_main(int argc, char **argv)
{
	static const char *const formats[] = {"json", "yaml", NULL};
	struct live_opts o;
	int rc = PL_EXIT_OK;
	if (live_parse("health", argc, argv, &o, health_flags, formats, &rc) != 0)
		return rc;
	struct kube_client *kc = NULL;
	const char *ns = NULL;
	if ((rc = live_connect(&o, &kc, &ns)) != 0)
		return rc;
	struct eo_err err;
	struct etcd_cluster *c = calloc(1, sizeof(*c));
	struct verdict *vs = calloc(ETCD_MAX_MEMBERS, sizeof(*vs));
	if (!c || !vs) {
		rc = pl_fail("out of memory");
		goto out;
	}
	if (live_get_cluster(kc, ns, o.name, c, &rc) != 0)
		goto out;
	const char *source = "";
	int n = members_to_ask(kc, ns, c, vs, ETCD_MAX_MEMBERS, &source);
	int port = live_client_tls(c) ? LIVE_PORT_METRICS : LIVE_PORT_CLIENT;
	int nhealthy = 0;
	for (int i = 0; i < n; i++) {
		struct verdict *v = &vs[i];
		if (v->why[0])
			continue; /* not started */
		char *path = live_proxy_path(ns, v->name, port, "/health");
		long status = 0;
		struct eo_buf b = {0};
		int64_t t0 = eo_now_ms();
		int got = kube_request_raw(kc, "GET", path, NULL, NULL, &status, &b, &err);
		v->took_ms = eo_now_ms() - t0;
		pl_log_call("GET", "health (pods proxy)", t0, got == 0 && status / 100 == 2 ? 0 : -1,
			    &err);
		v->healthy = live_health_verdict(got == 0 ? status : 0, b.data ? b.data : "", b.len,
						 err.msg, v->why, sizeof(v->why));
		nhealthy += v->healthy;
		eo_buf_free(&b);
		free(path);
	}
	bool all = n > 0 && nhealthy == n;
	if (o.output) {
		json_object *doc = verdicts_json(vs, n, ns, o.name, all);
		rc = pl_print_doc(doc, o.output);
		json_object_put(doc);
	} else {
		static const char *const h[] = {"MEMBER", "HEALTHY", "TOOK", "REASON"};
		struct pl_table *t = pl_table_new(4, h);
		bool color = pl_color(&o.g, stdout);
		for (int i = 0; t && i < n; i++) {
			char took[32];
			dur_text(vs[i].took_ms, took, sizeof(took));
			const char *cells[4] = {vs[i].name, vs[i].healthy ? "true" : "false",
						vs[i].why[0] && !vs[i].took_ms ? "-" : took,
						vs[i].healthy ? "" : vs[i].why};
			const char *colors[4] = {NULL, vs[i].healthy ? PL_GREEN : PL_RED, NULL, NULL};
			pl_table_add(t, cells, colors);
		}
		struct eo_buf b = {0};
		if (t && n)
			pl_table_render(t, "", color, &b);
		eo_buf_printf(&b, "%d of %d members healthy (asked through the API server, %s%s)\n",
			      nhealthy, n, source,
			      port == LIVE_PORT_METRICS ? "; client TLS on: etcd's plain metrics port" : "");
		fwrite(b.data, 1, b.len, stdout);
		eo_buf_free(&b);
		pl_table_free(t);
	}
	if (rc == PL_EXIT_OK && !all)
		rc = PL_EXIT_FAIL;
out:
	free(c);
	free(vs);
	kube_client_free(kc);
	return rc;
}
