#include "vault/packlist.h"

#include <string.h>

#include "util/buf.h"
#include "util/err.h"

typedef struct lister {
	stow_packlist_cb cb;
	void *ctx;
} lister;

static int list_one(void *ctx, const char *key, uint64_t size)
{
	lister *l = ctx;
	const char *name = strrchr(key, '/');
	uint8_t id[32];
	bool is_pack = name && stow_unhex(id, sizeof(id), name + 1) == 0;

	return l->cb(l->ctx, key, size, strncmp(key, "meta/", 5) == 0,
		     is_pack ? id : NULL);
}

int stow_packlist_foreach(stow_store *st, stow_packlist_cb cb, void *ctx)
{
	lister l = {.cb = cb, .ctx = ctx};

	STOW_TRY(stow_store_list(st, "data/", list_one, &l));
	return stow_store_list(st, "meta/", list_one, &l);
}
