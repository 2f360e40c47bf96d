/* The Velero CLI's parsers and printers (src/cli/cmd_velero.h): label
 * selectors as metav1.ParseToLabelSelector builds them and printed back
 * as labels.Selector.String(), --or-selector, key=value maps, optional
 * booleans, Go durations, RFC 3339 times, Velero's time-from-now, the
 * YAML printer's quoting (what would read back as another type), multi-
 * member gunzip and its errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "cli/cmd_velero.h"
#include "util/err.h"

static stow_cli *test_cli(void)
{
	static stow_cli cli;

	memset(&cli, 0, sizeof(cli));
	cli.prog = "velero";
	snprintf(cli.path, sizeof(cli.path), "velero test");
	return &cli;
}

/* Compact JSON with sorted keys, for exact comparisons. */
static char *canon(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

static void expect_selector(const char *in, const char *want_json,
			    const char *want_string)
{
	json_t *sel = NULL;
	stow_buf b;
	char *got;

	assert_int_equal(
	    stow_vcli_parse_selector(test_cli(), "--selector", in, &sel), 0);
	got = canon(sel);
	assert_string_equal(got, want_json);
	free(got);
	stow_buf_init(&b, 0);
	stow_vcli_format_selector(&b, sel);
	stow_buf_append_u8(&b, 0);
	assert_string_equal((const char *)b.data, want_string);
	stow_buf_free(&b);
	json_decref(sel);
}

static void test_selectors(void **state)
{
	json_t *sel = NULL;

	(void)state;
	expect_selector("app=web", "{\"matchLabels\":{\"app\":\"web\"}}",
			"app=web");
	expect_selector("app==web, tier = db",
			"{\"matchLabels\":{\"app\":\"web\",\"tier\":\"db\"}}",
			"app=web,tier=db");
	expect_selector("a!=b",
			"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":"
			"\"NotIn\",\"values\":[\"b\"]}]}",
			"a!=b");
	expect_selector(
	    "env in (prod, staging),!legacy,team,"
	    "example.com/x notin (a)",
	    "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\","
	    "\"values\":[\"prod\",\"staging\"]},{\"key\":\"legacy\","
	    "\"operator\":\"DoesNotExist\"},{\"key\":\"team\",\"operator\":"
	    "\"Exists\"},{\"key\":\"example.com/x\",\"operator\":\"NotIn\","
	    "\"values\":[\"a\"]}]}",
	    "env in (prod,staging),!legacy,team,example.com/x!=a");
	/* labels sort by key when printed */
	expect_selector("z=1,a=2",
			"{\"matchLabels\":{\"a\":\"2\",\"z\":\"1\"}}",
			"a=2,z=1");
	expect_selector("", "{}", "<none>");
	assert_int_equal(
	    stow_vcli_parse_selector(test_cli(), "--selector", "a in b", &sel),
	    STOW_EXIT_USAGE);
	assert_null(sel);
	assert_int_equal(
	    stow_vcli_parse_selector(test_cli(), "--selector", "a=b)", &sel),
	    STOW_EXIT_USAGE);
	assert_int_equal(
	    stow_vcli_parse_selector(test_cli(), "--selector", "=b", &sel),
	    STOW_EXIT_USAGE);
	assert_int_equal(
	    stow_vcli_parse_selector(test_cli(), "--selector", "a in (x", &sel),
	    STOW_EXIT_USAGE);
}

static void test_or_selector(void **state)
{
	json_t *ors = NULL;
	char *got;

	(void)state;
	assert_int_equal(stow_vcli_parse_or_selector(
			     test_cli(), "a=b or c in (d,e) or !f", &ors),
			 0);
	got = canon(ors);
	assert_string_equal(
	    got, "[{\"matchLabels\":{\"a\":\"b\"}},{\"matchExpressions\":[{"
		 "\"key\":\"c\",\"operator\":\"In\",\"values\":[\"d\",\"e\"]}"
		 "]},{\"matchExpressions\":[{\"key\":\"f\",\"operator\":"
		 "\"DoesNotExist\"}]}]");
	free(got);
	assert_int_equal(
	    stow_vcli_parse_or_selector(test_cli(), "a=b or c in", &ors),
	    STOW_EXIT_USAGE);
	json_decref(ors);
}

static void test_lists_maps_bools_durations(void **state)
{
	json_t *arr = NULL, *map = NULL;
	char d[40], *got;
	int b = -1;

	(void)state;
	assert_int_equal(stow_vcli_add_list(&arr, "a,b,,c"), 0);
	assert_int_equal(stow_vcli_add_list(&arr, "d"), 0);
	got = canon(arr);
	assert_string_equal(got, "[\"a\",\"b\",\"c\",\"d\"]");
	free(got);
	json_decref(arr);

	assert_int_equal(stow_vcli_add_map(test_cli(), "--namespace-mappings",
					   &map, "app:app2,db:db-copy", ':'),
			 0);
	got = canon(map);
	assert_string_equal(got, "{\"app\":\"app2\",\"db\":\"db-copy\"}");
	free(got);
	/* a value may hold the separator of another syntax */
	assert_int_equal(stow_vcli_add_map(test_cli(), "--config", &map,
					   "s3Url=http://h:9000", '='),
			 0);
	assert_string_equal(json_string_value(json_object_get(map, "s3Url")),
			    "http://h:9000");
	assert_int_equal(
	    stow_vcli_add_map(test_cli(), "--labels", &map, "novalue", '='),
	    STOW_EXIT_USAGE);
	assert_int_equal(
	    stow_vcli_add_map(test_cli(), "--labels", &map, "=v", '='),
	    STOW_EXIT_USAGE);
	json_decref(map);

	assert_int_equal(stow_vcli_parse_bool(test_cli(), "--x", NULL, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(stow_vcli_parse_bool(test_cli(), "--x", "false", &b),
			 0);
	assert_int_equal(b, 0);
	assert_int_equal(stow_vcli_parse_bool(test_cli(), "--x", "T", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(stow_vcli_parse_bool(test_cli(), "--x", "maybe", &b),
			 STOW_EXIT_USAGE);

	assert_int_equal(
	    stow_vcli_parse_duration(test_cli(), "--ttl", "24h", d), 0);
	assert_string_equal(d, "24h0m0s");
	assert_int_equal(
	    stow_vcli_parse_duration(test_cli(), "--ttl", "1h30m", d), 0);
	assert_string_equal(d, "1h30m0s");
	assert_int_equal(stow_vcli_parse_duration(test_cli(), "--ttl", "0", d),
			 0);
	assert_string_equal(d, "0s");
	assert_int_equal(
	    stow_vcli_parse_duration(test_cli(), "--ttl", "30 days", d),
	    STOW_EXIT_USAGE);
}

static void test_times(void **state)
{
	char out[64];
	int64_t now = (int64_t)time(NULL);

	(void)state;
	assert_int_equal(stow_vcli_parse_time("2026-11-25T17:21:09Z"),
			 INT64_C(1795627269));
	assert_int_equal(stow_vcli_parse_time("2026-11-25T18:21:09+01:00"),
			 INT64_C(1795627269));
	assert_int_equal(stow_vcli_parse_time("2026-11-25T17:21:09.123456Z"),
			 INT64_C(1795627269));
	assert_int_equal(stow_vcli_parse_time(NULL), -1);
	assert_int_equal(stow_vcli_parse_time("yesterday"), -1);
	assert_int_equal(stow_vcli_parse_time("2026-11-25T17:21:09"), -1);

	setenv("TZ", "UTC", 1);
	tzset();
	stow_vcli_format_time(out, sizeof(out), "2026-11-25T17:21:09Z");
	assert_string_equal(out, "2026-11-25 17:21:09 +0000 UTC");
	stow_vcli_format_time(out, sizeof(out), NULL);
	assert_string_equal(out, "<nil>");

	stow_vcli_from_now(out, sizeof(out), -1);
	assert_string_equal(out, "n/a");
	stow_vcli_from_now(out, sizeof(out), now + 29 * 86400 + 3600);
	assert_string_equal(out, "29d");
	stow_vcli_from_now(out, sizeof(out), now + 23 * 3600 + 1800);
	assert_string_equal(out, "23h");
	stow_vcli_from_now(out, sizeof(out), now - 3 * 3600 - 5);
	assert_string_equal(out, "3h ago");
	stow_vcli_from_now(out, sizeof(out), now + 400 * 86400);
	assert_string_equal(out, "1y");
}

/* Run the YAML printer on v and return what it wrote. */
static char *yaml_of(const json_t *v)
{
	char path[] = "/tmp/test_cli_velero.XXXXXX";
	int fd = mkstemp(path), saved;
	char *buf = calloc(1, 65536);
	FILE *f;

	assert_true(fd >= 0);
	assert_non_null(buf);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	stow_vcli_print_obj(v, STOW_VCLI_YAML);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, 65535, f) < 65535);
	fclose(f);
	unlink(path);
	return buf;
}

static void test_yaml(void **state)
{
	json_t *v = json_loads(
	    "{\"kind\":\"Backup\",\"spec\":{\"metadata\":{},"
	    "\"includedNamespaces\":[\"*\"],\"ttl\":\"0s\",\"b\":\"true\","
	    "\"n\":\"1\",\"e\":\"\",\"c\":\"a: b\",\"ok\":\"web\","
	    "\"t\":true,\"i\":4,\"l\":[],\"sel\":[{\"k\":\"v\",\"x\":[\"y\"]}],"
	    "\"nl\":\"two\\nlines\",\"date\":\"2026-11-25T17:21:09Z\","
	    "\"key: odd\":\"null\"}}",
	    0, NULL);
	char *y;

	(void)state;
	assert_non_null(v);
	y = yaml_of(v);
	assert_string_equal(y,
			    "kind: Backup\n"
			    "spec:\n"
			    "  metadata: {}\n"
			    "  includedNamespaces:\n"
			    "  - \"*\"\n"
			    "  ttl: \"0s\"\n"
			    "  b: \"true\"\n"
			    "  \"n\": \"1\"\n" /* YAML 1.1 reads n as false */
			    "  e: \"\"\n"
			    "  c: \"a: b\"\n"
			    "  ok: web\n"
			    "  t: true\n"
			    "  i: 4\n"
			    "  l: []\n"
			    "  sel:\n"
			    "  - k: v\n"
			    "    x:\n"
			    "    - \"y\"\n"
			    "  nl: \"two\\nlines\"\n"
			    "  date: \"2026-11-25T17:21:09Z\"\n"
			    "  \"key: odd\": \"null\"\n");
	free(y);
	json_decref(v);
}

static void gz_append(stow_buf *out, const char *text)
{
	z_stream z;
	unsigned char buf[4096];

	memset(&z, 0, sizeof(z));
	assert_int_equal(
	    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
	    Z_OK);
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)strlen(text);
	z.next_out = buf;
	z.avail_out = sizeof(buf);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(stow_buf_append(out, buf, sizeof(buf) - z.avail_out),
			 0);
	deflateEnd(&z);
}

static void test_gunzip(void **state)
{
	stow_buf gz, plain;

	(void)state;
	stow_buf_init(&gz, 0);
	stow_buf_init(&plain, 0);
	gz_append(&gz, "line one\n");
	gz_append(&gz, "line two\n"); /* a second member, as logs may be */
	assert_int_equal(stow_vcli_gunzip(&gz, &plain), 0);
	assert_int_equal(plain.len, 18);
	assert_memory_equal(plain.data, "line one\nline two\n", 18);

	/* truncated */
	stow_buf_reset(&plain);
	gz.len -= 6;
	assert_int_equal(stow_vcli_gunzip(&gz, &plain), STOW_ECORRUPT);
	/* not gzip at all */
	stow_buf_reset(&gz);
	stow_buf_reset(&plain);
	stow_buf_append(&gz, "plain text", 10);
	assert_int_equal(stow_vcli_gunzip(&gz, &plain), STOW_ECORRUPT);
	stow_buf_free(&gz);
	stow_buf_free(&plain);
}

static void test_strings_and_maps(void **state)
{
	json_t *arr = json_pack("[s,s]", "app", "db");
	json_t *map = json_pack("{s:s,s:s}", "z", "1", "a", "2");
	stow_buf b;

	(void)state;
	stow_buf_init(&b, 0);
	stow_vcli_format_strings(&b, arr, "<none>");
	stow_vcli_format_strings(&b, NULL, "|<none>");
	stow_buf_append_u8(&b, 0);
	assert_string_equal((const char *)b.data, "app, db|<none>");
	stow_buf_reset(&b);
	stow_vcli_format_map(&b, map, ",");
	stow_vcli_format_map(&b, NULL, ",");
	stow_buf_append_u8(&b, 0);
	assert_string_equal((const char *)b.data, "a=2,z=1<none>");
	stow_buf_free(&b);
	json_decref(arr);
	json_decref(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selectors),
	    cmocka_unit_test(test_or_selector),
	    cmocka_unit_test(test_lists_maps_bools_durations),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_yaml),
	    cmocka_unit_test(test_gunzip),
	    cmocka_unit_test(test_strings_and_maps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
