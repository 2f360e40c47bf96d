/* The pure helpers of velero/bsl.h: metav1.Time formatting and parsing,
 * provider names and access modes as Velero spells them. The store
 * opening and the controllers run against kubesim and s3rver in
 * tests/integration/test_server_bsl.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/err.h"
#include "velero/bsl.h"

static void test_time(void **state)
{
	char s[32];
	time_t t = 0;

	(void)state;
	stow_velero_time_format(1795627800, s);
	assert_string_equal(s, "2026-11-25T17:30:00Z");
	assert_int_equal(stow_velero_time_parse("2026-11-25T17:30:00Z", &t), 0);
	assert_int_equal(t, 1795627800);
	/* Fractions (metav1.MicroTime) and offsets. */
	assert_int_equal(
	    stow_velero_time_parse("2026-11-25T17:30:00.123456Z", &t), 0);
	assert_int_equal(t, 1795627800);
	assert_int_equal(
	    stow_velero_time_parse("2026-11-25T19:30:00+02:00", &t), 0);
	assert_int_equal(t, 1795627800);
	assert_int_equal(
	    stow_velero_time_parse("2026-11-25T12:00:00-05:30", &t), 0);
	assert_int_equal(t, 1795627800);
	/* Garbage is refused, never half-read. */
	assert_int_equal(stow_velero_time_parse("2026-11-25", &t), STOW_EINVAL);
	assert_int_equal(stow_velero_time_parse("2026-11-25T17:30:00Zjunk", &t),
			 STOW_EINVAL);
	assert_int_equal(
	    stow_velero_time_parse("2026-11-25T17:30:00+0a:00", &t),
	    STOW_EINVAL);
	assert_int_equal(stow_velero_time_parse("", &t), STOW_EINVAL);
	assert_int_equal(stow_velero_time_parse(NULL, &t), STOW_EINVAL);
}

static json_t *bsl(const char *spec)
{
	json_error_t e;
	json_t *j = json_loads(spec, 0, &e);

	assert_non_null(j);
	return j;
}

static void test_provider_and_modes(void **state)
{
	static const struct {
		const char *json;
		stow_velero_provider p;
		int writable, available;
	} cases[] = {
	    {"{\"spec\":{\"provider\":\"aws\"}}", STOW_VELERO_PROVIDER_AWS, 1,
	     0},
	    {"{\"spec\":{\"provider\":\"velero.io/aws\",\"accessMode\":"
	     "\"ReadOnly\"},\"status\":{\"phase\":\"Available\"}}",
	     STOW_VELERO_PROVIDER_AWS, 0, 1},
	    {"{\"spec\":{\"provider\":\"filesystem\",\"accessMode\":"
	     "\"ReadWrite\"},\"status\":{\"phase\":\"Unavailable\"}}",
	     STOW_VELERO_PROVIDER_FS, 1, 0},
	    {"{\"spec\":{\"provider\":\"stowage.io/filesystem\"}}",
	     STOW_VELERO_PROVIDER_FS, 1, 0},
	    {"{\"spec\":{\"provider\":\"gcp\"}}", STOW_VELERO_PROVIDER_UNKNOWN,
	     1, 0},
	    {"{\"spec\":{\"provider\":7}}", STOW_VELERO_PROVIDER_UNKNOWN, 1, 0},
	    {"{}", STOW_VELERO_PROVIDER_UNKNOWN, 1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *b = bsl(cases[i].json);

		assert_int_equal(stow_velero_bsl_provider(b), cases[i].p);
		assert_int_equal(stow_velero_location_writable(b),
				 cases[i].writable);
		assert_int_equal(stow_velero_location_available(b),
				 cases[i].available);
		json_decref(b);
	}
	assert_int_equal(stow_velero_bsl_provider(NULL),
			 STOW_VELERO_PROVIDER_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_provider_and_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
