/* Fuzz target for schedules, zones and durations (src/util/cron.c,
 * src/util/duration.c). The first byte picks the parser:
 *   'c' cron expression (rest of the input, as text), evaluated in UTC;
 *   'z' TZif file bytes; if they load, a few schedules run in that zone;
 *   'p' POSIX TZ rule text;
 *   'd' Go duration text;
 *   'r' a stowage.io/retention policy (src/velero/retention.c).
 * Any input must return cleanly. Properties checked: an activation is
 * strictly after the instant asked about and, for wall-clock schedules, is
 * the first one (asking again from just before it gives it back); wall times
 * round-trip through the civil conversion; durations and retention policies
 * print in a form that parses back to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cron.h"
#include "util/duration.h"
#include "velero/retention.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static char *text(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	check(s != NULL);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void run_schedule(const stow_cron *c, int64_t after)
{
	for (int i = 0; i < 4; i++) {
		int64_t n, again;

		if (stow_cron_next(c, after, &n) != 0)
			return;
		check(n > after);
		/* @every counts from the instant given, so only wall-clock
		 * schedules have a first activation to find again. */
		if (stow_cron_every(c) == 0)
			check(stow_cron_next(c, n - 1, &again) == 0 &&
			      again == n);
		else
			check(n == after + stow_cron_every(c));
		after = n;
	}
}

static void check_zone(const stow_tz *tz)
{
	static const int64_t probes[] = {
	    -2208988800, 0,	     1000000000, 1774745400,
	    1793500000,	 2208988800, 4102444800,
	};

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		stow_civil c;
		int64_t t = probes[i];

		stow_tz_civil(tz, t, &c);
		check(c.month >= 1 && c.month <= 12 && c.day >= 1 &&
		      c.day <= 31 && c.hour >= 0 && c.hour < 24 &&
		      c.minute >= 0 && c.minute < 60 && c.wday >= 0 &&
		      c.wday < 7);
		check(stow_days_from_civil(c.year, c.month, c.day) * 86400 +
			  c.hour * 3600 + c.minute * 60 + c.second ==
		      t + c.utc_offset);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const schedules[] = {
	    "30 2 * * *", "0 * * * *", "*/7 1-3 * * SUN",
	    "0 0 1 * *",  "@every 1h",
	};
	stow_cron *c = NULL;
	stow_tz *tz = NULL;
	char *s;

	if (size < 1 || size > 64 * 1024)
		return 0;
	switch (data[0]) {
	case 'c':
		s = text(data + 1, size - 1);
		if (stow_cron_parse_in(&c, s, stow_tz_utc()) == 0) {
			run_schedule(c, 1774745400); /* 2026-03-29 */
			run_schedule(c, -1);
			stow_cron_free(c);
		}
		free(s);
		break;
	case 'z':
		if (stow_tz_parse_tzif(&tz, "fuzz", data + 1, size - 1) != 0)
			break;
		check_zone(tz);
		for (size_t i = 0; i < sizeof(schedules) / sizeof(*schedules);
		     i++) {
			check(stow_cron_parse_in(&c, schedules[i], tz) == 0);
			run_schedule(c, 1774745400);
			stow_cron_free(c);
		}
		stow_tz_free(tz);
		break;
	case 'p':
		s = text(data + 1, size - 1);
		if (stow_tz_parse_posix(&tz, s) == 0) {
			check_zone(tz);
			check(stow_cron_parse_in(&c, "30 2 * * *", tz) == 0);
			run_schedule(c, 1774745400);
			stow_cron_free(c);
			stow_tz_free(tz);
		}
		free(s);
		break;
	case 'd': {
		int64_t ns, back;
		char out[STOW_DURATION_STR_MAX];

		s = text(data + 1, size - 1);
		if (stow_duration_parse(s, &ns) == 0) {
			stow_duration_format(ns, out);
			check(stow_duration_parse(out, &back) == 0 &&
			      back == ns);
		}
		free(s);
		break;
	}
	case 'r': {
		stow_retention_policy p, q;
		char out[128];

		s = text(data + 1, size - 1);
		if (stow_retention_policy_parse(&p, s) == 0) {
			check(stow_retention_policy_format(&p, out,
							   sizeof(out)) == 0);
			check(stow_retention_policy_parse(&q, out) == 0);
			check(memcmp(&p, &q, sizeof(p)) == 0);
		}
		free(s);
		break;
	}
	default: break;
	}
	return 0;
}
