/*
 * review.h — one AdmissionReview in, one reply out: the decoding of what
 * kube-apiserver sends, the policy call, and the encoding of the answer.
 * Pure (no I/O, no clock): the server calls it, the unit tests and the
 * fuzzer drive it directly.
 *
 * The HTTP status says whether the body was an AdmissionReview at all (400
 * when not); everything else — an object that cannot be read, a refusal — is
 * a 200 whose response says allowed: false with a reason, because that is
 * what kube-apiserver shows the person who made the request.
 */
#ifndef EO_WEBHOOK_REVIEW_H
#define EO_WEBHOOK_REVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "eo.h"

enum review_endpoint { REVIEW_MUTATE, REVIEW_VALIDATE };

enum review_outcome {
	REVIEW_ALLOWED, /* allowed (possibly with a patch) */
	REVIEW_DENIED,  /* allowed: false — a rule refused, or the object was unreadable */
	REVIEW_ERROR,   /* HTTP 400: the body was not an AdmissionReview */
};

/*
 * The reply and what the server logs and counts about it. Fields are filled
 * as far as the body could be read (uid empty when there was none). The body
 * buffer is owned by the result: review_result_free() releases it, or take
 * it with eo_buf_steal().
 */
struct review_result {
	int http_status;          /* 200 or 400 */
	const char *content_type; /* static string */
	struct eo_buf body;
	enum review_outcome outcome;
	bool patched;
	bool dry_run;
	int nwarnings;
	char uid[64];
	char operation[8]; /* CREATE | UPDATE | DELETE | CONNECT */
	char subresource[16];
	char namespace[64];
	char name[64];
	char reason[256]; /* refusal or 400 reason, cut for the log */
};

/* Decode body (len bytes, need not be NUL-terminated), decide, encode. */
void review_handle(enum review_endpoint ep, const char *body, size_t len,
		   struct review_result *out);
void review_result_free(struct review_result *r);

const char *review_outcome_name(enum review_outcome o); /* allowed|denied|error */

#endif
