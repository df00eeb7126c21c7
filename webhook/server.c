/*
 * server.c — libmicrohttpd serving the admission endpoints over TLS.
 *
 * The one idea: libmicrohttpd calls the handler once for the headers, once
 * per body chunk, and once at the end; each request carries a small state
 * from the first call to the completion notice. Everything that can be
 * decided from the headers (route, method, announced length) is answered at
 * the first call, before a byte of body is read; the body is capped as it
 * arrives; the review itself (webhook/review.c) runs at the last call. The
 * completion notice ends the in-flight count that a graceful stop waits on.
 *
 * TLS: GnuTLS with an explicit priority string (TLS 1.3, and 1.2 with ECDHE
 * and AEAD ciphers only) and the certificate handed out per handshake by
 * tlsstore.c, which a ticker thread here keeps in step with the files on disk.
 *
 * Holding connections: every connection is in libmicrohttpd's epoll set from
 * its accept on, so the idle timeout closes one that never says a word, and a
 * peer's hang-up is seen at once (no socket left in CLOSE-WAIT). One address
 * gets at most max_connections_per_ip of the max_connections. Stopping never
 * touches the listen socket while the workers run (see whsrv_stop).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "metrics.h"
#include "review.h"
#include "tlsstore.h"

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

struct whsrv {
	struct MHD_Daemon *daemon;
	struct wh_tls *tls;
	size_t max_body;
	int reload_ms, drain_ms;
	uint16_t port;
	_Atomic bool stopping; /* /readyz 503, new connections closed at once */
	pthread_t ticker;
	bool ticker_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ticker_stop; /* under mu */
};

/* One request, from its headers to the completion notice. */
struct req {
	int64_t start_ns;
	enum wh_endpoint ep;
	struct eo_buf body;
	bool answered;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPUs this process may use: its affinity mask, and in a container
 * with a CPU limit (cgroup v2 cpu.max "quota period"), no more threads than
 * the quota can keep busy. */
static unsigned cpu_count(void)
{
	cpu_set_t set;
	long n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 0)
		n = 1;
	FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
	if (f) {
		long quota = 0, period = 0;
		if (fscanf(f, "%ld %ld", &quota, &period) == 2 && quota > 0 && period > 0) {
			long q = (quota + period - 1) / period;
			if (q < n)
				n = q;
		}
		fclose(f);
	}
	return (unsigned)n;
}

static enum wh_endpoint route(const char *url)
{
	static const struct {
		const char *path;
		enum wh_endpoint ep;
	} routes[] = {{"/mutate", WH_EP_MUTATE},   {"/validate", WH_EP_VALIDATE},
		      {"/healthz", WH_EP_HEALTHZ}, {"/readyz", WH_EP_READYZ},
		      {"/metrics", WH_EP_METRICS}};
	for (size_t i = 0; i < EO_ARRAY_LEN(routes); i++)
		if (strcmp(url, routes[i].path) == 0)
			return routes[i].ep;
	return WH_EP_OTHER;
}

/*
 * Queue an answer and count it. `body` is malloc'd (taken) or NULL with len
 * 0. The latency is the handler's: headers in → answer queued.
 */
static enum MHD_Result answer(struct whsrv *s, struct MHD_Connection *c, struct req *r,
			      int code, const char *ctype, char *body, size_t len,
			      enum wh_decision dec, const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (atomic_load(&s->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)code, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	wh_metrics_request(r->ep, dec, code, (double)(now_ns() - r->start_ns) / 1e9);
	return ok;
}

static enum MHD_Result answer_text(struct whsrv *s, struct MHD_Connection *c, struct req *r,
				   int code, const char *text, const char *allow)
{
	char *body = eo_strdup0(text);
	return answer(s, c, r, code, CT_TEXT, body, body ? strlen(body) : 0, WH_DEC_NONE, allow);
}

static enum MHD_Result serve_get(struct whsrv *s, struct MHD_Connection *c, struct req *r)
{
	if (r->ep == WH_EP_READYZ && atomic_load(&s->stopping))
		return answer_text(s, c, r, 503, "stopping\n", NULL);
	if (r->ep != WH_EP_METRICS)
		return answer_text(s, c, r, 200, "ok\n", NULL);
	struct eo_buf b = {0};
	uint64_t ok = 0, failed = 0;
	wh_tls_reloads(s->tls, &ok, &failed);
	if (wh_metrics_render(&b, ok, failed, wh_tls_not_after(s->tls), eo_wall_ms() / 1000) != 0) {
		eo_buf_free(&b);
		return answer_text(s, c, r, 500, "metrics could not be rendered\n", NULL);
	}
	size_t len = b.len;
	return answer(s, c, r, 200, CT_PROM, eo_buf_steal(&b), len, WH_DEC_NONE, NULL);
}

static enum MHD_Result serve_review(struct whsrv *s, struct MHD_Connection *c, struct req *r)
{
	struct review_result res;
	review_handle(r->ep == WH_EP_MUTATE ? REVIEW_MUTATE : REVIEW_VALIDATE,
		      r->body.data ? r->body.data : "", r->body.len, &res);
	eo_buf_free(&r->body);
	enum wh_decision dec = res.outcome == REVIEW_ALLOWED  ? WH_DEC_ALLOWED
			       : res.outcome == REVIEW_DENIED ? WH_DEC_DENIED
							      : WH_DEC_ERROR;
	int code = res.http_status;
	size_t len = res.body.len;
	enum MHD_Result ok = answer(s, c, r, code, res.content_type, eo_buf_steal(&res.body), len,
				    dec, NULL);

	char quid[80], qns[80], qname[80], qreason[300];
	log_info("review",
		 "uid=%s endpoint=%s op=%s subresource=%s namespace=%s name=%s decision=%s "
		 "code=%d patched=%d warnings=%d dry_run=%d latency_us=%lld%s%s",
		 log_q(quid, sizeof(quid), res.uid), wh_endpoint_name(r->ep),
		 res.operation[0] ? res.operation : "-",
		 res.subresource[0] ? res.subresource : "-", log_q(qns, sizeof(qns), res.namespace),
		 log_q(qname, sizeof(qname), res.name), review_outcome_name(res.outcome), code,
		 res.patched, res.nwarnings, res.dry_run, (long long)((now_ns() - r->start_ns) / 1000),
		 res.reason[0] ? " reason=" : "",
		 res.reason[0] ? log_q(qreason, sizeof(qreason), res.reason) : "");
	review_result_free(&res);
	return ok;
}

/* Two Content-Length headers, or one with Transfer-Encoding, leave open which
 * body is meant; a proxy in front may have picked the other one. */
struct framing {
	int content_length, transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->transfer_encoding++;
	return MHD_YES;
}

static bool framing_ambiguous(struct MHD_Connection *c)
{
	struct framing f = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
	return f.content_length > 1 || (f.content_length && f.transfer_encoding);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct whsrv *s = cls;
	struct req *r = *con_cls;
	if (!r) {
		/* First call: the headers. Decide all that can be decided now. */
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->start_ns = now_ns();
		r->ep = route(url);
		r->body.max = s->max_body;
		*con_cls = r;
		wh_metrics_in_flight(1);

		bool review = r->ep == WH_EP_MUTATE || r->ep == WH_EP_VALIDATE;
		bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
			      strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		if (r->ep == WH_EP_OTHER)
			return answer_text(s, c, r, 404, "not found\n", NULL);
		if (review && !is_post)
			return answer_text(s, c, r, 405, "method not allowed: use POST\n", "POST");
		if (!review && !is_get)
			return answer_text(s, c, r, 405, "method not allowed: use GET\n", "GET, HEAD");
		if (!review)
			return serve_get(s, c, r);
		if (framing_ambiguous(c)) {
			log_warn("request refused: ambiguous body length", "endpoint=%s",
				 wh_endpoint_name(r->ep));
			return answer_text(s, c, r, 400,
					   "bad request: more than one Content-Length, or "
					   "Content-Length with Transfer-Encoding\n",
					   NULL);
		}
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > s->max_body)
			return answer_text(s, c, r, 413, "request body too large\n", NULL);
		return MHD_YES;
	}
	if (r->answered) { /* answered early: nothing more to read or say */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (eo_buf_append(&r->body, upload_data, *upload_data_size) != 0) {
			/* Over the cap without a Content-Length: stop reading here. */
			wh_metrics_request(r->ep, WH_DEC_ERROR, 413,
					   (double)(now_ns() - r->start_ns) / 1e9);
			r->answered = true;
			log_warn("request body over the cap; connection closed",
				 "endpoint=%s max_bytes=%zu", wh_endpoint_name(r->ep), s->max_body);
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return serve_review(s, c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	if (!r)
		return;
	eo_buf_free(&r->body);
	free(r);
	*con_cls = NULL;
	wh_metrics_in_flight(-1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	/* TLS handshake failures (scanners, TLS 1.1 clients) land here: debug. */
	char msg[512], q[600];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug("libmicrohttpd", "detail=%s", log_q(q, sizeof(q), msg));
}

/* Once stopping, a new connection is closed as soon as it is accepted: the
 * listen socket stays as it is until MHD_stop_daemon (see whsrv_stop). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct whsrv *s = cls;
	return atomic_load(&s->stopping) ? MHD_NO : MHD_YES;
}

static void *ticker_main(void *arg)
{
	struct whsrv *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->ticker_stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += s->reload_ms / 1000;
		until.tv_nsec += (long)(s->reload_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
		if (s->ticker_stop)
			break;
		pthread_mutex_unlock(&s->mu);
		wh_tls_check(s->tls);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int bind_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, bool *v6,
		     struct eo_err *err)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*v6 = false;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*v6 = true;
		return 0;
	}
	return eo_err_set(err, EO_EINVAL,
			  "--bind-address %s: not an IP address (write 0.0.0.0, :: or an "
			  "address of this host)",
			  addr);
}

struct whsrv *whsrv_start(const struct whsrv_config *cfg, struct eo_err *err)
{
	struct whsrv *s = calloc(1, sizeof(*s));
	if (!s) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		return NULL;
	}
	s->max_body = cfg->max_body ? cfg->max_body : WHSRV_MAX_BODY;
	s->reload_ms = cfg->reload_interval_ms > 0 ? cfg->reload_interval_ms : 1000;
	s->drain_ms = cfg->drain_timeout_ms > 0 ? cfg->drain_timeout_ms : 20000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);

	struct sockaddr_storage ss;
	bool v6 = false;
	const char *addr = cfg->bind_address && *cfg->bind_address ? cfg->bind_address : "0.0.0.0";
	if (!cfg->cert_file || !cfg->key_file) {
		eo_err_set(err, EO_EINVAL, "--tls-cert-file and --tls-private-key-file are required");
		goto fail;
	}
	if (bind_addr(addr, cfg->port, &ss, &v6, err) != 0)
		goto fail;
	s->tls = wh_tls_new(cfg->cert_file, cfg->key_file, err);
	if (!s->tls)
		goto fail;
	wh_tls_activate(s->tls);

	unsigned threads = cfg->threads ? cfg->threads : cpu_count();
	unsigned timeout_s = cfg->connection_timeout_s ? cfg->connection_timeout_s : 30;
	unsigned max_conns = cfg->max_connections ? cfg->max_connections : WHSRV_MAX_CONNECTIONS;
	unsigned per_ip = cfg->max_connections_per_ip ? cfg->max_connections_per_ip
						      : WHSRV_MAX_CONNECTIONS_PER_IP;
	if (max_conns < threads) /* libmicrohttpd splits the cap over the workers */
		max_conns = threads;
	/*
	 * No MHD_USE_TURBO. With it, libmicrohttpd 0.9.75 does not put an
	 * accepted socket into its epoll set; a connection that never sent a
	 * TLS hello was then never timed out, and a peer's hang-up never seen
	 * (CLOSE-WAIT until exit). Such connects filled the connection cap and
	 * every later review timed out, and a busy worker made MHD_quiesce_daemon
	 * abort. What TURBO saves (one epoll_ctl per connection, no TCP
	 * shutdown before close) is noise beside a TLS handshake.
	 */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	s->daemon = MHD_start_daemon(
		flags, 0, accept_policy, s, handler, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first, to catch what follows */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_HTTPS_PRIORITIES, WHSRV_TLS_PRIORITIES,
		MHD_OPTION_HTTPS_CERT_CALLBACK, wh_tls_retrieve,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
		MHD_OPTION_CONNECTION_LIMIT, max_conns,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		/* Per connection: headers (kube-apiserver sends a few hundred bytes),
		 * the read buffer the body streams through, the reply's headers.
		 * Half libmicrohttpd's 32 KiB default: replicas hold a connection
		 * per API server worker, and that memory is touched. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		eo_err_set(err, EO_ESYS,
			   "cannot serve HTTPS on %s port %u (address in use, or no permission "
			   "for a port below 1024?)",
			   addr, (unsigned)cfg->port);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
		eo_err_set(err, EO_ESYS, "cannot start the certificate reload thread");
		goto fail;
	}
	s->ticker_started = true;
	char serial[80];
	wh_tls_serial(s->tls, serial, sizeof(serial));
	log_info("serving",
		 "address=%s port=%u threads=%u tls=\"1.2,1.3\" cert=%s serial=%s "
		 "connection_timeout_s=%u max_connections=%u max_connections_per_ip=%u",
		 addr, (unsigned)s->port, threads, cfg->cert_file, serial, timeout_s, max_conns,
		 per_ip);
	return s;
fail:
	whsrv_stop(s);
	return NULL;
}

uint16_t whsrv_port(const struct whsrv *s)
{
	return s->port;
}

int whsrv_check_certs(struct whsrv *s)
{
	return wh_tls_check(s->tls);
}

int whsrv_stop(struct whsrv *s)
{
	if (!s)
		return 0;
	int left = 0;
	atomic_store(&s->stopping, true);
	if (s->daemon) {
		/*
		 * Not MHD_quiesce_daemon: in 0.9.75 it takes the listen socket
		 * out of each worker's epoll set from this thread while the
		 * worker may be doing the same after seeing the quiesce flag,
		 * and the loser's ENOENT is a MHD_PANIC (abort, SIGABRT). The
		 * accept policy closes new connections instead, and
		 * MHD_stop_daemon, which joins the workers first, closes the
		 * listen socket.
		 */
		int64_t deadline = eo_now_ms() + s->drain_ms;
		while ((left = (int)wh_metrics_in_flight_now()) > 0 && eo_now_ms() < deadline)
			eo_sleep_ms(10);
		if (left > 0)
			log_warn("stopping with requests still in flight", "in_flight=%d", left);
		MHD_stop_daemon(s->daemon);
	}
	if (s->ticker_started) {
		pthread_mutex_lock(&s->mu);
		s->ticker_stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->ticker, NULL);
	}
	wh_tls_activate(NULL);
	wh_tls_free(s->tls);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return left;
}
