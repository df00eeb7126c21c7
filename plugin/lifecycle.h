/*
 * lifecycle.h — what `kubectl etcd upgrade`, `suspend` and `resume` share:
 * the roll order and plan of an upgrade, the watchers that turn successive
 * EtcdCluster snapshots into lines and an outcome (pure, lifecycle.c), and
 * the one loop that feeds them from a watch (follow.c).
 *
 * The one idea: these commands only write one field of spec and then watch
 * the controller's own account of the work (status.version, status.phase,
 * the Progressing condition). Deciding when it is done, or stuck, is a pure
 * function of a snapshot and a clock, so it is unit-tested without a
 * cluster; the watch around it is the same for all three.
 */
#ifndef PL_LIFECYCLE_H
#define PL_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster.h"
#include "eo.h"
#include "plugin.h"

/* ---- the roll order (lifecycle.c, pure) ---- */

/* The ordinal of member name "<cluster>-<k>", or -1 when it has none. */
int lc_member_ordinal(const char *cluster, const char *member);

/*
 * The order in which the controller makes members again: followers by
 * ordinal (lowest first), the leader last. Fills idx with indices into
 * c->status.members (at most max) and returns how many members there are.
 * Members without an ordinal go after the others in status order; learners
 * are left out (an upgrade starts only from a settled cluster, without any).
 */
int lc_roll_order(const struct etcd_cluster *c, int *idx, int max);

/* The version a cluster runs: status.version, else spec.version. */
const char *lc_running_version(const struct etcd_cluster *c);

/*
 * The plan `upgrade` shows before it asks:
 *   Upgrade plan for default/demo: 3.5.36 → 3.6.16, one member at a time
 *     1. demo-0   follower
 *     2. demo-2   follower
 *     3. demo-1   leader (last, after leadership moves to an upgraded member)
 * Member names are the server's text: made safe for the terminal.
 */
int lc_render_upgrade_plan(const struct etcd_cluster *c, const char *to, bool color,
			   struct eo_buf *out);

/* ---- watching the work (lifecycle.c, pure) ---- */

enum lc_goal {
	LC_UPGRADE, /* status.version == version, phase Running, every member ready */
	LC_SUSPEND, /* phase Suspended, Progressing reason Suspended (every Pod stopped) */
	LC_RESUME,  /* phase Running, every member ready */
};

enum lc_result { LC_WAITING, LC_DONE, LC_STALLED };

/* The state of one watch; set it up with lc_watch_init. */
struct lc_watch {
	enum lc_goal goal;
	char version[32];       /* LC_UPGRADE: the version to reach */
	int64_t generation;     /* snapshots of an older spec say nothing about ours */
	int64_t started_ms;
	char last_message[256]; /* the last Progressing message printed (never twice) */
	char stall[600];        /* why, when LC_STALLED (made safe for the terminal) */
};

void lc_watch_init(struct lc_watch *w, enum lc_goal goal, const char *version,
		   int64_t generation, int64_t now_ms);
/* Whether the cluster has reached the goal (ignoring generations). */
bool lc_goal_reached(enum lc_goal goal, const char *version, const struct etcd_cluster *c);
/*
 * Feed one snapshot observed at now_ms. Until the controller has seen the
 * written spec (observedGeneration ≥ generation) the snapshot says nothing.
 * Then: appends "  [ELAPSED] MESSAGE" for a Progressing message not printed
 * before; DONE when the goal holds; STALLED when Progressing is False with
 * reason UpgradeStalled (LC_UPGRADE) or the cluster is Failed.
 */
enum lc_result lc_watch_feed(struct lc_watch *w, const struct etcd_cluster *c, int64_t now_ms,
			     struct eo_buf *out);

/* ---- the watch loop (follow.c) ---- */

enum lc_outcome {
	LC_OUT_DONE,
	LC_OUT_STALLED,
	LC_OUT_INTERRUPTED, /* Ctrl-C */
	LC_OUT_TIMEOUT,
	LC_OUT_DELETED,
	LC_OUT_ERROR,       /* the watch failed: err says why */
};

/*
 * Feed w from a watch on EtcdCluster ns/name, starting with the snapshot
 * *c, until the goal, a stall, Ctrl-C (pl_interrupted), timeout_ms or the
 * cluster's deletion. Prints the watcher's lines on stdout; *c holds the
 * last snapshot seen.
 */
enum lc_outcome lc_follow(struct kube_client *kc, const char *ns, const char *name,
			  struct lc_watch *w, struct etcd_cluster *c, int64_t timeout_ms,
			  struct eo_err *err);

/* ---- I/O helpers of the three commands (follow.c) ---- */

/* GET ns/name into *c; -1 with err (EO_EPARSE when it cannot be read). */
int lc_read(struct kube_client *kc, const char *ns, const char *name, struct etcd_cluster *c,
	    struct eo_err *err);
/* A JSON merge patch of ns/name (dry: ?dryRun=All, nothing stored); *c gets
 * the object the server answered with (not on a dry run). */
int lc_patch(struct kube_client *kc, const char *ns, const char *name, const char *patch,
	     bool dry, struct etcd_cluster *c, struct eo_err *err);
/* "kubectl etcd VERB NAME [-n NS]", for the lines that say what to run next. */
void lc_cmd_text(const char *verb, const char *name, const char *ns, char *out, size_t size);

#endif
