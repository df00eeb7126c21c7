/*
 * Unit tests for the wire half of the etcd client (shared/etcd/etcd_parse.c):
 * answers captured from etcd 3.4.23's JSON gateway with curl, parsed into
 * structs; error text classified; ids; request bodies. No network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd.h"
#include "json.h"

#define LEN(s) (sizeof(s) - 1)

/* Member list after "member add --learner" of 127.10.201.4 whose process has
 * not started: no name, no clientURLs. Sorted by id; two ids above 2^63. */
static const char members_4[] =
	"{\"header\":{\"cluster_id\":\"11276220091559239298\",\"member_id\":\"2355298574412579808\","
	"\"raft_term\":\"85\"},\"members\":[{\"ID\":\"2355298574412579808\",\"name\":\"m1\","
	"\"peerURLs\":[\"http://127.10.201.1:2380\"],\"clientURLs\":[\"http://127.10.201.1:2379\"]},"
	"{\"ID\":\"4597841640960477017\",\"name\":\"m2\",\"peerURLs\":[\"http://127.10.201.2:2380\"],"
	"\"clientURLs\":[\"http://127.10.201.2:2379\"]},{\"ID\":\"9022898577343967640\","
	"\"peerURLs\":[\"http://127.10.201.4:2380\"],\"isLearner\":true},{\"ID\":\"15648725913275007851\","
	"\"name\":\"m3\",\"peerURLs\":[\"http://127.10.201.3:2380\"],"
	"\"clientURLs\":[\"http://127.10.201.3:2379\"]}]}";

static const char member_add[] =
	"{\"header\":{\"cluster_id\":\"11276220091559239298\",\"member_id\":\"2355298574412579808\","
	"\"raft_term\":\"2\"},\"member\":{\"ID\":\"4597841640960477017\",\"peerURLs\":"
	"[\"http://127.10.201.2:2380\"],\"isLearner\":true},\"members\":[{\"ID\":\"2355298574412579808\","
	"\"name\":\"m1\",\"peerURLs\":[\"http://127.10.201.1:2380\"],\"clientURLs\":"
	"[\"http://127.10.201.1:2379\"]},{\"ID\":\"4597841640960477017\",\"peerURLs\":"
	"[\"http://127.10.201.2:2380\"],\"isLearner\":true}]}";

static const char status_leader[] =
	"{\"header\":{\"cluster_id\":\"11276220091559239298\",\"member_id\":\"2355298574412579808\","
	"\"revision\":\"1\",\"raft_term\":\"2\"},\"version\":\"3.4.23\",\"dbSize\":\"20480\","
	"\"leader\":\"2355298574412579808\",\"raftIndex\":\"5\",\"raftTerm\":\"2\","
	"\"raftAppliedIndex\":\"5\",\"dbSizeInUse\":\"16384\"}";

static const char status_learner[] =
	"{\"header\":{\"cluster_id\":\"11276220091559239298\",\"member_id\":\"4597841640960477017\","
	"\"revision\":\"2\",\"raft_term\":\"2\"},\"version\":\"3.4.23\",\"dbSize\":\"20480\","
	"\"leader\":\"2355298574412579808\",\"raftIndex\":\"17\",\"raftTerm\":\"2\","
	"\"raftAppliedIndex\":\"17\",\"dbSizeInUse\":\"20480\",\"isLearner\":true}";

/* One member of three left: no "leader" at all, and an "errors" array. */
static const char status_no_leader[] =
	"{\"header\":{\"cluster_id\":\"11276220091559239298\",\"member_id\":\"2355298574412579808\","
	"\"revision\":\"2\",\"raft_term\":\"2\"},\"version\":\"3.4.23\",\"dbSize\":\"20480\","
	"\"raftIndex\":\"24\",\"raftTerm\":\"2\",\"raftAppliedIndex\":\"24\","
	"\"errors\":[\"etcdserver: no leader\"],\"dbSizeInUse\":\"16384\"}";

#define GW_ERR(text, code) \
	"{\"error\":\"" text "\",\"message\":\"" text "\",\"code\":" #code "}"

static void test_id_parse(void **state)
{
	uint64_t id = 0;
	assert_int_equal(etcd_id_parse("1", &id), 0);
	assert_true(id == 1);
	assert_int_equal(etcd_id_parse("18446744073709551615", &id), 0);
	assert_true(id == UINT64_MAX);
	assert_int_equal(etcd_id_parse("15648725913275007851", &id), 0);
	assert_true(id == 15648725913275007851ull);
	assert_int_equal(etcd_id_parse("0007", &id), 0);
	assert_true(id == 7);
	id = 42;
	const char *bad[] = {"18446744073709551616", "99999999999999999999", "184467440737095516150",
			     "0", "", "-1", "+1", " 1", "1 ", "12a", "0x10", "1.0", "1e3"};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		assert_int_equal(etcd_id_parse(bad[i], &id), -1);
		assert_true(id == 42); /* untouched on failure */
	}
	assert_int_equal(etcd_id_parse(NULL, &id), -1);
}

static void test_id_print(void **state)
{
	char hex[17], dec[21];
	etcd_id_hex(15648725913275007851ull, hex);
	assert_string_equal(hex, "d92b714ec035036b");
	etcd_id_hex(UINT64_MAX, hex);
	assert_string_equal(hex, "ffffffffffffffff");
	etcd_id_dec(UINT64_MAX, dec);
	assert_string_equal(dec, "18446744073709551615");
	uint64_t back;
	assert_int_equal(etcd_id_parse(dec, &back), 0);
	assert_true(back == UINT64_MAX);
}

static void test_parse_members(void **state)
{
	struct etcd_members ms;
	struct eo_err err;
	assert_int_equal(etcd_parse_members(members_4, LEN(members_4), &ms, &err), 0);
	assert_int_equal(ms.n, 4);
	assert_true(ms.cluster_id == 11276220091559239298ull);
	assert_true(ms.responder_id == 2355298574412579808ull);
	assert_string_equal(ms.m[0].name, "m1");
	assert_int_equal(ms.m[0].npeer, 1);
	assert_string_equal(ms.m[0].peer_urls[0], "http://127.10.201.1:2380");
	assert_int_equal(ms.m[0].nclient, 1);
	assert_string_equal(ms.m[0].client_urls[0], "http://127.10.201.1:2379");
	assert_false(ms.m[0].learner); /* omitted false */
	/* The learner added but not started. */
	assert_true(ms.m[2].id == 9022898577343967640ull);
	assert_string_equal(ms.m[2].name, "");
	assert_int_equal(ms.m[2].nclient, 0);
	assert_true(ms.m[2].learner);
	/* Above 2^63: must not go through a signed parse. */
	assert_true(ms.m[3].id == 15648725913275007851ull);
	assert_string_equal(ms.m[3].name, "m3");

	const struct etcd_member *m = etcd_members_find_peer(&ms, "http://127.10.201.3:2380");
	assert_non_null(m);
	assert_true(m->id == 15648725913275007851ull);
	assert_null(etcd_members_find_peer(&ms, "http://127.10.201.9:2380"));
	assert_ptr_equal(etcd_members_find_id(&ms, 9022898577343967640ull), &ms.m[2]);
	assert_null(etcd_members_find_id(&ms, 1));
}

static void expect_members_error(const char *body, const char *needle)
{
	struct etcd_members ms;
	struct eo_err err = {0};
	assert_int_equal(etcd_parse_members(body, strlen(body), &ms, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" does not contain \"%s\"", err.msg, needle);
	assert_int_equal(ms.n, 0);
}

static void test_parse_members_bad(void **state)
{
	expect_members_error("{\"members\":[{\"name\":\"x\"}]}", "members[0].ID: required field is missing");
	expect_members_error("{\"members\":[{\"ID\":\"12x\"}]}", "members[0].ID: \"12x\" is not an unsigned 64-bit decimal");
	expect_members_error("{\"members\":[{\"ID\":\"18446744073709551616\"}]}", "members[0].ID");
	expect_members_error("{\"members\":[{\"ID\":true}]}", "members[0].ID: expected a decimal string, got a boolean");
	expect_members_error("{\"members\":[{\"ID\":\"1\",\"isLearner\":\"yes\"}]}", "members[0].isLearner: expected a boolean");
	expect_members_error("{\"members\":[{\"ID\":\"1\",\"peerURLs\":\"http://a:2380\"}]}", "members[0].peerURLs: expected an array");
	expect_members_error("{\"members\":[{\"ID\":\"1\",\"peerURLs\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
			     "members[0].peerURLs: 5 URLs, this client keeps at most 4");
	expect_members_error("{\"members\":{}}", "members: expected an array");
	expect_members_error("{\"header\":{}}", "has no members");
	expect_members_error("{\"header\":{\"cluster_id\":\"x\"}}", "header.cluster_id");
	expect_members_error("[1,2]", "expected a JSON object");
	expect_members_error("{\"members\":[", "member list answer: ");
	expect_members_error("", "member list answer: ");

	struct eo_buf b = {0};
	eo_buf_printf(&b, "{\"members\":[");
	for (int i = 1; i <= ETCD_MAX_MEMBERS + 1; i++)
		eo_buf_printf(&b, "%s{\"ID\":\"%d\"}", i > 1 ? "," : "", i);
	eo_buf_printf(&b, "]}");
	expect_members_error(b.data, "17 members, this client keeps at most 16");
	eo_buf_free(&b);

	/* A JSON number id (another gateway's habit) is taken as it is. */
	struct etcd_members ms;
	struct eo_err err;
	assert_int_equal(etcd_parse_members("{\"members\":[{\"ID\":12}]}", 24, &ms, &err), 0);
	assert_true(ms.m[0].id == 12);
}

static void test_parse_member_add(void **state)
{
	struct etcd_member m;
	struct eo_err err;
	assert_int_equal(etcd_parse_member_add(member_add, LEN(member_add), &m, &err), 0);
	assert_true(m.id == 4597841640960477017ull);
	assert_true(m.learner);
	assert_string_equal(m.name, "");
	assert_int_equal(m.npeer, 1);
	assert_string_equal(m.peer_urls[0], "http://127.10.201.2:2380");
	assert_int_equal(m.nclient, 0);

	const char voter[] = "{\"member\":{\"ID\":\"77\",\"peerURLs\":[\"http://x:2380\"]}}";
	assert_int_equal(etcd_parse_member_add(voter, LEN(voter), &m, &err), 0);
	assert_false(m.learner);
	const char none[] = "{\"header\":{}}";
	assert_int_equal(etcd_parse_member_add(none, LEN(none), &m, &err), -1);
	assert_string_equal(err.msg, "member add answer: member: required field is missing");
}

static void test_parse_alarms(void **state)
{
	(void)state;
	struct etcd_alarms al;
	struct eo_err err;
	const char two[] = "{\"header\":{\"revision\":\"9\"},\"alarms\":[{\"memberID\":"
			   "\"2355298574412579808\",\"alarm\":\"NOSPACE\"},{\"memberID\":\"7\"}]}";
	assert_int_equal(etcd_parse_alarms(two, LEN(two), &al, &err), 0);
	assert_int_equal(al.n, 1); /* the second is NONE (omitted zero) */
	assert_true(al.a[0].member_id == 2355298574412579808ull);
	assert_string_equal(al.a[0].alarm, "NOSPACE");
	const char none[] = "{\"header\":{}}";
	assert_int_equal(etcd_parse_alarms(none, LEN(none), &al, &err), 0);
	assert_int_equal(al.n, 0);
}

static void test_parse_status(void **state)
{
	struct etcd_status st;
	struct eo_err err;
	assert_int_equal(etcd_parse_status(status_leader, LEN(status_leader), &st, &err), 0);
	assert_string_equal(st.version, "3.4.23");
	assert_true(st.member_id == 2355298574412579808ull);
	assert_true(st.leader == st.member_id);
	assert_true(st.cluster_id == 11276220091559239298ull);
	assert_true(st.raft_index == 5 && st.raft_term == 2 && st.raft_applied_index == 5);
	assert_int_equal(st.db_size, 20480);
	assert_int_equal(st.db_size_in_use, 16384);
	assert_false(st.is_learner);
	assert_string_equal(st.errors, "");
	assert_int_equal(st.revision, 1);
	assert_false(st.nospace);

	assert_int_equal(etcd_parse_status(status_learner, LEN(status_learner), &st, &err), 0);
	assert_true(st.is_learner);
	assert_true(st.leader == 2355298574412579808ull);
	assert_true(st.raft_applied_index == 17);

	assert_int_equal(etcd_parse_status(status_no_leader, LEN(status_no_leader), &st, &err), 0);
	assert_true(st.leader == 0);
	assert_string_equal(st.errors, "etcdserver: no leader");
	const char two[] = "{\"header\":{\"member_id\":\"5\"},\"errors\":[\"a\",\"b\"]}";
	assert_int_equal(etcd_parse_status(two, LEN(two), &st, &err), 0);
	assert_string_equal(st.errors, "a; b");
	/* the alarm as etcd 3.5 puts it among a member's errors */
	const char full[] = "{\"header\":{\"member_id\":\"5\"},\"errors\":[\"memberID:5 "
			    "alarm:NOSPACE \"]}";
	assert_int_equal(etcd_parse_status(full, LEN(full), &st, &err), 0);
	assert_true(st.nospace);
	assert_int_equal(st.db_size, 0); /* omitted zero */

	const char big[] = "{\"header\":{\"member_id\":\"5\"},\"dbSize\":\"9223372036854775808\"}";
	assert_int_equal(etcd_parse_status(big, LEN(big), &st, &err), -1);
	assert_string_equal(err.msg, "dbSize: 9223372036854775808 is out of range");
	const char anon[] = "{\"version\":\"3.4.23\"}";
	assert_int_equal(etcd_parse_status(anon, LEN(anon), &st, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
}

struct err_case {
	long http;
	const char *body;
	int code;
	const char *words; /* must appear in the message */
	bool retryable;
};

static void test_error_classification(void **state)
{
	const struct err_case cases[] = {
		{412, GW_ERR("etcdserver: too many learner members in cluster", 9), ETCD_ETOO_MANY_LEARNERS,
		 "too many learner members in cluster (etcd allows one learner at a time; promote or remove the current learner first)", false},
		{412, GW_ERR("etcdserver: can only promote a learner member which is in sync with leader", 9),
		 ETCD_ENOT_SYNCED, "can only promote a learner member which is in sync with leader (", true},
		{412, GW_ERR("etcdserver: can only promote a learner member", 9), ETCD_ENOT_LEARNER,
		 "already a voter", false},
		{412, GW_ERR("etcdserver: Peer URLs already exists", 9), ETCD_EPEER_URL_EXISTS,
		 "Peer URLs already exists", false},
		{412, GW_ERR("etcdserver: member ID already exist", 9), ETCD_EMEMBER_EXISTS,
		 "member ID already exist", false},
		{404, GW_ERR("etcdserver: member not found", 5), ETCD_EMEMBER_NOT_FOUND, "member not found", false},
		{503, GW_ERR("etcdserver: rpc not supported for learner", 14), ETCD_ELEARNER,
		 "rpc not supported for learner (this endpoint is a learner", false},
		{503, GW_ERR("etcdserver: unhealthy cluster", 14), ETCD_EUNHEALTHY, "unhealthy cluster (", true},
		{412, GW_ERR("etcdserver: not leader", 9), ETCD_ENOT_LEADER, "not leader (send it to the current leader's endpoint", false},
		{503, GW_ERR("etcdserver: no leader", 14), ETCD_ENO_LEADER, "no leader", true},
		{412, GW_ERR("etcdserver: bad leader transferee", 9), ETCD_EBAD_TRANSFEREE, "bad leader transferee", false},
		{412, GW_ERR("etcdserver: re-configuration failed due to not enough started members", 9),
		 ETCD_ENOT_ENOUGH_STARTED, "not enough started members", true},
		{503, GW_ERR("etcdserver: leader changed", 14), ETCD_ELEADER_CHANGED, "leader changed", true},
		{503, GW_ERR("etcdserver: request timed out", 14), ETCD_ETIMEDOUT, "request timed out", true},
		{503, GW_ERR("etcdserver: request timed out, possibly due to previous leader failure", 14),
		 ETCD_ETIMEDOUT, "possibly due to previous leader failure", true},
		{500, GW_ERR("context deadline exceeded", 2), ETCD_ETIMEDOUT, "context deadline exceeded", true},
		{400, GW_ERR("invalid character 'g' looking for beginning of value", 3), ETCD_EOTHER,
		 "invalid character 'g' looking for beginning of value (HTTP 400, gRPC code 3)", false},
		/* Not the gateway's shape: the HTTP status stays the code. */
		{404, "Not Found\n", 404, "HTTP 404: Not Found (not an etcd v3 gateway answer", false},
		{405, "Method Not Allowed\n", 405, "HTTP 405: Method Not Allowed", false},
		{502, "", 502, "HTTP 502 (not an etcd", true},
		{500, "{\"oops\":1}", 500, "HTTP 500: {\"oops\":1}", false},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		struct eo_err err = {0};
		const struct err_case *c = &cases[i];
		assert_int_equal(etcd_parse_error(c->http, c->body, strlen(c->body), &err), -1);
		if (err.code != c->code || !strstr(err.msg, c->words))
			fail_msg("case %zu: got code %d \"%s\", want %d with \"%s\"", i, err.code,
				 err.msg, c->code, c->words);
		if (strncmp(err.msg, "etcdserver: ", 12) == 0)
			fail_msg("case %zu: prefix kept: %s", i, err.msg);
		assert_int_equal(etcd_err_retryable(&err), c->retryable);
		/* "not yet" is the cluster's own answer: retryable, never a timeout */
		bool not_yet = c->code == ETCD_ENOT_SYNCED || c->code == ETCD_EUNHEALTHY ||
			       c->code == ETCD_ENO_LEADER || c->code == ETCD_ENOT_ENOUGH_STARTED ||
			       c->code == ETCD_ELEADER_CHANGED;
		assert_int_equal(etcd_err_not_yet(&err), not_yet);
	}
	assert_int_equal(etcd_classify(NULL), ETCD_EOTHER);
	assert_int_equal(etcd_classify("etcdserver: NOT LEADER"), ETCD_ENOT_LEADER);
	assert_string_equal(etcd_err_name(ETCD_ENOT_SYNCED), "ENOT_SYNCED");
	assert_string_equal(etcd_err_name(ETCD_ETIMEDOUT), "ETIMEDOUT");
	assert_string_equal(etcd_err_name(EO_ETIMEOUT), "ETIMEOUT");
	assert_string_equal(etcd_err_name(503), "HTTP");

	struct eo_err e = {.code = EO_ETRANSPORT};
	assert_true(etcd_err_retryable(&e));
	e.code = EO_ETIMEOUT;
	assert_true(etcd_err_retryable(&e));
	e.code = EO_EINVAL;
	assert_false(etcd_err_retryable(&e));
	assert_false(etcd_err_retryable(NULL));
	e.code = EO_ETRANSPORT;
	assert_false(etcd_err_not_yet(&e));
	assert_false(etcd_err_not_yet(NULL));
}

static void test_parse_range(void **state)
{
	struct eo_err err;
	char *val;
	size_t len;
	int64_t count;
	const char hit[] = "{\"header\":{\"revision\":\"2\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\","
			   "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"AP9rgA==\"}],\"count\":\"1\"}";
	assert_int_equal(etcd_parse_range(hit, LEN(hit), &val, &len, &count, &err), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(val, "\x00\xffk\x80", 4);
	assert_int_equal(val[4], '\0');
	assert_int_equal(count, 1);
	free(val);

	const char miss[] = "{\"header\":{\"revision\":\"2\"}}";
	val = (char *)1;
	assert_int_equal(etcd_parse_range(miss, LEN(miss), &val, &len, &count, &err), 0);
	assert_null(val);
	assert_int_equal(count, 0); /* omitted */

	const char empty_val[] = "{\"kvs\":[{\"key\":\"Zm9v\"}],\"count\":\"1\"}";
	assert_int_equal(etcd_parse_range(empty_val, LEN(empty_val), &val, &len, NULL, &err), 0);
	assert_non_null(val);
	assert_int_equal(len, 0);
	free(val);

	const char counted[] = "{\"count\":\"123456789012\"}";
	assert_int_equal(etcd_parse_range(counted, LEN(counted), NULL, NULL, &count, &err), 0);
	assert_true(count == 123456789012ll);

	const char bad[] = "{\"kvs\":[{\"value\":\"###\"}],\"count\":\"1\"}";
	assert_int_equal(etcd_parse_range(bad, LEN(bad), &val, &len, &count, &err), -1);
	assert_null(val);
	assert_non_null(strstr(err.msg, "kvs[0].value: base64"));
}

static void test_parse_health(void **state)
{
	struct eo_err err;
	assert_int_equal(etcd_parse_health(200, "{\"health\":\"true\"}", 17, &err), 0);
	assert_int_equal(etcd_parse_health(503, "{\"health\":\"false\"}", 18, &err), -1);
	assert_int_equal(err.code, 503);
	assert_true(etcd_err_retryable(&err));
	assert_non_null(strstr(err.msg, "not healthy"));
	const char why[] = "{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}";
	assert_int_equal(etcd_parse_health(503, why, LEN(why), &err), -1);
	assert_non_null(strstr(err.msg, "not healthy: RAFT NO LEADER"));
	assert_int_equal(etcd_parse_health(200, "{}", 2, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
	assert_int_equal(etcd_parse_health(404, "Not Found", 9, &err), -1);
	assert_int_equal(err.code, 404);
}

/* Decode one base64 field of a request body. */
static size_t body_field(const char *body, const char *field, char **out)
{
	struct eo_err err;
	json_object *o = json_parse(body, strlen(body), &err);
	assert_non_null(o);
	const char *b64 = json_opt_str(o, field, NULL);
	assert_non_null(b64);
	size_t len;
	assert_int_equal(eo_b64_decode(b64, strlen(b64), out, &len, &err), 0);
	json_object_put(o);
	return len;
}

static void test_body_put_binary(void **state)
{
	const char key[] = {0x00, (char)0xff, 'k', (char)0x80};
	char *body = etcd_body_put(key, sizeof(key), "v\0w", 3);
	assert_string_equal(body, "{\"key\":\"AP9rgA==\",\"value\":\"dgB3\"}");
	char *k, *v;
	assert_int_equal(body_field(body, "key", &k), sizeof(key));
	assert_memory_equal(k, key, sizeof(key));
	assert_int_equal(body_field(body, "value", &v), 3);
	assert_memory_equal(v, "v\0w", 3);
	free(k);
	free(v);
	free(body);
}

static void expect_range(const void *key, size_t klen, const void *want_end, size_t want_len)
{
	char *body = etcd_body_range(key, klen, true, true);
	char *end;
	size_t n = body_field(body, "range_end", &end);
	assert_int_equal(n, want_len);
	assert_memory_equal(end, want_end, want_len);
	assert_non_null(strstr(body, "\"count_only\":true"));
	free(end);
	free(body);
}

static void test_body_range(void **state)
{
	expect_range("abc", 3, "abd", 3);
	expect_range("a\xff", 2, "b", 1);
	expect_range("a\xfe\xff\xff", 4, "a\xff", 2);
	expect_range("\xff\xff", 2, "\0", 1);
	expect_range("", 0, "\0", 1); /* everything */

	char *body = etcd_body_range("k", 1, false, false);
	assert_string_equal(body, "{\"key\":\"aw==\"}");
	free(body);
}

static void test_initial_cluster(void **state)
{
	struct etcd_members ms;
	struct eo_err err;
	char out[512];
	assert_int_equal(etcd_parse_members(members_4, LEN(members_4), &ms, &err), 0);
	assert_int_equal(etcd_initial_cluster(&ms, 9022898577343967640ull, "m4", out, sizeof(out)), 0);
	assert_string_equal(out, "m1=http://127.10.201.1:2380,m2=http://127.10.201.2:2380,"
				 "m4=http://127.10.201.4:2380,m3=http://127.10.201.3:2380");
	char small[40];
	assert_int_equal(etcd_initial_cluster(&ms, 1, "x", small, sizeof(small)), -1);
}

static void test_client_bad_input(void **state)
{
	struct eo_err err;
	assert_null(etcd_client_new(NULL, 0, NULL, 0, &err));
	assert_int_equal(err.code, EO_EINVAL);
	const char *bad[] = {"127.0.0.1:2379"};
	assert_null(etcd_client_new(bad, 1, NULL, 0, &err));
	assert_string_equal(err.msg, "etcd client: endpoint \"127.0.0.1:2379\" is not an http:// or https:// URL");
	const char *good[] = {"http://127.0.0.1:1/"};
	struct etcd_tls half = {.cert_file = "/x.crt"};
	assert_null(etcd_client_new(good, 1, &half, 0, &err));
	assert_non_null(strstr(err.msg, "needs both cert_file and key_file"));

	/* Bad arguments are refused before any I/O. */
	struct etcd_client *c = etcd_client_new(good, 1, NULL, 100, &err);
	assert_non_null(c);
	assert_int_equal(etcd_member_add(c, "127.0.0.2:2380", true, NULL, &err), -1);
	assert_int_equal(err.code, EO_EINVAL);
	assert_int_equal(etcd_member_add(c, "http://a:1\",\"x", true, NULL, &err), -1);
	assert_int_equal(err.code, EO_EINVAL);
	assert_int_equal(etcd_member_remove(c, 0, &err), -1);
	assert_int_equal(err.code, EO_EINVAL);
	assert_int_equal(etcd_move_leader(c, good[0], 0, &err), -1);
	assert_int_equal(err.code, EO_EINVAL);
	assert_int_equal(etcd_put(c, "", "v", 1, &err), -1);
	assert_int_equal(err.code, EO_EINVAL);
	etcd_client_free(c);
	etcd_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_alarms),
		cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_id_print),
		cmocka_unit_test(test_parse_members),
		cmocka_unit_test(test_parse_members_bad),
		cmocka_unit_test(test_parse_member_add),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_error_classification),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_health),
		cmocka_unit_test(test_body_put_binary),
		cmocka_unit_test(test_body_range),
		cmocka_unit_test(test_initial_cluster),
		cmocka_unit_test(test_client_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
