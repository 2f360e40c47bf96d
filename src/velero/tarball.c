/* The backup tarball: streaming writer and hostile-input reader
 * (tarball.h). */
#include "velero/tarball.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "util/buf.h"
#include "util/err.h"
#include "velero/gzjson.h"
#include "velero/sink.h"

/* Longest path component we write or accept for a gr, namespace, name or
 * version (Kubernetes names are at most 253 bytes). */
#define SEG_MAX 253
/* Longest entry path the reader looks at. */
#define PATH_MAX_LEN 4096
/* Bytes per ranged get when streaming from a store. */
#define READ_CHUNK ((size_t)1 << 20)

/* ---- path pieces ---- */

/* A component that is safe in a path: non-empty, at most max bytes (seg_ok:
 * SEG_MAX), no '/', no control characters, not "." or "..". */
static int seg_ok_max(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int seg_ok(const char *s, size_t n)
{
	return seg_ok_max(s, n, SEG_MAX);
}

static int seg_ok_str(const char *s)
{
	return s && seg_ok(s, strnlen(s, SEG_MAX + 1));
}

/* DNS-1123 label: what a namespace name is. */
static int label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int an = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!an && (c != '-' || i == 0 || i + 1 == n))
			return 0;
	}
	return 1;
}

/* ---- writer ---- */

struct stow_velero_tar_writer {
	struct archive *a;
	stow_velero_sink sink;
	int sink_rc; /* the store's error behind a failed libarchive write */
	int failed;
	int started; /* metadata/version written */
	int fixed_mtime;
	time_t mtime;
	locale_t utf8; /* C.UTF-8 for libarchive's header writes, or 0 */
	stow_buf js;
	stow_buf path;
	stow_velero_tar_stats st;
};

static la_ssize_t tar_write_cb(struct archive *a, void *client, const void *buf,
			       size_t n)
{
	stow_velero_tar_writer *w = client;
	int rc = stow_velero_sink_write(&w->sink, buf, n);

	if (rc < 0) {
		w->sink_rc = rc;
		archive_set_error(a, EIO, "%s", stow_err_msg());
		return -1;
	}
	w->st.stored_bytes += n;
	return (la_ssize_t)n;
}

static int archive_fail(stow_velero_tar_writer *w, const char *what)
{
	w->failed = 1;
	/* A store error surfaces through libarchive; keep its code and
	 * message. */
	if (w->sink_rc < 0)
		return stow_err_wrap(w->sink_rc, "writing tarball (%s)", what);
	return stow_err_set(STOW_EIO, "writing tarball (%s): %s", what,
			    archive_error_string(w->a)
				? archive_error_string(w->a)
				: "libarchive error");
}

static int write_entry(stow_velero_tar_writer *w, const char *path,
		       const void *data, size_t len)
{
	struct archive_entry *e;
	const uint8_t *p = data;
	size_t done = 0;
	int r;

	if (w->failed)
		return stow_err_set(STOW_EINVAL,
				    "tarball writer failed earlier");
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c >= 0x80 && !w->utf8)
			return stow_err_set(STOW_EINVAL,
					    "%s: a non-ASCII path needs the "
					    "C.UTF-8 locale, which this "
					    "system lacks",
					    path);
	e = archive_entry_new();
	if (!e)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	archive_entry_set_pathname_utf8(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0755);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, w->fixed_mtime ? w->mtime : time(NULL), 0);
	/* libarchive converts the UTF-8 path to the locale's charset for
	 * the USTAR fields; in the C locale a non-ASCII name has no such
	 * form and libarchive 3.6 dereferences NULL. A thread-local UTF-8
	 * locale for the call (uselocale) changes nothing for other
	 * threads; the pax header then carries the UTF-8 path, as Go's. */
	if (w->utf8) {
		locale_t old = uselocale(w->utf8);

		r = archive_write_header(w->a, e);
		uselocale(old);
	} else {
		r = archive_write_header(w->a, e);
	}
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return archive_fail(w, path);
	while (done < len) {
		la_ssize_t n = archive_write_data(w->a, p + done, len - done);

		if (n <= 0)
			return archive_fail(w, path);
		done += (size_t)n;
	}
	w->st.entries++;
	w->st.bytes += len;
	return 0;
}

int stow_velero_tar_writer_open_key(stow_velero_tar_writer **out, stow_store *s,
				    const char *key)
{
	stow_velero_tar_writer *w;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	w->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	stow_buf_init(&w->js, STOW_VELERO_TAR_MAX_ENTRY);
	stow_buf_init(&w->path, PATH_MAX_LEN);
	rc = stow_velero_sink_open(&w->sink, s, key, 0);
	if (rc < 0) {
		if (w->utf8)
			freelocale(w->utf8);
		free(w);
		return rc;
	}
	w->a = archive_write_new();
	if (!w->a) {
		stow_velero_tar_writer_free(w);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	/* Go's archive/tar picks USTAR for these headers and PAX only for
	 * what USTAR cannot hold; restricted pax does the same. Gzip with
	 * MTIME 0 as Go writes it. No blocking: Go ends the tar with two
	 * zero blocks and pads nothing after the gzip stream. */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(w->a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(w->a, "gzip", "timestamp", NULL) !=
		ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, tar_write_cb, NULL, NULL) !=
		ARCHIVE_OK) {
		rc = archive_fail(w, "setup");
		stow_velero_tar_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* metadata/version goes first; written with the first entry (or at
 * commit) so that set_mtime applies to it too. */
static int start(stow_velero_tar_writer *w)
{
	static const char version[] = STOW_VELERO_TAR_FORMAT_VERSION "\n";

	if (w->started)
		return 0;
	w->started = 1;
	return write_entry(w, "metadata/version", version, sizeof(version) - 1);
}

int stow_velero_tar_writer_open(stow_velero_tar_writer **out,
				const stow_velero_location *loc,
				const char *backup)
{
	char key[STOW_VELERO_KEY_MAX];

	*out = NULL;
	STOW_TRY(stow_velero_backup_key(
	    loc, backup, STOW_VELERO_BACKUP_CONTENTS, key, sizeof(key)));
	return stow_velero_tar_writer_open_key(out, loc->store, key);
}

void stow_velero_tar_writer_set_mtime(stow_velero_tar_writer *w, time_t t)
{
	w->fixed_mtime = 1;
	w->mtime = t;
}

static int item_path(stow_buf *p, const char *gr, const char *vdir,
		     const char *ns, const char *name)
{
	stow_buf_reset(p);
	STOW_TRY(stow_buf_printf(p, "resources/%s/", gr));
	if (vdir)
		STOW_TRY(stow_buf_printf(p, "%s/", vdir));
	if (ns)
		return stow_buf_printf(p, "namespaces/%s/%s.json", ns, name);
	return stow_buf_printf(p, "cluster/%s.json", name);
}

int stow_velero_tar_writer_add_item(stow_velero_tar_writer *w, const char *gr,
				    const char *version, int preferred,
				    const char *ns, const char *name,
				    const json_t *obj)
{
	char vdir[SEG_MAX + 32];

	if (!w || !obj)
		return stow_err_set(STOW_EINVAL, "add_item: bad arguments");
	if (ns && !*ns)
		ns = NULL;
	if (!seg_ok_str(gr) || !seg_ok_str(name) || (ns && !seg_ok_str(ns)) ||
	    (version && !seg_ok_str(version)))
		return stow_err_set(STOW_EINVAL,
				    "add_item: %s/%s/%s (version %s) cannot "
				    "form a safe tar path",
				    gr ? gr : "(null)", ns ? ns : "-",
				    name ? name : "(null)",
				    version ? version : "-");
	/* Velero's parser tells version directories from scope ones by
	 * these names. */
	if (version && (strcmp(version, "cluster") == 0 ||
			strcmp(version, "namespaces") == 0))
		return stow_err_set(STOW_EINVAL,
				    "add_item: version \"%s\" is reserved",
				    version);
	STOW_TRY(start(w));
	stow_buf_reset(&w->js);
	STOW_TRY(stow_velero_json_compact(obj, &w->js));
	if (!version || preferred) {
		STOW_TRY(item_path(&w->path, gr, NULL, ns, name));
		STOW_TRY(write_entry(w, (const char *)w->path.data, w->js.data,
				     w->js.len));
	}
	if (version) {
		snprintf(vdir, sizeof(vdir), "%s%s", version,
			 preferred ? "-preferredversion" : "");
		STOW_TRY(item_path(&w->path, gr, vdir, ns, name));
		STOW_TRY(write_entry(w, (const char *)w->path.data, w->js.data,
				     w->js.len));
	}
	w->st.items++;
	return 0;
}

static int path_safe(const char *path)
{
	const char *p = path;

	if (!path || !*path || path[0] == '/' ||
	    strnlen(path, PATH_MAX_LEN + 1) > PATH_MAX_LEN)
		return 0;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!seg_ok(p, n) && !(n == 0 && !slash))
			return 0;
		p += n + (slash ? 1 : 0);
		if (slash && !*p)
			return 0; /* trailing '/' */
	}
	return 1;
}

int stow_velero_tar_writer_add_file(stow_velero_tar_writer *w, const char *path,
				    const void *data, size_t len)
{
	if (!w || (!data && len) || !path_safe(path))
		return stow_err_set(STOW_EINVAL,
				    "add_file: unsafe or empty path");
	STOW_TRY(start(w));
	return write_entry(w, path, data ? data : "", len);
}

int stow_velero_tar_writer_commit(stow_velero_tar_writer *w,
				  stow_velero_tar_stats *stats)
{
	int rc = 0;

	if (!w)
		return stow_err_set(STOW_EINVAL, "commit without a writer");
	if (w->failed)
		rc = stow_err_set(STOW_EINVAL, "tarball writer failed earlier");
	if (rc == 0)
		rc = start(w);
	if (rc == 0 && archive_write_close(w->a) != ARCHIVE_OK)
		rc = archive_fail(w, "closing");
	if (rc == 0)
		rc = stow_velero_sink_commit(&w->sink);
	if (stats)
		*stats = w->st;
	stow_velero_tar_writer_free(w);
	return rc;
}

void stow_velero_tar_writer_free(stow_velero_tar_writer *w)
{
	if (!w)
		return;
	if (w->a)
		archive_write_free(w->a);
	stow_velero_sink_abort(&w->sink);
	if (w->utf8)
		freelocale(w->utf8);
	stow_buf_free(&w->js);
	stow_buf_free(&w->path);
	free(w);
}

/* ---- reader ---- */

typedef struct gr_entry {
	char *gr;
	char *preferred;
	uint64_t items;
} gr_entry;

typedef struct reader {
	struct archive *a;
	/* source: a store object read in ranges */
	stow_store *s;
	const char *key;
	uint64_t off;
	stow_buf chunk;
	int src_rc;
	/* options */
	uint64_t max_entry, max_total, max_entries;
	unsigned flags;
	stow_velero_tar_item_cb item_cb;
	stow_velero_tar_error_cb error_cb;
	void *ctx;
	/* index mode */
	int index;
	gr_entry *grs;
	size_t n_grs, cap_grs;
	char **nss;
	size_t n_nss, cap_nss;
	/* state */
	stow_velero_tar_stats st;
	uint64_t total;
	stow_buf data;
} reader;

static la_ssize_t store_read_cb(struct archive *a, void *client,
				const void **buf)
{
	reader *r = client;
	int rc;

	stow_buf_reset(&r->chunk);
	rc = stow_store_get(r->s, r->key, r->off, READ_CHUNK, &r->chunk);
	if (rc < 0) {
		r->src_rc = rc;
		archive_set_error(a, EIO, "%s", stow_err_msg());
		return -1;
	}
	r->off += r->chunk.len;
	r->st.stored_bytes += r->chunk.len;
	*buf = r->chunk.data;
	return (la_ssize_t)r->chunk.len;
}

static int corrupt(reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int corrupt(reader *r, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	/* The store failed under libarchive: that is the real error. */
	if (r->src_rc < 0)
		return stow_err_wrap(r->src_rc, "reading tarball");
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return stow_err_set(STOW_ECORRUPT, "backup tarball rejected: %s", msg);
}

static const char *arch_msg(reader *r)
{
	const char *m = archive_error_string(r->a);

	return m ? m : "libarchive error";
}

static int report(reader *r, const stow_velero_tar_item *it, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));

static int report(reader *r, const stow_velero_tar_item *it, const char *fmt,
		  ...)
{
	char msg[768];
	va_list ap;

	r->st.item_errors++;
	if (!r->error_cb)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return r->error_cb(r->ctx, it, msg);
}

/* Split an item path (leading "./" removed) into its parts, in place in
 * buf. 0 if it is one, else a message in *why. */
static int parse_item_path(char *buf, stow_velero_tar_item *it,
			   const char **why)
{
	char *comp[8];
	size_t n = 0, i = 0;
	char *p = buf;
	size_t len;

	for (;;) {
		char *slash = strchr(p, '/');

		if (n == 8) {
			*why = "too many path components for an item";
			return -1;
		}
		comp[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	/* Components carry suffixes (".json", "-preferredversion") on top
	 * of a name of at most SEG_MAX bytes; the bare names are checked
	 * below. */
	for (size_t k = 0; k < n; k++) {
		if (!seg_ok_max(comp[k], strlen(comp[k]), SEG_MAX + 32)) {
			*why = "empty, over-long or unprintable path component";
			return -1;
		}
	}
	if (n < 4 || strcmp(comp[0], "resources") != 0) {
		*why = "not an item path (resources/<gr>/.../<name>.json)";
		return -1;
	}
	it->gr = comp[1];
	i = 2;
	if (strcmp(comp[i], "cluster") != 0 &&
	    strcmp(comp[i], "namespaces") != 0) {
		static const char pv[] = "-preferredversion";
		size_t vl = strlen(comp[i]), pl = sizeof(pv) - 1;

		if (vl > pl && strcmp(comp[i] + vl - pl, pv) == 0) {
			comp[i][vl - pl] = '\0';
			it->preferred = 1;
		}
		it->version = comp[i];
		for (const char *c = it->version; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') ||
			      (*c >= '0' && *c <= '9'))) {
				*why = "bad version directory";
				return -1;
			}
		i++;
	}
	if (i + 2 == n && strcmp(comp[i], "cluster") == 0) {
		it->ns = NULL;
	} else if (i + 3 == n && strcmp(comp[i], "namespaces") == 0) {
		it->ns = comp[i + 1];
		if (!label_ok(it->ns, strlen(it->ns))) {
			*why = "namespace is not a DNS-1123 label";
			return -1;
		}
	} else {
		*why = "expected cluster/<name>.json or "
		       "namespaces/<ns>/<name>.json";
		return -1;
	}
	len = strlen(comp[n - 1]);
	if (len <= 5 || strcmp(comp[n - 1] + len - 5, ".json") != 0) {
		*why = "item file name does not end in .json";
		return -1;
	}
	comp[n - 1][len - 5] = '\0';
	it->name = comp[n - 1];
	if (strlen(it->gr) > SEG_MAX || strlen(it->name) > SEG_MAX ||
	    (it->version && strlen(it->version) > SEG_MAX)) {
		*why = "name longer than 253 bytes";
		return -1;
	}
	return 0;
}

/* Read the current entry's data (declared size already checked). */
static int read_data(reader *r, const char *path)
{
	uint8_t tmp[64 * 1024];

	stow_buf_reset(&r->data);
	for (;;) {
		la_ssize_t n = archive_read_data(r->a, tmp, sizeof(tmp));

		if (n == 0)
			return 0;
		if (n < 0)
			return corrupt(r, "%.300s: %s", path, arch_msg(r));
		if ((uint64_t)r->data.len + (uint64_t)n > r->max_entry)
			return corrupt(r, "%.300s: more than %llu bytes", path,
				       (unsigned long long)r->max_entry);
		STOW_TRY(stow_buf_append(&r->data, tmp, (size_t)n));
	}
}

static int skip_data(reader *r, const char *path)
{
	if (archive_read_data_skip(r->a) != ARCHIVE_OK)
		return corrupt(r, "%.300s: %s", path, arch_msg(r));
	return 0;
}

static int index_gr(reader *r, const stow_velero_tar_item *it)
{
	size_t lo = 0, hi = r->n_grs;
	gr_entry *g;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->grs[mid].gr, it->gr);

		if (c == 0) {
			lo = mid;
			goto found;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (r->n_grs == r->cap_grs) {
		size_t ncap = r->cap_grs ? r->cap_grs * 2 : 16;
		gr_entry *ng = realloc(r->grs, ncap * sizeof(*ng));

		if (!ng)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		r->grs = ng;
		r->cap_grs = ncap;
	}
	memmove(r->grs + lo + 1, r->grs + lo,
		(r->n_grs - lo) * sizeof(*r->grs));
	memset(&r->grs[lo], 0, sizeof(r->grs[lo]));
	r->n_grs++;
	r->grs[lo].gr = strdup(it->gr);
	if (!r->grs[lo].gr)
		return stow_err_set(STOW_ENOMEM, "out of memory");
found:
	g = &r->grs[lo];
	if (it->preferred && !g->preferred) {
		g->preferred = strdup(it->version);
		if (!g->preferred)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	if (!it->version)
		g->items++;
	return 0;
}

static int index_ns(reader *r, const char *ns)
{
	size_t lo = 0, hi = r->n_nss;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->nss[mid], ns);

		if (c == 0)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (r->n_nss == r->cap_nss) {
		size_t ncap = r->cap_nss ? r->cap_nss * 2 : 16;
		char **nn = realloc(r->nss, ncap * sizeof(*nn));

		if (!nn)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		r->nss = nn;
		r->cap_nss = ncap;
	}
	memmove(r->nss + lo + 1, r->nss + lo,
		(r->n_nss - lo) * sizeof(*r->nss));
	r->n_nss++;
	r->nss[lo] = strdup(ns);
	if (!r->nss[lo])
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

/* Parse and check one item's JSON, then hand it over. */
static int deliver(reader *r, const stow_velero_tar_item *it)
{
	json_error_t jerr;
	json_t *obj, *md, *v;
	int rc;

	obj = json_loadb((const char *)r->data.data, r->data.len, 0, &jerr);
	if (!obj)
		return report(r, it, "bad JSON: %s (line %d column %d)",
			      jerr.text, jerr.line, jerr.column);
	md = json_object_get(obj, "metadata");
	if (!json_is_object(obj) || !json_is_object(md)) {
		json_decref(obj);
		return report(r, it, "not a Kubernetes object (no metadata)");
	}
	v = json_object_get(md, "name");
	if (!json_is_string(v) || strcmp(json_string_value(v), it->name) != 0) {
		rc = report(r, it,
			    "metadata.name \"%.253s\" differs from the name "
			    "in the path \"%s\"",
			    json_is_string(v) ? json_string_value(v) : "",
			    it->name);
		json_decref(obj);
		return rc;
	}
	v = json_object_get(md, "namespace");
	if (it->ns ? !json_is_string(v) ||
			 strcmp(json_string_value(v), it->ns) != 0
		   : v && !json_is_null(v) &&
			 !(json_is_string(v) && !*json_string_value(v))) {
		rc = report(r, it,
			    "metadata.namespace \"%.63s\" differs from the "
			    "path (%s)",
			    json_is_string(v) ? json_string_value(v) : "",
			    it->ns ? it->ns : "cluster-scoped");
		json_decref(obj);
		return rc;
	}
	r->st.items++;
	rc = r->item_cb ? r->item_cb(r->ctx, it, obj) : 0;
	json_decref(obj);
	return rc;
}

static int one_entry(reader *r, struct archive_entry *e)
{
	char buf[PATH_MAX_LEN + 1];
	const char *path = archive_entry_pathname_utf8(e);
	const char *rel, *why = NULL;
	stow_velero_tar_item it;
	la_int64_t size;
	mode_t type;

	if (!path)
		path = archive_entry_pathname(e);
	if (!path || !*path)
		return corrupt(r, "entry %llu has no path",
			       (unsigned long long)r->st.entries);
	if (strnlen(path, PATH_MAX_LEN + 1) > PATH_MAX_LEN)
		return corrupt(r, "entry %llu: path longer than %d bytes",
			       (unsigned long long)r->st.entries, PATH_MAX_LEN);
	if (path[0] == '/')
		return corrupt(r, "%.300s: absolute path", path);
	for (const char *p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return corrupt(r, "%.300s: path escapes with \"..\"",
				       path);
		p += n + (slash ? 1 : 0);
	}
	if (archive_entry_hardlink(e))
		return corrupt(r,
			       "%.300s: hard link (only regular files "
			       "belong in a backup)",
			       path);
	type = archive_entry_filetype(e);
	if (type == AE_IFDIR)
		return skip_data(r, path);
	if (type != AE_IFREG)
		return corrupt(r,
			       "%.300s: %s (only regular files belong in "
			       "a backup)",
			       path,
			       type == AE_IFLNK	   ? "symbolic link"
			       : type == AE_IFCHR  ? "character device"
			       : type == AE_IFBLK  ? "block device"
			       : type == AE_IFIFO  ? "fifo"
			       : type == AE_IFSOCK ? "socket"
						   : "not a regular file");
	size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	if (size < 0 || (uint64_t)size > r->max_entry)
		return corrupt(r,
			       "%.300s: declares %lld bytes, over the "
			       "%llu-byte cap per entry",
			       path, (long long)size,
			       (unsigned long long)r->max_entry);
	r->total += (uint64_t)size;
	if (r->total > r->max_total)
		return corrupt(r,
			       "%.300s: contents pass the %llu-byte cap "
			       "for the whole tarball",
			       path, (unsigned long long)r->max_total);
	r->st.bytes += (uint64_t)size;

	rel = path;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	memset(&it, 0, sizeof(it));
	it.path = path;
	if (strcmp(rel, "metadata/version") == 0) {
		size_t n;

		STOW_TRY(read_data(r, path));
		n = r->data.len < sizeof(r->st.version) - 1
			? r->data.len
			: sizeof(r->st.version) - 1;
		memcpy(r->st.version, r->data.data, n);
		r->st.version[n] = '\0';
		/* "1.1.0\n": keep the printable part. */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)r->st.version[i] < 0x21 ||
			    (unsigned char)r->st.version[i] > 0x7e) {
				r->st.version[i] = '\0';
				break;
			}
		return 0;
	}
	memcpy(buf, rel, strlen(rel) + 1);
	if (parse_item_path(buf, &it, &why) < 0) {
		STOW_TRY(skip_data(r, path));
		if (r->index)
			return 0;
		memset(&it, 0, sizeof(it));
		it.path = path;
		return report(r, &it, "%s; entry ignored", why);
	}
	if (r->index) {
		STOW_TRY(skip_data(r, path));
		STOW_TRY(index_gr(r, &it));
		return it.ns ? index_ns(r, it.ns) : 0;
	}
	if (it.version && (r->flags & STOW_VELERO_TAR_UNVERSIONED_ONLY))
		return skip_data(r, path);
	STOW_TRY(read_data(r, path));
	return deliver(r, &it);
}

static int run(reader *r, const void *mem, size_t mem_len)
{
	struct archive_entry *e;
	int ar;

	r->a = archive_read_new();
	if (!r->a)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	/* Only what Velero writes: gzip around tar (ustar, pax, gnu). */
	if (archive_read_support_filter_gzip(r->a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(r->a) != ARCHIVE_OK)
		return stow_err_set(STOW_EIO, "libarchive setup: %s",
				    arch_msg(r));
	if (mem) {
		r->st.stored_bytes = mem_len;
		ar = archive_read_open_memory(r->a, mem, mem_len);
	} else {
		ar = archive_read_open(r->a, r, NULL, store_read_cb, NULL);
	}
	if (ar != ARCHIVE_OK)
		return corrupt(r, "not a gzip'd tar: %s", arch_msg(r));
	for (;;) {
		ar = archive_read_next_header(r->a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		/* WARN carries a usable entry (e.g. an odd charset). */
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return corrupt(r, "after %llu entries: %s",
				       (unsigned long long)r->st.entries,
				       arch_msg(r));
		if (++r->st.entries > r->max_entries)
			return corrupt(r, "more than %llu entries",
				       (unsigned long long)r->max_entries);
		STOW_TRY(one_entry(r, e));
	}
	if (r->st.stored_bytes == 0)
		return corrupt(r, "empty object");
	return 0;
}

static void reader_init(reader *r, const stow_velero_tar_read_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->max_entry =
	    o && o->max_entry ? o->max_entry : STOW_VELERO_TAR_MAX_ENTRY;
	r->max_total =
	    o && o->max_total ? o->max_total : STOW_VELERO_TAR_MAX_TOTAL;
	r->max_entries =
	    o && o->max_entries ? o->max_entries : STOW_VELERO_TAR_MAX_ENTRIES;
	if (o) {
		r->flags = o->flags;
		r->item_cb = o->item_cb;
		r->error_cb = o->error_cb;
		r->ctx = o->ctx;
	}
	stow_buf_init(&r->chunk, READ_CHUNK);
	/* One entry at a time, at most max_entry bytes (plus slack for the
	 * last read that detects an overrun). */
	stow_buf_init(&r->data,
		      (size_t)(r->max_entry > SIZE_MAX / 2 ? SIZE_MAX / 2
							   : r->max_entry) +
			  64 * 1024);
}

static void reader_done(reader *r)
{
	if (r->a)
		archive_read_free(r->a);
	stow_buf_free(&r->chunk);
	stow_buf_free(&r->data);
	for (size_t i = 0; i < r->n_grs; i++) {
		free(r->grs[i].gr);
		free(r->grs[i].preferred);
	}
	free(r->grs);
	for (size_t i = 0; i < r->n_nss; i++)
		free(r->nss[i]);
	free(r->nss);
}

static int read_any(stow_store *s, const char *key, const void *mem, size_t len,
		    const stow_velero_tar_read_opts *opts,
		    stow_velero_tar_stats *stats)
{
	reader r;
	int rc;

	reader_init(&r, opts);
	r.s = s;
	r.key = key;
	rc = run(&r, mem, len);
	if (stats)
		*stats = r.st;
	reader_done(&r);
	return rc;
}

int stow_velero_tar_read_store(stow_store *s, const char *key,
			       const stow_velero_tar_read_opts *opts,
			       stow_velero_tar_stats *stats)
{
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!s || !key)
		return stow_err_set(STOW_EINVAL, "read: no store or key");
	/* A missing object is "not found", not a corrupt tarball. */
	STOW_TRY(stow_store_stat(s, key, NULL));
	return read_any(s, key, NULL, 0, opts, stats);
}

int stow_velero_tar_read_mem(const void *data, size_t len,
			     const stow_velero_tar_read_opts *opts,
			     stow_velero_tar_stats *stats)
{
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!data && len)
		return stow_err_set(STOW_EINVAL, "read: no data");
	return read_any(NULL, NULL, data ? data : "", len, opts, stats);
}

static int index_any(stow_store *s, const char *key, const void *mem,
		     size_t len, const stow_velero_tar_read_opts *opts,
		     stow_velero_tar_index **out)
{
	stow_velero_tar_read_opts lim = {0};
	stow_velero_tar_index *ix;
	reader r;
	int rc;

	*out = NULL;
	if (opts) {
		lim.max_entry = opts->max_entry;
		lim.max_total = opts->max_total;
		lim.max_entries = opts->max_entries;
	}
	reader_init(&r, &lim);
	r.index = 1;
	r.s = s;
	r.key = key;
	rc = run(&r, mem, len);
	ix = rc == 0 ? calloc(1, sizeof(*ix)) : NULL;
	if (rc == 0 && !ix)
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
	if (rc == 0) {
		ix->stats = r.st;
		ix->grs = calloc(r.n_grs + 1, sizeof(char *));
		ix->preferred_versions = calloc(r.n_grs + 1, sizeof(char *));
		ix->item_counts = calloc(r.n_grs + 1, sizeof(uint64_t));
		if (!ix->grs || !ix->preferred_versions || !ix->item_counts)
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
	}
	for (size_t i = 0; rc == 0 && i < r.n_grs; i++) {
		ix->preferred_versions[i] =
		    strdup(r.grs[i].preferred ? r.grs[i].preferred : "");
		if (!ix->preferred_versions[i]) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			break;
		}
		ix->grs[i] = STOW_TAKE_PTR(r.grs[i].gr);
		ix->item_counts[i] = r.grs[i].items;
		ix->n_grs = i + 1;
	}
	if (rc == 0) {
		ix->namespaces = r.nss ? r.nss : calloc(1, sizeof(char *));
		if (!ix->namespaces)
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
		else {
			ix->n_namespaces = r.n_nss;
			r.nss = NULL;
			r.n_nss = 0;
		}
	}
	reader_done(&r);
	if (rc < 0) {
		stow_velero_tar_index_free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

int stow_velero_tar_index_store(stow_store *s, const char *key,
				const stow_velero_tar_read_opts *opts,
				stow_velero_tar_index **out)
{
	*out = NULL;
	if (!s || !key)
		return stow_err_set(STOW_EINVAL, "index: no store or key");
	STOW_TRY(stow_store_stat(s, key, NULL));
	return index_any(s, key, NULL, 0, opts, out);
}

int stow_velero_tar_index_mem(const void *data, size_t len,
			      const stow_velero_tar_read_opts *opts,
			      stow_velero_tar_index **out)
{
	*out = NULL;
	if (!data && len)
		return stow_err_set(STOW_EINVAL, "index: no data");
	return index_any(NULL, NULL, data ? data : "", len, opts, out);
}

void stow_velero_tar_index_free(stow_velero_tar_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; ix->grs && i < ix->n_grs; i++) {
		free(ix->grs[i]);
		free(ix->preferred_versions[i]);
	}
	free(ix->grs);
	free(ix->preferred_versions);
	free(ix->item_counts);
	for (size_t i = 0; ix->namespaces && i < ix->n_namespaces; i++)
		free(ix->namespaces[i]);
	free(ix->namespaces);
	free(ix);
}
