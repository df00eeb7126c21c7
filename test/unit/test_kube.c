/*
 * Unit tests for the pure half of the Kubernetes client (shared/kube/kube_path.c,
 * kube_status.c, kube_stream.c): paths and query escaping, Status → message,
 * Warning headers, Retry-After, and the watch line framer fed in every
 * possible chunking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "kube.h"

static void test_paths(void **state)
{
	char *p;
	p = kube_path(&KUBE_ETCDCLUSTERS, "prod", "demo", NULL);
	assert_string_equal(p, "/apis/etcd.k8s-operator.io/v1alpha1/namespaces/prod/etcdclusters/demo");
	free(p);
	p = kube_path(&KUBE_STATEFULSETS, "default", "demo", "scale");
	assert_string_equal(p, "/apis/apps/v1/namespaces/default/statefulsets/demo/scale");
	free(p);
	p = kube_path(&KUBE_PODS, NULL, NULL, NULL);
	assert_string_equal(p, "/api/v1/pods");
	free(p);
	p = kube_path(&KUBE_PVCS, "", NULL, NULL);
	assert_string_equal(p, "/api/v1/persistentvolumeclaims");
	free(p);
	/* Cluster-scoped: a namespace given by mistake is not put in the path. */
	p = kube_path(&KUBE_NAMESPACES, "ignored", "kube-system", NULL);
	assert_string_equal(p, "/api/v1/namespaces/kube-system");
	free(p);
	p = kube_path(&KUBE_ETCDCLUSTERS, "ns", "demo", "status");
	assert_string_equal(p, "/apis/etcd.k8s-operator.io/v1alpha1/namespaces/ns/etcdclusters/demo/status");
	free(p);
	/* A sub without a name makes no sense and is dropped. */
	p = kube_path(&KUBE_LEASES, "ns", NULL, "status");
	assert_string_equal(p, "/apis/coordination.k8s.io/v1/namespaces/ns/leases");
	free(p);
	/* Bad names cannot break out of their path segment. */
	p = kube_path(&KUBE_SECRETS, "a/b", "../x?y#z", NULL);
	assert_string_equal(p, "/api/v1/namespaces/a%2Fb/secrets/..%2Fx%3Fy%23z");
	free(p);
}

static void test_selector_escaping(void **state)
{
	char *p = kube_list_path(&KUBE_PODS, "etcd", "app.kubernetes.io/name=etcd,tier in (a,b),!canary");
	assert_string_equal(p, "/api/v1/namespaces/etcd/pods?labelSelector="
			       "app.kubernetes.io%2Fname%3Detcd%2Ctier%20in%20%28a%2Cb%29%2C%21canary");
	free(p);
	p = kube_list_path(&KUBE_ETCDCLUSTERS, NULL, "");
	assert_string_equal(p, "/apis/etcd.k8s-operator.io/v1alpha1/etcdclusters");
	free(p);
	p = kube_escape("a b&c=d+é");
	assert_string_equal(p, "a%20b%26c%3Dd%2B%C3%A9");
	free(p);

	struct kube_watch_opts wo = {.label_selector = "app=etcd", .resource_version = "1234"};
	p = kube_watch_path(&KUBE_PODS, "ns", &wo);
	assert_string_equal(p, "/api/v1/namespaces/ns/pods?watch=1&allowWatchBookmarks=true"
			       "&timeoutSeconds=300&resourceVersion=1234&labelSelector=app%3Detcd");
	free(p);
	struct kube_watch_opts w2 = {.timeout_seconds = 17};
	p = kube_watch_path(&KUBE_ETCDCLUSTERS, NULL, &w2);
	assert_string_equal(p, "/apis/etcd.k8s-operator.io/v1alpha1/etcdclusters?watch=1"
			       "&allowWatchBookmarks=true&timeoutSeconds=17");
	free(p);
}

static json_object *doc(const char *text)
{
	json_object *o = json_parse(text, strlen(text), NULL);
	assert_non_null(o);
	return o;
}

static void status_msg(const char *json, long code, char *out, size_t size)
{
	json_object *o = doc(json);
	kube_status_message(o, code, out, size);
	json_object_put(o);
}

static void test_status_messages(void **state)
{
	char m[256];
	/* 404 as the API server sends it. */
	status_msg("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		   "\"message\":\"etcdclusters.etcd.k8s-operator.io \\\"demo\\\" not found\","
		   "\"reason\":\"NotFound\",\"details\":{\"name\":\"demo\","
		   "\"group\":\"etcd.k8s-operator.io\",\"kind\":\"etcdclusters\"},\"code\":404}",
		   404, m, sizeof(m));
	assert_string_equal(m, "etcdclusters.etcd.k8s-operator.io \"demo\" not found");
	/* 404 without a message: say what was not found from the details. */
	status_msg("{\"kind\":\"Status\",\"reason\":\"NotFound\",\"details\":{\"name\":\"demo\","
		   "\"group\":\"etcd.k8s-operator.io\",\"kind\":\"etcdclusters\"},\"code\":404}",
		   404, m, sizeof(m));
	assert_string_equal(m, "etcdclusters.etcd.k8s-operator.io \"demo\" not found");
	status_msg("{\"kind\":\"Status\",\"details\":{\"name\":\"web-0\",\"kind\":\"pods\"}}", 404, m,
		   sizeof(m));
	assert_string_equal(m, "pods \"web-0\" not found");
	/* 409 conflict and already-exists. */
	status_msg("{\"kind\":\"Status\",\"message\":\"Operation cannot be fulfilled on "
		   "etcdclusters.etcd.k8s-operator.io \\\"demo\\\": the object has been modified; "
		   "please apply your changes to the latest version and try again\","
		   "\"reason\":\"Conflict\",\"code\":409}",
		   409, m, sizeof(m));
	assert_non_null(strstr(m, "the object has been modified"));
	status_msg("{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"x\","
		   "\"group\":\"apps\",\"kind\":\"statefulsets\"}}",
		   409, m, sizeof(m));
	assert_string_equal(m, "statefulsets.apps \"x\" already exists");
	/* 422: causes the message lacks are added as "field: message", once. */
	status_msg("{\"kind\":\"Status\",\"message\":\"EtcdCluster.etcd.k8s-operator.io \\\"demo\\\" is "
		   "invalid: spec.replicas: Invalid value: 12: must be at most 9\",\"reason\":\"Invalid\","
		   "\"details\":{\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid "
		   "value: 12: must be at most 9\",\"field\":\"spec.replicas\"},{\"reason\":"
		   "\"FieldValueNotSupported\",\"message\":\"Unsupported value: \\\"9.9\\\"\","
		   "\"field\":\"spec.version\"}]},\"code\":422}",
		   422, m, sizeof(m));
	assert_string_equal(m, "EtcdCluster.etcd.k8s-operator.io \"demo\" is invalid: spec.replicas: "
			       "Invalid value: 12: must be at most 9; spec.version: Unsupported value: "
			       "\"9.9\"");
	/* Admission denial: the webhook's text, on one line. */
	status_msg("{\"kind\":\"Status\",\"message\":\"admission webhook "
		   "\\\"validate.etcd.k8s-operator.io\\\" denied the request: spec.replicas may move "
		   "by one at a time:\\n  asked 1 → 5;\\tuse kubectl etcd scale\",\"code\":403}",
		   403, m, sizeof(m));
	assert_string_equal(m, "admission webhook \"validate.etcd.k8s-operator.io\" denied the "
			       "request: spec.replicas may move by one at a time: asked 1 → 5; use "
			       "kubectl etcd scale");
	/* Not a Status. */
	status_msg("{\"error\":\"boom\"}", 502, m, sizeof(m));
	assert_string_equal(m, "HTTP 502 Bad Gateway: {\"error\":\"boom\"}");
	kube_status_message(NULL, 503, m, sizeof(m));
	assert_string_equal(m, "HTTP 503 Service Unavailable");
	/* Small output buffers are cut, never overrun. */
	char small[8];
	status_msg("{\"kind\":\"Status\",\"message\":\"a long message here\"}", 400, small,
		   sizeof(small));
	assert_string_equal(small, "a long ");
}

static void test_error_bodies(void **state)
{
	char m[256];
	const char *st = "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"code\":401}";
	kube_error_message(401, st, strlen(st), m, sizeof(m));
	assert_string_equal(m, "Unauthorized");
	kube_error_message(504, "", 0, m, sizeof(m));
	assert_string_equal(m, "HTTP 504 Gateway Timeout (empty body)");
	const char *html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>";
	kube_error_message(502, html, strlen(html), m, sizeof(m));
	assert_string_equal(m, "HTTP 502 Bad Gateway: <html> <head><title>502 Bad "
			       "Gateway</title></head> </html>");
	/* Binary and huge bodies: printable bytes only, about 200 of them. */
	char big[5000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = i % 7 == 0 ? '\x01' : (char)('a' + i % 26);
	kube_error_message(500, big, sizeof(big), m, sizeof(m));
	assert_true(strncmp(m, "HTTP 500 Internal Server Error: ", 32) == 0);
	assert_true(strlen(m) < 32 + 200 + 8);
	for (const char *c = m; *c; c++)
		assert_true((unsigned char)*c >= 0x20);
	/* Broken JSON is summarised, not parsed. */
	kube_error_message(500, "{\"kind\":", 8, m, sizeof(m));
	assert_string_equal(m, "HTTP 500 Internal Server Error: {\"kind\":");
}

struct texts {
	char t[8][128];
	int n;
};

static void collect(const char *text, void *ud)
{
	struct texts *x = ud;
	if (x->n < 8)
		snprintf(x->t[x->n++], sizeof(x->t[0]), "%s", text);
}

static void test_warning_headers(void **state)
{
	struct texts x = {0};
	assert_int_equal(kube_warning_parse("299 - \"spec.replicas: an even size tolerates no more "
					    "failures than one less\"",
					    collect, &x),
			 1);
	assert_string_equal(x.t[0], "spec.replicas: an even size tolerates no more failures than one less");

	memset(&x, 0, sizeof(x));
	assert_int_equal(kube_warning_parse("299 - \"first, with a comma\", 299 kube-apiserver "
					    "\"second \\\"quoted\\\" and a \\\\ backslash\" "
					    "\"Wed, 21 Oct 2015 07:28:00 GMT\",299 - \"third\"",
					    collect, &x),
			 3);
	assert_string_equal(x.t[0], "first, with a comma");
	assert_string_equal(x.t[1], "second \"quoted\" and a \\ backslash");
	assert_string_equal(x.t[2], "third");

	/* Other codes are not admission warnings. */
	memset(&x, 0, sizeof(x));
	assert_int_equal(kube_warning_parse("199 - \"misc\", 299 - \"kept\"", collect, &x), 1);
	assert_string_equal(x.t[0], "kept");

	/* Malformed: what came before is kept, the rest dropped, no crash. */
	memset(&x, 0, sizeof(x));
	assert_int_equal(kube_warning_parse("299 - \"ok\", 299 - \"unterminated", collect, &x), 1);
	assert_int_equal(kube_warning_parse("299 -", collect, &x), 0);
	assert_int_equal(kube_warning_parse("garbage", collect, &x), 0);
	assert_int_equal(kube_warning_parse("", collect, &x), 0);
	assert_int_equal(kube_warning_parse(NULL, collect, &x), 0);
	assert_int_equal(kube_warning_parse("299 - \"a\" junk", collect, &x), 1);
	assert_int_equal(x.n, 2);
}

static void test_retry_after(void **state)
{
	assert_int_equal(kube_retry_after_ms("3", 0), 3000);
	assert_int_equal(kube_retry_after_ms(" 0 ", 0), 0);
	/* 1445412480 = Wed, 21 Oct 2015 07:28:00 GMT */
	assert_int_equal(kube_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412475), 5000);
	assert_int_equal(kube_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
	assert_int_equal(kube_retry_after_ms("soon", 0), -1);
	assert_int_equal(kube_retry_after_ms("-1", 0), -1);
	assert_int_equal(kube_retry_after_ms("5s", 0), -1);
	assert_int_equal(kube_retry_after_ms(NULL, 0), -1);
}

/* ---- the watch line framer ---- */

struct seen {
	char names[16][64];
	int n;
	int stop_at; /* stop when this many have been seen (0: never) */
};

static int on_doc(json_object *d, void *ud)
{
	struct seen *s = ud;
	const char *name = json_opt_str(d, "object.metadata.name", "?");
	if (s->n < 16)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->n++;
	return s->stop_at && s->n >= s->stop_at;
}

static char *stream_text(size_t big)
{
	/* Three events: small, one with a large string value, one after blank
	 * lines and with CRLF; the last has no final newline. */
	struct eo_buf b = {0};
	eo_buf_printf(&b, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n");
	eo_buf_printf(&b, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\"},\"data\":\"");
	for (size_t i = 0; i < big; i++)
		eo_buf_append(&b, i % 50 == 49 ? "\\n" : "x", i % 50 == 49 ? 2 : 1);
	eo_buf_printf(&b, "\"}}\n\n  \r\n");
	eo_buf_printf(&b, "{\"type\":\"DELETED\",\r\n\"object\":{\"metadata\":{\"name\":\"c\"}}}");
	return eo_buf_steal(&b);
}

static void test_lines_every_chunking(void **state)
{
	/* The JSON of event "c" spans a CR-LF inside the value: that is a
	 * line break in the middle of a document, which the framer must report,
	 * so cut it out here and test it separately below. */
	char *text = stream_text(300);
	char *crlf = strstr(text, "\"DELETED\",\r\n");
	memmove(crlf + 10, crlf + 12, strlen(crlf + 12) + 1);
	size_t len = strlen(text);
	for (size_t chunk = 1; chunk <= len; chunk += chunk < 40 ? 1 : 37) {
		struct kube_lines *l = kube_lines_new(0);
		struct seen s = {0};
		struct eo_err err = {0};
		for (size_t off = 0; off < len; off += chunk) {
			size_t n = len - off < chunk ? len - off : chunk;
			assert_int_equal(kube_lines_feed(l, text + off, n, on_doc, &s, &err), 0);
		}
		assert_int_equal(s.n, 2);
		assert_int_equal(kube_lines_finish(l, on_doc, &s, &err), 0);
		assert_int_equal(s.n, 3);
		assert_string_equal(s.names[0], "a");
		assert_string_equal(s.names[1], "b");
		assert_string_equal(s.names[2], "c");
		kube_lines_free(l);
	}
	/* Random cuts over a large line (2 MiB), many times. */
	free(text);
	text = stream_text((size_t)2 << 20);
	crlf = strstr(text, "\"DELETED\",\r\n");
	memmove(crlf + 10, crlf + 12, strlen(crlf + 12) + 1);
	len = strlen(text);
	srand(42);
	for (int round = 0; round < 5; round++) {
		struct kube_lines *l = kube_lines_new(0);
		struct seen s = {0};
		struct eo_err err = {0};
		for (size_t off = 0; off < len;) {
			size_t n = 1 + (size_t)rand() % 70000;
			if (n > len - off)
				n = len - off;
			assert_int_equal(kube_lines_feed(l, text + off, n, on_doc, &s, &err), 0);
			off += n;
		}
		assert_int_equal(kube_lines_finish(l, on_doc, &s, &err), 0);
		assert_int_equal(s.n, 3);
		assert_string_equal(s.names[1], "b");
		kube_lines_free(l);
	}
	free(text);
}

static void test_lines_errors(void **state)
{
	struct eo_err err = {0};
	struct seen s = {0};
	/* A line over the cap, even when it arrives in small pieces. */
	struct kube_lines *l = kube_lines_new(64);
	const char *piece = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"";
	assert_int_equal(kube_lines_feed(l, piece, strlen(piece), on_doc, &s, &err), 0);
	assert_int_equal(kube_lines_feed(l, "xxxxxxxxxxxxxxxxxxxx", 20, on_doc, &s, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
	assert_non_null(strstr(err.msg, "longer than 64 bytes"));
	kube_lines_free(l);

	/* Garbage. */
	l = kube_lines_new(0);
	assert_int_equal(kube_lines_feed(l, "<html>\n", 7, on_doc, &s, &err), -1);
	assert_non_null(strstr(err.msg, "invalid JSON"));
	kube_lines_free(l);
	/* Two documents on one line. */
	l = kube_lines_new(0);
	assert_int_equal(kube_lines_feed(l, "{} {}\n", 6, on_doc, &s, &err), -1);
	assert_non_null(strstr(err.msg, "more than one JSON value"));
	kube_lines_free(l);
	/* A newline in the middle of a document. */
	l = kube_lines_new(0);
	assert_int_equal(kube_lines_feed(l, "{\"type\":\n\"ADDED\"}\n", 18, on_doc, &s, &err), -1);
	assert_non_null(strstr(err.msg, "ended inside a JSON value"));
	kube_lines_free(l);
	/* The stream ends in the middle of a document. */
	l = kube_lines_new(0);
	assert_int_equal(kube_lines_feed(l, "{\"type\":\"ADD", 12, on_doc, &s, &err), 0);
	assert_int_equal(kube_lines_finish(l, on_doc, &s, &err), -1);
	kube_lines_free(l);
	/* The callback stops the feed; the rest is not delivered. */
	l = kube_lines_new(0);
	struct seen st = {.stop_at = 1};
	const char *two = "{\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"object\":{}}\n";
	assert_int_equal(kube_lines_feed(l, two, strlen(two), on_doc, &st, &err), 1);
	assert_int_equal(st.n, 1);
	kube_lines_free(l);
	kube_lines_free(NULL);
}

struct evs {
	enum kube_event ev[8];
	char name[8][32];
	int n;
};

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct evs *e = ud;
	e->ev[e->n] = ev;
	snprintf(e->name[e->n], sizeof(e->name[0]), "%s", json_opt_str(obj, "metadata.name", ""));
	e->n++;
	return 0;
}

static int event(const char *json, char *rv, struct evs *e, struct eo_err *err)
{
	json_object *o = doc(json);
	int r = kube_watch_event(o, rv, on_event, e, err);
	json_object_put(o);
	return r;
}

static void test_watch_events(void **state)
{
	struct evs e = {0};
	struct eo_err err = {0};
	char rv[64] = "1";
	assert_int_equal(event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
			       "\"resourceVersion\":\"7\"}}}", rv, &e, &err), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.ev[0], KUBE_EV_ADDED);
	assert_string_equal(rv, "7");
	assert_int_equal(event("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{"
			       "\"resourceVersion\":\"12\"}}}", rv, &e, &err), 0);
	assert_int_equal(e.n, 1); /* no callback for a bookmark */
	assert_string_equal(rv, "12");
	assert_int_equal(event("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
			       "\"resourceVersion\":\"13\"}}}", rv, &e, &err), 0);
	assert_int_equal(e.ev[1], KUBE_EV_DELETED);
	assert_int_equal(event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":"
			       "\"Failure\",\"message\":\"too old resource version: 5 (13)\","
			       "\"reason\":\"Expired\",\"code\":410}}", rv, &e, &err), -1);
	assert_int_equal(err.code, 410);
	assert_string_equal(err.msg, "too old resource version: 5 (13)");
	assert_string_equal(rv, "13");
	assert_int_equal(event("{\"type\":\"SURPRISE\",\"object\":{}}", rv, &e, &err), -1);
	assert_int_equal(err.code, EO_EPARSE);
	assert_int_equal(event("{\"object\":{}}", rv, &e, &err), -1);
	assert_int_equal(event("{\"type\":\"ADDED\",\"object\":[]}", rv, &e, &err), -1);
	assert_int_equal(e.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_selector_escaping),
		cmocka_unit_test(test_status_messages),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_warning_headers),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_lines_every_chunking),
		cmocka_unit_test(test_lines_errors),
		cmocka_unit_test(test_watch_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
