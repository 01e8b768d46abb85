/*
 * bench_proxy.h: the PROXY header of "echocli bench --proxy"
 * (bench_proxy.c).
 */
#ifndef ECHOCLI_BENCH_PROXY_H
#define ECHOCLI_BENCH_PROXY_H

#include <stddef.h>

struct bench;

/*
 * The PROXY header (v1 or v2, as b->o.proxy says) of connected socket fd
 * into out (BENCH_PROXY_MAX bytes), its length into *outlen: the source
 * is fd's local address, the destination the server's.  -1 with errno
 * set if the local address is unknown or of another family.
 */
int	 bench_proxy_header(const struct bench *, int fd, char *out,
	    size_t *outlen);

#endif
