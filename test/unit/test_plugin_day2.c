/* Unit tests for the plugin's day-2 reads, the pure parts: which Events are
 * this cluster's (by uid, not name), the API server proxy paths, the live
 * member view built from etcd's answers, health verdicts and alarms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugin/plugin.h"
#include "json.h"

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

/* A re-created cluster of the same name has another uid: the old one's
 * Events are not shown for it. */
static void test_events_matched_by_uid(void **state)
{
	(void)state;
	json_object *obj = parse("{\"metadata\":{\"name\":\"demo\",\"uid\":\"new-uid\"}}");
	json_object *events = parse(
		"[{\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\",\"uid\":\"old-uid\"},\"reason\":\"Old\"},"
		"{\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\",\"uid\":\"new-uid\"},\"reason\":\"New\"},"
		"{\"involvedObject\":{\"kind\":\"EtcdCluster\",\"name\":\"demo\"},\"reason\":\"NoUid\"}]");
	json_object *mine = status_events_of(events, obj);
	assert_int_equal(json_object_array_length(mine), 1);
	assert_string_equal(json_opt_str(json_object_array_get_idx(mine, 0), "reason", ""), "New");
	json_object_put(mine);
	json_object_put(events);
	json_object_put(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_matched_by_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
