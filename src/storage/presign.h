/* Presigned S3 URLs (AWS Signature Version 4, query-string signing), what
 * a DownloadRequest hands to a CLI that holds no credentials.
 *
 * The URL carries X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 * X-Amz-Expires, X-Amz-SignedHeaders=host, X-Amz-Security-Token (with a
 * session token) and X-Amz-Signature; the payload is UNSIGNED-PAYLOAD and
 * host is the only signed header, exactly as botocore's
 * generate_presigned_url and the AWS SDKs build them
 * (tests/unit/test_presign.c checks AWS's documented example and vectors
 * taken from botocore).
 *
 * Addressing follows the S3 backend (s3.c): virtual-hosted
 * (https://bucket.host/key) unless the config asks for path style, the
 * host is an IP literal or localhost, or the bucket is no DNS label; then
 * path style (https://host/bucket/key).
 *
 * Pure and thread-safe; the secret key never appears in the output or in
 * an error message. Errors: STOW_EINVAL (bad key, expiry out of 1 s .. 7
 * days, incomplete config), STOW_ENOMEM. */
#ifndef STOW_STORAGE_PRESIGN_H
#define STOW_STORAGE_PRESIGN_H

#include <time.h>

#include "storage/s3.h"
#include "util/buf.h"

/* Longest expiry S3 accepts for SigV4 query signing. */
#define STOW_S3_PRESIGN_MAX_S 604800L

/* Append the presigned URL of `method` (GET, HEAD, PUT...) on key, a key
 * of the store opened with cfg (so under cfg->prefix, as the store's own
 * requests are), signed at time now, valid for expires_s seconds.
 * endpoint (may be NULL: cfg->endpoint) replaces the endpoint in the URL
 * and the signature, for Velero's publicUrl: a name the CLI's machine can
 * reach when the server reaches S3 through another. cfg needs bucket,
 * endpoint, region and resolved credentials. */
int stow_s3_presign(const stow_s3_config *cfg, const char *endpoint,
		    const char *method, const char *key, time_t now,
		    long expires_s, stow_buf *url);

#endif
