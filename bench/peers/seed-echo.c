/*
 * seed-echo.c: the echo server of libevent's tutorial, the way echod's
 * seed served a connection, for bench/matrix to measure echod against.
 *
 *	seed-echo [-s N] port
 *
 * An evconnlistener on 127.0.0.1 hands each connection to
 * bufferevent_socket_new(); the read callback moves the whole input to
 * the output (evbuffer_add_buffer) and the bufferevent writes it when
 * the socket is writable; the event callback frees the connection on
 * end of file or error.  Nothing is tuned: no TCP_NODELAY, libevent's
 * default watermarks and read sizes, as the tutorial and the seed had.
 *
 * With -s N it frames lines and drops the first N bytes of each (the
 * seed's strip of a listener with framing = "line" and strip = ({ bytes
 * = N; })): evbuffer_readln() per line, the rest of the line and its
 * newline added to the output.  A partial line stays in the input.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static size_t	seed_strip;	/* -s: bytes dropped from each line */
static int	seed_lines;	/* -s given: frame lines */

/* The number s, from lo to hi, or exit naming what it is. */
static long
seed_number(const char *what, const char *s, long lo, long hi)
{
	char	*end;
	long	 v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		errx(1, "bad %s: %s", what, s);
	return (v);
}

/* Echo what arrived: all of it, or each whole line less its head. */
static void
seed_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(bev);
	char		*line;
	size_t		 len;

	(void)arg;
	if (!seed_lines) {
		evbuffer_add_buffer(out, in);
		return;
	}
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (len > seed_strip)
			evbuffer_add(out, line + seed_strip, len - seed_strip);
		evbuffer_add(out, "\n", 1);
		free(line);
	}
}

/* End of file or an error: the connection is done. */
static void
seed_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

/* A new connection: a bufferevent that reads and writes it. */
static void
seed_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct event_base	*base = evconnlistener_get_base(evl);
	struct bufferevent	*bev;

	(void)sa;
	(void)salen;
	(void)arg;
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, seed_read, NULL, seed_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int
main(int argc, char *argv[])
{
	struct event_base	*base;
	struct evconnlistener	*evl;
	struct sockaddr_in	 sin;
	int			 ch, port;

	while ((ch = getopt(argc, argv, "s:")) != -1) {
		switch (ch) {
		case 's':
			seed_strip = (size_t)seed_number("strip", optarg, 0,
			    INT_MAX);
			seed_lines = 1;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		goto usage;
	port = (int)seed_number("port", argv[0], 1, 65535);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		errx(1, "event_base_new");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	evl = evconnlistener_new_bind(base, seed_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (evl == NULL)
		err(1, "listen on port %d", port);
	event_base_dispatch(base);
	return (0);

usage:
	fprintf(stderr, "usage: seed-echo [-s N] port\n");
	return (1);
}
