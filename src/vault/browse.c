/* Read-only views of snapshots: ls, diff, stats.
 *
 * Walks hold one decoded tree per directory level (an explicit stack, so a
 * deep hostile tree cannot overflow the C stack) and never the whole
 * snapshot. Paths handed to callbacks are the raw names joined with '/'
 * from the snapshot root, without a leading '/': names may hold any byte
 * but '/' and NUL, so the caller escapes them for display. */
#include "vault/ops.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "vault/packlist.h"
#include "vault/treewalk.h"

/* A stack of decoded trees, one per level, each with a cursor and the
 * length of the path buffer that names its directory. diff uses both
 * sides; ls only `a`. */
typedef struct frame {
	stow_tree a, b;
	size_t i, j;
	size_t path_len;
} frame;

typedef struct walk {
	frame *v;
	size_t n, cap;
	stow_buf path; /* NUL-terminated */
	stow_buf tbuf;
	stow_vault_ctx *ctx;
} walk;

/* A tree, with read errors worded "tree <id>: ...". */
static int load_tree(walk *w, const uint8_t id[STOW_ID_LEN], stow_tree *t)
{
	char hex[65];
	int rc = stow_treewalk_load(w->ctx, &w->tbuf, id, t);

	if (rc < 0) {
		stow_hex(hex, id, STOW_ID_LEN);
		return stow_err_wrap(rc, "tree %s", hex);
	}
	return 0;
}

static int walk_init(walk *w, stow_repo *r)
{
	memset(w, 0, sizeof(*w));
	stow_buf_init(&w->path, 0);
	stow_buf_init(&w->tbuf, STOW_TREE_BLOB_MAX);
	STOW_TRY(stow_buf_append_str(&w->path, ""));
	return stow_vault_ctx_new(&w->ctx, r);
}

static void walk_free(walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		stow_tree_free(&w->v[i].a);
		stow_tree_free(&w->v[i].b);
	}
	free(w->v);
	stow_buf_free(&w->path);
	stow_buf_free(&w->tbuf);
	stow_vault_ctx_free(w->ctx);
}

/* Push a frame taking ownership of a and b (either may be empty). */
static int push(walk *w, stow_tree *a, stow_tree *b)
{
	frame *f;

	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 16;
		frame *nv = realloc(w->v, ncap * sizeof(*nv));

		if (!nv) {
			stow_tree_free(a);
			stow_tree_free(b);
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
		w->v = nv;
		w->cap = ncap;
	}
	f = &w->v[w->n++];
	memset(f, 0, sizeof(*f));
	f->a = *a;
	f->b = *b;
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	f->path_len = w->path.len;
	return 0;
}

static void pop(walk *w)
{
	frame *f = &w->v[--w->n];

	stow_tree_free(&f->a);
	stow_tree_free(&f->b);
	stow_treewalk_path_cut(&w->path, f->path_len);
}

/* Resolve `path` in the snapshot rooted at root (stow_treewalk_resolve,
 * with w->path receiving the normalised path). A missing entry and a
 * path through a file are both "no such path in snapshot: P" here. */
static int resolve(walk *w, const uint8_t root[STOW_ID_LEN], const char *path,
		   stow_tree *t, const stow_node **n)
{
	const uint8_t *unreadable;
	char hex[65];
	int rc = stow_treewalk_resolve(w->ctx, &w->tbuf, root, path, t, n,
				       &w->path, &unreadable);

	if (rc < 0 && unreadable) {
		stow_hex(hex, unreadable, STOW_ID_LEN);
		return stow_err_wrap(rc, "tree %s", hex);
	}
	if (rc == STOW_ENOTFOUND)
		return stow_err_set(STOW_ENOTFOUND,
				    "no such path in snapshot: %s", path);
	return rc;
}

/* --- ls ------------------------------------------------------------------- */

int stow_vault_ls(stow_repo *r, const char *snap_id, const char *path,
		  bool recursive, stow_ls_cb cb, void *ctx)
{
	stow_snapshot snap = {0};
	stow_tree t = {0}, none = {0};
	const stow_node *n = NULL;
	walk w;
	int rc;

	if (!r || !snap_id || !cb)
		return stow_err_set(STOW_EINVAL, "ls: missing argument");
	rc = stow_snapshot_load(r, snap_id, &snap);
	if (rc < 0)
		return stow_err_wrap(rc, "loading snapshot %s", snap_id);
	rc = walk_init(&w, r);
	if (rc == 0)
		rc = resolve(&w, snap.root, path, &t, &n);
	if (rc < 0)
		goto out;
	if (n && n->type != STOW_NODE_DIR) {
		/* ls of a single entry shows that entry, like ls(1). */
		rc = cb(ctx, (const char *)w.path.data, n);
		goto out;
	}
	if (n) {
		stow_tree sub = {0};

		rc = load_tree(&w, n->subtree, &sub);
		if (rc < 0)
			goto out;
		stow_tree_free(&t);
		t = sub;
	}
	rc = push(&w, &t, &none);
	while (rc == 0 && w.n) {
		frame *f = &w.v[w.n - 1];
		const stow_node *e;

		if (f->i == f->a.count) {
			pop(&w);
			continue;
		}
		e = &f->a.nodes[f->i++];
		stow_treewalk_path_cut(&w.path, f->path_len);
		rc = stow_treewalk_path_push(&w.path, e->name, e->name_len);
		if (rc == 0)
			rc = cb(ctx, (const char *)w.path.data, e);
		if (rc == 0 && recursive && e->type == STOW_NODE_DIR) {
			stow_tree sub = {0};

			rc = load_tree(&w, e->subtree, &sub);
			if (rc < 0)
				stow_err_wrap(rc, "listing %s",
					      (const char *)w.path.data);
			else
				rc = push(&w, &sub, &none);
		}
	}
out:
	stow_tree_free(&t);
	walk_free(&w);
	stow_snapshot_free(&snap);
	return rc;
}

/* --- diff ----------------------------------------------------------------- */

static bool xattrs_equal(const stow_node *a, const stow_node *b)
{
	if (a->nxattrs != b->nxattrs)
		return false;
	for (size_t i = 0; i < a->nxattrs; i++) {
		const stow_xattr *x = &a->xattrs[i], *y = &b->xattrs[i];

		if (strcmp(x->name, y->name) != 0 ||
		    x->value_len != y->value_len ||
		    (x->value_len && memcmp(x->value, y->value, x->value_len)))
			return false;
	}
	return true;
}

/* Attributes every type has. Inode numbers and link counts are not
 * compared: they change with every restore and say nothing about
 * content. */
static bool attrs_equal(const stow_node *a, const stow_node *b)
{
	return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       xattrs_equal(a, b);
}

static bool content_equal(const stow_node *a, const stow_node *b)
{
	if (a->type != b->type || a->size != b->size)
		return false;
	switch (a->type) {
	case STOW_NODE_FILE:
		if (a->nchunks != b->nchunks)
			return false;
		for (size_t i = 0; i < a->nchunks; i++) {
			const stow_chunk_ref *x = &a->chunks[i];
			const stow_chunk_ref *y = &b->chunks[i];

			if (x->len != y->len || x->hole != y->hole ||
			    (!x->hole && memcmp(x->id, y->id, STOW_ID_LEN)))
				return false;
		}
		return true;
	case STOW_NODE_SYMLINK:
		return a->target_len == b->target_len &&
		       memcmp(a->target, b->target, a->target_len) == 0;
	case STOW_NODE_CHR:
	case STOW_NODE_BLK: return a->rdev == b->rdev;
	default: return true; /* directories: subtrees are walked */
	}
}

typedef struct differ {
	walk w;
	stow_diff_cb cb;
	void *ctx;
} differ;

/* One side of a directory pair: its subtree, or an empty tree when that
 * side is not a directory (so its contents show as all added or all
 * removed). */
static int side_tree(differ *d, const stow_node *n, stow_tree *t)
{
	memset(t, 0, sizeof(*t));
	if (!n || n->type != STOW_NODE_DIR)
		return 0;
	return load_tree(&d->w, n->subtree, t);
}

/* Descend into a (old) and/or b (new) when at least one is a directory
 * and the two sides may differ. */
static int descend(differ *d, const stow_node *a, const stow_node *b)
{
	stow_tree ta, tb;
	int rc;

	if (!(a && a->type == STOW_NODE_DIR) &&
	    !(b && b->type == STOW_NODE_DIR))
		return 0;
	if (a && b && a->type == STOW_NODE_DIR && b->type == STOW_NODE_DIR &&
	    memcmp(a->subtree, b->subtree, STOW_ID_LEN) == 0)
		return 0; /* identical subtrees: the whole point of IDs */
	rc = side_tree(d, a, &ta);
	if (rc < 0)
		return stow_err_wrap(rc, "reading %s",
				     (const char *)d->w.path.data);
	rc = side_tree(d, b, &tb);
	if (rc < 0) {
		stow_tree_free(&ta);
		return stow_err_wrap(rc, "reading %s",
				     (const char *)d->w.path.data);
	}
	return push(&d->w, &ta, &tb);
}

/* One step of the merge of the top frame's two sorted entry lists. */
static int diff_step(differ *d, frame *f)
{
	const stow_node *a = f->i < f->a.count ? &f->a.nodes[f->i] : NULL;
	const stow_node *b = f->j < f->b.count ? &f->b.nodes[f->j] : NULL;
	const stow_node *e;
	int c;

	if (a && b)
		c = stow_name_cmp(a->name, a->name_len, b->name, b->name_len);
	else
		c = a ? -1 : 1;
	if (c < 0) {
		b = NULL;
		f->i++;
	} else if (c > 0) {
		a = NULL;
		f->j++;
	} else {
		f->i++;
		f->j++;
	}
	e = a ? a : b;
	stow_treewalk_path_cut(&d->w.path, f->path_len);
	STOW_TRY(stow_treewalk_path_push(&d->w.path, e->name, e->name_len));
	if (!b) {
		STOW_TRY(d->cb(d->ctx, '-', (const char *)d->w.path.data));
	} else if (!a) {
		STOW_TRY(d->cb(d->ctx, '+', (const char *)d->w.path.data));
	} else if (!content_equal(a, b) || !attrs_equal(a, b)) {
		STOW_TRY(d->cb(d->ctx, 'M', (const char *)d->w.path.data));
	}
	/* f may move when descend grows the stack; it is not used after. */
	return descend(d, a, b);
}

int stow_vault_diff(stow_repo *r, const char *id_a, const char *id_b,
		    stow_diff_cb cb, void *ctx)
{
	stow_snapshot sa = {0}, sb = {0};
	stow_tree ta = {0}, tb = {0};
	differ d = {.cb = cb, .ctx = ctx};
	int rc;

	if (!r || !id_a || !id_b || !cb)
		return stow_err_set(STOW_EINVAL, "diff: missing argument");
	rc = stow_snapshot_load(r, id_a, &sa);
	if (rc < 0)
		return stow_err_wrap(rc, "loading snapshot %s", id_a);
	rc = stow_snapshot_load(r, id_b, &sb);
	if (rc < 0) {
		stow_snapshot_free(&sa);
		return stow_err_wrap(rc, "loading snapshot %s", id_b);
	}
	rc = walk_init(&d.w, r);
	if (rc < 0 || memcmp(sa.root, sb.root, STOW_ID_LEN) == 0)
		goto out;
	rc = load_tree(&d.w, sa.root, &ta);
	if (rc == 0)
		rc = load_tree(&d.w, sb.root, &tb);
	if (rc == 0)
		rc = push(&d.w, &ta, &tb);
	while (rc == 0 && d.w.n) {
		frame *f = &d.w.v[d.w.n - 1];

		if (f->i == f->a.count && f->j == f->b.count)
			pop(&d.w);
		else
			rc = diff_step(&d, f);
	}
out:
	stow_tree_free(&ta);
	stow_tree_free(&tb);
	walk_free(&d.w);
	stow_snapshot_free(&sa);
	stow_snapshot_free(&sb);
	return rc;
}

/* --- stats ---------------------------------------------------------------- */

static int stats_blob(void *ctx, const uint8_t id[STOW_ID_LEN],
		      const stow_blob_loc *loc)
{
	stow_repo_stats *s = ctx;

	(void)id;
	s->blobs++;
	if (loc->type == STOW_BLOB_TREE)
		s->tree_blobs++;
	else
		s->data_blobs++;
	s->stored_bytes += loc->stored_len;
	s->raw_bytes += loc->raw_len;
	return 0;
}

static int stats_pack(void *ctx, const char *key, uint64_t size, int kind,
		      const uint8_t *id)
{
	stow_repo_stats *s = ctx;

	(void)key;
	(void)id;
	s->packs++;
	if (kind)
		s->meta_packs++;
	else
		s->data_packs++;
	s->pack_bytes += size;
	return 0;
}

int stow_vault_stats(stow_repo *r, stow_repo_stats *s)
{
	stow_store *st;
	stow_snapshot *v = NULL;
	const char *const *keys;
	size_t n = 0, nkeys;

	if (!r || !s)
		return stow_err_set(STOW_EINVAL, "stats: missing argument");
	memset(s, 0, sizeof(*s));
	st = stow_repo_store(r);
	STOW_TRY(stow_repo_index_foreach(r, stats_blob, s));
	/* Packs come from the store, not the index: leftovers of
	 * interrupted backups cost space too. */
	STOW_TRY(stow_packlist_foreach(st, stats_pack, s));
	stow_repo_index_objects(r, &keys, &nkeys);
	s->index_objects = nkeys;
	STOW_TRY(stow_snapshot_load_all(r, &v, &n, NULL));
	s->snapshots = n;
	for (size_t i = 0; i < n; i++)
		s->logical_bytes += v[i].stats.bytes;
	stow_snapshot_free_all(v, n);
	return 0;
}
