/*
 * policy_validate.c — the validating half of the admission rules (DESIGN §5):
 * bounds, versions, immutable fields, one member at a time, nothing but the
 * step in flight (or its cancellation) while not settled, no scale-down
 * that leaves fewer healthy voters than quorum, and names and strings the
 * owned objects can be built from (a name of at most 52 characters).
 *
 * The one idea: on UPDATE a rule judges only what the request changes
 * (ratcheting). An object stored before the webhook guarded it — replicas
 * 12, a version nobody knows — can still be edited, relabelled and deleted;
 * only moving a field to a bad value is refused. Every refusal names the
 * field, what was asked, why not, and what to do instead.
 */
#include "policy_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARROW "\xe2\x86\x92"

/* "kubectl etcd scale demo -n ns --replicas 5" */
static void scale_cmd(const struct etcd_cluster *c, int64_t n, char *out, size_t size)
{
	const char *name = c->name[0] ? c->name : "NAME";
	if (c->namespace[0] && strcmp(c->namespace, "default") != 0)
		snprintf(out, size, "kubectl etcd scale %s -n %s --replicas %lld", name,
			 c->namespace, (long long)n);
	else
		snprintf(out, size, "kubectl etcd scale %s --replicas %lld", name, (long long)n);
}

static bool check_range(struct policy_decision *d, int64_t n)
{
	if (policy_in_range(n))
		return true;
	policy_refuse(d,
		      "spec.replicas: %lld is not a size this operator runs: an etcd cluster here "
		      "has %d to %d members (more slows every write, since each waits for a "
		      "quorum). Set spec.replicas between %d and %d",
		      (long long)n, EC_MIN_REPLICAS, EC_MAX_REPLICAS, EC_MIN_REPLICAS,
		      EC_MAX_REPLICAS);
	return false;
}

/* An even target tolerates no more failures than the odd size below it.
 * Intermediate steps (2 on the way 1 → 3) are not targets: no warning. */
static void warn_even(struct policy_decision *d, int64_t target)
{
	if (target % 2 != 0 || !policy_in_range(target))
		return;
	policy_warn(d,
		    "spec.replicas: %lld members tolerate %d failure%s, no more than %lld do; "
		    "prefer an odd size",
		    (long long)target, ec_tolerance((int)target),
		    ec_tolerance((int)target) == 1 ? "" : "s", (long long)target - 1);
}

static int64_t target_of(const struct etcd_cluster *c)
{
	return c->target >= 0 ? c->target : c->spec.replicas;
}

static void check_target(struct policy_decision *d, const struct etcd_cluster *n)
{
	if (n->target == EC_TARGET_INVALID)
		policy_refuse(d,
			      "metadata.annotations[" EC_ANN_TARGET "]: \"%s\" is not a member "
			      "count. Set it to a number from %d to %d, or remove it",
			      n->target_raw, EC_MIN_REPLICAS, EC_MAX_REPLICAS);
	else if (n->target != EC_TARGET_NONE && !policy_in_range(n->target))
		policy_refuse(d,
			      "metadata.annotations[" EC_ANN_TARGET "]: %lld is not a size this "
			      "operator runs (%d to %d members). Set it between %d and %d, or "
			      "remove it",
			      (long long)n->target, EC_MIN_REPLICAS, EC_MAX_REPLICAS,
			      EC_MIN_REPLICAS, EC_MAX_REPLICAS);
}

/* The first 3.5 patch from which 3.6 is a safe next step. */
#define POLICY_SAFE_35_PATCH 26

static void check_version(struct policy_decision *d, const struct etcd_cluster *o,
			  const struct etcd_cluster *n)
{
	struct ec_version nv, ov;
	bool old_ok = o && ec_version_parse(o->spec.version, &ov) == 0;
	if (o && strcmp(o->spec.version, n->spec.version) == 0)
		return;
	if (ec_version_parse(n->spec.version, &nv) != 0) {
		policy_refuse(d,
			      "spec.version: \"%s\" is not an etcd version. Write "
			      "MAJOR.MINOR.PATCH, such as %s",
			      n->spec.version, EC_DEFAULT_VERSION);
		return;
	}
	if (old_ok && ec_version_cmp(&ov, &nv) == 0)
		return; /* "v3.5.17" → "3.5.17": the same version */
	/* The way out of an upgrade that stalled: back to what every member
	 * runs (status.version), whatever the roll's state. */
	struct ec_version rv;
	if (o && o->status.phase == EC_UPGRADING && ec_version_parse(o->status.version, &rv) == 0 &&
	    ec_version_cmp(&rv, &nv) == 0)
		return;
	if (o && old_ok && ec_version_cmp(&nv, &ov) < 0) {
		policy_refuse(d,
			      "spec.version: cannot go from %s down to %s: etcd does not downgrade "
			      "a running cluster (its data format only moves forward). Keep %s, or "
			      "restore a snapshot into a new cluster of %s",
			      o->spec.version, n->spec.version, o->spec.version, n->spec.version);
		return;
	}
	/* DESIGN §3: 3.5 or newer — the releases this project runs its tests on.
	 * (A cluster already on 3.4 keeps it and may move on to 3.5.) */
	if (nv.major != 3 || nv.minor < POLICY_MIN_MINOR || nv.minor > POLICY_MAX_MINOR) {
		policy_refuse(d,
			      "spec.version: %s is not a version this operator runs: it runs "
			      "3.5.x, 3.6.x and 3.7.x. Pick one of those, such as %s",
			      n->spec.version, EC_DEFAULT_VERSION);
		return;
	}
	if (!o)
		return;
	if (old_ok && (nv.major != ov.major || nv.minor > ov.minor + 1)) {
		policy_refuse(d,
			      "spec.version: cannot go from %s to %s in one change: etcd upgrades "
			      "one minor version at a time. Upgrade to %d.%d.x first, then to %s",
			      o->spec.version, n->spec.version, ov.major, ov.minor + 1,
			      n->spec.version);
		return;
	}
	/* etcd's own upgrade notes (2025): members promoted on 3.5.1–3.5.19 can
	 * turn back into learners on 3.6, and zombie members appear unless the
	 * whole cluster ran 3.5.26 or newer before the 3.6 binaries. */
	if (old_ok && ov.major == 3 && ov.minor == 5 && nv.minor == 6 &&
	    ov.patch < POLICY_SAFE_35_PATCH) {
		policy_refuse(d,
			      "spec.version: cannot go from %s to %s directly: 3.5 clusters below "
			      "3.5.%d can lose members' voting status or keep zombie members on 3.6. "
			      "Upgrade to 3.5.%d (or a newer 3.5.x) first, then to %s",
			      o->spec.version, n->spec.version, POLICY_SAFE_35_PATCH,
			      POLICY_SAFE_35_PATCH, n->spec.version);
		return;
	}
	bool pending = n->target >= 0 && n->target != n->spec.replicas;
	if (!policy_settled(o) || n->spec.replicas != o->spec.replicas || pending) {
		char why[160];
		if (!policy_settled(o))
			policy_unsettled_why(o, why, sizeof(why));
		else if (n->spec.replicas != o->spec.replicas)
			snprintf(why, sizeof(why), "this change also moves spec.replicas %lld "
				 ARROW " %lld", (long long)o->spec.replicas,
				 (long long)n->spec.replicas);
		else
			snprintf(why, sizeof(why), "a staged scale to %lld members is under way",
				 (long long)n->target);
		policy_refuse(d,
			      "spec.version: cannot change %s " ARROW " %s while the cluster is "
			      "scaling (%s): a rolling restart during a membership change risks "
			      "quorum. Wait until `kubectl etcd status %s` shows it Running with "
			      "every member ready, then change the version",
			      o->spec.version, n->spec.version, why, n->name);
	}
}

static void check_immutable(struct policy_decision *d, const struct etcd_cluster *o,
			    const struct etcd_cluster *n)
{
	const struct ec_spec *a = &o->spec, *b = &n->spec;
	if (a->storage_class_set != b->storage_class_set ||
	    strcmp(a->storage_class, b->storage_class) != 0)
		policy_refuse(d,
			      "spec.storage.storageClassName: cannot change from %s%s%s to %s%s%s: "
			      "the members' volumes were made from it and a StatefulSet's claims "
			      "cannot change. Keep it; to move the data, restore a snapshot into a "
			      "new cluster",
			      a->storage_class_set ? "\"" : "", a->storage_class_set ? a->storage_class : "(unset)",
			      a->storage_class_set ? "\"" : "", b->storage_class_set ? "\"" : "",
			      b->storage_class_set ? b->storage_class : "(unset)",
			      b->storage_class_set ? "\"" : "");
	else if (strcmp(a->cluster_domain, b->cluster_domain) != 0)
		policy_refuse(d,
			      "spec.clusterDomain: cannot change from \"%s\" to \"%s\": etcd keeps "
			      "each member's peer URL, built from it, in its membership. Keep "
			      "\"%s\"; a new domain needs a new cluster",
			      a->cluster_domain, b->cluster_domain, a->cluster_domain);
	else if (a->restore_set != b->restore_set || strcmp(a->restore_backup, b->restore_backup) != 0 ||
		 strcmp(a->restore_key, b->restore_key) != 0)
		policy_refuse(d,
			      "spec.bootstrap.restore: cannot be added, removed or changed: it is "
			      "read once, when the cluster's first member starts. To restore "
			      "another snapshot, make a new EtcdCluster with it (kubectl etcd "
			      "restore NEW --from-backup B)");
}

static bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* One DNS label of n characters at s: [a-z0-9]([-a-z0-9]*[a-z0-9])?, ≤ 63. */
static bool dns_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* A DNS subdomain (RFC 1123, as Kubernetes checks object names): labels
 * joined by dots, at most 253 characters. */
static bool dns_subdomain(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > EC_MAX_DNS_SUBDOMAIN)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!dns_label(p, n))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

/*
 * The name and the free strings the owned objects are built from, judged
 * when they are set: at CREATE (the name, clusterDomain and the storage
 * class cannot change afterwards) and when spec.image changes. An object
 * stored before these rules keeps working; its StatefulSet simply never made
 * a Pod if its name was too long.
 */
static void check_names(struct policy_decision *d, const struct etcd_cluster *o,
			const struct etcd_cluster *n)
{
	if (!o && n->name[0]) {
		size_t len = strlen(n->name);
		if (len > EC_MAX_NAME_LEN) {
			policy_refuse(d,
				      "metadata.name: \"%.24s…\" is %zu characters; an EtcdCluster "
				      "name has at most %d: its StatefulSet labels each Pod "
				      "controller-revision-hash=<name>-<10-character hash>, and a "
				      "label value has at most 63 characters, so with a longer name "
				      "no member Pod can be made. Choose a name of at most %d "
				      "characters",
				      n->name, len, EC_MAX_NAME_LEN, EC_MAX_NAME_LEN);
			return;
		}
		if (!dns_label(n->name, len) || !(n->name[0] >= 'a' && n->name[0] <= 'z')) {
			policy_refuse(d,
				      "metadata.name: \"%s\" cannot name the cluster's Services "
				      "(%s-peer, %s-client): a Service name is a DNS label — lowercase "
				      "letters, digits and '-', starting with a letter and ending "
				      "with a letter or digit, no dots. Choose such a name",
				      n->name, n->name, n->name);
			return;
		}
	}
	if (!o && !dns_subdomain(n->spec.cluster_domain)) {
		policy_refuse(d,
			      "spec.clusterDomain: \"%s\" is not a DNS domain (lowercase labels of "
			      "letters, digits and '-' joined by dots, at most %d characters): "
			      "the members' peer URLs are built from it. Use the cluster's domain, "
			      "usually %s",
			      n->spec.cluster_domain, EC_MAX_DNS_SUBDOMAIN, EC_DEFAULT_DOMAIN);
		return;
	}
	if (!o && n->spec.storage_class_set && !dns_subdomain(n->spec.storage_class)) {
		policy_refuse(d,
			      "spec.storage.storageClassName: \"%s\" cannot be a StorageClass "
			      "name (a DNS subdomain: lowercase letters, digits, '-' and '.', at "
			      "most %d characters). Use the name `kubectl get storageclass` shows, "
			      "or leave it out for the default class",
			      n->spec.storage_class, EC_MAX_DNS_SUBDOMAIN);
		return;
	}
	if (n->spec.image[0] && (!o || strcmp(o->spec.image, n->spec.image) != 0)) {
		for (const char *p = n->spec.image; *p; p++) {
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
				policy_refuse(d,
					      "spec.image: \"%s\" is not an image reference: it holds a "
					      "space or a control character. Write "
					      "REGISTRY/REPOSITORY:TAG (at most %d characters), or "
					      "leave it out to run %s:v<version>",
					      n->spec.image, EC_MAX_IMAGE_LEN, EC_ETCD_IMAGE_REPO);
				return;
			}
		}
	}
}

/* ---- spec.security.tls (DESIGN §3.1) ---------------------------------- */

static bool tls_side_same(const struct ec_tls_side *a, const struct ec_tls_side *b)
{
	return strcmp(a->mode_raw, b->mode_raw) == 0 && a->secret_name_set == b->secret_name_set &&
	       strcmp(a->secret_name, b->secret_name) == 0;
}

/* The side as a person wrote it, for messages: "plain", "Auto",
 * "Secret \"s\"". */
static void tls_side_desc(const struct ec_tls_side *t, char *out, size_t size)
{
	if (t->mode == EC_TLS_OFF)
		snprintf(out, size, "plain (no TLS)");
	else if (t->mode == EC_TLS_SECRET)
		snprintf(out, size, "Secret \"%s\"", t->secret_name);
	else
		snprintf(out, size, "%s", t->mode_raw[0] ? t->mode_raw : "(no mode)");
}

/* One side's own shape: a known mode, secretName with Secret and only
 * there, a name a Secret can have. */
static void check_tls_shape(struct policy_decision *d, const char *side,
			    const struct ec_tls_side *t)
{
	if (t->mode == EC_TLS_OFF)
		return;
	if (t->mode == EC_TLS_INVALID) {
		policy_refuse(d,
			      "spec.security.tls.%s.mode: \"%s\" is not a TLS mode. Use Auto (the "
			      "operator runs a CA for the cluster and issues and rotates the "
			      "certificates) or Secret with secretName (a kubernetes.io/tls Secret "
			      "with ca.crt that you or cert-manager keep); leave %s out for plain "
			      "HTTP",
			      side, t->mode_raw, side);
		return;
	}
	if (t->mode == EC_TLS_SECRET && (!t->secret_name_set || !t->secret_name[0])) {
		policy_refuse(d,
			      "spec.security.tls.%s.secretName: mode Secret needs the name of a "
			      "kubernetes.io/tls Secret in the cluster's namespace holding tls.crt, "
			      "tls.key and ca.crt. Set secretName, or use mode Auto to have the "
			      "operator issue the certificates",
			      side);
		return;
	}
	if (t->mode == EC_TLS_AUTO && t->secret_name_set) {
		policy_refuse(d,
			      "spec.security.tls.%s.secretName: \"%s\" is read only with mode "
			      "Secret; with Auto the operator names its own Secrets (<name>-ca, "
			      "<name>-peer-tls, <name>-server-tls, <name>-client-tls). Remove "
			      "secretName, or set mode Secret to bring your own certificate",
			      side, t->secret_name);
		return;
	}
	if (t->mode == EC_TLS_SECRET && !dns_subdomain(t->secret_name))
		policy_refuse(d,
			      "spec.security.tls.%s.secretName: \"%s\" cannot name a Secret (a DNS "
			      "subdomain: lowercase letters, digits, '-' and '.', at most %d "
			      "characters). Use the name `kubectl get secret` shows",
			      side, t->secret_name, EC_MAX_DNS_SUBDOMAIN);
}

/*
 * TLS is chosen when the cluster is made and kept: members know each other
 * by peer URLs (http:// or https://) recorded in etcd's membership, and
 * trust only the CA they started with. Turning it on for a running plain
 * cluster would mean moving every member's peer URL with MemberUpdate, one
 * at a time, while the others accept both — not done here; the way in is a
 * new cluster and the data moved by snapshot. Turning it off, switching
 * between Auto and Secret or to another Secret would cut members (or the
 * controller) off from each other, so each side is immutable once set;
 * certificates rotate by their Secrets' contents, never by their names.
 */
static void check_tls(struct policy_decision *d, const struct etcd_cluster *o,
		      const struct etcd_cluster *n)
{
	static const char *const sides[] = {"peer", "client"};
	const struct ec_tls_side *nt[] = {&n->spec.tls_peer, &n->spec.tls_client};
	const struct ec_tls_side *ot[] = {o ? &o->spec.tls_peer : NULL,
					  o ? &o->spec.tls_client : NULL};
	for (int i = 0; i < 2 && d->allowed; i++) {
		if (o && tls_side_same(ot[i], nt[i]))
			continue; /* ratcheting: only a change is judged */
		check_tls_shape(d, sides[i], nt[i]);
		if (!o || !d->allowed)
			continue;
		char was[300], want[300];
		tls_side_desc(ot[i], was, sizeof(was));
		tls_side_desc(nt[i], want, sizeof(want));
		if (ot[i]->mode == EC_TLS_OFF)
			policy_refuse(d,
				      "spec.security.tls.%s: cannot turn TLS on for an existing "
				      "plain cluster (%s): its members are recorded in etcd with "
				      "http:// URLs and its clients speak plain HTTP. Create a new "
				      "EtcdCluster with spec.security.tls set and move the data to it "
				      "(etcdctl snapshot save, then restore into the new cluster)",
				      sides[i], n->name);
		else if (nt[i]->mode == EC_TLS_OFF)
			policy_refuse(d,
				      "spec.security.tls.%s: cannot turn TLS off (it is %s): once on, "
				      "the members' https:// URLs and client-certificate checks stay. "
				      "Keep it; a plain cluster is a new EtcdCluster with the data "
				      "restored from a snapshot",
				      sides[i], was);
		else
			policy_refuse(d,
				      "spec.security.tls.%s: cannot change %s to %s: the members trust "
				      "only the CA they started with, so another CA or Secret would "
				      "cut them off from each other or from the operator. Keep it; "
				      "rotate a certificate by updating its Secret's contents in place "
				      "(cert-manager does), with the same CA",
				      sides[i], was, want);
	}
}

/* The ordinal of a member named "<anything>-<digits>", or -1. */
static int member_ordinal(const char *name)
{
	const char *dash = strrchr(name, '-');
	if (!dash || !dash[1] || strlen(dash + 1) > 4)
		return -1;
	int v = 0;
	for (const char *p = dash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/*
 * Scale-down cur → want removes the members of ordinal ≥ want (the highest
 * first). Refuse when a voter goes and the healthy voters left are fewer than
 * the quorum of the voters left. A member whose ordinal cannot be read counts
 * as a voter left but not a healthy one (the cautious side). Without a member
 * list, status counts stand in, assuming the removed voters were the healthy
 * ones.
 */
static void check_quorum(struct policy_decision *d, const struct etcd_cluster *o, int64_t cur,
			 int64_t want)
{
	const struct ec_status *st = &o->status;
	int removed = 0, left = 0, healthy = 0;
	char gone[64] = "";
	if (st->nmembers > 0) {
		for (int i = 0; i < st->nmembers; i++) {
			const struct ec_member *m = &st->members[i];
			if (m->learner)
				continue;
			int ord = member_ordinal(m->name);
			if (ord >= want) {
				removed++;
				eo_strlcpy(gone, m->name, sizeof(gone));
			} else {
				left++;
				healthy += ord >= 0 && m->healthy;
			}
		}
	} else {
		int voters = st->replicas;
		removed = voters > want ? voters - (int)want : 0;
		left = voters - removed;
		healthy = st->ready_replicas - removed;
		if (healthy < 0)
			healthy = 0;
	}
	if (removed == 0 || healthy >= ec_quorum(left))
		return;
	char who[96];
	if (gone[0])
		snprintf(who, sizeof(who), "removing %s", gone);
	else
		snprintf(who, sizeof(who), "removing a member");
	policy_refuse(d,
		      "spec.replicas: cannot go from %lld to %lld: %s would leave %d healthy "
		      "voting member%s, fewer than the quorum of %d for %d. Bring the unhealthy "
		      "members back first (`kubectl etcd status %s`), then scale down",
		      (long long)cur, (long long)want, who, healthy, healthy == 1 ? "" : "s",
		      ec_quorum(left), left, o->name);
}

static void check_replicas_move(struct policy_decision *d, const struct etcd_cluster *o,
				const struct etcd_cluster *n)
{
	int64_t want = n->spec.replicas, cur = policy_current_size(o);
	char cmd[192];
	scale_cmd(n, want, cmd, sizeof(cmd));
	if (want - cur > 1 || want - cur < -1) {
		int64_t step = cur + policy_sign(want - cur);
		policy_refuse(d,
			      "spec.replicas: cannot go from %lld to %lld in one change: etcd "
			      "membership changes one member at a time. Use \"%s\", or apply "
			      "replicas %lld with the annotation " EC_ANN_TARGET ": \"%lld\" and let "
			      "the operator continue",
			      (long long)cur, (long long)want, cmd, (long long)step, (long long)want);
		return;
	}
	if (!policy_settled(o)) {
		int64_t back = policy_settled_size(o);
		if (want != cur && want != back) {
			char why[160], cancel[64] = "";
			policy_unsettled_why(o, why, sizeof(why));
			if (back != cur)
				snprintf(cancel, sizeof(cancel), ", or set %lld to cancel it",
					 (long long)back);
			policy_refuse(d,
				      "spec.replicas: cannot go to %lld while the cluster is not "
				      "settled at %lld (%s): one membership change at a time. Wait "
				      "until `kubectl etcd status %s` shows it settled%s",
				      (long long)want, (long long)cur, why, n->name, cancel);
			return;
		}
	}
	if (want < cur)
		check_quorum(d, o, cur, want);
}

static void validate_scale(const struct policy_request *req, struct policy_decision *d)
{
	const struct etcd_cluster *o = req->old, *n = req->new;
	int64_t want = n->spec.replicas, cur = policy_current_size(o);
	if (want == o->spec.replicas)
		return;
	if (!check_range(d, want))
		return;
	if (want - cur > 1 || want - cur < -1) {
		char cmd[192];
		scale_cmd(n, want, cmd, sizeof(cmd));
		policy_refuse(d,
			      "spec.replicas: cannot scale %s from %lld to %lld through the scale "
			      "subresource: etcd membership changes one member at a time, and a "
			      "Scale cannot carry the target annotation that stages a longer "
			      "change. Use \"%s\"",
			      n->name[0] ? n->name : "the cluster", (long long)cur, (long long)want,
			      cmd);
		return;
	}
	/* A Scale shows voters (status.replicas) but not health: a spec that differs
	 * from it is a step in flight, and only that step or its cancellation may
	 * go on. Health and quorum are re-checked by the controller before it
	 * removes a member, since no Scale can show them. */
	int voters = o->status.replicas;
	if (policy_in_range(voters) && voters != cur && want != voters) {
		policy_refuse(d,
			      "spec.replicas: cannot scale to %lld while %s is changing %d " ARROW
			      " %lld: one membership change at a time. Wait until it has %lld "
			      "members, or scale to %d to cancel",
			      (long long)want, n->name[0] ? n->name : "the cluster", voters,
			      (long long)cur, (long long)cur, voters);
		return;
	}
	warn_even(d, want);
}

/* spec.suspended (DESIGN §3.1): only from a settled cluster; nothing else
 * changes while suspended; resuming is always let in, alone. */
static void check_suspension(struct policy_decision *d, const struct etcd_cluster *o,
			     const struct etcd_cluster *n)
{
	if (!o) {
		if (n->spec.suspended)
			policy_refuse(d, "spec.suspended: a new cluster cannot start suspended: create "
				      "it, then suspend it once `kubectl etcd status %s` shows it Running",
				      n->name);
		return;
	}
	if (n->spec.suspended && !o->spec.suspended) {
		bool pending = n->target >= 0 && n->target != n->spec.replicas;
		if (!policy_settled(o) || pending || n->spec.replicas != o->spec.replicas ||
		    strcmp(n->spec.version, o->spec.version) != 0) {
			char why[160];
			if (!policy_settled(o))
				policy_unsettled_why(o, why, sizeof(why));
			else if (pending)
				snprintf(why, sizeof(why), "a staged scale to %lld members is under way",
					 (long long)n->target);
			else
				snprintf(why, sizeof(why), "this change also moves spec.replicas or "
					 "spec.version");
			policy_refuse(d,
				      "spec.suspended: cannot suspend %s now (%s): every member stops "
				      "with its data, which must be settled first. Wait until `kubectl "
				      "etcd status %s` shows it Running with every member ready, and "
				      "change nothing else in the same request",
				      n->name, why, n->name);
		}
		return;
	}
	if (!o->spec.suspended)
		return;
	/* suspended (or resuming): nothing else may move */
	if (n->spec.replicas != o->spec.replicas || strcmp(n->spec.version, o->spec.version) != 0 ||
	    strcmp(n->spec.image, o->spec.image) != 0 || n->target != o->target) {
		policy_refuse(d,
			      "spec: cannot change replicas, version, image or the target while %s is "
			      "suspended%s: its members are stopped, and a membership change or a "
			      "roll needs them running. Resume first (spec.suspended: false, `kubectl "
			      "etcd resume %s`), alone, then change it",
			      n->name, n->spec.suspended ? "" : " (resuming happens alone)", n->name);
	}
}

void policy_validate(const struct policy_request *req, struct policy_decision *d)
{
	d->allowed = true;
	d->reason[0] = '\0';
	if (req->op == POLICY_DELETE)
		return;
	const struct etcd_cluster *n = req->new;
	const struct etcd_cluster *o =
		req->op == POLICY_UPDATE || req->scale_subresource ? req->old : NULL;
	if (!n) {
		policy_refuse(d, "object: the request carries no EtcdCluster to check");
		return;
	}
	if ((req->op == POLICY_UPDATE || req->scale_subresource) && !o) {
		policy_refuse(d, "oldObject: an UPDATE%s must carry the object it replaces",
			      req->scale_subresource ? " of the scale subresource" : "");
		return;
	}
	if (req->scale_subresource) {
		if (o->spec.suspended) {
			policy_refuse(d, "spec.replicas: cannot scale %s while it is suspended: resume it "
				      "first (`kubectl etcd resume %s`)", o->name, o->name);
			return;
		}
		validate_scale(req, d);
		return;
	}
	check_suspension(d, o, n);
	if (!d->allowed)
		return;

	bool rep_changed = !o || n->spec.replicas != o->spec.replicas;
	if (rep_changed && !check_range(d, n->spec.replicas))
		return;
	if (!o || n->target != o->target || strcmp(n->target_raw, o->target_raw) != 0)
		check_target(d, n);
	check_version(d, o, n);
	if (o)
		check_immutable(d, o, n);
	if (d->allowed)
		check_names(d, o, n);
	if (d->allowed)
		check_tls(d, o, n);
	if (d->allowed)
		policy_check_spec(d, o, n);
	if (d->allowed)
		policy_check_space(d, n);
	if (!d->allowed)
		return;

	if (!o) {
		if (n->spec.replicas > EC_MIN_REPLICAS) {
			policy_refuse(d,
				      "spec.replicas: cannot create a cluster of %lld members in one "
				      "change: a new etcd cluster starts with one member and grows one "
				      "at a time. Create it with replicas 1 and the annotation "
				      EC_ANN_TARGET ": \"%lld\" (the mutating webhook does this when it "
				      "is installed)",
				      (long long)n->spec.replicas, (long long)n->spec.replicas);
			return;
		}
	} else if (rep_changed) {
		check_replicas_move(d, o, n);
		if (!d->allowed)
			return;
	}

	if (!o || target_of(n) != target_of(o))
		warn_even(d, target_of(n));
}
