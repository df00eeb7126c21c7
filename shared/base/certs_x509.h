/*
 * certs_x509.h — certificates made and checked in memory with OpenSSL's C
 * API: a CA, a webhook serving certificate, and leaves of any profile (the
 * etcd members' peer and server certificates, clients'). Pure: no files, no
 * clock beyond "now", no I/O. Used by etcd-certs (certs/) and by the
 * controller, which runs a CA per EtcdCluster (controller/tls.c).
 *
 * The one idea: what a verifier (Go's crypto/x509, GnuTLS, OpenSSL) checks is
 * decided here, once, in code — a CA with basicConstraints CA:TRUE
 * (critical) and keyCertSign; a leaf with digitalSignature, the extended key
 * usages it is for and every name in subjectAltName (Go ignores the CN).
 */
#ifndef EO_CERTS_X509_H
#define EO_CERTS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "eo.h"

/* ECDSA P-256 by default: small keys, fast handshakes, accepted by Go's
 * crypto/x509, GnuTLS (the webhook) and OpenSSL alike. RSA 2048 for places
 * whose policy still asks for RSA. */
enum certs_key_type { CERTS_KEY_ECDSA_P256, CERTS_KEY_RSA_2048 };

#define CERTS_MAX_DAYS 36500
#define CERTS_DEFAULT_DOMAIN "cluster.local"

/* A key and its certificate. Both owned; release with certs_pair_clear
 * (safe on a zeroed or already cleared pair). */
/* Every certificate made here starts this long before it was made (clock
 * skew between the machines that check it). */
#define CERTS_BACKDATE_SECONDS 300

struct certs_pair {
	EVP_PKEY *key;
	X509 *cert;
};
void certs_pair_clear(struct certs_pair *p);

/* ---- making and checking (pure, no I/O) ---- */

/* Parse "ecdsa" / "rsa" (also "ecdsa-p256", "rsa-2048"). */
int certs_key_type_parse(const char *s, enum certs_key_type *out, struct eo_err *err);

struct certs_ca_opts {
	const char *common_name; /* NULL: "etcd-operator-webhook-ca" */
	int days;                /* 1..CERTS_MAX_DAYS */
	enum certs_key_type key_type;
	long seconds;            /* > 0: the lifetime in seconds instead of days */
};
/* A self-signed CA. Fills *out (caller clears it). */
int certs_make_ca(const struct certs_ca_opts *o, struct certs_pair *out, struct eo_err *err);

struct certs_serve_opts {
	const char *service;        /* a DNS label */
	const char *namespace;      /* a DNS label */
	const char *cluster_domain; /* NULL: cluster.local */
	const char *const *dns;     /* extra DNS names (borrowed) */
	size_t ndns;
	const char *const *ips;     /* extra IP addresses, v4 or v6 (borrowed) */
	size_t nips;
	int days; /* 1..CERTS_MAX_DAYS, and not past the CA's own expiry */
	enum certs_key_type key_type;
};
/* A serving certificate signed by ca for NAME, NAME.NS, NAME.NS.svc and
 * NAME.NS.svc.<domain>, plus the extra names. Fills *out. */
int certs_make_serving(const struct certs_pair *ca, const struct certs_serve_opts *o,
		       struct certs_pair *out, struct eo_err *err);

/* Checks with an actionable message: cert is a CA that can sign (and has not
 * expired); key belongs to cert. */
int certs_check_ca(X509 *cert, struct eo_err *err);
int certs_check_pair(X509 *cert, EVP_PKEY *key, struct eo_err *err);

/* PEM text, malloc'd and NUL-terminated (caller frees). The key is PKCS#8
 * ("BEGIN PRIVATE KEY"), which Go, GnuTLS and OpenSSL all read. */
char *certs_pem_cert(X509 *cert);
char *certs_pem_key(EVP_PKEY *key);
/* Parse the first certificate / private key of a PEM text; what names the
 * source in errors (a file name). New references on *out. */
int certs_parse_cert(const char *pem, size_t len, const char *what, X509 **out,
		     struct eo_err *err);
int certs_parse_key(const char *pem, size_t len, const char *what, EVP_PKEY **out,
		    struct eo_err *err);

/* The caBundle for webhook configurations: every certificate in a PEM text
 * (one CA, or old and new during a CA rotation), each checked to be a CA,
 * re-encoded and base64'd. *b64 malloc'd (caller frees). */
int certs_ca_bundle(const char *pem, size_t len, const char *what, char **b64, int *ncerts,
		    struct eo_err *err);

/* Name checks used by the command line before anything is made. */
bool certs_valid_label(const char *s);   /* RFC 1123 label, ≤ 63 */
bool certs_valid_dns(const char *s);     /* dotted labels, optional leading "*." */

/*
 * A leaf of any profile, signed by ca: basicConstraints CA:FALSE,
 * digitalSignature, extendedKeyUsage serverAuth and/or clientAuth, the DNS
 * names and IPs given (in that order) as subjectAltName. seconds: the
 * lifetime (at least 60, and not past the CA's expiry). Fills *out.
 */
struct certs_leaf_opts {
	const char *common_name;    /* NULL: "etcd" */
	const char *const *dns;     /* borrowed */
	size_t ndns;
	const char *const *ips;     /* borrowed */
	size_t nips;
	long seconds;
	bool server, client;        /* extendedKeyUsage serverAuth, clientAuth */
	enum certs_key_type key_type;
};
int certs_make_leaf(const struct certs_pair *ca, const struct certs_leaf_opts *o,
		    struct certs_pair *out, struct eo_err *err);

/* Inspection, for checking a certificate someone else made. */
/* notBefore/notAfter as Unix seconds (either pointer may be NULL); -1 when
 * unreadable. */
int certs_validity(X509 *cert, int64_t *not_before, int64_t *not_after);
/* Whether subjectAltName covers the DNS name or IP address. */
bool certs_covers(X509 *cert, const char *name);
/* Whether ca issued cert (names match and ca's key verifies the signature). */
bool certs_signed_by(X509 *cert, X509 *ca);
/* Whether cert may serve TLS (server) and/or authenticate a client (client):
 * its extendedKeyUsage holds the ones asked for (none present: any). */
bool certs_has_usage(X509 *cert, bool server, bool client);

#endif
