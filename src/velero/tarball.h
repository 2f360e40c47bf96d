/* The backup tarball, <name>.tar.gz (velero-spec §3): a streaming writer
 * and a reader for hostile input.
 *
 * Layout: a gzip'd tar of regular files only (mode 0755, mtime = write
 * time, no directory entries), first "metadata/version" holding "1.1.0\n",
 * then one compact-JSON file per item at
 *   resources/<gr>/namespaces/<ns>/<name>.json   (namespaced)
 *   resources/<gr>/cluster/<name>.json           (cluster-scoped)
 * and the same bytes again under resources/<gr>/<version>-preferredversion/
 * for items stored at the server-preferred version. <gr> is the plural
 * resource, then "." and the group unless it is the core group
 * ("pods", "deployments.apps").
 *
 * Writer: tar headers as Go's archive/tar writes for these files (USTAR;
 * libarchive's restricted pax adds a pax header only where USTAR cannot
 * hold the path, as Go does), through libarchive's gzip filter, straight
 * into a streamed store put: memory holds one item's JSON and zlib's
 * window, never the tarball (on a backend without streamed puts the
 * object is assembled in memory up to STOW_VELERO_SINK_MEM_CAP, see
 * sink.h). Nothing is visible under the key until commit.
 *
 * Reader: the tarball is untrusted. It is streamed from the store by
 * ranged gets (or from a buffer) through libarchive, and rejected as a
 * whole with STOW_ECORRUPT and a message naming the entry when an entry
 * is an absolute path or has a ".." component, is anything but a regular
 * file or a directory (symlink, hard link, device, fifo), declares more
 * than max_entry bytes, pushes the total past max_total, or is one entry
 * too many; or when the gzip or tar stream is damaged or truncated.
 * Per-item problems (bad JSON, not an object, metadata.name or namespace
 * differing from the path, a path that is not an item path) go to the
 * error callback and the walk continues. Directory entries (written by
 * other tar tools) and a leading "./" are tolerated.
 *
 * Thread safety: a writer or a read runs on one thread; several may run
 * at once on different tarballs. */
#ifndef STOW_VELERO_TARBALL_H
#define STOW_VELERO_TARBALL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "storage/storage.h"
#include "velero/layout.h"

#define STOW_VELERO_TAR_FORMAT_VERSION "1.1.0"
/* Default limits for the reader. Kubernetes objects are at most a few
 * MiB (etcd's request limit), so an entry of 64 MiB is hostile. */
#define STOW_VELERO_TAR_MAX_ENTRY ((uint64_t)64 << 20)
#define STOW_VELERO_TAR_MAX_TOTAL ((uint64_t)16 << 30)
#define STOW_VELERO_TAR_MAX_ENTRIES ((uint64_t)4 << 20)

typedef struct stow_velero_tar_stats {
	uint64_t items;	       /* writer: add_item calls; reader: items
				* handed to the item callback */
	uint64_t entries;      /* tar entries (files; directories too when
				* reading) */
	uint64_t item_errors;  /* reader: items reported to the error cb */
	uint64_t bytes;	       /* uncompressed bytes of file contents */
	uint64_t stored_bytes; /* compressed bytes written or read */
	char version[16];      /* reader: metadata/version ("" if absent) */
} stow_velero_tar_stats;

/* ---- writer ---- */

typedef struct stow_velero_tar_writer stow_velero_tar_writer;

/* Start backups/<backup>/<backup>.tar.gz in loc. metadata/version is
 * the first entry (written with the first item, or at commit for an
 * empty backup). Errors: STOW_EINVAL (bad name), the store's. */
int stow_velero_tar_writer_open(stow_velero_tar_writer **out,
				const stow_velero_location *loc,
				const char *backup);
/* The same into any key of a store (tests, the finalizer's rewrite). */
int stow_velero_tar_writer_open_key(stow_velero_tar_writer **out, stow_store *s,
				    const char *key);
/* Every entry from now on gets this mtime instead of the time it is
 * written (reproducible test output). */
void stow_velero_tar_writer_set_mtime(stow_velero_tar_writer *w, time_t t);

/* Add one item: gr as above, ns NULL (or "") for cluster-scoped.
 * - version non-NULL and preferred: written twice, un-versioned and under
 *   <version>-preferredversion/ (what Velero does for every item it
 *   collects at the preferred version);
 * - version non-NULL, not preferred: only under <version>/ (Velero's
 *   EnableAPIGroupVersions for the other versions);
 * - version NULL: only un-versioned.
 * The content is the compact Go encoding of obj with sorted keys
 * (gzjson.h). The caller adds each item once. STOW_EINVAL for a gr,
 * namespace, name or version that cannot form a safe path (empty, '/',
 * "." or "..", over 253 bytes). After any failure the writer can only be
 * freed. */
int stow_velero_tar_writer_add_item(stow_velero_tar_writer *w, const char *gr,
				    const char *version, int preferred,
				    const char *ns, const char *name,
				    const json_t *obj);
/* Add a raw file at a relative path (no "..", not absolute). */
int stow_velero_tar_writer_add_file(stow_velero_tar_writer *w, const char *path,
				    const void *data, size_t len);
/* Finish the archive and publish the object; frees w, success or not.
 * stats may be NULL. */
int stow_velero_tar_writer_commit(stow_velero_tar_writer *w,
				  stow_velero_tar_stats *stats);
/* Discard an uncommitted tarball. Accepts NULL. */
void stow_velero_tar_writer_free(stow_velero_tar_writer *w);

/* ---- reader ---- */

typedef struct stow_velero_tar_item {
	const char *path;    /* the entry's path as stored */
	const char *gr;	     /* "deployments.apps" */
	const char *version; /* NULL for the un-versioned copy */
	int preferred;	     /* the <version>-preferredversion copy */
	const char *ns;	     /* NULL for cluster-scoped */
	const char *name;
} stow_velero_tar_item;

/* obj is borrowed for the call (json_incref to keep it). A negative
 * return stops the read and is returned. */
typedef int (*stow_velero_tar_item_cb)(void *ctx,
				       const stow_velero_tar_item *it,
				       json_t *obj);
/* it has path always; gr/ns/name when the path parsed. msg says what is
 * wrong. A negative return stops the read and is returned. */
typedef int (*stow_velero_tar_error_cb)(void *ctx,
					const stow_velero_tar_item *it,
					const char *msg);

/* Only hand over the un-versioned copy of each item (skip the
 * <version>[-preferredversion]/ copies without parsing them). */
#define STOW_VELERO_TAR_UNVERSIONED_ONLY 1u

typedef struct stow_velero_tar_read_opts {
	uint64_t max_entry;   /* 0: STOW_VELERO_TAR_MAX_ENTRY */
	uint64_t max_total;   /* 0: STOW_VELERO_TAR_MAX_TOTAL */
	uint64_t max_entries; /* 0: STOW_VELERO_TAR_MAX_ENTRIES */
	unsigned flags;
	stow_velero_tar_item_cb item_cb;   /* may be NULL */
	stow_velero_tar_error_cb error_cb; /* may be NULL */
	void *ctx;
} stow_velero_tar_read_opts;

/* Read a tarball from a store object (streamed in 1 MiB ranged gets) or
 * from memory. opts may be NULL (defaults, no callbacks: a validation
 * pass). stats may be NULL; on failure it holds the counts so far.
 * Errors: STOW_ECORRUPT (see above), STOW_ENOTFOUND, the store's, a
 * callback's. */
int stow_velero_tar_read_store(stow_store *s, const char *key,
			       const stow_velero_tar_read_opts *opts,
			       stow_velero_tar_stats *stats);
int stow_velero_tar_read_mem(const void *data, size_t len,
			     const stow_velero_tar_read_opts *opts,
			     stow_velero_tar_stats *stats);

/* What a tarball holds, without parsing items: the group-resources and
 * the namespaces of namespaced items, each sorted bytewise and unique,
 * and per group-resource the preferred version seen ("" if none) and the
 * number of un-versioned items. The same hostile-input checks as a read
 * (items are not parsed, so no per-item errors). */
typedef struct stow_velero_tar_index {
	size_t n_grs;
	char **grs;
	char **preferred_versions; /* parallel to grs */
	uint64_t *item_counts;	   /* parallel to grs */
	size_t n_namespaces;
	char **namespaces;
	stow_velero_tar_stats stats;
} stow_velero_tar_index;

/* opts: the limits are used, callbacks and flags ignored; may be NULL.
 * *out is the caller's (stow_velero_tar_index_free). */
int stow_velero_tar_index_store(stow_store *s, const char *key,
				const stow_velero_tar_read_opts *opts,
				stow_velero_tar_index **out);
int stow_velero_tar_index_mem(const void *data, size_t len,
			      const stow_velero_tar_read_opts *opts,
			      stow_velero_tar_index **out);
void stow_velero_tar_index_free(stow_velero_tar_index *ix);

#endif
