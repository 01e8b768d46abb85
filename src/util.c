/*
 * util.c: small helpers shared by the daemon's modules.
 */

#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Numeric address and port of sa; IPv4-mapped IPv6 shown as IPv4. */
void
addr_format(const struct sockaddr *sa, char *buf, size_t len, uint16_t *port)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	struct in_addr			 v4;

	*port = 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, buf, len);
		*port = ntohs(sin->sin_port);
		return;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		*port = ntohs(sin6->sin6_port);
		/* "::" listeners see IPv4 clients as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
			inet_ntop(AF_INET, &v4, buf, len);
		} else
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf, len);
		return;
	default:
		snprintf(buf, len, "unknown");
	}
}

/* Microseconds of CLOCK_MONOTONIC, the clock systemd's MONOTONIC_USEC uses. */
uint64_t
now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
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
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Whether a timeout is set; zero means "never". */
int
tv_isset(const struct timeval *tv)
{
	return tv->tv_sec != 0 || tv->tv_usec != 0;
}
