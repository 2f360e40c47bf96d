/* Text output helpers: human sizes and times, escaping of untrusted names,
 * ls-style mode strings, and aligned tables. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli_internal.h"
#include "vault/tree.h"

void stow_cli_human_size(char *out, size_t n, uint64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, n, "%" PRIu64 " B", bytes);
		return;
	}
	v /= 1024.0;
	/* Move up a unit when rounding to one decimal would print 1024.0. */
	while (v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, n, "%.1f %s", v, units[u]);
}

void stow_cli_human_duration(char *out, size_t n, double seconds)
{
	uint64_t s;

	if (seconds < 0)
		seconds = 0;
	if (seconds < 60) {
		snprintf(out, n, "%.1fs", seconds);
		return;
	}
	s = (uint64_t)(seconds + 0.5);
	if (s < 3600)
		snprintf(out, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(out, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s / 60 % 60);
}

void stow_cli_local_time(char *out, size_t n, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, n, "@%" PRId64, sec);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes) that is safe
 * to show as is, or 0. Rejects overlong forms, surrogates, values past
 * U+10FFFF, C1 controls (U+0080..U+009F: some terminals act on them),
 * line/paragraph separators and bidirectional overrides (they can make a
 * name display as something else). */
static size_t safe_utf8_len(const uint8_t *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp < 0xa0)
		return 0;
	if ((cp >= 0x200e && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061c || cp == 0xfeff)
		return 0;
	return len;
}

int stow_cli_escape(stow_buf *out, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = p;
	size_t i = 0, k;
	char esc[4] = {'\\', 'x', 0, 0};

	while (i < n) {
		uint8_t c = s[i];

		if (c == '\\') {
			STOW_TRY(stow_buf_append(out, "\\\\", 2));
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			STOW_TRY(stow_buf_append_u8(out, c));
			i++;
		} else if (c >= 0x80 && (k = safe_utf8_len(s + i, n - i))) {
			STOW_TRY(stow_buf_append(out, s + i, k));
			i += k;
		} else {
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			STOW_TRY(stow_buf_append(out, esc, 4));
			i++;
		}
	}
	/* Keep the buffer NUL-terminated for %s (not counted in len). */
	STOW_TRY(stow_buf_reserve(out, 1));
	out->data[out->len] = 0;
	return 0;
}

void stow_cli_print_escaped(FILE *f, const void *s, size_t n)
{
	_cleanup_(stow_buf_freep) stow_buf b;

	stow_buf_init(&b, 0);
	if (stow_cli_escape(&b, s, n) < 0) {
		fputs("<out of memory>", f);
		return;
	}
	fwrite(b.data, 1, b.len, f);
}

void stow_cli_mode_string(char out[11], unsigned type, uint32_t mode)
{
	static const char rwx[] = "rwxrwxrwx";
	char t;
	int i;

	switch (type) {
	case STOW_NODE_DIR: t = 'd'; break;
	case STOW_NODE_SYMLINK: t = 'l'; break;
	case STOW_NODE_FIFO: t = 'p'; break;
	case STOW_NODE_CHR: t = 'c'; break;
	case STOW_NODE_BLK: t = 'b'; break;
	case STOW_NODE_SOCK: t = 's'; break;
	case STOW_NODE_FILE: t = '-'; break;
	default: t = '?'; break;
	}
	out[0] = t;
	for (i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		out[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		out[9] = (mode & 0001) ? 't' : 'T';
	out[10] = 0;
}

/* --- tables --------------------------------------------------------------- */

/* Display columns of a UTF-8 string: one per code point (wide East Asian
 * characters are counted as one; good enough for alignment). */
static size_t display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static char **table_cell(const stow_cli_table *t, size_t row, size_t col)
{
	return (char **)t->cells.data + row * t->ncols + col;
}

int stow_cli_table_init(stow_cli_table *t, size_t ncols, unsigned right,
			const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->right = right;
	stow_buf_init(&t->cells, 0);
	return stow_cli_table_add(t, headers);
}

int stow_cli_table_add(stow_cli_table *t, const char *const *cells)
{
	size_t i;
	int rc;

	rc = stow_buf_reserve(&t->cells, t->ncols * sizeof(char *));
	if (rc < 0)
		return rc;
	for (i = 0; i < t->ncols; i++) {
		char *c = strdup(cells[i] ? cells[i] : "");

		if (c == NULL) {
			/* Drop the partial row. */
			while (i-- > 0) {
				t->cells.len -= sizeof(char *);
				free(*(char **)(t->cells.data + t->cells.len));
			}
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
		/* Room was reserved above, so this cannot fail. */
		(void)stow_buf_append(&t->cells, &c, sizeof(c));
	}
	t->nrows++;
	return 0;
}

void stow_cli_table_print(const stow_cli_table *t, FILE *f)
{
	size_t widths[16] = {0};
	size_t r, c, ncols = t->ncols < 16 ? t->ncols : 16;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < ncols; c++) {
			size_t w = display_width(*table_cell(t, r, c));

			if (w > widths[c])
				widths[c] = w;
		}
	for (r = 0; r < t->nrows; r++) {
		size_t used = ncols;

		/* Trailing empty cells print nothing, not blanks. */
		while (used > 1 && **table_cell(t, r, used - 1) == 0)
			used--;
		for (c = 0; c < used; c++) {
			const char *s = *table_cell(t, r, c);
			size_t pad = widths[c] - display_width(s);
			bool last = c + 1 == used;

			if (c > 0)
				fputs("  ", f);
			if (t->right & (1u << c))
				fprintf(f, "%*s%s", (int)pad, "", s);
			else if (last)
				fputs(s, f);
			else
				fprintf(f, "%s%*s", s, (int)pad, "");
		}
		fputc('\n', f);
	}
}

void stow_cli_table_free(stow_cli_table *t)
{
	size_t i, n;

	if (t == NULL || t->cells.data == NULL)
		return;
	n = t->cells.len / sizeof(char *);
	for (i = 0; i < n; i++)
		free(((char **)t->cells.data)[i]);
	stow_buf_free(&t->cells);
	t->nrows = 0;
}
