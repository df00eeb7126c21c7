/*
 * kube_watch.c — watch streams and the informer loop built on them.
 *
 * The one idea: a watch is just a long GET whose body is fed, chunk by chunk,
 * to the line framer (kube_stream.c), and the informer is a small state
 * machine around it — list, watch from the list's resourceVersion, resume
 * from the last one seen, relist when the server says it is too old (410) —
 * that keeps the set of objects it has reported. That set is what lets a
 * relist report the objects that vanished while the watch was broken as
 * DELETED, so a consumer's view never keeps a ghost.
 */
#include "kube_impl.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

struct watch_state {
	kube_watch_fn fn;
	void *ud;
	struct kube_lines *lines;
	char last_rv[64];
	struct eo_err err;
	int failed;  /* err holds why */
	int stopped; /* fn asked to stop */
};

static int on_doc(json_object *doc, void *ud)
{
	struct watch_state *st = ud;
	int r = kube_watch_event(doc, st->last_rv, st->fn, st->ud, &st->err);
	if (r < 0)
		st->failed = 1;
	else if (r > 0)
		st->stopped = 1;
	return r != 0;
}

static int on_data(const char *p, size_t n, void *ud)
{
	struct watch_state *st = ud;
	int r = kube_lines_feed(st->lines, p, n, on_doc, st, &st->err);
	if (r < 0)
		st->failed = 1;
	return r != 0;
}

int kube_watch(struct kube_client *kc, const struct kube_res *res, const char *ns,
	       struct kube_watch_opts *opts, kube_watch_fn fn, void *ud, struct eo_err *err)
{
	struct kube_watch_opts none = {0};
	if (!opts)
		opts = &none;
	struct watch_state st = {.fn = fn, .ud = ud, .lines = kube_lines_new(0)};
	if (!st.lines)
		return eo_err_set(err, EO_ENOMEM, "out of memory");
	if (opts->resource_version)
		eo_strlcpy(st.last_rv, opts->resource_version, sizeof(st.last_rv));
	char *path = kube_watch_path(res, ns, opts);
	long secs = opts->timeout_seconds > 0 ? opts->timeout_seconds : 300;
	struct kube_call call = {
		.method = "GET", .path = path, .stream = 1,
		/* The server ends the watch after timeoutSeconds; this only
		 * bounds a server that forgets to. */
		.stream_ms = (secs + 30) * 1000,
		.on_data = on_data, .data_ud = &st, .stop = opts->stop,
	};
	int rc = kube_call_run(kc, &call, err);
	if (st.failed) {
		rc = -1;
		if (err)
			*err = st.err;
	} else if (st.stopped) {
		rc = eo_err_set(err, EO_ECANCELED, "watch %s: stopped by the caller", res->plural);
	} else if (rc == 0) {
		int r = kube_lines_finish(st.lines, on_doc, &st, err);
		if (r < 0 || st.failed) {
			rc = -1;
			if (err && st.failed)
				*err = st.err;
		} else if (r > 0) {
			rc = eo_err_set(err, EO_ECANCELED, "watch %s: stopped by the caller",
					res->plural);
		}
	}
	if (opts->last_rv && st.last_rv[0])
		memmove(opts->last_rv, st.last_rv, strlen(st.last_rv) + 1);
	kube_call_done(&call);
	kube_lines_free(st.lines);
	free(path);
	return rc;
}

/* ---- informer ---- */

struct informer {
	struct kube_client *kc;
	const struct kube_res *res;
	kube_watch_fn fn;
	void *ud;
	json_object *known; /* key → last object reported (a reference) */
	long events;        /* delivered by the current watch */
	int fn_stopped;
};

/* uid when there is one; namespace/name otherwise. */
static void obj_key(json_object *obj, char *out, size_t size)
{
	const char *uid = json_opt_str(obj, "metadata.uid", "");
	if (*uid)
		snprintf(out, size, "%s", uid);
	else
		snprintf(out, size, "%s/%s", json_opt_str(obj, "metadata.namespace", ""),
			 json_opt_str(obj, "metadata.name", ""));
}

static int deliver(struct informer *inf, enum kube_event ev, json_object *obj)
{
	if (inf->fn && inf->fn(ev, obj, inf->ud) != 0) {
		inf->fn_stopped = 1;
		return 1;
	}
	return 0;
}

static int on_watch_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct informer *inf = ud;
	char key[512];
	obj_key(obj, key, sizeof(key));
	if (ev == KUBE_EV_DELETED)
		json_object_object_del(inf->known, key);
	else
		json_object_object_add(inf->known, key, json_object_get(obj));
	inf->events++;
	return deliver(inf, ev, obj);
}

/* List, report what changed against what was known, then SYNCED. rv gets
 * the list's resourceVersion. 0, 1 when fn stopped, -1 on error. */
static int relist(struct informer *inf, const char *ns, const char *selector, char *rv,
		  struct eo_err *err)
{
	json_object *list = NULL;
	if (kube_list(inf->kc, inf->res, ns, selector, &list, err) != 0)
		return -1;
	json_object *items = json_at(list, "items");
	if (!list || (items && !json_object_is_type(items, json_type_array))) {
		json_object_put(list);
		return eo_err_set(err, EO_EPARSE, "list %s: the answer has no items array",
				  inf->res->plural);
	}
	eo_strlcpy(rv, json_opt_str(list, "metadata.resourceVersion", ""), 64);
	const char *api_version = *inf->res->group
					  ? NULL
					  : inf->res->version;
	char gv[128];
	if (!api_version) {
		snprintf(gv, sizeof(gv), "%s/%s", inf->res->group, inf->res->version);
		api_version = gv;
	}
	json_object *now = json_object_new_object();
	size_t n = items ? json_object_array_length(items) : 0;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *item = json_object_array_get_idx(items, i);
		/* List items carry no apiVersion/kind; watch objects do. */
		if (!json_at(item, "kind"))
			json_object_object_add(item, "kind", json_object_new_string(inf->res->kind));
		if (!json_at(item, "apiVersion"))
			json_object_object_add(item, "apiVersion", json_object_new_string(api_version));
		char key[512];
		obj_key(item, key, sizeof(key));
		json_object *old = NULL;
		json_object_object_get_ex(inf->known, key, &old);
		json_object_object_add(now, key, json_object_get(item));
		if (!old)
			rc = deliver(inf, KUBE_EV_ADDED, item);
		else if (strcmp(json_opt_str(old, "metadata.resourceVersion", ""),
				json_opt_str(item, "metadata.resourceVersion", "")))
			rc = deliver(inf, KUBE_EV_MODIFIED, item);
	}
	/* What was known and is gone went away while we were not watching. */
	json_object_object_foreach(inf->known, key, old)
	{
		if (rc == 0 && !json_object_object_get_ex(now, key, NULL))
			rc = deliver(inf, KUBE_EV_DELETED, old);
	}
	json_object_put(inf->known);
	inf->known = now;
	if (rc == 0)
		rc = deliver(inf, KUBE_EV_SYNCED, NULL);
	json_object_put(list);
	return rc;
}

#define INFORMER_BACKOFF_MIN_MS 500
#define INFORMER_BACKOFF_MAX_MS 30000

static long grow(long backoff)
{
	return backoff * 2 > INFORMER_BACKOFF_MAX_MS ? INFORMER_BACKOFF_MAX_MS : backoff * 2;
}

int kube_informer_run(struct kube_client *kc, const struct kube_res *res, const char *ns,
		      const char *label_selector, kube_watch_fn fn, void *ud,
		      volatile sig_atomic_t *stop, struct eo_err *err)
{
	struct informer inf = {.kc = kc, .res = res, .fn = fn, .ud = ud,
			       .known = json_object_new_object()};
	char rv[64] = "";
	long backoff = INFORMER_BACKOFF_MIN_MS;
	int need_list = 1, rc = 0;
	unsigned seed = (unsigned)eo_now_ms();
	char q[300];
	while (!(stop && *stop)) {
		struct eo_err e = {0};
		if (need_list) {
			int r = relist(&inf, ns, label_selector, rv, &e);
			if (r > 0)
				break;
			if (r < 0) {
				log_warn("list failed; retrying", "resource=%s retry_in_ms=%ld error=%s",
					 res->plural, backoff, log_q(q, sizeof(q), e.msg));
				eo_nap_ms(backoff, stop);
				backoff = grow(backoff);
				continue;
			}
			need_list = 0;
			backoff = INFORMER_BACKOFF_MIN_MS;
		}
		/* Spread watch lengths so many informers do not reconnect together. */
		struct kube_watch_opts wo = {
			.label_selector = label_selector, .resource_version = rv,
			.timeout_seconds = 300 + rand_r(&seed) % 300, .stop = stop, .last_rv = rv,
		};
		int64_t t0 = eo_now_ms();
		inf.events = 0;
		int r = kube_watch(kc, res, ns, &wo, on_watch_event, &inf, &e);
		if (inf.fn_stopped || (stop && *stop))
			break;
		if (r == 0) {
			/* A server closing at once, again and again, must not spin us. */
			if (inf.events == 0 && eo_now_ms() - t0 < 1000) {
				eo_nap_ms(backoff, stop);
				backoff = grow(backoff);
			} else {
				backoff = INFORMER_BACKOFF_MIN_MS;
			}
			continue;
		}
		if (e.code == EO_HTTP_GONE) {
			log_info("watch expired; relisting", "resource=%s rv=%s", res->plural, rv);
			need_list = 1;
			continue;
		}
		log_warn("watch failed; retrying", "resource=%s retry_in_ms=%ld error=%s", res->plural,
			 backoff, log_q(q, sizeof(q), e.msg));
		eo_nap_ms(backoff, stop);
		backoff = grow(backoff);
	}
	if (inf.fn_stopped)
		rc = eo_err_set(err, EO_ECANCELED, "informer %s: stopped by the callback", res->plural);
	json_object_put(inf.known);
	return rc;
}
