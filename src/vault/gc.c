/* gc: find packs no snapshot references. Design note:
 * docs/restore-and-check.md §gc.
 *
 * Mark: walk every snapshot's trees and mark the pack of every blob
 * reached (trees and chunks). Marking packs rather than blobs is enough to
 * decide what can go, since packs are deleted whole: memory is one byte
 * per pack plus a set of visited tree IDs (one per distinct directory,
 * so a subtree shared by many snapshots is walked once).
 *
 * Sweep: a pack with no marked blob is garbage. Deleting it is only safe
 * together with removing its entries from the index objects: a pack gone
 * while an index object still lists it makes `check` report it missing,
 * and, worse, lets a later backup deduplicate against a blob that no
 * longer exists. The repository core offers no way yet to rewrite index
 * objects, so for now gc only reports (dry run); a real run refuses with
 * STOW_EUNSUPPORTED when there is something to delete.
 *
 * gc must not run concurrently with backups: a backup may deduplicate
 * against a blob in a pack gc is about to delete. The "locks/gc" lease
 * only keeps two gc runs apart. */
#include "vault/ops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define GC_LOCK_KEY "locks/gc"

/* --- visited tree IDs ----------------------------------------------------- */

/* Open addressing over 32-byte keyed-hash IDs (first 8 bytes as the hash),
 * load <= 0.7. */
typedef struct idset {
	uint8_t (*v)[STOW_ID_LEN + 1]; /* [32] = used */
	size_t cap, n;
} idset;

static size_t idset_slot(const idset *s, const uint8_t *id)
{
	size_t mask = s->cap - 1, i;
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	for (i = (size_t)h & mask; s->v[i][STOW_ID_LEN]; i = (i + 1) & mask)
		if (memcmp(s->v[i], id, STOW_ID_LEN) == 0)
			break;
	return i;
}

/* 1 if id was added, 0 if it was there already. */
static int idset_add(idset *s, const uint8_t *id)
{
	size_t i;

	if ((s->n + 1) * 10 > s->cap * 7) {
		idset ns = {.cap = s->cap ? s->cap * 2 : 1024};

		ns.v = calloc(ns.cap, sizeof(*ns.v));
		if (!ns.v)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		for (size_t j = 0; j < s->cap; j++)
			if (s->v[j][STOW_ID_LEN])
				memcpy(ns.v[idset_slot(&ns, s->v[j])], s->v[j],
				       sizeof(*s->v));
		ns.n = s->n;
		free(s->v);
		*s = ns;
	}
	i = idset_slot(s, id);
	if (s->v[i][STOW_ID_LEN])
		return 0;
	memcpy(s->v[i], id, STOW_ID_LEN);
	s->v[i][STOW_ID_LEN] = 1;
	s->n++;
	return 1;
}

/* --- mark ----------------------------------------------------------------- */

typedef struct marker {
	stow_repo *r;
	stow_vault_ctx *ctx;
	stow_buf tbuf;
	idset trees;
	uint8_t *marked; /* per pack ordinal */
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

	rc = idset_add(&m->trees, id);
	if (rc <= 0)
		return rc;
	STOW_TRY(mark_blob(m, id, snap, "tree"));
	rc = stow_repo_read_blob(m->ctx, id, &m->tbuf);
	if (rc == 0)
		rc = stow_tree_decode(&t, m->tbuf.data, m->tbuf.len);
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

/* --- lease ---------------------------------------------------------------- */

static int take_lease(stow_store *st)
{
	char host[256] = "?", body[512];
	int n, rc;

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	n = snprintf(body, sizeof(body), "gc host=%s pid=%ld time=%lld\n", host,
		     (long)getpid(), (long long)time(NULL));
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	rc = stow_store_put(st, GC_LOCK_KEY, body, (size_t)n, STOW_PUT_EXCL);
	if (rc == STOW_EEXIST)
		return stow_err_set(STOW_ELOCKED,
				    "another gc holds the repository lease "
				    "(%s exists); if no gc is running, a "
				    "crashed one left it: delete that object",
				    GC_LOCK_KEY);
	if (rc < 0)
		return stow_err_wrap(rc, "taking the gc lease %s", GC_LOCK_KEY);
	return 0;
}

/* --- entry point ---------------------------------------------------------- */

int stow_vault_gc(stow_repo *r, bool dry_run, stow_gc_stats *st)
{
	stow_store *store;
	stow_snapshot *snaps = NULL;
	size_t nsnaps = 0, damaged = 0, nbad;
	const char *const *bad;
	marker m = {0};
	int rc;

	if (!r || !st)
		return stow_err_set(STOW_EINVAL, "gc: missing argument");
	memset(st, 0, sizeof(*st));
	store = stow_repo_store(r);
	STOW_TRY(take_lease(store));

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
	/* A real run would now (1) write one index object with the entries
	 * of the kept packs, (2) delete the index objects loaded at open,
	 * (3) delete the garbage packs - in that order, so that a crash at
	 * any point leaves every indexed pack present. Step (1) needs the
	 * repository core (see the design note). */
	if (!dry_run && st->packs_deleted) {
		rc = stow_err_set(STOW_EUNSUPPORTED,
				  "gc: %llu packs (%llu bytes) are "
				  "unreferenced, but deleting them needs index "
				  "rewriting, which is not implemented yet; "
				  "nothing was deleted (use --dry-run to see "
				  "the numbers)",
				  (unsigned long long)st->packs_deleted,
				  (unsigned long long)st->bytes_freed);
		st->packs_deleted = 0;
		st->bytes_freed = 0;
	}

out:
	while (m.n)
		stow_tree_free(&m.stack[--m.n]);
	free(m.stack);
	free(m.pos);
	free(m.trees.v);
	free(m.marked);
	stow_buf_free(&m.tbuf);
	stow_vault_ctx_free(m.ctx);
	stow_snapshot_free_all(snaps, nsnaps);
	/* Release the lease whatever happened; if that fails, the next gc
	 * reports the stale lease, so say so now. */
	if (stow_store_del(store, GC_LOCK_KEY) < 0 && rc == 0)
		rc = stow_err_wrap(STOW_EIO, "releasing the gc lease %s",
				   GC_LOCK_KEY);
	return rc;
}
