/*
 * proxy.h: the PROXY protocol header, v1 and v2: a pure parser (no
 * sockets, no libevent).
 *
 * A listener behind a load balancer may be told that each connection
 * starts with a PROXY header (haproxy's doc/proxy-protocol.txt) carrying
 * the client's addresses.  proxy_parse() looks at the bytes a connection
 * sent so far and says: the header is complete (and how long it is), it
 * may still become one, or it never can.  It decides as early as the
 * bytes allow, so a client that is not a proxy is refused at once rather
 * than at the caller's timeout.  Nothing here allocates, blocks or keeps
 * state between calls: the caller passes everything it holds each time.
 */
#ifndef ECHOD_PROXY_H
#define ECHOD_PROXY_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

#define PROXY_V1_MAX		107	/* a whole v1 line, CRLF included */
/*
 * A v2 header's 16 bytes and what its length field announces: past it,
 * BAD.  The protocol allows 16 + 65535; no sender needs more than a few
 * hundred bytes, and this bounds what a connection may make echod hold
 * before it has said who it is.
 */
#define PROXY_HEADER_MAX	4096

/* Which versions a listener takes (its proxy_protocol): a mask. */
enum proxy_accept {
	PROXY_V1 = 1,
	PROXY_V2 = 2,
	PROXY_ANY = 3
};

enum proxy_status {
	PROXY_DONE,		/* a whole, valid header: see proxy_header */
	PROXY_MORE,		/* the beginning of one so far: wait for more */
	PROXY_BAD		/* never a header: close the connection */
};

struct proxy_header {
	size_t			 len;		/* DONE: the header's bytes, to
						   consume; never echoed */
	int			 version;	/* 1 or 2 */
	/*
	 * v2 LOCAL, v1 UNKNOWN, v2 AF_UNSPEC/AF_UNIX or an unspecified
	 * transport: use the connection's own addresses.
	 */
	bool			 local;
	/*
	 * DONE and !local: the carried addresses, AF_INET or AF_INET6 as
	 * carried, ports included (an IPv4-mapped IPv6 address stays
	 * AF_INET6: the caller unmaps, as for its own sockets).
	 */
	struct sockaddr_storage	 src, dst;
	socklen_t		 srclen, dstlen;
	/*
	 * BAD: why, a static string for a log line, e.g. "v1: no CRLF within
	 * 107 bytes"; NULL on DONE and MORE.
	 */
	const char		*error;
};

/*
 * Parse the first len bytes a connection sent (buf may be NULL when len
 * is 0), for a listener that takes the versions in accept (a mask of
 * enum proxy_accept).  DONE: *h is filled, and h->len bytes are the
 * header, whatever follows them.  MORE: a prefix of a valid header so
 * far, nothing decided (the caller waits for more bytes, bounded by its
 * own timeout); never with PROXY_HEADER_MAX bytes or more.  BAD: h->error
 * says why, and no bytes that follow can change it.  Pure: reads no byte
 * past len, writes only *h, which it clears first.
 */
enum proxy_status	 proxy_parse(const void *buf, size_t len,
			    unsigned int accept, struct proxy_header *h);

#endif
