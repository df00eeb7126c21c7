/*
 * tls_fixture.c — CA, server and client certificates for tests, made with
 * the OpenSSL C API (no openssl command line, no fixed files that expire).
 *
 * The one idea: one make_cert() signs every certificate; only the subject,
 * the extensions (CA, serverAuth + SAN, clientAuth) and the signer differ.
 */
#include "tls_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int ossl_fail(struct eo_err *err, const char *what)
{
	char buf[160] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return eo_err_set(err, EO_ESYS, "tls fixture: %s failed: %s", what, buf);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

enum kind { KIND_CA, KIND_SERVER, KIND_CLIENT };

/* A certificate for key, signed by issuer/issuer_key (NULL: self-signed). */
static X509 *make_cert(enum kind kind, EVP_PKEY *key, const char *cn, const char *org,
		       const char *san, X509 *issuer, EVP_PKEY *issuer_key, int expired)
{
	X509 *x = X509_new();
	unsigned char serial[8];
	BIGNUM *bn = NULL;
	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		goto fail;
	X509_set_version(x, 2);
	long from = expired ? -2 * 86400L : -3600L;
	long to = expired ? -86400L : 86400L;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), from) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), to))
		goto fail;
	X509_NAME *name = X509_get_subject_name(x);
	if (org && *org &&
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0))
		goto fail;
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
		goto fail;
	X509 *signer = issuer ? issuer : x;
	if (!X509_set_issuer_name(x, X509_get_subject_name(signer)) || !X509_set_pubkey(x, key))
		goto fail;
	int bad = add_ext(x, signer, NID_subject_key_identifier, "hash");
	if (kind == KIND_CA) {
		bad |= add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
		bad |= add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		bad |= add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
		bad |= add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
		bad |= add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
		bad |= add_ext(x, signer, NID_ext_key_usage,
			       kind == KIND_SERVER ? "serverAuth" : "clientAuth");
		if (san && *san)
			bad |= add_ext(x, signer, NID_subject_alt_name, san);
	}
	if (bad || !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* PEM of a certificate or a private key into path with mode. */
static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, struct eo_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok = b && (cert ? PEM_write_bio_X509(b, cert)
			    : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
	if (!ok) {
		BIO_free(b);
		return ossl_fail(err, "PEM encoding");
	}
	char *data;
	long len = BIO_get_mem_data(b, &data);
	int rc = eo_write_file(path, data, (size_t)len, cert ? 0644 : 0600, err);
	BIO_free(b);
	return rc;
}

int tls_fixture_make(const struct tls_fixture_opts *opts, struct tls_fixture *f,
		     struct eo_err *err)
{
	static const char *const def_dns[] = {"localhost", NULL};
	static const char *const def_ips[] = {"127.0.0.1", NULL};
	struct tls_fixture_opts o = opts ? *opts : (struct tls_fixture_opts){0};
	if (!opts)
		o.dns = def_dns, o.ips = def_ips;
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/eo-tls.XXXXXX");
	if (!mkdtemp(f->dir)) {
		f->dir[0] = '\0';
		return eo_err_set(err, EO_ESYS, "tls fixture: mkdtemp: %m");
	}
#define P(field, file) snprintf(f->field, sizeof(f->field), "%s/%s", f->dir, file)
	P(ca_cert, "ca.crt");
	P(ca_key, "ca.key");
	P(server_cert, "server.crt");
	P(server_key, "server.key");
	P(client_cert, "client.crt");
	P(client_key, "client.key");
#undef P

	struct eo_buf san = {0};
	for (const char *const *d = o.dns; d && *d; d++)
		eo_buf_printf(&san, "%sDNS:%s", san.len ? "," : "", *d);
	for (const char *const *i = o.ips; i && *i; i++)
		eo_buf_printf(&san, "%sIP:%s", san.len ? "," : "", *i);
	const char *server_cn = o.dns && o.dns[0] ? o.dns[0] : "test-server";

	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256"),
		 *cli_key = EVP_EC_gen("P-256");
	X509 *ca = NULL, *srv = NULL, *cli = NULL;
	int rc = -1;
	if (!ca_key || !srv_key || !cli_key) {
		ossl_fail(err, "P-256 key generation");
		goto out;
	}
	ca = make_cert(KIND_CA, ca_key, "etcd-operator test CA", NULL, NULL, NULL, NULL, 0);
	srv = ca ? make_cert(KIND_SERVER, srv_key, server_cn, NULL, san.data, ca, ca_key, o.expired)
		 : NULL;
	cli = srv ? make_cert(KIND_CLIENT, cli_key, o.client_cn ? o.client_cn : "test-client",
			      o.client_org, NULL, ca, ca_key, o.expired)
		  : NULL;
	if (!cli) {
		ossl_fail(err, "certificate creation");
		goto out;
	}
	if (write_pem(f->ca_cert, ca, NULL, err) || write_pem(f->ca_key, NULL, ca_key, err) ||
	    write_pem(f->server_cert, srv, NULL, err) || write_pem(f->server_key, NULL, srv_key, err) ||
	    write_pem(f->client_cert, cli, NULL, err) || write_pem(f->client_key, NULL, cli_key, err))
		goto out;
	rc = 0;
out:
	eo_buf_free(&san);
	X509_free(ca);
	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(cli_key);
	if (rc != 0)
		tls_fixture_remove(f);
	return rc;
}

void tls_fixture_remove(struct tls_fixture *f)
{
	if (!f || !f->dir[0])
		return;
	const char *files[] = {f->ca_cert, f->ca_key, f->server_cert,
			       f->server_key, f->client_cert, f->client_key};
	for (size_t i = 0; i < EO_ARRAY_LEN(files); i++)
		if (files[i][0])
			unlink(files[i]);
	rmdir(f->dir);
	memset(f, 0, sizeof(*f));
}
