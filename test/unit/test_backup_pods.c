/*
 * test_backup_pods.c — the Pods the backup controller makes, as objects:
 * the restore Pod (fetch and check on this project's image, etcdutl on
 * etcd's, member 0's names and a token holding the new cluster's uid) and
 * the receiver Pod of a PVC destination; both meet Pod Security
 * "restricted". Also which snapshot a restore resolves to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../controller/backup_pod.h"
#include "../helpers/pss.h"
#include "json.h"

static struct etcd_cluster cluster(void)
{
	struct etcd_cluster c;
	memset(&c, 0, sizeof(c));
	strcpy(c.name, "copy");
	strcpy(c.namespace, "team");
	strcpy(c.uid, "1234-uid");
	strcpy(c.spec.version, "3.6.16");
	strcpy(c.spec.storage_size, "2Gi");
	strcpy(c.spec.cluster_domain, "cluster.local");
	return c;
}

static bool has_arg(json_object *args, const char *a, const char *b)
{
	for (size_t i = 0; i + (b ? 1 : 0) < json_object_array_length(args); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(args, i)), a) &&
		    (!b || !strcmp(json_object_get_string(json_object_array_get_idx(args, i + 1)), b)))
			return true;
	return false;
}

static void test_restore_pod(void **state)
{
	struct etcd_cluster c = cluster();
	struct rs_source src = {.dest = EB_DEST_S3};
	strcpy(src.backup, "nightly");
	strcpy(src.key, "etcd/team/demo/nightly-20261207T030000Z.db");
	strcpy(src.sha256, "ab12");
	strcpy(src.s3.endpoint, "http://s3:8333");
	strcpy(src.s3.bucket, "b");
	strcpy(src.s3.credentials_secret, "creds");
	src.s3.force_path_style = true;
	json_object *pod = rs_pod(&c, &src, NULL);
	assert_string_equal(json_opt_str(pod, "metadata.name", ""), "copy-restore");
	assert_string_equal(json_opt_str(pod, "metadata.ownerReferences[0].kind", ""), "EtcdCluster");
	/* not selected by the member Services or the PDB (app is not etcd) */
	assert_string_equal(json_opt_str(pod, "metadata.labels[app.kubernetes.io/name]", ""), "etcd-restore");
	assert_string_equal(json_opt_str(pod, "spec.restartPolicy", ""), "Never");
	json_object *fetch = json_at(pod, "spec.initContainers[0]");
	assert_string_equal(json_opt_str(fetch, "command[1]", ""), "snapshot-fetch");
	json_object *fa = json_at(fetch, "args");
	assert_true(has_arg(fa, "--sha256", "ab12"));
	assert_true(has_arg(fa, "--key", src.key));
	assert_true(has_arg(fa, "--path-style", NULL));
	assert_true(has_arg(fa, "--peer-url", "http://copy-0.copy-peer.team.svc.cluster.local:2380"));
	assert_true(has_arg(fa, "--token", "team-copy-1234-uid"));
	assert_string_equal(json_opt_str(fetch, "env[0].valueFrom.secretKeyRef.name", ""), "creds");
	assert_string_equal(json_opt_str(fetch, "env[1].valueFrom.secretKeyRef.key", ""), "secretAccessKey");
	json_object *restore = json_at(pod, "spec.containers[0]");
	assert_string_equal(json_opt_str(restore, "image", ""), "gcr.io/etcd-development/etcd:v3.6.16");
	assert_string_equal(json_opt_str(restore, "command[0]", ""), "/usr/local/bin/etcdutl");
	json_object *ra = json_at(restore, "args");
	assert_true(has_arg(ra, "--name", "copy-0"));
	assert_true(has_arg(ra, "--initial-cluster", "copy-0=http://copy-0.copy-peer.team.svc.cluster.local:2380"));
	assert_true(has_arg(ra, "--initial-cluster-token", "team-copy-1234-uid"));
	assert_true(has_arg(ra, "--data-dir", "/var/lib/etcd/data"));
	assert_string_equal(json_opt_str(pod, "spec.volumes[0].persistentVolumeClaim.claimName", ""), "data-copy-0");
	char why[256];
	if (pss_restricted(json_at(pod, "spec"), why, sizeof(why)) != 0)
		fail_msg("restore Pod: %s", why);
	json_object_put(pod);

	/* from a claim: read-only, the file by its key */
	src.dest = EB_DEST_PVC;
	strcpy(src.pvc.claim_name, "snaps");
	pod = rs_pod(&c, &src, NULL);
	assert_true(has_arg(json_at(pod, "spec.initContainers[0].args"), "--file",
			    "/backup/etcd/team/demo/nightly-20261207T030000Z.db"));
	assert_true(json_opt_bool(pod, "spec.volumes[3].persistentVolumeClaim.readOnly", false));
	assert_null(json_at(pod, "spec.initContainers[0].env[0]"));
	json_object_put(pod);

	/* member 0's claim, as the StatefulSet's template names it */
	json_object *claim = rs_claim(&c, NULL);
	assert_string_equal(json_opt_str(claim, "metadata.name", ""), "data-copy-0");
	assert_string_equal(json_opt_str(claim, "spec.resources.requests.storage", ""), "2Gi");
	json_object_put(claim);
}

static void test_receiver_pod(void **state)
{
	struct etcd_backup b;
	memset(&b, 0, sizeof(b));
	strcpy(b.name, "tovol");
	strcpy(b.namespace, "team");
	strcpy(b.uid, "u-1");
	b.spec.dest = EB_DEST_PVC;
	strcpy(b.spec.pvc.claim_name, "snaps");
	json_object *pod = bkp_recv_pod(&b, "tovol-receiver-1", "0123456789abcdef0123456789abcdef", NULL);
	assert_string_equal(json_opt_str(pod, "metadata.ownerReferences[0].kind", ""), "EtcdBackup");
	assert_string_equal(json_opt_str(pod, "metadata.labels[" BKP_LABEL_OF "]", ""), "u-1");
	assert_string_equal(json_opt_str(pod, "spec.containers[0].command[1]", ""), "snapshot-receive");
	assert_string_equal(json_opt_str(pod, "spec.volumes[0].persistentVolumeClaim.claimName", ""), "snaps");
	assert_int_equal(json_opt_int(pod, "spec.containers[0].readinessProbe.httpGet.port", 0), BKP_PORT);
	char why[256];
	if (pss_restricted(json_at(pod, "spec"), why, sizeof(why)) != 0)
		fail_msg("receiver Pod: %s", why);
	json_object_put(pod);
}

static void test_resolve(void **state)
{
	struct eo_err err = {0};
	const char *text = "{\"metadata\":{\"name\":\"nightly\",\"namespace\":\"team\"},\"spec\":{\"clusterName\":\"demo\","
			   "\"destination\":{\"s3\":{\"endpoint\":\"e\",\"bucket\":\"b\",\"credentialsSecret\":\"c\"}}},"
			   "\"status\":{\"lastSnapshot\":{\"key\":\"k2\",\"sha256\":\"s2\"},"
			   "\"snapshots\":[{\"key\":\"k2\",\"sha256\":\"s2\"},{\"key\":\"k1\",\"sha256\":\"s1\"}]}}";
	json_object *b = json_parse(text, strlen(text), &err);
	struct rs_source src;
	assert_int_equal(rs_resolve(b, NULL, &src, &err), 0);
	assert_string_equal(src.key, "k2");
	assert_string_equal(src.sha256, "s2");
	assert_int_equal(rs_resolve(b, "k1", &src, &err), 0);
	assert_string_equal(src.sha256, "s1");
	/* not listed: S3 keeps the hash with the object, so it may be checked there */
	assert_int_equal(rs_resolve(b, "k0", &src, &err), 0);
	assert_string_equal(src.sha256, "");
	json_object_put(b);
	text = "{\"metadata\":{\"name\":\"empty\"},\"spec\":{\"clusterName\":\"demo\",\"destination\":{\"pvc\":"
	       "{\"claimName\":\"snaps\"}}},\"status\":{}}";
	b = json_parse(text, strlen(text), &err);
	assert_int_equal(rs_resolve(b, NULL, &src, &err), -1);
	assert_non_null(strstr(err.msg, "has no snapshot yet"));
	assert_int_equal(rs_resolve(b, "k9", &src, &err), -1);
	assert_non_null(strstr(err.msg, "cannot be checked"));
	json_object_put(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_pod),
		cmocka_unit_test(test_receiver_pod),
		cmocka_unit_test(test_resolve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
