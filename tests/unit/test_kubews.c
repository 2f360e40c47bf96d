/* Unit tests of the wire decoders in src/kube/ws.h: WebSocket frames
 * (RFC 6455's own examples), the opening handshake, watch event lines fed
 * in every possible split, and the exec status channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/ws.h"
#include "util/err.h"

/* ---- collecting callbacks ------------------------------------------------ */

typedef struct msgs {
	int n;
	int opcode[16];
	stow_buf data[16];
} msgs;

static int collect(void *ctx, int opcode, const uint8_t *data, size_t len)
{
	msgs *m = ctx;

	assert_true(m->n < 16);
	m->opcode[m->n] = opcode;
	stow_buf_init(&m->data[m->n], 0);
	assert_int_equal(stow_buf_append(&m->data[m->n], data, len), 0);
	m->n++;
	return 0;
}

static void msgs_free(msgs *m)
{
	for (int i = 0; i < m->n; i++)
		stow_buf_free(&m->data[i]);
	m->n = 0;
}

static void assert_msg(const msgs *m, int i, int opcode, const void *p,
		       size_t len)
{
	assert_true(i < m->n);
	assert_int_equal(m->opcode[i], opcode);
	assert_int_equal(m->data[i].len, len);
	if (len)
		assert_memory_equal(m->data[i].data, p, len);
}

/* Feed `p` to a fresh reader in chunks of `step` bytes (0 = all at once). */
static int feed_steps(const uint8_t *p, size_t n, size_t step,
		      bool expect_masked, size_t max, msgs *m)
{
	stow_ws_reader r;
	int rc = 0;

	stow_ws_reader_init(&r, max, expect_masked);
	if (!step)
		step = n ? n : 1;
	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = stow_ws_reader_feed(
		    &r, p + off, n - off < step ? n - off : step, collect, m);
	stow_ws_reader_free(&r);
	return rc;
}

/* ---- RFC 6455 §5.7 examples ---------------------------------------------- */

static const uint8_t hello_unmasked[] = {0x81, 0x05, 0x48, 0x65,
					 0x6c, 0x6c, 0x6f};
static const uint8_t hello_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				       0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const uint8_t hel_lo_fragments[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
					   0x80, 0x02, 0x6c, 0x6f};
static const uint8_t ping_hello[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t pong_hello_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					    0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const uint8_t mask_37fa213d[4] = {0x37, 0xfa, 0x21, 0x3d};

static void test_encode_rfc_examples(void **state)
{
	stow_buf b;
	uint8_t *big;

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_TEXT, true, NULL, "Hello", 5), 0);
	assert_int_equal(b.len, sizeof(hello_unmasked));
	assert_memory_equal(b.data, hello_unmasked, b.len);

	stow_buf_reset(&b);
	assert_int_equal(stow_ws_frame_encode(&b, STOW_WS_TEXT, true,
					      mask_37fa213d, "Hello", 5),
			 0);
	assert_memory_equal(b.data, hello_masked, sizeof(hello_masked));

	stow_buf_reset(&b);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_TEXT, false, NULL, "Hel", 3), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_CONT, true, NULL, "lo", 2), 0);
	assert_memory_equal(b.data, hel_lo_fragments, sizeof(hel_lo_fragments));

	stow_buf_reset(&b);
	assert_int_equal(stow_ws_frame_encode(&b, STOW_WS_PONG, true,
					      mask_37fa213d, "Hello", 5),
			 0);
	assert_memory_equal(b.data, pong_hello_masked,
			    sizeof(pong_hello_masked));

	/* 256 bytes: 16-bit length; 65536 bytes: 64-bit length. */
	big = calloc(1, 65536);
	assert_non_null(big);
	stow_buf_reset(&b);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 256), 0);
	assert_int_equal(b.len, 4 + 256);
	assert_memory_equal(b.data, ((uint8_t[]){0x82, 0x7e, 0x01, 0x00}), 4);
	stow_buf_reset(&b);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 65536),
	    0);
	assert_int_equal(b.len, 10 + 65536);
	assert_memory_equal(
	    b.data, ((uint8_t[]){0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}), 10);
	/* 125 is the last 7-bit length, 126 the first 16-bit one. */
	stow_buf_reset(&b);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 125), 0);
	assert_int_equal(b.data[1], 125);
	stow_buf_reset(&b);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 126), 0);
	assert_int_equal(b.data[1], 126);
	assert_int_equal(b.len, 4 + 126);

	/* Control frames: final and at most 125 bytes. */
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_PING, true, NULL, big, 126),
	    STOW_EINVAL);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_CLOSE, false, NULL, big, 2),
	    STOW_EINVAL);
	free(big);
	stow_buf_free(&b);
}

static void test_decode_rfc_examples(void **state)
{
	static const size_t steps[] = {0, 1, 2, 3, 5};
	msgs m = {0};

	(void)state;
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		assert_int_equal(feed_steps(hello_unmasked,
					    sizeof(hello_unmasked), steps[s],
					    false, 0, &m),
				 0);
		assert_int_equal(m.n, 1);
		assert_msg(&m, 0, STOW_WS_TEXT, "Hello", 5);
		msgs_free(&m);

		/* A server reads masked frames. */
		assert_int_equal(feed_steps(hello_masked, sizeof(hello_masked),
					    steps[s], true, 0, &m),
				 0);
		assert_int_equal(m.n, 1);
		assert_msg(&m, 0, STOW_WS_TEXT, "Hello", 5);
		msgs_free(&m);

		assert_int_equal(feed_steps(hel_lo_fragments,
					    sizeof(hel_lo_fragments), steps[s],
					    false, 0, &m),
				 0);
		assert_int_equal(m.n, 1);
		assert_msg(&m, 0, STOW_WS_TEXT, "Hello", 5);
		msgs_free(&m);

		assert_int_equal(feed_steps(ping_hello, sizeof(ping_hello),
					    steps[s], false, 0, &m),
				 0);
		assert_int_equal(m.n, 1);
		assert_msg(&m, 0, STOW_WS_PING, "Hello", 5);
		msgs_free(&m);
	}
}

static void test_decode_lengths(void **state)
{
	stow_buf b;
	uint8_t *big = malloc(70000);
	msgs m = {0};

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 70000; i++)
		big[i] = (uint8_t)(i * 7);
	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 0), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 256), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 70000),
	    0);
	assert_int_equal(feed_steps(b.data, b.len, 997, false, 0, &m), 0);
	assert_int_equal(m.n, 3);
	assert_msg(&m, 0, STOW_WS_BINARY, NULL, 0);
	assert_msg(&m, 1, STOW_WS_BINARY, big, 256);
	assert_msg(&m, 2, STOW_WS_BINARY, big, 70000);
	msgs_free(&m);

	/* Masked round trip, one byte at a time. */
	stow_buf_reset(&b);
	assert_int_equal(stow_ws_frame_encode(&b, STOW_WS_BINARY, true,
					      mask_37fa213d, big, 300),
			 0);
	assert_int_equal(feed_steps(b.data, b.len, 1, true, 0, &m), 0);
	assert_int_equal(m.n, 1);
	assert_msg(&m, 0, STOW_WS_BINARY, big, 300);
	msgs_free(&m);

	/* Over the cap: refused from the header, before the payload. */
	stow_buf_reset(&b);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_BINARY, true, NULL, big, 1000), 0);
	assert_int_equal(feed_steps(b.data, 4, 0, false, 999, &m), STOW_ENOMEM);
	assert_int_equal(m.n, 0);
	free(big);
	stow_buf_free(&b);
}

static void test_fragments_with_control(void **state)
{
	stow_buf b;
	msgs m = {0};

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(stow_ws_frame_encode(&b, STOW_WS_BINARY, false, NULL,
					      "\x01"
					      "ab",
					      3),
			 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_PING, true, NULL, "p", 1), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_CONT, false, NULL, "cd", 2), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_CONT, false, NULL, "", 0), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_CONT, true, NULL, "e", 1), 0);
	assert_int_equal(
	    stow_ws_frame_encode(&b, STOW_WS_CLOSE, true, NULL, "\x03\xe8", 2),
	    0);
	for (size_t step = 0; step < 8; step++) {
		assert_int_equal(feed_steps(b.data, b.len, step, false, 0, &m),
				 0);
		assert_int_equal(m.n, 3);
		assert_msg(&m, 0, STOW_WS_PING, "p", 1);
		assert_msg(&m, 1, STOW_WS_BINARY,
			   "\x01"
			   "abcde",
			   6);
		assert_msg(&m, 2, STOW_WS_CLOSE, "\x03\xe8", 2);
		msgs_free(&m);
	}
	/* Fragments together over the cap. */
	assert_int_equal(feed_steps(b.data, b.len, 0, false, 5, &m),
			 STOW_ENOMEM);
	msgs_free(&m);
	stow_buf_free(&b);
}

static void test_decode_violations(void **state)
{
	static const struct {
		const char *name;
		uint8_t b[14];
		size_t n;
		bool masked;
		int rc;
	} bad[] = {
	    {"reserved bit", {0xc1, 0x00}, 2, false, STOW_ECORRUPT},
	    {"unknown opcode", {0x83, 0x00}, 2, false, STOW_ECORRUPT},
	    {"control opcode 0xb", {0x8b, 0x00}, 2, false, STOW_ECORRUPT},
	    {"fragmented ping", {0x09, 0x00}, 2, false, STOW_ECORRUPT},
	    {"long ping", {0x89, 0x7e, 0x00, 0x7e}, 4, false, STOW_ECORRUPT},
	    {"continuation first", {0x80, 0x00}, 2, false, STOW_ECORRUPT},
	    {"new message inside one",
	     {0x01, 0x01, 'a', 0x81, 0x01, 'b'},
	     6,
	     false,
	     STOW_ECORRUPT},
	    {"64-bit top bit",
	     {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1},
	     10,
	     false,
	     STOW_ECORRUPT},
	    {"huge 64-bit length",
	     {0x82, 0x7f, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0},
	     10,
	     false,
	     STOW_ENOMEM},
	    {"masked from a server",
	     {0x81, 0x81, 1, 2, 3, 4, 'x'},
	     7,
	     false,
	     STOW_ECORRUPT},
	    {"unmasked from a client",
	     {0x81, 0x01, 'x'},
	     3,
	     true,
	     STOW_ECORRUPT},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msgs m = {0};
		int rc =
		    feed_steps(bad[i].b, bad[i].n, 0, bad[i].masked, 0, &m);

		if (rc != bad[i].rc)
			fail_msg("%s: got %d (%s), want %d", bad[i].name, rc,
				 stow_err_msg(), bad[i].rc);
		msgs_free(&m);
	}
}

/* ---- handshake --------------------------------------------------------------
 */

static void test_accept_key(void **state)
{
	char out[29];

	(void)state;
	/* RFC 6455 §1.3. */
	assert_int_equal(
	    stow_ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_handshake_parse(void **state)
{
	static const char ok[] =
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\n"
	    "Connection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n"
	    "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
	    "\r\n";
	static const char refused[] = "HTTP/1.1 404 Not Found\r\n"
				      "Content-Type: application/json\r\n"
				      "Content-Length: 42\r\n"
				      "\r\n";
	static const char no_upgrade[] = "HTTP/1.1 101 OK\r\n"
					 "Connection: close\r\n\r\n";
	stow_ws_handshake_reply r;

	(void)state;
	assert_int_equal(stow_ws_handshake_parse(ok, sizeof(ok) - 1, &r), 0);
	assert_int_equal(r.status, 101);
	assert_true(r.upgrade_ok);
	assert_string_equal(r.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_string_equal(r.protocol, "v5.channel.k8s.io");

	assert_int_equal(
	    stow_ws_handshake_parse(refused, sizeof(refused) - 1, &r), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.content_length, 42);
	assert_false(r.upgrade_ok);

	assert_int_equal(
	    stow_ws_handshake_parse(no_upgrade, sizeof(no_upgrade) - 1, &r), 0);
	assert_false(r.upgrade_ok);
	assert_string_equal(r.protocol, "");

	assert_int_equal(
	    stow_ws_handshake_parse("HTTP/1.1 1x1 X\r\n\r\n", 18, &r),
	    STOW_ECORRUPT);
	assert_int_equal(stow_ws_handshake_parse("SSH-2.0\r\n\r\n", 11, &r),
			 STOW_ECORRUPT);
	assert_int_equal(
	    stow_ws_handshake_parse("HTTP/1.1 101 X\r\nbroken\r\n\r\n", 26, &r),
	    STOW_ECORRUPT);
	assert_int_equal(
	    stow_ws_handshake_parse(
		"HTTP/1.1 400 X\r\nContent-Length: -1\r\n\r\n", 38, &r),
	    STOW_ECORRUPT);
}

static void test_query_escape(void **state)
{
	stow_buf b;

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_kube_query_escape(&b, "sh -c 'echo a&b=c'/~x_y.z"), 0);
	assert_string_equal((const char *)b.data,
			    "sh%20-c%20%27echo%20a%26b%3Dc%27%2F~x_y.z");
	stow_buf_free(&b);
}

/* ---- watch lines ----------------------------------------------------------
 */

typedef struct events {
	int n;
	int type[16];
	char rv[16][16];
} events;

static int on_ev(void *ctx, int type, json_t *obj)
{
	events *e = ctx;
	const char *rv = json_string_value(json_object_get(
	    json_object_get(obj, "metadata"), "resourceVersion"));

	assert_true(e->n < 16);
	e->type[e->n] = type;
	snprintf(e->rv[e->n], sizeof(e->rv[0]), "%s", rv ? rv : "");
	e->n++;
	return 0;
}

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
    "{\"name\":\"a\",\"resourceVersion\":\"11\"}}}\n"
    "\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"12\",\"note\":\"line\\nbreak \\u00e9\"}}}\r\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
    "{\"resourceVersion\":\"15\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"16\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n";

static void check_stream_events(const events *e)
{
	assert_int_equal(e->n, 5);
	assert_int_equal(e->type[0], STOW_KUBE_ADDED);
	assert_string_equal(e->rv[0], "11");
	assert_int_equal(e->type[1], STOW_KUBE_MODIFIED);
	assert_string_equal(e->rv[1], "12");
	assert_int_equal(e->type[2], STOW_KUBE_BOOKMARK);
	assert_string_equal(e->rv[2], "15");
	assert_int_equal(e->type[3], STOW_KUBE_DELETED);
	assert_int_equal(e->type[4], STOW_KUBE_WATCH_ERROR);
}

static void test_watch_every_split(void **state)
{
	size_t n = sizeof(stream) - 1;

	(void)state;
	/* Two chunks split at every offset. */
	for (size_t cut = 0; cut <= n; cut++) {
		stow_kube_watch_decoder d;
		events e = {0};

		stow_kube_watch_decoder_init(&d, 0);
		assert_int_equal(
		    stow_kube_watch_decoder_feed(&d, stream, cut, on_ev, &e),
		    0);
		assert_int_equal(stow_kube_watch_decoder_feed(
				     &d, stream + cut, n - cut, on_ev, &e),
				 0);
		assert_int_equal(stow_kube_watch_decoder_finish(&d, on_ev, &e),
				 0);
		check_stream_events(&e);
		stow_kube_watch_decoder_free(&d);
	}
	/* Every chunk size. */
	for (size_t step = 1; step <= 64; step++) {
		stow_kube_watch_decoder d;
		events e = {0};

		stow_kube_watch_decoder_init(&d, 0);
		for (size_t off = 0; off < n; off += step)
			assert_int_equal(stow_kube_watch_decoder_feed(
					     &d, stream + off,
					     n - off < step ? n - off : step,
					     on_ev, &e),
					 0);
		assert_int_equal(stow_kube_watch_decoder_finish(&d, on_ev, &e),
				 0);
		check_stream_events(&e);
		stow_kube_watch_decoder_free(&d);
	}
}

static void test_watch_last_line_and_errors(void **state)
{
	static const char last[] =
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}";
	static const char *const bad[] = {
	    "{\"type\":\"ADDED\"\n",
	    "[1,2]\n",
	    "{\"type\":\"ADDED\",\"object\":[]}\n",
	    "{\"type\":7,\"object\":{}}\n",
	    "{\"type\":\"RENAMED\",\"object\":{}}\n",
	    "{\"object\":{}}\n",
	};
	stow_kube_watch_decoder d;
	events e = {0};
	char big[200];

	(void)state;
	stow_kube_watch_decoder_init(&d, 0);
	assert_int_equal(
	    stow_kube_watch_decoder_feed(&d, last, sizeof(last) - 1, on_ev, &e),
	    0);
	assert_int_equal(e.n, 0);
	assert_int_equal(stow_kube_watch_decoder_finish(&d, on_ev, &e), 0);
	assert_int_equal(e.n, 1);
	stow_kube_watch_decoder_free(&d);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		stow_kube_watch_decoder_init(&d, 0);
		assert_int_equal(stow_kube_watch_decoder_feed(
				     &d, bad[i], strlen(bad[i]), on_ev, &e),
				 STOW_ECORRUPT);
		stow_kube_watch_decoder_free(&d);
	}

	/* The line cap holds whether a line comes whole or in pieces. */
	memset(big, ' ', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	stow_kube_watch_decoder_init(&d, 100);
	assert_int_equal(
	    stow_kube_watch_decoder_feed(&d, big, sizeof(big), on_ev, &e),
	    STOW_ENOMEM);
	stow_kube_watch_decoder_free(&d);
	stow_kube_watch_decoder_init(&d, 100);
	assert_int_equal(stow_kube_watch_decoder_feed(&d, big, 60, on_ev, &e),
			 0);
	assert_int_equal(stow_kube_watch_decoder_feed(&d, big, 60, on_ev, &e),
			 STOW_ENOMEM);
	stow_kube_watch_decoder_free(&d);
}

static int stop_at_second(void *ctx, int type, json_t *obj)
{
	int *n = ctx;

	(void)type;
	(void)obj;
	return ++*n == 2 ? 42 : 0;
}

static void test_watch_handler_stops(void **state)
{
	stow_kube_watch_decoder d;
	int n = 0;

	(void)state;
	stow_kube_watch_decoder_init(&d, 0);
	assert_int_equal(stow_kube_watch_decoder_feed(&d, stream,
						      sizeof(stream) - 1,
						      stop_at_second, &n),
			 42);
	assert_int_equal(n, 2);
	stow_kube_watch_decoder_free(&d);
}

/* ---- exec status -----------------------------------------------------------
 */

static void test_exec_status(void **state)
{
	static const char success[] =
	    "{\"metadata\":{},\"status\":\"Success\"}";
	static const char exit7[] =
	    "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command "
	    "terminated with non-zero exit code: exit status 7\",\"reason\":"
	    "\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
	    "\"ExitCode\",\"message\":\"7\"}]}}";
	static const char internal[] =
	    "{\"status\":\"Failure\",\"message\":\"executable file not found\","
	    "\"reason\":\"InternalError\"}";
	static const char bad_code[] =
	    "{\"status\":\"Failure\",\"reason\":\"NonZeroExitCode\","
	    "\"details\":"
	    "{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"7x\"}]}}";
	char *msg = NULL;
	int code = 99;

	(void)state;
	assert_int_equal(stow_kube_exec_status_parse(
			     success, sizeof(success) - 1, &code, &msg),
			 0);
	assert_int_equal(code, 0);
	assert_null(msg);
	assert_int_equal(
	    stow_kube_exec_status_parse(exit7, sizeof(exit7) - 1, &code, &msg),
	    0);
	assert_int_equal(code, 7);
	assert_null(msg);
	assert_int_equal(stow_kube_exec_status_parse(
			     internal, sizeof(internal) - 1, &code, &msg),
			 0);
	assert_int_equal(code, -1);
	assert_string_equal(msg, "executable file not found");
	free(msg);
	msg = NULL;
	assert_int_equal(stow_kube_exec_status_parse(
			     bad_code, sizeof(bad_code) - 1, &code, &msg),
			 STOW_ECORRUPT);
	assert_int_equal(stow_kube_exec_status_parse("nope", 4, &code, &msg),
			 STOW_ECORRUPT);
	assert_int_equal(stow_kube_exec_status_parse("{\"status\":\"Maybe\"}",
						     18, &code, &msg),
			 STOW_ECORRUPT);
	assert_null(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_rfc_examples),
	    cmocka_unit_test(test_decode_rfc_examples),
	    cmocka_unit_test(test_decode_lengths),
	    cmocka_unit_test(test_fragments_with_control),
	    cmocka_unit_test(test_decode_violations),
	    cmocka_unit_test(test_accept_key),
	    cmocka_unit_test(test_handshake_parse),
	    cmocka_unit_test(test_query_escape),
	    cmocka_unit_test(test_watch_every_split),
	    cmocka_unit_test(test_watch_last_line_and_errors),
	    cmocka_unit_test(test_watch_handler_stops),
	    cmocka_unit_test(test_exec_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
