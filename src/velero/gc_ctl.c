/* The garbage-collection controller of `stowage server` (velero-spec
 * §8.2, and our GFS retention, docs/schedules.md §5).
 *
 * Every --garbage-collection-frequency each Backup is looked at. Whether
 * it expires is retention.h's decision: its status.expiration has passed
 * (TTL), or - for a backup of a Schedule carrying the annotation
 * stowage.io/retention - it is outside that schedule's GFS policy, which
 * replaces the TTL for the schedule's backups. An expired backup gets a
 * DeleteBackupRequest (delete_ctl.c does the deleting) unless one is
 * pending already; Processed requests of it are removed first, so a
 * failed deletion is retried once per period, as in Velero.
 *
 * As Velero, GC leaves a backup alone when its location is missing
 * (label velero.io/gc-failure=BSLNotFound), ReadOnly (BSLReadOnly) or
 * Unavailable ("backup's storage location is unavailable, skipping GC"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "velero/bsl.h"
#include "velero/controllers.h"
#include "velero/retention.h"
#include "velero/schedule_ctl.h"

#define CTL "gc"
#define PLURAL "backups"
#define DBR_PLURAL "deletebackuprequests"

static const char *label_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(
	    json_object_get(json_object_get(o, "metadata"), "labels"), key));
}

static const char *name_of(const json_t *o)
{
	return stow_velero_object_str(o, "metadata", "name");
}

static const char *ns_of(const json_t *o)
{
	return stow_velero_object_str(o, "metadata", "namespace");
}

static void retention_entry(const json_t *b, stow_retention_backup *out)
{
	int64_t started =
	    stow_velero_object_time(b, "status", "startTimestamp");

	out->name = name_of(b);
	/* The start time survives a backup sync into another cluster; the
	 * creation time of a synced Backup is the sync. */
	out->created = started ? started
			       : stow_velero_object_time(b, "metadata",
							 "creationTimestamp");
	out->expiration = stow_velero_object_time(b, "status", "expiration");
	out->phase = stow_velero_object_str(b, "status", "phase");
	out->schedule = label_of(b, STOW_VELERO_LABEL_SCHEDULE_NAME);
}

/* The GFS policy of the backup's schedule, if it has a valid one; *tz
 * (the schedule's zone) must outlive the decision, so *cron keeps it. */
static int schedule_policy(stow_velero_server *srv, const char *ns,
			   const char *schedule, stow_retention_policy *p,
			   stow_cron **cron)
{
	json_t *s = stow_velero_server_get(srv, "schedules", ns, schedule);
	const char *text, *expr;
	int ok = 0;

	*cron = NULL;
	if (!s)
		return 0;
	text = json_string_value(json_object_get(
	    json_object_get(json_object_get(s, "metadata"), "annotations"),
	    STOW_RETENTION_ANNOTATION));
	expr = stow_velero_object_str(s, "spec", "schedule");
	/* An invalid policy deletes nothing by GFS (the Schedule is in
	 * FailedValidation saying why); the TTL still applies. */
	if (text && stow_retention_policy_parse(p, text) == 0) {
		ok = 1;
		if (expr && stow_cron_parse(cron, expr) < 0)
			*cron = NULL; /* UTC periods */
	}
	json_decref(s);
	return ok;
}

/* retention.h's verdict on backup b (from the cache); reason filled. */
static int decide(stow_velero_server *srv, const json_t *b, const char *ns,
		  int *expire, char reason[STOW_RETENTION_REASON_MAX])
{
	const char *schedule = label_of(b, STOW_VELERO_LABEL_SCHEDULE_NAME);
	stow_retention_policy policy;
	stow_retention_backup one, *list = NULL;
	stow_retention_decision d1, *out = NULL;
	stow_cron *cron = NULL;
	json_t *all = NULL, *o;
	size_t i, n = 0, self = 0;
	int rc;

	retention_entry(b, &one);
	if (!schedule || !schedule_policy(srv, ns, schedule, &policy, &cron)) {
		rc = stow_retention_decide(&one, 1, NULL, NULL, NULL,
					   (int64_t)time(NULL), &d1);
		*expire = rc == 0 && d1.expire;
		snprintf(reason, STOW_RETENTION_REASON_MAX, "%s", d1.reason);
		return rc;
	}
	/* GFS: the whole schedule's backups take part in the decision. */
	all = stow_velero_server_list(srv, PLURAL);
	list = calloc(json_array_size(all) + 1, sizeof(*list));
	out = calloc(json_array_size(all) + 1, sizeof(*out));
	if (!list || !out) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(all, i, o)
	{
		const char *s = label_of(o, STOW_VELERO_LABEL_SCHEDULE_NAME);
		const char *ons = ns_of(o);

		if (!s || strcmp(s, schedule) || !ons || strcmp(ons, ns) ||
		    !name_of(o))
			continue;
		if (!strcmp(name_of(o), one.name))
			self = n;
		retention_entry(o, &list[n++]);
	}
	if (n == 0 || strcmp(list[self].name, one.name)) {
		/* Not in the cache (yet): judge it alone. */
		self = n;
		list[n++] = one;
	}
	rc = stow_retention_decide(list, n, &policy, schedule,
				   cron ? stow_cron_tz(cron) : NULL,
				   (int64_t)time(NULL), out);
	if (rc == 0) {
		*expire = out[self].expire;
		snprintf(reason, STOW_RETENTION_REASON_MAX, "%s",
			 out[self].reason);
	}
done:
	free(list);
	free(out);
	json_decref(all);
	stow_cron_free(cron);
	return rc;
}

/* Set or clear the gc-failure label (value NULL clears). */
static int set_gc_failure(stow_velero_server *srv, const json_t *b,
			  const char *ns, const char *value)
{
	const char *cur = label_of(b, STOW_VELERO_LABEL_GC_FAILURE);

	if ((!cur && !value) || (cur && value && !strcmp(cur, value)))
		return 0;
	return stow_velero_object_patch(
	    srv, PLURAL, ns, name_of(b),
	    json_pack("{s:{s:{s:o}}}", "metadata", "labels",
		      STOW_VELERO_LABEL_GC_FAILURE,
		      value ? json_string(value) : json_null()));
}

/* The location checks of Velero's GC: 1 to go on, 0 to skip. */
static int location_allows_gc(stow_velero_server *srv, const json_t *b,
			      const char *ns, int *rc)
{
	const char *named =
	    stow_velero_object_str(b, "spec", "storageLocation");
	char *bsl_name = NULL;
	const char *failure = NULL, *why = NULL;
	json_t *bsl;

	if (!named || !*named)
		named = label_of(b, STOW_VELERO_LABEL_STORAGE_LOCATION);
	bsl_name =
	    named && *named ? strdup(named) : stow_velero_default_location(srv);
	bsl = bsl_name ? stow_velero_server_get(srv, STOW_VELERO_BSL_PLURAL, ns,
						bsl_name)
		       : NULL;
	if (!bsl) {
		failure = "BSLNotFound";
		why = "backup's storage location not found, skipping GC";
	} else if (!stow_velero_location_writable(bsl)) {
		failure = "BSLReadOnly";
		why = "backup's storage location is ReadOnly, skipping GC";
	} else {
		const char *phase =
		    stow_velero_object_str(bsl, "status", "phase");

		if (phase && !strcmp(phase, "Unavailable"))
			why = "backup's storage location is Unavailable, "
			      "skipping GC";
	}
	*rc = 0;
	if (why)
		stow_velero_log(srv, STOW_VLOG_INFO, CTL, why, "backup",
				name_of(b), "location",
				bsl_name ? bsl_name : "", NULL);
	if (failure || !why)
		*rc = set_gc_failure(srv, b, ns, failure);
	free(bsl_name);
	json_decref(bsl);
	if (*rc == STOW_ENOTFOUND)
		*rc = 0;
	return why == NULL;
}

/* 1 when a request for this backup is New or InProgress; Processed ones
 * (earlier failures) are deleted. */
static int deletion_pending(stow_velero_server *srv, const char *ns,
			    const char *backup)
{
	json_t *all = stow_velero_server_list(srv, DBR_PLURAL), *r;
	const stow_kube_resource *res = stow_velero_server_res(srv, DBR_PLURAL);
	int pending = 0;
	size_t i;

	json_array_foreach(all, i, r)
	{
		const char *phase =
		    stow_velero_object_str(r, "status", "phase");
		const char *target =
		    stow_velero_object_str(r, "spec", "backupName");
		const char *rns = ns_of(r);

		if (!target || strcmp(target, backup) || !rns ||
		    strcmp(rns, ns))
			continue;
		if (!phase || strcmp(phase, "Processed")) {
			pending = 1;
		} else if (res) {
			int rc =
			    stow_kube_delete(stow_velero_server_kube(srv), res,
					     ns, name_of(r), NULL, NULL);

			if (rc < 0 && rc != STOW_ENOTFOUND)
				stow_velero_log(srv, STOW_VLOG_WARN, CTL,
						"cannot remove a processed "
						"deletion request",
						"deletebackuprequest",
						name_of(r), "error",
						stow_err_msg(), NULL);
		}
	}
	json_decref(all);
	return pending;
}

static int request_deletion(stow_velero_server *srv, const json_t *b,
			    const char *ns, const char *reason)
{
	const stow_kube_resource *res = stow_velero_server_res(srv, DBR_PLURAL);
	const char *name = name_of(b);
	const char *uid = stow_velero_object_str(b, "metadata", "uid");
	char label[64], gen[STOW_VELERO_NAME_MAX + 2];
	json_t *dbr, *created = NULL;
	int rc;

	if (!res)
		return stow_err_set(STOW_ENOTFOUND,
				    "the CRD of deletebackuprequests.velero.io "
				    "is not installed");
	stow_velero_label_value(name, label);
	snprintf(gen, sizeof(gen), "%s-", name);
	dbr = json_pack(
	    "{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s}}", "apiVersion",
	    "velero.io/v1", "kind", "DeleteBackupRequest", "metadata",
	    "generateName", gen, "namespace", ns, "labels",
	    STOW_VELERO_LABEL_BACKUP_NAME, label, STOW_VELERO_LABEL_BACKUP_UID,
	    uid ? uid : "", "spec", "backupName", name);
	if (!dbr)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = stow_kube_create(stow_velero_server_kube(srv), res, ns, dbr,
			      &created);
	json_decref(dbr);
	if (rc < 0)
		return stow_err_wrap(rc, "requesting deletion of backup %s/%s",
				     ns, name);
	stow_velero_log(srv, STOW_VLOG_INFO, CTL,
			"backup expired, deletion requested", "backup", name,
			"reason", reason, "deletebackuprequest",
			name_of(created) ? name_of(created) : "", NULL);
	json_decref(created);
	return 0;
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	json_t *b = stow_velero_server_get(srv, PLURAL, ns, name);
	char reason[STOW_RETENTION_REASON_MAX] = "";
	int expire = 0, rc;

	(void)ctx;
	if (!b)
		return 0;
	if (!ns)
		ns = "";
	rc = decide(srv, b, ns, &expire, reason);
	if (rc == 0 && expire && location_allows_gc(srv, b, ns, &rc) &&
	    rc == 0 && !deletion_pending(srv, ns, name))
		rc = request_deletion(srv, b, ns, reason);
	json_decref(b);
	return rc;
}

static int start(stow_velero_server *srv, void *ctx);

static stow_velero_controller gc_ctl = {
    .name = CTL,
    .resource = PLURAL,
    .workers = 1,
    .resync_ms = 3600L * 1000, /* set from the server's options by start */
    .start = start,
    .reconcile = reconcile,
};

/* The period is a server option; the server reads resync_ms after start
 * returns, on the thread that called start. */
static int start(stow_velero_server *srv, void *ctx)
{
	long s = stow_velero_server_opts_of(srv)->gc_period_s;

	(void)ctx;
	gc_ctl.resync_ms = (s > 0 ? s : 1) * 1000L;
	return 0;
}

const stow_velero_controller *stow_velero_ctl_gc(void)
{
	return &gc_ctl;
}
