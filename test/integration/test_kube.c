/*
 * Integration tests for the Kubernetes client (shared/kube/) against a real
 * HTTPS server (test/helpers/kube_testsrv: kube_server.py on a random
 * 127.11.X.Y address, an ephemeral port and its own PKI): authentication,
 * TLS checks, the verbs, retries, deadlines and warnings. The server is
 * scriptable (status codes, headers, hangs) and logs the requests it saw,
 * which is what most assertions read. Watches: test_kube_watch.c.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/kube_fixture.h"
#include "json.h"
#include "kube.h"

#define TOKEN KUBE_TESTSRV_TOKEN

static size_t count(const char *method, const char *path)
{
	json_object *r = kube_fixture_requests(method, path);
	size_t n = json_object_array_length(r);
	json_object_put(r);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	char *data;
	struct eo_err err;
	if (eo_read_file(path, 1 << 20, &data, len, &err) != 0)
		fail_msg("%s", err.msg);
	return data;
}

/* ---- authentication and TLS ---- */

static void test_bearer_token(void **state)
{
	struct kube_client *kc = kube_fixture_client(TOKEN, 5000);
	json_object *v = NULL;
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, &v, &err), 0);
	assert_string_equal(json_opt_str(v, "gitVersion", ""), "v1.32.0");
	json_object_put(v);
	/* A miss names the object, as the API server does. */
	assert_int_equal(kube_get(kc, &KUBE_ETCDCLUSTERS, NULL, "nope", &v, &err), -1);
	assert_int_equal(err.code, 404);
	assert_string_equal(err.msg, "etcdclusters.etcd.k8s-operator.io \"nope\" not found");
	assert_null(v);
	kube_client_free(kc);

	/* Without a token: 401, which says whose credentials were refused. */
	kc = kube_fixture_client(NULL, 5000);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, 401);
	assert_non_null(strstr(err.msg, "Unauthorized"));
	assert_non_null(strstr(err.msg, "kubeconfig test"));
	kube_client_free(kc);

	json_object *r = kube_fixture_requests("GET", "/version");
	assert_int_equal(json_object_array_length(r), 2);
	json_object *first = json_object_array_get_idx(r, 0);
	assert_string_equal(json_opt_str(first, "who", ""), "token");
	assert_string_equal(json_opt_str(first, "ua", ""), "libetcdop/0.1.0");
	assert_string_equal(json_opt_str(first, "accept", ""), "application/json");
	assert_string_equal(json_opt_str(json_object_array_get_idx(r, 1), "who", ""), "none");
	json_object_put(r);
}

static void test_client_certificate(void **state)
{
	struct kube_conn *c = kube_fixture_conn(NULL);
	c->cert_pem = slurp(kube_fixture_srv.tls.client_cert, &c->cert_len);
	c->key_pem = slurp(kube_fixture_srv.tls.client_key, &c->key_len);
	struct kube_client_opts o = {.user_agent = "kubectl-etcd/0.1.0 (linux/amd64)"};
	struct kube_client *kc = kube_fixture_client_for(c, 5000, &o);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	kube_client_free(kc);
	json_object *r = kube_fixture_requests("GET", "/version");
	json_object *first = json_object_array_get_idx(r, 0);
	assert_string_equal(json_opt_str(first, "who", ""), "cert:alice");
	assert_string_equal(json_opt_str(first, "ua", ""), "kubectl-etcd/0.1.0 (linux/amd64)");
	json_object_put(r);
}

static void test_tls_checks(void **state)
{
	struct eo_err err = {0};
	/* Another CA: the server is not trusted, and the message says where to look. */
	struct tls_fixture other;
	if (tls_fixture_make(NULL, &other, &err) != 0)
		fail_msg("%s", err.msg);
	struct kube_conn *c = kube_fixture_conn(TOKEN);
	free(c->ca_pem);
	c->ca_pem = slurp(other.ca_cert, &c->ca_len);
	struct kube_client *kc = kube_fixture_client_for(c, 5000, NULL);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	assert_non_null(strstr(err.msg, "certificate-authority"));
	assert_non_null(strstr(err.msg, kube_fixture_srv.url));
	kube_client_free(kc);
	/* ... unless verification is off. */
	c = kube_fixture_conn(TOKEN);
	free(c->ca_pem);
	c->ca_pem = slurp(other.ca_cert, &c->ca_len);
	tls_fixture_remove(&other);
	c->insecure = 1;
	kc = kube_fixture_client_for(c, 5000, NULL);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	kube_client_free(kc);

	/* tls-server-name: checked against the certificate instead of the
	 * address, while the connection still goes to the address. */
	c = kube_fixture_conn(TOKEN);
	c->tls_server_name = strdup("kube.test.internal");
	kc = kube_fixture_client_for(c, 5000, NULL);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	kube_client_free(kc);
	json_object *r = kube_fixture_requests("GET", "/version");
	char host[64];
	snprintf(host, sizeof(host), "%s:%d", kube_fixture_srv.addr, kube_fixture_srv.port);
	assert_string_equal(json_opt_str(json_object_array_get_idx(r, 0), "host", ""), host);
	json_object_put(r);
	c = kube_fixture_conn(TOKEN);
	c->tls_server_name = strdup("wrong.example");
	kc = kube_fixture_client_for(c, 5000, NULL);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	assert_non_null(strstr(err.msg, "tls-server-name"));
	kube_client_free(kc);
}

static void write_text(const char *path, const char *text)
{
	struct eo_err err;
	if (eo_write_file(path, text, strlen(text), 0600, &err) != 0)
		fail_msg("%s", err.msg);
}

/* tokenFile is read again for every request (the kubelet rotates it), and
 * a 401 gets exactly one more try with whatever the file holds then. */
static void test_token_file_reread(void **state)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/token", kube_fixture_srv.tls.dir);
	write_text(path, "tok-1\n");
	kube_fixture_ctl("/_test/tokens", "{\"tokens\":[\"tok-1\"]}");
	struct kube_conn *c = kube_fixture_conn(NULL);
	c->token_file = strdup(path);
	struct kube_client *kc = kube_fixture_client_for(c, 5000, NULL);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	kube_fixture_ctl("/_test/tokens", "{\"tokens\":[\"tok-2\"]}");
	write_text(path, "tok-2");
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	assert_int_equal(count("GET", "/version"), 2);
	/* Rotated on the server only: one refresh, one retry, then the 401. */
	kube_fixture_ctl("/_test/tokens", "{\"tokens\":[\"tok-3\"]}");
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, 401);
	assert_int_equal(count("GET", "/version"), 4);
	kube_client_free(kc);
	unlink(path);
	kube_fixture_ctl("/_test/tokens", "{\"tokens\":[\"" TOKEN "\"]}");
}

/* An exec credential is cached; a 401 drops it, the plugin runs again and
 * the request is retried once with the new token. */
static void test_exec_credential_refresh_on_401(void **state)
{
	char plugin[160], counter[160];
	snprintf(plugin, sizeof(plugin), "%s/cred.sh", kube_fixture_srv.tls.dir);
	snprintf(counter, sizeof(counter), "%s/cred.count", kube_fixture_srv.tls.dir);
	write_text(plugin,
		   "#!/bin/sh\n"
		   "n=$(cat \"$1\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$1\"\n"
		   "if [ $n -eq 1 ]; then t=stale; else t=fresh; fi\n"
		   "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
		   "\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' $t\n");
	chmod(plugin, 0700);
	kube_fixture_ctl("/_test/tokens", "{\"tokens\":[\"fresh\"]}");
	struct kube_conn *c = kube_fixture_conn(NULL);
	struct kube_exec *x = calloc(1, sizeof(*x));
	x->api_version = strdup("client.authentication.k8s.io/v1");
	x->command = strdup(plugin);
	x->args = calloc(2, sizeof(char *));
	x->args[0] = strdup(counter);
	x->interactive_mode = strdup("Never");
	c->exec = x;
	struct kube_client *kc = kube_fixture_client_for(c, 10000, NULL);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	assert_int_equal(count("GET", "/version"), 2);
	/* Cached now: no third run of the plugin. */
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	char *n = slurp(counter, &(size_t){0});
	assert_int_equal(atoi(n), 2);
	free(n);
	kube_client_free(kc);
	unlink(plugin);
	unlink(counter);
	kube_fixture_ctl("/_test/tokens", "{\"tokens\":[\"" TOKEN "\"]}");
}

/* ---- the verbs ---- */

static json_object *cluster_obj(const char *name, int replicas)
{
	char text[256];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
		 "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"replicas\":%d}}",
		 name, replicas);
	return json_parse(text, strlen(text), NULL);
}

static void test_crud_and_conflict(void **state)
{
	struct kube_client *kc = kube_fixture_client(TOKEN, 5000);
	struct eo_err err = {0};
	json_object *obj = cluster_obj("demo", 1), *got = NULL, *cur = NULL;
	assert_int_equal(kube_create(kc, &KUBE_ETCDCLUSTERS, NULL, obj, &got, &err), 0);
	assert_string_equal(json_opt_str(got, "metadata.namespace", ""), "default");
	char rv1[64];
	snprintf(rv1, sizeof(rv1), "%s", json_opt_str(got, "metadata.resourceVersion", ""));
	json_object_put(got);
	/* A second create: 409 AlreadyExists. */
	assert_int_equal(kube_create(kc, &KUBE_ETCDCLUSTERS, "default", obj, NULL, &err), -1);
	assert_int_equal(err.code, 409);
	assert_string_equal(err.msg, "etcdclusters.etcd.k8s-operator.io \"demo\" already exists");
	json_object_put(obj);

	/* Update with the current resourceVersion, then again with the stale one. */
	assert_int_equal(kube_get(kc, &KUBE_ETCDCLUSTERS, "default", "demo", &cur, &err), 0);
	json_set(cur, "spec.replicas", json_object_new_int(2));
	assert_int_equal(kube_update(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", NULL, cur, &got, &err), 0);
	assert_int_equal(json_opt_int(got, "spec.replicas", 0), 2);
	assert_int_equal(json_opt_int(got, "metadata.generation", 0), 2);
	json_object_put(got);
	json_set(cur, "spec.replicas", json_object_new_int(3));
	assert_string_equal(json_opt_str(cur, "metadata.resourceVersion", ""), rv1);
	assert_int_equal(kube_update(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", NULL, cur, NULL, &err), -1);
	assert_int_equal(err.code, 409);
	assert_string_equal(err.msg, "Operation cannot be fulfilled on etcdclusters.etcd.k8s-operator.io "
				     "\"demo\": the object has been modified; please apply your changes "
				     "to the latest version and try again");
	json_object_put(cur);
	/* A conflict is an answer, not a failure to retry. */
	assert_int_equal(count("PUT", NULL), 2);

	/* Patches: merge and JSON, each with its content type. */
	assert_int_equal(kube_patch(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", NULL, KUBE_PATCH_MERGE,
				    "{\"spec\":{\"replicas\":5}}", &got, &err), 0);
	assert_int_equal(json_opt_int(got, "spec.replicas", 0), 5);
	json_object_put(got);
	assert_int_equal(kube_patch(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", NULL, KUBE_PATCH_JSON,
				    "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":5},"
				    "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3}]",
				    &got, &err), 0);
	assert_int_equal(json_opt_int(got, "spec.replicas", 0), 3);
	/* The status subresource changes status only. */
	json_set(got, "status.phase", json_object_new_string("Running"));
	json_set(got, "spec.replicas", json_object_new_int(9));
	json_object *after = NULL;
	assert_int_equal(kube_update(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", "status", got, &after,
				     &err), 0);
	assert_string_equal(json_opt_str(after, "status.phase", ""), "Running");
	assert_int_equal(json_opt_int(after, "spec.replicas", 0), 3);
	json_object_put(after);
	json_object_put(got);
	json_object *r = kube_fixture_requests("PATCH", NULL);
	assert_string_equal(json_opt_str(json_object_array_get_idx(r, 0), "ctype", ""),
			    "application/merge-patch+json");
	assert_string_equal(json_opt_str(json_object_array_get_idx(r, 1), "ctype", ""),
			    "application/json-patch+json");
	/* One client, one kept-alive connection: the pool reuses it. */
	assert_int_equal(json_opt_int(json_object_array_get_idx(r, 0), "peer", 0),
			 json_opt_int(json_object_array_get_idx(r, 1), "peer", -1));
	json_object_put(r);
	assert_int_equal(count("PUT", "/apis/etcd.k8s-operator.io/v1alpha1/namespaces/default/"
				      "etcdclusters/demo/status"), 1);

	/* List (with a selector on the wire), delete with propagation, gone. */
	json_object *list = NULL;
	assert_int_equal(kube_list(kc, &KUBE_ETCDCLUSTERS, NULL, "app in (etcd)", &list, &err), 0);
	assert_int_equal(json_object_array_length(json_at(list, "items")), 1);
	json_object_put(list);
	r = kube_fixture_requests("GET", "/apis/etcd.k8s-operator.io/v1alpha1/etcdclusters");
	assert_string_equal(json_opt_str(json_object_array_get_idx(r, 0), "query.labelSelector", ""),
			    "app in (etcd)");
	json_object_put(r);
	assert_int_equal(kube_delete(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", "Foreground", &err), 0);
	r = kube_fixture_requests("DELETE", NULL);
	json_object *del = json_parse(json_opt_str(json_object_array_get_idx(r, 0), "body", ""),
				      strlen(json_opt_str(json_object_array_get_idx(r, 0), "body", "")),
				      NULL);
	assert_string_equal(json_opt_str(del, "propagationPolicy", ""), "Foreground");
	assert_string_equal(json_opt_str(del, "kind", ""), "DeleteOptions");
	json_object_put(del);
	json_object_put(r);
	assert_int_equal(kube_delete(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", NULL, &err), -1);
	assert_int_equal(err.code, 404);
	assert_int_equal(kube_delete(kc, &KUBE_ETCDCLUSTERS, NULL, "demo", "Sideways", &err), -1);
	assert_int_equal(err.code, EO_EINVAL);
	kube_client_free(kc);
}

/* ---- retries, deadlines, warnings ---- */

static void test_retry_on_503(void **state)
{
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":503,\"body\":\"overloaded\",\"ctype\":\"text/plain\"},"
			     "{\"status\":504,\"body\":{}}]}");
	struct kube_client *kc = kube_fixture_client(TOKEN, 10000);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	assert_int_equal(count("GET", "/version"), 3);
	/* POST is not repeated once the server had it. */
	kube_fixture_ctl("/_test/script", "{\"method\":\"POST\",\"path\":\"/apis/etcd.k8s-operator.io/v1alpha1/"
			     "namespaces/default/etcdclusters\",\"responses\":[{\"status\":503,"
			     "\"body\":{\"kind\":\"Status\",\"message\":\"etcdserver: leader changed\","
			     "\"code\":503}}]}");
	json_object *obj = cluster_obj("once", 1);
	assert_int_equal(kube_create(kc, &KUBE_ETCDCLUSTERS, NULL, obj, NULL, &err), -1);
	assert_int_equal(err.code, 503);
	assert_string_equal(err.msg, "etcdserver: leader changed");
	assert_int_equal(count("POST", NULL), 1);
	json_object_put(obj);
	kube_client_free(kc);
}

static void test_retry_after_429(void **state)
{
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":429,\"headers\":[[\"Retry-After\",\"1\"]],\"body\":{\"kind\":"
			     "\"Status\",\"message\":\"Too many requests, please try again later.\","
			     "\"reason\":\"TooManyRequests\",\"code\":429}}]}");
	struct kube_client *kc = kube_fixture_client(TOKEN, 10000);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	json_object *r = kube_fixture_requests("GET", "/version");
	assert_int_equal(json_object_array_length(r), 2);
	double t0 = json_object_get_double(json_at(r, "[0].t"));
	double t1 = json_object_get_double(json_at(r, "[1].t"));
	assert_true(t1 - t0 >= 0.95); /* the server's wait was honoured, not shortened */
	json_object_put(r);
	/* A Retry-After past the deadline: give up at once, and say why. */
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":429,\"headers\":[[\"Retry-After\",\"60\"]],\"body\":{}}]}");
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, 429);
	assert_non_null(strstr(err.msg, "retry after 60 s"));
	kube_client_free(kc);
}

static void test_no_retry_on_500(void **state)
{
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":500,\"body\":{\"kind\":\"Status\",\"message\":\"Internal error "
			     "occurred: failed calling webhook \\\"validate.etcd.k8s-operator.io\\\": "
			     "connection refused\",\"reason\":\"InternalError\",\"code\":500}},"
			     "{\"status\":200,\"body\":{}}]}");
	struct kube_client *kc = kube_fixture_client(TOKEN, 10000);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, 500);
	assert_string_equal(err.msg, "Internal error occurred: failed calling webhook "
				     "\"validate.etcd.k8s-operator.io\": connection refused");
	assert_int_equal(count("GET", "/version"), 1);
	/* ... unless the Status says a retry will help. */
	kube_fixture_ctl("/_test/reset", NULL);
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":500,\"body\":{\"kind\":\"Status\",\"message\":\"the server "
			     "was unable to return a response in the time allotted\",\"reason\":"
			     "\"ServerTimeout\",\"details\":{\"retryAfterSeconds\":1},\"code\":500}}]}");
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	assert_int_equal(count("GET", "/version"), 2);
	kube_client_free(kc);
}

static void test_deadline(void **state)
{
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"hang\":3,\"status\":200,\"body\":{}}]}");
	struct kube_client *kc = kube_fixture_client(TOKEN, 400);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	assert_non_null(strstr(err.msg, "within 0.4 s"));
	assert_non_null(strstr(err.msg, kube_fixture_srv.url));
	kube_client_free(kc);

	/* Nobody listening: retried until the deadline, then a transport error. */
	struct kube_conn *c = kube_fixture_conn(TOKEN);
	free(c->server);
	c->server = eo_strdupf("https://%s:1", kube_fixture_srv.addr);
	kc = kube_fixture_client_for(c, 1500, NULL);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	char want[128];
	snprintf(want, sizeof(want), "cannot reach https://%s:1: ", kube_fixture_srv.addr);
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, "is the cluster up?"));
	kube_client_free(kc);

	/* The cluster's proxy-url is used, and named when it is the problem. */
	c = kube_fixture_conn(TOKEN);
	c->proxy_url = eo_strdupf("http://%s:1", kube_fixture_srv.addr);
	kc = kube_fixture_client_for(c, 1000, NULL);
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETRANSPORT);
	assert_non_null(strstr(err.msg, "through proxy http://"));
	kube_client_free(kc);
	assert_int_equal(count("GET", "/version"), 1); /* only the hanging one */
}

struct warnings {
	char text[4][128];
	int n;
};

static void on_warning(const char *text, void *ud)
{
	struct warnings *w = ud;
	if (w->n < 4)
		snprintf(w->text[w->n], sizeof(w->text[0]), "%s", text);
	w->n++;
}

static void test_warning_headers(void **state)
{
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":200,\"body\":{},\"headers\":["
			     "[\"Warning\",\"299 - \\\"spec.replicas: staged 1 → 2 → 3\\\"\"],"
			     "[\"Warning\",\"299 - \\\"an \\\\\\\"even\\\\\\\" size\\\", 299 - \\\"third\\\"\"]]}]}");
	struct warnings w = {0};
	struct kube_client_opts o = {.on_warning = on_warning, .warning_ud = &w};
	struct kube_client *kc = kube_fixture_client_for(kube_fixture_conn(TOKEN), 5000, &o);
	struct eo_err err = {0};
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.text[0], "spec.replicas: staged 1 → 2 → 3");
	assert_string_equal(w.text[1], "an \"even\" size");
	assert_string_equal(w.text[2], "third");
	/* Warnings come with refusals too. */
	kube_fixture_ctl("/_test/script", "{\"method\":\"GET\",\"path\":\"/version\",\"responses\":["
			     "{\"status\":403,\"body\":{\"kind\":\"Status\",\"message\":\"denied\"},"
			     "\"headers\":[[\"Warning\",\"299 - \\\"why\\\"\"]]}]}");
	assert_int_equal(kube_request(kc, "GET", "/version", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, 403);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.text[3], "why");
	kube_client_free(kc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bearer_token, kube_fixture_reset),
		cmocka_unit_test_setup(test_client_certificate, kube_fixture_reset),
		cmocka_unit_test_setup(test_tls_checks, kube_fixture_reset),
		cmocka_unit_test_setup(test_token_file_reread, kube_fixture_reset),
		cmocka_unit_test_setup(test_exec_credential_refresh_on_401, kube_fixture_reset),
		cmocka_unit_test_setup(test_crud_and_conflict, kube_fixture_reset),
		cmocka_unit_test_setup(test_retry_on_503, kube_fixture_reset),
		cmocka_unit_test_setup(test_retry_after_429, kube_fixture_reset),
		cmocka_unit_test_setup(test_no_retry_on_500, kube_fixture_reset),
		cmocka_unit_test_setup(test_deadline, kube_fixture_reset),
		cmocka_unit_test_setup(test_warning_headers, kube_fixture_reset),
	};
	return cmocka_run_group_tests(tests, kube_fixture_setup, kube_fixture_teardown);
}
