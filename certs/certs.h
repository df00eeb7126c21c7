/*
 * certs.h — libcerts: the webhook's certificates, made with OpenSSL's C API,
 * and the manifests that carry them (webhook configurations with caBundle,
 * a kubernetes.io/tls Secret).
 *
 * The one idea: what kube-apiserver (Go's crypto/x509) checks is decided
 * here, once, in code — a CA with basicConstraints CA:TRUE (critical) and
 * keyCertSign; a leaf with digitalSignature, extKeyUsage serverAuth and
 * every name in subjectAltName (Go ignores the CN) — so no openssl.cnf, no
 * shell, and nothing a user can get subtly wrong.
 *
 * Rooms: x509.c makes and checks certificates in memory (no I/O); store.c
 * reads and writes them as files; inject.c and secret.c turn them into YAML
 * (text in, text out); cli.c is the command line. main.c only calls
 * certs_cli_main.
 */
#ifndef EO_CERTS_H
#define EO_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "eo.h"

/* ECDSA P-256 by default: small keys, fast handshakes, accepted by Go's
 * crypto/x509, GnuTLS (the webhook) and OpenSSL alike. RSA 2048 for places
 * whose policy still asks for RSA. */
enum certs_key_type { CERTS_KEY_ECDSA_P256, CERTS_KEY_RSA_2048 };

#define CERTS_DEFAULT_CA_DAYS 3650
#define CERTS_DEFAULT_DAYS 365
#define CERTS_MAX_DAYS 36500
#define CERTS_DEFAULT_SERVICE "etcd-webhook"
#define CERTS_DEFAULT_NAMESPACE "etcd-operator-system"
#define CERTS_DEFAULT_SECRET "etcd-webhook-tls"
#define CERTS_DEFAULT_DOMAIN "cluster.local"

/* A key and its certificate. Both owned; release with certs_pair_clear
 * (safe on a zeroed or already cleared pair). */
struct certs_pair {
	EVP_PKEY *key;
	X509 *cert;
};
void certs_pair_clear(struct certs_pair *p);

/* ---- x509.c: making and checking (pure, no I/O) ---- */

/* Parse "ecdsa" / "rsa" (also "ecdsa-p256", "rsa-2048"). */
int certs_key_type_parse(const char *s, enum certs_key_type *out, struct eo_err *err);

struct certs_ca_opts {
	const char *common_name; /* NULL: "etcd-operator-webhook-ca" */
	int days;                /* 1..CERTS_MAX_DAYS */
	enum certs_key_type key_type;
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

/* ---- store.c: files ---- */

#define CERTS_KEY_MODE 0600
#define CERTS_CERT_MODE 0644
#define CERTS_MAX_FILE (1 << 20)

/* Create dir (and parents) if missing; fail clearly when it is not a
 * writable directory. */
int certs_ensure_dir(const char *dir, struct eo_err *err);
/* Write dir/key_name (0600) and then dir/cert_name (0644), each atomically
 * (temp file + rename). Key first: a server that reloads when the
 * certificate changes sees the change only once both files are new; the
 * short window in between (new key, old certificate) is a mismatched pair,
 * which a reloading server must refuse anyway (the webhook checks that key
 * and certificate match before it swaps). */
int certs_write_pair(const char *dir, const char *cert_name, const char *key_name,
		     const struct certs_pair *p, struct eo_err *err);
/* Read a CA's certificate and key and check them (certs_check_ca,
 * certs_check_pair). Fills *out. */
int certs_load_ca(const char *cert_path, const char *key_path, struct certs_pair *out,
		  struct eo_err *err);
/* Does path exist (any kind of file)? */
bool certs_exists(const char *path);

/* ---- inject.c: caBundle into webhook configurations (pure) ---- */

/*
 * Copy the YAML stream text (one or more documents) to out, with
 * clientConfig.caBundle set to ca_b64 in every webhook of every
 * MutatingWebhookConfiguration and ValidatingWebhookConfiguration (also
 * inside a `kind: List`). Everything else is copied byte for byte, comments
 * included: only the caBundle values are written. *nwebhooks counts the
 * webhooks filled. what names the input in errors.
 */
int certs_inject(const char *text, size_t len, const char *what, const char *ca_b64,
		 struct eo_buf *out, int *nwebhooks, struct eo_err *err);

/* ---- secret.c: the Secret manifest (pure) ---- */

/* A kubernetes.io/tls Secret with tls.crt, tls.key and, when ca_pem is not
 * NULL, ca.crt. Appends YAML to out. */
int certs_secret_yaml(const char *name, const char *namespace, const char *cert_pem,
		      const char *key_pem, const char *ca_pem, struct eo_buf *out,
		      struct eo_err *err);

/* ---- cli.c ---- */

/* The etcd-certs program: argv as main gets it; out for results (YAML),
 * errf for messages. Returns the exit status: 0, 1 (failed), 2 (usage). */
int certs_cli_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
