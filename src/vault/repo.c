/* Repository core: creation, opening (key slots, config, index load),
 * sealed objects, the pack table and per-thread contexts.
 * Format: docs/FORMAT.md. */
#include "vault/repo_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "vault/packcache.h"
#include "vault/keylist.h"

#define SLOT_MAGIC "STOWKEYS"
#define SEAL_MAGIC "STOWSEAL"
#define SLOT_VERSION 1
#define SLOT_KDF_SCRYPT 1
#define SLOT_KDF_ARGON2ID 2
#define SLOT_HEADER_LEN 68
#define SLOT_PT_LEN (STOW_MASTER_LEN + 32)
#define SLOT_LEN (SLOT_HEADER_LEN + SLOT_PT_LEN + STOW_TAG_LEN)
#define CONFIG_VERSION 1
#define PACK_BLOCK 4096u

void stow_repo_init_opts_default(stow_repo_init_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->hash = STOW_HASH_HMAC_SHA256;
	o->aead = STOW_AEAD_AES256GCM;
	stow_comp_spec_parse("auto", &o->comp);
	stow_chunker_params_default(&o->chunk);
	stow_kdf_opts_default(&o->kdf);
	o->data_pack_size = 8u << 20;
	o->meta_pack_size = 4u << 20;
}

/* Subkeys from the master secret; each has its own HKDF label so no two
 * uses share a key. */
static int derive_keys(stow_repo *r)
{
	STOW_TRY(stow_hkdf_sha256(r->hash_key, 32, r->master, STOW_MASTER_LEN,
				  r->id, 32, "stowage content-id v1"));
	STOW_TRY(stow_hkdf_sha256(r->enc_root, 32, r->master, STOW_MASTER_LEN,
				  r->id, 32, "stowage encryption v1"));
	STOW_TRY(stow_hkdf_sha256(r->chunk_seed, 32, r->master,
				  STOW_MASTER_LEN, r->id, 32,
				  "stowage chunker seed v1"));
	return 0;
}

/* --- key slots -------------------------------------------------------- */

/* Argon2id m = 16 MiB, t = 6, one lane: at least restic's scrypt
 * strength (N = 2^15, r = 8, p = 7) at half its memory, since every
 * command that opens the repository pays the KDF's memory in its peak
 * RSS. The OWASP equivalence behind the numbers is in FORMAT.md §2.1. */
void stow_kdf_opts_default(stow_kdf_opts *k)
{
	memset(k, 0, sizeof(*k));
	k->alg = STOW_KDF_ARGON2ID;
	k->log_n = STOW_KDF_LOG_N_DEFAULT;
	k->memory_mib = STOW_KDF_MEMORY_MIB_DEFAULT;
	k->passes = STOW_KDF_PASSES_DEFAULT;
}

const char *stow_kdf_alg_name(stow_kdf_alg a)
{
	switch (a) {
	case STOW_KDF_SCRYPT: return "scrypt";
	case STOW_KDF_ARGON2ID: return "argon2id";
	}
	return "unknown";
}

int stow_kdf_alg_parse(const char *name, stow_kdf_alg *out)
{
	if (!name || !out)
		return stow_err_set(STOW_EINVAL, "KDF: NULL argument");
	if (strcmp(name, "argon2id") == 0)
		*out = STOW_KDF_ARGON2ID;
	else if (strcmp(name, "scrypt") == 0)
		*out = STOW_KDF_SCRYPT;
	else
		return stow_err_set(STOW_EINVAL,
				    "unknown KDF \"%s\" (known: argon2id, "
				    "scrypt)",
				    name);
	return 0;
}

/* Ranges a reader accepts in a slot header, and so the most a writer
 * may ask for. Argon2id's are exactly stow_argon2id's caps: a hostile
 * slot costs at most 1 GiB and 32 passes (31 s on a 2-core VM); scrypt's
 * widest (N = 2^24, r = 32) is refused by stow_scrypt's 16 GiB cap
 * instead. */
#define SCRYPT_LOG_N_MIN 10
#define SCRYPT_LOG_N_MAX 24
#define ARGON2_LOG_KIB_MIN 10 /* 1 MiB */
#define ARGON2_LOG_KIB_MAX 20 /* 1 GiB = STOW_ARGON2_MAX_KIB */

/* The header bytes 12..15 for a new slot; STOW_EINVAL out of range. */
static int kdf_header(const stow_kdf_opts *k, uint8_t hdr[4])
{
	unsigned log_kib;

	switch (k->alg) {
	case STOW_KDF_SCRYPT:
		if (k->log_n < SCRYPT_LOG_N_MIN || k->log_n > SCRYPT_LOG_N_MAX)
			return stow_err_set(STOW_EINVAL,
					    "scrypt work factor log2(N)=%u "
					    "out of 10..24",
					    k->log_n);
		hdr[0] = SLOT_KDF_SCRYPT;
		hdr[1] = (uint8_t)k->log_n;
		hdr[2] = 8;
		hdr[3] = 1;
		return 0;
	case STOW_KDF_ARGON2ID:
		if (k->memory_mib == 0 ||
		    (k->memory_mib & (k->memory_mib - 1)) ||
		    k->memory_mib > (1u << (ARGON2_LOG_KIB_MAX - 10)))
			return stow_err_set(STOW_EINVAL,
					    "Argon2id memory %u MiB is not a "
					    "power of two in 1..1024",
					    k->memory_mib);
		if (k->passes < 1 || k->passes > STOW_ARGON2_MAX_PASSES)
			return stow_err_set(STOW_EINVAL,
					    "Argon2id passes %u out of 1..%d",
					    k->passes, STOW_ARGON2_MAX_PASSES);
		log_kib = 10 + (unsigned)__builtin_ctz(k->memory_mib);
		hdr[0] = SLOT_KDF_ARGON2ID;
		hdr[1] = (uint8_t)log_kib;
		hdr[2] = (uint8_t)k->passes;
		hdr[3] = 1;
		return 0;
	}
	return stow_err_set(STOW_EINVAL, "unknown KDF %d", (int)k->alg);
}

/* The key-encryption key of a slot whose header parsed into info. */
static int slot_kek(uint8_t kek[32], const char *password, const uint8_t *b,
		    const stow_key_slot_info *info)
{
	if (info->kdf == STOW_KDF_ARGON2ID)
		return stow_argon2id(kek, 32, password, strlen(password),
				     b + 24, 32, info->passes, info->memory_kib,
				     info->lanes);
	return stow_scrypt(kek, 32, password, strlen(password), b + 24, 32,
			   (uint64_t)1 << info->log_n, info->r, info->p);
}

static int slot_parse_header(const uint8_t *b, size_t len,
			     stow_key_slot_info *info);

/* Slot layout (68-byte header, then AES-256-GCM of master||repo id):
 * magic[8] "STOWKEYS" | le32 version | u8 kdf | u8 x3 KDF parameters |
 * le64 created | salt[32] | nonce[12]. The parameters are log2(N), r, p
 * for scrypt (kdf 1) and log2(m in KiB), t, lanes for Argon2id (kdf 2).
 * AAD: header || object key. */
static int slot_write(stow_repo *r, const char *password,
		      const stow_kdf_opts *k, char slot_id[17])
{
	uint8_t blob[SLOT_LEN], kek[32], pt[SLOT_PT_LEN], sid[8];
	stow_key_slot_info info;
	char key[64];
	stow_aead *a = NULL;
	int rc;

	memcpy(blob, SLOT_MAGIC, 8);
	stow_put_le32(blob + 8, SLOT_VERSION);
	STOW_TRY(kdf_header(k, blob + 12));
	stow_put_le64(blob + 16, (uint64_t)time(NULL));
	STOW_TRY(stow_random(blob + 24, 32 + 12));
	STOW_TRY(stow_random(sid, sizeof(sid)));
	stow_hex(slot_id, sid, sizeof(sid));
	snprintf(key, sizeof(key), "keys/%s", slot_id);

	/* Derive through the reader's own parse, so a writer cannot write
	 * a slot its reader would refuse. */
	memset(blob + SLOT_HEADER_LEN, 0, SLOT_LEN - SLOT_HEADER_LEN);
	STOW_TRY(slot_parse_header(blob, SLOT_LEN, &info));
	rc = slot_kek(kek, password, blob, &info);
	if (rc < 0)
		return rc;
	memcpy(pt, r->master, STOW_MASTER_LEN);
	memcpy(pt + STOW_MASTER_LEN, r->id, 32);
	{
		uint8_t aad[SLOT_HEADER_LEN + 64];
		size_t klen = strlen(key);

		memcpy(aad, blob, SLOT_HEADER_LEN);
		memcpy(aad + SLOT_HEADER_LEN, key, klen);
		rc = stow_aead_new(&a, STOW_AEAD_AES256GCM);
		if (rc == 0)
			rc = stow_aead_setkey(a, kek);
		if (rc == 0)
			rc = stow_aead_seal(a, blob + 56, aad,
					    SLOT_HEADER_LEN + klen, pt,
					    SLOT_PT_LEN,
					    blob + SLOT_HEADER_LEN);
	}
	stow_aead_free(a);
	stow_secure_zero(kek, sizeof(kek));
	stow_secure_zero(pt, sizeof(pt));
	if (rc < 0)
		return rc;
	return stow_store_put(r->st, key, blob, sizeof(blob), STOW_PUT_EXCL);
}

static int slot_parse_header(const uint8_t *b, size_t len,
			     stow_key_slot_info *info)
{
	if (len != SLOT_LEN || memcmp(b, SLOT_MAGIC, 8) != 0)
		return stow_err_set(STOW_ECORRUPT, "not a key slot");
	if (stow_get_le32(b + 8) != SLOT_VERSION)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "key slot version %u is not supported",
				    stow_get_le32(b + 8));
	memset(info, 0, sizeof(*info));
	switch (b[12]) {
	case SLOT_KDF_SCRYPT:
		if (b[13] < SCRYPT_LOG_N_MIN || b[13] > SCRYPT_LOG_N_MAX ||
		    b[14] == 0 || b[14] > 32 || b[15] == 0 || b[15] > 16)
			return stow_err_set(STOW_ECORRUPT,
					    "key slot: bad scrypt parameters "
					    "log2(N)=%u r=%u p=%u",
					    b[13], b[14], b[15]);
		info->kdf = STOW_KDF_SCRYPT;
		info->log_n = b[13];
		info->r = b[14];
		info->p = b[15];
		break;
	case SLOT_KDF_ARGON2ID:
		if (b[13] < ARGON2_LOG_KIB_MIN || b[13] > ARGON2_LOG_KIB_MAX ||
		    b[14] == 0 || b[14] > STOW_ARGON2_MAX_PASSES ||
		    b[15] == 0 || b[15] > STOW_ARGON2_MAX_LANES)
			return stow_err_set(STOW_ECORRUPT,
					    "key slot: bad Argon2id parameters "
					    "log2(m/KiB)=%u t=%u p=%u",
					    b[13], b[14], b[15]);
		info->kdf = STOW_KDF_ARGON2ID;
		info->memory_kib = (uint32_t)1 << b[13];
		info->passes = b[14];
		info->lanes = b[15];
		break;
	default:
		/* A newer stowage's KDF, not damage: say so. */
		return stow_err_set(STOW_EUNSUPPORTED,
				    "key slot KDF id %u is not supported by "
				    "this stowage (it knows 1 scrypt, 2 "
				    "Argon2id)",
				    b[12]);
	}
	info->created = (int64_t)stow_get_le64(b + 16);
	return 0;
}

/* Try to unwrap the master secret from one slot. STOW_EAUTH if the
 * password does not open it. */
static int slot_try(stow_repo *r, const char *key, const uint8_t *b,
		    size_t len, const char *password)
{
	stow_key_slot_info info;
	uint8_t kek[32], pt[SLOT_PT_LEN], aad[SLOT_HEADER_LEN + 64];
	size_t klen = strlen(key);
	stow_aead *a = NULL;
	int rc;

	STOW_TRY(slot_parse_header(b, len, &info));
	if (klen > 64)
		return stow_err_set(STOW_ECORRUPT, "key slot name too long");
	rc = slot_kek(kek, password, b, &info);
	if (rc < 0)
		return rc;
	memcpy(aad, b, SLOT_HEADER_LEN);
	memcpy(aad + SLOT_HEADER_LEN, key, klen);
	rc = stow_aead_new(&a, STOW_AEAD_AES256GCM);
	if (rc == 0)
		rc = stow_aead_setkey(a, kek);
	if (rc == 0)
		rc = stow_aead_open(a, b + 56, aad, SLOT_HEADER_LEN + klen,
				    b + SLOT_HEADER_LEN,
				    SLOT_PT_LEN + STOW_TAG_LEN, pt);
	stow_aead_free(a);
	stow_secure_zero(kek, sizeof(kek));
	if (rc == STOW_ECORRUPT)
		return STOW_EAUTH;
	if (rc < 0)
		return rc;
	memcpy(r->master, pt, STOW_MASTER_LEN);
	memcpy(r->id, pt + STOW_MASTER_LEN, 32);
	stow_secure_zero(pt, sizeof(pt));
	stow_hex(r->id_hex, r->id, 32);
	return 0;
}

static int unlock_master(stow_repo *r, const char *password)
{
	stow_keylist l = {0};
	int rc, last = STOW_EAUTH;
	size_t damaged = 0, unknown = 0, nslots;
	char why_unknown[256] = "";

	STOW_TRY(stow_keylist_list_sorted(r->st, "keys/", &l));
	if (l.n == 0) {
		uint64_t sz;

		rc = stow_store_stat(r->st, "config", &sz);
		stow_keylist_free(&l);
		if (rc == STOW_ENOTFOUND)
			return stow_err_set(STOW_ENOTFOUND,
					    "no repository at %s",
					    r->st->location);
		return stow_err_set(STOW_ECORRUPT,
				    "repository at %s has no key slots",
				    r->st->location);
	}
	for (size_t i = 0; i < l.n; i++) {
		stow_buf b;
		int grc;

		stow_buf_init(&b, 4096);
		grc = stow_store_get(r->st, l.keys[i], 0, SLOT_LEN + 1, &b);
		rc = grc == 0 ? slot_try(r, l.keys[i], b.data, b.len, password)
			      : grc;
		stow_buf_free(&b);
		if (rc == 0) {
			snprintf(r->slot_id, sizeof(r->slot_id), "%s",
				 l.keys[i] + 5);
			stow_keylist_free(&l);
			return 0;
		}
		/* Only failing storage stops the search; a slot that is
		 * damaged, or asks for absurd KDF memory, is skipped so that
		 * the other slots still open the repository. */
		if (grc == STOW_ENOMEM || grc == STOW_EIO) {
			last = grc;
			break;
		}
		if (rc == STOW_EUNSUPPORTED) {
			if (unknown++ == 0)
				snprintf(why_unknown, sizeof(why_unknown), "%s",
					 stow_err_msg());
		} else if (rc != STOW_EAUTH) {
			damaged++;
		}
	}
	nslots = l.n;
	stow_keylist_free(&l);
	if (last != STOW_EAUTH)
		return last;
	/* No slot we can even try: the password is not the problem. */
	if (unknown == nslots)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "%s; the repository at %s has no key slot "
				    "this stowage can read",
				    why_unknown, r->st->location);
	return stow_err_set(
	    STOW_EAUTH,
	    "wrong password: none of the %zu key slots of the "
	    "repository at %s opens with it%s%s",
	    nslots, r->st->location, damaged ? " (some slots are damaged)" : "",
	    unknown ? " (some slots need a newer stowage)" : "");
}

/* --- sealed objects ---------------------------------------------------- */

/* Layout: magic[8] "STOWSEAL" | le32 version | u8 kind | u8 aead |
 * u16 zero | salt[32] | AEAD(payload) + tag.
 * Key = HKDF(enc_root, salt, "stowage sealed v1"): a fresh random 256-bit
 * salt per object gives a fresh key, so the fixed all-zero nonce is used
 * once per key. AAD = header || object key, so an object cannot be moved
 * to another name or kind undetected.
 * Payload = u8 comp | varint raw_len | (compressed) bytes. */
static int sealed_key(stow_repo *r, const uint8_t salt[32],
		      uint8_t key[STOW_KEY_LEN])
{
	return stow_hkdf_sha256(key, STOW_KEY_LEN, r->enc_root, 32, salt, 32,
				"stowage sealed v1");
}

int stow_sealed_put(stow_repo *r, int kind, const char *key, const void *pt,
		    size_t len)
{
	_cleanup_(stow_buf_freep) stow_buf payload = {0};
	_cleanup_(stow_buf_freep) stow_buf obj = {0};
	_cleanup_(stow_buf_freep) stow_buf aad = {0};
	stow_compressor *comp = NULL;
	stow_comp_spec spec = {STOW_COMP_ZSTD, 3, 0};
	stow_comp_alg used = STOW_COMP_NONE;
	stow_aead *a = NULL;
	uint8_t k[STOW_KEY_LEN], nonce[STOW_NONCE_LEN] = {0};
	int rc;

	stow_buf_init(&payload, STOW_SEALED_MAX);
	stow_buf_init(&obj, STOW_SEALED_MAX + 128);
	stow_buf_init(&aad, 4096);
	STOW_TRY(stow_buf_append_u8(&payload, 0));
	STOW_TRY(stow_buf_append_varint(&payload, len));
	rc = stow_compressor_new(&comp, &spec);
	if (rc == 0)
		rc = stow_compress(comp, pt, len, &payload, &used);
	stow_compressor_free(comp);
	if (rc < 0)
		return rc;
	if (used == STOW_COMP_NONE)
		STOW_TRY(stow_buf_append(&payload, pt, len));
	payload.data[0] = (uint8_t)used;
	STOW_TRY(stow_buf_reserve(&obj, STOW_SEALED_HEADER_LEN + payload.len +
						STOW_TAG_LEN));
	STOW_TRY(stow_buf_append(&obj, SEAL_MAGIC, 8));
	STOW_TRY(stow_buf_append_le32(&obj, STOW_FORMAT_VERSION));
	STOW_TRY(stow_buf_append_u8(&obj, (uint8_t)kind));
	STOW_TRY(stow_buf_append_u8(&obj, (uint8_t)r->aead));
	STOW_TRY(stow_buf_append_u8(&obj, 0));
	STOW_TRY(stow_buf_append_u8(&obj, 0));
	STOW_TRY(stow_buf_reserve(&obj, 32));
	STOW_TRY(stow_random(obj.data + obj.len, 32));
	obj.len += 32;
	STOW_TRY(stow_buf_append(&aad, obj.data, STOW_SEALED_HEADER_LEN));
	STOW_TRY(stow_buf_append_str(&aad, key));
	STOW_TRY(sealed_key(r, obj.data + 16, k));
	rc = stow_aead_new(&a, r->aead);
	if (rc == 0)
		rc = stow_aead_setkey(a, k);
	if (rc == 0)
		rc = stow_aead_seal(a, nonce, aad.data, aad.len, payload.data,
				    payload.len, obj.data + obj.len);
	stow_aead_free(a);
	stow_secure_zero(k, sizeof(k));
	if (rc < 0)
		return rc;
	obj.len += payload.len + STOW_TAG_LEN;
	return stow_store_put(r->st, key, obj.data, obj.len, 0);
}

int stow_sealed_open(stow_repo *r, int kind, const char *key,
		     const uint8_t *data, size_t len, stow_buf *out)
{
	_cleanup_(stow_buf_freep) stow_buf plain = {0};
	_cleanup_(stow_buf_freep) stow_buf aad = {0};
	uint8_t k[STOW_KEY_LEN], nonce[STOW_NONCE_LEN] = {0};
	stow_aead *a = NULL;
	stow_rd rd;
	uint8_t comp;
	uint64_t raw;
	int rc;

	if (len < STOW_SEALED_HEADER_LEN + STOW_TAG_LEN + 2 ||
	    memcmp(data, SEAL_MAGIC, 8) != 0)
		return stow_err_set(STOW_ECORRUPT, "%s: not a sealed object "
				    "(bad magic or too short)", key);
	if (stow_get_le32(data + 8) != STOW_FORMAT_VERSION)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "%s: format version %u is not supported by "
				    "this stowage (knows %u)",
				    key, stow_get_le32(data + 8),
				    STOW_FORMAT_VERSION);
	if (data[12] != kind)
		return stow_err_set(STOW_ECORRUPT, "%s: object kind %u, "
				    "expected %d", key, data[12], kind);
	if (data[13] != r->aead && kind != STOW_SEALED_CONFIG)
		return stow_err_set(STOW_ECORRUPT, "%s: cipher mismatch", key);
	stow_buf_init(&plain, STOW_SEALED_MAX);
	stow_buf_init(&aad, 4096);
	STOW_TRY(stow_buf_append(&aad, data, STOW_SEALED_HEADER_LEN));
	STOW_TRY(stow_buf_append_str(&aad, key));
	STOW_TRY(stow_buf_reserve(&plain, len));
	STOW_TRY(sealed_key(r, data + 16, k));
	rc = stow_aead_new(&a, (stow_aead_alg)data[13]);
	if (rc == 0)
		rc = stow_aead_setkey(a, k);
	if (rc == 0)
		rc = stow_aead_open(a, nonce, aad.data, aad.len,
				    data + STOW_SEALED_HEADER_LEN,
				    len - STOW_SEALED_HEADER_LEN, plain.data);
	stow_aead_free(a);
	stow_secure_zero(k, sizeof(k));
	if (rc == STOW_ECORRUPT)
		return stow_err_set(STOW_ECORRUPT, "%s: authentication failed "
				    "(object damaged or not from this "
				    "repository)", key);
	if (rc < 0)
		return rc;
	plain.len = len - STOW_SEALED_HEADER_LEN - STOW_TAG_LEN;
	stow_rd_init(&rd, plain.data, plain.len, key);
	STOW_TRY(stow_rd_u8(&rd, &comp));
	STOW_TRY(stow_rd_varint(&rd, &raw));
	if (raw > STOW_SEALED_MAX || comp > STOW_COMP_GZIP)
		return stow_err_set(STOW_ECORRUPT, "%s: bad payload header",
				    key);
	stow_buf_reset(out);
	if (comp == STOW_COMP_NONE) {
		if (raw != stow_rd_left(&rd))
			return stow_err_set(STOW_ECORRUPT,
					    "%s: payload length mismatch", key);
		return stow_buf_append(out, plain.data + rd.off, (size_t)raw);
	}
	STOW_TRY(stow_buf_reserve(out, (size_t)raw));
	rc = stow_decompress((stow_comp_alg)comp, plain.data + rd.off,
			     stow_rd_left(&rd), out->data, (size_t)raw);
	if (rc < 0)
		return stow_err_wrap(rc, "%s", key);
	out->len = (size_t)raw;
	return 0;
}

int stow_sealed_get(stow_repo *r, int kind, const char *key, stow_buf *out)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	stow_buf_init(&b, STOW_SEALED_MAX + 128);
	STOW_TRY(stow_store_get(r->st, key, 0, STOW_RANGE_END, &b));
	return stow_sealed_open(r, kind, key, b.data, b.len, out);
}

/* --- config ------------------------------------------------------------ */

static int config_write(stow_repo *r)
{
	char comp[32];
	json_t *j;
	char *s;
	int rc;

	stow_comp_spec_format(&r->comp, comp, sizeof(comp));
	j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:I,s:I,s:I},s:I,s:I,s:I}",
		      "version", CONFIG_VERSION, "id", r->id_hex, "hash",
		      stow_hash_alg_name(r->hash), "cipher",
		      stow_aead_alg_name(r->aead), "compression", comp,
		      "chunker", "min", (json_int_t)r->chunk.min, "avg",
		      (json_int_t)r->chunk.avg, "max", (json_int_t)r->chunk.max,
		      "data_pack_size", (json_int_t)r->data_pack_size,
		      "meta_pack_size", (json_int_t)r->meta_pack_size,
		      "created", (json_int_t)time(NULL));
	if (!j)
		return stow_err_set(STOW_ENOMEM, "building config");
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		return stow_err_set(STOW_ENOMEM, "building config");
	rc = stow_sealed_put(r, STOW_SEALED_CONFIG, "config", s, strlen(s));
	free(s);
	return rc;
}

static int config_read(stow_repo *r)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	json_error_t err;
	json_t *j;
	const char *id = NULL, *hash = NULL, *cipher = NULL, *comp = NULL;
	json_int_t version = 0, cmin = 0, cavg = 0, cmax = 0, dps = 0,
		   mps = 0;
	int rc;

	stow_buf_init(&b, 1 << 20);
	STOW_TRY(stow_sealed_get(r, STOW_SEALED_CONFIG, "config", &b));
	j = json_loadb((const char *)b.data, b.len, 0, &err);
	if (!j)
		return stow_err_set(STOW_ECORRUPT, "config: %s", err.text);
	if (json_unpack_ex(j, &err, 0,
			   "{s:I,s:s,s:s,s:s,s:s,s:{s:I,s:I,s:I},s:I,s:I}",
			   "version", &version, "id", &id, "hash", &hash,
			   "cipher", &cipher, "compression", &comp, "chunker",
			   "min", &cmin, "avg", &cavg, "max", &cmax,
			   "data_pack_size", &dps, "meta_pack_size",
			   &mps) != 0) {
		json_decref(j);
		return stow_err_set(STOW_ECORRUPT, "config: %s", err.text);
	}
	rc = 0;
	if (version != CONFIG_VERSION)
		rc = stow_err_set(STOW_EUNSUPPORTED,
				  "config version %lld is not supported",
				  (long long)version);
	else if (strcmp(id, r->id_hex) != 0)
		rc = stow_err_set(STOW_ECORRUPT, "config belongs to another "
				  "repository");
	else if (stow_hash_alg_parse(hash, &r->hash) < 0 ||
		 stow_aead_alg_parse(cipher, &r->aead) < 0 ||
		 stow_comp_spec_parse(comp, &r->comp) < 0)
		rc = stow_err_wrap(STOW_EUNSUPPORTED, "config");
	else if (cmin <= 0 || cavg <= 0 || cmax <= 0 || cmax > UINT32_MAX ||
		 dps < (1 << 16) || dps > (1 << 30) || mps < (1 << 16) ||
		 mps > (1 << 30))
		rc = stow_err_set(STOW_ECORRUPT, "config: bad sizes");
	if (rc == 0) {
		r->chunk.min = (uint32_t)cmin;
		r->chunk.avg = (uint32_t)cavg;
		r->chunk.max = (uint32_t)cmax;
		r->data_pack_size = (uint32_t)dps;
		r->meta_pack_size = (uint32_t)mps;
		rc = stow_chunker_params_check(&r->chunk);
	}
	json_decref(j);
	return rc;
}

/* --- pack table ---------------------------------------------------------- */

static uint64_t pack_hash(const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, 8);
	return h;
}

static uint8_t *pack_slot(stow_repo *r, uint32_t ord)
{
	return r->pack_blocks[ord / PACK_BLOCK][ord % PACK_BLOCK];
}

int stow_repo_pack_add(stow_repo *r, const uint8_t id[32], int kind,
		       uint32_t *ordinal)
{
	int rc = 0;
	size_t i;

	pthread_mutex_lock(&r->packs_mu);
	if ((uint64_t)(r->npacks + 1) * 2 > r->pack_map_cap) {
		size_t ncap = r->pack_map_cap ? r->pack_map_cap * 2 : 1024;
		uint32_t *nm = calloc(ncap, sizeof(uint32_t));

		if (!nm) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto out;
		}
		for (uint32_t o = 0; o < r->npacks; o++) {
			size_t j = pack_hash(pack_slot(r, o)) & (ncap - 1);

			while (nm[j])
				j = (j + 1) & (ncap - 1);
			nm[j] = o + 1;
		}
		free(r->pack_map);
		r->pack_map = nm;
		r->pack_map_cap = ncap;
	}
	i = pack_hash(id) & (r->pack_map_cap - 1);
	while (r->pack_map[i]) {
		uint32_t o = r->pack_map[i] - 1;

		if (memcmp(pack_slot(r, o), id, 32) == 0) {
			*ordinal = o;
			goto out;
		}
		i = (i + 1) & (r->pack_map_cap - 1);
	}
	if (r->npacks % PACK_BLOCK == 0) {
		size_t b = r->npacks / PACK_BLOCK;
		void *nb = realloc(r->pack_blocks,
				   (b + 1) * sizeof(*r->pack_blocks));

		if (!nb) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto out;
		}
		r->pack_blocks = nb;
		r->pack_blocks[b] = malloc(PACK_BLOCK * 33);
		if (!r->pack_blocks[b]) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto out;
		}
	}
	memcpy(pack_slot(r, r->npacks), id, 32);
	pack_slot(r, r->npacks)[32] = (uint8_t)kind;
	r->pack_map[i] = r->npacks + 1;
	*ordinal = r->npacks++;
out:
	pthread_mutex_unlock(&r->packs_mu);
	return rc;
}

const uint8_t *stow_repo_pack_id(stow_repo *r, uint32_t ordinal, int *kind)
{
	const uint8_t *p = NULL;

	pthread_mutex_lock(&r->packs_mu);
	if (ordinal < r->npacks) {
		p = pack_slot(r, ordinal);
		if (kind)
			*kind = p[32];
	}
	pthread_mutex_unlock(&r->packs_mu);
	return p;
}

uint32_t stow_repo_pack_count(stow_repo *r)
{
	uint32_t n;

	pthread_mutex_lock(&r->packs_mu);
	n = r->npacks;
	pthread_mutex_unlock(&r->packs_mu);
	return n;
}

void stow_pack_key(char *out, size_t n, int kind, const uint8_t id[32])
{
	char hex[65];

	stow_hex(hex, id, 32);
	snprintf(out, n, "%s/%.2s/%s", kind == PACK_KIND_META ? "meta" : "data",
		 hex, hex);
}

/* --- index load -------------------------------------------------------- */

typedef struct load_ctx {
	stow_repo *r;
	uint8_t last_pack[32];
	uint32_t last_ord;
	bool have_last;
} load_ctx;

static int load_add(void *ctx, const uint8_t pack_id[32], int kind,
		    const stow_pack_entry *e)
{
	load_ctx *lc = ctx;
	stow_blob_loc loc;

	if (!lc->have_last || memcmp(lc->last_pack, pack_id, 32) != 0) {
		STOW_TRY(stow_repo_pack_add(lc->r, pack_id, kind,
					    &lc->last_ord));
		memcpy(lc->last_pack, pack_id, 32);
		lc->have_last = true;
	}
	loc.pack = lc->last_ord;
	loc.offset = e->offset;
	loc.stored_len = e->stored_len;
	loc.raw_len = e->raw_len;
	loc.type = e->type;
	loc.comp = e->comp;
	return stow_index_insert(lc->r->index, e->id, &loc);
}

static int count_entry(void *ctx, const uint8_t pack_id[32], int kind,
		       const stow_pack_entry *e)
{
	(void)ctx;
	(void)pack_id;
	(void)kind;
	(void)e;
	return 0;
}

static int push_key(char ***v, size_t *n, const char *k)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(char *));

	if (!nv)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*v = nv;
	if (!(nv[*n] = strdup(k)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	(*n)++;
	return 0;
}

static bool already_loaded(stow_repo *r, const char *key)
{
	for (size_t i = 0; i < r->nindex_keys; i++)
		if (r->index_keys[i] && strcmp(r->index_keys[i], key) == 0)
			return true;
	for (size_t i = 0; i < r->ndamaged_index_keys; i++)
		if (strcmp(r->damaged_index_keys[i], key) == 0)
			return true;
	return false;
}

/* Load every index object not loaded yet. A damaged one is recorded, not fatal: its
 * blobs are merely unknown (check reports it; packs still hold trailers
 * from which the index can be rebuilt). */
static int load_indexes(stow_repo *r)
{
	stow_keylist l = {0};
	stow_buf b;
	int rc = 0;

	STOW_TRY(stow_keylist_list_sorted(r->st, "index/", &l));
	stow_buf_init(&b, STOW_SEALED_MAX);
	for (size_t i = 0; i < l.n && rc >= 0; i++) {
		load_ctx lc = {.r = r};
		int lrc;

		if (already_loaded(r, l.keys[i]))
			continue;
		lrc = stow_sealed_get(r, STOW_SEALED_INDEX, l.keys[i], &b);
		/* Validate the whole object before adding any of it, so a
		 * damaged object is skipped whole, not half loaded. */
		if (lrc == 0)
			lrc = stow_index_decode(b.data, b.len, count_entry,
						NULL);
		if (lrc == 0)
			lrc = stow_index_decode(b.data, b.len, load_add, &lc);
		if (lrc == STOW_ENOMEM || lrc == STOW_EIO)
			rc = lrc;
		else if (lrc < 0)
			rc = push_key(&r->damaged_index_keys,
				      &r->ndamaged_index_keys, l.keys[i]);
		else
			rc = push_key(&r->index_keys, &r->nindex_keys,
				      l.keys[i]);
	}
	stow_buf_free(&b);
	stow_keylist_free(&l);
	return rc;
}

/* --- open / init / close ------------------------------------------------ */

static int repo_alloc(stow_repo **out, stow_store *st)
{
	stow_repo *r = calloc(1, sizeof(*r));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!r)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	r->st = st;
	r->remote = st && strcmp(st->ops->name, "s3") == 0;
	r->parallel = ncpu > 0 ? (unsigned)ncpu : 1;
	pthread_mutex_init(&r->packs_mu, NULL);
	*out = r;
	STOW_TRY(stow_packcache_new(&r->packcache));
	return stow_index_new(&r->index);
}

int stow_repo_init(stow_store *st, const char *password,
		   const stow_repo_init_opts *o, char repo_id_hex[65])
{
	stow_repo *r = NULL;
	char slot[17];
	uint64_t sz;
	stow_keylist l = {0};
	int rc;

	if (!st || !o || !repo_id_hex)
		return stow_err_set(STOW_EINVAL, "init: missing argument");
	if (!password || !*password)
		return stow_err_set(STOW_EINVAL, "an empty password is not "
				    "allowed");
	STOW_TRY(stow_chunker_params_check(&o->chunk));
	/* Validate everything before writing anything: a refused init must
	 * leave the store as it found it. */
	{
		uint8_t hdr[4];

		STOW_TRY(kdf_header(&o->kdf, hdr));
	}
	if (o->data_pack_size < (1u << 16) || o->data_pack_size > (1u << 30) ||
	    o->meta_pack_size < (1u << 16) || o->meta_pack_size > (1u << 30))
		return stow_err_set(STOW_EINVAL, "pack sizes must be between "
				    "64 KiB and 1 GiB");
	if (!strcmp(stow_hash_alg_name(o->hash), "unknown") ||
	    !strcmp(stow_aead_alg_name(o->aead), "unknown"))
		return stow_err_set(STOW_EINVAL, "unknown hash or cipher");
	rc = stow_store_stat(st, "config", &sz);
	if (rc == 0)
		return stow_err_set(STOW_EEXIST, "%s already holds a "
				    "repository", st->location);
	if (rc != STOW_ENOTFOUND)
		return rc;
	STOW_TRY(stow_keylist_list_sorted(st, "keys/", &l));
	sz = l.n;
	stow_keylist_free(&l);
	if (sz)
		return stow_err_set(STOW_EEXIST, "%s already holds key slots "
				    "(an interrupted init?); remove keys/ "
				    "first", st->location);
	rc = repo_alloc(&r, st);
	if (rc < 0)
		goto out;
	r->hash = o->hash;
	r->aead = o->aead;
	r->comp = o->comp;
	r->chunk = o->chunk;
	r->data_pack_size = o->data_pack_size;
	r->meta_pack_size = o->meta_pack_size;
	if ((rc = stow_random(r->master, sizeof(r->master))) < 0 ||
	    (rc = stow_random(r->id, sizeof(r->id))) < 0)
		goto out;
	stow_hex(r->id_hex, r->id, 32);
	if ((rc = derive_keys(r)) < 0)
		goto out;
	/* Config first, key slot last: a repository becomes openable only
	 * when it is complete. */
	if ((rc = config_write(r)) < 0)
		goto out;
	if ((rc = slot_write(r, password, &o->kdf, slot)) < 0)
		goto out;
	memcpy(repo_id_hex, r->id_hex, 65);
out:
	if (r) {
		r->st = NULL; /* the caller keeps the store */
		stow_repo_close(r);
	}
	return rc;
}

int stow_repo_open(stow_repo **out, stow_store *st, const char *password)
{
	stow_repo *r = NULL;
	int rc;

	if (!out || !st || !password) {
		stow_store_close(st);
		return stow_err_set(STOW_EINVAL, "open: missing argument");
	}
	rc = repo_alloc(&r, st);
	if (rc < 0)
		goto fail;
	if ((rc = unlock_master(r, password)) < 0)
		goto fail;
	if ((rc = derive_keys(r)) < 0)
		goto fail;
	if ((rc = config_read(r)) < 0)
		goto fail;
	if ((rc = stow_chunker_new(&r->chunker, &r->chunk, r->chunk_seed)) < 0)
		goto fail;
	if ((rc = load_indexes(r)) < 0)
		goto fail;
	/* Damaged index objects: recover their blobs from pack trailers so
	 * reads still find everything (check still reports the damage). */
	if (r->ndamaged_index_keys) {
		uint64_t added;

		if ((rc = stow_repo_index_unindexed_packs(r, &added)) < 0)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	if (r)
		stow_repo_close(r);
	else
		stow_store_close(st);
	return rc;
}

void stow_repo_close(stow_repo *r)
{
	if (!r)
		return;
	stow_store_close(r->st);
	stow_index_free(r->index);
	stow_packcache_free(r->packcache);
	stow_chunker_free(r->chunker);
	for (uint32_t b = 0; b < (r->npacks + PACK_BLOCK - 1) / PACK_BLOCK; b++)
		free(r->pack_blocks[b]);
	free(r->pack_blocks);
	free(r->pack_map);
	for (size_t i = 0; i < r->nindex_keys; i++)
		free(r->index_keys[i]);
	free(r->index_keys);
	for (size_t i = 0; i < r->ndamaged_index_keys; i++)
		free(r->damaged_index_keys[i]);
	free(r->damaged_index_keys);
	pthread_mutex_destroy(&r->packs_mu);
	stow_secure_zero(r->master, sizeof(r->master));
	stow_secure_zero(r->hash_key, sizeof(r->hash_key));
	stow_secure_zero(r->enc_root, sizeof(r->enc_root));
	free(r);
}

int stow_repo_refresh_index(stow_repo *r)
{
	return load_indexes(r);
}

int stow_repo_revalidate_index(stow_repo *r)
{
	stow_keylist l = {0};
	bool gone = false;
	stow_index *nx = NULL;

	STOW_TRY(stow_keylist_list_sorted(r->st, "index/", &l));
	for (size_t i = 0; i < r->nindex_keys && !gone; i++) {
		bool found = false;

		for (size_t j = 0; j < l.n && !found; j++)
			found = strcmp(l.keys[j], r->index_keys[i]) == 0;
		gone = !found;
	}
	stow_keylist_free(&l);
	if (!gone)
		return load_indexes(r);
	/* A gc rewrote the index since we opened: our in-memory index may
	 * name packs that no longer exist. Start over from storage. The
	 * pack table may keep stale ordinals; nothing refers to them. */
	STOW_TRY(stow_index_new(&nx));
	stow_index_free(r->index);
	r->index = nx;
	for (size_t i = 0; i < r->nindex_keys; i++)
		free(r->index_keys[i]);
	r->nindex_keys = 0;
	for (size_t i = 0; i < r->ndamaged_index_keys; i++)
		free(r->damaged_index_keys[i]);
	r->ndamaged_index_keys = 0;
	return load_indexes(r);
}

stow_store *stow_repo_store(stow_repo *r)
{
	return r->st;
}
const char *stow_repo_id_hex(const stow_repo *r)
{
	return r->id_hex;
}
const stow_comp_spec *stow_repo_comp(const stow_repo *r)
{
	return &r->comp;
}
const stow_chunker *stow_repo_chunker(const stow_repo *r)
{
	return r->chunker;
}
const char *stow_repo_slot_id(const stow_repo *r)
{
	return r->slot_id;
}
void stow_repo_set_parallel(stow_repo *r, unsigned n)
{
	r->parallel = n ? n : 1;
}
unsigned stow_repo_parallel(const stow_repo *r)
{
	return r->parallel;
}

int stow_repo_lookup(stow_repo *r, const uint8_t id[STOW_ID_LEN],
		     stow_blob_loc *loc)
{
	return stow_index_lookup(r->index, id, loc);
}

int stow_repo_index_foreach(stow_repo *r, stow_index_cb cb, void *ctx)
{
	return stow_index_foreach(r->index, cb, ctx);
}

void stow_repo_damaged_indexes(stow_repo *r, const char *const **keys,
			       size_t *n)
{
	*keys = (const char *const *)r->damaged_index_keys;
	*n = r->ndamaged_index_keys;
}

void stow_repo_index_objects(stow_repo *r, const char *const **keys,
			     size_t *n)
{
	*keys = (const char *const *)r->index_keys;
	*n = r->nindex_keys;
}

/* --- key management ---------------------------------------------------- */

/* Read and parse one slot's header. Storage failures are returned as
 * they are; a damaged object gives STOW_ECORRUPT. */
static int slot_read_info(stow_repo *r, const char *key,
			  stow_key_slot_info *info)
{
	stow_buf b;
	int rc;

	stow_buf_init(&b, 4096);
	rc = stow_store_get(r->st, key, 0, SLOT_LEN + 1, &b);
	if (rc == 0)
		rc = slot_parse_header(b.data, b.len, info);
	stow_buf_free(&b);
	if (rc == 0)
		snprintf(info->id, sizeof(info->id), "%s", key + 5);
	return rc;
}

int stow_repo_key_list(stow_repo *r, stow_key_slot_cb cb, void *ctx)
{
	stow_keylist l = {0};
	int rc = 0;

	STOW_TRY(stow_keylist_list_sorted(r->st, "keys/", &l));
	for (size_t i = 0; i < l.n && rc >= 0; i++) {
		stow_key_slot_info info;

		rc = slot_read_info(r, l.keys[i], &info);
		if (rc == STOW_EIO || rc == STOW_ENOMEM) {
			rc = stow_err_wrap(rc, "%s", l.keys[i]);
			break;
		}
		if (rc < 0) { /* not a slot (damaged): nothing to list */
			rc = 0;
			continue;
		}
		rc = cb(ctx, &info);
	}
	stow_keylist_free(&l);
	return rc;
}

int stow_repo_key_add(stow_repo *r, const char *new_password,
		      const stow_kdf_opts *kdf, char slot_id[17])
{
	stow_kdf_opts def;

	if (!new_password || !*new_password)
		return stow_err_set(STOW_EINVAL, "an empty password is not "
				    "allowed");
	if (!kdf) {
		stow_kdf_opts_default(&def);
		kdf = &def;
	}
	return slot_write(r, new_password, kdf, slot_id);
}

int stow_repo_key_remove(stow_repo *r, const char *slot_id)
{
	stow_keylist l = {0};
	char key[64];
	bool found = false;
	size_t valid_others = 0;

	if (!r || !slot_id || strlen(slot_id) != 16 ||
	    strspn(slot_id, "0123456789abcdef") != 16)
		return stow_err_set(STOW_EINVAL, "key slot IDs are 16 hex "
				    "digits (see `vault key list`)");
	STOW_TRY(stow_keylist_list_sorted(r->st, "keys/", &l));
	snprintf(key, sizeof(key), "keys/%s", slot_id);
	for (size_t i = 0; i < l.n; i++) {
		stow_key_slot_info info;

		if (strcmp(l.keys[i], key) == 0)
			found = true;
		else if (slot_read_info(r, l.keys[i], &info) == 0)
			valid_others++;
	}
	stow_keylist_free(&l);
	if (!found)
		return stow_err_set(STOW_ENOTFOUND, "no key slot %s", slot_id);
	/* Junk under keys/ does not count: only a well-formed slot can
	 * still open the repository. */
	if (valid_others == 0)
		return stow_err_set(STOW_EINVAL, "refusing to remove the last "
				    "key slot: the repository would become "
				    "unreadable");
	return stow_store_del(r->st, key);
}
