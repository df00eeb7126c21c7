/*
 * suspend.c — `kubectl etcd suspend NAME` and `kubectl etcd resume NAME`:
 * set spec.suspended, and with --wait follow until the cluster is Suspended
 * (every Pod stopped, volumes and membership kept) or Running again with
 * every member ready.
 *
 * The one idea: the two are one field and one asymmetry. Suspending makes
 * the cluster unavailable, so it is judged by the admission rules first
 * (only a settled cluster) and asked for; resuming only gives service
 * back, so it never asks. Both write a merge patch carrying the
 * resourceVersion that was read, so the judgement holds for the object the
 * write changes.
 */
#include "lifecycle.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

#define DEFAULT_TIMEOUT_MS (10 * 60 * 1000)
#define MAX_CONFLICTS 5

size_t suspend_flags(struct suspend_opts *o, bool resume, struct cli_flag *out, size_t max)
{
	const struct cli_flag suspend_own[] = {
		CLI_FLAG("yes", 'y', CLI_BOOL, &o->yes, NULL, "proceed without asking (required when stdin is not a terminal)"),
		CLI_FLAG("wait", 'w', CLI_BOOL, &o->wait, NULL, "follow until every member is stopped (phase Suspended)"),
		CLI_FLAG("timeout", 0, CLI_DURATION, &o->timeout_ms, "DURATION", "with --wait: stop following after this long (default 10m)"),
	};
	const struct cli_flag resume_own[] = {
		CLI_FLAG("wait", 'w', CLI_BOOL, &o->wait, NULL, "follow until the cluster is Running with every member ready"),
		CLI_FLAG("timeout", 0, CLI_DURATION, &o->timeout_ms, "DURATION", "with --wait: stop following after this long (default 10m)"),
	};
	if (resume)
		return pl_own_then_global_flags(resume_own, EO_ARRAY_LEN(resume_own), &o->g, out, max);
	return pl_own_then_global_flags(suspend_own, EO_ARRAY_LEN(suspend_own), &o->g, out, max);
}

int suspend_parse(int argc, char **argv, bool resume, struct suspend_opts *o, bool *help,
		  struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	o->resume = resume;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	const char *cmd = resume ? "resume" : "suspend";
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = suspend_flags(o, resume, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos > 1)
		return eo_err_set(err, EO_EINVAL, "%s takes one cluster NAME, got %d arguments", cmd,
				  p.npos);
	if (p.npos == 0)
		return eo_err_set(err, EO_EINVAL, "%s needs the NAME of a cluster (kubectl etcd %s "
				  "NAME)", cmd, cmd);
	o->name = p.pos[0];
	if (o->g.all_namespaces)
		return eo_err_set(err, EO_EINVAL, "%s works on one cluster: name its namespace with "
				  "-n instead of -A/--all-namespaces", cmd);
	if (o->timeout_ms <= 0)
		return eo_err_set(err, EO_EINVAL, "--timeout must be longer than 0");
	return 0;
}

struct suspend_run {
	struct suspend_opts *o;
	struct kube_client *kc;
	const char *ns;
	struct etcd_cluster c;
};

static int judge(const struct suspend_run *r)
{
	struct etcd_cluster want = r->c, mutated;
	want.spec.suspended = !r->o->resume;
	struct policy_request req = {.op = POLICY_UPDATE, .old = &r->c, .new = &want};
	struct policy_decision d;
	policy_admit(&req, &d, &mutated);
	if (!d.allowed) {
		pl_fail("refused by the admission rules (nothing was written): %s", d.reason);
		return -1;
	}
	for (int i = 0; i < d.nwarnings; i++)
		pl_warn("%s", d.warnings[i]);
	return 0;
}

static int write_flag(struct suspend_run *r)
{
	for (int attempt = 0;; attempt++) {
		char *patch = eo_strdupf("{\"metadata\":{\"resourceVersion\":\"%s\"},"
					 "\"spec\":{\"suspended\":%s}}", r->c.resource_version,
					 r->o->resume ? "false" : "true");
		if (!patch)
			return pl_fail("out of memory");
		struct eo_err err;
		int rc = lc_patch(r->kc, r->ns, r->o->name, patch, false, &r->c, &err);
		free(patch);
		if (rc == 0)
			return PL_EXIT_OK;
		if (err.code != EO_HTTP_CONFLICT || attempt + 1 >= MAX_CONFLICTS)
			return pl_api_fail(&err, r->o->name, r->ns);
		if (lc_read(r->kc, r->ns, r->o->name, &r->c, &err) != 0)
			return err.code == EO_EPARSE ? pl_fail("%s", err.msg)
						     : pl_api_fail(&err, r->o->name, r->ns);
		if (r->c.spec.suspended == !r->o->resume)
			return PL_EXIT_OK; /* someone else wrote it meanwhile */
		if (judge(r) != 0)
			return PL_EXIT_FAIL;
	}
}

static int follow(struct suspend_run *r, int64_t generation)
{
	const struct suspend_opts *o = r->o;
	struct lc_watch w;
	int64_t t0 = eo_now_ms();
	lc_watch_init(&w, o->resume ? LC_RESUME : LC_SUSPEND, NULL, generation, t0);
	struct eo_err err = {0};
	enum lc_outcome out = lc_follow(r->kc, r->ns, o->name, &w, &r->c, o->timeout_ms, &err);
	char took[32], status[400], dur[32];
	dur_text(eo_now_ms() - t0, took, sizeof(took));
	lc_cmd_text("status", o->name, r->ns, status, sizeof(status));
	const char *what = o->resume ? "resuming" : "suspending";
	switch (out) {
	case LC_OUT_DONE:
		if (o->resume)
			printf("Done: %s/%s is Running, %d of %d members ready (%s).\n", r->ns, o->name,
			       r->c.status.ready_replicas, (int)r->c.spec.replicas, took);
		else
			printf("Done: %s/%s is Suspended: every member stopped, volumes kept (%s).\n",
			       r->ns, o->name, took);
		return PL_EXIT_OK;
	case LC_OUT_STALLED:
		pl_fail("%s", w.stall);
		fprintf(stderr, "See: %s\n", status);
		return PL_EXIT_FAIL;
	case LC_OUT_INTERRUPTED:
		printf("\nInterrupted: stopped following; %s goes on.\nFollow it:  %s --watch\n",
		       what, status);
		return PL_EXIT_INTERRUPTED;
	case LC_OUT_TIMEOUT:
		dur_text(o->timeout_ms, dur, sizeof(dur));
		pl_fail("%s %s/%s did not finish within %s (--timeout); spec.suspended stays %s",
			what, r->ns, o->name, dur, o->resume ? "false" : "true");
		if (w.last_message[0])
			pl_warn("the operator reports: %s", w.last_message);
		fprintf(stderr, "Follow it:  %s --watch\n", status);
		return PL_EXIT_FAIL;
	case LC_OUT_DELETED:
		return pl_fail("etcdcluster %s/%s was deleted while %s", r->ns, o->name, what);
	case LC_OUT_ERROR:
		break;
	}
	pl_fail("watching etcdcluster %s/%s: %s; %s goes on", r->ns, o->name, err.msg, what);
	fprintf(stderr, "Follow it:  %s --watch\n", status);
	return PL_EXIT_FAIL;
}

static int run(struct suspend_run *r)
{
	struct suspend_opts *o = r->o;
	struct eo_err err;
	if (lc_read(r->kc, r->ns, o->name, &r->c, &err) != 0)
		return pl_interrupted ? PL_EXIT_INTERRUPTED : err.code == EO_EPARSE
			? pl_fail("%s", err.msg) : pl_api_fail(&err, o->name, r->ns);
	bool want = !o->resume;
	if (r->c.spec.suspended == want) {
		printf("%s/%s is already %s (spec.suspended: %s)%s\n", r->ns, o->name,
		       want ? "suspended" : "not suspended", want ? "true" : "false",
		       o->wait ? ": following it (this writes nothing)." : "; nothing to do.");
		return o->wait ? follow(r, r->c.generation) : PL_EXIT_OK;
	}
	if (judge(r) != 0)
		return PL_EXIT_FAIL;
	if (!o->resume) {
		printf("Suspending %s/%s stops every member's Pod, one at a time (highest ordinal "
		       "first): the cluster serves nothing until it is resumed. Volumes and "
		       "membership are kept.\n", r->ns, o->name);
		fflush(stdout);
	}
	/* resume never asks: it gives the cluster back */
	int rc = pl_confirm_write(o->yes || o->resume, "suspending", "");
	if (rc != PL_EXIT_OK)
		return rc;
	rc = write_flag(r);
	if (rc != PL_EXIT_OK)
		return rc;
	char cmd[400];
	if (o->resume) {
		printf("spec.suspended set to false: the operator starts every member on its data.\n");
	} else {
		lc_cmd_text("resume", o->name, r->ns, cmd, sizeof(cmd));
		printf("spec.suspended set to true: the operator stops the members. Undo with: %s\n",
		       cmd);
	}
	if (!o->wait)
		return PL_EXIT_OK;
	printf("\n");
	return follow(r, r->c.generation);
}

static int main_of(bool resume, int argc, char **argv)
{
	const char *cmd = resume ? "resume" : "suspend";
	struct suspend_opts o;
	struct eo_err err;
	bool help = false;
	if (suspend_parse(argc, argv, resume, &o, &help, &err) != 0)
		return pl_usage_error(cmd, "%s", err.msg);
	if (help) {
		pl_help(stdout, cmd);
		return PL_EXIT_OK;
	}
	pl_setup_logging(&o.g);
	pl_catch_interrupts();
	struct suspend_run r = {.o = &o};
	if (pl_connect(&o.g, &r.kc, &err) != 0)
		return pl_fail("%s", err.msg);
	r.ns = pl_namespace(r.kc);
	int rc = run(&r);
	kube_client_free(r.kc);
	return rc;
}

int suspend_main(int argc, char **argv)
{
	return main_of(false, argc, argv);
}

int resume_main(int argc, char **argv)
{
	return main_of(true, argc, argv);
}
