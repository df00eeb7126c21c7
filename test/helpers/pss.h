/*
 * pss.h — the Pod Security Standards "restricted" profile as kube-apiserver's
 * PodSecurity admission judges it (pod-security.kubernetes.io/enforce:
 * restricted, version latest), over a Pod spec in JSON: what a namespace with
 * that label would refuse. The unit tests run it over the member Pods'
 * template (controller/resources.c) and the operator's Deployments
 * (manifests/), so "would be admitted" is checked without an API server.
 */
#ifndef EO_TEST_PSS_H
#define EO_TEST_PSS_H

#include <stddef.h>

#include <json-c/json.h>

/* 0 when the Pod spec meets "restricted"; -1 and the first violation in why
 * ("containers[0] \"etcd\": allowPrivilegeEscalation != false"). */
int pss_restricted(json_object *pod_spec, char *why, size_t size);

#endif
