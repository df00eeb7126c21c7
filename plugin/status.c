/*
 * status.c — `kubectl etcd status [NAME]`: the clusters of a namespace as a
 * table, or one cluster in detail with its recent Events; `-o json|yaml`
 * prints the objects as the API server has them; `--watch` redraws on every
 * change.
 *
 * The one idea: read, don't probe. Everything shown comes from the
 * EtcdCluster objects (what the controller publishes in .status) and the
 * Events recorded about them, fetched with one request each (the Events
 * fetched by name, in parallel with the object, and kept only when their
 * involvedObject.uid is the object's: a deleted and re-created cluster of
 * the same name is another object, and its predecessor's Events are not its); `--watch`
 * follows the same objects through an informer (list, then watch, resuming
 * and relisting as needed), so the view survives API server restarts and
 * expired watches without the plugin knowing about them. Nothing the server
 * sent reaches the terminal raw: the views make it safe (render.c), -o yaml
 * has libyaml's escapes, and -o json is passed through term_json_append.
 */
#include "plugin.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "render.h"
#include "term.h"
#include "yamljson.h"

size_t status_flags(struct status_opts *o, struct cli_flag *out, size_t max)
{
	const struct cli_flag own[] = {
		CLI_FLAG("output", 'o', CLI_STR, &o->output, "FORMAT", "json or yaml (the objects as the API server has them), wide, name or jsonpath=TEMPLATE"),
		CLI_FLAG("watch", 'w', CLI_BOOL, &o->watch, NULL, "keep watching: show the view again after every change (Ctrl-C ends)"),
	};
	return pl_own_then_global_flags(own, EO_ARRAY_LEN(own), &o->g, out, max);
}

int status_parse(int argc, char **argv, struct status_opts *o, bool *help, struct eo_err *err)
{
	memset(o, 0, sizeof(*o));
	pl_global_init(&o->g);
	struct cli_flag flags[CLI_MAX_FLAGS];
	size_t n = status_flags(o, flags, CLI_MAX_FLAGS);
	struct cli_parsed p;
	if (cli_parse(argc, argv, flags, n, &p, err) != 0)
		return -1;
	*help = p.help;
	if (p.help)
		return 0;
	if (p.npos > 1)
		return eo_err_set(err, EO_EINVAL, "status takes at most one cluster NAME, got %d "
				  "arguments", p.npos);
	o->name = p.npos ? p.pos[0] : NULL;
	if (pl_output_jsonpath(o->output, &o->jsonpath, err) != 0)
		return -1;
	if (o->output && !o->jsonpath && strcmp(o->output, "json") != 0 &&
	    strcmp(o->output, "yaml") != 0 && strcmp(o->output, "wide") != 0 &&
	    strcmp(o->output, "name") != 0)
		return eo_err_set(err, EO_EINVAL,
				  "unknown output format \"%s\": use -o json, yaml, wide, name or "
				  "jsonpath=… (or no -o for the readable view)", o->output);
	if (o->name && o->g.all_namespaces)
		return eo_err_set(err, EO_EINVAL,
				  "a cluster NAME cannot be looked up across all namespaces: drop "
				  "-A/--all-namespaces and name the namespace with -n");
	return 0;
}

struct view {
	struct status_opts *o;
	struct kube_client *kc;
	const char *ns;
	bool color, tty;
	int renders;
};

static int64_t now_s(void)
{
	return eo_wall_ms() / 1000;
}

static int print_doc(const struct view *v, json_object *obj)
{
	struct eo_buf b = {0};
	if (v->o->jsonpath) {
		struct eo_err err;
		int rc = pl_jsonpath(v->o->jsonpath, obj, &b, &err);
		if (rc == 0 && b.data)
			fwrite(b.data, 1, b.len, stdout);
		eo_buf_free(&b);
		return rc == 0 ? 0 : pl_fail("%s", err.msg);
	}
	if (strcmp(v->o->output, "json") == 0) {
		/* json-c escapes C0 controls but writes DEL, C1 and bad UTF-8 raw. */
		const char *text = json_object_to_json_string_ext(
			obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (term_json_append(&b, text) != 0 || eo_buf_append(&b, "\n", 1) != 0) {
			eo_buf_free(&b);
			return pl_fail("out of memory");
		}
		fwrite(b.data, 1, b.len, stdout);
		eo_buf_free(&b);
		return 0;
	}
	struct eo_err err;
	if (v->renders > 0)
		fputs("---\n", stdout);
	if (yaml_emit(obj, &b, &err) != 0) {
		eo_buf_free(&b);
		return pl_fail("cannot print YAML: %s", err.msg);
	}
	fwrite(b.data, 1, b.len, stdout);
	eo_buf_free(&b);
	return 0;
}

/* Events about one EtcdCluster. kube-apiserver filters them with a field
 * selector on involvedObject; a server that does not know that selector
 * (400) gets the namespace's Events filtered here instead. */
static json_object *fetch_events(const struct view *v, const char *name, char *note, size_t size)
{
	char sel[600];
	snprintf(sel, sizeof(sel), "involvedObject.kind=EtcdCluster,involvedObject.name=%s", name);
	char *base = kube_list_path(&KUBE_EVENTS, v->ns, NULL);
	char *esc = kube_escape(sel);
	char *path = eo_strdupf("%s?fieldSelector=%s", base, esc);
	free(esc);
	json_object *out = NULL;
	struct eo_err err;
	int64_t t0 = eo_now_ms();
	int rc = kube_request(v->kc, "GET", path, NULL, NULL, &out, &err);
	pl_log_call("LIST", "events", t0, rc, &err);
	free(path);
	if (rc != 0 && err.code == EO_HTTP_BAD_REQUEST) {
		t0 = eo_now_ms();
		rc = kube_request(v->kc, "GET", base, NULL, NULL, &out, &err);
		pl_log_call("LIST", "events (no field selector)", t0, rc, &err);
	}
	free(base);
	note[0] = '\0';
	if (rc != 0) {
		snprintf(note, size, "could not read Events: %s", err.msg);
		return NULL;
	}
	json_object *items = json_at(out, "items");
	json_object *mine = json_object_new_array();
	size_t n = items && json_object_is_type(items, json_type_array)
			   ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(items, i);
		if (strcmp(json_opt_str(e, "involvedObject.name", ""), name) == 0 &&
		    strcmp(json_opt_str(e, "involvedObject.kind", ""), "EtcdCluster") == 0)
			json_object_array_add(mine, json_object_get(e));
	}
	json_object_put(out);
	return mine;
}

json_object *status_events_of(json_object *events, json_object *obj)
{
	const char *uid = json_opt_str(obj, "metadata.uid", "");
	json_object *mine = json_object_new_array();
	size_t n = json_object_is_type(events, json_type_array) ? json_object_array_length(events) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(events, i);
		if (strcmp(json_opt_str(e, "involvedObject.uid", ""), uid) == 0)
			json_object_array_add(mine, json_object_get(e));
	}
	return mine;
}

static void clear_screen(const struct view *v)
{
	if (v->renders == 0)
		return;
	if (v->tty)
		fputs("\033[H\033[2J", stdout);
	else
		fputs("\n", stdout);
}

/* Events fetched beside the object's GET, in a thread of their own: both
 * requests are in flight at once, so the view costs one round trip. */
struct prefetch {
	const struct view *v;
	pthread_t thread;
	bool started;
	json_object *events;
	char note[300];
};

static void *prefetch_run(void *arg)
{
	struct prefetch *pf = arg;
	pf->events = fetch_events(pf->v, pf->v->o->name, pf->note, sizeof(pf->note));
	return NULL;
}

static void prefetch_start(struct prefetch *pf, const struct view *v)
{
	memset(pf, 0, sizeof(*pf));
	pf->v = v;
	pf->started = pthread_create(&pf->thread, NULL, prefetch_run, pf) == 0;
	if (!pf->started) /* no thread: fetch them here, one round trip later */
		prefetch_run(pf);
}

/* Join the thread (if any); the events become the caller's. */
static void prefetch_wait(struct prefetch *pf)
{
	if (pf->started)
		pthread_join(pf->thread, NULL);
	pf->started = false;
}

/* -o json|yaml: the object as it is. */
static int show_doc(struct view *v, json_object *obj)
{
	int rc = print_doc(v, obj);
	v->renders++;
	fflush(stdout);
	return rc;
}

/* The screen replaced by what a renderer wrote into b (rc: its result); b freed. */
static int show_rendered(struct view *v, struct eo_buf *b, int rc)
{
	clear_screen(v);
	if (rc == 0)
		fwrite(b->data, 1, b->len, stdout);
	eo_buf_free(b);
	v->renders++;
	fflush(stdout);
	return rc == 0 ? 0 : pl_fail("out of memory");
}

/* -o json or yaml: the objects themselves. */
static bool doc_output(const struct status_opts *o)
{
	return o->output && (o->jsonpath || !strcmp(o->output, "json") || !strcmp(o->output, "yaml"));
}

static int show_list(struct view *v, json_object *list);

/* pf: events fetched already (NULL: fetch them now). */
static int show_one(struct view *v, json_object *obj, struct prefetch *pf)
{
	if (doc_output(v->o))
		return show_doc(v, obj);
	if (v->o->output) { /* wide or name: the table's one row, as kubectl get NAME */
		json_object *list = json_object_new_object();
		json_object *items = json_object_new_array();
		json_object_array_add(items, json_object_get(obj));
		json_object_object_add(list, "items", items);
		int rc = show_list(v, list);
		json_object_put(list);
		return rc;
	}
	char note[300] = "";
	json_object *events;
	if (pf && pf->v) {
		prefetch_wait(pf);
		events = pf->events;
		pf->events = NULL;
		eo_strlcpy(note, pf->note, sizeof(note));
	} else {
		events = fetch_events(v, v->o->name, note, sizeof(note));
	}
	json_object *mine = events ? status_events_of(events, obj) : NULL;
	json_object_put(events);
	struct eo_buf b = {0};
	int rc = render_cluster_detail(obj, mine, note[0] ? note : NULL, now_s(), v->color, &b);
	json_object_put(mine);
	return show_rendered(v, &b, rc);
}

static int show_list(struct view *v, json_object *list)
{
	if (doc_output(v->o))
		return show_doc(v, list);
	struct eo_buf b = {0};
	int rc = v->o->output && !strcmp(v->o->output, "name")
			 ? render_cluster_names(list, &b)
			 : render_cluster_table_ex(list, v->o->g.all_namespaces,
						   v->o->output != NULL, v->ns, now_s(), v->color, &b);
	return show_rendered(v, &b, rc);
}

/* --watch: the informer's view of the namespace, kept as "ns/name" → object. */
struct watching {
	struct view *v;
	json_object *objs;
	bool synced, gone;
	char last_rv[64];
	int rc;
};

static int on_event(enum kube_event ev, json_object *obj, void *ud)
{
	struct watching *w = ud;
	struct view *v = w->v;
	if (ev == KUBE_EV_SYNCED) {
		bool first = !w->synced;
		w->synced = true;
		if (v->o->name && !json_object_object_get_ex(w->objs, v->o->name, NULL)) {
			w->gone = true;
			return 1;
		}
		if (first && !v->o->name)
			return 0; /* the list just shown, delivered again */
	} else {
		const char *name = json_opt_str(obj, "metadata.name", "");
		if (v->o->name && strcmp(name, v->o->name) != 0)
			return 0;
		char key[600];
		if (v->o->name)
			snprintf(key, sizeof(key), "%s", name);
		else
			snprintf(key, sizeof(key), "%s/%s",
				 json_opt_str(obj, "metadata.namespace", ""), name);
		if (ev == KUBE_EV_DELETED) {
			json_object_object_del(w->objs, key);
			if (v->o->name) {
				w->gone = true;
				return 1;
			}
		} else {
			json_object_object_add(w->objs, key, json_object_get(obj));
		}
		if (!w->synced)
			return 0;
	}
	if (v->o->name) {
		json_object *o = NULL;
		json_object_object_get_ex(w->objs, v->o->name, &o);
		const char *rv = json_opt_str(o, "metadata.resourceVersion", "");
		if (strcmp(rv, w->last_rv) == 0)
			return 0; /* the relist of an object already shown */
		eo_strlcpy(w->last_rv, rv, sizeof(w->last_rv));
		w->rc = show_one(v, o, NULL);
		return 0;
	}
	json_object *list = json_object_new_object();
	json_object *items = json_object_new_array();
	json_object_object_foreach(w->objs, k, val)
	{
		(void)k;
		json_object_array_add(items, json_object_get(val));
	}
	json_object_object_add(list, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(list, "kind", json_object_new_string("List"));
	json_object_object_add(list, "items", items);
	w->rc = show_list(v, list);
	json_object_put(list);
	return 0;
}

static int watch_loop(struct view *v, json_object *first)
{
	struct watching w = {.v = v, .objs = json_object_new_object()};
	if (v->o->name && first) {
		json_object_object_add(w.objs, v->o->name, json_object_get(first));
		eo_strlcpy(w.last_rv, json_opt_str(first, "metadata.resourceVersion", ""),
			   sizeof(w.last_rv));
	}
	struct eo_err err;
	int rc = kube_informer_run(v->kc, &KUBE_ETCDCLUSTERS,
				   v->o->g.all_namespaces ? NULL : v->ns, NULL, on_event, &w,
				   &pl_interrupted, &err);
	json_object_put(w.objs);
	if (w.gone) {
		fprintf(stderr, "etcdcluster \"%s\" was deleted from namespace \"%s\"\n", v->o->name,
			v->ns);
		return PL_EXIT_FAIL;
	}
	if (pl_interrupted)
		return PL_EXIT_INTERRUPTED;
	if (rc != 0)
		return pl_fail("watching etcdclusters: %s", err.msg);
	return w.rc;
}

int status_main(int argc, char **argv)
{
	struct status_opts o;
	struct eo_err err;
	bool help = false;
	if (status_parse(argc, argv, &o, &help, &err) != 0)
		return pl_usage_error("status", "%s", err.msg);
	if (help) {
		pl_help(stdout, "status");
		return PL_EXIT_OK;
	}
	pl_setup_logging(&o.g);
	if (o.watch)
		pl_catch_interrupts();
	struct kube_client *kc = NULL;
	if (pl_connect(&o.g, &kc, &err) != 0)
		return pl_fail("%s", err.msg);
	struct view v = {.o = &o, .kc = kc, .ns = pl_namespace(kc),
			 .color = pl_color(&o.g, stdout), .tty = isatty(STDOUT_FILENO) == 1};
	int rc;
	json_object *obj = NULL;
	int64_t t0 = eo_now_ms();
	if (o.name) {
		struct prefetch pf = {0};
		if (!o.output)
			prefetch_start(&pf, &v);
		int got = kube_get(kc, &KUBE_ETCDCLUSTERS, v.ns, o.name, &obj, &err);
		pl_log_call("GET", "etcdcluster", t0, got, &err);
		rc = got != 0 ? pl_api_fail(&err, o.name, v.ns) : show_one(&v, obj, &pf);
		prefetch_wait(&pf);
		json_object_put(pf.events);
	} else {
		int got = kube_list(kc, &KUBE_ETCDCLUSTERS, o.g.all_namespaces ? NULL : v.ns, NULL,
				    &obj, &err);
		pl_log_call("LIST", "etcdclusters", t0, got, &err);
		rc = got != 0 ? pl_api_fail(&err, NULL, v.ns) : show_list(&v, obj);
	}
	if (rc == 0 && o.watch)
		rc = watch_loop(&v, obj);
	json_object_put(obj);
	kube_client_free(kc);
	return rc;
}
