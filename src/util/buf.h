/* Bounded byte buffers, a cursor for parsing untrusted bytes, little-endian
 * and varint codecs, and the cleanup helpers used across the tree.
 *
 * stow_buf is the one growable buffer type: it never grows past `max`
 * (STOW_ENOMEM with a message instead), so a hostile length field cannot
 * make us allocate without bound. stow_rd reads from a borrowed byte range
 * and reports STOW_ECORRUPT on any read past its end. */
#ifndef STOW_UTIL_BUF_H
#define STOW_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Hand ownership out of a cleanup-managed local: returns the pointer and
 * nulls the local so its cleanup does nothing. */
#define STOW_TAKE_PTR(p)                                                       \
	({                                                                     \
		__typeof__(p) stow_take_tmp_ = (p);                            \
		(p) = NULL;                                                    \
		stow_take_tmp_;                                                \
	})

static inline void stow_freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(stow_freep)

typedef struct stow_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* hard cap on len; 0 means STOW_BUF_DEFAULT_MAX */
} stow_buf;

#define STOW_BUF_DEFAULT_MAX ((size_t)1 << 30)

/* An empty buffer that may grow to `max` bytes (0: the default cap). */
void stow_buf_init(stow_buf *b, size_t max);
/* Free the storage and return to the empty state (max is kept). */
void stow_buf_free(stow_buf *b);
static inline void stow_buf_freep(stow_buf *b)
{
	stow_buf_free(b);
}
/* Forget the contents, keep the allocation. */
static inline void stow_buf_reset(stow_buf *b)
{
	b->len = 0;
}
/* Make room for `extra` more bytes. STOW_ENOMEM past the cap. */
int stow_buf_reserve(stow_buf *b, size_t extra);
int stow_buf_append(stow_buf *b, const void *p, size_t n);
int stow_buf_append_u8(stow_buf *b, uint8_t v);
int stow_buf_append_le32(stow_buf *b, uint32_t v);
int stow_buf_append_le64(stow_buf *b, uint64_t v);
/* LEB128-style unsigned varint (7 bits per byte, at most 10 bytes). */
int stow_buf_append_varint(stow_buf *b, uint64_t v);
/* Varint length followed by the bytes. */
int stow_buf_append_lenbytes(stow_buf *b, const void *p, size_t n);
/* Append a C string without its NUL; the buffer stays NUL-terminated
 * (the NUL is not counted in len). */
int stow_buf_append_str(stow_buf *b, const char *s);
int stow_buf_printf(stow_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same with a va_list (which it consumes, as vprintf does). */
int stow_buf_vprintf(stow_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Take the data out; the buffer becomes empty. Caller frees. */
uint8_t *stow_buf_steal(stow_buf *b, size_t *len);

static inline void stow_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void stow_put_le64(uint8_t *p, uint64_t v)
{
	stow_put_le32(p, (uint32_t)v);
	stow_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t stow_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t stow_get_le64(const uint8_t *p)
{
	return (uint64_t)stow_get_le32(p) | (uint64_t)stow_get_le32(p + 4) << 32;
}

/* A read cursor over untrusted bytes. Every getter returns 0 or
 * STOW_ECORRUPT (with a message naming `what`) and never reads past len. */
typedef struct stow_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	const char *what; /* names the structure in error messages */
} stow_rd;

static inline void stow_rd_init(stow_rd *r, const void *p, size_t len,
				const char *what)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->what = what;
}
static inline size_t stow_rd_left(const stow_rd *r)
{
	return r->len - r->off;
}
int stow_rd_u8(stow_rd *r, uint8_t *v);
int stow_rd_le32(stow_rd *r, uint32_t *v);
int stow_rd_le64(stow_rd *r, uint64_t *v);
int stow_rd_varint(stow_rd *r, uint64_t *v);
/* Borrow n bytes (no copy). */
int stow_rd_bytes(stow_rd *r, size_t n, const uint8_t **p);
/* Copy n bytes out. */
int stow_rd_copy(stow_rd *r, void *dst, size_t n);
/* Varint length (≤ max) then borrow the bytes. */
int stow_rd_lenbytes(stow_rd *r, size_t max, const uint8_t **p, size_t *n);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void stow_hex(char *out, const void *p, size_t n);
/* Value of one hex digit (either case), -1 if c is not one. */
int stow_hexval(char c);
/* Parse exactly 2n hex digits into n bytes. STOW_EINVAL otherwise. */
int stow_unhex(void *out, size_t n, const char *hex);

#endif
