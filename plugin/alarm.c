/*
 * alarm.c — `kubectl etcd alarm list NAME`: the alarms etcd has raised
 * (NOSPACE: the backend quota is full and the cluster refuses writes;
 * CORRUPT), each with the member that raised it. Read-only.
 *
 * The one idea: alarms are cluster-wide state in etcd's raft log, so one
 * member that answers is enough; asked through the API server's pods proxy
 * (live.h). With client TLS on there is no live path, and the command says
 * so rather than showing an empty list.
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "live.h"
#include "render.h"

size_t alarm_flags(struct live_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("output", 'o', CLI_STR, &o->output, "FORMAT", "json or yaml"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

/* The member's name from the list, else its id in hex. */
static const char *member_name(const struct etcd_members *ms, uint64_t id, char *buf, size_t size)
{
	const struct etcd_member *m = etcd_members_find_id(ms, id);
	if (m && m->name[0])
		return m->name;
	char hex[17];
	etcd_id_hex(id, hex);
	snprintf(buf, size, "%s", hex);
	return buf;
}

int alarm_main(int argc, char **argv)
{
	static const char *const formats[] = {"json", "yaml", NULL};
	if (argc < 1 || (strcmp(argv[0], "list") != 0 && argv[0][0] != '-')) {
		if (argc >= 1 && strcmp(argv[0], "disarm") == 0)
			return pl_usage_error("alarm", "alarm disarm is not available in this version: "
					      "only \"alarm list\"");
		return pl_usage_error("alarm", "a subcommand is required: alarm list NAME");
	}
	bool sub = strcmp(argv[0], "list") == 0;
	struct live_opts o;
	int rc = PL_EXIT_OK;
	if (live_parse("alarm", argc - sub, argv + sub, &o, alarm_flags, formats, &rc) != 0)
		return rc;
	if (!sub)
		return pl_usage_error("alarm", "a subcommand is required: alarm list NAME");
	struct kube_client *kc = NULL;
	const char *ns = NULL;
	if ((rc = live_connect(&o, &kc, &ns)) != 0)
		return rc;
	struct eo_err err;
	struct etcd_cluster *c = calloc(1, sizeof(*c));
	struct etcd_members *ms = calloc(1, sizeof(*ms));
	struct etcd_alarms *al = calloc(1, sizeof(*al));
	if (!c || !ms || !al) {
		rc = pl_fail("out of memory");
		goto out;
	}
	if (live_get_cluster(kc, ns, o.name, c, &rc) != 0)
		goto out;
	if (live_client_tls(c)) {
		rc = pl_fail("the alarms of \"%s\" cannot be read: client TLS is on, and the API "
			     "server's pods proxy cannot present the client certificate etcd asks "
			     "for (the member's status shows its alarms: kubectl etcd status %s)",
			     o.name, o.name);
		goto out;
	}
	char pods[ETCD_MAX_MEMBERS][64];
	int npods = live_pods(c, pods, ETCD_MAX_MEMBERS);
	const char *responder = NULL;
	for (int i = 0; i < npods && !responder; i++) {
		struct eo_buf b = {0};
		if (live_call(kc, ns, pods[i], LIVE_PORT_CLIENT, "POST", "/v3/maintenance/alarm",
			      "{\"action\":\"GET\"}", &b, &err) == 0 &&
		    etcd_parse_alarms(b.data, b.len, al, &err) == 0)
			responder = pods[i];
		else
			eo_err_prefix(&err, "%s: ", pods[i]);
		eo_buf_free(&b);
		if (responder) { /* names for the ids; without them the ids show */
			b = (struct eo_buf){0};
			struct eo_err e2;
			if (live_call(kc, ns, pods[i], LIVE_PORT_CLIENT, "POST", "/v3/cluster/member/list",
				      "{}", &b, &e2) != 0 ||
			    etcd_parse_members(b.data, b.len, ms, &e2) != 0)
				memset(ms, 0, sizeof(*ms));
			eo_buf_free(&b);
		}
	}
	if (!responder) {
		rc = pl_fail("no member of \"%s\" answered through the API server's pods proxy "
			     "(needs get/create on pods/proxy; where NetworkPolicies are enforced, the "
			     "API server must be let in to port 2379: docs/plugin.md): %s",
			     o.name, err.msg);
		goto out;
	}
	if (o.output) {
		json_object *doc = json_object_new_object();
		json_object_object_add(doc, "cluster", json_object_new_string(o.name));
		json_object_object_add(doc, "namespace", json_object_new_string(ns));
		json_object *arr = json_object_new_array();
		for (int i = 0; i < al->n; i++) {
			char buf[24], dec[21];
			json_object *j = json_object_new_object();
			etcd_id_dec(al->a[i].member_id, dec);
			json_object_object_add(j, "memberID", json_object_new_string(dec));
			json_object_object_add(j, "member", json_object_new_string(
				member_name(ms, al->a[i].member_id, buf, sizeof(buf))));
			json_object_object_add(j, "alarm", json_object_new_string(al->a[i].alarm));
			json_object_array_add(arr, j);
		}
		json_object_object_add(doc, "alarms", arr);
		rc = pl_print_doc(doc, o.output);
		json_object_put(doc);
		goto out;
	}
	struct eo_buf b = {0};
	if (al->n == 0) {
		eo_buf_printf(&b, "No alarms.\n");
	} else {
		static const char *const h[] = {"MEMBER", "ALARM"};
		struct pl_table *t = pl_table_new(2, h);
		for (int i = 0; t && i < al->n; i++) {
			char buf[24];
			const char *cells[2] = {member_name(ms, al->a[i].member_id, buf, sizeof(buf)),
						al->a[i].alarm};
			const char *colors[2] = {NULL, PL_RED};
			pl_table_add(t, cells, colors);
		}
		if (t)
			pl_table_render(t, "", pl_color(&o.g, stdout), &b);
		pl_table_free(t);
	}
	if (b.data)
		fwrite(b.data, 1, b.len, stdout);
	eo_buf_free(&b);
out:
	free(c);
	free(ms);
	free(al);
	kube_client_free(kc);
	return rc;
}
