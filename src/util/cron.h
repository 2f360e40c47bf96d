/* Cron schedules as Velero's Schedule accepts them, and the time zones they
 * are evaluated in.
 *
 * Syntax (robfig/cron v3 ParseStandard, which Velero uses):
 *   [CRON_TZ=<zone> | TZ=<zone>] <minute> <hour> <dom> <month> <dow>
 *   [CRON_TZ=<zone> | TZ=<zone>] @yearly|@annually|@monthly|@weekly|
 *                                @daily|@midnight|@hourly
 *   [CRON_TZ=<zone> | TZ=<zone>] @every <Go duration>
 * Fields: `*`, `?` (same as `*`), numbers, lists `a,b`, ranges `a-b`, steps
 * `*` `/n`, `a-b/n`, `a/n` (= a-max/n), three-letter month (JAN-DEC) and
 * weekday (SUN-SAT) names in any case. Weekday 7 is accepted as Sunday.
 * When both day-of-month and day-of-week are restricted (neither starts with
 * `*` or `?` without a step) a day matches if either matches, as in classic
 * cron; otherwise both must match. docs/schedules.md is the user's guide.
 *
 * Time is seconds since the Unix epoch (int64). stow_cron_next(after) is the
 * first activation strictly after `after`. Wall-clock schedules are
 * evaluated in the schedule's zone: a wall time that a DST change skips does
 * not fire; a wall time that a DST change repeats fires once (at its first
 * occurrence) unless the hour field is `*`-like (all 24 hours), in which
 * case the repeated hour is a real hour of the schedule and fires again.
 * `@every d` fires every d (rounded down to whole seconds, at least 1 s)
 * after `after`, regardless of zones.
 *
 * Time zones are read from TZif files under $ZONEINFO or /usr/share/zoneinfo
 * by our own bounded parser, never through setenv("TZ")/tzset(), which are
 * process-global and unsafe while other threads convert times. A loaded
 * stow_tz is immutable, so any number of threads may use it at once.
 *
 * Errors: STOW_EINVAL with a message naming the field ("minute: 61 out of
 * range 0-59"); STOW_ENOTFOUND for an unknown zone or a schedule that never
 * fires within five years (e.g. "0 0 30 2 *"); STOW_ECORRUPT for a zone file
 * that does not parse; STOW_ENOMEM. */
#ifndef STOW_UTIL_CRON_H
#define STOW_UTIL_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Time zones --------------------------------------------------------- */

typedef struct stow_tz stow_tz;

/* Load a zone by IANA name ("Europe/Berlin"), "UTC" (or ""), or "Local"
 * (the zone of $TZ, else /etc/localtime, else UTC). Names are checked
 * before touching the file system: no "..", no absolute paths, at most 255
 * bytes of [A-Za-z0-9_+-./]. The caller owns *out (stow_tz_free). */
int stow_tz_load(stow_tz **out, const char *name);

/* Parse a TZif file (RFC 8536, versions 1-4) held in memory; the footer's
 * POSIX TZ rule extends the table past its last transition. `name` is kept
 * for messages. Input is untrusted: counts are capped and checked against
 * the length. */
int stow_tz_parse_tzif(stow_tz **out, const char *name, const uint8_t *data,
		       size_t len);

/* A zone from a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". */
int stow_tz_parse_posix(stow_tz **out, const char *rule);

/* The shared UTC zone (static, never freed; stow_tz_free ignores it). */
const stow_tz *stow_tz_utc(void);

void stow_tz_free(stow_tz *tz);
const char *stow_tz_name(const stow_tz *tz);

/* Offset east of UTC in seconds at instant t. */
int32_t stow_tz_offset(const stow_tz *tz, int64_t t);

/* Broken-down wall time. */
typedef struct stow_civil {
	int64_t year;
	int month;  /* 1-12 */
	int day;    /* 1-31 */
	int hour;   /* 0-23 */
	int minute; /* 0-59 */
	int second; /* 0-59 */
	int wday;   /* 0 = Sunday */
	int yday;   /* 0-365 */
	int32_t utc_offset;
} stow_civil;

/* Wall time of instant t in tz (NULL means UTC). */
void stow_tz_civil(const stow_tz *tz, int64_t t, stow_civil *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; day may
 * run past the month, it is counted on). */
int64_t stow_days_from_civil(int64_t year, int month, int day);

/* The ISO 8601 week of a date: *iso_year and *week (1-53). */
void stow_iso_week(int64_t year, int month, int day, int64_t *iso_year,
		   int *week);

/* ---- Cron --------------------------------------------------------------- */

typedef struct stow_cron stow_cron;

/* Parse a schedule. The caller owns *out (stow_cron_free). */
int stow_cron_parse(stow_cron **out, const char *expr);

/* The same, evaluating schedules without a CRON_TZ=/TZ= prefix in
 * default_tz instead of the local zone (NULL: local). default_tz is
 * borrowed and must outlive *out. */
int stow_cron_parse_in(stow_cron **out, const char *expr,
		       const stow_tz *default_tz);

/* First activation strictly after `after` (Unix seconds). STOW_ENOTFOUND
 * if there is none within five years. */
int stow_cron_next(const stow_cron *c, int64_t after, int64_t *next);

/* The zone the schedule is evaluated in (borrowed). */
const stow_tz *stow_cron_tz(const stow_cron *c);

/* For `@every`: the interval in seconds; 0 for wall-clock schedules. */
int64_t stow_cron_every(const stow_cron *c);

void stow_cron_free(stow_cron *c);

#endif
