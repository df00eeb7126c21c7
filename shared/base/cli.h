/*
 * cli.h — the one command-line layer of every program here: a table of flags
 * in, positional arguments and filled destinations out. Pure: no I/O but the
 * help printer, which writes where it is told.
 *
 * The one idea: accept exactly what pflag (kubectl's and every Kubernetes
 * component's parser) accepts, so a person's habits carry over — `--flag
 * value`, `--flag=value`, `-n value`, `-nvalue`, `-n=value`, grouped
 * booleans `-Ay`, `--bool=false`, flags and arguments interleaved, `--`
 * ending the flags — and answer mistakes in pflag's words ("unknown flag:
 * --x", "flag needs an argument: --namespace"), so the message reads as
 * familiar. The daemons (etcd-controller, etcd-webhook, member-init), the
 * plugin and etcd-certs all parse through it.
 */
#ifndef EO_CLI_H
#define EO_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eo.h"

enum cli_ftype {
	CLI_BOOL,     /* bool *: --yes, --yes=true|false */
	CLI_STR,      /* const char **: borrowed from argv */
	CLI_STRBUF,   /* char[size] (size in .size): copied; too long is an error */
	CLI_INT,      /* int64_t *; within [min, max] when min < max */
	CLI_DURATION, /* int64_t * milliseconds (dur_parse: "5s", "1m30s", bare integer =
			 seconds); within [min, max] when min < max */
	CLI_STRLIST,  /* struct cli_strlist *: repeatable (-f a -f b) */
	CLI_REFUSED,  /* recognised but not supported: help says why (--as) */
};

#define CLI_MAX_LIST 32
struct cli_strlist {
	const char *v[CLI_MAX_LIST];
	int n;
};

struct cli_flag {
	const char *name;    /* long name without "--" */
	char shortc;         /* one-letter form, or 0 */
	enum cli_ftype type;
	void *dest;          /* see enum cli_ftype; NULL only for CLI_REFUSED */
	const char *metavar; /* value name in --help ("N", "FILE"); NULL for booleans */
	const char *help;    /* one line; for CLI_REFUSED the reason it is refused */
	bool hidden;         /* accepted, left out of --help */
	const char *noopt;   /* CLI_STR: the value when written bare ("--dry-run" = "client");
				a value then needs "=" (pflag's NoOptDefVal) */
	int64_t min, max;    /* CLI_INT, CLI_DURATION: the range, when min < max */
	size_t size;         /* CLI_STRBUF: the buffer's size */
};

/* Table entries: CLI_FLAG(name, 'x' or 0, type, dest, metavar, help). */
#define CLI_FLAG(n, s, t, d, mv, h) \
	{ .name = (n), .shortc = (s), .type = (t), .dest = (d), .metavar = (mv), .help = (h) }
/* An integer or duration flag with its range. */
#define CLI_RANGE(n, t, d, lo, hi, mv, h)                                                  \
	{ .name = (n), .type = (t), .dest = (d), .metavar = (mv), .help = (h), .min = (lo), \
	  .max = (hi) }
/* A flag copied into a fixed buffer (a char array member). */
#define CLI_BUF(n, buf, mv, h) \
	{ .name = (n), .type = CLI_STRBUF, .dest = (buf), .size = sizeof(buf), .metavar = (mv), .help = (h) }

#define CLI_MAX_POS 16
struct cli_parsed {
	const char *pos[CLI_MAX_POS]; /* positional arguments, borrowed from argv */
	int npos;
	bool help; /* -h/--help seen: the caller prints usage and exits 0 */
};
#define CLI_MAX_FLAGS 48

/*
 * Parse argv[0..argc) (the words after the program or command name) against
 * flags. Flags and positional arguments may be interleaved; "--" ends the
 * flags. A flag given twice keeps the last value (lists append). On a usage
 * error returns -1 with err->code EO_EINVAL and a message in pflag's words.
 */
int cli_parse(int argc, char *const argv[], const struct cli_flag *flags, size_t nflags,
	      struct cli_parsed *out, struct eo_err *err);

/* The flag a word names ("--namespace", "-n", "--v=3", "-nfoo"), or NULL. */
const struct cli_flag *cli_flag_lookup(const char *word, const struct cli_flag *flags, size_t n);
/* Whether a flag consumes the next word as its value when written "--name value". */
bool cli_flag_takes_value(const struct cli_flag *f);

/* The flag table as help text: "  -n, --namespace NS   help…", one line each. */
void cli_flags_help(FILE *out, const struct cli_flag *flags, size_t n);

#endif
