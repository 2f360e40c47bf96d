/* Known-answer tests of the vault's encryption envelope against
 * docs/FORMAT.md.
 *
 * The vectors below were computed from the text of FORMAT.md alone, in
 * Python with the `cryptography` package, by
 * tests/fuzz/gen/envelope_vectors.py (run it with --update <this file> to
 * regenerate them). For two algorithm suites they fix the master secret
 * (bytes 0..63) and repository ID (32 x 0xa5) and give: the derived keys
 * (§2), the pack key of a fixed pack ID, the nonce, associated data and
 * exact ciphertext + tag of two blobs at offsets 48 and after (§5), the
 * content IDs (§3), a whole pack with its trailer, an index object, a
 * config, a snapshot-kind sealed object (§4) and a key slot (§2.1).
 *
 * Both directions are checked:
 * - read side: the C code opens what Python wrote (down to stow_repo_open
 *   of a repository made only of Python-built objects, which also checks
 *   the static derive_keys() through the keys it leaves in the repo);
 * - write side: what the C code writes (stow_repo_init, the writer,
 *   stow_sealed_put) is opened here by a second, spec-literal reader that
 *   uses only the primitives (HKDF, AEAD, scrypt, Argon2id), not the
 *   vault's own parsers. The first suite's repository gets an Argon2id
 *   key slot (the default KDF), the second a scrypt one.
 *
 * The Python vectors' key slot is scrypt only: the `cryptography`
 * package has no Argon2 here (it needs OpenSSL 3.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/compress.h"
#include "vault/repo_internal.h"
#include "vault/vault.h"

/* BEGIN GENERATED VECTORS (tests/fuzz/gen/envelope_vectors.py) */

static const char kat_index_name[] =
	"index/"
	"3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c";

static const char kat_snap_name[] =
	"snapshots/"
	"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

static const char kat_slot_name[] =
	"keys/"
	"00112233aabbccdd";

static const char kat_password[] = "kat password";

static const char kat_pt0[] =
	"73746f77616765206b6e6f776e2d616e7377657220626c6f6220303a2073746f"
	"72656420776974686f757420636f6d7072657373696f6e0a";

static const char kat_pt1[] =
	"6c696e65203030303a2074686520717569636b2062726f776e20666f78206a75"
	"6d7073206f76657220746865206c617a7920646f670a6c696e65203030313a20"
	"74686520717569636b2062726f776e20666f78206a756d7073206f7665722074"
	"6865206c617a7920646f670a6c696e65203030323a2074686520717569636b20"
	"62726f776e20666f78206a756d7073206f76657220746865206c617a7920646f"
	"670a6c696e65203030333a2074686520717569636b2062726f776e20666f7820"
	"6a756d7073206f76657220746865206c617a7920646f670a6c696e6520303034"
	"3a2074686520717569636b2062726f776e20666f78206a756d7073206f766572"
	"20746865206c617a7920646f670a6c696e65203030353a207468652071756963"
	"6b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920"
	"646f670a6c696e65203030363a2074686520717569636b2062726f776e20666f"
	"78206a756d7073206f76657220746865206c617a7920646f670a6c696e652030"
	"30373a2074686520717569636b2062726f776e20666f78206a756d7073206f76"
	"657220746865206c617a7920646f670a6c696e65203030383a20746865207175"
	"69636b2062726f776e20666f78206a756d7073206f76657220746865206c617a"
	"7920646f670a6c696e65203030393a2074686520717569636b2062726f776e20"
	"666f78206a756d7073206f76657220746865206c617a7920646f670a6c696e65"
	"203031303a2074686520717569636b2062726f776e20666f78206a756d707320"
	"6f76657220746865206c617a7920646f670a6c696e65203031313a2074686520"
	"717569636b2062726f776e20666f78206a756d7073206f76657220746865206c"
	"617a7920646f670a";

static const char kat_snap[] =
	"7b2276657273696f6e223a312c226b6174223a22736e617073686f7420706179"
	"6c6f6164227d";

static const char kat_pack_id[] =
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

static const char kat_aes_hash_key[] =
	"027ed2fc24879ea71d59e5d4090a6839a74f417630f6909642202d2afb2f3240";

static const char kat_aes_enc_root[] =
	"20cca06f06f0c0307cbfe4911f2dd3746e5ef29e398008f797f5837b96083ca5";

static const char kat_aes_chunk_seed[] =
	"a919c93c65f2a6042b16915b703f93ea54b65b6d7546bbeaa38796bfbef5cb56";

static const char kat_aes_pack_key[] =
	"1a21c953a8165b88d3d40fd7a20ac1d2b172fd6c9fdcabb028c7666334e83b10";

static const char kat_aes_id0[] =
	"94e8488c2b51d53bfb51269ed82317fe59622be56e9c3d830349624edc65e6e9";

static const char kat_aes_id1[] =
	"089017320418cc81e6dd0e979cea417bb048cc625af1cbe9f0beb9520c07d915";

static const char kat_aes_blob0_nonce[] =
	"300000000000000000000000";

static const char kat_aes_blob0_aad[] =
	"94e8488c2b51d53bfb51269ed82317fe59622be56e9c3d830349624edc65e6e9"
	"000038000000";

static const char kat_aes_blob0_ct[] =
	"3df661e0b96d6779ef41a20e346001ac7478d2d86a4fa42062eca0d1dedbb962"
	"c4a17aa5b7a364a200b7f330e2cc105dfee25b2e6a09a8782c0e5a5d836e6584"
	"3126c1bd903d3913";

static const char kat_aes_blob1_nonce[] =
	"780000000000000000000000";

static const char kat_aes_blob1_aad[] =
	"089017320418cc81e6dd0e979cea417bb048cc625af1cbe9f0beb9520c07d915"
	"000388020000";

static const char kat_aes_blob1_ct[] =
	"1b5a646e80e0e6ede9f2911a62c5bf84ed10bcd34a7caebdb1683573082a425e"
	"fd562398060bf45df5a3632d1261597df71418da9dad83b3b1a1e2684895fdea"
	"ae7d843ab79732b24b35bd85d2e35a21f46ec430c6fe85378cdf1a6f90d66390"
	"d88700b4cdcb636e4fc2c2cbc6d7e28941787c";

static const char kat_aes_zlib1[] =
	"78da9dd2491240301445d1b955fc25247a76a30942e4eba25bbd2a56e08d6f9d"
	"d935da2a1242e4b4758a66a7ab81ca850f4b0d9fd4bb715a8977b5bcd914f745"
	"35b79ef99484940fa9005221a42248c5904a2095422a439484de903fdf780067"
	"f8e0ad";

static const char kat_aes_pack[] =
	"53544f575041434b0100000000010000202122232425262728292a2b2c2d2e2f"
	"303132333435363738393a3b3c3d3e3f3df661e0b96d6779ef41a20e346001ac"
	"7478d2d86a4fa42062eca0d1dedbb962c4a17aa5b7a364a200b7f330e2cc105d"
	"fee25b2e6a09a8782c0e5a5d836e65843126c1bd903d39131b5a646e80e0e6ed"
	"e9f2911a62c5bf84ed10bcd34a7caebdb1683573082a425efd562398060bf45d"
	"f5a3632d1261597df71418da9dad83b3b1a1e2684895fdeaae7d843ab79732b2"
	"4b35bd85d2e35a21f46ec430c6fe85378cdf1a6f90d66390d88700b4cdcb636e"
	"4fc2c2cbc6d7e28941787cdc42541c2b396faee4af1f821350875aa79f52049f"
	"f2ad366a6a41451e4580b7bccff926b21914db725b29d27fb3ca87c308a71538"
	"10d353c4428eb4efa37cde420f920f369e3e08ffda1355676aaf7b8f2e171ed5"
	"737bccd7610a635c00000053544f5750454e44";

static const char kat_aes_index_payload[] =
	"0101202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d"
	"3e3f000294e8488c2b51d53bfb51269ed82317fe59622be56e9c3d830349624e"
	"dc65e6e90000304838089017320418cc81e6dd0e979cea417bb048cc625af1cb"
	"e9f0beb9520c07d915000378738805";

static const char kat_aes_index_obj[] =
	"53544f575345414c0100000002010000404142434445464748494a4b4c4d4e4f"
	"505152535455565758595a5b5c5d5e5f68ddd356cc5a68988bafdfb0cdad3ee9"
	"a83b12e611438606862ba8dfa64e77e05497099878c64cf8f3aa984e39ffcded"
	"1eda404794b6d11aaea825e9de4163fa3ab35eb8cac0800af3a154a0aba07f4e"
	"2c9419bc105ef566903ca324eff39e24e60b0f0772f96ae898dedca80898fdfb"
	"d84d89e3414e33f83294fda7e09854e3a2";

static const char kat_aes_config_obj[] =
	"53544f575345414c0100000001010000606162636465666768696a6b6c6d6e6f"
	"707172737475767778797a7b7c7d7e7f023bdc36cc7e63b870e5b179ba4ec4a6"
	"4cbb4863c1f63109951ddc6e2057881fbb08e70bbc0540b5edf2516ce314e11f"
	"f55baf8291e22e5d63615fa7d30b5061926d744b04daeaf8aa2da5276dfe085b"
	"b9c9fa671d6db767989ae768b2c499c1e809286709b483a7c7dfc8d64668ebb2"
	"784818b3ab72376c645f178026abfc7fd979ffdbe7c658155cfc5c429e8bb272"
	"31f7b1434b7d0259cf2eb6b915222481960cb2e1a78a7229ef64a059adcb4cbf"
	"3a95451972c2d4c93d64b695b0be010ba507a358b7a1858d21644b1404e9321e"
	"1dc5f5719096bc845bf7860f026b7c863cde82c9f9154f4e66297572c5223c33"
	"693451b415f8b0223d49bcfe65ee885756692ea21ca679fd174a51286b1d9a64"
	"702ab80020c907d9071fed6134686d5b77db4a9d86d4d668";

static const char kat_aes_snap_obj[] =
	"53544f575345414c0100000003010000808182838485868788898a8b8c8d8e8f"
	"909192939495969798999a9b9c9d9e9fe16761130c7e5535efd9ca17038f7826"
	"2af6b50b991565c391f0003e73f94663ca8722c0f3a726e2770cd68f3a6ca94a"
	"0cc13f7bdaecacad";

static const char kat_aes_slot[] =
	"53544f574b45595301000000010a080100f1536500000000c0c1c2c3c4c5c6c7"
	"c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7"
	"e8e9eaebed103c8ab9b7e952476757eca90587f56872f86cac4f69da51c22b18"
	"044dbdcb3d5cdf61e23b542c68c5e0d0171552d55f38e90a221c5493f440195d"
	"3aea1b7cede63a5a449f4f5c91ca675e075a362e2ca944c44b32c1be36618fef"
	"2374cc5bd6945e645ba291a52d68570f1b9710ed";

static const char kat_chacha_hash_key[] =
	"027ed2fc24879ea71d59e5d4090a6839a74f417630f6909642202d2afb2f3240";

static const char kat_chacha_enc_root[] =
	"20cca06f06f0c0307cbfe4911f2dd3746e5ef29e398008f797f5837b96083ca5";

static const char kat_chacha_chunk_seed[] =
	"a919c93c65f2a6042b16915b703f93ea54b65b6d7546bbeaa38796bfbef5cb56";

static const char kat_chacha_pack_key[] =
	"1a21c953a8165b88d3d40fd7a20ac1d2b172fd6c9fdcabb028c7666334e83b10";

static const char kat_chacha_id0[] =
	"d317db63c9f310d13840d62bce061e9927cafea25d9348310b190240a38bb88f";

static const char kat_chacha_id1[] =
	"4277be8d8f9b7186c6dbd477328d63bfb026a344644db30936da52c7859833a4";

static const char kat_chacha_blob0_nonce[] =
	"300000000000000000000000";

static const char kat_chacha_blob0_aad[] =
	"d317db63c9f310d13840d62bce061e9927cafea25d9348310b190240a38bb88f"
	"000038000000";

static const char kat_chacha_blob0_ct[] =
	"a926e06f7e6ee8f0198462e88c9f5692c1ec9a8b73e526524703b5c8c9785d8f"
	"e1a640e314356c680c38d6b46906dd0b4e1e6783ada0bf2d01d4d33ab27aec36"
	"c7f3f8b2ff75075d";

static const char kat_chacha_blob1_nonce[] =
	"780000000000000000000000";

static const char kat_chacha_blob1_aad[] =
	"4277be8d8f9b7186c6dbd477328d63bfb026a344644db30936da52c7859833a4"
	"000388020000";

static const char kat_chacha_blob1_ct[] =
	"62391203e16b428cc0485f4b0c83e532fef50d42b255179e3d214d06bbe2e233"
	"2d5c80275d8681e0a1b273712bb940674349422b226f462c74a5bbad4dd92b50"
	"7978022507b1a9b649030095dda646422eb79fd8d7ab3de1eb4ebbe14391308b"
	"555d663c1d974c4023266b2234d7b6af9197ce";

static const char kat_chacha_zlib1[] =
	"78da9dd2491240301445d1b955fc25247a76a30942e4eba25bbd2a56e08d6f9d"
	"d935da2a1242e4b4758a66a7ab81ca850f4b0d9fd4bb715a8977b5bcd914f745"
	"35b79ef99484940fa9005221a42248c5904a2095422a439484de903fdf780067"
	"f8e0ad";

static const char kat_chacha_pack[] =
	"53544f575041434b0100000000020000202122232425262728292a2b2c2d2e2f"
	"303132333435363738393a3b3c3d3e3fa926e06f7e6ee8f0198462e88c9f5692"
	"c1ec9a8b73e526524703b5c8c9785d8fe1a640e314356c680c38d6b46906dd0b"
	"4e1e6783ada0bf2d01d4d33ab27aec36c7f3f8b2ff75075d62391203e16b428c"
	"c0485f4b0c83e532fef50d42b255179e3d214d06bbe2e2332d5c80275d8681e0"
	"a1b273712bb940674349422b226f462c74a5bbad4dd92b507978022507b1a9b6"
	"49030095dda646422eb79fd8d7ab3de1eb4ebbe14391308b555d663c1d974c40"
	"23266b2234d7b6af9197ced31458c5747440c561a865f9abe0ea6a4c5b7a0dc7"
	"845edfb608e181ea6dd31b3705d2ab7dde0cc7adaee8405bb7204f7ba2c1c026"
	"570ee4ba13095723a7df41da839594f31ef5c21bf46b34bf2c2fbbc83aef600c"
	"4bf21a524eb1335c00000053544f5750454e44";

static const char kat_chacha_index_payload[] =
	"0101202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d"
	"3e3f0002d317db63c9f310d13840d62bce061e9927cafea25d9348310b190240"
	"a38bb88f00003048384277be8d8f9b7186c6dbd477328d63bfb026a344644db3"
	"0936da52c7859833a4000378738805";

static const char kat_chacha_index_obj[] =
	"53544f575345414c0100000002020000404142434445464748494a4b4c4d4e4f"
	"505152535455565758595a5b5c5d5e5f6e37878bb87f7fb47961fd00d3f4bd6b"
	"a896596de94995398e871df5c0682826ed55808462fdcaa9bce0177b773e6243"
	"9d668aa4edfd449ffeb06abae57183ef2421d80a5e7ab9bba5f54af2f67ebd54"
	"aad528716e44e39e0be011a4fdfa760ae1e9888044ba2f71ea7883186aa09d6c"
	"e00d027dc38850e2ea5fc92f678c669430";

static const char kat_chacha_config_obj[] =
	"53544f575345414c0100000001020000606162636465666768696a6b6c6d6e6f"
	"707172737475767778797a7b7c7d7e7f7713bebf125bd0d9ba47e51db40e30c1"
	"1424eed611bb5069f2f0e354ffdb54d465ef0696933eb586b8b98066efbc1527"
	"d69323b607ce7334c7c58e917dc48aa453ec6c070e2612f146343cfe274b706d"
	"bea494d6fc9d3f203ccf64bca1afc57a6dd4f87249f8493c4972d224fa2fe7ed"
	"898f8ae191f2e3e27ea583bab5cab1275d25377a03e5fd3cfcb2b13a580a0830"
	"b76c1710f27d67436068b140aa4abcc8e73aae6176ef308109b77c39ab9a9a4a"
	"54c258bfd8d990e0f6bae93261b6ebbdfecdfda9ab94adfce35a7a615f589774"
	"c03857a06b6f8c6bd45ffcf99d790158e0fdf67b7fafb8cb78fcdc00167609f3"
	"51c1c2577b2fa6ff911bd81adf13963fc75a29b3b69860d71bab6cd8bf939c31"
	"205255c719c4e4c973d00c84a869ca66b511b073c250e8a5f16a0f708430";

static const char kat_chacha_snap_obj[] =
	"53544f575345414c0100000003020000808182838485868788898a8b8c8d8e8f"
	"909192939495969798999a9b9c9d9e9f42ef846f759c6cd685b1bfa060355fd2"
	"d572312d4f02eb600992e1111d96b11f60efcd99c06ddb9c2af7f13c10799d50"
	"b0f81709ab93ff89";

static const char kat_chacha_slot[] =
	"53544f574b45595301000000010a080100f1536500000000c0c1c2c3c4c5c6c7"
	"c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7"
	"e8e9eaebed103c8ab9b7e952476757eca90587f56872f86cac4f69da51c22b18"
	"044dbdcb3d5cdf61e23b542c68c5e0d0171552d55f38e90a221c5493f440195d"
	"3aea1b7cede63a5a449f4f5c91ca675e075a362e2ca944c44b32c1be36618fef"
	"2374cc5bd6945e645ba291a52d68570f1b9710ed";

typedef struct kat_suite {
	const char *name;
	stow_hash_alg hash;
	stow_aead_alg aead;
	const char *hash_key;
	const char *enc_root;
	const char *chunk_seed;
	const char *pack_key;
	const char *id0;
	const char *id1;
	const char *blob0_nonce;
	const char *blob0_aad;
	const char *blob0_ct;
	const char *blob1_nonce;
	const char *blob1_aad;
	const char *blob1_ct;
	const char *zlib1;
	const char *pack;
	const char *index_payload;
	const char *index_obj;
	const char *config_obj;
	const char *snap_obj;
	const char *slot;
} kat_suite;

static const kat_suite kat_suites[] = {
	{
		"hmac-sha256 + aes-256-gcm",
		STOW_HASH_HMAC_SHA256,
		STOW_AEAD_AES256GCM,
		kat_aes_hash_key,
		kat_aes_enc_root,
		kat_aes_chunk_seed,
		kat_aes_pack_key,
		kat_aes_id0,
		kat_aes_id1,
		kat_aes_blob0_nonce,
		kat_aes_blob0_aad,
		kat_aes_blob0_ct,
		kat_aes_blob1_nonce,
		kat_aes_blob1_aad,
		kat_aes_blob1_ct,
		kat_aes_zlib1,
		kat_aes_pack,
		kat_aes_index_payload,
		kat_aes_index_obj,
		kat_aes_config_obj,
		kat_aes_snap_obj,
		kat_aes_slot,
	},
	{
		"blake2b-256 + chacha20-poly1305",
		STOW_HASH_BLAKE2B_256,
		STOW_AEAD_CHACHA20POLY1305,
		kat_chacha_hash_key,
		kat_chacha_enc_root,
		kat_chacha_chunk_seed,
		kat_chacha_pack_key,
		kat_chacha_id0,
		kat_chacha_id1,
		kat_chacha_blob0_nonce,
		kat_chacha_blob0_aad,
		kat_chacha_blob0_ct,
		kat_chacha_blob1_nonce,
		kat_chacha_blob1_aad,
		kat_chacha_blob1_ct,
		kat_chacha_zlib1,
		kat_chacha_pack,
		kat_chacha_index_payload,
		kat_chacha_index_obj,
		kat_chacha_config_obj,
		kat_chacha_snap_obj,
		kat_chacha_slot,
	},
};

/* END GENERATED VECTORS */

/* --- helpers ------------------------------------------------------------ */

typedef struct bytes {
	uint8_t *p;
	size_t n;
} bytes;

static bytes unhex(const char *hex)
{
	bytes b;
	size_t h = strlen(hex);

	assert_int_equal(h % 2, 0);
	b.n = h / 2;
	b.p = malloc(b.n ? b.n : 1);
	assert_non_null(b.p);
	assert_int_equal(stow_unhex(b.p, b.n, hex), 0);
	return b;
}

static void assert_bytes(const void *got, size_t n, const char *want_hex)
{
	bytes w = unhex(want_hex);

	assert_int_equal(n, w.n);
	assert_memory_equal(got, w.p, n);
	free(w.p);
}

static const uint8_t *master_secret(void)
{
	static uint8_t m[STOW_MASTER_LEN];

	for (int i = 0; i < STOW_MASTER_LEN; i++)
		m[i] = (uint8_t)i;
	return m;
}

static const uint8_t *repo_id(void)
{
	static uint8_t id[32];

	memset(id, 0xa5, sizeof(id));
	return id;
}

/* A repository context made by hand, as the fuzzers make theirs: the
 * fields the envelope code reads, nothing else. Subkeys per FORMAT.md §2
 * (derive_keys in repo.c is static). */
static stow_repo *hand_repo(const kat_suite *k)
{
	stow_repo *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	memcpy(r->master, master_secret(), STOW_MASTER_LEN);
	memcpy(r->id, repo_id(), 32);
	stow_hex(r->id_hex, r->id, 32);
	r->hash = k->hash;
	r->aead = k->aead;
	assert_int_equal(stow_hkdf_sha256(r->hash_key, 32, r->master,
					  STOW_MASTER_LEN, r->id, 32,
					  "stowage content-id v1"),
			 0);
	assert_int_equal(stow_hkdf_sha256(r->enc_root, 32, r->master,
					  STOW_MASTER_LEN, r->id, 32,
					  "stowage encryption v1"),
			 0);
	assert_int_equal(stow_hkdf_sha256(r->chunk_seed, 32, r->master,
					  STOW_MASTER_LEN, r->id, 32,
					  "stowage chunker seed v1"),
			 0);
	return r;
}

static void entry_from(stow_pack_entry *e, const kat_suite *k, int i)
{
	bytes id = unhex(i ? k->id1 : k->id0);
	bytes ct = unhex(i ? k->blob1_ct : k->blob0_ct);
	bytes pt = unhex(i ? kat_pt1 : kat_pt0);
	bytes ct0 = unhex(k->blob0_ct);

	memcpy(e->id, id.p, STOW_ID_LEN);
	e->type = STOW_BLOB_DATA;
	e->comp = i ? STOW_COMP_GZIP : STOW_COMP_NONE;
	/* Blob 0 at 48, blob 1 right after it. */
	e->offset = STOW_PACK_HEADER_LEN + (i ? (uint32_t)ct0.n : 0);
	free(ct0.p);
	e->stored_len = (uint32_t)ct.n;
	e->raw_len = (uint32_t)pt.n;
	free(id.p);
	free(ct.p);
	free(pt.p);
}

/* --- read side: the C code against Python's bytes ------------------------ */

static void test_derived_keys(void **state)
{
	const kat_suite *k = *state;
	stow_repo *r = hand_repo(k);
	uint8_t key[32];
	bytes pid = unhex(kat_pack_id);

	assert_bytes(r->hash_key, 32, k->hash_key);
	assert_bytes(r->enc_root, 32, k->enc_root);
	assert_bytes(r->chunk_seed, 32, k->chunk_seed);
	stow_pack_derive_key(r, pid.p, key);
	assert_bytes(key, 32, k->pack_key);
	free(pid.p);
	free(r);
}

static void test_content_id(void **state)
{
	const kat_suite *k = *state;
	stow_repo *r = hand_repo(k);
	stow_vault_ctx *c;
	uint8_t id[STOW_ID_LEN];
	bytes pt0 = unhex(kat_pt0), pt1 = unhex(kat_pt1);

	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	assert_int_equal(stow_vault_hash(c, pt0.p, pt0.n, id), 0);
	assert_bytes(id, sizeof(id), k->id0);
	assert_int_equal(stow_vault_hash(c, pt1.p, pt1.n, id), 0);
	assert_bytes(id, sizeof(id), k->id1);
	stow_vault_ctx_free(c);
	free(pt0.p);
	free(pt1.p);
	free(r);
}

static void test_nonce_aad(void **state)
{
	const kat_suite *k = *state;
	uint8_t nonce[STOW_NONCE_LEN], aad[38];
	stow_pack_entry e;

	for (int i = 0; i < 2; i++) {
		entry_from(&e, k, i);
		stow_pack_nonce(nonce, e.offset);
		assert_bytes(nonce, sizeof(nonce),
			     i ? k->blob1_nonce : k->blob0_nonce);
		stow_pack_blob_aad(aad, &e);
		assert_bytes(aad, sizeof(aad), i ? k->blob1_aad : k->blob0_aad);
	}
}

/* The exact ciphertext + tag of each blob, and opening it back. */
static void test_blob_seal_open(void **state)
{
	const kat_suite *k = *state;
	stow_repo *r = hand_repo(k);
	stow_vault_ctx *c;
	stow_aead *a;
	stow_pack_entry e;
	uint8_t key[32], nonce[STOW_NONCE_LEN], aad[38];
	bytes pid = unhex(kat_pack_id);
	stow_buf out;

	stow_buf_init(&out, 0);
	stow_pack_derive_key(r, pid.p, key);
	assert_int_equal(stow_aead_new(&a, k->aead), 0);
	assert_int_equal(stow_aead_setkey(a, key), 0);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	for (int i = 0; i < 2; i++) {
		bytes payload = unhex(i ? k->zlib1 : kat_pt0);
		bytes pt = unhex(i ? kat_pt1 : kat_pt0);
		bytes want = unhex(i ? k->blob1_ct : k->blob0_ct);
		uint8_t *ct = malloc(payload.n + STOW_TAG_LEN);

		entry_from(&e, k, i);
		stow_pack_nonce(nonce, e.offset);
		stow_pack_blob_aad(aad, &e);
		assert_int_equal(stow_aead_seal(a, nonce, aad, sizeof(aad),
						payload.p, payload.n, ct),
				 0);
		assert_int_equal(payload.n + STOW_TAG_LEN, want.n);
		assert_memory_equal(ct, want.p, want.n);

		assert_int_equal(stow_pack_open_blob(c, pid.p, &e, want.p, &out),
				 0);
		assert_int_equal(out.len, pt.n);
		assert_memory_equal(out.data, pt.p, pt.n);

		/* Relabelled type, comp or length, or another offset: the
		 * AAD or nonce differs and the tag fails. */
		e.type ^= 1;
		assert_int_equal(stow_pack_open_blob(c, pid.p, &e, want.p,
						     &out),
				 STOW_ECORRUPT);
		e.type ^= 1;
		e.raw_len++;
		assert_int_equal(stow_pack_open_blob(c, pid.p, &e, want.p,
						     &out),
				 STOW_ECORRUPT);
		e.raw_len--;
		e.offset += 1;
		assert_int_equal(stow_pack_open_blob(c, pid.p, &e, want.p,
						     &out),
				 STOW_ECORRUPT);
		e.offset -= 1;
		e.comp = i ? STOW_COMP_ZSTD : STOW_COMP_LZ4;
		assert_int_equal(stow_pack_open_blob(c, pid.p, &e, want.p,
						     &out),
				 STOW_ECORRUPT);
		free(ct);
		free(payload.p);
		free(pt.p);
		free(want.p);
	}
	stow_vault_ctx_free(c);
	stow_aead_free(a);
	stow_buf_free(&out);
	free(pid.p);
	free(r);
}

static void test_pack_trailer(void **state)
{
	const kat_suite *k = *state;
	stow_repo *r = hand_repo(k);
	stow_vault_ctx *c;
	stow_pack_entry *v = NULL, e;
	size_t n;
	bytes pid = unhex(kat_pack_id), pack = unhex(k->pack);
	stow_buf out;

	stow_buf_init(&out, 0);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	assert_int_equal(stow_pack_read_trailer(c, pid.p, pack.p, pack.n, &v,
						&n),
			 0);
	assert_int_equal(n, 2);
	for (int i = 0; i < 2; i++) {
		bytes pt = unhex(i ? kat_pt1 : kat_pt0);

		entry_from(&e, k, i);
		assert_memory_equal(v[i].id, e.id, STOW_ID_LEN);
		assert_int_equal(v[i].type, e.type);
		assert_int_equal(v[i].comp, e.comp);
		assert_int_equal(v[i].offset, e.offset);
		assert_int_equal(v[i].stored_len, e.stored_len);
		assert_int_equal(v[i].raw_len, e.raw_len);
		assert_int_equal(stow_pack_open_blob(c, pid.p, &v[i],
						     pack.p + v[i].offset,
						     &out),
				 0);
		assert_int_equal(out.len, pt.n);
		assert_memory_equal(out.data, pt.p, pt.n);
		free(pt.p);
	}
	free(v);
	stow_vault_ctx_free(c);
	stow_buf_free(&out);
	free(pid.p);
	free(pack.p);
	free(r);
}

typedef struct decoded {
	const kat_suite *k;
	int n;
} decoded;

static int check_decoded(void *ctx, const uint8_t pack_id[32], int kind,
			 const stow_pack_entry *e)
{
	decoded *d = ctx;
	stow_pack_entry want;

	assert_true(d->n < 2);
	entry_from(&want, d->k, d->n);
	assert_bytes(pack_id, 32, kat_pack_id);
	assert_int_equal(kind, PACK_KIND_DATA);
	assert_memory_equal(e->id, want.id, STOW_ID_LEN);
	assert_int_equal(e->type, want.type);
	assert_int_equal(e->comp, want.comp);
	assert_int_equal(e->offset, want.offset);
	assert_int_equal(e->stored_len, want.stored_len);
	assert_int_equal(e->raw_len, want.raw_len);
	d->n++;
	return 0;
}

static void test_sealed_objects(void **state)
{
	const kat_suite *k = *state;
	stow_repo *r = hand_repo(k);
	bytes obj;
	stow_buf out;
	decoded d = {k, 0};

	stow_buf_init(&out, 0);
	obj = unhex(k->snap_obj);
	assert_int_equal(stow_sealed_open(r, STOW_SEALED_SNAPSHOT,
					  kat_snap_name, obj.p, obj.n, &out),
			 0);
	assert_bytes(out.data, out.len, kat_snap);
	free(obj.p);

	obj = unhex(k->index_obj);
	assert_int_equal(stow_sealed_open(r, STOW_SEALED_INDEX, kat_index_name,
					  obj.p, obj.n, &out),
			 0);
	assert_bytes(out.data, out.len, k->index_payload);
	assert_int_equal(stow_index_decode(out.data, out.len, check_decoded,
					   &d),
			 0);
	assert_int_equal(d.n, 2);
	free(obj.p);

	obj = unhex(k->config_obj);
	assert_int_equal(stow_sealed_open(r, STOW_SEALED_CONFIG, "config",
					  obj.p, obj.n, &out),
			 0);
	assert_non_null(memmem(out.data, out.len, "\"version\":1", 11));
	free(obj.p);
	stow_buf_free(&out);
	free(r);
}

/* The index payload the C encoder makes from the same entries is the one
 * Python made. */
static void test_index_encode(void **state)
{
	const kat_suite *k = *state;
	stow_pack_entry e[2];
	stow_index_pack p;
	stow_buf out;
	bytes pid = unhex(kat_pack_id);

	entry_from(&e[0], k, 0);
	entry_from(&e[1], k, 1);
	memcpy(p.id, pid.p, 32);
	p.kind = PACK_KIND_DATA;
	p.entries = e;
	p.n = 2;
	stow_buf_init(&out, 0);
	assert_int_equal(stow_index_encode(&p, 1, &out), 0);
	assert_bytes(out.data, out.len, k->index_payload);
	stow_buf_free(&out);
	free(pid.p);
}

static void put_hex(stow_store *st, const char *key, const char *hex)
{
	bytes b = unhex(hex);

	assert_int_equal(stow_store_put(st, key, b.p, b.n, 0), 0);
	free(b.p);
}

/* A repository made only of Python-built objects opens, and the keys
 * repo.c derived for it are the vectors. */
static void test_open_python_repo(void **state)
{
	const kat_suite *k = *state;
	stow_store *st;
	stow_repo *r = NULL;
	stow_vault_ctx *c;
	stow_buf out;
	char key[160];
	bytes pid = unhex(kat_pack_id), id;
	const stow_chunker_params *cp;

	assert_int_equal(stow_store_mem_open(&st), 0);
	put_hex(st, kat_slot_name, k->slot);
	put_hex(st, "config", k->config_obj);
	put_hex(st, kat_index_name, k->index_obj);
	put_hex(st, kat_snap_name, k->snap_obj);
	stow_pack_key(key, sizeof(key), PACK_KIND_DATA, pid.p);
	put_hex(st, key, k->pack);

	assert_int_equal(stow_repo_open(&r, st, "not the password"),
			 STOW_EAUTH);
	/* That closed the store; build it again. */
	assert_int_equal(stow_store_mem_open(&st), 0);
	put_hex(st, kat_slot_name, k->slot);
	put_hex(st, "config", k->config_obj);
	put_hex(st, kat_index_name, k->index_obj);
	put_hex(st, kat_snap_name, k->snap_obj);
	put_hex(st, key, k->pack);
	assert_int_equal(stow_repo_open(&r, st, kat_password), 0);

	assert_memory_equal(r->master, master_secret(), STOW_MASTER_LEN);
	assert_memory_equal(r->id, repo_id(), 32);
	assert_string_equal(stow_repo_id_hex(r),
			    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"
			    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5");
	assert_string_equal(stow_repo_slot_id(r), kat_slot_name + 5);
	assert_bytes(r->hash_key, 32, k->hash_key);
	assert_bytes(r->enc_root, 32, k->enc_root);
	assert_bytes(r->chunk_seed, 32, k->chunk_seed);
	assert_int_equal(r->hash, k->hash);
	assert_int_equal(r->aead, k->aead);
	assert_int_equal(r->data_pack_size, 16u << 20);
	assert_int_equal(r->meta_pack_size, 4u << 20);
	cp = stow_chunker_params_of(stow_repo_chunker(r));
	assert_int_equal(cp->min, 262144);
	assert_int_equal(cp->avg, 1048576);
	assert_int_equal(cp->max, 4194304);
	assert_int_equal(stow_repo_comp(r)->alg, STOW_COMP_ZSTD);
	assert_int_equal(stow_repo_comp(r)->level, 3);

	stow_buf_init(&out, 0);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	id = unhex(k->id0);
	assert_int_equal(stow_repo_read_blob(c, id.p, &out), 0);
	assert_bytes(out.data, out.len, kat_pt0);
	free(id.p);
	id = unhex(k->id1);
	assert_int_equal(stow_repo_read_blob(c, id.p, &out), 0);
	assert_bytes(out.data, out.len, kat_pt1);
	free(id.p);
	assert_int_equal(stow_sealed_get(r, STOW_SEALED_SNAPSHOT, kat_snap_name,
					 &out),
			 0);
	assert_bytes(out.data, out.len, kat_snap);
	stow_vault_ctx_free(c);
	stow_buf_free(&out);
	stow_repo_close(r);
	free(pid.p);
}

/* --- write side: what the C code writes, opened per the spec's text ------ */

/* A sealed object (§4), opened with primitives only. */
static void spec_open_sealed(const uint8_t enc_root[32], stow_aead_alg alg,
			     int kind, const char *name, const uint8_t *obj,
			     size_t n, stow_buf *out)
{
	uint8_t key[32], nonce[STOW_NONCE_LEN] = {0}, *aad, *pt;
	size_t namelen = strlen(name), ptlen;
	stow_aead *a;
	stow_rd rd;
	uint8_t comp;
	uint64_t raw;

	assert_true(n >= 48 + 16 + 2);
	assert_memory_equal(obj, "STOWSEAL", 8);
	assert_int_equal(stow_get_le32(obj + 8), 1);
	assert_int_equal(obj[12], kind);
	assert_int_equal(obj[13], alg);
	assert_int_equal(obj[14] | obj[15], 0);
	assert_int_equal(stow_hkdf_sha256(key, 32, enc_root, 32, obj + 16, 32,
					  "stowage sealed v1"),
			 0);
	aad = malloc(48 + namelen);
	memcpy(aad, obj, 48);
	memcpy(aad + 48, name, namelen);
	ptlen = n - 48 - STOW_TAG_LEN;
	pt = malloc(ptlen);
	assert_int_equal(stow_aead_new(&a, alg), 0);
	assert_int_equal(stow_aead_setkey(a, key), 0);
	assert_int_equal(stow_aead_open(a, nonce, aad, 48 + namelen, obj + 48,
					n - 48, pt),
			 0);
	stow_aead_free(a);
	stow_rd_init(&rd, pt, ptlen, "sealed");
	assert_int_equal(stow_rd_u8(&rd, &comp), 0);
	assert_int_equal(stow_rd_varint(&rd, &raw), 0);
	stow_buf_reset(out);
	assert_int_equal(stow_buf_reserve(out, raw), 0);
	if (comp == STOW_COMP_NONE) {
		assert_int_equal(stow_rd_left(&rd), raw);
		memcpy(out->data, pt + rd.off, raw);
	} else {
		assert_true(comp <= STOW_COMP_GZIP);
		assert_int_equal(stow_decompress(comp, pt + rd.off,
						 stow_rd_left(&rd), out->data,
						 raw),
				 0);
	}
	out->len = raw;
	free(aad);
	free(pt);
}

/* A pack (§5), opened with primitives only; returns its entry count and
 * checks every blob's content ID. */
static size_t spec_open_pack(const stow_repo *r, const char *name,
			     const uint8_t *p, size_t n, stow_buf *plain)
{
	uint8_t pid[32], key[32], nonce[STOW_NONCE_LEN], aad[18 + 48];
	uint8_t *t;
	uint32_t tlen;
	uint64_t count, pos = 48;
	stow_aead *a;
	stow_hasher *h;
	stow_rd rd;

	assert_int_equal(stow_unhex(pid, 32, strrchr(name, '/') + 1), 0);
	assert_true(n >= 48 + 16 + 12);
	assert_memory_equal(p, "STOWPACK", 8);
	assert_int_equal(stow_get_le32(p + 8), 1);
	assert_int_equal(p[12], strncmp(name, "meta/", 5) == 0 ? 1 : 0);
	assert_int_equal(p[13], r->aead);
	assert_int_equal(p[14] | p[15], 0);
	assert_memory_equal(p + 16, pid, 32);
	assert_memory_equal(p + n - 8, "STOWPEND", 8);
	tlen = stow_get_le32(p + n - 12);
	assert_true(tlen >= 16 && tlen <= n - 60);

	assert_int_equal(stow_hkdf_sha256(key, 32, r->enc_root, 32, pid, 32,
					  "stowage pack v1"),
			 0);
	assert_int_equal(stow_aead_new(&a, r->aead), 0);
	assert_int_equal(stow_aead_setkey(a, key), 0);
	assert_int_equal(stow_hasher_new(&h, r->hash, r->hash_key), 0);
	memset(nonce, 0xff, sizeof(nonce));
	memcpy(aad, "stowage trailer v1", 18);
	memcpy(aad + 18, p, 48);
	t = malloc(tlen);
	assert_int_equal(stow_aead_open(a, nonce, aad, sizeof(aad),
					p + n - 12 - tlen, tlen, t),
			 0);
	stow_rd_init(&rd, t, tlen - 16, "trailer");
	assert_int_equal(stow_rd_varint(&rd, &count), 0);
	for (uint64_t i = 0; i < count; i++) {
		uint8_t id[32], type, comp, baad[38], got[32], *pt;
		uint64_t off, sl, rl;

		assert_int_equal(stow_rd_copy(&rd, id, 32), 0);
		assert_int_equal(stow_rd_u8(&rd, &type), 0);
		assert_int_equal(stow_rd_u8(&rd, &comp), 0);
		assert_int_equal(stow_rd_varint(&rd, &off), 0);
		assert_int_equal(stow_rd_varint(&rd, &sl), 0);
		assert_int_equal(stow_rd_varint(&rd, &rl), 0);
		assert_int_equal(off, pos); /* back to back from 48 */
		assert_int_equal(type, p[12]); /* data in data packs only */
		stow_put_le64(nonce, off);
		memset(nonce + 8, 0, 4);
		memcpy(baad, id, 32);
		baad[32] = type;
		baad[33] = comp;
		stow_put_le32(baad + 34, (uint32_t)rl);
		pt = malloc(sl);
		assert_int_equal(stow_aead_open(a, nonce, baad, sizeof(baad),
						p + off, sl, pt),
				 0);
		stow_buf_reset(plain);
		assert_int_equal(stow_buf_reserve(plain, rl + 1), 0);
		if (comp == STOW_COMP_NONE) {
			assert_int_equal(sl - 16, rl);
			memcpy(plain->data, pt, rl);
		} else {
			assert_int_equal(stow_decompress(comp, pt, sl - 16,
							 plain->data, rl),
					 0);
		}
		plain->len = rl;
		assert_int_equal(stow_hasher_digest(h, plain->data, rl, got),
				 0);
		assert_memory_equal(got, id, 32);
		free(pt);
		pos = off + sl;
	}
	assert_int_equal(stow_rd_left(&rd), 0);
	assert_int_equal(pos, n - 12 - tlen); /* the last ends at the trailer */
	free(t);
	stow_hasher_free(h);
	stow_aead_free(a);
	return (size_t)count;
}

typedef struct found_keys {
	char k[16][160];
	size_t n;
} found_keys;

static int add_key(void *ctx, const char *key, uint64_t size)
{
	found_keys *f = ctx;

	(void)size;
	assert_true(f->n < 16);
	snprintf(f->k[f->n++], 160, "%s", key);
	return 0;
}

static void test_c_writes_spec(void **state)
{
	const kat_suite *k = *state;
	stow_repo_init_opts o;
	stow_store *st;
	stow_repo *r;
	stow_writer *w;
	stow_vault_ctx *c;
	stow_comp_spec gzip = {STOW_COMP_GZIP, 6, 0};
	found_keys f = {0};
	stow_buf b, plain;
	char idhex[65];
	uint8_t id[32], kek[32], slot_pt[96];
	bool added;
	bytes pt0 = unhex(kat_pt0), pt1 = unhex(kat_pt1);
	size_t blobs = 0;

	stow_repo_init_opts_default(&o);
	if (k == &kat_suites[0]) {
		o.kdf.memory_mib = 1;
		o.kdf.passes = 2;
	} else {
		o.kdf.alg = STOW_KDF_SCRYPT;
		o.kdf.log_n = 10;
	}
	o.hash = k->hash;
	o.aead = k->aead;
	assert_int_equal(stow_store_mem_open(&st), 0);
	assert_int_equal(stow_repo_init(st, kat_password, &o, idhex), 0);
	assert_int_equal(stow_repo_open(&r, st, kat_password), 0);
	assert_int_equal(stow_vault_ctx_new(&c, r), 0);
	assert_int_equal(stow_writer_new(&w, r, &gzip), 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_DATA, pt0.p, pt0.n, id,
					 &added),
			 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_DATA, pt1.p, pt1.n, id,
					 &added),
			 0);
	assert_int_equal(stow_writer_add(w, c, STOW_BLOB_TREE, "tree", 4, id,
					 &added),
			 0);
	assert_int_equal(stow_writer_flush(w), 0);
	stow_writer_free(w);
	assert_int_equal(stow_sealed_put(r, STOW_SEALED_SNAPSHOT, kat_snap_name,
					 "snap", 4),
			 0);

	stow_buf_init(&b, 0);
	stow_buf_init(&plain, 0);
	assert_int_equal(stow_store_list(st, "", add_key, &f), 0);
	for (size_t i = 0; i < f.n; i++) {
		const char *name = f.k[i];

		stow_buf_reset(&b);
		assert_int_equal(stow_store_get(st, name, 0, STOW_RANGE_END,
						&b),
				 0);
		if (strncmp(name, "data/", 5) == 0 ||
		    strncmp(name, "meta/", 5) == 0) {
			blobs += spec_open_pack(r, name, b.data, b.len, &plain);
		} else if (strcmp(name, "config") == 0) {
			spec_open_sealed(r->enc_root, r->aead,
					 STOW_SEALED_CONFIG, name, b.data,
					 b.len, &plain);
			assert_non_null(memmem(plain.data, plain.len, idhex,
					       64));
		} else if (strncmp(name, "index/", 6) == 0) {
			spec_open_sealed(r->enc_root, r->aead,
					 STOW_SEALED_INDEX, name, b.data, b.len,
					 &plain);
			assert_true(plain.len > 2);
			assert_int_equal(plain.data[0], 1);
		} else if (strncmp(name, "snapshots/", 10) == 0) {
			spec_open_sealed(r->enc_root, r->aead,
					 STOW_SEALED_SNAPSHOT, name, b.data,
					 b.len, &plain);
			assert_int_equal(plain.len, 4);
			assert_memory_equal(plain.data, "snap", 4);
		} else {
			/* §2.1 key slot. */
			stow_aead *a;
			uint8_t aad[68 + 64];
			size_t nl = strlen(name);

			assert_int_equal(strncmp(name, "keys/", 5), 0);
			assert_int_equal(b.len, 180);
			assert_memory_equal(b.data, "STOWKEYS", 8);
			assert_int_equal(stow_get_le32(b.data + 8), 1);
			if (k == &kat_suites[0]) {
				/* kdf 2, log2(1024 KiB), t = 2, 1 lane */
				assert_memory_equal(b.data + 12,
						    "\x02\x0a\x02\x01", 4);
				assert_int_equal(
				    stow_argon2id(kek, 32, kat_password,
						  strlen(kat_password),
						  b.data + 24, 32, 2, 1024, 1),
				    0);
			} else {
				assert_memory_equal(b.data + 12,
						    "\x01\x0a\x08\x01", 4);
				assert_int_equal(
				    stow_scrypt(kek, 32, kat_password,
						strlen(kat_password),
						b.data + 24, 32, 1024, 8, 1),
				    0);
			}
			memcpy(aad, b.data, 68);
			memcpy(aad + 68, name, nl);
			assert_int_equal(stow_aead_new(&a, STOW_AEAD_AES256GCM),
					 0);
			assert_int_equal(stow_aead_setkey(a, kek), 0);
			assert_int_equal(stow_aead_open(a, b.data + 56, aad,
							68 + nl, b.data + 68,
							112, slot_pt),
					 0);
			stow_aead_free(a);
			assert_memory_equal(slot_pt, r->master, 64);
			assert_memory_equal(slot_pt + 64, r->id, 32);
		}
	}
	assert_int_equal(blobs, 3);
	/* keys, config, index, snapshot, a data and a meta pack. */
	assert_int_equal(f.n, 6);

	stow_buf_free(&b);
	stow_buf_free(&plain);
	stow_vault_ctx_free(c);
	stow_repo_close(r);
	free(pt0.p);
	free(pt1.p);
}

#define SUITE_TESTS(i)                                                         \
	cmocka_unit_test_prestate(test_derived_keys, (void *)&kat_suites[i]),  \
	cmocka_unit_test_prestate(test_content_id, (void *)&kat_suites[i]),    \
	cmocka_unit_test_prestate(test_nonce_aad, (void *)&kat_suites[i]),     \
	cmocka_unit_test_prestate(test_blob_seal_open,                         \
				  (void *)&kat_suites[i]),                     \
	cmocka_unit_test_prestate(test_pack_trailer, (void *)&kat_suites[i]),  \
	cmocka_unit_test_prestate(test_sealed_objects,                         \
				  (void *)&kat_suites[i]),                     \
	cmocka_unit_test_prestate(test_index_encode, (void *)&kat_suites[i]),  \
	cmocka_unit_test_prestate(test_open_python_repo,                       \
				  (void *)&kat_suites[i]),                     \
	cmocka_unit_test_prestate(test_c_writes_spec, (void *)&kat_suites[i])

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TESTS(0),
		SUITE_TESTS(1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
