/*
 * cli.c — the etcd-certs command line: ca, serve, inject, secret, all.
 *
 * The one idea: one flag table and one parser for every command; each
 * command names the flags it accepts, so a flag in the wrong place is a
 * usage error that says where to look, never silently ignored. Results (YAML)
 * go to `out`, messages to `errf`; nothing here exits, so tests drive the
 * whole program through certs_cli_main with temporary files.
 *
 * Nothing secret is ever printed as a message: summaries name files, names
 * and expiry dates. The one command whose output is a key (`secret`) refuses
 * a terminal as its destination.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certs.h"
#include "cli.h"

#define MAX_LIST CLI_MAX_LIST
#define MAX_STDIN (64u << 20)

enum {
	F_OUT, F_DAYS, F_CA_DAYS, F_KEY_TYPE, F_FORCE, F_CA, F_CA_KEY, F_SERVICE, F_NAMESPACE,
	F_DOMAIN, F_IP, F_DNS, F_FILE, F_OUTPUT, F_CERT, F_KEY, F_NAME, F_CN, F_HELP, F_COUNT
};

static const struct flagdef {
	const char *name;
	char shrt;
	bool value, list;
} flagdefs[F_COUNT] = {
	[F_OUT] = {"out", 0, true, false},
	[F_DAYS] = {"days", 0, true, false},
	[F_CA_DAYS] = {"ca-days", 0, true, false},
	[F_KEY_TYPE] = {"key-type", 0, true, false},
	[F_FORCE] = {"force", 0, false, false},
	[F_CA] = {"ca", 0, true, false},
	[F_CA_KEY] = {"ca-key", 0, true, false},
	[F_SERVICE] = {"service", 0, true, false},
	[F_NAMESPACE] = {"namespace", 'n', true, false},
	[F_DOMAIN] = {"cluster-domain", 0, true, false},
	[F_IP] = {"ip", 0, true, true},
	[F_DNS] = {"dns", 0, true, true},
	[F_FILE] = {"filename", 'f', true, true},
	[F_OUTPUT] = {"output", 'o', true, false},
	[F_CERT] = {"cert", 0, true, false},
	[F_KEY] = {"key", 0, true, false},
	[F_NAME] = {"name", 0, true, false},
	[F_CN] = {"common-name", 0, true, false},
	[F_HELP] = {"help", 'h', false, false},
};

struct args {
	const char *cmd;
	const char *val[F_COUNT];
	bool set[F_COUNT];
	const char *list[F_COUNT][MAX_LIST];
	size_t nlist[F_COUNT];
};

#define B(f) (1u << (f))

struct command {
	const char *name;
	unsigned flags;
	int (*run)(struct args *a, FILE *out, FILE *errf, struct eo_err *err);
	const char *usage;
};

/* ---- parsing ---- */

/* A usage error: exit status 2 (EO_EUSAGE), and a pointer to the command's help. */
static int usage_error(struct eo_err *err, const char *cmd, const char *fmt, const char *arg)
{
	char what[160];
	snprintf(what, sizeof(what), fmt, arg);
	return eo_err_set(err, EO_EUSAGE, "%s (see etcd-certs %s --help)", what, cmd);
}

/* The command's flags (those in c->flags) through the one command-line layer. */
static int parse_args(const struct command *c, int argc, char **argv, struct args *a,
		      struct eo_err *err)
{
	struct cli_flag flags[F_COUNT];
	struct cli_strlist lists[F_COUNT];
	memset(lists, 0, sizeof(lists));
	size_t n = 0;
	for (int f = 0; f < F_COUNT; f++) {
		const struct flagdef *d = &flagdefs[f];
		if (!(c->flags & B(f)) || f == F_HELP)
			continue;
		flags[n++] = (struct cli_flag){
			.name = d->name, .shortc = d->shrt,
			.type = !d->value ? CLI_BOOL : d->list ? CLI_STRLIST : CLI_STR,
			.dest = !d->value ? (void *)&a->set[f] : d->list ? (void *)&lists[f] : (void *)&a->val[f]};
	}
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return usage_error(err, c->name, "%s", err->msg);
	if (p.npos > 0)
		return usage_error(err, c->name, "unexpected argument \"%s\"", p.pos[0]);
	a->set[F_HELP] = p.help;
	for (int f = 0; f < F_COUNT; f++) {
		if (!flagdefs[f].value)
			continue;
		if (flagdefs[f].list) {
			a->nlist[f] = (size_t)lists[f].n;
			memcpy(a->list[f], lists[f].v, (size_t)lists[f].n * sizeof(lists[f].v[0]));
			if (lists[f].n)
				a->val[f] = lists[f].v[lists[f].n - 1];
		}
		a->set[f] = a->val[f] != NULL;
	}
	return 0;
}

static int need(const struct args *a, int f, struct eo_err *err)
{
	if (a->val[f] && *a->val[f])
		return 0;
	return usage_error(err, a->cmd, "--%s is required", flagdefs[f].name);
}

static int parse_days(const struct args *a, int f, int def, int *out, struct eo_err *err)
{
	*out = def;
	if (!a->val[f])
		return 0;
	char *end;
	errno = 0;
	long v = strtol(a->val[f], &end, 10);
	if (errno || end == a->val[f] || *end || v < 1 || v > CERTS_MAX_DAYS)
		return eo_err_set(err, EO_EINVAL, "--%s \"%s\": a whole number of days from 1 to %d",
				  flagdefs[f].name, a->val[f], CERTS_MAX_DAYS);
	*out = (int)v;
	return 0;
}

static int key_type(const struct args *a, enum certs_key_type *t, struct eo_err *err)
{
	*t = CERTS_KEY_ECDSA_P256;
	return a->val[F_KEY_TYPE] ? certs_key_type_parse(a->val[F_KEY_TYPE], t, err) : 0;
}

static const char *opt(const struct args *a, int f, const char *def)
{
	return a->val[f] && *a->val[f] ? a->val[f] : def;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --ca as a directory (ca.crt + ca.key in it) or a certificate file whose key
 * is --ca-key, or the same name with .key for .crt. Malloc'd paths. */
static int ca_paths(const struct args *a, char **cert, char **key, struct eo_err *err)
{
	const char *ca = a->val[F_CA];
	*cert = *key = NULL;
	if (is_dir(ca)) {
		*cert = eo_strdupf("%s/ca.crt", ca);
		*key = eo_strdupf("%s/ca.key", ca);
		return 0;
	}
	size_t n = strlen(ca);
	if (a->val[F_CA_KEY])
		*key = eo_strdupf("%s", a->val[F_CA_KEY]);
	else if (n > 4 && !strcmp(ca + n - 4, ".crt"))
		*key = eo_strdupf("%.*s.key", (int)(n - 4), ca);
	else
		return eo_err_set(err, EO_EINVAL,
				  "--ca %s: not a directory; for a certificate file also give its key "
				  "with --ca-key", ca);
	*cert = eo_strdupf("%s", ca);
	return 0;
}

static void expiry(X509 *x, char out[32])
{
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		eo_strlcpy(out, "(unknown)", 32);
}

/* Read a file, or stdin for "-". */
static int read_input(const char *path, char **text, size_t *len, struct eo_err *err)
{
	if (strcmp(path, "-") != 0)
		return eo_read_file(path, MAX_STDIN, text, len, err);
	struct eo_buf b = {.max = MAX_STDIN};
	char chunk[16384];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (eo_buf_append(&b, chunk, n) != 0) {
			eo_buf_free(&b);
			return eo_err_set(err, EO_EINVAL, "stdin: more than %u bytes", MAX_STDIN);
		}
	if (ferror(stdin)) {
		eo_buf_free(&b);
		return eo_err_set(err, EO_ESYS, "stdin: read error");
	}
	*len = b.len;
	*text = b.len ? eo_buf_steal(&b) : eo_strdupf("%s", "");
	eo_buf_free(&b);
	return 0;
}

/* Write a result to -o FILE (atomically, mode) or to out. */
static int emit(const struct args *a, const char *text, size_t len, int mode, FILE *out,
		struct eo_err *err)
{
	if (a->val[F_OUTPUT] && strcmp(a->val[F_OUTPUT], "-") != 0)
		return eo_write_file(a->val[F_OUTPUT], text, len, mode, err);
	if (fwrite(text, 1, len, out) != len || fflush(out) != 0)
		return eo_err_set(err, EO_ESYS, "writing the output: %s", strerror(errno));
	return 0;
}

/* ---- the steps, shared by the commands and `all` ---- */

static int do_inject(const char *ca_path, const char *const *files, size_t nfiles,
		     struct eo_buf *out, int *nhooks, struct eo_err *err)
{
	char *ca_text = NULL, *b64 = NULL;
	size_t ca_len = 0;
	int ncerts = 0, rc = 0;
	*nhooks = 0;
	if (eo_read_file(ca_path, CERTS_MAX_FILE, &ca_text, &ca_len, err) != 0) {
		eo_err_prefix(err, "--ca: ");
		return -1;
	}
	rc = certs_ca_bundle(ca_text, ca_len, ca_path, &b64, &ncerts, err);
	free(ca_text);
	for (size_t i = 0; rc == 0 && i < nfiles; i++) {
		char *text = NULL;
		size_t len = 0;
		int n = 0;
		const char *what = strcmp(files[i], "-") ? files[i] : "<stdin>";
		if (read_input(files[i], &text, &len, err) != 0) {
			rc = -1;
			break;
		}
		/* one stream out of many files: a document separator between them */
		if ((out->len && out->data[out->len - 1] != '\n' && eo_buf_append(out, "\n", 1) != 0) ||
		    (out->len && strncmp(text, "---", 3) != 0 && eo_buf_append(out, "---\n", 4) != 0))
			rc = eo_err_set(err, EO_ENOMEM, "out of memory");
		else
			rc = certs_inject(text, len, what, b64, out, &n, err);
		*nhooks += n;
		free(text);
	}
	free(b64);
	if (rc == 0 && *nhooks == 0)
		rc = eo_err_set(err, EO_EINVAL,
				"no MutatingWebhookConfiguration or ValidatingWebhookConfiguration with "
				"webhooks in the input; pass the webhook manifests (manifests/webhook/)");
	return rc;
}

static int make_secret(const char *name, const char *ns, X509 *cert, EVP_PKEY *key, X509 *ca,
		       struct eo_buf *out, struct eo_err *err)
{
	char *c = certs_pem_cert(cert), *k = certs_pem_key(key);
	char *a = ca ? certs_pem_cert(ca) : NULL;
	int rc = !c || !k || (ca && !a) ? eo_err_set(err, EO_ENOMEM, "encoding PEM failed")
					: certs_secret_yaml(name, ns, c, k, a, out, err);
	if (k)
		OPENSSL_cleanse(k, strlen(k));
	free(c);
	free(k);
	free(a);
	return rc;
}

static void buf_wipe(struct eo_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	eo_buf_free(b);
}

static void fill_serve_opts(const struct args *a, struct certs_serve_opts *o)
{
	o->service = opt(a, F_SERVICE, CERTS_DEFAULT_SERVICE);
	o->namespace = opt(a, F_NAMESPACE, CERTS_DEFAULT_NAMESPACE);
	o->cluster_domain = opt(a, F_DOMAIN, CERTS_DEFAULT_DOMAIN);
	o->dns = a->list[F_DNS];
	o->ndns = a->nlist[F_DNS];
	o->ips = a->list[F_IP];
	o->nips = a->nlist[F_IP];
}

static int serve_step(const struct args *a, const struct certs_pair *ca, const char *dir,
		      int days, struct certs_pair *leaf, FILE *out, struct eo_err *err)
{
	struct certs_serve_opts o = {.days = days};
	fill_serve_opts(a, &o);
	if (key_type(a, &o.key_type, err) != 0 || certs_make_serving(ca, &o, leaf, err) != 0 ||
	    certs_write_pair(dir, "tls.crt", "tls.key", leaf, err) != 0)
		return -1;
	char exp[32];
	expiry(leaf->cert, exp);
	fprintf(out, "wrote %s/tls.key (0600) and %s/tls.crt: serving certificate for %s.%s.svc "
		     "(and .svc.%s), expires %s\n",
		dir, dir, o.service, o.namespace, o.cluster_domain, exp);
	return 0;
}

static int new_ca_step(const struct args *a, const char *dir, int days, struct certs_pair *ca,
		       FILE *out, struct eo_err *err)
{
	struct certs_ca_opts o = {.common_name = a->val[F_CN], .days = days};
	if (key_type(a, &o.key_type, err) != 0 || certs_make_ca(&o, ca, err) != 0 ||
	    certs_write_pair(dir, "ca.crt", "ca.key", ca, err) != 0)
		return -1;
	char exp[32];
	expiry(ca->cert, exp);
	fprintf(out, "wrote %s/ca.key (0600) and %s/ca.crt: a new CA, expires %s\n", dir, dir, exp);
	return 0;
}

/* ---- commands ---- */

static int cmd_ca(struct args *a, FILE *out, FILE *errf, struct eo_err *err)
{
	int days;
	if (need(a, F_OUT, err) != 0 || parse_days(a, F_DAYS, CERTS_DEFAULT_CA_DAYS, &days, err) != 0 ||
	    certs_ensure_dir(a->val[F_OUT], err) != 0)
		return -1;
	const char *dir = a->val[F_OUT];
	char *c = eo_strdupf("%s/ca.crt", dir), *k = eo_strdupf("%s/ca.key", dir);
	bool exists = certs_exists(c) || certs_exists(k);
	free(c);
	free(k);
	if (exists && !a->set[F_FORCE])
		return eo_err_set(err, EO_EINVAL,
				  "%s already holds a CA; replacing it breaks every caBundle made from it. "
				  "Keep it (etcd-certs serve --ca %s) or replace it with --force", dir, dir);
	struct certs_pair ca = {0};
	int rc = new_ca_step(a, dir, days, &ca, out, err);
	certs_pair_clear(&ca);
	return rc;
}

static int cmd_serve(struct args *a, FILE *out, FILE *errf, struct eo_err *err)
{
	int days;
	char *cpath = NULL, *kpath = NULL;
	struct certs_pair ca = {0}, leaf = {0};
	int rc = -1;
	if (need(a, F_CA, err) != 0 || need(a, F_OUT, err) != 0 ||
	    parse_days(a, F_DAYS, CERTS_DEFAULT_DAYS, &days, err) != 0 ||
	    ca_paths(a, &cpath, &kpath, err) != 0 || certs_load_ca(cpath, kpath, &ca, err) != 0 ||
	    certs_ensure_dir(a->val[F_OUT], err) != 0)
		goto out;
	rc = serve_step(a, &ca, a->val[F_OUT], days, &leaf, out, err);
out:
	certs_pair_clear(&ca);
	certs_pair_clear(&leaf);
	free(cpath);
	free(kpath);
	return rc;
}

static int cmd_inject(struct args *a, FILE *out, FILE *errf, struct eo_err *err)
{
	if (need(a, F_CA, err) != 0)
		return -1;
	if (a->nlist[F_FILE] == 0)
		return usage_error(err, a->cmd, "%s", "-f FILE is required (-f - reads stdin)");
	char *ca = is_dir(a->val[F_CA]) ? eo_strdupf("%s/ca.crt", a->val[F_CA])
					 : eo_strdupf("%s", a->val[F_CA]);
	struct eo_buf b = {0};
	int n = 0;
	int rc = do_inject(ca, a->list[F_FILE], a->nlist[F_FILE], &b, &n, err);
	if (rc == 0)
		rc = emit(a, b.data, b.len, 0644, out, err);
	if (rc == 0)
		fprintf(errf, "etcd-certs: caBundle set in %d webhook%s\n", n, n == 1 ? "" : "s");
	eo_buf_free(&b);
	free(ca);
	return rc;
}

static int cmd_secret(struct args *a, FILE *out, FILE *errf, struct eo_err *err)
{
	if (need(a, F_CERT, err) != 0 || need(a, F_KEY, err) != 0)
		return -1;
	bool to_file = a->val[F_OUTPUT] && strcmp(a->val[F_OUTPUT], "-") != 0;
	if (!to_file && isatty(fileno(out)))
		return eo_err_set(err, EO_EINVAL,
				  "refusing to print a private key to a terminal; pipe it "
				  "(| kubectl apply -f -) or write it with -o FILE");
	char *ct = NULL, *kt = NULL, *at = NULL;
	size_t cl = 0, kl = 0, al = 0;
	X509 *cert = NULL, *cacert = NULL;
	EVP_PKEY *key = NULL;
	struct eo_buf b = {0};
	int rc = -1;
	if (eo_read_file(a->val[F_CERT], CERTS_MAX_FILE, &ct, &cl, err) != 0 ||
	    eo_read_file(a->val[F_KEY], CERTS_MAX_FILE, &kt, &kl, err) != 0 ||
	    (a->val[F_CA] && eo_read_file(a->val[F_CA], CERTS_MAX_FILE, &at, &al, err) != 0) ||
	    certs_parse_cert(ct, cl, a->val[F_CERT], &cert, err) != 0 ||
	    certs_parse_key(kt, kl, a->val[F_KEY], &key, err) != 0 ||
	    (at && certs_parse_cert(at, al, a->val[F_CA], &cacert, err) != 0))
		goto out;
	if (certs_check_pair(cert, key, err) != 0) {
		eo_err_prefix(err, "%s and %s: ", a->val[F_CERT], a->val[F_KEY]);
		goto out;
	}
	if (make_secret(opt(a, F_NAME, CERTS_DEFAULT_SECRET), opt(a, F_NAMESPACE, CERTS_DEFAULT_NAMESPACE),
			cert, key, cacert, &b, err) != 0 ||
	    emit(a, b.data, b.len, CERTS_KEY_MODE, out, err) != 0)
		goto out;
	rc = 0;
out:
	buf_wipe(&b);
	if (kt)
		OPENSSL_cleanse(kt, kl);
	free(ct);
	free(kt);
	free(at);
	X509_free(cert);
	X509_free(cacert);
	EVP_PKEY_free(key);
	return rc;
}

static int cmd_all(struct args *a, FILE *out, FILE *errf, struct eo_err *err)
{
	int days, ca_days;
	if (need(a, F_OUT, err) != 0 || parse_days(a, F_DAYS, CERTS_DEFAULT_DAYS, &days, err) != 0 ||
	    parse_days(a, F_CA_DAYS, CERTS_DEFAULT_CA_DAYS, &ca_days, err) != 0 ||
	    certs_ensure_dir(a->val[F_OUT], err) != 0)
		return -1;
	const char *dir = a->val[F_OUT];
	char *cpath = eo_strdupf("%s/ca.crt", dir), *kpath = eo_strdupf("%s/ca.key", dir);
	char *path = NULL;
	struct certs_pair ca = {0}, leaf = {0};
	struct eo_buf secret = {0}, hooks = {0};
	int rc = -1, n = 0;

	/* An existing CA is kept: the caBundle already in the cluster stays
	 * valid, and a rerun only renews the serving certificate. */
	if (certs_exists(cpath) || certs_exists(kpath)) {
		if (certs_load_ca(cpath, kpath, &ca, err) != 0)
			goto out;
		char exp[32];
		expiry(ca.cert, exp);
		fprintf(out, "kept the CA in %s (expires %s)\n", dir, exp);
	} else if (new_ca_step(a, dir, ca_days, &ca, out, err) != 0) {
		goto out;
	}
	if (serve_step(a, &ca, dir, days, &leaf, out, err) != 0 ||
	    make_secret(opt(a, F_NAME, CERTS_DEFAULT_SECRET), opt(a, F_NAMESPACE, CERTS_DEFAULT_NAMESPACE),
			leaf.cert, leaf.key, ca.cert, &secret, err) != 0)
		goto out;
	path = eo_strdupf("%s/secret.yaml", dir);
	if (eo_write_file(path, secret.data, secret.len, CERTS_KEY_MODE, err) != 0)
		goto out;
	fprintf(out, "wrote %s (0600): Secret %s/%s\n", path, opt(a, F_NAMESPACE, CERTS_DEFAULT_NAMESPACE),
		opt(a, F_NAME, CERTS_DEFAULT_SECRET));
	if (a->nlist[F_FILE]) {
		free(path);
		path = eo_strdupf("%s/webhooks.yaml", dir);
		if (do_inject(cpath, a->list[F_FILE], a->nlist[F_FILE], &hooks, &n, err) != 0 ||
		    eo_write_file(path, hooks.data, hooks.len, 0644, err) != 0)
			goto out;
		fprintf(out, "wrote %s: caBundle set in %d webhook%s\n", path, n, n == 1 ? "" : "s");
	} else {
		fprintf(out, "no -f given: fill the webhooks' caBundle with "
			     "`etcd-certs inject --ca %s -f FILE`\n", cpath);
	}
	rc = 0;
out:
	buf_wipe(&secret);
	eo_buf_free(&hooks);
	certs_pair_clear(&ca);
	certs_pair_clear(&leaf);
	free(cpath);
	free(kpath);
	free(path);
	return rc;
}

/* ---- help and dispatch ---- */

#define SERVE_FLAGS                                                                              \
	"  --service NAME        the webhook's Service (default " CERTS_DEFAULT_SERVICE ")\n"     \
	"  -n, --namespace NS    its namespace (default " CERTS_DEFAULT_NAMESPACE ")\n"           \
	"  --cluster-domain D    the cluster's DNS domain (default " CERTS_DEFAULT_DOMAIN ")\n"   \
	"  --dns NAME            another DNS name (repeatable; \"*.\" may lead)\n"                \
	"  --ip ADDR             an IP address, v4 or v6 (repeatable), e.g. 127.0.0.1 for tests\n" \
	"  --key-type T          ecdsa (P-256, default) or rsa (2048 bits)\n"

static const char top_usage[] =
	"Usage: etcd-certs COMMAND [flags]\n"
	"\n"
	"Certificates for the etcd-operator admission webhook, made with OpenSSL (no shell,\n"
	"no openssl.cnf): a CA, a serving certificate for the webhook's Service, the webhook\n"
	"configurations with caBundle filled, and the TLS Secret.\n"
	"\n"
	"Commands:\n"
	"  ca      make a CA                          (ca.crt, ca.key)\n"
	"  serve   make the serving certificate        (tls.crt, tls.key)\n"
	"  inject  fill caBundle in webhook configurations (YAML in, YAML out)\n"
	"  secret  print the kubernetes.io/tls Secret\n"
	"  all     all of the above into one directory: the quick path\n"
	"\n"
	"`etcd-certs COMMAND --help` for each. Keys are ECDSA P-256 unless --key-type rsa;\n"
	"key files are written 0600, every file whole (temp file + rename).\n";

static const struct command commands[] = {
	{"ca", B(F_OUT) | B(F_DAYS) | B(F_KEY_TYPE) | B(F_CN) | B(F_FORCE) | B(F_HELP), cmd_ca,
	 "Usage: etcd-certs ca --out DIR [--days N] [--key-type T] [--common-name CN] [--force]\n"
	 "\n"
	 "Make a self-signed CA: DIR/ca.key (0600), then DIR/ca.crt. A CA already in DIR is\n"
	 "kept unless --force: replacing it breaks every caBundle made from it.\n"
	 "\n"
	 "  --out DIR             where to write (made, 0700, if missing)\n"
	 "  --days N              validity in days (default 3650)\n"
	 "  --key-type T          ecdsa (P-256, default) or rsa (2048 bits)\n"
	 "  --common-name CN      the CA's name (default etcd-operator-webhook-ca)\n"
	 "  --force               replace a CA already in DIR\n"},
	{"serve",
	 B(F_CA) | B(F_CA_KEY) | B(F_OUT) | B(F_DAYS) | B(F_KEY_TYPE) | B(F_SERVICE) | B(F_NAMESPACE) |
		 B(F_DOMAIN) | B(F_IP) | B(F_DNS) | B(F_HELP),
	 cmd_serve,
	 "Usage: etcd-certs serve --ca DIR|FILE --out DIR [--service NAME] [-n NS] [--ip ADDR]...\n"
	 "                        [--dns NAME]... [--cluster-domain D] [--days N] [--key-type T]\n"
	 "\n"
	 "Make the webhook's serving certificate, signed by the CA, for NAME, NAME.NS,\n"
	 "NAME.NS.svc and NAME.NS.svc.<domain> (all in subjectAltName), extKeyUsage serverAuth.\n"
	 "Writes DIR/tls.key (0600) first, then DIR/tls.crt, each whole: a server that reloads\n"
	 "when the certificate changes sees the new pair complete.\n"
	 "\n"
	 "  --ca DIR|FILE         the CA: a directory with ca.crt and ca.key, or its certificate\n"
	 "  --ca-key FILE         the CA's key when --ca is a file (default: FILE with .key for .crt)\n"
	 "  --out DIR             where to write (made, 0700, if missing)\n"
	 "  --days N              validity in days (default 365; not beyond the CA's)\n" SERVE_FLAGS},
	{"inject", B(F_CA) | B(F_FILE) | B(F_OUTPUT) | B(F_HELP), cmd_inject,
	 "Usage: etcd-certs inject --ca FILE|DIR -f FILE [-f FILE]... [-o FILE]\n"
	 "\n"
	 "Print the files with clientConfig.caBundle set in every webhook of every\n"
	 "MutatingWebhookConfiguration and ValidatingWebhookConfiguration; every other byte\n"
	 "is copied unchanged, comments included. -f - reads stdin, so a whole build passes:\n"
	 "  kubectl kustomize manifests/ | etcd-certs inject --ca certs/ca.crt -f - | kubectl apply -f -\n"
	 "Fails when the input holds no webhook.\n"
	 "\n"
	 "  --ca FILE|DIR         the CA certificate (DIR: its ca.crt); several CAs in one file\n"
	 "                        (old and new, during a rotation) all go into the bundle\n"
	 "  -f, --filename FILE   input YAML (repeatable; - for stdin)\n"
	 "  -o, --output FILE     write there instead of stdout\n"},
	{"secret", B(F_CERT) | B(F_KEY) | B(F_CA) | B(F_NAME) | B(F_NAMESPACE) | B(F_OUTPUT) | B(F_HELP),
	 cmd_secret,
	 "Usage: etcd-certs secret --cert FILE --key FILE [--ca FILE] [--name N] [-n NS] [-o FILE]\n"
	 "\n"
	 "Print a kubernetes.io/tls Secret with tls.crt, tls.key (and ca.crt with --ca), the\n"
	 "keys a cert-manager Certificate writes. It holds the private key, so it is never\n"
	 "printed to a terminal: pipe it (| kubectl apply -f -) or use -o FILE (written 0600).\n"
	 "\n"
	 "  --cert FILE, --key FILE   the serving pair (checked to match)\n"
	 "  --ca FILE             the CA certificate, stored as ca.crt\n"
	 "  --name N              the Secret's name (default " CERTS_DEFAULT_SECRET ")\n"
	 "  -n, --namespace NS    its namespace (default " CERTS_DEFAULT_NAMESPACE ")\n"
	 "  -o, --output FILE     write there (0600) instead of stdout\n"},
	{"all",
	 B(F_OUT) | B(F_DAYS) | B(F_CA_DAYS) | B(F_KEY_TYPE) | B(F_SERVICE) | B(F_NAMESPACE) | B(F_DOMAIN) |
		 B(F_IP) | B(F_DNS) | B(F_FILE) | B(F_NAME) | B(F_CN) | B(F_HELP),
	 cmd_all,
	 "Usage: etcd-certs all --out DIR [-f FILE]... [--service NAME] [-n NS] [--name SECRET]\n"
	 "                      [--ip ADDR]... [--dns NAME]... [--days N] [--ca-days N] [--key-type T]\n"
	 "\n"
	 "The quick path: ca, serve, secret and inject into one directory.\n"
	 "  DIR/ca.key, DIR/ca.crt     the CA (kept when DIR already has one, so a rerun only\n"
	 "                             renews the serving certificate and the caBundle holds)\n"
	 "  DIR/tls.key, DIR/tls.crt   the serving pair\n"
	 "  DIR/secret.yaml            the Secret the webhook mounts (0600)\n"
	 "  DIR/webhooks.yaml          the -f files with caBundle filled (with -f only)\n"
	 "Then: kubectl apply -f DIR/secret.yaml -f DIR/webhooks.yaml\n"
	 "\n"
	 "  --out DIR             where to write (made, 0700, if missing)\n"
	 "  -f, --filename FILE   webhook manifests to fill (repeatable; - for stdin)\n"
	 "  --name SECRET         the Secret's name (default " CERTS_DEFAULT_SECRET ")\n"
	 "  --days N              the serving certificate's validity (default 365)\n"
	 "  --ca-days N           a new CA's validity (default 3650)\n"
	 "  --common-name CN      a new CA's name\n" SERVE_FLAGS},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < EO_ARRAY_LEN(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int certs_cli_main(int argc, char **argv, FILE *out, FILE *errf)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		const struct command *c = argc >= 3 && !strcmp(argv[1], "help") ? find_command(argv[2]) : NULL;
		fputs(c ? c->usage : top_usage, argc < 2 ? errf : out);
		return argc < 2 ? 2 : 0;
	}
	const struct command *c = find_command(argv[1]);
	if (!c) {
		fprintf(errf, "etcd-certs: unknown command \"%s\"\n\n%s", argv[1], top_usage);
		return 2;
	}
	struct args *a = calloc(1, sizeof(*a));
	if (!a) {
		fprintf(errf, "etcd-certs: out of memory\n");
		return 1;
	}
	a->cmd = c->name;
	struct eo_err err = {0};
	int status;
	if (parse_args(c, argc - 2, argv + 2, a, &err) != 0 ||
	    (!a->set[F_HELP] && c->run(a, out, errf, &err) != 0)) {
		fprintf(errf, "etcd-certs %s: %s\n", c->name, err.msg);
		status = err.code == EO_EUSAGE ? 2 : 1;
	} else if (a->set[F_HELP]) {
		fputs(c->usage, out);
		status = 0;
	} else {
		status = 0;
	}
	free(a);
	return status;
}
