/*
 * peer.c: the echo server a client talks to (see peer.h).
 *
 * The connect waits with poll(2), not libevent: the interactive client
 * has no event loop, and the load generator connects once, before its
 * loops exist, to learn which of the host's addresses answers.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "peer.h"

static double	peer_now(void);
static int	peer_wait(int, double);

/* Seconds of CLOCK_MONOTONIC. */
static double
peer_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * Wait until fd is writable (the handshake ended) or timeout seconds
 * pass, again after EINTR: poll(2)'s result.
 */
static int
peer_wait(int fd, double timeout)
{
	struct pollfd	pfd;
	double		deadline, left;
	int		r;

	deadline = peer_now() + timeout;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		left = deadline - peer_now();
		/* In milliseconds, rounded up: never wake before it. */
		r = poll(&pfd, 1, left <= 0 ? 0 : (int)(left * 1000.0) + 1);
	} while (r == -1 && errno == EINTR);
	return (r);
}

/* The "host [port]" operands (see peer.h). */
int
peer_parse(int argc, char **argv, const char **host, const char **port)
{
	if (argc < 1 || argc > 2)
		return (-1);
	*host = argv[0];
	*port = argc > 1 ? argv[1] : PEER_PORT;
	return (0);
}

/* "127.0.0.1" or "::1" for an address. */
void
peer_addr(const struct sockaddr *sa, socklen_t salen, char *buf, size_t len)
{
	uint16_t	 port;

	(void)salen;
	addr_format(sa, buf, len, &port);
}

/* Connect to the first address of host that answers (see peer.h). */
int
peer_connect(const char *host, const char *port, int type, double timeout,
    bool reset_answers, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo	 hints, *res, *ai;
	char		 addr[64];
	socklen_t	 len;
	int		 fd, error, r, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "echocli: %s port %s: %s\n", host, port,
		    error == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(error));
		return (-1);
	}
	addr[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		peer_addr(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			goto connected;
		if (errno != EINPROGRESS) {
			saved = errno;
			close(fd);
			continue;
		}
		/* Wait for the handshake, then ask how it ended. */
		r = peer_wait(fd, timeout);
		if (r == 0) {
			saved = ETIMEDOUT;
			close(fd);
			continue;
		}
		len = sizeof(error);
		if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error,
		    &len) == -1)
			error = errno;
		if (error == 0 || (error == ECONNRESET && reset_answers))
			goto connected;
		saved = error;
		close(fd);
	}
	/* The last address tried names the failure; its error says why. */
	fprintf(stderr, "echocli: connect to %s port %s: %s\n",
	    addr[0] != '\0' ? addr : host, port, strerror(saved));
	freeaddrinfo(res);
	return (-1);

connected:
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(res);
	return (fd);
}
