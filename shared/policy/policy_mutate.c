/*
 * policy_mutate.c — the mutating half of the admission rules (DESIGN §5):
 * a jump of more than one member becomes one step plus the target
 * annotation; a change asked for while a step is in flight is held at that
 * step; a target that is reached is dropped.
 *
 * The one idea: first decide what size the person asked for (N), then what
 * spec.replicas may be now (final); the annotation carries N exactly when the
 * two differ. N is the annotation when the object is already *staged* — it
 * carries the annotation and spec.replicas is unchanged or one step from the
 * old size toward it (what our own output, a re-invocation, or the
 * controller's next step looks like) — and spec.replicas otherwise (a person
 * or a GitOps sync changed it, whatever annotation kubectl apply kept).
 * Because our output is always staged, mutating it again changes nothing.
 */
#include "policy_impl.h"

#include <stdio.h>
#include <string.h>

void policy_mutate(const struct policy_request *req, struct policy_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->allowed = true;
	if (req->op == POLICY_DELETE || req->scale_subresource || !req->new)
		return; /* a Scale has no annotations to stage with: validation refuses jumps */
	const struct etcd_cluster *n = req->new;
	const struct etcd_cluster *o = req->op == POLICY_UPDATE ? req->old : NULL;
	if (req->op == POLICY_UPDATE && !o)
		return;

	/* Nothing sensible to stage toward: leave it for validation to refuse. */
	int64_t spec = n->spec.replicas, t = n->target;
	bool has_t = t != EC_TARGET_NONE;
	if (!policy_in_range(spec) || t == EC_TARGET_INVALID || (has_t && !policy_in_range(t)))
		return;

	/* A new cluster is at size 0 and always "settled": it starts at 1. */
	int64_t cur = o ? policy_current_size(o) : 0;
	bool settled = !o || policy_settled(o);
	int64_t back = o ? policy_settled_size(o) : 0;

	bool staged = has_t && (spec == cur || spec == cur + policy_sign(t - cur));
	int64_t want = staged ? t : spec;
	int64_t final;
	if (!settled)
		final = spec == back ? back : cur; /* hold at the step in flight, or cancel */
	else if (staged)
		final = spec; /* already staged: left as it is */
	else if (want - cur >= -1 && want - cur <= 1)
		final = want;
	else
		final = cur + policy_sign(want - cur);

	if (final != spec) {
		d->patch_replicas = true;
		d->replicas = final;
	}
	if (want != final) {
		char canon[32];
		snprintf(canon, sizeof(canon), "%lld", (long long)want);
		if (!has_t || t != want || strcmp(n->target_raw, canon) != 0) {
			d->patch_target = true;
			d->target = want;
		}
	} else if (has_t) {
		d->drop_target = true;
	}

	if (!d->patch_replicas && !d->patch_target)
		return; /* nothing the person needs to hear about */
	/* The path from where the cluster is (a new one: its first member). */
	char path[128];
	policy_staged_path(settled && o ? cur : final, want, path, sizeof(path));
	if (settled)
		policy_warn(d,
			    "spec.replicas: staged %s, one member at a time; set to %lld now, "
			    "the operator continues",
			    path, (long long)final);
	else
		policy_warn(d,
			    "spec.replicas: held at %lld until the change in flight settles; "
			    "the operator then continues %s",
			    (long long)final, path);
}
