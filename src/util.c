/*
 * util.c: small helpers shared by the daemon's modules.
 */
#include <sys/time.h>

#include <time.h>

#include "util.h"

/* Microseconds of CLOCK_MONOTONIC, the clock systemd's MONOTONIC_USEC uses. */
uint64_t
now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/*
 * The same clock read at the last tick (a few milliseconds behind, and
 * without reading the TSC): for the time of every read of a session.
 */
uint64_t
coarse_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* Whether a timeout is set; zero means "never". */
int
tv_isset(const struct timeval *tv)
{
	return (tv->tv_sec != 0 || tv->tv_usec != 0);
}
