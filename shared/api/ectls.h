/*
 * ectls.h — an EtcdCluster's TLS (DESIGN §3.1) as pure decisions: which
 * certificates a cluster has, the Secrets they live in, the names each must
 * cover, how long each lives and when it is renewed, and whether a
 * certificate someone handed over fits. No I/O: the controller
 * (controller/tls.c) reads and writes the Secrets, the member init step and
 * the Pod template (controller/resources.c) take the paths and names.
 *
 * The one idea: one CA per cluster signs three leaves, and every leaf is
 * judged by the same function whoever made it (ectls_check), so Auto
 * (re-issue what does not fit, or is two thirds through its life) and
 * Secret (report what does not fit, touch nothing) cannot disagree about
 * what "fits" means.
 *
 *   CA      <name>-ca          ECDSA P-256, 5 years, CA:TRUE pathlen 0
 *   peer    <name>-peer-tls    serverAuth+clientAuth (members dial each other),
 *                              CN <name>-peer (etcd's allowed-cn on the peer port)
 *   server  <name>-server-tls  serverAuth+clientAuth (etcd's own gateway dials
 *                              the client port with it)
 *   client  <name>-client-tls  clientAuth only, no SANs: the controller's, the
 *                              init step's and users' (etcdctl) identity
 * Leaves live 90 days and are renewed at two thirds (60 days); the
 * controller's --tls-*-lifetime flags shorten both for tests.
 */
#ifndef EO_ECTLS_H
#define EO_ECTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

/* OpenSSL's types, declared rather than included: cluster.h defines
 * EC_GROUP (the API group), which is also the name of an OpenSSL type, so a
 * file includes OpenSSL's headers before this one (or cluster.h) when it
 * needs them. */
typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

enum ectls_kind { ECTLS_CA, ECTLS_PEER, ECTLS_SERVER, ECTLS_CLIENT, ECTLS_NKINDS };
const char *ectls_kind_name(enum ectls_kind k); /* "ca", "peer", "server", "client" */

#define ECTLS_CA_SECONDS (5L * 365 * 86400)
#define ECTLS_LEAF_SECONDS (90L * 86400)

/* Keys of every TLS Secret (kubernetes.io/tls plus the CA). */
#define ECTLS_KEY_CERT "tls.crt"
#define ECTLS_KEY_KEY "tls.key"
#define ECTLS_KEY_CA "ca.crt"

/* Whether the side is on / whether the controller issues this kind (CA:
 * either side Auto; peer: peer Auto; server and client: client Auto). */
bool ectls_peer_on(const struct etcd_cluster *c);
bool ectls_client_on(const struct etcd_cluster *c);
bool ectls_issued(const struct etcd_cluster *c, enum ectls_kind k);

/* The Secret that holds kind k for this cluster: Auto's fixed name, or the
 * side's secretName in Secret mode (server and client are then both the
 * client side's Secret: it must allow clientAuth as well). -1 when the side
 * is off (no such Secret). */
int ectls_secret_name(const struct etcd_cluster *c, enum ectls_kind k, char *out, size_t size);

/* The DNS names kind k must cover (subjectAltName), into out[0..max):
 *   peer:   <name>-<k>.<name>-peer.<ns>.svc.<domain> and .svc, k = 0..9
 *           (full names first: etcd checks a peer's certificate by
 *           resolving them in order), localhost
 *   server: the same member names, <name>-client, <name>-client.<ns>,
 *           <name>-client.<ns>.svc[.<domain>], localhost
 *   CA, client: none.
 * Returns the count. IP SANs: ectls_ips. */
#define ECTLS_MAX_NAMES 32
#define ECTLS_NAME_LEN 254
int ectls_dns_names(const struct etcd_cluster *c, enum ectls_kind k, char out[][ECTLS_NAME_LEN],
		    int max);
extern const char *const ectls_ips[]; /* {"127.0.0.1"} */
#define ECTLS_NIPS 1

/* The peer certificate's CN in Auto mode, which etcd then requires of peers
 * (allowed-cn): a client certificate of the same CA cannot speak raft. */
void ectls_peer_cn(const struct etcd_cluster *c, char *out, size_t size);

/* Renew at two thirds of the lifetime [not_before, not_after], the start
 * taken as issued (CERTS_BACKDATE_SECONDS later) when the life is longer. */
bool ectls_renew_due(int64_t not_before, int64_t not_after, int64_t now);

/* Whether a certificate fits kind k of cluster c. reason is a condition
 * reason (CamelCase), message says what is wrong and what to do. */
struct ectls_fit {
	bool ok;
	char reason[48];
	char message[256];
	int64_t not_before, not_after; /* of cert, when readable */
};
/* cert, key: the Secret's tls.crt and tls.key (NULL: missing or
 * unreadable); ca: its ca.crt (NULL: missing). For kind CA, cert is the CA
 * itself and ca is ignored. what names the Secret in messages. */
void ectls_check(const struct etcd_cluster *c, enum ectls_kind k, const char *what, X509 *cert,
		 EVP_PKEY *key, X509 *ca, int64_t now, struct ectls_fit *out);

/* "2026-11-29T05:20:22Z" from Unix seconds (out holds at least 21 bytes). */
void ectls_rfc3339(int64_t t, char *out, size_t size);

#endif
