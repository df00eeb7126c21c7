/* Unit tests for controller/member_init.c: configuration, the start decision,
 * etcd's configuration file and the bootstrap member id. */
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

#include "../../controller/member_init.h"

static void clear_env(void)
{
	unsetenv("POD_NAME");
	unsetenv("POD_NAMESPACE");
	unsetenv("POD_IP");
	unsetenv("EC_BOOTSTRAP");
}

static int parse(struct mi_config *cfg, struct eo_err *err, ...)
{
	char *argv[32] = {"member-init"};
	int argc = 1;
	va_list ap;
	va_start(ap, err);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 31;)
		argv[argc++] = (char *)a;
	va_end(ap);
	return mi_config_parse(argc, argv, cfg, err);
}

/* A config for demo-<ordinal> in namespace prod. */
static struct mi_config config(int ordinal, bool bootstrap)
{
	clear_env();
	char pod[32];
	snprintf(pod, sizeof(pod), "POD_NAME=demo-%d", ordinal);
	setenv("POD_NAME", pod + 9, 1);
	setenv("POD_NAMESPACE", "prod", 1);
	setenv("POD_IP", "10.0.0.7", 1);
	if (bootstrap)
		setenv("EC_BOOTSTRAP", "true", 1);
	struct mi_config cfg;
	struct eo_err err;
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--data-dir=/var/lib/etcd/data",
			       "--config-file", "/etc/etcd/etcd.conf.yml", NULL), 0);
	clear_env();
	return cfg;
}

static void test_config_from_env_and_flags(void **state)
{
	struct mi_config cfg = config(2, true);
	assert_int_equal(cfg.ordinal, 2);
	assert_true(cfg.bootstrap);
	assert_string_equal(cfg.pod_name, "demo-2");
	assert_string_equal(cfg.namespace, "prod");
	assert_string_equal(cfg.listen_ip, "10.0.0.7");
	assert_string_equal(cfg.peer_url, "http://demo-2.demo-peer.prod.svc.cluster.local:2380");
	assert_string_equal(cfg.client_url, "http://demo-2.demo-peer.prod.svc.cluster.local:2379");
	assert_string_equal(cfg.id_file, "/var/lib/etcd/member-id");
	assert_string_equal(cfg.token, "prod-demo");
	/* The client Service first, then every peer but itself. */
	assert_string_equal(cfg.endpoints[0], "http://demo-client.prod.svc.cluster.local:2379");
	assert_string_equal(cfg.endpoints[1], "http://demo-0.demo-peer.prod.svc.cluster.local:2379");
	assert_string_equal(cfg.endpoints[2], "http://demo-1.demo-peer.prod.svc.cluster.local:2379");
	assert_string_equal(cfg.endpoints[3], "http://demo-3.demo-peer.prod.svc.cluster.local:2379");
	assert_int_equal(cfg.nendpoints, 9);
	assert_int_equal(cfg.heartbeat_ms, 100);
	assert_int_equal(cfg.election_ms, 1000);

	struct eo_err err;
	clear_env();
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-10",
			       "--namespace=x", "--listen-ip=127.0.0.1", "--data-dir=d",
			       "--config-file=c", "--endpoints=http://a:1,http://b:2",
			       "--heartbeat-ms=50", "--election-ms=500", "--bootstrap=false",
			       "--cluster-domain=k.example", NULL), 0);
	assert_int_equal(cfg.ordinal, 10); /* a number, not text */
	assert_int_equal(cfg.nendpoints, 2);
	assert_string_equal(cfg.endpoints[1], "http://b:2");
	assert_string_equal(cfg.id_file, "./member-id");
	assert_string_equal(cfg.peer_url, "http://demo-10.demo-peer.x.svc.k.example:2380");
	assert_false(cfg.bootstrap);
}

static void test_config_errors(void **state)
{
	struct mi_config cfg;
	struct eo_err err;
	clear_env();
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--data-dir=d", "--config-file=c",
			       NULL), -1);
	assert_non_null(strstr(err.msg, "POD_NAME"));
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=other-1",
			       "--namespace=x", "--listen-ip=1.2.3.4", "--data-dir=d",
			       "--config-file=c", NULL), -1);
	assert_non_null(strstr(err.msg, "other-1"));
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-01",
			       "--namespace=x", "--listen-ip=1.2.3.4", "--data-dir=d",
			       "--config-file=c", NULL), -1);
	assert_int_equal(parse(&cfg, &err, "--nope=1", NULL), -1);
	assert_non_null(strstr(err.msg, "--nope"));
	assert_int_equal(parse(&cfg, &err, "--heartbeat-ms=abc", NULL), -1);
	assert_non_null(strstr(err.msg, "--heartbeat-ms"));
	assert_int_equal(parse(&cfg, &err, "--cluster-name=a'b", NULL), -1);
	assert_int_equal(parse(&cfg, &err, "--cluster-name", NULL), -1);
	assert_int_equal(parse(&cfg, &err, "stray", NULL), -1);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-1",
			       "--namespace=x", "--listen-ip=1.2.3.4", "--data-dir=d",
			       "--config-file=c", "--heartbeat-ms=500", "--election-ms=1000", NULL),
			 -1);
	assert_non_null(strstr(err.msg, "5 ×"));
}

static void test_bootstrap_id_matches_etcd(void **state)
{
	/* Observed from etcd 3.4.23: a one-member cluster with this peer URL
	 * and the default token "etcd-cluster" got member id 9548321055682241535. */
	assert_true(mi_bootstrap_id("http://127.13.77.1:2380", "etcd-cluster") ==
		    9548321055682241535ULL);
	assert_true(mi_bootstrap_id("http://127.13.77.1:2380", "prod-demo") != 9548321055682241535ULL);
}

static struct etcd_member member(uint64_t id, const char *name, const char *peer, bool learner)
{
	struct etcd_member m;
	memset(&m, 0, sizeof(m));
	m.id = id;
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.peer_urls[0], sizeof(m.peer_urls[0]), "%s", peer);
	m.npeer = 1;
	m.learner = learner;
	return m;
}

#define P(k) "http://demo-" #k ".demo-peer.prod.svc.cluster.local:2380"

static struct mi_facts facts(int n, ...)
{
	struct mi_facts f;
	memset(&f, 0, sizeof(f));
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		f.members.m[f.members.n++] = va_arg(ap, struct etcd_member);
	va_end(ap);
	f.list_known = f.quorum_read = n > 0;
	return f;
}

static void test_ordinal0_founds_only_when_allowed_and_silent(void **state)
{
	struct mi_config cfg = config(0, true);
	struct mi_facts f = facts(0);
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT); /* round 0: make sure first */
	f.round = 1;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_NEW);
	assert_string_equal(d.initial_cluster, "demo-0=" P(0));
	assert_true(d.member_id == mi_bootstrap_id(P(0), "prod-demo"));
	/* Each founding has its own token, so its own member and cluster ids:
	 * a Pod 0 that ever founded again would not pass for the old member 0. */
	f.nonce = 0x1234;
	mi_decide(&cfg, &f, &d);
	assert_string_equal(d.token, "prod-demo-0000000000001234");
	assert_true(d.member_id == mi_bootstrap_id(P(0), "prod-demo-0000000000001234"));
	uint64_t first = d.member_id;
	struct eo_buf b = {0};
	struct eo_err err;
	assert_int_equal(mi_render_config(&cfg, &d, &b, &err), 0);
	assert_non_null(strstr(b.data, "initial-cluster-token: 'prod-demo-0000000000001234'"));
	assert_non_null(strstr(b.data, "initial-cluster-state: 'new'"));
	eo_buf_free(&b);
	f.nonce = 0x5678;
	mi_decide(&cfg, &f, &d);
	assert_true(d.member_id != first);
	f.nonce = 0;
	/* Not allowed: waits however long nobody answers. */
	cfg.bootstrap = false;
	f.round = 50;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_non_null(strstr(d.message, "never founds"));
	/* Another ordinal never founds. */
	cfg = config(1, true);
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	/* Ordinal 0 without data while the cluster answers: a lost volume,
	 * never a new cluster, whatever the bootstrap flag says. */
	cfg = config(0, true);
	f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false));
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_non_null(strstr(d.message, "volume was lost"));
	assert_true(d.volume_lost); /* the evidence the controller replaces on */
	/* Merely not added yet, or nobody answering: no such evidence. */
	f = facts(1, member(12, "demo-1", P(1), false));
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_false(d.volume_lost);
	f = facts(0);
	cfg.bootstrap = false;
	mi_decide(&cfg, &f, &d);
	assert_false(d.volume_lost);
}

static void test_join_with_live_list(void **state)
{
	struct mi_config cfg = config(2, false);
	struct mi_facts f = facts(3, member(11, "demo-0", P(0), false),
				  member(12, "demo-1", P(1), false), member(13, "", P(2), true));
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_EXISTING);
	assert_true(d.member_id == 13);
	assert_string_equal(d.initial_cluster, "demo-0=" P(0) ",demo-1=" P(1) ",demo-2=" P(2));
	struct eo_buf b = {0};
	struct eo_err err;
	assert_int_equal(mi_render_config(&cfg, &d, &b, &err), 0);
	assert_non_null(strstr(b.data, "initial-cluster-state: 'existing'"));
	assert_non_null(strstr(b.data, "name: 'demo-2'"));
	assert_non_null(strstr(b.data, "listen-peer-urls: 'http://10.0.0.7:2380'"));
	assert_non_null(strstr(b.data, "listen-client-urls: 'http://10.0.0.7:2379'"));
	assert_non_null(strstr(b.data, "advertise-client-urls: 'http://demo-2.demo-peer.prod.svc.cluster.local:2379'"));
	assert_non_null(strstr(b.data, "data-dir: '/var/lib/etcd/data'"));
	assert_non_null(strstr(b.data, "heartbeat-interval: 100\n"));
	eo_buf_free(&b);
	/* An unstarted member that is not us is named by its Pod. */
	cfg = config(1, false);
	f = facts(3, member(11, "demo-0", P(0), false), member(12, "", P(1), true),
		  member(13, "", "http://10.9.9.9:2380", false));
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_EXISTING);
	assert_string_equal(d.initial_cluster,
			    "demo-0=" P(0) ",demo-1=" P(1) ",member-000000000000000d=http://10.9.9.9:2380");
}

static void test_not_added_waits(void **state)
{
	struct mi_config cfg = config(3, false);
	struct mi_facts f = facts(1, member(11, "demo-0", P(0), false));
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_non_null(strstr(d.message, "not a member yet"));
	struct eo_buf b = {0};
	struct eo_err err;
	assert_int_equal(mi_render_config(&cfg, &d, &b, &err), -1);
	eo_buf_free(&b);
}

static void test_data_of_listed_member_starts(void **state)
{
	struct mi_config cfg = config(1, false);
	struct mi_facts f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false));
	f.has_data = f.has_id = true;
	f.recorded_id = 12;
	struct mi_decision d;
	f.members.cluster_id = 7;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_EXISTING);
	assert_true(d.member_id == 12);
	assert_true(d.cluster_id == 7); /* recorded beside the member id */
	/* Only this member in initial-cluster: etcd ignores it on data, and if
	 * the data vanished under a running Pod, a restarted etcd fails rather
	 * than rejoin empty under its old id. */
	assert_string_equal(d.initial_cluster, "demo-1=" P(1));
	/* No id file yet (a bootstrapped member's first restart): recorded now. */
	f.has_id = false;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_EXISTING);
	assert_true(d.member_id == 12);
}

static void test_data_never_started_as_another_member(void **state)
{
	/* The data here is member 99's; our peer URL now names member 40, re-added
	 * and not started. Without a quorum read there is no evidence 99 was
	 * removed; starting would run etcd as 99 and recording 40 over 99 would
	 * destroy the evidence a later quorum read needs. Wait, record nothing. */
	struct mi_config cfg = config(2, false);
	struct mi_facts f = facts(3, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false),
				  member(40, "", P(2), true));
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.quorum_read = false;
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_true(d.member_id == 0);
	assert_non_null(strstr(d.message, "belongs to member 63"));
	f.round = 50; /* however long */
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	/* With quorum: the evidence (99 absent, our URL unstarted) → wipe,
	 * when the list is of the cluster recorded beside the data. */
	f.quorum_read = true;
	f.members.cluster_id = f.recorded_cluster = 7;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WIPE);
	/* Our URL a started member under another id: keep, and wait. */
	f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-2", P(2), false));
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_true(d.member_id == 0);
}

static void test_another_clusters_list_is_no_evidence(void **state)
{
	/* The data is member 99's of cluster 7. The members that answer, with
	 * quorum, are of cluster 8 (a cluster founded anew under the same name):
	 * that 99 is not among them says nothing about this data. */
	struct mi_config cfg = config(1, false);
	struct mi_facts f = facts(1, member(50, "demo-0", P(0), false));
	f.members.cluster_id = 8;
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.recorded_cluster = 7;
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_non_null(strstr(d.message, "cluster 7"));
	/* Listed by URL in that other cluster: not started on either. */
	f = facts(2, member(50, "demo-0", P(0), false), member(99, "demo-1", P(1), false));
	f.members.cluster_id = 8;
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.recorded_cluster = 7;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	/* The same cluster: the usual evidence holds. */
	f = facts(1, member(50, "demo-0", P(0), false));
	f.members.cluster_id = 7;
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.recorded_cluster = 7;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WIPE);
}

static void test_unreadable_data_dir_waits(void **state)
{
	/* Not being able to look is not an empty volume: never joined empty
	 * (nor reported as a lost volume), never wiped. */
	struct mi_config cfg = config(1, false);
	struct mi_facts f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false));
	f.data_unknown = true;
	snprintf(f.data_error, sizeof(f.data_error), "/var/lib/etcd/data/member/wal: Input/output error");
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_false(d.volume_lost);
	assert_non_null(strstr(d.message, "Input/output error"));
}

static void test_removed_member_wiped_only_with_evidence(void **state)
{
	struct mi_config cfg = config(2, false);
	struct mi_decision d;
	/* Evidence: quorum list of the recorded cluster without our id, our
	 * URL absent. */
	struct mi_facts f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false));
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.members.cluster_id = f.recorded_cluster = 7;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WIPE);
	/* Re-added (unstarted member with our URL and a new id): wipe too. */
	f = facts(3, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false),
		  member(40, "", P(2), true));
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.members.cluster_id = f.recorded_cluster = 7;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WIPE);
	/* The same list, not read with quorum: doubt → keep the data (and
	 * wait: it is member 99's, not 40's). */
	f.quorum_read = false;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-1", P(1), false));
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	f.quorum_read = false;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	f.round = 5;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_ON_DATA);
	/* No id recorded: no evidence whose data it is → keep. */
	f.quorum_read = true;
	f.members.cluster_id = f.recorded_cluster = 7;
	f.has_id = false;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_ON_DATA);
	/* Our URL listed as a started member under another id: keep. */
	f = facts(2, member(11, "demo-0", P(0), false), member(12, "demo-2", P(2), false));
	f.has_data = f.has_id = true;
	f.recorded_id = 99;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
}

static void test_data_and_silence_starts_after_short_try(void **state)
{
	/* A whole cluster restarting: nobody answers until somebody starts. */
	struct mi_config cfg = config(1, false);
	struct mi_facts f = facts(0);
	f.has_data = f.has_id = true;
	f.recorded_id = 12;
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	f.round = 1;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_ON_DATA);
	assert_string_equal(d.initial_cluster, "demo-1=" P(1));
	struct eo_buf b = {0};
	struct eo_err err;
	assert_int_equal(mi_render_config(&cfg, &d, &b, &err), 0);
	assert_non_null(strstr(b.data, "initial-cluster-state: 'existing'"));
	eo_buf_free(&b);
}

static void test_no_recorded_cluster_never_wipes(void **state)
{
	/* Issue 17: a founded demo-0's id file had no cluster id, and a quorum
	 * list of an unrelated cluster (which lacks its member, of course) was
	 * taken for evidence that it was removed: its data was wiped. Without
	 * the cluster beside the member id there is no such evidence. */
	struct mi_config cfg = config(0, false);
	struct mi_facts f = facts(1, member(50, "other-0", "http://10.1.1.1:2380", false));
	f.members.cluster_id = 8;
	f.has_data = f.has_id = true;
	f.recorded_id = 3725851614855434431ULL;
	struct mi_decision d;
	for (f.round = 0; f.round < 50; f.round++) {
		mi_decide(&cfg, &f, &d);
		assert_int_equal(d.verdict, MI_WAIT);
	}
	assert_non_null(strstr(d.message, "records no cluster id"));
	assert_non_null(strstr(d.message, "keeping the data"));
	/* Our URL re-added in that list, unstarted: still not ours to wipe. */
	f = facts(2, member(50, "other-0", "http://10.1.1.1:2380", false), member(51, "", P(0), true));
	f.members.cluster_id = 8;
	f.has_data = f.has_id = true;
	f.recorded_id = 3725851614855434431ULL;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	/* With the cluster recorded and the same cluster answering: wiped. */
	f.recorded_cluster = 8;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WIPE);
	/* Another cluster answering: kept. */
	f.recorded_cluster = 9;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
}

static void test_founding_records_its_cluster_id(void **state)
{
	/* Observed from etcd 3.4.23: the one-member cluster of member
	 * 9548321055682241535 (see test_bootstrap_id_matches_etcd) has cluster
	 * id 11154133629058755293 — etcd's genID over the member ids. */
	assert_true(mi_bootstrap_cluster_id(9548321055682241535ULL) == 11154133629058755293ULL);
	struct mi_config cfg = config(0, true);
	struct mi_facts f = facts(0);
	f.round = 1;
	f.nonce = 0x1234;
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_NEW);
	assert_true(d.member_id != 0);
	assert_true(d.cluster_id == mi_bootstrap_cluster_id(d.member_id));
	assert_true(d.cluster_id != 0);
}

static void test_long_cluster_domain_is_an_error(void **state)
{
	/* A 243-character cluster domain made a peer URL cut mid-name, with no
	 * error. Every URL, path and token built here is checked. */
	char domain[300], flag[320];
	memset(domain, 'a', 243);
	for (int i = 60; i < 243; i += 61)
		domain[i] = '.';
	domain[243] = '\0';
	snprintf(flag, sizeof(flag), "--cluster-domain=%s", domain);
	struct mi_config cfg;
	struct eo_err err;
	clear_env();
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-0",
			       "--namespace=prod", "--listen-ip=10.0.0.7", "--data-dir=/d/data",
			       "--config-file=/c", flag, NULL), -1);
	assert_non_null(strstr(err.msg, "DNS name"));
	assert_non_null(strstr(err.msg, "limit of 253"));
	/* The longest that fits (the peer URLs, 255 characters) still works, whole. */
	char fits[300];
	size_t room = 255 - strlen("http://demo-0.demo-peer.prod.svc.:2380");
	memset(fits, 'b', room);
	fits[room] = '\0';
	fits[60] = '.';
	snprintf(flag, sizeof(flag), "--cluster-domain=%s", fits);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-0",
			       "--namespace=prod", "--listen-ip=10.0.0.7", "--data-dir=/d/data",
			       "--config-file=/c", flag, NULL), 0);
	assert_non_null(strstr(cfg.peer_url, fits));
	assert_string_equal(cfg.peer_url + strlen(cfg.peer_url) - 5, ":2380");
	assert_string_equal(cfg.endpoints[8] + strlen(cfg.endpoints[8]) - 5, ":2379");
	/* One more character: the peer URL is over its limit, and says so. */
	fits[room] = 'b';
	fits[room + 1] = '\0';
	snprintf(flag, sizeof(flag), "--cluster-domain=%s", fits);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-0",
			       "--namespace=prod", "--listen-ip=10.0.0.7", "--data-dir=/d/data",
			       "--config-file=/c", flag, NULL), -1);
	assert_non_null(strstr(err.msg, "peer URL would be 256 characters, over its limit of 255"));
	/* Given URLs, the endpoint defaults are still checked: the client
	 * Service's name is longer than the Pod's. */
	char eps[300];
	memset(eps, 'c', 240);
	eps[240] = '\0';
	eps[60] = eps[121] = eps[182] = '.';
	snprintf(flag, sizeof(flag), "--cluster-domain=%s", eps);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-0",
			       "--namespace=prod", "--listen-ip=10.0.0.7", "--data-dir=/d/data",
			       "--config-file=/c", "--peer-url=http://p:2380",
			       "--client-url=http://p:2379", flag, NULL), -1);
	assert_non_null(strstr(err.msg, "--endpoints"));
	assert_non_null(strstr(err.msg, "limit of 255"));
	/* The id file beside a data dir that itself fits (511 characters). */
	char dd[600];
	snprintf(dd, sizeof(dd), "--data-dir=/%0505d/data", 0);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--pod-name=demo-0",
			       "--namespace=prod", "--listen-ip=10.0.0.7", dd, "--config-file=/c",
			       NULL), -1);
	assert_non_null(strstr(err.msg, "member-id file"));
}

static void test_initial_cluster_through_the_library(void **state)
{
	/* Two unstarted members other than us keep distinct names (an empty
	 * name twice would be merged into one member by etcd), and a list that
	 * does not fit is an error, never a cut list. */
	struct mi_config cfg = config(3, false);
	struct mi_facts f = facts(4, member(11, "demo-0", P(0), false), member(12, "", P(1), false),
				  member(13, "", P(2), false), member(14, "", P(3), true));
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_EXISTING);
	assert_string_equal(d.initial_cluster,
			    "demo-0=" P(0) ",demo-1=" P(1) ",demo-2=" P(2) ",demo-3=" P(3));
	f = facts(0);
	f.list_known = f.quorum_read = true;
	for (int i = 0; i < ETCD_MAX_MEMBERS; i++) {
		struct etcd_member m = member(100 + (uint64_t)i, "", "", false);
		m.npeer = ETCD_MAX_URLS;
		for (int j = 0; j < ETCD_MAX_URLS; j++) {
			memset(m.peer_urls[j], 'x', 200);
			snprintf(m.peer_urls[j], 20, "http://%d-%d", i, j);
			m.peer_urls[j][strlen(m.peer_urls[j])] = 'x';
			m.peer_urls[j][200] = '\0';
		}
		f.members.m[f.members.n++] = m;
	}
	f.members.m[5].peer_urls[0][0] = '\0';
	snprintf(f.members.m[5].peer_urls[0], sizeof(f.members.m[5].peer_urls[0]), "%s", P(3));
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_WAIT);
	assert_non_null(strstr(d.message, "does not fit in initial-cluster"));
}

static void test_guard_decision(void **state)
{
	struct mi_guard_facts f;
	struct mi_guard_decision d;
	/* A founding's first start: the ticket is there, no data yet. */
	memset(&f, 0, sizeof(f));
	f.config_read = f.state_new = f.first_start = true;
	f.has_id = true;
	f.recorded_id = 3725851614855434431ULL;
	f.recorded_cluster = 77;
	mi_guard_decide(&f, &d);
	assert_true(d.start);
	assert_non_null(strstr(d.message, "founding"));
	/* Later starts on its data: all well. */
	f.first_start = false;
	f.has_data = true;
	mi_guard_decide(&f, &d);
	assert_true(d.start);
	/* The data emptied under the Pod: never founds again. */
	f.has_data = false;
	mi_guard_decide(&f, &d);
	assert_false(d.start);
	assert_int_equal(d.exit_code, MI_EXIT_VOLUME_LOST);
	assert_non_null(strstr(d.message, "Refusing to found a new empty cluster"));
	assert_non_null(strstr(d.message, "33b4e24da54610bf")); /* the member, for the person */
	/* Not even with nothing recorded at all (the whole volume emptied). */
	f.has_id = false;
	f.recorded_id = f.recorded_cluster = 0;
	mi_guard_decide(&f, &d);
	assert_false(d.start);
	assert_int_equal(d.exit_code, MI_EXIT_VOLUME_LOST);
	/* A joined member's data emptied: not started empty either. */
	f.state_new = false;
	mi_guard_decide(&f, &d);
	assert_false(d.start);
	assert_int_equal(d.exit_code, MI_EXIT_VOLUME_LOST);
	assert_non_null(strstr(d.message, "started in this Pod before"));
	/* … but its first start joins. */
	f.first_start = true;
	mi_guard_decide(&f, &d);
	assert_true(d.start);
	/* Cannot look, cannot read: refuse, not as a lost volume. */
	f.data_unknown = true;
	snprintf(f.data_error, sizeof(f.data_error), "EIO");
	mi_guard_decide(&f, &d);
	assert_false(d.start);
	assert_int_equal(d.exit_code, 1);
	assert_non_null(strstr(d.message, "EIO"));
	memset(&f, 0, sizeof(f));
	mi_guard_decide(&f, &d);
	assert_false(d.start);
	assert_int_equal(d.exit_code, 1);
}

static void test_install_guard(void **state)
{
	/* The init step copies the guard onto the emptyDir etcd's container
	 * runs it from: whole, 0555, replacing the read-only copy of an earlier
	 * run of the init step in the same Pod. */
	char dir[] = "/tmp/eo-guard-XXXXXX", from[64], to[64];
	assert_non_null(mkdtemp(dir));
	snprintf(from, sizeof(from), "%s/etcd-member-guard", dir);
	snprintf(to, sizeof(to), "%s/installed", dir);
	struct eo_err err = {0};
	assert_int_equal(eo_write_file(from, "\177ELF one", 9, 0755, &err), 0);
	assert_int_equal(mi_install_guard(from, to, &err), 0);
	assert_int_equal(eo_write_file(from, "\177ELF two!", 10, 0755, &err), 0);
	assert_int_equal(mi_install_guard(from, to, &err), 0);
	struct stat st;
	assert_int_equal(stat(to, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	char *got = NULL;
	size_t len;
	assert_int_equal(eo_read_file(to, 64, &got, &len, &err), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(got, "\177ELF two!", 10);
	free(got);
	/* No source: an error that says where the guard should have been. */
	unlink(from);
	assert_int_equal(mi_install_guard(from, to, &err), -1);
	assert_non_null(strstr(err.msg, "--install-guard"));
	assert_non_null(strstr(err.msg, from));
	unlink(to);
	rmdir(dir);
}

static void test_space_flags(void **state)
{
	(void)state;
	struct mi_config cfg;
	struct eo_err err;
	setenv("POD_NAME", "demo-0", 1);
	setenv("POD_NAMESPACE", "prod", 1);
	setenv("POD_IP", "10.0.0.7", 1);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--data-dir=d", "--config-file=c",
			       "--auto-compaction-mode=revision", "--auto-compaction-retention=10000",
			       "--quota-backend-bytes=16777216", NULL), 0);
	/* an added, unstarted member: it joins */
	struct mi_facts f = facts(2, member(11, "", P(0), false), member(12, "demo-1", P(1), false));
	struct mi_decision d;
	mi_decide(&cfg, &f, &d);
	assert_int_equal(d.verdict, MI_START_EXISTING);
	struct eo_buf b = {0};
	assert_int_equal(mi_render_config(&cfg, &d, &b, &err), 0);
	assert_non_null(strstr(b.data, "\nauto-compaction-mode: 'revision'\n"));
	assert_non_null(strstr(b.data, "\nauto-compaction-retention: '10000'\n"));
	assert_non_null(strstr(b.data, "\nquota-backend-bytes: 16777216\n"));
	eo_buf_free(&b);
	/* nothing that could end etcd's YAML quoting gets in */
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--data-dir=d", "--config-file=c",
			       "--auto-compaction-retention=1h'\nforce-new-cluster: true", NULL), -1);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--data-dir=d", "--config-file=c",
			       "--auto-compaction-mode=hourly", NULL), -1);
	assert_int_equal(parse(&cfg, &err, "--cluster-name=demo", "--data-dir=d", "--config-file=c",
			       "--quota-backend-bytes=2Gi", NULL), -1);
	clear_env();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_space_flags),
		cmocka_unit_test(test_config_from_env_and_flags),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_bootstrap_id_matches_etcd),
		cmocka_unit_test(test_ordinal0_founds_only_when_allowed_and_silent),
		cmocka_unit_test(test_join_with_live_list),
		cmocka_unit_test(test_not_added_waits),
		cmocka_unit_test(test_data_of_listed_member_starts),
		cmocka_unit_test(test_removed_member_wiped_only_with_evidence),
		cmocka_unit_test(test_data_never_started_as_another_member),
		cmocka_unit_test(test_another_clusters_list_is_no_evidence),
		cmocka_unit_test(test_unreadable_data_dir_waits),
		cmocka_unit_test(test_data_and_silence_starts_after_short_try),
		cmocka_unit_test(test_no_recorded_cluster_never_wipes),
		cmocka_unit_test(test_founding_records_its_cluster_id),
		cmocka_unit_test(test_long_cluster_domain_is_an_error),
		cmocka_unit_test(test_initial_cluster_through_the_library),
		cmocka_unit_test(test_guard_decision),
		cmocka_unit_test(test_install_guard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
