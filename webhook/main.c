/* etcd-webhook — entry point. The program is being built in its own issue; until
 * then it says so plainly and exits non-zero rather than pretend. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "etcd-webhook: not built yet in this version of etcd-k8s-operator\n");
	return 2;
}
