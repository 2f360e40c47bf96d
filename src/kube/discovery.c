/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery: which resources the server serves, at which group/version,
 * with which kind, scope, verbs and short names.
 *
 * A discovery pass reads /api, /api/<v>, /apis and /apis/<g>/<v> for every
 * version of every group and builds one immutable generation of the cache.
 * Its strings point into the parsed replies, which the generation keeps.
 * A refresh builds a new generation and keeps the old ones (until
 * stow_kube_free), so a stow_kube_resource pointer handed out earlier never
 * dangles. A group-version that fails to answer (an aggregated API whose
 * backend is down) is left out rather than failing the whole pass; the core
 * group and the group list must answer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/kube_internal.h"
#include "util/err.h"

/* A real cluster serves ~60 group-versions and ~250 resources; these caps
 * only stop a hostile server from making us allocate without bound. */
#define GV_MAX 4096
#define RES_MAX 65536
#define LIST_MAX 256

typedef struct disco_gen {
	struct disco_gen *prev;
	json_t *docs; /* every reply the strings below point into */
	stow_kube_resource *res;
	size_t nres;
	const stow_kube_resource **preferred;
	size_t npreferred;
	const char **arrays; /* verbs/short_names storage, one block */
} disco_gen;

struct stow_kube_disco {
	pthread_mutex_t mu;
	disco_gen *cur;
};

static const char *const empty_list[] = {NULL};

int stow_kube_disco_new(stow_kube_disco **out)
{
	stow_kube_disco *d = calloc(1, sizeof(*d));

	if (!d)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&d->mu, NULL);
	*out = d;
	return 0;
}

static void gen_free(disco_gen *g)
{
	while (g) {
		disco_gen *prev = g->prev;

		for (size_t i = 0; i < g->nres; i++) {
			if (g->res[i].verbs != empty_list)
				free((void *)g->res[i].verbs);
			if (g->res[i].short_names != empty_list)
				free((void *)g->res[i].short_names);
		}
		free(g->res);
		free(g->preferred);
		json_decref(g->docs);
		free(g);
		g = prev;
	}
}

void stow_kube_disco_free(stow_kube_disco *d)
{
	if (!d)
		return;
	gen_free(d->cur);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* ---- building a generation ---------------------------------------------- */

typedef struct builder {
	disco_gen *g;
	size_t cap;
} builder;

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* A NULL-terminated array of the strings in a JSON array. */
static int string_array(json_t *arr, const char *const **out)
{
	size_t n = json_array_size(arr), k = 0, i;
	const char **l;
	json_t *v;

	if (n == 0) {
		*out = empty_list;
		return 0;
	}
	if (n > LIST_MAX)
		n = LIST_MAX;
	l = calloc(n + 1, sizeof(*l));
	if (!l)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	json_array_foreach(arr, i, v)
	{
		if (k == n)
			break;
		if (json_is_string(v))
			l[k++] = json_string_value(v);
	}
	*out = l;
	return 0;
}

static char *lower_dup_into(json_t *docs, const char *s)
{
	_cleanup_free_ char *t = strdup(s);
	json_t *j;

	if (!t)
		return NULL;
	for (char *p = t; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	j = json_string(t);
	if (!j || json_array_append_new(docs, j) != 0)
		return NULL;
	return (char *)json_string_value(j);
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' ||
		    *p == '%' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* Add the resources of one APIResourceList. */
static int add_list(builder *b, json_t *list, const char *group,
		    const char *version, bool preferred, const char *what)
{
	json_t *arr = json_object_get(list, "resources"), *r;
	size_t i, first = b->g->nres;

	if (!json_is_array(arr))
		return stow_err_set(
		    STOW_ECORRUPT, "discovery %s: no \"resources\" list", what);
	json_array_foreach(arr, i, r)
	{
		const char *name = str_or(r, "name", NULL);
		const char *kind = str_or(r, "kind", NULL);
		stow_kube_resource *e;

		if (!name || !valid_name(name))
			continue;
		if (strchr(name, '/'))
			continue; /* a subresource: see below */
		if (!kind || !*kind)
			continue;
		if (b->g->nres == RES_MAX)
			return stow_err_set(STOW_ECORRUPT,
					    "discovery: more than %d "
					    "resources",
					    RES_MAX);
		if (b->g->nres == b->cap) {
			size_t nc = b->cap ? b->cap * 2 : 256;
			stow_kube_resource *nr =
			    realloc(b->g->res, nc * sizeof(*nr));

			if (!nr)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
			b->g->res = nr;
			b->cap = nc;
		}
		e = &b->g->res[b->g->nres];
		memset(e, 0, sizeof(*e));
		e->verbs = empty_list;
		e->short_names = empty_list;
		b->g->nres++;
		e->group = group;
		e->version = version;
		e->resource = name;
		e->kind = kind;
		e->singular = str_or(r, "singularName", "");
		if (!*e->singular &&
		    !(e->singular = lower_dup_into(b->g->docs, kind)))
			return stow_err_set(STOW_ENOMEM, "out of memory");
		e->namespaced = json_is_true(json_object_get(r, "namespaced"));
		e->preferred = preferred;
		STOW_TRY(string_array(json_object_get(r, "verbs"), &e->verbs));
		STOW_TRY(string_array(json_object_get(r, "shortNames"),
				      &e->short_names));
	}
	/* Subresources are not resources of their own; "x/status" marks x. */
	json_array_foreach(arr, i, r)
	{
		const char *name = str_or(r, "name", "");
		size_t nl = strlen(name);

		if (nl < 8 || strcmp(name + nl - 7, "/status") != 0)
			continue;
		for (size_t j = first; j < b->g->nres; j++)
			if (strlen(b->g->res[j].resource) == nl - 7 &&
			    !strncmp(b->g->res[j].resource, name, nl - 7))
				b->g->res[j].has_status = true;
	}
	return 0;
}

static int fetch(stow_kube *k, const char *path, bool must, json_t *docs,
		 json_t **out)
{
	stow_kube_req_opts o = {.max_attempts = must ? 0 : 2};
	json_t *j = NULL;
	int rc;

	*out = NULL;
	rc = stow_kube_request_ex(k, "GET", path, NULL, NULL, 0, &o, &j, NULL);
	if (rc < 0) {
		json_decref(j);
		if (must)
			return stow_err_wrap(rc, "discovery");
		stow_err_clear();
		return 0; /* an unavailable group-version is left out */
	}
	if (!json_is_object(j)) {
		json_decref(j);
		if (must)
			return stow_err_set(STOW_ECORRUPT,
					    "discovery GET %s: not a JSON "
					    "object",
					    path);
		return 0;
	}
	if (json_array_append_new(docs, j) != 0)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*out = j;
	return 0;
}

static bool safe_segment(const char *s)
{
	if (!*s || strlen(s) > 253 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return false;
	return true;
}

static int build(stow_kube *k, disco_gen **out)
{
	disco_gen *g = calloc(1, sizeof(*g));
	builder b = {g, 0};
	json_t *api, *apis, *list, *groups, *grp, *v;
	size_t i, j, ngv = 0;
	char path[600];
	int rc;

	if (!g || !(g->docs = json_array())) {
		free(g);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	rc = fetch(k, "/api", true, g->docs, &api);
	if (rc < 0)
		goto fail;
	json_array_foreach(json_object_get(api, "versions"), i, v)
	{
		if (!json_is_string(v) || !safe_segment(json_string_value(v)))
			continue;
		snprintf(path, sizeof(path), "/api/%s", json_string_value(v));
		if ((rc = fetch(k, path, true, g->docs, &list)) < 0 ||
		    (rc = add_list(&b, list, "", json_string_value(v), i == 0,
				   path)) < 0)
			goto fail;
	}
	rc = fetch(k, "/apis", true, g->docs, &apis);
	if (rc < 0)
		goto fail;
	groups = json_object_get(apis, "groups");
	json_array_foreach(groups, i, grp)
	{
		const char *gname = str_or(grp, "name", NULL);
		const char *pref = str_or(
		    json_object_get(grp, "preferredVersion"), "version", NULL);
		json_t *vers = json_object_get(grp, "versions");

		if (!gname || !safe_segment(gname))
			continue;
		json_array_foreach(vers, j, v)
		{
			const char *ver = str_or(v, "version", NULL);

			if (!ver || !safe_segment(ver))
				continue;
			if (++ngv > GV_MAX) {
				rc = stow_err_set(STOW_ECORRUPT,
						  "discovery: more than %d "
						  "group-versions",
						  GV_MAX);
				goto fail;
			}
			snprintf(path, sizeof(path), "/apis/%s/%s", gname, ver);
			if ((rc = fetch(k, path, false, g->docs, &list)) < 0)
				goto fail;
			if (!list)
				continue;
			rc = add_list(&b, list, gname, ver,
				      pref ? !strcmp(pref, ver) : j == 0, path);
			if (rc < 0)
				goto fail;
		}
	}
	g->preferred = calloc(g->nres + 1, sizeof(*g->preferred));
	if (!g->preferred) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < g->nres; i++)
		if (g->res[i].preferred)
			g->preferred[g->npreferred++] = &g->res[i];
	*out = g;
	return 0;
fail:
	gen_free(g);
	return rc;
}

/* Whether a new pass found what the current generation has. A refresh
 * that changed nothing is dropped, so repeated misses (a lookup of a
 * resource that does not exist, in a loop) do not pile up generations. */
static bool same_gen(const disco_gen *a, const disco_gen *b)
{
	if (a->nres != b->nres)
		return false;
	for (size_t i = 0; i < a->nres; i++) {
		const stow_kube_resource *x = &a->res[i], *y = &b->res[i];

		if (strcmp(x->group, y->group) ||
		    strcmp(x->version, y->version) ||
		    strcmp(x->resource, y->resource) ||
		    strcmp(x->kind, y->kind) ||
		    strcmp(x->singular, y->singular) ||
		    x->namespaced != y->namespaced ||
		    x->preferred != y->preferred ||
		    x->has_status != y->has_status)
			return false;
		for (size_t j = 0;; j++) {
			const char *v = x->verbs[j], *w = y->verbs[j];

			if (!v || !w) {
				if (v != w)
					return false;
				break;
			}
			if (strcmp(v, w))
				return false;
		}
		for (size_t j = 0;; j++) {
			const char *v = x->short_names[j],
				   *w = y->short_names[j];

			if (!v || !w) {
				if (v != w)
					return false;
				break;
			}
			if (strcmp(v, w))
				return false;
		}
	}
	return true;
}

int stow_kube_discover(stow_kube *k, bool refresh)
{
	stow_kube_disco *d;
	disco_gen *g;
	int rc = 0;

	if (!k)
		return stow_err_set(STOW_EINVAL, "stow_kube_discover: no "
						 "client");
	d = stow_kube_disco_of(k);
	pthread_mutex_lock(&d->mu);
	if (!d->cur || refresh) {
		rc = build(k, &g);
		if (rc == 0 && d->cur && same_gen(d->cur, g)) {
			gen_free(g);
		} else if (rc == 0) {
			g->prev = d->cur;
			d->cur = g;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/* ---- lookups ------------------------------------------------------------ */

static disco_gen *current(stow_kube *k)
{
	stow_kube_disco *d = stow_kube_disco_of(k);
	disco_gen *g;

	pthread_mutex_lock(&d->mu);
	g = d->cur;
	pthread_mutex_unlock(&d->mu);
	return g;
}

static bool in_list(const char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (!strcasecmp(*l, s))
			return true;
	return false;
}

static bool names_match(const stow_kube_resource *r, const char *n)
{
	return !strcasecmp(r->resource, n) || !strcasecmp(r->singular, n) ||
	       !strcasecmp(r->kind, n) || in_list(r->short_names, n);
}

/* The first match in discovery order (core first, then /apis order), at
 * the preferred version unless `version` is given. */
static const stow_kube_resource *find(const disco_gen *g, const char *n,
				      size_t nlen, const char *group,
				      const char *version)
{
	char name[256];

	if (nlen >= sizeof(name))
		return NULL;
	memcpy(name, n, nlen);
	name[nlen] = '\0';
	for (size_t i = 0; g && i < g->nres; i++) {
		const stow_kube_resource *r = &g->res[i];

		if (group && strcmp(r->group, group) != 0)
			continue;
		if (version ? strcmp(r->version, version) != 0 : !r->preferred)
			continue;
		if (names_match(r, name))
			return r;
	}
	return NULL;
}

static const stow_kube_resource *lookup_in(const disco_gen *g, const char *name)
{
	const stow_kube_resource *r = find(g, name, strlen(name), NULL, NULL);
	const char *dot = strchr(name, '.'), *dot2;

	if (r || !dot)
		return r;
	/* "resource.group", then "resource.version.group". */
	r = find(g, name, (size_t)(dot - name), dot + 1, NULL);
	if (r)
		return r;
	dot2 = strchr(dot + 1, '.');
	if (dot2) {
		char version[64];
		size_t vl = (size_t)(dot2 - dot - 1);

		if (vl && vl < sizeof(version)) {
			memcpy(version, dot + 1, vl);
			version[vl] = '\0';
			r = find(g, name, (size_t)(dot - name), dot2 + 1,
				 version);
		}
	}
	return r;
}

static const stow_kube_resource *kind_in(const disco_gen *g, const char *group,
					 const char *version, const char *kind)
{
	for (size_t i = 0; g && i < g->nres; i++) {
		const stow_kube_resource *r = &g->res[i];

		if (!strcmp(r->group, group) && !strcmp(r->version, version) &&
		    !strcmp(r->kind, kind))
			return r;
	}
	return NULL;
}

/* Look up with the cache, refreshing once on a miss (a CRD may have been
 * created since the last pass). */
static int lookup(stow_kube *k, const char *name, const char *group,
		  const char *version, const char *kind,
		  const stow_kube_resource **out)
{
	bool fresh = false;

	for (int pass = 0; pass < 2; pass++) {
		disco_gen *g = current(k);
		const stow_kube_resource *r;

		if (!g) {
			STOW_TRY(stow_kube_discover(k, false));
			fresh = true;
			g = current(k);
		}
		r = kind ? kind_in(g, group, version, kind)
			 : lookup_in(g, name);
		if (r) {
			*out = r;
			return 0;
		}
		if (fresh || pass == 1)
			break;
		STOW_TRY(stow_kube_discover(k, true));
		fresh = true;
	}
	if (kind)
		return stow_err_set(STOW_ENOTFOUND,
				    "the server has no resource of kind "
				    "%.128s in %s%s%.64s",
				    kind, group, *group ? "/" : "", version);
	return stow_err_set(STOW_ENOTFOUND,
			    "the server doesn't have a resource type "
			    "\"%.128s\"",
			    name);
}

int stow_kube_resource_lookup(stow_kube *k, const char *name,
			      const stow_kube_resource **out)
{
	if (!k || !name || !out)
		return stow_err_set(STOW_EINVAL, "stow_kube_resource_lookup: "
						 "missing argument");
	*out = NULL;
	if (!*name || strlen(name) > 253)
		return stow_err_set(STOW_EINVAL,
				    "resource name \"%.64s\" is empty or too "
				    "long",
				    name);
	return lookup(k, name, NULL, NULL, NULL, out);
}

int stow_kube_resource_for_kind(stow_kube *k, const char *api_version,
				const char *kind,
				const stow_kube_resource **out)
{
	char group[256];
	const char *slash, *version;

	if (!k || !api_version || !kind || !out)
		return stow_err_set(STOW_EINVAL, "stow_kube_resource_for_kind: "
						 "missing argument");
	*out = NULL;
	slash = strchr(api_version, '/');
	if (!*api_version || !*kind ||
	    (slash && ((size_t)(slash - api_version) >= sizeof(group) ||
		       !slash[1] || strchr(slash + 1, '/'))))
		return stow_err_set(STOW_EINVAL,
				    "apiVersion \"%.64s\" kind \"%.64s\" is "
				    "not valid",
				    api_version, kind);
	if (slash) {
		memcpy(group, api_version, (size_t)(slash - api_version));
		group[slash - api_version] = '\0';
		version = slash + 1;
	} else {
		group[0] = '\0';
		version = api_version;
	}
	return lookup(k, NULL, group, version, kind, out);
}

int stow_kube_resources_preferred(stow_kube *k,
				  const stow_kube_resource *const **out,
				  size_t *n)
{
	disco_gen *g;

	if (!k || !out || !n)
		return stow_err_set(STOW_EINVAL,
				    "stow_kube_resources_preferred:"
				    " missing argument");
	if (!current(k))
		STOW_TRY(stow_kube_discover(k, false));
	g = current(k);
	*out = (const stow_kube_resource *const *)g->preferred;
	*n = g->npreferred;
	return 0;
}
