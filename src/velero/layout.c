/* Velero's object-store layout over a blob store (layout.h). */
#include "velero/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "velero/gzjson.h"

static int alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* DNS-1123 subdomain: labels of [a-z0-9-] that start and end with an
 * alphanumeric, joined by single dots. */
int stow_velero_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > STOW_VELERO_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int label_start = i == 0 || name[i - 1] == '.';
		int label_end = i + 1 == n || name[i + 1] == '.';

		if (c == '.') {
			if (label_start || label_end)
				return 0;
			continue;
		}
		if (!alnum_lower(c) && c != '-')
			return 0;
		if ((label_start || label_end) && c == '-')
			return 0;
	}
	return 1;
}

int stow_velero_location_init(stow_velero_location *loc, stow_store *store,
			      const char *prefix)
{
	size_t b = 0, e;

	memset(loc, 0, sizeof(*loc));
	if (!store)
		return stow_err_set(STOW_EINVAL, "location without a store");
	loc->store = store;
	if (!prefix)
		return 0;
	e = strlen(prefix);
	while (b < e && prefix[b] == '/')
		b++;
	while (e > b && prefix[e - 1] == '/')
		e--;
	if (e == b)
		return 0;
	if (e - b > STOW_VELERO_PREFIX_MAX - 2)
		return stow_err_set(STOW_EINVAL,
				    "location prefix longer than %d characters",
				    STOW_VELERO_PREFIX_MAX - 2);
	memcpy(loc->prefix, prefix + b, e - b);
	loc->prefix[e - b] = '\0';
	if (!stow_store_key_valid(loc->prefix))
		return stow_err_set(STOW_EINVAL,
				    "location prefix \"%s\" is not a valid "
				    "object key prefix",
				    loc->prefix);
	loc->prefix[e - b] = '/';
	loc->prefix[e - b + 1] = '\0';
	return 0;
}

static int check_name(const char *name, const char *what)
{
	if (!stow_velero_name_valid(name))
		return stow_err_set(STOW_EINVAL,
				    "invalid %s name \"%.80s\": not a DNS-1123 "
				    "subdomain",
				    what, name ? name : "(null)");
	return 0;
}

static int fmt_key(char *out, size_t outsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fmt_key(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outsz)
		return stow_err_set(STOW_EINVAL,
				    "object key longer than %zu bytes", outsz);
	return 0;
}

/* The file name in backups/<name>/ after "<name>", or a full name when
 * it starts with '/' (velero-backup.json). */
static const char *const backup_suffix[STOW_VELERO_BACKUP_OBJ_COUNT] = {
    [STOW_VELERO_BACKUP_METADATA] = "/velero-backup.json",
    [STOW_VELERO_BACKUP_CONTENTS] = ".tar.gz",
    [STOW_VELERO_BACKUP_LOG] = "-logs.gz",
    [STOW_VELERO_BACKUP_RESULTS] = "-results.gz",
    [STOW_VELERO_BACKUP_RESOURCE_LIST] = "-resource-list.json.gz",
    [STOW_VELERO_BACKUP_PODVOLUMEBACKUPS] = "-podvolumebackups.json.gz",
    [STOW_VELERO_BACKUP_VOLUMESNAPSHOTS] = "-volumesnapshots.json.gz",
    [STOW_VELERO_BACKUP_ITEMOPERATIONS] = "-itemoperations.json.gz",
    [STOW_VELERO_BACKUP_VOLUMEINFO] = "-volumeinfo.json.gz",
    [STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTS] = "-csi-volumesnapshots.json.gz",
    [STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTCONTENTS] =
	"-csi-volumesnapshotcontents.json.gz",
    [STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTCLASSES] =
	"-csi-volumesnapshotclasses.json.gz",
};

int stow_velero_backup_key(const stow_velero_location *loc, const char *name,
			   stow_velero_backup_obj obj, char *out, size_t outsz)
{
	const char *sfx;

	STOW_TRY(check_name(name, "backup"));
	if ((unsigned)obj >= STOW_VELERO_BACKUP_OBJ_COUNT)
		return stow_err_set(STOW_EINVAL, "unknown backup object %d",
				    (int)obj);
	sfx = backup_suffix[obj];
	if (sfx[0] == '/')
		return fmt_key(out, outsz, "%sbackups/%s%s", loc->prefix, name,
			       sfx);
	return fmt_key(out, outsz, "%sbackups/%s/%s%s", loc->prefix, name, name,
		       sfx);
}

int stow_velero_restore_key(const stow_velero_location *loc, const char *name,
			    stow_velero_restore_obj obj, char *out,
			    size_t outsz)
{
	static const char *const sfx[STOW_VELERO_RESTORE_OBJ_COUNT] = {
	    [STOW_VELERO_RESTORE_LOG] = "-logs.gz",
	    [STOW_VELERO_RESTORE_RESULTS] = "-results.gz",
	    [STOW_VELERO_RESTORE_RESOURCE_LIST] = "-resource-list.json.gz",
	    [STOW_VELERO_RESTORE_ITEMOPERATIONS] = "-itemoperations.json.gz",
	    [STOW_VELERO_RESTORE_VOLUMEINFO] = "-volumeinfo.json.gz",
	};

	STOW_TRY(check_name(name, "restore"));
	if ((unsigned)obj >= STOW_VELERO_RESTORE_OBJ_COUNT)
		return stow_err_set(STOW_EINVAL, "unknown restore object %d",
				    (int)obj);
	/* The volume info file is the one without the "restore-" prefix
	 * (§2.3). */
	return fmt_key(out, outsz, "%srestores/%s/%s%s%s", loc->prefix, name,
		       obj == STOW_VELERO_RESTORE_VOLUMEINFO ? "" : "restore-",
		       name, sfx[obj]);
}

int stow_velero_download_key(const stow_velero_location *loc, const char *kind,
			     const char *name, char *out, size_t outsz)
{
	static const struct {
		const char *kind;
		int restore;
		int obj;
	} map[] = {
	    {"BackupLog", 0, STOW_VELERO_BACKUP_LOG},
	    {"BackupContents", 0, STOW_VELERO_BACKUP_CONTENTS},
	    {"BackupResults", 0, STOW_VELERO_BACKUP_RESULTS},
	    {"BackupResourceList", 0, STOW_VELERO_BACKUP_RESOURCE_LIST},
	    {"BackupVolumeSnapshots", 0, STOW_VELERO_BACKUP_VOLUMESNAPSHOTS},
	    {"BackupItemOperations", 0, STOW_VELERO_BACKUP_ITEMOPERATIONS},
	    {"BackupVolumeInfos", 0, STOW_VELERO_BACKUP_VOLUMEINFO},
	    {"CSIBackupVolumeSnapshots", 0,
	     STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTS},
	    {"CSIBackupVolumeSnapshotContents", 0,
	     STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTCONTENTS},
	    {"RestoreLog", 1, STOW_VELERO_RESTORE_LOG},
	    {"RestoreResults", 1, STOW_VELERO_RESTORE_RESULTS},
	    {"RestoreResourceList", 1, STOW_VELERO_RESTORE_RESOURCE_LIST},
	    {"RestoreItemOperations", 1, STOW_VELERO_RESTORE_ITEMOPERATIONS},
	    {"RestoreVolumeInfo", 1, STOW_VELERO_RESTORE_VOLUMEINFO},
	};

	for (size_t i = 0; kind && i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(kind, map[i].kind) != 0)
			continue;
		return map[i].restore
			   ? stow_velero_restore_key(
				 loc, name, (stow_velero_restore_obj)map[i].obj,
				 out, outsz)
			   : stow_velero_backup_key(
				 loc, name, (stow_velero_backup_obj)map[i].obj,
				 out, outsz);
	}
	return stow_err_set(STOW_EINVAL,
			    "unknown download target kind \"%.64s\"",
			    kind ? kind : "(null)");
}

static int check_type_field(const json_t *backup, const char *field,
			    const char *want)
{
	const json_t *v = json_object_get(backup, field);

	if (v &&
	    !(json_is_string(v) && strcmp(json_string_value(v), want) == 0))
		return stow_err_set(STOW_EINVAL,
				    "velero-backup.json: %s is not \"%s\"",
				    field, want);
	return 0;
}

int stow_velero_put_backup_json(const stow_velero_location *loc,
				const char *name, const json_t *backup)
{
	char key[STOW_VELERO_KEY_MAX];
	json_t *o;
	const char *k;
	json_t *v;
	stow_buf js;
	int rc;

	STOW_TRY(stow_velero_backup_key(loc, name, STOW_VELERO_BACKUP_METADATA,
					key, sizeof(key)));
	if (!json_is_object(backup))
		return stow_err_set(STOW_EINVAL,
				    "velero-backup.json: not a JSON object");
	STOW_TRY(check_type_field(backup, "apiVersion", "velero.io/v1"));
	STOW_TRY(check_type_field(backup, "kind", "Backup"));
	/* Go writes TypeMeta's fields first: a shallow copy with them in
	 * front, the rest in the caller's order. */
	o = json_object();
	if (!o ||
	    json_object_set_new(o, "apiVersion", json_string("velero.io/v1")) <
		0 ||
	    json_object_set_new(o, "kind", json_string("Backup")) < 0) {
		json_decref(o);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	json_object_foreach((json_t *)backup, k, v)
	{
		if (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0)
			continue;
		if (json_object_set(o, k, v) < 0) {
			json_decref(o);
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
	}
	stow_buf_init(&js, 0);
	rc = stow_velero_json_pretty(o, &js);
	json_decref(o);
	if (rc == 0)
		rc = stow_store_put(loc->store, key, js.data, js.len, 0);
	stow_buf_free(&js);
	return rc;
}

int stow_velero_get_backup_json(const stow_velero_location *loc,
				const char *name, json_t **out)
{
	char key[STOW_VELERO_KEY_MAX];
	json_error_t jerr;
	stow_buf b;
	uint64_t size;
	json_t *o;
	const json_t *kind;
	int rc;

	*out = NULL;
	STOW_TRY(stow_velero_backup_key(loc, name, STOW_VELERO_BACKUP_METADATA,
					key, sizeof(key)));
	STOW_TRY(stow_store_stat(loc->store, key, &size));
	if (size > STOW_VELERO_BACKUP_JSON_MAX)
		return stow_err_set(
		    STOW_ECORRUPT, "%s: %llu bytes, over the %zu-byte cap", key,
		    (unsigned long long)size, STOW_VELERO_BACKUP_JSON_MAX);
	stow_buf_init(&b, STOW_VELERO_BACKUP_JSON_MAX);
	/* Read at most the cap even if the object grew since the stat. */
	rc =
	    stow_store_get(loc->store, key, 0, STOW_VELERO_BACKUP_JSON_MAX, &b);
	if (rc < 0) {
		stow_buf_free(&b);
		return rc;
	}
	o = json_loadb((const char *)b.data, b.len, 0, &jerr);
	stow_buf_free(&b);
	if (!o)
		return stow_err_set(STOW_ECORRUPT, "%s: bad JSON: %s (line %d)",
				    key, jerr.text, jerr.line);
	kind = json_object_get(o, "kind");
	if (!json_is_string(kind) ||
	    strcmp(json_string_value(kind), "Backup") != 0) {
		json_decref(o);
		return stow_err_set(STOW_ECORRUPT,
				    "%s: not a Backup object (kind)", key);
	}
	*out = o;
	return 0;
}

int stow_velero_put_gzjson(const stow_velero_location *loc, const char *key,
			   const json_t *v)
{
	stow_buf gz;
	int rc;

	stow_buf_init(&gz, 0);
	rc = stow_velero_gzjson_encode(v, &gz);
	if (rc == 0)
		rc = stow_store_put(loc->store, key, gz.data, gz.len, 0);
	stow_buf_free(&gz);
	return rc;
}

int stow_velero_get_gzjson(const stow_velero_location *loc, const char *key,
			   size_t max_out, json_t **out)
{
	stow_buf gz;
	uint64_t size;
	size_t gz_max;
	int rc;

	*out = NULL;
	if (!max_out)
		max_out = STOW_VELERO_GZ_MAX_OUT;
	/* Stored deflate data is at most slightly larger than what it
	 * holds (stored blocks: 5 bytes per 64 KiB, plus the gzip frame),
	 * so anything larger than this is over the cap or garbage. */
	if (__builtin_add_overflow(max_out, max_out / 4096 + 4096, &gz_max))
		gz_max = SIZE_MAX;
	rc = stow_store_stat(loc->store, key, &size);
	if (rc < 0)
		return rc;
	if (size > gz_max)
		return stow_err_set(STOW_ENOMEM,
				    "%s: %llu bytes compressed, over the "
				    "%zu-byte cap",
				    key, (unsigned long long)size, max_out);
	stow_buf_init(&gz, gz_max);
	rc = stow_store_get(loc->store, key, 0, gz_max, &gz);
	if (rc == 0)
		rc = stow_velero_gzjson_decode(gz.data, gz.len, max_out, out);
	if (rc < 0 && rc != STOW_ENOTFOUND)
		rc = stow_err_wrap(rc, "%s", key);
	stow_buf_free(&gz);
	return rc;
}

/* A sorted set of strings with a flag each (the backup listing). */
typedef struct name_set {
	char **names;
	unsigned char *flags;
	size_t n, cap;
} name_set;

static void name_set_free(name_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->flags);
	memset(s, 0, sizeof(*s));
}

static int name_set_add(name_set *s, const char *name, size_t len,
			unsigned char flag)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(s->names[mid], name, len);

		if (c == 0 && s->names[mid][len] != '\0')
			c = 1;
		if (c == 0) {
			s->flags[mid] |= flag;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		char **nn = realloc(s->names, ncap * sizeof(*nn));
		unsigned char *nf;

		if (!nn)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		s->names = nn;
		nf = realloc(s->flags, ncap);
		if (!nf)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		s->flags = nf;
		s->cap = ncap;
	}
	memmove(s->names + lo + 1, s->names + lo,
		(s->n - lo) * sizeof(*s->names));
	memmove(s->flags + lo + 1, s->flags + lo, s->n - lo);
	s->names[lo] = strndup(name, len);
	if (!s->names[lo]) {
		memmove(s->names + lo, s->names + lo + 1,
			(s->n - lo) * sizeof(*s->names));
		memmove(s->flags + lo, s->flags + lo + 1, s->n - lo);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	s->flags[lo] = flag;
	s->n++;
	return 0;
}

typedef struct list_ctx {
	size_t skip; /* length of "<prefix>backups/" */
	name_set set;
} list_ctx;

/* One level under backups/: each "backups/<name>/" directory. */
static int backups_cb(void *vctx, const char *key, uint64_t size, int is_dir)
{
	list_ctx *c = vctx;
	const char *rest = key + c->skip;
	char name[STOW_VELERO_NAME_MAX + 1];
	size_t len;

	(void)size;
	if (!is_dir || strlen(key) <= c->skip)
		return 0; /* an object directly in backups/ */
	len = strlen(rest) - 1; /* without the trailing '/' */
	if (len == 0 || len > STOW_VELERO_NAME_MAX)
		return 0;
	memcpy(name, rest, len);
	name[len] = '\0';
	if (!stow_velero_name_valid(name))
		return 0;
	return name_set_add(&c->set, rest, len, 0);
}

int stow_velero_list_backups(const stow_velero_location *loc,
			     stow_velero_backup_list_cb cb, void *ctx)
{
	char prefix[STOW_VELERO_KEY_MAX];
	list_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	STOW_TRY(fmt_key(prefix, sizeof(prefix), "%sbackups/", loc->prefix));
	c.skip = strlen(prefix);
	/* One level, then one stat per backup: the cost follows the number
	 * of backups, not of objects (a vault under kopia/ or big tarballs
	 * do not matter). */
	rc = stow_store_list_shallow(loc->store, prefix, backups_cb, &c);
	for (size_t i = 0; rc == 0 && i < c.set.n; i++) {
		char key[STOW_VELERO_KEY_MAX];

		rc = stow_velero_backup_key(loc, c.set.names[i],
					    STOW_VELERO_BACKUP_METADATA, key,
					    sizeof(key));
		if (rc == 0) {
			rc = stow_store_stat(loc->store, key, NULL);
			c.set.flags[i] = rc == 0;
			if (rc == STOW_ENOTFOUND)
				rc = 0;
		}
		if (rc == 0)
			rc = cb(ctx, c.set.names[i], c.set.flags[i]);
	}
	name_set_free(&c.set);
	return rc;
}

typedef struct key_list {
	char **keys;
	size_t n, cap;
} key_list;

static int collect_cb(void *vctx, const char *key, uint64_t size)
{
	key_list *l = vctx;

	(void)size;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		char **nk = realloc(l->keys, ncap * sizeof(*nk));

		if (!nk)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		l->keys = nk;
		l->cap = ncap;
	}
	l->keys[l->n] = strdup(key);
	if (!l->keys[l->n])
		return stow_err_set(STOW_ENOMEM, "out of memory");
	l->n++;
	return 0;
}

/* Collect first, then delete: deleting while a backend walks a directory
 * could make it skip entries. */
static int delete_under(const stow_velero_location *loc, const char *top,
			const char *name, size_t *deleted)
{
	char prefix[STOW_VELERO_KEY_MAX];
	key_list l = {0};
	size_t count = 0;
	int rc;

	if (deleted)
		*deleted = 0;
	STOW_TRY(check_name(name, top[0] == 'b' ? "backup" : "restore"));
	STOW_TRY(fmt_key(prefix, sizeof(prefix), "%s%s/%s/", loc->prefix, top,
			 name));
	rc = stow_store_list(loc->store, prefix, collect_cb, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		int drc = stow_store_del(loc->store, l.keys[i]);

		if (drc == 0)
			count++;
		else if (drc != STOW_ENOTFOUND)
			rc = drc;
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.keys[i]);
	free(l.keys);
	if (deleted)
		*deleted = count;
	return rc;
}

int stow_velero_delete_backup(const stow_velero_location *loc, const char *name,
			      size_t *deleted)
{
	return delete_under(loc, "backups", name, deleted);
}

int stow_velero_delete_restore(const stow_velero_location *loc,
			       const char *name, size_t *deleted)
{
	return delete_under(loc, "restores", name, deleted);
}

#define VALIDATE_STOP 1

typedef struct validate_ctx {
	size_t skip;
	char *reason;
	size_t reasonsz;
	int invalid;
} validate_ctx;

static int validate_cb(void *vctx, const char *key, uint64_t size,
		       int is_dir)
{
	static const char *const allowed[] = {"backups",  "restores", "restic",
					      "metadata", "plugins",  "kopia"};
	validate_ctx *c = vctx;
	const char *rest = key + c->skip;
	const char *slash;
	size_t len;

	(void)size;
	if (!is_dir || strlen(key) < c->skip)
		return 0; /* a top-level object, not a prefix */
	slash = strchr(rest, '/');
	if (!slash)
		return 0;
	len = (size_t)(slash - rest);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strlen(allowed[i]) == len &&
		    memcmp(allowed[i], rest, len) == 0)
			return 0;
	snprintf(c->reason, c->reasonsz,
		 "unexpected top-level prefix \"%.*s/\" in the location "
		 "(allowed: backups/ restores/ restic/ metadata/ plugins/ "
		 "kopia/); is the bucket or prefix shared with other data?",
		 (int)(len > 200 ? 200 : len), rest);
	c->invalid = 1;
	return -VALIDATE_STOP;
}

int stow_velero_location_validate(const stow_velero_location *loc, char *reason,
				  size_t reasonsz)
{
	validate_ctx c = {.skip = strlen(loc->prefix),
			  .reason = reason,
			  .reasonsz = reasonsz};
	int rc;

	if (!reason || reasonsz == 0)
		return stow_err_set(STOW_EINVAL, "no reason buffer");
	reason[0] = '\0';
	/* One level: Velero lists the common prefixes of the root. */
	rc = stow_store_list_shallow(loc->store, loc->prefix, validate_cb, &c);
	if (c.invalid)
		return 0;
	return rc;
}

json_t *stow_velero_results_new(void)
{
	return json_pack("{s:{}, s:{}}", "errors", "warnings");
}

/* Get obj[key], creating it as a new value from make() when absent. */
static json_t *get_or_add(json_t *obj, const char *key, json_t *(*make)(void))
{
	json_t *v = json_object_get(obj, key);

	if (v)
		return v;
	v = make();
	if (!v || json_object_set_new(obj, key, v) < 0)
		return NULL;
	return v;
}

int stow_velero_results_add(json_t *results, int warning,
			    stow_velero_result_scope scope, const char *ns,
			    const char *msg)
{
	json_t *r, *list;

	if (!json_is_object(results) || !msg)
		return stow_err_set(STOW_EINVAL, "results_add: bad arguments");
	if (scope == STOW_VELERO_SCOPE_NAMESPACE && (!ns || !*ns))
		return stow_err_set(STOW_EINVAL,
				    "results_add: namespace scope without a "
				    "namespace");
	r = get_or_add(results, warning ? "warnings" : "errors", json_object);
	if (!json_is_object(r))
		return stow_err_set(STOW_EINVAL, "results: bad shape");
	switch (scope) {
	case STOW_VELERO_SCOPE_VELERO:
		list = get_or_add(r, "velero", json_array);
		break;
	case STOW_VELERO_SCOPE_CLUSTER:
		list = get_or_add(r, "cluster", json_array);
		break;
	case STOW_VELERO_SCOPE_NAMESPACE: {
		json_t *nss = get_or_add(r, "namespaces", json_object);

		list = json_is_object(nss) ? get_or_add(nss, ns, json_array)
					   : NULL;
		break;
	}
	default: return stow_err_set(STOW_EINVAL, "results_add: bad scope");
	}
	if (!json_is_array(list))
		return stow_err_set(STOW_EINVAL, "results: bad shape");
	if (json_array_append_new(list, json_string(msg)) < 0)
		return stow_err_set(STOW_EINVAL,
				    "results_add: message is not UTF-8 or out "
				    "of memory");
	return 0;
}

static size_t count_strings(const json_t *a)
{
	size_t n = 0, i;
	const json_t *v;

	if (!json_is_array(a))
		return 0;
	json_array_foreach(a, i, v) if (json_is_string(v)) n++;
	return n;
}

size_t stow_velero_results_count(const json_t *results, int warning)
{
	const json_t *r =
	    json_object_get(results, warning ? "warnings" : "errors");
	const json_t *nss, *v;
	const char *k;
	size_t n;

	if (!json_is_object(r))
		return 0;
	n = count_strings(json_object_get(r, "velero")) +
	    count_strings(json_object_get(r, "cluster"));
	nss = json_object_get(r, "namespaces");
	if (json_is_object(nss))
		json_object_foreach((json_t *)nss, k, v) n += count_strings(v);
	return n;
}

json_t *stow_velero_resource_list_new(void)
{
	return json_object();
}

int stow_velero_resource_list_add(json_t *list, const char *api_version,
				  const char *kind, const char *ns,
				  const char *name, const char *action)
{
	stow_buf k, e;
	json_t *arr;
	int rc;

	if (!json_is_object(list) || !api_version || !*api_version || !kind ||
	    !*kind || !name || !*name)
		return stow_err_set(STOW_EINVAL,
				    "resource_list_add: bad arguments");
	stow_buf_init(&k, 4096);
	stow_buf_init(&e, 4096);
	rc = stow_buf_printf(&k, "%s/%s", api_version, kind);
	if (rc == 0)
		rc = stow_buf_printf(&e, "%s%s%s%s%s%s", ns && *ns ? ns : "",
				     ns && *ns ? "/" : "", name,
				     action ? "(" : "", action ? action : "",
				     action ? ")" : "");
	if (rc == 0) {
		arr = get_or_add(list, (const char *)k.data, json_array);
		if (!json_is_array(arr) ||
		    json_array_append_new(
			arr, json_string((const char *)e.data)) < 0)
			rc = stow_err_set(STOW_EINVAL,
					  "resource_list_add: not UTF-8 or "
					  "out of memory");
	}
	stow_buf_free(&k);
	stow_buf_free(&e);
	return rc;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

int stow_velero_resource_list_finish(json_t *list)
{
	const char *k;
	json_t *arr;

	json_object_foreach(list, k, arr)
	{
		size_t n = json_array_size(arr), i;
		json_t **v, *last = NULL;

		if (!json_is_array(arr))
			return stow_err_set(
			    STOW_EINVAL, "resource list: %s is not a list", k);
		v = calloc(n ? n : 1, sizeof(*v));
		if (!v)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		for (i = 0; i < n; i++) {
			v[i] = json_incref(json_array_get(arr, i));
			if (!json_is_string(v[i])) {
				for (size_t j = 0; j <= i; j++)
					json_decref(v[j]);
				free(v);
				return stow_err_set(STOW_EINVAL,
						    "resource list: %s holds "
						    "a non-string",
						    k);
			}
		}
		qsort(v, n, sizeof(*v), cmp_json_str);
		json_array_clear(arr);
		/* The array's references were dropped by the clear: v[]
		 * holds the only ones, so compare with the last one kept. */
		for (i = 0; i < n; i++) {
			if (last && cmp_json_str(&v[i], &last) == 0) {
				json_decref(v[i]);
				continue;
			}
			last = v[i];
			if (json_array_append_new(arr, v[i]) < 0) {
				for (size_t j = i + 1; j < n; j++)
					json_decref(v[j]);
				free(v);
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
			}
		}
		free(v);
	}
	return 0;
}
