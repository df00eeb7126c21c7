/*
 * version.c — `kubectl etcd version`: the plugin's own version, from a
 * string compiled in (version.h: the build's one version), without contacting
 * anything.
 */
#include "plugin.h"
#include "version.h"

int version_main(int argc, char **argv)
{
	struct pl_parsed p;
	int rc = pl_parse_global_only("version", argc, argv, &p);
	if (rc >= 0)
		return rc;
	if (p.npos)
		return pl_usage_error("version", "unexpected argument \"%s\"", p.pos[0]);
	printf("kubectl-etcd version %s\n", PL_VERSION);
	return PL_EXIT_OK;
}
