/* Unit tests for the status views of the plugin (plugin/render.c,
 * plugin/table.c) from fixture JSON shaped like what the controller
 * publishes: the cluster table (with and without NAMESPACE), one cluster in
 * detail (roles, health, sizes, conditions, the step in flight, events
 * sorted and capped), colour only when asked, and what shows when the
 * controller has written nothing yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/render.h"
#include "json.h"

/* 2026-11-29T06:00:00Z */
#define NOW 1795932000

static const char DEMO[] =
	"{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
	"\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"generation\":3,"
	"\"creationTimestamp\":\"2026-11-29T05:55:00Z\",\"resourceVersion\":\"812\","
	"\"annotations\":{\"etcd.k8s-operator.io/target-replicas\":\"5\"}},"
	"\"spec\":{\"replicas\":3,\"version\":\"3.5.17\"},"
	"\"status\":{\"phase\":\"Scaling\",\"observedGeneration\":3,\"replicas\":2,"
	"\"readyReplicas\":2,\"learners\":1,\"clusterID\":\"14841639068965178418\","
	"\"leader\":\"demo-0\",\"members\":["
	"{\"name\":\"demo-0\",\"id\":\"100\",\"leader\":true,\"healthy\":true,\"dbSize\":20480,\"raftIndex\":812},"
	"{\"name\":\"demo-1\",\"id\":\"101\",\"healthy\":true,\"dbSize\":1572864,\"raftIndex\":812},"
	"{\"name\":\"demo-2\",\"id\":\"102\",\"learner\":true,\"healthy\":true,\"dbSize\":512,\"raftIndex\":790}],"
	"\"scaling\":{\"from\":2,\"to\":3,\"step\":\"CatchUp\",\"memberID\":\"102\","
	"\"startedAt\":\"2026-11-29T05:59:30Z\",\"message\":\"learner demo-2 catching up: applied index 790 of the leader's 812\"},"
	"\"conditions\":["
	"{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"QuorumHealthy\",\"message\":\"2 of 2 voters healthy\",\"lastTransitionTime\":\"2026-11-29T05:56:00Z\"},"
	"{\"type\":\"Progressing\",\"status\":\"True\",\"reason\":\"CatchUp\",\"message\":\"learner demo-2 catching up\",\"lastTransitionTime\":\"2026-11-29T05:59:30Z\"},"
	"{\"type\":\"Degraded\",\"status\":\"False\",\"reason\":\"Healthy\",\"message\":\"every voter is healthy\",\"lastTransitionTime\":\"2026-11-29T05:56:00Z\"}]}}";

static json_object *parse(const char *text)
{
	struct eo_err err;
	json_object *o = json_parse(text, strlen(text), &err);
	if (!o)
		fail_msg("fixture: %s", err.msg);
	return o;
}

/* The line of text that starts with prefix (after leading spaces), or NULL. */
static const char *line_of(const char *text, const char *prefix, char *buf, size_t size)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *s = l;
		while (*s == ' ')
			s++;
		if (strncmp(s, prefix, strlen(prefix)) == 0) {
			size_t n = strcspn(l, "\n");
			snprintf(buf, size, "%.*s", (int)n, l);
			return buf;
		}
	}
	return NULL;
}

static void test_detail(void **state)
{
	(void)state;
	json_object *obj = parse(DEMO);
	json_object *events = parse(
		"{\"items\":["
		"{\"type\":\"Normal\",\"reason\":\"MemberAdded\",\"message\":\"adding demo-2 as a learner\",\"lastTimestamp\":\"2026-11-29T05:59:31Z\"},"
		"{\"type\":\"Warning\",\"reason\":\"Unhealthy\",\"message\":\"demo-1 slow\",\"count\":3,\"lastTimestamp\":\"2026-11-29T05:58:00Z\"}]}");
	struct eo_buf b = {0};
	assert_int_equal(render_cluster_detail(obj, events, NULL, NOW, false, &b), 0);
	char l[512];
	assert_string_equal(line_of(b.data, "Name:", l, sizeof(l)), "Name:         demo");
	assert_string_equal(line_of(b.data, "Phase:", l, sizeof(l)), "Phase:        Scaling");
	assert_string_equal(line_of(b.data, "Size:", l, sizeof(l)),
			    "Size:         2 voting members, 2 ready, 1 learner");
	assert_string_equal(line_of(b.data, "Target:", l, sizeof(l)),
			    "Target:       5 (spec.replicas 3; path 2 \xe2\x86\x92 3 \xe2\x86\x92 4 \xe2\x86\x92 5)");
	assert_string_equal(line_of(b.data, "Cluster ID:", l, sizeof(l)),
			    "Cluster ID:   14841639068965178418");
	assert_string_equal(line_of(b.data, "Leader:", l, sizeof(l)), "Leader:       demo-0");
	assert_string_equal(line_of(b.data, "Age:", l, sizeof(l)), "Age:          5m");
	assert_null(line_of(b.data, "Generation:", l, sizeof(l)));
	assert_string_equal(line_of(b.data, "NAME", l, sizeof(l)),
			    "  NAME     ROLE       HEALTH    DB SIZE   RAFT INDEX");
	assert_string_equal(line_of(b.data, "demo-0", l, sizeof(l)),
			    "  demo-0   leader     healthy   20 KiB    812");
	assert_string_equal(line_of(b.data, "demo-1", l, sizeof(l)),
			    "  demo-1   follower   healthy   1.5 MiB   812");
	assert_string_equal(line_of(b.data, "demo-2", l, sizeof(l)),
			    "  demo-2   learner    healthy   512 B     790");
	assert_string_equal(line_of(b.data, "Progressing", l, sizeof(l)),
			    "  Progressing   True     CatchUp         30s   learner demo-2 catching up");
	assert_string_equal(line_of(b.data, "step:", l, sizeof(l)), "  step:     CatchUp");
	assert_string_equal(line_of(b.data, "members:", l, sizeof(l)), "  members:  2 \xe2\x86\x92 3");
	assert_string_equal(line_of(b.data, "member:", l, sizeof(l)), "  member:   102");
	assert_string_equal(line_of(b.data, "elapsed:", l, sizeof(l)), "  elapsed:  30s");
	/* events oldest first, the repeat count shown */
	const char *warn = strstr(b.data, "Unhealthy");
	const char *added = strstr(b.data, "MemberAdded");
	assert_non_null(warn);
	assert_non_null(added);
	assert_true(warn < added);
	assert_non_null(strstr(b.data, "demo-1 slow (x3)"));
	assert_null(strstr(b.data, "\033["));
	eo_buf_free(&b);

	/* colour: only around cells, and only when asked */
	assert_int_equal(render_cluster_detail(obj, events, NULL, NOW, true, &b), 0);
	assert_non_null(strstr(b.data, "Phase:        \033[33mScaling\033[0m"));
	assert_non_null(strstr(b.data, "\033[32mhealthy\033[0m"));
	eo_buf_free(&b);
	json_object_put(events);

	/* events that could not be read are said so, not hidden */
	assert_int_equal(render_cluster_detail(obj, NULL, "could not read Events: forbidden", NOW,
					       false, &b), 0);
	assert_non_null(strstr(b.data, "Events:\n  could not read Events: forbidden\n"));
	eo_buf_free(&b);
	json_object_put(obj);
}

static void test_detail_events_capped(void **state)
{
	(void)state;
	json_object *obj = parse(DEMO);
	json_object *events = json_object_new_array();
	for (int i = 0; i < 15; i++) {
		char e[256];
		snprintf(e, sizeof(e), "{\"type\":\"Normal\",\"reason\":\"R%02d\",\"message\":\"m\","
			 "\"lastTimestamp\":\"2026-11-29T05:%02d:00Z\"}", 14 - i, 45 + (14 - i));
		json_object_array_add(events, parse(e));
	}
	struct eo_buf b = {0};
	assert_int_equal(render_cluster_detail(obj, events, NULL, NOW, false, &b), 0);
	assert_null(strstr(b.data, "R04 "));
	assert_non_null(strstr(b.data, "R05 "));
	assert_non_null(strstr(b.data, "R14 "));
	assert_true(strstr(b.data, "R05 ") < strstr(b.data, "R14 "));
	eo_buf_free(&b);
	json_object_put(events);
	json_object_put(obj);
}

static void test_detail_before_the_controller(void **state)
{
	(void)state;
	json_object *obj = parse("{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"new\","
				 "\"namespace\":\"team-a\",\"generation\":1,"
				 "\"creationTimestamp\":\"2026-11-29T05:59:58Z\"},\"spec\":{\"replicas\":1}}");
	struct eo_buf b = {0};
	assert_int_equal(render_cluster_detail(obj, NULL, NULL, NOW, false, &b), 0);
	char l[512];
	assert_string_equal(line_of(b.data, "Phase:", l, sizeof(l)), "Phase:        -");
	assert_string_equal(line_of(b.data, "Leader:", l, sizeof(l)), "Leader:       -");
	assert_non_null(strstr(line_of(b.data, "Generation:", l, sizeof(l)),
			       "generation 1, observed 0"));
	assert_non_null(strstr(b.data, "Members:\n  none reported yet\n"));
	assert_non_null(strstr(b.data, "Step in flight: none\n"));
	assert_non_null(strstr(b.data, "Events:\n  none\n"));
	assert_string_equal(line_of(b.data, "Age:", l, sizeof(l)), "Age:          2s");
	eo_buf_free(&b);
	json_object_put(obj);
}

static void test_table(void **state)
{
	(void)state;
	json_object *list = json_object_new_object();
	json_object *items = json_object_new_array();
	json_object_array_add(items, parse(DEMO));
	json_object_array_add(items, parse(
		"{\"kind\":\"EtcdCluster\",\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\","
		"\"metadata\":{\"name\":\"orders-main\",\"namespace\":\"shop\","
		"\"creationTimestamp\":\"2026-11-27T06:00:00Z\"},\"spec\":{\"replicas\":3,\"version\":\"3.5.16\"},"
		"\"status\":{\"phase\":\"Running\",\"replicas\":3,\"readyReplicas\":3}}"));
	json_object_object_add(list, "items", items);
	struct eo_buf b = {0};
	assert_int_equal(render_cluster_table(list, false, "default", NOW, false, &b), 0);
	assert_string_equal(b.data,
			    "NAME          REPLICAS   READY   LEARNERS   PHASE     VERSION   TARGET   AGE\n"
			    "demo          2          2/2     1          Scaling   3.5.17    5        5m\n"
			    "orders-main   3          3/3     0          Running   3.5.16    3        2d\n");
	eo_buf_free(&b);
	assert_int_equal(render_cluster_table(list, true, NULL, NOW, false, &b), 0);
	assert_true(strncmp(b.data, "NAMESPACE   NAME          REPLICAS", 34) == 0);
	assert_non_null(strstr(b.data, "\nshop        orders-main   3"));
	eo_buf_free(&b);
	assert_int_equal(render_cluster_table(list, false, "default", NOW, true, &b), 0);
	assert_non_null(strstr(b.data, "\033[32mRunning\033[0m"));
	assert_non_null(strstr(b.data, "\033[33m5\033[0m")); /* heading elsewhere */
	eo_buf_free(&b);
	json_object_put(list);

	list = parse("{\"items\":[]}");
	assert_int_equal(render_cluster_table(list, false, "team-a", NOW, false, &b), 0);
	assert_string_equal(b.data, "No EtcdClusters found in namespace \"team-a\".\n");
	eo_buf_free(&b);
	assert_int_equal(render_cluster_table(list, true, NULL, NOW, false, &b), 0);
	assert_string_equal(b.data, "No EtcdClusters found.\n");
	eo_buf_free(&b);
	json_object_put(list);
}

static void test_table_widths_are_code_points(void **state)
{
	(void)state;
	static const char *const hdr[] = {"A", "B"};
	struct pl_table *t = pl_table_new(2, hdr);
	const char *r1[] = {"1 \xe2\x86\x92 2", "x"};
	const char *r2[] = {"long cell", "y"};
	assert_int_equal(pl_table_add(t, r1, NULL), 0);
	assert_int_equal(pl_table_add(t, r2, NULL), 0);
	assert_int_equal(pl_table_rows(t), 2);
	struct eo_buf b = {0};
	assert_int_equal(pl_table_render(t, "> ", false, &b), 0);
	assert_string_equal(b.data, "> A           B\n> 1 \xe2\x86\x92 2       x\n> long cell   y\n");
	eo_buf_free(&b);
	pl_table_free(t);
	pl_table_free(NULL);
}

/* What a server sent cannot drive the terminal: every view shows its escape
 * sequences as text, the colours the view adds itself are the only ESC. */
static void test_server_text_is_made_safe(void **state)
{
	(void)state;
	json_object *obj = parse(
		"{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
		"\"metadata\":{\"name\":\"demo\\u001b[2J\",\"namespace\":\"default\"},"
		"\"spec\":{\"replicas\":1,\"version\":\"3.5\\u009b2J\"},"
		"\"status\":{\"phase\":\"Running\",\"replicas\":1,\"readyReplicas\":1,"
		"\"leader\":\"x\\r\",\"members\":[{\"name\":\"m\\u0007\",\"healthy\":true}],"
		"\"scaling\":{\"from\":1,\"to\":2,\"step\":\"Promote\",\"message\":\"a\\u001b]0;t\\u0007\"},"
		"\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"R\\b\","
		"\"message\":\"m\\u001b[31m\"}]}}");
	json_object *events = parse(
		"{\"items\":[{\"type\":\"Warning\",\"reason\":\"E\\u001b[2J\","
		"\"message\":\"title\\u001b]0;pwned\\u0007\"}]}");
	struct eo_buf b = {0};
	assert_int_equal(render_cluster_detail(obj, events, NULL, NOW, false, &b), 0);
	assert_null(memchr(b.data, '\x1b', b.len));
	assert_null(strchr(b.data, '\a'));
	assert_null(strchr(b.data, '\r'));
	assert_null(strstr(b.data, "\xc2\x9b"));
	assert_non_null(strstr(b.data, "Name:         demo\\x1b[2J\n"));
	assert_non_null(strstr(b.data, "Version:      3.5\\u009b2J\n"));
	assert_non_null(strstr(b.data, "Leader:       x\\r\n"));
	assert_non_null(strstr(b.data, "m\\x07"));
	assert_non_null(strstr(b.data, "R\\x08"));
	assert_non_null(strstr(b.data, "m\\x1b[31m"));
	assert_non_null(strstr(b.data, "message:  a\\x1b]0;t\\x07\n"));
	assert_non_null(strstr(b.data, "E\\x1b[2J"));
	assert_non_null(strstr(b.data, "title\\x1b]0;pwned\\x07"));
	eo_buf_free(&b);
	/* with colour: every ESC is the start of one of the view's own codes */
	assert_int_equal(render_cluster_detail(obj, events, "denied\x1b[2J", NOW, true, &b), 0);
	for (const char *e = b.data; (e = strchr(e, '\x1b')) != NULL; e++)
		assert_true(strncmp(e, "\x1b[", 2) == 0 && strspn(e + 2, "0123456789") > 0 &&
			    e[2 + strspn(e + 2, "0123456789")] == 'm' && strncmp(e, "\x1b[2J", 4) != 0);
	assert_non_null(strstr(b.data, "  denied\\x1b[2J\n"));
	eo_buf_free(&b);
	json_object *list = json_object_new_object();
	json_object *items = json_object_new_array();
	json_object_array_add(items, json_object_get(obj));
	json_object_object_add(list, "items", items);
	assert_int_equal(render_cluster_table(list, true, NULL, NOW, false, &b), 0);
	assert_null(memchr(b.data, '\x1b', b.len));
	assert_non_null(strstr(b.data, "demo\\x1b[2J"));
	eo_buf_free(&b);
	json_object_put(list);
	json_object_put(events);
	json_object_put(obj);
}

/* The live progress of a scale shows the controller's words made safe too:
 * a member id, the note of a replaced member, the reason of a rollback. */
static void test_progress_text_is_made_safe(void **state)
{
	(void)state;
	struct etcd_cluster c;
	memset(&c, 0, sizeof(c));
	strcpy(c.name, "demo");
	c.spec.replicas = 2;
	c.status.phase = EC_SCALING;
	c.status.replicas = c.status.ready_replicas = 1;
	c.status.scaling.active = true;
	c.status.scaling.from = 1;
	c.status.scaling.to = 2;
	strcpy(c.status.scaling.step, EC_STEP_REPLACE);
	strcpy(c.status.scaling.member_id, "7\x1b[2J");
	strcpy(c.status.scaling.message, "replaced\x1b]0;pwned\x07\r");
	struct progress p;
	progress_init(&p, "demo", 1, 2, 0);
	struct eo_buf b = {0};
	assert_int_equal(progress_feed(&p, &c, 100, &b), PROGRESS_WAITING);
	assert_null(memchr(b.data, '\x1b', b.len));
	assert_non_null(strstr(b.data, "  note: replaced\\x1b]0;pwned\\x07\\r\n"));
	eo_buf_free(&b);
	strcpy(c.status.scaling.step, EC_STEP_START_POD);
	c.status.members[0].learner = true;
	c.status.nmembers = 1;
	progress_init(&p, "demo", 1, 2, 0);
	progress_feed(&p, &c, 100, &b);
	assert_null(memchr(b.data, '\x1b', b.len));
	assert_non_null(strstr(b.data, "learner added (id 7\\x1b[2J)"));
	eo_buf_free(&b);
	strcpy(c.status.scaling.step, EC_STEP_ROLLBACK);
	strcpy(c.status.scaling.message, "gone\xc2\x9b" "2J");
	assert_int_equal(progress_feed(&p, &c, 200, &b), PROGRESS_FAILED);
	assert_string_equal(p.failure, "step 1 \xe2\x86\x92 2 was rolled back: gone\\u009b2J");
	eo_buf_free(&b);
}

/* status.version beside what spec asks: equal, mid-upgrade, and suspended */
static void test_detail_version(void **state)
{
	(void)state;
	struct eo_buf b = {0};
	char l[512];
	json_object *obj = parse(DEMO);
	json_object *st = json_at(obj, "status");
	json_object_object_add(st, "version", json_object_new_string("3.5.17"));
	assert_int_equal(render_cluster_detail(obj, NULL, NULL, NOW, false, &b), 0);
	assert_string_equal(line_of(b.data, "Version:", l, sizeof(l)),
			    "Version:      3.5.17 (asked: 3.5.17)");
	assert_null(line_of(b.data, "Suspended:", l, sizeof(l)));
	eo_buf_free(&b);
	json_object_object_add(json_at(obj, "spec"), "version", json_object_new_string("3.6.16"));
	json_object_object_add(json_at(obj, "spec"), "suspended", json_object_new_boolean(1));
	json_object_object_add(st, "phase", json_object_new_string("Suspended"));
	assert_int_equal(render_cluster_detail(obj, NULL, NULL, NOW, false, &b), 0);
	assert_string_equal(line_of(b.data, "Version:", l, sizeof(l)),
			    "Version:      3.5.17 (asked: 3.6.16, upgrading)");
	assert_string_equal(line_of(b.data, "Suspended:", l, sizeof(l)),
			    "Suspended:    yes: every member stopped, volumes kept");
	eo_buf_free(&b);
	json_object_put(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detail),
		cmocka_unit_test(test_detail_version),
		cmocka_unit_test(test_detail_events_capped),
		cmocka_unit_test(test_detail_before_the_controller),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_widths_are_code_points),
		cmocka_unit_test(test_server_text_is_made_safe),
		cmocka_unit_test(test_progress_text_is_made_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
