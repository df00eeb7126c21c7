/*
 * table.c — kubectl-looking text: aligned tables, human sizes and ages.
 *
 * The one idea: a table is built whole, then measured, then printed, so
 * columns line up whatever the cells hold. Widths count UTF-8 code points
 * (an arrow "→" is one column, three bytes) and ignore colour codes, which
 * are added only around the padded text of a cell. A cell is text, never a
 * control sequence: pl_table_add makes every cell safe for the terminal
 * (term.h), so a cell holding a server's words cannot clear the screen (and
 * its escapes are measured as the columns they take).
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term.h"

#define MAX_COLS 12

struct pl_table {
	int ncols;
	char *hdr[MAX_COLS];
	char **cells;  /* rows × ncols */
	char **colors; /* rows × ncols, NULL entries: no colour */
	int rows, cap;
};

size_t pl_text_width(const char *s)
{
	size_t w = 0;
	for (; s && *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

struct pl_table *pl_table_new(int ncols, const char *const *headers)
{
	if (ncols < 1 || ncols > MAX_COLS)
		return NULL;
	struct pl_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	for (int i = 0; i < ncols; i++)
		t->hdr[i] = eo_strdup0(headers[i] ? headers[i] : "");
	return t;
}

int pl_table_add(struct pl_table *t, const char *const *cells, const char *const *colors)
{
	if (t->rows == t->cap) {
		int cap = t->cap ? t->cap * 2 : 8;
		char **c = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof(char *));
		if (!c)
			return -1;
		t->cells = c;
		char **k = realloc(t->colors, (size_t)cap * (size_t)t->ncols * sizeof(char *));
		if (!k)
			return -1;
		t->colors = k;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		size_t at = (size_t)t->rows * (size_t)t->ncols + (size_t)i;
		struct eo_buf safe = {0};
		if (term_safe_append(&safe, cells[i], 0) != 0) {
			eo_buf_free(&safe);
			for (size_t k = at - (size_t)i; k < at; k++) { /* the row is not added */
				free(t->cells[k]);
				free(t->colors[k]);
			}
			return -1;
		}
		t->cells[at] = eo_buf_steal(&safe);
		t->colors[at] = colors && colors[i] ? eo_strdup0(colors[i]) : NULL;
	}
	t->rows++;
	return 0;
}

int pl_table_rows(const struct pl_table *t)
{
	return t ? t->rows : 0;
}

static int put_cell(struct eo_buf *out, const char *text, const char *color, size_t pad, bool last)
{
	int rc = 0;
	if (color)
		rc |= eo_buf_printf(out, "%s", color);
	rc |= eo_buf_printf(out, "%s", text);
	if (color)
		rc |= eo_buf_printf(out, "%s", PL_RESET);
	if (!last)
		for (size_t i = pl_text_width(text); i < pad + 3; i++)
			rc |= eo_buf_append(out, " ", 1);
	return rc ? -1 : 0;
}

int pl_table_render(const struct pl_table *t, const char *indent, bool color, struct eo_buf *out)
{
	size_t w[MAX_COLS];
	for (int c = 0; c < t->ncols; c++) {
		w[c] = pl_text_width(t->hdr[c]);
		for (int r = 0; r < t->rows; r++) {
			size_t x = pl_text_width(t->cells[(size_t)r * (size_t)t->ncols + (size_t)c]);
			if (x > w[c])
				w[c] = x;
		}
	}
	int rc = 0;
	for (int r = -1; r < t->rows; r++) {
		rc |= eo_buf_printf(out, "%s", indent ? indent : "");
		for (int c = 0; c < t->ncols; c++) {
			size_t at = (size_t)r * (size_t)t->ncols + (size_t)c;
			const char *text = r < 0 ? t->hdr[c] : t->cells[at];
			const char *col = r < 0 || !color ? NULL : t->colors[at];
			rc |= put_cell(out, text, col, w[c], c == t->ncols - 1);
		}
		rc |= eo_buf_append(out, "\n", 1);
	}
	return rc ? -1 : 0;
}

void pl_table_free(struct pl_table *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->ncols; i++)
		free(t->hdr[i]);
	for (size_t i = 0; i < (size_t)t->rows * (size_t)t->ncols; i++) {
		free(t->cells[i]);
		free(t->colors[i]);
	}
	free(t->cells);
	free(t->colors);
	free(t);
}

void pl_human_bytes(int64_t n, char *out, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	if (n < 1024) {
		snprintf(out, size, "%lld B", (long long)(n < 0 ? 0 : n));
		return;
	}
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < EO_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	if (v < 10)
		snprintf(out, size, "%.1f %s", v, units[u]);
	else
		snprintf(out, size, "%.0f %s", v, units[u]);
}

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration: a big unit, and the
 * next smaller one only while it still matters. */
static void two_units(char *out, size_t size, long long a, const char *ua, long long b,
		      const char *ub)
{
	if (b)
		snprintf(out, size, "%lld%s%lld%s", a, ua, b, ub);
	else
		snprintf(out, size, "%lld%s", a, ua);
}

void pl_human_age(int64_t secs, char *out, size_t size)
{
	if (secs < 0) {
		snprintf(out, size, "<unknown>");
		return;
	}
	long long s = secs, m = s / 60, h = m / 60, d = h / 24, y = d / 365;
	if (s < 120)
		snprintf(out, size, "%llds", s);
	else if (m < 10)
		two_units(out, size, m, "m", s % 60, "s");
	else if (m < 180)
		snprintf(out, size, "%lldm", m);
	else if (h < 8)
		two_units(out, size, h, "h", m % 60, "m");
	else if (h < 48)
		snprintf(out, size, "%lldh", h);
	else if (h < 24 * 8)
		two_units(out, size, d, "d", h % 24, "h");
	else if (d < 365 * 2)
		snprintf(out, size, "%lldd", d);
	else if (d < 365 * 8)
		two_units(out, size, y, "y", d % 365, "d");
	else
		snprintf(out, size, "%lldy", y);
}

void pl_age_of(const char *ts, int64_t now, char *out, size_t size)
{
	int64_t t;
	if (!ts || !*ts || eo_rfc3339_parse(ts, &t) != 0) {
		snprintf(out, size, "<unknown>");
		return;
	}
	/* A clock a little behind the server's would give a negative age. */
	pl_human_age(now - t < 0 ? 0 : now - t, out, size);
}
