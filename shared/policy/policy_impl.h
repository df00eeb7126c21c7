/*
 * policy_impl.h — helpers the two admission halves (policy_mutate.c,
 * policy_validate.c) share. Private to the policy files: callers use
 * policy.h.
 */
#ifndef EO_POLICY_IMPL_H
#define EO_POLICY_IMPL_H

#include "policy.h"

static inline bool policy_in_range(int64_t n)
{
	return n >= EC_MIN_REPLICAS && n <= EC_MAX_REPLICAS;
}

static inline int64_t policy_sign(int64_t v)
{
	return (v > 0) - (v < 0);
}

/*
 * The size a change of spec.replicas is measured from: the old object's
 * spec.replicas when it is a size at all; else (a value stored before the
 * webhook guarded it) the voting members the controller reports, else 1, the
 * size every cluster starts at.
 */
int64_t policy_current_size(const struct etcd_cluster *old);

/* Append a warning (printf-style), cut at POLICY_WARNING_MAX bytes on a
 * UTF-8 character boundary; dropped when POLICY_MAX_WARNINGS are there. */
void policy_warn(struct policy_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The refusal: allowed = false and the reason (printf-style). The first
 * refusal wins; later calls are ignored. */
void policy_refuse(struct policy_decision *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A short "why not settled" phrase for messages: "a step 1 → 2 is in flight",
 * "status.phase is Degraded", "2 of 3 members are ready" … */
void policy_unsettled_why(const struct etcd_cluster *c, char *out, size_t size);

/* spec.pod, spec.etcd.extraArgs and spec.storage.size (policy_spec.c); o is
 * NULL on CREATE. */
void policy_check_spec(struct policy_decision *d, const struct etcd_cluster *o,
		       const struct etcd_cluster *n);
/* spec.maintenance (policy_space.c): refuses a value etcd cannot use. */
void policy_check_space(struct policy_decision *d, const struct etcd_cluster *n);

#endif
