/*
 * tls.h — an EtcdCluster's certificates, once a reconcile pass: in Auto mode
 * the CA and the peer, server and client certificates are made when missing
 * and re-issued when they no longer fit or are two thirds through their
 * life; in Secret mode the user's Secret is checked and nothing is written.
 * Either way the pass learns the controller's client credentials (PEM text,
 * never on disk) and what to report (status.tls, the TLSReady condition).
 */
#ifndef EO_CONTROLLER_TLS_H
#define EO_CONTROLLER_TLS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "cluster.h"
#include "ctl.h"
#include "etcd.h"

#define TLS_CONDITION "TLSReady"
/* TLSReady True with this reason: a Secret-mode certificate past two thirds
 * of its life (the user's renewal is late); a Warning Event when it starts. */
#define TLS_EXPIRING_SOON "CertificateExpiringSoon"

struct tls_state {
	bool on;                 /* peer or client TLS asked for */
	bool client_on;          /* … client TLS: etcd wants client certificates */
	bool ok;                 /* every certificate fits; else hold membership changes */
	char reason[48];         /* TLSReady's reason and message */
	char message[256];
	char warn_reason[48];    /* fits, but TLS_EXPIRING_SOON (Secret mode) */
	char warn_message[256];
	struct ec_tls_status expiry;
	/* the controller's credentials for etcd (client TLS on and found) */
	char *ca_pem, *cert_pem, *key_pem;
	/* the CA (Auto): the fingerprint of the newest CA every member must
	 * trust — the template's Pod revision during a rotation's phase 1 */
	bool rotating;           /* phase 1: members are rolled to trust both CAs */
	char trust_fp[24];
	int ca_bundle_n;         /* CAs in ca.crt */
	int64_t ca_switched_at;  /* when the new CA began to sign (Unix s); 0: never */
	/* an Event when a certificate was issued, or a Secret stopped fitting */
	char event_reason[40];
	bool event_warning;
	char event_message[256];
};

/* Read (and in Auto mode, as leader, write) the cluster's TLS Secrets. Never
 * fails: what goes wrong is in out->ok / reason / message. Free with
 * tls_state_clear (which wipes the key). */
void tls_sync(struct ctl *c, const struct etcd_cluster *ec, bool may_write, struct tls_state *out);
void tls_state_clear(struct tls_state *s);
/* Phase 2 of a CA rotation, once every member's Pod carries s->trust_fp:
 * the new CA signs (the leaves are issued again from it on the next pass).
 * 0 also when it was switched already. */
int tls_switch_ca(struct ctl *c, const struct etcd_cluster *ec, struct tls_state *s,
		  struct eo_err *err);
/* The etcd client's TLS for the pass: NULL when client TLS is off. */
const struct etcd_tls *tls_client_of(const struct tls_state *s, struct etcd_tls *buf);

#endif
