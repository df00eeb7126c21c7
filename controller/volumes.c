/*
 * volumes.c — volume expansion: spec.storage.size growth reaches the
 * members' claims.
 *
 * The one idea: a StatefulSet never changes the claims it made (and its
 * volumeClaimTemplates are immutable), so the controller patches each claim
 * itself — spec.resources.requests.storage, the one field Kubernetes lets
 * grow, and only where the claim's StorageClass has allowVolumeExpansion.
 * The storage driver and the kubelet do the rest while the member runs
 * (online expansion); status.capacity says when it is done. Claims made
 * later by a scale-up come from the template's old size and are expanded
 * the same way on the next pass. Nothing here is remembered: each pass
 * compares the claims with spec, so a crash loses nothing.
 */
#include "volumes.h"

#include <stdio.h>
#include <string.h>

#include "events.h"
#include "json.h"
#include "kube.h"
#include "log.h"
#include "scaling.h"

static const struct kube_res STORAGE_CLASSES = {"storage.k8s.io", "v1", "storageclasses",
						"StorageClass", false};

static double bytes_of(const char *q)
{
	double b;
	return q && cluster_quantity_bytes(q, &b) == 0 ? b : -1;
}

void vol_observe(json_object *pvc_list, const struct etcd_cluster *ec, struct vol_state *out)
{
	memset(out, 0, sizeof(*out));
	double want = bytes_of(ec->spec.storage_size);
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "data-%s-", ec->name);
	json_object *items = json_at(pvc_list, "items");
	for (size_t i = 0; want > 0 && items && json_object_is_type(items, json_type_array) &&
			   i < json_object_array_length(items); i++) {
		json_object *p = json_object_array_get_idx(items, i);
		const char *name = json_opt_str(p, "metadata.name", "");
		int k = sc_ordinal_of_name(prefix, name);
		if (k < 0 || k >= SC_MAX_ORDINALS || json_at(p, "metadata.deletionTimestamp"))
			continue;
		out->claims++;
		const char *req = json_opt_str(p, "spec.resources.requests.storage", "");
		const char *cap = json_opt_str(p, "status.capacity.storage", "");
		if (bytes_of(req) < want) {
			if (out->small < (int)EO_ARRAY_LEN(out->small_names))
				eo_strlcpy(out->small_names[out->small], name, sizeof(out->small_names[0]));
			if (out->small++ == 0) {
				eo_strlcpy(out->cls, json_opt_str(p, "spec.storageClassName", ""),
					   sizeof(out->cls));
				eo_strlcpy(out->have, req, sizeof(out->have));
			}
		} else if (bytes_of(cap) < want && out->lagging++ == 0) {
			eo_strlcpy(out->first_lagging, name, sizeof(out->first_lagging));
			eo_strlcpy(out->lagging_capacity, cap[0] ? cap : "nothing",
				   sizeof(out->lagging_capacity));
		}
	}
}

json_object *vol_resize_patch(const char *size)
{
	json_object *patch = json_object_new_object();
	json_set(patch, "spec.resources.requests.storage", json_object_new_string(size));
	return patch;
}

/* Whether the class lets claims grow; why not in why. */
static bool expandable(struct ctl *c, const char *cls, char *why, size_t size)
{
	if (!cls[0]) {
		snprintf(why, size, "the claims have no StorageClass");
		return false;
	}
	json_object *sc = NULL;
	struct eo_err err = {0};
	if (kube_get(c->kc, &STORAGE_CLASSES, NULL, cls, &sc, &err) != 0) {
		snprintf(why, size, "StorageClass %s could not be read (%s)", cls, err.msg);
		return false;
	}
	bool ok = json_opt_bool(sc, "allowVolumeExpansion", false);
	json_object_put(sc);
	if (!ok)
		snprintf(why, size, "StorageClass %s does not allow volume expansion "
			 "(allowVolumeExpansion)", cls);
	return ok;
}

static void set(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
		struct ec_status *st, const char *status, const char *reason, bool warning,
		const char *msg, const char *now)
{
	const struct ec_condition *old = cluster_condition(&ec->status, VOL_CONDITION);
	bool changed = !old || strcmp(old->reason, reason) != 0;
	cluster_set_condition(st, VOL_CONDITION, status, reason, msg, now);
	if (changed)
		ev_emit(c->kc, ec_obj, warning, reason, msg, c->identity);
}

void vol_sync(struct ctl *c, json_object *ec_obj, const struct etcd_cluster *ec,
	      json_object *pvc_list, struct ec_status *st, const char *now)
{
	if (ec->deleting || !pvc_list)
		return;
	struct vol_state v;
	vol_observe(pvc_list, ec, &v);
	char msg[256], why[200], q[300];
	const char *size = ec->spec.storage_size;
	if (v.small > 0) {
		if (!expandable(c, v.cls, why, sizeof(why))) {
			snprintf(msg, sizeof(msg), "spec.storage.size %s not applied: %s; %d claim(s) keep "
				 "%s. Set the size back to %s, or allow expansion on the class", size,
				 why, v.small, v.have, v.have);
			set(c, ec_obj, ec, st, "False", "VolumeExpansionRefused", true, msg, now);
			return;
		}
		int done = 0;
		for (int i = 0; i < v.small && i < (int)EO_ARRAY_LEN(v.small_names); i++) {
			struct eo_err err = {0};
			json_object *patch = vol_resize_patch(size);
			if (kube_patch(c->kc, &KUBE_PVCS, ec->namespace, v.small_names[i], NULL,
				       KUBE_PATCH_MERGE, json_compact(patch), NULL, &err) == 0) {
				done++;
				log_info("claim expanded", "cluster=%s/%s claim=%s size=%s", ec->namespace,
					 ec->name, v.small_names[i], size);
			} else {
				log_warn("claim not expanded", "cluster=%s/%s claim=%s error=%s",
					 ec->namespace, ec->name, v.small_names[i],
					 log_q(q, sizeof(q), err.msg));
			}
			json_object_put(patch);
		}
		snprintf(msg, sizeof(msg), "expanding %d claim(s) from %s to %s (%d asked now); the "
			 "storage driver grows them while the members run", v.small, v.have, size, done);
		set(c, ec_obj, ec, st, "False", "ExpandingVolumes", false, msg, now);
		return;
	}
	if (v.lagging > 0) {
		snprintf(msg, sizeof(msg), "every claim asks for %s; %d not grown yet (%s has %s): "
			 "the storage driver's to finish", size, v.lagging, v.first_lagging,
			 v.lagging_capacity);
		set(c, ec_obj, ec, st, "False", "ExpandingVolumes", false, msg, now);
		return;
	}
	/* Reported only once a resize was asked: quiet for a cluster that never grew. */
	const struct ec_condition *old = cluster_condition(&ec->status, VOL_CONDITION);
	if (old && strcmp(old->status, "True") != 0) {
		snprintf(msg, sizeof(msg), "every claim (%d) has %s", v.claims, size);
		set(c, ec_obj, ec, st, "True", "VolumesExpanded", false, msg, now);
	}
}
