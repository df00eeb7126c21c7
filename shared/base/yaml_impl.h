/*
 * yaml_impl.h — what yaml.c (the reader) takes from yaml_scalar.c; not part
 * of the library's interface.
 */
#ifndef EO_YAML_IMPL_H
#define EO_YAML_IMPL_H

#include <yaml.h>

#include "json.h"

/* The value of a scalar event, typed by its tag or the core schema.
 * Returns 0, or -1 with *why set to the reason. */
int yaml_scalar_value(const yaml_event_t *ev, json_object **out, const char **why);

#endif
