/*
 * ref-echo.c: the reference echo server that bench/run measures echod
 * against.  Plain C, one thread, edge-triggered epoll, nothing that a
 * benchmark does not need: the floor of what an event-loop echo costs.
 *
 *	ref-echo [-a address] port
 *
 * The hot path is one recv and one send per message into one shared
 * 32 KiB buffer: no allocation, no epoll_ctl.  Each socket is registered
 * once, edge-triggered for input, output and EOF, and never modified.  A
 * partial send keeps the rest in a per-connection buffer (allocated the
 * first time it is needed, kept until close) and pauses reading until
 * EPOLLOUT says it drained; input that arrives meanwhile waits in the
 * kernel, and reading resumes right after the drain.  Connection state
 * lives in an array indexed by fd, so an idle connection holds no buffer.
 *
 * When NOTIFY_SOCKET is set, "READY=1" is sent there once listening.
 */
#define _GNU_SOURCE		/* accept4 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REF_BUFSZ	(32 * 1024)	/* one recv, one send */
#define REF_EVENTS	256		/* epoll_wait batch */
#define REF_BACKLOG	4096		/* as echod; capped at somaxconn */

/* One connection; indexed by its fd. */
struct ref_conn {
	char		*pend;		/* unsent bytes, REF_BUFSZ, or NULL */
	unsigned	 pend_off;
	unsigned	 pend_len;	/* 0: nothing owed, reading */
};

static struct ref_conn	*ref_conns;
static int		 ref_nconns;
static char		 ref_buf[REF_BUFSZ];

/* Print a message with errno and exit. */
static void
ref_die(const char *what)
{
	fprintf(stderr, "ref-echo: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Raise the open-file limit to the hard limit; size the table by it. */
static void
ref_limits(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		ref_die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		ref_die("setrlimit");
	ref_nconns = rl.rlim_cur > 1 << 24 ? 1 << 24 : (int)rl.rlim_cur;
	/* calloc: untouched pages of the table cost no resident memory. */
	if ((ref_conns = calloc(ref_nconns, sizeof(*ref_conns))) == NULL)
		ref_die("calloc");
}

/* Tell a service manager (or bench/run) that we accept connections. */
static void
ref_notify_ready(void)
{
	struct sockaddr_un	 sun;
	const char		*path;
	socklen_t		 len;
	int			 fd;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ref-echo: NOTIFY_SOCKET too long\n");
		exit(1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		ref_die("socket");
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun, len) == -1)
		ref_die("NOTIFY_SOCKET");
	close(fd);
}

/* A bound, listening, non-blocking TCP socket on address and port. */
static int
ref_listen(const char *addr, const char *port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	char			*end;
	long			 p;
	int			 fd, one = 1;

	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 1 || p > 65535) {
		fprintf(stderr, "ref-echo: bad port: %s\n", port);
		exit(1);
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)p);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)p);
		len = sizeof(*sin6);
	} else {
		fprintf(stderr, "ref-echo: bad address: %s\n", addr);
		exit(1);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		ref_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1)
		ref_die("bind");
	if (listen(fd, REF_BACKLOG) == -1)
		ref_die("listen");
	return (fd);
}

/* Forget fd: free what it holds and close it (which leaves the epoll). */
static void
ref_close(int fd)
{
	struct ref_conn	*c = &ref_conns[fd];

	free(c->pend);
	c->pend = NULL;
	c->pend_off = c->pend_len = 0;
	close(fd);
}

/* Accept every pending connection: edge-triggered, so until EAGAIN. */
static void
ref_accept(int ep, int lfd)
{
	struct epoll_event	 ev;
	int			 fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/*
			 * EAGAIN: done.  EMFILE and the like: the rest wait
			 * in the backlog until the next connection's edge;
			 * good enough for a benchmark that stays below the
			 * limit.
			 */
			if (errno != EAGAIN)
				fprintf(stderr, "ref-echo: accept: %s\n",
				    strerror(errno));
			return;
		}
		if (fd >= ref_nconns) {
			close(fd);
			continue;
		}
		/* Small replies must not wait for Nagle. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			fprintf(stderr, "ref-echo: epoll_ctl: %s\n",
			    strerror(errno));
			close(fd);
		}
	}
}

/*
 * Keep what send() did not take of buf[off..n); 0, or -1 when the
 * connection is to be closed.
 */
static int
ref_keep(struct ref_conn *c, size_t off, size_t n)
{
	if (c->pend == NULL && (c->pend = malloc(REF_BUFSZ)) == NULL)
		return (-1);
	memcpy(c->pend, ref_buf + off, n - off);
	c->pend_off = 0;
	c->pend_len = (unsigned)(n - off);
	return (0);
}

/* Serve one readiness event on a connection. */
static void
ref_serve(int fd, unsigned events)
{
	struct ref_conn	*c = &ref_conns[fd];
	ssize_t		 n, w;

	if (events & EPOLLERR) {
		ref_close(fd);
		return;
	}
	if (c->pend_len > 0) {
		/* Reads are paused until the previous reply is gone. */
		w = send(fd, c->pend + c->pend_off, c->pend_len, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno != EAGAIN && errno != EINTR)
				ref_close(fd);
			return;
		}
		c->pend_off += (unsigned)w;
		c->pend_len -= (unsigned)w;
		if (c->pend_len > 0)
			return;
		/* Drained: what arrived meanwhile raised no new edge. */
	}
	for (;;) {
		n = recv(fd, ref_buf, sizeof(ref_buf), 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				ref_close(fd);
			return;
		}
		if (n == 0) {
			/* End of input, and nothing is owed: done. */
			ref_close(fd);
			return;
		}
		w = send(fd, ref_buf, (size_t)n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				ref_close(fd);
				return;
			}
			w = 0;
		}
		if (w < n) {
			if (ref_keep(c, (size_t)w, (size_t)n) == -1)
				ref_close(fd);
			return;		/* EPOLLOUT resumes us */
		}
		/*
		 * A short read emptied the receive queue: new data brings a
		 * new edge, so no second recv just to see EAGAIN.  A FIN
		 * that came with the data brings none: EPOLLRDHUP says
		 * whether one did.
		 */
		if ((size_t)n < sizeof(ref_buf) && !(events & EPOLLRDHUP))
			return;
	}
}

/* ref-echo [-a address] port */
int
main(int argc, char **argv)
{
	struct epoll_event	 evs[REF_EVENTS], ev;
	const char		*addr = "127.0.0.1";
	int			 ch, ep, lfd, n, i;

	while ((ch = getopt(argc, argv, "a:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	ref_limits();
	lfd = ref_listen(addr, argv[0]);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		ref_die("epoll_create1");
	ev.events = EPOLLIN | EPOLLET;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		ref_die("epoll_ctl");
	ref_notify_ready();
	for (;;) {
		n = epoll_wait(ep, evs, REF_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			ref_die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				ref_accept(ep, lfd);
			else
				ref_serve(evs[i].data.fd, evs[i].events);
		}
	}

usage:
	fprintf(stderr, "usage: ref-echo [-a address] port\n");
	return (1);
}
