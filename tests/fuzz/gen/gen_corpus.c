/* Seed corpus generator for the vault fuzz targets: writes valid objects
 * made by the real code under the fixed keys of fixed_repo.h, plus
 * truncated and mutated variants, into <outdir>/<target>/.
 *
 *   gen_corpus <outdir>      (see gen_corpus.sh for building it)
 *
 * Pack and salt IDs are random, so each run writes different (equally
 * valid) files; the file names stay the same. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixed_repo.h"
#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/compress.h"
#include "vault/repo_internal.h"

static const char *outdir;

static void die(const char *what, int rc)
{
	fprintf(stderr, "gen_corpus: %s: %s (%s)\n", what, stow_err_name(rc),
		stow_err_msg());
	exit(1);
}

#define CHECK(expr)                                                            \
	do {                                                                   \
		int check_rc_ = (expr);                                        \
		if (check_rc_ < 0)                                             \
			die(#expr, check_rc_);                                 \
	} while (0)

/* Write <outdir>/<target>/<name>: an optional mode byte, then bytes. */
static void emit(const char *target, int mode, const char *name,
		 const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	if (mode >= 0)
		fputc(mode, f);
	if (n && fwrite(p, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

/* The object and its damaged variants: cut short in three places, one
 * byte flipped at three places. */
static void emit_variants(const char *target, int mode, const char *base,
			  const uint8_t *p, size_t n)
{
	char name[256];
	uint8_t *m = malloc(n ? n : 1);
	size_t cuts[3] = {n ? n - 1 : 0, n / 2, n > 60 ? 60 : n / 3};
	size_t flips[3] = {n / 3, n * 2 / 3, n > 20 ? n - 20 : 0};

	emit(target, mode, base, p, n);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s-cut%zu", base, cuts[i]);
		emit(target, mode, name, p, cuts[i]);
	}
	for (int i = 0; n && i < 3; i++) {
		memcpy(m, p, n);
		m[flips[i] % n] ^= 0x40;
		snprintf(name, sizeof(name), "%s-flip%zu", base, flips[i] % n);
		emit(target, mode, name, m, n);
	}
	free(m);
}

static void fill_text(uint8_t *p, size_t n, int seed)
{
	size_t off = 0;

	while (off < n) {
		char line[80];
		int k = snprintf(line, sizeof(line),
				 "%d level=info msg=\"reconciled\" obj=%zu\n",
				 seed, off % 7);
		size_t m = (size_t)k < n - off ? (size_t)k : n - off;

		memcpy(p + off, line, m);
		off += m;
	}
}

static void fill_random(uint8_t *p, size_t n, uint64_t s)
{
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)(s >> 56);
	}
}

typedef struct keys {
	char k[64][160];
	size_t n;
} keys;

static int add_key(void *ctx, const char *key, uint64_t size)
{
	keys *ks = ctx;

	(void)size;
	if (ks->n < 64)
		snprintf(ks->k[ks->n++], 160, "%s", key);
	return 0;
}

/* One write session with `spec` adding a few data and tree blobs. */
static void session(stow_repo *r, stow_vault_ctx *c, const char *spec_text,
		    int seed)
{
	stow_comp_spec spec;
	stow_writer *w;
	uint8_t buf[3000], id[STOW_ID_LEN];
	bool added;

	CHECK(stow_comp_spec_parse(spec_text, &spec));
	spec.probe = 0;
	CHECK(stow_writer_new(&w, r, &spec));
	fill_text(buf, 1500, seed);
	CHECK(stow_writer_add(w, c, STOW_BLOB_DATA, buf, 1500, id, &added));
	fill_random(buf, 300, (uint64_t)seed * 977 + 1);
	CHECK(stow_writer_add(w, c, STOW_BLOB_DATA, buf, 300, id, &added));
	if (seed == 0) {
		CHECK(stow_writer_add(w, c, STOW_BLOB_DATA, "", 0, id, &added));
		CHECK(stow_writer_add(w, c, STOW_BLOB_DATA, "x", 1, id,
				      &added));
	}
	fill_text(buf, 700, seed + 100);
	CHECK(stow_writer_add(w, c, STOW_BLOB_TREE, buf, 700, id, &added));
	CHECK(stow_writer_flush(w));
	stow_writer_free(w);
}

static uint8_t *fetch(stow_store *st, const char *key, size_t *n)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	CHECK(stow_store_get(st, key, 0, STOW_RANGE_END, &b));
	return stow_buf_steal(&b, n);
}

/* The fuzz target's fixed pack ID (fuzz_pack_trailer.c). */
static const uint8_t fixed_pack_id[32] = {
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
	0xfb, 0xfc, 0xfd, 0xfe, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
	0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

/* From one real pack: mode 0 (as is), mode 1 (its blobs re-sealed under
 * the fixed pack ID, its trailer plaintext) and mode 2 (its payloads). */
static void pack_seeds(stow_repo *r, stow_vault_ctx *c, const char *name,
		       const uint8_t *p, size_t n)
{
	stow_pack_entry *e;
	size_t ne;
	uint8_t key[32], fkey[32], nonce[12], aad[38], taad[18 + 48];
	stow_aead *a, *fa;
	stow_buf m1, m2;
	uint32_t tlen = stow_get_le32(p + n - 12);
	uint8_t *tpt = malloc(tlen);
	char fname[200];

	emit_variants("pack_trailer", 0, name, p, n);
	CHECK(stow_pack_read_trailer(c, p + 16, p, n, &e, &ne));
	stow_pack_derive_key(r, p + 16, key);
	stow_pack_derive_key(r, fixed_pack_id, fkey);
	CHECK(stow_aead_new(&a, r->aead));
	CHECK(stow_aead_new(&fa, r->aead));
	CHECK(stow_aead_setkey(a, key));
	CHECK(stow_aead_setkey(fa, fkey));
	stow_buf_init(&m1, 0);
	stow_buf_init(&m2, 0);
	/* mode 1: u8 kind | le16 L | blob area | trailer plaintext */
	CHECK(stow_buf_append_u8(&m1, p[12]));
	CHECK(stow_buf_append_u8(&m1, (uint8_t)(n - 60 - tlen)));
	CHECK(stow_buf_append_u8(&m1, (uint8_t)((n - 60 - tlen) >> 8)));
	for (size_t i = 0; i < ne; i++) {
		uint8_t *pl = malloc(e[i].stored_len);
		size_t pn = e[i].stored_len - 16;

		stow_pack_nonce(nonce, e[i].offset);
		stow_pack_blob_aad(aad, &e[i]);
		CHECK(stow_aead_open(a, nonce, aad, 38, p + e[i].offset,
				     e[i].stored_len, pl));
		/* mode 2 record */
		CHECK(stow_buf_append_u8(&m2, e[i].type));
		CHECK(stow_buf_append_u8(&m2, e[i].comp));
		CHECK(stow_buf_append_le32(&m2, e[i].raw_len));
		CHECK(stow_buf_append_u8(&m2, (uint8_t)pn));
		CHECK(stow_buf_append_u8(&m2, (uint8_t)(pn >> 8)));
		CHECK(stow_buf_append(&m2, pl, pn));
		/* mode 1 blob, re-sealed under the fixed pack key */
		CHECK(stow_aead_seal(fa, nonce, aad, 38, pl, pn, pl));
		CHECK(stow_buf_append(&m1, pl, e[i].stored_len));
		free(pl);
	}
	memset(nonce, 0xff, 12);
	memcpy(taad, "stowage trailer v1", 18);
	memcpy(taad + 18, p, 48);
	CHECK(stow_aead_open(a, nonce, taad, sizeof(taad), p + n - 12 - tlen,
			     tlen, tpt));
	CHECK(stow_buf_append(&m1, tpt, tlen - 16));
	snprintf(fname, sizeof(fname), "%s-sealed-trailer", name);
	emit("pack_trailer", 1, fname, m1.data, m1.len);
	snprintf(fname, sizeof(fname), "%s-payloads", name);
	emit("pack_trailer", 2, fname, m2.data, m2.len);
	stow_buf_free(&m1);
	stow_buf_free(&m2);
	stow_aead_free(a);
	stow_aead_free(fa);
	free(tpt);
	free(e);
}

static void sealed_seed(stow_repo *r, int kind, const char *name,
			const void *pt, size_t n)
{
	uint8_t *obj;
	size_t on;

	CHECK(stow_sealed_put(r, kind, fixed_sealed_key(kind), pt, n));
	obj = fetch(r->st, fixed_sealed_key(kind), &on);
	emit_variants("sealed", 0, name, obj, on);
	free(obj);
}

/* mode 1 of fuzz_sealed: kind | u8 comp | varint raw_len | payload */
static void sealed_plain_seed(int kind, const char *name, stow_comp_alg alg,
			      const uint8_t *raw, size_t n, long delta)
{
	stow_comp_spec spec = {alg, 0, 0};
	stow_compressor *z;
	stow_comp_alg used = STOW_COMP_NONE;
	stow_buf b;

	stow_buf_init(&b, 0);
	CHECK(stow_buf_append_u8(&b, (uint8_t)(kind - 1)));
	CHECK(stow_buf_append_u8(&b, (uint8_t)alg));
	CHECK(stow_buf_append_varint(&b, (uint64_t)((long)n + delta)));
	if (alg == STOW_COMP_NONE) {
		CHECK(stow_buf_append(&b, raw, n));
	} else {
		CHECK(stow_compressor_new(&z, &spec));
		CHECK(stow_compress(z, raw, n, &b, &used));
		stow_compressor_free(z);
		if (used != alg)
			die("sealed_plain_seed: not compressible", -1);
	}
	emit("sealed", 1, name, b.data, b.len);
	stow_buf_free(&b);
}

static void keyslot_seeds(void)
{
	uint8_t s[181];
	struct {
		const char *name;
		int off, val;
	} muts[] = {
		{"bad-magic", 0, 'X'},   {"version-2", 8, 2},
		{"kdf-0", 12, 0},        {"kdf-3", 12, 3},
		{"kdf-255", 12, 0xff},   {"log-n-9", 13, 9},
		{"log-n-25", 13, 25},    {"r-0", 14, 0},
		{"r-33", 14, 33},        {"p-0", 15, 0},
		{"p-17", 15, 17},        {"created", 16, 0x7f},
		{"salt", 30, 0},         {"nonce", 60, 0},
		{"ciphertext", 100, 0},  {"tag", 179, 0},
	};
	/* val -1: flip the low bit. */
	struct {
		const char *name;
		int off, val;
	} a2muts[] = {
		{"argon2id-log-kib-9", 13, 9}, {"argon2id-log-kib-21", 13, 21},
		{"argon2id-t-0", 14, 0},       {"argon2id-t-33", 14, 33},
		{"argon2id-lanes-0", 15, 0},   {"argon2id-lanes-17", 15, 17},
		{"argon2id-salt", 40, -1},     {"argon2id-tag", 179, -1},
	};

	CHECK(fixed_slot_make(s, FIXED_PASSWORD, FIXED_SLOT_KEY, 10));
	emit("keyslot", -1, "valid", s, 180);
	emit("keyslot", -1, "cut-179", s, 179);
	emit("keyslot", -1, "cut-68", s, 68);
	emit("keyslot", -1, "empty", s, 0);
	s[180] = 0;
	emit("keyslot", -1, "long-181", s, 181);
	for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		uint8_t m[180];

		memcpy(m, s, 180);
		if (muts[i].val)
			m[muts[i].off] = (uint8_t)muts[i].val;
		else
			m[muts[i].off] ^= 1;
		emit("keyslot", -1, muts[i].name, m, 180);
	}
	/* Another password's slot, and one for another object name. */
	CHECK(fixed_slot_make(s, "another password", FIXED_SLOT_KEY, 10));
	emit("keyslot", -1, "other-password", s, 180);
	CHECK(fixed_slot_make(s, FIXED_PASSWORD, "keys/fedcba9876543210", 10));
	emit("keyslot", -1, "other-name", s, 180);

	/* Argon2id (kdf 2) at 1 MiB and one pass, and with two lanes; each
	 * parameter byte just outside its range. */
	CHECK(fixed_slot_make_kdf(s, FIXED_PASSWORD, FIXED_SLOT_KEY,
				  (const uint8_t[4]){2, 10, 1, 2}));
	emit("keyslot", -1, "argon2id-lanes-2", s, 180);
	CHECK(fixed_slot_make_kdf(s, FIXED_PASSWORD, FIXED_SLOT_KEY,
				  (const uint8_t[4]){2, 10, 1, 1}));
	emit("keyslot", -1, "argon2id-valid", s, 180);
	for (size_t i = 0; i < sizeof(a2muts) / sizeof(a2muts[0]); i++) {
		uint8_t m[180];

		memcpy(m, s, 180);
		if (a2muts[i].val >= 0)
			m[a2muts[i].off] = (uint8_t)a2muts[i].val;
		else
			m[a2muts[i].off] ^= 1;
		emit("keyslot", -1, a2muts[i].name, m, 180);
	}
}

int main(int argc, char **argv)
{
	static const char *const specs[] = {"zstd:3", "lz4", "gzip", "none"};
	stow_store *st;
	stow_repo *r;
	stow_vault_ctx *c;
	keys ks = {0};
	stow_buf b;
	char name[200];
	uint8_t big[20000];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus <outdir>\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	CHECK(stow_store_mem_open(&st));
	r = fixed_repo_new(st);
	if (!r)
		die("fixed_repo_new", STOW_ENOMEM);
	CHECK(stow_vault_ctx_new(&c, r));
	for (int i = 0; i < 4; i++)
		session(r, c, specs[i], i);

	/* Packs. */
	CHECK(stow_store_list(st, "data/", add_key, &ks));
	CHECK(stow_store_list(st, "meta/", add_key, &ks));
	for (size_t i = 0; i < ks.n; i++) {
		uint8_t *p;
		size_t n;

		p = fetch(st, ks.k[i], &n);
		snprintf(name, sizeof(name), "%.4s-%zu", ks.k[i], i);
		pack_seeds(r, c, name, p, n);
		free(p);
	}

	/* Index payloads and sealed index objects. */
	ks.n = 0;
	stow_buf_init(&b, 0);
	CHECK(stow_store_list(st, "index/", add_key, &ks));
	for (size_t i = 0; i < ks.n; i++) {
		CHECK(stow_sealed_get(r, STOW_SEALED_INDEX, ks.k[i], &b));
		snprintf(name, sizeof(name), "session-%zu", i);
		emit_variants("index", -1, name, b.data, b.len);
		if (i == 0)
			sealed_seed(r, STOW_SEALED_INDEX, "index", b.data,
				    b.len);
	}
	emit("index", -1, "empty", "\x01\x00", 2);
	emit("index", -1, "version-2", "\x02\x00", 2);
	emit("index", -1, "nothing", "", 0);
	/* Two packs, the second listing one entry, hand-encoded. */
	{
		stow_pack_entry e[2] = {0};
		stow_index_pack ip[2] = {0};

		memset(e[0].id, 0x11, 32);
		e[0].offset = 48;
		e[0].stored_len = 16;
		memset(e[1].id, 0x22, 32);
		e[1].type = 1;
		e[1].comp = 3;
		e[1].offset = 0xffffffffu - 100;
		e[1].stored_len = 100;
		e[1].raw_len = STOW_BLOB_MAX;
		memset(ip[0].id, 0xaa, 32);
		ip[0].entries = e;
		ip[0].n = 1;
		memset(ip[1].id, 0xbb, 32);
		ip[1].kind = 1;
		ip[1].entries = e + 1;
		ip[1].n = 1;
		stow_buf_reset(&b);
		CHECK(stow_index_encode(ip, 2, &b));
		emit("index", -1, "edges", b.data, b.len);
		/* The same entry in two packs. */
		ip[1].entries = e;
		stow_buf_reset(&b);
		CHECK(stow_index_encode(ip, 2, &b));
		emit("index", -1, "dup-id", b.data, b.len);
	}

	/* Sealed objects of each kind. */
	{
		static const char cfg[] =
			"{\"version\":1,\"id\":\"a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"
			"a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5\",\"hash\":"
			"\"hmac-sha256\",\"cipher\":\"aes-256-gcm\"}";
		static const char snap[] =
			"{\"version\":1,\"time\":\"2026-01-01T00:00:00Z\","
			"\"tree\":\"00\",\"paths\":[\"/data\"]}";

		sealed_seed(r, STOW_SEALED_CONFIG, "config", cfg,
			    sizeof(cfg) - 1);
		sealed_seed(r, STOW_SEALED_SNAPSHOT, "snapshot", snap,
			    sizeof(snap) - 1);
		fill_text(big, sizeof(big), 7);
		sealed_seed(r, STOW_SEALED_SNAPSHOT, "snapshot-zstd", big,
			    sizeof(big));
		sealed_seed(r, STOW_SEALED_SNAPSHOT, "empty", "", 0);

		fill_text(big, 2000, 3);
		sealed_plain_seed(3, "plain-none", STOW_COMP_NONE, big, 200,
				  0);
		sealed_plain_seed(3, "plain-none-short", STOW_COMP_NONE, big,
				  200, 1);
		sealed_plain_seed(1, "plain-zstd", STOW_COMP_ZSTD, big, 2000,
				  0);
		sealed_plain_seed(2, "plain-lz4", STOW_COMP_LZ4, big, 2000, 0);
		sealed_plain_seed(3, "plain-gzip", STOW_COMP_GZIP, big, 2000,
				  0);
		sealed_plain_seed(3, "plain-zstd-long", STOW_COMP_ZSTD, big,
				  2000, 5);
		sealed_plain_seed(3, "plain-lz4-short", STOW_COMP_LZ4, big,
				  2000, -5);
	}

	keyslot_seeds();

	stow_buf_free(&b);
	stow_vault_ctx_free(c);
	stow_repo_close(r);
	return 0;
}
