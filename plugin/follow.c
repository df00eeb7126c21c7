/*
 * follow.c — the I/O half of `upgrade`, `suspend` and `resume`: read the
 * cluster, write one merge patch, and follow the controller's work through
 * a watch until the pure watcher (lifecycle.c) says done or stuck.
 *
 * The one idea, as in scale_follow.c: the plugin holds nothing the cluster
 * needs, so it can stop following at any moment. An informer (an expired
 * watch resumes by itself) feeds the watcher; a watchdog thread turns
 * Ctrl-C and the deadline into the informer's stop flag, so no controller
 * that is missing can make the plugin hang.
 */
#include "lifecycle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int lc_read(struct kube_client *kc, const char *ns, const char *name, struct etcd_cluster *c,
	    struct eo_err *err)
{
	json_object *obj = NULL;
	int64_t t0 = eo_now_ms();
	int got = kube_get(kc, &KUBE_ETCDCLUSTERS, ns, name, &obj, err);
	pl_log_call("GET", "etcdcluster", t0, got, err);
	if (got != 0)
		return -1;
	int rc = cluster_parse(obj, c, err);
	json_object_put(obj);
	if (rc != 0) {
		eo_err_prefix(err, "etcdcluster %s/%s: ", ns, name);
		err->code = EO_EPARSE;
	}
	return rc;
}

int lc_patch(struct kube_client *kc, const char *ns, const char *name, const char *patch,
	     bool dry, struct etcd_cluster *c, struct eo_err *err)
{
	int64_t t0 = eo_now_ms();
	json_object *out = NULL;
	int rc;
	if (dry) {
		char *base = kube_path(&KUBE_ETCDCLUSTERS, ns, name, NULL);
		char *path = base ? eo_strdupf("%s?dryRun=All", base) : NULL;
		rc = path ? kube_request(kc, "PATCH", path, "application/merge-patch+json", patch,
					 &out, err)
			  : eo_err_set(err, EO_ENOMEM, "out of memory");
		free(path);
		free(base);
	} else {
		rc = kube_patch(kc, &KUBE_ETCDCLUSTERS, ns, name, NULL, KUBE_PATCH_MERGE, patch, &out,
				err);
	}
	pl_log_call("PATCH", dry ? "etcdcluster?dryRun=All" : "etcdcluster", t0, rc, err);
	if (rc == 0 && !dry) {
		struct eo_err perr;
		if (cluster_parse(out, c, &perr) != 0)
			pl_warn("the server's answer could not be read: %s", perr.msg);
	}
	json_object_put(out);
	return rc;
}

void lc_cmd_text(const char *verb, const char *name, const char *ns, char *out, size_t size)
{
	if (strcmp(ns, "default") == 0)
		snprintf(out, size, "kubectl etcd %s %s", verb, name);
	else
		snprintf(out, size, "kubectl etcd %s %s -n %s", verb, name, ns);
}

struct follow {
	const char *name;
	struct lc_watch *w;
	struct etcd_cluster *c;
	enum lc_result result;
	bool deleted;
	int64_t deadline_ms;

	/* shared with the watchdog */
	volatile sig_atomic_t stop;
	_Atomic bool quit, timed_out;
};

static void *watchdog(void *arg)
{
	struct follow *f = arg;
	while (!atomic_load(&f->quit)) {
		if (pl_interrupted) {
			f->stop = 1;
			break;
		}
		if (eo_now_ms() >= f->deadline_ms) {
			atomic_store(&f->timed_out, true);
			f->stop = 1;
			break;
		}
		eo_sleep_ms(50);
	}
	return NULL;
}

static void feed(struct follow *f)
{
	struct eo_buf out = {0};
	f->result = lc_watch_feed(f->w, f->c, eo_now_ms(), &out);
	if (out.len) {
		fwrite(out.data, 1, out.len, stdout);
		fflush(stdout);
	}
	eo_buf_free(&out);
}

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct follow *f = ud;
	if (ev == KUBE_EV_SYNCED)
		return 0;
	if (strcmp(json_opt_str(obj, "metadata.name", ""), f->name) != 0)
		return 0;
	if (ev == KUBE_EV_DELETED) {
		f->deleted = true;
		return 1;
	}
	struct etcd_cluster c;
	struct eo_err err;
	if (cluster_parse(obj, &c, &err) != 0) {
		pl_warn("etcdcluster %s changed into something unreadable: %s", f->name, err.msg);
		return 0;
	}
	*f->c = c;
	feed(f);
	return f->result != LC_WAITING;
}

enum lc_outcome lc_follow(struct kube_client *kc, const char *ns, const char *name,
			  struct lc_watch *w, struct etcd_cluster *c, int64_t timeout_ms,
			  struct eo_err *err)
{
	struct follow *f = calloc(1, sizeof(*f));
	if (!f) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
		return LC_OUT_ERROR;
	}
	f->name = name;
	f->w = w;
	f->c = c;
	f->deadline_ms = eo_now_ms() + timeout_ms;
	feed(f);
	int rc = 0;
	if (f->result == LC_WAITING) {
		pthread_t dog;
		if (pthread_create(&dog, NULL, watchdog, f) != 0) {
			free(f);
			eo_err_set(err, EO_ENOMEM, "cannot start the watchdog thread");
			return LC_OUT_ERROR;
		}
		rc = kube_informer_run(kc, &KUBE_ETCDCLUSTERS, ns, NULL, on_event, f, &f->stop, err);
		atomic_store(&f->quit, true);
		pthread_join(dog, NULL);
	}
	enum lc_outcome out;
	if (f->result == LC_DONE)
		out = LC_OUT_DONE;
	else if (f->result == LC_STALLED)
		out = LC_OUT_STALLED;
	else if (f->deleted)
		out = LC_OUT_DELETED;
	else if (pl_interrupted)
		out = LC_OUT_INTERRUPTED;
	else if (atomic_load(&f->timed_out))
		out = LC_OUT_TIMEOUT;
	else {
		if (rc == 0)
			eo_err_set(err, EO_ETRANSPORT, "the watch ended");
		out = LC_OUT_ERROR;
	}
	free(f);
	return out;
}
