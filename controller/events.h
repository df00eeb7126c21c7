/*
 * events.h — core/v1 Events on an EtcdCluster: one per decision, so
 * `kubectl describe etcdcluster` and `kubectl etcd status` tell its story.
 */
#ifndef EO_CONTROLLER_EVENTS_H
#define EO_CONTROLLER_EVENTS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "kube.h"

/* Build the Event (new reference) for the EtcdCluster object ec (its uid and
 * resourceVersion go into involvedObject). Pure; now_ns names it uniquely
 * ("<cluster>.<hex now_ns>", as client-go does). */
json_object *ev_build(json_object *ec, bool warning, const char *reason, const char *message,
		      const char *component, const char *instance, long long now_ns);

/* Create it; a failure is logged, never fatal (Events are best effort). */
void ev_emit(struct kube_client *kc, json_object *ec, bool warning, const char *reason,
	     const char *message, const char *instance);

#endif
