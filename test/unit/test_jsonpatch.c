/* Unit tests for the JSON Patch side of a decision: shared/base/jsonpatch.c (RFC
 * 6902 text, RFC 6901 escaping) and policy_patch() (add vs replace vs remove
 * against the object as received). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "jsonpatch.h"
#include "policy.h"

static json_object *parse(const char *text)
{
	struct eo_err err;
	json_object *o = json_parse(text, strlen(text), &err);
	assert_non_null(o);
	return o;
}

static void check_patch(const char *object, struct policy_decision d, const char *want)
{
	json_object *o = parse(object);
	struct eo_buf b = {0};
	assert_int_equal(policy_patch(&d, o, &b), 0);
	if (!want)
		assert_int_equal(b.len, 0);
	else
		assert_string_equal(b.data, want);
	/* and it is JSON */
	if (want) {
		json_object *p = parse(b.data);
		assert_true(json_object_is_type(p, json_type_array));
		json_object_put(p);
	}
	eo_buf_free(&b);
	json_object_put(o);
}

static void test_patch_builder(void **state)
{
	struct policy_decision d = {.allowed = true, .patch_replicas = true, .replicas = 2,
				    .patch_target = true, .target = 3};
	/* no annotations map: add the map */
	check_patch("{\"metadata\":{\"name\":\"demo\"},\"spec\":{\"replicas\":3}}", d,
		    "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2},"
		    "{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":"
		    "{\"etcd.k8s-operator.io/target-replicas\":\"3\"}}]");
	/* a map without the key: add the key, escaped */
	check_patch("{\"metadata\":{\"annotations\":{\"a\":\"b\"}},\"spec\":{}}", d,
		    "[{\"op\":\"add\",\"path\":\"/spec/replicas\",\"value\":2},"
		    "{\"op\":\"add\",\"path\":"
		    "\"/metadata/annotations/etcd.k8s-operator.io~1target-replicas\",\"value\":\"3\"}]");
	/* the key is there: replace */
	check_patch("{\"metadata\":{\"annotations\":{\"etcd.k8s-operator.io/target-replicas\":"
		    "\"9\"}},\"spec\":{\"replicas\":3}}",
		    d,
		    "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2},"
		    "{\"op\":\"replace\",\"path\":"
		    "\"/metadata/annotations/etcd.k8s-operator.io~1target-replicas\",\"value\":\"3\"}]");
	/* annotations: null → a map in its place ("add" replaces a member) */
	check_patch("{\"metadata\":{\"annotations\":null},\"spec\":{\"replicas\":3}}", d,
		    "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2},"
		    "{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":"
		    "{\"etcd.k8s-operator.io/target-replicas\":\"3\"}}]");
	/* no spec at all */
	struct policy_decision r = {.allowed = true, .patch_replicas = true, .replicas = 1};
	check_patch("{\"metadata\":{}}", r,
		    "[{\"op\":\"add\",\"path\":\"/spec\",\"value\":{\"replicas\":1}}]");
	/* drop */
	struct policy_decision drop = {.allowed = true, .drop_target = true};
	check_patch("{\"metadata\":{\"annotations\":{\"etcd.k8s-operator.io/target-replicas\":"
		    "\"3\"}}}",
		    drop,
		    "[{\"op\":\"remove\",\"path\":"
		    "\"/metadata/annotations/etcd.k8s-operator.io~1target-replicas\"}]");
	check_patch("{\"metadata\":{}}", drop, NULL); /* nothing to remove */
	struct policy_decision none = {.allowed = true};
	check_patch("{}", none, NULL);
}

static void test_jsonpatch_escaping(void **state)
{
	struct eo_buf b = {0};
	const char *const p[] = {"a~b/c", "q\"uote", ""};
	assert_int_equal(jsonpatch_op(&b, "test", p, 3, "null"), 0);
	assert_int_equal(jsonpatch_finish(&b), 0);
	assert_string_equal(b.data,
			    "[{\"op\":\"test\",\"path\":\"/a~0b~1c/q\\\"uote/\",\"value\":null}]");
	eo_buf_free(&b);
	assert_int_equal(jsonpatch_finish(&b), 0);
	assert_string_equal(b.data, "[]");
	eo_buf_free(&b);
	/* the cap is honoured */
	struct eo_buf small = {.max = 8};
	assert_int_equal(jsonpatch_op(&small, "add", p, 1, "1"), -1);
	eo_buf_free(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patch_builder),
		cmocka_unit_test(test_jsonpatch_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
