/* Unit tests for certs/inject.c: caBundle lands in every webhook of both
 * configuration kinds, whatever the layout, and every other byte of the
 * stream comes through unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../certs/certs.h"
#include "json.h"
#include "yamljson.h"

#define B64 "Q0FCVU5ETEU="

/* Inject and return the output (malloc'd); asserts success and the count. */
static char *inject_ok(const char *in, int want_hooks)
{
	struct eo_buf out = {0};
	struct eo_err err = {0};
	int n = -1;
	int rc = certs_inject(in, strlen(in), "t.yaml", B64, &out, &n, &err);
	if (rc != 0)
		fail_msg("certs_inject: %s", err.msg);
	assert_int_equal(n, want_hooks);
	return out.data ? eo_buf_steal(&out) : strdup("");
}

static void expect(const char *in, const char *want, int want_hooks)
{
	char *got = inject_ok(in, want_hooks);
	assert_string_equal(got, want);
	free(got);
}

static void test_block_insert_keeps_indentation(void **state)
{
	expect("kind: ValidatingWebhookConfiguration\n"
	       "webhooks:\n"
	       "  - name: a # first\n"
	       "    clientConfig:\n"
	       "      service:\n"
	       "        name: s\n",
	       "kind: ValidatingWebhookConfiguration\n"
	       "webhooks:\n"
	       "  - name: a # first\n"
	       "    clientConfig:\n"
	       "      caBundle: " B64 "\n"
	       "      service:\n"
	       "        name: s\n",
	       1);
	/* sequences not indented under their key, as kubectl prints them */
	expect("kind: MutatingWebhookConfiguration\nwebhooks:\n- clientConfig:\n    url: https://x\n  name: a\n",
	       "kind: MutatingWebhookConfiguration\nwebhooks:\n- clientConfig:\n    caBundle: " B64
	       "\n    url: https://x\n  name: a\n",
	       1);
}

static void test_existing_values_replaced(void **state)
{
	const char *cases[][2] = {
		{"    caBundle: OLD\n", "    caBundle: " B64 "\n"},
		{"    caBundle: \"\"\n", "    caBundle: \"" B64 "\"\n"},
		{"    caBundle: 'x'   # keep me\n", "    caBundle: '" B64 "'   # keep me\n"},
		{"    caBundle:\n", "    caBundle: " B64 "\n"},
		{"    caBundle: null\n", "    caBundle: " B64 "\n"},
		{"    caBundle: |\n      OLD\n      OLDER\n", "    caBundle: " B64 "\n"},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		char *in = eo_strdupf("kind: MutatingWebhookConfiguration\nwebhooks:\n- name: a\n  clientConfig:\n"
				      "%s    service: {name: s}\n",
				      cases[i][0]);
		char *want = eo_strdupf("kind: MutatingWebhookConfiguration\nwebhooks:\n- name: a\n  clientConfig:\n"
					"%s    service: {name: s}\n",
					cases[i][1]);
		expect(in, want, 1);
		free(in);
		free(want);
	}
}

static void test_flow_styles(void **state)
{
	expect("kind: ValidatingWebhookConfiguration\nwebhooks: [{name: a, clientConfig: {service: {name: s}}}]\n",
	       "kind: ValidatingWebhookConfiguration\nwebhooks: [{name: a, clientConfig: {caBundle: " B64
	       ", service: {name: s}}}]\n",
	       1);
	/* JSON is YAML: a kubectl -o json dump works too */
	expect("{\"kind\":\"ValidatingWebhookConfiguration\",\"webhooks\":[{\"name\":\"a\","
	       "\"clientConfig\":{\"caBundle\":\"OLD\",\"url\":\"https://x\"}}]}",
	       "{\"kind\":\"ValidatingWebhookConfiguration\",\"webhooks\":[{\"name\":\"a\","
	       "\"clientConfig\":{\"caBundle\":\"" B64 "\",\"url\":\"https://x\"}}]}",
	       1);
	expect("{\"kind\":\"MutatingWebhookConfiguration\",\"webhooks\":[{\"name\":\"a\","
	       "\"clientConfig\":{\"url\":\"https://x\"}}]}",
	       "{\"kind\":\"MutatingWebhookConfiguration\",\"webhooks\":[{\"name\":\"a\","
	       "\"clientConfig\":{\"caBundle\":\"" B64 "\",\"url\":\"https://x\"}}]}",
	       1);
	expect("kind: MutatingWebhookConfiguration\nwebhooks:\n- clientConfig: &cc {}\n  name: a\n",
	       "kind: MutatingWebhookConfiguration\nwebhooks:\n- clientConfig: &cc {caBundle: " B64 "}\n  name: a\n",
	       1);
}

static void test_everything_else_byte_for_byte(void **state)
{
	const char *other =
		"# a Deployment with what a data-model round trip would change\n"
		"apiVersion: apps/v1\n"
		"kind: Deployment   # é, §, —: counted as characters by libyaml\n"
		"metadata: {name: x, annotations: {a: \"yes\", b: '3.10'}}\n"
		"spec:\n"
		"  template:\n"
		"    spec:\n"
		"      volumes:\n"
		"        - secret: {defaultMode: 0440}\n"
		"      containers: [ {name: c,   image: \"i\"} ]\n";
	const char *hooks = "---\n"
			    "kind: MutatingWebhookConfiguration # ünïcode before the edit\n"
			    "webhooks:\n"
			    "  - name: one\n"
			    "    clientConfig:\n"
			    "      service: {name: s, namespace: n}\n"
			    "  - name: two\n"
			    "    clientConfig:\n"
			    "      caBundle: OLD\n"
			    "---\n"
			    "kind: ValidatingWebhookConfiguration\n"
			    "webhooks:\n"
			    "  - name: three\n"
			    "    clientConfig:\n"
			    "      url: https://h\n";
	char *in = eo_strdupf("%s%s---\n%s", other, hooks, other);
	char *got = inject_ok(in, 3);
	/* the Deployment, before and after, exactly as it was */
	assert_memory_equal(got, other, strlen(other));
	assert_string_equal(got + strlen(got) - strlen(other), other);
	/* and the hooks with exactly three edits */
	char *want_hooks = eo_strdupf("---\n"
				      "kind: MutatingWebhookConfiguration # ünïcode before the edit\n"
				      "webhooks:\n"
				      "  - name: one\n"
				      "    clientConfig:\n"
				      "      caBundle: %s\n"
				      "      service: {name: s, namespace: n}\n"
				      "  - name: two\n"
				      "    clientConfig:\n"
				      "      caBundle: %s\n"
				      "---\n"
				      "kind: ValidatingWebhookConfiguration\n"
				      "webhooks:\n"
				      "  - name: three\n"
				      "    clientConfig:\n"
				      "      caBundle: %s\n"
				      "      url: https://h\n",
				      B64, B64, B64);
	assert_non_null(strstr(got, want_hooks));
	assert_int_equal(strlen(got), strlen(in) + strlen(want_hooks) - strlen(hooks));
	free(want_hooks);
	free(got);
	free(in);
}

static void test_lists_aliases_and_bom(void **state)
{
	/* kubectl get -o yaml gives a List */
	expect("apiVersion: v1\nkind: List\nitems:\n"
	       "- kind: ValidatingWebhookConfiguration\n  webhooks:\n  - name: a\n    clientConfig:\n      url: u\n",
	       "apiVersion: v1\nkind: List\nitems:\n"
	       "- kind: ValidatingWebhookConfiguration\n  webhooks:\n  - name: a\n    clientConfig:\n      caBundle: " B64
	       "\n      url: u\n",
	       1);
	/* one clientConfig shared through an alias is edited once */
	expect("kind: ValidatingWebhookConfiguration\nwebhooks:\n"
	       "- name: a\n  clientConfig: &cc\n    url: u\n- name: b\n  clientConfig: *cc\n",
	       "kind: ValidatingWebhookConfiguration\nwebhooks:\n"
	       "- name: a\n  clientConfig: &cc\n    caBundle: " B64 "\n    url: u\n- name: b\n  clientConfig: *cc\n",
	       2);
	expect("\xEF\xBB\xBFkind: ValidatingWebhookConfiguration\nwebhooks:\n- clientConfig:\n    url: u\n",
	       "\xEF\xBB\xBFkind: ValidatingWebhookConfiguration\nwebhooks:\n- clientConfig:\n    caBundle: " B64
	       "\n    url: u\n",
	       1);
	/* nothing to do: the stream comes back as it was, count 0 */
	expect("kind: Service\n# just a comment\n", "kind: Service\n# just a comment\n", 0);
	expect("", "", 0);
}

static void test_errors_name_the_place(void **state)
{
	struct eo_buf out = {0};
	struct eo_err err = {0};
	int n;
	const char *bad = "kind: ValidatingWebhookConfiguration\nwebhooks:\n- name: a\n  clientConfig: [x]\n";
	assert_int_equal(certs_inject(bad, strlen(bad), "hooks.yaml", B64, &out, &n, &err), -1);
	assert_non_null(strstr(err.msg, "hooks.yaml:4:17: a webhook needs a clientConfig mapping (webhooks[0])"));
	const char *none = "kind: MutatingWebhookConfiguration\nwebhooks:\n- name: a\n";
	assert_int_equal(certs_inject(none, strlen(none), "m.yaml", B64, &out, &n, &err), -1);
	assert_non_null(strstr(err.msg, "m.yaml:3:3: a webhook needs a clientConfig mapping"));
	const char *notyaml = "kind: x\n  - : : [\n";
	assert_int_equal(certs_inject(notyaml, strlen(notyaml), "x.yaml", B64, &out, &n, &err), -1);
	assert_non_null(strstr(err.msg, "x.yaml:"));
	assert_non_null(strstr(err.msg, "not valid YAML"));
	const char *scalar_hooks = "kind: ValidatingWebhookConfiguration\nwebhooks: 3\n";
	assert_int_equal(certs_inject(scalar_hooks, strlen(scalar_hooks), "s.yaml", B64, &out, &n, &err), -1);
	assert_non_null(strstr(err.msg, "without a webhooks list"));
	const char *map_bundle = "kind: ValidatingWebhookConfiguration\nwebhooks:\n- clientConfig:\n    caBundle: {a: 1}\n";
	assert_int_equal(certs_inject(map_bundle, strlen(map_bundle), "b.yaml", B64, &out, &n, &err), -1);
	assert_non_null(strstr(err.msg, "caBundle is not a string"));
	eo_buf_free(&out);
}

/* The project's own webhook manifests: every webhook filled, and the result
 * still parses to the same objects apart from caBundle. */
static void test_project_manifests(void **state)
{
	const char *files[] = {"manifests/webhook/mutating-webhook.yaml",
			       "manifests/webhook/validating-webhook.yaml"};
	for (size_t i = 0; i < EO_ARRAY_LEN(files); i++) {
		char *text = NULL;
		size_t len = 0;
		struct eo_err err = {0};
		if (eo_read_file(files[i], 1 << 20, &text, &len, &err) != 0)
			fail_msg("%s (run from the repository root)", err.msg);
		char *got = inject_ok(text, 1);
		json_object **before = NULL, **after = NULL;
		size_t nb = 0, na = 0;
		assert_int_equal(yaml_parse_docs(text, len, files[i], &before, &nb, &err), 0);
		assert_int_equal(yaml_parse_docs(got, strlen(got), files[i], &after, &na, &err), 0);
		assert_int_equal(nb, 1);
		assert_int_equal(na, 1);
		assert_string_equal(json_opt_str(after[0], "webhooks[0].clientConfig.caBundle", ""), B64);
		json_del(after[0], "webhooks[0].clientConfig.caBundle");
		assert_true(json_object_equal(before[0], after[0]));
		yaml_docs_free(before, nb);
		yaml_docs_free(after, na);
		free(got);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_insert_keeps_indentation),
		cmocka_unit_test(test_existing_values_replaced),
		cmocka_unit_test(test_flow_styles),
		cmocka_unit_test(test_everything_else_byte_for_byte),
		cmocka_unit_test(test_lists_aliases_and_bom),
		cmocka_unit_test(test_errors_name_the_place),
		cmocka_unit_test(test_project_manifests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
