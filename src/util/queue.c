#include "util/queue.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/err.h"

struct stow_queue {
	pthread_mutex_t mu;
	pthread_cond_t not_full, not_empty;
	void **items;
	size_t cap, head, count;
	size_t waiting_push, waiting_pop;
	bool closed;
};

int stow_queue_new(stow_queue **out, size_t capacity)
{
	stow_queue *q;

	if (capacity == 0)
		return stow_err_set(STOW_EINVAL, "queue capacity 0");
	q = calloc(1, sizeof(*q));
	if (!q || !(q->items = calloc(capacity, sizeof(void *)))) {
		free(q);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	q->cap = capacity;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_full, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	*out = q;
	return 0;
}

void stow_queue_free(stow_queue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	free(q->items);
	free(q);
}

int stow_queue_push(stow_queue *q, void *item)
{
	pthread_mutex_lock(&q->mu);
	while (q->count == q->cap && !q->closed) {
		q->waiting_push++;
		pthread_cond_wait(&q->not_full, &q->mu);
		q->waiting_push--;
	}
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return stow_err_set(STOW_EINVAL, "queue closed");
	}
	q->items[(q->head + q->count) % q->cap] = item;
	q->count++;
	if (q->waiting_pop)
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void *stow_queue_pop(stow_queue *q)
{
	void *item = NULL;

	pthread_mutex_lock(&q->mu);
	while (q->count == 0 && !q->closed) {
		q->waiting_pop++;
		pthread_cond_wait(&q->not_empty, &q->mu);
		q->waiting_pop--;
	}
	if (q->count) {
		item = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
		/* A blocked producer waits until the queue is half empty
		 * and then refills it in one go: one wake-up per cap/2
		 * items instead of one per item. */
		if (q->waiting_push && q->count <= q->cap / 2)
			pthread_cond_broadcast(&q->not_full);
	}
	pthread_mutex_unlock(&q->mu);
	return item;
}

void stow_queue_close(stow_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}
