/*
 * Unit tests for shared/base/yaml.c: core-schema typing, documents, lines,
 * errors with line and column, anchors/aliases/merge keys, the alias-bomb
 * bound, JSON input, and emitting YAML that parses back to the same value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "yamljson.h"

struct parsed {
	json_object **docs;
	size_t n;
};

static struct parsed parse_ok(const char *text)
{
	struct parsed p = {0};
	struct eo_err err = {0};
	if (yaml_parse_docs(text, strlen(text), "test.yaml", &p.docs, &p.n, &err) != 0)
		fail_msg("parse failed: %s", err.msg);
	return p;
}

/* Parse must fail with exactly this message. */
static void parse_fails(const char *text, const char *want)
{
	struct eo_err err = {0};
	json_object **docs = NULL;
	size_t n = 0;
	assert_int_equal(yaml_parse_docs(text, strlen(text), "test.yaml", &docs, &n, &err), -1);
	assert_null(docs);
	assert_int_equal(n, 0);
	assert_int_equal(err.code, EO_EPARSE);
	if (strcmp(err.msg, want) != 0)
		fail_msg("error \"%s\", wanted \"%s\"", err.msg, want);
}

static void test_scalar_types(void **state)
{
	struct parsed p = parse_ok("int: 42\nneg: -7\nplus: +3\nhex: 0x1F\noct: 0o17\nlead0: 017\n"
				   "float: 1.5\nexp: 1e3\ndot: .5\ninf: -.inf\nnan: .NaN\n"
				   "t: true\nT: True\nf: FALSE\nyes: yes\noff: off\n"
				   "n1: null\nn2: ~\nn3:\n"
				   "q1: \"3\"\nq2: 'true'\nq3: ''\ntagged: !!str 12\ntagint: !!int \"12\"\n"
				   "big: 123456789012345678901234567890\nver: 3.5.17\nip: 10.0.0.1\n"
				   "time: 2026-11-29T05:20:22Z\nstr: hello world\n1: numeric key\n");
	assert_int_equal(p.n, 1);
	json_object *o = p.docs[0];
	assert_int_equal(json_opt_int(o, "int", 0), 42);
	assert_int_equal(json_opt_int(o, "neg", 0), -7);
	assert_int_equal(json_opt_int(o, "plus", 0), 3);
	assert_int_equal(json_opt_int(o, "hex", 0), 31);
	assert_int_equal(json_opt_int(o, "oct", 0), 15);
	assert_int_equal(json_opt_int(o, "lead0", 0), 17); /* YAML 1.2: decimal */
	assert_true(json_object_is_type(json_at(o, "float"), json_type_double));
	assert_true(json_object_get_double(json_at(o, "float")) == 1.5);
	assert_true(json_object_get_double(json_at(o, "exp")) == 1000.0);
	assert_true(json_object_get_double(json_at(o, "dot")) == 0.5);
	assert_true(isinf(json_object_get_double(json_at(o, "inf"))));
	assert_true(isnan(json_object_get_double(json_at(o, "nan"))));
	assert_true(json_object_is_type(json_at(o, "t"), json_type_boolean));
	assert_true(json_opt_bool(o, "t", false));
	assert_true(json_opt_bool(o, "T", false));
	assert_false(json_opt_bool(o, "f", true));
	assert_string_equal(json_opt_str(o, "yes", ""), "yes"); /* 1.2 core: not a bool */
	assert_string_equal(json_opt_str(o, "off", ""), "off");
	json_object *v = (json_object *)1;
	assert_true(json_object_object_get_ex(o, "n1", &v) && v == NULL);
	assert_true(json_object_object_get_ex(o, "n2", &v) && v == NULL);
	assert_true(json_object_object_get_ex(o, "n3", &v) && v == NULL);
	assert_string_equal(json_opt_str(o, "q1", ""), "3");
	assert_string_equal(json_opt_str(o, "q2", ""), "true");
	assert_true(json_object_is_type(json_at(o, "q3"), json_type_string));
	assert_string_equal(json_opt_str(o, "tagged", ""), "12");
	assert_int_equal(json_opt_int(o, "tagint", 0), 12);
	assert_true(json_object_is_type(json_at(o, "big"), json_type_double));
	assert_string_equal(json_opt_str(o, "ver", ""), "3.5.17");
	assert_string_equal(json_opt_str(o, "ip", ""), "10.0.0.1");
	assert_string_equal(json_opt_str(o, "time", ""), "2026-11-29T05:20:22Z");
	assert_string_equal(json_opt_str(o, "str", ""), "hello world");
	assert_string_equal(json_opt_str(o, "[1]", ""), "numeric key");
	/* floats keep a short text for JSON */
	assert_string_equal(json_compact(json_at(o, "float")), "1.5");
	yaml_docs_free(p.docs, p.n);
	parse_fails("a: !!int twelve\n", "test.yaml:1:4: the value does not match its tag");
}

static void test_documents(void **state)
{
	struct parsed p = parse_ok("# leading comment\n---\na: 1\n---\n---\n# only a comment\n---\n"
				   "- x\n...\n--- plain\n---\n\"\"\n");
	assert_int_equal(p.n, 4); /* the two empty ones are skipped; "" is a string */
	assert_int_equal(json_opt_int(p.docs[0], "a", 0), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(p.docs[1], 0)), "x");
	assert_string_equal(json_object_get_string(p.docs[2]), "plain");
	assert_string_equal(json_object_get_string(p.docs[3]), "");
	yaml_docs_free(p.docs, p.n);
	p = parse_ok("---\nnull\n---\n~\n");
	assert_int_equal(p.n, 0); /* null documents count as empty */
	yaml_docs_free(p.docs, p.n);
	p = parse_ok("# nothing\n\n");
	assert_int_equal(p.n, 0);
	assert_null(p.docs);
	yaml_docs_free(p.docs, p.n);
	p = parse_ok("");
	assert_int_equal(p.n, 0);
}

static void test_lines(void **state)
{
	struct parsed p = parse_ok("apiVersion: v1\n"          /* 1 */
				   "kind: EtcdCluster\n"       /* 2 */
				   "spec:\n"                   /* 3 */
				   "  # a comment\n"           /* 4 */
				   "  replicas: 3\n"           /* 5 */
				   "  members:\n"              /* 6 */
				   "  - name: a\n"             /* 7 */
				   "    id: '12'\n"            /* 8 */
				   "---\n"                     /* 9 */
				   "other: {x: [1,\n"          /* 10 */
				   "  2]}\n");                 /* 11 */
	assert_int_equal(p.n, 2);
	json_object *o = p.docs[0];
	assert_int_equal(yaml_line_of(o), 1);
	assert_int_equal(yaml_line_of(json_at(o, "kind")), 2);
	assert_int_equal(yaml_line_of(json_at(o, "spec")), 5); /* a block mapping starts at its first key */
	assert_int_equal(yaml_line_of(json_at(o, "spec.replicas")), 5);
	assert_int_equal(yaml_line_of(json_at(o, "spec.members")), 7);
	assert_int_equal(yaml_line_of(json_at(o, "spec.members[0].id")), 8);
	assert_int_equal(yaml_line_of(json_at(p.docs[1], "other.x[1]")), 11);
	json_object *tmp = json_object_new_string("not parsed");
	assert_int_equal(yaml_line_of(tmp), 0);
	assert_int_equal(yaml_line_of(NULL), 0);
	json_object_put(tmp);
	/* a copy has no line, and the copy works (no userdata in the way) */
	json_object *copy = NULL;
	assert_int_equal(json_object_deep_copy(o, &copy, NULL), 0);
	assert_true(json_object_equal(copy, o));
	assert_int_equal(yaml_line_of(json_at(copy, "kind")), 0);
	json_object_put(copy);
	/* a document kept past yaml_docs_free stays valid, without lines */
	json_object *kept = json_object_get(p.docs[0]);
	yaml_docs_free(p.docs, p.n);
	assert_int_equal(yaml_line_of(kept), 0);
	assert_string_equal(json_opt_str(kept, "kind", ""), "EtcdCluster");
	json_object_put(kept);
}

static void test_errors_cite_line_and_column(void **state)
{
	parse_fails("a: 1\nb: c: d\n", "test.yaml:2:5: mapping values are not allowed in this context");
	parse_fails("a:\n  - x\n y: 2\n",
		    "test.yaml:3:2: did not find expected key (while parsing a block mapping)");
	parse_fails("a: [1, 2\n", "test.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence)");
	parse_fails("a: \"open\n", "test.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar)");
	parse_fails("a: 1\nb: 2\na: 3\n", "test.yaml:3:4: duplicate key \"a\"");
	parse_fails("a: *nope\n", "test.yaml:1:4: alias *nope names no anchor defined before it");
	parse_fails("? [a]\n: b\n", "test.yaml:1:3: a mapping key must be a scalar");
	parse_fails("x: 1\n<<: 3\n", "test.yaml:2:5: the merge key << needs a mapping or a list of mappings");
	parse_fails("a: b\n\tc: d\n", "test.yaml:2:1: found a tab character that violates indentation (while scanning a plain scalar)");
	/* a bad document after a good one fails the whole stream */
	parse_fails("a: 1\n---\nb: [\n", "test.yaml:4:1: did not find expected node content (while parsing a flow node)");
}

static void test_anchors_aliases_merge(void **state)
{
	struct parsed p = parse_ok("base: &base {image: etcd, port: 2379, ratio: 0.25}\n"
				   "one: *base\n"
				   "two:\n"
				   "  <<: *base\n"
				   "  port: 2380\n"
				   "three:\n"
				   "  name: x\n"
				   "  <<: [{a: 1, port: 1}, {a: 2, b: 2}]\n"
				   "list: &l [1, 2]\n"
				   "again: *l\n"
				   "s: &s text\n"
				   "t: *s\n"
				   "quoted: {\"<<\": literal}\n");
	json_object *o = p.docs[0];
	assert_true(json_object_equal(json_at(o, "one"), json_at(o, "base")));
	assert_ptr_not_equal(json_at(o, "one"), json_at(o, "base")); /* a copy, not shared */
	json_object_object_add(json_at(o, "one"), "image", json_object_new_string("changed"));
	assert_string_equal(json_opt_str(o, "base.image", ""), "etcd");
	assert_string_equal(json_opt_str(o, "two.image", ""), "etcd");
	assert_string_equal(json_compact(json_at(o, "two.ratio")), "0.25"); /* floats copy too */
	assert_int_equal(json_opt_int(o, "two.port", 0), 2380); /* explicit key wins */
	assert_int_equal(json_opt_int(o, "three.a", 0), 1);     /* earlier source wins */
	assert_int_equal(json_opt_int(o, "three.b", 0), 2);
	assert_int_equal(json_opt_int(o, "three.port", 0), 1);
	assert_null(json_at(o, "two.<<"));
	assert_int_equal(json_object_array_length(json_at(o, "again")), 2);
	assert_string_equal(json_opt_str(o, "t", ""), "text");
	assert_string_equal(json_opt_str(o, "quoted.<<", ""), "literal"); /* quoted: a plain key */
	assert_int_equal(yaml_line_of(json_at(o, "two.port")), 5);
	yaml_docs_free(p.docs, p.n);
}

static void test_alias_bomb_is_bounded(void **state)
{
	/* "billion laughs": 9 levels of 9 aliases, 9^9 strings if expanded */
	struct eo_buf b = {0};
	eo_buf_printf(&b, "l0: &l0 lol\n");
	for (int i = 1; i <= 9; i++) {
		eo_buf_printf(&b, "l%d: &l%d [", i, i);
		for (int j = 0; j < 9; j++)
			eo_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
		eo_buf_printf(&b, "]\n");
	}
	struct eo_err err;
	json_object **docs = NULL;
	size_t n = 0;
	assert_int_equal(yaml_parse_docs(b.data, b.len, "bomb.yaml", &docs, &n, &err), -1);
	assert_non_null(strstr(err.msg, "bomb.yaml:"));
	assert_non_null(strstr(err.msg, "alias bomb"));
	eo_buf_free(&b);

	/* nesting is bounded too (no C recursion to overflow) */
	eo_buf_printf(&b, "x: ");
	for (int i = 0; i < 5000; i++)
		eo_buf_append(&b, "[", 1);
	assert_int_equal(yaml_parse_docs(b.data, b.len, "deep.yaml", &docs, &n, &err), -1);
	assert_non_null(strstr(err.msg, "nesting deeper than 1000"));
	eo_buf_free(&b);

	/* ordinary reuse of anchors is well within the budget */
	eo_buf_printf(&b, "base: &b {a: 1, b: 2, c: [1, 2, 3]}\nitems:\n");
	for (int i = 0; i < 500; i++)
		eo_buf_printf(&b, "- *b\n");
	assert_int_equal(yaml_parse_docs(b.data, b.len, "ok.yaml", &docs, &n, &err), 0);
	assert_int_equal(json_object_array_length(json_at(docs[0], "items")), 500);
	yaml_docs_free(docs, n);
	eo_buf_free(&b);
}

static void test_json_is_yaml(void **state)
{
	struct parsed p = parse_ok("{\"a\":[1,2.5,{\"b\":null}],\"c\":\"x\",\"d\":true,\"e\":\"3\"}");
	assert_string_equal(json_compact(p.docs[0]),
			    "{\"a\":[1,2.5,{\"b\":null}],\"c\":\"x\",\"d\":true,\"e\":\"3\"}");
	yaml_docs_free(p.docs, p.n);
	/* JSON's duplicate keys are refused like YAML's, not last-one-wins */
	parse_fails("{\"a\": 1, \"a\": 2}", "test.yaml:1:15: duplicate key \"a\"");
	/* tab indentation is fine in JSON, not in YAML's block context */
	p = parse_ok("{\n\t\"spec\": {\n\t\t\"replicas\": 3\n\t}\n}\n");
	assert_int_equal(json_opt_int(p.docs[0], "spec.replicas", 0), 3);
	yaml_docs_free(p.docs, p.n);
}

/* ---- emitting ---------------------------------------------------------------- */

static char *emit(json_object *o)
{
	struct eo_buf b = {0};
	struct eo_err err;
	if (yaml_emit(o, &b, &err) != 0)
		fail_msg("emit: %s", err.msg);
	return eo_buf_steal(&b);
}

static void test_emit_like_kubectl(void **state)
{
	static const char *const quoted[] = {"3", "-1.5", "true", "null", "~", "", "yes", "Off",
					     "1_000", "1:20", "0b11", "<<", ".inf"};
	static const char *const plain[] = {"3.5.17", "10.0.0.1", "hello", "v1", "1.2.3-rc.1",
					    "etcd.k8s-operator.io/target-replicas", "0xg"};
	for (size_t i = 0; i < EO_ARRAY_LEN(quoted); i++)
		if (!yaml_str_needs_quotes(quoted[i], strlen(quoted[i])))
			fail_msg("\"%s\" should need quotes", quoted[i]);
	for (size_t i = 0; i < EO_ARRAY_LEN(plain); i++)
		if (yaml_str_needs_quotes(plain[i], strlen(plain[i])))
			fail_msg("\"%s\" should not need quotes", plain[i]);
	struct eo_err err;
	const char *js = "{\"apiVersion\":\"etcd.k8s-operator.io/v1alpha1\",\"kind\":\"EtcdCluster\","
			 "\"metadata\":{\"name\":\"demo\",\"labels\":{},\"annotations\":"
			 "{\"etcd.k8s-operator.io/target-replicas\":\"3\"}},"
			 "\"spec\":{\"replicas\":1,\"version\":\"3.5.17\",\"ratio\":0.5,\"on\":true,"
			 "\"policy\":\"yes\",\"time\":\"1:20\",\"id\":\"1_000\","
			 "\"nothing\":null,\"empty\":[],\"members\":[{\"name\":\"a\",\"learner\":false},"
			 "\"plain\",[1,2]]}}";
	json_object *o = json_parse(js, strlen(js), &err);
	assert_non_null(o);
	char *y = emit(o);
	assert_string_equal(y, "apiVersion: etcd.k8s-operator.io/v1alpha1\n"
			       "kind: EtcdCluster\n"
			       "metadata:\n"
			       "  name: demo\n"
			       "  labels: {}\n"
			       "  annotations:\n"
			       "    etcd.k8s-operator.io/target-replicas: \"3\"\n"
			       "spec:\n"
			       "  replicas: 1\n"
			       "  version: 3.5.17\n"
			       "  ratio: 0.5\n"
			       "  \"on\": true\n"
			       "  policy: \"yes\"\n"
			       "  time: \"1:20\"\n"
			       "  id: \"1_000\"\n"
			       "  nothing: null\n"
			       "  empty: []\n"
			       "  members:\n"
			       "  - name: a\n"
			       "    learner: false\n"
			       "  - plain\n"
			       "  - - 1\n"
			       "    - 2\n");
	free(y);
	json_object_put(o);
}

static void test_emit_round_trip(void **state)
{
	static const char *strings[] = {
		"3", "-3", "0x10", "0o7", "1e3", ".5", ".inf", ".nan", "true", "False", "null", "~", "",
		"yes", "no", "on", "<<", "- x", "-", ": x", "a: b", "a #b", "#x", "x#y", "@at", "`tick",
		"%pct", "!bang", "&amp", "*star", "{brace", "[bracket", "|pipe", ">gt", "'sq", "\"dq",
		" lead", "trail ", "two\nlines", "ends with newline\n", "\n", "tab\there", "ctrl\x01",
		"über ✓", "3.5.17", "2026-11-29T05:20:22Z", "---", "...", "a\\b", "key: \"value\"",
		"cr\rhere", "nel\xc2\x85here", "ls\xe2\x80\xa8here", "trailing space \nnext", " \n ",
		"\ttab first", "last\t", "'", "\"", "?", "? x", "x:", ",comma", "= eq", "0", "-0", "+1",
		"1_000", "0b101", "1:20", "Yes", "NULL", "-.inf", ".Inf",
	};
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < EO_ARRAY_LEN(strings); i++) {
		json_object_array_add(arr, json_object_new_string(strings[i]));
		json_object_object_add(o, strings[i], json_object_new_int((int)i)); /* as keys too */
	}
	json_object_object_add(o, "values", arr);
	json_object_object_add(o, "nul", json_object_new_string_len("a\0b", 3));
	json_object_object_add(o, "int", json_object_new_int64(-9007199254740993LL));
	json_object_object_add(o, "double", json_object_new_double(2.0));
	json_object_object_add(o, "tiny", json_object_new_double(1e-300));
	char longs[400];
	for (size_t i = 0; i < sizeof(longs) - 1; i++)
		longs[i] = i % 7 == 6 ? ' ' : 'a' + (char)(i % 26);
	longs[sizeof(longs) - 1] = '\0';
	json_object_object_add(o, "long", json_object_new_string(longs));
	char *y = emit(o);
	assert_non_null(strstr(y, longs)); /* not folded: kubectl prints long lines whole */
	struct parsed p = parse_ok(y);
	assert_int_equal(p.n, 1);
	if (!json_object_equal(p.docs[0], o))
		fail_msg("round trip differs:\n%s\n-> %s", y, json_compact(p.docs[0]));
	assert_true(json_object_is_type(json_at(p.docs[0], "double"), json_type_double));
	free(y);
	yaml_docs_free(p.docs, p.n);
	json_object_put(o);

	/* scalars at the top, and an empty mapping */
	json_object *s = json_object_new_string("true");
	y = emit(s);
	p = parse_ok(y);
	assert_true(json_object_equal(p.docs[0], s));
	free(y);
	yaml_docs_free(p.docs, p.n);
	json_object_put(s);
	json_object *e = json_object_new_object();
	y = emit(e);
	assert_string_equal(y, "{}\n");
	free(y);
	json_object_put(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_errors_cite_line_and_column),
		cmocka_unit_test(test_anchors_aliases_merge),
		cmocka_unit_test(test_alias_bomb_is_bounded),
		cmocka_unit_test(test_json_is_yaml),
		cmocka_unit_test(test_emit_like_kubectl),
		cmocka_unit_test(test_emit_round_trip),
	};
	return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
