/* Unit tests for controller/workqueue.c: dedup, one worker per key, delayed
 * and rate-limited adds, shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../controller/workqueue.h"
#include "eo.h"

static void test_dedup(void **state)
{
	struct wq *q = wq_new(0, 0);
	wq_add(q, "ns/a");
	wq_add(q, "ns/a");
	wq_add(q, "ns/b");
	wq_add(q, "ns/a");
	assert_int_equal(wq_len(q), 2);
	char *k1 = wq_get(q), *k2 = wq_get(q);
	assert_string_equal(k1, "ns/a");
	assert_string_equal(k2, "ns/b");
	assert_null(wq_get_timeout(q, 50));
	wq_done(q, k1);
	wq_done(q, k2);
	free(k1);
	free(k2);
	assert_null(wq_get_timeout(q, 50));
	wq_free(q);
}

static void test_one_worker_per_key(void **state)
{
	struct wq *q = wq_new(0, 0);
	wq_add(q, "ns/a");
	char *k = wq_get(q);
	wq_add(q, "ns/a"); /* while in flight */
	wq_add(q, "ns/a");
	assert_null(wq_get_timeout(q, 50)); /* not handed out twice */
	wq_done(q, k);
	free(k);
	k = wq_get_timeout(q, 1000); /* … but once more after done */
	assert_non_null(k);
	assert_string_equal(k, "ns/a");
	wq_done(q, k);
	free(k);
	assert_null(wq_get_timeout(q, 50));
	wq_free(q);
}

static void test_add_after_keeps_earliest(void **state)
{
	struct wq *q = wq_new(0, 0);
	int64_t t0 = eo_now_ms();
	wq_add_after(q, "ns/a", 5000);
	wq_add_after(q, "ns/a", 100);
	wq_add_after(q, "ns/a", 3000);
	assert_int_equal(wq_len(q), 0);
	char *k = wq_get_timeout(q, 2000);
	assert_non_null(k);
	int64_t dt = eo_now_ms() - t0;
	assert_true(dt >= 90 && dt < 2000);
	wq_done(q, k);
	free(k);
	assert_null(wq_get_timeout(q, 200)); /* the later times merged into one */
	/* Zero delay is an immediate add. */
	wq_add_after(q, "ns/b", 0);
	assert_int_equal(wq_len(q), 1);
	wq_free(q);
}

static void test_rate_limited_backoff(void **state)
{
	struct wq *q = wq_new(10, 80);
	assert_int_equal(wq_add_rate_limited(q, "ns/a"), 10);
	assert_int_equal(wq_add_rate_limited(q, "ns/a"), 20);
	assert_int_equal(wq_add_rate_limited(q, "ns/a"), 40);
	assert_int_equal(wq_add_rate_limited(q, "ns/a"), 80);
	assert_int_equal(wq_add_rate_limited(q, "ns/a"), 80); /* capped */
	assert_int_equal(wq_failures(q, "ns/a"), 5);
	assert_int_equal(wq_add_rate_limited(q, "ns/b"), 10); /* per key */
	wq_forget(q, "ns/a");
	assert_int_equal(wq_failures(q, "ns/a"), 0);
	assert_int_equal(wq_add_rate_limited(q, "ns/a"), 10);
	char *k = wq_get_timeout(q, 1000);
	assert_non_null(k);
	wq_done(q, k);
	free(k);
	wq_free(q);
}

struct shared {
	struct wq *q;
	pthread_mutex_t mu;
	int in_flight[8];
	int max_in_flight;
	int handled;
};

static void *worker(void *arg)
{
	struct shared *s = arg;
	for (;;) {
		char *k = wq_get(s->q);
		if (!k)
			return NULL;
		int i = k[0] - 'a';
		pthread_mutex_lock(&s->mu);
		if (++s->in_flight[i] > s->max_in_flight)
			s->max_in_flight = s->in_flight[i];
		s->handled++;
		pthread_mutex_unlock(&s->mu);
		eo_sleep_ms(1);
		pthread_mutex_lock(&s->mu);
		s->in_flight[i]--;
		pthread_mutex_unlock(&s->mu);
		wq_done(s->q, k);
		free(k);
	}
}

static void test_concurrent_workers(void **state)
{
	struct shared s = {.q = wq_new(0, 0)};
	pthread_mutex_init(&s.mu, NULL);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, &s);
	for (int r = 0; r < 2000; r++) {
		char k[2] = {(char)('a' + r % 8), 0};
		wq_add(s.q, k);
		if (r % 100 == 0)
			eo_sleep_ms(2);
	}
	eo_sleep_ms(200);
	wq_shutdown(s.q);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(s.max_in_flight, 1); /* never two workers on one key */
	assert_true(s.handled >= 8);
	assert_null(wq_get(s.q));
	pthread_mutex_destroy(&s.mu);
	wq_free(s.q);
}

static void *blocked_get(void *arg)
{
	return wq_get(arg);
}

static void test_shutdown_wakes(void **state)
{
	struct wq *q = wq_new(0, 0);
	pthread_t t;
	pthread_create(&t, NULL, blocked_get, q);
	eo_sleep_ms(50);
	wq_shutdown(q);
	void *r;
	pthread_join(t, &r);
	assert_null(r);
	wq_add(q, "ns/a"); /* ignored after shutdown */
	assert_null(wq_get(q));
	wq_free(q);
	wq_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_one_worker_per_key),
		cmocka_unit_test(test_add_after_keeps_earliest),
		cmocka_unit_test(test_rate_limited_backoff),
		cmocka_unit_test(test_concurrent_workers),
		cmocka_unit_test(test_shutdown_wakes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
