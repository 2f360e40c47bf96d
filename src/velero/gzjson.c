/* Go-compatible JSON and gzip encodings for Velero's objects (gzjson.h). */
#include "velero/gzjson.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/err.h"
#include "velero/sink.h"

/* zlib consumes at most UINT_MAX bytes per call; feed it in slices. */
#define ZCHUNK ((size_t)1 << 20)

static int dump_cb(const char *p, size_t n, void *ctx)
{
	return stow_buf_append(ctx, p, n) < 0 ? -1 : 0;
}

static int hexlower(int c)
{
	return (c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c;
}

/* Rewrite jansson's escaping into Go's. The input is valid JSON from
 * jansson, so '<', '>', '&' and U+2028/U+2029 can only occur inside
 * strings, and a backslash always starts an escape. */
static int go_escape(const stow_buf *in, stow_buf *out)
{
	static const char lit[] = "<>&";
	static const char *const esc[] = {"\\u003c", "\\u003e", "\\u0026"};
	const uint8_t *p = in->data;
	size_t n = in->len, i = 0;

	while (i < n) {
		size_t run = i;
		const char *hit;

		/* Copy the longest run that needs nothing. */
		while (run < n && p[run] != '\\' && p[run] != 0xe2 &&
		       !memchr(lit, p[run], 3))
			run++;
		STOW_TRY(stow_buf_append(out, p + i, run - i));
		i = run;
		if (i >= n)
			break;
		if (p[i] == '\\') {
			if (i + 1 < n && p[i + 1] == 'u' && i + 6 <= n) {
				char u[6] = {'\\',
					     'u',
					     (char)hexlower(p[i + 2]),
					     (char)hexlower(p[i + 3]),
					     (char)hexlower(p[i + 4]),
					     (char)hexlower(p[i + 5])};

				STOW_TRY(stow_buf_append(out, u, 6));
				i += 6;
			} else {
				size_t k = i + 1 < n ? 2 : 1;

				STOW_TRY(stow_buf_append(out, p + i, k));
				i += k;
			}
			continue;
		}
		if (p[i] == 0xe2) {
			/* U+2028 is e2 80 a8, U+2029 is e2 80 a9. */
			if (i + 2 < n && p[i + 1] == 0x80 &&
			    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
				STOW_TRY(stow_buf_append_str(
				    out,
				    p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029"));
				i += 3;
			} else {
				STOW_TRY(stow_buf_append(out, p + i, 1));
				i++;
			}
			continue;
		}
		hit = memchr(lit, p[i], 3);
		STOW_TRY(stow_buf_append_str(out, esc[hit - lit]));
		i++;
	}
	return 0;
}

static int dump_go(const json_t *v, size_t flags, stow_buf *out)
{
	stow_buf raw;
	int rc;

	if (!v)
		return stow_err_set(STOW_EINVAL, "no JSON value to encode");
	stow_buf_init(&raw, out->max);
	if (json_dump_callback(v, dump_cb, &raw, flags | JSON_ENCODE_ANY) < 0) {
		stow_buf_free(&raw);
		return stow_err_set(STOW_EINVAL,
				    "JSON value cannot be encoded (invalid "
				    "UTF-8, or too large)");
	}
	rc = go_escape(&raw, out);
	stow_buf_free(&raw);
	return rc;
}

int stow_velero_json_compact(const json_t *v, stow_buf *out)
{
	return dump_go(v, JSON_COMPACT | JSON_SORT_KEYS, out);
}

int stow_velero_json_pretty(const json_t *v, stow_buf *out)
{
	return dump_go(v, JSON_INDENT(2), out);
}

/* Go's gzip header: no FNAME, MTIME 0, OS 255 ("unknown"). zlib sets
 * XFL from the level exactly as Go does (0 at the default level). */
static int deflate_start(z_stream *z, gz_header *h)
{
	memset(z, 0, sizeof(*z));
	memset(h, 0, sizeof(*h));
	h->os = 255;
	if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return stow_err_set(STOW_ENOMEM, "deflateInit2 failed");
	if (deflateSetHeader(z, h) != Z_OK) {
		deflateEnd(z);
		return stow_err_set(STOW_ENOMEM, "deflateSetHeader failed");
	}
	return 0;
}

typedef int (*emit_fn)(void *ctx, const void *p, size_t n);

/* Feed len bytes (flush: Z_NO_FLUSH or Z_FINISH), handing every produced
 * chunk to emit. */
static int deflate_feed(z_stream *z, const void *data, size_t len, int flush,
			emit_fn emit, void *ctx)
{
	const uint8_t *p = data;
	uint8_t obuf[64 * 1024];

	for (;;) {
		size_t in = len < ZCHUNK ? len : ZCHUNK;
		int last = flush == Z_FINISH && in == len;
		int zrc;

		z->next_in = (Bytef *)(uintptr_t)p;
		z->avail_in = (uInt)in;
		do {
			z->next_out = obuf;
			z->avail_out = sizeof(obuf);
			zrc = deflate(z, last ? Z_FINISH : Z_NO_FLUSH);
			if (zrc == Z_STREAM_ERROR)
				return stow_err_set(STOW_EIO, "deflate failed");
			if (sizeof(obuf) - z->avail_out)
				STOW_TRY(emit(ctx, obuf,
					      sizeof(obuf) - z->avail_out));
		} while (z->avail_out == 0 || (last && zrc != Z_STREAM_END));
		p += in;
		len -= in;
		if (len == 0 && (flush != Z_FINISH || last))
			return 0;
	}
}

static int emit_buf(void *ctx, const void *p, size_t n)
{
	return stow_buf_append(ctx, p, n);
}

int stow_velero_gzip(const void *data, size_t len, stow_buf *out)
{
	z_stream z;
	gz_header h;
	int rc;

	if (!data && len)
		return stow_err_set(STOW_EINVAL, "gzip of no data");
	STOW_TRY(deflate_start(&z, &h));
	rc = deflate_feed(&z, data ? data : "", len, Z_FINISH, emit_buf, out);
	deflateEnd(&z);
	return rc;
}

int stow_velero_gunzip(const void *data, size_t len, size_t max_out,
		       stow_buf *out)
{
	const uint8_t *p = data;
	z_stream z;
	size_t start = out->len, left = len;
	int zrc = Z_OK, rc = 0;

	if (!max_out)
		max_out = STOW_VELERO_GZ_MAX_OUT;
	if (!data || len == 0)
		return stow_err_set(STOW_ECORRUPT, "empty gzip stream");
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return stow_err_set(STOW_ENOMEM, "inflateInit2 failed");
	while (rc == 0) {
		size_t in = left < ZCHUNK ? left : ZCHUNK;
		uint8_t obuf[64 * 1024];

		z.next_in = (Bytef *)(uintptr_t)p;
		z.avail_in = (uInt)in;
		do {
			size_t got;

			z.next_out = obuf;
			z.avail_out = sizeof(obuf);
			zrc = inflate(&z, Z_NO_FLUSH);
			if (zrc != Z_OK && zrc != Z_STREAM_END &&
			    zrc != Z_BUF_ERROR) {
				rc = stow_err_set(
				    STOW_ECORRUPT, "gzip stream damaged: %s",
				    z.msg ? z.msg : "inflate error");
				break;
			}
			got = sizeof(obuf) - z.avail_out;
			if (got > max_out - (out->len - start)) {
				rc = stow_err_set(STOW_ENOMEM,
						  "gzip stream decompresses "
						  "past the %zu-byte cap",
						  max_out);
				break;
			}
			rc = stow_buf_append(out, obuf, got);
			if (rc < 0)
				break;
			if (zrc == Z_STREAM_END) {
				/* Another member may follow (Go's reader is
				 * multistream by default). */
				if (z.avail_in == 0 && left == in)
					break;
				if (inflateReset(&z) != Z_OK) {
					rc = stow_err_set(STOW_ECORRUPT,
							  "inflateReset");
					break;
				}
				zrc = Z_OK;
			}
		} while (z.avail_in > 0 || z.avail_out == 0);
		if (rc < 0)
			break;
		p += in;
		left -= in;
		if (left == 0) {
			if (zrc != Z_STREAM_END)
				rc = stow_err_set(STOW_ECORRUPT,
						  "gzip stream truncated");
			break;
		}
	}
	inflateEnd(&z);
	if (rc < 0)
		out->len = start;
	return rc;
}

int stow_velero_gzjson_encode(const json_t *v, stow_buf *out)
{
	stow_buf js;
	int rc;

	stow_buf_init(&js, out->max);
	rc = stow_velero_json_compact(v, &js);
	if (rc == 0)
		rc = stow_buf_append_u8(&js, '\n');
	if (rc == 0)
		rc = stow_velero_gzip(js.data, js.len, out);
	stow_buf_free(&js);
	return rc;
}

int stow_velero_gzjson_decode(const void *data, size_t len, size_t max_out,
			      json_t **out)
{
	stow_buf js;
	json_error_t jerr;
	int rc;

	*out = NULL;
	if (!max_out)
		max_out = STOW_VELERO_GZ_MAX_OUT;
	stow_buf_init(&js, max_out);
	rc = stow_velero_gunzip(data, len, max_out, &js);
	if (rc == 0) {
		*out = json_loadb((const char *)js.data, js.len,
				  JSON_DECODE_ANY, &jerr);
		if (!*out)
			rc = stow_err_set(STOW_ECORRUPT,
					  "bad JSON in gzip object: %s "
					  "(line %d)",
					  jerr.text, jerr.line);
	}
	stow_buf_free(&js);
	return rc;
}

struct stow_velero_gzip_writer {
	z_stream z;
	gz_header h;
	stow_velero_sink sink;
};

static int emit_sink(void *ctx, const void *p, size_t n)
{
	return stow_velero_sink_write(ctx, p, n);
}

int stow_velero_gzip_writer_open(stow_velero_gzip_writer **out, stow_store *s,
				 const char *key)
{
	stow_velero_gzip_writer *w;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	rc = deflate_start(&w->z, &w->h);
	if (rc < 0) {
		free(w);
		return rc;
	}
	rc = stow_velero_sink_open(&w->sink, s, key, 0);
	if (rc < 0) {
		deflateEnd(&w->z);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int stow_velero_gzip_writer_write(stow_velero_gzip_writer *w, const void *data,
				  size_t len)
{
	if (!len)
		return 0;
	return deflate_feed(&w->z, data, len, Z_NO_FLUSH, emit_sink, &w->sink);
}

int stow_velero_gzip_writer_commit(stow_velero_gzip_writer *w)
{
	int rc = deflate_feed(&w->z, "", 0, Z_FINISH, emit_sink, &w->sink);

	if (rc == 0) {
		rc = stow_velero_sink_commit(&w->sink);
	}
	stow_velero_gzip_writer_free(w);
	return rc;
}

void stow_velero_gzip_writer_free(stow_velero_gzip_writer *w)
{
	if (!w)
		return;
	stow_velero_sink_abort(&w->sink);
	deflateEnd(&w->z);
	free(w);
}
