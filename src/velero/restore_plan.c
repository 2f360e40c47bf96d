/* Restore planning (restore_plan.h): filters, order, namespace mapping
 * and the item transforms of a Velero restore, on JSON only. */
#include "velero/restore_plan.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct strlist {
	char **v;
	size_t n;
} strlist;

struct stow_restore_plan {
	strlist inc_ns, exc_ns;
	strlist inc_res, exc_res;
	bool has_restore_status;
	strlist st_inc, st_exc;
	int include_cluster;  /* -1 unset, 0 false, 1 true */
	json_t *selector;     /* labelSelector or NULL */
	json_t *or_selectors; /* array or NULL */
	json_t *ns_map;	      /* object (maybe empty) */
	bool update_existing;
	bool preserve_node_ports;
};

/* Velero's restore controller refuses these in includedResources and
 * always adds them to excludedResources. */
static const char *const non_restorable[] = {
    "nodes",
    "events",
    "events.events.k8s.io",
    "backups.velero.io",
    "restores.velero.io",
    "resticrepositories.velero.io",
    "csinodes.storage.k8s.io",
    "volumeattachments.storage.k8s.io",
    "backuprepositories.velero.io",
};

/* Restored whatever the filters say (§6.2). */
static const char *const must_have[] = {
    "datauploads.velero.io",
    "volumesnapshotcontents.snapshot.storage.k8s.io",
};

/* §6.1, as discovery resolves Velero's names on a stock cluster. */
static const char *const high_priorities[] = {
    "customresourcedefinitions.apiextensions.k8s.io",
    "namespaces",
    "storageclasses.storage.k8s.io",
    "volumesnapshotclasses.snapshot.storage.k8s.io",
    "volumesnapshotcontents.snapshot.storage.k8s.io",
    "volumesnapshots.snapshot.storage.k8s.io",
    "datauploads.velero.io",
    "persistentvolumes",
    "persistentvolumeclaims",
    "clusterroles.rbac.authorization.k8s.io",
    "roles.rbac.authorization.k8s.io",
    "serviceaccounts",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "secrets",
    "configmaps",
    "limitranges",
    "priorityclasses.scheduling.k8s.io",
    "pods",
    "replicasets.apps",
    "clusterclasses.cluster.x-k8s.io",
    "endpoints",
    "services",
};
static const char *const low_priorities[] = {
    "clusterbootstraps.run.tanzu.vmware.com",	   "clusters.cluster.x-k8s.io",
    "clusterresourcesets.addons.cluster.x-k8s.io", "apps.kappctrl.k14s.io",
    "packageinstalls.packaging.carvel.dev",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---- */

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void strlist_free(strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int strlist_add(strlist *l, const char *s)
{
	char **nv;
	char *d = strdup(s);

	if (!d)
		return STOW_ENOMEM;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(d);
		return STOW_ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = d;
	return 0;
}

static int strlist_has(const strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Any pattern of l matches s (glob: * ? [..]). */
static int strlist_match(const strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0 || fnmatch(l->v[i], s, 0) == 0)
			return 1;
	return 0;
}

/* Strings of a JSON array into l; non-strings are a validation error. */
static int strlist_from(strlist *l, const json_t *arr, const char *field,
			json_t *errs)
{
	size_t i;
	json_t *v;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		char m[160];

		snprintf(m, sizeof(m), "%s must be a list of strings", field);
		return json_array_append_new(errs, json_string(m)) ? STOW_ENOMEM
								   : 0;
	}
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) || !*json_string_value(v))
			continue;
		STOW_TRY(strlist_add(l, json_string_value(v)));
	}
	return 0;
}

static int add_err(json_t *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_err(json_t *errs, const char *fmt, ...)
{
	char m[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	return json_array_append_new(errs, json_string(m)) ? STOW_ENOMEM : 0;
}

/* Velero's collections.ValidateIncludesExcludes, each message prefixed
 * by what. */
static int validate_inc_exc(const strlist *inc, const strlist *exc,
			    const char *what, json_t *errs)
{
	char m[600];

	if (inc->n > 1 && strlist_has(inc, "*")) {
		snprintf(m, sizeof(m),
			 "Invalid included/excluded %s lists: includes list "
			 "must either contain '*' only, or a non-empty list of "
			 "items",
			 what);
		if (json_array_append_new(errs, json_string(m)))
			return STOW_ENOMEM;
	}
	if (strlist_has(exc, "*")) {
		snprintf(m, sizeof(m),
			 "Invalid included/excluded %s lists: excludes list "
			 "cannot contain '*'",
			 what);
		if (json_array_append_new(errs, json_string(m)))
			return STOW_ENOMEM;
	}
	for (size_t i = 0; i < exc->n; i++) {
		if (!strlist_has(inc, exc->v[i]))
			continue;
		snprintf(m, sizeof(m),
			 "Invalid included/excluded %s lists: excludes list "
			 "cannot contain an item in the includes list: %s",
			 what, exc->v[i]);
		if (json_array_append_new(errs, json_string(m)))
			return STOW_ENOMEM;
	}
	return 0;
}

static int validate_selector(const json_t *sel, json_t *errs)
{
	const json_t *ml = json_object_get(sel, "matchLabels");
	const json_t *me = json_object_get(sel, "matchExpressions");
	const char *k;
	json_t *v;
	size_t i;

	if (!json_is_object(sel))
		return add_err(errs, "Invalid label selector: %s",
			       "not an object");
	if (ml && !json_is_null(ml)) {
		if (!json_is_object(ml))
			return add_err(errs, "Invalid label selector: %s",
				       "matchLabels must be a map");
		json_object_foreach((json_t *)ml, k, v)
		{
			if (!json_is_string(v))
				return add_err(errs,
					       "Invalid label selector: value "
					       "of %s must be a string",
					       k);
		}
	}
	if (me && !json_is_null(me)) {
		if (!json_is_array(me))
			return add_err(errs, "Invalid label selector: %s",
				       "matchExpressions must be a list");
		json_array_foreach(me, i, v)
		{
			const char *op = jstr(v, "operator");
			const json_t *vals = json_object_get(v, "values");
			bool set_op;

			if (!jstr(v, "key") || !op)
				return add_err(errs,
					       "Invalid label selector: %s",
					       "an expression needs key and "
					       "operator");
			set_op =
			    strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0;
			if (!set_op && strcmp(op, "Exists") != 0 &&
			    strcmp(op, "DoesNotExist") != 0)
				return add_err(
				    errs,
				    "Invalid label selector: \"%s\" is "
				    "not a valid operator",
				    op);
			if (set_op && (!json_is_array(vals) ||
				       json_array_size(vals) == 0))
				return add_err(errs,
					       "Invalid label selector: values "
					       "must be non-empty for %s",
					       op);
		}
	}
	return 0;
}

/* ---- plan ---- */

void stow_restore_plan_free(stow_restore_plan *p)
{
	if (!p)
		return;
	strlist_free(&p->inc_ns);
	strlist_free(&p->exc_ns);
	strlist_free(&p->inc_res);
	strlist_free(&p->exc_res);
	strlist_free(&p->st_inc);
	strlist_free(&p->st_exc);
	json_decref(p->selector);
	json_decref(p->or_selectors);
	json_decref(p->ns_map);
	free(p);
}

static void plan_freep(stow_restore_plan **p)
{
	stow_restore_plan_free(*p);
}

int stow_restore_plan_new(stow_restore_plan **out, const json_t *spec,
			  json_t *errs)
{
	_cleanup_(plan_freep) stow_restore_plan *p = calloc(1, sizeof(*p));
	const json_t *v, *rs;
	const char *policy;

	*out = NULL;
	if (!p)
		return STOW_ENOMEM;
	p->include_cluster = -1;
	STOW_TRY(strlist_from(&p->inc_ns,
			      json_object_get(spec, "includedNamespaces"),
			      "includedNamespaces", errs));
	STOW_TRY(strlist_from(&p->exc_ns,
			      json_object_get(spec, "excludedNamespaces"),
			      "excludedNamespaces", errs));
	STOW_TRY(strlist_from(&p->inc_res,
			      json_object_get(spec, "includedResources"),
			      "includedResources", errs));
	STOW_TRY(strlist_from(&p->exc_res,
			      json_object_get(spec, "excludedResources"),
			      "excludedResources", errs));
	for (size_t i = 0; i < N_OF(non_restorable); i++)
		if (strlist_has(&p->inc_res, non_restorable[i]))
			STOW_TRY(add_err(errs,
					 "%s are non-restorable resources",
					 non_restorable[i]));
	STOW_TRY(validate_inc_exc(&p->inc_res, &p->exc_res, "resource", errs));
	STOW_TRY(validate_inc_exc(&p->inc_ns, &p->exc_ns, "namespace", errs));
	for (size_t i = 0; i < N_OF(non_restorable); i++)
		if (!strlist_has(&p->exc_res, non_restorable[i]))
			STOW_TRY(strlist_add(&p->exc_res, non_restorable[i]));

	rs = json_object_get(spec, "restoreStatus");
	if (json_is_object(rs)) {
		p->has_restore_status = true;
		STOW_TRY(strlist_from(&p->st_inc,
				      json_object_get(rs, "includedResources"),
				      "restoreStatus.includedResources", errs));
		STOW_TRY(strlist_from(&p->st_exc,
				      json_object_get(rs, "excludedResources"),
				      "restoreStatus.excludedResources", errs));
	}

	v = json_object_get(spec, "includeClusterResources");
	if (json_is_boolean(v))
		p->include_cluster = json_is_true(v);
	p->preserve_node_ports =
	    json_is_true(json_object_get(spec, "preserveNodePorts"));

	v = json_object_get(spec, "labelSelector");
	if (v && !json_is_null(v)) {
		STOW_TRY(validate_selector(v, errs));
		/* Copies: the spec may be an informer's shared object. */
		p->selector = json_deep_copy(v);
		if (!p->selector)
			return STOW_ENOMEM;
	}
	v = json_object_get(spec, "orLabelSelectors");
	if (json_is_array(v) && json_array_size(v) > 0) {
		size_t i;
		json_t *s;

		json_array_foreach(v, i, s)
		    STOW_TRY(validate_selector(s, errs));
		p->or_selectors = json_deep_copy(v);
		if (!p->or_selectors)
			return STOW_ENOMEM;
	}
	if (p->selector && p->or_selectors)
		STOW_TRY(add_err(errs, "%s",
				 "encountered labelSelector as well as "
				 "orLabelSelectors in restore spec, only one "
				 "can be specified"));

	v = json_object_get(spec, "namespaceMapping");
	p->ns_map = json_object();
	if (!p->ns_map)
		return STOW_ENOMEM;
	if (json_is_object(v)) {
		const char *k;
		json_t *t;

		json_object_foreach((json_t *)v, k, t)
		{
			if (!json_is_string(t) || !*json_string_value(t)) {
				STOW_TRY(
				    add_err(errs,
					    "namespaceMapping: the target "
					    "of %s must be a namespace name",
					    k));
				continue;
			}
			if (json_object_set_new(
				p->ns_map, k,
				json_string(json_string_value(t))))
				return STOW_ENOMEM;
		}
	}

	policy = jstr(spec, "existingResourcePolicy");
	if (policy && *policy && strcmp(policy, "none") != 0 &&
	    strcmp(policy, "update") != 0)
		STOW_TRY(add_err(errs, "Invalid ExistingResourcePolicy: %s",
				 policy));
	p->update_existing = policy && strcmp(policy, "update") == 0;
	*out = STOW_TAKE_PTR(p);
	return 0;
}

static void resolve_list(strlist *l, stow_restore_resolve_fn fn, void *ctx)
{
	char gr[512];

	for (size_t i = 0; i < l->n; i++) {
		char *d;

		if (strcmp(l->v[i], "*") == 0 ||
		    fn(ctx, l->v[i], gr, sizeof(gr)) < 0 ||
		    strcmp(gr, l->v[i]) == 0)
			continue;
		d = strdup(gr);
		if (d) {
			free(l->v[i]);
			l->v[i] = d;
		}
	}
}

void stow_restore_plan_resolve(stow_restore_plan *p, stow_restore_resolve_fn fn,
			       void *ctx)
{
	resolve_list(&p->inc_res, fn, ctx);
	resolve_list(&p->exc_res, fn, ctx);
	resolve_list(&p->st_inc, fn, ctx);
	resolve_list(&p->st_exc, fn, ctx);
}

bool stow_restore_plan_update_existing(const stow_restore_plan *p)
{
	return p->update_existing;
}

bool stow_restore_plan_preserve_node_ports(const stow_restore_plan *p)
{
	return p->preserve_node_ports;
}

/* Velero's IncludesExcludes.ShouldInclude. */
static int should_include(const strlist *inc, const strlist *exc, const char *s)
{
	if (strlist_match(exc, s))
		return 0;
	return inc->n == 0 || strlist_has(inc, "*") || strlist_match(inc, s);
}

int stow_restore_plan_namespace_included(const stow_restore_plan *p,
					 const char *ns)
{
	return should_include(&p->inc_ns, &p->exc_ns, ns);
}

int stow_restore_plan_all_namespaces(const stow_restore_plan *p)
{
	return p->exc_ns.n == 0 &&
	       (p->inc_ns.n == 0 ||
		(p->inc_ns.n == 1 && strcmp(p->inc_ns.v[0], "*") == 0));
}

int stow_restore_plan_resource_included(const stow_restore_plan *p,
					const char *gr)
{
	return should_include(&p->inc_res, &p->exc_res, gr);
}

int stow_restore_plan_cluster_included(const stow_restore_plan *p)
{
	if (p->include_cluster >= 0)
		return p->include_cluster;
	return stow_restore_plan_all_namespaces(p);
}

static int expr_matches(const json_t *e, const json_t *labels)
{
	const char *key = jstr(e, "key"), *op = jstr(e, "operator");
	const json_t *lv = json_object_get(labels, key ? key : "");
	const json_t *vals = json_object_get(e, "values");
	int in = 0;
	size_t i;
	json_t *v;

	if (!key || !op)
		return 0;
	if (strcmp(op, "Exists") == 0)
		return json_is_string(lv);
	if (strcmp(op, "DoesNotExist") == 0)
		return !json_is_string(lv);
	json_array_foreach(vals, i,
			   v) if (json_is_string(lv) && json_is_string(v) &&
				  strcmp(json_string_value(v),
					 json_string_value(lv)) == 0) in = 1;
	if (strcmp(op, "In") == 0)
		return in;
	if (strcmp(op, "NotIn") == 0)
		return !in;
	return 0;
}

static int selector_matches(const json_t *sel, const json_t *labels)
{
	const json_t *ml = json_object_get(sel, "matchLabels");
	const json_t *me = json_object_get(sel, "matchExpressions");
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)ml, k, v)
	{
		const char *have = jstr(labels, k);

		if (!have || !json_is_string(v) ||
		    strcmp(have, json_string_value(v)) != 0)
			return 0;
	}
	json_array_foreach(me, i, v) if (!expr_matches(v, labels)) return 0;
	return 1;
}

int stow_restore_plan_selected(const stow_restore_plan *p, const json_t *labels)
{
	size_t i;
	json_t *s;

	if (!json_is_object(labels))
		labels = NULL;
	if (p->selector && !selector_matches(p->selector, labels))
		return 0;
	if (!p->or_selectors)
		return 1;
	json_array_foreach(p->or_selectors, i,
			   s) if (selector_matches(s, labels)) return 1;
	return 0;
}

const char *stow_restore_plan_target_namespace(const stow_restore_plan *p,
					       const char *ns)
{
	const char *t = ns ? jstr(p->ns_map, ns) : NULL;

	return t ? t : ns;
}

static int is_one_of(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

stow_restore_admit stow_restore_plan_admit(const stow_restore_plan *p,
					   const char *gr, const char *ns,
					   const json_t *obj,
					   const char **reason)
{
	const json_t *md = json_object_get(obj, "metadata");
	const json_t *status = json_object_get(obj, "status");
	const char *name = jstr(md, "name");

	if (reason)
		*reason = NULL;
	if (is_one_of(gr, must_have, N_OF(must_have)))
		return STOW_RESTORE_ADMIT;
	if (!stow_restore_plan_resource_included(p, gr))
		return STOW_RESTORE_FILTERED;
	if (strcmp(gr, "namespaces") == 0)
		/* Namespaces follow the namespace filter only; they are
		 * also created on demand for the items restored in them. */
		return name && stow_restore_plan_namespace_included(p, name)
			   ? STOW_RESTORE_ADMIT
			   : STOW_RESTORE_FILTERED;
	if (!ns) {
		if (!stow_restore_plan_cluster_included(p))
			return STOW_RESTORE_FILTERED;
	} else if (!stow_restore_plan_namespace_included(p, ns)) {
		return STOW_RESTORE_FILTERED;
	}
	if (!stow_restore_plan_selected(p, json_object_get(md, "labels")))
		return STOW_RESTORE_FILTERED;
	if (strcmp(gr, "pods") == 0) {
		const char *phase = jstr(status, "phase");

		if (phase && (strcmp(phase, "Succeeded") == 0 ||
			      strcmp(phase, "Failed") == 0)) {
			if (reason)
				*reason = "the pod has completed";
			return STOW_RESTORE_SKIP;
		}
		if (json_object_get(json_object_get(md, "annotations"),
				    "kubernetes.io/config.mirror")) {
			if (reason)
				*reason = "it is a mirror pod";
			return STOW_RESTORE_SKIP;
		}
	}
	if (strcmp(gr, "jobs.batch") == 0 &&
	    json_object_get(status, "completionTime") &&
	    !json_is_null(json_object_get(status, "completionTime"))) {
		if (reason)
			*reason = "the job has completed";
		return STOW_RESTORE_SKIP;
	}
	return STOW_RESTORE_ADMIT;
}

int stow_restore_plan_additional_pv(const stow_restore_plan *p)
{
	return p->include_cluster != 0 &&
	       !strlist_match(&p->exc_res, "persistentvolumes");
}

int stow_restore_plan_restore_status(const stow_restore_plan *p, const char *gr,
				     const json_t *obj)
{
	const char *a = jstr(
	    json_object_get(json_object_get(obj, "metadata"), "annotations"),
	    "velero.io/restore-status");

	if (a && strcmp(a, "false") == 0)
		return 0;
	if (a && strcmp(a, "true") == 0)
		return 1;
	return p->has_restore_status &&
	       should_include(&p->st_inc, &p->st_exc, gr);
}

/* ---- order ---- */

int stow_restore_priority(const char *gr)
{
	for (size_t i = 0; i < N_OF(high_priorities); i++)
		if (strcmp(gr, high_priorities[i]) == 0)
			return (int)i;
	for (size_t i = 0; i < N_OF(low_priorities); i++)
		if (strcmp(gr, low_priorities[i]) == 0)
			return (int)(N_OF(high_priorities) + 1 + i);
	return (int)N_OF(high_priorities);
}

static int cmp_order(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int rx = stow_restore_priority(x), ry = stow_restore_priority(y);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	return strcmp(x, y);
}

void stow_restore_order(const char **grs, size_t n)
{
	if (n > 1)
		qsort(grs, n, sizeof(*grs), cmp_order);
}

/* ---- transforms ---- */

void stow_restore_strip(json_t *obj, int keep_status)
{
	static const char *const drop[] = {
	    "generateName",
	    "selfLink",
	    "uid",
	    "resourceVersion",
	    "generation",
	    "creationTimestamp",
	    "deletionTimestamp",
	    "deletionGracePeriodSeconds",
	    "ownerReferences",
	    "managedFields",
	};
	json_t *md = json_object_get(obj, "metadata");

	if (json_is_object(md))
		for (size_t i = 0; i < N_OF(drop); i++)
			json_object_del(md, drop[i]);
	if (!keep_status)
		json_object_del(obj, "status");
}

void stow_restore_label_value(const char *v, char out[64])
{
	size_t n = strlen(v);
	uint8_t h[32];
	char hex[65];

	if (n <= 63) {
		memcpy(out, v, n + 1);
		return;
	}
	if (stow_sha256(v, n, h) < 0)
		memset(h, 0, sizeof(h));
	stow_hex(hex, h, sizeof(h));
	memcpy(out, v, 57);
	memcpy(out + 57, hex, 6);
	out[63] = '\0';
}

/* obj[key] as an object, created (or replacing a non-object). */
static json_t *ensure_object(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_object(v))
		return v;
	v = json_object();
	if (!v || json_object_set_new(obj, key, v))
		return NULL;
	return v;
}

static void del_keys(json_t *obj, const char *const *keys, size_t n)
{
	if (!json_is_object(obj))
		return;
	for (size_t i = 0; i < n; i++)
		json_object_del(obj, keys[i]);
}

static int json_int_in(const json_t *arr, json_int_t v)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) if (json_is_integer(e) &&
					  json_integer_value(e) == v) return 1;
	return 0;
}

/* Ports given a nodePort explicitly: by nodePort value in the
 * last-applied-configuration, by port number in managedFields. */
static void explicit_node_ports(const json_t *md, const json_t *managed,
				json_t *by_node_port, json_t *by_port,
				int *hc_explicit)
{
	const char *last =
	    jstr(json_object_get(md, "annotations"),
		 "kubectl.kubernetes.io/last-applied-configuration");
	size_t i;
	json_t *e;

	if (last) {
		json_t *la = json_loads(last, 0, NULL);
		const json_t *spec = json_object_get(la, "spec");

		json_array_foreach(json_object_get(spec, "ports"), i, e)
		{
			json_t *np = json_object_get(e, "nodePort");

			if (json_is_integer(np))
				json_array_append(by_node_port, np);
		}
		if (json_object_get(spec, "healthCheckNodePort"))
			*hc_explicit = 1;
		json_decref(la);
	}
	json_array_foreach(managed, i, e)
	{
		const json_t *fs =
		    json_object_get(json_object_get(e, "fieldsV1"), "f:spec");
		const json_t *ports = json_object_get(fs, "f:ports");
		const char *k;
		json_t *pv;

		if (json_object_get(fs, "f:healthCheckNodePort"))
			*hc_explicit = 1;
		json_object_foreach((json_t *)ports, k, pv)
		{
			json_t *key;

			if (strncmp(k, "k:", 2) != 0 ||
			    !json_object_get(pv, "f:nodePort"))
				continue;
			key = json_loads(k + 2, 0, NULL);
			if (json_is_integer(json_object_get(key, "port")))
				json_array_append(by_port,
						  json_object_get(key, "port"));
			json_decref(key);
		}
	}
}

static int prepare_service(json_t *obj, const json_t *managed, bool preserve)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *md = json_object_get(obj, "metadata");
	const char *cip = jstr(spec, "clusterIP");
	json_t *by_node_port, *by_port, *port;
	int hc = 0;
	size_t i;

	if (!json_is_object(spec))
		return 0;
	if (!cip || strcmp(cip, "None") != 0) {
		json_object_del(spec, "clusterIP");
		json_object_del(spec, "clusterIPs");
	}
	if (preserve)
		return 0;
	by_node_port = json_array();
	by_port = json_array();
	if (!by_node_port || !by_port) {
		json_decref(by_node_port);
		json_decref(by_port);
		return STOW_ENOMEM;
	}
	explicit_node_ports(md, managed, by_node_port, by_port, &hc);
	json_array_foreach(json_object_get(spec, "ports"), i, port)
	{
		json_t *np = json_object_get(port, "nodePort");
		json_t *pn = json_object_get(port, "port");

		if (!np)
			continue;
		if ((json_is_integer(np) &&
		     json_int_in(by_node_port, json_integer_value(np))) ||
		    (json_is_integer(pn) &&
		     json_int_in(by_port, json_integer_value(pn))))
			continue;
		json_object_del(port, "nodePort");
	}
	if (!hc)
		json_object_del(spec, "healthCheckNodePort");
	json_decref(by_node_port);
	json_decref(by_port);
	return 0;
}

/* Volumes <serviceAccountName>-token-* and their mounts. */
static void drop_token_volumes(json_t *spec)
{
	static const char *const lists[] = {"containers", "initContainers"};
	const char *sa = jstr(spec, "serviceAccountName");
	json_t *vols = json_object_get(spec, "volumes");
	char prefix[300];
	size_t plen;

	if (!sa || !*sa)
		sa = jstr(spec, "serviceAccount");
	if (!sa || !*sa || !json_is_array(vols))
		return;
	snprintf(prefix, sizeof(prefix), "%s-token-", sa);
	plen = strlen(prefix);
	for (size_t i = json_array_size(vols); i-- > 0;) {
		const char *n = jstr(json_array_get(vols, i), "name");

		if (n && strncmp(n, prefix, plen) == 0)
			json_array_remove(vols, i);
	}
	for (size_t l = 0; l < N_OF(lists); l++) {
		size_t ci;
		json_t *c;

		json_array_foreach(json_object_get(spec, lists[l]), ci, c)
		{
			json_t *mounts = json_object_get(c, "volumeMounts");

			for (size_t i = json_array_size(mounts); i-- > 0;) {
				const char *n =
				    jstr(json_array_get(mounts, i), "name");

				if (n && strncmp(n, prefix, plen) == 0)
					json_array_remove(mounts, i);
			}
		}
	}
}

/* Velero's service-account action: the auto-generated token secret
 * reference goes (the cluster makes its own). */
static void prepare_service_account(json_t *obj)
{
	const char *name = jstr(json_object_get(obj, "metadata"), "name");
	json_t *secrets = json_object_get(obj, "secrets");
	char prefix[300];
	size_t plen;

	if (!name || !json_is_array(secrets))
		return;
	snprintf(prefix, sizeof(prefix), "%s-token-", name);
	plen = strlen(prefix);
	for (size_t i = json_array_size(secrets); i-- > 0;) {
		const char *n = jstr(json_array_get(secrets, i), "name");

		if (n && strncmp(n, prefix, plen) == 0)
			json_array_remove(secrets, i);
	}
}

static void prepare_pod(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");

	if (!json_is_object(spec))
		return;
	json_object_del(spec, "nodeName");
	json_object_del(spec, "priority");
	drop_token_volumes(spec);
}

static void prepare_job(json_t *obj)
{
	static const char *const keys[] = {
	    "controller-uid", "batch.kubernetes.io/controller-uid"};
	json_t *spec = json_object_get(obj, "spec");

	del_keys(
	    json_object_get(json_object_get(spec, "selector"), "matchLabels"),
	    keys, N_OF(keys));
	del_keys(
	    json_object_get(
		json_object_get(json_object_get(spec, "template"), "metadata"),
		"labels"),
	    keys, N_OF(keys));
}

static const char *const binding_annotations[] = {
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
};

static void prepare_pvc(json_t *obj, const json_t *to_provision)
{
	static const char *const ann[] = {
	    "pv.kubernetes.io/bind-completed",
	    "pv.kubernetes.io/bound-by-controller",
	    "volume.kubernetes.io/storage-provisioner",
	    "volume.beta.kubernetes.io/storage-provisioner",
	    "volume.kubernetes.io/selected-node",
	    "velero.io/volume-snapshot-name",
	    "velero.io/data-upload-name",
	};
	json_t *spec = json_object_get(obj, "spec");
	const char *vn = jstr(spec, "volumeName");

	del_keys(
	    json_object_get(json_object_get(obj, "metadata"), "annotations"),
	    ann, N_OF(ann));
	if (vn && to_provision && json_object_get(to_provision, vn))
		json_object_del(spec, "volumeName");
}

static int prepare_pv(json_t *obj, const stow_restore_plan *p)
{
	json_t *cr = json_object_get(json_object_get(obj, "spec"), "claimRef");
	const char *cns = jstr(cr, "namespace");

	del_keys(
	    json_object_get(json_object_get(obj, "metadata"), "annotations"),
	    binding_annotations, N_OF(binding_annotations));
	if (!json_is_object(cr))
		return 0;
	json_object_del(cr, "uid");
	json_object_del(cr, "resourceVersion");
	if (cns) {
		const char *t = stow_restore_plan_target_namespace(p, cns);

		if (t != cns &&
		    json_object_set_new(cr, "namespace", json_string(t)))
			return STOW_ENOMEM;
	}
	return 0;
}

int stow_restore_prepare(const stow_restore_item_ctx *c, const char *gr,
			 const char *ns, json_t *obj, json_t **status_out,
			 json_t **managed_out)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *managed, *labels;
	char v[64];
	int rc = 0;

	if (status_out)
		*status_out = NULL;
	if (managed_out)
		*managed_out = NULL;
	if (!json_is_object(md))
		return stow_err_set(STOW_EINVAL, "the item has no metadata");
	if (status_out && json_is_object(json_object_get(obj, "status")) &&
	    stow_restore_plan_restore_status(c->plan, gr, obj))
		*status_out = json_incref(json_object_get(obj, "status"));
	managed = json_object_get(md, "managedFields");
	managed = json_is_array(managed) ? json_incref(managed) : NULL;
	stow_restore_strip(obj, 0);

	if (ns) {
		if (json_object_set_new(
			md, "namespace",
			json_string(
			    stow_restore_plan_target_namespace(c->plan, ns))))
			rc = STOW_ENOMEM;
	} else {
		json_object_del(md, "namespace");
	}
	labels = ensure_object(md, "labels");
	if (!labels)
		rc = STOW_ENOMEM;
	if (rc == 0) {
		stow_restore_label_value(c->backup_name, v);
		if (json_object_set_new(labels, "velero.io/backup-name",
					json_string(v)))
			rc = STOW_ENOMEM;
		stow_restore_label_value(c->restore_name, v);
		if (json_object_set_new(labels, "velero.io/restore-name",
					json_string(v)))
			rc = STOW_ENOMEM;
	}
	if (rc == 0) {
		if (strcmp(gr, "pods") == 0)
			prepare_pod(obj);
		else if (strcmp(gr, "jobs.batch") == 0)
			prepare_job(obj);
		else if (strcmp(gr, "serviceaccounts") == 0)
			prepare_service_account(obj);
		else if (strcmp(gr, "services") == 0)
			rc = prepare_service(
			    obj, managed,
			    stow_restore_plan_preserve_node_ports(c->plan));
		else if (strcmp(gr, "persistentvolumeclaims") == 0)
			prepare_pvc(obj, c->pvs_to_provision);
		else if (strcmp(gr, "persistentvolumes") == 0)
			rc = prepare_pv(obj, c->plan);
	}
	if (rc == 0 && managed_out && managed && json_array_size(managed))
		*managed_out = json_incref(managed);
	json_decref(managed);
	if (rc < 0 && status_out) {
		json_decref(*status_out);
		*status_out = NULL;
	}
	return rc;
}

stow_restore_pv_action stow_restore_pv_decide(const json_t *pv,
					      const json_t *volume_info,
					      const char **reason)
{
	const char *name = jstr(json_object_get(pv, "metadata"), "name");
	const char *reclaim =
	    jstr(json_object_get(pv, "spec"), "persistentVolumeReclaimPolicy");
	bool del = reclaim && strcmp(reclaim, "Delete") == 0;
	const json_t *vi = NULL;
	size_t i;
	json_t *e;

	if (reason)
		*reason = NULL;
	json_array_foreach(volume_info, i, e)
	{
		const char *pn = jstr(e, "pvName");

		if (name && pn && strcmp(pn, name) == 0) {
			vi = e;
			break;
		}
	}
	if (vi) {
		const char *m = jstr(vi, "backupMethod");

		if (m && strcmp(m, "PodVolumeBackup") == 0) {
			if (reason)
				*reason = "its data comes back through a pod "
					  "volume restore into a dynamically "
					  "provisioned volume";
			return STOW_RESTORE_PV_PROVISION;
		}
		if (m && strcmp(m, "CSISnapshot") == 0) {
			if (reason)
				*reason = "it is provisioned anew from its CSI "
					  "snapshot";
			return STOW_RESTORE_PV_PROVISION;
		}
		if (m && strcmp(m, "NativeSnapshot") == 0) {
			if (reason)
				*reason =
				    "it has a native snapshot and stowage "
				    "has no volume snapshotter: it is "
				    "provisioned anew, empty";
			return STOW_RESTORE_PV_NO_SNAPSHOTTER;
		}
	}
	if (del) {
		if (reason)
			*reason = "it has no snapshot and its reclaim policy "
				  "is Delete: dynamically re-provisioned";
		return STOW_RESTORE_PV_PROVISION;
	}
	return STOW_RESTORE_PV_RESTORE;
}

/* Keys of src missing from dst[key] are added (dst's values win). */
static int merge_missing_keys(json_t *dst, const json_t *src, const char *key)
{
	const json_t *from = json_object_get(src, key);
	json_t *to;
	const char *k;
	json_t *v;

	if (!json_is_object(from) || json_object_size(from) == 0)
		return 0;
	to = ensure_object(dst, key);
	if (!to)
		return STOW_ENOMEM;
	json_object_foreach(
	    (json_t *)from, k,
	    v) if (!json_object_get(to, k) &&
		   json_object_set(to, k, v)) return STOW_ENOMEM;
	return 0;
}

/* Entries of src[key] whose name dst[key] lacks are appended. */
static int merge_refs(json_t *dst, const json_t *src, const char *key)
{
	const json_t *from = json_object_get(src, key);
	json_t *to = json_object_get(dst, key);
	size_t i;
	json_t *e;

	if (!json_is_array(from) || json_array_size(from) == 0)
		return 0;
	if (!json_is_array(to)) {
		to = json_array();
		if (!to || json_object_set_new(dst, key, to))
			return STOW_ENOMEM;
	}
	json_array_foreach(from, i, e)
	{
		const char *n = jstr(e, "name");
		size_t j;
		json_t *have;
		int found = 0;

		if (!n)
			continue;
		json_array_foreach(to, j, have)
		{
			const char *hn = jstr(have, "name");

			if (hn && strcmp(hn, n) == 0)
				found = 1;
		}
		if (!found && json_array_append_new(to, json_deep_copy(e)))
			return STOW_ENOMEM;
	}
	return 0;
}

json_t *stow_restore_merge_service_account(const json_t *cluster,
					   const json_t *backup)
{
	json_t *d = json_deep_copy(cluster);
	json_t *md = d ? ensure_object(d, "metadata") : NULL;
	const json_t *bmd = json_object_get(backup, "metadata");

	if (!md || merge_missing_keys(md, bmd, "labels") < 0 ||
	    merge_missing_keys(md, bmd, "annotations") < 0 ||
	    merge_refs(d, backup, "secrets") < 0 ||
	    merge_refs(d, backup, "imagePullSecrets") < 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

json_t *stow_restore_merge_patch(const json_t *from, const json_t *to)
{
	json_t *patch = json_object();
	const char *k;
	json_t *v;

	if (!patch)
		return NULL;
	json_object_foreach((json_t *)to, k, v)
	{
		json_t *fv = json_object_get(from, k);
		json_t *pv;

		if (fv && json_equal(fv, v))
			continue;
		if (json_is_object(fv) && json_is_object(v))
			pv = stow_restore_merge_patch(fv, v);
		else
			pv = json_deep_copy(v);
		if (!pv || json_object_set_new(patch, k, pv)) {
			json_decref(patch);
			return NULL;
		}
	}
	json_object_foreach((json_t *)from, k, v)
	{
		if (json_object_get(to, k))
			continue;
		if (json_object_set_new(patch, k, json_null())) {
			json_decref(patch);
			return NULL;
		}
	}
	return patch;
}

int stow_restore_pod_volumes_prepare(const json_t *pvbs, const char *orig_ns,
				     const char *orig_name, json_t *pod,
				     size_t *n_volumes)
{
	(void)pvbs;
	(void)orig_ns;
	(void)orig_name;
	(void)pod;
	*n_volumes = 0;
	return 0;
}
