/* BackupStorageLocations: the stores behind them (cached) and their
 * controller. See bsl.h for the providers and the caching contract. */
#include "velero/bsl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "storage/presign.h"
#include "storage/s3.h"
#include "storage/sigv4.h"
#include "util/duration.h"
#include "util/err.h"
#include "velero/server_metrics.h"

#define CONTROLLER "backup-storage-location"
/* Secrets and CA bundles are small; anything bigger is not one. */
#define SECRET_VALUE_MAX ((size_t)1 << 20)

/* --- small helpers ------------------------------------------------------ */

void stow_velero_time_format(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int stow_velero_time_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	time_t t;

	if (!s)
		return stow_err_set(STOW_EINVAL, "no time");
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return stow_err_set(STOW_EINVAL, "bad time \"%.40s\"", s);
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
		   strspn(p + 1, "0123456789") == 2 &&
		   strspn(p + 4, "0123456789") == 2) {
		int h = (p[1] - '0') * 10 + (p[2] - '0');
		int m = (p[4] - '0') * 10 + (p[5] - '0');
		long off = (long)h * 3600 + m * 60;

		t = *p == '+' ? t - off : t + off;
		p += 6;
	}
	if (*p)
		return stow_err_set(STOW_EINVAL, "bad time \"%.40s\"", s);
	*out = t;
	return 0;
}

static const char *jstr(const json_t *o, const char *path)
{
	/* "a.b.c" inside nested objects. */
	char part[64];
	const json_t *v = o;

	while (v && *path) {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		v = json_object_get(v, part);
		path += n + (path[n] == '.');
	}
	return json_string_value(v);
}

/* Seconds as a reconcile's requeue delay (int milliseconds, at least
 * 1 s, at most a day: a resync comes before anyway). */
static int requeue_ms(long s)
{
	if (s < 1)
		s = 1;
	if (s > 86400)
		s = 86400;
	return (int)(s * 1000);
}

stow_velero_provider stow_velero_bsl_provider(const json_t *bsl)
{
	const char *p = jstr(bsl, "spec.provider");

	if (!p)
		return STOW_VELERO_PROVIDER_UNKNOWN;
	if (!strcmp(p, "aws") || !strcmp(p, "velero.io/aws"))
		return STOW_VELERO_PROVIDER_AWS;
	if (!strcmp(p, "filesystem") || !strcmp(p, "stowage.io/filesystem"))
		return STOW_VELERO_PROVIDER_FS;
	return STOW_VELERO_PROVIDER_UNKNOWN;
}

int stow_velero_location_writable(const json_t *bsl)
{
	const char *m = jstr(bsl, "spec.accessMode");

	return !(m && strcmp(m, "ReadOnly") == 0);
}

int stow_velero_location_available(const json_t *bsl)
{
	const char *p = jstr(bsl, "status.phase");

	return p && strcmp(p, "Available") == 0;
}

/* Strict base64 (RFC 4648, padding optional, whitespace ignored), what
 * Secret data and the caCert field ([]byte) hold. */
static int b64_decode(const char *in, char **out, size_t *outlen)
{
	size_t n = strlen(in), j = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	char *d;

	if (n > SECRET_VALUE_MAX * 2)
		return stow_err_set(STOW_EINVAL, "base64 value too large");
	d = malloc(n / 4 * 3 + 4);
	if (!d)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			goto bad;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[j++] = (char)(acc >> bits & 0xff);
		}
	}
	if (bits >= 6 || pad > 2)
		goto bad;
	d[j] = '\0';
	*out = d;
	*outlen = j;
	return 0;
bad:
	free(d);
	return stow_err_set(STOW_EINVAL, "invalid base64");
}

static void free_secret_str(char *s, size_t n)
{
	if (s) {
		stow_secure_zero(s, n);
		free(s);
	}
}

/* A file holding data, mode 0600, in $TMPDIR or /tmp; *path is the
 * caller's. */
static int write_private_file(const char *what, const void *data, size_t n,
			      char **path)
{
	const char *dir = getenv("TMPDIR");
	char *p = NULL;
	size_t done = 0;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if (asprintf(&p, "%s/stowage-%s-XXXXXX", dir, what) < 0)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	fd = mkstemp(p); /* 0600 */
	if (fd < 0) {
		int rc = stow_err_set(STOW_EIO,
				      "creating a temporary %s file "
				      "in %s: %s",
				      what, dir, strerror(errno));

		free(p);
		return rc;
	}
	while (done < n) {
		ssize_t w = write(fd, (const char *)data + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = stow_err_set(STOW_EIO, "writing %s: %s", p,
					      strerror(errno));

			close(fd);
			unlink(p);
			free(p);
			return rc;
		}
		done += (size_t)w;
	}
	close(fd);
	*path = p;
	return 0;
}

/* The value of key `key` of Secret ns/name (decoded; caller frees with
 * free_secret_str) and the Secret's resourceVersion (may be NULL). */
static int read_secret(stow_velero_server *srv, const char *ns,
		       const char *name, const char *key, char **val,
		       size_t *len, char **rv)
{
	stow_kube *k = stow_velero_server_kube(srv);
	const stow_kube_resource *r = NULL;
	json_t *sec = NULL;
	const char *b64;
	int rc;

	if (!name || !*name || !key || !*key)
		return stow_err_set(STOW_EINVAL,
				    "a credential reference needs a Secret "
				    "name and key");
	rc = stow_kube_resource_lookup(k, "secrets", &r);
	if (rc == 0)
		rc = stow_kube_get(k, r, ns, name, &sec);
	if (rc == STOW_ENOTFOUND)
		return stow_err_set(STOW_EINVAL, "secret %s/%s does not exist",
				    ns, name);
	if (rc < 0)
		return stow_err_wrap(rc, "reading secret %s/%s", ns, name);
	b64 = json_string_value(
	    json_object_get(json_object_get(sec, "data"), key));
	if (!b64) {
		json_decref(sec);
		return stow_err_set(STOW_EINVAL, "secret %s/%s has no key %s",
				    ns, name, key);
	}
	rc = b64_decode(b64, val, len);
	if (rc == 0 && rv) {
		const char *v = jstr(sec, "metadata.resourceVersion");

		*rv = strdup(v ? v : "");
		if (!*rv) {
			free_secret_str(*val, *len);
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
		}
	}
	json_decref(sec);
	if (rc < 0)
		return stow_err_wrap(rc, "secret %s/%s key %s", ns, name, key);
	return 0;
}

/* --- the store cache ------------------------------------------------------ */

typedef struct cached {
	struct cached *next;
	char *name;
	char *spec_key;	 /* the spec as compact sorted JSON */
	char *secret_rv; /* credential Secret's resourceVersion, "" if none */
	bool current;	 /* the newest for its name */
	stow_velero_provider provider;
	stow_store *store;
	stow_velero_location loc;
	stow_s3_config s3; /* aws: the resolved config, for presigning */
	char *public_url;  /* aws: config.publicUrl */
	char *ca_file;	   /* a temporary CA bundle, removed at exit */
} cached;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cached *cache_head;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void cached_free(cached *c)
{
	if (!c)
		return;
	stow_store_close(c->store);
	stow_s3_config_free(&c->s3);
	if (c->ca_file) {
		unlink(c->ca_file);
		free(c->ca_file);
	}
	free(c->public_url);
	free(c->name);
	free(c->spec_key);
	free(c->secret_rv);
	free(c);
}

/* At exit every server thread has been joined (stow_velero_server_run
 * returned), so nothing borrows a store any more. */
static void release_all(void)
{
	pthread_mutex_lock(&cache_mu);
	while (cache_head) {
		cached *c = cache_head;

		cache_head = c->next;
		cached_free(c);
	}
	pthread_mutex_unlock(&cache_mu);
}

static void register_atexit(void)
{
	atexit(release_all);
}

static char *spec_key_of(const json_t *bsl)
{
	json_t *spec = json_object_get(bsl, "spec");

	return spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS)
		    : strdup("{}");
}

/* Append "&k=v" (percent-encoded) to a location's query. */
static int add_query(stow_buf *loc, const char *k, const char *v)
{
	STOW_TRY(stow_buf_append_str(
	    loc, loc->len && strchr((const char *)loc->data, '?') ? "&" : "?"));
	STOW_TRY(stow_sigv4_uri_encode(loc, k, strlen(k), false));
	STOW_TRY(stow_buf_append_str(loc, "="));
	return stow_sigv4_uri_encode(loc, v, strlen(v), false);
}

static int write_ca(cached *c, const char *pem, size_t n)
{
	if (n == 0)
		return 0;
	if (c->ca_file) {
		unlink(c->ca_file);
		free(c->ca_file);
		c->ca_file = NULL;
	}
	STOW_TRY(write_private_file("ca", pem, n, &c->ca_file));
	free(c->s3.ca_cert);
	c->s3.ca_cert = strdup(c->ca_file);
	return c->s3.ca_cert ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
}

static int open_s3(stow_velero_server *srv, const json_t *bsl, cached *c,
		   const char *secret_val, size_t secret_len)
{
	const char *ns = stow_velero_server_opts_of(srv)->namespace;
	const char *bucket = jstr(bsl, "spec.objectStorage.bucket");
	json_t *config =
	    json_object_get(json_object_get(bsl, "spec"), "config");
	_cleanup_(stow_buf_freep) stow_buf loc = {0};
	const char *k;
	json_t *v;
	int rc;

	if (!bucket || !*bucket)
		return stow_err_set(STOW_EINVAL,
				    "spec.objectStorage.bucket is empty");
	if (strchr(bucket, '/'))
		return stow_err_set(STOW_EINVAL,
				    "bucket \"%.200s\" contains '/' (put the "
				    "path into spec.objectStorage.prefix)",
				    bucket);
	stow_buf_init(&loc, 16384);
	STOW_TRY(stow_buf_printf(&loc, "s3://%s", bucket));
	json_object_foreach(config, k, v)
	{
		const char *s = json_string_value(v);

		if (!s)
			continue;
		if (!strcmp(k, "publicUrl")) {
			free(c->public_url);
			c->public_url = strdup(s);
			if (!c->public_url)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
			continue;
		}
		/* Velero's caCert is PEM text (it injects it there); ours
		 * is a file path. Text goes to a file below. */
		if (!strcmp(k, "caCert") && strstr(s, "-----BEGIN"))
			continue;
		/* Velero injects credentialsFile itself from
		 * spec.credential; a path in the pod is honoured. */
		STOW_TRY(add_query(&loc, k, s));
	}
	rc = stow_s3_config_parse(&c->s3, (const char *)loc.data);
	if (rc < 0)
		return stow_err_wrap(rc, "spec.config");

	/* CA: objectStorage.caCert (base64 PEM), caCertRef (Secret), or
	 * config.caCert as PEM text. */
	{
		const char *b64 = jstr(bsl, "spec.objectStorage.caCert");
		const json_t *ref = json_object_get(
		    json_object_get(json_object_get(bsl, "spec"),
				    "objectStorage"),
		    "caCertRef");
		const char *pem =
		    json_string_value(json_object_get(config, "caCert"));
		char *d = NULL;
		size_t n = 0;

		if (b64 && *b64) {
			rc = b64_decode(b64, &d, &n);
			if (rc < 0)
				return stow_err_wrap(
				    rc, "spec.objectStorage.caCert");
		} else if (ref) {
			rc = read_secret(srv, ns, jstr(ref, "name"),
					 jstr(ref, "key"), &d, &n, NULL);
			if (rc < 0)
				return stow_err_wrap(
				    rc, "spec.objectStorage.caCertRef");
		} else if (pem && strstr(pem, "-----BEGIN")) {
			d = strdup(pem);
			n = d ? strlen(d) : 0;
			if (!d)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
		}
		rc = write_ca(c, d, n);
		free(d);
		if (rc < 0)
			return rc;
	}

	/* Credentials: the Secret's value is an AWS credentials file. It
	 * lives on disk only while it is read. As in the AWS SDKs,
	 * $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY in the server's
	 * environment take precedence over any file. */
	if (secret_val) {
		const json_t *cred =
		    json_object_get(json_object_get(bsl, "spec"), "credential");
		char *path = NULL;

		rc = write_private_file("credentials", secret_val, secret_len,
					&path);
		if (rc < 0)
			return rc;
		free(c->s3.credentials_file);
		c->s3.credentials_file = path;
		rc = stow_s3_config_resolve_credentials(&c->s3);
		unlink(path);
		if (rc == 0) {
			char *src = NULL;

			if (asprintf(&src, "secret %s/%s key %s, profile %s",
				     ns, jstr(cred, "name"), jstr(cred, "key"),
				     c->s3.profile) < 0)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
			free(c->s3.credentials_source);
			c->s3.credentials_source = src;
		} else {
			return stow_err_wrap(rc,
					     "credentials from secret %s/%s "
					     "key %s",
					     ns, jstr(cred, "name"),
					     jstr(cred, "key"));
		}
	} else {
		rc = stow_s3_config_resolve_credentials(&c->s3);
		if (rc < 0)
			return stow_err_wrap(rc,
					     "no spec.credential, and the "
					     "server's default credentials");
	}
	rc = stow_store_s3_open(&c->store, &c->s3, 0);
	if (rc < 0)
		return rc;
	return stow_velero_location_init(
	    &c->loc, c->store, jstr(bsl, "spec.objectStorage.prefix"));
}

static int open_fs(stow_velero_server *srv, const json_t *bsl, cached *c)
{
	const char *root = stow_velero_server_opts_of(srv)->fs_root;
	const char *dir = jstr(bsl, "spec.config.path");
	_cleanup_free_ char *path = NULL;
	int rc;

	if (!dir || !*dir)
		dir = jstr(bsl, "spec.objectStorage.bucket");
	if (!dir || !*dir)
		return stow_err_set(STOW_EINVAL,
				    "spec.objectStorage.bucket (the directory) "
				    "is empty");
	/* No way out of the root. */
	for (const char *p = dir; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return stow_err_set(STOW_EINVAL,
					    "directory \"%.200s\" contains a "
					    "\"..\" component",
					    dir);
		p += n;
		while (*p == '/')
			p++;
	}
	if (!root || !*root)
		root = "/";
	while (*dir == '/')
		dir++;
	if (asprintf(&path, "%s%s%s", root,
		     root[strlen(root) - 1] == '/' ? "" : "/", dir) < 0)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = stow_store_fs_open(&c->store, path, 0);
	if (rc == STOW_ENOTFOUND)
		return stow_err_set(STOW_ENOTFOUND,
				    "directory %s does not exist (mount the "
				    "volume there or create it)",
				    path);
	if (rc < 0)
		return rc;
	return stow_velero_location_init(
	    &c->loc, c->store, jstr(bsl, "spec.objectStorage.prefix"));
}

/* The cached store of bsl, opening it when its spec (or, with
 * check_secret, its credential Secret) changed. Borrowed. */
static int get_cached(stow_velero_server *srv, const json_t *bsl,
		      bool check_secret, cached **out)
{
	const char *ns = stow_velero_server_opts_of(srv)->namespace;
	const char *name = jstr(bsl, "metadata.name");
	const json_t *cred =
	    json_object_get(json_object_get(bsl, "spec"), "credential");
	stow_velero_provider prov = stow_velero_bsl_provider(bsl);
	_cleanup_free_ char *key = spec_key_of(bsl);
	char *secret = NULL, *secret_rv = NULL;
	size_t secret_len = 0;
	cached *c, *found = NULL;
	int rc;

	if (!key || !name)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_lock(&cache_mu);
	for (c = cache_head; c; c = c->next)
		if (c->current && !strcmp(c->name, name) &&
		    !strcmp(c->spec_key, key)) {
			found = c;
			break;
		}
	pthread_mutex_unlock(&cache_mu);
	if (found &&
	    !(check_secret && cred && prov == STOW_VELERO_PROVIDER_AWS)) {
		*out = found;
		return 0;
	}
	if (prov == STOW_VELERO_PROVIDER_UNKNOWN)
		return stow_err_set(STOW_EINVAL,
				    "provider \"%.100s\" is not supported "
				    "(aws or velero.io/aws: S3; filesystem "
				    "or stowage.io/filesystem)",
				    jstr(bsl, "spec.provider")
					? jstr(bsl, "spec.provider")
					: "");
	if (cred && prov == STOW_VELERO_PROVIDER_AWS) {
		rc = read_secret(srv, ns, jstr(cred, "name"), jstr(cred, "key"),
				 &secret, &secret_len, &secret_rv);
		if (rc < 0)
			return stow_err_wrap(rc, "spec.credential");
		if (found && !strcmp(found->secret_rv, secret_rv)) {
			free_secret_str(secret, secret_len);
			free(secret_rv);
			*out = found;
			return 0;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		free_secret_str(secret, secret_len);
		free(secret_rv);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	c->name = strdup(name);
	c->spec_key = STOW_TAKE_PTR(key);
	c->secret_rv = secret_rv ? secret_rv : strdup("");
	c->provider = prov;
	if (!c->name || !c->secret_rv)
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
	else if (prov == STOW_VELERO_PROVIDER_AWS)
		rc = open_s3(srv, bsl, c, secret, secret_len);
	else
		rc = open_fs(srv, bsl, c);
	free_secret_str(secret, secret_len);
	if (rc < 0) {
		cached_free(c);
		return rc;
	}
	pthread_once(&atexit_once, register_atexit);
	pthread_mutex_lock(&cache_mu);
	for (cached *o = cache_head; o; o = o->next)
		if (!strcmp(o->name, name))
			o->current = false;
	c->current = true;
	c->next = cache_head;
	cache_head = c;
	pthread_mutex_unlock(&cache_mu);
	*out = c;
	return 0;
}

int stow_velero_server_location(stow_velero_server *srv, const char *bsl_name,
				stow_velero_location *out, json_t **bslp)
{
	const char *ns = stow_velero_server_opts_of(srv)->namespace;
	json_t *bsl;
	cached *c = NULL;
	int rc;

	if (bslp)
		*bslp = NULL;
	if (!bsl_name || !*bsl_name || !out)
		return stow_err_set(STOW_EINVAL, "no backup storage location "
						 "name");
	bsl = stow_velero_server_get(srv, STOW_VELERO_BSL_PLURAL, ns, bsl_name);
	if (!bsl)
		return stow_err_set(STOW_ENOTFOUND,
				    "backup storage location %s/%s not found",
				    ns, bsl_name);
	rc = get_cached(srv, bsl, false, &c);
	if (rc < 0) {
		json_decref(bsl);
		return stow_err_wrap(rc, "backup storage location %s",
				     bsl_name);
	}
	*out = c->loc;
	if (bslp)
		*bslp = bsl;
	else
		json_decref(bsl);
	return 0;
}

int stow_velero_location_presign(stow_velero_server *srv, const char *bsl_name,
				 const char *key, long ttl_s, char **url)
{
	const char *ns = stow_velero_server_opts_of(srv)->namespace;
	_cleanup_(stow_buf_freep) stow_buf u = {0};
	stow_velero_location loc;
	cached *c = NULL;
	json_t *bsl = NULL;
	int rc;

	*url = NULL;
	rc = stow_velero_server_location(srv, bsl_name, &loc, &bsl);
	if (rc < 0)
		return rc;
	rc = get_cached(srv, bsl, false, &c);
	json_decref(bsl);
	if (rc < 0)
		return rc;
	if (c->provider != STOW_VELERO_PROVIDER_AWS)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "backup storage location %s/%s is not S3: "
				    "no presigned URLs",
				    ns, bsl_name);
	/* The store was opened at the bucket's root (the BSL prefix is in
	 * the location's keys), so key is the bucket key. */
	stow_buf_init(&u, 16384);
	rc = stow_s3_presign(&c->s3, c->public_url, "GET", key, time(NULL),
			     ttl_s, &u);
	if (rc < 0)
		return rc;
	*url = (char *)stow_buf_steal(&u, NULL);
	return *url ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
}

char *stow_velero_default_location(stow_velero_server *srv)
{
	const stow_velero_server_opts *o = stow_velero_server_opts_of(srv);
	json_t *all = stow_velero_server_list(srv, STOW_VELERO_BSL_PLURAL);
	json_t *b;
	char *name = NULL;
	size_t i;

	json_array_foreach(all, i, b)
	{
		if (json_is_true(json_object_get(json_object_get(b, "spec"),
						 "default"))) {
			name = strdup(jstr(b, "metadata.name"));
			break;
		}
	}
	if (!name && o->default_bsl)
		json_array_foreach(all, i, b)
		{
			const char *n = jstr(b, "metadata.name");

			if (n && !strcmp(n, o->default_bsl)) {
				name = strdup(n);
				break;
			}
		}
	json_decref(all);
	return name;
}

/* --- the controller ---------------------------------------------------------
 */

typedef struct validated {
	char *name;
	char *spec_key;
} validated;

static struct {
	pthread_mutex_t mu;
	validated *v;
	size_t n;
} state = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

/* Was this spec of name validated before (this process)? Then record. */
static bool seen_spec(const char *name, const char *spec_key, bool record)
{
	bool seen = false;
	size_t i;

	pthread_mutex_lock(&state.mu);
	for (i = 0; i < state.n; i++)
		if (!strcmp(state.v[i].name, name))
			break;
	if (i < state.n)
		seen = !strcmp(state.v[i].spec_key, spec_key);
	if (record) {
		char *k = strdup(spec_key);

		if (i < state.n && k) {
			free(state.v[i].spec_key);
			state.v[i].spec_key = k;
		} else if (k) {
			validated *nv =
			    realloc(state.v, (state.n + 1) * sizeof(*nv));
			char *nm = strdup(name);

			if (nv && nm) {
				state.v = nv;
				state.v[state.n++] = (validated){nm, k};
			} else {
				if (nv)
					state.v = nv;
				free(nm);
				free(k);
			}
		}
	}
	pthread_mutex_unlock(&state.mu);
	return seen;
}

static int patch_bsl(stow_velero_server *srv, const char *ns, const char *name,
		     json_t *patch)
{
	stow_kube *k = stow_velero_server_kube(srv);
	const stow_kube_resource *r =
	    stow_velero_server_res(srv, STOW_VELERO_BSL_PLURAL);
	char *body = json_dumps(patch, JSON_COMPACT);
	int rc;

	json_decref(patch);
	if (!body)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (!r) {
		free(body);
		return stow_err_set(STOW_ENOTFOUND,
				    "the CRD of "
				    "backupstoragelocations.velero.io "
				    "is not installed");
	}
	rc = stow_kube_patch(k, r, ns, name, STOW_KUBE_PATCH_MERGE, body, false,
			     NULL);
	free(body);
	if (rc == STOW_ENOTFOUND)
		return 0; /* deleted meanwhile */
	return rc;
}

/* One default per namespace (Velero's rule): with several, the most
 * recently created keeps it; with none, the server's
 * --default-backup-storage-location becomes the default if it exists. */
static int ensure_single_default(stow_velero_server *srv, const char *ns)
{
	const char *def = stow_velero_server_opts_of(srv)->default_bsl;
	json_t *all = stow_velero_server_list(srv, STOW_VELERO_BSL_PLURAL);
	const json_t *keep = NULL, *named = NULL;
	size_t i, ndef = 0;
	json_t *b;
	int rc = 0;

	json_array_foreach(all, i, b)
	{
		const char *n = jstr(b, "metadata.name");
		const char *ct = jstr(b, "metadata.creationTimestamp");

		if (n && def && !strcmp(n, def))
			named = b;
		if (!json_is_true(
			json_object_get(json_object_get(b, "spec"), "default")))
			continue;
		ndef++;
		if (!keep) {
			keep = b;
		} else {
			const char *kct =
			    jstr(keep, "metadata.creationTimestamp");
			int c = strcmp(ct ? ct : "", kct ? kct : "");

			if (c > 0 ||
			    (c == 0 &&
			     strcmp(n, jstr(keep, "metadata.name")) < 0))
				keep = b;
		}
	}
	if (ndef > 1) {
		json_array_foreach(all, i, b)
		{
			const char *n = jstr(b, "metadata.name");

			if (b == keep ||
			    !json_is_true(json_object_get(
				json_object_get(b, "spec"), "default")))
				continue;
			stow_velero_log(srv, STOW_VLOG_INFO, CONTROLLER,
					"more than one default backup storage "
					"location: unsetting this one",
					"backupstoragelocation", n, "keeping",
					jstr(keep, "metadata.name"), NULL);
			rc = patch_bsl(
			    srv, ns, n,
			    json_pack("{s:{s:b}}", "spec", "default", 0));
			if (rc < 0)
				break;
		}
	} else if (ndef == 0 && named) {
		stow_velero_log(srv, STOW_VLOG_INFO, CONTROLLER,
				"no default backup storage location: making "
				"the server's default one it",
				"backupstoragelocation", def, NULL);
		rc = patch_bsl(srv, ns, def,
			       json_pack("{s:{s:b}}", "spec", "default", 1));
	}
	json_decref(all);
	return rc;
}

/* spec.validationFrequency if set (0 disables), else the server's. */
static long validation_period_s(stow_velero_server *srv, const json_t *bsl)
{
	const char *f = jstr(bsl, "spec.validationFrequency");
	int64_t ns;

	if (f && stow_duration_parse(f, &ns) == 0 && ns >= 0)
		return (long)(ns / STOW_NSEC_PER_SEC);
	return stow_velero_server_opts_of(srv)->store_validation_period_s;
}

static int reconcile(stow_velero_server *srv, void *ctx, const char *ns,
		     const char *name)
{
	json_t *bsl =
	    stow_velero_server_get(srv, STOW_VELERO_BSL_PLURAL, ns, name);
	_cleanup_free_ char *key = NULL;
	char now_s[32], reason[512], msg[1200];
	const char *old_phase, *phase, *mode;
	long period;
	cached *c = NULL;
	int rc;

	(void)ctx;
	if (!bsl) {
		stow_velero_metrics_location_forget(srv, name);
		return 0;
	}
	rc = ensure_single_default(srv, ns);
	if (rc < 0) {
		json_decref(bsl);
		return rc;
	}
	period = validation_period_s(srv, bsl);
	key = spec_key_of(bsl);
	if (!key) {
		json_decref(bsl);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	if (period <= 0) {
		/* Validation disabled: leave the phase alone. */
		json_decref(bsl);
		return 0;
	}
	/* Due when the spec changed since we last looked, or the last
	 * validation (status, so also across restarts) is a period old. */
	if (seen_spec(name, key, false)) {
		time_t last = 0, now = time(NULL);

		if (stow_velero_time_parse(
			jstr(bsl, "status.lastValidationTime"), &last) == 0 &&
		    last + period > now) {
			json_decref(bsl);
			return requeue_ms((long)(last + period - now));
		}
	}
	stow_err_clear();
	reason[0] = '\0';
	rc = get_cached(srv, bsl, true, &c);
	if (rc == 0)
		rc = stow_velero_location_validate(&c->loc, reason,
						   sizeof(reason));
	if (rc < 0)
		snprintf(reason, sizeof(reason), "%s", stow_err_msg());
	phase = reason[0] ? "Unavailable" : "Available";
	snprintf(msg, sizeof(msg),
		 "BackupStorageLocation \"%s\" is "
		 "unavailable: %s",
		 name, reason);
	old_phase = jstr(bsl, "status.phase");
	mode = jstr(bsl, "spec.accessMode");
	stow_velero_time_format(time(NULL), now_s);
	{
		json_t *st = json_pack("{s:s, s:s, s:s}", "phase", phase,
				       "lastValidationTime", now_s,
				       "accessMode", mode ? mode : "ReadWrite");

		json_object_set_new(st, "message",
				    reason[0] ? json_string(msg) : json_null());
		rc = patch_bsl(srv, ns, name, json_pack("{s:o}", "status", st));
	}
	stow_velero_metrics_location_status(srv, name, !reason[0]);
	if ((!old_phase || strcmp(old_phase, phase) != 0) && reason[0])
		stow_velero_log(srv, STOW_VLOG_WARN, CONTROLLER,
				"backup storage location is unavailable",
				"backupstoragelocation", name, "reason", reason,
				NULL);
	else if (!old_phase || strcmp(old_phase, phase) != 0)
		stow_velero_log(srv, STOW_VLOG_INFO, CONTROLLER,
				"backup storage location is available",
				"backupstoragelocation", name, NULL);
	json_decref(bsl);
	if (rc < 0)
		return rc;
	seen_spec(name, key, true);
	return requeue_ms(period);
}

static int start(stow_velero_server *srv, void *ctx);

static stow_velero_controller ctl = {
    .name = CONTROLLER,
    .resource = STOW_VELERO_BSL_PLURAL,
    .workers = 2, /* an unreachable endpoint holds one */
    .resync_ms = 60000,
    .start = start,
    .reconcile = reconcile,
};

/* The resync follows --store-validation-frequency (the server reads
 * resync_ms after start); per-BSL frequencies requeue themselves. */
static int start(stow_velero_server *srv, void *ctx)
{
	long p = stow_velero_server_opts_of(srv)->store_validation_period_s;

	(void)ctx;
	ctl.resync_ms = p > 0 ? (p < 1 ? 1000 : p * 1000) : 0;
	return 0;
}

const stow_velero_controller *stow_velero_ctl_bsl(void)
{
	return &ctl;
}
