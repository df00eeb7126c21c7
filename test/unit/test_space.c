/* Unit tests for the space decisions (shared/space.c): a NOSPACE recovery
 * replayed step by step (compact → defragment followers → leader → disarm),
 * the stuck case, the waits, and threshold defragmentation only when
 * settled and healthy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "space.h"

#define MiB (1LL << 20)

/* Three healthy members, demo-0 the leader, each with size/in-use MiB. */
static struct sp_observed three(int64_t size, int64_t in_use)
{
	struct sp_observed o;
	memset(&o, 0, sizeof(o));
	o.n = 3;
	for (int i = 0; i < 3; i++) {
		struct sp_member *m = &o.m[i];
		m->id = 100 + (uint64_t)i;
		snprintf(m->name, sizeof(m->name), "demo-%d", i);
		m->leader = i == 0;
		m->reachable = m->ready = true;
		m->db_size = size * MiB;
		m->db_in_use = in_use * MiB;
	}
	o.quota_bytes = 32 * MiB;
	o.threshold_pct = 50;
	o.settled = true;
	o.revision = 5000;
	return o;
}

static void test_fragmentation(void **state)
{
	(void)state;
	struct sp_member m = {.db_size = 100, .db_in_use = 25};
	assert_int_equal(sp_fragmentation(&m), 75);
	m.db_size = 0;
	assert_int_equal(sp_fragmentation(&m), 0);
	m.db_size = 10; /* in use beyond the file: not believed */
	m.db_in_use = 20;
	assert_int_equal(sp_fragmentation(&m), 0);
}

static void test_nospace_recovery_in_order(void **state)
{
	(void)state;
	struct sp_observed o = three(32, 30);
	o.nospace = true;
	for (int i = 0; i < 3; i++)
		o.m[i].ready = false; /* the alarm makes them unhealthy */
	struct sp_action a;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_COMPACT);
	assert_int_equal(a.revision, 5000);
	assert_true(a.recovery);
	/* a moment for every member to apply the compaction */
	o.compacted_revision = 5000;
	o.now_ms = 1000000;
	o.compacted_at_ms = o.now_ms - 1000;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_WAIT);
	o.compacted_at_ms = o.now_ms - SP_COMPACT_SETTLE_MS;
	/* every member once, whatever its in-use figure says (a quiet follower
	 * frees its pages only at its next write): followers, then the leader */
	o.m[0].db_in_use = 3 * MiB;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_DEFRAG);
	assert_int_equal(a.member, 1);
	assert_non_null(strstr(a.message, "demo-1"));
	o.done[o.ndone++] = o.m[1].id;
	o.m[1].db_size = 3 * MiB;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_DEFRAG);
	assert_int_equal(a.member, 2);
	o.done[o.ndone++] = o.m[2].id;
	o.m[2].db_size = 3 * MiB;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_DEFRAG);
	assert_int_equal(a.member, 0); /* the leader, last */
	assert_non_null(strstr(a.message, "leader"));
	o.done[o.ndone++] = o.m[0].id;
	o.m[0].db_size = 3 * MiB;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_DISARM);
	/* once disarmed and healthy, nothing more */
	o.nospace = false;
	for (int i = 0; i < 3; i++)
		o.m[i].ready = true;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_NONE);
}

static void test_nospace_waits_for_every_member(void **state)
{
	(void)state;
	struct sp_observed o = three(32, 4);
	o.nospace = true;
	o.compacted_revision = 5000;
	o.m[1].reachable = false;
	struct sp_action a;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_WAIT);
	assert_non_null(strstr(a.message, "demo-1"));
}

static void test_nospace_live_data_is_stuck(void **state)
{
	(void)state;
	struct sp_observed o = three(31, 31);
	o.nospace = true;
	o.compacted_revision = 5000; /* compacted and defragmented: nothing freed */
	for (int i = 0; i < 3; i++)
		o.done[o.ndone++] = o.m[i].id;
	struct sp_action a;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_STUCK);
	assert_non_null(strstr(a.message, "quotaBackendBytes"));
	/* a later write moved the revision: compact again first */
	o.revision = 5001;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_COMPACT);
}

static void test_threshold_only_when_settled(void **state)
{
	(void)state;
	struct sp_observed o = three(100, 40); /* 60% free */
	struct sp_action a;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_DEFRAG);
	assert_false(a.recovery);
	assert_int_equal(a.member, 1); /* a follower first (ties: the first) */
	o.settled = false; /* scaling, rolling, upgrading or suspended */
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_NONE);
	o.settled = true;
	o.m[2].ready = false; /* each healthy before the next */
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_NONE);
	o.m[2].ready = true;
	o.threshold_pct = 0; /* off */
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_NONE);
	o.threshold_pct = 70; /* below the line */
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_NONE);
	/* only the leader over the line: the leader */
	o.threshold_pct = 50;
	o.m[1].db_in_use = o.m[2].db_in_use = 90 * MiB;
	sp_decide(&o, &a);
	assert_int_equal(a.kind, SP_DEFRAG);
	assert_int_equal(a.member, 0);
	/* a tiny database is never worth a pause, whatever its share */
	struct sp_observed t = three(1, 0);
	t.m[0].db_size = t.m[1].db_size = t.m[2].db_size = 512 * 1024;
	sp_decide(&t, &a);
	assert_int_equal(a.kind, SP_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fragmentation),
		cmocka_unit_test(test_nospace_recovery_in_order),
		cmocka_unit_test(test_nospace_waits_for_every_member),
		cmocka_unit_test(test_nospace_live_data_is_stuck),
		cmocka_unit_test(test_threshold_only_when_settled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
