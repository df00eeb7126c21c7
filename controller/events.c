/*
 * events.c — Events on the EtcdCluster, named and shaped as client-go's
 * recorder makes them, so every Kubernetes tool shows them.
 *
 * The one idea: an Event is a record, not a control path. Building is pure;
 * sending happens once, with the client's own deadline, and a failure is a
 * log line — never a reason to stop or retry a reconcile.
 */
#include "events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "eo.h"
#include "json.h"
#include "log.h"

static void micro_time(long long now_ns, char out[40])
{
	time_t s = (time_t)(now_ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%06lldZ", base, (now_ns / 1000) % 1000000);
}

json_object *ev_build(json_object *ec, bool warning, const char *reason, const char *message,
		      const char *component, const char *instance, long long now_ns)
{
	const char *name = json_opt_str(ec, "metadata.name", "");
	const char *ns = json_opt_str(ec, "metadata.namespace", "default");
	char ev_name[320], ts[32], mt[40];
	snprintf(ev_name, sizeof(ev_name), "%s.%llx", name, (unsigned long long)now_ns);
	time_t s = (time_t)(now_ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	micro_time(now_ns, mt);

	json_object *e = json_object_new_object();
	json_object_object_add(e, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(e, "kind", json_object_new_string("Event"));
	json_object *md = json_object_new_object();
	json_object_object_add(md, "name", json_object_new_string(ev_name));
	json_object_object_add(md, "namespace", json_object_new_string(ns));
	json_object_object_add(e, "metadata", md);
	json_object *io = json_object_new_object();
	json_object_object_add(io, "apiVersion", json_object_new_string(EC_API_VERSION));
	json_object_object_add(io, "kind", json_object_new_string("EtcdCluster"));
	json_object_object_add(io, "name", json_object_new_string(name));
	json_object_object_add(io, "namespace", json_object_new_string(ns));
	json_object_object_add(io, "uid", json_object_new_string(json_opt_str(ec, "metadata.uid", "")));
	json_object_object_add(io, "resourceVersion",
			       json_object_new_string(json_opt_str(ec, "metadata.resourceVersion", "")));
	json_object_object_add(e, "involvedObject", io);
	json_object_object_add(e, "reason", json_object_new_string(reason));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "type", json_object_new_string(warning ? "Warning" : "Normal"));
	json_object *src = json_object_new_object();
	json_object_object_add(src, "component", json_object_new_string(component));
	json_object_object_add(e, "source", src);
	json_object_object_add(e, "reportingComponent", json_object_new_string(component));
	json_object_object_add(e, "reportingInstance", json_object_new_string(instance));
	json_object_object_add(e, "firstTimestamp", json_object_new_string(ts));
	json_object_object_add(e, "lastTimestamp", json_object_new_string(ts));
	json_object_object_add(e, "eventTime", json_object_new_string(mt));
	json_object_object_add(e, "action", json_object_new_string(reason));
	json_object_object_add(e, "count", json_object_new_int(1));
	return e;
}

void ev_emit(struct kube_client *kc, json_object *ec, bool warning, const char *reason,
	     const char *message, const char *instance)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	json_object *e = ev_build(ec, warning, reason, message, "etcd-controller", instance, ns);
	struct eo_err err = {0};
	char q[300];
	if (kube_create(kc, &KUBE_EVENTS, json_opt_str(ec, "metadata.namespace", "default"), e, NULL,
			&err) != 0)
		log_warn("event not recorded", "cluster=%s/%s reason=%s error=%s",
			 json_opt_str(ec, "metadata.namespace", ""), json_opt_str(ec, "metadata.name", ""),
			 reason, log_q(q, sizeof(q), err.msg));
	json_object_put(e);
}
