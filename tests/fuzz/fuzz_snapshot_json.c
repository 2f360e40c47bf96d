/* Fuzz target for snapshot manifests (src/vault/snapshot.c).
 *
 * Any input: parsing must return cleanly. A manifest that parses must
 * serialise (parse and serialise enforce the same rules), parse back to
 * the same struct, and serialise again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_equal(const stow_snapshot *a, const stow_snapshot *b)
{
	check(strcmp(a->id, b->id) == 0 && a->time_sec == b->time_sec &&
	      a->time_nsec == b->time_nsec && a->end_sec == b->end_sec &&
	      strcmp(a->host, b->host) == 0 && strcmp(a->path, b->path) == 0 &&
	      a->ntags == b->ntags &&
	      memcmp(a->root, b->root, STOW_ID_LEN) == 0 &&
	      strcmp(a->parent, b->parent) == 0 && a->partial == b->partial &&
	      memcmp(&a->stats, &b->stats, sizeof(a->stats)) == 0 &&
	      a->nerrors == b->nerrors);
	for (size_t i = 0; i < a->ntags; i++)
		check(strcmp(a->tags[i].key, b->tags[i].key) == 0 &&
		      strcmp(a->tags[i].value, b->tags[i].value) == 0);
	for (size_t i = 0; i < a->nerrors; i++)
		check(strcmp(a->errors[i], b->errors[i]) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stow_snapshot s, s2;
	stow_buf j1, j2;

	if (stow_snapshot_from_json(&s, data, size) < 0)
		return 0;
	stow_buf_init(&j1, 0);
	stow_buf_init(&j2, 0);
	check(stow_snapshot_to_json(&s, &j1) == 0);
	check(stow_snapshot_from_json(&s2, j1.data, j1.len) == 0);
	check_equal(&s, &s2);
	check(stow_snapshot_to_json(&s2, &j2) == 0);
	check(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0);
	stow_buf_free(&j1);
	stow_buf_free(&j2);
	stow_snapshot_free(&s);
	stow_snapshot_free(&s2);
	return 0;
}
