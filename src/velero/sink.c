/* Streamed object writes with a bounded in-memory fallback (sink.h). */
#include "velero/sink.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int stow_velero_sink_open(stow_velero_sink *k, stow_store *s, const char *key,
			  size_t mem_cap)
{
	int rc;

	memset(k, 0, sizeof(*k));
	if (!s || !key)
		return stow_err_set(STOW_EINVAL, "sink without store or key");
	k->key = strdup(key);
	if (!k->key)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	k->store = s;
	stow_buf_init(&k->mem, mem_cap ? mem_cap : STOW_VELERO_SINK_MEM_CAP);
	if (stow_store_can_stream(s)) {
		rc = stow_store_put_begin(s, key, 0, &k->w);
		if (rc < 0) {
			free(k->key);
			k->key = NULL;
			return rc;
		}
	}
	return 0;
}

int stow_velero_sink_write(stow_velero_sink *k, const void *data, size_t len)
{
	int rc;

	if (k->failed)
		return stow_err_set(STOW_EIO, "put %s: an earlier write failed",
				    k->key ? k->key : "?");
	if (!k->key)
		return stow_err_set(STOW_EINVAL, "write to a closed sink");
	if (len == 0)
		return 0;
	rc = k->w ? stow_store_put_append(k->w, data, len)
		  : stow_buf_append(&k->mem, data, len);
	if (rc < 0) {
		k->failed = 1;
		if (!k->w)
			return stow_err_wrap(rc,
					     "assembling %s in memory (the "
					     "backend cannot stream)",
					     k->key);
		return rc;
	}
	k->bytes += len;
	return 0;
}

int stow_velero_sink_commit(stow_velero_sink *k)
{
	int rc;

	if (!k->key)
		return stow_err_set(STOW_EINVAL, "commit of a closed sink");
	if (k->failed) {
		rc = stow_err_set(STOW_EIO, "put %s: an earlier write failed",
				  k->key);
		stow_velero_sink_abort(k);
		return rc;
	}
	if (k->w) {
		rc = stow_store_put_commit(k->w);
		k->w = NULL;
	} else {
		rc = stow_store_put(k->store, k->key, k->mem.data, k->mem.len,
				    0);
	}
	stow_buf_free(&k->mem);
	free(k->key);
	k->key = NULL;
	return rc;
}

void stow_velero_sink_abort(stow_velero_sink *k)
{
	if (!k)
		return;
	stow_store_put_abort(k->w);
	k->w = NULL;
	stow_buf_free(&k->mem);
	free(k->key);
	k->key = NULL;
}
