/*
 * idle-conns.c: hold many idle echo sessions open for bench/run, and time
 * a reload while they are open.
 *
 *	idle-conns [-n notify-socket-path]
 *
 * Driven by one command a line on stdin (bench/run runs it as a
 * coprocess); each command is answered by one line on stdout:
 *
 *	ready SECS		wait for READY=1 on the notify socket
 *				-> "ready MS" | "error ..."
 *	open HOST PORT N SECS	have N sessions open (adding to those held):
 *				each connects, sends "idle\n" and waits for
 *				its echo -> "open N MS" | "error ..."
 *	reload PID SECS		SIGHUP PID, time until READY=1
 *				-> "reload MS RELOADING_SEEN" | "error ..."
 *	check SECS		echo once more on every session
 *				-> "check ALIVE DROPPED"
 *	close			-> "closed"
 *	drain			forget notify messages queued -> "drained"
 *
 * Source addresses are spread over 127.2.0.0/16, 1000 sessions each, so
 * the open-file limit and not the ephemeral port range is what runs out;
 * and echocli bench, which uses 127.0.0.1 and 127.0.0.2+, never meets
 * these ports in TIME_WAIT.
 */
#define _GNU_SOURCE		/* IP_BIND_ADDRESS_NO_PORT in older headers */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define IC_MSG			"idle\n"
#define IC_MSGLEN		(sizeof(IC_MSG) - 1)
#define IC_PER_SOURCE		1000	/* sessions per source address */
#define IC_CONNECTING_MAX	256	/* handshakes in flight: the backlog */
#define IC_EVENTS		512

enum ic_state {
	IC_FREE,
	IC_CONNECTING,
	IC_WAITING,		/* sent IC_MSG, its echo is not all back */
	IC_IDLE,
	IC_DROPPED		/* the server closed it or it failed */
};

struct ic_conn {
	int		 fd;
	enum ic_state	 state;
	unsigned	 got;	/* bytes of the echo received */
};

static struct ic_conn	*ic_conns;
static unsigned		 ic_nconns;	/* slots in use */
static unsigned		 ic_max;	/* slots allocated */
static int		 ic_ep = -1;
static int		 ic_notify = -1;

/* Milliseconds of CLOCK_MONOTONIC. */
static double
ic_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

/* Bind the notify socket at path (a leading '@' is abstract). */
static int
ic_notify_open(const char *path)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "idle-conns: %s: path too long\n", path);
		return (-1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, len) == -1) {
		fprintf(stderr, "idle-conns: %s: %s\n", path, strerror(errno));
		return (-1);
	}
	return (fd);
}

/*
 * Wait until a notify datagram holds READY=1 or deadline (ms) passes.
 * Returns 1 on READY=1, 0 on timeout; *reloading is set if RELOADING=1
 * came first.
 */
static int
ic_notify_wait(double deadline, int *reloading)
{
	struct pollfd	 pfd;
	char		 buf[4096];
	ssize_t		 n;
	double		 left;

	if (ic_notify == -1)
		return (0);
	pfd.fd = ic_notify;
	pfd.events = POLLIN;
	for (;;) {
		while ((n = recv(ic_notify, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			/* Variables are one a line; match whole lines. */
			if (strstr(buf, "RELOADING=1") != NULL &&
			    reloading != NULL)
				*reloading = 1;
			if (strncmp(buf, "READY=1", 7) == 0 ||
			    strstr(buf, "\nREADY=1") != NULL)
				return (1);
		}
		left = deadline - ic_now();
		if (left <= 0)
			return (0);
		poll(&pfd, 1, (int)left + 1);
	}
}

/* Throw away notify datagrams already queued. */
static void
ic_notify_drain(void)
{
	char	buf[4096];

	if (ic_notify != -1)
		while (recv(ic_notify, buf, sizeof(buf), 0) > 0)
			continue;
}

/* Mark c dropped and release its socket. */
static void
ic_drop(struct ic_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = IC_DROPPED;
}

/* Start connecting slot i to dst; the state says how it went. */
static void
ic_connect(unsigned i, const struct sockaddr_in *dst)
{
	struct ic_conn		*c = &ic_conns[i];
	struct sockaddr_in	 src;
	struct epoll_event	 ev;
	int			 one = 1;

	c->got = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->fd == -1) {
		ic_drop(c);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The port is picked at connect(), per destination. */
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f020001U + i / IC_PER_SOURCE);
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(c->fd, (const struct sockaddr *)dst, sizeof(*dst)) ==
	    -1 && errno != EINPROGRESS)) {
		ic_drop(c);
		return;
	}
	c->state = IC_CONNECTING;
	ev.events = EPOLLOUT;
	ev.data.u32 = i;
	if (epoll_ctl(ic_ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		ic_drop(c);
}

/* Send IC_MSG on c and wait for its echo. */
static void
ic_ping(unsigned i)
{
	struct ic_conn		*c = &ic_conns[i];
	struct epoll_event	 ev;

	/* A few bytes into an empty send buffer: never partial. */
	if (send(c->fd, IC_MSG, IC_MSGLEN, MSG_NOSIGNAL) != IC_MSGLEN) {
		ic_drop(c);
		return;
	}
	c->got = 0;
	c->state = IC_WAITING;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.u32 = i;
	if (epoll_ctl(ic_ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		ic_drop(c);
}

/* Handle one event on slot i; returns 1 when it just became idle. */
static int
ic_event(unsigned i, unsigned events)
{
	struct ic_conn	*c = &ic_conns[i];
	char		 buf[256];
	ssize_t		 n;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	switch (c->state) {
	case IC_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
		    -1 || err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			ic_drop(c);
			return (0);
		}
		ic_ping(i);
		return (0);
	case IC_WAITING:
	case IC_IDLE:
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return (0);
		/* While idle, anything at all from the server is wrong. */
		if (n <= 0 || c->state == IC_IDLE ||
		    c->got + (size_t)n > IC_MSGLEN ||
		    memcmp(buf, IC_MSG + c->got, (size_t)n) != 0) {
			ic_drop(c);
			return (0);
		}
		c->got += (unsigned)n;
		if (c->got < IC_MSGLEN)
			return (0);
		c->state = IC_IDLE;
		return (1);
	default:
		return (0);
	}
}

/* Count the sessions in state st. */
static unsigned
ic_count(enum ic_state st)
{
	unsigned	i, k = 0;

	for (i = 0; i < ic_nconns; i++)
		if (ic_conns[i].state == st)
			k++;
	return (k);
}

/*
 * Run the event loop until no session is connecting or waiting, or the
 * deadline (ms) passes; while connecting, keep at most
 * IC_CONNECTING_MAX handshakes in flight, starting slots from *next up
 * to ic_nconns.
 */
static void
ic_loop(double deadline, unsigned *next, const struct sockaddr_in *dst)
{
	struct epoll_event	 evs[IC_EVENTS];
	unsigned		 busy = 0, i;
	double			 left;
	int			 n, k;

	for (i = 0; i < ic_nconns; i++)
		if (ic_conns[i].state == IC_CONNECTING ||
		    ic_conns[i].state == IC_WAITING)
			busy++;
	for (;;) {
		while (next != NULL && *next < ic_nconns &&
		    busy < IC_CONNECTING_MAX) {
			ic_connect((*next)++, dst);
			if (ic_conns[*next - 1].state == IC_CONNECTING)
				busy++;
		}
		if (busy == 0 && (next == NULL || *next >= ic_nconns))
			return;
		left = deadline - ic_now();
		if (left <= 0)
			return;
		n = epoll_wait(ic_ep, evs, IC_EVENTS, (int)left + 1);
		for (k = 0; k < n; k++) {
			i = evs[k].data.u32;
			if (i >= ic_nconns)
				continue;
			if (ic_conns[i].state != IC_CONNECTING &&
			    ic_conns[i].state != IC_WAITING) {
				ic_event(i, evs[k].events);
				continue;
			}
			ic_event(i, evs[k].events);
			if (ic_conns[i].state != IC_CONNECTING &&
			    ic_conns[i].state != IC_WAITING)
				busy--;
		}
	}
}

/* "open HOST PORT N SECS" */
static void
ic_cmd_open(const char *host, unsigned port, unsigned n, double secs)
{
	struct sockaddr_in	 dst;
	struct ic_conn		*nc;
	unsigned		 next, i;
	double			 t0;

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || port == 0 ||
	    port > 65535) {
		printf("error bad address %s port %u\n", host, port);
		return;
	}
	if (n > ic_max) {
		if ((nc = reallocarray(ic_conns, n, sizeof(*nc))) == NULL) {
			printf("error out of memory\n");
			return;
		}
		ic_conns = nc;
		ic_max = n;
	}
	next = ic_nconns;
	for (i = ic_nconns; i < n; i++) {
		ic_conns[i].fd = -1;
		ic_conns[i].state = IC_FREE;
	}
	if (n > ic_nconns)
		ic_nconns = n;
	t0 = ic_now();
	ic_loop(t0 + secs * 1e3, &next, &dst);
	if (ic_count(IC_IDLE) == n)
		printf("open %u %.1f\n", n, ic_now() - t0);
	else
		printf("error %u of %u sessions open (%u dropped, "
		    "%u pending)\n", ic_count(IC_IDLE), n,
		    ic_count(IC_DROPPED), n - ic_count(IC_IDLE) -
		    ic_count(IC_DROPPED));
}

/* "check SECS": one more echo on every session still held. */
static void
ic_cmd_check(double secs)
{
	struct epoll_event	 evs[IC_EVENTS];
	unsigned		 i;
	int			 n, k;

	/* First collect what happened while idle: EOF, resets. */
	while ((n = epoll_wait(ic_ep, evs, IC_EVENTS, 0)) > 0)
		for (k = 0; k < n; k++)
			if (evs[k].data.u32 < ic_nconns)
				ic_event(evs[k].data.u32, evs[k].events);
	for (i = 0; i < ic_nconns; i++)
		if (ic_conns[i].state == IC_IDLE)
			ic_ping(i);
	ic_loop(ic_now() + secs * 1e3, NULL, NULL);
	printf("check %u %u\n", ic_count(IC_IDLE), ic_nconns -
	    ic_count(IC_IDLE));
}

/* "reload PID SECS" */
static void
ic_cmd_reload(pid_t pid, double secs)
{
	double	t0;
	int	reloading = 0;

	ic_notify_drain();
	t0 = ic_now();
	if (kill(pid, SIGHUP) == -1) {
		printf("error kill %d: %s\n", (int)pid, strerror(errno));
		return;
	}
	if (ic_notify_wait(t0 + secs * 1e3, &reloading))
		printf("reload %.3f %d\n", ic_now() - t0, reloading);
	else
		printf("error no READY=1 within %.1f s\n", secs);
}

/* "close" */
static void
ic_cmd_close(void)
{
	unsigned	i;

	for (i = 0; i < ic_nconns; i++)
		if (ic_conns[i].fd != -1)
			close(ic_conns[i].fd);
	ic_nconns = 0;
	printf("closed\n");
}

/* Take the hard limit of open files. */
static void
ic_limits(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* idle-conns [-n notify-socket-path]: see the top of the file. */
int
main(int argc, char **argv)
{
	char		 line[512], host[64];
	unsigned	 port, n;
	double		 secs, t0;
	int		 ch, pid;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		switch (ch) {
		case 'n':
			if ((ic_notify = ic_notify_open(optarg)) == -1)
				return (1);
			break;
		default:
			fprintf(stderr, "usage: idle-conns [-n path]\n");
			return (1);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	ic_limits();
	if ((ic_ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "idle-conns: epoll: %s\n", strerror(errno));
		return (1);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("listening\n");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (sscanf(line, "ready %lf", &secs) == 1) {
			t0 = ic_now();
			if (ic_notify_wait(t0 + secs * 1e3, NULL))
				printf("ready %.1f\n", ic_now() - t0);
			else
				printf("error no READY=1 within %.1f s\n",
				    secs);
		} else if (sscanf(line, "open %63s %u %u %lf", host, &port,
		    &n, &secs) == 4)
			ic_cmd_open(host, port, n, secs);
		else if (sscanf(line, "reload %d %lf", &pid, &secs) == 2)
			ic_cmd_reload((pid_t)pid, secs);
		else if (sscanf(line, "check %lf", &secs) == 1)
			ic_cmd_check(secs);
		else if (strcmp(line, "close\n") == 0)
			ic_cmd_close();
		else if (strcmp(line, "drain\n") == 0) {
			ic_notify_drain();
			printf("drained\n");
		}
		else if (strcmp(line, "quit\n") == 0)
			break;
		else
			printf("error unknown command\n");
	}
	free(ic_conns);
	return (0);
}
