#include "vault/idset.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define FIRST_CAP 1024
#define VALUE_MAX 4096 /* a record per ID, not a payload */

/* Slot layout: [value, rounded up to 8][ID][used byte], so that values
 * are 8-byte aligned in every slot of a map. */
static size_t value_room(const stow_idset *s)
{
	return (s->value_size + 7) & ~(size_t)7;
}

static size_t slot_size(const stow_idset *s)
{
	return s->value_size ? value_room(s) + 40 : STOW_ID_LEN + 1;
}

static uint8_t *slot_at(const stow_idset *s, size_t i)
{
	return s->slots + i * slot_size(s);
}

static const uint8_t *slot_id(const stow_idset *s, const uint8_t *slot)
{
	return slot + value_room(s);
}

static bool slot_used(const stow_idset *s, const uint8_t *slot)
{
	return slot[value_room(s) + STOW_ID_LEN] != 0;
}

/* The slot holding id, or the empty slot where it would go. */
static uint8_t *find_slot(const stow_idset *s, const uint8_t *id)
{
	size_t mask = s->cap - 1, i;
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	for (i = (size_t)h & mask; slot_used(s, slot_at(s, i));
	     i = (i + 1) & mask)
		if (memcmp(slot_id(s, slot_at(s, i)), id, STOW_ID_LEN) == 0)
			break;
	return slot_at(s, i);
}

/* Would one more member take the load past 0.7? A product that overflows
 * answers yes; growing then fails cleanly. */
static bool needs_room(const stow_idset *s)
{
	size_t want, room;

	if (__builtin_mul_overflow(s->n + 1, (size_t)10, &want) ||
	    __builtin_mul_overflow(s->cap, (size_t)7, &room))
		return true;
	return want > room;
}

static int grow(stow_idset *s)
{
	stow_idset ns = *s;
	size_t bytes;

	if (!s->cap)
		ns.cap = FIRST_CAP;
	else if (__builtin_mul_overflow(s->cap, (size_t)2, &ns.cap))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (__builtin_mul_overflow(ns.cap, slot_size(s), &bytes))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	ns.slots = calloc(1, bytes);
	if (!ns.slots)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->cap; i++) {
		const uint8_t *old = slot_at(s, i);

		if (slot_used(s, old))
			memcpy(find_slot(&ns, slot_id(s, old)), old,
			       slot_size(s));
	}
	free(s->slots);
	*s = ns;
	return 0;
}

void stow_idset_init(stow_idset *s, size_t value_size)
{
	assert(value_size <= VALUE_MAX);
	memset(s, 0, sizeof(*s));
	s->value_size = value_size;
}

int stow_idset_add(stow_idset *s, const uint8_t id[STOW_ID_LEN], void **value)
{
	uint8_t *slot;
	int added = 0;

	if (needs_room(s))
		STOW_TRY(grow(s));
	slot = find_slot(s, id);
	if (!slot_used(s, slot)) {
		memset(slot, 0, slot_size(s));
		memcpy(slot + value_room(s), id, STOW_ID_LEN);
		slot[value_room(s) + STOW_ID_LEN] = 1;
		s->n++;
		added = 1;
	}
	if (value)
		*value = s->value_size ? slot : NULL;
	return added;
}

bool stow_idset_has(const stow_idset *s, const uint8_t id[STOW_ID_LEN])
{
	return s->cap && slot_used(s, find_slot(s, id));
}

void *stow_idset_get(const stow_idset *s, const uint8_t id[STOW_ID_LEN])
{
	uint8_t *slot;

	if (!s->cap || !s->value_size)
		return NULL;
	slot = find_slot(s, id);
	return slot_used(s, slot) ? slot : NULL;
}

bool stow_idset_next(const stow_idset *s, size_t *pos, const uint8_t **id,
		     void **value)
{
	for (; *pos < s->cap; (*pos)++) {
		uint8_t *slot = slot_at(s, *pos);

		if (!slot_used(s, slot))
			continue;
		if (id)
			*id = slot_id(s, slot);
		if (value)
			*value = s->value_size ? slot : NULL;
		(*pos)++;
		return true;
	}
	return false;
}

void stow_idset_free(stow_idset *s)
{
	if (!s)
		return;
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}
