/* Unit tests for the controller's smaller pure parts: Event shape, the Lease
 * take-over rule, Pod status reading, metrics text, listen addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../controller/events.h"
#include "../../controller/httpd.h"
#include "../../controller/leader.h"
#include "../../controller/metrics.h"
#include "../../controller/observe.h"
#include "json.h"

static json_object *doc(const char *text)
{
	struct eo_err err;
	json_object *o = json_parse(text, strlen(text), &err);
	assert_non_null(o);
	return o;
}

static void test_event_shape(void **state)
{
	json_object *ec = doc("{\"metadata\":{\"name\":\"demo\",\"namespace\":\"prod\",\"uid\":\"u-1\","
			      "\"resourceVersion\":\"42\"}}");
	json_object *e = ev_build(ec, true, "RolledBack", "learner demo-3 did not start", "etcd-controller",
				  "replica-a", 1795932219627000123LL);
	assert_string_equal(json_opt_str(e, "metadata.name", ""), "demo.18ec6ed6a78bd13b");
	assert_string_equal(json_opt_str(e, "metadata.namespace", ""), "prod");
	assert_string_equal(json_opt_str(e, "involvedObject.kind", ""), "EtcdCluster");
	assert_string_equal(json_opt_str(e, "involvedObject.apiVersion", ""), "etcd.k8s-operator.io/v1alpha1");
	assert_string_equal(json_opt_str(e, "involvedObject.uid", ""), "u-1");
	assert_string_equal(json_opt_str(e, "involvedObject.resourceVersion", ""), "42");
	assert_string_equal(json_opt_str(e, "type", ""), "Warning");
	assert_string_equal(json_opt_str(e, "reason", ""), "RolledBack");
	assert_string_equal(json_opt_str(e, "source.component", ""), "etcd-controller");
	assert_string_equal(json_opt_str(e, "reportingInstance", ""), "replica-a");
	assert_string_equal(json_opt_str(e, "firstTimestamp", ""), "2026-11-29T06:03:39Z");
	assert_string_equal(json_opt_str(e, "eventTime", ""), "2026-11-29T06:03:39.627000Z");
	assert_int_equal(json_opt_int(e, "count", 0), 1);
	json_object_put(e);
	json_object_put(ec);
}

static void test_lease_takeover_rule(void **state)
{
	struct leader_seen seen = {0};
	assert_true(leader_may_take(&seen, NULL, "me", 1000)); /* no Lease yet */
	json_object *l = doc("{\"metadata\":{\"resourceVersion\":\"7\"},\"spec\":{\"holderIdentity\":\"other\","
			     "\"leaseDurationSeconds\":15,\"renewTime\":\"2026-11-29T06:00:00.000000Z\"}}");
	assert_false(leader_may_take(&seen, l, "me", 1000));   /* first sight starts the clock */
	assert_false(leader_may_take(&seen, l, "me", 15999));  /* unchanged, not yet 15 s */
	assert_true(leader_may_take(&seen, l, "me", 16000));   /* unchanged for the duration */
	/* A renewal (new record) restarts the clock, whatever the wall clocks say. */
	json_object_object_add(json_at(l, "spec"), "renewTime",
			       json_object_new_string("2020-01-01T00:00:00.000000Z"));
	json_object_object_add(json_at(l, "metadata"), "resourceVersion", json_object_new_string("8"));
	assert_false(leader_may_take(&seen, l, "me", 17000));
	assert_false(leader_may_take(&seen, l, "me", 31999));
	assert_true(leader_may_take(&seen, l, "me", 32000));
	/* Our own or a released Lease: take it now. */
	json_object_object_add(json_at(l, "spec"), "holderIdentity", json_object_new_string("me"));
	assert_true(leader_may_take(&seen, l, "me", 32001));
	json_object_object_add(json_at(l, "spec"), "holderIdentity", json_object_new_string(""));
	assert_true(leader_may_take(&seen, l, "me", 32002));
	json_object_put(l);
}

static void test_pod_status(void **state)
{
	json_object *p = doc(
		"{\"metadata\":{\"name\":\"demo-3\",\"creationTimestamp\":\"2026-11-29T06:00:00Z\","
		"\"annotations\":{\"etcd.k8s-operator.io/bootstrap\":\"true\"}},"
		"\"status\":{\"conditions\":[{\"type\":\"Initialized\",\"status\":\"False\","
		"\"lastTransitionTime\":\"2026-11-29T06:00:05Z\"},{\"type\":\"Ready\",\"status\":\"False\"}],"
		"\"initContainerStatuses\":[{\"name\":\"member-init\",\"state\":{\"running\":{}}}],"
		"\"containerStatuses\":[{\"name\":\"etcd\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}");
	struct sc_pod sp;
	obs_pod(p, &sp);
	assert_true(sp.exists);
	assert_false(sp.ready);
	assert_true(sp.initializing);
	assert_true(sp.init_since_ms == obs_time_ms("2026-11-29T06:00:05Z"));
	assert_string_equal(sp.waiting_reason, ""); /* PodInitializing is not trouble */
	assert_true(sp.bootstrap);
	json_object_put(p);

	p = doc("{\"metadata\":{\"name\":\"demo-3\",\"deletionTimestamp\":\"2026-11-29T06:00:00Z\"},"
		"\"status\":{\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},"
		"{\"type\":\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"etcd\","
		"\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\",\"message\":\"pull failed\"}}}]}}");
	obs_pod(p, &sp);
	assert_true(sp.ready);
	assert_true(sp.terminating);
	assert_false(sp.initializing);
	assert_string_equal(sp.waiting_reason, "ErrImagePull");
	assert_string_equal(sp.waiting_message, "pull failed");
	assert_false(sp.bootstrap);
	assert_false(sp.volume_lost);
	json_object_put(p);

	/* The init step said its volume was lost (exit 4), and runs again or
	 * waits in back-off: the evidence stands until it ends otherwise. */
	const char *lost[] = {
		"{\"name\":\"member-init\",\"state\":{\"running\":{}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":4}}}",
		"{\"name\":\"member-init\",\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":4}}}",
		"{\"name\":\"member-init\",\"state\":{\"terminated\":{\"exitCode\":4}}}",
	};
	const char *not_lost[] = {
		"{\"name\":\"member-init\",\"state\":{\"running\":{}}}",
		"{\"name\":\"member-init\",\"state\":{\"terminated\":{\"exitCode\":0}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":4}}}",
		"{\"name\":\"member-init\",\"state\":{\"running\":{}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":1}}}",
		"{\"name\":\"other\",\"state\":{\"terminated\":{\"exitCode\":4}}}",
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(lost) + EO_ARRAY_LEN(not_lost); i++) {
		bool want = i < EO_ARRAY_LEN(lost);
		char buf[600];
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"demo-1\"},\"status\":{\"conditions\":[{\"type\":"
			 "\"Initialized\",\"status\":\"False\"}],\"initContainerStatuses\":[%s]}}",
			 want ? lost[i] : not_lost[i - EO_ARRAY_LEN(lost)]);
		p = doc(buf);
		obs_pod(p, &sp);
		if (sp.volume_lost != want)
			fail_msg("case %zu: volume_lost %d, want %d", i, sp.volume_lost, want);
		json_object_put(p);
	}
	assert_true(obs_time_ms("garbage") == 0);
}

static void test_pod_guard_refusal(void **state)
{
	/* The guard in etcd's container refused a start without data (exit 4):
	 * the same evidence as the init step's, with the Pod initialized long
	 * ago. Since when: the Ready condition's turn to False, else the
	 * refusal's end. A container running again was let through: no
	 * evidence, whatever its last termination says. */
	struct {
		const char *etcd, *ready;
		bool refused;
		const char *since;
	} cases[] = {
		{"\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},\"lastState\":"
		 "{\"terminated\":{\"exitCode\":4,\"finishedAt\":\"2026-11-29T07:00:09Z\"}}",
		 "\"status\":\"False\",\"lastTransitionTime\":\"2026-11-29T07:00:01Z\"", true,
		 "2026-11-29T07:00:01Z"},
		{"\"state\":{\"terminated\":{\"exitCode\":4,\"finishedAt\":\"2026-11-29T07:00:09Z\"}}",
		 "\"status\":\"True\"", true, "2026-11-29T07:00:09Z"},
		{"\"state\":{\"running\":{}},\"lastState\":{\"terminated\":{\"exitCode\":4}}",
		 "\"status\":\"True\"", false, NULL},
		{"\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},\"lastState\":"
		 "{\"terminated\":{\"exitCode\":1}}",
		 "\"status\":\"False\"", false, NULL},
	};
	for (size_t i = 0; i < EO_ARRAY_LEN(cases); i++) {
		char buf[900];
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"demo-0\"},\"status\":{\"conditions\":[{\"type\":"
			 "\"Initialized\",\"status\":\"True\"},{\"type\":\"Ready\",%s}],"
			 "\"initContainerStatuses\":[{\"name\":\"member-init\",\"state\":{\"terminated\":"
			 "{\"exitCode\":0}}}],\"containerStatuses\":[{\"name\":\"etcd\",%s}]}}",
			 cases[i].ready, cases[i].etcd);
		json_object *p = doc(buf);
		struct sc_pod sp;
		obs_pod(p, &sp);
		if (sp.volume_lost != cases[i].refused || sp.guard_refused != cases[i].refused)
			fail_msg("case %zu: volume_lost %d guard_refused %d, want %d", i, sp.volume_lost,
				 sp.guard_refused, cases[i].refused);
		assert_false(sp.initializing);
		if (cases[i].since)
			assert_true(sp.refused_since_ms == obs_time_ms(cases[i].since));
		json_object_put(p);
	}
}

static void test_member_status_identity(void **state)
{
	/* The Pod of member 0x123 answers: healthy as itself only. A Pod that
	 * answers as another member, or for another cluster (it founded a new
	 * one, or runs on another member's volume), is neither healthy nor may
	 * it count toward quorum or stay behind the client Service. */
	struct etcd_status st = {.leader = 0x777, .member_id = 0x123, .cluster_id = 55,
				 .raft_index = 90, .raft_applied_index = 90, .db_size = 4096};
	struct sc_member sm = {.id = 0x123};
	obs_member_status(&st, 55, &sm);
	assert_true(sm.reachable);
	assert_true(sm.healthy);
	assert_false(sm.mismatch);
	assert_int_equal(sm.leader_seen, 0x777);
	assert_int_equal(sm.raft_applied_index, 90);

	struct sc_member other = {.id = 0x123};
	st.member_id = 0x999; /* another member's data */
	obs_member_status(&st, 55, &other);
	assert_true(other.reachable);
	assert_false(other.healthy);
	assert_true(other.mismatch);
	assert_int_equal(other.leader_seen, 0);
	assert_int_equal(other.answered_id, 0x999);

	struct sc_member split = {.id = 0x123};
	st.member_id = 0x123;
	st.cluster_id = 66; /* the same id in a cluster founded anew */
	st.leader = 0x123;
	obs_member_status(&st, 55, &split);
	assert_false(split.healthy);
	assert_true(split.mismatch);
	assert_int_equal(split.answered_cluster, 66);

	struct sc_member unknown = {.id = 0x123};
	obs_member_status(&st, 0, &unknown); /* the list's cluster unknown: the id decides */
	assert_true(unknown.healthy);
}

static void test_metrics_text(void **state)
{
	struct metrics *m = metrics_new();
	metrics_reconcile(m, "success", 0.003);
	metrics_reconcile(m, "success", 0.2);
	metrics_reconcile(m, "error", 0.02);
	metrics_step(m, "CatchUp", 3.0);
	metrics_membership(m, "add_learner");
	metrics_membership(m, "add_learner");
	metrics_set_leader(m, true);
	struct eo_buf b = {0};
	assert_int_equal(metrics_render(m, &b), 0);
	assert_non_null(strstr(b.data, "etcd_controller_reconciles_total{result=\"success\"} 2\n"));
	assert_non_null(strstr(b.data, "etcd_controller_reconciles_total{result=\"error\"} 1\n"));
	assert_non_null(strstr(b.data, "etcd_controller_step_duration_seconds_bucket{step=\"CatchUp\",le=\"2.5\"} 0\n"));
	assert_non_null(strstr(b.data, "etcd_controller_step_duration_seconds_bucket{step=\"CatchUp\",le=\"5\"} 1\n"));
	assert_non_null(strstr(b.data, "etcd_controller_step_duration_seconds_count{step=\"CatchUp\"} 1\n"));
	assert_non_null(strstr(b.data, "etcd_controller_reconcile_duration_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(b.data, "etcd_controller_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(b.data, "etcd_controller_reconcile_duration_seconds_count 3\n"));
	assert_non_null(strstr(b.data, "etcd_controller_membership_changes_total{kind=\"add_learner\"} 2\n"));
	assert_non_null(strstr(b.data, "etcd_controller_leader 1\n"));
	assert_non_null(strstr(b.data, "# TYPE etcd_controller_step_duration_seconds histogram\n"));
	eo_buf_free(&b);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_listen_addresses(void **state)
{
	char host[64];
	int port;
	struct eo_err err;
	assert_int_equal(httpd_parse_addr(":8081", host, &port, &err), 0);
	assert_string_equal(host, "");
	assert_int_equal(port, 8081);
	assert_int_equal(httpd_parse_addr("127.0.0.1:0", host, &port, &err), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 0);
	assert_int_equal(httpd_parse_addr("9090", host, &port, &err), 0);
	assert_int_equal(port, 9090);
	assert_int_equal(httpd_parse_addr(":99999", host, &port, &err), -1);
	assert_non_null(strstr(err.msg, ":99999"));
	assert_int_equal(httpd_parse_addr("host:", host, &port, &err), -1);
	assert_int_equal(httpd_parse_addr("", host, &port, &err), -1);
}

static void test_endpoints_serve(void **state)
{
	struct metrics *m = metrics_new();
	struct eo_err err;
	struct httpd *h = httpd_start("127.0.0.1:0", true, true, m, NULL, NULL, &err);
	assert_non_null(h);
	assert_true(httpd_port(h) > 0);
	struct httpd *h2 = httpd_start("not-an-ip:1", true, true, m, NULL, NULL, &err);
	assert_null(h2);
	assert_non_null(strstr(err.msg, "not-an-ip"));
	httpd_stop(h);
	httpd_stop(NULL);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_shape),
		cmocka_unit_test(test_lease_takeover_rule),
		cmocka_unit_test(test_pod_status),
		cmocka_unit_test(test_pod_guard_refusal),
		cmocka_unit_test(test_member_status_identity),
		cmocka_unit_test(test_metrics_text),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_endpoints_serve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
