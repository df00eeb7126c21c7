/* Unit tests for shared/api/cluster.c's status reading: integers are read as
 * 64-bit and checked against the field's range, so a number that does not
 * fit is an error naming its path, never a wrapped value (status.scaling.from
 * 4294967301 once read as 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cluster.h"
#include "json.h"

/* Parse an EtcdCluster "demo" with the given status; returns cluster_parse's
 * result, the error in *err. */
static int parse_with_status(const char *status, struct etcd_cluster *c, struct eo_err *err)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"demo\",\"namespace\":\"prod\"},"
		 "\"spec\":{\"replicas\":3},\"status\":%s}", status);
	struct eo_err perr;
	json_object *o = json_parse(buf, strlen(buf), &perr);
	assert_non_null(o);
	memset(err, 0, sizeof(*err));
	int rc = cluster_parse(o, c, err);
	json_object_put(o);
	return rc;
}

static void test_status_integers_in_range(void **state)
{
	struct etcd_cluster c;
	struct eo_err err;
	assert_int_equal(parse_with_status("{\"observedGeneration\":8589934593,\"replicas\":3,"
					   "\"readyReplicas\":2,\"learners\":1,"
					   "\"members\":[{\"name\":\"demo-0\",\"dbSize\":6442450944,"
					   "\"raftIndex\":9007199254740993}],"
					   "\"scaling\":{\"from\":2,\"to\":3,\"step\":\"CatchUp\"}}",
					   &c, &err),
			 0);
	assert_true(c.status.observed_generation == 8589934593LL);
	assert_int_equal(c.status.replicas, 3);
	assert_int_equal(c.status.ready_replicas, 2);
	assert_int_equal(c.status.learners, 1);
	assert_true(c.status.members[0].db_size == 6442450944LL);
	assert_true(c.status.members[0].raft_index == 9007199254740993LL);
	assert_int_equal(c.status.scaling.from, 2);
	assert_int_equal(c.status.scaling.to, 3);
	/* absent and null are "not written yet": zero */
	assert_int_equal(parse_with_status("{\"replicas\":null,\"scaling\":{}}", &c, &err), 0);
	assert_int_equal(c.status.replicas, 0);
	assert_int_equal(c.status.scaling.from, 0);
}

/* Each int field, pushed past 32 bits or below zero, fails by its path. */
static void test_status_integers_out_of_range(void **state)
{
	static const struct {
		const char *status, *msg;
	} cases[] = {
		{"{\"scaling\":{\"from\":4294967301,\"to\":3}}",
		 "status.scaling.from: 4294967301 is out of range (0 to 2147483647)"},
		{"{\"scaling\":{\"from\":1,\"to\":4294967298}}",
		 "status.scaling.to: 4294967298 is out of range (0 to 2147483647)"},
		{"{\"replicas\":4294967299}",
		 "status.replicas: 4294967299 is out of range (0 to 2147483647)"},
		{"{\"readyReplicas\":-1}", "status.readyReplicas: -1 is out of range (0 to 2147483647)"},
		{"{\"learners\":2147483648}",
		 "status.learners: 2147483648 is out of range (0 to 2147483647)"},
		{"{\"observedGeneration\":-3}",
		 "status.observedGeneration: -3 is out of range (0 to 9223372036854775807)"},
		{"{\"observedGeneration\":9223372036854775808}",
		 "status.observedGeneration: a number beyond the 64-bit integer range"},
		{"{\"members\":[{\"name\":\"a\"},{\"name\":\"b\",\"dbSize\":-5}]}",
		 "status.members[1].dbSize: -5 is out of range (0 to 9223372036854775807)"},
		{"{\"members\":[{\"name\":\"a\",\"raftIndex\":18446744073709551615}]}",
		 "status.members[0].raftIndex: a number beyond the 64-bit integer range"},
		{"{\"scaling\":{\"from\":\"5\"}}", "status.scaling.from: expected an integer, got a string"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct etcd_cluster c;
		struct eo_err err;
		if (parse_with_status(cases[i].status, &c, &err) == 0)
			fail_msg("%s: accepted (scaling.from=%d to=%d replicas=%d)", cases[i].status,
				 c.status.scaling.from, c.status.scaling.to, c.status.replicas);
		assert_int_equal(err.code, EO_EPARSE);
		assert_string_equal(err.msg, cases[i].msg);
	}
}

static void test_storage_when_deleted(void **state)
{
	static const struct {
		const char *storage;
		int rc;
		bool delete_volumes;
	} cases[] = {
		{"{}", 0, false},
		{"{\"whenDeleted\":\"Retain\"}", 0, false},
		{"{\"whenDeleted\":\"Delete\"}", 0, true},
		{"{\"whenDeleted\":\"delete\"}", -1, false},
		{"{\"whenDeleted\":true}", -1, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[512];
		snprintf(buf, sizeof(buf),
			 "{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"demo\"},"
			 "\"spec\":{\"storage\":%s}}", cases[i].storage);
		struct eo_err err = {0};
		json_object *o = json_parse(buf, strlen(buf), &err);
		assert_non_null(o);
		struct etcd_cluster c;
		int rc = cluster_parse(o, &c, &err);
		json_object_put(o);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(c.spec.delete_volumes, cases[i].delete_volumes);
		else
			assert_non_null(strstr(err.msg, "spec.storage.whenDeleted"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_integers_in_range),
		cmocka_unit_test(test_status_integers_out_of_range),
		cmocka_unit_test(test_storage_when_deleted),
	};
	return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
