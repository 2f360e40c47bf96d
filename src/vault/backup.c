/* Snapshot creation: the parallel backup pipeline.
 *
 *   walker (caller's thread) --file jobs--> readers --chunk jobs--> workers
 *                                                                     |
 *                        directories complete bottom-up <------------+
 *                                                writer --> uploaders
 *
 * The walker lists and stats one directory at a time, sorts its entries,
 * reuses unchanged files from the parent snapshot and queues the rest as
 * file jobs. Readers open a file, find its data extents (holes are
 * recorded, not read), cut chunks with the content-defined chunker and
 * queue each chunk. Workers hash, deduplicate, compress, encrypt and pack.
 *
 * Trees are built bottom-up without any thread waiting for them: every
 * directory node counts what is still outstanding in it (queued files,
 * unfinished subdirectories, and one hold by the walker while it is still
 * listing). Whichever thread drops the count to zero encodes and stores
 * the tree, fills the subtree ID into the parent's entry and drops the
 * parent's count in turn. The root's completion ends the walk.
 *
 * Memory: both queues are bounded, so in-flight data is at most
 * (chunk queue + workers) * max chunk + readers * read buffer, plus the
 * writer's packs; directory nodes are alive only while something in them
 * is in flight (and along the walker's current path). Nothing grows with
 * the number of files in the tree; see docs/concurrency.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/queue.h"
#include "vault/lease.h"
#include "vault/ops.h"
#include "vault/repo_internal.h"
#include "vault/treewalk.h"

#define READERS 2
/* Files up to this size are stored by the reader itself (see read_file). */
#define INLINE_MAX (1u << 20)
/* Bytes asked of the kernel per read (see chunk_region). */
#define READ_STEP (256u << 10)
#define MAX_ERRORS_KEPT 20
#define XATTR_LIST_MAX_BYTES (1 << 20)

typedef struct backup backup;
typedef struct dirnode dirnode;

struct dirnode {
	dirnode *parent;
	size_t slot; /* index of this directory's entry in parent->nodes */
	stow_node *nodes;
	size_t count;
	atomic_size_t pending;
	int fd;
	char *path; /* for messages */
};

typedef struct file_job {
	dirnode *dir;
	size_t slot;
	pthread_mutex_t mu;
	stow_chunk_ref *chunks;
	size_t nchunks, cap;
	size_t pending; /* chunks in flight + 1 while the reader is active */
	uint64_t size;
	bool failed;
	bool want_xattrs; /* the walker left reading them to the reader */
} file_job;

typedef struct chunk_job {
	file_job *file;
	size_t idx;
	uint8_t *data;
	size_t len;
} chunk_job;

struct backup {
	stow_repo *r;
	const stow_backup_opts *o;
	/* Start of the parent snapshot (0: none). A file whose ctime is
	 * older has had no metadata change since then (chmod, chown and
	 * xattr writes all set ctime), so its xattrs are taken from the
	 * parent instead of asked of the kernel: that lookup was half the
	 * cost of an unchanged backup. */
	int64_t parent_start;
	stow_writer *w;
	stow_queue *fileq, *chunkq;
	pthread_t readers[READERS], *workers;
	unsigned nreaders, nworkers;

	pthread_mutex_t mu; /* guards errors, root, done */
	pthread_cond_t done_cv;
	bool root_done;
	uint8_t root[STOW_ID_LEN];
	int fatal;
	char fatal_msg[512];
	char **errors;
	size_t nerrors;

	atomic_uint_fast64_t files, dirs, symlinks, others, bytes, reused,
	    bytes_read, skipped, files_done, bytes_done;
	size_t max_chunk;

	/* Chunk buffers are recycled: the queues bound how many exist at
	 * once, and reusing them avoids both allocator retention across
	 * threads and a page fault per 4 KiB of every chunk. */
	pthread_mutex_t pool_mu;
	uint8_t **pool;
	size_t npool, pool_cap;

	pthread_t progress_thread;
	bool progress_stop;
	pthread_cond_t progress_cv;
	struct timespec start;
};

static double elapsed(const backup *b)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - b->start.tv_sec) +
	       (double)(now.tv_nsec - b->start.tv_nsec) / 1e9;
}

static void set_fatal(backup *b, int rc)
{
	pthread_mutex_lock(&b->mu);
	if (!b->fatal) {
		b->fatal = rc;
		snprintf(b->fatal_msg, sizeof(b->fatal_msg), "%s",
			 stow_err_msg());
	}
	pthread_mutex_unlock(&b->mu);
}

static bool is_fatal(backup *b)
{
	bool f;

	pthread_mutex_lock(&b->mu);
	f = b->fatal != 0;
	pthread_mutex_unlock(&b->mu);
	return f;
}

/* An entry we could not read: reported, skipped, snapshot partial. */
static void skip_entry(backup *b, const char *dir, const char *name,
		       const char *what, int err)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s%s%s: %s: %s", dir, *dir ? "/" : "", name,
		 what, strerror(err));
	atomic_fetch_add(&b->skipped, 1);
	pthread_mutex_lock(&b->mu);
	if (b->nerrors < MAX_ERRORS_KEPT) {
		char **ne = realloc(b->errors, (b->nerrors + 1) * sizeof(*ne));

		if (ne) {
			b->errors = ne;
			b->errors[b->nerrors] = strdup(msg);
			if (b->errors[b->nerrors])
				b->nerrors++;
		}
	}
	pthread_mutex_unlock(&b->mu);
	if (b->o->warn)
		b->o->warn(b->o->cb_ctx, msg);
}

/* --- chunk buffer pool ------------------------------------------------- */

static uint8_t *chunk_buf_get(backup *b)
{
	uint8_t *p = NULL;

	pthread_mutex_lock(&b->pool_mu);
	if (b->npool)
		p = b->pool[--b->npool];
	pthread_mutex_unlock(&b->pool_mu);
	return p ? p : malloc(b->max_chunk);
}

static void chunk_buf_put(backup *b, uint8_t *p)
{
	pthread_mutex_lock(&b->pool_mu);
	if (b->npool < b->pool_cap) {
		b->pool[b->npool++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&b->pool_mu);
	free(p);
}

/* --- directory completion --------------------------------------------- */

static void dirnode_free(dirnode *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		stow_node_clear(&d->nodes[i]);
	free(d->nodes);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
}

/* Encode and store a finished directory; returns its tree ID. Entries
 * whose type is 0 were skipped and are left out. */
static int store_tree(backup *b, stow_vault_ctx *c, dirnode *d,
		      uint8_t id[STOW_ID_LEN])
{
	_cleanup_(stow_buf_freep) stow_buf enc = {0};
	size_t keep = 0;
	bool added;

	for (size_t i = 0; i < d->count; i++) {
		if (d->nodes[i].type == 0) {
			stow_node_clear(&d->nodes[i]);
			continue;
		}
		if (keep != i)
			d->nodes[keep] = d->nodes[i];
		keep++;
	}
	d->count = keep;
	stow_buf_init(&enc, STOW_TREE_BLOB_MAX);
	STOW_TRY(stow_tree_encode(d->nodes, d->count, &enc));
	return stow_writer_add(b->w, c, STOW_BLOB_TREE, enc.data, enc.len, id,
			       &added);
}

/* Drop one outstanding count of d; complete it (and maybe its parents)
 * when it reaches zero. Runs in whichever thread finished the last job. */
static void dir_release(backup *b, stow_vault_ctx *c, dirnode *d)
{
	while (d && atomic_fetch_sub(&d->pending, 1) == 1) {
		dirnode *parent = d->parent;
		uint8_t id[STOW_ID_LEN];
		int rc;

		if (d->fd >= 0) {
			close(d->fd);
			d->fd = -1;
		}
		rc = is_fatal(b) ? -1 : store_tree(b, c, d, id);
		if (rc < 0 && !is_fatal(b))
			set_fatal(b, rc);
		if (parent) {
			if (rc == 0)
				memcpy(parent->nodes[d->slot].subtree, id,
				       STOW_ID_LEN);
		} else {
			pthread_mutex_lock(&b->mu);
			if (rc == 0)
				memcpy(b->root, id, STOW_ID_LEN);
			b->root_done = true;
			pthread_cond_broadcast(&b->done_cv);
			pthread_mutex_unlock(&b->mu);
		}
		atomic_fetch_add(&b->dirs, 1);
		dirnode_free(d);
		d = parent;
	}
}

/* --- files ------------------------------------------------------------- */

static void file_finish(backup *b, stow_vault_ctx *c, file_job *f)
{
	stow_node *n = &f->dir->nodes[f->slot];
	dirnode *d = f->dir;

	if (f->failed) {
		/* store_tree drops (and frees) entries of type 0 */
		n->type = 0;
		free(f->chunks);
	} else {
		n->chunks = f->chunks;
		n->nchunks = f->nchunks;
		n->size = f->size;
		atomic_fetch_add(&b->files_done, 1);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
	dir_release(b, c, d);
}

/* Drop one outstanding count of the file; finish it at zero. */
static void file_release(backup *b, stow_vault_ctx *c, file_job *f)
{
	bool last;

	pthread_mutex_lock(&f->mu);
	last = --f->pending == 0;
	pthread_mutex_unlock(&f->mu);
	if (last)
		file_finish(b, c, f);
}

/* Append a chunk (or hole) of len bytes to the file's list. A queued
 * chunk also counts as outstanding until its worker releases it. */
static int file_add_ref(file_job *f, uint64_t len, bool hole, bool queued,
			size_t *idx)
{
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	if (f->nchunks == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 4;
		void *nc = realloc(f->chunks, ncap * sizeof(*f->chunks));

		if (!nc) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto out;
		}
		f->chunks = nc;
		f->cap = ncap;
	}
	*idx = f->nchunks++;
	memset(&f->chunks[*idx], 0, sizeof(f->chunks[*idx]));
	f->chunks[*idx].len = len;
	f->chunks[*idx].hole = hole;
	f->size += len;
	if (queued)
		f->pending++;
out:
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static ssize_t read_full(int fd, uint8_t *p, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Store one chunk from this thread: hash, compress, encrypt, pack. */
static int chunk_inline(backup *b, stow_vault_ctx *c, file_job *f,
			const uint8_t *data, size_t len)
{
	uint8_t id[STOW_ID_LEN];
	bool added;
	size_t idx;

	STOW_TRY(file_add_ref(f, len, false, false, &idx));
	STOW_TRY(
	    stow_writer_add(b->w, c, STOW_BLOB_DATA, data, len, id, &added));
	pthread_mutex_lock(&f->mu);
	memcpy(f->chunks[idx].id, id, STOW_ID_LEN);
	pthread_mutex_unlock(&f->mu);
	atomic_fetch_add(&b->bytes_done, len);
	return 0;
}

/* Give one chunk to the workers; the job owns data from here on. */
static int chunk_queue(backup *b, file_job *f, uint8_t *data, size_t len)
{
	chunk_job *j = malloc(sizeof(*j));
	size_t idx;

	if (!j)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (file_add_ref(f, len, false, true, &idx) < 0) {
		free(j);
		return STOW_ENOMEM;
	}
	j->data = data;
	j->len = len;
	j->file = f;
	j->idx = idx;
	if (stow_queue_push(b->chunkq, j) < 0) {
		/* Only after the walk ends; the reader's own hold keeps the
		 * file alive, so the count cannot reach zero here. */
		pthread_mutex_lock(&f->mu);
		f->pending--;
		pthread_mutex_unlock(&f->mu);
		free(j);
		return stow_err_set(STOW_EIO, "aborted");
	}
	return 0;
}

/* Chunk the data region [off, end) (end UINT64_MAX: to EOF).
 *
 * Bytes are read straight into the buffer the chunk will live in,
 * READ_STEP at a time, and the chunker resumes where its last look ended,
 * so each byte is scanned once and the only copy is of the bytes read
 * past a cut (less than one step) into the next chunk's buffer. Inline
 * (small files), this thread stores each chunk itself from its own buffer
 * `own`; otherwise chunks go to the workers in pool buffers.
 *
 * Returns 0, 1 with *err_no set when the file cannot be read (the caller
 * skips it), or a negative error that fails the backup. */
static int chunk_region(backup *b, stow_vault_ctx *c, file_job *f, int fd,
			uint8_t *own, uint64_t off, uint64_t end,
			uint64_t *stopped_at, int *err_no)
{
	const stow_chunker *ch = b->r->chunker;
	size_t max = b->max_chunk, len = 0, from = 0;
	uint8_t *cur = own;
	bool eof = false;
	int rc = 0;

	if (!cur && !(cur = chunk_buf_get(b)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (;;) {
		size_t cut = stow_chunker_next_from(ch, cur, len, eof, from);
		size_t tail;

		if (cut == 0) {
			size_t want = max - len;
			ssize_t got;

			if (eof)
				break; /* nothing left */
			from = len;
			if (want > READ_STEP)
				want = READ_STEP;
			if (end != UINT64_MAX && want > end - off)
				want = (size_t)(end - off);
			got = want ? read_full(fd, cur + len, want, off) : 0;
			if (got < 0) {
				*err_no = errno;
				rc = 1;
				break;
			}
			len += (size_t)got;
			off += (uint64_t)got;
			atomic_fetch_add(&b->bytes_read, (uint64_t)got);
			if ((size_t)got < want || want == 0 ||
			    (end != UINT64_MAX && off >= end))
				eof = true;
			continue;
		}
		tail = len - cut;
		if (own) {
			rc = chunk_inline(b, c, f, cur, cut);
			if (rc < 0)
				break;
			if (tail)
				memmove(cur, cur + cut, tail);
		} else {
			uint8_t *next = chunk_buf_get(b);

			if (!next) {
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
				break;
			}
			if (tail)
				memcpy(next, cur + cut, tail);
			rc = chunk_queue(b, f, cur, cut);
			if (rc < 0) {
				chunk_buf_put(b, next);
				break;
			}
			cur = next;
		}
		len = tail;
		from = 0;
	}
	if (!own)
		chunk_buf_put(b, cur);
	*stopped_at = off;
	return rc;
}

static int read_xattrs(int fd, const char *path, stow_node *n);

/* Read one file: data extents are chunked, holes recorded. Small files
 * are stored by this thread (`own` is its buffer); a handoff to a worker
 * costs more than the work for them. Returns as chunk_region(). */
static int read_file(backup *b, stow_vault_ctx *c, file_job *f, uint8_t *own,
		     int *err_no)
{
	stow_node *n = &f->dir->nodes[f->slot];
	struct stat st;
	uint64_t off = 0, stop;
	int fd, rc = 0;

	fd = openat(f->dir->fd, (const char *)n->name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == EPERM)
		fd = openat(f->dir->fd, (const char *)n->name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*err_no = errno;
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err_no = fstat(fd, &st) < 0 ? errno : EINVAL;
		close(fd);
		return 1;
	}
	/* The walker left them to us: by descriptor, no path lookup. */
	if (f->want_xattrs && (rc = read_xattrs(fd, NULL, n)) < 0) {
		close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size > INLINE_MAX) {
		own = NULL;
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	/* Sparse: fewer allocated blocks than the size implies holes. */
	if ((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size) {
		while (off < (uint64_t)st.st_size && rc == 0) {
			off_t data = lseek(fd, (off_t)off, SEEK_DATA);
			off_t hole;
			size_t idx;

			if (data < 0 && errno == ENXIO)
				data = st.st_size; /* only a hole left */
			if (data < 0) {
				off = 0;
				goto dense; /* no SEEK_DATA here */
			}
			if ((uint64_t)data > off)
				rc = file_add_ref(f, (uint64_t)data - off, true,
						  false, &idx);
			off = (uint64_t)data;
			if (rc < 0 || off >= (uint64_t)st.st_size)
				break;
			hole = lseek(fd, (off_t)off, SEEK_HOLE);
			if (hole < 0)
				hole = st.st_size;
			rc = chunk_region(b, c, f, fd, own, off, (uint64_t)hole,
					  &stop, err_no);
			off = stop;
			if (stop < (uint64_t)hole)
				break; /* file shrank */
		}
		close(fd);
		return rc;
	}
dense:
	rc = chunk_region(b, c, f, fd, own, off, UINT64_MAX, &stop, err_no);
	close(fd);
	return rc;
}

static void *reader_main(void *arg)
{
	backup *b = arg;
	stow_vault_ctx *c = NULL;
	uint8_t *own;
	file_job *f;
	int rc;

	/* Pages are touched only as far as the largest small file needs. */
	own = malloc(b->max_chunk);
	rc = own ? stow_vault_ctx_new(&c, b->r)
		 : stow_err_set(STOW_ENOMEM, "out of memory");
	if (rc < 0)
		set_fatal(b, rc);
	while ((f = stow_queue_pop(b->fileq))) {
		int err_no = 0;

		if (rc == 0 && !is_fatal(b)) {
			int frc = read_file(b, c, f, own, &err_no);

			if (frc == 1) {
				skip_entry(b, f->dir->path,
					   (char *)f->dir->nodes[f->slot].name,
					   "cannot read",
					   err_no ? err_no : EIO);
				f->failed = true;
			} else if (frc < 0) {
				set_fatal(b, frc);
				f->failed = true;
			}
		} else {
			f->failed = true;
		}
		file_release(b, c, f);
	}
	free(own);
	stow_vault_ctx_free(c);
	return NULL;
}

static void *worker_main(void *arg)
{
	backup *b = arg;
	stow_vault_ctx *c = NULL;
	chunk_job *j;
	int rc;

	rc = stow_vault_ctx_new(&c, b->r);
	if (rc < 0)
		set_fatal(b, rc);
	while ((j = stow_queue_pop(b->chunkq))) {
		uint8_t id[STOW_ID_LEN];
		bool added;

		if (rc == 0 && !is_fatal(b)) {
			int wrc = stow_writer_add(b->w, c, STOW_BLOB_DATA,
						  j->data, j->len, id, &added);

			if (wrc < 0) {
				set_fatal(b, wrc);
			} else {
				pthread_mutex_lock(&j->file->mu);
				memcpy(j->file->chunks[j->idx].id, id,
				       STOW_ID_LEN);
				pthread_mutex_unlock(&j->file->mu);
			}
		}
		atomic_fetch_add(&b->bytes_done, j->len);
		chunk_buf_put(b, j->data);
		file_release(b, c, j->file);
		free(j);
	}
	stow_vault_ctx_free(c);
	return NULL;
}

/* --- walking ------------------------------------------------------------ */

static ssize_t xa_list(int fd, const char *path, char *list, size_t size)
{
	return path ? llistxattr(path, list, size) : flistxattr(fd, list, size);
}

static ssize_t xa_get(int fd, const char *path, const char *name, void *v,
		      size_t size)
{
	return path ? lgetxattr(path, name, v, size)
		    : fgetxattr(fd, name, v, size);
}

/* The xattrs of an open file (path NULL) or of a path, not following a
 * final symlink. Missing support or a vanished file is no error. */
static int read_xattrs(int fd, const char *path, stow_node *n)
{
	char *list = NULL;
	ssize_t len;
	size_t k = 0;

	len = xa_list(fd, path, NULL, 0);
	if (len <= 0)
		return 0; /* none, or not supported here */
	if (len > XATTR_LIST_MAX_BYTES)
		return 0;
	list = malloc((size_t)len);
	if (!list)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	len = xa_list(fd, path, list, (size_t)len);
	if (len <= 0) {
		free(list);
		return 0;
	}
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		k++;
	n->xattrs = calloc(k, sizeof(*n->xattrs));
	if (!n->xattrs) {
		free(list);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	for (ssize_t i = 0; i < len && n->nxattrs < STOW_XATTRS_MAX;
	     i += (ssize_t)strlen(list + i) + 1) {
		stow_xattr *x = &n->xattrs[n->nxattrs];
		ssize_t vl = xa_get(fd, path, list + i, NULL, 0);

		if (vl < 0 || vl > STOW_XATTR_VALUE_MAX)
			continue;
		x->name = strdup(list + i);
		x->value = malloc(vl ? (size_t)vl : 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			free(list);
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
		vl = xa_get(fd, path, list + i, x->value, (size_t)vl);
		if (vl < 0) {
			free(x->name);
			free(x->value);
			continue;
		}
		x->value_len = (size_t)vl;
		n->nxattrs++;
	}
	free(list);
	return 0;
}

/* The xattrs of name in directory dirfd, for entries the walker does not
 * open (directories, symlinks, special files, reused files). */
static int read_xattrs_at(int dirfd, const char *name, stow_node *n)
{
	char path[64 + NAME_MAX + 1];

	if (strlen(name) > NAME_MAX)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
	return read_xattrs(-1, path, n);
}

static void node_from_stat(stow_node *n, const struct stat *st)
{
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->mtime_sec = st->st_mtim.tv_sec;
	n->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	n->ino = st->st_ino;
	n->dev = st->st_dev;
	n->nlink = st->st_nlink;
	if (S_ISREG(st->st_mode))
		n->type = STOW_NODE_FILE;
	else if (S_ISDIR(st->st_mode))
		n->type = STOW_NODE_DIR;
	else if (S_ISLNK(st->st_mode))
		n->type = STOW_NODE_SYMLINK;
	else if (S_ISFIFO(st->st_mode))
		n->type = STOW_NODE_FIFO;
	else if (S_ISCHR(st->st_mode))
		n->type = STOW_NODE_CHR;
	else if (S_ISBLK(st->st_mode))
		n->type = STOW_NODE_BLK;
	else
		n->type = STOW_NODE_SOCK;
	if (n->type == STOW_NODE_CHR || n->type == STOW_NODE_BLK)
		n->rdev = st->st_rdev;
}

/* Reuse a file's chunk list from the parent snapshot when it is
 * unchanged by the incremental rule (size, mtime ns, mode, owner,
 * inode) and every chunk is still indexed. */
static bool try_reuse(backup *b, const stow_tree *prev, stow_node *n,
		      uint64_t size)
{
	const stow_node *p;

	if (!prev)
		return false;
	p = stow_tree_find(prev, n->name, n->name_len);
	if (!p || p->type != STOW_NODE_FILE || p->size != size ||
	    p->mtime_sec != n->mtime_sec || p->mtime_nsec != n->mtime_nsec ||
	    p->mode != n->mode || p->uid != n->uid || p->gid != n->gid ||
	    p->ino != n->ino)
		return false;
	for (size_t i = 0; i < p->nchunks; i++)
		if (!p->chunks[i].hole &&
		    stow_repo_lookup(b->r, p->chunks[i].id, NULL) < 0)
			return false;
	n->chunks = malloc((p->nchunks ? p->nchunks : 1) * sizeof(*n->chunks));
	if (!n->chunks)
		return false;
	if (p->nchunks) /* an empty file has no chunk list at all */
		memcpy(n->chunks, p->chunks, p->nchunks * sizeof(*n->chunks));
	n->nchunks = p->nchunks;
	n->size = size;
	return true;
}

/* Take a file's xattrs from the parent snapshot when neither its data
 * identity (the reuse rule) nor its ctime changed since the parent began
 * (with a second of margin for clock granularity). False: read them. */
static bool copy_prev_xattrs(backup *b, const stow_tree *prev, stow_node *n,
			     const struct stat *st)
{
	const stow_node *p;

	if (!b->parent_start || st->st_ctim.tv_sec >= b->parent_start - 1)
		return false;
	p = stow_tree_find(prev, n->name, n->name_len);
	if (!p || p->type != STOW_NODE_FILE ||
	    p->size != (uint64_t)st->st_size || p->mtime_sec != n->mtime_sec ||
	    p->mtime_nsec != n->mtime_nsec || p->mode != n->mode ||
	    p->uid != n->uid || p->gid != n->gid || p->ino != n->ino)
		return false;
	if (p->nxattrs == 0)
		return true;
	n->xattrs = calloc(p->nxattrs, sizeof(*n->xattrs));
	if (!n->xattrs)
		return false;
	for (size_t i = 0; i < p->nxattrs; i++) {
		stow_xattr *x = &n->xattrs[i];

		x->name = strdup(p->xattrs[i].name);
		x->value =
		    malloc(p->xattrs[i].value_len ? p->xattrs[i].value_len : 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			/* Undo, so the caller can read them afresh. */
			while (n->nxattrs) {
				n->nxattrs--;
				free(n->xattrs[n->nxattrs].name);
				free(n->xattrs[n->nxattrs].value);
			}
			free(n->xattrs);
			n->xattrs = NULL;
			return false;
		}
		memcpy(x->value, p->xattrs[i].value, p->xattrs[i].value_len);
		x->value_len = p->xattrs[i].value_len;
		n->nxattrs++;
	}
	return true;
}

static int load_prev(backup *b, stow_vault_ctx *c, const uint8_t *id,
		     stow_tree *t)
{
	_cleanup_(stow_buf_freep) stow_buf raw = {0};

	stow_buf_init(&raw, STOW_TREE_BLOB_MAX);
	if (stow_treewalk_load(c, &raw, id, t) < 0)
		return -1;
	(void)b;
	return 0;
}

typedef struct name_vec {
	char **v;
	size_t n, cap;
} name_vec;

static int cmp_cstr(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;

	return stow_name_cmp((const uint8_t *)x, strlen(x), (const uint8_t *)y,
			     strlen(y));
}

static int list_dir(int fd, name_vec *nv)
{
	int dup_fd = dup(fd);
	DIR *dir;
	struct dirent *e;

	if (dup_fd < 0)
		return -errno;
	dir = fdopendir(dup_fd);
	if (!dir) {
		int e2 = errno;

		close(dup_fd);
		return -e2;
	}
	errno = 0;
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (nv->n == nv->cap) {
			size_t ncap = nv->cap ? nv->cap * 2 : 64;
			char **n2 = realloc(nv->v, ncap * sizeof(char *));

			if (!n2) {
				closedir(dir);
				return -ENOMEM;
			}
			nv->v = n2;
			nv->cap = ncap;
		}
		if (!(nv->v[nv->n] = strdup(e->d_name))) {
			closedir(dir);
			return -ENOMEM;
		}
		nv->n++;
	}
	closedir(dir);
	if (nv->n > 1) /* v is NULL for an empty directory */
		qsort(nv->v, nv->n, sizeof(char *), cmp_cstr);
	return 0;
}

static void name_vec_free(name_vec *nv)
{
	for (size_t i = 0; i < nv->n; i++)
		free(nv->v[i]);
	free(nv->v);
}

static int walk_dir(backup *b, stow_vault_ctx *c, dirnode *d,
		    const uint8_t *prev_id);

/* Create the node for directory fd (already open) and walk it. */
static int walk_into(backup *b, stow_vault_ctx *c, dirnode *parent, size_t slot,
		     int fd, const char *path, const uint8_t *prev_id)
{
	dirnode *d = calloc(1, sizeof(*d));

	if (!d) {
		close(fd);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	d->parent = parent;
	d->slot = slot;
	d->fd = fd;
	d->path = strdup(path);
	atomic_init(&d->pending, 1);
	if (!d->path) {
		dirnode_free(d);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	if (parent)
		atomic_fetch_add(&parent->pending, 1);
	return walk_dir(b, c, d, prev_id);
}

static int walk_dir(backup *b, stow_vault_ctx *c, dirnode *d,
		    const uint8_t *prev_id)
{
	stow_tree prev = {0};
	bool have_prev = false;
	name_vec nv = {0};
	uint8_t *xpend = NULL; /* per entry: xattrs not read yet */
	int rc = 0, lerr;

	if (prev_id && load_prev(b, c, prev_id, &prev) == 0)
		have_prev = true;
	lerr = list_dir(d->fd, &nv);
	if (lerr == -ENOMEM) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory listing %s",
				  d->path);
		goto out;
	}
	if (lerr < 0)
		skip_entry(b, d->path, "", "cannot list directory", -lerr);
	d->nodes = calloc(nv.n ? nv.n : 1, sizeof(*d->nodes));
	if (!d->nodes) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto out;
	}
	d->count = nv.n;
	xpend = calloc(nv.n ? nv.n : 1, 1);
	if (!xpend) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto out;
	}
	/* First pass: metadata of every entry, so the node array is complete
	 * before any job can finish and touch it. */
	for (size_t i = 0; i < nv.n; i++) {
		stow_node *n = &d->nodes[i];
		struct stat st;

		n->name_len = strlen(nv.v[i]);
		n->name = (uint8_t *)nv.v[i];
		nv.v[i] = NULL;
		if (fstatat(d->fd, (char *)n->name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			skip_entry(b, d->path, (char *)n->name, "cannot stat",
				   errno);
			n->type = 0;
			continue;
		}
		node_from_stat(n, &st);
		if (n->type == STOW_NODE_FILE)
			n->size = (uint64_t)st.st_size;
		if (n->type == STOW_NODE_FILE) {
			/* Unchanged since the parent: copied. Otherwise the
			 * reader takes them from its descriptor, or pass two
			 * reads them if the data is reused. */
			xpend[i] =
			    !(have_prev && copy_prev_xattrs(b, &prev, n, &st));
		} else if ((rc = read_xattrs_at(d->fd, (char *)n->name, n)) <
			   0) {
			goto out;
		}
		if (n->type == STOW_NODE_SYMLINK) {
			size_t cap = (size_t)st.st_size + 1;
			ssize_t l;

			if (cap < 256)
				cap = 256;
			if (cap > STOW_SYMLINK_MAX)
				cap = STOW_SYMLINK_MAX;
			n->target = malloc(cap);
			if (!n->target) {
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
				goto out;
			}
			l = readlinkat(d->fd, (char *)n->name,
				       (char *)n->target, cap);
			if (l < 0 || (size_t)l >= cap) {
				skip_entry(b, d->path, (char *)n->name,
					   "cannot read link",
					   l < 0 ? errno : ENAMETOOLONG);
				n->type = 0;
				continue;
			}
			n->target_len = (size_t)l;
			atomic_fetch_add(&b->symlinks, 1);
		} else if (n->type != STOW_NODE_FILE &&
			   n->type != STOW_NODE_DIR) {
			atomic_fetch_add(&b->others, 1);
		}
	}
	/* Second pass: dispatch files, recurse into directories. */
	for (size_t i = 0; i < d->count && rc == 0 && !is_fatal(b); i++) {
		stow_node *n = &d->nodes[i];

		if (n->type == STOW_NODE_FILE) {
			uint64_t size = n->size;
			file_job *f;

			atomic_fetch_add(&b->files, 1);
			atomic_fetch_add(&b->bytes, size);
			n->size = 0;
			if (have_prev && try_reuse(b, &prev, n, size)) {
				if (xpend[i] &&
				    (rc = read_xattrs_at(d->fd, (char *)n->name,
							 n)) < 0)
					break;
				atomic_fetch_add(&b->reused, 1);
				atomic_fetch_add(&b->files_done, 1);
				atomic_fetch_add(&b->bytes_done, size);
				continue;
			}
			f = calloc(1, sizeof(*f));
			if (!f) {
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
				break;
			}
			f->dir = d;
			f->slot = i;
			f->pending = 1;
			f->want_xattrs = xpend[i];
			pthread_mutex_init(&f->mu, NULL);
			atomic_fetch_add(&d->pending, 1);
			if (stow_queue_push(b->fileq, f) < 0) {
				atomic_fetch_sub(&d->pending, 1);
				pthread_mutex_destroy(&f->mu);
				free(f);
				rc = stow_err_set(STOW_EIO, "aborted");
			}
		} else if (n->type == STOW_NODE_DIR) {
			const stow_node *pn = NULL;
			char *sub;
			size_t plen = strlen(d->path) + n->name_len + 2;
			int fd;

			fd = openat(d->fd, (char *)n->name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
			if (fd < 0) {
				skip_entry(b, d->path, (char *)n->name,
					   "cannot open directory", errno);
				n->type = 0;
				continue;
			}
			if (have_prev)
				pn =
				    stow_tree_find(&prev, n->name, n->name_len);
			sub = malloc(plen);
			if (!sub) {
				close(fd);
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
				break;
			}
			snprintf(sub, plen, "%s%s%s", d->path,
				 *d->path ? "/" : "", (char *)n->name);
			rc = walk_into(b, c, d, i, fd, sub,
				       pn && pn->type == STOW_NODE_DIR
					   ? pn->subtree
					   : NULL);
			free(sub);
		}
	}
out:
	if (have_prev)
		stow_tree_free(&prev);
	name_vec_free(&nv);
	free(xpend);
	if (rc < 0)
		set_fatal(b, rc);
	/* The walker's own hold: completion may happen right here. */
	dir_release(b, c, d);
	return rc;
}

/* --- progress ------------------------------------------------------------ */

static void report(backup *b, bool done)
{
	stow_progress p = {0};

	if (!b->o->progress)
		return;
	p.files_done = atomic_load(&b->files_done);
	p.bytes_done = atomic_load(&b->bytes_done);
	p.files_total = atomic_load(&b->files);
	p.bytes_total = atomic_load(&b->bytes);
	p.errors = atomic_load(&b->skipped);
	p.elapsed = elapsed(b);
	p.done = done;
	b->o->progress(b->o->cb_ctx, &p);
}

static void *progress_main(void *arg)
{
	backup *b = arg;

	pthread_mutex_lock(&b->mu);
	while (!b->progress_stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&b->progress_cv, &b->mu, &ts);
		if (b->progress_stop)
			break;
		pthread_mutex_unlock(&b->mu);
		report(b, false);
		pthread_mutex_lock(&b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* --- entry point -----------------------------------------------------------
 */

static int start_threads(backup *b)
{
	unsigned n = stow_repo_parallel(b->r);

	b->workers = calloc(n, sizeof(pthread_t));
	if (!b->workers)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (unsigned i = 0; i < READERS; i++) {
		if (pthread_create(&b->readers[i], NULL, reader_main, b) != 0)
			return stow_err_set(STOW_ENOMEM, "cannot start thread");
		b->nreaders++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&b->workers[i], NULL, worker_main, b) != 0)
			return stow_err_set(STOW_ENOMEM, "cannot start thread");
		b->nworkers++;
	}
	if (b->o->progress &&
	    pthread_create(&b->progress_thread, NULL, progress_main, b) != 0)
		return stow_err_set(STOW_ENOMEM, "cannot start thread");
	return 0;
}

static void stop_threads(backup *b)
{
	/* Readers first: they produce chunk jobs the workers must drain. */
	if (b->fileq)
		stow_queue_close(b->fileq);
	for (unsigned i = 0; i < b->nreaders; i++)
		pthread_join(b->readers[i], NULL);
	if (b->chunkq)
		stow_queue_close(b->chunkq);
	for (unsigned i = 0; i < b->nworkers; i++)
		pthread_join(b->workers[i], NULL);
	b->nreaders = b->nworkers = 0;
	if (b->o->progress) {
		pthread_mutex_lock(&b->mu);
		b->progress_stop = true;
		pthread_cond_broadcast(&b->progress_cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->progress_thread, NULL);
	}
}

static char *abs_path(const char *p)
{
	char *r = realpath(p, NULL);

	return r;
}

int stow_vault_backup(stow_repo *r, const stow_backup_opts *o,
		      stow_snapshot *snap)
{
	backup b;
	stow_snapshot parent = {0};
	stow_lease *lease = NULL;
	bool have_parent = false;
	stow_vault_ctx *c = NULL;
	char host[256] = "";
	char *path = NULL;
	struct timespec wall;
	stow_writer_stats ws;
	int fd, rc;

	memset(&b, 0, sizeof(b));
	memset(snap, 0, sizeof(*snap));
	b.r = r;
	b.o = o;
	b.max_chunk = stow_chunker_params_of(r->chunker)->max;
	pthread_mutex_init(&b.mu, NULL);
	pthread_mutex_init(&b.pool_mu, NULL);
	/* queue + workers + readers: the most chunk jobs alive at once */
	b.pool_cap = 2 * stow_repo_parallel(r) + 1 + READERS;
	b.pool = calloc(b.pool_cap, sizeof(*b.pool));
	if (!b.pool)
		b.pool_cap = 0;
	pthread_cond_init(&b.done_cv, NULL);
	pthread_cond_init(&b.progress_cv, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b.start);
	clock_gettime(CLOCK_REALTIME, &wall);

	path = abs_path(o->path);
	if (!path) {
		rc = stow_err_set(errno == ENOENT ? STOW_ENOTFOUND : STOW_EIO,
				  "cannot snapshot %s: %s", o->path,
				  strerror(errno));
		goto out;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = stow_err_set(errno == ENOTDIR ? STOW_EINVAL : STOW_EIO,
				  "cannot snapshot %s: %s", path,
				  strerror(errno));
		goto out;
	}
	/* Announce the backup so gc keeps its hands off what it dedups
	 * against (lease.h). */
	rc = stow_lease_writer(&lease, r);
	/* The index was loaded before the lease: a gc that finished in
	 * between may have deleted packs it names. */
	if (rc == 0)
		rc = stow_repo_revalidate_index(r);
	if (rc < 0) {
		close(fd);
		goto out;
	}
	if (o->host)
		snprintf(host, sizeof(host), "%s", o->host);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	if (!o->no_parent &&
	    stow_snapshot_find_parent(r, host, path, &parent) == 0)
		have_parent = true;

	if ((rc = stow_writer_new(&b.w, r, o->comp)) < 0 ||
	    (rc = stow_vault_ctx_new(&c, r)) < 0 ||
	    (rc = stow_queue_new(&b.fileq, 64)) < 0 ||
	    (rc = stow_queue_new(&b.chunkq, stow_repo_parallel(r) + 1)) < 0 ||
	    (rc = start_threads(&b)) < 0) {
		close(fd);
		goto out_threads;
	}
	if (have_parent)
		b.parent_start = parent.time_sec;
	rc =
	    walk_into(&b, c, NULL, 0, fd, "", have_parent ? parent.root : NULL);
	/* Wait for the root to complete (all files and trees stored). */
	pthread_mutex_lock(&b.mu);
	while (!b.root_done)
		pthread_cond_wait(&b.done_cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
out_threads:
	stop_threads(&b);
	if (rc == 0 && b.fatal) {
		rc = b.fatal;
		stow_err_set(rc, "%s", b.fatal_msg);
	}
	if (b.w) {
		int frc = rc == 0 ? stow_writer_flush(b.w) : 0;

		if (rc == 0)
			rc = frc;
		stow_writer_get_stats(b.w, &ws);
	}
	if (rc < 0)
		goto out;

	/* Data and index are durable; now the snapshot that names them. */
	snap->time_sec = wall.tv_sec;
	snap->time_nsec = (uint32_t)wall.tv_nsec;
	snap->end_sec = time(NULL);
	snap->host = strdup(host);
	snap->path = path;
	path = NULL;
	memcpy(snap->root, b.root, STOW_ID_LEN);
	if (have_parent)
		memcpy(snap->parent, parent.id, sizeof(snap->parent));
	snap->stats.files = atomic_load(&b.files);
	snap->stats.dirs = atomic_load(&b.dirs);
	snap->stats.symlinks = atomic_load(&b.symlinks);
	snap->stats.others = atomic_load(&b.others);
	snap->stats.bytes = atomic_load(&b.bytes);
	snap->stats.files_reused = atomic_load(&b.reused);
	snap->stats.bytes_read = atomic_load(&b.bytes_read);
	snap->stats.blobs_new = ws.blobs_new;
	snap->stats.bytes_new_raw = ws.raw_new;
	snap->stats.bytes_new_stored = ws.stored_new;
	snap->stats.errors = atomic_load(&b.skipped);
	snap->stats.seconds = elapsed(&b);
	snap->partial = snap->stats.errors > 0;
	snap->errors = b.errors;
	snap->nerrors = b.nerrors;
	b.errors = NULL;
	b.nerrors = 0;
	if (o->ntags) {
		snap->tags = calloc(o->ntags, sizeof(*snap->tags));
		if (!snap->tags) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < o->ntags; i++) {
			snap->tags[i].key = strdup(o->tags[i].key);
			snap->tags[i].value = strdup(o->tags[i].value);
			snap->ntags++;
			if (!snap->tags[i].key || !snap->tags[i].value) {
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	if (!snap->host) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto out;
	}
	rc = stow_snapshot_save(r, snap);
	if (rc == 0) {
		report(&b, true);
		if (snap->partial)
			rc = stow_err_set(
			    STOW_EPARTIAL,
			    "%llu entries could not be read; the "
			    "snapshot is marked partial",
			    (unsigned long long)snap->stats.errors);
	}
out:
	stow_lease_release(lease);
	stow_writer_free(b.w);
	stow_vault_ctx_free(c);
	stow_queue_free(b.fileq);
	stow_queue_free(b.chunkq);
	free(b.workers);
	for (size_t i = 0; i < b.nerrors; i++)
		free(b.errors[i]);
	free(b.errors);
	free(path);
	if (have_parent)
		stow_snapshot_free(&parent);
	for (size_t i = 0; i < b.npool; i++)
		free(b.pool[i]);
	free(b.pool);
	pthread_mutex_destroy(&b.pool_mu);
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.done_cv);
	pthread_cond_destroy(&b.progress_cv);
	if (rc < 0 && rc != STOW_EPARTIAL) {
		stow_snapshot_free(snap);
		memset(snap, 0, sizeof(*snap));
	}
	return rc;
}
