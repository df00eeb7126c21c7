/* Unit tests for the plugin's command line (plugin/flags.c and the commands'
 * parsers): kubectl's syntax for global flags after the command, values with
 * and without '=', grouped short flags, durations, refusals in kubectl's
 * words, and the formats the views use (sizes, ages). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/plugin.h"
#include "../../plugin/render.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define SCALE(o, err, ...) scale_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, &help, err)
#define STATUS(o, err, ...) status_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, &help, err)
#define VALIDATE(o, err, ...) validate_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), o, &help, err)

static void test_scale_values_both_ways(void **state)
{
	(void)state;
	struct scale_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3"), 0);
	assert_string_equal(o.name, "demo");
	assert_int_equal(o.replicas, 3);
	assert_false(o.yes);
	assert_null(o.dry_run);
	assert_int_equal(o.timeout_ms, 30 * 60 * 1000);
	assert_int_equal(o.step_timeout_ms, 5 * 60 * 1000);

	assert_int_equal(SCALE(&o, &err, "--replicas=5", "-n", "team-a", "demo", "-y"), 0);
	assert_int_equal(o.replicas, 5);
	assert_string_equal(o.g.namespace, "team-a");
	assert_true(o.yes);
	assert_string_equal(o.name, "demo");

	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "-nteam-b"), 0);
	assert_string_equal(o.g.namespace, "team-b");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "-n=team-c"), 0);
	assert_string_equal(o.g.namespace, "team-c");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "--namespace=team-d",
			       "--kubeconfig", "/k", "--context=ctx", "--cluster", "c", "--user=u",
			       "--token", "t0k", "--server=https://x:6443",
			       "--insecure-skip-tls-verify", "--request-timeout", "5s"), 0);
	assert_string_equal(o.g.namespace, "team-d");
	assert_string_equal(o.g.kubeconfig, "/k");
	assert_string_equal(o.g.context, "ctx");
	assert_string_equal(o.g.cluster, "c");
	assert_string_equal(o.g.user, "u");
	assert_string_equal(o.g.token, "t0k");
	assert_string_equal(o.g.server, "https://x:6443");
	assert_true(o.g.insecure);
	assert_int_equal(o.g.request_timeout_ms, 5000);
}

static void test_verbosity_forms(void **state)
{
	(void)state;
	struct scale_opts o;
	struct eo_err err;
	bool help;
	const char *forms[][2] = {{"-v", "4"}, {"--v", "6"}};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", (char *)forms[i][0],
				       (char *)forms[i][1]), 0);
		assert_int_equal(o.g.verbosity, i ? 6 : 4);
	}
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "-v=3"), 0);
	assert_int_equal(o.g.verbosity, 3);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "--v=9"), 0);
	assert_int_equal(o.g.verbosity, 9);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "-v2"), 0);
	assert_int_equal(o.g.verbosity, 2);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "-v", "loud"), -1);
	assert_non_null(strstr(err.msg, "invalid argument \"loud\" for \"-v\" flag"));
}

static void test_request_timeout_syntax(void **state)
{
	(void)state;
	struct scale_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "--request-timeout=1m"), 0);
	assert_int_equal(o.g.request_timeout_ms, 60000);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "--request-timeout", "0"), 0);
	assert_int_equal(o.g.request_timeout_ms, 0);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "--request-timeout", "7"), 0);
	assert_int_equal(o.g.request_timeout_ms, 7000);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "1", "--request-timeout", "soon"), -1);
	assert_non_null(strstr(err.msg, "--request-timeout"));
	assert_non_null(strstr(err.msg, "expected a duration"));
}

static void test_scale_mistakes(void **state)
{
	(void)state;
	struct scale_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--as", "bob"), -1);
	assert_non_null(strstr(err.msg, "--as is not supported"));
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--as=bob"), -1);
	assert_non_null(strstr(err.msg, "--as is not supported"));
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--as-group=ops"), -1);
	assert_non_null(strstr(err.msg, "--as-group is not supported"));
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--bogus"), -1);
	assert_string_equal(err.msg, "unknown flag: --bogus");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "-x"), -1);
	assert_string_equal(err.msg, "unknown shorthand flag: 'x' in -x");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas"), -1);
	assert_string_equal(err.msg, "flag needs an argument: --replicas");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "-n"), -1);
	assert_string_equal(err.msg, "flag needs an argument: -n");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "three"), -1);
	assert_non_null(strstr(err.msg, "invalid argument \"three\" for \"--replicas\""));
	assert_int_equal(SCALE(&o, &err, "demo"), -1);
	assert_non_null(strstr(err.msg, "--replicas N is required"));
	assert_int_equal(SCALE(&o, &err, "--replicas", "3"), -1);
	assert_non_null(strstr(err.msg, "needs the NAME"));
	assert_int_equal(SCALE(&o, &err, "a", "b", "--replicas", "3"), -1);
	assert_non_null(strstr(err.msg, "one cluster NAME, got 2"));
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "-A"), -1);
	assert_non_null(strstr(err.msg, "-A/--all-namespaces"));
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--yes=maybe"), -1);
	assert_non_null(strstr(err.msg, "expected true or false"));
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--step-timeout", "0"), -1);
	assert_non_null(strstr(err.msg, "longer than 0"));
}

static void test_scale_dry_run_and_booleans(void **state)
{
	(void)state;
	struct scale_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--dry-run"), 0);
	assert_string_equal(o.dry_run, "client");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--dry-run=server"), 0);
	assert_string_equal(o.dry_run, "server");
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--dry-run=none"), 0);
	assert_null(o.dry_run);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--dry-run=later"), -1);
	assert_non_null(strstr(err.msg, "invalid --dry-run \"later\""));
	/* pflag: a bare --dry-run takes no value, so the next word is an argument */
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--dry-run", "server"), -1);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--yes=false", "--take-over"), 0);
	assert_false(o.yes);
	assert_true(o.take_over);
	assert_int_equal(SCALE(&o, &err, "demo", "--replicas", "3", "--timeout", "90s",
			       "--step-timeout=1m30s"), 0);
	assert_int_equal(o.timeout_ms, 90000);
	assert_int_equal(o.step_timeout_ms, 90000);
	/* "--" ends the flags: a name that starts with a dash is an argument */
	assert_int_equal(SCALE(&o, &err, "--replicas", "3", "--", "-odd"), 0);
	assert_string_equal(o.name, "-odd");
	assert_int_equal(SCALE(&o, &err, "--help"), 0);
	assert_true(help);
	assert_int_equal(SCALE(&o, &err, "demo", "-h"), 0);
	assert_true(help);
}

static void test_status_parse(void **state)
{
	(void)state;
	struct status_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(STATUS(&o, &err, "demo", "-o", "json"), 0);
	assert_string_equal(o.output, "json");
	assert_string_equal(o.name, "demo");
	assert_int_equal(STATUS(&o, &err, "-ojson"), 0);
	assert_string_equal(o.output, "json");
	assert_null(o.name);
	assert_int_equal(STATUS(&o, &err, "-o=yaml", "--watch"), 0);
	assert_string_equal(o.output, "yaml");
	assert_true(o.watch);
	assert_int_equal(STATUS(&o, &err, "-Aw"), 0); /* grouped booleans */
	assert_true(o.g.all_namespaces);
	assert_true(o.watch);
	assert_int_equal(STATUS(&o, &err, "--all-namespaces", "--no-color"), 0);
	assert_true(o.g.all_namespaces);
	assert_true(o.g.no_color);
	assert_int_equal(STATUS(&o, &err, "-o", "wide"), 0); /* as kubectl get (issue 14) */
	assert_string_equal(o.output, "wide");
	assert_int_equal(STATUS(&o, &err, "-oname"), 0);
	assert_string_equal(o.output, "name");
	assert_int_equal(STATUS(&o, &err, "-o", "xml"), -1);
	assert_non_null(strstr(err.msg, "unknown output format \"xml\""));
	assert_int_equal(STATUS(&o, &err, "-o", "jsonpath={.status.phase}"), 0);
	assert_string_equal(o.jsonpath, "{.status.phase}");
	assert_int_equal(STATUS(&o, &err, "-o", "jsonpath"), -1);
	assert_non_null(strstr(err.msg, "no template given"));
	assert_int_equal(STATUS(&o, &err, "-o", "jsonpath={range .items[*]}{.x}{end}"), -1);
	assert_non_null(strstr(err.msg, "not supported"));
	assert_int_equal(STATUS(&o, &err, "demo", "-A"), -1);
	assert_non_null(strstr(err.msg, "all namespaces"));
	assert_int_equal(STATUS(&o, &err, "a", "b"), -1);
	assert_non_null(strstr(err.msg, "at most one"));
}

static void test_validate_parse(void **state)
{
	(void)state;
	struct validate_opts o;
	struct eo_err err;
	bool help;
	assert_int_equal(VALIDATE(&o, &err, "-f", "a.yaml", "--filename=b.yaml", "--old", "c.yaml",
				  "-fd.json"), 0);
	assert_int_equal(o.files.n, 3);
	assert_string_equal(o.files.v[0], "a.yaml");
	assert_string_equal(o.files.v[1], "b.yaml");
	assert_string_equal(o.files.v[2], "d.json");
	assert_int_equal(o.old.n, 1);
	assert_int_equal(VALIDATE(&o, &err, "-f", "-"), 0);
	assert_string_equal(o.files.v[0], "-");
	assert_int_equal(VALIDATE(&o, &err, "-f", "-", "--old", "-"), -1);
	assert_non_null(strstr(err.msg, "only once"));
	assert_int_equal(VALIDATE(&o, &err, "-n", "x"), -1);
	assert_non_null(strstr(err.msg, "-f FILE is required"));
	assert_int_equal(VALIDATE(&o, &err, "a.yaml"), -1);
	assert_non_null(strstr(err.msg, "name files with -f"));
}

static void test_lookup_and_values(void **state)
{
	(void)state;
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = pl_command_flags("scale", flags, CLI_MAX_FLAGS);
	assert_true(n > 10);
	const struct cli_flag *f = cli_flag_lookup("--namespace=x", flags, n);
	assert_non_null(f);
	assert_string_equal(f->name, "namespace");
	assert_ptr_equal(cli_flag_lookup("-n", flags, n), f);
	assert_true(cli_flag_takes_value(f));
	f = cli_flag_lookup("--dry-run", flags, n);
	assert_non_null(f);
	assert_false(cli_flag_takes_value(f)); /* only with '=' */
	assert_null(cli_flag_lookup("--nope", flags, n));
	assert_null(cli_flag_lookup("plain", flags, n));
	assert_int_equal(pl_command_flags("nope", flags, CLI_MAX_FLAGS), 0);
}

static void test_human_formats(void **state)
{
	(void)state;
	char b[32];
	pl_human_bytes(0, b, sizeof(b));
	assert_string_equal(b, "0 B");
	pl_human_bytes(1023, b, sizeof(b));
	assert_string_equal(b, "1023 B");
	pl_human_bytes(20480, b, sizeof(b));
	assert_string_equal(b, "20 KiB");
	pl_human_bytes(1572864, b, sizeof(b));
	assert_string_equal(b, "1.5 MiB");
	pl_human_bytes(3LL << 30, b, sizeof(b));
	assert_string_equal(b, "3.0 GiB");
	struct {
		int64_t s;
		const char *out;
	} ages[] = {{0, "0s"},         {119, "119s"},      {120, "2m"},     {200, "3m20s"},
		    {600, "10m"},      {7200, "120m"},     {3 * 3600, "3h"}, {3 * 3600 + 300, "3h5m"},
		    {30 * 3600, "30h"}, {3 * 86400 + 7200, "3d2h"}, {20 * 86400, "20d"},
		    {3 * 365 * 86400, "3y"}, {-1, "<unknown>"}};
	for (size_t i = 0; i < sizeof(ages) / sizeof(ages[0]); i++) {
		pl_human_age(ages[i].s, b, sizeof(b));
		assert_string_equal(b, ages[i].out);
	}
	pl_age_of("2026-01-01T00:00:00Z", 1767225600 + 45, b, sizeof(b));
	assert_string_equal(b, "45s");
	pl_age_of("yesterday", 0, b, sizeof(b));
	assert_string_equal(b, "<unknown>");
	assert_int_equal(pl_text_width("1 \xe2\x86\x92 2"), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_values_both_ways),
		cmocka_unit_test(test_verbosity_forms),
		cmocka_unit_test(test_request_timeout_syntax),
		cmocka_unit_test(test_scale_mistakes),
		cmocka_unit_test(test_scale_dry_run_and_booleans),
		cmocka_unit_test(test_status_parse),
		cmocka_unit_test(test_validate_parse),
		cmocka_unit_test(test_lookup_and_values),
		cmocka_unit_test(test_human_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
