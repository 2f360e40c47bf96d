/* Restore planning: the pure decisions of a Velero restore (velero-spec
 * §6), with no I/O, so they can be unit-tested on JSON alone.
 *
 * - the spec of a Restore parsed and validated (status.validationErrors
 *   messages as Velero words them where the spec gives them);
 * - which items are restored: namespace globs, resource include/exclude,
 *   the includeClusterResources rule, labelSelector / orLabelSelectors,
 *   the must-have resources, the items Velero always skips (terminal
 *   pods, mirror pods, completed Jobs);
 * - the order: CRDs first, then Velero's high priorities, the other
 *   resources alphabetically, then the low priorities (§6.1);
 * - the namespace mapping;
 * - the per-item transforms done before create: server-set metadata
 *   stripped, status kept only where restoreStatus asks, the restore
 *   labels, and the built-in actions Velero runs (pod, job, service, PVC,
 *   PV binding reset);
 * - the PV decision (restore as-is, or leave to dynamic provisioning);
 * - a JSON merge patch from the cluster's version to the backed-up one
 *   (existingResourcePolicy: update).
 *
 * Group-resources ("gr") are spelled as in the tarball: the plural, then
 * "." and the group unless core ("pods", "deployments.apps").
 *
 * Untrusted input: item objects come from a backup tarball; every
 * function here tolerates any JSON shape (wrong types are treated as
 * absent) and never trusts sizes.
 *
 * Thread safety: a plan is read-only after stow_restore_plan_new and
 * stow_restore_plan_resolve, and may then be shared. */
#ifndef STOW_VELERO_RESTORE_PLAN_H
#define STOW_VELERO_RESTORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct stow_restore_plan stow_restore_plan;

/* Parse a Restore's spec. Problems a user must fix are appended, as
 * strings, to validation_errors (a JSON array; the restore then goes to
 * FailedValidation); the return is 0 even then. STOW_ENOMEM only.
 * *out is the caller's (stow_restore_plan_free). spec may be NULL. */
int stow_restore_plan_new(stow_restore_plan **out, const json_t *spec,
			  json_t *validation_errors);
void stow_restore_plan_free(stow_restore_plan *p);

/* Turn what the user typed in included/excluded resources and
 * restoreStatus ("deploy", "Deployment", "configmaps") into group-
 * resources: fn writes the gr of name into out and returns 0, or returns
 * < 0 for a name it cannot resolve (kept as typed, so globs and unknown
 * types still match by name). Call before sharing the plan. */
typedef int (*stow_restore_resolve_fn)(void *ctx, const char *name, char *out,
				       size_t outsz);
void stow_restore_plan_resolve(stow_restore_plan *p, stow_restore_resolve_fn fn,
			       void *ctx);

/* existingResourcePolicy "update". */
bool stow_restore_plan_update_existing(const stow_restore_plan *p);
/* preserveNodePorts. */
bool stow_restore_plan_preserve_node_ports(const stow_restore_plan *p);

/* 1 if the namespace passes includedNamespaces/excludedNamespaces. */
int stow_restore_plan_namespace_included(const stow_restore_plan *p,
					 const char *ns);
/* 1 if the namespace filter includes everything (empty or "*" includes,
 * no excludes). */
int stow_restore_plan_all_namespaces(const stow_restore_plan *p);
/* 1 if the resource passes includedResources/excludedResources (and is
 * not one of Velero's non-restorable resources). */
int stow_restore_plan_resource_included(const stow_restore_plan *p,
					const char *gr);
/* The includeClusterResources rule for a cluster-scoped resource other
 * than namespaces: false never, true always, unset only when every
 * namespace is included. */
int stow_restore_plan_cluster_included(const stow_restore_plan *p);
/* The label selectors against an item's labels (a JSON object or NULL):
 * 1 when selected (no selector selects everything). */
int stow_restore_plan_selected(const stow_restore_plan *p,
			       const json_t *labels);
/* namespaceMapping[ns] or ns itself (borrowed from the plan or ns). */
const char *stow_restore_plan_target_namespace(const stow_restore_plan *p,
					       const char *ns);

/* The decision for one item read from the backup. */
typedef enum stow_restore_admit {
	STOW_RESTORE_ADMIT = 0, /* restore it */
	STOW_RESTORE_FILTERED,	/* not selected by the restore's filters */
	STOW_RESTORE_SKIP,	/* selected, but Velero never restores it
				   (reason says why; logged as info) */
} stow_restore_admit;

/* Filters and skip rules for an item of gr (ns NULL for cluster-scoped),
 * as stored in the backup. *reason (may be NULL) gets a static string for
 * STOW_RESTORE_SKIP. PVs pulled in by a restored PVC (additional items)
 * are decided by the caller with stow_restore_plan_additional_pv. */
stow_restore_admit stow_restore_plan_admit(const stow_restore_plan *p,
					   const char *gr, const char *ns,
					   const json_t *obj,
					   const char **reason);
/* A cluster-scoped PV that a restored PVC names: restored as an
 * additional item unless includeClusterResources is false or PVs are
 * excluded by name. */
int stow_restore_plan_additional_pv(const stow_restore_plan *p);

/* 1 if status is restored for this item: restoreStatus selects gr (or
 * the item's annotation velero.io/restore-status says "true"; "false"
 * wins over the spec). */
int stow_restore_plan_restore_status(const stow_restore_plan *p, const char *gr,
				     const json_t *obj);

/* ---- order ---- */

/* Rank of a gr in Velero's restore order: CRDs 0, the high priorities
 * 1.., then every other resource (ties broken alphabetically by the
 * caller's sort), then the low priorities. */
int stow_restore_priority(const char *gr);
/* Sort grs in place into restore order (rank, then bytewise). */
void stow_restore_order(const char **grs, size_t n);

/* ---- transforms ---- */

/* Velero's resetMetadata + resetStatus: drop metadata generateName,
 * selfLink, uid, resourceVersion, generation, creationTimestamp,
 * deletionTimestamp, deletionGracePeriodSeconds, ownerReferences and
 * managedFields (re-applied after create, see restore_ctl.c), and
 * .status unless keep_status. */
void stow_restore_strip(json_t *obj, int keep_status);

/* A label value as Velero's GetValidName: the value itself up to 63
 * characters, else its first 57 characters and the first 6 hex digits
 * of its SHA-256. out must hold 64 bytes. */
void stow_restore_label_value(const char *v, char out[64]);

/* Set of PV names, for the PVC rules: PVs left to dynamic provisioning
 * (PVCs naming them lose spec.volumeName). A JSON object used as a set
 * (keys); the caller owns it. */

/* Everything stow_restore_prepare needs about the restore. */
typedef struct stow_restore_item_ctx {
	const stow_restore_plan *plan;
	const char *backup_name;
	const char *restore_name;
	const json_t *pvs_to_provision; /* object used as a set; may be NULL */
} stow_restore_item_ctx;

/* Turn a backed-up item of gr into what is created: metadata stripped
 * (status kept per restoreStatus in *status_out: a new reference or
 * NULL), namespace set to the mapped target, labels velero.io/backup-name
 * and velero.io/restore-name added, then the built-in actions:
 *   pods: spec.nodeName and spec.priority cleared, service-account token
 *         volumes (<serviceAccountName>-token-*) and their mounts removed;
 *   serviceaccounts: the <name>-token-* secret references removed;
 *   jobs.batch: the controller-uid labels dropped from the selector and
 *         the pod template;
 *   services: clusterIP/clusterIPs cleared unless headless ("None");
 *         nodePorts and healthCheckNodePort dropped unless preserveNodePorts
 *         or set explicitly (last-applied-configuration or managedFields);
 *   persistentvolumeclaims: binding and provisioner annotations removed;
 *         spec.volumeName removed when its PV is to be provisioned;
 *   persistentvolumes: binding reset (claimRef uid/resourceVersion, bind
 *         annotations), claimRef.namespace remapped.
 * managedFields of the item are returned in *managed_out (new reference
 * or NULL) for the patch after create. ns is the item's namespace in the
 * backup (NULL for cluster-scoped). STOW_EINVAL if obj has no metadata
 * object. */
int stow_restore_prepare(const stow_restore_item_ctx *c, const char *gr,
			 const char *ns, json_t *obj, json_t **status_out,
			 json_t **managed_out);

/* What to do with a PersistentVolume (§6.3.2). volume_info is the
 * backup's BackupVolumeInfo array (may be NULL for old backups). */
typedef enum stow_restore_pv_action {
	STOW_RESTORE_PV_RESTORE,   /* create as-is (binding reset) */
	STOW_RESTORE_PV_PROVISION, /* not restored: its PVC provisions anew */
	STOW_RESTORE_PV_NO_SNAPSHOTTER, /* as PROVISION, but data is lost:
					   a native snapshot we cannot
					   restore (a warning) */
} stow_restore_pv_action;
stow_restore_pv_action stow_restore_pv_decide(const json_t *pv,
					      const json_t *volume_info,
					      const char **reason);

/* Velero's mergeServiceAccounts, for a ServiceAccount that exists: the
 * cluster's object with the backed-up labels and annotations it lacks
 * (existing keys keep their values) and the backed-up secrets and
 * imagePullSecrets it lacks (by name) appended. A new reference; NULL on
 * allocation failure. */
json_t *stow_restore_merge_service_account(const json_t *cluster,
					   const json_t *backup);

/* RFC 7386 merge patch that turns `from` into `to` (both objects):
 * members of to that differ are set (objects recursively), members only
 * in from are set to null. A new reference; an empty object when equal;
 * NULL on allocation failure. */
json_t *stow_restore_merge_patch(const json_t *from, const json_t *to);

/* ---- the pod-volume seam ---- */

/* Per restored pod, before it is created: the place where the pod-volume
 * restore (velero-spec §6.5) prepends the `restore-wait` init container
 * for the volumes that have a completed PodVolumeBackup in `pvbs` (the
 * backup's <name>-podvolumebackups.json.gz array, may be NULL), matched
 * by the pod's namespace and name in the backup (orig_ns/orig_name).
 * *n_volumes gets the number of volumes to be filled, for the controller
 * to create PodVolumeRestores after the pod exists. Today it changes
 * nothing and reports 0: the node agent is the next issue. */
int stow_restore_pod_volumes_prepare(const json_t *pvbs, const char *orig_ns,
				     const char *orig_name, json_t *pod,
				     size_t *n_volumes);

#endif
