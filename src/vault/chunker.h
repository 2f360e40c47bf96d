/* Content-defined chunking: FastCDC-style gear hashing with normalised
 * chunking (a stricter mask before the average size, a looser one after),
 * so cut points follow content and survive insertions and deletions.
 *
 * The gear table is derived from a per-repository secret seed, so chunk
 * boundaries (and thus chunk sizes) do not fingerprint known files across
 * repositories.
 *
 * Stateless per call: stow_chunker_next() looks at a window of bytes that
 * starts at a chunk boundary and returns the length of the next chunk.
 * The caller keeps the unconsumed tail and calls again with more data.
 * Thread safety: a stow_chunker is immutable after creation; share it. */
#ifndef STOW_VAULT_CHUNKER_H
#define STOW_VAULT_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define STOW_CHUNK_MIN_FLOOR 64u	/* smallest allowed min */
#define STOW_CHUNK_MAX_CEIL (64u << 20) /* largest allowed max */

typedef struct stow_chunker_params {
	uint32_t min; /* no cut before this many bytes */
	uint32_t avg; /* target average; a power of two */
	uint32_t max; /* forced cut at this many bytes */
} stow_chunker_params;

/* Defaults (see docs/chunker.md for the measurement behind them). */
void stow_chunker_params_default(stow_chunker_params *p);
/* STOW_EINVAL with a message unless min <= avg <= max, avg a power of two,
 * min >= STOW_CHUNK_MIN_FLOOR, max <= STOW_CHUNK_MAX_CEIL. */
int stow_chunker_params_check(const stow_chunker_params *p);

typedef struct stow_chunker stow_chunker;

/* Create with a 32-byte seed (expanded into the gear table). */
int stow_chunker_new(stow_chunker **out, const stow_chunker_params *p,
		     const uint8_t seed[32]);
void stow_chunker_free(stow_chunker *c);
const stow_chunker_params *stow_chunker_params_of(const stow_chunker *c);

/* Length of the next chunk of data[0..len). If no cut point is found and
 * len < max and !eof, returns 0: supply more data (at least max bytes when
 * available). With eof, the final chunk may be shorter than min.
 * len == 0 returns 0. */
size_t stow_chunker_next(const stow_chunker *c, const uint8_t *data, size_t len,
			 int eof);

/* The same, for a caller that grows the window: `from` is the len of an
 * earlier call on the same boundary that returned 0, so positions below it
 * are not scanned again. Returns exactly what stow_chunker_next() would;
 * with from = 0 it is stow_chunker_next(). Lets a reader fill the chunk's
 * own buffer a little at a time and never copy more than one read. */
size_t stow_chunker_next_from(const stow_chunker *c, const uint8_t *data,
			      size_t len, int eof, size_t from);

#endif
