#include "util/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/duration.h"
#include "util/err.h"

/* ======================================================================
 * Civil calendar arithmetic (proleptic Gregorian, days since 1970-01-01).
 * The era-based formulas avoid loops and work for negative years. */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

int64_t stow_days_from_civil(int64_t year, int month, int day)
{
	/* Count years from March so that the leap day is the year's last. */
	int64_t y = year - (month <= 2);
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t mp = (month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *year, int *month, int *day)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

static int weekday_of_days(int64_t days)
{
	return (int)floor_mod(days + 4, 7); /* 1970-01-01 was a Thursday */
}

void stow_iso_week(int64_t year, int month, int day, int64_t *iso_year,
		   int *week)
{
	int64_t days = stow_days_from_civil(year, month, day);
	int wd = (weekday_of_days(days) + 6) % 7; /* Monday = 0 */
	/* An ISO week belongs to the year of its Thursday. */
	int64_t thursday = days - wd + 3;
	int64_t ty;
	int tm, td;

	civil_from_days(thursday, &ty, &tm, &td);
	*iso_year = ty;
	*week = (int)((thursday - stow_days_from_civil(ty, 1, 1)) / 7 + 1);
}

/* ======================================================================
 * Time zones. */

/* Offsets beyond ±26 h are rejected when loading, which bounds the search
 * windows used to map wall times back to instants. */
#define MAX_OFFSET (26 * 3600)
#define TZIF_MAX_BYTES (256 * 1024)
#define TZIF_MAX_TIMES 8192
#define TZIF_MAX_TYPES 256
#define TZIF_MAX_CHARS 4096
#define TZIF_MAX_LEAPS 1024
#define TZ_NAME_MAX 255
/* Instants we compute with, about ±34,000 years: far from overflow. */
#define TIME_LIMIT (INT64_C(1) << 40)

typedef struct rule_date {
	char kind; /* 'J': 1-365 without Feb 29; 'D': 0-365; 'M': m.w.d */
	int n, m, w, d;
	int32_t time; /* seconds after local midnight, may be < 0 or > 24 h */
} rule_date;

typedef struct posix_rule {
	int32_t std_off, dst_off; /* east of UTC */
	bool has_dst;
	rule_date start, end;
} posix_rule;

struct stow_tz {
	char name[TZ_NAME_MAX + 1];
	int64_t *times; /* ascending transition instants */
	uint8_t *idx;	/* type index per transition */
	size_t ntimes;
	int32_t *type_off;
	size_t ntypes;
	bool has_rule;
	posix_rule rule;
	bool is_static;
};

static const stow_tz utc_zone = {.name = "UTC", .is_static = true};

const stow_tz *stow_tz_utc(void)
{
	return &utc_zone;
}

void stow_tz_free(stow_tz *tz)
{
	if (!tz || tz->is_static)
		return;
	free(tz->times);
	free(tz->idx);
	free(tz->type_off);
	free(tz);
}

const char *stow_tz_name(const stow_tz *tz)
{
	return tz ? tz->name : "UTC";
}

/* --- POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3") --- */

static bool rule_name(const char **p)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '<') {
		for (s++; *s && *s != '>'; s++, n++)
			if (!isalnum((unsigned char)*s) && *s != '+' &&
			    *s != '-')
				return false;
		if (*s != '>' || n < 3)
			return false;
		*p = s + 1;
		return true;
	}
	while (isalpha((unsigned char)s[n]))
		n++;
	if (n < 3)
		return false;
	*p = s + n;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh <= max_hours, as seconds. */
static bool rule_hms(const char **p, int max_hours, int32_t *out)
{
	const char *s = *p;
	int sign = 1;
	long part[3] = {0, 0, 0};

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		int digits = 0;

		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		while (isdigit((unsigned char)*s) && digits < 3) {
			part[i] = part[i] * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0)
			return false;
	}
	if (part[0] > max_hours || part[1] > 59 || part[2] > 59)
		return false;
	*out = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
	*p = s;
	return true;
}

static bool rule_num(const char **p, int lo, int hi, int *out)
{
	const char *s = *p;
	int v = 0, digits = 0;

	while (isdigit((unsigned char)*s) && digits < 4) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || v < lo || v > hi)
		return false;
	*out = v;
	*p = s;
	return true;
}

static bool rule_date_parse(const char **p, rule_date *rd)
{
	const char *s = *p;

	if (*s == 'J') {
		s++;
		rd->kind = 'J';
		if (!rule_num(&s, 1, 365, &rd->n))
			return false;
	} else if (*s == 'M') {
		s++;
		rd->kind = 'M';
		if (!rule_num(&s, 1, 12, &rd->m) || *s++ != '.' ||
		    !rule_num(&s, 1, 5, &rd->w) || *s++ != '.' ||
		    !rule_num(&s, 0, 6, &rd->d))
			return false;
	} else {
		rd->kind = 'D';
		if (!rule_num(&s, 0, 365, &rd->n))
			return false;
	}
	rd->time = 2 * 3600;
	if (*s == '/') {
		s++;
		/* RFC 8536 extends the time to -167..167 hours. */
		if (!rule_hms(&s, 167, &rd->time))
			return false;
	}
	*p = s;
	return true;
}

static int posix_parse(posix_rule *r, const char *s)
{
	int32_t off;

	memset(r, 0, sizeof(*r));
	if (!rule_name(&s) || !rule_hms(&s, 24, &off))
		return -1;
	r->std_off = -off; /* POSIX counts west of UTC */
	if (*s == '\0')
		return 0;
	if (!rule_name(&s))
		return -1;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (!rule_hms(&s, 24, &off))
			return -1;
		r->dst_off = -off;
	}
	if (*s == '\0') {
		/* No dates: POSIX leaves them to the implementation; the
		 * US rules are what everyone (glibc, Go) assumes. */
		r->start = (rule_date){
		    .kind = 'M', .m = 3, .w = 2, .d = 0, .time = 7200};
		r->end = (rule_date){
		    .kind = 'M', .m = 11, .w = 1, .d = 0, .time = 7200};
		return 0;
	}
	if (*s++ != ',' || !rule_date_parse(&s, &r->start) || *s++ != ',' ||
	    !rule_date_parse(&s, &r->end) || *s != '\0')
		return -1;
	return 0;
}

/* Days since the epoch of a rule's date in year y. */
static int64_t rule_day(const rule_date *rd, int64_t y)
{
	int64_t jan1 = stow_days_from_civil(y, 1, 1);

	if (rd->kind == 'J')
		return jan1 + rd->n - 1 + (is_leap(y) && rd->n >= 60);
	if (rd->kind == 'D')
		return jan1 + rd->n;
	{
		int64_t first = stow_days_from_civil(y, rd->m, 1);
		int wd1 = weekday_of_days(first);
		int day = 1 + (rd->d - wd1 + 7) % 7 + (rd->w - 1) * 7;

		while (day > days_in_month(y, rd->m))
			day -= 7;
		return first + day - 1;
	}
}

/* DST start and end instants of year y. */
static void rule_bounds(const posix_rule *r, int64_t y, int64_t *start,
			int64_t *end)
{
	*start = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
	*end = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
}

static int64_t year_of(int64_t t)
{
	int64_t y;
	int m, d;

	civil_from_days(floor_div(t, 86400), &y, &m, &d);
	return y;
}

static int32_t rule_offset(const posix_rule *r, int64_t t)
{
	int64_t s, e;
	bool dst;

	if (!r->has_dst)
		return r->std_off;
	rule_bounds(r, year_of(t + r->std_off), &s, &e);
	if (s < e)
		dst = t >= s && t < e;
	else /* southern hemisphere: DST spans the new year */
		dst = !(t >= e && t < s);
	return dst ? r->dst_off : r->std_off;
}

static int64_t rule_next_change(const posix_rule *r, int64_t t)
{
	int64_t best = INT64_MAX, y;

	if (!r->has_dst)
		return INT64_MAX;
	y = year_of(t);
	for (int64_t yy = y - 1; yy <= y + 1; yy++) {
		int64_t s, e;

		rule_bounds(r, yy, &s, &e);
		if (s > t && s < best)
			best = s;
		if (e > t && e < best)
			best = e;
	}
	return best;
}

int stow_tz_parse_posix(stow_tz **out, const char *rule)
{
	stow_tz *tz;

	*out = NULL;
	if (!rule || strlen(rule) > TZ_NAME_MAX)
		return stow_err_set(STOW_EINVAL, "time zone rule too long");
	tz = calloc(1, sizeof(*tz));
	if (!tz)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (posix_parse(&tz->rule, rule) < 0 ||
	    tz->rule.std_off < -MAX_OFFSET || tz->rule.std_off > MAX_OFFSET ||
	    tz->rule.dst_off < -MAX_OFFSET || tz->rule.dst_off > MAX_OFFSET) {
		free(tz);
		return stow_err_set(STOW_EINVAL,
				    "\"%s\" is not a POSIX TZ rule", rule);
	}
	tz->has_rule = true;
	snprintf(tz->name, sizeof(tz->name), "%s", rule);
	*out = tz;
	return 0;
}

/* --- TZif --- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64s(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static int tzif_header(const uint8_t *p, size_t len, size_t off, tzif_counts *c,
		       const char *name)
{
	if (len - off < 44 || memcmp(p + off, "TZif", 4) != 0)
		return stow_err_set(STOW_ECORRUPT, "zone %s: not a TZif file",
				    name);
	c->isut = be32(p + off + 20);
	c->isstd = be32(p + off + 24);
	c->leap = be32(p + off + 28);
	c->time = be32(p + off + 32);
	c->type = be32(p + off + 36);
	c->chars = be32(p + off + 40);
	if (c->time > TZIF_MAX_TIMES || c->type == 0 ||
	    c->type > TZIF_MAX_TYPES || c->chars > TZIF_MAX_CHARS ||
	    c->leap > TZIF_MAX_LEAPS || c->isut > c->type || c->isstd > c->type)
		return stow_err_set(STOW_ECORRUPT,
				    "zone %s: TZif counts out of range", name);
	return 0;
}

/* Bytes of a data block whose times are tsize bytes wide (counts capped
 * above, so this cannot overflow). */
static size_t tzif_block_len(const tzif_counts *c, size_t tsize)
{
	return c->time * (tsize + 1) + c->type * 6 + c->chars +
	       c->leap * (tsize + 4) + c->isstd + c->isut;
}

int stow_tz_parse_tzif(stow_tz **out, const char *name, const uint8_t *data,
		       size_t len)
{
	tzif_counts c;
	size_t off = 0, tsize = 4, blen;
	stow_tz *tz;
	const uint8_t *p;

	*out = NULL;
	if (!name)
		name = "?";
	STOW_TRY(tzif_header(data, len, 0, &c, name));
	blen = tzif_block_len(&c, 4);
	if (data[4] >= '2') {
		/* Skip the 32-bit block; the 64-bit one follows. */
		if (len - 44 < blen)
			return stow_err_set(STOW_ECORRUPT, "zone %s: truncated",
					    name);
		off = 44 + blen;
		STOW_TRY(tzif_header(data, len, off, &c, name));
		tsize = 8;
		blen = tzif_block_len(&c, 8);
	}
	off += 44;
	if (len - off < blen)
		return stow_err_set(STOW_ECORRUPT, "zone %s: truncated", name);
	tz = calloc(1, sizeof(*tz));
	if (!tz)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	snprintf(tz->name, sizeof(tz->name), "%s", name);
	tz->ntimes = c.time;
	tz->ntypes = c.type;
	tz->times = calloc(c.time ? c.time : 1, sizeof(int64_t));
	tz->idx = calloc(c.time ? c.time : 1, 1);
	tz->type_off = calloc(c.type, sizeof(int32_t));
	if (!tz->times || !tz->idx || !tz->type_off) {
		stow_tz_free(tz);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	p = data + off;
	for (size_t i = 0; i < c.time; i++) {
		tz->times[i] =
		    tsize == 8 ? be64s(p + i * 8) : (int32_t)be32(p + i * 4);
		if (i > 0 && tz->times[i] <= tz->times[i - 1])
			goto corrupt;
		/* Clamp the "big bang" sentinel far in the past. */
		if (tz->times[i] < -TIME_LIMIT || tz->times[i] > TIME_LIMIT)
			tz->times[i] =
			    tz->times[i] < 0 ? -TIME_LIMIT : TIME_LIMIT;
	}
	p += c.time * tsize;
	for (size_t i = 0; i < c.time; i++)
		if ((tz->idx[i] = p[i]) >= c.type)
			goto corrupt;
	p += c.time;
	for (size_t i = 0; i < c.type; i++) {
		int32_t o = (int32_t)be32(p + i * 6);

		if (o < -MAX_OFFSET || o > MAX_OFFSET || p[i * 6 + 4] > 1 ||
		    (c.chars && p[i * 6 + 5] >= c.chars))
			goto corrupt;
		tz->type_off[i] = o;
	}
	off += blen;
	if (tsize == 8 && len > off) {
		/* Footer: "\n" <POSIX TZ rule, maybe empty> "\n". */
		const uint8_t *nl;
		char rule[TZ_NAME_MAX + 1];
		size_t rl;

		if (data[off] != '\n')
			goto corrupt;
		nl = memchr(data + off + 1, '\n', len - off - 1);
		if (!nl)
			goto corrupt;
		rl = (size_t)(nl - (data + off + 1));
		if (rl > TZ_NAME_MAX || memchr(data + off + 1, '\0', rl))
			goto corrupt;
		memcpy(rule, data + off + 1, rl);
		rule[rl] = '\0';
		if (rl > 0) {
			if (posix_parse(&tz->rule, rule) < 0 ||
			    tz->rule.std_off < -MAX_OFFSET ||
			    tz->rule.std_off > MAX_OFFSET ||
			    tz->rule.dst_off < -MAX_OFFSET ||
			    tz->rule.dst_off > MAX_OFFSET)
				goto corrupt;
			tz->has_rule = true;
		}
	}
	*out = tz;
	return 0;
corrupt:
	stow_tz_free(tz);
	return stow_err_set(STOW_ECORRUPT, "zone %s: malformed TZif data",
			    name);
}

static bool tz_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[0] == '.' ||
	    strstr(name, ".."))
		return false;
	for (const char *s = name; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_+-./", *s))
			return false;
	return true;
}

static int read_small_file(const char *path, stow_buf *b)
{
	FILE *f = fopen(path, "rb");
	uint8_t chunk[4096];
	size_t n;

	if (!f)
		return errno == ENOENT || errno == ENOTDIR || errno == EISDIR
			   ? STOW_ENOTFOUND
			   : stow_err_set(STOW_EIO, "%s: %s", path,
					  strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		int rc = stow_buf_append(b, chunk, n);

		if (rc < 0) {
			fclose(f);
			return stow_err_set(STOW_ECORRUPT,
					    "%s: larger than a zone file can "
					    "be",
					    path);
		}
	}
	if (ferror(f)) {
		fclose(f);
		return stow_err_set(STOW_EIO, "%s: read error", path);
	}
	fclose(f);
	return 0;
}

static int load_file(stow_tz **out, const char *path, const char *name)
{
	_cleanup_(stow_buf_freep) stow_buf b;
	int rc;

	stow_buf_init(&b, TZIF_MAX_BYTES);
	rc = read_small_file(path, &b);
	if (rc < 0)
		return rc;
	return stow_tz_parse_tzif(out, name, b.data ? b.data : (uint8_t *)"",
				  b.len);
}

static int load_local(stow_tz **out)
{
	const char *env = getenv("TZ");

	if (env) {
		if (*env == ':')
			env++;
		if (*env == '\0' || strcmp(env, "UTC") == 0) {
			*out = (stow_tz *)&utc_zone;
			return 0;
		}
		if (env[0] == '/') {
			if (load_file(out, env, "Local") == 0)
				return 0;
		} else if (tz_name_ok(env) && stow_tz_load(out, env) == 0) {
			return 0;
		}
		if (stow_tz_parse_posix(out, env) == 0)
			return 0;
		/* An unusable TZ means UTC, as in C libraries and Go. */
		*out = (stow_tz *)&utc_zone;
		return 0;
	}
	if (load_file(out, "/etc/localtime", "Local") == 0)
		return 0;
	*out = (stow_tz *)&utc_zone;
	return 0;
}

int stow_tz_load(stow_tz **out, const char *name)
{
	const char *dir = getenv("ZONEINFO");
	char path[TZ_NAME_MAX + 512];
	int rc;

	*out = NULL;
	if (!name || *name == '\0' || strcmp(name, "UTC") == 0) {
		*out = (stow_tz *)&utc_zone;
		return 0;
	}
	if (strcmp(name, "Local") == 0)
		return load_local(out);
	if (!tz_name_ok(name))
		return stow_err_set(STOW_EINVAL,
				    "invalid time zone name \"%.64s\"", name);
	if (!dir || *dir == '\0' || strlen(dir) > 500)
		dir = "/usr/share/zoneinfo";
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = load_file(out, path, name);
	if (rc == STOW_ENOTFOUND)
		return stow_err_set(STOW_ENOTFOUND, "unknown time zone %s",
				    name);
	return rc;
}

int32_t stow_tz_offset(const stow_tz *tz, int64_t t)
{
	size_t lo = 0, hi;

	if (!tz)
		return 0;
	if (tz->ntimes == 0)
		return tz->has_rule ? rule_offset(&tz->rule, t)
				    : (tz->ntypes ? tz->type_off[0] : 0);
	if (t < tz->times[0])
		return tz->type_off[0];
	if (t >= tz->times[tz->ntimes - 1] && tz->has_rule)
		return rule_offset(&tz->rule, t);
	/* The last transition at or before t. */
	hi = tz->ntimes;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->type_off[tz->idx[lo]];
}

/* The first instant after t at which the offset may change (INT64_MAX:
 * never). */
static int64_t tz_next_change(const stow_tz *tz, int64_t t)
{
	size_t lo = 0, hi;

	if (!tz)
		return INT64_MAX;
	if (tz->ntimes == 0 || t >= tz->times[tz->ntimes - 1])
		return tz->has_rule ? rule_next_change(&tz->rule, t)
				    : INT64_MAX;
	if (t < tz->times[0])
		return tz->times[0];
	hi = tz->ntimes;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->times[lo + 1];
}

void stow_tz_civil(const stow_tz *tz, int64_t t, stow_civil *out)
{
	int32_t off = stow_tz_offset(tz, t);
	int64_t local = t + off, days = floor_div(local, 86400);
	int64_t secs = local - days * 86400;

	civil_from_days(days, &out->year, &out->month, &out->day);
	out->hour = (int)(secs / 3600);
	out->minute = (int)(secs / 60 % 60);
	out->second = (int)(secs % 60);
	out->wday = weekday_of_days(days);
	out->yday = (int)(days - stow_days_from_civil(out->year, 1, 1));
	out->utc_offset = off;
}

/* The earliest instant whose wall time is at least `wall` (local seconds
 * since the epoch). Offsets are bounded by MAX_OFFSET, so the answer lies
 * in [wall - MAX_OFFSET, wall + MAX_OFFSET]; walking that window segment by
 * segment (constant offset o each) gives candidates max(seg start,
 * wall - o), and the first segment holding one wins. */
static int64_t first_instant_at_or_after(const stow_tz *tz, int64_t wall)
{
	int64_t s = wall - MAX_OFFSET - 1, lim = wall + MAX_OFFSET + 1;

	while (s < lim) {
		int32_t o = stow_tz_offset(tz, s);
		int64_t e = tz_next_change(tz, s), cand = wall - o;

		if (e > lim)
			e = lim;
		if (cand < s)
			cand = s;
		if (cand < e)
			return cand;
		s = e;
	}
	return wall - stow_tz_offset(tz, wall);
}

/* Whether the wall time shown at instant t was already shown at an earlier
 * instant (the second pass through an hour repeated by a DST change). */
static bool wall_seen_before(const stow_tz *tz, int64_t t)
{
	int64_t wall = t + stow_tz_offset(tz, t);
	int64_t s = t - 2 * MAX_OFFSET - 1;

	while (s < t) {
		int32_t o = stow_tz_offset(tz, s);
		int64_t e = tz_next_change(tz, s), u = wall - o;

		if (e > t)
			e = t;
		if (u >= s && u < e)
			return true;
		s = e;
	}
	return false;
}

/* ======================================================================
 * Cron. */

#define SEARCH_YEARS 5
#define ALL_HOURS ((UINT32_C(1) << 24) - 1)

struct stow_cron {
	uint64_t minute;
	uint32_t hour;
	uint32_t dom;	/* bits 1-31 */
	uint16_t month; /* bits 1-12 */
	uint8_t dow;	/* bits 0-6 */
	bool dom_star, dow_star;
	int64_t every;	   /* seconds; 0 for wall-clock schedules */
	const stow_tz *tz; /* the zone used: owned_tz or the caller's */
	stow_tz *owned_tz;
};

typedef struct field_spec {
	const char *what;
	int min, max;		  /* accepted numbers */
	int star_max;		  /* upper end of '*' and of "n/step" */
	const char *const *names; /* three-letter names from min, or NULL */
} field_spec;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may",
					  "jun", "jul", "aug", "sep", "oct",
					  "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed",
					"thu", "fri", "sat", NULL};

static const field_spec fields[5] = {
    {"minute", 0, 59, 59, NULL},	 {"hour", 0, 23, 23, NULL},
    {"day-of-month", 1, 31, 31, NULL},	 {"month", 1, 12, 12, month_names},
    {"day-of-week", 0, 7, 6, dow_names},
};

/* One number or name of a field, [s, e). */
static int field_value(const field_spec *f, const char *s, size_t n, int *out)
{
	long v = 0;

	if (f->names && n == 3) {
		for (int i = 0; f->names[i]; i++)
			if (strncasecmp(s, f->names[i], 3) == 0) {
				*out = f->min + i;
				return 0;
			}
	}
	if (n == 0)
		return stow_err_set(STOW_EINVAL, "%s: empty value", f->what);
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return stow_err_set(
			    STOW_EINVAL, "%s: \"%.*s\" is not a number%s",
			    f->what, (int)(n > 32 ? 32 : n), s,
			    f->names == month_names ? " or month name"
			    : f->names		    ? " or weekday name"
						    : "");
		if (v < 1000)
			v = v * 10 + (s[i] - '0');
	}
	if (v < f->min || v > f->max)
		return stow_err_set(STOW_EINVAL, "%s: %ld out of range %d-%d",
				    f->what, v, f->min, f->max);
	*out = (int)v;
	return 0;
}

/* One comma-separated term: `*`, `?`, a, a-b, each optionally /step. */
static int field_term(const field_spec *f, const char *s, size_t n,
		      uint64_t *bits, bool *star)
{
	const char *slash = memchr(s, '/', n), *dash;
	size_t rn = slash ? (size_t)(slash - s) : n;
	int lo, hi, step = 1;
	bool is_star = false;

	if (slash) {
		size_t sn = n - rn - 1;
		long v = 0;

		if (memchr(slash + 1, '/', sn))
			return stow_err_set(STOW_EINVAL,
					    "%s: too many slashes in \"%.*s\"",
					    f->what, (int)(n > 32 ? 32 : n), s);
		if (sn == 0)
			return stow_err_set(STOW_EINVAL, "%s: empty step",
					    f->what);
		for (size_t i = 0; i < sn; i++) {
			if (!isdigit((unsigned char)slash[1 + i]))
				return stow_err_set(STOW_EINVAL,
						    "%s: step \"%.*s\" is not "
						    "a number",
						    f->what,
						    (int)(sn > 32 ? 32 : sn),
						    slash + 1);
			if (v < 1000)
				v = v * 10 + (slash[1 + i] - '0');
		}
		if (v == 0)
			return stow_err_set(
			    STOW_EINVAL, "%s: step must be positive", f->what);
		step = (int)v;
	}
	if (rn == 1 && (s[0] == '*' || s[0] == '?')) {
		lo = f->min;
		hi = f->star_max;
		is_star = true;
	} else {
		dash = memchr(s, '-', rn);
		if (dash) {
			size_t an = (size_t)(dash - s);

			if (memchr(dash + 1, '-', rn - an - 1))
				return stow_err_set(
				    STOW_EINVAL,
				    "%s: too many hyphens in "
				    "\"%.*s\"",
				    f->what, (int)(rn > 32 ? 32 : rn), s);
			STOW_TRY(field_value(f, s, an, &lo));
			STOW_TRY(field_value(f, dash + 1, rn - an - 1, &hi));
			if (lo > hi)
				return stow_err_set(STOW_EINVAL,
						    "%s: range %d-%d runs "
						    "backwards",
						    f->what, lo, hi);
		} else {
			STOW_TRY(field_value(f, s, rn, &lo));
			/* "a/step" means a through the maximum. */
			hi = slash ? (lo > f->star_max ? lo : f->star_max) : lo;
		}
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << v;
	/* As robfig/cron: "*" and "*" "/1" count as unrestricted for the
	 * day-of-month/day-of-week rule; a real step does not. */
	if (is_star && step == 1)
		*star = true;
	return 0;
}

static int field_parse(const field_spec *f, const char *s, size_t n,
		       uint64_t *bits, bool *star)
{
	*bits = 0;
	*star = false;
	for (;;) {
		const char *comma = memchr(s, ',', n);
		size_t tn = comma ? (size_t)(comma - s) : n;

		if (tn == 0)
			return stow_err_set(STOW_EINVAL,
					    "%s: empty list element", f->what);
		STOW_TRY(field_term(f, s, tn, bits, star));
		if (!comma)
			return 0;
		s = comma + 1;
		n -= tn + 1;
	}
}

static const struct {
	const char *name;
	const char *expr;
} descriptors[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int parse_fields(stow_cron *c, const char *s)
{
	const char *start[6];
	size_t len[6];
	int n = 0;
	uint64_t bits[5];
	bool star[5];

	for (;;) {
		while (is_space(*s))
			s++;
		if (*s == '\0')
			break;
		if (n == 6)
			return stow_err_set(STOW_EINVAL,
					    "expected exactly 5 fields, found "
					    "more");
		start[n] = s;
		while (*s && !is_space(*s))
			s++;
		len[n] = (size_t)(s - start[n]);
		n++;
	}
	if (n != 5)
		return stow_err_set(STOW_EINVAL,
				    "expected exactly 5 fields (minute hour "
				    "day-of-month month day-of-week), found %d",
				    n);
	for (int i = 0; i < 5; i++)
		STOW_TRY(field_parse(&fields[i], start[i], len[i], &bits[i],
				     &star[i]));
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	/* Weekday 7 is Sunday. */
	c->dow = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
	c->dom_star = star[2];
	c->dow_star = star[4];
	return 0;
}

static int parse_spec(stow_cron *c, const char *s)
{
	if (*s != '@')
		return parse_fields(c, s);
	if (strncmp(s, "@every", 6) == 0 && is_space(s[6])) {
		int64_t ns;
		char dur[64];
		size_t n;

		s += 6;
		while (is_space(*s))
			s++;
		n = strlen(s);
		while (n > 0 && is_space(s[n - 1]))
			n--;
		if (n == 0 || n >= sizeof(dur))
			return stow_err_set(STOW_EINVAL,
					    "@every: missing or overlong "
					    "duration");
		memcpy(dur, s, n);
		dur[n] = '\0';
		if (stow_duration_parse(dur, &ns) < 0)
			return stow_err_wrap(STOW_EINVAL, "@every");
		/* As robfig/cron: whole seconds, at least one. */
		c->every = ns < STOW_NSEC_PER_SEC ? 1 : ns / STOW_NSEC_PER_SEC;
		return 0;
	}
	for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]);
	     i++) {
		size_t n = strlen(descriptors[i].name);
		const char *rest = s + n;

		if (strncmp(s, descriptors[i].name, n) != 0)
			continue;
		while (is_space(*rest))
			rest++;
		if (*rest == '\0')
			return parse_fields(c, descriptors[i].expr);
	}
	return stow_err_set(STOW_EINVAL,
			    "unrecognized descriptor \"%.32s\" (want @yearly, "
			    "@annually, @monthly, @weekly, @daily, @midnight, "
			    "@hourly or @every <duration>)",
			    s);
}

void stow_cron_free(stow_cron *c)
{
	if (!c)
		return;
	stow_tz_free(c->owned_tz);
	free(c);
}

int stow_cron_parse(stow_cron **out, const char *expr)
{
	return stow_cron_parse_in(out, expr, NULL);
}

int stow_cron_parse_in(stow_cron **out, const char *expr,
		       const stow_tz *default_tz)
{
	_cleanup_free_ stow_cron *c = NULL;
	const char *s = expr;
	int rc;

	if (!out)
		return stow_err_set(STOW_EINVAL, "cron: no output");
	*out = NULL;
	if (!expr)
		return stow_err_set(STOW_EINVAL, "empty schedule");
	if (strlen(expr) > 1024)
		return stow_err_set(STOW_EINVAL, "schedule too long");
	while (is_space(*s))
		s++;
	if (*s == '\0')
		return stow_err_set(STOW_EINVAL, "empty schedule");
	c = calloc(1, sizeof(*c));
	if (!c)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (strncmp(s, "CRON_TZ=", 8) == 0 || strncmp(s, "TZ=", 3) == 0) {
		const char *name = strchr(s, '=') + 1, *end = name;
		char zone[TZ_NAME_MAX + 1];

		while (*end && !is_space(*end))
			end++;
		if (*end == '\0')
			return stow_err_set(STOW_EINVAL,
					    "time zone prefix without a "
					    "schedule");
		if ((size_t)(end - name) > TZ_NAME_MAX)
			return stow_err_set(STOW_EINVAL,
					    "time zone name too long");
		memcpy(zone, name, (size_t)(end - name));
		zone[end - name] = '\0';
		rc = stow_tz_load(&c->owned_tz, zone);
		if (rc < 0)
			return stow_err_wrap(rc, "time zone");
		c->tz = c->owned_tz;
		s = end;
		while (is_space(*s))
			s++;
	} else if (default_tz) {
		c->tz = default_tz;
	} else {
		rc = stow_tz_load(&c->owned_tz, "Local");
		if (rc < 0)
			return rc;
		c->tz = c->owned_tz;
	}
	rc = parse_spec(c, s);
	if (rc < 0) {
		stow_tz_free(c->owned_tz);
		return rc;
	}
	*out = STOW_TAKE_PTR(c);
	return 0;
}

const stow_tz *stow_cron_tz(const stow_cron *c)
{
	return c->tz;
}

int64_t stow_cron_every(const stow_cron *c)
{
	return c->every;
}

static bool day_matches(const stow_cron *c, const stow_civil *cv)
{
	bool dom = c->dom >> cv->day & 1, dow = c->dow >> cv->wday & 1;

	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

int stow_cron_next(const stow_cron *c, int64_t after, int64_t *next)
{
	const stow_tz *tz = c->tz;
	int64_t t, year_limit;
	stow_civil cv;

	if (after <= -TIME_LIMIT || after >= TIME_LIMIT)
		return stow_err_set(STOW_EINVAL, "cron: time out of range");
	if (c->every) {
		if (c->every >= TIME_LIMIT - after)
			return stow_err_set(STOW_ENOTFOUND,
					    "cron: interval out of range");
		*next = after + c->every;
		return 0;
	}
	t = after + 1;
	stow_tz_civil(tz, t, &cv);
	year_limit = cv.year + SEARCH_YEARS;
	/* Each step below moves t forward to the next instant that could
	 * match, coarsest field first; every branch strictly increases t,
	 * and the year limit bounds the walk. */
	for (;;) {
		stow_tz_civil(tz, t, &cv);
		if (cv.year > year_limit)
			break;
		if (cv.second != 0) {
			t += 60 - cv.second;
			continue;
		}
		if (!(c->month >> cv.month & 1)) {
			int64_t y = cv.year + (cv.month == 12);
			int m = cv.month == 12 ? 1 : cv.month + 1;
			int64_t u = first_instant_at_or_after(
			    tz, stow_days_from_civil(y, m, 1) * 86400);

			t = u > t ? u : t + 60;
			continue;
		}
		if (!day_matches(c, &cv)) {
			int64_t u = first_instant_at_or_after(
			    tz, stow_days_from_civil(cv.year, cv.month,
						     cv.day + 1) *
				    86400);

			t = u > t ? u : t + 60;
			continue;
		}
		if (!(c->hour >> cv.hour & 1)) {
			t += (60 - cv.minute) * 60;
			continue;
		}
		if (!(c->minute >> cv.minute & 1)) {
			int m = cv.minute + 1;

			while (m < 60 && !(c->minute >> m & 1))
				m++;
			t += (m - cv.minute) * 60;
			continue;
		}
		if (c->hour != ALL_HOURS && wall_seen_before(tz, t)) {
			t += 60;
			continue;
		}
		*next = t;
		return 0;
	}
	return stow_err_set(STOW_ENOTFOUND,
			    "schedule does not fire within %d years",
			    SEARCH_YEARS);
}
