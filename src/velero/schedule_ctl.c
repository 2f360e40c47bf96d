/* The Schedule controller of `stowage server` (velero-spec §1.3, §8.1).
 *
 * Each reconcile of a Schedule: validate it (cron expression, our GFS
 * annotation) into status.phase Enabled or FailedValidation with
 * validationErrors; leave a paused schedule alone; honour
 * spec.skipImmediately (flip it back to false, status.lastSkipped = now);
 * and when the next activation after status.lastBackup (else the
 * creation time, else lastSkipped if later) has come, create the Backup
 * "<schedule>-<YYYYMMDDHHMMSS>" from spec.template and set lastBackup.
 * Then it asks to be queued again at the next activation.
 *
 * One backup per activation: the backup is named after the activation it
 * serves (not after the moment it was created), so a repeated attempt for
 * the same activation - the status write lost, a stale informer cache, a
 * new leader - collides on the name, and 409 AlreadyExists means done.
 * Activations missed while no server ran collapse into one backup, named
 * after the latest of them, as Velero takes one backup after downtime.
 * status.lastBackup is that activation time too, so @every schedules do
 * not drift by the reconcile latency. docs/server-schedules.md. */
#include "velero/schedule_ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "velero/bsl.h"
#include "velero/controllers.h"
#include "velero/retention.h"
#include "velero/server_metrics.h"

#define CTL "schedule"
#define PLURAL "schedules"
#define BACKUPS "backups"
/* A far activation is looked at again at least this often (clock jumps,
 * a lost event). */
#define REQUEUE_MAX_MS (3600L * 1000)
/* A schedule waiting for its previous backup to leave New/InProgress. */
#define BLOCKED_RETRY_MS 2000L
/* Bound on the walk to the latest missed activation. */
#define CATCHUP_MAX_STEPS 200000

/* --- pure parts --------------------------------------------------------- */

int stow_velero_schedule_backup_name(char *out, size_t cap,
				     const char *schedule, int64_t t)
{
	stow_civil c;
	int n;

	if (!out || !schedule || cap == 0)
		return stow_err_set(STOW_EINVAL, "backup name: bad arguments");
	stow_tz_civil(NULL, t, &c);
	if (c.year < 0 || c.year > 9999)
		return stow_err_set(STOW_EINVAL,
				    "backup name: time %lld out of range",
				    (long long)t);
	n = snprintf(out, cap, "%s-%04d%02d%02d%02d%02d%02d", schedule,
		     (int)c.year, c.month, c.day, c.hour, c.minute, c.second);
	if (n < 0 || (size_t)n >= cap)
		return stow_err_set(STOW_EINVAL,
				    "backup name of schedule %s is too long",
				    schedule);
	return 0;
}

/* The latest activation at or before now, given first (the first one
 * after base, already <= now). Walking from base could take millions of
 * steps after a long downtime of a minutely schedule, so the walk starts
 * in the shortest recent window that holds an activation. */
static int latest_activation(const stow_cron *c, int64_t base, int64_t first,
			     int64_t now, int64_t *latest)
{
	static const int64_t windows[] = {120,	     3600,	 86400,
					  8 * 86400, 32 * 86400, 400 * 86400};
	int64_t every = stow_cron_every(c), cur = first, n;

	if (every > 0) {
		*latest = first + (now - first) / every * every;
		return 0;
	}
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		if (now - windows[i] <= base)
			break;
		if (stow_cron_next(c, now - windows[i], &n) == 0 && n <= now) {
			cur = n;
			break;
		}
	}
	for (int steps = 0; steps < CATCHUP_MAX_STEPS; steps++) {
		int rc = stow_cron_next(c, cur, &n);

		if (rc == STOW_ENOTFOUND || (rc == 0 && n > now))
			break;
		if (rc < 0)
			return rc;
		cur = n;
	}
	*latest = cur;
	return 0;
}

int stow_velero_schedule_due(const stow_cron *c, int64_t last_backup,
			     int64_t created, int64_t last_skipped, int64_t now,
			     int64_t *due, int64_t *next)
{
	int64_t base = last_backup > 0 ? last_backup : created, first;
	int rc;

	if (!c || !due || !next)
		return stow_err_set(STOW_EINVAL, "schedule due: bad arguments");
	if (last_skipped > base)
		base = last_skipped;
	STOW_TRY(stow_cron_next(c, base, &first));
	if (first > now) {
		*next = first;
		return 0;
	}
	STOW_TRY(latest_activation(c, base, first, now, due));
	rc = stow_cron_next(c, *due, next);
	if (rc == STOW_ENOTFOUND) {
		/* The last activation for five years: look again later. */
		*next = now + 3600;
		rc = 0;
	}
	return rc < 0 ? rc : 1;
}

void stow_velero_label_value(const char *v, char out[64])
{
	size_t n = strlen(v);
	uint8_t h[32];

	if (n <= 63) {
		memcpy(out, v, n + 1);
		return;
	}
	memcpy(out, v, 57);
	if (stow_sha256(v, n, h) < 0)
		memset(h, 0, sizeof(h));
	for (int i = 0; i < 3; i++)
		snprintf(out + 57 + 2 * i, 3, "%02x", h[i]);
	out[63] = '\0';
}

/* --- helpers over the API ------------------------------------------------ */

int stow_velero_object_patch(stow_velero_server *srv, const char *plural,
			     const char *ns, const char *name, json_t *patch)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, plural);
	char *body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	int rc;

	json_decref(patch);
	if (!body)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (!r)
		rc = stow_err_set(STOW_ENOTFOUND,
				  "the CRD of %s.velero.io is not installed",
				  plural);
	else
		rc = stow_kube_patch(stow_velero_server_kube(srv), r, ns, name,
				     STOW_KUBE_PATCH_MERGE, body, false, NULL);
	free(body);
	return rc;
}

const char *stow_velero_object_str(const json_t *o, const char *section,
				   const char *key)
{
	const json_t *s = section ? json_object_get(o, section) : o;

	return json_string_value(json_object_get(s, key));
}

int64_t stow_velero_object_time(const json_t *o, const char *section,
				const char *key)
{
	const char *s = stow_velero_object_str(o, section, key);
	time_t t;

	if (!s || !*s || stow_velero_time_parse(s, &t) < 0)
		return 0;
	return (int64_t)t;
}

/* --- the controller ------------------------------------------------------ */

static long clamp_ms(int64_t ms)
{
	if (ms < 100)
		return 100;
	if (ms > REQUEUE_MAX_MS)
		return REQUEUE_MAX_MS;
	return (long)ms;
}

/* Milliseconds from now until Unix second t (plus a little, so the
 * reconcile lands after t has begun). */
static long ms_until(int64_t t)
{
	struct timespec ts;
	int64_t now_ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return clamp_ms(t * 1000 - now_ms + 20);
}

static void add_error(json_t *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(json_t *errors, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(errors, json_string(msg));
}

/* Velero's parseCronSchedule messages, plus our annotation. *out gets the
 * parsed schedule when it is valid. */
static void validate(const json_t *s, json_t *errors, stow_cron **out)
{
	const char *expr = stow_velero_object_str(s, "spec", "schedule");
	const json_t *ann =
	    json_object_get(json_object_get(s, "metadata"), "annotations");
	const char *policy =
	    json_string_value(json_object_get(ann, STOW_RETENTION_ANNOTATION));
	stow_retention_policy p;

	*out = NULL;
	if (!expr || !*expr)
		add_error(errors, "%s",
			  "Schedule must be a non-empty valid Cron expression");
	else if (stow_cron_parse(out, expr) < 0)
		add_error(errors, "invalid schedule: %s", stow_err_msg());
	if (policy && stow_retention_policy_parse(&p, policy) < 0) {
		const char *m = stow_err_msg();

		if (!strncmp(m, "retention: ", 11))
			m += 11;
		add_error(
		    errors,
		    "invalid annotation " STOW_RETENTION_ANNOTATION ": %s", m);
	}
	if (json_array_size(errors) && *out) {
		stow_cron_free(*out);
		*out = NULL;
	}
}

/* Write phase and validationErrors when they changed. */
static int set_phase(stow_velero_server *srv, const char *ns, const char *name,
		     const json_t *s, json_t *errors)
{
	const json_t *st = json_object_get(s, "status");
	const char *phase =
	    json_array_size(errors) ? "FailedValidation" : "Enabled";
	const char *cur = json_string_value(json_object_get(st, "phase"));
	json_t *cur_errors = json_object_get(st, "validationErrors");
	json_t *want = json_array_size(errors) ? errors : NULL;
	int same_errors = want ? json_equal(cur_errors, want)
			       : (!cur_errors || json_is_null(cur_errors) ||
				  json_array_size(cur_errors) == 0);
	int rc;

	if (cur && !strcmp(cur, phase) && same_errors)
		return 0;
	rc = stow_velero_object_patch(
	    srv, PLURAL, ns, name,
	    json_pack("{s:{s:s, s:O}}", "status", "phase", phase,
		      "validationErrors", want ? want : json_null()));
	if (rc == 0)
		stow_velero_log(
		    srv, want ? STOW_VLOG_WARN : STOW_VLOG_INFO, CTL,
		    want ? "schedule failed validation" : "schedule enabled",
		    "schedule", name, "phase", phase, NULL);
	return rc;
}

static int in_flight(const char *phase)
{
	static const char *const running[] = {"", "New", "Queued",
					      "ReadyToStart", "InProgress"};

	if (!phase)
		return 1;
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (!strcmp(phase, running[i]))
			return 1;
	return 0;
}

/* Velero makes no new backup while one of the schedule's is New or
 * InProgress. NULL when there is none, else the name of one. */
static char *backup_in_flight(stow_velero_server *srv, const char *ns,
			      const char *label)
{
	json_t *all = stow_velero_server_list(srv, BACKUPS), *b;
	char *found = NULL;
	size_t i;

	json_array_foreach(all, i, b)
	{
		const json_t *md = json_object_get(b, "metadata");
		const char *bns =
		    json_string_value(json_object_get(md, "namespace"));
		const char *sched = json_string_value(
		    json_object_get(json_object_get(md, "labels"),
				    STOW_VELERO_LABEL_SCHEDULE_NAME));

		if (!sched || strcmp(sched, label) || !bns || strcmp(bns, ns))
			continue;
		if (in_flight(stow_velero_object_str(b, "status", "phase"))) {
			const char *n =
			    json_string_value(json_object_get(md, "name"));

			found = strdup(n ? n : "?");
			break;
		}
	}
	json_decref(all);
	return found;
}

static int copy_strings(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)src, k, v)
	{
		if (json_is_string(v) &&
		    json_object_set_new(dst, k,
					json_string(json_string_value(v))) < 0)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

/* The Backup of one activation (Velero's getBackup/FromSchedule): spec =
 * the template; labels = the template's metadata.labels, else the
 * schedule's, plus velero.io/schedule-name; annotations = the schedule's
 * (without kubectl's last-applied-configuration and our retention
 * policy, which mean nothing on a backup) and the template's; an owner
 * reference to the schedule when useOwnerReferencesInBackup. */
static json_t *backup_for(const json_t *s, const char *ns, const char *name,
			  const char *bname, const char *label)
{
	const json_t *spec = json_object_get(s, "spec");
	const json_t *tmpl = json_object_get(spec, "template");
	const json_t *tmd = json_object_get(tmpl, "metadata");
	const json_t *smd = json_object_get(s, "metadata");
	const json_t *tlabels = json_object_get(tmd, "labels");
	json_t *b, *md, *labels, *annotations;
	const char *uid = json_string_value(json_object_get(smd, "uid"));

	/* Copies, never shared references: the schedule belongs to the
	 * informer's cache. */
	b = json_pack("{s:s, s:s, s:{s:s, s:s, s:{}, s:{}}, s:o}", "apiVersion",
		      "velero.io/v1", "kind", "Backup", "metadata", "name",
		      bname, "namespace", ns, "labels", "annotations", "spec",
		      json_is_object(tmpl) ? json_deep_copy(tmpl)
					   : json_object());
	if (!b)
		return NULL;
	md = json_object_get(b, "metadata");
	labels = json_object_get(md, "labels");
	annotations = json_object_get(md, "annotations");
	if (copy_strings(labels, json_is_object(tlabels)
				     ? tlabels
				     : json_object_get(smd, "labels")) < 0 ||
	    copy_strings(annotations, json_object_get(smd, "annotations")) <
		0 ||
	    copy_strings(annotations, json_object_get(tmd, "annotations")) < 0)
		goto fail;
	json_object_del(annotations,
			"kubectl.kubernetes.io/last-applied-configuration");
	json_object_del(annotations, STOW_RETENTION_ANNOTATION);
	if (json_object_set_new(labels, STOW_VELERO_LABEL_SCHEDULE_NAME,
				json_string(label)) < 0)
		goto fail;
	if (json_object_size(annotations) == 0)
		json_object_del(md, "annotations");
	if (json_is_true(json_object_get(spec, "useOwnerReferencesInBackup")) &&
	    uid) {
		json_t *refs =
		    json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion",
			      "velero.io/v1", "kind", "Schedule", "name", name,
			      "uid", uid, "controller", 1);

		if (!refs ||
		    json_object_set_new(md, "ownerReferences", refs) < 0)
			goto fail;
	}
	return b;
fail:
	json_decref(b);
	return NULL;
}

static int create_backup(stow_velero_server *srv, const json_t *s,
			 const char *ns, const char *name, int64_t due)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, BACKUPS);
	char bname[STOW_VELERO_NAME_MAX + 32], label[64], last[32];
	json_t *b;
	int rc;

	if (!r)
		return stow_err_set(STOW_ENOTFOUND,
				    "the CRD of backups.velero.io is not "
				    "installed");
	STOW_TRY(
	    stow_velero_schedule_backup_name(bname, sizeof(bname), name, due));
	if (strlen(bname) > STOW_VELERO_NAME_MAX)
		return stow_err_set(STOW_EINVAL,
				    "schedule %s: backup name %s is longer "
				    "than %d characters",
				    name, bname, STOW_VELERO_NAME_MAX);
	stow_velero_label_value(name, label);
	b = backup_for(s, ns, name, bname, label);
	if (!b)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = stow_kube_create(stow_velero_server_kube(srv), r, ns, b, NULL);
	json_decref(b);
	if (rc == STOW_EEXIST) {
		/* This activation was served already (a retry, a stale
		 * cache, a previous leader): only lastBackup is missing. */
		stow_velero_log(srv, STOW_VLOG_DEBUG, CTL,
				"backup of this activation exists", "schedule",
				name, "backup", bname, NULL);
		rc = 0;
	} else if (rc < 0) {
		return stow_err_wrap(rc, "creating backup %s/%s of schedule %s",
				     ns, bname, name);
	} else {
		stow_velero_log(srv, STOW_VLOG_INFO, CTL,
				"created backup for schedule", "schedule", name,
				"backup", bname, NULL);
	}
	stow_velero_time_format((time_t)due, last);
	return stow_velero_object_patch(
	    srv, PLURAL, ns, name,
	    json_pack("{s:{s:s}}", "status", "lastBackup", last));
}

static int reconcile_schedule(stow_velero_server *srv, const json_t *s,
			      const char *ns, const char *name)
{
	const json_t *spec = json_object_get(s, "spec");
	json_t *errors = json_array();
	stow_cron *cron = NULL;
	int64_t now = (int64_t)time(NULL), due = 0, next = 0;
	int64_t last_skipped =
	    stow_velero_object_time(s, "status", "lastSkipped");
	char label[64];
	char *blocker;
	int rc;

	if (!errors)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	validate(s, errors, &cron);
	rc = set_phase(srv, ns, name, s, errors);
	json_decref(errors);
	if (rc < 0 || !cron) {
		stow_cron_free(cron);
		return rc == STOW_ENOTFOUND ? 0 : rc;
	}
	stow_velero_metrics_schedule_seen(srv, name, cron);
	/* Velero ignores a paused schedule entirely; its skipImmediately
	 * waits for the unpause, which is when it means something. */
	if (json_is_true(json_object_get(spec, "paused"))) {
		stow_cron_free(cron);
		return 0;
	}
	if (json_is_true(json_object_get(spec, "skipImmediately"))) {
		char ts[32];

		stow_velero_time_format((time_t)now, ts);
		rc = stow_velero_object_patch(
		    srv, PLURAL, ns, name,
		    json_pack("{s:{s:b}, s:{s:s}}", "spec", "skipImmediately",
			      0, "status", "lastSkipped", ts));
		if (rc < 0) {
			stow_cron_free(cron);
			return rc == STOW_ENOTFOUND ? 0 : rc;
		}
		stow_velero_log(srv, STOW_VLOG_INFO, CTL,
				"skipping the activation due now", "schedule",
				name, "lastSkipped", ts, NULL);
		last_skipped = now;
	}
	rc = stow_velero_schedule_due(
	    cron, stow_velero_object_time(s, "status", "lastBackup"),
	    stow_velero_object_time(s, "metadata", "creationTimestamp"),
	    last_skipped, now, &due, &next);
	stow_cron_free(cron);
	if (rc == STOW_ENOTFOUND) {
		stow_velero_log(srv, STOW_VLOG_WARN, CTL,
				"schedule never fires", "schedule", name,
				"error", stow_err_msg(), NULL);
		return (int)REQUEUE_MAX_MS;
	}
	if (rc <= 0)
		return rc < 0 ? rc : (int)ms_until(next);
	stow_velero_label_value(name, label);
	blocker = backup_in_flight(srv, ns, label);
	if (blocker) {
		stow_velero_log(srv, STOW_VLOG_DEBUG, CTL,
				"a backup of the schedule is still running",
				"schedule", name, "backup", blocker, NULL);
		free(blocker);
		return (int)BLOCKED_RETRY_MS;
	}
	rc = create_backup(srv, s, ns, name, due);
	if (rc == STOW_ENOTFOUND)
		return 0; /* the schedule went away meanwhile */
	return rc < 0 ? rc : (int)ms_until(next);
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	json_t *s = stow_velero_server_get(srv, PLURAL, ns, name);
	int rc;

	(void)ctx;
	if (!s) {
		stow_velero_metrics_schedule_forget(srv, name);
		return 0;
	}
	rc = reconcile_schedule(srv, s, ns ? ns : "", name);
	json_decref(s);
	return rc;
}

static stow_velero_controller schedule_ctl = {
    .name = CTL,
    .resource = PLURAL,
    .workers = 1,
    /* Velero requeues every schedule every minute; each reconcile also
     * asks for its next activation. */
    .resync_ms = 60000,
    .reconcile = reconcile,
};

const stow_velero_controller *stow_velero_ctl_schedule(void)
{
	return &schedule_ctl;
}
