/*
 * Integration test of the guard before every etcd start
 * (`etcd-member-guard -- etcd --config-file=F`, controller/member_guard.c)
 * with real etcd and the real, static binary etcd's container runs
 * ($EO_BUILD/etcd-member-guard, default build/); `etcd-controller
 * member-init guard` is the same code.
 *
 * One member "solo-0" founds its cluster through the init step (nobody else
 * answers) and then runs etcd behind the guard, as its container would: the
 * first start founds, a restart on data passes through, and after its data
 * directory is emptied under the Pod a restart is refused with the
 * lost-volume status instead of founding a new, empty cluster.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../controller/member_init.h"
#include "../helpers/etcd_proc.h"
#include "etcd.h"
#include "log.h"

static struct etcd_proc *solo;
static char bin[600], guard[600], conf[600], idfile[600], datadir[600];

static void fail_err(const char *what, const struct eo_err *err)
{
	fail_msg("%s: %s", what, err->msg);
}

static int setup(void **state)
{
	struct eo_err err;
	log_init("test", EO_LOG_WARN);
	if (etcd_proc_setup("127.13", &err) != 0)
		fail_err("setup", &err);
	const char *build = getenv("EO_BUILD");
	snprintf(bin, sizeof(bin), "%s/etcd-controller", build ? build : "build");
	if (access(bin, X_OK) != 0)
		fail_msg("%s is not built (make build/etcd-controller, or set EO_BUILD)", bin);
	snprintf(guard, sizeof(guard), "%s/etcd-member-guard", build ? build : "build");
	if (access(guard, X_OK) != 0)
		fail_msg("%s is not built (make build/etcd-member-guard, or set EO_BUILD)", guard);
	snprintf(conf, sizeof(conf), "%s/solo-0.yml", etcd_proc_dir());
	snprintf(idfile, sizeof(idfile), "%s/solo-0.id", etcd_proc_dir());
	/* etcd_proc's data dir for a member named solo-0. */
	snprintf(datadir, sizeof(datadir), "%s/solo-0.etcd", etcd_proc_dir());
	return 0;
}

static int teardown(void **state)
{
	etcd_proc_cleanup();
	return 0;
}

static bool has_wal(void)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/member/wal", datadir);
	struct stat sb;
	return stat(path, &sb) == 0;
}

static bool ticket_there(void)
{
	char path[700];
	snprintf(path, sizeof(path), "%s" MI_FIRST_START, conf);
	return access(path, F_OK) == 0;
}

static struct etcd_members list(void)
{
	const char *ep = solo->client_url;
	struct eo_err err;
	struct etcd_client *c = etcd_client_new(&ep, 1, NULL, 5000, &err);
	if (!c)
		fail_err("client", &err);
	struct etcd_members ms;
	int64_t until = eo_now_ms() + 10000;
	while (etcd_member_list(c, true, &ms, &err) != 0) {
		if (eo_now_ms() > until)
			fail_err("member list", &err);
		eo_sleep_ms(200);
	}
	etcd_client_free(c);
	return ms;
}

static void test_founds_once_then_runs_on_data(void **state)
{
	/* The init step founds (nobody answers at the one endpoint). */
	char addr[32], a_ip[64], a_peer[96], a_client[96], a_data[700], a_conf[700], a_id[700],
		a_eps[96], dead[64];
	etcd_proc_addr(1, addr);
	etcd_proc_client_url(2, dead);
	snprintf(a_ip, sizeof(a_ip), "--listen-ip=%s", addr);
	snprintf(a_peer, sizeof(a_peer), "--peer-url=http://%s:2380", addr);
	snprintf(a_client, sizeof(a_client), "--client-url=http://%s:2379", addr);
	snprintf(a_data, sizeof(a_data), "--data-dir=%s", datadir);
	snprintf(a_conf, sizeof(a_conf), "--config-file=%s", conf);
	snprintf(a_id, sizeof(a_id), "--member-id-file=%s", idfile);
	snprintf(a_eps, sizeof(a_eps), "--endpoints=%s", dead);
	char *argv[] = {"member-init", "--pod-name=solo-0", "--namespace=test", a_ip,
			"--cluster-name=solo", a_data, a_conf, a_id, a_peer, a_client, a_eps,
			"--bootstrap=true", "--wait-seconds=20", "--retry-ms=100",
			"--ask-timeout-ms=300", "--heartbeat-ms=50", "--election-ms=500"};
	struct mi_config cfg;
	struct eo_err err;
	if (mi_config_parse((int)EO_ARRAY_LEN(argv), argv, &cfg, &err) != 0 ||
	    mi_run(&cfg, NULL, &err) != 0)
		fail_err("member init", &err);
	assert_true(ticket_there());
	uint64_t id = 0, cluster = 0;
	assert_true(mi_read_id_file(idfile, &id, &cluster));

	/* etcd behind the guard, as the container runs it. */
	char a_guard_id[700], a_etcd_conf[700];
	snprintf(a_guard_id, sizeof(a_guard_id), "--member-id-file=%s", idfile);
	snprintf(a_etcd_conf, sizeof(a_etcd_conf), "--config-file=%s", conf);
	const char *prefix[] = {guard, a_guard_id, "--", NULL};
	const char *extra[] = {a_etcd_conf, NULL};
	struct etcd_proc_opts o = {.name = "solo-0", .host = 1, .exec_prefix = prefix,
				   .extra_args = extra};
	if (!(solo = etcd_proc_start(&o, &err)) || etcd_proc_wait_healthy(solo, 20000, &err) != 0)
		fail_err("etcd behind the guard", &err);
	assert_false(ticket_there()); /* taken: good for one start */
	struct etcd_members ms = list();
	assert_int_equal(ms.n, 1);
	assert_true(ms.m[0].id == id);
	assert_true(ms.cluster_id == cluster); /* recorded at founding, etcd's own */
	const char *ep = solo->client_url;
	struct etcd_client *c = etcd_client_new(&ep, 1, NULL, 5000, &err);
	assert_non_null(c);
	if (etcd_put(c, "k", "v", 1, &err) != 0)
		fail_err("put", &err);
	etcd_client_free(c);

	/* A restart on data passes through to etcd: the same cluster, the key. */
	etcd_proc_stop(solo, 5000);
	if (etcd_proc_restart(solo, &err) != 0 || etcd_proc_wait_healthy(solo, 20000, &err) != 0)
		fail_err("restart behind the guard", &err);
	ms = list();
	assert_true(ms.cluster_id == cluster);
	c = etcd_client_new(&ep, 1, NULL, 5000, &err);
	char *val = NULL;
	size_t len;
	assert_int_equal(etcd_get(c, "k", &val, &len, &err), 0);
	assert_non_null(val);
	assert_string_equal(val, "v");
	free(val);
	etcd_client_free(c);
}

static void test_emptied_data_never_founds_again(void **state)
{
	/* The README's known limit: the founding configuration is still in the
	 * Pod; the data directory is emptied under it; the container restarts.
	 * The guard refuses (status 4, a reason in the log); nothing is founded. */
	struct eo_err err;
	etcd_proc_stop(solo, 5000);
	if (etcd_proc_wipe(solo, &err) != 0)
		fail_err("wipe", &err);
	if (etcd_proc_restart(solo, &err) != 0)
		fail_err("restart", &err);
	assert_int_equal(etcd_proc_wait_exit(solo, 10000), 0);
	assert_true(WIFEXITED(solo->last_status));
	assert_int_equal(WEXITSTATUS(solo->last_status), MI_EXIT_VOLUME_LOST);
	assert_false(has_wal());
	char *log = NULL;
	size_t len;
	if (eo_read_file(solo->log_path, 1 << 22, &log, &len, &err) != 0)
		fail_err("log", &err);
	assert_non_null(strstr(log, "refusing to start etcd"));
	assert_non_null(strstr(log, "Refusing to found a new empty cluster"));
	free(log);
	/* However often the container is restarted. */
	if (etcd_proc_restart(solo, &err) != 0)
		fail_err("restart", &err);
	assert_int_equal(etcd_proc_wait_exit(solo, 10000), 0);
	assert_int_equal(WEXITSTATUS(solo->last_status), MI_EXIT_VOLUME_LOST);
	assert_false(has_wal());
}

static void test_bad_arguments(void **state)
{
	/* No --config-file in the command: exit 2, etcd never run. */
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "'%s' member-init guard -- /bin/true 2>/dev/null", bin);
	int st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
	snprintf(cmd, sizeof(cmd), "'%s' member-init guard 2>/dev/null", bin);
	st = system(cmd);
	assert_int_equal(WEXITSTATUS(st), 2);
	/* The static program, as etcd's container names it. */
	snprintf(cmd, sizeof(cmd), "'%s' -- /bin/true 2>/dev/null", guard);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
}

static void test_guard_is_static(void **state)
{
	/* etcd's image is distroless: no libcurl, no OpenSSL, no loader of
	 * ours: no program header naming a loader or shared libraries. */
	char *elf = NULL;
	size_t len;
	struct eo_err err;
	if (eo_read_file(guard, 16u << 20, &elf, &len, &err) != 0)
		fail_err("read the guard", &err);
	assert_true(len > sizeof(Elf64_Ehdr) && memcmp(elf, ELFMAG, SELFMAG) == 0);
	assert_int_equal(elf[EI_CLASS], ELFCLASS64);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
	assert_true(eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <= len);
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, elf + eh->e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		assert_int_not_equal(ph.p_type, PT_INTERP);  /* no dynamic loader */
		assert_int_not_equal(ph.p_type, PT_DYNAMIC); /* no shared libraries */
	}
	free(elf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_founds_once_then_runs_on_data),
		cmocka_unit_test(test_emptied_data_never_founds_again),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_guard_is_static),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
