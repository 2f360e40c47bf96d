/* Fuzz target: the index object payload decoder (FORMAT.md §4.2), the
 * bytes a reader gets after a sealed index object authenticates.
 *
 * Besides "no crash", it checks what the decoder promises: every entry it
 * hands out passes the spec's checks; a payload it accepts re-encodes to
 * one that decodes to the same entries; and those entries go into the
 * in-memory index (index.c) where each ID is then found, the first
 * insertion winning. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "vault/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rec {
	uint8_t pack[32];
	int kind;
	stow_pack_entry e;
} rec;

typedef struct recs {
	rec *v;
	size_t n, cap;
	size_t check; /* second pass: next record to compare with */
} recs;

static void check_entry(const stow_pack_entry *e, int kind)
{
	if (kind != PACK_KIND_DATA && kind != PACK_KIND_META)
		__builtin_trap();
	if (e->type > STOW_BLOB_TREE || e->comp > STOW_COMP_GZIP ||
	    e->stored_len < STOW_TAG_LEN ||
	    e->offset < STOW_PACK_HEADER_LEN || e->raw_len > STOW_BLOB_MAX ||
	    (uint64_t)e->offset + e->stored_len > STOW_PACK_MAX)
		__builtin_trap();
}

static int collect(void *ctx, const uint8_t pack_id[32], int kind,
		   const stow_pack_entry *e)
{
	recs *c = ctx;

	check_entry(e, kind);
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		rec *nv = realloc(c->v, ncap * sizeof(*nv));

		if (!nv)
			return STOW_ENOMEM;
		c->v = nv;
		c->cap = ncap;
	}
	memcpy(c->v[c->n].pack, pack_id, 32);
	c->v[c->n].kind = kind;
	c->v[c->n].e = *e;
	c->n++;
	return 0;
}

static int compare(void *ctx, const uint8_t pack_id[32], int kind,
		   const stow_pack_entry *e)
{
	recs *c = ctx;
	const rec *want;

	if (c->check >= c->n)
		__builtin_trap();
	want = &c->v[c->check++];
	/* Field by field: the struct has padding. */
	if (memcmp(want->pack, pack_id, 32) != 0 || want->kind != kind ||
	    memcmp(want->e.id, e->id, STOW_ID_LEN) != 0 ||
	    want->e.type != e->type || want->e.comp != e->comp ||
	    want->e.offset != e->offset ||
	    want->e.stored_len != e->stored_len ||
	    want->e.raw_len != e->raw_len)
		__builtin_trap();
	return 0;
}

/* Consecutive entries of one pack become one pack record again. */
static int reencode(const recs *c, stow_buf *out)
{
	stow_index_pack *packs = calloc(c->n ? c->n : 1, sizeof(*packs));
	stow_pack_entry *ents = calloc(c->n ? c->n : 1, sizeof(*ents));
	size_t np = 0;
	int rc;

	if (!packs || !ents) {
		free(packs);
		free(ents);
		return STOW_ENOMEM;
	}
	for (size_t i = 0; i < c->n; i++) {
		ents[i] = c->v[i].e;
		if (np == 0 || memcmp(packs[np - 1].id, c->v[i].pack, 32) ||
		    packs[np - 1].kind != c->v[i].kind) {
			memcpy(packs[np].id, c->v[i].pack, 32);
			packs[np].kind = c->v[i].kind;
			packs[np].entries = &ents[i];
			np++;
		}
		packs[np - 1].n++;
	}
	rc = stow_index_encode(packs, np, out);
	free(packs);
	free(ents);
	return rc;
}

static void check_in_memory_index(const recs *c)
{
	stow_index *x = NULL;

	if (stow_index_new(&x) < 0)
		return;
	for (size_t i = 0; i < c->n; i++) {
		stow_blob_loc loc = {
			.pack = (uint32_t)i,
			.offset = c->v[i].e.offset,
			.stored_len = c->v[i].e.stored_len,
			.raw_len = c->v[i].e.raw_len,
			.type = c->v[i].e.type,
			.comp = c->v[i].e.comp,
		};

		if (stow_index_insert(x, c->v[i].e.id, &loc) < 0)
			goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		stow_blob_loc loc;
		size_t first = i;

		/* The first record with this ID is the one the index kept. */
		for (size_t j = 0; j < i; j++) {
			if (memcmp(c->v[j].e.id, c->v[i].e.id, STOW_ID_LEN) ==
			    0) {
				first = j;
				break;
			}
		}
		if (stow_index_lookup(x, c->v[i].e.id, &loc) != 0 ||
		    loc.pack != first || loc.offset != c->v[first].e.offset)
			__builtin_trap();
	}
	/* Claiming a present ID never asks for a store. */
	for (size_t i = 0; i < c->n; i++)
		if (stow_index_claim(x, c->v[i].e.id) != 0)
			__builtin_trap();
out:
	stow_index_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	recs c = {0};
	stow_buf b;

	stow_buf_init(&b, 0);
	if (stow_index_decode(data, size, collect, &c) == 0) {
		if (reencode(&c, &b) == 0) {
			if (stow_index_decode(b.data, b.len, compare, &c) != 0 ||
			    c.check != c.n)
				__builtin_trap();
		}
		check_in_memory_index(&c);
	}
	stow_buf_free(&b);
	free(c.v);
	stow_err_clear();
	return 0;
}
