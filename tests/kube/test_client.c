/* The Kubernetes client against kubesim (tests/kube/with_kubesim.sh starts
 * it and exports KUBECONFIG, STOW_KUBESIM_URL and STOW_KUBESIM_TOKEN):
 * discovery (with a CRD appearing), create with generateName, get, list
 * with label and field selectors, paging over 1,000 objects, update
 * conflicts, merge/JSON/strategic patches, status writes, delete with
 * propagation, retries on 429 (Retry-After), 500 and dropped connections,
 * persistent failures, a wrong token, and the User-Agent. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/kube_internal.h"
#include "util/err.h"

static stow_kube_config *cfg;
static stow_kube *kc;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define CHECK(expr)                                                            \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ != 0)                                                  \
			fail_msg("%s = %d (%s): %s", #expr, rc_,               \
				 stow_err_name(rc_), stow_err_msg());          \
	} while (0)

static int setup_all(void **state)
{
	(void)state;
	if (stow_kube_config_load(&cfg, NULL) != 0) {
		fprintf(stderr, "kubeconfig: %s\n", stow_err_msg());
		return -1;
	}
	/* The test creates ~1,100 objects; the default 20 QPS would make it
	 * take a minute. The limiter itself is checked below. */
	cfg->qps = 1000;
	cfg->burst = 1000;
	if (stow_kube_new(&kc, cfg) != 0) {
		fprintf(stderr, "client: %s\n", stow_err_msg());
		return -1;
	}
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	stow_kube_free(kc);
	stow_kube_config_free(cfg);
	return 0;
}

static void control(const char *method, const char *path, const char *body,
		    json_t **out)
{
	CHECK(stow_kube_request(kc, method, path,
				body ? "application/json" : NULL, body,
				body ? strlen(body) : 0, out, NULL));
}

static void clear_requests(void)
{
	control("DELETE", "/kubesim/requests", NULL, NULL);
}

/* How many logged requests match method and path (and, if given, contain
 * `query_part` in their query). */
static size_t count_requests(const char *method, const char *path,
			     const char *query_part)
{
	json_t *log = NULL, *r;
	size_t i, n = 0;

	control("GET", "/kubesim/requests", NULL, &log);
	json_array_foreach(log, i, r)
	{
		const char *m = json_string_value(json_object_get(r, "method"));
		const char *p = json_string_value(json_object_get(r, "path"));
		const char *q = json_string_value(json_object_get(r, "query"));

		if (m && p && !strcmp(m, method) && !strcmp(p, path) &&
		    (!query_part || (q && strstr(q, query_part))))
			n++;
	}
	json_decref(log);
	return n;
}

static void add_fault(const char *json);

static const stow_kube_resource *res(const char *name)
{
	const stow_kube_resource *r = NULL;

	CHECK(stow_kube_resource_lookup(kc, name, &r));
	return r;
}

static void ensure_namespace(const char *ns)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind",
			      "Namespace", "metadata", "name", ns);
	int rc = stow_kube_create(kc, res("namespaces"), NULL, o, NULL);

	json_decref(o);
	if (rc != 0 && rc != STOW_EEXIST)
		fail_msg("namespace %s: %s", ns, stow_err_msg());
}

static json_t *configmap(const char *name, const char *labels_json)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
		      "ConfigMap", "metadata", "name", name, "data", "k", "v");

	if (labels_json)
		json_object_set_new(json_object_get(o, "metadata"), "labels",
				    json_loads(labels_json, 0, NULL));
	return o;
}

static const char *name_of(json_t *o)
{
	return json_string_value(
	    json_object_get(json_object_get(o, "metadata"), "name"));
}

static const char *rv_of(json_t *o)
{
	return json_string_value(
	    json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

/* ---- discovery ---------------------------------------------------------- */

static void test_discovery(void **state)
{
	const stow_kube_resource *const *all;
	const stow_kube_resource *pods, *r;
	size_t n;

	(void)state;
	CHECK(stow_kube_discover(kc, false));
	pods = res("pods");
	assert_string_equal(pods->group, "");
	assert_string_equal(pods->version, "v1");
	assert_string_equal(pods->kind, "Pod");
	assert_true(pods->namespaced);
	assert_true(pods->has_status);
	assert_true(res("pod") == pods);
	assert_true(res("po") == pods);
	assert_true(res("Pod") == pods);
	r = res("deployments.apps");
	assert_string_equal(r->group, "apps");
	assert_string_equal(r->kind, "Deployment");
	assert_true(res("deploy") == r);
	assert_true(res("deployments.v1.apps") == r);
	CHECK(stow_kube_resource_for_kind(kc, "apps/v1", "Deployment", &r));
	assert_string_equal(r->resource, "deployments");
	r = res("nodes");
	assert_false(r->namespaced);
	r = res("cm");
	assert_string_equal(r->resource, "configmaps");
	assert_false(r->has_status);
	{
		bool found = false;

		for (const char *const *v = r->verbs; *v; v++)
			found |= !strcmp(*v, "list");
		assert_true(found);
	}
	CHECK(stow_kube_resources_preferred(kc, &all, &n));
	assert_true(n > 20);
	for (size_t i = 0; i < n; i++) {
		assert_null(strchr(all[i]->resource, '/'));
		assert_true(all[i]->preferred);
	}
	assert_int_equal(stow_kube_resource_lookup(kc, "nosuchthings", &r),
			 STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "nosuchthings"));
	/* That miss refreshed the cache; nothing had changed, so the old
	 * generation is still the current one. */
	assert_true(res("pods") == pods);
	assert_int_equal(stow_kube_resource_for_kind(kc, "v1", "Nope", &r),
			 STOW_ENOTFOUND);
}

static const char widget_crd[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\","
    "\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},"
    "\"spec\":{\"group\":\"example.com\",\"scope\":\"Namespaced\","
    "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
    "\"kind\":\"Widget\",\"shortNames\":[\"wd\"]},"
    "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
    "\"subresources\":{\"status\":{}},"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

static void test_crd_status_subresource(void **state)
{
	const stow_kube_resource *crds, *w, *again;
	json_t *crd = json_loads(widget_crd, 0, NULL), *obj, *out = NULL;
	json_t *st = NULL;
	const char *rv;

	(void)state;
	CHECK(stow_kube_discover(kc, false));
	crds = res("customresourcedefinitions.apiextensions.k8s.io");
	assert_false(crds->namespaced);
	CHECK(stow_kube_create(kc, crds, NULL, crd, NULL));
	json_decref(crd);
	/* Not in the cache yet: the miss refreshes it. */
	w = res("widgets.example.com");
	assert_string_equal(w->kind, "Widget");
	assert_string_equal(w->group, "example.com");
	assert_true(w->namespaced);
	assert_true(w->has_status);
	assert_true(res("wd") == w);
	CHECK(stow_kube_resource_for_kind(kc, "example.com/v1", "Widget",
					  &again));
	assert_true(again == w);

	ensure_namespace("crd");
	obj = json_pack("{s:s,s:s,s:{s:s},s:{s:i}}", "apiVersion",
			"example.com/v1", "kind", "Widget", "metadata", "name",
			"w1", "spec", "size", 3);
	CHECK(stow_kube_create(kc, w, "crd", obj, &out));
	json_decref(obj);
	/* Status write through PUT .../status. */
	json_object_set_new(out, "status",
			    json_pack("{s:s}", "phase", "Ready"));
	CHECK(stow_kube_update(kc, w, "crd", out, true, &st));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(st, "status"), "phase")),
			    "Ready");
	rv = rv_of(st);
	assert_non_null(rv);
	assert_string_not_equal(rv, rv_of(out));
	json_decref(out);
	json_decref(st);
	/* And through PATCH .../status. */
	CHECK(stow_kube_patch(kc, w, "crd", "w1", STOW_KUBE_PATCH_MERGE,
			      "{\"status\":{\"phase\":\"Done\"}}", true, &st));
	json_decref(st);
	CHECK(stow_kube_get(kc, w, "crd", "w1", &out));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(out, "status"), "phase")),
			    "Done");
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(out, "spec"), "size")),
			 3);
	json_decref(out);
}

/* A group-version that fails (an aggregated API whose backend is down) is
 * left out of a pass instead of failing it; the next miss brings it back.
 * Pointers from older passes stay valid. */
static void test_discovery_partial_failure(void **state)
{
	const stow_kube_resource *pods = res("pods"), *jobs = NULL;
	const stow_kube_resource *const *all;
	size_t n;

	(void)state;
	add_fault("{\"method\":\"GET\",\"path_regex\":\"^/apis/batch/v1$\","
		  "\"status\":503,\"count\":2}");
	CHECK(stow_kube_discover(kc, true));
	CHECK(stow_kube_resources_preferred(kc, &all, &n));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i]->group, "batch"))
			fail_msg("batch/%s listed although /apis/batch/v1 "
				 "failed",
				 all[i]->resource);
	assert_string_equal(pods->resource, "pods");
	CHECK(stow_kube_resource_lookup(kc, "jobs", &jobs));
	assert_string_equal(jobs->group, "batch");
	assert_string_equal(pods->kind, "Pod");
	/* A namespaced resource listed across all namespaces. */
	{
		json_t *l = NULL;

		CHECK(stow_kube_list(kc, res("namespaces"), NULL, NULL, &l));
		assert_true(json_array_size(json_object_get(l, "items")) >= 1);
		json_decref(l);
		CHECK(stow_kube_list(kc, res("serviceaccounts"), NULL,
				     &(stow_kube_list_opts){.limit = 1}, &l));
		json_decref(l);
	}
}

/* ---- create, get, list ------------------------------------------------- */

static void test_create_generate_name_get(void **state)
{
	const stow_kube_resource *cm;
	json_t *o, *made = NULL, *got = NULL;
	const char *name;

	(void)state;
	cm = res("configmaps");
	o = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
		      "ConfigMap", "metadata", "generateName", "gen-", "data",
		      "a", "b");
	CHECK(stow_kube_create(kc, cm, "default", o, &made));
	name = name_of(made);
	assert_non_null(name);
	assert_true(strncmp(name, "gen-", 4) == 0 && strlen(name) > 4);
	CHECK(stow_kube_get(kc, cm, "default", name, &got));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(got, "metadata"), "uid")),
			    json_string_value(json_object_get(
				json_object_get(made, "metadata"), "uid")));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(got, "data"), "a")),
			    "b");
	/* The same name again: STOW_EEXIST. */
	json_object_set_new(json_object_get(o, "metadata"), "name",
			    json_string(name));
	assert_int_equal(stow_kube_create(kc, cm, "default", o, NULL),
			 STOW_EEXIST);
	assert_non_null(strstr(stow_err_msg(), name));
	/* A namespace in the object that contradicts the argument. */
	json_object_set_new(json_object_get(o, "metadata"), "namespace",
			    json_string("other"));
	assert_int_equal(stow_kube_create(kc, cm, "default", o, NULL),
			 STOW_EINVAL);
	json_decref(got);
	assert_int_equal(stow_kube_get(kc, cm, "default", "absent-cm", &got),
			 STOW_ENOTFOUND);
	assert_null(got);
	assert_non_null(strstr(stow_err_msg(), "absent-cm"));
	json_decref(o);
	json_decref(made);
	json_decref(got);
}

static char *names_of(json_t *list)
{
	static char buf[1024];
	json_t *items = json_object_get(list, "items"), *it;
	const char *sorted[64];
	size_t i, n = 0;

	json_array_foreach(items, i, it)
	{
		if (n < 64)
			sorted[n++] = name_of(it);
	}
	/* Insertion sort: the order of a list is the server's business. */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a;
		     b > 0 && strcmp(sorted[b - 1], sorted[b]) > 0; b--) {
			const char *t = sorted[b];

			sorted[b] = sorted[b - 1];
			sorted[b - 1] = t;
		}
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			 i ? "," : "", sorted[i]);
	return buf;
}

static void expect_list(const char *labels, const char *fields,
			const char *want)
{
	stow_kube_list_opts o = {.label_selector = labels,
				 .field_selector = fields};
	json_t *l = NULL;

	CHECK(stow_kube_list(kc, res("configmaps"), "sel", &o, &l));
	if (strcmp(names_of(l), want) != 0)
		fail_msg("labels \"%s\" fields \"%s\": got \"%s\", want \"%s\"",
			 labels ? labels : "", fields ? fields : "",
			 names_of(l), want);
	/* Items carry apiVersion and kind. */
	if (json_array_size(json_object_get(l, "items")))
		assert_string_equal(
		    json_string_value(json_object_get(
			json_array_get(json_object_get(l, "items"), 0),
			"kind")),
		    "ConfigMap");
	json_decref(l);
}

static void test_selectors(void **state)
{
	static const struct {
		const char *name, *labels;
	} objs[] = {
	    {"s1", "{\"app\":\"a\",\"tier\":\"web\"}"},
	    {"s2", "{\"app\":\"b\",\"tier\":\"db\"}"},
	    {"s3", "{\"app\":\"c\",\"env\":\"prod\"}"},
	    {"s4", "{\"env\":\"dev\"}"},
	    {"s5", NULL},
	};
	const stow_kube_resource *cm = res("configmaps");

	(void)state;
	ensure_namespace("sel");
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		json_t *o = configmap(objs[i].name, objs[i].labels);

		CHECK(stow_kube_create(kc, cm, "sel", o, NULL));
		json_decref(o);
	}
	expect_list(NULL, NULL, "s1,s2,s3,s4,s5");
	expect_list("app=a", NULL, "s1");
	expect_list("app==a", NULL, "s1");
	expect_list("app!=a", NULL, "s2,s3,s4,s5");
	expect_list("app in (a, b)", NULL, "s1,s2");
	expect_list("app notin (a,b)", NULL, "s3,s4,s5");
	expect_list("env", NULL, "s3,s4");
	expect_list("!env", NULL, "s1,s2,s5");
	expect_list("app,env=prod", NULL, "s3");
	expect_list("tier=web,app=b", NULL, "");
	expect_list(NULL, "metadata.name=s4", "s4");
	expect_list(NULL, "metadata.name!=s4", "s1,s2,s3,s5");
	expect_list("env", "metadata.namespace=sel,metadata.name!=s3", "s4");
	/* The selector went out escaped, as one query value. */
	clear_requests();
	expect_list("app in (a, b)", NULL, "s1,s2");
	assert_int_equal(count_requests("GET",
					"/api/v1/namespaces/sel/"
					"configmaps",
					"labelSelector=app%20in%20%28a%2C%20b%"
					"29"),
			 1);
	assert_int_equal(stow_kube_list(kc, cm, "sel",
					&(stow_kube_list_opts){.label_selector =
								   "app in (a"},
					&(json_t *){NULL}),
			 STOW_EINVAL);
}

/* ---- paging over 1,000 objects ----------------------------------------- */

typedef struct maker {
	int from, to;
	int rc;
	char msg[256];
} maker;

static void *make_many(void *arg)
{
	maker *m = arg;
	const stow_kube_resource *cm = NULL;

	m->rc = stow_kube_resource_lookup(kc, "configmaps", &cm);
	for (int i = m->from; i < m->to && m->rc == 0; i++) {
		char name[32], labels[64];
		json_t *o;

		snprintf(name, sizeof(name), "page-%04d", i);
		snprintf(labels, sizeof(labels), "{\"batch\":\"b%d\"}", i % 2);
		o = configmap(name, labels);
		m->rc = stow_kube_create(kc, cm, "page", o, NULL);
		json_decref(o);
	}
	if (m->rc)
		snprintf(m->msg, sizeof(m->msg), "%s", stow_err_msg());
	return NULL;
}

typedef struct seen {
	json_t *names;
	size_t count, dups;
} seen;

static int note_item(void *ctx, json_t *item)
{
	seen *s = ctx;
	const char *n = name_of(item);

	s->count++;
	if (!n || json_object_get(s->names, n))
		s->dups++;
	else
		json_object_set_new(s->names, n, json_true());
	return 0;
}

static int stop_at_ten(void *ctx, json_t *item)
{
	(void)item;
	return ++*(int *)ctx == 10 ? 42 : 0;
}

static void test_pagination_1000(void **state)
{
	const stow_kube_resource *cm = res("configmaps");
	pthread_t th[4];
	maker m[4];
	seen s = {json_object(), 0, 0};
	char *rv = NULL;
	json_t *page = NULL;
	const char *cont;
	int stopped = 0;

	(void)state;
	ensure_namespace("page");
	/* Four threads share the client (each gets its own handle). */
	for (int i = 0; i < 4; i++) {
		m[i] = (maker){i * 250, (i + 1) * 250, 0, ""};
		assert_int_equal(pthread_create(&th[i], NULL, make_many, &m[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		if (m[i].rc)
			fail_msg("thread %d: %d %s", i, m[i].rc, m[i].msg);
	}
	clear_requests();
	CHECK(stow_kube_list_each(kc, cm, "page",
				  &(stow_kube_list_opts){.limit = 100},
				  note_item, &s, &rv));
	assert_int_equal(s.count, 1000);
	assert_int_equal(s.dups, 0);
	assert_int_equal(json_object_size(s.names), 1000);
	assert_non_null(rv);
	assert_true(*rv);
	free(rv);
	/* Ten pages: the first without a continue token, nine with. */
	assert_int_equal(count_requests("GET",
					"/api/v1/namespaces/page/"
					"configmaps",
					"limit=100"),
			 10);
	assert_int_equal(count_requests("GET",
					"/api/v1/namespaces/page/"
					"configmaps",
					"continue="),
			 9);
	json_decref(s.names);

	/* One page by hand. */
	CHECK(stow_kube_list(kc, cm, "page",
			     &(stow_kube_list_opts){.limit = 100}, &page));
	assert_int_equal(json_array_size(json_object_get(page, "items")), 100);
	cont = json_string_value(
	    json_object_get(json_object_get(page, "metadata"), "continue"));
	assert_non_null(cont);
	assert_true(*cont);
	json_decref(page);

	/* With a selector, across pages; a callback's nonzero return stops. */
	s = (seen){json_object(), 0, 0};
	CHECK(stow_kube_list_each(
	    kc, cm, "page",
	    &(stow_kube_list_opts){.limit = 70, .label_selector = "batch=b1"},
	    note_item, &s, NULL));
	assert_int_equal(s.count, 500);
	assert_int_equal(s.dups, 0);
	json_decref(s.names);
	assert_int_equal(stow_kube_list_each(kc, cm, "page",
					     &(stow_kube_list_opts){.limit = 3},
					     stop_at_ten, &stopped, NULL),
			 42);
	assert_int_equal(stopped, 10);
}

/* ---- update, patch, delete --------------------------------------------- */

static void test_update_conflict(void **state)
{
	const stow_kube_resource *cm = res("configmaps");
	json_t *o = configmap("conflicted", NULL), *v1 = NULL, *v2 = NULL;

	(void)state;
	CHECK(stow_kube_create(kc, cm, "default", o, &v1));
	json_decref(o);
	json_object_set_new(json_object_get(v1, "data"), "k",
			    json_string("second"));
	CHECK(stow_kube_update(kc, cm, "default", v1, false, &v2));
	assert_string_not_equal(rv_of(v1), rv_of(v2));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(v2, "data"), "k")),
			    "second");
	/* v1 still carries the old resourceVersion. */
	json_object_set_new(json_object_get(v1, "data"), "k",
			    json_string("stale"));
	assert_int_equal(stow_kube_update(kc, cm, "default", v1, false, NULL),
			 STOW_ECONFLICT);
	assert_non_null(strstr(stow_err_msg(), "the object has been modified"));
	assert_non_null(strstr(stow_err_msg(),
			       "PUT /api/v1/namespaces/"
			       "default/configmaps/conflicted"));
	json_decref(v1);
	json_decref(v2);
}

static void test_patches(void **state)
{
	const stow_kube_resource *cm = res("configmaps");
	const stow_kube_resource *dep = res("deployments");
	json_t *o = configmap("patched", NULL), *out = NULL, *d, *cs;

	(void)state;
	CHECK(stow_kube_create(kc, cm, "default", o, NULL));
	json_decref(o);
	CHECK(stow_kube_patch(
	    kc, cm, "default", "patched", STOW_KUBE_PATCH_MERGE,
	    "{\"data\":{\"m\":\"merged\",\"k\":null}}", false, &out));
	d = json_object_get(out, "data");
	assert_string_equal(json_string_value(json_object_get(d, "m")),
			    "merged");
	assert_null(json_object_get(d, "k"));
	json_decref(out);
	CHECK(stow_kube_patch(kc, cm, "default", "patched",
			      STOW_KUBE_PATCH_JSON,
			      "[{\"op\":\"add\",\"path\":\"/data/j\","
			      "\"value\":\"json\"},{\"op\":\"replace\","
			      "\"path\":\"/data/m\",\"value\":\"m2\"}]",
			      false, &out));
	d = json_object_get(out, "data");
	assert_string_equal(json_string_value(json_object_get(d, "j")), "json");
	assert_string_equal(json_string_value(json_object_get(d, "m")), "m2");
	json_decref(out);
	/* A JSON patch whose test fails is the caller's error. */
	assert_int_equal(stow_kube_patch(kc, cm, "default", "patched",
					 STOW_KUBE_PATCH_JSON,
					 "[{\"op\":\"test\",\"path\":\"/data/"
					 "j\",\"value\":\"nope\"}]",
					 false, NULL),
			 STOW_EINVAL);

	/* Strategic merge: containers merge by name. */
	o = json_loads(
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"smp\"},\"spec\":{\"replicas\":1,"
	    "\"selector\":{\"matchLabels\":{\"app\":\"smp\"}},"
	    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"smp\"}},"
	    "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"a:1\"},"
	    "{\"name\":\"b\",\"image\":\"b:1\"}]}}}}",
	    0, NULL);
	CHECK(stow_kube_create(kc, dep, "default", o, NULL));
	json_decref(o);
	CHECK(stow_kube_patch(kc, dep, "default", "smp",
			      STOW_KUBE_PATCH_STRATEGIC,
			      "{\"spec\":{\"template\":{\"spec\":{"
			      "\"containers\":[{\"name\":\"b\",\"image\":"
			      "\"b:2\"}]}}}}",
			      false, &out));
	cs = json_object_get(
	    json_object_get(
		json_object_get(json_object_get(out, "spec"), "template"),
		"spec"),
	    "containers");
	assert_int_equal(json_array_size(cs), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *c = json_array_get(cs, i);
		const char *n = json_string_value(json_object_get(c, "name"));
		const char *img =
		    json_string_value(json_object_get(c, "image"));

		assert_string_equal(img, !strcmp(n, "a") ? "a:1" : "b:2");
	}
	json_decref(out);
	assert_int_equal(stow_kube_patch(kc, cm, "default", "no-such-cm",
					 STOW_KUBE_PATCH_MERGE, "{}", false,
					 NULL),
			 STOW_ENOTFOUND);
}

static void test_delete_propagation(void **state)
{
	const stow_kube_resource *cm = res("configmaps");
	json_t *o, *out = NULL;

	(void)state;
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "del-%d", i);
		o = configmap(name, NULL);
		CHECK(stow_kube_create(kc, cm, "default", o, NULL));
		json_decref(o);
	}
	clear_requests();
	CHECK(stow_kube_delete(kc, cm, "default", "del-0", "Background", &out));
	json_decref(out);
	CHECK(stow_kube_delete(kc, cm, "default", "del-1", "Orphan", NULL));
	CHECK(stow_kube_delete(kc, cm, "default", "del-2", NULL, NULL));
	assert_int_equal(count_requests("DELETE",
					"/api/v1/namespaces/default/"
					"configmaps/del-1",
					"propagationPolicy=Orphan"),
			 1);
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "del-%d", i);
		assert_int_equal(stow_kube_get(kc, cm, "default", name, &out),
				 STOW_ENOTFOUND);
	}
	assert_int_equal(
	    stow_kube_delete(kc, cm, "default", "del-0", NULL, NULL),
	    STOW_ENOTFOUND);
	assert_int_equal(
	    stow_kube_delete(kc, cm, "default", "x", "Sideways", NULL),
	    STOW_EINVAL);

	/* Foreground on a namespace with content: the server answers with
	 * the object (or a Status) and the namespace goes away. */
	ensure_namespace("doomed");
	o = configmap("inside", NULL);
	CHECK(stow_kube_create(kc, cm, "doomed", o, NULL));
	json_decref(o);
	CHECK(stow_kube_delete(kc, res("namespaces"), NULL, "doomed",
			       "Foreground", &out));
	assert_non_null(out);
	json_decref(out);
	for (int i = 0; i < 100; i++) {
		if (stow_kube_get(kc, res("ns"), NULL, "doomed", &out) ==
		    STOW_ENOTFOUND)
			break;
		json_decref(out);
		out = NULL;
		usleep(50000);
	}
	assert_int_equal(stow_kube_get(kc, res("ns"), NULL, "doomed", &out),
			 STOW_ENOTFOUND);
}

/* ---- retries and failures ---------------------------------------------- */

static void add_fault(const char *json)
{
	control("POST", "/kubesim/faults", json, NULL);
}

static void test_retry_429_retry_after(void **state)
{
	const stow_kube_resource *cm = res("configmaps");
	json_t *o = configmap("busy", NULL), *out = NULL;
	double t0, took;

	(void)state;
	CHECK(stow_kube_create(kc, cm, "default", o, NULL));
	json_decref(o);
	add_fault("{\"method\":\"GET\",\"path_regex\":\"^/api/v1/namespaces/"
		  "default/configmaps/busy$\",\"status\":429,"
		  "\"retry_after\":1,\"count\":1}");
	clear_requests();
	t0 = now_s();
	CHECK(stow_kube_get(kc, cm, "default", "busy", &out));
	took = now_s() - t0;
	assert_string_equal(name_of(out), "busy");
	json_decref(out);
	if (took < 0.95)
		fail_msg("the retry came after %.3f s, before Retry-After",
			 took);
	assert_true(took < 5);
	assert_int_equal(count_requests("GET",
					"/api/v1/namespaces/default/"
					"configmaps/busy",
					NULL),
			 2);
}

static void test_retry_500_and_drop(void **state)
{
	const stow_kube_resource *cm = res("configmaps");
	json_t *o = configmap("flaky", NULL), *out = NULL;

	(void)state;
	CHECK(stow_kube_create(kc, cm, "default", o, NULL));
	json_decref(o);
	add_fault("{\"method\":\"GET\",\"path_regex\":\"/configmaps/flaky$\","
		  "\"status\":500,\"count\":2}");
	clear_requests();
	CHECK(stow_kube_get(kc, cm, "default", "flaky", &out));
	json_decref(out);
	assert_int_equal(count_requests("GET",
					"/api/v1/namespaces/default/"
					"configmaps/flaky",
					NULL),
			 3);
	/* A connection closed without a reply is retried too. */
	add_fault("{\"method\":\"GET\",\"path_regex\":\"/configmaps/flaky$\","
		  "\"status\":0,\"drop\":true,\"count\":1}");
	CHECK(stow_kube_get(kc, cm, "default", "flaky", &out));
	json_decref(out);
	/* 4xx other than 429 are not retried. */
	clear_requests();
	add_fault("{\"method\":\"GET\",\"path_regex\":\"/configmaps/flaky$\","
		  "\"status\":400,\"count\":5,\"message\":\"bad one\"}");
	assert_int_equal(stow_kube_get(kc, cm, "default", "flaky", &out),
			 STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "bad one"));
	assert_int_equal(count_requests("GET",
					"/api/v1/namespaces/default/"
					"configmaps/flaky",
					NULL),
			 1);
	control("DELETE", "/kubesim/faults", NULL, NULL);
}

static void test_persistent_500(void **state)
{
	stow_kube *k2 = NULL;
	stow_kube_config *c2 = NULL;
	json_t *out = NULL;
	double t0, took;

	(void)state;
	CHECK(stow_kube_config_dup(&c2, cfg));
	c2->timeout_ms = 3000;
	CHECK(stow_kube_new(&k2, c2));
	add_fault("{\"method\":\"GET\",\"path_regex\":\"/configmaps/doomed-"
		  "cm$\",\"status\":503,\"count\":1000,"
		  "\"message\":\"storage is on fire\"}");
	t0 = now_s();
	assert_int_equal(stow_kube_request(k2, "GET",
					   "/api/v1/namespaces/default/"
					   "configmaps/doomed-cm",
					   NULL, NULL, 0, &out, NULL),
			 STOW_EIO);
	took = now_s() - t0;
	/* The raw call hands out the last Status. */
	assert_non_null(out);
	assert_string_equal(json_string_value(json_object_get(out, "message")),
			    "storage is on fire");
	json_decref(out);
	assert_non_null(strstr(stow_err_msg(), "storage is on fire"));
	assert_non_null(strstr(stow_err_msg(), "gave up after"));
	assert_non_null(strstr(stow_err_msg(), "doomed-cm"));
	assert_true(took < 4.5);
	control("DELETE", "/kubesim/faults", NULL, NULL);
	stow_kube_free(k2);
	stow_kube_config_free(c2);
}

static void test_wrong_token(void **state)
{
	stow_kube *k2 = NULL;
	stow_kube_config *c2 = NULL;
	json_t *out = NULL;
	const stow_kube_resource *r;

	(void)state;
	CHECK(stow_kube_config_dup(&c2, cfg));
	free(c2->token);
	c2->token = strdup("not-the-token");
	CHECK(stow_kube_new(&k2, c2));
	assert_int_equal(
	    stow_kube_get(k2, res("configmaps"), "default", "busy", &out),
	    STOW_EDENIED);
	assert_non_null(strstr(stow_err_msg(), "Unauthorized"));
	assert_int_equal(stow_kube_resource_lookup(k2, "pods", &r),
			 STOW_EDENIED);
	stow_kube_free(k2);
	stow_kube_config_free(c2);
}

static void test_user_agent_and_rate_limit(void **state)
{
	json_t *log = NULL, *r, *out = NULL;
	stow_kube *k2 = NULL;
	stow_kube_config *c2 = NULL;
	bool ua_seen = false;
	size_t i;
	double t0, took;

	(void)state;
	clear_requests();
	CHECK(stow_kube_request(kc, "GET", "/version", NULL, NULL, 0, &out,
				NULL));
	assert_non_null(json_object_get(out, "gitVersion"));
	json_decref(out);
	control("GET", "/kubesim/requests", NULL, &log);
	json_array_foreach(log, i, r)
	{
		json_t *h = json_object_get(r, "headers");

		if (strcmp(json_string_value(json_object_get(r, "path")),
			   "/version") != 0)
			continue;
		assert_string_equal(
		    json_string_value(json_object_get(h, "User-Agent")),
		    "stowage/" STOW_VERSION " (linux/amd64)");
		assert_string_equal(
		    json_string_value(json_object_get(h, "Accept")),
		    "application/json");
		ua_seen = true;
	}
	assert_true(ua_seen);
	json_decref(log);

	/* 5 QPS, burst 2: 7 requests need at least 1 s. */
	CHECK(stow_kube_config_dup(&c2, cfg));
	c2->qps = 5;
	c2->burst = 2;
	CHECK(stow_kube_new(&k2, c2));
	t0 = now_s();
	for (int n = 0; n < 7; n++)
		CHECK(stow_kube_request(k2, "GET", "/version", NULL, NULL, 0,
					NULL, NULL));
	took = now_s() - t0;
	if (took < 0.95 || took > 3)
		fail_msg("7 requests at 5 QPS burst 2 took %.3f s", took);
	stow_kube_free(k2);
	stow_kube_config_free(c2);
}

/* ---- credentials and TLS, each from a kubeconfig of its own ------------ */

/* Write DIR/<name> (DIR = $STOW_KUBESIM_DIR) with a cluster at the
 * emulator's URL plus the given cluster and user fields, load it and
 * return a client. */
static stow_kube *client_from(const char *name, const char *cluster_extra,
			      const char *user_yaml)
{
	const char *dir = getenv("STOW_KUBESIM_DIR");
	const char *url = getenv("STOW_KUBESIM_URL");
	char path[512], text[4096];
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	FILE *f;

	assert_non_null(dir);
	assert_non_null(url);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		 "clusters:\n- name: c\n  cluster:\n    server: %s\n%s"
		 "users:\n- name: u\n  user:\n%s"
		 "contexts:\n- name: t\n  context: {cluster: c, user: u}\n",
		 url, cluster_extra, user_yaml);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	CHECK(stow_kube_config_load(
	    &c, &(stow_kube_load_opts){.kubeconfig = path}));
	c->timeout_ms = 5000;
	CHECK(stow_kube_new(&k, c));
	stow_kube_config_free(c);
	return k;
}

static int get_version(stow_kube *k)
{
	json_t *out = NULL;
	int rc = stow_kube_request(k, "GET", "/api/v1/namespaces/default", NULL,
				   NULL, 0, &out, NULL);

	json_decref(out);
	return rc;
}

static void test_client_certificate_and_tls(void **state)
{
	stow_kube *k;

	(void)state;
	/* Files relative to the kubeconfig's directory. */
	k = client_from("cert.yaml", "    certificate-authority: ca.crt\n",
			"    client-certificate: client.crt\n"
			"    client-key: client.key\n");
	CHECK(get_version(k));
	stow_kube_free(k);
	/* No credential at all: 401. */
	k = client_from("anon.yaml", "    certificate-authority: ca.crt\n",
			"    {}\n");
	assert_int_equal(get_version(k), STOW_EDENIED);
	stow_kube_free(k);
	/* tls-server-name: the certificate names localhost, not 127.0.0.1
	 * alone; the connection still goes to 127.0.0.1. */
	k = client_from("sni.yaml",
			"    certificate-authority: ca.crt\n"
			"    tls-server-name: localhost\n",
			"    client-certificate: client.crt\n"
			"    client-key: client.key\n");
	CHECK(get_version(k));
	stow_kube_free(k);
	k = client_from("badsni.yaml",
			"    certificate-authority: ca.crt\n"
			"    tls-server-name: wrong.example\n",
			"    client-certificate: client.crt\n"
			"    client-key: client.key\n");
	assert_int_equal(get_version(k), STOW_EIO);
	assert_non_null(strstr(stow_err_msg(), "TLS"));
	stow_kube_free(k);
	/* The system CAs do not know kubesim's CA ... */
	k = client_from("noca.yaml", "",
			"    client-certificate: client.crt\n"
			"    client-key: client.key\n");
	assert_int_equal(get_version(k), STOW_EIO);
	assert_non_null(strstr(stow_err_msg(), "certificate-authority"));
	stow_kube_free(k);
	/* ... unless verification is off. */
	k = client_from("insecure.yaml", "    insecure-skip-tls-verify: true\n",
			"    client-certificate: client.crt\n"
			"    client-key: client.key\n");
	CHECK(get_version(k));
	stow_kube_free(k);
}

static void test_token_file_and_exec_refresh(void **state)
{
	const char *dir = getenv("STOW_KUBESIM_DIR");
	char path[512], script[1024], user[1024];
	stow_kube *k;
	FILE *f;

	(void)state;
	k = client_from("tokfile.yaml", "    certificate-authority: ca.crt\n",
			"    tokenFile: token\n");
	CHECK(get_version(k));
	stow_kube_free(k);

	/* An exec plugin whose first credential the server refuses: the 401
	 * makes the client run it again, once, and the request succeeds. */
	snprintf(path, sizeof(path), "%s/plugin.sh", dir);
	snprintf(
	    script, sizeof(script),
	    "#!/bin/sh\n"
	    "n=$(cat \"%s/plugin.count\" 2>/dev/null || echo 0)\n"
	    "n=$((n + 1)); echo $n > \"%s/plugin.count\"\n"
	    "if [ $n -eq 1 ]; then t=stale; else t=$(cat \"%s/token\"); fi\n"
	    "printf '{\"apiVersion\":\"client.authentication.k8s.io/"
	    "v1beta1\",\"kind\":\"ExecCredential\",\"status\":"
	    "{\"token\":\"%%s\"}}' \"$t\"\n",
	    dir, dir, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(user, sizeof(user),
		 "    exec:\n"
		 "      apiVersion: client.authentication.k8s.io/v1beta1\n"
		 "      command: ./plugin.sh\n");
	k = client_from("exec.yaml", "    certificate-authority: ca.crt\n",
			user);
	CHECK(get_version(k));
	CHECK(get_version(k));
	stow_kube_free(k);
	snprintf(path, sizeof(path), "%s/plugin.count", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(script, sizeof(script), f));
	fclose(f);
	assert_string_equal(script, "2\n");

	/* A plugin that returns a client certificate instead of a token. */
	snprintf(path, sizeof(path), "%s/certplugin.sh", dir);
	snprintf(
	    script, sizeof(script),
	    "#!/bin/sh\n"
	    "pem() { awk '{printf \"%%s\\\\n\", $0}' \"$1\"; }\n"
	    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
	    "printf '\"kind\":\"ExecCredential\",\"status\":{'\n"
	    "printf '\"clientCertificateData\":\"%%s\",' \"$(pem "
	    "%s/client.crt)\"\n"
	    "printf '\"clientKeyData\":\"%%s\"}}' \"$(pem %s/client.key)\"\n",
	    dir, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	k = client_from("execcert.yaml", "    certificate-authority: ca.crt\n",
			"    exec:\n"
			"      apiVersion: client.authentication.k8s.io/v1\n"
			"      command: ./certplugin.sh\n");
	CHECK(get_version(k));
	stow_kube_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_discovery),
	    cmocka_unit_test(test_crd_status_subresource),
	    cmocka_unit_test(test_discovery_partial_failure),
	    cmocka_unit_test(test_create_generate_name_get),
	    cmocka_unit_test(test_selectors),
	    cmocka_unit_test(test_pagination_1000),
	    cmocka_unit_test(test_update_conflict),
	    cmocka_unit_test(test_patches),
	    cmocka_unit_test(test_delete_propagation),
	    cmocka_unit_test(test_retry_429_retry_after),
	    cmocka_unit_test(test_retry_500_and_drop),
	    cmocka_unit_test(test_persistent_500),
	    cmocka_unit_test(test_wrong_token),
	    cmocka_unit_test(test_user_agent_and_rate_limit),
	    cmocka_unit_test(test_client_certificate_and_tls),
	    cmocka_unit_test(test_token_file_and_exec_refresh),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
