/*
 * common.c — what every command of kubectl-etcd does the same way: connect
 * as kubectl would, decide on colour, catch Ctrl-C, and say what went wrong.
 *
 * The one idea: the plugin should feel like a kubectl command, so it takes
 * its connection from the shared kubeconfig resolver (the same rules as
 * kubectl, the same flags) and speaks kubectl's error words ("Error from
 * server", "not found in namespace"), with admission warnings printed the way
 * kubectl prints them ("Warning: …" on stderr) as they arrive. Every error
 * and warning is made safe for the terminal here (term.h), once for all the
 * commands: their text is often a server's.
 */
#include "plugin.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "term.h"
#include "version.h"

volatile sig_atomic_t pl_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	pl_interrupted = 1;
}

void pl_catch_interrupts(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a prompt's read() returns on Ctrl-C */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void pl_setup_logging(const struct pl_global *g)
{
	/* kubectl's -v: 0-1 quiet, 2-3 warnings, 4-5 info, 6+ debug (requests). */
	enum eo_log_level lvl = EO_LOG_ERROR;
	if (g->verbosity >= 6)
		lvl = EO_LOG_DEBUG;
	else if (g->verbosity >= 4)
		lvl = EO_LOG_INFO;
	else if (g->verbosity >= 2)
		lvl = EO_LOG_WARN;
	log_init("kubectl-etcd", lvl);
}

/* text (a server's) on f, made safe, between prefix and a newline. */
static void print_safe_line(FILE *f, const char *prefix, const char *text)
{
	struct eo_buf b = {0};
	if (eo_buf_printf(&b, "%s", prefix) != 0 || term_safe_append(&b, text, 0) != 0 ||
	    eo_buf_append(&b, "\n", 1) != 0) {
		eo_buf_free(&b);
		fprintf(f, "%s(unprintable: out of memory)\n", prefix);
		return;
	}
	fwrite(b.data, 1, b.len, f);
	eo_buf_free(&b);
}

static void print_warning(const char *text, void *ud)
{
	(void)ud;
	print_safe_line(stderr, "Warning: ", text);
	fflush(stderr);
}

#if defined(__x86_64__)
#define PL_ARCH "amd64"
#elif defined(__aarch64__)
#define PL_ARCH "arm64"
#else
#define PL_ARCH "unknown"
#endif

int pl_connect(const struct pl_global *g, struct kube_client **out, struct eo_err *err)
{
	struct kubeconfig_opts ko = {
		.kubeconfig = g->kubeconfig,
		.context = g->context,
		.cluster = g->cluster,
		.user = g->user,
		.namespace = g->namespace,
		.token = g->token,
		.server = g->server,
		.insecure_skip_tls_verify = g->insecure ? 1 : 0,
	};
	struct kube_conn *conn = NULL;
	if (kubeconfig_load(&ko, &conn, err) != 0)
		return -1;
	/* kubectl's 0 means "no limit"; every call here keeps a deadline, so 0
	 * and unset both take the client's default (30 s). */
	struct kube_client_opts co = {
		.timeout_ms = g->request_timeout_ms > 0 ? g->request_timeout_ms : 0,
		.user_agent = "kubectl-etcd/" PL_VERSION " (linux/" PL_ARCH ")",
		.on_warning = print_warning,
	};
	char ctx[160];
	log_info("connecting", "server=%s context=%s namespace=%s", conn->server,
		 log_q(ctx, sizeof(ctx), conn->context_name ? conn->context_name : ""),
		 conn->namespace);
	*out = kube_client_new(conn, &co, err);
	return *out ? 0 : -1;
}

void pl_log_call(const char *verb, const char *what, int64_t t0_ms, int rc,
		 const struct eo_err *err)
{
	char msg[300];
	if (rc == 0)
		log_debug("request", "verb=%s what=%s ms=%lld", verb, what,
			  (long long)(eo_now_ms() - t0_ms));
	else
		log_debug("request failed", "verb=%s what=%s ms=%lld code=%d error=%s", verb, what,
			  (long long)(eo_now_ms() - t0_ms), err ? err->code : 0,
			  log_q(msg, sizeof(msg), err ? err->msg : ""));
}

const char *pl_namespace(struct kube_client *kc)
{
	const char *ns = kube_client_namespace(kc);
	return ns && *ns ? ns : "default";
}

bool pl_color(const struct pl_global *g, FILE *f)
{
	if (g && g->no_color)
		return false;
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return false;
	const char *term = getenv("TERM");
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return isatty(fileno(f)) == 1;
}

/* kubectl's shape for an error: "Error: " and the message on one line. The
 * whole message is made safe: the formats here hold no control characters,
 * and the values in them (err.msg above all) are often a server's words. */
static void print_error(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void print_error(const char *fmt, va_list ap)
{
	char msg[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	print_safe_line(stderr, "Error: ", msg);
}

int pl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	print_error(fmt, ap);
	va_end(ap);
	return PL_EXIT_FAIL;
}

void pl_warn(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_safe_line(stderr, "Warning: ", msg);
}

int pl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	print_error(fmt, ap);
	va_end(ap);
	if (cmd && *cmd)
		fprintf(stderr, "See 'kubectl etcd %s --help' for usage.\n", cmd);
	else
		fprintf(stderr, "See 'kubectl etcd --help' for usage.\n");
	return PL_EXIT_USAGE;
}

int pl_parse_global_only(const char *cmd, int argc, char **argv, struct cli_parsed *p)
{
	struct pl_global g;
	pl_global_init(&g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = pl_global_flags(&g, flags, CLI_MAX_FLAGS);
	struct eo_err err;
	if (cli_parse(argc, argv, flags, n, p, &err) != 0)
		return pl_usage_error(cmd, "%s", err.msg);
	if (p->help) {
		pl_help(stdout, cmd);
		return PL_EXIT_OK;
	}
	return -1;
}

int pl_api_fail(const struct eo_err *err, const char *name, const char *ns)
{
	if (err->code == EO_HTTP_NOT_FOUND && name && strstr(err->msg, "not found") &&
	    !strstr(err->msg, "could not find the requested resource"))
		return pl_fail("etcdcluster \"%s\" not found in namespace \"%s\"", name, ns);
	if (err->code == EO_HTTP_NOT_FOUND)
		return pl_fail("the EtcdCluster API (%s) is not served by this cluster (%s): "
			       "install the CRD first (kubectl apply -k manifests/crd)",
			       "etcdclusters.etcd.k8s-operator.io", err->msg);
	if (err->code >= 400) {
		print_safe_line(stderr, "Error from server: ", err->msg);
		/* The API server could not reach the admission webhook: with
		 * failurePolicy Fail every change waits for it. Say where to look. */
		if (strstr(err->msg, "failed calling webhook") && strstr(err->msg, "etcd.k8s-operator.io"))
			fprintf(stderr, "hint: the operator's admission webhook is not answering, so no "
				"EtcdCluster can change until it does. Check it with:\n"
				"  kubectl -n " PL_OPERATOR_NS " get pods -l app.kubernetes.io/name=etcd-webhook\n"
				"  kubectl -n " PL_OPERATOR_NS " logs deployment/etcd-webhook\n"
				"(docs/install.md, \"When the webhook is down\")\n");
		return PL_EXIT_FAIL;
	}
	return pl_fail("%s", err->msg);
}

/* One line from stdin: 1 yes, 0 no (or end of input), -1 interrupted. */
static int ask(void)
{
	fputs("Proceed? [y/N] ", stderr);
	fflush(stderr);
	char line[64];
	size_t len = 0;
	for (;;) {
		char ch;
		ssize_t k = read(STDIN_FILENO, &ch, 1);
		if (k < 0 && errno == EINTR && !pl_interrupted)
			continue;
		if (k <= 0 || pl_interrupted)
			return pl_interrupted ? -1 : 0;
		if (ch == '\n')
			break;
		if (len + 1 < sizeof(line))
			line[len++] = ch;
	}
	line[len] = '\0';
	char *s = line;
	while (isspace((unsigned char)*s))
		s++;
	return strcasecmp(s, "y") == 0 || strcasecmp(s, "yes") == 0;
}

int pl_confirm_write(bool yes, const char *doing, const char *hint)
{
	if (!yes) {
		if (isatty(STDIN_FILENO) != 1)
			return pl_fail("not %s without confirmation: stdin is not a terminal, so nobody "
				       "can answer the prompt. Nothing was written. Re-run with --yes to "
				       "proceed%s", doing, hint);
		int got = ask();
		if (got <= 0) {
			fprintf(stderr, "\n%s: nothing was written.\n",
				got < 0 ? "Interrupted" : "Not confirmed");
			return got < 0 ? PL_EXIT_INTERRUPTED : PL_EXIT_FAIL;
		}
	}
	if (pl_interrupted) {
		fprintf(stderr, "Interrupted: nothing was written.\n");
		return PL_EXIT_INTERRUPTED;
	}
	return PL_EXIT_OK;
}
