/* The blob store: the only way the vault touches storage.
 *
 * A store holds immutable objects named by '/'-separated keys made of
 * [A-Za-z0-9._-] segments (e.g. "data/ab/ab12...", "config"). A backend is
 * one file implementing stow_store_ops; backends never include each other.
 * The interface fits an object store (no rename, no append, ranged reads,
 * listing by prefix) as well as a filesystem.
 *
 * Contract for every backend:
 * - put is atomic: a reader sees the whole object or nothing, also after a
 *   crash at any moment. With STOW_PUT_EXCL it fails with STOW_EEXIST when
 *   the key exists (used for locks and key slots); without it, it replaces
 *   (a repeated put of the same immutable object is harmless).
 * - get of a missing key is STOW_ENOTFOUND; a range past the end returns
 *   the bytes that exist (possibly none) - the caller checks the length.
 * - list calls cb for every key starting with prefix, in no fixed order;
 *   a negative return from cb stops the listing and is returned.
 * - Every operation may be called from several threads at once.
 * - close releases everything; the store pointer is invalid afterwards.
 *
 * Errors: STOW_ENOTFOUND, STOW_EEXIST, STOW_EIO, STOW_ENOSPC, STOW_ETIMEOUT,
 * STOW_EINVAL (bad key), STOW_ENOMEM. */
#ifndef STOW_STORAGE_H
#define STOW_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define STOW_STORE_OPS_VERSION 1
#define STOW_PUT_EXCL 1u
/* Durability may wait for the next stow_store_sync(): until then a crash
 * may leave the object missing or damaged under its name. For objects
 * nothing refers to yet (packs before their index object). Backends
 * without a sync make every put durable at once and ignore the flag. */
#define STOW_PUT_DEFER_SYNC 2u
#define STOW_RANGE_END UINT64_MAX

/* The backend writes a streamed put as it comes, at no more cost than one
 * put (fs: a temp file). Without it a streamed put may cost extra
 * requests (S3: a multipart upload), so callers that can hold a small
 * object whole (the vault's packs) should rather use put. */
#define STOW_STORE_CAP_STREAM_NATIVE 1u

typedef struct stow_store stow_store;
typedef struct stow_put_writer stow_put_writer;

typedef int (*stow_store_list_cb)(void *ctx, const char *key, uint64_t size);
/* One level of a listing: an object directly under the prefix (is_dir 0,
 * its size), or a "directory" (is_dir 1, size 0): a key prefix ending in
 * '/' under which at least one object exists (S3's common prefixes). */
typedef int (*stow_store_list_shallow_cb)(void *ctx, const char *key,
					  uint64_t size, int is_dir);

typedef struct stow_store_ops {
	uint32_t version; /* STOW_STORE_OPS_VERSION */
	const char *name; /* "fs", "mem", "s3" */
	unsigned caps;    /* STOW_STORE_CAP_* */
	/* Append bytes [off, off+len) of key to out (len STOW_RANGE_END:
	 * to the end). */
	int (*get)(stow_store *s, const char *key, uint64_t off, uint64_t len,
		   stow_buf *out);
	int (*put)(stow_store *s, const char *key, const void *data,
		   size_t len, unsigned flags);
	/* STOW_ENOTFOUND if absent; *size set otherwise (size may be NULL). */
	int (*stat)(stow_store *s, const char *key, uint64_t *size);
	int (*list)(stow_store *s, const char *prefix, stow_store_list_cb cb,
		    void *ctx);
	/* Deleting a missing key is STOW_ENOTFOUND. */
	int (*del)(stow_store *s, const char *key);
	void (*close)(stow_store *s);
	/* Make every STOW_PUT_DEFER_SYNC put so far durable. May be NULL. */
	int (*sync)(stow_store *s);
	/* Optional (NULL: callers assemble the object and use put): write
	 * one object in pieces without holding it in memory. put_begin
	 * starts it (flags as for put); put_append adds bytes in order;
	 * put_commit publishes it with exactly put's atomicity and
	 * durability contract and frees the writer, success or not;
	 * put_abort discards it and frees the writer. Until commit nothing
	 * is visible under the key. A writer is used by one thread at a
	 * time (callers serialise appends). */
	int (*put_begin)(stow_store *s, const char *key, unsigned flags,
			 stow_put_writer **out);
	int (*put_append)(stow_put_writer *w, const void *data, size_t len);
	int (*put_commit)(stow_put_writer *w);
	void (*put_abort)(stow_put_writer *w);
	/* Optional (NULL: stow_store_list_shallow walks the whole prefix):
	 * one level under prefix ("" or ending in '/'), in no fixed order,
	 * each directory once. */
	int (*list_shallow)(stow_store *s, const char *prefix,
			    stow_store_list_shallow_cb cb, void *ctx);
	/* Optional (NULL: nothing to do): a hint that bytes [off, off+len)
	 * of key will be read soon, so the backend may start fetching them
	 * (fs: kernel read-ahead). Errors are ignored: a missing or short
	 * object shows up at the read. */
	void (*prefetch)(stow_store *s, const char *key, uint64_t off,
			 uint64_t len);
} stow_store_ops;

/* The common head of every backend's put writer. */
struct stow_put_writer {
	const stow_store_ops *ops;
};

struct stow_store {
	const stow_store_ops *ops;
	char *location; /* human-readable, for messages; owned by backend */
};

/* Open by location: "mem:" (a fresh in-memory store), "file:///abs/path"
 * or a plain path (fs backend). With create != 0 the fs backend creates
 * the directory if missing; otherwise a missing directory is
 * STOW_ENOTFOUND with a message saying so. */
int stow_store_open(stow_store **out, const char *location, int create);
int stow_store_fs_open(stow_store **out, const char *path, int create);
int stow_store_mem_open(stow_store **out);

/* Fault injection for tests on the mem backend: after `n` more successful
 * puts, every put fails with STOW_EIO (n < 0 disables). */
void stow_store_mem_fail_puts_after(stow_store *s, long n);

/* List one level under prefix ("" or ending in '/'): the backend's own
 * delimiter listing when it has one (S3: delimiter=/, fs: one directory),
 * else a full listing folded into its first level (memory: the distinct
 * directory names). Errors as list, STOW_EINVAL for a prefix that does
 * not end in '/'. */
int stow_store_list_shallow(stow_store *s, const char *prefix,
			    stow_store_list_shallow_cb cb, void *ctx);

/* 1 if key is well formed (see above), 0 otherwise. */
int stow_store_key_valid(const char *key);
/* 1 if a list prefix is well formed: its part before the last '/' is a
 * valid key, the rest uses only key characters. */
int stow_store_prefix_valid(const char *prefix);

static inline int stow_store_get(stow_store *s, const char *key, uint64_t off,
				 uint64_t len, stow_buf *out)
{
	return s->ops->get(s, key, off, len, out);
}
static inline int stow_store_put(stow_store *s, const char *key,
				 const void *data, size_t len, unsigned flags)
{
	return s->ops->put(s, key, data, len, flags);
}
static inline int stow_store_stat(stow_store *s, const char *key,
				  uint64_t *size)
{
	return s->ops->stat(s, key, size);
}
static inline int stow_store_list(stow_store *s, const char *prefix,
				  stow_store_list_cb cb, void *ctx)
{
	return s->ops->list(s, prefix, cb, ctx);
}
static inline int stow_store_del(stow_store *s, const char *key)
{
	return s->ops->del(s, key);
}
static inline int stow_store_sync(stow_store *s)
{
	return s->ops->sync ? s->ops->sync(s) : 0;
}
static inline void stow_store_prefetch(stow_store *s, const char *key,
				       uint64_t off, uint64_t len)
{
	if (s->ops->prefetch)
		s->ops->prefetch(s, key, off, len);
}
/* 1 if the backend writes objects in pieces (stow_store_put_begin). */
static inline int stow_store_can_stream(const stow_store *s)
{
	return s->ops->put_begin != NULL;
}

/* 1 if streaming costs no more than put (STOW_STORE_CAP_STREAM_NATIVE). */
static inline int stow_store_streams_natively(const stow_store *s)
{
	return s->ops->put_begin && (s->ops->caps & STOW_STORE_CAP_STREAM_NATIVE);
}

static inline int stow_store_put_begin(stow_store *s, const char *key,
				       unsigned flags, stow_put_writer **out)
{
	return s->ops->put_begin(s, key, flags, out);
}

static inline int stow_store_put_append(stow_put_writer *w, const void *data,
					size_t len)
{
	return w->ops->put_append(w, data, len);
}

static inline int stow_store_put_commit(stow_put_writer *w)
{
	return w->ops->put_commit(w);
}

/* Accepts NULL. */
static inline void stow_store_put_abort(stow_put_writer *w)
{
	if (w)
		w->ops->put_abort(w);
}

static inline void stow_store_close(stow_store *s)
{
	if (s)
		s->ops->close(s);
}

#endif
