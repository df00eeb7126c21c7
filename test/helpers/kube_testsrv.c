/*
 * kube_testsrv.c — start, control and stop kube_server.py for C tests.
 *
 * The one idea: the server's lifetime is tied to the test process three ways
 * (stdin pipe, parent-death signal, atexit), so no failure path of a test —
 * an assertion longjmp, a sanitizer abort, a crash — leaves it running.
 */
#include "kube_testsrv.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#define MAX_LIVE 4
static struct kube_testsrv *live[MAX_LIVE];

static void kill_server(struct kube_testsrv *s)
{
	if (s->pid <= 0)
		return;
	if (s->in_fd >= 0)
		close(s->in_fd);
	s->in_fd = -1;
	for (int i = 0; i < 40; i++) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			return;
		}
		usleep(50 * 1000);
	}
	kill(-s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = -1;
}

static void kill_all(void)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i])
			kill_server(live[i]);
}

/* Fork the server; read "READY <port>" within 20 s. */
static int spawn(struct kube_testsrv *s, struct eo_err *err)
{
	char script[512];
	const char *src = __FILE__, *slash = strrchr(src, '/');
	snprintf(script, sizeof(script), "%.*s/kube_server.py", slash ? (int)(slash - src) : 1,
		 slash ? src : ".");
	if (access(script, R_OK) != 0)
		return eo_err_set(err, EO_EINVAL, "cannot find %s (run tests from the repository root)",
				  script);
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC))
		return eo_err_set(err, EO_ESYS, "pipe: %m");
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]), close(in[1]);
		return eo_err_set(err, EO_ESYS, "pipe: %m");
	}
	pid_t pid = fork();
	if (pid < 0)
		return eo_err_set(err, EO_ESYS, "fork: %m");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execlp("python3", "python3", script, "--addr", s->addr, "--cert", s->tls.server_cert,
		       "--key", s->tls.server_key, "--client-ca", s->tls.ca_cert, "--token",
		       KUBE_TESTSRV_TOKEN, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	close(in[0]);
	close(out[1]);
	s->in_fd = in[1];
	char line[128] = "";
	size_t n = 0;
	int64_t until = eo_now_ms() + 20000;
	while (!strchr(line, '\n') && n < sizeof(line) - 1) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		int left = (int)(until - eo_now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t r = read(out[0], line + n, sizeof(line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	close(out[0]);
	if (sscanf(line, "READY %d", &s->port) != 1) {
		kill_server(s);
		return eo_err_set(err, EO_ESYS, "%s did not start (said \"%.60s\")", script, line);
	}
	snprintf(s->url, sizeof(s->url), "https://%s:%d", s->addr, s->port);
	return 0;
}

int kube_testsrv_start(struct kube_testsrv *s, struct eo_err *err)
{
	static int registered;
	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->in_fd = -1;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)s;
	snprintf(s->addr, sizeof(s->addr), "127.11.%d.%d", rand_r(&seed) % 256,
		 1 + rand_r(&seed) % 254);
	const char *dns[] = {"kube.test.internal", "localhost", NULL};
	const char *ips[] = {s->addr, NULL};
	struct tls_fixture_opts o = {.dns = dns, .ips = ips, .client_cn = "alice",
				     .client_org = "system:masters"};
	if (tls_fixture_make(&o, &s->tls, err) != 0)
		return -1;
	if (spawn(s, err) != 0) {
		tls_fixture_remove(&s->tls);
		return -1;
	}
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = s;
			break;
		}
	if (!registered++)
		atexit(kill_all);
	struct kube_client_opts co = {.timeout_ms = 10000};
	s->ctl = kube_client_new(kube_testsrv_conn(s, NULL), &co, err);
	if (!s->ctl) {
		kube_testsrv_stop(s);
		return -1;
	}
	return 0;
}

void kube_testsrv_stop(struct kube_testsrv *s)
{
	kube_client_free(s->ctl);
	s->ctl = NULL;
	kill_server(s);
	tls_fixture_remove(&s->tls);
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == s)
			live[i] = NULL;
}

struct kube_conn *kube_testsrv_conn(const struct kube_testsrv *s, const char *token)
{
	struct kube_conn *c = calloc(1, sizeof(*c));
	struct eo_err err;
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->server = eo_strdup0(s->url);
	if (eo_read_file(s->tls.ca_cert, 1 << 20, &c->ca_pem, &c->ca_len, &err) != 0)
		c->ca_pem = NULL; /* then the system store: requests fail verification, visibly */
	c->token = eo_strdup0(token);
	c->namespace = eo_strdup0("default");
	c->context_name = eo_strdup0("test");
	c->origin = eo_strdup0("kubeconfig test");
	return c;
}

int kube_testsrv_ctl(struct kube_testsrv *s, const char *path, const char *json,
		     struct eo_err *err)
{
	return kube_request(s->ctl, "POST", path, "application/json", json ? json : "{}", NULL, err);
}

json_object *kube_testsrv_requests(struct kube_testsrv *s, const char *method, const char *path)
{
	json_object *all = NULL;
	struct eo_err err;
	if (kube_request(s->ctl, "GET", "/_test/log", NULL, NULL, &all, &err) != 0)
		return NULL;
	json_object *out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *r = json_object_array_get_idx(all, i);
		if ((!method || !strcmp(json_opt_str(r, "method", ""), method)) &&
		    (!path || !strcmp(json_opt_str(r, "path", ""), path)))
			json_object_array_add(out, json_object_get(r));
	}
	json_object_put(all);
	return out;
}
