/* Fuzz target for the parsers of untrusted bytes in src/kube/ws.h: the
 * watch event-line decoder, the WebSocket frame reader, the handshake reply
 * parser and the exec status parser.
 *
 * Input: byte 0 picks the parser (low 2 bits) and, for the streaming ones,
 * a split (bits 2-7); the rest is the stream. Every parser must return
 * cleanly (sanitizers catch the rest), and the streaming decoders must not
 * depend on how the bytes are chunked: the whole input at once and the
 * same input in pieces give the same messages and the same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/ws.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* A digest of what a decoder delivered: count, types and bytes. */
typedef struct trace {
	size_t n;
	uint64_t h;
} trace;

static void mix(trace *t, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		t->h = (t->h ^ b[i]) * 1099511628211ULL;
	t->h = (t->h ^ len) * 1099511628211ULL;
}

static int on_event(void *ctx, int type, json_t *obj)
{
	trace *t = ctx;
	char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);

	check(type >= STOW_KUBE_ADDED && type <= STOW_KUBE_WATCH_ERROR);
	check(json_is_object(obj));
	t->n++;
	mix(t, &type, sizeof(type));
	if (s)
		mix(t, s, strlen(s));
	free(s);
	return 0;
}

static int watch_run(const uint8_t *p, size_t n, size_t step, trace *t)
{
	stow_kube_watch_decoder d;
	int rc = 0;

	stow_kube_watch_decoder_init(&d, 4096);
	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = stow_kube_watch_decoder_feed(
		    &d, p + off, n - off < step ? n - off : step, on_event, t);
	if (rc == 0)
		rc = stow_kube_watch_decoder_finish(&d, on_event, t);
	stow_kube_watch_decoder_free(&d);
	return rc;
}

static int on_message(void *ctx, int opcode, const uint8_t *data, size_t len)
{
	trace *t = ctx;

	check(opcode == STOW_WS_TEXT || opcode == STOW_WS_BINARY ||
	      opcode == STOW_WS_CLOSE || opcode == STOW_WS_PING ||
	      opcode == STOW_WS_PONG);
	check(len <= 4096);
	t->n++;
	mix(t, &opcode, sizeof(opcode));
	mix(t, data, len);
	return 0;
}

static int ws_run(const uint8_t *p, size_t n, size_t step, bool masked,
		  trace *t)
{
	stow_ws_reader r;
	int rc = 0;

	stow_ws_reader_init(&r, 4096, masked);
	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = stow_ws_reader_feed(&r, p + off,
					 n - off < step ? n - off : step,
					 on_message, t);
	stow_ws_reader_free(&r);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, split;
	const uint8_t *p;
	size_t n;

	if (size < 1)
		return 0;
	mode = data[0] & 3;
	split = (uint8_t)(data[0] >> 2);
	p = data + 1;
	n = size - 1;
	switch (mode) {
	case 0: {
		trace a = {0}, b = {0};
		int ra = watch_run(p, n, n ? n : 1, &a);
		int rb = watch_run(p, n, (size_t)split + 1, &b);

		check(ra == rb && a.n == b.n && a.h == b.h);
		break;
	}
	case 1: {
		trace a = {0}, b = {0};
		bool masked = (split & 1) != 0;
		int ra = ws_run(p, n, n ? n : 1, masked, &a);
		int rb = ws_run(p, n, (size_t)(split >> 1) + 1, masked, &b);

		check(ra == rb && a.n == b.n && a.h == b.h);
		check(ra == 0 || ra == STOW_ECORRUPT || ra == STOW_ENOMEM);
		break;
	}
	case 2: {
		stow_ws_handshake_reply r;

		if (stow_ws_handshake_parse((const char *)p, n, &r) == 0) {
			check(r.status >= 0 && r.status <= 999);
			check(memchr(r.protocol, 0, sizeof(r.protocol)) !=
			      NULL);
			check(memchr(r.accept, 0, sizeof(r.accept)) != NULL);
		}
		break;
	}
	default: {
		char *msg = NULL;
		int code = 0;

		if (stow_kube_exec_status_parse(p, n, &code, &msg) == 0)
			check((code >= 0 && code <= 255 && !msg) ||
			      (code == -1 && msg));
		else
			check(!msg);
		free(msg);
		break;
	}
	}
	stow_err_clear();
	return 0;
}
