/* Cryptographic primitives over OpenSSL 3 libcrypto (EVP only), and
 * Argon2id over libargon2 (the reference implementation; OpenSSL has
 * Argon2 only from 3.2 on).
 *
 * Algorithm objects (EVP_MAC, EVP_KDF, EVP_CIPHER, EVP_MD) are fetched once
 * per process and shared: fetched objects are immutable and reference
 * counted, so every thread may use them, and fetching by name on each call
 * would go through OpenSSL's locked method store every time. Contexts built
 * from them (stow_hasher, stow_aead) belong to one thread.
 *
 * Every OpenSSL failure drains the calling thread's OpenSSL error queue into
 * the stowage error detail, so stale entries neither accumulate nor show up
 * in the message of a later, unrelated failure.
 *
 * See docs/crypto.md for the choice of algorithms and the reuse strategy. */
#include "crypto/crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <argon2.h>

#include "util/err.h"

/* EVP update and RAND_bytes lengths are int: feed larger inputs in pieces
 * of this size. */
#define PIECE ((size_t)1 << 30)

/* OpenSSL's HKDF keeps at most this many bytes of info (HKDF_MAXBUF). */
#define HKDF_INFO_MAX 1024

/* scrypt: the largest 128*r*N we agree to allocate. 16 GiB is N = 2^24 with
 * r = 8, the strongest setting the vault accepts when it writes a key slot;
 * anything larger from a (hostile) key slot is refused before allocating. */
#define SCRYPT_MAX_V ((uint64_t)16 << 30)
/* ... and the largest p*128*r "B" buffer (r*p < 2^23). */
#define SCRYPT_MAX_B ((uint64_t)1 << 30)

/* Message limits of the AEADs: NIST SP 800-38D allows 2^39 - 256 bits of
 * GCM plaintext per nonce; RFC 8439 allows 2^38 - 64 bytes for
 * ChaCha20-Poly1305 (the 32-bit block counter). */
#define GCM_MAX_PT (((uint64_t)1 << 36) - 32)
#define CHACHA_MAX_PT (((uint64_t)1 << 38) - 64)

/* A non-NULL address for empty inputs: OSSL_PARAM octet strings and
 * EVP update calls reject a NULL pointer even with length 0. */
static const uint8_t empty_input[1];

/* --- fetched algorithms -------------------------------------------------- */

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *mac_hmac;
static EVP_MAC *mac_blake2b;
static EVP_KDF *kdf_hkdf;
static EVP_KDF *kdf_scrypt;
static EVP_CIPHER *cipher_aes256gcm;
static EVP_CIPHER *cipher_chacha20poly1305;
static EVP_MD *md_sha256;
static EVP_MD *md_md5;
static EVP_MD *md_sha1;

/* Fetch everything once. An algorithm this libcrypto lacks (a FIPS-only
 * build has no ChaCha20 or BLAKE2) stays NULL and is reported as
 * STOW_EUNSUPPORTED when used, not here. The objects are never freed:
 * OpenSSL's own atexit cleanup may run before any destructor of ours. */
static void fetch_all(void)
{
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	mac_blake2b = EVP_MAC_fetch(NULL, "BLAKE2BMAC", NULL);
	kdf_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kdf_scrypt = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	cipher_aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	cipher_chacha20poly1305 =
	    EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	ERR_clear_error();
}

static void fetch_init(void)
{
	pthread_once(&fetch_once, fetch_all);
}

/* Turn the OpenSSL error queue into the stowage detail for a failure of
 * `what`, drain the queue and return the code: STOW_ENOMEM if OpenSSL ran
 * out of memory, STOW_EIO otherwise. */
static int ossl_fail(const char *what)
{
	unsigned long e = ERR_peek_error();
	char reason[256];
	int code = STOW_EIO;

	if (e == 0) {
		snprintf(reason, sizeof(reason), "no OpenSSL detail");
	} else {
		ERR_error_string_n(e, reason, sizeof(reason));
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			code = STOW_ENOMEM;
	}
	ERR_clear_error();
	return stow_err_set(code, "%s: %s", what, reason);
}

static int unsupported(const char *alg)
{
	return stow_err_set(STOW_EUNSUPPORTED,
			    "%s is not available in this libcrypto", alg);
}

/* --- names --------------------------------------------------------------- */

const char *stow_hash_alg_name(stow_hash_alg a)
{
	switch (a) {
	case STOW_HASH_HMAC_SHA256: return "hmac-sha256";
	case STOW_HASH_BLAKE2B_256: return "blake2b-256";
	}
	return "unknown";
}

int stow_hash_alg_parse(const char *name, stow_hash_alg *out)
{
	if (!name || !out)
		return stow_err_set(STOW_EINVAL,
				    "hash algorithm: NULL argument");
	if (strcmp(name, "hmac-sha256") == 0)
		*out = STOW_HASH_HMAC_SHA256;
	else if (strcmp(name, "blake2b-256") == 0)
		*out = STOW_HASH_BLAKE2B_256;
	else
		return stow_err_set(STOW_EINVAL,
				    "unknown hash algorithm \"%s\" (known: "
				    "hmac-sha256, blake2b-256)",
				    name);
	return 0;
}

const char *stow_aead_alg_name(stow_aead_alg a)
{
	switch (a) {
	case STOW_AEAD_AES256GCM: return "aes-256-gcm";
	case STOW_AEAD_CHACHA20POLY1305: return "chacha20-poly1305";
	}
	return "unknown";
}

int stow_aead_alg_parse(const char *name, stow_aead_alg *out)
{
	if (!name || !out)
		return stow_err_set(STOW_EINVAL, "cipher: NULL argument");
	if (strcmp(name, "aes-256-gcm") == 0)
		*out = STOW_AEAD_AES256GCM;
	else if (strcmp(name, "chacha20-poly1305") == 0)
		*out = STOW_AEAD_CHACHA20POLY1305;
	else
		return stow_err_set(
		    STOW_EINVAL,
		    "unknown cipher \"%s\" (known: aes-256-gcm, "
		    "chacha20-poly1305)",
		    name);
	return 0;
}

/* --- free-standing functions --------------------------------------------- */

int stow_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	if (!buf && n > 0)
		return stow_err_set(STOW_EINVAL, "random: NULL buffer");
	while (n > 0) {
		size_t k = n < PIECE ? n : PIECE;

		if (RAND_bytes(p, (int)k) != 1)
			return ossl_fail("RAND_bytes");
		p += k;
		n -= k;
	}
	return 0;
}

int stow_hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm,
		     size_t ikmlen, const uint8_t *salt, size_t saltlen,
		     const char *info)
{
	OSSL_PARAM params[5], *pp = params;
	EVP_KDF_CTX *kctx;
	size_t infolen;
	int rc = 0;

	if (!out || (!ikm && ikmlen) || (!salt && saltlen) || !info)
		return stow_err_set(STOW_EINVAL, "HKDF: NULL argument");
	if (outlen == 0 || outlen > 255 * 32)
		return stow_err_set(STOW_EINVAL,
				    "HKDF: output length %zu not in 1..8160",
				    outlen);
	infolen = strlen(info);
	if (infolen > HKDF_INFO_MAX)
		return stow_err_set(STOW_EINVAL, "HKDF: info longer than %d",
				    HKDF_INFO_MAX);
	fetch_init();
	if (!kdf_hkdf)
		return unsupported("HKDF");

	/* Mode defaults to extract-then-expand. An absent salt is the empty
	 * salt, which HMAC pads to HashLen zeros exactly as RFC 5869 says. */
	*pp++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						 (char *)"SHA256", 0);
	*pp++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, ikmlen ? (void *)ikm : (void *)empty_input,
	    ikmlen);
	if (saltlen)
		*pp++ = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	if (infolen)
		*pp++ = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_INFO, (void *)info, infolen);
	*pp = OSSL_PARAM_construct_end();

	kctx = EVP_KDF_CTX_new(kdf_hkdf);
	if (!kctx)
		return ossl_fail("HKDF context");
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1) {
		stow_secure_zero(out, outlen);
		rc = ossl_fail("HKDF-SHA256");
	}
	/* Frees with OPENSSL_clear_free: the PRK and key copy are wiped. */
	EVP_KDF_CTX_free(kctx);
	return rc;
}

int stow_scrypt(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
		const uint8_t *salt, size_t saltlen, uint64_t N, uint32_t r,
		uint32_t p)
{
	OSSL_PARAM params[7], *pp = params;
	uint64_t v, b, maxmem;
	EVP_KDF_CTX *kctx;
	int rc = 0;

	if (!out || (!pw && pwlen) || (!salt && saltlen))
		return stow_err_set(STOW_EINVAL, "scrypt: NULL argument");
	if (outlen == 0)
		return stow_err_set(STOW_EINVAL, "scrypt: empty output");
	if (N < 2 || (N & (N - 1)) != 0)
		return stow_err_set(STOW_EINVAL,
				    "scrypt: N=%llu is not a power of two > 1",
				    (unsigned long long)N);
	if (r == 0 || p == 0)
		return stow_err_set(STOW_EINVAL, "scrypt: r and p must be > 0");
	/* RFC 7914 §2: N < 2^(128*r/8) and p <= (2^32-1)*32 / (128*r);
	 * OpenSSL enforces the stricter r*p < 2^30. */
	if (r < 4 && N >> (16 * r) != 0)
		return stow_err_set(STOW_EINVAL,
				    "scrypt: N=%llu too large for r=%u",
				    (unsigned long long)N, r);
	if ((uint64_t)r * p >= ((uint64_t)1 << 30))
		return stow_err_set(STOW_EINVAL, "scrypt: r*p too large");
	/* OpenSSL allocates 128*r*(N+2) for V plus 128*r*p for B and refuses
	 * anything above maxmem_bytes (default 1 GiB), so we pass exactly
	 * what is needed after applying our own caps. */
	if (__builtin_mul_overflow((uint64_t)128 * r, N, &v) ||
	    v > SCRYPT_MAX_V)
		return stow_err_set(STOW_ENOMEM,
				    "scrypt: N=%llu r=%u needs more than the "
				    "%llu GiB cap",
				    (unsigned long long)N, r,
				    (unsigned long long)(SCRYPT_MAX_V >> 30));
	b = (uint64_t)128 * r * p;
	if (b > SCRYPT_MAX_B)
		return stow_err_set(STOW_ENOMEM,
				    "scrypt: r=%u p=%u needs more than 1 GiB",
				    r, p);
	maxmem = v + (uint64_t)256 * r + b;
	fetch_init();
	if (!kdf_scrypt)
		return unsupported("scrypt");

	*pp++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_PASSWORD, pwlen ? (void *)pw : (void *)empty_input,
	    pwlen);
	*pp++ = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_SALT, saltlen ? (void *)salt : (void *)empty_input,
	    saltlen);
	*pp++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &N);
	*pp++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*pp++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	*pp++ =
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*pp = OSSL_PARAM_construct_end();

	kctx = EVP_KDF_CTX_new(kdf_scrypt);
	if (!kctx)
		return ossl_fail("scrypt context");
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1) {
		stow_secure_zero(out, outlen);
		rc = ossl_fail("scrypt");
	}
	/* Wipes its copy of the password. */
	EVP_KDF_CTX_free(kctx);
	return rc;
}

int stow_argon2id(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
		  const uint8_t *salt, size_t saltlen, uint32_t t_cost,
		  uint32_t m_kib, uint32_t lanes)
{
	argon2_context ctx;
	int arc;

	if (!out || (!pw && pwlen) || !salt)
		return stow_err_set(STOW_EINVAL, "Argon2id: NULL argument");
	if (outlen < ARGON2_MIN_OUTLEN || outlen > UINT32_MAX)
		return stow_err_set(STOW_EINVAL,
				    "Argon2id: output length %zu not in "
				    "4..2^32-1",
				    outlen);
	if (saltlen < ARGON2_MIN_SALT_LENGTH || saltlen > UINT32_MAX)
		return stow_err_set(STOW_EINVAL,
				    "Argon2id: salt of %zu bytes (at least 8)",
				    saltlen);
	if (pwlen > UINT32_MAX)
		return stow_err_set(STOW_EINVAL, "Argon2id: password too long");
	if (t_cost < 1 || t_cost > STOW_ARGON2_MAX_PASSES)
		return stow_err_set(STOW_EINVAL,
				    "Argon2id: %u passes not in 1..%d", t_cost,
				    STOW_ARGON2_MAX_PASSES);
	if (lanes < 1 || lanes > STOW_ARGON2_MAX_LANES)
		return stow_err_set(STOW_EINVAL,
				    "Argon2id: %u lanes not in 1..%d", lanes,
				    STOW_ARGON2_MAX_LANES);
	/* RFC 9106 §3.1: at least 8 KiB (two blocks per slice) per lane. */
	if (m_kib < 8 * lanes)
		return stow_err_set(STOW_EINVAL,
				    "Argon2id: %u KiB is less than 8 KiB per "
				    "lane (%u lanes)",
				    m_kib, lanes);
	if (m_kib > STOW_ARGON2_MAX_KIB)
		return stow_err_set(STOW_ENOMEM,
				    "Argon2id: %u KiB is more than the %u MiB "
				    "cap",
				    m_kib, STOW_ARGON2_MAX_KIB >> 10);

	/* argon2_ctx rather than argon2id_hash_raw: the version is pinned
	 * to 1.3 here instead of following the library's default. The
	 * context's pointers are not const, but with no CLEAR flags the
	 * password and salt are only read. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = (uint32_t)outlen;
	ctx.pwd = (uint8_t *)pw;
	ctx.pwdlen = (uint32_t)pwlen;
	ctx.salt = (uint8_t *)salt;
	ctx.saltlen = (uint32_t)saltlen;
	ctx.t_cost = t_cost;
	ctx.m_cost = m_kib;
	ctx.lanes = lanes;
	ctx.threads = lanes;
	ctx.version = ARGON2_VERSION_13;
	ctx.flags = ARGON2_DEFAULT_FLAGS;
	/* The library wipes its work memory before freeing it (its
	 * FLAG_clear_internal_memory defaults to on). */
	arc = argon2_ctx(&ctx, Argon2_id);
	if (arc == ARGON2_OK)
		return 0;
	stow_secure_zero(out, outlen);
	return stow_err_set(arc == ARGON2_MEMORY_ALLOCATION_ERROR ? STOW_ENOMEM
								  : STOW_EIO,
			    "Argon2id: %s", argon2_error_message(arc));
}

int stow_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int olen = 0;

	if ((!data && len) || !out)
		return stow_err_set(STOW_EINVAL, "SHA-256: NULL argument");
	fetch_init();
	if (!md_sha256)
		return unsupported("SHA-256");
	if (EVP_Digest(len ? data : empty_input, len, out, &olen, md_sha256,
		       NULL) != 1 ||
	    olen != 32)
		return ossl_fail("SHA-256");
	return 0;
}

int stow_md5(const void *data, size_t len, uint8_t out[16])
{
	unsigned int olen = 0;

	if ((!data && len) || !out)
		return stow_err_set(STOW_EINVAL, "MD5: NULL argument");
	fetch_init();
	if (!md_md5)
		return unsupported("MD5");
	if (EVP_Digest(len ? data : empty_input, len, out, &olen, md_md5,
		       NULL) != 1 ||
	    olen != 16)
		return ossl_fail("MD5");
	return 0;
}

int stow_sha1(const void *data, size_t len, uint8_t out[20])
{
	unsigned int olen = 0;

	if ((!data && len) || !out)
		return stow_err_set(STOW_EINVAL, "SHA-1: NULL argument");
	fetch_init();
	if (!md_sha1)
		return unsupported("SHA-1");
	if (EVP_Digest(len ? data : empty_input, len, out, &olen, md_sha1,
		       NULL) != 1 ||
	    olen != 20)
		return ossl_fail("SHA-1");
	return 0;
}

int stow_hmac_sha256(const void *key, size_t keylen, const void *data,
		     size_t len, uint8_t out[32])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t olen = 0;
	int rc = 0;

	if ((!key && keylen) || (!data && len) || !out)
		return stow_err_set(STOW_EINVAL, "HMAC-SHA256: NULL argument");
	fetch_init();
	if (!mac_hmac)
		return unsupported("HMAC");
	ctx = EVP_MAC_CTX_new(mac_hmac);
	if (!ctx)
		return ossl_fail("HMAC context");
	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, keylen ? key : empty_input, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, len ? data : empty_input, len) != 1 ||
	    EVP_MAC_final(ctx, out, &olen, 32) != 1 || olen != 32)
		rc = ossl_fail("HMAC-SHA256");
	EVP_MAC_CTX_free(ctx);
	return rc;
}

int stow_ct_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	return CRYPTO_memcmp(a, b, n) == 0;
}

void stow_secure_zero(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* --- keyed content hash -------------------------------------------------- */

struct stow_hasher {
	/* Keyed once in stow_hasher_new. EVP_MAC_init with a NULL key
	 * rewinds it to the keyed state: for HMAC that copies the saved
	 * ipad/opad digest states, for BLAKE2b it re-runs the parameter
	 * block setup with the stored key. Measured faster than duplicating
	 * a keyed template per digest (no allocation) or re-keying. */
	EVP_MAC_CTX *mac;
	stow_hash_alg alg;
};

int stow_hasher_new(stow_hasher **out, stow_hash_alg alg,
		    const uint8_t key[STOW_KEY_LEN])
{
	OSSL_PARAM params[2];
	size_t size = STOW_ID_LEN;
	stow_hasher *h;
	EVP_MAC *mac;

	if (!out)
		return stow_err_set(STOW_EINVAL, "hasher: NULL argument");
	*out = NULL;
	if (!key)
		return stow_err_set(STOW_EINVAL, "hasher: NULL key");
	fetch_init();
	switch (alg) {
	case STOW_HASH_HMAC_SHA256:
		mac = mac_hmac;
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
		break;
	case STOW_HASH_BLAKE2B_256:
		mac = mac_blake2b;
		/* The output size is part of BLAKE2b's parameter block, so
		 * this is BLAKE2b-256, not a truncated BLAKE2b-512. */
		params[0] =
		    OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
		break;
	default:
		return stow_err_set(STOW_EUNSUPPORTED,
				    "unknown hash algorithm %d", (int)alg);
	}
	if (!mac)
		return unsupported(stow_hash_alg_name(alg));
	params[1] = OSSL_PARAM_construct_end();

	h = calloc(1, sizeof(*h));
	if (!h)
		return stow_err_set(STOW_ENOMEM, "hasher: out of memory");
	h->alg = alg;
	h->mac = EVP_MAC_CTX_new(mac);
	if (!h->mac) {
		free(h);
		return ossl_fail("hasher context");
	}
	if (EVP_MAC_init(h->mac, key, STOW_KEY_LEN, params) != 1) {
		int rc = ossl_fail(stow_hash_alg_name(alg));

		stow_hasher_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

int stow_hasher_digest(stow_hasher *h, const void *data, size_t len,
		       uint8_t out[STOW_ID_LEN])
{
	size_t olen = 0;

	if (!h || (!data && len) || !out)
		return stow_err_set(STOW_EINVAL, "hasher: NULL argument");
	if (EVP_MAC_init(h->mac, NULL, 0, NULL) != 1 ||
	    (len && EVP_MAC_update(h->mac, data, len) != 1) ||
	    EVP_MAC_final(h->mac, out, &olen, STOW_ID_LEN) != 1 ||
	    olen != STOW_ID_LEN) {
		stow_secure_zero(out, STOW_ID_LEN);
		return ossl_fail(stow_hash_alg_name(h->alg));
	}
	return 0;
}

void stow_hasher_free(stow_hasher *h)
{
	if (!h)
		return;
	/* The MAC providers free their key copies with
	 * OPENSSL_clear_free/OPENSSL_secure_clear_free. */
	EVP_MAC_CTX_free(h->mac);
	stow_secure_zero(h, sizeof(*h));
	free(h);
}

/* --- AEAD ---------------------------------------------------------------- */

struct stow_aead {
	/* Bound to its cipher in stow_aead_new and keyed in
	 * stow_aead_setkey; seal and open re-initialise it with only the
	 * nonce and the direction, which keeps the AES key schedule and GHASH
	 * table (or the ChaCha20 key) and costs no allocation. */
	EVP_CIPHER_CTX *ctx;
	stow_aead_alg alg;
	bool keyed;
	uint64_t max_pt;
};

int stow_aead_new(stow_aead **out, stow_aead_alg alg)
{
	const EVP_CIPHER *cipher;
	stow_aead *a;
	uint64_t max_pt;
	int rc;

	if (!out)
		return stow_err_set(STOW_EINVAL, "AEAD: NULL argument");
	*out = NULL;
	fetch_init();
	switch (alg) {
	case STOW_AEAD_AES256GCM:
		cipher = cipher_aes256gcm;
		max_pt = GCM_MAX_PT;
		break;
	case STOW_AEAD_CHACHA20POLY1305:
		cipher = cipher_chacha20poly1305;
		max_pt = CHACHA_MAX_PT;
		break;
	default:
		return stow_err_set(STOW_EUNSUPPORTED, "unknown cipher %d",
				    (int)alg);
	}
	if (!cipher)
		return unsupported(stow_aead_alg_name(alg));

	a = calloc(1, sizeof(*a));
	if (!a)
		return stow_err_set(STOW_ENOMEM, "AEAD: out of memory");
	a->alg = alg;
	a->max_pt = max_pt;
	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx) {
		free(a);
		return ossl_fail("AEAD context");
	}
	if (EVP_CipherInit_ex2(a->ctx, cipher, NULL, NULL, 1, NULL) != 1) {
		rc = ossl_fail(stow_aead_alg_name(alg));
		stow_aead_free(a);
		return rc;
	}
	/* Both ciphers default to a 96-bit nonce and a 256-bit key. */
	if (EVP_CIPHER_CTX_get_key_length(a->ctx) != STOW_KEY_LEN ||
	    EVP_CIPHER_CTX_get_iv_length(a->ctx) != STOW_NONCE_LEN) {
		stow_aead_free(a);
		return stow_err_set(STOW_EUNSUPPORTED,
				    "%s: unexpected key or nonce length",
				    stow_aead_alg_name(alg));
	}
	*out = a;
	return 0;
}

int stow_aead_setkey(stow_aead *a, const uint8_t key[STOW_KEY_LEN])
{
	if (!a || !key)
		return stow_err_set(STOW_EINVAL, "AEAD: NULL argument");
	a->keyed = false;
	if (EVP_CipherInit_ex2(a->ctx, NULL, key, NULL, 1, NULL) != 1)
		return ossl_fail(stow_aead_alg_name(a->alg));
	a->keyed = true;
	return 0;
}

/* Checks shared by seal and open; out may be NULL only if it is to
 * receive nothing (opening an empty message). */
static int check_call(const stow_aead *a, const uint8_t *nonce, const void *aad,
		      size_t aadlen, const void *in, size_t inlen,
		      const uint8_t *out, size_t outlen)
{
	if (!a || !nonce || (!aad && aadlen) || (!in && inlen) ||
	    (!out && outlen))
		return stow_err_set(STOW_EINVAL, "AEAD: NULL argument");
	if (!a->keyed)
		return stow_err_set(STOW_EINVAL, "AEAD: no key set");
	return 0;
}

/* Start a message: set the nonce and direction (enc 1 seal, 0 open) and
 * absorb the AAD. */
static int begin(stow_aead *a, const uint8_t nonce[STOW_NONCE_LEN], int enc,
		 const uint8_t *aad, size_t aadlen)
{
	int outl;

	if (EVP_CipherInit_ex2(a->ctx, NULL, NULL, nonce, enc, NULL) != 1)
		return ossl_fail(stow_aead_alg_name(a->alg));
	while (aadlen > 0) {
		size_t k = aadlen < PIECE ? aadlen : PIECE;

		if (EVP_CipherUpdate(a->ctx, NULL, &outl, aad, (int)k) != 1)
			return ossl_fail(stow_aead_alg_name(a->alg));
		aad += k;
		aadlen -= k;
	}
	return 0;
}

/* Run n bytes through the cipher. Both ciphers are stream modes: every
 * update emits exactly as many bytes as it takes, so out + n is where the
 * next piece goes and in-place (out == in) is safe. A partial overlap is
 * not (OpenSSL does not check for it here). */
static int crypt_body(stow_aead *a, const uint8_t *in, size_t n, uint8_t *out)
{
	int outl;

	while (n > 0) {
		size_t k = n < PIECE ? n : PIECE;

		if (EVP_CipherUpdate(a->ctx, out, &outl, in, (int)k) != 1)
			return ossl_fail(stow_aead_alg_name(a->alg));
		if ((size_t)outl != k)
			return stow_err_set(
			    STOW_EIO, "%s: update emitted %d of %zu bytes",
			    stow_aead_alg_name(a->alg), outl, k);
		in += k;
		out += k;
		n -= k;
	}
	return 0;
}

int stow_aead_seal(stow_aead *a, const uint8_t nonce[STOW_NONCE_LEN],
		   const void *aad, size_t aadlen, const void *pt, size_t ptlen,
		   uint8_t *out)
{
	uint8_t scratch[EVP_MAX_BLOCK_LENGTH]; /* final emits nothing */
	int outl = 0;

	STOW_TRY(check_call(a, nonce, aad, aadlen, pt, ptlen, out, 1));
	if ((uint64_t)ptlen > a->max_pt)
		return stow_err_set(STOW_EINVAL,
				    "%s: %zu bytes exceed the message limit",
				    stow_aead_alg_name(a->alg), ptlen);
	STOW_TRY(begin(a, nonce, 1, aad, aadlen));
	STOW_TRY(crypt_body(a, pt, ptlen, out));
	if (EVP_CipherFinal_ex(a->ctx, scratch, &outl) != 1 || outl != 0 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, STOW_TAG_LEN,
				out + ptlen) != 1)
		return ossl_fail(stow_aead_alg_name(a->alg));
	return 0;
}

int stow_aead_open(stow_aead *a, const uint8_t nonce[STOW_NONCE_LEN],
		   const void *aad, size_t aadlen, const void *ct, size_t ctlen,
		   uint8_t *out)
{
	uint8_t tag[STOW_TAG_LEN], scratch[EVP_MAX_BLOCK_LENGTH];
	size_t n;
	int outl = 0, rc;

	STOW_TRY(check_call(a, nonce, aad, aadlen, ct, ctlen, out,
			    ctlen > STOW_TAG_LEN ? ctlen - STOW_TAG_LEN : 0));
	/* ct comes from storage: too short is damage, not a caller bug. */
	if (ctlen < STOW_TAG_LEN)
		return stow_err_set(
		    STOW_ECORRUPT, "%s: %zu bytes cannot hold a %d-byte tag",
		    stow_aead_alg_name(a->alg), ctlen, STOW_TAG_LEN);
	n = ctlen - STOW_TAG_LEN;
	if ((uint64_t)n > a->max_pt)
		return stow_err_set(STOW_ECORRUPT,
				    "%s: %zu bytes exceed the message limit",
				    stow_aead_alg_name(a->alg), n);
	/* Copy the tag first: with out == ct nothing overwrites it, but the
	 * ctrl wants a writable pointer and we must not depend on that. */
	memcpy(tag, (const uint8_t *)ct + n, STOW_TAG_LEN);
	rc = begin(a, nonce, 0, aad, aadlen);
	if (rc == 0 && EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG,
					   STOW_TAG_LEN, tag) != 1)
		rc = ossl_fail(stow_aead_alg_name(a->alg));
	if (rc == 0)
		rc = crypt_body(a, ct, n, out);
	/* Final compares the tag in constant time; a mismatch is the one
	 * failure it reports. */
	if (rc == 0 && EVP_CipherFinal_ex(a->ctx, scratch, &outl) != 1) {
		ERR_clear_error();
		rc = stow_err_set(STOW_ECORRUPT,
				  "%s: authentication failed (wrong key, "
				  "nonce or associated data, or damaged "
				  "ciphertext)",
				  stow_aead_alg_name(a->alg));
	}
	/* Never hand out unauthenticated plaintext. */
	if (rc < 0)
		stow_secure_zero(out, n);
	return rc;
}

void stow_aead_free(stow_aead *a)
{
	if (!a)
		return;
	/* The GCM and ChaCha20-Poly1305 providers free their contexts (key
	 * schedule, GHASH table, Poly1305 state) with OPENSSL_clear_free. */
	EVP_CIPHER_CTX_free(a->ctx);
	stow_secure_zero(a, sizeof(*a));
	free(a);
}
