#include "util/duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

#define LIMIT (UINT64_C(1) << 63) /* |int64 min|, the largest magnitude */

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 MICRO SIGN */
    {"\xce\xbcs", 1000}, /* U+03BC GREEK SMALL LETTER MU */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", UINT64_C(60) * 1000000000},
    {"h", UINT64_C(3600) * 1000000000},
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int stow_duration_parse(const char *s, int64_t *ns_out)
{
	const char *orig = s;
	uint64_t total = 0;
	bool neg = false;

	if (!s || !ns_out)
		return stow_err_set(STOW_EINVAL, "duration: no input");
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns_out = 0;
		return 0;
	}
	if (*s == '\0')
		return stow_err_set(STOW_EINVAL, "invalid duration \"%s\"",
				    orig);
	while (*s) {
		uint64_t v = 0, frac = 0, unit = 0;
		double scale = 1;
		bool pre = false, post = false, frac_overflow = false;
		size_t ulen;

		if (!is_digit(*s) && *s != '.')
			return stow_err_set(STOW_EINVAL,
					    "invalid duration \"%s\"", orig);
		for (; is_digit(*s); s++) {
			if (v > (LIMIT - 1) / 10)
				return stow_err_set(STOW_EINVAL,
						    "invalid duration \"%s\": "
						    "out of range",
						    orig);
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > LIMIT)
				return stow_err_set(STOW_EINVAL,
						    "invalid duration \"%s\": "
						    "out of range",
						    orig);
			pre = true;
		}
		if (*s == '.') {
			/* Digits past what fits only add precision we cannot
			 * hold; they are consumed and dropped, as Go does. */
			for (s++; is_digit(*s); s++) {
				post = true;
				if (frac_overflow)
					continue;
				if (frac > (LIMIT - 1) / 10) {
					frac_overflow = true;
					continue;
				}
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (!pre && !post)
			return stow_err_set(STOW_EINVAL,
					    "invalid duration \"%s\"", orig);
		ulen = 0;
		while (s[ulen] && s[ulen] != '.' && !is_digit(s[ulen]))
			ulen++;
		if (ulen == 0)
			return stow_err_set(STOW_EINVAL,
					    "missing unit in duration \"%s\"",
					    orig);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen &&
			    memcmp(units[i].name, s, ulen) == 0)
				unit = units[i].ns;
		if (unit == 0)
			return stow_err_set(STOW_EINVAL,
					    "unknown unit \"%.*s\" in duration "
					    "\"%s\" (want ns, us, ms, s, m, h)",
					    (int)(ulen > 16 ? 16 : ulen), s,
					    orig);
		s += ulen;
		if (v > LIMIT / unit)
			return stow_err_set(STOW_EINVAL,
					    "invalid duration \"%s\": out of "
					    "range",
					    orig);
		v *= unit;
		if (frac > 0) {
			/* Go computes the fractional part in float64; doing
			 * the same keeps "1.1h"-style values bit-identical. */
			v += (uint64_t)((double)frac * ((double)unit / scale));
			if (v > LIMIT)
				return stow_err_set(STOW_EINVAL,
						    "invalid duration \"%s\": "
						    "out of range",
						    orig);
		}
		total += v;
		if (total > LIMIT)
			return stow_err_set(STOW_EINVAL,
					    "invalid duration \"%s\": out of "
					    "range",
					    orig);
	}
	if (neg) {
		*ns_out = total == LIMIT ? INT64_MIN : -(int64_t)total;
		return 0;
	}
	if (total > LIMIT - 1)
		return stow_err_set(
		    STOW_EINVAL, "invalid duration \"%s\": out of range", orig);
	*ns_out = (int64_t)total;
	return 0;
}

/* Writes v / 10^prec with the fraction's trailing zeros (and a bare '.')
 * dropped, at the end of the buffer ending at *w; moves *w back. */
static void put_fixed(char **w, uint64_t v, int prec)
{
	bool printed = false;

	for (int i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(v % 10);

		printed = printed || digit != 0;
		if (printed)
			*--*w = (char)('0' + digit);
		v /= 10;
	}
	if (printed)
		*--*w = '.';
	if (v == 0) {
		*--*w = '0';
		return;
	}
	while (v > 0) {
		*--*w = (char)('0' + v % 10);
		v /= 10;
	}
}

static void put_uint(char **w, uint64_t v)
{
	put_fixed(w, v, 0);
}

static void put_str(char **w, const char *s)
{
	size_t n = strlen(s);

	*w -= n;
	memcpy(*w, s, n);
}

char *stow_duration_format(int64_t ns, char out[STOW_DURATION_STR_MAX])
{
	char tmp[STOW_DURATION_STR_MAX];
	char *w = tmp + sizeof(tmp);
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	*--w = '\0';
	if (u < 1000000000) {
		/* Below a second Go picks the largest unit that keeps an
		 * integer part: ns, µs or ms. */
		if (u == 0) {
			put_str(&w, "0s");
		} else if (u < 1000) {
			put_str(&w, "ns");
			put_uint(&w, u);
		} else if (u < 1000000) {
			put_str(&w, "\xc2\xb5s");
			put_fixed(&w, u, 3);
		} else {
			put_str(&w, "ms");
			put_fixed(&w, u, 6);
		}
	} else {
		uint64_t secs = u / 1000000000, hours, mins;

		put_str(&w, "s");
		put_fixed(&w, (secs % 60) * 1000000000 + u % 1000000000, 9);
		mins = secs / 60;
		if (mins > 0) {
			put_str(&w, "m");
			put_uint(&w, mins % 60);
			hours = mins / 60;
			if (hours > 0) {
				put_str(&w, "h");
				put_uint(&w, hours);
			}
		}
	}
	if (ns < 0)
		*--w = '-';
	memcpy(out, w, (size_t)(tmp + sizeof(tmp) - w));
	return out;
}
