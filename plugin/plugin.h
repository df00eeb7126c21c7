/*
 * plugin.h — what the files of kubectl-etcd share: exit codes, kubectl's
 * global flags, the flag parser, the connection and terminal helpers, and
 * the entry point of each command.
 *
 * The one idea: kubectl hands a plugin its arguments unchanged and refuses
 * its own global flags before the plugin's name, so the plugin parses
 * kubectl's global flags itself, after its command, with kubectl's syntax
 * (`--flag value`, `--flag=value`, `-n ns`, `-nns`, `-v=4`). Every command
 * declares its flags as a table; the same table parses, prints --help and
 * feeds shell completion, so the three cannot drift apart.
 */
#ifndef PL_PLUGIN_H
#define PL_PLUGIN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "duration.h"
#include "eo.h"
#include "kube.h"

/* Documented exit codes (docs/plugin.md). */
enum {
	PL_EXIT_OK = 0,
	PL_EXIT_FAIL = 1,         /* failed, refused, timed out, not found */
	PL_EXIT_USAGE = 2,        /* bad command line */
	PL_EXIT_INTERRUPTED = 130 /* Ctrl-C */
};

/* Where manifests/ install the operator (its Deployments: version, hints). */
#define PL_OPERATOR_NS "etcd-operator-system"

/* kubectl's global flags, accepted after every command. */
struct pl_global {
	const char *kubeconfig, *context, *cluster, *user, *namespace, *token, *server;
	bool all_namespaces, insecure, no_color;
	int64_t request_timeout_ms; /* -1: not given */
	int64_t verbosity;          /* -1: not given */
};
void pl_global_init(struct pl_global *g);

/* ---- flags (flags.c, pure): kubectl's global flags on the one command-line layer (cli.h) ---- */

/* The global flags as a table pointing into g; returns how many (≤ max). */
size_t pl_global_flags(struct pl_global *g, struct cli_flag *out, size_t max);
/* A command's table: its own flags first (they win in --help order), then
 * the global ones; returns how many (≤ max). */
size_t pl_own_then_global_flags(const struct cli_flag *own, size_t nown, struct pl_global *g,
				struct cli_flag *out, size_t max);

/* ---- connection, terminal, signals (common.c) ---- */

/* Log level from -v (kubectl's 0..10), logging to stderr. */
void pl_setup_logging(const struct pl_global *g);
/* Resolve the kubeconfig the way kubectl does and make a client whose
 * admission warnings print as "Warning: …" on stderr. */
int pl_connect(const struct pl_global *g, struct kube_client **out, struct eo_err *err);
/* One API call at -v 6 and above (verb, what, how long, the outcome); never
 * credentials. */
void pl_log_call(const char *verb, const char *what, int64_t t0_ms, int rc,
		 const struct eo_err *err);
/* The namespace a command works in: the client's (flag, context, default). */
const char *pl_namespace(struct kube_client *kc);
/* Colour on f: a terminal, no --no-color, NO_COLOR unset or empty, TERM not dumb. */
bool pl_color(const struct pl_global *g, FILE *f);

/* SIGINT (and SIGTERM) set pl_interrupted; installed without SA_RESTART so a
 * blocking read returns. */
extern volatile sig_atomic_t pl_interrupted;
void pl_catch_interrupts(void);
/* Before a command writes: with --yes go on; else ask "Proceed? [y/N]" on the
 * terminal, and refuse when stdin is not one ("not <doing> without
 * confirmation: …", hint appended, e.g. " (or --dry-run to see the plan
 * only)"). PL_EXIT_OK to go on; otherwise the exit code, nothing written
 * and said so (not confirmed, interrupted, no terminal). */
int pl_confirm_write(bool yes, const char *doing, const char *hint);

/* "Error: …" on stderr; returns PL_EXIT_FAIL. The message is made safe for
 * the terminal as a whole (term.h), so a server's text may go in as "%s";
 * the same holds for pl_warn, pl_usage_error and pl_api_fail. */
int pl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Warning: …" on stderr, as kubectl prints a server's warnings. */
void pl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Error: …" plus "See 'kubectl etcd CMD --help' for usage."; returns PL_EXIT_USAGE. */
int pl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An API error as kubectl shows it: not found names the kind and namespace. */
int pl_api_fail(const struct eo_err *err, const char *name, const char *ns);

/* ---- commands: argv holds the words after the command name ---- */

/* Each command: its options, its flag table (own flags then the global ones,
 * pointing into opts; ≤ CLI_MAX_FLAGS), a parser that fills opts (pure, for
 * tests), and its entry point returning an exit code. */
struct status_opts {
	struct pl_global g;
	const char *output; /* NULL, "json", "yaml", "wide", "name" or "jsonpath=…" */
	const char *jsonpath; /* the template of -o jsonpath=…, else NULL */
	bool watch;
	const char *name;   /* NULL: all clusters */
};
size_t status_flags(struct status_opts *o, struct cli_flag *out, size_t max);
int status_parse(int argc, char **argv, struct status_opts *o, bool *help, struct eo_err *err);
int status_main(int argc, char **argv);
/* The Events (an array) about this very object: involvedObject.uid equal to
 * obj's metadata.uid, not merely its name — a deleted and re-created cluster
 * is another object. Pure; a new array the caller puts. */
json_object *status_events_of(json_object *events, json_object *obj);

struct scale_opts {
	struct pl_global g;
	const char *name;
	int64_t replicas;     /* -1: not given */
	bool yes, take_over;
	const char *dry_run;  /* NULL, "client" or "server" (after parsing) */
	int64_t timeout_ms, step_timeout_ms;
};
size_t scale_flags(struct scale_opts *o, struct cli_flag *out, size_t max);
int scale_parse(int argc, char **argv, struct scale_opts *o, bool *help, struct eo_err *err);
int scale_main(int argc, char **argv);

struct validate_opts {
	struct pl_global g;
	struct cli_strlist files, old;
	bool recursive; /* -R: directories of -f with their subdirectories */
};
size_t validate_flags(struct validate_opts *o, struct cli_flag *out, size_t max);
int validate_parse(int argc, char **argv, struct validate_opts *o, bool *help, struct eo_err *err);
int validate_main(int argc, char **argv);
/* The core of validate, pure: judge every document of one source (YAML or
 * JSON text named `source` in messages) as a CREATE, or as an UPDATE of the
 * EtcdCluster with the same namespace/name among olds (parsed documents, may
 * be NULL). ns: the namespace of documents that name none. Appends one line
 * per document to out and counts them. -1 when the text is not YAML. */
struct validate_counts {
	int ok, refused, skipped;
};
int validate_source(const char *source, const char *buf, size_t len, json_object *const *olds,
		    size_t nold, const char *ns, struct eo_buf *out, struct validate_counts *n,
		    struct eo_err *err);
/* The files a -f names, as kubectl reads them: a file as it is; a
 * directory's *.yaml, *.yml and *.json in name order (-R: its subdirectories
 * too). *out: malloc'd paths, free each and the array. 0, or -1 with err. */
int validate_expand(const char *path, bool recursive, char ***out, size_t *n, struct eo_err *err);
/* validate first checks each EtcdCluster against the openAPIV3Schema of the
 * CRD built into the plugin (manifests/crd, crdschema.h): unknown fields as
 * strict field validation refuses them, then types and bounds. Whether the
 * build had the CRD; and the parsed CRD freed (parsed again when needed). */
bool validate_has_schema(void);
void validate_schema_free(void);

/* backup NAME: a one-time (or --schedule) EtcdBackup of cluster NAME. */
struct backup_opts {
	struct pl_global g;
	const char *cluster;
	const char *to, *endpoint, *region, *secret, *backup_name, *schedule;
	bool path_style, wait;
	int64_t keep;         /* -1: not given */
	int64_t timeout_ms;
	/* from --to (parsed) */
	char bucket[64], claim[254], prefix[256];
	const char *like;     /* etcdbackup/NAME: copy its destination */
};
size_t backup_flags(struct backup_opts *o, struct cli_flag *out, size_t max);
int backup_parse_args(int argc, char **argv, struct backup_opts *o, bool *help, struct eo_err *err);
/* The EtcdBackup to create (new reference); dest NULL: from the flags. */
json_object *backup_object(const struct backup_opts *o, const char *ns, const char *name,
			   json_object *dest);
int backup_main(int argc, char **argv);

/* backups NAME: the snapshots of a cluster, newest first. */
struct backups_opts {
	struct pl_global g;
	const char *output;
};
size_t backups_flags(struct backups_opts *o, struct cli_flag *out, size_t max);
/* The table (pure): backups is an array of the cluster's EtcdBackups. */
int render_snapshots(json_object *backups, const char *cluster, int64_t now, bool color,
		     struct eo_buf *out);
int backups_main(int argc, char **argv);

/* restore NEW --from-backup B [--snapshot KEY]: an EtcdCluster whose first
 * member starts from the snapshot. */
struct restore_opts {
	struct pl_global g;
	const char *name, *backup, *key, *version, *storage;
	int64_t replicas, timeout_ms;
	bool wait;
};
size_t restore_flags(struct restore_opts *o, struct cli_flag *out, size_t max);
int restore_parse_args(int argc, char **argv, struct restore_opts *o, bool *help, struct eo_err *err);
/* security: the backed-up cluster's spec.security to copy, or NULL. */
json_object *restore_object(const struct restore_opts *o, const char *ns, const char *version,
			    const char *storage, json_object *security);
int restore_main(int argc, char **argv);

/* upgrade NAME --version V: roll every member onto etcd V, one at a time. */
struct upgrade_opts {
	struct pl_global g;
	const char *name;
	char version[32];     /* --version as MAJOR.MINOR.PATCH (a leading 'v' dropped) */
	const char *version_arg;
	bool yes;
	const char *dry_run;  /* NULL, "client" or "server" (after parsing) */
	int64_t timeout_ms;
};
size_t upgrade_flags(struct upgrade_opts *o, struct cli_flag *out, size_t max);
int upgrade_parse(int argc, char **argv, struct upgrade_opts *o, bool *help, struct eo_err *err);
int upgrade_main(int argc, char **argv);

/* suspend NAME / resume NAME: spec.suspended true / false. */
struct suspend_opts {
	struct pl_global g;
	const char *name;
	bool resume;          /* which of the two commands */
	bool yes, wait;
	int64_t timeout_ms;
};
size_t suspend_flags(struct suspend_opts *o, bool resume, struct cli_flag *out, size_t max);
int suspend_parse(int argc, char **argv, bool resume, struct suspend_opts *o, bool *help,
		  struct eo_err *err);
int suspend_main(int argc, char **argv);
int resume_main(int argc, char **argv);

/* install generate [--image REF]: the operator (manifests/, compiled in) and the
 * webhook's certificates as one YAML stream on stdout (install.c). */
struct install_opts {
	struct pl_global g;
	const char *image; /* NULL: the operator's image at this build's version */
};
size_t install_flags(struct install_opts *o, struct cli_flag *out, size_t max);
int install_parse(int argc, char **argv, struct install_opts *o, bool *help, struct eo_err *err);
/* The manifests text with every operator image line set to image and the
 * controller's --operator-image=image added to its args; appends to out.
 * Returns the number of images replaced, -1 out of memory. */
int install_render(const char *text, size_t len, const char *image, struct eo_buf *out,
		   bool *operator_arg);
int install_main(int argc, char **argv);

/* -o jsonpath=TEMPLATE (jsonpath.c, pure): the subset of kubectl's JSONPath
 * scripts use (.field, ['field'], [N], [*], quoted text); what it does not
 * cover is refused by name. Appends the result to out. */
int pl_jsonpath(const char *tmpl, json_object *root, struct eo_buf *out, struct eo_err *err);
/* output "jsonpath=T": *tmpl = T, checked; another output: *tmpl NULL, 0;
 * "jsonpath" without a template or T unreadable: -1 with err. */
int pl_output_jsonpath(const char *output, const char **tmpl, struct eo_err *err);

/* members NAME, health NAME, alarm list NAME: live reads of etcd through
 * the API server (live.h). */
struct live_opts {
	struct pl_global g;
	const char *output; /* members: NULL, wide, name, json, yaml, jsonpath=…; health: NULL, json, yaml */
	const char *jsonpath; /* members' -o jsonpath=… template */
	const char *name;
};
size_t members_flags(struct live_opts *o, struct cli_flag *out, size_t max);
size_t health_flags(struct live_opts *o, struct cli_flag *out, size_t max);
size_t alarm_flags(struct live_opts *o, struct cli_flag *out, size_t max);
int members_main(int argc, char **argv);
int health_main(int argc, char **argv);
int alarm_main(int argc, char **argv);
/* The words after members/health/alarm: one NAME, -o among formats
 * (NULL-terminated). -1 when the command is done: *rc is the exit code
 * (--help printed, or a usage error reported). */
int live_parse(const char *cmd, int argc, char **argv, struct live_opts *o,
	       size_t (*flags_of)(struct live_opts *, struct cli_flag *, size_t),
	       const char *const *formats, int *rc);
/* After live_parse: logging as the flags say, a connection, the namespace.
 * 0, or the exit code after reporting why not. */
int live_connect(struct live_opts *o, struct kube_client **kc, const char **ns);
/* -o json or yaml of a document (a new line after JSON); 0 or the exit code. */
int pl_print_doc(json_object *obj, const char *output);

/* For a command without flags of its own (version, completion): parse argv
 * against the global flags into p. Returns -1 when the command goes on with
 * p.pos, else the exit code it is done with: --help printed (PL_EXIT_OK) or
 * a usage error reported (PL_EXIT_USAGE). */
int pl_parse_global_only(const char *cmd, int argc, char **argv, struct cli_parsed *p);
int version_main(int argc, char **argv);
/* version's flag table (--client, -o, --operator-namespace, then the global
 * ones), for help and completion. */
size_t version_flags(struct pl_global *scratch, struct cli_flag *out, size_t max);
/* What `version` shows of one operator Deployment: {image, version (the
 * image's tag or digest), replicas, readyReplicas}. Pure; new reference. */
json_object *version_component(json_object *deploy);
int completion_main(int argc, char **argv);
/* The hidden `__complete` command (cobra's protocol): candidates, one a line
 * ("word\tdescription" when descriptions), then ":<directive>". */
int complete_main(int argc, char **argv, bool descriptions);

/* The commands users see, in help order. */
struct pl_command {
	const char *name;
	const char *summary;
	const char *usage; /* the synopsis and long help, without the flags */
};
extern const struct pl_command pl_commands[];
extern const size_t pl_ncommands;
const struct pl_command *pl_command_find(const char *name);
/* The flag table of a command, pointing into scratch storage (help and
 * completion only). Returns how many, 0 for an unknown command. */
size_t pl_command_flags(const char *name, struct cli_flag *out, size_t max);
/* Usage of one command (NULL: the top level) on out. */
void pl_help(FILE *out, const char *cmd);

#endif
