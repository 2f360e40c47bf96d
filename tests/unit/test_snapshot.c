/* Snapshot manifests: JSON round trips (times to the nanosecond), each
 * kind of rejected manifest, and tag parsing. The repository-level
 * functions are exercised by the integration tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "util/err.h"
#include "vault/snapshot.h"

#define ID_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void add_tag(stow_snapshot *s, const char *k, const char *v)
{
	s->tags = realloc(s->tags, (s->ntags + 1) * sizeof(*s->tags));
	assert_non_null(s->tags);
	s->tags[s->ntags].key = xstrdup(k);
	s->tags[s->ntags].value = xstrdup(v);
	s->ntags++;
}

static void add_error(stow_snapshot *s, const char *msg)
{
	s->errors = realloc(s->errors, (s->nerrors + 1) * sizeof(*s->errors));
	assert_non_null(s->errors);
	s->errors[s->nerrors++] = xstrdup(msg);
}

/* A manifest with every field set to something distinguishable. */
static void make_snap(stow_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->id, ID_A, sizeof(s->id));
	s->time_sec = 1795615385; /* 2026-11-25T14:03:05Z */
	s->time_nsec = 123456789;
	s->end_sec = 1795615385 + 3600;
	s->host = xstrdup("node-1.example");
	s->path = xstrdup("/host_pods/uid/volumes/kubernetes.io~csi/pvc-1");
	add_tag(s, "backup", "nightly-2026");
	add_tag(s, "namespace", "h\xc3\xa9llo");
	add_tag(s, "empty", "");
	for (size_t i = 0; i < STOW_ID_LEN; i++)
		s->root[i] = (uint8_t)(i * 7 + 1);
	memcpy(s->parent, ID_B, sizeof(s->parent));
	s->partial = true;
	s->stats.files = 1;
	s->stats.dirs = 2;
	s->stats.symlinks = 3;
	s->stats.others = 4;
	s->stats.bytes = (uint64_t)1 << 40;
	s->stats.files_reused = 6;
	s->stats.bytes_read = 7;
	s->stats.blobs_new = 8;
	s->stats.bytes_new_raw = 9;
	s->stats.bytes_new_stored = INT64_MAX;
	s->stats.errors = 2;
	s->stats.seconds = 12.345678901234567;
	add_error(s, "cannot read /a/b: Permission denied");
	add_error(s, "line\nbreak \"quoted\" \\ tab\t");
}

static void assert_snap_equal(const stow_snapshot *a, const stow_snapshot *b)
{
	assert_string_equal(a->id, b->id);
	assert_true(a->time_sec == b->time_sec);
	assert_int_equal(a->time_nsec, b->time_nsec);
	assert_true(a->end_sec == b->end_sec);
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->ntags, b->ntags);
	for (size_t i = 0; i < a->ntags; i++) {
		assert_string_equal(a->tags[i].key, b->tags[i].key);
		assert_string_equal(a->tags[i].value, b->tags[i].value);
	}
	assert_memory_equal(a->root, b->root, STOW_ID_LEN);
	assert_string_equal(a->parent, b->parent);
	assert_int_equal(a->partial, b->partial);
	assert_memory_equal(&a->stats, &b->stats, sizeof(a->stats));
	assert_int_equal(a->nerrors, b->nerrors);
	for (size_t i = 0; i < a->nerrors; i++)
		assert_string_equal(a->errors[i], b->errors[i]);
}

/* to_json, from_json, compare, and to_json again to the same bytes. */
static void roundtrip(const stow_snapshot *s, stow_buf *json)
{
	_cleanup_(stow_buf_freep) stow_buf again = {0};
	stow_snapshot back;

	stow_buf_init(&again, 0);
	stow_buf_reset(json);
	if (stow_snapshot_to_json(s, json) != 0)
		fail_msg("to_json: %s", stow_err_msg());
	assert_int_equal(stow_snapshot_from_json(&back, json->data, json->len),
			 0);
	assert_snap_equal(s, &back);
	assert_int_equal(stow_snapshot_to_json(&back, &again), 0);
	assert_int_equal(json->len, again.len);
	assert_memory_equal(json->data, again.data, json->len);
	stow_snapshot_free(&back);
	assert_null(back.host);
}

static bool contains(const stow_buf *b, const char *needle)
{
	return memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static void test_json_roundtrip(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf json = {0};
	stow_snapshot s;

	(void)state;
	stow_buf_init(&json, 0);
	make_snap(&s);
	roundtrip(&s, &json);
	assert_true(contains(&json, "\"version\":1"));
	assert_true(
	    contains(&json, "\"time\":\"2026-11-25T14:03:05.123456789Z\""));
	assert_true(
	    contains(&json, "\"end_time\":\"2026-11-25T15:03:05.000000000Z\""));
	assert_true(contains(&json, "\"parent\":\"" ID_B "\""));
	assert_true(contains(&json, "\"partial\":true"));
	assert_true(contains(&json, "\"tags\":{\"backup\":\"nightly-2026\","));

	/* no parent, no tags, no errors, complete */
	s.parent[0] = '\0';
	s.partial = false;
	for (size_t i = 0; i < s.ntags; i++) {
		free(s.tags[i].key);
		free(s.tags[i].value);
	}
	free(s.tags);
	s.tags = NULL;
	s.ntags = 0;
	for (size_t i = 0; i < s.nerrors; i++)
		free(s.errors[i]);
	free(s.errors);
	s.errors = NULL;
	s.nerrors = 0;
	s.stats.seconds = 0;
	roundtrip(&s, &json);
	assert_false(contains(&json, "parent"));
	assert_true(contains(&json, "\"tags\":{}"));
	assert_true(contains(&json, "\"errors\":[]"));
	stow_snapshot_free(&s);
	stow_snapshot_free(NULL);
	stow_snapshot_free_all(NULL, 0);
}

/* Format and parse back many times across the whole range: our own
 * calendar arithmetic must agree with gmtime_r to the second. */
static void test_time_roundtrip_sweep(void **state)
{
	static const struct {
		int64_t sec;
		const char *text;
	} fixed[] = {
	    {0, "1970-01-01T00:00:00.000000000Z"},
	    {-1, "1969-12-31T23:59:59.000000000Z"},
	    {1709251199, "2024-02-29T23:59:59.000000000Z"},
	    {951782400, "2000-02-29T00:00:00.000000000Z"},
	    {-62135596800, "0001-01-01T00:00:00.000000000Z"},
	    {-62167219200, "0000-01-01T00:00:00.000000000Z"},
	    {253402300799, "9999-12-31T23:59:59.000000000Z"},
	};
	_cleanup_(stow_buf_freep) stow_buf json = {0};
	stow_snapshot s;
	uint64_t x = 88172645463325252ull;

	(void)state;
	stow_buf_init(&json, 0);
	make_snap(&s);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		char want[64];

		s.time_sec = fixed[i].sec;
		s.time_nsec = 0;
		roundtrip(&s, &json);
		snprintf(want, sizeof(want), "\"time\":\"%s\"", fixed[i].text);
		if (!contains(&json, want))
			fail_msg("%lld: no %s", (long long)fixed[i].sec, want);
	}
	for (int i = 0; i < 20000; i++) {
		/* xorshift64 over [TIME_MIN, TIME_MAX] */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		s.time_sec = (int64_t)(x % 315569520000ull) - 62167219200;
		s.time_nsec = (uint32_t)(x % 1000000000u);
		s.end_sec = s.time_sec;
		roundtrip(&s, &json);
	}
	stow_snapshot_free(&s);
}

static void test_error_messages_made_utf8(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf json = {0};
	stow_snapshot s, back;

	(void)state;
	stow_buf_init(&json, 0);
	make_snap(&s);
	free(s.errors[0]);
	s.errors[0] =
	    xstrdup("cannot read /x/\xff\xc3(name): EIO \xe2\x98\x83");
	assert_int_equal(stow_snapshot_to_json(&s, &json), 0);
	assert_int_equal(stow_snapshot_from_json(&back, json.data, json.len),
			 0);
	assert_string_equal(
	    back.errors[0],
	    "cannot read /x/\xef\xbf\xbd\xef\xbf\xbd(name): EIO "
	    "\xe2\x98\x83");
	stow_snapshot_free(&back);
	stow_snapshot_free(&s);
}

/* --- serialising rejects what parsing would --------------------------- */

static void expect_to_json(const stow_snapshot *s, int code, const char *msg)
{
	_cleanup_(stow_buf_freep) stow_buf json = {0};

	stow_buf_init(&json, 0);
	assert_int_equal(stow_buf_append(&json, "keep", 4), 0);
	assert_int_equal(stow_snapshot_to_json(s, &json), code);
	if (code == 0)
		return;
	assert_int_equal(json.len, 4); /* nothing appended on failure */
	if (msg && !strstr(stow_err_msg(), msg))
		fail_msg("message \"%s\" lacks \"%s\"", stow_err_msg(), msg);
}

static void test_to_json_rejects(void **state)
{
	stow_snapshot s;
	char *saved;

	(void)state;
	make_snap(&s);
	s.id[3] = 'A';
	expect_to_json(&s, STOW_EINVAL, "ID");
	s.id[3] = '3';
	s.id[63] = '\0';
	expect_to_json(&s, STOW_EINVAL, "ID");
	memcpy(s.id, ID_A, sizeof(s.id));
	s.parent[0] = 'x';
	expect_to_json(&s, STOW_EINVAL, "parent");
	memcpy(s.parent, ID_B, sizeof(s.parent));
	s.time_nsec = 1000000000;
	expect_to_json(&s, STOW_EINVAL, "time");
	s.time_nsec = 0;
	s.time_sec = 253402300800;
	expect_to_json(&s, STOW_EINVAL, "time");
	s.time_sec = 0;
	s.end_sec = -62167219201;
	expect_to_json(&s, STOW_EINVAL, "time");
	s.end_sec = 0;

	saved = s.path;
	s.path = "relative/path";
	expect_to_json(&s, STOW_EINVAL, "absolute");
	s.path = "/not/utf-8/\xff";
	expect_to_json(&s, STOW_EINVAL, "UTF-8");
	s.path = NULL;
	expect_to_json(&s, STOW_EINVAL, "path");
	s.path = saved;
	saved = s.host;
	s.host = NULL;
	expect_to_json(&s, STOW_EINVAL, "host");
	s.host = saved;

	saved = s.tags[1].key;
	s.tags[1].key = "";
	expect_to_json(&s, STOW_EINVAL, "empty key");
	s.tags[1].key = "a=b";
	expect_to_json(&s, STOW_EINVAL, "'='");
	s.tags[1].key = "backup";
	expect_to_json(&s, STOW_EINVAL, "twice");
	s.tags[1].key = saved;
	saved = s.tags[1].value;
	s.tags[1].value = "\xc0\xaf"; /* overlong '/' */
	expect_to_json(&s, STOW_EINVAL, "UTF-8");
	s.tags[1].value = saved;

	s.stats.files = (uint64_t)INT64_MAX + 1;
	expect_to_json(&s, STOW_EINVAL, "stats.files");
	s.stats.files = 0;
	s.stats.seconds = NAN;
	expect_to_json(&s, STOW_EINVAL, "seconds");
	s.stats.seconds = -1;
	expect_to_json(&s, STOW_EINVAL, "seconds");
	s.stats.seconds = 1;

	{
		size_t n = s.ntags;

		s.ntags = STOW_SNAPSHOT_TAGS_MAX + 1;
		expect_to_json(&s, STOW_EINVAL, "tags");
		s.ntags = n;
	}
	expect_to_json(&s, 0, NULL);
	stow_snapshot_free(&s);
}

/* --- parsing rejects ----------------------------------------------------
 *
 * Each case starts from a valid manifest as a jansson object, changes one
 * thing, and checks the code (and a word of the message). */

static json_t *valid_json(void)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	stow_snapshot s;
	json_error_t e;
	json_t *o;

	stow_buf_init(&b, 0);
	make_snap(&s);
	assert_int_equal(stow_snapshot_to_json(&s, &b), 0);
	stow_snapshot_free(&s);
	o = json_loadb((const char *)b.data, b.len, 0, &e);
	assert_non_null(o);
	return o;
}

static void expect_parse_text(const char *text, size_t len, int code,
			      const char *msg)
{
	stow_snapshot s;
	int rc;

	stow_err_clear();
	rc = stow_snapshot_from_json(&s, (const uint8_t *)text, len);
	if (rc != code)
		fail_msg("parse gave %d (%s), wanted %d", rc, stow_err_msg(),
			 code);
	if (rc == 0) {
		stow_snapshot_free(&s);
		return;
	}
	/* nothing left allocated, and the struct is empty */
	assert_null(s.host);
	assert_null(s.tags);
	assert_null(s.errors);
	if (msg && !strstr(stow_err_msg(), msg))
		fail_msg("message \"%s\" lacks \"%s\"", stow_err_msg(), msg);
}

/* Parse o (consumed) and expect `code`. */
static void expect_parse(json_t *o, int code, const char *msg)
{
	char *text = json_dumps(o, JSON_COMPACT);

	assert_non_null(text);
	json_decref(o);
	expect_parse_text(text, strlen(text), code, msg);
	free(text);
}

static void test_parse_valid_variants(void **state)
{
	json_t *o;

	(void)state;
	expect_parse(valid_json(), 0, NULL);
	/* unknown members are ignored, at the top and in stats */
	o = valid_json();
	json_object_set_new(o, "future", json_string("x"));
	json_object_set_new(json_object_get(o, "stats"), "more", json_true());
	expect_parse(o, 0, NULL);
	/* parent is optional */
	o = valid_json();
	json_object_del(o, "parent");
	expect_parse(o, 0, NULL);
	/* seconds may be written as an integer */
	o = valid_json();
	json_object_set_new(json_object_get(o, "stats"), "seconds",
			    json_integer(3));
	expect_parse(o, 0, NULL);
	/* leap day */
	o = valid_json();
	json_object_set_new(o, "time",
			    json_string("2024-02-29T12:00:00.000000001Z"));
	expect_parse(o, 0, NULL);
}

static void test_parse_rejects_missing(void **state)
{
	static const char *const top[] = {
	    "version", "id",   "time",	  "end_time", "host",	"path",
	    "tags",    "root", "partial", "stats",    "errors",
	};
	static const char *const stats[] = {
	    "files",	     "dirs",
	    "symlinks",	     "others",
	    "bytes",	     "files_reused",
	    "bytes_read",    "blobs_new",
	    "bytes_new_raw", "bytes_new_stored",
	    "errors",	     "seconds",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		json_t *o = valid_json();

		json_object_del(o, top[i]);
		expect_parse(o, STOW_ECORRUPT, top[i]);
	}
	for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
		json_t *o = valid_json();

		json_object_del(json_object_get(o, "stats"), stats[i]);
		expect_parse(o, STOW_ECORRUPT, stats[i]);
	}
}

static void set_and_expect(const char *key, json_t *v, int code,
			   const char *msg)
{
	json_t *o = valid_json();

	json_object_set_new(o, key, v);
	expect_parse(o, code, msg);
}

static void set_stat_and_expect(const char *key, json_t *v, const char *msg)
{
	json_t *o = valid_json();

	json_object_set_new(json_object_get(o, "stats"), key, v);
	expect_parse(o, STOW_ECORRUPT, msg);
}

static void test_parse_rejects_types(void **state)
{
	(void)state;
	set_and_expect("version", json_string("1"), STOW_ECORRUPT, "version");
	set_and_expect("version", json_real(1.0), STOW_ECORRUPT, "version");
	set_and_expect("id", json_integer(1), STOW_ECORRUPT, "id");
	set_and_expect("time", json_integer(1795615385), STOW_ECORRUPT, "time");
	set_and_expect("host", json_null(), STOW_ECORRUPT, "host");
	set_and_expect("path", json_array(), STOW_ECORRUPT, "path");
	set_and_expect("tags", json_array(), STOW_ECORRUPT, "tags");
	set_and_expect("tags", json_pack("{s:i}", "k", 1), STOW_ECORRUPT,
		       "tag \"k\"");
	set_and_expect("partial", json_string("false"), STOW_ECORRUPT,
		       "partial");
	set_and_expect("partial", json_integer(0), STOW_ECORRUPT, "partial");
	set_and_expect("stats", json_array(), STOW_ECORRUPT, "stats");
	set_and_expect("errors", json_object(), STOW_ECORRUPT, "errors");
	set_and_expect("errors", json_pack("[s,i]", "x", 1), STOW_ECORRUPT,
		       "errors[1]");
	set_and_expect("parent", json_null(), STOW_ECORRUPT, "parent");
	set_stat_and_expect("files", json_string("1"), "files");
	set_stat_and_expect("files", json_real(1.5), "files");
	set_stat_and_expect("bytes", json_integer(-1), "negative");
	set_stat_and_expect("seconds", json_string("1.0"), "seconds");
	set_stat_and_expect("seconds", json_real(-0.5), "seconds");
}

static void test_parse_rejects_values(void **state)
{
	json_t *o, *tags;

	(void)state;
	set_and_expect("version", json_integer(2), STOW_EUNSUPPORTED,
		       "version 2");
	set_and_expect("version", json_integer(0), STOW_EUNSUPPORTED,
		       "version 0");
	set_and_expect("id", json_string(ID_A "0"), STOW_ECORRUPT, "id");
	set_and_expect("id", json_string("0123"), STOW_ECORRUPT, "id");
	set_and_expect("id",
		       json_string("0123456789ABCDEF0123456789abcdef"
				   "0123456789abcdef0123456789abcdef"),
		       STOW_ECORRUPT, "id");
	set_and_expect("root",
		       json_string("g123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef"),
		       STOW_ECORRUPT, "root");
	set_and_expect("parent", json_string(""), STOW_ECORRUPT, "parent");
	set_and_expect("path", json_string("relative"), STOW_ECORRUPT,
		       "absolute");
	set_and_expect("path", json_string(""), STOW_ECORRUPT, "absolute");

	/* tags */
	set_and_expect("tags", json_pack("{s:s}", "", "v"), STOW_ECORRUPT,
		       "empty key");
	set_and_expect("tags", json_pack("{s:s}", "a=b", "v"), STOW_ECORRUPT,
		       "'='");
	o = valid_json();
	tags = json_object_get(o, "tags");
	for (int i = json_object_size(tags); i <= STOW_SNAPSHOT_TAGS_MAX; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(tags, k, json_string("v"));
	}
	expect_parse(o, STOW_ECORRUPT, "257 tags");
	o = valid_json();
	tags = json_object_get(o, "tags");
	for (int i = json_object_size(tags); i < STOW_SNAPSHOT_TAGS_MAX; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(tags, k, json_string("v"));
	}
	expect_parse(o, 0, NULL);
}

static void test_parse_rejects_times(void **state)
{
	static const char *const bad[] = {
	    "2026-13-01T00:00:00.000000000Z", /* month */
	    "2026-00-01T00:00:00.000000000Z",
	    "2026-02-29T00:00:00.000000000Z", /* not a leap year */
	    "1900-02-29T00:00:00.000000000Z",
	    "2026-04-31T00:00:00.000000000Z",
	    "2026-11-00T00:00:00.000000000Z",
	    "2026-11-25T24:00:00.000000000Z",
	    "2026-11-25T14:60:00.000000000Z",
	    "2026-11-25T14:03:60.000000000Z", /* no leap seconds */
	    "2026-11-25T14:03:05.12345678Z",  /* 8 digits */
	    "2026-11-25T14:03:05.1234567890Z",
	    "2026-11-25T14:03:05Z",
	    "2026-11-25T14:03:05.123456789",
	    "2026-11-25 14:03:05.123456789Z",
	    "2026-11-25T14:03:05.123456789+",
	    "+2026-11-25T14:03:05.12345678Z",
	    "2026-11-25T14:03:05.-23456789Z",
	    "2026-1a-25T14:03:05.123456789Z",
	    "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_and_expect("time", json_string(bad[i]), STOW_ECORRUPT,
			       "\"time\"");
		set_and_expect("end_time", json_string(bad[i]), STOW_ECORRUPT,
			       "\"end_time\"");
	}
}

static void test_parse_rejects_text(void **state)
{
	static const char dup[] = "{\"version\":1,\"version\":1}";
	static const char nul[] = "{\"version\":1,\"host\":\"a\\u0000b\"}";
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	stow_snapshot s;

	(void)state;
	expect_parse_text("", 0, STOW_ECORRUPT, "invalid JSON");
	expect_parse_text(NULL, 0, STOW_ECORRUPT, "invalid JSON");
	expect_parse_text("[]", 2, STOW_ECORRUPT, "not a JSON object");
	expect_parse_text("1", 1, STOW_ECORRUPT, "invalid JSON");
	expect_parse_text("{", 1, STOW_ECORRUPT, "invalid JSON");
	expect_parse_text(dup, sizeof(dup) - 1, STOW_ECORRUPT, "duplicate");
	expect_parse_text(nul, sizeof(nul) - 1, STOW_ECORRUPT, "invalid JSON");

	/* a valid manifest followed by anything */
	stow_buf_init(&b, 0);
	make_snap(&s);
	assert_int_equal(stow_snapshot_to_json(&s, &b), 0);
	stow_snapshot_free(&s);
	expect_parse_text((const char *)b.data, b.len, 0, NULL);
	expect_parse_text((const char *)b.data, b.len - 1, STOW_ECORRUPT,
			  "invalid JSON");
	stow_buf_append(&b, " {}", 3);
	expect_parse_text((const char *)b.data, b.len, STOW_ECORRUPT,
			  "invalid JSON");
}

/* --- tags ----------------------------------------------------------- */

static void expect_tag(const char *kv, const char *k, const char *v)
{
	stow_tag t;

	assert_int_equal(stow_tag_parse(kv, &t), 0);
	assert_string_equal(t.key, k);
	assert_string_equal(t.value, v);
	free(t.key);
	free(t.value);
}

static void test_tag_parse(void **state)
{
	stow_tag t;

	(void)state;
	expect_tag("k=v", "k", "v");
	expect_tag("k=", "k", "");
	expect_tag("k=v=w", "k", "v=w");
	expect_tag("velero.io/backup=nightly 1", "velero.io/backup",
		   "nightly 1");
	expect_tag("n\xc3\xa4me=\xe2\x98\x83", "n\xc3\xa4me", "\xe2\x98\x83");
	assert_int_equal(stow_tag_parse("=v", &t), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "empty key"));
	assert_null(t.key);
	assert_int_equal(stow_tag_parse("kv", &t), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "key=value"));
	assert_int_equal(stow_tag_parse("", &t), STOW_EINVAL);
	assert_int_equal(stow_tag_parse("=", &t), STOW_EINVAL);
	assert_int_equal(stow_tag_parse(NULL, &t), STOW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_roundtrip),
	    cmocka_unit_test(test_time_roundtrip_sweep),
	    cmocka_unit_test(test_error_messages_made_utf8),
	    cmocka_unit_test(test_to_json_rejects),
	    cmocka_unit_test(test_parse_valid_variants),
	    cmocka_unit_test(test_parse_rejects_missing),
	    cmocka_unit_test(test_parse_rejects_types),
	    cmocka_unit_test(test_parse_rejects_values),
	    cmocka_unit_test(test_parse_rejects_times),
	    cmocka_unit_test(test_parse_rejects_text),
	    cmocka_unit_test(test_tag_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
