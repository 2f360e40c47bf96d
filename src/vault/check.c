/* check: verify a repository's structure and, with read_data, every byte.
 * Design note: docs/restore-and-check.md.
 *
 * Phases, in this order so that the last one can name every snapshot and
 * file a damaged blob affects:
 *   1. index objects that failed to load;
 *   2. packs: every pack the index references exists and is long enough
 *      for its blobs; packs nobody indexes are counted as a note;
 *   3. with read_data, every indexed pack is read whole (in parallel),
 *      its trailer verified and compared with the index, and every blob
 *      authenticated; damaged blob IDs go into a set;
 *   4. every snapshot: its manifest decrypts, every tree reads and
 *      decodes, every chunk is in the index with the right type and
 *      length and not in the damaged set.
 * A subtree found clean is remembered by ID and not walked again; a tree
 * with problems is walked again for every snapshot that holds it, so each
 * affected snapshot is named.
 *
 * Every problem message names the object (pack, index or snapshot key)
 * and, where one applies, the snapshot and the path within it. Lines
 * starting "note:" are informational and are not counted as problems.
 *
 * Memory: a map of the packs in the store, two words per indexed pack, a
 * set of damaged blob IDs, a set of clean tree IDs (one per distinct
 * directory), one tree per directory level, and with read_data one whole
 * pack per worker. */
#include "vault/ops.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "vault/idset.h"
#include "vault/keylist.h"
#include "vault/opmsg.h"
#include "vault/packlist.h"
#include "vault/treewalk.h"

#define PROGRESS_INTERVAL_NS 250000000ull
#define PACK_READ_MAX ((size_t)1 << 32)
#define PACK_KEY_LEN 72 /* "data/ab/" + 64 hex */
#define BAD_MISSING 1	/* absent or unreadable: every blob lost */
#define BAD_SHORT 2	/* truncated: blobs past the end lost */

/* A pack found in the store (the value in checker.present). */
typedef struct stored_pack {
	uint64_t size;
	uint32_t kind;
	bool indexed; /* an index object lists blobs in it */
} stored_pack;

/* --- state and messages --------------------------------------------------- */

typedef struct checker {
	stow_repo *r;
	stow_store *st;
	const stow_check_opts *o;
	pthread_mutex_t mu; /* the callbacks and `damaged` in phase 3 */
	atomic_uint_fast64_t problems;

	stow_idset present;  /* packs in the store: stored_pack each */
	stow_idset damaged;  /* blob IDs */
	stow_idset verified; /* tree IDs found clean */
	uint32_t npacks;
	uint64_t *need;	  /* per ordinal: end of its last indexed blob */
	uint64_t *size;	  /* per ordinal: size in the store */
	uint32_t *nblobs; /* per ordinal: index entries */
	uint8_t *bad;	  /* per ordinal: BAD_MISSING or BAD_SHORT */

	/* progress */
	uint64_t start_ns;
	atomic_uint_fast64_t last_ns, done, bytes_done;
	uint64_t total, bytes_total;
} checker;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(checker *ck, bool final)
{
	uint64_t now = now_ns();
	stow_progress p = {0};

	if (!ck->o->progress)
		return;
	if (!final && now - atomic_load(&ck->last_ns) < PROGRESS_INTERVAL_NS)
		return;
	pthread_mutex_lock(&ck->mu);
	p.files_done = atomic_load(&ck->done);
	p.files_total = ck->total;
	p.bytes_done = atomic_load(&ck->bytes_done);
	p.bytes_total = ck->bytes_total;
	p.errors = atomic_load(&ck->problems);
	p.elapsed = (double)(now - ck->start_ns) / 1e9;
	p.done = final;
	ck->o->progress(ck->o->cb_ctx, &p);
	atomic_store(&ck->last_ns, now);
	pthread_mutex_unlock(&ck->mu);
}

static void vmessage(checker *ck, bool is_problem, const char *snap,
		     const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void vmessage(checker *ck, bool is_problem, const char *snap,
		     const char *path, const char *fmt, va_list ap)
{
	stow_buf b;

	if (is_problem)
		atomic_fetch_add(&ck->problems, 1);
	if (!ck->o->problem)
		return;
	stow_buf_init(&b, 0);
	if (!is_problem)
		stow_buf_append_str(&b, "note: ");
	if (snap)
		stow_buf_printf(&b, "snapshot %s: ", snap);
	if (stow_opmsg_vappend(&b, path, fmt, ap) == 0) {
		pthread_mutex_lock(&ck->mu);
		ck->o->problem(ck->o->cb_ctx, (const char *)b.data);
		pthread_mutex_unlock(&ck->mu);
	}
	stow_buf_free(&b);
}

/* A problem: counted, and reported as "[snapshot S: ][path: ]text". */
static void problem(checker *ck, const char *snap, const char *path,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(checker *ck, const char *snap, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(ck, true, snap, path, fmt, ap);
	va_end(ap);
}

static void note(checker *ck, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(checker *ck, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(ck, false, NULL, NULL, fmt, ap);
	va_end(ap);
}

static void pack_key_of(checker *ck, uint32_t ord, char key[160])
{
	int kind = 0;
	const uint8_t *id = stow_repo_pack_id(ck->r, ord, &kind);

	if (id)
		stow_pack_key(key, 160, kind, id);
	else
		snprintf(key, 160, "(pack #%u)", ord);
}

/* --- 1. index objects ----------------------------------------------------- */

static void check_indexes(checker *ck)
{
	const char *const *keys;
	size_t n;

	stow_repo_damaged_indexes(ck->r, &keys, &n);
	for (size_t i = 0; i < n; i++)
		problem(ck, NULL, NULL,
			"index object %s could not be loaded (damaged or "
			"unreadable); the blobs it lists are unknown to this "
			"check",
			keys[i]);
}

/* --- 2. packs ------------------------------------------------------------- */

/* Only a pack's exact name counts (data|meta/<2 hex>/<64 hex>, the
 * directory matching the ID); anything else is noted and ignored. */
static int list_pack(void *ctx, const char *key, uint64_t size, int kind,
		     const uint8_t *id)
{
	checker *ck = ctx;
	stored_pack *p;
	void *v;

	if (!id || strlen(key) != PACK_KEY_LEN || key[7] != '/' ||
	    memcmp(key + 5, key + 8, 2) != 0) {
		note(ck, "unexpected object %s in the pack area (ignored)",
		     key);
		return 0;
	}
	STOW_TRY(stow_idset_add(&ck->present, id, &v));
	p = v;
	p->size = size;
	p->kind = (uint32_t)kind;
	return 0;
}

static int index_extent(void *ctx, const uint8_t id[STOW_ID_LEN],
			const stow_blob_loc *loc)
{
	checker *ck = ctx;
	uint64_t end = (uint64_t)loc->offset + loc->stored_len;

	(void)id;
	if (loc->pack >= ck->npacks)
		return 0; /* registered after we sized the arrays */
	if (end > ck->need[loc->pack])
		ck->need[loc->pack] = end;
	ck->nblobs[loc->pack]++;
	return 0;
}

static int check_packs(checker *ck)
{
	uint64_t stray = 0, stray_bytes = 0;
	void *v;

	STOW_TRY(stow_packlist_foreach(ck->st, list_pack, ck));
	ck->npacks = stow_repo_pack_count(ck->r);
	ck->need = calloc(ck->npacks + 1, sizeof(*ck->need));
	ck->size = calloc(ck->npacks + 1, sizeof(*ck->size));
	ck->nblobs = calloc(ck->npacks + 1, sizeof(*ck->nblobs));
	ck->bad = calloc(ck->npacks + 1, 1);
	if (!ck->need || !ck->size || !ck->nblobs || !ck->bad)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	STOW_TRY(stow_repo_index_foreach(ck->r, index_extent, ck));
	for (uint32_t o = 0; o < ck->npacks; o++) {
		int kind = 0;
		const uint8_t *id = stow_repo_pack_id(ck->r, o, &kind);
		stored_pack *p = id ? stow_idset_get(&ck->present, id) : NULL;
		char key[160];

		if (!id || !ck->nblobs[o])
			continue;
		pack_key_of(ck, o, key);
		if (!p || p->kind != (uint32_t)kind) {
			problem(ck, NULL, NULL,
				"pack %s is missing (the index lists %u blobs "
				"in it)",
				key, ck->nblobs[o]);
			ck->bad[o] = BAD_MISSING;
			continue;
		}
		p->indexed = true;
		ck->size[o] = p->size;
		if (p->size < ck->need[o]) {
			problem(ck, NULL, NULL,
				"pack %s is truncated: %llu bytes, but the "
				"index has blobs up to offset %llu",
				key, (unsigned long long)p->size,
				(unsigned long long)ck->need[o]);
			ck->bad[o] = BAD_SHORT;
		}
	}
	for (size_t pos = 0; stow_idset_next(&ck->present, &pos, NULL, &v);) {
		const stored_pack *p = v;

		if (!p->indexed) {
			stray++;
			stray_bytes += p->size;
		}
	}
	if (stray) {
		const char *const *dk;
		size_t nd;

		stow_repo_damaged_indexes(ck->r, &dk, &nd);
		note(ck,
		     "%llu packs (%llu bytes) are not referenced by any index: "
		     "%s",
		     (unsigned long long)stray, (unsigned long long)stray_bytes,
		     nd ? "some may be those the damaged index objects list"
			: "leftovers of interrupted backups, or of a backup "
			  "still running; not damage");
	}
	return 0;
}

/* Every blob of a missing or unreadable pack is damaged, and those past
 * the end of a truncated one. */
static int mark_bad_pack_blob(void *ctx, const uint8_t id[STOW_ID_LEN],
			      const stow_blob_loc *loc)
{
	checker *ck = ctx;
	int rc;

	if (loc->pack >= ck->npacks || !ck->bad[loc->pack])
		return 0;
	if (ck->bad[loc->pack] == BAD_SHORT &&
	    (uint64_t)loc->offset + loc->stored_len <= ck->size[loc->pack])
		return 0;
	rc = stow_idset_add(&ck->damaged, id, NULL);
	return rc < 0 ? rc : 0;
}

/* --- 3. read every pack --------------------------------------------------- */

typedef struct reader {
	checker *ck;
	atomic_uint *next; /* the next pack ordinal to take, shared */
	pthread_t th;
	stow_vault_ctx *ctx;
	stow_buf pack, blob;
	int rc; /* fatal errors only (ENOMEM) */
} reader;

/* Index entries of one pack, collected when they must be compared with a
 * trailer entry by entry (rare: only for a pack that does not match). */
typedef struct collect {
	uint32_t ord;
	stow_pack_entry *v;
	size_t n, cap;
	int rc;
} collect;

static int collect_pack(void *ctx, const uint8_t id[STOW_ID_LEN],
			const stow_blob_loc *loc)
{
	collect *c = ctx;
	stow_pack_entry *e;

	if (loc->pack != c->ord)
		return 0;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		stow_pack_entry *nv = realloc(c->v, ncap * sizeof(*nv));

		if (!nv)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		c->v = nv;
		c->cap = ncap;
	}
	e = &c->v[c->n++];
	stow_pack_entry_set(e, id, loc);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(((const stow_pack_entry *)a)->id,
		      ((const stow_pack_entry *)b)->id, STOW_ID_LEN);
}

/* Only blobs the index places in the pack being read are added, so a
 * damaged blob's pack is always the one stow_repo_lookup() names. */
static int add_damaged(checker *ck, const uint8_t *id)
{
	int rc;

	pthread_mutex_lock(&ck->mu);
	rc = stow_idset_add(&ck->damaged, id, NULL);
	pthread_mutex_unlock(&ck->mu);
	return rc < 0 ? rc : 0;
}

/* Open one blob at its index location in the pack held in memory. */
static int open_indexed(reader *rd, const uint8_t *pid, const char *key,
			const stow_pack_entry *e)
{
	checker *ck = rd->ck;
	char hex[65];
	int rc;

	stow_hex(hex, e->id, STOW_ID_LEN);
	if ((uint64_t)e->offset + e->stored_len > rd->pack.len) {
		problem(ck, NULL, NULL,
			"pack %s: blob %s lies beyond the end of the pack", key,
			hex);
		return 1;
	}
	rc = stow_pack_open_blob(rd->ctx, pid, e, rd->pack.data + e->offset,
				 &rd->blob);
	if (rc == STOW_ENOMEM)
		return rc;
	if (rc < 0) {
		problem(ck, NULL, NULL, "pack %s: blob %s: %s", key, hex,
			stow_err_msg());
		return 1;
	}
	return 0;
}

/* Index entries for this pack that the trailer does not confirm (or all
 * of them, if the trailer is unusable): report and try each. */
static int check_unconfirmed(reader *rd, uint32_t ord, const uint8_t *pid,
			     const char *key, stow_pack_entry *trailer,
			     size_t nt)
{
	checker *ck = rd->ck;
	collect c = {.ord = ord};
	int rc;

	rc = stow_repo_index_foreach(ck->r, collect_pack, &c);
	if (rc < 0) {
		free(c.v);
		return rc;
	}
	if (trailer)
		qsort(trailer, nt, sizeof(*trailer), entry_cmp);
	for (size_t i = 0; i < c.n; i++) {
		const stow_pack_entry *e = &c.v[i];
		const stow_pack_entry *t =
		    trailer
			? bsearch(e, trailer, nt, sizeof(*trailer), entry_cmp)
			: NULL;
		char hex[65];

		if (t && t->offset == e->offset &&
		    t->stored_len == e->stored_len &&
		    t->raw_len == e->raw_len && t->type == e->type &&
		    t->comp == e->comp)
			continue;
		if (trailer) {
			stow_hex(hex, e->id, STOW_ID_LEN);
			problem(ck, NULL, NULL,
				"pack %s: the index lists blob %s at offset "
				"%u (%u bytes), which the pack's trailer "
				"does not",
				key, hex, e->offset, e->stored_len);
		}
		rc = open_indexed(rd, pid, key, e);
		if (rc == 1)
			rc = add_damaged(ck, e->id);
		if (rc < 0)
			break;
	}
	free(c.v);
	return rc < 0 ? rc : 0;
}

static int verify_pack(reader *rd, uint32_t ord)
{
	checker *ck = rd->ck;
	stow_pack_entry *ents = NULL;
	const uint8_t *pid;
	size_t ne = 0, matched = 0;
	char key[160];
	int kind, rc;

	pid = stow_repo_pack_id(ck->r, ord, &kind);
	if (!pid)
		return 0;
	stow_pack_key(key, sizeof(key), kind, pid);
	stow_buf_reset(&rd->pack);
	rc = stow_store_get(ck->st, key, 0, STOW_RANGE_END, &rd->pack);
	if (rc == STOW_ENOMEM)
		return rc;
	if (rc < 0) {
		problem(ck, NULL, NULL, "pack %s: cannot read: %s", key,
			stow_err_msg());
		ck->bad[ord] = BAD_MISSING; /* blobs marked after the phase */
		return 0;
	}
	atomic_fetch_add(&ck->bytes_done, rd->pack.len);
	rc = stow_pack_read_trailer(rd->ctx, pid, rd->pack.data, rd->pack.len,
				    &ents, &ne);
	if (rc == STOW_ENOMEM)
		return rc;
	if (rc < 0) {
		problem(ck, NULL, NULL, "pack %s: %s", key, stow_err_msg());
		return check_unconfirmed(rd, ord, pid, key, NULL, 0);
	}
	for (size_t i = 0; i < ne; i++) {
		const stow_pack_entry *e = &ents[i];
		stow_blob_loc loc;
		bool indexed_here;

		indexed_here = stow_repo_lookup(ck->r, e->id, &loc) == 0 &&
			       loc.pack == ord;
		if (indexed_here && loc.offset == e->offset &&
		    loc.stored_len == e->stored_len &&
		    loc.raw_len == e->raw_len && loc.type == e->type &&
		    loc.comp == e->comp)
			matched++;
		rc = open_indexed(rd, pid, key, e);
		if (rc < 0)
			break;
		/* A damaged copy the index does not point to (a duplicate
		 * from concurrent writers) is damage in storage but breaks
		 * no snapshot. */
		if (rc == 1 && indexed_here)
			rc = add_damaged(ck, e->id);
		if (rc < 0)
			break;
		rc = 0;
	}
	if (rc == 0 && matched < ck->nblobs[ord])
		rc = check_unconfirmed(rd, ord, pid, key, ents, ne);
	free(ents);
	return rc;
}

static void *reader_main(void *arg)
{
	reader *rd = arg;
	checker *ck = rd->ck;
	unsigned ord;

	while (rd->rc == 0 &&
	       (ord = atomic_fetch_add(rd->next, 1)) < ck->npacks) {
		if (ck->bad[ord] == BAD_MISSING || !ck->nblobs[ord])
			continue; /* reported in phase 2 */
		rd->rc = verify_pack(rd, ord);
		atomic_fetch_add(&ck->done, 1);
		report(ck, false);
	}
	if (rd->rc < 0) /* stop the others early */
		atomic_store(rd->next, ck->npacks);
	return NULL;
}

static int read_all_packs(checker *ck)
{
	unsigned n = stow_repo_parallel(ck->r);
	atomic_uint next;
	reader *rds;
	size_t started = 0;
	int rc = 0;

	if (n < 1)
		n = 1;
	atomic_init(&next, 0);
	ck->total = 0;
	ck->bytes_total = 0;
	for (uint32_t o = 0; o < ck->npacks; o++) {
		const uint8_t *id = stow_repo_pack_id(ck->r, o, NULL);
		const stored_pack *p =
		    id ? stow_idset_get(&ck->present, id) : NULL;

		if (ck->bad[o] != BAD_MISSING && ck->nblobs[o]) {
			ck->total++;
			ck->bytes_total += p ? p->size : 0;
		}
	}
	rds = calloc(n, sizeof(*rds));
	if (!rds)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (unsigned i = 0; i < n && rc == 0; i++) {
		rds[i].ck = ck;
		rds[i].next = &next;
		stow_buf_init(&rds[i].pack, PACK_READ_MAX);
		stow_buf_init(&rds[i].blob, 0);
		rc = stow_vault_ctx_new(&rds[i].ctx, ck->r);
	}
	for (unsigned i = 0; i < n && rc == 0; i++, started++)
		if (pthread_create(&rds[i].th, NULL, reader_main, &rds[i]))
			break;
	if (rc == 0 && started == 0)
		rc = stow_err_set(STOW_EIO, "cannot start check threads");
	for (size_t i = 0; i < started; i++) {
		pthread_join(rds[i].th, NULL);
		if (rc == 0 && rds[i].rc < 0)
			rc = rds[i].rc;
	}
	for (unsigned i = 0; i < n; i++) {
		stow_vault_ctx_free(rds[i].ctx);
		stow_buf_free(&rds[i].pack);
		stow_buf_free(&rds[i].blob);
	}
	free(rds);
	return rc;
}

/* --- 4. snapshots and trees ----------------------------------------------- */

typedef struct tframe {
	stow_tree t;
	size_t i;
	size_t path_len;
	uint8_t id[STOW_ID_LEN];
	bool dirty; /* a problem was found in this tree or below */
} tframe;

typedef struct twalk {
	checker *ck;
	const char *snap; /* ID, for messages */
	stow_vault_ctx *ctx;
	stow_buf tbuf, path;
	tframe *v;
	size_t n, cap;
} twalk;

/* Enter the tree `id` found at the current path: push it, or report why
 * it cannot be read. Returns 1 when it was pushed, 0 when it needs no
 * walk (already verified clean) or is broken (*dirty set), or < 0. */
static int tw_enter(twalk *w, const uint8_t id[STOW_ID_LEN], bool *dirty)
{
	checker *ck = w->ck;
	const char *path = (const char *)w->path.data;
	stow_tree t = {0};
	stow_blob_loc loc;
	char hex[65], key[160];
	int rc;

	if (stow_idset_has(&ck->verified, id))
		return 0;
	stow_hex(hex, id, STOW_ID_LEN);
	if (stow_repo_lookup(ck->r, id, &loc) < 0) {
		problem(ck, w->snap, path,
			"directory listing (tree %s) is not in the index", hex);
		*dirty = true;
		return 0;
	}
	if (loc.type != STOW_BLOB_TREE) {
		problem(ck, w->snap, path,
			"tree %s is indexed as a data blob, not a tree", hex);
		*dirty = true;
		return 0;
	}
	if (stow_idset_has(&ck->damaged, id)) {
		pack_key_of(ck, loc.pack, key);
		problem(ck, w->snap, path,
			"directory listing (tree %s) is damaged (in pack %s); "
			"everything below it is lost",
			hex, key);
		*dirty = true;
		return 0;
	}
	rc = stow_treewalk_load(w->ctx, &w->tbuf, id, &t);
	if (rc == STOW_ENOMEM)
		return rc;
	if (rc < 0) {
		problem(ck, w->snap, path, "tree %s: %s", hex, stow_err_msg());
		*dirty = true;
		return 0;
	}
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 16;
		tframe *nv = realloc(w->v, ncap * sizeof(*nv));

		if (!nv) {
			stow_tree_free(&t);
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
		w->v = nv;
		w->cap = ncap;
	}
	w->v[w->n] = (tframe){.t = t, .path_len = w->path.len};
	memcpy(w->v[w->n].id, id, STOW_ID_LEN);
	w->n++;
	return 1;
}

/* Leaving a tree: remember it as clean, or pass the problem up so that
 * no ancestor is remembered as clean either. */
static int tw_leave(twalk *w)
{
	tframe *f = &w->v[--w->n];
	int rc = 0;

	if (!f->dirty)
		rc = stow_idset_add(&w->ck->verified, f->id, NULL);
	else if (w->n)
		w->v[w->n - 1].dirty = true;
	stow_tree_free(&f->t);
	return rc < 0 ? rc : 0;
}

/* A file's chunks: each in the index, as data of the right length, and
 * not damaged. One message per file, naming the first bad chunk. Returns
 * true when clean. */
static bool check_file(twalk *w, const stow_node *n)
{
	checker *ck = w->ck;
	size_t bad = 0, stored = 0;
	uint64_t off = 0;
	char first[400] = "";

	for (size_t i = 0; i < n->nchunks; off += n->chunks[i].len, i++) {
		const stow_chunk_ref *c = &n->chunks[i];
		stow_blob_loc loc;
		char hex[65], key[160] = "";
		const char *why = NULL;
		bool indexed;

		if (c->hole)
			continue;
		stored++;
		indexed = stow_repo_lookup(ck->r, c->id, &loc) == 0;
		if (!indexed)
			why = "is not in the index";
		else if (loc.type != STOW_BLOB_DATA)
			why = "is indexed as a tree, not data";
		else if (loc.raw_len != c->len)
			why = "has a different length in the index";
		else if (stow_idset_has(&ck->damaged, c->id))
			why = "is damaged";
		if (!why || bad++)
			continue;
		if (indexed)
			pack_key_of(ck, loc.pack, key);
		stow_hex(hex, c->id, STOW_ID_LEN);
		if (key[0])
			snprintf(first, sizeof(first),
				 "chunk %s at offset %llu %s (pack %s)", hex,
				 (unsigned long long)off, why, key);
		else
			snprintf(first, sizeof(first),
				 "chunk %s at offset %llu %s", hex,
				 (unsigned long long)off, why);
	}
	if (!bad)
		return true;
	problem(ck, w->snap, (const char *)w->path.data,
		"%zu of %zu stored chunks damaged or missing, the file "
		"cannot be restored; first: %s",
		bad, stored, first);
	return false;
}

static int check_snapshot_trees(twalk *w, const uint8_t root[STOW_ID_LEN])
{
	bool dirty = false;
	int rc;

	stow_treewalk_path_cut(&w->path, 0);
	rc = tw_enter(w, root, &dirty);
	while (rc >= 0 && w->n) {
		tframe *f = &w->v[w->n - 1];
		const stow_node *n;

		if (f->i == f->t.count) {
			rc = tw_leave(w);
			continue;
		}
		n = &f->t.nodes[f->i++];
		stow_treewalk_path_cut(&w->path, f->path_len);
		rc = stow_treewalk_path_push(&w->path, n->name, n->name_len);
		if (rc < 0)
			break;
		if (n->type == STOW_NODE_FILE && !check_file(w, n))
			f->dirty = true;
		if (n->type == STOW_NODE_DIR) {
			bool sub_dirty = false;

			/* f may move when the stack grows. */
			rc = tw_enter(w, n->subtree, &sub_dirty);
			if (sub_dirty)
				w->v[w->n - 1].dirty = true;
		}
	}
	while (w->n) {
		w->n--;
		stow_tree_free(&w->v[w->n].t);
	}
	return rc < 0 ? rc : 0;
}

static int check_snapshots(checker *ck)
{
	stow_keylist k = {0};
	twalk w = {.ck = ck};
	int rc;

	rc = stow_keylist_list_sorted(ck->st, "snapshots/", &k);
	if (rc == 0)
		rc = stow_vault_ctx_new(&w.ctx, ck->r);
	stow_buf_init(&w.tbuf, STOW_TREE_BLOB_MAX);
	stow_buf_init(&w.path, 0);
	if (rc == 0)
		rc = stow_buf_append_str(&w.path, "");
	atomic_store(&ck->done, 0);
	ck->total = k.n;
	atomic_store(&ck->bytes_done, 0);
	ck->bytes_total = 0;
	for (size_t i = 0; rc == 0 && i < k.n; i++) {
		const char *id = k.keys[i] + strlen("snapshots/");
		stow_snapshot snap = {0};
		uint8_t raw[32];

		if (strlen(id) != 64 || stow_unhex(raw, 32, id) < 0) {
			note(ck,
			     "unexpected object %s among snapshots "
			     "(ignored)",
			     k.keys[i]);
			continue;
		}
		rc = stow_snapshot_load(ck->r, id, &snap);
		if (rc == STOW_ENOMEM)
			break;
		if (rc < 0) {
			problem(ck, NULL, NULL,
				"snapshot object %s cannot be loaded: %s; the "
				"snapshot is lost",
				k.keys[i], stow_err_msg());
			rc = 0;
			continue;
		}
		w.snap = snap.id[0] ? snap.id : id;
		rc = check_snapshot_trees(&w, snap.root);
		stow_snapshot_free(&snap);
		atomic_fetch_add(&ck->done, 1);
		report(ck, false);
	}
	free(w.v);
	stow_buf_free(&w.tbuf);
	stow_buf_free(&w.path);
	stow_vault_ctx_free(w.ctx);
	stow_keylist_free(&k);
	return rc;
}

/* --- entry point ---------------------------------------------------------- */

int stow_vault_check(stow_repo *r, const stow_check_opts *o, uint64_t *problems)
{
	checker ck = {0};
	int rc;

	if (!r || !o)
		return stow_err_set(STOW_EINVAL, "check: missing argument");
	if (problems)
		*problems = 0;
	ck.r = r;
	ck.st = stow_repo_store(r);
	ck.o = o;
	ck.start_ns = now_ns();
	stow_idset_init(&ck.present, sizeof(stored_pack));
	pthread_mutex_init(&ck.mu, NULL);

	check_indexes(&ck);
	rc = check_packs(&ck);
	if (rc == 0 && o->read_data)
		rc = read_all_packs(&ck);
	/* Blobs of packs found missing, short or unreadable count as
	 * damaged, so the snapshot walk names the files they break. */
	if (rc == 0)
		rc = stow_repo_index_foreach(r, mark_bad_pack_blob, &ck);
	if (rc == 0)
		rc = check_snapshots(&ck);
	report(&ck, true);
	if (problems)
		*problems = atomic_load(&ck.problems);
	stow_idset_free(&ck.present);
	stow_idset_free(&ck.damaged);
	stow_idset_free(&ck.verified);
	free(ck.need);
	free(ck.size);
	free(ck.nblobs);
	free(ck.bad);
	pthread_mutex_destroy(&ck.mu);
	return rc;
}
