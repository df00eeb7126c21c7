/*
 * yaml_emit.c — a json-c value written as block-style YAML the way kubectl
 * prints objects (`-o yaml`), through libyaml's emitter.
 *
 * The one idea: decide only what the schema decides — whether a string
 * would read back as a number, boolean or null, and so needs quotes
 * (yaml_str_needs_quotes) — and leave every character-level choice (which
 * quotes, escapes, when a plain scalar is impossible) to libyaml, which
 * knows YAML's grammar better than any hand-written printer. Keys keep their
 * insertion order; sequences under a key are not indented; lines are never
 * folded; multi-line strings become literal blocks.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "yamljson.h"

#define YAML_EMIT_MAX_DEPTH 1000

static int write_cb(void *data, unsigned char *buffer, size_t size)
{
	return eo_buf_append(data, buffer, size) == 0;
}

static int emit_event(yaml_emitter_t *e, yaml_event_t *ev, struct eo_err *err)
{
	if (yaml_emitter_emit(e, ev))
		return 0;
	return eo_err_set(err, EO_EPARSE, "cannot write YAML: %s",
			  e->problem ? e->problem : "emitter error");
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t n, yaml_scalar_style_t style,
		       struct eo_err *err)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
		return eo_err_set(err, EO_ENOMEM, "cannot write YAML: out of memory");
	return emit_event(e, &ev, err);
}

/* A string, quoted only when plain text would read back as something else. */
static int emit_string(yaml_emitter_t *e, const char *s, size_t n, struct eo_err *err)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE; /* libyaml single-quotes if it must */
	if (memchr(s, '\n', n))
		style = YAML_LITERAL_SCALAR_STYLE;
	else if (yaml_str_needs_quotes(s, n))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	return emit_scalar(e, s, n, style, err);
}

static int emit_value(yaml_emitter_t *e, json_object *o, int depth, struct eo_err *err)
{
	yaml_event_t ev;
	if (depth > YAML_EMIT_MAX_DEPTH)
		return eo_err_set(err, EO_EINVAL, "cannot write YAML: nesting deeper than %d levels",
				  YAML_EMIT_MAX_DEPTH);
	switch (json_object_get_type(o)) {
	case json_type_null: return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE, err);
	case json_type_boolean:
		return json_object_get_boolean(o) ? emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE, err)
						  : emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE, err);
	case json_type_int: {
		const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		return emit_scalar(e, t, strlen(t), YAML_PLAIN_SCALAR_STYLE, err);
	}
	case json_type_double: {
		double d = json_object_get_double(o);
		const char *t = isnan(d) ? ".nan" : isinf(d) ? (d < 0 ? "-.inf" : ".inf")
				 : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		return emit_scalar(e, t, strlen(t), YAML_PLAIN_SCALAR_STYLE, err);
	}
	case json_type_string:
		return emit_string(e, json_object_get_string(o), (size_t)json_object_get_string_len(o),
				   err);
	case json_type_array:
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (emit_event(e, &ev, err) != 0)
			return -1;
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (emit_value(e, json_object_array_get_idx(o, i), depth + 1, err) != 0)
				return -1;
		yaml_sequence_end_event_initialize(&ev);
		return emit_event(e, &ev, err);
	case json_type_object:
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (emit_event(e, &ev, err) != 0)
			return -1;
		json_object_object_foreach(o, k, v)
		{
			if (emit_string(e, k, strlen(k), err) != 0 || emit_value(e, v, depth + 1, err) != 0)
				return -1;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit_event(e, &ev, err);
	}
	return eo_err_set(err, EO_EINVAL, "cannot write YAML: unknown JSON type");
}

int yaml_emit(json_object *obj, struct eo_buf *out, struct eo_err *err)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&e))
		return eo_err_set(err, EO_ENOMEM, "cannot write YAML: out of memory");
	yaml_emitter_set_output(&e, write_cb, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	int rc = -1;
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (emit_event(&e, &ev, err) != 0)
		goto out;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if (emit_event(&e, &ev, err) != 0 || emit_value(&e, obj, 0, err) != 0)
		goto out;
	yaml_document_end_event_initialize(&ev, 1);
	if (emit_event(&e, &ev, err) != 0)
		goto out;
	yaml_stream_end_event_initialize(&ev);
	if (emit_event(&e, &ev, err) != 0)
		goto out;
	rc = yaml_emitter_flush(&e) ? 0 : eo_err_set(err, EO_ESYS, "cannot write YAML output");
out:
	yaml_emitter_delete(&e);
	return rc;
}
