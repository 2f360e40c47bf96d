/* Index maintenance: rewriting the index without some packs (gc), and
 * recovering index entries from pack trailers (damaged index objects). */
#include "vault/keylist.h"
#include "vault/packlist.h"
#include "vault/repo_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Packs per rewritten index object: bounds each object's size. */
#define PACKS_PER_INDEX 4096

typedef struct group {
	stow_repo *r;
	const uint8_t *keep;
	uint32_t npacks;
	size_t *count;   /* blobs per pack */
	size_t *fill;
	stow_pack_entry **entries;
	int pass;
} group;

static int group_cb(void *ctx, const uint8_t id[STOW_ID_LEN],
		    const stow_blob_loc *loc)
{
	group *g = ctx;
	stow_pack_entry *e;

	if (loc->pack >= g->npacks || !g->keep[loc->pack])
		return 0;
	if (g->pass == 0) {
		g->count[loc->pack]++;
		return 0;
	}
	e = &g->entries[loc->pack][g->fill[loc->pack]++];
	stow_pack_entry_set(e, id, loc);
	return 0;
}

static int cmp_entry_offset(const void *a, const void *b)
{
	const stow_pack_entry *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int write_one(stow_repo *r, stow_index_pack *packs, size_t n,
		     char ***written, size_t *nwritten)
{
	char **nw;
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	uint8_t rid[32];
	char key[80], hex[65];

	stow_buf_init(&b, STOW_SEALED_MAX);
	STOW_TRY(stow_index_encode(packs, n, &b));
	STOW_TRY(stow_random(rid, sizeof(rid)));
	stow_hex(hex, rid, 32);
	snprintf(key, sizeof(key), "index/%s", hex);
	nw = realloc(*written, (*nwritten + 1) * sizeof(char *));
	if (!nw)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*written = nw;
	if (!(nw[*nwritten] = strdup(key)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	(*nwritten)++;
	return stow_sealed_put(r, STOW_SEALED_INDEX, key, b.data, b.len);
}

int stow_repo_rewrite_index(stow_repo *r, const uint8_t *keep)
{
	group g = {.r = r, .keep = keep};
	stow_index_pack *batch = NULL;
	char **written = NULL;
	size_t nb = 0, nwritten = 0;
	int rc = 0;

	if (r->ndamaged_index_keys)
		return stow_err_set(STOW_ECORRUPT,
				    "%zu index objects are damaged (see `vault "
				    "check`); rewriting the index now would "
				    "forget their blobs",
				    r->ndamaged_index_keys);
	g.npacks = stow_repo_pack_count(r);
	g.count = calloc(g.npacks + 1, sizeof(size_t));
	g.fill = calloc(g.npacks + 1, sizeof(size_t));
	g.entries = calloc(g.npacks + 1, sizeof(*g.entries));
	batch = calloc(PACKS_PER_INDEX, sizeof(*batch));
	if (!g.count || !g.fill || !g.entries || !batch) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = stow_index_foreach(r->index, group_cb, &g)) < 0)
		goto out;
	for (uint32_t p = 0; p < g.npacks; p++) {
		if (!g.count[p])
			continue;
		g.entries[p] = malloc(g.count[p] * sizeof(stow_pack_entry));
		if (!g.entries[p]) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto out;
		}
	}
	g.pass = 1;
	if ((rc = stow_index_foreach(r->index, group_cb, &g)) < 0)
		goto out;
	for (uint32_t p = 0; p < g.npacks; p++) {
		int kind = 0;
		const uint8_t *pid;

		if (!g.count[p])
			continue;
		pid = stow_repo_pack_id(r, p, &kind);
		qsort(g.entries[p], g.count[p], sizeof(stow_pack_entry),
		      cmp_entry_offset);
		memcpy(batch[nb].id, pid, 32);
		batch[nb].kind = kind;
		batch[nb].entries = g.entries[p];
		batch[nb].n = g.count[p];
		if (++nb == PACKS_PER_INDEX) {
			if ((rc = write_one(r, batch, nb, &written, &nwritten)) < 0)
				goto out;
			nb = 0;
		}
	}
	if (nb && (rc = write_one(r, batch, nb, &written, &nwritten)) < 0)
		goto out;
	/* This process must not dedup against blobs about to be deleted. */
	stow_index_drop_packs(r->index, keep, g.npacks);
	/* The new objects are durable: the old ones may go. */
	for (size_t i = 0; i < r->nindex_keys; i++) {
		int drc = stow_store_del(r->st, r->index_keys[i]);

		if (drc < 0 && drc != STOW_ENOTFOUND) {
			rc = stow_err_wrap(drc, "deleting %s",
					   r->index_keys[i]);
			goto out;
		}
		free(r->index_keys[i]);
		r->index_keys[i] = NULL;
	}
	free(r->index_keys);
	r->nindex_keys = 0;
	/* What we wrote is what this process now knows. */
	r->index_keys = written;
	r->nindex_keys = nwritten;
	written = NULL;
	nwritten = 0;
out:
	if (g.entries)
		for (uint32_t p = 0; p < g.npacks; p++)
			free(g.entries[p]);
	free(g.entries);
	free(g.count);
	free(g.fill);
	free(batch);
	for (size_t i = 0; i < nwritten; i++)
		free(written[i]);
	free(written);
	return rc;
}

typedef struct unindexed {
	stow_repo *r;
	stow_keylist l;
} unindexed;

static int collect_pack(void *ctx, const char *key, uint64_t size, int kind,
			const uint8_t *id)
{
	unindexed *u = ctx;
	uint32_t before, ord;

	if (!id)
		return 0;
	/* Known pack? Adding it is how we look it up; a new ordinal means
	 * no index object listed it. */
	before = stow_repo_pack_count(u->r);
	STOW_TRY(stow_repo_pack_add(u->r, id, kind, &ord));
	if (ord < before)
		return 0;
	return stow_keylist_add(&u->l, key, size);
}

int stow_repo_index_unindexed_packs(stow_repo *r, uint64_t *added)
{
	unindexed u = {.r = r};
	stow_vault_ctx *c = NULL;
	stow_buf b;
	int rc;

	*added = 0;
	rc = stow_packlist_foreach(r->st, collect_pack, &u);
	if (rc == 0)
		rc = stow_vault_ctx_new(&c, r);
	stow_buf_init(&b, STOW_PACK_MAX);
	for (size_t i = 0; rc == 0 && i < u.l.n; i++) {
		const char *name = strrchr(u.l.keys[i], '/') + 1;
		stow_pack_entry *v = NULL;
		size_t n = 0;
		uint8_t id[32];
		uint32_t ord;
		int prc;

		stow_unhex(id, 32, name);
		stow_buf_reset(&b);
		prc = stow_store_get(r->st, u.l.keys[i], 0, STOW_RANGE_END, &b);
		if (prc == 0)
			prc = stow_pack_read_trailer(c, id, b.data, b.len, &v,
						     &n);
		if (prc == STOW_ENOMEM)
			rc = prc;
		if (prc < 0)
			continue; /* a damaged pack: check reports it */
		stow_repo_pack_add(r, id, strncmp(u.l.keys[i], "meta/", 5) == 0,
				   &ord);
		for (size_t j = 0; j < n && rc == 0; j++) {
			stow_blob_loc loc = {
				.pack = ord,
				.offset = v[j].offset,
				.stored_len = v[j].stored_len,
				.raw_len = v[j].raw_len,
				.type = v[j].type,
				.comp = v[j].comp,
			};

			rc = stow_index_insert(r->index, v[j].id, &loc);
		}
		free(v);
		if (rc == 0)
			(*added)++;
	}
	stow_buf_free(&b);
	stow_vault_ctx_free(c);
	stow_keylist_free(&u.l);
	return rc;
}
