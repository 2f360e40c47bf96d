/* One object written in pieces to a blob store: through the store's
 * streamed put where the backend has one, else assembled in a capped
 * memory buffer and put at commit.
 *
 * The tarball, log and gzip-JSON writers of the velero layer write through
 * this, so none of them needs to know whether the backend streams. Nothing
 * is visible under the key before a successful commit.
 *
 * Thread safety: a sink is used by one thread at a time. */
#ifndef STOW_VELERO_SINK_H
#define STOW_VELERO_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"
#include "util/buf.h"

/* Largest object assembled in memory on a backend that cannot stream
 * (there the whole object must exist before its single put). */
#define STOW_VELERO_SINK_MEM_CAP ((size_t)1 << 30)

typedef struct stow_velero_sink {
	stow_store *store; /* borrowed */
	char *key;
	stow_put_writer *w; /* streaming backends */
	stow_buf mem;	    /* the others: the whole object, capped */
	uint64_t bytes;	    /* written so far */
	int failed;	    /* an append failed: commit must not publish */
} stow_velero_sink;

/* Start an object under key (replacing any). mem_cap 0 means
 * STOW_VELERO_SINK_MEM_CAP. Errors: those of stow_store_put_begin,
 * STOW_ENOMEM. On success the caller ends with commit or abort. */
int stow_velero_sink_open(stow_velero_sink *k, stow_store *s, const char *key,
			  size_t mem_cap);
/* Append bytes. STOW_ENOMEM past the memory cap on a non-streaming
 * backend; the store's errors otherwise. After a failure the sink can
 * only be aborted (commit refuses). */
int stow_velero_sink_write(stow_velero_sink *k, const void *data, size_t len);
/* Publish the object atomically and release the sink, success or not. */
int stow_velero_sink_commit(stow_velero_sink *k);
/* Discard and release. Accepts a sink already committed or aborted. */
void stow_velero_sink_abort(stow_velero_sink *k);

#endif
