/* A hash set of 32-byte IDs (blob, tree and pack IDs), optionally with a
 * fixed-size value per ID, which makes it a map. Internal to the vault:
 * check keeps the packs found in storage, the damaged blobs and the trees
 * found clean in sets; gc keeps the trees it has walked.
 *
 * IDs are keyed hashes or random pack IDs, so their first 8 bytes are
 * already a good hash: open addressing with linear probing over them,
 * capacity a power of two (1024 slots at first), load at most 0.7. Every
 * size computation is overflow-checked and fails as STOW_ENOMEM. An
 * all-zero ID is an ordinary member (a hostile tree may name one): a
 * slot's use is its own byte, not a reserved ID.
 *
 * Memory: 33 bytes per slot for a plain set; for a map, the value size
 * rounded up to 8, plus 40.
 *
 * A zero-initialised stow_idset is an empty plain set. Not thread-safe:
 * callers that share one hold a lock around every call. */
#ifndef STOW_VAULT_IDSET_H
#define STOW_VAULT_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

typedef struct stow_idset {
	uint8_t *slots;
	size_t cap, n;
	size_t value_size; /* 0: a plain set */
} stow_idset;

/* An empty set whose members each carry value_size bytes (0: none). */
void stow_idset_init(stow_idset *s, size_t value_size);
/* Add id. Returns 1 when it was added (its value zeroed), 0 when it was
 * there already, or STOW_ENOMEM. With `value`, *value points to the ID's
 * value (NULL for a plain set), valid until the next add or free. */
int stow_idset_add(stow_idset *s, const uint8_t id[STOW_ID_LEN], void **value);
bool stow_idset_has(const stow_idset *s, const uint8_t id[STOW_ID_LEN]);
/* The value of id, or NULL when id is absent (or the set has no values:
 * use stow_idset_has). Valid until the next add or free. */
void *stow_idset_get(const stow_idset *s, const uint8_t id[STOW_ID_LEN]);
/* Iterate: start with *pos = 0; each call that returns true gives one
 * member's ID and value (either out-parameter may be NULL). No fixed
 * order; the set must not change during the iteration. */
bool stow_idset_next(const stow_idset *s, size_t *pos, const uint8_t **id,
		     void **value);
/* Free the memory; the set is empty again (its value size is kept).
 * NULL is fine. */
void stow_idset_free(stow_idset *s);

#endif
