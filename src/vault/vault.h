/* The vault: an encrypted, deduplicating snapshot repository over a blob
 * store. This header is the vault's API for the CLI and, later, the node
 * agent. On-storage format: docs/FORMAT.md.
 *
 * Objects in the store (all names relative to the repository root):
 *   keys/<16 hex>            key slot: the master secret wrapped by a password
 *   config                   sealed repository configuration
 *   data/<2 hex>/<64 hex>    data pack (file chunks)
 *   meta/<2 hex>/<64 hex>    metadata pack (trees)
 *   index/<64 hex>           sealed index: which blob is where
 *   snapshots/<64 hex>       sealed snapshot manifest
 *
 * Threading: a stow_repo is shared by all threads of a process once open;
 * its index locks internally. Per-thread work needs a stow_vault_ctx
 * (cipher, hasher, compressor, scratch buffers). */
#ifndef STOW_VAULT_H
#define STOW_VAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "storage/storage.h"
#include "util/buf.h"
#include "vault/chunker.h"
#include "vault/compress.h"

#define STOW_FORMAT_VERSION 1

enum stow_blob_type {
	STOW_BLOB_DATA = 0, /* a chunk of file contents; stored in data packs */
	STOW_BLOB_TREE = 1, /* an encoded directory; stored in meta packs */
};

typedef struct stow_repo stow_repo;

/* Password KDF of a key slot (FORMAT.md §2.1); the values are the KDF
 * byte of the slot. */
typedef enum stow_kdf_alg {
	STOW_KDF_SCRYPT = 1,
	STOW_KDF_ARGON2ID = 2,
} stow_kdf_alg;

#define STOW_KDF_LOG_N_DEFAULT 15      /* scrypt N = 2^15, r = 8, p = 1 */
#define STOW_KDF_MEMORY_MIB_DEFAULT 16 /* Argon2id m = 16 MiB, */
#define STOW_KDF_PASSES_DEFAULT 6      /* t = 6, one lane */

/* How to derive the key of a new key slot. Only the fields of `alg`
 * count: scrypt log_n 10..24 (r = 8, p = 1); Argon2id memory_mib a power
 * of two 1..1024 and passes 1..32 (one lane). 10 and 1 MiB/1 pass are
 * only for tests. */
typedef struct stow_kdf_opts {
	stow_kdf_alg alg;    /* default STOW_KDF_ARGON2ID */
	unsigned log_n;	     /* scrypt N = 2^log_n; default 15 */
	unsigned memory_mib; /* Argon2id memory in MiB; default 16 */
	unsigned passes;     /* Argon2id passes t; default 6 */
} stow_kdf_opts;

void stow_kdf_opts_default(stow_kdf_opts *k);
/* "scrypt" or "argon2id"; parse gives STOW_EINVAL for other names. */
const char *stow_kdf_alg_name(stow_kdf_alg a);
int stow_kdf_alg_parse(const char *name, stow_kdf_alg *out);

typedef struct stow_repo_init_opts {
	stow_hash_alg hash;
	stow_aead_alg aead;
	stow_comp_spec comp;
	stow_chunker_params chunk;
	stow_kdf_opts kdf;	 /* the first key slot's KDF */
	uint32_t data_pack_size; /* target bytes per data pack */
	uint32_t meta_pack_size; /* target bytes per metadata pack */
} stow_repo_init_opts;

void stow_repo_init_opts_default(stow_repo_init_opts *o);

/* Create a repository in an empty store: master secret, first key slot
 * for `password`, config. STOW_EEXIST if the store already holds a
 * config. repo_id_hex receives the repository ID (65 bytes). */
int stow_repo_init(stow_store *st, const char *password,
		   const stow_repo_init_opts *o, char repo_id_hex[65]);

/* Open: find a key slot that `password` opens (STOW_EAUTH if none,
 * STOW_ENOTFOUND if the store holds no repository), read the config and
 * load every index object into memory. Takes ownership of st (closed by
 * stow_repo_close, also on failure). */
int stow_repo_open(stow_repo **out, stow_store *st, const char *password);
void stow_repo_close(stow_repo *r);

stow_store *stow_repo_store(stow_repo *r);
const char *stow_repo_id_hex(const stow_repo *r);
const stow_comp_spec *stow_repo_comp(const stow_repo *r);
const stow_chunker *stow_repo_chunker(const stow_repo *r);
/* The key slot that opened the repository (16 hex). */
const char *stow_repo_slot_id(const stow_repo *r);
/* Number of worker threads to use (set by the CLI; default CPUs). */
void stow_repo_set_parallel(stow_repo *r, unsigned n);
unsigned stow_repo_parallel(const stow_repo *r);

/* Per-thread context. */
typedef struct stow_vault_ctx stow_vault_ctx;
int stow_vault_ctx_new(stow_vault_ctx **out, stow_repo *r);
void stow_vault_ctx_free(stow_vault_ctx *c);

/* Where a blob lives. */
typedef struct stow_blob_loc {
	uint32_t pack;       /* ordinal into the repo's pack table */
	uint32_t offset;     /* of the ciphertext within the pack */
	uint32_t stored_len; /* ciphertext + tag */
	uint32_t raw_len;    /* plaintext length after decompression */
	uint8_t type;        /* enum stow_blob_type */
	uint8_t comp;        /* stow_comp_alg of the stored payload */
} stow_blob_loc;

/* Look up a blob ID in the in-memory index. STOW_ENOTFOUND if absent. */
int stow_repo_lookup(stow_repo *r, const uint8_t id[STOW_ID_LEN],
		     stow_blob_loc *loc);
/* The 32-byte ID and kind (0 data, 1 meta) of pack `ordinal`. */
const uint8_t *stow_repo_pack_id(stow_repo *r, uint32_t ordinal,
				 int *kind);
uint32_t stow_repo_pack_count(stow_repo *r);
/* Storage key of a pack: "data/ab/ab…" or "meta/ab/ab…" (into 160 bytes). */
void stow_pack_key(char *out, size_t n, int kind, const uint8_t id[32]);

/* Read, authenticate, decompress and re-hash one blob; `out` is reset and
 * receives the plaintext. STOW_ENOTFOUND (not in index), STOW_ECORRUPT
 * (MAC, decompression or hash mismatch; message names pack and blob),
 * STOW_EIO. */
int stow_repo_read_blob(stow_vault_ctx *c, const uint8_t id[STOW_ID_LEN],
			stow_buf *out);

/* Read-ahead for a reader that knows the blobs it will read next (restore's
 * walker): hints the store to fetch PREFETCH_SPAN bytes of the pack from
 * the blob on, unless an earlier hint through the same state covered it.
 * Cheap when the store has no prefetch op or the blob is unknown. */
typedef struct stow_prefetch {
	uint32_t pack;
	uint64_t end; /* 0: no hint yet */
} stow_prefetch;
void stow_repo_prefetch_blob(stow_repo *r, stow_prefetch *pf,
			     const uint8_t id[STOW_ID_LEN]);

/* Content ID of plaintext under this repository's keyed hash. */
int stow_vault_hash(stow_vault_ctx *c, const void *data, size_t len,
		    uint8_t id[STOW_ID_LEN]);

/* --- writing --------------------------------------------------------- */

/* A write session: packs being filled, asynchronous uploads, and the
 * index entries to publish. Thread-safe: any number of threads may add
 * blobs concurrently, each with its own stow_vault_ctx. */
typedef struct stow_writer stow_writer;
int stow_writer_new(stow_writer **out, stow_repo *r,
		    const stow_comp_spec *comp);
/* Store a blob unless the repository (or this session) already has it.
 * *id receives its content ID; *added is set to whether it was new. */
int stow_writer_add(stow_writer *w, stow_vault_ctx *c, int type,
		    const void *data, size_t len, uint8_t id[STOW_ID_LEN],
		    bool *added);
/* Same, with the ID already computed by the caller (saves a hash). */
int stow_writer_add_hashed(stow_writer *w, stow_vault_ctx *c, int type,
			   const uint8_t id[STOW_ID_LEN], const void *data,
			   size_t len, bool *added);
/* Upload every open pack, wait for uploads, write the index object.
 * After a successful flush every blob added so far is durable and
 * findable by new openers. */
int stow_writer_flush(stow_writer *w);
/* Free; if not flushed, abandons open packs (uploaded packs stay as
 * unreferenced objects for gc). */
void stow_writer_free(stow_writer *w);

typedef struct stow_writer_stats {
	uint64_t blobs_new, blobs_dup;
	uint64_t raw_new;    /* plaintext bytes of new blobs */
	uint64_t stored_new; /* bytes written into packs for them */
	uint64_t packs;
} stow_writer_stats;
void stow_writer_get_stats(stow_writer *w, stow_writer_stats *s);

/* --- sealed objects (config, index, snapshots) ------------------------ */

enum stow_sealed_kind {
	STOW_SEALED_CONFIG = 1,
	STOW_SEALED_INDEX = 2,
	STOW_SEALED_SNAPSHOT = 3,
	STOW_SEALED_LEASE = 4,
};
/* Encrypt `pt` under a fresh random salt and put it at `key`. */
int stow_sealed_put(stow_repo *r, int kind, const char *key, const void *pt,
		    size_t len);
/* Fetch and decrypt. STOW_ECORRUPT if it fails authentication (which
 * also covers an object moved to another name). out is reset first. */
int stow_sealed_get(stow_repo *r, int kind, const char *key, stow_buf *out);
/* Decrypt bytes already fetched (for check and the fuzzers). */
int stow_sealed_open(stow_repo *r, int kind, const char *key,
		     const uint8_t *data, size_t len, stow_buf *out);

/* --- key slots -------------------------------------------------------- */

typedef struct stow_key_slot_info {
	char id[17];
	int64_t created; /* unix seconds */
	stow_kdf_alg kdf;
	unsigned log_n, r, p;	/* scrypt: N = 2^log_n */
	uint32_t memory_kib;	/* Argon2id: m */
	unsigned passes, lanes; /* Argon2id: t and p */
} stow_key_slot_info;
typedef int (*stow_key_slot_cb)(void *ctx, const stow_key_slot_info *k);
/* Slots that do not parse (damaged, or a KDF this stowage does not
 * know) are skipped. */
int stow_repo_key_list(stow_repo *r, stow_key_slot_cb cb, void *ctx);
/* Add a slot for new_password; its ID into slot_id (17 bytes). kdf NULL
 * means stow_kdf_opts_default. STOW_EINVAL for KDF parameters out of
 * range. */
int stow_repo_key_add(stow_repo *r, const char *new_password,
		      const stow_kdf_opts *kdf, char slot_id[17]);
/* Remove a slot. Refuses the last slot (STOW_EINVAL). */
int stow_repo_key_remove(stow_repo *r, const char *slot_id);

/* --- index and packs, for check, stats and gc ------------------------ */

/* Replace every index object loaded at open by new ones that list only the
 * blobs of packs with keep[ordinal] != 0 (keep has stow_repo_pack_count
 * entries). Index objects written by others after open are untouched.
 * Order: new objects first, then the old ones are deleted, so a crash in
 * between leaves duplicates, never a gap. Refuses (STOW_ECORRUPT) when
 * some index objects failed to load: their blobs would be forgotten. */
int stow_repo_rewrite_index(stow_repo *r, const uint8_t *keep);
/* Load index objects written since open (by other processes). */
int stow_repo_refresh_index(stow_repo *r);
/* Like refresh, but if an index object loaded at open is gone (a gc
 * rewrote the index meanwhile), rebuild the in-memory index from storage
 * so nothing deduplicates against deleted packs. Call after taking a
 * writer lease, before writing. Not thread-safe against concurrent
 * readers of this handle. */
int stow_repo_revalidate_index(stow_repo *r);
/* Read the trailer of every pack that no loaded index object lists and
 * add its blobs to the in-memory index (nothing is written). Used when
 * index objects are damaged, so restores still find every blob; also the
 * first half of `vault index rebuild`. *added: packs recovered. */
int stow_repo_index_unindexed_packs(stow_repo *r, uint64_t *added);


typedef int (*stow_index_cb)(void *ctx, const uint8_t id[STOW_ID_LEN],
			     const stow_blob_loc *loc);
/* Every blob in the in-memory index (no fixed order). A negative return
 * from cb stops the walk and is returned. */
int stow_repo_index_foreach(stow_repo *r, stow_index_cb cb, void *ctx);
/* Index objects that failed to load at open (damaged or unreadable):
 * their storage keys. Borrowed; valid until close. */
void stow_repo_damaged_indexes(stow_repo *r, const char *const **keys,
			       size_t *n);
/* Storage keys of the index objects that loaded. Borrowed. */
void stow_repo_index_objects(stow_repo *r, const char *const **keys,
			     size_t *n);

/* One blob as listed in a pack's trailer. */
typedef struct stow_pack_entry {
	uint8_t id[STOW_ID_LEN];
	uint8_t type, comp;
	uint32_t offset, stored_len, raw_len;
} stow_pack_entry;

/* Verify a whole pack held in memory (header names `pack_id`, footer and
 * trailer authenticate) and return its trailer entries (caller frees
 * *entries). STOW_ECORRUPT with a message otherwise. */
int stow_pack_read_trailer(stow_vault_ctx *c, const uint8_t pack_id[32],
			   const uint8_t *data, size_t len,
			   stow_pack_entry **entries, size_t *n);
/* The pack entry of a blob from its ID and index location. */
static inline void stow_pack_entry_set(stow_pack_entry *e,
				       const uint8_t id[STOW_ID_LEN],
				       const stow_blob_loc *loc)
{
	memcpy(e->id, id, STOW_ID_LEN);
	e->type = loc->type;
	e->comp = loc->comp;
	e->offset = loc->offset;
	e->stored_len = loc->stored_len;
	e->raw_len = loc->raw_len;
}

/* Authenticate, decompress and re-hash one blob whose ciphertext (of
 * e->stored_len bytes) is at ct. out is reset and gets the plaintext. */
int stow_pack_open_blob(stow_vault_ctx *c, const uint8_t pack_id[32],
			const stow_pack_entry *e, const uint8_t *ct,
			stow_buf *out);

#endif
