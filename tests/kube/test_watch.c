/* Watch and informer against kubesim (run by tests/kube/with_kubesim.sh):
 * event order and types, bookmarks, resume after the emulator drops the
 * streams, 410 after compaction, stop; an informer's cache through drops
 * and compaction (relist with synthetic DELETED). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/kube.h"
#include "util/err.h"

static stow_kube *k;
static const stow_kube_resource *cm;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CHECK(expr)                                                            \
	do {                                                                   \
		int check_rc_ = (expr);                                        \
		if (check_rc_ != 0)                                            \
			fail_msg("%s: %d %s", #expr, check_rc_,                \
				 stow_err_msg());                              \
	} while (0)

static int setup(void **state)
{
	stow_kube_config *cfg = NULL;
	stow_kube_load_opts lo = {0};

	(void)state;
	CHECK(stow_kube_config_load(&cfg, &lo));
	CHECK(stow_kube_new(&k, cfg));
	stow_kube_config_free(cfg);
	CHECK(stow_kube_resource_lookup(k, "configmaps", &cm));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stow_kube_free(k);
	return 0;
}

static void control(const char *what)
{
	char path[128];

	snprintf(path, sizeof(path), "/kubesim/%s", what);
	CHECK(stow_kube_request(k, "POST", path, "application/json", "{}", 2,
				NULL, NULL));
}

static void make_ns(const char *ns)
{
	const stow_kube_resource *r;
	json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind",
			      "Namespace", "metadata", "name", ns);
	int rc;

	CHECK(stow_kube_resource_lookup(k, "namespaces", &r));
	rc = stow_kube_create(k, r, NULL, o, NULL);
	json_decref(o);
	if (rc && rc != STOW_EEXIST)
		fail_msg("namespace %s: %s", ns, stow_err_msg());
}

static void cm_create(const char *ns, const char *name, const char *v)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion",
			      "v1", "kind", "ConfigMap", "metadata", "name",
			      name, "namespace", ns, "data", "v", v);

	CHECK(stow_kube_create(k, cm, ns, o, NULL));
	json_decref(o);
}

static void cm_set(const char *ns, const char *name, const char *v)
{
	char patch[128];

	snprintf(patch, sizeof(patch), "{\"data\":{\"v\":\"%s\"}}", v);
	CHECK(stow_kube_patch(k, cm, ns, name, STOW_KUBE_PATCH_MERGE, patch,
			      false, NULL));
}

static void cm_delete(const char *ns, const char *name)
{
	CHECK(stow_kube_delete(k, cm, ns, name, NULL, NULL));
}

static char *current_rv(const char *ns)
{
	json_t *l = NULL;
	char *rv;

	CHECK(stow_kube_list(k, cm, ns, NULL, &l));
	rv = strdup(json_string_value(json_object_get(
	    json_object_get(l, "metadata"), "resourceVersion")));
	json_decref(l);
	assert_non_null(rv);
	return rv;
}

/* ---- a recorded watch -------------------------------------------------------
 */

typedef struct rec {
	pthread_mutex_t mu;
	int n;
	int type[256];
	char name[256][32];
	char val[256][16];
	char rv[256][24];
	int bookmarks;
} rec;

static int record(void *ctx, stow_kube_event_type t, json_t *obj)
{
	rec *r = ctx;
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *rv =
	    json_string_value(json_object_get(md, "resourceVersion"));
	const char *v = json_string_value(
	    json_object_get(json_object_get(obj, "data"), "v"));

	pthread_mutex_lock(&r->mu);
	if (t == STOW_KUBE_BOOKMARK) {
		r->bookmarks++;
	} else if (r->n < 256) {
		r->type[r->n] = t;
		snprintf(r->name[r->n], sizeof(r->name[0]), "%s",
			 name ? name : "");
		snprintf(r->val[r->n], sizeof(r->val[0]), "%s", v ? v : "");
		snprintf(r->rv[r->n], sizeof(r->rv[0]), "%s", rv ? rv : "");
		r->n++;
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static int rec_count(rec *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static void test_events_in_order(void **state)
{
	stow_kube_list_opts o = {0};
	rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	char *rv0, *last = NULL;
	int64_t t0;

	(void)state;
	make_ns("w1");
	rv0 = current_rv("w1");
	cm_create("w1", "a", "1");
	cm_set("w1", "a", "2");
	cm_create("w1", "b", "1");
	cm_delete("w1", "a");
	/* From rv0 the server replays what happened since; the stream ends
	 * at timeoutSeconds with 0. */
	o.resource_version = rv0;
	o.timeout_seconds = 1;
	t0 = now_ms();
	CHECK(stow_kube_watch(k, cm, "w1", &o, record, &r, NULL, &last));
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.type[0], STOW_KUBE_ADDED);
	assert_string_equal(r.name[0], "a");
	assert_int_equal(r.type[1], STOW_KUBE_MODIFIED);
	assert_string_equal(r.val[1], "2");
	assert_int_equal(r.type[2], STOW_KUBE_ADDED);
	assert_string_equal(r.name[2], "b");
	assert_int_equal(r.type[3], STOW_KUBE_DELETED);
	assert_string_equal(r.name[3], "a");
	assert_non_null(last);
	assert_string_equal(last, r.rv[3]);
	free(rv0);
	free(last);
}

static void test_bookmarks(void **state)
{
	stow_kube_list_opts o = {0};
	rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	char *rv0, *last = NULL;

	(void)state;
	rv0 = current_rv("w1");
	o.resource_version = rv0;
	o.allow_bookmarks = true;
	o.timeout_seconds = 4; /* kubesim sends one every 3 s */
	CHECK(stow_kube_watch(k, cm, "w1", &o, record, &r, NULL, &last));
	assert_int_equal(r.n, 0);
	assert_true(r.bookmarks >= 1);
	/* A bookmark moves the resume point too. */
	assert_non_null(last);
	free(rv0);
	free(last);
}

typedef struct bg_watch {
	pthread_t th;
	const char *ns;
	char *rv; /* in: start; out: last_rv */
	rec *r;
	volatile int stop;
	int rc;
	int64_t ended_ms;
} bg_watch;

static void *bg_main(void *arg)
{
	bg_watch *b = arg;
	stow_kube_list_opts o = {0};

	o.resource_version = b->rv;
	o.timeout_seconds = 60;
	b->rc =
	    stow_kube_watch(k, cm, b->ns, &o, record, b->r, &b->stop, &b->rv);
	b->ended_ms = now_ms();
	return NULL;
}

static void wait_count(rec *r, int n, long timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	while (rec_count(r) < n && now_ms() < end)
		sleep_ms(20);
	assert_int_equal(rec_count(r), n);
}

static void test_resume_after_drop(void **state)
{
	rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	bg_watch b = {.ns = "w2", .r = &r};
	stow_kube_list_opts o = {0};

	(void)state;
	make_ns("w2");
	b.rv = current_rv("w2");
	assert_int_equal(pthread_create(&b.th, NULL, bg_main, &b), 0);
	sleep_ms(300);
	cm_create("w2", "c1", "1");
	wait_count(&r, 1, 5000);
	control("drop-watches");
	pthread_join(b.th, NULL);
	if (b.rc != 0)
		fail_msg("watch after drop: %d %s", b.rc, stow_err_msg());
	assert_string_equal(b.rv, r.rv[0]);

	/* Changes while nobody watches, then resume from last_rv: each
	 * arrives once, c1 is not repeated. */
	cm_create("w2", "c2", "1");
	cm_set("w2", "c1", "2");
	cm_delete("w2", "c2");
	o.resource_version = b.rv;
	o.timeout_seconds = 1;
	CHECK(stow_kube_watch(k, cm, "w2", &o, record, &r, NULL, &b.rv));
	assert_int_equal(r.n, 4);
	assert_int_equal(r.type[1], STOW_KUBE_ADDED);
	assert_string_equal(r.name[1], "c2");
	assert_int_equal(r.type[2], STOW_KUBE_MODIFIED);
	assert_string_equal(r.name[2], "c1");
	assert_string_equal(r.val[2], "2");
	assert_int_equal(r.type[3], STOW_KUBE_DELETED);
	assert_string_equal(r.name[3], "c2");

	/* An abrupt drop (socket shut down mid-stream) ends with 0 too. */
	b.stop = 0;
	assert_int_equal(pthread_create(&b.th, NULL, bg_main, &b), 0);
	sleep_ms(300);
	CHECK(stow_kube_request(k, "POST", "/kubesim/drop-watches?abrupt=1",
				"application/json", "{}", 2, NULL, NULL));
	pthread_join(b.th, NULL);
	if (b.rc != 0)
		fail_msg("watch after abrupt drop: %d %s", b.rc,
			 stow_err_msg());
	free(b.rv);
}

static void test_expired_after_compact(void **state)
{
	stow_kube_list_opts o = {0};
	rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	char *rv0, *last = NULL;
	int rc;

	(void)state;
	make_ns("w3");
	rv0 = current_rv("w3");
	cm_create("w3", "d1", "1");
	control("compact");
	o.resource_version = rv0;
	o.timeout_seconds = 5;
	rc = stow_kube_watch(k, cm, "w3", &o, record, &r, NULL, &last);
	assert_int_equal(rc, STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "expired"));
	assert_int_equal(r.n, 0);
	free(rv0);
	free(last);
}

static void test_stop(void **state)
{
	rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	bg_watch b = {.ns = "w1", .r = &r};
	int64_t t0;

	(void)state;
	b.rv = current_rv("w1");
	assert_int_equal(pthread_create(&b.th, NULL, bg_main, &b), 0);
	sleep_ms(500);
	t0 = now_ms();
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
	pthread_join(b.th, NULL);
	assert_int_equal(b.rc, STOW_EINTR);
	assert_true(b.ended_ms - t0 < 3000);
	free(b.rv);
}

static void test_bad_requests(void **state)
{
	stow_kube_list_opts o = {0};
	rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	int rc;

	(void)state;
	/* No resourceVersion: refused before any request. */
	assert_int_equal(
	    stow_kube_watch(k, cm, "w1", &o, record, &r, NULL, NULL),
	    STOW_EINVAL);
	/* The server refuses a bad selector with a Status. */
	o.resource_version = "0";
	o.label_selector = "a in (";
	o.timeout_seconds = 1;
	rc = stow_kube_watch(k, cm, "w1", &o, record, &r, NULL, NULL);
	assert_true(rc < 0);
}

/* ---- informer
 * ---------------------------------------------------------------- */

typedef struct inf_log {
	pthread_mutex_t mu;
	int added, modified, deleted;
	char last_deleted[32];
	volatile int gate_closed; /* handler waits while set */
	volatile int in_handler;
} inf_log;

static void on_inf(void *ctx, stow_kube_event_type t, json_t *old_obj,
		   json_t *obj)
{
	inf_log *l = ctx;
	const char *name = json_string_value(
	    json_object_get(json_object_get(obj, "metadata"), "name"));

	pthread_mutex_lock(&l->mu);
	if (t == STOW_KUBE_ADDED) {
		assert_null(old_obj);
		l->added++;
	} else if (t == STOW_KUBE_MODIFIED) {
		assert_non_null(old_obj);
		l->modified++;
	} else if (t == STOW_KUBE_DELETED) {
		l->deleted++;
		snprintf(l->last_deleted, sizeof(l->last_deleted), "%s",
			 name ? name : "");
	}
	pthread_mutex_unlock(&l->mu);
	if (name && strcmp(name, "gate") == 0) {
		__atomic_store_n(&l->in_handler, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&l->gate_closed, __ATOMIC_ACQUIRE))
			sleep_ms(10);
		__atomic_store_n(&l->in_handler, 0, __ATOMIC_RELEASE);
	}
}

/* A consistent copy of the counters (the handler runs on the informer's
 * thread). */
static inf_log snap(inf_log *l)
{
	inf_log c;

	pthread_mutex_lock(&l->mu);
	c.added = l->added;
	c.modified = l->modified;
	c.deleted = l->deleted;
	memcpy(c.last_deleted, l->last_deleted, sizeof(c.last_deleted));
	pthread_mutex_unlock(&l->mu);
	return c;
}

/* The informer's view equals the server's list (names and versions). */
static bool cache_matches(stow_kube_informer *inf, const char *ns)
{
	json_t *l = NULL, *items, *mine, *it;
	size_t i;
	bool same;

	CHECK(stow_kube_list(k, cm, ns, NULL, &l));
	items = json_object_get(l, "items");
	mine = stow_kube_informer_list(inf, ns);
	same = json_array_size(items) == json_array_size(mine);
	json_array_foreach(items, i, it)
	{
		json_t *md = json_object_get(it, "metadata");
		json_t *c = stow_kube_informer_get(
		    inf, ns, json_string_value(json_object_get(md, "name")));
		const char *rv1 =
		    json_string_value(json_object_get(md, "resourceVersion"));
		const char *rv2 = json_string_value(json_object_get(
		    json_object_get(c, "metadata"), "resourceVersion"));

		if (!c || !rv1 || !rv2 || strcmp(rv1, rv2) != 0)
			same = false;
		json_decref(c);
	}
	json_decref(mine);
	json_decref(l);
	return same;
}

static void wait_matches(stow_kube_informer *inf, const char *ns)
{
	int64_t end = now_ms() + 15000;

	while (!cache_matches(inf, ns)) {
		if (now_ms() > end)
			fail_msg("informer cache never matched the server");
		sleep_ms(50);
	}
}

static void test_informer(void **state)
{
	inf_log log = {.mu = PTHREAD_MUTEX_INITIALIZER};
	stow_kube_informer_handler h = {.on_event = on_inf, .ctx = &log};
	stow_kube_informer *inf = NULL;
	json_t *o;
	int64_t end;

	(void)state;
	make_ns("inf");
	cm_create("inf", "i1", "1");
	cm_create("inf", "i2", "1");
	cm_create("inf", "i3", "1");
	CHECK(stow_kube_informer_start(&inf, k, cm, "inf", NULL, &h));
	CHECK(stow_kube_informer_wait_synced(inf, 10000));
	assert_true(cache_matches(inf, "inf"));
	assert_int_equal(snap(&log).added, 3);
	assert_null(stow_kube_informer_get(inf, "inf", "nope"));

	/* Live events. */
	cm_create("inf", "i4", "1");
	cm_set("inf", "i1", "2");
	cm_delete("inf", "i2");
	wait_matches(inf, "inf");
	o = stow_kube_informer_get(inf, "inf", "i1");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(o, "data"), "v")),
	    "2");
	json_decref(o);
	end = now_ms() + 5000;
	while ((snap(&log).added < 4 || snap(&log).modified < 1 ||
		snap(&log).deleted < 1) &&
	       now_ms() < end)
		sleep_ms(20);
	assert_int_equal(snap(&log).added, 4);
	assert_true(snap(&log).modified >= 1);
	assert_int_equal(snap(&log).deleted, 1);

	/* Dropped streams: the informer resumes. */
	control("drop-watches");
	cm_create("inf", "i5", "1");
	cm_delete("inf", "i3");
	wait_matches(inf, "inf");

	/* Compaction while the informer is behind: hold its thread in the
	 * handler, end its stream, change things, compact; on resume its
	 * resourceVersion is gone (410) and it must relist, noticing i4's
	 * deletion only by its absence (a synthetic DELETED). */
	__atomic_store_n(&log.gate_closed, 1, __ATOMIC_RELEASE);
	cm_create("inf", "gate", "1");
	end = now_ms() + 5000;
	while (!__atomic_load_n(&log.in_handler, __ATOMIC_ACQUIRE) &&
	       now_ms() < end)
		sleep_ms(10);
	assert_true(__atomic_load_n(&log.in_handler, __ATOMIC_ACQUIRE));
	control("drop-watches");
	cm_delete("inf", "i4");
	cm_create("inf", "i6", "1");
	control("compact");
	pthread_mutex_lock(&log.mu);
	log.deleted = 0;
	log.last_deleted[0] = '\0';
	pthread_mutex_unlock(&log.mu);
	__atomic_store_n(&log.gate_closed, 0, __ATOMIC_RELEASE);
	wait_matches(inf, "inf");
	end = now_ms() + 5000;
	while (snap(&log).deleted < 1 && now_ms() < end)
		sleep_ms(20);
	assert_int_equal(snap(&log).deleted, 1);
	assert_string_equal(snap(&log).last_deleted, "i4");
	o = stow_kube_informer_get(inf, "inf", "i6");
	assert_non_null(o);
	json_decref(o);

	stow_kube_informer_stop(inf);
}

static void resync_count(void *ctx, stow_kube_event_type t, json_t *old_obj,
			 json_t *obj)
{
	int *n = ctx;

	if (t == STOW_KUBE_MODIFIED && old_obj == obj)
		__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

static void test_informer_resync_and_wait(void **state)
{
	int resyncs = 0;
	stow_kube_informer_handler h = {
	    .on_event = resync_count, .ctx = &resyncs, .resync_ms = 1000};
	stow_kube_informer *inf = NULL;
	int64_t end;

	(void)state;
	make_ns("rs");
	cm_create("rs", "r1", "1");
	CHECK(stow_kube_informer_start(&inf, k, cm, "rs", NULL, &h));
	CHECK(stow_kube_informer_wait_synced(inf, 10000));
	end = now_ms() + 8000;
	while (__atomic_load_n(&resyncs, __ATOMIC_RELAXED) < 2 &&
	       now_ms() < end)
		sleep_ms(50);
	assert_true(__atomic_load_n(&resyncs, __ATOMIC_RELAXED) >= 2);
	stow_kube_informer_stop(inf);

	/* A list that keeps failing: wait_synced times out and says why. */
	{
		json_t *f = json_pack(
		    "{s:s,s:s,s:i,s:i}", "method", "GET", "path_regex",
		    "/namespaces/rs/configmaps$", "status", 403, "count", 1000);
		char *body = json_dumps(f, JSON_COMPACT);

		CHECK(stow_kube_request(k, "POST", "/kubesim/faults",
					"application/json", body, strlen(body),
					NULL, NULL));
		free(body);
		json_decref(f);
	}
	CHECK(stow_kube_informer_start(&inf, k, cm, "rs", NULL, &h));
	assert_int_equal(stow_kube_informer_wait_synced(inf, 1500),
			 STOW_ETIMEOUT);
	assert_non_null(strstr(stow_err_msg(), "last error"));
	end = now_ms();
	stow_kube_informer_stop(inf);
	assert_true(now_ms() - end < 3000);
	CHECK(stow_kube_request(k, "DELETE", "/kubesim/faults", NULL, NULL, 0,
				NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events_in_order),
	    cmocka_unit_test(test_bookmarks),
	    cmocka_unit_test(test_resume_after_drop),
	    cmocka_unit_test(test_expired_after_compact),
	    cmocka_unit_test(test_stop),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_informer),
	    cmocka_unit_test(test_informer_resync_and_wait),
	};

	/* STOW_TEST_FILTER=test_x runs only the tests matching it. */
	if (getenv("STOW_TEST_FILTER"))
		cmocka_set_test_filter(getenv("STOW_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
