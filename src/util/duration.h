/* Durations written the way Go writes them.
 *
 * Velero's manifests and flags carry Go `time.Duration` strings: a Backup's
 * `ttl: 720h0m0s`, `--default-backup-ttl 72h`, a Schedule's `@every 1h30m`.
 * stow_duration_parse accepts exactly what Go's time.ParseDuration accepts:
 * an optional sign, then one or more <decimal number><unit> terms, where the
 * number may have a fraction ("1.5h", ".5s", "1.s") and the unit is one of
 * ns, us, µs (U+00B5 or U+03BC), ms, s, m, h; the single string "0" is also
 * accepted. Values are int64 nanoseconds; anything past ±2^63 ns (about 292
 * years) is an error, as in Go.
 *
 * stow_duration_format prints like Go's Duration.String(): "720h0m0s",
 * "1m30s", "1.5s", "250ms", "1.5µs", "0s".
 *
 * Thread safety: pure functions. Errors: STOW_EINVAL with a message naming
 * the input. */
#ifndef STOW_UTIL_DURATION_H
#define STOW_UTIL_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define STOW_NSEC_PER_SEC INT64_C(1000000000)

/* Parse a Go duration string into nanoseconds. */
int stow_duration_parse(const char *s, int64_t *ns_out);

/* Longest output of stow_duration_format, with the NUL. */
#define STOW_DURATION_STR_MAX 40

/* Format like Go's time.Duration.String() into out (at least
 * STOW_DURATION_STR_MAX bytes). Returns out. */
char *stow_duration_format(int64_t ns, char out[STOW_DURATION_STR_MAX]);

#endif
