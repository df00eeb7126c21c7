/*
 * The controller's /healthz port (controller/httpd.c) against clients that
 * hold connections by trickling their headers, a byte every 300 ms, from many
 * addresses (issue 17): the liveness probe must still be answered, promptly.
 *
 * Real sockets: the server binds 127.14.X.1 (random X per run), the
 * trickling clients bind 127.14.X.10…, the probe 127.14.X.2, so the
 * per-address cap is part of what is tested.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../../controller/httpd.h"
#include "log.h"

static int net; /* X in 127.14.X.Y */
static struct metrics *m;

static int setup(void **state)
{
	srand((unsigned)(getpid() ^ time(NULL)));
	net = rand() % 256;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_ALL);
	log_init("httpd-test", EO_LOG_WARN);
	return 0;
}

static int teardown(void **state)
{
	metrics_free(m);
	curl_global_cleanup();
	return 0;
}

static void ip(char out[32], int host)
{
	snprintf(out, 32, "127.14.%d.%d", net, host);
}

static struct httpd *start(const struct httpd_limits *lim)
{
	char a[48];
	ip(a, 1);
	strcat(a, ":0");
	struct eo_err err = {0};
	if (!m)
		m = metrics_new();
	assert_non_null(m);
	struct httpd *h = lim ? httpd_start_limits(a, true, true, m, NULL, NULL, lim, &err)
			      : httpd_start(a, true, true, m, NULL, NULL, &err);
	if (!h)
		fail_msg("httpd_start %s: %s", a, err.msg);
	return h;
}

/* GET /healthz from 127.14.X.2: the code (0: none within timeout_ms), and
 * how long it took. */
static long probe(struct httpd *h, long timeout_ms, int64_t *took_ms)
{
	char url[96], from[32], iface[48];
	ip(from, 2);
	char host[32];
	ip(host, 1);
	snprintf(url, sizeof(url), "http://%s:%d/healthz", host, httpd_port(h));
	snprintf(iface, sizeof(iface), "host!%s", from);
	CURL *c = curl_easy_init();
	FILE *sink = fopen("/dev/null", "w");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	int64_t t0 = eo_now_ms();
	long code = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*took_ms = eo_now_ms() - t0;
	curl_easy_cleanup(c);
	fclose(sink);
	return code;
}

/* ---- trickling clients ---------------------------------------------------- */

#define MAX_DRIP 128

struct drip {
	int fd[MAX_DRIP];
	bool closed[MAX_DRIP]; /* the server ended it */
	int n;
	atomic_bool stop;
	atomic_int nclosed;
	pthread_t t;
};

/* A header that never ends: this at the connect, then an "a" at a time (no
 * CR or LF: libmicrohttpd takes a CR that ends a read for a line's end). */
static const char head[] = "GET /healthz HTTP/1.1\r\nHost: h\r\nX-Slow: ";

static void *drip_main(void *arg)
{
	struct drip *d = arg;
	while (!atomic_load(&d->stop)) {
		for (int i = 0; i < d->n; i++) {
			if (d->closed[i])
				continue;
			char b;
			ssize_t r = recv(d->fd[i], &b, 1, MSG_DONTWAIT);
			bool gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
			if (!gone && send(d->fd[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
			    errno != EAGAIN)
				gone = true;
			if (gone) {
				d->closed[i] = true;
				atomic_fetch_add(&d->nclosed, 1);
			}
		}
		eo_sleep_ms(300);
	}
	return NULL;
}

/* `per` connects from each of `addrs` addresses (127.14.X.10…). */
static void drip_start(struct drip *d, struct httpd *h, int addrs, int per)
{
	memset(d, 0, sizeof(*d));
	char host[32];
	ip(host, 1);
	for (int a = 0; a < addrs; a++) {
		char from[32];
		ip(from, 10 + a);
		for (int k = 0; k < per && d->n < MAX_DRIP; k++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
			inet_pton(AF_INET, from, &me.sin_addr);
			inet_pton(AF_INET, host, &to.sin_addr);
			to.sin_port = htons((uint16_t)httpd_port(h));
			assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
			assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
			send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL);
			d->fd[d->n++] = fd;
		}
	}
	assert_int_equal(pthread_create(&d->t, NULL, drip_main, d), 0);
}

static void drip_stop(struct drip *d)
{
	atomic_store(&d->stop, true);
	pthread_join(d->t, NULL);
	for (int i = 0; i < d->n; i++)
		close(d->fd[i]);
}

/* ---- tests ------------------------------------------------------------------ */

/*
 * The defaults: 9 addresses trickling 8 connections each (more than the old
 * cap of 64 in all) and one address trying 20 more: every probe in 4 s is
 * answered within a second.
 */
static void test_trickling_clients_do_not_starve_the_probe(void **state)
{
	struct httpd *h = start(NULL);
	struct drip d;
	drip_start(&d, h, 9, 8);
	char from[32];
	ip(from, 30);
	int extra[20];
	for (int i = 0; i < 20; i++) { /* past this address's share: closed at once */
		extra[i] = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in me = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
		inet_pton(AF_INET, from, &me.sin_addr);
		char host[32];
		ip(host, 1);
		inet_pton(AF_INET, host, &to.sin_addr);
		to.sin_port = htons((uint16_t)httpd_port(h));
		bind(extra[i], (struct sockaddr *)&me, sizeof(me));
		connect(extra[i], (struct sockaddr *)&to, sizeof(to));
	}
	eo_sleep_ms(500);
	for (int i = 0; i < 8; i++) {
		int64_t took;
		long code = probe(h, 1000, &took);
		if (code != 200)
			fail_msg("probe %d with %d trickling connections: code %ld after %lld ms", i,
				 d.n, code, (long long)took);
		eo_sleep_ms(500);
	}
	drip_stop(&d);
	for (int i = 0; i < 20; i++)
		close(extra[i]);
	httpd_stop(h);
}

/*
 * A cap small enough to fill from few addresses: the trickling connections
 * are cut at the request deadline (bytes do not extend it), so the probe
 * gets a slot within about a deadline, and no trickler keeps one.
 */
static void test_request_deadline_is_not_reset_by_bytes(void **state)
{
	struct httpd_limits lim = {.max_connections = 16, .max_per_ip = 4, .deadline_ms = 1000};
	struct httpd *h = start(&lim);
	struct drip d;
	drip_start(&d, h, 8, 4); /* 32 connects for 16 slots */
	eo_sleep_ms(300);
	int64_t t0 = eo_now_ms();
	while (eo_now_ms() - t0 < 4000) {
		int64_t took;
		long code = probe(h, 2500, &took);
		if (code != 200)
			fail_msg("probe %lld ms into the trickle: code %ld after %lld ms",
				 (long long)(eo_now_ms() - t0), code, (long long)took);
		eo_sleep_ms(300);
	}
	/* every trickler was cut by now: the first 16 at ~1 s, the rest ~1 s
	 * after they were let in */
	int64_t deadline = eo_now_ms() + 3000;
	while (atomic_load(&d.nclosed) < d.n && eo_now_ms() < deadline)
		eo_sleep_ms(100);
	assert_int_equal(atomic_load(&d.nclosed), d.n);
	drip_stop(&d);

	/* a client that sends its request in time is answered as before */
	int64_t took;
	assert_int_equal(probe(h, 2000, &took), 200);
	httpd_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trickling_clients_do_not_starve_the_probe),
		cmocka_unit_test(test_request_deadline_is_not_reset_by_bytes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
