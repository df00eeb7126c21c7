/*
 * reconcile.h — one pass over one EtcdCluster: observe → decide → record →
 * act. Never waits for a slow step: it takes at most one action and says
 * when to look again.
 */
#ifndef EO_CONTROLLER_RECONCILE_H
#define EO_CONTROLLER_RECONCILE_H

#include <stdint.h>

#include "ctl.h"

/*
 * Reconcile the cluster "namespace/name". On 0, *requeue_ms says when to
 * look again (0: only when something changes — the cluster is gone). On -1
 * err says what failed (err->code 409: a conflict, retry soon) and the
 * caller backs off.
 */
int rec_reconcile(struct ctl *c, const char *key, int64_t *requeue_ms, struct eo_err *err);

#endif
