/* Unit tests for src/vault/compress.c: round trips, hostile input, spec
 * text, and the incompressibility probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/err.h"
#include "vault/compress.h"

static uint64_t xs_state;

static uint64_t xorshift64(void)
{
	uint64_t x = xs_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return xs_state = x;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	xs_state = seed;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(xorshift64() >> 56);
}

/* Synthetic log lines: the kind of text a pod writes. */
static void fill_log(uint8_t *p, size_t n, uint64_t seed)
{
	static const char *const lvl[] = {"info", "warn", "error", "debug"};
	static const char *const msg[] = {
	    "request served",	  "cache miss",	   "connection reset by peer",
	    "reconciling object", "lease renewed", "slow query"};
	char line[256];
	size_t off = 0;

	xs_state = seed;
	while (off < n) {
		uint64_t r = xorshift64();
		int k = snprintf(line, sizeof(line),
				 "2026-11-25T14:%02u:%02u.%03uZ level=%s "
				 "msg=\"%s\" pod=web-%u latency_ms=%u "
				 "trace=%016llx\n",
				 (unsigned)(r % 60), (unsigned)(r >> 8) % 60,
				 (unsigned)(r >> 16) % 1000, lvl[(r >> 26) % 4],
				 msg[(r >> 28) % 6], (unsigned)(r >> 32) % 7,
				 (unsigned)(r >> 40) % 900,
				 (unsigned long long)xorshift64());
		size_t m = (size_t)k < n - off ? (size_t)k : n - off;

		memcpy(p + off, line, m);
		off += m;
	}
}

enum {
	INPUT_EMPTY,
	INPUT_ONE,
	INPUT_TEXT,
	INPUT_RANDOM,
	INPUT_ZEROS,
	INPUT_BIGLOG,
	INPUT_N
};

static uint8_t *make_input(int kind, size_t *n)
{
	static const char text[] =
	    "It was the best of times, it was the worst of times, it was "
	    "the age of wisdom, it was the age of foolishness, it was the "
	    "epoch of belief, it was the epoch of incredulity, it was the "
	    "season of Light, it was the season of Darkness.";
	uint8_t *p;

	switch (kind) {
	case INPUT_EMPTY: *n = 0; break;
	case INPUT_ONE: *n = 1; break;
	case INPUT_TEXT: *n = sizeof(text) - 1; break;
	case INPUT_RANDOM: *n = 100000; break;
	case INPUT_ZEROS: *n = 65536; break;
	default: *n = 1 << 20; break;
	}
	p = malloc(*n + 1);
	assert_non_null(p);
	switch (kind) {
	case INPUT_ONE: p[0] = 'x'; break;
	case INPUT_TEXT: memcpy(p, text, *n); break;
	case INPUT_RANDOM: fill_random(p, *n, 42); break;
	case INPUT_ZEROS: memset(p, 0, *n); break;
	case INPUT_BIGLOG: fill_log(p, *n, 7); break;
	default: break;
	}
	return p;
}

static const char *const all_specs[] = {
    "none", "auto",   "zstd:1", "zstd:3", "zstd:19",
    "lz4",  "gzip:1", "gzip:6", "gzip:9",
};

/* Compress src with spec, check the 1/32 rule, decompress, compare. */
static void round_trip(const char *spec_text, const uint8_t *src, size_t n,
		       stow_comp_alg *used_out)
{
	stow_comp_spec spec;
	stow_compressor *c = NULL;
	_cleanup_(stow_buf_freep) stow_buf out;
	stow_comp_alg used;
	uint8_t *back;

	stow_buf_init(&out, 0);
	assert_int_equal(stow_comp_spec_parse(spec_text, &spec), 0);
	assert_int_equal(stow_compressor_new(&c, &spec), 0);
	/* Something already in the buffer must be kept. */
	assert_int_equal(stow_buf_append(&out, "HDR", 3), 0);
	assert_int_equal(stow_compress(c, src, n, &out, &used), 0);
	back = malloc(n + 1);
	assert_non_null(back);
	assert_memory_equal(out.data, "HDR", 3);
	if (used == STOW_COMP_NONE) {
		assert_int_equal(out.len, 3);
		assert_int_equal(
		    stow_decompress(STOW_COMP_NONE, src, n, back, n), 0);
	} else {
		size_t clen = out.len - 3;

		assert_int_equal(used, spec.alg);
		/* Kept only if it saves at least 1/32. */
		assert_true(32 * (n - clen) >= n);
		assert_true(clen < n);
		assert_int_equal(
		    stow_decompress(used, out.data + 3, clen, back, n), 0);
	}
	if (n)
		assert_memory_equal(back, src, n);
	free(back);
	stow_compressor_free(c);
	if (used_out)
		*used_out = used;
}

static void test_round_trip_all(void **state)
{
	(void)state;
	for (int k = 0; k < INPUT_N; k++) {
		size_t n;
		uint8_t *in = make_input(k, &n);

		for (size_t s = 0; s < sizeof(all_specs) / sizeof(*all_specs);
		     s++) {
			stow_comp_alg used;

			round_trip(all_specs[s], in, n, &used);
			/* Things that must and must not compress. */
			if (k == INPUT_EMPTY || k == INPUT_ONE ||
			    k == INPUT_RANDOM || !strcmp(all_specs[s], "none"))
				assert_int_equal(used, STOW_COMP_NONE);
			else if (k == INPUT_ZEROS || k == INPUT_BIGLOG)
				assert_int_not_equal(used, STOW_COMP_NONE);
		}
		free(in);
	}
}

/* Compress with one spec into a fresh malloc'd buffer. */
static uint8_t *compress_with(const char *spec_text, const uint8_t *src,
			      size_t n, size_t *clen, stow_comp_alg *alg)
{
	stow_comp_spec spec;
	stow_compressor *c = NULL;
	stow_buf out;

	stow_buf_init(&out, 0);
	assert_int_equal(stow_comp_spec_parse(spec_text, &spec), 0);
	assert_int_equal(stow_compressor_new(&c, &spec), 0);
	assert_int_equal(stow_compress(c, src, n, &out, alg), 0);
	assert_int_not_equal(*alg, STOW_COMP_NONE);
	stow_compressor_free(c);
	return stow_buf_steal(&out, clen);
}

static const char *const codec_specs[] = {"zstd:3", "lz4", "gzip:6"};

static void test_wrong_rawlen(void **state)
{
	size_t n, clen;
	uint8_t *in = make_input(INPUT_BIGLOG, &n);
	uint8_t *dst = malloc(n + 100);

	(void)state;
	assert_non_null(dst);
	for (size_t s = 0; s < 3; s++) {
		stow_comp_alg alg;
		uint8_t *z = compress_with(codec_specs[s], in, n, &clen, &alg);
		size_t lens[] = {0, 1, n - 1, n + 1, n + 100, n / 2};

		for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++)
			assert_int_equal(
			    stow_decompress(alg, z, clen, dst, lens[i]),
			    STOW_ECORRUPT);
		assert_int_equal(stow_decompress(alg, z, clen, dst, n), 0);
		assert_memory_equal(dst, in, n);
		free(z);
	}
	/* Raw: the length must match too. */
	assert_int_equal(stow_decompress(STOW_COMP_NONE, in, 10, dst, 11),
			 STOW_ECORRUPT);
	assert_int_equal(stow_decompress(STOW_COMP_NONE, in, 10, dst, 9),
			 STOW_ECORRUPT);
	/* An algorithm code from a newer writer. */
	assert_int_equal(stow_decompress((stow_comp_alg)9, in, 10, dst, 10),
			 STOW_EUNSUPPORTED);
	free(dst);
	free(in);
}

/* Structural damage (truncation, trailing bytes, garbage headers) must be
 * STOW_ECORRUPT. A flipped byte deep inside a stream may decode to other
 * bytes of the right length (lz4 and zstd carry no checksum here; the AEAD
 * tag and the content ID catch that), so for flips we only require "no
 * crash, and either an error or the right length". Run under ASan. */
static void test_corrupt_streams(void **state)
{
	size_t n, clen;
	uint8_t *in = make_input(INPUT_BIGLOG, &n);
	uint8_t *dst = malloc(n);

	(void)state;
	assert_non_null(dst);
	for (size_t s = 0; s < 3; s++) {
		stow_comp_alg alg;
		uint8_t *z = compress_with(codec_specs[s], in, n, &clen, &alg);
		uint8_t *t = malloc(clen + 16);

		assert_non_null(t);
		/* Truncated at several points. */
		for (size_t cut = 0; cut < clen; cut += clen / 7 + 1)
			assert_int_equal(stow_decompress(alg, z, cut, dst, n),
					 STOW_ECORRUPT);
		assert_int_equal(stow_decompress(alg, z, clen - 1, dst, n),
				 STOW_ECORRUPT);
		/* Trailing garbage. */
		memcpy(t, z, clen);
		memset(t + clen, 0xa5, 16);
		assert_int_equal(stow_decompress(alg, t, clen + 16, dst, n),
				 STOW_ECORRUPT);
		/* Header smashed (zstd magic, zlib CMF/FLG; for lz4 the first
		 * token's literal length no longer matches the stream). */
		memcpy(t, z, clen);
		t[0] ^= 0xff;
		t[1] ^= 0x5a;
		assert_int_equal(stow_decompress(alg, t, clen, dst, n),
				 STOW_ECORRUPT);
		/* Random flips anywhere: never a crash. */
		xs_state = 99 + s;
		for (int i = 0; i < 300; i++) {
			int rc;

			memcpy(t, z, clen);
			for (int f = 0; f < 1 + i % 4; f++)
				t[xorshift64() % clen] ^=
				    (uint8_t)(1 + xorshift64() % 255);
			rc = stow_decompress(alg, t, clen, dst, n);
			assert_true(rc == 0 || rc == STOW_ECORRUPT);
		}
		free(t);
		free(z);
	}
	free(dst);
	free(in);
}

/* Pure garbage in every algorithm with many claimed lengths. */
static void test_garbage(void **state)
{
	uint8_t src[4096], dst[8192];
	int alg;

	(void)state;
	for (alg = STOW_COMP_ZSTD; alg <= STOW_COMP_GZIP; alg++) {
		for (int i = 0; i < 200; i++) {
			size_t n = 1 + (size_t)i * 19 % sizeof(src);
			size_t raw = (size_t)i * 37 % sizeof(dst);
			int rc;

			fill_random(src, n, 1000 + (uint64_t)i);
			rc = stow_decompress((stow_comp_alg)alg, src, n, dst,
					     raw);
			assert_true(rc == 0 || rc == STOW_ECORRUPT);
		}
		assert_int_equal(
		    stow_decompress((stow_comp_alg)alg, src, 0, dst, 10),
		    STOW_ECORRUPT);
	}
}

static void test_spec_text(void **state)
{
	static const char *const canonical[] = {
	    "auto",   "none",	 "lz4",	   "zstd:1", "zstd:2", "zstd:3",
	    "zstd:9", "zstd:19", "gzip:1", "gzip:6", "gzip:9",
	};
	static const struct {
		const char *in, *out;
	} aliases[] = {
	    {"zstd", "zstd:3"}, {"gzip", "gzip:6"}, {"zstd:03", "zstd:3"}};
	static const char *const bad[] = {
	    "",	       "zstd:",	  "zstd:0", "zstd:20", "zstd:-1",
	    "zstd:3x", "zstd:+3", "gzip:0", "gzip:10", "lz4:1",
	    "auto:1",  "none:0",  "ZSTD",   "brotli",  "zstd:99999999999",
	    "zst",     "zstdx",	  " zstd",
	};
	stow_comp_spec sp;
	char txt[32];

	(void)state;
	for (size_t i = 0; i < sizeof(canonical) / sizeof(*canonical); i++) {
		assert_int_equal(stow_comp_spec_parse(canonical[i], &sp), 0);
		stow_comp_spec_format(&sp, txt, sizeof(txt));
		assert_string_equal(txt, canonical[i]);
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(*aliases); i++) {
		assert_int_equal(stow_comp_spec_parse(aliases[i].in, &sp), 0);
		stow_comp_spec_format(&sp, txt, sizeof(txt));
		assert_string_equal(txt, aliases[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		stow_err_clear();
		assert_int_equal(stow_comp_spec_parse(bad[i], &sp),
				 STOW_EINVAL);
		assert_true(strlen(stow_err_msg()) > 0);
	}
	/* auto is zstd at level 1 with the probe; explicit specs probe off. */
	assert_int_equal(stow_comp_spec_parse("auto", &sp), 0);
	assert_int_equal(sp.alg, STOW_COMP_ZSTD);
	assert_int_equal(sp.level, 1);
	assert_int_equal(sp.probe, 1);
	assert_int_equal(stow_comp_spec_parse("zstd:1", &sp), 0);
	assert_int_equal(sp.probe, 0);
	/* Level 0 means the default and formats as it. */
	sp = (stow_comp_spec){STOW_COMP_ZSTD, 0, 0};
	stow_comp_spec_format(&sp, txt, sizeof(txt));
	assert_string_equal(txt, "zstd:3");
	assert_string_equal(stow_comp_alg_name(STOW_COMP_GZIP), "gzip");
	/* Out-of-range levels are refused by the constructor too. */
	{
		stow_compressor *c = NULL;

		sp = (stow_comp_spec){STOW_COMP_ZSTD, 23, 0};
		assert_int_equal(stow_compressor_new(&c, &sp), STOW_EINVAL);
		assert_null(c);
		sp = (stow_comp_spec){(stow_comp_alg)7, 0, 0};
		assert_int_equal(stow_compressor_new(&c, &sp),
				 STOW_EUNSUPPORTED);
		stow_compressor_free(NULL);
	}
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;

	if (!f)
		return NULL;
	p = malloc(1 << 20);
	assert_non_null(p);
	*n = fread(p, 1, 1 << 20, f);
	fclose(f);
	return p;
}

static void test_probe(void **state)
{
	size_t n = 1 << 20, clen, en;
	uint8_t *p = malloc(n);
	uint8_t *z, *exe;
	stow_comp_alg alg;

	(void)state;
	assert_non_null(p);
	fill_random(p, n, 5);
	assert_int_equal(stow_comp_probe(p, n), 0);
	assert_int_equal(stow_comp_probe(p, 20000), 0);
	assert_int_equal(stow_comp_probe(p, 5000), 0);
	/* Tiny buffers: always worth a try. */
	assert_int_equal(stow_comp_probe(p, 100), 1);
	assert_int_equal(stow_comp_probe(p, 0), 1);

	fill_log(p, n, 3);
	assert_int_equal(stow_comp_probe(p, n), 1);
	assert_int_equal(stow_comp_probe(p, 3000), 1);

	/* Already-compressed data looks random. */
	z = compress_with("zstd:19", p, n, &clen, &alg);
	assert_int_equal(stow_comp_probe(z, clen), 0);
	free(z);

	memset(p, 0, n);
	assert_int_equal(stow_comp_probe(p, n), 1);

	/* Random bytes, but every 1 KiB block twice: bytes look uniform,
	 * yet LZ compresses it by half. */
	for (size_t off = 0; off < n; off += 2048) {
		fill_random(p + off, 1024, off + 1);
		memcpy(p + off + 1024, p + off, 1024);
	}
	assert_int_equal(stow_comp_probe(p, n), 1);

	/* Machine code: this test binary itself. */
	exe = read_file("/proc/self/exe", &en);
	if (exe && en > 16384)
		assert_int_equal(stow_comp_probe(exe, en), 1);
	free(exe);

	/* "auto" stores random data raw without compressing. */
	{
		stow_comp_spec sp;
		stow_compressor *c = NULL;
		_cleanup_(stow_buf_freep) stow_buf out;

		stow_buf_init(&out, 0);
		fill_random(p, n, 11);
		assert_int_equal(stow_comp_spec_parse("auto", &sp), 0);
		assert_int_equal(stow_compressor_new(&c, &sp), 0);
		assert_int_equal(stow_compress(c, p, n, &out, &alg), 0);
		assert_int_equal(alg, STOW_COMP_NONE);
		assert_int_equal(out.len, 0);
		fill_log(p, n, 12);
		assert_int_equal(stow_compress(c, p, n, &out, &alg), 0);
		assert_int_equal(alg, STOW_COMP_ZSTD);
		assert_true(out.len < n / 3);
		stow_compressor_free(c);
	}
	free(p);
}

/* A compressor is reusable: many calls, alternating data, same results. */
static void test_reuse(void **state)
{
	size_t n = 200000;
	uint8_t *a = malloc(n), *b = malloc(n), *d = malloc(n);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(d);
	fill_log(a, n, 1);
	fill_log(b, n, 2);
	for (size_t s = 0; s < 3; s++) {
		stow_comp_spec sp;
		stow_compressor *c = NULL;
		stow_buf first, again;
		stow_comp_alg alg;

		stow_buf_init(&first, 0);
		stow_buf_init(&again, 0);
		assert_int_equal(stow_comp_spec_parse(codec_specs[s], &sp), 0);
		assert_int_equal(stow_compressor_new(&c, &sp), 0);
		assert_int_equal(stow_compress(c, a, n, &first, &alg), 0);
		for (int i = 0; i < 5; i++) {
			stow_buf_reset(&again);
			assert_int_equal(stow_compress(c, b, n, &again, &alg),
					 0);
			assert_int_equal(
			    stow_decompress(alg, again.data, again.len, d, n),
			    0);
			assert_memory_equal(d, b, n);
		}
		stow_buf_reset(&again);
		assert_int_equal(stow_compress(c, a, n, &again, &alg), 0);
		/* Deterministic: same input, same bytes. */
		assert_int_equal(again.len, first.len);
		assert_memory_equal(again.data, first.data, first.len);
		stow_buf_free(&first);
		stow_buf_free(&again);
		stow_compressor_free(c);
	}
	free(a);
	free(b);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_all),
	    cmocka_unit_test(test_wrong_rawlen),
	    cmocka_unit_test(test_corrupt_streams),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_spec_text),
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
