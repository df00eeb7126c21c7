/*
 * test_plugin_backup.c — `kubectl etcd backup / backups / restore` without a
 * cluster: their flags, the objects they create and the snapshot table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../plugin/plugin.h"
#include "json.h"

static int parse_b(struct backup_opts *o, struct eo_err *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	bool help;
	return backup_parse_args(argc, argv, o, &help, err);
}

static void test_backup_flags(void **state)
{
	struct backup_opts o;
	struct eo_err err = {0};
	assert_int_equal(parse_b(&o, &err, "demo", "--to", "s3://bkt/etcd/prod", "--endpoint", "http://s3:8333",
				 "--credentials-secret", "creds", "--path-style", "--keep", "3", NULL), 0);
	assert_string_equal(o.cluster, "demo");
	assert_string_equal(o.bucket, "bkt");
	assert_string_equal(o.prefix, "etcd/prod");
	json_object *b = backup_object(&o, "team", "demo-1", NULL);
	assert_string_equal(json_opt_str(b, "spec.clusterName", ""), "demo");
	assert_string_equal(json_opt_str(b, "spec.destination.s3.bucket", ""), "bkt");
	assert_string_equal(json_opt_str(b, "spec.destination.s3.prefix", ""), "etcd/prod");
	assert_true(json_opt_bool(b, "spec.destination.s3.forcePathStyle", false));
	assert_int_equal(json_opt_int(b, "spec.retention.keep", 0), 3);
	assert_null(json_at(b, "spec.schedule"));
	json_object_put(b);

	assert_int_equal(parse_b(&o, &err, "demo", "--to", "pvc:snaps/etcd", "--schedule", "@daily", NULL), 0);
	b = backup_object(&o, "team", "demo-daily", NULL);
	assert_string_equal(json_opt_str(b, "spec.destination.pvc.claimName", ""), "snaps");
	assert_string_equal(json_opt_str(b, "spec.destination.pvc.path", ""), "etcd");
	assert_string_equal(json_opt_str(b, "spec.schedule", ""), "@daily");
	json_object_put(b);

	assert_int_equal(parse_b(&o, &err, "demo", "--to", "etcdbackup/nightly", NULL), 0);
	assert_string_equal(o.like, "nightly");

	const char *bad[][2] = {{"s3://", "no bucket"}, {"ftp://x", "want s3://"}};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		assert_int_equal(parse_b(&o, &err, "demo", "--to", bad[i][0], NULL), -1);
		assert_non_null(strstr(err.msg, bad[i][1]));
	}
	assert_int_equal(parse_b(&o, &err, "demo", "--to", "s3://b", NULL), -1);
	assert_non_null(strstr(err.msg, "needs --endpoint and --credentials-secret"));
	assert_int_equal(parse_b(&o, &err, NULL), -1);
	assert_int_equal(parse_b(&o, &err, "demo", "--keep", "0", NULL), -1);
	assert_int_equal(parse_b(&o, &err, "demo", "--schedule", "0 25 * * *", NULL), -1);
	assert_non_null(strstr(err.msg, "--schedule: schedule \"0 25 * * *\": hour"));
	assert_int_equal(parse_b(&o, &err, "demo", "--schedule", "@daily", "--wait", NULL), -1);
}

static void test_restore(void **state)
{
	struct restore_opts o;
	struct eo_err err = {0};
	bool help;
	char *argv[] = {"copy", "--from-backup", "nightly", "--snapshot", "k.db", "--replicas", "3"};
	assert_int_equal(restore_parse_args(7, argv, &o, &help, &err), 0);
	struct eo_err e2 = {0};
	json_object *sec = json_parse("{\"tls\":{\"client\":{\"mode\":\"Auto\"}}}", 34, &e2);
	json_object *c = restore_object(&o, "team", "3.6.16", "2Gi", sec);
	assert_string_equal(json_opt_str(c, "spec.security.tls.client.mode", ""), "Auto");
	json_object_put(sec);
	assert_string_equal(json_opt_str(c, "metadata.name", ""), "copy");
	assert_int_equal(json_opt_int(c, "spec.replicas", 0), 3);
	assert_string_equal(json_opt_str(c, "spec.bootstrap.restore.backupName", ""), "nightly");
	assert_string_equal(json_opt_str(c, "spec.bootstrap.restore.key", ""), "k.db");
	assert_string_equal(json_opt_str(c, "spec.storage.size", ""), "2Gi");
	json_object_put(c);
	char *argv2[] = {"copy"};
	assert_int_equal(restore_parse_args(1, argv2, &o, &help, &err), -1);
	assert_non_null(strstr(err.msg, "--from-backup is required"));
	char *argv3[] = {"copy", "--from-backup", "b", "--replicas", "10"};
	assert_int_equal(restore_parse_args(5, argv3, &o, &help, &err), -1);
}

static void test_snapshot_table(void **state)
{
	struct eo_err err = {0};
	const char *text =
		"[{\"metadata\":{\"name\":\"nightly\"},\"status\":{\"phase\":\"Failed\",\"message\":\"s3 down\x1b[2J\","
		"\"snapshots\":[{\"key\":\"a/2.db\",\"takenAt\":\"2026-12-07T03:00:00Z\",\"revision\":20,\"size\":2048},"
		"{\"key\":\"a/1.db\",\"takenAt\":\"2026-12-06T03:00:00Z\",\"revision\":10,\"size\":1024}]}},"
		"{\"metadata\":{\"name\":\"once\"},\"status\":{\"snapshots\":[{\"key\":\"b/x.db\","
		"\"takenAt\":\"2026-12-07T12:00:00Z\",\"revision\":25,\"size\":5000000}]}}]";
	json_object *a = json_parse(text, strlen(text), &err);
	assert_non_null(a);
	struct eo_buf out = {0};
	int64_t now = 1796665530; /* 2026-12-07T17:45:30Z */
	assert_int_equal(render_snapshots(a, "demo", now, false, &out), 0);
	const char *s = out.data;
	/* newest first, with age, revision and size */
	const char *x = strstr(s, "b/x.db"), *y = strstr(s, "a/2.db"), *z = strstr(s, "a/1.db");
	assert_true(x && y && z && x < y && y < z);
	assert_non_null(strstr(s, "BACKUP"));
	assert_non_null(strstr(s, "5h45m"));
	assert_non_null(strstr(s, "4.8 MiB"));
	assert_non_null(strstr(s, "nightly: last run failed: s3 down"));
	assert_null(strchr(s, '\x1b')); /* a server's text never reaches the terminal raw */
	eo_buf_free(&out);
	json_object_put(a);
	a = json_object_new_array();
	assert_int_equal(render_snapshots(a, "demo", now, false, &out), 0);
	assert_string_equal(out.data, "No snapshots of demo yet (0 EtcdBackups).\n");
	eo_buf_free(&out);
	json_object_put(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_flags),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_snapshot_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
