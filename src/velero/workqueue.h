/* A controller's work queue: keys ("namespace/name") to reconcile.
 *
 * The semantics controllers rely on (those of client-go's work queue):
 * - a key is queued at most once: adding a queued key is a no-op;
 * - a key is processed by at most one worker at a time: adding a key that
 *   is being processed marks it dirty, and it is queued again once the
 *   worker is done with it (so no event is lost, none is handled twice
 *   concurrently);
 * - delayed adds (requeue after N ms, backoff after errors) wait in a
 *   timer list and join the queue when due; an earlier add of the same
 *   key wins.
 *
 * Thread safety: every function may be called from any thread.
 * Memory: one small entry per distinct pending key. */
#ifndef STOW_VELERO_WORKQUEUE_H
#define STOW_VELERO_WORKQUEUE_H

#include <stdbool.h>

typedef struct stow_workqueue stow_workqueue;

int stow_workqueue_new(stow_workqueue **out);
/* Wakes every waiting worker; stow_workqueue_get then returns NULL. */
void stow_workqueue_shutdown(stow_workqueue *q);
void stow_workqueue_free(stow_workqueue *q);

/* Queue key now (delay_ms <= 0) or after delay_ms. */
int stow_workqueue_add(stow_workqueue *q, const char *key, long delay_ms);
/* Block for the next key; NULL after shutdown. The caller owns the string
 * and must call stow_workqueue_done(q, key) when finished with it. */
char *stow_workqueue_get(stow_workqueue *q);
void stow_workqueue_done(stow_workqueue *q, const char *key);

/* Keys queued or waiting on a timer, for tests and metrics. */
unsigned stow_workqueue_len(stow_workqueue *q);

/* Backoff for the n-th consecutive failure of a key: 1 s doubling to
 * 5 min, with jitter (±10 %). */
long stow_workqueue_backoff_ms(unsigned failures);

#endif
