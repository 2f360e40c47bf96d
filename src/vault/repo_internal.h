/* Internals shared by the files of the vault core (repo.c, index.c,
 * pack.c, writer.c, backup.c). Not for the CLI. */
#ifndef STOW_VAULT_REPO_INTERNAL_H
#define STOW_VAULT_REPO_INTERNAL_H

#include <pthread.h>

#include "vault/vault.h"

#define STOW_MASTER_LEN 64
#define STOW_PACK_HEADER_LEN 48
#define STOW_PACK_FOOTER_LEN 12
#define STOW_SEALED_HEADER_LEN 48
#define STOW_SEALED_MAX ((size_t)1 << 30)
#define STOW_BLOB_MAX ((uint32_t)1 << 30)
#define STOW_PACK_MAX ((uint64_t)1 << 32)

#define PACK_KIND_DATA 0
#define PACK_KIND_META 1

/* --- in-memory index (index.c) --- */
typedef struct stow_index stow_index;
int stow_index_new(stow_index **out);
void stow_index_free(stow_index *x);
/* Insert if absent (an existing entry wins). */
int stow_index_insert(stow_index *x, const uint8_t id[STOW_ID_LEN],
		      const stow_blob_loc *loc);
/* 0 found (not pending), STOW_ENOTFOUND otherwise. */
int stow_index_lookup(stow_index *x, const uint8_t id[STOW_ID_LEN],
		      stow_blob_loc *loc);
/* Claim an ID for writing: 1 if the caller must store it (a pending entry
 * was created), 0 if it is present or pending already. */
int stow_index_claim(stow_index *x, const uint8_t id[STOW_ID_LEN]);
/* Resolve a pending entry to its location. */
void stow_index_resolve(stow_index *x, const uint8_t id[STOW_ID_LEN],
			const stow_blob_loc *loc);
int stow_index_foreach(stow_index *x, stow_index_cb cb, void *ctx);
/* Forget every pending claim (a failed write session's). */
void stow_index_drop_pending(stow_index *x);
/* Forget (mark dead) every entry in a pack with keep[ordinal] == 0. */
void stow_index_drop_packs(stow_index *x, const uint8_t *keep,
			   uint32_t npacks);
uint64_t stow_index_count(stow_index *x);

/* Index object payload (before sealing): decode into the repo, encode
 * from a list of packs. */
typedef struct stow_index_pack {
	uint8_t id[32];
	int kind;
	uint32_t ordinal; /* in this process's pack table (not stored) */
	stow_pack_entry *entries;
	size_t n;
} stow_index_pack;
int stow_index_encode(const stow_index_pack *packs, size_t npacks,
		      stow_buf *out);
/* Calls add(ctx, pack_id, kind, entry) per entry; validates everything. */
typedef int (*stow_index_add_cb)(void *ctx, const uint8_t pack_id[32],
				 int kind, const stow_pack_entry *e);
int stow_index_decode(const uint8_t *p, size_t len, stow_index_add_cb add,
		      void *ctx);

struct stow_repo {
	stow_store *st;
	uint8_t id[32];
	char id_hex[65];
	uint8_t master[STOW_MASTER_LEN];
	uint8_t hash_key[STOW_KEY_LEN];
	uint8_t enc_root[STOW_KEY_LEN];
	uint8_t chunk_seed[32];
	stow_hash_alg hash;
	stow_aead_alg aead;
	stow_comp_spec comp;
	stow_chunker_params chunk;
	stow_chunker *chunker;
	uint32_t data_pack_size, meta_pack_size;
	char slot_id[17];
	unsigned parallel;
	stow_index *index;

	/* Pack table: ordinal -> (id, kind), in fixed blocks so pointers
	 * stay valid while it grows; a hash map finds an ID's ordinal. */
	pthread_mutex_t packs_mu;
	uint8_t (**pack_blocks)[33]; /* [0..31] id, [32] kind */
	uint32_t npacks;
	uint32_t *pack_map; /* open addressing: ordinal+1, 0 empty */
	size_t pack_map_cap;

	struct stow_packcache *packcache; /* whole packs for small reads */
	bool remote; /* storage where a request costs more than bytes */

	char **index_keys, **damaged_index_keys;
	size_t nindex_keys, ndamaged_index_keys;
};

struct stow_vault_ctx {
	stow_repo *r;
	stow_hasher *hasher;
	stow_aead *aead;
	uint8_t aead_pack[32]; /* pack whose key aead holds */
	bool aead_keyed;
	stow_buf ct, plain;
	/* writer side, created on first use with the writer's spec */
	stow_compressor *comp;
	stow_comp_spec comp_spec;
	stow_buf zbuf;
};

/* Register a pack ID (or find it); its ordinal into *ordinal. */
int stow_repo_pack_add(stow_repo *r, const uint8_t id[32], int kind,
		       uint32_t *ordinal);
void stow_pack_derive_key(stow_repo *r, const uint8_t pack_id[32],
			  uint8_t key[STOW_KEY_LEN]);
void stow_pack_nonce(uint8_t nonce[STOW_NONCE_LEN], uint64_t offset);
void stow_pack_blob_aad(uint8_t aad[38], const stow_pack_entry *e);

#endif
