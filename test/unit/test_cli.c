/*
 * Unit tests for the one command-line layer (shared/base/cli.c) beyond the
 * plugin's use of it (test_plugin_flags.c): ranges of integers and
 * durations, fixed buffers; and the one duration grammar and printer
 * (shared/base/duration.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "duration.h"

struct opts {
	int64_t workers, timeout_ms;
	char name[8];
	bool on;
};

static int parse(struct opts *o, int argc, char **argv, struct eo_err *err)
{
	const struct cli_flag flags[] = {
		CLI_RANGE("workers", CLI_INT, &o->workers, 1, 64, "N", "workers"),
		CLI_RANGE("step-timeout", CLI_DURATION, &o->timeout_ms, 1000, 3600000, "DUR", "timeout"),
		CLI_BUF("name", o->name, "NAME", "a short name"),
		CLI_FLAG("on", 0, CLI_BOOL, &o->on, NULL, "switch"),
	};
	struct cli_parsed p;
	memset(err, 0, sizeof(*err));
	return cli_parse(argc, argv, flags, EO_ARRAY_LEN(flags), &p, err);
}

static void test_ranges_and_buffers(void **state)
{
	struct opts o = {0};
	struct eo_err err;
	char *ok[] = {"--workers", "64", "--step-timeout=1m30s", "--name", "abcdefg", "--on=false"};
	assert_int_equal(parse(&o, 6, ok, &err), 0);
	assert_int_equal(o.workers, 64);
	assert_int_equal(o.timeout_ms, 90000);
	assert_string_equal(o.name, "abcdefg");
	assert_false(o.on);

	static const struct {
		char *argv[2];
		const char *msg;
	} bad[] = {
		{{"--workers", "0"}, "invalid argument \"0\" for \"--workers\" flag: want 1 to 64"},
		{{"--workers", "65"}, "want 1 to 64"},
		{{"--workers", "two"}, "expected an integer"},
		{{"--step-timeout", "500ms"}, "invalid argument \"500ms\" for \"--step-timeout\" flag: want 1.0s to 1h0m0s"},
		{{"--step-timeout", "soon"}, "expected a duration such as 30s"},
		{{"--name", "abcdefgh"}, "longer than 7 characters"},
		{{"--nmae", "x"}, "unknown flag: --nmae"},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(bad); i++) {
		struct opts b = {0};
		char *argv[2] = {bad[i].argv[0], bad[i].argv[1]};
		assert_int_equal(parse(&b, 2, argv, &err), -1);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("%s %s: \"%s\" lacks \"%s\"", argv[0], argv[1], err.msg, bad[i].msg);
	}
	char *missing[] = {"--workers"};
	assert_int_equal(parse(&o, 1, missing, &err), -1);
	assert_string_equal(err.msg, "flag needs an argument: --workers");
}

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		int64_t ms; /* -1: refused */
	} cases[] = {{"30", 30000},  {"+5", 5000},    {"500ms", 500},  {"1m30s", 90000},
		     {"1.5h", 5400000}, {"2h45m", 9900000}, {"0", 0},   {"-1s", -1},
		     {"", -1},       {"5x", -1},      {"m", -1},       {"1.5.2s", -1},
		     {"2h3m4s", 7384000}, {"1500us", 2}, {"0s", 0},    {"-5", -1},
		     {"5 s", -1},    {"1..5s", -1},   {"abc", -1}};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		int64_t ms = -2;
		int rc = dur_parse(cases[i].in, &ms);
		if (cases[i].ms < 0)
			assert_int_equal(rc, -1);
		else if (rc != 0 || ms != cases[i].ms)
			fail_msg("\"%s\": rc %d, %lld ms (want %lld)", cases[i].in, rc, (long long)ms,
				 (long long)cases[i].ms);
	}
	char t[32];
	dur_text(250, t, sizeof(t));
	assert_string_equal(t, "250ms");
	dur_text(4200, t, sizeof(t));
	assert_string_equal(t, "4.2s");
	dur_text(300000, t, sizeof(t));
	assert_string_equal(t, "5m0s");
	dur_text(3723000, t, sizeof(t));
	assert_string_equal(t, "1h2m3s");
	dur_text(-5, t, sizeof(t));
	assert_string_equal(t, "0ms");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_and_buffers),
		cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
