/*
 * version.c — `kubectl etcd version`: the plugin's own version, from a
 * static string (version.h), without contacting anything.
 */
#include "plugin.h"
#include "version.h"

int version_main(int argc, char **argv)
{
	struct pl_global g;
	pl_global_init(&g);
	struct pl_flag flags[PL_MAX_FLAGS];
	size_t n = pl_global_flags(&g, flags, PL_MAX_FLAGS);
	struct pl_parsed p;
	struct eo_err err;
	if (pl_parse(argc, argv, flags, n, &p, &err) != 0)
		return pl_usage_error("version", "%s", err.msg);
	if (p.help) {
		pl_help(stdout, "version");
		return PL_EXIT_OK;
	}
	if (p.npos)
		return pl_usage_error("version", "unexpected argument \"%s\"", p.pos[0]);
	printf("kubectl-etcd version %s\n", PL_VERSION);
	return PL_EXIT_OK;
}
