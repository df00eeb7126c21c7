/*
 * member_guard.c — `etcd-controller member-init guard -- etcd --config-file=F`:
 * the check before every start of etcd in a member's Pod.
 *
 * The init step (member_init*.c) runs once per Pod; etcd's container can be
 * restarted many times inside that Pod on the configuration it wrote. A
 * founding configuration (initial-cluster-state: new) would found a new,
 * empty cluster again if the data directory had been emptied in between,
 * and a joining one would rejoin empty under a member id that has voted.
 *
 * The one idea: a start without data is allowed exactly once, on a ticket
 * the init step leaves beside the configuration when it decides such a
 * start ("<config>.first-start"); the guard takes the ticket away before it
 * execs etcd. Any later start without data is refused with the lost-volume
 * status (MI_EXIT_VOLUME_LOST); a start on data is etcd's business (it
 * ignores initial-cluster-state there and refuses to run as a removed
 * member). The guard never writes configuration, never founds, never wipes.
 *
 * It needs libc, eo and log only (with member_files.c): guard_main.c links
 * it statically as build/etcd-member-guard, which etcd's distroless
 * container runs (the init step installs it, member-init --install-guard).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "member_init.h"

void mi_guard_decide(const struct mi_guard_facts *f, struct mi_guard_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->exit_code = 1;
	char who[96] = "";
	if (f->has_id)
		snprintf(who, sizeof(who), " (member %llx of cluster %llu recorded beside it)",
			 (unsigned long long)f->recorded_id, (unsigned long long)f->recorded_cluster);
	if (!f->config_read) {
		snprintf(d->message, sizeof(d->message),
			 "cannot read etcd's configuration (%s): not starting etcd",
			 f->config_error[0] ? f->config_error : "unknown error");
		return;
	}
	if (f->data_unknown) {
		snprintf(d->message, sizeof(d->message),
			 "cannot tell whether the data directory holds data (%s): not starting etcd "
			 "on a volume that cannot be read", f->data_error[0] ? f->data_error : "unreadable");
		return;
	}
	if (f->has_data) {
		d->start = true;
		snprintf(d->message, sizeof(d->message), "data present%s: etcd starts on it", who);
		return;
	}
	if (f->first_start) {
		d->start = true;
		snprintf(d->message, sizeof(d->message),
			 "no data yet and the init step's one-time ticket is here: etcd's first start "
			 "in this Pod, %s%s", f->state_new ? "founding the cluster" : "joining it", who);
		return;
	}
	d->exit_code = MI_EXIT_VOLUME_LOST;
	if (f->state_new)
		snprintf(d->message, sizeof(d->message),
			 "the data directory is empty, but this founding configuration "
			 "(initial-cluster-state new) has been used already: the cluster was founded "
			 "here%s. Refusing to found a new empty cluster in its place; delete this Pod, "
			 "its init step then finds the existing cluster (or reports the lost volume)",
			 who);
	else
		snprintf(d->message, sizeof(d->message),
			 "the data directory is empty, but etcd has started in this Pod before%s: its "
			 "data was lost. Refusing to start it empty; delete this Pod, its init step "
			 "then reports the lost volume and the controller replaces the member", who);
}

/* The value of a top-level "key: 'value'" line of the configuration the
 * init step writes (mi_render_config); quotes optional. */
static bool config_value(const char *text, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		const char *v = line + klen + 1;
		v += strspn(v, " \t");
		size_t n = strcspn(v, "\r\n");
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
			v++;
			n -= 2;
		}
		if (n == 0 || n >= size)
			return false;
		memcpy(out, v, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* --config-file=F, --config-file F (etcd takes one dash too). */
static const char *config_arg(char **cmd)
{
	for (int i = 1; cmd[i]; i++) {
		const char *a = cmd[i];
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (strncmp(a, "-config-file=", 13) == 0)
			return a + 13;
		if (strcmp(a, "-config-file") == 0 && cmd[i + 1])
			return cmd[i + 1];
	}
	return NULL;
}

static void gather(const char *config_file, const char *id_file_flag, struct mi_guard_facts *f,
		   char *data_dir, size_t dsize)
{
	memset(f, 0, sizeof(*f));
	char *text = NULL;
	size_t len;
	struct eo_err err = {0};
	if (eo_read_file(config_file, 1 << 16, &text, &len, &err) != 0) {
		snprintf(f->config_error, sizeof(f->config_error), "%s", err.msg);
		return;
	}
	char state[32] = "";
	if (!config_value(text, "data-dir", data_dir, dsize)) {
		snprintf(f->config_error, sizeof(f->config_error), "%s: no data-dir (or over %zu characters)",
			 config_file, dsize - 1);
		free(text);
		return;
	}
	config_value(text, "initial-cluster-state", state, sizeof(state));
	free(text);
	f->config_read = true;
	f->state_new = strcmp(state, "new") == 0;

	int r = mi_data_present(data_dir, f->data_error, sizeof(f->data_error));
	f->has_data = r == 1;
	f->data_unknown = r < 0;

	char id_file[512];
	if (id_file_flag)
		eo_strlcpy(id_file, id_file_flag, sizeof(id_file));
	else if (mi_default_id_file(data_dir, id_file, sizeof(id_file), &err) != 0)
		id_file[0] = '\0';
	if (id_file[0])
		f->has_id = mi_read_id_file(id_file, &f->recorded_id, &f->recorded_cluster);

	char ticket[600];
	int n = snprintf(ticket, sizeof(ticket), "%s" MI_FIRST_START, config_file);
	f->first_start = n > 0 && (size_t)n < sizeof(ticket) && access(ticket, F_OK) == 0;
}

static const char guard_usage[] =
	"usage: etcd-member-guard [--member-id-file FILE] -- ETCD [ARGS…]\n"
	"       etcd-controller member-init guard [--member-id-file FILE] -- ETCD [ARGS…]\n"
	"\n"
	"Runs before every start of etcd in a member's Pod, then execs ETCD ARGS. ARGS must\n"
	"name etcd's configuration with --config-file (written by member-init). etcd starts\n"
	"on its data, or without data once, on the ticket member-init leaves for that first\n"
	"start; any later start without data (a founding configuration included) is refused.\n"
	"\n"
	"Exit status when refused: 1 (cannot read the configuration or the volume), 2 bad\n"
	"arguments, 4 the data is gone under a configuration that has been used.\n";

int mi_guard_main(int argc, char **argv)
{
	const char *id_file = NULL;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(guard_usage, stdout);
			return 0;
		}
		if (strncmp(argv[i], "--member-id-file=", 17) == 0 && argv[i][17])
			id_file = argv[i] + 17;
		else if (strcmp(argv[i], "--member-id-file") == 0 && i + 1 < argc)
			id_file = argv[++i];
		else {
			fprintf(stderr, "member-init guard: unexpected argument \"%.60s\"\n%s", argv[i],
				guard_usage);
			return 2;
		}
	}
	log_init("member-guard", EO_LOG_INFO);
	char **cmd = i + 1 < argc ? argv + i + 1 : NULL;
	const char *config_file = cmd ? config_arg(cmd) : NULL;
	if (!config_file) {
		log_error("bad arguments", "error=%s",
			  cmd ? "\"the command after -- names no --config-file\""
			      : "\"no command after --\"");
		return 2;
	}
	struct mi_guard_facts f;
	char data_dir[512] = "", q[700];
	gather(config_file, id_file, &f, data_dir, sizeof(data_dir));
	struct mi_guard_decision d;
	mi_guard_decide(&f, &d);
	if (!d.start) {
		log_error("refusing to start etcd", "exit=%d config=%s data_dir=%s reason=%s",
			  d.exit_code, config_file, data_dir, log_q(q, sizeof(q), d.message));
		return d.exit_code;
	}
	if (f.first_start) {
		/* Taken before etcd runs: the ticket is good for one start only. */
		char ticket[600];
		snprintf(ticket, sizeof(ticket), "%s" MI_FIRST_START, config_file);
		if (unlink(ticket) != 0 && errno != ENOENT) {
			char w[300];
			snprintf(w, sizeof(w), "cannot take the one-time ticket %s: %s", ticket,
				 strerror(errno));
			log_error("refusing to start etcd", "exit=1 reason=%s", log_q(q, sizeof(q), w));
			return 1;
		}
	}
	log_info("starting etcd", "command=%s config=%s reason=%s", cmd[0], config_file,
		 log_q(q, sizeof(q), d.message));
	fflush(NULL);
	execvp(cmd[0], cmd);
	char w[300];
	snprintf(w, sizeof(w), "exec %s: %s", cmd[0], strerror(errno));
	log_error("cannot start etcd", "error=%s", log_q(q, sizeof(q), w));
	return 1;
}
