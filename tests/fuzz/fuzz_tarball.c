/* Fuzz target for the backup tarball reader (src/velero/tarball.c).
 *
 * Any input: the read and the index return cleanly. Every item handed
 * over has a safe path (no absolute path, no ".." component) and names
 * without '/' whose metadata matches. The un-versioned items written
 * again with the writer read back as the same objects in the same order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"
#include "util/err.h"
#include "velero/tarball.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

#define MAX_KEEP 64

typedef struct seen {
	json_t *objs[MAX_KEEP];
	char *grs[MAX_KEEP];
	char *nss[MAX_KEEP];
	char *names[MAX_KEEP];
	size_t n;
	stow_velero_tar_writer *w;
	size_t reread;
	int mismatch;
} seen;

static int segment_safe(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

static void check_item(const stow_velero_tar_item *it)
{
	const char *p = it->path;

	check(p && p[0] != '/');
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		check(!((c == p || c[-1] == '/') && (c[2] == '/' || !c[2])));
	check(segment_safe(it->gr) && segment_safe(it->name));
	check(!it->ns || segment_safe(it->ns));
	check(!it->version || segment_safe(it->version));
	check(!it->preferred || it->version);
}

static int item_cb(void *ctx, const stow_velero_tar_item *it, json_t *obj)
{
	seen *s = ctx;
	const json_t *md = json_object_get(obj, "metadata");

	check_item(it);
	check(json_is_object(md));
	check(strcmp(json_string_value(json_object_get(md, "name")),
		     it->name) == 0);
	if (s->n < MAX_KEEP && !it->version) {
		s->objs[s->n] = json_incref(obj);
		s->grs[s->n] = strdup(it->gr);
		s->nss[s->n] = it->ns ? strdup(it->ns) : NULL;
		s->names[s->n] = strdup(it->name);
		s->n++;
	}
	return 0;
}

static int error_cb(void *ctx, const stow_velero_tar_item *it, const char *msg)
{
	(void)ctx;
	check(it && it->path && msg && *msg);
	if (it->name)
		check_item(it);
	return 0;
}

static int reread_cb(void *ctx, const stow_velero_tar_item *it, json_t *obj)
{
	seen *s = ctx;

	if (s->reread >= s->n || !json_equal(obj, s->objs[s->reread]) ||
	    strcmp(it->name, s->names[s->reread]) != 0)
		s->mismatch = 1;
	s->reread++;
	return 0;
}

static void round_trip(seen *s)
{
	stow_store *st;
	stow_velero_tar_writer *w;
	stow_velero_tar_read_opts o = {.item_cb = reread_cb, .ctx = s};
	size_t kept = 0;

	check(stow_store_mem_open(&st) == 0);
	check(stow_velero_tar_writer_open_key(&w, st, "t") == 0);
	for (size_t i = 0; i < s->n; i++) {
		/* The reader accepts names the writer would refuse (control
		 * characters are screened out by both; length caps agree),
		 * so every kept item must be writable. */
		int rc = stow_velero_tar_writer_add_item(
		    w, s->grs[i], NULL, 0, s->nss[i], s->names[i], s->objs[i]);

		check(rc == 0);
		kept++;
	}
	check(stow_velero_tar_writer_commit(w, NULL) == 0);
	s->reread = 0;
	check(stow_velero_tar_read_store(st, "t", &o, NULL) == 0);
	check(!s->mismatch && s->reread == kept);
	stow_store_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	seen s;
	stow_velero_tar_read_opts o = {.max_entry = 1 << 20,
				       .max_total = 16 << 20,
				       .max_entries = 4096,
				       .item_cb = item_cb,
				       .error_cb = error_cb};
	stow_velero_tar_index *ix = NULL;
	stow_velero_tar_stats st;
	int rc;

	memset(&s, 0, sizeof(s));
	o.ctx = &s;
	rc = stow_velero_tar_read_mem(data, size, &o, &st);
	check(rc == 0 || rc == STOW_ECORRUPT || rc == STOW_ENOMEM);
	if (rc == 0)
		round_trip(&s);
	for (size_t i = 0; i < s.n; i++) {
		json_decref(s.objs[i]);
		free(s.grs[i]);
		free(s.nss[i]);
		free(s.names[i]);
	}
	rc = stow_velero_tar_index_mem(data, size, &o, &ix);
	check(rc == 0 || rc == STOW_ECORRUPT || rc == STOW_ENOMEM);
	if (rc == 0) {
		for (size_t i = 1; i < ix->n_grs; i++)
			check(strcmp(ix->grs[i - 1], ix->grs[i]) < 0);
		for (size_t i = 1; i < ix->n_namespaces; i++)
			check(strcmp(ix->namespaces[i - 1], ix->namespaces[i]) <
			      0);
	}
	stow_velero_tar_index_free(ix);
	return 0;
}
