/*
 * kube.c — the verbs of the Kubernetes client: get, list, create, update,
 * patch, delete, and the raw request they all reduce to.
 *
 * The one idea: a verb only decides method, path, content type and body;
 * kube_call_run (kube_http.c) does everything else the same way for all of
 * them — deadline, retries, credentials, warnings, errors from the Status.
 */
#include "kube_impl.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

int kube_request(struct kube_client *kc, const char *method, const char *path,
		 const char *content_type, const char *body, json_object **out,
		 struct eo_err *err)
{
	if (out)
		*out = NULL;
	if (!kc || !method || !path || path[0] != '/')
		return eo_err_set(err, EO_EINVAL, "kube request: a method and an absolute path are required");
	struct kube_call call = {
		.method = method, .path = path, .content_type = content_type, .body = body,
	};
	if (kube_call_run(kc, &call, err) != 0) {
		kube_call_done(&call);
		return -1;
	}
	int rc = 0;
	if (out && call.resp.len) {
		struct eo_err perr;
		*out = json_parse(call.resp.data, call.resp.len, &perr);
		if (!*out)
			rc = eo_err_set(err, EO_EPARSE, "%s %s: the answer from %s is not JSON: %s", method,
					path, kc->conn->server, perr.msg);
	}
	kube_call_done(&call);
	return rc;
}

/* NULL or "" namespace for a namespaced verb on one object: the client's. */
static const char *ns_or_default(struct kube_client *kc, const struct kube_res *res,
				 const char *ns)
{
	if (!res->namespaced)
		return NULL;
	return ns && *ns ? ns : kube_client_namespace(kc);
}

int kube_get(struct kube_client *kc, const struct kube_res *res, const char *ns,
	     const char *name, json_object **out, struct eo_err *err)
{
	if (!name || !*name)
		return eo_err_set(err, EO_EINVAL, "get %s: a name is required", res->plural);
	char *path = kube_path(res, ns_or_default(kc, res, ns), name, NULL);
	int rc = kube_request(kc, "GET", path, NULL, NULL, out, err);
	free(path);
	return rc;
}

int kube_list(struct kube_client *kc, const struct kube_res *res, const char *ns,
	      const char *label_selector, json_object **out, struct eo_err *err)
{
	char *path = kube_list_path(res, ns, label_selector);
	int rc = kube_request(kc, "GET", path, NULL, NULL, out, err);
	free(path);
	return rc;
}

int kube_create(struct kube_client *kc, const struct kube_res *res, const char *ns,
		json_object *obj, json_object **out, struct eo_err *err)
{
	if (!ns || !*ns)
		ns = json_opt_str(obj, "metadata.namespace", NULL);
	char *path = kube_path(res, ns_or_default(kc, res, ns), NULL, NULL);
	int rc = kube_request(kc, "POST", path, "application/json", json_compact(obj), out, err);
	free(path);
	return rc;
}

int kube_update(struct kube_client *kc, const struct kube_res *res, const char *ns,
		const char *name, const char *sub, json_object *obj, json_object **out,
		struct eo_err *err)
{
	if (!name || !*name)
		return eo_err_set(err, EO_EINVAL, "update %s: a name is required", res->plural);
	char *path = kube_path(res, ns_or_default(kc, res, ns), name, sub);
	int rc = kube_request(kc, "PUT", path, "application/json", json_compact(obj), out, err);
	free(path);
	return rc;
}

int kube_patch(struct kube_client *kc, const struct kube_res *res, const char *ns,
	       const char *name, const char *sub, enum kube_patch_type type,
	       const char *patch, json_object **out, struct eo_err *err)
{
	if (!name || !*name || !patch)
		return eo_err_set(err, EO_EINVAL, "patch %s: a name and a patch are required",
				  res->plural);
	const char *ct = type == KUBE_PATCH_JSON ? "application/json-patch+json"
						 : "application/merge-patch+json";
	char *path = kube_path(res, ns_or_default(kc, res, ns), name, sub);
	int rc = kube_request(kc, "PATCH", path, ct, patch, out, err);
	free(path);
	return rc;
}

int kube_delete(struct kube_client *kc, const struct kube_res *res, const char *ns,
		const char *name, const char *propagation, struct eo_err *err)
{
	if (!name || !*name)
		return eo_err_set(err, EO_EINVAL, "delete %s: a name is required", res->plural);
	if (propagation && strcmp(propagation, "Background") && strcmp(propagation, "Foreground") &&
	    strcmp(propagation, "Orphan"))
		return eo_err_set(err, EO_EINVAL,
				  "delete %s: propagation \"%s\" is not Background, Foreground or Orphan",
				  res->plural, propagation);
	char *path = kube_path(res, ns_or_default(kc, res, ns), name, NULL);
	char *body = propagation ? eo_strdupf("{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
					      "\"propagationPolicy\":\"%s\"}",
					      propagation)
				 : NULL;
	int rc = kube_request(kc, "DELETE", path, body ? "application/json" : NULL, body, NULL, err);
	free(body);
	free(path);
	return rc;
}

int kube_request_raw(struct kube_client *kc, const char *method, const char *path,
		     const char *content_type, const char *body, long *status,
		     struct eo_buf *resp, struct eo_err *err)
{
	*status = 0;
	if (!kc || !method || !path || path[0] != '/')
		return eo_err_set(err, EO_EINVAL, "kube request: a method and an absolute path are required");
	struct kube_call call = {
		.method = method, .path = path, .content_type = content_type, .body = body,
	};
	int rc = kube_call_run(kc, &call, err);
	if (call.status != 0) {
		*status = call.status;
		rc = 0;
		if (call.resp.len && eo_buf_append(resp, call.resp.data, call.resp.len) != 0)
			rc = eo_err_set(err, EO_ENOMEM, "out of memory");
	}
	kube_call_done(&call);
	return rc;
}
