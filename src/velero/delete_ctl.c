/* The DeleteBackupRequest controller of `stowage server` (velero-spec
 * §1.9, §8.4).
 *
 * A New request for backup B: other requests for B go (one at a time);
 * refuse - phase Processed with the reason in status.errors - when B is
 * missing or still running, or its location is missing, ReadOnly or
 * Unavailable. Otherwise the request goes InProgress (with the labels
 * velero.io/backup-name and -uid), B goes Deleting, and then: B's vault
 * snapshots are forgotten (the seam for pod-volume data, a later issue),
 * every object under backups/B/ is deleted from the location, every
 * Restore of B goes with its restores/<name>/ objects, and the Backup
 * object last. The request ends Processed with the errors met; on success
 * every request for B is deleted, this one too, as Velero does. After a
 * failure B gets its phase back (Velero leaves it Deleting; retention.h
 * never expires a Deleting backup, so GC could not retry it).
 *
 * Steps are idempotent, so a request found InProgress - a previous leader
 * died, or our own attempt failed - is simply run again. Processed and
 * InProgress requests older than 24 hours are deleted. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "velero/bsl.h"
#include "velero/controllers.h"
#include "velero/layout.h"
#include "velero/schedule_ctl.h"
#include "velero/server_metrics.h"

#define CTL "delete-backup-request"
#define PLURAL "deletebackuprequests"
#define BACKUPS "backups"
#define RESTORES "restores"
#define MAX_AGE_S (24L * 3600)

typedef struct deletion {
	stow_velero_server *srv;
	stow_kube *k;
	const char *ns, *name; /* the request */
	const char *backup;    /* spec.backupName */
	json_t *errors;	       /* status.errors */
} deletion;

static const char *name_of(const json_t *o)
{
	return stow_velero_object_str(o, "metadata", "name");
}

static void add_error(deletion *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(deletion *d, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(d->errors, json_string(msg));
}

static int delete_object(deletion *d, const char *plural, const char *name)
{
	const stow_kube_resource *r = stow_velero_server_res(d->srv, plural);
	int rc;

	if (!r)
		return 0;
	rc = stow_kube_delete(d->k, r, d->ns, name, NULL, NULL);
	return rc == STOW_ENOTFOUND ? 0 : rc;
}

/* Every request of the cluster for this backup (by spec.backupName,
 * which user-made requests carry even without our labels); except_self
 * keeps this one. */
static void delete_siblings(deletion *d, int except_self)
{
	json_t *all = stow_velero_server_list(d->srv, PLURAL), *r;
	size_t i;

	json_array_foreach(all, i, r)
	{
		const char *target =
		    stow_velero_object_str(r, "spec", "backupName");
		const char *rns =
		    stow_velero_object_str(r, "metadata", "namespace");
		const char *n = name_of(r);

		if (!n || !target || strcmp(target, d->backup) || !rns ||
		    strcmp(rns, d->ns) || (except_self && !strcmp(n, d->name)))
			continue;
		if (delete_object(d, PLURAL, n) < 0)
			stow_velero_log(d->srv, STOW_VLOG_WARN, CTL,
					"cannot delete a deletion request",
					"deletebackuprequest", n, "error",
					stow_err_msg(), NULL);
	}
	json_decref(all);
}

static int finish(deletion *d)
{
	json_t *patch = json_pack(
	    "{s:{s:s, s:O}}", "status", "phase", "Processed", "errors",
	    json_array_size(d->errors) ? d->errors : json_null());
	int rc =
	    stow_velero_object_patch(d->srv, PLURAL, d->ns, d->name, patch);

	if (json_array_size(d->errors)) {
		json_t *first = json_array_get(d->errors, 0);

		stow_velero_log(d->srv, STOW_VLOG_WARN, CTL,
				"backup deletion failed", "backup", d->backup,
				"deletebackuprequest", d->name, "error",
				json_string_value(first), NULL);
	}
	return rc == STOW_ENOTFOUND ? 0 : rc;
}

/* The seam for pod-volume data: forget the vault snapshots this backup's
 * PodVolumeBackups made (velero-spec §8.4: batched per repository), so
 * that vault GC reclaims their space. Backups hold no pod-volume data
 * yet; the node-agent issue fills this in. Failures go to d->errors and
 * keep the Backup object, so the deletion is retried. */
static void forget_vault_snapshots(deletion *d, const json_t *backup)
{
	(void)backup;
	stow_velero_log(d->srv, STOW_VLOG_DEBUG, CTL,
			"no pod volume snapshots to forget", "backup",
			d->backup, NULL);
}

/* Restores made from the backup: their objects in the location, then
 * the Restore objects (Velero deletes them with the backup). */
static void delete_restores(deletion *d, const stow_velero_location *loc)
{
	const stow_kube_resource *r = stow_velero_server_res(d->srv, RESTORES);
	json_t *list = NULL, *items, *o;
	size_t i;
	int rc;

	if (!r)
		return;
	rc = stow_kube_list(d->k, r, d->ns, NULL, &list);
	if (rc < 0) {
		add_error(d, "error listing restores: %s", stow_err_msg());
		return;
	}
	items = json_object_get(list, "items");
	json_array_foreach(items, i, o)
	{
		const char *from =
		    stow_velero_object_str(o, "spec", "backupName");
		const char *rn = name_of(o);

		if (!rn || !from || strcmp(from, d->backup))
			continue;
		rc = stow_velero_delete_restore(loc, rn, NULL);
		if (rc < 0) {
			add_error(d,
				  "error deleting restore %s from backup "
				  "storage: %s",
				  rn, stow_err_msg());
			continue;
		}
		rc = delete_object(d, RESTORES, rn);
		if (rc < 0)
			add_error(d, "error deleting restore %s: %s", rn,
				  stow_err_msg());
		else
			stow_velero_log(d->srv, STOW_VLOG_INFO, CTL,
					"deleted restore of the backup",
					"backup", d->backup, "restore", rn,
					NULL);
	}
	json_decref(list);
}

static int running(const char *phase)
{
	static const char *const busy[] = {
	    "",
	    "New",
	    "Queued",
	    "ReadyToStart",
	    "InProgress",
	    "WaitingForPluginOperations",
	    "WaitingForPluginOperationsPartiallyFailed",
	    "Finalizing",
	    "FinalizingPartiallyFailed"};

	if (!phase)
		return 1;
	for (size_t i = 0; i < sizeof(busy) / sizeof(busy[0]); i++)
		if (!strcmp(phase, busy[i]))
			return 1;
	return 0;
}

/* The location of the backup, checked as Velero does; NULL name with
 * d->errors filled when it cannot be used. */
static char *usable_location(deletion *d, const json_t *backup)
{
	const char *named =
	    stow_velero_object_str(backup, "spec", "storageLocation");
	const char *phase, *msg;
	char *name;
	json_t *bsl;

	if (!named || !*named)
		named = json_string_value(json_object_get(
		    json_object_get(json_object_get(backup, "metadata"),
				    "labels"),
		    STOW_VELERO_LABEL_STORAGE_LOCATION));
	name = named && *named ? strdup(named)
			       : stow_velero_default_location(d->srv);
	if (!name) {
		add_error(d, "backup has no storage location and there is "
			     "no default one");
		return NULL;
	}
	bsl =
	    stow_velero_server_get(d->srv, STOW_VELERO_BSL_PLURAL, d->ns, name);
	if (!bsl) {
		add_error(d, "backup storage location %s not found", name);
	} else if (!stow_velero_location_writable(bsl)) {
		add_error(d,
			  "cannot delete backup because backup storage "
			  "location %s is currently in read-only mode",
			  name);
	} else if ((phase = stow_velero_object_str(bsl, "status", "phase")) &&
		   !strcmp(phase, "Unavailable")) {
		msg = stow_velero_object_str(bsl, "status", "message");
		add_error(d,
			  "cannot delete backup because backup storage "
			  "location %s is currently unavailable, error: %s",
			  name, msg ? msg : "");
	}
	json_decref(bsl);
	if (json_array_size(d->errors)) {
		free(name);
		return NULL;
	}
	return name;
}

static int set_backup_phase(deletion *d, const char *phase)
{
	int rc = stow_velero_object_patch(
	    d->srv, BACKUPS, d->ns, d->backup,
	    json_pack("{s:{s:o}}", "status", "phase",
		      phase ? json_string(phase) : json_null()));

	return rc == STOW_ENOTFOUND ? 0 : rc;
}

static int run_deletion(deletion *d)
{
	const stow_kube_resource *br = stow_velero_server_res(d->srv, BACKUPS);
	json_t *backup = NULL, *labels;
	char *bsl_name = NULL, *old_phase = NULL;
	char label[64];
	stow_velero_location loc;
	size_t deleted = 0;
	int rc;

	/* One request per backup at a time (Velero's
	 * deleteExistingDeletionRequests). */
	delete_siblings(d, 1);
	if (!br)
		return stow_err_set(STOW_ENOTFOUND,
				    "the CRD of backups.velero.io is not "
				    "installed");
	/* The API, not the cache: the phase must be current. */
	rc = stow_kube_get(d->k, br, d->ns, d->backup, &backup);
	if (rc == STOW_ENOTFOUND) {
		add_error(d, "backup not found");
		return finish(d);
	}
	if (rc < 0)
		return rc;
	{
		const char *phase =
		    stow_velero_object_str(backup, "status", "phase");

		if (phase && !strcmp(phase, "Deleting")) {
			/* An earlier attempt of ours; its phase before is
			 * lost, Completed is what it had to be to get
			 * here. */
			phase = "Completed";
		} else if (running(phase)) {
			add_error(d, "backup is still in progress");
			json_decref(backup);
			return finish(d);
		}
		old_phase = strdup(phase);
	}
	bsl_name = usable_location(d, backup);
	if (!bsl_name) {
		rc = finish(d);
		goto out;
	}
	stow_velero_label_value(d->backup, label);
	labels =
	    json_pack("{s:s, s:s}", STOW_VELERO_LABEL_BACKUP_NAME, label,
		      STOW_VELERO_LABEL_BACKUP_UID,
		      stow_velero_object_str(backup, "metadata", "uid")
			  ? stow_velero_object_str(backup, "metadata", "uid")
			  : "");
	rc = stow_velero_object_patch(
	    d->srv, PLURAL, d->ns, d->name,
	    json_pack("{s:{s:o}, s:{s:s}}", "metadata", "labels", labels,
		      "status", "phase", "InProgress"));
	if (rc == 0)
		rc = set_backup_phase(d, "Deleting");
	if (rc < 0)
		goto out;
	stow_velero_log(d->srv, STOW_VLOG_INFO, CTL, "deleting backup",
			"backup", d->backup, "deletebackuprequest", d->name,
			"location", bsl_name, NULL);
	stow_velero_metrics_deletion_attempt(
	    d->srv, stow_velero_metrics_backup_schedule(backup));

	forget_vault_snapshots(d, backup);
	rc = stow_velero_server_location(d->srv, bsl_name, &loc, NULL);
	if (rc == 0)
		rc = stow_velero_delete_backup(&loc, d->backup, &deleted);
	if (rc < 0) {
		add_error(d, "error deleting backup from backup storage: %s",
			  stow_err_msg());
	} else {
		char n[32];

		snprintf(n, sizeof(n), "%zu", deleted);
		stow_velero_log(d->srv, STOW_VLOG_INFO, CTL,
				"deleted the backup's objects", "backup",
				d->backup, "objects", n, NULL);
		delete_restores(d, &loc);
	}
	if (json_array_size(d->errors) == 0) {
		rc = delete_object(d, BACKUPS, d->backup);
		if (rc < 0)
			add_error(d, "error deleting backup %s: %s", d->backup,
				  stow_err_msg());
	}
	if (json_array_size(d->errors)) {
		rc = set_backup_phase(d, old_phase);
		if (rc < 0)
			goto out;
	}
	rc = finish(d);
	stow_velero_metrics_deletion_done(
	    d->srv, stow_velero_metrics_backup_schedule(backup),
	    json_array_size(d->errors) == 0);
	if (rc == 0 && json_array_size(d->errors) == 0) {
		stow_velero_log(d->srv, STOW_VLOG_INFO, CTL, "backup deleted",
				"backup", d->backup, "deletebackuprequest",
				d->name, NULL);
		delete_siblings(d, 0);
	}
out:
	free(bsl_name);
	free(old_phase);
	json_decref(backup);
	return rc;
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	json_t *req = stow_velero_server_get(srv, PLURAL, ns, name);
	deletion d = {
	    srv, stow_velero_server_kube(srv), ns ? ns : "", name, NULL, NULL};
	const char *phase;
	int64_t created, now = (int64_t)time(NULL);
	int rc;

	(void)ctx;
	if (!req)
		return 0;
	phase = stow_velero_object_str(req, "status", "phase");
	created = stow_velero_object_time(req, "metadata", "creationTimestamp");
	if (phase &&
	    (!strcmp(phase, "Processed") || !strcmp(phase, "InProgress")) &&
	    created && created + MAX_AGE_S <= now) {
		json_decref(req);
		return delete_object(&d, PLURAL, name);
	}
	if (phase && !strcmp(phase, "Processed")) {
		json_decref(req);
		if (!created)
			return 0;
		return (int)((created + MAX_AGE_S - now) > 3600
				 ? 3600 * 1000
				 : (created + MAX_AGE_S - now) * 1000 + 1000);
	}
	d.backup = stow_velero_object_str(req, "spec", "backupName");
	d.errors = json_array();
	if (!d.errors) {
		json_decref(req);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	if (!d.backup || !*d.backup) {
		d.backup = "";
		add_error(&d, "spec.backupName is required");
		rc = finish(&d);
	} else {
		rc = run_deletion(&d);
	}
	json_decref(d.errors);
	json_decref(req);
	return rc;
}

static stow_velero_controller delete_ctl = {
    .name = CTL,
    .resource = PLURAL,
    /* One worker: two requests for the same backup never run at once
     * (each deletes the other). */
    .workers = 1,
    /* Ages out Processed requests missed while not leading. */
    .resync_ms = 3600L * 1000,
    .reconcile = reconcile,
};

const stow_velero_controller *stow_velero_ctl_delete_backup_request(void)
{
	return &delete_ctl;
}
