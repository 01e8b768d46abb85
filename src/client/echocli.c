/*
 * echocli.c: the interactive echo client: stdin to the server, replies to
 * stdout; "echocli bench" is handed to bench.c.  Finding the server and
 * connecting to it is peer.c's job, shared with the bench.
 *
 * The interactive mode uses poll(2), not libevent: stdin may be a regular
 * file, which epoll refuses (EPERM), and one socket needs no event loop.
 * With --tls the same loop goes through SSL_read and SSL_write on that
 * socket (tlscli.c sets them up); the end of stdin is a close_notify.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"
#include "peer.h"
#include "sender.h"
#include "tlscli.h"

#define ECHOCLI_BUFSZ		65536
/* The largest UDP payload over IPv4; a longer line is sent in pieces. */
#define ECHOCLI_DGRAM_MAX	65507
#define ECHOCLI_TIMEOUT		5.0

/* What the interactive client talks to, for its messages. */
struct echocli {
	const char	*host;
	const char	*port;
	char		 addr[64];	/* numeric address actually used */
	int		 fd;
	double		 timeout;
	struct tlscli_opts tls;
	SSL		*ssl;		/* --tls */
};

static void	echocli_usage(int) __attribute__((noreturn));
static double	echocli_now(void);
static int	echocli_wait_ms(double);
static int	echocli_poll(struct pollfd *, nfds_t, double);
static int	echocli_write_all(int, const char *, size_t);
static int	echocli_tcp(struct echocli *);
static int	echocli_udp(struct echocli *);
static int	echocli_tls_start(struct echocli *);
static int	echocli_tls_fail(struct echocli *, int, const char *);
static int	echocli_tls(struct echocli *);

/* Print the usage of both modes and exit: 0 when asked for, else 2. */
static void
echocli_usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: echocli [-u] [-t seconds] host [port]\n"
	    "       echocli --tls [--ca file] [--cert file --key file]\n"
	    "           [--insecure] [--servername name] [-t seconds] "
	    "host [port]\n"
	    "       echocli bench [options] host [port]   "
	    "(echocli bench -h for options)\n"
	    "       echocli stamp [options] host [port]   "
	    "(echocli stamp -h for options)\n");
	exit(status);
}

/* Seconds of CLOCK_MONOTONIC. */
static double
echocli_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* A poll(2) timeout in milliseconds until deadline, rounded up. */
static int
echocli_wait_ms(double deadline)
{
	double	left;

	left = deadline - echocli_now();
	if (left <= 0)
		return (0);
	return ((int)(left * 1000.0) + 1);
}

/* poll(2) until deadline (0: none), again after EINTR. */
static int
echocli_poll(struct pollfd *pfd, nfds_t n, double deadline)
{
	int	r;

	do
		r = poll(pfd, n, deadline > 0 ? echocli_wait_ms(deadline) : -1);
	while (r == -1 && errno == EINTR);
	return (r);
}

/* Write all of buf to a blocking fd (stdout). */
static int
echocli_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * TCP: copy stdin to the socket and the socket to stdout; at the end of
 * stdin half-close and drain replies until the server closes or the
 * timeout passes.
 */
static int
echocli_tcp(struct echocli *e)
{
	static char	 in[ECHOCLI_BUFSZ], out[ECHOCLI_BUFSZ];
	struct pollfd	 pfd[2];
	size_t		 off = 0, len = 0;
	ssize_t		 n;
	double		 deadline = 0;
	bool		 eof_in = false, shut = false;
	int		 r;

	for (;;) {
		pfd[0].fd = (!eof_in && len == 0) ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = e->fd;
		pfd[1].events = POLLIN | (len > 0 ? POLLOUT : 0);
		pfd[0].revents = pfd[1].revents = 0;
		r = echocli_poll(pfd, 2, shut ? deadline : 0);
		if (r == -1) {
			fprintf(stderr, "echocli: poll: %s\n", strerror(errno));
			return (1);
		}
		if (r == 0) {
			fprintf(stderr, "echocli: %s port %s: no end of "
			    "replies after %g s: Connection timed out\n",
			    e->addr, e->port, e->timeout);
			return (1);
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(e->fd, out, sizeof(out), 0);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "echocli: %s port %s: %s\n",
				    e->addr, e->port, strerror(errno));
				return (1);
			}
			if (n > 0 && echocli_write_all(STDOUT_FILENO, out,
			    (size_t)n) == -1) {
				fprintf(stderr, "echocli: stdout: %s\n",
				    strerror(errno));
				return (1);
			}
			if (n == 0) {
				/* The end of the replies: done if we were. */
				if (shut)
					return (0);
				fprintf(stderr, "echocli: %s port %s: "
				    "connection closed by the server\n",
				    e->addr, e->port);
				return (1);
			}
		}
		if (len > 0 && (pfd[1].revents & POLLOUT)) {
			n = send(e->fd, in + off, len, MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "echocli: %s port %s: %s\n",
				    e->addr, e->port, strerror(errno));
				return (1);
			}
			if (n > 0) {
				off += (size_t)n;
				len -= (size_t)n;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, in, sizeof(in));
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "echocli: stdin: %s\n",
				    strerror(errno));
				return (1);
			}
			if (n == 0)
				eof_in = true;
			if (n > 0) {
				off = 0;
				len = (size_t)n;
			}
		}
		if (eof_in && len == 0 && !shut) {
			/* Tell the server we are done; it closes when it is. */
			if (shutdown(e->fd, SHUT_WR) == -1) {
				fprintf(stderr, "echocli: %s port %s: %s\n",
				    e->addr, e->port, strerror(errno));
				return (1);
			}
			shut = true;
			deadline = echocli_now() + e->timeout;
		}
	}
}

/*
 * UDP: one datagram per line of stdin (the newline included), each reply
 * printed as it comes; at the end of stdin wait for the missing replies.
 */
static int
echocli_udp(struct echocli *e)
{
	static char	 in[ECHOCLI_DGRAM_MAX], out[ECHOCLI_BUFSZ];
	struct pollfd	 pfd[2];
	uint64_t	 sent = 0, got = 0;
	size_t		 len = 0, line;
	ssize_t		 n;
	double		 deadline = 0;
	char		*nl;
	bool		 eof_in = false;
	int		 r;

	for (;;) {
		if (eof_in && got >= sent)
			return (0);
		pfd[0].fd = eof_in ? -1 : STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = e->fd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		r = echocli_poll(pfd, 2, eof_in ? deadline : 0);
		if (r == -1) {
			fprintf(stderr, "echocli: poll: %s\n", strerror(errno));
			return (1);
		}
		if (r == 0) {
			fprintf(stderr, "echocli: %s port %s: %llu of %llu "
			    "datagrams got no reply within %g s\n", e->addr,
			    e->port, (unsigned long long)(sent - got),
			    (unsigned long long)sent, e->timeout);
			return (1);
		}
		if (pfd[1].revents & (POLLIN | POLLERR)) {
			n = recv(e->fd, out, sizeof(out), 0);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				/* ECONNREFUSED: an ICMP port unreachable. */
				fprintf(stderr, "echocli: %s port %s: %s\n",
				    e->addr, e->port, strerror(errno));
				return (1);
			}
			if (n >= 0) {
				got++;
				if (echocli_write_all(STDOUT_FILENO, out,
				    (size_t)n) == -1) {
					fprintf(stderr, "echocli: stdout: %s\n",
					    strerror(errno));
					return (1);
				}
			}
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(STDIN_FILENO, in + len, sizeof(in) - len);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "echocli: stdin: %s\n",
			    strerror(errno));
			return (1);
		}
		if (n == 0)
			eof_in = true;
		len += (size_t)n;
		/* Send every complete line, then a last or overlong piece. */
		for (;;) {
			nl = memchr(in, '\n', len);
			if (nl != NULL)
				line = (size_t)(nl - in) + 1;
			else if (len > 0 && (eof_in || len == sizeof(in)))
				line = len;
			else
				break;
			if (send(e->fd, in, line, 0) == -1) {
				fprintf(stderr, "echocli: %s port %s: %s\n",
				    e->addr, e->port, strerror(errno));
				return (1);
			}
			sent++;
			len -= line;
			memmove(in, in + line, len);
		}
		if (eof_in)
			deadline = echocli_now() + e->timeout;
	}
}

/*
 * --tls: the context, the SSL on the connected socket and its handshake,
 * within the timeout; 0, or 1 after a message with OpenSSL's reason.
 */
static int
echocli_tls_start(struct echocli *e)
{
	SSL_CTX	*ctx;
	char	 cause[256];

	if ((ctx = tlscli_ctx_new(&e->tls, cause, sizeof(cause))) == NULL) {
		fprintf(stderr, "echocli: %s\n", cause);
		return (1);
	}
	e->ssl = tlscli_ssl_new(ctx, &e->tls, e->host, e->fd);
	/* The SSL holds its own reference to the context. */
	SSL_CTX_free(ctx);
	if (e->ssl == NULL) {
		fprintf(stderr, "echocli: --servername %s: not a name\n",
		    e->tls.servername != NULL ? e->tls.servername : e->host);
		return (1);
	}
	if (e->tls.insecure)
		fprintf(stderr, "echocli: warning: --insecure: the server's "
		    "certificate is not verified\n");
	if (tlscli_handshake(e->ssl, e->timeout, cause, sizeof(cause)) ==
	    -1) {
		fprintf(stderr, "echocli: %s port %s: TLS handshake: %s\n",
		    e->addr, e->port, cause);
		return (1);
	}
	return (0);
}

/* A TLS call failed with err (r its result): say why; the status, 1. */
static int
echocli_tls_fail(struct echocli *e, int err, const char *what)
{
	char	cause[256];

	fprintf(stderr, "echocli: %s port %s: %s: %s\n", e->addr, e->port,
	    what, tlscli_reason(e->ssl, err, cause, sizeof(cause)));
	return (1);
}

/*
 * TLS: echocli_tcp()'s copy through SSL_read and SSL_write.  Each wakeup
 * reads until OpenSSL wants more from the socket, so no record waits in
 * its buffer while poll(2) sleeps.  The end of stdin sends a
 * close_notify (TLS has no half-close of its own, but echod's answer to
 * one is to write what it owes, then its own); the server's close_notify
 * is the end of the replies.
 */
static int
echocli_tls(struct echocli *e)
{
	static char	 in[ECHOCLI_BUFSZ], out[ECHOCLI_BUFSZ];
	struct pollfd	 pfd[2];
	size_t		 off = 0, len = 0;
	double		 deadline = 0;
	bool		 eof_in = false, shut = false, want_out = false;
	int		 n, r, err;

	for (;;) {
		pfd[0].fd = (!eof_in && len == 0) ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = e->fd;
		pfd[1].events = POLLIN | (want_out ? POLLOUT : 0);
		pfd[0].revents = pfd[1].revents = 0;
		r = echocli_poll(pfd, 2, shut ? deadline : 0);
		if (r == -1) {
			fprintf(stderr, "echocli: poll: %s\n", strerror(errno));
			return (1);
		}
		if (r == 0) {
			fprintf(stderr, "echocli: %s port %s: no end of "
			    "replies after %g s: Connection timed out\n",
			    e->addr, e->port, e->timeout);
			return (1);
		}
		want_out = false;
		for (;;) {
			ERR_clear_error();
			if ((n = SSL_read(e->ssl, out, sizeof(out))) > 0) {
				if (echocli_write_all(STDOUT_FILENO, out,
				    (size_t)n) == -1) {
					fprintf(stderr, "echocli: stdout: "
					    "%s\n", strerror(errno));
					return (1);
				}
				continue;
			}
			err = SSL_get_error(e->ssl, n);
			if (err == SSL_ERROR_WANT_READ)
				break;
			if (err == SSL_ERROR_WANT_WRITE) {
				want_out = true;
				break;
			}
			/* The end of the replies: done if we were. */
			if (err == SSL_ERROR_ZERO_RETURN && shut)
				return (0);
			if (err == SSL_ERROR_ZERO_RETURN) {
				fprintf(stderr, "echocli: %s port %s: "
				    "connection closed by the server\n",
				    e->addr, e->port);
				return (1);
			}
			return (echocli_tls_fail(e, err, "TLS"));
		}
		if (len > 0) {
			ERR_clear_error();
			if ((n = SSL_write(e->ssl, in + off, len)) > 0) {
				off += (size_t)n;
				len -= (size_t)n;
			} else {
				err = SSL_get_error(e->ssl, n);
				if (err == SSL_ERROR_WANT_WRITE)
					want_out = true;
				else if (err != SSL_ERROR_WANT_READ)
					return (echocli_tls_fail(e, err,
					    "TLS"));
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = (int)read(STDIN_FILENO, in, sizeof(in));
			if (n == -1 && errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "echocli: stdin: %s\n",
				    strerror(errno));
				return (1);
			}
			if (n == 0)
				eof_in = true;
			if (n > 0) {
				off = 0;
				len = (size_t)n;
				/* Send it without waiting for poll(2). */
				want_out = true;
			}
		}
		if (eof_in && len == 0 && !shut) {
			ERR_clear_error();
			if ((r = SSL_shutdown(e->ssl)) >= 0) {
				shut = true;
				deadline = echocli_now() + e->timeout;
			} else if ((err = SSL_get_error(e->ssl, r)) ==
			    SSL_ERROR_WANT_WRITE)
				want_out = true;
			else if (err != SSL_ERROR_WANT_READ)
				return (echocli_tls_fail(e, err, "TLS"));
		}
	}
}

/* The interactive client, "echocli bench" or "echocli stamp" (see
 * echocli(1)). */
int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "help",	no_argument,		NULL, 'h' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "udp",	no_argument,		NULL, 'u' },
		TLSCLI_LONGOPTS,
		{ NULL,		0,			NULL, 0 }
	};
	struct echocli		 e;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*end;
	bool			 udp = false;
	int			 ch, status;

	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		return (bench_main(argc - 1, argv + 1));
	if (argc > 1 && strcmp(argv[1], "stamp") == 0)
		return (sender_main(argc - 1, argv + 1));

	memset(&e, 0, sizeof(e));
	e.timeout = ECHOCLI_TIMEOUT;
	while ((ch = getopt_long(argc, argv, "ht:u", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			e.timeout = strtod(optarg, &end);
			if (*end != '\0' || end == optarg ||
			    !(e.timeout > 0 && e.timeout < 1e6)) {
				fprintf(stderr, "echocli: -t %s: not a number "
				    "of seconds\n", optarg);
				return (2);
			}
			break;
		case 'u':
			udp = true;
			break;
		case 'h':
			echocli_usage(0);
		default:
			if (!tlscli_option(&e.tls, ch, optarg))
				echocli_usage(2);
		}
	}
	if (tlscli_check(&e.tls, "echocli") == -1)
		return (2);
	if (udp && e.tls.on) {
		fprintf(stderr, "echocli: --tls is for TCP, not -u\n");
		return (2);
	}
	argc -= optind;
	argv += optind;
	if (peer_parse(argc, argv, &e.host, &e.port) == -1)
		echocli_usage(2);

	e.fd = peer_connect(e.host, e.port, udp ? SOCK_DGRAM : SOCK_STREAM,
	    e.timeout, false, &ss, &sslen);
	if (e.fd == -1)
		return (1);
	peer_addr((struct sockaddr *)&ss, sslen, e.addr, sizeof(e.addr));
	if (!e.tls.on)
		return (udp ? echocli_udp(&e) : echocli_tcp(&e));
	status = echocli_tls_start(&e);
	if (status == 0)
		status = echocli_tls(&e);
	SSL_free(e.ssl);
	return (status);
}
