/*
 * tlsstore.c — certificate hot reload for the webhook.
 *
 * The one idea: a pair is checked whole before it serves, then swapped in
 * with one atomic pointer store, and the pair it replaces is retired, not
 * freed. A handshake that picked up the old pair a moment before the swap
 * still holds valid memory: retired pairs are freed only after RETIRE_GRACE_S,
 * far longer than any handshake may take (libmicrohttpd's connection timeout
 * bounds it), and the rest at shutdown.
 *
 * "Checked whole": both files are read, stat'ed again to see that neither
 * changed during the read (a writer mid-way), GnuTLS must import both, and
 * the key must be the leaf certificate's (same public key id). Anything less
 * keeps the old pair serving; a failure is logged once per state of the
 * files, and retried at every check since a Secret volume or cert-manager
 * may be half way through writing them.
 *
 * Everything is done with GnuTLS, which serves the handshakes anyway:
 * parsing with OpenSSL too would initialise a second TLS library in every
 * replica (2 MB more resident, measured). GnuTLS is on the link line
 * because libmicrohttpd's certificate callback hands out GnuTLS types: it is
 * libmicrohttpd's own TLS library here, not an extra dependency.
 */
#include "tlsstore.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/x509.h>

#include "log.h"

#define MAX_CHAIN 8
#define MAX_PEM (1024 * 1024)
#define RETIRE_GRACE_S 300
#define HANDSHAKE_CHECK_MS 1000

struct pair {
	gnutls_pcert_st pcerts[MAX_CHAIN];
	unsigned int npcerts;
	gnutls_privkey_t key;
	int64_t not_after;
	char serial[80];
	int64_t retired_at; /* monotonic ms; 0 while serving */
	struct pair *next;  /* retired list */
};

struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool ok;
};

struct wh_tls {
	char *cert_file, *key_file;
	_Atomic(struct pair *) current;
	pthread_mutex_t lock; /* everything below */
	struct file_sig loaded[2], failed[2];
	struct pair *retired;
	_Atomic int64_t last_check_ms;
	_Atomic uint64_t reloads_ok, reloads_failed;
};

static struct wh_tls *_Atomic active;

static void pair_free(struct pair *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->npcerts; i++)
		gnutls_pcert_deinit(&p->pcerts[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	free(p);
}

static struct file_sig sig_of(const char *path)
{
	struct file_sig s = {0};
	struct stat st;
	if (stat(path, &st) == 0) {
		s.ok = true;
		s.dev = st.st_dev;
		s.ino = st.st_ino;
		s.size = st.st_size;
		s.mtime = st.st_mtim;
	}
	return s;
}

static bool sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int import_gnutls(char *cert_pem, size_t cert_len, char *key_pem, size_t key_len,
			 struct pair *p, const struct wh_tls *t, struct eo_err *err)
{
	gnutls_datum_t cd = {(unsigned char *)cert_pem, (unsigned int)cert_len};
	gnutls_datum_t kd = {(unsigned char *)key_pem, (unsigned int)key_len};
	unsigned int n = MAX_CHAIN;
	int r = gnutls_pcert_list_import_x509_raw(p->pcerts, &n, &cd, GNUTLS_X509_FMT_PEM,
				     GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (r < 0)
		return eo_err_set(err, EO_EPARSE, "%s: GnuTLS cannot use the chain: %s (the leaf "
						  "comes first, then each issuer; at most %d)",
				  t->cert_file, gnutls_strerror(r), MAX_CHAIN);
	p->npcerts = n;
	if ((r = gnutls_privkey_init(&p->key)) < 0 ||
	    (r = gnutls_privkey_import_x509_raw(p->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
		return eo_err_set(err, EO_EPARSE, "%s: no usable PEM private key: %s (an "
						  "encrypted key is not supported)",
				  t->key_file, gnutls_strerror(r));
	return 0;
}

/* The key must be the leaf's: compare public key ids. Then notAfter, serial. */
static int check_pair(struct pair *p, const struct wh_tls *t, struct eo_err *err)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	gnutls_pubkey_t pub = NULL;
	int match = gnutls_pubkey_init(&pub) == 0 &&
		    gnutls_pubkey_import_privkey(pub, p->key, 0, 0) == 0 &&
		    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &na) == 0 &&
		    gnutls_pubkey_get_key_id(p->pcerts[0].pubkey, GNUTLS_KEYID_USE_SHA256, b, &nb) == 0 &&
		    na == nb && memcmp(a, b, na) == 0;
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (!match)
		return eo_err_set(err, EO_EINVAL, "%s does not match the certificate in %s (one of "
						  "the two was replaced without the other)",
				  t->key_file, t->cert_file);

	gnutls_x509_crt_t crt = NULL;
	if (gnutls_x509_crt_init(&crt) != 0 || gnutls_x509_crt_import(crt, &p->pcerts[0].cert, GNUTLS_X509_FMT_DER) != 0) {
		if (crt)
			gnutls_x509_crt_deinit(crt);
		return eo_err_set(err, EO_EPARSE, "%s: the certificate cannot be read", t->cert_file);
	}
	p->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	unsigned char serial[40];
	size_t n = sizeof(serial);
	if (gnutls_x509_crt_get_serial(crt, serial, &n) == 0) {
		size_t i = 0;
		while (i + 1 < n && serial[i] == 0) /* as OpenSSL prints it: no leading zeros */
			i++;
		for (size_t o = 0; i < n && o + 3 <= sizeof(p->serial); i++, o += 2)
			snprintf(p->serial + o, 3, "%02X", serial[i]);
	}
	gnutls_x509_crt_deinit(crt);
	return 0;
}

/* Read, verify and import the pair; NULL with err when it cannot serve. */
static struct pair *load_pair(const struct wh_tls *t, struct file_sig sig[2], struct eo_err *err)
{
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	struct pair *p = NULL;
	sig[0] = sig_of(t->cert_file);
	sig[1] = sig_of(t->key_file);
	if (eo_read_file(t->cert_file, MAX_PEM, &cert, &cert_len, err) != 0 ||
	    eo_read_file(t->key_file, MAX_PEM, &key, &key_len, err) != 0)
		goto out;
	struct file_sig after[2] = {sig_of(t->cert_file), sig_of(t->key_file)};
	if (!sig_eq(&after[0], &sig[0]) || !sig_eq(&after[1], &sig[1])) {
		eo_err_set(err, EO_EINVAL, "%s or %s changed while being read; trying again",
			   t->cert_file, t->key_file);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		goto out;
	}
	if (import_gnutls(cert, cert_len, key, key_len, p, t, err) != 0 ||
	    check_pair(p, t, err) != 0) {
		pair_free(p);
		p = NULL;
	}
out:
	if (key)
		explicit_bzero(key, key_len);
	free(key);
	free(cert);
	return p;
}

struct wh_tls *wh_tls_new(const char *cert_file, const char *key_file, struct eo_err *err)
{
	struct wh_tls *t = calloc(1, sizeof(*t));
	if (!t) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		return NULL;
	}
	t->cert_file = eo_strdup0(cert_file);
	t->key_file = eo_strdup0(key_file);
	pthread_mutex_init(&t->lock, NULL);
	struct pair *p = load_pair(t, t->loaded, err);
	if (!p) {
		wh_tls_free(t);
		return NULL;
	}
	atomic_store(&t->current, p);
	atomic_store(&t->last_check_ms, eo_now_ms());
	return t;
}

void wh_tls_free(struct wh_tls *t)
{
	if (!t)
		return;
	if (atomic_load(&active) == t)
		atomic_store(&active, NULL);
	pair_free(atomic_load(&t->current));
	for (struct pair *p = t->retired, *next; p; p = next) {
		next = p->next;
		pair_free(p);
	}
	pthread_mutex_destroy(&t->lock);
	free(t->cert_file);
	free(t->key_file);
	free(t);
}

/* Under t->lock. */
static void reap(struct wh_tls *t, int64_t now)
{
	struct pair **pp = &t->retired;
	while (*pp) {
		struct pair *p = *pp;
		if (now - p->retired_at >= RETIRE_GRACE_S * 1000) {
			*pp = p->next;
			pair_free(p);
		} else {
			pp = &p->next;
		}
	}
}

static int check_locked(struct wh_tls *t)
{
	int64_t now = eo_now_ms();
	atomic_store(&t->last_check_ms, now);
	reap(t, now);
	struct file_sig cur[2] = {sig_of(t->cert_file), sig_of(t->key_file)};
	if (sig_eq(&cur[0], &t->loaded[0]) && sig_eq(&cur[1], &t->loaded[1]))
		return 0;
	struct eo_err err = {0};
	struct file_sig sig[2];
	struct pair *p = load_pair(t, sig, &err);
	if (!p) {
		/* Log once per state of the files; retry quietly until they change. */
		if (!sig_eq(&sig[0], &t->failed[0]) || !sig_eq(&sig[1], &t->failed[1])) {
			char q[300];
			log_warn("certificate reload failed; the previous pair keeps serving",
				 "cert=%s error=%s", t->cert_file, log_q(q, sizeof(q), err.msg));
			t->failed[0] = sig[0];
			t->failed[1] = sig[1];
			atomic_fetch_add(&t->reloads_failed, 1);
		}
		return -1;
	}
	struct pair *old = atomic_exchange(&t->current, p);
	old->retired_at = now;
	old->next = t->retired;
	t->retired = old;
	t->loaded[0] = sig[0];
	t->loaded[1] = sig[1];
	memset(t->failed, 0, sizeof(t->failed));
	atomic_fetch_add(&t->reloads_ok, 1);
	int64_t days = (p->not_after - eo_wall_ms() / 1000) / 86400;
	log_info("certificate reloaded", "cert=%s serial=%s expires_in_days=%lld", t->cert_file,
		 p->serial, (long long)days);
	return 1;
}

int wh_tls_check(struct wh_tls *t)
{
	pthread_mutex_lock(&t->lock);
	int rc = check_locked(t);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void wh_tls_activate(struct wh_tls *t)
{
	atomic_store(&active, t);
}

int wh_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	struct wh_tls *t = atomic_load(&active);
	if (!t)
		return -1;
	/* A handshake looks at the files at most once a second, and never waits
	 * for a reload another thread is doing. */
	if (eo_now_ms() - atomic_load(&t->last_check_ms) >= HANDSHAKE_CHECK_MS &&
	    pthread_mutex_trylock(&t->lock) == 0) {
		check_locked(t);
		pthread_mutex_unlock(&t->lock);
	}
	struct pair *p = atomic_load(&t->current);
	*pcert = p->pcerts;
	*pcert_length = p->npcerts;
	*privkey = p->key;
	return 0;
}

int64_t wh_tls_not_after(struct wh_tls *t)
{
	return atomic_load(&t->current)->not_after;
}

void wh_tls_serial(struct wh_tls *t, char *out, size_t size)
{
	pthread_mutex_lock(&t->lock);
	eo_strlcpy(out, atomic_load(&t->current)->serial, size);
	pthread_mutex_unlock(&t->lock);
}

void wh_tls_reloads(struct wh_tls *t, uint64_t *ok, uint64_t *failed)
{
	*ok = atomic_load(&t->reloads_ok);
	*failed = atomic_load(&t->reloads_failed);
}
