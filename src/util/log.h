/* Structured logging in Velero's shapes.
 *
 * A line is a record: time, level, message and key=value fields. Two
 * formats, with the key names Velero's logrus output uses:
 *   logfmt (Velero's `--log-format text`, our default):
 *     time="2026-11-25T17:00:00Z" level=info msg="backup completed"
 *     backup=velero/nightly-1 logSource="src/velero/backup.c:120" phase=x
 *   JSON (`--log-format json`), one object per line, same keys:
 *     {"backup":"velero/nightly-1","level":"info","logSource":"...",
 *      "msg":"backup completed","time":"2026-11-25T17:00:00Z"}
 * As logrus does, logfmt prints time, level and msg first and then the
 * other keys (logSource included) sorted; JSON sorts all keys; a field named
 * time, level, msg or logSource is renamed fields.<name>. Levels print as
 * debug, info, warning, error. Time is UTC, RFC 3339, whole seconds.
 *
 * Quoting (logfmt): a value made only of [A-Za-z0-9-._/@^+] is bare; any
 * other value (including an empty one) is double-quoted with Go's escapes:
 * \" \\ \n \r \t \a \b \f \v, \xHH for other control bytes and for bytes
 * that are not valid UTF-8; valid UTF-8 passes through. JSON strings escape
 * control characters and turn invalid UTF-8 into U+FFFD, as Go's encoder
 * does. A value longer than 16 KiB is cut and marked "...(truncated)".
 *
 * Outputs: a FILE * (not owned, e.g. stderr) and/or a callback that gets
 * each finished line, newline included. A capture logger (per backup or
 * restore) keeps its lines in a bounded buffer for upload as
 * `<name>-logs.gz`, counts errors and warnings the way Velero's log hook
 * does, and forwards each line to its parent (the server log) with the
 * parent's format and level.
 *
 * Threads: emitting is thread-safe; a line is formatted outside the lock
 * and written whole under it, so lines never interleave. Configure a logger
 * (set_file, set_callback, add_field, set_clock) before sharing it. A parent
 * must outlive its capture loggers. Library code never prints except
 * through a logger the caller set up. */
#ifndef STOW_UTIL_LOG_H
#define STOW_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

typedef enum stow_log_level {
	STOW_LOG_DEBUG = 0,
	STOW_LOG_INFO = 1,
	STOW_LOG_WARNING = 2,
	STOW_LOG_ERROR = 3,
} stow_log_level;

typedef enum stow_log_format {
	STOW_LOG_LOGFMT = 0,
	STOW_LOG_JSON = 1,
} stow_log_format;

typedef struct stow_log stow_log;

typedef struct stow_log_field {
	const char *key;
	const char *value; /* NULL prints as an empty value */
} stow_log_field;

/* Receives every finished line (newline included); called under the
 * logger's lock, so it must not log to the same logger. */
typedef void (*stow_log_line_fn)(void *ctx, stow_log_level level,
				 const char *line, size_t len);

/* A logger writing records at min_level or above. Caller owns *out. */
int stow_log_new(stow_log **out, stow_log_format format,
		 stow_log_level min_level);

/* A capture logger: keeps up to max_bytes of its lines (formatted in
 * `format`, records at min_level or above) and forwards every record to
 * `parent` (may be NULL), which applies its own level and format and adds
 * its own fields. Lines that no longer fit are dropped and counted; the
 * capture then ends with a line saying so. Caller owns *out. */
int stow_log_capture_new(stow_log **out, stow_log *parent,
			 stow_log_format format, stow_log_level min_level,
			 size_t max_bytes);

/* Free; NULL is fine. Does not close the FILE. */
void stow_log_free(stow_log *lg);

void stow_log_set_file(stow_log *lg, FILE *f);
void stow_log_set_callback(stow_log *lg, stow_log_line_fn fn, void *ctx);
/* Replace the clock (Unix seconds), for tests. NULL restores real time. */
void stow_log_set_clock(stow_log *lg, int64_t (*now)(void));
/* A field printed on every record of this logger (and copied). A later
 * record field with the same key wins. */
int stow_log_add_field(stow_log *lg, const char *key, const char *value);

bool stow_log_enabled(const stow_log *lg, stow_log_level level);

/* Emit one record. `src`/`line` become logSource (the path from its last
 * "src/" on); src NULL omits it. The variadic part is key, value pairs of
 * const char *, ended by a NULL key (the macros below add it). At most 32
 * pairs are used. lg NULL does nothing. */
void stow_log_write(stow_log *lg, stow_log_level level, const char *src,
		    int line, const char *msg, ...);
/* The same with an array of fields. */
void stow_log_writev(stow_log *lg, stow_log_level level, const char *src,
		     int line, const char *msg, const stow_log_field *fields,
		     size_t nfields);
/* A printf-formatted message, no fields. */
void stow_log_printf(stow_log *lg, stow_log_level level, const char *src,
		     int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define stow_log_debug(lg, msg, ...)                                           \
	stow_log_write((lg), STOW_LOG_DEBUG, __FILE__, __LINE__, (msg),        \
		       ##__VA_ARGS__, (const char *)NULL)
#define stow_log_info(lg, msg, ...)                                            \
	stow_log_write((lg), STOW_LOG_INFO, __FILE__, __LINE__, (msg),         \
		       ##__VA_ARGS__, (const char *)NULL)
#define stow_log_warning(lg, msg, ...)                                         \
	stow_log_write((lg), STOW_LOG_WARNING, __FILE__, __LINE__, (msg),      \
		       ##__VA_ARGS__, (const char *)NULL)
#define stow_log_error(lg, msg, ...)                                           \
	stow_log_write((lg), STOW_LOG_ERROR, __FILE__, __LINE__, (msg),        \
		       ##__VA_ARGS__, (const char *)NULL)
#define stow_log_infof(lg, ...)                                                \
	stow_log_printf((lg), STOW_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define stow_log_warningf(lg, ...)                                             \
	stow_log_printf((lg), STOW_LOG_WARNING, __FILE__, __LINE__, __VA_ARGS__)
#define stow_log_errorf(lg, ...)                                               \
	stow_log_printf((lg), STOW_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define stow_log_debugf(lg, ...)                                               \
	stow_log_printf((lg), STOW_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* Records at error / warning level seen by this logger (including those
 * below its min_level, and from every thread). */
void stow_log_counts(stow_log *lg, uint64_t *errors, uint64_t *warnings);

/* Move the captured text into *out (initialised by the caller; replaced)
 * and start an empty capture. STOW_EINVAL if lg is not a capture logger. */
int stow_log_capture_take(stow_log *lg, stow_buf *out);

/* "debug", "info", "warning"/"warn", "error"; Velero's other logrus
 * levels map to the nearest: "trace" -> debug, "fatal"/"panic" -> error. */
int stow_log_level_parse(const char *s, stow_log_level *out);
const char *stow_log_level_name(stow_log_level level);
/* "text" or "logfmt" -> logfmt, "json" -> JSON (Velero's --log-format). */
int stow_log_format_parse(const char *s, stow_log_format *out);

/* Append one value quoted for logfmt / escaped as a JSON string (quotes
 * included), for callers that build such text themselves. */
int stow_log_append_logfmt_value(stow_buf *b, const char *v, size_t n);
int stow_log_append_json_string(stow_buf *b, const char *v, size_t n);

#endif
