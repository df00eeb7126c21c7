/*
 * review_fast.h — the fast path of the AdmissionReview decoder (private to
 * webhook/review.c and its tests).
 *
 * It reads a body once, without building a tree, and fills what the review
 * needs: the envelope, the two EtcdClusters as cluster_parse() would see
 * them (the fields the rules read) and the object's shape for the patch. It
 * never decides anything hard: whatever is unusual — an error of any kind,
 * an escape in a string it must copy, a number that is not a plain integer,
 * a duplicate key, the scale subresource — makes it answer "not me", and
 * the general path (json-c + cluster_parse) takes the body from the start.
 * So every refusal and error message comes from the general path, and the
 * fuzzer checks that both paths give byte-identical replies.
 */
#ifndef EO_WEBHOOK_REVIEW_FAST_H
#define EO_WEBHOOK_REVIEW_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster.h"
#include "policy.h"

struct review_fast {
	char api_version[32]; /* "" when absent */
	char uid[128];        /* exact (a longer uid takes the general path) */
	char operation[8], subresource[16], namespace[64], name[64]; /* as the log copies them */
	char resource[64];
	bool dry_run;
	bool has_object, has_old; /* non-null objects */
	struct etcd_cluster object, old;
	struct policy_shape shape; /* of the object */
};

/* 1: decoded (out filled); 0: take the general path. */
int review_fast_decode(const char *body, size_t len, struct review_fast *out);

#endif
