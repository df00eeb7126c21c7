/* Unit tests for the live progress of `kubectl etcd scale` (plugin/progress.c)
 * and its plan (plugin/plan.c): sequences of status snapshots as the
 * controller writes them (EC_STEP_* in status.scaling, members), including
 * snapshots that skip states, a whole step seen only after it settled, the
 * next step already in flight, leadership moves, rollbacks and repeats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/render.h"

/* A snapshot: `voters` started voters (ready of them healthy), a learner
 * when learner is set, status.scaling when step is non-NULL. */
static struct etcd_cluster snap(int voters, int ready, bool learner, const char *step, int from,
				int to, const char *member_id, const char *leader)
{
	struct etcd_cluster c;
	memset(&c, 0, sizeof(c));
	strcpy(c.name, "demo");
	strcpy(c.namespace, "default");
	c.generation = c.status.observed_generation = 2;
	c.target = EC_TARGET_NONE;
	c.spec.replicas = voters;
	c.status.phase = step ? EC_SCALING : EC_RUNNING;
	c.status.replicas = voters;
	c.status.ready_replicas = ready;
	c.status.learners = learner ? 1 : 0;
	for (int i = 0; i < voters + (learner ? 1 : 0); i++) {
		struct ec_member *m = &c.status.members[c.status.nmembers++];
		snprintf(m->name, sizeof(m->name), "demo-%d", i);
		snprintf(m->id, sizeof(m->id), "%d", 100 + i);
		m->learner = i >= voters;
		m->healthy = i < ready || m->learner;
		m->leader = leader && strcmp(m->name, leader) == 0;
	}
	if (leader)
		strcpy(c.status.leader, leader);
	if (step) {
		c.status.scaling.active = true;
		strcpy(c.status.scaling.step, step);
		c.status.scaling.from = from;
		c.status.scaling.to = to;
		if (member_id)
			strcpy(c.status.scaling.member_id, member_id);
	}
	return c;
}

static struct eo_buf out;

static enum progress_result feed(struct progress *p, struct etcd_cluster c, int64_t t)
{
	return progress_feed(p, &c, t, &out);
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *s = text; (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

/* Whether the needles appear in this order. */
static void in_order(const char *text, const char *const *needles, size_t n)
{
	const char *at = text;
	for (size_t i = 0; i < n; i++) {
		const char *f = strstr(at, needles[i]);
		if (!f)
			fail_msg("\"%s\" missing (or out of order) in:\n%s", needles[i], text);
		at = f + strlen(needles[i]);
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&out, 0, sizeof(out));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	eo_buf_free(&out);
	return 0;
}

static void test_up_every_state(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 1, 2, 0);
	assert_int_equal(feed(&p, snap(1, 1, false, NULL, 0, 0, NULL, "demo-0"), 0), PROGRESS_WAITING);
	assert_string_equal(out.data, "step 1/1: 1 \xe2\x86\x92 2\n");
	feed(&p, snap(1, 1, false, EC_STEP_ADD_LEARNER, 1, 2, NULL, "demo-0"), 100);
	assert_int_equal(out.len, strlen("step 1/1: 1 \xe2\x86\x92 2\n"));
	feed(&p, snap(1, 1, true, EC_STEP_START_POD, 1, 2, "42", "demo-0"), 400);
	feed(&p, snap(1, 1, true, EC_STEP_CATCH_UP, 1, 2, "42", "demo-0"), 3100);
	feed(&p, snap(1, 1, true, EC_STEP_PROMOTE, 1, 2, "42", "demo-0"), 3900);
	feed(&p, snap(2, 1, false, EC_STEP_VERIFY, 1, 2, NULL, "demo-0"), 4000);
	assert_int_equal(feed(&p, snap(2, 2, false, NULL, 0, 0, NULL, "demo-0"), 4200), PROGRESS_DONE);
	char want[1024];
	snprintf(want, sizeof(want),
		 "step 1/1: 1 \xe2\x86\x92 2\n"
		 "  %-40s 400ms\n  %-40s 3.1s\n  %-40s 3.9s\n  %-40s 4.0s\n  %-40s 4.2s\n",
		 "learner added (id 42)", "Pod demo-1 ready", "caught up", "promoted",
		 "healthy (2/2 voters)");
	assert_string_equal(out.data, want);
	assert_string_equal(p.reached, "2 members");
}

static void test_skipped_states_are_implied(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 2, 3, 0);
	feed(&p, snap(2, 2, true, EC_STEP_START_POD, 2, 3, "77", "demo-0"), 500);
	/* caught up at once: StartPod straight to Promote */
	feed(&p, snap(2, 2, true, EC_STEP_PROMOTE, 2, 3, "77", "demo-0"), 2000);
	const char *seq[] = {"learner added (id 77)", "Pod demo-2 ready", "2.0s", "caught up", "2.0s"};
	in_order(out.data, seq, 5);
	assert_int_equal(count(out.data, "promoted"), 0);
	/* a repeat of the same snapshot prints nothing new */
	size_t len = out.len;
	feed(&p, snap(2, 2, true, EC_STEP_PROMOTE, 2, 3, "77", "demo-0"), 2500);
	assert_int_equal(out.len, len);
}

static void test_whole_scale_seen_only_at_the_end(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 1, 3, 0);
	feed(&p, snap(1, 1, false, NULL, 0, 0, NULL, "demo-0"), 0);
	assert_int_equal(feed(&p, snap(3, 3, false, NULL, 0, 0, NULL, "demo-0"), 9000), PROGRESS_DONE);
	const char *seq[] = {"step 1/2: 1 \xe2\x86\x92 2", "learner added", "Pod demo-1 ready",
			     "caught up", "promoted", "healthy (2/2 voters)",
			     "step 2/2: 2 \xe2\x86\x92 3", "learner added", "Pod demo-2 ready",
			     "caught up", "promoted", "healthy (3/3 voters)"};
	in_order(out.data, seq, 12);
	assert_int_equal(count(out.data, "learner added"), 2);
}

static void test_next_step_in_flight_closes_the_previous(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 1, 3, 0);
	feed(&p, snap(1, 1, true, EC_STEP_START_POD, 1, 2, "5", "demo-0"), 300);
	/* the controller already moved on to 2 → 3 between two watch events */
	feed(&p, snap(2, 2, true, EC_STEP_START_POD, 2, 3, "6", "demo-0"), 6000);
	const char *seq[] = {"learner added (id 5)", "Pod demo-1 ready", "caught up", "promoted",
			     "healthy (2/2 voters)", "step 2/2", "learner added (id 6)"};
	in_order(out.data, seq, 7);
	assert_int_equal(p.step, 2);
	assert_int_equal(count(out.data, "Pod demo-2 ready"), 0);
}

static void test_down_with_leadership_transfer(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 3, 1, 0);
	feed(&p, snap(3, 3, false, NULL, 0, 0, NULL, "demo-2"), 0);
	feed(&p, snap(3, 3, false, EC_STEP_TRANSFER_LEADERSHIP, 3, 2, "102", "demo-2"), 100);
	feed(&p, snap(3, 3, false, EC_STEP_REMOVE_MEMBER, 3, 2, "102", "demo-0"), 700);
	feed(&p, snap(2, 2, false, EC_STEP_SHRINK, 3, 2, NULL, "demo-0"), 900);
	feed(&p, snap(2, 2, false, EC_STEP_DELETE_VOLUME, 3, 2, NULL, "demo-0"), 1300);
	feed(&p, snap(2, 2, false, NULL, 0, 0, NULL, "demo-0"), 1800);
	/* step 2: demo-1 leaves, and it does not lead */
	feed(&p, snap(2, 2, false, EC_STEP_REMOVE_MEMBER, 2, 1, "101", "demo-0"), 2000);
	assert_int_equal(feed(&p, snap(1, 1, false, NULL, 0, 0, NULL, "demo-0"), 3000), PROGRESS_DONE);
	const char *seq[] = {"step 1/2: 3 \xe2\x86\x92 2", "leadership transferred", "member removed",
			     "StatefulSet shrunk",          "volume deleted", "healthy (2/2 voters)",
			     "step 2/2: 2 \xe2\x86\x92 1",  "member removed", "StatefulSet shrunk",
			     "volume deleted",              "healthy (1/1 voters)"};
	in_order(out.data, seq, 11);
	assert_int_equal(count(out.data, "leadership transferred"), 1);
}

static void test_down_leader_leaving_seen_only_after(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 2, 1, 0);
	/* the leaving member led when we started; the transfer went unseen */
	feed(&p, snap(2, 2, false, NULL, 0, 0, NULL, "demo-1"), 0);
	feed(&p, snap(1, 1, false, EC_STEP_SHRINK, 2, 1, NULL, "demo-0"), 800);
	const char *seq[] = {"leadership transferred", "member removed"};
	in_order(out.data, seq, 2);
}

static void test_rollback_and_failed(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 1, 2, 0);
	feed(&p, snap(1, 1, true, EC_STEP_START_POD, 1, 2, "9", "demo-0"), 300);
	struct etcd_cluster c = snap(1, 1, true, EC_STEP_ROLLBACK, 1, 2, "9", "demo-0");
	strcpy(c.status.scaling.message, "learner demo-1 did not start and become ready within 5m");
	assert_int_equal(progress_feed(&p, &c, 1000, &out), PROGRESS_FAILED);
	assert_non_null(strstr(p.failure, "was rolled back"));
	assert_non_null(strstr(p.failure, "did not start and become ready"));
	assert_non_null(strstr(p.reached, "learner added"));

	progress_init(&p, "demo", 1, 2, 0);
	c = snap(1, 0, false, NULL, 0, 0, NULL, NULL);
	c.status.phase = EC_FAILED;
	cluster_set_condition(&c.status, "Degraded", "True", "QuorumLost", "no leader", "");
	assert_int_equal(progress_feed(&p, &c, 10, &out), PROGRESS_FAILED);
	assert_non_null(strstr(p.failure, "no leader"));
}

static void test_other_step_in_flight_first(void **state)
{
	(void)state;
	/* take-over: a 3 → 2 step is in flight, the plan is 2 → 3 after it */
	struct progress p;
	progress_init(&p, "demo", 2, 3, 0);
	feed(&p, snap(3, 3, false, EC_STEP_REMOVE_MEMBER, 3, 2, "102", "demo-0"), 100);
	feed(&p, snap(2, 2, false, EC_STEP_SHRINK, 3, 2, NULL, "demo-0"), 200);
	assert_int_equal(count(out.data, "promoted"), 0);
	assert_int_equal(count(out.data, "learner added"), 0);
	feed(&p, snap(2, 2, false, NULL, 0, 0, NULL, "demo-0"), 300);
	feed(&p, snap(2, 2, true, EC_STEP_START_POD, 2, 3, "12", "demo-0"), 900);
	assert_int_equal(count(out.data, "learner added (id 12)"), 1);
	assert_int_equal(count(out.data, "healthy"), 0);
}

static void test_nothing_to_do(void **state)
{
	(void)state;
	struct progress p;
	progress_init(&p, "demo", 3, 3, 0);
	assert_int_equal(feed(&p, snap(3, 3, false, NULL, 0, 0, NULL, "demo-0"), 0), PROGRESS_DONE);
	assert_int_equal(out.len, 0);
}

static void test_plan_text(void **state)
{
	(void)state;
	render_plan("default", "demo", 1, 3, false, &out);
	assert_string_equal(out.data,
			    "Plan for default/demo: 1 \xe2\x86\x92 3, one member at a time (2 steps)\n"
			    "  step 1/2: 1 \xe2\x86\x92 2   quorum 2, tolerates 0 failures\n"
			    "  step 2/2: 2 \xe2\x86\x92 3   quorum 2, tolerates 1 failure\n"
			    "  Each new member joins as a learner (no vote) and is promoted once it "
			    "has caught up.\n");
	eo_buf_free(&out);
	render_plan("team-a", "db", 5, 4, false, &out);
	assert_non_null(strstr(out.data, "step 1/1: 5 \xe2\x86\x92 4   quorum 3, tolerates 1 failure\n"));
	assert_non_null(strstr(out.data, "moves leadership away"));
	assert_non_null(strstr(out.data, "Warning: 4 is an even size: it tolerates 1 failure, no "
					 "more than 3 members do"));
	eo_buf_free(&out);
	render_plan("default", "demo", 3, 3, true, &out);
	assert_string_equal(out.data, "Nothing to do: default/demo already has 3 members.\n");
	eo_buf_free(&out);
	render_plan("default", "demo", 1, 2, true, &out);
	assert_non_null(strstr(out.data, "\033[33mWarning:\033[0m 2 is an even size"));
	eo_buf_free(&out);
	render_plan("default", "demo", 1, 3, false, &out);
	assert_null(strstr(out.data, "Warning"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_every_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skipped_states_are_implied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_scale_seen_only_at_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_step_in_flight_closes_the_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_with_leadership_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_down_leader_leaving_seen_only_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_and_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_step_in_flight_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_to_do, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_text, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
