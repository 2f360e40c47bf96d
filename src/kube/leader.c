/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leader election over a coordination.k8s.io/v1 Lease, the way client-go's
 * leaderelection package does it:
 *
 *   spec.holderIdentity        who leads ("" or absent: nobody)
 *   spec.leaseDurationSeconds  how long a renewal counts
 *   spec.acquireTime           when the current holder took it
 *   spec.renewTime             the holder's last renewal (RFC 3339, µs)
 *   spec.leaseTransitions      how many times the holder changed
 *
 * A lease is expired when renewTime + leaseDurationSeconds lies in the past
 * by our clock; this trusts that the clocks of the candidates roughly
 * agree (within a fraction of the duration). Every write is an update with
 * the resourceVersion we read, so two candidates racing for an expired
 * lease cannot both win: the loser gets 409 and stays a follower.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "kube/kube_internal.h"
#include "kube/ws.h"
#include "util/err.h"

#define LEASE_DURATION_DEFAULT_MS 15000
#define RENEW_DEADLINE_DEFAULT_MS 10000
#define RETRY_PERIOD_DEFAULT_MS 2000
#define SLEEP_SLICE_MS 50

/* Wall clock in microseconds (lease times are wall-clock by nature). */
static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* metav1.MicroTime: "2006-01-02T15:04:05.000000Z". */
static int format_micro(int64_t us, char out[32])
{
	time_t s = (time_t)(us / 1000000);
	unsigned frac = (unsigned)(us % 1000000) % 1000000u;
	struct tm tm;
	char sec[24];

	if (us < 0 || !gmtime_r(&s, &tm) ||
	    !strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm) ||
	    strlen(sec) != 19)
		return stow_err_set(STOW_EINVAL, "lease: time out of range");
	snprintf(out, 32, "%s.%06uZ", sec, frac);
	return 0;
}

/* RFC 3339 with an optional fraction, to microseconds. */
static int parse_micro(const char *s, int64_t *out)
{
	char whole[32];
	const char *frac = strchr(s, '.');
	time_t t;
	int64_t us = 0;

	if (!frac) {
		STOW_TRY(stow_kube_parse_time(s, &t));
		*out = (int64_t)t * 1000000;
		return 0;
	}
	/* Parse the time without its fraction, then add the fraction. */
	{
		size_t head = (size_t)(frac - s);
		const char *p = frac + 1;
		int digits = 0;
		int64_t scale = 100000;

		while (*p >= '0' && *p <= '9') {
			if (digits < 6)
				us += (*p - '0') * scale;
			scale /= 10;
			digits++;
			p++;
		}
		if (!digits || head + strlen(p) >= sizeof(whole))
			return stow_err_set(STOW_EINVAL,
					    "lease: bad time \"%.40s\"", s);
		memcpy(whole, s, head);
		memcpy(whole + head, p, strlen(p) + 1);
	}
	STOW_TRY(stow_kube_parse_time(whole, &t));
	*out = (int64_t)t * 1000000 + us;
	return 0;
}

static void opts_defaults(const stow_kube_leader_opts *in,
			  stow_kube_leader_opts *o)
{
	*o = *in;
	if (o->lease_duration_ms <= 0)
		o->lease_duration_ms = LEASE_DURATION_DEFAULT_MS;
	if (o->renew_deadline_ms <= 0)
		o->renew_deadline_ms = RENEW_DEADLINE_DEFAULT_MS;
	if (o->retry_period_ms <= 0)
		o->retry_period_ms = RETRY_PERIOD_DEFAULT_MS;
}

static int check_opts(const stow_kube_leader_opts *o)
{
	if (!o || !o->namespace || !*o->namespace || !o->name || !*o->name ||
	    !o->identity || !*o->identity)
		return stow_err_set(STOW_EINVAL,
				    "lease: namespace, name and identity are "
				    "required");
	return 0;
}

static int lease_resource(stow_kube *k, const stow_kube_resource **r)
{
	return stow_kube_resource_for_kind(k, "coordination.k8s.io/v1", "Lease",
					   r);
}

/* Fill spec for us as holder; acquired = a new term starts now. */
static int set_holder(json_t *spec, const stow_kube_leader_opts *o,
		      bool acquired, json_int_t transitions)
{
	char now[32];
	long secs = (o->lease_duration_ms + 999) / 1000;

	STOW_TRY(format_micro(wall_us(), now));
	if (json_object_set_new(spec, "holderIdentity",
				json_string(o->identity)) ||
	    json_object_set_new(spec, "leaseDurationSeconds",
				json_integer(secs)) ||
	    json_object_set_new(spec, "renewTime", json_string(now)) ||
	    (acquired &&
	     (json_object_set_new(spec, "acquireTime", json_string(now)) ||
	      json_object_set_new(spec, "leaseTransitions",
				  json_integer(transitions)))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

static int create_lease(stow_kube *k, const stow_kube_resource *r,
			const stow_kube_leader_opts *o, bool *is_leader)
{
	json_t *obj =
	    json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion",
		      "coordination.k8s.io/v1", "kind", "Lease", "metadata",
		      "name", o->name, "namespace", o->namespace, "spec");
	int rc;

	if (!obj)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = set_holder(json_object_get(obj, "spec"), o, true, 0);
	if (rc == 0)
		rc = stow_kube_create(k, r, o->namespace, obj, NULL);
	json_decref(obj);
	if (rc == STOW_EEXIST || rc == STOW_ECONFLICT) {
		/* Someone else created it first: they lead. */
		stow_err_clear();
		*is_leader = false;
		return 0;
	}
	if (rc)
		return rc;
	*is_leader = true;
	return 0;
}

int stow_kube_lease_try(stow_kube *k, const stow_kube_leader_opts *opts,
			bool *is_leader)
{
	stow_kube_leader_opts o;
	const stow_kube_resource *r;
	json_t *lease = NULL, *spec;
	const char *holder, *renew;
	json_int_t dur_s, transitions;
	int64_t renewed_us = 0;
	bool ours, expired;
	int rc;

	if (is_leader)
		*is_leader = false;
	STOW_TRY(check_opts(opts));
	if (!is_leader)
		return stow_err_set(STOW_EINVAL, "lease: is_leader required");
	opts_defaults(opts, &o);
	STOW_TRY(lease_resource(k, &r));
	rc = stow_kube_get(k, r, o.namespace, o.name, &lease);
	if (rc == STOW_ENOTFOUND)
		return create_lease(k, r, &o, is_leader);
	if (rc)
		return rc;
	spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		if (!spec || json_object_set_new(lease, "spec", spec)) {
			json_decref(lease);
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	renew = json_string_value(json_object_get(spec, "renewTime"));
	dur_s =
	    json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	transitions =
	    json_integer_value(json_object_get(spec, "leaseTransitions"));
	ours = holder && strcmp(holder, o.identity) == 0;
	if (!renew || parse_micro(renew, &renewed_us) != 0)
		renewed_us = 0; /* never renewed (or unreadable): expired */
	if (dur_s <= 0)
		dur_s = 1;
	expired = !holder || !*holder ||
		  wall_us() > renewed_us + (int64_t)dur_s * 1000000;
	if (!ours && !expired) {
		json_decref(lease);
		return 0; /* someone else leads */
	}
	rc = set_holder(spec, &o, !ours, ours ? transitions : transitions + 1);
	if (rc == 0)
		rc = stow_kube_update(k, r, o.namespace, lease, false, NULL);
	json_decref(lease);
	if (rc == STOW_ECONFLICT) {
		/* It changed since we read it: someone else renewed or took
		 * it first. Not an error; try again next period. */
		stow_err_clear();
		return 0;
	}
	if (rc)
		return rc;
	*is_leader = true;
	return 0;
}

int stow_kube_lease_release(stow_kube *k, const stow_kube_leader_opts *opts)
{
	const stow_kube_resource *r;
	json_t *lease = NULL, *spec;
	const char *holder;
	char now[32];
	int rc;

	STOW_TRY(check_opts(opts));
	STOW_TRY(lease_resource(k, &r));
	rc = stow_kube_get(k, r, opts->namespace, opts->name, &lease);
	if (rc == STOW_ENOTFOUND) {
		stow_err_clear();
		return 0;
	}
	if (rc)
		return rc;
	spec = json_object_get(lease, "spec");
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	if (!holder || strcmp(holder, opts->identity) != 0) {
		json_decref(lease);
		return 0; /* not ours to release */
	}
	/* As client-go does: no holder, a 1 s duration, renewed now; the
	 * next candidate takes it over at its next try. */
	rc = format_micro(wall_us(), now);
	if (rc == 0 &&
	    (json_object_del(spec, "holderIdentity") ||
	     json_object_set_new(spec, "leaseDurationSeconds",
				 json_integer(1)) ||
	     json_object_set_new(spec, "renewTime", json_string(now))))
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
	if (rc == 0)
		rc =
		    stow_kube_update(k, r, opts->namespace, lease, false, NULL);
	json_decref(lease);
	if (rc == STOW_ECONFLICT) {
		/* Changed under us: whoever changed it holds it now. */
		stow_err_clear();
		return 0;
	}
	return rc;
}

/* ---- leader_run -----------------------------------------------------------
 */

typedef struct lead_thread {
	void (*lead)(void *ctx, const volatile int *lost);
	void *ctx;
	int lost; /* atomic */
} lead_thread;

static void *lead_main(void *arg)
{
	lead_thread *t = arg;

	t->lead(t->ctx, &t->lost);
	return NULL;
}

static bool stop_requested(const volatile int *stop)
{
	return stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE) != 0;
}

/* Sleep ms in slices; true when asked to stop meanwhile. */
static bool wait_period(long ms, const volatile int *stop)
{
	int64_t end = stow_kube_now_ms() + ms;

	for (;;) {
		int64_t left = end - stow_kube_now_ms();
		struct timespec ts;

		if (stop_requested(stop))
			return true;
		if (left <= 0)
			return false;
		if (left > SLEEP_SLICE_MS)
			left = SLEEP_SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static int run_terms(stow_kube *k, const stow_kube_leader_opts *opts,
		     void (*lead)(void *ctx, const volatile int *lost),
		     void *ctx, const volatile int *stop)
{
	const stow_kube_leader_opts o = *opts;

	while (!stop_requested(stop)) {
		lead_thread t = {.lead = lead, .ctx = ctx};
		pthread_t th;
		int64_t last_renew;
		bool leader = false;
		int e;

		/* Campaign. Errors are transient here (the API server may be
		 * briefly away): keep trying every retry period. */
		while (!leader) {
			if (stow_kube_lease_try(k, &o, &leader) != 0)
				leader = false;
			if (leader || wait_period(o.retry_period_ms, stop))
				break;
		}
		if (!leader)
			break; /* stopping */
		last_renew = stow_kube_now_ms();
		e = pthread_create(&th, NULL, lead_main, &t);
		if (e) {
			(void)stow_kube_lease_release(k, &o);
			return stow_err_set(STOW_EIO,
					    "leader: pthread_create: %s",
					    strerror(e));
		}
		/* Renew until lost or stopped. */
		for (;;) {
			bool still = false;
			int rc;

			if (wait_period(o.retry_period_ms, stop))
				break;
			rc = stow_kube_lease_try(k, &o, &still);
			if (rc == 0 && still) {
				last_renew = stow_kube_now_ms();
				continue;
			}
			if (rc == 0 && !still)
				break; /* someone else holds it now */
			if (stow_kube_now_ms() - last_renew >
			    o.renew_deadline_ms)
				break;
		}
		__atomic_store_n(&t.lost, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
		if (stop_requested(stop)) {
			(void)stow_kube_lease_release(k, &o);
			break;
		}
	}
	stow_err_clear();
	return 0;
}

int stow_kube_leader_run(stow_kube *k, const stow_kube_leader_opts *opts,
			 void (*lead)(void *ctx, const volatile int *lost),
			 void *ctx, const volatile int *stop)
{
	stow_kube_leader_opts o;
	stow_kube_config *cfg = NULL;
	stow_kube *lk = NULL;
	int rc;

	STOW_TRY(check_opts(opts));
	if (!k || !lead)
		return stow_err_set(
		    STOW_EINVAL, "leader: client and lead function required");
	opts_defaults(opts, &o);
	/* A client of our own whose requests (retries included) give up
	 * within half the renew deadline: a renewal stuck in retries must
	 * not keep us believing we lead past renew_deadline, while another
	 * candidate may take over after lease_duration. */
	STOW_TRY(stow_kube_config_dup(&cfg, stow_kube_config_of(k)));
	cfg->timeout_ms =
	    o.renew_deadline_ms / 2 > 0 ? o.renew_deadline_ms / 2 : 1;
	rc = stow_kube_new(&lk, cfg);
	stow_kube_config_free(cfg);
	if (rc)
		return rc;
	rc = run_terms(lk, &o, lead, ctx, stop);
	stow_kube_free(lk);
	return rc;
}
