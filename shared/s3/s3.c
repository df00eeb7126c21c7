/*
 * s3.c — the S3 client of s3.h: one libcurl easy handle per request, signed
 * by libcurl's SigV4, bodies streamed both ways.
 *
 * The one idea: nothing is ever held whole. An upload's body is pulled from
 * the caller's read callback as libcurl sends it (Content-Length is known:
 * the part's or the object's size), and a download's body is pushed to the
 * caller's write callback as it arrives; only small bodies (errors, lists,
 * the multipart completion) are kept, each bounded. So a snapshot of any
 * size passes through a few hundred kilobytes of buffers.
 *
 * Facts this builds on (libcurl 7.88, checked against SeaweedFS's S3
 * gateway): libcurl's SigV4 signs the query as written, so queries are
 * built canonical here (sorted, encoded, "uploads=" for a bare name); it
 * signs x-amz-content-sha256 when the request carries it, so every request
 * sets it — the SHA-256 of a body built here, UNSIGNED-PAYLOAD for a
 * streamed one.
 */
#include "s3.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#define S3_MIN_PART (5LL << 20)
#define S3_MAX_PARTS 10000
#define S3_MAX_SMALL_BODY (4u << 20) /* lists and errors */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client {
	char *endpoint, *bucket, *region, *access_key, *secret_key, *ca_file;
	bool path_style;
	long connect_timeout_ms, stall_timeout_ms;
	int64_t part_size;
	char sigv4[128];
};

/* ---- pure helpers ------------------------------------------------------ */

char *s3_uri_encode(const char *s, bool keep_slash)
{
	struct eo_buf b = {0};
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/'))
			eo_buf_append(&b, p, 1);
		else
			eo_buf_printf(&b, "%%%02X", *p);
	}
	if (!b.data)
		eo_buf_append(&b, "", 0);
	return eo_buf_steal(&b);
}

char *s3_url(const char *endpoint, const char *bucket, bool path_style, const char *key,
	     const char *query)
{
	const char *sep = strstr(endpoint, "://");
	if (!sep || sep == endpoint || !sep[3])
		return NULL;
	size_t scheme_len = (size_t)(sep - endpoint);
	const char *host = sep + 3;
	size_t host_len = strcspn(host, "/");
	char *ekey = s3_uri_encode(key ? key : "", true);
	char *out;
	if (path_style)
		out = eo_strdupf("%.*s://%.*s/%s/%s%s%s", (int)scheme_len, endpoint, (int)host_len, host,
				 bucket, ekey, query && *query ? "?" : "", query ? query : "");
	else
		out = eo_strdupf("%.*s://%s.%.*s/%s%s%s", (int)scheme_len, endpoint, bucket,
				 (int)host_len, host, ekey, query && *query ? "?" : "",
				 query ? query : "");
	free(ekey);
	return out;
}

static void xml_decode(const char *s, size_t n, char *out, size_t size)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < size;) {
		bool done = false;
		if (s[i] == '&')
			for (size_t k = 0; k < EO_ARRAY_LEN(ents); k++) {
				size_t l = strlen(ents[k].ent);
				if (i + l <= n && strncmp(s + i, ents[k].ent, l) == 0) {
					out[o++] = ents[k].c;
					i += l;
					done = true;
					break;
				}
			}
		if (!done)
			out[o++] = s[i++];
	}
	if (size)
		out[o] = '\0';
}

int s3_xml_next(const char *xml, const char *tag, const char **pos, char *out, size_t size)
{
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *from = pos && *pos ? *pos : xml;
	const char *a = strstr(from, open);
	if (!a)
		return -1;
	a += strlen(open);
	const char *b = strstr(a, close);
	if (!b)
		return -1;
	xml_decode(a, (size_t)(b - a), out, size);
	if (pos)
		*pos = b + strlen(close);
	return 0;
}

void s3_error_text(long status, const char *body, char *out, size_t size)
{
	char code[96] = "", msg[160] = "";
	if (body) {
		s3_xml_next(body, "Code", NULL, code, sizeof(code));
		s3_xml_next(body, "Message", NULL, msg, sizeof(msg));
	}
	if (code[0])
		snprintf(out, size, "HTTP %ld %s%s%s", status, code, msg[0] ? ": " : "", msg);
	else
		snprintf(out, size, "HTTP %ld", status);
}

char *s3_complete_body(const char (*etags)[80], int n)
{
	struct eo_buf b = {0};
	eo_buf_printf(&b, "<CompleteMultipartUpload>");
	for (int i = 0; i < n; i++)
		eo_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
			      etags[i]);
	eo_buf_printf(&b, "</CompleteMultipartUpload>");
	return eo_buf_steal(&b);
}

int64_t s3_part_size(int64_t size, int64_t want)
{
	int64_t p = want > 0 ? want : 16LL << 20;
	if (size / p >= S3_MAX_PARTS)
		p = size / (S3_MAX_PARTS - 1) + 1;
	return p;
}

/* ---- the client --------------------------------------------------------- */

struct s3_client *s3_client_new(const struct s3_conf *conf, struct eo_err *err)
{
	if (!conf->bucket || !*conf->bucket)
		return eo_err_set(err, EO_EINVAL, "s3: no bucket"), NULL;
	if (!conf->endpoint || !*conf->endpoint)
		return eo_err_set(err, EO_EINVAL, "s3: no endpoint"), NULL;
	struct s3_client *c = calloc(1, sizeof(*c));
	if (!c)
		return eo_err_set(err, EO_ENOMEM, "s3: out of memory"), NULL;
	const char *ep = conf->endpoint;
	c->endpoint = strstr(ep, "://") ? eo_strdup0(ep) : eo_strdupf("https://%s", ep);
	size_t n = strlen(c->endpoint);
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	c->bucket = eo_strdup0(conf->bucket);
	c->region = eo_strdup0(conf->region && *conf->region ? conf->region : "us-east-1");
	c->access_key = eo_strdup0(conf->access_key ? conf->access_key : "");
	c->secret_key = eo_strdup0(conf->secret_key ? conf->secret_key : "");
	c->ca_file = eo_strdup0(conf->ca_file);
	c->path_style = conf->path_style;
	c->connect_timeout_ms = conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 10000;
	c->stall_timeout_ms = conf->stall_timeout_ms > 0 ? conf->stall_timeout_ms : 60000;
	c->part_size = conf->part_size > 0 ? conf->part_size : 16LL << 20;
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", c->region);
	char *probe = s3_url(c->endpoint, c->bucket, c->path_style, "", NULL);
	if (!probe) {
		s3_client_free(c);
		return eo_err_set(err, EO_EINVAL, "s3: endpoint \"%.100s\" is not a URL", ep), NULL;
	}
	free(probe);
	return c;
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void s3_client_free(struct s3_client *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->bucket);
	free(c->region);
	wipe_free(c->access_key);
	wipe_free(c->secret_key);
	free(c->ca_file);
	free(c);
}

struct req {
	const char *method;
	const char *key;
	const char *query;
	const struct s3_meta *meta;
	size_t nmeta;
	const char *extra_header[2];
	/* body: in memory (signed), or streamed (unsigned), or none */
	const char *body;
	size_t body_len;
	s3_read_fn rd;
	void *rd_ud;
	int64_t upload_size, sent;
	struct eo_err rd_err;
	bool rd_failed;
	/* answer */
	s3_write_fn wr;
	void *wr_ud;
	struct eo_err wr_err;
	bool wr_failed;
	long status;
	struct eo_buf resp;
	struct s3_object info;
};

static ssize_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct req *r = ud;
	size_t want = size * nmemb;
	int64_t left = r->upload_size - r->sent;
	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	ssize_t got = r->rd(r->rd_ud, buf, want, &r->rd_err);
	if (got < 0 || (got == 0 && left > 0)) {
		if (got == 0)
			eo_err_set(&r->rd_err, EO_EINVAL, "the source ended %lld bytes early",
				   (long long)left);
		r->rd_failed = true;
		return CURL_READFUNC_ABORT;
	}
	r->sent += got;
	return got;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct req *r = ud;
	size_t n = size * nmemb;
	if (r->wr && r->status >= 200 && r->status < 300) {
		if (r->wr(r->wr_ud, p, n, &r->wr_err) != 0) {
			r->wr_failed = true;
			return 0;
		}
		return n;
	}
	return eo_buf_append(&r->resp, p, n) == 0 ? n : 0;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t size)
{
	size_t l = strlen(name);
	if (n <= l + 1 || strncasecmp(line, name, l) != 0 || line[l] != ':')
		return;
	const char *v = line + l + 1;
	const char *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(out, size, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct req *r = ud;
	size_t n = size * nmemb;
	if (n > 5 && strncmp(p, "HTTP/", 5) == 0) { /* a status line: this response's */
		const char *sp = memchr(p, ' ', n);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->info.etag[0] = r->info.meta_sha256[0] = r->info.meta_revision[0] = '\0';
		return n;
	}
	char len[32] = "";
	header_value(p, n, "ETag", r->info.etag, sizeof(r->info.etag));
	header_value(p, n, "Last-Modified", r->info.last_modified, sizeof(r->info.last_modified));
	header_value(p, n, "x-amz-meta-sha256", r->info.meta_sha256, sizeof(r->info.meta_sha256));
	header_value(p, n, "x-amz-meta-revision", r->info.meta_revision,
		     sizeof(r->info.meta_revision));
	header_value(p, n, "Content-Length", len, sizeof(len));
	if (len[0])
		r->info.size = strtoll(len, NULL, 10);
	return n;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* One request. 0 when S3 answered 2xx; else -1 with err: the HTTP status
 * and S3's code and message, or the transport failure, or the callbacks'
 * own error. Messages name the method and key, never a credential. */
static int perform(struct s3_client *c, struct req *r, struct eo_err *err)
{
	char *url = s3_url(c->endpoint, c->bucket, c->path_style, r->key, r->query);
	if (!url)
		return eo_err_set(err, EO_EINVAL, "s3: bad endpoint");
	CURL *h = curl_easy_init();
	if (!h) {
		free(url);
		return eo_err_set(err, EO_ENOMEM, "s3: no curl handle");
	}
	char hdr[600], errbuf[CURL_ERROR_SIZE] = "";
	/* No "Expect:" to drop libcurl's 100-continue: libcurl's SigV4 signs
	 * every header set here, and that one is never sent. */
	struct curl_slist *hs = NULL;
	char sha[65] = "";
	if (r->body)
		sha256_hex(r->body, r->body_len, sha);
	snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s",
		 r->rd ? "UNSIGNED-PAYLOAD" : r->body ? sha : EMPTY_SHA256);
	hs = curl_slist_append(hs, hdr);
	for (size_t i = 0; i < r->nmeta; i++) {
		/* an empty value would be a header libcurl drops but signs */
		if (!r->meta[i].value || !*r->meta[i].value)
			continue;
		snprintf(hdr, sizeof(hdr), "x-amz-meta-%s: %s", r->meta[i].name, r->meta[i].value);
		hs = curl_slist_append(hs, hdr);
	}
	for (size_t i = 0; i < EO_ARRAY_LEN(r->extra_header); i++)
		if (r->extra_header[i])
			hs = curl_slist_append(hs, r->extra_header[i]);
	if (r->body)
		hs = curl_slist_append(hs, "Content-Type: application/xml");
	else if (r->rd)
		hs = curl_slist_append(hs, "Content-Type: application/octet-stream");

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	/* stalled: under 1 byte/s for the stall timeout */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (c->stall_timeout_ms + 999) / 1000);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "etcd-k8s-operator/s3");
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	r->resp.max = S3_MAX_SMALL_BODY;
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->rd ? r->upload_size : 0));
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hs);
	curl_easy_cleanup(h);
	free(url);
	const char *what = r->key && *r->key ? r->key : c->bucket;
	if (r->rd_failed) {
		*err = r->rd_err;
		eo_err_prefix(err, "s3 %s %s: ", r->method, what);
		return -1;
	}
	if (r->wr_failed) {
		*err = r->wr_err;
		return -1;
	}
	if (rc != CURLE_OK) {
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
		return eo_err_set(err, rc == CURLE_OPERATION_TIMEDOUT ? EO_ETIMEOUT : EO_ETRANSPORT,
				  "s3 %s %s: %s", r->method, what, why);
	}
	r->status = status;
	if (status < 200 || status >= 300) {
		char text[200];
		s3_error_text(status, r->resp.data, text, sizeof(text));
		return eo_err_set(err, (int)status, "s3 %s %s: %s%s", r->method, what, text,
				  status == 404 && strcmp(r->method, "HEAD") == 0 ? " (no such key)" : "");
	}
	return 0;
}

static void req_done(struct req *r)
{
	eo_buf_free(&r->resp);
}

static int put_once(struct s3_client *c, const char *key, const char *query, int64_t size,
		    s3_read_fn rd, void *ud, const struct s3_meta *meta, size_t nmeta, char etag[80],
		    struct eo_err *err)
{
	struct req r = {.method = "PUT", .key = key, .query = query, .meta = meta, .nmeta = nmeta,
			.rd = rd, .rd_ud = ud, .upload_size = size};
	int rc = perform(c, &r, err);
	if (rc == 0 && etag)
		eo_strlcpy(etag, r.info.etag, 80);
	req_done(&r);
	return rc;
}

static void abort_upload(struct s3_client *c, const char *key, const char *upload_id)
{
	char *id = s3_uri_encode(upload_id, false);
	char *q = eo_strdupf("uploadId=%s", id);
	struct req r = {.method = "DELETE", .key = key, .query = q};
	struct eo_err e = {0};
	perform(c, &r, &e); /* best effort: a bucket lifecycle rule is the backstop */
	req_done(&r);
	free(q);
	free(id);
}

int s3_put(struct s3_client *c, const char *key, int64_t size, s3_read_fn rd, void *ud,
	   const struct s3_meta *meta, size_t nmeta, struct s3_put_info *info, struct eo_err *err)
{
	struct s3_put_info dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (size <= c->part_size) {
		if (put_once(c, key, NULL, size, rd, ud, meta, nmeta, info->etag, err) != 0)
			return -1;
		info->bytes = size;
		return 0;
	}
	int64_t part = s3_part_size(size, c->part_size);
	int nparts = (int)((size + part - 1) / part);
	struct req r = {.method = "POST", .key = key, .query = "uploads=", .meta = meta,
			.nmeta = nmeta, .body = "", .body_len = 0};
	if (perform(c, &r, err) != 0) {
		req_done(&r);
		return -1;
	}
	char upload_id[512];
	if (!r.resp.data || s3_xml_next(r.resp.data, "UploadId", NULL, upload_id, sizeof(upload_id)) != 0) {
		req_done(&r);
		return eo_err_set(err, EO_EPARSE, "s3 POST %s?uploads: no UploadId in the answer", key);
	}
	req_done(&r);
	char (*etags)[80] = calloc((size_t)nparts, 80);
	char *id = s3_uri_encode(upload_id, false);
	int rc = 0;
	for (int i = 0; i < nparts && rc == 0; i++) {
		int64_t len = i == nparts - 1 ? size - part * i : part;
		char *q = eo_strdupf("partNumber=%d&uploadId=%s", i + 1, id);
		rc = put_once(c, key, q, len, rd, ud, NULL, 0, etags[i], err);
		free(q);
		if (rc == 0) {
			info->parts = i + 1;
			info->bytes += len;
		}
	}
	if (rc == 0) {
		char *body = s3_complete_body((const char (*)[80])etags, nparts);
		char *q = eo_strdupf("uploadId=%s", id);
		struct req cr = {.method = "POST", .key = key, .query = q, .body = body,
				 .body_len = strlen(body)};
		rc = perform(c, &cr, err);
		/* S3 may answer 200 with an <Error> body when completing fails late */
		char code[96];
		if (rc == 0 && cr.resp.data && strstr(cr.resp.data, "<Error>") &&
		    s3_xml_next(cr.resp.data, "Code", NULL, code, sizeof(code)) == 0)
			rc = eo_err_set(err, EO_ETRANSPORT, "s3 completing %s: %s", key, code);
		if (rc == 0 && cr.resp.data)
			s3_xml_next(cr.resp.data, "ETag", NULL, info->etag, sizeof(info->etag));
		req_done(&cr);
		free(q);
		free(body);
	}
	if (rc != 0)
		abort_upload(c, key, upload_id);
	free(id);
	free(etags);
	return rc;
}

int s3_get(struct s3_client *c, const char *key, s3_write_fn wr, void *ud, struct s3_object *info,
	   struct eo_err *err)
{
	struct req r = {.method = "GET", .key = key, .wr = wr, .wr_ud = ud};
	int rc = perform(c, &r, err);
	if (rc == 0 && info) {
		*info = r.info;
		eo_strlcpy(info->key, key, sizeof(info->key));
	}
	req_done(&r);
	return rc;
}

int s3_head(struct s3_client *c, const char *key, struct s3_object *info, struct eo_err *err)
{
	struct req r = {.method = "HEAD", .key = key};
	int rc = perform(c, &r, err);
	if (rc == 0 && info) {
		*info = r.info;
		eo_strlcpy(info->key, key, sizeof(info->key));
	}
	req_done(&r);
	return rc;
}

int s3_delete(struct s3_client *c, const char *key, struct eo_err *err)
{
	struct req r = {.method = "DELETE", .key = key};
	int rc = perform(c, &r, err);
	req_done(&r);
	if (rc != 0 && err->code == EO_HTTP_NOT_FOUND) {
		eo_err_clear(err);
		rc = 0;
	}
	return rc;
}

int s3_list(struct s3_client *c, const char *prefix,
	    int (*fn)(const struct s3_object *o, void *ud), void *ud, struct eo_err *err)
{
	char token[1024] = "";
	char *ep = s3_uri_encode(prefix ? prefix : "", false);
	int rc = 0;
	for (;;) {
		char *et = s3_uri_encode(token, false);
		/* canonical: sorted by name */
		char *q = token[0] ? eo_strdupf("continuation-token=%s&list-type=2&prefix=%s", et, ep)
				   : eo_strdupf("list-type=2&prefix=%s", ep);
		free(et);
		struct req r = {.method = "GET", .key = "", .query = q};
		rc = perform(c, &r, err);
		free(q);
		if (rc != 0) {
			req_done(&r);
			break;
		}
		const char *body = r.resp.data ? r.resp.data : "";
		const char *pos = body;
		char item[4096];
		bool stop = false;
		while (!stop && s3_xml_next(body, "Contents", &pos, item, sizeof(item)) == 0) {
			struct s3_object o = {0};
			char size[32] = "";
			s3_xml_next(item, "Key", NULL, o.key, sizeof(o.key));
			s3_xml_next(item, "Size", NULL, size, sizeof(size));
			s3_xml_next(item, "ETag", NULL, o.etag, sizeof(o.etag));
			s3_xml_next(item, "LastModified", NULL, o.last_modified, sizeof(o.last_modified));
			o.size = strtoll(size, NULL, 10);
			stop = fn(&o, ud) != 0;
		}
		char truncated[16] = "";
		s3_xml_next(body, "IsTruncated", NULL, truncated, sizeof(truncated));
		token[0] = '\0';
		if (!stop && strcmp(truncated, "true") == 0)
			s3_xml_next(body, "NextContinuationToken", NULL, token, sizeof(token));
		req_done(&r);
		if (stop || !token[0])
			break;
	}
	free(ep);
	return rc;
}

int s3_make_bucket(struct s3_client *c, struct eo_err *err)
{
	struct req r = {.method = "PUT", .key = ""};
	int rc = perform(c, &r, err);
	req_done(&r);
	if (rc != 0 && err->code == EO_HTTP_CONFLICT) {
		eo_err_clear(err);
		rc = 0;
	}
	return rc;
}

int s3_set_meta(struct s3_client *c, const char *key, const struct s3_meta *meta, size_t nmeta,
		struct eo_err *err)
{
	char *ek = s3_uri_encode(key, true);
	char *src = eo_strdupf("x-amz-copy-source: /%s/%s", c->bucket, ek);
	free(ek);
	struct req r = {.method = "PUT", .key = key, .meta = meta, .nmeta = nmeta,
			.extra_header = {src, "x-amz-metadata-directive: REPLACE"}};
	int rc = perform(c, &r, err);
	char code[96];
	if (rc == 0 && r.resp.data && strstr(r.resp.data, "<Error>") &&
	    s3_xml_next(r.resp.data, "Code", NULL, code, sizeof(code)) == 0)
		rc = eo_err_set(err, EO_ETRANSPORT, "s3 copying %s onto itself: %s", key, code);
	req_done(&r);
	free(src);
	return rc;
}
