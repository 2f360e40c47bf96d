/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small WebSocket client (RFC 6455) for pods/exec: libcurl opens the
 * TCP+TLS connection (CONNECT_ONLY, with the client's TLS settings) and we
 * speak HTTP/1.1 Upgrade and the framing ourselves over curl_easy_send and
 * curl_easy_recv. Only what exec needs: whole messages out, reassembled
 * messages in, ping answered, close echoed.
 */
#include "kube/ws.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/crypto.h"
#include "kube/kube_internal.h"
#include "util/err.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX ((size_t)64 << 10)	 /* reply status line and headers */
#define ERROR_BODY_MAX ((size_t)1 << 20) /* body of a refused upgrade */
#define POLL_SLICE_MS 1000

int64_t stow_kube_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int stow_kube_query_escape(stow_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			STOW_TRY(stow_buf_append_u8(out, c));
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			STOW_TRY(stow_buf_append(out, e, 3));
		}
	}
	/* Keep the buffer a C string for callers that print it. */
	return stow_buf_append_str(out, "");
}

/* ---- frames ---------------------------------------------------------------
 */

static bool is_control(int opcode)
{
	return (opcode & 0x8) != 0;
}

int stow_ws_frame_encode(stow_buf *out, int opcode, bool fin,
			 const uint8_t *mask, const void *payload, size_t len)
{
	uint8_t hdr[STOW_WS_HEADER_MAX];
	size_t hl = 0, start;
	const uint8_t *src = payload;

	if (opcode < 0 || opcode > 0xf || (!payload && len))
		return stow_err_set(STOW_EINVAL,
				    "websocket: bad frame arguments");
	if (is_control(opcode) && (!fin || len > 125))
		return stow_err_set(STOW_EINVAL,
				    "websocket: control frames are final and "
				    "carry at most 125 bytes");
	hdr[hl++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
	if (len <= 125) {
		hdr[hl++] = (uint8_t)((mask ? 0x80 : 0) | len);
	} else if (len <= 0xffff) {
		hdr[hl++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		hdr[hl++] = (uint8_t)(len >> 8);
		hdr[hl++] = (uint8_t)len;
	} else {
		uint64_t l = len;

		hdr[hl++] = (uint8_t)((mask ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			hdr[hl++] = (uint8_t)(l >> (8 * i));
	}
	if (mask) {
		memcpy(hdr + hl, mask, 4);
		hl += 4;
	}
	STOW_TRY(stow_buf_reserve(out, hl + len));
	STOW_TRY(stow_buf_append(out, hdr, hl));
	start = out->len;
	STOW_TRY(stow_buf_append(out, payload, len));
	if (mask)
		for (size_t i = 0; i < len; i++)
			out->data[start + i] = (uint8_t)(src[i] ^ mask[i & 3]);
	return 0;
}

void stow_ws_reader_init(stow_ws_reader *r, size_t max_message,
			 bool expect_masked)
{
	r->max_message = max_message ? max_message : STOW_WS_MESSAGE_MAX;
	r->expect_masked = expect_masked;
	r->msg_opcode = 0;
	stow_buf_init(&r->in, r->max_message + STOW_WS_HEADER_MAX);
	stow_buf_init(&r->msg, r->max_message);
}

void stow_ws_reader_free(stow_ws_reader *r)
{
	if (!r)
		return;
	stow_buf_free(&r->in);
	stow_buf_free(&r->msg);
	r->msg_opcode = 0;
}

/* Size of the frame whose first bytes are in r->in: the header size while
 * the header is incomplete, else header plus payload. The header is
 * validated as soon as it is whole, so a hostile length is refused before
 * its payload is buffered. */
static int frame_size(stow_ws_reader *r, size_t *need, size_t *hdr_len,
		      uint64_t *payload_len)
{
	const uint8_t *b = r->in.data;
	size_t hl = 2;
	uint64_t len;
	int opcode;
	bool masked;

	if (r->in.len < 2) {
		*need = 2;
		return 0;
	}
	opcode = b[0] & 0x0f;
	masked = (b[1] & 0x80) != 0;
	len = b[1] & 0x7f;
	if (len == 126)
		hl += 2;
	else if (len == 127)
		hl += 8;
	if (masked)
		hl += 4;
	if (r->in.len < hl) {
		*need = hl;
		return 0;
	}
	if (b[0] & 0x70)
		return stow_err_set(STOW_ECORRUPT,
				    "websocket: reserved bits set (no "
				    "extension was negotiated)");
	if (opcode != STOW_WS_CONT && opcode != STOW_WS_TEXT &&
	    opcode != STOW_WS_BINARY && opcode != STOW_WS_CLOSE &&
	    opcode != STOW_WS_PING && opcode != STOW_WS_PONG)
		return stow_err_set(STOW_ECORRUPT,
				    "websocket: unknown opcode %d", opcode);
	if (masked != r->expect_masked)
		return stow_err_set(STOW_ECORRUPT, "websocket: frame %s masked",
				    masked ? "must not be" : "must be");
	if (len == 126) {
		len = (uint64_t)b[2] << 8 | b[3];
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | b[2 + i];
		if (len >> 63)
			return stow_err_set(STOW_ECORRUPT,
					    "websocket: 64-bit length with the "
					    "top bit set");
	}
	if (is_control(opcode)) {
		if (!(b[0] & 0x80))
			return stow_err_set(STOW_ECORRUPT,
					    "websocket: fragmented control "
					    "frame");
		if (len > 125)
			return stow_err_set(STOW_ECORRUPT,
					    "websocket: control frame of %llu "
					    "bytes (max 125)",
					    (unsigned long long)len);
	} else if (opcode == STOW_WS_CONT && !r->msg_opcode) {
		return stow_err_set(STOW_ECORRUPT,
				    "websocket: continuation frame without a "
				    "message");
	} else if (opcode != STOW_WS_CONT && r->msg_opcode) {
		return stow_err_set(STOW_ECORRUPT,
				    "websocket: new message inside a "
				    "fragmented one");
	}
	if (len > r->max_message ||
	    (opcode == STOW_WS_CONT && len > r->max_message - r->msg.len))
		return stow_err_set(STOW_ENOMEM,
				    "websocket: message over %zu bytes",
				    r->max_message);
	*hdr_len = hl;
	*payload_len = len;
	*need = hl + (size_t)len;
	return 1;
}

/* r->in holds exactly one whole, validated frame. */
static int frame_deliver(stow_ws_reader *r, size_t hl, size_t len,
			 stow_ws_message_fn fn, void *ctx)
{
	uint8_t *b = r->in.data;
	int opcode = b[0] & 0x0f;
	bool fin = (b[0] & 0x80) != 0;
	uint8_t *payload = b + hl;
	int rc;

	if (b[1] & 0x80) {
		const uint8_t *mask = b + hl - 4;

		for (size_t i = 0; i < len; i++)
			payload[i] ^= mask[i & 3];
	}
	if (is_control(opcode))
		return fn(ctx, opcode, payload, len);
	if (opcode != STOW_WS_CONT && fin)
		return fn(ctx, opcode, payload, len);
	if (opcode != STOW_WS_CONT)
		r->msg_opcode = opcode;
	STOW_TRY(stow_buf_append(&r->msg, payload, len));
	if (!fin)
		return 0;
	opcode = r->msg_opcode;
	r->msg_opcode = 0;
	rc = fn(ctx, opcode, r->msg.data ? r->msg.data : payload, r->msg.len);
	stow_buf_reset(&r->msg);
	return rc;
}

int stow_ws_reader_feed(stow_ws_reader *r, const void *p, size_t n,
			stow_ws_message_fn fn, void *ctx)
{
	const uint8_t *src = p;

	while (n > 0) {
		size_t need = 0, hl = 0, take;
		uint64_t len = 0;
		int whole;

		whole = frame_size(r, &need, &hl, &len);
		if (whole < 0)
			return whole;
		/* Take only what completes this frame (or its header), so the
		 * buffer never holds more than one frame. */
		take = need - r->in.len;
		if (take > n)
			take = n;
		STOW_TRY(stow_buf_append(&r->in, src, take));
		src += take;
		n -= take;
		if (!whole) {
			/* Header just completed: validate it and learn the
			 * payload size before taking more. */
			whole = frame_size(r, &need, &hl, &len);
			if (whole < 0)
				return whole;
			if (!whole)
				continue;
			if (need > r->in.len)
				continue;
		}
		if (r->in.len == need) {
			int rc = frame_deliver(r, hl, (size_t)len, fn, ctx);

			stow_buf_reset(&r->in);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ---- handshake ------------------------------------------------------------
 */

int stow_ws_accept_for_key(const char *key, char out[29])
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	_cleanup_free_ char *enc = NULL;
	uint8_t digest[20];

	stow_buf_init(&b, 256);
	STOW_TRY(stow_buf_printf(&b, "%s%s", key, WS_GUID));
	STOW_TRY(stow_sha1(b.data, b.len, digest));
	STOW_TRY(stow_kube_b64_encode(digest, sizeof(digest), &enc));
	if (strlen(enc) != 28)
		return stow_err_set(STOW_EIO, "websocket: accept key length");
	memcpy(out, enc, 29);
	return 0;
}

static void copy_trimmed(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Does a comma-separated header value contain `token` (any case)? */
static bool has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return true;
	}
	return false;
}

static bool header_is(const char *name, size_t nl, const char *want)
{
	return nl == strlen(want) && strncasecmp(name, want, nl) == 0;
}

int stow_ws_handshake_parse(const char *head, size_t len,
			    stow_ws_handshake_reply *out)
{
	const char *p = head, *end = head + len, *eol;
	bool upgrade = false, connection = false;
	long status = 0;
	int digits = 0;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	eol = memchr(p, '\n', (size_t)(end - p));
	if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return stow_err_set(STOW_ECORRUPT,
				    "websocket: bad HTTP status line");
	for (const char *d = p + 9;
	     d < eol && isdigit((unsigned char)*d) && digits < 4; d++) {
		status = status * 10 + (*d - '0');
		digits++;
	}
	if (digits != 3)
		return stow_err_set(STOW_ECORRUPT,
				    "websocket: bad HTTP status code");
	out->status = status;
	p = eol + 1;
	while (p < end) {
		const char *colon, *v, *ve;
		size_t nl;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			return stow_err_set(STOW_ECORRUPT,
					    "websocket: unterminated header");
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break; /* the blank line */
		colon = memchr(p, ':', (size_t)(ve - p));
		if (!colon || colon == p)
			return stow_err_set(STOW_ECORRUPT,
					    "websocket: malformed header line");
		nl = (size_t)(colon - p);
		v = colon + 1;
		if (header_is(p, nl, "Upgrade")) {
			upgrade = has_token(v, (size_t)(ve - v), "websocket");
		} else if (header_is(p, nl, "Connection")) {
			connection = has_token(v, (size_t)(ve - v), "upgrade");
		} else if (header_is(p, nl, "Sec-WebSocket-Protocol")) {
			copy_trimmed(out->protocol, sizeof(out->protocol), v,
				     (size_t)(ve - v));
		} else if (header_is(p, nl, "Sec-WebSocket-Accept")) {
			copy_trimmed(out->accept, sizeof(out->accept), v,
				     (size_t)(ve - v));
		} else if (header_is(p, nl, "Content-Length")) {
			char num[32];
			char *e = NULL;
			unsigned long long cl;

			copy_trimmed(num, sizeof(num), v, (size_t)(ve - v));
			errno = 0;
			cl = strtoull(num, &e, 10);
			if (!num[0] || *e || errno || num[0] == '-' ||
			    cl > (unsigned long long)INT64_MAX)
				return stow_err_set(STOW_ECORRUPT,
						    "websocket: bad "
						    "Content-Length");
			out->content_length = (long long)cl;
		}
		p = eol + 1;
	}
	out->upgrade_ok = upgrade && connection;
	return 0;
}

/* ---- the connection -------------------------------------------------------
 */

struct stow_ws {
	CURL *h;
	curl_socket_t sock;
	stow_ws_reader rd;
	stow_buf pending; /* frame bytes that came with the reply head */
	stow_buf out;	  /* scratch for encoding */
	char protocol[64];
	int64_t deadline_ms;
	bool close_sent;
	bool closed; /* a close frame arrived */
	/* the caller's callback during stow_ws_run */
	stow_ws_message_fn fn;
	void *ctx;
};

static int wait_socket(stow_ws *ws, short events, int64_t deadline_ms)
{
	struct pollfd pfd = {.fd = (int)ws->sock, .events = events};
	int slice = POLL_SLICE_MS, rc;

	if (deadline_ms) {
		int64_t left = deadline_ms - stow_kube_now_ms();

		if (left <= 0)
			return stow_err_set(STOW_ETIMEOUT,
					    "websocket: deadline passed");
		if (left < slice)
			slice = (int)left;
	}
	rc = poll(&pfd, 1, slice);
	if (rc < 0 && errno != EINTR)
		return stow_err_set(STOW_EIO, "websocket: poll: %s",
				    strerror(errno));
	return 0;
}

static int send_all(stow_ws *ws, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		size_t sent = 0;
		CURLcode cc = curl_easy_send(ws->h, b, n, &sent);

		if (cc == CURLE_AGAIN) {
			STOW_TRY(wait_socket(ws, POLLOUT, ws->deadline_ms));
			continue;
		}
		if (cc != CURLE_OK)
			return stow_err_set(STOW_EIO, "websocket: send: %s",
					    curl_easy_strerror(cc));
		b += sent;
		n -= sent;
	}
	return 0;
}

/* Some bytes into buf: *got = 0 means the peer closed the connection. */
static int recv_some(stow_ws *ws, void *buf, size_t cap, size_t *got)
{
	for (;;) {
		CURLcode cc = curl_easy_recv(ws->h, buf, cap, got);

		if (cc == CURLE_AGAIN) {
			STOW_TRY(wait_socket(ws, POLLIN, ws->deadline_ms));
			continue;
		}
		if (cc != CURLE_OK)
			return stow_err_set(STOW_EIO, "websocket: receive: %s",
					    curl_easy_strerror(cc));
		return 0;
	}
}

void stow_ws_free(stow_ws *ws)
{
	if (!ws)
		return;
	if (ws->h)
		curl_easy_cleanup(ws->h);
	stow_ws_reader_free(&ws->rd);
	stow_buf_free(&ws->pending);
	stow_buf_free(&ws->out);
	free(ws);
}

static void ws_freep(stow_ws **p)
{
	stow_ws_free(*p);
}

const char *stow_ws_protocol(const stow_ws *ws)
{
	return ws->protocol;
}

int stow_ws_send(stow_ws *ws, int opcode, const void *p, size_t n)
{
	uint8_t mask[4];

	/* A fresh mask per frame (RFC 6455 §5.3) keeps intermediaries from
	 * seeing attacker-chosen bytes on the wire. */
	STOW_TRY(stow_random(mask, sizeof(mask)));
	stow_buf_reset(&ws->out);
	STOW_TRY(stow_ws_frame_encode(&ws->out, opcode, true, mask, p, n));
	if (opcode == STOW_WS_CLOSE)
		ws->close_sent = true;
	return send_all(ws, ws->out.data, ws->out.len);
}

int stow_ws_close(stow_ws *ws, uint16_t code)
{
	uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};

	if (!ws || ws->close_sent)
		return 0;
	return stow_ws_send(ws, STOW_WS_CLOSE, b, sizeof(b));
}

/* Split "https://host:port/prefix/path?q" into the Host header value and
 * the request target. */
static int split_url(const char *url, stow_buf *host, stow_buf *target)
{
	const char *h = strstr(url, "://"), *slash;

	if (!h)
		return stow_err_set(STOW_EINVAL, "websocket: bad URL %s", url);
	h += 3;
	slash = strchr(h, '/');
	if (!slash || slash == h)
		return stow_err_set(STOW_EINVAL, "websocket: bad URL %s", url);
	STOW_TRY(stow_buf_append(host, h, (size_t)(slash - h)));
	STOW_TRY(stow_buf_append_str(host, ""));
	return stow_buf_append_str(target, slash);
}

/* Read the reply head; bytes after it stay in ws->pending. */
static int read_head(stow_ws *ws, stow_buf *head, size_t *head_len)
{
	uint8_t chunk[4096];

	for (;;) {
		size_t got = 0;
		uint8_t *end;

		if (head->len >= 4 &&
		    (end = memmem(head->data, head->len, "\r\n\r\n", 4))) {
			*head_len = (size_t)(end - head->data) + 4;
			return stow_buf_append(&ws->pending,
					       head->data + *head_len,
					       head->len - *head_len);
		}
		STOW_TRY(recv_some(ws, chunk, sizeof(chunk), &got));
		if (got == 0)
			return stow_err_set(STOW_EIO,
					    "websocket: connection closed "
					    "during the handshake");
		if (head->len + got > HEAD_MAX)
			return stow_err_set(STOW_ECORRUPT,
					    "websocket: reply head over %zu "
					    "bytes",
					    HEAD_MAX);
		STOW_TRY(stow_buf_append(head, chunk, got));
	}
}

/* A refused upgrade: read the (capped) body and map it to an error. */
static int refused(stow_ws *ws, const stow_ws_handshake_reply *rep,
		   const char *what)
{
	_cleanup_(stow_buf_freep) stow_buf body = {0};
	uint8_t chunk[4096];
	size_t want;

	stow_buf_init(&body, ERROR_BODY_MAX);
	want = rep->content_length >= 0 &&
		       (unsigned long long)rep->content_length < ERROR_BODY_MAX
		   ? (size_t)rep->content_length
		   : ERROR_BODY_MAX;
	if (stow_buf_append(&body, ws->pending.data,
			    ws->pending.len < want ? ws->pending.len : want))
		want = 0;
	while (body.len < want) {
		size_t got = 0;

		if (recv_some(ws, chunk, sizeof(chunk), &got) || got == 0)
			break;
		if (got > want - body.len)
			got = want - body.len;
		if (stow_buf_append(&body, chunk, got))
			break;
	}
	return stow_kube_status_error(rep->status, what,
				      (const char *)body.data, body.len);
}

int stow_ws_connect(stow_ws **out, stow_kube *k, const char *path,
		    const char *const *protocols, int64_t deadline_ms)
{
	_cleanup_(ws_freep) stow_ws *ws = NULL;
	_cleanup_(stow_buf_freep) stow_buf url = {0};
	_cleanup_(stow_buf_freep) stow_buf host = {0};
	_cleanup_(stow_buf_freep) stow_buf target = {0};
	_cleanup_(stow_buf_freep) stow_buf req = {0};
	_cleanup_(stow_buf_freep) stow_buf head = {0};
	_cleanup_(stow_buf_freep) stow_buf what = {0};
	_cleanup_free_ char *auth = NULL;
	_cleanup_free_ char *key = NULL;
	const stow_kube_config *cfg = stow_kube_config_of(k);
	stow_ws_handshake_reply rep;
	char errbuf[CURL_ERROR_SIZE] = "";
	char accept[29];
	uint8_t nonce[16];
	curl_socket_t sock = CURL_SOCKET_BAD;
	size_t head_len = 0;
	bool offered = false;
	CURLcode cc;

	*out = NULL;
	if (!path || path[0] != '/' || !protocols || !protocols[0])
		return stow_err_set(STOW_EINVAL,
				    "websocket: a path and protocols are "
				    "required");
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	ws->sock = CURL_SOCKET_BAD;
	ws->deadline_ms = deadline_ms;
	stow_ws_reader_init(&ws->rd, 0, false);
	stow_buf_init(&ws->pending, HEAD_MAX);
	stow_buf_init(&ws->out, 0);
	stow_buf_init(&url, 0);
	stow_buf_init(&host, 0);
	stow_buf_init(&target, 0);
	stow_buf_init(&req, 0);
	stow_buf_init(&head, HEAD_MAX);
	stow_buf_init(&what, 0);
	STOW_TRY(stow_buf_printf(&what, "GET %s", path));
	{
		/* The query (exec's command words) is noise in a message. */
		char *q = strchr((char *)what.data, '?');

		if (q)
			*q = '\0';
	}

	STOW_TRY(stow_kube_url(k, path, &url));
	STOW_TRY(split_url((const char *)url.data, &host, &target));
	STOW_TRY(stow_kube_auth_header(k, &auth));
	STOW_TRY(stow_random(nonce, sizeof(nonce)));
	STOW_TRY(stow_kube_b64_encode(nonce, sizeof(nonce), &key));
	STOW_TRY(stow_ws_accept_for_key(key, accept));

	stow_kube_rate_wait(k);
	ws->h = curl_easy_init();
	if (!ws->h)
		return stow_err_set(STOW_ENOMEM, "curl_easy_init failed");
	STOW_TRY(stow_kube_curl_setup(k, ws->h));
	curl_easy_setopt(ws->h, CURLOPT_URL, (const char *)url.data);
	curl_easy_setopt(ws->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(ws->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ws->h, CURLOPT_ERRORBUFFER, errbuf);
	if (deadline_ms) {
		int64_t left = deadline_ms - stow_kube_now_ms();

		if (left <= 0)
			return stow_err_set(STOW_ETIMEOUT,
					    "%s: deadline passed before "
					    "connecting",
					    (const char *)what.data);
		curl_easy_setopt(ws->h, CURLOPT_TIMEOUT_MS, (long)left);
		curl_easy_setopt(ws->h, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
	}
	cc = curl_easy_perform(ws->h);
	curl_easy_setopt(ws->h, CURLOPT_ERRORBUFFER, NULL);
	if (cc != CURLE_OK)
		return stow_err_set(
		    cc == CURLE_OPERATION_TIMEDOUT ? STOW_ETIMEOUT : STOW_EIO,
		    "%s: connecting: %s", (const char *)what.data,
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	if (curl_easy_getinfo(ws->h, CURLINFO_ACTIVESOCKET, &sock) !=
		CURLE_OK ||
	    sock == CURL_SOCKET_BAD)
		return stow_err_set(STOW_EIO, "%s: no socket after connect",
				    (const char *)what.data);
	ws->sock = sock;

	STOW_TRY(stow_buf_printf(
	    &req,
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "User-Agent: %s\r\n"
	    "Sec-WebSocket-Protocol: ",
	    (const char *)target.data, (const char *)host.data, key,
	    cfg && cfg->user_agent ? cfg->user_agent
				   : "stowage/" STOW_VERSION));
	for (size_t i = 0; protocols[i]; i++)
		STOW_TRY(
		    stow_buf_printf(&req, "%s%s", i ? ", " : "", protocols[i]));
	STOW_TRY(stow_buf_append_str(&req, "\r\n"));
	if (auth)
		STOW_TRY(stow_buf_printf(&req, "Authorization: %s\r\n", auth));
	STOW_TRY(stow_buf_append_str(&req, "\r\n"));
	{
		int rc = send_all(ws, req.data, req.len);

		/* The request carries the token: do not keep it around. */
		stow_secure_zero(req.data, req.len);
		if (rc)
			return stow_err_wrap(rc, "%s", (const char *)what.data);
	}

	{
		int rc = read_head(ws, &head, &head_len);

		if (rc)
			return stow_err_wrap(rc, "%s", (const char *)what.data);
	}
	STOW_TRY(
	    stow_ws_handshake_parse((const char *)head.data, head_len, &rep));
	if (rep.status != 101)
		return refused(ws, &rep, (const char *)what.data);
	if (!rep.upgrade_ok)
		return stow_err_set(STOW_ECORRUPT,
				    "%s: 101 reply without Upgrade: websocket",
				    (const char *)what.data);
	if (strcmp(rep.accept, accept) != 0)
		return stow_err_set(STOW_ECORRUPT,
				    "%s: wrong Sec-WebSocket-Accept",
				    (const char *)what.data);
	for (size_t i = 0; protocols[i]; i++)
		if (strcmp(rep.protocol, protocols[i]) == 0)
			offered = true;
	if (!offered)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "%s: server chose subprotocol \"%s\", not "
				    "one we offered",
				    (const char *)what.data, rep.protocol);
	memcpy(ws->protocol, rep.protocol, sizeof(ws->protocol));
	*out = STOW_TAKE_PTR(ws);
	return 0;
}

/* Control frames are handled here; data messages go to the caller. */
static int on_message(void *ctx, int opcode, const uint8_t *data, size_t len)
{
	stow_ws *ws = ctx;

	switch (opcode) {
	case STOW_WS_PING:
		if (ws->close_sent)
			return 0;
		return stow_ws_send(ws, STOW_WS_PONG, data, len);
	case STOW_WS_PONG: return 0;
	case STOW_WS_CLOSE:
		ws->closed = true;
		if (!ws->close_sent) {
			/* Echo the status code (RFC 6455 §5.5.1); a send
			 * failure no longer matters, the peer is leaving. */
			(void)stow_ws_send(ws, STOW_WS_CLOSE, data,
					   len >= 2 ? 2 : 0);
			stow_err_clear();
		}
		return 1;
	default: return ws->fn(ws->ctx, opcode, data, len);
	}
}

int stow_ws_run(stow_ws *ws, stow_ws_message_fn fn, void *ctx,
		int64_t deadline_ms)
{
	uint8_t chunk[16384];
	int rc;

	ws->fn = fn;
	ws->ctx = ctx;
	ws->deadline_ms = deadline_ms;
	if (ws->closed)
		return 0;
	if (ws->pending.len) {
		rc = stow_ws_reader_feed(&ws->rd, ws->pending.data,
					 ws->pending.len, on_message, ws);
		stow_buf_reset(&ws->pending);
		if (rc)
			return ws->closed && rc == 1 ? 0 : rc;
	}
	for (;;) {
		size_t got = 0;

		/* recv only waits (and checks the deadline) when no data is
		 * ready: a peer that never pauses must not outlive it. */
		if (deadline_ms && stow_kube_now_ms() >= deadline_ms)
			return stow_err_set(STOW_ETIMEOUT,
					    "websocket: deadline passed");
		STOW_TRY(recv_some(ws, chunk, sizeof(chunk), &got));
		if (got == 0)
			return 0;
		rc = stow_ws_reader_feed(&ws->rd, chunk, got, on_message, ws);
		if (rc)
			return ws->closed && rc == 1 ? 0 : rc;
	}
}
