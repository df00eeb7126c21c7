/*
 * kubeconfig.c — kubeconfig files (or a Pod's service account) resolved into
 * one struct kube_conn, the way kubectl resolves them.
 *
 * The one idea: never build a merged kubeconfig. Every file stays parsed as
 * it was read (with its lines), and a lookup asks the files in order: the
 * first file that sets current-context, or that defines a context, cluster or
 * user of a given name, answers — which is exactly kubectl's "first file to
 * set a value wins, named entries taken whole". Because the answer comes with
 * the file it came from, relative paths resolve against that file's directory
 * and every error can cite "kubeconfig FILE:LINE".
 *
 * Certificates and keys are read into memory here; running exec plugins and
 * re-reading token files at request time is kubeauth.c's job.
 */
#include "kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "yaml.h"

#define KC_MAX_FILE (8u << 20)
#define KC_MAX_PEM (1u << 20)
#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_EXTENSION "client.authentication.k8s.io/exec"

struct kc_file {
	char *path;
	char *dir; /* absolute directory relative paths resolve against */
	json_object **docs;
	size_t ndocs;
	json_object *root; /* docs[0], or NULL for an empty file */
};

struct kc {
	struct kc_file *files;
	size_t n;
};

/* A named entry (context, cluster or user) and the file that defined it. */
struct named {
	const char *kind; /* "context", "cluster", "user" */
	const char *name;
	json_object *entry; /* the list item: {name, <kind>} */
	json_object *body;  /* its <kind> mapping, may be NULL */
	const struct kc_file *file;
};

/* Length of a list that may be absent, null or of the wrong type. */
static size_t arr_len(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static int kc_fail(struct eo_err *err, int code, const struct kc_file *f, json_object *node,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int kc_fail(struct eo_err *err, int code, const struct kc_file *f, json_object *node,
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

static void kc_free(struct kc *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->files[i].path);
		free(k->files[i].dir);
		yaml_docs_free(k->files[i].docs, k->files[i].ndocs);
	}
	free(k->files);
	k->files = NULL;
	k->n = 0;
}

/* ---- loading files ------------------------------------------------------ */

static char *abs_dir_of(const char *path)
{
	char *abs;
	if (path[0] == '/') {
		abs = eo_strdup0(path);
	} else {
		char cwd[4096];
		if (!getcwd(cwd, sizeof(cwd)))
			eo_strlcpy(cwd, ".", sizeof(cwd));
		abs = eo_strdupf("%s/%s", cwd, path);
	}
	char *slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else
		*slash = '\0';
	return abs;
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

/* "a/b" relative to dir; NULL or "" stays NULL. */
static char *resolve_path(const char *dir, const char *p)
{
	if (!p || !*p)
		return NULL;
	char *r = p[0] == '/' ? eo_strdup0(p) : eo_strdupf("%s/%s", dir, p);
	clean_path(r);
	return r;
}

static int check_list(const struct kc_file *f, const char *list, const char *inner,
		      struct eo_err *err)
{
	json_object *arr = json_object_object_get(f->root, list);
	if (!arr)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return kc_fail(err, EO_EPARSE, f, arr, "%s: expected a list, got %s", list,
			       json_type_label(arr));
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *it = json_object_array_get_idx(arr, i);
		json_object *name = json_object_object_get(it, "name");
		json_object *body = json_object_object_get(it, inner);
		if (!json_object_is_type(it, json_type_object) || !json_object_is_type(name, json_type_string) ||
		    !*json_object_get_string(name) ||
		    (body && !json_object_is_type(body, json_type_object)))
			return kc_fail(err, EO_EPARSE, f, it ? it : arr,
				       "%s[%zu]: expected a mapping with a name and a %s mapping", list, i,
				       inner);
	}
	return 0;
}

static int load_file(struct kc *k, const char *path, struct eo_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	if (eo_read_file(path, KC_MAX_FILE, &buf, &len, err) != 0) {
		eo_err_prefix(err, "kubeconfig: ");
		return -1;
	}
	k->files = realloc(k->files, (k->n + 1) * sizeof(*k->files));
	if (!k->files)
		abort();
	struct kc_file *f = &k->files[k->n++];
	memset(f, 0, sizeof(*f));
	f->path = eo_strdup0(path);
	f->dir = abs_dir_of(path);
	char *source = eo_strdupf("kubeconfig %s", path);
	int rc = yaml_parse_docs(buf, len, source, &f->docs, &f->ndocs, err);
	free(source);
	free(buf);
	if (rc != 0)
		return -1;
	if (f->ndocs == 0)
		return 0; /* an empty file is an empty config, as for kubectl */
	f->root = f->docs[0];
	if (!json_object_is_type(f->root, json_type_object))
		return kc_fail(err, EO_EPARSE, f, f->root,
			       "expected a kubeconfig (a mapping with clusters, users and contexts), got %s",
			       json_type_label(f->root));
	json_object *cc = json_object_object_get(f->root, "current-context");
	if (cc && !json_object_is_type(cc, json_type_string))
		return kc_fail(err, EO_EPARSE, f, cc, "current-context: expected a string, got %s",
			       json_type_label(cc));
	if (check_list(f, "clusters", "cluster", err) != 0 || check_list(f, "users", "user", err) != 0 ||
	    check_list(f, "contexts", "context", err) != 0)
		return -1;
	return 0;
}

/* Which files to read: --kubeconfig, else $KUBECONFIG, else ~/.kube/config.
 * *where describes what was looked at, for the "nothing found" message. */
static int load_files(const struct kubeconfig_opts *o, struct kc *k, char *where, size_t wsize,
		      struct eo_err *err)
{
	if (o->kubeconfig && *o->kubeconfig) {
		snprintf(where, wsize, "%s", o->kubeconfig);
		return load_file(k, o->kubeconfig, err);
	}
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		snprintf(where, wsize, "KUBECONFIG=%s", env);
		char *list = eo_strdup0(env), *save = NULL;
		char **seen = NULL;
		size_t nseen = 0;
		int rc = 0;
		for (char *p = strtok_r(list, ":", &save); p && rc == 0; p = strtok_r(NULL, ":", &save)) {
			int dup = 0;
			for (size_t i = 0; i < nseen; i++)
				dup |= !strcmp(seen[i], p);
			if (dup)
				continue;
			seen = realloc(seen, (nseen + 1) * sizeof(*seen));
			if (!seen)
				abort();
			seen[nseen++] = p;
			struct stat st;
			if (stat(p, &st) != 0 && errno == ENOENT)
				continue; /* kubectl skips missing files in the list */
			rc = load_file(k, p, err);
		}
		free(seen);
		free(list);
		return rc;
	}
	const char *home = getenv("HOME");
	if (!home || !*home) {
		snprintf(where, wsize, "~/.kube/config (HOME is not set)");
		return 0;
	}
	char *path = eo_strdupf("%s/.kube/config", home);
	snprintf(where, wsize, "%s", path);
	struct stat st;
	int rc = 0;
	if (stat(path, &st) == 0 || errno != ENOENT)
		rc = load_file(k, path, err);
	free(path);
	return rc;
}

/* ---- lookups ------------------------------------------------------------ */

static const char *current_context(const struct kc *k, const struct kc_file **from,
				   json_object **node)
{
	for (size_t i = 0; i < k->n; i++) {
		json_object *cc = k->files[i].root ? json_object_object_get(k->files[i].root, "current-context") : NULL;
		if (cc && *json_object_get_string(cc)) {
			*from = &k->files[i];
			*node = cc;
			return json_object_get_string(cc);
		}
	}
	return NULL;
}

/* First file that defines the name wins; within a file the last entry does,
 * as kubectl reads a file's list into a map. */
static int find_named(const struct kc *k, const char *kind, const char *name, struct named *out)
{
	char list[16];
	snprintf(list, sizeof(list), "%ss", kind);
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->name = name;
	for (size_t i = 0; i < k->n; i++) {
		json_object *arr = k->files[i].root ? json_object_object_get(k->files[i].root, list) : NULL;
		for (size_t j = 0; j < arr_len(arr); j++) {
			json_object *it = json_object_array_get_idx(arr, j);
			if (!strcmp(json_object_get_string(json_object_object_get(it, "name")), name)) {
				out->entry = it;
				out->body = json_object_object_get(it, kind);
				out->file = &k->files[i];
			}
		}
		if (out->entry)
			return 1;
	}
	return 0;
}

static void list_names(const struct kc *k, const char *list, char *buf, size_t size)
{
	struct eo_buf b = {0};
	for (size_t i = 0; i < k->n; i++) {
		json_object *arr = k->files[i].root ? json_object_object_get(k->files[i].root, list) : NULL;
		for (size_t j = 0; j < arr_len(arr); j++) {
			const char *n = json_object_get_string(
				json_object_object_get(json_object_array_get_idx(arr, j), "name"));
			char quoted[300];
			snprintf(quoted, sizeof(quoted), "\"%s\"", n);
			if (b.data && strstr(b.data, quoted))
				continue;
			eo_buf_printf(&b, "%s%s", b.len ? ", " : "", quoted);
		}
	}
	snprintf(buf, size, "%s", b.len ? b.data : "none");
	eo_buf_free(&b);
}

/* Typed fields of a named entry's body; absent or null gives NULL / 0. */
static int field_str(const struct named *n, const char *key, const char **out, struct eo_err *err)
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
	if (field_str(n, data_key, &data, err) != 0 || field_str(n, file_key, &file, err) != 0)
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
	char *path = resolve_path(n->file->dir, file);
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

/* ---- building the connection ------------------------------------------- */

static struct kube_conn *conn_new(void)
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

static void exec_free(struct kube_exec *x)
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
	exec_free(c->exec);
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

static int read_cluster(const struct named *n, struct kube_conn *c, json_object **ext,
			struct eo_err *err)
{
	const char *server, *sni, *proxy;
	if (field_str(n, "server", &server, err) != 0 || field_str(n, "tls-server-name", &sni, err) != 0 ||
	    field_str(n, "proxy-url", &proxy, err) != 0 ||
	    field_bool(n, n->body, "insecure-skip-tls-verify", &c->insecure, err) != 0 ||
	    field_pem(n, "certificate-authority", "certificate-authority-data", &c->ca_pem, &c->ca_len,
		      err) != 0)
		return -1;
	c->server = server && *server ? eo_strdup0(server) : NULL;
	c->tls_server_name = sni && *sni ? eo_strdup0(sni) : NULL;
	c->proxy_url = proxy && *proxy ? eo_strdup0(proxy) : NULL;
	/* extensions: [{name, extension}]; the exec one goes to the plugin. */
	json_object *exts = n->body ? json_object_object_get(n->body, "extensions") : NULL;
	for (size_t i = 0; i < arr_len(exts); i++) {
		json_object *it = json_object_array_get_idx(exts, i);
		if (!strcmp(json_object_get_string(json_object_object_get(it, "name")) ?: "", EXEC_EXTENSION))
			*ext = json_object_object_get(it, "extension");
	}
	return 0;
}

static char **strv_from(const struct named *n, json_object *arr, const char *what, int is_env,
			struct eo_err *err)
{
	size_t len = arr_len(arr);
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
	if (field_str(&e, "apiVersion", &api, err) != 0 || field_str(&e, "command", &cmd, err) != 0 ||
	    field_str(&e, "interactiveMode", &mode, err) != 0 ||
	    field_str(&e, "installHint", &hint, err) != 0 ||
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
	ex->command = strchr(cmd, '/') ? resolve_path(n->file->dir, cmd) : eo_strdup0(cmd);
	ex->interactive_mode = eo_strdup0(mode && *mode ? mode : "IfAvailable");
	ex->provide_cluster_info = provide;
	ex->install_hint = hint && *hint ? eo_strdup0(hint) : NULL;
	if (!(ex->args = strv_from(n, args, "args", 0, err)) || !(ex->env = strv_from(n, env, "env", 1, err))) {
		exec_free(ex);
		return -1;
	}
	*out = ex;
	return 0;
}

static int read_user(const struct named *n, struct kube_conn *c, struct eo_err *err)
{
	const char *token, *token_file, *username;
	if (field_str(n, "token", &token, err) != 0 || field_str(n, "tokenFile", &token_file, err) != 0 ||
	    field_str(n, "username", &username, err) != 0 ||
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
		c->token_file = resolve_path(n->file->dir, token_file);
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
static void build_cluster_info(struct kube_conn *c, json_object *ext)
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

/* --token, --server, --insecure-skip-tls-verify, -n on any connection. */
static void apply_overrides(const struct kubeconfig_opts *o, struct kube_conn *c)
{
	if (o->server && *o->server) {
		free(c->server);
		c->server = eo_strdup0(o->server);
	}
	if (o->insecure_skip_tls_verify) {
		c->insecure = 1; /* kubectl drops the CA then */
		free(c->ca_pem);
		c->ca_pem = NULL;
		c->ca_len = 0;
	}
	if (o->token && *o->token) { /* replaces the user's credentials */
		free(c->token);
		free(c->token_file);
		free(c->cert_pem);
		free(c->key_pem);
		exec_free(c->exec);
		c->token = eo_strdup0(o->token);
		c->token_file = c->cert_pem = c->key_pem = NULL;
		c->cert_len = c->key_len = 0;
		c->exec = NULL;
	}
	if (o->namespace && *o->namespace) {
		free(c->namespace);
		c->namespace = eo_strdup0(o->namespace);
	}
	size_t n = c->server ? strlen(c->server) : 0;
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
}

static int resolve(const struct kc *k, const struct kubeconfig_opts *o, const char *where,
		   struct kube_conn **out, struct eo_err *err)
{
	const struct kc_file *ccf = NULL;
	json_object *ccnode = NULL;
	const struct kc_file *first = k->n ? &k->files[0] : NULL;
	const char *ctx_name = o->context && *o->context ? o->context : current_context(k, &ccf, &ccnode);
	struct named ctx = {0}, cl = {0}, us = {0};
	char names[200];
	if (ctx_name && !find_named(k, "context", ctx_name, &ctx)) {
		list_names(k, "contexts", names, sizeof(names));
		if (ccf)
			return kc_fail(err, EO_EINVAL, ccf, ccnode,
				       "current-context \"%s\" is not defined; contexts: %s", ctx_name, names);
		return eo_err_set(err, EO_EINVAL, "context \"%s\" is not defined in %s; contexts: %s",
				  ctx_name, where, names);
	}
	if (!ctx_name && !(o->cluster && *o->cluster) && !(o->server && *o->server)) {
		list_names(k, "contexts", names, sizeof(names));
		return eo_err_set(err, EO_EINVAL,
				  "%s sets no current context: pass --context NAME or run `kubectl config "
				  "use-context NAME` (contexts: %s)",
				  where, names);
	}
	struct kube_conn *c = conn_new();
	c->context_name = eo_strdup0(ctx_name ? ctx_name : "");
	c->origin = eo_strdupf("kubeconfig %s", ctx.file ? ctx.file->path : first ? first->path : where);
	const char *cl_name = NULL, *us_name = NULL, *ns = NULL;
	if (ctx.entry && (field_str(&ctx, "cluster", &cl_name, err) != 0 ||
			  field_str(&ctx, "user", &us_name, err) != 0 ||
			  field_str(&ctx, "namespace", &ns, err) != 0))
		goto fail;
	json_object *ext = NULL;
	/* cluster: --cluster, else the context's */
	const char *want = o->cluster && *o->cluster ? o->cluster : cl_name;
	if (want && *want) {
		if (!find_named(k, "cluster", want, &cl)) {
			list_names(k, "clusters", names, sizeof(names));
			if (want == cl_name)
				kc_fail(err, EO_EINVAL, ctx.file, json_object_object_get(ctx.body, "cluster"),
					"context \"%s\" names cluster \"%s\", which is not defined (clusters: %s)",
					ctx_name, want, names);
			else
				eo_err_set(err, EO_EINVAL, "cluster \"%s\" (--cluster) is not defined in %s; clusters: %s",
					   want, where, names);
			goto fail;
		}
		c->cluster_name = eo_strdup0(want);
		if (read_cluster(&cl, c, &ext, err) != 0)
			goto fail;
	}
	/* user: --user, else the context's; none means anonymous */
	want = o->user && *o->user ? o->user : us_name;
	if (want && *want) {
		if (!find_named(k, "user", want, &us)) {
			list_names(k, "users", names, sizeof(names));
			if (want == us_name)
				kc_fail(err, EO_EINVAL, ctx.file, json_object_object_get(ctx.body, "user"),
					"context \"%s\" names user \"%s\", which is not defined (users: %s)",
					ctx_name, want, names);
			else
				eo_err_set(err, EO_EINVAL, "user \"%s\" (--user) is not defined in %s; users: %s",
					   want, where, names);
			goto fail;
		}
		c->user_name = eo_strdup0(want);
		if (read_user(&us, c, err) != 0)
			goto fail;
	}
	c->namespace = eo_strdup0(ns && *ns ? ns : "default");
	apply_overrides(o, c);
	if (!c->server || !*c->server) {
		if (cl.entry)
			kc_fail(err, EO_EINVAL, cl.file, cl.entry, "cluster \"%s\" has no server", cl.name);
		else
			eo_err_set(err, EO_EINVAL, "%s: context \"%s\" names no cluster; pass --cluster or --server",
				   where, ctx_name ? ctx_name : "");
		goto fail;
	}
	if (c->exec && c->exec->provide_cluster_info)
		build_cluster_info(c, ext);
	*out = c;
	return 0;
fail:
	kube_conn_free(c);
	return -1;
}

int kubeconfig_load(const struct kubeconfig_opts *opts, struct kube_conn **out, struct eo_err *err)
{
	static const struct kubeconfig_opts none = {0};
	const struct kubeconfig_opts *o = opts ? opts : &none;
	struct kc k = {0};
	char where[512];
	*out = NULL;
	if (load_files(o, &k, where, sizeof(where), err) != 0) {
		kc_free(&k);
		return -1;
	}
	int rc;
	if (k.n == 0 && !(o->server && *o->server)) {
		const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
		if (h && *h && p && *p) {
			rc = kubeconfig_in_cluster(NULL, out, err);
			if (rc == 0)
				apply_overrides(o, *out);
		} else {
			rc = eo_err_set(err, EO_EINVAL,
					"no kubeconfig found (looked at %s) and not in a Pod: pass --kubeconfig, "
					"set KUBECONFIG or create ~/.kube/config",
					where);
		}
	} else {
		rc = resolve(&k, o, where, out, err);
	}
	kc_free(&k);
	return rc;
}

/* ---- in-cluster --------------------------------------------------------- */

static char *trimmed(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	char *p = s;
	while (*p && strchr(" \t\r\n", *p))
		p++;
	memmove(s, p, strlen(p) + 1);
	return s;
}

int kubeconfig_in_cluster(const char *sa_dir, struct kube_conn **out, struct eo_err *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = sa_dir && *sa_dir ? sa_dir : SA_DIR_DEFAULT;
	*out = NULL;
	if (!host || !*host || !port || !*port)
		return eo_err_set(err, EO_EINVAL,
				  "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
				  "are not set (not running in a Pod?)");
	struct kube_conn *c = conn_new();
	c->origin = eo_strdup0("in-cluster service account");
	c->context_name = eo_strdup0("");
	c->server = strchr(host, ':') && host[0] != '[' ? eo_strdupf("https://[%s]:%s", host, port)
							  : eo_strdupf("https://%s:%s", host, port);
	c->token_file = eo_strdupf("%s/token", dir);
	char *ca = eo_strdupf("%s/ca.crt", dir), *nsf = eo_strdupf("%s/namespace", dir);
	char *tok = NULL, *ns = NULL;
	int rc = 0;
	if (eo_read_file(c->token_file, KC_MAX_PEM, &tok, NULL, err) != 0 ||
	    eo_read_file(ca, KC_MAX_PEM, &c->ca_pem, &c->ca_len, err) != 0) {
		eo_err_prefix(err, "in-cluster config: ");
		rc = -1;
	} else if (!*trimmed(tok)) {
		rc = eo_err_set(err, EO_EINVAL, "in-cluster config: service-account token %s is empty",
				c->token_file);
	}
	if (tok)
		memset(tok, 0, strlen(tok));
	free(tok);
	if (rc == 0) {
		struct eo_err ignore;
		if (eo_read_file(nsf, 4096, &ns, NULL, &ignore) == 0 && *trimmed(ns)) {
			c->namespace = ns;
		} else {
			free(ns);
			c->namespace = eo_strdup0("default");
		}
	}
	free(ca);
	free(nsf);
	if (rc != 0) {
		kube_conn_free(c);
		return -1;
	}
	*out = c;
	return 0;
}
