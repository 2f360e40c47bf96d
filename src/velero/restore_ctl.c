/* The Restore controller (velero-spec §1.2, §2.3, §6): validates a new
 * Restore, reads its backup's tarball from the location as hostile input,
 * restores the items in Velero's order with its filters, mapping and
 * transforms (restore_plan.h), and uploads logs, results and the
 * resource list under restores/<name>/.
 *
 * Flow of one restore (one worker; a restore runs inside reconcile):
 *   New/"" -> validate -> FailedValidation (status.validationErrors)
 *                      -> InProgress (startTimestamp)
 *   read the tarball once, streaming: every admitted item is spilled as
 *   one JSON line into a per-resource file of a private temp dir (memory
 *   holds one item; the order needs the whole set) -> restore the
 *   resources in order -> upload -> Completed / PartiallyFailed (errors
 *   were recorded) / Failed (failureReason: the restore could not run).
 *
 * A restore the server finds InProgress when it starts leading was cut
 * off by a crash or a lost lease: it is marked Failed, as Velero does.
 *
 * Hostile tarballs: the reader (tarball.h) rejects the whole stream at an
 * unsafe entry (a ".." or absolute path, a link, a device, an oversize
 * entry). The items read before that entry were each validated, so they
 * are still restored; the rejection is an error of the restore (so it
 * ends PartiallyFailed) naming the entry. Bad items (broken JSON, names
 * that differ from their path) are errors, and the walk goes on. Nothing
 * from the tarball names a file here: spill files are numbered. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "velero/bsl.h"
#include "velero/controllers.h"
#include "velero/gzjson.h"
#include "velero/layout.h"
#include "velero/restore_plan.h"
#include "velero/server.h"
#include "velero/server_metrics.h"
#include "velero/tarball.h"

#define CTL "restore"
#define PLURAL "restores"
/* Velero's: deleting the Restore deletes restores/<name>/ first. */
#define FINALIZER "restores.velero.io/external-resources-finalizer"
/* Distinct resource types a backup may hold (one spill file each). */
#define MAX_RESOURCE_TYPES 1024
/* Captured restore log uploaded as restore-<name>-logs.gz. */
#define LOG_CAP ((size_t)64 << 20)
/* How long a restored CRD may take to become Established. */
#define CRD_WAIT_S 60
/* How long to wait for a terminating namespace (Velero's
 * --terminating-resource-timeout is 10m). */
#define NS_TERMINATING_WAIT_S 600

typedef struct spill {
	char *gr;
	FILE *f;
	uint64_t n;
} spill;

typedef struct run {
	stow_velero_server *srv;
	stow_kube *k;
	const char *ns, *name;
	char key[600]; /* "ns/name" for logs */
	stow_restore_plan *plan;
	const char *backup_name;
	stow_log *log;
	json_t *results;
	json_t *resource_list;
	char dir[PATH_MAX]; /* spill dir, "" when none */
	spill *sp;
	size_t nsp;
	json_t *ns_objects;   /* backed-up Namespace objects by name */
	json_t *pvc_volumes;  /* set: PVs named by admitted PVCs */
	json_t *to_provision; /* set: PVs left to dynamic provisioning */
	json_t *ensured;      /* set: target namespaces known to exist */
	json_t *volume_info;  /* the backup's volumeinfo array or NULL */
	json_t *pvbs;	      /* the backup's podvolumebackups or NULL */
	json_t *crds;	      /* names of CRDs created or updated */
	uint64_t total, done;
	time_t last_progress;
} run;

/* ---- status ---- */

static void now_str(char out[32])
{
	stow_velero_time_format(time(NULL), out);
}

/* Merge-patch the Restore with {"status": status} (no status subresource
 * on Velero's CRDs: the whole object is patched). Steals status. */
static int patch_status(stow_velero_server *srv, const char *ns,
			const char *name, json_t *status)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, PLURAL);
	json_t *patch = json_pack("{s:o}", "status", status);
	char *body;
	int rc;

	if (!r || !patch) {
		json_decref(patch);
		return stow_err_set(STOW_ENOTFOUND,
				    "restores.velero.io is not served");
	}
	body = json_dumps(patch, JSON_COMPACT);
	json_decref(patch);
	if (!body)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = stow_kube_patch(stow_velero_server_kube(srv), r, ns, name,
			     STOW_KUBE_PATCH_MERGE, body, false, NULL);
	free(body);
	return rc;
}

/* ---- logging and results ---- */

/* One message: into the results (errors or warnings, scope by
 * namespace: tns for a namespaced item, "" for a cluster-scoped one,
 * NULL for the restore as a whole) and the restore's log. */
static void report(run *r, int warning, const char *tns, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(run *r, int warning, const char *tns, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)stow_velero_results_add(r->results, warning,
				      !tns ? STOW_VELERO_SCOPE_VELERO
					   : (*tns ? STOW_VELERO_SCOPE_NAMESPACE
						   : STOW_VELERO_SCOPE_CLUSTER),
				      tns, msg);
	/* The capture logger forwards to the server's log. */
	stow_log_write(r->log, warning ? STOW_LOG_WARNING : STOW_LOG_ERROR,
		       __FILE__, __LINE__, msg, (const char *)NULL);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *md_str(const json_t *o, const char *key)
{
	return jstr(json_object_get(o, "metadata"), key);
}

/* ---- validation ---- */

/* The newest Completed backup labelled velero.io/schedule-name=sched. */
static json_t *latest_of_schedule(stow_velero_server *srv, const char *ns,
				  const char *sched)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, "backups");
	stow_kube_list_opts lo = {0};
	char sel[400];
	json_t *list = NULL, *best = NULL, *b;
	const char *best_ts = "";
	size_t i;

	if (!r)
		return NULL;
	snprintf(sel, sizeof(sel), "velero.io/schedule-name=%s", sched);
	lo.label_selector = sel;
	if (stow_kube_list(stow_velero_server_kube(srv), r, ns, &lo, &list) < 0)
		return NULL;
	json_array_foreach(json_object_get(list, "items"), i, b)
	{
		const json_t *st = json_object_get(b, "status");
		const char *phase = jstr(st, "phase");
		const char *ts = jstr(st, "startTimestamp");

		if (!phase || strcmp(phase, "Completed") != 0)
			continue;
		if (!ts)
			ts = md_str(b, "creationTimestamp");
		/* RFC 3339 UTC strings of one format sort as times. */
		if (!best || (ts && strcmp(ts, best_ts) > 0)) {
			best = b;
			best_ts = ts ? ts : "";
		}
	}
	if (best)
		json_incref(best);
	json_decref(list);
	return best;
}

static int resolve_resource(void *ctx, const char *name, char *out,
			    size_t outsz)
{
	const stow_kube_resource *res = NULL;
	int n;

	if (stow_kube_resource_lookup(ctx, name, &res) < 0)
		return -1;
	n = res->group && *res->group
		? snprintf(out, outsz, "%s.%s", res->resource, res->group)
		: snprintf(out, outsz, "%s", res->resource);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Validate the Restore; on success *backup is the Backup to restore and
 * *plan the parsed spec. Returns 1 when the restore went to
 * FailedValidation, 2 when its location was not validated yet (try
 * again soon), 0 to go on, < 0 on failure. */
static int validate(stow_velero_server *srv, const char *ns, const char *name,
		    const json_t *restore, json_t **backup,
		    stow_restore_plan **plan)
{
	const json_t *spec = json_object_get(restore, "spec");
	const char *bname = jstr(spec, "backupName");
	const char *sched = jstr(spec, "scheduleName");
	json_t *errs = json_array();
	json_t *b = NULL;
	int rc;

	*backup = NULL;
	*plan = NULL;
	if (!errs)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (bname && !*bname)
		bname = NULL;
	if (sched && !*sched)
		sched = NULL;
	rc = stow_restore_plan_new(plan, spec, errs);
	if (rc < 0) {
		json_decref(errs);
		return rc;
	}
	if (!bname == !sched) {
		json_array_append_new(
		    errs, json_string("Either a backup or schedule must be "
				      "specified as a source for the restore, "
				      "but not both"));
	} else if (sched) {
		b = latest_of_schedule(srv, ns, sched);
		if (!b)
			json_array_append_new(
			    errs, json_string("No completed backups found for "
					      "schedule"));
	} else {
		char m[600];

		b = stow_velero_server_get(srv, "backups", ns, bname);
		if (!b) {
			snprintf(m, sizeof(m),
				 "Error retrieving backup: backups.velero.io "
				 "\"%s\" not found",
				 bname);
			json_array_append_new(errs, json_string(m));
		}
	}
	if (b) {
		const char *phase = jstr(json_object_get(b, "status"), "phase");

		if (!phase || (strcmp(phase, "Completed") != 0 &&
			       strcmp(phase, "PartiallyFailed") != 0)) {
			char m[600];

			snprintf(m, sizeof(m),
				 "backup \"%s\" is in phase %s: only Completed "
				 "or PartiallyFailed backups can be restored",
				 md_str(b, "name") ? md_str(b, "name") : "",
				 phase ? phase : "New");
			json_array_append_new(errs, json_string(m));
		}
	}
	if (b && json_array_size(errs) == 0) {
		/* The backup's location must be Available (Velero). One not
		 * validated yet is waited for: the BSL controller checks new
		 * locations at once. */
		const char *bn =
		    jstr(json_object_get(b, "spec"), "storageLocation");
		json_t *bsl;
		const char *bphase;
		char m[600];

		if (!bn || !*bn)
			bn = stow_velero_server_opts_of(srv)->default_bsl;
		bsl =
		    stow_velero_server_get(srv, STOW_VELERO_BSL_PLURAL, ns, bn);
		bphase = jstr(json_object_get(bsl, "status"), "phase");
		if (!bsl) {
			snprintf(m, sizeof(m),
				 "Error retrieving backup: "
				 "backupstoragelocations.velero.io \"%s\" not "
				 "found",
				 bn);
			json_array_append_new(errs, json_string(m));
		} else if (!bphase || !*bphase) {
			json_decref(bsl);
			json_decref(b);
			json_decref(errs);
			stow_restore_plan_free(*plan);
			*plan = NULL;
			return 2;
		} else if (strcmp(bphase, "Available") != 0) {
			snprintf(
			    m, sizeof(m),
			    "the BSL %s is unavailable, cannot retrieve the "
			    "backup",
			    bn);
			json_array_append_new(errs, json_string(m));
		}
		json_decref(bsl);
	}
	if (json_array_size(errs) > 0) {
		json_t *st = json_pack("{s:s,s:o}", "phase", "FailedValidation",
				       "validationErrors", errs);

		json_decref(b);
		stow_restore_plan_free(*plan);
		*plan = NULL;
		stow_velero_log(srv, STOW_VLOG_INFO, CTL,
				"restore failed validation", "restore", name,
				NULL);
		stow_velero_metrics_restore_validation_failed(
		    srv, stow_velero_metrics_restore_schedule(restore));
		rc = patch_status(srv, ns, name, st);
		return rc < 0 ? rc : 1;
	}
	json_decref(errs);
	stow_restore_plan_resolve(*plan, resolve_resource,
				  stow_velero_server_kube(srv));
	*backup = b;
	return 0;
}

/* ---- reading the tarball ---- */

static spill *spill_for(run *r, const char *gr)
{
	char path[PATH_MAX + 32];
	spill *ns;

	for (size_t i = 0; i < r->nsp; i++)
		if (strcmp(r->sp[i].gr, gr) == 0)
			return &r->sp[i];
	if (r->nsp == MAX_RESOURCE_TYPES)
		return NULL;
	ns = realloc(r->sp, (r->nsp + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	r->sp = ns;
	snprintf(path, sizeof(path), "%s/%zu.jsonl", r->dir, r->nsp);
	ns[r->nsp].gr = strdup(gr);
	ns[r->nsp].f = fopen(path, "w+e");
	ns[r->nsp].n = 0;
	if (!ns[r->nsp].gr || !ns[r->nsp].f) {
		free(ns[r->nsp].gr);
		if (ns[r->nsp].f)
			fclose(ns[r->nsp].f);
		return NULL;
	}
	return &r->sp[r->nsp++];
}

static int spill_item(run *r, const char *gr, const char *ns, json_t *obj)
{
	spill *s = spill_for(r, gr);
	json_t *line;
	int rc;

	if (!s)
		return stow_err_set(STOW_ENOMEM,
				    "cannot keep resource type %s (more than "
				    "%d types, or out of memory)",
				    gr, MAX_RESOURCE_TYPES);
	line = json_pack("[s?O]", ns, obj);
	if (!line)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = json_dumpf(line, s->f, JSON_COMPACT);
	json_decref(line);
	if (rc < 0 || fputc('\n', s->f) == EOF)
		return stow_err_set(STOW_EIO, "writing the restore's spill "
					      "file failed");
	s->n++;
	return 0;
}

static int on_item(void *ctx, const stow_velero_tar_item *it, json_t *obj)
{
	run *r = ctx;
	const char *reason = NULL;
	stow_restore_admit a;
	int rc;

	if (strcmp(it->gr, "namespaces") == 0 && it->name)
		json_object_set(r->ns_objects, it->name, obj);
	a = stow_restore_plan_admit(r->plan, it->gr, it->ns, obj, &reason);
	if (strcmp(it->gr, "persistentvolumes") == 0 && !it->ns &&
	    a == STOW_RESTORE_FILTERED &&
	    stow_restore_plan_additional_pv(r->plan))
		a = STOW_RESTORE_ADMIT; /* decided when its PVC is known */
	if (a == STOW_RESTORE_SKIP) {
		stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "skipping item", "resource", it->gr, "namespace",
			       it->ns ? it->ns : "", "name", it->name, "reason",
			       reason, (const char *)NULL);
		return 0;
	}
	if (a != STOW_RESTORE_ADMIT)
		return 0;
	if (strcmp(it->gr, "persistentvolumeclaims") == 0) {
		const char *vn =
		    jstr(json_object_get(obj, "spec"), "volumeName");

		if (vn && *vn)
			json_object_set_new(r->pvc_volumes, vn, json_true());
	}
	rc = spill_item(r, it->gr, it->ns, obj);
	if (rc < 0) {
		/* Out of room for this item: an error of the item. */
		report(r, 0,
		       it->ns
			   ? stow_restore_plan_target_namespace(r->plan, it->ns)
			   : "",
		       "error reading %s: %s", it->path, stow_err_msg());
		return 0;
	}
	r->total++;
	return 0;
}

static int on_item_error(void *ctx, const stow_velero_tar_item *it,
			 const char *msg)
{
	run *r = ctx;
	const char *tns = NULL;

	if (it->ns)
		tns = stow_restore_plan_target_namespace(r->plan, it->ns);
	else if (it->gr)
		tns = "";
	report(r, 0, tns, "error reading backup item %s: %s", it->path, msg);
	return 0;
}

/* ---- restoring ---- */

static void progress(run *r, int force)
{
	time_t now = time(NULL);
	json_t *st;

	if (!force && now == r->last_progress)
		return;
	r->last_progress = now;
	st = json_pack("{s:{s:I,s:I}}", "progress", "totalItems",
		       (json_int_t)r->total, "itemsRestored",
		       (json_int_t)r->done);
	if (st && patch_status(r->srv, r->ns, r->name, st) < 0)
		stow_log_write(r->log, STOW_LOG_DEBUG, __FILE__, __LINE__,
			       "progress update failed", "error",
			       stow_err_msg(), (const char *)NULL);
}

static void list_add(run *r, const json_t *obj, const char *tns,
		     const char *name, const char *action)
{
	const char *av = jstr(obj, "apiVersion"), *kind = jstr(obj, "kind");

	if (av && kind)
		(void)stow_velero_resource_list_add(r->resource_list, av, kind,
						    tns, name, action);
}

/* Make sure namespace tns exists and is not terminating; created from the
 * backed-up Namespace orig (labels, annotations, spec) if there is one.
 * *created tells whether this call created it. */
static int ensure_namespace(run *r, const char *orig, const char *tns,
			    int *created)
{
	const stow_kube_resource *res = NULL;
	json_t *cur = NULL, *obj;
	const json_t *src;
	int rc;

	*created = 0;
	if (json_object_get(r->ensured, tns))
		return 0;
	STOW_TRY(stow_kube_resource_for_kind(r->k, "v1", "Namespace", &res));
	for (int waited = 0;; waited++) {
		const char *phase;

		rc = stow_kube_get(r->k, res, NULL, tns, &cur);
		if (rc == STOW_ENOTFOUND)
			break;
		if (rc < 0)
			return rc;
		phase = jstr(json_object_get(cur, "status"), "phase");
		if (!json_object_get(json_object_get(cur, "metadata"),
				     "deletionTimestamp") &&
		    !(phase && strcmp(phase, "Terminating") == 0)) {
			json_decref(cur);
			json_object_set_new(r->ensured, tns, json_true());
			return 0;
		}
		json_decref(cur);
		cur = NULL;
		if (waited >= NS_TERMINATING_WAIT_S ||
		    stow_velero_server_stopping(r->srv))
			return stow_err_set(STOW_ETIMEOUT,
					    "namespace %s is still terminating",
					    tns);
		sleep(1);
	}
	src = orig ? json_object_get(r->ns_objects, orig) : NULL;
	obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind",
			"Namespace", "metadata", "name", tns);
	if (!obj)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (src) {
		const json_t *smd = json_object_get(src, "metadata");
		json_t *md = json_object_get(obj, "metadata");

		if (json_is_object(json_object_get(smd, "labels")))
			json_object_set(md, "labels",
					json_object_get(smd, "labels"));
		if (json_is_object(json_object_get(smd, "annotations")))
			json_object_set(md, "annotations",
					json_object_get(smd, "annotations"));
		if (json_is_object(json_object_get(src, "spec")))
			json_object_set(obj, "spec",
					json_object_get(src, "spec"));
	}
	rc = stow_kube_create(r->k, res, NULL, obj, NULL);
	json_decref(obj);
	if (rc == STOW_EEXIST)
		rc = 0;
	else if (rc == 0)
		*created = 1;
	if (rc == 0)
		json_object_set_new(r->ensured, tns, json_true());
	return rc;
}

/* A restored Namespace item: created (from its backed-up labels,
 * annotations and spec) when missing under its mapped name. */
static void restore_namespace(run *r, json_t *obj)
{
	const char *name = md_str(obj, "name");
	const char *tns;
	int created, rc;

	if (!name)
		return;
	tns = stow_restore_plan_target_namespace(r->plan, name);
	rc = ensure_namespace(r, name, tns, &created);
	if (rc < 0) {
		report(r, 0, tns, "error restoring namespaces/%s: %s", tns,
		       stow_err_msg());
		list_add(r, obj, NULL, tns, "failed");
		return;
	}
	list_add(r, obj, NULL, tns, created ? "created" : "skipped");
}

/* After create: the backed-up managedFields (Velero re-applies them by
 * patch) and, when restoreStatus selects the item, its status. */
static void after_create(run *r, const stow_kube_resource *res, const char *tns,
			 const char *name, const char *id, json_t *created,
			 json_t *managed, json_t *status)
{
	stow_kube *k = r->k;

	if (managed) {
		json_t *p = json_pack("{s:{s:O}}", "metadata", "managedFields",
				      managed);
		char *body = p ? json_dumps(p, JSON_COMPACT) : NULL;

		if (!body ||
		    stow_kube_patch(k, res, tns, name, STOW_KUBE_PATCH_MERGE,
				    body, false, NULL) < 0)
			stow_log_write(
			    r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			    "could not re-apply managedFields", "item", id,
			    "error", stow_err_msg(), (const char *)NULL);
		free(body);
		json_decref(p);
	}
	if (status && created) {
		json_t *upd = NULL;
		int rc;

		json_object_set(created, "status", status);
		rc = stow_kube_update(k, res, tns, created, res->has_status,
				      &upd);
		json_decref(upd);
		if (rc < 0)
			report(r, 1, tns ? tns : "",
			       "could not restore status of %s: %s", id,
			       stow_err_msg());
	}
}

/* The item exists: skipped when identical to the backed-up version
 * (after stripping both), else a warning (policy none) or a merge patch
 * to the backed-up version (policy update). Returns the action. */
static const char *on_exists(run *r, const stow_kube_resource *res,
			     const char *gr, const char *tns, const char *name,
			     const char *id, const json_t *desired)
{
	json_t *cur = NULL, *cmp, *labels, *patch;
	const char *kind = jstr(desired, "kind");
	char *body;
	int rc, same;

	rc = stow_kube_get(r->k, res, tns, name, &cur);
	if (rc < 0) {
		report(r, 0, tns ? tns : "", "error restoring %s: %s", id,
		       stow_err_msg());
		return "failed";
	}
	stow_restore_strip(cur, 0);
	/* Compared as Velero does: the cluster's copy, stripped, with the
	 * restore labels added. */
	cmp = json_deep_copy(cur);
	labels = json_object_get(json_object_get(cmp, "metadata"), "labels");
	if (cmp && !json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(json_object_get(cmp, "metadata"), "labels",
				    labels);
	}
	json_object_update(
	    labels,
	    json_object_get(json_object_get(desired, "metadata"), "labels"));
	same = cmp && json_equal(cmp, desired);
	json_decref(cmp);
	if (same) {
		stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "skipped: it already exists in the cluster and "
			       "is the same as the backed up version",
			       "item", id, (const char *)NULL);
		json_decref(cur);
		return "skipped";
	}
	if (strcmp(gr, "serviceaccounts") == 0) {
		/* Whatever the policy, Velero merges a ServiceAccount that
		 * exists (labels, annotations, secrets, imagePullSecrets). */
		json_t *merged =
		    stow_restore_merge_service_account(cur, desired);

		patch = merged ? stow_restore_merge_patch(cur, merged) : NULL;
		json_decref(merged);
		json_decref(cur);
		if (patch && json_object_size(patch) == 0) {
			json_decref(patch);
			return "skipped";
		}
		body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
		json_decref(patch);
		rc = body ? stow_kube_patch(r->k, res, tns, name,
					    STOW_KUBE_PATCH_MERGE, body, false,
					    NULL)
			  : stow_err_set(STOW_ENOMEM, "out of memory");
		free(body);
		if (rc < 0) {
			report(r, 1, tns ? tns : "",
			       "could not merge ServiceAccount \"%s\" into "
			       "the existing one: %s",
			       name, stow_err_msg());
			return "skipped";
		}
		stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "ServiceAccount merged into the existing one",
			       "item", id, (const char *)NULL);
		return "updated";
	}
	if (!stow_restore_plan_update_existing(r->plan)) {
		report(r, 1, tns ? tns : "",
		       "could not restore, %s \"%s\" already exists. Warning: "
		       "the in-cluster version is different than the "
		       "backed-up version",
		       kind ? kind : "object", name);
		json_decref(cur);
		return "skipped";
	}
	patch = stow_restore_merge_patch(cur, desired);
	json_decref(cur);
	body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	json_decref(patch);
	rc = body ? stow_kube_patch(r->k, res, tns, name, STOW_KUBE_PATCH_MERGE,
				    body, false, NULL)
		  : stow_err_set(STOW_ENOMEM, "out of memory");
	free(body);
	if (rc < 0) {
		report(r, 1, tns ? tns : "",
		       "could not restore, %s \"%s\" already exists and the "
		       "update to the backed-up version failed: %s",
		       kind ? kind : "object", name, stow_err_msg());
		return "skipped";
	}
	stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
		       "updated to the backed-up version", "item", id,
		       (const char *)NULL);
	return "updated";
}

/* Returns 0 for a PV that was read in case a PVC named it and turned out
 * not to be part of the restore, 1 for every other item. */
static int restore_item(run *r, const char *gr, const char *ns, json_t *obj)
{
	stow_restore_item_ctx ic = {r->plan, r->backup_name, r->name,
				    r->to_provision};
	const stow_kube_resource *res = NULL;
	const char *name = md_str(obj, "name");
	const char *av = jstr(obj, "apiVersion"), *kind = jstr(obj, "kind");
	const char *tns =
	    ns ? stow_restore_plan_target_namespace(r->plan, ns) : NULL;
	const char *scope = tns ? tns : "";
	json_t *status = NULL, *managed = NULL, *created = NULL;
	const char *action = "created";
	char id[800];
	int rc, ns_created;

	if (!name)
		return 1;
	if (tns)
		snprintf(id, sizeof(id), "%s/%s/%s", gr, tns, name);
	else
		snprintf(id, sizeof(id), "%s/%s", gr, name);

	if (strcmp(gr, "persistentvolumes") == 0 && !ns) {
		const char *why = NULL;
		stow_restore_pv_action pa;

		if (stow_restore_plan_admit(r->plan, gr, NULL, obj, NULL) !=
			STOW_RESTORE_ADMIT &&
		    !json_object_get(r->pvc_volumes, name))
			return 0; /* neither selected nor a PVC's volume */
		pa = stow_restore_pv_decide(obj, r->volume_info, &why);
		if (pa != STOW_RESTORE_PV_RESTORE) {
			json_object_set_new(r->to_provision, name, json_true());
			if (pa == STOW_RESTORE_PV_NO_SNAPSHOTTER)
				report(r, 1, "", "persistent volume %s: %s",
				       name, why);
			else
				stow_log_write(r->log, STOW_LOG_INFO, __FILE__,
					       __LINE__,
					       "not restoring persistent "
					       "volume",
					       "name", name, "reason", why,
					       (const char *)NULL);
			return 1;
		}
	}
	if (!av || !kind) {
		report(r, 0, scope,
		       "error restoring %s: the item has no "
		       "apiVersion or kind",
		       id);
		return 1;
	}
	if (tns) {
		rc = ensure_namespace(r, ns, tns, &ns_created);
		if (rc < 0) {
			report(r, 0, scope, "error restoring %s: namespace: %s",
			       id, stow_err_msg());
			list_add(r, obj, tns, name, "failed");
			return 1;
		}
	}
	rc = stow_kube_resource_for_kind(r->k, av, kind, &res);
	if (rc < 0) {
		report(r, 0, scope, "error restoring %s: %s", id,
		       stow_err_msg());
		list_add(r, obj, tns, name, "failed");
		return 1;
	}
	if (res->namespaced != (tns != NULL)) {
		report(r, 0, scope,
		       "error restoring %s: %s is %s but the backup stores it "
		       "%s",
		       id, res->resource,
		       res->namespaced ? "namespaced" : "cluster-scoped",
		       tns ? "in a namespace" : "cluster-scoped");
		list_add(r, obj, tns, name, "failed");
		return 1;
	}
	rc = stow_restore_prepare(&ic, gr, ns, obj, &status, &managed);
	if (rc == 0 && strcmp(gr, "pods") == 0) {
		size_t nvol = 0;

		/* The pod-volume seam (restore_plan.h): the next issue adds
		 * the restore-wait init container here and creates the
		 * PodVolumeRestores after the pod exists. */
		rc = stow_restore_pod_volumes_prepare(r->pvbs, ns, name, obj,
						      &nvol);
	}
	if (rc < 0) {
		report(r, 0, scope, "error restoring %s: %s", id,
		       stow_err_msg());
		list_add(r, obj, tns, name, "failed");
		goto out;
	}
	rc = stow_kube_create(r->k, res, tns, obj, &created);
	if (rc == STOW_EEXIST) {
		action = on_exists(r, res, gr, tns, name, id, obj);
	} else if (rc < 0) {
		report(r, 0, scope, "error restoring %s: %s", id,
		       stow_err_msg());
		action = "failed";
	} else {
		stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "restored", "item", id, (const char *)NULL);
		after_create(r, res, tns, name, id, created, managed, status);
		if (strcmp(gr, "customresourcedefinitions."
			       "apiextensions.k8s.io") == 0)
			json_array_append_new(r->crds, json_string(name));
	}
	if (strcmp(action, "updated") == 0 &&
	    strcmp(gr, "customresourcedefinitions.apiextensions.k8s.io") == 0)
		json_array_append_new(r->crds, json_string(name));
	list_add(r, obj, tns, name, action);
out:
	json_decref(created);
	json_decref(status);
	json_decref(managed);
	return 1;
}

/* Velero's step 1 ends with the restored CRDs Established and discovery
 * refreshed, so the custom resources after them find their API. */
static void wait_crds(run *r)
{
	const stow_kube_resource *res = NULL;
	size_t i;
	json_t *n;

	if (json_array_size(r->crds) == 0)
		return;
	if (stow_kube_resource_lookup(
		r->k, "customresourcedefinitions.apiextensions.k8s.io", &res) <
	    0)
		return;
	json_array_foreach(r->crds, i, n)
	{
		int ok = 0;

		for (int t = 0; t < CRD_WAIT_S * 2 && !ok &&
				!stow_velero_server_stopping(r->srv);
		     t++) {
			json_t *crd = NULL, *c;
			size_t j;

			if (stow_kube_get(r->k, res, NULL, json_string_value(n),
					  &crd) == 0)
				json_array_foreach(
				    json_object_get(
					json_object_get(crd, "status"),
					"conditions"),
				    j, c)
				{
					const char *ty = jstr(c, "type");
					const char *st = jstr(c, "status");

					if (ty && st &&
					    strcmp(ty, "Established") == 0 &&
					    strcmp(st, "True") == 0)
						ok = 1;
				}
			json_decref(crd);
			if (!ok)
				usleep(500 * 1000);
		}
		if (!ok)
			report(r, 1, "",
			       "customresourcedefinition %s did not become "
			       "Established within %ds",
			       json_string_value(n), CRD_WAIT_S);
	}
	(void)stow_kube_discover(r->k, true);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Restore every spilled resource in Velero's order. */
static int restore_all(run *r)
{
	const char **order = calloc(r->nsp ? r->nsp : 1, sizeof(*order));
	char *line = NULL;
	size_t cap = 0;

	if (!order)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nsp; i++)
		order[i] = r->sp[i].gr;
	qsort(order, r->nsp, sizeof(*order), cmp_str);
	stow_restore_order(order, r->nsp);
	for (size_t i = 0; i < r->nsp; i++) {
		spill *s = NULL;
		ssize_t len;

		for (size_t j = 0; j < r->nsp; j++)
			if (r->sp[j].gr == order[i])
				s = &r->sp[j];
		if (!s || fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0) {
			free(order);
			return stow_err_set(STOW_EIO, "reading a spill file "
						      "failed");
		}
		stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "restoring resource", "resource", s->gr,
			       (const char *)NULL);
		while ((len = getline(&line, &cap, s->f)) > 0) {
			json_t *pair = json_loadb(line, (size_t)len, 0, NULL);
			json_t *obj = json_array_get(pair, 1);
			const char *ns =
			    json_string_value(json_array_get(pair, 0));
			int counted = 1;

			if (stow_velero_server_stopping(r->srv)) {
				json_decref(pair);
				free(line);
				free(order);
				return STOW_EINTR;
			}
			if (!json_is_object(obj))
				counted = 1;
			else if (strcmp(s->gr, "namespaces") == 0)
				restore_namespace(r, obj);
			else
				counted = restore_item(r, s->gr, ns, obj);
			json_decref(pair);
			if (counted)
				r->done++;
			else if (r->total > 0)
				r->total--;
			progress(r, 0);
		}
		if (strcmp(s->gr,
			   "customresourcedefinitions.apiextensions.k8s.io") ==
		    0)
			wait_crds(r);
	}
	free(line);
	free(order);
	return 0;
}

/* ---- artifacts ---- */

static int put_gz(run *r, const stow_velero_location *loc,
		  stow_velero_restore_obj o, const json_t *v)
{
	char key[STOW_VELERO_KEY_MAX];

	STOW_TRY(stow_velero_restore_key(loc, r->name, o, key, sizeof(key)));
	return stow_velero_put_gzjson(loc, key, v);
}

static int upload(run *r, const stow_velero_location *loc)
{
	char key[STOW_VELERO_KEY_MAX];
	stow_buf text, gz;
	json_t *empty = json_array();
	int rc;

	stow_buf_init(&text, 0);
	stow_buf_init(&gz, 0);
	/* The log last-but-one, so it records the other uploads' failures;
	 * best effort as in Velero. */
	(void)stow_velero_resource_list_finish(r->resource_list);
	rc = put_gz(r, loc, STOW_VELERO_RESTORE_RESULTS, r->results);
	if (rc == 0)
		rc = put_gz(r, loc, STOW_VELERO_RESTORE_RESOURCE_LIST,
			    r->resource_list);
	if (rc == 0 && empty)
		rc = put_gz(r, loc, STOW_VELERO_RESTORE_ITEMOPERATIONS, empty);
	if (rc == 0 && empty)
		rc = put_gz(r, loc, STOW_VELERO_RESTORE_VOLUMEINFO, empty);
	json_decref(empty);
	if (rc < 0)
		stow_log_write(r->log, STOW_LOG_ERROR, __FILE__, __LINE__,
			       "uploading the restore's results failed",
			       "error", stow_err_msg(), (const char *)NULL);
	if (stow_log_capture_take(r->log, &text) == 0 &&
	    stow_velero_gzip(text.data, text.len, &gz) == 0 &&
	    stow_velero_restore_key(loc, r->name, STOW_VELERO_RESTORE_LOG, key,
				    sizeof(key)) == 0) {
		if (stow_store_put(loc->store, key, gz.data, gz.len, 0) < 0)
			stow_velero_log(r->srv, STOW_VLOG_WARN, CTL,
					"uploading the restore log failed",
					"restore", r->key, "error",
					stow_err_msg(), NULL);
	}
	stow_buf_free(&text);
	stow_buf_free(&gz);
	return rc;
}

/* ---- one run ---- */

static void run_cleanup(run *r)
{
	char path[PATH_MAX + 32];

	for (size_t i = 0; i < r->nsp; i++) {
		fclose(r->sp[i].f);
		snprintf(path, sizeof(path), "%s/%zu.jsonl", r->dir, i);
		unlink(path);
		free(r->sp[i].gr);
	}
	free(r->sp);
	if (r->dir[0])
		rmdir(r->dir);
	json_decref(r->ns_objects);
	json_decref(r->pvc_volumes);
	json_decref(r->to_provision);
	json_decref(r->ensured);
	json_decref(r->volume_info);
	json_decref(r->pvbs);
	json_decref(r->crds);
	json_decref(r->results);
	json_decref(r->resource_list);
	stow_log_free(r->log);
	stow_restore_plan_free(r->plan);
}

/* Optional side files of the backup (absent in old or foreign backups). */
static json_t *backup_side(const stow_velero_location *loc, const char *b,
			   stow_velero_backup_obj o)
{
	char key[STOW_VELERO_KEY_MAX];
	json_t *v = NULL;

	if (stow_velero_backup_key(loc, b, o, key, sizeof(key)) < 0 ||
	    stow_velero_get_gzjson(loc, key, 0, &v) < 0)
		return NULL;
	if (!json_is_array(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static int finish(run *r, const char *phase, const char *failure,
		  const stow_velero_location *loc)
{
	char ts[32];
	json_t *st;

	if (loc)
		(void)upload(r, loc);
	now_str(ts);
	st = json_pack("{s:s,s:s,s:I,s:I,s:{s:I,s:I}}", "phase", phase,
		       "completionTimestamp", ts, "warnings",
		       (json_int_t)stow_velero_results_count(r->results, 1),
		       "errors",
		       (json_int_t)stow_velero_results_count(r->results, 0),
		       "progress", "totalItems", (json_int_t)r->total,
		       "itemsRestored", (json_int_t)r->done);
	if (st && failure)
		json_object_set_new(st, "failureReason", json_string(failure));
	if (!st)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	stow_velero_log(r->srv, STOW_VLOG_INFO, CTL, "restore finished",
			"restore", r->key, "phase", phase, NULL);
	stow_velero_metrics_restore_ended(r->srv, r->ns, r->name, phase);
	return patch_status(r->srv, r->ns, r->name, st);
}

static int execute(run *r, const json_t *backup)
{
	const char *bsl =
	    jstr(json_object_get(backup, "spec"), "storageLocation");
	stow_velero_location loc;
	stow_velero_tar_read_opts ro = {0};
	stow_velero_tar_stats stats = {0};
	char key[STOW_VELERO_KEY_MAX], msg[1200];
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (!bsl || !*bsl)
		bsl = stow_velero_server_opts_of(r->srv)->default_bsl;
	rc = stow_velero_server_location(r->srv, bsl, &loc, NULL);
	if (rc < 0) {
		snprintf(msg, sizeof(msg),
			 "error getting backup storage location %s: %s", bsl,
			 stow_err_msg());
		return finish(r, "Failed", msg, NULL);
	}
	r->volume_info =
	    backup_side(&loc, r->backup_name, STOW_VELERO_BACKUP_VOLUMEINFO);
	r->pvbs = backup_side(&loc, r->backup_name,
			      STOW_VELERO_BACKUP_PODVOLUMEBACKUPS);
	snprintf(r->dir, sizeof(r->dir), "%s/stowage-restore-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->dir)) {
		snprintf(msg, sizeof(msg), "cannot create a temp dir: %s",
			 strerror(errno));
		r->dir[0] = '\0';
		return finish(r, "Failed", msg, &loc);
	}
	rc = stow_velero_backup_key(&loc, r->backup_name,
				    STOW_VELERO_BACKUP_CONTENTS, key,
				    sizeof(key));
	ro.flags = STOW_VELERO_TAR_UNVERSIONED_ONLY;
	ro.item_cb = on_item;
	ro.error_cb = on_item_error;
	ro.ctx = r;
	if (rc == 0) {
		stow_log_write(r->log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "reading the backup", "backup", r->backup_name,
			       "key", key, (const char *)NULL);
		rc = stow_velero_tar_read_store(loc.store, key, &ro, &stats);
	}
	if (rc == STOW_ECORRUPT && stats.items > 0) {
		/* Everything before the bad entry was read and checked. */
		report(r, 0, NULL,
		       "error reading backup %s: %s (restoring the %llu "
		       "item(s) read before that entry)",
		       r->backup_name, stow_err_msg(),
		       (unsigned long long)stats.items);
	} else if (rc < 0) {
		snprintf(msg, sizeof(msg), "error reading backup %s: %s",
			 r->backup_name, stow_err_msg());
		report(r, 0, NULL, "%s", msg);
		return finish(r, "Failed", msg, &loc);
	}
	progress(r, 1);
	rc = restore_all(r);
	if (rc == STOW_EINTR)
		return 0; /* the next leader marks it Failed */
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", stow_err_msg());
		report(r, 0, NULL, "%s", msg);
		return finish(r, "Failed", msg, &loc);
	}
	return finish(r,
		      stow_velero_results_count(r->results, 0)
			  ? "PartiallyFailed"
			  : "Completed",
		      NULL, &loc);
}

static int has_finalizer(const json_t *restore)
{
	const json_t *fin =
	    json_object_get(json_object_get(restore, "metadata"), "finalizers");
	size_t i;
	json_t *f;

	json_array_foreach(fin, i, f) if (json_is_string(f) &&
					  strcmp(json_string_value(f),
						 FINALIZER) == 0) return 1;
	return 0;
}

/* A Restore being deleted: its objects under restores/<name>/ go with it
 * (Velero's external-resources finalizer), then the finalizer. When the
 * backup or its location is gone there is nothing we can reach: the
 * finalizer is simply removed. */
static int finalize(stow_velero_server *srv, const char *ns, const char *name,
		    const json_t *restore)
{
	const char *bname =
	    jstr(json_object_get(restore, "spec"), "backupName");
	const stow_kube_resource *res = stow_velero_server_res(srv, PLURAL);
	json_t *backup, *bsl = NULL, *copy, *fin;
	stow_velero_location loc;
	size_t deleted = 0;
	int rc;

	if (!has_finalizer(restore))
		return 0;
	backup =
	    bname ? stow_velero_server_get(srv, "backups", ns, bname) : NULL;
	if (backup) {
		const char *bn =
		    jstr(json_object_get(backup, "spec"), "storageLocation");

		if (!bn || !*bn)
			bn = stow_velero_server_opts_of(srv)->default_bsl;
		rc = stow_velero_server_location(srv, bn, &loc, &bsl);
		json_decref(backup);
		if (rc == 0 && stow_velero_location_writable(bsl)) {
			rc = stow_velero_delete_restore(&loc, name, &deleted);
			if (rc < 0) {
				json_decref(bsl);
				return stow_err_wrap(rc,
						     "deleting restores/%s/ "
						     "from location %s",
						     name, bn);
			}
		} else if (rc < 0 && rc != STOW_ENOTFOUND) {
			return stow_err_wrap(rc, "opening location %s", bn);
		}
		json_decref(bsl);
	}
	copy = json_deep_copy(restore);
	fin = json_object_get(json_object_get(copy, "metadata"), "finalizers");
	for (size_t i = json_array_size(fin); i-- > 0;) {
		const char *f = json_string_value(json_array_get(fin, i));

		if (f && strcmp(f, FINALIZER) == 0)
			json_array_remove(fin, i);
	}
	rc = copy && res ? stow_kube_update(stow_velero_server_kube(srv), res,
					    ns, copy, false, NULL)
			 : stow_err_set(STOW_ENOMEM, "out of memory");
	json_decref(copy);
	if (rc == STOW_ECONFLICT || rc == STOW_ENOTFOUND)
		return rc == STOW_ECONFLICT ? 200 : 0;
	if (rc == 0) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", deleted);
		stow_velero_log(srv, STOW_VLOG_INFO, CTL,
				"deleted the restore's objects in the location",
				"restore", name, "objects", n, NULL);
	}
	return rc;
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	json_t *restore = stow_velero_server_get(srv, PLURAL, ns, name);
	json_t *backup = NULL;
	const char *phase, *bn;
	char sched[STOW_VELERO_NAME_MAX + 1];
	bool from_schedule;
	run r;
	char ts[32];
	json_t *st;
	int rc;

	(void)ctx;
	stow_velero_metrics_count_objects(srv);
	if (!restore)
		return 0;
	bn = jstr(json_object_get(restore, "spec"), "backupName");
	from_schedule = !bn || !*bn;
	snprintf(sched, sizeof(sched), "%s",
		 stow_velero_metrics_restore_schedule(restore));
	if (json_object_get(json_object_get(restore, "metadata"),
			    "deletionTimestamp")) {
		rc = finalize(srv, ns, name, restore);
		json_decref(restore);
		return rc;
	}
	phase = jstr(json_object_get(restore, "status"), "phase");
	if (phase && *phase && strcmp(phase, "New") != 0) {
		json_decref(restore);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.srv = srv;
	r.k = stow_velero_server_kube(srv);
	r.ns = ns;
	r.name = name;
	snprintf(r.key, sizeof(r.key), "%s/%s", ns ? ns : "", name);
	rc = validate(srv, ns, name, restore, &backup, &r.plan);
	if (rc != 0) {
		json_decref(restore);
		return rc < 0 ? rc : rc == 2 ? 1000 : 0;
	}
	r.backup_name = md_str(backup, "name");
	r.results = stow_velero_results_new();
	r.resource_list = stow_velero_resource_list_new();
	r.ns_objects = json_object();
	r.pvc_volumes = json_object();
	r.to_provision = json_object();
	r.ensured = json_object();
	r.crds = json_array();
	rc = stow_log_capture_new(&r.log, stow_velero_server_logger(srv),
				  stow_velero_server_opts_of(srv)->log_json
				      ? STOW_LOG_JSON
				      : STOW_LOG_LOGFMT,
				  STOW_LOG_INFO, LOG_CAP);
	if (rc == 0)
		rc = stow_log_add_field(r.log, "restore", r.key);
	if (rc < 0 || !r.results || !r.resource_list || !r.ns_objects ||
	    !r.pvc_volumes || !r.to_provision || !r.ensured || !r.crds) {
		run_cleanup(&r);
		json_decref(backup);
		json_decref(restore);
		return rc < 0 ? rc : stow_err_set(STOW_ENOMEM, "out of memory");
	}
	/* Claim: a PUT of the object as read (its resourceVersion), so a
	 * restore is never started twice; a 409 means someone changed it
	 * first and the informer brings it back. A restore from a schedule
	 * names the backup it used, as Velero's controller does. */
	now_str(ts);
	st =
	    json_pack("{s:s,s:s}", "phase", "InProgress", "startTimestamp", ts);
	rc = st && r.backup_name ? 0
				 : stow_err_set(STOW_ENOMEM, "out of memory");
	if (rc == 0) {
		/* The informer's object is shared: change a copy. */
		json_t *copy = json_deep_copy(restore);

		json_decref(restore);
		restore = copy;
		if (!copy || json_object_set_new(copy, "status", st) < 0)
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
		st = NULL; /* taken, even on failure */
	}
	if (rc == 0) {
		const stow_kube_resource *res =
		    stow_velero_server_res(srv, PLURAL);

		if (from_schedule)
			json_object_set_new(json_object_get(restore, "spec"),
					    "backupName",
					    json_string(r.backup_name));
		if (!has_finalizer(restore)) {
			json_t *md = json_object_get(restore, "metadata");
			json_t *fin = json_object_get(md, "finalizers");

			if (!json_is_array(fin)) {
				fin = json_array();
				json_object_set_new(md, "finalizers", fin);
			}
			json_array_append_new(fin, json_string(FINALIZER));
		}
		rc = res ? stow_kube_update(r.k, res, ns, restore, false, NULL)
			 : stow_err_set(STOW_ENOTFOUND,
					"restores.velero.io is not served");
	}
	json_decref(st);
	json_decref(restore);
	if (rc == STOW_ECONFLICT) {
		run_cleanup(&r);
		json_decref(backup);
		return 0;
	}
	if (rc == 0) {
		stow_velero_metrics_restore_attempt(srv, sched);
		stow_velero_log(srv, STOW_VLOG_INFO, CTL, "restore started",
				"restore", r.key, "backup", r.backup_name,
				NULL);
		stow_log_write(r.log, STOW_LOG_INFO, __FILE__, __LINE__,
			       "starting restore", "backup", r.backup_name,
			       (const char *)NULL);
		rc = execute(&r, backup);
	}
	run_cleanup(&r);
	json_decref(backup);
	return rc;
}

/* Restores left InProgress by a server that stopped (Velero:
 * markInProgressCRsFailed at start). */
static int start(stow_velero_server *srv, void *ctx)
{
	json_t *all = stow_velero_server_list(srv, PLURAL), *o;
	size_t i;

	(void)ctx;
	json_array_foreach(all, i, o)
	{
		const char *phase = jstr(json_object_get(o, "status"), "phase");
		char ts[32];
		json_t *st;

		if (!phase || strcmp(phase, "InProgress") != 0)
			continue;
		now_str(ts);
		st = json_pack("{s:s,s:s,s:s}", "phase", "Failed",
			       "failureReason",
			       "found a restore with status \"InProgress\" "
			       "during the server starting, mark it as "
			       "\"Failed\"",
			       "completionTimestamp", ts);
		if (st && patch_status(srv, md_str(o, "namespace"),
				       md_str(o, "name"), st) < 0)
			stow_velero_log(srv, STOW_VLOG_WARN, CTL,
					"cannot mark an interrupted restore "
					"Failed",
					"restore", md_str(o, "name"), "error",
					stow_err_msg(), NULL);
	}
	json_decref(all);
	return 0;
}

const stow_velero_controller *stow_velero_ctl_restore(void)
{
	static const stow_velero_controller c = {
	    .name = CTL,
	    .resource = PLURAL,
	    .workers = 1,
	    .resync_ms = 0,
	    .start = start,
	    .reconcile = reconcile,
	    .ctx = NULL,
	};
	return &c;
}
