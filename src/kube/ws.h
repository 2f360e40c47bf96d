/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The streaming decoders of src/kube and the WebSocket client that pods/exec
 * runs over. Shared by watch.c, exec.c and ws.c only (and their unit tests
 * and fuzzers): not part of the client's API in kube.h.
 *
 * Everything decoded here comes off the network and is hostile: every
 * length is checked against a cap before anything is allocated, and a
 * violation is STOW_ECORRUPT (protocol) or STOW_ENOMEM (a cap), never a
 * crash.
 *
 * Threading: a decoder or a stow_ws belongs to one thread at a time.
 */
#ifndef STOW_KUBE_WS_H
#define STOW_KUBE_WS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/kube.h"
#include "util/buf.h"

/* ---- watch event lines -------------------------------------------------- */

/* The event type of an ERROR line (its object is a Status); the other
 * types are stow_kube_event_type. */
#define STOW_KUBE_WATCH_ERROR 4

/* Per event line (one JSON object), as kube.h promises. */
#define STOW_KUBE_WATCH_LINE_MAX ((size_t)16 << 20)

/* Called per decoded event with the type (stow_kube_event_type or
 * STOW_KUBE_WATCH_ERROR) and the borrowed object; a nonzero return stops
 * the decoder and is returned by stow_kube_watch_decoder_feed. */
typedef int (*stow_kube_watch_line_fn)(void *ctx, int type, json_t *obj);

/* Splits a watch stream ("{"type":…,"object":…}\n" per event, as the API
 * server writes it) into events, whatever the chunking of the bytes. Blank
 * lines are skipped; a line that is not such an object, an unknown type or
 * a line over max_line is STOW_ECORRUPT (STOW_ENOMEM for the cap) and the
 * decoder should then be dropped. */
typedef struct stow_kube_watch_decoder {
	stow_buf line; /* the bytes of the current, unfinished line */
	size_t max_line;
} stow_kube_watch_decoder;

/* max_line 0 = STOW_KUBE_WATCH_LINE_MAX. */
void stow_kube_watch_decoder_init(stow_kube_watch_decoder *d, size_t max_line);
int stow_kube_watch_decoder_feed(stow_kube_watch_decoder *d, const void *p,
				 size_t n, stow_kube_watch_line_fn fn,
				 void *ctx);
/* The stream ended: a last line without its newline is decoded too. */
int stow_kube_watch_decoder_finish(stow_kube_watch_decoder *d,
				   stow_kube_watch_line_fn fn, void *ctx);
void stow_kube_watch_decoder_free(stow_kube_watch_decoder *d);

/* ---- WebSocket frames (RFC 6455 §5) ------------------------------------- */

enum {
	STOW_WS_CONT = 0x0,
	STOW_WS_TEXT = 0x1,
	STOW_WS_BINARY = 0x2,
	STOW_WS_CLOSE = 0x8,
	STOW_WS_PING = 0x9,
	STOW_WS_PONG = 0xa,
};

/* Largest frame header: 2 + 8 (64-bit length) + 4 (mask key). */
#define STOW_WS_HEADER_MAX 14
/* Default cap on one (reassembled) message. */
#define STOW_WS_MESSAGE_MAX ((size_t)16 << 20)

/* Append one frame to out. mask = NULL writes an unmasked frame (what a
 * server sends); a client passes 4 fresh random bytes. Control frames
 * (close, ping, pong) must be final and carry at most 125 bytes
 * (STOW_EINVAL otherwise). */
int stow_ws_frame_encode(stow_buf *out, int opcode, bool fin,
			 const uint8_t *mask, const void *payload, size_t len);

/* Called per complete message: TEXT/BINARY (reassembled from its
 * fragments) and each control frame (CLOSE, PING, PONG) as it arrives.
 * data is borrowed and unmasked. Nonzero return stops and is returned. */
typedef int (*stow_ws_message_fn)(void *ctx, int opcode, const uint8_t *data,
				  size_t len);

/* Reassembles messages from a byte stream of frames, whatever its
 * chunking. Protocol violations (reserved bits, unknown opcodes, fragmented
 * or oversized control frames, a continuation without a start, a new
 * message inside a fragmented one, a 64-bit length with the top bit set,
 * masking other than expected) are STOW_ECORRUPT; a frame or message over
 * max_message is STOW_ENOMEM, refused from its header before any payload is
 * buffered. Non-minimal length encodings are accepted. expect_masked:
 * frames must be masked (a server reading a client) or must not be (a
 * client reading a server). After an error the reader must be dropped. */
typedef struct stow_ws_reader {
	stow_buf in;	/* bytes that do not yet make a whole frame */
	stow_buf msg;	/* payload of the fragmented message so far */
	int msg_opcode; /* its opcode; 0 = none in progress */
	size_t max_message;
	bool expect_masked;
} stow_ws_reader;

/* max_message 0 = STOW_WS_MESSAGE_MAX. */
void stow_ws_reader_init(stow_ws_reader *r, size_t max_message,
			 bool expect_masked);
int stow_ws_reader_feed(stow_ws_reader *r, const void *p, size_t n,
			stow_ws_message_fn fn, void *ctx);
void stow_ws_reader_free(stow_ws_reader *r);

/* ---- the opening handshake (RFC 6455 §4) -------------------------------- */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)),
 * 28 characters and a NUL. */
int stow_ws_accept_for_key(const char *key, char out[29]);

/* What the server answered to the Upgrade request. */
typedef struct stow_ws_handshake_reply {
	long status;	   /* 101 when the upgrade happened */
	char protocol[64]; /* Sec-WebSocket-Protocol, "" if none */
	char accept[64];   /* Sec-WebSocket-Accept, "" if none */
	bool upgrade_ok;   /* "Upgrade: websocket" and "Connection: upgrade" */
	long long content_length; /* -1 if absent */
} stow_ws_handshake_reply;

/* Parse a reply head (status line and headers up to and including the
 * blank line; `len` bytes). STOW_ECORRUPT for a malformed head. */
int stow_ws_handshake_parse(const char *head, size_t len,
			    stow_ws_handshake_reply *out);

/* ---- the connection ------------------------------------------------------ */

typedef struct stow_ws stow_ws;

/* Open a WebSocket to `path` (query included, already escaped) on the
 * client's server, offering `protocols` (NULL-terminated, in order of
 * preference) in Sec-WebSocket-Protocol. TLS and credentials come from the
 * client (stow_kube_curl_setup, stow_kube_auth_header). Fails with the
 * mapped error of a non-101 reply (the Status message included, see
 * kube.h), STOW_ECORRUPT for a bad handshake (wrong accept key, a protocol
 * we did not offer), STOW_ETIMEOUT when deadline_ms (a CLOCK_MONOTONIC
 * time in ms, 0 = none) passes. */
int stow_ws_connect(stow_ws **out, stow_kube *k, const char *path,
		    const char *const *protocols, int64_t deadline_ms);
/* The subprotocol the server chose ("" if none). */
const char *stow_ws_protocol(const stow_ws *ws);
/* Send one whole (unfragmented) message, masked. */
int stow_ws_send(stow_ws *ws, int opcode, const void *p, size_t n);
/* Receive until fn stops or the connection ends. Pings are answered and a
 * close is echoed by the reader itself before fn sees them. Returns 0 when
 * the server closed the connection (cleanly or not), fn's nonzero return,
 * STOW_ETIMEOUT at deadline_ms, STOW_ECORRUPT / STOW_ENOMEM for a bad
 * stream. */
int stow_ws_run(stow_ws *ws, stow_ws_message_fn fn, void *ctx,
		int64_t deadline_ms);
/* Send a close frame (status code, e.g. 1000) if none was sent yet. */
int stow_ws_close(stow_ws *ws, uint16_t code);
void stow_ws_free(stow_ws *ws);

/* Append s percent-encoded for a query value (all but RFC 3986's
 * unreserved characters). */
int stow_kube_query_escape(stow_buf *out, const char *s);

/* CLOCK_MONOTONIC now in milliseconds. */
int64_t stow_kube_now_ms(void);

/* ---- pod exec channel helpers ------------------------------------------- */

/* Read the Status a server writes on channel 3 at the end of an exec:
 * "Success" -> *exit_code 0; "Failure" with reason NonZeroExitCode ->
 * the ExitCode cause's message as a number; any other Failure ->
 * *exit_code -1 and *message set (caller frees). STOW_ECORRUPT when the
 * bytes are not such a Status. */
int stow_kube_exec_status_parse(const void *p, size_t n, int *exit_code,
				char **message);

/* stow_kube_exec offering only `protocols` (NULL-terminated, preferred
 * first) instead of v5 then v4: lets tests drive the v4 path against a
 * server that prefers v5. */
int stow_kube_exec_protocols(stow_kube *k, const stow_kube_exec_opts *opts,
			     const char *const *protocols,
			     stow_kube_exec_result *res);

#endif
