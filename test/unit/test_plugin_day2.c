/* Unit tests for the plugin's day-2 reads, the pure parts: which Events are
 * this cluster's (by uid, not name), the API server proxy paths, the live
 * member view built from etcd's answers, health verdicts and alarms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../plugin/live.h"
#include "../../plugin/plugin.h"
#include "../../plugin/render.h"
#include "json.h"

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

/* A re-created cluster of the same name has another uid: the old one's
 * Events are not shown for it. */
static void test_events_matched_by_uid(void **state)
{
	(void)state;
	json_object *obj = parse("{\"metadata\":{\"name\":\"demo\",\"uid\":\"new-uid\"}}");
	json_object *events = parse(
		"[{\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\",\"uid\":\"old-uid\"},\"reason\":\"Old\"},"
		"{\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\",\"uid\":\"new-uid\"},\"reason\":\"New\"},"
		"{\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\"},\"reason\":\"NoUid\"}]");
	json_object *mine = status_events_of(events, obj);
	assert_int_equal(json_object_array_length(mine), 1);
	assert_string_equal(json_opt_str(json_object_array_get_idx(mine, 0), "reason", ""), "New");
	json_object_put(mine);
	json_object_put(events);
	json_object_put(obj);
}

static void test_proxy_path(void **state)
{
	(void)state;
	char *p = live_proxy_path("team-a", "demo-0", 2379, "/v3/maintenance/status");
	assert_string_equal(p, "/api/v1/namespaces/team-a/pods/demo-0:2379/proxy/v3/maintenance/status");
	free(p);
}

static void test_health_verdicts(void **state)
{
	(void)state;
	char why[300];
	const char ok[] = "{\"health\":\"true\",\"reason\":\"\"}";
	assert_true(live_health_verdict(200, ok, strlen(ok), NULL, why, sizeof(why)));
	const char bad[] = "{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}";
	assert_false(live_health_verdict(503, bad, strlen(bad), NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "RAFT NO LEADER"));
	/* the API server's own answer: the Pod is not there */
	const char st[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			  "\"message\":\"error trying to reach service: dial tcp 10.0.0.3:2379: connect: connection refused\","
			  "\"code\":503}";
	assert_false(live_health_verdict(503, st, strlen(st), NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "unreachable through the API server"));
	assert_non_null(strstr(why, "connection refused"));
	assert_false(live_health_verdict(0, "", 0, "timed out", why, sizeof(why)));
	assert_non_null(strstr(why, "timed out"));
}

static void test_alarms_parsed(void **state)
{
	(void)state;
	struct etcd_alarms al;
	struct eo_err err;
	const char none[] = "{\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\"}}";
	assert_int_equal(etcd_parse_alarms(none, strlen(none), &al, &err), 0);
	assert_int_equal(al.n, 0);
	const char two[] = "{\"header\":{},\"alarms\":[{\"memberID\":\"10276657743932975437\",\"alarm\":\"NOSPACE\"},"
			   "{\"memberID\":\"7\",\"alarm\":\"CORRUPT\"}]}";
	assert_int_equal(etcd_parse_alarms(two, strlen(two), &al, &err), 0);
	assert_int_equal(al.n, 2);
	assert_true(al.a[0].member_id == 10276657743932975437ULL);
	assert_string_equal(al.a[0].alarm, "NOSPACE");
	assert_string_equal(al.a[1].alarm, "CORRUPT");
	const char badid[] = "{\"alarms\":[{\"memberID\":\"x\",\"alarm\":\"NOSPACE\"}]}";
	assert_int_equal(etcd_parse_alarms(badid, strlen(badid), &al, &err), -1);
	assert_non_null(strstr(err.msg, "alarms[0]"));
}

/* Three members: the list from one, statuses from two; the third did not
 * answer and says why. */
static void make_view(struct live_view *v)
{
	struct etcd_members ms;
	memset(&ms, 0, sizeof(ms));
	ms.n = 3;
	for (int i = 0; i < 3; i++) {
		ms.m[i].id = 100 + (uint64_t)i;
		snprintf(ms.m[i].name, sizeof(ms.m[i].name), "demo-%d", i);
		snprintf(ms.m[i].peer_urls[0], 256, "http://demo-%d.demo-peer:2380", i);
		ms.m[i].npeer = 1;
		snprintf(ms.m[i].client_urls[0], 256, "http://demo-%d.demo-peer:2379", i);
		ms.m[i].nclient = 1;
	}
	static struct etcd_status s0, s1;
	memset(&s0, 0, sizeof(s0));
	s0.member_id = 100;
	s0.leader = 101;
	s0.raft_term = 4;
	s0.raft_index = 812;
	s0.raft_applied_index = 812;
	s0.db_size = 2097152;
	s0.db_size_in_use = 1048576;
	snprintf(s0.version, sizeof(s0.version), "3.6.5");
	s1 = s0;
	s1.member_id = 101;
	snprintf(s1.errors, sizeof(s1.errors), "NOSPACE");
	const struct etcd_status *st[3] = {&s0, &s1, NULL};
	const char *why[3] = {NULL, NULL, "error trying to reach service: connection refused"};
	live_view_build(&ms, st, why, "demo-0", v);
}

static void test_live_view_roles_and_table(void **state)
{
	(void)state;
	struct live_view v;
	make_view(&v);
	assert_int_equal(v.leader, 101);
	assert_string_equal(live_role(&v, &v.m[0]), "follower");
	assert_string_equal(live_role(&v, &v.m[1]), "leader");
	struct eo_buf b = {0};
	assert_int_equal(live_render_members(&v, false, false, &b), 0);
	assert_non_null(strstr(b.data, "ID"));
	assert_non_null(strstr(b.data, "IN USE"));
	assert_non_null(strstr(b.data, "2.0 MiB"));
	assert_non_null(strstr(b.data, "1.0 MiB"));
	assert_non_null(strstr(b.data, "demo-2: no status: error trying to reach service"));
	assert_non_null(strstr(b.data, "demo-1: NOSPACE"));
	assert_null(strstr(b.data, "APPLIED"));
	eo_buf_free(&b);
	assert_int_equal(live_render_members(&v, true, false, &b), 0);
	assert_non_null(strstr(b.data, "APPLIED"));
	eo_buf_free(&b);
	json_object *j = live_members_json(&v, "default", "demo");
	assert_string_equal(json_opt_str(j, "source", ""), "etcd");
	assert_string_equal(json_opt_str(j, "leader", ""), "101");
	json_object *ms = json_at(j, "members");
	assert_int_equal(json_object_array_length(ms), 3);
	json_object *m1 = json_object_array_get_idx(ms, 1);
	assert_true(json_opt_bool(m1, "isLeader", false));
	assert_string_equal(json_opt_str(m1, "raftTerm", ""), "4");
	assert_int_equal(json_opt_int(m1, "dbSizeInUse", 0), 1048576);
	assert_non_null(strstr(json_opt_str(json_object_array_get_idx(ms, 2), "error", ""), "refused"));
	json_object_put(j);
}

/* Client TLS: the controller's published members, said to be that. */
static void test_view_from_status(void **state)
{
	(void)state;
	struct etcd_cluster c;
	memset(&c, 0, sizeof(c));
	c.status.nmembers = 2;
	snprintf(c.status.members[0].name, 64, "demo-0");
	snprintf(c.status.members[0].id, 24, "100");
	c.status.members[0].leader = true;
	c.status.members[0].db_size = 20480;
	snprintf(c.status.members[1].name, 64, "demo-1");
	snprintf(c.status.members[1].id, 24, "101");
	c.status.members[1].learner = true;
	struct live_view v;
	live_view_from_status(&c, &v);
	assert_true(v.from_status);
	assert_int_equal(v.n, 2);
	assert_string_equal(live_role(&v, &v.m[0]), "leader");
	assert_string_equal(live_role(&v, &v.m[1]), "learner");
	json_object *j = live_members_json(&v, "default", "demo");
	assert_string_equal(json_opt_str(j, "source", ""), "status");
	assert_null(json_at(json_object_array_get_idx(json_at(j, "members"), 0), "raftTerm"));
	json_object_put(j);
	struct eo_buf b = {0};
	assert_int_equal(live_render_members(&v, false, false, &b), 0);
	assert_non_null(strstr(b.data, "20 KiB"));
	eo_buf_free(&b);
}

/* status -o wide adds the leader and the conditions; -o name is TYPE/NAME. */
static void test_status_wide_and_name(void **state)
{
	(void)state;
	json_object *list = parse(
		"{\"items\":[{\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\","
		"\"creationTimestamp\":\"2026-11-29T05:55:00Z\"},\"spec\":{\"replicas\":3,\"version\":\"3.6.5\"},"
		"\"status\":{\"phase\":\"Running\",\"replicas\":3,\"readyReplicas\":2,\"leader\":\"demo-1\","
		"\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"},{\"type\":\"Degraded\",\"status\":\"True\"}]}}]}");
	struct eo_buf b = {0};
	assert_int_equal(render_cluster_table_ex(list, false, true, "default", 1795932000, false, &b), 0);
	const char *hdr = b.data;
	assert_true(strncmp(hdr, "NAME", 4) == 0);
	assert_non_null(strstr(hdr, "LEADER"));
	assert_non_null(strstr(hdr, "DEGRADED"));
	assert_non_null(strstr(hdr, "demo-1"));
	assert_non_null(strstr(hdr, "off"));
	eo_buf_free(&b);
	assert_int_equal(render_cluster_table_ex(list, false, false, "default", 1795932000, false, &b), 0);
	assert_null(strstr(b.data, "LEADER"));
	eo_buf_free(&b);
	assert_int_equal(render_cluster_names(list, &b), 0);
	assert_string_equal(b.data, "etcdcluster.etcd.k8s-operator.io/demo\n");
	eo_buf_free(&b);
	json_object_put(list);
}

/* version: the image's tag names the operator's version; a registry port
 * is not a tag; a digest is shown as it is. */
static void test_version_component(void **state)
{
	(void)state;
	static const struct {
		const char *image, *version;
	} cases[] = {
		{"ghcr.io/etcd-k8s-operator/etcd-operator:0.1.0", "0.1.0"},
		{"registry:5000/etcd-operator", "latest"},
		{"registry:5000/etcd-operator:0.2.0", "0.2.0"},
		{"ghcr.io/x/etcd-operator@sha256:abc", "sha256:abc"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[400];
		snprintf(text, sizeof(text),
			 "{\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"image\":\"%s\"}]}}},"
			 "\"status\":{\"readyReplicas\":1}}", cases[i].image);
		json_object *d = parse(text);
		json_object *c = version_component(d);
		assert_string_equal(json_opt_str(c, "version", ""), cases[i].version);
		assert_string_equal(json_opt_str(c, "image", ""), cases[i].image);
		assert_int_equal(json_opt_int(c, "replicas", 0), 2);
		assert_int_equal(json_opt_int(c, "readyReplicas", 0), 1);
		json_object_put(c);
		json_object_put(d);
	}
}

/* validate: unknown fields refused in strict field validation's words
 * (before the admission rules); cluster-scoped objects named without a
 * namespace. */
static void test_validate_strict_and_scope(void **state)
{
	(void)state;
	const char text[] =
		"apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\nmetadata: {name: demo}\n"
		"spec: {replica: 3, storage: {sise: 5Gi}}\n---\n"
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n---\n"
		"apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\nmetadata: {name: v}\n"
		"spec: {replicas: 1, version: \"3.6.16\", image: \"bad image\"}\n";
	struct eo_buf out = {0};
	struct validate_counts n = {0};
	struct eo_err err;
	assert_int_equal(validate_source("f.yaml", text, strlen(text), NULL, 0, NULL, &out, &n, &err), 0);
	assert_non_null(strstr(out.data, "f.yaml:1: default/demo: refused: strict decoding error: "
					 "unknown field \"spec.replica\", unknown field \"spec.storage.sise\""));
	assert_non_null(strstr(out.data, "skipped Namespace team-a (not an EtcdCluster)"));
	/* where the admission rules refuse too, their words come first (the
	 * mutating webhook runs before the schema's checks) */
	assert_non_null(strstr(out.data, "default/v: refused: spec.image: \"bad image\" is not an image"));
	assert_int_equal(n.refused, 2);
	assert_int_equal(n.skipped, 1);
	eo_buf_free(&out);
	validate_schema_free();
}

static void test_validate_expand_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/pl-day2-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p[256];
	const char *files[] = {"b.yaml", "a.yml", "c.json", "README.md", ".hidden.yaml", "sub/d.yaml"};
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
	}
	char **v = NULL;
	size_t n = 0;
	struct eo_err err;
	assert_int_equal(validate_expand(dir, false, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_non_null(strstr(v[0], "/a.yml"));
	assert_non_null(strstr(v[1], "/b.yaml"));
	assert_non_null(strstr(v[2], "/c.json"));
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	assert_int_equal(validate_expand(dir, true, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_non_null(strstr(v[3], "/sub/d.yaml"));
	for (size_t i = 0; i < n; i++) {
		unlink(v[i]);
		free(v[i]);
	}
	free(v);
	snprintf(p, sizeof(p), "%s/README.md", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/.hidden.yaml", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	assert_int_equal(validate_expand(dir, false, &v, &n, &err), -1);
	assert_non_null(strstr(err.msg, "no .yaml, .yml or .json files"));
	rmdir(dir);
	/* a plain path is itself (even one that does not exist: read later) */
	assert_int_equal(validate_expand("-", false, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "-");
	free(v[0]);
	free(v);
}

static void expect_jp(json_object *root, const char *tmpl, const char *want)
{
	struct eo_buf b = {0};
	struct eo_err err;
	assert_int_equal(pl_jsonpath(tmpl, root, &b, &err), 0);
	assert_string_equal(b.data ? b.data : "", want);
	eo_buf_free(&b);
}

static void test_jsonpath_subset(void **state)
{
	(void)state;
	json_object *l = parse("{\"items\":[{\"metadata\":{\"name\":\"a\",\"labels\":{\"app.k/x\":\"v\"}},"
			       "\"spec\":{\"replicas\":3,\"suspended\":true}},"
			       "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"replicas\":1}}]}");
	expect_jp(l, "{.items[*].metadata.name}", "a b");
	expect_jp(l, "{$.items[0].spec.replicas}", "3");
	expect_jp(l, "{.items[-1].metadata.name}", "b");
	expect_jp(l, "{.items[0].metadata.labels['app.k/x']}", "v");
	expect_jp(l, "{.items[0].spec.suspended}", "true");
	expect_jp(l, "{.items[1].spec}", "{\"replicas\":1}");
	expect_jp(l, "n={.items[0].metadata.name}{\"\\n\"}", "n=a\n");
	expect_jp(l, "{.items[5].metadata.name}{.nosuch}", ""); /* missing keys: nothing */
	struct eo_buf b = {0};
	struct eo_err err;
	assert_int_equal(pl_jsonpath("{.items[?(@.x)]}", l, &b, &err), -1);
	assert_non_null(strstr(err.msg, "filter"));
	assert_int_equal(pl_jsonpath("{..name}", l, &b, &err), -1);
	assert_non_null(strstr(err.msg, "recursive descent"));
	assert_int_equal(pl_jsonpath("{.items[0:1]}", l, &b, &err), -1);
	assert_int_equal(pl_jsonpath("{.items", l, &b, &err), -1);
	assert_non_null(strstr(err.msg, "unclosed"));
	eo_buf_free(&b);
	json_object_put(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_matched_by_uid),
		cmocka_unit_test(test_proxy_path),
		cmocka_unit_test(test_health_verdicts),
		cmocka_unit_test(test_alarms_parsed),
		cmocka_unit_test(test_live_view_roles_and_table),
		cmocka_unit_test(test_view_from_status),
		cmocka_unit_test(test_status_wide_and_name),
		cmocka_unit_test(test_version_component),
		cmocka_unit_test(test_validate_strict_and_scope),
		cmocka_unit_test(test_validate_expand_dir),
		cmocka_unit_test(test_jsonpath_subset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
