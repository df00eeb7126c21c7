/*
 * lifecycle.c — the pure half of `kubectl etcd upgrade`, `suspend` and
 * `resume`: the order members are made again in, the plan shown before the
 * question, and the judgement of each snapshot while the controller works.
 *
 * The one idea: the plugin predicts nothing it can read. The roll order is
 * the controller's rule (followers by ordinal, the leader last, after
 * leadership moved) applied to the members status reports; progress is the
 * controller's own Progressing message, printed once each; done is what
 * status says (status.version is the lowest version any member reports, so
 * it reaches the new one only when the last member runs it). A snapshot of
 * a spec older than the one written is never taken as the answer.
 */
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "term.h"

#define ARROW "\xe2\x86\x92"

int lc_member_ordinal(const char *cluster, const char *member)
{
	size_t n = strlen(cluster);
	if (strncmp(member, cluster, n) != 0 || member[n] != '-' || !member[n + 1])
		return -1;
	const char *s = member + n + 1;
	long k = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || k > 100000)
			return -1;
		k = k * 10 + (*s - '0');
	}
	return (int)k;
}

int lc_roll_order(const struct etcd_cluster *c, int *idx, int max)
{
	int n = 0, leader = -1;
	int order[EC_MAX_MEMBERS];
	for (int i = 0; i < c->status.nmembers && i < EC_MAX_MEMBERS; i++) {
		const struct ec_member *m = &c->status.members[i];
		if (m->learner)
			continue;
		bool leads = m->leader || (c->status.leader[0] && m->name[0] &&
					   strcmp(m->name, c->status.leader) == 0);
		if (leads && leader < 0) {
			leader = i;
			continue;
		}
		/* insertion by ordinal; members without one keep status order at the end */
		int k = lc_member_ordinal(c->name, m->name), j = n;
		while (j > 0) {
			int kj = lc_member_ordinal(c->name, c->status.members[order[j - 1]].name);
			if (k < 0 || (kj >= 0 && kj <= k))
				break;
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
		n++;
	}
	if (leader >= 0)
		order[n++] = leader;
	for (int i = 0; i < n && i < max; i++)
		idx[i] = order[i];
	return n;
}

const char *lc_running_version(const struct etcd_cluster *c)
{
	return c->status.version[0] ? c->status.version : c->spec.version;
}

int lc_render_upgrade_plan(const struct etcd_cluster *c, const char *to, bool color,
			   struct eo_buf *out)
{
	int idx[EC_MAX_MEMBERS];
	int n = lc_roll_order(c, idx, EC_MAX_MEMBERS);
	char ns[256], name[256], from[128], want[128];
	term_safe(ns, sizeof(ns), c->namespace);
	term_safe(name, sizeof(name), c->name);
	term_safe(from, sizeof(from), lc_running_version(c));
	term_safe(want, sizeof(want), to);
	int rc = eo_buf_printf(out, "Upgrade plan for %s/%s: %s " ARROW " %s, one member at a time "
			       "(%d member%s)\n", ns, name, from, want, n, n == 1 ? "" : "s");
	if (n == 0)
		return rc | eo_buf_printf(out, "  no members reported yet: the operator rolls them "
					  "in its order\n");
	size_t width = 0;
	for (int i = 0; i < n; i++) {
		const char *mn = c->status.members[idx[i]].name;
		size_t w = pl_text_width(mn[0] ? mn : "(not started)");
		if (w > width)
			width = w;
	}
	for (int i = 0; i < n; i++) {
		const struct ec_member *m = &c->status.members[idx[i]];
		const char *mn = m->name[0] ? m->name : "(not started)";
		bool leads = i == n - 1 && (m->leader || (c->status.leader[0] &&
							  strcmp(m->name, c->status.leader) == 0));
		rc |= eo_buf_printf(out, "  %d. ", i + 1);
		rc |= term_safe_append(out, mn, 0);
		int pad = (int)width - (int)pl_text_width(mn);
		if (leads)
			rc |= eo_buf_printf(out, "%*s   %sleader%s (last, after leadership moves to an "
					    "upgraded member)\n", pad > 0 ? pad : 0, "",
					    color ? PL_BOLD : "", color ? PL_RESET : "");
		else
			rc |= eo_buf_printf(out, "%*s   follower\n", pad > 0 ? pad : 0, "");
	}
	rc |= eo_buf_printf(out, "  Each member's Pod is made again on its own data with the new "
			    "image; the others keep quorum.\n");
	return rc ? -1 : 0;
}

void lc_watch_init(struct lc_watch *w, enum lc_goal goal, const char *version,
		   int64_t generation, int64_t now_ms)
{
	memset(w, 0, sizeof(*w));
	w->goal = goal;
	eo_strlcpy(w->version, version ? version : "", sizeof(w->version));
	w->generation = generation;
	w->started_ms = now_ms;
}

static bool same_version(const char *a, const char *b)
{
	struct ec_version va, vb;
	if (ec_version_parse(a, &va) != 0 || ec_version_parse(b, &vb) != 0)
		return strcmp(a, b) == 0 && a[0];
	return ec_version_cmp(&va, &vb) == 0;
}

/* Running with every member a ready voter. */
static bool whole(const struct etcd_cluster *c)
{
	const struct ec_status *s = &c->status;
	return s->phase == EC_RUNNING && s->replicas == c->spec.replicas &&
	       s->ready_replicas == c->spec.replicas && s->learners == 0;
}

bool lc_goal_reached(enum lc_goal goal, const char *version, const struct etcd_cluster *c)
{
	switch (goal) {
	case LC_UPGRADE:
		/* status.version can reach V while the last member made again is
		 * still starting (it reports nothing yet): wait for it too */
		return whole(c) && same_version(c->status.version, version);
	case LC_SUSPEND: {
		/* the phase says Suspended from the first Pod stopped on;
		 * Progressing reason Suspended says the last one is */
		const struct ec_condition *k = cluster_condition(&c->status, "Progressing");
		return c->status.phase == EC_SUSPENDED && k && strcmp(k->reason, "Suspended") == 0;
	}
	case LC_RESUME:
		return whole(c);
	}
	return false;
}

enum lc_result lc_watch_feed(struct lc_watch *w, const struct etcd_cluster *c, int64_t now_ms,
			     struct eo_buf *out)
{
	/* What the controller said about an older spec is not news of ours. */
	if (c->status.observed_generation < w->generation)
		return LC_WAITING;
	const struct ec_condition *k = cluster_condition(&c->status, "Progressing");
	if (k && k->message[0] && strcmp(k->message, w->last_message) != 0) {
		eo_strlcpy(w->last_message, k->message, sizeof(w->last_message));
		char el[32];
		dur_text(now_ms - w->started_ms, el, sizeof(el));
		eo_buf_printf(out, "  [%s] ", el);
		term_safe_append(out, k->message, 0);
		eo_buf_append(out, "\n", 1);
	}
	if (lc_goal_reached(w->goal, w->version, c))
		return LC_DONE;
	char safe[300];
	if (w->goal == LC_UPGRADE && k && strcmp(k->status, "False") == 0 &&
	    strcmp(k->reason, "UpgradeStalled") == 0) {
		snprintf(w->stall, sizeof(w->stall), "the upgrade stalled: %s",
			 term_safe(safe, sizeof(safe), k->message[0] ? k->message : "no reason given"));
		return LC_STALLED;
	}
	if (c->status.phase == EC_FAILED) {
		const struct ec_condition *d = cluster_condition(&c->status, "Degraded");
		const char *why = d && strcmp(d->status, "True") == 0 && d->message[0] ? d->message
			: k && k->message[0] ? k->message : "no reason given in its conditions";
		snprintf(w->stall, sizeof(w->stall), "the cluster is Failed: %s",
			 term_safe(safe, sizeof(safe), why));
		return LC_STALLED;
	}
	return LC_WAITING;
}
