/* Fuzz target: sealed objects (FORMAT.md §4) - stow_sealed_open under
 * fixed repository keys (gen/fixed_repo.h), and the index payload decoder
 * behind it when an index object opens (what load_indexes does).
 *
 * The first input byte picks the mode:
 *   0  the rest is a stored object; its kind byte (offset 12) picks the
 *      name it is opened under (fixed_sealed_key), so valid objects from
 *      the generator open and mutations reach every header check.
 *   1  u8 kind | plaintext (u8 comp | varint raw_len | payload): the
 *      harness seals the plaintext with a fixed salt, so the payload
 *      header and decompression see authenticated hostile bytes. An
 *      uncompressed payload of the right length must open; whatever
 *      opens must seal again (stow_sealed_put) and read back equal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/fixed_repo.h"
#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static stow_repo *repo;

static int setup(void)
{
	stow_store *st = NULL;

	if (repo)
		return 0;
	if (stow_store_mem_open(&st) < 0)
		return -1;
	repo = fixed_repo_new(st);
	return repo ? 0 : -1;
}

static int count_entry(void *ctx, const uint8_t pack_id[32], int kind,
		       const stow_pack_entry *e)
{
	(void)pack_id;
	(void)kind;
	(void)e;
	(*(size_t *)ctx)++;
	return 0;
}

/* Header and AEAD per FORMAT.md §4, with a salt of 0x5c bytes. */
static int seal(int kind, const char *name, const uint8_t *pt, size_t n,
		stow_buf *obj)
{
	uint8_t key[STOW_KEY_LEN], nonce[STOW_NONCE_LEN] = {0};
	stow_buf aad;
	stow_aead *a = NULL;
	int rc;

	STOW_TRY(stow_buf_reserve(obj, STOW_SEALED_HEADER_LEN + n +
					       STOW_TAG_LEN));
	memcpy(obj->data, "STOWSEAL", 8);
	stow_put_le32(obj->data + 8, STOW_FORMAT_VERSION);
	obj->data[12] = (uint8_t)kind;
	obj->data[13] = (uint8_t)repo->aead;
	obj->data[14] = obj->data[15] = 0;
	memset(obj->data + 16, 0x5c, 32);
	STOW_TRY(stow_hkdf_sha256(key, sizeof(key), repo->enc_root, 32,
				  obj->data + 16, 32, "stowage sealed v1"));
	stow_buf_init(&aad, 0);
	rc = stow_buf_append(&aad, obj->data, STOW_SEALED_HEADER_LEN);
	if (rc == 0)
		rc = stow_buf_append_str(&aad, name);
	if (rc == 0)
		rc = stow_aead_new(&a, repo->aead);
	if (rc == 0)
		rc = stow_aead_setkey(a, key);
	if (rc == 0)
		rc = stow_aead_seal(a, nonce, aad.data, aad.len, pt, n,
				    obj->data + STOW_SEALED_HEADER_LEN);
	stow_aead_free(a);
	stow_buf_free(&aad);
	if (rc == 0)
		obj->len = STOW_SEALED_HEADER_LEN + n + STOW_TAG_LEN;
	return rc;
}

/* Would the reader take this plaintext as an uncompressed payload? */
static bool plain_ok(const uint8_t *pt, size_t n)
{
	stow_rd rd;
	uint8_t comp;
	uint64_t raw;

	stow_rd_init(&rd, pt, n, "fuzz");
	return stow_rd_u8(&rd, &comp) == 0 && comp == STOW_COMP_NONE &&
	       stow_rd_varint(&rd, &raw) == 0 && raw == stow_rd_left(&rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stow_buf obj, out, again;
	const uint8_t *p;
	size_t len, entries = 0;
	const char *name;
	int kind, mode, rc;

	if (size < 2 || setup() < 0)
		return 0;
	mode = data[0] & 1;
	stow_buf_init(&obj, 0);
	stow_buf_init(&out, 0);
	stow_buf_init(&again, 0);
	if (mode == 0) {
		len = size - 1;
		obj.data = malloc(len);
		if (!obj.data)
			goto out;
		memcpy(obj.data, data + 1, len);
		obj.len = len;
		kind = len > 12 ? obj.data[12] : STOW_SEALED_SNAPSHOT;
	} else {
		kind = data[1] % 3 + 1;
		if (seal(kind, fixed_sealed_key(kind), data + 2, size - 2,
			 &obj) < 0)
			goto out;
	}
	name = fixed_sealed_key(kind);
	p = obj.data;
	len = obj.len;

	rc = stow_sealed_open(repo, kind, name, p, len, &out);
	if (mode == 1 && rc != 0 && plain_ok(data + 2, size - 2))
		__builtin_trap();
	if (rc == 0 && kind == STOW_SEALED_INDEX)
		stow_index_decode(out.data, out.len, count_entry, &entries);
	/* What opens seals again and reads back the same. */
	if (rc == 0 && mode == 1 && out.len <= (1u << 16)) {
		if (stow_sealed_put(repo, kind, name, out.data, out.len) != 0 ||
		    stow_sealed_get(repo, kind, name, &again) != 0 ||
		    again.len != out.len ||
		    (out.len && memcmp(again.data, out.data, out.len) != 0))
			__builtin_trap();
	}
out:
	stow_buf_free(&obj);
	stow_buf_free(&out);
	stow_buf_free(&again);
	stow_err_clear();
	return 0;
}
