/*
 * test_backup.c — the pure parts of backups: the cron schedule, the
 * EtcdBackup model (parse, status, keys, retention, next run, staleness),
 * the S3 client's URL/XML helpers and etcd's snapshot check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "backup.h"
#include "cron.h"
#include "json.h"
#include "s3.h"
#include "snapshot.h"

/* 2026-12-07T17:45:30Z, a Monday */
#define T0 1796665530LL

static int64_t at(const char *rfc3339)
{
	int64_t t = 0;
	assert_int_equal(eo_rfc3339_parse(rfc3339, &t), 0);
	return t;
}

static int64_t next(const char *expr, const char *after)
{
	struct cron c;
	struct eo_err err = {0};
	if (cron_parse(expr, &c, &err) != 0)
		fail_msg("%s: %s", expr, err.msg);
	return cron_next(&c, at(after));
}

static void test_cron_next(void **state)
{
	assert_int_equal(next("* * * * *", "2026-12-07T17:45:30Z"), at("2026-12-07T17:46:00Z"));
	assert_int_equal(next("* * * * *", "2026-12-07T17:46:00Z"), at("2026-12-07T17:47:00Z"));
	assert_int_equal(next("*/15 * * * *", "2026-12-07T17:45:30Z"), at("2026-12-07T18:00:00Z"));
	assert_int_equal(next("0 3 * * *", "2026-12-07T17:45:30Z"), at("2026-12-08T03:00:00Z"));
	assert_int_equal(next("@daily", "2026-12-31T23:59:59Z"), at("2027-01-01T00:00:00Z"));
	assert_int_equal(next("@hourly", "2026-12-07T17:00:00Z"), at("2026-12-07T18:00:00Z"));
	/* weekdays: Mon-Fri at 02:30; after Friday 03:00 comes Monday */
	assert_int_equal(next("30 2 * * 1-5", "2026-12-11T03:00:00Z"), at("2026-12-14T02:30:00Z"));
	assert_int_equal(next("0 0 * * SUN", "2026-12-07T00:00:00Z"), at("2026-12-13T00:00:00Z"));
	assert_int_equal(next("0 0 * * 7", "2026-12-07T00:00:00Z"), at("2026-12-13T00:00:00Z"));
	/* day of month OR day of week when both are restricted */
	assert_int_equal(next("0 0 15 * MON", "2026-12-08T00:00:00Z"), at("2026-12-14T00:00:00Z"));
	assert_int_equal(next("0 0 1,15 JAN,JUL *", "2026-12-07T00:00:00Z"), at("2027-01-01T00:00:00Z"));
	assert_int_equal(next("0 12 29 2 *", "2026-12-07T00:00:00Z"), at("2028-02-29T12:00:00Z"));
	assert_int_equal(next("5-10/5 * * * *", "2026-12-07T17:06:00Z"), at("2026-12-07T17:10:00Z"));
	struct cron c;
	struct eo_err err = {0};
	assert_int_equal(cron_parse("0 0 30 2 *", &c, &err), 0);
	assert_int_equal(cron_next(&c, T0), -1); /* never */
	assert_int_equal(cron_parse("*/10 * * * *", &c, &err), 0);
	assert_int_equal(cron_period(&c, T0), 600);
	assert_int_equal(cron_parse("@daily", &c, &err), 0);
	assert_int_equal(cron_period(&c, T0), 86400);
	assert_int_equal(cron_parse("0 3 * * 1-5", &c, &err), 0);
	assert_int_equal(cron_period(&c, T0), 86400);
}

static void test_cron_errors(void **state)
{
	struct cron c;
	struct eo_err err = {0};
	const char *bad[][2] = {
		{"", "0 fields"},
		{"* * * *", "4 fields"},
		{"* * * * * *", "more than five"},
		{"60 * * * *", "minute: 60 is out of range 0-59"},
		{"0 24 * * *", "hour: 24 is out of range"},
		{"0 0 0 * *", "day of month: 0 is out of range 1-31"},
		{"0 0 * 13 *", "month: 13"},
		{"0 0 * * 8", "day of week: 8"},
		{"*/0 * * * *", "step"},
		{"5-2 * * * *", "backwards"},
		{"a * * * *", "minute"},
		{"1,,2 * * * *", "minute"},
		{"@fortnightly", "unknown macro"},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		assert_int_equal(cron_parse(bad[i][0], &c, &err), -1);
		if (!strstr(err.msg, bad[i][1]))
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i][0], err.msg, bad[i][1]);
	}
}

static json_object *obj(const char *text)
{
	struct eo_err err = {0};
	json_object *o = json_parse(text, strlen(text), &err);
	if (!o)
		fail_msg("%s", err.msg);
	return o;
}

#define BACKUP(spec, status)                                                                       \
	"{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdBackup\",\"metadata\":{"     \
	"\"name\":\"nightly\",\"namespace\":\"team\",\"uid\":\"u1\",\"generation\":2},\"spec\":" spec \
	",\"status\":" status "}"
#define S3DEST "\"destination\":{\"s3\":{\"endpoint\":\"http://s3:8333\",\"bucket\":\"b\","        \
	       "\"prefix\":\"etcd/\",\"credentialsSecret\":\"creds\",\"forcePathStyle\":true}}"

static void test_backup_parse(void **state)
{
	struct etcd_backup b;
	struct eo_err err = {0};
	json_object *o = obj(BACKUP("{\"clusterName\":\"demo\",\"schedule\":\"0 3 * * *\","
				    "\"retention\":{\"keep\":3}," S3DEST "}",
				    "{\"phase\":\"Succeeded\",\"lastSnapshot\":{\"key\":\"k2\",\"revision\":9,"
				    "\"size\":100,\"sha256\":\"ab\",\"takenAt\":\"2026-12-07T03:00:00Z\"},"
				    "\"snapshots\":[{\"key\":\"k2\"},{\"key\":\"k1\"}],"
				    "\"lastScheduleTime\":\"2026-12-07T03:00:00Z\","
				    "\"lastSuccessfulTime\":\"2026-12-07T03:00:05Z\"}"));
	assert_int_equal(backup_parse(o, &b, &err), 0);
	assert_string_equal(b.spec.cluster_name, "demo");
	assert_int_equal(b.spec.keep, 3);
	assert_int_equal(b.spec.dest, EB_DEST_S3);
	assert_string_equal(b.spec.s3.prefix, "etcd"); /* trailing slash dropped */
	assert_true(b.spec.s3.force_path_style);
	assert_int_equal(b.status.phase, EB_SUCCEEDED);
	assert_true(b.status.has_last);
	assert_int_equal(b.status.last.revision, 9);
	assert_int_equal(b.status.nsnapshots, 2);
	char key[512];
	assert_int_equal(backup_key(&b, at("2026-12-07T17:45:30Z"), key, sizeof(key)), 0);
	assert_string_equal(key, "etcd/team/demo/nightly-20261207T174530Z.db");
	json_object_put(o);

	const char *bad[][2] = {
		{BACKUP("{\"schedule\":\"@daily\"," S3DEST "}", "{}"), "spec.clusterName: required"},
		{BACKUP("{\"clusterName\":\"d\",\"retention\":{\"keep\":0}," S3DEST "}", "{}"),
		 "spec.retention.keep"},
		{BACKUP("{\"clusterName\":\"d\",\"schedule\":\"0 25 * * *\"," S3DEST "}", "{}"),
		 "spec.schedule: schedule \"0 25 * * *\": hour"},
		{BACKUP("{\"clusterName\":\"d\",\"destination\":{}}", "{}"), "exactly one of s3 and pvc"},
		{BACKUP("{\"clusterName\":\"d\",\"destination\":{\"s3\":{\"bucket\":\"b\","
			"\"credentialsSecret\":\"c\"}}}", "{}"), "spec.destination.s3.endpoint: required"},
		{BACKUP("{\"clusterName\":\"d\",\"destination\":{\"pvc\":{\"claimName\":\"c\","
			"\"path\":\"../x\"}}}", "{}"), "must not hold"},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		o = obj(bad[i][0]);
		assert_int_equal(backup_parse(o, &b, &err), -1);
		if (!strstr(err.msg, bad[i][1]))
			fail_msg("got \"%s\", want \"%s\"", err.msg, bad[i][1]);
		json_object_put(o);
	}
}

static void snap(struct eb_snapshot *s, const char *key)
{
	memset(s, 0, sizeof(*s));
	eo_strlcpy(s->key, key, sizeof(s->key));
}

/* Retention keeps exactly keep, newest first, and never drops the newest. */
static void test_retention(void **state)
{
	struct eb_status st;
	memset(&st, 0, sizeof(st));
	struct eb_snapshot s, drop[EB_MAX_KEEP];
	int ndrop;
	char k[16];
	for (int i = 0; i < 6; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snap(&s, k);
		backup_record(&st, &s, 3, drop, &ndrop);
		assert_int_equal(ndrop, i >= 3 ? 1 : 0);
		if (ndrop)
			assert_int_equal(drop[0].key[1] - '0', i - 3);
	}
	assert_int_equal(st.nsnapshots, 3);
	assert_string_equal(st.snapshots[0].key, "k5");
	assert_string_equal(st.snapshots[2].key, "k3");
	assert_string_equal(st.last.key, "k5");
	/* keep lowered to 1: everything but the newest goes */
	snap(&s, "k6");
	backup_record(&st, &s, 1, drop, &ndrop);
	assert_int_equal(st.nsnapshots, 1);
	assert_int_equal(ndrop, 3);
	/* keep 0 is read as 1: the newest always stays */
	snap(&s, "k7");
	backup_record(&st, &s, 0, drop, &ndrop);
	assert_int_equal(st.nsnapshots, 1);
	assert_string_equal(st.snapshots[0].key, "k7");
	/* the same key again replaces, never duplicates */
	backup_record(&st, &s, 5, drop, &ndrop);
	assert_int_equal(st.nsnapshots, 1);
	assert_int_equal(ndrop, 0);
}

static void test_status_json(void **state)
{
	struct eb_status st;
	memset(&st, 0, sizeof(st));
	st.phase = EB_RUNNING;
	eo_strlcpy(st.started_at, "2026-12-07T17:45:30Z", sizeof(st.started_at));
	st.bytes = 10;
	st.total_bytes = 100;
	backup_set_ready(&st, false, "SnapshotFailed", "s3 down", "2026-12-07T17:45:31Z");
	json_object *j = backup_status_json(&st);
	assert_string_equal(json_opt_str(j, "phase", ""), "Running");
	assert_int_equal(json_opt_int(j, "progress.totalBytes", 0), 100);
	assert_string_equal(json_opt_str(j, "conditions[0].reason", ""), "SnapshotFailed");
	json_object_put(j);
	/* a transition time moves only when the status does */
	backup_set_ready(&st, false, "SnapshotFailed", "again", "2026-12-07T18:00:00Z");
	assert_string_equal(st.ready.last_transition, "2026-12-07T17:45:31Z");
	backup_set_ready(&st, true, "SnapshotTaken", "ok", "2026-12-07T18:00:00Z");
	assert_string_equal(st.ready.last_transition, "2026-12-07T18:00:00Z");
}

static void test_next_run_and_stale(void **state)
{
	struct etcd_backup b;
	memset(&b, 0, sizeof(b));
	int64_t n;
	struct eo_err err = {0};
	/* one-time: now until it ran */
	assert_int_equal(backup_next_run(&b, T0 - 100, T0, &n, &err), 0);
	assert_int_equal(n, T0);
	b.status.phase = EB_SUCCEEDED;
	assert_int_equal(backup_next_run(&b, T0 - 100, T0, &n, &err), 0);
	assert_int_equal(n, -1);
	/* scheduled: from the last start, else from creation */
	eo_strlcpy(b.spec.schedule, "*/10 * * * *", sizeof(b.spec.schedule));
	assert_int_equal(backup_next_run(&b, at("2026-12-07T17:41:00Z"), T0, &n, &err), 0);
	assert_int_equal(n, at("2026-12-07T17:50:00Z"));
	eo_strlcpy(b.status.last_schedule_time, "2026-12-07T17:50:00Z", sizeof(b.status.last_schedule_time));
	assert_int_equal(backup_next_run(&b, 0, T0, &n, &err), 0);
	assert_int_equal(n, at("2026-12-07T18:00:00Z"));
	/* stale: last success older than twice the period (10 min) */
	int64_t age, period;
	eo_strlcpy(b.status.last_success_time, "2026-12-07T17:30:00Z", sizeof(b.status.last_success_time));
	assert_false(backup_stale(&b, 0, at("2026-12-07T17:49:00Z"), &age, &period));
	assert_int_equal(period, 600);
	assert_true(backup_stale(&b, 0, at("2026-12-07T17:50:01Z"), &age, &period));
	assert_int_equal(age, 20 * 60 + 1);
	b.spec.schedule[0] = '\0';
	assert_false(backup_stale(&b, 0, at("2027-12-07T17:50:01Z"), &age, &period));
}

static void test_s3_helpers(void **state)
{
	char *u = s3_url("http://127.0.0.1:8333/", "bkt", true, "a b/c+d.db", "partNumber=1&uploadId=x");
	assert_string_equal(u, "http://127.0.0.1:8333/bkt/a%20b/c%2Bd.db?partNumber=1&uploadId=x");
	free(u);
	u = s3_url("https://s3.eu-west-1.amazonaws.com", "bkt", false, "k", NULL);
	assert_string_equal(u, "https://bkt.s3.eu-west-1.amazonaws.com/k");
	free(u);
	assert_null(s3_url("no-scheme", "b", true, "k", NULL));
	u = s3_uri_encode("a/b=c~", false);
	assert_string_equal(u, "a%2Fb%3Dc~");
	free(u);
	const char *xml = "<R><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
			  "<Contents><Key>c</Key></Contents></R>";
	const char *pos = xml;
	char item[256], key[64];
	assert_int_equal(s3_xml_next(xml, "Contents", &pos, item, sizeof(item)), 0);
	assert_int_equal(s3_xml_next(item, "Key", NULL, key, sizeof(key)), 0);
	assert_string_equal(key, "a&b");
	assert_int_equal(s3_xml_next(xml, "Contents", &pos, item, sizeof(item)), 0);
	assert_int_equal(s3_xml_next(xml, "Contents", &pos, item, sizeof(item)), -1);
	char msg[200];
	s3_error_text(403, "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>", msg,
		      sizeof(msg));
	assert_string_equal(msg, "HTTP 403 SignatureDoesNotMatch: no");
	s3_error_text(502, NULL, msg, sizeof(msg));
	assert_string_equal(msg, "HTTP 502");
	const char etags[2][80] = {"\"e1\"", "\"e2\""};
	char *body = s3_complete_body(etags, 2);
	assert_string_equal(body, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e1\""
			    "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\"e2\"</ETag></Part>"
			    "</CompleteMultipartUpload>");
	free(body);
	assert_int_equal(s3_part_size(100LL << 20, 16LL << 20), 16LL << 20);
	int64_t p = s3_part_size(1LL << 40, 16LL << 20); /* 1 TiB: within 10000 parts */
	assert_true((1LL << 40) / p < 10000);
}

/* etcd's snapshot: a database then the SHA-256 of it; the check passes on
 * the whole file in any pieces and fails on a flip or a cut. */
static void make_snapshot(unsigned char *buf, size_t dblen)
{
	for (size_t i = 0; i < dblen; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	unsigned int l;
	EVP_Digest(buf, dblen, buf + dblen, &l, EVP_sha256(), NULL);
}

static int check(const unsigned char *buf, size_t len, size_t piece, char sha[65])
{
	struct snap_check k;
	struct eo_err err = {0};
	assert_int_equal(snap_check_init(&k, &err), 0);
	for (size_t off = 0; off < len; off += piece)
		snap_check_feed(&k, buf + off, len - off < piece ? len - off : piece);
	return snap_check_finish(&k, sha, &err);
}

static void test_snapshot_check(void **state)
{
	size_t dblen = 5000;
	unsigned char *buf = malloc(dblen + 32);
	make_snapshot(buf, dblen);
	char sha[65], sha2[65];
	const size_t pieces[] = {1, 7, 31, 32, 33, 4096, 100000};
	for (size_t i = 0; i < EO_ARRAY_LEN(pieces); i++) {
		assert_int_equal(check(buf, dblen + 32, pieces[i], sha), 0);
		if (i == 0)
			memcpy(sha2, sha, sizeof(sha));
		assert_string_equal(sha, sha2);
	}
	buf[100] ^= 1;
	assert_int_equal(check(buf, dblen + 32, 33, sha), -1);
	buf[100] ^= 1;
	assert_int_equal(check(buf, dblen + 32 - 1, 33, sha), -1);
	assert_int_equal(check(buf, 10, 33, sha), -1);
	free(buf);
	/* one line of the stream */
	char *blob;
	size_t n;
	int64_t rem;
	char version[16];
	struct eo_err err = {0};
	const char *line = "{\"result\":{\"blob\":\"aGVsbG8=\",\"remainingBytes\":\"20\",\"version\":\"3.6.0\"}}";
	assert_int_equal(snap_parse_line(line, strlen(line), &blob, &n, &rem, version, sizeof(version), &err), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(blob, "hello", 5);
	assert_int_equal(rem, 20);
	assert_string_equal(version, "3.6.0");
	free(blob);
	line = "{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: stopped\"}}";
	assert_int_equal(snap_parse_line(line, strlen(line), &blob, &n, &rem, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "etcdserver: stopped"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cron_next),
		cmocka_unit_test(test_cron_errors),
		cmocka_unit_test(test_backup_parse),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_next_run_and_stale),
		cmocka_unit_test(test_s3_helpers),
		cmocka_unit_test(test_snapshot_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
