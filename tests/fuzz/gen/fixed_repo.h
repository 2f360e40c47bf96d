/* A repository context with fixed keys, shared by the fuzz targets
 * (tests/fuzz/fuzz_*.c) and the corpus generator (gen_corpus.c), so that
 * objects the generator writes authenticate in the targets.
 *
 * Master secret: bytes 0..63; repository ID: 32 x 0xa5 (the same inputs
 * as the envelope known-answer tests). Subkeys per FORMAT.md §2 (repo.c's
 * derive_keys is static). The context has an index and a pack table, so
 * the writer and stow_sealed_put work on it; free it with
 * stow_repo_close (which also closes `st`). */
#ifndef STOW_TESTS_FIXED_REPO_H
#define STOW_TESTS_FIXED_REPO_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "vault/repo_internal.h"

#define FIXED_PASSWORD "fuzz password"
#define FIXED_SLOT_ID "0123456789abcdef"
#define FIXED_SLOT_KEY "keys/" FIXED_SLOT_ID
#define FIXED_INDEX_KEY                                                        \
	"index/"                                                               \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define FIXED_SNAPSHOT_KEY                                                     \
	"snapshots/"                                                           \
	"2222222222222222222222222222222222222222222222222222222222222222"

/* Storage key the sealed-object target uses for each kind. */
static inline const char *fixed_sealed_key(int kind)
{
	switch (kind) {
	case STOW_SEALED_CONFIG: return "config";
	case STOW_SEALED_INDEX: return FIXED_INDEX_KEY;
	default: return FIXED_SNAPSHOT_KEY;
	}
}

/* NULL on failure (out of memory or a libcrypto failure). */
static inline stow_repo *fixed_repo_new(stow_store *st)
{
	stow_repo *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	for (int i = 0; i < STOW_MASTER_LEN; i++)
		r->master[i] = (uint8_t)i;
	memset(r->id, 0xa5, sizeof(r->id));
	stow_hex(r->id_hex, r->id, sizeof(r->id));
	r->hash = STOW_HASH_HMAC_SHA256;
	r->aead = STOW_AEAD_AES256GCM;
	r->comp = (stow_comp_spec){STOW_COMP_ZSTD, 3, 0};
	stow_chunker_params_default(&r->chunk);
	r->data_pack_size = 1u << 16;
	r->meta_pack_size = 1u << 16;
	r->parallel = 1;
	pthread_mutex_init(&r->packs_mu, NULL);
	snprintf(r->slot_id, sizeof(r->slot_id), "%s", FIXED_SLOT_ID);
	if (stow_hkdf_sha256(r->hash_key, 32, r->master, STOW_MASTER_LEN,
			     r->id, 32, "stowage content-id v1") < 0 ||
	    stow_hkdf_sha256(r->enc_root, 32, r->master, STOW_MASTER_LEN,
			     r->id, 32, "stowage encryption v1") < 0 ||
	    stow_hkdf_sha256(r->chunk_seed, 32, r->master, STOW_MASTER_LEN,
			     r->id, 32, "stowage chunker seed v1") < 0 ||
	    stow_index_new(&r->index) < 0) {
		stow_repo_close(r);
		return NULL;
	}
	r->st = st;
	return r;
}

/* A key slot (FORMAT.md §2.1) wrapping the fixed master secret and ID
 * for `password` at `key`, with header bytes 12..15 `kdf` (scrypt: 1,
 * log2(N), r, p; Argon2id: 2, log2(m in KiB), t, lanes) and fixed salt
 * and nonce. out receives 180 bytes. */
static inline int fixed_slot_make_kdf(uint8_t out[180], const char *password,
				      const char *key, const uint8_t kdf[4])
{
	uint8_t kek[32], pt[96], aad[68 + 64];
	size_t klen = strlen(key);
	stow_aead *a = NULL;
	int rc;

	if (klen > 64)
		return -1;
	memcpy(out, "STOWKEYS", 8);
	stow_put_le32(out + 8, 1);
	memcpy(out + 12, kdf, 4);
	stow_put_le64(out + 16, 1700000000);
	for (int i = 0; i < 44; i++)
		out[24 + i] = (uint8_t)(0x30 + i); /* salt and nonce */
	for (int i = 0; i < 64; i++)
		pt[i] = (uint8_t)i;
	memset(pt + 64, 0xa5, 32);
	memcpy(aad, out, 68);
	memcpy(aad + 68, key, klen);
	if (kdf[0] == 2)
		rc =
		    stow_argon2id(kek, 32, password, strlen(password), out + 24,
				  32, kdf[2], (uint32_t)1 << kdf[1], kdf[3]);
	else
		rc = stow_scrypt(kek, 32, password, strlen(password), out + 24,
				 32, (uint64_t)1 << kdf[1], kdf[2], kdf[3]);
	if (rc == 0)
		rc = stow_aead_new(&a, STOW_AEAD_AES256GCM);
	if (rc == 0)
		rc = stow_aead_setkey(a, kek);
	if (rc == 0)
		rc = stow_aead_seal(a, out + 56, aad, 68 + klen, pt, 96,
				    out + 68);
	stow_aead_free(a);
	return rc;
}

/* The same with scrypt N = 2^log_n, r = 8, p = 1. */
static inline int fixed_slot_make(uint8_t out[180], const char *password,
				  const char *key, unsigned log_n)
{
	const uint8_t kdf[4] = {1, (uint8_t)log_n, 8, 1};

	return fixed_slot_make_kdf(out, password, key, kdf);
}

#endif
