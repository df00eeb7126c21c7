/* Integration tests for terminal injection through kubectl-etcd (issue 17,
 * finding 4): the real binary against the scriptable API server
 * (kube_server.py), which serves an EtcdCluster whose status, conditions and
 * Events carry escape sequences (clear screen, window title, CR, C1 CSI), a
 * Warning header with one, and a Status error message with one. Whatever
 * the command prints — table, one cluster, -o json, -o yaml, scale's account
 * of a step in flight, an API error, validate's verdicts — holds no byte a
 * terminal acts on (ESC, BEL, CR, C1) and still shows the text, escaped.
 *
 * The binary is $EO_BUILD/kubectl-etcd (test/run.sh sets EO_BUILD). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../helpers/kube_fixture.h"

/* JSON escapes for what an attacker puts in a string. */
#define J_ESC "\\u001b"
#define J_BEL "\\u0007"
#define J_CSI "\\u009b" /* C1 CSI: 0xC2 0x9B once decoded */
#define J_CLEAR J_ESC "[2J"
#define J_TITLE J_ESC "]0;pwned" J_BEL

/* What the plugin shows of them. */
#define V_CLEAR "\\x1b[2J"
#define V_TITLE "\\x1b]0;pwned\\x07"
#define V_CSI "\\u009b"

#define NS_PATH "/apis/etcd.k8s-operator.io/v1alpha1/namespaces/default/etcdclusters"
#define EVENTS_PATH "/api/v1/namespaces/default/events"

static const char CLUSTER[] =
	"{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
	"\"metadata\":{\"name\":\"demo\",\"namespace\":\"default\",\"generation\":3,"
	"\"creationTimestamp\":\"2026-11-29T05:55:00Z\"},"
	"\"spec\":{\"replicas\":3,\"version\":\"3.5.17" J_CLEAR "\"},"
	"\"status\":{\"phase\":\"Scaling\",\"observedGeneration\":3,\"replicas\":2,"
	"\"readyReplicas\":2,\"learners\":1,\"clusterID\":\"1484" J_CSI "2J\","
	"\"leader\":\"demo-0" J_TITLE "\",\"members\":["
	"{\"name\":\"demo-0" J_CLEAR "\",\"id\":\"100\",\"leader\":true,\"healthy\":true,"
	"\"dbSize\":20480,\"raftIndex\":812}],"
	"\"scaling\":{\"from\":2,\"to\":3,\"step\":\"CatchUp" J_CLEAR "\",\"memberID\":\"102" J_BEL
	"\",\"startedAt\":\"2026-11-29T05:59:30Z\",\"message\":\"catching up\\rFAKE" J_CLEAR "\"},"
	"\"conditions\":["
	"{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"Quorum" J_ESC "[5m\","
	"\"message\":\"voters" J_TITLE " healthy " J_CSI "2J\","
	"\"lastTransitionTime\":\"2026-11-29T05:56:00Z\"}]}}";

static const char EVENTS[] =
	"{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":["
	"{\"metadata\":{\"name\":\"demo.1\",\"namespace\":\"default\"},"
	"\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\"},"
	"\"type\":\"Warning\",\"reason\":\"Evil" J_CLEAR "\","
	"\"message\":\"owned" J_TITLE J_CLEAR "\\b\\b" J_CSI "31m\","
	"\"lastTimestamp\":\"2026-11-29T05:58:00Z\",\"count\":1}]}";

/* The Warning header, as kube-apiserver writes one (RFC 7234 warn-text). */
#define WARNING_HEADER "299 - \\\"deprecated " J_TITLE " " J_CLEAR "\\\""

static char kubeconfig[256];

static int setup(void **state)
{
	if (kube_fixture_setup(state) != 0)
		return -1;
	const struct kube_testsrv *s = &kube_fixture_srv;
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", s->tls.dir);
	FILE *f = fopen(kubeconfig, "w");
	if (!f)
		return -1;
	fprintf(f,
		"apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		"clusters:\n- name: t\n  cluster:\n    server: %s\n    certificate-authority: %s\n"
		"users:\n- name: u\n  user:\n    token: %s\n"
		"contexts:\n- name: t\n  context:\n    cluster: t\n    user: u\n"
		"    namespace: default\n",
		s->url, s->tls.ca_cert, KUBE_TESTSRV_TOKEN);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	unlink(kubeconfig);
	return kube_fixture_teardown(state);
}

static void put_cluster(void)
{
	kube_fixture_ctl("/_test/put", CLUSTER);
}

/* The next GET of path answers status with body and the Warning header. */
static void script_get(const char *path, int status, const char *body)
{
	struct eo_buf b = {0};
	eo_buf_printf(&b,
		      "{\"method\":\"GET\",\"path\":\"%s\",\"responses\":[{\"status\":%d,"
		      "\"body\":%s,\"headers\":[[\"Warning\",\"" WARNING_HEADER "\"]]}]}",
		      path, status, body);
	kube_fixture_ctl("/_test/script", b.data);
	eo_buf_free(&b);
}

static char *slurp(FILE *f)
{
	struct eo_buf b = {0};
	char chunk[4096];
	size_t n;
	rewind(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		eo_buf_append(&b, chunk, n);
	fclose(f);
	return eo_buf_steal(&b);
}

struct run {
	int status; /* exit code */
	char *out, *err;
};

/* Run kubectl-etcd with args (NULL-terminated) and --kubeconfig; stdin from
 * stdin_path (NULL: /dev/null). */
static void run_plugin(struct run *r, const char *stdin_path, const char *const *args)
{
	const char *build = getenv("EO_BUILD");
	char bin[512];
	snprintf(bin, sizeof(bin), "%s/kubectl-etcd", build ? build : "build");
	if (access(bin, X_OK) != 0)
		fail_msg("%s not built (set EO_BUILD)", bin);
	const char *argv[32] = {bin};
	int n = 1;
	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n++] = "--kubeconfig";
	argv[n++] = kubeconfig;
	argv[n] = NULL;
	FILE *out = tmpfile(), *err = tmpfile();
	assert_non_null(out);
	assert_non_null(err);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *in = freopen(stdin_path ? stdin_path : "/dev/null", "r", stdin);
		(void)in;
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		unsetenv("KUBECONFIG");
		setenv("NO_COLOR", "1", 1);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	int64_t deadline = eo_now_ms() + 30000;
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && eo_now_ms() < deadline)
		eo_sleep_ms(20);
	if (w != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("kubectl-etcd %s did not finish", args[0]);
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp(out);
	r->err = slurp(err);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* The first byte a terminal would act on, as an offset; -1 when none: a C0
 * control other than the newlines the plugin writes itself (NO_COLOR is
 * set), DEL, a C1 control (0xC2 0x80–0x9F), or a byte that is not part of
 * UTF-8 (a lone 0x9B is CSI to an 8-bit terminal). */
static long first_active(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	for (long i = 0; u[i];) {
		if (u[i] < 0x80) {
			if ((u[i] < 0x20 && u[i] != '\n') || u[i] == 0x7F)
				return i;
			i++;
			continue;
		}
		int len = u[i] >= 0xC2 && u[i] <= 0xDF ? 2 : u[i] >= 0xE0 && u[i] <= 0xEF ? 3
			: u[i] >= 0xF0 && u[i] <= 0xF4 ? 4 : 0;
		if (len == 0)
			return i;
		for (int k = 1; k < len; k++)
			if (u[i + k] < 0x80 || u[i + k] > 0xBF)
				return i;
		if (u[i] == 0xC2 && u[i + 1] <= 0x9F)
			return i;
		i += len;
	}
	return -1;
}

static void assert_inert(const char *what, const char *text)
{
	long at = first_active(text);
	if (at >= 0)
		fail_msg("%s: byte 0x%02x at offset %ld reaches the terminal raw:\n%s", what,
			 (unsigned char)text[at], at, text);
}

static void assert_shows(const char *what, const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("%s: expected to show %s, got:\n%s", what, needle, text);
}

static void test_status_one_cluster(void **state)
{
	put_cluster();
	script_get(NS_PATH "/demo", 200, CLUSTER);
	script_get(EVENTS_PATH, 200, EVENTS);
	struct run r;
	run_plugin(&r, NULL, (const char *const[]){"status", "demo", NULL});
	assert_inert("stdout", r.out);
	assert_inert("stderr", r.err);
	assert_int_equal(r.status, 0);
	assert_shows("version", r.out, "3.5.17" V_CLEAR);
	assert_shows("leader", r.out, "demo-0" V_TITLE);
	assert_shows("cluster id", r.out, "1484" V_CSI "2J");
	assert_shows("member", r.out, "demo-0" V_CLEAR);
	assert_shows("condition reason", r.out, "Quorum\\x1b[5m");
	assert_shows("condition message", r.out, "voters" V_TITLE " healthy " V_CSI "2J");
	assert_shows("step", r.out, "CatchUp" V_CLEAR);
	assert_shows("step message", r.out, "catching up\\rFAKE" V_CLEAR);
	assert_shows("event reason", r.out, "Evil" V_CLEAR);
	assert_shows("event message", r.out, "owned" V_TITLE V_CLEAR "\\x08\\x08" V_CSI "31m");
	assert_shows("warning", r.err, "Warning: deprecated " V_TITLE " " V_CLEAR "\n");
	run_free(&r);
}

static void test_status_table(void **state)
{
	put_cluster();
	struct run r;
	run_plugin(&r, NULL, (const char *const[]){"status", NULL});
	assert_inert("stdout", r.out);
	assert_inert("stderr", r.err);
	assert_int_equal(r.status, 0);
	assert_shows("version", r.out, "3.5.17" V_CLEAR);
	run_free(&r);
}

static void test_status_json_and_yaml(void **state)
{
	put_cluster();
	struct run r;
	run_plugin(&r, NULL, (const char *const[]){"status", "demo", "-o", "json", NULL});
	assert_inert("json", r.out);
	assert_int_equal(r.status, 0);
	assert_shows("json", r.out, "voters\\u001b]0;pwned\\u0007 healthy \\u009b2J");
	json_object *back = json_tokener_parse(r.out);
	assert_non_null(back); /* still JSON */
	json_object_put(back);
	run_free(&r);
	run_plugin(&r, NULL, (const char *const[]){"status", "demo", "-o", "yaml", NULL});
	assert_inert("yaml", r.out);
	assert_int_equal(r.status, 0);
	assert_shows("yaml", r.out, "voters\\e]0;pwned\\a healthy \\x9B2J");
	run_free(&r);
}

static void test_api_error_message(void **state)
{
	script_get(NS_PATH "/demo", 403,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":403,"
		   "\"reason\":\"Forbidden\",\"message\":\"denied" J_CLEAR J_TITLE "\"}");
	struct run r;
	run_plugin(&r, NULL, (const char *const[]){"status", "demo", "-o", "json", NULL});
	assert_inert("stdout", r.out);
	assert_inert("stderr", r.err);
	assert_int_equal(r.status, 1);
	assert_shows("error", r.err, "Error from server: denied");
	run_free(&r);
}

static void test_scale_step_in_flight(void **state)
{
	put_cluster();
	script_get(NS_PATH "/demo", 200, CLUSTER);
	struct run r;
	run_plugin(&r, NULL, (const char *const[]){"scale", "demo", "--replicas", "5", "--dry-run", NULL});
	assert_inert("stdout", r.out);
	assert_inert("stderr", r.err);
	assert_shows("step in flight", r.out, "CatchUp" V_CLEAR);
	assert_shows("step message", r.out, "catching up\\rFAKE" V_CLEAR);
	assert_shows("warning", r.err, "Warning: deprecated " V_TITLE);
	run_free(&r);
}

static void test_validate_file(void **state)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/evil.yaml", kube_fixture_srv.tls.dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("apiVersion: etcd.k8s-operator.io/v1alpha1\nkind: EtcdCluster\n"
	      "metadata:\n  name: \"evil\\e[2J\\e]0;pwned\\a\"\n  namespace: \"ns\\x9b\"\n"
	      "spec:\n  replicas: 4\n  version: \"3.5\\e[2J\"\n"
	      "---\napiVersion: v1\nkind: \"Config\\e[2J\"\nmetadata:\n  name: \"x\\r\"\n",
	      f);
	fclose(f);
	struct run r;
	run_plugin(&r, NULL, (const char *const[]){"validate", "-f", path, NULL});
	unlink(path);
	assert_inert("stdout", r.out);
	assert_inert("stderr", r.err);
	assert_shows("name", r.out, "evil" V_CLEAR V_TITLE);
	assert_shows("kind", r.out, "Config" V_CLEAR);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_status_one_cluster, kube_fixture_reset),
		cmocka_unit_test_setup(test_status_table, kube_fixture_reset),
		cmocka_unit_test_setup(test_status_json_and_yaml, kube_fixture_reset),
		cmocka_unit_test_setup(test_api_error_message, kube_fixture_reset),
		cmocka_unit_test_setup(test_scale_step_in_flight, kube_fixture_reset),
		cmocka_unit_test_setup(test_validate_file, kube_fixture_reset),
	};
	return cmocka_run_group_tests_name("plugin_escape", tests, setup, teardown);
}
