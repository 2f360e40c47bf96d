/* The in-memory index: blob ID -> location, for dedup and reads.
 *
 * Entries live in fixed-size blocks (never moved, so no realloc spike of
 * the whole array), and an open-addressing table of 32-bit entry numbers
 * finds them. IDs are keyed-hash outputs, uniformly distributed, so their
 * first 8 bytes are the table hash. Memory: 52 bytes per entry plus 4
 * bytes per slot at load <= 0.7, i.e. about 58-64 bytes per blob. */
#include "vault/repo_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define BLOCK_SHIFT 14
#define BLOCK_SIZE (1u << BLOCK_SHIFT)
#define PENDING UINT32_MAX
#define DEAD (UINT32_MAX - 1) /* dropped by gc: treated as absent */

typedef struct entry {
	uint8_t id[STOW_ID_LEN];
	uint32_t pack; /* PENDING while a writer is storing it */
	uint32_t offset, stored_len, raw_len;
	uint8_t type, comp;
} entry;

struct stow_index {
	pthread_mutex_t mu;
	entry **blocks;
	size_t nblocks_cap;
	uint32_t count;
	uint32_t *slots; /* entry number + 1; 0 empty */
	size_t nslots;   /* power of two */
};

static inline uint64_t id_hash(const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return h;
}

static inline entry *entry_at(stow_index *x, uint32_t n)
{
	return &x->blocks[n >> BLOCK_SHIFT][n & (BLOCK_SIZE - 1)];
}

int stow_index_new(stow_index **out)
{
	stow_index *x = calloc(1, sizeof(*x));

	if (!x)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&x->mu, NULL);
	x->nslots = 1024;
	x->slots = calloc(x->nslots, sizeof(uint32_t));
	if (!x->slots) {
		free(x);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	*out = x;
	return 0;
}

void stow_index_free(stow_index *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nblocks_cap; i++)
		free(x->blocks[i]);
	free(x->blocks);
	free(x->slots);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

/* Slot holding id, or the empty slot where it would go. */
static size_t find_slot(stow_index *x, const uint8_t *id)
{
	size_t mask = x->nslots - 1;
	size_t i = id_hash(id) & mask;

	for (;;) {
		uint32_t s = x->slots[i];

		if (s == 0 || memcmp(entry_at(x, s - 1)->id, id,
				     STOW_ID_LEN) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static int grow_slots(stow_index *x)
{
	size_t ncap = x->nslots * 2;
	uint32_t *ns = calloc(ncap, sizeof(uint32_t));

	if (!ns)
		return stow_err_set(STOW_ENOMEM, "out of memory growing index");
	for (size_t i = 0; i < x->nslots; i++) {
		uint32_t s = x->slots[i];
		size_t j;

		if (!s)
			continue;
		j = id_hash(entry_at(x, s - 1)->id) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = s;
	}
	free(x->slots);
	x->slots = ns;
	x->nslots = ncap;
	return 0;
}

static void set_loc(entry *e, const stow_blob_loc *loc)
{
	e->pack = loc->pack;
	e->offset = loc->offset;
	e->stored_len = loc->stored_len;
	e->raw_len = loc->raw_len;
	e->type = loc->type;
	e->comp = loc->comp;
}

static void get_loc(const entry *e, stow_blob_loc *loc)
{
	loc->pack = e->pack;
	loc->offset = e->offset;
	loc->stored_len = e->stored_len;
	loc->raw_len = e->raw_len;
	loc->type = e->type;
	loc->comp = e->comp;
}

void stow_index_drop_packs(stow_index *x, const uint8_t *keep,
			   uint32_t npacks)
{
	pthread_mutex_lock(&x->mu);
	for (uint32_t i = 0; i < x->count; i++) {
		entry *e = entry_at(x, i);

		if (e->pack < npacks && !keep[e->pack])
			e->pack = DEAD;
	}
	pthread_mutex_unlock(&x->mu);
}

void stow_index_drop_pending(stow_index *x)
{
	pthread_mutex_lock(&x->mu);
	for (uint32_t i = 0; i < x->count; i++) {
		entry *e = entry_at(x, i);

		if (e->pack == PENDING)
			e->pack = DEAD;
	}
	pthread_mutex_unlock(&x->mu);
}

/* Append a new entry (mutex held). */
static int add_entry(stow_index *x, size_t slot, const uint8_t *id,
		     const stow_blob_loc *loc)
{
	uint32_t n = x->count;
	size_t b = n >> BLOCK_SHIFT;
	entry *e;

	if (n == PENDING - 1)
		return stow_err_set(STOW_ENOMEM, "index full");
	if (b >= x->nblocks_cap) {
		size_t ncap = x->nblocks_cap ? x->nblocks_cap * 2 : 16;
		entry **nb = realloc(x->blocks, ncap * sizeof(*nb));

		if (!nb)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		memset(nb + x->nblocks_cap, 0,
		       (ncap - x->nblocks_cap) * sizeof(*nb));
		x->blocks = nb;
		x->nblocks_cap = ncap;
	}
	if (!x->blocks[b]) {
		x->blocks[b] = malloc(BLOCK_SIZE * sizeof(entry));
		if (!x->blocks[b])
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	e = entry_at(x, n);
	memcpy(e->id, id, STOW_ID_LEN);
	if (loc) {
		set_loc(e, loc);
	} else {
		e->pack = PENDING;
	}
	x->slots[slot] = n + 1;
	x->count++;
	/* Keep load <= 0.7 so probes stay short. */
	if ((uint64_t)x->count * 10 > (uint64_t)x->nslots * 7)
		return grow_slots(x);
	return 0;
}

int stow_index_insert(stow_index *x, const uint8_t id[STOW_ID_LEN],
		      const stow_blob_loc *loc)
{
	int rc = 0;
	size_t slot;

	pthread_mutex_lock(&x->mu);
	slot = find_slot(x, id);
	if (x->slots[slot] == 0)
		rc = add_entry(x, slot, id, loc);
	else if (entry_at(x, x->slots[slot] - 1)->pack == DEAD)
		set_loc(entry_at(x, x->slots[slot] - 1), loc);
	pthread_mutex_unlock(&x->mu);
	return rc;
}

int stow_index_lookup(stow_index *x, const uint8_t id[STOW_ID_LEN],
		      stow_blob_loc *loc)
{
	int rc = STOW_ENOTFOUND;
	size_t slot;

	pthread_mutex_lock(&x->mu);
	slot = find_slot(x, id);
	if (x->slots[slot]) {
		entry *e = entry_at(x, x->slots[slot] - 1);

		if (e->pack != PENDING && e->pack != DEAD) {
			if (loc) {
				get_loc(e, loc);
			}
			rc = 0;
		}
	}
	pthread_mutex_unlock(&x->mu);
	return rc;
}

int stow_index_claim(stow_index *x, const uint8_t id[STOW_ID_LEN])
{
	int rc = 0;
	size_t slot;

	pthread_mutex_lock(&x->mu);
	slot = find_slot(x, id);
	if (x->slots[slot] == 0) {
		rc = add_entry(x, slot, id, NULL);
		if (rc == 0)
			rc = 1;
	} else if (entry_at(x, x->slots[slot] - 1)->pack == DEAD) {
		entry_at(x, x->slots[slot] - 1)->pack = PENDING;
		rc = 1;
	}
	pthread_mutex_unlock(&x->mu);
	return rc;
}

void stow_index_resolve(stow_index *x, const uint8_t id[STOW_ID_LEN],
			const stow_blob_loc *loc)
{
	size_t slot;

	pthread_mutex_lock(&x->mu);
	slot = find_slot(x, id);
	if (x->slots[slot]) {
		entry *e = entry_at(x, x->slots[slot] - 1);

		set_loc(e, loc);
	}
	pthread_mutex_unlock(&x->mu);
}

int stow_index_foreach(stow_index *x, stow_index_cb cb, void *ctx)
{
	uint32_t n;

	pthread_mutex_lock(&x->mu);
	n = x->count;
	pthread_mutex_unlock(&x->mu);
	/* Entries below n never move or change once resolved; callers walk
	 * a quiescent index (check, stats), so no lock is held during cb. */
	for (uint32_t i = 0; i < n; i++) {
		entry *e = entry_at(x, i);
		stow_blob_loc loc;
		int rc;

		if (e->pack == PENDING || e->pack == DEAD)
			continue;
		get_loc(e, &loc);
		rc = cb(ctx, e->id, &loc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

uint64_t stow_index_count(stow_index *x)
{
	uint64_t n;

	pthread_mutex_lock(&x->mu);
	n = x->count;
	pthread_mutex_unlock(&x->mu);
	return n;
}

/* Index object payload, version 1:
 *   u8 version; varint npacks; per pack: id[32], u8 kind, varint n;
 *   per blob: id[32], u8 type, u8 comp, varint offset, varint stored_len,
 *   varint raw_len. */
#define INDEX_VERSION 1

int stow_index_encode(const stow_index_pack *packs, size_t npacks,
		      stow_buf *out)
{
	STOW_TRY(stow_buf_append_u8(out, INDEX_VERSION));
	STOW_TRY(stow_buf_append_varint(out, npacks));
	for (size_t i = 0; i < npacks; i++) {
		const stow_index_pack *p = &packs[i];

		STOW_TRY(stow_buf_append(out, p->id, 32));
		STOW_TRY(stow_buf_append_u8(out, (uint8_t)p->kind));
		STOW_TRY(stow_buf_append_varint(out, p->n));
		for (size_t j = 0; j < p->n; j++) {
			const stow_pack_entry *e = &p->entries[j];

			STOW_TRY(stow_buf_append(out, e->id, STOW_ID_LEN));
			STOW_TRY(stow_buf_append_u8(out, e->type));
			STOW_TRY(stow_buf_append_u8(out, e->comp));
			STOW_TRY(stow_buf_append_varint(out, e->offset));
			STOW_TRY(stow_buf_append_varint(out, e->stored_len));
			STOW_TRY(stow_buf_append_varint(out, e->raw_len));
		}
	}
	return 0;
}

static int rd_u32(stow_rd *r, uint32_t *v, uint64_t max, const char *what)
{
	uint64_t x;

	STOW_TRY(stow_rd_varint(r, &x));
	if (x > max)
		return stow_err_set(STOW_ECORRUPT, "index: %s %llu too large",
				    what, (unsigned long long)x);
	*v = (uint32_t)x;
	return 0;
}

int stow_index_decode(const uint8_t *p, size_t len, stow_index_add_cb add,
		      void *ctx)
{
	stow_rd r;
	uint8_t version;
	uint64_t npacks;

	stow_rd_init(&r, p, len, "index");
	STOW_TRY(stow_rd_u8(&r, &version));
	if (version != INDEX_VERSION)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "index version %u is not supported by "
				    "this stowage (knows %u)",
				    version, INDEX_VERSION);
	STOW_TRY(stow_rd_varint(&r, &npacks));
	/* Each pack record takes at least 34 bytes. */
	if (npacks > stow_rd_left(&r) / 34)
		return stow_err_set(STOW_ECORRUPT, "index: pack count %llu "
				    "exceeds the object size",
				    (unsigned long long)npacks);
	for (uint64_t i = 0; i < npacks; i++) {
		const uint8_t *pid;
		uint8_t kind;
		uint64_t n;

		STOW_TRY(stow_rd_bytes(&r, 32, &pid));
		STOW_TRY(stow_rd_u8(&r, &kind));
		if (kind != PACK_KIND_DATA && kind != PACK_KIND_META)
			return stow_err_set(STOW_ECORRUPT,
					    "index: bad pack kind %u", kind);
		STOW_TRY(stow_rd_varint(&r, &n));
		if (n > stow_rd_left(&r) / 37)
			return stow_err_set(STOW_ECORRUPT, "index: blob count "
					    "exceeds the object size");
		for (uint64_t j = 0; j < n; j++) {
			stow_pack_entry e;
			uint64_t end;

			STOW_TRY(stow_rd_copy(&r, e.id, STOW_ID_LEN));
			STOW_TRY(stow_rd_u8(&r, &e.type));
			STOW_TRY(stow_rd_u8(&r, &e.comp));
			STOW_TRY(rd_u32(&r, &e.offset, UINT32_MAX, "offset"));
			STOW_TRY(rd_u32(&r, &e.stored_len, STOW_BLOB_MAX + 64,
					"stored length"));
			STOW_TRY(rd_u32(&r, &e.raw_len, STOW_BLOB_MAX,
					"raw length"));
			end = (uint64_t)e.offset + e.stored_len;
			if (e.type > STOW_BLOB_TREE || e.comp > STOW_COMP_GZIP ||
			    (e.type == STOW_BLOB_TREE) != (kind == PACK_KIND_META) ||
			    e.stored_len < STOW_TAG_LEN ||
			    e.offset < STOW_PACK_HEADER_LEN ||
			    end > STOW_PACK_MAX)
				return stow_err_set(STOW_ECORRUPT,
						    "index: invalid entry");
			STOW_TRY(add(ctx, pid, kind, &e));
		}
	}
	if (stow_rd_left(&r))
		return stow_err_set(STOW_ECORRUPT, "index: trailing bytes");
	return 0;
}
