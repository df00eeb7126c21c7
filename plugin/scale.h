/*
 * scale.h — the parts of `kubectl etcd scale` shared by scale.c (decide,
 * plan, confirm, write) and scale_follow.c (watch the steps, stop safely).
 */
#ifndef PL_SCALE_H
#define PL_SCALE_H

#include <stdbool.h>

#include "cluster.h"
#include "plugin.h"

/* How this run relates to what the cluster is already doing. */
enum scale_mode {
	SCALE_FRESH,    /* settled: write the first step and the target */
	SCALE_FOLLOW,   /* already heading for N: write nothing, follow */
	SCALE_RETARGET, /* a step in flight: set the target to N, let the step finish */
};

/* The run: what was read, what was decided, what was written. */
struct scale_run {
	struct scale_opts *o;
	struct kube_client *kc;
	const char *ns;
	bool color;
	struct etcd_cluster c; /* as last read */
	enum scale_mode mode;
	int from;              /* where the plan starts */
	bool wrote_target;     /* this run set the target annotation */
};

/* The commands a person types next ("kubectl etcd scale demo -n ns --replicas 5"). */
void scale_cmd_text(const struct scale_run *r, const char *verb, char *out, size_t size);

/* Follow the steps through a watch until done, failed, timed out or
 * interrupted; prints progress and the outcome; returns the exit code. */
int scale_follow(struct scale_run *r);

#endif
