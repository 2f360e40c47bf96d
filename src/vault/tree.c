/* Tree blobs: encoding and hostile-input decoding of one directory.
 *
 * The byte layout is specified in docs/FORMAT.md §Trees. The encoder and
 * the decoder enforce the same rules, so every tree the encoder accepts
 * decodes, and every tree the decoder accepts re-encodes (the fuzz target
 * tests/fuzz/fuzz_tree.c checks both directions). */
#include "vault/tree.h"

#include <string.h>

#include "util/err.h"

/* Smallest possible encodings, used to bound counts by the bytes that are
 * left before allocating count * sizeof(...):
 * entry: name (1-byte length + 1 byte) + type + mode + uid + gid + mtime
 *        + nsec + ino + dev + nlink + nxattrs, one byte each (FIFO/SOCK);
 * xattr: name (1 + 1) + value length (1);
 * chunk: kind + length (a hole). */
#define ENTRY_MIN_BYTES 12u
#define XATTR_MIN_BYTES 3u
#define CHUNK_MIN_BYTES 2u

#define MODE_MAX 07777u
#define NSEC_PER_SEC 1000000000u

enum { CHUNK_KIND_STORED = 0, CHUNK_KIND_HOLE = 1 };

int stow_name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	int c = m ? memcmp(a, b, m) : 0;

	if (c)
		return c < 0 ? -1 : 1;
	return (alen > blen) - (alen < blen);
}

int stow_node_cmp(const void *a, const void *b)
{
	const stow_node *x = a, *y = b;

	return stow_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

void stow_node_clear(stow_node *n)
{
	if (!n)
		return;
	free(n->name);
	for (size_t i = 0; n->xattrs && i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->chunks);
	free(n->target);
	memset(n, 0, sizeof(*n));
}

void stow_tree_free(stow_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->nodes && i < t->count; i++)
		stow_node_clear(&t->nodes[i]);
	free(t->nodes);
	t->nodes = NULL;
	t->count = 0;
}

const stow_node *stow_tree_find(const stow_tree *t, const uint8_t *name,
				size_t name_len)
{
	size_t lo = 0, hi;

	if (!t || !t->nodes || (!name && name_len))
		return NULL;
	hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const stow_node *n = &t->nodes[mid];
		int c = stow_name_cmp(name, name_len, n->name, n->name_len);

		if (c == 0)
			return n;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Why a name may not appear in a tree, or NULL if it may. A name is one
 * path component: restore joins names with '/', so '/', "." and ".." would
 * escape the target directory, and NUL would truncate the path. */
static const char *name_problem(const uint8_t *p, size_t n)
{
	if (n == 0)
		return "empty name";
	if (n > STOW_NAME_MAX)
		return "name longer than STOW_NAME_MAX";
	if (memchr(p, '/', n))
		return "name contains '/'";
	if (memchr(p, '\0', n))
		return "name contains NUL";
	if (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))
		return "name is \".\" or \"..\"";
	return NULL;
}

static bool type_valid(unsigned type)
{
	return type >= STOW_NODE_FILE && type <= STOW_NODE_SOCK;
}

/* Zigzag maps signed to unsigned so that small negative mtimes (before
 * 1970) stay short varints: 0, -1, 1, -2 -> 0, 1, 2, 3. */
static uint64_t zigzag_encode(int64_t v)
{
	return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static int64_t zigzag_decode(uint64_t u)
{
	/* u >> 1 <= INT64_MAX, so neither branch overflows. */
	if (u & 1)
		return -(int64_t)(u >> 1) - 1;
	return (int64_t)(u >> 1);
}

/* Check that the chunk list of a file covers exactly `size` bytes, with no
 * empty extent; `code` is what the caller reports (EINVAL when encoding,
 * ECORRUPT when decoding). */
static int chunks_check(const stow_chunk_ref *c, size_t nchunks, uint64_t size,
			int code)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < nchunks; i++) {
		if (c[i].len == 0)
			return stow_err_set(code, "chunk %zu has length 0", i);
		if (__builtin_add_overflow(sum, c[i].len, &sum))
			return stow_err_set(code,
					    "chunk lengths overflow 64 bits");
	}
	if (sum != size)
		return stow_err_set(code,
				    "chunk lengths sum to %llu, file size is "
				    "%llu",
				    (unsigned long long)sum,
				    (unsigned long long)size);
	return 0;
}

/* --- encoding --------------------------------------------------------- */

static int encode_xattrs(const stow_node *n, stow_buf *out)
{
	if (n->nxattrs > STOW_XATTRS_MAX)
		return stow_err_set(STOW_EINVAL, "%zu xattrs (at most %u)",
				    n->nxattrs, STOW_XATTRS_MAX);
	if (n->nxattrs && !n->xattrs)
		return stow_err_set(STOW_EINVAL, "xattrs missing");
	STOW_TRY(stow_buf_append_varint(out, n->nxattrs));
	for (size_t j = 0; j < n->nxattrs; j++) {
		const stow_xattr *x = &n->xattrs[j];
		size_t nlen = x->name ? strlen(x->name) : 0;

		if (nlen == 0 || nlen > STOW_NAME_MAX)
			return stow_err_set(STOW_EINVAL,
					    "xattr %zu: name empty or too long",
					    j);
		if (x->value_len > STOW_XATTR_VALUE_MAX ||
		    (x->value_len && !x->value))
			return stow_err_set(STOW_EINVAL,
					    "xattr %zu: value missing or "
					    "longer than %u bytes",
					    j, STOW_XATTR_VALUE_MAX);
		STOW_TRY(stow_buf_append_lenbytes(out, x->name, nlen));
		STOW_TRY(stow_buf_append_lenbytes(out, x->value, x->value_len));
	}
	return 0;
}

static int encode_file(const stow_node *n, stow_buf *out)
{
	if (n->nchunks && !n->chunks)
		return stow_err_set(STOW_EINVAL, "chunk list missing");
	STOW_TRY(chunks_check(n->chunks, n->nchunks, n->size, STOW_EINVAL));
	STOW_TRY(stow_buf_append_varint(out, n->size));
	STOW_TRY(stow_buf_append_varint(out, n->nchunks));
	for (size_t j = 0; j < n->nchunks; j++) {
		const stow_chunk_ref *c = &n->chunks[j];

		if (c->hole) {
			STOW_TRY(stow_buf_append_u8(out, CHUNK_KIND_HOLE));
		} else {
			STOW_TRY(stow_buf_append_u8(out, CHUNK_KIND_STORED));
			STOW_TRY(stow_buf_append(out, c->id, STOW_ID_LEN));
		}
		STOW_TRY(stow_buf_append_varint(out, c->len));
	}
	return 0;
}

static int encode_node(const stow_node *n, stow_buf *out)
{
	const char *why =
	    n->name ? name_problem(n->name, n->name_len) : "no name";

	if (why)
		return stow_err_set(STOW_EINVAL, "%s", why);
	if (!type_valid(n->type))
		return stow_err_set(STOW_EINVAL, "unknown node type %u",
				    n->type);
	if (n->mode > MODE_MAX)
		return stow_err_set(STOW_EINVAL,
				    "mode %#o has bits outside 07777 (file "
				    "type bits belong in `type`)",
				    n->mode);
	if (n->mtime_nsec >= NSEC_PER_SEC)
		return stow_err_set(STOW_EINVAL, "mtime nanoseconds %u >= 1e9",
				    n->mtime_nsec);

	STOW_TRY(stow_buf_append_lenbytes(out, n->name, n->name_len));
	STOW_TRY(stow_buf_append_u8(out, n->type));
	STOW_TRY(stow_buf_append_varint(out, n->mode));
	STOW_TRY(stow_buf_append_varint(out, n->uid));
	STOW_TRY(stow_buf_append_varint(out, n->gid));
	STOW_TRY(stow_buf_append_varint(out, zigzag_encode(n->mtime_sec)));
	STOW_TRY(stow_buf_append_varint(out, n->mtime_nsec));
	STOW_TRY(stow_buf_append_varint(out, n->ino));
	STOW_TRY(stow_buf_append_varint(out, n->dev));
	STOW_TRY(stow_buf_append_varint(out, n->nlink));
	STOW_TRY(encode_xattrs(n, out));

	switch (n->type) {
	case STOW_NODE_FILE: return encode_file(n, out);
	case STOW_NODE_DIR:
		return stow_buf_append(out, n->subtree, STOW_ID_LEN);
	case STOW_NODE_SYMLINK:
		if (n->target_len == 0 || n->target_len > STOW_SYMLINK_MAX ||
		    !n->target || memchr(n->target, '\0', n->target_len))
			return stow_err_set(STOW_EINVAL,
					    "symlink target empty, longer "
					    "than %u bytes or containing NUL",
					    STOW_SYMLINK_MAX);
		return stow_buf_append_lenbytes(out, n->target, n->target_len);
	case STOW_NODE_CHR:
	case STOW_NODE_BLK: return stow_buf_append_varint(out, n->rdev);
	default: return 0; /* FIFO, SOCK: nothing more */
	}
}

int stow_tree_encode(const stow_node *nodes, size_t count, stow_buf *out)
{
	size_t start;
	int rc;

	if (!out || (count && !nodes))
		return stow_err_set(STOW_EINVAL, "stow_tree_encode: no %s",
				    out ? "nodes" : "output buffer");
	if (count > STOW_TREE_ENTRIES_MAX)
		return stow_err_set(STOW_EINVAL,
				    "tree of %zu entries (at most %u)", count,
				    STOW_TREE_ENTRIES_MAX);
	start = out->len;
	rc = stow_buf_append_u8(out, STOW_TREE_VERSION);
	if (rc == 0)
		rc = stow_buf_append_varint(out, count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		if (i > 0 && stow_node_cmp(&nodes[i - 1], &nodes[i]) >= 0) {
			rc = stow_err_set(
			    STOW_EINVAL,
			    "tree entry %zu: name %s entry "
			    "%zu's (sort with stow_node_cmp)",
			    i,
			    stow_node_cmp(&nodes[i - 1], &nodes[i]) == 0
				? "duplicates"
				: "sorts before",
			    i - 1);
			break;
		}
		rc = encode_node(&nodes[i], out);
		if (rc < 0)
			rc = stow_err_wrap(rc, "tree entry %zu", i);
	}
	if (rc == 0 && out->len - start > STOW_TREE_BLOB_MAX)
		rc = stow_err_set(STOW_ENOMEM,
				  "tree blob of %zu bytes exceeds the cap of "
				  "%zu",
				  out->len - start, STOW_TREE_BLOB_MAX);
	if (rc < 0)
		out->len = start; /* appended nothing */
	return rc;
}

/* --- decoding ---------------------------------------------------------
 *
 * Every count read from the blob is checked against its cap and against
 * the bytes left divided by the smallest encoding of one element before
 * anything is allocated for it, so a short blob cannot make us allocate
 * much. Every error is STOW_ECORRUPT (STOW_ENOMEM for a failed malloc);
 * the caller frees the partly filled node. */

/* Copy n untrusted bytes into a fresh NUL-terminated allocation. */
static int dup_bytes(uint8_t **out, const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n + 1);

	if (!d)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	*out = d;
	return 0;
}

static int rd_u32(stow_rd *rd, uint32_t *v, const char *what)
{
	uint64_t u;

	STOW_TRY(stow_rd_varint(rd, &u));
	if (u > UINT32_MAX)
		return stow_err_set(STOW_ECORRUPT, "%s %llu exceeds 32 bits",
				    what, (unsigned long long)u);
	*v = (uint32_t)u;
	return 0;
}

static int decode_xattrs(stow_rd *rd, stow_node *n)
{
	uint64_t nx;

	STOW_TRY(stow_rd_varint(rd, &nx));
	if (nx > STOW_XATTRS_MAX || nx > stow_rd_left(rd) / XATTR_MIN_BYTES)
		return stow_err_set(STOW_ECORRUPT,
				    "xattr count %llu exceeds the cap or the "
				    "bytes left",
				    (unsigned long long)nx);
	if (nx == 0)
		return 0;
	n->xattrs = calloc((size_t)nx, sizeof(*n->xattrs));
	if (!n->xattrs)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	n->nxattrs = (size_t)nx;
	for (size_t j = 0; j < n->nxattrs; j++) {
		stow_xattr *x = &n->xattrs[j];
		const uint8_t *p;
		uint8_t *name = NULL;
		size_t len;

		STOW_TRY(stow_rd_lenbytes(rd, STOW_NAME_MAX, &p, &len));
		if (len == 0 || memchr(p, '\0', len))
			return stow_err_set(STOW_ECORRUPT,
					    "xattr %zu: name empty or "
					    "containing NUL",
					    j);
		STOW_TRY(dup_bytes(&name, p, len));
		x->name = (char *)name;
		STOW_TRY(stow_rd_lenbytes(rd, STOW_XATTR_VALUE_MAX, &p, &len));
		STOW_TRY(dup_bytes(&x->value, p, len));
		x->value_len = len;
	}
	return 0;
}

static int decode_file(stow_rd *rd, stow_node *n)
{
	uint64_t nc;

	STOW_TRY(stow_rd_varint(rd, &n->size));
	STOW_TRY(stow_rd_varint(rd, &nc));
	if (nc > stow_rd_left(rd) / CHUNK_MIN_BYTES)
		return stow_err_set(STOW_ECORRUPT,
				    "chunk count %llu exceeds the bytes left",
				    (unsigned long long)nc);
	if (nc) {
		n->chunks = calloc((size_t)nc, sizeof(*n->chunks));
		if (!n->chunks)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		n->nchunks = (size_t)nc;
	}
	for (size_t j = 0; j < n->nchunks; j++) {
		stow_chunk_ref *c = &n->chunks[j];
		uint8_t kind;

		STOW_TRY(stow_rd_u8(rd, &kind));
		if (kind == CHUNK_KIND_STORED)
			STOW_TRY(stow_rd_copy(rd, c->id, STOW_ID_LEN));
		else if (kind == CHUNK_KIND_HOLE)
			c->hole = true;
		else
			return stow_err_set(STOW_ECORRUPT,
					    "chunk %zu: unknown kind %u", j,
					    kind);
		STOW_TRY(stow_rd_varint(rd, &c->len));
	}
	return chunks_check(n->chunks, n->nchunks, n->size, STOW_ECORRUPT);
}

static int decode_node(stow_rd *rd, stow_node *n)
{
	const uint8_t *p;
	size_t len;
	uint64_t u;
	const char *why;

	STOW_TRY(stow_rd_lenbytes(rd, STOW_NAME_MAX, &p, &len));
	why = name_problem(p, len);
	if (why)
		return stow_err_set(STOW_ECORRUPT, "%s", why);
	STOW_TRY(dup_bytes(&n->name, p, len));
	n->name_len = len;

	STOW_TRY(stow_rd_u8(rd, &n->type));
	if (!type_valid(n->type))
		return stow_err_set(STOW_ECORRUPT, "unknown node type %u",
				    n->type);
	STOW_TRY(rd_u32(rd, &n->mode, "mode"));
	if (n->mode > MODE_MAX)
		return stow_err_set(STOW_ECORRUPT,
				    "mode %#o has bits outside 07777", n->mode);
	STOW_TRY(rd_u32(rd, &n->uid, "uid"));
	STOW_TRY(rd_u32(rd, &n->gid, "gid"));
	STOW_TRY(stow_rd_varint(rd, &u));
	n->mtime_sec = zigzag_decode(u);
	STOW_TRY(rd_u32(rd, &n->mtime_nsec, "mtime nanoseconds"));
	if (n->mtime_nsec >= NSEC_PER_SEC)
		return stow_err_set(STOW_ECORRUPT,
				    "mtime nanoseconds %u >= 1e9",
				    n->mtime_nsec);
	STOW_TRY(stow_rd_varint(rd, &n->ino));
	STOW_TRY(stow_rd_varint(rd, &n->dev));
	STOW_TRY(stow_rd_varint(rd, &n->nlink));
	STOW_TRY(decode_xattrs(rd, n));

	switch (n->type) {
	case STOW_NODE_FILE: return decode_file(rd, n);
	case STOW_NODE_DIR: return stow_rd_copy(rd, n->subtree, STOW_ID_LEN);
	case STOW_NODE_SYMLINK:
		STOW_TRY(stow_rd_lenbytes(rd, STOW_SYMLINK_MAX, &p, &len));
		if (len == 0 || memchr(p, '\0', len))
			return stow_err_set(STOW_ECORRUPT,
					    "symlink target empty or "
					    "containing NUL");
		STOW_TRY(dup_bytes(&n->target, p, len));
		n->target_len = len;
		return 0;
	case STOW_NODE_CHR:
	case STOW_NODE_BLK: return stow_rd_varint(rd, &n->rdev);
	default: return 0; /* FIFO, SOCK */
	}
}

int stow_tree_decode(stow_tree *t, const uint8_t *data, size_t len)
{
	stow_rd rd;
	uint8_t version;
	uint64_t count;
	int rc;

	if (!t)
		return stow_err_set(STOW_EINVAL, "stow_tree_decode: no tree");
	t->nodes = NULL;
	t->count = 0;
	if (!data && len)
		return stow_err_set(STOW_EINVAL, "stow_tree_decode: no data");
	if (len > STOW_TREE_BLOB_MAX)
		return stow_err_set(STOW_ECORRUPT,
				    "tree blob of %zu bytes exceeds the cap of "
				    "%zu",
				    len, STOW_TREE_BLOB_MAX);
	stow_rd_init(&rd, data, len, "tree blob");
	STOW_TRY(stow_rd_u8(&rd, &version));
	if (version != STOW_TREE_VERSION)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "tree blob version %u (this build reads "
				    "version %u)",
				    version, STOW_TREE_VERSION);
	STOW_TRY(stow_rd_varint(&rd, &count));
	if (count > STOW_TREE_ENTRIES_MAX ||
	    count > stow_rd_left(&rd) / ENTRY_MIN_BYTES)
		return stow_err_set(STOW_ECORRUPT,
				    "tree blob: entry count %llu exceeds the "
				    "cap or the bytes left",
				    (unsigned long long)count);
	if (count) {
		t->nodes = calloc((size_t)count, sizeof(*t->nodes));
		if (!t->nodes)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		t->count = (size_t)count;
	}
	for (size_t i = 0; i < t->count; i++) {
		rc = decode_node(&rd, &t->nodes[i]);
		if (rc < 0) {
			stow_err_wrap(rc, "tree entry %zu", i);
			goto fail;
		}
		if (i > 0 &&
		    stow_node_cmp(&t->nodes[i - 1], &t->nodes[i]) >= 0) {
			rc = stow_err_set(STOW_ECORRUPT,
					  "tree entry %zu: name not after "
					  "entry %zu's (unsorted or duplicate)",
					  i, i - 1);
			goto fail;
		}
	}
	if (stow_rd_left(&rd)) {
		rc = stow_err_set(STOW_ECORRUPT,
				  "tree blob: %zu bytes of trailing garbage",
				  stow_rd_left(&rd));
		goto fail;
	}
	return 0;
fail:
	stow_tree_free(t);
	return rc;
}
