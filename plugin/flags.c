/*
 * flags.c — kubectl's global flags (--namespace, --context, --kubeconfig, …)
 * as a table for the one command-line layer (base/cli.h), which every
 * command's own table is joined to. Pure: no I/O.
 */
#include "plugin.h"

#include <string.h>

void pl_global_init(struct pl_global *g)
{
	memset(g, 0, sizeof(*g));
	g->request_timeout_ms = -1;
	g->verbosity = -1;
}

#define REFUSE_IMPERSONATION                                                              \
	"is not supported by kubectl etcd: it acts as the user of the kubeconfig; "       \
	"impersonation is not implemented. Use --context (or --kubeconfig) with a context " \
	"for that user instead"

size_t pl_global_flags(struct pl_global *g, struct cli_flag *out, size_t max)
{
	const struct cli_flag all[] = {
		CLI_FLAG("namespace", 'n', CLI_STR, &g->namespace, "NS", "the namespace (default: the context's, else \"default\")"),
		CLI_FLAG("all-namespaces", 'A', CLI_BOOL, &g->all_namespaces, NULL, "every namespace (status)"),
		CLI_FLAG("kubeconfig", 0, CLI_STR, &g->kubeconfig, "FILE", "this kubeconfig file only (default: $KUBECONFIG, then ~/.kube/config)"),
		CLI_FLAG("context", 0, CLI_STR, &g->context, "NAME", "the kubeconfig context to use"),
		CLI_FLAG("cluster", 0, CLI_STR, &g->cluster, "NAME", "the kubeconfig cluster to use"),
		CLI_FLAG("user", 0, CLI_STR, &g->user, "NAME", "the kubeconfig user to use"),
		CLI_FLAG("server", 's', CLI_STR, &g->server, "URL", "the API server's address"),
		CLI_FLAG("token", 0, CLI_STR, &g->token, "TOKEN", "bearer token for the API server"),
		CLI_FLAG("insecure-skip-tls-verify", 0, CLI_BOOL, &g->insecure, NULL, "do not check the server's certificate (insecure)"),
		CLI_FLAG("request-timeout", 0, CLI_DURATION, &g->request_timeout_ms, "DURATION", "limit for one API request, e.g. 5s, 1m (0 or unset: 30s)"),
		CLI_FLAG("v", 'v', CLI_INT, &g->verbosity, "LEVEL", "log verbosity: 2 warnings, 4 info, 6 debug (logfmt on stderr)"),
		CLI_FLAG("no-color", 0, CLI_BOOL, &g->no_color, NULL, "no colour even on a terminal (also: NO_COLOR=1)"),
		{.name = "as", .type = CLI_REFUSED, .metavar = "USER", .help = "--as " REFUSE_IMPERSONATION, .hidden = true},
		{.name = "as-group", .type = CLI_REFUSED, .metavar = "GROUP", .help = "--as-group " REFUSE_IMPERSONATION, .hidden = true},
		{.name = "as-uid", .type = CLI_REFUSED, .metavar = "UID", .help = "--as-uid " REFUSE_IMPERSONATION, .hidden = true},
	};
	size_t n = EO_ARRAY_LEN(all) < max ? EO_ARRAY_LEN(all) : max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

size_t pl_own_then_global_flags(const struct cli_flag *own, size_t nown, struct pl_global *g,
				struct cli_flag *out, size_t max)
{
	size_t n = nown < max ? nown : max;
	memcpy(out, own, n * sizeof(own[0]));
	return n + pl_global_flags(g, out + n, max - n);
}
