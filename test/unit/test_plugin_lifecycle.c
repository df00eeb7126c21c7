/* Unit tests for `kubectl etcd upgrade`, `suspend` and `resume`
 * (plugin/upgrade.c, plugin/suspend.c parsers; plugin/lifecycle.c): the
 * command lines and their refusals, the roll order (followers by ordinal,
 * the leader last), the plan's text, and the watcher that turns snapshots
 * into progress lines and done / stalled — each message printed once, and
 * nothing taken as done before the controller saw the written spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/lifecycle.h"
#include "json.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define UPGRADE(o, err, ...) upgrade_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, &help, err)
#define SUSPEND(r, o, err, ...) \
	suspend_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), r, o, &help, err)

static void test_upgrade_parse(void **state)
{
	(void)state;
	struct upgrade_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16"), 0);
	assert_string_equal(o.name, "demo");
	assert_string_equal(o.version, "3.6.16");
	assert_false(o.yes);
	assert_null(o.dry_run);
	assert_int_equal(o.timeout_ms, 30 * 60 * 1000);

	assert_int_equal(UPGRADE(&o, &err, "--version=v3.5.36", "-y", "-n", "team-a", "demo",
				 "--timeout", "90s"), 0);
	assert_string_equal(o.version, "3.5.36"); /* the leading v dropped */
	assert_true(o.yes);
	assert_string_equal(o.g.namespace, "team-a");
	assert_int_equal(o.timeout_ms, 90 * 1000);

	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "--dry-run"), 0);
	assert_string_equal(o.dry_run, "client");
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "--dry-run=server"), 0);
	assert_string_equal(o.dry_run, "server");
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "--dry-run=none"), 0);
	assert_null(o.dry_run);

	assert_int_equal(UPGRADE(&o, &err, "demo", "-h"), 0);
	assert_true(help);
}

static void test_upgrade_mistakes(void **state)
{
	(void)state;
	struct upgrade_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(UPGRADE(&o, &err, "--version", "3.6.16"), -1);
	assert_non_null(strstr(err.msg, "upgrade needs the NAME of a cluster"));
	assert_int_equal(UPGRADE(&o, &err, "a", "b", "--version", "3.6.16"), -1);
	assert_non_null(strstr(err.msg, "got 2 arguments"));
	assert_int_equal(UPGRADE(&o, &err, "demo"), -1);
	assert_non_null(strstr(err.msg, "--version X.Y.Z is required"));
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6"), -1);
	assert_non_null(strstr(err.msg, "\"3.6\" is not an etcd version"));
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version"), -1);
	assert_non_null(strstr(err.msg, "flag needs an argument: --version"));
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "-A"), -1);
	assert_non_null(strstr(err.msg, "instead of -A"));
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "--dry-run=maybe"), -1);
	assert_non_null(strstr(err.msg, "invalid --dry-run \"maybe\""));
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "--timeout", "0"), -1);
	assert_non_null(strstr(err.msg, "--timeout must be longer than 0"));
	assert_int_equal(UPGRADE(&o, &err, "demo", "--version", "3.6.16", "--replicas", "3"), -1);
	assert_non_null(strstr(err.msg, "unknown flag: --replicas"));
}

static void test_suspend_resume_parse(void **state)
{
	(void)state;
	struct suspend_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(SUSPEND(false, &o, &err, "demo", "--yes", "--wait", "-n", "x"), 0);
	assert_string_equal(o.name, "demo");
	assert_true(o.yes);
	assert_true(o.wait);
	assert_false(o.resume);
	assert_string_equal(o.g.namespace, "x");
	assert_int_equal(o.timeout_ms, 10 * 60 * 1000);
	assert_int_equal(SUSPEND(false, &o, &err, "-yw", "demo", "--timeout=2m"), 0);
	assert_true(o.yes && o.wait);
	assert_int_equal(o.timeout_ms, 120 * 1000);

	assert_int_equal(SUSPEND(true, &o, &err, "demo", "--wait"), 0);
	assert_true(o.resume);
	assert_true(o.wait);
	/* resume never asks: it has no --yes */
	assert_int_equal(SUSPEND(true, &o, &err, "demo", "--yes"), -1);
	assert_non_null(strstr(err.msg, "unknown flag: --yes"));
	assert_int_equal(SUSPEND(true, &o, &err, "--wait"), -1);
	assert_non_null(strstr(err.msg, "resume needs the NAME of a cluster (kubectl etcd resume NAME)"));
	assert_int_equal(SUSPEND(false, &o, &err, "a", "b"), -1);
	assert_non_null(strstr(err.msg, "suspend takes one cluster NAME, got 2 arguments"));
	assert_int_equal(SUSPEND(false, &o, &err, "a", "--all-namespaces"), -1);
	assert_non_null(strstr(err.msg, "suspend works on one cluster"));
}

static void test_flag_tables(void **state)
{
	(void)state;
	struct cli_flag f[CLI_MAX_FLAGS];
	size_t n = pl_command_flags("upgrade", f, CLI_MAX_FLAGS);
	assert_true(n > 4);
	assert_string_equal(f[0].name, "version");
	assert_non_null(cli_flag_lookup("--dry-run", f, n));
	n = pl_command_flags("resume", f, CLI_MAX_FLAGS);
	assert_null(cli_flag_lookup("--yes", f, n));
	assert_non_null(cli_flag_lookup("-w", f, n));
	n = pl_command_flags("suspend", f, CLI_MAX_FLAGS);
	assert_non_null(cli_flag_lookup("-y", f, n));
	assert_non_null(pl_command_find("upgrade"));
	assert_non_null(pl_command_find("suspend"));
	assert_non_null(pl_command_find("resume"));
}

static void load(const char *text, struct etcd_cluster *c)
{
	struct eo_err err;
	json_object *o = json_parse(text, strlen(text), &err);
	if (!o)
		fail_msg("fixture: %s", err.msg);
	if (cluster_parse(o, c, &err) != 0)
		fail_msg("fixture: %s", err.msg);
	json_object_put(o);
}

/* Three members listed out of order, demo-1 leading. */
static const char UP[] =
	"{\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"generation\":4,"
	"\"resourceVersion\":\"9\"},"
	"\"spec\":{\"replicas\":3,\"version\":\"3.5.36\"},"
	"\"status\":{\"phase\":\"Running\",\"observedGeneration\":4,\"replicas\":3,"
	"\"readyReplicas\":3,\"version\":\"3.5.36\",\"leader\":\"demo-1\",\"members\":["
	"{\"name\":\"demo-2\",\"id\":\"102\",\"healthy\":true},"
	"{\"name\":\"demo-1\",\"id\":\"101\",\"leader\":true,\"healthy\":true},"
	"{\"name\":\"demo-10\",\"id\":\"110\",\"healthy\":true},"
	"{\"name\":\"demo-0\",\"id\":\"100\",\"healthy\":true}]}}";

static void test_roll_order(void **state)
{
	(void)state;
	assert_int_equal(lc_member_ordinal("demo", "demo-0"), 0);
	assert_int_equal(lc_member_ordinal("demo", "demo-12"), 12);
	assert_int_equal(lc_member_ordinal("demo", "demo-"), -1);
	assert_int_equal(lc_member_ordinal("demo", "demo-x1"), -1);
	assert_int_equal(lc_member_ordinal("demo", "other-1"), -1);
	assert_int_equal(lc_member_ordinal("demo", ""), -1);
	assert_int_equal(lc_member_ordinal("my-db", "my-db-3"), 3);

	struct etcd_cluster c;
	load(UP, &c);
	int idx[EC_MAX_MEMBERS];
	assert_int_equal(lc_roll_order(&c, idx, EC_MAX_MEMBERS), 4);
	/* followers by ordinal (numerically: 10 after 2), the leader last */
	assert_string_equal(c.status.members[idx[0]].name, "demo-0");
	assert_string_equal(c.status.members[idx[1]].name, "demo-2");
	assert_string_equal(c.status.members[idx[2]].name, "demo-10");
	assert_string_equal(c.status.members[idx[3]].name, "demo-1");

	/* no leader flag on the member: status.leader names it; a learner and
	 * a member without a name */
	load("{\"metadata\":{\"name\":\"demo\"},\"spec\":{\"replicas\":3},"
	     "\"status\":{\"leader\":\"demo-0\",\"members\":["
	     "{\"name\":\"demo-0\",\"id\":\"1\"},{\"name\":\"\",\"id\":\"9\"},"
	     "{\"name\":\"demo-3\",\"id\":\"4\",\"learner\":true},"
	     "{\"name\":\"demo-1\",\"id\":\"2\"}]}}", &c);
	assert_int_equal(lc_roll_order(&c, idx, EC_MAX_MEMBERS), 3);
	assert_string_equal(c.status.members[idx[0]].name, "demo-1");
	assert_string_equal(c.status.members[idx[1]].id, "9");
	assert_string_equal(c.status.members[idx[2]].name, "demo-0");
	/* max bounds what is filled, not what is counted */
	idx[1] = -7;
	assert_int_equal(lc_roll_order(&c, idx, 1), 3);
	assert_int_equal(idx[1], -7);
}

static void test_upgrade_plan(void **state)
{
	(void)state;
	struct etcd_cluster c;
	load(UP, &c);
	struct eo_buf b = {0};
	assert_int_equal(lc_render_upgrade_plan(&c, "3.6.16", false, &b), 0);
	assert_string_equal(b.data,
		"Upgrade plan for default/demo: 3.5.36 \xe2\x86\x92 3.6.16, one member at a time (4 members)\n"
		"  1. demo-0    follower\n"
		"  2. demo-2    follower\n"
		"  3. demo-10   follower\n"
		"  4. demo-1    leader (last, after leadership moves to an upgraded member)\n"
		"  Each member's Pod is made again on its own data with the new image; the others "
		"keep quorum.\n");
	eo_buf_free(&b);

	/* no status yet: from spec.version, and says so; hostile text made safe */
	load("{\"metadata\":{\"name\":\"demo\",\"namespace\":\"x\"},"
	     "\"spec\":{\"replicas\":1,\"version\":\"3.5.3\\u001b[2J\"}}", &c);
	assert_string_equal(lc_running_version(&c), "3.5.3\x1b[2J");
	assert_int_equal(lc_render_upgrade_plan(&c, "3.6.16", true, &b), 0);
	assert_null(memchr(b.data, '\x1b', b.len));
	assert_non_null(strstr(b.data, "(0 members)\n  no members reported yet"));
	eo_buf_free(&b);
}

/* A snapshot of the upgrade of UP to 3.6.16 at generation gen. */
static void snapshot(struct etcd_cluster *c, int64_t observed, const char *phase,
		     const char *version, const char *status, const char *reason, const char *msg)
{
	load(UP, c);
	c->generation = 5;
	eo_strlcpy(c->spec.version, "3.6.16", sizeof(c->spec.version));
	c->status.observed_generation = observed;
	c->status.phase = ec_phase_parse(phase);
	eo_strlcpy(c->status.version, version, sizeof(c->status.version));
	if (msg)
		cluster_set_condition(&c->status, "Progressing", status, reason, msg,
				      "2026-01-01T00:00:00Z");
}

static void test_watch_upgrade(void **state)
{
	(void)state;
	struct lc_watch w;
	struct etcd_cluster c;
	struct eo_buf b = {0};
	lc_watch_init(&w, LC_UPGRADE, "3.6.16", 5, 1000);

	/* the old spec's snapshot, Running on the old version, with its old
	 * message: not an answer, and nothing printed */
	snapshot(&c, 4, "Running", "3.5.36", "False", "Settled", "every member ready");
	assert_int_equal(lc_watch_feed(&w, &c, 1500, &b), LC_WAITING);
	assert_int_equal(b.len, 0);

	const char *m1 = "upgrade: making demo-0 again on its data with "
			 "gcr.io/etcd-development/etcd:v3.6.16 (3 of 3 still to go)";
	snapshot(&c, 5, "Upgrading", "3.5.36", "True", "RollingMembers", m1);
	assert_int_equal(lc_watch_feed(&w, &c, 3500, &b), LC_WAITING);
	/* the same message again: not printed twice */
	assert_int_equal(lc_watch_feed(&w, &c, 4000, &b), LC_WAITING);
	char want[400];
	snprintf(want, sizeof(want), "  [2.5s] %s\n", m1);
	assert_string_equal(b.data, want);
	eo_buf_free(&b);

	/* the last member made again but not Running yet: still waiting */
	snapshot(&c, 5, "Upgrading", "3.6.16", "True", "RollingMembers", "upgrade: waits");
	assert_int_equal(lc_watch_feed(&w, &c, 5000, &b), LC_WAITING);
	eo_buf_free(&b);
	snapshot(&c, 5, "Running", "v3.6.16", "False", "Settled", "upgrade: waits");
	assert_int_equal(lc_watch_feed(&w, &c, 6000, &b), LC_DONE);
	assert_int_equal(b.len, 0);
	eo_buf_free(&b);

	/* a stall of our spec ends the watch with the operator's message, made safe */
	lc_watch_init(&w, LC_UPGRADE, "3.6.16", 5, 0);
	snapshot(&c, 5, "Upgrading", "3.5.36", "False", "UpgradeStalled",
		 "upgrade stopped at demo-0\x1b[2J, not ready 5m0s after it was made again");
	assert_int_equal(lc_watch_feed(&w, &c, 1000, &b), LC_STALLED);
	assert_non_null(strstr(w.stall, "the upgrade stalled: upgrade stopped at demo-0\\x1b[2J"));
	assert_null(memchr(b.data, '\x1b', b.len));
	eo_buf_free(&b);
	/* ... but a stall reported for an older spec is not ours */
	lc_watch_init(&w, LC_UPGRADE, "3.6.16", 6, 0);
	assert_int_equal(lc_watch_feed(&w, &c, 1000, &b), LC_WAITING);
	eo_buf_free(&b);
	/* a Failed cluster ends any watch */
	lc_watch_init(&w, LC_RESUME, NULL, 5, 0);
	snapshot(&c, 5, "Failed", "3.5.36", "False", "X", "no quorum");
	assert_int_equal(lc_watch_feed(&w, &c, 1000, &b), LC_STALLED);
	assert_non_null(strstr(w.stall, "the cluster is Failed: no quorum"));
	eo_buf_free(&b);
}

static void test_watch_suspend_resume(void **state)
{
	(void)state;
	struct etcd_cluster c;
	load(UP, &c);
	c.spec.replicas = 3;
	c.status.phase = EC_SUSPENDED;
	c.status.ready_replicas = 0;
	/* the phase is Suspended from the first Pod stopped: not done yet */
	cluster_set_condition(&c.status, "Progressing", "True", "Suspending", "stopping demo-2", "t");
	assert_false(lc_goal_reached(LC_SUSPEND, NULL, &c));
	cluster_set_condition(&c.status, "Progressing", "False", "Suspended", "every member stopped",
			      "t");
	assert_true(lc_goal_reached(LC_SUSPEND, NULL, &c));
	assert_false(lc_goal_reached(LC_RESUME, NULL, &c));
	c.status.phase = EC_RUNNING;
	assert_false(lc_goal_reached(LC_SUSPEND, NULL, &c));
	assert_false(lc_goal_reached(LC_RESUME, NULL, &c)); /* Running, members not ready */
	c.status.ready_replicas = 3;
	assert_true(lc_goal_reached(LC_RESUME, NULL, &c));
	c.status.learners = 1;
	assert_false(lc_goal_reached(LC_RESUME, NULL, &c));
	/* the version compares as a version, not as text */
	c.status.learners = 0;
	eo_strlcpy(c.status.version, "3.6.16", sizeof(c.status.version));
	assert_true(lc_goal_reached(LC_UPGRADE, "v3.6.16", &c));
	assert_false(lc_goal_reached(LC_UPGRADE, "3.6.1", &c));
	/* the last member made again still starting: not done */
	c.status.ready_replicas = 2;
	assert_false(lc_goal_reached(LC_UPGRADE, "3.6.16", &c));
	c.status.ready_replicas = 3;

	struct lc_watch w;
	struct eo_buf b = {0};
	lc_watch_init(&w, LC_SUSPEND, NULL, 7, 0);
	c.status.observed_generation = 7;
	c.status.phase = EC_RUNNING;
	cluster_set_condition(&c.status, "Progressing", "True", "Suspending",
			      "suspending: stopping demo-2", "t");
	assert_int_equal(lc_watch_feed(&w, &c, 61000, &b), LC_WAITING);
	assert_string_equal(b.data, "  [1m1s] suspending: stopping demo-2\n");
	c.status.phase = EC_SUSPENDED;
	assert_int_equal(lc_watch_feed(&w, &c, 62000, &b), LC_WAITING);
	cluster_set_condition(&c.status, "Progressing", "False", "Suspended", "every member stopped",
			      "t");
	assert_int_equal(lc_watch_feed(&w, &c, 63000, &b), LC_DONE);
	assert_non_null(strstr(b.data, "  [1m3s] every member stopped\n"));
	eo_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upgrade_parse),
		cmocka_unit_test(test_upgrade_mistakes),
		cmocka_unit_test(test_suspend_resume_parse),
		cmocka_unit_test(test_flag_tables),
		cmocka_unit_test(test_roll_order),
		cmocka_unit_test(test_upgrade_plan),
		cmocka_unit_test(test_watch_upgrade),
		cmocka_unit_test(test_watch_suspend_resume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
