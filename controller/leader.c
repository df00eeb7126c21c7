/*
 * leader.c — Lease-based leader election (see leader.h).
 *
 * The one idea: the API server's resourceVersion is the lock. Taking or
 * renewing the Lease is a read followed by an update that carries the
 * resourceVersion read; of two replicas that race, one gets 409 and stays a
 * standby. Expiry is judged on the standby's own monotonic clock (how long
 * the record has stood unchanged), never by comparing wall clocks.
 */
#include "leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"

struct leader {
	struct kube_client *kc;
	char namespace[64], name[128], identity[128];
	int lease_s, renew_deadline_s, retry_s;
	struct leader_seen seen;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	void (*on_lost)(void *);
	void *ud;
};

bool leader_may_take(struct leader_seen *seen, json_object *lease, const char *me, int64_t now_ms)
{
	if (!lease)
		return true;
	const char *holder = json_opt_str(lease, "spec.holderIdentity", "");
	const char *renew = json_opt_str(lease, "spec.renewTime", "");
	const char *rv = json_opt_str(lease, "metadata.resourceVersion", "");
	int64_t dur = json_opt_int(lease, "spec.leaseDurationSeconds", 15);
	if (strcmp(seen->holder, holder) != 0 || strcmp(seen->renew_time, renew) != 0 ||
	    strcmp(seen->resource_version, rv) != 0 || !seen->changed_at_ms) {
		eo_strlcpy(seen->holder, holder, sizeof(seen->holder));
		eo_strlcpy(seen->renew_time, renew, sizeof(seen->renew_time));
		eo_strlcpy(seen->resource_version, rv, sizeof(seen->resource_version));
		seen->changed_at_ms = now_ms;
	}
	if (!holder[0] || strcmp(holder, me) == 0)
		return true;
	return now_ms - seen->changed_at_ms >= dur * 1000;
}

struct leader *leader_new(struct kube_client *kc, const struct leader_opts *o)
{
	struct leader *l = calloc(1, sizeof(*l));
	if (!l)
		abort();
	l->kc = kc;
	eo_strlcpy(l->namespace, o->namespace, sizeof(l->namespace));
	eo_strlcpy(l->name, o->name, sizeof(l->name));
	eo_strlcpy(l->identity, o->identity, sizeof(l->identity));
	l->lease_s = o->lease_s > 0 ? o->lease_s : 15;
	l->renew_deadline_s = o->renew_deadline_s > 0 ? o->renew_deadline_s : 10;
	l->retry_s = o->retry_s > 0 ? o->retry_s : 2;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	return l;
}

void leader_free(struct leader *l)
{
	if (!l)
		return;
	leader_release(l);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void micro_now(char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

/* One attempt: 1 held (taken or renewed), 0 held by another, -1 error. */
static int try_take(struct leader *l, struct eo_err *err)
{
	json_object *lease = NULL;
	char now[40];
	micro_now(now);
	if (kube_get(l->kc, &KUBE_LEASES, l->namespace, l->name, &lease, err) != 0) {
		if (err->code != EO_HTTP_NOT_FOUND)
			return -1;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
		json_object_object_add(o, "kind", json_object_new_string("Lease"));
		json_object *md = json_object_new_object();
		json_object_object_add(md, "name", json_object_new_string(l->name));
		json_object_object_add(md, "namespace", json_object_new_string(l->namespace));
		json_object_object_add(o, "metadata", md);
		json_object *spec = json_object_new_object();
		json_object_object_add(spec, "holderIdentity", json_object_new_string(l->identity));
		json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(l->lease_s));
		json_object_object_add(spec, "acquireTime", json_object_new_string(now));
		json_object_object_add(spec, "renewTime", json_object_new_string(now));
		json_object_object_add(spec, "leaseTransitions", json_object_new_int(0));
		json_object_object_add(o, "spec", spec);
		int rc = kube_create(l->kc, &KUBE_LEASES, l->namespace, o, NULL, err);
		json_object_put(o);
		if (rc == 0)
			return 1;
		return err->code == EO_HTTP_CONFLICT ? 0 : -1;
	}
	if (!leader_may_take(&l->seen, lease, l->identity, eo_now_ms())) {
		json_object_put(lease);
		return 0;
	}
	const char *holder = json_opt_str(lease, "spec.holderIdentity", "");
	bool mine = strcmp(holder, l->identity) == 0;
	json_object *spec = json_at(lease, "spec");
	if (!spec || !json_object_is_type(spec, json_type_object)) {
		spec = json_object_new_object();
		json_object_object_add(lease, "spec", spec);
	}
	json_object_object_add(spec, "holderIdentity", json_object_new_string(l->identity));
	json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(l->lease_s));
	json_object_object_add(spec, "renewTime", json_object_new_string(now));
	if (!mine) {
		json_object_object_add(spec, "acquireTime", json_object_new_string(now));
		json_object_object_add(spec, "leaseTransitions",
				       json_object_new_int64(json_opt_int(lease, "spec.leaseTransitions", 0) + 1));
	}
	int rc = kube_update(l->kc, &KUBE_LEASES, l->namespace, l->name, NULL, lease, NULL, err);
	json_object_put(lease);
	if (rc == 0)
		return 1;
	return err->code == EO_HTTP_CONFLICT ? 0 : -1;
}

int leader_acquire(struct leader *l, volatile sig_atomic_t *stop, struct eo_err *err)
{
	bool said = false;
	char q[300];
	while (!(stop && *stop)) {
		struct eo_err e = {0};
		int r = try_take(l, &e);
		if (r == 1) {
			log_info("leading", "lease=%s/%s identity=%s", l->namespace, l->name, l->identity);
			return 0;
		}
		if (r < 0)
			log_warn("lease not reachable", "lease=%s/%s error=%s", l->namespace, l->name,
				 log_q(q, sizeof(q), e.msg));
		else if (!said)
			log_info("standing by", "lease=%s/%s holder=%s", l->namespace, l->name,
				 l->seen.holder[0] ? l->seen.holder : "(racing)");
		said = said || r == 0;
		eo_nap_ms(l->retry_s * 1000LL, stop);
	}
	return eo_err_set(err, EO_ECANCELED, "stopped while waiting for the Lease %s/%s",
			  l->namespace, l->name);
}

static void *renew_loop(void *arg)
{
	struct leader *l = arg;
	int64_t last_ok = eo_now_ms();
	char q[300];
	pthread_mutex_lock(&l->mu);
	while (!l->stopping) {
		struct timespec ts;
		int64_t wake = eo_now_ms() + (int64_t)l->retry_s * 1000;
		ts.tv_sec = wake / 1000;
		ts.tv_nsec = (long)(wake % 1000) * 1000000L;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stopping)
			break;
		pthread_mutex_unlock(&l->mu);
		struct eo_err e = {0};
		int r = try_take(l, &e);
		int64_t now = eo_now_ms();
		bool lost = false;
		if (r == 1) {
			last_ok = now;
		} else if (r == 0) {
			log_error("lease taken by another replica", "lease=%s/%s holder=%s", l->namespace,
				  l->name, l->seen.holder);
			lost = true;
		} else {
			log_warn("lease renewal failed", "lease=%s/%s error=%s", l->namespace, l->name,
				 log_q(q, sizeof(q), e.msg));
			lost = now - last_ok >= (int64_t)l->renew_deadline_s * 1000;
		}
		pthread_mutex_lock(&l->mu);
		if (lost && !l->stopping) {
			l->stopping = true;
			pthread_mutex_unlock(&l->mu);
			log_error("leadership lost", "lease=%s/%s last_renewal_ms_ago=%lld",
				  l->namespace, l->name, (long long)(now - last_ok));
			if (l->on_lost)
				l->on_lost(l->ud);
			return NULL;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int leader_start_renewing(struct leader *l, void (*on_lost)(void *ud), void *ud,
			  struct eo_err *err)
{
	l->on_lost = on_lost;
	l->ud = ud;
	l->stopping = false;
	if (pthread_create(&l->thread, NULL, renew_loop, l) != 0)
		return eo_err_set(err, EO_ESYS, "cannot start the Lease renewal thread");
	l->running = true;
	return 0;
}

void leader_release(struct leader *l)
{
	if (!l->running)
		return;
	pthread_mutex_lock(&l->mu);
	bool was_lost = l->stopping;
	l->stopping = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	l->running = false;
	if (was_lost)
		return;
	json_object *lease = NULL;
	struct eo_err err = {0};
	char q[300], now[40];
	if (kube_get(l->kc, &KUBE_LEASES, l->namespace, l->name, &lease, &err) == 0) {
		if (strcmp(json_opt_str(lease, "spec.holderIdentity", ""), l->identity) == 0) {
			micro_now(now);
			json_object *spec = json_at(lease, "spec");
			json_object_object_add(spec, "holderIdentity", json_object_new_string(""));
			json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(1));
			json_object_object_add(spec, "renewTime", json_object_new_string(now));
			if (kube_update(l->kc, &KUBE_LEASES, l->namespace, l->name, NULL, lease, NULL,
					&err) == 0)
				log_info("lease released", "lease=%s/%s", l->namespace, l->name);
		}
		json_object_put(lease);
	}
	if (err.code)
		log_warn("lease not released", "lease=%s/%s error=%s", l->namespace, l->name,
			 log_q(q, sizeof(q), err.msg));
}
