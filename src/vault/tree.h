/* Trees: the encoding of one directory's entries as a blob.
 *
 * A tree blob is version byte 1, a varint entry count, then entries sorted
 * by name (bytewise, shorter first on a common prefix). Each entry holds
 * the name (any bytes but '/' and NUL), type, permission bits, owner,
 * mtime in ns, inode identity and link count (for hard links and the
 * incremental check), xattrs, and per type: a chunk list (files), a subtree
 * ID (directories), a target (symlinks), a device number (devices).
 * Byte layout: docs/FORMAT.md §Trees.
 *
 * Decoding treats the blob as hostile: every length is capped, names are
 * validated (non-empty, no '/', no NUL, not "." or "..", sorted and
 * unique), and a decoded tree owns all its memory. */
#ifndef STOW_VAULT_TREE_H
#define STOW_VAULT_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"

#define STOW_TREE_VERSION 1
#define STOW_NAME_MAX 4096        /* bytes in one name */
#define STOW_SYMLINK_MAX 65536    /* bytes in a symlink target */
#define STOW_XATTR_VALUE_MAX 65536
#define STOW_XATTRS_MAX 1024      /* per entry */
#define STOW_TREE_ENTRIES_MAX (1u << 26)
#define STOW_TREE_BLOB_MAX ((size_t)1 << 30)

enum stow_node_type {
	STOW_NODE_FILE = 1,
	STOW_NODE_DIR = 2,
	STOW_NODE_SYMLINK = 3,
	STOW_NODE_FIFO = 4,
	STOW_NODE_CHR = 5,
	STOW_NODE_BLK = 6,
	STOW_NODE_SOCK = 7,
};

/* One extent of a file: a stored chunk, or a hole of `len` zero bytes. */
typedef struct stow_chunk_ref {
	uint8_t id[STOW_ID_LEN];
	uint64_t len;
	bool hole; /* id unused when set */
} stow_chunk_ref;

typedef struct stow_xattr {
	char *name; /* NUL-terminated */
	uint8_t *value;
	size_t value_len;
} stow_xattr;

typedef struct stow_node {
	uint8_t *name; /* NUL-terminated for convenience; name_len excludes it */
	size_t name_len;
	uint8_t type;  /* enum stow_node_type */
	uint32_t mode; /* permission bits incl. suid/sgid/sticky (07777) */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t ino, dev, nlink;
	uint64_t size; /* files: byte length; others 0 */
	stow_xattr *xattrs;
	size_t nxattrs;
	/* files */
	stow_chunk_ref *chunks;
	size_t nchunks;
	/* directories */
	uint8_t subtree[STOW_ID_LEN];
	/* symlinks */
	uint8_t *target;
	size_t target_len;
	/* devices */
	uint64_t rdev;
} stow_node;

/* Free what a node owns (not the node itself). */
void stow_node_clear(stow_node *n);

typedef struct stow_tree {
	stow_node *nodes;
	size_t count;
} stow_tree;

/* Encode nodes (must already be sorted by stow_node_cmp; duplicates are
 * STOW_EINVAL) into out (appended). */
int stow_tree_encode(const stow_node *nodes, size_t count, stow_buf *out);
/* Decode a tree blob. On success *t owns everything; stow_tree_free. */
int stow_tree_decode(stow_tree *t, const uint8_t *data, size_t len);
void stow_tree_free(stow_tree *t);
/* Binary search by name; NULL if absent. */
const stow_node *stow_tree_find(const stow_tree *t, const uint8_t *name,
				size_t name_len);
/* Ordering of names in a tree (qsort-compatible on stow_node). */
int stow_node_cmp(const void *a, const void *b);
int stow_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
		  size_t blen);

#endif
