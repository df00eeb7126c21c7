/*
 * manager.h — the controller's moving parts between the API and the
 * reconciler: one informer per watched kind turning events into cluster keys
 * ("namespace/name") on one work queue, and the workers that take keys off
 * it and reconcile them (reconcile.h). EtcdBackups go to the backup
 * controller's own queue (backup_ctl.h).
 *
 * main.c owns the process (flags, signals, leader election); it starts the
 * manager once this replica leads and stops it on the way out.
 */
#ifndef EO_CONTROLLER_MANAGER_H
#define EO_CONTROLLER_MANAGER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"

struct mgr;

/* A manager for ctl (borrowed for its life), watching namespace (NULL: all);
 * it makes the work queue and the backup controller (ctl->backup). stop is
 * the process's flag: informers end when it is set. Never NULL. */
struct mgr *mgr_new(struct ctl *ctl, const char *namespace, volatile sig_atomic_t *stop);
/* Start the informers, `workers` workers (1..64) and the backup worker. */
void mgr_start(struct mgr *m, int workers);
/*
 * Stop taking keys, let the reconciles in flight finish, stop the backup
 * worker (a snapshot in flight finishes first), set *stop, and wait up to 3 s
 * for each informer. Returns false when an informer stuck in a read had to
 * be left behind: then nothing shared may be freed (the exit ends it).
 */
bool mgr_stop(struct mgr *m);
/* Free after mgr_stop returned true (else leave it to the exit). NULL is fine. */
void mgr_free(struct mgr *m);

/* /readyz: every informer has listed once. The httpd's readiness callback. */
bool mgr_ready(void *m, char *why, size_t size);

#endif
