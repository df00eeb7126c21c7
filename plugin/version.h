/* version.h — the plugin's version: the build's one version (EO_VERSION, from
 * git through the Makefile's generated eo_version.h), also in the krew
 * manifest (make-release.sh asks the built binary) and the User-Agent. */
#ifndef PL_VERSION_H
#define PL_VERSION_H

#include "eo_version.h"

#define PL_VERSION EO_VERSION

#endif
