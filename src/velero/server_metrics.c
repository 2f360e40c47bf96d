/* Velero's server metrics on the registry (server_metrics.h). */
#include "velero/server_metrics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cron.h"
#include "util/err.h"
#include "velero/metrics_http.h"

struct stow_velero_metrics {
	stow_metrics *reg;
	stow_metrics_http *http;
};

/* velero_backup_duration_seconds: 1, 5, 10, 15, 30 min, 1, 2, 3, 4 h. */
static const double duration_buckets[] = {60,	300,  600,   900,  1800,
					  3600, 7200, 10800, 14400};

static const char *const by_schedule[] = {"schedule", NULL};
static const char *const by_location[] = {"backup_location_name", NULL};

#define C STOW_METRIC_COUNTER
#define G STOW_METRIC_GAUGE
#define H STOW_METRIC_HISTOGRAM

/* Names as Velero's pkg/metrics; the help texts are ours. */
static const struct family {
	const char *name;
	stow_metric_type type;
	const char *const *labels;
	bool per_schedule_counter; /* zeroed by schedule_init */
	const char *help;
} families[] = {
    {"velero_backup_attempt_total", C, by_schedule, true,
     "Total number of attempted backups"},
    {"velero_backup_success_total", C, by_schedule, true,
     "Total number of successful backups"},
    {"velero_backup_partial_failure_total", C, by_schedule, true,
     "Total number of partially failed backups"},
    {"velero_backup_failure_total", C, by_schedule, true,
     "Total number of failed backups"},
    {"velero_backup_validation_failure_total", C, by_schedule, true,
     "Total number of backups that failed validation"},
    {"velero_backup_warning_total", C, by_schedule, false,
     "Total number of backups that completed with warnings"},
    {"velero_backup_deletion_attempt_total", C, by_schedule, true,
     "Total number of attempted backup deletions"},
    {"velero_backup_deletion_success_total", C, by_schedule, true,
     "Total number of successful backup deletions"},
    {"velero_backup_deletion_failure_total", C, by_schedule, true,
     "Total number of failed backup deletions"},
    {"velero_backup_duration_seconds", H, by_schedule, false,
     "Time taken to complete a backup, in seconds"},
    {"velero_backup_tarball_size_bytes", G, by_schedule, false,
     "Size, in bytes, of the last backup's tarball"},
    {"velero_backup_items_total", G, by_schedule, false,
     "Number of items in the last backup"},
    {"velero_backup_items_errors", G, by_schedule, false,
     "Number of items that failed in the last backup"},
    {"velero_backup_last_status", G, by_schedule, false,
     "Outcome of the last backup: 1 succeeded, 0 failed"},
    {"velero_backup_last_successful_timestamp", G, by_schedule, false,
     "Unix time of the last successful backup"},
    {"velero_backup_total", G, NULL, false,
     "Number of Backup objects in the cluster"},
    {"velero_schedule_expected_interval_seconds", G, by_schedule, false,
     "Expected time between two backups of a schedule, in seconds"},
    {"velero_restore_attempt_total", C, by_schedule, true,
     "Total number of attempted restores"},
    {"velero_restore_success_total", C, by_schedule, true,
     "Total number of successful restores"},
    {"velero_restore_partial_failure_total", C, by_schedule, true,
     "Total number of partially failed restores"},
    {"velero_restore_failed_total", C, by_schedule, true,
     "Total number of failed restores"},
    {"velero_restore_validation_failed_total", C, by_schedule, true,
     "Total number of restores that failed validation"},
    {"velero_restore_total", G, NULL, false,
     "Number of Restore objects in the cluster"},
    {"velero_backup_location_status_gauge", G, by_location, false,
     "Status of a backup storage location: 1 Available, 0 Unavailable"},
};

#undef C
#undef G
#undef H

/* --- lifecycle ----------------------------------------------------------- */

static int register_all(stow_metrics *reg)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *fm = &families[i];
		stow_metric_desc d = {
		    .name = fm->name,
		    .help = fm->help,
		    .type = fm->type,
		    .labels = fm->labels,
		};

		if (fm->type == STOW_METRIC_HISTOGRAM) {
			d.buckets = duration_buckets;
			d.nbuckets = sizeof(duration_buckets) /
				     sizeof(duration_buckets[0]);
		}
		STOW_TRY(stow_metrics_register(reg, &d, NULL));
	}
	return 0;
}

static void init_schedule(stow_metrics *reg, const char *schedule)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (families[i].per_schedule_counter)
			(void)stow_metric_touch(
			    stow_metrics_find(reg, families[i].name),
			    STOW_METRIC_LABELS(schedule));
}

int stow_velero_metrics_start(stow_velero_metrics **out,
			      stow_velero_server *srv)
{
	const char *addr = stow_velero_server_opts_of(srv)->metrics_address;
	stow_velero_metrics *vm;
	int rc;

	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = stow_metrics_new(&vm->reg);
	if (rc == 0)
		rc = register_all(vm->reg);
	if (rc == 0) {
		/* Manual backups' counters start at 0, as Velero's. */
		init_schedule(vm->reg, "");
		if (addr && *addr)
			rc = stow_metrics_http_start(&vm->http, addr, vm->reg);
	}
	/* A busy or forbidden port is not worth stopping backups for (and
	 * test suites run many servers on the default :8085): warn and go
	 * on without the endpoint. An address that does not parse is a
	 * configuration mistake: the server does not start. */
	if (rc == STOW_EIO) {
		stow_velero_log(srv, STOW_VLOG_WARN, NULL,
				"metrics endpoint not started", "error",
				stow_err_msg(), NULL);
		rc = 0;
	}
	if (rc < 0) {
		stow_velero_metrics_stop(vm);
		return rc;
	}
	if (vm->http)
		stow_velero_log(srv, STOW_VLOG_INFO, NULL, "serving metrics",
				"address", stow_metrics_http_bound(vm->http),
				"path", "/metrics", NULL);
	else if (!addr || !*addr)
		stow_velero_log(srv, STOW_VLOG_INFO, NULL,
				"metrics endpoint disabled (--metrics-address "
				"is empty)",
				NULL);
	*out = vm;
	return 0;
}

void stow_velero_metrics_stop(stow_velero_metrics *vm)
{
	if (!vm)
		return;
	stow_metrics_http_stop(vm->http);
	stow_metrics_free(vm->reg);
	free(vm);
}

stow_metrics *stow_velero_metrics_registry(stow_velero_metrics *vm)
{
	return vm ? vm->reg : NULL;
}

const char *stow_velero_metrics_bound(const stow_velero_metrics *vm)
{
	return vm && vm->http ? stow_metrics_http_bound(vm->http) : "";
}

/* --- helpers ------------------------------------------------------------- */

static stow_metric_family *fam(stow_velero_server *srv, const char *name)
{
	return srv ? stow_metrics_find(stow_velero_server_metrics(srv), name)
		   : NULL;
}

static const char *sched(const char *schedule)
{
	return schedule ? schedule : "";
}

/* Errors (a full label set, no memory) are dropped: see the header. */
static void inc(stow_velero_server *srv, const char *name, const char *schedule)
{
	(void)stow_metric_add(fam(srv, name),
			      STOW_METRIC_LABELS(sched(schedule)), 1);
}

static void set(stow_velero_server *srv, const char *name, const char *schedule,
		double v)
{
	(void)stow_metric_set(fam(srv, name),
			      STOW_METRIC_LABELS(sched(schedule)), v);
}

const char *stow_velero_metrics_backup_schedule(const json_t *backup)
{
	const char *s = json_string_value(json_object_get(
	    json_object_get(json_object_get(backup, "metadata"), "labels"),
	    "velero.io/schedule-name"));

	return s ? s : "";
}

const char *stow_velero_metrics_restore_schedule(const json_t *restore)
{
	const char *s = json_string_value(
	    json_object_get(json_object_get(restore, "spec"), "scheduleName"));

	return s ? s : "";
}

/* --- schedules ----------------------------------------------------------- */

void stow_velero_metrics_schedule_init(stow_velero_server *srv,
				       const char *schedule)
{
	stow_metrics *reg = srv ? stow_velero_server_metrics(srv) : NULL;

	if (reg)
		init_schedule(reg, sched(schedule));
}

void stow_velero_metrics_schedule_forget(stow_velero_server *srv,
					 const char *schedule)
{
	stow_metrics *reg = srv ? stow_velero_server_metrics(srv) : NULL;

	/* "" is every manual backup, never a deleted schedule. */
	if (reg && schedule && *schedule)
		(void)stow_metrics_remove_matching(reg, "schedule", schedule);
}

void stow_velero_metrics_schedule_interval(stow_velero_server *srv,
					   const char *schedule, double seconds)
{
	set(srv, "velero_schedule_expected_interval_seconds", schedule,
	    seconds);
}

void stow_velero_metrics_schedule_seen(stow_velero_server *srv,
				       const char *schedule,
				       const stow_cron *cron)
{
	int64_t a, b;

	stow_velero_metrics_schedule_init(srv, schedule);
	if (cron && stow_cron_next(cron, (int64_t)time(NULL), &a) == 0 &&
	    stow_cron_next(cron, a, &b) == 0 && b > a)
		stow_velero_metrics_schedule_interval(srv, schedule,
						      (double)(b - a));
}

/* --- backups ------------------------------------------------------------- */

void stow_velero_metrics_backup_attempt(stow_velero_server *srv,
					const char *schedule)
{
	inc(srv, "velero_backup_attempt_total", schedule);
}

void stow_velero_metrics_backup_validation_failed(stow_velero_server *srv,
						  const char *schedule)
{
	inc(srv, "velero_backup_validation_failure_total", schedule);
	set(srv, "velero_backup_last_status", schedule, 0);
}

void stow_velero_metrics_backup_done(stow_velero_server *srv,
				     const char *schedule, const char *phase,
				     double duration_s, long items, long errors,
				     long warnings, long long tarball_bytes)
{
	const char *p = phase ? phase : "";

	if (!strcmp(p, "Completed")) {
		inc(srv, "velero_backup_success_total", schedule);
		set(srv, "velero_backup_last_status", schedule, 1);
		set(srv, "velero_backup_last_successful_timestamp", schedule,
		    (double)time(NULL));
	} else if (!strcmp(p, "PartiallyFailed")) {
		inc(srv, "velero_backup_partial_failure_total", schedule);
		set(srv, "velero_backup_last_status", schedule, 0);
	} else if (!strcmp(p, "Failed")) {
		inc(srv, "velero_backup_failure_total", schedule);
		set(srv, "velero_backup_last_status", schedule, 0);
	} else if (!strcmp(p, "FailedValidation")) {
		stow_velero_metrics_backup_validation_failed(srv, schedule);
		return;
	}
	if (duration_s >= 0)
		(void)stow_metric_observe(
		    fam(srv, "velero_backup_duration_seconds"),
		    STOW_METRIC_LABELS(sched(schedule)), duration_s);
	if (items >= 0)
		set(srv, "velero_backup_items_total", schedule, (double)items);
	if (errors >= 0)
		set(srv, "velero_backup_items_errors", schedule,
		    (double)errors);
	if (warnings > 0)
		inc(srv, "velero_backup_warning_total", schedule);
	if (tarball_bytes >= 0)
		set(srv, "velero_backup_tarball_size_bytes", schedule,
		    (double)tarball_bytes);
}

/* Kubernetes' metav1.Time, "2026-11-25T17:40:46Z" (always UTC), as Unix
 * seconds; -1 when absent or in another form. */
static int64_t object_time(const json_t *section, const char *key)
{
	const char *s = json_string_value(json_object_get(section, key));
	int y, mo, d, h, mi, sec, n = 0;

	if (!s ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec,
		   &n) != 6 ||
	    n == 0 || s[n] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	return stow_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	       sec;
}

/* A non-negative integer field, or -1. */
static long long object_count(const json_t *section, const char *key)
{
	const json_t *v = json_object_get(section, key);

	return json_is_integer(v) && json_integer_value(v) >= 0
		   ? (long long)json_integer_value(v)
		   : -1;
}

void stow_velero_metrics_backup_finished(stow_velero_server *srv,
					 const json_t *backup,
					 long long tarball_bytes)
{
	const json_t *st = json_object_get(backup, "status");
	int64_t start = object_time(st, "startTimestamp");
	int64_t end = object_time(st, "completionTimestamp");
	long long items =
	    object_count(json_object_get(st, "progress"), "totalItems");
	long long errors = object_count(st, "errors");
	long long warnings = object_count(st, "warnings");

	stow_velero_metrics_backup_done(
	    srv, stow_velero_metrics_backup_schedule(backup),
	    json_string_value(json_object_get(st, "phase")),
	    start >= 0 && end >= start ? (double)(end - start) : -1,
	    (long)items, (long)errors, (long)warnings, tarball_bytes);
}

/* --- deletions ----------------------------------------------------------- */

void stow_velero_metrics_deletion_attempt(stow_velero_server *srv,
					  const char *schedule)
{
	inc(srv, "velero_backup_deletion_attempt_total", schedule);
}

void stow_velero_metrics_deletion_done(stow_velero_server *srv,
				       const char *schedule, bool ok)
{
	inc(srv,
	    ok ? "velero_backup_deletion_success_total"
	       : "velero_backup_deletion_failure_total",
	    schedule);
}

/* --- restores ------------------------------------------------------------ */

void stow_velero_metrics_restore_attempt(stow_velero_server *srv,
					 const char *schedule)
{
	inc(srv, "velero_restore_attempt_total", schedule);
}

void stow_velero_metrics_restore_validation_failed(stow_velero_server *srv,
						   const char *schedule)
{
	inc(srv, "velero_restore_attempt_total", schedule);
	inc(srv, "velero_restore_validation_failed_total", schedule);
}

void stow_velero_metrics_restore_done(stow_velero_server *srv,
				      const char *schedule, const char *phase)
{
	const char *p = phase ? phase : "";

	if (!strcmp(p, "Completed"))
		inc(srv, "velero_restore_success_total", schedule);
	else if (!strcmp(p, "PartiallyFailed"))
		inc(srv, "velero_restore_partial_failure_total", schedule);
	else if (!strcmp(p, "Failed"))
		inc(srv, "velero_restore_failed_total", schedule);
	else if (!strcmp(p, "FailedValidation"))
		inc(srv, "velero_restore_validation_failed_total", schedule);
}

void stow_velero_metrics_restore_finished(stow_velero_server *srv,
					  const json_t *restore)
{
	stow_velero_metrics_restore_done(
	    srv, stow_velero_metrics_restore_schedule(restore),
	    json_string_value(
		json_object_get(json_object_get(restore, "status"), "phase")));
}

void stow_velero_metrics_restore_ended(stow_velero_server *srv, const char *ns,
				       const char *name, const char *phase)
{
	json_t *r = srv && name
			? stow_velero_server_get(srv, "restores", ns, name)
			: NULL;

	stow_velero_metrics_restore_done(
	    srv, stow_velero_metrics_restore_schedule(r), phase);
	json_decref(r);
}

/* --- locations and totals ------------------------------------------------ */

void stow_velero_metrics_location_status(stow_velero_server *srv,
					 const char *bsl, bool available)
{
	if (bsl)
		(void)stow_metric_set(
		    fam(srv, "velero_backup_location_status_gauge"),
		    STOW_METRIC_LABELS(bsl), available ? 1 : 0);
}

void stow_velero_metrics_location_forget(stow_velero_server *srv,
					 const char *bsl)
{
	if (bsl)
		(void)stow_metric_remove(
		    fam(srv, "velero_backup_location_status_gauge"),
		    STOW_METRIC_LABELS(bsl));
}

void stow_velero_metrics_count_objects(stow_velero_server *srv)
{
	json_t *b, *r;

	if (!srv)
		return;
	b = stow_velero_server_list(srv, "backups");
	r = stow_velero_server_list(srv, "restores");
	(void)stow_metric_set(fam(srv, "velero_backup_total"), NULL,
			      (double)json_array_size(b));
	(void)stow_metric_set(fam(srv, "velero_restore_total"), NULL,
			      (double)json_array_size(r));
	json_decref(b);
	json_decref(r);
}
