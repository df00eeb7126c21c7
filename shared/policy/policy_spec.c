/*
 * policy_spec.c — the admission rules of the spec's Pod knobs, etcd flags
 * and volume size (spec.pod, spec.etcd.extraArgs, spec.storage.size).
 *
 * The one idea: refuse at admission what the operator would otherwise have
 * to ignore or fight later — a Pod label or annotation the operator owns (its
 * own would win, silently), an etcd flag it writes itself (etcd would get two
 * values), a volume smaller than the one the members have (Kubernetes cannot
 * shrink a claim). Growth is allowed here; whether the StorageClass can
 * expand is the controller's to find out (it needs the API), and it says so
 * in a condition and an Event.
 */
#include <stdio.h>
#include <string.h>

#include "policy_impl.h"

static void check_pod_keys(struct policy_decision *d, const struct etcd_cluster *n)
{
	if (n->spec.pod.owned_key[0])
		policy_refuse(d, "%s: the operator owns this key on its Pods (it selects and "
			      "tracks members by it; the etcd.k8s-operator.io/ prefix, "
			      "app.kubernetes.io/name and /managed-by are its own). Use another key",
			      n->spec.pod.owned_key);
}

static void check_extra_args(struct policy_decision *d, const struct etcd_cluster *n)
{
	for (int i = 0; i < n->spec.pod.nextra_args && d->allowed; i++) {
		char why[200];
		if (!cluster_extra_arg_ok(&n->spec.pod.extra_args[i], why, sizeof(why)))
			policy_refuse(d, "spec.etcd.extraArgs[%s]: %s", n->spec.pod.extra_args[i].name,
				      why);
	}
}

static void check_storage(struct policy_decision *d, const struct etcd_cluster *o,
			  const struct etcd_cluster *n)
{
	double want, have;
	if (cluster_quantity_bytes(n->spec.storage_size, &want) != 0) {
		policy_refuse(d, "spec.storage.size: \"%s\" is not a quantity (1Gi, 500Mi, 10G)",
			      n->spec.storage_size);
		return;
	}
	if (o && cluster_quantity_bytes(o->spec.storage_size, &have) == 0 && want < have)
		policy_refuse(d, "spec.storage.size: %s → %s would shrink the members' volumes, and "
			      "Kubernetes cannot shrink a PersistentVolumeClaim. Keep %s or more; for "
			      "smaller volumes, restore a backup into a new cluster",
			      o->spec.storage_size, n->spec.storage_size, o->spec.storage_size);
}

void policy_check_spec(struct policy_decision *d, const struct etcd_cluster *o,
		       const struct etcd_cluster *n)
{
	check_pod_keys(d, n);
	if (d->allowed)
		check_extra_args(d, n);
	if (d->allowed)
		check_storage(d, o, n);
}
