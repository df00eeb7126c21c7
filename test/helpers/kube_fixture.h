/*
 * kube_fixture.h — the cmocka side of kube_testsrv: one scriptable API server
 * per test binary, started by the group setup and reset before each test,
 * and the few calls every kube client test makes against it, failing the
 * test on an error instead of returning one.
 *
 * The one idea: a test binary talks to exactly one server, so the server is
 * a single global (kube_fixture_srv) and the calls need no handle; tests
 * read its fields (url, addr, port, tls) directly.
 *
 *     cmocka_unit_test_setup(test_x, kube_fixture_reset), ...
 *     return cmocka_run_group_tests(tests, kube_fixture_setup, kube_fixture_teardown);
 *
 * Include it as "../helpers/kube_fixture.h" from test/integration.
 */
#ifndef EO_KUBE_FIXTURE_H
#define EO_KUBE_FIXTURE_H

#include <stddef.h>

#include <json-c/json.h>

#include "../helpers/kube_testsrv.h"
#include "kube.h"

/* The server; valid between kube_fixture_setup and kube_fixture_teardown. */
extern struct kube_testsrv kube_fixture_srv;

/* cmocka group setup and teardown: start and stop the server. */
int kube_fixture_setup(void **state);
int kube_fixture_teardown(void **state);
/* cmocka per-test setup: "/_test/reset" (scripts, tokens, request log). */
int kube_fixture_reset(void **state);

/* A connection to the server with token (may be NULL); see
 * kube_testsrv_conn. Free with kube_conn_free or hand it to a client. */
struct kube_conn *kube_fixture_conn(const char *token);
/* A client that owns c, with base's options (NULL: defaults) but
 * timeout_ms. Free with kube_client_free. */
struct kube_client *kube_fixture_client_for(struct kube_conn *c, long timeout_ms,
					    const struct kube_client_opts *base);
/* kube_fixture_client_for(kube_fixture_conn(token), timeout_ms, NULL). */
struct kube_client *kube_fixture_client(const char *token, long timeout_ms);
/* POST a control (see kube_testsrv_ctl); body may be NULL. */
void kube_fixture_ctl(const char *path, const char *body);
/* The requests the server saw (see kube_testsrv_requests); json_object_put it. */
json_object *kube_fixture_requests(const char *method, const char *path);

#endif
