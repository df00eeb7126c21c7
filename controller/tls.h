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

struct tls_state {
	bool on;                 /* peer or client TLS asked for */
	bool client_on;          /* … client TLS: etcd wants client certificates */
	bool ok;                 /* every certificate fits; else hold membership changes */
	char reason[48];         /* TLSReady's reason and message */
	char message[256];
	struct ec_tls_status expiry;
	/* the controller's credentials for etcd (client TLS on and found) */
	char *ca_pem, *cert_pem, *key_pem;
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
/* The etcd client's TLS for the pass: NULL when client TLS is off. */
const struct etcd_tls *tls_client_of(const struct tls_state *s, struct etcd_tls *buf);

#endif
