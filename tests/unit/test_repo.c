/* Unit tests for the vault core (repo.c, pack.c, index.c, writer.c) on the
 * in-memory store: init and open, key slots, concurrent write sessions
 * with every compression, read-back after reopening, pack trailers,
 * sealed objects, tampering and truncation, and a store that fails in the
 * middle of a session.
 *
 * stow_repo_open takes ownership of its store and closes it, so a test
 * that reopens a repository hands it a borrowing proxy (borrow_store)
 * whose close leaves the underlying mem store alive. */
#include <pthread.h>
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
#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/repo_internal.h"
#include "vault/vault.h"

#define PW1 "correct horse battery staple"
#define PW2 "a second password"
#define PACK_SIZE (1u << 16) /* smallest the config accepts */

/* --- a store that borrows another one -------------------------------- */

typedef struct borrowed {
	stow_store base;
	stow_store *inner;
} borrowed;

static stow_store *inner_of(stow_store *s)
{
	return ((borrowed *)s)->inner;
}

static int b_get(stow_store *s, const char *key, uint64_t off, uint64_t len,
		 stow_buf *out)
{
	return stow_store_get(inner_of(s), key, off, len, out);
}

static int b_put(stow_store *s, const char *key, const void *data, size_t len,
		 unsigned flags)
{
	return stow_store_put(inner_of(s), key, data, len, flags);
}

static int b_stat(stow_store *s, const char *key, uint64_t *size)
{
	return stow_store_stat(inner_of(s), key, size);
}

static int b_list(stow_store *s, const char *prefix, stow_store_list_cb cb,
		  void *ctx)
{
	return stow_store_list(inner_of(s), prefix, cb, ctx);
}

static int b_del(stow_store *s, const char *key)
{
	return stow_store_del(inner_of(s), key);
}

static void b_close(stow_store *s)
{
	free(s);
}

static const stow_store_ops borrowed_ops = {
	.version = STOW_STORE_OPS_VERSION,
	.name = "borrowed",
	.get = b_get,
	.put = b_put,
	.stat = b_stat,
	.list = b_list,
	.del = b_del,
	.close = b_close,
};

static stow_store *borrow_store(stow_store *inner)
{
	borrowed *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	b->base.ops = &borrowed_ops;
	b->base.location = inner->location;
	b->inner = inner;
	return &b->base;
}

/* --- helpers ----------------------------------------------------------- */

static void test_opts(stow_repo_init_opts *o)
{
	stow_repo_init_opts_default(o);
	/* The default KDF (Argon2id) at its cheapest: 1 MiB, one pass. */
	o->kdf.memory_mib = 1;
	o->kdf.passes = 1;
	o->data_pack_size = PACK_SIZE;
	o->meta_pack_size = PACK_SIZE;
}

/* A fresh mem store holding a repository whose one password is PW1. */
static stow_store *new_repo_store(char id_hex[65])
{
	stow_repo_init_opts o;
	stow_store *st = NULL;
	char hex[65];

	test_opts(&o);
	assert_int_equal(stow_store_mem_open(&st), 0);
	assert_int_equal(stow_repo_init(st, PW1, &o, id_hex ? id_hex : hex), 0);
	return st;
}

static int open_borrowed(stow_store *st, const char *pw, stow_repo **out)
{
	*out = NULL;
	return stow_repo_open(out, borrow_store(st), pw);
}

static stow_repo *must_open(stow_store *st, const char *pw)
{
	stow_repo *r = NULL;
	int rc = open_borrowed(st, pw, &r);

	if (rc != 0)
		print_error("open: %s: %s\n", stow_err_name(rc), stow_err_msg());
	assert_int_equal(rc, 0);
	assert_non_null(r);
	return r;
}

static uint8_t *fetch(stow_store *st, const char *key, size_t *len)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(stow_store_get(st, key, 0, STOW_RANGE_END, &b), 0);
	*len = b.len;
	if (!b.data)
		return calloc(1, 1);
	return stow_buf_steal(&b, len);
}

static void replace(stow_store *st, const char *key, const uint8_t *p,
		    size_t n)
{
	assert_int_equal(stow_store_put(st, key, p, n, 0), 0);
}

typedef struct key_set {
	char keys[256][160];
	size_t n;
} key_set;

static int collect_key(void *ctx, const char *key, uint64_t size)
{
	key_set *ks = ctx;

	(void)size;
	assert_true(ks->n < 256);
	snprintf(ks->keys[ks->n++], 160, "%s", key);
	return 0;
}

static void list_keys(stow_store *st, const char *prefix, key_set *ks)
{
	ks->n = 0;
	assert_int_equal(stow_store_list(st, prefix, collect_key, ks), 0);
}

/* --- init, open, key slots ---------------------------------------------- */

static void test_init_open(void **state)
{
	stow_repo_init_opts o;
	stow_store *st = NULL, *empty = NULL;
	stow_repo *r = NULL;
	char id[65], id2[65];
	key_set ks;

	(void)state;
	st = new_repo_store(id);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strspn(id, "0123456789abcdef"), 64);

	r = must_open(st, PW1);
	assert_string_equal(stow_repo_id_hex(r), id);
	list_keys(st, "keys/", &ks);
	assert_int_equal(ks.n, 1);
	assert_string_equal(stow_repo_slot_id(r), ks.keys[0] + 5);
	assert_int_equal(stow_repo_pack_count(r), 0);
	stow_repo_close(r);

	/* Wrong password: no slot opens. */
	assert_int_equal(open_borrowed(st, "wrong", &r), STOW_EAUTH);
	assert_null(r);
	assert_int_equal(open_borrowed(st, PW1 "x", &r), STOW_EAUTH);

	/* A store without a repository. */
	assert_int_equal(stow_store_mem_open(&empty), 0);
	assert_int_equal(stow_repo_open(&r, empty, PW1), STOW_ENOTFOUND);

	/* Init twice, and init with an empty password. */
	test_opts(&o);
	assert_int_equal(stow_repo_init(st, PW1, &o, id2), STOW_EEXIST);
	assert_int_equal(stow_repo_init(st, PW2, &o, id2), STOW_EEXIST);
	assert_int_equal(stow_store_mem_open(&empty), 0);
	assert_int_equal(stow_repo_init(empty, "", &o, id2), STOW_EINVAL);
	stow_store_close(empty);

	/* The first repository is untouched by the refused init. */
	r = must_open(st, PW1);
	assert_string_equal(stow_repo_id_hex(r), id);
	stow_repo_close(r);
	stow_store_close(st);
}

typedef struct slot_list {
	stow_key_slot_info v[8];
	size_t n;
} slot_list;

static int collect_slot(void *ctx, const stow_key_slot_info *k)
{
	slot_list *l = ctx;

	assert_true(l->n < 8);
	l->v[l->n++] = *k;
	return 0;
}

/* The cheapest KDF settings a slot may have, for tests. */
static stow_kdf_opts cheap_argon2id(void)
{
	stow_kdf_opts k;

	stow_kdf_opts_default(&k);
	k.memory_mib = 1;
	k.passes = 1;
	return k;
}

static stow_kdf_opts cheap_scrypt(void)
{
	stow_kdf_opts k;

	stow_kdf_opts_default(&k);
	k.alg = STOW_KDF_SCRYPT;
	k.log_n = 10;
	return k;
}

static void test_keys(void **state)
{
	stow_store *st;
	stow_repo *r, *r2;
	char id[65], first[17], second[17];
	slot_list sl = {0};
	stow_kdf_opts scrypt = cheap_scrypt(), bad;

	(void)state;
	st = new_repo_store(id);
	r = must_open(st, PW1);
	snprintf(first, sizeof(first), "%s", stow_repo_slot_id(r));

	assert_int_equal(stow_repo_key_add(r, "", &scrypt, second),
			 STOW_EINVAL);
	bad = scrypt;
	bad.log_n = 9;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad.log_n = 25;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad = cheap_argon2id();
	bad.memory_mib = 3; /* the header holds a power of two */
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad.memory_mib = 2048;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad.memory_mib = 0;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad = cheap_argon2id();
	bad.passes = 0;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad.passes = 33;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	bad = cheap_argon2id();
	bad.alg = (stow_kdf_alg)3;
	assert_int_equal(stow_repo_key_add(r, PW2, &bad, second), STOW_EINVAL);
	assert_int_equal(stow_repo_key_add(r, PW2, &scrypt, second), 0);
	assert_int_equal(strlen(second), 16);
	assert_string_not_equal(first, second);

	/* The first slot is the default KDF, Argon2id (here at 1 MiB, one
	 * pass); the second the scrypt asked for. */
	assert_int_equal(stow_repo_key_list(r, collect_slot, &sl), 0);
	assert_int_equal(sl.n, 2);
	for (size_t i = 0; i < sl.n; i++) {
		const stow_key_slot_info *k = &sl.v[i];

		assert_true(k->created > 1600000000);
		if (strcmp(k->id, first) == 0) {
			assert_int_equal(k->kdf, STOW_KDF_ARGON2ID);
			assert_int_equal(k->memory_kib, 1024);
			assert_int_equal(k->passes, 1);
			assert_int_equal(k->lanes, 1);
		} else {
			assert_string_equal(k->id, second);
			assert_int_equal(k->kdf, STOW_KDF_SCRYPT);
			assert_int_equal(k->log_n, 10);
			assert_int_equal(k->r, 8);
			assert_int_equal(k->p, 1);
		}
	}
	assert_string_not_equal(sl.v[0].id, sl.v[1].id);

	/* Both passwords open the same repository, each by its own slot. */
	r2 = must_open(st, PW1);
	assert_string_equal(stow_repo_slot_id(r2), first);
	assert_string_equal(stow_repo_id_hex(r2), id);
	stow_repo_close(r2);
	r2 = must_open(st, PW2);
	assert_string_equal(stow_repo_slot_id(r2), second);
	assert_string_equal(stow_repo_id_hex(r2), id);
	assert_memory_equal(r2->master, r->master, STOW_MASTER_LEN);
	stow_repo_close(r2);

	/* Bad and unknown slot IDs. */
	assert_int_equal(stow_repo_key_remove(r, "xyz"), STOW_EINVAL);
	assert_int_equal(stow_repo_key_remove(r, "0123456789ABCDEF"),
			 STOW_EINVAL);
	assert_int_equal(stow_repo_key_remove(r, "0000000000000000"),
			 STOW_ENOTFOUND);

	/* Remove the first slot: PW1 stops working, PW2 still works. */
	assert_int_equal(stow_repo_key_remove(r, first), 0);
	assert_int_equal(open_borrowed(st, PW1, &r2), STOW_EAUTH);
	r2 = must_open(st, PW2);
	assert_string_equal(stow_repo_slot_id(r2), second);
	stow_repo_close(r2);

	/* The last slot cannot go. */
	assert_int_equal(stow_repo_key_remove(r, second), STOW_EINVAL);
	assert_int_equal(stow_repo_key_remove(r, first), STOW_ENOTFOUND);
	r2 = must_open(st, PW2);
	stow_repo_close(r2);

	stow_repo_close(r);
	stow_store_close(st);
}

/* A slot renamed to another key no longer opens (its name is in the AAD);
 * a damaged slot is skipped and the next one is tried. */
static void test_slot_tamper(void **state)
{
	stow_store *st;
	stow_repo *r;
	char id[65], second[17], key[64];
	stow_kdf_opts kdf;
	uint8_t *slot;
	size_t n;

	(void)state;
	st = new_repo_store(id);
	r = must_open(st, PW1);
	kdf = cheap_argon2id();
	assert_int_equal(stow_repo_key_add(r, PW2, &kdf, second), 0);
	snprintf(key, sizeof(key), "keys/%s", stow_repo_slot_id(r));
	stow_repo_close(r);

	slot = fetch(st, key, &n);
	assert_int_equal(n, 180);
	/* Renamed: PW1 no longer opens anything. */
	assert_int_equal(stow_store_del(st, key), 0);
	replace(st, "keys/00000000000000aa", slot, n);
	assert_int_equal(open_borrowed(st, PW1, &r), STOW_EAUTH);
	assert_int_equal(stow_store_del(st, "keys/00000000000000aa"), 0);

	/* Each byte flipped in turn: PW1 fails, PW2 still opens. */
	for (size_t i = 0; i < n; i += 7) {
		int rc;

		slot[i] ^= 0x20;
		replace(st, key, slot, n);
		rc = open_borrowed(st, PW1, &r);
		assert_int_not_equal(rc, 0);
		r = must_open(st, PW2);
		assert_string_equal(stow_repo_slot_id(r), second);
		stow_repo_close(r);
		slot[i] ^= 0x20;
	}
	replace(st, key, slot, n);
	r = must_open(st, PW1);
	stow_repo_close(r);
	free(slot);
	stow_store_close(st);
}

/* FORMAT.md §2.1: "A reader tries every slot". A stray object in keys/
 * that is not a slot (an editor backup, a partial copy) must not stop a
 * good slot from opening. */
static void test_slot_junk(void **state)
{
	stow_store *st;
	stow_repo *r;
	char id[65];
	uint8_t junk[8192];

	(void)state;
	memset(junk, 'j', sizeof(junk));
	st = new_repo_store(id);
	/* Sorted before the real slot, so it is tried first. */
	replace(st, "keys/0000000000000000", junk, 10);
	r = must_open(st, PW1);
	stow_repo_close(r);
	replace(st, "keys/0000000000000000", junk, sizeof(junk));
	r = must_open(st, PW1);
	stow_repo_close(r);
	stow_store_close(st);
}

/* A slot that parses but asks for more scrypt memory than the cap (a
 * flipped log2(N) or r, or a hostile store) is one damaged slot; the
 * others must still be tried. Argon2id's header ranges are its caps, so
 * there the same slot is refused by the parser. */
static void test_slot_costly(void **state)
{
	stow_store *st;
	stow_repo *r;
	char id[65], key[64], second[17];
	stow_kdf_opts scrypt = cheap_scrypt();
	uint8_t *slot;
	size_t n;

	(void)state;
	st = new_repo_store(id);
	r = must_open(st, PW1);
	snprintf(key, sizeof(key), "keys/%s", stow_repo_slot_id(r));
	assert_int_equal(stow_repo_key_add(r, PW1, &scrypt, second), 0);
	stow_repo_close(r);

	slot = fetch(st, key, &n);
	assert_int_equal(slot[12], 2);
	slot[13] = 21; /* 2 GiB: over the 1 GiB cap */
	replace(st, "keys/0000000000000000", slot, n);
	free(slot);

	snprintf(key, sizeof(key), "keys/%s", second);
	slot = fetch(st, key, &n);
	assert_int_equal(slot[12], 1);
	slot[13] = 24; /* N = 2^24 */
	slot[14] = 32; /* r = 32: 64 GiB, above the scrypt cap */
	replace(st, "keys/0000000000000001", slot, n);
	free(slot);

	r = must_open(st, PW1);
	stow_repo_close(r);
	stow_store_close(st);
}

/* Each Argon2id header byte outside its range makes a damaged slot (not
 * listed, not opening); an unknown KDF id is STOW_EUNSUPPORTED naming
 * the id, and other slots still open. */
static void test_slot_kdf_header(void **state)
{
	static const struct {
		int off;
		uint8_t val;
	} bad[] = {
	    {13, 9}, {13, 21}, {14, 0}, {14, 33}, {15, 0}, {15, 17},
	};
	stow_store *st;
	stow_repo *r;
	char id[65], key[64], second[17];
	stow_kdf_opts kdf = cheap_argon2id();
	slot_list sl = {0};
	uint8_t *slot;
	size_t n;

	(void)state;
	st = new_repo_store(id);
	r = must_open(st, PW1);
	snprintf(key, sizeof(key), "keys/%s", stow_repo_slot_id(r));
	stow_repo_close(r);
	slot = fetch(st, key, &n);
	/* FORMAT.md §2.1: kdf 2, log2(1024 KiB), t, lanes. */
	assert_int_equal(slot[12], 2);
	assert_int_equal(slot[13], 10);
	assert_int_equal(slot[14], 1);
	assert_int_equal(slot[15], 1);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t m[180];

		memcpy(m, slot, 180);
		m[bad[i].off] = bad[i].val;
		replace(st, key, m, 180);
		assert_int_equal(open_borrowed(st, PW1, &r), STOW_EAUTH);
		assert_non_null(strstr(stow_err_msg(), "damaged"));
	}

	/* The only slot has an unknown KDF: not a wrong password. */
	slot[12] = 3;
	replace(st, key, slot, n);
	assert_int_equal(open_borrowed(st, PW1, &r), STOW_EUNSUPPORTED);
	assert_non_null(strstr(stow_err_msg(), "KDF id 3"));
	slot[12] = 0;
	replace(st, key, slot, n);
	assert_int_equal(open_borrowed(st, PW1, &r), STOW_EUNSUPPORTED);
	assert_non_null(strstr(stow_err_msg(), "KDF id 0"));

	/* With a good slot beside it, that one opens and is the only one
	 * listed; a wrong password says some slots need a newer stowage. */
	slot[12] = 2;
	replace(st, key, slot, n);
	r = must_open(st, PW1);
	assert_int_equal(stow_repo_key_add(r, PW2, &kdf, second), 0);
	stow_repo_close(r);
	slot[12] = 3;
	replace(st, key, slot, n);
	r = must_open(st, PW2);
	assert_int_equal(stow_repo_key_list(r, collect_slot, &sl), 0);
	assert_int_equal(sl.n, 1);
	assert_string_equal(sl.v[0].id, second);
	stow_repo_close(r);
	assert_int_equal(open_borrowed(st, PW1, &r), STOW_EAUTH);
	assert_non_null(strstr(stow_err_msg(), "newer stowage"));
	free(slot);
	stow_store_close(st);
}

/* Backward compatibility: a repository whose slot is scrypt (all made
 * before Argon2id) still opens; `key add` with the defaults adds an
 * Argon2id slot with the default parameters; both passwords open it. */
static void test_scrypt_repo_gets_argon2id_slot(void **state)
{
	stow_repo_init_opts o;
	stow_store *st;
	stow_repo *r;
	char id[65], key[64], first[17], second[17];
	slot_list sl = {0};
	uint8_t *slot;
	size_t n;

	(void)state;
	test_opts(&o);
	o.kdf = cheap_scrypt();
	assert_int_equal(stow_store_mem_open(&st), 0);
	assert_int_equal(stow_repo_init(st, PW1, &o, id), 0);
	r = must_open(st, PW1);
	snprintf(first, sizeof(first), "%s", stow_repo_slot_id(r));
	snprintf(key, sizeof(key), "keys/%s", first);
	slot = fetch(st, key, &n);
	assert_int_equal(n, 180);
	assert_memory_equal(slot + 12, "\x01\x0a\x08\x01", 4);
	free(slot);

	assert_int_equal(stow_repo_key_add(r, PW2, NULL, second), 0);
	snprintf(key, sizeof(key), "keys/%s", second);
	slot = fetch(st, key, &n);
	/* Argon2id, 2^14 KiB = 16 MiB, t = 6, one lane. */
	assert_memory_equal(slot + 12, "\x02\x0e\x06\x01", 4);
	free(slot);
	assert_int_equal(stow_repo_key_list(r, collect_slot, &sl), 0);
	assert_int_equal(sl.n, 2);
	for (size_t i = 0; i < 2; i++) {
		if (strcmp(sl.v[i].id, second) == 0) {
			assert_int_equal(sl.v[i].kdf, STOW_KDF_ARGON2ID);
			assert_int_equal(sl.v[i].memory_kib, 16384);
			assert_int_equal(sl.v[i].passes, 6);
			assert_int_equal(sl.v[i].lanes, 1);
		} else {
			assert_int_equal(sl.v[i].kdf, STOW_KDF_SCRYPT);
		}
	}
	stow_repo_close(r);

	r = must_open(st, PW1);
	assert_string_equal(stow_repo_slot_id(r), first);
	assert_string_equal(stow_repo_id_hex(r), id);
	stow_repo_close(r);
	r = must_open(st, PW2);
	assert_string_equal(stow_repo_slot_id(r), second);
	assert_string_equal(stow_repo_id_hex(r), id);
	stow_repo_close(r);
	stow_store_close(st);
}

/* "Refuses the last slot": an object under keys/ that is not a slot
 * must not count as one, or the last real slot can be removed. */
static void test_key_remove_junk(void **state)
{
	stow_store *st;
	stow_repo *r;
	char id[65], slot[17];

	(void)state;
	st = new_repo_store(id);
	r = must_open(st, PW1);
	snprintf(slot, sizeof(slot), "%s", stow_repo_slot_id(r));
	replace(st, "keys/0000000000000000", (const uint8_t *)"junk", 4);
	assert_int_equal(stow_repo_key_remove(r, slot), STOW_EINVAL);
	stow_repo_close(r);
	r = must_open(st, PW1);
	stow_repo_close(r);
	stow_store_close(st);
}

/* Options that would make the repository unusable must be refused before
 * anything is written, so a corrected init can follow. */
static void test_init_bad_kdf(void **state)
{
	stow_repo_init_opts o;
	stow_store *st;
	char id[65];
	key_set ks;

	(void)state;
	assert_int_equal(stow_store_mem_open(&st), 0);
	test_opts(&o);
	o.kdf = cheap_scrypt();
	o.kdf.log_n = 5;
	assert_int_equal(stow_repo_init(st, PW1, &o, id), STOW_EINVAL);
	list_keys(st, "", &ks);
	assert_int_equal(ks.n, 0);
	test_opts(&o);
	o.kdf.memory_mib = 5;
	assert_int_equal(stow_repo_init(st, PW1, &o, id), STOW_EINVAL);
	o.kdf.memory_mib = 1;
	o.kdf.passes = 40;
	assert_int_equal(stow_repo_init(st, PW1, &o, id), STOW_EINVAL);
	list_keys(st, "", &ks);
	assert_int_equal(ks.n, 0);
	test_opts(&o);
	assert_int_equal(stow_repo_init(st, PW1, &o, id), 0);
	stow_store_close(st);
}

/* A pack size the reader rejects: refuse it, or open afterwards. */
static void test_init_bad_pack_size(void **state)
{
	stow_repo_init_opts o;
	stow_store *st;
	stow_repo *r;
	char id[65];
	int rc;

	(void)state;
	assert_int_equal(stow_store_mem_open(&st), 0);
	test_opts(&o);
	o.data_pack_size = 1000;
	rc = stow_repo_init(st, PW1, &o, id);
	if (rc == 0) {
		rc = open_borrowed(st, PW1, &r);
		if (rc != 0)
			print_error("open: %s\n", stow_err_msg());
		assert_int_equal(rc, 0);
		stow_repo_close(r);
	} else {
		assert_int_equal(rc, STOW_EINVAL);
	}
	stow_store_close(st);
}

/* --- blobs for the writer tests ------------------------------------------ */

#define NBLOBS 96 /* per type */
#define NTHREADS 4

typedef struct blob {
	int type;
	uint8_t *data;
	size_t len;
	bool compressible;
	uint8_t id[STOW_ID_LEN];
	int seen;
} blob;

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Blob i of a type: empty, log-like text, or random bytes. Every blob is
 * distinct (its header names it; random ones have their own seed). */
static void make_blob(blob *b, int i, int type)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(i * 2 + type + 1);

	b->type = type;
	b->seen = 0;
	if (type == STOW_BLOB_DATA && i == 0)
		b->len = 0;
	else if (type == STOW_BLOB_DATA)
		b->len = 64 + (size_t)(i * 997) % 12000;
	else
		b->len = 64 + (size_t)(i * 331) % 3000;
	b->compressible = i % 3 != 0;
	b->data = malloc(b->len ? b->len : 1);
	assert_non_null(b->data);
	if (b->compressible) {
		size_t off = 0;

		while (off < b->len) {
			char line[96];
			int k = snprintf(line, sizeof(line),
					 "blob %04d/%d level=info msg=\"line "
					 "%zu\" pod=web-%d\n",
					 i, type, off, (int)(xorshift(&s) % 3));
			size_t m = (size_t)k < b->len - off ? (size_t)k
							     : b->len - off;

			memcpy(b->data + off, line, m);
			off += m;
		}
	} else {
		for (size_t k = 0; k < b->len; k++)
			b->data[k] = (uint8_t)(xorshift(&s) >> 56);
	}
}

typedef struct blob_set {
	blob v[2 * NBLOBS];
	size_t n;
} blob_set;

static void make_blobs(blob_set *bs)
{
	bs->n = 0;
	for (int i = 0; i < NBLOBS; i++) {
		make_blob(&bs->v[bs->n++], i, STOW_BLOB_DATA);
		make_blob(&bs->v[bs->n++], i, STOW_BLOB_TREE);
	}
}

static void free_blobs(blob_set *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		free(bs->v[i].data);
}

static blob *find_blob(blob_set *bs, const uint8_t *id)
{
	for (size_t i = 0; i < bs->n; i++)
		if (memcmp(bs->v[i].id, id, STOW_ID_LEN) == 0)
			return &bs->v[i];
	return NULL;
}

typedef struct worker {
	stow_repo *r;
	stow_writer *w;
	blob_set *bs;
	int tid;
	bool added[2 * NBLOBS];
	int rc;
	uint64_t adds;
} worker;

/* Every thread adds every blob, each starting at its own place, and adds
 * some twice in a row: exactly one add per distinct blob may report it
 * as new. */
static void *worker_main(void *arg)
{
	worker *wk = arg;
	stow_vault_ctx *c = NULL;

	wk->rc = stow_vault_ctx_new(&c, wk->r);
	for (size_t k = 0; wk->rc == 0 && k < wk->bs->n; k++) {
		size_t i = (k + (size_t)wk->tid * 37) % wk->bs->n;
		blob *b = &wk->bs->v[i];
		uint8_t id[STOW_ID_LEN];
		bool added = false;

		wk->rc = stow_writer_add(wk->w, c, b->type, b->data, b->len,
					 id, &added);
		wk->adds++;
		if (wk->rc == 0 && memcmp(id, b->id, STOW_ID_LEN) != 0)
			wk->rc = -100;
		if (wk->rc == 0)
			wk->added[i] = added;
		if (wk->rc == 0 && i % 5 == 0) {
			/* Same blob again: never new the second time. */
			wk->rc = stow_writer_add_hashed(wk->w, c, b->type,
							b->id, b->data, b->len,
							&added);
			wk->adds++;
			if (wk->rc == 0 && added)
				wk->rc = -101;
		}
	}
	stow_vault_ctx_free(c);
	return NULL;
}

typedef struct pack_check {
	stow_repo *r;
	stow_vault_ctx *c;
	blob_set *bs;
	const stow_comp_spec *spec;
	size_t packs[2];
	uint64_t stored;
} pack_check;

/* One pack object: name, header, trailer listing, every blob opens. */
static void check_pack(pack_check *pc, stow_store *st, const char *key,
		       int kind)
{
	uint8_t id[32], *p;
	char hex[65], want[160];
	stow_pack_entry *e = NULL;
	stow_buf out;
	size_t len, n;

	assert_int_equal(strlen(key), 5 + 3 + 64);
	assert_int_equal(stow_unhex(id, 32, key + 8), 0);
	stow_hex(hex, id, 32);
	assert_memory_equal(key + 5, hex, 2);
	stow_pack_key(want, sizeof(want), kind, id);
	assert_string_equal(key, want);

	p = fetch(st, key, &len);
	assert_true(len > STOW_PACK_HEADER_LEN + STOW_PACK_FOOTER_LEN);
	assert_memory_equal(p, "STOWPACK", 8);
	assert_int_equal(stow_get_le32(p + 8), 1);
	assert_int_equal(p[12], kind);
	assert_int_equal(p[13], pc->r->aead);
	assert_int_equal(p[14] | p[15], 0);
	assert_memory_equal(p + 16, id, 32);
	assert_memory_equal(p + len - 8, "STOWPEND", 8);

	assert_int_equal(stow_pack_read_trailer(pc->c, id, p, len, &e, &n), 0);
	assert_true(n > 0);
	stow_buf_init(&out, 0);
	for (size_t i = 0; i < n; i++) {
		blob *b = find_blob(pc->bs, e[i].id);

		assert_non_null(b);
		assert_int_equal(b->seen, 0); /* stored exactly once */
		b->seen = 1;
		assert_int_equal(e[i].type, b->type);
		assert_int_equal(kind, b->type == STOW_BLOB_TREE ? PACK_KIND_META
								  : PACK_KIND_DATA);
		assert_int_equal(e[i].raw_len, b->len);
		if (pc->spec->alg == STOW_COMP_NONE || b->len == 0)
			assert_int_equal(e[i].comp, STOW_COMP_NONE);
		else if (b->compressible)
			assert_int_equal(e[i].comp, pc->spec->alg);
		else
			assert_true(e[i].comp == STOW_COMP_NONE ||
				    e[i].comp == pc->spec->alg);
		if (e[i].comp == STOW_COMP_NONE)
			assert_int_equal(e[i].stored_len,
					 b->len + STOW_TAG_LEN);
		assert_int_equal(stow_pack_open_blob(pc->c, id, &e[i],
						     p + e[i].offset, &out),
				 0);
		assert_int_equal(out.len, b->len);
		if (b->len)
			assert_memory_equal(out.data, b->data, b->len);
		pc->stored += e[i].stored_len;
	}
	pc->packs[kind]++;
	stow_buf_free(&out);
	free(e);
	free(p);
}

static int count_index(void *ctx, const uint8_t id[STOW_ID_LEN],
		       const stow_blob_loc *loc)
{
	(void)id;
	(void)loc;
	(*(uint64_t *)ctx)++;
	return 0;
}

static void writer_roundtrip(const char *spec_text)
{
	stow_comp_spec spec;
	stow_store *st;
	stow_repo *r;
	stow_writer *w = NULL;
	stow_vault_ctx *c = NULL;
	stow_writer_stats stats;
	pthread_t th[NTHREADS];
	worker *wk;
	blob_set *bs;
	pack_check pc = {0};
	key_set ks;
	stow_buf out;
	uint64_t total_adds = 0, raw = 0, count = 0;
	const char *const *keys;
	size_t nkeys;
	char id[65];

	assert_int_equal(stow_comp_spec_parse(spec_text, &spec), 0);
	spec.probe = 0;
	bs = calloc(1, sizeof(*bs));
	wk = calloc(NTHREADS, sizeof(*wk));
	assert_non_null(bs);
	assert_non_null(wk);
	make_blobs(bs);

	st = new_repo_store(id);
	r = must_open(st, PW1);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	for (size_t i = 0; i < bs->n; i++) {
		assert_int_equal(stow_vault_hash(c, bs->v[i].data, bs->v[i].len,
						 bs->v[i].id),
				 0);
		raw += bs->v[i].len;
	}

	assert_int_equal(stow_writer_new(&w, r, &spec), 0);
	for (int t = 0; t < NTHREADS; t++) {
		wk[t] = (worker){.r = r, .w = w, .bs = bs, .tid = t};
		assert_int_equal(pthread_create(&th[t], NULL, worker_main,
						&wk[t]),
				 0);
	}
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(wk[t].rc, 0);
		total_adds += wk[t].adds;
	}
	for (size_t i = 0; i < bs->n; i++) {
		int news = 0;

		for (int t = 0; t < NTHREADS; t++)
			news += wk[t].added[i];
		assert_int_equal(news, 1);
	}
	/* Before the flush the writing process already finds them. */
	for (size_t i = 0; i < bs->n; i++) {
		stow_blob_loc loc;

		assert_int_equal(stow_repo_lookup(r, bs->v[i].id, &loc), 0);
		assert_int_equal(loc.type, bs->v[i].type);
		assert_int_equal(loc.raw_len, bs->v[i].len);
	}
	assert_int_equal(stow_writer_flush(w), 0);
	assert_int_equal(stow_writer_flush(w), STOW_EINVAL);
	stow_writer_get_stats(w, &stats);
	assert_int_equal(stats.blobs_new, bs->n);
	assert_int_equal(stats.blobs_dup, total_adds - bs->n);
	assert_int_equal(stats.raw_new, raw);
	stow_writer_free(w);
	stow_vault_ctx_free(c);
	stow_repo_close(r);

	/* A new opener sees everything. */
	r = must_open(st, PW1);
	stow_repo_damaged_indexes(r, &keys, &nkeys);
	assert_int_equal(nkeys, 0);
	stow_repo_index_objects(r, &keys, &nkeys);
	assert_true(nkeys >= 1);
	assert_int_equal(stow_repo_index_foreach(r, count_index, &count), 0);
	assert_int_equal(count, bs->n);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	stow_buf_init(&out, 0);
	for (size_t i = 0; i < bs->n; i++) {
		blob *b = &bs->v[i];
		stow_blob_loc loc;
		const uint8_t *pid;
		int kind = -1;

		assert_int_equal(stow_repo_lookup(r, b->id, &loc), 0);
		assert_int_equal(loc.type, b->type);
		assert_int_equal(loc.raw_len, b->len);
		assert_true(loc.offset >= STOW_PACK_HEADER_LEN);
		pid = stow_repo_pack_id(r, loc.pack, &kind);
		assert_non_null(pid);
		assert_int_equal(kind, b->type == STOW_BLOB_TREE ? PACK_KIND_META
								  : PACK_KIND_DATA);
		assert_int_equal(stow_repo_read_blob(c, b->id, &out), 0);
		assert_int_equal(out.len, b->len);
		if (b->len)
			assert_memory_equal(out.data, b->data, b->len);
	}
	/* An ID nobody stored. */
	{
		uint8_t none[STOW_ID_LEN];

		memset(none, 0x5a, sizeof(none));
		assert_int_equal(stow_repo_lookup(r, none, NULL),
				 STOW_ENOTFOUND);
		assert_int_equal(stow_repo_read_blob(c, none, &out),
				 STOW_ENOTFOUND);
	}

	/* Every pack: right directory and kind, its trailer lists exactly
	 * the blobs added, each once. */
	pc.r = r;
	pc.c = c;
	pc.bs = bs;
	pc.spec = &spec;
	list_keys(st, "data/", &ks);
	for (size_t i = 0; i < ks.n; i++)
		check_pack(&pc, st, ks.keys[i], PACK_KIND_DATA);
	list_keys(st, "meta/", &ks);
	for (size_t i = 0; i < ks.n; i++)
		check_pack(&pc, st, ks.keys[i], PACK_KIND_META);
	for (size_t i = 0; i < bs->n; i++)
		assert_int_equal(bs->v[i].seen, 1);
	/* Small packs: the session must have rolled over several. */
	assert_true(pc.packs[PACK_KIND_DATA] >= 3);
	assert_true(pc.packs[PACK_KIND_META] >= 2);
	assert_int_equal(stats.packs,
			 pc.packs[PACK_KIND_DATA] + pc.packs[PACK_KIND_META]);
	assert_int_equal(stow_repo_pack_count(r), stats.packs);
	assert_int_equal(stats.stored_new, pc.stored);

	/* A second session over the same content stores nothing. */
	assert_int_equal(stow_writer_new(&w, r, &spec), 0);
	for (size_t i = 0; i < bs->n; i++) {
		uint8_t bid[STOW_ID_LEN];
		bool added = true;

		assert_int_equal(stow_writer_add(w, c, bs->v[i].type,
						 bs->v[i].data, bs->v[i].len,
						 bid, &added),
				 0);
		assert_false(added);
	}
	assert_int_equal(stow_writer_flush(w), 0);
	stow_writer_get_stats(w, &stats);
	assert_int_equal(stats.blobs_new, 0);
	assert_int_equal(stats.packs, 0);
	stow_writer_free(w);
	list_keys(st, "index/", &ks);
	assert_int_equal(ks.n, nkeys);

	stow_buf_free(&out);
	stow_vault_ctx_free(c);
	stow_repo_close(r);
	stow_store_close(st);
	free_blobs(bs);
	free(bs);
	free(wk);
}

static void test_writer_none(void **state)
{
	(void)state;
	writer_roundtrip("none");
}

static void test_writer_zstd(void **state)
{
	(void)state;
	writer_roundtrip("zstd:3");
}

static void test_writer_lz4(void **state)
{
	(void)state;
	writer_roundtrip("lz4");
}

static void test_writer_gzip(void **state)
{
	(void)state;
	writer_roundtrip("gzip");
}

/* A writer freed without a flush publishes nothing. */
static void test_writer_abandon(void **state)
{
	stow_store *st;
	stow_repo *r;
	stow_writer *w;
	stow_vault_ctx *c;
	uint8_t id[STOW_ID_LEN];
	bool added;
	key_set ks;

	(void)state;
	st = new_repo_store(NULL);
	r = must_open(st, PW1);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	assert_int_equal(stow_writer_new(&w, r, NULL), 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_DATA, "abc", 3, id,
					 &added),
			 0);
	assert_true(added);
	stow_writer_free(w);
	stow_vault_ctx_free(c);
	stow_repo_close(r);
	list_keys(st, "index/", &ks);
	assert_int_equal(ks.n, 0);
	r = must_open(st, PW1);
	assert_int_equal(stow_repo_lookup(r, id, NULL), STOW_ENOTFOUND);
	stow_repo_close(r);
	stow_store_close(st);
}

/* A blob type other than data or tree is the caller's error: refused,
 * not written into a trailer and an index object that every reader then
 * rejects whole (which would lose the session's other blobs). */
static void test_writer_bad_type(void **state)
{
	stow_store *st;
	stow_repo *r;
	stow_writer *w;
	stow_vault_ctx *c;
	uint8_t id[STOW_ID_LEN], good[STOW_ID_LEN];
	bool added;
	const char *const *keys;
	size_t nkeys;

	(void)state;
	st = new_repo_store(NULL);
	r = must_open(st, PW1);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	assert_int_equal(stow_writer_new(&w, r, NULL), 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_DATA, "good", 4, good,
					 &added),
			 0);
	assert_int_equal(stow_writer_add(w, c, 2, "bad", 3, id, &added),
			 STOW_EINVAL);
	assert_false(added);
	assert_int_equal(stow_writer_flush(w), 0);
	stow_writer_free(w);
	stow_vault_ctx_free(c);
	stow_repo_close(r);
	r = must_open(st, PW1);
	stow_repo_damaged_indexes(r, &keys, &nkeys);
	assert_int_equal(nkeys, 0);
	assert_int_equal(stow_repo_lookup(r, good, NULL), 0);
	stow_repo_close(r);
	stow_store_close(st);
}

/* --- sealed objects ------------------------------------------------------ */

static void test_sealed(void **state)
{
	static const char *const keys[] = {
		"snapshots/1111111111111111111111111111111111111111111111111111"
		"111111111111",
		"snapshots/2222222222222222222222222222222222222222222222222222"
		"222222222222",
	};
	stow_store *st;
	stow_repo *r;
	stow_buf out;
	uint8_t *obj, *big;
	size_t n, bign = 300000;

	(void)state;
	st = new_repo_store(NULL);
	r = must_open(st, PW1);
	stow_buf_init(&out, 0);

	/* Round trips: small, empty, large and compressible. */
	assert_int_equal(stow_sealed_put(r, STOW_SEALED_SNAPSHOT, keys[0],
					 "{\"hello\":1}", 11),
			 0);
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_SNAPSHOT, keys[0], &out),
			 0);
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.data, "{\"hello\":1}", 11);
	assert_int_equal(stow_sealed_put(r, STOW_SEALED_INDEX,
					 "index/00000000000000000000000000000000"
					 "00000000000000000000000000000000",
					 "", 0),
			 0);
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_INDEX,
					 "index/00000000000000000000000000000000"
					 "00000000000000000000000000000000",
					 &out),
			 0);
	assert_int_equal(out.len, 0);
	big = malloc(bign);
	assert_non_null(big);
	for (size_t i = 0; i < bign; i++)
		big[i] = (uint8_t)("snapshot manifest "[i % 18] + (i / 4096));
	assert_int_equal(stow_sealed_put(r, STOW_SEALED_SNAPSHOT, keys[1], big,
					 bign),
			 0);
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_SNAPSHOT, keys[1], &out),
			 0);
	assert_int_equal(out.len, bign);
	assert_memory_equal(out.data, big, bign);
	obj = fetch(st, keys[1], &n);
	assert_true(n < bign / 4); /* it was compressed */
	free(obj);
	/* Same plaintext twice: different salts, different bytes. */
	{
		uint8_t *a, *b;
		size_t an, bn;

		a = fetch(st, keys[0], &an);
		assert_int_equal(stow_sealed_put(r, STOW_SEALED_SNAPSHOT,
						 keys[0], "{\"hello\":1}", 11),
				 0);
		b = fetch(st, keys[0], &bn);
		assert_int_equal(an, bn);
		assert_memory_not_equal(a + 16, b + 16, 32);
		free(a);
		free(b);
	}

	/* Wrong kind asked for. */
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_INDEX, keys[0], &out),
			 STOW_ECORRUPT);
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_CONFIG, keys[0], &out),
			 STOW_ECORRUPT);
	/* Missing. */
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_SNAPSHOT,
					 "snapshots/33", &out),
			 STOW_ENOTFOUND);

	obj = fetch(st, keys[0], &n);
	/* Moved to another name. */
	replace(st, keys[1], obj, n);
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_SNAPSHOT, keys[1], &out),
			 STOW_ECORRUPT);
	/* Relabelled as another kind (header and the kind asked both). */
	obj[12] = STOW_SEALED_INDEX;
	replace(st, keys[1], obj, n);
	assert_int_equal(stow_sealed_open(r, STOW_SEALED_INDEX, keys[0], obj, n,
					  &out),
			 STOW_ECORRUPT);
	obj[12] = STOW_SEALED_SNAPSHOT;
	/* Every byte flipped, two ways. The version field is refused as
	 * an unknown version (FORMAT.md §9), everything else as corrupt. */
	for (size_t i = 0; i < n; i++) {
		for (int m = 0; m < 2; m++) {
			uint8_t x = m ? 0xff : 0x01;
			int rc;

			obj[i] ^= x;
			rc = stow_sealed_open(r, STOW_SEALED_SNAPSHOT, keys[0],
					      obj, n, &out);
			if (i >= 8 && i < 12)
				assert_int_equal(rc, STOW_EUNSUPPORTED);
			else
				assert_int_equal(rc, STOW_ECORRUPT);
			obj[i] ^= x;
		}
	}
	/* Every truncation, each in an exact-size heap block. */
	for (size_t k = 0; k < n; k++) {
		uint8_t *t = malloc(k ? k : 1);

		memcpy(t, obj, k);
		assert_int_equal(stow_sealed_open(r, STOW_SEALED_SNAPSHOT,
						  keys[0], t, k, &out),
				 STOW_ECORRUPT);
		free(t);
	}
	assert_int_equal(stow_sealed_open(r, STOW_SEALED_SNAPSHOT, keys[0], obj,
					  n, &out),
			 0);
	free(obj);

	/* The config's cipher byte is read before the config is known: a
	 * flipped one must still be refused cleanly. */
	obj = fetch(st, "config", &n);
	for (size_t i = 0; i < n; i++) {
		int rc;

		obj[i] ^= 0x04;
		rc = stow_sealed_open(r, STOW_SEALED_CONFIG, "config", obj, n,
				      &out);
		if (i >= 8 && i < 12)
			assert_int_equal(rc, STOW_EUNSUPPORTED);
		else if (i == 13)
			assert_true(rc == STOW_ECORRUPT ||
				    rc == STOW_EUNSUPPORTED);
		else
			assert_int_equal(rc, STOW_ECORRUPT);
		obj[i] ^= 0x04;
	}
	free(obj);

	free(big);
	stow_buf_free(&out);
	stow_repo_close(r);
	stow_store_close(st);
}

/* A damaged index object is skipped and reported, not fatal. */
static void test_damaged_index(void **state)
{
	stow_store *st;
	stow_repo *r;
	stow_writer *w;
	stow_vault_ctx *c;
	uint8_t id1[STOW_ID_LEN], id2[STOW_ID_LEN], *obj;
	const char *const *keys;
	size_t n, nkeys;
	bool added;
	key_set ks;

	(void)state;
	st = new_repo_store(NULL);
	r = must_open(st, PW1);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	assert_int_equal(stow_writer_new(&w, r, NULL), 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_DATA, "one", 3, id1,
					 &added),
			 0);
	assert_int_equal(stow_writer_flush(w), 0);
	stow_writer_free(w);
	list_keys(st, "index/", &ks);
	assert_int_equal(ks.n, 1);
	assert_int_equal(stow_writer_new(&w, r, NULL), 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_TREE, "two", 3, id2,
					 &added),
			 0);
	assert_int_equal(stow_writer_flush(w), 0);
	stow_writer_free(w);
	stow_vault_ctx_free(c);
	stow_repo_close(r);

	obj = fetch(st, ks.keys[0], &n);
	obj[n - 1] ^= 1;
	replace(st, ks.keys[0], obj, n);
	free(obj);
	r = must_open(st, PW1);
	stow_repo_damaged_indexes(r, &keys, &nkeys);
	assert_int_equal(nkeys, 1);
	assert_string_equal(keys[0], ks.keys[0]);
	stow_repo_index_objects(r, &keys, &nkeys);
	assert_int_equal(nkeys, 1);
	assert_int_equal(stow_repo_lookup(r, id2, NULL), 0);
	/* The damaged object's blob is either unknown or, if the opener
	 * recovered it from the pack trailers (FORMAT.md §4.2), readable. */
	if (stow_repo_lookup(r, id1, NULL) == 0) {
		stow_vault_ctx *rc;
		stow_buf out;

		stow_buf_init(&out, 0);
		assert_int_equal(stow_vault_ctx_new(&rc, r), 0);
		assert_int_equal(stow_repo_read_blob(rc, id1, &out), 0);
		assert_int_equal(out.len, 3);
		assert_memory_equal(out.data, "one", 3);
		stow_vault_ctx_free(rc);
		stow_buf_free(&out);
	}
	stow_repo_close(r);
	stow_store_close(st);
}

/* --- tampering with packs ----------------------------------------------- */

typedef struct small_repo {
	stow_store *st;
	stow_repo *r;
	stow_vault_ctx *c;
	uint8_t ids[4][STOW_ID_LEN];
	char text[4][64];
} small_repo;

static void small_repo_make(small_repo *s)
{
	stow_writer *w;
	stow_comp_spec spec = {STOW_COMP_ZSTD, 3, 0};
	bool added;

	s->st = new_repo_store(NULL);
	s->r = must_open(s->st, PW1);
	assert_int_equal(stow_vault_ctx_new(&s->c, s->r), 0);
	assert_int_equal(stow_writer_new(&w, s->r, &spec), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(s->text[i], sizeof(s->text[i]),
			 "%d aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
		assert_int_equal(stow_writer_add(w, s->c, STOW_BLOB_DATA,
						 s->text[i],
						 strlen(s->text[i]), s->ids[i],
						 &added),
				 0);
		assert_true(added);
	}
	assert_int_equal(stow_writer_flush(w), 0);
	stow_writer_free(w);
	stow_vault_ctx_free(s->c);
	stow_repo_close(s->r);
	s->r = must_open(s->st, PW1);
	assert_int_equal(stow_vault_ctx_new(&s->c, s->r), 0);
}

static void small_repo_free(small_repo *s)
{
	stow_vault_ctx_free(s->c);
	stow_repo_close(s->r);
	stow_store_close(s->st);
}

static void blob_pack_key(small_repo *s, int i, stow_blob_loc *loc,
			  char key[160])
{
	int kind;
	const uint8_t *pid;

	assert_int_equal(stow_repo_lookup(s->r, s->ids[i], loc), 0);
	pid = stow_repo_pack_id(s->r, loc->pack, &kind);
	assert_non_null(pid);
	stow_pack_key(key, 160, kind, pid);
}

static void test_pack_tamper(void **state)
{
	small_repo s;
	stow_blob_loc loc;
	char key[160];
	uint8_t *p;
	size_t n;
	stow_buf out;

	(void)state;
	small_repo_make(&s);
	stow_buf_init(&out, 0);
	blob_pack_key(&s, 1, &loc, key);
	assert_int_equal(loc.comp, STOW_COMP_ZSTD);
	p = fetch(s.st, key, &n);

	/* Any byte of the blob's ciphertext or tag. */
	for (uint32_t i = loc.offset; i < loc.offset + loc.stored_len; i++) {
		p[i] ^= 0x80;
		replace(s.st, key, p, n);
		assert_int_equal(stow_repo_read_blob(s.c, s.ids[1], &out),
				 STOW_ECORRUPT);
		p[i] ^= 0x80;
	}
	/* The neighbours are unaffected by damage elsewhere. */
	p[loc.offset] ^= 1;
	replace(s.st, key, p, n);
	assert_int_equal(stow_repo_read_blob(s.c, s.ids[0], &out), 0);
	assert_int_equal(stow_repo_read_blob(s.c, s.ids[2], &out), 0);
	assert_int_equal(out.len, strlen(s.text[2]));
	assert_memory_equal(out.data, s.text[2], out.len);
	p[loc.offset] ^= 1;

	/* Truncated before or inside the blob. */
	{
		size_t cuts[] = {loc.offset + loc.stored_len - 1,
				 loc.offset + 1, loc.offset, 10, 0};

		for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
			replace(s.st, key, p, cuts[k]);
			assert_int_equal(stow_repo_read_blob(s.c, s.ids[1],
							     &out),
					 STOW_ECORRUPT);
		}
	}
	/* Gone. */
	assert_int_equal(stow_store_del(s.st, key), 0);
	assert_true(stow_repo_read_blob(s.c, s.ids[1], &out) < 0);
	replace(s.st, key, p, n);
	assert_int_equal(stow_repo_read_blob(s.c, s.ids[1], &out), 0);
	assert_memory_equal(out.data, s.text[1], out.len);

	free(p);
	stow_buf_free(&out);
	small_repo_free(&s);
}

/* Read and verify a whole pack as check does: 0 only if the trailer and
 * every blob it lists authenticate. */
static int verify_pack(stow_vault_ctx *c, const uint8_t *pid,
		       const uint8_t *p, size_t n, stow_buf *out)
{
	stow_pack_entry *e = NULL;
	size_t ne;
	int rc = stow_pack_read_trailer(c, pid, p, n, &e, &ne);

	for (size_t i = 0; rc == 0 && i < ne; i++)
		rc = stow_pack_open_blob(c, pid, &e[i], p + e[i].offset, out);
	free(e);
	return rc;
}

static void test_pack_trailer_tamper(void **state)
{
	small_repo s;
	stow_blob_loc loc;
	const uint8_t *pid;
	char key[160];
	uint8_t *p, *t;
	size_t n;
	stow_buf out;

	(void)state;
	small_repo_make(&s);
	stow_buf_init(&out, 0);
	blob_pack_key(&s, 0, &loc, key);
	pid = stow_repo_pack_id(s.r, loc.pack, NULL);
	p = fetch(s.st, key, &n);
	assert_int_equal(verify_pack(s.c, pid, p, n, &out), 0);

	/* Every byte of a pack is covered by some check. */
	for (size_t i = 0; i < n; i++) {
		for (int m = 0; m < 2; m++) {
			uint8_t x = m ? 0xff : 0x10;

			p[i] ^= x;
			assert_true(verify_pack(s.c, pid, p, n, &out) < 0);
			p[i] ^= x;
		}
	}
	/* Every truncation, in an exact-size heap block. */
	for (size_t k = 0; k < n; k++) {
		t = malloc(k ? k : 1);
		memcpy(t, p, k);
		assert_true(verify_pack(s.c, pid, t, k, &out) < 0);
		free(t);
	}
	/* Another pack's name. */
	{
		uint8_t other[32];

		memcpy(other, pid, 32);
		other[31] ^= 1;
		assert_int_equal(verify_pack(s.c, other, p, n, &out),
				 STOW_ECORRUPT);
	}
	/* Extra bytes appended. */
	t = malloc(n + 1);
	memcpy(t, p, n);
	t[n] = 0;
	assert_true(verify_pack(s.c, pid, t, n + 1, &out) < 0);
	free(t);

	assert_int_equal(verify_pack(s.c, pid, p, n, &out), 0);
	free(p);
	stow_buf_free(&out);
	small_repo_free(&s);
}

/* --- a store that fails part way -------------------------------------- */

#define FAIL_BLOBS 48

typedef struct fail_blobs {
	uint8_t *data[FAIL_BLOBS];
	size_t len[FAIL_BLOBS];
	int type[FAIL_BLOBS];
} fail_blobs;

static void fail_blobs_make(fail_blobs *fb)
{
	for (int i = 0; i < FAIL_BLOBS; i++) {
		uint64_t s = 0x1234567ull + (uint64_t)i * 7919;

		fb->type[i] = i % 6 == 5 ? STOW_BLOB_TREE : STOW_BLOB_DATA;
		fb->len[i] = 6000 + (size_t)i * 13;
		fb->data[i] = malloc(fb->len[i]);
		assert_non_null(fb->data[i]);
		for (size_t k = 0; k < fb->len[i]; k++)
			fb->data[i][k] = (uint8_t)(xorshift(&s) >> 56);
	}
}

static void fail_blobs_free(fail_blobs *fb)
{
	for (int i = 0; i < FAIL_BLOBS; i++)
		free(fb->data[i]);
}

/* Add everything; return the first error of add or flush (0 if none). */
static int write_session(stow_repo *r, stow_vault_ctx *c, fail_blobs *fb,
			 uint64_t *packs)
{
	stow_writer *w = NULL;
	stow_comp_spec spec = {STOW_COMP_ZSTD, 3, 0};
	stow_writer_stats stats;
	int rc, frc;

	assert_int_equal(stow_writer_new(&w, r, &spec), 0);
	rc = 0;
	for (int i = 0; rc == 0 && i < FAIL_BLOBS; i++) {
		uint8_t id[STOW_ID_LEN];
		bool added;

		rc = stow_writer_add(w, c, fb->type[i], fb->data[i],
				     fb->len[i], id, &added);
	}
	frc = stow_writer_flush(w);
	stow_writer_get_stats(w, &stats);
	if (packs)
		*packs = stats.packs;
	stow_writer_free(w);
	return rc ? rc : frc;
}

typedef struct consist {
	stow_repo *r;
	stow_vault_ctx *c;
	stow_buf *out;
	uint64_t blobs;
} consist;

static int check_indexed_blob(void *ctx, const uint8_t id[STOW_ID_LEN],
			      const stow_blob_loc *loc)
{
	consist *k = ctx;
	int rc;

	(void)loc;
	rc = stow_repo_read_blob(k->c, id, k->out);
	if (rc != 0)
		print_error("indexed blob unreadable: %s\n", stow_err_msg());
	assert_int_equal(rc, 0);
	k->blobs++;
	return 0;
}

/* Every pack an index names exists and every indexed blob reads. */
static uint64_t check_consistent(stow_store *st)
{
	stow_repo *r = must_open(st, PW1);
	stow_buf out;
	consist k = {.r = r};
	const char *const *keys;
	size_t nkeys;

	stow_repo_damaged_indexes(r, &keys, &nkeys);
	assert_int_equal(nkeys, 0);
	for (uint32_t o = 0; o < stow_repo_pack_count(r); o++) {
		char key[160];
		int kind;
		const uint8_t *pid = stow_repo_pack_id(r, o, &kind);

		assert_non_null(pid);
		stow_pack_key(key, sizeof(key), kind, pid);
		assert_int_equal(stow_store_stat(st, key, NULL), 0);
	}
	stow_buf_init(&out, 0);
	assert_int_equal(stow_vault_ctx_new(&k.c, r), 0);
	k.out = &out;
	assert_int_equal(stow_repo_index_foreach(r, check_indexed_blob, &k), 0);
	stow_vault_ctx_free(k.c);
	stow_buf_free(&out);
	stow_repo_close(r);
	return k.blobs;
}

static void test_failing_store(void **state)
{
	fail_blobs fb;
	uint64_t packs = 0;
	long puts_needed;

	(void)state;
	fail_blobs_make(&fb);
	/* How many puts a clean session takes: its packs and one index. */
	{
		stow_store *st = new_repo_store(NULL);
		stow_repo *r = must_open(st, PW1);
		stow_vault_ctx *c;

		assert_int_equal(stow_vault_ctx_new(&c, r), 0);
		assert_int_equal(write_session(r, c, &fb, &packs), 0);
		assert_true(packs >= 4);
		puts_needed = (long)packs + 1;
		stow_vault_ctx_free(c);
		stow_repo_close(r);
		assert_int_equal(check_consistent(st), FAIL_BLOBS);
		stow_store_close(st);
	}
	for (long n = 0; n <= puts_needed; n++) {
		stow_store *st = new_repo_store(NULL);
		stow_repo *r = must_open(st, PW1);
		stow_vault_ctx *c;
		uint64_t found;
		int rc;

		assert_int_equal(stow_vault_ctx_new(&c, r), 0);
		stow_store_mem_fail_puts_after(st, n);
		rc = write_session(r, c, &fb, NULL);
		stow_store_mem_fail_puts_after(st, -1);
		if (n < puts_needed)
			assert_int_equal(rc, STOW_EIO);
		else
			assert_int_equal(rc, 0);
		stow_vault_ctx_free(c);
		stow_repo_close(r);
		found = check_consistent(st);
		assert_int_equal(found, n < puts_needed ? 0 : FAIL_BLOBS);
		stow_store_close(st);
	}
	fail_blobs_free(&fb);
}

/* After a failed session the same process writes again (the writer
 * "starts a new pack" after a failure, FORMAT.md §5): the blobs whose
 * packs never reached storage, or reached it but were never listed by an
 * index object, must be stored again, not deduplicated against the
 * failed session's entries in the in-memory index. Failures at the first
 * pack, a later pack, and the index object. */
static void test_retry_after_failure(void **state)
{
	fail_blobs fb;
	uint64_t packs = 0;
	long fails[3];

	(void)state;
	fail_blobs_make(&fb);
	{
		stow_store *st = new_repo_store(NULL);
		stow_repo *r = must_open(st, PW1);
		stow_vault_ctx *c;

		assert_int_equal(stow_vault_ctx_new(&c, r), 0);
		assert_int_equal(write_session(r, c, &fb, &packs), 0);
		stow_vault_ctx_free(c);
		stow_repo_close(r);
		stow_store_close(st);
	}
	fails[0] = 0;
	fails[1] = 2;
	fails[2] = (long)packs; /* every pack stored, the index put fails */
	for (int i = 0; i < 3; i++) {
		stow_store *st = new_repo_store(NULL);
		stow_repo *r = must_open(st, PW1);
		stow_vault_ctx *c;

		assert_int_equal(stow_vault_ctx_new(&c, r), 0);
		stow_store_mem_fail_puts_after(st, fails[i]);
		assert_int_equal(write_session(r, c, &fb, NULL), STOW_EIO);
		stow_store_mem_fail_puts_after(st, -1);
		assert_int_equal(write_session(r, c, &fb, NULL), 0);
		stow_vault_ctx_free(c);
		stow_repo_close(r);
		assert_int_equal(check_consistent(st), FAIL_BLOBS);
		stow_store_close(st);
	}
	fail_blobs_free(&fb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_open),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_slot_tamper),
		cmocka_unit_test(test_slot_junk),
		cmocka_unit_test(test_slot_costly),
		cmocka_unit_test(test_slot_kdf_header),
		cmocka_unit_test(test_scrypt_repo_gets_argon2id_slot),
		cmocka_unit_test(test_key_remove_junk),
		cmocka_unit_test(test_init_bad_kdf),
		cmocka_unit_test(test_init_bad_pack_size),
		cmocka_unit_test(test_writer_none),
		cmocka_unit_test(test_writer_zstd),
		cmocka_unit_test(test_writer_lz4),
		cmocka_unit_test(test_writer_gzip),
		cmocka_unit_test(test_writer_abandon),
		cmocka_unit_test(test_writer_bad_type),
		cmocka_unit_test(test_sealed),
		cmocka_unit_test(test_damaged_index),
		cmocka_unit_test(test_pack_tamper),
		cmocka_unit_test(test_pack_trailer_tamper),
		cmocka_unit_test(test_failing_store),
		cmocka_unit_test(test_retry_after_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
