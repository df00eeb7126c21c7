/*
 * crdschema.h — a custom resource checked against its CRD's structural
 * openAPIV3Schema the way kube-apiserver checks it, offline: the unknown
 * fields that strict field validation refuses ("strict decoding error:
 * unknown field \"spec.replica\""), then types, required fields, enums,
 * bounds, lengths and patterns ("spec.replicas: Invalid value: \"three\":
 * spec.replicas in body must be of type integer: \"string\"").
 *
 * The one idea: the CRD is the single source of the schema. Whoever adds a
 * field to the CRD adds it here too, with nothing else to edit; a field the
 * CRD leaves open (x-kubernetes-preserve-unknown-fields, additionalProperties)
 * is open here. Not covered: CEL rules (x-kubernetes-validations) and
 * formats — the admission policy (policy.h) judges what matters of those.
 * Pure: values in, messages out.
 */
#ifndef EO_CRDSCHEMA_H
#define EO_CRDSCHEMA_H

#include <json-c/json.h>

#include "eo.h"

struct crdschema_result {
	struct eo_buf unknown; /* `unknown field "a.b"`, ", "-joined, as the API server lists them */
	struct eo_buf invalid; /* field errors, "; "-joined */
	int nunknown, ninvalid;
};

/* The openAPIV3Schema of version `version` in a CRD (parsed); borrowed from
 * crd, NULL when absent. */
json_object *crdschema_of(json_object *crd, const char *version);

/* Check obj (the whole object) against schema. apiVersion, kind and metadata
 * are the API server's to judge and are skipped, as status is (a create
 * drops it). Returns how many problems (0: none); free the result's buffers
 * with crdschema_result_free. */
int crdschema_check(json_object *schema, json_object *obj, struct crdschema_result *out);
void crdschema_result_free(struct crdschema_result *r);

#endif
