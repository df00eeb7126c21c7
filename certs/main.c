/* etcd-certs — the webhook's certificates and the manifests that carry them.
 * Everything is in libcerts (cli.c and friends) so tests drive the same code. */
#include <stdio.h>

#include "certs.h"

int main(int argc, char **argv)
{
	return certs_cli_main(argc, argv, stdout, stderr);
}
