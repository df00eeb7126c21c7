/*
 * upgrade.c — `kubectl etcd upgrade NAME --version V`: read the cluster,
 * judge the change by the admission rules, show the roll order, ask, write
 * spec.version, then follow the roll until every member runs V.
 *
 * The one idea: the plugin asks the same question the webhook will —
 * policy_admit on the object as read and as it would be — before it writes
 * anything, so a downgrade, a skipped minor or an unsettled cluster is
 * refused with the webhook's words and nothing changes. The write is a
 * merge patch carrying the resourceVersion that was read: the judgement
 * holds for the object it changes, and a 409 means "judge again". After
 * that the controller rolls the members (followers first, the leader last);
 * the plugin only watches, so Ctrl-C stops the watching, never the roll.
 */
#include "lifecycle.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "policy.h"
#include "term.h"

#define DEFAULT_TIMEOUT_MS (30 * 60 * 1000)
#define MAX_CONFLICTS 5

size_t upgrade_flags(struct upgrade_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("version", 0, CLI_STR, &o->version_arg, "X.Y.Z", "the etcd version to run (one minor at a time, never down); required"),
		CLI_FLAG("yes", 'y', CLI_BOOL, &o->yes, NULL, "proceed without asking (required when stdin is not a terminal)"),
		{.name = "dry-run", .type = CLI_STR, .dest = &o->dry_run, .metavar = "MODE", .noopt = "client",
		 .help = "print the plan, write nothing; --dry-run=server also asks the API server's admission"},
		CLI_FLAG("timeout", 0, CLI_DURATION, &o->timeout_ms, "DURATION", "stop following after this long (default 30m); the upgrade goes on"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int upgrade_parse(int argc, char **argv, struct upgrade_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = upgrade_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos != 1)
		return eo_err_set(err, EO_EINVAL,
				  p.npos ? "upgrade takes one cluster NAME, got %d arguments"
					 : "upgrade needs the NAME of a cluster (kubectl etcd upgrade "
					   "NAME --version X.Y.Z)", p.npos);
	o->name = p.pos[0];
	if (!o->version_arg || !o->version_arg[0])
		return eo_err_set(err, EO_EINVAL, "--version X.Y.Z is required (the etcd version to "
				  "run, such as %s)", EC_DEFAULT_VERSION);
	struct ec_version v;
	if (ec_version_parse(o->version_arg, &v) != 0)
		return eo_err_set(err, EO_EINVAL, "--version \"%s\" is not an etcd version: write "
				  "MAJOR.MINOR.PATCH, such as %s", o->version_arg, EC_DEFAULT_VERSION);
	snprintf(o->version, sizeof(o->version), "%d.%d.%d", v.major, v.minor, v.patch);
	if (o->g.all_namespaces)
		return eo_err_set(err, EO_EINVAL, "upgrade works on one cluster: name its namespace "
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
	if (o->timeout_ms <= 0)
		return eo_err_set(err, EO_EINVAL, "--timeout must be longer than 0");
	return 0;
}

struct upgrade_run {
	struct upgrade_opts *o;
	struct kube_client *kc;
	const char *ns;
	struct etcd_cluster c; /* as last read */
};

/* Judge the change by the webhook's rules; 0 when allowed (warnings
 * printed), else the refusal printed and -1. */
static int judge(const struct upgrade_run *r)
{
	struct etcd_cluster want = r->c, mutated;
	eo_strlcpy(want.spec.version, r->o->version, sizeof(want.spec.version));
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

/* Write spec.version, re-reading and judging again on 409. */
static int write_version(struct upgrade_run *r, bool dry)
{
	for (int attempt = 0;; attempt++) {
		json_object *p = json_object_new_object(), *meta = json_object_new_object(),
			    *spec = json_object_new_object();
		json_object_object_add(meta, "resourceVersion",
				       json_object_new_string(r->c.resource_version));
		json_object_object_add(p, "metadata", meta);
		json_object_object_add(spec, "version", json_object_new_string(r->o->version));
		json_object_object_add(p, "spec", spec);
		char *patch = strdup(json_compact(p));
		json_object_put(p);
		if (!patch)
			return pl_fail("out of memory");
		struct eo_err err;
		int rc = lc_patch(r->kc, r->ns, r->o->name, patch, dry, &r->c, &err);
		free(patch);
		if (rc == 0) {
			if (dry)
				printf("Dry run (server): the API server and its admission webhooks "
				       "accept the change; nothing was written.\n");
			return PL_EXIT_OK;
		}
		if (err.code != EO_HTTP_CONFLICT || attempt + 1 >= MAX_CONFLICTS)
			return pl_api_fail(&err, r->o->name, r->ns);
		/* changed since it was read (a status update, most likely) */
		if (lc_read(r->kc, r->ns, r->o->name, &r->c, &err) != 0)
			return err.code == EO_EPARSE ? pl_fail("%s", err.msg)
						     : pl_api_fail(&err, r->o->name, r->ns);
		if (judge(r) != 0)
			return PL_EXIT_FAIL;
	}
}

static int follow(struct upgrade_run *r, int64_t generation)
{
	struct lc_watch w;
	int64_t t0 = eo_now_ms();
	lc_watch_init(&w, LC_UPGRADE, r->o->version, generation, t0);
	struct eo_err err = {0};
	enum lc_outcome out = lc_follow(r->kc, r->ns, r->o->name, &w, &r->c, r->o->timeout_ms, &err);
	char took[32], status[400], dur[32];
	dur_text(eo_now_ms() - t0, took, sizeof(took));
	lc_cmd_text("status", r->o->name, r->ns, status, sizeof(status));
	switch (out) {
	case LC_OUT_DONE:
		printf("Done: every member of %s/%s runs %s and is ready (%s).\n", r->ns, r->o->name,
		       r->o->version, took);
		return PL_EXIT_OK;
	case LC_OUT_STALLED:
		pl_fail("%s", w.stall);
		fprintf(stderr, "spec.version stays %s: the roll goes on once the cause is fixed. "
			"See: %s\n", r->o->version, status);
		return PL_EXIT_FAIL;
	case LC_OUT_INTERRUPTED:
		printf("\nInterrupted: stopped following. The upgrade goes on: the operator rolls the "
		       "remaining members to %s.\nFollow it:  %s --watch\n", r->o->version, status);
		return PL_EXIT_INTERRUPTED;
	case LC_OUT_TIMEOUT:
		dur_text(r->o->timeout_ms, dur, sizeof(dur));
		pl_fail("the upgrade to %s did not finish within %s (--timeout); it goes on, "
			"spec.version stays %s", r->o->version, dur, r->o->version);
		if (w.last_message[0])
			pl_warn("the operator reports: %s", w.last_message);
		if (r->c.status.observed_generation < generation)
			fprintf(stderr, "Nothing has acted on the change: status.observedGeneration is "
				"%lld, the object's generation %lld. Is etcd-controller running?\n",
				(long long)r->c.status.observed_generation, (long long)generation);
		fprintf(stderr, "Follow it:  %s --watch\n", status);
		return PL_EXIT_FAIL;
	case LC_OUT_DELETED:
		return pl_fail("etcdcluster %s/%s was deleted during the upgrade", r->ns, r->o->name);
	case LC_OUT_ERROR:
		break;
	}
	pl_fail("watching etcdcluster %s/%s: %s; the upgrade goes on", r->ns, r->o->name, err.msg);
	fprintf(stderr, "Follow it:  %s --watch\n", status);
	return PL_EXIT_FAIL;
}

static int run(struct upgrade_run *r)
{
	struct upgrade_opts *o = r->o;
	struct eo_err err;
	if (lc_read(r->kc, r->ns, o->name, &r->c, &err) != 0)
		return pl_interrupted ? PL_EXIT_INTERRUPTED : err.code == EO_EPARSE
			? pl_fail("%s", err.msg) : pl_api_fail(&err, o->name, r->ns);
	struct ec_version asked, want;
	bool already = ec_version_parse(r->c.spec.version, &asked) == 0 &&
		       ec_version_parse(o->version, &want) == 0 && ec_version_cmp(&asked, &want) == 0;
	if (already) {
		bool seen = r->c.status.observed_generation >= r->c.generation;
		if (seen && lc_goal_reached(LC_UPGRADE, o->version, &r->c)) {
			printf("Nothing to do: every member of %s/%s runs %s.\n", r->ns, o->name,
			       o->version);
			return PL_EXIT_OK;
		}
		char from[64];
		printf("%s/%s is already being upgraded to %s (it runs %s now): following it (this "
		       "writes nothing).\n\n", r->ns, o->name, o->version,
		       term_safe(from, sizeof(from), r->c.status.version[0] ? r->c.status.version
									 : "-"));
		return o->dry_run ? PL_EXIT_OK : follow(r, r->c.generation);
	}
	if (judge(r) != 0)
		return PL_EXIT_FAIL;
	struct eo_buf plan = {0};
	lc_render_upgrade_plan(&r->c, o->version, pl_color(&o->g, stdout), &plan);
	fwrite(plan.data, 1, plan.len, stdout);
	eo_buf_free(&plan);
	fflush(stdout);
	if (o->dry_run && strcmp(o->dry_run, "server") == 0)
		return write_version(r, true);
	if (o->dry_run) {
		printf("Dry run: nothing was written.\n");
		return PL_EXIT_OK;
	}
	int rc = pl_confirm_write(o->yes, "upgrading", " (or --dry-run to see the plan only)");
	if (rc != PL_EXIT_OK)
		return rc;
	rc = write_version(r, false);
	if (rc != PL_EXIT_OK)
		return rc;
	printf("\nspec.version set to %s: the operator rolls the members now.\n", o->version);
	return follow(r, r->c.generation);
}

int upgrade_main(int argc, char **argv)
{
	struct upgrade_opts o;
	struct eo_err err;
	bool help = false;
	if (upgrade_parse(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("upgrade", "%s", err.msg);
	if (help) {
		pl_help(stdout, "upgrade");
		return PL_EXIT_OK;
	}
	pl_setup_logging(&o.g);
	pl_catch_interrupts();
	struct upgrade_run r = {.o = &o};
	if (pl_connect(&o.g, &r.kc, &err) != 0)
		return pl_fail("%s", err.msg);
	r.ns = pl_namespace(r.kc);
	int rc = run(&r);
	kube_client_free(r.kc);
	return rc;
}
