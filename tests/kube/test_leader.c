/* Leases and leader election against kubesim (run by
 * tests/kube/with_kubesim.sh): one candidate wins, takeover after the
 * holder stops renewing, release hands over at once, conflicts, and
 * leader_run with two candidates. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kube/kube.h"
#include "util/err.h"

#define CHECK(expr)                                                            \
	do {                                                                   \
		int check_rc_ = (expr);                                        \
		if (check_rc_ != 0)                                            \
			fail_msg("%s: %d %s", #expr, check_rc_,                \
				 stow_err_msg());                              \
	} while (0)

static stow_kube *ka, *kb; /* two clients, as two replicas would have */
static const stow_kube_resource *leases;

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

static int setup(void **state)
{
	stow_kube_config *cfg = NULL;
	stow_kube_load_opts lo = {0};

	(void)state;
	CHECK(stow_kube_config_load(&cfg, &lo));
	CHECK(stow_kube_new(&ka, cfg));
	CHECK(stow_kube_new(&kb, cfg));
	stow_kube_config_free(cfg);
	CHECK(stow_kube_resource_for_kind(ka, "coordination.k8s.io/v1", "Lease",
					  &leases));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stow_kube_free(ka);
	stow_kube_free(kb);
	return 0;
}

static json_t *get_lease(const char *name)
{
	json_t *l = NULL;

	CHECK(stow_kube_get(ka, leases, "default", name, &l));
	return l;
}

static const char *spec_str(json_t *l, const char *f)
{
	return json_string_value(
	    json_object_get(json_object_get(l, "spec"), f));
}

static json_int_t spec_int(json_t *l, const char *f)
{
	return json_integer_value(
	    json_object_get(json_object_get(l, "spec"), f));
}

static void test_try_takeover_release(void **state)
{
	stow_kube_leader_opts a = {.namespace = "default",
				   .name = "l1",
				   .identity = "replica-a",
				   .lease_duration_ms = 2000};
	stow_kube_leader_opts b = a;
	bool lead = false;
	json_t *l;
	char acquired[64];

	(void)state;
	b.identity = "replica-b";
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_true(lead);
	CHECK(stow_kube_lease_try(kb, &b, &lead));
	assert_false(lead);
	l = get_lease("l1");
	assert_string_equal(spec_str(l, "holderIdentity"), "replica-a");
	assert_int_equal(spec_int(l, "leaseDurationSeconds"), 2);
	assert_int_equal(spec_int(l, "leaseTransitions"), 0);
	/* MicroTime: 2026-11-25T16:45:12.123456Z */
	assert_int_equal(strlen(spec_str(l, "renewTime")), 27);
	assert_int_equal(spec_str(l, "renewTime")[19], '.');
	snprintf(acquired, sizeof(acquired), "%s", spec_str(l, "acquireTime"));
	json_decref(l);

	/* Renewal keeps acquireTime and moves renewTime. */
	sleep_ms(100);
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_true(lead);
	l = get_lease("l1");
	assert_string_equal(spec_str(l, "acquireTime"), acquired);
	assert_string_not_equal(spec_str(l, "renewTime"), acquired);
	json_decref(l);

	/* The holder goes quiet: within the duration nothing changes, after
	 * it the other takes over. */
	sleep_ms(1000);
	CHECK(stow_kube_lease_try(kb, &b, &lead));
	assert_false(lead);
	sleep_ms(1300);
	CHECK(stow_kube_lease_try(kb, &b, &lead));
	assert_true(lead);
	l = get_lease("l1");
	assert_string_equal(spec_str(l, "holderIdentity"), "replica-b");
	assert_int_equal(spec_int(l, "leaseTransitions"), 1);
	json_decref(l);
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_false(lead);

	/* Release hands over at once; releasing what is not ours is a
	 * no-op. */
	CHECK(stow_kube_lease_release(ka, &a));
	l = get_lease("l1");
	assert_string_equal(spec_str(l, "holderIdentity"), "replica-b");
	json_decref(l);
	CHECK(stow_kube_lease_release(kb, &b));
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_true(lead);
	l = get_lease("l1");
	assert_string_equal(spec_str(l, "holderIdentity"), "replica-a");
	assert_int_equal(spec_int(l, "leaseTransitions"), 2);
	json_decref(l);
}

static void test_conflict(void **state)
{
	stow_kube_leader_opts a = {.namespace = "default",
				   .name = "l2",
				   .identity = "replica-a",
				   .lease_duration_ms = 2000};
	bool lead = false;
	json_t *stale, *f;
	char *body;

	(void)state;
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_true(lead);
	stale = get_lease("l2");
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_true(lead);
	/* The server refuses a write from a stale read. */
	assert_int_equal(
	    stow_kube_update(kb, leases, "default", stale, false, NULL),
	    STOW_ECONFLICT);
	json_decref(stale);

	/* A renewal that loses a race (409) is "not leader", no error. */
	f = json_pack("{s:s,s:s,s:i,s:i}", "method", "PUT", "path_regex",
		      "/leases/l2$", "status", 409, "count", 1);
	body = json_dumps(f, JSON_COMPACT);
	CHECK(stow_kube_request(ka, "POST", "/kubesim/faults",
				"application/json", body, strlen(body), NULL,
				NULL));
	free(body);
	json_decref(f);
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_false(lead);
	CHECK(stow_kube_lease_try(ka, &a, &lead));
	assert_true(lead);

	/* Two candidates racing for a free lease: exactly one wins. */
	{
		stow_kube_leader_opts c = {.namespace = "default",
					   .name = "l3",
					   .identity = "c1",
					   .lease_duration_ms = 5000};
		stow_kube_leader_opts d = c;
		bool lc = false, ld = false;

		d.identity = "c2";
		CHECK(stow_kube_lease_try(ka, &c, &lc));
		CHECK(stow_kube_lease_try(kb, &d, &ld));
		assert_true(lc != ld);
	}

	/* Bad options. */
	a.identity = NULL;
	assert_int_equal(stow_kube_lease_try(ka, &a, &lead), STOW_EINVAL);
}

/* ---- leader_run ---------------------------------------------------------- */

typedef struct candidate {
	stow_kube *k;
	stow_kube_leader_opts o;
	pthread_t th;
	volatile int stop;
	int rc;
	int terms; /* how often lead() was called */
} candidate;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int leaders_now, max_leaders;
static const char *current;

static void lead(void *ctx, const volatile int *lost)
{
	candidate *c = ctx;

	pthread_mutex_lock(&mu);
	leaders_now++;
	if (leaders_now > max_leaders)
		max_leaders = leaders_now;
	current = c->o.identity;
	c->terms++;
	pthread_mutex_unlock(&mu);
	while (!__atomic_load_n(lost, __ATOMIC_ACQUIRE))
		sleep_ms(20);
	pthread_mutex_lock(&mu);
	leaders_now--;
	if (current == c->o.identity)
		current = NULL;
	pthread_mutex_unlock(&mu);
}

static void *run_main(void *arg)
{
	candidate *c = arg;

	c->rc = stow_kube_leader_run(c->k, &c->o, lead, c, &c->stop);
	return NULL;
}

static const char *who_leads(void)
{
	const char *w;

	pthread_mutex_lock(&mu);
	w = current;
	pthread_mutex_unlock(&mu);
	return w;
}

static void test_leader_run(void **state)
{
	candidate a = {.k = ka,
		       .o = {.namespace = "default",
			     .name = "run",
			     .identity = "run-a",
			     .lease_duration_ms = 5000,
			     .renew_deadline_ms = 1500,
			     .retry_period_ms = 200}};
	candidate b = a;
	const char *first, *second;
	int64_t t0;

	(void)state;
	b.k = kb;
	b.o.identity = "run-b";
	assert_int_equal(pthread_create(&a.th, NULL, run_main, &a), 0);
	assert_int_equal(pthread_create(&b.th, NULL, run_main, &b), 0);
	t0 = now_ms();
	while (!who_leads() && now_ms() - t0 < 5000)
		sleep_ms(20);
	first = who_leads();
	assert_non_null(first);
	/* Leadership is stable while the leader renews. */
	sleep_ms(3000);
	assert_ptr_equal(who_leads(), first);

	/* Stop the leader: it releases, the other takes over within a retry
	 * period or so, not a lease duration. */
	t0 = now_ms();
	if (first == a.o.identity) {
		__atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
		pthread_join(a.th, NULL);
	} else {
		__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
		pthread_join(b.th, NULL);
	}
	while (!(second = who_leads()) && now_ms() - t0 < 5000)
		sleep_ms(10);
	assert_non_null(second);
	assert_ptr_not_equal(second, first);
	/* Well under the 5 s lease duration: it was the release. */
	assert_true(now_ms() - t0 < 2500);
	if (first == a.o.identity) {
		__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
		pthread_join(b.th, NULL);
	} else {
		__atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
		pthread_join(a.th, NULL);
	}
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(max_leaders, 1);
	assert_int_equal(a.terms, 1);
	assert_int_equal(b.terms, 1);
	assert_null(who_leads());
}

/* Renewals fail (the API server refuses them): past renew_deadline the
 * leader is told it lost. */
static void test_leader_loses(void **state)
{
	candidate a = {.k = ka,
		       .o = {.namespace = "default",
			     .name = "lose",
			     .identity = "lose-a",
			     .lease_duration_ms = 3000,
			     .renew_deadline_ms = 1000,
			     .retry_period_ms = 200}};
	json_t *f;
	char *body;
	int64_t t0;

	(void)state;
	max_leaders = 0;
	assert_int_equal(pthread_create(&a.th, NULL, run_main, &a), 0);
	t0 = now_ms();
	while (!who_leads() && now_ms() - t0 < 5000)
		sleep_ms(20);
	assert_non_null(who_leads());
	f = json_pack("{s:s,s:s,s:i,s:i}", "method", "GET", "path_regex",
		      "/leases/lose$", "status", 500, "count", 100000);
	body = json_dumps(f, JSON_COMPACT);
	CHECK(stow_kube_request(ka, "POST", "/kubesim/faults",
				"application/json", body, strlen(body), NULL,
				NULL));
	free(body);
	json_decref(f);
	t0 = now_ms();
	while (who_leads() && now_ms() - t0 < 20000)
		sleep_ms(20);
	assert_null(who_leads());
	CHECK(stow_kube_request(ka, "DELETE", "/kubesim/faults", NULL, NULL, 0,
				NULL, NULL));
	/* Then it campaigns again and wins its own (still held) lease. */
	t0 = now_ms();
	while (!who_leads() && now_ms() - t0 < 10000)
		sleep_ms(20);
	assert_non_null(who_leads());
	assert_int_equal(a.terms, 2);
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
	pthread_join(a.th, NULL);
	assert_int_equal(a.rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_try_takeover_release),
	    cmocka_unit_test(test_conflict),
	    cmocka_unit_test(test_leader_run),
	    cmocka_unit_test(test_leader_loses),
	};

	/* STOW_TEST_FILTER=test_x runs only the tests matching it. */
	if (getenv("STOW_TEST_FILTER"))
		cmocka_set_test_filter(getenv("STOW_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
