/* The Velero object-store layout (src/velero/layout.c) and its encodings
 * (src/velero/gzjson.c): names, keys, Go's JSON and gzip bytes, capped
 * readers, velero-backup.json, listing, deletion, location validation,
 * results and resource lists - on the fs and the mem store. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <zlib.h>

#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "velero/gzjson.h"
#include "velero/layout.h"

typedef struct fixture {
	int is_fs;
	stow_store *s;
	char dir[512];
} fixture;

static int fs_be = 1, mem_be = 0;

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	if (!f)
		return -1;
	f->is_fs = **(int **)state;
	if (f->is_fs) {
		snprintf(f->dir, sizeof(f->dir), "%s/stow-vlayout-XXXXXX",
			 t && *t ? t : "/tmp");
		if (!mkdtemp(f->dir) || stow_store_open(&f->s, f->dir, 0) != 0)
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
	if (f->is_fs)
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void put_str(stow_store *s, const char *key, const char *v)
{
	assert_int_equal(stow_store_put(s, key, v, strlen(v), 0), 0);
}

static char *get_str(stow_store *s, const char *key)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	if (stow_store_get(s, key, 0, STOW_RANGE_END, &b) != 0) {
		stow_buf_free(&b);
		return NULL;
	}
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	return (char *)b.data;
}

/* ---- names and keys ---- */

static void test_names(void **state)
{
	char long_ok[254], long_bad[255];

	(void)state;
	memset(long_ok, 'a', 253);
	long_ok[253] = '\0';
	memset(long_bad, 'a', 254);
	long_bad[254] = '\0';
	assert_true(stow_velero_name_valid("b1"));
	assert_true(stow_velero_name_valid("daily-20260101120000"));
	assert_true(stow_velero_name_valid("a.b-c.d"));
	assert_true(stow_velero_name_valid(long_ok));
	static const char *const bad[] = {
	    "",	 "A",	"-a",  "a-",   "a..b",	    ".a",   "a.",   "a/b", "..",
	    ".", "a_b", "a b", "a\nb", "../../etc", "a.-b", "a-.b", "é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(stow_velero_name_valid(bad[i]));
	assert_false(stow_velero_name_valid(long_bad));
	assert_false(stow_velero_name_valid(NULL));
}

static void test_keys(void **state)
{
	stow_velero_location loc;
	stow_store *s;
	char k[STOW_VELERO_KEY_MAX], tiny[16];

	(void)state;
	assert_int_equal(stow_store_open(&s, "mem:", 0), 0);
	assert_int_equal(stow_velero_location_init(&loc, s, "//velero/dr//"),
			 0);
	assert_string_equal(loc.prefix, "velero/dr/");
	static const char *const want[STOW_VELERO_BACKUP_OBJ_COUNT] = {
	    "velero/dr/backups/b1/velero-backup.json",
	    "velero/dr/backups/b1/b1.tar.gz",
	    "velero/dr/backups/b1/b1-logs.gz",
	    "velero/dr/backups/b1/b1-results.gz",
	    "velero/dr/backups/b1/b1-resource-list.json.gz",
	    "velero/dr/backups/b1/b1-podvolumebackups.json.gz",
	    "velero/dr/backups/b1/b1-volumesnapshots.json.gz",
	    "velero/dr/backups/b1/b1-itemoperations.json.gz",
	    "velero/dr/backups/b1/b1-volumeinfo.json.gz",
	    "velero/dr/backups/b1/b1-csi-volumesnapshots.json.gz",
	    "velero/dr/backups/b1/b1-csi-volumesnapshotcontents.json.gz",
	    "velero/dr/backups/b1/b1-csi-volumesnapshotclasses.json.gz",
	};
	for (int i = 0; i < STOW_VELERO_BACKUP_OBJ_COUNT; i++) {
		assert_int_equal(
		    stow_velero_backup_key(&loc, "b1", i, k, sizeof(k)), 0);
		assert_string_equal(k, want[i]);
		assert_true(stow_store_key_valid(k));
	}
	static const char *const rwant[STOW_VELERO_RESTORE_OBJ_COUNT] = {
	    "velero/dr/restores/r1/restore-r1-logs.gz",
	    "velero/dr/restores/r1/restore-r1-results.gz",
	    "velero/dr/restores/r1/restore-r1-resource-list.json.gz",
	    "velero/dr/restores/r1/restore-r1-itemoperations.json.gz",
	    "velero/dr/restores/r1/r1-volumeinfo.json.gz",
	};
	for (int i = 0; i < STOW_VELERO_RESTORE_OBJ_COUNT; i++) {
		assert_int_equal(
		    stow_velero_restore_key(&loc, "r1", i, k, sizeof(k)), 0);
		assert_string_equal(k, rwant[i]);
	}
	assert_int_equal(stow_velero_download_key(&loc, "BackupContents", "b1",
						  k, sizeof(k)),
			 0);
	assert_string_equal(k, "velero/dr/backups/b1/b1.tar.gz");
	assert_int_equal(stow_velero_download_key(&loc, "RestoreVolumeInfo",
						  "r1", k, sizeof(k)),
			 0);
	assert_string_equal(k, "velero/dr/restores/r1/r1-volumeinfo.json.gz");
	assert_int_equal(stow_velero_download_key(&loc, "BackupVolumeInfos",
						  "b1", k, sizeof(k)),
			 0);
	assert_string_equal(k, "velero/dr/backups/b1/b1-volumeinfo.json.gz");
	assert_int_equal(
	    stow_velero_download_key(&loc, "Nope", "b1", k, sizeof(k)),
	    STOW_EINVAL);
	/* Path tricks never become keys. */
	assert_int_equal(stow_velero_backup_key(&loc, "../x", 0, k, sizeof(k)),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_backup_key(&loc, "a/b", 0, k, sizeof(k)),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_backup_key(&loc, "b1", 99, k, sizeof(k)),
			 STOW_EINVAL);
	assert_int_equal(
	    stow_velero_backup_key(&loc, "b1", 0, tiny, sizeof(tiny)),
	    STOW_EINVAL);
	/* Root location and bad prefixes. */
	assert_int_equal(stow_velero_location_init(&loc, s, NULL), 0);
	assert_string_equal(loc.prefix, "");
	assert_int_equal(stow_velero_backup_key(&loc, "b1", 1, k, sizeof(k)),
			 0);
	assert_string_equal(k, "backups/b1/b1.tar.gz");
	assert_int_equal(stow_velero_location_init(&loc, s, "/"), 0);
	assert_string_equal(loc.prefix, "");
	assert_int_equal(stow_velero_location_init(&loc, s, "../up"),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_location_init(&loc, s, "a//b"),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_location_init(&loc, s, "a b"),
			 STOW_EINVAL);
	stow_store_close(s);
}

/* ---- Go's encodings ---- */

static void dump_compact(const json_t *v, const char *want)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	assert_int_equal(stow_velero_json_compact(v, &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	stow_buf_free(&b);
}

static void test_go_json(void **state)
{
	json_t *v;

	(void)state;
	v = json_pack(
	    "{s:i, s:[b,n], s:s}", "b", 1, "a", 1, "c",
	    "<a&b> \xe2\x80\xa8\xe2\x80\xa9 \x01\x1f \\u0041 / \xc3\xa9");
	assert_non_null(v);
	/* Sorted keys, no spaces, Go's HTML-safe escapes, lower-case hex,
	 * '/' and non-ASCII as is, a literal backslash-u left alone. */
	dump_compact(v, "{\"a\":[true,null],\"b\":1,\"c\":\"\\u003ca\\u0026b"
			"\\u003e \\u2028\\u2029 \\u0001\\u001f \\\\u0041 / "
			"\xc3\xa9\"}");
	json_decref(v);
	v = json_pack("{s:I, s:s, s:{}, s:[]}", "n",
		      (json_int_t)-9007199254740993LL, "t",
		      "tab\there\nnl\"q\\", "o", "e");
	dump_compact(v, "{\"e\":[],\"n\":-9007199254740993,\"o\":{},"
			"\"t\":\"tab\\there\\nnl\\\"q\\\\\"}");
	json_decref(v);
}

static void test_go_pretty(void **state)
{
	stow_buf b;
	json_t *v = json_pack("{s:s, s:{s:i, s:[]}, s:{}}", "z", "<", "m", "y",
			      1, "x", "a");

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(stow_velero_json_pretty(v, &b), 0);
	/* json.MarshalIndent(v, "", "  "): insertion order kept here. */
	const char *want = "{\n  \"z\": \"\\u003c\",\n  \"m\": {\n    \"y\": 1,"
			   "\n    \"x\": []\n  },\n  \"a\": {}\n}";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	stow_buf_free(&b);
	json_decref(v);
}

static void test_gzjson_bytes(void **state)
{
	static const uint8_t go_header[10] = {0x1f, 0x8b, 8, 0, 0,
					      0,    0,	  0, 0, 0xff};
	stow_buf gz, plain;
	json_t *v = json_pack("{s:i}", "a", 1), *back;

	(void)state;
	stow_buf_init(&gz, 0);
	stow_buf_init(&plain, 0);
	assert_int_equal(stow_velero_gzjson_encode(v, &gz), 0);
	/* Go's gzip.Writer header: no name, mtime 0, XFL 0, OS 255. */
	assert_true(gz.len > 18);
	assert_memory_equal(gz.data, go_header, sizeof(go_header));
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len, 0, &plain), 0);
	assert_int_equal(plain.len, 8);
	assert_memory_equal(plain.data, "{\"a\":1}\n", 8);
	assert_int_equal(stow_velero_gzjson_decode(gz.data, gz.len, 0, &back),
			 0);
	assert_true(json_equal(v, back));
	json_decref(back);
	/* The CRC32 and ISIZE trailer (RFC 1952) as Go writes them. */
	assert_int_equal(stow_get_le32(gz.data + gz.len - 4), 8);
	assert_int_equal(stow_get_le32(gz.data + gz.len - 8),
			 crc32(0, (const Bytef *)"{\"a\":1}\n", 8));

	/* Velero writes `null` for an empty list. */
	stow_buf_reset(&gz);
	assert_int_equal(stow_velero_gzjson_encode(json_null(), &gz), 0);
	assert_int_equal(stow_velero_gzjson_decode(gz.data, gz.len, 0, &back),
			 0);
	assert_true(json_is_null(back));
	json_decref(back);
	json_decref(v);
	stow_buf_free(&gz);
	stow_buf_free(&plain);
}

static void test_gunzip_hostile(void **state)
{
	stow_buf zeros, gz, out;
	json_t *v;

	(void)state;
	stow_buf_init(&zeros, 0);
	stow_buf_init(&gz, 0);
	stow_buf_init(&out, 0);
	assert_int_equal(stow_buf_reserve(&zeros, 4 << 20), 0);
	memset(zeros.data, 0, 4 << 20);
	zeros.len = 4 << 20;
	assert_int_equal(stow_velero_gzip(zeros.data, zeros.len, &gz), 0);
	/* A bomb: 4 MiB from a few kB, cap 1 MiB. */
	assert_true(gz.len < 64 * 1024);
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len, 1 << 20, &out),
			 STOW_ENOMEM);
	assert_non_null(strstr(stow_err_msg(), "cap"));
	assert_int_equal(out.len, 0);
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len, 4 << 20, &out), 0);
	assert_int_equal(out.len, 4 << 20);
	/* Truncated, flipped, garbage after the member, empty. */
	stow_buf_reset(&out);
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len - 5, 0, &out),
			 STOW_ECORRUPT);
	assert_non_null(strstr(stow_err_msg(), "truncated"));
	gz.data[gz.len / 2] ^= 0x55;
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len, 0, &out),
			 STOW_ECORRUPT);
	assert_int_equal(stow_velero_gunzip("hello", 5, 0, &out),
			 STOW_ECORRUPT);
	assert_int_equal(stow_velero_gunzip("", 0, 0, &out), STOW_ECORRUPT);
	stow_buf_reset(&gz);
	assert_int_equal(stow_velero_gzip("ab", 2, &gz), 0);
	assert_int_equal(stow_buf_append(&gz, "xyz", 3), 0);
	stow_buf_reset(&out);
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len, 0, &out),
			 STOW_ECORRUPT);
	/* Two members concatenated are one stream (Go's multistream). */
	stow_buf_reset(&gz);
	assert_int_equal(stow_velero_gzip("[1,", 3, &gz), 0);
	assert_int_equal(stow_velero_gzip("2]", 2, &gz), 0);
	assert_int_equal(stow_velero_gzjson_decode(gz.data, gz.len, 0, &v), 0);
	assert_int_equal(json_array_size(v), 2);
	json_decref(v);
	/* Not JSON inside good gzip. */
	stow_buf_reset(&gz);
	assert_int_equal(stow_velero_gzip("{nope", 5, &gz), 0);
	assert_int_equal(stow_velero_gzjson_decode(gz.data, gz.len, 0, &v),
			 STOW_ECORRUPT);
	assert_null(v);
	stow_buf_free(&zeros);
	stow_buf_free(&gz);
	stow_buf_free(&out);
}

/* ---- objects in a location ---- */

static void test_backup_json(void **state)
{
	fixture *f = *state;
	stow_velero_location loc;
	json_t *b, *back;
	char *raw;

	assert_int_equal(stow_velero_location_init(&loc, f->s, "pre"), 0);
	b = json_pack("{s:{s:s, s:s}, s:{s:[s]}}", "metadata", "name", "b1",
		      "namespace", "velero", "spec", "includedNamespaces",
		      "app");
	assert_int_equal(stow_velero_get_backup_json(&loc, "b1", &back),
			 STOW_ENOTFOUND);
	assert_int_equal(stow_velero_put_backup_json(&loc, "b1", b), 0);
	raw = get_str(f->s, "pre/backups/b1/velero-backup.json");
	assert_non_null(raw);
	/* Plain (not gzip), indented, TypeMeta first. */
	assert_true(
	    strncmp(raw,
		    "{\n  \"apiVersion\": \"velero.io/v1\",\n  \"kind\": "
		    "\"Backup\",\n  \"metadata\": {\n",
		    60) == 0);
	free(raw);
	assert_int_equal(stow_velero_get_backup_json(&loc, "b1", &back), 0);
	assert_string_equal(
	    json_string_value(json_object_get(back, "apiVersion")),
	    "velero.io/v1");
	assert_true(json_equal(json_object_get(back, "spec"),
			       json_object_get(b, "spec")));
	json_decref(back);
	/* A wrong kind is refused on write and on read. */
	json_object_set_new(b, "kind", json_string("Restore"));
	assert_int_equal(stow_velero_put_backup_json(&loc, "b2", b),
			 STOW_EINVAL);
	put_str(f->s, "pre/backups/b3/velero-backup.json",
		"{\"kind\":\"Restore\"}");
	assert_int_equal(stow_velero_get_backup_json(&loc, "b3", &back),
			 STOW_ECORRUPT);
	put_str(f->s, "pre/backups/b4/velero-backup.json", "{\"kind\":");
	assert_int_equal(stow_velero_get_backup_json(&loc, "b4", &back),
			 STOW_ECORRUPT);
	assert_null(back);
	assert_int_equal(stow_velero_put_backup_json(&loc, "../b", b),
			 STOW_EINVAL);
	json_decref(b);
}

static void test_gzjson_objects(void **state)
{
	fixture *f = *state;
	stow_velero_location loc;
	char key[STOW_VELERO_KEY_MAX];
	json_t *v = json_pack("[{s:{s:s}}]", "spec", "backupName", "b1"), *back;

	assert_int_equal(stow_velero_location_init(&loc, f->s, ""), 0);
	assert_int_equal(stow_velero_backup_key(
			     &loc, "b1", STOW_VELERO_BACKUP_VOLUMESNAPSHOTS,
			     key, sizeof(key)),
			 0);
	assert_int_equal(stow_velero_put_gzjson(&loc, key, v), 0);
	assert_int_equal(stow_velero_get_gzjson(&loc, key, 0, &back), 0);
	assert_true(json_equal(v, back));
	json_decref(back);
	assert_int_equal(stow_velero_get_gzjson(&loc, key, 10, &back),
			 STOW_ENOMEM);
	assert_int_equal(
	    stow_velero_get_gzjson(&loc, "backups/b1/none.json.gz", 0, &back),
	    STOW_ENOTFOUND);
	json_decref(v);
}

static void test_gzip_writer(void **state)
{
	fixture *f = *state;
	stow_velero_gzip_writer *w;
	stow_buf gz, plain, want;

	stow_buf_init(&gz, 0);
	stow_buf_init(&plain, 0);
	stow_buf_init(&want, 0);
	assert_int_equal(
	    stow_velero_gzip_writer_open(&w, f->s, "backups/b1/b1-logs.gz"), 0);
	for (int i = 0; i < 50000; i++) {
		char line[128];
		int n = snprintf(line, sizeof(line),
				 "time=\"2026-01-01T00:00:00Z\" level=info "
				 "msg=\"item %d\"\n",
				 i);

		assert_int_equal(stow_velero_gzip_writer_write(w, line, n), 0);
		assert_int_equal(stow_buf_append(&want, line, n), 0);
	}
	/* Nothing visible before commit. */
	assert_int_equal(stow_store_stat(f->s, "backups/b1/b1-logs.gz", NULL),
			 STOW_ENOTFOUND);
	assert_int_equal(stow_velero_gzip_writer_commit(w), 0);
	assert_int_equal(stow_store_get(f->s, "backups/b1/b1-logs.gz", 0,
					STOW_RANGE_END, &gz),
			 0);
	assert_int_equal(stow_velero_gunzip(gz.data, gz.len, 0, &plain), 0);
	assert_int_equal(plain.len, want.len);
	assert_memory_equal(plain.data, want.data, want.len);
	/* An abandoned writer leaves nothing. */
	assert_int_equal(
	    stow_velero_gzip_writer_open(&w, f->s, "backups/b2/b2-logs.gz"), 0);
	assert_int_equal(stow_velero_gzip_writer_write(w, "x", 1), 0);
	stow_velero_gzip_writer_free(w);
	stow_velero_gzip_writer_free(NULL);
	assert_int_equal(stow_store_stat(f->s, "backups/b2/b2-logs.gz", NULL),
			 STOW_ENOTFOUND);
	stow_buf_free(&gz);
	stow_buf_free(&plain);
	stow_buf_free(&want);
}

typedef struct seen {
	char names[8][64];
	int meta[8];
	int n;
} seen;

static int list_cb(void *ctx, const char *name, int has_metadata)
{
	seen *s = ctx;

	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->meta[s->n++] = has_metadata;
	return 0;
}

static void test_list_delete(void **state)
{
	fixture *f = *state;
	stow_velero_location loc;
	seen s = {0};
	size_t deleted;

	assert_int_equal(stow_velero_location_init(&loc, f->s, "p"), 0);
	put_str(f->s, "p/backups/b10/velero-backup.json", "{}");
	put_str(f->s, "p/backups/b10/b10.tar.gz", "x");
	put_str(f->s, "p/backups/b1/velero-backup.json", "{}");
	put_str(f->s, "p/backups/b1/b1.tar.gz", "x");
	put_str(f->s, "p/backups/b1/b1-logs.gz", "x");
	put_str(f->s, "p/backups/a0/a0.tar.gz", "x");
	put_str(f->s, "p/backups/Bad_Name/velero-backup.json", "{}");
	put_str(f->s, "p/backups/loose-object", "x");
	put_str(f->s, "p/restores/b1/restore-b1-logs.gz", "x");
	put_str(f->s, "other/backups/zz/velero-backup.json", "{}");
	assert_int_equal(stow_velero_list_backups(&loc, list_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "a0");
	assert_int_equal(s.meta[0], 0);
	assert_string_equal(s.names[1], "b1");
	assert_int_equal(s.meta[1], 1);
	assert_string_equal(s.names[2], "b10");
	assert_int_equal(s.meta[2], 1);

	/* b1's three objects go; b10 (same leading characters) stays. */
	assert_int_equal(stow_velero_delete_backup(&loc, "b1", &deleted), 0);
	assert_int_equal(deleted, 3);
	assert_int_equal(stow_store_stat(f->s, "p/backups/b1/b1.tar.gz", NULL),
			 STOW_ENOTFOUND);
	assert_int_equal(
	    stow_store_stat(f->s, "p/backups/b10/b10.tar.gz", NULL), 0);
	assert_int_equal(
	    stow_store_stat(f->s, "p/restores/b1/restore-b1-logs.gz", NULL), 0);
	assert_int_equal(stow_velero_delete_backup(&loc, "b1", &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(stow_velero_delete_restore(&loc, "b1", &deleted), 0);
	assert_int_equal(deleted, 1);
	assert_int_equal(stow_velero_delete_backup(&loc, "..", &deleted),
			 STOW_EINVAL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(stow_velero_list_backups(&loc, list_cb, &s), 0);
	assert_int_equal(s.n, 2);
}

static void test_validate(void **state)
{
	fixture *f = *state;
	stow_velero_location loc;
	char reason[512];

	assert_int_equal(stow_velero_location_init(&loc, f->s, "bsl"), 0);
	/* Empty is valid. */
	assert_int_equal(
	    stow_velero_location_validate(&loc, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "");
	put_str(f->s, "bsl/backups/b1/velero-backup.json", "{}");
	put_str(f->s, "bsl/restores/r1/restore-r1-logs.gz", "x");
	put_str(f->s, "bsl/kopia/ns1/kopia.repository", "x");
	put_str(f->s, "bsl/restic/ns1/config", "x");
	put_str(f->s, "bsl/metadata/revision", "x");
	put_str(f->s, "bsl/plugins/p", "x");
	put_str(f->s, "bsl/top-level-object", "x");
	/* Outside the prefix: not this location's business. */
	put_str(f->s, "elsewhere/x/y", "x");
	assert_int_equal(
	    stow_velero_location_validate(&loc, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "");
	put_str(f->s, "bsl/vault/config", "x");
	assert_int_equal(
	    stow_velero_location_validate(&loc, reason, sizeof(reason)), 0);
	assert_non_null(strstr(reason, "unexpected top-level prefix "
				       "\"vault/\""));
	/* At the store's root "elsewhere/" is foreign. */
	assert_int_equal(stow_velero_location_init(&loc, f->s, NULL), 0);
	assert_int_equal(
	    stow_velero_location_validate(&loc, reason, sizeof(reason)), 0);
	assert_true(strstr(reason, "\"bsl/\"") ||
		    strstr(reason, "\"elsewhere/\""));
}

static void compact_is(const json_t *v, const char *want)
{
	dump_compact(v, want);
}

static void test_results(void **state)
{
	json_t *r = stow_velero_results_new(), *bad;

	(void)state;
	compact_is(r, "{\"errors\":{},\"warnings\":{}}");
	assert_int_equal(
	    stow_velero_results_add(r, 0, STOW_VELERO_SCOPE_VELERO, NULL, "v1"),
	    0);
	assert_int_equal(stow_velero_results_add(
			     r, 0, STOW_VELERO_SCOPE_NAMESPACE, "ns1", "n1"),
			 0);
	assert_int_equal(stow_velero_results_add(
			     r, 0, STOW_VELERO_SCOPE_NAMESPACE, "ns1", "n2"),
			 0);
	assert_int_equal(stow_velero_results_add(
			     r, 0, STOW_VELERO_SCOPE_CLUSTER, NULL, "c1"),
			 0);
	assert_int_equal(stow_velero_results_add(
			     r, 1, STOW_VELERO_SCOPE_NAMESPACE, "ns2", "w1"),
			 0);
	assert_int_equal(stow_velero_results_add(
			     r, 1, STOW_VELERO_SCOPE_NAMESPACE, NULL, "w1"),
			 STOW_EINVAL);
	compact_is(r, "{\"errors\":{\"cluster\":[\"c1\"],\"namespaces\":{"
		      "\"ns1\":[\"n1\",\"n2\"]},\"velero\":[\"v1\"]},"
		      "\"warnings\":{\"namespaces\":{\"ns2\":[\"w1\"]}}}");
	assert_int_equal(stow_velero_results_count(r, 0), 4);
	assert_int_equal(stow_velero_results_count(r, 1), 1);
	/* Untrusted shapes count what is there. */
	bad = json_pack("{s:{s:s, s:[i,s], s:[]}}", "errors", "velero", "x",
			"cluster", 1, "ok", "namespaces");
	assert_int_equal(stow_velero_results_count(bad, 0), 1);
	assert_int_equal(stow_velero_results_count(bad, 1), 0);
	json_decref(bad);
	json_decref(r);
}

static void test_resource_list(void **state)
{
	json_t *l = stow_velero_resource_list_new();

	(void)state;
	assert_int_equal(
	    stow_velero_resource_list_add(l, "v1", "Pod", "ns2", "p", NULL), 0);
	assert_int_equal(
	    stow_velero_resource_list_add(l, "v1", "Pod", "ns1", "q", NULL), 0);
	assert_int_equal(
	    stow_velero_resource_list_add(l, "v1", "Pod", "ns1", "q", NULL), 0);
	assert_int_equal(stow_velero_resource_list_add(
			     l, "apps/v1", "Deployment", "ns1", "d", NULL),
			 0);
	assert_int_equal(stow_velero_resource_list_add(l, "v1", "Namespace",
						       NULL, "ns1", NULL),
			 0);
	assert_int_equal(stow_velero_resource_list_add(l, "v1", "Secret", "ns1",
						       "s", "created"),
			 0);
	assert_int_equal(
	    stow_velero_resource_list_add(l, "v1", "Pod", "", "", NULL),
	    STOW_EINVAL);
	assert_int_equal(stow_velero_resource_list_finish(l), 0);
	compact_is(l, "{\"apps/v1/Deployment\":[\"ns1/d\"],\"v1/Namespace\":["
		      "\"ns1\"],\"v1/Pod\":[\"ns1/q\",\"ns2/p\"],\"v1/Secret\":"
		      "[\"ns1/s(created)\"]}");
	json_decref(l);
}

#define BOTH(t)                                                                \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &fs_ptr), \
	    cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,       \
						     &mem_ptr)

int main(void)
{
	int *fs_ptr = &fs_be, *mem_ptr = &mem_be;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_go_json),
	    cmocka_unit_test(test_go_pretty),
	    cmocka_unit_test(test_gzjson_bytes),
	    cmocka_unit_test(test_gunzip_hostile),
	    cmocka_unit_test(test_results),
	    cmocka_unit_test(test_resource_list),
	    BOTH(test_backup_json),
	    BOTH(test_gzjson_objects),
	    BOTH(test_gzip_writer),
	    BOTH(test_list_delete),
	    BOTH(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
