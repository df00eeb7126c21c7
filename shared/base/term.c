/*
 * term.c — untrusted text made safe for a terminal (term.h).
 *
 * The one idea: decode UTF-8 strictly (Unicode's table of well-formed byte
 * sequences: no overlong forms, no surrogates, nothing past U+10FFFF) and
 * let through only what decodes to a printable character; everything else is
 * escaped one piece at a time, so a cut between pieces never splits an escape
 * or a character.
 */
#include "term.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The length of the well-formed UTF-8 sequence at s, or 0 when s[0] does
 * not start one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong below */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates above */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong below */
		else if (c == 0xF4)
			hi = 0x8F; /* past U+10FFFF above */
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* Whether the sequence at s (of length n, well-formed) is a C1 control. */
static bool is_c1(const unsigned char *s, size_t n)
{
	return n == 2 && s[0] == 0xC2 && s[1] <= 0x9F;
}

size_t term_piece(const char *s, unsigned flags, char piece[TERM_PIECE_MAX])
{
	const unsigned char *u = (const unsigned char *)s;
	piece[0] = '\0';
	if (!u[0])
		return 0;
	size_t n = utf8_len(u);
	if (n == 0) {
		snprintf(piece, TERM_PIECE_MAX, "\\x%02x", u[0]);
		return 1;
	}
	if (is_c1(u, n)) {
		snprintf(piece, TERM_PIECE_MAX, "\\u00%02x", u[1]);
		return 2;
	}
	if (n > 1) {
		memcpy(piece, s, n);
		piece[n] = '\0';
		return n;
	}
	switch (u[0]) {
	case '\t':
		memcpy(piece, "\\t", 3);
		return 1;
	case '\n':
		memcpy(piece, "\\n", 3);
		return 1;
	case '\r':
		memcpy(piece, "\\r", 3);
		return 1;
	case '"':
	case '\\':
		if (flags & TERM_QUOTE) {
			piece[0] = '\\';
			piece[1] = s[0];
			piece[2] = '\0';
			return 1;
		}
		break;
	default:
		if (u[0] < 0x20 || u[0] == 0x7F) {
			snprintf(piece, TERM_PIECE_MAX, "\\x%02x", u[0]);
			return 1;
		}
	}
	piece[0] = s[0];
	piece[1] = '\0';
	return 1;
}

const char *term_safe(char *buf, size_t size, const char *text)
{
	if (size == 0)
		return buf;
	size_t o = 0;
	const char *p = text ? text : "";
	char piece[TERM_PIECE_MAX];
	for (size_t k; (k = term_piece(p, 0, piece)) > 0; p += k) {
		size_t len = strlen(piece);
		if (o + len >= size)
			break;
		memcpy(buf + o, piece, len);
		o += len;
	}
	buf[o] = '\0';
	return buf;
}

int term_safe_append(struct eo_buf *out, const char *text, unsigned flags)
{
	const char *p = text ? text : "";
	char chunk[512];
	size_t o = 0;
	char piece[TERM_PIECE_MAX];
	for (size_t k; (k = term_piece(p, flags, piece)) > 0; p += k) {
		size_t len = strlen(piece);
		if (o + len > sizeof(chunk)) {
			if (eo_buf_append(out, chunk, o) != 0)
				return -1;
			o = 0;
		}
		memcpy(chunk + o, piece, len);
		o += len;
	}
	/* Appending nothing still gives out a terminated buffer. */
	return eo_buf_append(out, chunk, o);
}

int term_json_append(struct eo_buf *out, const char *json)
{
	const unsigned char *p = (const unsigned char *)(json ? json : "");
	const unsigned char *run = p; /* bytes to copy as they are */
	while (*p) {
		size_t n = utf8_len(p);
		char esc[8] = "";
		if (n == 0)
			memcpy(esc, "\\ufffd", 7);
		else if (is_c1(p, n))
			snprintf(esc, sizeof(esc), "\\u00%02x", p[1]);
		else if (n == 1 && (p[0] == 0x7F ||
				    (p[0] < 0x20 && p[0] != '\n' && p[0] != '\t' && p[0] != '\r')))
			snprintf(esc, sizeof(esc), "\\u%04x", p[0]);
		if (!esc[0]) {
			p += n;
			continue;
		}
		if (eo_buf_append(out, run, (size_t)(p - run)) != 0 ||
		    eo_buf_append(out, esc, strlen(esc)) != 0)
			return -1;
		p += n ? n : 1;
		run = p;
	}
	return eo_buf_append(out, run, (size_t)(p - run));
}
