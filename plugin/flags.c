/*
 * flags.c — kubectl's command-line syntax for a plugin: a table of flags in,
 * positional arguments and filled destinations out. Pure: no I/O.
 *
 * The one idea: accept exactly what pflag (kubectl's parser) accepts, so a
 * person's habits carry over — `--flag value`, `--flag=value`, `-n value`,
 * `-nvalue`, `-n=value`, grouped booleans `-Ay`, `--bool=false`, flags and
 * arguments interleaved, `--` ending the flags — and answer mistakes in
 * kubectl's words ("unknown flag: --x"), so the message reads as familiar.
 */
#include "plugin.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl_global_init(struct pl_global *g)
{
	memset(g, 0, sizeof(*g));
	g->request_timeout_ms = -1;
	g->verbosity = -1;
}

#define REFUSE_IMPERSONATION                                                              \
	"is not supported by kubectl etcd: it acts as the user of the kubeconfig; "       \
	"impersonation is not implemented. Use --context (or --kubeconfig) with a context " \
	"for that user instead"

size_t pl_global_flags(struct pl_global *g, struct pl_flag *out, size_t max)
{
	const struct pl_flag all[] = {
		PL_FLAG("namespace", 'n', PL_STR, &g->namespace, "NS", "the namespace (default: the context's, else \"default\")"),
		PL_FLAG("all-namespaces", 'A', PL_BOOL, &g->all_namespaces, NULL, "every namespace (status)"),
		PL_FLAG("kubeconfig", 0, PL_STR, &g->kubeconfig, "FILE", "this kubeconfig file only (default: $KUBECONFIG, then ~/.kube/config)"),
		PL_FLAG("context", 0, PL_STR, &g->context, "NAME", "the kubeconfig context to use"),
		PL_FLAG("cluster", 0, PL_STR, &g->cluster, "NAME", "the kubeconfig cluster to use"),
		PL_FLAG("user", 0, PL_STR, &g->user, "NAME", "the kubeconfig user to use"),
		PL_FLAG("server", 's', PL_STR, &g->server, "URL", "the API server's address"),
		PL_FLAG("token", 0, PL_STR, &g->token, "TOKEN", "bearer token for the API server"),
		PL_FLAG("insecure-skip-tls-verify", 0, PL_BOOL, &g->insecure, NULL, "do not check the server's certificate (insecure)"),
		PL_FLAG("request-timeout", 0, PL_DURATION, &g->request_timeout_ms, "DURATION", "limit for one API request, e.g. 5s, 1m (0 or unset: 30s)"),
		PL_FLAG("v", 'v', PL_INT, &g->verbosity, "LEVEL", "log verbosity: 2 warnings, 4 info, 6 debug (logfmt on stderr)"),
		PL_FLAG("no-color", 0, PL_BOOL, &g->no_color, NULL, "no colour even on a terminal (also: NO_COLOR=1)"),
		{.name = "as", .type = PL_REFUSED, .metavar = "USER", .help = "--as " REFUSE_IMPERSONATION, .hidden = true},
		{.name = "as-group", .type = PL_REFUSED, .metavar = "GROUP", .help = "--as-group " REFUSE_IMPERSONATION, .hidden = true},
		{.name = "as-uid", .type = PL_REFUSED, .metavar = "UID", .help = "--as-uid " REFUSE_IMPERSONATION, .hidden = true},
	};
	size_t n = EO_ARRAY_LEN(all) < max ? EO_ARRAY_LEN(all) : max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

size_t pl_own_then_global_flags(const struct pl_flag *own, size_t nown, struct pl_global *g,
				struct pl_flag *out, size_t max)
{
	size_t n = nown < max ? nown : max;
	memcpy(out, own, n * sizeof(own[0]));
	return n + pl_global_flags(g, out + n, max - n);
}

bool pl_flag_takes_value(const struct pl_flag *f)
{
	return f->type != PL_BOOL && !(f->type == PL_STR && f->noopt);
}

static const struct pl_flag *find_long(const char *name, size_t len, const struct pl_flag *flags,
				       size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

static const struct pl_flag *find_short(char c, const struct pl_flag *flags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (flags[i].shortc && flags[i].shortc == c)
			return &flags[i];
	return NULL;
}

const struct pl_flag *pl_flag_lookup(const char *word, const struct pl_flag *flags, size_t n)
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

/* One unit of a Go duration, in milliseconds. */
static double unit_ms(const char *u, size_t len)
{
	static const struct {
		const char *name;
		double ms;
	} units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"\xce\xbcs", 1e-3},
		     {"ms", 1},    {"s", 1000},  {"m", 60000},          {"h", 3600000}};
	for (size_t i = 0; i < EO_ARRAY_LEN(units); i++)
		if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
			return units[i].ms;
	return -1;
}

int pl_duration_parse(const char *s, int64_t *ms)
{
	if (!s || !*s)
		return -1;
	int64_t secs;
	if (parse_int(s, &secs) == 0) { /* kubectl: a bare integer is seconds */
		if (secs < 0 || secs > INT64_MAX / 1000)
			return -1;
		*ms = secs * 1000;
		return 0;
	}
	if (*s == '+')
		s++;
	double total = 0;
	const char *p = s;
	while (*p) {
		const char *num = p;
		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
		if (p == num)
			return -1;
		char *end;
		double v = strtod(num, &end);
		if (end != p)
			return -1;
		const char *u = p;
		while (*p && !isdigit((unsigned char)*p) && *p != '.')
			p++;
		double k = unit_ms(u, (size_t)(p - u));
		if (k < 0)
			return -1;
		total += v * k;
	}
	if (total > 9.2e18)
		return -1;
	*ms = (int64_t)(total + 0.5);
	return 0;
}

void pl_duration_text(int64_t ms, char *out, size_t size)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(out, size, "%lldms", (long long)ms);
	} else if (ms < 60000) {
		snprintf(out, size, "%.1fs", (double)ms / 1000.0);
	} else {
		int64_t s = ms / 1000, h = s / 3600, m = (s / 60) % 60;
		if (h)
			snprintf(out, size, "%lldh%lldm%llds", (long long)h, (long long)m,
				 (long long)(s % 60));
		else
			snprintf(out, size, "%lldm%llds", (long long)m, (long long)(s % 60));
	}
}

static int set_value(const struct pl_flag *f, const char *shown, const char *val,
		     struct eo_err *err)
{
	switch (f->type) {
	case PL_BOOL:
		if (parse_bool(val, f->dest) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument \"%s\" for \"%s\" flag: expected true or false",
					  val, shown);
		return 0;
	case PL_STR:
		*(const char **)f->dest = val;
		return 0;
	case PL_INT:
		if (parse_int(val, f->dest) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument \"%s\" for \"%s\" flag: expected an integer",
					  val, shown);
		return 0;
	case PL_DURATION:
		if (pl_duration_parse(val, f->dest) != 0)
			return eo_err_set(err, EO_EINVAL,
					  "invalid argument \"%s\" for \"%s\" flag: expected a duration "
					  "such as 30s, 5m or 1h (a bare number is seconds)",
					  val, shown);
		return 0;
	case PL_STRLIST: {
		struct pl_strlist *l = f->dest;
		if (l->n >= PL_MAX_LIST)
			return eo_err_set(err, EO_EINVAL, "%s given more than %d times", shown,
					  PL_MAX_LIST);
		l->v[l->n++] = val;
		return 0;
	}
	case PL_REFUSED:
		break;
	}
	return eo_err_set(err, EO_EINVAL, "%s", f->help);
}

/* The flag f was written as `shown`; inline is the text after '=' (or the
 * rest of a short group), NULL when none. May take the next word. */
static int take(const struct pl_flag *f, const char *shown, const char *inline_val, int argc,
		char *const argv[], int *i, struct eo_err *err)
{
	if (f->type == PL_REFUSED)
		return eo_err_set(err, EO_EINVAL, "%s", f->help);
	if (inline_val)
		return set_value(f, shown, inline_val, err);
	if (f->type == PL_BOOL) {
		*(bool *)f->dest = true;
		return 0;
	}
	if (f->type == PL_STR && f->noopt) {
		*(const char **)f->dest = f->noopt;
		return 0;
	}
	if (*i + 1 >= argc)
		return eo_err_set(err, EO_EINVAL, "flag needs an argument: %s", shown);
	return set_value(f, shown, argv[++*i], err);
}

int pl_parse(int argc, char *const argv[], const struct pl_flag *flags, size_t nflags,
	     struct pl_parsed *out, struct eo_err *err)
{
	memset(out, 0, sizeof(*out));
	bool only_args = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') { /* "-" alone is an argument (stdin) */
			if (out->npos >= PL_MAX_POS)
				return eo_err_set(err, EO_EINVAL, "too many arguments (at most %d)",
						  PL_MAX_POS);
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
			const struct pl_flag *f = find_long(name, len, flags, nflags);
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
			const struct pl_flag *f = find_short(*p, flags, nflags);
			if (!f)
				return eo_err_set(err, EO_EINVAL, "unknown shorthand flag: '%c' in %s",
						  *p, a);
			const char *rest = p[1] == '=' ? p + 2 : (p[1] ? p + 1 : NULL);
			if (f->type == PL_BOOL && p[1] != '=') {
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

void pl_flags_help(FILE *out, const struct pl_flag *flags, size_t n)
{
	char left[PL_MAX_FLAGS][64];
	size_t w = 0;
	for (size_t i = 0; i < n && i < PL_MAX_FLAGS; i++) {
		const struct pl_flag *f = &flags[i];
		const char *mv = f->metavar && pl_flag_takes_value(f) ? f->metavar : NULL;
		if (f->shortc)
			snprintf(left[i], sizeof(left[i]), "-%c, --%s%s%s", f->shortc, f->name,
				 mv ? " " : "", mv ? mv : "");
		else
			snprintf(left[i], sizeof(left[i]), "    --%s%s%s", f->name, mv ? " " : "",
				 mv ? mv : "");
		if (!f->hidden && strlen(left[i]) > w)
			w = strlen(left[i]);
	}
	for (size_t i = 0; i < n && i < PL_MAX_FLAGS; i++)
		if (!flags[i].hidden)
			fprintf(out, "  %-*s   %s\n", (int)w, left[i], flags[i].help);
}
