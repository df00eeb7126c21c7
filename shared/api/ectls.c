/*
 * ectls.c — the names, lifetimes and fit of an EtcdCluster's certificates
 * (ectls.h). Pure: OpenSSL is used only to read certificates handed in.
 *
 * Fit is checked in the order a person would fix things: the pieces exist
 * (tls.crt, tls.key, ca.crt), they belong together (key matches, CA signed
 * it), it is in its lifetime, it may be used the way etcd uses it, and it
 * names every member. The first failure is the reason.
 */
/* OpenSSL before ectls.h (cluster.h's EC_GROUP, see ectls.h). */
#include <openssl/x509v3.h>

#include "certs_x509.h"
#include "ectls.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const ectls_ips[] = {"127.0.0.1"};

/* Member ordinals the peer and server certificates name: 0..9 (replicas are
 * at most 9; a spare covers a replaced member's Pod name being reused). */
#define ECTLS_ORDINALS 10

const char *ectls_kind_name(enum ectls_kind k)
{
	static const char *const names[] = {"ca", "peer", "server", "client"};
	return (unsigned)k < EO_ARRAY_LEN(names) ? names[k] : "?";
}

bool ectls_peer_on(const struct etcd_cluster *c)
{
	return c->spec.tls_peer.mode == EC_TLS_AUTO || c->spec.tls_peer.mode == EC_TLS_SECRET;
}

bool ectls_client_on(const struct etcd_cluster *c)
{
	return c->spec.tls_client.mode == EC_TLS_AUTO || c->spec.tls_client.mode == EC_TLS_SECRET;
}

bool ectls_issued(const struct etcd_cluster *c, enum ectls_kind k)
{
	bool peer = c->spec.tls_peer.mode == EC_TLS_AUTO;
	bool client = c->spec.tls_client.mode == EC_TLS_AUTO;
	switch (k) {
	case ECTLS_CA: return peer || client;
	case ECTLS_PEER: return peer;
	case ECTLS_SERVER:
	case ECTLS_CLIENT: return client;
	default: return false;
	}
}

int ectls_secret_name(const struct etcd_cluster *c, enum ectls_kind k, char *out, size_t size)
{
	static const char *const suffix[] = {EC_TLS_CA_SUFFIX, EC_TLS_PEER_SUFFIX,
					     EC_TLS_SERVER_SUFFIX, EC_TLS_CLIENT_SUFFIX};
	const struct ec_tls_side *side = k == ECTLS_PEER ? &c->spec.tls_peer : &c->spec.tls_client;
	if ((unsigned)k >= ECTLS_NKINDS)
		return -1;
	if (k == ECTLS_CA) {
		if (!ectls_issued(c, ECTLS_CA))
			return -1;
		snprintf(out, size, "%s%s", c->name, suffix[k]);
		return 0;
	}
	if (side->mode == EC_TLS_AUTO) {
		snprintf(out, size, "%s%s", c->name, suffix[k]);
		return 0;
	}
	if (side->mode == EC_TLS_SECRET) {
		eo_strlcpy(out, side->secret_name, size);
		return 0;
	}
	return -1;
}

int ectls_dns_names(const struct etcd_cluster *c, enum ectls_kind k, char out[][ECTLS_NAME_LEN],
		    int max)
{
	int n = 0;
#define ADD(...)                                                                    \
	do {                                                                        \
		if (n < max)                                                        \
			snprintf(out[n++], ECTLS_NAME_LEN, __VA_ARGS__);            \
	} while (0)
	if (k != ECTLS_PEER && k != ECTLS_SERVER)
		return 0;
	const char *nm = c->name, *ns = c->namespace, *dom = c->spec.cluster_domain;
	for (int i = 0; i < ECTLS_ORDINALS; i++)
		ADD("%s-%d.%s-peer.%s.svc.%s", nm, i, nm, ns, dom);
	for (int i = 0; i < ECTLS_ORDINALS; i++)
		ADD("%s-%d.%s-peer.%s.svc", nm, i, nm, ns);
	if (k == ECTLS_SERVER) {
		ADD("%s-client", nm);
		ADD("%s-client.%s", nm, ns);
		ADD("%s-client.%s.svc", nm, ns);
		ADD("%s-client.%s.svc.%s", nm, ns, dom);
	}
	ADD("localhost");
#undef ADD
	return n;
}

void ectls_peer_cn(const struct etcd_cluster *c, char *out, size_t size)
{
	snprintf(out, size, "%s-peer", c->name);
}

bool ectls_renew_due(int64_t not_before, int64_t not_after, int64_t now)
{
	if (not_after <= not_before)
		return true;
	/* the life as issued: a backdated start is not part of it (a one-minute
	 * certificate made here would otherwise be due the moment it is made) */
	if (not_after - not_before > CERTS_BACKDATE_SECONDS)
		not_before += CERTS_BACKDATE_SECONDS;
	return now >= not_before + (not_after - not_before) * 2 / 3;
}

void ectls_rfc3339(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		eo_strlcpy(out, "", size);
}

static void unfit(struct ectls_fit *f, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void unfit(struct ectls_fit *f, const char *reason, const char *fmt, ...)
{
	f->ok = false;
	eo_strlcpy(f->reason, reason, sizeof(f->reason));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
}

void ectls_check(const struct etcd_cluster *c, enum ectls_kind k, const char *what, X509 *cert,
		 EVP_PKEY *key, X509 *ca, int64_t now, struct ectls_fit *f)
{
	memset(f, 0, sizeof(*f));
	f->ok = true;
	if (!cert) {
		unfit(f, "CertificateMissing", "Secret %s: no readable PEM certificate in tls.crt",
		      what);
		return;
	}
	certs_validity(cert, &f->not_before, &f->not_after);
	if (!key) {
		unfit(f, "KeyMissing", "Secret %s: no readable unencrypted PEM key in tls.key", what);
		return;
	}
	struct eo_err err = {0};
	if (certs_check_pair(cert, key, &err) != 0) {
		unfit(f, "KeyMismatch", "Secret %s: tls.key does not belong to tls.crt; put the "
		      "key made with the certificate", what);
		return;
	}
	if (k == ECTLS_CA) {
		if (X509_check_ca(cert) != 1)
			unfit(f, "NotACA", "Secret %s: tls.crt is not a CA certificate", what);
	} else if (!ca) {
		unfit(f, "CAMissing", "Secret %s: no ca.crt; add the CA that signed tls.crt under the "
		      "key ca.crt (cert-manager does for its CA issuers), etcd trusts only it", what);
		return;
	} else if (!certs_signed_by(cert, ca)) {
		unfit(f, "CAMismatch", "Secret %s: tls.crt was not signed by the CA in ca.crt; put the "
		      "issuing CA in ca.crt", what);
		return;
	}
	if (!f->ok)
		return;
	char when[32];
	if (f->not_before > now + 300) {
		ectls_rfc3339(f->not_before, when, sizeof(when));
		unfit(f, "NotYetValid", "Secret %s: tls.crt is valid only from %s", what, when);
		return;
	}
	if (f->not_after <= now) {
		ectls_rfc3339(f->not_after, when, sizeof(when));
		unfit(f, "Expired", "Secret %s: tls.crt expired at %s; renew it (same CA)", what, when);
		return;
	}
	bool server = k == ECTLS_PEER || k == ECTLS_SERVER;
	bool client = k != ECTLS_CA;
	if (k != ECTLS_CA && !certs_has_usage(cert, server, client)) {
		unfit(f, "WrongUsage",
		      "Secret %s: tls.crt's extendedKeyUsage must allow %s: etcd %s", what,
		      server ? "serverAuth and clientAuth" : "clientAuth",
		      k == ECTLS_PEER ? "members dial each other with it"
		      : k == ECTLS_SERVER ? "serves clients with it and its gateway and the "
					    "operator's init step dial with it"
					  : "clients present it");
		return;
	}
	char names[ECTLS_MAX_NAMES][ECTLS_NAME_LEN];
	int n = ectls_dns_names(c, k, names, ECTLS_MAX_NAMES);
	/* The members that can exist must be named: ordinals 0..8 in the full
	 * form (the short forms and the spare ordinal are a convenience). */
	for (int i = 0; i < n; i++) {
		bool needed = i < EC_MAX_REPLICAS || (k == ECTLS_SERVER && strstr(names[i], "-client.") &&
						      strstr(names[i], ".svc."));
		if (needed && !certs_covers(cert, names[i])) {
			unfit(f, "NameMismatch",
			      "Secret %s: tls.crt does not name %s; its subjectAltName must cover "
			      "every member (%s-<0..8>.%s-peer.%s.svc.%s)%s", what, names[i], c->name,
			      c->name, c->namespace, c->spec.cluster_domain,
			      k == ECTLS_SERVER ? " and the client Service" : "");
			return;
		}
	}
}
