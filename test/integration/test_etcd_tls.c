/*
 * Integration test of etcd TLS (issue 12): real etcd (ETCD_BIN; run.sh runs
 * it on 3.6 and, under the sanitizers, 3.5) with peer and client mutual
 * TLS on certificates made by shared/base/certs_x509.c with the profiles of
 * shared/api/ectls.c, driven through the shared etcd client (shared/etcd/etcd.c)
 * holding its client certificate in memory, as the controller does.
 *
 * Members on 127.19.X.Y (test/helpers/etcd_proc.h). One CA; the peer and
 * server certificates name the members' addresses; a client certificate
 * with no names. Shown: a 2-member cluster grown with a learner over
 * https peer URLs; the client with its certificate reads and writes; without
 * a certificate, or with one from another CA, the client port refuses; the
 * peer port refuses a connection without a member's certificate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/etcd_proc.h"
#include "certs_x509.h"
#include "ectls.h"
#include "etcd.h"

struct pems {
	char *cert, *key;
};

static struct certs_pair ca, other_ca;
static char *ca_pem;
static struct pems server, peer, client, stranger;
static struct etcd_proc_tls files; /* server cert on disk, for etcd_proc */
static char dir[600], peer_cert[700], peer_key[700];

static void pem_of(struct certs_pair *p, struct pems *out)
{
	out->cert = certs_pem_cert(p->cert);
	out->key = certs_pem_key(p->key);
	assert_non_null(out->cert);
	assert_non_null(out->key);
}

static void leaf(struct certs_pair *issuer, bool server_auth, bool with_ips, struct pems *out)
{
	char a1[32], a2[32];
	etcd_proc_addr(1, a1);
	etcd_proc_addr(2, a2);
	const char *ips[] = {a1, a2, "127.0.0.1"};
	const char *dns[] = {"localhost"};
	struct certs_leaf_opts o = {.common_name = "etcd-tls-test",
				    .dns = with_ips ? dns : NULL, .ndns = with_ips ? 1 : 0,
				    .ips = with_ips ? ips : NULL, .nips = with_ips ? 3 : 0,
				    .seconds = 3600, .server = server_auth, .client = true};
	struct certs_pair p = {0};
	struct eo_err err = {0};
	assert_int_equal(certs_make_leaf(issuer, &o, &p, &err), 0);
	pem_of(&p, out);
	certs_pair_clear(&p);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static int setup(void **state)
{
	struct eo_err err = {0};
	if (etcd_proc_setup("127.19", &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	struct certs_ca_opts co = {.common_name = "tls-test-ca", .seconds = 86400};
	if (certs_make_ca(&co, &ca, &err) != 0 || certs_make_ca(&co, &other_ca, &err) != 0)
		return -1;
	ca_pem = certs_pem_cert(ca.cert);
	leaf(&ca, true, true, &server);
	leaf(&ca, true, true, &peer);
	leaf(&ca, false, false, &client);
	leaf(&other_ca, false, false, &stranger);

	snprintf(dir, sizeof(dir), "%s/tls", etcd_proc_dir());
	mkdir(dir, 0700);
	snprintf(files.ca, sizeof(files.ca), "%s/ca.crt", dir);
	snprintf(files.server_cert, sizeof(files.server_cert), "%s/server.crt", dir);
	snprintf(files.server_key, sizeof(files.server_key), "%s/server.key", dir);
	snprintf(files.client_cert, sizeof(files.client_cert), "%s/client.crt", dir);
	snprintf(files.client_key, sizeof(files.client_key), "%s/client.key", dir);
	snprintf(peer_cert, sizeof(peer_cert), "%s/peer.crt", dir);
	snprintf(peer_key, sizeof(peer_key), "%s/peer.key", dir);
	write_file(files.ca, ca_pem, 0644);
	write_file(files.server_cert, server.cert, 0644);
	write_file(files.server_key, server.key, 0600);
	write_file(files.client_cert, client.cert, 0644);
	write_file(files.client_key, client.key, 0600);
	write_file(peer_cert, peer.cert, 0644);
	write_file(peer_key, peer.key, 0600);
	return 0;
}

static int teardown(void **state)
{
	etcd_proc_cleanup();
	certs_pair_clear(&ca);
	certs_pair_clear(&other_ca);
	free(ca_pem);
	struct pems *all[] = {&server, &peer, &client, &stranger};
	for (size_t i = 0; i < 4; i++) {
		free(all[i]->cert);
		free(all[i]->key);
	}
	return 0;
}

/* The flags that turn a member's peer side to mutual TLS on https URLs. */
struct peer_flags {
	char listen[96], adv[96], ic[256];
	const char *argv[16];
};

static void peer_tls(int host, const char *initial_cluster, struct peer_flags *f)
{
	char addr[32];
	etcd_proc_addr(host, addr);
	snprintf(f->listen, sizeof(f->listen), "--listen-peer-urls=https://%s:2380", addr);
	snprintf(f->adv, sizeof(f->adv), "--initial-advertise-peer-urls=https://%s:2380", addr);
	snprintf(f->ic, sizeof(f->ic), "--initial-cluster=%s", initial_cluster);
	static char cert[760], key[760], cafile[760];
	snprintf(cert, sizeof(cert), "--peer-cert-file=%s", peer_cert);
	snprintf(key, sizeof(key), "--peer-key-file=%s", peer_key);
	snprintf(cafile, sizeof(cafile), "--peer-trusted-ca-file=%s", files.ca);
	const char *v[] = {f->listen, f->adv, f->ic, cert, key, cafile, "--peer-client-cert-auth",
			   NULL};
	memcpy(f->argv, v, sizeof(v));
}

static struct etcd_client *client_of(const char *url, const struct pems *who)
{
	struct etcd_tls tls = {.ca_pem = ca_pem, .cert_pem = who ? who->cert : NULL,
			       .key_pem = who ? who->key : NULL};
	struct eo_err err = {0};
	struct etcd_client *c = etcd_client_new(&url, 1, &tls, 3000, &err);
	assert_non_null(c);
	return c;
}

static void test_mutual_tls(void **state)
{
	struct eo_err err = {0};
	char a1[32], a2[32], ic[256];
	etcd_proc_addr(1, a1);
	etcd_proc_addr(2, a2);
	snprintf(ic, sizeof(ic), "t1=https://%s:2380", a1);
	struct peer_flags pf1;
	peer_tls(1, ic, &pf1);
	struct etcd_proc_opts o1 = {.name = "t1", .host = 1, .tls = &files,
				    .strict_reconfig = true, .extra_args = pf1.argv};
	struct etcd_proc *m1 = etcd_proc_start(&o1, &err);
	assert_non_null(m1);
	if (etcd_proc_wait_healthy(m1, 20000, &err) != 0)
		fail_msg("t1 not healthy: %s", err.msg);
	assert_non_null(strstr(m1->client_url, "https://"));

	/* with the client certificate, from memory: writes and reads */
	struct etcd_client *c = client_of(m1->client_url, &client);
	assert_int_equal(etcd_put(c, "/tls/k", "v1", 2, &err), 0);
	char *val = NULL;
	size_t len = 0;
	assert_int_equal(etcd_get(c, "/tls/k", &val, &len, &err), 0);
	assert_string_equal(val, "v1");
	free(val);

	/* grow over https peer URLs: learner, start, promote when in sync */
	char purl[64];
	snprintf(purl, sizeof(purl), "https://%s:2380", a2);
	struct etcd_member added;
	assert_int_equal(etcd_member_add(c, purl, true, &added, &err), 0);
	struct etcd_members ms;
	assert_int_equal(etcd_member_list(c, true, &ms, &err), 0);
	char ic2[512];
	assert_int_equal(etcd_initial_cluster(&ms, added.id, "t2", ic2, sizeof(ic2)), 0);
	assert_non_null(strstr(ic2, "t1=https://"));
	struct peer_flags pf2;
	peer_tls(2, ic2, &pf2);
	struct etcd_proc_opts o2 = {.name = "t2", .host = 2, .tls = &files, .existing = true,
				    .strict_reconfig = true, .extra_args = pf2.argv};
	struct etcd_proc *m2 = etcd_proc_start(&o2, &err);
	assert_non_null(m2);
	if (etcd_proc_wait_healthy(m2, 20000, &err) != 0)
		fail_msg("t2 not healthy: %s", err.msg);
	int rc = -1;
	for (int i = 0; i < 100 && rc != 0; i++) {
		eo_err_clear(&err);
		rc = etcd_member_promote(c, added.id, &err);
		if (rc != 0) {
			assert_true(etcd_err_retryable(&err));
			usleep(200 * 1000);
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(etcd_member_list(c, true, &ms, &err), 0);
	assert_int_equal(ms.n, 2);
	for (int i = 0; i < ms.n; i++)
		assert_false(ms.m[i].learner);
	/* the new member answers with the data, over its own https port */
	struct etcd_client *c2 = client_of(m2->client_url, &client);
	struct etcd_status st;
	assert_int_equal(etcd_status(c2, m2->client_url, &st, &err), 0);
	assert_true(st.leader != 0);
	assert_int_equal(etcd_get(c2, "/tls/k", &val, &len, &err), 0);
	assert_string_equal(val, "v1");
	free(val);
	etcd_client_free(c2);

	/* without a client certificate: refused at the handshake */
	struct etcd_client *anon = client_of(m1->client_url, NULL);
	assert_int_equal(etcd_put(anon, "/tls/k", "x", 1, &err), -1);
	assert_true(err.code == EO_ETRANSPORT || err.code == EO_ETIMEOUT);
	eo_err_clear(&err);
	etcd_client_free(anon);
	/* with a certificate from another CA: refused */
	struct etcd_client *other = client_of(m1->client_url, &stranger);
	assert_int_equal(etcd_put(other, "/tls/k", "x", 1, &err), -1);
	eo_err_clear(&err);
	etcd_client_free(other);
	/* the peer port wants a member's certificate too */
	char peer_url[64];
	snprintf(peer_url, sizeof(peer_url), "https://%s:2380", a1);
	struct etcd_client *p = client_of(peer_url, NULL);
	assert_int_equal(etcd_health(p, peer_url, &err), -1);
	eo_err_clear(&err);
	etcd_client_free(p);
	/* and the value was never overwritten */
	assert_int_equal(etcd_get(c, "/tls/k", &val, &len, &err), 0);
	assert_string_equal(val, "v1");
	free(val);
	etcd_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual_tls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
