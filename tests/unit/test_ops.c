/* The read side of the vault operations on a real repository in the mem:
 * store: backup a temp tree, restore it and compare entry by entry
 * (content, modes, nanosecond mtimes, symlinks, hard links, sparseness),
 * subpath restores, ls, diff, stats, check (clean, then with a flipped
 * byte in a pack: the damaged file must be named and skipped by restore,
 * together with its hard link), and gc's dry run and lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "util/err.h"
#include "vault/ops.h"

#define PW "test password"
#define MiB (1u << 20)

typedef struct fixture {
	char tmp[64];
	char src[128];
	stow_repo *r;
	stow_snapshot snap;
} fixture;

/* --- file helpers ------------------------------------------------------- */

static void join(char *out, size_t n, const char *a, const char *b)
{
	int k = snprintf(out, n, "%s/%s", a, b);

	assert_true(k > 0 && (size_t)k < n);
}

static void write_file(const char *dir, const char *name, const void *data,
		       size_t len, mode_t mode)
{
	char p[512];
	int fd;

	join(p, sizeof(p), dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void set_mtime(const char *dir, const char *name, long sec, long nsec)
{
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
	char p[512];

	join(p, sizeof(p), dir, name);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Pseudo-random, incompressible, deterministic. */
static uint8_t *random_bytes(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
	return p;
}

static void rm_rf(const char *path)
{
	char cmd[256];
	int k = snprintf(cmd, sizeof(cmd),
			 "chmod -R u+rwX '%s' 2>/dev/null; "
			 "rm -rf '%s'",
			 path, path);

	assert_true(k > 0 && (size_t)k < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

/* The source tree: every kind of entry restore must reproduce. */
static void make_tree(const char *d)
{
	uint8_t *big = random_bytes(3 * MiB + 777, 1);
	char p[512];
	int fd;

	write_file(d, "big.bin", big, 3 * MiB + 777, 0640);
	write_file(d, "small.txt", "hello\n", 6, 0644);
	write_file(d, "empty", "", 0, 0600);
	write_file(d, "setuid", "x\n", 2, 04755);
	/* Sparse: 8 MiB with 64 KiB of data in the middle. */
	join(p, sizeof(p), d, "sparse.img");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 * MiB), 0);
	assert_int_equal(pwrite(fd, big, 65536, 4 * MiB), 65536);
	assert_int_equal(close(fd), 0);
	free(big);
	join(p, sizeof(p), d, "big.link");
	{
		char q[512];

		join(q, sizeof(q), d, "big.bin");
		assert_int_equal(link(q, p), 0);
	}
	join(p, sizeof(p), d, "link");
	assert_int_equal(symlink("small.txt", p), 0);
	join(p, sizeof(p), d, "dangling");
	assert_int_equal(symlink("../../nowhere", p), 0);
	join(p, sizeof(p), d, "fifo");
	assert_int_equal(mkfifo(p, 0620), 0);
	join(p, sizeof(p), d, "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(p, "inner", "inner file\n", 11, 0600);
	set_mtime(p, "inner", 1600000000, 1);
	join(p, sizeof(p), d, "ro");
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(p, "child", "in a read-only dir\n", 19, 0444);
	set_mtime(d, "big.bin", 1500000000, 123456789);
	set_mtime(d, "small.txt", 1400000000, 999999999);
	set_mtime(d, "link", 1300000000, 5);
	join(p, sizeof(p), d, "ro");
	assert_int_equal(chmod(p, 0555), 0);
	set_mtime(d, "ro", 1200000000, 42);
	set_mtime(d, "sub", 1100000000, 7);
}

/* --- comparing trees ---------------------------------------------------- */

static void assert_same_content(const char *a, const char *b, off_t size)
{
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	char *x = malloc((size_t)size + 1), *y = malloc((size_t)size + 1);

	assert_true(fa >= 0 && fb >= 0 && x && y);
	assert_int_equal(pread(fa, x, (size_t)size + 1, 0), size);
	assert_int_equal(pread(fb, y, (size_t)size + 1, 0), size);
	assert_memory_equal(x, y, (size_t)size);
	free(x);
	free(y);
	close(fa);
	close(fb);
}

/* Every entry below a is in b with the same type, mode, size, mtime,
 * content and link target; returns the number of entries compared. */
static int compare_trees(const char *a, const char *b)
{
	DIR *d = opendir(a);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char pa[512], pb[512];
		struct stat sa, sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		join(pa, sizeof(pa), a, de->d_name);
		join(pb, sizeof(pb), b, de->d_name);
		assert_int_equal(lstat(pa, &sa), 0);
		if (lstat(pb, &sb) < 0)
			fail_msg("%s missing in the restored tree", pb);
		n++;
		assert_int_equal(sa.st_mode & S_IFMT, sb.st_mode & S_IFMT);
		if (!S_ISLNK(sa.st_mode))
			assert_int_equal(sa.st_mode & 07777,
					 sb.st_mode & 07777);
		assert_int_equal(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
		assert_int_equal(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
		if (S_ISREG(sa.st_mode)) {
			assert_int_equal(sa.st_size, sb.st_size);
			assert_same_content(pa, pb, sa.st_size);
		} else if (S_ISLNK(sa.st_mode)) {
			char ta[256] = "", tb[256] = "";

			assert_true(readlink(pa, ta, sizeof(ta) - 1) > 0);
			assert_true(readlink(pb, tb, sizeof(tb) - 1) > 0);
			assert_string_equal(ta, tb);
		} else if (S_ISDIR(sa.st_mode)) {
			n += compare_trees(pa, pb);
		}
	}
	closedir(d);
	return n;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* --- setup -----------------------------------------------------------------
 */

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	stow_repo_init_opts io;
	stow_backup_opts bo = {0};
	stow_store *st;
	char id[65];

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/stow-test-ops.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	join(f->src, sizeof(f->src), f->tmp, "src");
	assert_int_equal(mkdir(f->src, 0755), 0);
	make_tree(f->src);

	assert_int_equal(stow_store_mem_open(&st), 0);
	stow_repo_init_opts_default(&io);
	io.kdf.memory_mib = 1; /* cheap Argon2id: tests, not security */
	io.kdf.passes = 1;
	assert_int_equal(stow_repo_init(st, PW, &io, id), 0);
	assert_int_equal(stow_repo_open(&f->r, st, PW), 0);
	stow_repo_set_parallel(f->r, 4);
	bo.path = f->src;
	bo.host = "test-host";
	if (stow_vault_backup(f->r, &bo, &f->snap) != 0)
		fail_msg("backup: %s", stow_err_msg());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	stow_snapshot_free(&f->snap);
	stow_repo_close(f->r);
	rm_rf(f->tmp);
	free(f);
	return 0;
}

typedef struct msgs {
	char buf[16384];
	size_t len;
	int count;
} msgs;

static void collect(void *ctx, const char *msg)
{
	msgs *m = ctx;
	int k = snprintf(m->buf + m->len, sizeof(m->buf) - m->len, "%s\n", msg);

	m->count++;
	if (k > 0 && (size_t)k < sizeof(m->buf) - m->len)
		m->len += (size_t)k;
}

static int progress_calls;
static bool progress_final;

static void on_progress(void *ctx, const stow_progress *p)
{
	(void)ctx;
	progress_calls++;
	if (p->done)
		progress_final = true;
}

/* --- tests ------------------------------------------------------------------
 */

static void test_restore_roundtrip(void **state)
{
	fixture *f = *state;
	stow_restore_opts o = {0};
	stow_restore_stats st;
	msgs w = {0};
	char dst[128], a[512], b[512];
	struct stat sa, sb, sp;

	join(dst, sizeof(dst), f->tmp, "dst");
	o.target = dst;
	o.owner = geteuid() == 0;
	o.warn = collect;
	o.progress = on_progress;
	o.cb_ctx = &w;
	progress_calls = 0;
	progress_final = false;
	if (stow_vault_restore(f->r, f->snap.id, &o, &st) != 0)
		fail_msg("restore: %s\n%s", stow_err_msg(), w.buf);
	assert_int_equal(w.count, 0);
	assert_true(progress_final);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.dirs, 2);
	assert_int_equal(st.symlinks, 2);
	assert_int_equal(st.others, 1);
	assert_int_equal(compare_trees(f->src, dst), 13);

	/* Hard links share an inode again; the sparse file stayed sparse. */
	join(a, sizeof(a), dst, "big.bin");
	join(b, sizeof(b), dst, "big.link");
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_true(sa.st_ino == sb.st_ino);
	assert_int_equal(sa.st_nlink, 2);
	join(a, sizeof(a), dst, "sparse.img");
	assert_int_equal(stat(a, &sp), 0);
	assert_true((uint64_t)sp.st_blocks * 512 < 1 * MiB);

	/* A non-empty target is refused, and nothing is written into it. */
	assert_int_equal(stow_vault_restore(f->r, f->snap.id, &o, &st),
			 STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "not empty"));
	assert_int_equal(count_entries(dst), 11);
}

static void test_restore_subpath(void **state)
{
	fixture *f = *state;
	stow_restore_opts o = {0};
	stow_restore_stats st;
	char dst[128], src[512], p[512];

	join(dst, sizeof(dst), f->tmp, "subdst");
	o.target = dst;
	o.subpath = "/sub/";
	assert_int_equal(stow_vault_restore(f->r, f->snap.id, &o, &st), 0);
	join(src, sizeof(src), f->src, "sub");
	assert_int_equal(compare_trees(src, dst), 1);
	assert_int_equal(count_entries(dst), 1);

	/* A single file lands in the target under its own name. */
	join(dst, sizeof(dst), f->tmp, "filedst");
	o.subpath = "small.txt";
	assert_int_equal(stow_vault_restore(f->r, f->snap.id, &o, &st), 0);
	join(p, sizeof(p), dst, "small.txt");
	join(src, sizeof(src), f->src, "small.txt");
	assert_same_content(src, p, 6);

	/* An unknown path fails before the target is created. */
	join(dst, sizeof(dst), f->tmp, "nodst");
	o.subpath = "sub/nope";
	assert_int_equal(stow_vault_restore(f->r, f->snap.id, &o, &st),
			 STOW_ENOTFOUND);
	assert_int_equal(access(dst, F_OK), -1);
}

typedef struct listing {
	char names[64][64];
	int n;
} listing;

static int on_ls(void *ctx, const char *path, const stow_node *n)
{
	listing *l = ctx;

	(void)n;
	if (l->n < 64)
		snprintf(l->names[l->n++], 64, "%s", path);
	return 0;
}

static bool listed(const listing *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return true;
	return false;
}

static void test_ls(void **state)
{
	fixture *f = *state;
	listing l = {0};

	assert_int_equal(stow_vault_ls(f->r, f->snap.id, "", false, on_ls, &l),
			 0);
	assert_int_equal(l.n, 11);
	assert_true(listed(&l, "big.bin") && listed(&l, "sub"));
	assert_false(listed(&l, "sub/inner"));

	memset(&l, 0, sizeof(l));
	assert_int_equal(stow_vault_ls(f->r, f->snap.id, "/", true, on_ls, &l),
			 0);
	assert_int_equal(l.n, 13);
	assert_true(listed(&l, "sub/inner") && listed(&l, "ro/child"));

	memset(&l, 0, sizeof(l));
	assert_int_equal(
	    stow_vault_ls(f->r, f->snap.id, "sub", false, on_ls, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "sub/inner");

	assert_int_equal(
	    stow_vault_ls(f->r, f->snap.id, "nope", false, on_ls, &l),
	    STOW_ENOTFOUND);
}

static int on_diff(void *ctx, char what, const char *path)
{
	listing *l = ctx;

	if (l->n < 64)
		snprintf(l->names[l->n++], 64, "%c %s", what, path);
	return 0;
}

static void test_diff_stats_gc(void **state)
{
	fixture *f = *state;
	stow_backup_opts bo = {0};
	stow_snapshot s2 = {0};
	stow_repo_stats rs;
	stow_gc_stats gs;
	listing l = {0};
	char p[512];

	/* Change one file, add one, remove one; back up again. */
	write_file(f->src, "small.txt", "hello, world\n", 13, 0644);
	write_file(f->src, "added.txt", "new\n", 4, 0644);
	join(p, sizeof(p), f->src, "empty");
	assert_int_equal(unlink(p), 0);
	bo.path = f->src;
	bo.host = "test-host";
	bo.no_parent = true;
	assert_int_equal(stow_vault_backup(f->r, &bo, &s2), 0);

	assert_int_equal(stow_vault_diff(f->r, f->snap.id, s2.id, on_diff, &l),
			 0);
	assert_true(listed(&l, "+ added.txt"));
	assert_true(listed(&l, "- empty"));
	assert_true(listed(&l, "M small.txt"));
	assert_false(listed(&l, "M big.bin"));
	assert_false(listed(&l, "M sub/inner"));

	memset(&l, 0, sizeof(l));
	assert_int_equal(stow_vault_diff(f->r, s2.id, s2.id, on_diff, &l), 0);
	assert_int_equal(l.n, 0);

	assert_int_equal(stow_vault_stats(f->r, &rs), 0);
	assert_int_equal(rs.snapshots, 2);
	assert_true(rs.data_blobs > 0 && rs.tree_blobs > 0);
	assert_true(rs.packs >= 2 && rs.pack_bytes >= rs.stored_bytes);
	assert_true(rs.logical_bytes > 2 * (3 * MiB));

	/* Everything is referenced. */
	assert_int_equal(stow_vault_gc(f->r, true, &gs), 0);
	assert_int_equal(gs.packs_deleted, 0);
	assert_true(gs.packs_kept >= 2);

	/* A held lease is respected and left alone. */
	assert_int_equal(stow_store_put(stow_repo_store(f->r), "locks/gc", "x",
					1, STOW_PUT_EXCL),
			 0);
	assert_int_equal(stow_vault_gc(f->r, true, &gs), STOW_ELOCKED);
	assert_int_equal(stow_store_del(stow_repo_store(f->r), "locks/gc"), 0);

	/* Forgetting the second snapshot leaves its packs unreferenced: the
	 * dry run counts them, the real run deletes them and leaves a
	 * repository that checks clean (the in-memory index forgets them
	 * too, so this process cannot dedup against them). */
	assert_int_equal(stow_snapshot_delete(f->r, s2.id), 0);
	assert_int_equal(stow_vault_gc(f->r, true, &gs), 0);
	assert_true(gs.packs_deleted >= 1);
	{
		uint64_t dry = gs.packs_deleted, problems = 1;
		stow_check_opts co = {0};

		assert_int_equal(stow_vault_gc(f->r, false, &gs), 0);
		assert_int_equal(gs.packs_deleted, dry);
		assert_int_equal(stow_vault_gc(f->r, true, &gs), 0);
		assert_int_equal(gs.packs_deleted, 0);
		assert_int_equal(stow_vault_check(f->r, &co, &problems), 0);
		assert_int_equal(problems, 0);
	}
	assert_int_equal(
	    stow_store_stat(stow_repo_store(f->r), "locks/gc", NULL),
	    STOW_ENOTFOUND);
	stow_snapshot_free(&s2);
}

/* Flip one byte inside the first chunk of big.bin in its pack. */
static void damage_big_bin(fixture *f)
{
	listing l = {0};
	stow_vault_ctx *c;
	stow_store *st = stow_repo_store(f->r);
	stow_buf b;
	stow_blob_loc loc;
	const uint8_t *pid;
	char key[160];
	int kind;
	stow_tree t = {0};
	const stow_node *n;

	(void)l;
	assert_int_equal(stow_vault_ctx_new(&c, f->r), 0);
	stow_buf_init(&b, 0);
	assert_int_equal(stow_repo_read_blob(c, f->snap.root, &b), 0);
	assert_int_equal(stow_tree_decode(&t, b.data, b.len), 0);
	n = stow_tree_find(&t, (const uint8_t *)"big.bin", 7);
	assert_non_null(n);
	assert_true(n->nchunks >= 1 && !n->chunks[0].hole);
	assert_int_equal(stow_repo_lookup(f->r, n->chunks[0].id, &loc), 0);
	pid = stow_repo_pack_id(f->r, loc.pack, &kind);
	assert_non_null(pid);
	stow_pack_key(key, sizeof(key), kind, pid);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(st, key, 0, STOW_RANGE_END, &b), 0);
	b.data[loc.offset + loc.stored_len / 2] ^= 0x5a;
	assert_int_equal(stow_store_put(st, key, b.data, b.len, 0), 0);
	stow_tree_free(&t);
	stow_buf_free(&b);
	stow_vault_ctx_free(c);
}

static void test_check_and_damage(void **state)
{
	fixture *f = *state;
	stow_check_opts co = {0};
	stow_restore_opts ro = {0};
	stow_restore_stats rst;
	msgs m = {0};
	uint64_t problems = 99;
	char dst[128], p[512];

	co.problem = collect;
	co.cb_ctx = &m;
	assert_int_equal(stow_vault_check(f->r, &co, &problems), 0);
	if (problems)
		fail_msg("clean repository: %s", m.buf);
	co.read_data = true;
	assert_int_equal(stow_vault_check(f->r, &co, &problems), 0);
	if (problems)
		fail_msg("clean repository, read_data: %s", m.buf);

	damage_big_bin(f);

	/* Structure alone does not read chunks... */
	co.read_data = false;
	assert_int_equal(stow_vault_check(f->r, &co, &problems), 0);
	assert_int_equal(problems, 0);
	/* ...reading the data finds the blob, and names the snapshot and
	 * both names of the file. */
	co.read_data = true;
	memset(&m, 0, sizeof(m));
	assert_int_equal(stow_vault_check(f->r, &co, &problems), 0);
	if (problems != 3)
		fail_msg("expected 3 problems, got %llu: %s",
			 (unsigned long long)problems, m.buf);
	assert_non_null(strstr(m.buf, "authentication failed"));
	assert_non_null(strstr(m.buf, f->snap.id));
	assert_non_null(strstr(m.buf, "big.bin: "));
	assert_non_null(strstr(m.buf, "big.link: "));
	assert_non_null(strstr(m.buf, "pack data/"));

	/* Restore skips the damaged file (both names), restores the rest
	 * and says it was partial. */
	memset(&m, 0, sizeof(m));
	join(dst, sizeof(dst), f->tmp, "damaged");
	ro.target = dst;
	ro.warn = collect;
	ro.cb_ctx = &m;
	assert_int_equal(stow_vault_restore(f->r, f->snap.id, &ro, &rst),
			 STOW_EPARTIAL);
	assert_non_null(strstr(m.buf, "big.bin"));
	assert_true(rst.errors >= 1);
	join(p, sizeof(p), dst, "big.bin");
	assert_int_equal(access(p, F_OK), -1);
	join(p, sizeof(p), dst, "big.link");
	assert_int_equal(access(p, F_OK), -1);
	join(p, sizeof(p), dst, "sparse.img");
	assert_int_equal(access(p, F_OK), 0);
	join(p, sizeof(p), dst, "sub/inner");
	assert_int_equal(access(p, F_OK), 0);
}

/* A backup whose repository handle was opened before a gc ran must not
 * deduplicate against the packs that gc deleted: it revalidates its index
 * once it holds its writer lease. Two handles on one fs repository make
 * the interleaving deterministic. */
static void test_backup_after_gc_on_stale_handle(void **state)
{
	fixture *f = *state;
	stow_repo_init_opts io;
	stow_backup_opts bo = {0};
	stow_restore_opts ro = {0};
	stow_restore_stats rst;
	stow_check_opts co = {0};
	stow_snapshot s1 = {0}, s2 = {0};
	stow_gc_stats gs;
	stow_store *st;
	stow_repo *h0, *stale;
	uint64_t problems = 1;
	char repo[128], dst[128], id[65];
	msgs m = {0};

	join(repo, sizeof(repo), f->tmp, "gcrepo");
	join(dst, sizeof(dst), f->tmp, "gcdst");
	stow_repo_init_opts_default(&io);
	io.kdf.memory_mib = 1; /* cheap Argon2id: tests, not security */
	io.kdf.passes = 1;
	assert_int_equal(stow_store_fs_open(&st, repo, 1), 0);
	assert_int_equal(stow_repo_init(st, PW, &io, id), 0);
	assert_int_equal(stow_repo_open(&h0, st, PW), 0);
	bo.path = f->src;
	bo.host = "gc-host";
	bo.no_parent = true;
	assert_int_equal(stow_vault_backup(h0, &bo, &s1), 0);

	/* The stale handle learns about s1's packs... */
	assert_int_equal(stow_store_fs_open(&st, repo, 0), 0);
	assert_int_equal(stow_repo_open(&stale, st, PW), 0);
	/* ...then s1 is forgotten and its packs deleted through another. */
	assert_int_equal(stow_snapshot_delete(h0, s1.id), 0);
	assert_int_equal(stow_vault_gc(h0, false, &gs), 0);
	assert_true(gs.packs_deleted >= 1);
	stow_repo_close(h0);

	/* The same tree again, through the stale handle. */
	if (stow_vault_backup(stale, &bo, &s2) != 0)
		fail_msg("backup: %s", stow_err_msg());
	stow_repo_close(stale);

	assert_int_equal(stow_store_fs_open(&st, repo, 0), 0);
	assert_int_equal(stow_repo_open(&h0, st, PW), 0);
	co.problem = collect;
	co.cb_ctx = &m;
	co.read_data = true;
	assert_int_equal(stow_vault_check(h0, &co, &problems), 0);
	if (problems)
		fail_msg("after gc + stale-handle backup: %s", m.buf);
	ro.target = dst;
	ro.owner = geteuid() == 0;
	assert_int_equal(stow_vault_restore(h0, s2.id, &ro, &rst), 0);
	assert_int_equal(compare_trees(f->src, dst), 13);
	stow_repo_close(h0);
	stow_snapshot_free(&s1);
	stow_snapshot_free(&s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restore_roundtrip),
	    cmocka_unit_test(test_restore_subpath),
	    cmocka_unit_test(test_ls),
	    cmocka_unit_test(test_diff_stats_gc),
	    cmocka_unit_test(test_check_and_damage),
	    cmocka_unit_test(test_backup_after_gc_on_stale_handle),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
