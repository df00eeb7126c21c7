/*
 * kubectl-etcd — the kubectl plugin: `kubectl etcd status|members|health|scale|…`.
 *
 * main only finds the command word and hands it the rest of the arguments;
 * each command parses its own flags plus kubectl's global ones (plugin.h).
 * kubectl runs this binary with the words after "etcd", unchanged, and
 * passes its exit status through.
 */
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "version.h"

/* Edit distance, for "did you mean". */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 32 || lb > 32)
		return 99;
	int d[33][33];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	return d[la][lb];
}

static int unknown_command(const char *cmd)
{
	fprintf(stderr, "Error: unknown command \"%s\" for \"kubectl etcd\"\n", cmd);
	for (size_t i = 0; i < pl_ncommands; i++)
		if (distance(cmd, pl_commands[i].name) <= 2 ||
		    (strlen(cmd) >= 2 && strncmp(pl_commands[i].name, cmd, strlen(cmd)) == 0)) {
			fprintf(stderr, "\nDid you mean this?\n\t%s\n\n", pl_commands[i].name);
			break;
		}
	fprintf(stderr, "Run 'kubectl etcd --help' for usage.\n");
	return PL_EXIT_USAGE;
}

static int help_main(int argc, char **argv)
{
	if (argc == 0) {
		pl_help(stdout, NULL);
		return PL_EXIT_OK;
	}
	if (!pl_command_find(argv[0]))
		return unknown_command(argv[0]);
	pl_help(stdout, argv[0]);
	return PL_EXIT_OK;
}

int main(int argc, char **argv)
{
	/* The command is the first word that is neither a flag nor a flag's
	 * value, so `kubectl etcd -n team-a status` works as well. */
	struct pl_global g;
	pl_global_init(&g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t nflags = pl_global_flags(&g, flags, CLI_MAX_FLAGS);
	int ci = -1;
	bool help = false, version = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (a[0] == '-' && a[1]) {
			if (!strcmp(a, "-h") || !strcmp(a, "--help"))
				help = true;
			if (!strcmp(a, "--version"))
				version = true;
			const struct cli_flag *f = cli_flag_lookup(a, flags, nflags);
			if (f && cli_flag_takes_value(f) && !strchr(a, '=') && (a[1] == '-' || !a[2]))
				i++;
			continue;
		}
		ci = i;
		break;
	}
	if (ci < 0) {
		if (version) { /* one line, as every program here prints it */
			printf("kubectl-etcd %s\n", PL_VERSION);
			return 0;
		}
		if (help || argc == 1) {
			pl_help(stdout, NULL);
			return PL_EXIT_OK;
		}
		return pl_usage_error(NULL, "a command is required (status, members, health, alarm, scale, "
				      "upgrade, suspend, resume, validate, backup, backups, restore, install, version, "
				      "completion)");
	}
	const char *cmd = argv[ci];
	/* The words around the command, without it. */
	char **rest = calloc((size_t)argc, sizeof(char *));
	if (!rest)
		return pl_fail("out of memory");
	int nrest = 0;
	for (int i = 1; i < argc; i++)
		if (i != ci)
			rest[nrest++] = argv[i];
	int rc;
	if (strcmp(cmd, "status") == 0)
		rc = status_main(nrest, rest);
	else if (strcmp(cmd, "scale") == 0)
		rc = scale_main(nrest, rest);
	else if (strcmp(cmd, "upgrade") == 0)
		rc = upgrade_main(nrest, rest);
	else if (strcmp(cmd, "suspend") == 0)
		rc = suspend_main(nrest, rest);
	else if (strcmp(cmd, "resume") == 0)
		rc = resume_main(nrest, rest);
	else if (strcmp(cmd, "members") == 0)
		rc = members_main(nrest, rest);
	else if (strcmp(cmd, "health") == 0)
		rc = health_main(nrest, rest);
	else if (strcmp(cmd, "alarm") == 0)
		rc = alarm_main(nrest, rest);
	else if (strcmp(cmd, "validate") == 0)
		rc = validate_main(nrest, rest);
	else if (strcmp(cmd, "backup") == 0)
		rc = backup_main(nrest, rest);
	else if (strcmp(cmd, "backups") == 0)
		rc = backups_main(nrest, rest);
	else if (strcmp(cmd, "restore") == 0)
		rc = restore_main(nrest, rest);
	else if (strcmp(cmd, "install") == 0)
		rc = install_main(nrest, rest);
	else if (strcmp(cmd, "version") == 0)
		rc = version_main(nrest, rest);
	else if (strcmp(cmd, "completion") == 0)
		rc = completion_main(nrest, rest);
	else if (strcmp(cmd, "help") == 0)
		rc = help_main(nrest, rest);
	else if (strcmp(cmd, "__complete") == 0)
		rc = complete_main(argc - ci - 1, argv + ci + 1, true);
	else if (strcmp(cmd, "__completeNoDesc") == 0)
		rc = complete_main(argc - ci - 1, argv + ci + 1, false);
	else
		rc = unknown_command(cmd);
	free(rest);
	fflush(stdout);
	return rc;
}
