/* The vault benchmark; see benchmark.h. Each measurement repeats one
 * operation over a fixed set of 1 MiB messages until LINE_SECONDS have
 * passed, so fast and slow primitives both get a stable number without a
 * per-algorithm iteration count.
 *
 * Time is this thread's CPU time, not wall time: on a busy machine (a node
 * running workloads, a CI runner) the run takes longer but still reports
 * what one core does, which is what the pipeline's sizing needs. */
#include "vault/benchmark.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/chunker.h"
#include "vault/compress.h"

#define MSG (1u << 20)	 /* bytes per message: the average chunk */
#define NMSG 8u		 /* messages in the working set */
#define BUF (MSG * NMSG) /* 8 MiB: larger than L2, like real data */
#define LINE_SECONDS 0.25

typedef struct result {
	const char *op, *alg, *data; /* data: "random" or "log" */
	double mbps;
	double ratio;	 /* compress only; 0 otherwise */
	double dec_mbps; /* compress only */
	int unsupported;
} result;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void fill_random(uint8_t *p, size_t n, uint64_t x)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		stow_put_le64(p + i, x);
	}
}

/* Log lines with timestamps, levels, request IDs and latencies: what pods
 * write to volumes, and a middle ground between text and binary for the
 * compressors (zstd level 1 gets about 4.3x on it, lz4 2.6x). */
static void fill_log(uint8_t *p, size_t n)
{
	static const char *const lvl[] = {"info", "warn", "error", "debug"};
	static const char *const msg[] = {
	    "request served",
	    "cache miss",
	    "connection reset by peer",
	    "reconciling object",
	    "lease renewed",
	    "slow query",
	    "GET /api/v1/namespaces/default/pods",
	    "upstream timeout",
	};
	uint64_t x = 0x2545F4914F6CDD1DULL;
	size_t off = 0;
	char line[256];

	while (off < n) {
		size_t m;
		int k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = snprintf(line, sizeof(line),
			     "2026-11-25T%02u:%02u:%02u.%03uZ level=%s "
			     "msg=\"%s\" pod=web-%u-%04x latency_ms=%u "
			     "bytes=%u req=%08x\n",
			     (unsigned)(x % 24), (unsigned)(x >> 5) % 60,
			     (unsigned)(x >> 11) % 60,
			     (unsigned)(x >> 17) % 1000, lvl[(x >> 27) % 4],
			     msg[(x >> 29) % 8], (unsigned)(x >> 32) % 5,
			     (unsigned)(x >> 35) & 0xfff,
			     (unsigned)(x >> 40) % 2000,
			     (unsigned)(x >> 44) % 100000, (unsigned)(x >> 20));
		if (k <= 0)
			break;
		m = (size_t)k < n - off ? (size_t)k : n - off;
		memcpy(p + off, line, m);
		off += m;
	}
}

static void print_header(FILE *out, int json)
{
	if (json)
		return;
	fprintf(out, "%-9s %-24s %-7s %8s %6s %12s\n", "OPERATION", "ALGORITHM",
		"DATA", "MB/s", "RATIO", "DECOMP MB/s");
}

static void print_result(FILE *out, int json, const result *r)
{
	if (json) {
		fprintf(out, "{\"op\":\"%s\",\"alg\":\"%s\",\"data\":\"%s\"",
			r->op, r->alg, r->data);
		if (r->unsupported)
			fprintf(out, ",\"unsupported\":true}\n");
		else if (r->ratio > 0)
			fprintf(out,
				",\"mb_per_s\":%.1f,\"ratio\":%.3f,"
				"\"decompress_mb_per_s\":%.1f}\n",
				r->mbps, r->ratio, r->dec_mbps);
		else
			fprintf(out, ",\"mb_per_s\":%.1f}\n", r->mbps);
	} else if (r->unsupported) {
		fprintf(out, "%-9s %-24s %-7s %8s\n", r->op, r->alg, r->data,
			"n/a");
	} else if (r->ratio > 0) {
		fprintf(out, "%-9s %-24s %-7s %8.0f %6.2f %12.0f\n", r->op,
			r->alg, r->data, r->mbps, r->ratio, r->dec_mbps);
	} else {
		fprintf(out, "%-9s %-24s %-7s %8.0f\n", r->op, r->alg, r->data,
			r->mbps);
	}
	fflush(out);
}

/* One timed operation on message i of the working set. */
typedef int (*op_fn)(void *ctx, size_t i);

/* Repeat op until LINE_SECONDS pass; *mbps = bytes_per_op * ops / time. */
static int timed(op_fn op, void *ctx, size_t bytes_per_op, double *mbps)
{
	double t0 = now(), t;
	size_t ops = 0;

	do {
		STOW_TRY(op(ctx, ops % NMSG));
		ops++;
		t = now() - t0;
	} while (t < LINE_SECONDS);
	*mbps = (double)bytes_per_op * (double)ops / t / 1e6;
	return 0;
}

typedef struct bench_ctx {
	uint8_t *data;	  /* BUF input bytes */
	uint8_t *scratch; /* BUF + NMSG * STOW_TAG_LEN */
	stow_hasher *hasher;
	stow_aead *aead;
	stow_compressor *comp;
	const stow_chunker *chunker;
	/* compressed messages, for decompression */
	stow_buf zbuf;
	size_t zoff[NMSG], zlen[NMSG];
	stow_comp_alg zalg[NMSG];
} bench_ctx;

static int op_hash(void *p, size_t i)
{
	bench_ctx *b = p;
	uint8_t id[STOW_ID_LEN];

	return stow_hasher_digest(b->hasher, b->data + i * MSG, MSG, id);
}

static void nonce_of(uint8_t nonce[STOW_NONCE_LEN], size_t i)
{
	memset(nonce, 0, STOW_NONCE_LEN);
	nonce[0] = (uint8_t)i;
}

static uint8_t *sealed_of(bench_ctx *b, size_t i)
{
	return b->scratch + i * (MSG + STOW_TAG_LEN);
}

static int op_seal(void *p, size_t i)
{
	bench_ctx *b = p;
	uint8_t nonce[STOW_NONCE_LEN];

	nonce_of(nonce, i);
	return stow_aead_seal(b->aead, nonce, "id", 2, b->data + i * MSG, MSG,
			      sealed_of(b, i));
}

/* Opens into the input area: the plaintext is the same bytes. */
static int op_open(void *p, size_t i)
{
	bench_ctx *b = p;
	uint8_t nonce[STOW_NONCE_LEN];

	nonce_of(nonce, i);
	return stow_aead_open(b->aead, nonce, "id", 2, sealed_of(b, i),
			      MSG + STOW_TAG_LEN, b->data + i * MSG);
}

static int op_compress(void *p, size_t i)
{
	bench_ctx *b = p;
	stow_comp_alg used;

	stow_buf_reset(&b->zbuf);
	return stow_compress(b->comp, b->data + i * MSG, MSG, &b->zbuf, &used);
}

static int op_decompress(void *p, size_t i)
{
	bench_ctx *b = p;

	return stow_decompress(b->zalg[i], b->zbuf.data + b->zoff[i],
			       b->zlen[i], b->scratch + i * MSG, MSG);
}

/* Chunk the whole working set as one stream; one "op" is BUF bytes. */
static int op_chunk(void *p, size_t i)
{
	bench_ctx *b = p;
	size_t off = 0;

	(void)i;
	while (off < BUF) {
		size_t l =
		    stow_chunker_next(b->chunker, b->data + off, BUF - off, 1);

		if (l == 0)
			return stow_err_set(STOW_EIO, "chunker stalled");
		off += l;
	}
	return 0;
}

static int bench_hashes(FILE *out, int json, bench_ctx *b)
{
	static const stow_hash_alg algs[] = {STOW_HASH_HMAC_SHA256,
					     STOW_HASH_BLAKE2B_256};
	uint8_t key[STOW_KEY_LEN];

	memset(key, 0x42, sizeof(key));
	for (size_t k = 0; k < sizeof(algs) / sizeof(*algs); k++) {
		result r = {
		    "hash", stow_hash_alg_name(algs[k]), "random", 0, 0, 0, 0};
		int rc = stow_hasher_new(&b->hasher, algs[k], key);

		if (rc == STOW_EUNSUPPORTED) {
			r.unsupported = 1;
			print_result(out, json, &r);
			continue;
		}
		if (rc == 0)
			rc = timed(op_hash, b, MSG, &r.mbps);
		stow_hasher_free(b->hasher);
		b->hasher = NULL;
		if (rc < 0)
			return stow_err_wrap(rc, "benchmark hash %s", r.alg);
		print_result(out, json, &r);
	}
	return 0;
}

static int bench_aeads(FILE *out, int json, bench_ctx *b)
{
	static const stow_aead_alg algs[] = {STOW_AEAD_AES256GCM,
					     STOW_AEAD_CHACHA20POLY1305};
	uint8_t key[STOW_KEY_LEN];

	memset(key, 0x17, sizeof(key));
	for (size_t k = 0; k < sizeof(algs) / sizeof(*algs); k++) {
		result seal = {
		    "seal", stow_aead_alg_name(algs[k]), "random", 0, 0, 0, 0};
		result open = {"open", seal.alg, "random", 0, 0, 0, 0};
		int rc = stow_aead_new(&b->aead, algs[k]);

		if (rc == STOW_EUNSUPPORTED) {
			seal.unsupported = open.unsupported = 1;
			print_result(out, json, &seal);
			print_result(out, json, &open);
			continue;
		}
		if (rc == 0)
			rc = stow_aead_setkey(b->aead, key);
		/* Seal every message once so each open has a valid tag. */
		for (size_t i = 0; rc == 0 && i < NMSG; i++)
			rc = op_seal(b, i);
		if (rc == 0)
			rc = timed(op_seal, b, MSG, &seal.mbps);
		if (rc == 0)
			rc = timed(op_open, b, MSG, &open.mbps);
		stow_aead_free(b->aead);
		b->aead = NULL;
		if (rc < 0)
			return stow_err_wrap(rc, "benchmark cipher %s",
					     seal.alg);
		print_result(out, json, &seal);
		print_result(out, json, &open);
	}
	return 0;
}

/* Compress each message once (for the ratio and the decompression input),
 * then time compression and decompression separately. */
static int bench_one_comp(FILE *out, int json, bench_ctx *b, const char *label)
{
	result r = {"compress", label, "log", 0, 0, 0, 0};
	stow_comp_spec spec;
	size_t total = 0;
	int rc;

	STOW_TRY(stow_comp_spec_parse(label, &spec));
	STOW_TRY(stow_compressor_new(&b->comp, &spec));
	stow_buf_reset(&b->zbuf);
	rc = 0;
	for (size_t i = 0; rc == 0 && i < NMSG; i++) {
		size_t before = b->zbuf.len;

		rc = stow_compress(b->comp, b->data + i * MSG, MSG, &b->zbuf,
				   &b->zalg[i]);
		if (rc == 0 && b->zalg[i] == STOW_COMP_NONE)
			rc = stow_buf_append(&b->zbuf, b->data + i * MSG, MSG);
		b->zoff[i] = before;
		b->zlen[i] = b->zbuf.len - before;
		total += b->zlen[i];
	}
	if (rc == 0)
		rc = timed(op_decompress, b, MSG, &r.dec_mbps);
	/* op_compress reuses zbuf as its output; offsets are dead now. */
	if (rc == 0)
		rc = timed(op_compress, b, MSG, &r.mbps);
	stow_compressor_free(b->comp);
	b->comp = NULL;
	if (rc < 0)
		return stow_err_wrap(rc, "benchmark compression %s", label);
	r.ratio = (double)BUF / (double)total;
	print_result(out, json, &r);
	return 0;
}

/* "256K", "1M": the CLI's SIZE syntax. */
static const char *size_text(char out[16], uint32_t v)
{
	if (v >= (1u << 20) && v % (1u << 20) == 0)
		snprintf(out, 16, "%uM", v >> 20);
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(out, 16, "%uK", v >> 10);
	else
		snprintf(out, 16, "%u", v);
	return out;
}

static int bench_chunker(FILE *out, int json, bench_ctx *b)
{
	stow_chunker_params p;
	stow_chunker *c = NULL;
	uint8_t seed[32];
	char label[64], smin[16], savg[16], smax[16];
	result r = {"chunk", label, "random", 0, 0, 0, 0};
	int rc;

	stow_chunker_params_default(&p);
	snprintf(label, sizeof(label), "fastcdc %s/%s/%s",
		 size_text(smin, p.min), size_text(savg, p.avg),
		 size_text(smax, p.max));
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	STOW_TRY(stow_chunker_new(&c, &p, seed));
	b->chunker = c;
	rc = timed(op_chunk, b, BUF, &r.mbps);
	b->chunker = NULL;
	stow_chunker_free(c);
	if (rc < 0)
		return rc;
	print_result(out, json, &r);
	return 0;
}

int stow_vault_benchmark(FILE *out, int json)
{
	bench_ctx b;
	int rc;

	if (!out)
		return stow_err_set(STOW_EINVAL, "benchmark: no output");
	memset(&b, 0, sizeof(b));
	stow_buf_init(&b.zbuf, 0);
	b.data = malloc(BUF);
	b.scratch = malloc((size_t)NMSG * (MSG + STOW_TAG_LEN));
	if (!b.data || !b.scratch) {
		rc = stow_err_set(STOW_ENOMEM, "benchmark: out of memory");
		goto done;
	}
	/* Room for every message stored raw, so compress never reallocs
	 * inside a timed loop. */
	rc = stow_buf_reserve(&b.zbuf, BUF);
	if (rc < 0)
		goto done;
	print_header(out, json);

	fill_random(b.data, BUF, 0x9E3779B97F4A7C15ULL);
	rc = bench_hashes(out, json, &b);
	if (rc == 0)
		rc = bench_aeads(out, json, &b);
	if (rc == 0) {
		fill_random(b.data, BUF, 0x9E3779B97F4A7C15ULL);
		rc = bench_chunker(out, json, &b);
	}
	if (rc == 0) {
		/* Random data through "auto": the probe's cost per byte. */
		result r = {"compress", "auto", "random", 0, 0, 0, 0};
		stow_comp_spec spec;

		rc = stow_comp_spec_parse("auto", &spec);
		if (rc == 0)
			rc = stow_compressor_new(&b.comp, &spec);
		if (rc == 0)
			rc = timed(op_compress, &b, MSG, &r.mbps);
		stow_compressor_free(b.comp);
		b.comp = NULL;
		if (rc == 0)
			print_result(out, json, &r);
	}
	fill_log(b.data, BUF);
	if (rc == 0)
		rc = bench_one_comp(out, json, &b, "zstd:1");
	if (rc == 0)
		rc = bench_one_comp(out, json, &b, "zstd:3");
	if (rc == 0)
		rc = bench_one_comp(out, json, &b, "lz4");
	if (rc == 0)
		rc = bench_one_comp(out, json, &b, "gzip:6");
done:
	free(b.data);
	free(b.scratch);
	stow_buf_free(&b.zbuf);
	return rc;
}
