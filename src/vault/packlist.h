/* The packs as storage lists them, for the operations that compare
 * storage with the index (check, gc, stats, index recovery). Internal to
 * the vault.
 *
 * A pack's key is data/<2 hex>/<64 hex> or meta/<2 hex>/<64 hex>
 * (vault.h); storage may also hold anything else under those prefixes
 * (junk, a misplaced copy), and each caller decides what to do with it. */
#ifndef STOW_VAULT_PACKLIST_H
#define STOW_VAULT_PACKLIST_H

#include <stdint.h>

#include "storage/storage.h"

/* One object under data/ or meta/: kind 1 (meta) when the key starts with
 * "meta/", else 0 (data); id the 32 bytes that the key's last component
 * spells when that component is exactly 64 hex digits, else NULL (not a
 * pack name; the key's other components are not checked). id is valid
 * during the call only. */
typedef int (*stow_packlist_cb)(void *ctx, const char *key, uint64_t size,
				int kind, const uint8_t *id);

/* Call cb for every object under data/, then every object under meta/,
 * in the store's order. A negative return from cb, or a listing error,
 * stops the walk and is returned. */
int stow_packlist_foreach(stow_store *st, stow_packlist_cb cb, void *ctx);

#endif
