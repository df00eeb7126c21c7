/*
 * etcd.c — the I/O half of the etcd v3 JSON-gateway client: one libcurl
 * handle per client, a deadline per call, and the rule for moving between
 * endpoints. Bodies are built and answers parsed in etcd_parse.c.
 *
 * The one idea: whether a failed call may be tried at the next endpoint
 * depends on whether etcd could have acted on it. A refused connection, or a
 * learner's "rpc not supported for learner" (refused before anything else
 * happens), means nothing was done, so the next endpoint is tried. A write
 * that timed out after it was sent may still be applied (raft commits it
 * later), so it is reported as EO_ETIMEOUT and the caller observes before it
 * acts again; reads may move on after any transport failure. An answer from
 * etcd is final. One deadline covers the whole call, all endpoints included,
 * so "every call returns within timeout_ms" holds whatever the endpoints do.
 *
 * Names are resolved on every call (CURLOPT_DNS_CACHE_TIMEOUT 0): in the
 * test bed and in Kubernetes, a Pod's name moves to a new address when it
 * comes back. libcurl matches a connection for reuse by host *name*, so a
 * kept connection could still lead to the address a name used to have (a
 * deleted Pod's IP that silently drops packets): connections are reused
 * only for endpoints given as IP addresses, and a name gets a fresh
 * connection on every call. Correctness first; a connect is cheap here.
 *
 * Facts checked against etcd 3.4.23 (/usr/bin/etcd) with curl, 2026-11:
 *  - Paths: POST /v3/cluster/member/{list,add,promote,remove},
 *    /v3/maintenance/status, /v3/maintenance/transfer-leadership,
 *    /v3/kv/{put,range}; GET on a /v3 path is 405 "Method Not Allowed";
 *    an unknown path is 404 "Not Found" (text, not JSON).
 *    GET /health → {"health":"true"} (200) or {"health":"false"} (503),
 *    no "reason" field in 3.4. A learner answers {"health":"true"}.
 *  - Request fields: member add {"peerURLs":[..],"isLearner":true};
 *    promote/remove {"ID":"<dec>"} (a JSON number is accepted too);
 *    transfer {"targetID":"<dec>"} answers {} (also when the target is
 *    already the leader). Range accepts both range_end/count_only and
 *    rangeEnd/countOnly. Unknown fields are ignored: 3.4's member list
 *    answers {"linearizable":true} exactly like {}.
 *  - Answers: uint64 values are decimal strings ("15648725913275007851",
 *    above 2^63); zero/false/empty fields are omitted (a voter has no
 *    "isLearner", a member added but not started has no "name" and no
 *    "clientURLs", a status without a leader has no "leader" and carries
 *    "errors":["etcdserver: no leader"]). Member list is sorted by id.
 *    Member fields are "ID","name","peerURLs","clientURLs","isLearner";
 *    range kvs use snake case ("create_revision", "mod_revision").
 *  - 3.4.23's status has "raftAppliedIndex", "dbSizeInUse" and, on a
 *    learner, "isLearner":true.
 *  - A learner refuses member list, range (non-serializable) and put with
 *    503 "rpc not supported for learner"; status and health work.
 *  - Member list on 3.4 is served locally: a member cut off from quorum
 *    still answers it (stale) while range and status show the loss.
 *  - Promote of a learner not (yet) in sync, also one never started: 412
 *    "can only promote a learner member which is in sync with leader";
 *    of a voter: 412 "can only promote a learner member".
 *  - A second learner: 412 "too many learner members in cluster".
 *  - --strict-reconfig-check with a voter down: add and remove (of a live
 *    voter) answer 503 "unhealthy cluster"; the same for ~2.5 s after the
 *    members come back.
 *  - transfer-leadership at a follower: 412 "not leader" (whatever the
 *    target); at the leader with a learner or unknown target: 412 "bad
 *    leader transferee"; at a learner: 503 "rpc not supported for learner".
 *  - Without quorum: member remove hangs (no answer after 15 s); put answers
 *    500 "context deadline exceeded" and range 503 "request timed out"
 *    after ~6 s. A removed leader's process exits by itself.
 */
#include "etcd.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_DEFAULT_TIMEOUT_MS 5000
/* etcdctl's default --dial-timeout: a connect that takes longer goes to the
 * next endpoint while the call's deadline still has time left. */
#define ETCD_DIAL_TIMEOUT_MS 2000
#define ETCD_MAX_ANSWER (8u << 20)

struct etcd_client {
	char **endpoints;
	size_t n;
	char *ca_file, *cert_file, *key_file;
	char *ca_pem, *cert_pem, *key_pem;
	long timeout_ms;
	CURL *h; /* kept between calls for connection reuse */
};

/* One HTTP exchange's outcome. */
struct reply {
	long status;
	struct eo_buf body;
	const char *endpoint; /* which endpoint answered (borrowed from the client) */
};

struct etcd_client *etcd_client_new(const char *const *endpoints, size_t n,
				    const struct etcd_tls *tls, long timeout_ms,
				    struct eo_err *err)
{
	if (!endpoints || n == 0) {
		eo_err_set(err, EO_EINVAL, "etcd client: no endpoints given (want e.g. http://127.0.0.1:2379)");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *e = endpoints[i];
		if (!e || (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0) ||
		    strlen(e) < 9) {
			eo_err_set(err, EO_EINVAL,
				   "etcd client: endpoint \"%.100s\" is not an http:// or https:// URL",
				   e ? e : "(null)");
			return NULL;
		}
	}
	struct etcd_client *c = calloc(1, sizeof(*c));
	if (!c) {
		eo_err_set(err, EO_ENOMEM, "etcd client: out of memory");
		return NULL;
	}
	c->h = curl_easy_init();
	c->endpoints = calloc(n, sizeof(char *));
	if (!c->h || !c->endpoints) {
		eo_err_set(err, EO_ENOMEM, "etcd client: cannot initialise libcurl");
		etcd_client_free(c);
		return NULL;
	}
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		c->endpoints[i] = eo_strdup0(endpoints[i]);
		size_t l = strlen(c->endpoints[i]);
		while (l > 0 && c->endpoints[i][l - 1] == '/')
			c->endpoints[i][--l] = '\0';
	}
	if (tls) {
		c->ca_file = eo_strdup0(tls->ca_file);
		c->cert_file = eo_strdup0(tls->cert_file);
		c->key_file = eo_strdup0(tls->key_file);
		c->ca_pem = eo_strdup0(tls->ca_pem);
		c->cert_pem = eo_strdup0(tls->cert_pem);
		c->key_pem = eo_strdup0(tls->key_pem);
		if (!c->cert_file != !c->key_file || !c->cert_pem != !c->key_pem) {
			eo_err_set(err, EO_EINVAL,
				   "etcd client: a client certificate needs both cert_file and key_file");
			etcd_client_free(c);
			return NULL;
		}
	}
	etcd_client_set_timeout(c, timeout_ms);
	return c;
}

void etcd_client_free(struct etcd_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	for (size_t i = 0; c->endpoints && i < c->n; i++)
		free(c->endpoints[i]);
	free(c->endpoints);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_pem);
	free(c->cert_pem);
	if (c->key_pem)
		explicit_bzero(c->key_pem, strlen(c->key_pem));
	free(c->key_pem);
	free(c);
}

void etcd_client_set_timeout(struct etcd_client *c, long timeout_ms)
{
	if (c)
		c->timeout_ms = timeout_ms > 0 ? timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
}

/* True when the URL's host is an IP literal ("http://10.0.0.1:2379",
 * "https://[::1]:2379"), whose connections may be reused. */
static bool host_is_ip(const char *url)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	if (*h == '[')
		return true;
	char host[64];
	size_t n = strcspn(h, ":/");
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	struct in_addr a;
	return inet_pton(AF_INET, host, &a) == 1;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct eo_buf *b = ud;
	return eo_buf_append(b, p, size * nmemb) == 0 ? size * nmemb : 0;
}

/*
 * One request to one endpoint, bounded by the absolute deadline. 0 when any
 * HTTP answer came back (r->status says which); -1 with EO_ETRANSPORT or
 * EO_ETIMEOUT otherwise, *sent telling whether the request left this host.
 * body NULL → GET.
 */
static int exchange(struct etcd_client *c, const char *endpoint, const char *path,
		    const char *body, int64_t deadline, struct reply *r, bool *sent,
		    struct eo_err *err)
{
	CURL *h = c->h;
	char url[512], errbuf[CURL_ERROR_SIZE] = "";
	long left = (long)(deadline - eo_now_ms());
	*sent = false;
	r->status = 0;
	eo_buf_free(&r->body);
	r->body.max = ETCD_MAX_ANSWER;
	if (left <= 0)
		return eo_err_set(err, EO_ETIMEOUT, "no time left of the %ld ms deadline",
				  c->timeout_ms);
	snprintf(url, sizeof(url), "%s%s", endpoint, path);

	curl_easy_reset(h); /* keeps open connections; drops last call's options */
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:"); /* no 1 s wait for 100-continue */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 left < ETCD_DIAL_TIMEOUT_MS ? left : (long)ETCD_DIAL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
	if (!host_is_ip(endpoint)) {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_easy_setopt(h, CURLOPT_USERAGENT, "etcd-k8s-operator/etcd-client");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	if (c->ca_pem) {
		struct curl_blob b = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	} else if (c->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert_pem) {
		struct curl_blob cb = {c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY};
		struct curl_blob kb = {c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	}
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

	long req_size = 0;
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req_size);
	*sent = req_size > 0;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		return 0;
	}
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		if (!*sent)
			return eo_err_set(err, EO_ETIMEOUT, "could not connect within %ld ms (%s)",
					  left < ETCD_DIAL_TIMEOUT_MS ? left : (long)ETCD_DIAL_TIMEOUT_MS, why);
		return eo_err_set(err, EO_ETIMEOUT, "no answer within the %ld ms deadline", c->timeout_ms);
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return eo_err_set(err, EO_ETRANSPORT, "cannot connect (%s); is etcd running there?", why);
	case CURLE_WRITE_ERROR:
		return eo_err_set(err, EO_ETRANSPORT, "answer larger than %u bytes", ETCD_MAX_ANSWER);
	case CURLE_GOT_NOTHING:
		if (strncmp(endpoint, "http://", 7) == 0)
			return eo_err_set(err, EO_ETRANSPORT,
					  "%s (if the endpoint serves TLS, use https://)", why);
		/* fall through */
	default:
		/* A refused client certificate shows up under several codes
		 * (receive error, getpeername, empty reply): on an https
		 * endpoint, point at the TLS files. */
		if (strncmp(endpoint, "https://", 8) == 0 || strstr(why, "SSL"))
			return eo_err_set(err, EO_ETRANSPORT,
					  "TLS: %s (check the CA, client certificate and key files)", why);
		return eo_err_set(err, EO_ETRANSPORT, "%s", why);
	}
}

/* A step of a call: most calls are one request; a linearizable member list
 * on 3.4 is two on the same endpoint (see etcd.h). */
struct step {
	const char *path;
	const char *body;
};

enum call_kind { CALL_READ, CALL_WRITE };

/*
 * Run the steps at each endpoint in turn until one answers; the reply of the
 * last step is left in r. On failure err holds "etcd <endpoint>: <op>: why";
 * an answer from etcd is preferred over a transport failure when reporting.
 */
static int cluster_call(struct etcd_client *c, const char *op, enum call_kind kind,
			const struct step *steps, size_t nsteps, struct reply *r,
			struct eo_err *err)
{
	int64_t deadline = eo_now_ms() + c->timeout_ms;
	struct eo_err best = {0}, cur;
	const char *best_ep = c->endpoints[0];
	bool best_answered = false, best_sent = false;
	size_t tried = 0;
	for (size_t i = 0; i < c->n; i++) {
		const char *ep = c->endpoints[i];
		bool answered = false, moveon = false, sent = false;
		int rc = 0;
		tried++;
		for (size_t s = 0; s < nsteps && rc == 0; s++) {
			rc = exchange(c, ep, steps[s].path, steps[s].body, deadline, r, &sent, &cur);
			if (rc == 0 && r->status / 100 != 2) {
				etcd_parse_error(r->status, r->body.data, r->body.len, &cur);
				answered = true;
				rc = -1;
			}
		}
		if (rc == 0) {
			r->endpoint = ep;
			return 0;
		}
		if (answered)
			moveon = cur.code == ETCD_ELEARNER;
		else
			moveon = kind == CALL_READ || !sent;
		if (answered || !best_answered) {
			best = cur;
			best_ep = ep;
			best_answered = answered;
			best_sent = sent;
		}
		if (!moveon || eo_now_ms() >= deadline)
			break;
	}
	eo_err_set(err, best.code, "etcd %s: %s: %s", best_ep, op, best.msg);
	if (kind == CALL_WRITE && !best_answered && best_sent && err) {
		size_t l = strlen(err->msg);
		snprintf(err->msg + l, sizeof(err->msg) - l,
			 "; it may still be applied: look before trying again");
	}
	if (tried > 1 && err) {
		size_t l = strlen(err->msg);
		snprintf(err->msg + l, sizeof(err->msg) - l, " [%zu of %zu endpoints tried]", tried, c->n);
	}
	return -1;
}

/* One request to the endpoint named; same error shape as cluster_call. */
static int member_call(struct etcd_client *c, const char *endpoint, const char *op,
		       const char *path, const char *body, struct reply *r, bool any_status,
		       struct eo_err *err)
{
	struct eo_err cur;
	bool sent;
	int64_t deadline = eo_now_ms() + c->timeout_ms;
	int rc = exchange(c, endpoint, path, body, deadline, r, &sent, &cur);
	r->endpoint = endpoint;
	if (rc == 0 && !any_status && r->status / 100 != 2)
		rc = etcd_parse_error(r->status, r->body.data, r->body.len, &cur);
	if (rc != 0)
		eo_err_set(err, cur.code, "etcd %s: %s: %s", endpoint, op, cur.msg);
	return rc;
}

/* Prefix a parse failure with where the answer came from. */
static int parsed(int rc, const struct reply *r, const char *op, struct eo_err *err)
{
	if (rc != 0)
		eo_err_prefix(err, "etcd %s: %s: ", r->endpoint, op);
	return rc;
}

int etcd_member_list(struct etcd_client *c, bool linearizable, struct etcd_members *out,
		     struct eo_err *err)
{
	/* The barrier reads one key that need not exist: a linearizable read
	 * waits until this member has applied everything the leader committed,
	 * which includes every membership change, and fails without quorum. */
	static const char barrier_key[] = "/etcd-k8s-operator/member-list-barrier";
	char *barrier = etcd_body_range(barrier_key, sizeof(barrier_key) - 1, false, true);
	struct step steps[2] = {
		{"/v3/kv/range", barrier},
		{"/v3/cluster/member/list", linearizable ? "{\"linearizable\":true}" : "{}"},
	};
	struct reply r = {0};
	int rc = linearizable ? cluster_call(c, "member list", CALL_READ, steps, 2, &r, err)
			      : cluster_call(c, "member list", CALL_READ, steps + 1, 1, &r, err);
	free(barrier);
	if (rc == 0)
		rc = parsed(etcd_parse_members(r.body.data, r.body.len, out, err), &r, "member list", err);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_member_add(struct etcd_client *c, const char *peer_url, bool learner,
		    struct etcd_member *out, struct eo_err *err)
{
	if (!peer_url || (strncmp(peer_url, "http://", 7) != 0 && strncmp(peer_url, "https://", 8) != 0) ||
	    strpbrk(peer_url, "\"\\ ,"))
		return eo_err_set(err, EO_EINVAL, "member add: peer URL \"%.100s\" is not an http(s) URL",
				  peer_url ? peer_url : "(null)");
	char *body = eo_strdupf("{\"peerURLs\":[\"%s\"]%s}", peer_url,
				learner ? ",\"isLearner\":true" : "");
	struct step st = {"/v3/cluster/member/add", body};
	struct reply r = {0};
	int rc = cluster_call(c, "member add", CALL_WRITE, &st, 1, &r, err);
	free(body);
	if (rc == 0) {
		struct etcd_member m;
		rc = parsed(etcd_parse_member_add(r.body.data, r.body.len, &m, err), &r, "member add", err);
		if (rc == 0 && out)
			*out = m;
	}
	eo_buf_free(&r.body);
	return rc;
}

static int member_by_id(struct etcd_client *c, const char *op, const char *path, uint64_t id,
			struct eo_err *err)
{
	if (id == 0)
		return eo_err_set(err, EO_EINVAL, "%s: member id 0 is not a member", op);
	char *body = eo_strdupf("{\"ID\":\"%" PRIu64 "\"}", id);
	char hex[17], what[64];
	etcd_id_hex(id, hex);
	snprintf(what, sizeof(what), "%s %s", op, hex);
	struct step st = {path, body};
	struct reply r = {0};
	int rc = cluster_call(c, what, CALL_WRITE, &st, 1, &r, err);
	free(body);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_member_promote(struct etcd_client *c, uint64_t id, struct eo_err *err)
{
	return member_by_id(c, "member promote", "/v3/cluster/member/promote", id, err);
}

int etcd_member_remove(struct etcd_client *c, uint64_t id, struct eo_err *err)
{
	return member_by_id(c, "member remove", "/v3/cluster/member/remove", id, err);
}

int etcd_status(struct etcd_client *c, const char *endpoint, struct etcd_status *out,
		struct eo_err *err)
{
	struct reply r = {0};
	int rc = member_call(c, endpoint, "status", "/v3/maintenance/status", "{}", &r, false, err);
	if (rc == 0 && etcd_parse_status(r.body.data, r.body.len, out, err) != 0) {
		eo_err_prefix(err, "etcd %s: status: ", endpoint);
		rc = -1;
	}
	eo_buf_free(&r.body);
	return rc;
}

int etcd_alarm_list(struct etcd_client *c, struct etcd_alarms *out, struct eo_err *err)
{
	struct step st = {"/v3/maintenance/alarm", "{\"action\":\"GET\"}"};
	struct reply r = {0};
	int rc = cluster_call(c, "alarm list", CALL_READ, &st, 1, &r, err);
	if (rc == 0)
		rc = parsed(etcd_parse_alarms(r.body.data, r.body.len, out, err), &r, "alarm list", err);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_alarm_disarm(struct etcd_client *c, uint64_t member_id, const char *alarm,
		      struct eo_err *err)
{
	if (!alarm || strspn(alarm, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(alarm) || !*alarm)
		return eo_err_set(err, EO_EINVAL, "alarm disarm: \"%.20s\" is not an alarm name",
				  alarm ? alarm : "(null)");
	char *body = eo_strdupf("{\"action\":\"DEACTIVATE\",\"memberID\":\"%" PRIu64
				"\",\"alarm\":\"%s\"}", member_id, alarm);
	struct step st = {"/v3/maintenance/alarm", body};
	struct reply r = {0};
	int rc = cluster_call(c, "alarm disarm", CALL_WRITE, &st, 1, &r, err);
	free(body);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_compact(struct etcd_client *c, int64_t revision, struct eo_err *err)
{
	if (revision <= 0)
		return eo_err_set(err, EO_EINVAL, "compact: revision %lld is not a revision",
				  (long long)revision);
	char *body = eo_strdupf("{\"revision\":\"%lld\",\"physical\":true}", (long long)revision);
	struct step st = {"/v3/kv/compaction", body};
	struct reply r = {0};
	int rc = cluster_call(c, "compact", CALL_WRITE, &st, 1, &r, err);
	free(body);
	eo_buf_free(&r.body);
	/* "mvcc: required revision has been compacted": done before */
	if (rc != 0 && err && strstr(err->msg, "has been compacted")) {
		eo_err_clear(err);
		rc = 0;
	}
	return rc;
}

int etcd_defragment(struct etcd_client *c, const char *endpoint, struct eo_err *err)
{
	struct reply r = {0};
	int rc = member_call(c, endpoint, "defragment", "/v3/maintenance/defragment", "{}", &r, false,
			     err);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_move_leader(struct etcd_client *c, const char *leader_endpoint, uint64_t target_id,
		     struct eo_err *err)
{
	if (target_id == 0)
		return eo_err_set(err, EO_EINVAL, "move leader: target member id 0 is not a member");
	char *body = eo_strdupf("{\"targetID\":\"%" PRIu64 "\"}", target_id);
	struct reply r = {0};
	int rc = member_call(c, leader_endpoint, "move leader", "/v3/maintenance/transfer-leadership",
			     body, &r, false, err);
	free(body);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_health(struct etcd_client *c, const char *endpoint, struct eo_err *err)
{
	struct reply r = {0};
	int rc = member_call(c, endpoint, "health", "/health", NULL, &r, true, err);
	if (rc == 0 && etcd_parse_health(r.status, r.body.data, r.body.len, err) != 0) {
		eo_err_prefix(err, "etcd %s: health: ", endpoint);
		rc = -1;
	}
	eo_buf_free(&r.body);
	return rc;
}

int etcd_put(struct etcd_client *c, const char *key, const void *val, size_t len,
	     struct eo_err *err)
{
	if (!key || !*key)
		return eo_err_set(err, EO_EINVAL, "put: the key is empty");
	char *body = etcd_body_put(key, strlen(key), val ? val : "", val ? len : 0);
	struct step st = {"/v3/kv/put", body};
	struct reply r = {0};
	int rc = cluster_call(c, "put", CALL_WRITE, &st, 1, &r, err);
	free(body);
	eo_buf_free(&r.body);
	return rc;
}

static int range(struct etcd_client *c, const char *op, const char *key, bool prefix,
		 char **val, size_t *len, int64_t *count, struct eo_err *err)
{
	char *body = etcd_body_range(key, strlen(key), prefix, count != NULL);
	struct step st = {"/v3/kv/range", body};
	struct reply r = {0};
	int rc = cluster_call(c, op, CALL_READ, &st, 1, &r, err);
	free(body);
	if (rc == 0)
		rc = parsed(etcd_parse_range(r.body.data, r.body.len, val, len, count, err), &r, op, err);
	eo_buf_free(&r.body);
	return rc;
}

int etcd_get(struct etcd_client *c, const char *key, char **val, size_t *len,
	     struct eo_err *err)
{
	*val = NULL;
	if (!key || !*key)
		return eo_err_set(err, EO_EINVAL, "get: the key is empty");
	return range(c, "get", key, false, val, len, NULL, err);
}

int etcd_count_prefix(struct etcd_client *c, const char *prefix, int64_t *count,
		      struct eo_err *err)
{
	return range(c, "count", prefix ? prefix : "", true, NULL, NULL, count, err);
}
