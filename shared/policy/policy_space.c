/*
 * policy_space.c — the admission rules of spec.maintenance (issue 14): the
 * auto-compaction mode and retention, the backend quota, the defragmentation
 * threshold.
 *
 * The one idea: refuse here what etcd would refuse only when a member
 * starts. A retention etcd cannot read, or a quota larger than the volume,
 * is accepted by the API server and then fails (or fills the disk) inside a
 * Pod, long after the person who wrote it has moved on.
 */
#include <string.h>

#include "policy_impl.h"

/* etcd's quota must fit on the volume with room for the WAL and snapshots;
 * below 8 MiB etcd is full before it has started. */
#define SPACE_MIN_QUOTA (8LL * 1024 * 1024)
/* etcd warns above 8 GiB ("exceeded recommended request limit"). */
#define SPACE_WARN_QUOTA (8LL * 1024 * 1024 * 1024)

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* etcd's periodic retention: a Go duration of h, m and s parts ("1h",
 * "30m", "1h30m"), or a bare number of hours. */
static bool retention_duration(const char *s)
{
	if (all_digits(s))
		return true;
	if (!*s)
		return false;
	while (*s) {
		const char *d = s;
		while (*s >= '0' && *s <= '9')
			s++;
		if (s == d || (*s != 'h' && *s != 'm' && *s != 's'))
			return false;
		s++;
	}
	return true;
}

void policy_check_space(struct policy_decision *d, const struct etcd_cluster *n)
{
	const struct ec_maintenance *m = &n->spec.maint;
	if (m->compaction_mode == EC_COMPACT_INVALID) {
		policy_refuse(d, "spec.maintenance.autoCompaction.mode: \"%s\" is not a mode etcd has: "
			      "use Periodic (keep history for a duration) or Revision (keep the last "
			      "N revisions)", m->compaction_mode_raw);
		return;
	}
	/* "" and an unset quota are the defaults (a model built by hand) */
	bool ret_set = m->compaction_retention[0] != '\0';
	if (ret_set && m->compaction_mode == EC_COMPACT_PERIODIC && !retention_duration(m->compaction_retention)) {
		policy_refuse(d, "spec.maintenance.autoCompaction.retention: \"%s\" is not a duration: "
			      "Periodic compaction keeps history for e.g. \"1h\", \"30m\" or \"1h30m\"",
			      m->compaction_retention);
		return;
	}
	if (ret_set && m->compaction_mode == EC_COMPACT_REVISION && !all_digits(m->compaction_retention)) {
		policy_refuse(d, "spec.maintenance.autoCompaction.retention: \"%s\" is not a number of "
			      "revisions: Revision compaction keeps the last N revisions, e.g. \"10000\"",
			      m->compaction_retention);
		return;
	}
	if (m->quota_set && m->quota_bytes < 0) {
		policy_refuse(d, "spec.maintenance.quotaBackendBytes: \"%s\" is not a quantity of bytes: "
			      "write e.g. \"2Gi\", \"512Mi\" or 33554432", m->quota_raw);
		return;
	}
	if (m->quota_set && m->quota_bytes < SPACE_MIN_QUOTA) {
		policy_refuse(d, "spec.maintenance.quotaBackendBytes: %s is below 8Mi: etcd would be "
			      "full before it stored anything; use 8Mi or more (etcd's default is 2Gi)",
			      m->quota_raw);
		return;
	}
	int64_t storage = ec_quantity_bytes(n->spec.storage_size);
	if (m->quota_set && storage > 0 && m->quota_bytes > storage) {
		policy_refuse(d, "spec.maintenance.quotaBackendBytes: %s is larger than the volume "
			      "(spec.storage.size %s): etcd would fill the disk before its quota "
			      "alarm; set a quota at most the storage size, or a larger storage size",
			      m->quota_raw, n->spec.storage_size);
		return;
	}
	if (m->defrag_threshold < 0 || m->defrag_threshold > 100) {
		policy_refuse(d, "spec.maintenance.defragThreshold: %lld is not a percentage: use 1..100 "
			      "(the share of the database file that is free before a member is "
			      "defragmented), or 0 to never defragment", (long long)m->defrag_threshold);
		return;
	}
	if (m->quota_bytes > SPACE_WARN_QUOTA)
		policy_warn(d, "spec.maintenance.quotaBackendBytes above 8Gi: etcd recommends at most 8Gi");
}
