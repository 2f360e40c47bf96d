/* A small shared cache of whole packs, so that many small reads from one
 * pack cost one storage request: trees (an incremental backup, ls, diff,
 * gc and restore read thousands of them, written together into a few
 * metadata packs) and, on object stores, small file chunks during a
 * restore (written together in walk order, read back in the same order).
 * On S3 this turns one GET per blob into one GET per pack.
 *
 * Bounded: at most STOW_PACKCACHE_SLOTS packs, least recently used first
 * out. Thread-safe; a pack being loaded by one thread is waited for by the
 * others instead of being fetched twice. */
#ifndef STOW_VAULT_PACKCACHE_H
#define STOW_VAULT_PACKCACHE_H

#include <stdint.h>

#include "storage/storage.h"
#include "util/buf.h"

#define STOW_PACKCACHE_SLOTS 6
/* Packs larger than this are never cached (ranged reads instead). */
#define STOW_PACKCACHE_MAX_PACK ((uint64_t)32 << 20)

typedef struct stow_packcache stow_packcache;

int stow_packcache_new(stow_packcache **out);
void stow_packcache_free(stow_packcache *pc);

/* Append bytes [off, off + len) of pack `key` (ordinal `ord`) to out,
 * loading the whole pack first if it is not cached. Fewer bytes than len
 * are appended when the pack is shorter (the caller checks). */
int stow_packcache_read(stow_packcache *pc, stow_store *st, uint32_t ord,
			const char *key, uint32_t off, uint32_t len,
			stow_buf *out);

#endif
