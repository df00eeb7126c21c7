/* Unit tests for the spec's Pod knobs, etcd flags and volume size: the model
 * (shared/cluster_pod.c), the admission rules (shared/policy_spec.c), the
 * template (controller/resources.c) and the init step's configuration
 * (controller/member_init.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../controller/member_init.h"
#include "../../controller/resources.h"
#include "../../controller/volumes.h"
#include "json.h"
#include "policy.h"
#include "scaling.h"

static int parse_spec(const char *spec, struct etcd_cluster *c, struct eo_err *err)
{
	char buf[4096];
	snprintf(buf, sizeof(buf),
		 "{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"demo\",\"namespace\":\"prod\","
		 "\"uid\":\"uid-1\",\"generation\":1},\"spec\":%s}", spec);
	json_object *o = json_parse(buf, strlen(buf), err);
	assert_non_null(o);
	int rc = cluster_parse(o, c, err);
	json_object_put(o);
	return rc;
}

static struct etcd_cluster cluster(const char *spec)
{
	struct etcd_cluster c;
	struct eo_err err;
	assert_int_equal(parse_spec(spec, &c, &err), 0);
	return c;
}

static void parse_fails(const char *spec, const char *needle)
{
	struct etcd_cluster c;
	struct eo_err err = {0};
	assert_int_equal(parse_spec(spec, &c, &err), -1);
	if (!strstr(err.msg, needle))
		fail_msg("\"%s\" not in \"%s\"", needle, err.msg);
}

static struct policy_decision validate(const struct etcd_cluster *o, const struct etcd_cluster *n)
{
	struct policy_request r = {.op = o ? POLICY_UPDATE : POLICY_CREATE, .old = o, .new = n};
	struct policy_decision d;
	memset(&d, 0, sizeof(d));
	policy_validate(&r, &d);
	return d;
}

static void refused(const struct policy_decision *d, const char *needle)
{
	assert_false(d->allowed);
	if (!strstr(d->reason, needle))
		fail_msg("\"%s\" not in \"%s\"", needle, d->reason);
}

#define KNOBS "{\"replicas\":1,\"pod\":{" \
	"\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"},\"limits\":{\"memory\":1073741824}}," \
	"\"nodeSelector\":{\"disk\":\"ssd\"}," \
	"\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"etcd\",\"effect\":\"NoSchedule\"}]," \
	"\"priorityClassName\":\"system-cluster-critical\"," \
	"\"labels\":{\"team\":\"infra\"},\"annotations\":{\"example.com/owner\":\"ops\"}}," \
	"\"etcd\":{\"extraArgs\":{\"snapshot-count\":50000,\"log-level\":\"warn\"," \
	"\"experimental-warning-apply-duration\":\"200ms\"}}}"

static void test_parse_knobs(void **state)
{
	struct etcd_cluster c = cluster(KNOBS);
	assert_non_null(strstr(c.spec.pod.json, "\"nodeSelector\":{\"disk\":\"ssd\"}"));
	assert_string_equal(c.spec.pod.owned_key, "");
	assert_int_equal(c.spec.pod.nextra_args, 3);
	assert_string_equal(c.spec.pod.extra_args[0].name, "snapshot-count");
	assert_string_equal(c.spec.pod.extra_args[0].value, "50000");
	/* absent and empty ask for nothing: no hash, no roll of older Pods */
	char rev[24];
	struct etcd_cluster none = cluster("{\"pod\":{}}");
	cluster_pod_revision(&none, rev, sizeof(rev));
	assert_string_equal(rev, "");
	cluster_pod_revision(&c, rev, sizeof(rev));
	assert_int_equal(strlen(rev), 16);
	struct etcd_cluster other = cluster("{\"pod\":{\"nodeSelector\":{\"disk\":\"hdd\"}}}");
	char rev2[24];
	cluster_pod_revision(&other, rev2, sizeof(rev2));
	assert_string_not_equal(rev, rev2);

	parse_fails("{\"pod\":[]}", "spec.pod: expected an object");
	parse_fails("{\"pod\":{\"nodeselector\":{}}}", "spec.pod.nodeselector: unknown field");
	parse_fails("{\"pod\":{\"labels\":{\"a\":1}}}", "spec.pod.labels[a]: expected a string");
	parse_fails("{\"pod\":{\"tolerations\":{}}}", "spec.pod.tolerations: expected a list");
	parse_fails("{\"pod\":{\"tolerations\":[1]}}", "spec.pod.tolerations[0]: expected an object");
	parse_fails("{\"pod\":{\"resources\":{\"request\":{}}}}", "spec.pod.resources.request: unknown");
	parse_fails("{\"pod\":{\"resources\":{\"limits\":{\"cpu\":true}}}}",
		    "spec.pod.resources.limits[cpu]: expected a quantity");
	parse_fails("{\"pod\":{\"priorityClassName\":3}}", "spec.pod.priorityClassName: expected a string");
	parse_fails("{\"etcd\":{\"extraArgs\":[\"--x\"]}}", "spec.etcd.extraArgs: expected an object");
	parse_fails("{\"etcd\":{\"extraArgs\":{\"x\":{}}}}", "spec.etcd.extraArgs[x]: expected a string");
}

static void test_admission(void **state)
{
	struct etcd_cluster c = cluster(KNOBS);
	struct policy_decision d = validate(NULL, &c);
	assert_true(d.allowed);

	c = cluster("{\"replicas\":1,\"pod\":{\"labels\":{\"app.kubernetes.io/name\":\"x\"}}}");
	refused((d = validate(NULL, &c), &d), "spec.pod.labels[app.kubernetes.io/name]: the operator owns");
	c = cluster("{\"replicas\":1,\"pod\":{\"annotations\":{\"etcd.k8s-operator.io/bootstrap\":\"true\"}}}");
	refused((d = validate(NULL, &c), &d), "spec.pod.annotations[etcd.k8s-operator.io/bootstrap]");
	c = cluster("{\"replicas\":1,\"pod\":{\"labels\":{\"statefulset.kubernetes.io/pod-name\":\"x\"}}}");
	refused((d = validate(NULL, &c), &d), "the operator owns");

	static const char *const owned[] = {"initial-cluster", "initial-cluster-state", "name",
					    "data-dir", "listen-client-urls", "advertise-client-urls",
					    "initial-advertise-peer-urls", "peer-cert-file",
					    "cert-file", "trusted-ca-file", "discovery-srv",
					    "enable-grpc-gateway", "client-cert-auth"};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		char spec[256];
		snprintf(spec, sizeof(spec), "{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"%s\":\"x\"}}}",
			 owned[i]);
		c = cluster(spec);
		d = validate(NULL, &c);
		refused(&d, "the operator sets this flag itself");
		assert_non_null(strstr(d.reason, owned[i]));
	}
	/* the space flags belong to spec.maintenance, which checks them against the volume */
	c = cluster("{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"quota-backend-bytes\":\"8589934592\"}}}");
	refused((d = validate(NULL, &c), &d), "set by spec.maintenance");
	c = cluster("{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"auto-compaction-retention\":\"5m\"}}}");
	refused((d = validate(NULL, &c), &d), "set by spec.maintenance");
	c = cluster("{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"--log-level\":\"warn\"}}}");
	refused((d = validate(NULL, &c), &d), "without its leading dashes");
	c = cluster("{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"log-level\":\"warn\\nname: x\"}}}");
	refused((d = validate(NULL, &c), &d), "the value may hold only");
	c = cluster("{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"log-level\":\"@x\"}}}");
	refused((d = validate(NULL, &c), &d), "the value must start");
	c = cluster("{\"replicas\":1,\"etcd\":{\"extraArgs\":{\"snapshot-count\":-1}}}");
	assert_true((d = validate(NULL, &c), d.allowed));

	/* the volume: growth passes, shrinking is refused with why */
	struct etcd_cluster o = cluster("{\"replicas\":1,\"storage\":{\"size\":\"5Gi\"}}");
	struct etcd_cluster n = cluster("{\"replicas\":1,\"storage\":{\"size\":\"6G\"}}");
	assert_true((d = validate(&o, &n), d.allowed));
	n = cluster("{\"replicas\":1,\"storage\":{\"size\":\"1Gi\"}}");
	refused((d = validate(&o, &n), &d), "spec.storage.size: 5Gi → 1Gi would shrink");
	n = cluster("{\"replicas\":1,\"storage\":{\"size\":\"5000Mi\"}}");
	refused((d = validate(&o, &n), &d), "cannot shrink a PersistentVolumeClaim");
	n = cluster("{\"replicas\":1,\"storage\":{\"size\":\"5Gx\"}}");
	refused((d = validate(NULL, &n), &d), "is not a quantity");
}

static void test_quantity(void **state)
{
	double b;
	assert_int_equal(cluster_quantity_bytes("1Gi", &b), 0);
	assert_true(b == 1073741824.0);
	assert_int_equal(cluster_quantity_bytes("1.5G", &b), 0);
	assert_true(b == 1.5e9);
	assert_int_equal(cluster_quantity_bytes("2e3", &b), 0);
	assert_true(b == 2000.0);
	assert_int_equal(cluster_quantity_bytes("500Mi", &b), 0);
	assert_int_equal(cluster_quantity_bytes("1GB", &b), -1);
	assert_int_equal(cluster_quantity_bytes("", &b), -1);
	assert_int_equal(cluster_quantity_bytes("Gi", &b), -1);
}

static const char *arg_with(json_object *args, const char *prefix)
{
	for (size_t i = 0; i < json_object_array_length(args); i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(args, i));
		if (strncmp(a, prefix, strlen(prefix)) == 0)
			return a;
	}
	return NULL;
}

static void test_template(void **state)
{
	struct etcd_cluster c = cluster(KNOBS);
	json_object *s = res_statefulset(&c, 1, true, NULL);
	json_object *t = json_at(s, "spec.template");
	assert_string_equal(json_opt_str(t, "spec.nodeSelector.disk", ""), "ssd");
	assert_string_equal(json_opt_str(t, "spec.tolerations[0].key", ""), "dedicated");
	assert_string_equal(json_opt_str(t, "spec.priorityClassName", ""), "system-cluster-critical");
	assert_string_equal(json_opt_str(t, "spec.containers[0].resources.requests.cpu", ""), "250m");
	assert_int_equal(json_opt_int(t, "spec.containers[0].resources.limits.memory", 0), 1073741824);
	/* the init step keeps its own small resources */
	assert_string_equal(json_opt_str(t, "spec.initContainers[0].resources.requests.cpu", ""), "10m");
	assert_string_equal(json_opt_str(t, "metadata.labels.team", ""), "infra");
	assert_string_equal(json_opt_str(t, "metadata.labels[etcd.k8s-operator.io/cluster]", ""), "demo");
	assert_string_equal(json_opt_str(t, "metadata.annotations[example.com/owner]", ""), "ops");
	assert_string_equal(json_opt_str(t, "metadata.annotations[" RES_ANN_BOOTSTRAP "]", ""), "true");
	char rev[24];
	cluster_pod_revision(&c, rev, sizeof(rev));
	assert_string_equal(json_opt_str(t, "metadata.annotations[" EC_ANN_POD_SPEC "]", ""), rev);
	/* no affinity asked: the default spread over nodes stays */
	assert_string_equal(json_opt_str(t, "spec.affinity.podAntiAffinity."
				       "preferredDuringSchedulingIgnoredDuringExecution[0]."
				       "podAffinityTerm.topologyKey", ""), "kubernetes.io/hostname");
	/* fsGroup: the volume is writable for the members' user */
	assert_int_equal(json_opt_int(t, "spec.securityContext.fsGroup", 0), RES_RUN_AS);
	assert_int_equal(json_opt_int(t, "spec.securityContext.runAsUser", 0), RES_RUN_AS);
	json_object *args = json_at(t, "spec.initContainers[0].args");
	assert_string_equal(arg_with(args, RES_ARG_ETCD "snapshot"), RES_ARG_ETCD "snapshot-count=50000");
	assert_string_equal(arg_with(args, RES_ARG_ETCD "log"), RES_ARG_ETCD "log-level=warn");
	json_object_put(s);

	/* an affinity of the user's replaces the default; no knobs: no hash */
	c = cluster("{\"pod\":{\"affinity\":{\"nodeAffinity\":{\"x\":1}}}}");
	s = res_statefulset(&c, 1, false, NULL);
	assert_null(json_at(s, "spec.template.spec.affinity.podAntiAffinity"));
	assert_int_equal(json_opt_int(s, "spec.template.spec.affinity.nodeAffinity.x", 0), 1);
	json_object_put(s);
	c = cluster("{}");
	s = res_statefulset(&c, 1, false, NULL);
	assert_null(json_at(s, "spec.template.metadata.annotations[" EC_ANN_POD_SPEC "]"));
	assert_null(arg_with(json_at(s, "spec.template.spec.initContainers[0].args"), RES_ARG_ETCD));
	json_object_put(s);
}

static void test_sync_template(void **state)
{
	struct etcd_cluster old = cluster("{}");
	json_object *sts = res_statefulset(&old, 3, false, NULL);
	/* a CA rotation's revision on the observed template survives */
	json_set(sts, "spec.template.metadata.annotations[" SC_ANN_REVISION "]",
		 json_object_new_string("abc"));
	assert_false(res_sts_sync_template(sts, &old, NULL));
	struct etcd_cluster c = cluster(KNOBS);
	assert_true(res_sts_sync_template(sts, &c, NULL));
	assert_false(res_sts_sync_template(sts, &c, NULL)); /* once */
	assert_int_equal(json_opt_int(sts, "spec.replicas", 0), 3);
	assert_string_equal(json_opt_str(sts, "spec.template.spec.nodeSelector.disk", ""), "ssd");
	assert_string_equal(json_opt_str(sts, "spec.template.metadata.annotations[" SC_ANN_REVISION "]", ""),
			    "abc");
	assert_string_equal(json_opt_str(sts, "spec.template.metadata.annotations[" RES_ANN_BOOTSTRAP "]", ""),
			    "false");
	/* back to nothing: the hash goes, so does the knob */
	assert_true(res_sts_sync_template(sts, &old, NULL));
	assert_null(json_at(sts, "spec.template.spec.nodeSelector"));
	assert_null(json_at(sts, "spec.template.metadata.annotations[" EC_ANN_POD_SPEC "]"));
	json_object_put(sts);
}

static void test_init_step_writes_extra_args(void **state)
{
	unsetenv("EC_BOOTSTRAP");
	setenv("POD_NAME", "demo-0", 1);
	setenv("POD_NAMESPACE", "prod", 1);
	setenv("POD_IP", "10.0.0.7", 1);
	char *argv[] = {"member-init", "--cluster-name=demo", "--data-dir=/d", "--config-file=/c",
			"--etcd-arg=log-level=warn", "--etcd-arg=snapshot-count=50000",
			"--etcd-arg=max-request-bytes="};
	struct mi_config cfg;
	struct eo_err err;
	assert_int_equal(mi_config_parse(7, argv, &cfg, &err), 0);
	assert_int_equal(cfg.nextra, 3);
	struct mi_decision d;
	memset(&d, 0, sizeof(d));
	d.verdict = MI_START_ON_DATA;
	struct eo_buf b = {0};
	assert_int_equal(mi_render_config(&cfg, &d, &b, &err), 0);
	assert_non_null(strstr(b.data, "\nlog-level: warn\n"));
	assert_non_null(strstr(b.data, "\nsnapshot-count: 50000\n"));
	assert_non_null(strstr(b.data, "\nmax-request-bytes: ''\n"));
	eo_buf_free(&b);
	/* the init step checks again what admission checked */
	char *bad[] = {"member-init", "--cluster-name=demo", "--data-dir=/d", "--config-file=/c",
		       "--etcd-arg=initial-cluster=x=http://evil"};
	assert_int_equal(mi_config_parse(5, bad, &cfg, &err), -1);
	assert_non_null(strstr(err.msg, "the operator sets this flag itself"));
	char *inj[] = {"member-init", "--cluster-name=demo", "--data-dir=/d", "--config-file=/c",
		       "--etcd-arg=log-level=a\nname: x"};
	assert_int_equal(mi_config_parse(5, inj, &cfg, &err), -1);
	unsetenv("POD_NAME");
	unsetenv("POD_NAMESPACE");
	unsetenv("POD_IP");
}

static void test_volumes_observed(void **state)
{
	struct etcd_cluster c = cluster("{\"storage\":{\"size\":\"2Gi\",\"storageClassName\":\"standard\"}}");
	const char *list =
		"{\"items\":["
		"{\"metadata\":{\"name\":\"data-demo-0\"},\"spec\":{\"storageClassName\":\"standard\","
		"\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}},\"status\":{\"capacity\":{\"storage\":\"1Gi\"}}},"
		"{\"metadata\":{\"name\":\"data-demo-1\"},\"spec\":{\"storageClassName\":\"standard\","
		"\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}},\"status\":{\"capacity\":{\"storage\":\"1Gi\"}}},"
		"{\"metadata\":{\"name\":\"data-demo-2\"},\"spec\":{\"resources\":{\"requests\":"
		"{\"storage\":\"2048Mi\"}}},\"status\":{\"capacity\":{\"storage\":\"2Gi\"}}},"
		"{\"metadata\":{\"name\":\"data-demo-3\",\"deletionTimestamp\":\"x\"},\"spec\":{\"resources\":"
		"{\"requests\":{\"storage\":\"1Gi\"}}}},"
		"{\"metadata\":{\"name\":\"data-other-0\"},\"spec\":{\"resources\":{\"requests\":"
		"{\"storage\":\"1Gi\"}}}}]}";
	struct eo_err err;
	json_object *l = json_parse(list, strlen(list), &err);
	assert_non_null(l);
	struct vol_state v;
	vol_observe(l, &c, &v);
	assert_int_equal(v.claims, 3);
	assert_int_equal(v.small, 1);
	assert_string_equal(v.small_names[0], "data-demo-0");
	assert_string_equal(v.cls, "standard");
	assert_string_equal(v.have, "1Gi");
	assert_int_equal(v.lagging, 1);
	assert_string_equal(v.first_lagging, "data-demo-1");
	json_object_put(l);
	json_object *p = vol_resize_patch("2Gi");
	assert_string_equal(json_compact(p), "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}}}");
	json_object_put(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_knobs),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_quantity),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_sync_template),
		cmocka_unit_test(test_init_step_writes_extra_args),
		cmocka_unit_test(test_volumes_observed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
