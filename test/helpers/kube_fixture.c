/*
 * kube_fixture.c — one kube_testsrv per test binary, with calls that fail
 * the running cmocka test rather than return an error (kube_fixture.h).
 *
 * The one idea: every test/helpers file is linked into every test binary, so
 * this file only defines things; nothing starts until a test's group setup
 * calls kube_fixture_setup.
 */
#include "kube_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

struct kube_testsrv kube_fixture_srv;

int kube_fixture_setup(void **state)
{
	struct eo_err err = {0};
	if (kube_testsrv_start(&kube_fixture_srv, &err) != 0) {
		fprintf(stderr, "test server: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int kube_fixture_teardown(void **state)
{
	kube_testsrv_stop(&kube_fixture_srv);
	return 0;
}

int kube_fixture_reset(void **state)
{
	kube_fixture_ctl("/_test/reset", NULL);
	return 0;
}

struct kube_conn *kube_fixture_conn(const char *token)
{
	struct kube_conn *c = kube_testsrv_conn(&kube_fixture_srv, token);
	assert_non_null(c);
	return c;
}

struct kube_client *kube_fixture_client_for(struct kube_conn *c, long timeout_ms,
					    const struct kube_client_opts *base)
{
	struct kube_client_opts o = base ? *base : (struct kube_client_opts){0};
	o.timeout_ms = timeout_ms;
	struct eo_err err = {0};
	struct kube_client *kc = kube_client_new(c, &o, &err);
	if (!kc)
		fail_msg("kube_client_new: %s", err.msg);
	return kc;
}

struct kube_client *kube_fixture_client(const char *token, long timeout_ms)
{
	return kube_fixture_client_for(kube_fixture_conn(token), timeout_ms, NULL);
}

void kube_fixture_ctl(const char *path, const char *body)
{
	struct eo_err err = {0};
	if (kube_testsrv_ctl(&kube_fixture_srv, path, body, &err) != 0)
		fail_msg("%s: %s", path, err.msg);
}

json_object *kube_fixture_requests(const char *method, const char *path)
{
	json_object *r = kube_testsrv_requests(&kube_fixture_srv, method, path);
	assert_non_null(r);
	return r;
}
