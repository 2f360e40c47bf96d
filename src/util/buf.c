#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

void stow_buf_init(stow_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : STOW_BUF_DEFAULT_MAX;
}

void stow_buf_free(stow_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int stow_buf_reserve(stow_buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *n;

	if (b->max == 0)
		b->max = STOW_BUF_DEFAULT_MAX;
	/* +1 keeps room for the NUL that stow_buf_append_str maintains. */
	if (__builtin_add_overflow(b->len, extra, &need) ||
	    __builtin_add_overflow(need, 1, &need) || need - 1 > b->max)
		return stow_err_set(STOW_ENOMEM,
				    "buffer would exceed its cap of %zu bytes",
				    b->max);
	if (need <= b->cap)
		return 0;
	/* Double on growth (amortised appends), but the first reservation
	 * is exact: callers that reserve a known size up front (pack and
	 * read buffers) get that size, not the next power of two. */
	ncap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	if (ncap < need)
		ncap = need;
	if (ncap < 64)
		ncap = 64;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	n = realloc(b->data, ncap);
	if (!n)
		return stow_err_set(STOW_ENOMEM, "out of memory (%zu bytes)",
				    ncap);
	b->data = n;
	b->cap = ncap;
	return 0;
}

int stow_buf_append(stow_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	STOW_TRY(stow_buf_reserve(b, n));
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int stow_buf_append_u8(stow_buf *b, uint8_t v)
{
	return stow_buf_append(b, &v, 1);
}

int stow_buf_append_le32(stow_buf *b, uint32_t v)
{
	uint8_t t[4];

	stow_put_le32(t, v);
	return stow_buf_append(b, t, 4);
}

int stow_buf_append_le64(stow_buf *b, uint64_t v)
{
	uint8_t t[8];

	stow_put_le64(t, v);
	return stow_buf_append(b, t, 8);
}

int stow_buf_append_varint(stow_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	return stow_buf_append(b, t, n);
}

int stow_buf_append_lenbytes(stow_buf *b, const void *p, size_t n)
{
	STOW_TRY(stow_buf_append_varint(b, n));
	return stow_buf_append(b, p, n);
}

int stow_buf_append_str(stow_buf *b, const char *s)
{
	STOW_TRY(stow_buf_append(b, s, strlen(s)));
	STOW_TRY(stow_buf_reserve(b, 0));
	b->data[b->len] = '\0';
	return 0;
}

int stow_buf_vprintf(stow_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return stow_err_set(STOW_EINVAL, "bad format string");
	STOW_TRY(stow_buf_reserve(b, (size_t)n));
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int stow_buf_printf(stow_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = stow_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

uint8_t *stow_buf_steal(stow_buf *b, size_t *len)
{
	uint8_t *d = b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

static int short_read(stow_rd *r, size_t n)
{
	return stow_err_set(STOW_ECORRUPT,
			    "%s: truncated (need %zu bytes at offset %zu of %zu)",
			    r->what ? r->what : "record", n, r->off, r->len);
}

int stow_rd_bytes(stow_rd *r, size_t n, const uint8_t **p)
{
	if (n > stow_rd_left(r))
		return short_read(r, n);
	*p = r->p + r->off;
	r->off += n;
	return 0;
}

int stow_rd_copy(stow_rd *r, void *dst, size_t n)
{
	const uint8_t *p = NULL;

	STOW_TRY(stow_rd_bytes(r, n, &p));
	memcpy(dst, p, n);
	return 0;
}

int stow_rd_u8(stow_rd *r, uint8_t *v)
{
	return stow_rd_copy(r, v, 1);
}

int stow_rd_le32(stow_rd *r, uint32_t *v)
{
	const uint8_t *p = NULL;

	STOW_TRY(stow_rd_bytes(r, 4, &p));
	*v = stow_get_le32(p);
	return 0;
}

int stow_rd_le64(stow_rd *r, uint64_t *v)
{
	const uint8_t *p = NULL;

	STOW_TRY(stow_rd_bytes(r, 8, &p));
	*v = stow_get_le64(p);
	return 0;
}

int stow_rd_varint(stow_rd *r, uint64_t *v)
{
	uint64_t out = 0;
	unsigned shift = 0;

	for (int i = 0; i < 10; i++) {
		uint8_t c;

		if (r->off >= r->len)
			return short_read(r, 1);
		c = r->p[r->off++];
		if (i == 9 && c > 1)
			break;
		out |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = out;
			return 0;
		}
		shift += 7;
	}
	return stow_err_set(STOW_ECORRUPT, "%s: varint overflows 64 bits",
			    r->what ? r->what : "record");
}

int stow_rd_lenbytes(stow_rd *r, size_t max, const uint8_t **p, size_t *n)
{
	uint64_t len = 0;

	STOW_TRY(stow_rd_varint(r, &len));
	if (len > max)
		return stow_err_set(STOW_ECORRUPT,
				    "%s: field of %llu bytes exceeds cap %zu",
				    r->what ? r->what : "record",
				    (unsigned long long)len, max);
	*n = (size_t)len;
	return stow_rd_bytes(r, (size_t)len, p);
}

void stow_hex(char *out, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int stow_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int stow_unhex(void *out, size_t n, const char *hex)
{
	uint8_t *b = out;

	if (strlen(hex) != 2 * n)
		return stow_err_set(STOW_EINVAL, "expected %zu hex digits",
				    2 * n);
	for (size_t i = 0; i < n; i++) {
		int hi = stow_hexval(hex[2 * i]), lo = stow_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return stow_err_set(STOW_EINVAL, "not a hex string");
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
