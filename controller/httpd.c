/*
 * httpd.c — /healthz, /readyz and /metrics on libmicrohttpd's internal
 * thread.
 *
 * The one idea: these endpoints never touch the API server or etcd — they
 * report what the process already knows (metrics, a ready flag), so a slow
 * cluster can never make the kubelet kill a controller that is working.
 *
 * Nor can a client that holds connections: the port listens on every
 * address of the Pod (the kubelet probes the Pod IP), so anyone who can
 * reach it could fill the connection table with connections that send a
 * byte now and then, which libmicrohttpd's idle timeout never closes. So one
 * address gets a few connections (HTTPD_MAX_PER_IP), and each request has a
 * deadline that bytes do not extend: a reaper thread shuts down a connection
 * whose headers are not in by then (the clock starts at the connect and
 * again after each answer). shutdown(2), not close: libmicrohttpd sees the
 * end of the stream and closes the socket itself.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

/* One open connection, from libmicrohttpd's start notice to its close notice. */
struct conn {
	int fd;
	int64_t since_ms; /* the deadline clock: the connect, or the last answer */
	bool in_handler;  /* headers are in, the request is being answered */
	bool cut;         /* shut down by the reaper */
	struct conn *prev, *next;
};

struct httpd {
	struct MHD_Daemon *d;
	unsigned deadline_ms;
	pthread_mutex_t mu; /* conns, the fields of each conn, stop */
	pthread_cond_t cv;
	struct conn *conns;
	bool stop, reaper_started;
	pthread_t reaper;
	bool health, metrics;
	struct metrics *m;
	httpd_ready_fn ready;
	void *ud;
	int port;
};

int httpd_parse_addr(const char *addr, char host[64], int *port, struct eo_err *err)
{
	host[0] = '\0';
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	const char *p = colon ? colon + 1 : addr;
	if (colon) {
		size_t n = (size_t)(colon - addr);
		if (n >= 64)
			return eo_err_set(err, EO_EINVAL, "address \"%.80s\": host too long", addr);
		memcpy(host, addr, n);
		host[n] = '\0';
	}
	char *end;
	long v = p && *p ? strtol(p, &end, 10) : -1;
	if (!p || !*p || *end || v < 0 || v > 65535)
		return eo_err_set(err, EO_EINVAL,
				  "address \"%.80s\": want HOST:PORT or :PORT with a port 0..65535",
				  addr ? addr : "");
	*port = (int)v;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct httpd *h = cls;
	struct conn *k = *socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci || !(k = calloc(1, sizeof(*k))))
			return; /* not watched: the idle timeout still applies */
		k->fd = ci->connect_fd;
		pthread_mutex_lock(&h->mu);
		k->since_ms = mono_ms();
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		pthread_mutex_unlock(&h->mu);
		*socket_ctx = k;
		return;
	}
	if (!k) /* MHD_CONNECTION_NOTIFY_CLOSED of one not watched */
		return;
	/* Before libmicrohttpd closes the fd: once unlinked under the lock, the
	 * reaper cannot shut down a reused fd number. */
	pthread_mutex_lock(&h->mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&h->mu);
	free(k);
	*socket_ctx = NULL;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct conn *k = conn_of(c);
	if (!k)
		return;
	pthread_mutex_lock(&h->mu);
	k->in_handler = false;
	k->since_ms = mono_ms(); /* the next request on this connection starts its own clock */
	pthread_mutex_unlock(&h->mu);
}

/* libmicrohttpd's own messages (a cut or reset connection, a malformed
 * request) describe what clients did: debug, in the one log format. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512], q[600];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	log_debug("libmicrohttpd", "detail=%s", log_q(q, sizeof(q), msg));
}

static void *reaper_main(void *arg)
{
	struct httpd *h = arg;
	unsigned tick = h->deadline_ms / 4 ? h->deadline_ms / 4 : 1;
	if (tick > 500)
		tick = 500;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)tick * 1000000;
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&h->cv, &h->mu, &until);
		int64_t now = mono_ms();
		int cut = 0;
		for (struct conn *k = h->conns; k && !h->stop; k = k->next) {
			if (k->in_handler || k->cut || now - k->since_ms < (int64_t)h->deadline_ms)
				continue;
			shutdown(k->fd, SHUT_RDWR);
			k->cut = true;
			cut++;
		}
		if (cut)
			log_debug("httpd: connections past the request deadline closed",
				  "count=%d deadline_ms=%u", cut, h->deadline_ms);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct httpd *h = cls;
	(void)version;
	(void)upload;
	if (!*state) { /* first call: headers only */
		*state = h;
		struct conn *k = conn_of(c);
		if (k) {
			pthread_mutex_lock(&h->mu);
			k->in_handler = true;
			pthread_mutex_unlock(&h->mu);
		}
		return MHD_YES;
	}
	if (*upload_size) { /* bodies are not wanted here */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, "text/plain", "method not allowed\n", 19);
	if (h->health && strcmp(url, "/healthz") == 0)
		return reply(c, 200, "text/plain", "ok\n", 3);
	if (h->health && strcmp(url, "/readyz") == 0) {
		char why[200] = "";
		if (!h->ready || h->ready(h->ud, why, sizeof(why)))
			return reply(c, 200, "text/plain", "ok\n", 3);
		char body[240];
		int n = snprintf(body, sizeof(body), "not ready: %s\n", why);
		return reply(c, 503, "text/plain", body, (size_t)n);
	}
	if (h->metrics && strcmp(url, "/metrics") == 0) {
		struct eo_buf b = {0};
		if (metrics_render(h->m, &b) != 0) {
			eo_buf_free(&b);
			return reply(c, 500, "text/plain", "out of memory\n", 14);
		}
		enum MHD_Result r = reply(c, 200, "text/plain; version=0.0.4", b.data ? b.data : "",
					  b.len);
		eo_buf_free(&b);
		return r;
	}
	return reply(c, 404, "text/plain", "not found\n", 10);
}

struct httpd *httpd_start(const char *addr, bool health, bool metrics, struct metrics *m,
			  httpd_ready_fn ready, void *ud, struct eo_err *err)
{
	return httpd_start_limits(addr, health, metrics, m, ready, ud, NULL, err);
}

struct httpd *httpd_start_limits(const char *addr, bool health, bool metrics, struct metrics *m,
				 httpd_ready_fn ready, void *ud, const struct httpd_limits *lim,
				 struct eo_err *err)
{
	char host[64];
	int port;
	if (httpd_parse_addr(addr, host, &port, err) != 0)
		return NULL;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!host[0] || strcmp(host, "0.0.0.0") == 0) {
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (strcmp(host, "localhost") == 0) {
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		eo_err_set(err, EO_EINVAL, "address \"%.80s\": host must be an IPv4 address", addr);
		return NULL;
	}
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h)
		abort();
	h->health = health;
	h->metrics = metrics;
	h->m = m;
	h->ready = ready;
	h->ud = ud;
	unsigned max_conns = lim && lim->max_connections ? lim->max_connections
							 : HTTPD_MAX_CONNECTIONS;
	unsigned per_ip = lim && lim->max_per_ip ? lim->max_per_ip : HTTPD_MAX_PER_IP;
	h->deadline_ms = lim && lim->deadline_ms ? lim->deadline_ms : HTTPD_DEADLINE_MS;
	/* The idle timeout stays, a little past the deadline, for a
	 * connection the reaper does not watch (out of memory at its start). */
	unsigned idle_s = (h->deadline_ms + 999) / 1000 + 1;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* poll, not select: no FD_SETSIZE ceiling below the connection cap. */
	h->d = MHD_start_daemon(
		MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, /* first, to catch what follows */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
		MHD_OPTION_CONNECTION_LIMIT, max_conns,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		/* a request line and a few headers; answers are malloc'd apart */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(8 * 1024),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
	if (!h->d) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		free(h);
		eo_err_set(err, EO_ESYS, "cannot listen on %s (in use, or not an address of this host?)",
			   addr);
		return NULL;
	}
	if (pthread_create(&h->reaper, NULL, reaper_main, h) != 0) {
		httpd_stop(h);
		eo_err_set(err, EO_ESYS, "cannot start the request deadline thread for %s", addr);
		return NULL;
	}
	h->reaper_started = true;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	return h;
}

int httpd_port(const struct httpd *h)
{
	return h ? h->port : 0;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->reaper_started) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->reaper, NULL);
	}
	MHD_stop_daemon(h->d); /* its close notices still take h->mu */
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
