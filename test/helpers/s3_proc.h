/*
 * s3_proc.h — a real S3-compatible server for tests: SeaweedFS's `weed
 * server -s3` on 127.0.0.1, built by scripts/kube-bins.sh from its Go
 * module (test/s3bins; Apache-2.0 — MinIO's server is AGPL and not used).
 *
 * One server per call, on ports picked at random (SeaweedFS also listens on
 * each port + 10000 for gRPC), its data in a temporary directory, one
 * identity with full rights. It dies with the test process
 * (PR_SET_PDEATHSIG) and s3_proc_stop() removes its directory. s3_proc_kill
 * and s3_proc_restart stop and start it on the same data (faults).
 *
 * The binary: $S3_WEED_BIN, else the s3= line of `scripts/kube-bins.sh
 * --print` (run from the repository root, where tests run). Missing: the
 * caller skips.
 */
#ifndef EO_S3_PROC_H
#define EO_S3_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "eo.h"

#define S3_PROC_ACCESS_KEY "AKIDETCDOPTEST"
#define S3_PROC_SECRET_KEY "etcd/op+secret=key"

struct s3_proc {
	char endpoint[64];   /* http://127.0.0.1:<port> */
	char dir[256];
	char bin[512];
	int base;            /* master port; volume +1, filer +2, s3 +3 */
	pid_t pid;
};

/* Find the binary (false: not built). */
bool s3_proc_available(char *bin, size_t size);
/* Start and wait until the S3 port answers (up to timeout_ms). */
int s3_proc_start(struct s3_proc *p, long timeout_ms, struct eo_err *err);
/* SIGKILL the server (a crash) and reap it. */
void s3_proc_kill(struct s3_proc *p);
int s3_proc_restart(struct s3_proc *p, long timeout_ms, struct eo_err *err);
/* Kill and remove the data. */
void s3_proc_stop(struct s3_proc *p);

#endif
