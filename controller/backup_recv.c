/*
 * backup_recv.c — `etcd-controller snapshot-receive`, the Pod that holds an
 * EtcdBackup's claim while the controller writes a snapshot onto it (a PVC
 * destination: the controller cannot mount a claim itself).
 *
 * The one idea: the Pod only stores bytes; the controller keeps doing what
 * it does for S3 — it takes the snapshot, checks etcd's hash as it streams,
 * and sends the bytes here with PUT and their length. This side writes
 * <key>.partial, and only a body that arrived whole is fsynced and renamed
 * to <key>; its answer carries the size and SHA-256 of what it wrote, which
 * the controller compares with its own before it lists the snapshot. A cut
 * connection leaves nothing. DELETE removes a key (retention). Every request
 * carries the bearer token the controller put in the Pod's environment.
 */
#include "snapshot_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>

#include "eo.h"
#include "log.h"

struct upload {
	int fd;
	char path[1200], tmp[1210];
	EVP_MD_CTX *md;
	int64_t bytes;
	bool failed;
	char why[200];
};

static const char *g_dir;
static const char *g_token;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A key is a relative path of safe characters without "..". */
static bool key_ok(const char *k)
{
	if (!*k || *k == '/' || strstr(k, "..") || strlen(k) > 900)
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("-_./", *p)))
			return false;
	return true;
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0750);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc)
{
	(void)cls;
	(void)c;
	struct upload *u = *con_cls;
	if (!u)
		return;
	if (u->fd >= 0) { /* not finished: the body never arrived whole */
		close(u->fd);
		unlink(u->tmp);
		log_warn("upload cut short; nothing kept", "path=%s bytes=%lld code=%d", u->path,
			 (long long)u->bytes, (int)tc);
	}
	EVP_MD_CTX_free(u->md);
	free(u);
	*con_cls = NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *data, size_t *size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct upload *u = *con_cls;
	if (strcmp(url, "/healthz") == 0)
		return reply(c, MHD_HTTP_OK, "{\"ok\":true}");
	if (!u) {
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, g_token) != 0)
			return reply(c, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"no or wrong token\"}");
		const char *key = url + 1;
		if (!key_ok(key))
			return reply(c, MHD_HTTP_BAD_REQUEST, "{\"error\":\"bad key\"}");
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		u->fd = -1;
		snprintf(u->path, sizeof(u->path), "%s/%s", g_dir, key);
		snprintf(u->tmp, sizeof(u->tmp), "%s.partial", u->path);
		*con_cls = u;
		if (strcmp(method, "DELETE") == 0) {
			int rc = unlink(u->path);
			if (rc != 0 && errno != ENOENT)
				return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"unlink failed\"}");
			log_info("deleted", "path=%s", u->path);
			return reply(c, MHD_HTTP_OK, "{\"deleted\":true}");
		}
		if (strcmp(method, "PUT") != 0)
			return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"PUT or DELETE\"}");
		if (mkdirs(u->path) != 0 ||
		    (u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
			snprintf(u->why, sizeof(u->why), "creating %s: %s", u->tmp, strerror(errno));
			u->failed = true;
		}
		u->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(u->md, EVP_sha256(), NULL);
		return MHD_YES;
	}
	if (*size > 0) {
		if (!u->failed) {
			const char *p = data;
			size_t n = *size;
			while (n > 0) {
				ssize_t w = write(u->fd, p, n);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					snprintf(u->why, sizeof(u->why), "writing %s: %s", u->tmp, strerror(errno));
					u->failed = true;
					break;
				}
				p += w;
				n -= (size_t)w;
			}
			EVP_DigestUpdate(u->md, data, *size);
			u->bytes += (int64_t)*size;
		}
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "PUT") != 0)
		return MHD_YES;
	/* the whole body is in */
	char body[400];
	if (!u->failed && fsync(u->fd) != 0) {
		snprintf(u->why, sizeof(u->why), "fsync %s: %s", u->tmp, strerror(errno));
		u->failed = true;
	}
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	if (!u->failed && rename(u->tmp, u->path) != 0) {
		snprintf(u->why, sizeof(u->why), "renaming %s: %s", u->tmp, strerror(errno));
		u->failed = true;
	}
	if (u->failed) {
		unlink(u->tmp);
		log_error("upload failed", "path=%s error=%s", u->path, u->why);
		snprintf(body, sizeof(body), "{\"error\":\"%s\"}", u->why);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, body);
	}
	unsigned char md[32];
	unsigned int l = 0;
	EVP_DigestFinal_ex(u->md, md, &l);
	char hex[65];
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	snprintf(body, sizeof(body), "{\"size\":%lld,\"sha256\":\"%s\"}", (long long)u->bytes, hex);
	log_info("stored", "path=%s bytes=%lld sha256=%s", u->path, (long long)u->bytes, hex);
	return reply(c, MHD_HTTP_OK, body);
}

int snapcmd_receive_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dir", required_argument, NULL, 'd'},
		{"port", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	int port = 8080, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'p')
			port = atoi(optarg);
		else {
			fprintf(stderr, "usage: etcd-controller snapshot-receive --dir DIR [--port 8080]\n"
				"(token in $BACKUP_TOKEN; the receiving end of a PVC EtcdBackup)\n");
			return c == 'h' ? 0 : 2;
		}
	}
	g_token = getenv("BACKUP_TOKEN");
	if (!dir || !g_token || strlen(g_token) < 16 || port <= 0 || port > 65535) {
		fprintf(stderr, "snapshot-receive: needs --dir and $BACKUP_TOKEN (16+ characters)\n");
		return 2;
	}
	g_dir = dir;
	log_init("snapshot-receive", EO_LOG_INFO);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
						(uint16_t)port, NULL, NULL, handle, NULL,
						MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
						MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
	if (!d) {
		log_error("cannot listen", "port=%d", port);
		return 1;
	}
	log_info("receiving snapshots", "dir=%s port=%d", dir, port);
	while (!g_stop)
		eo_sleep_ms(200);
	MHD_stop_daemon(d);
	return 0;
}
