/* Unit tests for webhook/review.c: AdmissionReview bodies shaped as
 * kube-apiserver sends them (CREATE, UPDATE, DELETE, the scale subresource,
 * dryRun) and malformed ones, decoded, decided and encoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../webhook/review.h"
#include "cluster.h"
#include "json.h"

#define SETTLED_STATUS(n)                                                                   \
	"\"status\":{\"phase\":\"Running\",\"observedGeneration\":2,\"replicas\":" #n           \
	",\"readyReplicas\":" #n "}"

/* Objects built for a test live until the group ends (they are passed inline). */
static char *kept[64];
static int nkept;

static char *keep(char *s)
{
	assert_true(nkept < (int)EO_ARRAY_LEN(kept));
	return kept[nkept++] = s;
}

static int free_kept(void **state)
{
	while (nkept > 0)
		free(kept[--nkept]);
	return 0;
}

static char *cluster(int replicas, const char *extra_meta, const char *status)
{
	return keep(eo_strdupf("{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
			  "\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"generation\":2%s},"
			  "\"spec\":{\"replicas\":%d,\"version\":\"3.5.17\"}%s%s}",
			  extra_meta ? extra_meta : "", replicas, status ? "," : "",
			  status ? status : ""));
}

/* A review as kube-apiserver sends it; object/old are JSON text or "null". */
static char *review(const char *op, const char *sub, const char *object, const char *old,
		    bool dry)
{
	return eo_strdupf(
		"{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\",\"request\":{"
		"\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\","
		"\"kind\":{\"group\":\"etcd.k8s-operator.io\",\"version\":\"v1alpha1\",\"kind\":\"%s\"},"
		"\"resource\":{\"group\":\"etcd.k8s-operator.io\",\"version\":\"v1alpha1\","
		"\"resource\":\"etcdclusters\"},%s%s%s"
		"\"requestKind\":{\"group\":\"etcd.k8s-operator.io\",\"version\":\"v1alpha1\",\"kind\":\"EtcdCluster\"},"
		"\"name\":\"demo\",\"namespace\":\"default\",\"operation\":\"%s\","
		"\"userInfo\":{\"username\":\"admin\",\"groups\":[\"system:authenticated\"]},"
		"\"object\":%s,\"oldObject\":%s,\"dryRun\":%s,"
		"\"options\":{\"kind\":\"%sOptions\",\"apiVersion\":\"meta.k8s.io/v1\"}}}",
		sub ? "Scale" : "EtcdCluster", sub ? "\"subResource\":\"" : "", sub ? sub : "",
		sub ? "\"," : "", op, object, old, dry ? "true" : "false",
		strcmp(op, "CREATE") == 0 ? "Create" : strcmp(op, "DELETE") == 0 ? "Delete" : "Update");
}

struct reply {
	struct review_result r;
	json_object *json;     /* parsed body (200 only) */
	json_object *response; /* borrowed */
	json_object *patch;    /* decoded JSON Patch or NULL */
};

static void run(enum review_endpoint ep, char *body, struct reply *out)
{
	memset(out, 0, sizeof(*out));
	review_handle(ep, body, strlen(body), &out->r);
	free(body);
	if (out->r.http_status != 200)
		return;
	struct eo_err err;
	out->json = json_parse(out->r.body.data, out->r.body.len, &err);
	if (!out->json)
		fail_msg("reply is not JSON: %s: %s", err.msg, out->r.body.data);
	assert_string_equal(json_opt_str(out->json, "apiVersion", ""), "admission.k8s.io/v1");
	assert_string_equal(json_opt_str(out->json, "kind", ""), "AdmissionReview");
	out->response = json_at(out->json, "response");
	assert_non_null(out->response);
	const char *p = json_opt_str(out->response, "patch", NULL);
	if (p) {
		assert_string_equal(json_opt_str(out->response, "patchType", ""), "JSONPatch");
		char *raw;
		size_t n;
		assert_int_equal(eo_b64_decode(p, strlen(p), &raw, &n, &err), 0);
		out->patch = json_parse(raw, n, &err);
		assert_non_null(out->patch);
		free(raw);
	}
	json_object *w = json_at(out->response, "warnings");
	for (size_t i = 0; w && i < json_object_array_length(w); i++)
		assert_true(strlen(json_object_get_string(json_object_array_get_idx(w, i))) <= 120);
}

static void done(struct reply *r)
{
	json_object_put(r->json);
	json_object_put(r->patch);
	review_result_free(&r->r);
}

static bool allowed(struct reply *r)
{
	return json_opt_bool(r->response, "allowed", false);
}

static const char *message(struct reply *r)
{
	return json_opt_str(r->response, "status.message", "");
}

static void test_create_mutate_stages(void **state)
{
	struct reply r;
	run(REVIEW_MUTATE, review("CREATE", NULL, cluster(3, NULL, NULL), "null", false), &r);
	assert_int_equal(r.r.http_status, 200);
	assert_true(allowed(&r));
	assert_true(r.r.patched);
	assert_string_equal(json_opt_str(r.response, "uid", ""), "705ab4f5-6393-11e8-b7cc-42010a800002");
	assert_string_equal(r.r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
	assert_string_equal(r.r.operation, "CREATE");
	json_object *op0 = json_object_array_get_idx(r.patch, 0);
	json_object *op1 = json_object_array_get_idx(r.patch, 1);
	assert_int_equal(json_object_array_length(r.patch), 2);
	assert_string_equal(json_opt_str(op0, "op", ""), "replace");
	assert_string_equal(json_opt_str(op0, "path", ""), "/spec/replicas");
	assert_int_equal(json_opt_int(op0, "value", 0), 1);
	assert_string_equal(json_opt_str(op1, "op", ""), "add");
	assert_string_equal(json_opt_str(op1, "path", ""), "/metadata/annotations");
	assert_string_equal(json_opt_str(op1, "value[" EC_ANN_TARGET "]", ""), "3");
	json_object *w = json_at(r.response, "warnings");
	assert_non_null(w);
	assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(w, 0)),
			       "1 \xe2\x86\x92 2 \xe2\x86\x92 3"));
	done(&r);

	/* the staged object, validated, is allowed */
	run(REVIEW_VALIDATE,
	    review("CREATE", NULL,
		   cluster(1, ",\"annotations\":{\"etcd.k8s-operator.io/target-replicas\":\"3\"}",
			   NULL),
		   "null", false),
	    &r);
	assert_true(allowed(&r));
	assert_null(json_at(r.response, "patch"));
	done(&r);
}

static void test_update_jump(void **state)
{
	struct reply r;
	run(REVIEW_VALIDATE,
	    review("UPDATE", NULL, cluster(5, NULL, SETTLED_STATUS(1)),
		   cluster(1, NULL, SETTLED_STATUS(1)), false),
	    &r);
	assert_false(allowed(&r));
	assert_int_equal(r.r.outcome, REVIEW_DENIED);
	assert_int_equal(json_opt_int(r.response, "status.code", 0), 403);
	assert_non_null(strstr(message(&r), "cannot go from 1 to 5 in one change"));
	assert_non_null(strstr(message(&r), "kubectl etcd scale demo --replicas 5"));
	done(&r);

	/* the mutating half stages it: existing annotations map gets the key */
	run(REVIEW_MUTATE,
	    review("UPDATE", NULL, cluster(3, ",\"annotations\":{\"x\":\"y\"}", SETTLED_STATUS(1)),
		   cluster(1, NULL, SETTLED_STATUS(1)), false),
	    &r);
	assert_true(allowed(&r));
	json_object *op1 = json_object_array_get_idx(r.patch, 1);
	assert_string_equal(json_opt_str(op1, "path", ""),
			    "/metadata/annotations/etcd.k8s-operator.io~1target-replicas");
	assert_string_equal(json_opt_str(op1, "value", ""), "3");
	done(&r);

	/* dryRun: the same answer */
	run(REVIEW_VALIDATE,
	    review("UPDATE", NULL, cluster(5, NULL, SETTLED_STATUS(1)),
		   cluster(1, NULL, SETTLED_STATUS(1)), true),
	    &r);
	assert_false(allowed(&r));
	assert_true(r.r.dry_run);
	assert_non_null(strstr(message(&r), "cannot go from 1 to 5"));
	done(&r);
}

static void test_delete(void **state)
{
	struct reply r;
	for (int ep = REVIEW_MUTATE; ep <= REVIEW_VALIDATE; ep++) {
		run(ep, review("DELETE", NULL, "null", cluster(3, NULL, SETTLED_STATUS(3)), false), &r);
		assert_true(allowed(&r));
		assert_null(r.patch);
		assert_int_equal(r.r.outcome, REVIEW_ALLOWED);
		done(&r);
	}
}

static char *scale_obj(int spec, int status)
{
	return keep(eo_strdupf("{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{"
			  "\"name\":\"demo\",\"namespace\":\"default\",\"uid\":\"u1\","
			  "\"resourceVersion\":\"7\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
			  "\"spec\":{\"replicas\":%d},\"status\":{\"replicas\":%d,\"selector\":"
			  "\"etcd.k8s-operator.io/cluster=demo\"}}",
			  spec, status));
}

static void test_scale_subresource(void **state)
{
	struct reply r;
	char *a = scale_obj(5, 1), *b = scale_obj(1, 1);
	run(REVIEW_VALIDATE, review("UPDATE", "scale", a, b, false), &r);
	assert_false(allowed(&r));
	assert_string_equal(r.r.subresource, "scale");
	assert_non_null(strstr(message(&r), "kubectl etcd scale demo --replicas 5"));
	done(&r);

	a = scale_obj(2, 1), b = scale_obj(1, 1);
	run(REVIEW_VALIDATE, review("UPDATE", "scale", a, b, false), &r);
	assert_true(allowed(&r));
	done(&r);
	run(REVIEW_MUTATE, review("UPDATE", "scale", a, b, false), &r);
	assert_true(allowed(&r));
	assert_null(r.patch);
	done(&r);
}

static void test_unreadable_object(void **state)
{
	struct reply r;
	run(REVIEW_VALIDATE,
	    review("CREATE", NULL,
		   "{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"demo\"},\"spec\":{\"replicas\":\"3\"}}",
		   "null", false),
	    &r);
	assert_int_equal(r.r.http_status, 200);
	assert_false(allowed(&r));
	assert_int_equal(json_opt_int(r.response, "status.code", 0), 400);
	assert_non_null(strstr(message(&r), "spec.replicas: expected an integer, got a string"));
	done(&r);

	run(REVIEW_MUTATE, review("CREATE", NULL, "null", "null", false), &r);
	assert_false(allowed(&r));
	assert_non_null(strstr(message(&r), "request.object"));
	done(&r);

	run(REVIEW_VALIDATE, review("UPDATE", NULL, cluster(1, NULL, NULL), "[1,2]", false), &r);
	assert_false(allowed(&r));
	assert_non_null(strstr(message(&r), "request.oldObject"));
	done(&r);

	/* a Scale without the old one (never sent by kube-apiserver; found by
	 * the fuzzer): refused, not crashed on */
	run(REVIEW_VALIDATE, review("CREATE", "scale", scale_obj(3, 1), "null", false), &r);
	assert_false(allowed(&r));
	assert_non_null(strstr(message(&r), "oldObject"));
	done(&r);

	char *b = scale_obj(1, 1);
	run(REVIEW_VALIDATE, review("UPDATE", "scale", "{\"kind\":\"Scale\",\"spec\":7}", b, false), &r);
	assert_false(allowed(&r));
	done(&r);
}

static void test_not_an_admission_review(void **state)
{
	const char *bad[] = {
		"",
		"not json",
		"[1,2,3]",
		"{\"kind\":\"AdmissionReview\"}",
		"{\"kind\":\"Pod\",\"request\":{\"uid\":\"x\",\"operation\":\"CREATE\"}}",
		"{\"kind\":\"AdmissionReview\",\"request\":{\"operation\":\"CREATE\"}}",
		"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":7,\"operation\":\"CREATE\"}}",
		"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\"}}",
		"{\"kind\":\"AdmissionReview\",\"apiVersion\":\"v9\",\"request\":{\"uid\":\"x\",\"operation\":\"CREATE\"}}",
		"{\"kind\":\"AdmissionReview\",\"request\":[]}",
		"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\",\"operation\":\"CREATE\"}} trailing",
		"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"x\",\"operation\":\"CRE",
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		struct review_result r;
		review_handle(REVIEW_VALIDATE, bad[i], strlen(bad[i]), &r);
		if (r.http_status != 400)
			fail_msg("body %zu got %d", i, r.http_status);
		assert_int_equal(r.outcome, REVIEW_ERROR);
		assert_non_null(strstr(r.body.data, "not an AdmissionReview"));
		review_result_free(&r);
	}
}

static void test_envelope_details(void **state)
{
	/* the uid is echoed exactly, escaping and all; v1beta1 answered in kind */
	const char *body = "{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1beta1\","
			   "\"request\":{\"uid\":\"a\\\"b\\\\c\",\"operation\":\"CONNECT\"}}";
	struct review_result r;
	review_handle(REVIEW_VALIDATE, body, strlen(body), &r);
	assert_int_equal(r.http_status, 200);
	struct eo_err err;
	json_object *j = json_parse(r.body.data, r.body.len, &err);
	assert_non_null(j);
	assert_string_equal(json_opt_str(j, "apiVersion", ""), "admission.k8s.io/v1beta1");
	assert_string_equal(json_opt_str(j, "response.uid", ""), "a\"b\\c");
	assert_true(json_opt_bool(j, "response.allowed", false));
	json_object_put(j);
	review_result_free(&r);

	/* another resource (a misconfigured hook) is let through untouched */
	body = "{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\","
	       "\"resource\":{\"resource\":\"pods\"},\"object\":{\"kind\":\"Pod\"}}}";
	review_handle(REVIEW_MUTATE, body, strlen(body), &r);
	assert_int_equal(r.outcome, REVIEW_ALLOWED);
	assert_false(r.patched);
	review_result_free(&r);

	/* a body without a NUL after it is read by length */
	char buf[256];
	const char *cre = "{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"operation\":\"DELETE\"}}";
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, cre, strlen(cre));
	review_handle(REVIEW_VALIDATE, buf, strlen(cre), &r);
	assert_int_equal(r.http_status, 200);
	review_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_mutate_stages),
		cmocka_unit_test(test_update_jump),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_scale_subresource),
		cmocka_unit_test(test_unreadable_object),
		cmocka_unit_test(test_not_an_admission_review),
		cmocka_unit_test(test_envelope_details),
	};
	return cmocka_run_group_tests(tests, NULL, free_kept);
}
