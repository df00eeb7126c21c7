/*
 * certs_x509.c — make and check CAs, the webhook's serving certificate and
 * etcd's leaves in memory with OpenSSL 3's C API. No files, no
 * configuration file, no shell.
 *
 * The one idea: every extension kube-apiserver's Go verifier looks at is set
 * explicitly and the same way each time — the profile below is the whole
 * contract:
 *   CA    basicConstraints critical CA:TRUE, pathlen:0
 *         keyUsage critical keyCertSign, cRLSign, digitalSignature
 *         subjectKeyIdentifier, authorityKeyIdentifier
 *   leaf  basicConstraints critical CA:FALSE
 *         keyUsage critical digitalSignature (+ keyEncipherment for RSA)
 *         extendedKeyUsage serverAuth
 *         subjectAltName with every DNS name and IP (Go ignores the CN)
 *         subjectKeyIdentifier, authorityKeyIdentifier
 * Serial numbers are 128 random bits (positive, non-zero), signatures
 * SHA-256, notBefore five minutes in the past (clock skew between the
 * machine that makes the certificate and the API server).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "certs_x509.h"

#define DEFAULT_CA_CN "etcd-operator-webhook-ca"

void certs_pair_clear(struct certs_pair *p)
{
	if (!p)
		return;
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	p->key = NULL;
	p->cert = NULL;
}

/* OpenSSL keeps its reasons on a thread-local queue; put the first one in
 * the message (and empty the queue so the next error starts clean). */
static int ossl_fail(struct eo_err *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char reason[160] = "no detail from OpenSSL";
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	return eo_err_set(err, EO_EINVAL, "%s: %s", what, reason);
}

int certs_key_type_parse(const char *s, enum certs_key_type *out, struct eo_err *err)
{
	if (s && (!strcmp(s, "ecdsa") || !strcmp(s, "ecdsa-p256") || !strcmp(s, "p256"))) {
		*out = CERTS_KEY_ECDSA_P256;
		return 0;
	}
	if (s && (!strcmp(s, "rsa") || !strcmp(s, "rsa-2048"))) {
		*out = CERTS_KEY_RSA_2048;
		return 0;
	}
	return eo_err_set(err, EO_EINVAL, "--key-type \"%s\": use ecdsa (P-256, the default) or rsa (2048 bits)",
			  s ? s : "");
}

bool certs_valid_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

bool certs_valid_dns(const char *s)
{
	if (!s || !*s || strlen(s) > 253)
		return false;
	if (!strncmp(s, "*.", 2))
		s += 2;
	char label[64];
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof(label))
			return false;
		memcpy(label, p, n);
		label[n] = '\0';
		for (size_t i = 0; i < n; i++)
			label[i] = (char)tolower((unsigned char)label[i]);
		if (!certs_valid_label(label))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static EVP_PKEY *make_key(enum certs_key_type t, struct eo_err *err)
{
	EVP_PKEY *k = t == CERTS_KEY_RSA_2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	if (!k)
		ossl_fail(err, "generating a private key");
	return k;
}

static int set_random_serial(X509 *x, struct eo_err *err)
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		return ossl_fail(err, "random serial number");
	b[0] &= 0x7f; /* positive as a DER INTEGER */
	b[0] |= 0x01; /* non-zero, and never shorter than 16 bytes' worth */
	BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
	ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	int ok = serial && X509_set_serialNumber(x, serial) == 1;
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return ok ? 0 : ossl_fail(err, "setting the serial number");
}

static int check_days(int days, struct eo_err *err)
{
	if (days < 1 || days > CERTS_MAX_DAYS)
		return eo_err_set(err, EO_EINVAL, "--days %d: use 1 to %d", days, CERTS_MAX_DAYS);
	return 0;
}

/* Version 3, serial, validity (seconds from now), subject CN, public key;
 * issuer set by caller. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, long seconds, struct eo_err *err)
{
	X509 *x = X509_new();
	if (!x) {
		ossl_fail(err, "allocating a certificate");
		return NULL;
	}
	if (set_random_serial(x, err) != 0) {
		X509_free(x);
		return NULL;
	}
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -CERTS_BACKDATE_SECONDS) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), 0, seconds, NULL) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
				       -1, 0) != 1 ||
	    X509_set_pubkey(x, key) != 1) {
		ossl_fail(err, "filling the certificate");
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Add one extension from OpenSSL's text form; ctx says who issues whom. */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct eo_err *err)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	if (!ok) {
		char what[96];
		snprintf(what, sizeof(what), "extension %s = %s", OBJ_nid2sn(nid), value);
		return ossl_fail(err, what);
	}
	return 0;
}

static int sign(X509 *x, EVP_PKEY *issuer_key, struct eo_err *err)
{
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		return ossl_fail(err, "signing the certificate");
	return 0;
}

int certs_make_ca(const struct certs_ca_opts *o, struct certs_pair *out, struct eo_err *err)
{
	out->key = NULL;
	out->cert = NULL;
	if (o->seconds <= 0 && check_days(o->days, err) != 0)
		return -1;
	long seconds = o->seconds > 0 ? o->seconds : (long)o->days * 86400;
	const char *cn = o->common_name && *o->common_name ? o->common_name : DEFAULT_CA_CN;
	if (strlen(cn) > 64)
		return eo_err_set(err, EO_EINVAL, "CA name \"%.40s…\": at most 64 characters", cn);
	EVP_PKEY *key = make_key(o->key_type, err);
	if (!key)
		return -1;
	X509 *x = new_cert(key, cn, seconds, err);
	if (!x) {
		EVP_PKEY_free(key);
		return -1;
	}
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err) != 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature", err) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err) != 0 ||
	    sign(x, key, err) != 0) {
		X509_free(x);
		EVP_PKEY_free(key);
		return -1;
	}
	out->key = key;
	out->cert = x;
	return 0;
}

static int add_dns(GENERAL_NAMES *names, const char *dns)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	if (!g || !s || ASN1_STRING_set(s, dns, -1) != 1) {
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(s);
		return -1;
	}
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	if (!sk_GENERAL_NAME_push(names, g)) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

static int add_ip(GENERAL_NAMES *names, const char *ip)
{
	ASN1_OCTET_STRING *s = a2i_IPADDRESS(ip);
	GENERAL_NAME *g = s ? GENERAL_NAME_new() : NULL;
	if (!g) {
		ASN1_OCTET_STRING_free(s);
		return -1;
	}
	GENERAL_NAME_set0_value(g, GEN_IPADD, s);
	if (!sk_GENERAL_NAME_push(names, g)) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

static bool valid_ip(const char *s)
{
	unsigned char buf[16];
	return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* subjectAltName: the four Service forms, then the extras. Built as
 * GENERAL_NAMEs rather than from a config string, so no name can smuggle
 * a comma-separated extra entry in. */
static int add_san(X509 *x, const struct certs_serve_opts *o, const char *domain,
		   struct eo_err *err)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	if (!names)
		return ossl_fail(err, "subjectAltName");
	char *forms[4] = {
		eo_strdupf("%s", o->service),
		eo_strdupf("%s.%s", o->service, o->namespace),
		eo_strdupf("%s.%s.svc", o->service, o->namespace),
		eo_strdupf("%s.%s.svc.%s", o->service, o->namespace, domain),
	};
	int rc = 0;
	for (size_t i = 0; i < EO_ARRAY_LEN(forms) && rc == 0; i++)
		rc = add_dns(names, forms[i]);
	for (size_t i = 0; i < o->ndns && rc == 0; i++)
		rc = add_dns(names, o->dns[i]);
	for (size_t i = 0; i < o->nips && rc == 0; i++)
		rc = add_ip(names, o->ips[i]);
	for (size_t i = 0; i < EO_ARRAY_LEN(forms); i++)
		free(forms[i]);
	if (rc == 0 && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1)
		rc = -1;
	GENERAL_NAMES_free(names);
	return rc == 0 ? 0 : ossl_fail(err, "subjectAltName");
}

static int check_serve_opts(const struct certs_serve_opts *o, const char *domain,
			    struct eo_err *err)
{
	if (!certs_valid_label(o->service))
		return eo_err_set(err, EO_EINVAL,
				  "--service \"%s\": a Service name is a DNS label (a-z, 0-9, '-', at most 63)",
				  o->service ? o->service : "");
	if (!certs_valid_label(o->namespace))
		return eo_err_set(err, EO_EINVAL,
				  "--namespace \"%s\": a namespace is a DNS label (a-z, 0-9, '-', at most 63)",
				  o->namespace ? o->namespace : "");
	if (!certs_valid_dns(domain))
		return eo_err_set(err, EO_EINVAL, "--cluster-domain \"%s\": not a DNS name", domain);
	for (size_t i = 0; i < o->ndns; i++)
		if (!certs_valid_dns(o->dns[i]))
			return eo_err_set(err, EO_EINVAL,
					  "--dns \"%s\": not a DNS name (letters, digits, '-', dots; \"*.\" may lead)",
					  o->dns[i]);
	for (size_t i = 0; i < o->nips; i++)
		if (!valid_ip(o->ips[i]))
			return eo_err_set(err, EO_EINVAL, "--ip \"%s\": not an IPv4 or IPv6 address",
					  o->ips[i]);
	return check_days(o->days, err);
}

/* The leaf must not outlive its CA: after the CA expires nothing verifies. */
static int check_within_ca(X509 *ca, long seconds, struct eo_err *err)
{
	int cd = 0, cs = 0;
	int days = (int)(seconds / 86400);
	ASN1_TIME *end = X509_time_adj_ex(NULL, 0, seconds, NULL);
	int ok = end && ASN1_TIME_diff(&cd, &cs, end, X509_get0_notAfter(ca)) == 1;
	ASN1_TIME_free(end);
	if (!ok)
		return ossl_fail(err, "comparing validity with the CA's");
	if (cd < 0 || cs < 0) {
		int left = 0, ls = 0;
		ASN1_TIME_diff(&left, &ls, NULL, X509_get0_notAfter(ca));
		return eo_err_set(err, EO_EINVAL,
				  "a certificate for %d days would outlive its CA, which expires in %d days; "
				  "use --days %d or less, or make a new CA (etcd-certs ca --force)",
				  days, left, left > 1 ? left - 1 : 1);
	}
	return 0;
}

int certs_make_serving(const struct certs_pair *ca, const struct certs_serve_opts *o,
		       struct certs_pair *out, struct eo_err *err)
{
	out->key = NULL;
	out->cert = NULL;
	const char *domain = o->cluster_domain && *o->cluster_domain ? o->cluster_domain
								    : CERTS_DEFAULT_DOMAIN;
	if (check_serve_opts(o, domain, err) != 0 || certs_check_ca(ca->cert, err) != 0 ||
	    certs_check_pair(ca->cert, ca->key, err) != 0 ||
	    check_within_ca(ca->cert, (long)o->days * 86400, err) != 0)
		return -1;

	/* CN is informative only; the SAN carries the names. It is capped at
	 * 64 characters by X.509, so a long Service falls back to its name. */
	char cn[80];
	snprintf(cn, sizeof(cn), "%s.%s.svc", o->service, o->namespace);
	if (strlen(cn) > 64)
		eo_strlcpy(cn, o->service, sizeof(cn));

	EVP_PKEY *key = make_key(o->key_type, err);
	if (!key)
		return -1;
	X509 *x = new_cert(key, cn, (long)o->days * 86400, err);
	if (!x) {
		EVP_PKEY_free(key);
		return -1;
	}
	const char *usage = o->key_type == CERTS_KEY_RSA_2048
				    ? "critical,digitalSignature,keyEncipherment"
				    : "critical,digitalSignature";
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
	    add_ext(x, &ctx, NID_key_usage, usage, err) != 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth", err) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err) != 0 ||
	    add_san(x, o, domain, err) != 0 || sign(x, ca->key, err) != 0) {
		X509_free(x);
		EVP_PKEY_free(key);
		return -1;
	}
	out->key = key;
	out->cert = x;
	return 0;
}

int certs_check_ca(X509 *cert, struct eo_err *err)
{
	if (!cert)
		return eo_err_set(err, EO_EINVAL, "no CA certificate");
	/* X509_check_ca: 1 for a v3 CA with basicConstraints CA:TRUE (and
	 * keyCertSign when keyUsage is present). */
	if (X509_check_ca(cert) != 1)
		return eo_err_set(err, EO_EINVAL,
				  "the certificate is not a CA (basicConstraints CA:TRUE with keyCertSign is "
				  "required); pass the CA's certificate, not the serving one, or make a CA "
				  "with `etcd-certs ca`");
	uint32_t ku = X509_get_key_usage(cert);
	if (ku != UINT32_MAX && !(ku & KU_KEY_CERT_SIGN))
		return eo_err_set(err, EO_EINVAL, "the CA's keyUsage lacks keyCertSign: it cannot sign certificates");
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		return eo_err_set(err, EO_EINVAL,
				  "the CA has expired; make a new one (etcd-certs ca --force) and re-inject the caBundle");
	return 0;
}

int certs_check_pair(X509 *cert, EVP_PKEY *key, struct eo_err *err)
{
	if (!cert || !key)
		return eo_err_set(err, EO_EINVAL, "a certificate and its key are both needed");
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		return eo_err_set(err, EO_EINVAL,
				  "the private key does not belong to the certificate; pass the key that was "
				  "made with it");
	}
	return 0;
}

/* Drain a memory BIO into a malloc'd string. */
static char *bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
	if (!s)
		abort();
	if (n > 0)
		memcpy(s, data, (size_t)n);
	s[n > 0 ? n : 0] = '\0';
	return s;
}

char *certs_pem_cert(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || PEM_write_bio_X509(b, cert) != 1) {
		BIO_free(b);
		ERR_clear_error();
		return NULL;
	}
	char *s = bio_string(b);
	BIO_free(b);
	return s;
}

char *certs_pem_key(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_secmem());
	if (!b || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		ERR_clear_error();
		return NULL;
	}
	char *s = bio_string(b);
	BIO_free(b);
	return s;
}

static void *read_cert(BIO *b)
{
	return PEM_read_bio_X509(b, NULL, NULL, NULL);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0; /* an encrypted key is refused, never prompted for */
}

static void *read_key(BIO *b)
{
	return PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
}

/* One PEM object from pem[0..len) by reader (read_cert, read_key), or NULL with
 * err set: "WHAT: too large for NOUN" or "WHAT: MISSING". OpenSSL's error
 * queue is left empty either way. */
static void *parse_pem(const char *pem, size_t len, void *(*reader)(BIO *), const char *what,
		       const char *noun, const char *missing, struct eo_err *err)
{
	if (len > INT32_MAX) {
		eo_err_set(err, EO_EINVAL, "%s: too large for %s", what, noun);
		return NULL;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	void *obj = b ? reader(b) : NULL;
	BIO_free(b);
	if (!obj) {
		ERR_clear_error();
		eo_err_set(err, EO_EPARSE, "%s: %s", what, missing);
	}
	return obj;
}

int certs_parse_cert(const char *pem, size_t len, const char *what, X509 **out,
		     struct eo_err *err)
{
	*out = parse_pem(pem, len, read_cert, what, "a certificate",
			 "no PEM certificate (\"-----BEGIN CERTIFICATE-----\") could be read", err);
	return *out ? 0 : -1;
}

int certs_parse_key(const char *pem, size_t len, const char *what, EVP_PKEY **out,
		    struct eo_err *err)
{
	*out = parse_pem(pem, len, read_key, what, "a key",
			 "no unencrypted PEM private key could be read (PKCS#8, EC or RSA)", err);
	return *out ? 0 : -1;
}

int certs_ca_bundle(const char *pem, size_t len, const char *what, char **b64, int *ncerts,
		    struct eo_err *err)
{
	*b64 = NULL;
	*ncerts = 0;
	if (len > INT32_MAX)
		return eo_err_set(err, EO_EINVAL, "%s: too large for a CA bundle", what);
	BIO *in = BIO_new_mem_buf(pem, (int)len);
	BIO *bundle = BIO_new(BIO_s_mem());
	int rc = 0, n = 0;
	if (!in || !bundle)
		rc = ossl_fail(err, "allocating buffers");
	for (X509 *x; rc == 0 && (x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL; n++) {
		if (certs_check_ca(x, err) != 0) {
			eo_err_prefix(err, "%s: certificate %d: ", what, n + 1);
			rc = -1;
		} else if (PEM_write_bio_X509(bundle, x) != 1) {
			rc = ossl_fail(err, "encoding the CA bundle");
		}
		X509_free(x);
	}
	ERR_clear_error(); /* the loop ends on "no start line" */
	if (rc == 0 && n == 0)
		rc = eo_err_set(err, EO_EPARSE,
				"%s: no PEM certificate (\"-----BEGIN CERTIFICATE-----\") in it; pass the "
				"CA's ca.crt", what);
	if (rc == 0) {
		char *text = bio_string(bundle);
		*b64 = eo_b64_encode(text, strlen(text));
		free(text);
		*ncerts = n;
	}
	BIO_free(in);
	BIO_free(bundle);
	return rc;
}

/* ---- leaves of any profile (etcd's peer, server and client certificates) */

static int add_leaf_san(X509 *x, const struct certs_leaf_opts *o, struct eo_err *err)
{
	if (o->ndns == 0 && o->nips == 0)
		return 0;
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int rc = names ? 0 : -1;
	for (size_t i = 0; i < o->ndns && rc == 0; i++)
		rc = add_dns(names, o->dns[i]);
	for (size_t i = 0; i < o->nips && rc == 0; i++)
		rc = add_ip(names, o->ips[i]);
	if (rc == 0 && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1)
		rc = -1;
	GENERAL_NAMES_free(names);
	return rc == 0 ? 0 : ossl_fail(err, "subjectAltName");
}

int certs_make_leaf(const struct certs_pair *ca, const struct certs_leaf_opts *o,
		    struct certs_pair *out, struct eo_err *err)
{
	out->key = NULL;
	out->cert = NULL;
	const char *cn = o->common_name && *o->common_name ? o->common_name : "etcd";
	if (strlen(cn) > 64)
		return eo_err_set(err, EO_EINVAL, "common name \"%.40s…\": at most 64 characters", cn);
	if (o->seconds < 60)
		return eo_err_set(err, EO_EINVAL, "a certificate lifetime of %lds: at least 60 s",
				  o->seconds);
	if (!o->server && !o->client)
		return eo_err_set(err, EO_EINVAL, "a leaf certificate is for a server, a client or both");
	for (size_t i = 0; i < o->ndns; i++)
		if (!certs_valid_dns(o->dns[i]))
			return eo_err_set(err, EO_EINVAL, "\"%s\" is not a DNS name", o->dns[i]);
	for (size_t i = 0; i < o->nips; i++)
		if (!valid_ip(o->ips[i]))
			return eo_err_set(err, EO_EINVAL, "\"%s\" is not an IP address", o->ips[i]);
	if (certs_check_ca(ca->cert, err) != 0 || certs_check_pair(ca->cert, ca->key, err) != 0 ||
	    check_within_ca(ca->cert, o->seconds, err) != 0)
		return -1;
	EVP_PKEY *key = make_key(o->key_type, err);
	if (!key)
		return -1;
	X509 *x = new_cert(key, cn, o->seconds, err);
	if (!x) {
		EVP_PKEY_free(key);
		return -1;
	}
	const char *usage = o->key_type == CERTS_KEY_RSA_2048
				    ? "critical,digitalSignature,keyEncipherment"
				    : "critical,digitalSignature";
	const char *eku = o->server && o->client ? "serverAuth,clientAuth"
			  : o->server		 ? "serverAuth"
						 : "clientAuth";
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if (X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE", err) != 0 ||
	    add_ext(x, &ctx, NID_key_usage, usage, err) != 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, eku, err) != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash", err) != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", err) != 0 ||
	    add_leaf_san(x, o, err) != 0 || sign(x, ca->key, err) != 0) {
		X509_free(x);
		EVP_PKEY_free(key);
		return -1;
	}
	out->key = key;
	out->cert = x;
	return 0;
}

/* ---- inspection ------------------------------------------------------- */

static int asn1_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return -1;
	}
	*out = (int64_t)timegm(&tm);
	return 0;
}

int certs_validity(X509 *cert, int64_t *not_before, int64_t *not_after)
{
	if (!cert)
		return -1;
	int64_t b, a;
	if (asn1_unix(X509_get0_notBefore(cert), &b) != 0 ||
	    asn1_unix(X509_get0_notAfter(cert), &a) != 0)
		return -1;
	if (not_before)
		*not_before = b;
	if (not_after)
		*not_after = a;
	return 0;
}

bool certs_covers(X509 *cert, const char *name)
{
	if (!cert || !name || !*name)
		return false;
	int rc = valid_ip(name) ? X509_check_ip_asc(cert, name, 0)
				: X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
						  NULL);
	ERR_clear_error();
	return rc == 1;
}

bool certs_signed_by(X509 *cert, X509 *ca)
{
	if (!cert || !ca)
		return false;
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	bool ok = pub && X509_check_issued(ca, cert) == X509_V_OK && X509_verify(cert, pub) == 1;
	ERR_clear_error();
	return ok;
}

bool certs_has_usage(X509 *cert, bool server, bool client)
{
	if (!cert)
		return false;
	uint32_t x = X509_get_extended_key_usage(cert);
	if (x == UINT32_MAX) /* no extendedKeyUsage: any purpose */
		return true;
	return (!server || (x & XKU_SSL_SERVER)) && (!client || (x & XKU_SSL_CLIENT));
}
