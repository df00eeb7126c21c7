/*
 * kubeconfig_entry.c — what one cluster or user entry of a kubeconfig means:
 * typed fields with errors that cite their line, certificates and keys from
 * -data (base64) or from files relative to the kubeconfig that names them,
 * token versus tokenFile, and the exec plugin's settings checked up front.
 *
 * The one idea: every value is read through a struct named, which carries the
 * file it came from, so a relative path resolves against the right directory
 * and an error names "kubeconfig FILE:LINE: user \"x\": ..." without the
 * caller having to remember where anything was defined.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kubeconfig_int.h"
#include "yamljson.h"

#define EXEC_EXTENSION "client.authentication.k8s.io/exec"

size_t kc_arr_len(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

int kc_fail(struct eo_err *err, int code, const struct kc_file *f, json_object *node,
	    const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int line = yaml_line_of(node);
	if (line > 0)
		return eo_err_set(err, code, "kubeconfig %s:%d: %s", f->path, line, msg);
	return eo_err_set(err, code, "kubeconfig %s: %s", f->path, msg);
}

/* Lexical clean of an absolute path, as Go's filepath.Clean: no "//", no
 * "." segments, ".." eats the segment before it. In place. */
static void clean_path(char *path)
{
	char *out = path, *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		char *seg = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, n);
		out += n;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

char *kc_resolve_path(const char *dir, const char *p)
{
	if (!p || !*p)
		return NULL;
	char *r = p[0] == '/' ? eo_strdup0(p) : eo_strdupf("%s/%s", dir, p);
	clean_path(r);
	return r;
}

/* Typed fields of a named entry's body; absent or null gives NULL / 0. */
int kc_field_str(const struct named *n, const char *key, const char **out, struct eo_err *err)
{
	json_object *v = n->body ? json_object_object_get(n->body, key) : NULL;
	*out = NULL;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return kc_fail(err, EO_EPARSE, n->file, v, "%s \"%s\": %s: expected a string, got %s",
			       n->kind, n->name, key, json_type_label(v));
	*out = json_object_get_string(v);
	return 0;
}

static int field_bool(const struct named *n, json_object *body, const char *key, int *out,
		      struct eo_err *err)
{
	json_object *v = body ? json_object_object_get(body, key) : NULL;
	*out = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return kc_fail(err, EO_EPARSE, n->file, v, "%s \"%s\": %s: expected true or false, got %s",
			       n->kind, n->name, key, json_type_label(v));
	*out = json_object_get_boolean(v);
	return 0;
}

/* PEM from key-data (base64) or from the file key names, relative to the
 * defining file. Sets *out NULL when neither is there. */
static int field_pem(const struct named *n, const char *file_key, const char *data_key,
		     char **out, size_t *len, struct eo_err *err)
{
	const char *data, *file;
	*out = NULL;
	*len = 0;
	if (kc_field_str(n, data_key, &data, err) != 0 || kc_field_str(n, file_key, &file, err) != 0)
		return -1;
	json_object *node = json_object_object_get(n->body, data && *data ? data_key : file_key);
	if (data && *data) {
		struct eo_buf clean = {0};
		for (const char *p = data; *p; p++)
			if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
				eo_buf_append(&clean, p, 1);
		struct eo_err e2;
		int rc = eo_b64_decode(clean.data ? clean.data : "", clean.len, out, len, &e2);
		eo_buf_free(&clean);
		if (rc != 0)
			return kc_fail(err, EO_EPARSE, n->file, node, "%s \"%s\": %s is not valid base64 (%s)",
				       n->kind, n->name, data_key, e2.msg);
		return 0;
	}
	if (!file || !*file)
		return 0;
	char *path = kc_resolve_path(n->file->dir, file);
	struct eo_err e2;
	int rc = eo_read_file(path, KC_MAX_PEM, out, len, &e2);
	if (rc == 0 && *len == 0) {
		free(*out);
		*out = NULL;
		rc = eo_err_set(&e2, EO_EINVAL, "%s is empty", path);
	}
	free(path);
	if (rc != 0)
		return kc_fail(err, EO_EINVAL, n->file, node, "%s \"%s\": %s: %s", n->kind, n->name,
			       file_key, e2.msg);
	return 0;
}

/* ---- the connection's parts -------------------------------------------- */

struct kube_conn *kc_conn_new(void)
{
	struct kube_conn *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void kc_exec_free(struct kube_exec *x)
{
	if (!x)
		return;
	free(x->api_version);
	free(x->command);
	strv_free(x->args);
	strv_free(x->env);
	free(x->interactive_mode);
	free(x->install_hint);
	free(x->cluster_info_json);
	free(x);
}

void kube_conn_free(struct kube_conn *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_pem);
	free(c->tls_server_name);
	free(c->cert_pem);
	free(c->key_pem);
	free(c->token);
	free(c->token_file);
	kc_exec_free(c->exec);
	free(c->namespace);
	free(c->context_name);
	free(c->cluster_name);
	free(c->user_name);
	free(c->origin);
	free(c->proxy_url);
	free(c->exec_token);
	free(c->exec_cert_pem);
	free(c->exec_key_pem);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int kc_read_cluster(const struct named *n, struct kube_conn *c, json_object **ext,
			struct eo_err *err)
{
	const char *server, *sni, *proxy;
	if (kc_field_str(n, "server", &server, err) != 0 || kc_field_str(n, "tls-server-name", &sni, err) != 0 ||
	    kc_field_str(n, "proxy-url", &proxy, err) != 0 ||
	    field_bool(n, n->body, "insecure-skip-tls-verify", &c->insecure, err) != 0 ||
	    field_pem(n, "certificate-authority", "certificate-authority-data", &c->ca_pem, &c->ca_len,
		      err) != 0)
		return -1;
	c->server = server && *server ? eo_strdup0(server) : NULL;
	c->tls_server_name = sni && *sni ? eo_strdup0(sni) : NULL;
	c->proxy_url = proxy && *proxy ? eo_strdup0(proxy) : NULL;
	/* extensions: [{name, extension}]; the exec one goes to the plugin. */
	json_object *exts = n->body ? json_object_object_get(n->body, "extensions") : NULL;
	for (size_t i = 0; i < kc_arr_len(exts); i++) {
		json_object *it = json_object_array_get_idx(exts, i);
		if (!strcmp(json_object_get_string(json_object_object_get(it, "name")) ?: "", EXEC_EXTENSION))
			*ext = json_object_object_get(it, "extension");
	}
	return 0;
}

static char **strv_from(const struct named *n, json_object *arr, const char *what, int is_env,
			struct eo_err *err)
{
	size_t len = kc_arr_len(arr);
	char **v = calloc(len + 1, sizeof(*v));
	if (!v)
		abort();
	for (size_t i = 0; i < len; i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		if (is_env) {
			json_object *name = json_object_object_get(it, "name");
			json_object *value = json_object_object_get(it, "value");
			if (!json_object_is_type(name, json_type_string) || strchr(json_object_get_string(name), '=') ||
			    (value && !json_object_is_type(value, json_type_string))) {
				strv_free(v);
				kc_fail(err, EO_EPARSE, n->file, it ? it : arr,
					"user \"%s\": exec.env[%zu]: expected {name, value} strings", n->name, i);
				return NULL;
			}
			v[i] = eo_strdupf("%s=%s", json_object_get_string(name),
					  value ? json_object_get_string(value) : "");
		} else {
			if (!json_object_is_type(it, json_type_string)) {
				strv_free(v);
				kc_fail(err, EO_EPARSE, n->file, it ? it : arr,
					"user \"%s\": exec.%s[%zu]: expected a string, got %s", n->name, what, i,
					json_type_label(it));
				return NULL;
			}
			v[i] = eo_strdup0(json_object_get_string(it));
		}
	}
	return v;
}

static int read_exec(const struct named *n, json_object *x, struct kube_exec **out,
		     struct eo_err *err)
{
	if (!json_object_is_type(x, json_type_object))
		return kc_fail(err, EO_EPARSE, n->file, x, "user \"%s\": exec: expected a mapping, got %s",
			       n->name, json_type_label(x));
	struct named e = *n;
	e.body = x;
	e.kind = "user";
	const char *api, *cmd, *mode, *hint;
	int provide = 0;
	if (kc_field_str(&e, "apiVersion", &api, err) != 0 || kc_field_str(&e, "command", &cmd, err) != 0 ||
	    kc_field_str(&e, "interactiveMode", &mode, err) != 0 ||
	    kc_field_str(&e, "installHint", &hint, err) != 0 ||
	    field_bool(&e, x, "provideClusterInfo", &provide, err) != 0)
		return -1;
	int v1 = api && !strcmp(api, "client.authentication.k8s.io/v1");
	if (!v1 && !(api && !strcmp(api, "client.authentication.k8s.io/v1beta1")))
		return kc_fail(err, EO_EINVAL, n->file, x,
			       "user \"%s\": exec: apiVersion \"%s\" is not supported; use "
			       "client.authentication.k8s.io/v1 or v1beta1",
			       n->name, api ? api : "");
	if (!cmd || !*cmd)
		return kc_fail(err, EO_EINVAL, n->file, x, "user \"%s\": exec: command is missing", n->name);
	if (mode && *mode && strcmp(mode, "Never") && strcmp(mode, "IfAvailable") && strcmp(mode, "Always"))
		return kc_fail(err, EO_EINVAL, n->file, json_object_object_get(x, "interactiveMode"),
			       "user \"%s\": exec: interactiveMode \"%s\" is not one of Never, "
			       "IfAvailable, Always",
			       n->name, mode);
	if (v1 && !(mode && *mode))
		return kc_fail(err, EO_EINVAL, n->file, x,
			       "user \"%s\": exec: interactiveMode is required for "
			       "client.authentication.k8s.io/v1 (Never, IfAvailable or Always)",
			       n->name);
	json_object *args = json_object_object_get(x, "args"), *env = json_object_object_get(x, "env");
	if ((args && !json_object_is_type(args, json_type_array)) ||
	    (env && !json_object_is_type(env, json_type_array)))
		return kc_fail(err, EO_EPARSE, n->file, x, "user \"%s\": exec: args and env must be lists",
			       n->name);
	struct kube_exec *ex = calloc(1, sizeof(*ex));
	if (!ex)
		abort();
	ex->api_version = eo_strdup0(api);
	/* kubectl: a command with a '/' is a path, relative to this file's
	 * directory; a bare name is looked up on PATH when run. */
	ex->command = strchr(cmd, '/') ? kc_resolve_path(n->file->dir, cmd) : eo_strdup0(cmd);
	ex->interactive_mode = eo_strdup0(mode && *mode ? mode : "IfAvailable");
	ex->provide_cluster_info = provide;
	ex->install_hint = hint && *hint ? eo_strdup0(hint) : NULL;
	if (!(ex->args = strv_from(n, args, "args", 0, err)) || !(ex->env = strv_from(n, env, "env", 1, err))) {
		kc_exec_free(ex);
		return -1;
	}
	*out = ex;
	return 0;
}

int kc_read_user(const struct named *n, struct kube_conn *c, struct eo_err *err)
{
	const char *token, *token_file, *username;
	if (kc_field_str(n, "token", &token, err) != 0 || kc_field_str(n, "tokenFile", &token_file, err) != 0 ||
	    kc_field_str(n, "username", &username, err) != 0 ||
	    field_pem(n, "client-certificate", "client-certificate-data", &c->cert_pem, &c->cert_len,
		      err) != 0 ||
	    field_pem(n, "client-key", "client-key-data", &c->key_pem, &c->key_len, err) != 0)
		return -1;
	if (!c->cert_pem != !c->key_pem)
		return kc_fail(err, EO_EINVAL, n->file, n->entry,
			       "user \"%s\" has a client %s but no client %s", n->name,
			       c->cert_pem ? "certificate" : "key", c->cert_pem ? "key" : "certificate");
	if (token && *token)
		c->token = eo_strdup0(token); /* token wins over tokenFile, as in kubectl */
	else if (token_file && *token_file)
		c->token_file = kc_resolve_path(n->file->dir, token_file);
	json_object *x = n->body ? json_object_object_get(n->body, "exec") : NULL;
	if (x && read_exec(n, x, &c->exec, err) != 0)
		return -1;
	if (!c->token && !c->token_file && !c->exec && !c->cert_pem) {
		json_object *ap = n->body ? json_object_object_get(n->body, "auth-provider") : NULL;
		if (ap)
			return kc_fail(err, EO_EINVAL, n->file, ap,
				       "user \"%s\": auth-provider \"%s\" is not supported (kubectl dropped "
				       "it too); use an exec credential plugin",
				       n->name, json_object_get_string(json_object_object_get(ap, "name")) ?: "");
		if (username && *username)
			return kc_fail(err, EO_EINVAL, n->file, n->entry,
				       "user \"%s\": basic auth (username/password) is not supported; use "
				       "a token, a client certificate or an exec plugin",
				       n->name);
	}
	return 0;
}

/* KUBERNETES_EXEC_INFO's spec.cluster, from what was finally resolved. */
void kc_build_cluster_info(struct kube_conn *c, json_object *ext)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "server", json_object_new_string(c->server));
	if (c->tls_server_name)
		json_object_object_add(o, "tls-server-name", json_object_new_string(c->tls_server_name));
	if (c->insecure)
		json_object_object_add(o, "insecure-skip-tls-verify", json_object_new_boolean(1));
	if (c->ca_pem) {
		char *b64 = eo_b64_encode(c->ca_pem, c->ca_len);
		json_object_object_add(o, "certificate-authority-data", json_object_new_string(b64));
		free(b64);
	}
	if (c->proxy_url)
		json_object_object_add(o, "proxy-url", json_object_new_string(c->proxy_url));
	if (ext)
		json_object_object_add(o, "config", json_object_get(ext));
	c->exec->cluster_info_json = eo_strdup0(json_compact(o));
	json_object_put(o);
}

