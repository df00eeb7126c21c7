/*
 * cluster_pod.c — spec.pod (the member Pods' knobs) and spec.etcd.extraArgs
 * of the EtcdCluster model.
 *
 * The one idea: the knobs are Kubernetes' own shapes (resources, affinity,
 * tolerations …), so they are checked here only as far as this project
 * reads them — types and the keys that would fight the operator — and kept
 * as the JSON that was written, for the template builder to copy in. The
 * API server checks the rest when the StatefulSet is written. What the
 * member Pods are made with is then one hash (cluster_pod_revision): a Pod
 * whose annotation carries another is rolled like an image change.
 */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static bool is_null(json_object *v) { return !v || json_object_is_type(v, json_type_null); }

/* An object whose values are all strings (labels, annotations,
 * nodeSelector) or, with quantities, strings or numbers. */
static int string_map(json_object *m, const char *path, bool quantities, struct eo_err *err)
{
	if (!json_object_is_type(m, json_type_object))
		return eo_err_set(err, EO_EPARSE, "%s: expected an object, got %s", path,
				  json_type_label(m));
	json_object_object_foreach(m, k, v) {
		bool ok = json_object_is_type(v, json_type_string) ||
			  (quantities && (json_object_is_type(v, json_type_int) ||
					  json_object_is_type(v, json_type_double)));
		if (!ok)
			return eo_err_set(err, EO_EPARSE, "%s[%s]: expected %s, got %s", path, k,
					  quantities ? "a quantity" : "a string", json_type_label(v));
	}
	return 0;
}

static int parse_resources(json_object *r, struct eo_err *err)
{
	if (!json_object_is_type(r, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.pod.resources: expected an object, got %s",
				  json_type_label(r));
	json_object_object_foreach(r, k, v) {
		char path[96];
		snprintf(path, sizeof(path), "spec.pod.resources.%s", k);
		if (strcmp(k, "requests") != 0 && strcmp(k, "limits") != 0)
			return eo_err_set(err, EO_EPARSE, "%s: unknown field (requests and limits are "
					  "read)", path);
		if (!is_null(v) && string_map(v, path, true, err) != 0)
			return -1;
	}
	return 0;
}

bool cluster_pod_key_owned(const char *key)
{
	static const char *const exact[] = {EC_LABEL_APP, "app.kubernetes.io/managed-by",
					    "controller-revision-hash",
					    "statefulset.kubernetes.io/pod-name",
					    "apps.kubernetes.io/pod-index"};
	if (strncmp(key, EC_GROUP "/", strlen(EC_GROUP) + 1) == 0)
		return true;
	for (size_t i = 0; i < EO_ARRAY_LEN(exact); i++)
		if (strcmp(key, exact[i]) == 0)
			return true;
	return false;
}

static void first_owned(json_object *m, const char *path, char *out, size_t size)
{
	if (out[0] || !m || !json_object_is_type(m, json_type_object))
		return;
	json_object_object_foreach(m, k, v) {
		(void)v;
		if (cluster_pod_key_owned(k)) {
			snprintf(out, size, "%s[%s]", path, k);
			return;
		}
	}
}

static int parse_pod(json_object *pod, struct ec_pod *out, struct eo_err *err)
{
	if (!json_object_is_type(pod, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.pod: expected an object, got %s",
				  json_type_label(pod));
	json_object_object_foreach(pod, k, v) {
		char path[96];
		snprintf(path, sizeof(path), "spec.pod.%s", k);
		if (is_null(v))
			continue;
		int rc = 0;
		if (strcmp(k, "resources") == 0)
			rc = parse_resources(v, err);
		else if (strcmp(k, "nodeSelector") == 0 || strcmp(k, "labels") == 0 ||
			 strcmp(k, "annotations") == 0)
			rc = string_map(v, path, false, err);
		else if (strcmp(k, "priorityClassName") == 0) {
			if (!json_object_is_type(v, json_type_string))
				rc = eo_err_set(err, EO_EPARSE, "%s: expected a string, got %s", path,
						json_type_label(v));
		} else if (strcmp(k, "affinity") == 0) {
			if (!json_object_is_type(v, json_type_object))
				rc = eo_err_set(err, EO_EPARSE, "%s: expected an object, got %s", path,
						json_type_label(v));
		} else if (strcmp(k, "tolerations") == 0) {
			if (!json_object_is_type(v, json_type_array))
				rc = eo_err_set(err, EO_EPARSE, "%s: expected a list, got %s", path,
						json_type_label(v));
			for (size_t i = 0; rc == 0 && i < json_object_array_length(v); i++)
				if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object))
					rc = eo_err_set(err, EO_EPARSE, "%s[%zu]: expected an object, got %s",
							path, i,
							json_type_label(json_object_array_get_idx(v, i)));
		} else {
			rc = eo_err_set(err, EO_EPARSE, "%s: unknown field (spec.pod has resources, "
					"nodeSelector, tolerations, affinity, priorityClassName, labels, "
					"annotations)", path);
		}
		if (rc != 0)
			return -1;
	}
	const char *text = json_object_to_json_string_ext(pod, JSON_C_TO_STRING_PLAIN);
	if (eo_strlcpy(out->json, text, sizeof(out->json)) != 0)
		return eo_err_set(err, EO_EPARSE, "spec.pod: %zu bytes as JSON, more than the %d this "
				  "operator keeps", strlen(text), EC_MAX_POD_JSON - 1);
	if (strcmp(out->json, "{}") == 0)
		out->json[0] = '\0'; /* nothing asked: the same Pods as without */
	first_owned(json_at(pod, "labels"), "spec.pod.labels", out->owned_key, sizeof(out->owned_key));
	first_owned(json_at(pod, "annotations"), "spec.pod.annotations", out->owned_key,
		    sizeof(out->owned_key));
	return 0;
}

static int parse_extra_args(json_object *m, struct ec_pod *out, struct eo_err *err)
{
	if (!json_object_is_type(m, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.etcd.extraArgs: expected an object of flag: "
				  "value (no leading dashes), got %s", json_type_label(m));
	json_object_object_foreach(m, k, v) {
		if (out->nextra_args >= EC_MAX_EXTRA_ARGS)
			return eo_err_set(err, EO_EPARSE, "spec.etcd.extraArgs: more than %d flags",
					  EC_MAX_EXTRA_ARGS);
		struct ec_extra_arg *a = &out->extra_args[out->nextra_args];
		if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array) ||
		    is_null(v))
			return eo_err_set(err, EO_EPARSE, "spec.etcd.extraArgs[%.64s]: expected a string, "
					  "number or boolean, got %s", k, json_type_label(v));
		if (eo_strlcpy(a->name, k, sizeof(a->name)) != 0)
			return eo_err_set(err, EO_EPARSE, "spec.etcd.extraArgs[%.64s…]: a flag name has "
					  "at most %zu characters", k, sizeof(a->name) - 1);
		if (eo_strlcpy(a->value, json_object_get_string(v), sizeof(a->value)) != 0)
			return eo_err_set(err, EO_EPARSE, "spec.etcd.extraArgs[%s]: a value has at most "
					  "%zu characters", k, sizeof(a->value) - 1);
		out->nextra_args++;
	}
	return 0;
}

int cluster_parse_pod(json_object *obj, struct ec_pod *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	json_object *pod = json_at(obj, "spec.pod");
	if (!is_null(pod) && parse_pod(pod, out, err) != 0)
		return -1;
	json_object *etcd = json_at(obj, "spec.etcd");
	if (!is_null(etcd) && !json_object_is_type(etcd, json_type_object))
		return eo_err_set(err, EO_EPARSE, "spec.etcd: expected an object, got %s",
				  json_type_label(etcd));
	json_object *args = json_at(obj, "spec.etcd.extraArgs");
	if (!is_null(args) && parse_extra_args(args, out, err) != 0)
		return -1;
	return 0;
}

/* The flags the operator writes or decides (controller/member_init.c's
 * configuration), by name or by prefix ("peer-", "client-": the TLS files
 * and URLs of each side). */
static const char *const owned_exact[] = {
	"name", "data-dir", "wal-dir", "config-file", "force-new-cluster", "heartbeat-interval",
	"election-timeout", "strict-reconfig-check", "enable-grpc-gateway", "logger", "log-outputs",
	"cert-file", "key-file", "trusted-ca-file", "client-cert-auth", "auto-tls", "client-crl-file",
};
static const char *const owned_prefix[] = {"initial-", "listen-", "advertise-", "discovery",
					   "peer-", "client-transport", "client-cert", "client-key"};

static bool value_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("._:/,=+@%-", ch);
}

bool cluster_extra_arg_ok(const struct ec_extra_arg *a, char *why, size_t size)
{
	const char *n = a->name, *v = a->value;
	if (!n[0] || n[0] == '-') {
		snprintf(why, size, "write the flag without its leading dashes (\"%s\": …)",
			 n[0] ? n + strspn(n, "-") : "name");
		return false;
	}
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
			snprintf(why, size, "an etcd flag name has only a-z, 0-9 and '-'");
			return false;
		}
	bool owned = false;
	for (size_t i = 0; i < EO_ARRAY_LEN(owned_exact); i++)
		owned = owned || strcmp(n, owned_exact[i]) == 0;
	for (size_t i = 0; i < EO_ARRAY_LEN(owned_prefix); i++)
		owned = owned || strncmp(n, owned_prefix[i], strlen(owned_prefix[i])) == 0;
	if (strcmp(n, "quota-backend-bytes") == 0 || strncmp(n, "auto-compaction-", 16) == 0) {
		snprintf(why, size, "set by spec.maintenance (quotaBackendBytes, autoCompaction), "
			 "which the operator checks against the volume and acts on");
		return false;
	}
	if (owned) {
		snprintf(why, size, "the operator sets this flag itself (member names, URLs, "
			 "membership, data directory, TLS and logging are its own); use the "
			 "EtcdCluster's fields instead");
		return false;
	}
	for (const char *p = v; *p; p++)
		if (!value_char(*p)) {
			snprintf(why, size, "the value may hold only letters, digits and ._:/,=+@%%- "
				 "(no spaces or quotes)");
			return false;
		}
	if (v[0] && !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z') ||
		      (v[0] >= '0' && v[0] <= '9') || v[0] == '.' || v[0] == '/' ||
		      (v[0] == '-' && v[1] >= '0' && v[1] <= '9'))) {
		snprintf(why, size, "the value must start with a letter, a digit, '.' or '/'");
		return false;
	}
	return true;
}

int cluster_quantity_bytes(const char *s, double *out)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
		     {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
		     {"Ei", 1152921504606846976.0}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9},
		     {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"m", 1e-3}, {"", 1.0}};
	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	char *end;
	double v = strtod(s, &end); /* takes the e/E exponent form too */
	if (end == s)
		return -1;
	for (size_t i = 0; i < EO_ARRAY_LEN(units); i++)
		if (strcmp(end, units[i].suffix) == 0) {
			*out = v * units[i].mult;
			return 0;
		}
	return -1;
}

/* FNV-1a, 64 bits: a change detector, not a defence against anyone. */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void cluster_pod_revision(const struct etcd_cluster *c, char *out, size_t size)
{
	const struct ec_pod *p = &c->spec.pod;
	if (!p->json[0] && p->nextra_args == 0) {
		if (size)
			out[0] = '\0';
		return;
	}
	uint64_t h = fnv(14695981039346656037ULL, p->json, strlen(p->json) + 1);
	for (int i = 0; i < p->nextra_args; i++) {
		h = fnv(h, p->extra_args[i].name, strlen(p->extra_args[i].name) + 1);
		h = fnv(h, p->extra_args[i].value, strlen(p->extra_args[i].value) + 1);
	}
	snprintf(out, size, "%016llx", (unsigned long long)h);
}
