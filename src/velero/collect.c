/* Backup item collection (collect.h; velero-spec §4). */
#include "velero/collect.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "velero/layout.h"

#define DEFAULT_PAGE_SIZE 500
#define GR_MAX 512

/* ---- string lists ---------------------------------------------------- */

static void strv_free(stow_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool strv_has(const stow_strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return true;
	return false;
}

static int strv_add(stow_strv *s, const char *x)
{
	char **nv;
	char *d;

	if (strv_has(s, x))
		return 0;
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	s->v = nv;
	if (!(d = strdup(x)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	s->v[s->n++] = d;
	return 0;
}

static bool strv_match(const stow_strv *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (stow_collect_glob(s->v[i], x))
			return true;
	return false;
}

/* "include everything": empty or exactly ["*"]. */
static bool strv_all(const stow_strv *s)
{
	return s->n == 0 || (s->n == 1 && strcmp(s->v[0], "*") == 0);
}

bool stow_collect_glob(const char *pattern, const char *s)
{
	if (strcmp(pattern, "*") == 0)
		return true;
	return fnmatch(pattern, s, 0) == 0;
}

/* ---- the filter -------------------------------------------------------- */

static void add_error(json_t *errors, const char *prefix, const char *msg)
{
	char line[2048];

	if (!errors)
		return;
	snprintf(line, sizeof(line), "%s%s", prefix, msg);
	json_array_append_new(errors, json_string(line));
}

/* A JSON array of strings as written (the spec's raw lists). */
static int raw_list(const json_t *spec, const char *key, stow_strv *out)
{
	json_t *a = json_object_get(spec, key), *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		if (json_is_string(v))
			STOW_TRY(strv_add(out, json_string_value(v)));
	}
	return 0;
}

/* Velero's collections.validateIncludesExcludes and its scoped variant:
 * the messages are theirs. */
static void validate_ie(const stow_strv *inc, const stow_strv *exc, bool scoped,
			const char *prefix, json_t *errors)
{
	char msg[600];

	if (inc->n > 1 && strv_has(inc, "*"))
		add_error(errors, prefix,
			  "includes list must either contain '*' only, or a "
			  "non-empty list of items");
	if (!scoped && strv_has(exc, "*"))
		add_error(errors, prefix, "excludes list cannot contain '*'");
	if (scoped && exc->n > 1 && strv_has(exc, "*"))
		add_error(errors, prefix,
			  "excludes list must either contain '*' only, or a "
			  "non-empty list of items");
	for (size_t i = 0; i < exc->n; i++)
		if (strv_has(inc, exc->v[i])) {
			snprintf(msg, sizeof(msg),
				 "excludes list cannot contain an item in the "
				 "includes list: %s",
				 exc->v[i]);
			add_error(errors, prefix, msg);
		}
}

/* Velero's validateNamespaceName: the name with its glob characters
 * replaced by a letter must be a DNS-1123 label; Kubernetes' messages. */
static void validate_ns_names(const stow_strv *s, json_t *errors)
{
	static const char label_msg[] =
	    "a lowercase RFC 1123 label must consist of lower case "
	    "alphanumeric characters or '-', and must start and end with an "
	    "alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
	    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
	char msg[1024];

	for (size_t i = 0; i < s->n; i++) {
		const char *ns = s->v[i];
		size_t n = strlen(ns);
		bool ok = true;

		if (n == 0)
			continue; /* Velero: "" is "no namespace" */
		for (size_t j = 0; j < n && ok; j++) {
			char c = strchr("*?[]!^", ns[j]) ? 'x' : ns[j];
			bool alnum =
			    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

			ok = alnum || (c == '-' && j > 0 && j + 1 < n);
		}
		if (n > 63) {
			snprintf(
			    msg, sizeof(msg),
			    "invalid namespace \"%.300s\": must be no more "
			    "than 63 characters",
			    ns);
			add_error(
			    errors,
			    "Invalid included/excluded namespace lists: ", msg);
		}
		if (!ok) {
			snprintf(msg, sizeof(msg),
				 "invalid namespace \"%.300s\": %s", ns,
				 label_msg);
			add_error(
			    errors,
			    "Invalid included/excluded namespace lists: ", msg);
		}
	}
}

/* Resolve resource names through the callback; globs stay as written. */
static int resolve_list(const stow_strv *raw, stow_collect_resolve_fn resolve,
			void *ctx, stow_strv *out)
{
	char gr[GR_MAX];

	for (size_t i = 0; i < raw->n; i++) {
		const char *n = raw->v[i];

		if (resolve && !strpbrk(n, "*?[") &&
		    resolve(ctx, n, gr, sizeof(gr)) == 0)
			STOW_TRY(strv_add(out, gr));
		else
			STOW_TRY(strv_add(out, n));
	}
	return 0;
}

static const char *selector_problem(const json_t *sel);

int stow_collect_filter_init(stow_collect_filter *f, const json_t *spec,
			     stow_collect_resolve_fn resolve, void *ctx,
			     json_t *errors)
{
	stow_strv raw[6] = {{0}};
	static const char *const keys[6] = {
	    "includedResources",
	    "excludedResources",
	    "includedClusterScopedResources",
	    "excludedClusterScopedResources",
	    "includedNamespaceScopedResources",
	    "excludedNamespaceScopedResources",
	};
	stow_strv *cooked[6];
	json_t *icr, *ls, *ols;
	bool old_used;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	f->include_cluster = -1;
	cooked[0] = &f->inc_res;
	cooked[1] = &f->exc_res;
	cooked[2] = &f->inc_cluster;
	cooked[3] = &f->exc_cluster;
	cooked[4] = &f->inc_nsres;
	cooked[5] = &f->exc_nsres;
	if ((rc = raw_list(spec, "includedNamespaces", &f->inc_ns)) < 0 ||
	    (rc = raw_list(spec, "excludedNamespaces", &f->exc_ns)) < 0)
		goto out;
	for (int i = 0; i < 6; i++)
		if ((rc = raw_list(spec, keys[i], &raw[i])) < 0)
			goto out;
	icr = json_object_get(spec, "includeClusterResources");
	if (json_is_boolean(icr))
		f->include_cluster = json_is_true(icr) ? 1 : 0;

	/* Velero's order of checks (backup_controller.go). */
	validate_ie(&raw[0], &raw[1], false,
		    "Invalid included/excluded resource lists: ", errors);
	validate_ie(&raw[2], &raw[3], true,
		    "Invalid cluster-scoped included/excluded resource lists: ",
		    errors);
	validate_ie(&raw[4], &raw[5], true,
		    "Invalid namespace-scoped included/excluded resource "
		    "lists: ",
		    errors);
	validate_ie(&f->inc_ns, &f->exc_ns, false,
		    "Invalid included/excluded namespace lists: ", errors);
	validate_ns_names(&f->inc_ns, errors);
	validate_ns_names(&f->exc_ns, errors);

	ls = json_object_get(spec, "labelSelector");
	ols = json_object_get(spec, "orLabelSelectors");
	if (json_is_object(json_object_get(spec, "orderedResources")))
		f->ordered =
		    json_incref(json_object_get(spec, "orderedResources"));
	if (json_is_object(ls))
		f->label_selector = json_incref(ls);
	if (json_is_array(ols))
		f->or_selectors = json_incref(ols);
	if (f->label_selector && f->or_selectors)
		add_error(errors, "",
			  "encountered labelSelector as well as "
			  "orLabelSelectors in backup spec, only one can be "
			  "specified");
	if (f->label_selector && selector_problem(f->label_selector))
		add_error(errors, "Invalid labelSelector: ",
			  selector_problem(f->label_selector));
	if (f->or_selectors) {
		size_t i;
		json_t *s;

		json_array_foreach(f->or_selectors, i, s)
		{
			if (!json_is_object(s))
				add_error(errors, "Invalid orLabelSelectors: ",
					  "not an object");
			else if (selector_problem(s))
				add_error(errors, "Invalid orLabelSelectors: ",
					  selector_problem(s));
		}
	}

	old_used = raw[0].n || raw[1].n || f->include_cluster != -1;
	f->new_style = raw[2].n || raw[3].n || raw[4].n || raw[5].n;
	if (old_used && f->new_style)
		add_error(errors, "",
			  "include-resources, exclude-resources and "
			  "include-cluster-resources are old filter "
			  "parameters.\n"
			  "include-cluster-scoped-resources, "
			  "exclude-cluster-scoped-resources, "
			  "include-namespace-scoped-resources and "
			  "exclude-namespace-scoped-resources are new filter "
			  "parameters.\n"
			  "They cannot be used together");
	for (int i = 0; i < 6; i++)
		if ((rc = resolve_list(&raw[i], resolve, ctx, cooked[i])) < 0)
			goto out;
out:
	for (int i = 0; i < 6; i++)
		strv_free(&raw[i]);
	return rc;
}

void stow_collect_filter_free(stow_collect_filter *f)
{
	if (!f)
		return;
	strv_free(&f->inc_ns);
	strv_free(&f->exc_ns);
	strv_free(&f->inc_res);
	strv_free(&f->exc_res);
	strv_free(&f->inc_cluster);
	strv_free(&f->exc_cluster);
	strv_free(&f->inc_nsres);
	strv_free(&f->exc_nsres);
	json_decref(f->label_selector);
	json_decref(f->or_selectors);
	json_decref(f->ordered);
	f->label_selector = f->or_selectors = f->ordered = NULL;
}

int stow_collect_filter_exclude_ns(stow_collect_filter *f, const char *ns)
{
	return strv_add(&f->exc_ns, ns);
}

bool stow_collect_ns_everything(const stow_collect_filter *f)
{
	return f->exc_ns.n == 0 && strv_all(&f->inc_ns);
}

bool stow_collect_ns_include_all(const stow_collect_filter *f)
{
	return f->inc_ns.n == 0 || strv_has(&f->inc_ns, "*");
}

bool stow_collect_ns_included(const stow_collect_filter *f, const char *ns)
{
	if (strv_match(&f->exc_ns, ns))
		return false;
	return stow_collect_ns_include_all(f) || strv_match(&f->inc_ns, ns);
}

/* Plain include/exclude over types: excluded wins; an empty include list
 * or "*" takes everything. */
static bool ie_match(const stow_strv *inc, const stow_strv *exc, const char *gr)
{
	if (strv_match(exc, gr))
		return false;
	return inc->n == 0 || strv_match(inc, gr);
}

static bool new_nsres_everything(const stow_collect_filter *f)
{
	return f->exc_nsres.n == 0 && strv_all(&f->inc_nsres);
}

bool stow_collect_type_included(const stow_collect_filter *f, const char *gr,
				bool namespaced)
{
	bool is_ns = strcmp(gr, "namespaces") == 0;

	if (f->new_style) {
		if (namespaced)
			return !strv_has(&f->exc_nsres, "*") &&
			       ie_match(&f->inc_nsres, &f->exc_nsres, gr);
		if (strv_has(&f->exc_cluster, "*") ||
		    strv_match(&f->exc_cluster, gr))
			return false;
		if (f->inc_cluster.n == 0 && f->exc_cluster.n == 0 &&
		    stow_collect_ns_everything(f) && new_nsres_everything(f))
			return true;
		return is_ns || strv_match(&f->inc_cluster, gr);
	}
	if (!namespaced && !is_ns) {
		if (f->include_cluster == 0)
			return false;
		if (f->include_cluster < 0 && !stow_collect_ns_everything(f))
			return false;
	}
	return ie_match(&f->inc_res, &f->exc_res, gr);
}

bool stow_collect_related_included(const stow_collect_filter *f, const char *gr,
				   bool namespaced)
{
	if (f->new_style) {
		if (namespaced)
			return stow_collect_type_included(f, gr, true);
		return !strv_has(&f->exc_cluster, "*") &&
		       !strv_match(&f->exc_cluster, gr);
	}
	if (!namespaced && f->include_cluster == 0)
		return false;
	return ie_match(&f->inc_res, &f->exc_res, gr);
}

bool stow_collect_crds_wanted(const stow_collect_filter *f)
{
	static const char crd[] =
	    "customresourcedefinitions.apiextensions.k8s.io";

	if (f->new_style)
		return !strv_has(&f->exc_cluster, "*") &&
		       !strv_match(&f->exc_cluster, crd) &&
		       !strv_has(&f->inc_cluster, crd);
	if (f->include_cluster >= 0)
		return false; /* false: none; true: collected as a type */
	return !strv_match(&f->exc_res, crd) && !strv_has(&f->inc_res, crd);
}

/* ---- label selectors --------------------------------------------------- */

static bool label_text_ok(const char *s, bool key)
{
	size_t n = strlen(s);

	if (n > (key ? 316 : 63) || (key && n == 0))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.' || (key && *s == '/')))
			return false;
	return true;
}

/* NULL when the selector is well formed, else what is wrong. */
static const char *selector_problem(const json_t *sel)
{
	json_t *ml = json_object_get(sel, "matchLabels");
	json_t *me = json_object_get(sel, "matchExpressions");
	const char *k;
	json_t *v;
	size_t i;

	if (ml && !json_is_object(ml) && !json_is_null(ml))
		return "matchLabels is not a map";
	json_object_foreach(ml, k, v)
	{
		if (!label_text_ok(k, true) || !json_is_string(v) ||
		    !label_text_ok(json_string_value(v), false))
			return "invalid label key or value in matchLabels";
	}
	if (me && !json_is_array(me) && !json_is_null(me))
		return "matchExpressions is not a list";
	json_array_foreach(me, i, v)
	{
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *op =
		    json_string_value(json_object_get(v, "operator"));
		json_t *vals = json_object_get(v, "values"), *x;
		size_t j, nv = json_array_size(vals);

		if (!key || !label_text_ok(key, true))
			return "invalid key in matchExpressions";
		if (!op)
			return "missing operator in matchExpressions";
		if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
			if (nv == 0)
				return "values must be non-empty for In and "
				       "NotIn";
		} else if (!strcmp(op, "Exists") ||
			   !strcmp(op, "DoesNotExist")) {
			if (nv != 0)
				return "values must be empty for Exists and "
				       "DoesNotExist";
		} else {
			return "operator must be In, NotIn, Exists or "
			       "DoesNotExist";
		}
		json_array_foreach(vals, j, x)
		{
			if (!json_is_string(x) ||
			    !label_text_ok(json_string_value(x), false))
				return "invalid value in matchExpressions";
		}
	}
	return NULL;
}

static bool in_values(const json_t *vals, const char *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(vals, i, x)
	{
		if (json_is_string(x) && strcmp(json_string_value(x), v) == 0)
			return true;
	}
	return false;
}

bool stow_collect_selector_match(const json_t *selector, const json_t *labels)
{
	json_t *ml = json_object_get(selector, "matchLabels");
	json_t *me = json_object_get(selector, "matchExpressions");
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(ml, k, v)
	{
		const char *have =
		    json_string_value(json_object_get(labels, k));

		if (!have || !json_is_string(v) ||
		    strcmp(have, json_string_value(v)) != 0)
			return false;
	}
	json_array_foreach(me, i, v)
	{
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *op =
		    json_string_value(json_object_get(v, "operator"));
		json_t *vals = json_object_get(v, "values");
		const char *have =
		    key ? json_string_value(json_object_get(labels, key))
			: NULL;

		if (!key || !op)
			return false;
		if (!strcmp(op, "In")) {
			if (!have || !in_values(vals, have))
				return false;
		} else if (!strcmp(op, "NotIn")) {
			if (have && in_values(vals, have))
				return false;
		} else if (!strcmp(op, "Exists")) {
			if (!have)
				return false;
		} else if (!strcmp(op, "DoesNotExist")) {
			if (have)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

int stow_collect_selector_string(const json_t *selector, stow_buf *out)
{
	json_t *ml = json_object_get(selector, "matchLabels");
	json_t *me = json_object_get(selector, "matchExpressions");
	const char *k, *why = selector_problem(selector);
	bool first = true;
	json_t *v;
	size_t i;

	if (why)
		return stow_err_set(STOW_EINVAL, "label selector: %s", why);
	json_object_foreach(ml, k, v)
	{
		STOW_TRY(stow_buf_printf(out, "%s%s=%s", first ? "" : ",", k,
					 json_string_value(v)));
		first = false;
	}
	json_array_foreach(me, i, v)
	{
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *op =
		    json_string_value(json_object_get(v, "operator"));
		json_t *vals = json_object_get(v, "values"), *x;
		size_t j;

		STOW_TRY(stow_buf_append_str(out, first ? "" : ","));
		first = false;
		if (!strcmp(op, "Exists")) {
			STOW_TRY(stow_buf_append_str(out, key));
			continue;
		}
		if (!strcmp(op, "DoesNotExist")) {
			STOW_TRY(stow_buf_printf(out, "!%s", key));
			continue;
		}
		STOW_TRY(stow_buf_printf(out, "%s %s (", key,
					 strcmp(op, "In") ? "notin" : "in"));
		json_array_foreach(vals, j, x)
		{
			STOW_TRY(stow_buf_printf(out, "%s%s", j ? "," : "",
						 json_string_value(x)));
		}
		STOW_TRY(stow_buf_append_str(out, ")"));
	}
	if (!out->data)
		STOW_TRY(stow_buf_append_str(out, ""));
	return 0;
}

bool stow_collect_labels_selected(const stow_collect_filter *f,
				  const json_t *labels)
{
	size_t i;
	json_t *s;

	if (f->label_selector)
		return stow_collect_selector_match(f->label_selector, labels);
	if (!f->or_selectors)
		return true;
	json_array_foreach(f->or_selectors, i, s)
	{
		if (stow_collect_selector_match(s, labels))
			return true;
	}
	return false;
}

bool stow_collect_excluded_by_label(const json_t *labels)
{
	const char *v =
	    json_string_value(json_object_get(labels, STOW_EXCLUDE_LABEL));

	return v && strcmp(v, "true") == 0;
}

/* ---- type order ------------------------------------------------------- */

int stow_collect_gr(const stow_kube_resource *r, char *out, size_t outsz)
{
	int n = *r->group ? snprintf(out, outsz, "%s.%s", r->resource, r->group)
			  : snprintf(out, outsz, "%s", r->resource);

	if (n < 0 || (size_t)n >= outsz)
		return stow_err_set(STOW_EINVAL, "resource name too long");
	return 0;
}

static bool has_verb(const stow_kube_resource *r, const char *verb)
{
	for (const char *const *v = r->verbs; v && *v; v++)
		if (strcmp(*v, verb) == 0)
			return true;
	return false;
}

static bool collectable(const stow_kube_resource *r)
{
	if (strchr(r->resource, '/'))
		return false;
	if (!has_verb(r, "list") || !has_verb(r, "create") ||
	    !has_verb(r, "get") || !has_verb(r, "delete"))
		return false;
	if (strcmp(r->group, "snapshot.storage.k8s.io") == 0 &&
	    (strcmp(r->resource, "volumesnapshots") == 0 ||
	     strcmp(r->resource, "volumesnapshotcontents") == 0))
		return false;
	return true;
}

static const struct cohabitant {
	const char *resource, *group1, *group2;
} cohabitants[] = {
    {"deployments", "extensions", "apps"},
    {"daemonsets", "extensions", "apps"},
    {"replicasets", "extensions", "apps"},
    {"networkpolicies", "extensions", "networking.k8s.io"},
    {"events", "", "events.k8s.io"},
};
#define N_COHABITANTS (sizeof(cohabitants) / sizeof(cohabitants[0]))

static int core_rank(const stow_kube_resource *r)
{
	if (*r->group)
		return 3;
	if (!strcmp(r->resource, "pods"))
		return 0;
	if (!strcmp(r->resource, "persistentvolumeclaims"))
		return 1;
	if (!strcmp(r->resource, "persistentvolumes"))
		return 2;
	return 3;
}

size_t stow_collect_order(const stow_kube_resource *const *in, size_t n,
			  const stow_kube_resource **out)
{
	bool seen[N_COHABITANTS] = {false};
	size_t m = 0, k = 0;

	/* Core group first with its three leaders, then the other groups
	 * in server order, "extensions" moved last. */
	for (int rank = 0; rank < 4; rank++)
		for (size_t i = 0; i < n; i++)
			if (!*in[i]->group && core_rank(in[i]) == rank &&
			    collectable(in[i]))
				out[m++] = in[i];
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			bool ext = strcmp(in[i]->group, "extensions") == 0;

			if (*in[i]->group && ext == (pass == 1) &&
			    collectable(in[i]))
				out[m++] = in[i];
		}
	/* Cohabiting types: keep the first group met. */
	for (size_t i = 0; i < m; i++) {
		bool keep = true;

		for (size_t c = 0; c < N_COHABITANTS; c++) {
			const struct cohabitant *h = &cohabitants[c];

			if (strcmp(out[i]->resource, h->resource) != 0 ||
			    (strcmp(out[i]->group, h->group1) != 0 &&
			     strcmp(out[i]->group, h->group2) != 0))
				continue;
			keep = !seen[c];
			seen[c] = true;
		}
		if (keep)
			out[k++] = out[i];
	}
	return k;
}

/* ---- the run ----------------------------------------------------------- */

/* A set of strings (item keys, namespaces): chained hashing, grows by
 * doubling. Memory is the keys, one per item backed up. */
typedef struct set_node {
	struct set_node *next;
	char key[];
} set_node;

typedef struct strset {
	set_node **b;
	size_t nb, n;
} strset;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool set_has(const strset *s, const char *k)
{
	if (!s->nb)
		return false;
	for (set_node *p = s->b[hash_str(k) & (s->nb - 1)]; p; p = p->next)
		if (strcmp(p->key, k) == 0)
			return true;
	return false;
}

/* 1 when added, 0 when already there, STOW_ENOMEM. */
static int set_add(strset *s, const char *k)
{
	size_t len = strlen(k);
	set_node *nd;
	uint64_t h;

	if (set_has(s, k))
		return 0;
	if (s->n + 1 > s->nb) {
		size_t nnb = s->nb ? s->nb * 2 : 256;
		set_node **nb = calloc(nnb, sizeof(*nb));

		if (!nb)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		for (size_t i = 0; i < s->nb; i++)
			for (set_node *p = s->b[i], *nx; p; p = nx) {
				nx = p->next;
				h = hash_str(p->key) & (nnb - 1);
				p->next = nb[h];
				nb[h] = p;
			}
		free(s->b);
		s->b = nb;
		s->nb = nnb;
	}
	if (!(nd = malloc(sizeof(*nd) + len + 1)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	memcpy(nd->key, k, len + 1);
	h = hash_str(k) & (s->nb - 1);
	nd->next = s->b[h];
	s->b[h] = nd;
	s->n++;
	return 1;
}

static void set_free(strset *s)
{
	for (size_t i = 0; i < s->nb; i++)
		for (set_node *p = s->b[i], *nx; p; p = nx) {
			nx = p->next;
			free(p);
		}
	free(s->b);
	memset(s, 0, sizeof(*s));
}

typedef enum item_mode {
	ITEM_LISTED,  /* found by listing its type */
	ITEM_RELATED, /* pulled in by another item */
	ITEM_CRD,     /* the CRD of a custom resource backed up */
} item_mode;

typedef struct run {
	stow_kube *k;
	const stow_collect_filter *f;
	long page;
	stow_log *log;
	const stow_collect_cbs *cbs;
	stow_collect_result *res;
	strset done;	     /* "gr|ns|name" of the items written */
	strset item_ns;	     /* namespaces holding an item written */
	stow_strv grs;	     /* group-resources with an item written */
	stow_strv label_exc; /* namespaces labelled exclude-from-backup */
	json_t *namespaces;  /* every Namespace object, listed at start */
	json_t *crbs;	     /* ClusterRoleBindings, listed on first need */
	const stow_kube_resource *r_pvc, *r_pv, *r_pc, *r_crb, *r_cr, *r_crd;
} run;

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* An error or warning of the backup: logged, counted by the logger, and
 * recorded in the results as Velero's log hook words it. */
static void report(run *r, bool warning, const char *gr, const char *ns,
		   const char *name, const char *msg, const char *err)
{
	stow_buf line;
	stow_velero_result_scope scope = STOW_VELERO_SCOPE_VELERO;

	stow_log_write(r->log, warning ? STOW_LOG_WARNING : STOW_LOG_ERROR,
		       __FILE__, __LINE__, msg, "resource", gr, "namespace", ns,
		       "name", name, "error", err, (const char *)NULL);
	stow_buf_init(&line, 1 << 16);
	if (gr)
		(void)stow_buf_printf(&line, " resource: /%s", gr);
	if (name)
		(void)stow_buf_printf(&line, " name: /%s", name);
	(void)stow_buf_printf(&line, " message: /%s", msg);
	if (err)
		(void)stow_buf_printf(&line, " error: /%s", err);
	if (ns && *ns)
		scope = STOW_VELERO_SCOPE_NAMESPACE;
	else if (gr)
		scope = STOW_VELERO_SCOPE_CLUSTER;
	if (line.data)
		(void)stow_velero_results_add(r->res->results, warning, scope,
					      ns, (const char *)line.data);
	stow_buf_free(&line);
}

static bool ns_ok(const run *r, const char *ns)
{
	return stow_collect_ns_included(r->f, ns) &&
	       !strv_has(&r->label_exc, ns);
}

static bool stopping(const run *r)
{
	return r->cbs->stopping && r->cbs->stopping(r->cbs->ctx);
}

static int backup_item(run *r, const stow_kube_resource *res, const char *gr,
		       json_t *obj, item_mode mode);

/* GET a related item and back it up; a missing one is a warning. */
static int related(run *r, const stow_kube_resource *res, const char *ns,
		   const char *name)
{
	char gr[GR_MAX];
	json_t *obj = NULL;
	int rc;

	if (!res || !name || !*name)
		return 0;
	STOW_TRY(stow_collect_gr(res, gr, sizeof(gr)));
	if (res->namespaced && (!ns || !ns_ok(r, ns)))
		return 0;
	if (!stow_collect_related_included(r->f, gr, res->namespaced)) {
		stow_log_info(r->log,
			      "Skipping related item: its type is "
			      "excluded",
			      "resource", gr, "namespace", ns, "name", name);
		return 0;
	}
	rc = stow_kube_get(r->k, res, res->namespaced ? ns : NULL, name, &obj);
	if (rc == STOW_ENOTFOUND) {
		report(r, true, gr, ns, name,
		       "Additional item was not found in Kubernetes API, can't "
		       "back it up",
		       stow_err_msg());
		return 0;
	}
	if (rc < 0) {
		report(r, false, gr, ns, name, "Error getting additional item",
		       stow_err_msg());
		return 0;
	}
	rc = backup_item(r, res, gr, obj, ITEM_RELATED);
	json_decref(obj);
	return rc;
}

static int pod_related(run *r, json_t *pod)
{
	const char *ns = jstr(json_object_get(pod, "metadata"), "namespace");
	json_t *spec = json_object_get(pod, "spec"), *vol;
	size_t i;

	json_array_foreach(json_object_get(spec, "volumes"), i, vol)
	{
		const char *claim = jstr(
		    json_object_get(vol, "persistentVolumeClaim"), "claimName");

		if (claim)
			STOW_TRY(related(r, r->r_pvc, ns, claim));
	}
	STOW_TRY(related(r, r->r_pc, NULL, jstr(spec, "priorityClassName")));
	if (r->cbs->pod && r->cbs->pod(r->cbs->ctx, pod) != 0)
		report(r, false, "pods", ns,
		       jstr(json_object_get(pod, "metadata"), "name"),
		       "Error backing up the pod's volumes", stow_err_msg());
	return 0;
}

static int pvc_related(run *r, json_t *pvc)
{
	const char *pv = jstr(json_object_get(pvc, "spec"), "volumeName");
	const char *phase = jstr(json_object_get(pvc, "status"), "phase");

	if (!pv || !phase || strcmp(phase, "Bound") != 0)
		return 0;
	return related(r, r->r_pv, NULL, pv);
}

static int list_all(run *r, const stow_kube_resource *res, json_t **out)
{
	json_t *all = json_array(), *page = NULL;
	stow_kube_list_opts o = {.limit = r->page};
	char *cont = NULL;
	int rc = 0;

	if (!all)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	do {
		o.continue_token = cont;
		rc = stow_kube_list(r->k, res, NULL, &o, &page);
		free(cont);
		cont = NULL;
		if (rc < 0)
			break;
		json_array_extend(all, json_object_get(page, "items"));
		{
			const char *c =
			    jstr(json_object_get(page, "metadata"), "continue");

			if (c && *c && !(cont = strdup(c)))
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
		}
		json_decref(page);
		page = NULL;
	} while (cont && rc == 0);
	free(cont);
	if (rc < 0) {
		json_decref(all);
		return rc;
	}
	*out = all;
	return 0;
}

/* ServiceAccount -> the ClusterRoleBindings naming it and their
 * ClusterRoles (Velero's velero.io/service-account action). */
static int sa_related(run *r, json_t *sa)
{
	json_t *md = json_object_get(sa, "metadata"), *crb;
	const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
	size_t i;

	if (!r->r_crb || !name || !ns)
		return 0;
	if (!r->crbs && list_all(r, r->r_crb, &r->crbs) < 0) {
		report(r, false,
		       "clusterrolebindings.rbac.authorization.k8s.io", NULL,
		       NULL, "Error listing ClusterRoleBindings",
		       stow_err_msg());
		r->crbs = json_array();
		return r->crbs ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
	}
	json_array_foreach(r->crbs, i, crb)
	{
		json_t *sub;
		size_t j;
		bool names_sa = false;

		json_array_foreach(json_object_get(crb, "subjects"), j, sub)
		{
			const char *kind = jstr(sub, "kind");

			if (kind && !strcmp(kind, "ServiceAccount") &&
			    jstr(sub, "name") && jstr(sub, "namespace") &&
			    !strcmp(jstr(sub, "name"), name) &&
			    !strcmp(jstr(sub, "namespace"), ns))
				names_sa = true;
		}
		if (!names_sa)
			continue;
		STOW_TRY(
		    related(r, r->r_crb, NULL,
			    jstr(json_object_get(crb, "metadata"), "name")));
		{
			json_t *ref = json_object_get(crb, "roleRef");
			const char *kind = jstr(ref, "kind");

			if (kind && !strcmp(kind, "ClusterRole"))
				STOW_TRY(related(r, r->r_cr, NULL,
						 jstr(ref, "name")));
		}
	}
	return 0;
}

/* Velero's velero.io/pv action (it applies to PVCs): a restored CSI
 * volume's data source must not travel with the backup. */
static void pvc_strip(json_t *pvc)
{
	json_t *spec = json_object_get(pvc, "spec");

	json_object_del(spec, "dataSource");
	json_object_del(spec, "dataSourceRef");
}

static int backup_item(run *r, const stow_kube_resource *res, const char *gr,
		       json_t *obj, item_mode mode)
{
	json_t *md = json_object_get(obj, "metadata"), *copy;
	const char *name = jstr(md, "name"), *ns = jstr(md, "namespace");
	const char *api_version, *kind;
	char api_buf[300];
	stow_buf key;
	int rc;

	if (!name)
		return 0;
	if (!res->namespaced)
		ns = NULL;
	if (json_object_get(md, "deletionTimestamp")) {
		stow_log_info(r->log,
			      "Skipping item because it's being deleted",
			      "resource", gr, "namespace", ns, "name", name);
		return 0;
	}
	if (stow_collect_excluded_by_label(json_object_get(md, "labels"))) {
		stow_log_info(r->log,
			      "Skipping item because it has label "
			      "velero.io/exclude-from-backup=true",
			      "resource", gr, "namespace", ns, "name", name);
		return 0;
	}
	if (res->namespaced && (!ns || !ns_ok(r, ns)))
		return 0;
	stow_buf_init(&key, 0);
	rc = stow_buf_printf(&key, "%s|%s|%s", gr, ns ? ns : "", name);
	if (rc == 0)
		rc = set_add(&r->done, (const char *)key.data);
	stow_buf_free(&key);
	if (rc <= 0)
		return rc; /* backed up already, or out of memory */

	if (!(copy = json_deep_copy(obj)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (*res->group)
		snprintf(api_buf, sizeof(api_buf), "%s/%s", res->group,
			 res->version);
	else
		snprintf(api_buf, sizeof(api_buf), "%s", res->version);
	if (!jstr(copy, "apiVersion"))
		json_object_set_new(copy, "apiVersion", json_string(api_buf));
	if (!jstr(copy, "kind"))
		json_object_set_new(copy, "kind", json_string(res->kind));
	api_version = jstr(copy, "apiVersion");
	kind = jstr(copy, "kind");
	if (!*res->group && !strcmp(res->resource, "persistentvolumeclaims"))
		pvc_strip(copy);
	if (mode != ITEM_LISTED)
		r->res->total++;
	stow_log_info(r->log, "Backing up item", "resource", gr, "namespace",
		      ns, "name", name);
	rc = r->cbs->item(r->cbs->ctx, res, gr, copy);
	if (rc != 0) {
		json_decref(copy);
		return rc < 0 ? rc
			      : stow_err_set(STOW_EIO, "item write failed");
	}
	r->res->done++;
	rc = stow_velero_resource_list_add(r->res->resource_list, api_version,
					   kind, ns, name, NULL);
	if (rc == 0 && ns)
		rc = set_add(&r->item_ns, ns);
	if (rc >= 0)
		rc = strv_add(&r->grs, gr);
	if (rc >= 0 && r->cbs->progress)
		r->cbs->progress(r->cbs->ctx, r->res->total, r->res->done);
	if (rc >= 0 && !*res->group) {
		if (!strcmp(res->resource, "pods"))
			rc = pod_related(r, copy);
		else if (!strcmp(res->resource, "persistentvolumeclaims"))
			rc = pvc_related(r, copy);
		else if (!strcmp(res->resource, "serviceaccounts"))
			rc = sa_related(r, copy);
	}
	json_decref(copy);
	return rc < 0 ? rc : 0;
}

/* One type in one namespace (NULL: all, or cluster-scoped) with one
 * selector (NULL: none), page by page. A failing list is an error of the
 * backup, not fatal; a failing item write is. */
static int list_type(run *r, const stow_kube_resource *res, const char *gr,
		     const char *ns, const char *selector)
{
	stow_kube_list_opts o = {.label_selector = selector, .limit = r->page};
	char *cont = NULL;
	int rc = 0;

	do {
		json_t *page = NULL, *item;
		const char *c;
		size_t i;

		o.continue_token = cont;
		rc = stow_kube_list(r->k, res, ns, &o, &page);
		free(cont);
		cont = NULL;
		if (rc < 0) {
			report(r, false, gr, ns, NULL, "Error listing items",
			       stow_err_msg());
			return 0;
		}
		r->res->total +=
		    json_array_size(json_object_get(page, "items"));
		json_array_foreach(json_object_get(page, "items"), i, item)
		{
			uint64_t before = r->res->done;

			if (stopping(r)) {
				rc = stow_err_set(STOW_EINTR, "stopped");
				break;
			}
			rc = backup_item(r, res, gr, item, ITEM_LISTED);
			if (rc < 0)
				break;
			if (r->res->done == before)
				r->res->total--; /* skipped: not counted */
		}
		c = jstr(json_object_get(page, "metadata"), "continue");
		if (rc == 0 && c && *c && !(cont = strdup(c)))
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
		json_decref(page);
	} while (rc == 0 && cont);
	free(cont);
	return rc;
}

/* spec.orderedResources[<plural>]: those items first, in the given order
 * (each fetched with a GET; the lists after skip them as duplicates). An
 * item must still pass every filter a listed one passes. */
static int collect_ordered(run *r, const stow_kube_resource *res,
			   const char *gr)
{
	const char *spec = jstr(r->f->ordered, res->resource);
	char *list, *save = NULL;
	int rc = 0;

	if (!spec || !*spec)
		return 0;
	if (!(list = strdup(spec)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (char *tok = strtok_r(list, ",", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		const char *ns = NULL, *name;
		json_t *obj = NULL;
		uint64_t before = r->res->done;
		char *slash;

		while (*tok == ' ')
			tok++;
		name = tok;
		if ((slash = strchr(tok, '/'))) {
			*slash = '\0';
			ns = tok;
			name = slash + 1;
		}
		if (!*name || (res->namespaced && (!ns || !*ns)))
			continue;
		rc = stow_kube_get(r->k, res, res->namespaced ? ns : NULL, name,
				   &obj);
		if (rc == STOW_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc < 0) {
			report(r, false, gr, ns, name,
			       "Error getting an ordered item", stow_err_msg());
			rc = 0;
			continue;
		}
		if (stow_collect_labels_selected(
			r->f, json_object_get(json_object_get(obj, "metadata"),
					      "labels"))) {
			r->res->total++;
			rc = backup_item(r, res, gr, obj, ITEM_LISTED);
			if (r->res->done == before)
				r->res->total--;
		}
		json_decref(obj);
	}
	free(list);
	return rc;
}

/* Every list of a type: per namespace (or across all), per selector. */
static int collect_type(run *r, const stow_kube_resource *res, const char *gr)
{
	const stow_collect_filter *f = r->f;
	size_t nsel = f->or_selectors ? json_array_size(f->or_selectors) : 1;

	STOW_TRY(collect_ordered(r, res, gr));

	for (size_t s = 0; s < nsel; s++) {
		const json_t *sel = f->or_selectors
					? json_array_get(f->or_selectors, s)
					: f->label_selector;
		stow_buf selstr;
		int rc = 0;

		stow_buf_init(&selstr, 1 << 20);
		if (sel &&
		    (rc = stow_collect_selector_string(sel, &selstr)) < 0) {
			stow_buf_free(&selstr);
			return rc;
		}
		if (!res->namespaced || stow_collect_ns_include_all(f)) {
			rc = list_type(r, res, gr, NULL,
				       sel ? (const char *)selstr.data : NULL);
		} else {
			size_t i;
			json_t *nsobj;

			json_array_foreach(r->namespaces, i, nsobj)
			{
				const char *ns = jstr(
				    json_object_get(nsobj, "metadata"), "name");

				if (!ns || !ns_ok(r, ns))
					continue;
				rc = list_type(r, res, gr, ns,
					       sel ? (const char *)selstr.data
						   : NULL);
				if (rc < 0)
					break;
			}
		}
		stow_buf_free(&selstr);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Namespace objects that are "tracked" (velero-spec §4.2). */
static int collect_namespaces(run *r, const stow_kube_resource *res)
{
	const stow_collect_filter *f = r->f;
	bool selectors = f->label_selector || f->or_selectors;
	size_t i;
	json_t *nsobj;

	json_array_foreach(r->namespaces, i, nsobj)
	{
		json_t *md = json_object_get(nsobj, "metadata");
		const char *ns = jstr(md, "name");
		const char *phase =
		    jstr(json_object_get(nsobj, "status"), "phase");
		bool tracked;

		if (!ns || (phase && strcmp(phase, "Active") != 0) ||
		    !ns_ok(r, ns))
			continue;
		tracked =
		    set_has(&r->item_ns, ns) ||
		    (selectors && stow_collect_labels_selected(
				      f, json_object_get(md, "labels"))) ||
		    !selectors || !stow_collect_ns_everything(f);
		if (!tracked)
			continue;
		r->res->total++;
		{
			uint64_t before = r->res->done;

			STOW_TRY(backup_item(r, res, "namespaces", nsobj,
					     ITEM_LISTED));
			if (r->res->done == before)
				r->res->total--;
		}
	}
	return 0;
}

/* The CRDs of the custom resources backed up. */
static int collect_crds(run *r)
{
	static const char crd_gr[] =
	    "customresourcedefinitions.apiextensions.k8s.io";
	size_t n = r->grs.n;

	if (!r->r_crd || !stow_collect_crds_wanted(r->f))
		return 0;
	/* r->grs grows while CRDs are added: only the ones before. */
	for (size_t i = 0; i < n; i++) {
		const char *gr = r->grs.v[i];
		json_t *crd = NULL;
		int rc;

		if (!strchr(gr, '.') || !strcmp(gr, crd_gr))
			continue;
		rc = stow_kube_get(r->k, r->r_crd, NULL, gr, &crd);
		if (rc == STOW_ENOTFOUND)
			continue; /* a built-in group, not a CRD */
		if (rc < 0) {
			report(r, false, crd_gr, NULL, gr,
			       "Error getting the CRD of a backed-up resource",
			       stow_err_msg());
			continue;
		}
		stow_log_info(r->log, "Found associated CRD to add to backup",
			      "resource", gr);
		rc = backup_item(r, r->r_crd, crd_gr, crd, ITEM_CRD);
		json_decref(crd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const stow_kube_resource *find_res(const stow_kube_resource *const *v,
					  size_t n, const char *group,
					  const char *resource)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i]->group, group) &&
		    !strcmp(v[i]->resource, resource))
			return v[i];
	return NULL;
}

static int collect(run *r)
{
	const stow_kube_resource *const *all;
	const stow_kube_resource **order = NULL, *r_ns;
	size_t n, m;
	int rc;

	/* Velero refreshes discovery before every backup: a CRD may have
	 * come or gone. */
	STOW_TRY(stow_kube_discover(r->k, true));
	STOW_TRY(stow_kube_resources_preferred(r->k, &all, &n));
	r->r_pvc = find_res(all, n, "", "persistentvolumeclaims");
	r->r_pv = find_res(all, n, "", "persistentvolumes");
	r_ns = find_res(all, n, "", "namespaces");
	r->r_pc = find_res(all, n, "scheduling.k8s.io", "priorityclasses");
	r->r_crb = find_res(all, n, "rbac.authorization.k8s.io",
			    "clusterrolebindings");
	r->r_cr = find_res(all, n, "rbac.authorization.k8s.io", "clusterroles");
	r->r_crd = find_res(all, n, "apiextensions.k8s.io",
			    "customresourcedefinitions");
	if (!r_ns)
		return stow_err_set(STOW_EINVAL, "discovery: no namespaces");
	if ((rc = list_all(r, r_ns, &r->namespaces)) < 0)
		return stow_err_wrap(rc, "listing namespaces");
	{
		size_t i;
		json_t *nsobj;

		json_array_foreach(r->namespaces, i, nsobj)
		{
			json_t *md = json_object_get(nsobj, "metadata");

			if (stow_collect_excluded_by_label(
				json_object_get(md, "labels")) &&
			    jstr(md, "name")) {
				stow_log_info(
				    r->log,
				    "Excluding namespace labelled "
				    "velero.io/exclude-from-backup=true",
				    "namespace", jstr(md, "name"));
				STOW_TRY(
				    strv_add(&r->label_exc, jstr(md, "name")));
			}
		}
	}
	if (!(order = calloc(n ? n : 1, sizeof(*order))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	m = stow_collect_order(all, n, order);
	for (size_t i = 0; i < m && rc == 0; i++) {
		char gr[GR_MAX];

		if (order[i] == r_ns)
			continue; /* at the end, once items are known */
		if (stopping(r)) {
			rc = stow_err_set(STOW_EINTR, "stopped");
			break;
		}
		if ((rc = stow_collect_gr(order[i], gr, sizeof(gr))) < 0)
			break;
		if (!stow_collect_type_included(r->f, gr,
						order[i]->namespaced)) {
			stow_log_debug(r->log, "Skipping resource: excluded",
				       "resource", gr);
			continue;
		}
		stow_log_info(r->log, "Getting items for resource", "resource",
			      gr);
		rc = collect_type(r, order[i], gr);
	}
	free(order);
	if (rc == 0 && stow_collect_type_included(r->f, "namespaces", false))
		rc = collect_namespaces(r, r_ns);
	if (rc == 0)
		rc = collect_crds(r);
	return rc;
}

int stow_collect_run(stow_kube *k, const stow_collect_filter *f, long page_size,
		     stow_log *log, const stow_collect_cbs *cbs,
		     stow_collect_result *res)
{
	run r = {0};
	int rc;

	memset(res, 0, sizeof(*res));
	res->resource_list = stow_velero_resource_list_new();
	res->results = stow_velero_results_new();
	if (!res->resource_list || !res->results)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (!k || !f || !cbs || !cbs->item)
		return stow_err_set(STOW_EINVAL, "stow_collect_run: missing "
						 "argument");
	r.k = k;
	r.f = f;
	r.page = page_size > 0 ? page_size : DEFAULT_PAGE_SIZE;
	r.log = log;
	r.cbs = cbs;
	r.res = res;
	rc = collect(&r);
	if (rc == 0)
		rc = stow_velero_resource_list_finish(res->resource_list);
	/* Velero's final count is the items backed up. */
	res->total = res->done;
	set_free(&r.done);
	set_free(&r.item_ns);
	strv_free(&r.grs);
	strv_free(&r.label_exc);
	json_decref(r.namespaces);
	json_decref(r.crbs);
	return rc;
}

void stow_collect_result_free(stow_collect_result *res)
{
	if (!res)
		return;
	json_decref(res->resource_list);
	json_decref(res->results);
	res->resource_list = res->results = NULL;
}
