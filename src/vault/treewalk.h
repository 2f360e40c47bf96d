/* Reading trees and naming paths, for the operations that walk snapshots
 * (browse, check, gc, restore; backup reads its parent's trees). Internal
 * to the vault.
 *
 * Paths are the raw entry names joined with '/' from the snapshot root,
 * without a leading '/', in a stow_buf kept NUL-terminated (the NUL is not
 * counted in len). Names may hold any byte but '/' and NUL: whoever prints
 * a path escapes it. */
#ifndef STOW_VAULT_TREEWALK_H
#define STOW_VAULT_TREEWALK_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "vault/tree.h"
#include "vault/vault.h"

/* Read tree blob `id` with c into buf (reset first; its cap bounds the
 * blob) and decode it into *t, which the caller then owns. Errors of
 * stow_repo_read_blob and stow_tree_decode are returned as they are, for
 * the caller to word; *t holds nothing then. */
int stow_treewalk_load(stow_vault_ctx *c, stow_buf *buf,
		       const uint8_t id[STOW_ID_LEN], stow_tree *t);

/* Append one name to a path: "name" to an empty path, else "/name". */
int stow_treewalk_path_push(stow_buf *path, const void *name, size_t len);
/* Cut a path back to len bytes (a length it had before), keeping the NUL.
 * A buffer that never held anything is left alone. */
void stow_treewalk_path_cut(stow_buf *path, size_t len);

/* Resolve `path` ("a/b/c"; NULL, empty and "." components are skipped)
 * below the tree `root`, reading trees with c and buf.
 *
 * On success *t (which the caller owns) is the tree holding the entry and
 * *n points into it, or *n is NULL and *t is the root tree (for "", "/"
 * and the like). The normalised path ('/'-joined, no empty or "."
 * components) is appended to norm with stow_treewalk_path_push.
 *
 * Errors: a tree that cannot be read returns the read or decode error
 * unwrapped, with *unreadable set to its ID - the root when *n is NULL,
 * else (*n)->subtree - for the caller to word. STOW_ENOTFOUND "no such
 * path in snapshot: P" for a missing entry, and "no such path in
 * snapshot: P (Q is not a directory)" for a path through a non-directory
 * Q. *t and *n stay valid on failure; the caller frees *t either way. */
int stow_treewalk_resolve(stow_vault_ctx *c, stow_buf *buf,
			  const uint8_t root[STOW_ID_LEN], const char *path,
			  stow_tree *t, const stow_node **n, stow_buf *norm,
			  const uint8_t **unreadable);

#endif
