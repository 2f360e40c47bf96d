/* The pure parts of the Schedule/GC/deletion controllers
 * (src/velero/schedule_ctl.h): scheduled backup names, when a schedule is
 * due (creation time, lastBackup, lastSkipped, missed activations
 * collapsing into the latest one), and Velero's label values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/cron.h"
#include "util/err.h"
#include "velero/schedule_ctl.h"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	return stow_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static stow_cron *parse(const char *expr)
{
	stow_cron *c = NULL;

	assert_int_equal(stow_cron_parse(&c, expr), 0);
	return c;
}

static void test_backup_name(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(
	    stow_velero_schedule_backup_name(out, sizeof(out), "nightly",
					     utc(2026, 11, 25, 17, 30, 5)),
	    0);
	assert_string_equal(out, "nightly-20261125173005");
	assert_int_equal(
	    stow_velero_schedule_backup_name(out, sizeof(out), "s", 0), 0);
	assert_string_equal(out, "s-19700101000000");
	/* Exactly fits: "nightly-" + 14 digits + NUL = 23 bytes. */
	assert_int_equal(stow_velero_schedule_backup_name(
			     out, 23, "nightly", utc(2026, 1, 2, 3, 4, 5)),
			 0);
	assert_string_equal(out, "nightly-20260102030405");
	assert_int_equal(stow_velero_schedule_backup_name(
			     out, 22, "nightly", utc(2026, 1, 2, 3, 4, 5)),
			 STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "too long"));
}

static void test_due_every(void **state)
{
	stow_cron *c = parse("@every 5s");
	int64_t due = -1, next = -1;

	(void)state;
	/* New schedule: base is the creation time, nothing fires at once. */
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, 1000, 0, 1000, &due, &next), 0);
	assert_int_equal(next, 1005);
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, 1000, 0, 1004, &due, &next), 0);
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, 1000, 0, 1005, &due, &next), 1);
	assert_int_equal(due, 1005);
	assert_int_equal(next, 1010);
	/* Late by a fraction of the period: the same activation. */
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, 1000, 0, 1009, &due, &next), 1);
	assert_int_equal(due, 1005);
	/* Missed activations collapse into the latest. */
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, 1000, 0, 1023, &due, &next), 1);
	assert_int_equal(due, 1020);
	assert_int_equal(next, 1025);
	/* lastBackup wins over the creation time. */
	assert_int_equal(
	    stow_velero_schedule_due(c, 1020, 1000, 0, 1024, &due, &next), 0);
	assert_int_equal(next, 1025);
	/* lastSkipped later than lastBackup moves the base. */
	assert_int_equal(
	    stow_velero_schedule_due(c, 1020, 1000, 1022, 1025, &due, &next),
	    0);
	assert_int_equal(next, 1027);
	/* ... an earlier one does not. */
	assert_int_equal(
	    stow_velero_schedule_due(c, 1020, 1000, 1010, 1025, &due, &next),
	    1);
	assert_int_equal(due, 1025);
	stow_cron_free(c);
}

static void test_due_cron(void **state)
{
	stow_cron *c = parse("CRON_TZ=UTC 0 * * * *");
	int64_t due = -1, next = -1;

	(void)state;
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, utc(2026, 3, 1, 10, 30, 0), 0,
				     utc(2026, 3, 1, 10, 59, 59), &due, &next),
	    0);
	assert_int_equal(next, utc(2026, 3, 1, 11, 0, 0));
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, utc(2026, 3, 1, 10, 30, 0), 0,
				     utc(2026, 3, 1, 11, 0, 0), &due, &next),
	    1);
	assert_int_equal(due, utc(2026, 3, 1, 11, 0, 0));
	assert_int_equal(next, utc(2026, 3, 1, 12, 0, 0));
	/* Forty days down: one backup, for the latest hour. */
	assert_int_equal(
	    stow_velero_schedule_due(c, utc(2026, 3, 1, 11, 0, 0), 0, 0,
				     utc(2026, 4, 10, 15, 30, 0), &due, &next),
	    1);
	assert_int_equal(due, utc(2026, 4, 10, 15, 0, 0));
	assert_int_equal(next, utc(2026, 4, 10, 16, 0, 0));
	stow_cron_free(c);

	c = parse("CRON_TZ=UTC 0 0 1 * *");
	assert_int_equal(
	    stow_velero_schedule_due(c, utc(2026, 1, 1, 0, 0, 0), 0, 0,
				     utc(2026, 11, 25, 17, 0, 0), &due, &next),
	    1);
	assert_int_equal(due, utc(2026, 11, 1, 0, 0, 0));
	assert_int_equal(next, utc(2026, 12, 1, 0, 0, 0));
	stow_cron_free(c);

	/* Every minute, three years down: the walk is short, the answer
	 * the latest minute. */
	c = parse("CRON_TZ=UTC * * * * *");
	{
		clock_t t0 = clock();

		assert_int_equal(stow_velero_schedule_due(
				     c, utc(2023, 6, 1, 0, 0, 0), 0, 0,
				     utc(2026, 6, 1, 12, 34, 56), &due, &next),
				 1);
		assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	}
	assert_int_equal(due, utc(2026, 6, 1, 12, 34, 0));
	assert_int_equal(next, utc(2026, 6, 1, 12, 35, 0));
	stow_cron_free(c);

	/* A schedule that fires every minute of Feb 29 only, last fired in
	 * 2024, looked at in 2028 before and on the day. */
	c = parse("CRON_TZ=UTC * * 29 2 *");
	assert_int_equal(
	    stow_velero_schedule_due(c, utc(2024, 2, 29, 23, 59, 0), 0, 0,
				     utc(2028, 2, 28, 12, 0, 0), &due, &next),
	    0);
	assert_int_equal(next, utc(2028, 2, 29, 0, 0, 0));
	assert_int_equal(
	    stow_velero_schedule_due(c, utc(2024, 2, 29, 23, 59, 0), 0, 0,
				     utc(2028, 2, 29, 7, 7, 7), &due, &next),
	    1);
	assert_int_equal(due, utc(2028, 2, 29, 7, 7, 0));
	stow_cron_free(c);

	c = parse("0 0 30 2 *");
	assert_int_equal(
	    stow_velero_schedule_due(c, 0, 1000, 0, 5000, &due, &next),
	    STOW_ENOTFOUND);
	stow_cron_free(c);
}

static void test_label_value(void **state)
{
	char out[64], v[80];

	(void)state;
	stow_velero_label_value("nightly", out);
	assert_string_equal(out, "nightly");
	memset(v, 'b', 63);
	v[63] = '\0';
	stow_velero_label_value(v, out);
	assert_string_equal(out, v);
	/* 60 'a' + "-schedule-x": 57 characters and sha256[:6], computed
	 * with Python's hashlib as Velero's GetValidName would. */
	memset(v, 'a', 60);
	memcpy(v + 60, "-schedule-x", sizeof("-schedule-x"));
	stow_velero_label_value(v, out);
	assert_string_equal(
	    out,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6274f6");
	assert_int_equal(strlen(out), 63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backup_name),
	    cmocka_unit_test(test_due_every),
	    cmocka_unit_test(test_due_cron),
	    cmocka_unit_test(test_label_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
