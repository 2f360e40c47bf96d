/* S3 and S3-compatible object storage (AWS, MinIO, Ceph RGW, s3rver).
 *
 * Location syntax (what `--repo` takes and what a Velero
 * BackupStorageLocation is translated into):
 *
 *   s3://BUCKET[/PREFIX][?KEY=VALUE[&KEY=VALUE]...]
 *
 * with Velero's config keys as query keys (values URL-encoded):
 *   s3Url                  endpoint URL, e.g. http://127.0.0.1:4568
 *                          (default: https://s3.<region>.amazonaws.com)
 *   region                 default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1
 *   s3ForcePathStyle       "true": http://host/bucket/key addressing
 *                          (default false: virtual-hosted bucket.host/key)
 *   insecureSkipTLSVerify  "true": do not verify the server certificate
 *   caCert                 path of a PEM CA bundle to trust
 *   profile                profile in the credentials file (default:
 *                          $AWS_PROFILE, "default")
 *   credentialsFile        AWS shared-credentials file (default:
 *                          $AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials)
 *   timeout                per-request deadline in seconds (default 60)
 *   retries                retries of a failed request (default 6)
 *
 * Credentials: $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (+
 * $AWS_SESSION_TOKEN) when both are set; otherwise the profile of the
 * credentials file (aws_access_key_id, aws_secret_access_key,
 * aws_session_token). Missing pieces are a STOW_EINVAL naming exactly what
 * is missing and where it was looked for.
 *
 * The backend implements storage.h's contract: put is a single PUT
 * (atomic on S3); STOW_PUT_EXCL uses a conditional PUT (If-None-Match: *)
 * where the server supports it and otherwise a HEAD-then-PUT, documented
 * as racy; list is ListObjectsV2 with continuation; ranged get uses Range.
 * One deliberate difference: S3 answers a DELETE of a missing key with
 * success, and so does this backend (no extra HEAD per delete) - callers
 * of del must not rely on STOW_ENOTFOUND (the vault's do not).
 * Every request has a deadline; retries with exponential backoff and
 * jitter on 5xx, 429/SlowDown, timeouts and connection errors, never on
 * other 4xx. Thread-safe: each thread uses its own connection (kept alive
 * and reused). */
#ifndef STOW_STORAGE_S3_H
#define STOW_STORAGE_S3_H

#include <stdbool.h>

#include "storage/storage.h"

typedef struct stow_s3_config {
	char *bucket;
	char *prefix;	/* "" or "a/b" (no leading or trailing '/') */
	char *endpoint; /* scheme://host[:port][/path], no trailing '/' */
	char *region;
	bool path_style;
	bool insecure_skip_verify;
	char *ca_cert; /* file path or NULL */
	char *profile;
	char *credentials_file;
	char *access_key, *secret_key, *session_token;
	/* Where the credentials came from, for messages that tell the user
	 * what to fix: "the environment ($AWS_ACCESS_KEY_ID)" or
	 * "FILE, profile P". Never the credentials themselves. */
	char *credentials_source;
	unsigned timeout_s;
	unsigned retries;
} stow_s3_config;

/* Parse a location into cfg (defaults applied, credentials not yet
 * resolved). STOW_EINVAL with a message naming the bad part. */
int stow_s3_config_parse(stow_s3_config *cfg, const char *location);
/* Fill access_key/secret_key/session_token from the environment or the
 * credentials file, per the rules above. */
int stow_s3_config_resolve_credentials(stow_s3_config *cfg);
void stow_s3_config_free(stow_s3_config *cfg);

/* Whether requests for cfg's bucket go to "<bucket>.<authority>"
 * (virtual-hosted) rather than "<authority>/<bucket>": not when path
 * style is asked for, the host is an IP literal or localhost, or the
 * bucket is no DNS label (with a '.' over https, whose wildcard
 * certificate it would break). authority is "host[:port]..." of the
 * endpoint URL. */
bool stow_s3_virtual_host(const stow_s3_config *cfg, const char *authority,
			  bool https);

/* Open an S3 store (takes a copy of cfg). With create == 0 a missing
 * bucket is STOW_ENOTFOUND ("bucket B does not exist at ENDPOINT"); with
 * create != 0 the bucket must still exist (we never create buckets). */
int stow_store_s3_open(stow_store **out, const stow_s3_config *cfg, int create);

/* Delete n keys of an S3 store with multi-object DELETE requests (up to
 * 1000 keys each, Content-MD5 as S3 requires). Missing keys are not an
 * error. Every key must be valid (STOW_EINVAL before anything is sent).
 * On failure some keys may be deleted and others not; the message names
 * the first key S3 refused. STOW_EINVAL if s is not an S3 store. */
int stow_store_s3_delete_many(stow_store *s, const char *const *keys, size_t n);

#endif
