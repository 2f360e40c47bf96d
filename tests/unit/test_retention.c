/* Retention (src/velero/retention.h): a synthetic year of hourly backups
 * under a GFS policy with the exact survivor set worked out by hand, the
 * same year with periods in Europe/Berlin, TTL expiry, backups that must
 * never be deleted, input-order independence, and policy parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/cron.h"
#include "util/err.h"
#include "velero/retention.h"

#define HOURS_2026 8760

static int64_t utc(int y, int mo, int d, int h)
{
	return stow_days_from_civil(y, mo, d) * 86400 + h * 3600;
}

typedef struct year {
	stow_retention_backup b[HOURS_2026];
	char names[HOURS_2026][40];
	stow_retention_decision d[HOURS_2026];
} year;

/* Backups nightly-YYYYMMDDHH0000 every hour of 2026 (UTC), TTL 720h. */
static year *make_year(void)
{
	year *y = calloc(1, sizeof(*y));
	int64_t t0 = utc(2026, 1, 1, 0);

	assert_non_null(y);
	for (int i = 0; i < HOURS_2026; i++) {
		stow_civil c;
		int64_t t = t0 + (int64_t)i * 3600;

		stow_tz_civil(NULL, t, &c);
		snprintf(y->names[i], sizeof(y->names[i]),
			 "nightly-%04d%02d%02d%02d0000", (int)c.year, c.month,
			 c.day, c.hour);
		y->b[i] = (stow_retention_backup){
		    .name = y->names[i],
		    .created = t,
		    .expiration = t + 720 * 3600,
		    .phase = "Completed",
		    .schedule = "nightly",
		};
	}
	return y;
}

static int index_of(int mo, int d, int h)
{
	return (int)((utc(2026, mo, d, h) - utc(2026, 1, 1, 0)) / 3600);
}

static void test_gfs_year_utc(void **state)
{
	year *y = make_year();
	stow_retention_policy p;
	bool want[HOURS_2026] = {false};
	static const int month_end[11][2] = {
	    {1, 31}, {2, 28}, {3, 31}, {4, 30},	 {5, 31}, {6, 30},
	    {7, 31}, {8, 31}, {9, 30}, {10, 31}, {11, 30}};
	int kept = 0;

	(void)state;
	assert_int_equal(stow_retention_policy_parse(
			     &p, "hourly=24,daily=7,weekly=4,monthly=12,"
				 "yearly=3,last=5"),
			 0);
	assert_int_equal(stow_retention_decide(y->b, HOURS_2026, &p, "nightly",
					       NULL, utc(2027, 1, 1, 0) + 1800,
					       y->d),
			 0);
	/* hourly=24: all of Dec 31 (last=5 is inside it). */
	for (int h = 0; h < 24; h++)
		want[index_of(12, 31, h)] = true;
	/* daily=7: the 23:00 backup of Dec 25..31. */
	for (int d = 25; d <= 31; d++)
		want[index_of(12, d, 23)] = true;
	/* weekly=4: ISO weeks 2026-W53 (Dec 31), W52 (Sun Dec 27), W51
	 * (Sun Dec 20), W50 (Sun Dec 13). */
	want[index_of(12, 20, 23)] = true;
	want[index_of(12, 13, 23)] = true;
	/* monthly=12: the last backup of every month. yearly=3: only 2026
	 * exists, Dec 31 23:00. */
	for (int m = 0; m < 11; m++)
		want[index_of(month_end[m][0], month_end[m][1], 23)] = true;
	for (int i = 0; i < HOURS_2026; i++) {
		if (y->d[i].expire == want[i])
			fail_msg("%s: expire=%d (%s)", y->names[i],
				 y->d[i].expire, y->d[i].reason);
		if (!y->d[i].expire)
			kept++;
		else
			assert_string_equal(y->d[i].reason,
					    "expired: outside GFS policy");
	}
	assert_int_equal(kept, 43);
	assert_string_equal(y->d[index_of(12, 31, 23)].reason,
			    "kept: last 1, hourly 2026-12-31T23, daily "
			    "2026-12-31, weekly 2026-W53, monthly 2026-12, "
			    "yearly 2026");
	assert_string_equal(y->d[index_of(12, 31, 19)].reason,
			    "kept: last 5, hourly 2026-12-31T19");
	assert_string_equal(y->d[index_of(12, 31, 0)].reason,
			    "kept: hourly 2026-12-31T00");
	assert_string_equal(y->d[index_of(12, 27, 23)].reason,
			    "kept: daily 2026-12-27, weekly 2026-W52");
	assert_string_equal(y->d[index_of(12, 20, 23)].reason,
			    "kept: weekly 2026-W51");
	assert_string_equal(y->d[index_of(2, 28, 23)].reason,
			    "kept: monthly 2026-02");
	free(y);
}

static void test_gfs_year_berlin(void **state)
{
	year *y = make_year();
	stow_retention_policy p;
	stow_tz *berlin = NULL;
	int kept = 0;

	(void)state;
	assert_int_equal(stow_tz_load(&berlin, "Europe/Berlin"), 0);
	assert_int_equal(
	    stow_retention_policy_parse(&p, "daily=7, monthly=12, yearly=3"),
	    0);
	assert_int_equal(stow_retention_decide(y->b, HOURS_2026, &p, "nightly",
					       berlin, utc(2027, 1, 2, 0),
					       y->d),
			 0);
	for (int i = 0; i < HOURS_2026; i++)
		kept += !y->d[i].expire;
	/* Dec 31 23:00Z is already 2027-01-01 in Berlin: it keeps the
	 * newest day, month and year; Dec 31 22:00Z is the last of 2026. */
	assert_string_equal(y->d[index_of(12, 31, 23)].reason,
			    "kept: daily 2027-01-01, monthly 2027-01, yearly "
			    "2027");
	assert_string_equal(y->d[index_of(12, 31, 22)].reason,
			    "kept: daily 2026-12-31, monthly 2026-12, yearly "
			    "2026");
	for (int d = 26; d <= 30; d++) {
		assert_false(y->d[index_of(12, d, 22)].expire);
		assert_true(y->d[index_of(12, d, 23)].expire);
	}
	assert_true(y->d[index_of(12, 25, 22)].expire);
	/* Month ends in local time: 23:00 Berlin is 22:00Z in winter and
	 * 21:00Z in summer (CEST from Mar 29 to Oct 25). */
	assert_false(y->d[index_of(11, 30, 22)].expire);
	assert_false(y->d[index_of(10, 31, 22)].expire);
	assert_false(y->d[index_of(9, 30, 21)].expire);
	assert_true(y->d[index_of(9, 30, 22)].expire);
	assert_false(y->d[index_of(3, 31, 21)].expire);
	assert_false(y->d[index_of(2, 28, 22)].expire);
	/* Twelve months back from 2027-01 end at 2026-02: January goes. */
	assert_true(y->d[index_of(1, 31, 22)].expire);
	assert_string_equal(y->d[index_of(9, 30, 21)].reason,
			    "kept: monthly 2026-09");
	/* 7 daily (one shared with 2027's month and year) + 11 more
	 * month ends (Feb..Dec 2026, Dec shared with a daily). */
	assert_int_equal(kept, 7 + 10);
	stow_tz_free(berlin);
	free(y);
}

static void test_unlimited_and_order(void **state)
{
	year *y = make_year(), *z = make_year();
	stow_retention_policy p;
	int kept = 0;

	(void)state;
	assert_int_equal(stow_retention_policy_parse(&p, "daily=-1"), 0);
	assert_int_equal(stow_retention_decide(y->b, HOURS_2026, &p, "nightly",
					       NULL, utc(2027, 1, 1, 0), y->d),
			 0);
	for (int i = 0; i < HOURS_2026; i++) {
		kept += !y->d[i].expire;
		assert_int_equal(y->d[i].expire, i % 24 != 23);
	}
	assert_int_equal(kept, 365);

	/* The same input reversed and interleaved gives the same answers. */
	assert_int_equal(stow_retention_policy_parse(
			     &p, "last=3,hourly=10,daily=10,weekly=10,"
				 "monthly=10,yearly=10"),
			 0);
	assert_int_equal(stow_retention_decide(y->b, HOURS_2026, &p, "nightly",
					       NULL, utc(2027, 1, 1, 0), y->d),
			 0);
	for (int i = 0; i < HOURS_2026; i++) {
		int j = (i * 7919) % HOURS_2026; /* a permutation */

		z->b[i] = y->b[j];
	}
	assert_int_equal(stow_retention_decide(z->b, HOURS_2026, &p, "nightly",
					       NULL, utc(2027, 1, 1, 0), z->d),
			 0);
	for (int i = 0; i < HOURS_2026; i++) {
		int j = (i * 7919) % HOURS_2026;

		assert_int_equal(z->d[i].expire, y->d[j].expire);
		assert_string_equal(z->d[i].reason, y->d[j].reason);
	}
	free(y);
	free(z);
}

static void test_ttl_and_safety(void **state)
{
	const int64_t now = utc(2026, 11, 25, 17);
	stow_retention_backup b[] = {
	    {"old", now - 800 * 3600, now - 80 * 3600, "Completed", "nightly"},
	    {"edge", now - 720 * 3600, now, "Completed", NULL},
	    {"fresh", now - 3600, now + 719 * 3600, "Completed", NULL},
	    {"forever", now - 9000 * 3600, 0, "PartiallyFailed", NULL},
	    {"running", now - 900 * 3600, now - 1, "InProgress", "nightly"},
	    {"new", now - 900 * 3600, now - 1, "", "nightly"},
	    {"nophase", now - 900 * 3600, now - 1, NULL, NULL},
	    {"finalizing", now - 900 * 3600, now - 1,
	     "FinalizingPartiallyFailed", "nightly"},
	    {"future-phase", now - 900 * 3600, now - 1, "Paused", NULL},
	    {"deleting", now - 900 * 3600, now - 1, "Deleting", "nightly"},
	    {"failed-old", now - 900 * 3600, now - 1, "Failed", "nightly"},
	    {"failed-new", now - 2 * 3600, now + 3600, "FailedValidation",
	     "nightly"},
	    {"other-sched", now - 900 * 3600, now - 1, "Completed", "weekly"},
	    {"newest", now - 60, now + 719 * 3600, "Completed", "nightly"},
	};
	const size_t n = sizeof(b) / sizeof(b[0]);
	stow_retention_decision d[sizeof(b) / sizeof(b[0])];
	stow_retention_policy p;
	static const char *const ttl_only[] = {
	    "expired: ttl",
	    "expired: ttl",
	    "kept: ttl not reached",
	    "kept: no expiration",
	    "kept: in progress (InProgress)",
	    "kept: in progress (New)",
	    "kept: in progress (New)",
	    "kept: in progress (FinalizingPartiallyFailed)",
	    "kept: in progress (Paused)",
	    "kept: already deleting",
	    "expired: ttl",
	    "kept: failed, ttl not reached",
	    "expired: ttl",
	    "kept: ttl not reached",
	};
	static const char *const with_policy[] = {
	    "expired: outside GFS policy",
	    "expired: ttl",
	    "kept: ttl not reached",
	    "kept: no expiration",
	    "kept: in progress (InProgress)",
	    "kept: in progress (New)",
	    "kept: in progress (New)",
	    "kept: in progress (FinalizingPartiallyFailed)",
	    "kept: in progress (Paused)",
	    "kept: already deleting",
	    "expired: ttl",
	    "kept: failed, ttl not reached",
	    "expired: ttl",
	    "kept: last 1",
	};

	(void)state;
	assert_int_equal(stow_retention_decide(b, n, NULL, NULL, NULL, now, d),
			 0);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(d[i].reason, ttl_only[i]);
		assert_int_equal(d[i].expire,
				 strncmp(ttl_only[i], "expired", 7) == 0);
	}
	/* last=1: "newest" fills the one slot and "old" (still within no
	 * slot) expires even though the TTL alone would also expire it;
	 * running, failed and other schedules' backups never fill slots. */
	assert_int_equal(stow_retention_policy_parse(&p, "last=1"), 0);
	assert_int_equal(
	    stow_retention_decide(b, n, &p, "nightly", NULL, now, d), 0);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(d[i].reason, with_policy[i]);
		assert_int_equal(d[i].expire,
				 strncmp(with_policy[i], "expired", 7) == 0);
	}
	/* A policy keeps what it covers past its TTL. */
	b[0].expiration = now - 1;
	assert_int_equal(stow_retention_policy_parse(&p, "last=2"), 0);
	assert_int_equal(
	    stow_retention_decide(b, n, &p, "nightly", NULL, now, d), 0);
	assert_false(d[0].expire);
	assert_string_equal(d[0].reason, "kept: last 2");

	assert_int_equal(
	    stow_retention_decide(b, 0, NULL, NULL, NULL, now, NULL), 0);
	assert_int_equal(stow_retention_decide(b, n, &p, NULL, NULL, now, d),
			 STOW_EINVAL);
}

static void expect_policy_error(const char *s, const char *msg)
{
	stow_retention_policy p;

	if (stow_retention_policy_parse(&p, s) != STOW_EINVAL)
		fail_msg("\"%s\" parsed", s);
	if (!strstr(stow_err_msg(), msg))
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", s, stow_err_msg(), msg);
}

static void test_policy_parse(void **state)
{
	stow_retention_policy p;
	char text[128];

	(void)state;
	assert_int_equal(stow_retention_policy_parse(
			     &p, "hourly=24,daily=7,weekly=4,monthly=12,"
				 "yearly=3,last=5"),
			 0);
	assert_int_equal(p.hourly, 24);
	assert_int_equal(p.daily, 7);
	assert_int_equal(p.weekly, 4);
	assert_int_equal(p.monthly, 12);
	assert_int_equal(p.yearly, 3);
	assert_int_equal(p.last, 5);
	assert_int_equal(stow_retention_policy_format(&p, text, sizeof(text)),
			 0);
	assert_string_equal(text, "last=5,hourly=24,daily=7,weekly=4,"
				  "monthly=12,yearly=3");
	assert_int_equal(
	    stow_retention_policy_parse(&p, "  daily = 7 , weekly=0 "), 0);
	assert_int_equal(p.daily, 7);
	assert_int_equal(p.weekly, 0);
	assert_int_equal(stow_retention_policy_format(&p, text, sizeof(text)),
			 0);
	assert_string_equal(text, "daily=7");
	assert_int_equal(stow_retention_policy_format(&p, text, 4),
			 STOW_ENOMEM);

	expect_policy_error("", "empty policy");
	expect_policy_error("   ", "empty policy");
	expect_policy_error("dayly=7", "unknown rule \"dayly\"");
	expect_policy_error("daily=7,daily=3", "daily given twice");
	expect_policy_error("daily=x", "daily: \"x\" is not a count");
	expect_policy_error("daily=", "daily: \"\" is not a count");
	expect_policy_error("daily=-2", "daily: \"-2\" is not a count");
	expect_policy_error("daily=1000001", "is not a count");
	expect_policy_error("daily=99999999999999999999", "is not a count");
	expect_policy_error("daily", "daily: missing \"=<count>\"");
	expect_policy_error("daily=7,", "empty rule");
	expect_policy_error(",daily=7", "empty rule");
	expect_policy_error("daily=7 weekly=4", "expected \",\" after daily");
	expect_policy_error("daily=0,last=0", "keeps nothing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gfs_year_utc),
	    cmocka_unit_test(test_gfs_year_berlin),
	    cmocka_unit_test(test_unlimited_and_order),
	    cmocka_unit_test(test_ttl_and_safety),
	    cmocka_unit_test(test_policy_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
