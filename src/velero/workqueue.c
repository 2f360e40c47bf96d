/* The controllers' work queue (workqueue.h). Small by design: a FIFO
 * list of keys, a set of keys in the FIFO, a set of keys being processed
 * (with a dirty bit) and a list of timers. The sets are linear lists:
 * a server's queues hold a handful of keys (one per Backup, Restore, ...
 * being worked on), and a list is the simplest correct thing. */
#include "velero/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"

typedef struct item {
	struct item *next;
	char *key;
	uint64_t due_ms;  /* timers only */
	bool dirty;       /* processing only: re-add when done */
} item;

struct stow_workqueue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	item *head, *tail; /* ready FIFO */
	item *processing;  /* keys handed to a worker */
	item *timers;      /* delayed adds, unsorted */
	unsigned nready, ntimers;
	bool shutdown;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static item *find(item *list, const char *key)
{
	for (; list; list = list->next)
		if (strcmp(list->key, key) == 0)
			return list;
	return NULL;
}

static item *item_new(const char *key)
{
	item *it = calloc(1, sizeof(*it));

	if (it && !(it->key = strdup(key))) {
		free(it);
		it = NULL;
	}
	return it;
}

static void item_free(item *it)
{
	if (it) {
		free(it->key);
		free(it);
	}
}

/* Unlink it from a singly linked list. */
static void unlink_item(item **list, item *it)
{
	for (item **pp = list; *pp; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			it->next = NULL;
			return;
		}
}

/* Append key to the ready FIFO unless it is there or being processed
 * (then marked dirty). Takes ownership of it (may free it). */
static void push_ready(stow_workqueue *q, item *it)
{
	item *p = find(q->processing, it->key);

	if (p) {
		p->dirty = true;
		item_free(it);
		return;
	}
	if (find(q->head, it->key)) {
		item_free(it);
		return;
	}
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->nready++;
	pthread_cond_signal(&q->cv);
}

/* Move due timers to the FIFO; return ms until the next one (or -1). */
static long promote_timers(stow_workqueue *q)
{
	uint64_t now = now_ms();
	long next = -1;

	for (item **pp = &q->timers; *pp;) {
		item *it = *pp;

		if (it->due_ms <= now) {
			*pp = it->next;
			q->ntimers--;
			push_ready(q, it);
			continue;
		}
		if (next < 0 || (long)(it->due_ms - now) < next)
			next = (long)(it->due_ms - now);
		pp = &it->next;
	}
	return next;
}

int stow_workqueue_new(stow_workqueue **out)
{
	stow_workqueue *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	return 0;
}

void stow_workqueue_shutdown(stow_workqueue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void list_free(item *it)
{
	while (it) {
		item *next = it->next;

		item_free(it);
		it = next;
	}
}

void stow_workqueue_free(stow_workqueue *q)
{
	if (!q)
		return;
	list_free(q->head);
	list_free(q->processing);
	list_free(q->timers);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

int stow_workqueue_add(stow_workqueue *q, const char *key, long delay_ms)
{
	item *it = item_new(key);

	if (!it)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_lock(&q->mu);
	if (q->shutdown) {
		item_free(it);
	} else if (delay_ms <= 0) {
		push_ready(q, it);
	} else {
		uint64_t due = now_ms() + (uint64_t)delay_ms;
		item *t = find(q->timers, key);

		if (t) {
			/* The earlier of the two wins. */
			if (due < t->due_ms)
				t->due_ms = due;
			item_free(it);
		} else {
			it->due_ms = due;
			it->next = q->timers;
			q->timers = it;
			q->ntimers++;
		}
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

char *stow_workqueue_get(stow_workqueue *q)
{
	char *key = NULL;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		long wait_ms;

		if (q->shutdown)
			break;
		wait_ms = promote_timers(q);
		if (q->head) {
			item *it = q->head;

			q->head = it->next;
			if (!q->head)
				q->tail = NULL;
			q->nready--;
			key = strdup(it->key);
			if (!key) {
				item_free(it);
				break;
			}
			it->dirty = false;
			it->next = q->processing;
			q->processing = it;
			break;
		}
		if (wait_ms < 0) {
			pthread_cond_wait(&q->cv, &q->mu);
		} else {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return key;
}

void stow_workqueue_done(stow_workqueue *q, const char *key)
{
	item *it;

	pthread_mutex_lock(&q->mu);
	it = find(q->processing, key);
	if (it) {
		unlink_item(&q->processing, it);
		if (it->dirty && !q->shutdown) {
			it->dirty = false;
			push_ready(q, it);
		} else {
			item_free(it);
		}
	}
	pthread_mutex_unlock(&q->mu);
}

unsigned stow_workqueue_len(stow_workqueue *q)
{
	unsigned n;

	pthread_mutex_lock(&q->mu);
	n = q->nready + q->ntimers;
	pthread_mutex_unlock(&q->mu);
	return n;
}

long stow_workqueue_backoff_ms(unsigned failures)
{
	long ms = 1000;
	unsigned r;

	for (unsigned i = 1; i < failures && ms < 300000; i++)
		ms *= 2;
	if (ms > 300000)
		ms = 300000;
	/* ±10 % jitter so that many failing keys do not retry in step. */
	r = (unsigned)(now_ms() * 2654435761u >> 7) % 201;
	return ms + ms * ((long)r - 100) / 1000;
}
