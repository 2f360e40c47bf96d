/* Which backups expire: Velero's TTL, plus grandfather-father-son (GFS)
 * retention for the backups of one schedule.
 *
 * TTL: a backup whose status.expiration is at or before `now` expires
 * ("expired: ttl"), as Velero's GC controller decides.
 *
 * GFS: a Schedule may carry the annotation stowage.io/retention with a
 * policy such as "last=5,hourly=24,daily=7,weekly=4,monthly=12,yearly=3"
 * (any subset, any order; a count of -1 means unlimited). For the backups
 * of that schedule (label velero.io/schedule-name) the policy replaces the
 * TTL: with the usable backups sorted newest first, `last=N` keeps the N
 * newest, and each period rule keeps the newest backup of each of the N
 * most recent periods that have a backup (restic's `forget --keep-*`
 * semantics). Periods are calendar hours, days, ISO 8601 weeks (Monday to
 * Sunday), months and years in the given time zone. A backup kept by any
 * rule stays ("kept: last 1, daily 2026-11-24"); the others expire
 * ("expired: outside GFS policy"), whatever their TTL.
 *
 * Whatever the rules say, a backup that is still being made (phase "",
 * New, InProgress, WaitingForPluginOperations*, Finalizing*) never expires
 * and never fills a GFS slot; a backup already Deleting is left alone.
 * Only Completed and PartiallyFailed backups fill GFS slots; a Failed or
 * FailedValidation backup of a GFS schedule expires by its TTL only, so its
 * logs stay around for as long as the user asked.
 *
 * Thread safety: pure functions over caller memory. */
#ifndef STOW_VELERO_RETENTION_H
#define STOW_VELERO_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cron.h"

#define STOW_RETENTION_ANNOTATION "stowage.io/retention"

/* Counts per rule: 0 = rule not used, -1 = unlimited. */
typedef struct stow_retention_policy {
	int last, hourly, daily, weekly, monthly, yearly;
} stow_retention_policy;

/* Parse "hourly=24,daily=7,..." (spaces around items allowed). Errors
 * (STOW_EINVAL) name the problem: unknown rule, repeated rule, a count
 * that is not an integer from -1 to 1000000, an empty policy or one that
 * keeps nothing. */
int stow_retention_policy_parse(stow_retention_policy *out, const char *s);

/* Canonical text of a policy ("last=5,daily=7"), into out (cap bytes). */
int stow_retention_policy_format(const stow_retention_policy *p, char *out,
				 size_t cap);

typedef struct stow_retention_backup {
	const char *name;
	int64_t created;      /* Unix seconds (metadata.creationTimestamp or
				 status.startTimestamp) */
	int64_t expiration;   /* Unix seconds; 0 = none */
	const char *phase;    /* Velero status.phase; NULL or "" = New */
	const char *schedule; /* velero.io/schedule-name label; NULL = none */
} stow_retention_backup;

#define STOW_RETENTION_REASON_MAX 160

typedef struct stow_retention_decision {
	bool expire;
	char reason[STOW_RETENTION_REASON_MAX];
} stow_retention_decision;

/* Decide for each of the n backups (any order; out[i] answers backups[i]).
 * policy NULL: TTL only. Otherwise the policy applies to the backups whose
 * schedule equals `schedule` (non-NULL), and the TTL to the rest. tz: the
 * zone for period boundaries (NULL = UTC). STOW_EINVAL for bad arguments,
 * STOW_ENOMEM. */
int stow_retention_decide(const stow_retention_backup *backups, size_t n,
			  const stow_retention_policy *policy,
			  const char *schedule, const stow_tz *tz, int64_t now,
			  stow_retention_decision *out);

#endif
