/*
 * resources_pod.c — what spec.pod and spec.etcd.extraArgs make of the member
 * Pods' template (resources.c builds the rest). Pure: no I/O.
 *
 * The one idea: the knobs are laid over the template the operator builds —
 * the operator's own labels, annotations and containers' settings win — and
 * the template carries their hash (EC_ANN_POD_SPEC), so a change is one
 * comparison for the roll, and a template from before the change is made
 * again whole (res_sts_sync_template) rather than patched field by field.
 */
#include "resources.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "scaling.h"

static json_object *str(const char *s) { return json_object_new_string(s); }

/* spec.etcd.extraArgs, for the init step to write into etcd's
 * configuration file (etcd ignores its command line when it reads one). */
void res_extra_args(const struct etcd_cluster *c, json_object *argv)
{
	for (int i = 0; i < c->spec.pod.nextra_args; i++) {
		char a[sizeof(RES_ARG_ETCD) + 2 * sizeof(c->spec.pod.extra_args[i].value)];
		snprintf(a, sizeof(a), RES_ARG_ETCD "%s=%s", c->spec.pod.extra_args[i].name,
			 c->spec.pod.extra_args[i].value);
		json_object_array_add(argv, str(a));
	}
}

/* Add what m has that dst lacks: the operator's own keys win. */
static void merge_missing(json_object *dst, json_object *m)
{
	if (!m || !json_object_is_type(m, json_type_object))
		return;
	json_object_object_foreach(m, k, v) {
		if (!json_object_object_get_ex(dst, k, NULL))
			json_object_object_add(dst, k, json_object_get(v));
	}
}

/* spec.pod onto the template (cluster.h): the etcd container's resources
 * replaced, affinity replacing the default spread, the rest added; and the
 * hash the roll compares (EC_ANN_POD_SPEC) when anything is asked. */
void res_pod_knobs(const struct etcd_cluster *c, json_object *tmeta, json_object *pod,
		   json_object *etcd)
{
	char rev[24];
	cluster_pod_revision(c, rev, sizeof(rev));
	if (rev[0])
		json_object_object_add(json_at(tmeta, "annotations"), EC_ANN_POD_SPEC, str(rev));
	if (!c->spec.pod.json[0])
		return;
	json_object *knobs = json_tokener_parse(c->spec.pod.json);
	if (!knobs)
		return; /* cluster_parse wrote it from a parsed object: cannot happen */
	json_object_object_foreach(knobs, k, v) {
		if (json_object_is_type(v, json_type_null))
			continue;
		if (strcmp(k, "resources") == 0)
			json_object_object_add(etcd, "resources", json_object_get(v));
		else if (strcmp(k, "labels") == 0)
			merge_missing(json_at(tmeta, "labels"), v);
		else if (strcmp(k, "annotations") == 0)
			merge_missing(json_at(tmeta, "annotations"), v);
		else /* nodeSelector, tolerations, affinity, priorityClassName */
			json_object_object_add(pod, k, json_object_get(v));
	}
	json_object_put(knobs);
}

/* The observed template's SC_ANN_REVISION (a CA rotation's), kept across a
 * rebuild: it is the rotation's to change, not the spec's. */
#define REVISION_ANN_PATH "spec.template.metadata.annotations[" SC_ANN_REVISION "]"

bool res_sts_sync_template(json_object *sts, const struct etcd_cluster *c,
			   const struct res_opts *opts)
{
	char rev[24];
	cluster_pod_revision(c, rev, sizeof(rev));
	const char *have = json_opt_str(sts, "spec.template.metadata.annotations[" EC_ANN_POD_SPEC "]",
					"");
	if (strcmp(have, rev) == 0)
		return false;
	json_object *fresh = res_statefulset(c, 1, res_sts_bootstrap(sts), opts);
	json_object *tmpl = json_at(fresh, "spec.template");
	const char *revision = json_opt_str(sts, REVISION_ANN_PATH, NULL);
	if (revision)
		json_object_object_add(json_at(tmpl, "metadata.annotations"), SC_ANN_REVISION,
				       str(revision));
	json_object_object_add(json_at(sts, "spec"), "template", json_object_get(tmpl));
	json_object_put(fresh);
	return true;
}
