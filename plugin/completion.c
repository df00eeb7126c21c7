/*
 * completion.c — shell completion: `completion bash|zsh` scripts, and the
 * hidden `__complete` command they (and kubectl) ask.
 *
 * The one idea: one protocol, cobra's, for every shell. kubectl 1.26+ runs
 * kubectl_complete-etcd with the words typed after "etcd" (the last one the
 * word being completed, "" for a new word); that script runs
 * `kubectl-etcd __complete WORDS…`, which prints one candidate a line
 * ("word<TAB>description") and then ":<directive>", the bit set kubectl and
 * the scripts below understand (1 error, 2 no space, 4 no file completion,
 * 8 filter file extensions). The candidates come from the same flag tables
 * the commands parse with, and cluster names from the API server, within a
 * short deadline: a slow cluster must not freeze a shell.
 */
#include "plugin.h"

#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "json.h"
#include "term.h"

enum { DIR_ERROR = 1, DIR_NOSPACE = 2, DIR_NOFILE = 4, DIR_FILTER_EXT = 8 };

static const char BASH_SCRIPT[] =
	"# bash completion for kubectl-etcd (the kubectl etcd plugin called directly).\n"
	"# kubectl 1.26+ completes `kubectl etcd ...` itself through kubectl_complete-etcd.\n"
	"_kubectl_etcd() {\n"
	"    local cur=\"${COMP_WORDS[COMP_CWORD]}\" out directive line\n"
	"    out=$(\"${COMP_WORDS[0]}\" __completeNoDesc \"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null) || return\n"
	"    directive=${out##*:}\n"
	"    [[ $directive =~ ^[0-9]+$ ]] || directive=0\n"
	"    out=${out%:*}\n"
	"    (( directive & 1 )) && return\n"
	"    COMPREPLY=()\n"
	"    if (( directive & 8 )); then\n"
	"        local ext filter=\"\"\n"
	"        for ext in $out; do filter+=\"${filter:+|}*.$ext\"; done\n"
	"        compopt -o filenames 2>/dev/null\n"
	"        COMPREPLY=( $(compgen -f -X \"!@($filter)\" -- \"$cur\") $(compgen -d -- \"$cur\") )\n"
	"        return\n"
	"    fi\n"
	"    while IFS= read -r line; do\n"
	"        [[ -n $line && $line == \"$cur\"* ]] && COMPREPLY+=(\"$line\")\n"
	"    done <<< \"$out\"\n"
	"    (( directive & 2 )) && compopt -o nospace 2>/dev/null\n"
	"    if (( ${#COMPREPLY[@]} == 0 )) && ! (( directive & 4 )); then\n"
	"        compopt -o filenames 2>/dev/null\n"
	"        COMPREPLY=( $(compgen -f -- \"$cur\") )\n"
	"    fi\n"
	"}\n"
	"complete -F _kubectl_etcd kubectl-etcd\n";

static const char ZSH_SCRIPT[] =
	"#compdef kubectl-etcd\n"
	"# zsh completion for kubectl-etcd (the kubectl etcd plugin called directly).\n"
	"# kubectl 1.26+ completes `kubectl etcd ...` itself through kubectl_complete-etcd.\n"
	"_kubectl-etcd() {\n"
	"    local out directive\n"
	"    local -a lines comps\n"
	"    out=$(\"${words[1]}\" __complete \"${(@)words[2,CURRENT]}\" 2>/dev/null) || return 1\n"
	"    lines=(\"${(@f)out}\")\n"
	"    directive=${lines[-1]#:}\n"
	"    [[ $directive == <-> ]] || directive=0\n"
	"    (( directive & 1 )) && return 1\n"
	"    comps=(\"${(@)lines[1,-2]}\")\n"
	"    if (( directive & 8 )); then\n"
	"        _files -g \"*.(${(j:|:)comps})\"\n"
	"        return\n"
	"    fi\n"
	"    comps=(\"${(@)comps//:/\\\\:}\")\n"
	"    comps=(\"${(@)comps//$'\\t'/:}\")\n"
	"    if (( ${#comps} )); then\n"
	"        if (( directive & 2 )); then _describe -t values 'kubectl-etcd' comps -S ''\n"
	"        else _describe -t values 'kubectl-etcd' comps; fi\n"
	"    elif ! (( directive & 4 )); then\n"
	"        _files\n"
	"    fi\n"
	"}\n"
	"if [ \"$funcstack[1]\" = \"_kubectl-etcd\" ]; then\n"
	"    _kubectl-etcd \"$@\"\n"
	"else\n"
	"    compdef _kubectl-etcd kubectl-etcd\n"
	"fi\n";

int completion_main(int argc, char **argv)
{
	struct cli_parsed p;
	int rc = pl_parse_global_only("completion", argc, argv, &p);
	if (rc >= 0)
		return rc;
	if (p.npos != 1)
		return pl_usage_error("completion", "name one shell: bash or zsh");
	if (strcmp(p.pos[0], "bash") == 0)
		fputs(BASH_SCRIPT, stdout);
	else if (strcmp(p.pos[0], "zsh") == 0)
		fputs(ZSH_SCRIPT, stdout);
	else
		return pl_usage_error("completion", "unsupported shell \"%s\": use bash or zsh",
				      p.pos[0]);
	return PL_EXIT_OK;
}

static void candidate(const char *word, const char *desc, const char *prefix, bool descriptions)
{
	if (strncmp(word, prefix, strlen(prefix)) != 0)
		return;
	/* A cluster's name and phase are the server's: no control character
	 * (a tab or newline would also break the protocol) reaches the shell. */
	char w[1024], d[512];
	term_safe(w, sizeof(w), word);
	if (descriptions && desc && *desc)
		printf("%s\t%s\n", w, term_safe(d, sizeof(d), desc));
	else
		printf("%s\n", w);
}

/* Cluster names for a positional NAME, with the flags typed so far. */
static void complete_clusters(const char *cmd, int argc, char **argv, const char *prefix,
			      bool descriptions)
{
	struct scale_opts so; /* its global part is all we need */
	pl_global_init(&so.g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = pl_command_flags(cmd, flags, CLI_MAX_FLAGS);
	/* Re-point the global flags at so.g, keeping the command's own flags
	 * as scratch: parse leniently, a half-typed line is normal here. */
	struct cli_flag globals[CLI_MAX_FLAGS];
	size_t ng = pl_global_flags(&so.g, globals, CLI_MAX_FLAGS);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ng; k++)
			if (strcmp(flags[i].name, globals[k].name) == 0)
				flags[i] = globals[k];
	struct cli_parsed p;
	struct eo_err err;
	if (cli_parse(argc, argv, flags, n, &p, &err) != 0 || p.npos > 0)
		return;
	if (so.g.request_timeout_ms <= 0 || so.g.request_timeout_ms > 5000)
		so.g.request_timeout_ms = 5000;
	struct kube_client *kc = NULL;
	if (pl_connect(&so.g, &kc, &err) != 0)
		return;
	json_object *list = NULL;
	if (kube_list(kc, &KUBE_ETCDCLUSTERS, pl_namespace(kc), NULL, &list, &err) == 0) {
		json_object *items = json_at(list, "items");
		for (size_t i = 0; items && json_object_is_type(items, json_type_array) &&
				   i < json_object_array_length(items); i++) {
			json_object *it = json_object_array_get_idx(items, i);
			char desc[96];
			snprintf(desc, sizeof(desc), "%s, %lld members",
				 json_opt_str(it, "status.phase", "no status"),
				 (long long)json_opt_int(it, "status.replicas", 0));
			candidate(json_opt_str(it, "metadata.name", ""), desc, prefix, descriptions);
		}
	}
	json_object_put(list);
	kube_client_free(kc);
}

static int flag_value(const char *cmd, const struct cli_flag *f, const char *prefix,
		      bool descriptions)
{
	if (strcmp(f->name, "output") == 0) {
		if (strcmp(cmd, "members") == 0 || strcmp(cmd, "status") == 0) {
			candidate("wide", "more columns", prefix,
				  descriptions);
			candidate("name", "TYPE/NAME, one a line", prefix, descriptions);
			candidate("jsonpath=", "a JSONPath template: .field, ['field'], [N], [*]", prefix,
				  descriptions);
		}
		candidate("json", "the object as JSON", prefix, descriptions);
		candidate("yaml", "the object as YAML", prefix, descriptions);
	} else if (strcmp(f->name, "replicas") == 0) {
		for (int k = EC_MIN_REPLICAS; k <= EC_MAX_REPLICAS; k++) {
			char w[4], desc[64];
			snprintf(w, sizeof(w), "%d", k);
			snprintf(desc, sizeof(desc), "quorum %d, tolerates %d failure%s%s", ec_quorum(k),
				 ec_tolerance(k), ec_tolerance(k) == 1 ? "" : "s", k % 2 ? "" : " (even)");
			candidate(w, desc, prefix, descriptions);
		}
	} else if (strcmp(f->name, "version") == 0) {
		/* the versions this project tests; any X.Y.Z is accepted */
		candidate("3.5.36", "etcd 3.5 (3.6 needs 3.5.26 or newer first)", prefix,
			  descriptions);
		candidate(EC_DEFAULT_VERSION, "etcd 3.6, the default", prefix, descriptions);
	} else if (strcmp(f->name, "filename") == 0 || strcmp(f->name, "old") == 0) {
		printf("yaml\nyml\njson\n");
		return DIR_FILTER_EXT;
	} else if (strcmp(f->name, "kubeconfig") == 0) {
		return 0; /* any file */
	} else if (strcmp(f->name, "dry-run") == 0) {
		candidate("client", NULL, prefix, false);
		candidate("server", NULL, prefix, false);
	}
	return DIR_NOFILE;
}

int complete_main(int argc, char **argv, bool descriptions)
{
	static char *empty[] = {""};
	if (argc == 0) {
		argc = 1;
		argv = empty;
	}
	const char *cur = argv[argc - 1];
	int directive = DIR_NOFILE;
	if (argc == 1 && cur[0] != '-') {
		for (size_t i = 0; i < pl_ncommands; i++)
			candidate(pl_commands[i].name, pl_commands[i].summary, cur, descriptions);
		printf(":%d\n", directive);
		return PL_EXIT_OK;
	}
	const char *cmd = argc > 1 ? argv[0] : "completion"; /* lone "-…": the global flags */
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = pl_command_flags(cmd, flags, CLI_MAX_FLAGS);
	if (n == 0) {
		printf(":%d\n", DIR_NOFILE);
		return PL_EXIT_OK;
	}
	const char *prev = argc >= 2 ? argv[argc - 2] : "";
	const struct cli_flag *pf = argc >= 3 ? cli_flag_lookup(prev, flags, n) : NULL;
	bool prev_wants_value = pf && cli_flag_takes_value(pf) && !strchr(prev, '=') &&
				!(prev[0] == '-' && prev[1] != '-' && prev[2]);
	if (prev_wants_value) {
		directive = flag_value(cmd, pf, cur, descriptions);
	} else if (cur[0] == '-') {
		for (size_t i = 0; i < n; i++) {
			if (flags[i].hidden)
				continue;
			char w[80];
			snprintf(w, sizeof(w), "--%s", flags[i].name);
			candidate(w, flags[i].help, cur, descriptions);
			if (flags[i].shortc && cur[1] != '-') {
				snprintf(w, sizeof(w), "-%c", flags[i].shortc);
				candidate(w, flags[i].help, cur, descriptions);
			}
		}
	} else if (strcmp(cmd, "alarm") == 0 && argc == 2) {
		candidate("list", "the alarms etcd has raised", cur, descriptions);
	} else if (strcmp(cmd, "alarm") == 0 && argc > 2 && strcmp(argv[1], "list") == 0) {
		complete_clusters(cmd, argc - 3, argv + 2, cur, descriptions);
	} else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "scale") == 0 ||
		   strcmp(cmd, "members") == 0 || strcmp(cmd, "health") == 0 ||
		   strcmp(cmd, "upgrade") == 0 || strcmp(cmd, "suspend") == 0 ||
		   strcmp(cmd, "resume") == 0 || strcmp(cmd, "backup") == 0 ||
		   strcmp(cmd, "backups") == 0) {
		complete_clusters(cmd, argc - 2, argv + 1, cur, descriptions);
	} else if (strcmp(cmd, "completion") == 0 && argc == 2) {
		candidate("bash", NULL, cur, false);
		candidate("zsh", NULL, cur, false);
	} else if (strcmp(cmd, "help") == 0 && argc == 2) {
		for (size_t i = 0; i < pl_ncommands; i++)
			candidate(pl_commands[i].name, pl_commands[i].summary, cur, descriptions);
	}
	printf(":%d\n", directive);
	return PL_EXIT_OK;
}
