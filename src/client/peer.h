/*
 * peer.h: the echo server a client talks to: its "host [port]" operands,
 * the connection to it, and its address as messages name it.  Both the
 * interactive client (echocli.c) and the load generator (bench.c) use it.
 */
#ifndef ECHOCLI_PEER_H
#define ECHOCLI_PEER_H

#include <sys/socket.h>

#include <stdbool.h>

/* The echo port of RFC 862, when the port operand is left out. */
#define PEER_PORT	"7"

/*
 * The operands left after the options, "host [port]": host and port (or
 * PEER_PORT) point into argv.  -1 when there are not one or two.
 */
int		 peer_parse(int argc, char **argv, const char **host,
		    const char **port);
/*
 * Resolve host and port and connect a socket of the given type
 * (SOCK_STREAM or SOCK_DGRAM) to the first address that accepts within
 * timeout seconds, trying each in turn.  Returns the connected,
 * non-blocking fd and its peer address, or -1 after printing one line
 * on stderr ("echocli: connect to 127.0.0.1 port 7: Connection refused").
 * With reset_answers, a reset before the handshake was seen to end counts
 * as an answer (the server accepted, then hung up: echod's refuse) and
 * its fd is returned, of no further use but for its address.
 */
int		 peer_connect(const char *host, const char *port, int type,
		    double timeout, bool reset_answers,
		    struct sockaddr_storage *, socklen_t *);
/* "127.0.0.1" or "::1" for an address, into buf; "?" if it has none. */
void		 peer_addr(const struct sockaddr *, socklen_t, char *buf,
		    size_t len);

#endif
