/*
 * tls.c — the certificates of an EtcdCluster (DESIGN §3.1), once a pass.
 *
 * The one idea: look, judge with ectls_check, and act only in Auto mode.
 * Every Secret is read fresh; a certificate that is missing, unreadable,
 * not signed by the cluster's CA, missing a member's name or two thirds
 * through its life is issued again — in place, the same Secret updated with
 * its resourceVersion, so kubelet's refresh of the mounted files (and etcd,
 * which reads its certificate files on every new connection) picks it up
 * without restarting a member.
 *
 * The CA is rotated (two thirds through its life, or when the EtcdCluster's
 * rotate-ca annotation takes a new value) through a bundle, because etcd
 * reads the CAs it trusts only when it starts; each phase is written to the
 * CA Secret before it is acted on, so a crash resumes it:
 *   1. trust both: a new CA is made and kept beside the old one (next.crt,
 *      next.key); every ca.crt becomes "old + new"; the StatefulSet's
 *      template takes the new CA's fingerprint as its revision, and the
 *      reconciler rolls the members one at a time (sc_roll) so each starts
 *      trusting both;
 *   2. switch: once every member's Pod carries that revision, the new CA
 *      signs (tls.crt) and every leaf is issued again from it, in place;
 *   3. drop: --tls-ca-overlap after the switch, ca.crt holds the new CA
 *      alone (running members keep trusting the old one in memory until
 *      their next start; it signs nothing any more).
 * A CA that does not fit (not a CA, no key) is reported, never replaced:
 * a new CA without the bundle would cut the members off from each other.
 * Secret mode writes nothing: the user's Secret is judged by the same rules
 * and the reason reported.
 *
 * No key is ever logged or put in an Event; key PEM text lives in memory
 * only as long as the pass and is wiped when freed.
 */
/* OpenSSL before anything that includes cluster.h (its EC_GROUP; ectls.h). */
#include <openssl/crypto.h>

#include "certs_x509.h"
#include "ectls.h"
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "json.h"
#include "log.h"
#include "resources.h"

/* The CA Secret's keys of a rotation in phase 1, and its annotations. */
#define TLS_KEY_NEXT_CERT "next.crt"
#define TLS_KEY_NEXT_KEY "next.key"
#define TLS_ANN_ROTATED_FOR "etcd.k8s-operator.io/rotated-for"
#define TLS_ANN_SWITCHED_AT "etcd.k8s-operator.io/ca-switched-at"

/* A Secret's PEM texts (malloc'd; NULL when the key is absent). */
struct secret_pems {
	bool exists;
	char resource_version[32];
	char *cert, *key, *ca;
	char *next_cert, *next_key;   /* the CA Secret in phase 1 */
	char rotated_for[64];         /* the rotate-ca value the last rotation answered */
	int64_t switched_at;          /* when the new CA started signing (Unix s); 0: none */
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void pems_clear(struct secret_pems *p)
{
	free(p->cert);
	wipe_free(p->key);
	free(p->ca);
	free(p->next_cert);
	wipe_free(p->next_key);
	memset(p, 0, sizeof(*p));
}

static char *data_key(json_object *secret, const char *key)
{
	json_object *data = json_at(secret, "data");
	json_object *v = data ? json_object_object_get(data, key) : NULL;
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	char *out = NULL;
	size_t len = 0;
	struct eo_err err = {0};
	const char *b64 = json_object_get_string(v);
	if (eo_b64_decode(b64, strlen(b64), &out, &len, &err) != 0)
		return NULL;
	return out;
}

/* 0: read (p->exists tells whether it is there); -1: the API failed. */
static int read_secret(struct ctl *c, const char *ns, const char *name, struct secret_pems *p,
		       struct eo_err *err)
{
	memset(p, 0, sizeof(*p));
	json_object *s = NULL;
	if (kube_get(c->kc, &KUBE_SECRETS, ns, name, &s, err) != 0) {
		if (err->code == EO_HTTP_NOT_FOUND) {
			eo_err_clear(err);
			return 0;
		}
		return -1;
	}
	p->exists = true;
	eo_strlcpy(p->resource_version, json_opt_str(s, "metadata.resourceVersion", ""),
		   sizeof(p->resource_version));
	p->cert = data_key(s, ECTLS_KEY_CERT);
	p->key = data_key(s, ECTLS_KEY_KEY);
	p->ca = data_key(s, ECTLS_KEY_CA);
	p->next_cert = data_key(s, TLS_KEY_NEXT_CERT);
	p->next_key = data_key(s, TLS_KEY_NEXT_KEY);
	eo_strlcpy(p->rotated_for, json_opt_str(s, "metadata.annotations[" TLS_ANN_ROTATED_FOR "]", ""),
		   sizeof(p->rotated_for));
	p->switched_at = atoll(json_opt_str(s, "metadata.annotations[" TLS_ANN_SWITCHED_AT "]", "0"));
	/* the decoded JSON holds the keys too: wipe them before it goes back */
	json_object *data = json_at(s, "data");
	static const char *const keys[] = {ECTLS_KEY_KEY, TLS_KEY_NEXT_KEY};
	for (size_t i = 0; i < EO_ARRAY_LEN(keys); i++) {
		json_object *k = data ? json_object_object_get(data, keys[i]) : NULL;
		if (k && json_object_is_type(k, json_type_string)) {
			char *raw = (char *)json_object_get_string(k);
			OPENSSL_cleanse(raw, strlen(raw));
		}
	}
	json_object_put(s);
	return 0;
}

static void add_b64(json_object *data, const char *key, const char *pem)
{
	char *b = eo_b64_encode(pem, strlen(pem));
	json_object_object_add(data, key, json_object_new_string(b));
	OPENSSL_cleanse(b, strlen(b));
	free(b);
}

/* What a Secret is written with: the PEM texts (NULL: left out) and, for
 * the CA Secret, the rotation's record. */
struct secret_out {
	const char *cert, *key, *ca, *next_cert, *next_key;
	const char *rotated_for; /* NULL or "": none */
	int64_t switched_at;     /* 0: none */
};

/* Create the Secret, or update it in place when rv is set. */
static int write_secret_out(struct ctl *c, const struct etcd_cluster *ec, const char *name,
			    const char *rv, const struct secret_out *w, struct eo_err *err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(o, "kind", json_object_new_string("Secret"));
	json_object_object_add(o, "type", json_object_new_string("kubernetes.io/tls"));
	json_object *md = json_object_new_object();
	json_object_object_add(md, "name", json_object_new_string(name));
	json_object_object_add(md, "namespace", json_object_new_string(ec->namespace));
	json_object_object_add(md, "labels", res_labels(ec));
	json_object *refs = json_object_new_array();
	json_object_array_add(refs, res_owner_ref(ec));
	json_object_object_add(md, "ownerReferences", refs);
	if (rv && *rv)
		json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
	if ((w->rotated_for && w->rotated_for[0]) || w->switched_at) {
		json_object *ann = json_object_new_object();
		if (w->rotated_for && w->rotated_for[0])
			json_object_object_add(ann, TLS_ANN_ROTATED_FOR,
					       json_object_new_string(w->rotated_for));
		if (w->switched_at) {
			char t[24];
			snprintf(t, sizeof(t), "%lld", (long long)w->switched_at);
			json_object_object_add(ann, TLS_ANN_SWITCHED_AT, json_object_new_string(t));
		}
		json_object_object_add(md, "annotations", ann);
	}
	json_object_object_add(o, "metadata", md);
	json_object *data = json_object_new_object();
	add_b64(data, ECTLS_KEY_CERT, w->cert);
	add_b64(data, ECTLS_KEY_KEY, w->key);
	add_b64(data, ECTLS_KEY_CA, w->ca);
	if (w->next_cert && w->next_key) {
		add_b64(data, TLS_KEY_NEXT_CERT, w->next_cert);
		add_b64(data, TLS_KEY_NEXT_KEY, w->next_key);
	}
	json_object_object_add(o, "data", data);
	int rc = rv && *rv ? kube_update(c->kc, &KUBE_SECRETS, ec->namespace, name, NULL, o, NULL, err)
			   : kube_create(c->kc, &KUBE_SECRETS, ec->namespace, o, NULL, err);
	/* wipe the serialised keys before the object goes */
	static const char *const keys[] = {ECTLS_KEY_KEY, TLS_KEY_NEXT_KEY};
	for (size_t i = 0; i < EO_ARRAY_LEN(keys); i++) {
		json_object *k = json_object_object_get(data, keys[i]);
		if (k)
			OPENSSL_cleanse((char *)json_object_get_string(k),
					strlen(json_object_get_string(k)));
	}
	json_object_put(o);
	return rc;
}

static int write_secret(struct ctl *c, const struct etcd_cluster *ec, const char *name,
			const char *rv, const char *cert, const char *key, const char *ca,
			struct eo_err *err)
{
	struct secret_out w = {.cert = cert, .key = key, .ca = ca};
	return write_secret_out(c, ec, name, rv, &w, err);
}

static void set_expiry(struct tls_state *s, enum ectls_kind k, int64_t not_after)
{
	char *dst[] = {s->expiry.ca, s->expiry.peer, s->expiry.server, s->expiry.client};
	if (not_after > 0)
		ectls_rfc3339(not_after, dst[k], sizeof(s->expiry.ca));
}

static void problem(struct tls_state *s, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct tls_state *s, const char *reason, const char *fmt, ...)
{
	if (!s->ok)
		return; /* the first problem is the reason */
	s->ok = false;
	eo_strlcpy(s->reason, reason, sizeof(s->reason));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->message, sizeof(s->message), fmt, ap);
	va_end(ap);
}

static void event(struct tls_state *s, bool warning, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void event(struct tls_state *s, bool warning, const char *reason, const char *fmt, ...)
{
	if (s->event_reason[0] && !warning)
		return;
	s->event_warning = warning;
	eo_strlcpy(s->event_reason, reason, sizeof(s->event_reason));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->event_message, sizeof(s->event_message), fmt, ap);
	va_end(ap);
}

static void parse_pems(const struct secret_pems *p, X509 **cert, EVP_PKEY **key, X509 **ca)
{
	struct eo_err err = {0};
	*cert = NULL;
	*key = NULL;
	*ca = NULL;
	if (p->cert)
		certs_parse_cert(p->cert, strlen(p->cert), "tls.crt", cert, &err);
	if (p->key)
		certs_parse_key(p->key, strlen(p->key), "tls.key", key, &err);
	if (p->ca)
		certs_parse_cert(p->ca, strlen(p->ca), "ca.crt", ca, &err);
}

static int bundle_count(const char *pem)
{
	int n = 0;
	for (const char *q = pem; q && (q = strstr(q, "-----BEGIN CERTIFICATE-----")); q++)
		n++;
	return n;
}

/* The first 8 bytes of the certificate's SHA-256, in hex: a Pod revision. */
static void fingerprint(X509 *cert, char out[24])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	out[0] = '\0';
	if (!cert || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len < 8)
		return;
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* "<a><b>" (malloc'd), a bundle that trusts both. */
static char *concat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *out = malloc(na + nb + 2);
	if (!out)
		return NULL;
	memcpy(out, a, na);
	size_t at = na;
	if (na && a[na - 1] != '\n')
		out[at++] = '\n';
	memcpy(out + at, b, nb + 1);
	return out;
}

/* Phase 1 of a CA rotation: a new CA beside the old one, both trusted. The
 * Secret is written before anything acts on it. *trust gets the bundle. */
static int begin_rotation(struct ctl *c, const struct etcd_cluster *ec, const char *name,
			  const struct secret_pems *p, const char *why, char fp[24], char **trust,
			  struct tls_state *s)
{
	char cn[80], what[400], q[300];
	snprintf(what, sizeof(what), "%s/%s", ec->namespace, name);
	snprintf(cn, sizeof(cn), "%.52s-ca", ec->name);
	struct certs_ca_opts o = {.common_name = cn, .seconds = c->tls_ca_s > 0 ? c->tls_ca_s
									      : ECTLS_CA_SECONDS};
	struct certs_pair next = {0};
	struct eo_err err = {0};
	if (certs_make_ca(&o, &next, &err) != 0) {
		problem(s, "IssueFailed", "making a new CA for %s: %s", what, err.msg);
		return -1;
	}
	char *cert = certs_pem_cert(next.cert), *key = certs_pem_key(next.key);
	char *bundle = cert ? concat(p->ca && *p->ca ? p->ca : p->cert, cert) : NULL;
	fingerprint(next.cert, fp);
	certs_pair_clear(&next);
	struct secret_out w = {.cert = p->cert, .key = p->key, .ca = bundle, .next_cert = cert,
			       .next_key = key, .rotated_for = ec->rotate_ca[0] ? ec->rotate_ca
										 : p->rotated_for};
	int rc = cert && key && bundle ? write_secret_out(c, ec, name, p->resource_version, &w, &err)
				       : eo_err_set(&err, EO_ENOMEM, "encoding the new CA");
	free(cert);
	wipe_free(key);
	if (rc != 0) {
		free(bundle);
		problem(s, "SecretNotWritten", "Secret %s: the CA rotation not begun: %s", what, err.msg);
		return -1;
	}
	log_info("CA rotation begun", "cluster=%s/%s secret=%s why=%s revision=%s", ec->namespace,
		 ec->name, name, log_q(q, sizeof(q), why), fp);
	event(s, false, "CARotationStarted",
	      "CA rotation (%s): a new CA is trusted beside the old one; the members are made "
	      "again one at a time to trust both, then the new CA signs", why);
	*trust = bundle;
	return 0;
}

/* The cluster's CA (Auto): read it, or make it when there is none; begin
 * its rotation when it is due or asked for. *trust_pem: what every ca.crt
 * must hold (the CA, or during a rotation both CAs). */
static int ensure_ca(struct ctl *c, const struct etcd_cluster *ec, bool may_write,
		     struct certs_pair *ca, char **trust_pem, struct tls_state *s, int64_t now)
{
	char name[300], what[400];
	ectls_secret_name(ec, ECTLS_CA, name, sizeof(name));
	snprintf(what, sizeof(what), "%s/%s", ec->namespace, name);
	struct secret_pems p;
	struct eo_err err = {0};
	char q[300];
	if (read_secret(c, ec->namespace, name, &p, &err) != 0) {
		problem(s, "SecretNotRead", "Secret %s not read: %s", what, err.msg);
		return -1;
	}
	if (p.exists) {
		X509 *cert, *cacert;
		EVP_PKEY *key;
		parse_pems(&p, &cert, &key, &cacert);
		X509_free(cacert);
		struct ectls_fit f;
		ectls_check(ec, ECTLS_CA, what, cert, key, NULL, now, &f);
		set_expiry(s, ECTLS_CA, f.not_after);
		if (!f.ok) {
			problem(s, f.reason, "%s (the CA is not replaced automatically: a new CA "
				"would cut the members off; delete the Secret only for a cluster "
				"being made again)", f.message);
			X509_free(cert);
			EVP_PKEY_free(key);
			pems_clear(&p);
			return -1;
		}
		char *trust = NULL;
		X509 *next = NULL;
		if (p.next_cert)
			certs_parse_cert(p.next_cert, strlen(p.next_cert), TLS_KEY_NEXT_CERT, &next, &err);
		bool asked = ec->rotate_ca[0] && strcmp(ec->rotate_ca, p.rotated_for) != 0;
		bool due = ectls_renew_due(f.not_before, f.not_after, now);
		if (next) { /* phase 1 in flight: the roll to trust both */
			s->rotating = true;
			fingerprint(next, s->trust_fp);
			X509_free(next);
		} else if (p.next_cert) {
			problem(s, "CARotationBroken", "Secret %s: %s does not parse; remove it to "
				"begin the rotation again", what, TLS_KEY_NEXT_CERT);
		} else if ((asked || due) && may_write && bundle_count(p.ca) <= 1) {
			if (begin_rotation(c, ec, name, &p, asked ? "asked for by the rotate-ca "
								    "annotation"
								  : "two thirds through its life",
					   s->trust_fp, &trust, s) == 0)
				s->rotating = true;
		}
		if (!s->rotating)
			fingerprint(cert, s->trust_fp);
		if (!trust)
			trust = eo_strdup0(p.ca && *p.ca ? p.ca : p.cert);
		s->ca_bundle_n = bundle_count(trust);
		s->ca_switched_at = p.switched_at;
		ca->cert = cert;
		ca->key = key;
		*trust_pem = trust;
		pems_clear(&p);
		return trust ? 0 : -1;
	}
	pems_clear(&p);
	if (!may_write) {
		problem(s, "CAMissing", "Secret %s does not exist yet", what);
		return -1;
	}
	char cn[80];
	snprintf(cn, sizeof(cn), "%.52s-ca", ec->name);
	struct certs_ca_opts o = {.common_name = cn, .seconds = c->tls_ca_s > 0 ? c->tls_ca_s
									      : ECTLS_CA_SECONDS};
	if (certs_make_ca(&o, ca, &err) != 0) {
		problem(s, "IssueFailed", "making the CA for %s: %s", what, err.msg);
		return -1;
	}
	char *cert = certs_pem_cert(ca->cert), *key = certs_pem_key(ca->key);
	int rc = cert && key ? write_secret(c, ec, name, NULL, cert, key, cert, &err) : -1;
	wipe_free(key);
	if (rc != 0) {
		problem(s, "SecretNotWritten", "Secret %s not created: %s", what,
			err.msg[0] ? err.msg : "out of memory");
		free(cert);
		certs_pair_clear(ca);
		return -1;
	}
	int64_t na = 0;
	certs_validity(ca->cert, NULL, &na);
	set_expiry(s, ECTLS_CA, na);
	fingerprint(ca->cert, s->trust_fp);
	s->ca_bundle_n = 1;
	log_info("CA created", "cluster=%s/%s secret=%s notAfter=%s", ec->namespace, ec->name, name,
		 log_q(q, sizeof(q), s->expiry.ca));
	*trust_pem = cert;
	return 0;
}

/* Issue kind k (Auto) signed by ca and write it to its Secret. */
static int issue(struct ctl *c, const struct etcd_cluster *ec, enum ectls_kind k,
		 const struct certs_pair *ca, const char *ca_pem, const char *name, const char *rv,
		 struct secret_pems *out, struct eo_err *err)
{
	char names[ECTLS_MAX_NAMES][ECTLS_NAME_LEN];
	const char *dns[ECTLS_MAX_NAMES];
	int n = ectls_dns_names(ec, k, names, ECTLS_MAX_NAMES);
	for (int i = 0; i < n; i++)
		dns[i] = names[i];
	char cn[80];
	if (k == ECTLS_PEER)
		ectls_peer_cn(ec, cn, sizeof(cn));
	else
		snprintf(cn, sizeof(cn), "%.52s-%s", ec->name, ectls_kind_name(k));
	struct certs_leaf_opts o = {
		.common_name = cn, .dns = dns, .ndns = (size_t)n,
		.ips = k == ECTLS_CLIENT ? NULL : ectls_ips, .nips = k == ECTLS_CLIENT ? 0 : ECTLS_NIPS,
		.seconds = c->tls_leaf_s > 0 ? c->tls_leaf_s : ECTLS_LEAF_SECONDS,
		.server = k != ECTLS_CLIENT, .client = true};
	struct certs_pair leaf = {0};
	if (certs_make_leaf(ca, &o, &leaf, err) != 0)
		return -1;
	char *cert = certs_pem_cert(leaf.cert), *key = certs_pem_key(leaf.key);
	certs_pair_clear(&leaf);
	if (!cert || !key) {
		free(cert);
		wipe_free(key);
		return eo_err_set(err, EO_ENOMEM, "encoding the certificate");
	}
	if (write_secret(c, ec, name, rv, cert, key, ca_pem, err) != 0) {
		free(cert);
		wipe_free(key);
		return -1;
	}
	out->exists = true;
	out->cert = cert;
	out->key = key;
	out->ca = eo_strdup0(ca_pem);
	return 0;
}

/* One leaf: judge it; in Auto re-issue it when it does not fit or is due. */
static void sync_leaf(struct ctl *c, const struct etcd_cluster *ec, enum ectls_kind k,
		      bool may_write, const struct certs_pair *ca, const char *trust_pem,
		      struct tls_state *s, int64_t now)
{
	char name[300], what[400], q[300];
	if (ectls_secret_name(ec, k, name, sizeof(name)) != 0)
		return;
	snprintf(what, sizeof(what), "%s/%s", ec->namespace, name);
	bool auto_mode = ectls_issued(ec, k);
	struct secret_pems p;
	struct eo_err err = {0};
	if (read_secret(c, ec->namespace, name, &p, &err) != 0) {
		problem(s, "SecretNotRead", "Secret %s not read: %s", what, err.msg);
		return;
	}
	struct ectls_fit f = {.reason = "SecretMissing"};
	snprintf(f.message, sizeof(f.message), "Secret %s does not exist%s", what,
		 auto_mode ? "" : "; create it (kubernetes.io/tls with tls.crt, tls.key and ca.crt), "
				  "or let cert-manager make it");
	if (p.exists) {
		X509 *cert, *cacert;
		EVP_PKEY *key;
		parse_pems(&p, &cert, &key, &cacert);
		/* Auto: the leaf must come from this cluster's signing CA, and
		 * ca.crt must be what the members trust (both CAs in a rotation) */
		X509 *judge_ca = auto_mode ? ca->cert : cacert;
		ectls_check(ec, k, what, cert, key, judge_ca, now, &f);
		if (f.ok && auto_mode && (!p.ca || strcmp(p.ca, trust_pem) != 0)) {
			f.ok = false;
			eo_strlcpy(f.reason, "CAMismatch", sizeof(f.reason));
			snprintf(f.message, sizeof(f.message), "Secret %s: ca.crt is not what the "
				 "cluster's members trust", what);
		}
		X509_free(cert);
		X509_free(cacert);
		EVP_PKEY_free(key);
	}
	bool due = f.ok && ectls_renew_due(f.not_before, f.not_after, now);
	if (auto_mode && (!f.ok || due)) {
		if (!may_write) {
			problem(s, f.ok ? "RenewalDue" : f.reason, "%s", f.message);
			pems_clear(&p);
			return;
		}
		struct secret_pems fresh = {0};
		if (issue(c, ec, k, ca, trust_pem, name, p.exists ? p.resource_version : NULL, &fresh,
			  &err) != 0) {
			problem(s, "SecretNotWritten", "Secret %s not %s: %s", what,
				p.exists ? "renewed" : "created", err.msg);
			log_warn("certificate not issued", "cluster=%s/%s secret=%s error=%s",
				 ec->namespace, ec->name, name, log_q(q, sizeof(q), err.msg));
			pems_clear(&p);
			return;
		}
		const char *why = !p.exists ? "created" : due ? "renewed at two thirds of its life"
							       : f.reason;
		X509 *nc = NULL;
		certs_parse_cert(fresh.cert, strlen(fresh.cert), "tls.crt", &nc, &err);
		int64_t na = 0;
		certs_validity(nc, NULL, &na);
		X509_free(nc);
		set_expiry(s, k, na);
		log_info("certificate issued", "cluster=%s/%s secret=%s kind=%s why=%s notAfter=%s",
			 ec->namespace, ec->name, name, ectls_kind_name(k), log_q(q, sizeof(q), why),
			 k == ECTLS_CA ? s->expiry.ca : k == ECTLS_PEER ? s->expiry.peer
						  : k == ECTLS_SERVER ? s->expiry.server : s->expiry.client);
		event(s, false, p.exists ? "CertificateRenewed" : "CertificateIssued",
		      "%s certificate in Secret %s %s", ectls_kind_name(k), name, why);
		pems_clear(&p);
		p = fresh;
		f.ok = true;
	} else if (!f.ok) {
		problem(s, f.reason, "%s", f.message);
		set_expiry(s, k, f.not_after);
	} else {
		set_expiry(s, k, f.not_after);
		if (!auto_mode && ectls_renew_due(f.not_before, f.not_after, now) && !s->warn_reason[0]) {
			/* the user's renewal (cert-manager's) is late: say so before it expires */
			char when[32];
			ectls_rfc3339(f.not_after, when, sizeof(when));
			eo_strlcpy(s->warn_reason, TLS_EXPIRING_SOON, sizeof(s->warn_reason));
			snprintf(s->warn_message, sizeof(s->warn_message),
				 "Secret %s: tls.crt is two thirds through its life and expires at %s; "
				 "renew it (cert-manager's Certificate, or by hand with the same CA)",
				 what, when);
		}
	}
	/* the controller's own credentials: the client certificate (Secret
	 * mode: the client side's Secret, which must allow clientAuth) */
	if (f.ok && (k == ECTLS_CLIENT || (k == ECTLS_SERVER && !auto_mode))) {
		s->ca_pem = p.ca;
		s->cert_pem = p.cert;
		s->key_pem = p.key;
		p.ca = p.cert = p.key = NULL;
	}
	pems_clear(&p);
}

static void drop_old_ca(struct ctl *c, const struct etcd_cluster *ec, struct tls_state *s);

void tls_sync(struct ctl *c, const struct etcd_cluster *ec, bool may_write, struct tls_state *s)
{
	memset(s, 0, sizeof(*s));
	s->ok = true;
	s->on = ectls_peer_on(ec) || ectls_client_on(ec);
	s->client_on = ectls_client_on(ec);
	if (!s->on || ec->deleting)
		return;
	int64_t now = (int64_t)time(NULL);
	struct certs_pair ca = {0};
	char *trust_pem = NULL;
	bool have_ca = false;
	if (ectls_issued(ec, ECTLS_CA))
		have_ca = ensure_ca(c, ec, may_write, &ca, &trust_pem, s, now) == 0;
	static const enum ectls_kind leaves[] = {ECTLS_PEER, ECTLS_SERVER, ECTLS_CLIENT};
	for (size_t i = 0; i < EO_ARRAY_LEN(leaves); i++) {
		enum ectls_kind k = leaves[i];
		if (k == ECTLS_PEER ? !ectls_peer_on(ec) : !ectls_client_on(ec))
			continue;
		if (k == ECTLS_CLIENT && !ectls_issued(ec, k))
			continue; /* Secret mode: the server Secret is the client one */
		if (ectls_issued(ec, k) && !have_ca)
			continue; /* nothing to judge Auto leaves by; the CA's problem is reported */
		sync_leaf(c, ec, k, may_write, &ca, trust_pem, s, now);
	}
	if (s->client_on && s->ok && !s->cert_pem)
		problem(s, "ClientCertificateMissing",
			"no client certificate for the operator to reach etcd with");
	/* Phase 3 of a CA rotation: the old CA out of every ca.crt once every
	 * leaf comes from the new one and the kubelets had time to refresh the
	 * members' files (--tls-ca-overlap). */
	if (have_ca && may_write && s->ok && !s->rotating && s->ca_bundle_n > 1 &&
	    s->ca_switched_at > 0 && now >= s->ca_switched_at + c->tls_ca_overlap_s)
		drop_old_ca(c, ec, s);
	if (s->ok && s->warn_reason[0]) {
		eo_strlcpy(s->reason, s->warn_reason, sizeof(s->reason));
		eo_strlcpy(s->message, s->warn_message, sizeof(s->message));
	} else if (s->ok) {
		eo_strlcpy(s->reason, "CertificatesReady", sizeof(s->reason));
		snprintf(s->message, sizeof(s->message), "%s%s%s",
			 ectls_peer_on(ec) ? "peer" : "", ectls_peer_on(ec) && s->client_on ? " and " : "",
			 s->client_on ? "client TLS certificates fit" : " TLS certificates fit");
	}
	certs_pair_clear(&ca);
	free(trust_pem);
}

/* Phase 3: ca.crt becomes the signing CA alone. The leaves follow on the
 * next pass (their ca.crt no longer matches). */
static void drop_old_ca(struct ctl *c, const struct etcd_cluster *ec, struct tls_state *s)
{
	char name[300], q[300];
	ectls_secret_name(ec, ECTLS_CA, name, sizeof(name));
	struct secret_pems p;
	struct eo_err err = {0};
	if (read_secret(c, ec->namespace, name, &p, &err) == 0 && p.exists && p.cert && p.key &&
	    !p.next_cert) {
		struct secret_out w = {.cert = p.cert, .key = p.key, .ca = p.cert,
				       .rotated_for = p.rotated_for, .switched_at = p.switched_at};
		if (write_secret_out(c, ec, name, p.resource_version, &w, &err) == 0) {
			log_info("CA rotation done", "cluster=%s/%s secret=%s", ec->namespace, ec->name,
				 name);
			event(s, false, "CARotated", "CA rotation done: the old CA is no longer in "
			      "ca.crt; every certificate comes from the new one");
		}
	}
	if (err.msg[0])
		log_warn("old CA not dropped", "cluster=%s/%s error=%s", ec->namespace, ec->name,
			 log_q(q, sizeof(q), err.msg));
	pems_clear(&p);
}

int tls_switch_ca(struct ctl *c, const struct etcd_cluster *ec, struct tls_state *s,
		  struct eo_err *err)
{
	char name[300], q[300];
	ectls_secret_name(ec, ECTLS_CA, name, sizeof(name));
	struct secret_pems p;
	if (read_secret(c, ec->namespace, name, &p, err) != 0)
		return -1;
	if (!p.exists || !p.next_cert || !p.next_key || !p.ca) {
		pems_clear(&p);
		return 0; /* switched already (a pass before a crash) */
	}
	struct secret_out w = {.cert = p.next_cert, .key = p.next_key, .ca = p.ca,
			       .rotated_for = p.rotated_for, .switched_at = (int64_t)time(NULL)};
	int rc = write_secret_out(c, ec, name, p.resource_version, &w, err);
	pems_clear(&p);
	if (rc != 0)
		return -1;
	log_info("CA switched", "cluster=%s/%s secret=%s revision=%s", ec->namespace, ec->name,
		 name, log_q(q, sizeof(q), s->trust_fp));
	event(s, false, "CASwitched", "every member trusts both CAs: the new CA signs from now "
	      "on, and the certificates are issued again from it");
	return 0;
}

void tls_state_clear(struct tls_state *s)
{
	free(s->ca_pem);
	free(s->cert_pem);
	wipe_free(s->key_pem);
	memset(s, 0, sizeof(*s));
}

const struct etcd_tls *tls_client_of(const struct tls_state *s, struct etcd_tls *buf)
{
	if (!s || !s->client_on || !s->cert_pem)
		return NULL;
	memset(buf, 0, sizeof(*buf));
	buf->ca_pem = s->ca_pem;
	buf->cert_pem = s->cert_pem;
	buf->key_pem = s->key_pem;
	return buf;
}
