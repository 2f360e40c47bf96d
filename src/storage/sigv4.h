/* AWS Signature Version 4 (header-based), our own implementation over
 * crypto.h so that every step is a pure function with known-answer tests
 * (tests/unit/test_sigv4.c runs AWS's published test suite and the S3
 * documentation example).
 *
 * The caller decides which headers are signed: every header passed in
 * req->headers is canonicalised and signed, and must then be sent exactly
 * as given (host, x-amz-date, x-amz-content-sha256, x-amz-security-token
 * when there is a session token, range, if-none-match, content-md5...).
 * The signer adds nothing to the request itself; it returns the value of
 * the Authorization header.
 *
 * Encoding rules (the S3 flavour, which the general test suite also
 * follows for already-normal paths):
 * - the path is given raw (not percent-encoded); each segment is encoded
 *   once with RFC 3986 unreserved characters kept and '/' kept;
 *   normalize_path additionally removes "." and ".." segments and empty
 *   segments (what services other than S3 expect; S3 keys are taken
 *   literally, so S3 requests leave it false);
 * - query names and values are given raw, encoded with RFC 3986 rules
 *   (space is %20, never '+') and sorted by encoded name, then value;
 * - header names are lower-cased, values trimmed with inner runs of
 *   spaces collapsed, repeated names joined with ',' in the order given,
 *   headers sorted by name.
 *
 * All functions are pure and thread-safe. Secrets (the secret key, the
 * derived signing key) never appear in outputs or error messages.
 * Errors: STOW_EINVAL (malformed input: a header name that is not an HTTP
 * token, a value with CR/LF, a bad date), STOW_ENOMEM. */
#ifndef STOW_STORAGE_SIGV4_H
#define STOW_STORAGE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"

/* "YYYYMMDDTHHMMSSZ" plus NUL. */
#define STOW_SIGV4_DATE_LEN 17
/* Lowercase hex SHA-256 plus NUL. */
#define STOW_SIGV4_HASH_HEX_LEN 65
/* SHA-256 of the empty string, the payload hash of bodiless requests. */
#define STOW_SIGV4_EMPTY_SHA256                                                \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct stow_sigv4_kv {
	const char *name;
	const char *value; /* NULL counts as "" */
} stow_sigv4_kv;

typedef struct stow_sigv4_request {
	const char *method;	    /* "GET", "PUT", ... */
	const char *path;	    /* raw path starting with '/' */
	const stow_sigv4_kv *query; /* raw names and values, any order */
	size_t nquery;
	const stow_sigv4_kv *headers; /* every header to sign */
	size_t nheaders;
	const char *payload_hash; /* hex SHA-256 of the body */
	bool normalize_path;	  /* false for S3 */
} stow_sigv4_request;

typedef struct stow_sigv4_signer {
	const char *access_key;
	const char *secret_key;
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3" */
} stow_sigv4_signer;

/* Optional outputs of the intermediate steps, for tests and debugging;
 * either buffer may be NULL. Neither contains a secret. */
typedef struct stow_sigv4_trace {
	stow_buf *canonical_request;
	stow_buf *string_to_sign;
} stow_sigv4_trace;

/* Sign req at amz_date ("20150830T123600Z", which must also be the value
 * of the signed x-amz-date header) and append the Authorization header
 * value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...") to authorization. trace may be NULL. */
int stow_sigv4_sign(const stow_sigv4_signer *k, const stow_sigv4_request *req,
		    const char *amz_date, stow_buf *authorization,
		    const stow_sigv4_trace *trace);

/* t as "YYYYMMDDTHHMMSSZ" (UTC) into out. */
int stow_sigv4_amz_date(time_t t, char out[STOW_SIGV4_DATE_LEN]);

/* Append the RFC 3986 encoding of s[0..n): unreserved characters
 * (A-Z a-z 0-9 - . _ ~) as they are, '/' as is when keep_slash, every
 * other byte as %XX (uppercase hex). */
int stow_sigv4_uri_encode(stow_buf *out, const char *s, size_t n,
			  bool keep_slash);

/* Append the canonical URI of a raw path (see the rules above). The S3
 * backend also sends exactly this string as the request path, so what is
 * signed is what goes on the wire. */
int stow_sigv4_canonical_uri(stow_buf *out, const char *path,
			     bool normalize_path);

/* Append the canonical query string (encoded, sorted, "a=1&b=2"; "" when
 * n is 0). Also usable as the query part of the request URL. */
int stow_sigv4_canonical_query(stow_buf *out, const stow_sigv4_kv *q, size_t n);

/* Lowercase hex SHA-256 of data into out. */
int stow_sigv4_sha256_hex(const void *data, size_t len,
			  char out[STOW_SIGV4_HASH_HEX_LEN]);

#endif
