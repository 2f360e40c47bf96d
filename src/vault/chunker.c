/* FastCDC-style content-defined chunking; see chunker.h for the contract
 * and docs/chunker.md for the format-level definition and the measurements.
 *
 * The cut rule, precisely (this is part of the on-storage format: changing
 * any of it changes chunk boundaries and thus dedup against old snapshots):
 *
 *   gear[k]   = little-endian uint64 k of HKDF-SHA256(ikm = seed, no salt,
 *               info = "stowage chunker gear v1", 2048 bytes), k = 0..255
 *   h         = (h << 1) + gear[byte]   (mod 2^64), starting from 0 at byte
 *               offset min - 64 of the chunk (64 bytes of warm-up, so at
 *               every tested position h depends on exactly the last 64
 *               bytes and nothing else)
 *   mask(b)   = the b most significant bits of a uint64 set
 *   A         = log2(avg)
 *   a chunk of length L (counting the byte just hashed) ends when
 *       min <= L < avg  and  (h & mask(A + 2)) == 0    (stricter)
 *       avg <= L < max  and  (h & mask(A - 2)) == 0    (looser)
 *       L == max                                        (forced)
 *
 * The most significant bits are tested because in a gear hash bit k
 * depends only on the last k + 1 bytes: the top bits see (nearly) the whole
 * 64-byte window, the low bits only a few bytes. */
#include "vault/chunker.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/err.h"

#define GEAR_INFO "stowage chunker gear v1"
#define WINDOW 64u /* bits in h = bytes that influence it */

struct stow_chunker {
	stow_chunker_params p;
	uint64_t mask_s; /* before avg: A + 2 bits */
	uint64_t mask_l; /* from avg on: A - 2 bits */
	uint64_t gear[256];
};

/* Measured in docs/chunker.md: 256 KiB / 1 MiB / 4 MiB. */
void stow_chunker_params_default(stow_chunker_params *p)
{
	p->min = 256u << 10;
	p->avg = 1u << 20;
	p->max = 4u << 20;
}

int stow_chunker_params_check(const stow_chunker_params *p)
{
	if (!p)
		return stow_err_set(STOW_EINVAL, "chunker: missing parameters");
	if (p->min < STOW_CHUNK_MIN_FLOOR)
		return stow_err_set(STOW_EINVAL,
				    "chunker: min %u is below %u bytes", p->min,
				    STOW_CHUNK_MIN_FLOOR);
	if (p->max > STOW_CHUNK_MAX_CEIL)
		return stow_err_set(STOW_EINVAL,
				    "chunker: max %u is above %u bytes", p->max,
				    STOW_CHUNK_MAX_CEIL);
	if (p->avg == 0 || (p->avg & (p->avg - 1)))
		return stow_err_set(STOW_EINVAL,
				    "chunker: avg %u is not a power of two",
				    p->avg);
	if (p->min > p->avg || p->avg > p->max)
		return stow_err_set(STOW_EINVAL,
				    "chunker: need min <= avg <= max, got "
				    "%u / %u / %u",
				    p->min, p->avg, p->max);
	return 0;
}

static uint64_t top_bits(unsigned b)
{
	return b >= 64 ? ~0ULL : ~(~0ULL >> b);
}

int stow_chunker_new(stow_chunker **out, const stow_chunker_params *p,
		     const uint8_t seed[32])
{
	uint8_t raw[256 * 8];
	stow_chunker *c;
	unsigned a;
	int rc;

	if (!out || !seed)
		return stow_err_set(STOW_EINVAL, "chunker: missing argument");
	*out = NULL;
	STOW_TRY(stow_chunker_params_check(p));
	c = calloc(1, sizeof(*c));
	if (!c)
		return stow_err_set(STOW_ENOMEM, "chunker: out of memory");
	c->p = *p;
	/* avg >= min >= 64, so A >= 6 and both masks are non-empty. */
	a = (unsigned)__builtin_ctz(p->avg);
	c->mask_s = top_bits(a + 2);
	c->mask_l = top_bits(a - 2);
	rc = stow_hkdf_sha256(raw, sizeof(raw), seed, 32, NULL, 0, GEAR_INFO);
	if (rc < 0) {
		free(c);
		return stow_err_wrap(rc, "chunker: deriving the gear table");
	}
	for (unsigned k = 0; k < 256; k++)
		c->gear[k] = stow_get_le64(raw + 8 * k);
	stow_secure_zero(raw, sizeof(raw));
	*out = c;
	return 0;
}

void stow_chunker_free(stow_chunker *c)
{
	if (!c)
		return;
	/* The table is derived from a repository secret. */
	stow_secure_zero(c, sizeof(*c));
	free(c);
}

const stow_chunker_params *stow_chunker_params_of(const stow_chunker *c)
{
	return &c->p;
}

/* Scan d[i..end) for the first index whose hash has no bit of `mask` set;
 * returns that index + 1 (a chunk length), or 0 if none. The hot loop: one
 * load, shift-and-add (an LEA) and test per byte, four bytes per round so
 * the loop overhead and the branch are paid once per four. */
static inline size_t scan(const uint64_t *restrict gear, const uint8_t *d,
			  size_t i, size_t end, uint64_t mask, uint64_t *hp)
{
	uint64_t h = *hp;

	for (; i + 4 <= end; i += 4) {
		uint64_t h0 = (h << 1) + gear[d[i]];
		uint64_t h1 = (h0 << 1) + gear[d[i + 1]];
		uint64_t h2 = (h1 << 1) + gear[d[i + 2]];
		uint64_t h3 = (h2 << 1) + gear[d[i + 3]];

		if (__builtin_expect(!(h0 & mask) | !(h1 & mask) |
					 !(h2 & mask) | !(h3 & mask),
				     0)) {
			*hp = !(h0 & mask)   ? h0
			      : !(h1 & mask) ? h1
			      : !(h2 & mask) ? h2
					     : h3;
			return i + (!(h0 & mask)   ? 1
				    : !(h1 & mask) ? 2
				    : !(h2 & mask) ? 3
						   : 4);
		}
		h = h3;
	}
	for (; i < end; i++) {
		h = (h << 1) + gear[d[i]];
		if (!(h & mask)) {
			*hp = h;
			return i + 1;
		}
	}
	*hp = h;
	return 0;
}

size_t stow_chunker_next_from(const stow_chunker *c, const uint8_t *data,
			      size_t len, int eof, size_t from)
{
	size_t min = c->p.min, avg = c->p.avg, max = c->p.max;
	size_t n = len < max ? len : max;
	uint64_t h = 0;
	size_t i, cut;

	if (len == 0)
		return 0;
	if (len < min)
		return eof ? len : 0;
	/* Byte index i completes a chunk of length i + 1; the first
	 * testable index is min - 1. Indexes below `from` were tested by an
	 * earlier call: resume there. The hash at any index depends on the
	 * WINDOW bytes ending there and nothing else, so warming up over
	 * the 63 bytes before the start gives exactly the value a scan from
	 * the boundary would have. */
	i = from > min - 1 ? from : min - 1;
	if (i >= n)
		return n == max ? max : (eof ? len : 0);
	for (size_t k = i - (WINDOW - 1); k < i; k++)
		h = (h << 1) + c->gear[data[k]];
	if (i < avg - 1) {
		cut = scan(c->gear, data, i, n < avg - 1 ? n : avg - 1,
			   c->mask_s, &h);
		if (cut)
			return cut;
	}
	if (n > avg - 1) {
		cut = scan(c->gear, data, i > avg - 1 ? i : avg - 1, n,
			   c->mask_l, &h);
		if (cut)
			return cut;
	}
	if (n == max)
		return max;
	return eof ? len : 0;
}

size_t stow_chunker_next(const stow_chunker *c, const uint8_t *data, size_t len,
			 int eof)
{
	return stow_chunker_next_from(c, data, len, eof, 0);
}
