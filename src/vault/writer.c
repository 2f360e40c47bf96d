/* The write session: blobs -> compressed, encrypted, appended to packs ->
 * packs uploaded asynchronously -> index objects published.
 *
 * Ordering gives crash safety without locks: a pack is uploaded before
 * any index object lists it, and an index object is written before any
 * snapshot that needs it (the caller saves the snapshot after
 * stow_writer_flush). A crash at any point leaves only objects nothing
 * refers to yet; `vault gc` removes them.
 *
 * Concurrency: one mutex per pack kind guards the open pack; compression
 * and hashing run outside it in the caller's thread. Encryption happens
 * under the mutex because the nonce is the blob's offset in the pack,
 * known only once the slot is taken; AES-GCM runs at several GB/s, far
 * above what compression feeds it. Full packs go to a bounded queue
 * drained by uploader threads, so uploads never stall hashing, and the
 * queue bound keeps memory at (2 open + queue + uploaders) packs. */
#include "vault/repo_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/queue.h"

#define UPLOADERS 2
#define UPLOAD_QUEUE 1
#define INDEX_FLUSH_PACKS 256
/* Also flush after this many blobs: with small files a pack holds
 * thousands of blobs, and holding their entries (and encoding them in one
 * object at the end) would make memory grow with the file count. */
#define INDEX_FLUSH_BLOBS 65536
#define TRAILER_AAD "stowage trailer v1"

typedef struct open_pack {
	uint8_t id[32];
	int kind;
	uint32_t ordinal;
	stow_aead *aead;
	/* Buffered packs (meta packs, and data packs on stores that cannot
	 * stream) are assembled whole in buf and handed to the uploaders.
	 * Streamed packs (data packs on stores that stream natively) go to storage
	 * blob by blob through sw (sealed in the adding thread's own
	 * buffer), and buf stays empty. len is the pack's length either
	 * way. */
	stow_buf buf;
	stow_put_writer *sw;
	uint64_t len;
	uint8_t hdr[STOW_PACK_HEADER_LEN];
	stow_pack_entry *entries;
	size_t n, cap;
} open_pack;

struct stow_writer {
	stow_repo *r;
	stow_comp_spec comp;
	pthread_mutex_t mu[2];
	open_pack *open[2];
	stow_queue *upq;
	pthread_t up[UPLOADERS];
	int nup;
	pthread_mutex_t done_mu;
	stow_index_pack *done;
	size_t ndone, done_cap, done_blobs;
	int err;
	char errmsg[512];
	stow_writer_stats stats;
	bool flushed;
	/* Spare pack buffers (guarded by done_mu): a finished upload hands
	 * its buffer to the next pack instead of unmapping it, so filling a
	 * pack does not page-fault through fresh memory every time. */
	stow_buf spare[UPLOADERS + UPLOAD_QUEUE + 1];
	size_t nspare;
	/* Packs of this session that an index object lists (by ordinal -
	 * first_pack); anything else is forgotten if the session fails. */
	uint32_t first_pack;
	uint8_t *durable;
	size_t durable_cap;
	bool flush_ok;
};

static void pack_free(open_pack *p)
{
	if (!p)
		return;
	stow_aead_free(p->aead);
	stow_store_put_abort(p->sw);
	stow_buf_free(&p->buf);
	free(p->entries);
	free(p);
}

/* Keep the pack's buffer for reuse if there is room, then free it. */
static void pack_recycle(stow_writer *w, open_pack *p)
{
	pthread_mutex_lock(&w->done_mu);
	if (p->kind == PACK_KIND_DATA && !p->sw &&
	    w->nspare < sizeof(w->spare) / sizeof(w->spare[0])) {
		w->spare[w->nspare++] = p->buf;
		stow_buf_init(&p->buf, 0);
	}
	pthread_mutex_unlock(&w->done_mu);
	pack_free(p);
}

static void set_err(stow_writer *w, int rc)
{
	pthread_mutex_lock(&w->done_mu);
	if (!w->err) {
		w->err = rc;
		snprintf(w->errmsg, sizeof(w->errmsg), "%s", stow_err_msg());
	}
	pthread_mutex_unlock(&w->done_mu);
}

static int get_err(stow_writer *w)
{
	int rc;

	pthread_mutex_lock(&w->done_mu);
	rc = w->err;
	if (rc)
		stow_err_set(rc, "%s", w->errmsg);
	pthread_mutex_unlock(&w->done_mu);
	return rc;
}

/* Append bytes to the pack: into its buffer, or straight to storage. */
static int pack_write(open_pack *p, const void *data, size_t len)
{
	if (p->sw)
		STOW_TRY(stow_store_put_append(p->sw, data, len));
	else
		STOW_TRY(stow_buf_append(&p->buf, data, len));
	p->len += len;
	return 0;
}

static int pack_new(stow_writer *w, int kind, open_pack **out)
{
	uint32_t target = kind == PACK_KIND_META ? w->r->meta_pack_size
						 : w->r->data_pack_size;
	uint8_t key[STOW_KEY_LEN];
	open_pack *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	p->kind = kind;
	stow_buf_init(&p->buf, (size_t)STOW_PACK_MAX - 1);
	if (kind == PACK_KIND_DATA && !stow_store_streams_natively(w->r->st)) {
		pthread_mutex_lock(&w->done_mu);
		if (w->nspare) {
			p->buf = w->spare[--w->nspare];
			stow_buf_reset(&p->buf);
		}
		pthread_mutex_unlock(&w->done_mu);
	}
	rc = stow_random(p->id, 32);
	if (rc == 0)
		rc = stow_repo_pack_add(w->r, p->id, kind, &p->ordinal);
	if (rc == 0)
		rc = stow_aead_new(&p->aead, w->r->aead);
	if (rc == 0) {
		stow_pack_derive_key(w->r, p->id, key);
		rc = stow_aead_setkey(p->aead, key);
		stow_secure_zero(key, sizeof(key));
	}
	if (rc == 0 && kind == PACK_KIND_DATA &&
	    stow_store_streams_natively(w->r->st)) {
		char okey[160];

		stow_pack_key(okey, sizeof(okey), kind, p->id);
		/* Durable by the stow_store_sync before the index object
		 * that names it (write_index). */
		rc = stow_store_put_begin(w->r->st, okey, STOW_PUT_DEFER_SYNC,
					  &p->sw);
		if (rc < 0)
			rc = stow_err_wrap(rc, "writing pack %s", okey);
	} else if (rc == 0) {
		/* Reserve the whole pack once: packs close before they
		 * would pass the target, so the buffer never doubles. */
		rc = stow_buf_reserve(&p->buf, target);
	}
	if (rc == 0) {
		memcpy(p->hdr, "STOWPACK", 8);
		stow_put_le32(p->hdr + 8, STOW_FORMAT_VERSION);
		p->hdr[12] = (uint8_t)kind;
		p->hdr[13] = (uint8_t)w->r->aead;
		memcpy(p->hdr + 16, p->id, 32);
		rc = pack_write(p, p->hdr, sizeof(p->hdr));
	}
	if (rc < 0) {
		pack_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static size_t trailer_estimate(size_t n)
{
	return 10 + n * (32 + 2 + 15) + STOW_TAG_LEN + STOW_PACK_FOOTER_LEN;
}

/* Append the sealed trailer and the footer. */
static int pack_finish(open_pack *p)
{
	_cleanup_(stow_buf_freep) stow_buf t = {0};
	uint8_t nonce[STOW_NONCE_LEN], aad[sizeof(TRAILER_AAD) - 1 + 48];
	size_t tlen;

	stow_buf_init(&t, 0);
	STOW_TRY(stow_buf_append_varint(&t, p->n));
	for (size_t i = 0; i < p->n; i++) {
		const stow_pack_entry *e = &p->entries[i];

		STOW_TRY(stow_buf_append(&t, e->id, STOW_ID_LEN));
		STOW_TRY(stow_buf_append_u8(&t, e->type));
		STOW_TRY(stow_buf_append_u8(&t, e->comp));
		STOW_TRY(stow_buf_append_varint(&t, e->offset));
		STOW_TRY(stow_buf_append_varint(&t, e->stored_len));
		STOW_TRY(stow_buf_append_varint(&t, e->raw_len));
	}
	tlen = t.len + STOW_TAG_LEN;
	/* Seal into t's own tail, then footer, then one write. */
	STOW_TRY(stow_buf_reserve(&t, STOW_TAG_LEN + STOW_PACK_FOOTER_LEN));
	memset(nonce, 0xff, sizeof(nonce));
	memcpy(aad, TRAILER_AAD, sizeof(TRAILER_AAD) - 1);
	memcpy(aad + sizeof(TRAILER_AAD) - 1, p->hdr, 48);
	STOW_TRY(stow_aead_seal(p->aead, nonce, aad, sizeof(aad), t.data,
				t.len, t.data));
	t.len = tlen;
	STOW_TRY(stow_buf_append_le32(&t, (uint32_t)tlen));
	STOW_TRY(stow_buf_append(&t, "STOWPEND", 8));
	return pack_write(p, t.data, t.len);
}

static int done_add(stow_writer *w, open_pack *p)
{
	stow_index_pack *ip;

	if (w->ndone == w->done_cap) {
		size_t ncap = w->done_cap ? w->done_cap * 2 : 16;
		void *nd = realloc(w->done, ncap * sizeof(*w->done));

		if (!nd)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		w->done = nd;
		w->done_cap = ncap;
	}
	ip = &w->done[w->ndone++];
	memcpy(ip->id, p->id, 32);
	ip->kind = p->kind;
	ip->ordinal = p->ordinal;
	w->done_blobs += p->n;
	ip->entries = p->entries;
	ip->n = p->n;
	p->entries = NULL;
	return 0;
}

/* Write the uploaded packs' entries as one index object (done_mu held). */
static int write_index(stow_writer *w)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	uint8_t rid[32];
	char key[80], hex[65];
	int rc;

	if (w->ndone == 0)
		return 0;
	/* Every pack this index names must be on stable storage first. */
	rc = stow_store_sync(w->r->st);
	if (rc < 0)
		return stow_err_wrap(rc, "syncing packs");
	stow_buf_init(&b, STOW_SEALED_MAX);
	STOW_TRY(stow_index_encode(w->done, w->ndone, &b));
	STOW_TRY(stow_random(rid, sizeof(rid)));
	stow_hex(hex, rid, 32);
	snprintf(key, sizeof(key), "index/%s", hex);
	rc = stow_sealed_put(w->r, STOW_SEALED_INDEX, key, b.data, b.len);
	if (rc < 0)
		return stow_err_wrap(rc, "writing index %s", key);
	for (size_t i = 0; i < w->ndone; i++) {
		uint32_t rel = w->done[i].ordinal - w->first_pack;

		if (w->done[i].ordinal >= w->first_pack) {
			if (rel >= w->durable_cap) {
				size_t ncap = (rel + 1) * 2;
				uint8_t *nd = realloc(w->durable, ncap);

				if (!nd)
					return stow_err_set(STOW_ENOMEM,
							    "out of memory");
				memset(nd + w->durable_cap, 0,
				       ncap - w->durable_cap);
				w->durable = nd;
				w->durable_cap = ncap;
			}
			w->durable[rel] = 1;
		}
		free(w->done[i].entries);
	}
	w->ndone = 0;
	w->done_blobs = 0;
	return 0;
}

/* Store a finished pack (put, or commit of a streamed one), then list it
 * for the next index object. Consumes p. */
static void pack_store(stow_writer *w, open_pack *p)
{
	char key[160];
	int rc = get_err(w);

	stow_pack_key(key, sizeof(key), p->kind, p->id);
	if (rc == 0 && p->sw) {
		rc = stow_store_put_commit(p->sw);
		if (rc < 0)
			rc = stow_err_wrap(rc, "writing pack %s", key);
	} else if (rc == 0) {
		/* Durable by the stow_store_sync before the index object
		 * that names it (write_index). */
		rc = stow_store_put(w->r->st, key, p->buf.data, p->buf.len,
				    STOW_PUT_DEFER_SYNC);
		if (rc < 0)
			rc = stow_err_wrap(rc, "uploading pack %s", key);
	}
	if (p->sw && rc == 0)
		p->sw = NULL; /* commit freed it */
	if (rc == 0) {
		pthread_mutex_lock(&w->done_mu);
		rc = done_add(w, p);
		if (rc == 0 && (w->ndone >= INDEX_FLUSH_PACKS ||
				w->done_blobs >= INDEX_FLUSH_BLOBS))
			rc = write_index(w);
		pthread_mutex_unlock(&w->done_mu);
	}
	if (rc < 0)
		set_err(w, rc);
	pack_recycle(w, p);
}

/* Streamed packs are already in storage: commit them in the caller's
 * thread; buffered ones queue for an uploader. Consumes p. */
static int pack_submit(stow_writer *w, open_pack *p)
{
	int rc;

	if (p->sw) {
		pack_store(w, p);
		return get_err(w);
	}
	rc = stow_queue_push(w->upq, p);
	if (rc < 0)
		pack_free(p);
	return rc;
}

static void *uploader(void *arg)
{
	stow_writer *w = arg;
	open_pack *p;

	while ((p = stow_queue_pop(w->upq)))
		pack_store(w, p);
	return NULL;
}

int stow_writer_new(stow_writer **out, stow_repo *r,
		    const stow_comp_spec *comp)
{
	stow_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	w->r = r;
	w->comp = comp ? *comp : r->comp;
	w->first_pack = stow_repo_pack_count(r);
	pthread_mutex_init(&w->mu[0], NULL);
	pthread_mutex_init(&w->mu[1], NULL);
	pthread_mutex_init(&w->done_mu, NULL);
	rc = stow_queue_new(&w->upq, UPLOAD_QUEUE);
	for (int i = 0; rc == 0 && i < UPLOADERS; i++) {
		if (pthread_create(&w->up[i], NULL, uploader, w) != 0)
			rc = stow_err_set(STOW_ENOMEM, "cannot start thread");
		else
			w->nup++;
	}
	if (rc < 0) {
		stow_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static int ensure_compressor(stow_writer *w, stow_vault_ctx *c)
{
	if (c->comp && memcmp(&c->comp_spec, &w->comp, sizeof(w->comp)) == 0)
		return 0;
	stow_compressor_free(c->comp);
	c->comp = NULL;
	STOW_TRY(stow_compressor_new(&c->comp, &w->comp));
	c->comp_spec = w->comp;
	return 0;
}

int stow_writer_add_hashed(stow_writer *w, stow_vault_ctx *c, int type,
			   const uint8_t id[STOW_ID_LEN], const void *data,
			   size_t len, bool *added)
{
	int kind = type == STOW_BLOB_TREE ? PACK_KIND_META : PACK_KIND_DATA;
	uint32_t target = kind == PACK_KIND_META ? w->r->meta_pack_size
						 : w->r->data_pack_size;
	stow_comp_alg used = STOW_COMP_NONE;
	const uint8_t *payload = data;
	size_t plen = len, stored;
	open_pack *full = NULL;
	stow_pack_entry *e;
	stow_blob_loc loc;
	open_pack *p;
	int rc;

	*added = false;
	if (type != STOW_BLOB_DATA && type != STOW_BLOB_TREE)
		return stow_err_set(STOW_EINVAL, "unknown blob type %d", type);
	if (w->flushed)
		return stow_err_set(STOW_EINVAL, "writer already flushed");
	STOW_TRY(get_err(w));
	if (len > STOW_BLOB_MAX)
		return stow_err_set(STOW_EINVAL, "blob of %zu bytes too large",
				    len);
	rc = stow_index_claim(w->r->index, id);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		pthread_mutex_lock(&w->done_mu);
		w->stats.blobs_dup++;
		pthread_mutex_unlock(&w->done_mu);
		return 0;
	}
	if (w->comp.alg != STOW_COMP_NONE && len > 0) {
		STOW_TRY(ensure_compressor(w, c));
		stow_buf_reset(&c->zbuf);
		STOW_TRY(stow_compress(c->comp, data, len, &c->zbuf, &used));
		if (used != STOW_COMP_NONE) {
			payload = c->zbuf.data;
			plen = c->zbuf.len;
		}
	}
	stored = plen + STOW_TAG_LEN;
	/* Streamed data packs: seal into this thread's compression buffer
	 * (in place when compressed) and write from there, so no pack
	 * memory is needed at all. Room is made before taking the lock. */
	if (kind == PACK_KIND_DATA && stow_store_streams_natively(w->r->st)) {
		if (payload == c->zbuf.data) {
			STOW_TRY(stow_buf_reserve(&c->zbuf, STOW_TAG_LEN));
			payload = c->zbuf.data;
		} else {
			stow_buf_reset(&c->zbuf);
			STOW_TRY(stow_buf_reserve(&c->zbuf, stored));
		}
	}

	pthread_mutex_lock(&w->mu[kind]);
	p = w->open[kind];
	if (p && p->n > 0 &&
	    p->len + stored + trailer_estimate(p->n + 1) > target) {
		full = p;
		p = w->open[kind] = NULL;
	}
	if (!p) {
		rc = pack_new(w, kind, &p);
		if (rc < 0)
			goto unlock;
		w->open[kind] = p;
	}
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		void *ne = realloc(p->entries, ncap * sizeof(*p->entries));

		if (!ne) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
			goto unlock;
		}
		p->entries = ne;
		p->cap = ncap;
	}
	if (p->len + stored >= STOW_PACK_MAX - (1u << 20)) {
		rc = stow_err_set(STOW_EINVAL, "pack would exceed 4 GiB");
		goto unlock;
	}
	if (!p->sw) {
		rc = stow_buf_reserve(&p->buf, stored);
		if (rc < 0)
			goto unlock;
	}
	e = &p->entries[p->n];
	memcpy(e->id, id, STOW_ID_LEN);
	e->type = (uint8_t)type;
	e->comp = (uint8_t)used;
	e->offset = (uint32_t)p->len;
	e->stored_len = (uint32_t)stored;
	e->raw_len = (uint32_t)len;
	{
		uint8_t nonce[STOW_NONCE_LEN], aad[38];

		stow_pack_nonce(nonce, e->offset);
		stow_pack_blob_aad(aad, e);
		rc = stow_aead_seal(p->aead, nonce, aad, sizeof(aad), payload,
				    plen,
				    p->sw ? c->zbuf.data
					  : p->buf.data + p->buf.len);
		if (rc < 0)
			goto unlock;
	}
	if (p->sw) {
		/* Streamed: the sealed blob goes out now, in offset order
		 * (we hold the pack's mutex). A failed write poisons the
		 * writer; the session fails and the temp object goes. */
		rc = stow_store_put_append(p->sw, c->zbuf.data, stored);
		stow_buf_reset(&c->zbuf);
		if (rc < 0) {
			rc = stow_err_wrap(rc, "writing pack");
			goto unlock;
		}
	} else {
		p->buf.len += stored;
	}
	p->len += stored;
	p->n++;
	loc.pack = p->ordinal;
	loc.offset = e->offset;
	loc.stored_len = e->stored_len;
	loc.raw_len = e->raw_len;
	loc.type = e->type;
	loc.comp = e->comp;
	stow_index_resolve(w->r->index, id, &loc);
	if (p->len + trailer_estimate(p->n) >= target) {
		full = full ? full : p;
		if (full == p)
			w->open[kind] = NULL;
	}
unlock:
	pthread_mutex_unlock(&w->mu[kind]);
	if (rc < 0) {
		pack_free(full);
		return rc;
	}
	pthread_mutex_lock(&w->done_mu);
	w->stats.blobs_new++;
	w->stats.raw_new += len;
	w->stats.stored_new += stored;
	pthread_mutex_unlock(&w->done_mu);
	*added = true;
	if (full) {
		rc = pack_finish(full);
		if (rc == 0) {
			pthread_mutex_lock(&w->done_mu);
			w->stats.packs++;
			pthread_mutex_unlock(&w->done_mu);
			return pack_submit(w, full);
		}
		pack_free(full);
		return rc;
	}
	return 0;
}

int stow_writer_add(stow_writer *w, stow_vault_ctx *c, int type,
		    const void *data, size_t len, uint8_t id[STOW_ID_LEN],
		    bool *added)
{
	STOW_TRY(stow_hasher_digest(c->hasher, data, len, id));
	return stow_writer_add_hashed(w, c, type, id, data, len, added);
}

static void stop_uploaders(stow_writer *w)
{
	stow_queue_close(w->upq);
	for (int i = 0; i < w->nup; i++)
		pthread_join(w->up[i], NULL);
	w->nup = 0;
}

int stow_writer_flush(stow_writer *w)
{
	int rc = 0;

	if (w->flushed)
		return stow_err_set(STOW_EINVAL, "writer already flushed");
	for (int k = 0; k < 2; k++) {
		open_pack *p;

		pthread_mutex_lock(&w->mu[k]);
		p = w->open[k];
		w->open[k] = NULL;
		pthread_mutex_unlock(&w->mu[k]);
		if (!p)
			continue;
		if (rc == 0)
			rc = pack_finish(p);
		if (rc == 0) {
			w->stats.packs++;
			rc = pack_submit(w, p);
		} else {
			pack_free(p);
		}
	}
	stop_uploaders(w);
	w->flushed = true;
	if (rc < 0)
		return rc;
	STOW_TRY(get_err(w));
	pthread_mutex_lock(&w->done_mu);
	rc = write_index(w);
	pthread_mutex_unlock(&w->done_mu);
	w->flush_ok = rc == 0;
	return rc;
}

/* A failed or abandoned session: its claims and the packs no index lists
 * must not serve as dedup targets for a later session in this process
 * (their blobs never became durable). Assumes one write session per
 * repository handle at a time, which is how the vault uses it. */
static void forget_session(stow_writer *w)
{
	uint32_t n = stow_repo_pack_count(w->r);
	uint8_t *keep = calloc(n ? n : 1, 1);

	stow_index_drop_pending(w->r->index);
	if (!keep)
		return;
	for (uint32_t o = 0; o < n; o++)
		keep[o] = o < w->first_pack ||
			  (o - w->first_pack < w->durable_cap &&
			   w->durable[o - w->first_pack]);
	stow_index_drop_packs(w->r->index, keep, n);
	free(keep);
}

void stow_writer_get_stats(stow_writer *w, stow_writer_stats *s)
{
	pthread_mutex_lock(&w->done_mu);
	*s = w->stats;
	pthread_mutex_unlock(&w->done_mu);
}

void stow_writer_free(stow_writer *w)
{
	if (!w)
		return;
	if (w->upq) {
		stop_uploaders(w);
		stow_queue_free(w->upq);
	}
	if (!w->flush_ok)
		forget_session(w);
	free(w->durable);
	pack_free(w->open[0]);
	pack_free(w->open[1]);
	for (size_t i = 0; i < w->nspare; i++)
		stow_buf_free(&w->spare[i]);
	for (size_t i = 0; i < w->ndone; i++)
		free(w->done[i].entries);
	free(w->done);
	pthread_mutex_destroy(&w->mu[0]);
	pthread_mutex_destroy(&w->mu[1]);
	pthread_mutex_destroy(&w->done_mu);
	free(w);
}
