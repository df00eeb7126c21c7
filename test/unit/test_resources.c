/* Unit tests for controller/resources.c: the objects an EtcdCluster owns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../controller/resources.h"
#include "../helpers/pss.h"
#include "json.h"

static struct etcd_cluster cluster(const char *spec)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"demo\",\"namespace\":\"prod\","
		 "\"uid\":\"uid-1\",\"generation\":1},\"spec\":%s}", spec);
	struct eo_err err;
	json_object *o = json_parse(buf, strlen(buf), &err);
	assert_non_null(o);
	struct etcd_cluster c;
	assert_int_equal(cluster_parse(o, &c, &err), 0);
	json_object_put(o);
	return c;
}

static void assert_owned(json_object *o)
{
	assert_string_equal(json_opt_str(o, "metadata.namespace", ""), "prod");
	assert_string_equal(json_opt_str(o, "metadata.ownerReferences[0].kind", ""), "EtcdCluster");
	assert_string_equal(json_opt_str(o, "metadata.ownerReferences[0].uid", ""), "uid-1");
	assert_string_equal(json_opt_str(o, "metadata.ownerReferences[0].apiVersion", ""),
			    "etcd.k8s-operator.io/v1alpha1");
	assert_true(json_opt_bool(o, "metadata.ownerReferences[0].controller", false));
	assert_true(json_opt_bool(o, "metadata.ownerReferences[0].blockOwnerDeletion", false));
	assert_string_equal(
		json_opt_str(o, "metadata.labels[etcd.k8s-operator.io/cluster]", ""), "demo");
	assert_string_equal(json_opt_str(o, "metadata.labels[app.kubernetes.io/managed-by]", ""),
			    "etcd-k8s-operator");
}

static void test_peer_service(void **state)
{
	struct etcd_cluster c = cluster("{}");
	json_object *s = res_peer_service(&c);
	assert_owned(s);
	assert_string_equal(json_opt_str(s, "metadata.name", ""), "demo-peer");
	assert_string_equal(json_opt_str(s, "spec.clusterIP", ""), "None");
	assert_true(json_opt_bool(s, "spec.publishNotReadyAddresses", false));
	assert_int_equal(json_opt_int(s, "spec.ports[0].port", 0), 2380);
	assert_int_equal(json_opt_int(s, "spec.ports[1].port", 0), 2379);
	/* The peer Service selects every member, voter or not. */
	assert_null(json_at(s, "spec.selector[etcd.k8s-operator.io/voter]"));
	assert_string_equal(json_opt_str(s, "spec.selector[app.kubernetes.io/name]", ""), "etcd");
	json_object_put(s);
}

static void test_client_service_selects_voters(void **state)
{
	struct etcd_cluster c = cluster("{}");
	json_object *s = res_client_service(&c);
	assert_owned(s);
	assert_string_equal(json_opt_str(s, "metadata.name", ""), "demo-client");
	assert_string_equal(json_opt_str(s, "spec.type", ""), "ClusterIP");
	assert_null(json_at(s, "spec.clusterIP"));
	assert_string_equal(json_opt_str(s, "spec.selector[etcd.k8s-operator.io/voter]", ""), "true");
	assert_int_equal(json_opt_int(s, "spec.ports[0].port", 0), 2379);
	assert_null(json_at(s, "spec.ports[1]"));
	json_object_put(s);
}

static void test_pdb(void **state)
{
	struct etcd_cluster c = cluster("{}");
	json_object *p = res_pdb(&c, 1);
	assert_owned(p);
	assert_string_equal(json_opt_str(p, "apiVersion", ""), "policy/v1");
	assert_int_equal(json_opt_int(p, "spec.maxUnavailable", -1), 1);
	assert_string_equal(json_opt_str(p, "spec.selector.matchLabels[etcd.k8s-operator.io/cluster]", ""),
			    "demo");
	json_object_put(p);
	p = res_pdb(&c, -3);
	assert_int_equal(json_opt_int(p, "spec.maxUnavailable", -1), 0);
	json_object_put(p);
}

static const char *env_of(json_object *container, const char *name)
{
	json_object *env = json_at(container, "env");
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(json_opt_str(e, "name", ""), name) == 0)
			return json_opt_str(e, "value", json_opt_str(e, "valueFrom.fieldRef.fieldPath", ""));
	}
	return NULL;
}

static bool has_arg(json_object *container, const char *arg)
{
	json_object *args = json_at(container, "args");
	for (size_t i = 0; args && i < json_object_array_length(args); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(args, i)), arg) == 0)
			return true;
	return false;
}

static json_object *mount_at(json_object *container, const char *path)
{
	json_object *m = json_at(container, "volumeMounts");
	for (size_t i = 0; m && i < json_object_array_length(m); i++)
		if (strcmp(json_opt_str(json_object_array_get_idx(m, i), "mountPath", ""), path) == 0)
			return json_object_array_get_idx(m, i);
	return NULL;
}

static void test_statefulset(void **state)
{
	struct etcd_cluster c = cluster("{\"replicas\":3,\"version\":\"3.5.9\",\"storage\":"
					"{\"size\":\"2Gi\",\"storageClassName\":\"fast\"},"
					"\"clusterDomain\":\"k8s.example\"}");
	struct res_opts opts = {.heartbeat_ms = 50, .election_ms = 500};
	json_object *s = res_statefulset(&c, 1, true, &opts);
	assert_owned(s);
	assert_string_equal(json_opt_str(s, "metadata.name", ""), "demo");
	assert_int_equal(json_opt_int(s, "spec.replicas", 0), 1);
	assert_string_equal(json_opt_str(s, "spec.serviceName", ""), "demo-peer");
	assert_string_equal(json_opt_str(s, "spec.podManagementPolicy", ""), "Parallel");
	assert_string_equal(json_opt_str(s, "spec.updateStrategy.type", ""), "OnDelete");
	assert_string_equal(json_opt_str(s, "spec.selector.matchLabels[app.kubernetes.io/name]", ""),
			    "etcd");
	/* The voter label is never in the template: the controller sets it. */
	assert_null(json_at(s, "spec.template.metadata.labels[etcd.k8s-operator.io/voter]"));

	json_object *init = json_at(s, "spec.template.spec.initContainers[0]");
	assert_non_null(init);
	assert_string_equal(json_opt_str(init, "image", ""), EC_OPERATOR_IMAGE);
	assert_string_equal(json_opt_str(init, "command[0]", ""), "/usr/local/bin/etcd-controller");
	assert_string_equal(json_opt_str(init, "command[1]", ""), "member-init");
	assert_true(has_arg(init, "--cluster-name=demo"));
	assert_true(has_arg(init, "--cluster-domain=k8s.example"));
	assert_true(has_arg(init, "--heartbeat-ms=50"));
	assert_true(has_arg(init, "--election-ms=500"));
	assert_true(has_arg(init, "--config-file=/etc/etcd/etcd.conf.yml"));
	/* The permission is the Pod's annotation, read when the init step
	 * starts: it can be taken from a Pod that lives on (OnDelete). */
	assert_string_equal(env_of(init, "EC_BOOTSTRAP"),
			    "metadata.annotations['etcd.k8s-operator.io/bootstrap']");
	assert_string_equal(json_opt_str(s, "spec.template.metadata.annotations[etcd.k8s-operator.io/bootstrap]", ""),
			    "true");
	assert_string_equal(json_opt_str(init, "terminationMessagePolicy", ""), "FallbackToLogsOnError");
	assert_string_equal(env_of(init, "POD_NAME"), "metadata.name");
	assert_string_equal(env_of(init, "POD_NAMESPACE"), "metadata.namespace");
	assert_string_equal(env_of(init, "POD_IP"), "status.podIP");

	json_object *etcd = json_at(s, "spec.template.spec.containers[0]");
	assert_string_equal(json_opt_str(etcd, "name", ""), "etcd");
	assert_string_equal(json_opt_str(etcd, "image", ""), "gcr.io/etcd-development/etcd:v3.5.9");
	/* etcd starts through the guard (issue 17), which the init step
	 * installs on an emptyDir that etcd's container only reads. */
	assert_true(has_arg(init, "--install-guard=/opt/etcd-guard/etcd-member-guard"));
	assert_string_equal(json_opt_str(etcd, "command[0]", ""), "/opt/etcd-guard/etcd-member-guard");
	assert_string_equal(json_opt_str(etcd, "command[1]", ""), "--");
	assert_string_equal(json_opt_str(etcd, "command[2]", ""), "/usr/local/bin/etcd");
	assert_string_equal(json_opt_str(etcd, "command[3]", ""),
			    "--config-file=/etc/etcd/etcd.conf.yml");
	assert_null(json_at(etcd, "command[4]"));
	assert_string_equal(json_opt_str(etcd, "terminationMessagePolicy", ""), "FallbackToLogsOnError");
	json_object *gm = mount_at(etcd, "/opt/etcd-guard"), *gi = mount_at(init, "/opt/etcd-guard");
	assert_non_null(gm);
	assert_non_null(gi);
	assert_true(json_opt_bool(gm, "readOnly", false));
	assert_false(json_opt_bool(gi, "readOnly", false));
	json_object *gv = NULL, *vols = json_at(s, "spec.template.spec.volumes");
	for (size_t v = 0; vols && v < json_object_array_length(vols); v++)
		if (!strcmp(json_opt_str(json_object_array_get_idx(vols, v), "name", ""),
			    json_opt_str(gm, "name", "")))
			gv = json_object_array_get_idx(vols, v);
	assert_non_null(json_at(gv, "emptyDir"));
	assert_string_equal(json_opt_str(etcd, "readinessProbe.httpGet.path", ""),
			    "/health?serializable=true");
	assert_int_equal(json_opt_int(etcd, "readinessProbe.httpGet.port", 0), 2379);
	assert_string_equal(json_opt_str(etcd, "livenessProbe.httpGet.path", ""), "/version");
	assert_true(json_opt_int(etcd, "livenessProbe.failureThreshold", 0) >= 3);
	assert_string_equal(json_opt_str(etcd, "volumeMounts[0].mountPath", ""), "/var/lib/etcd");
	assert_string_equal(json_opt_str(init, "volumeMounts[1].mountPath", ""), "/etc/etcd");

	assert_string_equal(
		json_opt_str(s, "spec.template.spec.affinity.podAntiAffinity."
				"preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm."
				"topologyKey", ""), "kubernetes.io/hostname");
	assert_non_null(json_at(s, "spec.template.spec.volumes[0].emptyDir"));

	json_object *claim = json_at(s, "spec.volumeClaimTemplates[0]");
	assert_string_equal(json_opt_str(claim, "metadata.name", ""), "data");
	assert_string_equal(json_opt_str(claim, "spec.resources.requests.storage", ""), "2Gi");
	assert_string_equal(json_opt_str(claim, "spec.storageClassName", ""), "fast");
	assert_string_equal(json_opt_str(claim, "metadata.labels[etcd.k8s-operator.io/cluster]", ""),
			    "demo");

	assert_string_equal(res_sts_image(s), "gcr.io/etcd-development/etcd:v3.5.9");
	assert_false(res_sts_set_image(s, "gcr.io/etcd-development/etcd:v3.5.9"));
	assert_true(res_sts_set_image(s, "quay.io/coreos/etcd:v3.5.10"));
	assert_string_equal(res_sts_image(s), "quay.io/coreos/etcd:v3.5.10");
	assert_true(res_sts_bootstrap(s));
	assert_false(res_sts_bootstrap_in_env(s)); /* cleared by a merge patch */
	json_object *patch = res_sts_bootstrap_off_patch();
	assert_string_equal(json_opt_str(patch, "spec.template.metadata.annotations[etcd.k8s-operator.io/bootstrap]", ""),
			    "false");
	json_object_put(patch);
	assert_int_equal(res_sts_clear_bootstrap(s), 0);
	assert_false(res_sts_bootstrap(s));
	assert_string_equal(json_opt_str(s, "spec.template.metadata.annotations[etcd.k8s-operator.io/bootstrap]", ""),
			    "false");
	json_object_put(s);
}

/* The member Pods pass Pod Security "restricted" and write only where
 * a volume is mounted. */
static void test_pods_are_restricted(void **state)
{
	struct etcd_cluster c = cluster("{}");
	json_object *s = res_statefulset(&c, 3, true, NULL);
	json_object *pod = json_at(s, "spec.template.spec");
	char why[256];
	if (pss_restricted(pod, why, sizeof(why)) != 0)
		fail_msg("the member Pod would be refused by Pod Security restricted: %s", why);
	assert_true(json_opt_bool(pod, "securityContext.runAsNonRoot", false));
	assert_int_equal(json_opt_int(pod, "securityContext.runAsUser", 0), 65532);
	assert_int_equal(json_opt_int(pod, "securityContext.runAsGroup", 0), 65532);
	assert_int_equal(json_opt_int(pod, "securityContext.fsGroup", 0), 65532);
	assert_string_equal(json_opt_str(pod, "securityContext.fsGroupChangePolicy", ""), "OnRootMismatch");
	assert_string_equal(json_opt_str(pod, "securityContext.seccompProfile.type", ""), "RuntimeDefault");
	/* nothing in the Pod calls the Kubernetes API */
	assert_false(json_opt_bool(pod, "automountServiceAccountToken", true));
	const char *ks[] = {"initContainers[0]", "containers[0]"};
	for (size_t i = 0; i < EO_ARRAY_LEN(ks); i++) {
		json_object *k = json_at(pod, ks[i]);
		assert_true(json_opt_bool(k, "securityContext.readOnlyRootFilesystem", false));
		assert_false(json_opt_bool(k, "securityContext.allowPrivilegeEscalation", true));
		assert_string_equal(json_opt_str(k, "securityContext.capabilities.drop[0]", ""), "ALL");
		assert_non_null(json_at(k, "resources.requests.cpu"));
		assert_non_null(json_at(k, "resources.requests.memory"));
		/* every writable place is a volume: data, config, tmp */
		const char *paths[] = {"/var/lib/etcd", "/etc/etcd", "/tmp"};
		json_object *m = json_at(k, "volumeMounts");
		for (size_t p = 0; p < EO_ARRAY_LEN(paths); p++) {
			bool found = false;
			for (size_t j = 0; m && j < json_object_array_length(m); j++)
				found |= !strcmp(json_opt_str(json_object_array_get_idx(m, j), "mountPath", ""),
						 paths[p]);
			if (!found)
				fail_msg("%s mounts nothing at %s", ks[i], paths[p]);
		}
	}
	/* etcd gets no CPU limit (throttling costs heartbeats) */
	assert_null(json_at(pod, "containers[0].resources.limits.cpu"));
	/* each mount names a volume of the Pod or the claim template */
	json_object *m = json_at(pod, "containers[0].volumeMounts");
	for (size_t j = 0; j < json_object_array_length(m); j++) {
		const char *name = json_opt_str(json_object_array_get_idx(m, j), "name", "");
		bool found = !strcmp(name, json_opt_str(s, "spec.volumeClaimTemplates[0].metadata.name", ""));
		json_object *vols = json_at(pod, "volumes");
		for (size_t v = 0; v < json_object_array_length(vols); v++)
			found |= !strcmp(json_opt_str(json_object_array_get_idx(vols, v), "name", ""), name);
		if (!found)
			fail_msg("volumeMount %s has no volume", name);
	}
	json_object_put(s);
}

static bool has_port(json_object *rule, int port)
{
	json_object *ports = json_at(rule, "ports");
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		if (json_opt_int(p, "port", 0) == port && !strcmp(json_opt_str(p, "protocol", ""), "TCP"))
			return true;
	}
	return false;
}

static void test_network_policy(void **state)
{
	struct etcd_cluster c = cluster("{}");
	struct res_opts opts = {.controller_namespace = "ops"};
	json_object *np = res_network_policy(&c, &opts);
	assert_owned(np);
	assert_string_equal(json_opt_str(np, "apiVersion", ""), "networking.k8s.io/v1");
	assert_string_equal(json_opt_str(np, "kind", ""), "NetworkPolicy");
	assert_string_equal(json_opt_str(np, "metadata.name", ""), "demo");
	/* it guards exactly the member Pods (the StatefulSet's selector) */
	json_object *sts = res_statefulset(&c, 1, true, NULL);
	assert_true(json_object_equal(json_at(np, "spec.podSelector.matchLabels"),
				      json_at(sts, "spec.selector.matchLabels")));
	json_object_put(sts);
	assert_string_equal(json_opt_str(np, "spec.policyTypes[0]", ""), "Ingress");
	assert_null(json_at(np, "spec.policyTypes[1]"));
	assert_int_equal(json_object_array_length(json_at(np, "spec.ingress")), 2);

	/* rule 0: members, peer and client ports */
	json_object *r0 = json_at(np, "spec.ingress[0]");
	assert_true(has_port(r0, 2380) && has_port(r0, 2379));
	assert_int_equal(json_object_array_length(json_at(r0, "from")), 1);
	assert_string_equal(json_opt_str(r0, "from[0].podSelector.matchLabels[etcd.k8s-operator.io/cluster]", ""),
			    "demo");
	assert_null(json_at(r0, "from[0].namespaceSelector")); /* own namespace only */

	/* rule 1: the controller (namespace AND labels) and labelled clients,
	 * client port only — never the peer port */
	json_object *r1 = json_at(np, "spec.ingress[1]");
	assert_true(has_port(r1, 2379));
	assert_false(has_port(r1, 2380));
	assert_int_equal(json_object_array_length(json_at(r1, "ports")), 1);
	assert_int_equal(json_object_array_length(json_at(r1, "from")), 2);
	assert_string_equal(json_opt_str(r1, "from[0].namespaceSelector.matchLabels[kubernetes.io/metadata.name]", ""),
			    "ops");
	assert_string_equal(json_opt_str(r1, "from[0].podSelector.matchLabels[app.kubernetes.io/name]", ""),
			    "etcd-controller");
	assert_string_equal(json_opt_str(r1, "from[1].podSelector.matchLabels[etcd.k8s-operator.io/client-of]", ""),
			    "demo");
	assert_null(json_at(r1, "from[1].namespaceSelector"));
	json_object_put(np);

	/* without a namespace: the one manifests/ installs into */
	np = res_network_policy(&c, NULL);
	assert_string_equal(json_opt_str(np, "spec.ingress[1].from[0].namespaceSelector.matchLabels[kubernetes.io/metadata.name]", ""),
			    "etcd-operator-system");
	json_object_put(np);
}

static void test_statefulset_defaults(void **state)
{
	struct etcd_cluster c = cluster("{\"image\":\"quay.io/coreos/etcd:v3.4.23\"}");
	json_object *s = res_statefulset(&c, 3, false, NULL);
	assert_int_equal(json_opt_int(s, "spec.replicas", 0), 3);
	assert_false(res_sts_bootstrap(s));
	json_object *init = json_at(s, "spec.template.spec.initContainers[0]");
	assert_true(has_arg(init, "--heartbeat-ms=100"));
	assert_true(has_arg(init, "--election-ms=1000"));
	assert_true(has_arg(init, "--cluster-domain=cluster.local"));
	assert_string_equal(json_opt_str(s, "spec.template.spec.containers[0].image", ""),
			    "quay.io/coreos/etcd:v3.4.23");
	assert_null(json_at(s, "spec.volumeClaimTemplates[0].spec.storageClassName"));
	assert_string_equal(json_opt_str(s, "spec.volumeClaimTemplates[0].spec.resources.requests.storage", ""),
			    "1Gi");
	/* Volumes outlive the cluster unless spec.storage.whenDeleted says Delete. */
	assert_string_equal(json_opt_str(s, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", ""),
			    "Retain");
	json_object_put(s);
	c = cluster("{\"storage\":{\"whenDeleted\":\"Delete\"}}");
	s = res_statefulset(&c, 1, false, NULL);
	assert_string_equal(json_opt_str(s, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", ""),
			    "Delete");
	/* A removed member's claim is this controller's to delete, after its removal. */
	assert_string_equal(json_opt_str(s, "spec.persistentVolumeClaimRetentionPolicy.whenScaled", ""),
			    "Retain");
	json_object_put(s);
}

static void test_bootstrap_of_pods_and_older_templates(void **state)
{
	struct eo_err err;
	const char *pod = "{\"metadata\":{\"name\":\"demo-0\",\"annotations\":"
			  "{\"etcd.k8s-operator.io/bootstrap\":\"true\"}}}";
	json_object *p = json_parse(pod, strlen(pod), &err);
	assert_true(res_pod_bootstrap(p));
	json_object *patch = res_pod_bootstrap_off_patch();
	assert_string_equal(json_opt_str(patch, "metadata.annotations[etcd.k8s-operator.io/bootstrap]", ""),
			    "false");
	json_object_put(patch);
	json_object_object_add(json_at(p, "metadata.annotations"), "etcd.k8s-operator.io/bootstrap",
			       json_object_new_string("false"));
	assert_false(res_pod_bootstrap(p));
	json_object_put(p);
	/* A template from before the annotation: its env value counts, and
	 * clearing sets both. */
	const char *old = "{\"spec\":{\"template\":{\"metadata\":{},\"spec\":{\"initContainers\":"
			  "[{\"name\":\"member-init\",\"env\":[{\"name\":\"EC_BOOTSTRAP\","
			  "\"value\":\"true\"}]}]}}}}";
	json_object *s = json_parse(old, strlen(old), &err);
	assert_true(res_sts_bootstrap(s));
	assert_true(res_sts_bootstrap_in_env(s)); /* needs the whole update */
	assert_int_equal(res_sts_clear_bootstrap(s), 0);
	assert_false(res_sts_bootstrap(s));
	assert_string_equal(env_of(json_at(s, "spec.template.spec.initContainers[0]"), "EC_BOOTSTRAP"),
			    "false");
	json_object_put(s);
}

static void test_bootstrap_read_on_foreign_shapes(void **state)
{
	struct eo_err err;
	const char *docs[] = {
		"{}",
		"{\"spec\":{\"template\":{\"spec\":{\"initContainers\":{}}}}}",
		"{\"spec\":{\"template\":{\"spec\":{\"initContainers\":[{\"name\":\"member-init\"}]}}}}",
		"{\"spec\":{\"template\":{\"spec\":{\"initContainers\":[{\"name\":\"member-init\","
		"\"env\":[{\"name\":\"EC_BOOTSTRAP\"}]}]}}}}",
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(docs); i++) {
		json_object *o = json_parse(docs[i], strlen(docs[i]), &err);
		assert_non_null(o);
		assert_false(res_sts_bootstrap(o));
		json_object_put(o);
	}
	json_object *o = json_parse(docs[0], 2, &err);
	assert_int_equal(res_sts_clear_bootstrap(o), -1);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_service),
		cmocka_unit_test(test_client_service_selects_voters),
		cmocka_unit_test(test_pdb),
		cmocka_unit_test(test_statefulset),
		cmocka_unit_test(test_statefulset_defaults),
		cmocka_unit_test(test_pods_are_restricted),
		cmocka_unit_test(test_network_policy),
		cmocka_unit_test(test_bootstrap_of_pods_and_older_templates),
		cmocka_unit_test(test_bootstrap_read_on_foreign_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
