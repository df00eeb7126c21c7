/*
 * etcd_parse.c — the wire half of the etcd client: request bodies, answers
 * parsed into structs, error text classified. No I/O at all, so every shape
 * etcd sends can be tested from captured bodies (test/unit/test_etcd.c).
 *
 * The one idea: the JSON gateway drops every field that holds its zero
 * value (false, 0, "", []), so nothing here treats a missing field as an
 * error unless etcd always sends it; a missing "isLearner" is a voter, a
 * missing "count" is 0, a missing "leader" is "no leader". Required are only
 * the things without which the answer means nothing (a member's ID).
 *
 * Error text, as etcd 3.4.23 sends it (checked against the real binary; the
 * HTTP status is the gateway's mapping of the gRPC code):
 *   412 (9)  etcdserver: too many learner members in cluster
 *   412 (9)  etcdserver: can only promote a learner member which is in sync with leader
 *   412 (9)  etcdserver: can only promote a learner member
 *   412 (9)  etcdserver: Peer URLs already exists
 *   412 (9)  etcdserver: member ID already exist   (same peer URL, same second:
 *            ids are derived from the peer URLs and the time in seconds)
 *   412 (9)  etcdserver: not leader                (transfer-leadership at a follower)
 *   412 (9)  etcdserver: bad leader transferee     (target a learner or unknown)
 *   404 (5)  etcdserver: member not found
 *   503 (14) etcdserver: rpc not supported for learner
 *   503 (14) etcdserver: unhealthy cluster          (--strict-reconfig-check)
 *   503 (14) etcdserver: request timed out          (read without quorum, ~6 s)
 *   500 (2)  context deadline exceeded              (write without quorum, ~6 s)
 *   400 (3)  invalid character 'g' looking for beginning of value
 * Not JSON at all: 404 "Not Found" (unknown path), 405 "Method Not Allowed"
 * (GET on a /v3 path).
 */
#include "etcd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* etcd's words → code → what a person can do about it. Longest text first
 * where one is a prefix of another. */
static const struct {
	const char *text;
	int code;
	const char *name;
	const char *hint;
} known[] = {
	{"can only promote a learner member which is in sync with leader", ETCD_ENOT_SYNCED,
	 "ENOT_SYNCED", "the learner is still catching up with the leader; retry after a short wait"},
	{"can only promote a learner member", ETCD_ENOT_LEARNER, "ENOT_LEARNER",
	 "the member is already a voter"},
	{"too many learner members in cluster", ETCD_ETOO_MANY_LEARNERS, "ETOO_MANY_LEARNERS",
	 "etcd allows one learner at a time; promote or remove the current learner first"},
	{"unhealthy cluster", ETCD_EUNHEALTHY, "EUNHEALTHY",
	 "a voting member is down or has just restarted and --strict-reconfig-check is on; retry when every member is healthy"},
	{"member not found", ETCD_EMEMBER_NOT_FOUND, "EMEMBER_NOT_FOUND",
	 "no member has this id; list the members again"},
	{"peer urls already exists", ETCD_EPEER_URL_EXISTS, "EPEER_URL_EXISTS",
	 "a member with this peer URL is already in the cluster; find it in the member list instead of adding it again"},
	{"member id already exist", ETCD_EMEMBER_EXISTS, "EMEMBER_EXISTS",
	 "this peer URL was added a moment ago; find it in the member list instead of adding it again"},
	{"rpc not supported for learner", ETCD_ELEARNER, "ELEARNER",
	 "this endpoint is a learner; ask a voting member"},
	{"not leader", ETCD_ENOT_LEADER, "ENOT_LEADER",
	 "send it to the current leader's endpoint; any member's status names the leader"},
	{"no leader", ETCD_ENO_LEADER, "ENO_LEADER",
	 "the cluster has no leader (election running or quorum lost); retry"},
	{"re-configuration failed due to not enough started members", ETCD_ENOT_ENOUGH_STARTED,
	 "ENOT_ENOUGH_STARTED", "an added member has not started yet or a voter is down; start it or wait, then retry"},
	{"bad leader transferee", ETCD_EBAD_TRANSFEREE, "EBAD_TRANSFEREE",
	 "the target must be a started voting member"},
	{"leader changed", ETCD_ELEADER_CHANGED, "ELEADER_CHANGED", "retry"},
	{"request timed out", ETCD_ETIMEDOUT, "ETIMEDOUT",
	 "etcd's own deadline passed (quorum lost?); a write may still be applied, check before retrying"},
	{"context deadline exceeded", ETCD_ETIMEDOUT, "ETIMEDOUT",
	 "etcd's own deadline passed (quorum lost?); a write may still be applied, check before retrying"},
};

int etcd_classify(const char *message)
{
	if (!message)
		return ETCD_EOTHER;
	for (size_t i = 0; i < EO_ARRAY_LEN(known); i++)
		if (strcasestr(message, known[i].text))
			return known[i].code;
	return ETCD_EOTHER;
}

static const char *hint_for(int code)
{
	for (size_t i = 0; i < EO_ARRAY_LEN(known); i++)
		if (known[i].code == code)
			return known[i].hint;
	return NULL;
}

const char *etcd_err_name(int code)
{
	for (size_t i = 0; i < EO_ARRAY_LEN(known); i++)
		if (known[i].code == code)
			return known[i].name;
	switch (code) {
	case EO_OK: return "OK";
	case EO_ESYS: return "ESYS";
	case EO_EINVAL: return "EINVAL";
	case EO_EPARSE: return "EPARSE";
	case EO_ETRANSPORT: return "ETRANSPORT";
	case EO_ETIMEOUT: return "ETIMEOUT";
	case EO_ECANCELED: return "ECANCELED";
	case EO_ENOMEM: return "ENOMEM";
	case ETCD_EOTHER: return "EOTHER";
	default: return code >= 100 && code < 600 ? "HTTP" : "UNKNOWN";
	}
}

bool etcd_err_not_yet(const struct eo_err *err)
{
	if (!err)
		return false;
	switch (err->code) {
	case ETCD_ENOT_SYNCED:
	case ETCD_EUNHEALTHY:
	case ETCD_ENO_LEADER:
	case ETCD_ENOT_ENOUGH_STARTED:
	case ETCD_ELEADER_CHANGED:
		return true;
	default:
		return false;
	}
}

bool etcd_err_retryable(const struct eo_err *err)
{
	if (!err)
		return false;
	if (etcd_err_not_yet(err))
		return true;
	switch (err->code) {
	case ETCD_ETIMEDOUT:
	case EO_ETRANSPORT:
	case EO_ETIMEOUT:
	case 502:
	case 503:
	case 504:
		return true;
	default:
		return false;
	}
}

int etcd_parse_error(long http_status, const char *body, size_t len, struct eo_err *err)
{
	struct eo_err perr;
	json_object *o = NULL;
	if (body && len && body[0] == '{')
		o = json_parse(body, len, &perr);
	const char *msg = o ? json_opt_str(o, "message", NULL) : NULL;
	if (!msg && o)
		msg = json_opt_str(o, "error", NULL);
	if (!msg) {
		/* Not the gateway's error shape: keep the HTTP status and show the
		 * start of whatever came back. */
		char text[96] = "";
		size_t n = 0;
		for (size_t i = 0; body && i < len && n + 1 < sizeof(text); i++)
			text[n++] = (body[i] == '\n' || body[i] == '\r') ? ' ' : body[i];
		text[n] = '\0';
		while (n && text[n - 1] == ' ')
			text[--n] = '\0';
		eo_err_set(err, (int)http_status, "HTTP %ld%s%s (not an etcd v3 gateway answer: wrong URL or port?)",
			   http_status, n ? ": " : "", text);
		json_object_put(o);
		return -1;
	}
	const char *words = msg;
	if (strncmp(words, "etcdserver: ", 12) == 0)
		words += 12;
	int code = etcd_classify(msg);
	const char *hint = hint_for(code);
	if (hint)
		eo_err_set(err, code, "%s (%s)", words, hint);
	else
		eo_err_set(err, code, "%s (HTTP %ld, gRPC code %" PRId64 ")", words, http_status,
			   json_opt_int(o, "code", 0));
	json_object_put(o);
	return -1;
}

/* Unsigned 64-bit field that the gateway sends as a decimal string; absent
 * means 0. json-c numbers are accepted too (other gateways send them). */
static int get_u64(json_object *o, const char *path, uint64_t *out, struct eo_err *err)
{
	json_object *v = json_at(o, path);
	*out = 0;
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (etcd_id_parse(s, out) == 0 || strcmp(s, "0") == 0)
			return 0;
		return eo_err_set(err, EO_EPARSE, "%s: \"%.40s\" is not an unsigned 64-bit decimal", path, s);
	}
	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
		*out = json_object_get_uint64(v);
		return 0;
	}
	return eo_err_set(err, EO_EPARSE, "%s: expected a decimal string, got %s", path,
			  json_type_label(v));
}

static int get_i64(json_object *o, const char *path, int64_t *out, struct eo_err *err)
{
	uint64_t u;
	if (get_u64(o, path, &u, err) != 0)
		return -1;
	if (u > INT64_MAX)
		return eo_err_set(err, EO_EPARSE, "%s: %" PRIu64 " is out of range", path, u);
	*out = (int64_t)u;
	return 0;
}

static int parse_urls(json_object *m, const char *key, const char *where, char urls[][256],
		      int *n, struct eo_err *err)
{
	json_object *arr = json_at(m, key);
	*n = 0;
	if (!arr)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return eo_err_set(err, EO_EPARSE, "%s.%s: expected an array, got %s", where, key,
				  json_type_label(arr));
	size_t len = json_object_array_length(arr);
	if (len > ETCD_MAX_URLS)
		return eo_err_set(err, EO_EPARSE, "%s.%s: %zu URLs, this client keeps at most %d",
				  where, key, len, ETCD_MAX_URLS);
	for (size_t i = 0; i < len; i++) {
		json_object *u = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(u, json_type_string))
			return eo_err_set(err, EO_EPARSE, "%s.%s[%zu]: expected a string", where, key, i);
		if (eo_strlcpy(urls[i], json_object_get_string(u), 256) != 0)
			return eo_err_set(err, EO_EPARSE, "%s.%s[%zu]: URL longer than 255 bytes", where,
					  key, i);
	}
	*n = (int)len;
	return 0;
}

static int parse_member(json_object *m, const char *where, struct etcd_member *out,
			struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(m, json_type_object))
		return eo_err_set(err, EO_EPARSE, "%s: expected an object, got %s", where,
				  json_type_label(m));
	if (get_u64(m, "ID", &out->id, err) != 0) {
		eo_err_prefix(err, "%s.", where);
		return -1;
	}
	if (out->id == 0)
		return eo_err_set(err, EO_EPARSE, "%s.ID: required field is missing", where);
	const char *name = json_opt_str(m, "name", "");
	if (eo_strlcpy(out->name, name, sizeof(out->name)) != 0)
		return eo_err_set(err, EO_EPARSE, "%s.name: longer than %zu bytes", where,
				  sizeof(out->name) - 1);
	if (parse_urls(m, "peerURLs", where, out->peer_urls, &out->npeer, err) != 0 ||
	    parse_urls(m, "clientURLs", where, out->client_urls, &out->nclient, err) != 0)
		return -1;
	json_object *l = json_at(m, "isLearner");
	if (l && !json_object_is_type(l, json_type_boolean))
		return eo_err_set(err, EO_EPARSE, "%s.isLearner: expected a boolean, got %s", where,
				  json_type_label(l));
	out->learner = l && json_object_get_boolean(l);
	return 0;
}

static json_object *parse_body(const char *body, size_t len, const char *what,
			       struct eo_err *err)
{
	json_object *o = json_parse(body ? body : "", body ? len : 0, err);
	if (!o) {
		eo_err_prefix(err, "%s answer: ", what);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		eo_err_set(err, EO_EPARSE, "%s answer: expected a JSON object", what);
		return NULL;
	}
	return o;
}

int etcd_parse_members(const char *body, size_t len, struct etcd_members *out,
		       struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	json_object *o = parse_body(body, len, "member list", err);
	if (!o)
		return -1;
	int rc = -1;
	if (get_u64(o, "header.cluster_id", &out->cluster_id, err) != 0 ||
	    get_u64(o, "header.member_id", &out->responder_id, err) != 0)
		goto out;
	json_object *arr = json_at(o, "members");
	size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	if (arr && !json_object_is_type(arr, json_type_array)) {
		eo_err_set(err, EO_EPARSE, "members: expected an array, got %s", json_type_label(arr));
		goto out;
	}
	if (n == 0) {
		/* A cluster always has at least the member that answers. */
		eo_err_set(err, EO_EPARSE, "member list answer has no members");
		goto out;
	}
	if (n > ETCD_MAX_MEMBERS) {
		eo_err_set(err, EO_EPARSE, "member list has %zu members, this client keeps at most %d",
			   n, ETCD_MAX_MEMBERS);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char where[32];
		snprintf(where, sizeof(where), "members[%zu]", i);
		if (parse_member(json_object_array_get_idx(arr, i), where, &out->m[i], err) != 0)
			goto out;
	}
	out->n = (int)n;
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int etcd_parse_member_add(const char *body, size_t len, struct etcd_member *out,
			  struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	json_object *o = parse_body(body, len, "member add", err);
	if (!o)
		return -1;
	json_object *m = json_at(o, "member");
	int rc = m ? parse_member(m, "member", out, err)
		   : eo_err_set(err, EO_EPARSE, "member add answer: member: required field is missing");
	json_object_put(o);
	return rc;
}

int etcd_parse_status(const char *body, size_t len, struct etcd_status *out,
		      struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	json_object *o = parse_body(body, len, "status", err);
	if (!o)
		return -1;
	int rc = -1;
	if (get_u64(o, "header.cluster_id", &out->cluster_id, err) != 0 ||
	    get_u64(o, "header.member_id", &out->member_id, err) != 0 ||
	    get_u64(o, "leader", &out->leader, err) != 0 ||
	    get_u64(o, "raftIndex", &out->raft_index, err) != 0 ||
	    get_u64(o, "raftTerm", &out->raft_term, err) != 0 ||
	    get_u64(o, "raftAppliedIndex", &out->raft_applied_index, err) != 0 ||
	    get_i64(o, "dbSize", &out->db_size, err) != 0 ||
	    get_i64(o, "dbSizeInUse", &out->db_size_in_use, err) != 0)
		goto out;
	if (get_i64(o, "header.revision", &out->revision, err) != 0)
		goto out;
	eo_strlcpy(out->version, json_opt_str(o, "version", ""), sizeof(out->version));
	out->is_learner = json_opt_bool(o, "isLearner", false);
	json_object *errs = json_at(o, "errors");
	if (errs && json_object_is_type(errs, json_type_array)) {
		struct eo_buf b = {0};
		for (size_t i = 0; i < json_object_array_length(errs); i++) {
			const char *e = json_object_get_string(json_object_array_get_idx(errs, i));
			eo_buf_printf(&b, "%s%s", i ? "; " : "", e ? e : "");
		}
		eo_strlcpy(out->errors, b.data ? b.data : "", sizeof(out->errors));
		out->nospace = b.data && strstr(b.data, "NOSPACE") != NULL;
		eo_buf_free(&b);
	}
	if (out->member_id == 0) {
		eo_err_set(err, EO_EPARSE, "status answer: header.member_id: required field is missing");
		goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int etcd_parse_range(const char *body, size_t len, char **val, size_t *vlen, int64_t *count,
		     struct eo_err *err)
{
	if (val)
		*val = NULL;
	if (vlen)
		*vlen = 0;
	if (count)
		*count = 0;
	json_object *o = parse_body(body, len, "range", err);
	if (!o)
		return -1;
	int rc = -1;
	int64_t n = 0;
	if (get_i64(o, "count", &n, err) != 0)
		goto out;
	if (count)
		*count = n;
	json_object *kvs = json_at(o, "kvs");
	if (val && kvs && json_object_is_type(kvs, json_type_array) &&
	    json_object_array_length(kvs) > 0) {
		/* An empty value is omitted like any zero field. */
		const char *b64 = json_opt_str(json_object_array_get_idx(kvs, 0), "value", "");
		if (eo_b64_decode(b64, strlen(b64), val, vlen, err) != 0) {
			eo_err_prefix(err, "range answer: kvs[0].value: ");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int etcd_parse_health(long http_status, const char *body, size_t len, struct eo_err *err)
{
	struct eo_err perr;
	json_object *o = body && len && body[0] == '{' ? json_parse(body, len, &perr) : NULL;
	const char *h = o ? json_opt_str(o, "health", NULL) : NULL;
	if (!h) {
		json_object_put(o);
		if (http_status / 100 != 2)
			return etcd_parse_error(http_status, body, len, err);
		return eo_err_set(err, EO_EPARSE, "health answer has no \"health\" field");
	}
	int rc = 0;
	if (strcmp(h, "true") != 0) {
		const char *reason = json_opt_str(o, "reason", "");
		rc = eo_err_set(err, http_status / 100 == 2 ? 503 : (int)http_status,
				"not healthy%s%s (no leader, an alarm, or no quorum; check every member's status)",
				*reason ? ": " : "", reason);
	}
	json_object_put(o);
	return rc;
}

static char *body_b64_pair(const char *k1, const void *v1, size_t l1, const char *k2,
			   const void *v2, size_t l2, const char *tail)
{
	char *a = eo_b64_encode(v1, l1);
	char *b = k2 ? eo_b64_encode(v2, l2) : NULL;
	char *s = k2 ? eo_strdupf("{\"%s\":\"%s\",\"%s\":\"%s\"%s}", k1, a, k2, b, tail)
		     : eo_strdupf("{\"%s\":\"%s\"%s}", k1, a, tail);
	free(a);
	free(b);
	return s;
}

char *etcd_body_put(const void *key, size_t klen, const void *val, size_t vlen)
{
	return body_b64_pair("key", key, klen, "value", val, vlen, "");
}

char *etcd_body_range(const void *key, size_t klen, bool prefix, bool count_only)
{
	const char *tail = count_only ? ",\"count_only\":true" : "";
	if (!prefix)
		return body_b64_pair("key", key, klen, NULL, NULL, 0, tail);
	/* range_end of a prefix: the prefix with its last byte below 0xff
	 * incremented and the 0xff bytes after it dropped; a prefix of only
	 * 0xff bytes (or empty) ranges to the end of the key space ("\0"). */
	unsigned char *end = malloc(klen + 1);
	if (!end)
		abort();
	memcpy(end, key, klen);
	size_t n = klen;
	while (n > 0 && end[n - 1] == 0xff)
		n--;
	if (n > 0) {
		end[n - 1]++;
	} else {
		end[0] = 0;
		n = 1;
	}
	char *s = body_b64_pair("key", klen ? key : "", klen ? klen : 1, "range_end", end, n, tail);
	free(end);
	return s;
}

void etcd_id_hex(uint64_t id, char out[17])
{
	snprintf(out, 17, "%" PRIx64, id);
}

void etcd_id_dec(uint64_t id, char out[21])
{
	snprintf(out, 21, "%" PRIu64, id);
}

int etcd_id_parse(const char *dec, uint64_t *id)
{
	if (!dec || !*dec)
		return -1;
	uint64_t v = 0;
	for (const char *p = dec; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v == 0)
		return -1;
	*id = v;
	return 0;
}

const struct etcd_member *etcd_members_find_id(const struct etcd_members *ms, uint64_t id)
{
	for (int i = 0; ms && i < ms->n; i++)
		if (ms->m[i].id == id)
			return &ms->m[i];
	return NULL;
}

const struct etcd_member *etcd_members_find_peer(const struct etcd_members *ms,
						  const char *peer_url)
{
	for (int i = 0; ms && peer_url && i < ms->n; i++)
		for (int j = 0; j < ms->m[i].npeer; j++)
			if (strcmp(ms->m[i].peer_urls[j], peer_url) == 0)
				return &ms->m[i];
	return NULL;
}

int etcd_initial_cluster(const struct etcd_members *ms, uint64_t self_id, const char *self_name,
			 char *out, size_t size)
{
	size_t used = 0;
	if (!size)
		return -1;
	out[0] = '\0';
	for (int i = 0; i < ms->n; i++) {
		const struct etcd_member *m = &ms->m[i];
		const char *name = m->id == self_id ? self_name : m->name;
		for (int j = 0; j < m->npeer; j++) {
			int w = snprintf(out + used, size - used, "%s%s=%s", used ? "," : "", name,
					 m->peer_urls[j]);
			if (w < 0 || (size_t)w >= size - used)
				return -1;
			used += (size_t)w;
		}
	}
	return 0;
}

int etcd_parse_alarms(const char *body, size_t len, struct etcd_alarms *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	json_object *o = parse_body(body, len, "alarm", err);
	if (!o)
		return -1;
	int rc = 0;
	json_object *as = json_at(o, "alarms");
	size_t n = as && json_object_is_type(as, json_type_array) ? json_object_array_length(as) : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (out->n == ETCD_MAX_ALARMS) {
			rc = eo_err_set(err, EO_EPARSE, "alarm answer: more than %d alarms", ETCD_MAX_ALARMS);
			break;
		}
		json_object *a = json_object_array_get_idx(as, i);
		struct etcd_alarm *x = &out->a[out->n];
		if (get_u64(a, "memberID", &x->member_id, err) != 0) {
			eo_err_prefix(err, "alarm answer: alarms[%zu]: ", i);
			rc = -1;
			break;
		}
		/* The enum by name; NONE (0) is omitted like any zero field, and is no alarm. */
		eo_strlcpy(x->alarm, json_opt_str(a, "alarm", "NONE"), sizeof(x->alarm));
		if (strcmp(x->alarm, "NONE") != 0)
			out->n++;
	}
	json_object_put(o);
	return rc;
}
