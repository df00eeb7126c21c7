/*
 * HTTPS tests of the admission webhook against a running server: the server
 * of webhook/server.c in this process (so the sanitizer build checks it
 * under load), and the etcd-webhook binary for the SIGTERM test.
 *
 * Addresses: 127.12.X.Y with X, Y picked at random per run; the in-process
 * server binds port 0. Certificates come from test/helpers/tls_fixture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../../webhook/metrics.h"
#include "../../webhook/server.h"
#include "../helpers/tls_fixture.h"
#include "json.h"
#include "log.h"

static struct tls_fixture fx;
static struct whsrv *srv;
static char addr[32], base[64];

static int setup(void **state)
{
	srand((unsigned)(getpid() ^ time(NULL)));
	snprintf(addr, sizeof(addr), "127.12.%d.%d", rand() % 256, 1 + rand() % 254);
	const char *ips[] = {addr, NULL};
	struct tls_fixture_opts o = {.ips = ips};
	struct eo_err err;
	if (tls_fixture_make(&o, &fx, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	log_init("webhook-test", EO_LOG_WARN);
	struct whsrv_config cfg = {.cert_file = fx.server_cert, .key_file = fx.server_key,
				   .bind_address = addr, .port = 0, .reload_interval_ms = 200};
	srv = whsrv_start(&cfg, &err);
	if (!srv) {
		fprintf(stderr, "whsrv_start: %s\n", err.msg);
		return -1;
	}
	snprintf(base, sizeof(base), "https://%s:%u", addr, (unsigned)whsrv_port(srv));
	return 0;
}

static int teardown(void **state)
{
	whsrv_stop(srv);
	tls_fixture_remove(&fx);
	curl_global_cleanup();
	return 0;
}

/* ---- a small HTTPS client ------------------------------------------------- */

struct resp {
	CURLcode rc;
	long code;
	struct eo_buf body;
	char err[CURL_ERROR_SIZE];
	char allow[64];
	char *cert_pem; /* the leaf the server presented (malloc'd) */
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct eo_buf *b = ud;
	return eo_buf_append(b, p, sz * n) == 0 ? sz * n : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	if (sz * n > 7 && strncasecmp(p, "Allow: ", 7) == 0) {
		size_t len = sz * n - 7;
		while (len && (p[7 + len - 1] == '\r' || p[7 + len - 1] == '\n'))
			len--;
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)len, p + 7);
	}
	return sz * n;
}

enum { VERIFY = 0, NO_VERIFY = 1, FRESH = 2, CERTINFO = 4 };

static void request(CURL *h, const char *method, const char *path, const char *body,
		    size_t len, int flags, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	bool own = !h;
	if (own)
		h = curl_easy_init();
	char url[256];
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPGET, strcmp(method, "GET") == 0 ? 1L : 0L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(h, CURLOPT_CAINFO, fx.ca_cert);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, (flags & NO_VERIFY) ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, (flags & NO_VERIFY) ? 0L : 2L);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, (flags & FRESH) ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, (flags & FRESH) ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, (flags & CERTINFO) ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	r->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	if (r->rc == CURLE_OK && (flags & CERTINFO)) {
		struct curl_certinfo *ci = NULL;
		curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci);
		for (struct curl_slist *s = ci && ci->num_of_certs ? ci->certinfo[0] : NULL; s;
		     s = s->next)
			if (strncmp(s->data, "Cert:", 5) == 0)
				r->cert_pem = strdup(s->data + 5);
	}
	if (own)
		curl_easy_cleanup(h);
}

static void resp_free(struct resp *r)
{
	eo_buf_free(&r->body);
	free(r->cert_pem);
}

/* ---- AdmissionReview bodies as kube-apiserver sends them ------------------- */

#define SETTLED(n) "\"status\":{\"phase\":\"Running\",\"observedGeneration\":2,\"replicas\":" #n ",\"readyReplicas\":" #n "}"

static char *cluster_json(int replicas, const char *status)
{
	return eo_strdupf("{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
			  "\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"generation\":2,"
			  "\"uid\":\"6f1c\",\"resourceVersion\":\"812\"},"
			  "\"spec\":{\"replicas\":%d,\"version\":\"3.5.17\",\"storage\":{\"size\":\"1Gi\"}}%s%s}",
			  replicas, status ? "," : "", status ? status : "");
}

static char *review_json(const char *uid, const char *op, const char *sub, char *object,
			 char *old, bool dry)
{
	char *s = eo_strdupf(
		"{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{"
		"\"uid\":\"%s\",\"kind\":{\"group\":\"%s\",\"version\":\"%s\",\"kind\":\"%s\"},"
		"\"resource\":{\"group\":\"etcd.k8s-operator.io\",\"version\":\"v1alpha1\","
		"\"resource\":\"etcdclusters\"},%s%s%s\"name\":\"demo\",\"namespace\":\"default\","
		"\"operation\":\"%s\",\"userInfo\":{\"username\":\"kubernetes-admin\",\"groups\":"
		"[\"system:masters\",\"system:authenticated\"]},\"object\":%s,\"oldObject\":%s,"
		"\"dryRun\":%s,\"options\":{\"kind\":\"UpdateOptions\",\"apiVersion\":\"meta.k8s.io/v1\","
		"\"fieldManager\":\"kubectl-client-side-apply\"}}}",
		uid, sub ? "autoscaling" : "etcd.k8s-operator.io", sub ? "v1" : "v1alpha1",
		sub ? "Scale" : "EtcdCluster", sub ? "\"subResource\":\"" : "", sub ? sub : "",
		sub ? "\"," : "", op, object ? object : "null", old ? old : "null",
		dry ? "true" : "false");
	free(object);
	free(old);
	return s;
}

static json_object *reply_json(struct resp *r)
{
	struct eo_err err;
	json_object *j = json_parse(r->body.data ? r->body.data : "", r->body.len, &err);
	if (!j)
		fail_msg("reply is not JSON (%s): %s", err.msg, r->body.data);
	return j;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_routes_and_methods(void **state)
{
	struct resp r;
	request(NULL, "GET", "/healthz", NULL, 0, VERIFY, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 200);
	resp_free(&r);
	request(NULL, "GET", "/readyz", NULL, 0, VERIFY, &r);
	assert_int_equal(r.code, 200);
	resp_free(&r);
	request(NULL, "GET", "/nope", NULL, 0, VERIFY, &r);
	assert_int_equal(r.code, 404);
	resp_free(&r);
	request(NULL, "POST", "/mutate/extra", "{}", 2, VERIFY, &r);
	assert_int_equal(r.code, 404);
	resp_free(&r);
	request(NULL, "GET", "/mutate", NULL, 0, VERIFY, &r);
	assert_int_equal(r.code, 405);
	assert_string_equal(r.allow, "POST");
	resp_free(&r);
	request(NULL, "PUT", "/validate", "{}", 2, VERIFY, &r);
	assert_int_equal(r.code, 405);
	resp_free(&r);
	request(NULL, "POST", "/healthz", "x", 1, VERIFY, &r);
	assert_int_equal(r.code, 405);
	resp_free(&r);
	/* kube-apiserver appends ?timeout=…: the path alone routes */
	request(NULL, "POST", "/validate?timeout=5s", "{not json", 9, VERIFY, &r);
	assert_int_equal(r.code, 400);
	assert_non_null(strstr(r.body.data, "not an AdmissionReview"));
	resp_free(&r);
	request(NULL, "POST", "/mutate?timeout=5s", "{\"kind\":\"Pod\"}", 14, VERIFY, &r);
	assert_int_equal(r.code, 400);
	resp_free(&r);
}

static void test_reviews_as_kube_apiserver_sends_them(void **state)
{
	struct resp r;
	/* CREATE of 3 → staged: spec 1, target 3, a warning naming the path */
	char *b = review_json("c-1", "CREATE", NULL, cluster_json(3, NULL), NULL, false);
	request(NULL, "POST", "/mutate?timeout=5s", b, strlen(b), VERIFY, &r);
	free(b);
	assert_int_equal(r.code, 200);
	json_object *j = reply_json(&r);
	assert_string_equal(json_opt_str(j, "response.uid", ""), "c-1");
	assert_true(json_opt_bool(j, "response.allowed", false));
	assert_string_equal(json_opt_str(j, "response.patchType", ""), "JSONPatch");
	assert_non_null(strstr(json_opt_str(j, "response.warnings[0]", ""),
			       "1 \xe2\x86\x92 2 \xe2\x86\x92 3"));
	const char *p64 = json_opt_str(j, "response.patch", "");
	char *patch;
	size_t plen;
	struct eo_err err;
	assert_int_equal(eo_b64_decode(p64, strlen(p64), &patch, &plen, &err), 0);
	assert_non_null(strstr(patch, "\"/spec/replicas\",\"value\":1"));
	assert_non_null(strstr(patch, "etcd.k8s-operator.io/target-replicas\":\"3\""));
	free(patch);
	json_object_put(j);
	resp_free(&r);

	/* UPDATE 1 → 5, validating (as without the mutating hook): refused */
	for (int dry = 0; dry <= 1; dry++) {
		b = review_json("u-1", "UPDATE", NULL, cluster_json(5, SETTLED(1)),
				cluster_json(1, SETTLED(1)), dry);
		request(NULL, "POST", "/validate?timeout=5s", b, strlen(b), VERIFY, &r);
		free(b);
		j = reply_json(&r);
		assert_false(json_opt_bool(j, "response.allowed", true));
		assert_int_equal(json_opt_int(j, "response.status.code", 0), 403);
		assert_non_null(strstr(json_opt_str(j, "response.status.message", ""),
				       "kubectl etcd scale demo --replicas 5"));
		json_object_put(j);
		resp_free(&r);
	}

	/* DELETE: object null, oldObject set */
	b = review_json("d-1", "DELETE", NULL, NULL, cluster_json(3, SETTLED(3)), false);
	request(NULL, "POST", "/validate", b, strlen(b), VERIFY, &r);
	free(b);
	j = reply_json(&r);
	assert_true(json_opt_bool(j, "response.allowed", false));
	json_object_put(j);
	resp_free(&r);

	/* the scale subresource: 1 → 5 refused, naming kubectl etcd scale */
	char *ns = eo_strdupf("{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":"
			      "{\"name\":\"demo\",\"namespace\":\"default\"},\"spec\":{\"replicas\":5},"
			      "\"status\":{\"replicas\":1,\"selector\":\"a=b\"}}");
	char *os = eo_strdupf("{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":"
			      "{\"name\":\"demo\",\"namespace\":\"default\"},\"spec\":{\"replicas\":1},"
			      "\"status\":{\"replicas\":1,\"selector\":\"a=b\"}}");
	b = review_json("s-1", "UPDATE", "scale", ns, os, false);
	request(NULL, "POST", "/validate", b, strlen(b), VERIFY, &r);
	free(b);
	j = reply_json(&r);
	assert_false(json_opt_bool(j, "response.allowed", true));
	assert_non_null(strstr(json_opt_str(j, "response.status.message", ""), "kubectl etcd scale"));
	json_object_put(j);
	resp_free(&r);

	/* an object that cannot be read: 200, allowed false, the reason */
	b = review_json("x-1", "CREATE", NULL,
			eo_strdupf("{\"kind\":\"EtcdCluster\",\"spec\":{\"replicas\":[3]}}"), NULL,
			false);
	request(NULL, "POST", "/validate", b, strlen(b), VERIFY, &r);
	free(b);
	assert_int_equal(r.code, 200);
	j = reply_json(&r);
	assert_false(json_opt_bool(j, "response.allowed", true));
	assert_non_null(strstr(json_opt_str(j, "response.status.message", ""), "spec.replicas"));
	json_object_put(j);
	resp_free(&r);
}

static void test_body_cap(void **state)
{
	size_t big = 16u * 1024 * 1024;
	char *body = malloc(big);
	assert_non_null(body);
	memset(body, ' ', big);
	body[0] = '{';
	body[big - 1] = '}';
	struct resp r;
	request(NULL, "POST", "/validate", body, big, VERIFY, &r);
	assert_int_equal(r.code, 413);
	resp_free(&r);

	/* chunked (no Content-Length): the connection is cut at the cap */
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	request(h, "POST", "/validate", body, big, VERIFY, &r);
	assert_true(r.rc != CURLE_OK || r.code == 413);
	resp_free(&r);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(body);

	/* and the server is fine */
	request(NULL, "GET", "/healthz", NULL, 0, VERIFY, &r);
	assert_int_equal(r.code, 200);
	resp_free(&r);
}

/* Many clients at once, each on its own keep-alive connection. */
#define NTHREADS 200
#define PER_THREAD 2

static atomic_int bad;

static void *client_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	CURL *h = curl_easy_init();
	for (int i = 0; i < PER_THREAD; i++) {
		char uid[32];
		snprintf(uid, sizeof(uid), "t%d-%d", id, i);
		bool mutate = (id + i) % 2;
		char *b = review_json(uid, "UPDATE", NULL, cluster_json(mutate ? 3 : 2, SETTLED(1)),
				      cluster_json(1, SETTLED(1)), false);
		struct resp r;
		request(h, "POST", mutate ? "/mutate" : "/validate", b, strlen(b), VERIFY, &r);
		free(b);
		struct eo_err err;
		json_object *j = r.code == 200 ? json_parse(r.body.data, r.body.len, &err) : NULL;
		if (!j || strcmp(json_opt_str(j, "response.uid", ""), uid) != 0 ||
		    !json_opt_bool(j, "response.allowed", false) ||
		    (mutate && !json_at(j, "response.patch")))
			atomic_fetch_add(&bad, 1);
		json_object_put(j);
		resp_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void test_hundreds_of_concurrent_reviews(void **state)
{
	pthread_t t[NTHREADS];
	atomic_store(&bad, 0);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], &attr, client_main, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_attr_destroy(&attr);
	assert_int_equal(atomic_load(&bad), 0);
}

static void test_tls_versions(void **state)
{
	struct {
		long version;
		bool ok;
	} cases[] = {
		{CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1, false},
		{CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0, false},
		{CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2, true},
		{CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3, true},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		/* The server's own log shows whether it saw and refused the hello. */
		FILE *log = tmpfile();
		assert_non_null(log);
		log_set_output(log);
		log_init("webhook-test", EO_LOG_DEBUG);
		CURL *h = curl_easy_init();
		curl_easy_setopt(h, CURLOPT_SSLVERSION, cases[i].version);
		/* Let this client offer old versions at all (OpenSSL 3 won't at
		 * its default level): then a refusal is the server's. */
		curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
		struct resp r;
		request(h, "GET", "/healthz", NULL, 0, FRESH, &r);
		eo_sleep_ms(50);
		log_init("webhook-test", EO_LOG_WARN);
		log_set_output(NULL);
		char text[4096] = "";
		rewind(log);
		size_t n = fread(text, 1, sizeof(text) - 1, log);
		text[n] = '\0';
		fclose(log);
		if (cases[i].ok) {
			if (r.rc != CURLE_OK)
				fail_msg("TLS case %zu refused: %s", i, r.err);
			assert_int_equal(r.code, 200);
		} else {
			assert_int_equal(r.rc, CURLE_SSL_CONNECT_ERROR);
			/* not refused by the client itself… */
			assert_null(strstr(r.err, "no protocols available"));
			/* …but by the server, which says so in its log (libmicrohttpd
			 * closes without an alert, so the client sees an EOF) */
			if (!strstr(text, "msg=\"libmicrohttpd\""))
				fail_msg("TLS case %zu: the server logged no refusal; client said: %s", i,
					 r.err);
		}
		resp_free(&r);
		curl_easy_cleanup(h);
	}
}

/* Copy a file atomically (temp + rename), as a Secret volume or cert-manager would. */
static void put_file(const char *src, const char *dst)
{
	char *data;
	size_t len;
	struct eo_err err;
	assert_int_equal(eo_read_file(src, 1 << 20, &data, &len, &err), 0);
	assert_int_equal(eo_write_file(dst, data, len, 0600, &err), 0);
	free(data);
}

static char *read_all(const char *path)
{
	char *data;
	size_t len;
	struct eo_err err;
	assert_int_equal(eo_read_file(path, 1 << 20, &data, &len, &err), 0);
	return data;
}

/* The leaf PEM the server presents to a fresh handshake (malloc'd). */
static char *served_cert(void)
{
	struct resp r;
	request(NULL, "GET", "/healthz", NULL, 0, NO_VERIFY | FRESH | CERTINFO, &r);
	char *pem = r.rc == CURLE_OK ? r.cert_pem : NULL;
	r.cert_pem = NULL;
	resp_free(&r);
	return pem;
}

static bool same_pem(const char *served, const char *file)
{
	/* curl prints the PEM; the file may have a chain after the leaf */
	return served && strncmp(served, file, strlen(served) - 1) == 0;
}

static atomic_bool load_stop;
static atomic_int load_ok, load_bad;

static void *load_main(void *arg)
{
	while (!atomic_load(&load_stop)) {
		struct resp r;
		char *b = review_json("load", "CREATE", NULL, cluster_json(1, NULL), NULL, false);
		request(NULL, "POST", "/validate", b, strlen(b), NO_VERIFY | FRESH, &r);
		free(b);
		if (r.rc == CURLE_OK && r.code == 200)
			atomic_fetch_add(&load_ok, 1);
		else
			atomic_fetch_add(&load_bad, 1);
		resp_free(&r);
	}
	return NULL;
}

static void test_certificate_swapped_during_load(void **state)
{
	const char *ips[] = {addr, NULL};
	struct tls_fixture_opts o = {.ips = ips};
	struct tls_fixture next;
	struct eo_err err;
	assert_int_equal(tls_fixture_make(&o, &next, &err), 0);
	char *old_pem = read_all(fx.server_cert), *new_pem = read_all(next.server_cert);
	char *before = served_cert();
	assert_true(same_pem(before, old_pem));
	free(before);

	atomic_store(&load_stop, false);
	atomic_store(&load_ok, 0);
	atomic_store(&load_bad, 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, load_main, NULL);
	eo_sleep_ms(300);

	/* key first, then certificate: in between the pair does not match and
	 * must not be loaded; the old one keeps serving */
	put_file(next.server_key, fx.server_key);
	assert_int_equal(whsrv_check_certs(srv), -1);
	char *mid = served_cert();
	assert_true(same_pem(mid, old_pem));
	free(mid);
	put_file(next.server_cert, fx.server_cert);

	/* new handshakes see the new certificate within seconds */
	bool seen = false;
	for (int i = 0; i < 100 && !seen; i++) {
		char *now = served_cert();
		seen = same_pem(now, new_pem);
		free(now);
		if (!seen)
			eo_sleep_ms(100);
	}
	eo_sleep_ms(200);
	atomic_store(&load_stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(seen);
	assert_true(atomic_load(&load_ok) > 0);
	assert_int_equal(atomic_load(&load_bad), 0);

	/* a half-written certificate is ignored too */
	size_t n = strlen(new_pem);
	struct eo_err e2;
	assert_int_equal(eo_write_file(fx.server_cert, new_pem, n / 2, 0600, &e2), 0);
	assert_int_equal(whsrv_check_certs(srv), -1);
	char *still = served_cert();
	assert_true(same_pem(still, new_pem));
	free(still);
	put_file(next.server_cert, fx.server_cert);
	assert_int_equal(whsrv_check_certs(srv) >= 0, 1);

	/* the CA is now next's: keep verifying tests working */
	put_file(next.ca_cert, fx.ca_cert);
	free(old_pem);
	free(new_pem);
	tls_fixture_remove(&next);
}

/* A counter's value from the Prometheus text, or -1. */
static long long metric(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);
	while ((p = strstr(p, series))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

static void test_metrics_count_what_was_sent(void **state)
{
	wh_metrics_reset();
	struct resp r;
	for (int i = 0; i < 3; i++) {
		char *b = review_json("m", "UPDATE", NULL, cluster_json(2, SETTLED(1)),
				      cluster_json(1, SETTLED(1)), false);
		request(NULL, "POST", "/validate", b, strlen(b), VERIFY, &r);
		free(b);
		resp_free(&r);
	}
	for (int i = 0; i < 2; i++) {
		char *b = review_json("m", "UPDATE", NULL, cluster_json(7, SETTLED(1)),
				      cluster_json(1, SETTLED(1)), false);
		request(NULL, "POST", "/validate", b, strlen(b), VERIFY, &r);
		free(b);
		resp_free(&r);
	}
	request(NULL, "POST", "/mutate", "[]", 2, VERIFY, &r);
	resp_free(&r);
	request(NULL, "GET", "/nope", NULL, 0, VERIFY, &r);
	resp_free(&r);
	request(NULL, "GET", "/metrics", NULL, 0, VERIFY, &r);
	assert_int_equal(r.code, 200);
	const char *m = r.body.data;
	assert_int_equal(metric(m, "etcd_webhook_requests_total{endpoint=\"validate\",decision=\"allowed\",code=\"200\"}"), 3);
	assert_int_equal(metric(m, "etcd_webhook_requests_total{endpoint=\"validate\",decision=\"denied\",code=\"200\"}"), 2);
	assert_int_equal(metric(m, "etcd_webhook_requests_total{endpoint=\"mutate\",decision=\"error\",code=\"400\"}"), 1);
	assert_int_equal(metric(m, "etcd_webhook_requests_total{endpoint=\"other\",decision=\"none\",code=\"404\"}"), 1);
	assert_int_equal(metric(m, "etcd_webhook_request_duration_seconds_count{endpoint=\"validate\"}"), 5);
	assert_int_equal(metric(m, "etcd_webhook_request_duration_seconds_bucket{endpoint=\"validate\",le=\"+Inf\"}"), 5);
	assert_non_null(strstr(m, "le=\"0.0001\""));
	/* the metrics request itself is in flight while it renders */
	assert_int_equal(metric(m, "etcd_webhook_requests_in_flight"), 1);
	assert_true(metric(m, "etcd_webhook_certificate_reloads_total{result=\"success\"}") >= 0);
	long long expiry = metric(m, "etcd_webhook_certificate_expiry_seconds");
	assert_true(expiry > 3600 && expiry <= 86400);
	resp_free(&r);
}

/* ---- the binary: SIGTERM with a request in flight ------------------------ */

/*
 * A TLS client that writes exactly what it is given: `req` sent as is, the
 * reply read until the server closes (or 5 s) into out. With `ciphers12`, the
 * client speaks TLS 1.2 only and offers just those suites (OpenSSL names).
 * -1 when the handshake fails, else the bytes read.
 */
static int raw_tls(const char *ciphers12, const char *req, char *out, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(whsrv_port(srv))};
	inet_pton(AF_INET, addr, &to.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	SSL_CTX_set_security_level(ctx, 0); /* a refusal must be the server's */
	if (ciphers12) {
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
		assert_int_equal(SSL_CTX_set_cipher_list(ctx, ciphers12), 1);
	}
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	int n = -1;
	if (SSL_connect(ssl) == 1) {
		n = 0;
		if (req)
			assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
		for (int got; req && (size_t)n < size - 1 &&
			      (got = SSL_read(ssl, out + n, (int)(size - 1 - (size_t)n))) > 0;)
			n += got;
		out[n] = '\0';
	}
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return n;
}

/* Which body is meant is ambiguous: refused before any of it is read, and
 * no review is run. */
static void test_ambiguous_body_length_is_400(void **state)
{
	const char *body = "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\","
			   "\"request\":{\"uid\":\"cl-2\",\"operation\":\"DELETE\"}}";
	size_t len = strlen(body);
	char heads[3][96], req[512], out[2048];
	snprintf(heads[0], sizeof(heads[0]), "Content-Length: %zu\r\nContent-Length: %zu\r\n", len,
		 len);
	snprintf(heads[1], sizeof(heads[1]), "Content-Length: %zu\r\nContent-Length: 10\r\n", len);
	snprintf(heads[2], sizeof(heads[2]),
		 "Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n", len);
	for (size_t i = 0; i < EO_ARRAY_LEN(heads); i++) {
		snprintf(req, sizeof(req),
			 "POST /validate HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
			 "%s\r\n%s",
			 addr, heads[i], body);
		int n = raw_tls(NULL, req, out, sizeof(out));
		if (n <= 0 || strncmp(out, "HTTP/1.1 400", 12) != 0 ||
		    !strstr(out, "more than one Content-Length"))
			fail_msg("case %zu answered: %.300s", i, n > 0 ? out : "(nothing)");
		assert_null(strstr(out, "\"uid\":\"cl-2\"")); /* no review was run */
	}
	/* one Content-Length is fine */
	snprintf(req, sizeof(req),
		 "POST /validate HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n%s",
		 addr, len, body);
	int n = raw_tls(NULL, req, out, sizeof(out));
	if (n <= 0 || strncmp(out, "HTTP/1.1 200", 12) != 0 || !strstr(out, "\"uid\":\"cl-2\""))
		fail_msg("one Content-Length answered: %.300s", n > 0 ? out : "(nothing)");
}

/* TLS 1.2 offers ECDHE with AEAD ciphers only: CBC suites (SHA-1 or
 * SHA-2 MAC) find no common suite. The fixture's key is ECDSA. */
static void test_tls12_offers_aead_suites_only(void **state)
{
	static const struct {
		const char *suite;
		bool ok;
	} cases[] = {
		{"ECDHE-ECDSA-AES128-SHA", false},
		{"ECDHE-ECDSA-AES256-SHA", false},
		{"ECDHE-ECDSA-AES128-SHA256", false},
		{"ECDHE-ECDSA-AES256-SHA384", false},
		{"ECDHE-ECDSA-AES128-GCM-SHA256", true},
		{"ECDHE-ECDSA-AES256-GCM-SHA384", true},
		{"ECDHE-ECDSA-CHACHA20-POLY1305", true},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		char out[64];
		int n = raw_tls(cases[i].suite, NULL, out, sizeof(out));
		if ((n >= 0) != cases[i].ok)
			fail_msg("TLS 1.2 with only %s: %s", cases[i].suite,
				 n >= 0 ? "accepted" : "refused");
	}
}

struct slow {
	int sent;
};

static size_t slow_read(char *buf, size_t sz, size_t n, void *ud)
{
	static const char *parts[] = {"{\"kind\":\"AdmissionReview\",", "\"apiVersion\":\"admission.k8s.io/v1\",",
				      "\"request\":{\"uid\":\"slow-1\",", "\"operation\":\"DELETE\"}}"};
	struct slow *s = ud;
	if (s->sent >= 4)
		return 0;
	eo_sleep_ms(300);
	size_t len = strlen(parts[s->sent]);
	memcpy(buf, parts[s->sent++], len);
	return len;
}

struct slow_result {
	struct resp r;
	char url[96];
};

static void *slow_main(void *arg)
{
	struct slow_result *sr = arg;
	struct slow s = {0};
	CURL *h = curl_easy_init();
	memset(&sr->r, 0, sizeof(sr->r));
	struct curl_slist *hdr = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	curl_easy_setopt(h, CURLOPT_URL, sr->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, slow_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sr->r.body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, sr->r.err);
	curl_easy_setopt(h, CURLOPT_CAINFO, fx.ca_cert);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	sr->r.rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &sr->r.code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return NULL;
}

static void test_sigterm_finishes_in_flight_then_exits_0(void **state)
{
	const char *build = getenv("EO_BUILD");
	char bin[512];
	snprintf(bin, sizeof(bin), "%s/etcd-webhook", build ? build : "build");
	if (access(bin, X_OK) != 0)
		fail_msg("%s not built (set EO_BUILD)", bin);
	char port[8];
	pid_t pid = -1;
	int status = 0;
	/* a fixed port on our own random address; retry on a clash */
	for (int attempt = 0; attempt < 5; attempt++) {
		snprintf(port, sizeof(port), "%d", 20000 + rand() % 40000);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			setpgid(0, 0);
			int fd = open("/dev/null", 1);
			dup2(fd, 2);
			execl(bin, bin, "--tls-cert-file", fx.server_cert, "--tls-private-key-file",
			      fx.server_key, "--secure-port", port, "--bind-address", addr,
			      "--log-level", "error", (char *)NULL);
			_exit(127);
		}
		/* ready when /healthz answers */
		bool up = false;
		for (int i = 0; i < 100 && !up; i++) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			struct resp r;
			char saved[64];
			snprintf(saved, sizeof(saved), "%s", base);
			snprintf(base, sizeof(base), "https://%s:%s", addr, port);
			request(NULL, "GET", "/healthz", NULL, 0, VERIFY, &r);
			snprintf(base, sizeof(base), "%s", saved);
			up = r.code == 200;
			resp_free(&r);
			if (!up)
				eo_sleep_ms(50);
		}
		if (up)
			break;
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			pid = -1;
		}
	}
	assert_true(pid > 0);

	struct slow_result sr;
	snprintf(sr.url, sizeof(sr.url), "https://%s:%s/validate", addr, port);
	pthread_t t;
	pthread_create(&t, NULL, slow_main, &sr);
	eo_sleep_ms(450); /* the headers and a chunk are in: the request is in flight */
	kill(pid, SIGTERM);
	pthread_join(t, NULL);
	int64_t deadline = eo_now_ms() + 15000;
	pid_t w = 0;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && eo_now_ms() < deadline)
		eo_sleep_ms(20);
	if (w != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail_msg("etcd-webhook did not exit after SIGTERM");
	}
	if (sr.r.rc != CURLE_OK)
		fail_msg("in-flight request failed: %s", sr.r.err);
	assert_int_equal(sr.r.code, 200);
	assert_non_null(strstr(sr.r.body.data, "\"uid\":\"slow-1\""));
	eo_buf_free(&sr.r.body);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_methods),
		cmocka_unit_test(test_reviews_as_kube_apiserver_sends_them),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_hundreds_of_concurrent_reviews),
		cmocka_unit_test(test_tls_versions),
		cmocka_unit_test(test_tls12_offers_aead_suites_only),
		cmocka_unit_test(test_ambiguous_body_length_is_400),
		cmocka_unit_test(test_metrics_count_what_was_sent),
		cmocka_unit_test(test_certificate_swapped_during_load),
		cmocka_unit_test(test_sigterm_finishes_in_flight_then_exits_0),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
