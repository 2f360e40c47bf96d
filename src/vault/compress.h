/* Compression of chunk and metadata payloads: zstd (levels), lz4, gzip
 * (stored as a zlib stream: deflate with the zlib header and checksum),
 * or none.
 *
 * stow_compress() first probes whether the data looks compressible (a
 * cheap sample-based estimate) and, if not, stores it raw; it also stores
 * raw when compression saves less than 1/32 of the size. The algorithm
 * actually used is returned so the caller records it per blob.
 *
 * A stow_compressor holds reusable codec contexts: one per thread.
 * stow_decompress() is thread-safe and treats its input as hostile: the
 * caller gives the exact expected raw size (from authenticated metadata),
 * and any mismatch or malformed stream is STOW_ECORRUPT, never a crash. */
#ifndef STOW_VAULT_COMPRESS_H
#define STOW_VAULT_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum stow_comp_alg {
	STOW_COMP_NONE = 0,
	STOW_COMP_ZSTD = 1,
	STOW_COMP_LZ4 = 2,
	STOW_COMP_GZIP = 3,
} stow_comp_alg;

typedef struct stow_comp_spec {
	stow_comp_alg alg;
	int level; /* algorithm-specific; 0 means the algorithm's default */
	int probe; /* 1: skip data the probe deems incompressible */
} stow_comp_spec;

/* Parse "none", "zstd", "zstd:LEVEL" (1..19), "lz4", "gzip", "gzip:LEVEL"
 * (1..9), or "auto" (zstd at a fast level with the probe on).
 * STOW_EINVAL with a message naming the valid choices otherwise. */
int stow_comp_spec_parse(const char *s, stow_comp_spec *out);
/* Canonical text of a spec ("zstd:3"), into out (at least 32 bytes). */
void stow_comp_spec_format(const stow_comp_spec *s, char *out, size_t n);
const char *stow_comp_alg_name(stow_comp_alg a);

/* Estimate compressibility of a buffer from samples; 1 if worth trying. */
int stow_comp_probe(const void *src, size_t n);

typedef struct stow_compressor stow_compressor;
int stow_compressor_new(stow_compressor **out, const stow_comp_spec *spec);
void stow_compressor_free(stow_compressor *c);

/* Compress src (n bytes) and append to out. *used is the algorithm
 * applied; when it is STOW_COMP_NONE nothing is appended and the caller
 * stores src as is. */
int stow_compress(stow_compressor *c, const void *src, size_t n,
		  stow_buf *out, stow_comp_alg *used);

/* Decompress exactly rawlen bytes into dst. */
int stow_decompress(stow_comp_alg alg, const void *src, size_t n, void *dst,
		    size_t rawlen);

#endif
