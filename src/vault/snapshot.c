/* Snapshot manifests: the JSON inside snapshots/<id> (docs/FORMAT.md §7)
 * and the repository-level operations on them.
 *
 * The JSON is parsed as hostile input even though it sits inside an
 * authenticated object: a key holder can write anything, and the parser
 * is a fuzz target. Serialising validates with the same rules, so every
 * manifest we write parses back to the same struct. */
#include "vault/snapshot.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/err.h"

#define MANIFEST_VERSION 1
/* Caps that bound what a hostile manifest can make us allocate. The
 * backup keeps the first 20 error messages; 1024 leaves room. */
#define MANIFEST_MAX ((size_t)16 << 20)
#define ERRORS_MAX 1024
#define ID_HEX_LEN (2 * STOW_ID_LEN)
#define PREFIX_MIN 4
#define KEY_PREFIX "snapshots/"
#define NSEC_PER_SEC 1000000000u

/* Seconds from 1970 of 0000-01-01T00:00:00Z and of 9999-12-31T23:59:59Z:
 * the range a four-digit year can write. */
#define TIME_MIN INT64_C(-62167219200)
#define TIME_MAX INT64_C(253402300799)

/* jansson (>= 2.11) provides json_decrefp for cleanup attributes. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* --- small helpers ---------------------------------------------------- */

/* Exactly 64 lowercase hex digits: the only spelling of an ID that we
 * write, so that IDs compare as strings and are safe in storage keys. */
static bool is_id_hex(const char *s)
{
	size_t i;

	for (i = 0; i < ID_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

static void snapshot_key(char out[sizeof(KEY_PREFIX) + ID_HEX_LEN],
			 const char *id)
{
	memcpy(out, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	memcpy(out + sizeof(KEY_PREFIX) - 1, id, ID_HEX_LEN + 1);
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) at p, or 0. jansson applies the
 * same rule, so a string that passes here is one json_string() takes. */
static size_t utf8_seq_len(const uint8_t *p, size_t left)
{
	uint32_t cp;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static bool utf8_valid(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t left = strlen(s);

	while (left) {
		size_t n = utf8_seq_len(p, left);

		if (!n)
			return false;
		p += n;
		left -= n;
	}
	return true;
}

/* A JSON string for s, which must be UTF-8 (EINVAL naming `what`). */
static int json_str(json_t **out, const char *s, const char *what)
{
	if (!s)
		return stow_err_set(STOW_EINVAL, "snapshot: no %s", what);
	if (!utf8_valid(s))
		return stow_err_set(STOW_EINVAL,
				    "snapshot: %s is not valid UTF-8", what);
	*out = json_string(s);
	if (!*out)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

/* A JSON string for an error message: these quote file names, which need
 * not be UTF-8, and are only ever shown to people, so each byte that is
 * not part of a well-formed sequence becomes U+FFFD instead of failing a
 * backup at its very end. */
static int json_str_lossy(json_t **out, const char *s)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	const uint8_t *p = (const uint8_t *)s;
	size_t left = strlen(s);

	if (utf8_valid(s))
		return json_str(out, s, "error message");
	stow_buf_init(&b, 0);
	while (left) {
		size_t n = utf8_seq_len(p, left);

		if (n)
			STOW_TRY(stow_buf_append(&b, p, n));
		else
			STOW_TRY(stow_buf_append(&b, "\xef\xbf\xbd", 3));
		p += n ? n : 1;
		left -= n ? n : 1;
	}
	STOW_TRY(stow_buf_append_str(&b, ""));
	return json_str(out, (const char *)b.data, "error message");
}

static int set_member(json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

/* --- times -------------------------------------------------------------
 *
 * "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", UTC, always nine fraction digits, so
 * that a time round-trips to the nanosecond and sorts as a string. */

#define TIME_LEN 30

static int format_time(char out[TIME_LEN + 1], int64_t sec, uint32_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char tmp[96]; /* what gcc's worst case for the format needs */

	if (nsec >= NSEC_PER_SEC || sec < TIME_MIN || sec > TIME_MAX ||
	    !gmtime_r(&t, &tm) ||
	    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, nsec) != TIME_LEN)
		return stow_err_set(STOW_EINVAL,
				    "snapshot: time %lld.%09u outside years "
				    "0000-9999",
				    (long long)sec, nsec);
	memcpy(out, tmp, TIME_LEN + 1);
	return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil), valid for any year we accept. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, uint32_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint32_t)(s[i] - '0');
	}
	return true;
}

static int parse_time(const char *s, const char *what, int64_t *sec,
		      uint32_t *nsec)
{
	static const uint32_t mdays[] = {31, 28, 31, 30, 31, 30,
					 31, 31, 30, 31, 30, 31};
	uint32_t y, mo, d, h, mi, se, ns;
	bool leap;

	if (strlen(s) != TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
	    s[29] != 'Z' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) ||
	    !digits(s + 20, 9, &ns))
		goto bad;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap ? 1u : 0u) || h > 23 ||
	    mi > 59 || se > 59)
		goto bad;
	*sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	*nsec = ns;
	return 0;
bad:
	return stow_err_set(STOW_ECORRUPT,
			    "snapshot manifest: \"%s\" is not a time "
			    "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ",
			    what);
}

/* --- serialising ------------------------------------------------------- */

static int tag_key_check(const char *k, int code)
{
	if (!k || !*k)
		return stow_err_set(code, "tag with an empty key");
	if (strchr(k, '='))
		return stow_err_set(code, "tag key \"%s\" contains '='", k);
	return 0;
}

/* The helpers below attach their container to `parent` first and fill it
 * after, so that on any error the one reference, held by the top object,
 * frees everything. */
static int stats_to_json(const stow_snapshot_stats *st, json_t *parent)
{
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
	    {"files", st->files},
	    {"dirs", st->dirs},
	    {"symlinks", st->symlinks},
	    {"others", st->others},
	    {"bytes", st->bytes},
	    {"files_reused", st->files_reused},
	    {"bytes_read", st->bytes_read},
	    {"blobs_new", st->blobs_new},
	    {"bytes_new_raw", st->bytes_new_raw},
	    {"bytes_new_stored", st->bytes_new_stored},
	    {"errors", st->errors},
	};
	json_t *o = json_object();

	STOW_TRY(set_member(parent, "stats", o));
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		/* JSON integers are signed 64-bit in jansson (and in most
		 * readers); no real count comes near 2^63. */
		if (f[i].v > INT64_MAX)
			return stow_err_set(STOW_EINVAL,
					    "snapshot: stats.%s too large",
					    f[i].name);
		STOW_TRY(
		    set_member(o, f[i].name, json_integer((json_int_t)f[i].v)));
	}
	if (!isfinite(st->seconds) || st->seconds < 0)
		return stow_err_set(STOW_EINVAL,
				    "snapshot: stats.seconds is not a "
				    "non-negative number");
	return set_member(o, "seconds", json_real(st->seconds));
}

static int tags_to_json(const stow_snapshot *s, json_t *parent)
{
	json_t *o = json_object();

	STOW_TRY(set_member(parent, "tags", o));
	if (s->ntags > STOW_SNAPSHOT_TAGS_MAX)
		return stow_err_set(STOW_EINVAL,
				    "snapshot: %zu tags (at most %d)", s->ntags,
				    STOW_SNAPSHOT_TAGS_MAX);
	if (s->ntags && !s->tags)
		return stow_err_set(STOW_EINVAL, "snapshot: tags missing");
	for (size_t i = 0; i < s->ntags; i++) {
		const stow_tag *t = &s->tags[i];
		json_t *v = NULL;

		STOW_TRY(tag_key_check(t->key, STOW_EINVAL));
		if (!utf8_valid(t->key))
			return stow_err_set(STOW_EINVAL,
					    "snapshot: tag key is not valid "
					    "UTF-8");
		if (json_object_get(o, t->key))
			return stow_err_set(STOW_EINVAL,
					    "snapshot: tag \"%s\" given twice",
					    t->key);
		STOW_TRY(json_str(&v, t->value, "tag value"));
		STOW_TRY(set_member(o, t->key, v));
	}
	return 0;
}

static int errors_to_json(const stow_snapshot *s, json_t *parent)
{
	json_t *a = json_array();

	STOW_TRY(set_member(parent, "errors", a));
	if (s->nerrors > ERRORS_MAX || (s->nerrors && !s->errors))
		return stow_err_set(STOW_EINVAL,
				    "snapshot: %zu error messages (at most %d)",
				    s->nerrors, ERRORS_MAX);
	for (size_t i = 0; i < s->nerrors; i++) {
		json_t *v = NULL;

		if (!s->errors[i])
			return stow_err_set(STOW_EINVAL,
					    "snapshot: error message missing");
		STOW_TRY(json_str_lossy(&v, s->errors[i]));
		if (json_array_append_new(a, v) < 0)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

static int manifest_to_json(const stow_snapshot *s, json_t *o)
{
	char t[TIME_LEN + 1], hex[ID_HEX_LEN + 1];
	json_t *v = NULL;

	if (!is_id_hex(s->id))
		return stow_err_set(STOW_EINVAL,
				    "snapshot: ID is not 64 lowercase hex "
				    "digits");
	if (s->parent[0] && !is_id_hex(s->parent))
		return stow_err_set(STOW_EINVAL,
				    "snapshot: parent is not 64 lowercase hex "
				    "digits");
	if (s->path && s->path[0] != '/')
		return stow_err_set(STOW_EINVAL,
				    "snapshot: path \"%s\" is not absolute",
				    s->path);

	STOW_TRY(set_member(o, "version", json_integer(MANIFEST_VERSION)));
	STOW_TRY(set_member(o, "id", json_string(s->id)));
	STOW_TRY(format_time(t, s->time_sec, s->time_nsec));
	STOW_TRY(set_member(o, "time", json_string(t)));
	STOW_TRY(format_time(t, s->end_sec, 0));
	STOW_TRY(set_member(o, "end_time", json_string(t)));
	STOW_TRY(json_str(&v, s->host, "host"));
	STOW_TRY(set_member(o, "host", v));
	STOW_TRY(json_str(&v, s->path, "path"));
	STOW_TRY(set_member(o, "path", v));
	STOW_TRY(tags_to_json(s, o));
	stow_hex(hex, s->root, STOW_ID_LEN);
	STOW_TRY(set_member(o, "root", json_string(hex)));
	if (s->parent[0])
		STOW_TRY(set_member(o, "parent", json_string(s->parent)));
	STOW_TRY(set_member(o, "partial", json_boolean(s->partial)));
	STOW_TRY(stats_to_json(&s->stats, o));
	return errors_to_json(s, o);
}

static int dump_cb(const char *p, size_t n, void *ctx)
{
	return stow_buf_append(ctx, p, n) < 0 ? -1 : 0;
}

int stow_snapshot_to_json(const stow_snapshot *s, stow_buf *out)
{
	_cleanup_json_ json_t *o = NULL;
	size_t start;
	int rc;

	if (!s || !out)
		return stow_err_set(STOW_EINVAL, "stow_snapshot_to_json: NULL");
	o = json_object();
	if (!o)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	/* set_member consumes its value even when it fails, and containers
	 * are attached before they are filled: dropping `o` frees all. */
	STOW_TRY(manifest_to_json(s, o));
	start = out->len;
	stow_err_clear();
	if (json_dump_callback(o, dump_cb, out, JSON_COMPACT) < 0) {
		out->len = start;
		rc = stow_err_msg()[0] ? STOW_ENOMEM : STOW_EIO;
		return stow_err_wrap(rc, "serialising snapshot manifest");
	}
	if (out->len - start > MANIFEST_MAX) {
		out->len = start;
		return stow_err_set(STOW_EINVAL,
				    "snapshot manifest larger than %zu bytes",
				    MANIFEST_MAX);
	}
	return 0;
}

/* --- parsing ----------------------------------------------------------- */

static int bad(const char *name, const char *what)
{
	return stow_err_set(STOW_ECORRUPT, "snapshot manifest: \"%s\" %s", name,
			    what);
}

/* The member `key` of o if it has the wanted type; missing or mistyped
 * members are ECORRUPT. */
static int member(json_t *o, const char *key, json_type type, json_t **v)
{
	static const char *const names[] = {
	    [JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",
	    [JSON_STRING] = "a string",	 [JSON_INTEGER] = "an integer",
	    [JSON_REAL] = "a number",	 [JSON_TRUE] = "a boolean",
	};

	*v = json_object_get(o, key);
	if (!*v)
		return bad(key, "is missing");
	if (type == JSON_TRUE	? !json_is_boolean(*v)
	    : type == JSON_REAL ? !json_is_number(*v)
				: json_typeof(*v) != type)
		return stow_err_set(STOW_ECORRUPT,
				    "snapshot manifest: \"%s\" is not %s", key,
				    names[type]);
	return 0;
}

static int member_str(json_t *o, const char *key, const char **s)
{
	json_t *v;

	STOW_TRY(member(o, key, JSON_STRING, &v));
	*s = json_string_value(v);
	return 0;
}

static int dup_str(char **out, const char *s)
{
	*out = strdup(s);
	if (!*out)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

static int member_id(json_t *o, const char *key, char out[ID_HEX_LEN + 1])
{
	const char *s;

	STOW_TRY(member_str(o, key, &s));
	if (!is_id_hex(s))
		return bad(key, "is not 64 lowercase hex digits");
	memcpy(out, s, ID_HEX_LEN + 1);
	return 0;
}

static int stats_from_json(json_t *o, stow_snapshot_stats *st)
{
	const struct {
		const char *name;
		uint64_t *v;
	} f[] = {
	    {"files", &st->files},
	    {"dirs", &st->dirs},
	    {"symlinks", &st->symlinks},
	    {"others", &st->others},
	    {"bytes", &st->bytes},
	    {"files_reused", &st->files_reused},
	    {"bytes_read", &st->bytes_read},
	    {"blobs_new", &st->blobs_new},
	    {"bytes_new_raw", &st->bytes_new_raw},
	    {"bytes_new_stored", &st->bytes_new_stored},
	    {"errors", &st->errors},
	};
	json_t *v;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		STOW_TRY(member(o, f[i].name, JSON_INTEGER, &v));
		if (json_integer_value(v) < 0)
			return bad(f[i].name, "is negative");
		*f[i].v = (uint64_t)json_integer_value(v);
	}
	STOW_TRY(member(o, "seconds", JSON_REAL, &v));
	st->seconds = json_number_value(v);
	if (!isfinite(st->seconds) || st->seconds < 0)
		return bad("seconds", "is negative");
	return 0;
}

static int tags_from_json(json_t *o, stow_snapshot *s)
{
	const char *k;
	json_t *v;
	size_t n = json_object_size(o);

	if (n > STOW_SNAPSHOT_TAGS_MAX)
		return stow_err_set(STOW_ECORRUPT,
				    "snapshot manifest: %zu tags (at most %d)",
				    n, STOW_SNAPSHOT_TAGS_MAX);
	if (n == 0)
		return 0;
	s->tags = calloc(n, sizeof(*s->tags));
	if (!s->tags)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	/* jansson keeps members in document order, so tags keep theirs. */
	json_object_foreach(o, k, v)
	{
		stow_tag *t = &s->tags[s->ntags];

		if (tag_key_check(k, STOW_ECORRUPT) < 0)
			return stow_err_wrap(STOW_ECORRUPT,
					     "snapshot manifest");
		if (!json_is_string(v))
			return stow_err_set(STOW_ECORRUPT,
					    "snapshot manifest: tag \"%s\" is "
					    "not a string",
					    k);
		s->ntags++;
		STOW_TRY(dup_str(&t->key, k));
		STOW_TRY(dup_str(&t->value, json_string_value(v)));
	}
	return 0;
}

static int errors_from_json(json_t *a, stow_snapshot *s)
{
	size_t n = json_array_size(a);

	if (n > ERRORS_MAX)
		return stow_err_set(STOW_ECORRUPT,
				    "snapshot manifest: %zu error messages "
				    "(at most %d)",
				    n, ERRORS_MAX);
	if (n == 0)
		return 0;
	s->errors = calloc(n, sizeof(*s->errors));
	if (!s->errors)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(a, i);

		if (!json_is_string(v))
			return stow_err_set(STOW_ECORRUPT,
					    "snapshot manifest: errors[%zu] is "
					    "not a string",
					    i);
		s->nerrors++;
		STOW_TRY(dup_str(&s->errors[i], json_string_value(v)));
	}
	return 0;
}

static int manifest_from_json(json_t *o, stow_snapshot *s)
{
	const char *str;
	json_t *v;
	char hex[ID_HEX_LEN + 1];
	uint32_t end_nsec;

	/* The version first: a later version may change everything else. */
	STOW_TRY(member(o, "version", JSON_INTEGER, &v));
	if (json_integer_value(v) != MANIFEST_VERSION)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "snapshot manifest version %lld (this "
				    "build reads version %d)",
				    (long long)json_integer_value(v),
				    MANIFEST_VERSION);
	STOW_TRY(member_id(o, "id", s->id));
	STOW_TRY(member_str(o, "time", &str));
	STOW_TRY(parse_time(str, "time", &s->time_sec, &s->time_nsec));
	/* end_time has the same form; its fraction is not kept. */
	STOW_TRY(member_str(o, "end_time", &str));
	STOW_TRY(parse_time(str, "end_time", &s->end_sec, &end_nsec));
	STOW_TRY(member_str(o, "host", &str));
	STOW_TRY(dup_str(&s->host, str));
	STOW_TRY(member_str(o, "path", &str));
	if (str[0] != '/')
		return bad("path", "is not absolute");
	STOW_TRY(dup_str(&s->path, str));
	STOW_TRY(member(o, "tags", JSON_OBJECT, &v));
	STOW_TRY(tags_from_json(v, s));
	STOW_TRY(member_id(o, "root", hex));
	STOW_TRY(stow_unhex(s->root, STOW_ID_LEN, hex));
	if (json_object_get(o, "parent"))
		STOW_TRY(member_id(o, "parent", s->parent));
	STOW_TRY(member(o, "partial", JSON_TRUE, &v));
	s->partial = json_is_true(v);
	STOW_TRY(member(o, "stats", JSON_OBJECT, &v));
	STOW_TRY(stats_from_json(v, &s->stats));
	STOW_TRY(member(o, "errors", JSON_ARRAY, &v));
	return errors_from_json(v, s);
}

int stow_snapshot_from_json(stow_snapshot *s, const uint8_t *json, size_t len)
{
	_cleanup_json_ json_t *o = NULL;
	json_error_t jerr;
	int rc;

	if (!s || (!json && len))
		return stow_err_set(STOW_EINVAL,
				    "stow_snapshot_from_json: NULL");
	memset(s, 0, sizeof(*s));
	if (len > MANIFEST_MAX)
		return stow_err_set(STOW_ECORRUPT,
				    "snapshot manifest of %zu bytes exceeds "
				    "the cap of %zu",
				    len, MANIFEST_MAX);
	/* Duplicate members would make "which one counts" ambiguous; NUL
	 * inside strings stays rejected (jansson's default), so every string
	 * is a C string. */
	o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return stow_err_set(STOW_ECORRUPT,
				    "snapshot manifest: invalid JSON at line "
				    "%d column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(o))
		return stow_err_set(STOW_ECORRUPT,
				    "snapshot manifest: not a JSON object");
	rc = manifest_from_json(o, s);
	if (rc < 0)
		stow_snapshot_free(s);
	return rc;
}

void stow_snapshot_free(stow_snapshot *s)
{
	if (!s)
		return;
	free(s->host);
	free(s->path);
	for (size_t i = 0; s->tags && i < s->ntags; i++) {
		free(s->tags[i].key);
		free(s->tags[i].value);
	}
	free(s->tags);
	for (size_t i = 0; s->errors && i < s->nerrors; i++)
		free(s->errors[i]);
	free(s->errors);
	memset(s, 0, sizeof(*s));
}

void stow_snapshot_free_all(stow_snapshot *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		stow_snapshot_free(&v[i]);
	free(v);
}

int stow_tag_parse(const char *kv, stow_tag *t)
{
	const char *eq;

	if (!kv || !t)
		return stow_err_set(STOW_EINVAL, "stow_tag_parse: NULL");
	t->key = t->value = NULL;
	eq = strchr(kv, '=');
	if (!eq)
		return stow_err_set(
		    STOW_EINVAL, "tag \"%s\" is not of the form key=value", kv);
	if (eq == kv)
		return stow_err_set(STOW_EINVAL, "tag \"%s\" has an empty key",
				    kv);
	t->key = strndup(kv, (size_t)(eq - kv));
	t->value = strdup(eq + 1);
	if (!t->key || !t->value) {
		free(t->key);
		free(t->value);
		t->key = t->value = NULL;
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

/* --- repository operations ------------------------------------------------ */

int stow_snapshot_save(stow_repo *r, stow_snapshot *s)
{
	_cleanup_(stow_buf_freep) stow_buf json = {0};
	char old[sizeof(s->id)], key[sizeof(KEY_PREFIX) + ID_HEX_LEN];
	uint8_t rnd[STOW_ID_LEN];
	int rc;

	if (!r || !s)
		return stow_err_set(STOW_EINVAL, "stow_snapshot_save: NULL");
	stow_buf_init(&json, MANIFEST_MAX);
	memcpy(old, s->id, sizeof(old));
	rc = stow_random(rnd, sizeof(rnd));
	if (rc < 0)
		return rc;
	stow_hex(s->id, rnd, sizeof(rnd));
	rc = stow_snapshot_to_json(s, &json);
	if (rc == 0) {
		snapshot_key(key, s->id);
		rc = stow_sealed_put(r, STOW_SEALED_SNAPSHOT, key, json.data,
				     json.len);
		if (rc < 0)
			stow_err_wrap(rc, "saving snapshot %s", s->id);
	}
	if (rc < 0)
		memcpy(s->id, old, sizeof(old)); /* nothing was saved */
	return rc;
}

int stow_snapshot_load(stow_repo *r, const char *id, stow_snapshot *s)
{
	_cleanup_(stow_buf_freep) stow_buf pt = {0};
	char key[sizeof(KEY_PREFIX) + ID_HEX_LEN];
	int rc;

	if (!r || !id || !s)
		return stow_err_set(STOW_EINVAL, "stow_snapshot_load: NULL");
	memset(s, 0, sizeof(*s));
	if (!is_id_hex(id))
		return stow_err_set(STOW_EINVAL,
				    "\"%s\" is not a full snapshot ID (64 "
				    "lowercase hex digits)",
				    id);
	stow_buf_init(&pt, MANIFEST_MAX);
	snapshot_key(key, id);
	rc = stow_sealed_get(r, STOW_SEALED_SNAPSHOT, key, &pt);
	if (rc == STOW_ENOTFOUND)
		return stow_err_set(rc, "no snapshot %s", id);
	if (rc == 0)
		rc = stow_snapshot_from_json(s, pt.data, pt.len);
	if (rc == 0 && strcmp(s->id, id) != 0) {
		rc = stow_err_set(STOW_ECORRUPT,
				  "the manifest names another ID, %s", s->id);
		stow_snapshot_free(s);
	}
	if (rc < 0)
		return stow_err_wrap(rc, "snapshot %s", id);
	return 0;
}

/* IDs under snapshots/, as 65-byte records (64 hex + NUL) in a stow_buf.
 * Keys that are not snapshot names are not ours to judge and are skipped
 * (FORMAT.md: a reader must ignore keys it does not know). */
static int collect_id(void *ctx, const char *key, uint64_t size)
{
	const char *id = key;

	(void)size;
	if (strncmp(id, KEY_PREFIX, sizeof(KEY_PREFIX) - 1) == 0)
		id += sizeof(KEY_PREFIX) - 1;
	if (!is_id_hex(id))
		return 0;
	return stow_buf_append(ctx, id, ID_HEX_LEN + 1);
}

static int list_ids(stow_repo *r, stow_buf *ids)
{
	stow_store *st = stow_repo_store(r);
	int rc;

	stow_buf_init(ids, 0);
	rc = stow_store_list(st, KEY_PREFIX, collect_id, ids);
	if (rc < 0)
		return stow_err_wrap(rc, "listing snapshots");
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const stow_snapshot *x = a, *y = b;

	if (x->time_sec != y->time_sec)
		return x->time_sec < y->time_sec ? -1 : 1;
	if (x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return strcmp(x->id, y->id);
}

int stow_snapshot_load_all(stow_repo *r, stow_snapshot **out, size_t *n,
			   size_t *damaged)
{
	_cleanup_(stow_buf_freep) stow_buf ids = {0};
	stow_snapshot *v;
	size_t count, got = 0, bad_count = 0;

	if (!r || !out || !n)
		return stow_err_set(STOW_EINVAL,
				    "stow_snapshot_load_all: NULL");
	*out = NULL;
	*n = 0;
	if (damaged)
		*damaged = 0;
	STOW_TRY(list_ids(r, &ids));
	count = ids.len / (ID_HEX_LEN + 1);
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *id = (const char *)ids.data + i * (ID_HEX_LEN + 1);
		int rc = stow_snapshot_load(r, id, &v[got]);

		if (rc == 0) {
			got++;
		} else if (rc == STOW_ECORRUPT || rc == STOW_EUNSUPPORTED) {
			bad_count++;
		} else if (rc != STOW_ENOTFOUND) {
			/* Deleted since the listing is fine; an I/O error is
			 * not damage and must not make a snapshot vanish
			 * from a listing that gc may act on. */
			stow_snapshot_free_all(v, got);
			return rc;
		}
	}
	qsort(v, got, sizeof(*v), by_time);
	*out = v;
	*n = got;
	if (damaged)
		*damaged = bad_count;
	return 0;
}

int stow_snapshot_resolve(stow_repo *r, const char *ref, char id[65])
{
	char want[ID_HEX_LEN + 1], key[sizeof(KEY_PREFIX) + ID_HEX_LEN];
	size_t len, matches = 0;

	if (!r || !ref || !id)
		return stow_err_set(STOW_EINVAL, "stow_snapshot_resolve: NULL");
	if (strcmp(ref, "latest") == 0) {
		stow_snapshot *v;
		size_t n;

		STOW_TRY(stow_snapshot_load_all(r, &v, &n, NULL));
		if (n)
			memcpy(id, v[n - 1].id, ID_HEX_LEN + 1);
		stow_snapshot_free_all(v, n);
		if (!n)
			return stow_err_set(STOW_ENOTFOUND,
					    "no snapshot latest: the "
					    "repository has no readable "
					    "snapshots");
		return 0;
	}
	len = strlen(ref);
	if (len < PREFIX_MIN || len > ID_HEX_LEN ||
	    strspn(ref, "0123456789abcdefABCDEF") != len)
		return stow_err_set(STOW_EINVAL,
				    "\"%s\" is not a snapshot ID: expected "
				    "\"latest\" or at least %d hex digits",
				    ref, PREFIX_MIN);
	for (size_t i = 0; i <= len; i++)
		want[i] =
		    (char)(ref[i] >= 'A' && ref[i] <= 'F' ? ref[i] - 'A' + 'a'
							  : ref[i]);
	if (len == ID_HEX_LEN) {
		int rc;

		snapshot_key(key, want);
		rc = stow_store_stat(stow_repo_store(r), key, NULL);
		if (rc == STOW_ENOTFOUND)
			return stow_err_set(rc, "no snapshot %s", ref);
		if (rc < 0)
			return stow_err_wrap(rc, "looking up snapshot %s", ref);
		memcpy(id, want, ID_HEX_LEN + 1);
		return 0;
	} else {
		_cleanup_(stow_buf_freep) stow_buf ids = {0};

		STOW_TRY(list_ids(r, &ids));
		for (size_t off = 0; off < ids.len; off += ID_HEX_LEN + 1) {
			const char *cand = (const char *)ids.data + off;

			if (memcmp(cand, want, len) == 0) {
				if (matches++ == 0)
					memcpy(id, cand, ID_HEX_LEN + 1);
			}
		}
	}
	if (matches == 0)
		return stow_err_set(STOW_ENOTFOUND, "no snapshot %s", ref);
	if (matches > 1) {
		id[0] = '\0';
		return stow_err_set(STOW_EINVAL,
				    "ambiguous snapshot ID prefix %s matches "
				    "%zu snapshots",
				    ref, matches);
	}
	return 0;
}

int stow_snapshot_delete(stow_repo *r, const char *id)
{
	char key[sizeof(KEY_PREFIX) + ID_HEX_LEN];
	int rc;

	if (!r || !id)
		return stow_err_set(STOW_EINVAL, "stow_snapshot_delete: NULL");
	if (!is_id_hex(id))
		return stow_err_set(STOW_EINVAL,
				    "\"%s\" is not a full snapshot ID (64 "
				    "lowercase hex digits)",
				    id);
	snapshot_key(key, id);
	rc = stow_store_del(stow_repo_store(r), key);
	if (rc == STOW_ENOTFOUND)
		return stow_err_set(rc, "no snapshot %s", id);
	if (rc < 0)
		return stow_err_wrap(rc, "deleting snapshot %s", id);
	return 0;
}

/* The newest complete snapshot of host:path, else the newest partial one.
 * A partial snapshot's trees are valid (it only lacks the entries it could
 * not read), so it is still a useful parent; a complete one is preferred
 * because it lets more unchanged files be reused. */
int stow_snapshot_find_parent(stow_repo *r, const char *host, const char *path,
			      stow_snapshot *s)
{
	stow_snapshot *v;
	size_t n, pick = SIZE_MAX;

	if (!r || !host || !path || !s)
		return stow_err_set(STOW_EINVAL,
				    "stow_snapshot_find_parent: NULL");
	memset(s, 0, sizeof(*s));
	STOW_TRY(stow_snapshot_load_all(r, &v, &n, NULL));
	for (size_t i = n; i-- > 0;) {
		if (strcmp(v[i].host, host) != 0 ||
		    strcmp(v[i].path, path) != 0)
			continue;
		if (!v[i].partial) {
			pick = i;
			break;
		}
		if (pick == SIZE_MAX)
			pick = i;
	}
	if (pick != SIZE_MAX) {
		*s = v[pick];
		memset(&v[pick], 0, sizeof(v[pick])); /* moved into *s */
	}
	stow_snapshot_free_all(v, n);
	if (pick == SIZE_MAX)
		return stow_err_set(STOW_ENOTFOUND,
				    "no earlier snapshot of %s:%s", host, path);
	return 0;
}
