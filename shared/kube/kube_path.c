/*
 * kube_path.c — where a request goes: the resource types the project uses,
 * and the paths and query strings of the Kubernetes REST API built from them.
 *
 * The one idea: every URL is assembled from a struct kube_res plus
 * percent-encoded pieces, so no caller ever glues a path or a label selector
 * together by hand (a selector such as "app in (a,b)" holds spaces, commas
 * and parentheses that must not reach the wire raw). Pure: no I/O.
 */
#include "kube.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct kube_res KUBE_ETCDCLUSTERS = {"etcd.k8s-operator.io", "v1alpha1", "etcdclusters",
					   "EtcdCluster", true};
const struct kube_res KUBE_ETCDBACKUPS = {"etcd.k8s-operator.io", "v1alpha1", "etcdbackups",
					  "EtcdBackup", true};
const struct kube_res KUBE_STATEFULSETS = {"apps", "v1", "statefulsets", "StatefulSet", true};
const struct kube_res KUBE_PODS = {"", "v1", "pods", "Pod", true};
const struct kube_res KUBE_SERVICES = {"", "v1", "services", "Service", true};
const struct kube_res KUBE_PVCS = {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim",
				   true};
const struct kube_res KUBE_EVENTS = {"", "v1", "events", "Event", true};
const struct kube_res KUBE_LEASES = {"coordination.k8s.io", "v1", "leases", "Lease", true};
const struct kube_res KUBE_PDBS = {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
				   true};
const struct kube_res KUBE_SECRETS = {"", "v1", "secrets", "Secret", true};
const struct kube_res KUBE_CONFIGMAPS = {"", "v1", "configmaps", "ConfigMap", true};
const struct kube_res KUBE_NAMESPACES = {"", "v1", "namespaces", "Namespace", false};

static int unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static void escape_into(struct eo_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (unreserved(*p)) {
			eo_buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			eo_buf_append(b, e, 3);
		}
	}
}

char *kube_escape(const char *s)
{
	struct eo_buf b = {0};
	escape_into(&b, s);
	return eo_buf_steal(&b);
}

static void path_into(struct eo_buf *b, const struct kube_res *res, const char *ns,
		      const char *name, const char *sub)
{
	if (res->group && *res->group)
		eo_buf_printf(b, "/apis/%s/%s", res->group, res->version);
	else
		eo_buf_printf(b, "/api/%s", res->version);
	if (res->namespaced && ns && *ns) {
		eo_buf_append(b, "/namespaces/", 12);
		escape_into(b, ns);
	}
	eo_buf_printf(b, "/%s", res->plural);
	if (name && *name) {
		eo_buf_append(b, "/", 1);
		escape_into(b, name);
		if (sub && *sub) {
			eo_buf_append(b, "/", 1);
			escape_into(b, sub);
		}
	}
}

char *kube_path(const struct kube_res *res, const char *ns, const char *name, const char *sub)
{
	struct eo_buf b = {0};
	path_into(&b, res, ns, name, sub);
	return eo_buf_steal(&b);
}

/* Append "?k=v" or "&k=v" with v percent-encoded. */
static void query_add(struct eo_buf *b, const char *key, const char *val)
{
	eo_buf_printf(b, "%c%s=", strchr(b->data ? b->data : "", '?') ? '&' : '?', key);
	escape_into(b, val);
}

char *kube_list_path(const struct kube_res *res, const char *ns, const char *label_selector)
{
	struct eo_buf b = {0};
	path_into(&b, res, ns, NULL, NULL);
	if (label_selector && *label_selector)
		query_add(&b, "labelSelector", label_selector);
	return eo_buf_steal(&b);
}

char *kube_watch_path(const struct kube_res *res, const char *ns,
		      const struct kube_watch_opts *opts)
{
	struct eo_buf b = {0};
	path_into(&b, res, ns, NULL, NULL);
	long secs = opts && opts->timeout_seconds > 0 ? opts->timeout_seconds : 300;
	eo_buf_printf(&b, "?watch=1&allowWatchBookmarks=true&timeoutSeconds=%ld", secs);
	if (opts && opts->resource_version && *opts->resource_version)
		query_add(&b, "resourceVersion", opts->resource_version);
	if (opts && opts->label_selector && *opts->label_selector)
		query_add(&b, "labelSelector", opts->label_selector);
	return eo_buf_steal(&b);
}
