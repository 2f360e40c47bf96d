/* Time and waiting for retry loops: a monotonic clock, an EINTR-proof
 * sleep and backoff jitter. Thread-safe. */
#ifndef STOW_UTIL_CLOCK_H
#define STOW_UTIL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds / milliseconds. */
uint64_t stow_now_us(void);
uint64_t stow_now_ms(void);
/* Sleep ms milliseconds, resuming after signals. */
void stow_sleep_ms(uint64_t ms);
/* Uniform in [0, n]: xorshift64*, seeded per thread from getrandom(2).
 * Only decorrelates retrying clients; not for secrets. */
uint64_t stow_jitter(uint64_t n);

#endif
