/* S3 location parsing and credential resolution (see s3.h for the syntax
 * and the rules). Everything here reads user input - the location string,
 * the environment, the credentials file - and treats it as untrusted:
 * bounded sizes, no silent truncation, a message naming the bad part.
 * Secrets are wiped when freed and never put into a message. */
#include "storage/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "util/err.h"

#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_RETRIES 6
#define MAX_TIMEOUT_S 86400
#define MAX_RETRIES 100
/* A credentials file is a few lines; anything this big is not one. */
#define CREDENTIALS_FILE_MAX ((size_t)1 << 20)
#define LOCATION_MAX 8192

static void free_secret(char **p)
{
	if (*p) {
		stow_secure_zero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void stow_s3_config_free(stow_s3_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->bucket);
	free(cfg->prefix);
	free(cfg->endpoint);
	free(cfg->region);
	free(cfg->ca_cert);
	free(cfg->profile);
	free(cfg->credentials_file);
	free(cfg->access_key);
	free_secret(&cfg->secret_key);
	free_secret(&cfg->session_token);
	free(cfg->credentials_source);
	memset(cfg, 0, sizeof(*cfg));
}

static int set_str(char **dst, const char *src, size_t n)
{
	char *c = strndup(src, n);

	if (!c)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	free(*dst);
	*dst = c;
	return 0;
}

/* Percent-decode s[0..n) into a new string. '+' stays a plus (RFC 3986;
 * this is not a form body). A decoded NUL or a bad escape is an error. */
static int percent_decode(const char *s, size_t n, char **out, const char *what)
{
	char *d = malloc(n + 1);
	size_t j = 0;

	if (!d)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] != '%') {
			d[j++] = s[i];
			continue;
		}
		hi = n - i >= 3 ? stow_hexval(s[i + 1]) : -1;
		lo = n - i >= 3 ? stow_hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi | lo) == 0) {
			free(d);
			return stow_err_set(STOW_EINVAL,
					    "S3 location: bad %%-escape in %s",
					    what);
		}
		d[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[j] = '\0';
	*out = d;
	return 0;
}

/* Go's strconv.ParseBool, which is what Velero applies to these keys. */
static int parse_bool(const char *key, const char *v, bool *out)
{
	static const char *const yes[] = {"1",	  "t",	  "T",
					  "TRUE", "true", "True"};
	static const char *const no[] = {"0",	  "f",	   "F",
					 "FALSE", "false", "False"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return stow_err_set(STOW_EINVAL,
			    "S3 location: %s=\"%.64s\" is not true or false",
			    key, v);
}

static int parse_uint(const char *key, const char *v, unsigned min,
		      unsigned max, unsigned *out)
{
	unsigned long n;
	char *end;

	if (!*v || *v < '0' || *v > '9')
		goto bad;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < min || n > max)
		goto bad;
	*out = (unsigned)n;
	return 0;
bad:
	return stow_err_set(STOW_EINVAL,
			    "S3 location: %s=\"%.64s\" must be a whole number "
			    "from %u to %u",
			    key, v, min, max);
}

static bool region_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 64)
		return false;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
		      *r == '-'))
			return false;
	return true;
}

/* Bucket names: S3's rules are stricter (3-63 lowercase), but other
 * servers accept more (MinIO and Ceph: uppercase, '_'); we accept what
 * can safely go into a path and let the server judge. Virtual-hosted
 * addressing further needs a DNS label (s3.c falls back to path style). */
static bool bucket_ok(const char *b, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') ||
		      (b[i] >= 'A' && b[i] <= 'Z') ||
		      (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
		      b[i] == '-' || b[i] == '_'))
			return false;
	return b[0] != '.' && b[0] != '-';
}

/* scheme://host[:port][/path] -> lowercased scheme, no trailing '/',
 * no userinfo, query or fragment. */
static int parse_endpoint(stow_s3_config *cfg, const char *url)
{
	const char *rest, *host_end;
	size_t n;

	if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else
		return stow_err_set(STOW_EINVAL,
				    "S3 location: s3Url \"%.200s\" must start "
				    "with http:// or https://",
				    url);
	host_end = rest + strcspn(rest, "/?#");
	if (host_end == rest)
		return stow_err_set(STOW_EINVAL,
				    "S3 location: s3Url \"%.200s\" has no host",
				    url);
	if (memchr(rest, '@', (size_t)(host_end - rest)))
		return stow_err_set(STOW_EINVAL,
				    "S3 location: s3Url must not contain "
				    "credentials (user@host); use the "
				    "environment or a credentials file");
	if (strpbrk(rest, "?#"))
		return stow_err_set(
		    STOW_EINVAL,
		    "S3 location: s3Url \"%.200s\" must not have "
		    "a query or fragment",
		    url);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '\\' || *p == '"')
			return stow_err_set(STOW_EINVAL,
					    "S3 location: s3Url contains a "
					    "space or control character");
	STOW_TRY(set_str(&cfg->endpoint, url, strlen(url)));
	for (char *p = cfg->endpoint; *p != ':'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	n = strlen(cfg->endpoint);
	while (n > 0 && cfg->endpoint[n - 1] == '/')
		cfg->endpoint[--n] = '\0';
	return 0;
}

/* Velero config keys that change what is written. Ignoring them would
 * silently store data differently from what the user asked for. */
static const char *const unsupported_keys[] = {
    "serverSideEncryption", "kmsKeyId", "customerKeyEncryptionFile", "tagging",
    "objectLockRetention"};
/* Velero keys that do not concern us: download URLs (publicUrl), the AWS
 * SDK's shared config file and checksum choice (we always sign the
 * payload's SHA-256), and the bucket/prefix Velero injects, which the
 * location already carries. */
static const char *const ignored_keys[] = {
    "publicUrl", "enableSharedConfig", "checksumAlgorithm", "bucket", "prefix"};

static bool in_list(const char *k, const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(k, l[i]) == 0)
			return true;
	return false;
}

static int apply_option(stow_s3_config *cfg, const char *k, const char *v,
			bool *have_endpoint, bool *have_region)
{
	if (strcmp(k, "s3Url") == 0) {
		*have_endpoint = true;
		return parse_endpoint(cfg, v);
	}
	if (strcmp(k, "region") == 0) {
		if (!region_ok(v))
			return stow_err_set(STOW_EINVAL,
					    "S3 location: region \"%.64s\" is "
					    "not a region name (like "
					    "us-east-1)",
					    v);
		*have_region = true;
		return set_str(&cfg->region, v, strlen(v));
	}
	if (strcmp(k, "s3ForcePathStyle") == 0)
		return parse_bool(k, v, &cfg->path_style);
	if (strcmp(k, "insecureSkipTLSVerify") == 0)
		return parse_bool(k, v, &cfg->insecure_skip_verify);
	if (strcmp(k, "caCert") == 0) {
		if (!*v)
			return stow_err_set(STOW_EINVAL,
					    "S3 location: caCert is empty");
		return set_str(&cfg->ca_cert, v, strlen(v));
	}
	if (strcmp(k, "profile") == 0) {
		if (!*v || strpbrk(v, "[]\n"))
			return stow_err_set(STOW_EINVAL,
					    "S3 location: bad profile name");
		return set_str(&cfg->profile, v, strlen(v));
	}
	if (strcmp(k, "credentialsFile") == 0) {
		if (!*v)
			return stow_err_set(STOW_EINVAL,
					    "S3 location: credentialsFile is "
					    "empty");
		return set_str(&cfg->credentials_file, v, strlen(v));
	}
	if (strcmp(k, "timeout") == 0)
		return parse_uint(k, v, 1, MAX_TIMEOUT_S, &cfg->timeout_s);
	if (strcmp(k, "retries") == 0)
		return parse_uint(k, v, 0, MAX_RETRIES, &cfg->retries);
	if (strcmp(k, "signatureVersion") == 0) {
		if (*v && strcmp(v, "4") != 0)
			return stow_err_set(STOW_EUNSUPPORTED,
					    "S3 location: signatureVersion "
					    "\"%.16s\" is not supported (only "
					    "4)",
					    v);
		return 0;
	}
	if (in_list(k, unsupported_keys,
		    sizeof(unsupported_keys) / sizeof(unsupported_keys[0])))
		return stow_err_set(STOW_EUNSUPPORTED,
				    "S3 location: %s is not supported yet "
				    "(stowage encrypts everything itself; "
				    "remove the option to store without it)",
				    k);
	if (in_list(k, ignored_keys,
		    sizeof(ignored_keys) / sizeof(ignored_keys[0])))
		return 0;
	return stow_err_set(STOW_EINVAL,
			    "S3 location: unknown option \"%.64s\" (known: "
			    "s3Url, region, s3ForcePathStyle, "
			    "insecureSkipTLSVerify, caCert, profile, "
			    "credentialsFile, timeout, retries)",
			    k);
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int apply_defaults(stow_s3_config *cfg, bool have_endpoint,
			  bool have_region)
{
	if (!have_region) {
		const char *r = env_nonempty("AWS_REGION");

		if (!r)
			r = env_nonempty("AWS_DEFAULT_REGION");
		if (!r)
			r = "us-east-1";
		if (!region_ok(r))
			return stow_err_set(STOW_EINVAL,
					    "$AWS_REGION/$AWS_DEFAULT_REGION "
					    "\"%.64s\" is not a region name",
					    r);
		STOW_TRY(set_str(&cfg->region, r, strlen(r)));
	}
	if (!have_endpoint) {
		char url[128];

		snprintf(url, sizeof(url), "https://s3.%s.amazonaws.com",
			 cfg->region);
		STOW_TRY(parse_endpoint(cfg, url));
	}
	if (!cfg->profile) {
		const char *p = env_nonempty("AWS_PROFILE");

		STOW_TRY(set_str(&cfg->profile, p ? p : "default",
				 strlen(p ? p : "default")));
	}
	if (!cfg->credentials_file) {
		const char *f = env_nonempty("AWS_SHARED_CREDENTIALS_FILE");
		const char *home = env_nonempty("HOME");

		if (f) {
			STOW_TRY(set_str(&cfg->credentials_file, f, strlen(f)));
		} else if (home) {
			size_t n = strlen(home) + sizeof("/.aws/credentials");

			cfg->credentials_file = malloc(n);
			if (!cfg->credentials_file)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
			snprintf(cfg->credentials_file, n,
				 "%s/.aws/credentials", home);
		}
		/* else: no file to look in; resolve says so if needed. */
	}
	if (!cfg->timeout_s)
		cfg->timeout_s = DEFAULT_TIMEOUT_S;
	return 0;
}

static int parse_query(stow_s3_config *cfg, const char *q, bool *have_endpoint,
		       bool *have_region)
{
	/* Which keys were seen, to refuse duplicates: two s3Url= would
	 * otherwise silently pick one. */
	char *seen = NULL;
	size_t seen_len = 0;
	int rc = 0;

	while (*q && rc == 0) {
		size_t n = strcspn(q, "&");
		const char *eq = memchr(q, '=', n);
		char *k = NULL, *v = NULL;

		if (n == 0) {
			q++;
			continue;
		}
		if (!eq) {
			rc = stow_err_set(STOW_EINVAL,
					  "S3 location: option \"%.*s\" has no "
					  "value (KEY=VALUE)",
					  (int)(n > 64 ? 64 : n), q);
			break;
		}
		rc = percent_decode(q, (size_t)(eq - q), &k, "an option name");
		if (rc == 0)
			rc = percent_decode(eq + 1, n - (size_t)(eq - q) - 1,
					    &v, "an option value");
		if (rc == 0) {
			/* "\nkey\n" markers in one string. */
			size_t kl = strlen(k);
			char needle[80];

			if (kl < sizeof(needle) - 2) {
				snprintf(needle, sizeof(needle), "\n%s\n", k);
				if (seen && strstr(seen, needle))
					rc = stow_err_set(
					    STOW_EINVAL,
					    "S3 location: option %s is given "
					    "twice",
					    k);
			}
			if (rc == 0) {
				char *ns = realloc(seen, seen_len + kl + 3);

				if (!ns) {
					rc = stow_err_set(STOW_ENOMEM,
							  "out of memory");
				} else {
					seen = ns;
					snprintf(seen + seen_len, kl + 3,
						 "\n%s\n", k);
					seen_len += kl + 1;
				}
			}
		}
		if (rc == 0)
			rc =
			    apply_option(cfg, k, v, have_endpoint, have_region);
		free(k);
		free(v);
		q += n;
	}
	free(seen);
	return rc;
}

int stow_s3_config_parse(stow_s3_config *cfg, const char *location)
{
	bool have_endpoint = false, have_region = false;
	const char *p, *qmark, *slash;
	size_t plen;
	int rc;

	if (!cfg)
		return stow_err_set(STOW_EINVAL, "no config to fill");
	memset(cfg, 0, sizeof(*cfg));
	cfg->retries = DEFAULT_RETRIES;
	if (!location || strncmp(location, "s3://", 5) != 0)
		return stow_err_set(STOW_EINVAL,
				    "S3 location must start with s3://");
	if (strlen(location) > LOCATION_MAX)
		return stow_err_set(STOW_EINVAL, "S3 location too long");
	p = location + 5;
	qmark = strchr(p, '?');
	plen = qmark ? (size_t)(qmark - p) : strlen(p);
	slash = memchr(p, '/', plen);

	/* Bucket. */
	{
		size_t blen = slash ? (size_t)(slash - p) : plen;

		if (!bucket_ok(p, blen))
			return stow_err_set(
			    STOW_EINVAL,
			    "S3 location %.200s: \"%.*s\" is not a bucket name "
			    "(letters, digits, '.', '-', '_')",
			    location, (int)(blen > 100 ? 100 : blen), p);
		rc = set_str(&cfg->bucket, p, blen);
	}
	/* Prefix: leading and trailing slashes dropped (as Velero does);
	 * what is left must be a valid key, so it maps onto S3 exactly as
	 * the fs backend maps keys onto directories. */
	if (rc == 0) {
		const char *s = slash ? slash : p + plen;
		const char *e = p + plen;

		while (s < e && *s == '/')
			s++;
		while (e > s && e[-1] == '/')
			e--;
		rc = set_str(&cfg->prefix, s, (size_t)(e - s));
		if (rc == 0 && *cfg->prefix &&
		    !stow_store_key_valid(cfg->prefix))
			rc = stow_err_set(
			    STOW_EINVAL,
			    "S3 location %.200s: prefix \"%.200s\" "
			    "must be '/'-separated names of "
			    "letters, digits, '.', '_', '-' (not "
			    "starting with '.')",
			    location, cfg->prefix);
	}
	if (rc == 0 && qmark)
		rc = parse_query(cfg, qmark + 1, &have_endpoint, &have_region);
	if (rc == 0)
		rc = apply_defaults(cfg, have_endpoint, have_region);
	if (rc < 0)
		stow_s3_config_free(cfg);
	return rc;
}

/* --- credentials -------------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int read_small_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd;

	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > CREDENTIALS_FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

typedef struct profile_vals {
	char *ak, *sk, *tok;
	bool found;
	char names[256]; /* profiles seen, for the "not found" message */
} profile_vals;

/* The AWS shared-credentials INI dialect as botocore reads it: [section]
 * headers ("[profile x]" also accepted, as in ~/.aws/config), key = value
 * lines (keys case-insensitive, values trimmed, no inline comments),
 * '#' and ';' comment lines, indented lines continuing a nested value
 * (ignored). A NUL byte ends the file. Later assignments win. */
static int parse_credentials(char *text, const char *profile, profile_vals *pv)
{
	bool in_profile = false;
	char *line = text;

	while (line) {
		char *nl = strchr(line, '\n'), *l, *eq;
		bool indented = *line == ' ' || *line == '\t';

		if (nl)
			*nl = '\0';
		l = trim(line);
		line = nl ? nl + 1 : NULL;
		if (!*l || *l == '#' || *l == ';' || indented)
			continue;
		if (*l == '[') {
			char *end = strrchr(l, ']');
			char *name;

			if (!end)
				continue;
			*end = '\0';
			name = trim(l + 1);
			if (strncmp(name, "profile ", 8) == 0)
				name = trim(name + 8);
			in_profile = strcmp(name, profile) == 0;
			pv->found = pv->found || in_profile;
			{
				size_t used = strlen(pv->names);

				if (used + strlen(name) + 3 < sizeof(pv->names))
					snprintf(pv->names + used,
						 sizeof(pv->names) - used,
						 "%s%s", used ? ", " : "",
						 name);
			}
			continue;
		}
		if (!in_profile || !(eq = strchr(l, '=')))
			continue;
		*eq = '\0';
		{
			char *k = trim(l), *v = trim(eq + 1);
			char **dst = NULL;

			if (strcasecmp(k, "aws_access_key_id") == 0)
				dst = &pv->ak;
			else if (strcasecmp(k, "aws_secret_access_key") == 0)
				dst = &pv->sk;
			else if (strcasecmp(k, "aws_session_token") == 0)
				dst = &pv->tok;
			if (!dst)
				continue;
			free_secret(dst);
			*dst = strdup(v);
			if (!*dst)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
		}
	}
	return 0;
}

static void profile_vals_free(profile_vals *pv)
{
	free_secret(&pv->ak);
	free_secret(&pv->sk);
	free_secret(&pv->tok);
}

static int from_file(stow_s3_config *cfg, bool env_partial)
{
	profile_vals pv = {0};
	const char *why_env = env_partial
				  ? " (only one of $AWS_ACCESS_KEY_ID and "
				    "$AWS_SECRET_ACCESS_KEY is set)"
				  : " ($AWS_ACCESS_KEY_ID and "
				    "$AWS_SECRET_ACCESS_KEY are not set)";
	char *text = NULL;
	size_t len = 0, n;
	int err, rc;

	if (!cfg->credentials_file)
		return stow_err_set(STOW_EINVAL,
				    "no S3 credentials%s, and there is no "
				    "credentials file to read ($HOME is not "
				    "set; give credentialsFile=PATH)",
				    why_env);
	err = read_small_file(cfg->credentials_file, &text, &len);
	if (err == -ENOENT)
		return stow_err_set(STOW_EINVAL,
				    "no S3 credentials%s, and the credentials "
				    "file %s does not exist",
				    why_env, cfg->credentials_file);
	if (err == -EFBIG)
		return stow_err_set(STOW_EINVAL,
				    "credentials file %s is not a regular file "
				    "of at most 1 MiB",
				    cfg->credentials_file);
	if (err < 0) {
		errno = -err;
		return stow_err_set(err == -ENOMEM ? STOW_ENOMEM : STOW_EIO,
				    "reading credentials file %s: %s",
				    cfg->credentials_file, strerror(-err));
	}
	rc = parse_credentials(text, cfg->profile, &pv);
	stow_secure_zero(text, len);
	free(text);
	if (rc == 0 && !pv.found)
		rc = stow_err_set(STOW_EINVAL,
				  "no S3 credentials%s, and the credentials "
				  "file %s has no profile [%s] (profiles "
				  "there: %s)",
				  why_env, cfg->credentials_file, cfg->profile,
				  *pv.names ? pv.names : "none");
	else if (rc == 0 && (!pv.ak || !*pv.ak))
		rc = stow_err_set(STOW_EINVAL,
				  "profile [%s] in %s has no "
				  "aws_access_key_id",
				  cfg->profile, cfg->credentials_file);
	else if (rc == 0 && (!pv.sk || !*pv.sk))
		rc = stow_err_set(STOW_EINVAL,
				  "profile [%s] in %s has no "
				  "aws_secret_access_key",
				  cfg->profile, cfg->credentials_file);
	if (rc == 0) {
		n = strlen(cfg->credentials_file) + strlen(cfg->profile) + 16;
		free(cfg->credentials_source);
		cfg->credentials_source = malloc(n);
		if (!cfg->credentials_source) {
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
		} else {
			snprintf(cfg->credentials_source, n, "%s, profile %s",
				 cfg->credentials_file, cfg->profile);
			free(cfg->access_key);
			free_secret(&cfg->secret_key);
			free_secret(&cfg->session_token);
			cfg->access_key = STOW_TAKE_PTR(pv.ak);
			cfg->secret_key = STOW_TAKE_PTR(pv.sk);
			if (pv.tok && *pv.tok)
				cfg->session_token = STOW_TAKE_PTR(pv.tok);
		}
	}
	profile_vals_free(&pv);
	return rc;
}

int stow_s3_config_resolve_credentials(stow_s3_config *cfg)
{
	const char *ak = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *tok = env_nonempty("AWS_SESSION_TOKEN");

	if (!cfg)
		return stow_err_set(STOW_EINVAL, "no config");
	if (!ak || !sk)
		return from_file(cfg, (ak != NULL) != (sk != NULL));
	free(cfg->access_key);
	free_secret(&cfg->secret_key);
	free_secret(&cfg->session_token);
	free(cfg->credentials_source);
	cfg->access_key = strdup(ak);
	cfg->secret_key = strdup(sk);
	cfg->session_token = tok ? strdup(tok) : NULL;
	cfg->credentials_source =
	    strdup("the environment ($AWS_ACCESS_KEY_ID)");
	if (!cfg->access_key || !cfg->secret_key ||
	    (tok && !cfg->session_token) || !cfg->credentials_source)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

static bool dns_label_bucket(const char *b, bool https)
{
	size_t n = strlen(b);

	/* Virtual-hosted addressing puts the bucket into the host name, and
	 * over TLS a '.' breaks the *.s3 wildcard certificate. */
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || (c == '.' && !https)))
			return false;
	}
	return b[0] != '-' && b[n - 1] != '-';
}

static bool host_is_ip(const char *host, size_t n)
{
	if (n && host[0] == '[')
		return true;
	for (size_t i = 0; i < n; i++)
		if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
			return false;
	return n > 0;
}

bool stow_s3_virtual_host(const stow_s3_config *cfg, const char *authority,
			  bool https)
{
	size_t hl = authority[0] == '['
			? strcspn(authority, "]/") + 1
			: strcspn(authority, ":/");

	/* IP literals and localhost cannot carry a bucket label. */
	return !cfg->path_style && !host_is_ip(authority, hl) &&
	       !(hl == 9 && !strncasecmp(authority, "localhost", 9)) &&
	       dns_label_bucket(cfg->bucket, https);
}
