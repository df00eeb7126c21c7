/*
 * Integration tests of the etcd client against real etcd 3.4 processes on
 * 127.10.X.Y (test/helpers/etcd_proc.h). The tests run in order on one
 * cluster, the way the controller drives it: one member, grow 1 → 2 → 3 with
 * learners, faults (quorum loss, a member down under --strict-reconfig-check,
 * dead and hanging endpoints), leadership moves, and shrink back to 1 with
 * every key written still there.
 *
 * Hosts: m1..m3 are .1-.3; .4 is a peer URL that never runs (the refused
 * second learner); .6 a one-member cluster behind TLS; .7 a member whose
 * test process crashes; .8 blackhole listeners (hanging, dropping, SYN-
 * dropping); .9 nothing at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/etcd_proc.h"
#include "etcd.h"

#define NKEYS_PER_STEP 20

struct member {
	struct etcd_proc *p;
	uint64_t id;
	char name[8];
};

static struct {
	struct member m[4]; /* index = host: m[1..3] */
	int nkeys;
	bool broken; /* a test on the shared cluster stopped half-way */
} T;

#define CHECK(call)                                                                  \
	do {                                                                         \
		struct eo_err err_ = {0};                                            \
		if ((call) != 0)                                                     \
			fail_msg("%s failed: [%s] %s", #call, etcd_err_name(err_.code), \
				 err_.msg);                                          \
	} while (0)
/* Inside CHECK(...) the error record is err_. */
#define E (&err_)

static struct etcd_client *client_of(const int *hosts, size_t n, long timeout_ms)
{
	char urls[8][64];
	const char *eps[8];
	for (size_t i = 0; i < n; i++) {
		etcd_proc_client_url(hosts[i], urls[i]);
		eps[i] = urls[i];
	}
	struct eo_err err;
	struct etcd_client *c = etcd_client_new(eps, n, NULL, timeout_ms, &err);
	if (!c)
		fail_msg("client: %s", err.msg);
	return c;
}

static struct etcd_client *client1(int host)
{
	return client_of(&host, 1, 0);
}

/* Retry on errors etcd says are transient, never a write that timed out
 * (it may have been applied), with a doubling backoff, until deadline. */
static bool again(const struct eo_err *err, bool write, int64_t deadline, int *delay)
{
	if (!etcd_err_retryable(err))
		return false;
	if (write && (err->code == EO_ETIMEOUT || err->code == ETCD_ETIMEDOUT))
		return false;
	if (eo_now_ms() + *delay > deadline)
		return false;
	eo_sleep_ms(*delay);
	*delay = *delay * 2 > 800 ? 800 : *delay * 2;
	return true;
}

static void put_keys(struct etcd_client *c, int n)
{
	for (int i = 0; i < n; i++, T.nkeys++) {
		char key[32], val[64];
		snprintf(key, sizeof(key), "/t/k%04d", T.nkeys);
		snprintf(val, sizeof(val), "value %d\n\x01\xff", T.nkeys);
		CHECK(etcd_put(c, key, val, strlen(val), E));
	}
}

static void check_keys(struct etcd_client *c)
{
	int64_t count = -1;
	CHECK(etcd_count_prefix(c, "/t/", &count, E));
	assert_int_equal(count, T.nkeys);
	for (int i = 0; i < T.nkeys; i++) {
		char key[32], want[64], *val = NULL;
		size_t len = 0;
		snprintf(key, sizeof(key), "/t/k%04d", i);
		snprintf(want, sizeof(want), "value %d\n\x01\xff", i);
		CHECK(etcd_get(c, key, &val, &len, E));
		assert_non_null(val);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(val, want, len);
		free(val);
	}
}

static uint64_t leader_of(int host)
{
	struct etcd_client *c = client1(host);
	struct etcd_status st;
	CHECK(etcd_status(c, T.m[host].p->client_url, &st, E));
	etcd_client_free(c);
	return st.leader;
}

static int host_of(uint64_t id)
{
	for (int h = 1; h <= 3; h++)
		if (T.m[h].id == id)
			return h;
	return 0;
}

/* Wait until member `host` sees a leader other than none and, if want != 0,
 * exactly want. */
static uint64_t wait_leader(int host, uint64_t want, long bound_ms)
{
	int64_t deadline = eo_now_ms() + bound_ms;
	uint64_t l = 0;
	while (eo_now_ms() < deadline) {
		struct etcd_client *c = client1(host);
		struct etcd_status st;
		struct eo_err err;
		if (etcd_status(c, T.m[host].p->client_url, &st, &err) == 0)
			l = st.leader;
		etcd_client_free(c);
		if (l && (!want || l == want))
			return l;
		eo_sleep_ms(50);
	}
	fail_msg("m%d: leader %" PRIu64 " after %ld ms, want %" PRIu64, host, l, bound_ms, want);
	return 0;
}

/* Add `host` as a learner, start it from the live member list, promote it
 * with retries. first: also check what a learner refuses. */
static void grow(struct etcd_client *c, int host, bool first)
{
	struct member *m = &T.m[host];
	snprintf(m->name, sizeof(m->name), "m%d", host);
	char peer[64];
	etcd_proc_peer_url(host, peer);

	struct etcd_member added;
	struct eo_err err;
	int delay = 50, rc;
	int64_t deadline = eo_now_ms() + 15000;
	/* Right after a member restarted, --strict-reconfig-check answers
	 * "unhealthy cluster" for a few seconds: retry. */
	while ((rc = etcd_member_add(c, peer, true, &added, &err)) != 0 &&
	       again(&err, true, deadline, &delay))
		;
	if (rc != 0)
		fail_msg("member add %s: %s", peer, err.msg);
	assert_true(added.learner);
	assert_true(added.id != 0);
	assert_string_equal(added.peer_urls[0], peer);
	m->id = added.id;

	if (first) {
		/* A second learner while one exists: etcd's own refusal. */
		char peer4[64];
		etcd_proc_peer_url(4, peer4);
		assert_int_equal(etcd_member_add(c, peer4, true, NULL, &err), -1);
		assert_int_equal(err.code, ETCD_ETOO_MANY_LEARNERS);
		print_message("second learner: %s\n", err.msg);
		assert_non_null(strstr(err.msg, "too many learner members in cluster"));
		assert_non_null(strstr(err.msg, "member add"));
		assert_false(etcd_err_retryable(&err));
		/* Adding the same peer URL again is refused too. */
		assert_int_equal(etcd_member_add(c, peer, true, NULL, &err), -1);
		assert_true(err.code == ETCD_EPEER_URL_EXISTS || err.code == ETCD_EMEMBER_EXISTS);
		/* A learner that has not even started is never in sync. */
		assert_int_equal(etcd_member_promote(c, m->id, &err), -1);
		assert_int_equal(err.code, ETCD_ENOT_SYNCED);
		print_message("early promote: %s\n", err.msg);
		assert_true(etcd_err_retryable(&err));
		/* Nor can it lead. */
		assert_int_equal(etcd_move_leader(c, T.m[1].p->client_url, m->id, &err), -1);
		assert_int_equal(err.code, ETCD_EBAD_TRANSFEREE);
		print_message("learner as leader: %s\n", err.msg);
	}

	/* What the member's init step does: read the live list, find itself. */
	struct etcd_members ms;
	CHECK(etcd_member_list(c, true, &ms, E));
	const struct etcd_member *self = etcd_members_find_peer(&ms, peer);
	assert_non_null(self);
	assert_true(self->id == m->id);
	assert_true(self->learner);
	assert_string_equal(self->name, ""); /* not started yet */
	assert_int_equal(self->nclient, 0);
	char ic[1024];
	assert_int_equal(etcd_initial_cluster(&ms, m->id, m->name, ic, sizeof(ic)), 0);

	struct etcd_proc_opts o = {.name = m->name, .host = host, .existing = true,
				   .initial_cluster = ic, .strict_reconfig = true};
	m->p = etcd_proc_start(&o, &err);
	if (!m->p)
		fail_msg("%s", err.msg);
	CHECK(etcd_proc_wait_healthy(m->p, 20000, E));

	if (first) {
		/* A learner refuses member list and reads. */
		struct etcd_client *lc = client1(host);
		struct etcd_members lms;
		char *val = NULL;
		size_t len;
		assert_int_equal(etcd_member_list(lc, false, &lms, &err), -1);
		assert_int_equal(err.code, ETCD_ELEARNER);
		print_message("learner member list: %s\n", err.msg);
		assert_non_null(strstr(err.msg, "rpc not supported for learner"));
		assert_non_null(strstr(err.msg, m->p->client_url));
		assert_int_equal(etcd_get(lc, "/t/k0000", &val, &len, &err), -1);
		assert_int_equal(err.code, ETCD_ELEARNER);
		assert_null(val);
		/* ... but answers status, and says it is a learner. */
		struct etcd_status st;
		CHECK(etcd_status(lc, m->p->client_url, &st, E));
		assert_true(st.is_learner);
		assert_true(st.member_id == m->id);
		assert_true(st.leader == T.m[1].id);
		etcd_client_free(lc);

		/* With the learner first, a cluster-wide read moves on to a voter. */
		int order[] = {host, 1};
		struct etcd_client *both = client_of(order, 2, 0);
		CHECK(etcd_member_list(both, false, &lms, E));
		assert_true(lms.responder_id == T.m[1].id);
		etcd_client_free(both);
	}

	/* Promote: "not in sync" until it has caught up, so retry. */
	delay = 50;
	deadline = eo_now_ms() + 20000;
	while ((rc = etcd_member_promote(c, m->id, &err)) != 0 && again(&err, true, deadline, &delay))
		;
	if (rc != 0)
		fail_msg("promote %s: %s", m->name, err.msg);
	CHECK(etcd_member_list(c, true, &ms, E));
	self = etcd_members_find_id(&ms, m->id);
	assert_non_null(self);
	assert_false(self->learner);
	assert_string_equal(self->name, m->name);
	assert_int_equal(self->nclient, 1);
	assert_string_equal(self->client_urls[0], m->p->client_url);
	/* Promoting a voter again is a distinct, final error. */
	assert_int_equal(etcd_member_promote(c, m->id, &err), -1);
	assert_int_equal(err.code, ETCD_ENOT_LEARNER);
}

/* The tests share one cluster: once one stops half-way the rest would only
 * repeat its failure, so they are skipped and the first failure stands.
 * BEGIN opens and END closes each such test. */
#define BEGIN()                    \
	do {                       \
		if (T.broken)      \
			skip();    \
		T.broken = true;   \
	} while (0)
#define END() (T.broken = false)

static int setup(void **state)
{
	struct eo_err err;
	if (etcd_proc_setup("127.10", &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	etcd_proc_cleanup();
	return 0;
}

static void test_single_member(void **state)
{
	BEGIN();
	struct eo_err err;
	struct member *m = &T.m[1];
	snprintf(m->name, sizeof(m->name), "m1");
	struct etcd_proc_opts o = {.name = "m1", .host = 1, .strict_reconfig = true};
	m->p = etcd_proc_start(&o, &err);
	if (!m->p)
		fail_msg("%s", err.msg);
	CHECK(etcd_proc_wait_healthy(m->p, 20000, E));

	struct etcd_client *c = client1(1);
	struct etcd_members ms;
	CHECK(etcd_member_list(c, false, &ms, E));
	assert_int_equal(ms.n, 1);
	assert_string_equal(ms.m[0].name, "m1");
	assert_string_equal(ms.m[0].peer_urls[0], m->p->peer_url);
	assert_false(ms.m[0].learner);
	assert_true(ms.cluster_id != 0);
	m->id = ms.m[0].id;

	wait_leader(1, m->id, 10000);
	struct etcd_status st;
	CHECK(etcd_status(c, m->p->client_url, &st, E));
	assert_true(st.member_id == m->id);
	assert_true(st.leader == m->id);
	assert_true(st.raft_index > 0);
	assert_true(st.raft_term > 0);
	assert_true(st.db_size > 0);
	assert_false(st.is_learner);
	assert_string_equal(st.errors, "");
	assert_int_equal(strncmp(st.version, "3.", 2), 0);
	assert_true(st.cluster_id == ms.cluster_id);

	char *val = (char *)1;
	size_t len;
	CHECK(etcd_get(c, "/t/absent", &val, &len, E));
	assert_null(val);
	put_keys(c, NKEYS_PER_STEP);
	check_keys(c);
	CHECK(etcd_health(c, m->p->client_url, E));
	etcd_client_free(c);
	END();
}

static void test_grow_to_two(void **state)
{
	BEGIN();
	struct etcd_client *c = client1(1);
	grow(c, 2, true);
	put_keys(c, NKEYS_PER_STEP);
	etcd_client_free(c);
	END();
}

/* With quorum lost, 3.4 still answers member list from the member's own
 * copy; the linearizable list must not. */
static void test_quorum_loss(void **state)
{
	BEGIN();
	struct eo_err err;
	etcd_proc_kill(T.m[2].p);
	struct etcd_client *c = client_of((int[]){1}, 1, 1500);
	struct etcd_members ms;
	CHECK(etcd_member_list(c, false, &ms, E)); /* stale but answered */
	assert_int_equal(ms.n, 2);
	int64_t t0 = eo_now_ms();
	assert_int_equal(etcd_member_list(c, true, &ms, &err), -1);
	int64_t took = eo_now_ms() - t0;
	print_message("linearizable list without quorum (%" PRId64 " ms): %s\n", took, err.msg);
	assert_true(err.code == EO_ETIMEOUT || err.code == ETCD_ETIMEDOUT);
	assert_true(etcd_err_retryable(&err));
	assert_true(took < 1500 + 2000); /* the deadline held (generous slack) */
	assert_int_equal(etcd_health(c, T.m[1].p->client_url, &err), -1);
	etcd_client_free(c);

	CHECK(etcd_proc_restart(T.m[2].p, E));
	CHECK(etcd_proc_wait_healthy(T.m[2].p, 20000, E));
	CHECK(etcd_proc_wait_healthy(T.m[1].p, 20000, E));
	END();
}

static void test_grow_to_three(void **state)
{
	BEGIN();
	struct etcd_client *c = client1(1);
	grow(c, 3, false);
	put_keys(c, NKEYS_PER_STEP);
	etcd_client_free(c);
	END();
}

static void test_status_all_members(void **state)
{
	BEGIN();
	uint64_t leader = wait_leader(1, 0, 10000);
	struct etcd_client *c = client_of((int[]){1, 2, 3}, 3, 0);
	for (int h = 1; h <= 3; h++) {
		struct etcd_status st;
		CHECK(etcd_status(c, T.m[h].p->client_url, &st, E));
		assert_true(st.member_id == T.m[h].id);
		assert_true(st.leader == leader);
		assert_false(st.is_learner);
		assert_true(st.raft_index > 0);
		assert_true(st.db_size > 0);
		CHECK(etcd_health(c, T.m[h].p->client_url, E));
	}
	struct etcd_members ms;
	CHECK(etcd_member_list(c, true, &ms, E));
	assert_int_equal(ms.n, 3);
	for (int i = 0; i < ms.n; i++)
		assert_false(ms.m[i].learner);
	check_keys(c);
	etcd_client_free(c);
	END();
}

static void test_failover_dead_endpoint(void **state)
{
	BEGIN();
	/* .9 has no listener: connection refused, nothing sent, next one. */
	struct etcd_client *c = client_of((int[]){9, 1}, 2, 0);
	struct etcd_members ms;
	CHECK(etcd_member_list(c, false, &ms, E));
	assert_true(ms.responder_id == T.m[1].id);
	put_keys(c, 5); /* writes too: the refused connection sent nothing */
	etcd_client_free(c);

	/* The same through a name (a fresh connection each call). */
	const char *named[] = {"http://localhost:1", T.m[1].p->client_url};
	struct eo_err nerr;
	c = etcd_client_new(named, 2, NULL, 0, &nerr);
	assert_non_null(c);
	for (int i = 0; i < 3; i++)
		CHECK(etcd_member_list(c, false, &ms, E));
	assert_true(ms.responder_id == T.m[1].id);
	etcd_client_free(c);

	struct eo_err err;
	c = client_of((int[]){9}, 1, 0);
	assert_int_equal(etcd_member_list(c, false, &ms, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	print_message("dead endpoint: %s\n", err.msg);
	assert_non_null(strstr(err.msg, ".9:2379: member list: cannot connect"));
	etcd_client_free(c);
	END();
}

static void test_deadline_hanging_endpoint(void **state)
{
	BEGIN();
	struct eo_err err;
	char url[64];
	int fd = etcd_proc_blackhole(8, url, &err);
	if (fd < 0)
		fail_msg("%s", err.msg);
	const char *eps[] = {url, T.m[1].p->client_url};
	struct etcd_client *c = etcd_client_new(eps, 1, NULL, 600, &err);
	assert_non_null(c);
	struct etcd_members ms;
	int64_t t0 = eo_now_ms();
	assert_int_equal(etcd_member_list(c, false, &ms, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	assert_non_null(strstr(err.msg, url));
	assert_true(eo_now_ms() - t0 < 600 + 2000);
	t0 = eo_now_ms();
	assert_int_equal(etcd_health(c, url, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	assert_true(eo_now_ms() - t0 < 600 + 2000);
	etcd_client_free(c);

	/* A write that may have reached a member is not sent to the next one. */
	c = etcd_client_new(eps, 2, NULL, 600, &err);
	assert_non_null(c);
	assert_int_equal(etcd_put(c, "/other/hang", "x", 1, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	print_message("write at a hanging endpoint: %s\n", err.msg);
	assert_non_null(strstr(err.msg, url));
	etcd_client_free(c);
	close(fd);

	struct etcd_client *c1 = client1(1);
	char *val = (char *)1;
	size_t len;
	CHECK(etcd_get(c1, "/other/hang", &val, &len, E));
	assert_null(val);
	etcd_client_free(c1);
	END();
}

/* An endpoint that reads each request and closes the connection without an
 * answer: the request was sent, so a write must not go to the next endpoint
 * (etcd might have applied it), while a read may. */
struct dropper {
	int fd;
	volatile int stop;
	pthread_t th;
};

static void *drop_loop(void *arg)
{
	struct dropper *d = arg;
	while (!d->stop) {
		struct pollfd pfd = {.fd = d->fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int c = accept(d->fd, NULL, NULL);
		if (c < 0)
			continue;
		char buf[4096];
		struct pollfd cp = {.fd = c, .events = POLLIN};
		if (poll(&cp, 1, 2000) > 0) {
			ssize_t n = read(c, buf, sizeof(buf));
			(void)n;
		}
		close(c);
	}
	return NULL;
}

static void test_dropped_connection(void **state)
{
	BEGIN();
	struct eo_err err;
	char url[64];
	struct dropper d = {.fd = etcd_proc_blackhole(8, url, &err)};
	if (d.fd < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(pthread_create(&d.th, NULL, drop_loop, &d), 0);
	const char *eps[] = {url, T.m[1].p->client_url};
	struct etcd_client *c = etcd_client_new(eps, 2, NULL, 3000, &err);
	assert_non_null(c);
	assert_int_equal(etcd_put(c, "/other/dropped", "x", 1, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	assert_non_null(strstr(err.msg, url));
	print_message("write at a dropping endpoint: %s\n", err.msg);
	struct etcd_members ms;
	CHECK(etcd_member_list(c, false, &ms, E)); /* a read moves on */
	assert_true(ms.responder_id == T.m[1].id);
	etcd_client_free(c);
	d.stop = 1;
	pthread_join(d.th, NULL);
	close(d.fd);

	struct etcd_client *c1 = client1(1);
	char *val = (char *)1;
	size_t len;
	CHECK(etcd_get(c1, "/other/dropped", &val, &len, E));
	assert_null(val);
	etcd_client_free(c1);
	END();
}

/* SYNs dropped: nothing was sent, so after the dial timeout even a write
 * goes to the next endpoint, within the call's deadline. */
static void test_blackholed_address(void **state)
{
	BEGIN();
	struct eo_err err;
	char url[64];
	int fds[2];
	CHECK(etcd_proc_synhole(8, url, fds, E));
	const char *eps[] = {url, T.m[1].p->client_url};
	struct etcd_client *c = etcd_client_new(eps, 2, NULL, 5000, &err);
	assert_non_null(c);
	CHECK(etcd_put(c, "/other/synhole", "y", 1, E));
	char *val = NULL;
	size_t len;
	CHECK(etcd_get(c, "/other/synhole", &val, &len, E));
	assert_non_null(val);
	assert_string_equal(val, "y");
	free(val);
	etcd_client_free(c);

	c = etcd_client_new(eps, 1, NULL, 800, &err);
	assert_int_equal(etcd_status(c, url, &(struct etcd_status){0}, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	print_message("blackholed address: %s\n", err.msg);
	etcd_client_free(c);
	close(fds[1]);
	close(fds[0]);
	END();
}

/* A voter down under --strict-reconfig-check: membership changes refused
 * with "unhealthy cluster" (retryable) until it is back and settled. */
static void test_member_down_strict(void **state)
{
	BEGIN();
	struct eo_err err;
	uint64_t leader = wait_leader(1, 0, 10000);
	int victim = host_of(leader) == 3 ? 2 : 3, other = victim == 3 ? 2 : 3;
	etcd_proc_kill(T.m[victim].p);
	eo_sleep_ms(300); /* the leader notices the broken peer streams */
	struct etcd_client *c = client1(1);
	char peer4[64];
	etcd_proc_peer_url(4, peer4);
	struct etcd_member added;
	if (etcd_member_add(c, peer4, true, &added, &err) == 0) {
		etcd_member_remove(c, added.id, &err);
		fail_msg("member add with a voter down was accepted");
	}
	assert_int_equal(err.code, ETCD_EUNHEALTHY);
	print_message("add with a voter down: %s\n", err.msg);
	assert_true(etcd_err_retryable(&err));
	assert_non_null(strstr(err.msg, "unhealthy cluster"));
	assert_int_equal(etcd_member_remove(c, T.m[other].id, &err), -1);
	assert_int_equal(err.code, ETCD_EUNHEALTHY);
	/* Reads and writes still work with 2 of 3. */
	put_keys(c, 5);
	etcd_client_free(c);

	CHECK(etcd_proc_restart(T.m[victim].p, E));
	CHECK(etcd_proc_wait_healthy(T.m[victim].p, 20000, E));
	END();
}

static void test_move_leader(void **state)
{
	BEGIN();
	struct eo_err err;
	uint64_t leader = wait_leader(1, 0, 10000);
	int lh = host_of(leader);
	assert_true(lh >= 1);
	int follower = lh == 1 ? 2 : 1;
	struct etcd_client *c = client_of((int[]){1, 2, 3}, 3, 0);
	/* Sent to a follower: refused, and the message says where to send it. */
	assert_int_equal(etcd_move_leader(c, T.m[follower].p->client_url, T.m[follower].id, &err), -1);
	assert_int_equal(err.code, ETCD_ENOT_LEADER);
	print_message("move leader at a follower: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "not leader"));
	assert_non_null(strstr(err.msg, T.m[follower].p->client_url));

	/* Make m3 (the highest ordinal, removed first below) the leader. */
	if (lh != 3) {
		CHECK(etcd_move_leader(c, T.m[lh].p->client_url, T.m[3].id, E));
		for (int h = 1; h <= 3; h++)
			wait_leader(h, T.m[3].id, 10000);
	}
	assert_true(leader_of(1) == T.m[3].id);
	etcd_client_free(c);
	END();
}

/* Remove members back to one, the leader only after moving leadership. */
static void test_shrink_to_one(void **state)
{
	BEGIN();
	struct eo_err err;
	struct etcd_client *c = client1(1);
	for (int victim = 3; victim >= 2; victim--) {
		uint64_t leader = wait_leader(1, 0, 10000);
		if (leader == T.m[victim].id) {
			CHECK(etcd_move_leader(c, T.m[victim].p->client_url, T.m[1].id, E));
			wait_leader(1, T.m[1].id, 10000);
		}
		int delay = 50, rc;
		int64_t deadline = eo_now_ms() + 15000;
		while ((rc = etcd_member_remove(c, T.m[victim].id, &err)) != 0 &&
		       again(&err, true, deadline, &delay))
			;
		if (rc != 0)
			fail_msg("remove m%d: %s", victim, err.msg);
		/* A removed member shuts itself down. */
		if (etcd_proc_wait_exit(T.m[victim].p, 10000) != 0)
			etcd_proc_stop(T.m[victim].p, 2000);
		struct etcd_members ms;
		CHECK(etcd_member_list(c, true, &ms, E));
		assert_int_equal(ms.n, victim - 1);
		assert_null(etcd_members_find_id(&ms, T.m[victim].id));
		assert_int_equal(etcd_member_remove(c, T.m[victim].id, &err), -1);
		assert_int_equal(err.code, ETCD_EMEMBER_NOT_FOUND);
		put_keys(c, 5);
	}
	assert_true(leader_of(1) == T.m[1].id);
	check_keys(c);
	etcd_client_free(c);
	END();
}

/* Client certificates: the right ones work; no client certificate, no CA,
 * or plain http to the TLS port fail with a clear transport error. */
static void test_tls(void **state)
{
	struct eo_err err;
	struct etcd_proc_tls files;
	CHECK(etcd_proc_make_tls(6, &files, E));
	struct etcd_proc_opts o = {.name = "t6", .host = 6, .tls = &files};
	struct etcd_proc *p = etcd_proc_start(&o, &err);
	if (!p)
		fail_msg("%s", err.msg);
	CHECK(etcd_proc_wait_healthy(p, 20000, E));
	assert_int_equal(strncmp(p->client_url, "https://", 8), 0);

	const char *eps[] = {p->client_url};
	struct etcd_tls good = {.ca_file = files.ca, .cert_file = files.client_cert,
				.key_file = files.client_key};
	struct etcd_client *c = etcd_client_new(eps, 1, &good, 0, &err);
	assert_non_null(c);
	struct etcd_status st;
	CHECK(etcd_status(c, p->client_url, &st, E));
	assert_true(st.leader == st.member_id);
	CHECK(etcd_put(c, "/tls/k", "v", 1, E));
	char *val = NULL;
	size_t len;
	CHECK(etcd_get(c, "/tls/k", &val, &len, E));
	assert_non_null(val);
	assert_string_equal(val, "v");
	free(val);
	etcd_client_free(c);

	struct etcd_tls ca_only = {.ca_file = files.ca};
	c = etcd_client_new(eps, 1, &ca_only, 2000, &err);
	assert_int_equal(etcd_status(c, p->client_url, &st, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	print_message("TLS without client certificate: %s\n", err.msg);
	etcd_client_free(c);

	struct etcd_tls no_ca = {.cert_file = files.client_cert, .key_file = files.client_key};
	c = etcd_client_new(eps, 1, &no_ca, 2000, &err);
	assert_int_equal(etcd_status(c, p->client_url, &st, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	print_message("TLS without CA: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "TLS"));
	etcd_client_free(c);

	char plain[64];
	etcd_proc_client_url(6, plain); /* http:// */
	const char *peps[] = {plain};
	c = etcd_client_new(peps, 1, NULL, 2000, &err);
	assert_int_equal(etcd_health(c, plain, &err), -1);
	print_message("plain http to TLS: %s\n", err.msg);
	if (err.code != 400 && err.code != EO_ETRANSPORT)
		fail_msg("plain http to a TLS port: %d %s", err.code, err.msg);
	etcd_client_free(c);
	etcd_proc_free(p);
}

static bool pid_gone(pid_t pid)
{
	char path[64], buf[256] = "";
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *end = strrchr(buf, ')'); /* "pid (comm) S ..." */
	return end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
}

/* A test process that dies without running atexit (a crash, a timeout kill)
 * takes its etcd members with it. */
static void test_no_orphans_after_crash(void **state)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(pfd[0]);
		struct eo_err err;
		struct etcd_proc_opts o = {.name = "crash7", .host = 7};
		struct etcd_proc *p = etcd_proc_start(&o, &err);
		pid_t epid = p && etcd_proc_wait_healthy(p, 20000, &err) == 0 ? p->pid : 0;
		ssize_t w = write(pfd[1], &epid, sizeof(epid));
		(void)w;
		raise(SIGKILL);
		_exit(1);
	}
	close(pfd[1]);
	pid_t epid = 0;
	ssize_t r = read(pfd[0], &epid, sizeof(epid));
	close(pfd[0]);
	int st;
	waitpid(child, &st, 0);
	assert_int_equal(r, sizeof(epid));
	assert_true(epid > 0);
	int64_t deadline = eo_now_ms() + 10000;
	while (!pid_gone(epid) && eo_now_ms() < deadline)
		eo_sleep_ms(20);
	if (!pid_gone(epid)) {
		kill(-epid, SIGKILL);
		fail_msg("etcd %d outlived its crashed test process", (int)epid);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_member),
		cmocka_unit_test(test_grow_to_two),
		cmocka_unit_test(test_quorum_loss),
		cmocka_unit_test(test_grow_to_three),
		cmocka_unit_test(test_status_all_members),
		cmocka_unit_test(test_failover_dead_endpoint),
		cmocka_unit_test(test_deadline_hanging_endpoint),
		cmocka_unit_test(test_dropped_connection),
		cmocka_unit_test(test_blackholed_address),
		cmocka_unit_test(test_member_down_strict),
		cmocka_unit_test(test_move_leader),
		cmocka_unit_test(test_shrink_to_one),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_no_orphans_after_crash),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
