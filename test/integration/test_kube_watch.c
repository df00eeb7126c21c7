/*
 * Integration tests for watch streams and the informer (shared/kube/kube_watch.c)
 * against a real HTTPS server (test/helpers/kube_testsrv): events split into
 * 7-byte chunks, the stop flag and the callback ending a watch, HTTP 410,
 * resuming from the last resourceVersion after the server closes, and a
 * relist after 410 that reports the object that vanished meanwhile.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/kube_fixture.h"
#include "json.h"
#include "kube.h"

#define TOKEN KUBE_TESTSRV_TOKEN

/* ---- watch ---- */

struct events {
	pthread_mutex_t lock;
	enum kube_event ev[64];
	char name[64][32];
	int n;
	int stop_after; /* callback asks to stop after this many (0: never) */
};

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct events *e = ud;
	pthread_mutex_lock(&e->lock);
	if (e->n < 64) {
		e->ev[e->n] = ev;
		snprintf(e->name[e->n], sizeof(e->name[0]), "%s",
			 obj ? json_opt_str(obj, "metadata.name", "") : "");
		e->n++;
	}
	int stop = e->stop_after && e->n >= e->stop_after;
	pthread_mutex_unlock(&e->lock);
	return stop;
}

static int has_event(struct events *e, enum kube_event ev, const char *name)
{
	pthread_mutex_lock(&e->lock);
	int found = 0;
	for (int i = 0; i < e->n && !found; i++)
		found = e->ev[i] == ev && !strcmp(e->name[i], name);
	pthread_mutex_unlock(&e->lock);
	return found;
}

static int wait_event(struct events *e, enum kube_event ev, const char *name)
{
	for (int i = 0; i < 300; i++) {
		if (has_event(e, ev, name))
			return 1;
		usleep(50 * 1000);
	}
	return 0;
}

static void put(const char *name)
{
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
		 "\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{\"replicas\":1}}",
		 name);
	kube_fixture_ctl("/_test/put", body);
}

static void test_watch_chunked(void **state)
{
	struct kube_client *kc = kube_fixture_client(TOKEN, 5000);
	struct eo_err err = {0};
	json_object *list = NULL;
	assert_int_equal(kube_list(kc, &KUBE_ETCDCLUSTERS, "default", NULL, &list, &err), 0);
	char rv0[64];
	snprintf(rv0, sizeof(rv0), "%s", json_opt_str(list, "metadata.resourceVersion", ""));
	json_object_put(list);
	put("a");
	put("b");
	put("a");
	/* Every event arrives in 7-byte chunks; the server closes after 3. */
	kube_fixture_ctl("/_test/watch", "{\"chunk\":7,\"close_after\":3}");
	struct events e = {.lock = PTHREAD_MUTEX_INITIALIZER};
	char last[64] = "";
	struct kube_watch_opts wo = {.resource_version = rv0, .last_rv = last, .timeout_seconds = 30};
	assert_int_equal(kube_watch(kc, &KUBE_ETCDCLUSTERS, "default", &wo, on_event, &e, &err), 0);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.ev[0], KUBE_EV_ADDED);
	assert_string_equal(e.name[0], "a");
	assert_int_equal(e.ev[1], KUBE_EV_ADDED);
	assert_string_equal(e.name[1], "b");
	assert_int_equal(e.ev[2], KUBE_EV_MODIFIED);
	assert_int_equal(atoi(last), atoi(rv0) + 3);
	json_object *r = kube_fixture_requests("GET", "/apis/etcd.k8s-operator.io/v1alpha1/namespaces/default/etcdclusters");
	json_object *w = json_object_array_get_idx(r, (int)json_object_array_length(r) - 1);
	assert_string_equal(json_opt_str(w, "query.watch", ""), "1");
	assert_string_equal(json_opt_str(w, "query.allowWatchBookmarks", ""), "true");
	assert_string_equal(json_opt_str(w, "query.timeoutSeconds", ""), "30");
	assert_string_equal(json_opt_str(w, "query.resourceVersion", ""), rv0);
	json_object_put(r);

	/* The callback stops the watch. */
	struct events e2 = {.lock = PTHREAD_MUTEX_INITIALIZER, .stop_after = 1};
	wo.last_rv = NULL;
	assert_int_equal(kube_watch(kc, &KUBE_ETCDCLUSTERS, "default", &wo, on_event, &e2, &err), -1);
	assert_int_equal(err.code, EO_ECANCELED);
	assert_int_equal(e2.n, 1);

	/* HTTP 410 for a resourceVersion that is too old. */
	kube_fixture_ctl("/_test/watch", "{\"http410\":true}");
	assert_int_equal(kube_watch(kc, &KUBE_ETCDCLUSTERS, "default", &wo, on_event, &e2, &err), -1);
	assert_int_equal(err.code, 410);
	assert_non_null(strstr(err.msg, "too old resource version"));
	kube_client_free(kc);
}

struct stopper {
	volatile sig_atomic_t *stop;
	int after_ms;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;
	usleep((useconds_t)s->after_ms * 1000);
	*s->stop = 1;
	return NULL;
}

static void test_watch_stop_flag(void **state)
{
	struct kube_client *kc = kube_fixture_client(TOKEN, 5000);
	struct eo_err err = {0};
	volatile sig_atomic_t stop = 0;
	struct events e = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct kube_watch_opts wo = {.stop = &stop, .timeout_seconds = 60};
	struct stopper s = {&stop, 300};
	pthread_t t;
	pthread_create(&t, NULL, stop_later, &s);
	int64_t t0 = eo_now_ms();
	assert_int_equal(kube_watch(kc, &KUBE_ETCDCLUSTERS, "default", &wo, on_event, &e, &err), -1);
	assert_int_equal(err.code, EO_ECANCELED);
	assert_true(eo_now_ms() - t0 < 30000); /* long before the watch would end */
	pthread_join(t, NULL);
	kube_client_free(kc);
}

struct informer_run {
	struct kube_client *kc;
	struct events *e;
	volatile sig_atomic_t stop;
	int rc;
	struct eo_err err;
};

static void *informer_thread(void *arg)
{
	struct informer_run *ir = arg;
	ir->rc = kube_informer_run(ir->kc, &KUBE_ETCDCLUSTERS, "default", NULL, on_event, ir->e,
				   &ir->stop, &ir->err);
	return NULL;
}

static int count_events(struct events *e, enum kube_event ev)
{
	pthread_mutex_lock(&e->lock);
	int n = 0;
	for (int i = 0; i < e->n; i++)
		n += e->ev[i] == ev;
	pthread_mutex_unlock(&e->lock);
	return n;
}

static void test_informer_resume_and_relist(void **state)
{
	put("a");
	put("b");
	/* The first watch ends after one event: the informer must resume. */
	kube_fixture_ctl("/_test/watch", "{\"close_after\":1}");
	struct events e = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct informer_run ir = {.kc = kube_fixture_client(TOKEN, 5000), .e = &e};
	pthread_t t;
	pthread_create(&t, NULL, informer_thread, &ir);
	assert_true(wait_event(&e, KUBE_EV_SYNCED, ""));
	assert_true(has_event(&e, KUBE_EV_ADDED, "a"));
	assert_true(has_event(&e, KUBE_EV_ADDED, "b"));

	put("c"); /* delivered, then the server closes the watch */
	assert_true(wait_event(&e, KUBE_EV_ADDED, "c"));
	put("d"); /* only seen if the informer came back */
	assert_true(wait_event(&e, KUBE_EV_ADDED, "d"));
	/* It came back from where it was, not from scratch. */
	json_object *r = kube_fixture_requests("GET", "/apis/etcd.k8s-operator.io/v1alpha1/namespaces/default/etcdclusters");
	int lists = 0, watches = 0;
	const char *resumed_at = NULL;
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		json_object *q = json_object_array_get_idx(r, i);
		if (json_at(q, "query.watch")) {
			if (++watches == 2)
				resumed_at = json_opt_str(q, "query.resourceVersion", "");
		} else {
			lists++;
		}
	}
	assert_int_equal(lists, 1);
	assert_true(watches >= 2);
	assert_non_null(resumed_at);
	json_object *c = NULL;
	struct eo_err err = {0};
	assert_int_equal(kube_get(ir.kc, &KUBE_ETCDCLUSTERS, NULL, "c", &c, &err), 0);
	assert_string_equal(resumed_at, json_opt_str(c, "metadata.resourceVersion", ""));
	json_object_put(c);
	json_object_put(r);

	/* b vanishes without an event and history is compacted; the watch is
	 * dropped; resuming gets 410; the relist must report b as DELETED. */
	kube_fixture_ctl("/_test/vanish", "{\"namespace\":\"default\",\"name\":\"b\"}");
	kube_fixture_ctl("/_test/kick", NULL);
	assert_true(wait_event(&e, KUBE_EV_DELETED, "b"));
	for (int i = 0; i < 100 && count_events(&e, KUBE_EV_SYNCED) < 2; i++)
		usleep(50 * 1000);
	assert_int_equal(count_events(&e, KUBE_EV_SYNCED), 2);
	assert_int_equal(count_events(&e, KUBE_EV_DELETED), 1);
	/* Nothing already known was reported again as new. */
	assert_int_equal(count_events(&e, KUBE_EV_ADDED), 4);

	ir.stop = 1;
	pthread_join(t, NULL);
	assert_int_equal(ir.rc, 0);
	kube_client_free(ir.kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_watch_chunked, kube_fixture_reset),
		cmocka_unit_test_setup(test_watch_stop_flag, kube_fixture_reset),
		cmocka_unit_test_setup(test_informer_resume_and_relist, kube_fixture_reset),
	};
	return cmocka_run_group_tests(tests, kube_fixture_setup, kube_fixture_teardown);
}
