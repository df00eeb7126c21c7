/*
 * etcd-webhook — the admission webhook for EtcdCluster (DESIGN §5, §8).
 *
 * main() only reads flags, starts the server (webhook/server.c) and waits
 * for SIGTERM or SIGINT, which every thread has blocked so that the main
 * thread alone receives them through sigwait: then the server stops
 * gracefully and the process exits 0. SIGHUP, caught the same way, means
 * "look at the certificate files now" (what the ticker does every
 * --cert-check-interval); it never stops the server, whose default action
 * would be to die mid-request.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eo_version.h"
#include "log.h"
#include "server.h"

struct opts {
	const char *cert, *key, *bind, *log_level;
	int64_t port, threads, max_body, interval_ms, timeout_s, max_conn, max_conn_ip;
	bool version;
};

static size_t webhook_flags(struct opts *o, struct cli_flag *out)
{
	const struct cli_flag all[] = {
		CLI_FLAG("tls-cert-file", 0, CLI_STR, &o->cert, "FILE", "PEM certificate (chain: leaf first); reloaded when it changes"),
		CLI_FLAG("tls-private-key-file", 0, CLI_STR, &o->key, "FILE", "PEM private key matching it"),
		CLI_RANGE("secure-port", CLI_INT, &o->port, 0, 65535, "N", "HTTPS port (default 9443)"),
		CLI_FLAG("bind-address", 0, CLI_STR, &o->bind, "IP", "address to listen on (default 0.0.0.0; :: for IPv6)"),
		CLI_RANGE("threads", CLI_INT, &o->threads, 0, 256, "N", "worker threads (default: the CPUs this process may use)"),
		CLI_RANGE("max-body-bytes", CLI_INT, &o->max_body, 0, 1L << 30, "N", "largest request body accepted (default 3 MiB)"),
		CLI_RANGE("cert-check-interval", CLI_INT, &o->interval_ms, 0, 3600000, "MS", "how often the certificate files are looked at (default 1000)"),
		CLI_RANGE("connection-timeout", CLI_INT, &o->timeout_s, 1, 3600, "S", "close a connection silent this long: no TLS hello, no request, or idle (default 30)"),
		CLI_RANGE("max-connections", CLI_INT, &o->max_conn, 1, 65536, "N", "connections open at once, all clients (default 4096)"),
		CLI_RANGE("max-connections-per-ip", CLI_INT, &o->max_conn_ip, 1, 65536, "N", "connections open at once from one address (default 256)"),
		CLI_FLAG("log-level", 0, CLI_STR, &o->log_level, "L", "debug, info, warn or error (default info)"),
		CLI_FLAG("version", 0, CLI_BOOL, &o->version, NULL, "print the version and exit"),
	};
	memcpy(out, all, sizeof(all));
	return EO_ARRAY_LEN(all);
}

static void usage(FILE *out, const struct cli_flag *flags, size_t n)
{
	fputs("Usage: etcd-webhook --tls-cert-file FILE --tls-private-key-file FILE [flags]\n"
	      "\n"
	      "Admission webhook for EtcdCluster (etcd.k8s-operator.io/v1alpha1): stages\n"
	      "jumps of more than one member, refuses changes that could cost quorum.\n"
	      "\n",
	      out);
	cli_flags_help(out, flags, n);
	fputs("\n"
	      "Endpoints: POST /mutate, POST /validate (AdmissionReview admission.k8s.io/v1),\n"
	      "GET /healthz, /readyz, /metrics (Prometheus text), all on the HTTPS port.\n"
	      "TLS 1.3, and 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only.\n"
	      "SIGTERM: finish requests in flight, exit 0. SIGHUP: reload the certificate\n"
	      "files now (nothing else; the server keeps serving).\n",
	      out);
}

int main(int argc, char **argv)
{
	struct opts o = {.port = 9443, .bind = "0.0.0.0", .log_level = "info"};
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = webhook_flags(&o, flags);
	struct cli_parsed p;
	struct eo_err perr = {0};
	if (cli_parse(argc - 1, argv + 1, flags, n, &p, &perr) != 0) {
		fprintf(stderr, "etcd-webhook: %s (see --help)\n", perr.msg);
		return 2;
	}
	if (p.help) {
		usage(stdout, flags, n);
		return 0;
	}
	if (o.version) {
		printf("etcd-webhook %s\n", EO_VERSION);
		return 0;
	}
	if (p.npos > 0) {
		fprintf(stderr, "etcd-webhook: unexpected argument %s (see --help)\n", p.pos[0]);
		return 2;
	}
	if (!o.cert || !o.key) {
		fprintf(stderr, "etcd-webhook: --tls-cert-file and --tls-private-key-file are "
				"required (see --help)\n");
		return 2;
	}
	int level = log_level_parse(o.log_level);
	if (level < 0) {
		fprintf(stderr, "etcd-webhook: --log-level %s: expected debug, info, warn or error\n",
			o.log_level);
		return 2;
	}
	struct whsrv_config cfg = {.cert_file = o.cert, .key_file = o.key, .bind_address = o.bind,
				   .port = (uint16_t)o.port, .threads = (unsigned)o.threads,
				   .max_body = (size_t)o.max_body, .reload_interval_ms = (int)o.interval_ms,
				   .connection_timeout_s = (unsigned)o.timeout_s,
				   .max_connections = (unsigned)o.max_conn,
				   .max_connections_per_ip = (unsigned)o.max_conn_ip};
	log_init("webhook", (enum eo_log_level)level);

	/* Signals go to this thread only: block them before any thread starts. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct eo_err err = {0};
	struct whsrv *s = whsrv_start(&cfg, &err);
	if (!s) {
		char q[300];
		log_error("cannot start", "error=%s", log_q(q, sizeof(q), err.msg));
		return 1;
	}
	int sig = 0;
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
		int rc = whsrv_check_certs(s);
		log_info("SIGHUP: certificate files checked", "result=%s",
			 rc > 0 ? "reloaded" : rc == 0 ? "unchanged" : "failed");
	}
	log_info("stopping", "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	int left = whsrv_stop(s);
	log_info("stopped", "unfinished=%d", left);
	return 0;
}
