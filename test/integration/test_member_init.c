/*
 * Integration tests of the member init step (controller/member_init*.c)
 * against real etcd 3.4 processes on 127.13.X.Y (test/helpers/etcd_proc.h).
 *
 * Each member "demo-K" listens on host K+1; the init step is run as the Pod
 * would run it (mi_run with flags instead of the Pod's DNS names), and etcd
 * is then started on nothing but the configuration file it wrote. The tests
 * run in order on one cluster: found it, join a learner, wait bounded when
 * not added, restart on data, keep data without evidence, wipe a removed
 * member's data with evidence and join again, and refuse to found a second
 * cluster from an empty ordinal 0. One unrelated cluster ("other", host 6)
 * is started beside it: the founded member's data must survive being
 * pointed at it.
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

#include "../../controller/member_init.h"
#include "../helpers/etcd_proc.h"
#include "etcd.h"
#include "log.h"

#define NHOSTS 4 /* demo-0 .. demo-3 on hosts 1..4 */

static struct etcd_proc *procs[NHOSTS];
static struct etcd_proc *other; /* an unrelated one-member cluster on host 6 */
static const char *endpoints_override; /* --endpoints for config(), when set */

static void fail_err(const char *what, const struct eo_err *err)
{
	fail_msg("%s: %s", what, err->msg);
}

/* The init step's configuration for demo-k, as a Pod would pass it. */
static void config(int k, bool bootstrap, int wait_s, struct mi_config *cfg)
{
	char a[NHOSTS + 12][300];
	char *argv[NHOSTS + 14];
	int n = 0;
	char addr[32], eps[512] = "";
	etcd_proc_addr(k + 1, addr);
	for (int j = 0; j < NHOSTS; j++)
		if (j != k) {
			char url[64];
			etcd_proc_client_url(j + 1, url);
			strcat(eps, eps[0] ? "," : "");
			strcat(eps, url);
		}
	argv[n++] = "member-init";
	snprintf(a[n], 300, "--pod-name=demo-%d", k), n++;
	snprintf(a[n], 300, "--namespace=test"), n++;
	snprintf(a[n], 300, "--listen-ip=%s", addr), n++;
	snprintf(a[n], 300, "--cluster-name=demo"), n++;
	snprintf(a[n], 300, "--data-dir=%s/demo-%d.etcd", etcd_proc_dir(), k), n++;
	snprintf(a[n], 300, "--config-file=%s/demo-%d.yml", etcd_proc_dir(), k), n++;
	snprintf(a[n], 300, "--member-id-file=%s/demo-%d.id", etcd_proc_dir(), k), n++;
	snprintf(a[n], 300, "--peer-url=http://%s:2380", addr), n++;
	snprintf(a[n], 300, "--client-url=http://%s:2379", addr), n++;
	snprintf(a[n], 300, "--endpoints=%s", endpoints_override ? endpoints_override : eps), n++;
	snprintf(a[n], 300, "--bootstrap=%s", bootstrap ? "true" : "false"), n++;
	snprintf(a[n], 300, "--wait-seconds=%d", wait_s), n++;
	snprintf(a[n], 300, "--retry-ms=200"), n++;
	for (int i = 1; i < n; i++)
		argv[i] = a[i];
	const char *tail[] = {"--ask-timeout-ms=1000", "--heartbeat-ms=50", "--election-ms=500"};
	for (size_t i = 0; i < EO_ARRAY_LEN(tail); i++)
		argv[n++] = (char *)tail[i];
	struct eo_err err;
	unsetenv("POD_NAME");
	unsetenv("POD_NAMESPACE");
	unsetenv("POD_IP");
	if (mi_config_parse(n, argv, cfg, &err) != 0)
		fail_err("mi_config_parse", &err);
}

static void run_init(int k, bool bootstrap)
{
	struct mi_config cfg;
	config(k, bootstrap, 20, &cfg);
	struct eo_err err;
	if (mi_run(&cfg, NULL, &err) != 0)
		fail_err("member init", &err);
}

/* Start etcd for demo-k on the configuration the init step wrote. */
static void spawn_etcd(int k)
{
	char name[16], arg[600];
	snprintf(name, sizeof(name), "demo-%d", k);
	snprintf(arg, sizeof(arg), "--config-file=%s/demo-%d.yml", etcd_proc_dir(), k);
	const char *extra[] = {arg, NULL};
	struct etcd_proc_opts o = {.name = name, .host = k + 1, .extra_args = extra};
	struct eo_err err;
	if (procs[k]) {
		if (etcd_proc_restart(procs[k], &err) != 0)
			fail_err("restart", &err);
	} else if (!(procs[k] = etcd_proc_start(&o, &err))) {
		fail_err("etcd start", &err);
	}
}

static void wait_healthy(int k)
{
	struct eo_err err;
	if (etcd_proc_wait_healthy(procs[k], 20000, &err) != 0)
		fail_err("etcd healthy", &err);
}

static void start_etcd(int k)
{
	spawn_etcd(k);
	wait_healthy(k);
}

static struct etcd_client *client(int k)
{
	char url[64];
	etcd_proc_client_url(k + 1, url);
	const char *ep = url;
	struct eo_err err;
	struct etcd_client *c = etcd_client_new(&ep, 1, NULL, 5000, &err);
	if (!c)
		fail_err("client", &err);
	return c;
}

static void members(struct etcd_members *ms)
{
	struct etcd_client *c = client(0);
	struct eo_err err;
	int64_t until = eo_now_ms() + 10000;
	while (etcd_member_list(c, true, ms, &err) != 0) {
		if (eo_now_ms() > until)
			fail_err("member list", &err);
		eo_sleep_ms(200);
	}
	etcd_client_free(c);
}

static uint64_t add_learner(int k)
{
	char peer[64];
	etcd_proc_peer_url(k + 1, peer);
	struct etcd_client *c = client(0);
	struct etcd_member m;
	struct eo_err err;
	int64_t until = eo_now_ms() + 10000;
	while (etcd_member_add(c, peer, true, &m, &err) != 0) {
		if (!etcd_err_retryable(&err) || eo_now_ms() > until)
			fail_err("member add", &err);
		eo_sleep_ms(300);
	}
	etcd_client_free(c);
	return m.id;
}

static void promote(uint64_t id)
{
	struct etcd_client *c = client(0);
	struct eo_err err;
	int64_t until = eo_now_ms() + 20000;
	while (etcd_member_promote(c, id, &err) != 0) {
		if (!etcd_err_retryable(&err) || eo_now_ms() > until)
			fail_err("promote", &err);
		eo_sleep_ms(300);
	}
	etcd_client_free(c);
}

static uint64_t recorded_id(int k)
{
	char path[600], *buf = NULL;
	size_t len;
	struct eo_err err;
	snprintf(path, sizeof(path), "%s/demo-%d.id", etcd_proc_dir(), k);
	if (eo_read_file(path, 64, &buf, &len, &err) != 0)
		return 0;
	uint64_t id = strtoull(buf, NULL, 10);
	free(buf);
	return id;
}

/* The cluster id on the id file's second line, 0 when absent. */
static uint64_t recorded_cluster(int k)
{
	char path[600], *buf = NULL;
	size_t len;
	struct eo_err err;
	snprintf(path, sizeof(path), "%s/demo-%d.id", etcd_proc_dir(), k);
	if (eo_read_file(path, 64, &buf, &len, &err) != 0)
		return 0;
	const char *nl = strchr(buf, '\n');
	uint64_t id = nl ? strtoull(nl + 1, NULL, 10) : 0;
	free(buf);
	return id;
}

static bool has_wal(int k)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/demo-%d.etcd/member/wal", etcd_proc_dir(), k);
	struct stat sb;
	return stat(path, &sb) == 0;
}

static int setup(void **state)
{
	struct eo_err err;
	log_init("test", EO_LOG_WARN);
	if (etcd_proc_setup("127.13", &err) != 0)
		fail_err("setup", &err);
	return 0;
}

static int teardown(void **state)
{
	etcd_proc_cleanup();
	return 0;
}

static void test_ordinal0_founds_with_its_computed_id(void **state)
{
	run_init(0, true);
	start_etcd(0);
	struct etcd_members ms;
	members(&ms);
	assert_int_equal(ms.n, 1);
	/* The id the init step recorded before etcd ever ran is etcd's own. */
	assert_true(recorded_id(0) != 0);
	assert_true(ms.m[0].id == recorded_id(0));
	assert_string_equal(ms.m[0].name, "demo-0");
	/* … and so is the cluster id, recorded beside it from the start. */
	assert_true(recorded_cluster(0) != 0);
	assert_true(recorded_cluster(0) == ms.cluster_id);
}

/* Run demo-0's init step against the other cluster only; the log it wrote. */
static char *init_against_other(struct eo_err *err)
{
	char url[64], *log = NULL;
	size_t loglen = 0;
	etcd_proc_client_url(6, url);
	FILE *mem = open_memstream(&log, &loglen);
	assert_non_null(mem);
	log_init("test", EO_LOG_INFO);
	log_set_output(mem);
	endpoints_override = url;
	struct mi_config cfg;
	config(0, false, 2, &cfg);
	int rc = mi_run(&cfg, NULL, err);
	endpoints_override = NULL;
	log_set_output(stderr);
	log_init("test", EO_LOG_WARN);
	fclose(mem);
	assert_int_equal(rc, -1);
	return log;
}

static void test_founded_data_kept_against_another_cluster(void **state)
{
	/* Issue 17: a founded demo-0 pointed at an unrelated etcd took that
	 * cluster's member list (read with quorum, without demo-0's id) for
	 * evidence that it had been removed, and wiped its data. */
	struct eo_err err;
	struct etcd_proc_opts o = {.name = "other", .host = 6};
	if (!(other = etcd_proc_start(&o, &err)) || etcd_proc_wait_healthy(other, 20000, &err) != 0)
		fail_err("the other cluster", &err);
	etcd_proc_stop(procs[0], 5000);
	uint64_t id = recorded_id(0), cluster = recorded_cluster(0);

	/* The founding recorded its cluster: another cluster's list is no
	 * evidence; the data stays and the log says why. */
	char *log = init_against_other(&err);
	assert_true(has_wal(0));
	assert_true(recorded_id(0) == id && recorded_cluster(0) == cluster);
	assert_int_equal(err.code, EO_ETIMEOUT);
	assert_non_null(strstr(log, "keeping the data and waiting"));
	assert_non_null(strstr(err.msg, "keeping the data"));
	assert_null(strstr(log, "wiping"));
	free(log);

	/* A file of an older version, without the cluster: kept as well. */
	char path[600], line[48];
	snprintf(path, sizeof(path), "%s/demo-0.id", etcd_proc_dir());
	snprintf(line, sizeof(line), "%llu\n", (unsigned long long)id);
	if (eo_write_file(path, line, strlen(line), 0644, &err) != 0)
		fail_err("id file", &err);
	log = init_against_other(&err);
	assert_true(has_wal(0));
	assert_non_null(strstr(log, "records no cluster id"));
	assert_null(strstr(log, "wiping"));
	free(log);

	/* Back among its own (with its file as founded): starts on its data. */
	etcd_proc_free(other);
	other = NULL;
	snprintf(line, sizeof(line), "%llu\n%llu\n", (unsigned long long)id,
		 (unsigned long long)cluster);
	if (eo_write_file(path, line, strlen(line), 0644, &err) != 0)
		fail_err("id file", &err);
	run_init(0, false);
	start_etcd(0);
	assert_true(recorded_id(0) == id && recorded_cluster(0) == cluster);
	struct etcd_members ms;
	members(&ms);
	assert_int_equal(ms.n, 1);
	assert_true(ms.m[0].id == id);
}

static void test_learner_joins_with_live_list(void **state)
{
	uint64_t id = add_learner(1);
	run_init(1, false);
	assert_true(recorded_id(1) == id);
	start_etcd(1);
	promote(id);
	struct etcd_members ms;
	members(&ms);
	assert_int_equal(ms.n, 2);
	for (int i = 0; i < ms.n; i++)
		assert_false(ms.m[i].learner);
	/* The cluster is recorded beside the member: a list of another cluster
	 * is never evidence about this data. */
	assert_true(recorded_cluster(1) == ms.cluster_id);
	assert_true(recorded_cluster(0) == ms.cluster_id); /* recorded when founded */
}

static void test_not_added_waits_bounded(void **state)
{
	struct mi_config cfg;
	config(3, false, 1, &cfg);
	struct eo_err err;
	int64_t t0 = eo_now_ms();
	assert_int_equal(mi_run(&cfg, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	assert_non_null(strstr(err.msg, "not a member yet"));
	assert_true(eo_now_ms() - t0 < 15000);
	char path[600];
	snprintf(path, sizeof(path), "%s/demo-3.yml", etcd_proc_dir());
	assert_int_not_equal(access(path, F_OK), 0); /* nothing written */
}

static void test_restart_on_data(void **state)
{
	etcd_proc_stop(procs[1], 5000);
	run_init(1, false);
	start_etcd(1);
	struct etcd_members ms;
	members(&ms);
	assert_int_equal(ms.n, 2);
	/* demo-0 keeps its record over a restart. */
	etcd_proc_stop(procs[0], 5000);
	run_init(0, false);
	start_etcd(0);
	assert_true(recorded_cluster(0) == ms.cluster_id);
}

static void test_unreadable_data_dir_is_not_empty(void **state)
{
	/* A data dir that cannot be read (here member/wal is not a directory)
	 * is neither started empty, nor reported as a lost volume, nor wiped:
	 * the init step waits and says why. */
	char dir[600], path[700];
	snprintf(dir, sizeof(dir), "%s/demo-3.etcd/member", etcd_proc_dir());
	snprintf(path, sizeof(path), "%s/demo-3.etcd", etcd_proc_dir());
	mkdir(path, 0755);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/wal", dir);
	struct eo_err err;
	assert_int_equal(eo_write_file(path, "x", 1, 0644, &err), 0);
	struct mi_config cfg;
	config(3, false, 1, &cfg);
	assert_int_equal(mi_run(&cfg, NULL, &err), -1);
	assert_int_equal(err.code, EO_ETIMEOUT);
	assert_non_null(strstr(err.msg, "cannot tell whether"));
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	rmdir(dir);
}

static void test_data_kept_when_nobody_answers(void **state)
{
	/* The whole cluster down: demo-1 starts on its data without evidence. */
	etcd_proc_stop(procs[0], 5000);
	etcd_proc_stop(procs[1], 5000);
	run_init(1, false);
	assert_true(has_wal(1));
	run_init(0, true); /* data present: bootstrap permission is irrelevant */
	spawn_etcd(0);
	spawn_etcd(1);
	wait_healthy(0);
	wait_healthy(1);
	struct etcd_members ms;
	members(&ms);
	assert_int_equal(ms.n, 2);
}

static void test_removed_member_wiped_then_rejoins(void **state)
{
	/* Removed while running (as the controller does): its process exits
	 * by itself and leaves its data behind. */
	uint64_t old = recorded_id(1);
	struct etcd_client *c = client(0);
	struct eo_err err;
	int64_t until = eo_now_ms() + 15000;
	while (etcd_member_remove(c, old, &err) != 0) {
		if (!etcd_err_retryable(&err) || eo_now_ms() > until)
			fail_err("member remove", &err);
		eo_sleep_ms(300);
	}
	etcd_client_free(c);
	if (etcd_proc_wait_exit(procs[1], 15000) != 0)
		etcd_proc_stop(procs[1], 5000);
	assert_true(has_wal(1));
	/* Removed, not re-added: the data goes (evidence), then it waits. */
	struct mi_config cfg;
	config(1, false, 1, &cfg);
	assert_int_equal(mi_run(&cfg, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "not a member yet"));
	assert_false(has_wal(1));
	assert_true(recorded_id(1) == 0);
	/* Added again: joins fresh with its new id. */
	uint64_t id = add_learner(1);
	run_init(1, false);
	assert_true(recorded_id(1) == id);
	start_etcd(1);
	promote(id);
	struct etcd_members ms;
	members(&ms);
	assert_int_equal(ms.n, 2);
}

static void test_empty_ordinal0_never_founds_again(void **state)
{
	/* demo-0 loses its volume; demo-1 still answers (alone it has no
	 * quorum, so only its local member list). Even with the bootstrap
	 * permission, demo-0 waits to be replaced and writes nothing. */
	struct eo_err err;
	etcd_proc_stop(procs[0], 5000);
	if (etcd_proc_wipe(procs[0], &err) != 0)
		fail_err("wipe", &err);
	char path[600];
	snprintf(path, sizeof(path), "%s/demo-0.id", etcd_proc_dir());
	unlink(path);
	snprintf(path, sizeof(path), "%s/demo-0.yml", etcd_proc_dir());
	unlink(path);
	struct mi_config cfg;
	config(0, true, 20, &cfg);
	assert_int_equal(mi_run(&cfg, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "volume was lost"));
	/* … and exits with the status the controller reads as the evidence. */
	assert_int_equal(err.code, MI_EVOLUME_LOST);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_false(has_wal(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordinal0_founds_with_its_computed_id),
		cmocka_unit_test(test_founded_data_kept_against_another_cluster),
		cmocka_unit_test(test_learner_joins_with_live_list),
		cmocka_unit_test(test_not_added_waits_bounded),
		cmocka_unit_test(test_restart_on_data),
		cmocka_unit_test(test_unreadable_data_dir_is_not_empty),
		cmocka_unit_test(test_data_kept_when_nobody_answers),
		cmocka_unit_test(test_removed_member_wiped_then_rejoins),
		cmocka_unit_test(test_empty_ordinal0_never_founds_again),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
