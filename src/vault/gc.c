/* gc: find packs no snapshot references. Design note:
 * docs/restore-and-check.md §gc.
 *
 * Mark: walk every snapshot's trees and mark the pack of every blob
 * reached (trees and chunks). Marking packs rather than blobs is enough to
 * decide what can go, since packs are deleted whole: memory is one byte
 * per pack plus a set of visited tree IDs (one per distinct directory,
 * so a subtree shared by many snapshots is walked once).
 *
 * Sweep: a pack with no marked blob is garbage, and so is a pack no index
 * object lists (left by a backup that was killed before writing its
 * index). Order matters: first the index is rewritten without the garbage
 * packs (stow_repo_rewrite_index: new objects durable before old ones go),
 * then the packs are deleted - so a crash at any point leaves every
 * indexed pack present.
 *
 * Backups and gc exclude each other through repository leases (lease.h):
 * a backup may deduplicate against a blob in a pack gc is about to
 * delete, so gc runs only when no live writer lease exists, and a backup
 * refuses to start while gc holds its lease. */
#include "vault/idset.h"
#include "vault/keylist.h"
#include "vault/lease.h"
#include "vault/packlist.h"
#include "vault/ops.h"
#include "vault/repo_internal.h"
#include "vault/treewalk.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

/* --- mark ----------------------------------------------------------------- */

typedef struct marker {
	stow_repo *r;
	stow_vault_ctx *ctx;
	stow_buf tbuf;
	stow_idset trees; /* visited */
	uint8_t *marked;  /* per pack ordinal */
	uint32_t npacks;
	stow_tree *stack;
	size_t *pos;
	size_t n, cap;
} marker;

/* Mark the pack holding `id`. A blob a snapshot references but the index
 * lacks means the repository is not what gc can reason about: refuse
 * rather than guess. */
static int mark_blob(marker *m, const uint8_t *id, const char *snap,
		     const char *what)
{
	stow_blob_loc loc;
	char hex[65];

	if (stow_repo_lookup(m->r, id, &loc) < 0) {
		stow_hex(hex, id, STOW_ID_LEN);
		return stow_err_set(STOW_ECORRUPT,
				    "gc: snapshot %s references %s %s, which "
				    "is not in the index; run `vault check` "
				    "and repair before gc",
				    snap, what, hex);
	}
	if (loc.pack < m->npacks)
		m->marked[loc.pack] = 1;
	return 0;
}

/* Mark tree `id`, and push it for walking unless seen before. */
static int enter_tree(marker *m, const uint8_t *id, const char *snap)
{
	stow_tree t = {0};
	char hex[65];
	int rc;

	rc = stow_idset_add(&m->trees, id, NULL);
	if (rc <= 0)
		return rc;
	STOW_TRY(mark_blob(m, id, snap, "tree"));
	rc = stow_treewalk_load(m->ctx, &m->tbuf, id, &t);
	if (rc < 0) {
		stow_hex(hex, id, STOW_ID_LEN);
		return stow_err_wrap(rc,
				     "gc: snapshot %s: cannot read tree %s "
				     "(what lies below it is unknown, so "
				     "nothing can be deleted safely)",
				     snap, hex);
	}
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 16;
		stow_tree *ns = realloc(m->stack, ncap * sizeof(*ns));
		size_t *np = ns ? realloc(m->pos, ncap * sizeof(*np)) : NULL;

		if (ns)
			m->stack = ns;
		if (!np) {
			stow_tree_free(&t);
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
		m->pos = np;
		m->cap = ncap;
	}
	m->stack[m->n] = t;
	m->pos[m->n] = 0;
	m->n++;
	return 0;
}

static int mark_snapshot(marker *m, const stow_snapshot *s)
{
	int rc = enter_tree(m, s->root, s->id);

	while (rc == 0 && m->n) {
		stow_tree *t = &m->stack[m->n - 1];
		const stow_node *n;

		if (m->pos[m->n - 1] == t->count) {
			stow_tree_free(t);
			m->n--;
			continue;
		}
		n = &t->nodes[m->pos[m->n - 1]++];
		if (n->type == STOW_NODE_DIR) {
			rc = enter_tree(m, n->subtree, s->id);
		} else if (n->type == STOW_NODE_FILE) {
			for (size_t i = 0; rc == 0 && i < n->nchunks; i++)
				if (!n->chunks[i].hole)
					rc = mark_blob(m, n->chunks[i].id,
						       s->id, "chunk");
		}
	}
	while (m->n)
		stow_tree_free(&m->stack[--m->n]);
	return rc;
}

/* Packs on storage that no index object lists. */
typedef struct orphans {
	stow_repo *r;
	uint32_t known;
	stow_keylist l;
} orphans;

static int find_orphan(void *ctx, const char *key, uint64_t size, int kind,
		       const uint8_t *id)
{
	orphans *o = ctx;
	uint32_t ord;

	if (!id)
		return 0;
	STOW_TRY(stow_repo_pack_add(o->r, id, kind, &ord));
	if (ord < o->known)
		return 0;
	return stow_keylist_add(&o->l, key, size);
}

/* --- entry point ---------------------------------------------------------- */

int stow_vault_gc(stow_repo *r, bool dry_run, stow_gc_stats *st)
{
	stow_store *store;
	stow_snapshot *snaps = NULL;
	size_t nsnaps = 0, damaged = 0, nbad;
	const char *const *bad;
	marker m = {0};
	orphans orph = {0};
	stow_lease *lease = NULL;
	int rc;

	if (!r || !st)
		return stow_err_set(STOW_EINVAL, "gc: missing argument");
	memset(st, 0, sizeof(*st));
	store = stow_repo_store(r);
	STOW_TRY(stow_lease_gc(&lease, r));
	/* Backups that finished since the repository was opened: learn
	 * their index objects before deciding anything. */
	rc = stow_repo_refresh_index(r);
	if (rc < 0)
		goto out;

	/* A damaged index object hides which packs its blobs are in, and a
	 * damaged snapshot hides what it references: with either, "not
	 * referenced" cannot be proven. */
	stow_repo_damaged_indexes(r, &bad, &nbad);
	if (nbad) {
		rc = stow_err_set(STOW_ECORRUPT,
				  "gc: index object %s (and %zu more) could "
				  "not be loaded; run `vault check` and "
				  "repair first",
				  bad[0], nbad - 1);
		goto out;
	}
	rc = stow_snapshot_load_all(r, &snaps, &nsnaps, &damaged);
	if (rc < 0)
		goto out;
	if (damaged) {
		rc = stow_err_set(STOW_ECORRUPT,
				  "gc: %zu snapshot objects could not be "
				  "loaded; their data cannot be told apart "
				  "from garbage, so gc refuses to run",
				  damaged);
		goto out;
	}

	m.r = r;
	m.npacks = stow_repo_pack_count(r);
	m.marked = calloc(m.npacks + 1, 1);
	stow_buf_init(&m.tbuf, STOW_TREE_BLOB_MAX);
	if (!m.marked) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto out;
	}
	rc = stow_vault_ctx_new(&m.ctx, r);
	for (size_t i = 0; rc == 0 && i < nsnaps; i++)
		rc = mark_snapshot(&m, &snaps[i]);
	if (rc < 0)
		goto out;

	/* Packs nothing indexes: known only from a listing of storage. */
	orph.r = r;
	orph.known = m.npacks;
	rc = stow_packlist_foreach(store, find_orphan, &orph);
	if (rc < 0)
		goto out;

	for (uint32_t o = 0; o < m.npacks; o++) {
		int kind = 0;
		const uint8_t *id = stow_repo_pack_id(r, o, &kind);
		char key[160];
		uint64_t size = 0;

		if (!id)
			continue;
		if (m.marked[o]) {
			st->packs_kept++;
			continue;
		}
		stow_pack_key(key, sizeof(key), kind, id);
		if (stow_store_stat(store, key, &size) == STOW_ENOTFOUND)
			continue; /* already gone: nothing to free */
		st->packs_deleted++;
		st->bytes_freed += size;
	}
	for (size_t i = 0; i < orph.l.n; i++) {
		st->packs_deleted++;
		st->bytes_freed += orph.l.sizes[i];
	}
	if (dry_run || st->packs_deleted == 0)
		goto out;

	/* Index first (a crash after it leaves only unindexed packs, which
	 * the next gc removes), then the packs. */
	rc = stow_repo_rewrite_index(r, m.marked);
	if (rc < 0)
		goto out;
	for (uint32_t o = 0; o < m.npacks; o++) {
		int kind = 0;
		const uint8_t *id = stow_repo_pack_id(r, o, &kind);
		char key[160];
		int drc;

		if (!id || m.marked[o])
			continue;
		stow_pack_key(key, sizeof(key), kind, id);
		drc = stow_store_del(store, key);
		if (drc < 0 && drc != STOW_ENOTFOUND) {
			rc = stow_err_wrap(drc, "gc: deleting %s", key);
			goto out;
		}
	}
	for (size_t i = 0; i < orph.l.n; i++) {
		int drc = stow_store_del(store, orph.l.keys[i]);

		if (drc < 0 && drc != STOW_ENOTFOUND) {
			rc = stow_err_wrap(drc, "gc: deleting %s",
					   orph.l.keys[i]);
			goto out;
		}
	}

out:
	while (m.n)
		stow_tree_free(&m.stack[--m.n]);
	free(m.stack);
	free(m.pos);
	stow_idset_free(&m.trees);
	free(m.marked);
	stow_buf_free(&m.tbuf);
	stow_vault_ctx_free(m.ctx);
	stow_snapshot_free_all(snaps, nsnaps);
	stow_keylist_free(&orph.l);
	stow_lease_release(lease);
	return rc;
}
