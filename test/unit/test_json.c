/* Unit tests for shared/base/json.c: path lookup, typed getters, errors by path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static json_object *doc(const char *text)
{
	struct eo_err err;
	json_object *o = json_parse(text, strlen(text), &err);
	assert_non_null(o);
	return o;
}

static void test_paths(void **state)
{
	json_object *o = doc("{\"spec\":{\"replicas\":3,\"storage\":{\"size\":\"1Gi\"}},"
			     "\"metadata\":{\"annotations\":{\"etcd.k8s-operator.io/target-replicas\":\"5\"}},"
			     "\"status\":{\"members\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}");
	struct eo_err err;
	const char *s;
	int64_t n;
	assert_int_equal(json_get_int(o, "spec.replicas", &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(json_get_str(o, "spec.storage.size", &s, &err), 0);
	assert_string_equal(s, "1Gi");
	assert_string_equal(json_opt_str(o, "status.members[1].name", "?"), "b");
	assert_string_equal(json_opt_str(o, "status.members[2].name", "?"), "?");
	assert_string_equal(json_opt_str(o, "metadata.annotations[etcd.k8s-operator.io/target-replicas]", ""), "5");
	assert_null(json_at(o, "spec[unterminated"));
	json_object_put(o);
}

static void test_errors_name_the_path(void **state)
{
	json_object *o = doc("{\"spec\":{\"replicas\":\"3\",\"half\":3.5,\"whole\":3.0}}");
	struct eo_err err;
	int64_t n;
	assert_int_equal(json_get_int(o, "spec.replicas", &n, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
	assert_string_equal(err.msg, "spec.replicas: expected an integer, got a string");
	assert_int_equal(json_get_int(o, "spec.version", &n, &err), -1);
	assert_string_equal(err.msg, "spec.version: required field is missing");
	assert_int_equal(json_get_int(o, "spec.half", &n, &err), -1);
	assert_int_equal(json_get_int(o, "spec.whole", &n, &err), 0);
	assert_int_equal(n, 3);
	json_object_put(o);
}

/* Integers are 64-bit and never wrap or saturate: a value beyond int64, or
 * outside the range a caller asks for, is an error that names the path. */
static void test_int_ranges(void **state)
{
	json_object *o = doc("{\"s\":{\"from\":4294967301,\"big\":9223372036854775807,"
			     "\"over\":9223372036854775808,\"huge\":18446744073709551616,"
			     "\"under\":-9223372036854775809,\"d\":1e30,\"neg\":-1,\"ok\":7}}");
	struct eo_err err;
	int64_t n = 0;
	assert_int_equal(json_get_int(o, "s.from", &n, &err), 0);
	assert_true(n == 4294967301LL);
	assert_int_equal(json_get_int(o, "s.big", &n, &err), 0);
	assert_true(n == INT64_MAX);
	assert_int_equal(json_get_int(o, "s.over", &n, &err), -1);
	assert_string_equal(err.msg, "s.over: a number beyond the 64-bit integer range");
	assert_int_equal(json_get_int(o, "s.huge", &n, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
	assert_int_equal(json_get_int(o, "s.under", &n, &err), -1);
	assert_non_null(strstr(err.msg, "s.under: "));
	assert_int_equal(json_get_int(o, "s.d", &n, &err), -1);
	assert_int_equal(json_opt_int(o, "s.over", 9), 9);

	assert_int_equal(json_get_int_range(o, "s.from", 0, INT32_MAX, &n, &err), -1);
	assert_string_equal(err.msg, "s.from: 4294967301 is out of range (0 to 2147483647)");
	assert_int_equal(json_get_int_range(o, "s.neg", 0, 10, &n, &err), -1);
	assert_string_equal(err.msg, "s.neg: -1 is out of range (0 to 10)");
	assert_int_equal(json_get_int_range(o, "s.ok", 0, 10, &n, &err), 0);
	assert_int_equal(n, 7);
	assert_int_equal(json_get_int_range(o, "s.none", 0, 10, &n, &err), -1);
	assert_string_equal(err.msg, "s.none: required field is missing");
	json_object_put(o);
}

static void test_set_and_del(void **state)
{
	json_object *o = json_object_new_object();
	assert_int_equal(json_set(o, "metadata.annotations[a.b/c]", json_object_new_string("x")), 0);
	assert_string_equal(json_compact(o), "{\"metadata\":{\"annotations\":{\"a.b/c\":\"x\"}}}");
	assert_int_equal(json_del(o, "metadata.annotations[a.b/c]"), 0);
	assert_string_equal(json_compact(o), "{\"metadata\":{\"annotations\":{}}}");
	assert_int_equal(json_del(o, "nothing.here"), 0);
	json_object_put(o);
}

static void test_parse_errors(void **state)
{
	struct eo_err err;
	assert_null(json_parse("{\"a\":", 5, &err));
	assert_int_equal(err.code, EO_EPARSE);
	assert_null(json_parse("{} {}", 5, &err));
	assert_non_null(strstr(err.msg, "trailing"));
	assert_null(json_parse("{\"a\" 1}", 7, &err));
	json_object *n = json_parse("3", 1, &err);
	assert_non_null(n);
	assert_int_equal(json_object_get_int(n), 3);
	json_object_put(n);
	assert_null(json_parse("", 0, &err));
	assert_non_null(strstr(err.msg, "byte"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_errors_name_the_path),
		cmocka_unit_test(test_int_ranges),
		cmocka_unit_test(test_set_and_del),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
