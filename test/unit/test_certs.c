/* Unit tests for certs/: the certificate profile checked with OpenSSL's own
 * verifier (X509_verify_cert), files and modes, the Secret, the command line
 * and its errors. caBundle injection: test_certs_inject.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "../../certs/certs.h"

#define SVC "etcd-webhook.etcd-operator-system.svc"

/* ---- helpers ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test-certs-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtree(char *d)
{
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

static void make_ca(struct certs_pair *ca, int days, enum certs_key_type t)
{
	struct certs_ca_opts o = {.days = days, .key_type = t};
	struct eo_err err = {0};
	assert_int_equal(certs_make_ca(&o, ca, &err), 0);
}

static const char *extra_dns[] = {"webhook.example.com"};
static const char *extra_ips[] = {"127.0.0.1", "::1"};

static void make_leaf(const struct certs_pair *ca, struct certs_pair *leaf, int days,
		      enum certs_key_type t)
{
	struct certs_serve_opts o = {.service = "etcd-webhook", .namespace = "etcd-operator-system",
				     .dns = extra_dns, .ndns = 1, .ips = extra_ips, .nips = 2,
				     .days = days, .key_type = t};
	struct eo_err err = {0};
	assert_int_equal(certs_make_serving(ca, &o, leaf, &err), 0);
}

/* OpenSSL's verifier as a TLS client would use it: purpose sslserver, one
 * host or IP, at a chosen time (0: now). Returns X509_V_OK or the error. */
static int verify(X509 *ca, X509 *leaf, const char *host, const char *ip, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	assert_int_equal(X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER), 1);
	if (host)
		assert_int_equal(X509_VERIFY_PARAM_set1_host(p, host, 0), 1);
	if (ip)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(p, ip), 1);
	if (at)
		X509_VERIFY_PARAM_set_time(p, at);
	int ok = X509_verify_cert(ctx);
	int e = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return e;
}

static bool has_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);
	return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* ---- the profile ---- */

static void test_ca_profile(void **state)
{
	struct certs_pair ca = {0};
	make_ca(&ca, 30, CERTS_KEY_ECDSA_P256);
	assert_int_equal(X509_check_ca(ca.cert), 1);
	assert_true(has_critical(ca.cert, NID_basic_constraints));
	assert_true(has_critical(ca.cert, NID_key_usage));
	assert_true(X509_get_key_usage(ca.cert) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_get_version(ca.cert), X509_VERSION_3);
	assert_int_equal(X509_verify(ca.cert, ca.key), 1); /* self-signed */
	assert_int_equal(EVP_PKEY_get_bits(ca.key), 256);
	assert_int_equal(X509_get_signature_nid(ca.cert), NID_ecdsa_with_SHA256);
	/* serial: 128 random bits, positive */
	const ASN1_INTEGER *serial = X509_get0_serialNumber(ca.cert);
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	assert_false(BN_is_negative(bn));
	assert_true(BN_num_bits(bn) > 96 && BN_num_bits(bn) <= 127);
	BN_free(bn);
	struct eo_err err = {0};
	assert_int_equal(certs_check_ca(ca.cert, &err), 0);
	certs_pair_clear(&ca);
	certs_pair_clear(&ca); /* twice is fine */
}

static void test_leaf_verifies_for_every_name(void **state)
{
	struct certs_pair ca = {0}, leaf = {0};
	make_ca(&ca, 30, CERTS_KEY_ECDSA_P256);
	make_leaf(&ca, &leaf, 10, CERTS_KEY_ECDSA_P256);
	const char *names[] = {"etcd-webhook", "etcd-webhook.etcd-operator-system", SVC,
			       SVC ".cluster.local", "webhook.example.com"};
	for (size_t i = 0; i < EO_ARRAY_LEN(names); i++)
		assert_int_equal(verify(ca.cert, leaf.cert, names[i], NULL, 0), X509_V_OK);
	assert_int_equal(verify(ca.cert, leaf.cert, NULL, "127.0.0.1", 0), X509_V_OK);
	assert_int_equal(verify(ca.cert, leaf.cert, NULL, "::1", 0), X509_V_OK);
	assert_int_equal(verify(ca.cert, leaf.cert, "other.etcd-operator-system.svc", NULL, 0),
			 X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(verify(ca.cert, leaf.cert, NULL, "127.0.0.2", 0), X509_V_ERR_IP_ADDRESS_MISMATCH);
	/* another CA does not vouch for it */
	struct certs_pair other = {0};
	make_ca(&other, 30, CERTS_KEY_ECDSA_P256);
	assert_int_not_equal(verify(other.cert, leaf.cert, SVC, NULL, 0), X509_V_OK);
	certs_pair_clear(&other);
	certs_pair_clear(&leaf);
	certs_pair_clear(&ca);
}

static void test_leaf_extensions(void **state)
{
	enum certs_key_type types[] = {CERTS_KEY_ECDSA_P256, CERTS_KEY_RSA_2048};
	for (size_t t = 0; t < 2; t++) {
		struct certs_pair ca = {0}, leaf = {0};
		make_ca(&ca, 30, types[t]);
		make_leaf(&ca, &leaf, 10, types[t]);
		assert_int_equal(X509_check_ca(leaf.cert), 0);
		assert_true(has_critical(leaf.cert, NID_basic_constraints));
		uint32_t ku = X509_get_key_usage(leaf.cert);
		assert_true(ku & KU_DIGITAL_SIGNATURE);
		assert_false(ku & KU_KEY_CERT_SIGN);
		assert_int_equal(!!(ku & KU_KEY_ENCIPHERMENT), types[t] == CERTS_KEY_RSA_2048);
		assert_true(X509_get_extended_key_usage(leaf.cert) & XKU_SSL_SERVER);
		GENERAL_NAMES *san = X509_get_ext_d2i(leaf.cert, NID_subject_alt_name, NULL, NULL);
		assert_non_null(san);
		assert_int_equal(sk_GENERAL_NAME_num(san), 4 + 1 + 2);
		GENERAL_NAMES_free(san);
		assert_int_equal(X509_check_private_key(leaf.cert, leaf.key), 1);
		assert_int_equal(X509_get_signature_nid(leaf.cert),
				 types[t] == CERTS_KEY_RSA_2048 ? NID_sha256WithRSAEncryption
								: NID_ecdsa_with_SHA256);
		assert_int_equal(verify(ca.cert, leaf.cert, SVC, NULL, 0), X509_V_OK);
		certs_pair_clear(&leaf);
		certs_pair_clear(&ca);
	}
}

static void test_expiry_honoured(void **state)
{
	struct certs_pair ca = {0}, leaf = {0};
	make_ca(&ca, 30, CERTS_KEY_ECDSA_P256);
	make_leaf(&ca, &leaf, 2, CERTS_KEY_ECDSA_P256);
	int days = -1, secs = -1;
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf.cert)), 1);
	assert_true((days == 2 && secs <= 5) || (days == 1 && secs >= 86390));
	time_t now = time(NULL);
	assert_int_equal(verify(ca.cert, leaf.cert, SVC, NULL, now + 86400), X509_V_OK);
	assert_int_equal(verify(ca.cert, leaf.cert, SVC, NULL, now + 3 * 86400),
			 X509_V_ERR_CERT_HAS_EXPIRED);
	/* backdated a little for clock skew, not more */
	assert_int_equal(verify(ca.cert, leaf.cert, SVC, NULL, now - 60), X509_V_OK);
	assert_int_equal(verify(ca.cert, leaf.cert, SVC, NULL, now - 3600), X509_V_ERR_CERT_NOT_YET_VALID);
	certs_pair_clear(&leaf);
	certs_pair_clear(&ca);
}

static void test_bad_inputs(void **state)
{
	struct certs_pair ca = {0}, leaf = {0}, out = {0};
	struct eo_err err = {0};
	make_ca(&ca, 10, CERTS_KEY_ECDSA_P256);
	struct certs_serve_opts o = {.service = "etcd-webhook", .namespace = "ns", .days = 5};

	o.service = "Bad_Name";
	assert_int_equal(certs_make_serving(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "--service \"Bad_Name\""));
	o.service = "etcd-webhook";
	o.namespace = "";
	assert_int_equal(certs_make_serving(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "--namespace"));
	o.namespace = "ns";
	const char *bad_ip[] = {"1.2.3"};
	o.ips = bad_ip;
	o.nips = 1;
	assert_int_equal(certs_make_serving(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "--ip \"1.2.3\""));
	o.nips = 0;
	const char *bad_dns[] = {"a..b"};
	o.dns = bad_dns;
	o.ndns = 1;
	assert_int_equal(certs_make_serving(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "--dns \"a..b\""));
	o.ndns = 0;
	o.days = 0;
	assert_int_equal(certs_make_serving(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "--days 0"));
	o.days = 30; /* past the CA's 10 days */
	assert_int_equal(certs_make_serving(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "outlive its CA"));
	o.days = 5;

	/* a serving certificate is not a CA */
	make_leaf(&ca, &leaf, 5, CERTS_KEY_ECDSA_P256);
	assert_int_equal(certs_make_serving(&leaf, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "not a CA"));
	/* a CA with someone else's key */
	struct certs_pair mixed = {.cert = ca.cert, .key = leaf.key};
	assert_int_equal(certs_make_serving(&mixed, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "does not belong"));
	assert_null(out.cert);
	assert_null(out.key);

	enum certs_key_type t;
	assert_int_equal(certs_key_type_parse("dsa", &t, &err), -1);
	assert_non_null(strstr(err.msg, "ecdsa"));
	assert_int_equal(certs_key_type_parse("rsa", &t, &err), 0);
	assert_int_equal(t, CERTS_KEY_RSA_2048);

	struct certs_ca_opts co = {.days = 40000};
	assert_int_equal(certs_make_ca(&co, &out, &err), -1);
	X509 *x = NULL;
	assert_int_equal(certs_parse_cert("garbage", 7, "x.crt", &x, &err), -1);
	assert_non_null(strstr(err.msg, "x.crt: no PEM certificate"));
	EVP_PKEY *k = NULL;
	assert_int_equal(certs_parse_key("garbage", 7, "x.key", &k, &err), -1);
	assert_non_null(strstr(err.msg, "x.key"));
	certs_pair_clear(&leaf);
	certs_pair_clear(&ca);
}

static void test_names(void **state)
{
	assert_true(certs_valid_label("etcd-webhook"));
	assert_false(certs_valid_label("-a"));
	assert_false(certs_valid_label("a-"));
	assert_false(certs_valid_label("A"));
	assert_false(certs_valid_label(""));
	char long_label[70];
	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	assert_false(certs_valid_label(long_label));
	assert_true(certs_valid_dns("a.b.example.com"));
	assert_true(certs_valid_dns("*.example.com"));
	assert_true(certs_valid_dns("Example.COM"));
	assert_false(certs_valid_dns("a.*.com"));
	assert_false(certs_valid_dns("a."));
	assert_false(certs_valid_dns("a b"));
}

static void test_long_names_keep_a_valid_cn(void **state)
{
	char svc[64], ns[64];
	memset(svc, 's', 63);
	svc[63] = '\0';
	memset(ns, 'n', 63);
	ns[63] = '\0';
	struct certs_pair ca = {0}, leaf = {0};
	make_ca(&ca, 30, CERTS_KEY_ECDSA_P256);
	struct certs_serve_opts o = {.service = svc, .namespace = ns, .days = 5};
	struct eo_err err = {0};
	assert_int_equal(certs_make_serving(&ca, &o, &leaf, &err), 0);
	char host[200];
	snprintf(host, sizeof(host), "%s.%s.svc", svc, ns);
	assert_int_equal(verify(ca.cert, leaf.cert, host, NULL, 0), X509_V_OK);
	certs_pair_clear(&leaf);
	certs_pair_clear(&ca);
}

/* ---- files ---- */

static int mode_of(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static int count_entries(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", dir);
	FILE *f = popen(cmd, "r");
	int n = -1;
	assert_int_equal(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static void test_files_modes_and_reload(void **state)
{
	char *dir = tmpdir();
	char *sub = eo_strdupf("%s/a/b", dir);
	struct eo_err err = {0};
	assert_int_equal(certs_ensure_dir(sub, &err), 0);
	assert_int_equal(mode_of(dir, "a/b"), 0700);

	struct certs_pair ca = {0}, leaf = {0}, back = {0};
	make_ca(&ca, 30, CERTS_KEY_ECDSA_P256);
	make_leaf(&ca, &leaf, 10, CERTS_KEY_ECDSA_P256);
	assert_int_equal(certs_write_pair(sub, "ca.crt", "ca.key", &ca, &err), 0);
	assert_int_equal(certs_write_pair(sub, "tls.crt", "tls.key", &leaf, &err), 0);
	assert_int_equal(mode_of(sub, "ca.key"), 0600);
	assert_int_equal(mode_of(sub, "tls.key"), 0600);
	assert_int_equal(mode_of(sub, "tls.crt"), 0644);
	assert_int_equal(count_entries(sub), 4); /* no temp file left behind */

	/* key before certificate: the certificate is never older than its key */
	char kp[512], cp[512];
	struct stat ks, cs;
	snprintf(kp, sizeof(kp), "%s/tls.key", sub);
	snprintf(cp, sizeof(cp), "%s/tls.crt", sub);
	assert_int_equal(stat(kp, &ks), 0);
	assert_int_equal(stat(cp, &cs), 0);
	assert_true(cs.st_mtim.tv_sec > ks.st_mtim.tv_sec ||
		    (cs.st_mtim.tv_sec == ks.st_mtim.tv_sec && cs.st_mtim.tv_nsec >= ks.st_mtim.tv_nsec));

	char *cpath = eo_strdupf("%s/ca.crt", sub), *kpath = eo_strdupf("%s/ca.key", sub);
	assert_int_equal(certs_load_ca(cpath, kpath, &back, &err), 0);
	assert_int_equal(X509_cmp(back.cert, ca.cert), 0);
	assert_int_equal(X509_check_private_key(back.cert, back.key), 1);
	certs_pair_clear(&back);

	/* the serving pair is not a CA; a missing file names what to do */
	char *lc = eo_strdupf("%s/tls.crt", sub), *lk = eo_strdupf("%s/tls.key", sub);
	assert_int_equal(certs_load_ca(lc, lk, &back, &err), -1);
	assert_non_null(strstr(err.msg, "not a CA"));
	assert_int_equal(certs_load_ca(cpath, lk, &back, &err), -1);
	assert_non_null(strstr(err.msg, "does not belong"));
	char *missing = eo_strdupf("%s/none.crt", sub);
	assert_int_equal(certs_load_ca(missing, kpath, &back, &err), -1);
	assert_non_null(strstr(err.msg, "etcd-certs ca"));
	assert_null(back.cert);

	/* a file where a directory should be */
	assert_int_equal(certs_ensure_dir(cpath, &err), -1);
	assert_non_null(strstr(err.msg, "not a directory"));
	char *under_file = eo_strdupf("%s/x", cpath);
	assert_int_equal(certs_ensure_dir(under_file, &err), -1);
	assert_non_null(strstr(err.msg, "cannot create"));
	assert_int_equal(certs_write_pair(under_file, "tls.crt", "tls.key", &leaf, &err), -1);
	assert_non_null(strstr(err.msg, "cannot write"));

	free(under_file);
	free(missing);
	free(lc);
	free(lk);
	free(cpath);
	free(kpath);
	certs_pair_clear(&leaf);
	certs_pair_clear(&ca);
	free(sub);
	rmtree(dir);
}

/* ---- the Secret and the CA bundle ---- */

static void test_secret_yaml(void **state)
{
	struct eo_buf b = {0};
	struct eo_err err = {0};
	assert_int_equal(certs_secret_yaml("etcd-webhook-tls", "ops", "CERT\n", "KEY\n", "CA\n", &b, &err), 0);
	assert_non_null(strstr(b.data, "\ntype: kubernetes.io/tls\n"));
	assert_non_null(strstr(b.data, "  name: etcd-webhook-tls\n  namespace: ops\n"));
	char *c = eo_b64_encode("CERT\n", 5), *k = eo_b64_encode("KEY\n", 4), *a = eo_b64_encode("CA\n", 3);
	char *want = eo_strdupf("data:\n  tls.crt: %s\n  tls.key: %s\n  ca.crt: %s\n", c, k, a);
	assert_non_null(strstr(b.data, want));
	free(want);
	free(c);
	free(k);
	free(a);
	eo_buf_free(&b);
	assert_int_equal(certs_secret_yaml("Bad Name", "ops", "C", "K", NULL, &b, &err), -1);
	assert_non_null(strstr(err.msg, "--name"));
	assert_int_equal(certs_secret_yaml("ok", "Bad", "C", "K", NULL, &b, &err), -1);
	assert_non_null(strstr(err.msg, "--namespace"));
	eo_buf_free(&b);
}

static void test_ca_bundle(void **state)
{
	struct certs_pair a = {0}, b = {0}, leaf = {0};
	make_ca(&a, 30, CERTS_KEY_ECDSA_P256);
	make_ca(&b, 30, CERTS_KEY_RSA_2048);
	make_leaf(&a, &leaf, 5, CERTS_KEY_ECDSA_P256);
	char *pa = certs_pem_cert(a.cert), *pb = certs_pem_cert(b.cert), *pl = certs_pem_cert(leaf.cert);
	char *two = eo_strdupf("# old and new\n%s%s", pa, pb);
	char *b64 = NULL;
	int n = 0;
	struct eo_err err = {0};
	assert_int_equal(certs_ca_bundle(two, strlen(two), "bundle.crt", &b64, &n, &err), 0);
	assert_int_equal(n, 2);
	char *raw = NULL;
	size_t rawlen = 0;
	assert_int_equal(eo_b64_decode(b64, strlen(b64), &raw, &rawlen, &err), 0);
	char *both = eo_strdupf("%s%s", pa, pb);
	assert_string_equal(raw, both);
	free(both);
	free(raw);
	free(b64);
	char *with_leaf = eo_strdupf("%s%s", pa, pl);
	assert_int_equal(certs_ca_bundle(with_leaf, strlen(with_leaf), "mixed.crt", &b64, &n, &err), -1);
	assert_non_null(strstr(err.msg, "mixed.crt: certificate 2: "));
	assert_null(b64);
	assert_int_equal(certs_ca_bundle("nothing", 7, "empty.crt", &b64, &n, &err), -1);
	assert_non_null(strstr(err.msg, "empty.crt: no PEM certificate"));
	free(with_leaf);
	free(two);
	free(pa);
	free(pb);
	free(pl);
	certs_pair_clear(&a);
	certs_pair_clear(&b);
	certs_pair_clear(&leaf);
}

/* ---- the command line ---- */

struct run {
	int status;
	char out[8192], err[2048];
};

static void run_cli(struct run *r, int argc, ...)
{
	char *argv[32];
	va_list ap;
	va_start(ap, argc);
	argv[0] = "etcd-certs";
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	FILE *out = tmpfile(), *errf = tmpfile();
	r->status = certs_cli_main(argc, argv, out, errf);
	rewind(out);
	rewind(errf);
	size_t n = fread(r->out, 1, sizeof(r->out) - 1, out);
	r->out[n] = '\0';
	n = fread(r->err, 1, sizeof(r->err) - 1, errf);
	r->err[n] = '\0';
	fclose(out);
	fclose(errf);
}

/* argc counted from the arguments, argv[0] added */
#define RUN(r, ...) run_cli(r, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)) + 1, __VA_ARGS__)

static void test_cli_all_and_rerun(void **state)
{
	char *dir = tmpdir();
	char *out = eo_strdupf("%s/certs", dir);
	struct run r;
	RUN(&r, "all", "--out", out, "-f", "manifests/webhook/mutating-webhook.yaml", "-f",
		"manifests/webhook/validating-webhook.yaml", "--ip", "127.0.0.1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "a new CA"));
	assert_non_null(strstr(r.out, "caBundle set in 2 webhooks"));
	assert_null(strstr(r.out, "BEGIN")); /* no key or certificate on the terminal */
	assert_int_equal(mode_of(out, "ca.key"), 0600);
	assert_int_equal(mode_of(out, "tls.key"), 0600);
	assert_int_equal(mode_of(out, "secret.yaml"), 0600);
	assert_int_equal(mode_of(out, "webhooks.yaml"), 0644);

	char *cpath = eo_strdupf("%s/ca.crt", out), *text = NULL;
	size_t len = 0;
	struct eo_err err = {0};
	assert_int_equal(eo_read_file(cpath, 1 << 20, &text, &len, &err), 0);

	/* a rerun keeps the CA (the caBundle in the cluster stays valid) */
	RUN(&r, "all", "--out", out, "--days", "30");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "kept the CA"));
	char *again = NULL;
	assert_int_equal(eo_read_file(cpath, 1 << 20, &again, &len, &err), 0);
	assert_string_equal(text, again);
	free(again);

	/* `ca` refuses to replace it without --force */
	RUN(&r, "ca", "--out", out, "--force");
	assert_int_equal(r.status, 0);
	RUN(&r, "ca", "--out", out);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "already holds a CA"));

	/* serve from a directory, and from a file with its .key beside it */
	char *s1 = eo_strdupf("%s/s1", dir);
	RUN(&r, "serve", "--ca", out, "--out", s1, "--service", "hook", "-n", "ops");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "hook.ops.svc"));
	RUN(&r, "serve", "--ca", cpath, "--out", s1);
	assert_int_equal(r.status, 0);
	char *leaf = eo_strdupf("%s/tls.crt", out);
	RUN(&r, "serve", "--ca", leaf, "--out", s1);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not a CA"));

	free(leaf);
	free(s1);
	free(text);
	free(cpath);
	free(out);
	rmtree(dir);
}

static void test_cli_secret_and_inject(void **state)
{
	char *dir = tmpdir();
	struct run r;
	RUN(&r, "all", "--out", dir, "-n", "ops");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no -f given"));
	char *crt = eo_strdupf("%s/tls.crt", dir), *key = eo_strdupf("%s/tls.key", dir);
	char *ca = eo_strdupf("%s/ca.crt", dir), *cakey = eo_strdupf("%s/ca.key", dir);
	RUN(&r, "secret", "--cert", crt, "--key", key, "--ca", ca, "--name", "tls");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "kind: Secret"));
	assert_non_null(strstr(r.out, "  name: tls\n  namespace: etcd-operator-system\n"));
	assert_non_null(strstr(r.out, "  ca.crt: "));
	RUN(&r, "secret", "--cert", crt, "--key", cakey);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "does not belong"));
	char *sfile = eo_strdupf("%s/s.yaml", dir);
	RUN(&r, "secret", "--cert", crt, "--key", key, "-o", sfile);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out[0], '\0');
	assert_int_equal(mode_of(dir, "s.yaml"), 0600);

	RUN(&r, "inject", "--ca", dir, "-f", "manifests/webhook/validating-webhook.yaml");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "      caBundle: LS0t"));
	assert_non_null(strstr(r.err, "caBundle set in 1 webhook\n"));
	RUN(&r, "inject", "--ca", dir, "-f", "manifests/webhook/service.yaml");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no MutatingWebhookConfiguration"));
	RUN(&r, "inject", "--ca", crt, "-f", "manifests/webhook/validating-webhook.yaml");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not a CA"));
	RUN(&r, "inject", "--ca", dir, "-f", "/nonexistent/hooks.yaml");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "/nonexistent/hooks.yaml"));

	free(sfile);
	free(crt);
	free(key);
	free(ca);
	free(cakey);
	rmtree(dir);
}

static void test_cli_usage(void **state)
{
	struct run r;
	run_cli(&r, 1);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "Commands:"));
	RUN(&r, "--help");
	assert_int_equal(r.status, 0);
	RUN(&r, "frobnicate");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown command \"frobnicate\""));
	const char *cmds[] = {"ca", "serve", "inject", "secret", "all"};
	for (size_t i = 0; i < EO_ARRAY_LEN(cmds); i++) {
		RUN(&r, cmds[i], "--help");
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.out, "Usage: etcd-certs "));
		assert_non_null(strstr(r.out, cmds[i]));
	}
	RUN(&r, "ca");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--out is required (see etcd-certs ca --help)"));
	RUN(&r, "ca", "--bogus");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown flag: --bogus (see etcd-certs ca --help)"));
	RUN(&r, "ca", "-f");
	assert_int_equal(r.status, 2); /* -f belongs to inject and all */
	RUN(&r, "ca", "--out");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "flag needs an argument: --out"));
	RUN(&r, "ca", "--force=yes");
	assert_int_equal(r.status, 2);
	RUN(&r, "ca", "stray");
	assert_int_equal(r.status, 2);
	RUN(&r, "ca", "--out=/tmp/never-made-by-test-certs", "--days", "x");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "--days \"x\""));
	assert_false(certs_exists("/tmp/never-made-by-test-certs"));
	RUN(&r, "inject", "--ca=/nonexistent");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "-f FILE is required"));
	RUN(&r, "all", "--out=/etc/passwd");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not a directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_profile),
		cmocka_unit_test(test_leaf_verifies_for_every_name),
		cmocka_unit_test(test_leaf_extensions),
		cmocka_unit_test(test_expiry_honoured),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_long_names_keep_a_valid_cn),
		cmocka_unit_test(test_files_modes_and_reload),
		cmocka_unit_test(test_secret_yaml),
		cmocka_unit_test(test_ca_bundle),
		cmocka_unit_test(test_cli_all_and_rerun),
		cmocka_unit_test(test_cli_secret_and_inject),
		cmocka_unit_test(test_cli_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
