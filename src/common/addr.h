/*
 * addr.h: socket addresses, IPv4-mapped IPv6 included, in one place.
 *
 * echod binds "::" dual-stack, so an IPv4 client or listener may appear
 * as ::ffff:a.b.c.d.  Every question about an address (is it IPv4, the
 * wildcard, the same host as another, does it overlap another) is
 * answered here, each with one meaning for the whole program.
 */
#ifndef ECHOD_ADDR_H
#define ECHOD_ADDR_H

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for "[ffff:...:ffff]:65535" and a NUL. */
#define ADDR_ENDPOINT_MAX	(INET6_ADDRSTRLEN + 8)

/*
 * A network, "10.0.0.0/8" or "2001:db8::/32" (a bare address is one
 * host), held as IPv6: an IPv4 network as ::ffff:a.b.c.d with 96 more
 * bits, so that it takes IPv4 peers of a dual-stack socket too.
 */
struct addr_net {
	uint8_t		 addr[16];
	unsigned int	 bits;		/* of addr, 0 to 128 */
};

/* Room for the longest network and its "/128". */
#define ADDR_NET_MAX	(INET6_ADDRSTRLEN + 4)

/*
 * Parse a network.  0, or -1 with why (a static string) when it is not
 * one: not an address, a bad prefix length, or bits set past the
 * prefix ("10.0.0.1/8": a typo echod will not guess at).
 */
int		 addr_net_parse(const char *, struct addr_net *, const char **);
/* Whether the address of sa (AF_INET or AF_INET6) is in net. */
bool		 addr_net_match(const struct addr_net *, const struct sockaddr *);

/* Fill *ss from an IPv4 or IPv6 literal and a port; -1 if not one. */
int		 addr_parse(const char *, uint16_t, struct sockaddr_storage *,
		    socklen_t *);
/* The IPv4 address of an AF_INET or v4-mapped AF_INET6 address. */
bool		 addr_v4(const struct sockaddr_storage *, struct in_addr *);
/* Whether it is the wildcard of its family ("::" or "0.0.0.0"). */
bool		 addr_is_wildcard(const struct sockaddr_storage *);
/* The port, in host order. */
uint16_t	 addr_port(const struct sockaddr_storage *);
/* The same host: equal addresses, a v4-mapped one equal to its IPv4. */
bool		 addr_same_host(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);
/*
 * Whether two listening addresses take the same connections: the same
 * host, or one covers the other ("::" covers everything, as echod binds
 * it dual-stack; "0.0.0.0" covers every IPv4 address).
 */
bool		 addr_overlap(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);
/* "127.0.0.1" or "::1" into buf, v4-mapped shown as IPv4; *port. */
void		 addr_format(const struct sockaddr *, char *, size_t,
		    uint16_t *);
/* "127.0.0.1:7" or "[::1]:7" (as written, v4-mapped not unmapped). */
void		 addr_endpoint(const struct sockaddr_storage *, char *, size_t);

#endif
