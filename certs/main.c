/* etcd-certs — the webhook's certificates and the manifests that carry them.
 * Everything is in libcerts (cli.c and friends) so tests drive the same code. */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "eo_version.h"

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("etcd-certs %s\n", EO_VERSION);
		return 0;
	}
	return certs_cli_main(argc, argv, stdout, stderr);
}
