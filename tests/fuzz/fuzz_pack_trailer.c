/* Fuzz target: pack reading (FORMAT.md §5) - stow_pack_read_trailer and
 * stow_pack_open_blob on every blob it lists - under fixed repository
 * keys (gen/fixed_repo.h).
 *
 * The first input byte picks how the rest becomes a pack, so the fuzzer
 * reaches the code behind each authentication step:
 *   0  raw pack bytes, named by the pack ID in their own header: the
 *      checks before authentication (lengths, magic, footer).
 *   1  u8 kind | le16 L | L bytes of blob area | trailer plaintext: the
 *      harness adds header, sealed trailer and footer, so the trailer
 *      parser sees authenticated but hostile entries (a writer bug or a
 *      leaked key).
 *   2  records { u8 type | u8 comp | le32 raw_len | le16 n | n bytes }:
 *      the harness seals each payload as a blob and writes a correct
 *      trailer, so decompression and the content check see authenticated
 *      hostile payloads; such a pack must always pass read_trailer, and
 *      an uncompressed blob of the right length must open.
 * Whatever the mode, an accepted trailer's entries must lie back to back
 * inside the pack, and a blob that opens must have its raw length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/fixed_repo.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RAW (1u << 22) /* harness cap on claimed raw lengths (mode 2) */

static stow_repo *repo;
static stow_vault_ctx *ctx;
static stow_aead *sealer;
static stow_hasher *hasher;
static const uint8_t fixed_pack_id[32] = {
	0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
	0xfb, 0xfc, 0xfd, 0xfe, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
	0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

static int setup(void)
{
	uint8_t key[STOW_KEY_LEN];

	if (repo)
		return 0;
	repo = fixed_repo_new(NULL);
	if (!repo || stow_vault_ctx_new(&ctx, repo) < 0 ||
	    stow_aead_new(&sealer, repo->aead) < 0 ||
	    stow_hasher_new(&hasher, repo->hash, repo->hash_key) < 0)
		return -1;
	stow_pack_derive_key(repo, fixed_pack_id, key);
	return stow_aead_setkey(sealer, key);
}

static int put_header(stow_buf *p, uint8_t kind)
{
	uint8_t h[STOW_PACK_HEADER_LEN] = "STOWPACK";

	stow_put_le32(h + 8, STOW_FORMAT_VERSION);
	h[12] = kind;
	h[13] = (uint8_t)repo->aead;
	memcpy(h + 16, fixed_pack_id, 32);
	return stow_buf_append(p, h, sizeof(h));
}

/* Seal `pt` as the trailer of the pack in p (header already there) and
 * append the footer. */
static int put_trailer(stow_buf *p, const uint8_t *pt, size_t n)
{
	uint8_t nonce[STOW_NONCE_LEN], aad[18 + STOW_PACK_HEADER_LEN];

	memset(nonce, 0xff, sizeof(nonce));
	memcpy(aad, "stowage trailer v1", 18);
	memcpy(aad + 18, p->data, STOW_PACK_HEADER_LEN);
	STOW_TRY(stow_buf_reserve(p, n + STOW_TAG_LEN));
	STOW_TRY(stow_aead_seal(sealer, nonce, aad, sizeof(aad), pt, n,
				p->data + p->len));
	p->len += n + STOW_TAG_LEN;
	STOW_TRY(stow_buf_append_le32(p, (uint32_t)(n + STOW_TAG_LEN)));
	return stow_buf_append(p, "STOWPEND", 8);
}

static int build_mode1(const uint8_t *d, size_t n, stow_buf *p)
{
	size_t blen;

	if (n < 3)
		return -1;
	blen = d[1] | (size_t)d[2] << 8;
	if (blen > n - 3)
		blen = n - 3;
	STOW_TRY(put_header(p, d[0]));
	STOW_TRY(stow_buf_append(p, d + 3, blen));
	return put_trailer(p, d + 3 + blen, n - 3 - blen);
}

typedef struct built {
	size_t nblobs;
	bool must_open[64];
} built;

static int build_mode2(const uint8_t *d, size_t n, stow_buf *p, built *b)
{
	stow_buf t;
	size_t i = 0;
	int rc = 0;

	stow_buf_init(&t, 0);
	memset(b, 0, sizeof(*b));
	STOW_TRY(put_header(p, PACK_KIND_DATA));
	while (rc == 0 && b->nblobs < 64 && n - i >= 8) {
		stow_pack_entry e;
		uint8_t nonce[STOW_NONCE_LEN], aad[38];
		size_t plen = d[i + 6] | (size_t)d[i + 7] << 8;
		const uint8_t *payload = d + i + 8;

		/* A data pack holds data blobs only (FORMAT.md §5); the
		 * reader rejects anything else, which mode 0 covers. */
		e.type = STOW_BLOB_DATA;
		e.comp = d[i + 1] & 3;
		e.raw_len = stow_get_le32(d + i + 2) % (MAX_RAW + 1);
		if (plen > n - i - 8)
			plen = n - i - 8;
		i += 8 + plen;
		/* The ID of the payload itself: right whenever it is stored
		 * raw, so the success path is reachable too. */
		rc = stow_hasher_digest(hasher, payload, plen, e.id);
		e.offset = (uint32_t)p->len;
		e.stored_len = (uint32_t)(plen + STOW_TAG_LEN);
		if (rc == 0)
			rc = stow_buf_reserve(p, e.stored_len);
		if (rc == 0) {
			stow_pack_nonce(nonce, e.offset);
			stow_pack_blob_aad(aad, &e);
			rc = stow_aead_seal(sealer, nonce, aad, sizeof(aad),
					    payload, plen, p->data + p->len);
		}
		if (rc < 0)
			break;
		p->len += e.stored_len;
		b->must_open[b->nblobs] = e.comp == STOW_COMP_NONE &&
					  e.raw_len == plen;
		/* Trailer entry, as writer.c's pack_finish lays it out. */
		rc = stow_buf_append(&t, e.id, STOW_ID_LEN);
		if (rc == 0)
			rc = stow_buf_append_u8(&t, e.type);
		if (rc == 0)
			rc = stow_buf_append_u8(&t, e.comp);
		if (rc == 0)
			rc = stow_buf_append_varint(&t, e.offset);
		if (rc == 0)
			rc = stow_buf_append_varint(&t, e.stored_len);
		if (rc == 0)
			rc = stow_buf_append_varint(&t, e.raw_len);
		b->nblobs++;
	}
	if (rc == 0) {
		stow_buf tt;

		stow_buf_init(&tt, 0);
		rc = stow_buf_append_varint(&tt, b->nblobs);
		if (rc == 0)
			rc = stow_buf_append(&tt, t.data, t.len);
		if (rc == 0)
			rc = put_trailer(p, tt.data, tt.len);
		stow_buf_free(&tt);
	}
	stow_buf_free(&t);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stow_buf pack, out;
	const uint8_t *p, *pid;
	stow_pack_entry *e = NULL;
	size_t len, n = 0;
	built b = {0};
	int mode, rc;

	if (size < 1 || setup() < 0)
		return 0;
	mode = data[0] % 3;
	stow_buf_init(&pack, 0);
	stow_buf_init(&out, 0);
	if (mode == 0) {
		/* An exact-size copy, so a read past the end is caught. */
		len = size - 1;
		pack.data = malloc(len ? len : 1);
		if (!pack.data)
			goto out;
		memcpy(pack.data, data + 1, len);
		pack.len = len;
		pid = len >= STOW_PACK_HEADER_LEN ? pack.data + 16
						  : fixed_pack_id;
	} else {
		rc = mode == 1 ? build_mode1(data + 1, size - 1, &pack)
			       : build_mode2(data + 1, size - 1, &pack, &b);
		if (rc < 0)
			goto out;
		pid = fixed_pack_id;
	}
	p = pack.data;
	len = pack.len;

	rc = stow_pack_read_trailer(ctx, pid, p, len, &e, &n);
	if (mode == 2 && (rc != 0 || n != b.nblobs))
		__builtin_trap();
	if (rc == 0) {
		uint64_t pos = STOW_PACK_HEADER_LEN;

		for (size_t i = 0; i < n; i++) {
			if (e[i].offset != pos || e[i].stored_len < 16 ||
			    (uint64_t)e[i].offset + e[i].stored_len > len)
				__builtin_trap();
			pos += e[i].stored_len;
			rc = stow_pack_open_blob(ctx, pid, &e[i],
						 p + e[i].offset, &out);
			if (rc == 0 && out.len != e[i].raw_len)
				__builtin_trap();
			if (mode == 2 && b.must_open[i] && rc != 0)
				__builtin_trap();
		}
		if (pos + STOW_TAG_LEN + STOW_PACK_FOOTER_LEN > len)
			__builtin_trap();
	}
out:
	free(e);
	stow_buf_free(&pack);
	stow_buf_free(&out);
	stow_err_clear();
	return 0;
}
