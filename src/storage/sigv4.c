/* AWS Signature Version 4: canonical request, string to sign, signing key,
 * Authorization header. See sigv4.h for the contract and docs/s3.md for how
 * the S3 backend uses it. */
#include "storage/sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
/* Limits on what we sign. Requests are built by the S3 backend, so these
 * only stop a programming error from turning into a huge allocation. */
#define MAX_HEADERS 64
#define MAX_QUERY 64

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int stow_sigv4_uri_encode(stow_buf *out, const char *s, size_t n,
			  bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	/* Worst case triples the length; reserve once. */
	if (n > SIZE_MAX / 3)
		return stow_err_set(STOW_ENOMEM, "string too long to encode");
	STOW_TRY(stow_buf_reserve(out, n * 3));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			out->data[out->len++] = c;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = (uint8_t)hex[c >> 4];
			out->data[out->len++] = (uint8_t)hex[c & 15];
		}
	}
	out->data[out->len] = '\0'; /* reserve kept room for it */
	return 0;
}

/* Path normalisation for services other than S3 (RFC 3986 section 5.2.4
 * remove_dot_segments, plus collapsing empty segments as the AWS test
 * suite expects): walk the segments keeping a stack of (offset, length)
 * of the ones that survive. */
static int normalized_uri(stow_buf *out, const char *path)
{
	size_t n = strlen(path), nseg = 0, *segs;
	/* A trailing '/' survives, and so does the directory meaning of a
	 * final "." or "..": "/a/b/.." is "/a/". */
	bool trailing = n > 0 && path[n - 1] == '/';
	int rc = 0;

	/* At most n/2+1 segments survive. */
	segs = malloc((n / 2 + 2) * 2 * sizeof(*segs));
	if (!segs)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && path[j] != '/')
			j++;
		if (j - i == 1 && path[i] == '.') {
			trailing = trailing || j == n;
		} else if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg)
				nseg--;
			trailing = trailing || j == n;
		} else if (j > i) {
			segs[2 * nseg] = i;
			segs[2 * nseg + 1] = j - i;
			nseg++;
		}
		i = j + 1;
	}
	for (size_t k = 0; k < nseg && rc == 0; k++) {
		rc = stow_buf_append_str(out, "/");
		if (rc == 0)
			rc = stow_sigv4_uri_encode(out, path + segs[2 * k],
						   segs[2 * k + 1], false);
	}
	if (rc == 0 && (nseg == 0 || trailing))
		rc = stow_buf_append_str(out, "/");
	free(segs);
	return rc;
}

int stow_sigv4_canonical_uri(stow_buf *out, const char *path,
			     bool normalize_path)
{
	if (!path || path[0] != '/')
		return stow_err_set(STOW_EINVAL,
				    "request path must start with '/'");
	if (normalize_path)
		return normalized_uri(out, path);
	return stow_sigv4_uri_encode(out, path, strlen(path), true);
}

typedef struct enc_kv {
	char *name;
	char *value;
} enc_kv;

static int enc_kv_cmp(const void *a, const void *b)
{
	const enc_kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	if (stow_sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false) < 0)
		return NULL;
	if (b.len == 0 && stow_buf_append_str(&b, "") < 0)
		return NULL;
	return (char *)stow_buf_steal(&b, NULL);
}

int stow_sigv4_canonical_query(stow_buf *out, const stow_sigv4_kv *q, size_t n)
{
	enc_kv *e;
	int rc = 0;

	if (n == 0) {
		/* Keep the buffer a valid C string even when nothing is
		 * appended. */
		return stow_buf_append_str(out, "");
	}
	if (!q || n > MAX_QUERY)
		return stow_err_set(STOW_EINVAL, "bad query parameter list");
	e = calloc(n, sizeof(*e));
	if (!e)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!q[i].name) {
			rc = stow_err_set(STOW_EINVAL, "query name is NULL");
			break;
		}
		e[i].name = encode_dup(q[i].name);
		e[i].value = encode_dup(q[i].value);
		if (!e[i].name || !e[i].value)
			rc = stow_err_set(STOW_ENOMEM, "out of memory");
	}
	/* AWS sorts by the encoded name, then the encoded value, bytewise. */
	if (rc == 0)
		qsort(e, n, sizeof(*e), enc_kv_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = stow_buf_printf(out, "%s%s=%s", i ? "&" : "", e[i].name,
				     e[i].value);
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
	return rc;
}

/* RFC 7230 token characters: what a header name may contain. */
static bool token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct hdr {
	char name[128]; /* lower-cased */
	size_t idx;	/* position in the caller's list: keeps the sort
			 * stable so repeated names join in order */
	const char *value;
} hdr;

static int hdr_cmp(const void *a, const void *b)
{
	const hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Append value with leading and trailing whitespace removed and every
 * inner run of spaces/tabs collapsed to one space. */
static int append_trimmed(stow_buf *out, const char *v)
{
	const char *end;
	bool space = false;

	if (!v)
		v = "";
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	STOW_TRY(stow_buf_reserve(out, (size_t)(end - v)));
	for (; v < end; v++) {
		if (*v == '\r' || *v == '\n')
			return stow_err_set(STOW_EINVAL,
					    "header value contains a line "
					    "break");
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			out->data[out->len++] = ' ';
		space = false;
		out->data[out->len++] = (uint8_t)*v;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* Canonical headers block ("name:value\n" each) and the signed-headers
 * list ("a;b;c"). */
static int canonical_headers(const stow_sigv4_request *req, stow_buf *block,
			     stow_buf *signed_list)
{
	hdr *h;
	size_t n = req->nheaders;
	int rc = 0;

	if (n == 0 || n > MAX_HEADERS || !req->headers)
		return stow_err_set(STOW_EINVAL,
				    "a signed request needs 1 to %d headers",
				    MAX_HEADERS);
	h = calloc(n, sizeof(*h));
	if (!h)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *nm = req->headers[i].name;
		size_t len = nm ? strlen(nm) : 0;

		if (len == 0 || len >= sizeof(h[i].name)) {
			rc = stow_err_set(STOW_EINVAL, "bad header name");
			break;
		}
		for (size_t j = 0; j < len; j++) {
			unsigned char c = (unsigned char)nm[j];

			if (!token_char(c)) {
				rc =
				    stow_err_set(STOW_EINVAL,
						 "header name \"%.64s\" is not "
						 "an HTTP token",
						 nm);
				break;
			}
			h[i].name[j] =
			    (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
		}
		h[i].idx = i;
		h[i].value = req->headers[i].value;
	}
	if (rc == 0)
		qsort(h, n, sizeof(*h), hdr_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		bool last = i + 1 == n || strcmp(h[i].name, h[i + 1].name) != 0;

		if (!repeat) {
			rc = stow_buf_printf(block, "%s:", h[i].name);
			if (rc == 0)
				rc = stow_buf_printf(
				    signed_list, "%s%s",
				    signed_list->len ? ";" : "", h[i].name);
		} else {
			rc = stow_buf_append_str(block, ",");
		}
		if (rc == 0)
			rc = append_trimmed(block, h[i].value);
		if (rc == 0 && last)
			rc = stow_buf_append_str(block, "\n");
	}
	free(h);
	return rc;
}

static bool date_ok(const char *d)
{
	/* YYYYMMDDTHHMMSSZ */
	if (!d || strlen(d) != STOW_SIGV4_DATE_LEN - 1 || d[8] != 'T' ||
	    d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return false;
	return true;
}

static bool scope_part_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

int stow_sigv4_sha256_hex(const void *data, size_t len,
			  char out[STOW_SIGV4_HASH_HEX_LEN])
{
	uint8_t d[32];

	STOW_TRY(stow_sha256(data, len, d));
	stow_hex(out, d, sizeof(d));
	return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
 * service), "aws4_request"). Every intermediate key is wiped. */
static int signing_key(const stow_sigv4_signer *k, const char *date8,
		       uint8_t out[32])
{
	const char *parts[4] = {date8, k->region, k->service, "aws4_request"};
	size_t slen = strlen(k->secret_key);
	uint8_t cur[32], next[32];
	char *seed;
	int rc;

	seed = malloc(slen + 5);
	if (!seed)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	memcpy(seed, "AWS4", 4);
	memcpy(seed + 4, k->secret_key, slen + 1);
	rc = stow_hmac_sha256(seed, slen + 4, parts[0], strlen(parts[0]), cur);
	stow_secure_zero(seed, slen + 4);
	free(seed);
	for (int i = 1; i < 4 && rc == 0; i++) {
		rc = stow_hmac_sha256(cur, sizeof(cur), parts[i],
				      strlen(parts[i]), next);
		memcpy(cur, next, sizeof(cur));
	}
	if (rc == 0)
		memcpy(out, cur, 32);
	stow_secure_zero(cur, sizeof(cur));
	stow_secure_zero(next, sizeof(next));
	return rc;
}

int stow_sigv4_sign(const stow_sigv4_signer *k, const stow_sigv4_request *req,
		    const char *amz_date, stow_buf *authorization,
		    const stow_sigv4_trace *trace)
{
	_cleanup_(stow_buf_freep) stow_buf creq;
	_cleanup_(stow_buf_freep) stow_buf sts;
	_cleanup_(stow_buf_freep) stow_buf hblock;
	_cleanup_(stow_buf_freep) stow_buf signed_list;
	char date8[9], creq_hash[STOW_SIGV4_HASH_HEX_LEN], sig_hex[65];
	uint8_t key[32], sig[32];
	int rc;

	stow_buf_init(&creq, 0);
	stow_buf_init(&sts, 0);
	stow_buf_init(&hblock, 0);
	stow_buf_init(&signed_list, 0);
	if (!k || !req || !authorization)
		return stow_err_set(STOW_EINVAL, "sigv4: NULL argument");
	if (!k->access_key || !*k->access_key || !k->secret_key ||
	    !*k->secret_key)
		return stow_err_set(STOW_EINVAL, "sigv4: no credentials");
	if (!scope_part_ok(k->region) || !scope_part_ok(k->service))
		return stow_err_set(STOW_EINVAL,
				    "sigv4: bad region or service name");
	if (strchr(k->access_key, '/') || strchr(k->access_key, ',') ||
	    strchr(k->access_key, ' '))
		return stow_err_set(STOW_EINVAL,
				    "the access key id contains '/', ',' or "
				    "a space, which cannot be signed");
	if (!date_ok(amz_date))
		return stow_err_set(STOW_EINVAL,
				    "sigv4: date must be YYYYMMDDTHHMMSSZ");
	if (!req->method || !*req->method || !req->payload_hash)
		return stow_err_set(STOW_EINVAL, "sigv4: no method or hash");
	for (const char *m = req->method; *m; m++)
		if (!token_char((unsigned char)*m))
			return stow_err_set(STOW_EINVAL, "sigv4: bad method");
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';

	/* Task 1: the canonical request. */
	STOW_TRY(stow_buf_printf(&creq, "%s\n", req->method));
	STOW_TRY(
	    stow_sigv4_canonical_uri(&creq, req->path, req->normalize_path));
	STOW_TRY(stow_buf_append_str(&creq, "\n"));
	STOW_TRY(stow_sigv4_canonical_query(&creq, req->query, req->nquery));
	STOW_TRY(stow_buf_append_str(&creq, "\n"));
	STOW_TRY(canonical_headers(req, &hblock, &signed_list));
	STOW_TRY(stow_buf_printf(&creq, "%s\n%s\n%s", (char *)hblock.data,
				 (char *)signed_list.data, req->payload_hash));

	/* Task 2: the string to sign. */
	STOW_TRY(stow_sigv4_sha256_hex(creq.data, creq.len, creq_hash));
	STOW_TRY(
	    stow_buf_printf(&sts, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
			    amz_date, date8, k->region, k->service, creq_hash));

	/* Task 3: the signature. */
	STOW_TRY(signing_key(k, date8, key));
	rc = stow_hmac_sha256(key, sizeof(key), sts.data, sts.len, sig);
	stow_secure_zero(key, sizeof(key));
	if (rc < 0)
		return rc;
	stow_hex(sig_hex, sig, sizeof(sig));

	if (trace && trace->canonical_request)
		STOW_TRY(stow_buf_append_str(trace->canonical_request,
					     (char *)creq.data));
	if (trace && trace->string_to_sign)
		STOW_TRY(stow_buf_append_str(trace->string_to_sign,
					     (char *)sts.data));
	return stow_buf_printf(authorization,
			       ALGORITHM
			       " Credential=%s/%s/%s/%s/aws4_request, "
			       "SignedHeaders=%s, Signature=%s",
			       k->access_key, date8, k->region, k->service,
			       (char *)signed_list.data, sig_hex);
}

int stow_sigv4_amz_date(time_t t, char out[STOW_SIGV4_DATE_LEN])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(out, STOW_SIGV4_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm) !=
		STOW_SIGV4_DATE_LEN - 1)
		return stow_err_set(STOW_EINVAL, "time out of range");
	return 0;
}
