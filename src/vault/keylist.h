/* A list of storage keys (with the size the listing gave for each), for
 * the code that lists a prefix and then works through the keys: key
 * slots, index objects, snapshots, packs to recover or delete. Internal
 * to the vault.
 *
 * Memory: the keys are copied; one list holds what one prefix holds
 * (keys/, index/, snapshots/, or the unindexed packs). */
#ifndef STOW_VAULT_KEYLIST_H
#define STOW_VAULT_KEYLIST_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

typedef struct stow_keylist {
	char **keys;
	uint64_t *sizes; /* sizes[i] is the size listed with keys[i] */
	size_t n, cap;
} stow_keylist;

/* Append a copy of key. STOW_ENOMEM. */
int stow_keylist_add(stow_keylist *l, const char *key, uint64_t size);
/* Every key under prefix, sorted bytewise (strcmp). On failure the list
 * is freed and the storage error returned. */
int stow_keylist_list_sorted(stow_store *st, const char *prefix,
			     stow_keylist *l);
/* Free the keys and the list; it is empty again. NULL is fine. */
void stow_keylist_free(stow_keylist *l);

#endif
