/* Compression codecs behind one interface; see compress.h for the contract
 * and docs/chunker.md ("Compression") for the measurements behind "auto"
 * and the probe.
 *
 * On-storage forms (a reader must accept exactly these):
 *   STOW_COMP_ZSTD  one or more zstd frames (RFC 8878); we write one frame
 *                   with the content size in its header and no checksum
 *                   (the AEAD tag and the content ID already cover it).
 *   STOW_COMP_LZ4   one LZ4 *block* (no frame header, no sizes): the raw
 *                   length comes from the blob's authenticated metadata.
 *   STOW_COMP_GZIP  a zlib stream (RFC 1950: 2-byte header, deflate data,
 *                   Adler-32), not the gzip file format (RFC 1952). The name
 *                   "gzip" is the user-facing one; the bytes are zlib's.
 *   STOW_COMP_NONE  the raw bytes. */
#include "vault/compress.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lz4.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "util/err.h"

#define ZSTD_DEFAULT_LEVEL 3
#define ZSTD_MAX_LEVEL 19
#define GZIP_DEFAULT_LEVEL 6
#define AUTO_ZSTD_LEVEL 1

/* LZ4 and zlib count in int / uInt. Chunks are at most 64 MiB and metadata
 * blobs are far below this, so one cap for all codecs keeps the arithmetic
 * simple and every size representable. */
#define COMP_MAX_INPUT ((size_t)LZ4_MAX_INPUT_SIZE)

const char *stow_comp_alg_name(stow_comp_alg a)
{
	switch (a) {
	case STOW_COMP_NONE: return "none";
	case STOW_COMP_ZSTD: return "zstd";
	case STOW_COMP_LZ4: return "lz4";
	case STOW_COMP_GZIP: return "gzip";
	}
	return "unknown";
}

/* Parse a decimal level in [lo, hi]; the whole string must be digits. */
static int parse_level(const char *s, int lo, int hi, int *out)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > hi)
			return -1;
	}
	if (v < lo)
		return -1;
	*out = (int)v;
	return 0;
}

int stow_comp_spec_parse(const char *s, stow_comp_spec *out)
{
	stow_comp_spec r = {STOW_COMP_NONE, 0, 0};
	const char *colon;
	size_t namelen;

	if (!s || !out)
		return stow_err_set(STOW_EINVAL, "compression spec is missing");
	colon = strchr(s, ':');
	namelen = colon ? (size_t)(colon - s) : strlen(s);

	if (namelen == 4 && !strncmp(s, "auto", 4) && !colon) {
		r.alg = STOW_COMP_ZSTD;
		r.level = AUTO_ZSTD_LEVEL;
		r.probe = 1;
	} else if (namelen == 4 && !strncmp(s, "none", 4) && !colon) {
		r.alg = STOW_COMP_NONE;
	} else if (namelen == 3 && !strncmp(s, "lz4", 3) && !colon) {
		r.alg = STOW_COMP_LZ4;
	} else if (namelen == 4 && !strncmp(s, "zstd", 4)) {
		r.alg = STOW_COMP_ZSTD;
		r.level = ZSTD_DEFAULT_LEVEL;
		if (colon &&
		    parse_level(colon + 1, 1, ZSTD_MAX_LEVEL, &r.level))
			return stow_err_set(STOW_EINVAL,
					    "compression \"%s\": zstd level "
					    "must be 1..19",
					    s);
	} else if (namelen == 4 && !strncmp(s, "gzip", 4)) {
		r.alg = STOW_COMP_GZIP;
		r.level = GZIP_DEFAULT_LEVEL;
		if (colon && parse_level(colon + 1, 1, 9, &r.level))
			return stow_err_set(STOW_EINVAL,
					    "compression \"%s\": gzip level "
					    "must be 1..9",
					    s);
	} else {
		return stow_err_set(STOW_EINVAL,
				    "unknown compression \"%s\" (valid: auto, "
				    "none, zstd, zstd:1-19, lz4, gzip, "
				    "gzip:1-9)",
				    s);
	}
	*out = r;
	return 0;
}

/* The level a spec means, with 0 resolved to the algorithm's default. */
static int effective_level(const stow_comp_spec *s)
{
	switch (s->alg) {
	case STOW_COMP_ZSTD: return s->level ? s->level : ZSTD_DEFAULT_LEVEL;
	case STOW_COMP_GZIP: return s->level ? s->level : GZIP_DEFAULT_LEVEL;
	default: return 0;
	}
}

/* "auto" is exactly zstd at AUTO_ZSTD_LEVEL with the probe; an explicit
 * algorithm parses with the probe off, so the two stay distinguishable and
 * format(parse(x)) == x for every canonical x. A probe flag on any other
 * spec has no text form and is dropped. */
void stow_comp_spec_format(const stow_comp_spec *s, char *out, size_t n)
{
	if (!out || n == 0)
		return;
	if (s->alg == STOW_COMP_ZSTD && s->probe &&
	    effective_level(s) == AUTO_ZSTD_LEVEL) {
		snprintf(out, n, "auto");
		return;
	}
	switch (s->alg) {
	case STOW_COMP_ZSTD:
	case STOW_COMP_GZIP:
		snprintf(out, n, "%s:%d", stow_comp_alg_name(s->alg),
			 effective_level(s));
		break;
	default: snprintf(out, n, "%s", stow_comp_alg_name(s->alg)); break;
	}
}

/* The probe.
 *
 * It has to tell "already compressed or encrypted" (zstd would save less
 * than 1/32 and we should not spend the CPU) from everything else, at a
 * small fraction of the cost of compressing. Order-0 statistics of a few
 * samples do this well: compressed and encrypted bytes are uniform, while
 * text, machine code, tables and logs are far from it.
 *
 * The statistic is the effective alphabet size K = 1 / sum p_i^2 (2 to the
 * collision entropy), estimated without bias from a byte histogram as
 * K = N(N-1) / (S - N) with S = sum c_i^2; it needs no logarithm. Uniform
 * bytes give K = 256 (measured: 256 +- 1.4 on 4 KiB windows, +- 0.2 on
 * 32 KiB); log lines give about 20-40, x86 code 50-120, deflate output
 * (.gz, .jar, .png) 240-256.
 *
 * Up to PROBE_WINDOWS windows of PROBE_WINDOW bytes, spread evenly, are
 * examined; the data is deemed compressible as soon as one window has
 * K < PROBE_WINDOW_K (most data exits after the first window), or when all
 * of them pooled have K < PROBE_POOLED_K. The thresholds come from every
 * 1 MiB chunk of /usr/lib and /usr/share (docs/chunker.md): random data
 * never passes, and of the chunks zstd -1 shrinks by 1/32 or more only 3
 * of 20,000 (deflated .jar/.whl members, 3.7-12 % savings) are skipped.
 *
 * Byte frequencies miss one kind of redundancy: repeats of high-entropy
 * strings (a random block stored twice). So when the histograms look
 * uniform, LZ4 gets the middle window and the data is compressible if that
 * shrinks by 1/32; on data without matches LZ4 skips ahead quickly. */
#define PROBE_WINDOW 4096u
#define PROBE_WINDOWS 8u
#define PROBE_SMALL 512u
#define PROBE_WINDOW_K 240u
#define PROBE_POOLED_K 250u

/* Add the bytes of p to hist (four interleaved tables, so runs of one
 * byte value do not serialise on one counter) and return sum c_i^2 of this
 * window alone. */
static uint64_t window_histogram(const uint8_t *p, size_t n, uint32_t *pooled)
{
	uint32_t h[4][256];
	uint64_t s = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	for (i = 0; i + 4 <= n; i += 4) {
		h[0][p[i]]++;
		h[1][p[i + 1]]++;
		h[2][p[i + 2]]++;
		h[3][p[i + 3]]++;
	}
	for (; i < n; i++)
		h[0][p[i]]++;
	for (i = 0; i < 256; i++) {
		uint64_t c = (uint64_t)h[0][i] + h[1][i] + h[2][i] + h[3][i];

		pooled[i] += (uint32_t)c;
		s += c * c;
	}
	return s;
}

/* K < limit, from n bytes with sum of squared counts s (integer form of
 * n(n-1) / (s - n) < limit). */
static int alphabet_below(uint64_t n, uint64_t s, uint64_t limit)
{
	if (s <= n)
		return 0; /* every byte value seen at most once: uniform */
	return n * (n - 1) < limit * (s - n);
}

int stow_comp_probe(const void *src, size_t n)
{
	const uint8_t *p = src;
	uint32_t pooled[256] = {0};
	size_t win, nwin, step;
	uint64_t s = 0;

	/* Too little data to judge, and cheap to just try. */
	if (n < PROBE_SMALL)
		return 1;
	/* Windows must not overlap, or the pooled histogram counts bytes
	 * twice and looks less uniform than the data is. */
	win = n < PROBE_WINDOW ? n : PROBE_WINDOW;
	nwin = n / win;
	if (nwin > PROBE_WINDOWS)
		nwin = PROBE_WINDOWS;
	step = nwin > 1 ? (n - win) / (nwin - 1) : 0;
	for (size_t w = 0; w < nwin; w++) {
		uint64_t sw = window_histogram(p + w * step, win, pooled);

		if (alphabet_below(win, sw, PROBE_WINDOW_K))
			return 1;
	}
	for (size_t i = 0; i < 256; i++)
		s += (uint64_t)pooled[i] * pooled[i];
	if (alphabet_below((uint64_t)win * nwin, s, PROBE_POOLED_K))
		return 1;

	/* Uniform bytes: look for long repeats in the middle window. */
	{
		char lz[LZ4_COMPRESSBOUND(PROBE_WINDOW)];
		const char *mid = (const char *)p + (n - win) / 2;
		int c =
		    LZ4_compress_default(mid, lz, (int)win, (int)sizeof(lz));

		/* The same 1/32 rule as for keeping compressed output. */
		return c > 0 && (size_t)c * 32 <= win * 31;
	}
}

struct stow_compressor {
	stow_comp_spec spec;
	int level; /* effective */
	ZSTD_CCtx *zc;
	z_stream zs;
	int zs_live; /* deflateInit succeeded */
	void *lz4_state;
};

void stow_compressor_free(stow_compressor *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->zc);
	if (c->zs_live)
		deflateEnd(&c->zs);
	free(c->lz4_state);
	free(c);
}

int stow_compressor_new(stow_compressor **out, const stow_comp_spec *spec)
{
	stow_compressor *c;
	int rc;

	if (!out || !spec)
		return stow_err_set(STOW_EINVAL,
				    "compressor: missing argument");
	*out = NULL;
	if ((spec->alg == STOW_COMP_ZSTD &&
	     (spec->level < 0 || spec->level > ZSTD_MAX_LEVEL)) ||
	    (spec->alg == STOW_COMP_GZIP &&
	     (spec->level < 0 || spec->level > 9)))
		return stow_err_set(STOW_EINVAL, "compressor: bad level %d",
				    spec->level);
	c = calloc(1, sizeof(*c));
	if (!c)
		return stow_err_set(STOW_ENOMEM, "compressor: out of memory");
	c->spec = *spec;
	c->level = effective_level(spec);
	switch (spec->alg) {
	case STOW_COMP_NONE: break;
	case STOW_COMP_ZSTD:
		c->zc = ZSTD_createCCtx();
		if (!c->zc)
			goto nomem;
		/* The content size in the frame header lets a reader reject a
		 * size mismatch before decoding; the checksum is redundant
		 * with the AEAD tag and the content ID. */
		if (ZSTD_isError(ZSTD_CCtx_setParameter(
			c->zc, ZSTD_c_compressionLevel, c->level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			c->zc, ZSTD_c_contentSizeFlag, 1)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(
			c->zc, ZSTD_c_checksumFlag, 0))) {
			int level = c->level;

			stow_compressor_free(c);
			return stow_err_set(STOW_EIO,
					    "zstd: cannot set level %d", level);
		}
		break;
	case STOW_COMP_LZ4:
		c->lz4_state = malloc((size_t)LZ4_sizeofState());
		if (!c->lz4_state)
			goto nomem;
		break;
	case STOW_COMP_GZIP:
		rc = deflateInit(&c->zs, c->level);
		if (rc == Z_MEM_ERROR)
			goto nomem;
		if (rc != Z_OK) {
			stow_compressor_free(c);
			return stow_err_set(STOW_EIO, "zlib: deflateInit: %d",
					    rc);
		}
		c->zs_live = 1;
		break;
	default:
		free(c);
		return stow_err_set(STOW_EUNSUPPORTED,
				    "unknown compression algorithm %d",
				    (int)spec->alg);
	}
	*out = c;
	return 0;
nomem:
	stow_compressor_free(c);
	return stow_err_set(STOW_ENOMEM, "compressor: out of memory");
}

/* Compress into dst (at most cap bytes). Returns the compressed size, 0 when
 * the output does not fit in cap (=> store raw), or a negative error. Giving
 * the codec a buffer of only the useful size both bounds memory and makes it
 * give up as soon as the result could not be kept. */
static long long codec_compress(stow_compressor *c, const uint8_t *src,
				size_t n, uint8_t *dst, size_t cap)
{
	size_t r;
	int k;

	switch (c->spec.alg) {
	case STOW_COMP_ZSTD:
		r = ZSTD_compress2(c->zc, dst, cap, src, n);
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
				return 0;
			return stow_err_set(STOW_EIO, "zstd: %s",
					    ZSTD_getErrorName(r));
		}
		return (long long)r;
	case STOW_COMP_LZ4:
		/* Returns 0 when the output does not fit. */
		k = LZ4_compress_fast_extState(c->lz4_state, (const char *)src,
					       (char *)dst, (int)n, (int)cap,
					       1);
		return k > 0 ? k : 0;
	case STOW_COMP_GZIP:
		k = deflateReset(&c->zs);
		if (k != Z_OK)
			return stow_err_set(STOW_EIO, "zlib: deflateReset: %d",
					    k);
		c->zs.next_in = (Bytef *)src;
		c->zs.avail_in = (uInt)n;
		c->zs.next_out = dst;
		c->zs.avail_out = (uInt)cap;
		k = deflate(&c->zs, Z_FINISH);
		if (k == Z_STREAM_END)
			return (long long)(cap - c->zs.avail_out);
		if (k == Z_OK || k == Z_BUF_ERROR)
			return 0; /* ran out of room */
		return stow_err_set(STOW_EIO, "zlib: deflate: %d", k);
	default: return 0;
	}
}

int stow_compress(stow_compressor *c, const void *src, size_t n, stow_buf *out,
		  stow_comp_alg *used)
{
	size_t cap;
	long long r;

	if (!c || !out || !used || (!src && n))
		return stow_err_set(STOW_EINVAL, "compress: missing argument");
	*used = STOW_COMP_NONE;
	if (c->spec.alg == STOW_COMP_NONE)
		return 0;
	if (n > COMP_MAX_INPUT)
		return stow_err_set(STOW_EINVAL,
				    "compress: %zu bytes exceed the %zu cap", n,
				    COMP_MAX_INPUT);
	/* Keep the result only if it saves at least 1/32 of the input:
	 * 32 * (n - c) >= n  <=>  c <= n - ceil(n / 32). */
	cap = n - (n + 31) / 32;
	if (cap == 0)
		return 0;
	if (c->spec.probe && !stow_comp_probe(src, n))
		return 0;
	STOW_TRY(stow_buf_reserve(out, cap));
	r = codec_compress(c, src, n, out->data + out->len, cap);
	if (r < 0)
		return (int)r;
	if (r == 0)
		return 0;
	out->len += (size_t)r;
	*used = c->spec.alg;
	return 0;
}

/* zstd decompression contexts are cached per thread (one is ~100 KiB and
 * creating it per blob costs more than decoding a small metadata blob);
 * the key's destructor frees a thread's context when the thread exits. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_ok;

static void dctx_destroy(void *p)
{
	ZSTD_freeDCtx(p);
}

static void dctx_key_init(void)
{
	dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

static ZSTD_DCtx *thread_dctx(int *owned)
{
	ZSTD_DCtx *d;

	*owned = 0;
	pthread_once(&dctx_once, dctx_key_init);
	if (dctx_key_ok) {
		d = pthread_getspecific(dctx_key);
		if (d)
			return d;
	}
	d = ZSTD_createDCtx();
	if (!d)
		return NULL;
	if (!dctx_key_ok || pthread_setspecific(dctx_key, d) != 0)
		*owned = 1; /* cannot cache: caller frees */
	return d;
}

static int corrupt(stow_comp_alg alg, const char *why)
{
	return stow_err_set(STOW_ECORRUPT, "%s payload: %s",
			    stow_comp_alg_name(alg), why);
}

static int decompress_zstd(const uint8_t *src, size_t n, uint8_t *dst,
			   size_t rawlen)
{
	unsigned long long fcs;
	ZSTD_DCtx *d;
	int owned;
	size_t r;

	/* Cheap rejection from the frame header before decoding anything. */
	fcs = ZSTD_getFrameContentSize(src, n);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return corrupt(STOW_COMP_ZSTD, "not a zstd frame");
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != rawlen)
		return stow_err_set(STOW_ECORRUPT,
				    "zstd payload: frame says %llu bytes, "
				    "expected %zu",
				    fcs, rawlen);
	d = thread_dctx(&owned);
	if (!d)
		return stow_err_set(STOW_ENOMEM, "zstd: out of memory");
	/* Decodes every frame in src; fails on trailing garbage, truncation
	 * or output beyond rawlen, and never writes past dst + rawlen. */
	r = ZSTD_decompressDCtx(d, dst, rawlen, src, n);
	if (owned)
		ZSTD_freeDCtx(d);
	if (ZSTD_isError(r)) {
		/* The context may be mid-frame; it resets at the next call. */
		return stow_err_set(STOW_ECORRUPT, "zstd payload: %s",
				    ZSTD_getErrorName(r));
	}
	if (r != rawlen)
		return stow_err_set(STOW_ECORRUPT,
				    "zstd payload: %zu bytes, expected %zu", r,
				    rawlen);
	return 0;
}

static int decompress_lz4(const uint8_t *src, size_t n, uint8_t *dst,
			  size_t rawlen)
{
	char dummy;
	int r;

	if (n == 0)
		return corrupt(STOW_COMP_LZ4, "empty");
	if (!rawlen)
		dst = (uint8_t *)&dummy;
	/* Bounds-checked on both sides: never reads past src + n nor writes
	 * past dst + rawlen; the block must be consumed exactly. */
	r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n,
				(int)rawlen);
	if (r < 0)
		return corrupt(STOW_COMP_LZ4, "malformed block");
	if ((size_t)r != rawlen)
		return stow_err_set(STOW_ECORRUPT,
				    "lz4 payload: %d bytes, expected %zu", r,
				    rawlen);
	return 0;
}

static int decompress_zlib(const uint8_t *src, size_t n, uint8_t *dst,
			   size_t rawlen)
{
	z_stream zs;
	uint8_t dummy;
	int rc, end;

	memset(&zs, 0, sizeof(zs));
	rc = inflateInit(&zs);
	if (rc == Z_MEM_ERROR)
		return stow_err_set(STOW_ENOMEM, "zlib: out of memory");
	if (rc != Z_OK)
		return stow_err_set(STOW_EIO, "zlib: inflateInit: %d", rc);
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)n;
	/* zlib wants a valid pointer even for zero room. */
	zs.next_out = rawlen ? dst : &dummy;
	zs.avail_out = (uInt)rawlen;
	rc = inflate(&zs, Z_FINISH);
	end = zs.avail_in == 0 && zs.total_out == rawlen;
	inflateEnd(&zs);
	if (rc == Z_MEM_ERROR)
		return stow_err_set(STOW_ENOMEM, "zlib: out of memory");
	if (rc != Z_STREAM_END)
		return stow_err_set(STOW_ECORRUPT, "gzip payload: %s (zlib %d)",
				    rc == Z_BUF_ERROR ? "longer than expected "
							"or truncated"
						      : "malformed stream",
				    rc);
	if (!end)
		return stow_err_set(STOW_ECORRUPT, "gzip payload: %s",
				    zs.avail_in ? "trailing bytes after stream"
						: "shorter than expected");
	return 0;
}

int stow_decompress(stow_comp_alg alg, const void *src, size_t n, void *dst,
		    size_t rawlen)
{
	if ((!src && n) || (!dst && rawlen))
		return stow_err_set(STOW_EINVAL,
				    "decompress: missing argument");
	if (n > COMP_MAX_INPUT || rawlen > COMP_MAX_INPUT)
		return stow_err_set(STOW_ECORRUPT,
				    "%s payload: size %zu -> %zu beyond the "
				    "%zu cap",
				    stow_comp_alg_name(alg), n, rawlen,
				    COMP_MAX_INPUT);
	switch (alg) {
	case STOW_COMP_NONE:
		if (n != rawlen)
			return stow_err_set(STOW_ECORRUPT,
					    "raw payload: %zu bytes, "
					    "expected %zu",
					    n, rawlen);
		if (n && dst != src)
			memmove(dst, src, n);
		return 0;
	case STOW_COMP_ZSTD: return decompress_zstd(src, n, dst, rawlen);
	case STOW_COMP_LZ4: return decompress_lz4(src, n, dst, rawlen);
	case STOW_COMP_GZIP: return decompress_zlib(src, n, dst, rawlen);
	}
	/* The code comes from authenticated metadata: a newer writer. */
	return stow_err_set(STOW_EUNSUPPORTED,
			    "unknown compression algorithm %d", (int)alg);
}
