/*
 * install.c — `kubectl etcd install generate [--image REF]`: the whole
 * operator and its webhook's certificates as one YAML stream, for
 * `| kubectl apply -f -` (as `kubectl cnpg install generate` does).
 *
 * The one idea: nothing new is written here. The manifests are manifests/,
 * compiled in (scripts/embed-manifests.sh, in kustomize's order); the
 * certificates are made by the very code etcd-certs runs (libcerts: a CA, a
 * serving pair for etcd-webhook.etcd-operator-system.svc, the Secret, the
 * caBundle injection). This file only changes the image — every line
 * naming the operator's image, and the controller's --operator-image for
 * the etcd Pods' init step — to REF (default: this build's version), and
 * appends the Secret. The CA's private key is not kept: it signed the one
 * serving certificate and is wiped; renewing is running this again.
 */
#include "plugin.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../certs/certs.h" /* libcerts: etcd-certs' code, linked in (Makefile) */
#include "version.h"

#define PL_IMAGE_REPO "ghcr.io/etcd-k8s-operator/etcd-operator"

/* scripts/embed-manifests.sh → BUILD/gen/install_manifests.c */
extern const char pl_install_manifests[];
extern const size_t pl_install_manifests_len;

size_t install_flags(struct install_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("image", 0, CLI_STR, &o->image, "REF",
			"the operator's image (default " PL_IMAGE_REPO ":" PL_VERSION ")"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int install_parse(int argc, char **argv, struct install_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = install_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos == 0)
		return eo_err_set(err, EO_EINVAL, "a subcommand is required: generate");
	if (strcmp(p.pos[0], "generate") != 0)
		return eo_err_set(err, EO_EINVAL, "unknown subcommand \"%s\": only generate", p.pos[0]);
	if (p.npos > 1)
		return eo_err_set(err, EO_EINVAL, "unexpected argument \"%s\"", p.pos[1]);
	if (o->image && (!o->image[0] || strpbrk(o->image, " \t\r\n\"'#")))
		return eo_err_set(err, EO_EINVAL, "--image: \"%s\" is not an image reference", o->image);
	return 0;
}

/*
 * The manifests with the image replaced: a line whose value is the
 * operator's image ("image: ghcr.io/…/etcd-operator:…") gets REF; and in the
 * controller's container (after its `command: [/usr/local/bin/etcd-controller]`)
 * the first item of `args:` is preceded by --operator-image=REF at the same
 * indentation. Returns how many images were replaced, -1 out of memory;
 * *operator_arg says whether the argument went in.
 */
int install_render(const char *text, size_t len, const char *image, struct eo_buf *out, bool *operator_arg)
{
	int images = 0;
	enum { SEEK_CMD, SEEK_ARGS, SEEK_ITEM, DONE } st = SEEK_CMD;
	*operator_arg = false;
	const char *end = text + len;
	for (const char *l = text; l < end;) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t n = nl ? (size_t)(nl - l) + 1 : (size_t)(end - l);
		size_t ind = strspn(l, " ");
		const char *v = l + ind;
		size_t dash = strncmp(v, "- ", 2) == 0 ? 2 : 0;
		int rc = 0;
		if (st == SEEK_CMD && strncmp(v, "command: [/usr/local/bin/etcd-controller]", 41) == 0)
			st = SEEK_ARGS;
		else if (st == SEEK_ARGS && strncmp(v, "args:", 5) == 0)
			st = SEEK_ITEM;
		else if (st == SEEK_ITEM && strncmp(v, "- ", 2) == 0) {
			rc = eo_buf_printf(out, "%.*s- --operator-image=%s\n", (int)ind, l, image);
			st = DONE;
			*operator_arg = true;
		}
		if (strncmp(v + dash, "image: " PL_IMAGE_REPO, 7 + strlen(PL_IMAGE_REPO)) == 0) {
			rc = rc ? rc : eo_buf_printf(out, "%.*simage: %s\n", (int)(ind + dash), l, image);
			images++;
		} else if (!rc) {
			rc = eo_buf_append(out, l, n);
		}
		if (rc != 0)
			return -1;
		l += n;
	}
	return images;
}

static int generate(const char *image, struct eo_buf *out, struct eo_err *err)
{
	struct certs_pair ca = {0}, leaf = {0};
	struct eo_buf manifests = {0}, secret = {0};
	char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL, *b64 = NULL;
	int rc = -1, ncerts = 0, nhooks = 0;
	bool arg = false;
	struct certs_ca_opts cao = {.days = CERTS_DEFAULT_CA_DAYS, .key_type = CERTS_KEY_ECDSA_P256};
	struct certs_serve_opts so = {.service = CERTS_DEFAULT_SERVICE, .namespace = CERTS_DEFAULT_NAMESPACE,
				      .days = CERTS_DEFAULT_DAYS, .key_type = CERTS_KEY_ECDSA_P256};

	int images = install_render(pl_install_manifests, pl_install_manifests_len, image, &manifests, &arg);
	if (images < 0) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		goto out;
	}
	/* the compiled-in manifests are checked at build and test time; this
	 * is the guard against a manifests/ change the rendering missed */
	if (images < 2 || !arg) {
		eo_err_set(err, EO_EINVAL, "the compiled-in manifests name the image %d times and %s the "
			   "controller's args: rebuild kubectl-etcd", images, arg ? "have" : "lack");
		goto out;
	}
	if (certs_make_ca(&cao, &ca, err) != 0 || certs_make_serving(&ca, &so, &leaf, err) != 0)
		goto out;
	ca_pem = certs_pem_cert(ca.cert);
	cert_pem = certs_pem_cert(leaf.cert);
	key_pem = certs_pem_key(leaf.key);
	if (!ca_pem || !cert_pem || !key_pem) {
		eo_err_set(err, EO_ENOMEM, "encoding PEM failed");
		goto out;
	}
	if (certs_ca_bundle(ca_pem, strlen(ca_pem), "the new CA", &b64, &ncerts, err) != 0 ||
	    eo_buf_printf(out, "# etcd-k8s-operator %s (kubectl etcd install generate): the operator, its image\n"
				"# %s, and the webhook's certificate (Secret %s/%s, valid %d days;\n"
				"# the CA's key is not kept: run this again to renew). Apply it as it is:\n"
				"#   kubectl etcd install generate | kubectl apply -f -\n",
			  PL_VERSION, image, CERTS_DEFAULT_NAMESPACE, CERTS_DEFAULT_SECRET, CERTS_DEFAULT_DAYS) != 0 ||
	    certs_inject(manifests.data, manifests.len, "the compiled-in manifests", b64, out, &nhooks, err) != 0)
		goto out;
	if (nhooks < 2) {
		eo_err_set(err, EO_EINVAL, "the compiled-in manifests have %d webhooks, want 2", nhooks);
		goto out;
	}
	if ((out->len && out->data[out->len - 1] != '\n' && eo_buf_append(out, "\n", 1) != 0) ||
	    eo_buf_append(out, "---\n", 4) != 0 ||
	    certs_secret_yaml(CERTS_DEFAULT_SECRET, CERTS_DEFAULT_NAMESPACE, cert_pem, key_pem, ca_pem, &secret,
			      err) != 0 ||
	    eo_buf_append(out, secret.data, secret.len) != 0) {
		if (err->code == 0)
			eo_err_set(err, EO_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (key_pem)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	if (secret.data)
		OPENSSL_cleanse(secret.data, secret.cap);
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	free(b64);
	eo_buf_free(&secret);
	eo_buf_free(&manifests);
	certs_pair_clear(&ca);
	certs_pair_clear(&leaf);
	return rc;
}

int install_main(int argc, char **argv)
{
	struct install_opts o;
	struct eo_err err = {0};
	bool help = false;
	if (install_parse(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("install", "%s", err.msg);
	if (help) {
		pl_help(stdout, "install");
		return PL_EXIT_OK;
	}
	const char *image = o.image ? o.image : PL_IMAGE_REPO ":" PL_VERSION;
	struct eo_buf out = {0};
	int rc = generate(image, &out, &err);
	if (rc == 0 && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
		rc = -1;
		eo_err_set(&err, EO_ESYS, "writing the manifests failed");
	}
	if (out.data)
		OPENSSL_cleanse(out.data, out.cap);
	eo_buf_free(&out);
	return rc == 0 ? PL_EXIT_OK : pl_fail("install generate: %s", err.msg);
}
