/* The blob-store contract, run against every backend (mem and fs), plus
 * tests only the fs backend can have: crash leftovers, failed writes,
 * permissions, a full disk, and opening by location. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"

typedef struct backend {
	const char *name;
	int is_fs;
} backend;

static backend be_mem = {"mem", 0};
static backend be_fs = {"fs", 1};

typedef struct fixture {
	const backend *be;
	stow_store *s;
	char dir[512]; /* fs root; "" for mem */
} fixture;

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int chmod_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DP || S_ISDIR(st->st_mode))
		chmod(path, 0755);
	return 0;
}

static void rm_rf(const char *dir)
{
	nftw(dir, chmod_one, 16, FTW_PHYS);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	const backend *be = *state;
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->be = be;
	if (be->is_fs) {
		snprintf(f->dir, sizeof(f->dir), "%s/stow-storage-XXXXXX",
			 tmp_base());
		if (!mkdtemp(f->dir))
			return -1;
		/* Readable by others: the permission test runs a child as
		 * nobody when we are root. */
		chmod(f->dir, 0755);
		if (stow_store_open(&f->s, f->dir, 0) != 0)
			return -1;
	} else if (stow_store_open(&f->s, "mem:", 0) != 0) {
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	stow_store_close(f->s);
	if (f->be->is_fs)
		rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static int put_str(stow_store *s, const char *key, const char *v,
		   unsigned flags)
{
	return stow_store_put(s, key, v, strlen(v), flags);
}

/* The whole object as a NUL-terminated string (caller frees), or NULL
 * with *rc set. */
static char *get_str(stow_store *s, const char *key, uint64_t off, uint64_t len,
		     int *rc)
{
	stow_buf b;
	char *out;

	stow_buf_init(&b, 0);
	*rc = stow_store_get(s, key, off, len, &b);
	if (*rc < 0) {
		stow_buf_free(&b);
		return NULL;
	}
	out = malloc(b.len + 1);
	assert_non_null(out);
	if (b.len)
		memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	stow_buf_free(&b);
	return out;
}

static void assert_get(stow_store *s, const char *key, uint64_t off,
		       uint64_t len, const char *want)
{
	int rc;
	char *got = get_str(s, key, off, len, &rc);

	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
	free(got);
}

typedef struct listing {
	char *items[256];
	size_t n;
	int calls;
	int stop_after;	     /* return -42 after this many calls; 0: never */
	stow_store *reenter; /* if set, stat each key from the callback */
	int reenter_fail;
} listing;

static int list_cb(void *ctx, const char *key, uint64_t size)
{
	listing *l = ctx;
	char tmp[1200];

	l->calls++;
	if (l->reenter) {
		uint64_t sz = UINT64_MAX;

		if (stow_store_stat(l->reenter, key, &sz) != 0 || sz != size)
			l->reenter_fail++;
	}
	snprintf(tmp, sizeof(tmp), "%s=%llu", key, (unsigned long long)size);
	if (l->n < 256)
		l->items[l->n++] = strdup(tmp);
	if (l->stop_after && l->calls >= l->stop_after)
		return -42;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing of prefix as "k1=size1 k2=size2 ..." sorted by key. */
static char *list_str(stow_store *s, const char *prefix)
{
	listing l = {0};
	size_t total = 1, pos = 0;
	char *out;

	assert_int_equal(stow_store_list(s, prefix, list_cb, &l), 0);
	qsort(l.items, l.n, sizeof(l.items[0]), cmp_str);
	for (size_t i = 0; i < l.n; i++)
		total += strlen(l.items[i]) + 1;
	out = calloc(1, total);
	assert_non_null(out);
	for (size_t i = 0; i < l.n; i++) {
		size_t n = strlen(l.items[i]);

		if (i)
			out[pos++] = ' ';
		memcpy(out + pos, l.items[i], n);
		pos += n;
		free(l.items[i]);
	}
	out[pos] = '\0';
	return out;
}

static void assert_list(stow_store *s, const char *prefix, const char *want)
{
	char *got = list_str(s, prefix);

	assert_string_equal(got, want);
	free(got);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* Dot-files (temp files) anywhere below dir. */
static int dot_count;
static int count_dot(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (path[ftw->base] == '.')
		dot_count++;
	return 0;
}

static int count_dotfiles(const char *dir)
{
	dot_count = 0;
	nftw(dir, count_dot, 16, FTW_PHYS);
	return dot_count;
}

static void write_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
}

/* ---- the contract, on every backend ---- */

static void test_put_get(void **state)
{
	fixture *f = *state;
	stow_buf b;
	uint64_t size = 0;

	assert_int_equal(put_str(f->s, "config", "hello", 0), 0);
	assert_get(f->s, "config", 0, STOW_RANGE_END, "hello");
	assert_int_equal(stow_store_stat(f->s, "config", &size), 0);
	assert_int_equal(size, 5);
	assert_int_equal(stow_store_stat(f->s, "config", NULL), 0);

	/* get appends to what the buffer already holds. */
	stow_buf_init(&b, 0);
	assert_int_equal(stow_buf_append(&b, "<<", 2), 0);
	assert_int_equal(stow_store_get(f->s, "config", 1, 3, &b), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "<<ell", 5);
	stow_buf_free(&b);

	/* Nested keys create their directories on demand. */
	assert_int_equal(put_str(f->s, "data/ab/cd/ef/deep", "x", 0), 0);
	assert_get(f->s, "data/ab/cd/ef/deep", 0, STOW_RANGE_END, "x");
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);
}

static void test_ranged_get(void **state)
{
	fixture *f = *state;
	int rc;
	char *got;

	assert_int_equal(put_str(f->s, "r", "0123456789", 0), 0);
	assert_get(f->s, "r", 0, 4, "0123");
	assert_get(f->s, "r", 3, STOW_RANGE_END, "3456789");
	assert_get(f->s, "r", 8, 5, "89"); /* runs past the end */
	assert_get(f->s, "r", 9, 1, "9");
	assert_get(f->s, "r", 10, 1, ""); /* starts at the end */
	assert_get(f->s, "r", 100, STOW_RANGE_END, "");
	assert_get(f->s, "r", UINT64_MAX - 1, 10, "");
	assert_get(f->s, "r", 0, 0, "");
	assert_get(f->s, "r", 2, UINT64_MAX - 1, "23456789");
	/* A range of a missing key is still "not found". */
	got = get_str(f->s, "nope", 100, 1, &rc);
	assert_null(got);
	assert_int_equal(rc, STOW_ENOTFOUND);
}

static void test_empty_object(void **state)
{
	fixture *f = *state;
	uint64_t size = 99;

	assert_int_equal(stow_store_put(f->s, "empty", NULL, 0, 0), 0);
	assert_int_equal(stow_store_stat(f->s, "empty", &size), 0);
	assert_int_equal(size, 0);
	assert_get(f->s, "empty", 0, STOW_RANGE_END, "");
	assert_get(f->s, "empty", 5, 5, "");
	assert_list(f->s, "", "empty=0");
	/* EXCL applies to empty objects too (lock files are often empty). */
	assert_int_equal(stow_store_put(f->s, "empty", "", 0, STOW_PUT_EXCL),
			 STOW_EEXIST);
	/* NULL data with a length is a caller bug. */
	assert_int_equal(stow_store_put(f->s, "bad", NULL, 3, 0), STOW_EINVAL);
}

static void test_overwrite(void **state)
{
	fixture *f = *state;
	uint64_t size = 0;

	assert_int_equal(put_str(f->s, "k", "version-one", 0), 0);
	assert_int_equal(put_str(f->s, "k", "v2", 0), 0);
	assert_get(f->s, "k", 0, STOW_RANGE_END, "v2");
	assert_int_equal(stow_store_stat(f->s, "k", &size), 0);
	assert_int_equal(size, 2);
	assert_list(f->s, "", "k=2");
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);
}

static void test_excl(void **state)
{
	fixture *f = *state;

	assert_int_equal(put_str(f->s, "locks/a", "first", STOW_PUT_EXCL), 0);
	stow_err_clear();
	assert_int_equal(put_str(f->s, "locks/a", "second", STOW_PUT_EXCL),
			 STOW_EEXIST);
	assert_non_null(strstr(stow_err_msg(), "locks/a"));
	assert_get(f->s, "locks/a", 0, STOW_RANGE_END, "first");
	assert_int_equal(stow_store_del(f->s, "locks/a"), 0);
	assert_int_equal(put_str(f->s, "locks/a", "third", STOW_PUT_EXCL), 0);
	assert_get(f->s, "locks/a", 0, STOW_RANGE_END, "third");
	/* A plain put still replaces an object created with EXCL. */
	assert_int_equal(put_str(f->s, "locks/a", "fourth", 0), 0);
	assert_get(f->s, "locks/a", 0, STOW_RANGE_END, "fourth");
	/* EXCL into a directory that does not exist yet. */
	assert_int_equal(put_str(f->s, "new/dir/lock", "z", STOW_PUT_EXCL), 0);
	assert_list(f->s, "", "locks/a=6 new/dir/lock=1");
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);
}

static void test_list(void **state)
{
	fixture *f = *state;
	listing l = {0};

	assert_int_equal(put_str(f->s, "config", "c", 0), 0);
	assert_int_equal(put_str(f->s, "data/ab/ab01", "1", 0), 0);
	assert_int_equal(put_str(f->s, "data/ab/ab02", "22", 0), 0);
	assert_int_equal(put_str(f->s, "data/cd/cd01", "333", 0), 0);
	assert_int_equal(put_str(f->s, "data-old", "4444", 0), 0);
	assert_int_equal(put_str(f->s, "database", "55555", 0), 0);
	assert_int_equal(put_str(f->s, "index/i1", "", 0), 0);
	assert_int_equal(put_str(f->s, "snapshots/2024/s1", "s", 0), 0);

	assert_list(f->s, "",
		    "config=1 data-old=4 data/ab/ab01=1 data/ab/ab02=2 "
		    "data/cd/cd01=3 database=5 index/i1=0 "
		    "snapshots/2024/s1=1");
	assert_list(f->s, "data/",
		    "data/ab/ab01=1 data/ab/ab02=2 "
		    "data/cd/cd01=3");
	assert_list(f->s, "data",
		    "data-old=4 data/ab/ab01=1 data/ab/ab02=2 "
		    "data/cd/cd01=3 database=5");
	assert_list(f->s, "data/ab", "data/ab/ab01=1 data/ab/ab02=2");
	assert_list(f->s, "data/ab/", "data/ab/ab01=1 data/ab/ab02=2");
	assert_list(f->s, "data/a", "data/ab/ab01=1 data/ab/ab02=2");
	assert_list(f->s, "data/ab/ab01", "data/ab/ab01=1");
	assert_list(f->s, "data/ab/ab0", "data/ab/ab01=1 data/ab/ab02=2");
	assert_list(f->s, "snapshots/", "snapshots/2024/s1=1");
	assert_list(f->s, "conf", "config=1");
	assert_list(f->s, "config", "config=1");
	assert_list(f->s, "config/", "");
	assert_list(f->s, "nope", "");
	assert_list(f->s, "nope/", "");
	assert_list(f->s, "data/zz/", "");
	assert_list(f->s, "data/ab/ab01/x", "");
	assert_list(f->s, NULL,
		    "config=1 data-old=4 data/ab/ab01=1 "
		    "data/ab/ab02=2 data/cd/cd01=3 database=5 "
		    "index/i1=0 snapshots/2024/s1=1");

	/* A negative callback result stops the walk and is returned. */
	l.stop_after = 2;
	assert_int_equal(stow_store_list(f->s, "", list_cb, &l), -42);
	assert_int_equal(l.calls, 2);
	for (size_t i = 0; i < l.n; i++)
		free(l.items[i]);

	/* The callback may use the store. */
	memset(&l, 0, sizeof(l));
	l.reenter = f->s;
	assert_int_equal(stow_store_list(f->s, "", list_cb, &l), 0);
	assert_int_equal(l.calls, 8);
	assert_int_equal(l.reenter_fail, 0);
	for (size_t i = 0; i < l.n; i++)
		free(l.items[i]);

	/* The directory part of a prefix must be a valid key. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(stow_store_list(f->s, "/data", list_cb, &l),
			 STOW_EINVAL);
	assert_int_equal(stow_store_list(f->s, "../", list_cb, &l),
			 STOW_EINVAL);
	assert_int_equal(stow_store_list(f->s, "a//b", list_cb, &l),
			 STOW_EINVAL);
	assert_int_equal(stow_store_list(f->s, "data/../x", list_cb, &l),
			 STOW_EINVAL);
	assert_int_equal(stow_store_list(f->s, "", NULL, &l), STOW_EINVAL);
	assert_int_equal(l.calls, 0);
}

static void test_del(void **state)
{
	fixture *f = *state;
	uint64_t size;
	int rc;

	assert_int_equal(put_str(f->s, "a/b", "x", 0), 0);
	assert_int_equal(put_str(f->s, "a/c", "y", 0), 0);
	assert_int_equal(stow_store_del(f->s, "a/b"), 0);
	assert_int_equal(stow_store_stat(f->s, "a/b", &size), STOW_ENOTFOUND);
	assert_null(get_str(f->s, "a/b", 0, STOW_RANGE_END, &rc));
	assert_int_equal(rc, STOW_ENOTFOUND);
	assert_int_equal(stow_store_del(f->s, "a/b"), STOW_ENOTFOUND);
	assert_list(f->s, "", "a/c=1");
	assert_int_equal(stow_store_del(f->s, "a/c"), 0);
	assert_list(f->s, "", "");
	/* The emptied "directory" is not an object either. */
	assert_int_equal(stow_store_del(f->s, "a"), STOW_ENOTFOUND);
	/* And it can be filled again. */
	assert_int_equal(put_str(f->s, "a/d", "z", 0), 0);
	assert_list(f->s, "a/", "a/d=1");
}

static void test_invalid_keys(void **state)
{
	fixture *f = *state;
	static const char *bad[] = {
	    "",	    "/a",    "a/",	    "a//b",    ".",	   "..",
	    "a/..", "a/./b", "a/../b",	    ".hidden", "a/.tmp.x", "a b",
	    "a\\b", "a\tb",  "caf\xc3\xa9", "a:b",     "a*",	   "//",
	    "/",    "a/b/",  "x/.",
	};
	char long_key[1100];
	stow_buf b;
	listing l = {0};

	stow_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(stow_store_key_valid(bad[i]));
		stow_err_clear();
		assert_int_equal(put_str(f->s, bad[i], "x", 0), STOW_EINVAL);
		assert_true(strlen(stow_err_msg()) > 0);
		assert_int_equal(put_str(f->s, bad[i], "x", STOW_PUT_EXCL),
				 STOW_EINVAL);
		assert_int_equal(
		    stow_store_get(f->s, bad[i], 0, STOW_RANGE_END, &b),
		    STOW_EINVAL);
		assert_int_equal(stow_store_stat(f->s, bad[i], NULL),
				 STOW_EINVAL);
		assert_int_equal(stow_store_del(f->s, bad[i]), STOW_EINVAL);
	}
	assert_false(stow_store_key_valid(NULL));
	assert_int_equal(b.len, 0);
	stow_buf_free(&b);

	/* Length: 1024 is the limit. */
	memset(long_key, 'a', sizeof(long_key));
	for (size_t i = 100; i < 1024; i += 100)
		long_key[i] = '/';
	long_key[1024] = '\0';
	assert_true(stow_store_key_valid(long_key));
	long_key[1024] = 'a';
	long_key[1025] = '\0';
	assert_false(stow_store_key_valid(long_key));
	assert_int_equal(put_str(f->s, long_key, "x", 0), STOW_EINVAL);
	/* A key of exactly 1024 bytes in short segments round-trips. */
	long_key[1024] = '\0';
	assert_int_equal(put_str(f->s, long_key, "long", 0), 0);
	assert_get(f->s, long_key, 0, STOW_RANGE_END, "long");
	assert_int_equal(stow_store_list(f->s, "", list_cb, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(strlen(l.items[0]), 1024 + strlen("=4"));
	free(l.items[0]);

	/* Good keys. */
	assert_true(stow_store_key_valid("a"));
	assert_true(stow_store_key_valid("config"));
	assert_true(stow_store_key_valid("data/ab/ab12ef"));
	assert_true(stow_store_key_valid("A-Z_a.z/0.9-_"));
	assert_true(stow_store_key_valid("a."));
	assert_true(stow_store_key_valid("a..b/c.."));
	assert_true(stow_store_key_valid("-/_"));
}

static void test_missing(void **state)
{
	fixture *f = *state;
	int rc;

	stow_err_clear();
	assert_null(get_str(f->s, "data/xx/missing", 0, STOW_RANGE_END, &rc));
	assert_int_equal(rc, STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "data/xx/missing"));
	assert_int_equal(stow_store_stat(f->s, "missing", NULL),
			 STOW_ENOTFOUND);
	assert_int_equal(stow_store_del(f->s, "missing"), STOW_ENOTFOUND);
	/* A "directory" of other keys is not an object. */
	assert_int_equal(put_str(f->s, "dir/obj", "x", 0), 0);
	assert_int_equal(stow_store_stat(f->s, "dir", NULL), STOW_ENOTFOUND);
	assert_null(get_str(f->s, "dir", 0, STOW_RANGE_END, &rc));
	assert_int_equal(rc, STOW_ENOTFOUND);
	assert_int_equal(stow_store_del(f->s, "dir"), STOW_ENOTFOUND);
	/* Below an object there is nothing. */
	assert_int_equal(stow_store_stat(f->s, "dir/obj/below", NULL),
			 STOW_ENOTFOUND);
	assert_null(get_str(f->s, "dir/obj/below", 0, STOW_RANGE_END, &rc));
	assert_int_equal(rc, STOW_ENOTFOUND);
	assert_int_equal(stow_store_del(f->s, "dir/obj/below"), STOW_ENOTFOUND);
}

/* A key cannot also be a directory of other keys: a filesystem cannot
 * hold both "a" and "a/b", so no backend accepts it. */
static void test_layout_conflict(void **state)
{
	fixture *f = *state;

	assert_int_equal(put_str(f->s, "a/b", "x", 0), 0);
	assert_int_equal(put_str(f->s, "a", "y", 0), STOW_EINVAL);
	assert_int_equal(put_str(f->s, "a", "y", STOW_PUT_EXCL), STOW_EINVAL);
	stow_err_clear();
	assert_int_equal(put_str(f->s, "a/b/c", "z", 0), STOW_EINVAL);
	assert_true(strlen(stow_err_msg()) > 0);
	assert_int_equal(put_str(f->s, "a/b/c/d", "z", STOW_PUT_EXCL),
			 STOW_EINVAL);
	assert_list(f->s, "", "a/b=1");
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);
}

static void test_large_object(void **state)
{
	fixture *f = *state;
	const size_t n = (size_t)20 << 20;
	uint8_t *data = malloc(n);
	stow_buf b;
	uint64_t size = 0;

	assert_non_null(data);
	fill_pattern(data, n, 7);
	assert_int_equal(stow_store_put(f->s, "packs/big", data, n, 0), 0);
	assert_int_equal(stow_store_stat(f->s, "packs/big", &size), 0);
	assert_int_equal(size, n);

	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_store_get(f->s, "packs/big", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, data, n);

	stow_buf_reset(&b);
	assert_int_equal(
	    stow_store_get(f->s, "packs/big", n - 100, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.data, data + n - 100, 100);

	stow_buf_reset(&b);
	assert_int_equal(
	    stow_store_get(f->s, "packs/big", (7 << 20) + 3, (5 << 20) + 1, &b),
	    0);
	assert_int_equal(b.len, (5 << 20) + 1);
	assert_memory_equal(b.data, data + (7 << 20) + 3, (5 << 20) + 1);
	stow_buf_free(&b);

	/* A buffer whose cap is too small gets ENOMEM, not a partial read. */
	stow_buf_init(&b, 1 << 20);
	assert_int_equal(
	    stow_store_get(f->s, "packs/big", 0, STOW_RANGE_END, &b),
	    STOW_ENOMEM);
	assert_int_equal(b.len, 0);
	stow_buf_free(&b);
	free(data);
}

/* ---- concurrency ---- */

#define NTHREADS 8
#define NITER 40

typedef struct conc {
	stow_store *s;
	pthread_barrier_t barrier;
	atomic_int errors;
	atomic_int excl_won;
	atomic_int excl_lost;
	char first_error[256];
	pthread_mutex_t mu;
} conc;

typedef struct conc_arg {
	conc *c;
	int t;
} conc_arg;

static void conc_fail(conc *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conc_fail(conc *c, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&c->errors, 1) == 0) {
		pthread_mutex_lock(&c->mu);
		va_start(ap, fmt);
		vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&c->mu);
	}
}

/* The shared key always holds one writer's whole object: `len` bytes all
 * equal to the writer's byte, with len a function of that byte. */
static size_t shared_len(int t)
{
	return 1000 + (size_t)t * 777;
}

static void *conc_thread(void *p)
{
	conc_arg *a = p;
	conc *c = a->c;
	uint8_t buf[8192], pat[512];
	char key[64];
	stow_buf b;
	int rc;

	stow_buf_init(&b, 0);
	pthread_barrier_wait(&c->barrier);
	/* Everyone races for one lock and into the same new directories. */
	rc = stow_store_put(c->s, "conc/lock", "x", 1, STOW_PUT_EXCL);
	if (rc == 0)
		atomic_fetch_add(&c->excl_won, 1);
	else if (rc == STOW_EEXIST)
		atomic_fetch_add(&c->excl_lost, 1);
	else
		conc_fail(c, "excl put: %d %s", rc, stow_err_msg());
	snprintf(key, sizeof(key), "race/x/y/z/t%d", a->t);
	rc = stow_store_put(c->s, key, "r", 1, 0);
	if (rc != 0)
		conc_fail(c, "put %s: %d %s", key, rc, stow_err_msg());

	memset(buf, 'A' + a->t, sizeof(buf));
	for (int i = 0; i < NITER; i++) {
		size_t plen = 1 + (size_t)(a->t * 31 + i * 17) % sizeof(pat);

		fill_pattern(pat, plen, (uint32_t)(a->t * 1000 + i));
		snprintf(key, sizeof(key), "conc/t%d/k%d", a->t, i);
		rc = stow_store_put(c->s, key, pat, plen, 0);
		if (rc != 0)
			conc_fail(c, "put %s: %d %s", key, rc, stow_err_msg());
		stow_buf_reset(&b);
		rc = stow_store_get(c->s, key, 0, STOW_RANGE_END, &b);
		if (rc != 0 || b.len != plen || memcmp(b.data, pat, plen))
			conc_fail(c, "get %s: %d", key, rc);

		rc = stow_store_put(c->s, "conc/shared", buf, shared_len(a->t),
				    0);
		if (rc != 0)
			conc_fail(c, "put shared: %d %s", rc, stow_err_msg());
		stow_buf_reset(&b);
		rc = stow_store_get(c->s, "conc/shared", 0, STOW_RANGE_END, &b);
		if (rc != 0 || b.len == 0) {
			conc_fail(c, "get shared: %d %s", rc, stow_err_msg());
		} else {
			int who = b.data[0] - 'A';

			if (who < 0 || who >= NTHREADS ||
			    b.len != shared_len(who))
				conc_fail(c, "shared: torn length %zu", b.len);
			for (size_t j = 0; j < b.len; j++)
				if (b.data[j] != b.data[0]) {
					conc_fail(c, "shared: mixed bytes");
					break;
				}
		}
	}
	stow_buf_free(&b);
	return NULL;
}

static void test_concurrency(void **state)
{
	fixture *f = *state;
	pthread_t th[NTHREADS];
	conc_arg args[NTHREADS];
	conc c;
	listing l = {0};
	char *got;

	memset(&c, 0, sizeof(c));
	c.s = f->s;
	pthread_mutex_init(&c.mu, NULL);
	pthread_barrier_init(&c.barrier, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (conc_arg){&c, i};
		assert_int_equal(
		    pthread_create(&th[i], NULL, conc_thread, &args[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&c.barrier);
	pthread_mutex_destroy(&c.mu);
	if (c.errors)
		fail_msg("%d errors, first: %s", atomic_load(&c.errors),
			 c.first_error);
	assert_int_equal(c.excl_won, 1);
	assert_int_equal(c.excl_lost, NTHREADS - 1);

	assert_int_equal(stow_store_list(f->s, "conc/t", list_cb, &l), 0);
	assert_int_equal(l.calls, NTHREADS * NITER);
	for (size_t i = 0; i < l.n; i++)
		free(l.items[i]);
	got = list_str(f->s, "race/");
	assert_string_equal(got, "race/x/y/z/t0=1 race/x/y/z/t1=1 "
				 "race/x/y/z/t2=1 race/x/y/z/t3=1 "
				 "race/x/y/z/t4=1 race/x/y/z/t5=1 "
				 "race/x/y/z/t6=1 race/x/y/z/t7=1");
	free(got);
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);
}

/* ---- fs only ---- */

/* What a crash mid-put leaves behind: temp files next to objects. They
 * must not be listed or readable, and must not disturb later puts. */
static void test_fs_crash_leftovers(void **state)
{
	fixture *f = *state;
	char path[1024];

	assert_int_equal(put_str(f->s, "data/ab/ab01", "real", 0), 0);
	snprintf(path, sizeof(path), "%s/.tmp.config.123.456.00112233aabbccdd",
		 f->dir);
	write_file(path, "half a con");
	snprintf(path, sizeof(path),
		 "%s/data/ab/.tmp.ab02.99.99.0123456789abcdef", f->dir);
	write_file(path, "partial pack");
	snprintf(path, sizeof(path), "%s/data/.hidden", f->dir);
	write_file(path, "not ours");
	snprintf(path, sizeof(path), "%s/lost+found", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/lost+found/x", f->dir);
	write_file(path, "fsck");
	snprintf(path, sizeof(path), "%s/data/bad name", f->dir);
	write_file(path, "stray");
	snprintf(path, sizeof(path), "%s/link", f->dir);
	assert_int_equal(symlink(".", path), 0); /* a loop, if followed */
	snprintf(path, sizeof(path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(path, 0644), 0);

	assert_list(f->s, "", "data/ab/ab01=4");
	assert_list(f->s, "data/ab/", "data/ab/ab01=4");
	assert_list(f->s, "data/ab/.tmp", "");
	assert_int_equal(stow_store_stat(f->s, "config", NULL), STOW_ENOTFOUND);
	assert_int_equal(stow_store_stat(f->s, "data/ab/ab02", NULL),
			 STOW_ENOTFOUND);
	/* Non-files under a key's name are not objects (and a FIFO must not
	 * block the reader). */
	assert_int_equal(stow_store_stat(f->s, "fifo", NULL), STOW_ENOTFOUND);
	assert_int_equal(
	    stow_store_get(f->s, "fifo", 0, STOW_RANGE_END, &(stow_buf){0}),
	    STOW_ENOTFOUND);
	/* Temp names are not keys at all. */
	assert_int_equal(
	    stow_store_stat(f->s, ".tmp.config.123.456.00112233aabbccdd", NULL),
	    STOW_EINVAL);
	/* Later puts of the same keys work and leave only their own files. */
	assert_int_equal(put_str(f->s, "config", "whole", 0), 0);
	assert_int_equal(put_str(f->s, "data/ab/ab02", "whole", STOW_PUT_EXCL),
			 0);
	assert_list(f->s, "", "config=5 data/ab/ab01=4 data/ab/ab02=5");
	assert_int_equal(count_dotfiles(f->dir), 3);
}

/* A streamed put: invisible until commit, then exactly the appended bytes;
 * abort and a failed commit leave no object and no temp file. */
static void test_put_stream(void **state)
{
	fixture *f = *state;
	stow_put_writer *w = NULL;
	char big[3000];

	assert_true(stow_store_can_stream(f->s));
	assert_int_equal(stow_store_streams_natively(f->s), f->be->is_fs);
	memset(big, 'z', sizeof(big));
	assert_int_equal(stow_store_put_begin(f->s, "data/cd/cd01",
					      STOW_PUT_DEFER_SYNC, &w),
			 0);
	assert_int_equal(stow_store_put_append(w, "head-", 5), 0);
	assert_int_equal(stow_store_put_append(w, big, sizeof(big)), 0);
	assert_int_equal(stow_store_put_append(w, "", 0), 0);
	assert_int_equal(stow_store_stat(f->s, "data/cd/cd01", NULL),
			 STOW_ENOTFOUND);
	assert_list(f->s, "data/", "");
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 1);
	assert_int_equal(stow_store_put_commit(w), 0);
	assert_int_equal(stow_store_sync(f->s), 0);
	{
		stow_buf b;

		stow_buf_init(&b, 0);
		assert_int_equal(stow_store_get(f->s, "data/cd/cd01", 0,
						STOW_RANGE_END, &b),
				 0);
		assert_int_equal(b.len, 5 + sizeof(big));
		assert_memory_equal(b.data, "head-", 5);
		assert_memory_equal(b.data + 5, big, sizeof(big));
		stow_buf_free(&b);
	}
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);

	/* Abort: nothing appears, the temp file goes. */
	assert_int_equal(stow_store_put_begin(f->s, "data/cd/cd02", 0, &w), 0);
	assert_int_equal(stow_store_put_append(w, "partial", 7), 0);
	stow_store_put_abort(w);
	stow_store_put_abort(NULL);
	assert_int_equal(stow_store_stat(f->s, "data/cd/cd02", NULL),
			 STOW_ENOTFOUND);
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);

	/* Exclusive commit onto an existing key fails and leaves the old
	 * object and no temp file. */
	assert_int_equal(stow_store_put_begin(f->s, "data/cd/cd01",
					      STOW_PUT_EXCL, &w),
			 0);
	assert_int_equal(stow_store_put_append(w, "other", 5), 0);
	assert_int_equal(stow_store_put_commit(w), STOW_EEXIST);
	if (f->be->is_fs)
		assert_int_equal(count_dotfiles(f->dir), 0);
	assert_int_equal(stow_store_stat(f->s, "data/cd/cd01", NULL), 0);

	/* Bad keys are refused before anything is created. */
	assert_int_equal(stow_store_put_begin(f->s, "../x", 0, &w), STOW_EINVAL);
}

/* One level of a listing: objects and directories with objects, once. */
static int shallow_cb(void *ctx, const char *key, uint64_t size, int is_dir)
{
	char (*seen)[64] = ctx;

	for (int i = 0; i < 16; i++)
		if (!seen[i][0]) {
			snprintf(seen[i], 64, "%s%s=%llu", key, is_dir ? "(d)" : "",
				 (unsigned long long)size);
			return 0;
		}
	return -1;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void assert_shallow(stow_store *s, const char *prefix, const char *want)
{
	char seen[16][64];
	char got[1024] = "";

	memset(seen, 0, sizeof(seen));
	assert_int_equal(stow_store_list_shallow(s, prefix, shallow_cb, seen),
			 0);
	qsort(seen, 16, 64, str_cmp);
	for (int i = 0; i < 16; i++)
		if (seen[i][0]) {
			strcat(got, got[0] ? " " : "");
			strcat(got, seen[i]);
		}
	assert_string_equal(got, want);
}

static void test_list_shallow(void **state)
{
	fixture *f = *state;

	assert_int_equal(put_str(f->s, "top", "1", 0), 0);
	assert_int_equal(put_str(f->s, "backups/a/x", "22", 0), 0);
	assert_int_equal(put_str(f->s, "backups/a/y", "3", 0), 0);
	assert_int_equal(put_str(f->s, "backups/b/deep/x", "4", 0), 0);
	assert_int_equal(put_str(f->s, "kopia/ns/p/q", "5", 0), 0);
	assert_shallow(f->s, "", "backups/(d)=0 kopia/(d)=0 top=1");
	assert_shallow(f->s, "backups/", "backups/a/(d)=0 backups/b/(d)=0");
	assert_shallow(f->s, "backups/a/", "backups/a/x=2 backups/a/y=1");
	assert_shallow(f->s, "nothing/", "");
	/* A directory left empty (fs never removes them) is no prefix. */
	assert_int_equal(stow_store_del(f->s, "kopia/ns/p/q"), 0);
	assert_shallow(f->s, "", "backups/(d)=0 top=1");
	assert_int_equal(stow_store_list_shallow(f->s, "backups", shallow_cb,
						 NULL),
			 STOW_EINVAL);
}

/* A write that fails halfway (here: the file size limit, the one write
 * failure an unprivileged test can cause on demand) must leave neither a
 * partial object nor a temp file, and must not touch the old version. */
static void test_fs_failed_write(void **state)
{
	fixture *f = *state;
	const size_t n = (size_t)2 << 20;
	uint8_t *data = malloc(n);
	pid_t pid;
	int status;

	assert_non_null(data);
	fill_pattern(data, n, 3);
	assert_int_equal(put_str(f->s, "keep", "old version", 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {1 << 20, 1 << 20};
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		rc = stow_store_put(f->s, "big", data, n, 0);
		if (rc != STOW_EIO)
			_exit(11);
		if (!strstr(stow_err_msg(), f->dir) ||
		    !strstr(stow_err_msg(), "too large"))
			_exit(12);
		rc = stow_store_put(f->s, "keep", data, n, 0);
		if (rc != STOW_EIO)
			_exit(13);
		rc = stow_store_put(f->s, "excl", data, n, STOW_PUT_EXCL);
		if (rc != STOW_EIO)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(stow_store_stat(f->s, "big", NULL), STOW_ENOTFOUND);
	assert_int_equal(stow_store_stat(f->s, "excl", NULL), STOW_ENOTFOUND);
	assert_get(f->s, "keep", 0, STOW_RANGE_END, "old version");
	assert_list(f->s, "", "keep=11");
	assert_int_equal(count_dotfiles(f->dir), 0);
	free(data);
}

/* Run fn in a child process; its exit code is the result (77: skip). */
static int in_child(int (*fn)(fixture *), fixture *f)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int readonly_child(fixture *f)
{
	char want[600];
	int rc;

	if (geteuid() == 0) {
		/* root ignores permissions; drop to nobody to test them. */
		if (setgid(65534) != 0 || setuid(65534) != 0)
			return 77;
	}
	rc = put_str(f->s, "ro/new", "x", 0);
	if (rc != STOW_EIO)
		return 1;
	snprintf(want, sizeof(want), "%s/ro", f->dir);
	if (!strstr(stow_err_msg(), want) ||
	    !strstr(stow_err_msg(), "Permission denied"))
		return 2;
	/* Also when the directory still has to be created. */
	rc = put_str(f->s, "newdir/x", "x", 0);
	if (rc != STOW_EIO || !strstr(stow_err_msg(), "Permission denied"))
		return 3;
	/* Reading still works. */
	{
		int grc;
		char *got = get_str(f->s, "ro/old", 0, STOW_RANGE_END, &grc);

		if (grc != 0 || strcmp(got, "old") != 0)
			return 4;
		free(got);
	}
	if (stow_store_del(f->s, "ro/old") != STOW_EIO)
		return 5;
	return 0;
}

static void test_fs_readonly_dir(void **state)
{
	fixture *f = *state;
	char path[600];
	int rc;

	assert_int_equal(put_str(f->s, "ro/old", "old", 0), 0);
	snprintf(path, sizeof(path), "%s/ro", f->dir);
	assert_int_equal(chmod(path, 0555), 0);
	assert_int_equal(chmod(f->dir, 0555), 0);
	rc = in_child(readonly_child, f);
	chmod(f->dir, 0755);
	chmod(path, 0755);
	if (rc == 77)
		skip();
	assert_int_equal(rc, 0);
	assert_list(f->s, "", "ro/old=3");
}

/* A full disk: a small tmpfs mounted over the store in a private mount
 * namespace of a child process (skipped where namespaces are not
 * allowed). */
static int enter_mount_ns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int fd;

	if (unshare(CLONE_NEWNS) == 0)
		return 0;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
		return -1;
	fd = open("/proc/self/setgroups", O_WRONLY);
	if (fd >= 0) {
		(void)!write(fd, "deny", 4);
		close(fd);
	}
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	fd = open("/proc/self/uid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return -1;
	close(fd);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	fd = open("/proc/self/gid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return -1;
	close(fd);
	return 0;
}

static int enospc_child(fixture *f)
{
	const size_t n = (size_t)1 << 20;
	stow_store *s = NULL;
	uint8_t *data;
	int rc;

	if (enter_mount_ns() != 0)
		return 77;
	/* Never let the mount propagate back to the parent namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return 77;
	if (mount("tmpfs", f->dir, "tmpfs", 0, "size=256k") != 0)
		return 77;
	if (stow_store_open(&s, f->dir, 0) != 0)
		return 1;
	data = calloc(1, n);
	if (!data)
		return 2;
	rc = stow_store_put(s, "data/full", data, n, 0);
	if (rc != STOW_ENOSPC)
		return 3;
	if (!strstr(stow_err_msg(), "No space left"))
		return 4;
	if (stow_store_stat(s, "data/full", NULL) != STOW_ENOTFOUND)
		return 5;
	if (count_dotfiles(f->dir) != 0)
		return 6;
	/* The store is still usable for what fits. */
	if (put_str(s, "data/small", "fits", STOW_PUT_EXCL) != 0)
		return 7;
	free(data);
	stow_store_close(s);
	return 0;
}

static void test_fs_enospc(void **state)
{
	int rc = in_child(enospc_child, *state);

	if (rc == 77)
		skip();
	assert_int_equal(rc, 0);
}

static void test_fs_open(void **state)
{
	fixture *f = *state;
	stow_store *s = NULL;
	char path[700], url[800];

	/* Missing directory without create: a clear "not found". */
	snprintf(path, sizeof(path), "%s/repo/nested", f->dir);
	stow_err_clear();
	assert_int_equal(stow_store_open(&s, path, 0), STOW_ENOTFOUND);
	assert_null(s);
	assert_non_null(strstr(stow_err_msg(), "no repository directory at"));
	assert_non_null(strstr(stow_err_msg(), path));

	/* With create: made, nested, and usable. */
	assert_int_equal(stow_store_open(&s, path, 1), 0);
	assert_string_equal(s->ops->name, "fs");
	assert_int_equal(put_str(s, "config", "cfg", STOW_PUT_EXCL), 0);
	stow_store_close(s);

	/* Reopen (trailing slashes are fine) and find the object again. */
	snprintf(url, sizeof(url), "%s///", path);
	assert_int_equal(stow_store_open(&s, url, 0), 0);
	assert_string_equal(s->location, path);
	assert_get(s, "config", 0, STOW_RANGE_END, "cfg");
	stow_store_close(s);

	/* file:// URLs. */
	snprintf(url, sizeof(url), "file://%s", path);
	assert_int_equal(stow_store_open(&s, url, 0), 0);
	assert_string_equal(s->ops->name, "fs");
	assert_get(s, "config", 0, STOW_RANGE_END, "cfg");
	stow_store_close(s);
	s = NULL;
	assert_int_equal(stow_store_open(&s, "file://relative/dir", 1),
			 STOW_EINVAL);
	assert_null(s);

	/* A relative path is pinned to the working directory of the open. */
	{
		int cwd = open(".", O_RDONLY | O_DIRECTORY);

		assert_true(cwd >= 0);
		assert_int_equal(chdir(f->dir), 0);
		assert_int_equal(stow_store_open(&s, "rel/repo", 1), 0);
		assert_int_equal(fchdir(cwd), 0);
		close(cwd);
		snprintf(path, sizeof(path), "%s/rel/repo", f->dir);
		assert_string_equal(s->location, path);
		assert_int_equal(put_str(s, "k", "v", 0), 0);
		stow_store_close(s);
		s = NULL;
		snprintf(path, sizeof(path), "%s/rel/repo/k", f->dir);
		assert_int_equal(access(path, F_OK), 0);
	}

	/* A file where the directory should be. */
	snprintf(path, sizeof(path), "%s/afile", f->dir);
	write_file(path, "x");
	assert_int_equal(stow_store_open(&s, path, 0), STOW_EINVAL);
	assert_int_equal(stow_store_open(&s, path, 1), STOW_EINVAL);
	assert_null(s);
}

/* ---- backend-independent ---- */

static void test_open_locations(void **state)
{
	stow_store *s = NULL;

	(void)state;
	assert_int_equal(stow_store_open(&s, "mem:", 0), 0);
	assert_string_equal(s->ops->name, "mem");
	assert_int_equal(s->ops->version, STOW_STORE_OPS_VERSION);
	stow_store_close(s);
	s = NULL;

	stow_err_clear();
	/* s3:// goes to the S3 backend (tests/unit/test_s3config.c and
	 * test_s3.c); a malformed location fails before any network use. */
	assert_int_equal(
	    stow_store_open(&s, "s3://bucket/prefix?noSuchOption=1", 1),
	    STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "unknown option"));
	assert_int_equal(stow_store_open(&s, "gs://bucket", 1),
			 STOW_EUNSUPPORTED);
	assert_int_equal(stow_store_open(&s, "mem:name", 1), STOW_EINVAL);
	assert_int_equal(stow_store_open(&s, "", 1), STOW_EINVAL);
	assert_int_equal(stow_store_open(&s, NULL, 1), STOW_EINVAL);
	assert_null(s);
	assert_int_equal(stow_store_open(NULL, "mem:", 1), STOW_EINVAL);
	stow_store_close(NULL); /* accepts NULL */
}

static void test_mem_fault_injection(void **state)
{
	stow_store *s = NULL;
	char dir[512];
	int rc;

	(void)state;
	assert_int_equal(stow_store_mem_open(&s), 0);
	stow_store_mem_fail_puts_after(s, 2);
	assert_int_equal(put_str(s, "a", "1", 0), 0);
	/* Failed puts do not count as successful ones. */
	assert_int_equal(put_str(s, "a", "2", STOW_PUT_EXCL), STOW_EEXIST);
	assert_int_equal(put_str(s, "b", "2", 0), 0);
	stow_err_clear();
	assert_int_equal(put_str(s, "c", "3", 0), STOW_EIO);
	assert_true(strlen(stow_err_msg()) > 0);
	assert_int_equal(put_str(s, "d", "4", STOW_PUT_EXCL), STOW_EIO);
	assert_int_equal(put_str(s, "a", "overwrite", 0), STOW_EIO);
	/* Nothing of a failed put is visible; reads still work. */
	assert_int_equal(stow_store_stat(s, "c", NULL), STOW_ENOTFOUND);
	assert_get(s, "a", 0, STOW_RANGE_END, "1");
	assert_list(s, "", "a=1 b=1");
	assert_int_equal(stow_store_del(s, "b"), 0);
	stow_store_mem_fail_puts_after(s, -1);
	assert_int_equal(put_str(s, "c", "3", 0), 0);
	stow_store_mem_fail_puts_after(s, 0);
	assert_int_equal(put_str(s, "e", "5", 0), STOW_EIO);
	stow_store_mem_fail_puts_after(s, -5);
	assert_int_equal(put_str(s, "e", "5", 0), 0);
	stow_store_close(s);

	/* On other backends it is a no-op. */
	snprintf(dir, sizeof(dir), "%s/stow-storage-XXXXXX", tmp_base());
	assert_non_null(mkdtemp(dir));
	assert_int_equal(stow_store_fs_open(&s, dir, 0), 0);
	stow_store_mem_fail_puts_after(s, 0);
	rc = put_str(s, "x", "y", 0);
	stow_store_close(s);
	stow_store_mem_fail_puts_after(NULL, 0);
	rm_rf(dir);
	assert_int_equal(rc, 0);
}

/* prefetch is only a hint: on an object, a range past its end or a
 * missing key it changes nothing and reports nothing. */
static void test_prefetch_hint(void **state)
{
	fixture *f = *state;

	assert_int_equal(put_str(f->s, "data/ab/p", "0123456789", 0), 0);
	stow_store_prefetch(f->s, "data/ab/p", 0, 1u << 20);
	stow_store_prefetch(f->s, "data/ab/p", 100, 10);
	stow_store_prefetch(f->s, "data/ab/missing", 0, STOW_RANGE_END);
	stow_store_prefetch(f->s, "../escape", 0, 1);
	assert_get(f->s, "data/ab/p", 3, 4, "3456");
}

/* More deferred puts than the fs write-behind window holds: every object
 * is readable at once, and sync makes them durable without error. */
static void test_deferred_window(void **state)
{
	fixture *f = *state;
	char key[64], val[64];

	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "data/%02x/pack-%d", i % 4, i);
		snprintf(val, sizeof(val), "contents of pack %d", i);
		assert_int_equal(put_str(f->s, key, val, STOW_PUT_DEFER_SYNC),
				 0);
		assert_get(f->s, key, 0, STOW_RANGE_END, val);
	}
	assert_int_equal(stow_store_sync(f->s), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "data/%02x/pack-%d", i % 4, i);
		snprintf(val, sizeof(val), "contents of pack %d", i);
		assert_get(f->s, key, 0, STOW_RANGE_END, val);
	}
	assert_int_equal(stow_store_sync(f->s), 0); /* nothing left */
}

/* Each contract test once per backend, named "<backend>/<test>". */
/* clang-format off */
#define BOTH(t)                                                                \
	{ "mem/" #t, t, setup, teardown, &be_mem },                            \
	{ "fs/" #t, t, setup, teardown, &be_fs }
#define FS(t) { "fs/" #t, t, setup, teardown, &be_fs }
/* clang-format on */

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_put_get),
	    BOTH(test_ranged_get),
	    BOTH(test_empty_object),
	    BOTH(test_overwrite),
	    BOTH(test_excl),
	    BOTH(test_list),
	    BOTH(test_del),
	    BOTH(test_invalid_keys),
	    BOTH(test_missing),
	    BOTH(test_layout_conflict),
	    BOTH(test_large_object),
	    BOTH(test_concurrency),
	    FS(test_fs_crash_leftovers),
	    FS(test_fs_failed_write),
	    BOTH(test_put_stream),
	    BOTH(test_list_shallow),
	    BOTH(test_prefetch_hint),
	    BOTH(test_deferred_window),
	    FS(test_fs_readonly_dir),
	    FS(test_fs_enospc),
	    FS(test_fs_open),
	    cmocka_unit_test(test_open_locations),
	    cmocka_unit_test(test_mem_fault_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
