/*
 * tls_fixture.h — a throw-away PKI for tests: a CA, a server certificate for
 * the DNS names and IP addresses a test listens on, and a client certificate
 * with a given CN and O, written as PEM files in a fresh temp directory.
 *
 * Keys are ECDSA P-256 (PKCS#8 PEM, mode 0600); certificates are valid from
 * an hour ago for one day, or, with .expired, ended yesterday (the CA stays
 * valid, so only the leaf is at fault). Every test binary links every file
 * of test/helpers, so this stays small and depends on OpenSSL and eo only.
 * Include it as "../helpers/tls_fixture.h".
 *
 *     struct tls_fixture f;
 *     const char *dns[] = {"kube.test", NULL}, *ips[] = {"127.11.3.4", NULL};
 *     struct tls_fixture_opts o = {.dns = dns, .ips = ips, .client_cn = "alice",
 *                                  .client_org = "system:masters"};
 *     if (tls_fixture_make(&o, &f, &err) != 0) fail(err.msg);
 *     ... f.ca_cert, f.server_cert, f.server_key, f.client_cert, f.client_key ...
 *     tls_fixture_remove(&f);
 */
#ifndef EO_TLS_FIXTURE_H
#define EO_TLS_FIXTURE_H

#include "eo.h"

struct tls_fixture {
	char dir[64]; /* the temp directory holding the files below */
	char ca_cert[128], ca_key[128];
	char server_cert[128], server_key[128];
	char client_cert[128], client_key[128];
};

struct tls_fixture_opts {
	const char *const *dns; /* NULL-terminated server DNS names, or NULL */
	const char *const *ips; /* NULL-terminated IPv4/IPv6 addresses, or NULL */
	const char *client_cn;  /* NULL → "test-client" */
	const char *client_org; /* NULL → no O */
	int expired;            /* 1: server and client certificates already expired */
};

/* opts may be NULL (server for "localhost" and 127.0.0.1). 0, or -1 with err. */
int tls_fixture_make(const struct tls_fixture_opts *opts, struct tls_fixture *out,
		     struct eo_err *err);
/* Delete the files and the directory; safe on a zeroed or removed fixture. */
void tls_fixture_remove(struct tls_fixture *f);

#endif
