/*
 * etcd_proc.c — start, watch, stop and clean up real etcd processes for
 * tests (see etcd_proc.h for the contract).
 *
 * The one idea: the parent keeps a registry of every member it started and
 * each child is in its own process group with a parent-death signal, so a
 * member dies with the test however the test ends — normal exit (atexit
 * cleanup), a failed assertion (the same), or a crash or kill (the kernel's
 * death signal). Everything the child does between fork and exec is
 * async-signal-safe; the command line is built before the fork.
 */
#include "etcd_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd.h"

#define MAX_PROCS 64

static char run_net[24];      /* "127.10.37" */
static char run_dir[256];     /* "/tmp/etcd-proc-XXXXXX" */
static char etcd_bin[256];
static pid_t setup_pid;        /* a forked test child must not clean up the parent's run */
static struct etcd_proc *procs[MAX_PROCS];

static bool port_free(const char *addr, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1; /* as etcd (Go) does: TIME_WAIT leftovers do not count */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void cleanup_at_exit(void)
{
	if (getpid() == setup_pid)
		etcd_proc_cleanup();
}

int etcd_proc_setup(const char *block, struct eo_err *err)
{
	if (run_net[0])
		return 0;
	const char *bin = getenv("ETCD_BIN");
	eo_strlcpy(etcd_bin, bin && *bin ? bin : "/usr/bin/etcd", sizeof(etcd_bin));
	if (access(etcd_bin, X_OK) != 0)
		return eo_err_set(err, EO_EINVAL,
				  "etcd not found at %s (run scripts/install-deps.sh, or set ETCD_BIN)",
				  etcd_bin);
	unsigned a, b;
	if (!block || sscanf(block, "%u.%u", &a, &b) != 2 || a != 127 || b > 255)
		return eo_err_set(err, EO_EINVAL, "etcd_proc: block \"%s\" is not \"127.N\"",
				  block ? block : "(null)");
	for (int attempt = 0; attempt < 32 && !run_net[0]; attempt++) {
		unsigned r = 0;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (unsigned)getpid() * 2654435761u + (unsigned)eo_now_ms();
		char net[24], addr[32];
		snprintf(net, sizeof(net), "%s.%u", block, 1 + r % 250);
		bool free_here = true;
		for (int h = 1; h <= 9 && free_here; h++) {
			snprintf(addr, sizeof(addr), "%s.%d", net, h);
			free_here = port_free(addr, 2379) && port_free(addr, 2380);
		}
		if (free_here)
			eo_strlcpy(run_net, net, sizeof(run_net));
	}
	if (!run_net[0])
		return eo_err_set(err, EO_ESYS, "etcd_proc: no free %s.X network after 32 tries", block);
	const char *tmp = getenv("TMPDIR");
	snprintf(run_dir, sizeof(run_dir), "%s/etcd-proc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(run_dir)) {
		int e = errno;
		run_net[0] = '\0';
		return eo_err_set(err, EO_ESYS, "etcd_proc: mkdtemp %s: %s", run_dir, strerror(e));
	}
	setup_pid = getpid();
	atexit(cleanup_at_exit);
	return 0;
}

const char *etcd_proc_net(void)
{
	return run_net;
}

const char *etcd_proc_dir(void)
{
	return run_dir;
}

void etcd_proc_addr(int host, char out[32])
{
	snprintf(out, 32, "%s.%d", run_net, host);
}

void etcd_proc_client_url(int host, char out[64])
{
	snprintf(out, 64, "http://%s.%d:2379", run_net, host);
}

void etcd_proc_peer_url(int host, char out[64])
{
	snprintf(out, 64, "http://%s.%d:2380", run_net, host);
}

static void argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static char **build_argv(const struct etcd_proc *p, const struct etcd_proc_opts *o)
{
	const char *flags[64];
	char *owned[32];
	size_t nf = 0, no = 0;
#define OWN(...) (owned[no++] = eo_strdupf(__VA_ARGS__))
	for (size_t i = 0; o->exec_prefix && o->exec_prefix[i] && nf < 8; i++)
		flags[nf++] = o->exec_prefix[i];
	flags[nf++] = etcd_bin;
	flags[nf++] = "--name";
	flags[nf++] = p->name;
	flags[nf++] = "--data-dir";
	flags[nf++] = p->data_dir;
	flags[nf++] = "--listen-client-urls";
	flags[nf++] = p->client_url;
	flags[nf++] = "--advertise-client-urls";
	flags[nf++] = o->advertise_client_url ? o->advertise_client_url : p->client_url;
	flags[nf++] = "--listen-peer-urls";
	flags[nf++] = p->peer_url;
	flags[nf++] = "--initial-advertise-peer-urls";
	flags[nf++] = o->advertise_peer_url ? o->advertise_peer_url : p->peer_url;
	flags[nf++] = "--initial-cluster";
	flags[nf++] = o->initial_cluster ? o->initial_cluster
					 : OWN("%s=%s", p->name,
					       o->advertise_peer_url ? o->advertise_peer_url : p->peer_url);
	flags[nf++] = "--initial-cluster-state";
	flags[nf++] = o->existing ? "existing" : "new";
	flags[nf++] = "--initial-cluster-token";
	flags[nf++] = OWN("etcd-proc-%s", run_net);
	if (o->tls) {
		flags[nf++] = "--cert-file";
		flags[nf++] = o->tls->server_cert;
		flags[nf++] = "--key-file";
		flags[nf++] = o->tls->server_key;
		flags[nf++] = "--trusted-ca-file";
		flags[nf++] = o->tls->ca;
		flags[nf++] = "--client-cert-auth";
	}
	if (o->strict_reconfig)
		flags[nf++] = "--strict-reconfig-check";
	if (!o->default_timing) {
		flags[nf++] = "--heartbeat-interval=50";
		flags[nf++] = "--election-timeout=500";
	}
	for (size_t i = 0; o->extra_args && o->extra_args[i] && nf < EO_ARRAY_LEN(flags) - 1; i++)
		flags[nf++] = o->extra_args[i];
#undef OWN
	char **argv = calloc(nf + 1, sizeof(char *));
	if (!argv)
		abort();
	for (size_t i = 0; i < nf; i++)
		argv[i] = eo_strdup0(flags[i]);
	for (size_t i = 0; i < no; i++)
		free(owned[i]);
	return argv;
}

static int spawn(struct etcd_proc *p, struct eo_err *err)
{
	int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return eo_err_set(err, EO_ESYS, "etcd_proc %s: cannot open %s: %s", p->name,
				  p->log_path, strerror(errno));
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* A small environment: ETCD_* variables of the caller would be read
	 * as flags by etcd. */
	static char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return eo_err_set(err, EO_ESYS, "etcd_proc %s: fork: %s", p->name, strerror(e));
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* the parent died before the line above */
			_exit(127);
		if (nullfd >= 0)
			dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (strchr(p->argv[0], '/'))
			execve(p->argv[0], p->argv, env);
		else
			execvpe(p->argv[0], p->argv, env);
		static const char msg[] = "etcd_proc: exec failed\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no race with a kill right after fork */
	close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	p->pid = pid;
	return 0;
}

static void registry_add(struct etcd_proc *p)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (!procs[i]) {
			procs[i] = p;
			return;
		}
}

static void registry_del(struct etcd_proc *p)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i] == p)
			procs[i] = NULL;
}

struct etcd_proc *etcd_proc_start(const struct etcd_proc_opts *o, struct eo_err *err)
{
	if (!run_net[0]) {
		eo_err_set(err, EO_EINVAL, "etcd_proc: call etcd_proc_setup first");
		return NULL;
	}
	if (!o || !o->name || !*o->name || strlen(o->name) >= 64 || strchr(o->name, '/') ||
	    o->host < 1 || o->host > 254) {
		eo_err_set(err, EO_EINVAL, "etcd_proc: need a name (no '/') and a host in 1..254");
		return NULL;
	}
	int used = 0;
	for (int i = 0; i < MAX_PROCS; i++)
		used += procs[i] != NULL;
	if (used == MAX_PROCS) {
		eo_err_set(err, EO_EINVAL, "etcd_proc: more than %d members in one run", MAX_PROCS);
		return NULL;
	}
	struct etcd_proc *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	eo_strlcpy(p->name, o->name, sizeof(p->name));
	p->host = o->host;
	p->last_status = -1;
	etcd_proc_addr(o->host, p->addr);
	etcd_proc_client_url(o->host, p->client_url);
	if (o->tls) {
		p->tls = true;
		p->tls_files = *o->tls;
		snprintf(p->client_url, sizeof(p->client_url), "https://%s:2379", p->addr);
	}
	etcd_proc_peer_url(o->host, p->peer_url);
	snprintf(p->data_dir, sizeof(p->data_dir), "%s/%s.etcd", run_dir, o->name);
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", run_dir, o->name);
	p->argv = build_argv(p, o);
	if (spawn(p, err) != 0) {
		argv_free(p->argv);
		free(p);
		return NULL;
	}
	registry_add(p);
	return p;
}

bool etcd_proc_running(struct etcd_proc *p)
{
	if (!p || p->pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		p->last_status = r == p->pid ? st : -1;
		p->pid = 0;
		return false;
	}
	return true;
}

void etcd_proc_log_tail(const struct etcd_proc *p, char *out, size_t size)
{
	char *text = NULL;
	size_t len = 0;
	if (!size)
		return;
	out[0] = '\0';
	if (eo_read_file(p->log_path, 64u << 20, &text, &len, NULL) != 0)
		return;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	char *line = strrchr(text, '\n');
	eo_strlcpy(out, line ? line + 1 : text, size);
	free(text);
}

static int exited_error(struct etcd_proc *p, const char *when, struct eo_err *err)
{
	char tail[160];
	etcd_proc_log_tail(p, tail, sizeof(tail));
	int st = p->last_status;
	return eo_err_set(err, EO_ESYS, "etcd %s exited (%s %d) %s; log %s: %s", p->name,
			  st >= 0 && WIFSIGNALED(st) ? "signal" : "status",
			  st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), when,
			  p->log_path, tail);
}

int etcd_proc_wait_healthy(struct etcd_proc *p, long timeout_ms, struct eo_err *err)
{
	const char *ep[] = {p->client_url};
	struct etcd_tls tls = {.ca_file = p->tls_files.ca, .cert_file = p->tls_files.client_cert,
			       .key_file = p->tls_files.client_key};
	struct etcd_client *c = etcd_client_new(ep, 1, p->tls ? &tls : NULL, 1000, err);
	if (!c)
		return -1;
	int64_t deadline = eo_now_ms() + timeout_ms;
	struct eo_err last = {0};
	int rc = -1;
	for (;;) {
		if (!etcd_proc_running(p)) {
			exited_error(p, "before it became healthy", err);
			break;
		}
		if (etcd_health(c, p->client_url, &last) == 0) {
			rc = 0;
			break;
		}
		if (eo_now_ms() >= deadline) {
			char tail[100];
			etcd_proc_log_tail(p, tail, sizeof(tail));
			eo_err_set(err, EO_ETIMEOUT, "etcd %s not healthy within %ld ms (%.80s); log: %s",
				   p->name, timeout_ms, last.msg, tail);
			break;
		}
		eo_sleep_ms(50);
	}
	etcd_client_free(c);
	return rc;
}

int etcd_proc_wait_exit(struct etcd_proc *p, long timeout_ms)
{
	int64_t deadline = eo_now_ms() + timeout_ms;
	while (etcd_proc_running(p)) {
		if (eo_now_ms() >= deadline)
			return -1;
		eo_sleep_ms(20);
	}
	return 0;
}

int etcd_proc_stop(struct etcd_proc *p, long grace_ms)
{
	if (!etcd_proc_running(p))
		return 0;
	kill(-p->pid, SIGTERM);
	if (etcd_proc_wait_exit(p, grace_ms > 0 ? grace_ms : 5000) == 0)
		return 0;
	etcd_proc_kill(p);
	return 0;
}

void etcd_proc_kill(struct etcd_proc *p)
{
	if (!p || p->pid <= 0)
		return;
	kill(-p->pid, SIGKILL);
	int st = -1;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->last_status = st;
	p->pid = 0;
}

int etcd_proc_restart(struct etcd_proc *p, struct eo_err *err)
{
	if (etcd_proc_running(p))
		return eo_err_set(err, EO_EINVAL, "etcd %s is still running (pid %d); stop it first",
				  p->name, (int)p->pid);
	return spawn(p, err);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int etcd_proc_wipe(struct etcd_proc *p, struct eo_err *err)
{
	if (etcd_proc_running(p))
		return eo_err_set(err, EO_EINVAL, "etcd %s is running; stop it before wiping its data",
				  p->name);
	if (rm_tree(p->data_dir) != 0)
		return eo_err_set(err, EO_ESYS, "cannot remove %s: %s", p->data_dir, strerror(errno));
	return 0;
}

void etcd_proc_free(struct etcd_proc *p)
{
	if (!p)
		return;
	etcd_proc_kill(p);
	registry_del(p);
	argv_free(p->argv);
	free(p);
}

void etcd_proc_cleanup(void)
{
	for (int i = 0; i < MAX_PROCS; i++) /* kill all first, then wait: faster */
		if (procs[i] && procs[i]->pid > 0)
			kill(-procs[i]->pid, SIGKILL);
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i])
			etcd_proc_free(procs[i]);
	const char *keep = getenv("ETCD_PROC_KEEP");
	if (run_dir[0] && !(keep && strcmp(keep, "1") == 0))
		rm_tree(run_dir);
}

int etcd_proc_blackhole(int host, char url[64], struct eo_err *err)
{
	char addr[32];
	etcd_proc_addr(host, addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return eo_err_set(err, EO_ESYS, "blackhole: socket: %s", strerror(errno));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		int e = errno;
		close(fd);
		return eo_err_set(err, EO_ESYS, "blackhole on %s: %s", addr, strerror(e));
	}
	snprintf(url, 64, "http://%s:%d", addr, ntohs(sa.sin_port));
	return fd;
}

int etcd_proc_make_tls(int host, struct etcd_proc_tls *out, struct eo_err *err)
{
	char addr[32], d[400];
	if (!run_dir[0])
		return eo_err_set(err, EO_EINVAL, "etcd_proc: call etcd_proc_setup first");
	etcd_proc_addr(host, addr);
	snprintf(d, sizeof(d), "%s/tls-%d", run_dir, host);
	if (mkdir(d, 0700) != 0 && errno != EEXIST)
		return eo_err_set(err, EO_ESYS, "mkdir %s: %s", d, strerror(errno));
	snprintf(out->ca, sizeof(out->ca), "%s/ca.crt", d);
	snprintf(out->server_cert, sizeof(out->server_cert), "%s/server.crt", d);
	snprintf(out->server_key, sizeof(out->server_key), "%s/server.key", d);
	snprintf(out->client_cert, sizeof(out->client_cert), "%s/client.crt", d);
	snprintf(out->client_key, sizeof(out->client_key), "%s/client.key", d);
	/* P-256 keys (quick to make); Go checks the extended key usages. */
	char *script = eo_strdupf(
		"set -e\ncd '%s'\n"
		"K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
		"openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=etcd-proc-ca\n"
		"openssl req $K -keyout server.key -out server.csr -subj /CN=etcd-server\n"
		"printf 'subjectAltName=IP:%s\\nextendedKeyUsage=serverAuth,clientAuth\\n' >server.ext\n"
		"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
		" -extfile server.ext -out server.crt\n"
		"openssl req $K -keyout client.key -out client.csr -subj /CN=etcd-client\n"
		"printf 'extendedKeyUsage=clientAuth\\n' >client.ext\n"
		"openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2"
		" -extfile client.ext -out client.crt\n",
		d, addr);
	char path[460];
	snprintf(path, sizeof(path), "%s/make.sh", d);
	int rc = eo_write_file(path, script, strlen(script), 0600, err);
	free(script);
	if (rc != 0)
		return -1;
	char *cmd = eo_strdupf("sh '%s' >'%s/make.log' 2>&1", path, d);
	rc = system(cmd);
	free(cmd);
	if (rc != 0)
		return eo_err_set(err, EO_ESYS, "openssl could not make test certificates (see %s/make.log)", d);
	return 0;
}

int etcd_proc_synhole(int host, char url[64], int fds[2], struct eo_err *err)
{
	/* Backlog 0 holds one established connection; Linux drops SYNs to a
	 * listener whose accept queue is full. */
	int lfd = etcd_proc_blackhole(host, url, err);
	if (lfd < 0)
		return -1;
	if (listen(lfd, 0) != 0) {
		close(lfd);
		return eo_err_set(err, EO_ESYS, "synhole: listen: %s", strerror(errno));
	}
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		if (cfd >= 0)
			close(cfd);
		close(lfd);
		return eo_err_set(err, EO_ESYS, "synhole: connect: %s", strerror(e));
	}
	fds[0] = lfd;
	fds[1] = cfd;
	return 0;
}
