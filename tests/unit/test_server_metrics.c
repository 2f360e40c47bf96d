/* Velero's server metrics (src/velero/server_metrics.h): what each call a
 * controller makes does to the exposition -- phases to counters, the last
 * status and timestamp, gauges left alone for unknown values, duration
 * buckets, deletions, restores, locations, object totals, schedules
 * initialised and forgotten -- and the start's address handling.
 *
 * Link seam: this file defines the four server.c functions that
 * server_metrics.c calls (on a small fake server), so the static library's
 * server.o -- leader election, informers -- is never linked in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/err.h"
#include "velero/server_metrics.h"

struct stow_velero_server {
	stow_velero_server_opts o;
	stow_velero_metrics *vm;
	size_t nbackups, nrestores;
	char last_log[512];
	int last_level;
};

stow_metrics *stow_velero_server_metrics(stow_velero_server *srv)
{
	return stow_velero_metrics_registry(srv->vm);
}

const stow_velero_server_opts *
stow_velero_server_opts_of(stow_velero_server *srv)
{
	return &srv->o;
}

void stow_velero_log(stow_velero_server *srv, int level, const char *controller,
		     const char *msg, ...)
{
	const char *k;
	size_t n;
	va_list ap;

	(void)controller;
	srv->last_level = level;
	n = (size_t)snprintf(srv->last_log, sizeof(srv->last_log), "%s", msg);
	va_start(ap, msg);
	while (n < sizeof(srv->last_log) && (k = va_arg(ap, const char *)))
		n += (size_t)snprintf(srv->last_log + n,
				      sizeof(srv->last_log) - n, " %s=%s", k,
				      va_arg(ap, const char *));
	va_end(ap);
}

json_t *stow_velero_server_list(stow_velero_server *srv, const char *plural)
{
	size_t n = !strcmp(plural, "backups")	 ? srv->nbackups
		   : !strcmp(plural, "restores") ? srv->nrestores
						 : 0;
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_object());
	return a;
}

/* restores velero/from-hourly exists, from schedule "hourly". */
json_t *stow_velero_server_get(stow_velero_server *srv, const char *plural,
			       const char *ns, const char *name)
{
	(void)srv;
	if (strcmp(plural, "restores") || !ns || strcmp(ns, "velero") ||
	    strcmp(name, "from-hourly"))
		return NULL;
	return json_pack("{s:{s:s}}", "spec", "scheduleName", "hourly");
}

static stow_velero_server *fake_start(const char *address)
{
	stow_velero_server *srv = calloc(1, sizeof(*srv));

	assert_non_null(srv);
	memset(&srv->o, 0, sizeof(srv->o)); /* not opts_init: server.c */
	srv->o.metrics_address = address;
	if (stow_velero_metrics_start(&srv->vm, srv) != 0)
		fail_msg("start: %s", stow_err_msg());
	return srv;
}

static void fake_stop(stow_velero_server *srv)
{
	stow_velero_metrics_stop(srv->vm);
	free(srv);
}

static char *text(stow_velero_server *srv)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_metrics_render(stow_velero_server_metrics(srv), &b), 0);
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	return (char *)stow_buf_steal(&b, NULL);
}

/* The sample line of `series` ("name{...}"), value as text; NULL if
 * absent. Static buffer. */
static const char *sample(const char *body, const char *series)
{
	static char v[64];
	size_t n = strlen(series);
	const char *p = body;

	while ((p = strstr(p, series))) {
		if ((p == body || p[-1] == '\n') && p[n] == ' ') {
			size_t l = strcspn(p + n + 1, "\n");

			snprintf(v, sizeof(v), "%.*s", (int)l, p + n + 1);
			return v;
		}
		p += n;
	}
	return NULL;
}

static void expect_sample(const char *body, const char *series,
			  const char *want)
{
	const char *got = sample(body, series);

	if (!want && got)
		fail_msg("%s: want no sample, got %s", series, got);
	if (want && (!got || strcmp(got, want) != 0))
		fail_msg("%s: want %s, got %s", series, want,
			 got ? got : "(none)");
}

static void test_backups(void **state)
{
	stow_velero_server *srv = fake_start("");
	time_t before = time(NULL);
	char *t;
	const char *ts;

	(void)state;
	assert_string_equal(srv->last_log,
			    "metrics endpoint disabled (--metrics-address is "
			    "empty)");
	assert_string_equal(stow_velero_metrics_bound(srv->vm), "");
	stow_velero_metrics_schedule_init(srv, "nightly");
	stow_velero_metrics_backup_attempt(srv, "nightly");
	stow_velero_metrics_backup_done(srv, "nightly", "Completed", 75, 10, 0,
					0, 4096);
	stow_velero_metrics_backup_attempt(srv, "nightly");
	stow_velero_metrics_backup_done(srv, "nightly", "PartiallyFailed", 30,
					12, 2, 3, -1);
	stow_velero_metrics_backup_attempt(srv, NULL);
	stow_velero_metrics_backup_done(srv, NULL, "Failed", -1, -1, -1, 0, -1);
	stow_velero_metrics_backup_done(srv, "", "FailedValidation", 1, 1, 1, 1,
					1);
	t = text(srv);
	expect_sample(t, "velero_backup_attempt_total{schedule=\"nightly\"}",
		      "2");
	expect_sample(t, "velero_backup_success_total{schedule=\"nightly\"}",
		      "1");
	expect_sample(
	    t, "velero_backup_partial_failure_total{schedule=\"nightly\"}",
	    "1");
	expect_sample(t, "velero_backup_failure_total{schedule=\"nightly\"}",
		      "0"); /* initialised by schedule_init */
	expect_sample(t, "velero_backup_last_status{schedule=\"nightly\"}",
		      "0");
	expect_sample(t, "velero_backup_items_total{schedule=\"nightly\"}",
		      "12");
	expect_sample(t, "velero_backup_items_errors{schedule=\"nightly\"}",
		      "2");
	expect_sample(t, "velero_backup_warning_total{schedule=\"nightly\"}",
		      "1");
	/* -1: unknown, the last known size stays. */
	expect_sample(t,
		      "velero_backup_tarball_size_bytes{schedule=\"nightly\"}",
		      "4096");
	ts = sample(t, "velero_backup_last_successful_timestamp{schedule="
		       "\"nightly\"}");
	assert_non_null(ts);
	assert_true(strtoll(ts, NULL, 10) >= before &&
		    strtoll(ts, NULL, 10) <= time(NULL));
	/* 75 s and 30 s: one each side of 60. */
	expect_sample(t,
		      "velero_backup_duration_seconds_bucket{schedule="
		      "\"nightly\",le=\"60\"}",
		      "1");
	expect_sample(t,
		      "velero_backup_duration_seconds_bucket{schedule="
		      "\"nightly\",le=\"300\"}",
		      "2");
	expect_sample(t,
		      "velero_backup_duration_seconds_bucket{schedule="
		      "\"nightly\",le=\"14400\"}",
		      "2");
	expect_sample(
	    t, "velero_backup_duration_seconds_sum{schedule=\"nightly\"}",
	    "105");
	/* Manual backups: schedule "". A failed one with nothing known
	 * touches no gauge and no histogram. */
	expect_sample(t, "velero_backup_attempt_total{schedule=\"\"}", "1");
	expect_sample(t, "velero_backup_failure_total{schedule=\"\"}", "1");
	expect_sample(
	    t, "velero_backup_validation_failure_total{schedule=\"\"}", "1");
	expect_sample(t, "velero_backup_last_status{schedule=\"\"}", "0");
	expect_sample(t, "velero_backup_items_total{schedule=\"\"}", NULL);
	expect_sample(t, "velero_backup_duration_seconds_count{schedule=\"\"}",
		      NULL);
	expect_sample(
	    t, "velero_backup_last_successful_timestamp{schedule=\"\"}", NULL);
	free(t);

	stow_velero_metrics_backup_validation_failed(srv, "nightly");
	stow_velero_metrics_backup_done(srv, "nightly", "Completed", 10, 1, 0,
					0, 0);
	t = text(srv);
	expect_sample(
	    t, "velero_backup_validation_failure_total{schedule=\"nightly\"}",
	    "1");
	expect_sample(t, "velero_backup_last_status{schedule=\"nightly\"}",
		      "1");
	expect_sample(
	    t, "velero_backup_tarball_size_bytes{schedule=\"nightly\"}", "0");
	expect_sample(t, "velero_backup_warning_total{schedule=\"nightly\"}",
		      "1");
	free(t);

	/* A deleted schedule leaves the exposition; manual ones stay. */
	stow_velero_metrics_schedule_forget(srv, "nightly");
	stow_velero_metrics_schedule_forget(srv, "");
	t = text(srv);
	assert_null(strstr(t, "nightly"));
	expect_sample(t, "velero_backup_attempt_total{schedule=\"\"}", "1");
	free(t);
	fake_stop(srv);
}

static void test_restores_deletions_locations(void **state)
{
	stow_velero_server *srv = fake_start("");
	char *t;

	(void)state;
	stow_velero_metrics_restore_attempt(srv, "");
	stow_velero_metrics_restore_done(srv, "", "Completed");
	stow_velero_metrics_restore_attempt(srv, "daily");
	stow_velero_metrics_restore_done(srv, "daily", "PartiallyFailed");
	stow_velero_metrics_restore_attempt(srv, "daily");
	stow_velero_metrics_restore_done(srv, "daily", "Failed");
	/* counts as an attempt too */
	stow_velero_metrics_restore_validation_failed(srv, "daily");
	stow_velero_metrics_deletion_attempt(srv, "daily");
	stow_velero_metrics_deletion_done(srv, "daily", true);
	stow_velero_metrics_deletion_attempt(srv, "daily");
	stow_velero_metrics_deletion_done(srv, "daily", false);
	stow_velero_metrics_location_status(srv, "default", true);
	stow_velero_metrics_location_status(srv, "offsite", false);
	stow_velero_metrics_location_status(srv, "gone", true);
	stow_velero_metrics_location_forget(srv, "gone");
	stow_velero_metrics_schedule_interval(srv, "daily", 86400);
	srv->nbackups = 3;
	srv->nrestores = 1;
	stow_velero_metrics_count_objects(srv);
	t = text(srv);
	expect_sample(t, "velero_restore_attempt_total{schedule=\"\"}", "1");
	expect_sample(t, "velero_restore_success_total{schedule=\"\"}", "1");
	expect_sample(t, "velero_restore_attempt_total{schedule=\"daily\"}",
		      "3");
	expect_sample(
	    t, "velero_restore_partial_failure_total{schedule=\"daily\"}", "1");
	expect_sample(t, "velero_restore_failed_total{schedule=\"daily\"}",
		      "1");
	expect_sample(
	    t, "velero_restore_validation_failed_total{schedule=\"daily\"}",
	    "1");
	expect_sample(
	    t, "velero_backup_deletion_attempt_total{schedule=\"daily\"}", "2");
	expect_sample(
	    t, "velero_backup_deletion_success_total{schedule=\"daily\"}", "1");
	expect_sample(
	    t, "velero_backup_deletion_failure_total{schedule=\"daily\"}", "1");
	expect_sample(t,
		      "velero_backup_location_status_gauge{backup_location_"
		      "name=\"default\"}",
		      "1");
	expect_sample(t,
		      "velero_backup_location_status_gauge{backup_location_"
		      "name=\"offsite\"}",
		      "0");
	expect_sample(t,
		      "velero_backup_location_status_gauge{backup_location_"
		      "name=\"gone\"}",
		      NULL);
	expect_sample(
	    t, "velero_schedule_expected_interval_seconds{schedule=\"daily\"}",
	    "86400");
	expect_sample(t, "velero_backup_total", "3");
	expect_sample(t, "velero_restore_total", "1");
	free(t);
	/* NULL server: nothing happens, nothing crashes. */
	stow_velero_metrics_backup_attempt(NULL, "x");
	stow_velero_metrics_backup_done(NULL, "x", "Completed", 1, 1, 1, 1, 1);
	stow_velero_metrics_count_objects(NULL);
	fake_stop(srv);
}

/* The object forms read what the controllers write. */
static void test_from_objects(void **state)
{
	stow_velero_server *srv = fake_start("");
	json_t *b = json_pack(
	    "{s:{s:{s:s}},s:{s:s,s:s,s:s,s:i,s:i,s:{s:i,s:i}}}", "metadata",
	    "labels", "velero.io/schedule-name", "hourly", "status", "phase",
	    "PartiallyFailed", "startTimestamp", "2026-11-25T10:00:00Z",
	    "completionTimestamp", "2026-11-25T10:07:30Z", "errors", 2,
	    "warnings", 1, "progress", "totalItems", 40, "itemsBackedUp", 38);
	json_t *odd = json_pack("{s:{s:s,s:s}}", "status", "phase", "Completed",
				"startTimestamp", "yesterday");
	json_t *r = json_pack("{s:{s:s},s:{s:s}}", "spec", "scheduleName",
			      "hourly", "status", "phase", "Failed");
	char *t;

	(void)state;
	stow_velero_metrics_backup_finished(srv, b, 1234567);
	stow_velero_metrics_backup_finished(srv, odd, -1);
	stow_velero_metrics_restore_finished(srv, r);
	stow_velero_metrics_restore_ended(srv, "velero", "from-hourly",
					  "Completed");
	stow_velero_metrics_restore_ended(srv, "velero", "gone", "Completed");
	stow_velero_metrics_restore_ended(srv, NULL, NULL, "Completed");
	stow_velero_metrics_backup_finished(srv, NULL, -1);
	stow_velero_metrics_restore_finished(srv, NULL);
	t = text(srv);
	expect_sample(
	    t, "velero_backup_partial_failure_total{schedule=\"hourly\"}", "1");
	expect_sample(t,
		      "velero_backup_duration_seconds_sum{schedule=\"hourly\"}",
		      "450");
	expect_sample(t,
		      "velero_backup_duration_seconds_bucket{schedule="
		      "\"hourly\",le=\"600\"}",
		      "1");
	expect_sample(t,
		      "velero_backup_duration_seconds_bucket{schedule="
		      "\"hourly\",le=\"300\"}",
		      "0");
	expect_sample(t, "velero_backup_items_total{schedule=\"hourly\"}",
		      "40");
	expect_sample(t, "velero_backup_items_errors{schedule=\"hourly\"}",
		      "2");
	expect_sample(t, "velero_backup_warning_total{schedule=\"hourly\"}",
		      "1");
	expect_sample(t,
		      "velero_backup_tarball_size_bytes{schedule=\"hourly\"}",
		      "1234567");
	/* Unparsable times: counted, no duration. */
	expect_sample(t, "velero_backup_success_total{schedule=\"\"}", "1");
	expect_sample(t, "velero_backup_duration_seconds_count{schedule=\"\"}",
		      NULL);
	expect_sample(t, "velero_backup_items_total{schedule=\"\"}", NULL);
	expect_sample(t, "velero_restore_failed_total{schedule=\"hourly\"}",
		      "1");
	expect_sample(t, "velero_restore_success_total{schedule=\"hourly\"}",
		      "1");
	expect_sample(t, "velero_restore_success_total{schedule=\"\"}", "2");
	free(t);
	json_decref(b);
	json_decref(odd);
	json_decref(r);
	fake_stop(srv);
}

static void test_schedule_seen(void **state)
{
	stow_velero_server *srv = fake_start("");
	stow_cron *hourly = NULL, *daily = NULL;
	char *t;

	(void)state;
	assert_int_equal(stow_cron_parse(&hourly, "@every 1h"), 0);
	assert_int_equal(stow_cron_parse(&daily, "CRON_TZ=UTC 0 3 * * *"), 0);
	stow_velero_metrics_schedule_seen(srv, "hourly", hourly);
	stow_velero_metrics_schedule_seen(srv, "daily", daily);
	stow_velero_metrics_schedule_seen(srv, "broken", NULL);
	t = text(srv);
	expect_sample(
	    t, "velero_schedule_expected_interval_seconds{schedule=\"hourly\"}",
	    "3600");
	expect_sample(
	    t, "velero_schedule_expected_interval_seconds{schedule=\"daily\"}",
	    "86400");
	expect_sample(
	    t, "velero_schedule_expected_interval_seconds{schedule=\"broken\"}",
	    NULL);
	expect_sample(t, "velero_backup_failure_total{schedule=\"broken\"}",
		      "0");
	expect_sample(t, "velero_restore_attempt_total{schedule=\"daily\"}",
		      "0");
	free(t);
	stow_cron_free(hourly);
	stow_cron_free(daily);
	fake_stop(srv);
}

static void test_schedule_helpers(void **state)
{
	json_t *b = json_pack("{s:{s:{s:s}}}", "metadata", "labels",
			      "velero.io/schedule-name", "nightly");
	json_t *r = json_pack("{s:{s:s}}", "spec", "scheduleName", "daily");
	json_t *none = json_object();

	(void)state;
	assert_string_equal(stow_velero_metrics_backup_schedule(b), "nightly");
	assert_string_equal(stow_velero_metrics_backup_schedule(none), "");
	assert_string_equal(stow_velero_metrics_backup_schedule(NULL), "");
	assert_string_equal(stow_velero_metrics_restore_schedule(r), "daily");
	assert_string_equal(stow_velero_metrics_restore_schedule(none), "");
	json_decref(b);
	json_decref(r);
	json_decref(none);
}

static void test_start_addresses(void **state)
{
	stow_velero_server *srv = calloc(1, sizeof(*srv)), *busy;
	char addr[64];

	(void)state;
	assert_non_null(srv);
	memset(&srv->o, 0, sizeof(srv->o)); /* not opts_init: server.c */
	/* Does not parse: the server must not start. */
	srv->o.metrics_address = "8085";
	assert_int_equal(stow_velero_metrics_start(&srv->vm, srv), STOW_EINVAL);
	assert_null(srv->vm);
	assert_non_null(strstr(stow_err_msg(), "metrics address '8085'"));
	/* Serves; a second one on the same port warns and goes on. */
	srv->o.metrics_address = "127.0.0.1:0";
	assert_int_equal(stow_velero_metrics_start(&srv->vm, srv), 0);
	assert_non_null(strstr(srv->last_log, "serving metrics address="));
	assert_true(
	    strncmp(stow_velero_metrics_bound(srv->vm), "127.0.0.1:", 10) == 0);
	snprintf(addr, sizeof(addr), "%s", stow_velero_metrics_bound(srv->vm));
	busy = fake_start(addr);
	assert_int_equal(busy->last_level, STOW_VLOG_WARN);
	assert_non_null(strstr(busy->last_log, "metrics endpoint not started"));
	assert_non_null(strstr(busy->last_log, addr));
	assert_string_equal(stow_velero_metrics_bound(busy->vm), "");
	/* ... and still counts. */
	stow_velero_metrics_backup_attempt(busy, "");
	fake_stop(busy);
	fake_stop(srv);
	stow_velero_metrics_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backups),
	    cmocka_unit_test(test_restores_deletions_locations),
	    cmocka_unit_test(test_from_objects),
	    cmocka_unit_test(test_schedule_seen),
	    cmocka_unit_test(test_schedule_helpers),
	    cmocka_unit_test(test_start_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
