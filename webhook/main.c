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
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "eo_version.h"


static void usage(FILE *out)
{
	fprintf(out,
		"Usage: etcd-webhook --tls-cert-file FILE --tls-private-key-file FILE [flags]\n"
		"\n"
		"Admission webhook for EtcdCluster (etcd.k8s-operator.io/v1alpha1): stages\n"
		"jumps of more than one member, refuses changes that could cost quorum.\n"
		"\n"
		"  --tls-cert-file FILE         PEM certificate (chain: leaf first); reloaded when it changes\n"
		"  --tls-private-key-file FILE  PEM private key matching it\n"
		"  --secure-port N              HTTPS port (default 9443)\n"
		"  --bind-address IP            address to listen on (default 0.0.0.0; :: for IPv6)\n"
		"  --threads N                  worker threads (default: the CPUs this process may use)\n"
		"  --max-body-bytes N           largest request body accepted (default %u)\n"
		"  --cert-check-interval MS     how often the certificate files are looked at (default 1000)\n"
		"  --connection-timeout S       close a connection silent this long: no TLS hello, no\n"
		"                               request, or idle between requests (default 30)\n"
		"  --max-connections N          connections open at once, all clients (default %u)\n"
		"  --max-connections-per-ip N   connections open at once from one address (default %u)\n"
		"  --log-level L                debug, info, warn or error (default info)\n"
		"  --version, --help\n"
		"\n"
		"Endpoints: POST /mutate, POST /validate (AdmissionReview admission.k8s.io/v1),\n"
		"GET /healthz, /readyz, /metrics (Prometheus text), all on the HTTPS port.\n"
		"TLS 1.3, and 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only.\n"
		"SIGTERM: finish requests in flight, exit 0. SIGHUP: reload the certificate\n"
		"files now (nothing else; the server keeps serving).\n",
		WHSRV_MAX_BODY, WHSRV_MAX_CONNECTIONS, WHSRV_MAX_CONNECTIONS_PER_IP);
}

static int parse_uint(const char *flag, const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *end || errno || n > max || v[0] == '-') {
		fprintf(stderr, "etcd-webhook: %s %s: expected a whole number up to %lu\n", flag, v,
			max);
		return -1;
	}
	*out = n;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_CERT = 1, O_KEY, O_PORT, O_BIND, O_THREADS, O_MAXBODY, O_INTERVAL, O_LOG, O_VERSION, O_HELP,
	       O_TIMEOUT, O_MAXCONN, O_MAXCONN_IP };
	static const struct option opts[] = {
		{"tls-cert-file", required_argument, NULL, O_CERT},
		{"tls-private-key-file", required_argument, NULL, O_KEY},
		{"secure-port", required_argument, NULL, O_PORT},
		{"bind-address", required_argument, NULL, O_BIND},
		{"threads", required_argument, NULL, O_THREADS},
		{"max-body-bytes", required_argument, NULL, O_MAXBODY},
		{"cert-check-interval", required_argument, NULL, O_INTERVAL},
		{"connection-timeout", required_argument, NULL, O_TIMEOUT},
		{"max-connections", required_argument, NULL, O_MAXCONN},
		{"max-connections-per-ip", required_argument, NULL, O_MAXCONN_IP},
		{"log-level", required_argument, NULL, O_LOG},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	struct whsrv_config cfg = {.port = 9443, .bind_address = "0.0.0.0"};
	int level = EO_LOG_INFO;
	unsigned long n;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_CERT: cfg.cert_file = optarg; break;
		case O_KEY: cfg.key_file = optarg; break;
		case O_BIND: cfg.bind_address = optarg; break;
		case O_PORT:
			if (parse_uint("--secure-port", optarg, 65535, &n) != 0)
				return 2;
			cfg.port = (uint16_t)n;
			break;
		case O_THREADS:
			if (parse_uint("--threads", optarg, 256, &n) != 0)
				return 2;
			cfg.threads = (unsigned)n;
			break;
		case O_MAXBODY:
			if (parse_uint("--max-body-bytes", optarg, 1ul << 30, &n) != 0)
				return 2;
			cfg.max_body = n;
			break;
		case O_INTERVAL:
			if (parse_uint("--cert-check-interval", optarg, 3600000, &n) != 0)
				return 2;
			cfg.reload_interval_ms = (int)n;
			break;
		case O_TIMEOUT:
			if (parse_uint("--connection-timeout", optarg, 3600, &n) != 0 || n == 0) {
				if (n == 0)
					fprintf(stderr, "etcd-webhook: --connection-timeout 0: a silent "
							"connection must be closed some time (1..3600)\n");
				return 2;
			}
			cfg.connection_timeout_s = (unsigned)n;
			break;
		case O_MAXCONN:
		case O_MAXCONN_IP:
			if (parse_uint(c == O_MAXCONN ? "--max-connections" : "--max-connections-per-ip",
				       optarg, 65536, &n) != 0)
				return 2;
			if (n == 0) {
				fprintf(stderr, "etcd-webhook: %s 0: at least 1\n",
					c == O_MAXCONN ? "--max-connections" : "--max-connections-per-ip");
				return 2;
			}
			if (c == O_MAXCONN)
				cfg.max_connections = (unsigned)n;
			else
				cfg.max_connections_per_ip = (unsigned)n;
			break;
		case O_LOG:
			if ((level = log_level_parse(optarg)) < 0) {
				fprintf(stderr, "etcd-webhook: --log-level %s: expected debug, info, "
						"warn or error\n", optarg);
				return 2;
			}
			break;
		case O_VERSION: printf("etcd-webhook %s\n", EO_VERSION); return 0;
		case 'h':
		case O_HELP: usage(stdout); return 0;
		default:
			fprintf(stderr, "etcd-webhook: unknown flag or missing value: %s (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "etcd-webhook: unexpected argument %s (see --help)\n", argv[optind]);
		return 2;
	}
	if (!cfg.cert_file || !cfg.key_file) {
		fprintf(stderr, "etcd-webhook: --tls-cert-file and --tls-private-key-file are "
				"required (see --help)\n");
		return 2;
	}
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
