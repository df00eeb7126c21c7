/*
 * version.c — `kubectl etcd version`: the plugin's version and the commit it
 * was built from, and, when a cluster is reachable, what the operator runs
 * there: the controller's and the webhook's image and how many replicas are
 * ready, read from their Deployments (manifests/controller, manifests/webhook).
 *
 * The one idea: version answers offline first. The plugin's own line never
 * waits for the network; the cluster's part is best effort with a short
 * deadline, and when it cannot be read the reason goes to stderr and the
 * exit status stays 0 (`--client` skips it), as an unreachable cluster says
 * nothing about the plugin's version.
 */
#include "plugin.h"
#include "version.h"

#include <string.h>

#include "json.h"
#include "term.h"
#include "yamljson.h"



static const struct kube_res DEPLOYMENTS = {"apps", "v1", "deployments", "Deployment", true};

struct version_opts {
	struct pl_global g;
	bool client;
	const char *output;
	const char *operator_ns;
};

static size_t flags_of(struct version_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("client", 0, CLI_BOOL, &o->client, NULL, "the plugin's version only: contact nothing"),
		CLI_FLAG("output", 'o', CLI_STR, &o->output, "FORMAT", "json or yaml"),
		CLI_FLAG("operator-namespace", 0, CLI_STR, &o->operator_ns, "NS",
			"where the controller and webhook run (" PL_OPERATOR_NS ")"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

size_t version_flags(struct pl_global *scratch, struct cli_flag *out, size_t max)
{
	static struct version_opts o;
	o.g = *scratch;
	return flags_of(&o, out, max);
}

json_object *version_component(json_object *deploy)
{
	json_object *c = json_object_new_object();
	json_object *containers = json_at(deploy, "spec.template.spec.containers");
	const char *image = "";
	if (containers && json_object_is_type(containers, json_type_array) &&
	    json_object_array_length(containers) > 0)
		image = json_opt_str(json_object_array_get_idx(containers, 0), "image", "");
	json_object_object_add(c, "image", json_object_new_string(image));
	/* The tag (or digest) names the version the image was published as. */
	const char *at = strrchr(image, '@'), *colon = strrchr(image, ':'),
		   *slash = strrchr(image, '/');
	const char *ver = at ? at + 1 : colon && (!slash || colon > slash) ? colon + 1 : "latest";
	json_object_object_add(c, "version", json_object_new_string(ver));
	json_object_object_add(c, "replicas",
			       json_object_new_int64(json_opt_int(deploy, "spec.replicas", 1)));
	json_object_object_add(c, "readyReplicas",
			       json_object_new_int64(json_opt_int(deploy, "status.readyReplicas", 0)));
	return c;
}

/* One Deployment's line (or its absence, with why) into doc[key]. */
static void component(struct kube_client *kc, const char *ns, const char *deploy_name,
		      const char *key, json_object *doc, struct eo_buf *text)
{
	json_object *d = NULL;
	struct eo_err err;
	int64_t t0 = eo_now_ms();
	int rc = kube_get(kc, &DEPLOYMENTS, ns, deploy_name, &d, &err);
	pl_log_call("GET", "deployment", t0, rc, &err);
	if (rc != 0) {
		json_object *c = json_object_new_object();
		char why[300];
		if (err.code == EO_HTTP_NOT_FOUND)
			snprintf(why, sizeof(why), "no Deployment %s/%s", ns, deploy_name);
		else
			snprintf(why, sizeof(why), "%s", err.msg);
		json_object_object_add(c, "error", json_object_new_string(why));
		json_object_object_add(doc, key, c);
		eo_buf_printf(text, "%-11s unknown: ", key);
		term_safe_append(text, why, 0);
		eo_buf_append(text, "\n", 1);
		return;
	}
	json_object *c = version_component(d);
	json_object_put(d);
	eo_buf_printf(text, "%-11s ", key);
	term_safe_append(text, json_opt_str(c, "version", ""), 0);
	eo_buf_printf(text, " (image ");
	term_safe_append(text, json_opt_str(c, "image", ""), 0);
	eo_buf_printf(text, ", %lld/%lld ready, %s/%s)\n", (long long)json_opt_int(c, "readyReplicas", 0),
		      (long long)json_opt_int(c, "replicas", 0), ns, deploy_name);
	json_object_object_add(doc, key, c);
}

int version_main(int argc, char **argv)
{
	struct version_opts o;
	memset(&o, 0, sizeof(o));
	pl_global_init(&o.g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = flags_of(&o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	struct eo_err err;
	if (cli_parse(argc, argv, flags, n, &p, &err) != 0)
		return pl_usage_error("version", "%s", err.msg);
	if (p.help) {
		pl_help(stdout, "version");
		return PL_EXIT_OK;
	}
	if (p.npos)
		return pl_usage_error("version", "unexpected argument \"%s\"", p.pos[0]);
	if (o.output && strcmp(o.output, "json") != 0 && strcmp(o.output, "yaml") != 0)
		return pl_usage_error("version", "unknown output format \"%s\": use -o json or -o yaml",
				      o.output);
	json_object *doc = json_object_new_object();
	json_object *pl = json_object_new_object();
	json_object_object_add(pl, "version", json_object_new_string(PL_VERSION));
	json_object_object_add(pl, "commit", json_object_new_string(EO_COMMIT));
	json_object_object_add(doc, "plugin", pl);
	struct eo_buf text = {0};
	eo_buf_printf(&text, "kubectl-etcd version %s (commit %s)\n", PL_VERSION, EO_COMMIT);
	int rc = PL_EXIT_OK;
	if (!o.client) {
		pl_setup_logging(&o.g);
		/* Best effort: a short deadline unless the user chose one. */
		if (o.g.request_timeout_ms <= 0)
			o.g.request_timeout_ms = 5000;
		struct kube_client *kc = NULL;
		if (pl_connect(&o.g, &kc, &err) != 0) {
			pl_warn("not connected, the operator's version is unknown: %s", err.msg);
		} else {
			const char *ns = o.operator_ns ? o.operator_ns : PL_OPERATOR_NS;
			component(kc, ns, "etcd-controller", "controller", doc, &text);
			component(kc, ns, "etcd-webhook", "webhook", doc, &text);
		}
		kube_client_free(kc);
	}
	if (o.output)
		rc = pl_print_doc(doc, o.output);
	else
		fwrite(text.data, 1, text.len, stdout);
	eo_buf_free(&text);
	json_object_put(doc);
	return rc;
}
