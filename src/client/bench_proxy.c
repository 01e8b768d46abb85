/*
 * bench_proxy.c: the PROXY header a connection of "echocli bench" sends
 * first with --proxy (HAProxy's proxy-protocol.txt), as a balancer would:
 * it names the connection's own addresses.  Apart from bench_conn.c so
 * that file keeps to the connection's states and its hot path.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bench_proxy.h"
#include "bench_types.h"

/* The PROXY header of fd into out (bench_proxy.h). */
int
bench_proxy_header(const struct bench *b, int fd, char *out, size_t *outlen)
{
	static const uint8_t	 sig[12] = "\r\n\r\n\0\r\nQUIT\n";
	struct sockaddr_storage	 src;
	const struct sockaddr_in *s4, *d4;
	const struct sockaddr_in6 *s6, *d6;
	socklen_t		 len = sizeof(src);
	char			 sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	uint8_t			*p = (uint8_t *)out;
	int			 n;

	if (getsockname(fd, (struct sockaddr *)&src, &len) == -1)
		return (-1);
	if (src.ss_family != b->dst.ss_family) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	s4 = (const struct sockaddr_in *)&src;
	d4 = (const struct sockaddr_in *)&b->dst;
	s6 = (const struct sockaddr_in6 *)&src;
	d6 = (const struct sockaddr_in6 *)&b->dst;
	if (b->o.proxy == 1) {
		if (src.ss_family == AF_INET) {
			inet_ntop(AF_INET, &s4->sin_addr, sa, sizeof(sa));
			inet_ntop(AF_INET, &d4->sin_addr, da, sizeof(da));
			n = snprintf(out, BENCH_PROXY_MAX,
			    "PROXY TCP4 %s %s %u %u\r\n", sa, da,
			    ntohs(s4->sin_port), ntohs(d4->sin_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, sa, sizeof(sa));
			inet_ntop(AF_INET6, &d6->sin6_addr, da, sizeof(da));
			n = snprintf(out, BENCH_PROXY_MAX,
			    "PROXY TCP6 %s %s %u %u\r\n", sa, da,
			    ntohs(s6->sin6_port), ntohs(d6->sin6_port));
		}
		*outlen = (size_t)n;
		return (0);
	}
	/* v2: the signature, PROXY, the family, the length, the addresses. */
	memcpy(p, sig, sizeof(sig));
	p[12] = 0x21;
	if (src.ss_family == AF_INET) {
		p[13] = 0x11;		/* TCP over IPv4 */
		p[14] = 0;
		p[15] = 12;
		memcpy(p + 16, &s4->sin_addr, 4);
		memcpy(p + 20, &d4->sin_addr, 4);
		memcpy(p + 24, &s4->sin_port, 2);
		memcpy(p + 26, &d4->sin_port, 2);
		*outlen = 28;
	} else {
		p[13] = 0x21;		/* TCP over IPv6 */
		p[14] = 0;
		p[15] = 36;
		memcpy(p + 16, &s6->sin6_addr, 16);
		memcpy(p + 32, &d6->sin6_addr, 16);
		memcpy(p + 48, &s6->sin6_port, 2);
		memcpy(p + 50, &d6->sin6_port, 2);
		*outlen = 52;
	}
	return (0);
}
