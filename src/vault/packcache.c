#include "vault/packcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

typedef struct slot {
	bool used, loading;
	uint32_t ord;
	uint64_t tick;
	stow_buf data;
} slot;

struct stow_packcache {
	pthread_mutex_t mu;
	pthread_cond_t loaded;
	uint64_t tick;
	slot slots[STOW_PACKCACHE_SLOTS];
};

int stow_packcache_new(stow_packcache **out)
{
	stow_packcache *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&pc->mu, NULL);
	pthread_cond_init(&pc->loaded, NULL);
	for (int i = 0; i < STOW_PACKCACHE_SLOTS; i++)
		stow_buf_init(&pc->slots[i].data, STOW_PACKCACHE_MAX_PACK);
	*out = pc;
	return 0;
}

void stow_packcache_free(stow_packcache *pc)
{
	if (!pc)
		return;
	for (int i = 0; i < STOW_PACKCACHE_SLOTS; i++)
		stow_buf_free(&pc->slots[i].data);
	pthread_mutex_destroy(&pc->mu);
	pthread_cond_destroy(&pc->loaded);
	free(pc);
}

static slot *find(stow_packcache *pc, uint32_t ord)
{
	for (int i = 0; i < STOW_PACKCACHE_SLOTS; i++)
		if (pc->slots[i].used && pc->slots[i].ord == ord)
			return &pc->slots[i];
	return NULL;
}

/* The least recently used slot that is not being loaded (NULL if every
 * slot is loading: the caller then reads without the cache). */
static slot *victim(stow_packcache *pc)
{
	slot *v = NULL;

	for (int i = 0; i < STOW_PACKCACHE_SLOTS; i++) {
		slot *s = &pc->slots[i];

		if (!s->used)
			return s;
		if (!s->loading && (!v || s->tick < v->tick))
			v = s;
	}
	return v;
}

static int copy_range(slot *s, uint32_t off, uint32_t len, stow_buf *out)
{
	size_t have = s->data.len;

	if (off >= have)
		return 0;
	if (len > have - off)
		len = (uint32_t)(have - off);
	return stow_buf_append(out, s->data.data + off, len);
}

int stow_packcache_read(stow_packcache *pc, stow_store *st, uint32_t ord,
			const char *key, uint32_t off, uint32_t len,
			stow_buf *out)
{
	stow_buf tmp;
	slot *s;
	int rc;

	pthread_mutex_lock(&pc->mu);
	for (;;) {
		s = find(pc, ord);
		if (!s || !s->loading)
			break;
		pthread_cond_wait(&pc->loaded, &pc->mu);
	}
	if (s) {
		s->tick = ++pc->tick;
		rc = copy_range(s, off, len, out);
		pthread_mutex_unlock(&pc->mu);
		return rc;
	}
	s = victim(pc);
	if (!s) {
		pthread_mutex_unlock(&pc->mu);
		return stow_store_get(st, key, off, len, out);
	}
	s->used = true;
	s->loading = true;
	s->ord = ord;
	s->tick = ++pc->tick;
	tmp = s->data; /* reuse the evicted pack's allocation */
	stow_buf_init(&s->data, STOW_PACKCACHE_MAX_PACK);
	pthread_mutex_unlock(&pc->mu);

	stow_buf_reset(&tmp);
	tmp.max = STOW_PACKCACHE_MAX_PACK;
	rc = stow_store_get(st, key, 0, STOW_RANGE_END, &tmp);

	pthread_mutex_lock(&pc->mu);
	s->loading = false;
	if (rc < 0) {
		/* Not cached: the error (or a pack too big to cache) goes to
		 * this caller, who retries with a ranged read if it wants. */
		s->used = false;
		stow_buf_free(&tmp);
	} else {
		s->data = tmp;
		rc = copy_range(s, off, len, out);
	}
	pthread_cond_broadcast(&pc->loaded);
	pthread_mutex_unlock(&pc->mu);
	return rc;
}
