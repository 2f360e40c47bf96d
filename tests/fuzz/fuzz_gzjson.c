/* Fuzz target for the gzip and JSON codecs of Velero's metadata objects
 * (src/velero/gzjson.c).
 *
 * Any input, taken as gzip: decompression and decoding return cleanly
 * within the cap. A value that decodes encodes again and decodes to the
 * same value. Any input, taken as JSON text: Go's compact and indented
 * encodings of what jansson parses read back as the same value (the
 * escape rewriting loses nothing), and the compact one is stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "velero/gzjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_reparse(const json_t *v, const stow_buf *b)
{
	json_error_t e;
	json_t *back = json_loadb((const char *)b->data, b->len,
				  JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	check(back != NULL);
	check(json_equal(v, back));
	json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stow_buf out, gz, a, b;
	json_t *v = NULL, *v2 = NULL;
	json_error_t e;
	int rc;

	stow_buf_init(&out, 0);
	stow_buf_init(&gz, 0);
	stow_buf_init(&a, 0);
	stow_buf_init(&b, 0);
	rc = stow_velero_gunzip(data, size, 1 << 20, &out);
	check(rc == 0 || rc == STOW_ECORRUPT || rc == STOW_ENOMEM);
	check(rc == 0 || out.len == 0);
	check(out.len <= 1 << 20);
	rc = stow_velero_gzjson_decode(data, size, 1 << 20, &v);
	check(rc == 0 || rc == STOW_ECORRUPT || rc == STOW_ENOMEM);
	if (rc == 0) {
		check(stow_velero_gzjson_encode(v, &gz) == 0);
		check(stow_velero_gzjson_decode(gz.data, gz.len, 0, &v2) == 0);
		check(json_equal(v, v2));
		json_decref(v2);
		json_decref(v);
	}

	v = json_loadb((const char *)data, size,
		       JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (v) {
		check(stow_velero_json_compact(v, &a) == 0);
		check_reparse(v, &a);
		/* No raw '<', '>', '&' survive (Go's HTML-safe output). */
		check(!memchr(a.data, '<', a.len) && !memchr(a.data, '>', a.len) &&
		      !memchr(a.data, '&', a.len));
		v2 = json_loadb((const char *)a.data, a.len,
				JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		check(v2 != NULL);
		check(stow_velero_json_compact(v2, &b) == 0);
		check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		json_decref(v2);
		stow_buf_reset(&b);
		check(stow_velero_json_pretty(v, &b) == 0);
		check_reparse(v, &b);
		json_decref(v);
	}
	stow_buf_free(&out);
	stow_buf_free(&gz);
	stow_buf_free(&a);
	stow_buf_free(&b);
	return 0;
}
