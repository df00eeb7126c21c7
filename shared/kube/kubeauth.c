/*
 * kubeauth.c — the credentials a resolved connection puts on each request:
 * a static token, a token file re-read every time, or a credential from an
 * exec plugin (client.authentication.k8s.io/v1 or v1beta1), cached until its
 * expirationTimestamp or until a 401 invalidates it.
 *
 * The one idea: a plugin is someone else's program, so it is run as if it
 * were hostile — no shell, stdout read with a size cap, one deadline for the
 * whole run after which its process group is killed — and whatever goes
 * wrong becomes one error naming the command. Its stderr is left connected to
 * ours, as kubectl does, because plugins print their prompts there.
 *
 * The cache sits behind the connection's mutex; holding it while a plugin
 * runs means concurrent requests wait for one run instead of starting many.
 */
#include "kubeconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"

extern char **environ;

#define EXEC_MAX_OUTPUT (1u << 20)
#define EXEC_DEFAULT_TIMEOUT_MS 60000L
#define TOKEN_FILE_MAX (1u << 20)

static atomic_long exec_timeout_ms;

void kube_exec_set_timeout_ms(long ms)
{
	atomic_store(&exec_timeout_ms, ms > 0 ? ms : 0);
}

static long exec_deadline_ms(void)
{
	long ms = atomic_load(&exec_timeout_ms);
	if (ms > 0)
		return ms;
	const char *env = getenv("EO_EXEC_TIMEOUT_MS");
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (*end == '\0' && v > 0)
			return v;
	}
	return EXEC_DEFAULT_TIMEOUT_MS;
}

static void wipe_free(char *s, size_t len)
{
	if (!s)
		return;
	explicit_bzero(s, len ? len : strlen(s));
	free(s);
}

void kube_creds_clear(struct kube_creds *cr)
{
	if (!cr)
		return;
	wipe_free(cr->token, 0);
	wipe_free(cr->cert_pem, cr->cert_len);
	wipe_free(cr->key_pem, cr->key_len);
	memset(cr, 0, sizeof(*cr));
}

static int read_token_file(const char *path, char **out, struct eo_err *err)
{
	char *buf;
	size_t len;
	if (eo_read_file(path, TOKEN_FILE_MAX, &buf, &len, err) != 0) {
		eo_err_prefix(err, "token file: ");
		return -1;
	}
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
		buf[--len] = '\0';
	if (len == 0) {
		free(buf);
		return eo_err_set(err, EO_EINVAL, "token file %s is empty", path);
	}
	*out = buf;
	return 0;
}

/* ---- running a plugin ---------------------------------------------------- */

struct exec_out {
	char *token, *cert, *key;
	size_t cert_len, key_len;
	int64_t expiry_s;
};

static int exec_fail(struct eo_err *err, int code, const struct kube_exec *x, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int exec_fail(struct eo_err *err, int code, const struct kube_exec *x, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (x->install_hint)
		return eo_err_set(err, code, "exec plugin %s: %s; %s", x->command, what, x->install_hint);
	return eo_err_set(err, code, "exec plugin %s: %s", x->command, what);
}

/* Our environment, minus what the kubeconfig sets, plus its env and the
 * exec info. Strings are borrowed except the last (the exec info), which the
 * caller frees with the array. */
static char **build_env(const struct kube_exec *x, const char *info)
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	size_t nx = 0;
	while (x->env && x->env[nx])
		nx++;
	char **env = calloc(n + nx + 2, sizeof(*env));
	if (!env)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int overridden = name_len == strlen("KUBERNETES_EXEC_INFO") &&
				 !strncmp(environ[i], "KUBERNETES_EXEC_INFO", name_len);
		for (size_t j = 0; j < nx && !overridden; j++)
			overridden = !strncmp(x->env[j], environ[i], name_len) && x->env[j][name_len] == '=';
		if (!overridden)
			env[k++] = environ[i];
	}
	/* a name set twice: the later wins, as Go's os/exec dedups (getenv in
	 * the plugin would take the first) */
	for (size_t j = 0; j < nx; j++) {
		size_t name_len = strcspn(x->env[j], "=");
		int later = name_len == strlen("KUBERNETES_EXEC_INFO") &&
			    !strncmp(x->env[j], "KUBERNETES_EXEC_INFO", name_len);
		for (size_t l = j + 1; l < nx && !later; l++)
			later = !strncmp(x->env[l], x->env[j], name_len + 1);
		if (!later)
			env[k++] = x->env[j];
	}
	env[k] = eo_strdupf("KUBERNETES_EXEC_INFO=%s", info);
	return env;
}

static char *exec_info(const struct kube_exec *x, int interactive)
{
	json_object *o = json_object_new_object(), *spec = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string(x->api_version));
	json_object_object_add(o, "kind", json_object_new_string("ExecCredential"));
	json_object_object_add(spec, "interactive", json_object_new_boolean(interactive));
	if (x->cluster_info_json) {
		struct eo_err ignore;
		json_object *cl = json_parse(x->cluster_info_json, strlen(x->cluster_info_json), &ignore);
		if (cl)
			json_object_object_add(spec, "cluster", cl);
	}
	json_object_object_add(o, "spec", spec);
	char *s = eo_strdup0(json_compact(o));
	json_object_put(o);
	return s;
}

/* Run the plugin; its stdout (capped) in *out. Kills it at the deadline. */
static int spawn_and_read(const struct kube_exec *x, int interactive, struct eo_buf *out,
			  int *status, struct eo_err *err)
{
	char *info = exec_info(x, interactive);
	char **env = build_env(x, info);
	size_t nargs = 0;
	while (x->args && x->args[nargs])
		nargs++;
	char **argv = calloc(nargs + 2, sizeof(*argv));
	if (!argv)
		abort();
	argv[0] = x->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = x->args[i];

	int fds[2] = {-1, -1}, rc = -1;
	pid_t pid = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (pipe2(fds, O_CLOEXEC) != 0) {
		exec_fail(err, EO_ESYS, x, "pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* our sockets are not its business */
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (!interactive) {
		/* its own process group, so the deadline kills whatever it started;
		 * an interactive plugin must stay in the terminal's foreground group */
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
		flags |= POSIX_SPAWN_SETPGROUP;
		posix_spawnattr_setpgroup(&attr, 0);
	}
	sigset_t none, deflt;
	sigemptyset(&none);
	sigemptyset(&deflt);
	int sigs[] = {SIGPIPE, SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGCHLD};
	for (size_t i = 0; i < EO_ARRAY_LEN(sigs); i++)
		sigaddset(&deflt, sigs[i]);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setflags(&attr, flags);
	int e = posix_spawnp(&pid, x->command, &fa, &attr, argv, env);
	close(fds[1]);
	fds[1] = -1;
	if (e != 0) {
		pid = -1;
		if (e == ENOENT)
			exec_fail(err, EO_EINVAL, x, "executable not found%s",
				  strchr(x->command, '/') ? "" : " on PATH");
		else
			exec_fail(err, EO_ESYS, x, "cannot run it: %s", strerror(e));
		goto out;
	}

	int64_t deadline = eo_now_ms() + exec_deadline_ms();
	int timed_out = 0, too_big = 0;
	for (;;) {
		int64_t left = deadline - eo_now_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			continue;
		char chunk[8192];
		ssize_t r = read(fds[0], chunk, sizeof(chunk));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		if (eo_buf_append(out, chunk, (size_t)r) != 0) {
			too_big = 1;
			break;
		}
	}
	/* stdout is closed: wait for the exit within what is left */
	int reaped = 0;
	while (!timed_out && !too_big) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid) {
			reaped = 1;
			break;
		}
		if (w < 0 && errno != EINTR) { /* SIGCHLD ignored by our host: status unknown */
			*status = 0;
			reaped = 1;
			break;
		}
		if (eo_now_ms() >= deadline) {
			timed_out = 1;
			break;
		}
		eo_sleep_ms(5);
	}
	if (!reaped) {
		kill(interactive ? pid : -pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
	}
	pid = -1;
	if (timed_out)
		exec_fail(err, EO_ETIMEOUT, x, "no answer within %ld ms; killed it", exec_deadline_ms());
	else if (too_big)
		exec_fail(err, EO_EINVAL, x, "printed more than %u bytes; killed it", EXEC_MAX_OUTPUT);
	else
		rc = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(argv);
	size_t last = 0;
	while (env[last + 1])
		last++;
	free(env[last]); /* the exec info entry, the only one we allocated */
	free(env);
	free(info);
	return rc;
}

/* Read the ExecCredential a plugin printed. */
static int parse_credential(const struct kube_exec *x, const char *text, size_t len,
			    struct exec_out *r, struct eo_err *err)
{
	struct eo_err perr;
	json_object *o = json_parse(text, len, &perr);
	if (!o)
		return exec_fail(err, EO_EPARSE, x, "printed no ExecCredential JSON on stdout (%s)",
				 len ? perr.msg : "empty output");
	int rc = -1;
	const char *kind = json_opt_str(o, "kind", ""), *api = json_opt_str(o, "apiVersion", "");
	json_object *st = json_at(o, "status");
	const char *tok = json_opt_str(o, "status.token", NULL);
	const char *cert = json_opt_str(o, "status.clientCertificateData", NULL);
	const char *key = json_opt_str(o, "status.clientKeyData", NULL);
	const char *exp = json_opt_str(o, "status.expirationTimestamp", NULL);
	if (tok && !*tok)
		tok = NULL;
	if (cert && !*cert)
		cert = NULL;
	if (key && !*key)
		key = NULL;
	if (!json_object_is_type(o, json_type_object) || strcmp(kind, "ExecCredential") != 0) {
		exec_fail(err, EO_EPARSE, x, "printed JSON that is not an ExecCredential (kind \"%s\")", kind);
	} else if (strcmp(api, x->api_version) != 0) {
		exec_fail(err, EO_EPARSE, x, "answered with apiVersion \"%s\", but the kubeconfig asks for %s",
			  api, x->api_version);
	} else if (!json_object_is_type(st, json_type_object)) {
		exec_fail(err, EO_EPARSE, x, "returned an ExecCredential without a status");
	} else if (!cert != !key) {
		exec_fail(err, EO_EPARSE, x, "returned a client %s without its %s", cert ? "certificate" : "key",
			  cert ? "key" : "certificate");
	} else if (!tok && !cert) {
		exec_fail(err, EO_EPARSE, x, "returned neither a token nor a client certificate and key");
	} else if (exp && *exp && eo_rfc3339_parse(exp, &r->expiry_s) != 0) {
		exec_fail(err, EO_EPARSE, x, "status.expirationTimestamp \"%.40s\" is not an RFC 3339 time", exp);
	} else {
		r->token = eo_strdup0(tok);
		if (cert) {
			r->cert = eo_strdup0(cert);
			r->key = eo_strdup0(key);
			r->cert_len = strlen(cert);
			r->key_len = strlen(key);
		}
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

static int run_plugin(const struct kube_exec *x, struct exec_out *r, struct eo_err *err)
{
	int tty = isatty(STDIN_FILENO);
	if (!tty && !strcmp(x->interactive_mode, "Always"))
		return exec_fail(err, EO_EINVAL, x,
				 "interactiveMode is Always but stdin is not a terminal; run it from a "
				 "terminal or set interactiveMode IfAvailable");
	int interactive = tty && strcmp(x->interactive_mode, "Never") != 0;
	struct eo_buf out = {.max = EXEC_MAX_OUTPUT};
	int status = 0;
	memset(r, 0, sizeof(*r));
	if (spawn_and_read(x, interactive, &out, &status, err) != 0) {
		wipe_free(out.data, out.len);
		return -1;
	}
	int rc;
	if (WIFSIGNALED(status))
		rc = exec_fail(err, EO_EINVAL, x, "killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		rc = exec_fail(err, EO_EINVAL, x, "exit status %d (its own message is on stderr above)",
			       WEXITSTATUS(status));
	else
		rc = parse_credential(x, out.data ? out.data : "", out.len, r, err);
	wipe_free(out.data, out.len);
	return rc;
}

/* ---- the public half ----------------------------------------------------- */

/* Static credentials (token, client certificate) win over exec, as in
 * client-go: an exec plugin is run only when nothing else authenticates. */
static int uses_exec(const struct kube_conn *c)
{
	return c->exec && !c->token && !c->token_file && !c->cert_pem;
}

static void drop_cache(struct kube_conn *c)
{
	wipe_free(c->exec_token, 0);
	wipe_free(c->exec_cert_pem, 0);
	wipe_free(c->exec_key_pem, 0);
	c->exec_token = c->exec_cert_pem = c->exec_key_pem = NULL;
	c->exec_expiry_s = 0;
	c->exec_valid = 0;
}

int kube_conn_credentials(struct kube_conn *c, struct kube_creds *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	if (c->token) {
		out->token = eo_strdup0(c->token);
		return 0;
	}
	if (c->token_file)
		return read_token_file(c->token_file, &out->token, err);
	if (!uses_exec(c))
		return 0;
	pthread_mutex_lock(&c->lock);
	if (c->exec_valid && c->exec_expiry_s && eo_wall_ms() / 1000 >= c->exec_expiry_s)
		drop_cache(c);
	if (!c->exec_valid) {
		struct exec_out r;
		if (run_plugin(c->exec, &r, err) != 0) {
			pthread_mutex_unlock(&c->lock);
			return -1;
		}
		c->exec_token = r.token;
		c->exec_cert_pem = r.cert;
		c->exec_key_pem = r.key;
		c->exec_expiry_s = r.expiry_s;
		c->exec_valid = 1;
	}
	out->token = eo_strdup0(c->exec_token);
	if (c->exec_cert_pem) {
		out->cert_pem = eo_strdup0(c->exec_cert_pem);
		out->key_pem = eo_strdup0(c->exec_key_pem);
		out->cert_len = strlen(out->cert_pem);
		out->key_len = strlen(out->key_pem);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int kube_conn_invalidate(struct kube_conn *c)
{
	if (!c)
		return 0;
	if (uses_exec(c)) {
		pthread_mutex_lock(&c->lock);
		drop_cache(c);
		pthread_mutex_unlock(&c->lock);
		return 1;
	}
	return c->token_file != NULL;
}
