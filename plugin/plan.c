/*
 * plan.c — the plan `kubectl etcd scale` shows before it asks: each step of
 * one member, with the quorum and the failures tolerated at its new size.
 *
 * The one idea: the person deciding should see the riskiest moment of the
 * plan, not just its end. A step to an even size (2 on the way 1 → 3)
 * tolerates no more failures than the odd size below it; that is fine on the
 * way, and worth a warning only as a target (FIELD-NOTES: warn on even
 * targets, never refuse the step). Steps come from policy_plan, the same
 * arithmetic the webhook stages with.
 */
#include "render.h"

#include <stdio.h>

#include "policy.h"

#define ARROW "\xe2\x86\x92"
#define MAX_SHOWN 16

int render_plan(const char *ns, const char *name, int from, int to, bool color,
		struct eo_buf *out)
{
	if (from == to)
		return eo_buf_printf(out, "Nothing to do: %s/%s already has %d member%s.\n", ns, name,
				     to, to == 1 ? "" : "s");
	struct policy_step steps[MAX_SHOWN];
	int n = policy_plan(from, to, steps, MAX_SHOWN);
	if (n < 0)
		return eo_buf_printf(out, "No plan from %d to %d members.\n", from, to);
	int rc = eo_buf_printf(out, "Plan for %s/%s: %d " ARROW " %d, one member at a time (%d step%s)\n",
			       ns, name, from, to, n, n == 1 ? "" : "s");
	char labels[MAX_SHOWN][64];
	int width = 0;
	for (int i = 0; i < n && i < MAX_SHOWN; i++) {
		snprintf(labels[i], sizeof(labels[i]), "step %d/%d: %d " ARROW " %d", i + 1, n,
			 steps[i].from, steps[i].to);
		if ((int)pl_text_width(labels[i]) > width)
			width = (int)pl_text_width(labels[i]);
	}
	for (int i = 0; i < n && i < MAX_SHOWN; i++) {
		const struct policy_step *s = &steps[i];
		const char *label = labels[i];
		int pad = width - (int)pl_text_width(label);
		rc |= eo_buf_printf(out, "  %s%*s   quorum %d, tolerates %d failure%s\n", label,
				    pad > 0 ? pad : 0, "", s->quorum, s->tolerance,
				    s->tolerance == 1 ? "" : "s");
	}
	if (to > from)
		rc |= eo_buf_printf(out, "  Each new member joins as a learner (no vote) and is promoted "
					 "once it has caught up.\n");
	else
		rc |= eo_buf_printf(out, "  Each step moves leadership away from the leaving member if "
					 "needed, removes it, then deletes its volume.\n");
	if (to % 2 == 0) {
		int tol = ec_tolerance(to);
		rc |= eo_buf_printf(out,
				    "%sWarning:%s %d is an even size: it tolerates %d failure%s, no "
				    "more than %d member%s do. Prefer an odd size.\n",
				    color ? PL_YELLOW : "", color ? PL_RESET : "", to, tol,
				    tol == 1 ? "" : "s", to - 1, to - 1 == 1 ? "" : "s");
	}
	return rc ? -1 : 0;
}
