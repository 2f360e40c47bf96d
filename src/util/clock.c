/* Time and waiting for retry loops (clock.h). */
#include "util/clock.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

uint64_t stow_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t stow_now_ms(void)
{
	return stow_now_us() / 1000;
}

void stow_sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t stow_jitter(uint64_t n)
{
	static _Thread_local uint64_t st;

	if (st == 0 && getrandom(&st, sizeof(st), GRND_NONBLOCK) !=
			   (ssize_t)sizeof(st))
		st = stow_now_us() ^ (uint64_t)(uintptr_t)&st;
	if (st == 0)
		st = 0x9e3779b97f4a7c15ull;
	st ^= st >> 12;
	st ^= st << 25;
	st ^= st >> 27;
	return n ? (st * 0x2545f4914f6cdd1dull) % (n + 1) : 0;
}
