#include "vault/keylist.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define FIRST_CAP 16

static int grow(stow_keylist *l)
{
	size_t ncap;
	char **nk;
	uint64_t *ns;

	if (!l->cap)
		ncap = FIRST_CAP;
	else if (__builtin_mul_overflow(l->cap, (size_t)2, &ncap) ||
		 ncap > SIZE_MAX / sizeof(*nk))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	nk = realloc(l->keys, ncap * sizeof(*nk));
	if (!nk)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	l->keys = nk;
	ns = realloc(l->sizes, ncap * sizeof(*ns));
	if (!ns)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	l->sizes = ns;
	l->cap = ncap;
	return 0;
}

int stow_keylist_add(stow_keylist *l, const char *key, uint64_t size)
{
	if (l->n == l->cap)
		STOW_TRY(grow(l));
	if (!(l->keys[l->n] = strdup(key)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	l->sizes[l->n++] = size;
	return 0;
}

static int collect(void *ctx, const char *key, uint64_t size)
{
	return stow_keylist_add(ctx, key, size);
}

typedef struct entry {
	char *key;
	uint64_t size;
} entry;

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

/* Sort keys and sizes together. */
static int sort(stow_keylist *l)
{
	entry *v;

	if (l->n < 2)
		return 0;
	v = calloc(l->n, sizeof(*v));
	if (!v)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < l->n; i++)
		v[i] = (entry){l->keys[i], l->sizes[i]};
	qsort(v, l->n, sizeof(*v), cmp_key);
	for (size_t i = 0; i < l->n; i++) {
		l->keys[i] = v[i].key;
		l->sizes[i] = v[i].size;
	}
	free(v);
	return 0;
}

int stow_keylist_list_sorted(stow_store *st, const char *prefix,
			     stow_keylist *l)
{
	int rc = stow_store_list(st, prefix, collect, l);

	if (rc == 0)
		rc = sort(l);
	if (rc < 0)
		stow_keylist_free(l);
	return rc;
}

void stow_keylist_free(stow_keylist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->keys[i]);
	free(l->keys);
	free(l->sizes);
	l->keys = NULL;
	l->sizes = NULL;
	l->n = l->cap = 0;
}
