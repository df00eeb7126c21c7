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
 * Rooms: shared/base/certs_x509.c makes and checks certificates in memory (no
 * I/O; shared with the controller, which issues etcd's certificates); store.c
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

#include "certs_x509.h"
#include "eo.h"

/* Making and checking certificates (the key types, certs_pair, certs_make_ca,
 * certs_make_serving, certs_make_leaf, PEM in and out) lives in the shared
 * library, since the controller issues etcd's certificates with it too. */

#define CERTS_DEFAULT_CA_DAYS 3650
#define CERTS_DEFAULT_DAYS 365
#define CERTS_DEFAULT_SERVICE "etcd-webhook"
#define CERTS_DEFAULT_NAMESPACE "etcd-operator-system"
#define CERTS_DEFAULT_SECRET "etcd-webhook-tls"

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
