/*
 * volumes.h — the members' volumes follow spec.storage.size upward: each
 * claim asking less is patched to the new size where its StorageClass allows
 * expansion; where it does not, the VolumeResize condition and an Event say
 * so and what to do. (Shrinking is refused at admission: policy_spec.c.)
 */
#ifndef EO_CONTROLLER_VOLUMES_H
#define EO_CONTROLLER_VOLUMES_H

#include <json-c/json.h>

#include "cluster.h"
#include "ctl.h"

#define VOL_CONDITION "VolumeResize"

/* What a cluster's data claims (data-<name>-<k>) say against spec. Pure. */
struct vol_state {
	int claims;               /* the cluster's data claims, not being deleted */
	int small;                /* asking less than spec.storage.size */
	int lagging;              /* asking enough, status.capacity still less */
	char small_names[16][128]; /* the first of them (16 at most) */
	char first_lagging[128];
	char lagging_capacity[32];
	char cls[254];            /* the StorageClass of the first small claim ("": none) */
	char have[32];            /* what the first small claim asks */
};
void vol_observe(json_object *pvc_list, const struct etcd_cluster *ec, struct vol_state *out);

/* The merge patch that asks a claim for size (new object). */
json_object *vol_resize_patch(const char *size);

/* Act on it for the pass: patch the small claims (when the class allows),
 * set VOL_CONDITION in st, and emit an Event when its reason changes.
 * Failures are logged; membership work does not wait on them. */
void vol_sync(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
	      json_object *pvc_list, struct ec_status *st, const char *now);

#endif
