/* Backend-independent parts of the blob store: key validation and opening a
 * store by its location string. */
#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

#include "storage/s3.h"
#include "util/err.h"

/* Longest key accepted by any backend. Keys are built by the vault from
 * fixed prefixes and hex IDs, so this is generous; the cap keeps path
 * buffers bounded. */
#define KEY_MAX 1024

static int key_char_ok(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* A key is '/'-separated segments of [A-Za-z0-9._-], none empty and none
 * starting with '.'. The last rule excludes "." and "..", so a key can
 * never escape a filesystem root, and it reserves dot-names for backend
 * bookkeeping (the fs backend's ".tmp." files). */
int stow_store_key_valid(const char *key)
{
	size_t n = 0;
	int seg_start = 1;

	if (!key || !*key)
		return 0;
	for (const char *p = key; *p; p++, n++) {
		if (n >= KEY_MAX)
			return 0;
		if (*p == '/') {
			if (seg_start)
				return 0; /* leading '/' or empty segment */
			seg_start = 1;
			continue;
		}
		if (!key_char_ok(*p))
			return 0;
		if (seg_start && *p == '.')
			return 0;
		seg_start = 0;
	}
	return !seg_start; /* a trailing '/' leaves an empty segment */
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "scheme://" with a plausible URL scheme before it (RFC 3986: a letter,
 * then letters, digits, '+', '-', '.'). */
static size_t url_scheme_len(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	       (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
	       s[i] == '.')
		i++;
	return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

int stow_store_open(stow_store **out, const char *location, int create)
{
	size_t scheme;

	if (!out)
		return stow_err_set(STOW_EINVAL, "no output pointer");
	*out = NULL;
	if (!location || !*location)
		return stow_err_set(STOW_EINVAL, "empty storage location");

	if (strcmp(location, "mem:") == 0)
		return stow_store_mem_open(out);
	if (has_prefix(location, "mem:"))
		return stow_err_set(STOW_EINVAL,
				    "storage location %s: \"mem:\" takes no "
				    "name (every open is a fresh store)",
				    location);
	if (has_prefix(location, "file://")) {
		const char *path = location + strlen("file://");

		/* Only the local form file:///abs/path; no host part and no
		 * percent-decoding. */
		if (path[0] != '/')
			return stow_err_set(STOW_EINVAL,
					    "storage location %s: a file URL "
					    "needs an absolute path "
					    "(file:///path/to/repo)",
					    location);
		return stow_store_fs_open(out, path, create);
	}
	if (has_prefix(location, "s3://")) {
		stow_s3_config cfg;
		int rc = stow_s3_config_parse(&cfg, location);

		if (rc == 0)
			rc = stow_s3_config_resolve_credentials(&cfg);
		if (rc == 0)
			rc = stow_store_s3_open(out, &cfg, create);
		stow_s3_config_free(&cfg);
		return rc;
	}
	/* Any other "scheme://" is refused rather than taken as a relative
	 * directory: a typo such as "gs://bucket" must not silently send
	 * backups to a local directory named "gs:". */
	scheme = url_scheme_len(location);
	if (scheme)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "storage location %s: unknown scheme "
				    "\"%.*s://\" (supported: a filesystem "
				    "path, file:///path, s3://bucket/prefix, "
				    "mem:)",
				    location, (int)scheme, location);
	return stow_store_fs_open(out, location, create);
}

/* The part of a prefix before its last '/' names a "directory" and must
 * be a valid key; the rest filters names in it and may use only key
 * characters. One rule for every backend, so a prefix means the same on
 * all of them. */
int stow_store_prefix_valid(const char *prefix)
{
	const char *slash = strrchr(prefix, '/');
	char dir[KEY_MAX + 1];
	size_t d;

	if (strlen(prefix) > KEY_MAX)
		return 0;
	for (const char *p = prefix; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-' || *p == '/'))
			return 0;
	if (!slash)
		return 1;
	d = (size_t)(slash - prefix);
	if (d == 0)
		return 0;
	memcpy(dir, prefix, d);
	dir[d] = '\0';
	return stow_store_key_valid(dir);
}

/* --- one level of a listing ------------------------------------------------
 */

typedef struct fold {
	size_t plen;
	stow_store_list_shallow_cb cb;
	void *ctx;
	char **seen; /* directory names already reported */
	size_t nseen, cap;
} fold;

static int fold_one(void *ctx, const char *key, uint64_t size)
{
	fold *f = ctx;
	const char *rest = key + f->plen;
	const char *slash = strchr(rest, '/');
	char dir[KEY_MAX + 2];
	size_t n;

	if (!slash)
		return f->cb(f->ctx, key, size, 0);
	n = (size_t)(slash - key) + 1;
	if (n > KEY_MAX + 1)
		return 0;
	memcpy(dir, key, n);
	dir[n] = '\0';
	for (size_t i = 0; i < f->nseen; i++)
		if (strcmp(f->seen[i], dir) == 0)
			return 0;
	if (f->nseen == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		char **ns = realloc(f->seen, ncap * sizeof(*ns));

		if (!ns)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		f->seen = ns;
		f->cap = ncap;
	}
	if (!(f->seen[f->nseen] = strdup(dir)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	f->nseen++;
	return f->cb(f->ctx, dir, 0, 1);
}

int stow_store_list_shallow(stow_store *s, const char *prefix,
			    stow_store_list_shallow_cb cb, void *ctx)
{
	fold f = {0};
	size_t plen;
	int rc;

	if (!prefix)
		prefix = "";
	plen = strlen(prefix);
	if (plen && prefix[plen - 1] != '/')
		return stow_err_set(STOW_EINVAL,
				    "shallow list prefix \"%.200s\" does not "
				    "end in '/'",
				    prefix);
	if (!cb)
		return stow_err_set(STOW_EINVAL, "list without a callback");
	if (s->ops->list_shallow)
		return s->ops->list_shallow(s, prefix, cb, ctx);
	f.plen = plen;
	f.cb = cb;
	f.ctx = ctx;
	rc = stow_store_list(s, prefix, fold_one, &f);
	for (size_t i = 0; i < f.nseen; i++)
		free(f.seen[i]);
	free(f.seen);
	return rc;
}
