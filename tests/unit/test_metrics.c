/* Metrics registry and endpoint (src/util/metrics.h,
 * src/velero/metrics_http.h): the exact exposition text (HELP/TYPE, order,
 * numbers), escaping of help texts and label values, histogram buckets,
 * the bounds and errors, 8 threads updating while another renders, and
 * the HTTP endpoint over a real socket (routes, methods, bad and busy
 * addresses, the port freed on stop). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/metrics.h"
#include "velero/metrics_http.h"

static const char *const by_schedule[] = {"schedule", NULL};

static stow_metric_family *reg_family(stow_metrics *m, const char *name,
				      stow_metric_type type,
				      const char *const *labels,
				      const char *help)
{
	static const double buckets[] = {1, 2.5, 10};
	stow_metric_desc d = {
	    .name = name, .help = help, .type = type, .labels = labels};
	stow_metric_family *f = NULL;

	if (type == STOW_METRIC_HISTOGRAM) {
		d.buckets = buckets;
		d.nbuckets = 3;
	}
	if (stow_metrics_register(m, &d, &f) != 0)
		fail_msg("register %s: %s", name, stow_err_msg());
	return f;
}

static char *render(stow_metrics *m)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(stow_metrics_render(m, &b), 0);
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	return (char *)stow_buf_steal(&b, NULL);
}

static void expect_text(stow_metrics *m, const char *want)
{
	char *got = render(m);

	if (strcmp(got, want) != 0)
		fail_msg("exposition differs\n--- got\n%s--- want\n%s", got,
			 want);
	free(got);
}

/* --- exposition ---------------------------------------------------------- */

static void test_exposition_exact(void **state)
{
	stow_metrics *m = NULL;
	stow_metric_family *att, *tot, *dur, *size;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	/* Registered out of order: rendered sorted by name. */
	tot = reg_family(m, "velero_backup_total", STOW_METRIC_GAUGE, NULL,
			 "Number of backups");
	att = reg_family(m, "velero_backup_attempt_total", STOW_METRIC_COUNTER,
			 by_schedule, "Total number of attempted backups");
	dur = reg_family(m, "velero_backup_duration_seconds",
			 STOW_METRIC_HISTOGRAM, by_schedule, "Duration");
	size = reg_family(m, "velero_backup_tarball_size_bytes",
			  STOW_METRIC_GAUGE, by_schedule, "Size");
	/* Empty families still show HELP and TYPE; the label-less gauge
	 * has its series at 0 from the start. */
	expect_text(m, "# HELP velero_backup_attempt_total Total number of "
		       "attempted backups\n"
		       "# TYPE velero_backup_attempt_total counter\n"
		       "# HELP velero_backup_duration_seconds Duration\n"
		       "# TYPE velero_backup_duration_seconds histogram\n"
		       "# HELP velero_backup_tarball_size_bytes Size\n"
		       "# TYPE velero_backup_tarball_size_bytes gauge\n"
		       "# HELP velero_backup_total Number of backups\n"
		       "# TYPE velero_backup_total gauge\n"
		       "velero_backup_total 0\n");

	assert_int_equal(stow_metric_add(att, STOW_METRIC_LABELS("nightly"), 1),
			 0);
	assert_int_equal(stow_metric_add(att, STOW_METRIC_LABELS("nightly"), 2),
			 0);
	assert_int_equal(stow_metric_touch(att, STOW_METRIC_LABELS("")), 0);
	assert_int_equal(stow_metric_add(att, STOW_METRIC_LABELS("a"), 1), 0);
	assert_int_equal(stow_metric_set(tot, NULL, 12), 0);
	assert_int_equal(stow_metric_add(tot, NULL, -2), 0);
	assert_int_equal(
	    stow_metric_set(size, STOW_METRIC_LABELS(""), 123456789012.0), 0);
	assert_int_equal(
	    stow_metric_observe(dur, STOW_METRIC_LABELS("nightly"), 0.5), 0);
	assert_int_equal(
	    stow_metric_observe(dur, STOW_METRIC_LABELS("nightly"), 2.5), 0);
	assert_int_equal(
	    stow_metric_observe(dur, STOW_METRIC_LABELS("nightly"), 30.25), 0);
	expect_text(m, "# HELP velero_backup_attempt_total Total number of "
		       "attempted backups\n"
		       "# TYPE velero_backup_attempt_total counter\n"
		       "velero_backup_attempt_total{schedule=\"\"} 0\n"
		       "velero_backup_attempt_total{schedule=\"a\"} 1\n"
		       "velero_backup_attempt_total{schedule=\"nightly\"} 3\n"
		       "# HELP velero_backup_duration_seconds Duration\n"
		       "# TYPE velero_backup_duration_seconds histogram\n"
		       "velero_backup_duration_seconds_bucket{schedule="
		       "\"nightly\",le=\"1\"} 1\n"
		       "velero_backup_duration_seconds_bucket{schedule="
		       "\"nightly\",le=\"2.5\"} 2\n"
		       "velero_backup_duration_seconds_bucket{schedule="
		       "\"nightly\",le=\"10\"} 2\n"
		       "velero_backup_duration_seconds_bucket{schedule="
		       "\"nightly\",le=\"+Inf\"} 3\n"
		       "velero_backup_duration_seconds_sum{schedule="
		       "\"nightly\"} 33.25\n"
		       "velero_backup_duration_seconds_count{schedule="
		       "\"nightly\"} 3\n"
		       "# HELP velero_backup_tarball_size_bytes Size\n"
		       "# TYPE velero_backup_tarball_size_bytes gauge\n"
		       "velero_backup_tarball_size_bytes{schedule=\"\"} "
		       "123456789012\n"
		       "# HELP velero_backup_total Number of backups\n"
		       "# TYPE velero_backup_total gauge\n"
		       "velero_backup_total 10\n");
	stow_metrics_free(m);
}

static void test_numbers(void **state)
{
	stow_metrics *m = NULL;
	stow_metric_family *g;
	static const char *const by_k[] = {"k", NULL};

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	g = reg_family(m, "g", STOW_METRIC_GAUGE, by_k, "");
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("a"), 0.1), 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("b"), -3), 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("c"), 1e300), 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("d"), INFINITY),
			 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("e"), -INFINITY),
			 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("f"), NAN), 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("g"), -0.0), 0);
	assert_int_equal(
	    stow_metric_set(g, STOW_METRIC_LABELS("h"), 1764000000.0), 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("i"), 1.0 / 3),
			 0);
	expect_text(m, "# HELP g \n"
		       "# TYPE g gauge\n"
		       "g{k=\"a\"} 0.1\n"
		       "g{k=\"b\"} -3\n"
		       "g{k=\"c\"} 1e+300\n"
		       "g{k=\"d\"} +Inf\n"
		       "g{k=\"e\"} -Inf\n"
		       "g{k=\"f\"} NaN\n"
		       "g{k=\"g\"} 0\n"
		       "g{k=\"h\"} 1764000000\n"
		       "g{k=\"i\"} 0.3333333333333333\n");
	stow_metrics_free(m);
}

static void test_escaping(void **state)
{
	stow_metrics *m = NULL;
	stow_metric_family *c;
	static const char *const two[] = {"schedule", "path", NULL};

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	c = reg_family(m, "esc_total", STOW_METRIC_COUNTER, two,
		       "back\\slash \"quoted\"\nsecond line");
	assert_int_equal(
	    stow_metric_add(c, STOW_METRIC_LABELS("a\"b", "c:\\d\ne"), 1), 0);
	assert_int_equal(
	    stow_metric_add(c, STOW_METRIC_LABELS("é日本", NULL), 2), 0);
	/* HELP escapes backslash and newline only; label values also the
	 * double quote. A NULL value reads as "". */
	expect_text(m, "# HELP esc_total back\\\\slash \"quoted\"\\nsecond "
		       "line\n"
		       "# TYPE esc_total counter\n"
		       "esc_total{schedule=\"a\\\"b\",path=\"c:\\\\d\\ne\"} 1\n"
		       "esc_total{schedule=\"é日本\",path=\"\"} 2\n");
	/* Not UTF-8: refused, not emitted. */
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("\xff", "x"), 1),
			 STOW_EINVAL);
	assert_int_equal(
	    stow_metric_add(c, STOW_METRIC_LABELS("\xc0\xaf", "x"), 1),
	    STOW_EINVAL);
	assert_int_equal(
	    stow_metric_add(c, STOW_METRIC_LABELS("\xed\xa0\x80", "x"), 1),
	    STOW_EINVAL);
	stow_metrics_free(m);
}

/* --- histograms ---------------------------------------------------------- */

static void test_histogram_buckets(void **state)
{
	static const double b[] = {60,	 300,  600,   900,  1800,
				   3600, 7200, 10800, 14400};
	static const double obs[] = {0, 60, 60.5, 299, 300, 14400, 14401, 1e9};
	stow_metric_desc d = {.name = "h_seconds",
			      .help = "h",
			      .type = STOW_METRIC_HISTOGRAM,
			      .labels = by_schedule,
			      .buckets = b,
			      .nbuckets = 9};
	stow_metrics *m = NULL;
	stow_metric_family *h;
	unsigned long long n = 0;
	double sum = 0, want_sum = 0;
	char *text;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	assert_int_equal(stow_metrics_register(m, &d, &h), 0);
	for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
		assert_int_equal(
		    stow_metric_observe(h, STOW_METRIC_LABELS("s"), obs[i]), 0);
		want_sum += obs[i];
	}
	/* A bound is inclusive: 60 counts in le="60". */
	text = render(m);
	assert_non_null(strstr(text, "h_seconds_bucket{schedule=\"s\",le="
				     "\"60\"} 2\n"));
	assert_non_null(strstr(text, "h_seconds_bucket{schedule=\"s\",le="
				     "\"300\"} 5\n"));
	assert_non_null(strstr(text, "h_seconds_bucket{schedule=\"s\",le="
				     "\"7200\"} 5\n"));
	assert_non_null(strstr(text, "h_seconds_bucket{schedule=\"s\",le="
				     "\"14400\"} 6\n"));
	assert_non_null(strstr(text, "h_seconds_bucket{schedule=\"s\",le="
				     "\"+Inf\"} 8\n"));
	assert_non_null(strstr(text, "h_seconds_count{schedule=\"s\"} 8\n"));
	free(text);
	assert_int_equal(stow_metric_get(h, STOW_METRIC_LABELS("s"), &sum, &n),
			 0);
	assert_int_equal(n, 8);
	assert_true(sum == want_sum);
	/* Not for histograms: add/set; NaN observations. */
	assert_int_equal(stow_metric_add(h, STOW_METRIC_LABELS("s"), 1),
			 STOW_EINVAL);
	assert_int_equal(stow_metric_observe(h, STOW_METRIC_LABELS("s"), NAN),
			 STOW_EINVAL);
	stow_metrics_free(m);
}

/* --- errors and bounds --------------------------------------------------- */

static void test_register_errors(void **state)
{
	static const char *const dup[] = {"a", "a", NULL};
	static const char *const le[] = {"le", NULL};
	static const char *const reserved[] = {"__name", NULL};
	static const char *const digit[] = {"1a", NULL};
	static const double bad[] = {1, 1};
	stow_metrics *m = NULL;
	stow_metric_desc d = {.type = STOW_METRIC_COUNTER};

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	d.name = "ok_total";
	assert_int_equal(stow_metrics_register(m, &d, NULL), 0);
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EEXIST);
	d.name = "bad-name";
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.name = "0abc";
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.name = "";
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.name = "ns:sub_total";
	assert_int_equal(stow_metrics_register(m, &d, NULL), 0);
	d.name = "x";
	d.labels = dup;
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.labels = reserved;
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.labels = digit;
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.labels = le;
	d.type = STOW_METRIC_HISTOGRAM;
	d.buckets = (const double[]){1};
	d.nbuckets = 1;
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.labels = NULL;
	d.buckets = bad;
	d.nbuckets = 2;
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	d.buckets = NULL;
	d.nbuckets = 0;
	assert_int_equal(stow_metrics_register(m, &d, NULL), STOW_EINVAL);
	assert_null(stow_metrics_find(m, "x"));
	assert_non_null(stow_metrics_find(m, "ok_total"));
	stow_metrics_free(m);
}

static void test_update_errors_and_bounds(void **state)
{
	stow_metric_desc d = {.name = "b_total",
			      .type = STOW_METRIC_COUNTER,
			      .labels = by_schedule,
			      .max_series = 3};
	stow_metrics *m = NULL;
	stow_metric_family *c, *g;
	char longv[STOW_METRIC_MAX_VALUE + 2];
	double v = -1;
	char *text;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	assert_int_equal(stow_metrics_register(m, &d, &c), 0);
	g = reg_family(m, "g", STOW_METRIC_GAUGE, by_schedule, "");
	/* A counter never goes down; only gauges are set. */
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("a"), -1),
			 STOW_EINVAL);
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("a"), NAN),
			 STOW_EINVAL);
	assert_int_equal(stow_metric_set(c, STOW_METRIC_LABELS("a"), 1),
			 STOW_EINVAL);
	assert_int_equal(stow_metric_observe(g, STOW_METRIC_LABELS("a"), 1),
			 STOW_EINVAL);
	assert_int_equal(stow_metric_add(c, NULL, 1), STOW_EINVAL);
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS(longv), 1),
			 STOW_EINVAL);
	/* Bounded: the fourth label set is refused and counted; existing
	 * ones still count. */
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("a"), 1), 0);
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("b"), 1), 0);
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("c"), 1), 0);
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("d"), 1),
			 STOW_ENOMEM);
	assert_int_equal(stow_metrics_dropped(m), 1);
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("a"), 1), 0);
	assert_int_equal(stow_metric_get(c, STOW_METRIC_LABELS("a"), &v, NULL),
			 0);
	assert_true(v == 2);
	assert_int_equal(stow_metric_get(c, STOW_METRIC_LABELS("d"), &v, NULL),
			 STOW_ENOTFOUND);
	/* Removing frees a slot. */
	assert_int_equal(stow_metric_remove(c, STOW_METRIC_LABELS("b")), 0);
	assert_int_equal(stow_metric_remove(c, STOW_METRIC_LABELS("b")),
			 STOW_ENOTFOUND);
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("d"), 1), 0);
	/* Removing a schedule everywhere. */
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("a"), 5), 0);
	assert_int_equal(stow_metric_set(g, STOW_METRIC_LABELS("z"), 5), 0);
	assert_int_equal(stow_metrics_remove_matching(m, "schedule", "a"), 2);
	assert_int_equal(stow_metrics_remove_matching(m, "nope", "z"), 0);
	text = render(m);
	assert_null(strstr(text, "\"a\""));
	assert_non_null(strstr(text, "b_total{schedule=\"c\"} 1\n"
				     "b_total{schedule=\"d\"} 1\n"));
	assert_non_null(strstr(text, "g{schedule=\"z\"} 5\n"));
	free(text);
	stow_metrics_free(m);
	stow_metrics_free(NULL);
}

static void test_render_cap(void **state)
{
	stow_metrics *m = NULL;
	stow_buf b;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	reg_family(m, "capped", STOW_METRIC_GAUGE, NULL, "a help text");
	stow_buf_init(&b, 16);
	assert_int_equal(stow_metrics_render(m, &b), STOW_ENOMEM);
	stow_buf_free(&b);
	stow_metrics_free(m);
}

/* --- concurrency --------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 20000

typedef struct worker {
	stow_metrics *m;
	int id;
} worker;

static void *hammer(void *arg)
{
	worker *w = arg;
	stow_metric_family *c = stow_metrics_find(w->m, "conc_total");
	stow_metric_family *h = stow_metrics_find(w->m, "conc_seconds");
	stow_metric_family *g = stow_metrics_find(w->m, "conc_gauge");
	static const char *const names[] = {"a", "b", "c", "d"};

	for (int i = 0; i < ROUNDS; i++) {
		const char *s = names[(i + w->id) % 4];

		if (stow_metric_add(c, STOW_METRIC_LABELS(s), 1) != 0 ||
		    stow_metric_observe(h, STOW_METRIC_LABELS(s),
					(double)(i % 20)) != 0 ||
		    stow_metric_add(g, NULL, w->id % 2 ? 1 : -1) != 0)
			return (void *)1;
	}
	return NULL;
}

static atomic_int render_stop;

static void *renderer(void *arg)
{
	stow_metrics *m = arg;
	long n = 0;

	while (!atomic_load(&render_stop)) {
		stow_buf b;

		stow_buf_init(&b, 0);
		if (stow_metrics_render(m, &b) != 0 ||
		    !strstr((char *)b.data, "# TYPE conc_total counter"))
			n = -1000000;
		stow_buf_free(&b);
		n++;
	}
	return (void *)(intptr_t)n;
}

static void test_concurrent_updates(void **state)
{
	stow_metrics *m = NULL;
	pthread_t t[THREADS], r;
	worker w[THREADS];
	unsigned long long total_count = 0;
	double total = 0, v;
	void *ret;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	reg_family(m, "conc_total", STOW_METRIC_COUNTER, by_schedule, "c");
	reg_family(m, "conc_seconds", STOW_METRIC_HISTOGRAM, by_schedule, "h");
	reg_family(m, "conc_gauge", STOW_METRIC_GAUGE, NULL, "g");
	atomic_store(&render_stop, 0);
	assert_int_equal(pthread_create(&r, NULL, renderer, m), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker){m, i};
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	atomic_store(&render_stop, 1);
	assert_int_equal(pthread_join(r, &ret), 0);
	assert_true((intptr_t)ret >= 0);
	for (int i = 0; i < 4; i++) {
		const char *s = (const char *[]){"a", "b", "c", "d"}[i];
		unsigned long long n = 0;

		assert_int_equal(
		    stow_metric_get(stow_metrics_find(m, "conc_total"),
				    STOW_METRIC_LABELS(s), &v, NULL),
		    0);
		assert_true(v == THREADS * ROUNDS / 4);
		total += v;
		assert_int_equal(
		    stow_metric_get(stow_metrics_find(m, "conc_seconds"),
				    STOW_METRIC_LABELS(s), NULL, &n),
		    0);
		total_count += n;
	}
	assert_true(total == (double)THREADS * ROUNDS);
	assert_int_equal(total_count, (unsigned long long)THREADS * ROUNDS);
	assert_int_equal(
	    stow_metric_get(stow_metrics_find(m, "conc_gauge"), NULL, &v, NULL),
	    0);
	assert_true(v == 0); /* four threads up, four down */
	stow_metrics_free(m);
}

/* --- HTTP endpoint ------------------------------------------------------- */

/* One HTTP/1.0 exchange with 127.0.0.1:port; the whole response. */
static char *http(int port, const char *method, const char *path)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char req[256];
	stow_buf b;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect to port %d: %s", port, strerror(errno));
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.0\r\nHost: localhost\r\n%s\r\n", method, path,
		 strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
	assert_true(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	stow_buf_init(&b, 0);
	for (;;) {
		assert_int_equal(stow_buf_reserve(&b, 4096), 0);
		n = read(fd, b.data + b.len, 4096);
		if (n <= 0)
			break;
		b.len += (size_t)n;
	}
	close(fd);
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	return (char *)stow_buf_steal(&b, NULL);
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	assert_non_null(p);
	return p + 4;
}

static void test_http_endpoint(void **state)
{
	stow_metrics *m = NULL;
	stow_metrics_http *h = NULL;
	stow_metric_family *c;
	char *resp, *want;
	int port;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	c = reg_family(m, "velero_backup_attempt_total", STOW_METRIC_COUNTER,
		       by_schedule, "Total number of attempted backups");
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("x\"y"), 4), 0);
	if (stow_metrics_http_start(&h, "127.0.0.1:0", m) != 0)
		fail_msg("start: %s", stow_err_msg());
	port = stow_metrics_http_port(h);
	assert_true(port > 0);
	{
		char want_bound[32];

		snprintf(want_bound, sizeof(want_bound), "127.0.0.1:%d", port);
		assert_string_equal(stow_metrics_http_bound(h), want_bound);
	}

	resp = http(port, "GET", "/metrics");
	assert_true(strncmp(resp, "HTTP/1.0 200", 12) == 0 ||
		    strncmp(resp, "HTTP/1.1 200", 12) == 0);
	assert_non_null(strstr(resp, "Content-Type: text/plain; "
				     "version=0.0.4; charset=utf-8\r\n"));
	want = render(m);
	assert_string_equal(body_of(resp), want);
	free(want);
	free(resp);

	resp = http(port, "GET", "/metrics?x=1");
	assert_non_null(strstr(resp, " 200 "));
	free(resp);

	resp = http(port, "GET", "/healthz");
	assert_non_null(strstr(resp, " 200 "));
	assert_string_equal(body_of(resp), "ok");
	free(resp);

	resp = http(port, "HEAD", "/metrics");
	assert_non_null(strstr(resp, " 200 "));
	assert_string_equal(body_of(resp), "");
	free(resp);

	resp = http(port, "GET", "/");
	assert_non_null(strstr(resp, " 404 "));
	free(resp);
	resp = http(port, "GET", "/metrics/x");
	assert_non_null(strstr(resp, " 404 "));
	free(resp);

	resp = http(port, "POST", "/metrics");
	assert_non_null(strstr(resp, " 405 "));
	assert_non_null(strstr(resp, "Allow: GET, HEAD\r\n"));
	free(resp);

	/* Updates show on the next scrape. */
	assert_int_equal(stow_metric_add(c, STOW_METRIC_LABELS("x\"y"), 1), 0);
	resp = http(port, "GET", "/metrics");
	assert_non_null(strstr(body_of(resp), "velero_backup_attempt_total{"
					      "schedule=\"x\\\"y\"} 5\n"));
	free(resp);

	stow_metrics_http_stop(h);
	stow_metrics_http_stop(NULL);
	stow_metrics_free(m);
}

static void test_http_addresses(void **state)
{
	static const char *const bad[] = {
	    "8085",	    /* no port */
	    "localhost",    /* no port */
	    ":",	    /* empty port */
	    ":http",	    /* named port */
	    ":65536",	    /* out of range */
	    ":-1",	    /* negative */
	    ":80 ",	    /* trailing junk */
	    "::1:8085",	    /* IPv6 without brackets */
	    "[::1]8085",    /* no colon after the bracket */
	    "[::1",	    /* unclosed */
	    "256.1.1.1:80", /* not an address, not a name */
	    "no-such-host.invalid:8085",
	    "",
	};
	stow_metrics *m = NULL;
	stow_metrics_http *h = NULL, *h2 = NULL;
	char addr[64];
	int port;

	(void)state;
	assert_int_equal(stow_metrics_new(&m), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = stow_metrics_http_start(&h, bad[i], m);

		if (rc != STOW_EINVAL)
			fail_msg("'%s': want STOW_EINVAL, got %d (%s)", bad[i],
				 rc, stow_err_msg());
		assert_null(h);
		assert_true(bad[i][0] == '\0' ||
			    strstr(stow_err_msg(), bad[i]) != NULL);
	}

	/* Busy: a clear EIO naming the address; freed by stop. */
	assert_int_equal(stow_metrics_http_start(&h, "127.0.0.1:0", m), 0);
	port = stow_metrics_http_port(h);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	assert_int_equal(stow_metrics_http_start(&h2, addr, m), STOW_EIO);
	assert_non_null(strstr(stow_err_msg(), addr));
	assert_non_null(strstr(stow_err_msg(), "in use"));
	stow_metrics_http_stop(h);
	assert_int_equal(stow_metrics_http_start(&h2, addr, m), 0);
	stow_metrics_http_stop(h2);

	/* Names resolve; ":port" listens everywhere (loopback reaches it). */
	assert_int_equal(stow_metrics_http_start(&h, "localhost:0", m), 0);
	stow_metrics_http_stop(h);
	assert_int_equal(stow_metrics_http_start(&h, ":0", m), 0);
	{
		char *resp = http(stow_metrics_http_port(h), "GET", "/healthz");

		assert_string_equal(body_of(resp), "ok");
		free(resp);
	}
	stow_metrics_http_stop(h);
	/* IPv6 loopback where the machine has it. */
	if (stow_metrics_http_start(&h, "[::1]:0", m) == 0) {
		assert_true(strncmp(stow_metrics_http_bound(h), "[::1]:", 6) ==
			    0);
		stow_metrics_http_stop(h);
	} else {
		print_message("no IPv6 loopback here: %s\n", stow_err_msg());
	}
	stow_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exposition_exact),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_histogram_buckets),
	    cmocka_unit_test(test_register_errors),
	    cmocka_unit_test(test_update_errors_and_bounds),
	    cmocka_unit_test(test_render_cap),
	    cmocka_unit_test(test_concurrent_updates),
	    cmocka_unit_test(test_http_endpoint),
	    cmocka_unit_test(test_http_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
