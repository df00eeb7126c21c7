/* Unit tests for etcd TLS (issue 12): spec.security.tls in the model
 * (shared/api/cluster.c), its admission rules (shared/policy/policy_validate.c), and the
 * certificates of Auto mode (shared/api/ectls.c on shared/base/certs_x509.c): names,
 * usages, lifetimes, renewal at two thirds, and the fit check Secret mode
 * reports with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/x509v3.h>

#include "../../controller/member_init.h"
#include "../../controller/resources.h"
#include "certs_x509.h"
#include "ectls.h"
#include "json.h"
#include "policy.h"

/* An EtcdCluster "demo" in "team-a" from JSON text with the given tls block
 * ("" for none), settled at 1 member. */
static void parse(const char *tls, struct etcd_cluster *c)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"kind\":\"EtcdCluster\",\"metadata\":{\"name\":\"demo\",\"namespace\":\"team-a\","
		 "\"generation\":2},\"spec\":{\"replicas\":1%s%s%s},"
		 "\"status\":{\"phase\":\"Running\",\"observedGeneration\":2,\"replicas\":1,"
		 "\"readyReplicas\":1}}",
		 tls[0] ? ",\"security\":{\"tls\":" : "", tls, tls[0] ? "}" : "");
	json_object *o = json_tokener_parse(text);
	assert_non_null(o);
	struct eo_err err = {0};
	assert_int_equal(cluster_parse(o, c, &err), 0);
	json_object_put(o);
}

static struct policy_decision validate(const struct etcd_cluster *o, const struct etcd_cluster *n)
{
	struct policy_request r = {.op = o ? POLICY_UPDATE : POLICY_CREATE, .old = o, .new = n};
	struct policy_decision d;
	memset(&d, 0, sizeof(d));
	policy_validate(&r, &d);
	return d;
}

static void test_parse(void **state)
{
	struct etcd_cluster c;
	parse("{\"peer\":{\"mode\":\"Auto\"},\"client\":{\"mode\":\"Secret\",\"secretName\":\"s\"}}", &c);
	assert_int_equal(c.spec.tls_peer.mode, EC_TLS_AUTO);
	assert_int_equal(c.spec.tls_client.mode, EC_TLS_SECRET);
	assert_string_equal(c.spec.tls_client.secret_name, "s");
	parse("", &c);
	assert_int_equal(c.spec.tls_peer.mode, EC_TLS_OFF);
	assert_int_equal(c.spec.tls_client.mode, EC_TLS_OFF);
	parse("{\"peer\":{\"mode\":\"auto\"}}", &c);
	assert_int_equal(c.spec.tls_peer.mode, EC_TLS_INVALID);

	json_object *o = json_tokener_parse("{\"spec\":{\"security\":{\"tls\":{\"peer\":\"Auto\"}}}}");
	struct eo_err err = {0};
	assert_int_equal(cluster_parse(o, &c, &err), -1);
	assert_non_null(strstr(err.msg, "spec.security.tls.peer: expected an object"));
	json_object_put(o);
}

static void test_policy_create(void **state)
{
	struct etcd_cluster n;
	parse("{\"peer\":{\"mode\":\"Auto\"},\"client\":{\"mode\":\"Auto\"}}", &n);
	assert_true(validate(NULL, &n).allowed);

	parse("{\"client\":{\"mode\":\"Secret\"}}", &n);
	struct policy_decision d = validate(NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "spec.security.tls.client.secretName: mode Secret needs"));

	parse("{\"peer\":{\"mode\":\"Manual\"}}", &n);
	d = validate(NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "\"Manual\" is not a TLS mode. Use Auto"));

	parse("{\"peer\":{\"mode\":\"Auto\",\"secretName\":\"x\"}}", &n);
	d = validate(NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "read only with mode Secret"));

	parse("{\"peer\":{\"mode\":\"Secret\",\"secretName\":\"Bad_Name\"}}", &n);
	d = validate(NULL, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "cannot name a Secret"));

	parse("{\"peer\":{\"mode\":\"Secret\",\"secretName\":\"demo-peer\"}}", &n);
	assert_true(validate(NULL, &n).allowed);
}

static void test_policy_update(void **state)
{
	struct etcd_cluster o, n;
	/* plain → TLS: refused, the way out named */
	parse("", &o);
	parse("{\"client\":{\"mode\":\"Auto\"}}", &n);
	struct policy_decision d = validate(&o, &n);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "cannot turn TLS on for an existing plain cluster"));
	assert_non_null(strstr(d.reason, "Create a new EtcdCluster"));
	/* TLS → plain: refused */
	d = validate(&n, &o);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "cannot turn TLS off"));
	/* Auto → Secret: refused */
	parse("{\"client\":{\"mode\":\"Secret\",\"secretName\":\"s\"}}", &o);
	d = validate(&n, &o);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "cannot change Auto to Secret \"s\""));
	/* unchanged: allowed, also a value stored before the rules (ratcheting) */
	assert_true(validate(&n, &n).allowed);
	parse("{\"peer\":{\"mode\":\"Manual\"}}", &o);
	n = o;
	n.spec.replicas = 2;
	assert_true(validate(&o, &n).allowed);
}

/* ---- certificates ---------------------------------------------------- */

static struct certs_pair ca;

static int setup_ca(void **state)
{
	struct certs_ca_opts o = {.common_name = "demo-ca", .seconds = ECTLS_CA_SECONDS};
	struct eo_err err = {0};
	return certs_make_ca(&o, &ca, &err);
}

static int teardown_ca(void **state)
{
	certs_pair_clear(&ca);
	return 0;
}

/* Issue kind k for c as the controller does (controller/tls.c). */
static void issue(const struct etcd_cluster *c, enum ectls_kind k, long seconds,
		  struct certs_pair *out)
{
	char names[ECTLS_MAX_NAMES][ECTLS_NAME_LEN];
	const char *dns[ECTLS_MAX_NAMES];
	int n = ectls_dns_names(c, k, names, ECTLS_MAX_NAMES);
	for (int i = 0; i < n; i++)
		dns[i] = names[i];
	struct certs_leaf_opts o = {.common_name = "demo", .dns = dns, .ndns = (size_t)n,
				    .ips = k == ECTLS_CLIENT ? NULL : ectls_ips,
				    .nips = k == ECTLS_CLIENT ? 0 : ECTLS_NIPS, .seconds = seconds,
				    .server = k != ECTLS_CLIENT, .client = true};
	struct eo_err err = {0};
	assert_int_equal(certs_make_leaf(&ca, &o, out, &err), 0);
}

static void test_names(void **state)
{
	struct etcd_cluster c;
	parse("{\"peer\":{\"mode\":\"Auto\"},\"client\":{\"mode\":\"Auto\"}}", &c);
	char names[ECTLS_MAX_NAMES][ECTLS_NAME_LEN];
	int n = ectls_dns_names(&c, ECTLS_PEER, names, ECTLS_MAX_NAMES);
	assert_int_equal(n, 21);
	assert_string_equal(names[0], "demo-0.demo-peer.team-a.svc.cluster.local");
	assert_string_equal(names[9], "demo-9.demo-peer.team-a.svc.cluster.local");
	assert_string_equal(names[10], "demo-0.demo-peer.team-a.svc");
	assert_string_equal(names[20], "localhost");
	n = ectls_dns_names(&c, ECTLS_SERVER, names, ECTLS_MAX_NAMES);
	assert_int_equal(n, 25);
	assert_string_equal(names[23], "demo-client.team-a.svc.cluster.local");
	assert_int_equal(ectls_dns_names(&c, ECTLS_CLIENT, names, ECTLS_MAX_NAMES), 0);

	char s[64];
	assert_int_equal(ectls_secret_name(&c, ECTLS_CA, s, sizeof(s)), 0);
	assert_string_equal(s, "demo-ca");
	assert_int_equal(ectls_secret_name(&c, ECTLS_CLIENT, s, sizeof(s)), 0);
	assert_string_equal(s, "demo-client-tls");
	parse("{\"client\":{\"mode\":\"Secret\",\"secretName\":\"mine\"}}", &c);
	assert_int_equal(ectls_secret_name(&c, ECTLS_PEER, s, sizeof(s)), -1);
	assert_int_equal(ectls_secret_name(&c, ECTLS_CA, s, sizeof(s)), -1);
	assert_int_equal(ectls_secret_name(&c, ECTLS_SERVER, s, sizeof(s)), 0);
	assert_string_equal(s, "mine");
	assert_false(ectls_issued(&c, ECTLS_SERVER));
}

static void test_leaf_profile(void **state)
{
	struct etcd_cluster c;
	parse("{\"peer\":{\"mode\":\"Auto\"},\"client\":{\"mode\":\"Auto\"}}", &c);
	struct certs_pair peer = {0}, server = {0}, client = {0};
	issue(&c, ECTLS_PEER, ECTLS_LEAF_SECONDS, &peer);
	issue(&c, ECTLS_SERVER, ECTLS_LEAF_SECONDS, &server);
	issue(&c, ECTLS_CLIENT, ECTLS_LEAF_SECONDS, &client);
	for (int k = 0; k < 9; k++) {
		char host[128];
		snprintf(host, sizeof(host), "demo-%d.demo-peer.team-a.svc.cluster.local", k);
		assert_true(certs_covers(peer.cert, host));
		assert_true(certs_covers(server.cert, host));
	}
	assert_true(certs_covers(server.cert, "demo-client.team-a.svc"));
	assert_true(certs_covers(server.cert, "127.0.0.1"));
	assert_true(certs_covers(server.cert, "localhost"));
	assert_false(certs_covers(peer.cert, "demo-client.team-a.svc"));
	assert_false(certs_covers(server.cert, "other-0.demo-peer.team-a.svc.cluster.local"));
	assert_false(certs_covers(client.cert, "localhost"));
	assert_true(certs_has_usage(peer.cert, true, true));
	assert_true(certs_has_usage(server.cert, true, true));
	assert_true(certs_has_usage(client.cert, false, true));
	assert_false(certs_has_usage(client.cert, true, false));
	assert_true(certs_signed_by(peer.cert, ca.cert));
	assert_false(certs_signed_by(peer.cert, peer.cert));
	assert_int_equal(X509_check_ca(peer.cert), 0);

	/* lifetimes: CA 5 years, leaves 90 days (issued 5 minutes back-dated) */
	int64_t nb, na, now = (int64_t)time(NULL);
	assert_int_equal(certs_validity(ca.cert, &nb, &na), 0);
	assert_true(na - now > ECTLS_CA_SECONDS - 60 && na - now <= ECTLS_CA_SECONDS + 60);
	assert_int_equal(certs_validity(peer.cert, &nb, &na), 0);
	assert_true(na - now > ECTLS_LEAF_SECONDS - 60 && na - now <= ECTLS_LEAF_SECONDS + 60);
	assert_true(now - nb >= 299 && now - nb <= 360);
	/* renewal at two thirds of the life as issued (the back-dating not counted) */
	int64_t issued = nb + CERTS_BACKDATE_SECONDS;
	assert_false(ectls_renew_due(nb, na, now));
	assert_false(ectls_renew_due(nb, na, issued + (na - issued) * 2 / 3 - 1));
	assert_true(ectls_renew_due(nb, na, issued + (na - issued) * 2 / 3));
	assert_true(ectls_renew_due(0, 3000, 2100));
	assert_false(ectls_renew_due(0, 3000, 2099));
	/* a one-minute certificate (tests' --tls-cert-lifetime 1m) is due after 40 s, not at once */
	assert_false(ectls_renew_due(1000 - CERTS_BACKDATE_SECONDS, 1060, 1039));
	assert_true(ectls_renew_due(1000 - CERTS_BACKDATE_SECONDS, 1060, 1040));
	/* a life no longer than the back-dating: two thirds of it all */
	assert_true(ectls_renew_due(0, 300, 200));

	/* no leaf outlives its CA */
	struct certs_pair out = {0};
	struct certs_leaf_opts o = {.seconds = ECTLS_CA_SECONDS + 86400 * 2, .client = true};
	struct eo_err err = {0};
	assert_int_equal(certs_make_leaf(&ca, &o, &out, &err), -1);
	assert_non_null(strstr(err.msg, "outlive its CA"));
	certs_pair_clear(&peer);
	certs_pair_clear(&server);
	certs_pair_clear(&client);
}

static void test_fit(void **state)
{
	struct etcd_cluster c;
	parse("{\"peer\":{\"mode\":\"Auto\"},\"client\":{\"mode\":\"Auto\"}}", &c);
	struct certs_pair server = {0}, client = {0}, other_ca = {0};
	issue(&c, ECTLS_SERVER, 3600, &server);
	issue(&c, ECTLS_CLIENT, 3600, &client);
	int64_t now = (int64_t)time(NULL);
	struct ectls_fit f;
	ectls_check(&c, ECTLS_SERVER, "team-a/s", server.cert, server.key, ca.cert, now, &f);
	assert_true(f.ok);
	ectls_check(&c, ECTLS_SERVER, "team-a/s", server.cert, server.key, NULL, now, &f);
	assert_false(f.ok);
	assert_string_equal(f.reason, "CAMissing");
	assert_non_null(strstr(f.message, "no ca.crt"));
	ectls_check(&c, ECTLS_SERVER, "team-a/s", server.cert, client.key, ca.cert, now, &f);
	assert_string_equal(f.reason, "KeyMismatch");
	ectls_check(&c, ECTLS_SERVER, "team-a/s", server.cert, server.key, ca.cert, now + 7200, &f);
	assert_string_equal(f.reason, "Expired");
	ectls_check(&c, ECTLS_SERVER, "team-a/s", client.cert, client.key, ca.cert, now, &f);
	assert_string_equal(f.reason, "WrongUsage");
	ectls_check(&c, ECTLS_CLIENT, "team-a/c", client.cert, client.key, ca.cert, now, &f);
	assert_true(f.ok);
	ectls_check(&c, ECTLS_SERVER, "team-a/s", NULL, NULL, ca.cert, now, &f);
	assert_string_equal(f.reason, "CertificateMissing");

	/* another cluster's certificate does not name this one's members */
	struct etcd_cluster other;
	parse("", &other);
	strcpy(other.name, "other");
	struct certs_pair wrong = {0};
	issue(&other, ECTLS_SERVER, 3600, &wrong);
	ectls_check(&c, ECTLS_SERVER, "team-a/s", wrong.cert, wrong.key, ca.cert, now, &f);
	assert_string_equal(f.reason, "NameMismatch");
	assert_non_null(strstr(f.message, "does not name demo-0.demo-peer.team-a.svc.cluster.local"));

	/* signed by another CA */
	struct certs_ca_opts co = {.common_name = "x", .days = 10};
	struct eo_err err = {0};
	assert_int_equal(certs_make_ca(&co, &other_ca, &err), 0);
	ectls_check(&c, ECTLS_SERVER, "team-a/s", server.cert, server.key, other_ca.cert, now, &f);
	assert_string_equal(f.reason, "CAMismatch");
	certs_pair_clear(&server);
	certs_pair_clear(&client);
	certs_pair_clear(&wrong);
	certs_pair_clear(&other_ca);
}

/* ---- the Pod template and etcd's configuration ------------------------ */

static json_object *container(json_object *sts, const char *list, const char *name)
{
	char path[96];
	snprintf(path, sizeof(path), "spec.template.spec.%s", list);
	json_object *a = json_at(sts, path);
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		if (!strcmp(json_opt_str(json_object_array_get_idx(a, i), "name", ""), name))
			return json_object_array_get_idx(a, i);
	return NULL;
}

static bool has_str(json_object *arr, const char *s)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return true;
	return false;
}

static void test_template(void **state)
{
	struct etcd_cluster c;
	parse("{\"peer\":{\"mode\":\"Auto\"},\"client\":{\"mode\":\"Auto\"}}", &c);
	json_object *sts = res_statefulset(&c, 1, true, NULL);
	json_object *init = container(sts, "initContainers", RES_INIT_CONTAINER);
	json_object *etcd = container(sts, "containers", RES_ETCD_CONTAINER);
	assert_true(has_str(json_at(init, "args"), "--peer-tls-dir=" RES_TLS_PEER_DIR));
	assert_true(has_str(json_at(init, "args"), "--client-tls-dir=" RES_TLS_SERVER_DIR));
	assert_true(has_str(json_at(init, "args"), "--peer-allowed-cn=demo-peer"));
	/* probes on the plain metrics port: the kubelet has no client certificate */
	assert_int_equal(json_opt_int(etcd, "readinessProbe.httpGet.port", 0), RES_PORT_METRICS);
	assert_int_equal(json_opt_int(etcd, "livenessProbe.tcpSocket.port", 0), RES_PORT_METRICS);
	json_object *vols = json_at(sts, "spec.template.spec.volumes");
	int found = 0;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		const char *sn = json_opt_str(json_object_array_get_idx(vols, i), "secret.secretName", "");
		found += !strcmp(sn, "demo-server-tls") || !strcmp(sn, "demo-peer-tls");
	}
	assert_int_equal(found, 2);
	json_object_put(sts);

	/* Secret mode: the user's Secret, no allowed CN; plain: nothing of it */
	parse("{\"client\":{\"mode\":\"Secret\",\"secretName\":\"mine\"}}", &c);
	sts = res_statefulset(&c, 1, true, NULL);
	init = container(sts, "initContainers", RES_INIT_CONTAINER);
	assert_false(has_str(json_at(init, "args"), "--peer-tls-dir=" RES_TLS_PEER_DIR));
	assert_true(strstr(json_compact(sts), "\"secretName\":\"mine\"") != NULL);
	assert_null(strstr(json_compact(sts), "allowed-cn"));
	json_object_put(sts);
	parse("", &c);
	sts = res_statefulset(&c, 1, true, NULL);
	assert_null(strstr(json_compact(sts), "tls"));
	etcd = container(sts, "containers", RES_ETCD_CONTAINER);
	assert_int_equal(json_opt_int(etcd, "readinessProbe.httpGet.port", 0), 2379);
	json_object_put(sts);
}

static void test_etcd_config(void **state)
{
	char *argv[] = {"member-init", "--pod-name=demo-1", "--namespace=team-a",
			"--listen-ip=10.0.0.5", "--cluster-name=demo", "--data-dir=/var/lib/etcd/data",
			"--config-file=/etc/etcd/etcd.conf.yml", "--peer-tls-dir=/p",
			"--client-tls-dir=/s", "--peer-allowed-cn=demo-peer"};
	struct mi_config cfg;
	struct eo_err err = {0};
	assert_int_equal(mi_config_parse(EO_ARRAY_LEN(argv), argv, &cfg, &err), 0);
	assert_string_equal(cfg.peer_url, "https://demo-1.demo-peer.team-a.svc.cluster.local:2380");
	assert_string_equal(cfg.client_url, "https://demo-1.demo-peer.team-a.svc.cluster.local:2379");
	assert_string_equal(cfg.endpoints[0], "https://demo-client.team-a.svc.cluster.local:2379");
	struct mi_decision d = {.verdict = MI_START_EXISTING};
	strcpy(d.initial_cluster, "demo-0=https://demo-0.demo-peer.team-a.svc.cluster.local:2380");
	struct eo_buf out = {0};
	assert_int_equal(mi_render_config(&cfg, &d, &out, &err), 0);
	const char *t = out.data;
	assert_non_null(strstr(t, "listen-peer-urls: 'https://10.0.0.5:2380'"));
	assert_non_null(strstr(t, "listen-client-urls: 'https://10.0.0.5:2379'"));
	assert_non_null(strstr(t, "peer-transport-security:\n  cert-file: '/p/tls.crt'\n"
				  "  key-file: '/p/tls.key'\n  trusted-ca-file: '/p/ca.crt'\n"
				  "  client-cert-auth: true\n  allowed-cn: ['demo-peer']\n"));
	assert_non_null(strstr(t, "client-transport-security:\n  cert-file: '/s/tls.crt'\n"));
	assert_non_null(strstr(t, "listen-metrics-urls: 'http://10.0.0.5:2381'"));
	eo_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_policy_create),
		cmocka_unit_test(test_policy_update),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_leaf_profile),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_etcd_config),
	};
	return cmocka_run_group_tests(tests, setup_ca, teardown_ca);
}
