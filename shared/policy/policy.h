/*
 * policy.h — the admission rules of DESIGN §5 and the scaling arithmetic, as
 * pure functions: no I/O, no allocation, no clock. The webhook, the
 * controller (to check its own next step) and `kubectl etcd validate` call
 * the same functions, so the three can never disagree.
 *
 * The one idea: a request is judged against the OLD object's state. Whether
 * the cluster is *settled* (policy_settled) decides what a change of
 * spec.replicas may be: settled → anything one member away (a longer jump is
 * staged by the mutating half with the target annotation); not settled → only
 * the step in flight or back to the settled size (cancelling is always
 * allowed).
 *
 * Callers that hold whole objects (the plugin, the controller) should call
 * policy_admit(), which runs the two halves in the order kube-apiserver does:
 * mutate, apply the mutation to a copy of the new object, validate the result.
 * Calling policy_validate() alone on a CREATE of N > 1 members refuses it,
 * exactly as the validating webhook would without the mutating one.
 *
 * Messages: every refusal says what was asked, why not, and what to do
 * instead; warnings are at most POLICY_WARNING_MAX bytes (kube-apiserver's
 * limit for admission warnings is 120 characters).
 */
#ifndef EO_POLICY_H
#define EO_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cluster.h"
#include "eo.h"

enum policy_op { POLICY_CREATE, POLICY_UPDATE, POLICY_DELETE };

/*
 * One admission request on the parsed view. Borrowed pointers; the policy
 * never keeps them.
 *   old: NULL on CREATE.
 *   new: NULL on DELETE.
 *   scale_subresource: the request came through etcdclusters/scale. The caller
 *     builds old/new from the two autoscaling/v1 Scale objects with
 *     policy_from_scale(): only spec.replicas and status.replicas are known,
 *     so "settled" cannot be decided and the rules say what they can (see
 *     policy_validate).
 *   dry_run: carried for logging; the answer is the same (no side effects).
 */
struct policy_request {
	enum policy_op op;
	bool scale_subresource;
	const struct etcd_cluster *old;
	const struct etcd_cluster *new;
	bool dry_run;
};

/* The etcd minor versions (3.x) a cluster may be set to. */
#define POLICY_MIN_MINOR 5
#define POLICY_MAX_MINOR 7
#define POLICY_WARNING_MAX 120
#define POLICY_MAX_WARNINGS 4

/*
 * The answer. Zero-initialise or let the functions do it (each starts by
 * clearing what it owns: policy_mutate the whole struct, policy_validate
 * keeps the mutation fields and warnings already there and appends).
 *   reason: on refusal, "<field>: <what was asked> … <why not>. <what to do>".
 *   patch_*: the mutation, relative to the new object as received:
 *     patch_replicas → set spec.replicas to `replicas`;
 *     patch_target   → set the target annotation to `target` (decimal);
 *     drop_target    → remove the target annotation.
 */
struct policy_decision {
	bool allowed;
	char reason[512];
	char warnings[POLICY_MAX_WARNINGS][POLICY_WARNING_MAX + 1];
	int nwarnings;
	bool patch_replicas;
	int64_t replicas;
	bool patch_target;
	int64_t target;
	bool drop_target;
};

/* Mutating half (CREATE and UPDATE of etcdclusters; DELETE and Scale requests
 * pass untouched). Always allows: a request the mutation cannot make sense of
 * (replicas out of range, a malformed annotation) is left as sent for the
 * validating half to refuse with its reason. */
void policy_mutate(const struct policy_request *req, struct policy_decision *d);

/* Validating half (CREATE, UPDATE, DELETE of etcdclusters, UPDATE of the
 * scale subresource). Sets d->allowed and, on refusal, d->reason; appends
 * warnings (an even target size). Leaves the mutation fields alone. */
void policy_validate(const struct policy_request *req, struct policy_decision *d);

/* Both halves in kube-apiserver's order: mutate, apply to a copy of new,
 * validate that copy. The decision carries the mutation and every warning;
 * `mutated` (may be NULL) receives the object as it would be stored. */
void policy_admit(const struct policy_request *req, struct policy_decision *d,
		  struct etcd_cluster *mutated);

/* Apply a decision's mutation to a parsed object. */
void policy_apply(const struct policy_decision *d, struct etcd_cluster *c);

/*
 * The same mutation as an RFC 6902 JSON Patch against the original object
 * `obj` (the AdmissionReview's request.object): "add" where a member is
 * missing (the whole annotations map when there is none), "replace" where it
 * exists, "remove" for a dropped annotation; the annotation key is escaped per
 * RFC 6901 (etcd.k8s-operator.io~1target-replicas). Appends the patch text
 * ("[...]") to out; out->len stays 0 when the decision mutates nothing.
 * Returns 0, or -1 when out of memory or over out->max.
 */
int policy_patch(const struct policy_decision *d, json_object *obj, struct eo_buf *out);

/* DESIGN §5: status.observedGeneration == metadata.generation, status.phase
 * == Running and status.readyReplicas == spec.replicas. */
bool policy_settled(const struct etcd_cluster *c);

/*
 * The size the cluster returns to when the change in flight is cancelled:
 * status.scaling.from when a step is recorded, else status.replicas (voting
 * members) when known, else spec.replicas. Equals spec.replicas when settled.
 */
int64_t policy_settled_size(const struct etcd_cluster *c);

/* One step of a plan: membership from → to, with the quorum and the number of
 * failures tolerated at the `to` size. */
struct policy_step {
	int from, to, quorum, tolerance;
};

/*
 * The one-member-at-a-time plan from → to (from may be 0: a new cluster).
 * Fills at most max steps and returns the total number of steps (|to − from|,
 * as snprintf returns the length it wanted), or -1 when from or to is
 * negative or above INT32_MAX.
 */
int policy_plan(int64_t from, int64_t to, struct policy_step *steps, int max);

/*
 * The staged path as text: "1 → 2 → 3"; paths of more than five sizes are
 * elided: "1 → 2 → … → 1000000000" (any int64, quick and short). Returns the
 * length written (bytes, excluding the NUL; "→" is 3 bytes of UTF-8), or -1
 * when it did not fit (out is then truncated and terminated).
 */
int policy_staged_path(int64_t from, int64_t to, char *out, size_t size);

/*
 * Build the parsed view of an etcdclusters/scale request from an
 * autoscaling/v1 Scale object: metadata name/namespace, spec.replicas and
 * status.replicas. Everything else takes the CRD defaults, so rules about
 * other fields never fire. Errors name the path ("spec.replicas: expected an
 * integer, got a string").
 */
int policy_from_scale(json_object *scale, struct etcd_cluster *out, struct eo_err *err);

#endif
