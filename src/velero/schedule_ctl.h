/* What the Schedule, GC and DeleteBackupRequest controllers
 * (schedule_ctl.c, gc_ctl.c, delete_ctl.c) share: the pure parts, apart
 * so that unit tests reach them (backup names, the due computation, label
 * values), and two small helpers over the server's API.
 *
 * Thread safety: the pure functions work on caller memory; the helpers
 * are as thread-safe as server.h. */
#ifndef STOW_VELERO_SCHEDULE_CTL_H
#define STOW_VELERO_SCHEDULE_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/cron.h"
#include "velero/server.h"

#define STOW_VELERO_LABEL_SCHEDULE_NAME "velero.io/schedule-name"
#define STOW_VELERO_LABEL_BACKUP_NAME "velero.io/backup-name"
#define STOW_VELERO_LABEL_BACKUP_UID "velero.io/backup-uid"
#define STOW_VELERO_LABEL_GC_FAILURE "velero.io/gc-failure"

/* Length of the "-YYYYMMDDHHMMSS" suffix of a scheduled backup's name. */
#define STOW_VELERO_SCHEDULE_SUFFIX_LEN 15

/* Velero's Schedule.TimestampedName: "<schedule>-<YYYYMMDDHHMMSS>" with
 * t (Unix seconds) in UTC, into out (cap bytes). STOW_EINVAL when out is
 * too small or t is outside years 0-9999. */
int stow_velero_schedule_backup_name(char *out, size_t cap,
				     const char *schedule, int64_t t);

/* When a schedule runs next (velero-spec §8.1). base is status.lastBackup,
 * else metadata.creationTimestamp (a new schedule does not fire at once),
 * raised to status.lastSkipped when that is later (0 = unset). The first
 * activation strictly after base is due once now reaches it.
 *
 * Returns 1 when due: *due is the latest activation at or before now
 * (activations missed while the server was down collapse into one
 * backup, as in Velero; naming the backup by *due makes a second attempt
 * for the same activation collide on the name) and *next the activation
 * after *due. Returns 0 when not due: *next is the first activation
 * after base. Negative: stow_cron_next's error (STOW_ENOTFOUND for a
 * schedule that never fires). */
int stow_velero_schedule_due(const stow_cron *c, int64_t last_backup,
			     int64_t created, int64_t last_skipped, int64_t now,
			     int64_t *due, int64_t *next);

/* A label value as Velero's label.GetValidName: v itself when at most 63
 * characters, else its first 57 characters followed by the first 6 hex
 * digits of the SHA-256 of all of v. */
void stow_velero_label_value(const char *v, char out[64]);

/* --- helpers over the API (not pure) --------------------------------- */

/* Merge-patch ns/name of a velero.io plural with patch (the reference is
 * stolen). Velero's CRDs have no status subresource, so status is patched
 * on the object itself. Errors as stow_kube_patch (STOW_ENOTFOUND for a
 * missing object or CRD). */
int stow_velero_object_patch(stow_velero_server *srv, const char *plural,
			     const char *ns, const char *name, json_t *patch);

/* A time field o.<section>.<key> (section NULL: o.<key>) as Unix
 * seconds; 0 when absent or unparsable. */
int64_t stow_velero_object_time(const json_t *o, const char *section,
				const char *key);

/* o.<section>.<key> as a string, or NULL (borrowed). */
const char *stow_velero_object_str(const json_t *o, const char *section,
				   const char *key);

#endif
