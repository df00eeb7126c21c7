/* Unit tests for shared/base/term.c (untrusted text made safe for a terminal) and
 * for log_q, which quotes with the same escapes: the sequences an Event
 * message could use on the terminal of whoever reads it (clear screen,
 * window title, carriage return, C1 CSI, bytes that are not UTF-8) come out
 * as visible escapes, and printable UTF-8 comes out as it went in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "log.h"
#include "term.h"

/* No byte a terminal acts on: C0, DEL, C1 (0xC2 0x80–0x9F), and only
 * well-formed UTF-8 (checked crudely: no lone continuation or bad lead). */
static bool inert(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; u[i]; i++) {
		if (u[i] < 0x20 || u[i] == 0x7F || u[i] == 0xFF || u[i] == 0xC0 || u[i] == 0xC1)
			return false;
		if (u[i] == 0xC2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F)
			return false;
	}
	return true;
}

static void expect_safe(const char *in, const char *want)
{
	char buf[256];
	assert_string_equal(term_safe(buf, sizeof(buf), in), want);
	assert_true(inert(buf));
	struct eo_buf b = {0};
	assert_int_equal(term_safe_append(&b, in, 0), 0);
	assert_string_equal(b.data, want);
	eo_buf_free(&b);
}

static void test_escape_sequences_become_visible(void **state)
{
	expect_safe("\x1b[2J", "\\x1b[2J");                            /* clear screen */
	expect_safe("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07");         /* window title */
	expect_safe("ok\rFAKE", "ok\\rFAKE");                          /* overwrite the line */
	expect_safe("a\bb\x7f", "a\\x08b\\x7f");                       /* backspace, DEL */
	expect_safe("one\ntwo\tthree", "one\\ntwo\\tthree");           /* one line stays one */
	expect_safe("\xc2\x9b" "2J", "\\u009b2J");                     /* C1 CSI in UTF-8 */
	expect_safe("\xc2\x80\xc2\x85", "\\u0080\\u0085");             /* first C1, NEL */
	expect_safe("\x9b" "2J", "\\x9b2J");                           /* 8-bit CSI, not UTF-8 */
	expect_safe("bad\xff\xfe", "bad\\xff\\xfe");
	expect_safe("\xc0\x9b", "\\xc0\\x9b");                         /* overlong ESC [ */
	expect_safe("\xe0\x80\x9b", "\\xe0\\x80\\x9b");                /* overlong CSI */
	expect_safe("\xed\xa0\x80", "\\xed\\xa0\\x80");                /* a surrogate */
	expect_safe("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");       /* past U+10FFFF */
	expect_safe("cut\xe2\x86", "cut\\xe2\\x86");                   /* truncated arrow */
}

static void test_printable_utf8_kept(void **state)
{
	expect_safe("", "");
	expect_safe(NULL, "");
	expect_safe("plain \"quoted\" back\\slash", "plain \"quoted\" back\\slash");
	expect_safe("Grüße → ✓ 🙂", "Grüße → ✓ 🙂");
	expect_safe("\xc2\xa0nbsp", "\xc2\xa0nbsp"); /* U+00A0, the first after C1 */
}

static void test_cut_between_pieces(void **state)
{
	char buf[8];
	/* "ab" + "\x1b" is 6 bytes; the next escape would not fit in 7. */
	assert_string_equal(term_safe(buf, sizeof(buf), "ab\x1b\x1b"), "ab\\x1b");
	assert_string_equal(term_safe(buf, 6, "abcd→"), "abcd"); /* not half an arrow */
	assert_string_equal(term_safe(buf, 1, "abc"), "");
	/* longer than one internal chunk of term_safe_append */
	char big[2000];
	memset(big, '\x1b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct eo_buf b = {0};
	assert_int_equal(term_safe_append(&b, big, 0), 0);
	assert_int_equal(b.len, 4 * (sizeof(big) - 1));
	assert_true(inert(b.data));
	eo_buf_free(&b);
}

static void test_piece_quote_flag(void **state)
{
	char piece[TERM_PIECE_MAX];
	assert_int_equal(term_piece("\"x", TERM_QUOTE, piece), 1);
	assert_string_equal(piece, "\\\"");
	assert_int_equal(term_piece("\\x", TERM_QUOTE, piece), 1);
	assert_string_equal(piece, "\\\\");
	assert_int_equal(term_piece("\"x", 0, piece), 1);
	assert_string_equal(piece, "\"");
	assert_int_equal(term_piece("→x", 0, piece), 3);
	assert_string_equal(piece, "→");
	assert_int_equal(term_piece("", 0, piece), 0);
	assert_string_equal(piece, "");
}

static void test_json_stays_json(void **state)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "m", json_object_new_string("a\x1b[2J\xc2\x9b\x7f\xff ü→"));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	struct eo_buf b = {0};
	assert_int_equal(term_json_append(&b, text), 0);
	assert_true(inert(b.data));
	assert_string_equal(b.data, "{\"m\":\"a\\u001b[2J\\u009b\\u007f\\ufffd ü→\"}");
	json_object *back = json_tokener_parse(b.data);
	assert_non_null(back);
	assert_string_equal(json_object_get_string(json_object_object_get(back, "m")),
			    "a\x1b[2J\xc2\x9b\x7f\xef\xbf\xbd ü→");
	json_object_put(back);
	/* whitespace between tokens (the pretty printer's) stays */
	eo_buf_free(&b);
	assert_int_equal(term_json_append(&b, "{\n\t\"k\": 1\r\n}"), 0);
	assert_string_equal(b.data, "{\n\t\"k\": 1\r\n}");
	json_object_put(o);
	eo_buf_free(&b);
}

static void test_log_q_escapes_controls(void **state)
{
	char buf[256];
	assert_string_equal(log_q(buf, sizeof(buf), "say \"hi\" \\ now"),
			    "\"say \\\"hi\\\" \\\\ now\"");
	assert_string_equal(log_q(buf, sizeof(buf), "x\x1b[2J\x1b]0;pwned\x07\r\n\t\xc2\x9b\xff ü"),
			    "\"x\\x1b[2J\\x1b]0;pwned\\x07\\r\\n\\t\\u009b\\xff ü\"");
	assert_true(inert(buf));
	/* cut to fit, never inside an escape, always closed */
	assert_string_equal(log_q(buf, 8, "ab\x1b"), "\"ab\"");
	assert_string_equal(log_q(buf, 3, "abc"), "\"\"");
}

static void test_log_line_is_one_inert_line(void **state)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	log_set_output(f);
	log_init("test", EO_LOG_DEBUG);
	char q[128];
	log_info("evil\x1b[2J\nmsg", "reason=%s raw=%s", log_q(q, sizeof(q), "a\nb\x07"),
		 "tok\x1b]0;x\x07\r");
	log_set_output(NULL);
	char text[1024];
	rewind(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_true(n > 0 && text[n - 1] == '\n');
	text[n - 1] = '\0';
	assert_true(inert(text)); /* one line: no other newline, no ESC, no BEL */
	assert_non_null(strstr(text, "msg=\"evil\\x1b[2J\\nmsg\""));
	assert_non_null(strstr(text, "reason=\"a\\nb\\x07\""));
	assert_non_null(strstr(text, "raw=tok\\x1b]0;x\\x07\\r"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_sequences_become_visible),
		cmocka_unit_test(test_printable_utf8_kept),
		cmocka_unit_test(test_cut_between_pieces),
		cmocka_unit_test(test_piece_quote_flag),
		cmocka_unit_test(test_json_stays_json),
		cmocka_unit_test(test_log_q_escapes_controls),
		cmocka_unit_test(test_log_line_is_one_inert_line),
	};
	return cmocka_run_group_tests_name("term", tests, NULL, NULL);
}
