/*
 * httpd.c — /healthz, /readyz and /metrics on libmicrohttpd's internal
 * thread.
 *
 * The one idea: these endpoints never touch the API server or etcd — they
 * report what the process already knows (metrics, a ready flag), so a slow
 * cluster can never make the kubelet kill a controller that is working.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct httpd {
	struct MHD_Daemon *d;
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct httpd *h = cls;
	(void)version;
	(void)upload;
	if (!*state) { /* first call: headers only */
		*state = h;
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
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		eo_err_set(err, EO_ESYS, "cannot listen on %s (in use, or not an address of this host?)",
			   addr);
		return NULL;
	}
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
	MHD_stop_daemon(h->d);
	free(h);
}
