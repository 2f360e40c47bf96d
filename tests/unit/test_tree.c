/* Tree blobs: round trips over every node type and odd names, a golden
 * vector of the byte layout, and rejection of each kind of malformation
 * (docs/FORMAT.md §Trees). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"
#include "vault/tree.h"

/* --- building nodes --------------------------------------------------- */

static stow_node mk(const void *name, size_t len, uint8_t type)
{
	stow_node n;

	memset(&n, 0, sizeof(n));
	n.name = malloc(len + 1);
	assert_non_null(n.name);
	memcpy(n.name, name, len);
	n.name[len] = '\0';
	n.name_len = len;
	n.type = type;
	n.mode = 0644;
	n.uid = 1000;
	n.gid = 1000;
	n.mtime_sec = 1764079385;
	n.mtime_nsec = 123456789;
	n.ino = 42;
	n.dev = 0x803;
	n.nlink = 1;
	return n;
}

static stow_node mks(const char *name, uint8_t type)
{
	return mk(name, strlen(name), type);
}

static void add_xattr(stow_node *n, const char *name, const void *val,
		      size_t len)
{
	stow_xattr *x;

	n->xattrs = realloc(n->xattrs, (n->nxattrs + 1) * sizeof(*x));
	assert_non_null(n->xattrs);
	x = &n->xattrs[n->nxattrs++];
	x->name = strdup(name);
	x->value = malloc(len + 1);
	assert_non_null(x->value);
	if (len)
		memcpy(x->value, val, len);
	x->value_len = len;
}

static void add_chunk(stow_node *n, bool hole, uint8_t fill, uint64_t len)
{
	stow_chunk_ref *c;

	n->chunks = realloc(n->chunks, (n->nchunks + 1) * sizeof(*c));
	assert_non_null(n->chunks);
	c = &n->chunks[n->nchunks++];
	memset(c, 0, sizeof(*c));
	if (!hole)
		memset(c->id, fill, sizeof(c->id));
	c->hole = hole;
	c->len = len;
	n->size += len;
}

static void set_target(stow_node *n, const char *t)
{
	n->target_len = strlen(t);
	n->target = (uint8_t *)strdup(t);
}

static void clear_all(stow_node *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		stow_node_clear(&v[i]);
}

static void assert_node_equal(const stow_node *a, const stow_node *b)
{
	assert_int_equal(a->name_len, b->name_len);
	assert_memory_equal(a->name, b->name, a->name_len);
	assert_int_equal(b->name[b->name_len], 0);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_true(a->mtime_sec == b->mtime_sec);
	assert_int_equal(a->mtime_nsec, b->mtime_nsec);
	assert_true(a->ino == b->ino);
	assert_true(a->dev == b->dev);
	assert_true(a->nlink == b->nlink);
	assert_int_equal(a->nxattrs, b->nxattrs);
	for (size_t i = 0; i < a->nxattrs; i++) {
		assert_string_equal(a->xattrs[i].name, b->xattrs[i].name);
		assert_int_equal(a->xattrs[i].value_len,
				 b->xattrs[i].value_len);
		if (a->xattrs[i].value_len)
			assert_memory_equal(a->xattrs[i].value,
					    b->xattrs[i].value,
					    a->xattrs[i].value_len);
	}
	switch (a->type) {
	case STOW_NODE_FILE:
		assert_true(a->size == b->size);
		assert_int_equal(a->nchunks, b->nchunks);
		for (size_t i = 0; i < a->nchunks; i++) {
			assert_int_equal(a->chunks[i].hole, b->chunks[i].hole);
			assert_true(a->chunks[i].len == b->chunks[i].len);
			if (!a->chunks[i].hole)
				assert_memory_equal(a->chunks[i].id,
						    b->chunks[i].id,
						    STOW_ID_LEN);
		}
		break;
	case STOW_NODE_DIR:
		assert_memory_equal(a->subtree, b->subtree, STOW_ID_LEN);
		break;
	case STOW_NODE_SYMLINK:
		assert_int_equal(a->target_len, b->target_len);
		assert_memory_equal(a->target, b->target, a->target_len);
		break;
	case STOW_NODE_CHR:
	case STOW_NODE_BLK: assert_true(a->rdev == b->rdev); break;
	default: break;
	}
}

/* Sort, encode, decode, compare; re-encoding the decoded tree must give
 * the same bytes. */
static void roundtrip(stow_node *v, size_t n)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0}, b2 = {0};
	stow_tree t;

	stow_buf_init(&b, 0);
	stow_buf_init(&b2, 0);
	if (n)
		qsort(v, n, sizeof(*v), stow_node_cmp);
	assert_int_equal(stow_tree_encode(v, n, &b), 0);
	assert_int_equal(stow_tree_decode(&t, b.data, b.len), 0);
	assert_int_equal(t.count, n);
	for (size_t i = 0; i < n; i++)
		assert_node_equal(&v[i], &t.nodes[i]);
	assert_int_equal(stow_tree_encode(t.nodes, t.count, &b2), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	stow_tree_free(&t);
	assert_null(t.nodes);
	assert_int_equal(t.count, 0);
}

/* Every node type, with xattrs, holes and extreme field values. */
static size_t make_rich(stow_node *v)
{
	size_t n = 0;
	uint8_t bin[300];

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	v[n] = mks("file", STOW_NODE_FILE);
	add_chunk(&v[n], false, 0xaa, 1 << 20);
	add_chunk(&v[n], true, 0, 4096);
	add_chunk(&v[n], false, 0xbb, 17);
	add_xattr(&v[n], "user.mime_type", "text/plain", 10);
	add_xattr(&v[n], "security.capability", bin, sizeof(bin));
	add_xattr(&v[n], "user.empty", NULL, 0);
	n++;
	v[n] = mks("empty", STOW_NODE_FILE);
	n++;
	v[n] = mks("sparse", STOW_NODE_FILE);
	add_chunk(&v[n], true, 0, (uint64_t)1 << 40);
	v[n].nlink = 3;
	v[n].mode = 07777;
	n++;
	v[n] = mks("dir", STOW_NODE_DIR);
	memset(v[n].subtree, 0x5c, STOW_ID_LEN);
	v[n].mode = 01777;
	n++;
	v[n] = mks("link", STOW_NODE_SYMLINK);
	set_target(&v[n], "../some/where else\n");
	v[n].mtime_sec = -1;
	v[n].mtime_nsec = 999999999;
	n++;
	v[n] = mks("fifo", STOW_NODE_FIFO);
	v[n].mtime_sec = INT64_MIN;
	v[n].uid = UINT32_MAX;
	v[n].gid = UINT32_MAX;
	n++;
	v[n] = mks("tty", STOW_NODE_CHR);
	v[n].rdev = (4 << 8) | 1;
	v[n].mtime_sec = INT64_MAX;
	n++;
	v[n] = mks("sda", STOW_NODE_BLK);
	v[n].rdev = UINT64_MAX;
	v[n].ino = UINT64_MAX;
	v[n].dev = UINT64_MAX;
	v[n].nlink = UINT64_MAX;
	n++;
	v[n] = mks("sock", STOW_NODE_SOCK);
	v[n].mode = 0;
	v[n].mtime_sec = 0;
	v[n].mtime_nsec = 0;
	n++;
	return n;
}

static void test_roundtrip_all_types(void **state)
{
	stow_node v[16];
	size_t n = make_rich(v);

	(void)state;
	roundtrip(v, n);
	clear_all(v, n);
}

static void test_roundtrip_empty_tree(void **state)
{
	(void)state;
	roundtrip(NULL, 0);
}

static void test_roundtrip_odd_names(void **state)
{
	stow_node v[16];
	size_t n = 0;
	char long255[255], long_max[STOW_NAME_MAX];
	uint8_t all[254];
	size_t k = 0;

	(void)state;
	memset(long255, 'x', sizeof(long255));
	memset(long_max, 'y', sizeof(long_max));
	/* every byte value except NUL and '/' */
	for (unsigned c = 1; c <= 0xff; c++)
		if (c != '/')
			all[k++] = (uint8_t)c;
	assert_int_equal(k, sizeof(all));
	v[n++] = mks("h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83", STOW_NODE_FILE);
	v[n++] = mks("line\nbreak", STOW_NODE_FILE);
	v[n++] = mks("tab\tand space ", STOW_NODE_FIFO);
	v[n++] = mk(long255, sizeof(long255), STOW_NODE_FILE);
	v[n++] = mk(long_max, sizeof(long_max), STOW_NODE_FILE);
	v[n++] = mk(all, sizeof(all), STOW_NODE_FILE);
	v[n++] = mk(all + 1, sizeof(all) - 1, STOW_NODE_FILE);
	v[n++] = mks("...", STOW_NODE_DIR);
	v[n++] = mks(".hidden", STOW_NODE_DIR);
	v[n++] = mks("-", STOW_NODE_FILE);
	v[n++] = mks("a", STOW_NODE_FILE);
	v[n++] = mks("a\x01", STOW_NODE_FILE);
	v[n++] = mks("ab", STOW_NODE_FILE);
	v[n++] = mks("\xff\xfe not utf-8", STOW_NODE_FILE);
	roundtrip(v, n);
	clear_all(v, n);
}

static void test_roundtrip_large_chunk_list(void **state)
{
	stow_node v[1];
	enum { N = 100000 };

	(void)state;
	v[0] = mks("big", STOW_NODE_FILE);
	v[0].chunks = calloc(N, sizeof(stow_chunk_ref));
	assert_non_null(v[0].chunks);
	for (size_t i = 0; i < N; i++) {
		stow_chunk_ref *c = &v[0].chunks[i];

		c->hole = i % 7 == 3;
		if (!c->hole)
			for (size_t j = 0; j < STOW_ID_LEN; j++)
				c->id[j] = (uint8_t)(i * 31 + j);
		c->len = 65536 + i;
		v[0].size += c->len;
	}
	v[0].nchunks = N;
	roundtrip(v, 1);
	clear_all(v, 1);
}

/* The byte layout written out by hand from the spec, so that a change to
 * the encoder that changes the format fails here. */
static void test_golden_vector(void **state)
{
	/* clang-format off */
	static const uint8_t want[] = {
		0x01,             /* version */
		0x02,             /* count */
		/* entry 0: FIFO "a" */
		0x01, 'a',        /* name */
		0x04,             /* type FIFO */
		0xa4, 0x03,       /* mode 0644 */
		0xe8, 0x07,       /* uid 1000 */
		0xe8, 0x07,       /* gid 1000 */
		0x01,             /* mtime_sec zigzag(-1) */
		0x05,             /* mtime_nsec */
		0xac, 0x02,       /* ino 300 */
		0x02,             /* dev */
		0x01,             /* nlink */
		0x00,             /* nxattrs */
		/* entry 1: FILE "b" */
		0x01, 'b', 0x01, 0xed, 0x03, 0x00, 0x00,
		0x02,             /* mtime_sec zigzag(1) */
		0x00, 0x07, 0x02, 0x02,
		0x01,             /* one xattr */
		0x06, 'u', 's', 'e', 'r', '.', 'k', 0x01, 'v',
		0x08,             /* size */
		0x02,             /* nchunks */
		0x00,             /* stored */
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x05,             /* len 5 */
		0x01, 0x03,       /* hole of 3 */
	};
	/* clang-format on */
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	stow_node v[2];

	(void)state;
	stow_buf_init(&b, 0);
	v[0] = mks("a", STOW_NODE_FIFO);
	v[0].mtime_sec = -1;
	v[0].mtime_nsec = 5;
	v[0].ino = 300;
	v[0].dev = 2;
	v[1] = mks("b", STOW_NODE_FILE);
	v[1].mode = 0755;
	v[1].uid = v[1].gid = 0;
	v[1].mtime_sec = 1;
	v[1].mtime_nsec = 0;
	v[1].ino = 7;
	v[1].dev = 2;
	v[1].nlink = 2;
	add_xattr(&v[1], "user.k", "v", 1);
	add_chunk(&v[1], false, 0x11, 5);
	add_chunk(&v[1], true, 0, 3);
	assert_int_equal(stow_tree_encode(v, 2, &b), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	clear_all(v, 2);
}

/* Cutting a valid encoding short anywhere, or extending it by a byte,
 * must be a clean ECORRUPT. */
static void test_truncation_everywhere(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	stow_node v[16];
	size_t n = make_rich(v);
	stow_tree t;

	(void)state;
	stow_buf_init(&b, 0);
	qsort(v, n, sizeof(*v), stow_node_cmp);
	assert_int_equal(stow_tree_encode(v, n, &b), 0);
	for (size_t cut = 0; cut < b.len; cut++) {
		/* a copy of exactly `cut` bytes, so ASan sees over-reads */
		uint8_t *p = malloc(cut ? cut : 1);

		assert_non_null(p);
		memcpy(p, b.data, cut);
		assert_int_equal(stow_tree_decode(&t, p, cut), STOW_ECORRUPT);
		assert_null(t.nodes);
		assert_int_equal(t.count, 0);
		free(p);
	}
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	assert_int_equal(stow_tree_decode(&t, b.data, b.len), STOW_ECORRUPT);
	assert_non_null(strstr(stow_err_msg(), "trailing"));
	clear_all(v, n);
}

/* --- hand-built malformed blobs --------------------------------------- */

static void raw_head(stow_buf *b, uint8_t version, uint64_t count)
{
	stow_buf_reset(b);
	assert_int_equal(stow_buf_append_u8(b, version), 0);
	assert_int_equal(stow_buf_append_varint(b, count), 0);
}

/* The fields every entry has, up to and excluding nxattrs. */
static void raw_common(stow_buf *b, const void *name, size_t nlen, uint8_t type,
		       uint64_t mode, uint64_t nsec)
{
	assert_int_equal(stow_buf_append_lenbytes(b, name, nlen), 0);
	assert_int_equal(stow_buf_append_u8(b, type), 0);
	assert_int_equal(stow_buf_append_varint(b, mode), 0);
	assert_int_equal(stow_buf_append_varint(b, 0), 0); /* uid */
	assert_int_equal(stow_buf_append_varint(b, 0), 0); /* gid */
	assert_int_equal(stow_buf_append_varint(b, 0), 0); /* mtime */
	assert_int_equal(stow_buf_append_varint(b, nsec), 0);
	assert_int_equal(stow_buf_append_varint(b, 1), 0); /* ino */
	assert_int_equal(stow_buf_append_varint(b, 1), 0); /* dev */
	assert_int_equal(stow_buf_append_varint(b, 1), 0); /* nlink */
}

/* A complete FIFO entry. */
static void raw_fifo(stow_buf *b, const char *name)
{
	raw_common(b, name, strlen(name), STOW_NODE_FIFO, 0644, 0);
	assert_int_equal(stow_buf_append_varint(b, 0), 0);
}

/* A FILE entry up to and including its chunk count. */
static void raw_file_head(stow_buf *b, const char *name, uint64_t size,
			  uint64_t nchunks)
{
	raw_common(b, name, strlen(name), STOW_NODE_FILE, 0644, 0);
	assert_int_equal(stow_buf_append_varint(b, 0), 0);
	assert_int_equal(stow_buf_append_varint(b, size), 0);
	assert_int_equal(stow_buf_append_varint(b, nchunks), 0);
}

static void expect_decode(const stow_buf *b, int code, const char *in_msg)
{
	stow_tree t;
	int rc;

	stow_err_clear();
	rc = stow_tree_decode(&t, b->data, b->len);
	if (rc != code)
		print_error("decode gave %d (%s), wanted %d\n", rc,
			    stow_err_msg(), code);
	assert_int_equal(rc, code);
	if (rc == 0) {
		stow_tree_free(&t);
		return;
	}
	assert_null(t.nodes);
	if (in_msg && !strstr(stow_err_msg(), in_msg))
		fail_msg("message \"%s\" lacks \"%s\"", stow_err_msg(), in_msg);
}

static void test_decode_rejects_header(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	(void)state;
	stow_buf_init(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "truncated");
	raw_head(&b, 0, 0);
	expect_decode(&b, STOW_EUNSUPPORTED, "version 0");
	raw_head(&b, 2, 0);
	expect_decode(&b, STOW_EUNSUPPORTED, "version 2");
	raw_head(&b, 1, 0);
	expect_decode(&b, 0, NULL);
	/* counts far beyond the bytes present fail before allocating */
	raw_head(&b, 1, (uint64_t)1 << 25);
	raw_fifo(&b, "a");
	expect_decode(&b, STOW_ECORRUPT, "entry count");
	raw_head(&b, 1, UINT64_MAX);
	expect_decode(&b, STOW_ECORRUPT, "entry count");
	raw_head(&b, 1, (uint64_t)STOW_TREE_ENTRIES_MAX + 1);
	expect_decode(&b, STOW_ECORRUPT, "entry count");
	/* a varint longer than 64 bits */
	raw_head(&b, 1, 0);
	b.len = 1;
	for (int i = 0; i < 11; i++)
		stow_buf_append_u8(&b, 0xff);
	expect_decode(&b, STOW_ECORRUPT, NULL);
	/* trailing garbage after a valid tree */
	raw_head(&b, 1, 1);
	raw_fifo(&b, "a");
	expect_decode(&b, 0, NULL);
	stow_buf_append_u8(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "trailing");
}

static void test_decode_rejects_order(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	(void)state;
	stow_buf_init(&b, 0);
	raw_head(&b, 1, 3);
	raw_fifo(&b, "a");
	raw_fifo(&b, "ab");
	raw_fifo(&b, "b");
	expect_decode(&b, 0, NULL);

	raw_head(&b, 1, 2);
	raw_fifo(&b, "b");
	raw_fifo(&b, "a");
	expect_decode(&b, STOW_ECORRUPT, "entry 1");
	raw_head(&b, 1, 2);
	raw_fifo(&b, "ab");
	raw_fifo(&b, "a");
	expect_decode(&b, STOW_ECORRUPT, "entry 1");
	raw_head(&b, 1, 3);
	raw_fifo(&b, "a");
	raw_fifo(&b, "b");
	raw_fifo(&b, "b");
	expect_decode(&b, STOW_ECORRUPT, "entry 2");
	/* unsigned byte order: 0xff sorts after 'z' */
	raw_head(&b, 1, 2);
	raw_fifo(&b, "\xff");
	raw_fifo(&b, "z");
	expect_decode(&b, STOW_ECORRUPT, "entry 1");
}

static void test_decode_rejects_names(void **state)
{
	static const struct {
		const char *name;
		size_t len;
	} bad[] = {
	    {"", 0},  {".", 1},	   {"..", 2}, {"a/b", 3},
	    {"/", 1}, {"a\0b", 3}, {"\0", 1},
	};
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	char *huge;

	(void)state;
	stow_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_head(&b, 1, 2);
		raw_fifo(&b, "0");
		raw_common(&b, bad[i].name, bad[i].len, STOW_NODE_FIFO, 0, 0);
		stow_buf_append_varint(&b, 0);
		expect_decode(&b, STOW_ECORRUPT, "entry 1");
	}
	huge = malloc(STOW_NAME_MAX + 1);
	assert_non_null(huge);
	memset(huge, 'n', STOW_NAME_MAX + 1);
	raw_head(&b, 1, 1);
	raw_common(&b, huge, STOW_NAME_MAX + 1, STOW_NODE_FIFO, 0, 0);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "entry 0");
	free(huge);
}

static void test_decode_rejects_fields(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	(void)state;
	stow_buf_init(&b, 0);
	/* unknown types */
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, 0, 0644, 0);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "type");
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, 8, 0644, 0);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "type");
	/* nanoseconds out of range */
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 999999999);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, 0, NULL);
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 1000000000);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "nanoseconds");
	/* file type bits in mode */
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0100644, 0);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "mode");
	/* uid beyond 32 bits */
	raw_head(&b, 1, 1);
	stow_buf_append_lenbytes(&b, "a", 1);
	stow_buf_append_u8(&b, STOW_NODE_FIFO);
	stow_buf_append_varint(&b, 0644);
	stow_buf_append_varint(&b, (uint64_t)1 << 32);
	for (int i = 0; i < 7; i++) /* gid .. nxattrs */
		stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "uid");
	/* symlink with empty target, and with a NUL in it */
	raw_head(&b, 1, 1);
	raw_common(&b, "l", 1, STOW_NODE_SYMLINK, 0777, 0);
	stow_buf_append_varint(&b, 0);
	stow_buf_append_lenbytes(&b, "", 0);
	expect_decode(&b, STOW_ECORRUPT, "symlink");
	raw_head(&b, 1, 1);
	raw_common(&b, "l", 1, STOW_NODE_SYMLINK, 0777, 0);
	stow_buf_append_varint(&b, 0);
	stow_buf_append_lenbytes(&b, "a\0b", 3);
	expect_decode(&b, STOW_ECORRUPT, "symlink");
	/* directory cut inside its subtree ID */
	raw_head(&b, 1, 1);
	raw_common(&b, "d", 1, STOW_NODE_DIR, 0755, 0);
	stow_buf_append_varint(&b, 0);
	stow_buf_append(&b, "0123456789012345678901234567890", 31);
	expect_decode(&b, STOW_ECORRUPT, "entry 0");
}

static void test_decode_rejects_xattrs(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	(void)state;
	stow_buf_init(&b, 0);
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 0);
	stow_buf_append_varint(&b, 1);
	stow_buf_append_lenbytes(&b, "user.a", 6);
	stow_buf_append_lenbytes(&b, "", 0);
	expect_decode(&b, 0, NULL);

	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 0);
	stow_buf_append_varint(&b, 1);
	stow_buf_append_lenbytes(&b, "", 0);
	stow_buf_append_lenbytes(&b, "v", 1);
	expect_decode(&b, STOW_ECORRUPT, "xattr 0");

	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 0);
	stow_buf_append_varint(&b, 2);
	stow_buf_append_lenbytes(&b, "user.a", 6);
	stow_buf_append_lenbytes(&b, "", 0);
	stow_buf_append_lenbytes(&b, "us\0r", 4);
	stow_buf_append_lenbytes(&b, "v", 1);
	expect_decode(&b, STOW_ECORRUPT, "xattr 1");

	/* a count beyond the cap, and one beyond the bytes left */
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 0);
	stow_buf_append_varint(&b, STOW_XATTRS_MAX + 1);
	for (int i = 0; i < 4000; i++)
		stow_buf_append_u8(&b, 1);
	expect_decode(&b, STOW_ECORRUPT, "xattr count");
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 0);
	stow_buf_append_varint(&b, 1000);
	expect_decode(&b, STOW_ECORRUPT, "xattr count");

	/* value longer than the cap */
	raw_head(&b, 1, 1);
	raw_common(&b, "a", 1, STOW_NODE_FIFO, 0644, 0);
	stow_buf_append_varint(&b, 1);
	stow_buf_append_lenbytes(&b, "user.a", 6);
	stow_buf_append_varint(&b, STOW_XATTR_VALUE_MAX + 1);
	expect_decode(&b, STOW_ECORRUPT, "exceeds cap");
}

static void test_decode_rejects_chunks(void **state)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	uint8_t id[STOW_ID_LEN];

	(void)state;
	memset(id, 7, sizeof(id));
	stow_buf_init(&b, 0);
	/* valid: 10 = 6 stored + 4 hole */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 10, 2);
	stow_buf_append_u8(&b, 0);
	stow_buf_append(&b, id, sizeof(id));
	stow_buf_append_varint(&b, 6);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, 4);
	expect_decode(&b, 0, NULL);
	/* sum short of and beyond the size */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 11, 2);
	stow_buf_append_u8(&b, 0);
	stow_buf_append(&b, id, sizeof(id));
	stow_buf_append_varint(&b, 6);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, 4);
	expect_decode(&b, STOW_ECORRUPT, "sum to 10");
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 9, 2);
	stow_buf_append_u8(&b, 0);
	stow_buf_append(&b, id, sizeof(id));
	stow_buf_append_varint(&b, 6);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, 4);
	expect_decode(&b, STOW_ECORRUPT, "entry 0");
	/* a size with no chunks */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 1, 0);
	expect_decode(&b, STOW_ECORRUPT, "sum to 0");
	/* lengths that overflow 64 bits */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 0, 2);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, UINT64_MAX);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, 2);
	expect_decode(&b, STOW_ECORRUPT, "overflow");
	/* empty extent */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 0, 1);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, 0);
	expect_decode(&b, STOW_ECORRUPT, "length 0");
	/* unknown chunk kind */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 4, 1);
	stow_buf_append_u8(&b, 2);
	stow_buf_append_varint(&b, 4);
	expect_decode(&b, STOW_ECORRUPT, "kind 2");
	/* chunk count beyond the bytes left */
	raw_head(&b, 1, 1);
	raw_file_head(&b, "f", 4, (uint64_t)1 << 40);
	stow_buf_append_u8(&b, 1);
	stow_buf_append_varint(&b, 4);
	expect_decode(&b, STOW_ECORRUPT, "chunk count");
}

/* --- encoding rejects what decoding would ------------------------------ */

static void expect_encode(const stow_node *v, size_t n, int code,
			  const char *in_msg)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	stow_buf_init(&b, 0);
	assert_int_equal(stow_buf_append(&b, "keep", 4), 0);
	assert_int_equal(stow_tree_encode(v, n, &b), code);
	if (code == 0)
		return;
	/* nothing appended on failure */
	assert_int_equal(b.len, 4);
	if (in_msg && !strstr(stow_err_msg(), in_msg))
		fail_msg("message \"%s\" lacks \"%s\"", stow_err_msg(), in_msg);
}

static void test_encode_rejects(void **state)
{
	stow_node v[3];

	(void)state;
	v[0] = mks("a", STOW_NODE_FIFO);
	v[1] = mks("b", STOW_NODE_FIFO);
	v[2] = mks("b", STOW_NODE_FIFO);
	expect_encode(v, 2, 0, NULL);
	expect_encode(v, 3, STOW_EINVAL, "duplicates");
	expect_encode(v + 1, 2, STOW_EINVAL, "entry 1");
	/* unsorted */
	{
		stow_node sw[2] = {v[1], v[0]};

		expect_encode(sw, 2, STOW_EINVAL, "sorts before");
	}
	v[1].mtime_nsec = 1000000000;
	expect_encode(v, 2, STOW_EINVAL, "entry 1");
	v[1].mtime_nsec = 0;
	v[1].mode = 0100644;
	expect_encode(v, 2, STOW_EINVAL, "mode");
	v[1].mode = 0644;
	v[1].type = 9;
	expect_encode(v, 2, STOW_EINVAL, "type");
	v[1].type = STOW_NODE_FILE;
	v[1].size = 5;
	expect_encode(v, 2, STOW_EINVAL, "sum to 0");
	add_chunk(&v[1], false, 1, 5);
	v[1].size = 5;
	expect_encode(v, 2, 0, NULL);
	v[1].type = STOW_NODE_SYMLINK;
	expect_encode(v, 2, STOW_EINVAL, "symlink");
	v[1].type = STOW_NODE_FIFO;
	v[1].name[0] = '/';
	expect_encode(v + 1, 1, STOW_EINVAL, "'/'");
	v[1].name[0] = '.';
	expect_encode(v + 1, 1, STOW_EINVAL, "\".\"");
	v[1].name_len = 0;
	expect_encode(v + 1, 1, STOW_EINVAL, "empty");
	v[1].name_len = 1;
	v[1].name[0] = 'b';
	add_xattr(&v[1], "", "x", 1);
	expect_encode(v, 2, STOW_EINVAL, "xattr 0");
	clear_all(v, 3);
}

/* --- lookup ----------------------------------------------------------- */

static void test_find(void **state)
{
	static const char *names[] = {"a",  "ab", "abc",      "b",
				      "ba", "z",  "\xc3\xa9", "\xff"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	stow_node v[N];
	stow_tree t, empty = {NULL, 0};

	(void)state;
	stow_buf_init(&b, 0);
	for (size_t i = 0; i < N; i++) {
		v[i] = mks(names[i], STOW_NODE_FIFO);
		v[i].ino = i;
	}
	assert_int_equal(stow_tree_encode(v, N, &b), 0);
	assert_int_equal(stow_tree_decode(&t, b.data, b.len), 0);
	for (size_t i = 0; i < N; i++) {
		const stow_node *f = stow_tree_find(
		    &t, (const uint8_t *)names[i], strlen(names[i]));

		assert_non_null(f);
		assert_int_equal(f->ino, i);
	}
	assert_null(stow_tree_find(&t, (const uint8_t *)"aa", 2));
	assert_null(stow_tree_find(&t, (const uint8_t *)"0", 1));
	assert_null(stow_tree_find(&t, (const uint8_t *)"zz", 2));
	assert_null(stow_tree_find(&t, (const uint8_t *)"", 0));
	assert_null(stow_tree_find(&empty, (const uint8_t *)"a", 1));
	assert_null(stow_tree_find(NULL, (const uint8_t *)"a", 1));
	stow_tree_free(&t);
	stow_tree_free(NULL);
	stow_node_clear(NULL);
	clear_all(v, N);
}

static void test_name_cmp(void **state)
{
	(void)state;
	assert_int_equal(
	    stow_name_cmp((const uint8_t *)"a", 1, (const uint8_t *)"a", 1), 0);
	assert_true(stow_name_cmp((const uint8_t *)"a", 1,
				  (const uint8_t *)"ab", 2) < 0);
	assert_true(stow_name_cmp((const uint8_t *)"ab", 2,
				  (const uint8_t *)"b", 1) < 0);
	assert_true(stow_name_cmp((const uint8_t *)"\xff", 1,
				  (const uint8_t *)"\x01", 1) > 0);
	assert_true(stow_name_cmp(NULL, 0, (const uint8_t *)"a", 1) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_all_types),
	    cmocka_unit_test(test_roundtrip_empty_tree),
	    cmocka_unit_test(test_roundtrip_odd_names),
	    cmocka_unit_test(test_roundtrip_large_chunk_list),
	    cmocka_unit_test(test_golden_vector),
	    cmocka_unit_test(test_truncation_everywhere),
	    cmocka_unit_test(test_decode_rejects_header),
	    cmocka_unit_test(test_decode_rejects_order),
	    cmocka_unit_test(test_decode_rejects_names),
	    cmocka_unit_test(test_decode_rejects_fields),
	    cmocka_unit_test(test_decode_rejects_xattrs),
	    cmocka_unit_test(test_decode_rejects_chunks),
	    cmocka_unit_test(test_encode_rejects),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_name_cmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
