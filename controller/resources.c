/*
 * resources.c — the Services, StatefulSet, PodDisruptionBudget and
 * NetworkPolicy of an EtcdCluster, as Kubernetes objects (json-c). Pure: no
 * I/O.
 *
 * The one idea: everything about a member that must be decided at run time
 * (new or existing cluster, the live member list, a removed member's data)
 * is decided by the member init step inside the Pod, from etcd itself; the
 * template carries only constants and one permission (the bootstrap
 * annotation, true until the controller has recorded the cluster's id, then
 * taken away from the template and from each Pod). So the template
 * almost never changes, and with updateStrategy OnDelete a change never
 * restarts a running member: the controller alone decides when a member
 * goes away.
 *
 * Choices, and why:
 *   - podManagementPolicy Parallel: with OrderedReady a full restart
 *     deadlocks (Pod 0 is not ready without a quorum, so Pod 1 is never
 *     made). Membership is one at a time anyway, by the controller.
 *   - peer Service publishNotReadyAddresses: a new member's name resolves
 *     before it is ready (the deadlock of the operator this replaces).
 *   - client Service selects the voter label the controller puts on voters'
 *     Pods: a learner answers "rpc not supported for learner", so it gets
 *     no client traffic; a leaving member loses it before it goes.
 *   - readiness httpGet /health?serializable=true: true on a healthy
 *     learner in 3.4 (the parameter is ignored, /health answers for
 *     learners) and 3.5 (a serializable check); not /readyz, which fails on
 *     learners in 3.6. False without a leader, so a member of a cluster
 *     that lost quorum is not ready.
 *   - liveness httpGet /version, gentle: answered by any live etcd process
 *     whatever the cluster's state, so a lost quorum never turns into a
 *     restart storm.
 *   - listen on the Pod IP (etcd needs IPs to listen), advertise DNS names.
 *   - etcd starts through the guard (etcd-member-guard, static, copied by
 *     the init step onto the "guard" emptyDir, read-only for etcd): the
 *     init step runs once per Pod, etcd's container restarts many times,
 *     and a restart without data — Pod 0's founding configuration included —
 *     is refused (exit 4, read by the controller) instead of founding a new
 *     cluster or rejoining empty.
 *   - Pods meet Pod Security "restricted": non-root numeric user, no
 *     capabilities, RuntimeDefault seccomp, read-only root (writes go to
 *     the data volume and emptyDirs), no service-account token (nothing
 *     in the Pod calls the API).
 *   - a NetworkPolicy admits only the members, the controller and Pods
 *     labelled as the cluster's clients: etcd here runs without auth, so
 *     reaching the client port is being able to read and write everything.
 */
#include "resources.h"

#include <stdio.h>
#include <string.h>

#include "ectls.h"
#include "json.h"

static json_object *str(const char *s) { return json_object_new_string(s); }
static json_object *num(int64_t v) { return json_object_new_int64(v); }

json_object *res_labels(const struct etcd_cluster *c)
{
	json_object *l = json_object_new_object();
	json_object_object_add(l, EC_LABEL_CLUSTER, str(c->name));
	json_object_object_add(l, EC_LABEL_APP, str("etcd"));
	json_object_object_add(l, RES_LABEL_MANAGED_BY, str(RES_MANAGED_BY));
	return l;
}

static json_object *selector_labels(const struct etcd_cluster *c)
{
	json_object *l = json_object_new_object();
	json_object_object_add(l, EC_LABEL_CLUSTER, str(c->name));
	json_object_object_add(l, EC_LABEL_APP, str("etcd"));
	return l;
}

json_object *res_owner_ref(const struct etcd_cluster *c)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "apiVersion", str(EC_API_VERSION));
	json_object_object_add(r, "kind", str(EC_KIND));
	json_object_object_add(r, "name", str(c->name));
	json_object_object_add(r, "uid", str(c->uid));
	json_object_object_add(r, "controller", json_object_new_boolean(1));
	json_object_object_add(r, "blockOwnerDeletion", json_object_new_boolean(1));
	return r;
}

static json_object *metadata(const struct etcd_cluster *c, const char *name)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "name", str(name));
	json_object_object_add(m, "namespace", str(c->namespace));
	json_object_object_add(m, "labels", res_labels(c));
	json_object *refs = json_object_new_array();
	json_object_array_add(refs, res_owner_ref(c));
	json_object_object_add(m, "ownerReferences", refs);
	return m;
}

static json_object *port(const char *name, int p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", str(name));
	json_object_object_add(o, "port", num(p));
	json_object_object_add(o, "targetPort", num(p));
	json_object_object_add(o, "protocol", str("TCP"));
	return o;
}

static json_object *object(const char *api_version, const char *kind, json_object *meta)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", str(api_version));
	json_object_object_add(o, "kind", str(kind));
	json_object_object_add(o, "metadata", meta);
	return o;
}

json_object *res_peer_service(const struct etcd_cluster *c)
{
	char name[300];
	snprintf(name, sizeof(name), "%s-peer", c->name);
	json_object *o = object("v1", "Service", metadata(c, name));
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "clusterIP", str("None"));
	json_object_object_add(spec, "publishNotReadyAddresses", json_object_new_boolean(1));
	json_object_object_add(spec, "selector", selector_labels(c));
	json_object *ports = json_object_new_array();
	json_object_array_add(ports, port("peer", 2380));
	json_object_array_add(ports, port("client", 2379));
	json_object_object_add(spec, "ports", ports);
	json_object_object_add(o, "spec", spec);
	return o;
}

json_object *res_client_service(const struct etcd_cluster *c)
{
	char name[300];
	snprintf(name, sizeof(name), "%s-client", c->name);
	json_object *o = object("v1", "Service", metadata(c, name));
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "type", str("ClusterIP"));
	json_object *sel = selector_labels(c);
	json_object_object_add(sel, RES_LABEL_VOTER, str("true"));
	json_object_object_add(spec, "selector", sel);
	json_object *ports = json_object_new_array();
	json_object_array_add(ports, port("client", 2379));
	json_object_object_add(spec, "ports", ports);
	json_object_object_add(o, "spec", spec);
	return o;
}

json_object *res_pdb(const struct etcd_cluster *c, int max_unavailable)
{
	json_object *o = object("policy/v1", "PodDisruptionBudget", metadata(c, c->name));
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "maxUnavailable", num(max_unavailable < 0 ? 0 : max_unavailable));
	json_object *sel = json_object_new_object();
	json_object_object_add(sel, "matchLabels", selector_labels(c));
	json_object_object_add(spec, "selector", sel);
	json_object_object_add(o, "spec", spec);
	return o;
}

static json_object *np_port(int p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "protocol", str("TCP"));
	json_object_object_add(o, "port", num(p));
	return o;
}

static json_object *match_labels(json_object *labels)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "matchLabels", labels);
	return o;
}

static json_object *one_label(const char *key, const char *value)
{
	json_object *l = json_object_new_object();
	json_object_object_add(l, key, str(value));
	return l;
}

/* One ingress rule: from these peers, to these ports (takes both). */
static json_object *ingress_rule(json_object *from, json_object *ports)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "from", from);
	json_object_object_add(r, "ports", ports);
	return r;
}

/*
 * Only Ingress is restricted: a member's own outgoing traffic (to its
 * peers, DNS) is left alone, so a namespace's default-deny egress policy,
 * if any, stays the user's business. The controller is matched by
 * namespace *and* labels in one peer (both must hold); clients by label in
 * the cluster's own namespace (a podSelector without namespaceSelector).
 */
json_object *res_network_policy(const struct etcd_cluster *c, const struct res_opts *opts)
{
	const char *ctl_ns = opts && opts->controller_namespace && *opts->controller_namespace
				     ? opts->controller_namespace : RES_CONTROLLER_NAMESPACE;
	json_object *o = object("networking.k8s.io/v1", "NetworkPolicy", metadata(c, c->name));
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "podSelector", match_labels(selector_labels(c)));
	json_object *types = json_object_new_array();
	json_object_array_add(types, str("Ingress"));
	json_object_object_add(spec, "policyTypes", types);

	json_object *ingress = json_object_new_array();
	/* members ↔ members: raft on the peer port, and the init step's and
	 * etcd's own client calls */
	json_object *from = json_object_new_array();
	json_object *peer = json_object_new_object();
	json_object_object_add(peer, "podSelector", match_labels(selector_labels(c)));
	json_object_array_add(from, peer);
	json_object *ports = json_object_new_array();
	json_object_array_add(ports, np_port(RES_PORT_PEER));
	json_object_array_add(ports, np_port(RES_PORT_CLIENT));
	json_object_array_add(ingress, ingress_rule(from, ports));

	/* the controller and labelled clients: the client port only (etcd's
	 * /metrics and /health are served there too) */
	from = json_object_new_array();
	peer = json_object_new_object();
	json_object_object_add(peer, "namespaceSelector",
			       match_labels(one_label("kubernetes.io/metadata.name", ctl_ns)));
	json_object_object_add(peer, "podSelector",
			       match_labels(one_label(RES_CONTROLLER_LABEL, RES_CONTROLLER_NAME)));
	json_object_array_add(from, peer);
	peer = json_object_new_object();
	json_object_object_add(peer, "podSelector",
			       match_labels(one_label(RES_LABEL_CLIENT_OF, c->name)));
	json_object_array_add(from, peer);
	ports = json_object_new_array();
	json_object_array_add(ports, np_port(RES_PORT_CLIENT));
	json_object_array_add(ingress, ingress_rule(from, ports));

	json_object_object_add(spec, "ingress", ingress);
	json_object_object_add(o, "spec", spec);
	return o;
}

static json_object *env_field(const char *name, const char *path)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "name", str(name));
	json_object *ref = json_object_new_object();
	json_object_object_add(ref, "fieldPath", str(path));
	json_object *from = json_object_new_object();
	json_object_object_add(from, "fieldRef", ref);
	json_object_object_add(e, "valueFrom", from);
	return e;
}

static json_object *pod_env(void)
{
	json_object *env = json_object_new_array();
	json_object_array_add(env, env_field("POD_NAME", "metadata.name"));
	json_object_array_add(env, env_field("POD_NAMESPACE", "metadata.namespace"));
	json_object_array_add(env, env_field("POD_IP", "status.podIP"));
	return env;
}

static json_object *mount(const char *name, const char *path)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "name", str(name));
	json_object_object_add(m, "mountPath", str(path));
	return m;
}

static json_object *mounts(void)
{
	json_object *a = json_object_new_array();
	json_object_array_add(a, mount("data", RES_DATA_MOUNT));
	json_object_array_add(a, mount("config", RES_CONFIG_MOUNT));
	json_object_array_add(a, mount("tmp", RES_TMP_MOUNT));
	return a;
}

/* The TLS Secrets' mounts: the server Secret (both containers), the peer
 * Secret (etcd only). */
static void tls_mounts(const struct etcd_cluster *c, json_object *a, bool peer)
{
	json_object *m;
	if (ectls_client_on(c)) {
		m = mount("server-tls", RES_TLS_SERVER_DIR);
		json_object_object_add(m, "readOnly", json_object_new_boolean(1));
		json_object_array_add(a, m);
	}
	if (peer && ectls_peer_on(c)) {
		m = mount("peer-tls", RES_TLS_PEER_DIR);
		json_object_object_add(m, "readOnly", json_object_new_boolean(1));
		json_object_array_add(a, m);
	}
}

static json_object *secret_volume(const char *name, const char *secret)
{
	json_object *v = json_object_new_object();
	json_object_object_add(v, "name", str(name));
	json_object *s = json_object_new_object();
	json_object_object_add(s, "secretName", str(secret));
	/* owner root, group fsGroup (the members' user), no one else */
	json_object_object_add(s, "defaultMode", num(0440));
	json_object_object_add(v, "secret", s);
	return v;
}

/* The guard's emptyDir: written by the init step, read-only for etcd. */
static json_object *guard_mount(bool read_only)
{
	json_object *m = mount("guard", RES_GUARD_MOUNT);
	if (read_only)
		json_object_object_add(m, "readOnly", json_object_new_boolean(1));
	return m;
}

static json_object *strv(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (; *v; v++)
		json_object_array_add(a, str(*v));
	return a;
}

static json_object *http_probe(const char *path, int port, int period, int timeout,
			       int failures, int initial_delay)
{
	json_object *p = json_object_new_object();
	json_object *get = json_object_new_object();
	json_object_object_add(get, "path", str(path));
	json_object_object_add(get, "port", num(port));
	json_object_object_add(get, "scheme", str("HTTP"));
	json_object_object_add(p, "httpGet", get);
	if (initial_delay)
		json_object_object_add(p, "initialDelaySeconds", num(initial_delay));
	json_object_object_add(p, "periodSeconds", num(period));
	json_object_object_add(p, "timeoutSeconds", num(timeout));
	json_object_object_add(p, "failureThreshold", num(failures));
	json_object_object_add(p, "successThreshold", num(1));
	return p;
}

/* A container's part of Pod Security "restricted" (the Pod's part —
 * runAsNonRoot with a numeric user, seccomp — is in pod_security). */
static json_object *security(void)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "allowPrivilegeEscalation", json_object_new_boolean(0));
	json_object_object_add(s, "readOnlyRootFilesystem", json_object_new_boolean(1));
	json_object_object_add(s, "runAsNonRoot", json_object_new_boolean(1));
	json_object *drop = json_object_new_array();
	json_object_array_add(drop, str("ALL"));
	json_object *caps = json_object_new_object();
	json_object_object_add(caps, "drop", drop);
	json_object_object_add(s, "capabilities", caps);
	return s;
}

/* Every container runs as RES_RUN_AS, never root; fsGroup gives that group
 * the data volume (kubelet changes its ownership only when the volume's root
 * does not match already: OnRootMismatch, not a walk over etcd's files at
 * every start). */
static json_object *pod_security(void)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "runAsNonRoot", json_object_new_boolean(1));
	json_object_object_add(s, "runAsUser", num(RES_RUN_AS));
	json_object_object_add(s, "runAsGroup", num(RES_RUN_AS));
	json_object_object_add(s, "fsGroup", num(RES_RUN_AS));
	json_object_object_add(s, "fsGroupChangePolicy", str("OnRootMismatch"));
	json_object *sp = json_object_new_object();
	json_object_object_add(sp, "type", str("RuntimeDefault"));
	json_object_object_add(s, "seccompProfile", sp);
	return s;
}

/* requests (and a memory limit when given) as quantities */
static json_object *resources(const char *cpu, const char *memory, const char *memory_limit)
{
	json_object *req = json_object_new_object();
	json_object_object_add(req, "cpu", str(cpu));
	json_object_object_add(req, "memory", str(memory));
	json_object *r = json_object_new_object();
	json_object_object_add(r, "requests", req);
	if (memory_limit) {
		json_object *lim = json_object_new_object();
		json_object_object_add(lim, "memory", str(memory_limit));
		json_object_object_add(r, "limits", lim);
	}
	return r;
}

/* The init step's space flags (spec.maintenance); a value the policy would
 * refuse falls back to the default rather than into etcd's configuration. */
static void space_args(const struct etcd_cluster *c, char a_cm[48], char a_cr[80], char a_q[64])
{
	const struct ec_maintenance *m = &c->spec.maint;
	bool bad = m->compaction_mode == EC_COMPACT_INVALID;
	snprintf(a_cm, 48, "--auto-compaction-mode=%s",
		 bad ? "periodic" : ec_compaction_mode_flag(m->compaction_mode));
	snprintf(a_cr, 80, "--auto-compaction-retention=%s",
		 bad || !m->compaction_retention[0] ? EC_DEFAULT_COMPACTION_RETENTION
						    : m->compaction_retention);
	snprintf(a_q, 64, "--quota-backend-bytes=%lld",
		 (long long)(m->quota_bytes > 0 ? m->quota_bytes : EC_DEFAULT_QUOTA_BYTES));
}

static json_object *init_container(const struct etcd_cluster *c, const struct res_opts *opts)
{
	char a_name[300], a_domain[300], a_hb[48], a_el[48], a_wait[48];
	snprintf(a_name, sizeof(a_name), "--cluster-name=%s", c->name);
	snprintf(a_domain, sizeof(a_domain), "--cluster-domain=%s", c->spec.cluster_domain);
	snprintf(a_hb, sizeof(a_hb), "--heartbeat-ms=%d", opts->heartbeat_ms);
	snprintf(a_el, sizeof(a_el), "--election-ms=%d", opts->election_ms);
	snprintf(a_wait, sizeof(a_wait), "--wait-seconds=%d", opts->init_wait_s);
	const char *cmd[] = {"/usr/local/bin/etcd-controller", "member-init", NULL};
	/* TLS: where the Secrets are mounted, and the CN etcd requires of
	 * peers when the operator issued the peer certificate */
	char a_cn[96];
	snprintf(a_cn, sizeof(a_cn), "--peer-allowed-cn=");
	if (c->spec.tls_peer.mode == EC_TLS_AUTO)
		ectls_peer_cn(c, a_cn + strlen(a_cn), sizeof(a_cn) - strlen(a_cn));
	/* Space (spec.maintenance): etcd reads these when it starts */
	char a_cm[48], a_cr[80], a_q[64];
	space_args(c, a_cm, a_cr, a_q);
	const char *args[20] = {a_name, a_domain, "--data-dir=" RES_DATA_DIR,
				"--config-file=" RES_CONFIG_FILE, a_hb, a_el, a_wait,
				"--install-guard=" RES_GUARD_BIN, a_cm, a_cr, a_q};
	size_t na = 11;
	if (ectls_peer_on(c))
		args[na++] = "--peer-tls-dir=" RES_TLS_PEER_DIR;
	if (c->spec.tls_peer.mode == EC_TLS_AUTO)
		args[na++] = a_cn;
	if (ectls_client_on(c))
		args[na++] = "--client-tls-dir=" RES_TLS_SERVER_DIR;
	args[na] = NULL;
	json_object *k = json_object_new_object();
	json_object_object_add(k, "name", str(RES_INIT_CONTAINER));
	json_object_object_add(k, "image", str(opts->operator_image));
	json_object_object_add(k, "imagePullPolicy", str("IfNotPresent"));
	json_object_object_add(k, "command", strv(cmd));
	json_object *argv = strv(args);
	res_extra_args(c, argv);
	json_object_object_add(k, "args", argv);
	json_object *env = pod_env();
	json_object_array_add(env, env_field(RES_ENV_BOOTSTRAP,
					     "metadata.annotations['" RES_ANN_BOOTSTRAP "']"));
	json_object_object_add(k, "env", env);
	/* A failed init step shows its last words in the Pod's status. */
	json_object_object_add(k, "terminationMessagePolicy", str("FallbackToLogsOnError"));
	json_object *vm = mounts();
	json_object_array_add(vm, guard_mount(false));
	tls_mounts(c, vm, false);
	json_object_object_add(k, "volumeMounts", vm);
	json_object_object_add(k, "securityContext", security());
	/* a short step: a few files and calls to etcd; the limit stops a
	 * runaway from taking the node's memory */
	json_object_object_add(k, "resources", resources("10m", "32Mi", "128Mi"));
	return k;
}

static json_object *etcd_container(const struct etcd_cluster *c, const struct res_opts *opts)
{
	char image[300];
	cluster_etcd_image(c, image, sizeof(image));
	const char *cmd[] = {RES_GUARD_BIN, "--", "/usr/local/bin/etcd",
			     "--config-file=" RES_CONFIG_FILE, NULL};
	json_object *k = json_object_new_object();
	json_object_object_add(k, "name", str(RES_ETCD_CONTAINER));
	json_object_object_add(k, "image", str(image));
	json_object_object_add(k, "imagePullPolicy", str("IfNotPresent"));
	json_object_object_add(k, "command", strv(cmd));
	json_object *ports = json_object_new_array();
	json_object *p = json_object_new_object();
	json_object_object_add(p, "name", str("client"));
	json_object_object_add(p, "containerPort", num(2379));
	json_object_array_add(ports, p);
	p = json_object_new_object();
	json_object_object_add(p, "name", str("peer"));
	json_object_object_add(p, "containerPort", num(2380));
	json_object_array_add(ports, p);
	/* With client TLS the probes cannot use the client port (etcd wants a
	 * client certificate there): /health on the plain metrics port, and a
	 * TCP check for liveness (3.5's metrics port has no /version). */
	bool tls = ectls_client_on(c);
	if (tls) {
		p = json_object_new_object();
		json_object_object_add(p, "name", str("metrics"));
		json_object_object_add(p, "containerPort", num(RES_PORT_METRICS));
		json_object_array_add(ports, p);
	}
	json_object_object_add(k, "ports", ports);
	json_object_object_add(k, "env", pod_env());
	json_object_object_add(k, "readinessProbe",
			       http_probe("/health?serializable=true", tls ? RES_PORT_METRICS : 2379,
					  opts->probe_period_s, 2, 3, 0));
	if (tls) {
		json_object *lp = json_object_new_object();
		json_object *tcp = json_object_new_object();
		json_object_object_add(tcp, "port", num(RES_PORT_METRICS));
		json_object_object_add(lp, "tcpSocket", tcp);
		json_object_object_add(lp, "initialDelaySeconds", num(15));
		json_object_object_add(lp, "periodSeconds", num(10));
		json_object_object_add(lp, "timeoutSeconds", num(5));
		json_object_object_add(lp, "failureThreshold", num(6));
		json_object_object_add(lp, "successThreshold", num(1));
		json_object_object_add(k, "livenessProbe", lp);
	} else {
		json_object_object_add(k, "livenessProbe", http_probe("/version", 2379, 10, 5, 6, 15));
	}
	json_object *vm = mounts();
	json_object_array_add(vm, guard_mount(true));
	tls_mounts(c, vm, true);
	json_object_object_add(k, "volumeMounts", vm);
	/* The guard's refusal (exit 4: no data under a configuration that has
	 * run) is in the Pod's status for the controller, and its reason here. */
	json_object_object_add(k, "terminationMessagePolicy", str("FallbackToLogsOnError"));
	json_object_object_add(k, "securityContext", security());
	/* Modest requests, enough to schedule a small cluster; no limits: a CPU
	 * limit throttles etcd into missed heartbeats and needless elections,
	 * and a memory limit turns a large snapshot into an OOM kill of a
	 * member. Bigger clusters need more (a spec field is future work). */
	json_object_object_add(k, "resources", resources("100m", "128Mi", NULL));
	return k;
}

static json_object *anti_affinity(const struct etcd_cluster *c)
{
	json_object *term = json_object_new_object();
	json_object_object_add(term, "topologyKey", str("kubernetes.io/hostname"));
	json_object *ls = json_object_new_object();
	json_object_object_add(ls, "matchLabels", selector_labels(c));
	json_object_object_add(term, "labelSelector", ls);
	json_object *w = json_object_new_object();
	json_object_object_add(w, "weight", num(100));
	json_object_object_add(w, "podAffinityTerm", term);
	json_object *pref = json_object_new_array();
	json_object_array_add(pref, w);
	json_object *paa = json_object_new_object();
	json_object_object_add(paa, "preferredDuringSchedulingIgnoredDuringExecution", pref);
	json_object *aff = json_object_new_object();
	json_object_object_add(aff, "podAntiAffinity", paa);
	return aff;
}

json_object *res_statefulset(const struct etcd_cluster *c, int replicas, bool bootstrap,
			     const struct res_opts *in)
{
	struct res_opts opts = in ? *in : (struct res_opts){0};
	if (!opts.operator_image || !*opts.operator_image)
		opts.operator_image = EC_OPERATOR_IMAGE;
	if (opts.heartbeat_ms <= 0)
		opts.heartbeat_ms = EC_HEARTBEAT_MS;
	if (opts.election_ms <= 0)
		opts.election_ms = EC_ELECTION_MS;
	if (opts.init_wait_s <= 0)
		opts.init_wait_s = 300;
	if (opts.probe_period_s <= 0)
		opts.probe_period_s = 2;

	char peer[300];
	snprintf(peer, sizeof(peer), "%s-peer", c->name);
	json_object *o = object("apps/v1", "StatefulSet", metadata(c, c->name));
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "replicas", num(replicas));
	json_object_object_add(spec, "serviceName", str(peer));
	json_object_object_add(spec, "podManagementPolicy", str("Parallel"));
	json_object *us = json_object_new_object();
	json_object_object_add(us, "type", str("OnDelete"));
	json_object_object_add(spec, "updateStrategy", us);
	json_object *sel = json_object_new_object();
	json_object_object_add(sel, "matchLabels", selector_labels(c));
	json_object_object_add(spec, "selector", sel);

	json_object *tmeta = json_object_new_object();
	json_object_object_add(tmeta, "labels", res_labels(c));
	json_object *ann = json_object_new_object();
	json_object_object_add(ann, RES_ANN_BOOTSTRAP, str(bootstrap ? "true" : "false"));
	json_object_object_add(tmeta, "annotations", ann);
	json_object *pod = json_object_new_object();
	json_object_object_add(pod, "terminationGracePeriodSeconds", num(30));
	json_object_object_add(pod, "enableServiceLinks", json_object_new_boolean(0));
	/* Neither container calls the Kubernetes API (the init step asks etcd
	 * only): no token in the Pod. */
	json_object_object_add(pod, "automountServiceAccountToken", json_object_new_boolean(0));
	json_object_object_add(pod, "securityContext", pod_security());
	json_object_object_add(pod, "affinity", anti_affinity(c));
	json_object *inits = json_object_new_array();
	json_object_array_add(inits, init_container(c, &opts));
	json_object_object_add(pod, "initContainers", inits);
	json_object *ctrs = json_object_new_array();
	json_object *etcd = etcd_container(c, &opts);
	json_object_array_add(ctrs, etcd);
	json_object_object_add(pod, "containers", ctrs);
	res_pod_knobs(c, tmeta, pod, etcd);
	json_object *vols = json_object_new_array();
	json_object *cfg = json_object_new_object();
	json_object_object_add(cfg, "name", str("config"));
	json_object_object_add(cfg, "emptyDir", json_object_new_object());
	json_object_array_add(vols, cfg);
	json_object *tmp = json_object_new_object();
	json_object_object_add(tmp, "name", str("tmp"));
	json_object *tmp_dir = json_object_new_object();
	json_object_object_add(tmp_dir, "sizeLimit", str("64Mi"));
	json_object_object_add(tmp, "emptyDir", tmp_dir);
	json_object_array_add(vols, tmp);
	json_object *guard = json_object_new_object();
	json_object_object_add(guard, "name", str("guard"));
	json_object *guard_dir = json_object_new_object();
	json_object_object_add(guard_dir, "sizeLimit", str("16Mi")); /* one static program */
	json_object_object_add(guard, "emptyDir", guard_dir);
	json_object_array_add(vols, guard);
	char secret[300];
	if (ectls_secret_name(c, ECTLS_SERVER, secret, sizeof(secret)) == 0)
		json_object_array_add(vols, secret_volume("server-tls", secret));
	if (ectls_secret_name(c, ECTLS_PEER, secret, sizeof(secret)) == 0)
		json_object_array_add(vols, secret_volume("peer-tls", secret));
	json_object_object_add(pod, "volumes", vols);
	json_object *tmpl = json_object_new_object();
	json_object_object_add(tmpl, "metadata", tmeta);
	json_object_object_add(tmpl, "spec", pod);
	json_object_object_add(spec, "template", tmpl);

	json_object *claim = json_object_new_object();
	json_object *cmeta = json_object_new_object();
	json_object_object_add(cmeta, "name", str("data"));
	json_object_object_add(cmeta, "labels", res_labels(c));
	json_object_object_add(claim, "metadata", cmeta);
	json_object *cspec = json_object_new_object();
	json_object *modes = json_object_new_array();
	json_object_array_add(modes, str("ReadWriteOnce"));
	json_object_object_add(cspec, "accessModes", modes);
	json_object *req = json_object_new_object();
	json_object_object_add(req, "storage", str(c->spec.storage_size));
	json_object *res = json_object_new_object();
	json_object_object_add(res, "requests", req);
	json_object_object_add(cspec, "resources", res);
	if (c->spec.storage_class_set)
		json_object_object_add(cspec, "storageClassName", str(c->spec.storage_class));
	json_object_object_add(claim, "spec", cspec);
	json_object *claims = json_object_new_array();
	json_object_array_add(claims, claim);
	json_object_object_add(spec, "volumeClaimTemplates", claims);
	json_object_object_add(spec, "persistentVolumeClaimRetentionPolicy", res_claim_retention(c));

	json_object_object_add(o, "spec", spec);
	return o;
}

/* spec.storage.whenDeleted as the StatefulSet controller applies it; a
 * removed member's claim is deleted by this controller, so whenScaled stays
 * Retain (the StatefulSet must not delete it before the member is removed). */
json_object *res_claim_retention(const struct etcd_cluster *c)
{
	json_object *p = json_object_new_object();
	json_object_object_add(p, "whenDeleted", str(c->spec.delete_volumes ? "Delete" : "Retain"));
	json_object_object_add(p, "whenScaled", str("Retain"));
	return p;
}

/* The EC_BOOTSTRAP env entry of the init container, or NULL. */
static json_object *bootstrap_env(json_object *sts)
{
	json_object *inits = json_at(sts, "spec.template.spec.initContainers");
	if (!inits || !json_object_is_type(inits, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(inits); i++) {
		json_object *k = json_object_array_get_idx(inits, i);
		if (strcmp(json_opt_str(k, "name", ""), RES_INIT_CONTAINER) != 0)
			continue;
		json_object *env = json_at(k, "env");
		if (!env || !json_object_is_type(env, json_type_array))
			return NULL;
		for (size_t j = 0; j < json_object_array_length(env); j++) {
			json_object *e = json_object_array_get_idx(env, j);
			if (strcmp(json_opt_str(e, "name", ""), RES_ENV_BOOTSTRAP) == 0)
				return e;
		}
	}
	return NULL;
}

#define BOOTSTRAP_ANN_PATH "annotations[" RES_ANN_BOOTSTRAP "]"

bool res_sts_bootstrap(json_object *sts)
{
	if (strcmp(json_opt_str(sts, "spec.template.metadata." BOOTSTRAP_ANN_PATH, ""), "true") == 0)
		return true;
	json_object *e = bootstrap_env(sts);
	return e && strcmp(json_opt_str(e, "value", ""), "true") == 0;
}

int res_sts_clear_bootstrap(json_object *sts)
{
	json_object *md = json_at(sts, "spec.template.metadata");
	json_object *e = bootstrap_env(sts);
	if (!md || !json_object_is_type(md, json_type_object) || !e)
		return -1;
	if (json_set(md, BOOTSTRAP_ANN_PATH, str("false")) != 0)
		return -1;
	if (json_at(e, "value")) /* an older template's own value */
		json_object_object_add(e, "value", str("false"));
	return 0;
}

bool res_sts_bootstrap_in_env(json_object *sts)
{
	json_object *e = bootstrap_env(sts);
	return e && json_at(e, "value") != NULL;
}

/* {"spec":{"template":{"metadata":{"annotations":{<bootstrap>: "false"}}}}} */
json_object *res_sts_bootstrap_off_patch(void)
{
	json_object *p = json_object_new_object();
	json_set(p, "spec.template.metadata." BOOTSTRAP_ANN_PATH, str("false"));
	return p;
}

bool res_pod_bootstrap(json_object *pod)
{
	return strcmp(json_opt_str(pod, "metadata." BOOTSTRAP_ANN_PATH, ""), "true") == 0;
}

json_object *res_pod_bootstrap_off_patch(void)
{
	json_object *p = json_object_new_object();
	json_set(p, "metadata." BOOTSTRAP_ANN_PATH, str("false"));
	return p;
}

static json_object *etcd_container_of(json_object *sts)
{
	json_object *ctrs = json_at(sts, "spec.template.spec.containers");
	for (size_t i = 0; ctrs && json_object_is_type(ctrs, json_type_array) &&
			   i < json_object_array_length(ctrs); i++) {
		json_object *k = json_object_array_get_idx(ctrs, i);
		if (strcmp(json_opt_str(k, "name", ""), RES_ETCD_CONTAINER) == 0)
			return k;
	}
	return NULL;
}

const char *res_sts_image(json_object *sts)
{
	json_object *k = etcd_container_of(sts);
	return k ? json_opt_str(k, "image", "") : "";
}

const char *res_pod_image(json_object *pod)
{
	json_object *ctrs = json_at(pod, "spec.containers");
	for (size_t i = 0; ctrs && json_object_is_type(ctrs, json_type_array) &&
			   i < json_object_array_length(ctrs); i++) {
		json_object *k = json_object_array_get_idx(ctrs, i);
		if (strcmp(json_opt_str(k, "name", ""), RES_ETCD_CONTAINER) == 0)
			return json_opt_str(k, "image", "");
	}
	return "";
}

bool res_sts_set_space_args(json_object *sts, const struct etcd_cluster *c)
{
	char want[3][80];
	space_args(c, want[0], want[1], want[2]);
	json_object *ks = json_at(sts, "spec.template.spec.initContainers");
	json_object *args = NULL;
	for (size_t i = 0; ks && json_object_is_type(ks, json_type_array) &&
			   i < json_object_array_length(ks); i++) {
		json_object *k = json_object_array_get_idx(ks, i);
		if (strcmp(json_opt_str(k, "name", ""), RES_INIT_CONTAINER) == 0)
			args = json_at(k, "args");
	}
	if (!args || !json_object_is_type(args, json_type_array))
		return false;
	bool changed = false;
	for (int w = 0; w < 3; w++) {
		size_t flag = (size_t)(strchr(want[w], '=') - want[w]) + 1;
		bool found = false;
		for (size_t j = 0; j < json_object_array_length(args) && !found; j++) {
			const char *a = json_object_get_string(json_object_array_get_idx(args, j));
			if (!a || strncmp(a, want[w], flag) != 0)
				continue;
			found = true;
			if (strcmp(a, want[w]) != 0) {
				json_object_array_put_idx(args, j, str(want[w]));
				changed = true;
			}
		}
		if (!found) { /* a StatefulSet made before spec.maintenance */
			json_object_array_add(args, str(want[w]));
			changed = true;
		}
	}
	return changed;
}

bool res_sts_set_image(json_object *sts, const char *image)
{
	json_object *k = etcd_container_of(sts);
	if (!k || strcmp(json_opt_str(k, "image", ""), image) == 0)
		return false;
	json_object_object_add(k, "image", str(image));
	return true;
}
