/* Unit tests for src/crypto/crypto.c: known-answer tests from published
 * vectors (RFC 5869 HKDF, RFC 7914 scrypt, RFC 9106 Argon2id, RFC 4231
 * HMAC-SHA256, the GCM spec's AES-256 test cases, RFC 8439
 * ChaCha20-Poly1305), keyed BLAKE2b-256 vectors computed with Python's
 * hashlib, Argon2id vectors computed with libsodium, tampering, in-place
 * operation, context reuse, threads, names and argument checks.
 *
 * STOW_CRYPTO_BENCH=1 in the environment also runs the throughput test,
 * which prints MB/s for 1 MiB buffers. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* Only for the RFC 9106 vector, which needs a secret and associated data
 * that stow_argon2id does not take. */
#include <argon2.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/err.h"

/* --- helpers ------------------------------------------------------------- */

/* Decode a hex literal into a fresh buffer (caller frees). */
static uint8_t *hx(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	assert_int_equal(strlen(hex) % 2, 0);
	if (n)
		assert_int_equal(stow_unhex(p, n, hex), 0);
	if (len)
		*len = n;
	return p;
}

static void assert_hex_equal(const uint8_t *got, size_t n, const char *want)
{
	char buf[2 * 512 + 1];

	assert_true(n <= 512);
	assert_int_equal(strlen(want), 2 * n);
	stow_hex(buf, got, n);
	assert_string_equal(buf, want);
}

static void fill_seq(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* The pattern the BLAKE2b and long HMAC vectors were computed over:
 * byte i is (31*i + 7) mod 251. */
static void fill_pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + 7) % 251);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* --- names --------------------------------------------------------------- */

static void test_names(void **state)
{
	static const stow_hash_alg hashes[] = {STOW_HASH_HMAC_SHA256,
					       STOW_HASH_BLAKE2B_256};
	static const stow_aead_alg aeads[] = {STOW_AEAD_AES256GCM,
					      STOW_AEAD_CHACHA20POLY1305};
	stow_hash_alg h;
	stow_aead_alg a;

	(void)state;
	assert_string_equal(stow_hash_alg_name(STOW_HASH_HMAC_SHA256),
			    "hmac-sha256");
	assert_string_equal(stow_hash_alg_name(STOW_HASH_BLAKE2B_256),
			    "blake2b-256");
	assert_string_equal(stow_aead_alg_name(STOW_AEAD_AES256GCM),
			    "aes-256-gcm");
	assert_string_equal(stow_aead_alg_name(STOW_AEAD_CHACHA20POLY1305),
			    "chacha20-poly1305");
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(
		    stow_hash_alg_parse(stow_hash_alg_name(hashes[i]), &h), 0);
		assert_int_equal(h, hashes[i]);
		assert_int_equal(
		    stow_aead_alg_parse(stow_aead_alg_name(aeads[i]), &a), 0);
		assert_int_equal(a, aeads[i]);
	}
	/* Unknown values have a printable name, never NULL. */
	assert_string_equal(stow_hash_alg_name((stow_hash_alg)0), "unknown");
	assert_string_equal(stow_aead_alg_name((stow_aead_alg)99), "unknown");

	h = STOW_HASH_BLAKE2B_256;
	assert_int_equal(stow_hash_alg_parse("sha256", &h), STOW_EINVAL);
	assert_int_equal(h, STOW_HASH_BLAKE2B_256); /* untouched on error */
	assert_non_null(strstr(stow_err_msg(), "sha256"));
	assert_int_equal(stow_hash_alg_parse("", &h), STOW_EINVAL);
	assert_int_equal(stow_hash_alg_parse("HMAC-SHA256", &h), STOW_EINVAL);
	assert_int_equal(stow_hash_alg_parse("hmac-sha256 ", &h), STOW_EINVAL);
	assert_int_equal(stow_hash_alg_parse(NULL, &h), STOW_EINVAL);
	assert_int_equal(stow_hash_alg_parse("hmac-sha256", NULL), STOW_EINVAL);
	assert_int_equal(stow_aead_alg_parse("aes-128-gcm", &a), STOW_EINVAL);
	assert_int_equal(stow_aead_alg_parse("chacha20", &a), STOW_EINVAL);
	assert_int_equal(stow_aead_alg_parse(NULL, &a), STOW_EINVAL);
	assert_int_equal(stow_aead_alg_parse("aes-256-gcm", NULL), STOW_EINVAL);
}

/* --- free-standing functions --------------------------------------------- */

static void test_random(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(stow_random(a, sizeof(a)), 0);
	assert_int_equal(stow_random(b, sizeof(b)), 0);
	/* 2^-512 chance of a false failure. */
	assert_false(all_zero(a, sizeof(a)));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(stow_random(a, 0), 0);
	assert_int_equal(stow_random(NULL, 0), 0);
	assert_int_equal(stow_random(NULL, 1), STOW_EINVAL);
}

static void test_sha256(void **state)
{
	uint8_t out[32];

	(void)state;
	/* FIPS 180-2 examples. */
	assert_int_equal(stow_sha256("abc", 3, out), 0);
	assert_hex_equal(out, 32,
			 "ba7816bf8f01cfea414140de5dae2223"
			 "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(
	    stow_sha256(
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		out),
	    0);
	assert_hex_equal(out, 32,
			 "248d6a61d20638b8e5c026930c3e6039"
			 "a33ce45964ff2167f6ecedd419db06c1");
	assert_int_equal(stow_sha256(NULL, 0, out), 0);
	assert_hex_equal(out, 32,
			 "e3b0c44298fc1c149afbf4c8996fb924"
			 "27ae41e4649b934ca495991b7852b855");
	assert_int_equal(stow_sha256(NULL, 1, out), STOW_EINVAL);
	assert_int_equal(stow_sha256("abc", 3, NULL), STOW_EINVAL);
}

static void test_ct_equal_and_zero(void **state)
{
	uint8_t a[40], b[40];

	(void)state;
	fill_seq(a, sizeof(a), 1);
	memcpy(b, a, sizeof(b));
	assert_int_equal(stow_ct_equal(a, b, sizeof(a)), 1);
	b[39] ^= 0x80;
	assert_int_equal(stow_ct_equal(a, b, sizeof(a)), 0);
	assert_int_equal(stow_ct_equal(a, b, 39), 1);
	b[0] ^= 1;
	assert_int_equal(stow_ct_equal(a, b, 39), 0);
	assert_int_equal(stow_ct_equal(a, b, 0), 1);

	stow_secure_zero(a, sizeof(a));
	assert_true(all_zero(a, sizeof(a)));
	stow_secure_zero(NULL, 0);
	stow_secure_zero(NULL, 5);
}

/* --- HKDF (RFC 5869, appendix A.1-A.3) ----------------------------------- */

static void check_hkdf(const char *ikm_hex, const char *salt_hex,
		       const char *info_hex, const char *okm_hex)
{
	size_t ikmlen, saltlen, infolen, okmlen;
	uint8_t *ikm = hx(ikm_hex, &ikmlen);
	uint8_t *salt = hx(salt_hex, &saltlen);
	uint8_t *info = hx(info_hex, &infolen);
	uint8_t *okm = hx(okm_hex, &okmlen);
	char *label = calloc(1, infolen + 1);
	uint8_t *out = malloc(okmlen);

	assert_non_null(label);
	assert_non_null(out);
	/* The RFC's info strings contain no NUL, so they pass as labels. */
	memcpy(label, info, infolen);
	assert_int_equal(strlen(label), infolen);
	assert_int_equal(stow_hkdf_sha256(out, okmlen, ikm, ikmlen,
					  saltlen ? salt : NULL, saltlen,
					  label),
			 0);
	assert_memory_equal(out, okm, okmlen);
	free(ikm);
	free(salt);
	free(info);
	free(okm);
	free(label);
	free(out);
}

static void test_hkdf_rfc5869(void **state)
{
	(void)state;
	/* A.1: basic. */
	check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		   "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
		   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
		   "2d56ecc4c5bf34007208d5b887185865");
	/* A.2: longer inputs and output. */
	check_hkdf("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c"
		   "1d1e1f202122232425262728292a2b2c2d2e2f30313233343536373839"
		   "3a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
		   "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c"
		   "7d7e7f808182838485868788898a8b8c8d8e8f90919293949596979899"
		   "9a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
		   "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcc"
		   "cdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9"
		   "eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		   "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19"
		   "afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b83677"
		   "93a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
	/* A.3: zero-length salt and info. */
	check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
		   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c"
		   "738d2d9d201395faa4b61a96c8");
}

static void test_hkdf_args(void **state)
{
	static uint8_t big[255 * 32 + 1];
	uint8_t ikm[32], out[32], out2[32];
	char longinfo[1100];

	(void)state;
	fill_seq(ikm, sizeof(ikm), 0);
	/* Different labels give unrelated keys; the same label repeats. */
	assert_int_equal(stow_hkdf_sha256(out, 32, ikm, 32, NULL, 0, "a"), 0);
	assert_int_equal(stow_hkdf_sha256(out2, 32, ikm, 32, NULL, 0, "b"), 0);
	assert_memory_not_equal(out, out2, 32);
	assert_int_equal(stow_hkdf_sha256(out2, 32, ikm, 32, NULL, 0, "a"), 0);
	assert_memory_equal(out, out2, 32);
	/* A shorter output is a prefix of a longer one (RFC 5869 §2.3). */
	assert_int_equal(stow_hkdf_sha256(out2, 7, ikm, 32, NULL, 0, "a"), 0);
	assert_memory_equal(out, out2, 7);
	/* Empty IKM is legal. */
	assert_int_equal(stow_hkdf_sha256(out, 32, NULL, 0, NULL, 0, ""), 0);

	assert_int_equal(stow_hkdf_sha256(big, 255 * 32, ikm, 32, NULL, 0, "x"),
			 0);
	assert_int_equal(
	    stow_hkdf_sha256(big, 255 * 32 + 1, ikm, 32, NULL, 0, "x"),
	    STOW_EINVAL);
	assert_int_equal(stow_hkdf_sha256(out, 0, ikm, 32, NULL, 0, "x"),
			 STOW_EINVAL);
	assert_int_equal(stow_hkdf_sha256(NULL, 32, ikm, 32, NULL, 0, "x"),
			 STOW_EINVAL);
	assert_int_equal(stow_hkdf_sha256(out, 32, NULL, 32, NULL, 0, "x"),
			 STOW_EINVAL);
	assert_int_equal(stow_hkdf_sha256(out, 32, ikm, 32, NULL, 4, "x"),
			 STOW_EINVAL);
	assert_int_equal(stow_hkdf_sha256(out, 32, ikm, 32, NULL, 0, NULL),
			 STOW_EINVAL);
	memset(longinfo, 'i', sizeof(longinfo) - 1);
	longinfo[sizeof(longinfo) - 1] = '\0';
	assert_int_equal(stow_hkdf_sha256(out, 32, ikm, 32, NULL, 0, longinfo),
			 STOW_EINVAL);
}

/* --- scrypt (RFC 7914 §12) ----------------------------------------------- */

static void test_scrypt_rfc7914(void **state)
{
	uint8_t out[64];

	(void)state;
	assert_int_equal(stow_scrypt(out, 64, "", 0, NULL, 0, 16, 1, 1), 0);
	assert_hex_equal(out, 64,
			 "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdf"
			 "fa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb"
			 "2e0d3628cf35e20c38d18906");
	assert_int_equal(stow_scrypt(out, 64, "password", 8,
				     (const uint8_t *)"NaCl", 4, 1024, 8, 16),
			 0);
	assert_hex_equal(out, 64,
			 "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e773"
			 "76634b3731622eaf30d92e22a3886ff109279d9830dac727afb9"
			 "4a83ee6d8360cbdfa2cc0640");
}

static void test_scrypt_args(void **state)
{
	uint8_t out[32];
	const uint8_t salt[4] = {1, 2, 3, 4};

	(void)state;
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, salt, 4, 24, 1, 1),
			 STOW_EINVAL); /* not a power of two */
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, salt, 4, 1, 1, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, salt, 4, 0, 1, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, salt, 4, 16, 0, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, salt, 4, 16, 1, 0),
			 STOW_EINVAL);
	/* RFC 7914: N < 2^(16r). */
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, salt, 4, 65536, 1, 1),
			 STOW_EINVAL);
	assert_int_equal(
	    stow_scrypt(out, 32, "pw", 2, salt, 4, 16, 1 << 15, 1 << 15),
	    STOW_EINVAL);
	/* A hostile key slot cannot make us allocate without bound: refused
	 * before any allocation. */
	assert_int_equal(
	    stow_scrypt(out, 32, "pw", 2, salt, 4, (uint64_t)1 << 40, 8, 1),
	    STOW_ENOMEM);
	assert_int_equal(
	    stow_scrypt(out, 32, "pw", 2, salt, 4, (uint64_t)1 << 63, 8, 1),
	    STOW_ENOMEM);
	assert_int_equal(
	    stow_scrypt(out, 32, "pw", 2, salt, 4, 16, 8, (1 << 20) + 1),
	    STOW_ENOMEM);
	assert_int_equal(stow_scrypt(out, 0, "pw", 2, salt, 4, 16, 1, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_scrypt(NULL, 32, "pw", 2, salt, 4, 16, 1, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_scrypt(out, 32, NULL, 2, salt, 4, 16, 1, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_scrypt(out, 32, "pw", 2, NULL, 4, 16, 1, 1),
			 STOW_EINVAL);
	/* A different password gives a different key. */
	{
		uint8_t a[32], b[32];

		assert_int_equal(stow_scrypt(a, 32, "pw", 2, salt, 4, 16, 1, 1),
				 0);
		assert_int_equal(stow_scrypt(b, 32, "pW", 2, salt, 4, 16, 1, 1),
				 0);
		assert_memory_not_equal(a, b, 32);
	}
}

/* --- Argon2id ------------------------------------------------------------ */

/* RFC 9106 §5.3: Argon2id v1.3, 32 KiB, 3 passes, 4 lanes, with a secret
 * and associated data. stow_argon2id has neither, so this calls
 * argon2_ctx the way stow_argon2id does (version pinned, one thread per
 * lane): it checks that the linked libargon2 is the RFC's Argon2id. */
static void test_argon2id_rfc9106(void **state)
{
	uint8_t out[32], pwd[32], salt[16], secret[8], ad[12];
	argon2_context ctx;

	(void)state;
	memset(pwd, 0x01, sizeof(pwd));
	memset(salt, 0x02, sizeof(salt));
	memset(secret, 0x03, sizeof(secret));
	memset(ad, 0x04, sizeof(ad));
	memset(&ctx, 0, sizeof(ctx));
	ctx.out = out;
	ctx.outlen = sizeof(out);
	ctx.pwd = pwd;
	ctx.pwdlen = sizeof(pwd);
	ctx.salt = salt;
	ctx.saltlen = sizeof(salt);
	ctx.secret = secret;
	ctx.secretlen = sizeof(secret);
	ctx.ad = ad;
	ctx.adlen = sizeof(ad);
	ctx.t_cost = 3;
	ctx.m_cost = 32;
	ctx.lanes = 4;
	ctx.threads = 4;
	ctx.version = ARGON2_VERSION_13;
	assert_int_equal(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
	assert_hex_equal(out, 32,
			 "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb525"
			 "20e96b01e659");
}

/* Vectors without secret or associated data, through stow_argon2id.
 * Computed with an independent implementation, libsodium 1.0.18's
 * crypto_pwhash (ALG_ARGON2ID13, one lane; memlimit = m_kib * 1024,
 * opslimit = t), called from Python through ctypes; the first two also
 * agree with Debian's `argon2` CLI (the reference code, as libargon2):
 *   printf 'stowage argon2id vector' | argon2 "$(printf '\x10...\x1f')" \
 *       -id -t 2 -k 64 -p 1 -l 32 -r
 * The second uses the key slots' default parameters (16 MiB, t = 6). */
static void test_argon2id_vectors(void **state)
{
	uint8_t salt[16], out[64];

	(void)state;
	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)(0x10 + i);
	assert_int_equal(stow_argon2id(out, 32, "stowage argon2id vector", 23,
				       salt, 16, 2, 64, 1),
			 0);
	assert_hex_equal(out, 32,
			 "b3b4cc69b3da5b5761f9ba733139278a19f0d731c3f229e2208c"
			 "efb9f9361005");
	assert_int_equal(stow_argon2id(out, 32, "correct horse battery staple",
				       28, (const uint8_t *)"sixteen byte slt",
				       16, 6, 16384, 1),
			 0);
	assert_hex_equal(out, 32,
			 "92f52b5ee5f51a0a12214f6deb7d5fd9b7d890cfe4818234e9c2"
			 "43065ce9131c");
	/* Empty password, zero salt, the smallest memory (8 KiB), 64 bytes
	 * out. */
	memset(salt, 0, sizeof(salt));
	assert_int_equal(stow_argon2id(out, 64, NULL, 0, salt, 16, 1, 8, 1), 0);
	assert_hex_equal(out, 64,
			 "02dc759cf06db33964694901d9161004a6c24c942fe53ebe6d62"
			 "9276dec7389f127cac3c5e60010672348915fd55e4473a0869c9"
			 "e8df6a2017daab25fe710156");
}

static void test_argon2id_args(void **state)
{
	uint8_t out[32], a[32], b[32];
	const uint8_t salt[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	(void)state;
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 1, 8, 1), 0);
	/* Passes, lanes and the per-lane minimum of memory. */
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 0, 64, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 33, 64, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 1, 64, 0),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 1, 1024, 17),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 1, 31, 4),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 1, 7, 1),
			 STOW_EINVAL);
	/* A hostile key slot cannot make us allocate more than 1 GiB:
	 * refused before any allocation. */
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 8, 1,
				       STOW_ARGON2_MAX_KIB + 1, 1),
			 STOW_ENOMEM);
	assert_non_null(strstr(stow_err_msg(), "1024 MiB cap"));
	assert_int_equal(
	    stow_argon2id(out, 32, "pw", 2, salt, 8, 1, UINT32_MAX, 1),
	    STOW_ENOMEM);
	/* Salt and output lengths Argon2 requires; NULL pointers. */
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, salt, 7, 1, 8, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 3, "pw", 2, salt, 8, 1, 8, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(NULL, 32, "pw", 2, salt, 8, 1, 8, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, NULL, 2, salt, 8, 1, 8, 1),
			 STOW_EINVAL);
	assert_int_equal(stow_argon2id(out, 32, "pw", 2, NULL, 8, 1, 8, 1),
			 STOW_EINVAL);
	/* Every parameter changes the key. */
	assert_int_equal(stow_argon2id(a, 32, "pw", 2, salt, 8, 1, 64, 1), 0);
	assert_int_equal(stow_argon2id(b, 32, "pW", 2, salt, 8, 1, 64, 1), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(stow_argon2id(b, 32, "pw", 2, salt, 8, 2, 64, 1), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(stow_argon2id(b, 32, "pw", 2, salt, 8, 1, 128, 1), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(stow_argon2id(b, 32, "pw", 2, salt, 8, 1, 64, 2), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(stow_argon2id(b, 32, "pw", 2, salt, 8, 1, 64, 1), 0);
	assert_memory_equal(a, b, 32);
}

/* --- keyed hash ---------------------------------------------------------- */

/* RFC 4231 cases through the 32-byte-key API. HMAC zero-pads a key shorter
 * than the 64-byte block and replaces a longer one by its hash (RFC 2104
 * §2), so a key of up to 32 bytes zero-padded to 32, or SHA-256 of a key
 * longer than 64 bytes, is the same HMAC key and gives the published
 * output. */
static void check_hmac(const uint8_t *key, size_t keylen, const void *data,
		       size_t len, const char *want, size_t wantlen)
{
	uint8_t k[STOW_KEY_LEN] = {0}, out[STOW_ID_LEN];
	char want_prefix[65];
	stow_hasher *h = NULL;

	if (keylen > 64)
		assert_int_equal(stow_sha256(key, keylen, k), 0);
	else {
		assert_true(keylen <= STOW_KEY_LEN);
		memcpy(k, key, keylen);
	}
	assert_int_equal(stow_hasher_new(&h, STOW_HASH_HMAC_SHA256, k), 0);
	assert_int_equal(stow_hasher_digest(h, data, len, out), 0);
	/* Case 5 publishes only a 128-bit truncation. */
	snprintf(want_prefix, sizeof(want_prefix), "%s", want);
	assert_hex_equal(out, wantlen, want_prefix);
	stow_hasher_free(h);
}

static void test_hmac_rfc4231(void **state)
{
	uint8_t key[131];
	uint8_t data[50];

	(void)state;
	memset(key, 0x0b, 20);
	check_hmac(
	    key, 20, "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32"
	    "cff7",
	    32);
	check_hmac(
	    (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec"
	    "3843",
	    32);
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	check_hmac(
	    key, 20, data, 50,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced5"
	    "65fe",
	    32);
	fill_seq(key, 25, 1);
	memset(data, 0xcd, 50);
	check_hmac(
	    key, 25, data, 50,
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729"
	    "665b",
	    32);
	memset(key, 0x0c, 20);
	check_hmac(key, 20, "Test With Truncation", 20,
		   "a3b6167473100ee06e0c796c2955552b", 16);
	memset(key, 0xaa, 131);
	check_hmac(
	    key, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
	    54,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee3"
	    "7f54",
	    32);
	check_hmac(
	    key, 131,
	    "This is a test using a larger than block-size key and a "
	    "larger than block-size data. The key needs to be hashed "
	    "before being used by the HMAC algorithm.",
	    152,
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a"
	    "35e2",
	    32);
}

/* Vectors for key = 00 01 .. 1f over fill_pattern(n) ("abc" for n = 3),
 * from Python: hashlib.blake2b(d, key=key, digest_size=32) and
 * hmac.new(key, d, "sha256"). The lengths straddle BLAKE2b's 128-byte and
 * SHA-256's 64-byte blocks. One hasher computes all of them in turn, so
 * the rewind between digests is covered too. */
static const struct keyed_vec {
	size_t len;
	const char *blake2b;
	const char *hmac;
} keyed_vecs[] = {
    {0, "4e51e7a913fc80137da52880fecca175bf81e117d5c68126dc2774033517ea0d",
     "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb"},
    {3, "d63a32d3e44738d7907f964316c241adaba0abfeabc32349677578a15a203f7f",
     "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47"},
    {128, "1d351e0070d0ac911d3653b737f7699952f7893b911813e6d6af299ebd752bb2",
     "0ac9cdff0b69500a63fd58e791680a41fc13b0cb2fb80ca0c04530e8b81aa329"},
    {129, "2bab9e289303d22354dd7d76463cc1e5ffce49e85f1829a7d1cd4efdeb7f360d",
     "a5cfad3f9fd12c75cfef44a7eec67e1e1f00c5e0abc3973b43811a8e45351895"},
    {1000, "fae8b6c756ad6868778771a7c6fae5899c28ea4b648d8366b3e22b8ed71665cd",
     "1b034f46b23043d1334295359f60970036cb969c2c123dba7201913b5c2b13f4"},
    {1 << 20,
     "664b436cfefe16e05292b4c7645b8a4f7f417c9b921aa2aaccee4451532fded7",
     "71e9141a0c1f62db3d66f634e2a7f16ba49eb8f54112b2a1e2fd85e36e27b640"},
};

static void check_keyed_vecs(stow_hash_alg alg)
{
	uint8_t key[STOW_KEY_LEN], out[STOW_ID_LEN];
	uint8_t *data = malloc(1 << 20);
	stow_hasher *h = NULL;

	assert_non_null(data);
	fill_seq(key, sizeof(key), 0);
	assert_int_equal(stow_hasher_new(&h, alg, key), 0);
	/* Twice round, so that each length follows every other. */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(keyed_vecs) / sizeof(*keyed_vecs);
		     i++) {
			const struct keyed_vec *v = &keyed_vecs[i];

			if (v->len == 3)
				memcpy(data, "abc", 3);
			else
				fill_pattern(data, v->len);
			assert_int_equal(
			    stow_hasher_digest(h, v->len ? data : NULL, v->len,
					       out),
			    0);
			assert_hex_equal(out, 32,
					 alg == STOW_HASH_BLAKE2B_256
					     ? v->blake2b
					     : v->hmac);
		}
	}
	stow_hasher_free(h);
	free(data);
}

static void test_hmac_sha256_vectors(void **state)
{
	(void)state;
	check_keyed_vecs(STOW_HASH_HMAC_SHA256);
}

static void test_blake2b_256_vectors(void **state)
{
	(void)state;
	check_keyed_vecs(STOW_HASH_BLAKE2B_256);
}

static void test_hasher_keys_and_args(void **state)
{
	uint8_t k1[32], k2[32], a[32], b[32];
	stow_hasher *h1 = NULL, *h2 = NULL, *h = (stow_hasher *)&h;

	(void)state;
	fill_seq(k1, 32, 0);
	memcpy(k2, k1, 32);
	k2[31] ^= 1;
	for (int alg = STOW_HASH_HMAC_SHA256; alg <= STOW_HASH_BLAKE2B_256;
	     alg++) {
		assert_int_equal(stow_hasher_new(&h1, alg, k1), 0);
		assert_int_equal(stow_hasher_new(&h2, alg, k2), 0);
		/* A content ID depends on the key. */
		assert_int_equal(stow_hasher_digest(h1, "x", 1, a), 0);
		assert_int_equal(stow_hasher_digest(h2, "x", 1, b), 0);
		assert_memory_not_equal(a, b, 32);
		assert_int_equal(stow_hasher_digest(NULL, "x", 1, a),
				 STOW_EINVAL);
		assert_int_equal(stow_hasher_digest(h1, NULL, 1, a),
				 STOW_EINVAL);
		assert_int_equal(stow_hasher_digest(h1, "x", 1, NULL),
				 STOW_EINVAL);
		/* Still usable, and unchanged, after refused calls. */
		assert_int_equal(stow_hasher_digest(h1, "x", 1, b), 0);
		assert_memory_equal(a, b, 32);
		stow_hasher_free(h1);
		stow_hasher_free(h2);
		h1 = h2 = NULL;
	}
	/* The two algorithms differ. */
	assert_int_equal(stow_hasher_new(&h1, STOW_HASH_HMAC_SHA256, k1), 0);
	assert_int_equal(stow_hasher_new(&h2, STOW_HASH_BLAKE2B_256, k1), 0);
	assert_int_equal(stow_hasher_digest(h1, "x", 1, a), 0);
	assert_int_equal(stow_hasher_digest(h2, "x", 1, b), 0);
	assert_memory_not_equal(a, b, 32);
	stow_hasher_free(h1);
	stow_hasher_free(h2);

	assert_int_equal(stow_hasher_new(&h, (stow_hash_alg)0, k1),
			 STOW_EUNSUPPORTED);
	assert_null(h); /* *out is cleared on failure */
	assert_int_equal(stow_hasher_new(&h, (stow_hash_alg)3, k1),
			 STOW_EUNSUPPORTED);
	assert_int_equal(stow_hasher_new(&h, STOW_HASH_HMAC_SHA256, NULL),
			 STOW_EINVAL);
	assert_null(h);
	assert_int_equal(stow_hasher_new(NULL, STOW_HASH_HMAC_SHA256, k1),
			 STOW_EINVAL);
	stow_hasher_free(NULL);
}

/* --- AEAD known answers -------------------------------------------------- */

/* Seal pt and compare with ct || tag; open it back; also in place. */
static void check_aead(stow_aead_alg alg, const char *key_hex,
		       const char *nonce_hex, const char *aad_hex,
		       const char *pt_hex, const char *ct_hex,
		       const char *tag_hex)
{
	size_t keylen, noncelen, aadlen, ptlen, ctlen, taglen;
	uint8_t *key = hx(key_hex, &keylen);
	uint8_t *nonce = hx(nonce_hex, &noncelen);
	uint8_t *aad = hx(aad_hex, &aadlen);
	uint8_t *pt = hx(pt_hex, &ptlen);
	uint8_t *ct = hx(ct_hex, &ctlen);
	uint8_t *tag = hx(tag_hex, &taglen);
	uint8_t *buf = malloc(ptlen + STOW_TAG_LEN);
	uint8_t *back = malloc(ptlen + 1);
	stow_aead *a = NULL;

	assert_non_null(buf);
	assert_non_null(back);
	assert_int_equal(keylen, STOW_KEY_LEN);
	assert_int_equal(noncelen, STOW_NONCE_LEN);
	assert_int_equal(ctlen, ptlen);
	assert_int_equal(taglen, STOW_TAG_LEN);

	assert_int_equal(stow_aead_new(&a, alg), 0);
	assert_int_equal(stow_aead_setkey(a, key), 0);
	assert_int_equal(stow_aead_seal(a, nonce, aadlen ? aad : NULL, aadlen,
					ptlen ? pt : NULL, ptlen, buf),
			 0);
	assert_memory_equal(buf, ct, ctlen);
	assert_memory_equal(buf + ctlen, tag, STOW_TAG_LEN);

	assert_int_equal(stow_aead_open(a, nonce, aadlen ? aad : NULL, aadlen,
					buf, ctlen + STOW_TAG_LEN, back),
			 0);
	assert_memory_equal(back, pt, ptlen);

	/* In place, both ways. */
	memcpy(buf, pt, ptlen);
	assert_int_equal(stow_aead_seal(a, nonce, aad, aadlen, buf, ptlen, buf),
			 0);
	assert_memory_equal(buf, ct, ctlen);
	assert_memory_equal(buf + ctlen, tag, STOW_TAG_LEN);
	assert_int_equal(stow_aead_open(a, nonce, aad, aadlen, buf,
					ctlen + STOW_TAG_LEN, buf),
			 0);
	assert_memory_equal(buf, pt, ptlen);

	stow_aead_free(a);
	free(key);
	free(nonce);
	free(aad);
	free(pt);
	free(ct);
	free(tag);
	free(buf);
	free(back);
}

#define GCM_K "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM_IV "cafebabefacedbaddecaf888"
#define GCM_P                                                                  \
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"     \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_C                                                                  \
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"     \
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
#define ZERO32                                                                 \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test cases
 * 13-16 (the 256-bit-key ones with a 96-bit IV). */
static void test_aes256gcm_spec(void **state)
{
	(void)state;
	check_aead(STOW_AEAD_AES256GCM, ZERO32, "000000000000000000000000", "",
		   "", "", "530f8afbc74536b9a963b4f1c4cb738b");
	check_aead(STOW_AEAD_AES256GCM, ZERO32, "000000000000000000000000", "",
		   "00000000000000000000000000000000",
		   "cea7403d4d606b6e074ec5d3baf39d18",
		   "d0d1c8a799996bf0265b98b5d48ab919");
	check_aead(STOW_AEAD_AES256GCM, GCM_K, GCM_IV, "", GCM_P "1aafd255",
		   GCM_C "898015ad", "b094dac5d93471bdec1a502270e3cc6c");
	check_aead(STOW_AEAD_AES256GCM, GCM_K, GCM_IV,
		   "feedfacedeadbeeffeedfacedeadbeefabaddad2", GCM_P, GCM_C,
		   "76fc6ece0f4e1768cddf8853bb2d551b");
}

/* RFC 8439 §2.8.2. */
static void test_chacha20poly1305_rfc8439(void **state)
{
	static const char pt[] =
	    "Ladies and Gentlemen of the class of '99: If I could offer "
	    "you only one tip for the future, sunscreen would be it.";
	char pt_hex[2 * sizeof(pt) + 1];

	(void)state;
	stow_hex(pt_hex, pt, sizeof(pt) - 1);
	check_aead(
	    STOW_AEAD_CHACHA20POLY1305,
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d"
	    "9e9f",
	    "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7", pt_hex,
	    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee"
	    "62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b6"
	    "7ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585"
	    "808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
	    "1ae10b594f09e26a7e902ecbd0600691");
}

/* --- AEAD tampering and reuse -------------------------------------------- */

#define TAMPER_PT 100

static const stow_aead_alg all_aeads[] = {STOW_AEAD_AES256GCM,
					  STOW_AEAD_CHACHA20POLY1305};

/* Open with the given inputs; expect STOW_ECORRUPT and a zeroed output. */
static void expect_corrupt(stow_aead *a, const uint8_t *nonce,
			   const uint8_t *aad, size_t aadlen, const uint8_t *ct,
			   size_t ctlen)
{
	uint8_t out[TAMPER_PT + 64];

	memset(out, 0xa5, sizeof(out));
	stow_err_clear();
	assert_int_equal(stow_aead_open(a, nonce, aad, aadlen, ct, ctlen, out),
			 STOW_ECORRUPT);
	assert_true(ctlen < STOW_TAG_LEN ||
		    all_zero(out, ctlen - STOW_TAG_LEN));
	assert_true(strlen(stow_err_msg()) > 0);
}

static void test_aead_tamper(void **state)
{
	uint8_t key[32], key2[32], nonce[12], aad[20], pt[TAMPER_PT];
	uint8_t ct[TAMPER_PT + STOW_TAG_LEN], out[TAMPER_PT];
	const size_t ctlen = sizeof(ct);

	(void)state;
	fill_seq(key, 32, 0x40);
	memcpy(key2, key, 32);
	key2[0] ^= 1;
	fill_seq(nonce, 12, 0x90);
	fill_seq(aad, 20, 0xc0);
	fill_pattern(pt, sizeof(pt));
	for (size_t ai = 0; ai < 2; ai++) {
		stow_aead *a = NULL;

		assert_int_equal(stow_aead_new(&a, all_aeads[ai]), 0);
		assert_int_equal(stow_aead_setkey(a, key), 0);
		assert_int_equal(stow_aead_seal(a, nonce, aad, sizeof(aad), pt,
						sizeof(pt), ct),
				 0);
		/* Every single-bit flip of the ciphertext or the tag. */
		for (size_t bit = 0; bit < ctlen * 8; bit++) {
			ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			expect_corrupt(a, nonce, aad, sizeof(aad), ct, ctlen);
			ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* ... of the AAD and the nonce. */
		for (size_t bit = 0; bit < sizeof(aad) * 8; bit++) {
			aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			expect_corrupt(a, nonce, aad, sizeof(aad), ct, ctlen);
			aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		for (size_t bit = 0; bit < sizeof(nonce) * 8; bit++) {
			nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			expect_corrupt(a, nonce, aad, sizeof(aad), ct, ctlen);
			nonce[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Missing, extra or truncated pieces. */
		expect_corrupt(a, nonce, aad, sizeof(aad) - 1, ct, ctlen);
		expect_corrupt(a, nonce, NULL, 0, ct, ctlen);
		expect_corrupt(a, nonce, aad, sizeof(aad), ct, ctlen - 1);
		expect_corrupt(a, nonce, aad, sizeof(aad), ct + 1, ctlen - 1);
		expect_corrupt(a, nonce, aad, sizeof(aad), ct, STOW_TAG_LEN);
		expect_corrupt(a, nonce, aad, sizeof(aad), ct,
			       STOW_TAG_LEN - 1);
		expect_corrupt(a, nonce, aad, sizeof(aad), ct, 0);
		/* Wrong key. */
		assert_int_equal(stow_aead_setkey(a, key2), 0);
		expect_corrupt(a, nonce, aad, sizeof(aad), ct, ctlen);
		/* After all those failures the context still works. */
		assert_int_equal(stow_aead_setkey(a, key), 0);
		assert_int_equal(
		    stow_aead_open(a, nonce, aad, sizeof(aad), ct, ctlen, out),
		    0);
		assert_memory_equal(out, pt, sizeof(pt));

		/* An in-place open that fails wipes the buffer. */
		ct[3] ^= 1;
		assert_int_equal(
		    stow_aead_open(a, nonce, aad, sizeof(aad), ct, ctlen, ct),
		    STOW_ECORRUPT);
		assert_true(all_zero(ct, sizeof(pt)));
		stow_aead_free(a);
	}
}

/* Alternating seal/open, key changes, empty messages: a reused context
 * gives the same bytes as a fresh one. */
static void test_aead_reuse(void **state)
{
	enum { N = 3000 };
	uint8_t key[3][32], nonce[12], *pt, *ct, *ct2, *back;

	(void)state;
	pt = malloc(N);
	ct = malloc(N + STOW_TAG_LEN);
	ct2 = malloc(N + STOW_TAG_LEN);
	back = malloc(N);
	assert_true(pt && ct && ct2 && back);
	fill_pattern(pt, N);
	for (int k = 0; k < 3; k++)
		fill_seq(key[k], 32, (uint8_t)(k * 50));
	for (size_t ai = 0; ai < 2; ai++) {
		stow_aead *a = NULL;

		assert_int_equal(stow_aead_new(&a, all_aeads[ai]), 0);
		for (int i = 0; i < 60; i++) {
			size_t len = (size_t)(i * 97) % N;
			int k = i % 3;
			stow_aead *fresh = NULL;

			if (i % 2 == 0)
				assert_int_equal(stow_aead_setkey(a, key[k]),
						 0);
			else
				k = (i - 1) % 3;
			memset(nonce, 0, sizeof(nonce));
			stow_put_le64(nonce, (uint64_t)i);
			assert_int_equal(stow_aead_seal(a, nonce, &i, sizeof(i),
							pt, len, ct),
					 0);
			assert_int_equal(stow_aead_new(&fresh, all_aeads[ai]),
					 0);
			assert_int_equal(stow_aead_setkey(fresh, key[k]), 0);
			assert_int_equal(stow_aead_seal(fresh, nonce, &i,
							sizeof(i), pt, len,
							ct2),
					 0);
			assert_memory_equal(ct, ct2, len + STOW_TAG_LEN);
			stow_aead_free(fresh);
			assert_int_equal(stow_aead_open(a, nonce, &i, sizeof(i),
							ct, len + STOW_TAG_LEN,
							len ? back : NULL),
					 0);
			assert_memory_equal(back, pt, len);
		}
		stow_aead_free(a);
	}
	/* The two ciphers really differ. */
	{
		stow_aead *g = NULL, *c = NULL;

		memset(nonce, 0, sizeof(nonce));
		assert_int_equal(stow_aead_new(&g, STOW_AEAD_AES256GCM), 0);
		assert_int_equal(stow_aead_new(&c, STOW_AEAD_CHACHA20POLY1305),
				 0);
		assert_int_equal(stow_aead_setkey(g, key[0]), 0);
		assert_int_equal(stow_aead_setkey(c, key[0]), 0);
		assert_int_equal(stow_aead_seal(g, nonce, NULL, 0, pt, 64, ct),
				 0);
		assert_int_equal(stow_aead_seal(c, nonce, NULL, 0, pt, 64, ct2),
				 0);
		assert_memory_not_equal(ct, ct2, 64 + STOW_TAG_LEN);
		expect_corrupt(c, nonce, NULL, 0, ct, 64 + STOW_TAG_LEN);
		stow_aead_free(g);
		stow_aead_free(c);
	}
	free(pt);
	free(ct);
	free(ct2);
	free(back);
}

static void test_aead_args(void **state)
{
	uint8_t key[32] = {0}, nonce[12] = {0}, buf[64] = {0}, out[64];
	stow_aead *a = (stow_aead *)&a;

	(void)state;
	assert_int_equal(stow_aead_new(&a, (stow_aead_alg)0),
			 STOW_EUNSUPPORTED);
	assert_null(a);
	assert_int_equal(stow_aead_new(&a, (stow_aead_alg)7),
			 STOW_EUNSUPPORTED);
	assert_int_equal(stow_aead_new(NULL, STOW_AEAD_AES256GCM), STOW_EINVAL);

	for (size_t ai = 0; ai < 2; ai++) {
		assert_int_equal(stow_aead_new(&a, all_aeads[ai]), 0);
		/* No key yet. */
		assert_int_equal(
		    stow_aead_seal(a, nonce, NULL, 0, buf, 16, out),
		    STOW_EINVAL);
		assert_int_equal(
		    stow_aead_open(a, nonce, NULL, 0, buf, 32, out),
		    STOW_EINVAL);
		assert_int_equal(stow_aead_setkey(a, NULL), STOW_EINVAL);
		assert_int_equal(stow_aead_setkey(NULL, key), STOW_EINVAL);
		assert_int_equal(stow_aead_setkey(a, key), 0);

		assert_int_equal(
		    stow_aead_seal(NULL, nonce, NULL, 0, buf, 16, out),
		    STOW_EINVAL);
		assert_int_equal(stow_aead_seal(a, NULL, NULL, 0, buf, 16, out),
				 STOW_EINVAL);
		assert_int_equal(
		    stow_aead_seal(a, nonce, NULL, 4, buf, 16, out),
		    STOW_EINVAL);
		assert_int_equal(
		    stow_aead_seal(a, nonce, NULL, 0, NULL, 16, out),
		    STOW_EINVAL);
		assert_int_equal(
		    stow_aead_seal(a, nonce, NULL, 0, buf, 16, NULL),
		    STOW_EINVAL);
		assert_int_equal(
		    stow_aead_seal(a, nonce, NULL, 0, NULL, 0, NULL),
		    STOW_EINVAL); /* the tag still needs room */
		assert_int_equal(stow_aead_open(a, NULL, NULL, 0, buf, 32, out),
				 STOW_EINVAL);
		assert_int_equal(
		    stow_aead_open(a, nonce, NULL, 0, NULL, 32, out),
		    STOW_EINVAL);
		assert_int_equal(
		    stow_aead_open(a, nonce, NULL, 0, buf, 32, NULL),
		    STOW_EINVAL);
		assert_int_equal(
		    stow_aead_open(NULL, nonce, NULL, 0, buf, 32, out),
		    STOW_EINVAL);

		/* Empty plaintext: the sealed form is the tag alone, and
		 * opening it needs no output buffer. */
		assert_int_equal(
		    stow_aead_seal(a, nonce, NULL, 0, NULL, 0, buf), 0);
		assert_int_equal(
		    stow_aead_open(a, nonce, NULL, 0, buf, STOW_TAG_LEN, NULL),
		    0);
		stow_aead_free(a);
		a = NULL;
	}
	stow_aead_free(NULL);
}

/* --- threads ------------------------------------------------------------- */

enum { THREADS = 4, THREAD_ITERS = 50 };

struct thread_arg {
	const uint8_t *data;
	const uint8_t *want_id;
	const uint8_t *want_okm;
	int failures;
};

/* Each thread owns its contexts; the free-standing functions are shared.
 * Run under TSan to check the once-only algorithm fetch. */
static void *thread_main(void *p)
{
	struct thread_arg *t = p;
	uint8_t key[32], id[32], okm[32], nonce[12] = {0};
	uint8_t ct[1000 + STOW_TAG_LEN], back[1000];
	stow_hasher *h = NULL;
	stow_aead *a = NULL;

	fill_seq(key, 32, 0);
	if (stow_hasher_new(&h, STOW_HASH_BLAKE2B_256, key) < 0 ||
	    stow_aead_new(&a, STOW_AEAD_CHACHA20POLY1305) < 0 ||
	    stow_aead_setkey(a, key) < 0) {
		t->failures++;
		goto out;
	}
	for (int i = 0; i < THREAD_ITERS; i++) {
		if (stow_hasher_digest(h, t->data, 1000, id) < 0 ||
		    memcmp(id, t->want_id, 32) != 0)
			t->failures++;
		if (stow_hkdf_sha256(okm, 32, key, 32, NULL, 0, "thread") < 0 ||
		    memcmp(okm, t->want_okm, 32) != 0)
			t->failures++;
		nonce[0] = (uint8_t)i;
		if (stow_aead_seal(a, nonce, NULL, 0, t->data, 1000, ct) < 0 ||
		    stow_aead_open(a, nonce, NULL, 0, ct, sizeof(ct), back) <
			0 ||
		    memcmp(back, t->data, 1000) != 0)
			t->failures++;
	}
out:
	stow_hasher_free(h);
	stow_aead_free(a);
	return NULL;
}

static void test_threads(void **state)
{
	uint8_t data[1000], want_okm[32], key[32];
	const char *want_hex =
	    "fae8b6c756ad6868778771a7c6fae5899c28ea4b648d8366b3e22b8ed71665cd";
	uint8_t want_id[32];
	pthread_t th[THREADS];
	struct thread_arg args[THREADS];

	(void)state;
	fill_pattern(data, sizeof(data));
	fill_seq(key, 32, 0);
	assert_int_equal(stow_unhex(want_id, 32, want_hex), 0);
	assert_int_equal(
	    stow_hkdf_sha256(want_okm, 32, key, 32, NULL, 0, "thread"), 0);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){data, want_id, want_okm, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
}

/* --- throughput (opt-in) ------------------------------------------------- */

/* CPU time of this thread, not wall time: the figure is per-core speed,
 * and it stays meaningful on a machine busy with other work. */
static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum {
	BENCH_HMAC,
	BENCH_BLAKE2B,
	BENCH_GCM_SEAL,
	BENCH_CHACHA_SEAL,
	BENCH_GCM_OPEN,
	BENCH_CHACHA_OPEN
};

static const char *const bench_names[] = {
    "HMAC-SHA256",	"BLAKE2b-256",
    "AES-256-GCM seal", "ChaCha20-Poly1305 seal",
    "AES-256-GCM open", "ChaCha20-Poly1305 open",
};

/* Run one operation on `len`-byte buffers for about `secs` CPU seconds and
 * return MB/s (10^6 bytes per CPU second). */
static double bench_one(int what, size_t len, double secs)
{
	uint8_t key[32] = {1}, nonce[12] = {0}, id[32];
	uint8_t *buf = malloc(len + STOW_TAG_LEN), *out = malloc(len + 16);
	stow_hasher *h = NULL;
	stow_aead *a = NULL;
	long iters = 0;
	double t0, t;

	assert_true(buf && out);
	fill_pattern(buf, len);
	if (what <= BENCH_BLAKE2B)
		assert_int_equal(stow_hasher_new(&h,
						 what == BENCH_HMAC
						     ? STOW_HASH_HMAC_SHA256
						     : STOW_HASH_BLAKE2B_256,
						 key),
				 0);
	else {
		int chacha =
		    what == BENCH_CHACHA_SEAL || what == BENCH_CHACHA_OPEN;

		assert_int_equal(
		    stow_aead_new(&a, chacha ? STOW_AEAD_CHACHA20POLY1305
					     : STOW_AEAD_AES256GCM),
		    0);
		assert_int_equal(stow_aead_setkey(a, key), 0);
		if (what >= BENCH_GCM_OPEN)
			assert_int_equal(
			    stow_aead_seal(a, nonce, NULL, 0, buf, len, buf),
			    0);
	}
	t0 = now_sec();
	do {
		for (int i = 0; i < 16; i++) {
			int rc;

			switch (what) {
			case BENCH_HMAC:
			case BENCH_BLAKE2B:
				rc = stow_hasher_digest(h, buf, len, id);
				break;
			case BENCH_GCM_SEAL:
			case BENCH_CHACHA_SEAL:
				rc = stow_aead_seal(a, nonce, NULL, 0, buf, len,
						    out);
				break;
			default:
				rc = stow_aead_open(a, nonce, NULL, 0, buf,
						    len + STOW_TAG_LEN, out);
				break;
			}
			assert_int_equal(rc, 0);
		}
		iters += 16;
		t = now_sec() - t0;
	} while (t < secs);
	stow_hasher_free(h);
	stow_aead_free(a);
	free(buf);
	free(out);
	return (double)len * (double)iters / t / 1e6;
}

static void test_throughput(void **state)
{
	static const size_t sizes[] = {1 << 20, 64 << 10, 4096, 64};

	(void)state;
	if (!getenv("STOW_CRYPTO_BENCH"))
		skip();
	for (int w = BENCH_HMAC; w <= BENCH_CHACHA_OPEN; w++) {
		printf("%-24s", bench_names[w]);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(*sizes); s++)
			printf("  %8.0f MB/s @%zu", bench_one(w, sizes[s], 0.5),
			       sizes[s]);
		printf("\n");
	}
}

/* One-shot HMAC with a short and a long key (RFC 2104 hashes keys longer
 * than the block): the well-known "quick brown fox" vector, and RFC 4231
 * test case 6 (131-byte key). */
static void test_hmac_sha256_oneshot(void **state)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	static const char tc6[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";
	uint8_t out[32], key6[131];
	char hex[65];

	(void)state;
	assert_int_equal(stow_hmac_sha256("key", 3, fox, strlen(fox), out), 0);
	stow_hex(hex, out, 32);
	assert_string_equal(hex, "f7bc83f430538424b13298e6aa6fb143"
				 "ef4d59a14946175997479dbc2d1a3cd8");
	memset(key6, 0xaa, sizeof(key6));
	assert_int_equal(stow_hmac_sha256(key6, sizeof(key6), tc6,
					  strlen(tc6), out),
			 0);
	stow_hex(hex, out, 32);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f"
				 "8e0bc6213728c5140546040f0ee37f54");
	assert_int_equal(stow_hmac_sha256(NULL, 1, fox, 1, out), STOW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac_sha256_oneshot),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_ct_equal_and_zero),
	    cmocka_unit_test(test_hkdf_rfc5869),
	    cmocka_unit_test(test_hkdf_args),
	    cmocka_unit_test(test_scrypt_rfc7914),
	    cmocka_unit_test(test_scrypt_args),
	    cmocka_unit_test(test_argon2id_rfc9106),
	    cmocka_unit_test(test_argon2id_vectors),
	    cmocka_unit_test(test_argon2id_args),
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_hmac_sha256_vectors),
	    cmocka_unit_test(test_blake2b_256_vectors),
	    cmocka_unit_test(test_hasher_keys_and_args),
	    cmocka_unit_test(test_aes256gcm_spec),
	    cmocka_unit_test(test_chacha20poly1305_rfc8439),
	    cmocka_unit_test(test_aead_tamper),
	    cmocka_unit_test(test_aead_reuse),
	    cmocka_unit_test(test_aead_args),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_throughput),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
