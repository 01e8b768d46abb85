/*
 * addr.c: socket addresses, IPv4-mapped IPv6 included, in one place.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/* Parse a numeric address and set the port. */
int
addr_parse(const char *literal, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, literal, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return (0);
	}
	if (inet_pton(AF_INET6, literal, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return (0);
	}
	return (-1);
}

/* The IPv4 address an AF_INET or v4-mapped AF_INET6 address holds. */
bool
addr_v4(const struct sockaddr_storage *ss, struct in_addr *in)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		*in = sin->sin_addr;
		return (true);
	}
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(&in->s_addr, &sin6->sin6_addr.s6_addr[12], 4);
		return (true);
	}
	return (false);
}

/* Whether an address is the wildcard of its family. */
bool
addr_is_wildcard(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET6)
		return (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	return (ss->ss_family == AF_INET &&
	    sin->sin_addr.s_addr == htonl(INADDR_ANY));
}

/* The port of an address. */
uint16_t
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	return (ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

/* Same host, with IPv4-mapped IPv6 seen as IPv4. */
bool
addr_same_host(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in6	*a6 = (const void *)a;
	const struct sockaddr_in6	*b6 = (const void *)b;
	struct in_addr			 a4, b4;
	bool				 isa4, isb4;

	isa4 = addr_v4(a, &a4);
	isb4 = addr_v4(b, &b4);
	if (isa4 || isb4)
		return (isa4 && isb4 && a4.s_addr == b4.s_addr);
	return (a->ss_family == AF_INET6 && b->ss_family == AF_INET6 &&
	    IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr));
}

/* Whether two listening addresses overlap (see addr.h). */
bool
addr_overlap(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	struct in_addr	 a4, b4;

	if ((a->ss_family == AF_INET6 && addr_is_wildcard(a)) ||
	    (b->ss_family == AF_INET6 && addr_is_wildcard(b)))
		return (true);
	if (addr_v4(a, &a4) && addr_v4(b, &b4) &&
	    (a4.s_addr == htonl(INADDR_ANY) || b4.s_addr == htonl(INADDR_ANY)))
		return (true);
	return (addr_same_host(a, b));
}

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

/* "127.0.0.1:7" or "[::1]:7"; "" for another family. */
void
addr_endpoint(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	char				 a[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (ss->ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)) != NULL)
		snprintf(buf, len, "[%s]:%u", a, addr_port(ss));
	else if (ss->ss_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)) != NULL)
		snprintf(buf, len, "%s:%u", a, addr_port(ss));
}

/* ::ffff:0:0/96, where IPv4 lives in the IPv6 space. */
static const uint8_t addr_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Whether the first bits of a and b agree. */
static bool
addr_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int	 whole = bits / 8, rest = bits % 8;
	uint8_t		 mask;

	if (memcmp(a, b, whole) != 0)
		return (false);
	if (rest == 0)
		return (true);
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[whole] & mask) == (b[whole] & mask));
}

/* Parse "address" or "address/bits"; see addr.h. */
int
addr_net_parse(const char *text, struct addr_net *net, const char **why)
{
	char		 host[INET6_ADDRSTRLEN + 1], *end;
	const char	*slash = strchr(text, '/');
	size_t		 len = slash != NULL ? (size_t)(slash - text) :
			    strlen(text);
	unsigned long	 bits;
	struct in_addr	 in;
	uint8_t		 all[16];
	bool		 v4;

	memset(net, 0, sizeof(*net));
	*why = "not an IPv4 or IPv6 address";
	if (len == 0 || len >= sizeof(host))
		return (-1);
	memcpy(host, text, len);
	host[len] = '\0';
	if ((v4 = inet_pton(AF_INET, host, &in) == 1)) {
		memcpy(net->addr, addr_mapped, sizeof(addr_mapped));
		memcpy(net->addr + 12, &in, 4);
	} else if (inet_pton(AF_INET6, host, net->addr) != 1)
		return (-1);
	net->bits = 128;
	if (slash != NULL) {
		*why = v4 ? "the prefix length must be 0 to 32" :
		    "the prefix length must be 0 to 128";
		/* Digits only: no sign, no space, no leading zero. */
		if (slash[1] < '0' || slash[1] > '9' ||
		    (slash[1] == '0' && slash[2] != '\0'))
			return (-1);
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || bits > (v4 ? 32u : 128u))
			return (-1);
		net->bits = (unsigned int)bits + (v4 ? 96 : 0);
	}
	/* Bits past the prefix: the network is not what was written. */
	memcpy(all, net->addr, sizeof(all));
	if (net->bits < 128) {
		all[net->bits / 8] &= (uint8_t)(0xff << (8 - net->bits % 8));
		memset(all + net->bits / 8 + 1, 0, 15 - net->bits / 8);
	}
	if (memcmp(all, net->addr, sizeof(all)) != 0) {
		*why = "it has bits set past its prefix length";
		return (-1);
	}
	*why = NULL;
	return (0);
}

/* Whether sa's address is inside net. */
bool
addr_net_match(const struct addr_net *net, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	uint8_t				 a[16];

	if (sa->sa_family == AF_INET) {
		memcpy(a, addr_mapped, sizeof(addr_mapped));
		memcpy(a + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6)
		memcpy(a, &sin6->sin6_addr, 16);
	else
		return (false);
	return (addr_prefix_equal(a, net->addr, net->bits));
}
