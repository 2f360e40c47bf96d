/* The Backup controller of `stowage server` (velero-spec §1.1, §2.2, §3,
 * §4): validation, then one run per Backup - item collection (collect.h)
 * streamed into <name>.tar.gz (tarball.h), then the metadata objects of
 * backups/<name>/ and the final status. docs/server-backup.md tells the
 * story; the order of the uploads is there too.
 *
 * A backup runs at most once: the New -> InProgress step is an update
 * with the resourceVersion read, so a second reconcile (or a second
 * replica) that read the same object gets a conflict and finds it
 * InProgress next time. A backup found InProgress when this replica starts
 * leading was abandoned by a previous leader: it is marked Failed, as
 * Velero's server does at start. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/duration.h"
#include "util/err.h"
#include "util/log.h"
#include "velero/collect.h"
#include "velero/controllers.h"
#include "velero/gzjson.h"
#include "velero/layout.h"
#include "velero/bsl.h"
#include "velero/server.h"
#include "velero/server_metrics.h"
#include "velero/tarball.h"

#define CTL "backup"
#define PLURAL "backups"
#define BSL_PLURAL "backupstoragelocations"
#define LABEL_LOCATION "velero.io/storage-location"
#define LOG_CAP ((size_t)8 << 20)
#define PROGRESS_EVERY_MS 1000
#define FORMAT_VERSION "1.1.0"

typedef struct backup_run {
	stow_velero_server *srv;
	stow_kube *k;
	const stow_kube_resource *res;
	const char *ns, *name;
	json_t *backup; /* the object as last written */
	stow_log *log;	/* capture, uploaded as <name>-logs.gz */
	stow_velero_tar_writer *tw;
	struct timespec last_progress;
} backup_run;

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *obj_at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, key, v);
	}
	return v;
}

static void fmt_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void set_time(json_t *o, const char *key, time_t t)
{
	char ts[32];

	fmt_time(t, ts);
	json_object_set_new(o, key, json_string(ts));
}

/* ---- validation --------------------------------------------------------- */

static int resolve_gr(void *ctx, const char *name, char *out, size_t outsz)
{
	const stow_kube_resource *r = NULL;

	if (stow_kube_resource_lookup(ctx, name, &r) < 0)
		return -1;
	return stow_collect_gr(r, out, outsz);
}

/* The BSL a backup uses: its own, else the one marked default, else the
 * server's --default-backup-storage-location. */
static char *pick_location(stow_velero_server *srv, const json_t *spec)
{
	const char *named = jstr(spec, "storageLocation");
	json_t *all, *b;
	char *out = NULL;
	size_t i;

	if (named && *named)
		return strdup(named);
	all = stow_velero_server_list(srv, BSL_PLURAL);
	if (json_array_size(all) == 0) {
		/* Not informed here: ask the API server. */
		const stow_kube_resource *r =
		    stow_velero_server_res(srv, BSL_PLURAL);
		json_t *list = NULL;

		if (r &&
		    stow_kube_list(stow_velero_server_kube(srv), r,
				   stow_velero_server_opts_of(srv)->namespace,
				   NULL, &list) == 0) {
			json_decref(all);
			all = json_incref(json_object_get(list, "items"));
			json_decref(list);
		}
	}
	json_array_foreach(all, i, b)
	{
		if (json_is_true(json_object_get(json_object_get(b, "spec"),
						 "default")) &&
		    jstr(json_object_get(b, "metadata"), "name")) {
			out = strdup(
			    jstr(json_object_get(b, "metadata"), "name"));
			break;
		}
	}
	json_decref(all);
	return out ? out : strdup(stow_velero_server_opts_of(srv)->default_bsl);
}

/* Velero's checks of a new Backup; messages appended to errors. */
static int validate(stow_velero_server *srv, const json_t *backup,
		    const char *bsl_name, json_t *errors)
{
	const json_t *spec = json_object_get(backup, "spec");
	const char *ns = stow_velero_server_opts_of(srv)->namespace;
	const char *ttl = jstr(spec, "ttl");
	stow_collect_filter f;
	json_t *bsl;
	char msg[1024];
	int64_t ns_ttl;
	int rc;

	rc = stow_collect_filter_init(&f, spec, resolve_gr,
				      stow_velero_server_kube(srv), errors);
	stow_collect_filter_free(&f);
	if (rc < 0)
		return rc;
	if (ttl && *ttl && stow_duration_parse(ttl, &ns_ttl) < 0) {
		snprintf(msg, sizeof(msg), "Invalid ttl %s: %s", ttl,
			 stow_err_msg());
		json_array_append_new(errors, json_string(msg));
	}
	bsl = stow_velero_server_get(srv, BSL_PLURAL, ns, bsl_name);
	if (!bsl) {
		snprintf(msg, sizeof(msg),
			 "an existing backup storage location wasn't specified "
			 "at backup creation time and the default '%s' wasn't "
			 "found. Please address this issue (see `velero "
			 "backup-location -h` for options) and create a new "
			 "backup. Error: backupstoragelocations.velero.io "
			 "\"%s\" not found",
			 bsl_name, bsl_name);
		json_array_append_new(errors, json_string(msg));
		return 0;
	}
	{
		const char *mode =
		    jstr(json_object_get(bsl, "spec"), "accessMode");

		if (mode && !strcmp(mode, "ReadOnly")) {
			snprintf(msg, sizeof(msg),
				 "backup can't be created because backup "
				 "storage location %s is currently in "
				 "read-only mode",
				 bsl_name);
			json_array_append_new(errors, json_string(msg));
		}
		/* A location its controller found broken (unreachable,
		 * bad credentials, foreign data) fails the backup at once,
		 * with the reason in the BSL's status.message; one not
		 * validated yet is tried. */
		if (!stow_velero_location_available(bsl) &&
		    !strcmp(jstr(json_object_get(bsl, "status"), "phase")
				? jstr(json_object_get(bsl, "status"), "phase")
				: "",
			    "Unavailable")) {
			snprintf(msg, sizeof(msg),
				 "backup can't be created because "
				 "BackupStorageLocation %s is in Unavailable "
				 "status.",
				 bsl_name);
			json_array_append_new(errors, json_string(msg));
		}
	}
	json_decref(bsl);
	return 0;
}

/* ---- status writes ------------------------------------------------------ */

/* Merge-patch the Backup (Velero's CRDs have no status subresource);
 * *out (may be NULL) gets the object back. A few tries: the final status
 * must not be lost to one failed request. */
static int patch_backup(backup_run *b, json_t *patch, json_t **out)
{
	char *text = json_dumps(patch, JSON_COMPACT);
	struct timespec pause = {0, 500 * 1000 * 1000};
	int rc = STOW_ENOMEM;

	if (!text)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (int attempt = 0; attempt < 3; attempt++) {
		json_t *reply = NULL;

		rc =
		    stow_kube_patch(b->k, b->res, b->ns, b->name,
				    STOW_KUBE_PATCH_MERGE, text, false, &reply);
		if (rc == 0) {
			if (out)
				*out = reply;
			else
				json_decref(reply);
			break;
		}
		if (rc == STOW_ENOTFOUND)
			break;
		nanosleep(&pause, NULL);
	}
	free(text);
	return rc;
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void on_progress(void *ctx, uint64_t total, uint64_t done)
{
	backup_run *b = ctx;
	json_t *patch;

	if (ms_since(&b->last_progress) < PROGRESS_EVERY_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &b->last_progress);
	patch =
	    json_pack("{s:{s:{s:I,s:I}}}", "status", "progress", "totalItems",
		      (json_int_t)total, "itemsBackedUp", (json_int_t)done);
	if (patch && patch_backup(b, patch, NULL) < 0)
		stow_log_warning(b->log, "Error updating the backup's progress",
				 "error", stow_err_msg());
	json_decref(patch);
}

static int on_item(void *ctx, const stow_kube_resource *r, const char *gr,
		   json_t *obj)
{
	backup_run *b = ctx;
	json_t *md = json_object_get(obj, "metadata");

	/* Items are collected at the preferred version: both copies. */
	return stow_velero_tar_writer_add_item(
	    b->tw, gr, r->version, 1,
	    r->namespaced ? jstr(md, "namespace") : NULL, jstr(md, "name"),
	    obj);
}

/* The seam for file-system backups of pod volumes (velero-spec §5): here
 * the PodVolumeBackups of the pod's selected volumes will be created for
 * the node agent, and the backup will wait for them before finishing.
 * Nothing to do yet: -podvolumebackups.json.gz is written as null. */
static int pod_volume_backups(void *ctx, json_t *pod)
{
	(void)ctx;
	(void)pod;
	return 0;
}

static int stopping(void *ctx)
{
	backup_run *b = ctx;

	return stow_velero_server_stopping(b->srv);
}

/* ---- uploads --------------------------------------------------------- */

static int put_key_gzjson(const stow_velero_location *loc, const char *name,
			  stow_velero_backup_obj which, const json_t *v)
{
	char key[STOW_VELERO_KEY_MAX];

	STOW_TRY(stow_velero_backup_key(loc, name, which, key, sizeof(key)));
	return stow_velero_put_gzjson(loc, key, v);
}

/* <name>-logs.gz: the captured log lines (upload failures are only
 * logged, as in Velero). */
static void put_log(backup_run *b, const stow_velero_location *loc)
{
	char key[STOW_VELERO_KEY_MAX];
	stow_velero_gzip_writer *w = NULL;
	stow_buf text;
	int rc;

	stow_buf_init(&text, LOG_CAP * 2);
	rc = stow_log_capture_take(b->log, &text);
	if (rc == 0)
		rc = stow_velero_backup_key(
		    loc, b->name, STOW_VELERO_BACKUP_LOG, key, sizeof(key));
	if (rc == 0)
		rc = stow_velero_gzip_writer_open(&w, loc->store, key);
	if (rc == 0 && text.len)
		rc = stow_velero_gzip_writer_write(w, text.data, text.len);
	if (rc == 0) {
		rc = stow_velero_gzip_writer_commit(w);
		w = NULL;
	}
	stow_velero_gzip_writer_free(w);
	stow_buf_free(&text);
	if (rc < 0)
		stow_velero_log(b->srv, STOW_VLOG_WARN, CTL,
				"error uploading the backup log", "backup",
				b->name, "error", stow_err_msg(), NULL);
}

/* The side files after velero-backup.json (velero-spec §2.2). */
static int put_side_files(backup_run *b, const stow_velero_location *loc,
			  const stow_collect_result *res)
{
	json_t *null = json_null(), *empty = json_array();
	int rc;

	rc = put_key_gzjson(loc, b->name, STOW_VELERO_BACKUP_RESULTS,
			    res->results);
	if (rc == 0)
		rc = put_key_gzjson(loc, b->name,
				    STOW_VELERO_BACKUP_RESOURCE_LIST,
				    res->resource_list);
	if (rc == 0)
		rc = put_key_gzjson(loc, b->name,
				    STOW_VELERO_BACKUP_VOLUMESNAPSHOTS, null);
	if (rc == 0)
		rc = put_key_gzjson(loc, b->name,
				    STOW_VELERO_BACKUP_ITEMOPERATIONS, null);
	if (rc == 0)
		rc = put_key_gzjson(loc, b->name,
				    STOW_VELERO_BACKUP_PODVOLUMEBACKUPS, null);
	if (rc == 0)
		rc = put_key_gzjson(loc, b->name, STOW_VELERO_BACKUP_VOLUMEINFO,
				    empty);
	json_decref(empty);
	return rc;
}

/* ---- the run ------------------------------------------------------------ */

static void set_counts(json_t *status, uint64_t errors, uint64_t warnings,
		       const stow_collect_result *res)
{
	json_object_set_new(status, "errors", json_integer((json_int_t)errors));
	json_object_set_new(status, "warnings",
			    json_integer((json_int_t)warnings));
	json_object_set_new(status, "progress",
			    json_pack("{s:I,s:I}", "totalItems",
				      (json_int_t)res->total, "itemsBackedUp",
				      (json_int_t)res->done));
}

/* Write the final phase: velero-backup.json again (when loc), then the
 * Backup itself. */
static int finish(backup_run *b, const stow_velero_location *loc,
		  const char *phase, const char *reason, uint64_t errors,
		  uint64_t warnings, const stow_collect_result *res)
{
	json_t *status = obj_at(b->backup, "status");
	json_t *patch, *st;
	time_t now = time(NULL);
	int rc = 0;

	json_object_set_new(status, "phase", json_string(phase));
	set_time(status, "completionTimestamp", now);
	if (reason)
		json_object_set_new(status, "failureReason",
				    json_string(reason));
	set_counts(status, errors, warnings, res);
	if (loc &&
	    (rc = stow_velero_put_backup_json(loc, b->name, b->backup)) < 0)
		stow_velero_log(b->srv, STOW_VLOG_ERROR, CTL,
				"error uploading velero-backup.json", "backup",
				b->name, "error", stow_err_msg(), NULL);
	st = json_deep_copy(status);
	patch = json_pack("{s:o}", "status", st);
	if (!patch)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if ((rc = patch_backup(b, patch, NULL)) < 0)
		stow_velero_log(b->srv, STOW_VLOG_ERROR, CTL,
				"error writing the backup's final status",
				"backup", b->name, "error", stow_err_msg(),
				NULL);
	json_decref(patch);
	stow_velero_metrics_backup_finished(b->srv, b->backup, -1);
	stow_velero_log(b->srv, STOW_VLOG_INFO, CTL, "backup finished",
			"backup", b->name, "phase", phase, NULL);
	return rc;
}

/* Collect, stream the tarball, upload, finish. Returns 0 when the backup
 * reached a final phase, STOW_EINTR when the server stopped meanwhile
 * (the backup stays InProgress for the next leader to fail). */
static int run_backup(backup_run *b, const char *bsl_name)
{
	const json_t *spec = json_object_get(b->backup, "spec");
	stow_velero_location loc;
	stow_collect_filter f;
	stow_collect_result res = {0};
	stow_collect_cbs cbs = {on_item, pod_volume_backups, on_progress,
				stopping, b};
	uint64_t nerr = 0, nwarn = 0;
	const char *final;
	char reason[1024];
	json_t *existing = NULL;
	int rc;

	rc = stow_velero_server_location(b->srv, bsl_name, &loc, NULL);
	if (rc < 0) {
		snprintf(reason, sizeof(reason),
			 "error opening backup storage location %s: %s",
			 bsl_name, stow_err_msg());
		return finish(b, NULL, "Failed", reason, 1, 0, &res);
	}
	rc = stow_velero_get_backup_json(&loc, b->name, &existing);
	json_decref(existing);
	if (rc == 0) {
		stow_log_error(b->log,
			       "backup already exists in object storage");
		return finish(b, NULL, "Failed",
			      "backup already exists in object storage", 1, 0,
			      &res);
	}
	stow_log_info(b->log, "Setting up backup", "storageLocation", bsl_name);
	rc = stow_collect_filter_init(&f, spec, resolve_gr, b->k, NULL);
	if (rc == 0)
		rc = stow_velero_tar_writer_open(&b->tw, &loc, b->name);
	if (rc == 0) {
		clock_gettime(CLOCK_MONOTONIC, &b->last_progress);
		rc = stow_collect_run(b->k, &f, 0, b->log, &cbs, &res);
	}
	stow_collect_filter_free(&f);
	if (rc == STOW_EINTR && stow_velero_server_stopping(b->srv)) {
		stow_velero_tar_writer_free(b->tw);
		b->tw = NULL;
		stow_collect_result_free(&res);
		return STOW_EINTR;
	}
	if (rc == 0) {
		rc = stow_velero_tar_writer_commit(b->tw, NULL);
		b->tw = NULL;
	} else {
		stow_velero_tar_writer_free(b->tw);
		b->tw = NULL;
	}
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "%s", stow_err_msg());
		stow_log_error(b->log, "Error backing up items", "error",
			       reason);
	}
	stow_log_counts(b->log, &nerr, &nwarn);
	if (!res.results) {
		res.results = stow_velero_results_new();
		res.resource_list = stow_velero_resource_list_new();
	}
	if (rc < 0) {
		/* What Velero keeps of a failed backup: the log and the
		 * metadata, no tarball. */
		final = "Failed";
		stow_log_info(b->log, "Backup failed", "error", reason);
		set_counts(obj_at(b->backup, "status"), nerr, nwarn, &res);
		json_object_set_new(obj_at(b->backup, "status"), "phase",
				    json_string(final));
		put_log(b, &loc);
		(void)put_side_files(b, &loc, &res);
		rc = finish(b, &loc, final, reason, nerr, nwarn, &res);
		stow_collect_result_free(&res);
		return rc;
	}
	final = nerr ? "PartiallyFailed" : "Completed";
	stow_log_info(b->log, "Backup completed", "phase", final);
	{
		json_t *status = obj_at(b->backup, "status");

		json_object_set_new(
		    status, "phase",
		    json_string(nerr ? "FinalizingPartiallyFailed"
				     : "Finalizing"));
		set_counts(status, nerr, nwarn, &res);
	}
	/* Velero's order after the tarball: log (best effort),
	 * velero-backup.json, the side files; a failure there deletes what
	 * was written (a half backup must not be synced elsewhere). */
	put_log(b, &loc);
	rc = stow_velero_put_backup_json(&loc, b->name, b->backup);
	if (rc == 0)
		rc = put_side_files(b, &loc, &res);
	if (rc < 0) {
		snprintf(reason, sizeof(reason),
			 "error uploading the backup's metadata: %s",
			 stow_err_msg());
		(void)stow_velero_delete_backup(&loc, b->name, NULL);
		rc = finish(b, NULL, "Failed", reason, nerr + 1, nwarn, &res);
	} else {
		rc = finish(b, &loc, final, NULL, nerr, nwarn, &res);
	}
	stow_collect_result_free(&res);
	return rc;
}

/* The source cluster's version, as annotations Velero adds. */
static void annotate_version(stow_kube *k, json_t *annotations)
{
	json_t *v = NULL;

	if (stow_kube_request(k, "GET", "/version", NULL, NULL, 0, &v, NULL) <
	    0)
		return;
	if (jstr(v, "gitVersion"))
		json_object_set_new(annotations,
				    "velero.io/source-cluster-k8s-gitversion",
				    json_string(jstr(v, "gitVersion")));
	if (jstr(v, "major"))
		json_object_set_new(
		    annotations, "velero.io/source-cluster-k8s-major-version",
		    json_string(jstr(v, "major")));
	if (jstr(v, "minor"))
		json_object_set_new(
		    annotations, "velero.io/source-cluster-k8s-minor-version",
		    json_string(jstr(v, "minor")));
	json_decref(v);
}

/* Velero's prepareBackupRequest, then one update: the defaults (also on a
 * backup that failed validation: its expiration lets GC remove it), then
 * FailedValidation with the errors, or InProgress with startTimestamp.
 * The update carries the resourceVersion read, so only one reconcile ever
 * takes a backup to InProgress. *out (may be NULL) is the object as
 * stored. */
static int prepare(stow_velero_server *srv, const stow_kube_resource *res,
		   const char *ns, const json_t *backup, const char *bsl_name,
		   json_t *errors, json_t **out)
{
	const stow_velero_server_opts *o = stow_velero_server_opts_of(srv);
	json_t *b = json_deep_copy(backup), *spec, *md, *status;
	const char *ttl;
	char ttl_text[STOW_DURATION_STR_MAX];
	int64_t ttl_ns = 0;
	time_t now = time(NULL);
	bool failed = json_array_size(errors) > 0;
	int rc;

	if (!b)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	spec = obj_at(b, "spec");
	md = obj_at(b, "metadata");
	ttl = jstr(spec, "ttl");
	if (!ttl || stow_duration_parse(ttl, &ttl_ns) == 0) {
		/* unset or 0: the server's default, written into the spec */
		if (ttl_ns <= 0) {
			ttl_ns = (int64_t)o->default_backup_ttl_s *
				 STOW_NSEC_PER_SEC;
			json_object_set_new(spec, "ttl",
					    json_string(stow_duration_format(
						ttl_ns, ttl_text)));
		}
	} else {
		/* invalid (validation says so): left as written */
		ttl_ns = (int64_t)o->default_backup_ttl_s * STOW_NSEC_PER_SEC;
	}
	json_object_set_new(spec, "storageLocation", json_string(bsl_name));
	/* Velero's other defaults (its server flags' defaults): written so
	 * that velero-backup.json reads as Velero's would. */
	if (!json_is_string(json_object_get(spec, "csiSnapshotTimeout")))
		json_object_set_new(spec, "csiSnapshotTimeout",
				    json_string("10m0s"));
	if (!json_is_string(json_object_get(spec, "itemOperationTimeout")))
		json_object_set_new(spec, "itemOperationTimeout",
				    json_string("4h0m0s"));
	if (json_is_true(json_object_get(spec, "defaultVolumesToRestic")))
		json_object_set_new(spec, "defaultVolumesToFsBackup",
				    json_true());
	if (!json_is_boolean(json_object_get(spec, "defaultVolumesToFsBackup")))
		json_object_set_new(spec, "defaultVolumesToFsBackup",
				    json_false());
	if (!json_is_boolean(json_object_get(spec, "snapshotMoveData")))
		json_object_set_new(spec, "snapshotMoveData", json_false());
	if (json_array_size(json_object_get(spec, "includedNamespaces")) == 0)
		json_object_set_new(spec, "includedNamespaces",
				    json_pack("[s]", "*"));
	json_object_set_new(obj_at(md, "labels"), LABEL_LOCATION,
			    json_string(bsl_name));
	annotate_version(stow_velero_server_kube(srv),
			 obj_at(md, "annotations"));
	json_object_set_new(obj_at(md, "annotations"),
			    "velero.io/resource-timeout", json_string("10m0s"));
	status = obj_at(b, "status");
	json_object_set_new(status, "formatVersion",
			    json_string(FORMAT_VERSION));
	json_object_set_new(status, "version", json_integer(1));
	set_time(status, "expiration",
		 now + (time_t)(ttl_ns / STOW_NSEC_PER_SEC));
	if (failed) {
		json_object_set_new(status, "phase",
				    json_string("FailedValidation"));
		json_object_set(status, "validationErrors", errors);
	} else {
		json_object_set_new(status, "phase", json_string("InProgress"));
		set_time(status, "startTimestamp", now);
		json_object_set_new(status, "progress", json_object());
	}
	rc = stow_kube_update(stow_velero_server_kube(srv), res, ns, b, false,
			      out);
	json_decref(b);
	return rc;
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	const stow_velero_server_opts *o = stow_velero_server_opts_of(srv);
	const stow_kube_resource *res = stow_velero_server_res(srv, PLURAL);
	json_t *backup, *errors = NULL, *claimed = NULL;
	const char *phase;
	char *bsl_name = NULL;
	backup_run b = {0};
	char field[600];
	int rc;

	(void)ctx;
	stow_velero_metrics_count_objects(srv);
	if (!res)
		return stow_err_set(STOW_ENOTFOUND, "backups.velero.io is not "
						    "served");
	backup = stow_velero_server_get(srv, PLURAL, ns, name);
	if (!backup)
		return 0;
	phase = jstr(json_object_get(backup, "status"), "phase");
	if (phase && *phase && strcmp(phase, "New") != 0 &&
	    strcmp(phase, "ReadyToStart") != 0) {
		json_decref(backup);
		return 0;
	}
	bsl_name = pick_location(srv, json_object_get(backup, "spec"));
	errors = json_array();
	if (!bsl_name || !errors) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto out;
	}
	rc = validate(srv, backup, bsl_name, errors);
	if (rc < 0)
		goto out;
	if (json_array_size(errors)) {
		size_t i;
		json_t *e;

		rc = prepare(srv, res, ns, backup, bsl_name, errors, NULL);
		if (rc == 0)
			stow_velero_metrics_backup_validation_failed(
			    srv, stow_velero_metrics_backup_schedule(backup));
		json_array_foreach(errors, i, e)
		{
			if (rc == 0)
				stow_velero_log(srv, STOW_VLOG_INFO, CTL,
						"backup failed validation",
						"backup", name, "error",
						json_string_value(e), NULL);
		}
		goto out;
	}
	rc = prepare(srv, res, ns, backup, bsl_name, errors, &claimed);
	if (rc < 0)
		goto out;
	stow_velero_log(srv, STOW_VLOG_INFO, CTL, "backup started", "backup",
			name, "storageLocation", bsl_name, NULL);
	stow_velero_metrics_backup_attempt(
	    srv, stow_velero_metrics_backup_schedule(claimed));

	/* The backup's own log: captured for upload, forwarded to ours. */
	snprintf(field, sizeof(field), "%s/%s", ns ? ns : "", name);
	rc = stow_log_capture_new(&b.log, stow_velero_server_logger(srv),
				  o->log_json ? STOW_LOG_JSON : STOW_LOG_LOGFMT,
				  STOW_LOG_INFO, LOG_CAP);
	if (rc == 0)
		rc = stow_log_add_field(b.log, "backup", field);
	if (rc < 0)
		goto out;
	b.srv = srv;
	b.k = stow_velero_server_kube(srv);
	b.res = res;
	b.ns = ns;
	b.name = name;
	b.backup = claimed;
	rc = run_backup(&b, bsl_name);
	if (rc == STOW_EINTR) {
		stow_velero_log(srv, STOW_VLOG_WARN, CTL,
				"backup abandoned: the server is stopping",
				"backup", name, NULL);
		rc = 0;
	}
out:
	stow_log_free(b.log);
	json_decref(claimed);
	json_decref(errors);
	json_decref(backup);
	free(bsl_name);
	if (rc == STOW_ECONFLICT)
		return 1000; /* someone changed it: look again */
	return rc;
}

/* Velero's server start: a backup InProgress was abandoned by a previous
 * leader (or process) and will never finish. */
static int start(stow_velero_server *srv, void *ctx)
{
	const stow_kube_resource *res = stow_velero_server_res(srv, PLURAL);
	json_t *all = stow_velero_server_list(srv, PLURAL), *b;
	size_t i;

	(void)ctx;
	json_array_foreach(all, i, b)
	{
		json_t *md = json_object_get(b, "metadata");
		const char *phase = jstr(json_object_get(b, "status"), "phase");
		backup_run run = {0};
		json_t *patch;
		char ts[32];

		if (!res || !phase || strcmp(phase, "InProgress") != 0)
			continue;
		run.k = stow_velero_server_kube(srv);
		run.res = res;
		run.ns = jstr(md, "namespace");
		run.name = jstr(md, "name");
		fmt_time(time(NULL), ts);
		patch = json_pack(
		    "{s:{s:s,s:s,s:s}}", "status", "phase", "Failed",
		    "failureReason",
		    "found a backup with status \"InProgress\" during the "
		    "server starting, mark it as \"Failed\"",
		    "completionTimestamp", ts);
		if (patch && run.name && patch_backup(&run, patch, NULL) == 0)
			stow_velero_log(srv, STOW_VLOG_WARN, CTL,
					"marked a backup left InProgress as "
					"Failed",
					"backup", run.name, NULL);
		json_decref(patch);
	}
	json_decref(all);
	return 0;
}

const stow_velero_controller *stow_velero_ctl_backup(void)
{
	static const stow_velero_controller c = {
	    .name = CTL,
	    .resource = PLURAL,
	    .workers = 1,
	    .start = start,
	    .reconcile = reconcile,
	};

	return &c;
}
