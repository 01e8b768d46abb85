/*
 * bench.h: "echocli bench", the load generator, and the connection
 * helper it shares with the interactive client in echocli.c.
 */
#ifndef ECHOCLI_BENCH_H
#define ECHOCLI_BENCH_H

#include <sys/socket.h>

/* Run "echocli bench"; argv[0] is "bench".  Returns the exit status. */
int		 bench_main(int, char **);

/*
 * echocli.c: resolve host and port and connect a socket of the given type
 * (SOCK_STREAM or SOCK_DGRAM) to the first address that accepts within
 * timeout seconds, trying each in turn.  Returns the connected,
 * non-blocking fd and its peer address, or -1 after printing one line
 * on stderr ("echocli: connect to 127.0.0.1 port 7: Connection refused").
 */
int		 echocli_connect(const char *host, const char *port, int type,
		    double timeout, struct sockaddr_storage *, socklen_t *);
/* echocli.c: "127.0.0.1" or "::1" for an address, into buf. */
void		 echocli_addr(const struct sockaddr *, socklen_t, char *,
		    size_t);

#endif
