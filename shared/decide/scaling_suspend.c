/*
 * scaling_suspend.c — spec.suspended (DESIGN §3.1): every member's Pod
 * stopped, its volume and its place in the member list kept; and back.
 *
 * The one idea: suspending is the StatefulSet lowered one Pod at a time,
 * the highest ordinal first, each gone before the next (etcd stops cleanly
 * on SIGTERM); membership is never touched, so resuming is only the
 * StatefulSet raised to spec.replicas at once — every member must start
 * together, as no fewer than a quorum can elect a leader — after which the
 * protocol (sc_decide) sees its cluster again. Derived from what is observed
 * and from the phase on record, so a crash anywhere resumes.
 *
 * No I/O, no clock, no allocation.
 */
#include <stdio.h>
#include <string.h>

#include "scaling_impl.h"

static bool was(const struct sc_observed *o, const char *reason)
{
	const struct ec_condition *c = cluster_condition(&o->ec.status, "Progressing");
	return c && strcmp(c->reason, reason) == 0;
}

static void suspend(const struct sc_observed *o, struct sc_action *a)
{
	char nb[300];
	a->phase = EC_SUSPENDED;
	eo_strlcpy(a->degraded_reason, "Suspended", sizeof(a->degraded_reason));
	for (int k = o->sts_replicas > 0 ? o->sts_replicas : 0; k < SC_MAX_ORDINALS; k++)
		if (o->pods[k].exists) { /* the last one lowered is still stopping */
			a->kind = SC_WAIT;
			a->requeue_ms = SC_RQ_POLL;
			sc_progressing(a, "True", "Suspending", "suspending: waiting for %s to stop",
				       sc_name_of(o, k, nb, sizeof(nb)));
			return;
		}
	if (o->statefulset && o->sts_replicas > 0) {
		a->kind = SC_LOWER_STS;
		a->replicas = o->sts_replicas - 1;
		a->requeue_ms = SC_RQ_STEP;
		sc_progressing(a, "True", "Suspending", "suspending: stopping %s (%d still running); "
			       "volumes and membership are kept",
			       sc_name_of(o, a->replicas, nb, sizeof(nb)), a->replicas);
		if (!was(o, "Suspending"))
			sc_event(a, "Suspending", false);
		return;
	}
	a->kind = SC_NONE;
	a->requeue_ms = SC_RQ_IDLE;
	sc_progressing(a, "False", "Suspended", "every member stopped; volumes and membership kept. "
		       "Resume with spec.suspended: false (kubectl etcd resume %s)", o->ec.name);
	if (!was(o, "Suspended"))
		sc_event(a, "Suspended", false);
}

bool sc_suspension(const struct sc_observed *o, struct sc_action *a)
{
	bool resuming = !o->ec.spec.suspended && o->ec.status.phase == EC_SUSPENDED;
	if (o->ec.deleting || (!o->ec.spec.suspended && !resuming))
		return false;
	memset(a, 0, sizeof(*a));
	eo_strlcpy(a->degraded_status, "False", sizeof(a->degraded_status));
	eo_strlcpy(a->degraded_reason, "Healthy", sizeof(a->degraded_reason));
	a->scaling = o->ec.status.scaling;
	if (o->ec.spec.suspended) {
		suspend(o, a);
		return true;
	}
	int n = sc_desired(o);
	if (!o->statefulset || o->sts_replicas >= n)
		return false; /* raised: the protocol takes the cluster back */
	a->kind = SC_RAISE_STS;
	a->replicas = n;
	a->phase = EC_SUSPENDED; /* until the next pass sees the members start */
	a->requeue_ms = SC_RQ_STEP;
	sc_progressing(a, "True", "Resuming", "resuming: starting all %d members together on their "
		       "data", n);
	sc_event(a, "Resuming", false);
	return true;
}
