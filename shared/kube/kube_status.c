/*
 * kube_status.c — what the API server said, in words a person can act on:
 * Status objects and other error bodies become one line, admission Warning
 * headers become plain texts, Retry-After becomes a wait.
 *
 * The one idea: the server's own message is the best message (it names the
 * object, the field, the webhook), so it is kept verbatim, flattened to one
 * line, and only completed — with the causes it does not already mention, or
 * with what was not found when a Status has no message at all. Pure: no I/O.
 */
#include "kube.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

static const char *http_reason(long code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/* Append text as one line: control bytes and runs of white space become a
 * single space; at most max bytes of input are looked at (0: all). */
static void append_line(struct eo_buf *b, const char *s, size_t len, size_t max)
{
	int space = b->len > 0 && b->data[b->len - 1] == ' ';
	size_t n = max && len > max ? max : len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (!space && b->len)
				eo_buf_append(b, " ", 1);
			space = 1;
			continue;
		}
		eo_buf_append(b, &s[i], 1);
		space = 0;
	}
	if (n < len)
		eo_buf_append(b, "…", strlen("…"));
}

static void finish(struct eo_buf *b, char *out, size_t size)
{
	while (b->len && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	if (size) {
		eo_strlcpy(out, b->data ? b->data : "", size);
	}
	eo_buf_free(b);
}

/* `etcdclusters.etcd.k8s-operator.io "demo"`, or "" when details lack a name. */
static void describe_object(json_object *details, struct eo_buf *b)
{
	const char *kind = json_opt_str(details, "kind", "");
	const char *group = json_opt_str(details, "group", "");
	const char *name = json_opt_str(details, "name", "");
	if (!*name)
		return;
	if (*kind && *group)
		eo_buf_printf(b, "%s.%s \"%s\"", kind, group, name);
	else if (*kind)
		eo_buf_printf(b, "%s \"%s\"", kind, name);
	else
		eo_buf_printf(b, "\"%s\"", name);
}

void kube_status_message(json_object *st, long code, char *out, size_t size)
{
	struct eo_buf b = {0};
	if (!st || !json_object_is_type(st, json_type_object) ||
	    strcmp(json_opt_str(st, "kind", ""), "Status") != 0) {
		const char *text = st ? json_compact(st) : "";
		eo_buf_printf(&b, "HTTP %ld %s", code, http_reason(code));
		if (*text) {
			eo_buf_append(&b, ": ", 2);
			append_line(&b, text, strlen(text), 200);
		}
		finish(&b, out, size);
		return;
	}
	const char *msg = json_opt_str(st, "message", "");
	const char *reason = json_opt_str(st, "reason", "");
	json_object *details = json_at(st, "details");
	if (*msg) {
		append_line(&b, msg, strlen(msg), 0);
	} else {
		struct eo_buf what = {0};
		describe_object(details, &what);
		if (what.len && (code == EO_HTTP_NOT_FOUND || !strcmp(reason, "NotFound")))
			eo_buf_printf(&b, "%s not found", what.data);
		else if (what.len && !strcmp(reason, "AlreadyExists"))
			eo_buf_printf(&b, "%s already exists", what.data);
		else if (what.len && (code == EO_HTTP_CONFLICT || !strcmp(reason, "Conflict")))
			eo_buf_printf(&b, "Operation cannot be fulfilled on %s", what.data);
		else if (what.len)
			eo_buf_printf(&b, "%s: %s", what.data, *reason ? reason : http_reason(code));
		else if (*reason)
			eo_buf_printf(&b, "%s (HTTP %ld)", reason, code);
		else
			eo_buf_printf(&b, "HTTP %ld %s", code, http_reason(code));
		eo_buf_free(&what);
	}
	/* Causes the message does not already spell out, as "field: message". */
	json_object *causes = json_at(st, "details.causes");
	size_t n = causes && json_object_is_type(causes, json_type_array)
			   ? json_object_array_length(causes)
			   : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(causes, i);
		const char *field = json_opt_str(c, "field", "");
		const char *cmsg = json_opt_str(c, "message", "");
		if (!*cmsg || strstr(msg, cmsg))
			continue;
		eo_buf_append(&b, "; ", 2);
		if (*field)
			eo_buf_printf(&b, "%s: ", field);
		append_line(&b, cmsg, strlen(cmsg), 0);
	}
	finish(&b, out, size);
}

void kube_error_message(long code, const char *body, size_t len, char *out, size_t size)
{
	struct eo_buf b = {0};
	size_t i = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len) {
		eo_buf_printf(&b, "HTTP %ld %s (empty body)", code, http_reason(code));
		finish(&b, out, size);
		return;
	}
	if (body[i] == '{') {
		json_object *o = json_parse(body, len, NULL);
		if (o) {
			kube_status_message(o, code, out, size);
			json_object_put(o);
			eo_buf_free(&b);
			return;
		}
	}
	eo_buf_printf(&b, "HTTP %ld %s: ", code, http_reason(code));
	/* Printable bytes only: a binary or HTML body must not wreck a terminal. */
	size_t shown = 0;
	int space = 1;
	for (; i < len && shown < 200; i++) {
		unsigned char c = (unsigned char)body[i];
		if (c >= 0x21 && c < 0x7f) {
			eo_buf_append(&b, &body[i], 1);
			space = 0;
			shown++;
		} else if (!space && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			eo_buf_append(&b, " ", 1);
			space = 1;
			shown++;
		}
	}
	if (i < len)
		eo_buf_append(&b, "…", strlen("…"));
	finish(&b, out, size);
}

/* RFC 7230 quoted-string at *p (pointing at '"'): unquoted into a new buffer;
 * NULL when malformed. Advances *p past the closing quote. */
static char *quoted(const char **p)
{
	const char *s = *p;
	if (*s != '"')
		return NULL;
	struct eo_buf b = {0};
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\') {
			s++;
			if (!*s)
				break;
		}
		eo_buf_append(&b, s, 1);
	}
	if (*s != '"') {
		eo_buf_free(&b);
		return NULL;
	}
	*p = s + 1;
	return eo_buf_steal(&b);
}

int kube_warning_parse(const char *value, void (*fn)(const char *text, void *ud), void *ud)
{
	int count = 0;
	const char *p = value ? value : "";
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		/* warn-code: three digits */
		if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]) || p[3] != ' ')
			break;
		int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 4;
		/* warn-agent: a token up to the next space */
		while (*p && *p != ' ')
			p++;
		if (*p != ' ')
			break;
		p++;
		char *text = quoted(&p);
		if (!text)
			break;
		/* optional warn-date */
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			char *date = quoted(&p);
			free(date);
			if (!date) {
				free(text);
				break;
			}
		}
		if (code == 299) {
			if (fn)
				fn(text, ud);
			count++;
		}
		free(text);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			break;
	}
	return count;
}

long kube_retry_after_ms(const char *value, int64_t now_s)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		char *end;
		long long secs = strtoll(value, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end || secs < 0 || secs > 86400)
			return -1;
		return (long)(secs * 1000);
	}
	struct tm tm = {0};
	const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	int64_t at = (int64_t)timegm(&tm);
	if (at <= now_s)
		return 0;
	if (at - now_s > 86400)
		return -1;
	return (long)((at - now_s) * 1000);
}
