/*
 * Unit tests for shared/kube/kubeconfig.c and shared/kube/kubeauth.c: resolution the
 * way kubectl does it (KUBECONFIG merge, --kubeconfig, overrides, namespace,
 * in-cluster), every kind of credential, and every kind of bad input.
 *
 * Fixtures live in test/fixtures/kubeconfig; their absolute paths are built
 * at run time from $EO_SOURCE_DIR, else from this file's path, else the
 * current directory (test/run.sh runs from the repository root). Files a test
 * has to change (token files, counters) go to a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "eo.h"
#include "json.h"
#include "kubeconfig.h"

static char fixdir[4096];
static char tmpdir[256];

static void find_fixtures(void)
{
	const char *src = getenv("EO_SOURCE_DIR");
	char root[4096] = ".";
	if (src && *src) {
		snprintf(root, sizeof(root), "%s", src);
	} else if (__FILE__[0] == '/') {
		snprintf(root, sizeof(root), "%s", __FILE__);
		char *p = strstr(root, "/test/unit/");
		if (p)
			*p = '\0';
	}
	char rel[4200];
	snprintf(rel, sizeof(rel), "%s/test/fixtures/kubeconfig", root);
	if (!realpath(rel, fixdir)) {
		fprintf(stderr, "fixtures not found at %s (set EO_SOURCE_DIR)\n", rel);
		abort();
	}
}

/* A fixture's absolute path; static storage, four in rotation. */
static const char *fx(const char *name)
{
	static char bufs[4][4400];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, sizeof(bufs[0]), "%s/%s", fixdir, name);
	return b;
}

static const char *tmp(const char *name)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
	return b;
}

static void write_text(const char *path, const char *text)
{
	struct eo_err err;
	assert_int_equal(eo_write_file(path, text, strlen(text), 0600, &err), 0);
}

static char *slurp(const char *path)
{
	char *s = NULL;
	struct eo_err err;
	if (eo_read_file(path, 1 << 20, &s, NULL, &err) != 0)
		return NULL;
	return s;
}

static int count_lines(const char *path)
{
	char *s = slurp(path);
	int n = 0;
	for (char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* Every test starts from a clean environment: no KUBECONFIG, no Pod, and a
 * HOME without a ~/.kube/config. */
static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/eo-kctest-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("EO_TEST_EXEC_INFO");
	setenv("HOME", tmpdir, 1);
	setenv("EO_TEST_EXEC_COUNT", tmp("count"), 1);
	kube_exec_set_timeout_ms(0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct kube_conn *load_ok(const struct kubeconfig_opts *o)
{
	struct kube_conn *c = NULL;
	struct eo_err err = {0};
	int rc = kubeconfig_load(o, &c, &err);
	if (rc != 0)
		fail_msg("kubeconfig_load: %s", err.msg);
	assert_non_null(c);
	return c;
}

/* Load must fail, and its message contain every given fragment. */
static void load_fails(const struct kubeconfig_opts *o, ...)
{
	struct kube_conn *c = NULL;
	struct eo_err err = {0};
	int rc = kubeconfig_load(o, &c, &err);
	if (rc == 0)
		fail_msg("kubeconfig_load succeeded, expected an error");
	assert_null(c);
	va_list ap;
	va_start(ap, o);
	for (const char *want; (want = va_arg(ap, const char *));)
		if (!strstr(err.msg, want))
			fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
	va_end(ap);
}

static char *token_of(struct kube_conn *c)
{
	struct kube_creds cr;
	struct eo_err err = {0};
	if (kube_conn_credentials(c, &cr, &err) != 0)
		fail_msg("credentials: %s", err.msg);
	char *t = eo_strdup0(cr.token);
	kube_creds_clear(&cr);
	return t;
}

static void assert_token(struct kube_conn *c, const char *want)
{
	char *t = token_of(c);
	assert_non_null(t);
	assert_string_equal(t, want);
	free(t);
}

static void assert_file_bytes(const char *data, size_t len, const char *path)
{
	char *want = slurp(path);
	assert_non_null(want);
	assert_non_null(data);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(want);
}

/* ---- one file, static credentials ---------------------------------------- */

static void test_single_file_token(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml")};
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->server, "https://127.0.0.1:6443"); /* trailing '/' gone */
	assert_string_equal(c->context_name, "token");
	assert_string_equal(c->cluster_name, "local");
	assert_string_equal(c->user_name, "token-user");
	assert_string_equal(c->namespace, "default");
	assert_string_equal(c->tls_server_name, "kubernetes.default");
	assert_file_bytes(c->ca_pem, c->ca_len, fx("ca.crt")); /* from -data */
	assert_int_equal(c->insecure, 0);
	assert_null(c->cert_pem);
	assert_token(c, "abc123");
	assert_int_equal(kube_conn_invalidate(c), 0); /* a static token: retrying won't help */
	assert_non_null(strstr(c->origin, "users.yaml"));
	kube_conn_free(c);
}

static void test_client_cert_files_and_data(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"), .context = "certs"};
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->server, "https://files.example:6443");
	assert_file_bytes(c->ca_pem, c->ca_len, fx("ca.crt")); /* relative file */
	assert_file_bytes(c->cert_pem, c->cert_len, fx("client.crt"));
	assert_file_bytes(c->key_pem, c->key_len, fx("client.key"));
	assert_string_equal(c->namespace, "certs-ns");
	char *t = token_of(c);
	assert_null(t);
	kube_conn_free(c);

	o.context = "certdata";
	c = load_ok(&o);
	assert_file_bytes(c->cert_pem, c->cert_len, fx("client.crt"));
	assert_file_bytes(c->key_pem, c->key_len, fx("client.key"));
	kube_conn_free(c);
}

static void test_token_wins_over_token_file(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"), .context = "both-tokens"};
	struct kube_conn *c = load_ok(&o);
	assert_null(c->token_file);
	assert_token(c, "token-wins");
	kube_conn_free(c);

	o.context = "anonymous";
	c = load_ok(&o);
	assert_null(c->user_name);
	char *t = token_of(c);
	assert_null(t);
	kube_conn_free(c);
}

static void test_token_file_reread(void **state)
{
	/* tokenFile relative to the kubeconfig in the temp dir */
	write_text(tmp("config"), "clusters:\n- name: c\n  cluster: {server: 'https://h:1'}\n"
				  "users:\n- name: u\n  user:\n    tokenFile: tok\n"
				  "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
				  "current-context: x\n");
	write_text(tmp("tok"), "first-token\n");
	struct kubeconfig_opts o = {.kubeconfig = tmp("config")};
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->token_file, tmp("tok"));
	assert_token(c, "first-token");
	write_text(tmp("tok"), "second-token");
	assert_token(c, "second-token"); /* rotated by the kubelet: read again */
	assert_int_equal(kube_conn_invalidate(c), 1);
	unlink(tmp("tok"));
	struct kube_creds cr;
	struct eo_err err;
	assert_int_equal(kube_conn_credentials(c, &cr, &err), -1);
	assert_non_null(strstr(err.msg, tmp("tok")));
	assert_non_null(strstr(err.msg, "No such file"));
	kube_conn_free(c);
}

/* ---- which files, merged how -------------------------------------------- */

static void test_kubeconfig_merge_first_wins(void **state)
{
	char list[9000];
	snprintf(list, sizeof(list), "%s:%s", fx("a.yaml"), fx("other/b.yaml"));
	setenv("KUBECONFIG", list, 1);
	struct kubeconfig_opts o = {0};
	struct kube_conn *c = load_ok(&o);
	/* current-context and context "alpha" from a.yaml, whole */
	assert_string_equal(c->context_name, "alpha");
	assert_string_equal(c->namespace, "team-a");
	assert_string_equal(c->user_name, "alice");
	assert_token(c, "token-from-a");
	/* cluster "shared" from a.yaml, whole: b's insecure flag is not mixed in */
	assert_string_equal(c->server, "https://a.example:6443");
	assert_int_equal(c->insecure, 0);
	assert_file_bytes(c->ca_pem, c->ca_len, fx("ca.crt"));
	kube_conn_free(c);

	/* names only b.yaml defines, its CA relative to other/ */
	o.context = "beta";
	c = load_ok(&o);
	assert_string_equal(c->server, "https://only-b.example");
	assert_file_bytes(c->ca_pem, c->ca_len, fx("certs/other-ca.crt"));
	assert_string_equal(c->namespace, "team-b");
	assert_token(c, "token-from-b-bob");
	kube_conn_free(c);

	/* a context from a.yaml naming a user from b.yaml */
	o.context = "both";
	c = load_ok(&o);
	assert_string_equal(c->server, "https://a.example:6443");
	assert_token(c, "token-from-b-bob");
	kube_conn_free(c);

	/* the other order: b.yaml wins */
	snprintf(list, sizeof(list), "%s:%s", fx("other/b.yaml"), fx("a.yaml"));
	setenv("KUBECONFIG", list, 1);
	o.context = NULL;
	c = load_ok(&o);
	assert_string_equal(c->context_name, "beta");
	kube_conn_free(c);
	o.context = "alpha";
	c = load_ok(&o);
	assert_string_equal(c->server, "https://only-b.example");
	assert_token(c, "token-from-b-bob");
	assert_string_equal(c->namespace, "default");
	kube_conn_free(c);
}

static void test_kubeconfig_list_skips_missing_and_empty(void **state)
{
	char list[9000];
	snprintf(list, sizeof(list), "::%s:%s::%s", tmp("does-not-exist"), fx("a.yaml"), fx("a.yaml"));
	setenv("KUBECONFIG", list, 1);
	struct kube_conn *c = load_ok(&(struct kubeconfig_opts){0});
	assert_string_equal(c->context_name, "alpha");
	kube_conn_free(c);

	/* nothing in the list exists: no config, and not in a Pod */
	snprintf(list, sizeof(list), "%s", tmp("nope"));
	setenv("KUBECONFIG", list, 1);
	load_fails(&(struct kubeconfig_opts){0}, "no kubeconfig found", "KUBECONFIG=", NULL);
}

static void test_kubeconfig_flag_is_one_file(void **state)
{
	char list[9000];
	snprintf(list, sizeof(list), "%s:%s", fx("a.yaml"), fx("other/b.yaml"));
	setenv("KUBECONFIG", list, 1); /* ignored when --kubeconfig is given */
	struct kubeconfig_opts o = {.kubeconfig = fx("other/b.yaml")};
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->context_name, "beta");
	kube_conn_free(c);
	o.context = "alpha";
	c = load_ok(&o);
	assert_string_equal(c->server, "https://only-b.example");
	kube_conn_free(c);
	o.context = "both"; /* only in a.yaml */
	load_fails(&o, "context \"both\" is not defined", NULL);

	o = (struct kubeconfig_opts){.kubeconfig = tmp("missing")};
	load_fails(&o, tmp("missing"), "No such file or directory", NULL);
}

static void test_home_default_and_nothing(void **state)
{
	load_fails(&(struct kubeconfig_opts){0}, "no kubeconfig found", "/.kube/config",
		   "--kubeconfig", NULL);
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/.kube", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	char *a = slurp(fx("a.yaml"));
	/* a copy away from the fixtures: its relative ca.crt is now missing */
	write_text(tmp(".kube/config"), a);
	free(a);
	load_fails(&(struct kubeconfig_opts){0}, tmp(".kube/ca.crt"), "No such file", NULL);
	write_text(tmp(".kube/config"), "current-context: x\ncontexts:\n- name: x\n  context: "
					"{cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'https://home:1'}\n");
	struct kube_conn *c = load_ok(&(struct kubeconfig_opts){0});
	assert_string_equal(c->server, "https://home:1");
	kube_conn_free(c);
	/* an empty file is an empty config, so flags alone can make a connection */
	write_text(tmp(".kube/config"), "");
	load_fails(&(struct kubeconfig_opts){0}, "no current context", NULL);
	c = load_ok(&(struct kubeconfig_opts){.server = "https://flag:6443/", .token = "t"});
	assert_string_equal(c->server, "https://flag:6443");
	assert_token(c, "t");
	kube_conn_free(c);
}

/* ---- overrides and namespace ----------------------------------------------- */

static void test_overrides(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"),
				    .context = "certs",
				    .namespace = "flag-ns",
				    .server = "https://override:443",
				    .token = "flag-token",
				    .insecure_skip_tls_verify = 1};
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->server, "https://override:443");
	assert_string_equal(c->namespace, "flag-ns");
	assert_int_equal(c->insecure, 1);
	assert_null(c->ca_pem);   /* kubectl drops the CA with --insecure-skip-tls-verify */
	assert_null(c->cert_pem); /* --token replaces the user's credentials */
	assert_token(c, "flag-token");
	kube_conn_free(c);

	/* --cluster and --user replace the context's choices */
	o = (struct kubeconfig_opts){.kubeconfig = fx("users.yaml"), .cluster = "files", .user = "cert-data"};
	c = load_ok(&o);
	assert_string_equal(c->context_name, "token");
	assert_string_equal(c->server, "https://files.example:6443");
	assert_string_equal(c->user_name, "cert-data");
	assert_non_null(c->cert_pem);
	kube_conn_free(c);
	o.user = "nobody";
	load_fails(&o, "user \"nobody\" (--user) is not defined", "token-user", NULL);
	o.user = NULL;
	o.cluster = "nowhere";
	load_fails(&o, "cluster \"nowhere\" (--cluster) is not defined", "\"local\", \"files\"", NULL);
}

static void test_namespace_precedence(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"), .context = "certs"};
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->namespace, "certs-ns"); /* the context's */
	kube_conn_free(c);
	o.namespace = "flag-ns";
	c = load_ok(&o);
	assert_string_equal(c->namespace, "flag-ns"); /* the flag's */
	kube_conn_free(c);
	o.namespace = NULL;
	o.context = "certdata";
	c = load_ok(&o);
	assert_string_equal(c->namespace, "default");
	kube_conn_free(c);
}

/* ---- bad input --------------------------------------------------------------- */

static void test_unknown_context(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"), .context = "prod"};
	load_fails(&o, "context \"prod\" is not defined", fx("users.yaml"), "\"token\", \"certs\"", NULL);
	/* current-context naming a missing context: cite its line */
	write_text(tmp("config"), "apiVersion: v1\ncurrent-context: gone\ncontexts:\n- name: here\n"
				  "  context: {cluster: c}\n");
	o = (struct kubeconfig_opts){.kubeconfig = tmp("config")};
	char want[600];
	snprintf(want, sizeof(want), "kubeconfig %s:2: current-context \"gone\" is not defined", tmp("config"));
	load_fails(&o, want, "\"here\"", NULL);
}

static void test_no_current_context(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("no-current.yaml")};
	load_fails(&o, "no current context", "--context", "kubectl config use-context", "\"one\", \"two\"",
		   NULL);
	o.context = "two";
	struct kube_conn *c = load_ok(&o);
	assert_string_equal(c->server, "https://127.0.0.1:6443");
	kube_conn_free(c);
}

static void test_missing_user_and_cluster(void **state)
{
	char want[600];
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"), .context = "nouser"};
	snprintf(want, sizeof(want),
		 "kubeconfig %s:30: context \"nouser\" names user \"ops\", which is not defined",
		 fx("users.yaml"));
	load_fails(&o, want, NULL);
	o.context = "nocluster";
	snprintf(want, sizeof(want),
		 "kubeconfig %s:33: context \"nocluster\" names cluster \"gone\", which is not defined",
		 fx("users.yaml"));
	load_fails(&o, want, NULL);
	o.context = "halfcert";
	load_fails(&o, "user \"half-cert\" has a client certificate but no client key", NULL);
}

static void test_bad_yaml_cites_file_and_line(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("bad.yaml")};
	char want[600];
	snprintf(want, sizeof(want), "kubeconfig %s:7:", fx("bad.yaml"));
	load_fails(&o, want, NULL);

	write_text(tmp("config"), "- just\n- a list\n");
	o.kubeconfig = tmp("config");
	load_fails(&o, ":1: expected a kubeconfig", "got an array", NULL);
	write_text(tmp("config"), "clusters:\n  name: not-a-list\n");
	load_fails(&o, ":2: clusters: expected a list", NULL);
	write_text(tmp("config"), "current-context: x\nclusters:\n- name: c\n  cluster: {server: 1}\n"
				  "contexts:\n- name: x\n  context: {cluster: c}\n");
	load_fails(&o, ":4: cluster \"c\": server: expected a string, got an integer", NULL);
	write_text(tmp("config"), "current-context: x\nclusters:\n- name: c\n  cluster:\n"
				  "    server: https://h\n    certificate-authority-data: '@@@@'\n"
				  "contexts:\n- name: x\n  context: {cluster: c}\n");
	load_fails(&o, ":6: cluster \"c\": certificate-authority-data is not valid base64", NULL);
	/* a bad file anywhere in KUBECONFIG fails the load */
	char list[9000];
	snprintf(list, sizeof(list), "%s:%s", fx("a.yaml"), fx("bad.yaml"));
	setenv("KUBECONFIG", list, 1);
	load_fails(&(struct kubeconfig_opts){0}, fx("bad.yaml"), NULL);
}

static void test_unreadable_certificate(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("users.yaml"), .context = "badcert"};
	load_fails(&o, ":57: user \"bad-cert\": client-certificate", fx("missing.crt"),
		   "No such file or directory", NULL);
	/* a directory where a file should be */
	write_text(tmp("config"), "current-context: x\nclusters:\n- name: c\n  cluster:\n"
				  "    server: https://h\n    certificate-authority: /tmp\n"
				  "contexts:\n- name: x\n  context: {cluster: c}\n");
	o = (struct kubeconfig_opts){.kubeconfig = tmp("config")};
	load_fails(&o, "certificate-authority", "/tmp", "Is a directory", NULL);
}

/* ---- in-cluster ------------------------------------------------------------- */

static void test_in_cluster(void **state)
{
	char sa[600];
	snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
	assert_int_equal(mkdir(sa, 0700), 0);
	struct kube_conn *c = NULL;
	struct eo_err err;
	assert_int_equal(kubeconfig_in_cluster(sa, &c, &err), -1);
	assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kubeconfig_in_cluster(sa, &c, &err), -1);
	assert_non_null(strstr(err.msg, "sa/token"));
	write_text(tmp("sa/token"), "sa-token-1\n");
	write_text(tmp("sa/ca.crt"), "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
	assert_int_equal(kubeconfig_in_cluster(sa, &c, &err), 0);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	assert_string_equal(c->namespace, "default"); /* no namespace file */
	assert_non_null(c->ca_pem);
	assert_token(c, "sa-token-1");
	write_text(tmp("sa/token"), "sa-token-2\n");
	assert_token(c, "sa-token-2"); /* projected tokens rotate */
	kube_conn_free(c);

	write_text(tmp("sa/namespace"), "etcd-system\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	assert_int_equal(kubeconfig_in_cluster(sa, &c, &err), 0);
	assert_string_equal(c->server, "https://[fd00:10:96::1]:443");
	assert_string_equal(c->namespace, "etcd-system");
	kube_conn_free(c);

	/* no kubeconfig anywhere, in a Pod: kubeconfig_load goes in-cluster
	 * (the real service-account directory, absent on a test machine) */
	struct stat st;
	if (stat("/var/run/secrets/kubernetes.io/serviceaccount/token", &st) != 0)
		load_fails(&(struct kubeconfig_opts){0}, "in-cluster config",
			   "/var/run/secrets/kubernetes.io/serviceaccount/token", NULL);
}


/* ---- exec credential plugins ---------------------------------------------- */

static struct kube_conn *exec_conn(const char *context)
{
	struct kubeconfig_opts o = {.kubeconfig = fx("exec.yaml"), .context = context};
	return load_ok(&o);
}

/* The plugin must fail; the one error names it and says what went wrong. */
static void exec_fails(const char *context, int code, const char *what)
{
	struct kube_conn *c = exec_conn(context);
	struct kube_creds cr;
	struct eo_err err = {0};
	assert_int_equal(kube_conn_credentials(c, &cr, &err), -1);
	assert_null(cr.token);
	if (code)
		assert_int_equal(err.code, code);
	if (!strstr(err.msg, what) || !strstr(err.msg, "exec plugin "))
		fail_msg("error \"%s\" does not name the plugin and \"%s\"", err.msg, what);
	kube_conn_free(c);
}

static void test_exec_v1_cached_until_invalidated(void **state)
{
	setenv("EO_TEST_EXEC_INFO", tmp("info"), 1);
	setenv("EXEC_TEST_TOKEN", "from-our-environment", 1); /* the kubeconfig's env wins */
	struct kube_conn *c = exec_conn("v1");
	assert_string_equal(c->exec->command, fx("exec-plugin.sh")); /* relative to exec.yaml */
	assert_token(c, "token-v1");
	assert_token(c, "token-v1");
	assert_int_equal(count_lines(tmp("count")), 1); /* the second came from the cache */
	assert_int_equal(kube_conn_invalidate(c), 1);   /* as after a 401 */
	assert_token(c, "token-v1");
	assert_int_equal(count_lines(tmp("count")), 2);

	/* what the plugin was told */
	char *text = slurp(tmp("info"));
	struct eo_err err;
	json_object *info = json_parse(text, strlen(text), &err);
	free(text);
	assert_non_null(info);
	assert_string_equal(json_opt_str(info, "apiVersion", ""), "client.authentication.k8s.io/v1");
	assert_string_equal(json_opt_str(info, "kind", ""), "ExecCredential");
	assert_int_equal(json_opt_bool(info, "spec.interactive", true), false); /* Never */
	assert_string_equal(json_opt_str(info, "spec.cluster.server", ""), "https://127.0.0.1:6443");
	assert_string_equal(json_opt_str(info, "spec.cluster.tls-server-name", ""), "kube.test");
	assert_string_equal(json_opt_str(info, "spec.cluster.config.audience", ""), "etcd-operator-tests");
	const char *ca64 = json_opt_str(info, "spec.cluster.certificate-authority-data", "");
	char *ca;
	size_t ca_len;
	assert_int_equal(eo_b64_decode(ca64, strlen(ca64), &ca, &ca_len, &err), 0);
	assert_file_bytes(ca, ca_len, fx("ca.crt"));
	free(ca);
	json_object_put(info);
	kube_conn_free(c);
	unsetenv("EXEC_TEST_TOKEN");
}

static void test_exec_bare_name_on_path(void **state)
{
	/* "sh" found on PATH, run in our working directory like kubectl's
	 * plugins; of two env entries with one name the later wins */
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fixdir), 0);
	struct kube_conn *c = exec_conn("on-path");
	assert_string_equal(c->exec->command, "sh");
	char *t = token_of(c);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(t, "second");
	free(t);
	kube_conn_free(c);
}

static void *creds_thread(void *arg)
{
	struct kube_creds cr;
	struct eo_err err;
	if (kube_conn_credentials(arg, &cr, &err) != 0)
		return NULL;
	char *t = eo_strdup0(cr.token);
	kube_creds_clear(&cr);
	return t;
}

static void test_exec_concurrent_callers_share_one_run(void **state)
{
	struct kube_conn *c = exec_conn("v1");
	pthread_t th[6];
	for (size_t i = 0; i < EO_ARRAY_LEN(th); i++)
		assert_int_equal(pthread_create(&th[i], NULL, creds_thread, c), 0);
	for (size_t i = 0; i < EO_ARRAY_LEN(th); i++) {
		void *t = NULL;
		pthread_join(th[i], &t);
		assert_non_null(t);
		assert_string_equal(t, "token-v1");
		free(t);
	}
	assert_int_equal(count_lines(tmp("count")), 1);
	kube_conn_free(c);
}

static void test_exec_v1beta1(void **state)
{
	setenv("EO_TEST_EXEC_INFO", tmp("info"), 1);
	struct kube_conn *c = exec_conn("v1beta1");
	assert_string_equal(c->exec->interactive_mode, "IfAvailable"); /* v1beta1's default */
	assert_token(c, "token-v1beta1");
	char *text = slurp(tmp("info"));
	assert_non_null(strstr(text, "\"apiVersion\":\"client.authentication.k8s.io/v1beta1\""));
	assert_null(strstr(text, "\"cluster\"")); /* provideClusterInfo not set */
	free(text);
	kube_conn_free(c);
}

static void test_exec_expiry(void **state)
{
	struct kube_conn *c = exec_conn("expired");
	assert_token(c, "stale");
	assert_token(c, "stale");
	assert_int_equal(count_lines(tmp("count")), 2); /* expired: run again */
	kube_conn_free(c);
	unlink(tmp("count"));
	c = exec_conn("noexpiry");
	assert_token(c, "forever");
	assert_token(c, "forever");
	assert_int_equal(count_lines(tmp("count")), 1); /* kept until a 401 */
	kube_conn_free(c);
}

static void test_exec_client_certificate(void **state)
{
	struct kube_conn *c = exec_conn("cert");
	struct kube_creds cr;
	struct eo_err err;
	assert_int_equal(kube_conn_credentials(c, &cr, &err), 0);
	assert_null(cr.token);
	assert_non_null(cr.cert_pem);
	assert_non_null(strstr(cr.cert_pem, "-----BEGIN CERTIFICATE-----\nZXhlYw==\n"));
	assert_int_equal(cr.cert_len, strlen(cr.cert_pem));
	assert_non_null(strstr(cr.key_pem, "PRIVATE KEY"));
	kube_creds_clear(&cr);
	assert_null(cr.cert_pem);
	kube_conn_free(c);
}

static void test_exec_static_token_wins(void **state)
{
	struct kube_conn *c = exec_conn("static-wins");
	assert_token(c, "static-token");
	assert_int_equal(count_lines(tmp("count")), 0);
	kube_conn_free(c);
}

static void test_exec_failures(void **state)
{
	exec_fails("fail", EO_EINVAL, "exit status 1");
	exec_fails("fail", 0, "exec-plugin.sh"); /* names the command */
	exec_fails("fail", 0, "the plugin is test/fixtures/kubeconfig/exec-plugin.sh"); /* installHint */
	exec_fails("garbage", EO_EPARSE, "printed no ExecCredential JSON");
	exec_fails("nostatus", EO_EPARSE, "without a status");
	exec_fails("halfcert", EO_EPARSE, "client certificate without its key");
	exec_fails("wrongapi", EO_EPARSE, "apiVersion \"client.authentication.k8s.io/v1alpha1\"");
	exec_fails("badtime", EO_EPARSE, "expirationTimestamp \"tomorrow\"");
	exec_fails("missing", EO_EINVAL, "executable not found on PATH");
	exec_fails("missing", 0, "install eo-no-such-credential-plugin from your platform team");
	exec_fails("flood", EO_EINVAL, "printed more than 1048576 bytes");
	if (!isatty(STDIN_FILENO))
		exec_fails("always", EO_EINVAL, "interactiveMode is Always but stdin is not a terminal");
}

static void test_exec_hang_hits_deadline(void **state)
{
	kube_exec_set_timeout_ms(300);
	int64_t t0 = eo_now_ms();
	exec_fails("hang", EO_ETIMEOUT, "no answer within 300 ms");
	/* not a timing assert: only that it did not wait for the plugin's 30 s */
	assert_true(eo_now_ms() - t0 < 20000);
}

static void test_exec_bad_config(void **state)
{
	struct kubeconfig_opts o = {.kubeconfig = tmp("config")};
	const char *head = "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
			   "contexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n"
			   "  user:\n    exec:\n";
	char text[1000];
	snprintf(text, sizeof(text), "%s      apiVersion: client.authentication.k8s.io/v1\n"
		 "      command: /bin/true\n", head);
	write_text(tmp("config"), text);
	load_fails(&o, ":12: user \"u\": exec: interactiveMode is required", NULL);
	snprintf(text, sizeof(text), "%s      apiVersion: client.authentication.k8s.io/v1alpha1\n"
		 "      command: /bin/true\n", head);
	write_text(tmp("config"), text);
	load_fails(&o, "apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported", NULL);
	snprintf(text, sizeof(text), "%s      apiVersion: client.authentication.k8s.io/v1beta1\n"
		 "      command: /bin/true\n      interactiveMode: Sometimes\n", head);
	write_text(tmp("config"), text);
	load_fails(&o, ":14: user \"u\": exec: interactiveMode \"Sometimes\"", NULL);
	snprintf(text, sizeof(text), "%s      apiVersion: client.authentication.k8s.io/v1beta1\n"
		 "      command: /bin/true\n      env: [{name: A}, {value: b}]\n", head);
	write_text(tmp("config"), text);
	load_fails(&o, "exec.env[1]: expected {name, value} strings", NULL);
}

int main(void)
{
	find_fixtures();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_file_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_cert_files_and_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_wins_over_token_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_file_reread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_merge_first_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_list_skips_missing_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_flag_is_one_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_default_and_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_current_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_user_and_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_yaml_cites_file_and_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_v1_cached_until_invalidated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_v1beta1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_bare_name_on_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_concurrent_callers_share_one_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_client_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_static_token_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_hang_hits_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_bad_config, setup, teardown),
	};
	return cmocka_run_group_tests_name("kubeconfig", tests, NULL, NULL);
}
