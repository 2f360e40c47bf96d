/* The S3 backend: storage.h's contract over the S3 REST API with libcurl
 * and our own SigV4 signer. The design note is docs/s3.md; in short:
 *
 * - Connections: a small pool of curl easy handles per store. A request
 *   takes a handle, uses it alone, and gives it back, so each thread in
 *   effect keeps its own kept-alive connection and no handle is ever
 *   shared between threads. DNS and TLS sessions are shared through a
 *   CURLSH with locks.
 * - Every call has a deadline of timeout x (retries + 1); each attempt
 *   gets at most `timeout` of it. Retries back off exponentially with full
 *   jitter (100 ms base, 10 s cap) on 5xx, 429, SlowDown/RequestTimeout
 *   and transient connection errors, never on other 4xx.
 * - Every byte from the server is hostile: bodies are size-capped, the XML
 *   reader is a small strict scanner with entity decoding, listed keys are
 *   validated before a caller sees them, a short body is retried.
 * - Messages name the bucket, key, endpoint and what to fix; they never
 *   contain a secret (the secret key, a session token or a signature). */
#include "storage/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/crypto.h"
#include "storage/sigv4.h"
#include "util/clock.h"
#include "util/curlpool.h"
#include "util/err.h"

#define KEY_MAX 1024
/* Idle handles kept per store. More concurrent requests than this still
 * work; the extra handles are closed when given back. */
#define POOL_MAX 32
/* Caps on what we keep of a response body. */
#define ERR_BODY_MAX ((size_t)64 << 10)
#define LIST_BODY_MAX ((size_t)32 << 20)
#define DELETE_BODY_MAX ((size_t)16 << 20)
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 10000
#define CONNECT_TIMEOUT_MS 10000
/* S3 accepts at most 1000 keys per multi-object delete. */
#define DELETE_BATCH 1000
#define XML_DEPTH_MAX 16
#define XML_TEXT_MAX ((size_t)64 << 10)

typedef struct s3_store {
	stow_store base;
	stow_s3_config cfg;
	bool creds_from_env;
	char *base_url;	  /* scheme://[bucket.]host[:port], the connection */
	char *host;	  /* Host header: the same authority, default port
			   * dropped */
	char *path_base;  /* raw path before the object key: endpoint path
			   * plus "/BUCKET" in path style; may be "" */
	char *key_prefix; /* "PREFIX/" or "" */
	bool tls;	  /* https: bodies are sent UNSIGNED-PAYLOAD */
	stow_curl_pool *pool; /* handles, shared DNS cache and TLS sessions */
} s3_store;

static const stow_store_ops s3_ops;

/* --- small helpers ------------------------------------------------------ */

/* X-Amz-Content-SHA256 of an object body. Over https the body is sent as
 * UNSIGNED-PAYLOAD, as AWS allows (and minio-go, restic's client, does):
 * TLS already protects it in transit, every byte the vault reads back is
 * authenticated by its AEAD, and hashing every pack with SHA-256 a second
 * time cost half a CPU-second per GiB uploaded. Over plain http the hash
 * is signed, so a body altered on the wire is refused by the server. */
static int body_hash(const s3_store *s, const void *data, size_t len,
		     char out[STOW_SIGV4_HASH_HEX_LEN])
{
	if (s->tls) {
		snprintf(out, STOW_SIGV4_HASH_HEX_LEN, "UNSIGNED-PAYLOAD");
		return 0;
	}
	return stow_sigv4_sha256_hex(data, len, out);
}

/* Copy server-provided text into a message-safe form: printable ASCII
 * only, at most n-1 bytes. */
static void safe_copy(char *dst, size_t n, const char *src, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[j] = '\0';
}

/* --- the minimal XML reader --------------------------------------------- */

/* Called at the end of every element with its name, its parent's name
 * ("" at the root) and the decoded character data directly inside it. */
typedef int (*xml_end_cb)(void *ctx, const char *name, const char *parent,
			  const char *text, size_t len);

static int xml_bad(const char *why)
{
	return stow_err_set(STOW_ECORRUPT, "malformed XML from S3: %s", why);
}

static int put_utf8(stow_buf *t, uint32_t cp)
{
	uint8_t b[4];
	size_t n;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return xml_bad("bad character reference");
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return stow_buf_append(t, b, n);
}

/* Decode character data p[0..n) (entities included) onto t. */
static int xml_text(stow_buf *t, const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *semi;
		size_t elen;

		if (p[i] != '&') {
			size_t j = i;

			while (j < n && p[j] != '&')
				j++;
			STOW_TRY(stow_buf_append(t, p + i, j - i));
			i = j;
			continue;
		}
		semi = memchr(p + i, ';', n - i < 12 ? n - i : 12);
		if (!semi)
			return xml_bad("unterminated entity");
		elen = (size_t)(semi - (p + i)) + 1;
		if (elen == 5 && !memcmp(p + i, "&amp;", 5))
			STOW_TRY(stow_buf_append(t, "&", 1));
		else if (elen == 4 && !memcmp(p + i, "&lt;", 4))
			STOW_TRY(stow_buf_append(t, "<", 1));
		else if (elen == 4 && !memcmp(p + i, "&gt;", 4))
			STOW_TRY(stow_buf_append(t, ">", 1));
		else if (elen == 6 && !memcmp(p + i, "&quot;", 6))
			STOW_TRY(stow_buf_append(t, "\"", 1));
		else if (elen == 6 && !memcmp(p + i, "&apos;", 6))
			STOW_TRY(stow_buf_append(t, "'", 1));
		else if (elen > 3 && p[i + 1] == '#') {
			bool hex = p[i + 2] == 'x' || p[i + 2] == 'X';
			uint32_t cp = 0;
			size_t d = i + (hex ? 3 : 2);

			if (d >= i + elen - 1)
				return xml_bad("empty character reference");
			for (; d < i + elen - 1; d++) {
				char c = p[d];
				uint32_t v;

				if (c >= '0' && c <= '9')
					v = (uint32_t)(c - '0');
				else if (hex && c >= 'a' && c <= 'f')
					v = (uint32_t)(c - 'a' + 10);
				else if (hex && c >= 'A' && c <= 'F')
					v = (uint32_t)(c - 'A' + 10);
				else
					return xml_bad("bad character "
						       "reference");
				cp = cp * (hex ? 16 : 10) + v;
				if (cp > 0x10ffff)
					return xml_bad("bad character "
						       "reference");
			}
			STOW_TRY(put_utf8(t, cp));
		} else {
			return xml_bad("unknown entity");
		}
		i += elen;
	}
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
	       c == ':';
}

/* A strict scanner for the small XML documents S3 sends: elements,
 * attributes (skipped), character data with the five entities and
 * character references, CDATA, comments and the XML declaration. A
 * DOCTYPE is refused (no entity definitions, so no expansion bombs).
 * Depth and text size are capped. Every end tag must match. */
static int xml_parse(const char *doc, size_t len, xml_end_cb cb, void *ctx)
{
	char stack[XML_DEPTH_MAX][64];
	size_t depth = 0, i = 0;
	stow_buf text;
	int rc = 0;

	stow_buf_init(&text, XML_TEXT_MAX);
	while (i < len && rc == 0) {
		const char *p = doc + i;
		size_t left = len - i;

		if (*p != '<') {
			size_t j = i;

			while (j < len && doc[j] != '<')
				j++;
			rc = xml_text(&text, doc + i, j - i);
			i = j;
			continue;
		}
		if (left >= 2 && p[1] == '?') {
			const char *e = memmem(p, left, "?>", 2);

			if (!e) {
				rc = xml_bad("unterminated declaration");
				break;
			}
			i = (size_t)(e - doc) + 2;
		} else if (left >= 4 && !memcmp(p, "<!--", 4)) {
			const char *e = memmem(p + 4, left - 4, "-->", 3);

			if (!e) {
				rc = xml_bad("unterminated comment");
				break;
			}
			i = (size_t)(e - doc) + 3;
		} else if (left >= 9 && !memcmp(p, "<![CDATA[", 9)) {
			const char *e = memmem(p + 9, left - 9, "]]>", 3);

			if (!e) {
				rc = xml_bad("unterminated CDATA");
				break;
			}
			rc = stow_buf_append(&text, p + 9,
					     (size_t)(e - (p + 9)));
			i = (size_t)(e - doc) + 3;
		} else if (left >= 2 && p[1] == '!') {
			rc = xml_bad("DOCTYPE or other declaration");
		} else if (left >= 2 && p[1] == '/') {
			size_t j = 2, nl;

			while (j < left && name_char(p[j]))
				j++;
			nl = j - 2;
			while (j < left && (p[j] == ' ' || p[j] == '\t' ||
					    p[j] == '\r' || p[j] == '\n'))
				j++;
			if (j >= left || p[j] != '>' || depth == 0 ||
			    nl != strlen(stack[depth - 1]) ||
			    memcmp(p + 2, stack[depth - 1], nl) != 0) {
				rc = xml_bad("mismatched end tag");
				break;
			}
			rc = stow_buf_append_u8(&text, 0);
			if (rc == 0) {
				text.len--;
				rc = cb(ctx, stack[depth - 1],
					depth > 1 ? stack[depth - 2] : "",
					(const char *)text.data, text.len);
			}
			depth--;
			stow_buf_reset(&text);
			i += j + 1;
		} else {
			size_t j = 1, nl;
			bool self_close = false;
			char quote = 0;

			while (j < left && name_char(p[j]))
				j++;
			nl = j - 1;
			if (nl == 0 || nl >= sizeof(stack[0])) {
				rc = xml_bad("bad element name");
				break;
			}
			/* Skip attributes, minding quoted '>'. */
			for (; j < left; j++) {
				if (quote) {
					if (p[j] == quote)
						quote = 0;
				} else if (p[j] == '"' || p[j] == '\'') {
					quote = p[j];
				} else if (p[j] == '>') {
					break;
				}
			}
			if (j >= left) {
				rc = xml_bad("unterminated start tag");
				break;
			}
			self_close = p[j - 1] == '/';
			if (depth == XML_DEPTH_MAX) {
				rc = xml_bad("nested too deeply");
				break;
			}
			memcpy(stack[depth], p + 1, nl);
			stack[depth][nl] = '\0';
			depth++;
			stow_buf_reset(&text);
			if (self_close) {
				rc = cb(ctx, stack[depth - 1],
					depth > 1 ? stack[depth - 2] : "", "",
					0);
				depth--;
			}
			i += j + 1;
		}
	}
	if (rc == 0 && depth != 0)
		rc = xml_bad("truncated document");
	stow_buf_free(&text);
	return rc;
}

/* --- S3 error documents -------------------------------------------------- */

typedef struct s3_error {
	char code[64];
	char message[256];
	char region[64];
	char key[256];
	char server_time[40];
	char request_time[40];
} s3_error;

static int error_end(void *ctx, const char *name, const char *parent,
		     const char *text, size_t len)
{
	s3_error *e = ctx;

	/* <Error> is the root of an error reply and the element of each
	 * failed key in a multi-delete reply; take the first. */
	if (strcmp(parent, "Error") != 0)
		return 0;
	if (!strcmp(name, "Code") && !e->code[0])
		safe_copy(e->code, sizeof(e->code), text, len);
	else if (!strcmp(name, "Message") && !e->message[0])
		safe_copy(e->message, sizeof(e->message), text, len);
	else if (!strcmp(name, "Region") && !e->region[0])
		safe_copy(e->region, sizeof(e->region), text, len);
	else if (!strcmp(name, "Key") && !e->key[0])
		safe_copy(e->key, sizeof(e->key), text, len);
	else if (!strcmp(name, "ServerTime") && !e->server_time[0])
		safe_copy(e->server_time, sizeof(e->server_time), text, len);
	else if (!strcmp(name, "RequestTime") && !e->request_time[0])
		safe_copy(e->request_time, sizeof(e->request_time), text, len);
	return 0;
}

/* --- one request ---------------------------------------------------------- */

typedef struct req {
	const char *method;
	const char *key; /* store key, or NULL for a bucket request */
	const stow_sigv4_kv *query;
	size_t nquery;
	const void *body;
	size_t body_len;
	char payload_hash[STOW_SIGV4_HASH_HEX_LEN];
	const char *range;	  /* "bytes=a-b" or NULL */
	bool if_none_match;	  /* If-None-Match: * */
	const char *content_md5;  /* base64 */
	const char *content_type; /* signed if set */
	stow_buf *sink;		  /* 2xx body (NULL: discard) */
	uint64_t win_off;	  /* a 200 to a ranged GET: keep only */
	uint64_t win_len;	  /* bytes [win_off, win_off + win_len) */
	bool accept_416;	  /* a range past the end is not an error */
	char what[96 + KEY_MAX];  /* "GET s3://bucket/key", for messages */
} req;

typedef struct resp {
	long status;
	bool have_length;
	uint64_t length;
	bool have_crange;
	uint64_t crange_start;
	char bucket_region[64];
	char etag[128];
	long retry_after_s;
	time_t server_date;
	stow_buf err_body;
	uint64_t received; /* body bytes seen, skipped ones included */
	int sink_rc;
	const req *q;
} resp;

static bool status_ok(const resp *r)
{
	return r->status >= 200 && r->status < 300;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n;
	char line[256];
	char *colon, *v;

	safe_copy(line, sizeof(line), buf, len);
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say): forget the
		 * previous one's headers. */
		const char *sp = strchr(line, ' ');

		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->have_length = false;
		r->have_crange = false;
		r->bucket_region[0] = '\0';
		r->etag[0] = '\0';
		r->retry_after_s = -1;
		return len;
	}
	colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (char *e = v + strlen(v); e > v && (e[-1] == '?' || e[-1] == ' ');
	     e--)
		e[-1] = '\0'; /* CR LF became "??" */
	if (strcasecmp(line, "Content-Length") == 0) {
		char *end;
		unsigned long long cl;

		errno = 0;
		cl = strtoull(v, &end, 10);
		if (*v >= '0' && *v <= '9' && !*end && !errno) {
			r->have_length = true;
			r->length = cl;
		}
	} else if (strcasecmp(line, "Content-Range") == 0) {
		/* "bytes START-END/TOTAL" */
		if (strncmp(v, "bytes ", 6) == 0 && v[6] >= '0' &&
		    v[6] <= '9') {
			r->have_crange = true;
			r->crange_start = strtoull(v + 6, NULL, 10);
		}
	} else if (strcasecmp(line, "x-amz-bucket-region") == 0) {
		safe_copy(r->bucket_region, sizeof(r->bucket_region), v,
			  strlen(v));
	} else if (strcasecmp(line, "Retry-After") == 0) {
		char *end;
		long s = strtol(v, &end, 10);

		if (*v >= '0' && *v <= '9' && !*end && s >= 0)
			r->retry_after_s = s;
	} else if (strcasecmp(line, "ETag") == 0) {
		safe_copy(r->etag, sizeof(r->etag), v, strlen(v));
	} else if (strcasecmp(line, "Date") == 0) {
		r->server_date = curl_getdate(v, NULL);
	}
	return len;
}

/* Reserve the whole body once its length is known, and refuse at once a
 * body the caller's buffer cannot hold. */
static int reserve_for_body(resp *r)
{
	const req *q = r->q;
	uint64_t want = r->length;

	if (!q->sink || !status_ok(r) || !r->have_length)
		return 0;
	if (r->status == 200 && q->range) {
		want = r->length > q->win_off ? r->length - q->win_off : 0;
		if (want > q->win_len)
			want = q->win_len;
	}
	if (want > SIZE_MAX || stow_buf_reserve(q->sink, (size_t)want) < 0) {
		r->sink_rc =
		    stow_err_set(STOW_ENOMEM,
				 "%s: the object (%llu bytes) does not "
				 "fit the read buffer",
				 q->what, (unsigned long long)want);
		return -1;
	}
	return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	const req *q = r->q;
	size_t len = size * n;
	uint64_t pos = r->received;

	if (r->received == 0 && len && reserve_for_body(r) < 0)
		return 0;
	r->received += len;
	if (!status_ok(r)) {
		size_t room = ERR_BODY_MAX - r->err_body.len;

		if (room && stow_buf_append(&r->err_body, buf,
					    len < room ? len : room) < 0)
			return 0;
		return len;
	}
	if (!q->sink)
		return len;
	if (r->status == 200 && q->range) {
		/* The server ignored Range: keep only the window. */
		uint64_t lo = q->win_off, hi;

		if (__builtin_add_overflow(q->win_off, q->win_len, &hi))
			hi = UINT64_MAX;
		if (pos + len <= lo || pos >= hi)
			return len;
		{
			uint64_t s = pos < lo ? lo - pos : 0;
			uint64_t e = pos + len > hi ? hi - pos : len;

			if (stow_buf_append(q->sink, buf + s, (size_t)(e - s)) <
			    0) {
				r->sink_rc = STOW_ENOMEM;
				return 0;
			}
		}
		return len;
	}
	if (stow_buf_append(q->sink, buf, len) < 0) {
		r->sink_rc = stow_err_wrap(STOW_ENOMEM, "%s", q->what);
		return 0;
	}
	return len;
}

typedef struct upload {
	const uint8_t *base;
	size_t len;
	size_t pos;
} upload;

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	upload *u = ud;
	size_t len = size * n;

	if (len > u->len - u->pos)
		len = u->len - u->pos;
	if (len)
		memcpy(buf, u->base + u->pos, len);
	u->pos += len;
	return len;
}

/* curl rewinds the body when it resends a request by itself (a reused
 * connection found dead mid-upload, an auth or redirect round); without
 * this it fails with "necessary data rewind wasn't possible". */
static int on_seek(void *ud, curl_off_t off, int origin)
{
	upload *u = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > u->len)
		return CURL_SEEKFUNC_FAIL;
	u->pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* The raw (unencoded) request path of key, or of the bucket if NULL. */
static int raw_path(const s3_store *s, const char *key, stow_buf *out)
{
	if (!key)
		return stow_buf_printf(out, "%s%s", s->path_base,
				       *s->path_base ? "" : "/");
	return stow_buf_printf(out, "%s/%s%s", s->path_base, s->key_prefix,
			       key);
}

typedef enum outcome {
	OUT_DONE,  /* a response worth looking at (any status) */
	OUT_RETRY, /* transient: try again if the budget allows */
	OUT_FAIL,  /* final failure, error recorded */
} outcome;

static outcome curl_failure(s3_store *s, const req *q, resp *r, CURLcode cc,
			    const char *errbuf, int *code)
{
	const char *detail = *errbuf ? errbuf : curl_easy_strerror(cc);

	if (r->sink_rc) {
		*code = r->sink_rc;
		return OUT_FAIL;
	}
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		*code = stow_err_set(STOW_ETIMEOUT, "%s: timed out (%s)",
				     q->what, detail);
		return OUT_RETRY;
	case CURLE_COULDNT_CONNECT:
		*code = stow_err_set(STOW_EIO, "cannot reach %s: %s",
				     s->cfg.endpoint, detail);
		return OUT_RETRY;
	case CURLE_SEND_ERROR:
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		*code =
		    stow_err_set(STOW_EIO, "%s: connection to %s failed: %s",
				 q->what, s->cfg.endpoint, detail);
		return OUT_RETRY;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*code = stow_err_set(STOW_EIO, "cannot reach %s: %s",
				     s->cfg.endpoint, detail);
		return OUT_FAIL;
	case CURLE_SSL_CACERT_BADFILE:
		*code = stow_err_set(STOW_EINVAL, "cannot use caCert %s: %s",
				     s->cfg.ca_cert ? s->cfg.ca_cert
						    : "(system default)",
				     detail);
		return OUT_FAIL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		*code = stow_err_set(
		    STOW_EIO,
		    "TLS connection to %s failed: %s. If the server uses a "
		    "private CA, give caCert=/path/to/ca.pem in the location "
		    "(insecureSkipTLSVerify=true turns verification off: for "
		    "tests only)",
		    s->cfg.endpoint, detail);
		return OUT_FAIL;
	case CURLE_OUT_OF_MEMORY:
		*code = stow_err_set(STOW_ENOMEM, "%s: out of memory", q->what);
		return OUT_FAIL;
	default:
		*code = stow_err_set(STOW_EIO, "%s: %s", q->what, detail);
		return OUT_FAIL;
	}
}

/* One attempt: sign, send, receive. */
static outcome perform_once(s3_store *s, CURL *h, const req *q, resp *r,
			    uint64_t attempt_ms, int *code)
{
	_cleanup_(stow_buf_freep) stow_buf path;
	_cleanup_(stow_buf_freep) stow_buf enc;
	_cleanup_(stow_buf_freep) stow_buf url;
	_cleanup_(stow_buf_freep) stow_buf authz;
	_cleanup_(stow_buf_freep) stow_buf hline;
	char date[STOW_SIGV4_DATE_LEN], errbuf[CURL_ERROR_SIZE] = "";
	stow_sigv4_kv hdr[10];
	size_t nh = 0;
	struct curl_slist *sl = NULL;
	upload up = {q->body, q->body_len, 0};
	stow_sigv4_signer k = {s->cfg.access_key, s->cfg.secret_key,
			       s->cfg.region, "s3"};
	stow_sigv4_request sr = {0};
	CURLcode cc;
	int rc;

	stow_buf_init(&path, 0);
	stow_buf_init(&enc, 0);
	stow_buf_init(&url, 0);
	stow_buf_init(&authz, 0);
	stow_buf_init(&hline, 0);
	if ((rc = raw_path(s, q->key, &path)) < 0 ||
	    (rc = stow_sigv4_canonical_uri(&enc, (char *)path.data, false)) <
		0 ||
	    (rc = stow_buf_printf(&url, "%s%s%s", s->base_url, (char *)enc.data,
				  q->nquery ? "?" : "")) < 0 ||
	    (rc = stow_sigv4_canonical_query(&url, q->query, q->nquery)) < 0 ||
	    (rc = stow_sigv4_amz_date(time(NULL), date)) < 0) {
		*code = rc;
		return OUT_FAIL;
	}
	hdr[nh++] = (stow_sigv4_kv){"host", s->host};
	hdr[nh++] = (stow_sigv4_kv){"x-amz-date", date};
	hdr[nh++] = (stow_sigv4_kv){"x-amz-content-sha256", q->payload_hash};
	if (s->cfg.session_token)
		hdr[nh++] = (stow_sigv4_kv){"x-amz-security-token",
					    s->cfg.session_token};
	if (q->range)
		hdr[nh++] = (stow_sigv4_kv){"range", q->range};
	if (q->if_none_match)
		hdr[nh++] = (stow_sigv4_kv){"if-none-match", "*"};
	if (q->content_md5)
		hdr[nh++] = (stow_sigv4_kv){"content-md5", q->content_md5};
	if (q->content_type)
		hdr[nh++] = (stow_sigv4_kv){"content-type", q->content_type};
	sr.method = q->method;
	sr.path = (char *)path.data;
	sr.query = q->query;
	sr.nquery = q->nquery;
	sr.headers = hdr;
	sr.nheaders = nh;
	sr.payload_hash = q->payload_hash;
	if ((rc = stow_sigv4_sign(&k, &sr, date, &authz, NULL)) < 0) {
		*code = rc;
		return OUT_FAIL;
	}
	for (size_t i = 0; i < nh; i++) {
		struct curl_slist *n;

		stow_buf_reset(&hline);
		if (stow_buf_printf(&hline, "%s: %s", hdr[i].name,
				    hdr[i].value) < 0 ||
		    !(n = curl_slist_append(sl, (char *)hline.data))) {
			curl_slist_free_all(sl);
			*code = stow_err_set(STOW_ENOMEM, "out of memory");
			return OUT_FAIL;
		}
		sl = n;
	}
	/* No "Expect: 100-continue": it costs a round trip (or a one-second
	 * stall on servers that ignore it) per PUT. */
	stow_buf_reset(&hline);
	rc = stow_buf_printf(&hline, "Authorization: %s", (char *)authz.data);
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct curl_slist *n = curl_slist_append(
		    sl, i == 0 ? (char *)hline.data : "Expect:");

		if (!n)
			rc = STOW_ENOMEM;
		else
			sl = n;
	}
	if (hline.data)
		stow_secure_zero(hline.data, hline.len);
	if (rc < 0) {
		curl_slist_free_all(sl);
		*code = stow_err_set(STOW_ENOMEM, "out of memory");
		return OUT_FAIL;
	}

	stow_curl_pool_reset(s->pool, h);
	curl_easy_setopt(h, CURLOPT_URL, (char *)url.data);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)attempt_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(attempt_ms < CONNECT_TIMEOUT_MS
				    ? attempt_ms
				    : CONNECT_TIMEOUT_MS));
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_USERAGENT, "stowage/" STOW_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (s->cfg.insecure_skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (s->cfg.ca_cert)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->cfg.ca_cert);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &up);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &up);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)q->body_len);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				 q->body ? (const char *)q->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)q->body_len);
	} else if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}

	cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(sl);
	if (cc != CURLE_OK)
		return curl_failure(s, q, r, cc, errbuf, code);
	/* curl reports a connection closed before Content-Length bytes as
	 * CURLE_PARTIAL_FILE; this also catches a server that says less. */
	if (status_ok(r) && r->have_length && strcmp(q->method, "HEAD") != 0 &&
	    r->received != r->length) {
		*code = stow_err_set(STOW_EIO,
				     "%s: short body from %s (%llu of %llu "
				     "bytes)",
				     q->what, s->cfg.endpoint,
				     (unsigned long long)r->received,
				     (unsigned long long)r->length);
		return OUT_RETRY;
	}
	return OUT_DONE;
}

static const char *bucket_name(const s3_store *s)
{
	return s->cfg.bucket;
}

static int creds_message(s3_store *s, const char *code, bool secret)
{
	if (s->creds_from_env)
		return stow_err_set(STOW_EIO,
				    "S3 rejected the credentials (%s): check "
				    "%s",
				    code,
				    secret ? "$AWS_SECRET_ACCESS_KEY"
					   : "$AWS_ACCESS_KEY_ID");
	return stow_err_set(
	    STOW_EIO, "S3 rejected the credentials (%s): check %s in %s", code,
	    secret ? "aws_secret_access_key" : "aws_access_key_id",
	    s->cfg.credentials_source ? s->cfg.credentials_source
				      : "the credentials file");
}

/* Map a non-2xx response to a code and a message a user can act on. */
static outcome http_failure(s3_store *s, const req *q, resp *r, int *code)
{
	s3_error e = {0};
	long st = r->status;
	const char *region;

	if (r->err_body.len)
		(void)xml_parse((const char *)r->err_body.data, r->err_body.len,
				error_end, &e);
	stow_err_clear();
	region = e.region[0] ? e.region : r->bucket_region;

	if (!strcmp(e.code, "SlowDown") || !strcmp(e.code, "RequestTimeout") ||
	    !strcmp(e.code, "InternalError") ||
	    !strcmp(e.code, "ServiceUnavailable") ||
	    !strcmp(e.code, "ConditionalRequestConflict") || st == 429 ||
	    (st >= 500 && st != 501 && st != 505 && st != 507)) {
		*code = stow_err_set(STOW_EIO,
				     "%s: server busy or failing "
				     "(HTTP %ld%s%s%s%s)",
				     q->what, st, e.code[0] ? " " : "", e.code,
				     e.message[0] ? ": " : "", e.message);
		return OUT_RETRY;
	}
	if (!strcmp(e.code, "NoSuchBucket")) {
		*code = stow_err_set(STOW_ENOTFOUND,
				     "bucket %s does not exist at %s (stowage "
				     "does not create buckets)",
				     bucket_name(s), s->cfg.endpoint);
		return OUT_FAIL;
	}
	if (st == 404) {
		*code = stow_err_set(STOW_ENOTFOUND, "no object %s in %s",
				     q->key ? q->key : "(bucket)",
				     s->base.location);
		return OUT_FAIL;
	}
	if (st == 412 && q->if_none_match) {
		*code =
		    stow_err_set(STOW_EEXIST, "object %s already exists in %s",
				 q->key, s->base.location);
		return OUT_FAIL;
	}
	if (!strcmp(e.code, "InvalidAccessKeyId") ||
	    !strcmp(e.code, "InvalidToken") ||
	    !strcmp(e.code, "ExpiredToken") ||
	    !strcmp(e.code, "TokenRefreshRequired")) {
		*code = creds_message(s, e.code, false);
		return OUT_FAIL;
	}
	if (!strcmp(e.code, "SignatureDoesNotMatch")) {
		*code = creds_message(s, e.code, true);
		return OUT_FAIL;
	}
	if (!strcmp(e.code, "RequestTimeTooSkewed")) {
		long long skew = 0;

		if (r->server_date > 0)
			skew = (long long)(r->server_date - time(NULL));
		*code = stow_err_set(STOW_EIO,
				     "clock skew: this machine's clock differs "
				     "from the server's by %lld s (S3 allows "
				     "15 min); fix the clock (NTP)",
				     skew < 0 ? -skew : skew);
		return OUT_FAIL;
	}
	if (!strcmp(e.code, "AuthorizationHeaderMalformed") ||
	    !strcmp(e.code, "PermanentRedirect") ||
	    !strcmp(e.code, "IllegalLocationConstraintException") ||
	    st == 301 || st == 307 ||
	    (region[0] && strcmp(region, s->cfg.region) != 0 &&
	     (st == 400 || st == 403))) {
		if (region[0] && strcmp(region, s->cfg.region) != 0)
			*code = stow_err_set(
			    STOW_EIO,
			    "bucket %s is in region %s, not %s: "
			    "add region=%s to the location",
			    bucket_name(s), region, s->cfg.region, region);
		else
			*code = stow_err_set(
			    STOW_EIO,
			    "bucket %s is not served by %s in region %s "
			    "(HTTP %ld%s%s): set region= (and s3Url=) to where "
			    "the bucket is",
			    bucket_name(s), s->cfg.endpoint, s->cfg.region, st,
			    e.code[0] ? " " : "", e.code);
		return OUT_FAIL;
	}
	if (!strcmp(e.code, "AccessDenied") ||
	    !strcmp(e.code, "AllAccessDisabled")) {
		*code = stow_err_set(
		    STOW_EIO,
		    "%s: access denied (%s%s%s): the "
		    "credentials from %s lack permission "
		    "(check the bucket and IAM policies)",
		    q->what, e.code, e.message[0] ? ": " : "", e.message,
		    s->cfg.credentials_source ? s->cfg.credentials_source
					      : "the environment");
		return OUT_FAIL;
	}
	if (st == 507 || !strcmp(e.code, "XMinioStorageFull") ||
	    !strcmp(e.code, "QuotaExceeded")) {
		*code =
		    stow_err_set(STOW_ENOSPC, "%s: storage full (HTTP %ld%s%s)",
				 q->what, st, e.code[0] ? " " : "", e.code);
		return OUT_FAIL;
	}
	if (st == 403 && !e.code[0])
		*code = stow_err_set(STOW_EIO,
				     "%s: refused with HTTP 403 (wrong "
				     "credentials, clock, region or "
				     "permissions)",
				     q->what);
	else
		*code = stow_err_set(STOW_EIO, "%s: HTTP %ld%s%s%s%s", q->what,
				     st, e.code[0] ? " " : "", e.code,
				     e.message[0] ? ": " : "", e.message);
	return OUT_FAIL;
}

/* Run q with retries under the call's deadline. On success r holds the
 * final response (2xx, or 416 when q->accept_416) and 0 is returned; on
 * failure r->status is the last HTTP status seen (0 if none). */
static int run(s3_store *s, const req *q, resp *r)
{
	uint64_t timeout_ms = (uint64_t)s->cfg.timeout_s * 1000;
	uint64_t start = stow_now_ms(), deadline;
	size_t sink_start = q->sink ? q->sink->len : 0;
	unsigned attempts = s->cfg.retries + 1, made = 0;
	bool out_of_time = false;
	int code = 0;

	deadline = start + timeout_ms * attempts;
	for (;;) {
		uint64_t now = stow_now_ms(), left, delay, cap;
		CURL *h;
		outcome o;

		if (now >= deadline) {
			out_of_time = true;
			break;
		}
		left = deadline - now;
		memset(r, 0, sizeof(*r));
		stow_buf_init(&r->err_body, ERR_BODY_MAX + 1);
		r->retry_after_s = -1;
		r->q = q;
		if (q->sink)
			q->sink->len = sink_start;
		h = stow_curl_pool_take(s->pool);
		if (!h) {
			stow_buf_free(&r->err_body);
			return stow_err_set(STOW_ENOMEM,
					    "curl_easy_init failed");
		}
		o = perform_once(s, h, q, r,
				 left < timeout_ms ? left : timeout_ms, &code);
		stow_curl_pool_give(s->pool, h);
		made++;
		if (o == OUT_DONE) {
			if (status_ok(r) ||
			    (q->accept_416 && r->status == 416)) {
				stow_buf_free(&r->err_body);
				return 0;
			}
			o = http_failure(s, q, r, &code);
		}
		stow_buf_free(&r->err_body);
		if (q->sink)
			q->sink->len = sink_start;
		if (o == OUT_FAIL)
			return code;
		if (made == attempts)
			break;
		/* Full jitter: uniform in [0, min(cap, base * 2^(made-1))],
		 * raised to a short Retry-After if the server sent one. */
		cap = made <= 16 ? (uint64_t)BACKOFF_BASE_MS << (made - 1)
				 : BACKOFF_CAP_MS;
		if (cap > BACKOFF_CAP_MS)
			cap = BACKOFF_CAP_MS;
		delay = stow_jitter(cap);
		if (r->retry_after_s >= 0 &&
		    (uint64_t)r->retry_after_s * 1000 <= BACKOFF_CAP_MS &&
		    delay < (uint64_t)r->retry_after_s * 1000)
			delay = (uint64_t)r->retry_after_s * 1000;
		if (stow_now_ms() + delay >= deadline) {
			out_of_time = true;
			break;
		}
		stow_sleep_ms(delay);
	}
	if (code == 0)
		code = stow_err_set(STOW_ETIMEOUT, "%s: no time left", q->what);
	if (out_of_time || code == STOW_ETIMEOUT)
		return stow_err_wrap(STOW_ETIMEOUT,
				     "gave up after %u attempt%s in %u s "
				     "(deadline: timeout %u s x %u attempts)",
				     made, made == 1 ? "" : "s",
				     (unsigned)((stow_now_ms() - start) / 1000),
				     s->cfg.timeout_s, attempts);
	return stow_err_wrap(code, "gave up after %u attempts", made);
}

static void req_init(req *q, const s3_store *s, const char *method,
		     const char *key)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->key = key;
	memcpy(q->payload_hash, STOW_SIGV4_EMPTY_SHA256,
	       sizeof(STOW_SIGV4_EMPTY_SHA256));
	snprintf(q->what, sizeof(q->what), "S3 %s s3://%s/%s%s", method,
		 s->cfg.bucket, s->key_prefix, key ? key : "");
}

/* --- the operations ---------------------------------------------------------
 */

static s3_store *to_s3(stow_store *s)
{
	return (s3_store *)s;
}

static int bad_key(const char *key)
{
	return stow_err_set(STOW_EINVAL, "invalid object key \"%.200s\"",
			    key ? key : "(null)");
}

/* A call that succeeds after failed attempts (or after an expected
 * ENOTFOUND, as in the HEAD before an exclusive PUT) leaves the thread's
 * error detail as it found it, as the fs backend does: callers clean up
 * after an error with store calls (releasing a lease) and then report the
 * error they had, which must not have been replaced by a retried one. */
typedef struct saved_err {
	char msg[1024];
	int err;
} saved_err;

static void err_save(saved_err *e)
{
	snprintf(e->msg, sizeof(e->msg), "%s", stow_err_msg());
	e->err = stow_err_errno();
}

static int err_keep(int rc, const saved_err *e)
{
	if (rc == 0) {
		errno = e->err;
		stow_err_set(0, "%s", e->msg);
	}
	return rc;
}

static int op_stat(stow_store *st, const char *key, uint64_t *size)
{
	s3_store *s = to_s3(st);
	req q;
	resp r;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	req_init(&q, s, "HEAD", key);
	STOW_TRY(run(s, &q, &r));
	if (!r.have_length)
		return stow_err_set(
		    STOW_EIO, "%s: the reply has no Content-Length", q.what);
	if (size)
		*size = r.length;
	return 0;
}

static int op_get(stow_store *st, const char *key, uint64_t off, uint64_t len,
		  stow_buf *out)
{
	s3_store *s = to_s3(st);
	char range[64];
	size_t start;
	req q;
	resp r;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	if (!out)
		return stow_err_set(STOW_EINVAL, "get %s: no buffer", key);
	if (len == 0)
		return op_stat(st, key, NULL); /* existence is the answer */
	req_init(&q, s, "GET", key);
	q.sink = out;
	q.win_off = off;
	q.win_len = len;
	if (off > 0 || len != STOW_RANGE_END) {
		uint64_t last;

		if (len == STOW_RANGE_END ||
		    __builtin_add_overflow(off, len - 1, &last))
			snprintf(range, sizeof(range), "bytes=%llu-",
				 (unsigned long long)off);
		else
			snprintf(range, sizeof(range), "bytes=%llu-%llu",
				 (unsigned long long)off,
				 (unsigned long long)last);
		q.range = range;
		/* S3 answers a range starting past the end with 416; the
		 * contract says that is an empty read. */
		q.accept_416 = true;
	}
	start = out->len;
	STOW_TRY(run(s, &q, &r));
	if (r.status == 416)
		return 0;
	if (r.status == 206 && r.have_crange && r.crange_start != off) {
		out->len = start;
		return stow_err_set(STOW_EIO,
				    "%s: asked for bytes from %llu, the server "
				    "sent from %llu",
				    q.what, (unsigned long long)off,
				    (unsigned long long)r.crange_start);
	}
	return 0;
}

static int op_put(stow_store *st, const char *key, const void *data, size_t len,
		  unsigned flags)
{
	s3_store *s = to_s3(st);
	req q;
	resp r;
	int rc;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	if (!data && len)
		return stow_err_set(STOW_EINVAL, "put %s: no data", key);
	if (flags & ~(STOW_PUT_EXCL | STOW_PUT_DEFER_SYNC))
		return stow_err_set(STOW_EINVAL, "put %s: unknown flags", key);
	if (flags & STOW_PUT_EXCL) {
		/* Servers without conditional writes (s3rver, older MinIO
		 * and Ceph) ignore If-None-Match; the HEAD catches every
		 * case but a concurrent create (docs/s3.md). */
		rc = op_stat(st, key, NULL);
		if (rc == 0)
			return stow_err_set(STOW_EEXIST,
					    "object %s already exists in %s",
					    key, s->base.location);
		if (rc != STOW_ENOTFOUND)
			return rc;
	}
	req_init(&q, s, "PUT", key);
	q.body = data;
	q.body_len = len;
	q.if_none_match = (flags & STOW_PUT_EXCL) != 0;
	STOW_TRY(body_hash(s, data, len, q.payload_hash));
	rc = run(s, &q, &r);
	if (rc < 0 && q.if_none_match && r.status == 501) {
		/* "NotImplemented": conditional writes unsupported; the
		 * HEAD above is all the exclusivity we can have. */
		q.if_none_match = false;
		rc = run(s, &q, &r);
	}
	return rc;
}

static int op_del(stow_store *st, const char *key)
{
	s3_store *s = to_s3(st);
	req q;
	resp r;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	req_init(&q, s, "DELETE", key);
	return run(s, &q, &r);
}

/* --- list ------------------------------------------------------------------
 */

typedef struct list_page {
	s3_store *s;
	const char *full_prefix; /* key_prefix + the caller's prefix */
	stow_store_list_cb cb;
	stow_store_list_shallow_cb dcb; /* delimiter listing: instead of cb */
	void *ctx;
	char key[KEY_MAX + 1];
	bool have_key, key_bad;
	uint64_t size;
	bool have_size;
	bool truncated;
	char *next_token;
	int cb_rc;
} list_page;

static int list_end(void *ctx, const char *name, const char *parent,
		    const char *text, size_t len)
{
	list_page *lp = ctx;

	if (lp->dcb && !strcmp(parent, "CommonPrefixes") &&
	    !strcmp(name, "Prefix")) {
		size_t plen = strlen(lp->s->key_prefix);
		char dir[KEY_MAX + 2];
		int rc;

		/* "<prefix>name/": report it if it is ours and well formed. */
		if (len < plen + 2 || len > KEY_MAX || text[len - 1] != '/' ||
		    memchr(text, '\0', len) ||
		    strncmp(text, lp->full_prefix, strlen(lp->full_prefix)))
			return 0;
		memcpy(dir, text + plen, len - plen - 1);
		dir[len - plen - 1] = '\0';
		if (!stow_store_key_valid(dir))
			return 0;
		dir[len - plen - 1] = '/';
		dir[len - plen] = '\0';
		rc = lp->dcb(lp->ctx, dir, 0, 1);
		if (rc < 0)
			lp->cb_rc = rc;
		return rc < 0 ? rc : 0;
	}
	if (!strcmp(parent, "Contents")) {
		if (!strcmp(name, "Key")) {
			lp->have_key = true;
			lp->key_bad = len >= sizeof(lp->key) ||
				      memchr(text, '\0', len) != NULL;
			if (!lp->key_bad)
				memcpy(lp->key, text, len + 1);
		} else if (!strcmp(name, "Size")) {
			char *end;

			errno = 0;
			lp->size = strtoull(text, &end, 10);
			if (len == 0 || *end || errno || text[0] < '0' ||
			    text[0] > '9')
				return xml_bad("bad <Size>");
			lp->have_size = true;
		}
		return 0;
	}
	if (!strcmp(name, "Contents")) {
		size_t plen = strlen(lp->s->key_prefix);
		const char *rel = lp->key + plen;
		int rc;

		if (!lp->have_key || !lp->have_size)
			return xml_bad("<Contents> without <Key> or <Size>");
		lp->have_key = lp->have_size = false;
		/* Skip, as the fs backend skips strays, anything that is
		 * not under our prefix or not a valid key. */
		if (lp->key_bad ||
		    strncmp(lp->key, lp->full_prefix,
			    strlen(lp->full_prefix)) ||
		    !stow_store_key_valid(rel))
			return 0;
		rc = lp->dcb ? lp->dcb(lp->ctx, rel, lp->size, 0)
			     : lp->cb(lp->ctx, rel, lp->size);
		if (rc < 0) {
			lp->cb_rc = rc;
			return rc;
		}
		return 0;
	}
	if (!strcmp(parent, "ListBucketResult")) {
		if (!strcmp(name, "IsTruncated"))
			lp->truncated = len == 4 && !memcmp(text, "true", 4);
		else if (!strcmp(name, "NextContinuationToken")) {
			if (len == 0 || len > 4096)
				return xml_bad("bad continuation token");
			free(lp->next_token);
			lp->next_token = strndup(text, len);
			if (!lp->next_token)
				return stow_err_set(STOW_ENOMEM,
						    "out of memory");
		}
	}
	return 0;
}

static int list_impl(stow_store *st, const char *prefix, stow_store_list_cb cb,
		     stow_store_list_shallow_cb dcb, void *ctx)
{
	s3_store *s = to_s3(st);
	_cleanup_free_ char *full = NULL;
	char *token = NULL;
	stow_buf page;
	int rc = 0;

	if (!prefix)
		prefix = "";
	if (!stow_store_prefix_valid(prefix))
		return stow_err_set(STOW_EINVAL,
				    "invalid list prefix \"%.200s\"", prefix);
	if (!cb && !dcb)
		return stow_err_set(STOW_EINVAL, "list without a callback");
	if (asprintf(&full, "%s%s", s->key_prefix, prefix) < 0) {
		full = NULL;
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	stow_buf_init(&page, LIST_BODY_MAX);
	for (;;) {
		stow_sigv4_kv qv[4] = {{"list-type", "2"},
				       {"prefix", full},
				       {"delimiter", "/"},
				       {"continuation-token", token}};
		list_page lp = {.s = s,
				.full_prefix = full,
				.cb = cb,
				.dcb = dcb,
				.ctx = ctx};
		size_t nq = 2;
		req q;
		resp r;

		req_init(&q, s, "GET", NULL);
		snprintf(q.what, sizeof(q.what), "S3 list s3://%s/%s",
			 s->cfg.bucket, full);
		if (dcb)
			qv[nq++] = qv[2];
		if (token)
			qv[nq++] = qv[3];
		q.query = qv;
		q.nquery = nq;
		q.sink = &page;
		stow_buf_reset(&page);
		rc = run(s, &q, &r);
		if (rc < 0)
			break;
		/* Callbacks run after the request is done and its handle
		 * back in the pool, so a callback may use the store. */
		rc =
		    xml_parse((const char *)page.data, page.len, list_end, &lp);
		if (lp.cb_rc) {
			rc = lp.cb_rc;
		} else if (rc < 0) {
			rc = stow_err_wrap(rc, "%s", q.what);
		} else if (lp.truncated && !lp.next_token) {
			rc = stow_err_set(STOW_ECORRUPT,
					  "%s: truncated listing without a "
					  "continuation token",
					  q.what);
		} else if (lp.truncated && token &&
			   !strcmp(token, lp.next_token)) {
			rc = stow_err_set(STOW_ECORRUPT,
					  "%s: the server repeats its "
					  "continuation token",
					  q.what);
		}
		free(token);
		token = lp.truncated ? lp.next_token : NULL;
		if (!lp.truncated)
			free(lp.next_token);
		if (rc < 0 || !token)
			break;
	}
	free(token);
	stow_buf_free(&page);
	return rc;
}

static int op_list(stow_store *st, const char *prefix, stow_store_list_cb cb,
		   void *ctx)
{
	return list_impl(st, prefix, cb, NULL, ctx);
}

/* --- multi-object delete ------------------------------------------------ */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_16(const uint8_t in[16], char out[25])
{
	size_t j = 0;

	for (size_t i = 0; i < 16; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < 16)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < 16)
			v |= in[i + 2];
		out[j++] = b64[v >> 18 & 63];
		out[j++] = b64[v >> 12 & 63];
		out[j++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
		out[j++] = i + 2 < 16 ? b64[v & 63] : '=';
	}
	out[j] = '\0';
}

static int delete_batch(s3_store *s, const char *const *keys, size_t n,
			long *status)
{
	_cleanup_(stow_buf_freep) stow_buf body;
	_cleanup_(stow_buf_freep) stow_buf reply;
	stow_sigv4_kv qv[1] = {{"delete", ""}};
	uint8_t md5[16];
	char md5_b64[25];
	s3_error e = {0};
	req q;
	resp r;
	int rc;

	stow_buf_init(&body, 0);
	stow_buf_init(&reply, DELETE_BODY_MAX);
	/* Keys are validated: [A-Za-z0-9._-/] needs no XML escaping. */
	STOW_TRY(stow_buf_append_str(&body, "<?xml version=\"1.0\" "
					    "encoding=\"UTF-8\"?><Delete>"
					    "<Quiet>true</Quiet>"));
	for (size_t i = 0; i < n; i++)
		STOW_TRY(stow_buf_printf(&body,
					 "<Object><Key>%s%s</Key></Object>",
					 s->key_prefix, keys[i]));
	STOW_TRY(stow_buf_append_str(&body, "</Delete>"));
	STOW_TRY(stow_md5(body.data, body.len, md5));
	base64_16(md5, md5_b64);

	req_init(&q, s, "POST", NULL);
	snprintf(q.what, sizeof(q.what), "S3 multi-delete in s3://%s/%s",
		 s->cfg.bucket, s->key_prefix);
	q.query = qv;
	q.nquery = 1;
	q.body = body.data;
	q.body_len = body.len;
	q.content_md5 = md5_b64;
	q.content_type = "application/xml";
	q.sink = &reply;
	STOW_TRY(stow_sigv4_sha256_hex(body.data, body.len, q.payload_hash));
	rc = run(s, &q, &r);
	*status = r.status;
	if (rc < 0)
		return rc;
	rc = xml_parse((const char *)reply.data, reply.len, error_end, &e);
	if (rc < 0)
		return stow_err_wrap(rc, "%s", q.what);
	if (e.code[0] && strcmp(e.code, "NoSuchKey") != 0)
		return stow_err_set(
		    STOW_EIO, "%s: S3 refused to delete %s (%s%s%s)", q.what,
		    e.key[0] ? e.key : "(unknown)", e.code,
		    e.message[0] ? ": " : "", e.message);
	return 0;
}

static int delete_many(stow_store *st, const char *const *keys, size_t n)
{
	s3_store *s;

	if (!st || st->ops != &s3_ops)
		return stow_err_set(STOW_EINVAL,
				    "stow_store_s3_delete_many: not an S3 "
				    "store");
	if (n && !keys)
		return stow_err_set(STOW_EINVAL, "no keys");
	s = to_s3(st);
	for (size_t i = 0; i < n; i++)
		if (!stow_store_key_valid(keys[i]))
			return bad_key(keys[i]);
	for (size_t i = 0; i < n; i += DELETE_BATCH) {
		size_t m = n - i < DELETE_BATCH ? n - i : DELETE_BATCH;
		long status = 0;
		int rc = delete_batch(s, keys + i, m, &status);

		if (rc < 0 && status == 501) {
			/* No multi-delete on this server: one by one. */
			for (size_t j = 0; j < m; j++)
				STOW_TRY(op_del(st, keys[i + j]));
			continue;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int s3_get(stow_store *st, const char *key, uint64_t off, uint64_t len,
		  stow_buf *out)
{
	saved_err e;

	err_save(&e);
	return err_keep(op_get(st, key, off, len, out), &e);
}

static int s3_put(stow_store *st, const char *key, const void *data, size_t len,
		  unsigned flags)
{
	saved_err e;

	err_save(&e);
	return err_keep(op_put(st, key, data, len, flags), &e);
}

static int s3_stat(stow_store *st, const char *key, uint64_t *size)
{
	saved_err e;

	err_save(&e);
	return err_keep(op_stat(st, key, size), &e);
}

static int s3_list(stow_store *st, const char *prefix, stow_store_list_cb cb,
		   void *ctx)
{
	saved_err e;

	err_save(&e);
	return err_keep(op_list(st, prefix, cb, ctx), &e);
}

static int s3_list_shallow(stow_store *st, const char *prefix,
			   stow_store_list_shallow_cb cb, void *ctx)
{
	saved_err e;

	err_save(&e);
	return err_keep(list_impl(st, prefix, NULL, cb, ctx), &e);
}

static int s3_del(stow_store *st, const char *key)
{
	saved_err e;

	err_save(&e);
	return err_keep(op_del(st, key), &e);
}

int stow_store_s3_delete_many(stow_store *st, const char *const *keys, size_t n)
{
	saved_err e;

	err_save(&e);
	return err_keep(delete_many(st, keys, n), &e);
}

/* --- streamed puts: multipart upload ------------------------------------
 *
 * Bytes collect in a part buffer; a full part starts the multipart upload
 * (once) and is uploaded; commit uploads the last part and completes the
 * upload. An object that never filled one part is a single plain PUT at
 * commit. Until CompleteMultipartUpload nothing is visible under the key,
 * so the put stays atomic; abort (and any failure) aborts the upload so
 * no parts linger (a crash leaves them until the bucket's lifecycle rule
 * for incomplete uploads removes them: docs/s3.md). */

#define PART_SIZE ((size_t)8 << 20) /* S3: >= 5 MiB except the last */
#define PARTS_MAX 10000
#define MP_REPLY_MAX ((size_t)1 << 20)

typedef struct s3_put_writer {
	stow_put_writer base;
	s3_store *s;
	char *key;
	unsigned flags;
	stow_buf part;
	stow_buf parts_xml; /* <Part>… entries for the completion */
	char upload_id[512];
	unsigned nparts;
	uint64_t total;
	int failed;
} s3_put_writer;

typedef struct mp_reply {
	char upload_id[512];
	s3_error err;
} mp_reply;

static int mp_reply_end(void *ctx, const char *name, const char *parent,
			const char *text, size_t len)
{
	mp_reply *m = ctx;

	if (strcmp(name, "UploadId") == 0) {
		if (len == 0 || len >= sizeof(m->upload_id))
			return xml_bad("upload id missing or too long");
		memcpy(m->upload_id, text, len);
		m->upload_id[len] = '\0';
		return 0;
	}
	return error_end(&m->err, name, parent, text, len);
}

static int mp_create(s3_put_writer *w)
{
	_cleanup_(stow_buf_freep) stow_buf reply;
	stow_sigv4_kv qv[1] = {{"uploads", ""}};
	mp_reply m = {0};
	req q;
	resp r;

	stow_buf_init(&reply, MP_REPLY_MAX);
	req_init(&q, w->s, "POST", w->key);
	q.query = qv;
	q.nquery = 1;
	q.sink = &reply;
	STOW_TRY(run(w->s, &q, &r));
	STOW_TRY(
	    xml_parse((const char *)reply.data, reply.len, mp_reply_end, &m));
	if (!m.upload_id[0])
		return stow_err_set(STOW_EIO,
				    "%s?uploads: the reply names no UploadId",
				    q.what);
	memcpy(w->upload_id, m.upload_id, sizeof(w->upload_id));
	return 0;
}

static int mp_upload_part(s3_put_writer *w)
{
	char num[16];
	stow_sigv4_kv qv[2] = {{"partNumber", num}, {"uploadId", w->upload_id}};
	req q;
	resp r;

	if (w->nparts == PARTS_MAX)
		return stow_err_set(STOW_EINVAL,
				    "put %s: more than %d parts of %zu bytes",
				    w->key, PARTS_MAX, PART_SIZE);
	snprintf(num, sizeof(num), "%u", w->nparts + 1);
	req_init(&q, w->s, "PUT", w->key);
	q.query = qv;
	q.nquery = 2;
	q.body = w->part.data;
	q.body_len = w->part.len;
	STOW_TRY(body_hash(w->s, w->part.data, w->part.len, q.payload_hash));
	STOW_TRY(run(w->s, &q, &r));
	/* The ETag goes back into XML: S3's are quoted hex; refuse anything
	 * that would need escaping rather than escape it. */
	if (!r.etag[0] || strpbrk(r.etag, "<>&"))
		return stow_err_set(STOW_EIO, "%s part %s: no usable ETag",
				    q.what, num);
	STOW_TRY(stow_buf_printf(&w->parts_xml,
				 "<Part><PartNumber>%s</PartNumber>"
				 "<ETag>%s</ETag></Part>",
				 num, r.etag));
	w->nparts++;
	stow_buf_reset(&w->part);
	return 0;
}

static int mp_complete(s3_put_writer *w)
{
	_cleanup_(stow_buf_freep) stow_buf body;
	_cleanup_(stow_buf_freep) stow_buf reply;
	stow_sigv4_kv qv[1] = {{"uploadId", w->upload_id}};
	mp_reply m = {0};
	uint64_t size = 0;
	req q;
	resp r;
	int rc;

	stow_buf_init(&body, 0);
	stow_buf_init(&reply, MP_REPLY_MAX);
	STOW_TRY(stow_buf_append_str(&body, "<CompleteMultipartUpload>"));
	STOW_TRY(stow_buf_append(&body, w->parts_xml.data, w->parts_xml.len));
	STOW_TRY(stow_buf_append_str(&body, "</CompleteMultipartUpload>"));
	req_init(&q, w->s, "POST", w->key);
	q.query = qv;
	q.nquery = 1;
	q.body = body.data;
	q.body_len = body.len;
	q.content_type = "application/xml";
	q.sink = &reply;
	STOW_TRY(stow_sigv4_sha256_hex(body.data, body.len, q.payload_hash));
	rc = run(w->s, &q, &r);
	if (rc == 0) {
		/* A 200 may still carry an error document. */
		rc = xml_parse((const char *)reply.data, reply.len,
			       mp_reply_end, &m);
		if (rc == 0 && m.err.code[0])
			rc = stow_err_set(
			    STOW_EIO, "%s: %s%s%s", q.what, m.err.code,
			    m.err.message[0] ? ": " : "", m.err.message);
	}
	/* A retried completion whose first attempt went through finds the
	 * upload gone: the object is there with our size, or it is not. */
	if (rc < 0 && r.status == 404 &&
	    op_stat(&w->s->base, w->key, &size) == 0 && size == w->total)
		rc = 0;
	if (rc == 0)
		w->upload_id[0] = '\0'; /* nothing left to abort */
	return rc;
}

static void mp_abort(s3_put_writer *w)
{
	stow_sigv4_kv qv[1] = {{"uploadId", w->upload_id}};
	saved_err e;
	req q;
	resp r;

	if (!w->upload_id[0])
		return;
	err_save(&e);
	req_init(&q, w->s, "DELETE", w->key);
	q.query = qv;
	q.nquery = 1;
	(void)run(w->s, &q, &r); /* best effort; the error is the caller's */
	err_keep(0, &e);
	w->upload_id[0] = '\0';
}

static void put_writer_free(s3_put_writer *w)
{
	mp_abort(w);
	stow_buf_free(&w->part);
	stow_buf_free(&w->parts_xml);
	free(w->key);
	free(w);
}

static int s3_put_begin(stow_store *st, const char *key, unsigned flags,
			stow_put_writer **out)
{
	s3_put_writer *w;

	if (!stow_store_key_valid(key))
		return bad_key(key);
	if (flags & ~(STOW_PUT_EXCL | STOW_PUT_DEFER_SYNC))
		return stow_err_set(STOW_EINVAL, "put %s: unknown flags", key);
	w = calloc(1, sizeof(*w));
	if (!w || !(w->key = strdup(key))) {
		free(w);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	w->base.ops = &s3_ops;
	w->s = to_s3(st);
	w->flags = flags;
	stow_buf_init(&w->part, PART_SIZE);
	stow_buf_init(&w->parts_xml, 0);
	*out = &w->base;
	return 0;
}

static int s3_put_append(stow_put_writer *pw, const void *data, size_t len)
{
	s3_put_writer *w = (s3_put_writer *)pw;
	const uint8_t *p = data;
	saved_err e;
	int rc = 0;

	if (w->failed)
		return stow_err_set(STOW_EIO, "put %s: an earlier part failed",
				    w->key);
	err_save(&e);
	while (len > 0 && rc == 0) {
		size_t n = PART_SIZE - w->part.len;

		if (n > len)
			n = len;
		rc = stow_buf_append(&w->part, p, n);
		p += n;
		len -= n;
		w->total += n;
		if (rc == 0 && w->part.len == PART_SIZE) {
			if (!w->upload_id[0])
				rc = mp_create(w);
			if (rc == 0)
				rc = mp_upload_part(w);
		}
	}
	if (rc < 0)
		w->failed = 1;
	return err_keep(rc, &e);
}

static void s3_put_abort(stow_put_writer *pw)
{
	put_writer_free((s3_put_writer *)pw);
}

static int s3_put_commit(stow_put_writer *pw)
{
	s3_put_writer *w = (s3_put_writer *)pw;
	saved_err e;
	int rc = 0;

	err_save(&e);
	if (w->failed) {
		rc = stow_err_set(STOW_EIO, "put %s: an earlier part failed",
				  w->key);
	} else if (!w->upload_id[0]) {
		/* Never reached one part: one plain PUT. */
		rc = op_put(&w->s->base, w->key, w->part.data, w->part.len,
			    w->flags);
	} else {
		if (w->flags & STOW_PUT_EXCL) {
			/* As op_put: exclusivity is a HEAD here. */
			rc = op_stat(&w->s->base, w->key, NULL);
			rc = rc == 0		    ? stow_err_set(STOW_EEXIST,
								   "object %s already exists "
										  "in %s",
								   w->key, w->s->base.location)
			     : rc == STOW_ENOTFOUND ? 0
						    : rc;
		}
		if (rc == 0 && w->part.len > 0)
			rc = mp_upload_part(w);
		if (rc == 0)
			rc = mp_complete(w);
	}
	rc = err_keep(rc, &e);
	put_writer_free(w);
	return rc;
}

/* --- open / close -----------------------------------------------------------
 */

static void s3_close(stow_store *st)
{
	s3_store *s = to_s3(st);

	if (!s)
		return;
	stow_curl_pool_free(s->pool);
	stow_s3_config_free(&s->cfg);
	free(s->base_url);
	free(s->host);
	free(s->path_base);
	free(s->key_prefix);
	free(s->base.location);
	free(s);
}

static const stow_store_ops s3_ops = {
    .version = STOW_STORE_OPS_VERSION,
    .name = "s3",
    .get = s3_get,
    .put = s3_put,
    .stat = s3_stat,
    .list = s3_list,
    .del = s3_del,
    .close = s3_close,
    .put_begin = s3_put_begin,
    .put_append = s3_put_append,
    .put_commit = s3_put_commit,
    .put_abort = s3_put_abort,
    .list_shallow = s3_list_shallow,
};

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static int copy_config(stow_s3_config *dst, const stow_s3_config *src)
{
	bool fail = false;

	*dst = *src;
	dst->bucket = dup_or_null(src->bucket, &fail);
	dst->prefix = dup_or_null(src->prefix ? src->prefix : "", &fail);
	dst->endpoint = dup_or_null(src->endpoint, &fail);
	dst->region = dup_or_null(src->region, &fail);
	dst->ca_cert = dup_or_null(src->ca_cert, &fail);
	dst->profile = dup_or_null(src->profile, &fail);
	dst->credentials_file = dup_or_null(src->credentials_file, &fail);
	dst->access_key = dup_or_null(src->access_key, &fail);
	dst->secret_key = dup_or_null(src->secret_key, &fail);
	dst->session_token = dup_or_null(src->session_token, &fail);
	dst->credentials_source = dup_or_null(src->credentials_source, &fail);
	if (fail) {
		stow_s3_config_free(dst);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

/* Split the endpoint into the connection URL, the Host header and the
 * request path base, choosing the addressing style. */
static int addressing(s3_store *s)
{
	const char *ep = s->cfg.endpoint;
	bool https = strncmp(ep, "https://", 8) == 0;
	const char *auth = ep + (https ? 8 : 7);
	size_t alen = strcspn(auth, "/");
	const char *epath = auth + alen;
	size_t hostlen = alen;
	bool vhost;

	/* Host without the default port, as the Host header. */
	if (https && alen > 4 && !memcmp(auth + alen - 4, ":443", 4))
		hostlen -= 4;
	else if (!https && alen > 3 && !memcmp(auth + alen - 3, ":80", 3))
		hostlen -= 3;
	s->tls = https;
	vhost = stow_s3_virtual_host(&s->cfg, auth, https);
	if (vhost) {
		if (asprintf(&s->base_url, "%s://%s.%.*s",
			     https ? "https" : "http", s->cfg.bucket, (int)alen,
			     auth) < 0 ||
		    asprintf(&s->host, "%s.%.*s", s->cfg.bucket, (int)hostlen,
			     auth) < 0 ||
		    asprintf(&s->path_base, "%s", epath) < 0)
			goto oom;
	} else {
		if (asprintf(&s->base_url, "%s://%.*s",
			     https ? "https" : "http", (int)alen, auth) < 0 ||
		    asprintf(&s->host, "%.*s", (int)hostlen, auth) < 0 ||
		    asprintf(&s->path_base, "%s/%s", epath, s->cfg.bucket) < 0)
			goto oom;
	}
	if (asprintf(&s->key_prefix, "%s%s", s->cfg.prefix,
		     *s->cfg.prefix ? "/" : "") < 0)
		goto oom;
	return 0;
oom:
	return stow_err_set(STOW_ENOMEM, "out of memory");
}

int stow_store_s3_open(stow_store **out, const stow_s3_config *cfg, int create)
{
	s3_store *s;
	const char *default_ep;
	char ep_default[128];
	stow_sigv4_kv qv[3];
	req q;
	resp r;
	int rc;

	if (!out)
		return stow_err_set(STOW_EINVAL, "no output pointer");
	*out = NULL;
	if (!cfg || !cfg->bucket || !cfg->endpoint || !cfg->region)
		return stow_err_set(STOW_EINVAL, "incomplete S3 configuration");
	if (!cfg->access_key || !cfg->secret_key)
		return stow_err_set(STOW_EINVAL,
				    "no S3 credentials (resolve them first)");
	if (cfg->prefix && *cfg->prefix && !stow_store_key_valid(cfg->prefix))
		return stow_err_set(STOW_EINVAL, "invalid S3 prefix \"%.200s\"",
				    cfg->prefix);
	if (strncmp(cfg->endpoint, "http://", 7) != 0 &&
	    strncmp(cfg->endpoint, "https://", 8) != 0)
		return stow_err_set(STOW_EINVAL,
				    "S3 endpoint must be http:// or https://");
	s = calloc(1, sizeof(*s));
	if (!s)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	s->base.ops = &s3_ops;
	rc = stow_curl_pool_new(&s->pool, POOL_MAX);
	if (rc < 0) {
		free(s);
		return rc;
	}
	rc = copy_config(&s->cfg, cfg);
	if (rc < 0) {
		memset(&s->cfg, 0, sizeof(s->cfg));
		s3_close(&s->base);
		return rc;
	}
	if (s->cfg.timeout_s == 0)
		s->cfg.timeout_s = 60;
	s->creds_from_env =
	    s->cfg.credentials_source &&
	    !strncmp(s->cfg.credentials_source, "the environment", 15);
	snprintf(ep_default, sizeof(ep_default), "https://s3.%s.amazonaws.com",
		 s->cfg.region);
	default_ep = ep_default;
	if (asprintf(&s->base.location, "s3://%s%s%s%s%s", s->cfg.bucket,
		     *s->cfg.prefix ? "/" : "", s->cfg.prefix,
		     strcmp(s->cfg.endpoint, default_ep) ? " at " : "",
		     strcmp(s->cfg.endpoint, default_ep) ? s->cfg.endpoint
							 : "") < 0) {
		s->base.location = NULL;
		s3_close(&s->base);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	rc = addressing(s);
	if (rc < 0) {
		s3_close(&s->base);
		return rc;
	}

	/* One cheap request proves the bucket, the credentials, the region
	 * and the clock before the vault starts (a one-key listing of our
	 * prefix: also allowed by policies that deny ListAllMyBuckets). */
	qv[0] = (stow_sigv4_kv){"list-type", "2"};
	qv[1] = (stow_sigv4_kv){"max-keys", "1"};
	qv[2] = (stow_sigv4_kv){"prefix", s->key_prefix};
	req_init(&q, s, "GET", NULL);
	snprintf(q.what, sizeof(q.what), "S3 list s3://%s/%s", s->cfg.bucket,
		 s->key_prefix);
	q.query = qv;
	q.nquery = 3;
	rc = run(s, &q, &r);
	if (rc == STOW_ENOTFOUND && create)
		rc = stow_err_wrap(rc, "cannot create a repository");
	if (rc < 0) {
		s3_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}
