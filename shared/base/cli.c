/*
 * cli.c — pflag's command-line syntax over a table of flags (cli.h).
 *
 * Values are checked as they are taken, each error naming the flag as it
 * was written ("--workers", "-n") and what it wants, so a typo in a
 * Deployment's args reads the same from every program.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

bool cli_flag_takes_value(const struct cli_flag *f)
{
	return f->type != CLI_BOOL && !(f->type == CLI_STR && f->noopt);
}

static const struct cli_flag *find_long(const char *name, size_t len, const struct cli_flag *flags,
					size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

static const struct cli_flag *find_short(char c, const struct cli_flag *flags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (flags[i].shortc && flags[i].shortc == c)
			return &flags[i];
	return NULL;
}

const struct cli_flag *cli_flag_lookup(const char *word, const struct cli_flag *flags, size_t n)
{
	if (!word || word[0] != '-' || !word[1])
		return NULL;
	if (word[1] == '-') {
		const char *name = word + 2, *eq = strchr(name, '=');
		return find_long(name, eq ? (size_t)(eq - name) : strlen(name), flags, n);
	}
	return find_short(word[1], flags, n);
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
	for (size_t i = 0; i < EO_ARRAY_LEN(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static int parse_int(const char *s, int64_t *out)
{
	if (!*s || isspace((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int out_of_range(const struct cli_flag *f, const char *shown, const char *val, int64_t v,
			struct eo_err *err)
{
	if (f->min >= f->max || (v >= f->min && v <= f->max))
		return 0;
	if (f->type == CLI_DURATION) {
		char lo[32], hi[32];
		dur_text(f->min, lo, sizeof(lo));
		dur_text(f->max, hi, sizeof(hi));
		return eo_err_set(err, EO_EINVAL,
				  "invalid argument \"%s\" for \"%s\" flag: want %s to %s", val, shown, lo,
				  hi);
	}
	return eo_err_set(err, EO_EINVAL, "invalid argument \"%s\" for \"%s\" flag: want %lld to %lld",
			  val, shown, (long long)f->min, (long long)f->max);
}

static int set_value(const struct cli_flag *f, const char *shown, const char *val,
		     struct eo_err *err)
{
	int64_t v;
	switch (f->type) {
	case CLI_BOOL:
		if (parse_bool(val, f->dest) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument \"%s\" for \"%s\" flag: expected true or false",
					  val, shown);
		return 0;
	case CLI_STR:
		*(const char **)f->dest = val;
		return 0;
	case CLI_STRBUF:
		if (eo_strlcpy(f->dest, val, f->size) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument for \"%s\" flag: longer than %zu characters",
					  shown, f->size - 1);
		return 0;
	case CLI_INT:
		if (parse_int(val, &v) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument \"%s\" for \"%s\" flag: expected an integer",
					  val, shown);
		if (out_of_range(f, shown, val, v, err) != 0)
			return -1;
		*(int64_t *)f->dest = v;
		return 0;
	case CLI_DURATION:
		if (dur_parse(val, &v) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument \"%s\" for \"%s\" flag: expected a duration "
					  "such as 30s, 5m or 1h (a bare number is seconds)",
					  val, shown);
		if (out_of_range(f, shown, val, v, err) != 0)
			return -1;
		*(int64_t *)f->dest = v;
		return 0;
	case CLI_STRLIST: {
		struct cli_strlist *l = f->dest;
		if (l->n >= CLI_MAX_LIST)
			return eo_err_set(err, EO_EINVAL, "%s given more than %d times", shown,
					  CLI_MAX_LIST);
		l->v[l->n++] = val;
		return 0;
	}
	case CLI_REFUSED:
		break;
	}
	return eo_err_set(err, EO_EINVAL, "%s", f->help);
}

/* The flag f was written as `shown`; inline is the text after '=' (or the
 * rest of a short group), NULL when none. May take the next word. */
static int take(const struct cli_flag *f, const char *shown, const char *inline_val, int argc,
		char *const argv[], int *i, struct eo_err *err)
{
	if (f->type == CLI_REFUSED)
		return eo_err_set(err, EO_EINVAL, "%s", f->help);
	if (inline_val)
		return set_value(f, shown, inline_val, err);
	if (f->type == CLI_BOOL) {
		*(bool *)f->dest = true;
		return 0;
	}
	if (f->type == CLI_STR && f->noopt) {
		*(const char **)f->dest = f->noopt;
		return 0;
	}
	if (*i + 1 >= argc)
		return eo_err_set(err, EO_EINVAL, "flag needs an argument: %s", shown);
	return set_value(f, shown, argv[++*i], err);
}

int cli_parse(int argc, char *const argv[], const struct cli_flag *flags, size_t nflags,
	      struct cli_parsed *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	bool only_args = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') { /* "-" alone is an argument (stdin) */
			if (out->npos >= CLI_MAX_POS)
				return eo_err_set(err, EO_EINVAL, "too many arguments (at most %d)",
						  CLI_MAX_POS);
			out->pos[out->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_args = true;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			char shown[96];
			snprintf(shown, sizeof(shown), "--%.*s", (int)(len < 80 ? len : 80), name);
			if (len == 4 && strncmp(name, "help", 4) == 0) {
				out->help = true;
				continue;
			}
			const struct cli_flag *f = find_long(name, len, flags, nflags);
			if (!f)
				return eo_err_set(err, EO_EINVAL, "unknown flag: %s", shown);
			if (take(f, shown, eq ? eq + 1 : NULL, argc, argv, &i, err) != 0)
				return -1;
			continue;
		}
		/* Short flags, possibly grouped: -Ay, -nfoo, -n=foo, -v4. */
		for (const char *p = a + 1; *p; p++) {
			char shown[8];
			snprintf(shown, sizeof(shown), "-%c", *p);
			if (*p == 'h') {
				out->help = true;
				continue;
			}
			const struct cli_flag *f = find_short(*p, flags, nflags);
			if (!f)
				return eo_err_set(err, EO_EINVAL, "unknown shorthand flag: '%c' in %s",
						  *p, a);
			const char *rest = p[1] == '=' ? p + 2 : (p[1] ? p + 1 : NULL);
			if (f->type == CLI_BOOL && p[1] != '=') {
				*(bool *)f->dest = true;
				continue;
			}
			if (take(f, shown, rest, argc, argv, &i, err) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

void cli_flags_help(FILE *out, const struct cli_flag *flags, size_t n)
{
	char left[CLI_MAX_FLAGS][64];
	size_t w = 0;
	if (n > CLI_MAX_FLAGS)
		n = CLI_MAX_FLAGS;
	for (size_t i = 0; i < n; i++) {
		const struct cli_flag *f = &flags[i];
		const char *mv = f->metavar && cli_flag_takes_value(f) ? f->metavar : NULL;
		if (f->shortc)
			snprintf(left[i], sizeof(left[i]), "-%c, --%s%s%s", f->shortc, f->name,
				 mv ? " " : "", mv ? mv : "");
		else
			snprintf(left[i], sizeof(left[i]), "    --%s%s%s", f->name, mv ? " " : "",
				 mv ? mv : "");
		if (!f->hidden && strlen(left[i]) > w)
			w = strlen(left[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (!flags[i].hidden)
			fprintf(out, "  %-*s   %s\n", (int)w, left[i], flags[i].help);
}
