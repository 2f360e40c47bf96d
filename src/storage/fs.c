/* The filesystem backend: one file per object under a root directory that
 * may be a local disk or an NFS mount shared by several hosts.
 *
 * Crash safety (the full argument is in docs/storage.md):
 * - put writes a temp file with a unique name in the object's own
 *   directory, fsyncs it, and only then gives it the final name with
 *   rename() (replace) or link() (STOW_PUT_EXCL, fails atomically with
 *   EEXIST). A name therefore only ever points at complete, durable bytes:
 *   a crash or a failed write leaves at worst a ".tmp.*" file, which list
 *   and get never see (keys cannot start with '.').
 * - The directory is fsynced after the rename/link so that the new name
 *   survives a crash before put returns; every directory on the path from
 *   the root is fsynced once per store handle (and whenever we mkdir it),
 *   so a concurrent writer's not-yet-synced mkdir cannot lose our object.
 * - No flock/fcntl locks: they are unreliable on NFS. Exclusivity comes
 *   only from link(), which NFS servers perform atomically.
 *
 * Thread safety: operations share no mutable state except the set of
 * directories known to be durable, guarded by a mutex. Every operation
 * works on paths (no long-lived directory fds), which keeps NFS
 * stale-handle trouble to the kernel's own lookup retries. */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fdio.h"

#define KEY_MAX 1024
/* Cap on remembered durable directories; past it we simply fsync the
 * ancestors on every put, which is slower but still correct. */
#define DURABLE_DIRS_MAX 4096
/* How much of the key's last segment goes into a temp name, keeping it
 * far below NAME_MAX while still telling a human what it was. */
#define TEMP_BASE_MAX 64
/* Largest single read/write request (Linux caps at ~2 GiB anyway). */
#define IO_CHUNK ((size_t)1 << 30)
/* Deferred-sync objects whose descriptors stay open while the disk writes
 * them back (see window_push): with 8 MiB packs, at most ~64 MiB of a
 * backup's output sits in the page cache at once. */
#define WRITEBACK_WINDOW 8

/* A deferred object written but not yet known to be on disk. */
typedef struct wb_entry {
	int fd;
	char *path; /* final name, for messages */
} wb_entry;

typedef struct fs_store {
	stow_store base;     /* base.location is the root path */
	char *root;	     /* no trailing '/', except for "/" itself */
	pthread_mutex_t mu;  /* guards durable_dirs */
	char **durable_dirs; /* root-relative directories already synced */
	size_t n_durable, cap_durable;
	/* STOW_PUT_DEFER_SYNC objects not yet fsynced (keys), under mu */
	char **deferred;
	size_t n_deferred, cap_deferred;
	/* the newest of them, still open, oldest first (ring), under mu */
	wb_entry window[WRITEBACK_WINDOW];
	size_t win_head, win_len;
} fs_store;

static fs_store *to_fs(stow_store *s)
{
	return (fs_store *)s;
}

static void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static const char *errstr(int err, char *buf, size_t n)
{
	/* GNU strerror_r: thread-safe, returns the message pointer. */
	return strerror_r(err, buf, n);
}

/* Map an errno to a stow code and record "<what> <path>: <strerror>".
 * ENOENT/ENOTDIR map to `missing_code`: "not found" for reads, plain I/O
 * error for writes (where a missing path is our problem, not the
 * caller's). */
static int os_fail(int err, int missing_code, const char *what,
		   const char *path)
{
	char eb[128];
	int code;

	switch (err) {
	case ENOSPC:
	case EDQUOT: code = STOW_ENOSPC; break;
	case ENOMEM: code = STOW_ENOMEM; break;
	case ETIMEDOUT: code = STOW_ETIMEOUT; break;
	case ENOENT:
	case ENOTDIR: code = missing_code; break;
	case ENAMETOOLONG: code = STOW_EINVAL; break;
	default: code = STOW_EIO; break;
	}
	errno = err;
	return stow_err_set(code, "%s %s: %s", what, path,
			    errstr(err, eb, sizeof(eb)));
}

static int bad_key(const char *key)
{
	return stow_err_set(STOW_EINVAL, "invalid object key \"%.200s\"",
			    key ? key : "(null)");
}

static int not_found(const fs_store *fs, const char *key)
{
	errno = ENOENT;
	return stow_err_set(STOW_ENOTFOUND, "no object %s in %s", key,
			    fs->root);
}

static int conflict(const char *key, const char *path)
{
	return stow_err_set(STOW_EINVAL,
			    "put %s: %s is in the way (a key cannot also be "
			    "a directory of other keys)",
			    key, path);
}

/* root + '/' + the first rel_len bytes of rel (just root if rel_len is 0).
 * NULL on allocation failure, with the error recorded. */
static char *path_of(const fs_store *fs, const char *rel, size_t rel_len)
{
	size_t rlen = strlen(fs->root), n;
	int sep = rlen > 0 && fs->root[rlen - 1] != '/';
	char *p;

	n = rlen + (size_t)sep + rel_len + 1;
	p = malloc(n);
	if (!p) {
		stow_err_set(STOW_ENOMEM, "out of memory");
		return NULL;
	}
	memcpy(p, fs->root, rlen);
	if (rel_len) {
		if (sep)
			p[rlen++] = '/';
		memcpy(p + rlen, rel, rel_len);
		rlen += rel_len;
	}
	p[rlen] = '\0';
	return p;
}

/* fsync a directory so that the names in it are durable. Filesystems that
 * cannot sync a directory (EINVAL, e.g. some FUSE mounts) are treated as
 * having nothing to sync; NFS commits directory operations on the server
 * before replying, so there it is a cheap no-op. */
static int fsync_dir(const char *path)
{
	_cleanup_close_ int fd = -1;

	do
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return os_fail(errno, STOW_EIO, "opening directory", path);
	if (fsync(fd) != 0 && errno != EINVAL && errno != EOPNOTSUPP &&
	    errno != ENOTSUP)
		return os_fail(errno, STOW_EIO, "syncing directory", path);
	return 0;
}

/* fsync the directory containing path[0..end) (the parent of the
 * component ending at `end`). */
static int fsync_parent(char *path, size_t end)
{
	size_t j = end;
	char saved;
	int rc;

	while (j > 0 && path[j - 1] != '/')
		j--;
	if (j == 0)
		return fsync_dir(".");
	if (j == 1)
		return fsync_dir("/");
	saved = path[j - 1];
	path[j - 1] = '\0';
	rc = fsync_dir(path);
	path[j - 1] = saved;
	return rc;
}

/* mkdir -p for the components of path after byte `start` (path[0..start)
 * must exist). Safe against concurrent creators: EEXIST is success. The
 * parent of every component is fsynced - also when someone else created
 * it, since that writer may not have synced it yet and our object would
 * hang off an entry that a crash can still lose. `sync_existing` = 0
 * skips that for components that already existed (used for the path
 * leading to a new repository root, which is not ours to sync). */
static int mkdir_p(char *path, size_t start, int sync_existing)
{
	size_t len = strlen(path);

	for (size_t i = start; i <= len; i++) {
		int rc, created;

		if (i < len && path[i] != '/')
			continue;
		if (i == 0 || path[i - 1] == '/')
			continue; /* leading or doubled '/' */
		path[i] = '\0';
		created = mkdir(path, 0755) == 0;
		if (!created && errno == ENOTDIR) {
			rc = stow_err_set(STOW_EINVAL,
					  "creating directory %s: a component "
					  "of it is a file (a key cannot also "
					  "be a directory of other keys)",
					  path);
			path[i] = i < len ? '/' : '\0';
			return rc;
		}
		if (!created && errno != EEXIST) {
			rc = os_fail(errno, STOW_EIO, "creating directory",
				     path);
			path[i] = i < len ? '/' : '\0';
			return rc;
		}
		rc = (created || sync_existing) ? fsync_parent(path, i) : 0;
		path[i] = i < len ? '/' : '\0';
		if (rc < 0)
			return rc;
	}
	return 0;
}

static uint64_t random_u64(void)
{
	static _Atomic uint64_t counter;
	uint64_t r;
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* No entropy yet (early boot): uniqueness is all we need, and
	 * O_EXCL catches the rest. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
	       (counter++ << 40);
}

/* Create and open a fresh temp file next to the object:
 * DIR/.tmp.<base>.<pid>.<tid>.<random>. pid+tid make names unique per
 * writer on one host, the random part across hosts sharing an NFS export;
 * O_EXCL makes a collision a retry, never a shared file. A missing
 * directory is created (mkdir -p) and the open retried. */
static int create_temp(fs_store *fs, const char *key, size_t dir_len,
		       char **tmp_out, int *fd_out)
{
	const char *base = key + dir_len + (dir_len ? 1 : 0);
	_cleanup_free_ char *dir = path_of(fs, key, dir_len);
	int mkdirs = 0, collisions = 0;

	if (!dir)
		return STOW_ENOMEM;
	for (;;) {
		_cleanup_free_ char *tmp = NULL;
		int n, fd, err;

		n = snprintf(NULL, 0, "%s/.tmp.%.*s.%ld.%ld.%016llx", dir,
			     TEMP_BASE_MAX, base, (long)getpid(),
			     (long)gettid(), 0ULL);
		tmp = malloc((size_t)n + 1);
		if (!tmp)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		snprintf(tmp, (size_t)n + 1, "%s/.tmp.%.*s.%ld.%ld.%016llx",
			 dir, TEMP_BASE_MAX, base, (long)getpid(),
			 (long)gettid(), (unsigned long long)random_u64());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			*fd_out = fd;
			*tmp_out = STOW_TAKE_PTR(tmp);
			return 0;
		}
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EEXIST && ++collisions < 16)
			continue;
		if (err == ENOENT && dir_len && ++mkdirs <= 3) {
			/* A concurrent rmdir could race us, hence the retry
			 * budget instead of a single attempt. */
			STOW_TRY(mkdir_p(dir, strlen(fs->root) + 1, 1));
			continue;
		}
		if (err == ENOTDIR)
			return conflict(key, dir);
		if (err == ENOENT)
			return os_fail(err, STOW_EIO,
				       "creating temporary file (is the "
				       "repository directory still there?)",
				       tmp);
		return os_fail(err, STOW_EIO, "creating temporary file", tmp);
	}
}

static int write_all(int fd, const uint8_t *p, size_t len, const char *path)
{
	while (len > 0) {
		size_t chunk = len < IO_CHUNK ? len : IO_CHUNK;
		ssize_t w = write(fd, p, chunk);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return os_fail(errno, STOW_EIO, "writing", path);
		}
		if (w == 0) {
			errno = EIO;
			return stow_err_set(STOW_EIO,
					    "writing %s: no progress (write "
					    "returned 0)",
					    path);
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Whether `path` is the very inode we wrote. Used after a failed rename or
 * link: on NFS a retransmitted request can report failure (ENOENT,
 * EEXIST) for an operation the server already performed; the inode tells
 * the truth (the check open(2) recommends for link-based locking). */
static int path_is_inode(const char *path, const struct stat *ours)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_dev == ours->st_dev &&
	       st.st_ino == ours->st_ino;
}

static int commit_replace(const char *key, const char *tmp, const char *final,
			  const struct stat *st)
{
	int err;

	if (rename(tmp, final) == 0)
		return 0;
	err = errno;
	if (path_is_inode(final, st))
		return 0;
	if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
		return conflict(key, final);
	if (err == ENOTDIR)
		return conflict(key, final);
	return os_fail(err, STOW_EIO, "renaming temporary file to", final);
}

static int commit_excl(const char *key, const char *tmp, const char *final,
		       const struct stat *st)
{
	struct stat fst;
	int err;

	if (link(tmp, final) == 0)
		return 0;
	err = errno;
	if (path_is_inode(final, st))
		return 0;
	if (err == EEXIST) {
		if (stat(final, &fst) == 0 && S_ISDIR(fst.st_mode))
			return conflict(key, final);
		return stow_err_set(
		    STOW_EEXIST, "object %s already exists (%s)", key, final);
	}
	if (err == EPERM || err == EOPNOTSUPP || err == ENOSYS ||
	    err == EMLINK) {
		/* No hard links here (some FUSE/SMB mounts). Linux's
		 * no-replace rename is the other atomic create-if-absent;
		 * NFS always supports link, so this is local-only. */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final,
			      RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			return stow_err_set(STOW_EEXIST,
					    "object %s already exists (%s)",
					    key, final);
		if (errno == EINVAL || errno == ENOSYS)
			return stow_err_set(STOW_EUNSUPPORTED,
					    "exclusive create of %s: the "
					    "filesystem supports neither "
					    "link() nor RENAME_NOREPLACE",
					    final);
		return os_fail(errno, STOW_EIO, "renaming temporary file to",
			       final);
	}
	return os_fail(err, STOW_EIO, "linking temporary file to", final);
}

static int durable_known(fs_store *fs, const char *dir, size_t len)
{
	int found = 0;

	pthread_mutex_lock(&fs->mu);
	for (size_t i = 0; i < fs->n_durable && !found; i++)
		found = strlen(fs->durable_dirs[i]) == len &&
			memcmp(fs->durable_dirs[i], dir, len) == 0;
	pthread_mutex_unlock(&fs->mu);
	return found;
}

static void durable_add(fs_store *fs, const char *dir, size_t len)
{
	char *copy;

	if (durable_known(fs, dir, len))
		return;
	copy = strndup(dir, len);
	if (!copy)
		return; /* only a cache: next put syncs again */
	pthread_mutex_lock(&fs->mu);
	if (fs->n_durable == fs->cap_durable &&
	    fs->cap_durable < DURABLE_DIRS_MAX) {
		size_t ncap = fs->cap_durable ? fs->cap_durable * 2 : 16;
		char **nv = realloc(fs->durable_dirs, ncap * sizeof(*nv));

		if (nv) {
			fs->durable_dirs = nv;
			fs->cap_durable = ncap;
		}
	}
	if (fs->n_durable < fs->cap_durable) {
		fs->durable_dirs[fs->n_durable++] = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&fs->mu);
	free(copy);
}

static int defer_add(fs_store *fs, const char *key)
{
	char *copy = strdup(key);
	int rc = 0;

	if (!copy)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_lock(&fs->mu);
	if (fs->n_deferred == fs->cap_deferred) {
		size_t ncap = fs->cap_deferred ? fs->cap_deferred * 2 : 64;
		char **nv = realloc(fs->deferred, ncap * sizeof(*nv));

		if (!nv)
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
		else {
			fs->deferred = nv;
			fs->cap_deferred = ncap;
		}
	}
	if (rc == 0)
		fs->deferred[fs->n_deferred++] = copy;
	pthread_mutex_unlock(&fs->mu);
	if (rc < 0)
		free(copy);
	return rc;
}

/* The write-behind window. A backup writes each pack once and reads it
 * again only at restore or check, so keeping its pages cached buys nothing
 * and costs the node memory it would rather give its workloads (page cache
 * counts against a pod's memory limit). A deferred object's writeback is
 * started at commit; once WRITEBACK_WINDOW newer objects have followed, it
 * has usually finished: wait for it, drop the now clean pages, close. The
 * pages freed are the ones the next packs are written into, so a backup
 * touches a window's worth of page cache, not its whole output. The
 * object's name still becomes durable only at stow_store_sync (fsync of
 * the file and of its directories); this only moves the data writes, and
 * reports their errors, earlier. */
static int window_retire(wb_entry *e)
{
	int err = stow_fd_retire(e->fd), rc = 0;

	if (err)
		rc = os_fail(err, STOW_EIO, "writing", e->path);
	free(e->path);
	e->fd = -1;
	e->path = NULL;
	return rc;
}

/* Takes fd (and closes it on every path); may retire the oldest entry. */
static int window_push(fs_store *fs, int fd, const char *path)
{
	wb_entry old = {.fd = -1}, *slot;
	char *copy = strdup(path);

	if (!copy) {
		close(fd);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&fs->mu);
	if (fs->win_len == WRITEBACK_WINDOW) {
		old = fs->window[fs->win_head];
		fs->win_head = (fs->win_head + 1) % WRITEBACK_WINDOW;
		fs->win_len--;
	}
	slot = &fs->window[(fs->win_head + fs->win_len) % WRITEBACK_WINDOW];
	slot->fd = fd;
	slot->path = copy;
	fs->win_len++;
	pthread_mutex_unlock(&fs->mu);
	return old.fd >= 0 ? window_retire(&old) : 0;
}

/* Retire every open entry; the first error wins. */
static int window_drain(fs_store *fs)
{
	wb_entry e;
	int rc = 0, r;

	for (;;) {
		pthread_mutex_lock(&fs->mu);
		if (fs->win_len == 0) {
			pthread_mutex_unlock(&fs->mu);
			return rc;
		}
		e = fs->window[fs->win_head];
		fs->win_head = (fs->win_head + 1) % WRITEBACK_WINDOW;
		fs->win_len--;
		pthread_mutex_unlock(&fs->mu);
		r = window_retire(&e);
		if (rc == 0)
			rc = r;
	}
}

/* Make the object's name durable: sync its directory, and (once per
 * directory per store handle) every directory from the root down to it,
 * so each link of the path is on stable storage. */
static int make_durable(fs_store *fs, const char *key, size_t dir_len)
{
	_cleanup_free_ char *dir = path_of(fs, key, dir_len);
	size_t off, dlen;

	if (!dir)
		return STOW_ENOMEM;
	STOW_TRY(fsync_dir(dir));
	if (dir_len == 0 || durable_known(fs, key, dir_len))
		return 0;
	/* dir is root/k1/k2/...; sync root and each proper ancestor. */
	dlen = strlen(dir);
	off = dlen - dir_len;
	for (size_t i = off - 1; i < dlen; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		STOW_TRY(fsync_dir(i == 0 ? "/" : dir));
		dir[i] = '/';
	}
	durable_add(fs, key, dir_len);
	return 0;
}

/* A put in progress: the temp file and where it goes. fs_put is
 * begin + one append + commit, so both paths share one crash argument. */
typedef struct fs_put_writer {
	stow_put_writer base;
	fs_store *fs;
	char *key, *final, *tmp;
	size_t dir_len;
	unsigned flags;
	int fd;
	int failed; /* an append failed: commit must not publish */
} fs_put_writer;

static const stow_store_ops fs_ops;

static void put_writer_free(fs_put_writer *pw)
{
	if (pw->fd >= 0)
		close(pw->fd);
	if (pw->tmp)
		unlink(pw->tmp);
	free(pw->key);
	free(pw->final);
	free(pw->tmp);
	free(pw);
}

static int fs_put_begin(stow_store *s, const char *key, unsigned flags,
			stow_put_writer **out)
{
	fs_store *fs = to_fs(s);
	fs_put_writer *pw;
	const char *slash;
	int rc;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pw->base.ops = &fs_ops;
	pw->fs = fs;
	pw->fd = -1;
	pw->flags = flags;
	slash = strrchr(key, '/');
	pw->dir_len = slash ? (size_t)(slash - key) : 0;
	pw->key = strdup(key);
	pw->final = path_of(fs, key, strlen(key));
	if (!pw->key || !pw->final) {
		put_writer_free(pw);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	rc = create_temp(fs, key, pw->dir_len, &pw->tmp, &pw->fd);
	if (rc < 0) {
		put_writer_free(pw);
		return rc;
	}
	*out = &pw->base;
	return 0;
}

static int fs_put_append(stow_put_writer *w, const void *data, size_t len)
{
	fs_put_writer *pw = (fs_put_writer *)w;
	int rc;

	if (pw->failed)
		return stow_err_set(STOW_EIO, "put %s: an earlier write failed",
				    pw->key);
	rc = write_all(pw->fd, data, len, pw->tmp);
	if (rc < 0)
		pw->failed = 1;
	return rc;
}

static void fs_put_abort(stow_put_writer *w)
{
	put_writer_free((fs_put_writer *)w);
}

static int fs_put_commit(stow_put_writer *w)
{
	fs_put_writer *pw = (fs_put_writer *)w;
	unsigned flags = pw->flags;
	bool deferred = (flags & STOW_PUT_DEFER_SYNC) && !(flags & STOW_PUT_EXCL);
	struct stat st;
	int fd = pw->fd, rc = 0;

	if (pw->failed) {
		rc = stow_err_set(STOW_EIO, "put %s: an earlier write failed",
				  pw->key);
		put_writer_free(pw);
		return rc;
	}
	pw->fd = -1;
	/* The bytes must be on stable storage before any name points at
	 * them: rename/link only orders the name, not the data. */
	if (deferred)
		/* Start writeback now, wait for it in the write-behind window
		 * or at stow_store_sync: the disk works while we compute, and
		 * the syncs are batched. */
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	else if (fsync(fd) != 0)
		rc = os_fail(errno, STOW_EIO, "syncing", pw->tmp);
	if (rc == 0 && fstat(fd, &st) != 0)
		rc = os_fail(errno, STOW_EIO, "stat of", pw->tmp);
	/* NFS reports deferred write errors at close; after a successful
	 * fsync EINTR only means the descriptor is gone. A deferred object
	 * that is about to be published stays open in the window instead. */
	if (!(deferred && rc == 0)) {
		if (close(fd) != 0 && errno != EINTR && rc == 0)
			rc = os_fail(errno, STOW_EIO, "closing", pw->tmp);
		fd = -1;
	}
	if (rc == 0)
		rc = (flags & STOW_PUT_EXCL)
			 ? commit_excl(pw->key, pw->tmp, pw->final, &st)
			 : commit_replace(pw->key, pw->tmp, pw->final, &st);
	if (fd >= 0) { /* deferred, still open */
		int wrc;

		if (rc < 0) {
			close(fd);
		} else {
			wrc = window_push(pw->fs, fd, pw->final);
			if (wrc < 0)
				rc = wrc; /* an older object failed: fail
					   * the session here */
		}
	}
	/* After a successful rename the temp name no longer exists; after
	 * link() (or any failure) it must go: put_writer_free unlinks it. */
	if (rc == 0 && !(flags & STOW_PUT_EXCL)) {
		free(pw->tmp);
		pw->tmp = NULL;
	}
	if (rc == 0)
		rc = deferred ? defer_add(pw->fs, pw->key)
			      /* From here the object is visible; a failure
			       * means "may or may not survive a crash",
			       * reported as STOW_EIO. */
			      : make_durable(pw->fs, pw->key, pw->dir_len);
	put_writer_free(pw);
	return rc;
}

static int fs_put(stow_store *s, const char *key, const void *data, size_t len,
		  unsigned flags)
{
	stow_put_writer *w;
	int rc;

	if (!data && len)
		return stow_err_set(STOW_EINVAL, "put %s: no data", key);
	STOW_TRY(fs_put_begin(s, key, flags, &w));
	rc = fs_put_append(w, data, len);
	if (rc < 0) {
		fs_put_abort(w);
		return rc;
	}
	return fs_put_commit(w);
}

/* fsync every deferred object, then its directory path (make_durable).
 * A deferred object that vanished (deleted meanwhile) is skipped. */
static int fs_sync(stow_store *s)
{
	fs_store *fs = to_fs(s);
	char **keys;
	size_t n;
	int rc = window_drain(fs);

	pthread_mutex_lock(&fs->mu);
	keys = fs->deferred;
	n = fs->n_deferred;
	fs->deferred = NULL;
	fs->n_deferred = fs->cap_deferred = 0;
	pthread_mutex_unlock(&fs->mu);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;
		const char *slash;
		int fd;

		if (rc == 0 && (path = path_of(fs, keys[i], strlen(keys[i])))) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (fsync(fd) != 0)
					rc = os_fail(errno, STOW_EIO, "syncing",
						     path);
				close(fd);
			} else if (errno != ENOENT) {
				rc = os_fail(errno, STOW_EIO, "opening", path);
			}
			slash = strrchr(keys[i], '/');
			if (rc == 0)
				rc = make_durable(fs, keys[i],
						  slash ? (size_t)(slash - keys[i])
							: 0);
		} else if (rc == 0) {
			rc = STOW_ENOMEM;
		}
		free(keys[i]);
	}
	free(keys);
	return rc;
}

static int open_object(fs_store *fs, const char *key, int *fd_out,
		       struct stat *st, char **path_out)
{
	_cleanup_free_ char *path = NULL;
	int fd;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	path = path_of(fs, key, strlen(key));
	if (!path)
		return STOW_ENOMEM;
	do
		/* O_NONBLOCK: a FIFO planted under a key's name must not
		 * block us in open(); it is rejected below as not a file. */
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return not_found(fs, key);
		return os_fail(errno, STOW_ENOTFOUND, "opening", path);
	}
	if (fstat(fd, st) != 0) {
		int rc = os_fail(errno, STOW_EIO, "stat of", path);

		close(fd);
		return rc;
	}
	if (!S_ISREG(st->st_mode)) {
		/* A directory of other keys is not itself an object. */
		close(fd);
		return not_found(fs, key);
	}
	(void)fcntl(fd, F_SETFL, 0); /* plain blocking reads from here */
	*fd_out = fd;
	*path_out = STOW_TAKE_PTR(path);
	return 0;
}

static int fs_get(stow_store *s, const char *key, uint64_t off, uint64_t len,
		  stow_buf *out)
{
	fs_store *fs = to_fs(s);
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t size, want;
	size_t got = 0;

	STOW_TRY(open_object(fs, key, &fd, &st, &path));
	size = (uint64_t)st.st_size;
	if (off >= size)
		return 0;
	want = size - off;
	if (len < want)
		want = len;
	if (want > SIZE_MAX)
		return stow_err_set(STOW_ENOMEM,
				    "get %s: %llu bytes do not "
				    "fit in memory",
				    key, (unsigned long long)want);
	if (stow_buf_reserve(out, (size_t)want) < 0)
		return stow_err_wrap(STOW_ENOMEM, "get %s", key);
	/* pread may return less than asked (signals, NFS rsize); loop. A
	 * premature EOF means the file is shorter than fstat said, which an
	 * immutable object never is; we return what exists and the caller's
	 * length check catches it. */
	while (got < (size_t)want) {
		size_t chunk = (size_t)want - got;
		ssize_t r;

		if (chunk > IO_CHUNK)
			chunk = IO_CHUNK;
		r = pread(fd, out->data + out->len + got, chunk,
			  (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return os_fail(errno, STOW_EIO, "reading", path);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	out->len += got;
	return 0;
}

/* Start the kernel reading the range into the page cache (asynchronous
 * read-ahead; pages already cached cost nothing). */
static void fs_prefetch(stow_store *s, const char *key, uint64_t off,
			uint64_t len)
{
	fs_store *fs = to_fs(s);
	_cleanup_free_ char *path = NULL;
	int fd;

	if (!stow_store_key_valid(key) ||
	    !(path = path_of(fs, key, strlen(key))))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	(void)posix_fadvise(fd, (off_t)off,
			    len == STOW_RANGE_END ? 0 : (off_t)len,
			    POSIX_FADV_WILLNEED);
	close(fd);
}

static int fs_stat(stow_store *s, const char *key, uint64_t *size)
{
	fs_store *fs = to_fs(s);
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	path = path_of(fs, key, strlen(key));
	if (!path)
		return STOW_ENOMEM;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return not_found(fs, key);
		return os_fail(errno, STOW_ENOTFOUND, "stat of", path);
	}
	if (!S_ISREG(st.st_mode))
		return not_found(fs, key);
	if (size)
		*size = (uint64_t)st.st_size;
	return 0;
}

static int fs_del(stow_store *s, const char *key)
{
	fs_store *fs = to_fs(s);
	_cleanup_free_ char *path = NULL;
	const char *slash;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	path = path_of(fs, key, strlen(key));
	if (!path)
		return STOW_ENOMEM;
	if (unlink(path) != 0) {
		/* Linux unlink() of a directory is EISDIR: not an object. */
		if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
			return not_found(fs, key);
		return os_fail(errno, STOW_EIO, "deleting", path);
	}
	/* Directories are never removed: a concurrent put may be about to
	 * create its temp file in them, and empty ones cost nothing.
	 * Sync so a deleted lock does not come back after a crash. */
	slash = strrchr(path, '/');
	path[slash ? (size_t)(slash - path) : 0] = '\0';
	return fsync_dir(path[0] ? path : "/");
}

typedef struct walk {
	fs_store *fs;
	stow_store_list_cb cb;
	void *ctx;
	char key[KEY_MAX + 2]; /* the key being built, root-relative */
} walk;

static int walk_fail(walk *w, size_t klen, const char *what)
{
	int err = errno;
	_cleanup_free_ char *path = path_of(w->fs, w->key, klen);

	return os_fail(err, STOW_EIO, what, path ? path : w->key);
}

/* List directory dfd (consumed), whose root-relative path with a trailing
 * '/' is w->key[0..klen). Only names starting with `filter` (if any) are
 * taken at this level. Dot-names (our temp files, anything hidden) and
 * names that are not valid key segments (lost+found, strays) are skipped,
 * as are symlinks, so a link loop cannot make us recurse forever. */
static int walk_dir(walk *w, int dfd, size_t klen, const char *filter)
{
	size_t flen = filter ? strlen(filter) : 0;
	struct dirent *de;
	DIR *d = fdopendir(dfd);
	int rc = 0;

	if (!d) {
		close(dfd);
		return walk_fail(w, klen, "listing");
	}
	for (;;) {
		struct stat st;
		size_t nlen;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = walk_fail(w, klen, "listing");
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (flen && strncmp(de->d_name, filter, flen) != 0)
			continue;
		nlen = strlen(de->d_name);
		if (klen + nlen > KEY_MAX || !stow_store_key_valid(de->d_name))
			continue;
		memcpy(w->key + klen, de->d_name, nlen + 1);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
		    0) {
			if (errno == ENOENT)
				continue; /* deleted while we walk */
			rc = walk_fail(w, klen + nlen, "stat of");
			break;
		}
		if (S_ISREG(st.st_mode)) {
			rc = w->cb(w->ctx, w->key, (uint64_t)st.st_size);
			if (rc < 0)
				break;
			rc = 0;
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (klen + nlen + 1 > KEY_MAX)
				continue;
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
			if (sub < 0) {
				if (errno == ENOENT)
					continue;
				rc = walk_fail(w, klen + nlen, "opening");
				break;
			}
			w->key[klen + nlen] = '/';
			w->key[klen + nlen + 1] = '\0';
			rc = walk_dir(w, sub, klen + nlen + 1, NULL);
			if (rc < 0)
				break;
		}
	}
	closedir(d);
	return rc;
}

static int fs_list(stow_store *s, const char *prefix, stow_store_list_cb cb,
		   void *ctx)
{
	fs_store *fs = to_fs(s);
	_cleanup_free_ char *dir = NULL;
	_cleanup_free_ walk *w = NULL;
	const char *slash;
	size_t d;
	int dfd;

	if (!prefix)
		prefix = "";
	if (!stow_store_prefix_valid(prefix))
		return stow_err_set(STOW_EINVAL,
				    "invalid list prefix \"%.200s\"", prefix);
	if (!cb)
		return stow_err_set(STOW_EINVAL, "list without a callback");
	slash = strrchr(prefix, '/');
	d = slash ? (size_t)(slash - prefix) : 0;
	dir = path_of(fs, prefix, d);
	w = calloc(1, sizeof(*w));
	if (!dir || !w)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	w->fs = fs;
	w->cb = cb;
	w->ctx = ctx;
	if (d) {
		memcpy(w->key, prefix, d);
		w->key[d++] = '/';
	}
	w->key[d] = '\0';
	do
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (dfd < 0 && errno == EINTR);
	if (dfd < 0) {
		/* No directory means no keys with this prefix, as an object
		 * store would answer. */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return os_fail(errno, STOW_EIO, "listing", dir);
	}
	return walk_dir(w, dfd, d, slash ? slash + 1 : prefix);
}

/* Whether the directory dfd (consumed) holds an object at any depth:
 * the first regular file with a valid name answers, so this is cheap for
 * the directories stores fill (packs, backups) and only walks empty
 * leftovers (the fs backend never removes directories) in full. */
static int dir_has_object(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int found = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while (!found && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' || !stow_store_key_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			found = 1;
		} else if (S_ISDIR(st.st_mode) && depth < 32) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);

			if (sub >= 0)
				found = dir_has_object(sub, depth + 1);
		}
	}
	closedir(d);
	return found;
}

/* One directory: its objects, and its subdirectories that hold one. */
static int fs_list_shallow(stow_store *s, const char *prefix,
			   stow_store_list_shallow_cb cb, void *ctx)
{
	fs_store *fs = to_fs(s);
	size_t plen = strlen(prefix);
	_cleanup_free_ char *dir = NULL;
	char key[KEY_MAX + 2];
	struct dirent *de;
	DIR *d;
	int dfd, rc = 0;

	if (plen && !stow_store_prefix_valid(prefix))
		return stow_err_set(STOW_EINVAL,
				    "invalid list prefix \"%.200s\"", prefix);
	dir = path_of(fs, prefix, plen ? plen - 1 : 0);
	if (!dir)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	do
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (dfd < 0 && errno == EINTR);
	if (dfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return os_fail(errno, STOW_EIO, "listing", dir);
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return os_fail(errno, STOW_EIO, "listing", dir);
	}
	memcpy(key, prefix, plen);
	for (;;) {
		struct stat st;
		size_t nlen;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = os_fail(errno, STOW_EIO, "listing", dir);
			break;
		}
		nlen = strlen(de->d_name);
		if (de->d_name[0] == '.' || plen + nlen + 1 > KEY_MAX ||
		    !stow_store_key_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) !=
		    0) {
			if (errno == ENOENT)
				continue;
			rc = os_fail(errno, STOW_EIO, "stat of", dir);
			break;
		}
		memcpy(key + plen, de->d_name, nlen + 1);
		if (S_ISREG(st.st_mode)) {
			rc = cb(ctx, key, (uint64_t)st.st_size, 0);
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);

			if (sub < 0 || !dir_has_object(sub, 0))
				continue;
			key[plen + nlen] = '/';
			key[plen + nlen + 1] = '\0';
			rc = cb(ctx, key, 0, 1);
		}
		if (rc < 0)
			break;
		rc = 0;
	}
	closedir(d);
	return rc;
}

static void fs_close(stow_store *s)
{
	fs_store *fs = to_fs(s);

	(void)window_drain(fs);
	for (size_t i = 0; i < fs->n_durable; i++)
		free(fs->durable_dirs[i]);
	free(fs->durable_dirs);
	for (size_t i = 0; i < fs->n_deferred; i++)
		free(fs->deferred[i]);
	free(fs->deferred);
	pthread_mutex_destroy(&fs->mu);
	free(fs->root);
	free(fs);
}

static const stow_store_ops fs_ops = {
    .version = STOW_STORE_OPS_VERSION,
    .name = "fs",
    .caps = STOW_STORE_CAP_STREAM_NATIVE,
    .get = fs_get,
    .prefetch = fs_prefetch,
    .put = fs_put,
    .stat = fs_stat,
    .list = fs_list,
    .del = fs_del,
    .close = fs_close,
    .sync = fs_sync,
    .put_begin = fs_put_begin,
    .put_append = fs_put_append,
    .put_commit = fs_put_commit,
    .put_abort = fs_put_abort,
    .list_shallow = fs_list_shallow,
};

int stow_store_fs_open(stow_store **out, const char *path, int create)
{
	_cleanup_free_ char *root = NULL;
	fs_store *fs;
	struct stat st;
	size_t n;

	if (!out)
		return stow_err_set(STOW_EINVAL, "no output pointer");
	*out = NULL;
	if (!path || !*path)
		return stow_err_set(STOW_EINVAL, "empty repository path");
	root = strdup(path);
	if (!root)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';

	if (stat(root, &st) != 0) {
		int err = errno;

		if ((err == ENOENT || err == ENOTDIR) && !create) {
			errno = err;
			return stow_err_set(STOW_ENOTFOUND,
					    "no repository directory at %s",
					    root);
		}
		if (err != ENOENT)
			return os_fail(err, STOW_EIO, "opening repository",
				       root);
		STOW_TRY(mkdir_p(root, 0, 0));
		if (stat(root, &st) != 0)
			return os_fail(errno, STOW_EIO, "opening repository",
				       root);
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return stow_err_set(
		    STOW_EINVAL, "repository path %s is not a directory", root);
	}

	/* A relative root would silently move if the process changed its
	 * working directory; pin it now (no symlink resolution, so messages
	 * show the path the user gave, made absolute). */
	if (root[0] != '/') {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		char *abs;

		if (!cwd)
			return os_fail(errno, STOW_EIO,
				       "resolving relative repository path",
				       root);
		abs = malloc(strlen(cwd) + 1 + strlen(root) + 1);
		if (!abs)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		snprintf(abs, strlen(cwd) + 1 + strlen(root) + 1, "%s/%s",
			 strcmp(cwd, "/") == 0 ? "" : cwd, root);
		free(root);
		root = abs;
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&fs->mu, NULL);
	fs->base.ops = &fs_ops;
	fs->root = STOW_TAKE_PTR(root);
	fs->base.location = fs->root;
	*out = &fs->base;
	return 0;
}
