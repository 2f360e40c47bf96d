/* Structured logging (src/util/log.h): exact logfmt and JSON lines with
 * Velero's key names, quoting of spaces, quotes, newlines, control and
 * non-UTF-8 bytes, field order and renaming, level filtering, capture
 * loggers (bounded buffer, error/warning counts, forwarding to the parent)
 * and whole lines from many threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/log.h"

static int64_t fixed_now(void)
{
	return 1795626000; /* 2026-11-25T17:00:00Z */
}

typedef struct sink {
	pthread_mutex_t mu; /* the logger serializes calls; checked anyway */
	char text[65536];
	size_t len;
	size_t lines;
} sink;

static void sink_fn(void *ctx, stow_log_level level, const char *line,
		    size_t len)
{
	sink *s = ctx;

	(void)level;
	assert_true(len > 0 && line[len - 1] == '\n');
	assert_null(memchr(line, '\n', len - 1));
	if (s->len + len < sizeof(s->text)) {
		memcpy(s->text + s->len, line, len);
		s->len += len;
		s->text[s->len] = '\0';
	}
	s->lines++;
}

static stow_log *mk(stow_log_format f, stow_log_level min, sink *s)
{
	stow_log *lg = NULL;

	assert_int_equal(stow_log_new(&lg, f, min), 0);
	memset(s, 0, sizeof(*s));
	stow_log_set_callback(lg, sink_fn, s);
	stow_log_set_clock(lg, fixed_now);
	return lg;
}

static void test_logfmt_line(void **state)
{
	sink s;
	stow_log *lg = mk(STOW_LOG_LOGFMT, STOW_LOG_INFO, &s);

	(void)state;
	stow_log_write(lg, STOW_LOG_INFO, "/work/main/src/velero/backup.c", 120,
		       "backup completed", "backup", "velero/nightly-1",
		       "controller", "backup", (const char *)NULL);
	assert_string_equal(
	    s.text, "time=\"2026-11-25T17:00:00Z\" level=info msg=\"backup "
		    "completed\" backup=velero/nightly-1 controller=backup "
		    "logSource=\"src/velero/backup.c:120\"\n");
	stow_log_free(lg);
}

static void test_json_line(void **state)
{
	sink s;
	stow_log *lg = mk(STOW_LOG_JSON, STOW_LOG_INFO, &s);

	(void)state;
	stow_log_write(lg, STOW_LOG_WARNING, "/x/src/util/log.c", 7,
		       "a \"b\"\n", "backup", "velero/nightly-1", "zeta", "",
		       (const char *)NULL);
	assert_string_equal(
	    s.text, "{\"backup\":\"velero/nightly-1\",\"level\":\"warning\","
		    "\"logSource\":\"src/util/log.c:7\",\"msg\":\"a "
		    "\\\"b\\\"\\n\",\"time\":\"2026-11-25T17:00:00Z\","
		    "\"zeta\":\"\"}\n");
	stow_log_free(lg);
}

static void expect_logfmt(const char *v, size_t n, const char *want)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(stow_log_append_logfmt_value(&b, v, n), 0);
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	if (strcmp((char *)b.data, want) != 0)
		fail_msg("logfmt: got [%s] want [%s]", (char *)b.data, want);
	stow_buf_free(&b);
}

static void expect_json(const char *v, size_t n, const char *want)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(stow_log_append_json_string(&b, v, n), 0);
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	if (strcmp((char *)b.data, want) != 0)
		fail_msg("json: got [%s] want [%s]", (char *)b.data, want);
	stow_buf_free(&b);
}

#define LF(s, want) expect_logfmt(s, sizeof(s) - 1, want)
#define JS(s, want) expect_json(s, sizeof(s) - 1, want)

static void test_quoting(void **state)
{
	(void)state;
	LF("velero/nightly-1", "velero/nightly-1");
	LF("a.b_c-d@e^f+g", "a.b_c-d@e^f+g");
	LF("", "\"\"");
	LF("two words", "\"two words\"");
	LF("k=v", "\"k=v\"");
	LF("say \"hi\"", "\"say \\\"hi\\\"\"");
	LF("back\\slash", "\"back\\\\slash\"");
	LF("line1\nline2\r\t", "\"line1\\nline2\\r\\t\"");
	LF("\a\b\f\v", "\"\\a\\b\\f\\v\"");
	LF("ctl\x01\x1f\x7f", "\"ctl\\x01\\x1f\\x7f\"");
	LF("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	LF("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");
	LF("bad\xff\xfe", "\"bad\\xff\\xfe\"");
	/* Truncated, overlong and surrogate sequences are not UTF-8. */
	LF("x\xc3", "\"x\\xc3\"");
	LF("\xc0\xaf", "\"\\xc0\\xaf\"");
	LF("\xed\xa0\x80", "\"\\xed\\xa0\\x80\"");
	LF("\xf4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\"");
	LF("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
	expect_logfmt("nul\0byte", 8, "\"nul\\x00byte\"");

	JS("plain", "\"plain\"");
	JS("q\"b\\", "\"q\\\"b\\\\\"");
	JS("\n\r\t\x01\x1f", "\"\\n\\r\\t\\u0001\\u001f\"");
	JS("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	JS("bad\xff!", "\"bad\\ufffd!\"");
	JS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect_json("a\0b", 3, "\"a\\u0000b\"");
}

static void test_fields_order(void **state)
{
	sink s;
	stow_log *lg = mk(STOW_LOG_LOGFMT, STOW_LOG_DEBUG, &s);
	stow_log_field f[] = {
	    {"zulu", "1"},	     {"msg", "clash"},	{"alpha", NULL},
	    {"logger", "call wins"}, {"bad key!", "x"},
	};

	(void)state;
	assert_int_equal(stow_log_add_field(lg, "logger", "base"), 0);
	assert_int_equal(stow_log_add_field(lg, "mid", "m"), 0);
	stow_log_writev(lg, STOW_LOG_DEBUG, NULL, 0, "m", f, 5);
	assert_string_equal(s.text,
			    "time=\"2026-11-25T17:00:00Z\" level=debug msg=m "
			    "alpha=\"\" bad_key_=x fields.msg=clash "
			    "logger=\"call wins\" mid=m zulu=1\n");
	stow_log_free(lg);

	lg = mk(STOW_LOG_JSON, STOW_LOG_DEBUG, &s);
	stow_log_writev(lg, STOW_LOG_ERROR, NULL, 0, "m", f, 2);
	assert_string_equal(s.text,
			    "{\"fields.msg\":\"clash\",\"level\":\"error\","
			    "\"msg\":\"m\",\"time\":\"2026-11-25T17:00:00Z\","
			    "\"zulu\":\"1\"}\n");
	stow_log_free(lg);
}

static void test_levels(void **state)
{
	sink s;
	stow_log *lg = mk(STOW_LOG_LOGFMT, STOW_LOG_WARNING, &s);
	stow_log_level lv;
	stow_log_format fm;
	uint64_t e, w;

	(void)state;
	assert_false(stow_log_enabled(lg, STOW_LOG_INFO));
	assert_true(stow_log_enabled(lg, STOW_LOG_ERROR));
	stow_log_info(lg, "hidden");
	stow_log_debugf(lg, "hidden %d", 1);
	stow_log_warning(lg, "shown", "n", "1");
	stow_log_errorf(lg, "failed: %s", "disk full");
	assert_int_equal(s.lines, 2);
	assert_non_null(strstr(s.text, "level=warning msg=shown logSource="));
	assert_non_null(strstr(s.text, " n=1\n"));
	assert_non_null(
	    strstr(s.text, "level=error msg=\"failed: disk full\""));
	assert_non_null(strstr(s.text, "logSource=\"test_log.c:"));
	stow_log_counts(lg, &e, &w);
	assert_int_equal(e, 1);
	assert_int_equal(w, 1);
	stow_log_write(NULL, STOW_LOG_ERROR, NULL, 0, "no logger",
		       (const char *)NULL);
	stow_log_free(lg);

	assert_int_equal(stow_log_level_parse("warn", &lv), 0);
	assert_int_equal(lv, STOW_LOG_WARNING);
	assert_int_equal(stow_log_level_parse("DEBUG", &lv), 0);
	assert_int_equal(lv, STOW_LOG_DEBUG);
	assert_int_equal(stow_log_level_parse("trace", &lv), 0);
	assert_int_equal(lv, STOW_LOG_DEBUG);
	assert_int_equal(stow_log_level_parse("loud", &lv), STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "unknown log level \"loud\""));
	assert_int_equal(stow_log_format_parse("json", &fm), 0);
	assert_int_equal(fm, STOW_LOG_JSON);
	assert_int_equal(stow_log_format_parse("text", &fm), 0);
	assert_int_equal(fm, STOW_LOG_LOGFMT);
	assert_int_equal(stow_log_format_parse("xml", &fm), STOW_EINVAL);
	assert_string_equal(stow_log_level_name(STOW_LOG_WARNING), "warning");
}

static void test_source_and_long_values(void **state)
{
	sink s;
	stow_log *lg = mk(STOW_LOG_LOGFMT, STOW_LOG_INFO, &s);
	char *big = malloc(20000);

	(void)state;
	stow_log_write(lg, STOW_LOG_INFO, "/a/src/b/src/velero/gc.c", 9, "x",
		       (const char *)NULL);
	assert_non_null(strstr(s.text, "logSource=\"src/velero/gc.c:9\"\n"));
	s.len = 0;
	stow_log_write(lg, STOW_LOG_INFO, "plain.c", 3, "x",
		       (const char *)NULL);
	assert_non_null(strstr(s.text, "logSource=\"plain.c:3\"\n"));
	s.len = 0;
	memset(big, 'a', 19999);
	big[19999] = '\0';
	stow_log_write(lg, STOW_LOG_INFO, NULL, 0, "big", "v", big,
		       (const char *)NULL);
	assert_non_null(strstr(s.text, "aaaa...(truncated)\"\n"));
	assert_true(s.len < 16384 + 200);
	free(big);
	stow_log_free(lg);
}

/* 32 fields of 16 KiB of control bytes (each printed as \xHH or \u00HH)
 * still make one whole line. */
static void test_huge_record(void **state)
{
	stow_log *lg = NULL;
	static char vals[32][17000];
	static char keys[32][8];
	stow_log_field f[32];
	FILE *tmp = tmpfile();
	long size;

	(void)state;
	assert_non_null(tmp);
	for (int i = 0; i < 32; i++) {
		memset(vals[i], 1, sizeof(vals[i]) - 1);
		vals[i][sizeof(vals[i]) - 1] = '\0';
		snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
		f[i].key = keys[i];
		f[i].value = vals[i];
	}
	for (int fmt = 0; fmt < 2; fmt++) {
		assert_int_equal(
		    stow_log_new(&lg, (stow_log_format)fmt, STOW_LOG_INFO), 0);
		stow_log_set_file(lg, tmp);
		rewind(tmp);
		assert_int_equal(ftruncate(fileno(tmp), 0), 0);
		stow_log_writev(lg, STOW_LOG_INFO, NULL, 0, "big", f, 32);
		size = ftell(tmp);
		/* 32 x 16 KiB x 4 (\xHH) or 6 (\u00HH) bytes, and more. */
		assert_true(size > 32L * 16384 * (fmt ? 6 : 4));
		stow_log_free(lg);
	}
	fclose(tmp);
}

static void test_capture(void **state)
{
	sink s;
	stow_log *server = mk(STOW_LOG_JSON, STOW_LOG_INFO, &s);
	stow_log *bl = NULL;
	stow_buf out;
	uint64_t e, w;
	int l0;
	char want[2048];

	(void)state;
	assert_int_equal(stow_log_add_field(server, "component", "server"), 0);
	assert_int_equal(stow_log_capture_new(&bl, server, STOW_LOG_LOGFMT,
					      STOW_LOG_DEBUG, 4096),
			 0);
	assert_int_equal(stow_log_add_field(bl, "backup", "velero/b1"), 0);
	l0 = __LINE__ + 1;
	stow_log_debug(bl, "collecting items");
	stow_log_info(bl, "backed up item", "resource", "pods");
	stow_log_warning(bl, "skipped item", "reason", "not found");
	stow_log_error(bl, "upload failed", "error", "timeout");
	stow_log_error(bl, "second failure");

	/* The server got the info+ lines in JSON with both loggers' fields;
	 * the debug one stayed below its level. */
	assert_int_equal(s.lines, 4);
	assert_non_null(strstr(s.text, "{\"backup\":\"velero/b1\","
				       "\"component\":\"server\",\"level\":"
				       "\"info\""));
	stow_log_counts(bl, &e, &w);
	assert_int_equal(e, 2);
	assert_int_equal(w, 1);
	stow_log_counts(server, &e, &w);
	assert_int_equal(e, 2);

	stow_buf_init(&out, 0);
	assert_int_equal(stow_log_capture_take(bl, &out), 0);
	assert_int_equal(stow_buf_append_u8(&out, 0), 0);
	snprintf(want, sizeof(want),
		 "time=\"2026-11-25T17:00:00Z\" level=debug msg=\"collecting "
		 "items\" backup=velero/b1 logSource=\"test_log.c:%d\"\n"
		 "time=\"2026-11-25T17:00:00Z\" level=info msg=\"backed up "
		 "item\" backup=velero/b1 logSource=\"test_log.c:%d\" "
		 "resource=pods\n"
		 "time=\"2026-11-25T17:00:00Z\" level=warning msg=\"skipped "
		 "item\" backup=velero/b1 logSource=\"test_log.c:%d\" "
		 "reason=\"not found\"\n"
		 "time=\"2026-11-25T17:00:00Z\" level=error msg=\"upload "
		 "failed\" backup=velero/b1 error=timeout "
		 "logSource=\"test_log.c:%d\"\n"
		 "time=\"2026-11-25T17:00:00Z\" level=error msg=\"second "
		 "failure\" backup=velero/b1 logSource=\"test_log.c:%d\"\n",
		 l0, l0 + 1, l0 + 2, l0 + 3, l0 + 4);
	assert_string_equal((char *)out.data, want);
	/* Taking empties the capture. */
	assert_int_equal(stow_log_capture_take(bl, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(stow_log_capture_take(server, &out), STOW_EINVAL);
	stow_buf_free(&out);
	stow_log_free(bl);
	stow_log_free(server);
}

static void test_capture_bound(void **state)
{
	stow_log *bl = NULL;
	stow_buf out;
	char n[16];
	size_t lines = 0;

	(void)state;
	assert_int_equal(stow_log_capture_new(&bl, NULL, STOW_LOG_LOGFMT,
					      STOW_LOG_INFO, 1000),
			 0);
	stow_log_set_clock(bl, fixed_now);
	for (int i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "%d", i);
		stow_log_info(bl, "line", "i", n);
	}
	stow_buf_init(&out, 0);
	assert_int_equal(stow_log_capture_take(bl, &out), 0);
	assert_int_equal(stow_buf_append_u8(&out, 0), 0);
	for (size_t i = 0; i < out.len; i++)
		lines += out.data[i] == '\n';
	/* Whole lines up to the limit, then the note. */
	assert_true(out.len - 1 <= 1000 + 200);
	assert_true(lines >= 5 && lines < 100);
	assert_non_null(strstr((char *)out.data, " i=0 "));
	assert_non_null(
	    strstr((char *)out.data, "level=warning msg=\"log truncated: "));
	assert_non_null(strstr((char *)out.data, "lines dropped (limit 1000 "
						 "bytes)\"\n"));
	assert_int_equal(out.data[out.len - 2], '\n');
	stow_buf_free(&out);
	stow_log_free(bl);
}

#define THREADS 8
#define PER_THREAD 2000

static void *spam(void *arg)
{
	stow_log *lg = arg;
	char n[16];

	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(n, sizeof(n), "%d", i);
		if (i % 10 == 0)
			stow_log_warning(lg, "a warning with some text", "i",
					 n);
		else
			stow_log_info(lg, "an info line with \"quotes\"", "i",
				      n);
	}
	return NULL;
}

static size_t whole_lines;
static void count_fn(void *ctx, stow_log_level level, const char *line,
		     size_t len)
{
	(void)ctx;
	(void)level;
	/* Called under the logger's lock: a plain counter is safe. */
	if (len > 10 && memcmp(line, "time=", 5) == 0 &&
	    line[len - 1] == '\n' && !memchr(line, '\n', len - 1))
		whole_lines++;
}

static void test_threads(void **state)
{
	stow_log *server = NULL, *bl = NULL;
	pthread_t th[THREADS];
	FILE *f = tmpfile();
	uint64_t e, w;
	stow_buf out;
	char line[512];
	size_t file_lines = 0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(stow_log_new(&server, STOW_LOG_LOGFMT, STOW_LOG_INFO),
			 0);
	stow_log_set_file(server, f);
	stow_log_set_callback(server, count_fn, NULL);
	assert_int_equal(stow_log_capture_new(&bl, server, STOW_LOG_JSON,
					      STOW_LOG_INFO, 64u << 20),
			 0);
	whole_lines = 0;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, spam, bl), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(whole_lines, THREADS * PER_THREAD);
	stow_log_counts(bl, &e, &w);
	assert_int_equal(e, 0);
	assert_int_equal(w, THREADS * PER_THREAD / 10);
	stow_buf_init(&out, 0);
	assert_int_equal(stow_log_capture_take(bl, &out), 0);
	{
		size_t lines = 0;

		for (size_t i = 0; i < out.len; i++)
			lines += out.data[i] == '\n';
		assert_int_equal(lines, THREADS * PER_THREAD);
		assert_int_equal(out.data[0], '{');
	}
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		assert_int_equal(memcmp(line, "time=", 5), 0);
		file_lines++;
	}
	assert_int_equal(file_lines, THREADS * PER_THREAD);
	fclose(f);
	stow_buf_free(&out);
	stow_log_free(bl);
	stow_log_free(server);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_logfmt_line),
	    cmocka_unit_test(test_json_line),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_fields_order),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_source_and_long_values),
	    cmocka_unit_test(test_huge_record),
	    cmocka_unit_test(test_capture),
	    cmocka_unit_test(test_capture_bound),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
