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
 * What a single entry means (fields, certificates, exec settings) is
 * kubeconfig_entry.c's job; running exec plugins and re-reading token files
 * at request time is kubeauth.c's.
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
#include "kubeconfig_int.h"
#include "yamljson.h"

#define KC_MAX_FILE (8u << 20)
#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

struct kc {
	struct kc_file *files;
	size_t n;
};

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
		snprintf(where, wsize, "kubeconfig %s", o->kubeconfig);
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
	snprintf(where, wsize, "kubeconfig %s", path);
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
		for (size_t j = 0; j < kc_arr_len(arr); j++) {
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
		for (size_t j = 0; j < kc_arr_len(arr); j++) {
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
		kc_exec_free(c->exec);
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
	struct kube_conn *c = kc_conn_new();
	c->context_name = eo_strdup0(ctx_name ? ctx_name : "");
	c->origin = eo_strdupf("kubeconfig %s", ctx.file ? ctx.file->path : first ? first->path : where);
	const char *cl_name = NULL, *us_name = NULL, *ns = NULL;
	if (ctx.entry && (kc_field_str(&ctx, "cluster", &cl_name, err) != 0 ||
			  kc_field_str(&ctx, "user", &us_name, err) != 0 ||
			  kc_field_str(&ctx, "namespace", &ns, err) != 0))
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
		if (kc_read_cluster(&cl, c, &ext, err) != 0)
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
		if (kc_read_user(&us, c, err) != 0)
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
		kc_build_cluster_info(c, ext);
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
	struct kube_conn *c = kc_conn_new();
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
