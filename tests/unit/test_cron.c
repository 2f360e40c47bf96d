/* Cron schedules, time zones and Go durations (src/util/cron.h,
 * src/util/duration.h): next activations across month ends, leap years and
 * DST changes in America/New_York and Europe/Berlin (checked against
 * Python's zoneinfo), descriptors, @every, field errors, TZif and POSIX TZ
 * parsing, ISO weeks, and Go-compatible duration parsing and printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/cron.h"
#include "util/duration.h"
#include "util/err.h"

/* "2026-11-01T01:30:00-04:00" or "...Z" to Unix seconds. */
static int64_t ts(const char *s)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	char sign = 'Z';
	int64_t t;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d%c%d:%d", &y, &mo, &d, &h, &mi, &sec,
		   &sign, &oh, &om) < 7)
		fail_msg("bad timestamp %s", s);
	t = stow_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (sign == '+')
		t -= oh * 3600 + om * 60;
	else if (sign == '-')
		t += oh * 3600 + om * 60;
	return t;
}

static void fmt_utc(int64_t t, char out[32])
{
	stow_civil c;

	stow_tz_civil(NULL, t, &c);
	snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)c.year,
		 c.month, c.day, c.hour, c.minute, c.second);
}

static void expect_next(const char *expr, const char *after, const char *want)
{
	stow_cron *c = NULL;
	int64_t next = 0;
	int rc;
	char got[32], exp[32];

	rc = stow_cron_parse(&c, expr);
	if (rc != 0)
		fail_msg("parse \"%s\": %s", expr, stow_err_msg());
	rc = stow_cron_next(c, ts(after), &next);
	if (!want) {
		if (rc != STOW_ENOTFOUND)
			fail_msg("\"%s\" after %s: want no activation, rc %d",
				 expr, after, rc);
	} else {
		if (rc != 0)
			fail_msg("\"%s\" after %s: %s", expr, after,
				 stow_err_msg());
		fmt_utc(next, got);
		fmt_utc(ts(want), exp);
		if (next != ts(want))
			fail_msg("\"%s\" after %s: got %s want %s (%s)", expr,
				 after, got, exp, want);
	}
	stow_cron_free(c);
}

static void test_fields(void **state)
{
	(void)state;
	expect_next("*/15 * * * *", "2026-11-25T17:07:00Z",
		    "2026-11-25T17:15:00Z");
	expect_next("*/15 * * * *", "2026-11-25T17:15:00Z",
		    "2026-11-25T17:30:00Z");
	expect_next("*/15 * * * *", "2026-11-25T17:14:59Z",
		    "2026-11-25T17:15:00Z");
	expect_next("* * * * *", "2026-11-25T17:07:30Z",
		    "2026-11-25T17:08:00Z");
	expect_next("? ? ? ? ?", "2026-12-31T23:59:00Z",
		    "2027-01-01T00:00:00Z");
	expect_next("0 0 1 1 *", "2026-06-01T00:00:00Z",
		    "2027-01-01T00:00:00Z");
	expect_next("59 23 31 12 *", "2026-12-31T23:59:00Z",
		    "2027-12-31T23:59:00Z");
	/* Month ends and leap years. */
	expect_next("0 0 31 * *", "2026-04-01T00:00:00Z",
		    "2026-05-31T00:00:00Z");
	expect_next("0 0 29 2 *", "2026-03-01T00:00:00Z",
		    "2028-02-29T00:00:00Z");
	expect_next("0 0 29 2 *", "2028-02-29T00:00:00Z",
		    "2032-02-29T00:00:00Z");
	expect_next("30 6 28-31 2 *", "2027-02-28T06:30:00Z",
		    "2028-02-28T06:30:00Z");
	expect_next("0 0 30 2 *", "2026-01-01T00:00:00Z", NULL);
	expect_next("0 0 31 4,6,9,11 *", "2026-01-01T00:00:00Z", NULL);
	/* Ranges, steps, lists, names. */
	expect_next("5/20 * * * *", "2026-11-25T17:06:00Z",
		    "2026-11-25T17:25:00Z");
	expect_next("1-10/2 * * * *", "2026-11-25T17:06:00Z",
		    "2026-11-25T17:07:00Z");
	expect_next("1-10/2 * * * *", "2026-11-25T17:09:00Z",
		    "2026-11-25T18:01:00Z");
	expect_next("0 12 * * MON-FRI", "2026-11-28T00:00:00Z",
		    "2026-11-30T12:00:00Z");
	expect_next("0 9 * jan,Jul sun", "2026-02-01T00:00:00Z",
		    "2026-07-05T09:00:00Z");
	expect_next("0 9 1 * Sat", "2026-11-25T00:00:00Z",
		    "2026-11-28T09:00:00Z");
	expect_next("15 3,4 * * *", "2026-11-25T03:15:00Z",
		    "2026-11-25T04:15:00Z");
	expect_next("0 0 * * 7", "2026-11-25T00:00:00Z",
		    "2026-11-29T00:00:00Z");
	expect_next("0 0 * * 5-7", "2026-11-25T00:00:00Z",
		    "2026-11-27T00:00:00Z");
	expect_next("0 0 * FEB-MAR *", "2026-03-31T00:00:00Z",
		    "2027-02-01T00:00:00Z");
	/* Day-of-month and day-of-week both restricted: either matches. */
	expect_next("0 0 13 * FRI", "2026-11-01T00:00:00Z",
		    "2026-11-06T00:00:00Z");
	expect_next("0 0 13 * FRI", "2026-11-06T00:00:00Z",
		    "2026-11-13T00:00:00Z");
	/* A stepped day-of-month counts as restricted (robfig/cron). */
	expect_next("0 0 */2 * FRI", "2026-11-01T00:00:00Z",
		    "2026-11-03T00:00:00Z");
	/* "*" or "?" in one of them: both must match. */
	expect_next("0 0 * * FRI", "2026-11-01T00:00:00Z",
		    "2026-11-06T00:00:00Z");
	expect_next("0 0 13 * ?", "2026-11-01T00:00:00Z",
		    "2026-11-13T00:00:00Z");
	expect_next("0 0 13 * */1", "2026-11-01T00:00:00Z",
		    "2026-11-13T00:00:00Z");
	/* Whitespace of any kind separates fields. */
	expect_next("  0\t0  1 * *  ", "2026-11-25T00:00:00Z",
		    "2026-12-01T00:00:00Z");
}

static void test_descriptors(void **state)
{
	(void)state;
	expect_next("@yearly", "2026-11-25T17:00:00Z", "2027-01-01T00:00:00Z");
	expect_next("@annually", "2026-11-25T17:00:00Z",
		    "2027-01-01T00:00:00Z");
	expect_next("@monthly", "2026-11-25T17:00:00Z", "2026-12-01T00:00:00Z");
	expect_next("@weekly", "2026-11-25T17:00:00Z", "2026-11-29T00:00:00Z");
	expect_next("@daily", "2026-11-25T17:00:00Z", "2026-11-26T00:00:00Z");
	expect_next("@midnight", "2026-11-25T00:00:00Z",
		    "2026-11-26T00:00:00Z");
	expect_next("@hourly", "2026-11-25T17:00:00Z", "2026-11-25T18:00:00Z");
	expect_next("CRON_TZ=Europe/Berlin @daily", "2026-11-25T17:00:00Z",
		    "2026-11-25T23:00:00Z");
	expect_next("@every 1h30m", "2026-11-25T17:00:07Z",
		    "2026-11-25T18:30:07Z");
	expect_next("@every 5s", "2026-11-25T17:00:00Z",
		    "2026-11-25T17:00:05Z");
	/* Sub-second and fractional intervals round down to seconds, at
	 * least one, as robfig/cron does. */
	expect_next("@every 250ms", "2026-11-25T17:00:00Z",
		    "2026-11-25T17:00:01Z");
	expect_next("@every 1.9s", "2026-11-25T17:00:00Z",
		    "2026-11-25T17:00:01Z");
	expect_next("@every 720h0m0s", "2026-11-25T17:00:00Z",
		    "2026-12-25T17:00:00Z");
	expect_next("TZ=America/New_York @every 1h", "2026-11-01T05:30:00Z",
		    "2026-11-01T06:30:00Z");
}

static void test_dst_new_york(void **state)
{
	const char *ny = "CRON_TZ=America/New_York ";
	char e[128];

	(void)state;
	/* 2026-03-08: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist
	 * that day, so a 02:30 job skips to the next day. */
	snprintf(e, sizeof(e), "%s30 2 * * *", ny);
	expect_next(e, "2026-03-08T00:00:00-05:00",
		    "2026-03-09T02:30:00-04:00");
	expect_next(e, "2026-03-07T02:30:00-05:00",
		    "2026-03-09T02:30:00-04:00");
	snprintf(e, sizeof(e), "%s30 1 * * *", ny);
	expect_next(e, "2026-03-08T00:00:00-05:00",
		    "2026-03-08T01:30:00-05:00");
	snprintf(e, sizeof(e), "%s30 3 * * *", ny);
	expect_next(e, "2026-03-08T00:00:00-05:00",
		    "2026-03-08T03:30:00-04:00");
	snprintf(e, sizeof(e), "%s0 * * * *", ny);
	expect_next(e, "2026-03-08T01:00:00-05:00",
		    "2026-03-08T03:00:00-04:00");
	snprintf(e, sizeof(e), "TZ=America/New_York 0 0 * * *");
	expect_next(e, "2026-03-07T12:00:00-05:00",
		    "2026-03-08T00:00:00-05:00");
	expect_next(e, "2026-03-08T00:00:00-05:00",
		    "2026-03-09T00:00:00-04:00");
	/* 2026-11-01: 02:00 EDT falls back to 01:00 EST. A 01:30 job runs
	 * once, at the first 01:30. */
	snprintf(e, sizeof(e), "%s30 1 * * *", ny);
	expect_next(e, "2026-11-01T00:00:00-04:00",
		    "2026-11-01T01:30:00-04:00");
	expect_next(e, "2026-11-01T01:30:00-04:00",
		    "2026-11-02T01:30:00-05:00");
	expect_next(e, "2026-11-01T01:10:00-05:00",
		    "2026-11-02T01:30:00-05:00");
	snprintf(e, sizeof(e), "%s0 2 * * *", ny);
	expect_next(e, "2026-11-01T00:00:00-04:00",
		    "2026-11-01T02:00:00-05:00");
	/* An hourly job runs in both copies of the repeated hour. */
	snprintf(e, sizeof(e), "%s0 * * * *", ny);
	expect_next(e, "2026-11-01T00:00:00-04:00",
		    "2026-11-01T01:00:00-04:00");
	expect_next(e, "2026-11-01T01:00:00-04:00",
		    "2026-11-01T01:00:00-05:00");
	expect_next(e, "2026-11-01T01:00:00-05:00",
		    "2026-11-01T02:00:00-05:00");
	snprintf(e, sizeof(e), "%s*/30 * * * *", ny);
	expect_next(e, "2026-11-01T01:30:00-04:00",
		    "2026-11-01T01:00:00-05:00");
	/* Far past the file's last explicit transition: the footer rule. */
	snprintf(e, sizeof(e), "%s30 2 * * *", ny);
	expect_next(e, "2040-03-11T00:00:00-05:00",
		    "2040-03-12T02:30:00-04:00");
	snprintf(e, sizeof(e), "%s0 9 * * MON", ny);
	expect_next(e, "2040-07-01T00:00:00Z", "2040-07-02T09:00:00-04:00");
}

static void test_dst_berlin(void **state)
{
	const char *e = "CRON_TZ=Europe/Berlin 30 2 * * *";

	(void)state;
	/* 2026-03-29: 02:00 CET jumps to 03:00 CEST. */
	expect_next(e, "2026-03-29T00:00:00+01:00",
		    "2026-03-30T02:30:00+02:00");
	/* 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 runs once. */
	expect_next(e, "2026-10-25T00:00:00+02:00",
		    "2026-10-25T02:30:00+02:00");
	expect_next(e, "2026-10-25T02:30:00+02:00",
		    "2026-10-26T02:30:00+01:00");
	expect_next("TZ=Europe/Berlin 0 0 1 * *", "2026-06-15T00:00:00Z",
		    "2026-07-01T00:00:00+02:00");
	expect_next("TZ=Europe/Berlin 0 0 1 * *", "2026-10-15T00:00:00Z",
		    "2026-11-01T00:00:00+01:00");
	expect_next("CRON_TZ=Europe/Berlin 0 * * * *",
		    "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00");
	/* 2040, from the footer rule. */
	expect_next(e, "2040-03-25T00:00:00+01:00",
		    "2040-03-26T02:30:00+02:00");
	expect_next("CRON_TZ=Europe/Berlin 0 12 29 2 *", "2026-01-01T00:00:00Z",
		    "2028-02-29T12:00:00+01:00");
}

/* An independent oracle: scan minute by minute with a hand-written
 * predicate, skipping the second pass through a repeated wall time unless
 * the schedule runs every hour. */
typedef struct oracle_case {
	const char *spec;
	bool all_hours;
	bool (*match)(const stow_civil *c);
} oracle_case;

static bool m_0230(const stow_civil *c)
{
	return c->hour == 2 && c->minute == 30;
}
static bool m_hourly(const stow_civil *c)
{
	return c->minute == 0;
}
static bool m_20_1to3(const stow_civil *c)
{
	return c->minute % 20 == 0 && c->hour >= 1 && c->hour <= 3;
}
static bool m_13_or_fri(const stow_civil *c)
{
	return c->hour == 0 && c->minute == 0 && (c->day == 13 || c->wday == 5);
}
static bool m_sun_0115(const stow_civil *c)
{
	return c->hour == 1 && c->minute == 15 && c->wday == 0;
}
static bool m_2345(const stow_civil *c)
{
	return c->hour == 23 && c->minute == 45;
}

static int64_t oracle_next(const stow_tz *tz, const oracle_case *oc,
			   int64_t after)
{
	int64_t t = after - (after % 60 + 60) % 60 + 60;

	for (int i = 0; i < 40 * 1440; i++, t += 60) {
		stow_civil c, prev;

		stow_tz_civil(tz, t, &c);
		if (!oc->match(&c))
			continue;
		stow_tz_civil(tz, t - 3600, &prev);
		if (!oc->all_hours && prev.day == c.day &&
		    prev.hour == c.hour && prev.minute == c.minute)
			continue; /* the repeat of a wall time */
		return t;
	}
	return -1;
}

static void test_oracle_dst(void **state)
{
	static const oracle_case cases[] = {
	    {"30 2 * * *", false, m_0230},
	    {"0 * * * *", true, m_hourly},
	    {"*/20 1-3 * * *", false, m_20_1to3},
	    {"0 0 13 * 5", false, m_13_or_fri},
	    {"15 1 * * SUN", false, m_sun_0115},
	    {"45 23 * * *", false, m_2345},
	};
	static const struct {
		const char *zone;
		const char *when; /* the transition instant */
	} changes[] = {
	    {"America/New_York", "2026-03-08T07:00:00Z"},
	    {"America/New_York", "2026-11-01T06:00:00Z"},
	    {"America/New_York", "2040-03-11T07:00:00Z"},
	    {"America/New_York", "2040-11-04T06:00:00Z"},
	    {"Europe/Berlin", "2026-03-29T01:00:00Z"},
	    {"Europe/Berlin", "2026-10-25T01:00:00Z"},
	    {"Europe/Berlin", "2040-03-25T01:00:00Z"},
	    {"Europe/Berlin", "2040-10-28T01:00:00Z"},
	};
	size_t checked = 0;

	(void)state;
	for (size_t z = 0; z < sizeof(changes) / sizeof(changes[0]); z++) {
		int64_t t0 = ts(changes[z].when);

		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			char e[128];
			stow_cron *c = NULL;

			snprintf(e, sizeof(e), "CRON_TZ=%s %s", changes[z].zone,
				 cases[k].spec);
			assert_int_equal(stow_cron_parse(&c, e), 0);
			for (int64_t a = t0 - 2 * 86400; a < t0 + 2 * 86400;
			     a += 97 * 60 + 1) {
				/* Also from the instants around the change. */
				int64_t afters[] = {a,	       t0 - 1,
						    t0,	       t0 + 1,
						    t0 - 1800, t0 + 1800};
				size_t na = a == t0 - 2 * 86400 ? 6 : 1;

				for (size_t j = 0; j < na; j++) {
					int64_t got, want;
					char g[32], w[32];

					want =
					    oracle_next(stow_cron_tz(c),
							&cases[k], afters[j]);
					assert_int_equal(
					    stow_cron_next(c, afters[j], &got),
					    0);
					if (got != want) {
						fmt_utc(got, g);
						fmt_utc(want, w);
						fail_msg(
						    "%s after %lld: got %s "
						    "want %s",
						    e, (long long)afters[j], g,
						    w);
					}
					checked++;
				}
			}
			stow_cron_free(c);
		}
	}
	assert_true(checked > 2000);
}

static void expect_error(const char *expr, const char *want_msg)
{
	stow_cron *c = NULL;
	int rc = stow_cron_parse(&c, expr);

	if (rc == 0)
		fail_msg("\"%s\" parsed, want error \"%s\"", expr, want_msg);
	assert_null(c);
	if (!strstr(stow_err_msg(), want_msg))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", expr,
			 stow_err_msg(), want_msg);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("61 * * * *", "minute: 61 out of range 0-59");
	expect_error("* 24 * * *", "hour: 24 out of range 0-23");
	expect_error("* * 0 * *", "day-of-month: 0 out of range 1-31");
	expect_error("* * 32 * *", "day-of-month: 32 out of range 1-31");
	expect_error("* * * 13 *", "month: 13 out of range 1-12");
	expect_error("* * * * 8", "day-of-week: 8 out of range 0-7");
	expect_error("* * * FOO *", "month: \"FOO\" is not a number or month");
	expect_error("* * * * funday", "day-of-week: \"funday\" is not a");
	expect_error("5-1 * * * *", "minute: range 5-1 runs backwards");
	expect_error("*/0 * * * *", "minute: step must be positive");
	expect_error("*/x * * * *", "minute: step \"x\" is not a number");
	expect_error("1/2/3 * * * *", "minute: too many slashes");
	expect_error("1-2-3 * * * *", "minute: too many hyphens");
	expect_error("1,,2 * * * *", "minute: empty list element");
	expect_error("1, * * * *", "minute: empty list element");
	expect_error("-5 * * * *", "minute: empty value");
	expect_error("* * * *", "expected exactly 5 fields");
	expect_error("0 * * * * *", "expected exactly 5 fields");
	expect_error("", "empty schedule");
	expect_error("   ", "empty schedule");
	expect_error("@weird", "unrecognized descriptor \"@weird\"");
	expect_error("@daily extra", "unrecognized descriptor");
	expect_error("@every", "unrecognized descriptor");
	expect_error("@every 5x", "@every: unknown unit \"x\"");
	expect_error("@every 5", "missing unit");
	expect_error("CRON_TZ=Nowhere/City * * * * *",
		     "unknown time zone Nowhere/City");
	expect_error("CRON_TZ=../../etc/passwd * * * * *",
		     "invalid time zone name");
	expect_error("TZ=/etc/passwd * * * * *", "invalid time zone name");
	expect_error("CRON_TZ=UTC", "time zone prefix without a schedule");
	expect_error("CRON_TZ=UTC 99 * * * *", "minute: 99 out of range");
}

static void test_timezones(void **state)
{
	stow_tz *tz = NULL;
	stow_civil c;
	int64_t iy;
	int wk;

	(void)state;
	assert_int_equal(stow_tz_load(&tz, "America/New_York"), 0);
	assert_string_equal(stow_tz_name(tz), "America/New_York");
	assert_int_equal(stow_tz_offset(tz, ts("2026-07-01T00:00:00Z")),
			 -4 * 3600);
	assert_int_equal(stow_tz_offset(tz, ts("2026-12-01T00:00:00Z")),
			 -5 * 3600);
	/* The transition instants themselves. */
	assert_int_equal(stow_tz_offset(tz, ts("2026-03-08T06:59:59Z")),
			 -5 * 3600);
	assert_int_equal(stow_tz_offset(tz, ts("2026-03-08T07:00:00Z")),
			 -4 * 3600);
	assert_int_equal(stow_tz_offset(tz, ts("2026-11-01T05:59:59Z")),
			 -4 * 3600);
	assert_int_equal(stow_tz_offset(tz, ts("2026-11-01T06:00:00Z")),
			 -5 * 3600);
	stow_tz_civil(tz, ts("2026-11-25T17:00:00Z"), &c);
	assert_int_equal(c.year, 2026);
	assert_int_equal(c.month, 11);
	assert_int_equal(c.day, 25);
	assert_int_equal(c.hour, 12);
	assert_int_equal(c.wday, 3);
	assert_int_equal(c.yday, 328);
	stow_tz_free(tz);

	/* POSIX rules, including a southern-hemisphere one. */
	assert_int_equal(stow_tz_parse_posix(&tz, "CET-1CEST,M3.5.0,M10.5.0/3"),
			 0);
	assert_int_equal(stow_tz_offset(tz, ts("2026-03-29T00:59:59Z")), 3600);
	assert_int_equal(stow_tz_offset(tz, ts("2026-03-29T01:00:00Z")), 7200);
	assert_int_equal(stow_tz_offset(tz, ts("2026-10-25T00:59:59Z")), 7200);
	assert_int_equal(stow_tz_offset(tz, ts("2026-10-25T01:00:00Z")), 3600);
	stow_tz_free(tz);
	assert_int_equal(
	    stow_tz_parse_posix(&tz, "AEST-10AEDT,M10.1.0,M4.1.0/3"), 0);
	assert_int_equal(stow_tz_offset(tz, ts("2026-01-15T00:00:00Z")),
			 11 * 3600);
	assert_int_equal(stow_tz_offset(tz, ts("2026-06-15T00:00:00Z")),
			 10 * 3600);
	stow_tz_free(tz);
	assert_int_equal(stow_tz_parse_posix(&tz, "<+0530>-5:30"), 0);
	assert_int_equal(stow_tz_offset(tz, 0), 5 * 3600 + 1800);
	stow_tz_free(tz);
	assert_int_equal(stow_tz_parse_posix(&tz, "EST5EDT"), 0);
	assert_int_equal(stow_tz_offset(tz, ts("2026-07-01T00:00:00Z")),
			 -4 * 3600);
	stow_tz_free(tz);
	assert_int_equal(stow_tz_parse_posix(&tz, "X1"), STOW_EINVAL);
	assert_int_equal(stow_tz_parse_posix(&tz, "CET-1CEST,M13.5.0,M10.5.0"),
			 STOW_EINVAL);

	/* UTC and names. */
	assert_int_equal(stow_tz_load(&tz, "UTC"), 0);
	assert_ptr_equal(tz, stow_tz_utc());
	stow_tz_free(tz); /* a no-op on the static zone */
	assert_int_equal(stow_tz_load(&tz, "Europe/../etc/passwd"),
			 STOW_EINVAL);
	assert_int_equal(stow_tz_load(&tz, "No/Such_Zone"), STOW_ENOTFOUND);

	/* Broken TZif bytes are a clean error. */
	assert_int_equal(
	    stow_tz_parse_tzif(&tz, "x", (const uint8_t *)"TZif2", 5),
	    STOW_ECORRUPT);
	assert_null(tz);

	/* ISO weeks around year ends. */
	stow_iso_week(2026, 12, 31, &iy, &wk);
	assert_int_equal(iy, 2026);
	assert_int_equal(wk, 53);
	stow_iso_week(2027, 1, 3, &iy, &wk);
	assert_int_equal(iy, 2026);
	assert_int_equal(wk, 53);
	stow_iso_week(2027, 1, 4, &iy, &wk);
	assert_int_equal(iy, 2027);
	assert_int_equal(wk, 1);
	stow_iso_week(2024, 12, 30, &iy, &wk);
	assert_int_equal(iy, 2025);
	assert_int_equal(wk, 1);
	stow_iso_week(2021, 1, 3, &iy, &wk);
	assert_int_equal(iy, 2020);
	assert_int_equal(wk, 53);
	stow_iso_week(2026, 11, 25, &iy, &wk);
	assert_int_equal(wk, 48);
}

/* Every zone on this machine loads, and its offsets agree with the TZif
 * table and rule at a spread of instants against the civil conversion. */
static void test_zone_files(void **state)
{
	static const char *zones[] = {
	    "Europe/London",	   "Australia/Sydney", "Asia/Kolkata",
	    "Asia/Kathmandu",	   "Pacific/Chatham",  "America/Sao_Paulo",
	    "Australia/Lord_Howe", "Pacific/Apia",     "Africa/Casablanca",
	    "America/St_Johns"};

	(void)state;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		stow_tz *tz = NULL;
		stow_cron *c = NULL;
		char e[96];
		int64_t t = ts("2020-01-01T00:00:00Z"), n;

		if (stow_tz_load(&tz, zones[i]) != 0)
			fail_msg("%s: %s", zones[i], stow_err_msg());
		stow_tz_free(tz);
		/* A daily job fires once per local day for 20 years. */
		snprintf(e, sizeof(e), "CRON_TZ=%s 30 4 * * *", zones[i]);
		assert_int_equal(stow_cron_parse(&c, e), 0);
		for (int d = 0; d < 7300; d++) {
			stow_civil cv;

			assert_int_equal(stow_cron_next(c, t, &n), 0);
			assert_true(n > t);
			stow_tz_civil(stow_cron_tz(c), n, &cv);
			if (cv.hour != 4 || cv.minute != 30)
				fail_msg("%s: fired at %02d:%02d", zones[i],
					 cv.hour, cv.minute);
			/* At most a day and a bit (DST) apart. */
			assert_true(n - t <= 2 * 86400);
			t = n;
		}
		stow_cron_free(c);
	}
}

static void expect_dur(const char *s, int64_t want)
{
	int64_t got = 0;

	if (stow_duration_parse(s, &got) != 0)
		fail_msg("\"%s\": %s", s, stow_err_msg());
	if (got != want)
		fail_msg("\"%s\": got %lld want %lld", s, (long long)got,
			 (long long)want);
}

static void expect_dur_err(const char *s)
{
	int64_t got = 0;

	if (stow_duration_parse(s, &got) != STOW_EINVAL)
		fail_msg("\"%s\" parsed as %lld", s, (long long)got);
}

static void expect_fmt(int64_t ns, const char *want)
{
	char out[STOW_DURATION_STR_MAX];
	int64_t back;

	stow_duration_format(ns, out);
	if (strcmp(out, want) != 0)
		fail_msg("%lld: got \"%s\" want \"%s\"", (long long)ns, out,
			 want);
	/* What we print parses back to the same value. */
	assert_int_equal(stow_duration_parse(out, &back), 0);
	assert_true(back == ns);
}

static void test_durations(void **state)
{
	const int64_t s = STOW_NSEC_PER_SEC;

	(void)state;
	expect_dur("720h0m0s", 720 * 3600 * s);
	expect_dur("720h", 720 * 3600 * s);
	expect_dur("1h30m", 5400 * s);
	expect_dur("5s", 5 * s);
	expect_dur("250ms", 250000000);
	expect_dur("1.5h", 5400 * s);
	expect_dur(".5s", s / 2);
	expect_dur("1.s", s);
	expect_dur("-1m", -60 * s);
	expect_dur("+5s", 5 * s);
	expect_dur("0", 0);
	expect_dur("-0", 0);
	expect_dur("0s", 0);
	expect_dur("100ns", 100);
	expect_dur("1us", 1000);
	expect_dur("1\xc2\xb5s", 1000);
	expect_dur("1\xce\xbcs", 1000);
	expect_dur("2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * s + s / 2);
	expect_dur("1h1h", 7200 * s);
	expect_dur("9223372036854775807ns", INT64_MAX);
	expect_dur("-9223372036854775808ns", INT64_MIN);
	expect_dur("0.000000001s", 1);
	expect_dur("1.0000000001s", s);
	expect_dur_err("");
	expect_dur_err("5");
	expect_dur_err("s");
	expect_dur_err(".s");
	expect_dur_err("1x");
	expect_dur_err("1 s");
	expect_dur_err("-");
	expect_dur_err("+");
	expect_dur_err("1h-5m");
	expect_dur_err("9223372036854775808ns");
	expect_dur_err("2562048h");
	expect_dur_err("99999999999999999999s");

	expect_fmt(0, "0s");
	expect_fmt(720 * 3600 * s, "720h0m0s");
	expect_fmt(90 * s, "1m30s");
	expect_fmt(s + s / 2, "1.5s");
	expect_fmt(250000000, "250ms");
	expect_fmt(1500, "1.5\xc2\xb5s");
	expect_fmt(100, "100ns");
	expect_fmt(-90 * s, "-1m30s");
	expect_fmt(3600 * s + s / 2, "1h0m0.5s");
	expect_fmt(1, "1ns");
	expect_fmt(1000000, "1ms");
	expect_fmt(59 * s, "59s");
	expect_fmt(INT64_MAX, "2562047h47m16.854775807s");
	expect_fmt(INT64_MIN, "-2562047h47m16.854775808s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_descriptors),
	    cmocka_unit_test(test_dst_new_york),
	    cmocka_unit_test(test_dst_berlin),
	    cmocka_unit_test(test_oracle_dst),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_timezones),
	    cmocka_unit_test(test_zone_files),
	    cmocka_unit_test(test_durations),
	};

	/* Schedules without a prefix use the local zone; pin it. */
	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
