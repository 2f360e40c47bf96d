/* The encodings of Velero's metadata objects, byte for byte where it
 * matters: Go's encoding/json output and Go's compress/gzip framing.
 *
 * - stow_velero_json_compact: what json.Marshal writes (and json.Encoder
 *   before its "\n"): no whitespace, object keys sorted bytewise, and
 *   Go's escaping: '<' '>' '&' U+2028 U+2029 as \u003c \u003e \u0026
 *   \u2028 \u2029, other control characters as \u00xx in lower case.
 *   Integers print as Go prints int64. Reals print as jansson prints
 *   them (17 significant digits), not Go's shortest form: 0.1 comes out
 *   as 0.10000000000000001 - the same number to any reader, different
 *   bytes (Kubernetes objects rarely hold non-integral numbers).
 * - stow_velero_json_pretty: json.MarshalIndent(v, "", "  ") with the
 *   same escaping, keys in the json_t's insertion order (Go writes struct
 *   fields in declaration order, so callers build objects in that order).
 * - gzip: one member, header as Go writes it (no name, MTIME 0, XFL 0,
 *   OS 255), default level 6. The deflate bytes themselves differ from
 *   Go's compressor; only the decompressed bytes are specified.
 * - gzip JSON ("*.json.gz"): gzip of compact JSON followed by "\n".
 *
 * Untrusted input: the readers cap the decompressed size (max_out) and
 * report bad gzip or JSON as STOW_ECORRUPT, a size over the cap as
 * STOW_ENOMEM; they accept concatenated gzip members as Go's reader does.
 *
 * Thread safety: no shared state. */
#ifndef STOW_VELERO_GZJSON_H
#define STOW_VELERO_GZJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "storage/storage.h"
#include "util/buf.h"

/* Default cap on a decompressed metadata object. */
#define STOW_VELERO_GZ_MAX_OUT ((size_t)256 << 20)

/* Append the compact encoding of v to out. STOW_EINVAL if v cannot be
 * encoded, STOW_ENOMEM past out's cap. */
int stow_velero_json_compact(const json_t *v, stow_buf *out);
/* Append the indented encoding of v (no trailing newline). */
int stow_velero_json_pretty(const json_t *v, stow_buf *out);

/* Append the gzip of data[0..len) to out. */
int stow_velero_gzip(const void *data, size_t len, stow_buf *out);
/* Append the decompression of a gzip stream to out; at most max_out
 * bytes (0: STOW_VELERO_GZ_MAX_OUT). STOW_ECORRUPT on a damaged or
 * truncated stream, STOW_ENOMEM past the cap. */
int stow_velero_gunzip(const void *data, size_t len, size_t max_out,
		       stow_buf *out);

/* Append gzip(compact(v) + "\n") to out. */
int stow_velero_gzjson_encode(const json_t *v, stow_buf *out);
/* Decode a gzip JSON object of at most max_out decompressed bytes (0: the
 * default). Any JSON value is accepted (Velero writes `null` for an empty
 * list). *out is the caller's reference. */
int stow_velero_gzjson_decode(const void *data, size_t len, size_t max_out,
			      json_t **out);

/* A gzip stream written straight into a store object (logs): nothing is
 * held in memory but zlib's window, except on backends that cannot stream
 * (see sink.h). open → write* → commit; free discards an uncommitted one
 * and accepts NULL. A writer is used by one thread at a time. */
typedef struct stow_velero_gzip_writer stow_velero_gzip_writer;

int stow_velero_gzip_writer_open(stow_velero_gzip_writer **out, stow_store *s,
				 const char *key);
int stow_velero_gzip_writer_write(stow_velero_gzip_writer *w, const void *data,
				  size_t len);
/* Finish the stream and publish the object; frees w, success or not. */
int stow_velero_gzip_writer_commit(stow_velero_gzip_writer *w);
void stow_velero_gzip_writer_free(stow_velero_gzip_writer *w);

#endif
