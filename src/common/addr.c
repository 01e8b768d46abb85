/*
 * addr.c: socket addresses, IPv4-mapped IPv6 included, in one place.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
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
