/*
 * scale_follow.c — after the write: follow the scale step by step through a
 * watch on the EtcdCluster, and end it in a state that is safe to leave.
 *
 * The one idea: the plugin never holds anything the cluster needs. The
 * controller drives every step and moves spec.replicas after each settled
 * one; the plugin only watches (an informer, so an expired watch resumes) and
 * derives the display from the snapshots (progress.c). A watchdog thread
 * turns Ctrl-C and the two deadlines into the informer's stop flag, so the
 * plugin cannot hang on a controller that is not there. On Ctrl-C it removes
 * the target annotation it wrote: the controller then finishes only the step
 * in flight (a step is never cut in half) and the cluster stays at that
 * size; the message says exactly how to resume.
 */
#include "scale.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "render.h"
#include "term.h"

enum stop_reason { STOP_NONE, STOP_INTERRUPT, STOP_STEP, STOP_TOTAL };

struct follow {
	struct scale_run *r;
	struct progress pg;
	enum progress_result result;
	bool deleted;
	int64_t started_ms;

	/* shared with the watchdog */
	volatile sig_atomic_t stop;
	_Atomic int64_t step_deadline_ms, total_deadline_ms;
	_Atomic int why;
	_Atomic bool quit;
};

static void *watchdog(void *arg)
{
	struct follow *f = arg;
	while (!atomic_load(&f->quit)) {
		int64_t now = eo_now_ms();
		int why = STOP_NONE;
		if (pl_interrupted)
			why = STOP_INTERRUPT;
		else if (now >= atomic_load(&f->total_deadline_ms))
			why = STOP_TOTAL;
		else if (now >= atomic_load(&f->step_deadline_ms))
			why = STOP_STEP;
		if (why != STOP_NONE) {
			atomic_store(&f->why, why);
			f->stop = 1;
			break;
		}
		eo_sleep_ms(50);
	}
	return NULL;
}

static void feed(struct follow *f, const struct etcd_cluster *c)
{
	struct eo_buf out = {0};
	f->result = progress_feed(&f->pg, c, eo_now_ms(), &out);
	if (out.len) {
		fwrite(out.data, 1, out.len, stdout);
		fflush(stdout);
	}
	eo_buf_free(&out);
	int64_t d = f->pg.step_started_ms + f->r->o->step_timeout_ms;
	atomic_store(&f->step_deadline_ms, d);
}

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct follow *f = ud;
	if (ev == KUBE_EV_SYNCED)
		return 0;
	if (strcmp(json_opt_str(obj, "metadata.name", ""), f->r->o->name) != 0)
		return 0;
	if (ev == KUBE_EV_DELETED) {
		f->deleted = true;
		return 1;
	}
	struct etcd_cluster c;
	struct eo_err err;
	if (cluster_parse(obj, &c, &err) != 0) {
		pl_warn("etcdcluster %s changed into something unreadable: %s", f->r->o->name,
			err.msg);
		return 0;
	}
	f->r->c = c;
	feed(f, &c);
	return f->result != PROGRESS_WAITING;
}

static const char *operator_says(const struct etcd_cluster *c)
{
	if (c->status.scaling.active && c->status.scaling.message[0])
		return c->status.scaling.message;
	const struct ec_condition *k = cluster_condition(&c->status, "Progressing");
	return k && k->message[0] ? k->message : NULL;
}

/* The next commands, on stderr after a failure or a timeout. */
static void next_steps(const struct scale_run *r)
{
	char cmd[400];
	scale_cmd_text(r, "status", cmd, sizeof(cmd));
	fprintf(stderr, "Follow it:     %s --watch\n", cmd);
	if (r->c.target >= 0)
		fprintf(stderr, "Stop it after the step in flight:\n  kubectl annotate etcdcluster %s%s%s %s-\n",
			r->o->name, strcmp(r->ns, "default") ? " -n " : "",
			strcmp(r->ns, "default") ? r->ns : "", EC_ANN_TARGET);
}

static int timed_out(struct follow *f, int why)
{
	const struct scale_run *r = f->r;
	const struct etcd_cluster *c = &r->c;
	char dur[32];
	if (why == STOP_STEP) {
		dur_text(r->o->step_timeout_ms, dur, sizeof(dur));
		pl_fail("step %d/%d (%d \xe2\x86\x92 %d) did not finish within %s (--step-timeout)",
			f->pg.step, f->pg.nsteps, f->pg.step_from, f->pg.step_to, dur);
	} else {
		dur_text(r->o->timeout_ms, dur, sizeof(dur));
		pl_fail("the scale did not finish within %s (--timeout)", dur);
	}
	fprintf(stderr, "Reached: %s.\n", f->pg.reached);
	const char *says = operator_says(c);
	char safe[1100];
	if (says)
		fprintf(stderr, "The operator reports: %s\n", term_safe(safe, sizeof(safe), says));
	if (c->status.observed_generation != c->generation)
		fprintf(stderr, "Nothing has acted on the change: status.observedGeneration is %lld, "
			"the object's generation %lld. Is etcd-controller running (kubectl get pods "
			"-n etcd-operator-system)?\n", (long long)c->status.observed_generation,
			(long long)c->generation);
	fprintf(stderr, "The request stays recorded (spec.replicas %lld%s%s): the operator goes on "
		"when it can.\n", (long long)c->spec.replicas, c->target >= 0 ? ", target " : "",
		c->target >= 0 ? term_safe(safe, sizeof(safe), c->target_raw) : "");
	next_steps(r);
	return PL_EXIT_FAIL;
}

static int interrupted(struct follow *f)
{
	struct scale_run *r = f->r;
	printf("\nInterrupted: stopped waiting at %s.\n", f->pg.reached);
	char cmd[400];
	scale_cmd_text(r, "scale", cmd, sizeof(cmd));
	if (r->mode == SCALE_FOLLOW) {
		printf("This command wrote nothing: the change in flight goes on.\n");
		printf("To follow it again: %s --replicas %lld\n", cmd, (long long)r->o->replicas);
		return PL_EXIT_INTERRUPTED;
	}
	if (r->c.target >= 0 || r->wrote_target) {
		char patch[256];
		snprintf(patch, sizeof(patch), "{\"metadata\":{\"annotations\":{\"%s\":null}}}",
			 EC_ANN_TARGET);
		struct eo_err err;
		json_object *out = NULL;
		if (kube_patch(r->kc, &KUBE_ETCDCLUSTERS, r->ns, r->o->name, NULL, KUBE_PATCH_MERGE,
			       patch, &out, &err) != 0) {
			pl_fail("could not remove the target annotation (%s), so the operator would go "
				"on to %lld. To stop after the step in flight:", err.msg,
				(long long)r->o->replicas);
			fprintf(stderr, "  kubectl annotate etcdcluster %s -n %s %s-\n", r->o->name,
				r->ns, EC_ANN_TARGET);
		} else {
			struct etcd_cluster c;
			struct eo_err perr;
			if (cluster_parse(out, &c, &perr) == 0)
				r->c = c;
			printf("Removed the target annotation: the operator finishes only the step in "
			       "flight, and %s/%s stays at %lld member%s.\n", r->ns, r->o->name,
			       (long long)r->c.spec.replicas, r->c.spec.replicas == 1 ? "" : "s");
		}
		json_object_put(out);
	} else {
		printf("The operator finishes the step in flight; %s/%s ends at %lld member%s.\n",
		       r->ns, r->o->name, (long long)r->c.spec.replicas,
		       r->c.spec.replicas == 1 ? "" : "s");
	}
	printf("To resume: %s --replicas %lld\n", cmd, (long long)r->o->replicas);
	return PL_EXIT_INTERRUPTED;
}

int scale_follow(struct scale_run *r)
{
	struct follow *f = calloc(1, sizeof(*f));
	if (!f)
		return pl_fail("out of memory");
	f->r = r;
	f->started_ms = eo_now_ms();
	atomic_store(&f->total_deadline_ms, f->started_ms + r->o->timeout_ms);
	atomic_store(&f->step_deadline_ms, f->started_ms + r->o->step_timeout_ms);
	progress_init(&f->pg, r->o->name, r->from, (int)r->o->replicas, f->started_ms);
	feed(f, &r->c);

	pthread_t dog;
	bool dog_started = false;
	struct eo_err err = {0};
	int rc = 0;
	if (f->result == PROGRESS_WAITING) {
		dog_started = pthread_create(&dog, NULL, watchdog, f) == 0;
		if (!dog_started) {
			free(f);
			return pl_fail("cannot start the watchdog thread");
		}
		rc = kube_informer_run(r->kc, &KUBE_ETCDCLUSTERS, r->ns, NULL, on_event, f, &f->stop,
				       &err);
		atomic_store(&f->quit, true);
		pthread_join(dog, NULL);
	}
	int why = atomic_load(&f->why);
	int code;
	char took[32];
	dur_text(eo_now_ms() - f->started_ms, took, sizeof(took));
	if (f->result == PROGRESS_DONE) {
		printf("Done: %s/%s has %lld member%s (%s).\n", r->ns, r->o->name,
		       (long long)r->o->replicas, r->o->replicas == 1 ? "" : "s", took);
		code = PL_EXIT_OK;
	} else if (f->result == PROGRESS_FAILED) {
		pl_fail("%s", f->pg.failure);
		fprintf(stderr, "Reached: %s. The operator retries after a back-off or when the spec "
			"changes.\n", f->pg.reached);
		next_steps(r);
		code = PL_EXIT_FAIL;
	} else if (f->deleted) {
		code = pl_fail("etcdcluster %s/%s was deleted while scaling", r->ns, r->o->name);
	} else if (why == STOP_INTERRUPT || pl_interrupted) {
		code = interrupted(f);
	} else if (why == STOP_STEP || why == STOP_TOTAL) {
		code = timed_out(f, why);
	} else {
		code = pl_fail("watching etcdcluster %s/%s: %s", r->ns, r->o->name,
			       rc != 0 ? err.msg : "the watch ended");
		next_steps(r);
	}
	free(f);
	return code;
}
