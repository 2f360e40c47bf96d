/* The Prometheus metrics of `stowage server`, under Velero's names
 * (velero-spec.md §10.1; docs/metrics.md lists every one).
 *
 * The server makes one set per process with stow_velero_metrics_start
 * before it campaigns for the lease, so every replica serves /metrics
 * (metrics_http.h) on --metrics-address, leader or not; a replica that
 * never led shows zeros. Counters live as long as the process, as
 * Velero's do.
 *
 * The controllers record what happens through the functions below. Each
 * takes the server, never fails (a metric is not worth failing a backup
 * for: errors are dropped), accepts a NULL or empty schedule as "" (a
 * manual backup), and is thread-safe. Label `schedule` is the name of
 * the Schedule a backup came from: label velero.io/schedule-name of the
 * Backup (stow_velero_metrics_backup_schedule), spec.scheduleName of a
 * Restore (stow_velero_metrics_restore_schedule). Label sets are bounded
 * (1000 schedules, 1000 locations); past that new names are not counted. */
#ifndef STOW_VELERO_SERVER_METRICS_H
#define STOW_VELERO_SERVER_METRICS_H

#include <jansson.h>
#include <stdbool.h>

#include "util/cron.h"
#include "util/metrics.h"
#include "velero/server.h"

typedef struct stow_velero_metrics stow_velero_metrics;

/* Make the registry with every Velero family (the per-schedule counters
 * of manual backups at 0) and, unless opts.metrics_address is empty,
 * serve it there; logs the bound address. STOW_EINVAL for an address
 * that does not parse or resolve: the server does not start then. An
 * address that parses but cannot be listened on (port in use, no
 * permission) is a logged warning and the server runs without the
 * endpoint -- unlike Velero, which exits: backups matter more than
 * their metrics. */
int stow_velero_metrics_start(stow_velero_metrics **out,
			      stow_velero_server *srv);
/* Stop serving and free. Accepts NULL. */
void stow_velero_metrics_stop(stow_velero_metrics *vm);
/* The registry (borrowed), for stow_velero_server_metrics. */
stow_metrics *stow_velero_metrics_registry(stow_velero_metrics *vm);
/* "127.0.0.1:8085" as bound, "" when not serving (borrowed). */
const char *stow_velero_metrics_bound(const stow_velero_metrics *vm);

/* --- label helpers ------------------------------------------------------ */

/* A Backup's schedule: metadata.labels["velero.io/schedule-name"] or "".
 * Borrowed from the object. */
const char *stow_velero_metrics_backup_schedule(const json_t *backup);
/* A Restore's schedule: spec.scheduleName or "". Borrowed. */
const char *stow_velero_metrics_restore_schedule(const json_t *restore);

/* --- schedules ---------------------------------------------------------- */

/* A schedule exists: its backup/restore/deletion counters appear at 0
 * (so the first failure is an increase). Idempotent. */
void stow_velero_metrics_schedule_init(stow_velero_server *srv,
				       const char *schedule);
/* A schedule was deleted: drop every series labelled with it, so
 * deleted schedules do not linger in the exposition. */
void stow_velero_metrics_schedule_forget(stow_velero_server *srv,
					 const char *schedule);
/* velero_schedule_expected_interval_seconds: the time between two
 * activations of its cron expression. */
void stow_velero_metrics_schedule_interval(stow_velero_server *srv,
					   const char *schedule,
					   double seconds);
/* Both for a valid schedule: init, and the interval between the next two
 * activations of cron after now (cron may be NULL: init only). */
void stow_velero_metrics_schedule_seen(stow_velero_server *srv,
				       const char *schedule,
				       const stow_cron *cron);

/* --- backups ------------------------------------------------------------ */

/* A backup passed validation and starts running (phase InProgress). */
void stow_velero_metrics_backup_attempt(stow_velero_server *srv,
					const char *schedule);
/* A backup ended in FailedValidation (not counted as an attempt, as in
 * Velero): validation_failure_total, last_status 0. */
void stow_velero_metrics_backup_validation_failed(stow_velero_server *srv,
						  const char *schedule);
/* A backup ended: phase "Completed" (success_total, last_status 1,
 * last_successful_timestamp now), "PartiallyFailed" or "Failed"
 * (partial_failure_total or failure_total, last_status 0). Also
 * duration_s observed in velero_backup_duration_seconds (from
 * status.startTimestamp to completionTimestamp; < 0: not observed), the
 * items_total and items_errors gauges (< 0: left alone), warning_total
 * +1 when warnings > 0, and tarball_size_bytes (< 0: unknown, left
 * alone). */
void stow_velero_metrics_backup_done(stow_velero_server *srv,
				     const char *schedule, const char *phase,
				     double duration_s, long items, long errors,
				     long warnings, long long tarball_bytes);

/* The same read off the Backup as it is written with its final phase:
 * schedule from the label, status.phase, duration from
 * status.startTimestamp to status.completionTimestamp, items from
 * status.progress.totalItems, status.errors, status.warnings. Missing
 * fields count as unknown. tarball_bytes: the size of <name>.tar.gz, < 0
 * if unknown. The one call a controller needs when a backup ends. */
void stow_velero_metrics_backup_finished(stow_velero_server *srv,
					 const json_t *backup,
					 long long tarball_bytes);

/* --- deletions (DeleteBackupRequest) ------------------------------------ */

/* Deleting a backup starts (phase InProgress). */
void stow_velero_metrics_deletion_attempt(stow_velero_server *srv,
					  const char *schedule);
/* It ended: ok = the backup and its objects are gone. */
void stow_velero_metrics_deletion_done(stow_velero_server *srv,
				       const char *schedule, bool ok);

/* --- restores ----------------------------------------------------------- */

/* A valid restore starts (phase InProgress). */
void stow_velero_metrics_restore_attempt(stow_velero_server *srv,
					 const char *schedule);
/* A restore failed validation: counted as an attempt too, as Velero
 * counts every restore it picks up (so do not also call _attempt). */
void stow_velero_metrics_restore_validation_failed(stow_velero_server *srv,
						   const char *schedule);
/* It ended: phase "Completed", "PartiallyFailed" or "Failed". */
void stow_velero_metrics_restore_done(stow_velero_server *srv,
				      const char *schedule, const char *phase);

/* The same read off the Restore as written with its final phase
 * (schedule from spec.scheduleName, status.phase). */
void stow_velero_metrics_restore_finished(stow_velero_server *srv,
					  const json_t *restore);
/* The same by key, the schedule read from the informer's copy of
 * restores ns/name ("" if it is gone): for code that no longer holds the
 * object. */
void stow_velero_metrics_restore_ended(stow_velero_server *srv, const char *ns,
				       const char *name, const char *phase);

/* --- locations and totals ----------------------------------------------- */

/* velero_backup_location_status_gauge{backup_location_name}: 1 when
 * validation found the location Available, 0 when Unavailable. */
void stow_velero_metrics_location_status(stow_velero_server *srv,
					 const char *bsl, bool available);
/* A location was deleted: drop its series. */
void stow_velero_metrics_location_forget(stow_velero_server *srv,
					 const char *bsl);
/* velero_backup_total and velero_restore_total: the Backups and Restores
 * in the informer caches. Call from a controller (while leading). */
void stow_velero_metrics_count_objects(stow_velero_server *srv);

#endif
