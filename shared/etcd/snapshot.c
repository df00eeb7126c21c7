/*
 * snapshot.c — etcd's snapshot stream (snapshot.h) read with libcurl, each
 * line decoded and passed on as it arrives, checked on the way.
 *
 * The one idea: the stream is never held. A line (one message, about
 * 44 KiB of base64) is parsed by the same incremental framing as a watch
 * (kube_lines), its blob decoded and handed to the sink at once, and the
 * two hashes of snap_check advance over it; what stays in memory is one
 * message and 32 bytes of look-behind (etcd's hash at the end is only
 * known to be the end when the stream closes).
 */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "json.h"
#include "kube.h"

#define SNAP_MAX_LINE (4u << 20)

int snap_check_init(struct snap_check *k, struct eo_err *err)
{
	memset(k, 0, sizeof(*k));
	k->all = EVP_MD_CTX_new();
	k->db = EVP_MD_CTX_new();
	if (!k->all || !k->db || EVP_DigestInit_ex(k->all, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(k->db, EVP_sha256(), NULL) != 1) {
		snap_check_free(k);
		return eo_err_set(err, EO_ENOMEM, "sha256: cannot set up");
	}
	return 0;
}

void snap_check_free(struct snap_check *k)
{
	EVP_MD_CTX_free(k->all);
	EVP_MD_CTX_free(k->db);
	k->all = k->db = NULL;
}

void snap_check_feed(struct snap_check *k, const void *data, size_t n)
{
	const unsigned char *p = data;
	EVP_DigestUpdate(k->all, p, n);
	k->bytes += (int64_t)n;
	/* Everything but the last 32 bytes seen goes to the database's hash. */
	if (n >= SNAP_HASH_LEN) {
		EVP_DigestUpdate(k->db, k->tail, k->ntail);
		EVP_DigestUpdate(k->db, p, n - SNAP_HASH_LEN);
		memcpy(k->tail, p + n - SNAP_HASH_LEN, SNAP_HASH_LEN);
		k->ntail = SNAP_HASH_LEN;
		return;
	}
	size_t over = k->ntail + n > SNAP_HASH_LEN ? k->ntail + n - SNAP_HASH_LEN : 0;
	EVP_DigestUpdate(k->db, k->tail, over);
	memmove(k->tail, k->tail + over, k->ntail - over);
	k->ntail -= over;
	memcpy(k->tail + k->ntail, p, n);
	k->ntail += n;
}

static void hex(const unsigned char *md, char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

int snap_check_finish(struct snap_check *k, char sha256[65], struct eo_err *err)
{
	unsigned char all[32], db[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex(k->all, all, &n);
	EVP_DigestFinal_ex(k->db, db, &n);
	if (sha256)
		hex(all, sha256);
	size_t have = k->ntail;
	bool ok = have == SNAP_HASH_LEN && memcmp(db, k->tail, SNAP_HASH_LEN) == 0;
	int64_t bytes = k->bytes;
	snap_check_free(k);
	if (ok)
		return 0;
	if (bytes <= SNAP_HASH_LEN)
		return eo_err_set(err, EO_EPARSE, "snapshot of %lld bytes is too short to be one",
				  (long long)bytes);
	return eo_err_set(err, EO_EPARSE, "snapshot integrity: the SHA-256 etcd appended does not "
			  "match the %lld bytes before it (cut short or altered)",
			  (long long)(bytes - SNAP_HASH_LEN));
}

/* One message: its blob (malloc'd), remainingBytes and version. */
static int parse_doc(json_object *doc, char **blob, size_t *blob_len, int64_t *remaining,
		     char *version, size_t vsize, struct eo_err *err)
{
	*blob = NULL;
	*blob_len = 0;
	*remaining = 0;
	json_object *e = json_at(doc, "error");
	json_object *r = json_at(doc, "result");
	if (e)
		return eo_err_set(err, EO_ETRANSPORT, "etcd ended the snapshot: %s",
				  json_opt_str(e, "message", "(no message)"));
	if (!r || !json_object_is_type(r, json_type_object))
		return eo_err_set(err, EO_EPARSE, "snapshot stream: a line without result");
	json_object *b = json_at(r, "blob");
	const char *rem = json_opt_str(r, "remainingBytes", json_opt_str(r, "remaining_bytes", "0"));
	char *end;
	long long v = strtoll(rem, &end, 10);
	if (*end || v < 0)
		return eo_err_set(err, EO_EPARSE, "snapshot stream: remainingBytes \"%.30s\"", rem);
	*remaining = v;
	if (version && vsize)
		eo_strlcpy(version, json_opt_str(r, "version", ""), vsize);
	if (!b)
		return 0;
	if (!json_object_is_type(b, json_type_string))
		return eo_err_set(err, EO_EPARSE, "snapshot stream: blob is not a string");
	return eo_b64_decode(json_object_get_string(b), (size_t)json_object_get_string_len(b), blob,
			     blob_len, err);
}

int snap_parse_line(const char *line, size_t len, char **blob, size_t *blob_len,
		    int64_t *remaining, char *version, size_t vsize, struct eo_err *err)
{
	*blob = NULL;
	json_object *doc = json_parse(line, len, err);
	if (!doc)
		return -1;
	int rc = parse_doc(doc, blob, blob_len, remaining, version, vsize, err);
	json_object_put(doc);
	return rc;
}

struct stream {
	const struct snap_sink *sink;
	struct kube_lines *lines;
	struct snap_check check;
	struct snap_result *res;
	bool started, failed;
	int64_t expect;
	struct eo_err err;
	long status;
	struct eo_buf errbody; /* a non-200 answer */
};

static int on_doc(json_object *doc, void *ud)
{
	struct stream *s = ud;
	char *blob;
	size_t n;
	int64_t remaining;
	if (parse_doc(doc, &blob, &n, &remaining, s->started ? NULL : s->res->version,
		      sizeof(s->res->version), &s->err) != 0) {
		s->failed = true;
		return 1;
	}
	if (!s->started) {
		s->started = true;
		s->expect = (int64_t)n + remaining + SNAP_HASH_LEN;
		if (s->sink->size && s->sink->size(s->sink->ud, s->expect, &s->err) != 0) {
			free(blob);
			s->failed = true;
			return 1;
		}
	}
	if (s->check.bytes + (int64_t)n > s->expect) {
		free(blob);
		eo_err_set(&s->err, EO_EPARSE, "snapshot stream: more bytes than the %lld announced",
			   (long long)s->expect);
		s->failed = true;
		return 1;
	}
	snap_check_feed(&s->check, blob, n);
	int rc = n ? s->sink->data(s->sink->ud, blob, n, &s->err) : 0;
	free(blob);
	if (rc != 0) {
		s->failed = true;
		return 1;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct stream *s = ud;
	size_t n = size * nmemb;
	if (s->status != 200) {
		eo_buf_append(&s->errbody, p, n);
		return n;
	}
	int r = kube_lines_feed(s->lines, p, n, on_doc, s, &s->err);
	if (r < 0)
		s->failed = true;
	return r == 0 ? n : 0;
}

/* Files or PEM text in memory (the controller's credentials never touch
 * the disk), as the etcd client takes them. */
static void set_tls(CURL *h, const struct etcd_tls *tls)
{
	if (!tls)
		return;
	if (tls->ca_pem) {
		struct curl_blob b = {(void *)tls->ca_pem, strlen(tls->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	} else if (tls->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, tls->ca_file);
	}
	if (tls->cert_pem && tls->key_pem) {
		struct curl_blob cb = {(void *)tls->cert_pem, strlen(tls->cert_pem), CURL_BLOB_COPY};
		struct curl_blob kb = {(void *)tls->key_pem, strlen(tls->key_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (tls->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, tls->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, tls->key_file);
	}
}

struct status_ud {
	struct stream *s;
	CURL *h;
};

static size_t on_body_h(char *p, size_t size, size_t nmemb, void *ud)
{
	struct status_ud *su = ud;
	if (!su->s->status)
		curl_easy_getinfo(su->h, CURLINFO_RESPONSE_CODE, &su->s->status);
	return on_body(p, size, nmemb, su->s);
}

int snap_stream(const char *endpoint, const struct etcd_tls *tls, long stall_ms,
		const struct snap_sink *sink, struct snap_result *res, struct eo_err *err)
{
	memset(res, 0, sizeof(*res));
	struct stream s = {.sink = sink, .res = res};
	s.errbody.max = 64 << 10;
	if (snap_check_init(&s.check, err) != 0)
		return -1;
	s.lines = kube_lines_new(SNAP_MAX_LINE);
	CURL *h = curl_easy_init();
	if (!s.lines || !h) {
		kube_lines_free(s.lines);
		if (h)
			curl_easy_cleanup(h);
		snap_check_free(&s.check);
		return eo_err_set(err, EO_ENOMEM, "snapshot: out of memory");
	}
	char url[600], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(url, sizeof(url), "%s/v3/maintenance/snapshot", endpoint);
	struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
	struct status_ud su = {&s, h};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_ms > 0 ? (stall_ms + 999) / 1000 : 60L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body_h);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &su);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "etcd-k8s-operator/snapshot");
	set_tls(h, tls);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hs);
	curl_easy_cleanup(h);
	int ret = 0;
	if (s.failed) {
		*err = s.err;
		ret = -1;
	} else if (rc != CURLE_OK) {
		ret = eo_err_set(err, rc == CURLE_OPERATION_TIMEDOUT ? EO_ETIMEOUT : EO_ETRANSPORT,
				 "snapshot from %s: %s", endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (status != 200) {
		char text[200];
		kube_error_message(status, s.errbody.data ? s.errbody.data : "", s.errbody.len, text,
				   sizeof(text));
		ret = eo_err_set(err, (int)status, "snapshot from %s: %s", endpoint, text);
	} else if (kube_lines_finish(s.lines, on_doc, &s, &s.err) != 0 || s.failed) {
		*err = s.err;
		ret = -1;
	} else if (!s.started || s.check.bytes != s.expect) {
		ret = eo_err_set(err, EO_ETRANSPORT, "snapshot from %s: the stream ended after %lld of "
				 "%lld bytes", endpoint, (long long)s.check.bytes, (long long)s.expect);
	}
	res->size = s.check.bytes;
	if (ret == 0) {
		ret = snap_check_finish(&s.check, res->sha256, err);
	} else
		snap_check_free(&s.check);
	kube_lines_free(s.lines);
	eo_buf_free(&s.errbody);
	return ret;
}

static size_t to_buf(char *p, size_t size, size_t nmemb, void *ud)
{
	return eo_buf_append(ud, p, size * nmemb) == 0 ? size * nmemb : 0;
}

int snap_revision(const char *endpoint, const struct etcd_tls *tls, long timeout_ms,
		  int64_t *revision, struct eo_err *err)
{
	CURL *h = curl_easy_init();
	if (!h)
		return eo_err_set(err, EO_ENOMEM, "snapshot: out of memory");
	struct eo_buf b = {.max = 1 << 20};
	char url[600], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(url, sizeof(url), "%s/v3/kv/range", endpoint);
	struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	/* any key, count only: the header is what is wanted */
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"key\":\"AA==\",\"count_only\":true}");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	set_tls(h, tls);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hs);
	curl_easy_cleanup(h);
	int ret = 0;
	if (rc != CURLE_OK)
		ret = eo_err_set(err, rc == CURLE_OPERATION_TIMEDOUT ? EO_ETIMEOUT : EO_ETRANSPORT,
				 "revision from %s: %s", endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else if (status != 200)
		ret = etcd_parse_error(status, b.data ? b.data : "", b.len, err);
	else {
		json_object *doc = json_parse(b.data ? b.data : "", b.len, err);
		const char *r = doc ? json_opt_str(doc, "header.revision", "") : "";
		char *end;
		long long v = strtoll(r, &end, 10);
		if (!doc)
			ret = -1;
		else if (!*r || *end || v <= 0)
			ret = eo_err_set(err, EO_EPARSE, "revision from %s: no header.revision", endpoint);
		else
			*revision = v;
		json_object_put(doc);
	}
	eo_buf_free(&b);
	return ret;
}
