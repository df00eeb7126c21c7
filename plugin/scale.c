/*
 * scale.c — `kubectl etcd scale NAME --replicas N`: read the cluster, show
 * the plan, ask, write the first step, then follow (scale_follow.c).
 *
 * The one idea: the plugin writes exactly what the mutating webhook would
 * have staged — spec.replicas one step toward N plus the target annotation —
 * computed by the same policy_admit the webhook runs. The webhook then sees
 * an object that is already staged and leaves it alone, and a cluster
 * without the webhook still gets a safe, staged request. The write is a
 * merge patch carrying the resourceVersion that was read, so the decision
 * (settled or not, which step) holds for the object it changes; a 409 means
 * "look again", never "write anyway". After that the controller does the
 * work and moves spec.replicas itself after each settled step: the plugin
 * only watches.
 *
 * Nothing is written before the person agreed: on a terminal by answering
 * the prompt, elsewhere only with --yes.
 */
#include "scale.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "policy.h"
#include "render.h"
#include "term.h"

#define ARROW "\xe2\x86\x92"
#define DEFAULT_TIMEOUT_MS (30 * 60 * 1000)
#define DEFAULT_STEP_TIMEOUT_MS (5 * 60 * 1000)
#define MAX_CONFLICTS 5

static bool in_range(int64_t n)
{
	return n >= EC_MIN_REPLICAS && n <= EC_MAX_REPLICAS;
}

size_t scale_flags(struct scale_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("replicas", 0, CLI_INT, &o->replicas, "N", "the number of members to reach (1-9); required"),
		CLI_FLAG("yes", 'y', CLI_BOOL, &o->yes, NULL, "proceed without asking (required when stdin is not a terminal)"),
		{.name = "dry-run", .type = CLI_STR, .dest = &o->dry_run, .metavar = "MODE", .noopt = "client",
		 .help = "print the plan, write nothing; --dry-run=server also asks the API server's admission"},
		CLI_FLAG("timeout", 0, CLI_DURATION, &o->timeout_ms, "DURATION", "stop waiting after this long in all (default 30m)"),
		CLI_FLAG("step-timeout", 0, CLI_DURATION, &o->step_timeout_ms, "DURATION", "stop waiting when one step takes longer (default 5m)"),
		CLI_FLAG("take-over", 0, CLI_BOOL, &o->take_over, NULL, "head for N although another change is in flight (its step finishes first)"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int scale_parse(int argc, char **argv, struct scale_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	o->replicas = -1;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->step_timeout_ms = DEFAULT_STEP_TIMEOUT_MS;
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = scale_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos != 1)
		return eo_err_set(err, EO_EINVAL,
				  p.npos ? "scale takes one cluster NAME, got %d arguments"
					 : "scale needs the NAME of a cluster (kubectl etcd scale NAME "
					   "--replicas N)", p.npos);
	o->name = p.pos[0];
	if (o->replicas < 0)
		return eo_err_set(err, EO_EINVAL, "--replicas N is required (the number of members "
				  "to reach, %d to %d)", EC_MIN_REPLICAS, EC_MAX_REPLICAS);
	if (o->g.all_namespaces)
		return eo_err_set(err, EO_EINVAL, "scale works on one cluster: name its namespace "
				  "with -n instead of -A/--all-namespaces");
	if (o->dry_run) {
		if (!strcmp(o->dry_run, "client") || !strcmp(o->dry_run, "true"))
			o->dry_run = "client";
		else if (!strcmp(o->dry_run, "none") || !strcmp(o->dry_run, "false"))
			o->dry_run = NULL;
		else if (strcmp(o->dry_run, "server") != 0)
			return eo_err_set(err, EO_EINVAL, "invalid --dry-run \"%s\": use --dry-run, "
					  "--dry-run=client or --dry-run=server", o->dry_run);
	}
	if (o->timeout_ms <= 0 || o->step_timeout_ms <= 0)
		return eo_err_set(err, EO_EINVAL, "--timeout and --step-timeout must be longer than 0");
	return 0;
}

void scale_cmd_text(const struct scale_run *r, const char *verb, char *out, size_t size)
{
	if (strcmp(r->ns, "default") == 0)
		snprintf(out, size, "kubectl etcd %s %s", verb, r->o->name);
	else
		snprintf(out, size, "kubectl etcd %s %s -n %s", verb, r->o->name, r->ns);
}

/* Why a cluster is not settled, in words (policy_settled's three tests). */
static void unsettled_reason(const struct etcd_cluster *c, char *out, size_t size)
{
	if (c->status.phase == EC_PHASE_UNSET)
		snprintf(out, size, "it has no status yet: no controller has reported on it "
			 "(is etcd-controller running?)");
	else if (c->status.observed_generation != c->generation)
		snprintf(out, size, "the controller has not acted on its latest spec yet "
			 "(generation %lld, observed %lld)", (long long)c->generation,
			 (long long)c->status.observed_generation);
	else if (c->status.phase != EC_RUNNING)
		snprintf(out, size, "its phase is %s", ec_phase_name(c->status.phase));
	else if (c->target >= 0 && c->target != c->spec.replicas)
		snprintf(out, size, "it is heading for %lld members (target annotation)",
			 (long long)c->target);
	else
		snprintf(out, size, "%d of %lld members are ready", c->status.ready_replicas,
			 (long long)c->spec.replicas);
}

static void describe_in_flight(const struct scale_run *r)
{
	const struct etcd_cluster *c = &r->c;
	char why[300];
	unsettled_reason(c, why, sizeof(why));
	printf("%s/%s is not settled: %s.\n", r->ns, r->o->name, why);
	const struct ec_scaling *s = &c->status.scaling;
	char step[4 * sizeof(s->step)], msg[4 * sizeof(s->message)];
	if (s->active)
		printf("  step in flight: %s, %d " ARROW " %d%s%s\n",
		       term_safe(step, sizeof(step), s->step[0] ? s->step : "?"), s->from, s->to,
		       s->message[0] ? ": " : "", term_safe(msg, sizeof(msg), s->message));
	if (c->target >= 0)
		printf("  heading for:    %lld members (annotation %s)\n", (long long)c->target,
		       EC_ANN_TARGET);
	else if (c->spec.replicas != c->status.replicas)
		printf("  spec.replicas:  %lld (voting members now: %d)\n",
		       (long long)c->spec.replicas, c->status.replicas);
}

/* Decide how this run relates to what is going on; -1 with the exit code in
 * *rc when the run must stop here. */
static int decide(struct scale_run *r, int *rc)
{
	const struct etcd_cluster *c = &r->c;
	int64_t n = r->o->replicas;
	bool settled = policy_settled(c) && !(c->target >= 0 && c->target != c->spec.replicas);
	int64_t base = policy_settled_size(c);
	if (settled) {
		r->mode = SCALE_FRESH;
		r->from = (int)c->spec.replicas;
		return 0;
	}
	int64_t heading = c->target >= 0 ? c->target : c->spec.replicas;
	int64_t step_dir = c->spec.replicas - base;
	/* The step in flight is on the way to N (or there is none). */
	bool on_path = step_dir == 0 || (step_dir > 0 ? n >= c->spec.replicas : n <= c->spec.replicas);
	if (heading == n && in_range(n)) {
		describe_in_flight(r);
		printf("It is already heading for %lld members: following it (this writes nothing).\n\n",
		       (long long)n);
		r->mode = SCALE_FOLLOW;
		r->from = (int)(on_path ? base : c->spec.replicas);
		return 0;
	}
	/* A step in flight with no target (what Ctrl-C leaves) that is on the way
	 * to N: resume without asking for --take-over. */
	bool stepping = step_dir != 0 && c->status.phase != EC_PHASE_UNSET;
	if ((c->target < 0 && stepping && on_path) || r->o->take_over) {
		describe_in_flight(r);
		printf("The step in flight finishes first; then the operator heads for %lld.\n\n",
		       (long long)n);
		r->mode = SCALE_RETARGET;
		r->from = (int)(on_path ? base : c->spec.replicas);
		return 0;
	}
	describe_in_flight(r);
	char cmd[400];
	scale_cmd_text(r, "status", cmd, sizeof(cmd));
	printf("Wait for it:   %s --watch\n", cmd);
	scale_cmd_text(r, "scale", cmd, sizeof(cmd));
	printf("Or take over:  %s --replicas %lld --take-over   (the step in flight finishes "
	       "first)\n", cmd, (long long)n);
	*rc = PL_EXIT_FAIL;
	return -1;
}

/* What to write, by the same rules as the webhook: the patch text, or ""
 * when the object already says it. -1 when the rules refuse (reason printed). */
static int build_patch(struct scale_run *r, struct eo_buf *patch)
{
	struct etcd_cluster want = r->c, mutated;
	want.spec.replicas = r->mode == SCALE_FRESH ? r->o->replicas : r->c.spec.replicas;
	want.target = r->mode == SCALE_FRESH ? EC_TARGET_NONE : r->o->replicas;
	if (want.target >= 0)
		snprintf(want.target_raw, sizeof(want.target_raw), "%lld", (long long)want.target);
	struct policy_request req = {.op = POLICY_UPDATE, .old = &r->c, .new = &want};
	struct policy_decision d;
	policy_admit(&req, &d, &mutated);
	if (!d.allowed) {
		pl_fail("refused by the admission rules (nothing was written): %s", d.reason);
		return -1;
	}
	bool same_replicas = mutated.spec.replicas == r->c.spec.replicas;
	bool same_target = mutated.target == r->c.target;
	if (same_replicas && same_target)
		return 0;
	json_object *p = json_object_new_object(), *meta = json_object_new_object();
	json_object_object_add(meta, "resourceVersion", json_object_new_string(r->c.resource_version));
	if (!same_target) {
		json_object *ann = json_object_new_object();
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)mutated.target);
		json_object_object_add(ann, EC_ANN_TARGET,
				       mutated.target >= 0 ? json_object_new_string(v) : NULL);
		json_object_object_add(meta, "annotations", ann);
		r->wrote_target = mutated.target >= 0;
	}
	json_object_object_add(p, "metadata", meta);
	if (!same_replicas) {
		json_object *spec = json_object_new_object();
		json_object_object_add(spec, "replicas", json_object_new_int64(mutated.spec.replicas));
		json_object_object_add(p, "spec", spec);
	}
	int rc = eo_buf_printf(patch, "%s", json_compact(p));
	json_object_put(p);
	return rc;
}

static int read_cluster(struct scale_run *r, struct eo_err *err)
{
	json_object *obj = NULL;
	int64_t t0 = eo_now_ms();
	int got = kube_get(r->kc, &KUBE_ETCDCLUSTERS, r->ns, r->o->name, &obj, err);
	pl_log_call("GET", "etcdcluster", t0, got, err);
	if (got != 0)
		return -1;
	int rc = cluster_parse(obj, &r->c, err);
	json_object_put(obj);
	if (rc != 0)
		eo_err_prefix(err, "etcdcluster %s/%s: ", r->ns, r->o->name);
	return rc;
}

/* The patch, for real or as a server-side dry run (?dryRun=All: the API
 * server runs admission, webhooks included, and stores nothing). */
static int send_patch(struct scale_run *r, const char *patch, bool dry, json_object **out,
		      struct eo_err *err)
{
	int64_t t0 = eo_now_ms();
	int rc;
	if (dry) {
		char *base = kube_path(&KUBE_ETCDCLUSTERS, r->ns, r->o->name, NULL);
		char *path = eo_strdupf("%s?dryRun=All", base);
		rc = kube_request(r->kc, "PATCH", path, "application/merge-patch+json", patch, out,
				  err);
		free(path);
		free(base);
	} else {
		rc = kube_patch(r->kc, &KUBE_ETCDCLUSTERS, r->ns, r->o->name, NULL, KUBE_PATCH_MERGE,
				patch, out, err);
	}
	pl_log_call("PATCH", dry ? "etcdcluster?dryRun=All" : "etcdcluster", t0, rc, err);
	return rc;
}

/* Write the first step (or the new target), re-reading on 409. */
static int write_step(struct scale_run *r, bool dry)
{
	for (int attempt = 0;; attempt++) {
		struct eo_buf patch = {0};
		if (build_patch(r, &patch) != 0) {
			eo_buf_free(&patch);
			return PL_EXIT_FAIL;
		}
		if (patch.len == 0) {
			eo_buf_free(&patch);
			return PL_EXIT_OK; /* the object already says it */
		}
		struct eo_err err;
		json_object *out = NULL;
		int rc = send_patch(r, patch.data, dry, &out, &err);
		eo_buf_free(&patch);
		if (rc == 0) {
			struct eo_err perr;
			if (!dry && cluster_parse(out, &r->c, &perr) != 0)
				pl_warn("the server's answer could not be read: %s", perr.msg);
			json_object_put(out);
			if (dry)
				printf("Dry run (server): the API server and its admission webhooks "
				       "accept the first step; nothing was written.\n");
			return PL_EXIT_OK;
		}
		if (err.code != EO_HTTP_CONFLICT || attempt + 1 >= MAX_CONFLICTS)
			return pl_api_fail(&err, r->o->name, r->ns);
		/* The object changed since it was read (a status update, most
		 * likely): read it again and check the decision still holds. */
		enum scale_mode was = r->mode;
		int stop = 0;
		if (read_cluster(r, &err) != 0)
			return pl_api_fail(&err, r->o->name, r->ns);
		if (decide(r, &stop) != 0)
			return stop;
		if (r->mode != was)
			return pl_fail("the cluster changed while this command ran; nothing was "
				       "written. Run it again to see the new plan");
	}
}

int scale_main(int argc, char **argv)
{
	struct scale_opts o;
	struct eo_err err;
	bool help = false;
	if (scale_parse(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("scale", "%s", err.msg);
	if (help) {
		pl_help(stdout, "scale");
		return PL_EXIT_OK;
	}
	/* Before any I/O: a size etcd clusters here never have needs no cluster. */
	if (!in_range(o.replicas))
		return pl_fail("--replicas %lld: an etcd cluster here has %d to %d members; nothing "
			       "was written", (long long)o.replicas, EC_MIN_REPLICAS, EC_MAX_REPLICAS);
	pl_setup_logging(&o.g);
	pl_catch_interrupts();
	struct scale_run r = {.o = &o, .color = pl_color(&o.g, stdout)};
	if (pl_connect(&o.g, &r.kc, &err) != 0)
		return pl_fail("%s", err.msg);
	r.ns = pl_namespace(r.kc);
	int rc = PL_EXIT_OK;
	if (read_cluster(&r, &err) != 0) {
		rc = pl_interrupted ? PL_EXIT_INTERRUPTED : err.code == EO_EPARSE
			? pl_fail("%s", err.msg) : pl_api_fail(&err, o.name, r.ns);
		goto out;
	}
	if (decide(&r, &rc) != 0)
		goto out;
	if (r.mode == SCALE_FRESH && r.c.spec.replicas == o.replicas) {
		printf("Nothing to do: %s/%s already has %lld member%s.\n", r.ns, o.name,
		       (long long)o.replicas, o.replicas == 1 ? "" : "s");
		goto out;
	}
	struct eo_buf plan = {0};
	render_plan(r.ns, o.name, r.from, (int)o.replicas, r.color, &plan);
	fwrite(plan.data, 1, plan.len, stdout);
	eo_buf_free(&plan);
	fflush(stdout);

	if (o.dry_run && strcmp(o.dry_run, "server") == 0 && r.mode != SCALE_FOLLOW) {
		rc = write_step(&r, true);
		goto out;
	}
	if (o.dry_run) {
		printf("Dry run: nothing was written.\n");
		goto out;
	}
	if (pl_interrupted) {
		fprintf(stderr, "Interrupted: nothing was written.\n");
		rc = PL_EXIT_INTERRUPTED;
		goto out;
	}
	if (r.mode != SCALE_FOLLOW) {
		rc = pl_confirm_write(o.yes, "scaling", " (or --dry-run to see the plan only)");
		if (rc == PL_EXIT_OK)
			rc = write_step(&r, false);
		if (rc != PL_EXIT_OK)
			goto out;
	}
	printf("\n");
	rc = scale_follow(&r);
out:
	kube_client_free(r.kc);
	return rc;
}
