/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An informer: a local cache of one resource kept current by list + watch
 * on its own thread.
 *
 *   relist:  list every object (a consistent snapshot at resourceVersion
 *            R), replace the cache, and tell the handler what changed
 *            against the old cache: ADDED, MODIFIED (resourceVersion
 *            differs) and a synthetic DELETED for objects that vanished
 *            while we were not watching.
 *   watch:   from R; each event updates the cache, then the handler.
 *            A stream that ends (server timeout, dropped connection)
 *            resumes from the newest resourceVersion seen; 410 Gone means
 *            the server forgot that version: relist.
 *   errors:  capped exponential backoff with jitter, then relist.
 *
 * The cache maps "namespace/name" (or "name" for cluster-scoped objects)
 * to the object. Objects in it are shared, never modified: get and list
 * hand out references to the same json_t values the handler sees.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "kube/kube_internal.h"
#include "kube/ws.h"
#include "util/err.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define QUICK_END_MS 1000 /* a watch shorter than this ends suspiciously */
#define WATCH_TIMEOUT_S 300

/* ---- the cache ------------------------------------------------------------
 */

typedef struct entry {
	struct entry *next;
	char *key;
	json_t *obj;
} entry;

typedef struct cache {
	entry **b;
	size_t nb;
	size_t n;
} cache;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static void cache_clear(cache *c)
{
	for (size_t i = 0; i < c->nb; i++) {
		entry *e = c->b[i];

		while (e) {
			entry *next = e->next;

			free(e->key);
			json_decref(e->obj);
			free(e);
			e = next;
		}
	}
	free(c->b);
	c->b = NULL;
	c->nb = c->n = 0;
}

static entry **cache_slot(cache *c, const char *key)
{
	entry **pe;

	if (!c->nb)
		return NULL;
	pe = &c->b[fnv1a(key) & (c->nb - 1)];
	while (*pe && strcmp((*pe)->key, key) != 0)
		pe = &(*pe)->next;
	return pe;
}

static json_t *cache_get(cache *c, const char *key)
{
	entry **pe = cache_slot(c, key);

	return pe && *pe ? (*pe)->obj : NULL;
}

static int cache_grow(cache *c)
{
	size_t nb = c->nb ? c->nb * 2 : 64;
	entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->nb; i++) {
		entry *e = c->b[i];

		while (e) {
			entry *next = e->next;
			size_t j = fnv1a(e->key) & (nb - 1);

			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(c->b);
	c->b = b;
	c->nb = nb;
	return 0;
}

/* Store a new reference to obj under key; *old receives the replaced
 * object's reference (NULL if none), which the caller then owns. */
static int cache_put(cache *c, const char *key, json_t *obj, json_t **old)
{
	entry **pe, *e;

	*old = NULL;
	if (c->n >= c->nb)
		STOW_TRY(cache_grow(c));
	pe = cache_slot(c, key);
	if (*pe) {
		*old = (*pe)->obj;
		(*pe)->obj = json_incref(obj);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	e->obj = json_incref(obj);
	*pe = e;
	c->n++;
	return 0;
}

/* Remove key; returns the object's reference (the caller owns it). */
static json_t *cache_del(cache *c, const char *key)
{
	entry **pe = cache_slot(c, key), *e;
	json_t *obj;

	if (!pe || !*pe)
		return NULL;
	e = *pe;
	*pe = e->next;
	obj = e->obj;
	free(e->key);
	free(e);
	c->n--;
	return obj;
}

/* ---- the informer ---------------------------------------------------------
 */

struct stow_kube_informer {
	stow_kube *k;
	const stow_kube_resource *r;
	char *ns;
	char *label_selector;
	stow_kube_informer_handler h;

	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* guards cache, synced, last_error */
	pthread_cond_t cond;
	cache c;
	bool synced;
	char last_error[256];
	int stop; /* atomic */

	/* informer thread only */
	char *rv;
	int64_t next_resync_ms;
};

static bool stopping(stow_kube_informer *inf)
{
	return __atomic_load_n(&inf->stop, __ATOMIC_ACQUIRE) != 0;
}

/* "ns/name", or "name" for cluster-scoped resources. */
static int object_key(const stow_kube_informer *inf, json_t *obj, char *out,
		      size_t cap)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	int n;

	if (!name || !*name)
		return stow_err_set(STOW_ECORRUPT,
				    "informer: object without metadata.name");
	if (inf->r->namespaced)
		n = snprintf(out, cap, "%s/%s", ns ? ns : "", name);
	else
		n = snprintf(out, cap, "%s", name);
	if (n < 0 || (size_t)n >= cap)
		return stow_err_set(STOW_ECORRUPT,
				    "informer: object name too long");
	return 0;
}

static const char *rv_of(json_t *obj)
{
	return json_string_value(json_object_get(
	    json_object_get(obj, "metadata"), "resourceVersion"));
}

static void notify(stow_kube_informer *inf, stow_kube_event_type t,
		   json_t *old_obj, json_t *obj)
{
	if (inf->h.on_event)
		inf->h.on_event(inf->h.ctx, t, old_obj, obj);
}

static void record_error(stow_kube_informer *inf, int rc)
{
	pthread_mutex_lock(&inf->mu);
	snprintf(inf->last_error, sizeof(inf->last_error), "%s: %s",
		 stow_err_name(rc), stow_err_msg());
	pthread_mutex_unlock(&inf->mu);
}

/* Sleep up to ms; returns early (true) when stopping. */
static bool nap(stow_kube_informer *inf, long ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&inf->mu);
	while (!(stop = stopping(inf)))
		if (pthread_cond_timedwait(&inf->cond, &inf->mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&inf->mu);
	return stop || stopping(inf);
}

static long jitter(long ms)
{
	uint8_t r = 0;

	(void)stow_random(&r, 1);
	/* [ms/2, ms) keeps a crowd of clients from retrying in step. */
	return ms / 2 + (long)((uint64_t)(ms / 2) * r / 256);
}

typedef struct relist_ctx {
	stow_kube_informer *inf;
	cache fresh;
} relist_ctx;

static int on_list_item(void *ctx, json_t *item)
{
	relist_ctx *rc = ctx;
	char key[1024];
	json_t *old = NULL;

	STOW_TRY(object_key(rc->inf, item, key, sizeof(key)));
	STOW_TRY(cache_put(&rc->fresh, key, item, &old));
	json_decref(old);
	return 0;
}

static int relist(stow_kube_informer *inf)
{
	stow_kube_list_opts lo = {.label_selector = inf->label_selector,
				  .limit = 500};
	relist_ctx rc = {.inf = inf};
	char *rv = NULL;
	cache old;
	int err;

	err = stow_kube_list_each(inf->k, inf->r, inf->ns, &lo, on_list_item,
				  &rc, &rv);
	if (err) {
		cache_clear(&rc.fresh);
		free(rv);
		return err;
	}
	if (!rv || !*rv) {
		cache_clear(&rc.fresh);
		free(rv);
		return stow_err_set(STOW_ECORRUPT, "informer: list without a "
						   "resourceVersion");
	}
	/* The cache is replaced first, then the handler learns the
	 * difference: a handler that reads the cache sees the new state. */
	pthread_mutex_lock(&inf->mu);
	old = inf->c;
	inf->c = rc.fresh;
	inf->synced = true;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->mu);

	for (size_t i = 0; i < inf->c.nb; i++)
		for (entry *e = inf->c.b[i]; e; e = e->next) {
			json_t *was = cache_get(&old, e->key);
			const char *a = was ? rv_of(was) : NULL;
			const char *b = rv_of(e->obj);

			if (!was)
				notify(inf, STOW_KUBE_ADDED, NULL, e->obj);
			else if (!a || !b || strcmp(a, b) != 0)
				notify(inf, STOW_KUBE_MODIFIED, was, e->obj);
		}
	for (size_t i = 0; i < old.nb; i++)
		for (entry *e = old.b[i]; e; e = e->next)
			if (!cache_get(&inf->c, e->key))
				notify(inf, STOW_KUBE_DELETED, e->obj, e->obj);
	cache_clear(&old);
	free(inf->rv);
	inf->rv = rv;
	return 0;
}

/* The cache is read on other threads under mu; this thread is its only
 * writer, so it may read it without the lock (as relist does above). */
static int on_watch_event(void *ctx, stow_kube_event_type type, json_t *obj)
{
	stow_kube_informer *inf = ctx;
	char key[1024];
	json_t *old = NULL;
	int rc;

	if (type == STOW_KUBE_BOOKMARK)
		return 0;
	STOW_TRY(object_key(inf, obj, key, sizeof(key)));
	pthread_mutex_lock(&inf->mu);
	if (type == STOW_KUBE_DELETED) {
		old = cache_del(&inf->c, key);
		rc = 0;
	} else {
		rc = cache_put(&inf->c, key, obj, &old);
	}
	pthread_mutex_unlock(&inf->mu);
	if (rc)
		return rc;
	if (type == STOW_KUBE_DELETED)
		notify(inf, STOW_KUBE_DELETED, old, obj);
	else
		notify(inf, old ? STOW_KUBE_MODIFIED : STOW_KUBE_ADDED, old,
		       obj);
	json_decref(old);
	return 0;
}

static void resync(stow_kube_informer *inf)
{
	json_t *all;
	json_t *o;
	size_t i;

	if (inf->h.resync_ms <= 0)
		return;
	if (stow_kube_now_ms() < inf->next_resync_ms)
		return;
	inf->next_resync_ms = stow_kube_now_ms() + inf->h.resync_ms;
	all = stow_kube_informer_list(inf, NULL);
	json_array_foreach(all, i, o) notify(inf, STOW_KUBE_MODIFIED, o, o);
	json_decref(all);
}

static long watch_timeout_s(stow_kube_informer *inf)
{
	long t = WATCH_TIMEOUT_S, left_s;

	if (inf->h.resync_ms <= 0)
		return t;
	/* Resync happens between watch streams: end each stream by the time
	 * the next resync is due. */
	left_s =
	    (long)((inf->next_resync_ms - stow_kube_now_ms() + 999) / 1000);
	if (left_s < 1)
		left_s = 1;
	return left_s < t ? left_s : t;
}

static void *informer_main(void *arg)
{
	stow_kube_informer *inf = arg;
	long backoff = BACKOFF_MIN_MS;
	bool need_list = true;

	inf->next_resync_ms = stow_kube_now_ms() + inf->h.resync_ms;
	while (!stopping(inf)) {
		stow_kube_list_opts wo = {0};
		int64_t t0;
		int rc;

		if (need_list) {
			rc = relist(inf);
			if (rc) {
				record_error(inf, rc);
				if (nap(inf, jitter(backoff)))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS
					      ? BACKOFF_MAX_MS
					      : backoff * 2;
				continue;
			}
			need_list = false;
		}
		resync(inf);
		wo.label_selector = inf->label_selector;
		wo.resource_version = inf->rv;
		wo.allow_bookmarks = true;
		wo.timeout_seconds = watch_timeout_s(inf);
		t0 = stow_kube_now_ms();
		rc = stow_kube_watch(inf->k, inf->r, inf->ns, &wo,
				     on_watch_event, inf, &inf->stop, &inf->rv);
		if (rc == STOW_EINTR || stopping(inf))
			break;
		if (rc == 0) {
			backoff = BACKOFF_MIN_MS;
			/* A server that ends every stream at once must not
			 * turn this loop into a busy one. */
			if (stow_kube_now_ms() - t0 < QUICK_END_MS &&
			    nap(inf, QUICK_END_MS))
				break;
			continue;
		}
		record_error(inf, rc);
		need_list = true;
		if (rc == STOW_ENOTFOUND)
			continue; /* 410 Gone: relist at once */
		if (nap(inf, jitter(backoff)))
			break;
		backoff =
		    backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

static void informer_free(stow_kube_informer *inf)
{
	if (!inf)
		return;
	cache_clear(&inf->c);
	pthread_cond_destroy(&inf->cond);
	pthread_mutex_destroy(&inf->mu);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->rv);
	free(inf);
}

int stow_kube_informer_start(stow_kube_informer **out, stow_kube *k,
			     const stow_kube_resource *r, const char *ns,
			     const char *label_selector,
			     const stow_kube_informer_handler *h)
{
	stow_kube_informer *inf;
	pthread_condattr_t ca;
	int e;

	if (!out || !k || !r)
		return stow_err_set(STOW_EINVAL,
				    "informer: client and resource required");
	*out = NULL;
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	inf->k = k;
	inf->r = r;
	if (h)
		inf->h = *h;
	pthread_mutex_init(&inf->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((ns && r->namespaced && !(inf->ns = strdup(ns))) ||
	    (label_selector &&
	     !(inf->label_selector = strdup(label_selector)))) {
		informer_free(inf);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	e = pthread_create(&inf->thread, NULL, informer_main, inf);
	if (e) {
		informer_free(inf);
		return stow_err_set(STOW_EIO, "informer: pthread_create: %s",
				    strerror(e));
	}
	inf->started = true;
	*out = inf;
	return 0;
}

int stow_kube_informer_wait_synced(stow_kube_informer *inf, long timeout_ms)
{
	int64_t deadline = stow_kube_now_ms() + timeout_ms;
	struct timespec ts;
	bool synced;

	if (!inf)
		return stow_err_set(STOW_EINVAL, "informer: NULL");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&inf->mu);
	while (!inf->synced && stow_kube_now_ms() < deadline)
		if (pthread_cond_timedwait(&inf->cond, &inf->mu, &ts) != 0)
			break;
	synced = inf->synced;
	if (!synced)
		stow_err_set(
		    STOW_ETIMEOUT, "informer: not synced after %ld ms%s%s",
		    timeout_ms, inf->last_error[0] ? "; last error: " : "",
		    inf->last_error);
	pthread_mutex_unlock(&inf->mu);
	return synced ? 0 : STOW_ETIMEOUT;
}

json_t *stow_kube_informer_get(stow_kube_informer *inf, const char *ns,
			       const char *name)
{
	char key[1024];
	json_t *obj;
	int n;

	if (!inf || !name)
		return NULL;
	if (inf->r->namespaced)
		n = snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
	else
		n = snprintf(key, sizeof(key), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	pthread_mutex_lock(&inf->mu);
	obj = json_incref(cache_get(&inf->c, key));
	pthread_mutex_unlock(&inf->mu);
	return obj;
}

json_t *stow_kube_informer_list(stow_kube_informer *inf, const char *ns)
{
	json_t *arr = json_array();

	if (!inf || !arr)
		return arr;
	pthread_mutex_lock(&inf->mu);
	for (size_t i = 0; i < inf->c.nb; i++)
		for (entry *e = inf->c.b[i]; e; e = e->next) {
			if (ns && inf->r->namespaced) {
				const char *ons =
				    json_string_value(json_object_get(
					json_object_get(e->obj, "metadata"),
					"namespace"));

				if (!ons || strcmp(ons, ns) != 0)
					continue;
			}
			if (json_array_append(arr, e->obj) != 0) {
				pthread_mutex_unlock(&inf->mu);
				json_decref(arr);
				return NULL;
			}
		}
	pthread_mutex_unlock(&inf->mu);
	return arr;
}

void stow_kube_informer_stop(stow_kube_informer *inf)
{
	if (!inf)
		return;
	pthread_mutex_lock(&inf->mu);
	__atomic_store_n(&inf->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->mu);
	if (inf->started)
		pthread_join(inf->thread, NULL);
	informer_free(inf);
}
