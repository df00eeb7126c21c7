/*
 * yamljson.h — YAML streams to json-c values and back, through libyaml.
 *
 * Parsing turns every document of a stream into a json-c value. Plain
 * scalars are typed by the YAML 1.2 core schema (integers, floats, true/false,
 * null/~/empty; anything else a string); quoted scalars are always strings.
 * Anchors and aliases are expanded into independent copies, bounded so that
 * an alias bomb fails instead of eating memory; the merge key "<<" is
 * honoured; empty documents are skipped. JSON is YAML, so JSON input works.
 *
 * Each parsed node remembers the 1-based line it came from (a side table kept
 * here, not json-c userdata, so json_object_deep_copy keeps working on the
 * result); kubeconfig errors and `kubectl etcd validate` cite those lines.
 *
 * Emitting writes block-style YAML the way kubectl prints it: keys in
 * insertion order, sequences under a key not indented, strings quoted only
 * when they would not read back as the same string ("3", "true", "").
 *
 * Named yamljson.h, not yaml.h, so that libyaml's <yaml.h> is never shadowed:
 * the files that drive libyaml include both.
 */
#ifndef EO_YAML_H
#define EO_YAML_H

#include <stddef.h>

#include <json-c/json.h>

#include "eo.h"

/*
 * Parse all documents of buf. On success *docs is a malloc'd array of *ndocs
 * values (NULL when the stream holds no non-empty document) owned by the
 * caller: free it with yaml_docs_free, which also forgets the lines. On
 * failure the message is "<source_name>:<line>:<col>: <problem>" and err->code
 * EO_EPARSE.
 */
int yaml_parse_docs(const char *buf, size_t len, const char *source_name, json_object ***docs,
		    size_t *ndocs, struct eo_err *err);

/* The 1-based source line a node of a parsed stream came from; 0 when
 * unknown (not from yaml_parse_docs, a copy, or its stream was freed). */
int yaml_line_of(json_object *node);

/* Frees the documents and the array, and forgets their lines. Keeping a
 * document past this is fine (json_object_get it first); its lines are gone. */
void yaml_docs_free(json_object **docs, size_t n);

/* Whether a string must be quoted in YAML to read back as the same string:
 * as plain text it would be a number, boolean or null to the YAML 1.2 core
 * schema, or to a YAML 1.1 reader such as kubectl's (yes/no/on/off, 1_000,
 * 1:20, 0b1), or be the merge key "<<". Characters that make plain text
 * impossible (": ", a leading '*') are the emitter's business, not this. */
int yaml_str_needs_quotes(const char *s, size_t n);

/* Append obj as a YAML document (no leading "---") to out. */
int yaml_emit(json_object *obj, struct eo_buf *out, struct eo_err *err);

#endif
