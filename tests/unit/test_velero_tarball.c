/* The backup tarball (src/velero/tarball.c): writer -> reader round trips
 * on the fs and mem stores, the headers Go's archive/tar would write, the
 * independent Python layout checker on a whole backup, hostile tarballs
 * rejected with the right message, per-item errors reported without
 * stopping, and the index.
 *
 * With STOW_VELERO_TAR_CORPUS=<dir> set, test_write_corpus also writes
 * the seed corpus of fuzz_tarball there. */
#include <errno.h>
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

#include <archive.h>
#include <archive_entry.h>

#include "storage/storage.h"
#include "util/buf.h"
#include "util/err.h"
#include "velero/gzjson.h"
#include "velero/layout.h"
#include "velero/tarball.h"

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
		snprintf(f->dir, sizeof(f->dir), "%s/stow-vtar-XXXXXX",
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

static json_t *k8s_obj(const char *api, const char *kind, const char *ns,
		       const char *name)
{
	json_t *md = json_pack("{s:s, s:s, s:{s:s}}", "name", name, "uid",
			       "0f6c1a2e-uid", "labels", "app", "<web&db>");

	if (ns)
		json_object_set_new(md, "namespace", json_string(ns));
	return json_pack("{s:s, s:s, s:o, s:{s:i}, s:{s:s}}", "apiVersion", api,
			 "kind", kind, "metadata", md, "spec", "replicas", 3,
			 "status", "phase", "Running");
}

/* The backup used by several tests: namespaced and cluster items at the
 * preferred version, one extra version, a long path. */
static void write_sample(stow_velero_tar_writer *w)
{
	char longname[200];
	json_t *o;

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	o = k8s_obj("v1", "Pod", "app", "web-0");
	assert_int_equal(stow_velero_tar_writer_add_item(w, "pods", "v1", 1,
							 "app", "web-0", o),
			 0);
	json_decref(o);
	o = k8s_obj("apps/v1", "Deployment", "app", "web");
	assert_int_equal(stow_velero_tar_writer_add_item(
			     w, "deployments.apps", "v1", 1, "app", "web", o),
			 0);
	json_decref(o);
	o = k8s_obj("v1", "Namespace", NULL, "app");
	assert_int_equal(stow_velero_tar_writer_add_item(w, "namespaces", "v1",
							 1, NULL, "app", o),
			 0);
	json_decref(o);
	o = k8s_obj("rbac.authorization.k8s.io/v1", "ClusterRole", NULL,
		    "system:controller:web");
	assert_int_equal(stow_velero_tar_writer_add_item(
			     w, "clusterroles.rbac.authorization.k8s.io", "v1",
			     1, NULL, "system:controller:web", o),
			 0);
	json_decref(o);
	/* EnableAPIGroupVersions: a non-preferred version only. */
	o = k8s_obj("autoscaling/v1", "HorizontalPodAutoscaler", "app", "web");
	assert_int_equal(stow_velero_tar_writer_add_item(
			     w, "horizontalpodautoscalers.autoscaling", "v1", 0,
			     "app", "web", o),
			 0);
	json_decref(o);
	o = k8s_obj("v1", "ConfigMap", "kube-system", longname);
	assert_int_equal(stow_velero_tar_writer_add_item(w, "configmaps", "v1",
							 1, "kube-system",
							 longname, o),
			 0);
	json_decref(o);
}

typedef struct got {
	int items, errors;
	char paths[32][512];
	char msgs[32][512];
	int preferred[32];
	int versioned[32];
	int cluster[32];
} got;

static int item_cb(void *ctx, const stow_velero_tar_item *it, json_t *obj)
{
	got *g = ctx;
	const json_t *md = json_object_get(obj, "metadata");

	assert_true(g->items < 32);
	snprintf(g->paths[g->items], sizeof(g->paths[0]), "%s", it->path);
	g->preferred[g->items] = it->preferred;
	g->versioned[g->items] = it->version != NULL;
	g->cluster[g->items] = it->ns == NULL;
	assert_string_equal(json_string_value(json_object_get(md, "name")),
			    it->name);
	g->items++;
	return 0;
}

static int error_cb(void *ctx, const stow_velero_tar_item *it, const char *msg)
{
	got *g = ctx;

	assert_true(g->errors < 32);
	snprintf(g->msgs[g->errors], sizeof(g->msgs[0]), "%s: %s", it->path,
		 msg);
	g->errors++;
	return 0;
}

static int find_msg(const got *g, const char *needle)
{
	for (int i = 0; i < g->errors; i++)
		if (strstr(g->msgs[i], needle))
			return 1;
	return 0;
}

static int find_path(const got *g, const char *path)
{
	for (int i = 0; i < g->items; i++)
		if (strcmp(g->paths[i], path) == 0)
			return i;
	return -1;
}

/* ---- reading raw bytes with libarchive, independently of the reader */

typedef struct raw_entry {
	char path[512];
	mode_t type, perm;
	int64_t size;
	time_t mtime;
	char uname[32];
	int format;
} raw_entry;

static int raw_list(const void *data, size_t len, raw_entry *out, int max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int n = 0;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, data, len), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		assert_true(n < max);
		snprintf(out[n].path, sizeof(out[n].path), "%s",
			 archive_entry_pathname(e));
		out[n].type = archive_entry_filetype(e);
		out[n].perm = archive_entry_perm(e);
		out[n].size = archive_entry_size(e);
		out[n].mtime = archive_entry_mtime(e);
		snprintf(out[n].uname, sizeof(out[n].uname), "%s",
			 archive_entry_uname(e) ? archive_entry_uname(e) : "");
		out[n].format = archive_format(a);
		n++;
	}
	archive_read_free(a);
	return n;
}

static void get_obj(stow_store *s, const char *key, stow_buf *b)
{
	stow_buf_init(b, 0);
	assert_int_equal(stow_store_get(s, key, 0, STOW_RANGE_END, b), 0);
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
	fixture *f = *state;
	stow_velero_location loc;
	stow_velero_tar_writer *w;
	stow_velero_tar_stats st;
	stow_velero_tar_read_opts o = {0};
	stow_velero_tar_index *ix;
	raw_entry raw[32];
	stow_buf b, tar;
	got g = {0};
	int n;

	assert_int_equal(stow_velero_location_init(&loc, f->s, "velero"), 0);
	assert_int_equal(stow_velero_tar_writer_open(&w, &loc, "b1"), 0);
	stow_velero_tar_writer_set_mtime(w, 1767225600); /* 2026-01-01 */
	write_sample(w);
	/* Nothing visible before commit. */
	assert_int_equal(
	    stow_store_stat(f->s, "velero/backups/b1/b1.tar.gz", NULL),
	    STOW_ENOTFOUND);
	assert_int_equal(stow_velero_tar_writer_commit(w, &st), 0);
	assert_int_equal(st.items, 6);
	assert_int_equal(st.entries, 1 + 5 * 2 + 1);
	assert_true(st.bytes > 0 && st.stored_bytes > 0);

	get_obj(f->s, "velero/backups/b1/b1.tar.gz", &b);
	assert_int_equal(b.len, st.stored_bytes);
	/* gzip, MTIME 0 as Go's writer. */
	assert_int_equal(b.data[0], 0x1f);
	assert_int_equal(b.data[1], 0x8b);
	assert_int_equal(stow_get_le32(b.data + 4), 0);
	/* One gzip member and nothing after it; the tar ends with two zero
	 * blocks and no blocking padding. */
	stow_buf_init(&tar, 0);
	assert_int_equal(stow_velero_gunzip(b.data, b.len, 0, &tar), 0);
	assert_int_equal(tar.len % 512, 0);
	for (size_t i = tar.len - 1024; i < tar.len; i++)
		assert_int_equal(tar.data[i], 0);
	assert_true(tar.data[tar.len - 1025] != 0 ||
		    tar.data[tar.len - 1536] != 0 || tar.len < 10240);
	/* USTAR headers ("ustar\0" "00") like Go's. */
	assert_memory_equal(tar.data + 257,
			    "ustar\0"
			    "00",
			    8);

	n = raw_list(b.data, b.len, raw, 32);
	assert_int_equal(n, 12);
	assert_string_equal(raw[0].path, "metadata/version");
	assert_int_equal(raw[0].size, 6);
	for (int i = 0; i < n; i++) {
		assert_int_equal(raw[i].type, AE_IFREG);
		assert_int_equal(raw[i].perm, 0755);
		assert_int_equal(raw[i].mtime, 1767225600);
		assert_string_equal(raw[i].uname, "");
	}
	assert_string_equal(raw[1].path,
			    "resources/pods/namespaces/app/web-0.json");
	assert_string_equal(raw[2].path,
			    "resources/pods/v1-preferredversion/namespaces/app/"
			    "web-0.json");
	assert_string_equal(raw[9].path,
			    "resources/horizontalpodautoscalers."
			    "autoscaling/v1/namespaces/app/web.json");

	/* Read everything back through the store. */
	o.item_cb = item_cb;
	o.error_cb = error_cb;
	o.ctx = &g;
	assert_int_equal(stow_velero_tar_read_store(
			     f->s, "velero/backups/b1/b1.tar.gz", &o, &st),
			 0);
	assert_int_equal(g.errors, 0);
	assert_int_equal(g.items, 11);
	assert_int_equal(st.items, 11);
	assert_int_equal(st.entries, 12);
	assert_string_equal(st.version, "1.1.0");
	assert_int_equal(st.stored_bytes, b.len);
	n = find_path(&g, "resources/namespaces/v1-preferredversion/cluster/"
			  "app.json");
	assert_true(n >= 0);
	assert_true(g.preferred[n] && g.versioned[n] && g.cluster[n]);
	n = find_path(&g, "resources/clusterroles.rbac.authorization.k8s.io/"
			  "cluster/system:controller:web.json");
	assert_true(n >= 0);
	assert_true(!g.preferred[n] && !g.versioned[n] && g.cluster[n]);
	n = find_path(&g, "resources/horizontalpodautoscalers.autoscaling/v1/"
			  "namespaces/app/web.json");
	assert_true(n >= 0);
	assert_true(!g.preferred[n] && g.versioned[n] && !g.cluster[n]);

	/* Un-versioned copies only. */
	memset(&g, 0, sizeof(g));
	o.flags = STOW_VELERO_TAR_UNVERSIONED_ONLY;
	assert_int_equal(stow_velero_tar_read_mem(b.data, b.len, &o, &st), 0);
	assert_int_equal(g.items, 5);
	for (int i = 0; i < g.items; i++)
		assert_false(g.versioned[i]);

	/* The index. */
	assert_int_equal(stow_velero_tar_index_store(
			     f->s, "velero/backups/b1/b1.tar.gz", NULL, &ix),
			 0);
	assert_int_equal(ix->n_grs, 6);
	assert_string_equal(ix->grs[0],
			    "clusterroles.rbac.authorization.k8s.io");
	assert_string_equal(ix->grs[1], "configmaps");
	assert_string_equal(ix->grs[2], "deployments.apps");
	assert_string_equal(ix->grs[3], "horizontalpodautoscalers.autoscaling");
	assert_string_equal(ix->preferred_versions[3], "");
	assert_int_equal(ix->item_counts[3], 0);
	assert_string_equal(ix->grs[4], "namespaces");
	assert_string_equal(ix->grs[5], "pods");
	assert_string_equal(ix->preferred_versions[5], "v1");
	assert_int_equal(ix->item_counts[5], 1);
	assert_int_equal(ix->n_namespaces, 2);
	assert_string_equal(ix->namespaces[0], "app");
	assert_string_equal(ix->namespaces[1], "kube-system");
	assert_string_equal(ix->stats.version, "1.1.0");
	stow_velero_tar_index_free(ix);
	stow_velero_tar_index_free(NULL);

	/* Missing object: not found, not corrupt. */
	assert_int_equal(
	    stow_velero_tar_read_store(f->s, "velero/none.tar.gz", NULL, NULL),
	    STOW_ENOTFOUND);
	stow_buf_free(&b);
	stow_buf_free(&tar);
}

/* Names at the length limit and outside ASCII (RBAC names may hold
 * anything but '/'): written with a pax path as Go does, read back. */
static void test_odd_names(void **state)
{
	fixture *f = *state;
	stow_velero_tar_writer *w;
	stow_velero_tar_read_opts o = {0};
	char n253[254];
	static const char *const names[] = {
	    "r\xc3\xb4le:\xe6\x97\xa5\xe6\x9c\xac", "system:aggregate-to-edit",
	    "a b", NULL};
	got g = {0};

	memset(n253, 'y', 253);
	n253[253] = '\0';
	assert_int_equal(
	    stow_velero_tar_writer_open_key(&w, f->s, "odd.tar.gz"), 0);
	for (int i = 0; i < 4; i++) {
		const char *nm = names[i] ? names[i] : n253;
		json_t *o1 = k8s_obj("rbac.authorization.k8s.io/v1",
				     "ClusterRole", NULL, nm);

		assert_int_equal(stow_velero_tar_writer_add_item(
				     w,
				     "clusterroles.rbac.authorization.k8s.io",
				     "v1", 1, NULL, nm, o1),
				 0);
		json_decref(o1);
	}
	{
		json_t *o1 = k8s_obj("v1", "ConfigMap", "ns", n253);

		assert_int_equal(stow_velero_tar_writer_add_item(
				     w, "configmaps", "v1", 1, "ns", n253, o1),
				 0);
		json_decref(o1);
	}
	assert_int_equal(stow_velero_tar_writer_commit(w, NULL), 0);
	o.item_cb = item_cb;
	o.error_cb = error_cb;
	o.ctx = &g;
	assert_int_equal(
	    stow_velero_tar_read_store(f->s, "odd.tar.gz", &o, NULL), 0);
	for (int i = 0; i < g.errors; i++)
		print_error("%s\n", g.msgs[i]);
	assert_int_equal(g.errors, 0);
	assert_int_equal(g.items, 10);
	assert_true(find_path(&g, "resources/clusterroles.rbac.authorization."
				  "k8s.io/cluster/r\xc3\xb4le:\xe6\x97\xa5"
				  "\xe6\x9c\xac.json") >= 0);
}

/* Items bigger than a read chunk and many entries: the streamed read
 * sees the same bytes. */
static void test_large(void **state)
{
	fixture *f = *state;
	stow_velero_tar_writer *w;
	stow_velero_tar_stats st;
	stow_velero_tar_read_opts o = {0};
	got g = {0};
	char *big = malloc(3 << 20);
	json_t *obj;

	assert_non_null(big);
	/* Incompressible-ish text: a 3 MiB string field. */
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < (3u << 20) - 1; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = (char)('a' + x % 26);
	}
	big[(3 << 20) - 1] = '\0';
	obj = json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "name", "blob",
			"namespace", "ns", "data", "k", big);
	assert_int_equal(
	    stow_velero_tar_writer_open_key(&w, f->s, "big.tar.gz"), 0);
	assert_int_equal(stow_velero_tar_writer_add_item(w, "configmaps", "v1",
							 1, "ns", "blob", obj),
			 0);
	for (int i = 0; i < 2000; i++) {
		char name[32];
		json_t *m;

		snprintf(name, sizeof(name), "cm-%d", i);
		m = json_pack("{s:{s:s, s:s}}", "metadata", "name", name,
			      "namespace", "ns");
		assert_int_equal(stow_velero_tar_writer_add_item(
				     w, "configmaps", NULL, 0, "ns", name, m),
				 0);
		json_decref(m);
	}
	assert_int_equal(stow_velero_tar_writer_commit(w, &st), 0);
	assert_true(st.stored_bytes > (1u << 20));
	o.flags = STOW_VELERO_TAR_UNVERSIONED_ONLY;
	o.error_cb = error_cb;
	o.ctx = &g;
	assert_int_equal(
	    stow_velero_tar_read_store(f->s, "big.tar.gz", &o, &st), 0);
	assert_int_equal(st.items, 2001);
	assert_int_equal(g.errors, 0);
	/* A cap below the big item rejects the whole tarball. */
	o.max_entry = 1 << 20;
	assert_int_equal(
	    stow_velero_tar_read_store(f->s, "big.tar.gz", &o, &st),
	    STOW_ECORRUPT);
	assert_non_null(strstr(stow_err_msg(), "cap per entry"));
	json_decref(obj);
	free(big);
}

/* A store in front of another that records how the tarball arrives:
 * through a streamed put, in pieces no bigger than libarchive's buffer,
 * never as one put of the whole object. */
typedef struct spy_store {
	stow_store base;
	stow_store *inner;
	size_t max_append, appends, whole_puts;
} spy_store;

typedef struct spy_writer {
	stow_put_writer base;
	stow_put_writer *inner;
	spy_store *spy;
} spy_writer;

static stow_store_ops spy_ops;

static int spy_get(stow_store *s, const char *key, uint64_t off, uint64_t len,
		   stow_buf *out)
{
	return stow_store_get(((spy_store *)s)->inner, key, off, len, out);
}
static int spy_put(stow_store *s, const char *key, const void *data, size_t len,
		   unsigned flags)
{
	((spy_store *)s)->whole_puts++;
	return stow_store_put(((spy_store *)s)->inner, key, data, len, flags);
}
static int spy_stat(stow_store *s, const char *key, uint64_t *size)
{
	return stow_store_stat(((spy_store *)s)->inner, key, size);
}
static int spy_list(stow_store *s, const char *prefix, stow_store_list_cb cb,
		    void *ctx)
{
	return stow_store_list(((spy_store *)s)->inner, prefix, cb, ctx);
}
static int spy_del(stow_store *s, const char *key)
{
	return stow_store_del(((spy_store *)s)->inner, key);
}
static void spy_close(stow_store *s)
{
	(void)s;
}
static int spy_put_begin(stow_store *s, const char *key, unsigned flags,
			 stow_put_writer **out)
{
	spy_writer *w = calloc(1, sizeof(*w));
	int rc;

	assert_non_null(w);
	rc = stow_store_put_begin(((spy_store *)s)->inner, key, flags,
				  &w->inner);
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->base.ops = &spy_ops;
	w->spy = (spy_store *)s;
	*out = &w->base;
	return 0;
}
static int spy_put_append(stow_put_writer *pw, const void *data, size_t len)
{
	spy_writer *w = (spy_writer *)pw;

	w->spy->appends++;
	if (len > w->spy->max_append)
		w->spy->max_append = len;
	return stow_store_put_append(w->inner, data, len);
}
static int spy_put_commit(stow_put_writer *pw)
{
	spy_writer *w = (spy_writer *)pw;
	int rc = stow_store_put_commit(w->inner);

	free(w);
	return rc;
}
static void spy_put_abort(stow_put_writer *pw)
{
	spy_writer *w = (spy_writer *)pw;

	stow_store_put_abort(w->inner);
	free(w);
}
static stow_store_ops spy_ops = {
    .version = STOW_STORE_OPS_VERSION,
    .name = "spy",
    .get = spy_get,
    .put = spy_put,
    .stat = spy_stat,
    .list = spy_list,
    .del = spy_del,
    .close = spy_close,
    .put_begin = spy_put_begin,
    .put_append = spy_put_append,
    .put_commit = spy_put_commit,
    .put_abort = spy_put_abort,
};

static void test_streamed(void **state)
{
	fixture *f = *state;
	spy_store spy = {.base = {.ops = &spy_ops, .location = "spy"},
			 .inner = f->s};
	stow_velero_location loc;
	stow_velero_tar_writer *w;
	stow_velero_tar_stats st;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	assert_true(stow_store_can_stream(f->s));
	assert_int_equal(stow_velero_location_init(&loc, &spy.base, NULL), 0);
	assert_int_equal(stow_velero_tar_writer_open(&w, &loc, "big"), 0);
	/* ~8 MiB of poorly compressible items. */
	for (int i = 0; i < 256; i++) {
		char name[32], *data = malloc(32769);
		json_t *o;

		assert_non_null(data);
		for (int k = 0; k < 32768; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			data[k] = (char)('!' + x % 90);
		}
		data[32768] = '\0';
		snprintf(name, sizeof(name), "s-%d", i);
		o = json_pack("{s:{s:s, s:s}, s:{s:s}}", "metadata", "name",
			      name, "namespace", "ns", "data", "k", data);
		assert_int_equal(stow_velero_tar_writer_add_item(
				     w, "secrets", "v1", 1, "ns", name, o),
				 0);
		json_decref(o);
		free(data);
	}
	assert_int_equal(stow_velero_tar_writer_commit(w, &st), 0);
	assert_true(st.stored_bytes > (8u << 20));
	assert_int_equal(spy.whole_puts, 0);
	assert_true(spy.appends > 100);
	assert_true(spy.max_append <= 1u << 20);
	assert_int_equal(stow_velero_tar_read_store(
			     f->s, "backups/big/big.tar.gz", NULL, &st),
			 0);
	assert_int_equal(st.entries, 1 + 512);
}

static void test_writer_errors(void **state)
{
	stow_store *s;
	stow_velero_tar_writer *w;
	stow_velero_location loc;
	json_t *o = k8s_obj("v1", "Pod", "ns", "p");

	(void)state;
	assert_int_equal(stow_store_open(&s, "mem:", 0), 0);
	assert_int_equal(stow_velero_location_init(&loc, s, NULL), 0);
	assert_int_equal(stow_velero_tar_writer_open(&w, &loc, "Bad"),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_tar_writer_open(&w, &loc, "b1"), 0);
	assert_int_equal(stow_velero_tar_writer_add_item(w, "pods", "v1", 1,
							 "ns", "../x", o),
			 STOW_EINVAL);
	assert_int_equal(
	    stow_velero_tar_writer_add_item(w, "pods", "v1", 1, "a/b", "p", o),
	    STOW_EINVAL);
	assert_int_equal(
	    stow_velero_tar_writer_add_item(w, "", "v1", 1, "ns", "p", o),
	    STOW_EINVAL);
	assert_int_equal(stow_velero_tar_writer_add_item(w, "pods", "cluster",
							 1, "ns", "p", o),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_tar_writer_add_file(w, "/etc/x", "a", 1),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_tar_writer_add_file(w, "a/../b", "a", 1),
			 STOW_EINVAL);
	assert_int_equal(stow_velero_tar_writer_add_file(w, "a//b", "a", 1),
			 STOW_EINVAL);
	/* Abandoned: nothing published. */
	stow_velero_tar_writer_free(w);
	assert_int_equal(stow_store_stat(s, "backups/b1/b1.tar.gz", NULL),
			 STOW_ENOTFOUND);
	/* A store that fails the put: a clean error, nothing visible. */
	assert_int_equal(stow_velero_tar_writer_open(&w, &loc, "b2"), 0);
	assert_int_equal(
	    stow_velero_tar_writer_add_item(w, "pods", "v1", 1, "ns", "p", o),
	    0);
	stow_store_mem_fail_puts_after(s, 0);
	assert_true(stow_velero_tar_writer_commit(w, NULL) < 0);
	stow_store_mem_fail_puts_after(s, -1);
	assert_int_equal(stow_store_stat(s, "backups/b2/b2.tar.gz", NULL),
			 STOW_ENOTFOUND);
	json_decref(o);
	stow_store_close(s);
}

/* ---- hostile input ---- */

typedef struct hent {
	const char *path;
	mode_t type;
	const char *data;
	const char *link; /* symlink target or hard link source */
} hent;

static int raw_write_cb_buf(struct archive *a, void *client, const void *p,
			    size_t n)
{
	(void)a;
	return stow_buf_append(client, p, n) < 0 ? -1 : (int)n;
}

static la_ssize_t raw_write_cb(struct archive *a, void *client, const void *p,
			       size_t n)
{
	return raw_write_cb_buf(a, client, p, n);
}

/* A tar.gz with exactly these entries, written with libarchive directly
 * (not our writer), in GNU format so any type and path can be stored. */
static void make_tar(stow_buf *out, const hent *es, size_t n)
{
	struct archive *a = archive_write_new();

	stow_buf_init(out, 0);
	archive_write_set_format_gnutar(a);
	archive_write_add_filter_gzip(a);
	archive_write_set_bytes_per_block(a, 0);
	assert_int_equal(
	    archive_write_open2(a, out, NULL, raw_write_cb, NULL, NULL),
	    ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = es[i].data ? strlen(es[i].data) : 0;

		archive_entry_set_pathname(e, es[i].path);
		archive_entry_set_filetype(e,
					   es[i].type ? es[i].type : AE_IFREG);
		archive_entry_set_perm(e, 0644);
		if (es[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, es[i].link);
		if (es[i].type == AE_IFCHR)
			archive_entry_set_rdev(e, 0x0103);
		if (es[i].link && es[i].type == 0) {
			archive_entry_set_hardlink(e, es[i].link);
			len = 0;
		}
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, es[i].data, len),
					 (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* One ustar header declaring `size` bytes (octal, up to 11 digits),
 * gzipped with no data after it: the declared size must be refused
 * before anything is read. */
static void make_huge_decl(stow_buf *out, const char *path,
			   unsigned long long size)
{
	uint8_t h[512 + 1024];
	unsigned sum = 0;

	memset(h, 0, sizeof(h));
	snprintf((char *)h, 100, "%s", path);
	memcpy(h + 100, "0000755", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *)h + 124, 12, "%011llo", size);
	memcpy(h + 136, "15100000000", 12);
	h[156] = '0';
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	stow_buf_init(out, 0);
	assert_int_equal(stow_velero_gzip(h, sizeof(h), out), 0);
}

static const char good_pod[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
    "\"namespace\":\"ns\"}}";

static void expect_rejected(const stow_buf *t, const char *needle,
			    const stow_velero_tar_read_opts *o)
{
	stow_velero_tar_index *ix;
	int rc = stow_velero_tar_read_mem(t->data, t->len, o, NULL);

	if (rc != STOW_ECORRUPT || !strstr(stow_err_msg(), needle))
		fail_msg("want ECORRUPT with \"%s\", got %d: %s", needle, rc,
			 stow_err_msg());
	/* The index applies the same checks. */
	assert_int_equal(stow_velero_tar_index_mem(t->data, t->len, o, &ix),
			 STOW_ECORRUPT);
	assert_null(ix);
}

static void test_hostile(void **state)
{
	stow_buf t;
	stow_velero_tar_read_opts o = {0};

	(void)state;
	{
		hent e[] = {{"metadata/version", 0, "1.1.0\n", NULL},
			    {"../../etc/cron.d/x", 0, "boom", NULL}};
		make_tar(&t, e, 2);
		expect_rejected(&t, "path escapes with \"..\"", NULL);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"resources/pods/namespaces/ns/../../../../x.json",
			     0, good_pod, NULL}};
		make_tar(&t, e, 1);
		expect_rejected(&t, "path escapes", NULL);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"/etc/passwd", 0, "root", NULL}};
		make_tar(&t, e, 1);
		expect_rejected(&t, "absolute path", NULL);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"resources/pods/namespaces/ns/p.json", AE_IFLNK,
			     NULL, "/etc/shadow"}};
		make_tar(&t, e, 1);
		expect_rejected(&t, "symbolic link", NULL);
		stow_buf_free(&t);
	}
	{
		hent e[] = {
		    {"resources/pods/namespaces/ns/p.json", 0, good_pod, NULL},
		    {"resources/pods/namespaces/ns/q.json", 0, NULL,
		     "resources/pods/namespaces/ns/p.json"}};
		make_tar(&t, e, 2);
		expect_rejected(&t, "hard link", NULL);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"dev/tty", AE_IFCHR, NULL, NULL}};
		make_tar(&t, e, 1);
		expect_rejected(&t, "character device", NULL);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"fifo", AE_IFIFO, NULL, NULL}};
		make_tar(&t, e, 1);
		expect_rejected(&t, "fifo", NULL);
		stow_buf_free(&t);
	}
	/* Declared sizes: 8 GiB in one header, no data behind it. */
	make_huge_decl(&t, "resources/pods/namespaces/ns/p.json",
		       077777777777ULL);
	expect_rejected(&t, "over the 67108864-byte cap per entry", NULL);
	stow_buf_free(&t);
	/* Per-entry, total and count caps. */
	{
		hent e[] = {
		    {"resources/pods/namespaces/ns/p.json", 0, good_pod, NULL},
		    {"resources/pods/namespaces/ns/q.json", 0, good_pod, NULL},
		    {"resources/pods/namespaces/ns/r.json", 0, good_pod, NULL}};
		make_tar(&t, e, 3);
		o.max_entry = 40;
		expect_rejected(&t, "cap per entry", &o);
		o.max_entry = 0;
		o.max_total = 2 * strlen(good_pod) + 1;
		expect_rejected(&t, "cap for the whole tarball", &o);
		o.max_total = 0;
		o.max_entries = 2;
		expect_rejected(&t, "more than 2 entries", &o);
		o.max_entries = 3;
		assert_int_equal(
		    stow_velero_tar_read_mem(t.data, t.len, &o, NULL), 0);
		/* Truncated gzip: every cut is a clean ECORRUPT. */
		for (size_t cut = 1; cut < t.len; cut += 7) {
			int rc = stow_velero_tar_read_mem(t.data, t.len - cut,
							  NULL, NULL);

			assert_int_equal(rc, STOW_ECORRUPT);
			assert_non_null(
			    strstr(stow_err_msg(), "backup tarball rejected"));
		}
		/* Flipped bytes in the deflate data. */
		t.data[t.len / 2] ^= 0xff;
		assert_int_equal(
		    stow_velero_tar_read_mem(t.data, t.len, NULL, NULL),
		    STOW_ECORRUPT);
		stow_buf_free(&t);
	}
	/* Not gzip, not tar, empty. */
	assert_int_equal(
	    stow_velero_tar_read_mem("hello world", 11, NULL, NULL),
	    STOW_ECORRUPT);
	assert_non_null(strstr(stow_err_msg(), "backup tarball rejected"));
	assert_int_equal(stow_velero_tar_read_mem("", 0, NULL, NULL),
			 STOW_ECORRUPT);
	stow_buf_init(&t, 0);
	assert_int_equal(
	    stow_velero_gzip("not a tar at all, just text", 27, &t), 0);
	assert_int_equal(stow_velero_tar_read_mem(t.data, t.len, NULL, NULL),
			 STOW_ECORRUPT);
	stow_buf_free(&t);
}

/* Broken items are reported one by one; the good ones still arrive. */
static void test_item_errors(void **state)
{
	stow_buf t;
	stow_velero_tar_read_opts o = {0};
	stow_velero_tar_stats st;
	got g = {0};

	(void)state;
	hent e[] = {
	    {"./metadata/version", 0, "1.1.0\n", NULL},
	    {"./resources/", AE_IFDIR, NULL, NULL},
	    {"./resources/pods/namespaces/ns/p.json", 0, good_pod, NULL},
	    {"resources/pods/namespaces/ns/bad.json", 0,
	     "{\"metadata\":", NULL},
	    {"resources/pods/namespaces/ns/other.json", 0, good_pod, NULL},
	    {"resources/pods/namespaces/elsewhere/p.json", 0, good_pod, NULL},
	    {"resources/pods/namespaces/ns/arr.json", 0, "[1,2]", NULL},
	    {"resources/namespaces/cluster/ns.json", 0,
	     "{\"metadata\":{\"name\":\"ns\",\"namespace\":\"x\"}}", NULL},
	    {"resources/pods/namespaces/Bad_NS/p.json", 0, good_pod, NULL},
	    {"resources/pods/p.json", 0, good_pod, NULL},
	    {"resources/pods/namespaces/ns/p.txt", 0, good_pod, NULL},
	    {"README", 0, "hello", NULL},
	    {"resources/nodes/cluster/n1.json", 0,
	     "{\"metadata\":{\"name\":\"n1\"}}", NULL},
	};
	make_tar(&t, e, sizeof(e) / sizeof(e[0]));
	o.item_cb = item_cb;
	o.error_cb = error_cb;
	o.ctx = &g;
	assert_int_equal(stow_velero_tar_read_mem(t.data, t.len, &o, &st), 0);
	assert_int_equal(g.items, 2);
	assert_true(find_path(&g, "./resources/pods/namespaces/ns/p.json") >=
		    0);
	assert_true(find_path(&g, "resources/nodes/cluster/n1.json") >= 0);
	assert_int_equal(g.errors, 9);
	assert_int_equal(st.item_errors, 9);
	assert_string_equal(st.version, "1.1.0");
	assert_true(find_msg(&g, "bad.json: bad JSON"));
	assert_true(find_msg(&g, "metadata.name \"p\" differs from the name "
				 "in the path \"other\""));
	assert_true(find_msg(&g, "metadata.namespace \"ns\" differs"));
	assert_true(find_msg(&g, "arr.json: not a Kubernetes object"));
	assert_true(find_msg(&g, "ns.json: metadata.namespace \"x\" differs"));
	assert_true(find_msg(&g, "not a DNS-1123 label"));
	assert_true(find_msg(&g, "resources/pods/p.json: not an item path"));
	assert_true(find_msg(&g, "does not end in .json"));
	assert_true(find_msg(&g, "README: not an item path"));
	stow_buf_free(&t);
}

/* A callback's error stops the walk and is returned as is. */
static int stop_cb(void *ctx, const stow_velero_tar_item *it, json_t *obj)
{
	(void)ctx;
	(void)it;
	(void)obj;
	return stow_err_set(STOW_EINTR, "stop");
}

static void test_callback_stop(void **state)
{
	stow_buf t;
	stow_velero_tar_read_opts o = {.item_cb = stop_cb};

	(void)state;
	hent e[] = {{"resources/pods/namespaces/ns/p.json", 0, good_pod, NULL}};
	make_tar(&t, e, 1);
	assert_int_equal(stow_velero_tar_read_mem(t.data, t.len, &o, NULL),
			 STOW_EINTR);
	stow_buf_free(&t);
}

/* ---- the independent checker on a whole backup ---- */

static const char *checker_path(char *buf, size_t n)
{
	const char *data = getenv("STOW_TEST_DATA");

	if (!data)
		return NULL;
	snprintf(buf, n, "%s/../integration/velero_layout_check.py", data);
	return access(buf, R_OK) == 0 ? buf : NULL;
}

static int run_checker(const char *checker, const char *dir, const char *prefix,
		       const char *name)
{
	char cmd[2048];
	int rc;

	snprintf(cmd, sizeof(cmd), "python3 '%s' --prefix '%s' '%s' '%s' >&2",
		 checker, prefix, dir, name);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void write_backup(stow_velero_location *loc, const char *name)
{
	stow_velero_tar_writer *w;
	stow_velero_gzip_writer *lw;
	char key[STOW_VELERO_KEY_MAX];
	json_t *b, *r, *l;

	b = json_pack("{s:{s:s, s:s}, s:{s:[s], s:s}, s:{s:s}}", "metadata",
		      "name", name, "namespace", "velero", "spec",
		      "includedNamespaces", "app", "ttl", "720h0m0s", "status",
		      "phase", "Completed");
	assert_int_equal(stow_velero_put_backup_json(loc, name, b), 0);
	json_decref(b);
	assert_int_equal(stow_velero_tar_writer_open(&w, loc, name), 0);
	write_sample(w);
	assert_int_equal(stow_velero_tar_writer_commit(w, NULL), 0);

	r = stow_velero_results_new();
	assert_int_equal(stow_velero_results_add(r, 1,
						 STOW_VELERO_SCOPE_NAMESPACE,
						 "app", "a warning"),
			 0);
	assert_int_equal(stow_velero_backup_key(loc, name,
						STOW_VELERO_BACKUP_RESULTS, key,
						sizeof(key)),
			 0);
	assert_int_equal(stow_velero_put_gzjson(loc, key, r), 0);
	json_decref(r);

	/* The resource list of the sample (un-versioned items). */
	l = stow_velero_resource_list_new();
	assert_int_equal(
	    stow_velero_resource_list_add(l, "v1", "Pod", "app", "web-0", NULL),
	    0);
	assert_int_equal(stow_velero_resource_list_add(
			     l, "apps/v1", "Deployment", "app", "web", NULL),
			 0);
	assert_int_equal(stow_velero_resource_list_add(l, "v1", "Namespace",
						       NULL, "app", NULL),
			 0);
	assert_int_equal(stow_velero_resource_list_add(
			     l, "rbac.authorization.k8s.io/v1", "ClusterRole",
			     NULL, "system:controller:web", NULL),
			 0);
	{
		char longname[200];

		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(
		    stow_velero_resource_list_add(
			l, "v1", "ConfigMap", "kube-system", longname, NULL),
		    0);
	}
	assert_int_equal(stow_velero_resource_list_finish(l), 0);
	assert_int_equal(
	    stow_velero_backup_key(loc, name, STOW_VELERO_BACKUP_RESOURCE_LIST,
				   key, sizeof(key)),
	    0);
	assert_int_equal(stow_velero_put_gzjson(loc, key, l), 0);
	json_decref(l);

	for (int obj = STOW_VELERO_BACKUP_PODVOLUMEBACKUPS;
	     obj <= STOW_VELERO_BACKUP_VOLUMEINFO; obj++) {
		json_t *v = obj == STOW_VELERO_BACKUP_VOLUMEINFO ? json_array()
								 : json_null();

		assert_int_equal(
		    stow_velero_backup_key(loc, name, obj, key, sizeof(key)),
		    0);
		assert_int_equal(stow_velero_put_gzjson(loc, key, v), 0);
		json_decref(v);
	}
	assert_int_equal(stow_velero_backup_key(loc, name,
						STOW_VELERO_BACKUP_LOG, key,
						sizeof(key)),
			 0);
	assert_int_equal(stow_velero_gzip_writer_open(&lw, loc->store, key), 0);
	assert_int_equal(stow_velero_gzip_writer_write(
			     lw, "level=info msg=\"Backup completed\"\n", 34),
			 0);
	assert_int_equal(stow_velero_gzip_writer_commit(lw), 0);
}

static void test_python_checker(void **state)
{
	fixture *f = *state;
	stow_velero_location loc;
	char cbuf[1024], path[1024];
	const char *checker = checker_path(cbuf, sizeof(cbuf));
	FILE *fp;

	if (!checker || system("python3 -c 'import tarfile' 2>/dev/null") != 0)
		skip();
	assert_int_equal(stow_velero_location_init(&loc, f->s, "bsl"), 0);
	write_backup(&loc, "nightly-20260101000000");
	assert_int_equal(
	    run_checker(checker, f->dir, "bsl", "nightly-20260101000000"), 0);
	/* The checker can fail: a foreign top-level prefix, then a
	 * tarball that is not what Velero writes. */
	snprintf(path, sizeof(path), "%s/bsl/stray", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bsl/stray/x", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_not_equal(
	    run_checker(checker, f->dir, "bsl", "nightly-20260101000000"), 0);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/bsl/stray", f->dir);
	assert_int_equal(rmdir(path), 0);
	{
		stow_buf t;
		hent e[] = {
		    {"metadata/version", 0, "1.1.0\n", NULL},
		    {"resources/pods/namespaces/ns/p.json", 0, good_pod, NULL}};

		make_tar(&t, e, 2); /* mode 0644, GNU headers */
		assert_int_equal(stow_store_put(f->s,
						"bsl/backups/nightly-"
						"20260101000000/nightly-"
						"20260101000000.tar.gz",
						t.data, t.len, 0),
				 0);
		stow_buf_free(&t);
	}
	assert_int_not_equal(
	    run_checker(checker, f->dir, "bsl", "nightly-20260101000000"), 0);
}

/* ---- seed corpus for fuzz_tarball ---- */

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

static void test_write_corpus(void **state)
{
	const char *dir = getenv("STOW_VELERO_TAR_CORPUS");
	stow_store *s;
	stow_velero_tar_writer *w;
	stow_buf t;

	(void)state;
	if (!dir || !*dir)
		skip();
	assert_int_equal(stow_store_open(&s, "mem:", 0), 0);
	assert_int_equal(stow_velero_tar_writer_open_key(&w, s, "t"), 0);
	stow_velero_tar_writer_set_mtime(w, 1767225600);
	write_sample(w);
	assert_int_equal(stow_velero_tar_writer_commit(w, NULL), 0);
	get_obj(s, "t", &t);
	put_file(dir, "valid-sample.tar.gz", t.data, t.len);
	/* Truncated gzip. */
	put_file(dir, "truncated.tar.gz", t.data, t.len * 2 / 3);
	stow_buf_free(&t);
	assert_int_equal(stow_velero_tar_writer_open_key(&w, s, "t"), 0);
	stow_velero_tar_writer_set_mtime(w, 1767225600);
	assert_int_equal(stow_velero_tar_writer_commit(w, NULL), 0);
	get_obj(s, "t", &t);
	put_file(dir, "valid-empty.tar.gz", t.data, t.len);
	stow_buf_free(&t);
	stow_store_close(s);
	{
		hent e[] = {{"../../x", 0, "x", NULL}};
		make_tar(&t, e, 1);
		put_file(dir, "dotdot.tar.gz", t.data, t.len);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"/etc/passwd", 0, "x", NULL}};
		make_tar(&t, e, 1);
		put_file(dir, "absolute.tar.gz", t.data, t.len);
		stow_buf_free(&t);
	}
	{
		hent e[] = {{"resources/pods/namespaces/ns/p.json", AE_IFLNK,
			     NULL, "/etc/shadow"}};
		make_tar(&t, e, 1);
		put_file(dir, "symlink.tar.gz", t.data, t.len);
		stow_buf_free(&t);
	}
	{
		hent e[] = {
		    {"resources/pods/namespaces/ns/p.json", 0, good_pod, NULL},
		    {"resources/pods/namespaces/ns/q.json", 0, NULL,
		     "resources/pods/namespaces/ns/p.json"}};
		make_tar(&t, e, 2);
		put_file(dir, "hardlink.tar.gz", t.data, t.len);
		stow_buf_free(&t);
	}
	make_huge_decl(&t, "resources/pods/namespaces/ns/p.json",
		       077777777777ULL);
	put_file(dir, "huge-declared.tar.gz", t.data, t.len);
	stow_buf_free(&t);
	{
		hent e[] = {
		    {"./metadata/version", 0, "1.1.0\n", NULL},
		    {"./resources/", AE_IFDIR, NULL, NULL},
		    {"resources/pods/namespaces/ns/bad.json", 0, "{\"m", NULL},
		    {"resources/pods/namespaces/ns/other.json", 0, good_pod,
		     NULL},
		    {"resources/pods/v1-preferredversion/namespaces/ns/p.json",
		     0, good_pod, NULL},
		    {"README", 0, "x", NULL}};
		make_tar(&t, e, sizeof(e) / sizeof(e[0]));
		put_file(dir, "item-errors.tar.gz", t.data, t.len);
		stow_buf_free(&t);
	}
}

#define BOTH(t)                                                                \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &fs_ptr), \
	    cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,       \
						     &mem_ptr)

int main(void)
{
	int *fs_ptr = &fs_be, *mem_ptr = &mem_be;
	const struct CMUnitTest tests[] = {
	    BOTH(test_round_trip),
	    BOTH(test_large),
	    BOTH(test_odd_names),
	    cmocka_unit_test_prestate_setup_teardown(test_streamed, setup,
						     teardown, &fs_ptr),
	    cmocka_unit_test(test_writer_errors),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_item_errors),
	    cmocka_unit_test(test_callback_stop),
	    cmocka_unit_test_prestate_setup_teardown(test_python_checker, setup,
						     teardown, &fs_ptr),
	    cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
