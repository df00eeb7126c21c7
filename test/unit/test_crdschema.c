/* Unit tests for shared/api/crdschema.c against the real EtcdCluster CRD
 * (manifests/crd, run from the repository root): unknown fields in strict
 * field validation's words, open maps left open, types, enums, bounds,
 * lengths and patterns in the API server's words, status and metadata's
 * own fields left alone, and a sample manifest passing clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crdschema.h"
#include "json.h"
#include "yamljson.h"

static json_object **crd_docs;
static size_t crd_n;
static json_object *schema;

static int setup(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	struct eo_err err;
	if (eo_read_file("manifests/crd/etcd.k8s-operator.io_etcdclusters.yaml", 1 << 20, &text,
			 &len, &err) != 0)
		fail_msg("%s (run from the repository root)", err.msg);
	if (yaml_parse_docs(text, len, "crd", &crd_docs, &crd_n, &err) != 0)
		fail_msg("%s", err.msg);
	free(text);
	schema = crdschema_of(crd_docs[0], "v1alpha1");
	return schema ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	yaml_docs_free(crd_docs, crd_n);
	return 0;
}

static int check(const char *yaml_text, struct crdschema_result *r)
{
	json_object **d = NULL;
	size_t n = 0;
	struct eo_err err;
	assert_int_equal(yaml_parse_docs(yaml_text, strlen(yaml_text), "t", &d, &n, &err), 0);
	int k = crdschema_check(schema, d[0], r);
	yaml_docs_free(d, n);
	return k;
}

#define HEAD "apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\nmetadata: {name: demo, labels: {a: b}}\n"

static void test_version_lookup(void **state)
{
	(void)state;
	assert_null(crdschema_of(crd_docs[0], "v9"));
}

static void test_clean_object(void **state)
{
	(void)state;
	struct crdschema_result r;
	assert_int_equal(check(HEAD "spec:\n  replicas: 3\n  version: \"3.6.16\"\n"
			       "  storage: {size: 5Gi}\n  security: {tls: {client: {mode: Auto}}}\n"
			       "status: {phase: Running, whatever: 1}\n", &r), 0);
	crdschema_result_free(&r);
}

static void test_unknown_fields(void **state)
{
	(void)state;
	struct crdschema_result r;
	assert_int_equal(check(HEAD "spec:\n  replica: 3\n  storage: {sise: 5Gi}\nspek: {}\n", &r), 3);
	assert_int_equal(r.nunknown, 3);
	assert_non_null(strstr(r.unknown.data, "unknown field \"spec.replica\""));
	assert_non_null(strstr(r.unknown.data, "unknown field \"spec.storage.sise\""));
	assert_non_null(strstr(r.unknown.data, "unknown field \"spek\""));
	crdschema_result_free(&r);
	assert_int_equal(check("apiVersion: x\nkind: EtcdCluster\nmetadata: {name: a, labelz: {}}\n", &r), 1);
	assert_string_equal(r.unknown.data, "unknown field \"metadata.labelz\"");
	crdschema_result_free(&r);
}

static void test_invalid_values(void **state)
{
	(void)state;
	struct crdschema_result r;
	assert_int_equal(check(HEAD "spec: {replicas: three}\n", &r), 1);
	assert_string_equal(r.invalid.data, "spec.replicas: Invalid value: \"string\": spec.replicas in "
					    "body must be of type integer: \"string\"");
	crdschema_result_free(&r);
	assert_int_equal(check(HEAD "spec: {replicas: 12}\n", &r), 1);
	assert_string_equal(r.invalid.data, "spec.replicas: Invalid value: 12: spec.replicas in body "
					    "should be less than or equal to 9");
	crdschema_result_free(&r);
	assert_int_equal(check(HEAD "spec: {security: {tls: {peer: {mode: auto}}}}\n", &r), 1);
	assert_string_equal(r.invalid.data, "spec.security.tls.peer.mode: Unsupported value: \"auto\": "
					    "supported values: \"Auto\", \"Secret\"");
	crdschema_result_free(&r);
	assert_int_equal(check(HEAD "spec: {security: {tls: {peer: {}}}}\n", &r), 1);
	assert_string_equal(r.invalid.data, "spec.security.tls.peer.mode: Required value");
	crdschema_result_free(&r);
	assert_int_equal(check(HEAD "spec: {version: v3.5.1}\n", &r), 1);
	assert_non_null(strstr(r.invalid.data, "spec.version in body should match '^[0-9]+"));
	crdschema_result_free(&r);
	assert_int_equal(check(HEAD "spec: {bootstrap: {restore: {backupName: \"\"}}}\n", &r), 1);
	assert_non_null(strstr(r.invalid.data, "should be at least 1 chars long"));
	crdschema_result_free(&r);
	assert_int_equal(check(HEAD "spec: {suspended: \"yes\", replicas: 0}\n", &r), 2);
	assert_non_null(strstr(r.invalid.data, "spec.suspended: Invalid value: \"string\""));
	assert_non_null(strstr(r.invalid.data, "greater than or equal to 1"));
	crdschema_result_free(&r);
}

/* A schema that leaves a map open (additionalProperties with a schema, or
 * preserve-unknown-fields) takes any key; values still checked. */
static void test_open_maps(void **state)
{
	(void)state;
	json_object *s = json_tokener_parse(
		"{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
		"\"nodeSelector\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
		"\"extra\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true},"
		"\"tolerations\":{\"type\":\"array\",\"maxItems\":1,\"items\":{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\"}}}}}}}}");
	json_object *o = json_tokener_parse(
		"{\"spec\":{\"nodeSelector\":{\"disk\":\"ssd\",\"n\":1},\"extra\":{\"any\":{\"thing\":1}},"
		"\"tolerations\":[{\"key\":\"a\",\"ke\":\"b\"},{}]}}");
	struct crdschema_result r;
	assert_int_equal(crdschema_check(s, o, &r), 3);
	assert_string_equal(r.unknown.data, "unknown field \"spec.tolerations[0].ke\"");
	assert_non_null(strstr(r.invalid.data, "spec.nodeSelector.n: Invalid value: \"integer\""));
	assert_non_null(strstr(r.invalid.data, "spec.tolerations: Too many: 2: must have at most 1 items"));
	crdschema_result_free(&r);
	json_object_put(o);
	json_object_put(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_lookup),
		cmocka_unit_test(test_clean_object),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_invalid_values),
		cmocka_unit_test(test_open_maps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
