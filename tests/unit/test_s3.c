/* The S3 backend against a tiny in-process HTTP server: the storage.h
 * contract, listing with continuation, multi-delete, retries and their
 * limits, deadlines, short bodies, servers that ignore Range or
 * If-None-Match, hostile XML, the error messages a user acts on, keep-alive
 * and concurrent use.
 *
 * The fake keeps objects in memory and answers like S3 (path-style). It
 * checks what every request carries (x-amz-content-sha256 against the
 * body, Content-MD5 on multi-delete, an Authorization header) but does not
 * verify signatures: test_sigv4.c pins the signer to published vectors.
 * A queue of scripted responses replaces the normal answer to inject
 * failures. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "storage/s3.h"
#include "storage/sigv4.h"
#include "util/buf.h"
#include "util/err.h"

#define SECRET "fake-secret-never-in-messages"
#define TOKEN "fake-session-token-never-in-messages"
#define MAX_OBJS 4096
#define MAX_SCRIPT 16

enum mode { NORMAL, CLOSE, SHORT, STALL };

typedef struct scripted {
	int status;
	const char *headers; /* extra header lines, each ending "\r\n" */
	const char *body;
	enum mode mode;
	int stall_ms;
	const char *method; /* only a request with this method takes it */
} scripted;

typedef struct fobj {
	char *key; /* after "/bucket/" */
	uint8_t *data;
	size_t len;
} fobj;

typedef struct fake {
	int lfd, port;
	pthread_t thr;
	atomic_bool stop;
	atomic_int live_conns;
	pthread_mutex_t mu;
	fobj objs[MAX_OBJS];
	size_t nobj;
	scripted script[MAX_SCRIPT];
	size_t nscript, script_pos;
	int page_size;
	bool ignore_if_none_match, ignore_range, head_says_missing;
	const char *delete_error_key;
	int requests, connections, posts, sha_mismatches, md5_mismatches,
	    unsigned_requests;
	char last_method[16];
	char last_target[4200];
	char last_range[64];
	bool last_if_none_match;
	/* One multipart upload at a time: its parts, by number. */
	bool upload_open;
	uint8_t *part[8];
	size_t part_len[8];
	int mp_creates, mp_parts, mp_completes, mp_aborts;
} fake;

static fake *F;

/* --- the fake server ------------------------------------------------------ */

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return 0;
}

static void url_decode(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			*d++ = (char)(hexv(s[1]) << 4 | hexv(s[2]));
			s += 2;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Value of query parameter name in q ("a=1&b=2"), decoded, or NULL. */
static bool query_get(const char *q, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);

		if (len >= nl && !strncmp(q, name, nl) &&
		    (q[nl] == '=' || len == nl)) {
			size_t vl = len > nl ? len - nl - 1 : 0;

			if (vl >= n)
				vl = n - 1;
			memcpy(out, q + nl + 1, vl);
			out[vl] = '\0';
			url_decode(out);
			return true;
		}
		q = amp ? amp + 1 : NULL;
	}
	return false;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, bool head, int status, const char *extra,
		    const void *body, size_t len)
{
	char h[2048], date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(h, sizeof(h),
		 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nDate: %s\r\n%s\r\n",
		 status, len, date, extra ? extra : "");
	send_all(fd, h, strlen(h));
	if (!head && len)
		send_all(fd, body, len);
}

static void respond_error(int fd, bool head, int status, const char *code)
{
	char b[512];

	snprintf(b, sizeof(b),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s"
		 "</Code><Message>fake says %s</Message></Error>",
		 code, code);
	respond(fd, head, status, "Content-Type: application/xml\r\n", b,
		head ? 0 : strlen(b));
}

static fobj *find(const char *key)
{
	for (size_t i = 0; i < F->nobj; i++)
		if (!strcmp(F->objs[i].key, key))
			return &F->objs[i];
	return NULL;
}

static void drop(const char *key)
{
	fobj *o = find(key);

	if (!o)
		return;
	free(o->key);
	free(o->data);
	*o = F->objs[--F->nobj];
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp((*(fobj *const *)a)->key, (*(fobj *const *)b)->key);
}

static void do_list(int fd, const char *q)
{
	char prefix[1024] = "", token[64] = "", delim[8] = "";
	fobj *m[MAX_OBJS];
	size_t n = 0, start = 0, end, plen;
	stow_buf b, cp;

	query_get(q, "prefix", prefix, sizeof(prefix));
	query_get(q, "delimiter", delim, sizeof(delim));
	plen = strlen(prefix);
	if (query_get(q, "continuation-token", token, sizeof(token)))
		start = strtoul(token + 4, NULL, 10);
	stow_buf_init(&cp, 0);
	for (size_t i = 0; i < F->nobj; i++) {
		const char *k = F->objs[i].key, *sl;

		if (strncmp(k, prefix, plen))
			continue;
		if (!strcmp(delim, "/") && (sl = strchr(k + plen, '/'))) {
			/* Common prefix "<prefix>x/", each once. */
			char one[1100];

			snprintf(one, sizeof(one),
				 "<CommonPrefixes><Prefix>%.*s</Prefix>"
				 "</CommonPrefixes>",
				 (int)(sl - k + 1), k);
			if (start == 0 &&
			    (cp.len == 0 ||
			     !memmem(cp.data, cp.len, one, strlen(one))))
				stow_buf_append_str(&cp, one);
			continue;
		}
		m[n++] = &F->objs[i];
	}
	qsort(m, n, sizeof(m[0]), key_cmp);
	end =
	    start + (size_t)F->page_size < n ? start + (size_t)F->page_size : n;
	stow_buf_init(&b, 0);
	stow_buf_printf(&b,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<ListBucketResult xmlns=\"http://s3.amazonaws.com/"
			"doc/2006-03-01/\"><Name>test</Name><Prefix>%s"
			"</Prefix><IsTruncated>%s</IsTruncated>",
			prefix, end < n ? "true" : "false");
	for (size_t i = start; i < end; i++)
		stow_buf_printf(&b,
				"<Contents><Key>%s</Key><LastModified>x"
				"</LastModified><ETag>&quot;e&quot;</ETag>"
				"<Size>%zu</Size><StorageClass>STANDARD"
				"</StorageClass></Contents>",
				m[i]->key, m[i]->len);
	if (cp.len)
		stow_buf_append(&b, cp.data, cp.len);
	stow_buf_free(&cp);
	if (end < n)
		stow_buf_printf(&b,
				"<NextContinuationToken>tok-%zu"
				"</NextContinuationToken>",
				end);
	stow_buf_append_str(&b, "</ListBucketResult>");
	respond(fd, false, 200, "Content-Type: application/xml\r\n", b.data,
		b.len);
	stow_buf_free(&b);
}

static void base64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
				"rstuvwxyz0123456789+/";
	size_t j = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[j++] = t[v >> 18 & 63];
		out[j++] = t[v >> 12 & 63];
		out[j++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[j++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[j] = '\0';
}

static void do_multi_delete(int fd, const char *md5_hdr, const char *body,
			    size_t len, const char *bucket_prefix)
{
	uint8_t md5[16];
	char want[32];
	const char *p = body;
	stow_buf b;

	stow_md5(body, len, md5);
	base64(md5, 16, want);
	if (strcmp(md5_hdr, want) != 0) {
		F->md5_mismatches++;
		respond_error(fd, false, 400, "InvalidDigest");
		return;
	}
	stow_buf_init(&b, 0);
	stow_buf_append_str(&b, "<?xml version=\"1.0\"?><DeleteResult>");
	while ((p = strstr(p, "<Key>"))) {
		const char *e = strstr(p, "</Key>");
		char key[1100];

		if (!e)
			break;
		snprintf(key, sizeof(key), "%.*s", (int)(e - p - 5), p + 5);
		if (F->delete_error_key && !strcmp(key, F->delete_error_key))
			stow_buf_printf(&b,
					"<Error><Key>%s</Key><Code>AccessDenied"
					"</Code><Message>Access &amp; denied"
					"</Message></Error>",
					key);
		else
			drop(key);
		p = e;
	}
	(void)bucket_prefix;
	stow_buf_append_str(&b, "</DeleteResult>");
	respond(fd, false, 200, NULL, b.data, b.len);
	stow_buf_free(&b);
}

/* Serve one parsed request. Returns false to close the connection. */
static void parts_free(void)
{
	for (int i = 0; i < 8; i++) {
		free(F->part[i]);
		F->part[i] = NULL;
		F->part_len[i] = 0;
	}
}

/* CreateMultipartUpload, UploadPart, CompleteMultipartUpload (parts
 * concatenated in number order; the body must name each part's ETag),
 * AbortMultipartUpload. */
static void do_multipart(int fd, const char *method, const char *key,
			 const char *q, const char *body, size_t blen)
{
	char num[16] = "";

	if (!strcmp(method, "POST") && strstr(q, "uploads")) {
		const char *x = "<InitiateMultipartUploadResult><Bucket>test"
				"</Bucket><UploadId>up-1</UploadId>"
				"</InitiateMultipartUploadResult>";

		parts_free();
		F->upload_open = true;
		F->mp_creates++;
		respond(fd, false, 200, NULL, x, strlen(x));
	} else if (!F->upload_open || !strstr(q, "uploadId=up-1")) {
		respond_error(fd, false, 404, "NoSuchUpload");
	} else if (!strcmp(method, "PUT") &&
		   query_get(q, "partNumber", num, sizeof(num))) {
		int n = atoi(num);
		char etag[64];

		if (n < 1 || n > 8) {
			respond_error(fd, false, 400, "InvalidArgument");
			return;
		}
		free(F->part[n - 1]);
		F->part[n - 1] = malloc(blen ? blen : 1);
		memcpy(F->part[n - 1], body, blen);
		F->part_len[n - 1] = blen;
		F->mp_parts++;
		snprintf(etag, sizeof(etag), "ETag: \"etag-%d\"\r\n", n);
		respond(fd, false, 200, etag, NULL, 0);
	} else if (!strcmp(method, "POST")) {
		fobj *o = find(key);
		size_t total = 0;

		for (int i = 0; i < 8 && F->part[i]; i++) {
			char want[64];

			snprintf(want, sizeof(want), "<ETag>\"etag-%d\"</ETag>",
				 i + 1);
			if (!memmem(body, blen, want, strlen(want))) {
				respond_error(fd, false, 400, "InvalidPart");
				return;
			}
			total += F->part_len[i];
		}
		if (!o) {
			o = &F->objs[F->nobj++];
			o->key = strdup(key);
		} else {
			free(o->data);
		}
		o->data = malloc(total ? total : 1);
		o->len = 0;
		for (int i = 0; i < 8 && F->part[i]; i++) {
			memcpy(o->data + o->len, F->part[i], F->part_len[i]);
			o->len += F->part_len[i];
		}
		parts_free();
		F->upload_open = false;
		F->mp_completes++;
		respond(fd, false, 200, NULL,
			"<CompleteMultipartUploadResult/>", 32);
	} else if (!strcmp(method, "DELETE")) {
		parts_free();
		F->upload_open = false;
		F->mp_aborts++;
		respond(fd, false, 204, NULL, NULL, 0);
	} else {
		respond_error(fd, false, 501, "NotImplemented");
	}
}

static bool serve(int fd, const char *method, char *target, const char *hdrs,
		  const char *body, size_t blen)
{
	bool head = !strcmp(method, "HEAD");
	char *q = strchr(target, '?'), *key;
	char sha[STOW_SIGV4_HASH_HEX_LEN], hv[256] = "";
	const char *h;
	scripted sc = {0};
	bool have_script = false;

	if (q)
		*q++ = '\0';
	pthread_mutex_lock(&F->mu);
	F->requests++;
	snprintf(F->last_method, sizeof(F->last_method), "%s", method);
	snprintf(F->last_target, sizeof(F->last_target), "%s%s%s", target,
		 q ? "?" : "", q ? q : "");
	F->last_range[0] = '\0';
	if ((h = strcasestr(hdrs, "\nRange: ")))
		sscanf(h + 8, "%63[^\r]", F->last_range);
	F->last_if_none_match = strcasestr(hdrs, "\nif-none-match: *") != NULL;
	if (!strcasestr(hdrs, "\nAuthorization: AWS4-HMAC-SHA256 "))
		F->unsigned_requests++;
	if ((h = strcasestr(hdrs, "\nx-amz-content-sha256: "))) {
		stow_sigv4_sha256_hex(body, blen, sha);
		if (strncmp(h + 23, sha, 64) != 0)
			F->sha_mismatches++;
	}
	if (F->script_pos < F->nscript &&
	    (!F->script[F->script_pos].method ||
	     !strcmp(F->script[F->script_pos].method, method))) {
		sc = F->script[F->script_pos++];
		have_script = true;
	}
	pthread_mutex_unlock(&F->mu);

	if (have_script) {
		if (sc.mode == CLOSE)
			return false;
		if (sc.mode == STALL) {
			usleep((useconds_t)sc.stall_ms * 1000);
		} else if (sc.mode == SHORT) {
			char hd[256];

			snprintf(
			    hd, sizeof(hd),
			    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			    strlen(sc.body) + 50);
			send_all(fd, hd, strlen(hd));
			send_all(fd, sc.body, strlen(sc.body));
			return false;
		} else {
			respond(fd, head, sc.status, sc.headers, sc.body,
				sc.body ? strlen(sc.body) : 0);
			return true;
		}
	}

	/* Path style: /test/KEY or /test for the bucket. */
	if (strncmp(target, "/test", 5) != 0 ||
	    (target[5] != '\0' && target[5] != '/')) {
		respond_error(fd, head, 404, "NoSuchBucket");
		return true;
	}
	key = target[5] ? target + 6 : NULL;
	pthread_mutex_lock(&F->mu);
	if (key && q && (strstr(q, "uploads") || strstr(q, "uploadId="))) {
		do_multipart(fd, method, key, q, body, blen);
	} else if (!key && !strcmp(method, "GET")) {
		do_list(fd, q);
	} else if (!key && !strcmp(method, "POST") && q &&
		   !strncmp(q, "delete", 6)) {
		F->posts++;
		h = strcasestr(hdrs, "\ncontent-md5: ");
		if (h)
			sscanf(h + 14, "%255[^\r]", hv);
		do_multi_delete(fd, hv, body, blen, NULL);
	} else if (key && !strcmp(method, "PUT")) {
		fobj *o = find(key);

		if (o && F->last_if_none_match && !F->ignore_if_none_match) {
			respond_error(fd, false, 412, "PreconditionFailed");
		} else if (!o && F->nobj == MAX_OBJS) {
			respond_error(fd, false, 507, "XMinioStorageFull");
		} else {
			if (!o) {
				o = &F->objs[F->nobj++];
				o->key = strdup(key);
			} else {
				free(o->data);
			}
			o->data = malloc(blen ? blen : 1);
			memcpy(o->data, body, blen);
			o->len = blen;
			respond(fd, false, 200, "ETag: \"x\"\r\n", NULL, 0);
		}
	} else if (key && (!strcmp(method, "GET") || head)) {
		fobj *o = F->head_says_missing && head ? NULL : find(key);
		unsigned long long a = 0, z = 0;
		int parts =
		    F->last_range[0] && !F->ignore_range
			? sscanf(F->last_range, "bytes=%llu-%llu", &a, &z)
			: 0;

		if (!o) {
			respond_error(fd, head, 404, "NoSuchKey");
		} else if (parts >= 1) {
			char cr[128];

			if (a >= o->len) {
				respond_error(fd, false, 416, "InvalidRange");
			} else {
				if (parts == 1 || z >= o->len)
					z = o->len - 1;
				snprintf(
				    cr, sizeof(cr),
				    "Content-Range: bytes %llu-%llu/%zu\r\n", a,
				    z, o->len);
				respond(fd, head, 206, cr, o->data + a,
					(size_t)(z - a + 1));
			}
		} else {
			respond(fd, head, 200, NULL, o->data, o->len);
		}
	} else if (key && !strcmp(method, "DELETE")) {
		drop(key);
		respond(fd, false, 204, NULL, NULL, 0);
	} else {
		respond_error(fd, head, 501, "NotImplemented");
	}
	pthread_mutex_unlock(&F->mu);
	return true;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	stow_buf in;

	stow_buf_init(&in, 64 << 20);
	for (;;) {
		char *end, method[16], target[2048], *cl;
		size_t hlen, blen = 0;
		bool keep;

		/* Read until the end of the headers, then the body. */
		while (!(in.len &&
			 (end = memmem(in.data, in.len, "\r\n\r\n", 4)))) {
			ssize_t r;

			if (stow_buf_reserve(&in, 65536) < 0)
				goto out;
			r = recv(fd, in.data + in.len, 65536, 0);
			if (r <= 0)
				goto out;
			in.len += (size_t)r;
		}
		hlen = (size_t)(end - (char *)in.data) + 4;
		end[2] = '\0'; /* headers as a C string, "\r\n" kept */
		cl = strcasestr((char *)in.data, "\nContent-Length: ");
		if (cl)
			blen = strtoul(cl + 17, NULL, 10);
		while (in.len < hlen + blen) {
			ssize_t r;

			if (stow_buf_reserve(&in, 65536) < 0)
				goto out;
			r = recv(fd, in.data + in.len, 65536, 0);
			if (r <= 0)
				goto out;
			in.len += (size_t)r;
		}
		if (sscanf((char *)in.data, "%15s %2047s", method, target) != 2)
			goto out;
		keep = serve(fd, method, target, (char *)in.data,
			     (char *)in.data + hlen, blen);
		memmove(in.data, in.data + hlen + blen, in.len - hlen - blen);
		in.len -= hlen + blen;
		if (!keep)
			break;
	}
out:
	stow_buf_free(&in);
	close(fd);
	atomic_fetch_sub(&F->live_conns, 1);
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&F->stop)) {
		struct pollfd p = {F->lfd, POLLIN, 0};
		pthread_t t;
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(F->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* Headers and body go out in two sends: without this,
		 * delayed ACKs add 40 ms to every reply with a body. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1},
			   sizeof(int));
		pthread_mutex_lock(&F->mu);
		F->connections++;
		pthread_mutex_unlock(&F->mu);
		atomic_fetch_add(&F->live_conns, 1);
		pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
	return NULL;
}

static void fake_start(void)
{
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int one = 1;

	F = calloc(1, sizeof(*F));
	pthread_mutex_init(&F->mu, NULL);
	F->page_size = 1000;
	F->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(F->lfd >= 0);
	setsockopt(F->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(F->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(F->lfd, 64), 0);
	getsockname(F->lfd, (struct sockaddr *)&a, &al);
	F->port = ntohs(a.sin_port);
	pthread_create(&F->thr, NULL, accept_main, NULL);
}

static void fake_stop(void)
{
	atomic_store(&F->stop, true);
	pthread_join(F->thr, NULL);
	close(F->lfd);
	/* Connection threads end when the client closes its side. */
	for (int i = 0; i < 500 && atomic_load(&F->live_conns) > 0; i++)
		usleep(10000);
	pthread_mutex_lock(&F->mu);
	for (size_t i = 0; i < F->nobj; i++) {
		free(F->objs[i].key);
		free(F->objs[i].data);
	}
	pthread_mutex_unlock(&F->mu);
	if (atomic_load(&F->live_conns) == 0) {
		pthread_mutex_destroy(&F->mu);
		free(F);
	} /* else leak it rather than free under a live thread */
	F = NULL;
}

static void script(int status, const char *headers, const char *body,
		   enum mode mode, int stall_ms)
{
	pthread_mutex_lock(&F->mu);
	assert_true(F->nscript < MAX_SCRIPT);
	F->script[F->nscript++] =
	    (scripted){status, headers, body, mode, stall_ms, NULL};
	pthread_mutex_unlock(&F->mu);
}

static int requests(void)
{
	int n;

	pthread_mutex_lock(&F->mu);
	n = F->requests;
	pthread_mutex_unlock(&F->mu);
	return n;
}

/* --- opening stores ------------------------------------------------------- */

/* A store on the fake; extra is appended to the location's options
 * (timeout and retries default to 5 s and 3 unless extra sets them). */
static int open_store(stow_store **s, const char *bucket, const char *prefix,
		      const char *extra)
{
	stow_s3_config cfg;
	char loc[512];
	int rc;

	snprintf(loc, sizeof(loc),
		 "s3://%s%s%s?s3Url=http://127.0.0.1:%d&s3ForcePathStyle=true&"
		 "region=us-east-1%s%s",
		 bucket, *prefix ? "/" : "", prefix, F->port,
		 strstr(extra, "timeout=") ? "" : "&timeout=5&retries=3",
		 extra);
	rc = stow_s3_config_parse(&cfg, loc);
	if (rc == 0) {
		cfg.access_key = strdup("AKIDTEST");
		cfg.secret_key = strdup(SECRET);
		cfg.session_token = strdup(TOKEN);
		cfg.credentials_source = strdup("/creds/file, profile p");
		rc = stow_store_s3_open(s, &cfg, 0);
	}
	stow_s3_config_free(&cfg);
	return rc;
}

static void no_secrets_in_message(void)
{
	assert_null(strstr(stow_err_msg(), SECRET));
	assert_null(strstr(stow_err_msg(), TOKEN));
	assert_null(strstr(stow_err_msg(), "Signature="));
}

static int setup(void **state)
{
	(void)state;
	fake_start();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fake_stop();
	return 0;
}

/* --- tests ---------------------------------------------------------------- */

typedef struct seen {
	char keys[64][128];
	uint64_t sizes[64];
	int n;
	int stop_after;
	stow_store *s; /* if set, the callback reads every key it sees */
} seen;

static int collect(void *ctx, const char *key, uint64_t size)
{
	seen *v = ctx;

	if (v->s) {
		stow_buf b;
		int rc;

		stow_buf_init(&b, 0);
		rc = stow_store_get(v->s, key, 0, STOW_RANGE_END, &b);
		stow_buf_free(&b);
		if (rc < 0)
			return rc;
	}
	if (v->n < 64) {
		snprintf(v->keys[v->n], sizeof(v->keys[0]), "%s", key);
		v->sizes[v->n] = size;
	}
	v->n++;
	if (v->stop_after && v->n == v->stop_after)
		return -99;
	return 0;
}

static bool seen_has(const seen *v, const char *key)
{
	for (int i = 0; i < v->n && i < 64; i++)
		if (!strcmp(v->keys[i], key))
			return true;
	return false;
}

static void test_contract(void **state)
{
	stow_store *s = NULL;
	stow_buf b;
	uint64_t size = 0;
	seen v = {0};
	static uint8_t big[3 << 20];

	(void)state;
	assert_int_equal(open_store(&s, "test", "pre/fix", ""), 0);
	assert_string_equal(s->ops->name, "s3");
	assert_non_null(strstr(s->location, "s3://test/pre/fix"));
	stow_buf_init(&b, 0);

	assert_int_equal(stow_store_put(s, "config", "hello", 5, 0), 0);
	assert_string_equal(F->last_target, "/test/pre/fix/config");
	assert_int_equal(stow_store_get(s, "config", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "hello", 5);
	assert_string_equal(F->last_range, "");
	assert_int_equal(stow_store_stat(s, "config", &size), 0);
	assert_int_equal(size, 5);
	assert_int_equal(stow_store_stat(s, "config", NULL), 0);

	/* Ranges: inside, to the end, past the end, empty object. */
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "config", 1, 3, &b), 0);
	assert_string_equal(F->last_range, "bytes=1-3");
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "ell", 3);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "config", 3, STOW_RANGE_END, &b), 0);
	assert_string_equal(F->last_range, "bytes=3-");
	assert_memory_equal(b.data, "lo", 2);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "config", 2, 100, &b), 0);
	assert_int_equal(b.len, 3);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "config", 5, 10, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(stow_store_get(s, "config", 99, STOW_RANGE_END, &b),
			 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(stow_store_put(s, "empty", "", 0, 0), 0);
	assert_int_equal(stow_store_get(s, "empty", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(stow_store_stat(s, "empty", &size), 0);
	assert_int_equal(size, 0);

	/* get appends. */
	stow_buf_reset(&b);
	assert_int_equal(stow_buf_append(&b, "X", 1), 0);
	assert_int_equal(stow_store_get(s, "config", 0, 2, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "Xhe", 3);

	/* Missing keys. */
	assert_int_equal(stow_store_get(s, "nope", 0, STOW_RANGE_END, &b),
			 STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "nope"));
	assert_int_equal(b.len, 3);
	assert_int_equal(stow_store_get(s, "nope", 0, 0, &b), STOW_ENOTFOUND);
	assert_int_equal(stow_store_stat(s, "nope", &size), STOW_ENOTFOUND);
	/* S3 deletes a missing key without complaint; so do we. */
	assert_int_equal(stow_store_del(s, "nope"), 0);

	/* Exclusive create. */
	assert_int_equal(stow_store_put(s, "locks/a", "1", 1, STOW_PUT_EXCL),
			 0);
	assert_true(F->last_if_none_match);
	assert_int_equal(stow_store_put(s, "locks/a", "2", 1, STOW_PUT_EXCL),
			 STOW_EEXIST);
	assert_int_equal(stow_store_put(s, "locks/a", "3", 1, 0), 0);
	assert_false(F->last_if_none_match);

	/* A big object, and a buffer too small for it. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 4096);
	assert_int_equal(stow_store_put(s, "data/aa/big", big, sizeof(big), 0),
			 0);
	stow_buf_free(&b);
	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_store_get(s, "data/aa/big", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, sizeof(big));
	assert_memory_equal(b.data, big, sizeof(big));
	stow_buf_free(&b);
	stow_buf_init(&b, 1000);
	assert_int_equal(
	    stow_store_get(s, "data/aa/big", 0, STOW_RANGE_END, &b),
	    STOW_ENOMEM);
	assert_int_equal(b.len, 0);
	stow_buf_free(&b);
	stow_buf_init(&b, 0);

	/* Keys are validated before anything is sent. */
	{
		int before = requests();

		assert_int_equal(stow_store_put(s, "../x", "1", 1, 0),
				 STOW_EINVAL);
		assert_int_equal(stow_store_get(s, "a//b", 0, 1, &b),
				 STOW_EINVAL);
		assert_int_equal(stow_store_stat(s, "/a", NULL), STOW_EINVAL);
		assert_int_equal(stow_store_del(s, ".tmp"), STOW_EINVAL);
		assert_int_equal(stow_store_list(s, "a//", collect, &v),
				 STOW_EINVAL);
		assert_int_equal(stow_store_list(s, "x?y", collect, &v),
				 STOW_EINVAL);
		assert_int_equal(requests(), before);
	}

	/* list: relative keys, the prefix filter, sizes. */
	assert_int_equal(stow_store_put(s, "data/ab/k1", "12", 2, 0), 0);
	assert_int_equal(stow_store_put(s, "data/b/k2", "123", 3, 0), 0);
	assert_int_equal(stow_store_list(s, "", collect, &v), 0);
	assert_int_equal(v.n, 6);
	assert_true(seen_has(&v, "config"));
	assert_true(seen_has(&v, "data/aa/big"));
	memset(&v, 0, sizeof(v));
	assert_int_equal(stow_store_list(s, "data/a", collect, &v), 0);
	assert_int_equal(v.n, 2);
	assert_true(seen_has(&v, "data/ab/k1"));
	memset(&v, 0, sizeof(v));
	assert_int_equal(stow_store_list(s, "data/b/", collect, &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.keys[0], "data/b/k2");
	assert_int_equal(v.sizes[0], 3);
	memset(&v, 0, sizeof(v));
	assert_int_equal(stow_store_list(s, "zzz/", collect, &v), 0);
	assert_int_equal(v.n, 0);

	assert_int_equal(stow_store_del(s, "data/b/k2"), 0);
	assert_int_equal(stow_store_stat(s, "data/b/k2", NULL), STOW_ENOTFOUND);
	stow_buf_free(&b);

	/* Everything carried a signature and a matching payload hash. */
	assert_int_equal(F->sha_mismatches, 0);
	assert_int_equal(F->unsigned_requests, 0);
	stow_store_close(s);
	stow_store_close(NULL);
}

static void test_prefixes_do_not_leak(void **state)
{
	stow_store *a = NULL, *b = NULL;
	seen v = {0};

	(void)state;
	/* "repo1" must not see "repo10/...". */
	assert_int_equal(open_store(&a, "test", "repo1", ""), 0);
	assert_int_equal(open_store(&b, "test", "repo10", ""), 0);
	assert_int_equal(stow_store_put(b, "config", "b", 1, 0), 0);
	assert_int_equal(stow_store_put(a, "config", "a", 1, 0), 0);
	assert_int_equal(stow_store_list(a, "", collect, &v), 0);
	assert_int_equal(v.n, 1);
	stow_store_close(a);
	stow_store_close(b);
	/* No prefix: keys at the bucket root. */
	assert_int_equal(open_store(&a, "test", "", ""), 0);
	assert_int_equal(stow_store_put(a, "rootkey", "r", 1, 0), 0);
	assert_string_equal(F->last_target, "/test/rootkey");
	memset(&v, 0, sizeof(v));
	assert_int_equal(stow_store_list(a, "root", collect, &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.keys[0], "rootkey");
	stow_store_close(a);
}

static void test_list_pages(void **state)
{
	stow_store *s = NULL;
	seen v = {0};
	char key[32];
	int before;

	(void)state;
	assert_int_equal(open_store(&s, "test", "p", ""), 0);
	for (int i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "snapshots/s%d", i);
		assert_int_equal(stow_store_put(s, key, "x", 1, 0), 0);
	}
	F->page_size = 2;
	before = requests();
	assert_int_equal(stow_store_list(s, "snapshots/", collect, &v), 0);
	assert_int_equal(v.n, 7);
	assert_int_equal(requests() - before, 4);
	assert_non_null(strstr(F->last_target, "continuation-token=tok-6"));

	/* A callback's error stops the listing and is returned. */
	memset(&v, 0, sizeof(v));
	v.stop_after = 3;
	assert_int_equal(stow_store_list(s, "snapshots/", collect, &v), -99);
	assert_int_equal(v.n, 3);

	/* The callback may use the store (its handle is free by then). */
	memset(&v, 0, sizeof(v));
	v.s = s;
	assert_int_equal(stow_store_list(s, "snapshots/", collect, &v), 0);
	assert_int_equal(v.n, 7);
	stow_store_close(s);
}

static void test_hostile_listings(void **state)
{
	stow_store *s = NULL;
	seen v = {0};

	(void)state;
	assert_int_equal(open_store(&s, "test", "p", ""), 0);

	/* Entities and character references decode; keys outside the
	 * prefix or invalid are skipped; CDATA works. */
	script(200, NULL,
	       "<?xml version='1.0'?><!-- hi --><ListBucketResult>"
	       "<IsTruncated>false</IsTruncated>"
	       "<Contents><Key>p/d&#97;t&#x61;/k</Key><Size>1</Size></Contents>"
	       "<Contents><Key><![CDATA[p/cdata]]></Key><Size>2</Size>"
	       "</Contents>"
	       "<Contents><Key>other/k</Key><Size>1</Size></Contents>"
	       "<Contents><Key>p/../etc/passwd</Key><Size>1</Size></Contents>"
	       "<Contents><Key>p/a&amp;b</Key><Size>1</Size></Contents>"
	       "<Contents><Key>p/x\x01y</Key><Size>1</Size></Contents>"
	       "<Contents><Size>3</Size><Key>p/ok</Key></Contents>"
	       "</ListBucketResult>",
	       NORMAL, 0);
	assert_int_equal(stow_store_list(s, "", collect, &v), 0);
	assert_int_equal(v.n, 3);
	assert_true(seen_has(&v, "data/k"));
	assert_true(seen_has(&v, "cdata"));
	assert_true(seen_has(&v, "ok"));

	{
		static const char *const bad[] = {
		    "<ListBucketResult><Contents><Key>p/a</Key>",
		    "<ListBucketResult></Wrong>",
		    "<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>",
		    "<ListBucketResult><Contents><Key>p/&bogus;</Key><Size>1"
		    "</Size></Contents></ListBucketResult>",
		    "<ListBucketResult><Contents><Key>p/&#0;</Key><Size>1"
		    "</Size></Contents></ListBucketResult>",
		    "<ListBucketResult><Contents><Key>p/a</Key><Size>-1"
		    "</Size></Contents></ListBucketResult>",
		    "<ListBucketResult><Contents><Key>p/a</Key></Contents>"
		    "</ListBucketResult>",
		    "<ListBucketResult><IsTruncated>true</IsTruncated>"
		    "</ListBucketResult>",
		    "<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a>"
		    "</a></a></a></a></a></a></a></a></a></a></a></a></a></a>"
		    "</a></a></a></a>",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&v, 0, sizeof(v));
			script(200, NULL, bad[i], NORMAL, 0);
			if (stow_store_list(s, "", collect, &v) !=
			    STOW_ECORRUPT)
				fail_msg("listing %zu accepted: %s", i,
					 stow_err_msg());
		}
	}
	/* A server that repeats its continuation token cannot loop us. */
	script(200, NULL,
	       "<ListBucketResult><IsTruncated>true</IsTruncated>"
	       "<NextContinuationToken>t</NextContinuationToken>"
	       "</ListBucketResult>",
	       NORMAL, 0);
	script(200, NULL,
	       "<ListBucketResult><IsTruncated>true</IsTruncated>"
	       "<NextContinuationToken>t</NextContinuationToken>"
	       "</ListBucketResult>",
	       NORMAL, 0);
	assert_int_equal(stow_store_list(s, "", collect, &v), STOW_ECORRUPT);
	stow_store_close(s);
}

static void test_retries(void **state)
{
	stow_store *s = NULL;
	stow_buf b;
	int before;

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(open_store(&s, "test", "r", ""), 0);
	assert_int_equal(stow_store_put(s, "k", "payload", 7, 0), 0);

	/* 503 SlowDown, 500, then success. */
	before = requests();
	script(503, NULL,
	       "<Error><Code>SlowDown</Code><Message>m</Message></Error>",
	       NORMAL, 0);
	script(500, NULL, "", NORMAL, 0);
	assert_int_equal(stow_store_get(s, "k", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 7);
	assert_int_equal(requests() - before, 3);

	/* 400 RequestTimeout and 429 are retried too. */
	stow_buf_reset(&b);
	before = requests();
	script(400, NULL, "<Error><Code>RequestTimeout</Code></Error>", NORMAL,
	       0);
	script(429, "Retry-After: 0\r\n", "", NORMAL, 0);
	assert_int_equal(stow_store_put(s, "k2", "p", 1, 0), 0);
	assert_int_equal(requests() - before, 3);

	/* A dropped connection and a short body are retried; what the
	 * caller gets is the complete object, once. */
	before = requests();
	script(0, NULL, NULL, CLOSE, 0);
	script(0, NULL, "pay", SHORT, 0);
	assert_int_equal(stow_store_get(s, "k", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "payload", 7);
	assert_int_equal(requests() - before, 3);

	/* A PUT on a kept-alive connection that the server drops: curl
	 * resends it on a fresh connection by itself and must be able to
	 * rewind the body (once failed with "necessary data rewind wasn't
	 * possible"). */
	{
		static uint8_t body[200000];

		memset(body, 'b', sizeof(body));
		script(0, NULL, NULL, CLOSE, 0);
		F->script[F->nscript - 1].method = "PUT";
		assert_int_equal(
		    stow_store_put(s, "big", body, sizeof(body), 0), 0);
		stow_buf_reset(&b);
		assert_int_equal(
		    stow_store_get(s, "big", 0, STOW_RANGE_END, &b), 0);
		assert_int_equal(b.len, sizeof(body));
	}

	/* A call that succeeds after retries leaves the caller's error
	 * detail alone (cleanup after an error must not replace it). */
	stow_buf_reset(&b);
	stow_err_set(STOW_EIO, "the caller's own error");
	script(503, NULL, "", NORMAL, 0);
	assert_int_equal(stow_store_get(s, "k", 0, STOW_RANGE_END, &b), 0);
	assert_string_equal(stow_err_msg(), "the caller's own error");
	script(500, NULL, "", NORMAL, 0);
	assert_int_equal(stow_store_put(s, "x1", "1", 1, STOW_PUT_EXCL), 0);
	assert_string_equal(stow_err_msg(), "the caller's own error");

	/* Never on other 4xx. */
	before = requests();
	stow_buf_reset(&b);
	script(403, NULL, "<Error><Code>AccessDenied</Code></Error>", NORMAL,
	       0);
	assert_int_equal(stow_store_get(s, "k", 0, 1, &b), STOW_EIO);
	assert_int_equal(requests() - before, 1);
	assert_non_null(strstr(stow_err_msg(), "access denied"));
	assert_non_null(strstr(stow_err_msg(), "/creds/file, profile p"));

	/* Retries run out: 1 + 3 attempts, and the message says so. */
	before = requests();
	for (int i = 0; i < 4; i++)
		script(502, NULL, "", NORMAL, 0);
	assert_int_equal(stow_store_del(s, "k"), STOW_EIO);
	assert_int_equal(requests() - before, 4);
	assert_non_null(strstr(stow_err_msg(), "gave up after 4 attempts"));
	assert_non_null(strstr(stow_err_msg(), "HTTP 502"));
	no_secrets_in_message();
	stow_buf_free(&b);
	stow_store_close(s);
}

static void test_deadline(void **state)
{
	stow_store *s = NULL;
	struct timespec t0, t1;
	double secs;

	(void)state;
	assert_int_equal(open_store(&s, "test", "t", "&timeout=1&retries=1"),
			 0);
	script(0, NULL, NULL, STALL, 1500);
	script(0, NULL, NULL, STALL, 1500);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(stow_store_stat(s, "k", NULL), STOW_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Deadline = 1 s x 2 attempts. */
	assert_true(secs < 3.0);
	assert_non_null(strstr(stow_err_msg(), "timed out"));
	stow_store_close(s);
}

static void test_server_quirks(void **state)
{
	stow_store *s = NULL;
	stow_buf b;
	uint8_t data[1000];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	stow_buf_init(&b, 0);
	assert_int_equal(open_store(&s, "test", "q", ""), 0);
	assert_int_equal(stow_store_put(s, "obj", data, sizeof(data), 0), 0);

	/* A server that ignores Range: we cut the window ourselves. */
	F->ignore_range = true;
	assert_int_equal(stow_store_get(s, "obj", 100, 50, &b), 0);
	assert_int_equal(b.len, 50);
	assert_memory_equal(b.data, data + 100, 50);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "obj", 990, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, data + 990, 10);
	F->ignore_range = false;

	/* A server that ignores If-None-Match (s3rver): the HEAD before
	 * the PUT still refuses an existing key. */
	F->ignore_if_none_match = true;
	assert_int_equal(stow_store_put(s, "obj", "x", 1, STOW_PUT_EXCL),
			 STOW_EEXIST);
	F->ignore_if_none_match = false;

	/* The race the HEAD cannot see: the conditional PUT catches it. */
	F->head_says_missing = true;
	assert_int_equal(stow_store_put(s, "obj", "x", 1, STOW_PUT_EXCL),
			 STOW_EEXIST);
	assert_non_null(strstr(stow_err_msg(), "already exists"));
	F->head_says_missing = false;

	/* No conditional writes at all (501): a plain PUT after the HEAD. */
	script(501, NULL, "<Error><Code>NotImplemented</Code></Error>", NORMAL,
	       0);
	F->script[F->nscript - 1].method = "PUT";
	assert_int_equal(stow_store_put(s, "fresh", "x", 1, STOW_PUT_EXCL), 0);
	assert_int_equal(stow_store_stat(s, "fresh", NULL), 0);

	/* A 206 for the wrong offset is an error, and nothing is kept. */
	stow_buf_reset(&b);
	script(206, "Content-Range: bytes 0-4/1000\r\n", "abcde", NORMAL, 0);
	assert_int_equal(stow_store_get(s, "obj", 10, 5, &b), STOW_EIO);
	assert_int_equal(b.len, 0);
	stow_buf_free(&b);
	stow_store_close(s);
}

static void expect_message(stow_store *s, int status, const char *headers,
			   const char *body, int code, const char *needle)
{
	stow_buf b;

	/* A GET: error documents come with bodies (HEAD replies have
	 * none, so a failing stat can only report the status). */
	stow_buf_init(&b, 0);
	script(status, headers, body, NORMAL, 0);
	assert_int_equal(stow_store_get(s, "k", 0, STOW_RANGE_END, &b), code);
	assert_int_equal(b.len, 0);
	stow_buf_free(&b);
	if (!strstr(stow_err_msg(), needle))
		fail_msg("message \"%s\" lacks \"%s\"", stow_err_msg(), needle);
	no_secrets_in_message();
}

static void test_messages(void **state)
{
	stow_store *s = NULL;

	(void)state;
	assert_int_equal(open_store(&s, "test", "m", ""), 0);
	expect_message(s, 403, NULL,
		       "<Error><Code>InvalidAccessKeyId</Code></Error>",
		       STOW_EIO,
		       "S3 rejected the credentials (InvalidAccessKeyId): "
		       "check aws_access_key_id in /creds/file, profile p");
	expect_message(s, 403, NULL,
		       "<Error><Code>SignatureDoesNotMatch</Code></Error>",
		       STOW_EIO, "check aws_secret_access_key in /creds/file");
	expect_message(s, 400, NULL, "<Error><Code>ExpiredToken</Code></Error>",
		       STOW_EIO, "ExpiredToken");
	expect_message(s, 403, "Date: Thu, 01 Jan 2015 00:00:00 GMT\r\n",
		       "<Error><Code>RequestTimeTooSkewed</Code></Error>",
		       STOW_EIO, "clock skew: this machine's clock differs");
	expect_message(
	    s, 400, NULL,
	    "<Error><Code>AuthorizationHeaderMalformed</Code>"
	    "<Message>the region 'us-east-1' is wrong; expecting "
	    "'eu-west-1'</Message><Region>eu-west-1</Region></Error>",
	    STOW_EIO, "region eu-west-1, not us-east-1");
	expect_message(s, 301, "x-amz-bucket-region: ap-south-1\r\n", "",
		       STOW_EIO, "add region=ap-south-1");
	expect_message(s, 404, NULL, "<Error><Code>NoSuchBucket</Code></Error>",
		       STOW_ENOTFOUND, "bucket test does not exist at http://");
	expect_message(s, 507, NULL,
		       "<Error><Code>XMinioStorageFull</Code></Error>",
		       STOW_ENOSPC, "storage full");
	expect_message(s, 403, NULL, "", STOW_EIO, "HTTP 403");
	expect_message(s, 418, NULL,
		       "<Error><Code>Teapot</Code><Message>short &amp; "
		       "stout\x01</Message></Error>",
		       STOW_EIO, "HTTP 418 Teapot: short & stout?");
	stow_store_close(s);
}

static void test_open_failures(void **state)
{
	stow_store *s = NULL;
	stow_s3_config cfg;
	char loc[256];

	(void)state;
	assert_int_equal(open_store(&s, "nosuchbucket", "x", ""),
			 STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "bucket nosuchbucket does not "
					       "exist"));
	assert_null(s);
	script(403, NULL, "<Error><Code>InvalidAccessKeyId</Code></Error>",
	       NORMAL, 0);
	assert_int_equal(open_store(&s, "test", "x", ""), STOW_EIO);
	assert_null(s);

	/* Nobody listening. */
	snprintf(loc, sizeof(loc),
		 "s3://test?s3Url=http://127.0.0.1:1&retries=1&timeout=2");
	assert_int_equal(stow_s3_config_parse(&cfg, loc), 0);
	cfg.access_key = strdup("A");
	cfg.secret_key = strdup(SECRET);
	assert_int_equal(stow_store_s3_open(&s, &cfg, 1), STOW_EIO);
	assert_non_null(strstr(stow_err_msg(), "cannot reach "
					       "http://127.0.0.1:1"));
	stow_s3_config_free(&cfg);

	/* No credentials. */
	assert_int_equal(stow_s3_config_parse(&cfg, "s3://test"), 0);
	assert_int_equal(stow_store_s3_open(&s, &cfg, 0), STOW_EINVAL);
	stow_s3_config_free(&cfg);
	assert_int_equal(stow_store_s3_open(NULL, &cfg, 0), STOW_EINVAL);

	/* delete_many refuses other stores. */
	assert_int_equal(stow_store_mem_open(&s), 0);
	assert_int_equal(stow_store_s3_delete_many(s, NULL, 0), STOW_EINVAL);
	stow_store_close(s);
}

static void test_delete_many(void **state)
{
	stow_store *s = NULL;
	static char names[2500][32];
	const char *keys[2500];
	seen v = {0};
	int before;

	(void)state;
	assert_int_equal(open_store(&s, "test", "d", ""), 0);
	for (int i = 0; i < 2500; i++) {
		snprintf(names[i], sizeof(names[i]), "data/%02x/k%d", i % 256,
			 i);
		keys[i] = names[i];
		if (i % 100 == 0)
			assert_int_equal(stow_store_put(s, keys[i], "x", 1, 0),
					 0);
	}
	before = F->posts;
	assert_int_equal(stow_store_s3_delete_many(s, keys, 2500), 0);
	assert_int_equal(F->posts - before, 3);
	assert_int_equal(F->md5_mismatches, 0);
	assert_int_equal(stow_store_list(s, "", collect, &v), 0);
	assert_int_equal(v.n, 0);

	/* An <Error> in the reply names the key. */
	assert_int_equal(stow_store_put(s, keys[5], "x", 1, 0), 0);
	F->delete_error_key = "d/data/05/k5";
	assert_int_equal(stow_store_s3_delete_many(s, keys, 10), STOW_EIO);
	assert_non_null(strstr(stow_err_msg(), "d/data/05/k5"));
	assert_non_null(
	    strstr(stow_err_msg(), "AccessDenied: Access & denied"));
	F->delete_error_key = NULL;

	/* Invalid keys: refused before anything is sent. */
	keys[3] = "bad//key";
	before = requests();
	assert_int_equal(stow_store_s3_delete_many(s, keys, 10), STOW_EINVAL);
	assert_int_equal(requests(), before);
	assert_int_equal(stow_store_s3_delete_many(s, keys, 0), 0);
	stow_store_close(s);
}

static void test_keepalive(void **state)
{
	stow_store *s = NULL;
	int before;

	(void)state;
	assert_int_equal(open_store(&s, "test", "ka", ""), 0);
	before = F->connections;
	for (int i = 0; i < 30; i++)
		assert_int_equal(stow_store_put(s, "k", "v", 1, 0), 0);
	/* One connection, reused (open's request made it already). */
	assert_int_equal(F->connections - before, 0);
	stow_store_close(s);
}

typedef struct worker {
	stow_store *s;
	int id;
	int failures;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	char key[64], val[64];
	stow_buf b;

	stow_buf_init(&b, 0);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "t%d/k%d", w->id, i);
		snprintf(val, sizeof(val), "value %d %d", w->id, i);
		stow_buf_reset(&b);
		if (stow_store_put(w->s, key, val, strlen(val), 0) < 0 ||
		    stow_store_get(w->s, key, 0, STOW_RANGE_END, &b) < 0 ||
		    b.len != strlen(val) || memcmp(b.data, val, b.len) != 0)
			w->failures++;
	}
	stow_buf_free(&b);
	return NULL;
}

static void test_threads(void **state)
{
	stow_store *s = NULL;
	pthread_t t[8];
	worker w[8];
	seen v = {0};

	(void)state;
	assert_int_equal(open_store(&s, "test", "mt", ""), 0);
	for (int i = 0; i < 8; i++) {
		w[i] = (worker){s, i, 0};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(stow_store_list(s, "", collect, &v), 0);
	assert_int_equal(v.n, 320);
	/* A handle per concurrent user, not per request. */
	assert_true(F->connections <= 10);
	stow_store_close(s);
}

/* Streamed puts: small ones are one PUT at commit; large ones a multipart
 * upload whose object appears only at commit; abort aborts the upload. */
static void test_put_stream(void **state)
{
	static uint8_t big[(20 << 20) + 123];
	stow_store *s = NULL;
	stow_put_writer *w = NULL;
	stow_buf b;
	int before;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(open_store(&s, "test", "st", ""), 0);
	assert_true(stow_store_can_stream(s));
	assert_false(stow_store_streams_natively(s));
	stow_buf_init(&b, 0);

	/* Small: no multipart at all. */
	assert_int_equal(stow_store_put_begin(s, "small", 0, &w), 0);
	assert_int_equal(stow_store_put_append(w, "ab", 2), 0);
	assert_int_equal(stow_store_put_append(w, "cd", 2), 0);
	assert_int_equal(stow_store_put_commit(w), 0);
	assert_int_equal(F->mp_creates, 0);
	assert_int_equal(stow_store_get(s, "small", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "abcd", 4);

	/* Large, in odd-sized pieces: 3 parts, invisible until commit. */
	assert_int_equal(stow_store_put_begin(s, "big", 0, &w), 0);
	for (size_t off = 0; off < sizeof(big);) {
		size_t n = sizeof(big) - off < 777777 ? sizeof(big) - off
						      : 777777;

		assert_int_equal(stow_store_put_append(w, big + off, n), 0);
		off += n;
	}
	assert_int_equal(F->mp_creates, 1);
	assert_int_equal(F->mp_parts, 2);
	assert_int_equal(stow_store_stat(s, "big", NULL), STOW_ENOTFOUND);
	assert_int_equal(stow_store_put_commit(w), 0);
	assert_int_equal(F->mp_parts, 3);
	assert_int_equal(F->mp_completes, 1);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "big", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, sizeof(big));
	assert_memory_equal(b.data, big, sizeof(big));

	/* Exclusive onto an existing key: refused, upload aborted. */
	assert_int_equal(stow_store_put_begin(s, "big", STOW_PUT_EXCL, &w), 0);
	assert_int_equal(stow_store_put_append(w, big, 9 << 20), 0);
	assert_int_equal(stow_store_put_commit(w), STOW_EEXIST);
	assert_int_equal(F->mp_aborts, 1);

	/* Abort after a part: the upload is aborted, no object. */
	assert_int_equal(stow_store_put_begin(s, "gone", 0, &w), 0);
	assert_int_equal(stow_store_put_append(w, big, 9 << 20), 0);
	stow_store_put_abort(w);
	assert_int_equal(F->mp_aborts, 2);
	assert_int_equal(stow_store_stat(s, "gone", NULL), STOW_ENOTFOUND);

	/* A 503 in the middle of the upload is retried. */
	assert_int_equal(stow_store_put_begin(s, "retry", 0, &w), 0);
	before = requests();
	script(503, NULL, "", NORMAL, 0);
	assert_int_equal(stow_store_put_append(w, big, 8 << 20), 0);
	assert_int_equal(requests(), before + 3); /* create, 503, part */
	assert_int_equal(stow_store_put_commit(w), 0);
	stow_buf_reset(&b);
	assert_int_equal(stow_store_get(s, "retry", 0, STOW_RANGE_END, &b), 0);
	assert_int_equal(b.len, 8 << 20);
	assert_memory_equal(b.data, big, 8 << 20);
	stow_buf_free(&b);
	stow_store_close(s);
}

/* One level of a listing: objects and common prefixes, each once, under
 * the store's own prefix (which never leaks into the keys). */
static int shallow_collect(void *ctx, const char *key, uint64_t size,
			   int is_dir)
{
	stow_buf *b = ctx;

	return stow_buf_printf(b, "%s%s=%llu ", key, is_dir ? "(d)" : "",
			       (unsigned long long)size);
}

static void test_list_shallow(void **state)
{
	stow_store *s = NULL;
	stow_buf b;

	(void)state;
	assert_int_equal(open_store(&s, "test", "sh", ""), 0);
	assert_int_equal(stow_store_put(s, "top", "1", 1, 0), 0);
	assert_int_equal(stow_store_put(s, "backups/a/x", "22", 2, 0), 0);
	assert_int_equal(stow_store_put(s, "backups/a/y", "3", 1, 0), 0);
	assert_int_equal(stow_store_put(s, "backups/b/x", "4", 1, 0), 0);
	assert_int_equal(stow_store_put(s, "kopia/ns/p/q", "5", 1, 0), 0);
	stow_buf_init(&b, 0);
	assert_int_equal(stow_store_list_shallow(s, "", shallow_collect, &b),
			 0);
	assert_non_null(strstr(F->last_target, "delimiter=%2F"));
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	assert_string_equal((char *)b.data,
			    "top=1 backups/(d)=0 kopia/(d)=0 ");
	stow_buf_reset(&b);
	assert_int_equal(
	    stow_store_list_shallow(s, "backups/", shallow_collect, &b), 0);
	assert_int_equal(stow_buf_append_u8(&b, 0), 0);
	assert_string_equal((char *)b.data, "backups/a/(d)=0 backups/b/(d)=0 ");
	assert_int_equal(stow_store_list_shallow(s, "backups", shallow_collect,
						 &b),
			 STOW_EINVAL);
	stow_buf_free(&b);
	stow_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_contract, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefixes_do_not_leak, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_list_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_listings, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_quirks, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_delete_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_shallow, setup,
					    teardown),
	};

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
