/*
 * kube_http.c — the transport of the Kubernetes client: libcurl easy handles
 * from a small pool, TLS from the resolved connection, credentials on every
 * attempt, and the retry loop that keeps every request inside its deadline.
 *
 * The one idea: a request is a loop of attempts against one deadline. Each
 * attempt gets the time that is left (never a fresh timeout), fresh
 * credentials (a token file may have rotated, an exec credential expired),
 * and ends in exactly one of: answer, retry after a wait that still fits
 * before the deadline, or an error that says what happened and where. Which
 * failures are retried is decided in one place (retry_wait below).
 *
 * Threads: handles are never shared; the pool hands each call its own and
 * takes it back (curl_easy_reset keeps the connection cache, so keep-alive
 * connections are reused across calls).
 */
#include "kube_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"

#define KUBE_BODY_MAX ((size_t)256 << 20) /* a list of everything, gzip-expanded */
#define KUBE_ERR_BODY_MAX ((size_t)64 << 10)
#define KUBE_BACKOFF_BASE_MS 200
#define KUBE_BACKOFF_MAX_MS 4000
#define KUBE_STREAM_QUIET_S 75 /* API servers send a bookmark at least each minute */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- client lifecycle ---- */

/* Derive base URL, CONNECT_TO and Host header from server + tls-server-name. */
static int plan_target(struct kube_client *kc, struct eo_err *err)
{
	const struct kube_conn *c = kc->conn;
	if (!c->server || (strncmp(c->server, "https://", 8) && strncmp(c->server, "http://", 7)))
		return eo_err_set(err, EO_EINVAL,
				  "%s: server \"%s\" is not an https:// (or http://) URL",
				  c->origin ? c->origin : "connection", c->server ? c->server : "");
	size_t n = strlen(c->server);
	while (n && c->server[n - 1] == '/')
		n--;
	const char *h = strstr(c->server, "://") + 3;
	kc->loopback = !strncmp(h, "127.", 4) || !strncmp(h, "[::1]", 5) ||
		       !strncmp(h, "localhost:", 10) || !strncmp(h, "localhost/", 10) ||
		       !strcmp(h, "localhost");
	if (!c->tls_server_name || !*c->tls_server_name) {
		kc->base = strndup(c->server, n);
		return kc->base ? 0 : eo_err_set(err, EO_ENOMEM, "out of memory");
	}
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *given_port = NULL, *url = NULL;
	int rc = -1;
	if (!u || curl_url_set(u, CURLUPART_URL, c->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		eo_err_set(err, EO_EINVAL, "%s: cannot parse server URL \"%s\"",
			   c->origin ? c->origin : "connection", c->server);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &given_port, 0) != CURLUE_OK)
		given_port = NULL;
	if (curl_url_set(u, CURLUPART_HOST, c->tls_server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		eo_err_set(err, EO_EINVAL, "%s: tls-server-name \"%s\" is not a valid host name",
			   c->origin ? c->origin : "connection", c->tls_server_name);
		goto out;
	}
	n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	kc->base = strndup(url, n);
	kc->connect_to = eo_strdupf("%s:%s:%s:%s", c->tls_server_name, port, host, port);
	kc->host_hdr = given_port ? eo_strdupf("Host: %s:%s", host, given_port)
				  : eo_strdupf("Host: %s", host);
	rc = kc->base ? 0 : eo_err_set(err, EO_ENOMEM, "out of memory");
out:
	curl_free(host);
	curl_free(port);
	curl_free(given_port);
	curl_free(url);
	curl_url_cleanup(u);
	return rc;
}

struct kube_client *kube_client_new(struct kube_conn *conn, const struct kube_client_opts *opts,
				    struct eo_err *err)
{
	if (!conn) {
		eo_err_set(err, EO_EINVAL, "kube client: no connection");
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		eo_err_set(err, EO_ESYS, "libcurl initialisation failed: %s",
			   curl_easy_strerror(curl_init_rc));
		kube_conn_free(conn);
		return NULL;
	}
	struct kube_client *kc = calloc(1, sizeof(*kc));
	if (!kc) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		kube_conn_free(conn);
		return NULL;
	}
	kc->conn = conn;
	pthread_mutex_init(&kc->lock, NULL);
	kc->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
	kc->max_retries = opts && opts->max_retries > 0 ? opts->max_retries : 4;
	kc->user_agent = eo_strdup0(opts && opts->user_agent && *opts->user_agent
					    ? opts->user_agent
					    : "libetcdop/0.1.0");
	kc->on_warning = opts ? opts->on_warning : NULL;
	kc->warning_ud = opts ? opts->warning_ud : NULL;
	if (plan_target(kc, err) != 0) {
		kube_client_free(kc);
		return NULL;
	}
	return kc;
}

void kube_client_free(struct kube_client *kc)
{
	if (!kc)
		return;
	for (int i = 0; i < kc->nidle; i++)
		curl_easy_cleanup(kc->idle[i]);
	pthread_mutex_destroy(&kc->lock);
	kube_conn_free(kc->conn);
	free(kc->user_agent);
	free(kc->base);
	free(kc->connect_to);
	free(kc->host_hdr);
	free(kc);
}

const char *kube_client_namespace(const struct kube_client *kc)
{
	return kc && kc->conn && kc->conn->namespace ? kc->conn->namespace : "default";
}

static CURL *handle_get(struct kube_client *kc)
{
	CURL *h = NULL;
	pthread_mutex_lock(&kc->lock);
	if (kc->nidle)
		h = kc->idle[--kc->nidle];
	pthread_mutex_unlock(&kc->lock);
	return h ? h : curl_easy_init();
}

static void handle_put(struct kube_client *kc, CURL *h)
{
	curl_easy_reset(h);
	pthread_mutex_lock(&kc->lock);
	if (kc->nidle < KUBE_POOL_MAX) {
		kc->idle[kc->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&kc->lock);
	if (h)
		curl_easy_cleanup(h);
}

/* ---- one attempt ---- */

struct attempt {
	struct kube_call *call;
	long status;
	char retry_after[64];
	struct eo_buf warnings; /* NUL-separated texts of the latest response */
	int too_big;
};

static void add_warning(const char *text, void *ud)
{
	struct attempt *a = ud;
	/* Once per warning, even when a server repeats a header. */
	for (size_t off = 0; a->warnings.data && off < a->warnings.len;
	     off += strlen(a->warnings.data + off) + 1)
		if (!strcmp(a->warnings.data + off, text))
			return;
	eo_buf_append(&a->warnings, text, strlen(text) + 1);
}

/* Is the header line p (len bytes, "Name: value\r\n") the named one? Then
 * copy its trimmed value into out. */
static int header_value(const char *p, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(p, name, nl) || p[nl] != ':')
		return 0;
	const char *v = p + nl + 1, *end = p + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	size_t n = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 1;
}

static size_t on_header(char *p, size_t sz, size_t nmemb, void *ud)
{
	struct attempt *a = ud;
	size_t len = sz * nmemb;
	if (len > 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (after 100 Continue, or the final one). */
		const char *sp = memchr(p, ' ', len);
		a->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		a->retry_after[0] = '\0';
		eo_buf_free(&a->warnings);
		return len;
	}
	char value[4096];
	if (header_value(p, len, "warning", value, sizeof(value)))
		kube_warning_parse(value, add_warning, a);
	else
		header_value(p, len, "retry-after", a->retry_after, sizeof(a->retry_after));
	return len;
}

static size_t on_write(char *p, size_t sz, size_t nmemb, void *ud)
{
	struct attempt *a = ud;
	struct kube_call *call = a->call;
	size_t len = sz * nmemb;
	if (call->stream && a->status / 100 == 2) {
		if (call->on_data(p, len, call->data_ud) != 0) {
			call->data_stopped = 1;
			return 0;
		}
		return len;
	}
	call->resp.max = call->stream || a->status / 100 != 2 ? KUBE_ERR_BODY_MAX : KUBE_BODY_MAX;
	if (eo_buf_append(&call->resp, p, len) != 0) {
		/* An error body is only summarised: keep what fits, drop the rest. */
		if (a->status / 100 != 2)
			return len;
		a->too_big = 1;
		return 0;
	}
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct kube_call *call = ud;
	return call->stop && *call->stop ? 1 : 0;
}

static void zero_free_slist(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static CURLcode perform(struct kube_client *kc, CURL *h, struct attempt *a,
			const struct kube_creds *cr, long left_ms, char *errbuf)
{
	struct kube_call *call = a->call;
	const struct kube_conn *c = kc->conn;
	struct curl_slist *hdrs = NULL, *connect_to = NULL;
	char *url = eo_strdupf("%s%s", kc->base, call->path);

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_USERAGENT, kc->user_agent);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (strcmp(call->method, "GET"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
	if (call->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(call->body));
	}

	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (call->body) {
		char *ct = eo_strdupf("Content-Type: %s",
				      call->content_type ? call->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ct);
		free(ct);
	}
	if (cr->token && *cr->token) {
		char *auth = eo_strdupf("Authorization: Bearer %s", cr->token);
		hdrs = curl_slist_append(hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (kc->host_hdr)
		hdrs = curl_slist_append(hdrs, kc->host_hdr);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	/* The cluster's proxy-url; else libcurl's proxy variables, except for
	 * a server on this machine (Go's rule, which kubectl follows). */
	if (c->proxy_url)
		curl_easy_setopt(h, CURLOPT_PROXY, c->proxy_url);
	else if (kc->loopback)
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (kc->connect_to) {
		connect_to = curl_slist_append(NULL, kc->connect_to);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_to);
	}

	/* TLS: 1.2 at least; the connection's CA only (not the system store). */
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (c->ca_pem && c->ca_len) {
		struct curl_blob ca = {c->ca_pem, c->ca_len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	const char *cert = cr->cert_pem ? cr->cert_pem : c->cert_pem;
	const char *key = cr->cert_pem ? cr->key_pem : c->key_pem;
	size_t cert_len = cr->cert_pem ? cr->cert_len : c->cert_len;
	size_t key_len = cr->cert_pem ? cr->key_len : c->key_len;
	if (cert && key) {
		struct curl_blob cb = {(void *)cert, cert_len, CURL_BLOB_COPY};
		struct curl_blob kb = {(void *)key, key_len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}

	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	if (call->stop) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, call);
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, left_ms);
	if (call->stream) {
		/* A dead peer: TCP keep-alive notices a vanished host, the
		 * low-speed limit a server that stopped talking. */
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, call->stream_ms);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)KUBE_STREAM_QUIET_S);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms);
	}

	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (code)
			a->status = code;
	}
	zero_free_slist(hdrs);
	curl_slist_free_all(connect_to);
	free(url);
	return rc;
}

/* ---- the retry policy ---- */

static int is_connect_failure(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* Failures after the request may have reached the server. */
static int is_broken_exchange(CURLcode rc)
{
	return rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_PARTIAL_FILE || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
}

/* Does a 500 say it is worth retrying (Retry-After, or a Status with
 * details.retryAfterSeconds, as ServerTimeout errors carry)? */
static int body_says_retry(const struct kube_call *call, const struct attempt *a)
{
	if (a->retry_after[0])
		return 1;
	json_object *st = call->resp.len ? json_parse(call->resp.data, call->resp.len, NULL) : NULL;
	int yes = json_opt_int(st, "details.retryAfterSeconds", 0) > 0;
	json_object_put(st);
	return yes;
}

/* Milliseconds to wait before the next attempt, or -1: do not retry.
 * POST is not idempotent: it is retried only when it never reached the
 * server (connect failure) or the server said it did not process it (429). */
static long retry_wait(const struct kube_call *call, const struct attempt *a, CURLcode rc,
		       int attempt, unsigned *seed)
{
	int idempotent = strcmp(call->method, "POST") != 0;
	int retry = 0;
	if (rc != CURLE_OK)
		retry = is_connect_failure(rc) || (idempotent && is_broken_exchange(rc));
	else if (a->status == 429)
		retry = 1;
	else if (a->status == 502 || a->status == 503 || a->status == 504)
		retry = idempotent;
	else if (a->status == 500)
		retry = idempotent && body_says_retry(call, a);
	if (!retry || call->stream)
		return -1;
	if (rc == CURLE_OK && a->retry_after[0]) {
		long ms = kube_retry_after_ms(a->retry_after, eo_wall_ms() / 1000);
		if (ms >= 0)
			return ms;
	}
	long wait = KUBE_BACKOFF_BASE_MS << (attempt < 5 ? attempt : 5);
	if (wait > KUBE_BACKOFF_MAX_MS)
		wait = KUBE_BACKOFF_MAX_MS;
	/* Jitter: somewhere in the upper half, so clients spread out. */
	return wait / 2 + (long)(rand_r(seed) % (unsigned)(wait / 2 + 1));
}

/* "Failed to connect to 127.0.0.1 port 6443 after 0 ms: Connection refused"
 * → "Connection refused": the address is already in our own message. */
static const char *transport_reason(const char *errbuf, CURLcode rc)
{
	if (!*errbuf)
		return curl_easy_strerror(rc);
	if (!strncmp(errbuf, "Failed to connect to ", 21)) {
		const char *tail = strstr(errbuf, " ms: ");
		if (tail)
			return tail + 5;
	}
	return errbuf;
}

static void transport_error(struct kube_client *kc, const struct kube_call *call, CURLcode rc,
			    const char *errbuf, struct eo_err *err)
{
	const char *server = kc->conn->server;
	const char *why = transport_reason(errbuf, rc);
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		eo_err_set(err, EO_ETRANSPORT,
			   "TLS to %s failed: %s — check the cluster's certificate-authority%s",
			   server, why, kc->conn->tls_server_name ? " and tls-server-name" : "");
		break;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
		eo_err_set(err, EO_ETRANSPORT,
			   "TLS to %s failed: %s — check the client certificate and key of %s", server,
			   why, kc->conn->origin ? kc->conn->origin : "the connection");
		break;
	default:
		if (is_connect_failure(rc) && kc->conn->proxy_url)
			eo_err_set(err, EO_ETRANSPORT,
				   "cannot reach %s through proxy %s: %s — check the cluster's proxy-url",
				   server, kc->conn->proxy_url, why);
		else if (is_connect_failure(rc))
			eo_err_set(err, EO_ETRANSPORT,
				   "cannot reach %s: %s — is the cluster up? check --kubeconfig/--context",
				   server, why);
		else
			eo_err_set(err, EO_ETRANSPORT, "%s %s at %s: %s", call->method, call->path,
				   server, why);
	}
}

/* After a 401: can fresh credentials help? A dropped exec credential, or a
 * token file the kubelet may have rotated, can. */
static int refresh_after_401(struct kube_client *kc)
{
	int dropped = kube_conn_invalidate(kc->conn);
	return dropped == 1 || (kc->conn->token_file && !kc->conn->token);
}

static void deliver_warnings(struct kube_client *kc, struct attempt *a)
{
	if (!kc->on_warning)
		return;
	for (size_t off = 0; a->warnings.data && off < a->warnings.len;
	     off += strlen(a->warnings.data + off) + 1)
		kc->on_warning(a->warnings.data + off, kc->warning_ud);
}

static void http_error(struct kube_client *kc, const struct kube_call *call, long status,
		       struct eo_err *err)
{
	char msg[sizeof(err->msg)];
	kube_error_message(status, call->resp.data ? call->resp.data : "", call->resp.len, msg,
			   sizeof(msg));
	if (status == 404 && strstr(msg, "could not find the requested resource"))
		eo_err_set(err, (int)status, "%s (%s %s)", msg, call->method, call->path);
	else if (status == 401)
		eo_err_set(err, 401, "%s: %s rejected the credentials of %s", msg,
			   kc->conn->server, kc->conn->origin ? kc->conn->origin : "this connection");
	else
		eo_err_set(err, (int)status, "%s", msg);
}

int kube_call_run(struct kube_client *kc, struct kube_call *call, struct eo_err *err_out)
{
	struct eo_err e = {0}, *err = &e; /* always there, copied out at the end */
	int64_t start = eo_now_ms(), deadline = start + kc->timeout_ms;
	unsigned seed = (unsigned)start ^ (unsigned)(uintptr_t)call;
	int refreshed = 0, attempt = 0;
	struct eo_err last = {0};
	CURL *h = handle_get(kc);
	if (!h)
		return eo_err_set(err_out, EO_ENOMEM, "cannot create a libcurl handle");
	int rc = -1;
	for (;;) {
		long left = (long)(deadline - eo_now_ms());
		if (left <= 0 && last.code) {
			*err = last; /* out of time while waiting to retry: the real cause */
			break;
		}
		if (left <= 0) {
			eo_err_set(err, EO_ETIMEOUT, "%s %s: no answer from %s within %.1f s (deadline)",
				   call->method, call->path, kc->conn->server, kc->timeout_ms / 1000.0);
			break;
		}
		struct kube_creds cr = {0};
		if (kube_conn_credentials(kc->conn, &cr, err) != 0)
			break;
		struct attempt a = {.call = call};
		char errbuf[CURL_ERROR_SIZE] = "";
		eo_buf_free(&call->resp);
		call->status = 0;
		CURLcode cc = perform(kc, h, &a, &cr, left, errbuf);
		kube_creds_clear(&cr);
		call->status = a.status;
		if (cc == CURLE_OK && a.status / 100 == 2) {
			deliver_warnings(kc, &a);
			eo_buf_free(&a.warnings);
			rc = 0;
			break;
		}
		if (cc == CURLE_OK && a.status == 401 && !refreshed && refresh_after_401(kc)) {
			refreshed = 1;
			eo_buf_free(&a.warnings);
			continue;
		}
		/* Describe this failure; it is the answer unless a retry follows. */
		if (cc == CURLE_OK) {
			http_error(kc, call, a.status, err);
		} else if (cc == CURLE_ABORTED_BY_CALLBACK ||
			   (cc == CURLE_WRITE_ERROR && call->data_stopped)) {
			eo_err_set(err, EO_ECANCELED, "%s %s: stopped", call->method, call->path);
		} else if (cc == CURLE_WRITE_ERROR && a.too_big) {
			eo_err_set(err, EO_EINVAL, "%s %s: the response is larger than %zu MiB",
				   call->method, call->path, KUBE_BODY_MAX >> 20);
		} else if (cc == CURLE_OPERATION_TIMEDOUT && call->stream && a.status / 100 == 2) {
			/* A stream that reached its length or went quiet: it ended. */
			eo_buf_free(&a.warnings);
			rc = 0;
			break;
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			eo_err_set(err, EO_ETIMEOUT, "%s %s: no answer from %s within %.1f s (deadline)",
				   call->method, call->path, kc->conn->server,
				   (call->stream ? left : kc->timeout_ms) / 1000.0);
		} else {
			transport_error(kc, call, cc, errbuf, err);
		}
		long wait = err->code == EO_ECANCELED ? -1 : retry_wait(call, &a, cc, attempt, &seed);
		if (wait < 0 || attempt >= kc->max_retries ||
		    eo_now_ms() + wait >= deadline) {
			if (wait >= 0 && attempt < kc->max_retries && a.retry_after[0])
				eo_err_prefix(err, "server asked to retry after %ld s, past the deadline: ",
					      (wait + 999) / 1000);
			deliver_warnings(kc, &a);
			eo_buf_free(&a.warnings);
			break;
		}
		eo_buf_free(&a.warnings);
		last = *err;
		if (eo_nap_ms(wait, call->stop) != 0) {
			eo_err_set(err, EO_ECANCELED, "%s %s: stopped", call->method, call->path);
			break;
		}
		attempt++;
	}
	handle_put(kc, h);
	if (rc != 0 && err_out)
		*err_out = e;
	return rc;
}

void kube_call_done(struct kube_call *call)
{
	eo_buf_free(&call->resp);
}
