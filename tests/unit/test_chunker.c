/* Unit tests for src/vault/chunker.c: golden vectors (on-storage format),
 * and properties: coverage, size bounds, stability under insertions,
 * streaming in pieces, parameter checks. The golden vectors live in
 * $STOW_TEST_DATA/chunker-golden.txt and were produced by an independent
 * model of the rule in docs/chunker.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/chunker.h"

#define GOLDEN_INPUT (8u << 20)

static uint8_t *golden_input; /* GOLDEN_INPUT bytes */
static uint8_t seed0[32];     /* 00 01 .. 1f */

/* The documented input: 64-bit xorshift, each state emitted as 8
 * little-endian bytes. */
static void fill_xorshift(uint8_t *p, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i += 8) {
		uint8_t t[8];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		stow_put_le64(t, x);
		memcpy(p + i, t, n - i < 8 ? n - i : 8);
	}
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 32; i++)
		seed0[i] = (uint8_t)i;
	golden_input = malloc(GOLDEN_INPUT);
	if (!golden_input)
		return -1;
	fill_xorshift(golden_input, GOLDEN_INPUT, 0x9E3779B97F4A7C15ULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(golden_input);
	return 0;
}

static stow_chunker *make(uint32_t min, uint32_t avg, uint32_t max,
			  const uint8_t *seed)
{
	stow_chunker_params p = {min, avg, max};
	stow_chunker *c = NULL;

	assert_int_equal(stow_chunker_new(&c, &p, seed ? seed : seed0), 0);
	assert_non_null(c);
	return c;
}

/* Chunk all of data in one buffer; lengths into *out (caller frees). */
static size_t chunk_all(const stow_chunker *c, const uint8_t *data, size_t n,
			uint32_t **out)
{
	size_t cap = 16, cnt = 0, off = 0;
	uint32_t *v = malloc(cap * sizeof(*v));

	assert_non_null(v);
	while (off < n) {
		size_t l = stow_chunker_next(c, data + off, n - off, 1);

		assert_true(l > 0 && l <= n - off);
		if (cnt == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[cnt++] = (uint32_t)l;
		off += l;
	}
	*out = v;
	return cnt;
}

static uint64_t rng_state = 1;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Chunk data as a reader would: the window grows by random pieces and the
 * chunker is asked with eof = 0 until the last piece arrives. With resume,
 * each call passes the window it was last asked about as `from`, as the
 * backup reader does. */
static size_t chunk_streamed(const stow_chunker *c, const uint8_t *data,
			     size_t n, size_t max_piece, bool resume,
			     uint32_t **out)
{
	size_t cap = 16, cnt = 0, start = 0, avail = 0, from = 0;
	uint32_t *v = malloc(cap * sizeof(*v));

	assert_non_null(v);
	for (;;) {
		size_t l =
		    stow_chunker_next_from(c, data + start, avail - start,
					   avail == n, resume ? from : 0);

		from = l ? 0 : avail - start;

		if (l) {
			assert_true(l <= avail - start);
			if (cnt == cap) {
				cap *= 2;
				v = realloc(v, cap * sizeof(*v));
				assert_non_null(v);
			}
			v[cnt++] = (uint32_t)l;
			start += l;
			continue;
		}
		if (avail == n) {
			assert_int_equal(start, n);
			break;
		}
		/* No cut without eof means the window is below max. */
		assert_true(avail - start < stow_chunker_params_of(c)->max);
		avail += 1 + rng() % max_piece;
		if (avail > n)
			avail = n;
	}
	*out = v;
	return cnt;
}

static void lengths_sha256(const uint32_t *v, size_t cnt, char hex[65])
{
	stow_buf b;
	uint8_t d[32];

	stow_buf_init(&b, 0);
	for (size_t i = 0; i < cnt; i++)
		assert_int_equal(stow_buf_append_le32(&b, v[i]), 0);
	assert_int_equal(stow_sha256(b.data, b.len, d), 0);
	stow_hex(hex, d, 32);
	stow_buf_free(&b);
}

static unsigned long parse_ul(const char **s)
{
	char *end;
	unsigned long v = strtoul(*s, &end, 10);

	assert_true(end != *s);
	*s = end;
	return v;
}

/* Replay every case of the golden file against the C implementation. */
static void test_golden(void **state)
{
	const char *dir = getenv("STOW_TEST_DATA");
	char path[4096], line[1024];
	uint32_t *v = NULL;
	size_t cnt = 0, nfirst = 0;
	int cases = 0, in_case = 0;
	FILE *f;

	(void)state;
	/* Fail, not skip: a golden test that silently does nothing is
	 * worse than none. */
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/chunker-golden.txt", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *s = line;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (!strncmp(line, "case ", 5)) {
			char name[64];
			unsigned long p[4];
			stow_chunker *c;

			assert_false(in_case);
			s += 5;
			assert_int_equal(sscanf(s, "%63s", name), 1);
			s += strlen(name);
			for (int i = 0; i < 4; i++)
				p[i] = parse_ul(&s);
			assert_true(p[3] <= GOLDEN_INPUT);
			c = make((uint32_t)p[0], (uint32_t)p[1], (uint32_t)p[2],
				 NULL);
			cnt = chunk_all(c, golden_input, p[3], &v);
			stow_chunker_free(c);
			nfirst = 0;
			in_case = 1;
			print_message("golden %s: %zu chunks\n", name, cnt);
		} else if (!strncmp(line, "count ", 6)) {
			s += 6;
			assert_int_equal(cnt, parse_ul(&s));
		} else if (!strncmp(line, "sha256 ", 7)) {
			char hex[65], want[65];

			assert_int_equal(sscanf(line + 7, "%64s", want), 1);
			lengths_sha256(v, cnt, hex);
			assert_string_equal(hex, want);
		} else if (!strncmp(line, "first", 5)) {
			s += 5;
			while (*s && *s != '\n') {
				assert_true(nfirst < cnt);
				assert_int_equal(v[nfirst], parse_ul(&s));
				nfirst++;
				while (*s == ' ')
					s++;
			}
		} else if (!strncmp(line, "end", 3)) {
			assert_true(in_case);
			assert_true(nfirst == cnt || nfirst == 50);
			free(v);
			v = NULL;
			in_case = 0;
			cases++;
		} else {
			fail_msg("unexpected line in %s: %s", path, line);
		}
	}
	fclose(f);
	assert_false(in_case);
	assert_true(cases >= 2);
}

/* Chunks tile the input; every chunk but the last lies in [min, max]. */
static void check_tiling(const stow_chunker *c, const uint8_t *data, size_t n)
{
	const stow_chunker_params *p = stow_chunker_params_of(c);
	uint32_t *v;
	size_t cnt = chunk_all(c, data, n, &v), off = 0;
	stow_buf joined;

	stow_buf_init(&joined, 0);
	for (size_t i = 0; i < cnt; i++) {
		if (i + 1 < cnt) {
			assert_true(v[i] >= p->min);
		}
		assert_true(v[i] <= p->max);
		assert_int_equal(stow_buf_append(&joined, data + off, v[i]), 0);
		off += v[i];
	}
	assert_int_equal(joined.len, n);
	if (n)
		assert_memory_equal(joined.data, data, n);
	stow_buf_free(&joined);
	free(v);
}

static void test_tiling(void **state)
{
	static const uint32_t params[][3] = {
	    {2048, 8192, 65536},
	    {64, 64, 64},
	    {64, 64, 4096},
	    {100, 128, 129},
	    {4096, 4096, 8192},
	    {64, 1024, 1024},
	    {256u << 10, 1u << 20, 4u << 20},
	};
	static const size_t sizes[] = {
	    0, 1, 63, 64, 65, 2047, 2048, 2049, 100000, 1u << 20, 5u << 20};
	uint8_t *zeros = calloc(1, 5u << 20);

	(void)state;
	assert_non_null(zeros);
	for (size_t i = 0; i < sizeof(params) / sizeof(*params); i++) {
		stow_chunker *c =
		    make(params[i][0], params[i][1], params[i][2], NULL);

		for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
			check_tiling(c, golden_input, sizes[k]);
			check_tiling(c, zeros, sizes[k]);
		}
		stow_chunker_free(c);
	}
	free(zeros);
}

/* Zeros have a constant 64-byte window, hence no cut (for this seed) and
 * max-size chunks: runs of zeros dedup perfectly. */
static void test_zeros(void **state)
{
	stow_chunker *c = make(2048, 8192, 65536, NULL);
	uint8_t *z = calloc(1, 1u << 20);
	uint32_t *v;
	size_t cnt;

	(void)state;
	assert_non_null(z);
	cnt = chunk_all(c, z, 1u << 20, &v);
	assert_int_equal(cnt, 16);
	for (size_t i = 0; i < cnt; i++)
		assert_int_equal(v[i], 65536);
	free(v);
	free(z);
	stow_chunker_free(c);
}

/* Cumulative cut offsets of a chunk length list (caller frees). */
static uint64_t *cut_offsets(const uint32_t *v, size_t cnt)
{
	uint64_t *o = malloc((cnt + 1) * sizeof(*o)), off = 0;

	assert_non_null(o);
	for (size_t i = 0; i < cnt; i++) {
		off += v[i];
		o[i] = off;
	}
	return o;
}

/* Fraction (in 1/1000) of the original cut points after `from` that
 * reappear in the edited input, shifted by `shift`. */
static unsigned kept_permille(const stow_chunker *c, const uint8_t *a,
			      size_t an, const uint8_t *b, size_t bn,
			      uint64_t from, int64_t shift)
{
	uint32_t *va, *vb;
	size_t na = chunk_all(c, a, an, &va);
	size_t nb = chunk_all(c, b, bn, &vb);
	uint64_t *oa = cut_offsets(va, na), *ob = cut_offsets(vb, nb);
	size_t j = 0, total = 0, kept = 0;

	for (size_t i = 0; i < na; i++) {
		uint64_t want;

		/* The end of the input is not a content-defined cut. */
		if (oa[i] <= from || oa[i] == an)
			continue;
		want = (uint64_t)((int64_t)oa[i] + shift);
		total++;
		while (j < nb && ob[j] < want)
			j++;
		if (j < nb && ob[j] == want)
			kept++;
	}
	free(va);
	free(vb);
	free(oa);
	free(ob);
	assert_true(total > 0);
	return (unsigned)(kept * 1000 / total);
}

static void test_stability(void **state)
{
	stow_chunker *c = make(2048, 8192, 65536, NULL);
	size_t n = GOLDEN_INPUT;
	uint8_t *b = malloc(n + 100);
	unsigned k;

	(void)state;
	assert_non_null(b);
	/* Insert 37 bytes at offset 5000. */
	memcpy(b, golden_input, 5000);
	memset(b + 5000, 'x', 37);
	memcpy(b + 5037, golden_input + 5000, n - 5000);
	k = kept_permille(c, golden_input, n, b, n + 37, 5000, 37);
	print_message("insert 37 B: %u/1000 later cuts kept\n", k);
	assert_true(k >= 990);
	/* Delete 1 byte at offset 100. */
	memcpy(b, golden_input, 100);
	memcpy(b + 100, golden_input + 101, n - 101);
	k = kept_permille(c, golden_input, n, b, n - 1, 100, -1);
	print_message("delete 1 B: %u/1000 later cuts kept\n", k);
	assert_true(k >= 990);
	/* Overwrite 4 KiB in the middle: cuts after it come back. */
	memcpy(b, golden_input, n);
	memset(b + n / 2, 0xee, 4096);
	k = kept_permille(c, golden_input, n, b, n, n / 2 + 4096, 0);
	print_message("overwrite 4 KiB: %u/1000 later cuts kept\n", k);
	assert_true(k >= 990);
	/* Another seed gives other boundaries (the seed is not ignored). */
	{
		uint8_t s1[32];
		stow_chunker *c1;
		uint32_t *va, *vb;
		size_t na, nb;

		memcpy(s1, seed0, 32);
		s1[31] ^= 1;
		c1 = make(2048, 8192, 65536, s1);
		na = chunk_all(c, golden_input, 1u << 20, &va);
		nb = chunk_all(c1, golden_input, 1u << 20, &vb);

		assert_false(na == nb && !memcmp(va, vb, na * sizeof(*va)));
		free(va);
		free(vb);
		stow_chunker_free(c1);
	}
	free(b);
	stow_chunker_free(c);
}

/* Feeding partial buffers with eof = 0 must cut exactly where one big
 * buffer does. */
static void test_streaming(void **state)
{
	static const uint32_t params[][3] = {
	    {2048, 8192, 65536}, {64, 64, 64},	   {64, 256, 4096},
	    {4096, 4096, 8192},	 {64, 1024, 1024},
	};
	static const size_t pieces[] = {1, 7, 1000, 70000, 200000};

	(void)state;
	for (size_t i = 0; i < sizeof(params) / sizeof(*params); i++) {
		stow_chunker *c =
		    make(params[i][0], params[i][1], params[i][2], NULL);
		size_t n = params[i][2] <= 4096 ? 300000 : 3u << 20;
		uint32_t *whole;
		size_t nw = chunk_all(c, golden_input, n, &whole);

		for (size_t k = 0; k < sizeof(pieces) / sizeof(*pieces); k++) {
			uint32_t *parts;
			size_t np;

			if (pieces[k] == 1 && n > 300000)
				continue; /* quadratic rescans; covered small */
			for (int resume = 0; resume < 2; resume++) {
				rng_state = 1234 + k;
				np = chunk_streamed(c, golden_input, n,
						    pieces[k], resume, &parts);
				assert_int_equal(np, nw);
				assert_memory_equal(parts, whole,
						    nw * sizeof(*whole));
				free(parts);
			}
		}
		free(whole);
		stow_chunker_free(c);
	}
}

static void test_eof_rules(void **state)
{
	stow_chunker *c = make(2048, 8192, 65536, NULL);
	uint8_t z[70000] = {0};

	(void)state;
	assert_int_equal(stow_chunker_next(c, golden_input, 0, 0), 0);
	assert_int_equal(stow_chunker_next(c, golden_input, 0, 1), 0);
	/* Below min: wait, or give it all at eof. */
	assert_int_equal(stow_chunker_next(c, golden_input, 2047, 0), 0);
	assert_int_equal(stow_chunker_next(c, golden_input, 2047, 1), 2047);
	assert_int_equal(stow_chunker_next(c, golden_input, 1, 1), 1);
	/* No cut in zeros: wait below max, force at max, rest at eof. */
	assert_int_equal(stow_chunker_next(c, z, 65535, 0), 0);
	assert_int_equal(stow_chunker_next(c, z, 65535, 1), 65535);
	assert_int_equal(stow_chunker_next(c, z, 65536, 0), 65536);
	assert_int_equal(stow_chunker_next(c, z, sizeof(z), 0), 65536);
	/* A cut found in a partial buffer is final: the first golden chunk
	 * is 8593 bytes whatever follows. */
	assert_int_equal(stow_chunker_next(c, golden_input, 8593, 0), 8593);
	assert_int_equal(stow_chunker_next(c, golden_input, 8592, 0), 0);
	assert_int_equal(stow_chunker_next(c, golden_input, 8592, 1), 8592);
	assert_int_equal(stow_chunker_next(c, golden_input, 1u << 20, 0), 8593);
	stow_chunker_free(c);
}

static void test_params(void **state)
{
	static const stow_chunker_params bad[] = {
	    {63, 64, 64},		 /* min below the floor */
	    {0, 64, 64},		 /* min zero */
	    {64, 96, 128},		 /* avg not a power of two */
	    {64, 0, 128},		 /* avg zero */
	    {256, 128, 512},		 /* min > avg */
	    {64, 256, 128},		 /* avg > max */
	    {64, 1024, (64u << 20) + 1}, /* max above the ceiling */
	    {64, 128u << 20, 128u << 20},
	};
	stow_chunker_params p;
	stow_chunker *c = (stow_chunker *)&p; /* must be overwritten */

	(void)state;
	stow_chunker_params_default(&p);
	assert_int_equal(stow_chunker_params_check(&p), 0);
	assert_int_equal(p.min, 256u << 10);
	assert_int_equal(p.avg, 1u << 20);
	assert_int_equal(p.max, 4u << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		stow_err_clear();
		assert_int_equal(stow_chunker_params_check(&bad[i]),
				 STOW_EINVAL);
		assert_true(strlen(stow_err_msg()) > 0);
		c = (stow_chunker *)&p;
		assert_int_equal(stow_chunker_new(&c, &bad[i], seed0),
				 STOW_EINVAL);
		assert_null(c);
	}
	/* The extremes that are allowed. */
	p = (stow_chunker_params){64, 64, 64};
	assert_int_equal(stow_chunker_params_check(&p), 0);
	p = (stow_chunker_params){64, 1u << 20, 64u << 20};
	assert_int_equal(stow_chunker_params_check(&p), 0);
	assert_int_equal(stow_chunker_params_check(NULL), STOW_EINVAL);
	assert_int_equal(stow_chunker_new(&c, &p, NULL), STOW_EINVAL);
	assert_int_equal(stow_chunker_new(NULL, &p, seed0), STOW_EINVAL);
	assert_int_equal(stow_chunker_new(&c, NULL, seed0), STOW_EINVAL);
	stow_chunker_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),    cmocka_unit_test(test_tiling),
	    cmocka_unit_test(test_zeros),     cmocka_unit_test(test_stability),
	    cmocka_unit_test(test_streaming), cmocka_unit_test(test_eof_rules),
	    cmocka_unit_test(test_params),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
