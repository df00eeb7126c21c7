/* Invariants of manifests/: every YAML parses, and the properties the
 * project promises (DESIGN §3, §5, §8) hold in the files people apply —
 * no wildcard in RBAC, the validating hook fails closed within 5 s, both
 * etcdclusters and etcdclusters/scale are registered, the Pods are locked
 * down, the CRD agrees with cluster.h, and each kustomization lists exactly
 * the files beside it. Run from the repository root (test/run.sh does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <libgen.h>
#include <sys/stat.h>

#include "../../controller/resources.h"
#include "../helpers/pss.h"
#include "cluster.h"
#include "json.h"
#include "yamljson.h"

struct doc {
	char path[256];
	json_object *obj; /* owned through the file's docs array */
};

static struct doc docs[256];
static size_t ndocs;
static json_object **files_docs[64];
static size_t files_ndocs[64];
static size_t nfiles;

static int load_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	size_t n = strlen(path);
	if (flag != FTW_F || n < 5 || strcmp(path + n - 5, ".yaml") != 0)
		return 0;
	char *text = NULL;
	size_t len = 0;
	struct eo_err err = {0};
	if (eo_read_file(path, 1 << 20, &text, &len, &err) != 0)
		fail_msg("%s", err.msg);
	json_object **d = NULL;
	size_t nd = 0;
	if (yaml_parse_docs(text, len, path, &d, &nd, &err) != 0)
		fail_msg("%s", err.msg);
	free(text);
	assert_true(nfiles < EO_ARRAY_LEN(files_docs));
	files_docs[nfiles] = d;
	files_ndocs[nfiles++] = nd;
	for (size_t i = 0; i < nd; i++) {
		assert_true(ndocs < EO_ARRAY_LEN(docs));
		eo_strlcpy(docs[ndocs].path, path, sizeof(docs[ndocs].path));
		docs[ndocs++].obj = d[i];
	}
	return 0;
}

static int setup(void **state)
{
	if (nftw("manifests", load_one, 16, FTW_PHYS) != 0)
		fail_msg("cannot walk manifests/ (run from the repository root)");
	return 0;
}

static int teardown(void **state)
{
	for (size_t i = 0; i < nfiles; i++)
		yaml_docs_free(files_docs[i], files_ndocs[i]);
	return 0;
}

static const char *kind_of(json_object *o) { return json_opt_str(o, "kind", ""); }
static const char *name_of(json_object *o) { return json_opt_str(o, "metadata.name", ""); }

static json_object *find(const char *kind, const char *name)
{
	for (size_t i = 0; i < ndocs; i++)
		if (!strcmp(kind_of(docs[i].obj), kind) && (!name || !strcmp(name_of(docs[i].obj), name)))
			return docs[i].obj;
	fail_msg("no %s %s in manifests/", kind, name ? name : "");
	return NULL;
}

static bool arr_has(json_object *arr, const char *s)
{
	size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return true;
	return false;
}

static size_t len_of(json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

static void test_every_document_is_an_object(void **state)
{
	assert_true(ndocs >= 20);
	for (size_t i = 0; i < ndocs; i++) {
		json_object *o = docs[i].obj;
		if (!strstr(docs[i].path, "kustomization.yaml")) {
			if (!*json_opt_str(o, "apiVersion", "") || !*kind_of(o) || !*name_of(o))
				fail_msg("%s: a document without apiVersion, kind or metadata.name", docs[i].path);
		}
	}
}

static void test_rbac_has_no_wildcards(void **state)
{
	int roles = 0;
	const char *fields[] = {"verbs", "resources", "apiGroups", "resourceNames", "nonResourceURLs"};
	for (size_t i = 0; i < ndocs; i++) {
		json_object *o = docs[i].obj;
		if (strcmp(kind_of(o), "ClusterRole") && strcmp(kind_of(o), "Role"))
			continue;
		roles++;
		json_object *rules = json_at(o, "rules");
		assert_true(len_of(rules) > 0);
		for (size_t r = 0; r < len_of(rules); r++) {
			json_object *rule = json_object_array_get_idx(rules, r);
			for (size_t f = 0; f < EO_ARRAY_LEN(fields); f++) {
				json_object *a = json_at(rule, fields[f]);
				for (size_t k = 0; k < len_of(a); k++) {
					const char *v = json_object_get_string(json_object_array_get_idx(a, k));
					if (strchr(v, '*') || !strcmp(v, "escalate") || !strcmp(v, "bind") ||
					    !strcmp(v, "impersonate"))
						fail_msg("%s: %s rule %zu: %s \"%s\"", docs[i].path, name_of(o), r,
							 fields[f], v);
				}
			}
		}
	}
	assert_int_equal(roles, 5); /* controller, leader election, three plugin roles */
}

/* The rule in a role that grants verb on group/resource. */
static bool grants(json_object *role, const char *group, const char *resource, const char *verb)
{
	json_object *rules = json_at(role, "rules");
	for (size_t r = 0; r < len_of(rules); r++) {
		json_object *rule = json_object_array_get_idx(rules, r);
		if (arr_has(json_at(rule, "apiGroups"), group) && arr_has(json_at(rule, "resources"), resource) &&
		    arr_has(json_at(rule, "verbs"), verb))
			return true;
	}
	return false;
}

static void test_controller_rbac(void **state)
{
	json_object *cr = find("ClusterRole", "etcd-operator-controller");
	assert_true(grants(cr, EC_GROUP, "etcdclusters", "watch"));
	assert_true(grants(cr, EC_GROUP, "etcdclusters", "patch"));
	assert_false(grants(cr, EC_GROUP, "etcdclusters", "delete"));
	assert_true(grants(cr, EC_GROUP, "etcdclusters/status", "update"));
	assert_true(grants(cr, "apps", "statefulsets", "create"));
	/* the voter label on Pods is a patch; the only Pod the controller makes
	 * is a cluster's restore Pod (backup_pod.c); it deletes that one, and a
	 * member's Pod only when the guard refuses etcd there and the member is
	 * gone (reconcile.c, SC_DELETE_POD) */
	assert_true(grants(cr, "", "pods", "patch"));
	assert_true(grants(cr, "", "pods", "create"));
	assert_false(grants(cr, "", "pods", "deletecollection"));
	assert_true(grants(cr, EC_GROUP, "etcdbackups/status", "patch"));
	assert_false(grants(cr, EC_GROUP, "etcdbackups", "delete"));
	assert_true(grants(cr, "", "persistentvolumeclaims", "delete"));
	assert_true(grants(cr, "policy", "poddisruptionbudgets", "create"));
	assert_true(grants(cr, "", "events", "create"));
	assert_true(grants(cr, "", "secrets", "get")); /* backup_ctl.c: S3 credentials */
	/* TLS Secrets by name (controller/tls.c): never listed, never deleted
	 * (the EtcdCluster's ownerReference takes them away) */
	assert_false(grants(cr, "", "secrets", "list"));
	assert_false(grants(cr, "", "secrets", "delete"));
	json_object *role = find("Role", "etcd-operator-leader-election");
	assert_string_equal(json_opt_str(role, "metadata.namespace", ""), "etcd-operator-system");
	assert_true(grants(role, "coordination.k8s.io", "leases", "update"));
	json_object *viewer = find("ClusterRole", "etcd-operator-plugin-viewer");
	assert_true(grants(viewer, EC_GROUP, "etcdclusters", "list"));
	assert_false(grants(viewer, EC_GROUP, "etcdclusters", "patch"));
	json_object *scaler = find("ClusterRole", "etcd-operator-plugin-scaler");
	assert_true(grants(scaler, EC_GROUP, "etcdclusters", "patch"));
	assert_false(grants(scaler, EC_GROUP, "etcdclusters", "delete"));
	/* kubectl etcd backup / restore / backups */
	assert_true(grants(scaler, EC_GROUP, "etcdbackups", "create"));
	assert_true(grants(scaler, EC_GROUP, "etcdclusters", "create"));
	assert_true(grants(viewer, EC_GROUP, "etcdbackups", "list"));
	assert_false(grants(viewer, EC_GROUP, "etcdbackups", "create"));
	assert_false(grants(scaler, "", "secrets", "get"));
	/* kubectl etcd members / health / alarm list: etcd through the pods
	 * proxy; in a role of its own, never in the viewer (aggregated to view) */
	json_object *live = find("ClusterRole", "etcd-operator-plugin-live");
	assert_true(grants(live, "", "pods/proxy", "create"));
	assert_true(grants(live, "", "pods/proxy", "get"));
	assert_false(grants(viewer, "", "pods/proxy", "get"));
	assert_false(json_object_object_get_ex(json_at(live, "metadata.labels"),
					       "rbac.authorization.k8s.io/aggregate-to-view", NULL));
	/* the webhook needs no API access at all */
	json_object *sa = find("ServiceAccount", "etcd-webhook");
	assert_false(json_opt_bool(sa, "automountServiceAccountToken", true));
}

/*
 * Every API call the controller makes, as (apiGroup, resource, verb), read
 * off the code once (grep kube_get/list/create/update/patch/delete and
 * kube_informer_run in controller/) and written down here; the RBAC in
 * manifests/ must grant exactly these — a verb the code stopped using, or a
 * call added without its permission, fails this test. The webhook makes
 * none (DESIGN §5) and must be bound to nothing.
 */
struct grant {
	const char *group, *resource, *verb;
};

static const struct grant controller_calls[] = {
	{EC_GROUP, "etcdclusters", "get"},      /* reconcile.c: rec_reconcile reads the object */
	{EC_GROUP, "etcdclusters", "list"},     /* main.c: informer */
	{EC_GROUP, "etcdclusters", "watch"},    /* main.c: informer */
	{EC_GROUP, "etcdclusters", "patch"},    /* reconcile.c: SC_PATCH_REPLICAS, SC_DROP_TARGET */
	{EC_GROUP, "etcdclusters/status", "update"}, /* reconcile.c: publish */
	/* not a call: kube-apiserver's OwnerReferencesPermissionEnforcement asks
	 * for it on each create of an object whose ownerReference (res_owner_ref)
	 * sets blockOwnerDeletion */
	{EC_GROUP, "etcdclusters/finalizers", "update"},
	{"apps", "statefulsets", "get"},        /* observe.c */
	{"apps", "statefulsets", "list"},       /* main.c: informer */
	{"apps", "statefulsets", "watch"},
	{"apps", "statefulsets", "create"},     /* reconcile.c: create_missing */
	{"apps", "statefulsets", "update"},     /* reconcile.c: sync_owned image, bootstrap_off (older template) */
	{"apps", "statefulsets", "patch"},      /* reconcile.c: SC_RAISE/LOWER_STS, bootstrap_off */
	{"", "services", "get"},                /* observe.c: peer and client Service */
	{"", "services", "list"},               /* main.c: informer */
	{"", "services", "watch"},
	{"", "services", "create"},             /* reconcile.c: create_missing */
	{"policy", "poddisruptionbudgets", "get"},    /* observe.c */
	{"policy", "poddisruptionbudgets", "list"},   /* main.c: informer */
	{"policy", "poddisruptionbudgets", "watch"},
	{"policy", "poddisruptionbudgets", "create"}, /* reconcile.c: create_missing */
	{"policy", "poddisruptionbudgets", "patch"},  /* reconcile.c: sync_owned maxUnavailable */
	{"networking.k8s.io", "networkpolicies", "get"},    /* reconcile.c: sync_network_policy */
	{"networking.k8s.io", "networkpolicies", "create"},
	{"networking.k8s.io", "networkpolicies", "patch"},
	{"", "pods", "list"},                   /* observe.c, main.c informer */
	{"", "pods", "watch"},
	{"", "pods", "patch"},                  /* reconcile.c: voter label, bootstrap off */
	{"", "pods", "get"},                    /* backup_pod.c: the restore Pod, by name */
	{"", "pods", "create"},                 /* backup_pod.c: the restore Pod */
	{"", "pods", "delete"},                 /* backup_pod.c: the restore Pod when done;
						   reconcile.c: SC_DELETE_POD, a Pod the guard
						   refuses whose member is gone */
	{"", "persistentvolumeclaims", "create"}, /* backup_pod.c: member 0's claim, restored into */
	{EC_GROUP, "etcdbackups", "get"},       /* backup_ctl.c: each pass; backup_pod.c: rs_gate */
	{EC_GROUP, "etcdbackups", "list"},      /* main.c: informer */
	{EC_GROUP, "etcdbackups", "watch"},
	{EC_GROUP, "etcdbackups/status", "patch"}, /* backup_ctl.c: status, progress */
	{"", "persistentvolumeclaims", "list"}, /* observe.c, main.c informer */
	{"", "persistentvolumeclaims", "watch"},
	{"", "persistentvolumeclaims", "delete"}, /* reconcile.c: SC_DELETE_PVC */
	{"", "persistentvolumeclaims", "patch"},  /* volumes.c: expanded to spec.storage.size */
	{"storage.k8s.io", "storageclasses", "get"}, /* volumes.c: allowVolumeExpansion */
	{"", "events", "create"},               /* events.c: ev_emit */
	{"", "secrets", "get"},                 /* backup_ctl.c: the S3 credentials; tls.c */
	{"", "secrets", "create"},              /* tls.c: mode Auto's CA and certificates */
	{"", "secrets", "update"},              /* tls.c: a certificate renewed in place */
};

static const struct grant leader_calls[] = {
	{"coordination.k8s.io", "leases", "get"},    /* leader.c: read, release */
	{"coordination.k8s.io", "leases", "create"}, /* leader.c: the first holder makes it */
	{"coordination.k8s.io", "leases", "update"}, /* leader.c: renew, take over, release */
};

static bool listed(const struct grant *want, size_t n, const char *g, const char *r, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(want[i].group, g) && !strcmp(want[i].resource, r) && !strcmp(want[i].verb, v))
			return true;
	return false;
}

static void expect_exactly(json_object *role, const struct grant *want, size_t n)
{
	json_object *rules = json_at(role, "rules");
	for (size_t r = 0; r < len_of(rules); r++) {
		json_object *rule = json_object_array_get_idx(rules, r);
		if (json_at(rule, "resourceNames") || json_at(rule, "nonResourceURLs"))
			fail_msg("%s rule %zu: resourceNames/nonResourceURLs the code does not need",
				 name_of(role), r);
		json_object *gs = json_at(rule, "apiGroups"), *rs = json_at(rule, "resources"),
			    *vs = json_at(rule, "verbs");
		for (size_t a = 0; a < len_of(gs); a++)
			for (size_t b = 0; b < len_of(rs); b++)
				for (size_t c = 0; c < len_of(vs); c++) {
					const char *g = json_object_get_string(json_object_array_get_idx(gs, a));
					const char *res = json_object_get_string(json_object_array_get_idx(rs, b));
					const char *v = json_object_get_string(json_object_array_get_idx(vs, c));
					if (!listed(want, n, g, res, v))
						fail_msg("%s grants %s \"%s\" %s, which the code never does",
							 name_of(role), v, g, res);
				}
	}
	for (size_t i = 0; i < n; i++)
		if (!grants(role, want[i].group, want[i].resource, want[i].verb))
			fail_msg("%s does not grant %s \"%s\" %s, which the code does", name_of(role),
				 want[i].verb, want[i].group, want[i].resource);
}

/* The (Cluster)RoleBindings naming the ServiceAccount sa, and of which role. */
static int bindings_of(const char *sa, const char *role_kind, const char *role_name)
{
	int n = 0;
	for (size_t i = 0; i < ndocs; i++) {
		json_object *o = docs[i].obj;
		if (strcmp(kind_of(o), "RoleBinding") && strcmp(kind_of(o), "ClusterRoleBinding"))
			continue;
		json_object *subs = json_at(o, "subjects");
		for (size_t k = 0; k < len_of(subs); k++) {
			json_object *sub = json_object_array_get_idx(subs, k);
			if (strcmp(json_opt_str(sub, "kind", ""), "ServiceAccount") ||
			    strcmp(json_opt_str(sub, "name", ""), sa))
				continue;
			if (!role_kind || (!strcmp(json_opt_str(o, "roleRef.kind", ""), role_kind) &&
					   !strcmp(json_opt_str(o, "roleRef.name", ""), role_name)))
				n++;
		}
	}
	return n;
}

static void test_rbac_is_exactly_what_the_code_uses(void **state)
{
	expect_exactly(find("ClusterRole", "etcd-operator-controller"), controller_calls,
		       EO_ARRAY_LEN(controller_calls));
	expect_exactly(find("Role", "etcd-operator-leader-election"), leader_calls,
		       EO_ARRAY_LEN(leader_calls));
	assert_int_equal(bindings_of("etcd-controller", "ClusterRole", "etcd-operator-controller"), 1);
	assert_int_equal(bindings_of("etcd-controller", "Role", "etcd-operator-leader-election"), 1);
	assert_int_equal(bindings_of("etcd-controller", NULL, NULL), 2);
	assert_int_equal(bindings_of("etcd-webhook", NULL, NULL), 0);
}

static void check_hook_common(json_object *h, const char *path)
{
	int64_t timeout = json_opt_int(h, "timeoutSeconds", 10);
	assert_true(timeout >= 1 && timeout <= 5);
	assert_string_equal(json_opt_str(h, "sideEffects", ""), "None");
	assert_string_equal(json_opt_str(h, "failurePolicy", ""), "Fail");
	assert_string_equal(json_opt_str(h, "matchPolicy", ""), "Equivalent");
	assert_true(arr_has(json_at(h, "admissionReviewVersions"), "v1"));
	assert_string_equal(json_opt_str(h, "clientConfig.service.name", ""), "etcd-webhook");
	assert_string_equal(json_opt_str(h, "clientConfig.service.namespace", ""), "etcd-operator-system");
	assert_string_equal(json_opt_str(h, "clientConfig.service.path", ""), path);
	assert_int_equal(json_opt_int(h, "clientConfig.service.port", 0), 443);
	assert_null(json_at(h, "clientConfig.caBundle")); /* injected, never committed */
	json_object *me = json_at(h, "namespaceSelector.matchExpressions[0]");
	assert_string_equal(json_opt_str(me, "key", ""), "kubernetes.io/metadata.name");
	assert_string_equal(json_opt_str(me, "operator", ""), "NotIn");
	assert_true(arr_has(json_at(me, "values"), "kube-system"));
	assert_true(arr_has(json_at(me, "values"), "etcd-operator-system"));
}

/* Operations registered for group/resource across a hook's rules. */
static bool registered(json_object *h, const char *resource, const char *op)
{
	json_object *rules = json_at(h, "rules");
	for (size_t r = 0; r < len_of(rules); r++) {
		json_object *rule = json_object_array_get_idx(rules, r);
		if (arr_has(json_at(rule, "apiGroups"), EC_GROUP) &&
		    arr_has(json_at(rule, "apiVersions"), EC_VERSION) &&
		    arr_has(json_at(rule, "resources"), resource) && arr_has(json_at(rule, "operations"), op))
			return true;
	}
	return false;
}

static void test_webhook_configurations(void **state)
{
	json_object *v = find("ValidatingWebhookConfiguration", "etcd-operator-validating");
	assert_int_equal(len_of(json_at(v, "webhooks")), 1);
	json_object *vh = json_at(v, "webhooks[0]");
	assert_string_equal(json_opt_str(vh, "name", ""), "validate.etcd.k8s-operator.io");
	check_hook_common(vh, "/validate");
	assert_true(registered(vh, "etcdclusters", "CREATE"));
	assert_true(registered(vh, "etcdclusters", "UPDATE"));
	assert_true(registered(vh, "etcdclusters", "DELETE"));
	assert_true(registered(vh, "etcdclusters/scale", "UPDATE"));

	json_object *m = find("MutatingWebhookConfiguration", "etcd-operator-mutating");
	assert_int_equal(len_of(json_at(m, "webhooks")), 1);
	json_object *mh = json_at(m, "webhooks[0]");
	assert_string_equal(json_opt_str(mh, "name", ""), "mutate.etcd.k8s-operator.io");
	check_hook_common(mh, "/mutate");
	assert_string_equal(json_opt_str(mh, "reinvocationPolicy", ""), "IfNeeded");
	assert_true(registered(mh, "etcdclusters", "CREATE"));
	assert_true(registered(mh, "etcdclusters", "UPDATE"));
	/* a Scale cannot carry the target annotation: never staged, only validated */
	assert_false(registered(mh, "etcdclusters/scale", "UPDATE"));

	/* the Service they call leads to the webhook's port */
	json_object *svc = find("Service", "etcd-webhook");
	assert_int_equal(json_opt_int(svc, "spec.ports[0].port", 0), 443);
	const char *target = json_opt_str(svc, "spec.ports[0].targetPort", "");
	json_object *dep = find("Deployment", "etcd-webhook");
	assert_string_equal(json_opt_str(dep, "spec.template.spec.containers[0].ports[0].name", ""), target);
	assert_int_equal(json_opt_int(dep, "spec.template.spec.containers[0].ports[0].containerPort", 0), 9443);
}

static void check_pod(json_object *dep, const char *binary)
{
	json_object *pod = json_at(dep, "spec.template.spec");
	char why[256];
	if (pss_restricted(pod, why, sizeof(why)) != 0)
		fail_msg("%s: a namespace enforcing Pod Security restricted would refuse it: %s",
			 name_of(dep), why);
	assert_true(json_opt_bool(pod, "securityContext.runAsNonRoot", false));
	assert_true(json_opt_int(pod, "securityContext.runAsUser", 0) > 0);
	assert_string_equal(json_opt_str(pod, "securityContext.seccompProfile.type", ""), "RuntimeDefault");
	assert_non_null(json_at(pod, "affinity.podAntiAffinity"));
	json_object *c = json_at(pod, "containers[0]");
	assert_int_equal(len_of(json_at(pod, "containers")), 1);
	assert_string_equal(json_opt_str(c, "image", ""), EC_OPERATOR_IMAGE);
	assert_string_equal(json_opt_str(c, "command[0]", ""), binary);
	assert_true(json_opt_bool(c, "securityContext.readOnlyRootFilesystem", false));
	assert_false(json_opt_bool(c, "securityContext.allowPrivilegeEscalation", true));
	assert_true(arr_has(json_at(c, "securityContext.capabilities.drop"), "ALL"));
	const char *res[] = {"resources.requests.cpu", "resources.requests.memory", "resources.limits.cpu",
			     "resources.limits.memory", "readinessProbe.httpGet.path",
			     "livenessProbe.httpGet.path"};
	for (size_t i = 0; i < EO_ARRAY_LEN(res); i++)
		if (!json_at(c, res[i]))
			fail_msg("%s: container %s has no %s", name_of(dep), json_opt_str(c, "name", ""), res[i]);
}

static void test_deployments(void **state)
{
	json_object *w = find("Deployment", "etcd-webhook");
	check_pod(w, "/usr/local/bin/etcd-webhook");
	assert_true(json_opt_int(w, "spec.replicas", 0) >= 2);
	json_object *pod = json_at(w, "spec.template.spec");
	assert_false(json_opt_bool(pod, "automountServiceAccountToken", true));
	assert_string_equal(json_opt_str(pod, "containers[0].readinessProbe.httpGet.scheme", ""), "HTTPS");
	assert_string_equal(json_opt_str(pod, "containers[0].readinessProbe.httpGet.path", ""), "/readyz");
	assert_string_equal(json_opt_str(pod, "containers[0].livenessProbe.httpGet.path", ""), "/healthz");
	json_object *args = json_at(pod, "containers[0].args");
	assert_true(arr_has(args, "--tls-cert-file=/etc/etcd-webhook/tls/tls.crt"));
	assert_true(arr_has(args, "--tls-private-key-file=/etc/etcd-webhook/tls/tls.key"));
	assert_true(arr_has(args, "--secure-port=9443"));
	assert_string_equal(json_opt_str(pod, "containers[0].volumeMounts[0].mountPath", ""), "/etc/etcd-webhook/tls");
	assert_string_equal(json_opt_str(pod, "volumes[0].secret.secretName", ""), "etcd-webhook-tls");

	json_object *pdb = find("PodDisruptionBudget", "etcd-webhook");
	assert_int_equal(json_opt_int(pdb, "spec.minAvailable", 0), 1);
	assert_true(json_object_equal(json_at(pdb, "spec.selector"), json_at(w, "spec.selector")));

	json_object *c = find("Deployment", "etcd-controller");
	check_pod(c, "/usr/local/bin/etcd-controller");
	assert_int_equal(json_opt_int(c, "spec.replicas", 0), 2);
	json_object *cargs = json_at(c, "spec.template.spec.containers[0].args");
	assert_true(arr_has(cargs, "--leader-elect"));
	assert_true(arr_has(cargs, "--health-addr=:8081"));
	assert_true(arr_has(cargs, "--metrics-addr=:8080"));
	assert_string_equal(json_opt_str(c, "spec.template.spec.serviceAccountName", ""), "etcd-controller");
}

/* Each port a policy opens is a port the Pods serve; nothing else is open. */
static void check_policy_ports(json_object *np, json_object *dep, const int *want, size_t n)
{
	assert_true(json_object_equal(json_at(np, "spec.podSelector.matchLabels"),
				      json_at(dep, "spec.selector.matchLabels")));
	size_t seen = 0;
	json_object *rules = json_at(np, "spec.ingress");
	for (size_t r = 0; r < len_of(rules); r++) {
		json_object *ports = json_at(json_object_array_get_idx(rules, r), "ports");
		assert_true(len_of(ports) > 0); /* a rule without ports opens every port */
		for (size_t p = 0; p < len_of(ports); p++) {
			json_object *port = json_object_array_get_idx(ports, p);
			assert_string_equal(json_opt_str(port, "protocol", ""), "TCP");
			int64_t num = json_opt_int(port, "port", 0);
			bool ok = false;
			for (size_t i = 0; i < n; i++)
				ok |= num == want[i];
			if (!ok)
				fail_msg("%s opens port %lld, which it should not", name_of(np), (long long)num);
			seen++;
		}
	}
	assert_int_equal(seen, n);
	json_object *cports = json_at(dep, "spec.template.spec.containers[0].ports");
	assert_int_equal(len_of(cports), n);
	for (size_t i = 0; i < len_of(cports); i++) {
		int64_t cp = json_opt_int(json_object_array_get_idx(cports, i), "containerPort", 0);
		bool ok = false;
		for (size_t k = 0; k < n; k++)
			ok |= cp == want[k];
		if (!ok)
			fail_msg("%s serves port %lld that its NetworkPolicy closes", name_of(dep), (long long)cp);
	}
}

static void test_network_policies(void **state)
{
	json_object *w = find("NetworkPolicy", "etcd-webhook");
	assert_string_equal(json_opt_str(w, "metadata.namespace", ""), "etcd-operator-system");
	const int wports[] = {9443};
	check_policy_ports(w, find("Deployment", "etcd-webhook"), wports, 1);
	/* 9443 from any source: kube-apiserver is often not Pod traffic */
	assert_null(json_at(w, "spec.ingress[0].from"));
	/* no egress at all: the webhook makes no calls */
	assert_true(arr_has(json_at(w, "spec.policyTypes"), "Egress"));
	assert_int_equal(len_of(json_at(w, "spec.egress")), 0);
	assert_non_null(json_at(w, "spec.egress"));

	json_object *c = find("NetworkPolicy", "etcd-controller");
	assert_string_equal(json_opt_str(c, "metadata.namespace", ""), "etcd-operator-system");
	const int cports[] = {8080, 8081};
	check_policy_ports(c, find("Deployment", "etcd-controller"), cports, 2);
	/* the members' policy finds the controller by these (resources.h) */
	json_object *dep = find("Deployment", "etcd-controller");
	assert_string_equal(json_opt_str(dep, "spec.template.metadata.labels[" RES_CONTROLLER_LABEL "]", ""),
			    RES_CONTROLLER_NAME);
	assert_string_equal(json_opt_str(dep, "metadata.namespace", ""), RES_CONTROLLER_NAMESPACE);
	json_object *env = json_at(dep, "spec.template.spec.containers[0].env");
	bool pod_ns = false;
	for (size_t i = 0; i < len_of(env); i++) {
		json_object *e = json_object_array_get_idx(env, i);
		pod_ns |= !strcmp(json_opt_str(e, "name", ""), "POD_NAMESPACE") &&
			  !strcmp(json_opt_str(e, "valueFrom.fieldRef.fieldPath", ""), "metadata.namespace");
	}
	assert_true(pod_ns);
}

static void test_crd_matches_cluster_h(void **state)
{
	json_object *crd = find("CustomResourceDefinition", EC_PLURAL "." EC_GROUP);
	assert_string_equal(json_opt_str(crd, "spec.group", ""), EC_GROUP);
	assert_string_equal(json_opt_str(crd, "spec.names.kind", ""), EC_KIND);
	assert_string_equal(json_opt_str(crd, "spec.names.plural", ""), EC_PLURAL);
	assert_string_equal(json_opt_str(crd, "spec.scope", ""), "Namespaced");
	assert_false(arr_has(json_at(crd, "spec.names.shortNames"), "etcd"));
	json_object *v = json_at(crd, "spec.versions[0]");
	assert_string_equal(json_opt_str(v, "name", ""), EC_VERSION);
	assert_true(json_opt_bool(v, "served", false) && json_opt_bool(v, "storage", false));
	assert_non_null(json_at(v, "subresources.status"));
	assert_string_equal(json_opt_str(v, "subresources.scale.specReplicasPath", ""), ".spec.replicas");
	assert_string_equal(json_opt_str(v, "subresources.scale.statusReplicasPath", ""), ".status.replicas");
	assert_string_equal(json_opt_str(v, "subresources.scale.labelSelectorPath", ""), ".status.selector");
	json_object *spec = json_at(v, "schema.openAPIV3Schema.properties.spec.properties");
	assert_int_equal(json_opt_int(spec, "replicas.minimum", 0), EC_MIN_REPLICAS);
	assert_int_equal(json_opt_int(spec, "replicas.maximum", 0), EC_MAX_REPLICAS);
	assert_int_equal(json_opt_int(spec, "replicas.default", 0), EC_DEFAULT_REPLICAS);
	assert_string_equal(json_opt_str(spec, "version.default", ""), EC_DEFAULT_VERSION);
	assert_string_equal(json_opt_str(spec, "storage.properties.size.default", ""), EC_DEFAULT_STORAGE);
	assert_string_equal(json_opt_str(spec, "clusterDomain.default", ""), EC_DEFAULT_DOMAIN);
	/* the CEL rules, in the two shapes the test bed evaluates */
	assert_string_equal(json_opt_str(spec, "clusterDomain.x-kubernetes-validations[0].rule", ""),
			    "self == oldSelf");
	assert_string_equal(json_opt_str(spec, "storage.x-kubernetes-validations[0].rule", ""),
			    "!has(oldSelf.storageClassName) || self.storageClassName == oldSelf.storageClassName");
	/* the name limit (EC_MAX_NAME_LEN) at the root, the only place a CRD can
	 * check metadata.name; the free strings bounded as in cluster.h */
	char rule[64];
	snprintf(rule, sizeof(rule), "self.metadata.name.size() <= %d", EC_MAX_NAME_LEN);
	assert_string_equal(json_opt_str(v, "schema.openAPIV3Schema.x-kubernetes-validations[0].rule", ""),
			    rule);
	assert_non_null(strstr(json_opt_str(v, "schema.openAPIV3Schema.x-kubernetes-validations[0].message", ""),
			       "at most 52 characters"));
	assert_int_equal(json_opt_int(spec, "clusterDomain.maxLength", 0), EC_MAX_DNS_SUBDOMAIN);
	assert_int_equal(json_opt_int(spec, "storage.properties.storageClassName.maxLength", 0),
			 EC_MAX_DNS_SUBDOMAIN);
	assert_string_equal(json_opt_str(spec, "storage.properties.storageClassName.pattern", ""),
			    json_opt_str(spec, "clusterDomain.pattern", "?"));
	assert_int_equal(json_opt_int(spec, "image.maxLength", 0), EC_MAX_IMAGE_LEN);
	assert_non_null(json_at(spec, "image.pattern"));
	json_object *st = json_at(v, "schema.openAPIV3Schema.properties.status.properties");
	const char *status_ints[] = {"observedGeneration", "replicas", "readyReplicas", "learners",
				     "scaling.properties.from", "scaling.properties.to",
				     "members.items.properties.dbSize", "members.items.properties.raftIndex"};
	for (size_t i = 0; i < EO_ARRAY_LEN(status_ints); i++) {
		json_object *f = json_at(st, status_ints[i]);
		if (!f || json_opt_int(f, "minimum", -1) != 0)
			fail_msg("CRD status.%s: no minimum 0", status_ints[i]);
		if (!strcmp(json_opt_str(f, "format", ""), "int32") &&
		    json_opt_int(f, "maximum", 0) != INT32_MAX)
			fail_msg("CRD status.%s: int32 without maximum %d", status_ints[i], INT32_MAX);
	}
	const char *status_fields[] = {"phase", "observedGeneration", "replicas", "readyReplicas",
				       "learners", "selector", "clusterID", "leader", "members",
				       "scaling", "conditions"};
	for (size_t i = 0; i < EO_ARRAY_LEN(status_fields); i++)
		if (!json_at(st, status_fields[i]))
			fail_msg("CRD status has no %s (DESIGN §3); the API server would prune it",
				 status_fields[i]);
	const char *member_fields[] = {"name", "id", "peerURL", "clientURL", "learner", "healthy",
				       "leader", "dbSize", "raftIndex"};
	for (size_t i = 0; i < EO_ARRAY_LEN(member_fields); i++)
		assert_non_null(json_at(json_at(st, "members.items.properties"), member_fields[i]));
	const char *scaling_fields[] = {"from", "to", "step", "memberID", "startedAt", "message"};
	for (size_t i = 0; i < EO_ARRAY_LEN(scaling_fields); i++)
		assert_non_null(json_at(json_at(st, "scaling.properties"), scaling_fields[i]));
	json_object *cols = json_at(v, "additionalPrinterColumns");
	const char *want_cols[] = {"Replicas", "Ready", "Phase", "Version", "Age"};
	for (size_t i = 0; i < EO_ARRAY_LEN(want_cols); i++) {
		bool found = false;
		for (size_t k = 0; k < len_of(cols); k++)
			found |= !strcmp(json_opt_str(json_object_array_get_idx(cols, k), "name", ""), want_cols[i]);
		assert_true(found);
	}
}

/* What the status builder writes is exactly what the schema keeps. */
static void test_status_builder_fits_schema(void **state)
{
	json_object *crd = find("CustomResourceDefinition", EC_PLURAL "." EC_GROUP);
	json_object *schema = json_at(crd, "spec.versions[0].schema.openAPIV3Schema.properties.status.properties");
	struct ec_status s = {.phase = EC_SCALING, .replicas = 1, .nmembers = 1, .nconditions = 1};
	eo_strlcpy(s.members[0].name, "demo-0", sizeof(s.members[0].name));
	eo_strlcpy(s.members[0].id, "1", sizeof(s.members[0].id));
	s.scaling.active = true;
	eo_strlcpy(s.scaling.step, EC_STEP_ADD_LEARNER, sizeof(s.scaling.step));
	eo_strlcpy(s.scaling.started_at, "2026-01-01T00:00:00Z", sizeof(s.scaling.started_at));
	eo_strlcpy(s.scaling.member_id, "2", sizeof(s.scaling.member_id));
	eo_strlcpy(s.scaling.message, "m", sizeof(s.scaling.message));
	cluster_set_condition(&s, "Progressing", "True", "Scaling", "1 → 2", "2026-01-01T00:00:00Z");
	json_object *st = cluster_status_json(&s);
	json_object_object_foreach(st, key, val) {
		if (!json_at(schema, key))
			fail_msg("status.%s is written but not in the CRD schema", key);
		(void)val;
	}
	json_object_object_foreach(json_at(st, "members[0]"), mk, mv) {
		assert_non_null(json_object_object_get(json_at(schema, "members.items.properties"), mk));
		(void)mv;
	}
	json_object_object_foreach(json_at(st, "scaling"), sk, sv) {
		assert_non_null(json_object_object_get(json_at(schema, "scaling.properties"), sk));
		(void)sv;
	}
	json_object_object_foreach(json_at(st, "conditions[0]"), ck, cv) {
		assert_non_null(json_object_object_get(json_at(schema, "conditions.items.properties"), ck));
		(void)cv;
	}
	json_object_put(st);
}

static void test_samples_parse_as_etcdclusters(void **state)
{
	int n = 0;
	for (size_t i = 0; i < ndocs; i++) {
		if (!strstr(docs[i].path, "/samples/") || strcmp(kind_of(docs[i].obj), EC_KIND) != 0)
			continue; /* the cert-manager sample's Issuer and Certificates */
		struct etcd_cluster c;
		struct eo_err err = {0};
		if (cluster_parse(docs[i].obj, &c, &err) != 0)
			fail_msg("%s: %s", docs[i].path, err.msg);
		/* demo (make demo), demo-tls and byo (the TLS samples) */
		assert_true(strcmp(c.name, "demo") == 0 || strcmp(c.name, "demo-tls") == 0 ||
			    strcmp(c.name, "byo") == 0);
		assert_true(c.spec.replicas >= EC_MIN_REPLICAS && c.spec.replicas <= EC_MAX_REPLICAS);
		if (strcmp(c.name, "demo") != 0)
			assert_true(c.spec.tls_peer.mode != EC_TLS_OFF && c.spec.tls_client.mode != EC_TLS_OFF);
		n++;
	}
	assert_int_equal(n, 4);
}

static void test_cert_manager_agrees(void **state)
{
	json_object *cert = find("Certificate", "etcd-webhook");
	assert_string_equal(json_opt_str(cert, "spec.secretName", ""), "etcd-webhook-tls");
	assert_true(arr_has(json_at(cert, "spec.dnsNames"), "etcd-webhook.etcd-operator-system.svc"));
	assert_true(arr_has(json_at(cert, "spec.usages"), "server auth"));
	json_object *comp = NULL;
	for (size_t i = 0; i < ndocs; i++)
		if (!strcmp(kind_of(docs[i].obj), "Component"))
			comp = docs[i].obj;
	assert_non_null(comp);
	json_object *patches = json_at(comp, "patches");
	assert_int_equal(len_of(patches), 2);
	for (size_t i = 0; i < 2; i++) {
		json_object *entry = json_object_array_get_idx(patches, i);
		const char *p = json_opt_str(entry, "patch", "");
		json_object **pd = NULL;
		size_t np = 0;
		struct eo_err err = {0};
		assert_int_equal(yaml_parse_docs(p, strlen(p), "patch", &pd, &np, &err), 0);
		assert_int_equal(np, 1);
		/* cainjector reads the Certificate namespace/name the webhook's Secret comes from */
		assert_string_equal(json_opt_str(pd[0], "metadata.annotations[cert-manager.io/inject-ca-from]", ""),
				    "etcd-operator-system/etcd-webhook");
		assert_string_equal(json_opt_str(pd[0], "kind", ""), json_opt_str(entry, "target.kind", "?"));
		find(kind_of(pd[0]), name_of(pd[0])); /* patches a configuration that exists */
		yaml_docs_free(pd, np);
	}
}

/* Each kustomization lists files that exist, and every manifest beside it. */
static void test_kustomizations_are_complete(void **state)
{
	int checked = 0;
	for (size_t i = 0; i < ndocs; i++) {
		if (!strstr(docs[i].path, "kustomization.yaml"))
			continue;
		char dirbuf[256];
		eo_strlcpy(dirbuf, docs[i].path, sizeof(dirbuf));
		const char *dir = dirname(dirbuf);
		json_object *res = json_at(docs[i].obj, "resources");
		for (size_t k = 0; k < len_of(res); k++) {
			char p[512];
			struct stat st;
			snprintf(p, sizeof(p), "%s/%s", dir, json_object_get_string(json_object_array_get_idx(res, k)));
			if (stat(p, &st) != 0)
				fail_msg("%s lists %s, which does not exist", docs[i].path, p);
		}
		/* the part directories: every YAML beside the kustomization is listed */
		for (size_t j = 0; j < ndocs; j++) {
			char d2[256];
			eo_strlcpy(d2, docs[j].path, sizeof(d2));
			if (strcmp(dirname(d2), dir) || strstr(docs[j].path, "kustomization.yaml"))
				continue;
			const char *base = strrchr(docs[j].path, '/') + 1;
			if (!arr_has(res, base))
				fail_msg("%s does not list %s", docs[i].path, base);
		}
		checked++;
	}
	assert_true(checked >= 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_document_is_an_object),
		cmocka_unit_test(test_rbac_has_no_wildcards),
		cmocka_unit_test(test_controller_rbac),
		cmocka_unit_test(test_rbac_is_exactly_what_the_code_uses),
		cmocka_unit_test(test_webhook_configurations),
		cmocka_unit_test(test_deployments),
		cmocka_unit_test(test_network_policies),
		cmocka_unit_test(test_crd_matches_cluster_h),
		cmocka_unit_test(test_status_builder_fits_schema),
		cmocka_unit_test(test_samples_parse_as_etcdclusters),
		cmocka_unit_test(test_cert_manager_agrees),
		cmocka_unit_test(test_kustomizations_are_complete),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
