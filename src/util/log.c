#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"

#define MAX_CALL_FIELDS 32
#define MAX_FIELDS 64
#define MAX_VALUE 16384
/* 64 fields of 16 KiB, each byte escaped to at most 6: always fits. */
#define MAX_LINE (8u << 20)
#define TRUNC_MARK "...(truncated)"

struct stow_log {
	pthread_mutex_t mu;
	stow_log_format format;
	stow_log_level min_level;
	FILE *file;
	stow_log_line_fn fn;
	void *fn_ctx;
	int64_t (*now)(void);
	stow_log_field *fields; /* owned copies */
	size_t nfields;
	stow_log *parent;
	bool capturing;
	size_t capture_max;
	stow_buf capture;
	uint64_t dropped;
	uint64_t errors, warnings;
};

static const char *const level_names[] = {"debug", "info", "warning", "error"};

const char *stow_log_level_name(stow_log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "info";
}

int stow_log_level_parse(const char *s, stow_log_level *out)
{
	static const struct {
		const char *name;
		stow_log_level level;
	} names[] = {
	    {"trace", STOW_LOG_DEBUG},	{"debug", STOW_LOG_DEBUG},
	    {"info", STOW_LOG_INFO},	{"warning", STOW_LOG_WARNING},
	    {"warn", STOW_LOG_WARNING}, {"error", STOW_LOG_ERROR},
	    {"fatal", STOW_LOG_ERROR},	{"panic", STOW_LOG_ERROR},
	};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	return stow_err_set(STOW_EINVAL,
			    "unknown log level \"%.32s\" (want debug, info, "
			    "warning or error)",
			    s ? s : "");
}

int stow_log_format_parse(const char *s, stow_log_format *out)
{
	if (s && (strcmp(s, "text") == 0 || strcmp(s, "logfmt") == 0)) {
		*out = STOW_LOG_LOGFMT;
		return 0;
	}
	if (s && strcmp(s, "json") == 0) {
		*out = STOW_LOG_JSON;
		return 0;
	}
	return stow_err_set(STOW_EINVAL,
			    "unknown log format \"%.32s\" (want text or json)",
			    s ? s : "");
}

/* ---- Escaping ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* strchr would also match the terminator, so NUL is checked first. */
static bool bare_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c != '\0' && strchr("-._/@^+", c));
}

static bool logfmt_bare(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (!bare_char(c))
			return false;
	}
	return true;
}

int stow_log_append_logfmt_value(stow_buf *b, const char *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)v;
	size_t i = 0;

	if (logfmt_bare(v, n))
		return stow_buf_append(b, v, n);
	STOW_TRY(stow_buf_append_u8(b, '"'));
	while (i < n) {
		uint8_t c = p[i];
		const char *esc = NULL;
		size_t len;

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\a': esc = "\\a"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\v': esc = "\\v"; break;
		default: break;
		}
		if (esc) {
			STOW_TRY(stow_buf_append_str(b, esc));
			i++;
			continue;
		}
		len = utf8_len(p + i, n - i);
		if (len == 0 || c < 0x20 || c == 0x7f) {
			char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

			STOW_TRY(stow_buf_append(b, x, 4));
			i++;
			continue;
		}
		STOW_TRY(stow_buf_append(b, p + i, len));
		i += len;
	}
	return stow_buf_append_u8(b, '"');
}

int stow_log_append_json_string(stow_buf *b, const char *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)v;
	size_t i = 0;

	STOW_TRY(stow_buf_append_u8(b, '"'));
	while (i < n) {
		uint8_t c = p[i];
		size_t len;

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			STOW_TRY(stow_buf_append(b, e, 2));
			i++;
			continue;
		}
		if (c < 0x20) {
			const char *esc = c == '\n'   ? "\\n"
					  : c == '\r' ? "\\r"
					  : c == '\t' ? "\\t"
						      : NULL;

			if (esc) {
				STOW_TRY(stow_buf_append_str(b, esc));
			} else {
				char u[6] = {'\\', 'u',		'0',
					     '0',  hex[c >> 4], hex[c & 15]};

				STOW_TRY(stow_buf_append(b, u, 6));
			}
			i++;
			continue;
		}
		len = utf8_len(p + i, n - i);
		if (len == 0) {
			STOW_TRY(stow_buf_append_str(b, "\\ufffd"));
			i++;
			continue;
		}
		STOW_TRY(stow_buf_append(b, p + i, len));
		i += len;
	}
	return stow_buf_append_u8(b, '"');
}

/* ---- Records ------------------------------------------------------------ */

typedef struct record {
	stow_log_level level;
	int64_t time;
	const char *msg;
	char source[160]; /* "" for none */
	/* Call fields first, then each logger's own up the parent chain;
	 * the first occurrence of a key wins. */
	stow_log_field fields[MAX_FIELDS];
	size_t nfields;
} record;

static bool reserved_key(const char *k)
{
	return strcmp(k, "time") == 0 || strcmp(k, "level") == 0 ||
	       strcmp(k, "msg") == 0 || strcmp(k, "logSource") == 0;
}

static void add_fields(record *r, const stow_log_field *f, size_t n)
{
	for (size_t i = 0; i < n && r->nfields < MAX_FIELDS; i++) {
		bool dup = false;

		if (!f[i].key || !*f[i].key)
			continue;
		for (size_t j = 0; j < r->nfields && !dup; j++)
			dup = strcmp(r->fields[j].key, f[i].key) == 0;
		if (!dup)
			r->fields[r->nfields++] = f[i];
	}
}

typedef struct out_kv {
	char key[80]; /* sanitized, with "fields." for reserved names */
	const char *value;
	size_t len;
	bool truncated;
} out_kv;

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const out_kv *)a)->key, ((const out_kv *)b)->key);
}

static void fmt_time(int64_t t, char out[64])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, 64, "0001-01-01T00:00:00Z");
		return;
	}
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int append_value(stow_buf *b, stow_log_format f, const out_kv *kv)
{
	if (!kv->truncated)
		return f == STOW_LOG_JSON
			   ? stow_log_append_json_string(b, kv->value, kv->len)
			   : stow_log_append_logfmt_value(b, kv->value,
							  kv->len);
	{
		/* Cut, then mark; both parts escaped as one value. */
		_cleanup_free_ char *tmp = malloc(kv->len + sizeof(TRUNC_MARK));

		if (!tmp)
			return STOW_ENOMEM;
		memcpy(tmp, kv->value, kv->len);
		memcpy(tmp + kv->len, TRUNC_MARK, sizeof(TRUNC_MARK));
		return f == STOW_LOG_JSON
			   ? stow_log_append_json_string(
				 b, tmp, kv->len + strlen(TRUNC_MARK))
			   : stow_log_append_logfmt_value(
				 b, tmp, kv->len + strlen(TRUNC_MARK));
	}
}

static void set_kv(out_kv *kv, const char *key, bool renamed, const char *v)
{
	size_t n = v ? strlen(v) : 0, k = 0;

	/* Keys come from code, but print safely anyway: anything outside
	 * the bare set becomes '_'. */
	if (renamed)
		k = (size_t)snprintf(kv->key, sizeof(kv->key), "fields.");
	for (; *key && k < sizeof(kv->key) - 1; key++) {
		char c = *key;

		if (!bare_char(c))
			c = '_';
		kv->key[k++] = c;
	}
	kv->key[k] = '\0';
	kv->value = v ? v : "";
	kv->truncated = n > MAX_VALUE;
	kv->len = kv->truncated ? MAX_VALUE : n;
}

static int format_record(stow_buf *b, stow_log_format f, const record *r)
{
	out_kv kv[MAX_FIELDS + 4];
	size_t n = 0, fixed;
	char when[64];

	fmt_time(r->time, when);
	set_kv(&kv[n++], "time", false, when);
	set_kv(&kv[n++], "level", false, stow_log_level_name(r->level));
	set_kv(&kv[n++], "msg", false, r->msg);
	fixed = n;
	for (size_t i = 0; i < r->nfields; i++)
		set_kv(&kv[n++], r->fields[i].key,
		       reserved_key(r->fields[i].key), r->fields[i].value);
	if (r->source[0])
		set_kv(&kv[n++], "logSource", false, r->source);
	if (f == STOW_LOG_JSON) {
		qsort(kv, n, sizeof(kv[0]), kv_cmp);
		STOW_TRY(stow_buf_append_u8(b, '{'));
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				STOW_TRY(stow_buf_append_u8(b, ','));
			STOW_TRY(stow_log_append_json_string(
			    b, kv[i].key, strlen(kv[i].key)));
			STOW_TRY(stow_buf_append_u8(b, ':'));
			STOW_TRY(append_value(b, f, &kv[i]));
		}
		STOW_TRY(stow_buf_append_u8(b, '}'));
	} else {
		/* time, level, msg first; the rest (logSource included)
		 * sorted, as logrus's text formatter does. */
		qsort(kv + fixed, n - fixed, sizeof(kv[0]), kv_cmp);
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				STOW_TRY(stow_buf_append_u8(b, ' '));
			STOW_TRY(stow_buf_append_str(b, kv[i].key));
			STOW_TRY(stow_buf_append_u8(b, '='));
			STOW_TRY(append_value(b, f, &kv[i]));
		}
	}
	return stow_buf_append_u8(b, '\n');
}

/* ---- Loggers ------------------------------------------------------------ */

static int64_t real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static int log_alloc(stow_log **out, stow_log_format format,
		     stow_log_level min_level)
{
	stow_log *lg;

	*out = NULL;
	if ((unsigned)format > STOW_LOG_JSON ||
	    (unsigned)min_level > STOW_LOG_ERROR)
		return stow_err_set(STOW_EINVAL, "log: bad format or level");
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (pthread_mutex_init(&lg->mu, NULL) != 0) {
		free(lg);
		return stow_err_set(STOW_ENOMEM, "log: mutex");
	}
	lg->format = format;
	lg->min_level = min_level;
	lg->now = real_now;
	*out = lg;
	return 0;
}

int stow_log_new(stow_log **out, stow_log_format format,
		 stow_log_level min_level)
{
	return log_alloc(out, format, min_level);
}

int stow_log_capture_new(stow_log **out, stow_log *parent,
			 stow_log_format format, stow_log_level min_level,
			 size_t max_bytes)
{
	STOW_TRY(log_alloc(out, format, min_level));
	(*out)->parent = parent;
	(*out)->capturing = true;
	(*out)->capture_max = max_bytes;
	if (parent)
		(*out)->now = parent->now;
	/* The growable buffer may hold the limit plus the closing note. */
	stow_buf_init(&(*out)->capture, max_bytes + 1024);
	return 0;
}

void stow_log_free(stow_log *lg)
{
	if (!lg)
		return;
	for (size_t i = 0; i < lg->nfields; i++) {
		free((char *)lg->fields[i].key);
		free((char *)lg->fields[i].value);
	}
	free(lg->fields);
	stow_buf_free(&lg->capture);
	pthread_mutex_destroy(&lg->mu);
	free(lg);
}

void stow_log_set_file(stow_log *lg, FILE *f)
{
	lg->file = f;
}

void stow_log_set_callback(stow_log *lg, stow_log_line_fn fn, void *ctx)
{
	lg->fn = fn;
	lg->fn_ctx = ctx;
}

void stow_log_set_clock(stow_log *lg, int64_t (*now)(void))
{
	lg->now = now ? now : real_now;
}

int stow_log_add_field(stow_log *lg, const char *key, const char *value)
{
	stow_log_field *f;
	char *k, *v;

	if (!key || !*key || strlen(key) > 64)
		return stow_err_set(STOW_EINVAL, "log: bad field key");
	if (lg->nfields >= MAX_FIELDS / 2)
		return stow_err_set(STOW_ENOMEM, "log: too many fields");
	f = realloc(lg->fields, (lg->nfields + 1) * sizeof(*f));
	if (!f)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	lg->fields = f;
	k = strdup(key);
	v = strdup(value ? value : "");
	if (!k || !v) {
		free(k);
		free(v);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	f[lg->nfields].key = k;
	f[lg->nfields].value = v;
	lg->nfields++;
	return 0;
}

bool stow_log_enabled(const stow_log *lg, stow_log_level level)
{
	for (; lg; lg = lg->parent)
		if (level >= lg->min_level &&
		    (lg->file || lg->fn || lg->capturing))
			return true;
	return false;
}

static void capture_line(stow_log *lg, const stow_buf *line)
{
	if (lg->dropped == 0 &&
	    lg->capture.len + line->len <= lg->capture_max &&
	    stow_buf_append(&lg->capture, line->data, line->len) == 0)
		return;
	/* Once a line is dropped, later ones are too: the log keeps its
	 * beginning whole rather than gaining holes. */
	lg->dropped++;
}

/* Deliver r to lg and its parents; r gains each logger's fields. */
static void dispatch(stow_log *lg, record *r)
{
	for (; lg; lg = lg->parent) {
		bool out = r->level >= lg->min_level &&
			   (lg->file || lg->fn || lg->capturing);
		stow_buf line;

		add_fields(r, lg->fields, lg->nfields);
		stow_buf_init(&line, MAX_LINE);
		/* Only a failed allocation stops a line now (MAX_LINE fits
		 * every record); then there is nothing sane to print. */
		if (out && format_record(&line, lg->format, r) < 0)
			out = false;
		pthread_mutex_lock(&lg->mu);
		if (r->level == STOW_LOG_ERROR)
			lg->errors++;
		else if (r->level == STOW_LOG_WARNING)
			lg->warnings++;
		if (out) {
			if (lg->file) {
				fwrite(line.data, 1, line.len, lg->file);
				fflush(lg->file);
			}
			if (lg->fn)
				lg->fn(lg->fn_ctx, r->level,
				       (const char *)line.data, line.len);
			if (lg->capturing)
				capture_line(lg, &line);
		}
		pthread_mutex_unlock(&lg->mu);
		stow_buf_free(&line);
	}
}

static void set_source(record *r, const char *src, int line)
{
	const char *p, *best = NULL;

	r->source[0] = '\0';
	if (!src)
		return;
	/* Keep the path from the last "src/" directory on, as Velero keeps
	 * "pkg/...": stable across build directories. */
	for (p = src; (p = strstr(p, "src/")) != NULL; p++)
		if (p == src || p[-1] == '/')
			best = p;
	if (!best) {
		best = strrchr(src, '/');
		best = best ? best + 1 : src;
	}
	snprintf(r->source, sizeof(r->source), "%s:%d", best, line);
}

void stow_log_writev(stow_log *lg, stow_log_level level, const char *src,
		     int line, const char *msg, const stow_log_field *fields,
		     size_t nfields)
{
	record r;

	if (!lg || (unsigned)level > STOW_LOG_ERROR)
		return;
	r.level = level;
	r.time = lg->now();
	r.msg = msg ? msg : "";
	r.nfields = 0;
	set_source(&r, src, line);
	add_fields(&r, fields, nfields);
	dispatch(lg, &r);
}

void stow_log_write(stow_log *lg, stow_log_level level, const char *src,
		    int line, const char *msg, ...)
{
	stow_log_field f[MAX_CALL_FIELDS];
	size_t n = 0;
	va_list ap;

	if (!lg)
		return;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *), *v;

		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (n < MAX_CALL_FIELDS)
			f[n++] = (stow_log_field){k, v};
	}
	va_end(ap);
	stow_log_writev(lg, level, src, line, msg, f, n);
}

void stow_log_printf(stow_log *lg, stow_log_level level, const char *src,
		     int line, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	/* Skip the formatting when nothing prints; warnings and errors
	 * still go through, to be counted. */
	if (!lg || (level < STOW_LOG_WARNING && !stow_log_enabled(lg, level)))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stow_log_writev(lg, level, src, line, msg, NULL, 0);
}

void stow_log_counts(stow_log *lg, uint64_t *errors, uint64_t *warnings)
{
	pthread_mutex_lock(&lg->mu);
	if (errors)
		*errors = lg->errors;
	if (warnings)
		*warnings = lg->warnings;
	pthread_mutex_unlock(&lg->mu);
}

int stow_log_capture_take(stow_log *lg, stow_buf *out)
{
	record r;
	char note[128];
	stow_buf line;
	uint64_t dropped;

	if (!lg || !lg->capturing)
		return stow_err_set(STOW_EINVAL, "log: not a capture logger");
	pthread_mutex_lock(&lg->mu);
	dropped = lg->dropped;
	if (dropped > 0) {
		/* Say where the log stops; the buffer has room for this
		 * beyond capture_max. */
		memset(&r, 0, sizeof(r));
		r.level = STOW_LOG_WARNING;
		r.time = lg->now();
		snprintf(note, sizeof(note),
			 "log truncated: %llu later lines dropped (limit %zu "
			 "bytes)",
			 (unsigned long long)dropped, lg->capture_max);
		r.msg = note;
		add_fields(&r, lg->fields, lg->nfields);
		stow_buf_init(&line, 1024);
		if (format_record(&line, lg->format, &r) == 0)
			(void)stow_buf_append(&lg->capture, line.data,
					      line.len);
		stow_buf_free(&line);
	}
	stow_buf_free(out);
	*out = lg->capture;
	stow_buf_init(&lg->capture, lg->capture_max + 1024);
	lg->dropped = 0;
	pthread_mutex_unlock(&lg->mu);
	return 0;
}
