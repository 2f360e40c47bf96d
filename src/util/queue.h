/* A bounded blocking FIFO of pointers for pipelines: producers block when
 * it is full (backpressure bounds memory), consumers block when it is
 * empty. Closing wakes everyone: pushes then fail, pops drain what is left
 * and then return NULL.
 *
 * Thread safety: all functions may be called concurrently. */
#ifndef STOW_UTIL_QUEUE_H
#define STOW_UTIL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct stow_queue stow_queue;

int stow_queue_new(stow_queue **out, size_t capacity);
/* Free the queue (not the items still in it). */
void stow_queue_free(stow_queue *q);
/* Block until there is room; STOW_EINVAL if the queue is closed. */
int stow_queue_push(stow_queue *q, void *item);
/* Block until an item is there; NULL once closed and empty. */
void *stow_queue_pop(stow_queue *q);
void stow_queue_close(stow_queue *q);

#endif
