/* Pack reading: per-thread contexts, pack keys, blob authentication and
 * the trailer. The writing side is writer.c. Layout: docs/FORMAT.md §Packs.
 *
 *   header  "STOWPACK" | le32 version | u8 kind | u8 aead | u16 0 | id[32]
 *   blobs   AEAD(payload) + tag, nonce = le64(offset) || 0^4,
 *           AAD = id[32] | u8 type | u8 comp | le32 raw_len
 *   trailer AEAD(entry list) + tag, nonce = ff^12,
 *           AAD = "stowage trailer v1" || header
 *   footer  le32 trailer length | "STOWPEND"
 *
 * The pack key is HKDF(enc_root, salt = pack id, "stowage pack v1"). A
 * pack ID is 32 random bytes chosen by the one writer of that pack, so
 * keys are never shared between packs, and within a pack every blob's
 * offset is distinct and below 2^32: no (key, nonce) pair ever repeats,
 * whatever crashes or restarts happen (a restarted writer starts a new
 * pack with a new random ID). */
#include "vault/repo_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "vault/packcache.h"

#define PACK_MAGIC "STOWPACK"
#define PACK_END_MAGIC "STOWPEND"
#define TRAILER_AAD "stowage trailer v1"
/* On remote storage, chunks up to this size are read with their whole
 * pack (they are the small files of a restore, stored side by side). */
#define SMALL_REMOTE_BLOB (256u << 10)

int stow_vault_ctx_new(stow_vault_ctx **out, stow_repo *r)
{
	stow_vault_ctx *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	c->r = r;
	stow_buf_init(&c->ct, (size_t)STOW_BLOB_MAX + 64);
	stow_buf_init(&c->plain, (size_t)STOW_BLOB_MAX + 64);
	stow_buf_init(&c->zbuf, (size_t)STOW_BLOB_MAX + 64);
	rc = stow_hasher_new(&c->hasher, r->hash, r->hash_key);
	if (rc == 0)
		rc = stow_aead_new(&c->aead, r->aead);
	if (rc < 0) {
		stow_vault_ctx_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void stow_vault_ctx_free(stow_vault_ctx *c)
{
	if (!c)
		return;
	stow_hasher_free(c->hasher);
	stow_aead_free(c->aead);
	stow_buf_free(&c->ct);
	stow_buf_free(&c->plain);
	stow_buf_free(&c->zbuf);
	stow_compressor_free(c->comp);
	free(c);
}

int stow_vault_hash(stow_vault_ctx *c, const void *data, size_t len,
		    uint8_t id[STOW_ID_LEN])
{
	return stow_hasher_digest(c->hasher, data, len, id);
}

void stow_pack_derive_key(stow_repo *r, const uint8_t pack_id[32],
			  uint8_t key[STOW_KEY_LEN])
{
	/* HKDF over fixed-size inputs cannot fail short of OpenSSL being
	 * broken; a failure leaves a zero key that authenticates nothing. */
	if (stow_hkdf_sha256(key, STOW_KEY_LEN, r->enc_root, 32, pack_id, 32,
			     "stowage pack v1") < 0)
		memset(key, 0, STOW_KEY_LEN);
}

void stow_pack_nonce(uint8_t nonce[STOW_NONCE_LEN], uint64_t offset)
{
	stow_put_le64(nonce, offset);
	memset(nonce + 8, 0, 4);
}

void stow_pack_blob_aad(uint8_t aad[38], const stow_pack_entry *e)
{
	memcpy(aad, e->id, STOW_ID_LEN);
	aad[32] = e->type;
	aad[33] = e->comp;
	stow_put_le32(aad + 34, e->raw_len);
}

static int ctx_key_pack(stow_vault_ctx *c, const uint8_t pack_id[32])
{
	uint8_t key[STOW_KEY_LEN];
	int rc;

	if (c->aead_keyed && memcmp(c->aead_pack, pack_id, 32) == 0)
		return 0;
	stow_pack_derive_key(c->r, pack_id, key);
	rc = stow_aead_setkey(c->aead, key);
	stow_secure_zero(key, sizeof(key));
	if (rc < 0)
		return rc;
	memcpy(c->aead_pack, pack_id, 32);
	c->aead_keyed = true;
	return 0;
}

int stow_pack_open_blob(stow_vault_ctx *c, const uint8_t pack_id[32],
			const stow_pack_entry *e, const uint8_t *ct,
			stow_buf *out)
{
	uint8_t nonce[STOW_NONCE_LEN], aad[38], id[STOW_ID_LEN];
	size_t ptlen;
	char idhex[17];
	int rc;

	stow_hex(idhex, e->id, 8);
	if (e->stored_len < STOW_TAG_LEN || e->raw_len > STOW_BLOB_MAX ||
	    e->comp > STOW_COMP_GZIP)
		return stow_err_set(STOW_ECORRUPT, "blob %s: bad entry", idhex);
	ptlen = e->stored_len - STOW_TAG_LEN;
	STOW_TRY(ctx_key_pack(c, pack_id));
	stow_pack_nonce(nonce, e->offset);
	stow_pack_blob_aad(aad, e);
	stow_buf_reset(&c->plain);
	STOW_TRY(stow_buf_reserve(&c->plain, ptlen));
	rc = stow_aead_open(c->aead, nonce, aad, sizeof(aad), ct, e->stored_len,
			    c->plain.data);
	if (rc == STOW_ECORRUPT)
		return stow_err_set(STOW_ECORRUPT,
				    "blob %s: authentication failed", idhex);
	if (rc < 0)
		return rc;
	stow_buf_reset(out);
	if (e->comp == STOW_COMP_NONE) {
		if (ptlen != e->raw_len)
			return stow_err_set(STOW_ECORRUPT,
					    "blob %s: length mismatch", idhex);
		STOW_TRY(stow_buf_append(out, c->plain.data, ptlen));
	} else {
		STOW_TRY(stow_buf_reserve(out, e->raw_len));
		rc = stow_decompress((stow_comp_alg)e->comp, c->plain.data,
				     ptlen, out->data, e->raw_len);
		if (rc < 0)
			return stow_err_wrap(rc, "blob %s", idhex);
		out->len = e->raw_len;
	}
	/* Authenticated already, but the hash also proves the index maps
	 * this ID to these bytes (and catches writer bugs). */
	STOW_TRY(stow_hasher_digest(c->hasher, out->data, out->len, id));
	if (!stow_ct_equal(id, e->id, STOW_ID_LEN))
		return stow_err_set(STOW_ECORRUPT,
				    "blob %s: content does not match its ID",
				    idhex);
	return 0;
}

int stow_repo_read_blob(stow_vault_ctx *c, const uint8_t id[STOW_ID_LEN],
			stow_buf *out)
{
	stow_repo *r = c->r;
	stow_blob_loc loc;
	stow_pack_entry e;
	const uint8_t *pid;
	char key[160], idhex[65];
	int kind, rc;

	stow_hex(idhex, id, STOW_ID_LEN);
	rc = stow_index_lookup(r->index, id, &loc);
	if (rc < 0)
		return stow_err_set(STOW_ENOTFOUND,
				    "blob %s is not in the index", idhex);
	pid = stow_repo_pack_id(r, loc.pack, &kind);
	if (!pid)
		return stow_err_set(STOW_ECORRUPT, "blob %s: bad pack", idhex);
	stow_pack_key(key, sizeof(key), kind, pid);
	stow_buf_reset(&c->ct);
	/* Trees, and small chunks on remote storage, come through the pack
	 * cache: one request per pack rather than per blob. A pack that
	 * cannot be cached (too big) falls back to a ranged read. */
	rc = -1;
	if (r->packcache &&
	    (kind == PACK_KIND_META ||
	     (r->remote && loc.stored_len <= SMALL_REMOTE_BLOB)))
		rc = stow_packcache_read(r->packcache, r->st, loc.pack, key,
					 loc.offset, loc.stored_len, &c->ct);
	if (rc < 0) {
		stow_buf_reset(&c->ct);
		rc = stow_store_get(r->st, key, loc.offset, loc.stored_len,
				    &c->ct);
	}
	if (rc < 0)
		return stow_err_wrap(rc, "reading blob %.16s from pack %s",
				     idhex, key);
	if (c->ct.len != loc.stored_len)
		return stow_err_set(
		    STOW_ECORRUPT,
		    "pack %s is truncated (blob %.16s at offset "
		    "%u needs %u bytes, got %zu)",
		    key, idhex, loc.offset, loc.stored_len, c->ct.len);
	stow_pack_entry_set(&e, id, &loc);
	rc = stow_pack_open_blob(c, pid, &e, c->ct.data, out);
	if (rc < 0)
		return stow_err_wrap(rc, "pack %s", key);
	return 0;
}

#define PREFETCH_SPAN ((uint64_t)4 << 20)

void stow_repo_prefetch_blob(stow_repo *r, stow_prefetch *pf,
			     const uint8_t id[STOW_ID_LEN])
{
	stow_blob_loc loc;
	const uint8_t *pid;
	char key[160];
	int kind;

	if (!r->st->ops->prefetch || stow_index_lookup(r->index, id, &loc) < 0)
		return;
	if (pf->end && pf->pack == loc.pack &&
	    loc.offset >= pf->end - PREFETCH_SPAN &&
	    (uint64_t)loc.offset + loc.stored_len <= pf->end)
		return;
	pid = stow_repo_pack_id(r, loc.pack, &kind);
	if (!pid)
		return;
	stow_pack_key(key, sizeof(key), kind, pid);
	stow_store_prefetch(r->st, key, loc.offset, PREFETCH_SPAN);
	pf->pack = loc.pack;
	pf->end = (uint64_t)loc.offset + PREFETCH_SPAN;
}

int stow_pack_read_trailer(stow_vault_ctx *c, const uint8_t pack_id[32],
			   const uint8_t *data, size_t len,
			   stow_pack_entry **entries, size_t *n)
{
	uint8_t nonce[STOW_NONCE_LEN], aad[sizeof(TRAILER_AAD) - 1 + 48];
	_cleanup_(stow_buf_freep) stow_buf pt = {0};
	stow_pack_entry *v = NULL;
	uint32_t tlen;
	uint64_t count, prev_end = STOW_PACK_HEADER_LEN;
	size_t tstart;
	stow_rd r;
	int rc;

	*entries = NULL;
	*n = 0;
	if (len < STOW_PACK_HEADER_LEN + STOW_PACK_FOOTER_LEN + STOW_TAG_LEN)
		return stow_err_set(STOW_ECORRUPT, "pack too short (%zu bytes)",
				    len);
	if (memcmp(data, PACK_MAGIC, 8) != 0)
		return stow_err_set(STOW_ECORRUPT, "pack: bad magic");
	if (stow_get_le32(data + 8) != STOW_FORMAT_VERSION)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "pack format version %u is not supported",
				    stow_get_le32(data + 8));
	if (data[12] > PACK_KIND_META || data[13] != c->r->aead ||
	    memcmp(data + 16, pack_id, 32) != 0)
		return stow_err_set(STOW_ECORRUPT,
				    "pack: header does not match its name");
	if (memcmp(data + len - 8, PACK_END_MAGIC, 8) != 0)
		return stow_err_set(STOW_ECORRUPT,
				    "pack: bad footer (truncated?)");
	tlen = stow_get_le32(data + len - 12);
	if (tlen < STOW_TAG_LEN ||
	    tlen > len - STOW_PACK_HEADER_LEN - STOW_PACK_FOOTER_LEN)
		return stow_err_set(STOW_ECORRUPT, "pack: bad trailer length");
	tstart = len - STOW_PACK_FOOTER_LEN - tlen;
	STOW_TRY(ctx_key_pack(c, pack_id));
	memset(nonce, 0xff, sizeof(nonce));
	memcpy(aad, TRAILER_AAD, sizeof(TRAILER_AAD) - 1);
	memcpy(aad + sizeof(TRAILER_AAD) - 1, data, 48);
	stow_buf_init(&pt, len);
	STOW_TRY(stow_buf_reserve(&pt, tlen));
	rc = stow_aead_open(c->aead, nonce, aad, sizeof(aad), data + tstart,
			    tlen, pt.data);
	if (rc == STOW_ECORRUPT)
		return stow_err_set(STOW_ECORRUPT,
				    "pack: trailer authentication failed");
	if (rc < 0)
		return rc;
	pt.len = tlen - STOW_TAG_LEN;
	stow_rd_init(&r, pt.data, pt.len, "pack trailer");
	STOW_TRY(stow_rd_varint(&r, &count));
	if (count > stow_rd_left(&r) / 37)
		return stow_err_set(STOW_ECORRUPT, "pack trailer: bad count");
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < count; i++) {
		stow_pack_entry *e = &v[i];
		uint64_t off, sl, rl;

		rc = stow_rd_copy(&r, e->id, STOW_ID_LEN);
		if (rc == 0)
			rc = stow_rd_u8(&r, &e->type);
		if (rc == 0)
			rc = stow_rd_u8(&r, &e->comp);
		if (rc == 0)
			rc = stow_rd_varint(&r, &off);
		if (rc == 0)
			rc = stow_rd_varint(&r, &sl);
		if (rc == 0)
			rc = stow_rd_varint(&r, &rl);
		/* Blobs are laid out back to back in trailer order. */
		if (rc == 0 &&
		    (off != prev_end || sl < STOW_TAG_LEN || sl > tstart ||
		     off > tstart - sl || rl > STOW_BLOB_MAX ||
		     e->type > STOW_BLOB_TREE ||
		     (e->type == STOW_BLOB_TREE) !=
			 (data[12] == PACK_KIND_META) ||
		     e->comp > STOW_COMP_GZIP))
			rc = stow_err_set(STOW_ECORRUPT,
					  "pack trailer: entry %llu invalid",
					  (unsigned long long)i);
		if (rc < 0) {
			free(v);
			return rc;
		}
		e->offset = (uint32_t)off;
		e->stored_len = (uint32_t)sl;
		e->raw_len = (uint32_t)rl;
		prev_end = off + sl;
	}
	if (stow_rd_left(&r) || prev_end != tstart) {
		free(v);
		return stow_err_set(STOW_ECORRUPT,
				    "pack trailer does not cover the pack");
	}
	*entries = v;
	*n = (size_t)count;
	return 0;
}
