/*
 * pss.c — Pod Security "restricted" (baseline included), checked the way
 * k8s.io/pod-security-admission's policy checks do: a field set at the
 * container level wins over the Pod's, and a container passes a check when
 * either says the right thing (runAsNonRoot, seccompProfile). Only the checks
 * a Pod spec of this project could trip are spelled out; each names the
 * policy check it stands for.
 */
#include "pss.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static int bad(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t len_of(json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* restrictedVolumes */
static const char *const allowed_volumes[] = {"configMap", "csi", "downwardAPI", "emptyDir",
					      "ephemeral", "persistentVolumeClaim", "projected",
					      "secret"};

static int check_volume(json_object *v, size_t i, char *why, size_t size)
{
	json_object_object_foreach(v, key, val) {
		(void)val;
		if (!strcmp(key, "name"))
			continue;
		bool ok = false;
		for (size_t k = 0; k < sizeof(allowed_volumes) / sizeof(allowed_volumes[0]); k++)
			ok |= !strcmp(key, allowed_volumes[k]);
		if (!ok)
			return bad(why, size, "volumes[%zu]: type %s is not allowed", i, key);
	}
	return 0;
}

static int check_container(json_object *pod_sc, json_object *k, const char *list, size_t i,
			   char *why, size_t size)
{
	char who[96];
	snprintf(who, sizeof(who), "%s[%zu] \"%s\"", list, i, json_opt_str(k, "name", ""));
	json_object *sc = json_at(k, "securityContext");
	/* privileged (baseline) */
	if (json_opt_bool(sc, "privileged", false))
		return bad(why, size, "%s: privileged", who);
	/* hostPorts (baseline) */
	json_object *ports = json_at(k, "ports");
	for (size_t p = 0; p < len_of(ports); p++)
		if (json_opt_int(json_object_array_get_idx(ports, p), "hostPort", 0) != 0)
			return bad(why, size, "%s: hostPort", who);
	/* allowPrivilegeEscalation (restricted): must be set to false */
	json_object *ape = json_at(sc, "allowPrivilegeEscalation");
	if (!ape || !json_object_is_type(ape, json_type_boolean) || json_object_get_boolean(ape))
		return bad(why, size, "%s: allowPrivilegeEscalation != false", who);
	/* runAsNonRoot (restricted): the container's, else the Pod's, is true */
	json_object *rnr = json_at(sc, "runAsNonRoot");
	if (!rnr)
		rnr = json_at(pod_sc, "runAsNonRoot");
	if (!rnr || !json_object_get_boolean(rnr))
		return bad(why, size, "%s: runAsNonRoot != true", who);
	/* runAsUser (restricted): never 0 */
	json_object *uid = json_at(sc, "runAsUser");
	if ((uid && json_object_get_int64(uid) == 0) ||
	    (!uid && json_at(pod_sc, "runAsUser") && json_opt_int(pod_sc, "runAsUser", 0) == 0))
		return bad(why, size, "%s: runAsUser=0", who);
	/* seccompProfile (restricted): RuntimeDefault or Localhost */
	const char *sp = json_opt_str(sc, "seccompProfile.type", json_opt_str(pod_sc, "seccompProfile.type", ""));
	if (strcmp(sp, "RuntimeDefault") != 0 && strcmp(sp, "Localhost") != 0)
		return bad(why, size, "%s: seccompProfile.type is \"%s\"", who, sp);
	/* capabilities (restricted): drop ALL, add at most NET_BIND_SERVICE */
	json_object *drop = json_at(sc, "capabilities.drop");
	bool all = false;
	for (size_t d = 0; d < len_of(drop); d++)
		all |= !strcmp(json_object_get_string(json_object_array_get_idx(drop, d)), "ALL");
	if (!all)
		return bad(why, size, "%s: capabilities.drop does not hold ALL", who);
	json_object *add = json_at(sc, "capabilities.add");
	for (size_t a = 0; a < len_of(add); a++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(add, a)), "NET_BIND_SERVICE"))
			return bad(why, size, "%s: adds a capability", who);
	return 0;
}

int pss_restricted(json_object *pod, char *why, size_t size)
{
	if (!pod)
		return bad(why, size, "no Pod spec");
	/* host namespaces (baseline) */
	const char *host[] = {"hostNetwork", "hostPID", "hostIPC"};
	for (size_t i = 0; i < 3; i++)
		if (json_opt_bool(pod, host[i], false))
			return bad(why, size, "%s: true", host[i]);
	json_object *vols = json_at(pod, "volumes");
	for (size_t i = 0; i < len_of(vols); i++)
		if (check_volume(json_object_array_get_idx(vols, i), i, why, size) != 0)
			return -1;
	json_object *pod_sc = json_at(pod, "securityContext");
	json_object *pod_rnr = json_at(pod_sc, "runAsNonRoot");
	if (pod_rnr && !json_object_get_boolean(pod_rnr))
		return bad(why, size, "securityContext.runAsNonRoot: false");
	const char *lists[] = {"initContainers", "containers", "ephemeralContainers"};
	size_t n = 0;
	for (size_t l = 0; l < 3; l++) {
		json_object *ks = json_at(pod, lists[l]);
		for (size_t i = 0; i < len_of(ks); i++, n++)
			if (check_container(pod_sc, json_object_array_get_idx(ks, i), lists[l], i, why,
					    size) != 0)
				return -1;
	}
	return n ? 0 : bad(why, size, "no containers");
}
