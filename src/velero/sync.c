/* Backup sync (velero-spec §8.3): what makes a second cluster pointed at
 * the same location see, and restore, the first one's backups.
 *
 * Per Available BSL, every --backup-sync-period (or the BSL's
 * spec.backupSyncPeriod; 0 disables):
 * - each backup in the location with a velero-backup.json and no Backup
 *   of that name in the cluster is created from the stored JSON in the
 *   server's namespace: server-set metadata dropped, spec.storageLocation
 *   and the velero.io/storage-location label set to the local BSL name,
 *   status kept. In-flight phases are skipped unless already expired,
 *   then imported as PartiallyFailed. Its PodVolumeBackups
 *   (-podvolumebackups.json.gz) follow, owned by the new Backup.
 * - each Backup labelled with this location, in phase Completed or
 *   PartiallyFailed, whose backups/<name>/ holds nothing any more is
 *   deleted from the cluster (only the object: its data is gone already).
 * - status.lastSyncedTime of the BSL is set.
 * A location that cannot be listed changes nothing. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/sigv4.h"
#include "util/duration.h"
#include "util/err.h"
#include "velero/bsl.h"
#include "velero/controllers.h"
#include "velero/layout.h"

#define CONTROLLER "backup-sync"

static const char *jget(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	return json_string_value(b ? json_object_get(v, b) : v);
}

static int requeue_ms(long s)
{
	if (s < 1)
		s = 1;
	if (s > 86400)
		s = 86400;
	return (int)(s * 1000);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Velero's label.GetValidName: values over 63 characters become the
 * first 57 and 6 hex digits of the SHA-256 of the whole. */
static void label_value(const char *v, char out[64])
{
	char hex[STOW_SIGV4_HASH_HEX_LEN];

	if (strlen(v) <= 63) {
		snprintf(out, 64, "%s", v);
		return;
	}
	if (stow_sigv4_sha256_hex(v, strlen(v), hex) < 0)
		hex[0] = '\0';
	snprintf(out, 64, "%.57s%.6s", v, hex);
}

/* Last sync per BSL name (monotonic ms), this process. */
static struct {
	pthread_mutex_t mu;
	json_t *last; /* name -> integer */
} st = {PTHREAD_MUTEX_INITIALIZER, NULL};

static uint64_t last_sync(const char *name)
{
	uint64_t v;

	pthread_mutex_lock(&st.mu);
	v = (uint64_t)json_integer_value(json_object_get(st.last, name));
	pthread_mutex_unlock(&st.mu);
	return v;
}

static void set_last_sync(const char *name, uint64_t ms)
{
	pthread_mutex_lock(&st.mu);
	if (!st.last)
		st.last = json_object();
	if (st.last)
		json_object_set_new(st.last, name,
				    json_integer((json_int_t)ms));
	pthread_mutex_unlock(&st.mu);
}

static long sync_period_s(stow_velero_server *srv, const json_t *bsl)
{
	const char *p =
	    jget(json_object_get(bsl, "spec"), "backupSyncPeriod", NULL);
	int64_t ns;

	if (p && stow_duration_parse(p, &ns) == 0 && ns >= 0)
		return (long)(ns / STOW_NSEC_PER_SEC);
	return stow_velero_server_opts_of(srv)->backup_sync_period_s;
}

/* --- what the location holds ---------------------------------------------- */

typedef struct listing {
	json_t *all;	 /* name -> true: anything under backups/<name>/ */
	json_t *with_md; /* name -> true: has velero-backup.json */
} listing;

static int on_backup(void *ctx, const char *name, int has_metadata)
{
	listing *l = ctx;

	if (json_object_set_new(l->all, name, json_true()) < 0 ||
	    (has_metadata &&
	     json_object_set_new(l->with_md, name, json_true()) < 0))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

/* --- metadata ------------------------------------------------------------- */

/* Keep only what a new object may carry: name, namespace, labels,
 * annotations. */
static void reset_metadata(json_t *obj, const char *name, const char *ns)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *labels = json_object_get(md, "labels");
	json_t *ann = json_object_get(md, "annotations");
	json_t *nmd = json_object();

	json_object_set_new(nmd, "name", json_string(name));
	json_object_set_new(nmd, "namespace", json_string(ns));
	if (json_is_object(labels))
		json_object_set(nmd, "labels", labels);
	if (json_is_object(ann))
		json_object_set(nmd, "annotations", ann);
	json_object_set_new(obj, "metadata", nmd);
}

static int set_label(json_t *obj, const char *k, const char *v)
{
	json_t *md = json_object_get(obj, "metadata");
	json_t *labels = json_object_get(md, "labels");

	if (!json_is_object(labels)) {
		labels = json_object();
		if (!labels || json_object_set_new(md, "labels", labels) < 0)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return json_object_set_new(labels, k, json_string(v)) < 0
		   ? stow_err_set(STOW_ENOMEM, "out of memory")
		   : 0;
}

static bool in_flight(const char *phase)
{
	static const char *const done[] = {"Completed", "PartiallyFailed",
					   "Failed", "FailedValidation",
					   "Deleting"};

	if (!phase || !*phase)
		return true;
	for (size_t i = 0; i < sizeof(done) / sizeof(done[0]); i++)
		if (!strcmp(phase, done[i]))
			return false;
	return true;
}

/* Create the PodVolumeBackups of a synced backup, owned by it. */
static void sync_pvbs(stow_velero_server *srv, const stow_velero_location *loc,
		      const char *ns, const char *bsl_name, const char *bname,
		      const json_t *created)
{
	const stow_kube_resource *r =
	    stow_velero_server_res(srv, "podvolumebackups");
	const char *uid =
	    jget(json_object_get(created, "metadata"), "uid", NULL);
	char key[STOW_VELERO_KEY_MAX];
	json_t *pvbs = NULL, *p;
	size_t i;
	int rc;

	if (!r || stow_velero_backup_key(loc, bname,
					 STOW_VELERO_BACKUP_PODVOLUMEBACKUPS,
					 key, sizeof(key)) < 0)
		return;
	rc = stow_velero_get_gzjson(loc, key, 0, &pvbs);
	if (rc == STOW_ENOTFOUND)
		return;
	if (rc < 0) {
		stow_velero_log(srv, STOW_VLOG_WARN, CONTROLLER,
				"cannot read the backup's pod volume backups",
				"backup", bname, "error", stow_err_msg(), NULL);
		return;
	}
	json_array_foreach(pvbs, i, p)
	{
		const char *pname =
		    jget(json_object_get(p, "metadata"), "name", NULL);
		json_t *md, *owners, *o, *labels;
		size_t j;

		if (!json_is_object(p) || !pname ||
		    !stow_velero_name_valid(pname))
			continue;
		md = json_object_get(p, "metadata");
		owners = json_object_get(md, "ownerReferences");
		if (owners)
			json_incref(owners);
		reset_metadata(p, pname, ns);
		md = json_object_get(p, "metadata");
		json_array_foreach(owners, j, o)
		{
			const char *kind = jget(o, "kind", NULL);
			const char *on = jget(o, "name", NULL);

			if (kind && on && uid && !strcmp(kind, "Backup") &&
			    !strcmp(on, bname))
				json_object_set_new(o, "uid", json_string(uid));
		}
		if (json_is_array(owners))
			json_object_set(md, "ownerReferences", owners);
		json_decref(owners);
		labels = json_object_get(md, "labels");
		if (uid && json_object_get(labels, "velero.io/backup-uid"))
			json_object_set_new(labels, "velero.io/backup-uid",
					    json_string(uid));
		if (json_is_object(json_object_get(p, "spec")))
			json_object_set_new(json_object_get(p, "spec"),
					    "backupStorageLocation",
					    json_string(bsl_name));
		rc = stow_kube_create(stow_velero_server_kube(srv), r, ns, p,
				      NULL);
		if (rc < 0 && rc != STOW_EEXIST && rc != STOW_ECONFLICT)
			stow_velero_log(srv, STOW_VLOG_WARN, CONTROLLER,
					"cannot create a synced pod volume "
					"backup",
					"backup", bname, "podvolumebackup",
					pname, "error", stow_err_msg(), NULL);
	}
	json_decref(pvbs);
}

/* Create Backup bname from its velero-backup.json. */
static int import_backup(stow_velero_server *srv,
			 const stow_velero_location *loc, const char *ns,
			 const char *bsl_name, const char *bname)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, "backups");
	json_t *b = NULL, *created = NULL, *status;
	const char *phase;
	char lv[64];
	int rc;

	if (!r)
		return stow_err_set(STOW_ENOTFOUND,
				    "the CRD of backups.velero.io is not "
				    "installed");
	rc = stow_velero_get_backup_json(loc, bname, &b);
	if (rc < 0) {
		stow_velero_log(srv, STOW_VLOG_WARN, CONTROLLER,
				"cannot read a backup's metadata: not synced",
				"backup", bname, "backupstoragelocation",
				bsl_name, "error", stow_err_msg(), NULL);
		return 0;
	}
	status = json_object_get(b, "status");
	phase = jget(status, "phase", NULL);
	if (in_flight(phase)) {
		time_t exp = 0;

		if (stow_velero_time_parse(jget(status, "expiration", NULL),
					   &exp) < 0 ||
		    exp > time(NULL)) {
			/* Another cluster may still be writing it. */
			json_decref(b);
			return 0;
		}
		json_object_set_new(status, "phase",
				    json_string("PartiallyFailed"));
	}
	reset_metadata(b, bname, ns);
	label_value(bsl_name, lv);
	rc = set_label(b, STOW_VELERO_LABEL_STORAGE_LOCATION, lv);
	if (rc == 0 && !json_is_object(json_object_get(b, "spec")))
		rc = json_object_set_new(b, "spec", json_object());
	if (rc == 0)
		rc = json_object_set_new(json_object_get(b, "spec"),
					 "storageLocation",
					 json_string(bsl_name));
	if (rc == 0)
		rc = stow_kube_create(stow_velero_server_kube(srv), r, ns, b,
				      &created);
	if (rc == STOW_EEXIST || rc == STOW_ECONFLICT) {
		rc = 0; /* created meanwhile (by a backup or a sync) */
	} else if (rc == 0) {
		stow_velero_log(
		    srv, STOW_VLOG_INFO, CONTROLLER,
		    "backup synced from the location into the "
		    "cluster",
		    "backup", bname, "backupstoragelocation", bsl_name, "phase",
		    jget(json_object_get(b, "status"), "phase", NULL), NULL);
		sync_pvbs(srv, loc, ns, bsl_name, bname, created);
	}
	json_decref(created);
	json_decref(b);
	return rc;
}

/* --- the cluster's backups ---------------------------------------------- */

static int collect(void *ctx, json_t *item)
{
	const char *n = jget(json_object_get(item, "metadata"), "name", NULL);

	if (n && json_object_set(ctx, n, item) < 0)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	json_t *bsl =
	    stow_velero_server_get(srv, STOW_VELERO_BSL_PLURAL, ns, name);
	const stow_kube_resource *r = stow_velero_server_res(srv, "backups");
	listing l = {json_object(), json_object()};
	json_t *cluster = json_object(), *b;
	stow_velero_location loc;
	const char *bname;
	char lv[64], now_s[32];
	long period;
	uint64_t last, now = mono_ms();
	size_t created = 0, deleted = 0;
	int rc = 0;

	(void)ctx;
	if (!bsl || !l.all || !l.with_md || !cluster || !r)
		goto out;
	period = sync_period_s(srv, bsl);
	if (period <= 0 || !stow_velero_location_available(bsl))
		goto out;
	last = last_sync(name);
	if (last && last + (uint64_t)period * 1000 > now) {
		rc = requeue_ms(
		    (long)((last + (uint64_t)period * 1000 - now) / 1000));
		goto out;
	}
	/* The cluster first: a Backup is marked Completed only after its
	 * velero-backup.json was written, so every Completed one listed
	 * here is also in the location's listing that follows unless it
	 * really is gone; the other order could delete a backup that
	 * completed in between. */
	rc = stow_velero_server_location(srv, name, &loc, NULL);
	if (rc == 0)
		rc = stow_kube_list_each(stow_velero_server_kube(srv), r, ns,
					 NULL, collect, cluster, NULL);
	if (rc == 0)
		rc = stow_velero_list_backups(&loc, on_backup, &l);
	if (rc < 0) {
		rc = stow_err_wrap(rc, "syncing backup storage location %s",
				   name);
		goto out;
	}
	json_object_foreach(l.with_md, bname, b)
	{
		if (json_object_get(cluster, bname))
			continue;
		if (stow_velero_server_stopping(srv))
			goto out;
		rc = import_backup(srv, &loc, ns, name, bname);
		if (rc < 0)
			goto out;
		created++;
	}
	label_value(name, lv);
	json_object_foreach(cluster, bname, b)
	{
		const json_t *md = json_object_get(b, "metadata");
		const char *loc_label =
		    jget(json_object_get(md, "labels"),
			 STOW_VELERO_LABEL_STORAGE_LOCATION, NULL);
		const char *phase =
		    jget(json_object_get(b, "status"), "phase", NULL);

		if (!loc_label || strcmp(loc_label, lv) != 0 || !phase ||
		    (strcmp(phase, "Completed") != 0 &&
		     strcmp(phase, "PartiallyFailed") != 0) ||
		    json_object_get(md, "deletionTimestamp") ||
		    json_object_get(l.all, bname))
			continue;
		rc = stow_kube_delete(stow_velero_server_kube(srv), r, ns,
				      bname, NULL, NULL);
		if (rc < 0 && rc != STOW_ENOTFOUND)
			goto out;
		rc = 0;
		deleted++;
		stow_velero_log(srv, STOW_VLOG_INFO, CONTROLLER,
				"backup no longer in its location: deleted "
				"from the cluster",
				"backup", bname, "backupstoragelocation", name,
				NULL);
	}
	stow_velero_time_format(time(NULL), now_s);
	{
		const stow_kube_resource *br =
		    stow_velero_server_res(srv, STOW_VELERO_BSL_PLURAL);
		char body[128];

		snprintf(body, sizeof(body),
			 "{\"status\":{\"lastSyncedTime\":\"%s\"}}", now_s);
		if (br)
			(void)stow_kube_patch(stow_velero_server_kube(srv), br,
					      ns, name, STOW_KUBE_PATCH_MERGE,
					      body, false, NULL);
	}
	set_last_sync(name, now);
	if (created || deleted) {
		char c[24], d[24];

		snprintf(c, sizeof(c), "%zu", created);
		snprintf(d, sizeof(d), "%zu", deleted);
		stow_velero_log(srv, STOW_VLOG_INFO, CONTROLLER,
				"backup sync done", "backupstoragelocation",
				name, "created", c, "deleted", d, NULL);
	}
	rc = requeue_ms(period);
out:
	json_decref(l.all);
	json_decref(l.with_md);
	json_decref(cluster);
	json_decref(bsl);
	return rc;
}

static int start(stow_velero_server *srv, void *ctx);

static stow_velero_controller ctl = {
    .name = CONTROLLER,
    .resource = STOW_VELERO_BSL_PLURAL,
    .workers = 1,
    .resync_ms = 60000,
    .start = start,
    .reconcile = reconcile,
};

/* The resync follows --backup-sync-period (read by the server after
 * start); BSLs with their own period requeue themselves. */
static int start(stow_velero_server *srv, void *ctx)
{
	long p = stow_velero_server_opts_of(srv)->backup_sync_period_s;

	(void)ctx;
	ctl.resync_ms = p > 0 ? p * 1000 : 0;
	return 0;
}

const stow_velero_controller *stow_velero_ctl_backup_sync(void)
{
	return &ctl;
}
