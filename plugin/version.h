/* version.h — the plugin's version, one static string (also in the krew
 * manifest template and the User-Agent). */
#ifndef PL_VERSION_H
#define PL_VERSION_H

#define PL_VERSION "0.1.0"

#endif
