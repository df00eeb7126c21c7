/*
 * guard_main.c — build/etcd-member-guard, the guard before every etcd start
 * as a program of its own:
 *
 *   etcd-member-guard [--member-id-file F] -- /usr/local/bin/etcd --config-file=F …
 *
 * The same code as `etcd-controller member-init guard` (member_guard.c), but
 * linked statically from libc, eo and log alone (member_files.c), because it
 * runs in etcd's container: a distroless image with etcd, etcdctl and
 * etcdutl and no shared libraries of ours. The init step copies it onto an
 * emptyDir (member-init --install-guard) and etcd's container starts through
 * it, so a restart of etcd without its data is refused there too.
 */
#include <stdio.h>
#include <string.h>

#include "eo_version.h"
#include "member_init.h"

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("etcd-member-guard %s\n", EO_VERSION);
		return 0;
	}
	return mi_guard_main(argc, argv);
}
