/*
 * members.c — `kubectl etcd members NAME`: the members as etcd itself lists
 * them right now (id, name, URLs, role, raft term and index, DB size in use
 * and allocated, version), not as the controller last published them.
 *
 * The one idea: one member list from any member that answers, then one
 * status from each started member, all through the API server's pods proxy
 * (live.c). With client TLS on the proxy cannot pass etcd's certificate
 * check, so the command says so on stderr and shows the controller's
 * published view (status.members) instead, marked as such.
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "live.h"
#include "render.h"
#include "term.h"
#include "yamljson.h"

size_t members_flags(struct live_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("output", 'o', CLI_STR, &o->output, "FORMAT",
			"wide (all URLs, applied index, errors), name, json, yaml or jsonpath=TEMPLATE"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int pl_print_doc(json_object *obj, const char *output)
{
	struct eo_buf b = {0};
	struct eo_err err;
	int rc = 0;
	if (strcmp(output, "json") == 0) {
		const char *text = json_object_to_json_string_ext(
			obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (term_json_append(&b, text) != 0 || eo_buf_append(&b, "\n", 1) != 0)
			rc = pl_fail("out of memory");
	} else if (yaml_emit(obj, &b, &err) != 0) {
		rc = pl_fail("cannot print YAML: %s", err.msg);
	}
	if (rc == 0 && b.data)
		fwrite(b.data, 1, b.len, stdout);
	eo_buf_free(&b);
	return rc;
}

int live_parse(const char *cmd, int argc, char **argv, struct live_opts *o,
	       size_t (*flags_of)(struct live_opts *, struct cli_flag *, size_t),
	       const char *const *formats, int *rc)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = flags_of(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	struct eo_err err;
	if (cli_parse(argc, argv, flags, n, &p, &err) != 0) {
		*rc = pl_usage_error(cmd, "%s", err.msg);
		return -1;
	}
	if (p.help) {
		pl_help(stdout, cmd);
		*rc = PL_EXIT_OK;
		return -1;
	}
	if (p.npos != 1) {
		*rc = pl_usage_error(cmd, "%s takes one cluster NAME, got %d arguments", cmd, p.npos);
		return -1;
	}
	o->name = p.pos[0];
	if (o->output) {
		bool ok = false;
		for (int i = 0; formats && formats[i]; i++) {
			/* "jsonpath" among the formats: -o jsonpath=TEMPLATE */
			bool jp = !strcmp(formats[i], "jsonpath");
			ok = ok || (!jp && strcmp(o->output, formats[i]) == 0);
			if (!ok && jp && !strncmp(o->output, "jsonpath", 8)) {
				if (pl_output_jsonpath(o->output, &o->jsonpath, &err) != 0) {
					*rc = pl_usage_error(cmd, "%s", err.msg);
					return -1;
				}
				ok = true;
			}
		}
		if (!ok) {
			*rc = pl_usage_error(cmd, "unknown output format \"%s\"", o->output);
			return -1;
		}
	}
	if (o->g.all_namespaces) {
		*rc = pl_usage_error(cmd, "a cluster NAME cannot be looked up across all namespaces: "
				     "drop -A/--all-namespaces and name the namespace with -n");
		return -1;
	}
	return 0;
}

int live_connect(struct live_opts *o, struct kube_client **kc, const char **ns)
{
	struct eo_err err;
	pl_setup_logging(&o->g);
	if (pl_connect(&o->g, kc, &err) != 0)
		return pl_fail("%s", err.msg);
	*ns = pl_namespace(*kc);
	return 0;
}

int members_main(int argc, char **argv)
{
	static const char *const formats[] = {"wide", "name", "json", "yaml", "jsonpath", NULL};
	struct live_opts o;
	int rc = PL_EXIT_OK;
	if (live_parse("members", argc, argv, &o, members_flags, formats, &rc) != 0)
		return rc;
	struct kube_client *kc = NULL;
	const char *ns = NULL;
	if ((rc = live_connect(&o, &kc, &ns)) != 0)
		return rc;
	struct eo_err err;
	struct etcd_cluster *c = calloc(1, sizeof(*c));
	struct live_view *v = calloc(1, sizeof(*v));
	if (!c || !v) {
		rc = pl_fail("out of memory");
		goto out;
	}
	if (live_get_cluster(kc, ns, o.name, c, &rc) != 0)
		goto out;
	if (live_client_tls(c)) {
		pl_warn("the live view of \"%s\" is unavailable: client TLS is on, and the API "
			"server's pods proxy cannot present the client certificate etcd asks for; "
			"showing the members as the controller last published them (status)", o.name);
		live_view_from_status(c, v);
	} else if (live_gather(kc, ns, c, v, &err) != 0) {
		rc = pl_fail("no member of \"%s\" answered through the API server's pods proxy "
			     "(needs get/create on pods/proxy; where NetworkPolicies are enforced, the "
			     "API server must be let in to port 2379: docs/plugin.md): %s",
			     o.name, err.msg);
		goto out;
	}
	if (o.jsonpath) {
		json_object *doc = live_members_json(v, ns, o.name);
		struct eo_buf b = {0};
		if (pl_jsonpath(o.jsonpath, doc, &b, &err) != 0)
			rc = pl_fail("%s", err.msg);
		else if (b.data)
			fwrite(b.data, 1, b.len, stdout);
		eo_buf_free(&b);
		json_object_put(doc);
	} else if (o.output && (!strcmp(o.output, "json") || !strcmp(o.output, "yaml"))) {
		json_object *doc = live_members_json(v, ns, o.name);
		rc = pl_print_doc(doc, o.output);
		json_object_put(doc);
	} else if (o.output && !strcmp(o.output, "name")) {
		struct eo_buf b = {0};
		for (int i = 0; i < v->n; i++)
			if (v->m[i].m.name[0])
				(void)(eo_buf_printf(&b, "member/") |
				       term_safe_append(&b, v->m[i].m.name, 0) |
				       eo_buf_append(&b, "\n", 1));
		if (b.data)
			fwrite(b.data, 1, b.len, stdout);
		eo_buf_free(&b);
	} else {
		struct eo_buf b = {0};
		if (v->n == 0)
			eo_buf_printf(&b, "No members known for etcdcluster \"%s\" yet.\n", o.name);
		else if (live_render_members(v, o.output != NULL, pl_color(&o.g, stdout), &b) != 0)
			rc = pl_fail("out of memory");
		if (rc == 0 && b.data)
			fwrite(b.data, 1, b.len, stdout);
		eo_buf_free(&b);
	}
out:
	free(c);
	free(v);
	kube_client_free(kc);
	return rc;
}
