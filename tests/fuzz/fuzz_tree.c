/* Fuzz target for tree blobs (src/vault/tree.c).
 *
 * Any input: decoding must return cleanly (sanitizers catch the rest).
 * An input that decodes must re-encode, the re-encoding must decode to the
 * same tree, and encoding that again must give the same bytes: the encoder
 * and the decoder enforce the same rules, and the encoding is a function
 * of the tree. Every decoded name must be found by stow_tree_find. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_node_equal(const stow_node *a, const stow_node *b)
{
	check(a->name_len == b->name_len &&
	      memcmp(a->name, b->name, a->name_len) == 0 &&
	      b->name[b->name_len] == '\0');
	check(a->type == b->type && a->mode == b->mode && a->uid == b->uid &&
	      a->gid == b->gid && a->mtime_sec == b->mtime_sec &&
	      a->mtime_nsec == b->mtime_nsec && a->ino == b->ino &&
	      a->dev == b->dev && a->nlink == b->nlink && a->size == b->size &&
	      a->nxattrs == b->nxattrs && a->nchunks == b->nchunks &&
	      a->target_len == b->target_len && a->rdev == b->rdev);
	for (size_t i = 0; i < a->nxattrs; i++) {
		const stow_xattr *x = &a->xattrs[i], *y = &b->xattrs[i];

		check(strcmp(x->name, y->name) == 0 &&
		      x->value_len == y->value_len &&
		      (x->value_len == 0 ||
		       memcmp(x->value, y->value, x->value_len) == 0));
	}
	for (size_t i = 0; i < a->nchunks; i++) {
		const stow_chunk_ref *x = &a->chunks[i], *y = &b->chunks[i];

		check(x->hole == y->hole && x->len == y->len &&
		      (x->hole || memcmp(x->id, y->id, STOW_ID_LEN) == 0));
	}
	if (a->type == STOW_NODE_DIR)
		check(memcmp(a->subtree, b->subtree, STOW_ID_LEN) == 0);
	if (a->type == STOW_NODE_SYMLINK)
		check(memcmp(a->target, b->target, a->target_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stow_tree t, t2;
	stow_buf b1, b2;

	if (stow_tree_decode(&t, data, size) < 0)
		return 0;
	stow_buf_init(&b1, 0);
	stow_buf_init(&b2, 0);
	check(stow_tree_encode(t.nodes, t.count, &b1) == 0);
	check(b1.len <= size); /* minimal varints never grow the input */
	check(stow_tree_decode(&t2, b1.data, b1.len) == 0);
	check(t.count == t2.count);
	for (size_t i = 0; i < t.count; i++) {
		check_node_equal(&t.nodes[i], &t2.nodes[i]);
		check(stow_tree_find(&t, t.nodes[i].name,
				     t.nodes[i].name_len) == &t.nodes[i]);
	}
	check(stow_tree_encode(t2.nodes, t2.count, &b2) == 0);
	check(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	stow_buf_free(&b1);
	stow_buf_free(&b2);
	stow_tree_free(&t);
	stow_tree_free(&t2);
	return 0;
}
