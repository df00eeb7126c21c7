/*
 * validate.c — `kubectl etcd validate -f FILE [--old FILE]`: the admission
 * rules, offline, for the CI pipeline of a GitOps repository.
 *
 * The one idea: run the very functions the webhook runs (policy_admit:
 * mutate, then validate the mutated object), on the documents of a file
 * instead of an AdmissionReview, and report each verdict at the file and line
 * it came from. Without --old every EtcdCluster is judged as a CREATE; with
 * --old (the files as on the main branch, or `kubectl get -o yaml` output) a
 * document whose namespace/name is there is judged as an UPDATE of it. An
 * old object without a status (a file from git) stands for a cluster settled
 * at its spec — the question CI asks is "may this change be applied to a
 * healthy cluster". No cluster is contacted and no kubeconfig is read. The
 * files are someone's pull request: every line reporting on them is made
 * safe for the terminal (term.h) before it is shown.
 */
#include "plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster.h"
#include "crdschema.h"
#include "json.h"
#include "policy.h"
#include "term.h"
#include "yamljson.h"

#define VALIDATE_MAX_INPUT (16 * 1024 * 1024)

/* The CRD this plugin was built with (Makefile: $(BUILD)/gen/pl_crd.h). */
#if __has_include("pl_crd.h")
#include "pl_crd.h"
#else
static const char PL_CRD_YAML[] = "";
#endif

/* Its openAPIV3Schema for our version, parsed once; NULL when the build had
 * no CRD (then only the admission rules are checked). */
static json_object **crd_docs;
static size_t crd_ndocs;
static bool crd_loaded;

static json_object *crd_schema(void)
{
	if (!crd_loaded) {
		crd_loaded = true;
		struct eo_err err;
		if (yaml_parse_docs(PL_CRD_YAML, strlen(PL_CRD_YAML), "crd", &crd_docs, &crd_ndocs,
				    &err) != 0) {
			crd_docs = NULL;
			crd_ndocs = 0;
		}
	}
	const char *version = strchr(EC_API_VERSION, '/') + 1;
	for (size_t i = 0; i < crd_ndocs; i++)
		if (strcmp(json_opt_str(crd_docs[i], "kind", ""), "CustomResourceDefinition") == 0)
			return crdschema_of(crd_docs[i], version);
	return NULL;
}

void validate_schema_free(void)
{
	yaml_docs_free(crd_docs, crd_ndocs);
	crd_docs = NULL;
	crd_ndocs = 0;
	crd_loaded = false;
}

bool validate_has_schema(void)
{
	return crd_schema() != NULL;
}

size_t validate_flags(struct validate_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("filename", 'f', CLI_STRLIST, &o->files, "FILE", "YAML or JSON file of EtcdClusters, '-' for stdin (repeatable)"),
		CLI_FLAG("old", 0, CLI_STRLIST, &o->old, "FILE", "the objects as they are now: judge -f as UPDATEs of these (repeatable)"),
		CLI_FLAG("recursive", 'R', CLI_BOOL, &o->recursive, NULL, "with a directory for -f, its subdirectories too"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int validate_parse(int argc, char **argv, struct validate_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = validate_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos > 0)
		return eo_err_set(err, EO_EINVAL, "unexpected argument \"%s\": name files with -f FILE",
				  p.pos[0]);
	if (o->files.n == 0)
		return eo_err_set(err, EO_EINVAL, "-f FILE is required (a YAML or JSON file, or - "
				  "for stdin)");
	int stdin_uses = 0;
	for (int i = 0; i < o->files.n; i++)
		stdin_uses += strcmp(o->files.v[i], "-") == 0;
	for (int i = 0; i < o->old.n; i++)
		stdin_uses += strcmp(o->old.v[i], "-") == 0;
	if (stdin_uses > 1)
		return eo_err_set(err, EO_EINVAL, "stdin (-) can be read only once");
	return 0;
}

/* One line of the report: formatted, made safe as a whole, then its newline. */
static void say(struct eo_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct eo_buf *out, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	term_safe_append(out, line, 0);
	eo_buf_append(out, "\n", 1);
}

static bool is_ours(json_object *doc)
{
	return strcmp(json_opt_str(doc, "kind", ""), EC_KIND) == 0 &&
	       strcmp(json_opt_str(doc, "apiVersion", ""), EC_API_VERSION) == 0;
}

/* A kubectl List (kind List, or <Kind>List as `kubectl get -o yaml` writes
 * it) whose items are judged one by one. */
static bool is_list(json_object *doc)
{
	const char *kind = json_opt_str(doc, "kind", "");
	size_t n = strlen(kind);
	json_object *items = json_at(doc, "items");
	return n >= 4 && strcmp(kind + n - 4, "List") == 0 && items &&
	       json_object_is_type(items, json_type_array);
}

/* Kinds with no namespace (kubectl knows from discovery; offline, the
 * common ones): their skip line names them without a namespace. */
static bool cluster_scoped(json_object *doc)
{
	static const char *const kinds[] = {
		"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
		"CustomResourceDefinition", "StorageClass", "PriorityClass", "RuntimeClass",
		"IngressClass", "CSIDriver", "CSINode", "VolumeAttachment", "APIService",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
		"CertificateSigningRequest", "ClusterIssuer", "FlowSchema",
		"PriorityLevelConfiguration",
	};
	const char *kind = json_opt_str(doc, "kind", "");
	for (size_t i = 0; i < EO_ARRAY_LEN(kinds); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

static const char *ns_of(json_object *doc, const char *def)
{
	const char *ns = json_opt_str(doc, "metadata.namespace", "");
	return *ns ? ns : def;
}

static json_object *find_old(json_object *const *olds, size_t nold, const char *ns,
			     const char *name, const char *def)
{
	for (size_t i = 0; i < nold; i++)
		if (strcmp(json_opt_str(olds[i], "metadata.name", ""), name) == 0 &&
		    strcmp(ns_of(olds[i], def), ns) == 0)
			return olds[i];
	return NULL;
}

/* A file from git has no status: let it stand for a healthy cluster settled
 * at its spec (every voter healthy), which is what CI asks about. */
static void settle(struct etcd_cluster *c, json_object *doc)
{
	if (json_at(doc, "status"))
		return;
	if (c->generation == 0)
		c->generation = 1;
	int n = c->spec.replicas >= 0 && c->spec.replicas <= EC_MAX_MEMBERS ? (int)c->spec.replicas : 0;
	c->status.phase = EC_RUNNING;
	c->status.observed_generation = c->generation;
	c->status.replicas = c->status.ready_replicas = n;
	c->status.nmembers = n;
	for (int i = 0; i < n; i++) {
		struct ec_member *m = &c->status.members[i];
		snprintf(m->name, sizeof(m->name), "%.50s-%d", c->name, i);
		m->healthy = true;
		m->leader = i == 0;
	}
}

static void judge(const char *source, json_object *doc, json_object *const *olds, size_t nold,
		  const char *defns, struct eo_buf *out, struct validate_counts *cnt)
{
	int line = yaml_line_of(doc);
	char where[600];
	snprintf(where, sizeof(where), "%s:%d", source, line);
	if (!json_object_is_type(doc, json_type_object) || !json_at(doc, "kind")) {
		say(out, "%s: skipped: not a Kubernetes object (no kind)", where);
		cnt->skipped++;
		return;
	}
	const char *kind = json_opt_str(doc, "kind", "?");
	const char *name = json_opt_str(doc, "metadata.name", "");
	const char *ns = ns_of(doc, defns);
	if (is_list(doc)) {
		json_object *items = json_at(doc, "items");
		size_t n = json_object_array_length(items);
		for (size_t i = 0; i < n; i++)
			judge(source, json_object_array_get_idx(items, i), olds, nold, defns, out, cnt);
		return;
	}
	if (!is_ours(doc)) {
		char what[600];
		if (cluster_scoped(doc))
			snprintf(what, sizeof(what), "%s", *name ? name : "?");
		else
			snprintf(what, sizeof(what), "%s/%s", ns, *name ? name : "?");
		say(out, "%s: skipped %s %s (%s)", where, kind, what,
		    strcmp(kind, EC_KIND) == 0 ? "another group's EtcdCluster, not " EC_API_VERSION
					       : "not an EtcdCluster");
		cnt->skipped++;
		return;
	}
	struct etcd_cluster now, before;
	struct eo_err err;
	if (!*name) {
		say(out, "%s: %s/?: refused: metadata.name: required", where, ns);
		cnt->refused++;
		return;
	}
	/* The API server's order: strict decoding first (unknown fields); the
	 * schema's other checks come after the mutating webhook, so after the
	 * admission rules here, whose words the existing refusals keep. */
	struct crdschema_result sr;
	crdschema_check(crd_schema(), doc, &sr);
	if (sr.nunknown) {
		say(out, "%s: %s/%s: refused: strict decoding error: %s", where, ns, name,
		    sr.unknown.data);
		crdschema_result_free(&sr);
		cnt->refused++;
		return;
	}
	if (cluster_parse(doc, &now, &err) != 0) {
		say(out, "%s: %s/%s: refused: %s", where, ns, name, err.msg);
		crdschema_result_free(&sr);
		cnt->refused++;
		return;
	}
	eo_strlcpy(now.namespace, ns, sizeof(now.namespace));
	json_object *old = find_old(olds, nold, ns, name, defns);
	struct policy_request req = {.op = POLICY_CREATE, .new = &now};
	if (old) {
		if (cluster_parse(old, &before, &err) != 0) {
			say(out, "%s: %s/%s: refused: the old object cannot be read: %s", where, ns,
			    name, err.msg);
			crdschema_result_free(&sr);
			cnt->refused++;
			return;
		}
		eo_strlcpy(before.namespace, ns, sizeof(before.namespace));
		settle(&before, old);
		/* The new object is the old one edited: same generation, so the
		 * rules judge the change and not a stale status. */
		now.generation = before.generation;
		now.status = before.status;
		req.op = POLICY_UPDATE;
		req.old = &before;
	}
	struct policy_decision d;
	policy_admit(&req, &d, NULL);
	if (d.allowed && sr.ninvalid) {
		d.allowed = false;
		eo_strlcpy(d.reason, sr.invalid.data, sizeof(d.reason));
	}
	crdschema_result_free(&sr);
	if (d.allowed) {
		say(out, "%s: %s/%s: OK", where, ns, name);
		cnt->ok++;
	} else {
		say(out, "%s: %s/%s: refused: %s", where, ns, name, d.reason);
		cnt->refused++;
	}
	for (int i = 0; i < d.nwarnings; i++)
		say(out, "%s: %s/%s: warning: %s", where, ns, name, d.warnings[i]);
}

int validate_source(const char *source, const char *buf, size_t len, json_object *const *olds,
		    size_t nold, const char *ns, struct eo_buf *out, struct validate_counts *n,
		    struct eo_err *err)
{
	json_object **docs = NULL;
	size_t ndocs = 0;
	if (yaml_parse_docs(buf, len, source, &docs, &ndocs, err) != 0)
		return -1;
	if (ndocs == 0)
		say(out, "%s: no documents", source);
	for (size_t i = 0; i < ndocs; i++)
		judge(source, docs[i], olds, nold, ns && *ns ? ns : "default", out, n);
	yaml_docs_free(docs, ndocs);
	return 0;
}

static int read_input(const char *path, char **buf, size_t *len, struct eo_err *err)
{
	if (strcmp(path, "-") != 0)
		return eo_read_file(path, VALIDATE_MAX_INPUT, buf, len, err);
	struct eo_buf b = {.max = VALIDATE_MAX_INPUT};
	char chunk[65536];
	ssize_t k;
	while ((k = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
		if (eo_buf_append(&b, chunk, (size_t)k) != 0) {
			eo_buf_free(&b);
			return eo_err_set(err, EO_EINVAL, "stdin: more than %d bytes", VALIDATE_MAX_INPUT);
		}
	if (k < 0) {
		eo_buf_free(&b);
		return eo_err_set(err, EO_ESYS, "stdin: read failed");
	}
	*len = b.len;
	*buf = b.data ? eo_buf_steal(&b) : eo_strdup0("");
	return 0;
}

/* The EtcdClusters of the --old files, Lists flattened (borrowed from their
 * documents, which are kept in keep until the end). */
struct olds {
	json_object **v;
	size_t n, cap;
	json_object ***keep;
	size_t *keepn;
	size_t nkeep;
};

/* Returns -1 only when out of memory. */
static int olds_add(struct olds *o, json_object *doc)
{
	if (is_list(doc)) {
		json_object *items = json_at(doc, "items");
		for (size_t i = 0; i < json_object_array_length(items); i++)
			if (olds_add(o, json_object_array_get_idx(items, i)) != 0)
				return -1;
		return 0;
	}
	if (!is_ours(doc))
		return 0;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		json_object **v = realloc(o->v, cap * sizeof(*v));
		if (!v)
			return -1;
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = doc;
	return 0;
}

static void olds_free(struct olds *o)
{
	for (size_t i = 0; i < o->nkeep; i++)
		yaml_docs_free(o->keep[i], o->keepn[i]);
	free(o->keep);
	free(o->keepn);
	free(o->v);
}

static int load_olds(const struct validate_opts *opts, struct olds *o)
{
	o->keep = calloc((size_t)opts->old.n + 1, sizeof(*o->keep));
	o->keepn = calloc((size_t)opts->old.n + 1, sizeof(*o->keepn));
	if (!o->keep || !o->keepn)
		return pl_fail("out of memory");
	for (int i = 0; i < opts->old.n; i++) {
		const char *path = opts->old.v[i];
		const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
		char *buf = NULL;
		size_t len = 0;
		struct eo_err err;
		if (read_input(path, &buf, &len, &err) != 0)
			return pl_fail("--old %s: %s", shown, err.msg);
		json_object **docs = NULL;
		size_t nd = 0;
		int rc = yaml_parse_docs(buf, len, shown, &docs, &nd, &err);
		free(buf);
		if (rc != 0)
			return pl_fail("--old %s", err.msg);
		o->keep[o->nkeep] = docs;
		o->keepn[o->nkeep++] = nd;
		for (size_t k = 0; k < nd; k++)
			if (olds_add(o, docs[k]) != 0)
				return pl_fail("--old %s: out of memory", shown);
	}
	return 0;
}

static bool manifest_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' &&
	       ((n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml")) ||
		(n > 5 && !strcmp(name + n - 5, ".json")));
}

static int push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (!s)
		return -1;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, c * sizeof(*nv));
		if (!nv) {
			free(s);
			return -1;
		}
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = s;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int expand_dir(const char *dir, bool recursive, int depth, char ***v, size_t *n, size_t *cap,
		      struct eo_err *err)
{
	if (depth > 32)
		return eo_err_set(err, EO_EINVAL, "%s: directories nested too deep", dir);
	DIR *d = opendir(dir);
	if (!d)
		return eo_err_set(err, EO_ESYS, "%s: cannot read the directory", dir);
	char **names = NULL;
	size_t nn = 0, nc = 0;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		rc = push(&names, &nn, &nc, eo_strdupf("%s%s%s", dir,
						       dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name));
	}
	closedir(d);
	if (rc != 0) {
		eo_err_set(err, EO_ENOMEM, "out of memory");
	} else if (nn) {
		qsort(names, nn, sizeof(*names), by_name);
	}
	for (size_t i = 0; i < nn; i++) {
		struct stat st;
		const char *base = strrchr(names[i], '/') + 1;
		if (rc == 0 && stat(names[i], &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				if (recursive && base[0] != '.')
					rc = expand_dir(names[i], recursive, depth + 1, v, n, cap, err);
			} else if (manifest_name(base)) {
				rc = push(v, n, cap, names[i]);
				names[i] = NULL;
				if (rc != 0)
					eo_err_set(err, EO_ENOMEM, "out of memory");
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int validate_expand(const char *path, bool recursive, char ***out, size_t *n, struct eo_err *err)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	struct stat st;
	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (expand_dir(path, recursive, 0, out, n, &cap, err) != 0) {
			for (size_t i = 0; i < *n; i++)
				free((*out)[i]);
			free(*out);
			*out = NULL;
			*n = 0;
			return -1;
		}
		if (*n == 0)
			return eo_err_set(err, EO_EINVAL, "%s: no .yaml, .yml or .json files in the "
					  "directory%s", path, recursive ? " or below" : " (-R reads "
					  "its subdirectories too)");
		return 0;
	}
	if (push(out, n, &cap, eo_strdup0(path)) != 0)
		return eo_err_set(err, EO_ENOMEM, "out of memory");
	return 0;
}

int validate_main(int argc, char **argv)
{
	struct validate_opts o;
	struct eo_err err;
	bool help = false;
	if (validate_parse(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("validate", "%s", err.msg);
	if (help) {
		pl_help(stdout, "validate");
		return PL_EXIT_OK;
	}
	pl_setup_logging(&o.g);
	struct olds olds = {0};
	int rc = load_olds(&o, &olds);
	struct validate_counts n = {0};
	if (rc == 0 && !validate_has_schema())
		pl_warn("this build of kubectl-etcd carries no CRD schema: unknown fields are not "
			"checked, only the admission rules");
	for (int f = 0; rc == 0 && f < o.files.n; f++) {
		char **paths = NULL;
		size_t npaths = 0;
		if (validate_expand(o.files.v[f], o.recursive, &paths, &npaths, &err) != 0) {
			rc = pl_fail("%s", err.msg);
			break;
		}
		for (size_t i = 0; i < npaths; i++) {
			const char *path = paths[i];
			const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
			char *buf = NULL;
			size_t len = 0;
			if (rc == 0 && read_input(path, &buf, &len, &err) != 0)
				rc = pl_fail("%s: %s", shown, err.msg);
			if (rc == 0) {
				struct eo_buf out = {0};
				int r = validate_source(shown, buf, len, olds.v, olds.n, o.g.namespace,
							&out, &n, &err);
				if (out.len)
					fwrite(out.data, 1, out.len, stdout);
				eo_buf_free(&out);
				if (r != 0)
					rc = pl_fail("%s (not YAML or JSON)", err.msg);
			}
			free(buf);
			free(paths[i]);
		}
		free(paths);
	}
	olds_free(&olds);
	validate_schema_free();
	if (rc != 0)
		return rc;
	fprintf(stderr, "%d OK, %d refused, %d skipped\n", n.ok, n.refused, n.skipped);
	return n.refused ? PL_EXIT_FAIL : PL_EXIT_OK;
}
