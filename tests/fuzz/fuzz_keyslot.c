/* Fuzz target: key slots (FORMAT.md §2.1). Slot parsing is static in
 * repo.c, so this drives it through the public API: the input is the one
 * object under keys/ of a mem store that also holds a valid config for
 * the fixed repository keys (gen/fixed_repo.h), and the target calls
 * stow_repo_key_list (header parsing only) and stow_repo_open with
 * FIXED_PASSWORD (header, KDF, unwrap, then config and index load).
 *
 * The KDF's cost comes from the slot itself (scrypt up to N = 2^24,
 * r = 32, p = 16; Argon2id up to 1 GiB and 32 passes). So that the fuzzer
 * spends its time on parsing, a well-formed header asking for more than
 * the corpus' slots (scrypt N = 2^10, r = 8, p = 1; Argon2id 1 MiB, one
 * pass, up to two lanes) is skipped; values outside the accepted ranges
 * still run, since the parser must reject them before any KDF. An open
 * that succeeds must yield the fixed repository. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/fixed_repo.h"
#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static stow_repo *lister; /* fixed keys; its store is swapped per input */
static uint8_t *config;
static size_t config_len;

static const char config_json[] =
	"{\"version\":1,\"id\":\"a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"
	"a5a5a5a5a5a5a5a5\",\"hash\":\"hmac-sha256\",\"cipher\":"
	"\"aes-256-gcm\",\"compression\":\"zstd:3\",\"chunker\":{\"min\":"
	"65536,\"avg\":262144,\"max\":1048576},\"data_pack_size\":1048576,"
	"\"meta_pack_size\":1048576,\"created\":1}";

static int setup(void)
{
	stow_store *st = NULL;
	stow_repo *r;
	stow_buf b;

	if (lister)
		return 0;
	/* The config, sealed once under the fixed keys. */
	if (stow_store_mem_open(&st) < 0)
		return -1;
	r = fixed_repo_new(st);
	if (!r)
		return -1;
	stow_buf_init(&b, 0);
	if (stow_sealed_put(r, STOW_SEALED_CONFIG, "config", config_json,
			    strlen(config_json)) < 0 ||
	    stow_store_get(st, "config", 0, STOW_RANGE_END, &b) < 0) {
		stow_buf_free(&b);
		stow_repo_close(r);
		return -1;
	}
	config = stow_buf_steal(&b, &config_len);
	stow_repo_close(r);
	lister = fixed_repo_new(NULL);
	return lister ? 0 : -1;
}

static int ignore_slot(void *ctx, const stow_key_slot_info *k)
{
	(void)k;
	(*(int *)ctx)++;
	return 0;
}

/* A header the parser accepts but whose KDF is dearer than the corpus'
 * own. */
static bool too_costly(const uint8_t *d, size_t n)
{
	if (n != 180 || memcmp(d, "STOWKEYS", 8) != 0 ||
	    stow_get_le32(d + 8) != 1)
		return false;
	if (d[12] == 1) /* scrypt */
		return (d[13] > 10 && d[13] <= 24) ||
		       (d[14] > 8 && d[14] <= 32) || (d[15] > 1 && d[15] <= 16);
	if (d[12] == 2) /* Argon2id */
		return (d[13] > 10 && d[13] <= 20) ||
		       (d[14] > 1 && d[14] <= 32) || (d[15] > 2 && d[15] <= 16);
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stow_store *st = NULL;
	stow_repo *r = NULL;
	int slots = 0;

	if (setup() < 0 || too_costly(data, size))
		return 0;
	if (stow_store_mem_open(&st) < 0)
		return 0;
	if (stow_store_put(st, "config", config, config_len, 0) < 0 ||
	    stow_store_put(st, FIXED_SLOT_KEY, data, size, 0) < 0) {
		stow_store_close(st);
		return 0;
	}
	lister->st = st;
	/* key list skips objects that are not slots: one object, at most one
	 * listed slot. */
	if (stow_repo_key_list(lister, ignore_slot, &slots) == 0 && slots > 1)
		__builtin_trap();
	lister->st = NULL;
	if (stow_repo_open(&r, st, FIXED_PASSWORD) == 0) {
		if (memcmp(r->id, lister->id, 32) != 0 ||
		    memcmp(r->master, lister->master, STOW_MASTER_LEN) != 0 ||
		    strcmp(stow_repo_slot_id(r), FIXED_SLOT_ID) != 0)
			__builtin_trap();
		stow_repo_close(r);
	}
	stow_err_clear();
	return 0;
}
