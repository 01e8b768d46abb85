/*
 * udpbench.c: "echocli bench -u", a UDP echo measurement: its options,
 * the pacer that sends sequence-numbered, timestamped datagrams on a
 * schedule, and the reading of their replies.  udpstat.c makes figures
 * of them and udpbench_report.c tells them.
 *
 * Every datagram starts with a header of ours, which an RFC 862 server
 * sends back unchanged, so that nothing is kept per datagram here:
 *
 *	0	magic "echU"		(4 bytes, big-endian like the rest)
 *	4	run id, random		(4)
 *	8	sequence number		(8)
 *	16	send time, CLOCK_MONOTONIC ns	(8)
 *	24	padding to -s bytes, a pattern that depends on the sequence
 *
 * The pacer is a timerfd armed at the absolute CLOCK_MONOTONIC time of
 * the next datagram (start + k / rate), with the process's timer slack
 * at 1 ns: the schedule does not drift, however late a wake-up is.  A
 * wake-up sends every datagram that is due, at most UDPBENCH_BATCH
 * before the replies are read again; when the loop is more than
 * UDPBENCH_BEHIND late (the machine stalled), the schedule moves on
 * rather than making up for it in one burst, and the slip is counted.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>

#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hist.h"
#include "peer.h"
#include "udpbench.h"
#include "udpbench_report.h"
#include "udpstat.h"

#define UDPBENCH_MAGIC		0x65636855u	/* "echU" */
#define UDPBENCH_HDR		24
#define UDPBENCH_MAX		65507	/* the largest IPv4 UDP payload */
#define UDPBENCH_RATE_MAX	1000000.0
#define UDPBENCH_BATCH		64	/* datagrams a wake-up, at most */
#define UDPBENCH_RECV_BATCH	256	/* replies a wake-up, at most */
#define UDPBENCH_BEHIND		10000000ull	/* 10 ms late: slip */
#define UDPBENCH_SOCKBUF	(4 * 1024 * 1024)
#define UDPBENCH_NS		1000000000ull

#define UDPBENCH_ALPHABET \
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define UDPBENCH_ALPHABET_LEN	(sizeof(UDPBENCH_ALPHABET) - 1)

/* The options of a run. */
struct udpbench_opts {
	const char	*host;
	const char	*port;
	size_t		 size;
	double		 rate;
	double		 duration;	/* 0: until -n datagrams */
	uint64_t	 count;		/* 0: until -d seconds */
	double		 wait;		/* 0: max(1 s, 3 x p99) */
	bool		 json;
};

/* A run. */
struct udpbench {
	struct udpbench_opts	 o;
	char			 addr[64];
	int			 fd;
	int			 tfd;
	uint32_t		 run;
	struct event_base	*base;
	struct event		*sock_ev;
	struct event		*pace_ev;
	struct event		*wait_ev;
	struct event		*sigint_ev;
	struct event		*progress_ev;
	uint64_t		 t0;		/* the schedule's origin */
	uint64_t		 shift;		/* added by slips */
	uint64_t		 slot;		/* next scheduled datagram */
	uint64_t		 seq;		/* next sequence number */
	uint64_t		 t_first;	/* first and last send */
	uint64_t		 t_last;
	uint64_t		 t_stop;	/* sending ended */
	bool			 sending;
	bool			 oom;
	double			 period;	/* ns between datagrams */
	struct udpstat		*st;
	struct hist		*late;
	struct udpbench_result	 r;
	char			*pattern;	/* size + alphabet bytes */
	char			*out;
	char			*in;
};

static void	udpbench_usage(FILE *);
static int	udpbench_parse(int, char **, struct udpbench_opts *);
static uint64_t	udpbench_now(void);
static int	udpbench_setup(struct udpbench *);
static void	udpbench_free(struct udpbench *);
static void	udpbench_arm(struct udpbench *, uint64_t);
static void	udpbench_send(struct udpbench *, uint64_t);
static void	udpbench_pace(evutil_socket_t, short, void *);
static void	udpbench_stop(struct udpbench *);
static bool	udpbench_check(struct udpbench *, size_t, uint64_t,
		    uint64_t *, uint64_t *);
static void	udpbench_read(evutil_socket_t, short, void *);
static void	udpbench_waited(evutil_socket_t, short, void *);
static void	udpbench_sigint(evutil_socket_t, short, void *);
static void	udpbench_progress(evutil_socket_t, short, void *);
static void	udpbench_result(struct udpbench *);

/* Print the options of "echocli bench -u". */
static void
udpbench_usage(FILE *f)
{
	fprintf(f,
	    "usage: echocli bench -u [-s size] [-r rate] [-d seconds | "
	    "-n datagrams]\n"
	    "           [-t seconds] [--json] host [port]\n");
}

/* Options and arguments into o; -1 after a message on a bad one. */
static int
udpbench_parse(int argc, char **argv, struct udpbench_opts *o)
{
	static const struct option	 longopts[] = {
		{ "duration",	required_argument,	NULL, 'd' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "messages",	required_argument,	NULL, 'n' },
		{ "rate",	required_argument,	NULL, 'r' },
		{ "size",	required_argument,	NULL, 's' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "udp",	no_argument,		NULL, 'u' },
		{ NULL,		0,			NULL, 0 }
	};
	unsigned long long	 u;
	double			 d;
	char			*end;
	int			 ch;

	memset(o, 0, sizeof(*o));
	o->size = 64;
	o->rate = 100;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "d:hn:r:s:t:u", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			udpbench_usage(stdout);
			exit(0);
		case 'u':
			continue;
		case 'J':
			o->json = true;
			continue;
		case 'd':
		case 'r':
		case 't':
			errno = 0;
			d = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(d > 0 && d < 1e9))
				goto bad;
			if (ch == 'r' && d > UDPBENCH_RATE_MAX)
				goto bad;
			*(ch == 'd' ? &o->duration : ch == 'r' ? &o->rate :
			    &o->wait) = d;
			continue;
		case 'n':
		case 's':
			errno = 0;
			u = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-')
				goto bad;
			if (ch == 'n') {
				if (u < 1)
					goto bad;
				o->count = u;
			} else {
				if (u < UDPBENCH_HDR || u > UDPBENCH_MAX)
					goto bad;
				o->size = (size_t)u;
			}
			continue;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (peer_parse(argc, argv, &o->host, &o->port) == -1)
		goto usage;
	if (o->duration == 0 && o->count == 0)
		o->duration = 10;
	return (0);

bad:
	fprintf(stderr, "echocli bench: invalid value for -%c: %s%s\n", ch,
	    optarg, ch == 's' ? " (24 to 65507 bytes with -u)" :
	    ch == 'r' ? " (at most 1000000 datagrams/s)" : "");
	return (-1);
usage:
	if (ch == '?' && optopt != 0 && strchr("cpT", optopt) != NULL)
		fprintf(stderr, "echocli bench: -%c is for TCP, not -u\n",
		    optopt);
	udpbench_usage(stderr);
	return (-1);
}

/* Nanoseconds of CLOCK_MONOTONIC. */
static uint64_t
udpbench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * UDPBENCH_NS + (uint64_t)ts.tv_nsec);
}

/* The socket's buffers, the timer, the events, the buffers. */
static int
udpbench_setup(struct udpbench *u)
{
	struct udpbench_opts	*o = &u->o;
	struct timeval		 tv = { 1, 0 };
	size_t			 k;
	int			 one = 1, sz = UDPBENCH_SOCKBUF;

	/*
	 * Room for a burst of replies, so that loss is the network's, not
	 * this socket's; what it still drops SO_RXQ_OVFL counts.  Best
	 * effort: the kernel caps the sizes at net.core.[rw]mem_max.
	 */
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	/* The default 50 us of timer slack would be the pacer's error. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	u->period = (double)UDPBENCH_NS / o->rate;
	if ((u->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) == -1)
		return (-1);
	if ((u->st = udpstat_new()) == NULL ||
	    (u->late = hist_new()) == NULL ||
	    (u->pattern = malloc(o->size + UDPBENCH_ALPHABET_LEN)) == NULL ||
	    (u->out = malloc(o->size)) == NULL ||
	    (u->in = malloc(UDPBENCH_MAX + 1)) == NULL ||
	    (u->base = event_base_new()) == NULL)
		return (-1);
	for (k = 0; k < o->size + UDPBENCH_ALPHABET_LEN; k++)
		u->pattern[k] = UDPBENCH_ALPHABET[k % UDPBENCH_ALPHABET_LEN];
	u->sock_ev = event_new(u->base, u->fd, EV_READ | EV_PERSIST,
	    udpbench_read, u);
	u->pace_ev = event_new(u->base, u->tfd, EV_READ | EV_PERSIST,
	    udpbench_pace, u);
	u->wait_ev = evtimer_new(u->base, udpbench_waited, u);
	u->sigint_ev = evsignal_new(u->base, SIGINT, udpbench_sigint, u);
	if (u->sock_ev == NULL || u->pace_ev == NULL || u->wait_ev == NULL ||
	    u->sigint_ev == NULL || event_add(u->sock_ev, NULL) == -1 ||
	    event_add(u->pace_ev, NULL) == -1 ||
	    event_add(u->sigint_ev, NULL) == -1)
		return (-1);
	if (!o->json && isatty(STDOUT_FILENO)) {
		u->progress_ev = event_new(u->base, -1, EV_PERSIST,
		    udpbench_progress, u);
		if (u->progress_ev == NULL ||
		    event_add(u->progress_ev, &tv) == -1)
			return (-1);
	}
	return (0);
}

/* Free a run; half-built is fine. */
static void
udpbench_free(struct udpbench *u)
{
	if (u->progress_ev != NULL)
		event_free(u->progress_ev);
	if (u->sigint_ev != NULL)
		event_free(u->sigint_ev);
	if (u->wait_ev != NULL)
		event_free(u->wait_ev);
	if (u->pace_ev != NULL)
		event_free(u->pace_ev);
	if (u->sock_ev != NULL)
		event_free(u->sock_ev);
	if (u->base != NULL)
		event_base_free(u->base);
	if (u->tfd != -1)
		close(u->tfd);
	if (u->fd != -1)
		close(u->fd);
	udpstat_free(u->st);
	hist_free(u->late);
	free(u->pattern);
	free(u->out);
	free(u->in);
}

/* Wake the pacer at absolute time t (now, if t has passed). */
static void
udpbench_arm(struct udpbench *u, uint64_t t)
{
	struct itimerspec	its;

	memset(&its, 0, sizeof(its));
	/* 0 would disarm the timer: the epoch is long past anyway. */
	if (t == 0)
		t = 1;
	its.it_value.tv_sec = (time_t)(t / UDPBENCH_NS);
	its.it_value.tv_nsec = (long)(t % UDPBENCH_NS);
	timerfd_settime(u->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Send the next datagram, due at due. */
static void
udpbench_send(struct udpbench *u, uint64_t due)
{
	uint64_t	v, now;
	uint32_t	w;
	ssize_t		n;
	int		tries;

	u->slot++;
	w = htobe32(UDPBENCH_MAGIC);
	memcpy(u->out, &w, 4);
	w = htobe32(u->run);
	memcpy(u->out + 4, &w, 4);
	v = htobe64(u->seq);
	memcpy(u->out + 8, &v, 8);
	memcpy(u->out + UDPBENCH_HDR, u->pattern + u->seq %
	    UDPBENCH_ALPHABET_LEN, u->o.size - UDPBENCH_HDR);
	for (tries = 0; tries < 2; tries++) {
		now = udpbench_now();
		v = htobe64(now);
		memcpy(u->out + 16, &v, 8);
		if ((n = send(u->fd, u->out, u->o.size, 0)) != -1)
			break;
		/*
		 * An ICMP port unreachable of an earlier datagram is
		 * reported here, once, and this one was not sent: again.
		 */
		if (errno == ECONNREFUSED) {
			u->r.refused++;
			continue;
		}
		break;
	}
	if (n == -1) {
		/* ENOBUFS, EAGAIN: this host, not the network, dropped it. */
		if (u->r.not_sent++ == 0)
			u->r.send_errno = errno;
		return;
	}
	if (udpstat_sent(u->st, now - u->t0) == -1) {
		u->oom = true;
		udpbench_stop(u);
		return;
	}
	hist_record(u->late, now > due ? now - due : 0);
	if (u->seq == 0)
		u->t_first = now;
	u->t_last = now;
	u->seq++;
}

/* The pacer's timer: send what is due, arm it for the next. */
static void
udpbench_pace(evutil_socket_t fd, short what, void *arg)
{
	struct udpbench	*u = arg;
	uint64_t	 expirations, due, now;
	unsigned	 n;

	(void)read(u->tfd, &expirations, sizeof(expirations));
	now = udpbench_now();
	for (n = 0; u->sending; n++) {
		if (u->o.count > 0 && u->slot >= u->o.count) {
			udpbench_stop(u);
			return;
		}
		due = u->t0 + u->shift + (uint64_t)((double)u->slot *
		    u->period);
		if (u->o.duration > 0 && due - u->t0 >=
		    (uint64_t)(u->o.duration * 1e9)) {
			udpbench_stop(u);
			return;
		}
		if (due > now) {
			udpbench_arm(u, due);
			return;
		}
		if (now - due > UDPBENCH_BEHIND) {
			u->shift += now - due;
			u->r.slips++;
			due = now;
		}
		if (n == UDPBENCH_BATCH) {
			/* Read the replies first, then go on at once. */
			udpbench_arm(u, now);
			return;
		}
		udpbench_send(u, due);
		now = udpbench_now();
	}
}

/* Stop sending; wait for late replies, unless none is owed. */
static void
udpbench_stop(struct udpbench *u)
{
	struct udpstat_sum	 s;
	struct timeval		 tv;
	double			 wait;

	if (!u->sending)
		return;
	u->sending = false;
	u->t_stop = udpbench_now();
	event_del(u->pace_ev);
	udpstat_sum(u->st, &s);
	if (u->oom || s.received >= s.sent) {
		event_base_loopbreak(u->base);
		return;
	}
	/* Three times the p99 round trip, and at least a second. */
	wait = u->o.wait;
	if (wait == 0) {
		wait = 3.0 * (double)hist_percentile(udpstat_rtt(u->st),
		    99.0) / 1e9;
		if (wait < 1.0)
			wait = 1.0;
	}
	u->r.wait = wait;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(u->wait_ev, &tv);
}

/*
 * Whether the len bytes in u->in are a reply to a datagram of this run,
 * received at now; its sequence number and send time if so.
 */
static bool
udpbench_check(struct udpbench *u, size_t len, uint64_t now, uint64_t *seq,
    uint64_t *t_sent)
{
	uint64_t	v;
	uint32_t	w;

	if (len != u->o.size)
		return (false);
	memcpy(&w, u->in, 4);
	if (be32toh(w) != UDPBENCH_MAGIC)
		return (false);
	memcpy(&w, u->in + 4, 4);
	if (be32toh(w) != u->run)
		return (false);
	memcpy(&v, u->in + 8, 8);
	*seq = be64toh(v);
	memcpy(&v, u->in + 16, 8);
	*t_sent = be64toh(v);
	if (*seq >= u->seq || *t_sent < u->t0 || *t_sent > now)
		return (false);
	return (memcmp(u->in + UDPBENCH_HDR, u->pattern + *seq %
	    UDPBENCH_ALPHABET_LEN, len - UDPBENCH_HDR) == 0);
}

/* Replies: read what is there, each timed as it is read. */
static void
udpbench_read(evutil_socket_t fd, short what, void *arg)
{
	struct udpbench		*u = arg;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cm;
	struct udpstat_sum	 s;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(uint32_t))];
	}			 cbuf;
	uint64_t		 now, seq, t_sent;
	uint32_t		 ovfl;
	ssize_t			 n;
	unsigned		 i;

	for (i = 0; i < UDPBENCH_RECV_BATCH; i++) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = u->in;
		iov.iov_len = UDPBENCH_MAX + 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		if ((n = recvmsg(u->fd, &msg, MSG_DONTWAIT)) == -1) {
			if (errno == ECONNREFUSED) {
				u->r.refused++;
				continue;
			}
			break;	/* EAGAIN, or nothing we can help */
		}
		now = udpbench_now();
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SO_RXQ_OVFL) {
				/* The socket's drops since it was opened. */
				memcpy(&ovfl, CMSG_DATA(cm), sizeof(ovfl));
				u->r.rcvbuf_dropped = ovfl;
			}
		if ((msg.msg_flags & MSG_TRUNC) ||
		    !udpbench_check(u, (size_t)n, now, &seq, &t_sent) ||
		    udpstat_received(u->st, seq, t_sent - u->t0, now - u->t0) ==
		    UDPSTAT_UNSENT)
			u->r.wrong++;
	}
	if (!u->sending) {
		udpstat_sum(u->st, &s);
		if (s.received >= s.sent)
			event_base_loopbreak(u->base);
	}
}

/* The wait for late replies is over. */
static void
udpbench_waited(evutil_socket_t fd, short what, void *arg)
{
	struct udpbench	*u = arg;

	event_base_loopbreak(u->base);
}

/* Ctrl-C: stop sending and wait; a second one: stop at once. */
static void
udpbench_sigint(evutil_socket_t fd, short what, void *arg)
{
	struct udpbench	*u = arg;

	if (u->r.interrupted || !u->sending)
		event_base_loopbreak(u->base);
	u->r.interrupted = true;
	udpbench_stop(u);
}

/* Once a second on a terminal. */
static void
udpbench_progress(evutil_socket_t fd, short what, void *arg)
{
	struct udpbench	*u = arg;

	udpbench_result(u);
	udpbench_report_progress(&u->r, (double)(udpbench_now() - u->t0) /
	    1e9);
}

/* The result as the report reads it. */
static void
udpbench_result(struct udpbench *u)
{
	struct udpbench_result	*r = &u->r;
	uint64_t		 end = u->sending ? udpbench_now() : u->t_stop;

	r->host = u->o.host;
	r->port = u->o.port;
	r->addr = u->addr;
	r->size = u->o.size;
	r->rate = u->o.rate;
	r->duration = u->o.count > 0 ? 0 : u->o.duration;
	r->count = u->o.count;
	r->elapsed = (double)(end - u->t0) / 1e9;
	r->rate_achieved = u->seq > 1 ? (double)(u->seq - 1) * 1e9 /
	    (double)(u->t_last - u->t_first) : 0;
	r->st = u->st;
	r->late = u->late;
}

/* echocli bench -u: see echocli(1). */
int
udpbench_main(int argc, char **argv)
{
	struct udpbench		 u;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 status = 1;

	memset(&u, 0, sizeof(u));
	u.fd = u.tfd = -1;
	if (udpbench_parse(argc, argv, &u.o) == -1)
		return (2);
	signal(SIGPIPE, SIG_IGN);
	if ((u.fd = peer_connect(u.o.host, u.o.port, SOCK_DGRAM, 5.0, false, &ss,
	    &sslen)) == -1)
		return (1);
	peer_addr((struct sockaddr *)&ss, sslen, u.addr, sizeof(u.addr));
	if (udpbench_setup(&u) == -1) {
		fprintf(stderr, "echocli bench: %s\n", strerror(errno));
		goto out;
	}
	/* Replies to another run, or another sender, are not ours. */
	if (getentropy(&u.run, sizeof(u.run)) == -1)
		u.run = (uint32_t)getpid() ^ (uint32_t)udpbench_now();
	u.sending = true;
	u.t0 = udpbench_now();
	udpbench_arm(&u, u.t0);
	event_base_dispatch(u.base);
	if (u.sending) {
		u.sending = false;
		u.t_stop = udpbench_now();
	}
	if (u.progress_ev != NULL) {
		printf("\r\033[K");
		fflush(stdout);
	}
	if (u.oom) {
		fprintf(stderr, "echocli bench: out of memory\n");
		goto out;
	}
	udpbench_result(&u);
	status = udpbench_report(&u.r, u.o.json);
out:
	udpbench_free(&u);
	return (status);
}
