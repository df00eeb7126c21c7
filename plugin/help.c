/*
 * help.c — the command list and every --help text, in one place so the top
 * level, `kubectl etcd help CMD`, `CMD --help` and shell completion all read
 * from the same table.
 *
 * The one idea: flags are printed from the very tables the commands parse
 * with (pl_command_flags), so help cannot describe a flag that does not
 * exist or miss one that does.
 */
#include "plugin.h"

#include <string.h>

const struct pl_command pl_commands[] = {
	{"status", "Show etcd clusters, or one cluster's members, conditions and step in flight",
	 "Usage:\n"
	 "  kubectl etcd status [NAME] [-n NS | -A] [-o json|yaml|wide|name|jsonpath=T] [--watch]\n"
	 "\n"
	 "Without NAME: a table of the EtcdClusters in the namespace (every namespace\n"
	 "with -A). With NAME: its phase, size and target, cluster ID, leader, members\n"
	 "(role, health, DB size, raft index), conditions, the step in flight and the\n"
	 "recent Events. Everything comes from what the controller publishes in\n"
	 "status: this needs get/list/watch on etcdclusters and events only. -o wide\n"
	 "adds the leader, the Available and Degraded conditions and client TLS; -o\n"
	 "name prints etcdcluster.etcd.k8s-operator.io/NAME; -o jsonpath=T takes the\n"
	 "paths scripts use (.field, ['field'], [N], [*], {\"\\n\"}), not range or\n"
	 "filters. For etcd's own view of the members see 'kubectl etcd members'.\n"
	 "\n"
	 "Examples:\n"
	 "  kubectl etcd status\n"
	 "  kubectl etcd status demo --watch\n"
	 "  kubectl etcd status demo -n team-a -o yaml\n"
	 "  kubectl etcd status demo -o jsonpath='{.status.phase}'\n"},
	{"members", "List a cluster's members live from etcd: id, URLs, role, raft term and index, DB size",
	 "Usage:\n"
	 "  kubectl etcd members NAME [-n NS] [-o wide|name|json|yaml|jsonpath=T]\n"
	 "\n"
	 "Asks etcd itself, not the controller: the member list from any member that\n"
	 "answers, then each started member's status (raft term and index, DB size in\n"
	 "use and allocated, version, alarms), through the API server's pods proxy\n"
	 "(needs get/create on pods/proxy). -o wide adds every URL, the applied index\n"
	 "and the errors each member reports.\n"
	 "\n"
	 "With client TLS on (spec.security.tls.client) the API server's proxy cannot\n"
	 "present the client certificate etcd asks for: the command says so and shows\n"
	 "the members as the controller last published them in status.\n"
	 "\n"
	 "Examples:\n"
	 "  kubectl etcd members demo\n"
	 "  kubectl etcd members demo -o wide\n"
	 "  kubectl etcd members demo -n team-a -o json\n"},
	{"health", "Check each member's health as etcd reports it; exit 1 unless all are healthy",
	 "Usage:\n"
	 "  kubectl etcd health NAME [-n NS] [-o json|yaml]\n"
	 "\n"
	 "GET /health on every member (true only with a leader, no alarm and a quorum\n"
	 "read), through the API server's pods proxy; the reason is etcd's, or the API\n"
	 "server's when the member's Pod cannot be reached. With client TLS on the\n"
	 "question goes to etcd's plain-HTTP metrics port, as the kubelet's probe does.\n"
	 "A member added but not yet started counts as unhealthy.\n"
	 "\n"
	 "Exit status: 0 every member healthy, 1 otherwise (or no member), 2 usage.\n"
	 "\n"
	 "Examples:\n"
	 "  kubectl etcd health demo\n"
	 "  kubectl etcd health demo -o json\n"},
	{"alarm", "List the alarms etcd has raised (NOSPACE, CORRUPT)",
	 "Usage:\n"
	 "  kubectl etcd alarm list NAME [-n NS] [-o json|yaml]\n"
	 "\n"
	 "The alarms are cluster-wide: one member that answers (through the API\n"
	 "server's pods proxy) lists them, each with the member that raised it.\n"
	 "NOSPACE means the backend quota is full and etcd refuses writes. Read-only.\n"
	 "With client TLS on the alarms cannot be read this way, and the command says so.\n"
	 "\n"
	 "Example:\n"
	 "  kubectl etcd alarm list demo\n"},
	{"scale", "Scale a cluster one member at a time, showing each step live",
	 "Usage:\n"
	 "  kubectl etcd scale NAME --replicas N [--yes] [--dry-run[=server]]\n"
	 "                     [--timeout 30m] [--step-timeout 5m] [--take-over]\n"
	 "\n"
	 "Prints the plan (each step with its quorum and the failures it tolerates),\n"
	 "asks before changing anything, writes the first step the way the admission\n"
	 "webhook stages it (spec.replicas one step toward N plus the annotation\n"
	 "etcd.k8s-operator.io/target-replicas=N), then follows the operator's\n"
	 "progress: learner added, Pod ready, caught up, promoted, healthy (up);\n"
	 "leadership transferred, member removed, StatefulSet shrunk, volume deleted\n"
	 "(down). When stdin is not a terminal it writes nothing without --yes.\n"
	 "\n"
	 "Ctrl-C stops waiting and removes the target annotation: the operator\n"
	 "finishes only the step in flight, so the cluster stays at a safe size; the\n"
	 "message says how to resume.\n"
	 "\n"
	 "Exit status: 0 reached, 1 refused/failed/timed out (nothing is rolled back\n"
	 "by the plugin: the request stays recorded), 2 usage, 130 interrupted.\n"
	 "\n"
	 "Examples:\n"
	 "  kubectl etcd scale demo --replicas 3\n"
	 "  kubectl etcd scale demo --replicas 5 --yes -n team-a\n"
	 "  kubectl etcd scale demo --replicas 1 --dry-run\n"},
	{"upgrade", "Upgrade a cluster's etcd version, one member at a time, showing each step",
	 "Usage:\n"
	 "  kubectl etcd upgrade NAME --version X.Y.Z [--yes] [--dry-run[=server]] [--timeout 30m]\n"
	 "\n"
	 "Judges the change by the admission rules before writing anything (no\n"
	 "downgrade, one minor version at a time, 3.5 clusters at 3.5.26 or newer\n"
	 "before 3.6, only a settled cluster), prints the plan (from the version the\n"
	 "members run to X.Y.Z; the members in the order the operator makes them\n"
	 "again: followers by ordinal, the leader last, after leadership moved), asks,\n"
	 "writes spec.version, then follows the operator's progress messages until\n"
	 "every member runs X.Y.Z and is ready. When stdin is not a terminal it\n"
	 "writes nothing without --yes.\n"
	 "\n"
	 "A member that does not become ready stops the roll (UpgradeStalled): the\n"
	 "command exits 1 with the operator's message; the others keep serving.\n"
	 "Ctrl-C stops following only: the upgrade goes on.\n"
	 "\n"
	 "Exit status: 0 reached, 1 refused/stalled/timed out, 2 usage, 130 interrupted.\n"
	 "\n"
	 "Examples:\n"
	 "  kubectl etcd upgrade demo --version 3.6.16\n"
	 "  kubectl etcd upgrade demo --version 3.5.26 --dry-run=server -n team-a\n"},
	{"suspend", "Stop every member of a cluster, keeping its data (the cluster serves nothing)",
	 "Usage:\n"
	 "  kubectl etcd suspend NAME [--yes] [--wait [--timeout 10m]]\n"
	 "\n"
	 "Sets spec.suspended: true. The operator stops every member's Pod one at a\n"
	 "time (highest ordinal first) and keeps volumes and membership; the phase\n"
	 "becomes Suspended. Only a settled cluster (Running, every member ready) can\n"
	 "be suspended, and nothing else of it changes until it is resumed. Asks\n"
	 "first (the cluster becomes unavailable); without a terminal only with --yes.\n"
	 "--wait follows until the phase is Suspended.\n"
	 "\n"
	 "Example:\n"
	 "  kubectl etcd suspend demo --yes --wait\n"},
	{"resume", "Start a suspended cluster again on its data",
	 "Usage:\n"
	 "  kubectl etcd resume NAME [--wait [--timeout 10m]]\n"
	 "\n"
	 "Sets spec.suspended: false; the operator starts every member on its data.\n"
	 "It does not ask: resuming only gives service back. --wait follows until the\n"
	 "cluster is Running with every member ready.\n"
	 "\n"
	 "Example:\n"
	 "  kubectl etcd resume demo --wait\n"},
	{"validate", "Check EtcdCluster files against the admission rules, offline (for CI)",
	 "Usage:\n"
	 "  kubectl etcd validate -f FILE|DIR [-f ...] [-R] [--old FILE...] [-n NS]\n"
	 "\n"
	 "Runs the webhook's rules on YAML or JSON files (several documents per file,\n"
	 "'-' for stdin; a directory: its .yaml, .yml and .json files, -R below it too)\n"
	 "without a cluster: nothing is contacted, no kubeconfig read. First, as the\n"
	 "API server's strict field validation does, each EtcdCluster is checked\n"
	 "against the schema of the CRD built into the plugin: unknown fields are\n"
	 "refused (strict decoding error: unknown field \"spec.replica\"), then types,\n"
	 "bounds and patterns.\n\n"
	 "Each EtcdCluster is judged as a CREATE, or with --old as an UPDATE of the\n"
	 "object of the same namespace/name there (an old object without status\n"
	 "stands for a healthy cluster settled at its spec). Other documents are\n"
	 "skipped with a note. One line per document:\n"
	 "  FILE:LINE: NS/NAME: OK            (+ 'warning:' lines)\n"
	 "  FILE:LINE: NS/NAME: refused: REASON\n"
	 "Exit status 1 when any document is refused.\n"
	 "\n"
	 "Example (GitOps CI):\n"
	 "  git show origin/main:clusters/etcd.yaml > /tmp/old.yaml\n"
	 "  kubectl etcd validate -f clusters/etcd.yaml --old /tmp/old.yaml\n"},
	{"backup", "Take a snapshot of a cluster now (or make a scheduled EtcdBackup)",
	 "Usage:\n"
	 "  kubectl etcd backup NAME [--to s3://BUCKET[/PREFIX] --endpoint URL --credentials-secret S\n"
	 "                            [--region R] [--path-style] | --to pvc:CLAIM[/PATH] |\n"
	 "                            --to etcdbackup/OTHER] [--name B] [--schedule CRON] [--keep N]\n"
	 "                           [--wait [--timeout 10m]]\n"
	 "\n"
	 "Creates an EtcdBackup of cluster NAME: one snapshot now, or with --schedule one\n"
	 "on every run of a cron schedule (UTC). The operator streams the snapshot from a\n"
	 "healthy voting member to the destination and records its key, revision, size\n"
	 "and SHA-256 in status. Without --to the destination is that of the cluster's\n"
	 "one EtcdBackup. --wait follows the snapshot (bytes, rate) until it is written.\n"
	 "Needs create/get on etcdbackups (the credentials stay in their Secret).\n"
	 "\n"
	 "Examples:\n"
	 "  kubectl etcd backup demo --wait\n"
	 "  kubectl etcd backup demo --to s3://backups/etcd --endpoint https://s3.eu-west-1.amazonaws.com \\\n"
	 "      --region eu-west-1 --credentials-secret s3-creds --name demo-nightly --schedule @daily --keep 14\n"},
	{"backups", "List a cluster's snapshots with age, revision and size",
	 "Usage:\n"
	 "  kubectl etcd backups NAME [-o json]\n"
	 "\n"
	 "The snapshots every EtcdBackup of cluster NAME lists in status, newest first;\n"
	 "only snapshots that were written whole and checked are listed. A backup whose\n"
	 "last run failed says why.\n"},
	{"restore", "Make a new cluster from a snapshot",
	 "Usage:\n"
	 "  kubectl etcd restore NEW --from-backup B [--snapshot KEY] [--replicas N]\n"
	 "                       [--version X.Y.Z] [--storage-size SIZE] [--wait [--timeout 10m]]\n"
	 "\n"
	 "Creates EtcdCluster NEW with spec.bootstrap.restore: its first member starts from\n"
	 "the snapshot (B's lastSnapshot, or KEY), downloaded and checked against its\n"
	 "recorded SHA-256 and restored with etcdutl under a new cluster id; then it grows\n"
	 "one learner at a time to N. A missing or altered snapshot leaves NEW Failed\n"
	 "with the reason, and nothing is started. Version and volume size default to\n"
	 "the backed-up cluster's.\n"
	 "\n"
	 "Example:\n"
	 "  kubectl etcd restore demo-copy --from-backup demo-nightly --replicas 3 --wait\n"},
	{"install", "Print the operator's manifests and webhook certificates, to apply in one step",
	 "Usage:\n"
	 "  kubectl etcd install generate [--image REF] | kubectl apply -f -\n"
	 "\n"
	 "Prints the whole operator as one YAML stream: the namespace, the CRDs, RBAC,\n"
	 "the webhook and controller Deployments and the webhook configurations, as in\n"
	 "manifests/ of this release (compiled in), with the image set to REF (default\n"
	 "the image of this version) and a fresh certificate for the webhook: a new\n"
	 "CA in the webhooks' caBundle and the serving pair in the Secret\n"
	 "etcd-webhook-tls (appended). The CA's private key is not kept; running it\n"
	 "again and applying renews everything. Nothing is contacted. The output holds\n"
	 "a private key: pipe it to kubectl, do not keep it.\n"
	 "\n"
	 "Example:\n"
	 "  kubectl etcd install generate --image registry.example.com/etcd-operator:0.2.0 \\\n"
	 "      | kubectl apply -f -\n"},
	{"version", "Print the plugin's version, and the operator's in the cluster",
	 "Usage:\n"
	 "  kubectl etcd version [--client] [-o json|yaml] [--operator-namespace NS]\n"
	 "\n"
	 "The plugin's version and the commit it was built from, then, when the\n"
	 "cluster can be reached, the controller's and the webhook's: the image (its\n"
	 "tag is the version) and ready replicas of the Deployments etcd-controller\n"
	 "and etcd-webhook in etcd-operator-system (needs get on deployments there).\n"
	 "When they cannot be read the reason is shown and the exit status stays 0;\n"
	 "--client contacts nothing.\n"},
	{"completion", "Print a bash or zsh completion script",
	 "Usage:\n"
	 "  kubectl etcd completion bash|zsh\n"
	 "\n"
	 "kubectl 1.26 and newer complete `kubectl etcd ...` by themselves when\n"
	 "kubectl_complete-etcd is on PATH (make install puts it there). These\n"
	 "scripts complete the binary called directly as kubectl-etcd:\n"
	 "  source <(kubectl etcd completion bash)\n"
	 "  kubectl etcd completion zsh > \"${fpath[1]}/_kubectl-etcd\"\n"},
	{"help", "Help about a command", "Usage:\n  kubectl etcd help [COMMAND]\n"},
};
const size_t pl_ncommands = EO_ARRAY_LEN(pl_commands);

const struct pl_command *pl_command_find(const char *name)
{
	for (size_t i = 0; name && i < pl_ncommands; i++)
		if (strcmp(pl_commands[i].name, name) == 0)
			return &pl_commands[i];
	return NULL;
}

size_t pl_command_flags(const char *name, struct cli_flag *out, size_t max)
{
	/* Scratch destinations: the tables are only read, never parsed into. */
	static struct status_opts st;
	static struct scale_opts sc;
	static struct validate_opts va;
	static struct backup_opts bk;
	static struct backups_opts bl;
	static struct restore_opts rs;
	static struct upgrade_opts up;
	static struct suspend_opts su;
	static struct install_opts in;
	static struct live_opts lv;
	static struct pl_global g;
	if (!name)
		return 0;
	if (strcmp(name, "status") == 0)
		return status_flags(&st, out, max);
	if (strcmp(name, "version") == 0)
		return version_flags(&g, out, max);
	if (strcmp(name, "members") == 0)
		return members_flags(&lv, out, max);
	if (strcmp(name, "health") == 0)
		return health_flags(&lv, out, max);
	if (strcmp(name, "alarm") == 0)
		return alarm_flags(&lv, out, max);
	if (strcmp(name, "scale") == 0)
		return scale_flags(&sc, out, max);
	if (strcmp(name, "upgrade") == 0)
		return upgrade_flags(&up, out, max);
	if (strcmp(name, "suspend") == 0)
		return suspend_flags(&su, false, out, max);
	if (strcmp(name, "resume") == 0)
		return suspend_flags(&su, true, out, max);
	if (strcmp(name, "validate") == 0)
		return validate_flags(&va, out, max);
	if (strcmp(name, "backup") == 0)
		return backup_flags(&bk, out, max);
	if (strcmp(name, "backups") == 0)
		return backups_flags(&bl, out, max);
	if (strcmp(name, "restore") == 0)
		return restore_flags(&rs, out, max);
	if (strcmp(name, "install") == 0)
		return install_flags(&in, out, max);
	if (pl_command_find(name))
		return pl_global_flags(&g, out, max);
	return 0;
}

void pl_help(FILE *out, const char *cmd)
{
	const struct pl_command *c = pl_command_find(cmd);
	if (!c) {
		fputs("kubectl etcd — scale and upgrade etcd clusters on Kubernetes safely, one "
		      "member at a time.\n\n"
		      "Usage:\n  kubectl etcd COMMAND [NAME] [flags]\n\nCommands:\n", out);
		for (size_t i = 0; i < pl_ncommands; i++)
			fprintf(out, "  %-11s %s\n", pl_commands[i].name, pl_commands[i].summary);
		fputs("\nkubectl's global flags go after the command (kubectl refuses them before\n"
		      "the plugin's name):\n", out);
		struct cli_flag flags[CLI_MAX_FLAGS];
		size_t n = pl_command_flags("completion", flags, CLI_MAX_FLAGS);
		cli_flags_help(out, flags, n);
		fputs("\nExit status: 0 ok, 1 failed/refused/timed out/not found, 2 usage, "
		      "130 interrupted.\n"
		      "Run 'kubectl etcd COMMAND --help' for a command's flags.\n", out);
		return;
	}
	fprintf(out, "%s.\n\n%s", c->summary, c->usage);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = pl_command_flags(c->name, flags, CLI_MAX_FLAGS);
	if (n && strcmp(c->name, "help") != 0) {
		fputs("\nFlags:\n", out);
		cli_flags_help(out, flags, n);
	}
}
