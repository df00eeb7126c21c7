/*
 * store.c — the certificates as files: PEM, keys 0600, certificates 0644,
 * every file written whole or not at all.
 *
 * The one idea: a server may be reading the directory while we write it
 * (the webhook reloads its pair from disk), so each file appears by rename
 * only when complete, and the key goes first, the certificate last — the
 * certificate's change is the signal that a new pair is in place (see
 * certs_write_pair in certs.h for the window in between).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "certs.h"

bool certs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int certs_ensure_dir(const char *dir, struct eo_err *err)
{
	if (!dir || !*dir)
		return eo_err_set(err, EO_EINVAL, "--out: a directory is needed");
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return eo_err_set(err, EO_EINVAL, "--out %s: exists and is not a directory", dir);
		if (access(dir, W_OK | X_OK) != 0)
			return eo_err_set(err, EO_ESYS,
					  "--out %s: cannot write there (%s); choose a directory you can write",
					  dir, strerror(errno));
		return 0;
	}
	/* mkdir -p; new directories are 0700: they are about to hold keys. */
	char *path = eo_strdupf("%s", dir);
	int rc = 0;
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			rc = eo_err_set(err, EO_ESYS,
					"--out %s: cannot create %s (%s); choose a directory you can write",
					dir, path, strerror(errno));
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(path);
	if (rc == 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
		rc = eo_err_set(err, EO_ESYS, "--out %s: could not be made a directory", dir);
	return rc;
}

static int write_text(const char *dir, const char *name, const char *text, int mode,
		      struct eo_err *err)
{
	char *path = eo_strdupf("%s/%s", dir, name);
	int rc = eo_write_file(path, text, strlen(text), mode, err);
	if (rc != 0)
		eo_err_prefix(err, "%s/: ", dir);
	free(path);
	return rc;
}

int certs_write_pair(const char *dir, const char *cert_name, const char *key_name,
		     const struct certs_pair *p, struct eo_err *err)
{
	char *key = certs_pem_key(p->key);
	char *cert = certs_pem_cert(p->cert);
	int rc;
	if (!key || !cert)
		rc = eo_err_set(err, EO_ENOMEM, "encoding the pair as PEM failed");
	else if (write_text(dir, key_name, key, CERTS_KEY_MODE, err) != 0 ||
		 write_text(dir, cert_name, cert, CERTS_CERT_MODE, err) != 0)
		rc = -1;
	else
		rc = 0;
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(cert);
	return rc;
}

int certs_load_ca(const char *cpath, const char *kpath, struct certs_pair *out,
		  struct eo_err *err)
{
	out->key = NULL;
	out->cert = NULL;
	char *ctext = NULL, *ktext = NULL;
	size_t clen = 0, klen = 0;
	int rc = -1;
	if (eo_read_file(cpath, CERTS_MAX_FILE, &ctext, &clen, err) != 0 ||
	    eo_read_file(kpath, CERTS_MAX_FILE, &ktext, &klen, err) != 0) {
		eo_err_prefix(err, "reading the CA (make one with `etcd-certs ca`): ");
		goto out;
	}
	if (certs_parse_cert(ctext, clen, cpath, &out->cert, err) != 0 ||
	    certs_parse_key(ktext, klen, kpath, &out->key, err) != 0)
		goto out;
	if (certs_check_ca(out->cert, err) != 0 || certs_check_pair(out->cert, out->key, err) != 0) {
		eo_err_prefix(err, "%s: ", cpath);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		certs_pair_clear(out);
	if (ktext)
		OPENSSL_cleanse(ktext, klen);
	free(ktext);
	free(ctext);
	return rc;
}
