/*
 * review.c — AdmissionReview ⇄ policy.
 *
 * Decoding is in two tiers, matching what kube-apiserver does with each
 * answer. Tier one is the envelope (an object, kind AdmissionReview, a
 * request with a string uid and an operation): without it there is no uid to
 * answer to, so the reply is HTTP 400. Tier two is the objects inside: an
 * EtcdCluster (or, for the scale subresource, an autoscaling/v1 Scale) that
 * cannot be read is answered allowed: false with the reason, which
 * kube-apiserver shows the person as the refusal.
 *
 * The body is read with json-c and the objects with cluster_parse, which
 * words every error by its path. (A hand-written one-pass decoder was tried
 * and dropped: it repeated json-c; with json-c alone the webhook answers at
 * 1.5× (validate) to 2.5× (mutate) the rate of a Go peer, bench/webhook.) The reply
 * is written by hand into one buffer — the uid, the decision, the warnings
 * and the base64 patch are all there is.
 */
#include "review.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "cluster.h"
#include "json.h"
#include "jsonpatch.h"
#include "policy.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"

const char *review_outcome_name(enum review_outcome o)
{
	switch (o) {
	case REVIEW_ALLOWED: return "allowed";
	case REVIEW_DENIED: return "denied";
	case REVIEW_ERROR: return "error";
	}
	return "error";
}

void review_result_free(struct review_result *r)
{
	if (r)
		eo_buf_free(&r->body);
}

static void bad_request(struct review_result *out, const char *msg)
{
	out->http_status = 400;
	out->outcome = REVIEW_ERROR;
	out->content_type = CT_TEXT;
	eo_strlcpy(out->reason, msg, sizeof(out->reason));
	eo_buf_free(&out->body);
	if (eo_buf_printf(&out->body, "not an AdmissionReview: %s\n", msg) != 0)
		out->body.len = 0;
}

/* A short string field of the request, copied for the log ("" otherwise). */
static void copy_field(json_object *req, const char *key, char *dst, size_t size)
{
	json_object *v = json_at(req, key);
	dst[0] = '\0';
	if (v && json_object_is_type(v, json_type_string))
		eo_strlcpy(dst, json_object_get_string(v), size);
}

/*
 * Write the reply. `uid` is echoed exactly (it may be longer than the copy
 * kept for the log). A NULL patch means none.
 */
static int encode(struct review_result *out, const char *api_version, const char *uid,
		  const struct policy_decision *d, const char *patch_b64, int deny_code)
{
	struct eo_buf *b = &out->body;
	if (eo_buf_printf(b, "{\"apiVersion\":\"%s\",\"kind\":\"AdmissionReview\","
			     "\"response\":{\"uid\":", api_version) != 0 ||
	    jsonpatch_json_string(b, uid) != 0 ||
	    eo_buf_printf(b, ",\"allowed\":%s", d->allowed ? "true" : "false") != 0)
		return -1;
	if (!d->allowed) {
		if (eo_buf_printf(b, ",\"status\":{\"metadata\":{},\"status\":\"Failure\",\"code\":%d,"
				     "\"reason\":\"%s\",\"message\":",
				  deny_code, deny_code == 400 ? "BadRequest" : "Forbidden") != 0 ||
		    jsonpatch_json_string(b, d->reason) != 0 || eo_buf_append(b, "}", 1) != 0)
			return -1;
	}
	if (d->nwarnings > 0) {
		if (eo_buf_append(b, ",\"warnings\":[", 13) != 0)
			return -1;
		for (int i = 0; i < d->nwarnings; i++)
			if ((i && eo_buf_append(b, ",", 1) != 0) ||
			    jsonpatch_json_string(b, d->warnings[i]) != 0)
				return -1;
		if (eo_buf_append(b, "]", 1) != 0)
			return -1;
	}
	if (patch_b64 && (eo_buf_printf(b, ",\"patchType\":\"JSONPatch\",\"patch\":\"%s\"",
					patch_b64) != 0))
		return -1;
	return eo_buf_append(b, "}}", 2);
}

/* An object of the request decoded for the policy: EtcdCluster or Scale. */
static int decode_obj(json_object *o, bool scale, struct etcd_cluster *out, const char *what,
		      struct eo_err *err)
{
	int rc = scale ? policy_from_scale(o, out, err) : cluster_parse(o, out, err);
	if (rc != 0)
		eo_err_prefix(err, "%s: ", what);
	return rc;
}

/* What the decoding half (decide) hands to the deciding half (respond). */
struct judged {
	const char *api_version;
	const char *uid;
	struct policy_request pr;
	bool ours;       /* false: not ours to judge, let it through */
	bool unreadable; /* the object could not be read: err says why */
	struct eo_err err;
	json_object *object; /* request.object, borrowed: the patch is built against it */
};

/* The operation, resource and subresource say whether the rules apply. */
static bool classify(const struct review_result *out, const char *resource,
		     struct policy_request *pr)
{
	pr->scale_subresource = strcmp(out->subresource, "scale") == 0;
	if (strcmp(out->operation, "CREATE") == 0)
		pr->op = POLICY_CREATE;
	else if (strcmp(out->operation, "UPDATE") == 0)
		pr->op = POLICY_UPDATE;
	else if (strcmp(out->operation, "DELETE") == 0)
		pr->op = POLICY_DELETE;
	else
		return false; /* CONNECT, or anything newer: not ours to judge */
	/* Registered for etcdclusters (and its scale) only; a request for
	 * anything else is a misconfiguration that must not block it. */
	if (resource[0] && strcmp(resource, EC_PLURAL) != 0)
		return false;
	if (out->subresource[0] && !pr->scale_subresource)
		return false; /* status and others: the controller's own writes */
	return true;
}

/* The patch in base64, malloc'd. GnuTLS's coder, the library the webhook
 * already runs on: the shared OpenSSL one would load libcrypto (1.4 MB
 * resident) into every replica for this alone. NULL when out of memory. */
static char *patch_base64(const struct eo_buf *patch)
{
	gnutls_datum_t in = {.data = (unsigned char *)patch->data, .size = (unsigned)patch->len};
	gnutls_datum_t b64 = {0};
	if (gnutls_base64_encode2(&in, &b64) != 0)
		return NULL;
	char *s = malloc((size_t)b64.size + 1);
	if (s) {
		memcpy(s, b64.data, b64.size);
		s[b64.size] = '\0';
	}
	gnutls_free(b64.data);
	return s;
}

static void respond(enum review_endpoint ep, const struct judged *j, struct review_result *out)
{
	struct policy_decision d;
	memset(&d, 0, sizeof(d));
	d.allowed = true;
	int deny_code = 403;
	char *patch_b64 = NULL;
	struct eo_err err = j->err;

	if (!j->ours)
		goto reply;
	if (j->unreadable)
		goto unreadable;
	if (!out->name[0] && j->pr.new) /* CREATE with generateName: named by now */
		eo_strlcpy(out->name, j->pr.new->name, sizeof(out->name));
	if (ep == REVIEW_MUTATE) {
		policy_mutate(&j->pr, &d);
		struct eo_buf patch = {.max = 64 * 1024};
		if (policy_patch(&d, j->object, &patch) != 0) {
			eo_buf_free(&patch);
			eo_err_set(&err, EO_ENOMEM, "the patch could not be built");
			goto unreadable;
		}
		if (patch.len > 0 && !(patch_b64 = patch_base64(&patch))) {
			eo_buf_free(&patch);
			eo_err_set(&err, EO_ENOMEM, "the patch could not be encoded");
			goto unreadable;
		}
		out->patched = patch_b64 != NULL;
		eo_buf_free(&patch);
	} else {
		policy_validate(&j->pr, &d);
	}
	goto reply;

unreadable:
	memset(&d, 0, sizeof(d));
	d.allowed = false;
	deny_code = 400;
	snprintf(d.reason, sizeof(d.reason),
		 "%s. The webhook reads EtcdCluster %s; fix the object and apply it again",
		 err.msg, EC_API_VERSION);
reply:
	if (!d.allowed)
		eo_strlcpy(out->reason, d.reason, sizeof(out->reason));
	out->outcome = d.allowed ? REVIEW_ALLOWED : REVIEW_DENIED;
	out->nwarnings = d.nwarnings;
	out->http_status = 200;
	out->content_type = CT_JSON;
	if (encode(out, j->api_version, j->uid, &d, patch_b64, deny_code) != 0) {
		bad_request(out, "the reply could not be built (out of memory)");
		out->http_status = 500;
	}
	free(patch_b64);
}

/* The general decoder: json-c's tree, cluster_parse, every error worded. */
static void decide(enum review_endpoint ep, json_object *req, const char *api_version,
		   const char *uid, struct review_result *out)
{
	/* Two parsed EtcdClusters are ~64 KiB (spec.pod is kept as text): per thread, neither on the
	 * handler's stack nor allocated per review (a malloc that size makes
	 * glibc consolidate its small-chunk bins every time). */
	static __thread struct etcd_cluster objs[2];
	struct judged j = {.api_version = api_version, .uid = uid};
	j.pr.dry_run = json_opt_bool(req, "dryRun", false);
	out->dry_run = j.pr.dry_run;
	j.ours = classify(out, json_opt_str(req, "resource.resource", ""), &j.pr);
	if (j.ours) {
		bool scale = j.pr.scale_subresource;
		json_object *obj = json_at(req, "object");
		json_object *old = json_at(req, "oldObject");
		j.object = obj;
		if (j.pr.op != POLICY_DELETE) {
			if (decode_obj(obj, scale, &objs[1], "request.object", &j.err) != 0)
				j.unreadable = true;
			else
				j.pr.new = &objs[1];
		}
		if (!j.unreadable && j.pr.op == POLICY_UPDATE) {
			if (decode_obj(old, scale, &objs[0], "request.oldObject", &j.err) != 0)
				j.unreadable = true;
			else
				j.pr.old = &objs[0];
		}
		if (j.pr.op == POLICY_DELETE && old && json_object_is_type(old, json_type_object) &&
		    cluster_parse(old, &objs[0], &j.err) == 0)
			j.pr.old = &objs[0];
	}
	respond(ep, &j, out);
}

void review_handle(enum review_endpoint ep, const char *body, size_t len,
		   struct review_result *out)
{
	memset(out, 0, sizeof(*out));
	out->body.max = 256 * 1024;
	struct eo_err err = {0};
	if (len == 0) {
		bad_request(out, "the body is empty");
		return;
	}
	json_object *root = json_parse(body, len, &err);
	if (!root) {
		bad_request(out, err.msg);
		return;
	}
	json_object *req = NULL;
	const char *uid = NULL, *api_version = "admission.k8s.io/v1";
	const char *kind = json_opt_str(root, "kind", NULL);
	const char *av = json_opt_str(root, "apiVersion", NULL);
	if (!json_object_is_type(root, json_type_object)) {
		bad_request(out, "the body is not a JSON object");
	} else if (!kind || strcmp(kind, "AdmissionReview") != 0) {
		bad_request(out, "kind: expected AdmissionReview");
	} else if (av && strcmp(av, "admission.k8s.io/v1") != 0 &&
		   strcmp(av, "admission.k8s.io/v1beta1") != 0) {
		bad_request(out, "apiVersion: expected admission.k8s.io/v1");
	} else if (json_get_obj(root, "request", &req, &err) != 0 ||
		   json_get_str(req, "uid", &uid, &err) != 0) {
		bad_request(out, err.msg);
	} else if (!json_at(req, "operation") ||
		   !json_object_is_type(json_at(req, "operation"), json_type_string)) {
		bad_request(out, "request.operation: expected CREATE, UPDATE, DELETE or CONNECT");
	} else {
		if (av)
			api_version = av; /* answer in the version asked (v1beta1 too) */
		copy_field(req, "uid", out->uid, sizeof(out->uid));
		copy_field(req, "operation", out->operation, sizeof(out->operation));
		copy_field(req, "subResource", out->subresource, sizeof(out->subresource));
		copy_field(req, "namespace", out->namespace, sizeof(out->namespace));
		copy_field(req, "name", out->name, sizeof(out->name));
		decide(ep, req, api_version, uid, out);
	}
	json_object_put(root);
}
