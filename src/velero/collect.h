/* Backup item collection (velero-spec §4): which objects of a cluster a
 * Backup holds, found the way Velero's item collector and item backupper
 * find them.
 *
 * Two halves:
 * - The filter (pure, unit-tested): a Backup spec turned into namespace
 *   globs, old-style (includedResources / excludedResources /
 *   includeClusterResources) or new-style (included/excluded Cluster /
 *   NamespaceScopedResources) type filters, a labelSelector or
 *   orLabelSelectors; with Velero's validation messages. Plus Velero's
 *   order of the discovered resource types.
 * - The run: discovery at preferred versions, paged lists per type and
 *   namespace (one list per selector; orderedResources first), the
 *   exclusion label, objects being
 *   deleted skipped, each item once, related items (pod -> PVCs and
 *   PriorityClass, bound PVC -> PV, ServiceAccount -> ClusterRoleBindings
 *   and their ClusterRoles), namespaces tracked, CRDs of the custom
 *   resources backed up. Every item goes to a callback (the tarball);
 *   memory holds one page of one list, the keys of the items done, and
 *   the resource list - never the items.
 *
 * Errors: 0 or a negative STOW_E* code with the thread-local message.
 * Threading: a filter is immutable once built and may be shared; a run
 * uses its caller's thread. */
#ifndef STOW_VELERO_COLLECT_H
#define STOW_VELERO_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/kube.h"
#include "util/log.h"

#define STOW_EXCLUDE_LABEL "velero.io/exclude-from-backup"

/* A list of owned strings. */
typedef struct stow_strv {
	char **v;
	size_t n;
} stow_strv;

typedef struct stow_collect_filter {
	stow_strv inc_ns, exc_ns; /* globs; include empty means "*" */
	bool new_style;		  /* the scoped filters are in use */
	/* old style: "resource.group" names (or globs) after resolution */
	stow_strv inc_res, exc_res;
	int include_cluster; /* includeClusterResources: -1 nil, 0, 1 */
	/* new style */
	stow_strv inc_cluster, exc_cluster, inc_nsres, exc_nsres;
	/* selectors (owned references; NULL when not set) */
	json_t *label_selector; /* a LabelSelector object */
	json_t *or_selectors;	/* an array of them */
	/* spec.orderedResources: plural -> "ns/name,ns/name" (or "name"
	 * for cluster-scoped); those items of the type come first, in that
	 * order. Owned reference or NULL. */
	json_t *ordered;
} stow_collect_filter;

/* Maps what a user wrote in a resource filter ("cm", "deploy",
 * "deployments.apps") to "resource.group" ("configmaps",
 * "deployments.apps") into out; nonzero when unknown. */
typedef int (*stow_collect_resolve_fn)(void *ctx, const char *name, char *out,
				       size_t outsz);

/* Build f from a Backup spec (may be NULL). Validation problems are
 * appended to `errors` (a JSON array, may be NULL) as Velero words them,
 * and f is still built. resolve may be NULL (names kept as written);
 * names it does not know are kept as written too, so they match nothing
 * (Velero drops them, which turns "include foo" into "include all").
 * Returns 0, or STOW_ENOMEM. f is the caller's (stow_collect_filter_free)
 * either way. */
int stow_collect_filter_init(stow_collect_filter *f, const json_t *spec,
			     stow_collect_resolve_fn resolve, void *ctx,
			     json_t *errors);
void stow_collect_filter_free(stow_collect_filter *f);
/* Add a namespace to the excluded ones (namespaces labelled
 * velero.io/exclude-from-backup=true). */
int stow_collect_filter_exclude_ns(stow_collect_filter *f, const char *ns);

/* Glob match as Velero's wildcards: '*', '?', "[...]" (fnmatch without
 * flags; '*' also crosses '.' and '/'). */
bool stow_collect_glob(const char *pattern, const char *s);

/* The namespace filter takes every namespace (include empty or "*", no
 * excludes): Velero's IncludeEverything. */
bool stow_collect_ns_everything(const stow_collect_filter *f);
/* The namespace include list has "*" (or is empty): one list across all
 * namespaces, filtered here, instead of one per namespace. */
bool stow_collect_ns_include_all(const stow_collect_filter *f);
bool stow_collect_ns_included(const stow_collect_filter *f, const char *ns);

/* Whether items of a type found by listing are backed up: gr is
 * "resource.group" (core: "pods"); "namespaces" is cluster-scoped but
 * never dropped by the cluster-scope rules. */
bool stow_collect_type_included(const stow_collect_filter *f, const char *gr,
				bool namespaced);
/* The same for a related item pulled in by another one (a PVC's PV): a
 * cluster-scoped related item is dropped only when explicitly excluded
 * (or includeClusterResources is false, or, old style, its type is not
 * in a non-empty include list). */
bool stow_collect_related_included(const stow_collect_filter *f, const char *gr,
				   bool namespaced);
/* Whether the CRDs of backed-up custom resources are added: not when
 * includeClusterResources is false or CRDs are excluded, nor when they
 * are explicitly included (they are collected as a type then). */
bool stow_collect_crds_wanted(const stow_collect_filter *f);

/* Label selectors. match: Kubernetes semantics (matchLabels, and
 * matchExpressions with In, NotIn, Exists, DoesNotExist; an empty
 * selector matches everything); labels may be NULL. */
bool stow_collect_selector_match(const json_t *selector, const json_t *labels);
/* The selector as the API's labelSelector query value ("a=b,c in (d,e),
 * !f"), appended to out. STOW_EINVAL (message says why) for a malformed
 * selector. */
int stow_collect_selector_string(const json_t *selector, stow_buf *out);
/* The item's labels pass labelSelector / any of orLabelSelectors (true
 * when neither is set). */
bool stow_collect_labels_selected(const stow_collect_filter *f,
				  const json_t *labels);
/* velero.io/exclude-from-backup=true among the labels. */
bool stow_collect_excluded_by_label(const json_t *labels);

/* Velero's order of the types to collect, from discovery's preferred
 * resources in server order: only types with the verbs list, create, get
 * and delete, no subresources, without VolumeSnapshots and
 * VolumeSnapshotContents; group "extensions" last; in the core group
 * pods, persistentvolumeclaims, persistentvolumes first; cohabiting types
 * (deployments, daemonsets, replicasets in extensions/apps,
 * networkpolicies in extensions/networking.k8s.io, events in
 * core/events.k8s.io) once, in the first group met. out has room for n;
 * returns how many were written. */
size_t stow_collect_order(const stow_kube_resource *const *in, size_t n,
			  const stow_kube_resource **out);

/* "resource.group" of r ("pods", "deployments.apps") into out. */
int stow_collect_gr(const stow_kube_resource *r, char *out, size_t outsz);

/* ---- the run ----------------------------------------------------------- */

typedef struct stow_collect_cbs {
	/* Write one item (obj is the object as the API returned it, with
	 * apiVersion and kind set; gr as above). Nonzero stops the run and
	 * is returned: a failed write is fatal for the backup. */
	int (*item)(void *ctx, const stow_kube_resource *r, const char *gr,
		    json_t *obj);
	/* Called once per pod backed up, after the pod: where pod volume
	 * backups will be started (may be NULL). Nonzero is logged as an
	 * error of that pod, not fatal. */
	int (*pod)(void *ctx, json_t *pod);
	/* Items known and items written so far (may be NULL); called after
	 * every item, rate-limit it yourself. */
	void (*progress)(void *ctx, uint64_t total, uint64_t done);
	/* Nonzero: give up now (the run returns STOW_EINTR). May be NULL. */
	int (*stopping)(void *ctx);
	void *ctx;
} stow_collect_cbs;

typedef struct stow_collect_result {
	uint64_t total, done;
	json_t *resource_list; /* "<apiVersion>/<Kind>" -> ["ns/name"...],
				  sorted (layout.h); caller's reference */
	json_t *results;       /* {"errors":..., "warnings":...} (layout.h);
				  caller's reference */
} stow_collect_result;

/* Collect everything f selects, in Velero's order, logging to log (may
 * be NULL; errors and warnings are also recorded in res->results with
 * Velero's message shape). page_size 0 means 500. A list that fails is an
 * error of that type and the run goes on; a failing item callback ends
 * the run with its code. res is filled also on failure (free with
 * stow_collect_result_free). */
int stow_collect_run(stow_kube *k, const stow_collect_filter *f, long page_size,
		     stow_log *log, const stow_collect_cbs *cbs,
		     stow_collect_result *res);
void stow_collect_result_free(stow_collect_result *res);

#endif
