/* Unit tests for `kubectl etcd validate` (plugin/validate.c): the webhook's
 * rules on documents of a file, with the verdict at the right line —
 * CREATE and UPDATE (matched by namespace/name), staging warnings, refusals,
 * documents that are not this operator's skipped with a note, Lists, JSON,
 * and text that is not YAML at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/plugin.h"
#include "yamljson.h"

#define EC(name, extra) \
	"apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\nmetadata:\n  name: " name \
	"\n" extra

static struct eo_buf out;
static struct validate_counts n;

static int run(const char *text, json_object **olds, size_t nold, const char *ns)
{
	eo_buf_free(&out);
	memset(&n, 0, sizeof(n));
	struct eo_err err;
	int rc = validate_source("f.yaml", text, strlen(text), olds, nold, ns, &out, &n, &err);
	if (rc != 0)
		eo_buf_printf(&out, "ERR %s", err.msg);
	return rc;
}

static void test_create(void **state)
{
	(void)state;
	assert_int_equal(run("# comment\n" EC("one", "spec:\n  replicas: 1\n") "---\n"
			     EC("three", "  namespace: team-a\nspec:\n  replicas: 3\n"), NULL, 0, NULL), 0);
	assert_int_equal(n.ok, 2);
	assert_int_equal(n.refused, 0);
	assert_non_null(strstr(out.data, "f.yaml:2: default/one: OK\n"));
	assert_non_null(strstr(out.data, "f.yaml:9: team-a/three: OK\n"));
	assert_non_null(strstr(out.data, "f.yaml:9: team-a/three: warning: spec.replicas: staged "
				      "1 \xe2\x86\x92 2 \xe2\x86\x92 3"));
	/* -n names the namespace of documents without one */
	assert_int_equal(run(EC("one", "spec:\n  replicas: 1\n"), NULL, 0, "ci"), 0);
	assert_string_equal(out.data, "f.yaml:1: ci/one: OK\n");
}

static void test_refusals(void **state)
{
	(void)state;
	assert_int_equal(run(EC("zero", "spec:\n  replicas: 0\n") "---\n"
			     EC("word", "spec:\n  replicas: three\n") "---\n"
			     "apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\nspec: {}\n",
			     NULL, 0, NULL), 0);
	assert_int_equal(n.refused, 3);
	assert_int_equal(n.ok, 0);
	assert_non_null(strstr(out.data, "f.yaml:1: default/zero: refused: spec.replicas: 0 is not a size"));
	assert_non_null(strstr(out.data, "f.yaml:8: default/word: refused: spec.replicas: expected an "
				      "integer, got a string"));
	assert_non_null(strstr(out.data, "f.yaml:15: default/?: refused: metadata.name: required"));
}

static void test_skipped(void **state)
{
	(void)state;
	assert_int_equal(run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n"
			     "apiVersion: etcd.database.coreos.com/v1beta2\nkind: EtcdCluster\n"
			     "metadata:\n  name: legacy\n---\n- just\n- a list\n",
			     NULL, 0, NULL), 0);
	assert_int_equal(n.skipped, 3);
	assert_non_null(strstr(out.data, "f.yaml:1: skipped ConfigMap default/c (not an EtcdCluster)"));
	assert_non_null(strstr(out.data, "f.yaml:6: skipped EtcdCluster default/legacy (another group's"));
	assert_non_null(strstr(out.data, "f.yaml:11: skipped: not a Kubernetes object"));
}

static void test_list_and_json(void **state)
{
	(void)state;
	assert_int_equal(run("apiVersion: v1\nkind: List\nitems:\n"
			     "- apiVersion: etcd.k8s-operator.io/v1alpha1\n  kind: EtcdCluster\n"
			     "  metadata: {name: a}\n  spec: {replicas: 1}\n"
			     "- apiVersion: etcd.k8s-operator.io/v1alpha1\n  kind: EtcdCluster\n"
			     "  metadata: {name: b}\n  spec: {replicas: 10}\n", NULL, 0, NULL), 0);
	assert_int_equal(n.ok, 1);
	assert_int_equal(n.refused, 1);
	assert_non_null(strstr(out.data, "f.yaml:4: default/a: OK"));
	assert_non_null(strstr(out.data, "f.yaml:8: default/b: refused"));
	assert_int_equal(run("{\n \"apiVersion\": \"etcd.k8s-operator.io/v1alpha1\",\n \"kind\": "
			     "\"EtcdCluster\",\n \"metadata\": {\"name\": \"j\"},\n \"spec\": "
			     "{\"replicas\": 5}\n}\n", NULL, 0, NULL), 0);
	assert_non_null(strstr(out.data, "f.yaml:1: default/j: OK"));
	assert_int_equal(run("key: [unclosed\n", NULL, 0, NULL), -1);
	assert_non_null(strstr(out.data, "ERR f.yaml:"));
	assert_int_equal(run("", NULL, 0, NULL), 0);
	assert_string_equal(out.data, "f.yaml: no documents\n");
}

static void test_update_against_old(void **state)
{
	(void)state;
	const char *old_text =
		EC("orders", "spec:\n  replicas: 3\n  version: \"3.5.17\"\n") "---\n"
		EC("audit", "spec:\n  replicas: 5\n  version: \"3.5.17\"\n");
	json_object **olds = NULL;
	size_t nold = 0;
	struct eo_err err;
	assert_int_equal(yaml_parse_docs(old_text, strlen(old_text), "old.yaml", &olds, &nold, &err), 0);
	assert_int_equal(nold, 2);

	/* 3 → 1 from a settled 3: staged one member at a time */
	assert_int_equal(run(EC("orders", "spec:\n  replicas: 1\n  version: \"3.5.17\"\n"), olds, nold,
			     NULL), 0);
	assert_int_equal(n.ok, 1);
	assert_non_null(strstr(out.data, "staged 3 \xe2\x86\x92 2 \xe2\x86\x92 1"));
	/* a version downgrade and an immutable field are refused */
	assert_int_equal(run(EC("orders", "spec:\n  replicas: 3\n  version: \"3.4.30\"\n") "---\n"
			     EC("audit", "spec:\n  replicas: 5\n  version: \"3.5.17\"\n"
				"  clusterDomain: corp.local\n"), olds, nold, NULL), 0);
	assert_int_equal(n.refused, 2);
	assert_non_null(strstr(out.data, "default/orders: refused: spec.version: cannot go from "
				      "3.5.17 down to 3.4.30"));
	assert_non_null(strstr(out.data, "default/audit: refused: spec.clusterDomain"));
	/* the same name in another namespace is a CREATE */
	assert_int_equal(run(EC("orders", "  namespace: other\nspec:\n  replicas: 1\n  version: "
				"\"3.5.9\"\n"), olds, nold, NULL), 0);
	assert_int_equal(n.ok, 1);
	/* unchanged: OK and silent */
	assert_int_equal(run(EC("audit", "spec:\n  replicas: 5\n  version: \"3.5.17\"\n"), olds, nold,
			     NULL), 0);
	assert_string_equal(out.data, "f.yaml:1: default/audit: OK\n");
	yaml_docs_free(olds, nold);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_list_and_json),
		cmocka_unit_test(test_update_against_old),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	eo_buf_free(&out);
	return rc;
}
