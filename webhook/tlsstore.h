/*
 * tlsstore.h — the serving certificate and key, reloaded from their files
 * while the server runs, handed to GnuTLS per handshake.
 *
 * libmicrohttpd's certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK) is a
 * GnuTLS retrieve function with no user pointer, so the store the callback
 * serves from is process-wide: wh_tls_activate() names it.
 */
#ifndef EO_WEBHOOK_TLSSTORE_H
#define EO_WEBHOOK_TLSSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "eo.h"

struct wh_tls;

/*
 * Load the pair (PEM; the certificate file may hold a chain, leaf first) and
 * return a store; NULL with err when the pair cannot be served (unreadable,
 * unparsable, key not matching the certificate). Free with wh_tls_free().
 */
struct wh_tls *wh_tls_new(const char *cert_file, const char *key_file, struct eo_err *err);
/* Frees every pair, retired ones included: call after the server stopped. */
void wh_tls_free(struct wh_tls *t);

/*
 * Look at the files (stat: device, inode, size, mtime) and load them when
 * they changed. A pair that cannot be loaded — half written, a key that does
 * not match — is logged once and the current pair stays; the next check
 * tries again. Returns 1 when a new pair now serves, 0 when nothing changed,
 * -1 when the files changed but could not be loaded. Also frees pairs
 * retired long enough ago that no handshake can still use them.
 */
int wh_tls_check(struct wh_tls *t);

/* The store the GnuTLS callback serves from (NULL to stop serving). */
void wh_tls_activate(struct wh_tls *t);
/* The callback to pass with MHD_OPTION_HTTPS_CERT_CALLBACK. */
int wh_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *privkey);

/* About the pair now serving: notAfter (Unix seconds), serial (hex). */
int64_t wh_tls_not_after(struct wh_tls *t);
void wh_tls_serial(struct wh_tls *t, char *out, size_t size);
/* Successful and failed reloads since start (the first load not counted). */
void wh_tls_reloads(struct wh_tls *t, uint64_t *ok, uint64_t *failed);

#endif
