/*
 * ctl.h — what every worker of the controller shares: the API client, the
 * knobs from the command line, the metrics, and whether it may act.
 *
 * Owned by main.c; workers borrow it for the process's life.
 */
#ifndef EO_CONTROLLER_CTL_H
#define EO_CONTROLLER_CTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube.h"
#include "metrics.h"
#include "resources.h"

struct bk;

struct ctl {
	struct kube_client *kc;
	struct res_opts res;          /* the StatefulSet's knobs */
	int64_t step_timeout_ms;      /* --step-timeout */
	int64_t replace_grace_ms;     /* --replace-grace */
	int64_t rollback_backoff_ms;  /* --rollback-backoff (0: 2 × step timeout) */
	long etcd_timeout_ms;         /* per etcd call */
	long tls_ca_s, tls_leaf_s;    /* --tls-ca-lifetime, --tls-cert-lifetime (0: ectls.h's) */
	long tls_ca_overlap_s;        /* --tls-ca-overlap: old CA kept trusted after a switch */
	struct metrics *metrics;
	struct bk *backup;             /* the EtcdBackup controller (backup_ctl.h); may be NULL */
	atomic_bool leading;          /* false: observe and publish nothing, act never */
	char identity[128];           /* this replica, in Events and the Lease */
	/*
	 * Crash points for fault tests (--crash-at / EO_CRASH_AT): called with
	 * the action's name (sc_kind_name) and "before" (status.scaling is
	 * written, the action not taken) or "after" (the action succeeded).
	 * main.c exits the process there when they match; NULL otherwise.
	 */
	void (*crash_hook)(const char *action, const char *when, void *ud);
	void *crash_ud;
};

#endif
