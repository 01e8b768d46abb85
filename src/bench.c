/*
 * bench.c: "echocli bench", a load generator that verifies every byte.
 *
 * Each loop (one per -T thread) owns an event_base and a share of the
 * connections.  A connection is a socket with two plain events, not a
 * bufferevent: replies are checked as they stream in, against the message
 * the server owes us, so nothing is buffered on input and one shared read
 * buffer serves every connection; the output buffer and the ring of send
 * times are sized for -p messages when the connection is set up.  The hot
 * path is then one recv and one send per batch, no allocation, and no
 * epoll_ctl unless a write is partial.
 *
 * Message n of connection id is size bytes: a pattern that depends on id,
 * then n in hexadecimal, then "\n".  The reply must be that message without
 * its first --strip bytes.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "hist.h"
#include "peer.h"

#define BENCH_READSZ		65536	/* one recv per wakeup, usually */
#define BENCH_READS_MAX		4	/* recv calls per wakeup: fairness */
#define BENCH_CONNECTING_MAX	256	/* handshakes in flight per loop */
#define BENCH_STAMP_MAX		16	/* hex digits of the sequence number */
#define BENCH_THREADS_MAX	64
#define BENCH_FD_SPARE		64	/* stdio, the event base, the probe */
#define BENCH_RATE_TICK_US	1000	/* how often a rate-limited loop
					   wakes up to send again */

static const char bench_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
#define BENCH_ALPHABET_LEN	(sizeof(bench_alphabet) - 1)

struct bench_opts {
	const char	*host;
	const char	*port;
	unsigned	 conns;
	unsigned	 threads;
	unsigned	 pipeline;
	size_t		 size;
	size_t		 strip;
	double		 duration;	/* 0: until -n messages */
	uint64_t	 messages;	/* 0: until -d seconds */
	double		 rate;		/* 0: as fast as possible */
	double		 timeout;
	bool		 json;
	bool		 source_range;
	bool		 churn;
};

/* Counters of one loop, summed at the end. */
struct bench_stats {
	uint64_t	 msgs;		/* verified replies (churn: cycles) */
	uint64_t	 sent;
	uint64_t	 bytes_out;
	uint64_t	 bytes_in;
	uint64_t	 connected;
	uint64_t	 connect_errors;
	uint64_t	 wrong;
	uint64_t	 closed_early;
	uint64_t	 unanswered;
	int		 connect_errno;	/* the first connect error */
	int		 close_errno;	/* the first reset or error */
};

enum bench_conn_state {
	BENCH_CONN_IDLE,
	BENCH_CONN_CONNECTING,
	BENCH_CONN_OPEN
};

struct bench_loop;

struct bench_conn {
	struct bench_loop	*w;
	struct event		*rev;		/* persistent EV_READ */
	struct event		*wev;		/* connect, partial writes */
	int			 fd;
	unsigned		 id;		/* across all loops */
	enum bench_conn_state	 state;
	bool			 parked;	/* waiting for the rate */
	unsigned		 inflight;
	unsigned		 ring_head;	/* oldest entry of sent_ns */
	uint64_t		 send_seq;
	uint64_t		 recv_seq;
	size_t			 recv_off;	/* into the current reply */
	size_t			 out_off;
	size_t			 out_len;
	uint64_t		 cycle_start;	/* churn: connect began */
	uint64_t		*sent_ns;	/* pipeline send times */
	char			*out;		/* pipeline * size bytes */
	char			*expect;	/* message recv_seq */
	TAILQ_ENTRY(bench_conn)	 wait_entry;
};

struct bench;

struct bench_loop {
	struct bench		*b;
	unsigned		 idx;
	struct event_base	*base;
	struct bench_conn	*conns;
	unsigned		 nconns;
	unsigned		 next_start;	/* first never-started conn */
	unsigned		 connecting;
	unsigned		 open;		/* fds held */
	uint64_t		 quota;		/* messages (churn: cycles) */
	double			 rate;		/* per second, this loop */
	uint64_t		 rate_sent;
	bool			 stopping;
	bool			 rate_armed;
	bool			 starting;	/* in bench_loop_start_more */
	uint64_t		 t_connected;	/* all initial conns done */
	uint64_t		 t_last;	/* the last verified reply */
	uint64_t		 t_end;		/* the loop ended */
	struct event		*end_ev;
	struct event		*tick_ev;
	struct event		*rate_ev;
	struct event		*drain_ev;
	TAILQ_HEAD(, bench_conn) waitq;
	struct hist		*hist;
	struct bench_stats	 st;
	char			*pattern;	/* size + alphabet bytes */
	char			*rbuf;
	char			*arena;
	pthread_t		 thread;
	/* What the progress line sees of another thread's histogram. */
	pthread_mutex_t		 lock;
	struct hist		*snap;
};

struct bench {
	struct bench_opts	 o;
	struct sockaddr_storage	 dst;
	socklen_t		 dstlen;
	char			 addr[64];
	unsigned		 per_source;	/* 0: let the kernel choose */
	uint64_t		 t_start;
	bool			 stop;		/* Ctrl-C, for every loop */
	bool			 progress;
	bool			 reported_wrong;
	struct bench_loop	*loops;
	struct event		*sigint_ev;
	struct event		*progress_ev;
	uint64_t		 progress_msgs;
	uint64_t		 progress_t;
	struct hist		*progress_hist;
};

static void	bench_usage(FILE *);
static int	bench_parse(int, char **, struct bench_opts *);
static uint64_t	bench_now(void);
static int	bench_fd_limit(unsigned);
static unsigned	bench_ports_per_source(void);
static void	bench_stamp(const struct bench *, char *, uint64_t);
static int	bench_setup(struct bench *);
static void	bench_free(struct bench *);
static void	*bench_thread(void *);
static void	bench_sigint(evutil_socket_t, short, void *);
static void	bench_progress(evutil_socket_t, short, void *);
static void	bench_json_str(const char *);
static void	bench_fmt_ns(uint64_t, char *, size_t);
static int	bench_report(struct bench *);
static void	bench_loop_start_more(struct bench_loop *);
static void	bench_loop_stop(struct bench_loop *);
static bool	bench_loop_done(struct bench_loop *);
static void	bench_loop_check_done(struct bench_loop *);
static bool	bench_loop_rate_ok(struct bench_loop *);
static void	bench_loop_end(evutil_socket_t, short, void *);
static void	bench_loop_tick(evutil_socket_t, short, void *);
static void	bench_loop_rate(evutil_socket_t, short, void *);
static void	bench_loop_drain(evutil_socket_t, short, void *);
static void	bench_conn_start(struct bench_conn *);
static void	bench_conn_close(struct bench_conn *);
static void	bench_conn_park(struct bench_conn *);
static void	bench_conn_fill(struct bench_conn *);
static void	bench_conn_flush(struct bench_conn *);
static void	bench_conn_failed(struct bench_conn *, int);
static void	bench_conn_wrong(struct bench_conn *, const char *, size_t);
static int	bench_conn_verify(struct bench_conn *, const char *, size_t);
static void	bench_conn_writecb(evutil_socket_t, short, void *);
static void	bench_conn_readcb(evutil_socket_t, short, void *);

/* Print the options of "echocli bench". */
static void
bench_usage(FILE *f)
{
	fprintf(f,
	    "usage: echocli bench [-c connections] [-s size] [-p pipeline]\n"
	    "           [-d seconds | -n messages] [-r rate] [-T threads]\n"
	    "           [-t timeout] [--strip N] [--churn] [--source-range]\n"
	    "           [--json] host [port]\n");
}

/* Options and arguments into o; -1 after a message on a bad one. */
static int
bench_parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option	 longopts[] = {
		{ "churn",		no_argument,		NULL, 'C' },
		{ "connections",	required_argument,	NULL, 'c' },
		{ "duration",		required_argument,	NULL, 'd' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "json",		no_argument,		NULL, 'J' },
		{ "messages",		required_argument,	NULL, 'n' },
		{ "pipeline",		required_argument,	NULL, 'p' },
		{ "rate",		required_argument,	NULL, 'r' },
		{ "size",		required_argument,	NULL, 's' },
		{ "source-range",	no_argument,		NULL, 'R' },
		{ "strip",		required_argument,	NULL, 'S' },
		{ "threads",		required_argument,	NULL, 'T' },
		{ "timeout",		required_argument,	NULL, 't' },
		{ NULL,			0,			NULL, 0 }
	};
	unsigned long long	 u;
	double			 d;
	char			*end;
	int			 ch;

	memset(o, 0, sizeof(*o));
	o->conns = 10;
	o->threads = 1;
	o->pipeline = 1;
	o->size = 64;
	o->timeout = 5.0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:d:hn:p:r:s:T:t:", longopts,
	    NULL)) != -1) {
		if (ch == 'h') {
			bench_usage(stdout);
			exit(0);
		}
		if (ch == 'C' || ch == 'J' || ch == 'R') {
			*(ch == 'C' ? &o->churn : ch == 'J' ? &o->json :
			    &o->source_range) = true;
			continue;
		}
		if (ch == '?' || optarg == NULL)
			goto usage;
		errno = 0;
		if (ch == 'd' || ch == 'r' || ch == 't') {
			d = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(d > 0 && d < 1e9))
				goto bad;
			if (ch == 'd')
				o->duration = d;
			else if (ch == 'r')
				o->rate = d;
			else
				o->timeout = d;
			continue;
		}
		u = strtoull(optarg, &end, 10);
		if (errno != 0 || end == optarg || *end != '\0' ||
		    optarg[0] == '-')
			goto bad;
		switch (ch) {
		case 'c':
			if (u < 1 || u > 10000000)
				goto bad;
			o->conns = (unsigned)u;
			break;
		case 'n':
			if (u < 1)
				goto bad;
			o->messages = u;
			break;
		case 'p':
			if (u < 1 || u > 65536)
				goto bad;
			o->pipeline = (unsigned)u;
			break;
		case 's':
			if (u < 2 || u > 16 * 1024 * 1024)
				goto bad;
			o->size = (size_t)u;
			break;
		case 'S':
			if (u > 16 * 1024 * 1024)
				goto bad;
			o->strip = (size_t)u;
			break;
		case 'T':
			if (u < 1 || u > BENCH_THREADS_MAX)
				goto bad;
			o->threads = (unsigned)u;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (peer_parse(argc, argv, &o->host, &o->port) == -1)
		goto usage;
	if (o->strip >= o->size) {
		fprintf(stderr, "echocli bench: --strip %zu leaves nothing of "
		    "%zu-byte messages but the newline: use a larger -s\n",
		    o->strip, o->size);
		return (-1);
	}
	/* Buffers are per connection: keep one connection's reasonable. */
	if ((uint64_t)o->pipeline * o->size > 64 * 1024 * 1024) {
		fprintf(stderr, "echocli bench: -p %u of %zu bytes is more "
		    "than 64 MiB in flight per connection\n", o->pipeline,
		    o->size);
		return (-1);
	}
	if (o->duration == 0 && o->messages == 0)
		o->duration = 10;
	if (o->threads > o->conns)
		o->threads = o->conns;
	if (o->churn)
		o->pipeline = 1;	/* one message per connection */
	return (0);

bad:
	if (ch == 'S')
		fprintf(stderr, "echocli bench: invalid value for --strip: "
		    "%s\n", optarg);
	else
		fprintf(stderr, "echocli bench: invalid value for -%c: %s\n",
		    ch, optarg);
	return (-1);
usage:
	bench_usage(stderr);
	return (-1);
}

/* Nanoseconds of CLOCK_MONOTONIC. */
static uint64_t
bench_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
}

/* Raise RLIMIT_NOFILE so that conns sockets fit; -1 if they cannot. */
static int
bench_fd_limit(unsigned conns)
{
	struct rlimit	rl;
	rlim_t		need = (rlim_t)conns + BENCH_FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (-1);
	/* Take the hard limit; root may raise the hard limit itself. */
	if (rl.rlim_max < need) {
		rl.rlim_cur = rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return (0);
		getrlimit(RLIMIT_NOFILE, &rl);
		fprintf(stderr, "echocli bench: %u connections need %llu "
		    "file descriptors; the hard limit is %llu (ulimit -Hn, "
		    "LimitNOFILE=)\n", conns, (unsigned long long)need,
		    (unsigned long long)rl.rlim_max);
		return (-1);
	}
	rl.rlim_cur = rl.rlim_max;
	return (setrlimit(RLIMIT_NOFILE, &rl));
}

/*
 * How many connections to one destination a source address can safely
 * hold: half the ephemeral port range, because ports still in TIME_WAIT
 * from earlier runs count against it too.
 */
static unsigned
bench_ports_per_source(void)
{
	FILE		*f;
	unsigned	 lo = 32768, hi = 60999;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) !=
	    NULL) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || hi < lo) {
			lo = 32768;
			hi = 60999;
		}
		fclose(f);
	}
	return ((hi - lo + 1) / 2);
}

/* Write the sequence number into a message (its last digits). */
static void
bench_stamp(const struct bench *b, char *msg, uint64_t seq)
{
	size_t	k, i;

	k = b->o.size - 1 < BENCH_STAMP_MAX ? b->o.size - 1 : BENCH_STAMP_MAX;
	for (i = 0; i < k; i++) {
		msg[b->o.size - 2 - i] = "0123456789abcdef"[seq & 15];
		seq >>= 4;
	}
}

/* Build the loops, their connections and events. */
static int
bench_setup(struct bench *b)
{
	struct bench_opts	*o = &b->o;
	struct bench_loop	*w;
	struct bench_conn	*c;
	struct timeval		 tv;
	size_t			 evsz, stride, i, k;
	unsigned		 t, first;
	char			*p;

	evsz = (event_get_struct_event_size() + 15) & ~(size_t)15;
	stride = 2 * evsz + ((o->pipeline * sizeof(uint64_t) +
	    (size_t)o->pipeline * o->size + o->size + 15) & ~(size_t)15);
	if ((b->loops = calloc(o->threads, sizeof(*w))) == NULL)
		return (-1);
	for (t = 0; t < o->threads; t++) {
		w = &b->loops[t];
		w->b = b;
		w->idx = t;
		TAILQ_INIT(&w->waitq);
		pthread_mutex_init(&w->lock, NULL);
		first = (unsigned)((uint64_t)o->conns * t / o->threads);
		w->nconns = (unsigned)((uint64_t)o->conns * (t + 1) /
		    o->threads) - first;
		w->quota = o->messages == 0 ? UINT64_MAX :
		    o->messages * (t + 1) / o->threads -
		    o->messages * t / o->threads;
		w->rate = o->rate * w->nconns / o->conns;
		if ((w->base = event_base_new()) == NULL ||
		    (w->hist = hist_new()) == NULL ||
		    (w->snap = hist_new()) == NULL ||
		    (w->rbuf = malloc(BENCH_READSZ)) == NULL ||
		    (w->pattern = malloc(o->size + BENCH_ALPHABET_LEN)) ==
		    NULL ||
		    (w->conns = calloc(w->nconns, sizeof(*c))) == NULL ||
		    (w->arena = malloc(stride * w->nconns)) == NULL)
			return (-1);
		for (k = 0; k < o->size + BENCH_ALPHABET_LEN; k++)
			w->pattern[k] = bench_alphabet[k % BENCH_ALPHABET_LEN];
		for (i = 0; i < w->nconns; i++) {
			c = &w->conns[i];
			p = w->arena + i * stride;
			c->w = w;
			c->id = first + (unsigned)i;
			c->fd = -1;
			c->rev = (struct event *)p;
			c->wev = (struct event *)(p + evsz);
			c->sent_ns = (uint64_t *)(p + 2 * evsz);
			c->out = (char *)(c->sent_ns + o->pipeline);
			c->expect = c->out + (size_t)o->pipeline * o->size;
		}
		w->end_ev = evtimer_new(w->base, bench_loop_end, w);
		w->tick_ev = event_new(w->base, -1, EV_PERSIST, bench_loop_tick,
		    w);
		w->rate_ev = evtimer_new(w->base, bench_loop_rate, w);
		w->drain_ev = evtimer_new(w->base, bench_loop_drain, w);
		if (w->end_ev == NULL || w->tick_ev == NULL ||
		    w->rate_ev == NULL || w->drain_ev == NULL)
			return (-1);
		if (o->duration > 0) {
			tv.tv_sec = (time_t)o->duration;
			tv.tv_usec = (suseconds_t)((o->duration -
			    (double)tv.tv_sec) * 1e6);
			evtimer_add(w->end_ev, &tv);
		}
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		event_add(w->tick_ev, &tv);
	}
	w = &b->loops[0];
	b->sigint_ev = evsignal_new(w->base, SIGINT, bench_sigint, b);
	if (b->sigint_ev == NULL || event_add(b->sigint_ev, NULL) == -1)
		return (-1);
	if (b->progress) {
		if ((b->progress_hist = hist_new()) == NULL)
			return (-1);
		b->progress_ev = event_new(w->base, -1, EV_PERSIST,
		    bench_progress, b);
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		if (b->progress_ev == NULL ||
		    event_add(b->progress_ev, &tv) == -1)
			return (-1);
	}
	return (0);
}

/* Free the loops and everything they hold; half-built is fine. */
static void
bench_free(struct bench *b)
{
	struct bench_loop	*w;
	unsigned		 t;

	if (b->progress_ev != NULL)
		event_free(b->progress_ev);
	if (b->sigint_ev != NULL)
		event_free(b->sigint_ev);
	hist_free(b->progress_hist);
	if (b->loops == NULL)
		return;
	for (t = 0; t < b->o.threads; t++) {
		w = &b->loops[t];
		if (w->end_ev != NULL)
			event_free(w->end_ev);
		if (w->tick_ev != NULL)
			event_free(w->tick_ev);
		if (w->rate_ev != NULL)
			event_free(w->rate_ev);
		if (w->drain_ev != NULL)
			event_free(w->drain_ev);
		if (w->base != NULL)
			event_base_free(w->base);
		hist_free(w->hist);
		hist_free(w->snap);
		free(w->rbuf);
		free(w->pattern);
		free(w->conns);
		free(w->arena);
		pthread_mutex_destroy(&w->lock);
	}
	free(b->loops);
}

/* Run one loop until its connections are done. */
static void *
bench_thread(void *arg)
{
	struct bench_loop	*w = arg;

	bench_loop_start_more(w);
	/* A loopbreak before the loop starts would be forgotten. */
	if (!bench_loop_done(w))
		event_base_dispatch(w->base);
	w->t_end = bench_now();
	return (NULL);
}

/* Ctrl-C: stop sending, collect what is owed, report. */
static void
bench_sigint(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;

	__atomic_store_n(&b->stop, true, __ATOMIC_RELAXED);
	bench_loop_stop(&b->loops[0]);
}

/* Once a second on a terminal: elapsed, messages/s, p99 so far. */
static void
bench_progress(evutil_socket_t fd, short what, void *arg)
{
	struct bench		*b = arg;
	struct bench_loop	*w;
	uint64_t		 now, msgs = 0;
	unsigned		 t;
	char			 p99[32];

	now = bench_now();
	hist_reset(b->progress_hist);
	for (t = 0; t < b->o.threads; t++) {
		w = &b->loops[t];
		msgs += __atomic_load_n(&w->st.msgs, __ATOMIC_RELAXED);
		if (t == 0) {
			hist_merge(b->progress_hist, w->hist);
			continue;
		}
		pthread_mutex_lock(&w->lock);
		hist_merge(b->progress_hist, w->snap);
		pthread_mutex_unlock(&w->lock);
	}
	if (b->progress_t == 0)
		b->progress_t = b->t_start;
	bench_fmt_ns(hist_percentile(b->progress_hist, 99.0), p99,
	    sizeof(p99));
	printf("\r%6.1f s %12.0f %s/s   p99 %s\033[K",
	    (double)(now - b->t_start) / 1e9,
	    (double)(msgs - b->progress_msgs) * 1e9 /
	    (double)(now - b->progress_t), b->o.churn ? "conn" : "msg", p99);
	fflush(stdout);
	b->progress_msgs = msgs;
	b->progress_t = now;
}

/* Start handshakes until BENCH_CONNECTING_MAX are in flight. */
static void
bench_loop_start_more(struct bench_loop *w)
{
	/* A connect that fails at once calls back here: no recursion. */
	if (w->starting)
		return;
	w->starting = true;
	while (!w->stopping && w->next_start < w->nconns &&
	    w->connecting < BENCH_CONNECTING_MAX)
		bench_conn_start(&w->conns[w->next_start++]);
	w->starting = false;
	if (w->t_connected == 0 && w->next_start == w->nconns &&
	    w->connecting == 0)
		w->t_connected = bench_now();
}

/* Stop sending; wait at most -t seconds for the replies owed. */
static void
bench_loop_stop(struct bench_loop *w)
{
	struct timeval		 tv;
	struct bench_conn	*c;
	unsigned		 i;

	if (w->stopping)
		return;
	w->stopping = true;
	w->next_start = w->nconns;
	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		/*
		 * Handshakes cut short, connections held back by -r and
		 * idle ones are not errors.
		 */
		if (c->parked || c->state == BENCH_CONN_CONNECTING ||
		    (c->state == BENCH_CONN_OPEN && c->inflight == 0))
			bench_conn_close(c);
	}
	tv.tv_sec = (time_t)w->b->o.timeout;
	tv.tv_usec = (suseconds_t)((w->b->o.timeout - (double)tv.tv_sec) *
	    1e6);
	evtimer_add(w->drain_ev, &tv);
	bench_loop_check_done(w);
}

/* Whether no connection is left to run, now or later. */
static bool
bench_loop_done(struct bench_loop *w)
{
	return (w->open == 0 && w->next_start == w->nconns &&
	    TAILQ_EMPTY(&w->waitq));
}

/* Leave the loop once no connection is left to run. */
static void
bench_loop_check_done(struct bench_loop *w)
{
	if (bench_loop_done(w))
		event_base_loopbreak(w->base);
}

/* Whether the -r rate allows one more message (churn: connection). */
static bool
bench_loop_rate_ok(struct bench_loop *w)
{
	double	elapsed;

	if (w->rate <= 0)
		return (true);
	elapsed = (double)(bench_now() - w->b->t_start) / 1e9;
	/* One message ahead of the schedule, so the first goes at once. */
	return ((double)w->rate_sent < w->rate * elapsed + 1.0);
}

/* -d seconds have passed. */
static void
bench_loop_end(evutil_socket_t fd, short what, void *arg)
{
	bench_loop_stop(arg);
}

/* Once a second: see a Ctrl-C, publish the histogram for progress. */
static void
bench_loop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bench_loop	*w = arg;

	if (__atomic_load_n(&w->b->stop, __ATOMIC_RELAXED))
		bench_loop_stop(w);
	if (w->idx > 0 && w->b->progress) {
		pthread_mutex_lock(&w->lock);
		hist_reset(w->snap);
		hist_merge(w->snap, w->hist);
		pthread_mutex_unlock(&w->lock);
	}
}

/* Time to send again for connections held back by -r. */
static void
bench_loop_rate(evutil_socket_t fd, short what, void *arg)
{
	struct bench_loop	*w = arg;
	struct bench_conn	*c;

	w->rate_armed = false;
	while ((c = TAILQ_FIRST(&w->waitq)) != NULL && !w->stopping &&
	    bench_loop_rate_ok(w)) {
		TAILQ_REMOVE(&w->waitq, c, wait_entry);
		c->parked = false;
		if (c->state == BENCH_CONN_IDLE)
			bench_conn_start(c);
		else
			bench_conn_fill(c);
	}
	if (c != NULL && !w->stopping)
		bench_conn_park(TAILQ_FIRST(&w->waitq));
}

/* The replies owed after the stop did not all come: give up on them. */
static void
bench_loop_drain(evutil_socket_t fd, short what, void *arg)
{
	struct bench_loop	*w = arg;
	struct bench_conn	*c;
	unsigned		 i;

	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		if (c->state != BENCH_CONN_IDLE) {
			w->st.unanswered += c->inflight;
			bench_conn_close(c);
		}
	}
	bench_loop_check_done(w);
}

/* Open connection c (again, in churn mode). */
static void
bench_conn_start(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	struct sockaddr_in	 src;
	struct timeval		 tv;
	int			 one = 1, fd;

	if (w->rate > 0 && b->o.churn && !bench_loop_rate_ok(w)) {
		bench_conn_park(c);
		return;
	}
	if (b->o.churn) {
		if (w->quota == 0)
			return;
		w->quota--;
		w->rate_sent++;
	}
	c->cycle_start = bench_now();
	c->inflight = c->ring_head = 0;
	c->send_seq = c->recv_seq = 0;
	c->recv_off = c->out_off = c->out_len = 0;
	memcpy(c->expect, w->pattern + c->id % BENCH_ALPHABET_LEN,
	    b->o.size - 1);
	c->expect[b->o.size - 1] = '\n';
	bench_stamp(b, c->expect, 0);

	fd = socket(b->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		bench_conn_failed(c, errno);
		return;
	}
	c->fd = fd;
	c->state = BENCH_CONN_CONNECTING;
	w->open++;
	w->connecting++;
	/* Small messages must not wait for Nagle and delayed ACKs. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (b->per_source > 0) {
		/*
		 * The port is chosen at connect(), per destination, so
		 * each source address holds a whole port range.
		 */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002U +
		    c->id / b->per_source);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			bench_conn_failed(c, errno);
			return;
		}
	}
	if (connect(fd, (struct sockaddr *)&b->dst, b->dstlen) == -1 &&
	    errno != EINPROGRESS) {
		bench_conn_failed(c, errno);
		return;
	}
	event_assign(c->rev, w->base, fd, EV_READ | EV_PERSIST,
	    bench_conn_readcb, c);
	event_assign(c->wev, w->base, fd, EV_WRITE, bench_conn_writecb, c);
	tv.tv_sec = (time_t)b->o.timeout;
	tv.tv_usec = (suseconds_t)((b->o.timeout - (double)tv.tv_sec) * 1e6);
	event_add(c->wev, &tv);
}

/* Close c's socket; in churn mode start its next cycle. */
static void
bench_conn_close(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;

	if (c->parked) {
		TAILQ_REMOVE(&w->waitq, c, wait_entry);
		c->parked = false;
	}
	if (c->state == BENCH_CONN_IDLE)
		return;
	if (c->state == BENCH_CONN_CONNECTING)
		w->connecting--;
	event_del(c->rev);
	event_del(c->wev);
	close(c->fd);
	c->fd = -1;
	c->state = BENCH_CONN_IDLE;
	w->open--;
}

/* Hold c back until the -r rate allows it to go on. */
static void
bench_conn_park(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;
	struct timeval		 tv;

	if (!c->parked) {
		TAILQ_INSERT_TAIL(&w->waitq, c, wait_entry);
		c->parked = true;
	}
	if (!w->rate_armed) {
		tv.tv_sec = 0;
		tv.tv_usec = BENCH_RATE_TICK_US;
		evtimer_add(w->rate_ev, &tv);
		w->rate_armed = true;
	}
}

/* Queue messages until -p are in flight, then send them. */
static void
bench_conn_fill(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	size_t			 size = b->o.size;
	uint64_t		 now = 0;
	char			*msg;

	if (c->state != BENCH_CONN_OPEN || w->stopping)
		return;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
	}
	while (c->inflight < b->o.pipeline) {
		if (b->o.churn) {
			if (c->send_seq > 0)
				break;
		} else {
			if (w->quota == 0)
				break;
			if (w->rate > 0 && !bench_loop_rate_ok(w)) {
				bench_conn_park(c);
				break;
			}
			w->quota--;
			w->rate_sent++;
		}
		if (now == 0)
			now = bench_now();
		msg = c->out + c->out_len;
		memcpy(msg, w->pattern + c->id % BENCH_ALPHABET_LEN, size - 1);
		msg[size - 1] = '\n';
		bench_stamp(b, msg, c->send_seq);
		c->sent_ns[(c->ring_head + c->inflight) % b->o.pipeline] =
		    b->o.churn ? c->cycle_start : now;
		c->inflight++;
		c->send_seq++;
		c->out_len += size;
		w->st.sent++;
	}
	/* With a write pending, the write callback sends the rest. */
	if (c->out_len > 0 && !event_pending(c->wev, EV_WRITE, NULL))
		bench_conn_flush(c);
	if (c->state == BENCH_CONN_OPEN && c->inflight == 0 && !c->parked) {
		/* Nothing owed and nothing left to send: -n is reached. */
		bench_conn_close(c);
		bench_loop_check_done(w);
	}
}

/* Send what is queued; on a partial write wait for the socket. */
static void
bench_conn_flush(struct bench_conn *c)
{
	ssize_t	n;

	n = send(c->fd, c->out + c->out_off, c->out_len,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			bench_conn_failed(c, errno);
			return;
		}
		n = 0;
	}
	c->w->st.bytes_out += (size_t)n;
	c->out_off += (size_t)n;
	c->out_len -= (size_t)n;
	if (c->out_len > 0)
		event_add(c->wev, NULL);
	else
		c->out_off = 0;
}

/* c failed to connect (IDLE, CONNECTING) or broke (OPEN). */
static void
bench_conn_failed(struct bench_conn *c, int error)
{
	struct bench_loop	*w = c->w;

	if (c->state == BENCH_CONN_OPEN) {
		w->st.closed_early++;
		w->st.unanswered += c->inflight;
		if (w->st.close_errno == 0)
			w->st.close_errno = error;
	} else {
		w->st.connect_errors++;
		if (w->st.connect_errno == 0)
			w->st.connect_errno = error;
	}
	bench_conn_close(c);
	/* A failed slot is not retried: the run ends sooner, non-zero. */
	bench_loop_start_more(w);
	bench_loop_check_done(w);
}

/* A reply was not what we sent: count it, show the first, give up c. */
static void
bench_conn_wrong(struct bench_conn *c, const char *got, size_t len)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	size_t			 i, rlen, at;

	w->st.wrong++;
	if (!__atomic_exchange_n(&b->reported_wrong, true, __ATOMIC_RELAXED)) {
		rlen = b->o.size - b->o.strip;
		at = c->recv_off;
		for (i = 0; i < len && at + i < rlen; i++)
			if (got[i] != c->expect[b->o.strip + at + i])
				break;
		if (c->inflight == 0 || i == len || at + i == rlen)
			fprintf(stderr, "echocli bench: connection %u: %zu "
			    "bytes nobody asked for\n", c->id, len);
		else
			fprintf(stderr, "echocli bench: connection %u: "
			    "reply %" PRIu64 " differs at byte %zu: expected "
			    "0x%02x, got 0x%02x\n", c->id, c->recv_seq,
			    at + i, (unsigned char)c->expect[b->o.strip +
			    at + i], (unsigned char)got[i]);
	}
	/* The stream is out of step: nothing after this can be trusted. */
	if (c->inflight > 0)
		c->inflight--;
	w->st.unanswered += c->inflight;
	bench_conn_close(c);
	bench_loop_start_more(w);
	bench_loop_check_done(w);
}

/*
 * Check len bytes of replies against what is owed; count the complete
 * ones.  Returns -1 if c was closed because they were wrong.
 */
static int
bench_conn_verify(struct bench_conn *c, const char *buf, size_t len)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	size_t			 rlen, m;
	uint64_t		 now = 0;

	rlen = b->o.size - b->o.strip;
	while (len > 0) {
		m = rlen - c->recv_off;
		if (m > len)
			m = len;
		if (c->inflight == 0 || memcmp(buf, c->expect + b->o.strip +
		    c->recv_off, m) != 0) {
			bench_conn_wrong(c, buf, len);
			return (-1);
		}
		c->recv_off += m;
		buf += m;
		len -= m;
		if (c->recv_off < rlen)
			break;
		/* A whole reply: one clock read serves the batch. */
		if (now == 0)
			w->t_last = now = bench_now();
		hist_record(w->hist, now - c->sent_ns[c->ring_head]);
		c->ring_head = (c->ring_head + 1) % b->o.pipeline;
		c->inflight--;
		c->recv_seq++;
		c->recv_off = 0;
		bench_stamp(b, c->expect, c->recv_seq);
		__atomic_store_n(&w->st.msgs, w->st.msgs + 1,
		    __ATOMIC_RELAXED);
	}
	return (0);
}

/* The handshake ended, or the socket can take more of a partial write. */
static void
bench_conn_writecb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	struct bench_loop	*w = c->w;
	socklen_t		 len;
	int			 error = 0;

	if (c->state == BENCH_CONN_OPEN) {
		bench_conn_flush(c);
		return;
	}
	if (what & EV_TIMEOUT)
		error = ETIMEDOUT;
	else {
		len = sizeof(error);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
			error = errno;
	}
	if (error != 0) {
		bench_conn_failed(c, error);
		return;
	}
	w->connecting--;
	c->state = BENCH_CONN_OPEN;
	w->st.connected++;
	event_add(c->rev, NULL);
	bench_loop_start_more(w);
	bench_conn_fill(c);
}

/* Replies arrived: verify them, then keep -p messages in flight. */
static void
bench_conn_readcb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	struct bench_loop	*w = c->w;
	ssize_t			 n;
	int			 i;

	for (i = 0; i < BENCH_READS_MAX; i++) {
		n = recv(fd, w->rbuf, BENCH_READSZ, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			bench_conn_failed(c, errno);
			return;
		}
		if (n == 0) {
			/* The server closed while we still expected data. */
			bench_conn_failed(c, 0);
			return;
		}
		w->st.bytes_in += (size_t)n;
		if (bench_conn_verify(c, w->rbuf, (size_t)n) == -1)
			return;
		if (n < BENCH_READSZ)
			break;
	}
	if (w->b->o.churn && c->inflight == 0) {
		/* One cycle done: close and go again. */
		bench_conn_close(c);
		if (!w->stopping)
			bench_conn_start(c);
		bench_loop_check_done(w);
		return;
	}
	if (w->stopping) {
		if (c->inflight == 0) {
			bench_conn_close(c);
			bench_loop_check_done(w);
		}
		return;
	}
	bench_conn_fill(c);
}

/* A string as a JSON string literal. */
static void
bench_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* A latency, human-readable. */
static void
bench_fmt_ns(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", (double)ns / 1e9);
}

/* Sum the loops, print the result; returns the exit status. */
static int
bench_report(struct bench *b)
{
	struct bench_opts	*o = &b->o;
	struct bench_stats	 s;
	struct hist		*h;
	struct bench_loop	*w;
	uint64_t		 t_end = b->t_start, t_conn = b->t_start;
	uint64_t		 lat[5];
	double			 secs, conn_secs, mps, mbps;
	unsigned		 t, i;
	char			 f[5][32];
	bool			 failed;
	static const char	*names[5] = { "p50", "p90", "p99", "p99.9",
	    "max" };
	static const char	*keys[5] = { "p50", "p90", "p99", "p99_9",
	    "max" };

	if ((h = hist_new()) == NULL)
		return (1);
	memset(&s, 0, sizeof(s));
	for (t = 0; t < o->threads; t++) {
		w = &b->loops[t];
		hist_merge(h, w->hist);
		s.msgs += w->st.msgs;
		s.sent += w->st.sent;
		s.bytes_out += w->st.bytes_out;
		s.bytes_in += w->st.bytes_in;
		s.connected += w->st.connected;
		s.connect_errors += w->st.connect_errors;
		s.wrong += w->st.wrong;
		s.closed_early += w->st.closed_early;
		s.unanswered += w->st.unanswered;
		if (s.connect_errno == 0)
			s.connect_errno = w->st.connect_errno;
		if (s.close_errno == 0)
			s.close_errno = w->st.close_errno;
		/*
		 * The run ends with its last reply, not after the
		 * thousands of close() calls that follow it.
		 */
		if (w->t_last > t_end)
			t_end = w->t_last;
		if (w->t_connected > t_conn)
			t_conn = w->t_connected;
	}
	if (t_end == b->t_start)
		for (t = 0; t < o->threads; t++)
			if (b->loops[t].t_end > t_end)
				t_end = b->loops[t].t_end;
	secs = (double)(t_end - b->t_start) / 1e9;
	conn_secs = (double)(t_conn - b->t_start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	mps = (double)s.msgs / secs;
	mbps = (double)s.bytes_in / secs / 1e6;
	lat[0] = hist_percentile(h, 50.0);
	lat[1] = hist_percentile(h, 90.0);
	lat[2] = hist_percentile(h, 99.0);
	lat[3] = hist_percentile(h, 99.9);
	lat[4] = hist_max(h);
	failed = s.wrong > 0 || s.connect_errors > 0 || s.closed_early > 0 ||
	    s.unanswered > 0;

	if (o->json) {
		printf("{\"host\": ");
		bench_json_str(o->host);
		printf(", \"address\": \"%s\", \"port\": ", b->addr);
		bench_json_str(o->port);
		printf(", \"mode\": \"%s\", \"connections\": %u, "
		    "\"threads\": %u, \"size\": %zu, \"pipeline\": %u, "
		    "\"strip\": %zu, \"rate\": %.0f, \"elapsed_s\": %.6f, "
		    "\"connect_s\": %.6f, \"messages\": %" PRIu64 ", "
		    "\"messages_sent\": %" PRIu64 ", "
		    "\"messages_per_s\": %.1f, \"bytes_sent\": %" PRIu64 ", "
		    "\"bytes_received\": %" PRIu64 ", \"mb_per_s\": %.3f, "
		    "\"connections_opened\": %" PRIu64 ", "
		    "\"connections_per_s\": %.1f, \"latency_us\": {",
		    o->churn ? "churn" : "echo",
		    o->conns, o->threads, o->size, o->pipeline, o->strip,
		    o->rate, secs, conn_secs, s.msgs, s.sent, mps,
		    s.bytes_out, s.bytes_in, mbps, s.connected,
		    (double)s.connected / secs);
		for (i = 0; i < 5; i++)
			printf("\"%s\": %.3f, ", keys[i], (double)lat[i] / 1e3);
		printf("\"mean\": %.3f}, \"connect_errors\": %" PRIu64 ", "
		    "\"wrong_replies\": %" PRIu64 ", \"closed_early\": %"
		    PRIu64 ", \"unanswered\": %" PRIu64 ", \"ok\": %s}\n",
		    hist_mean(h) / 1e3, s.connect_errors, s.wrong,
		    s.closed_early, s.unanswered, failed ? "false" : "true");
	} else {
		for (i = 0; i < 5; i++)
			bench_fmt_ns(lat[i], f[i], sizeof(f[i]));
		printf("echocli bench: %s port %s, %u connections%s, "
		    "%zu-byte messages, %u in flight, %.2f s\n", b->addr,
		    o->port, o->conns, o->churn ? " (churn)" : "", o->size,
		    o->pipeline, secs);
		if (o->churn)
			printf("  connections %12" PRIu64 "  %12.1f/s\n",
			    s.connected, (double)s.connected / secs);
		printf("  messages    %12" PRIu64 "  %12.1f/s  %.2f MB/s\n",
		    s.msgs, mps, mbps);
		printf("  latency     ");
		for (i = 0; i < 5; i++)
			printf("%s %s%s", names[i], f[i], i < 4 ? ", " : "\n");
		printf("  errors      %" PRIu64 " connect, %" PRIu64
		    " wrong replies, %" PRIu64 " closed early, %" PRIu64
		    " unanswered\n", s.connect_errors, s.wrong,
		    s.closed_early, s.unanswered);
	}
	if (s.connect_errors > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " connections to %s "
		    "port %s failed: %s\n", s.connect_errors, b->addr,
		    o->port, strerror(s.connect_errno));
	if (s.closed_early > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " connections closed "
		    "early%s%s\n", s.closed_early, s.close_errno ? ": " : "",
		    s.close_errno ? strerror(s.close_errno) : " by the server");
	if (s.wrong > 0)
		fprintf(stderr, "echocli bench: %" PRIu64 " wrong replies\n",
		    s.wrong);
	hist_free(h);
	return (failed ? 1 : 0);
}

/* echocli bench: see echocli(1). */
int
bench_main(int argc, char **argv)
{
	struct bench		 b;
	struct sockaddr_in	*sin;
	unsigned		 t;
	int			 fd, status = 1;

	memset(&b, 0, sizeof(b));
	if (bench_parse(argc, argv, &b.o) == -1)
		return (2);
	if (bench_fd_limit(b.o.conns) == -1)
		return (2);
	signal(SIGPIPE, SIG_IGN);

	/* One probe connection picks the address that answers. */
	fd = peer_connect(b.o.host, b.o.port, SOCK_STREAM, b.o.timeout,
	    &b.dst, &b.dstlen);
	if (fd == -1)
		return (1);
	close(fd);
	peer_addr((struct sockaddr *)&b.dst, b.dstlen, b.addr, sizeof(b.addr));

	/* Spread sources over 127.0.0.0/8 when one address is too few. */
	if (b.o.source_range || b.o.conns > bench_ports_per_source()) {
		sin = (struct sockaddr_in *)&b.dst;
		if (b.dst.ss_family == AF_INET &&
		    (ntohl(sin->sin_addr.s_addr) >> 24) == 127)
			b.per_source = bench_ports_per_source();
		else if (b.o.source_range) {
			fprintf(stderr, "echocli bench: --source-range needs "
			    "an IPv4 loopback destination, not %s\n", b.addr);
			return (2);
		} else
			fprintf(stderr, "echocli bench: warning: %u "
			    "connections may exceed the ephemeral ports of one "
			    "source address\n", b.o.conns);
	}

	b.progress = !b.o.json && isatty(STDOUT_FILENO);
	if (bench_setup(&b) == -1) {
		fprintf(stderr, "echocli bench: out of memory\n");
		goto out;
	}
	b.t_start = bench_now();
	for (t = 1; t < b.o.threads; t++)
		if (pthread_create(&b.loops[t].thread, NULL, bench_thread,
		    &b.loops[t]) != 0) {
			fprintf(stderr, "echocli bench: cannot start thread\n");
			exit(1);
		}
	bench_thread(&b.loops[0]);
	for (t = 1; t < b.o.threads; t++)
		pthread_join(b.loops[t].thread, NULL);
	if (b.progress) {
		printf("\r\033[K");
		fflush(stdout);
	}
	status = bench_report(&b);
out:
	bench_free(&b);
	return (status);
}
