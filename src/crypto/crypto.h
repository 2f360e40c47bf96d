/* Cryptographic primitives for stowage, over OpenSSL's libcrypto (and
 * libargon2 for Argon2id, which OpenSSL 3.0 lacks). Nothing outside
 * src/crypto/ includes an OpenSSL or libargon2 header.
 *
 * Contexts (stow_hasher, stow_aead) are NOT thread-safe: give each thread
 * its own. The free-standing functions are thread-safe.
 *
 * Errors: STOW_ENOMEM, STOW_EINVAL (bad arguments), STOW_EUNSUPPORTED
 * (algorithm missing from this libcrypto), STOW_ECORRUPT (authentication
 * failed on open), STOW_EIO (OpenSSL or libargon2 failed otherwise; detail
 * says why). */
#ifndef STOW_CRYPTO_H
#define STOW_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define STOW_KEY_LEN 32   /* every symmetric key */
#define STOW_ID_LEN 32    /* content IDs: keyed hash output */
#define STOW_NONCE_LEN 12 /* AEAD nonce */
#define STOW_TAG_LEN 16   /* AEAD tag, appended to ciphertext */

typedef enum stow_hash_alg {
	STOW_HASH_HMAC_SHA256 = 1, /* default */
	STOW_HASH_BLAKE2B_256 = 2, /* keyed BLAKE2b with 32-byte output */
} stow_hash_alg;

typedef enum stow_aead_alg {
	STOW_AEAD_AES256GCM = 1, /* default */
	STOW_AEAD_CHACHA20POLY1305 = 2,
} stow_aead_alg;

/* Names as used on the command line and in stats: "hmac-sha256",
 * "blake2b-256", "aes-256-gcm", "chacha20-poly1305". Parse returns
 * STOW_EINVAL for unknown names. */
const char *stow_hash_alg_name(stow_hash_alg a);
int stow_hash_alg_parse(const char *name, stow_hash_alg *out);
const char *stow_aead_alg_name(stow_aead_alg a);
int stow_aead_alg_parse(const char *name, stow_aead_alg *out);

/* Cryptographically secure random bytes (RAND_bytes). */
int stow_random(void *buf, size_t n);

/* HKDF-SHA256 (RFC 5869), extract-then-expand. info is a NUL-terminated
 * label; out may be up to 255*32 bytes. */
int stow_hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm,
		     size_t ikmlen, const uint8_t *salt, size_t saltlen,
		     const char *info);

/* scrypt (RFC 7914). N must be a power of two > 1; memory is 128*r*N. */
int stow_scrypt(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
		const uint8_t *salt, size_t saltlen, uint64_t N, uint32_t r,
		uint32_t p);

/* Argon2id caps (see stow_argon2id). */
#define STOW_ARGON2_MAX_KIB ((uint32_t)1 << 20) /* 1 GiB */
#define STOW_ARGON2_MAX_PASSES 32
#define STOW_ARGON2_MAX_LANES 16

/* Argon2id version 1.3 (RFC 9106) without secret or associated data:
 * t_cost passes over m_kib KiB in `lanes` lanes (one thread per lane).
 * Parameters are hostile when they come from a key slot, so they are
 * capped before anything is allocated: m_kib at most STOW_ARGON2_MAX_KIB
 * (STOW_ENOMEM above; at least 8 KiB per lane, as Argon2 requires),
 * t_cost 1..STOW_ARGON2_MAX_PASSES, lanes 1..STOW_ARGON2_MAX_LANES, salt
 * at least 8 bytes, outlen at least 4 (STOW_EINVAL otherwise). The work
 * memory is wiped before it is freed; out is zeroed on failure. */
int stow_argon2id(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
		  const uint8_t *salt, size_t saltlen, uint32_t t_cost,
		  uint32_t m_kib, uint32_t lanes);

/* Plain SHA-256 (unkeyed), for checksums of public data. */
int stow_sha256(const void *data, size_t len, uint8_t out[32]);

/* MD5, only where a protocol demands it (the Content-MD5 header S3
 * requires on a multi-object delete); never for anything that must resist
 * an attacker. STOW_EUNSUPPORTED on a libcrypto without MD5 (FIPS). */
int stow_md5(const void *data, size_t len, uint8_t out[16]);

/* SHA-1, only where a protocol demands it (the WebSocket handshake's
 * Sec-WebSocket-Accept, RFC 6455 §4.2.2); never for anything that must
 * resist an attacker. STOW_EUNSUPPORTED on a libcrypto without SHA-1. */
int stow_sha1(const void *data, size_t len, uint8_t out[20]);

/* One-shot HMAC-SHA256 with a key of any length (request signing). For
 * content IDs use a stow_hasher, which is keyed once and much faster. */
int stow_hmac_sha256(const void *key, size_t keylen, const void *data,
		     size_t len, uint8_t out[32]);

/* Compare in constant time; 1 if equal. */
int stow_ct_equal(const void *a, const void *b, size_t n);
/* Zero memory the compiler may not elide. */
void stow_secure_zero(void *p, size_t n);

/* Keyed content hash: ID = H_key(data), 32 bytes. */
typedef struct stow_hasher stow_hasher;
int stow_hasher_new(stow_hasher **out, stow_hash_alg alg,
		    const uint8_t key[STOW_KEY_LEN]);
int stow_hasher_digest(stow_hasher *h, const void *data, size_t len,
		       uint8_t out[STOW_ID_LEN]);
void stow_hasher_free(stow_hasher *h);

/* AEAD with a 32-byte key, 12-byte nonce, 16-byte tag appended.
 * The key can be changed cheaply with stow_aead_setkey (once per pack). */
typedef struct stow_aead stow_aead;
int stow_aead_new(stow_aead **out, stow_aead_alg alg);
int stow_aead_setkey(stow_aead *a, const uint8_t key[STOW_KEY_LEN]);
/* out receives ptlen + STOW_TAG_LEN bytes. out may equal pt (in place). */
int stow_aead_seal(stow_aead *a, const uint8_t nonce[STOW_NONCE_LEN],
		   const void *aad, size_t aadlen, const void *pt, size_t ptlen,
		   uint8_t *out);
/* ctlen includes the tag; out receives ctlen - STOW_TAG_LEN bytes.
 * STOW_ECORRUPT if the tag does not verify (out is then zeroed). */
int stow_aead_open(stow_aead *a, const uint8_t nonce[STOW_NONCE_LEN],
		   const void *aad, size_t aadlen, const void *ct, size_t ctlen,
		   uint8_t *out);
void stow_aead_free(stow_aead *a);

#endif
