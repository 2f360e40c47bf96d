/* Repository leases: see lease.h for the protocol and its argument. */
#include "vault/lease.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define GC_KEY "locks/gc"
#define WRITER_PREFIX "locks/writer-"

struct stow_lease {
	stow_repo *r;
	char key[64];
	struct stow_lease *next_live; /* registry of held leases */
	pthread_t hb;
	bool hb_running, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Every lease this process holds, so that an interrupted process can
 * give them back before it exits (stow_lease_abandon_all). */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static stow_lease *live_head;

static void live_add(stow_lease *l)
{
	pthread_mutex_lock(&live_mu);
	l->next_live = live_head;
	live_head = l;
	pthread_mutex_unlock(&live_mu);
}

static void live_remove(stow_lease *l)
{
	pthread_mutex_lock(&live_mu);
	for (stow_lease **p = &live_head; *p; p = &(*p)->next_live)
		if (*p == l) {
			*p = l->next_live;
			break;
		}
	pthread_mutex_unlock(&live_mu);
}

void stow_lease_abandon_all(void)
{
	/* The mutex stays held: the process is about to exit, and no lease
	 * may be released (and its store closed) under our feet. */
	pthread_mutex_lock(&live_mu);
	for (stow_lease *l = live_head; l; l = l->next_live)
		stow_store_del(stow_repo_store(l->r), l->key);
	live_head = NULL;
}

static int lease_put(stow_repo *r, const char *key, unsigned flags)
{
	char host[128] = "";
	json_t *j;
	char *s;
	int rc;

	gethostname(host, sizeof(host) - 1);
	j = json_pack("{s:i,s:I,s:I,s:s,s:I}", "version", 1, "renewed",
		      (json_int_t)time(NULL), "expires",
		      (json_int_t)(time(NULL) + STOW_LEASE_TTL), "host", host,
		      "pid", (json_int_t)getpid());
	if (!j)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (flags & STOW_PUT_EXCL) {
		/* Exclusive create of a sealed object: seal into a scratch
		 * name is not possible (the name is authenticated), so create
		 * an empty marker exclusively, then overwrite it sealed. */
		rc = stow_store_put(stow_repo_store(r), key, "", 0,
				    STOW_PUT_EXCL);
		if (rc == 0)
			rc = stow_sealed_put(r, STOW_SEALED_LEASE, key, s,
					     strlen(s));
	} else {
		rc = stow_sealed_put(r, STOW_SEALED_LEASE, key, s, strlen(s));
	}
	free(s);
	return rc;
}

/* 1 if the lease at key is live, 0 if absent or expired. A lease that
 * cannot be read counts as live: guessing wrong would let gc delete what
 * a backup needs. (An empty marker is a lease between its two writes;
 * if its holder died right then, the message tells how to remove it.) */
static int lease_live(stow_repo *r, const char *key, char *who, size_t n)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	json_int_t expires = 0, pid = 0;
	const char *host = "?";
	uint64_t size = 0;
	json_t *j;
	int rc, live;

	stow_buf_init(&b, 1 << 16);
	rc = stow_store_stat(stow_repo_store(r), key, &size);
	if (rc < 0)
		return 0;
	snprintf(who, n, "%s is unreadable; if no backup or gc is running, "
		 "delete it", key);
	if (size == 0)
		return 1;
	if (stow_sealed_get(r, STOW_SEALED_LEASE, key, &b) < 0)
		return 1;
	j = json_loadb((const char *)b.data, b.len, 0, NULL);
	if (!j)
		return 1;
	json_unpack(j, "{s?I,s?s,s?I}", "expires", &expires, "host", &host,
		    "pid", &pid);
	live = expires > (json_int_t)time(NULL);
	snprintf(who, n, "pid %lld on %s", (long long)pid, host);
	json_decref(j);
	return live;
}

static void *heartbeat(void *arg)
{
	stow_lease *l = arg;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += STOW_LEASE_RENEW;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		/* A failed renewal is retried next round; the TTL is ten
		 * renewals long. */
		lease_put(l->r, l->key, 0);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static int lease_new(stow_lease **out, stow_repo *r, const char *key)
{
	stow_lease *l = calloc(1, sizeof(*l));

	if (!l)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	l->r = r;
	snprintf(l->key, sizeof(l->key), "%s", key);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	*out = l;
	return 0;
}

static int start_heartbeat(stow_lease *l)
{
	if (pthread_create(&l->hb, NULL, heartbeat, l) != 0)
		return stow_err_set(STOW_ENOMEM, "cannot start thread");
	l->hb_running = true;
	live_add(l);
	return 0;
}

void stow_lease_release(stow_lease *l)
{
	if (!l)
		return;
	live_remove(l);
	if (l->hb_running) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->hb, NULL);
	}
	/* Releasing runs on error paths too: keep the caller's error detail
	 * (a failed delete here only means the lease expires on its own). */
	{
		char saved[1024];

		snprintf(saved, sizeof(saved), "%s", stow_err_msg());
		stow_store_del(stow_repo_store(l->r), l->key);
		stow_err_set(0, "%s", saved);
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

int stow_lease_writer(stow_lease **out, stow_repo *r)
{
	stow_lease *l = NULL;
	uint8_t rnd[8];
	char key[64], hex[17], who[200];
	int rc;

	STOW_TRY(stow_random(rnd, sizeof(rnd)));
	stow_hex(hex, rnd, sizeof(rnd));
	snprintf(key, sizeof(key), WRITER_PREFIX "%s", hex);
	STOW_TRY(lease_new(&l, r, key));
	rc = lease_put(r, key, 0);
	if (rc < 0) {
		free(l);
		return stow_err_wrap(rc, "taking a writer lease");
	}
	if (lease_live(r, GC_KEY, who, sizeof(who))) {
		stow_store_del(stow_repo_store(r), key);
		free(l);
		return stow_err_set(STOW_ELOCKED,
				    "gc is running on this repository (%s); "
				    "try again when it has finished",
				    who);
	}
	rc = start_heartbeat(l);
	if (rc < 0) {
		stow_lease_release(l);
		return rc;
	}
	*out = l;
	return 0;
}

typedef struct writers {
	stow_repo *r;
	int live;
	char who[200];
	char **stale;
	size_t nstale;
} writers;

static int scan_writer(void *ctx, const char *key, uint64_t size)
{
	writers *w = ctx;
	char who[200];

	(void)size;
	if (strncmp(key, WRITER_PREFIX, strlen(WRITER_PREFIX)) != 0)
		return 0;
	if (lease_live(w->r, key, who, sizeof(who))) {
		if (!w->live++)
			snprintf(w->who, sizeof(w->who), "%s", who);
	} else {
		char **ns = realloc(w->stale, (w->nstale + 1) * sizeof(*ns));

		if (!ns)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		w->stale = ns;
		if (!(w->stale[w->nstale] = strdup(key)))
			return stow_err_set(STOW_ENOMEM, "out of memory");
		w->nstale++;
	}
	return 0;
}

int stow_lease_gc(stow_lease **out, stow_repo *r)
{
	stow_lease *l = NULL;
	writers w = {.r = r};
	char who[200];
	int rc;

	STOW_TRY(lease_new(&l, r, GC_KEY));
	rc = lease_put(r, GC_KEY, STOW_PUT_EXCL);
	if (rc == STOW_EEXIST) {
		if (lease_live(r, GC_KEY, who, sizeof(who))) {
			free(l);
			return stow_err_set(STOW_ELOCKED,
					    "another gc is running on this "
					    "repository (%s)", who);
		}
		/* Expired: its holder died. Take it over. */
		stow_store_del(stow_repo_store(r), GC_KEY);
		rc = lease_put(r, GC_KEY, STOW_PUT_EXCL);
	}
	if (rc < 0) {
		free(l);
		return rc == STOW_EEXIST
			       ? stow_err_set(STOW_ELOCKED,
					      "another gc just started")
			       : rc;
	}
	rc = stow_store_list(stow_repo_store(r), "locks/", scan_writer, &w);
	if (rc == 0 && w.live)
		rc = stow_err_set(STOW_ELOCKED,
				  "%d backup%s running on this repository "
				  "(%s); gc must wait until %s finished",
				  w.live, w.live > 1 ? "s are" : " is", w.who,
				  w.live > 1 ? "they have" : "it has");
	for (size_t i = 0; i < w.nstale; i++) {
		if (rc == 0)
			stow_store_del(stow_repo_store(r), w.stale[i]);
		free(w.stale[i]);
	}
	free(w.stale);
	if (rc == 0)
		rc = start_heartbeat(l);
	if (rc < 0) {
		stow_lease_release(l);
		return rc;
	}
	*out = l;
	return 0;
}
