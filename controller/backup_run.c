/*
 * backup_run.c — the streamed snapshot of backup_run.h, and the checked
 * download a restore starts from.
 *
 * The one idea: two threads and a pipe, so neither libcurl transfer has to
 * be paused or buffered: the etcd side blocks in its write callback while
 * the pipe is full, the S3 side in its read callback while it is empty.
 * The S3 request needs its length up front, and etcd gives it with the
 * first message (snapshot.h), so the upload starts as soon as the stream
 * does. Failing the pipe from either side wakes the other.
 */
#include "backup_run.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "backup_pipe.h"
#include "json.h"
#include "snapshot.h"

struct producer {
	const struct bk_run_opts *o;
	struct bpipe *pipe;
	struct snap_result res;
	struct eo_err err;
	int rc;
};

static int sink_size(void *ud, int64_t total, struct eo_err *err)
{
	bpipe_set_total(((struct producer *)ud)->pipe, total);
	return 0;
}

static int sink_data(void *ud, const char *p, size_t n, struct eo_err *err)
{
	return bpipe_write(((struct producer *)ud)->pipe, p, n, err);
}

static void *produce(void *arg)
{
	struct producer *pr = arg;
	struct snap_sink sink = {sink_size, sink_data, pr};
	pr->rc = snap_stream(pr->o->etcd_endpoint, pr->o->tls, pr->o->stall_ms, &sink, &pr->res,
			     &pr->err);
	if (pr->rc == 0)
		bpipe_close(pr->pipe);
	else
		bpipe_fail(pr->pipe, &pr->err);
	return NULL;
}

struct consumer {
	struct bpipe *pipe;
	const struct bk_run_opts *o;
	int64_t total, last_report;
};

static void report(struct consumer *c, bool force)
{
	if (!c->o->progress)
		return;
	int64_t now = eo_now_ms();
	if (!force && now - c->last_report < 500)
		return;
	c->last_report = now;
	c->o->progress(c->o->progress_ud, bpipe_consumed(c->pipe), c->total);
}

static ssize_t pipe_read(void *ud, char *buf, size_t n, struct eo_err *err)
{
	struct consumer *c = ud;
	ssize_t got = bpipe_read(c->pipe, buf, n, err);
	report(c, false);
	return got;
}

static void now_rfc3339(char out[32])
{
	eo_rfc3339_now(out);
}

/* Start the producer; wait for the total. */
static int start(const struct bk_run_opts *o, struct producer *pr, pthread_t *th, int64_t *total,
		 int64_t *revision, struct eo_err *err)
{
	if (snap_revision(o->etcd_endpoint, o->tls, 5000, revision, err) != 0)
		return -1;
	pr->o = o;
	pr->pipe = bpipe_new(BK_PIPE_BYTES);
	if (!pr->pipe)
		return eo_err_set(err, EO_ENOMEM, "backup: out of memory");
	if (pthread_create(th, NULL, produce, pr) != 0) {
		bpipe_free(pr->pipe);
		return eo_err_set(err, EO_ESYS, "backup: cannot start a thread");
	}
	if (bpipe_wait_total(pr->pipe, total, err) != 0) {
		pthread_join(*th, NULL);
		bpipe_free(pr->pipe);
		return -1;
	}
	return 0;
}

/* The consumer is done (rc): stop the producer if it failed, join, and
 * decide whose error counts. */
static int finish(struct producer *pr, pthread_t th, int rc, struct eo_err *err)
{
	if (rc != 0)
		bpipe_fail(pr->pipe, err);
	pthread_join(th, NULL);
	bpipe_free(pr->pipe);
	if (pr->rc != 0) {
		/* the etcd side failed first, or its hash did not match: its
		 * error is the cause, whatever the upload then said */
		*err = pr->err;
		return -1;
	}
	return rc;
}

int bk_snapshot_to_s3(const struct bk_run_opts *o, struct s3_client *s3, const char *key,
		      struct eb_snapshot *out, struct eo_err *err)
{
	struct producer pr = {0};
	pthread_t th;
	int64_t total, revision;
	char taken[32], rev[24];
	now_rfc3339(taken);
	if (start(o, &pr, &th, &total, &revision, err) != 0)
		return -1;
	snprintf(rev, sizeof(rev), "%lld", (long long)revision);
	struct s3_meta meta[] = {{"revision", rev}, {"taken-at", taken},
				 {"etcd-cluster", o->cluster ? o->cluster : ""}};
	struct consumer c = {pr.pipe, o, total, 0};
	int rc = s3_put(s3, key, total, pipe_read, &c, meta, EO_ARRAY_LEN(meta), NULL, err);
	if (rc == 0)
		report(&c, true);
	rc = finish(&pr, th, rc, err);
	if (rc == 0) {
		/* The whole file's hash is known only now: put it in the
		 * object's metadata (a server-side copy onto itself). */
		char size[24];
		snprintf(size, sizeof(size), "%lld", (long long)pr.res.size);
		struct s3_meta all[] = {{"revision", rev}, {"taken-at", taken},
					{"etcd-cluster", o->cluster ? o->cluster : ""},
					{"sha256", pr.res.sha256}, {"size", size}};
		rc = s3_set_meta(s3, key, all, EO_ARRAY_LEN(all), err);
	}
	if (rc != 0) {
		struct eo_err e2 = {0};
		s3_delete(s3, key, &e2); /* nothing half-made stays behind */
		return -1;
	}
	memset(out, 0, sizeof(*out));
	eo_strlcpy(out->key, key, sizeof(out->key));
	out->revision = revision;
	out->size = pr.res.size;
	memcpy(out->sha256, pr.res.sha256, sizeof(out->sha256));
	eo_strlcpy(out->taken_at, taken, sizeof(out->taken_at));
	return 0;
}

static int write_all(int fd, const char *p, size_t n, const char *path, struct eo_err *err)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return eo_err_set(err, EO_ESYS, "writing %s: %s", path, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int bk_snapshot_to_file(const struct bk_run_opts *o, const char *path, struct eb_snapshot *out,
			struct eo_err *err)
{
	struct producer pr = {0};
	pthread_t th;
	int64_t total, revision;
	char taken[32], tmp[1100];
	now_rfc3339(taken);
	snprintf(tmp, sizeof(tmp), "%s.partial", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return eo_err_set(err, EO_ESYS, "creating %s: %s", tmp, strerror(errno));
	if (start(o, &pr, &th, &total, &revision, err) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	struct consumer c = {pr.pipe, o, total, 0};
	char buf[64 << 10];
	int rc = 0;
	for (;;) {
		ssize_t n = pipe_read(&c, buf, sizeof(buf), err);
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (write_all(fd, buf, (size_t)n, tmp, err) != 0) {
			rc = -1;
			break;
		}
	}
	rc = finish(&pr, th, rc, err);
	if (rc == 0 && fsync(fd) != 0)
		rc = eo_err_set(err, EO_ESYS, "fsync %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = eo_err_set(err, EO_ESYS, "renaming %s: %s", tmp, strerror(errno));
	if (rc != 0) {
		unlink(tmp);
		return -1;
	}
	report(&c, true);
	memset(out, 0, sizeof(*out));
	eo_strlcpy(out->key, path, sizeof(out->key));
	out->revision = revision;
	out->size = pr.res.size;
	memcpy(out->sha256, pr.res.sha256, sizeof(out->sha256));
	eo_strlcpy(out->taken_at, taken, sizeof(out->taken_at));
	return 0;
}

/* ---- to a receiver Pod (PVC destinations) -------------------------------- */

static size_t to_buf(char *p, size_t size, size_t nmemb, void *ud)
{
	return eo_buf_append(ud, p, size * nmemb) == 0 ? size * nmemb : 0;
}

struct http_src {
	struct consumer *c;
	struct eo_err err;
	bool failed;
};

static size_t http_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct http_src *h = ud;
	ssize_t n = pipe_read(h->c, buf, size * nmemb, &h->err);
	if (n < 0) {
		h->failed = true;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

int bk_snapshot_to_http(const struct bk_run_opts *o, const char *url, const char *token,
			const char *key, struct eb_snapshot *out, struct eo_err *err)
{
	struct producer pr = {0};
	pthread_t th;
	int64_t total, revision;
	char taken[32];
	now_rfc3339(taken);
	if (start(o, &pr, &th, &total, &revision, err) != 0)
		return -1;
	struct consumer c = {pr.pipe, o, total, 0};
	struct http_src src = {&c, {0}, false};
	char *full = eo_strdupf("%s/%s", url, key), auth[200], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	struct curl_slist *hs = curl_slist_append(NULL, auth);
	hs = curl_slist_append(hs, "Content-Type: application/octet-stream");
	struct eo_buf resp = {.max = 1 << 16};
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)total);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, http_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->stall_ms > 0 ? (o->stall_ms + 999) / 1000 : 60L);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hs);
	free(full);
	int rc = 0;
	if (src.failed)
		rc = (*err = src.err, -1);
	else if (cc != CURLE_OK)
		rc = eo_err_set(err, EO_ETRANSPORT, "PUT %s to the receiver: %s", key,
				errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (status != 200)
		rc = eo_err_set(err, (int)status, "PUT %s to the receiver: HTTP %ld %.150s", key, status,
				resp.data ? resp.data : "");
	rc = finish(&pr, th, rc, err);
	if (rc == 0) {
		/* what the volume holds must be what was sent */
		struct eo_err e2 = {0};
		json_object *j = json_parse(resp.data ? resp.data : "", resp.len, &e2);
		const char *sha = j ? json_opt_str(j, "sha256", "") : "";
		int64_t size = j ? json_opt_int(j, "size", -1) : -1;
		if (size != pr.res.size || strcmp(sha, pr.res.sha256) != 0)
			rc = eo_err_set(err, EO_EPARSE, "the receiver stored %lld bytes with SHA-256 %.16s…, "
					"sent %lld with %.16s…", (long long)size, sha,
					(long long)pr.res.size, pr.res.sha256);
		json_object_put(j);
	}
	eo_buf_free(&resp);
	if (rc != 0)
		return -1;
	report(&c, true);
	memset(out, 0, sizeof(*out));
	eo_strlcpy(out->key, key, sizeof(out->key));
	out->revision = revision;
	out->size = pr.res.size;
	memcpy(out->sha256, pr.res.sha256, sizeof(out->sha256));
	eo_strlcpy(out->taken_at, taken, sizeof(out->taken_at));
	return 0;
}

int bk_http_delete(const char *url, const char *token, const char *key, struct eo_err *err)
{
	char *full = eo_strdupf("%s/%s", url, key), auth[200], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	struct curl_slist *hs = curl_slist_append(NULL, auth);
	struct eo_buf resp = {.max = 1 << 16};
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hs);
	free(full);
	eo_buf_free(&resp);
	if (cc != CURLE_OK)
		return eo_err_set(err, EO_ETRANSPORT, "DELETE %s: %s", key, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	if (status != 200)
		return eo_err_set(err, (int)status, "DELETE %s: HTTP %ld", key, status);
	return 0;
}

/* ---- downloads ---------------------------------------------------------- */

struct fetch {
	int fd;
	const char *path;
	struct snap_check check;
};

static int fetch_write(void *ud, const char *p, size_t n, struct eo_err *err)
{
	struct fetch *f = ud;
	snap_check_feed(&f->check, p, n);
	return write_all(f->fd, p, n, f->path, err);
}

/* Check both hashes once all bytes are in. */
static int fetch_verdict(struct fetch *f, const char *want, const char *source, struct eo_err *err)
{
	char sha[65];
	if (snap_check_finish(&f->check, sha, err) != 0) {
		err->code = BK_EBAD_SNAPSHOT;
		eo_err_prefix(err, "%s: ", source);
		return -1;
	}
	if (strcasecmp(sha, want) != 0)
		return eo_err_set(err, BK_EBAD_SNAPSHOT, "%s: SHA-256 %.16s… does not match the "
				  "recorded %.16s…: the snapshot was altered or replaced", source, sha, want);
	return 0;
}

int bk_fetch_s3(struct s3_client *s3, const char *key, const char *want_sha256, const char *path,
		struct eo_err *err)
{
	char want[72];
	eo_strlcpy(want, want_sha256 ? want_sha256 : "", sizeof(want));
	struct s3_object info;
	if (s3_head(s3, key, &info, err) != 0) {
		if (err->code == EO_HTTP_NOT_FOUND)
			err->code = BK_EBAD_SNAPSHOT;
		return -1;
	}
	if (!want[0])
		eo_strlcpy(want, info.meta_sha256, sizeof(want));
	if (strlen(want) != 64)
		return eo_err_set(err, BK_EBAD_SNAPSHOT, "%s: no SHA-256 recorded for it (neither in the "
				  "EtcdBackup's status nor in the object's metadata): not used", key);
	struct fetch f = {.path = path};
	f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (f.fd < 0)
		return eo_err_set(err, EO_ESYS, "creating %s: %s", path, strerror(errno));
	if (snap_check_init(&f.check, err) != 0) {
		close(f.fd);
		return -1;
	}
	int rc = s3_get(s3, key, fetch_write, &f, NULL, err);
	if (rc != 0) {
		snap_check_free(&f.check);
		if (err->code == EO_HTTP_NOT_FOUND)
			err->code = BK_EBAD_SNAPSHOT;
	} else {
		rc = fetch_verdict(&f, want, key, err);
	}
	if (rc == 0 && fsync(f.fd) != 0)
		rc = eo_err_set(err, EO_ESYS, "fsync %s: %s", path, strerror(errno));
	close(f.fd);
	if (rc != 0)
		unlink(path);
	return rc;
}

int bk_fetch_file(const char *src, const char *want_sha256, const char *path, struct eo_err *err)
{
	if (!want_sha256 || strlen(want_sha256) != 64)
		return eo_err_set(err, BK_EBAD_SNAPSHOT, "%s: no SHA-256 recorded for it: not used", src);
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return eo_err_set(err, errno == ENOENT ? BK_EBAD_SNAPSHOT : EO_ESYS, "opening %s: %s", src,
				  strerror(errno));
	struct fetch f = {.path = path};
	f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (f.fd < 0) {
		close(in);
		return eo_err_set(err, EO_ESYS, "creating %s: %s", path, strerror(errno));
	}
	int rc = snap_check_init(&f.check, err);
	char buf[64 << 10];
	while (rc == 0) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = eo_err_set(err, EO_ESYS, "reading %s: %s", src, strerror(errno));
			snap_check_free(&f.check);
			break;
		}
		if (n == 0) {
			rc = fetch_verdict(&f, want_sha256, src, err);
			break;
		}
		if (fetch_write(&f, buf, (size_t)n, err) != 0) {
			snap_check_free(&f.check);
			rc = -1;
		}
	}
	close(in);
	if (rc == 0 && fsync(f.fd) != 0)
		rc = eo_err_set(err, EO_ESYS, "fsync %s: %s", path, strerror(errno));
	close(f.fd);
	if (rc != 0)
		unlink(path);
	return rc;
}
