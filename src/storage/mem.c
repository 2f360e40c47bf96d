/* The in-memory backend: a mutex-protected array of objects sorted by key.
 *
 * It exists for unit tests and fuzzers, so it mirrors the fs backend's
 * semantics closely enough that code tested against it works on a
 * filesystem: EXCL puts, ranged gets, prefix listing, and the rule that a
 * key may not also be the "directory" of another key ("a" next to "a/b"),
 * which a filesystem cannot represent. Objects are copied in and out, so
 * callers never share memory with the store.
 *
 * Thread safety: every operation takes the one mutex; list drops it while
 * calling the callback, so the callback may use the store. */
#include "storage/storage.h"

#include <pthread.h>
#include <string.h>

#include "util/err.h"

#define KEY_MAX 1024

typedef struct mem_obj {
	char *key;
	uint8_t *data; /* NULL for an empty object */
	size_t len;
} mem_obj;

typedef struct mem_store {
	stow_store base;
	pthread_mutex_t mu;
	mem_obj *objs; /* sorted by strcmp of key; guarded by mu */
	size_t n, cap;
	long fail_after; /* puts left before injected failures; <0: never */
} mem_store;

static const stow_store_ops mem_ops;

static mem_store *to_mem(stow_store *s)
{
	return (mem_store *)s;
}

/* Index of the first object whose key is >= key. */
static size_t lower_bound(const mem_store *ms, const char *key)
{
	size_t lo = 0, hi = ms->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ms->objs[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static mem_obj *find(mem_store *ms, const char *key)
{
	size_t i = lower_bound(ms, key);

	if (i < ms->n && strcmp(ms->objs[i].key, key) == 0)
		return &ms->objs[i];
	return NULL;
}

/* The key that makes `key` unrepresentable on a filesystem, or NULL:
 * an existing object named like one of key's ancestor directories, or an
 * existing object below key as if key were a directory. */
static const char *layout_conflict(mem_store *ms, const char *key)
{
	char tmp[KEY_MAX + 2];
	size_t klen = strlen(key), i;
	mem_obj *o;

	memcpy(tmp, key, klen + 1);
	for (size_t j = 0; j < klen; j++) {
		if (key[j] != '/')
			continue;
		tmp[j] = '\0';
		o = find(ms, tmp);
		tmp[j] = '/';
		if (o)
			return o->key;
	}
	tmp[klen] = '/';
	tmp[klen + 1] = '\0';
	i = lower_bound(ms, tmp);
	if (i < ms->n && strncmp(ms->objs[i].key, tmp, klen + 1) == 0)
		return ms->objs[i].key;
	return NULL;
}

static int bad_key(const char *key)
{
	return stow_err_set(STOW_EINVAL, "invalid object key \"%.200s\"",
			    key ? key : "(null)");
}

static int mem_get(stow_store *s, const char *key, uint64_t off, uint64_t len,
		   stow_buf *out)
{
	mem_store *ms = to_mem(s);
	mem_obj *o;
	uint64_t n = 0;
	int rc = 0;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	pthread_mutex_lock(&ms->mu);
	o = find(ms, key);
	if (!o) {
		rc = stow_err_set(STOW_ENOTFOUND, "no object %s in %s", key,
				  s->location);
		goto out;
	}
	if (off < o->len) {
		n = o->len - off;
		if (len < n)
			n = len;
		rc = stow_buf_append(out, o->data + off, (size_t)n);
	}
out:
	pthread_mutex_unlock(&ms->mu);
	return rc;
}

static int mem_put(stow_store *s, const char *key, const void *data, size_t len,
		   unsigned flags)
{
	mem_store *ms = to_mem(s);
	uint8_t *copy = NULL;
	char *kcopy = NULL;
	const char *other;
	mem_obj *o;
	int rc = 0;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	if (!data && len)
		return stow_err_set(STOW_EINVAL, "put %s: no data", key);
	/* Copy outside the lock; the copy is thrown away on failure. */
	if (len) {
		copy = malloc(len);
		if (!copy)
			return stow_err_set(STOW_ENOMEM,
					    "put %s: out of memory (%zu bytes)",
					    key, len);
		memcpy(copy, data, len);
	}

	pthread_mutex_lock(&ms->mu);
	if (ms->fail_after == 0) {
		rc = stow_err_set(STOW_EIO, "put %s: injected failure", key);
		goto out;
	}
	o = find(ms, key);
	if (o) {
		if (flags & STOW_PUT_EXCL) {
			rc = stow_err_set(STOW_EEXIST,
					  "object %s already exists in %s", key,
					  s->location);
			goto out;
		}
		free(o->data);
		o->data = copy;
		o->len = len;
		copy = NULL;
	} else {
		size_t i;

		other = layout_conflict(ms, key);
		if (other) {
			rc = stow_err_set(STOW_EINVAL,
					  "put %s: conflicts with object %s "
					  "(a key cannot also be a directory "
					  "of other keys)",
					  key, other);
			goto out;
		}
		if (ms->n == ms->cap) {
			size_t ncap = ms->cap ? ms->cap * 2 : 64;
			mem_obj *nv = realloc(ms->objs, ncap * sizeof(*nv));

			if (!nv) {
				rc = stow_err_set(STOW_ENOMEM,
						  "put %s: out of memory", key);
				goto out;
			}
			ms->objs = nv;
			ms->cap = ncap;
		}
		kcopy = strdup(key);
		if (!kcopy) {
			rc = stow_err_set(STOW_ENOMEM, "put %s: out of memory",
					  key);
			goto out;
		}
		i = lower_bound(ms, key);
		memmove(&ms->objs[i + 1], &ms->objs[i],
			(ms->n - i) * sizeof(ms->objs[0]));
		ms->objs[i] = (mem_obj){kcopy, copy, len};
		ms->n++;
		copy = NULL;
	}
	if (ms->fail_after > 0)
		ms->fail_after--;
out:
	pthread_mutex_unlock(&ms->mu);
	free(copy);
	return rc;
}

static int mem_stat(stow_store *s, const char *key, uint64_t *size)
{
	mem_store *ms = to_mem(s);
	mem_obj *o;
	int rc = 0;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	pthread_mutex_lock(&ms->mu);
	o = find(ms, key);
	if (!o)
		rc = stow_err_set(STOW_ENOTFOUND, "no object %s in %s", key,
				  s->location);
	else if (size)
		*size = o->len;
	pthread_mutex_unlock(&ms->mu);
	return rc;
}

/* Walks by "next key after the last one seen", re-finding the position
 * under the lock each step: O(log n) per key, no snapshot copy, and the
 * callback runs unlocked. Keys put or deleted during the walk may or may
 * not be reported, as with a filesystem directory. */
static int mem_list(stow_store *s, const char *prefix, stow_store_list_cb cb,
		    void *ctx)
{
	mem_store *ms = to_mem(s);
	char key[KEY_MAX + 1];
	size_t plen;
	int have_last = 0;

	if (!prefix)
		prefix = "";
	if (!stow_store_prefix_valid(prefix))
		return stow_err_set(STOW_EINVAL,
				    "invalid list prefix \"%.200s\"", prefix);
	if (!cb)
		return stow_err_set(STOW_EINVAL, "list without a callback");
	plen = strlen(prefix);
	for (;;) {
		uint64_t size;
		size_t i;
		int rc;

		pthread_mutex_lock(&ms->mu);
		if (have_last) {
			i = lower_bound(ms, key);
			if (i < ms->n && strcmp(ms->objs[i].key, key) == 0)
				i++;
		} else {
			i = lower_bound(ms, prefix);
		}
		if (i >= ms->n || strncmp(ms->objs[i].key, prefix, plen) != 0) {
			pthread_mutex_unlock(&ms->mu);
			return 0;
		}
		/* Stored keys passed stow_store_key_valid, so they fit. */
		memcpy(key, ms->objs[i].key, strlen(ms->objs[i].key) + 1);
		size = ms->objs[i].len;
		pthread_mutex_unlock(&ms->mu);

		have_last = 1;
		rc = cb(ctx, key, size);
		if (rc < 0)
			return rc;
	}
}

static int mem_del(stow_store *s, const char *key)
{
	mem_store *ms = to_mem(s);
	size_t i;
	int rc = 0;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	pthread_mutex_lock(&ms->mu);
	i = lower_bound(ms, key);
	if (i < ms->n && strcmp(ms->objs[i].key, key) == 0) {
		free(ms->objs[i].key);
		free(ms->objs[i].data);
		memmove(&ms->objs[i], &ms->objs[i + 1],
			(ms->n - i - 1) * sizeof(ms->objs[0]));
		ms->n--;
	} else {
		rc = stow_err_set(STOW_ENOTFOUND, "no object %s in %s", key,
				  s->location);
	}
	pthread_mutex_unlock(&ms->mu);
	return rc;
}

static void mem_close(stow_store *s)
{
	mem_store *ms = to_mem(s);

	for (size_t i = 0; i < ms->n; i++) {
		free(ms->objs[i].key);
		free(ms->objs[i].data);
	}
	free(ms->objs);
	pthread_mutex_destroy(&ms->mu);
	free(ms->base.location);
	free(ms);
}

/* Streamed puts: the bytes collect in a buffer and commit is a put, which
 * is exactly the contract (nothing visible before commit). */
typedef struct mem_put_writer {
	stow_put_writer base;
	stow_store *s;
	char *key;
	unsigned flags;
	stow_buf data;
} mem_put_writer;

static int mem_put_begin(stow_store *s, const char *key, unsigned flags,
			 stow_put_writer **out)
{
	mem_put_writer *w;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	w = calloc(1, sizeof(*w));
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	w->base.ops = &mem_ops;
	w->s = s;
	w->flags = flags;
	stow_buf_init(&w->data, 0);
	*out = &w->base;
	return 0;
}

static int mem_put_append(stow_put_writer *pw, const void *data, size_t len)
{
	mem_put_writer *w = (mem_put_writer *)pw;

	return stow_buf_append(&w->data, data, len);
}

static void mem_put_abort(stow_put_writer *pw)
{
	mem_put_writer *w = (mem_put_writer *)pw;

	stow_buf_free(&w->data);
	free(w->key);
	free(w);
}

static int mem_put_commit(stow_put_writer *pw)
{
	mem_put_writer *w = (mem_put_writer *)pw;
	int rc = mem_put(w->s, w->key, w->data.data, w->data.len, w->flags);

	mem_put_abort(pw);
	return rc;
}

static const stow_store_ops mem_ops = {
    .version = STOW_STORE_OPS_VERSION,
    .name = "mem",
    .get = mem_get,
    .put = mem_put,
    .stat = mem_stat,
    .list = mem_list,
    .del = mem_del,
    .close = mem_close,
    .put_begin = mem_put_begin,
    .put_append = mem_put_append,
    .put_commit = mem_put_commit,
    .put_abort = mem_put_abort,
};

int stow_store_mem_open(stow_store **out)
{
	mem_store *ms;

	if (!out)
		return stow_err_set(STOW_EINVAL, "no output pointer");
	*out = NULL;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	ms->base.ops = &mem_ops;
	ms->base.location = strdup("mem:");
	if (!ms->base.location) {
		free(ms);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&ms->mu, NULL);
	ms->fail_after = -1;
	*out = &ms->base;
	return 0;
}

/* A no-op on stores of other backends, so test helpers may call it on
 * whatever store they were given. */
void stow_store_mem_fail_puts_after(stow_store *s, long n)
{
	mem_store *ms;

	if (!s || s->ops != &mem_ops)
		return;
	ms = to_mem(s);
	pthread_mutex_lock(&ms->mu);
	ms->fail_after = n < 0 ? -1 : n;
	pthread_mutex_unlock(&ms->mu);
}
