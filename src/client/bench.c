/*
 * bench.c: "echocli bench", a load generator that verifies every byte:
 * its options, the set-up of a run and the control of its loops.
 *
 * Each loop (one per -T thread) owns an event_base and a share of the
 * connections; bench_conn.c drives one connection and bench_report.c says
 * how the run went.  Everything a run needs is allocated here before it
 * starts: a loop's connections are one array, and their events, rings of
 * send times and output buffers one arena, sized for -p messages, so that
 * no callback allocates.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
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
#include <openssl/ssl.h>

#include "bench.h"
#include "bench_conn.h"
#include "bench_report.h"
#include "bench_types.h"
#include "hist.h"
#include "peer.h"
#include "tlscli.h"
#include "udpbench.h"

#define BENCH_THREADS_MAX	64
#define BENCH_FD_SPARE		64	/* stdio, the event base, the probe */

static void	bench_usage(FILE *);
static bool	bench_is_udp(int, char **);
static int	bench_parse(int, char **, struct bench_opts *);
static int	bench_fd_limit(unsigned);
static unsigned	bench_ports_per_source(void);
static int	bench_tls(struct bench *, int);
static int	bench_setup(struct bench *);
static void	bench_free(struct bench *);
static void	*bench_thread(void *);
static void	bench_sigint(evutil_socket_t, short, void *);
static void	bench_loop_stop(struct bench_loop *);
static void	bench_loop_end(evutil_socket_t, short, void *);
static void	bench_loop_tick(evutil_socket_t, short, void *);
static void	bench_loop_rate(evutil_socket_t, short, void *);
static void	bench_loop_drain(evutil_socket_t, short, void *);

/* Print the options of "echocli bench". */
static void
bench_usage(FILE *f)
{
	fprintf(f,
	    "usage: echocli bench [-c connections] [-s size] [-p pipeline]\n"
	    "           [-d seconds | -n messages] [-r rate] [-T threads]\n"
	    "           [-t timeout] [--strip N] [--churn] [--source-range]\n"
	    "           [--expect-close]\n"
	    "           [--proxy v1|v2] [--json] [--tls [--ca file]\n"
	    "           [--cert file --key file] [--insecure]\n"
	    "           [--servername name]] host [port]\n"
	    "       echocli bench -u [-s size] [-r rate] "
	    "[-d seconds | -n datagrams]\n"
	    "           [-t seconds] [--json] host [port]\n");
}

/*
 * Every long option of both modes, so that bench_is_udp() takes no
 * option's value for an option; bench_parse() never sees --udp (such a
 * run is udpbench.c's).
 */
static const struct option bench_longopts[] = {
	{ "churn",		no_argument,		NULL, 'C' },
	{ "connections",	required_argument,	NULL, 'c' },
	{ "duration",		required_argument,	NULL, 'd' },
	{ "expect-close",	no_argument,		NULL, 'E' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "json",		no_argument,		NULL, 'J' },
	{ "messages",		required_argument,	NULL, 'n' },
	{ "pipeline",		required_argument,	NULL, 'p' },
	{ "proxy",		required_argument,	NULL, 'P' },
	{ "rate",		required_argument,	NULL, 'r' },
	{ "size",		required_argument,	NULL, 's' },
	{ "source-range",	no_argument,		NULL, 'R' },
	{ "strip",		required_argument,	NULL, 'S' },
	{ "threads",		required_argument,	NULL, 'T' },
	{ "timeout",		required_argument,	NULL, 't' },
	{ "udp",		no_argument,		NULL, 'u' },
	TLSCLI_LONGOPTS,
	{ NULL,			0,			NULL, 0 }
};

/*
 * Whether -u (--udp) is among the options: then udpbench.c has the run.
 * Every option of both modes is known here, so that no option's value
 * is taken for one; the errors are left to the parser of the mode.
 */
static bool
bench_is_udp(int argc, char **argv)
{
	bool	udp = false;
	int	ch, saved = opterr;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:d:hn:p:r:s:T:t:u",
	    bench_longopts, NULL)) != -1)
		if (ch == 'u')
			udp = true;
	opterr = saved;
	return (udp);
}

/* Options and arguments into o; -1 after a message on a bad one. */
static int
bench_parse(int argc, char **argv, struct bench_opts *o)
{
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
	while ((ch = getopt_long(argc, argv, "c:d:hn:p:r:s:T:t:",
	    bench_longopts, NULL)) != -1) {
		if (ch == 'h') {
			bench_usage(stdout);
			exit(0);
		}
		if (tlscli_option(&o->tls, ch, optarg))
			continue;
		if (ch == 'C' || ch == 'J' || ch == 'R' || ch == 'E') {
			*(ch == 'C' ? &o->churn : ch == 'J' ? &o->json :
			    ch == 'E' ? &o->expect_close :
			    &o->source_range) = true;
			continue;
		}
		if (ch == '?' || optarg == NULL)
			goto usage;
		if (ch == 'P') {
			if (strcmp(optarg, "v1") == 0)
				o->proxy = 1;
			else if (strcmp(optarg, "v2") == 0)
				o->proxy = 2;
			else
				goto bad;
			continue;
		}
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
	if (tlscli_check(&o->tls, "echocli bench") == -1)
		return (-1);
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
	if (ch == 'S' || ch == 'P')
		fprintf(stderr, "echocli bench: invalid value for --%s: "
		    "%s\n", ch == 'S' ? "strip" : "proxy", optarg);
	else
		fprintf(stderr, "echocli bench: invalid value for -%c: %s\n",
		    ch, optarg);
	return (-1);
usage:
	bench_usage(stderr);
	return (-1);
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

/*
 * --tls: the context of every connection, and a handshake on the probe
 * connection fd, so that a certificate that does not verify or a server
 * that speaks no TLS is one clear message, not a run of failures.
 */
static int
bench_tls(struct bench *b, int fd)
{
	SSL	*ssl;
	char	 cause[256];
	int	 r;

	if ((b->tls = tlscli_ctx_new(&b->o.tls, cause, sizeof(cause))) ==
	    NULL) {
		fprintf(stderr, "echocli bench: %s\n", cause);
		return (-1);
	}
	if (b->o.tls.insecure)
		fprintf(stderr, "echocli bench: warning: --insecure: the "
		    "server's certificate is not verified\n");
	/* The server waits for a PROXY header first: no probe then. */
	if (b->o.proxy != 0)
		return (0);
	if ((ssl = tlscli_ssl_new(b->tls, &b->o.tls, b->o.host, fd)) ==
	    NULL) {
		fprintf(stderr, "echocli bench: out of memory\n");
		return (-1);
	}
	r = tlscli_handshake(ssl, b->o.timeout, cause, sizeof(cause));
	if (r == -1)
		fprintf(stderr, "echocli bench: %s port %s: TLS handshake: "
		    "%s\n", b->addr, b->o.port, cause);
	else {
		/* A static string of OpenSSL's. */
		b->tls_version = SSL_get_version(ssl);
		(void)SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	return (r);
}

/* Build the loops, their connections and events. */
static int
bench_setup(struct bench *b)
{
	struct bench_opts	*o = &b->o;
	struct bench_loop	*w;
	struct bench_conn	*c;
	struct timeval		 tv;
	size_t			 evsz, stride, hdr, i, k;
	unsigned		 t, first;
	char			*p;

	evsz = (event_get_struct_event_size() + 15) & ~(size_t)15;
	hdr = o->proxy != 0 ? BENCH_PROXY_MAX : 0;
	stride = 2 * evsz + ((o->pipeline * sizeof(uint64_t) + hdr +
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
			w->pattern[k] = BENCH_ALPHABET[k % BENCH_ALPHABET_LEN];
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
			c->expect = c->out + hdr + (size_t)o->pipeline *
			    o->size;
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
		    bench_report_progress, b);
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
	SSL_CTX_free(b->tls);
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

	bench_conn_start_more(w);
	/* A loopbreak before the loop starts would be forgotten. */
	if (!bench_conn_all_done(w))
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
		    c->state == BENCH_CONN_HANDSHAKING ||
		    (c->state == BENCH_CONN_OPEN && c->inflight == 0))
			bench_conn_close(c);
	}
	tv.tv_sec = (time_t)w->b->o.timeout;
	tv.tv_usec = (suseconds_t)((w->b->o.timeout - (double)tv.tv_sec) *
	    1e6);
	evtimer_add(w->drain_ev, &tv);
	bench_conn_check_done(w);
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
	bench_conn_check_done(w);
}

/* echocli bench: see echocli(1). */
int
bench_main(int argc, char **argv)
{
	struct bench		 b;
	struct sockaddr_in	*sin;
	unsigned		 t;
	int			 fd, status = 1;

	if (bench_is_udp(argc, argv))
		return (udpbench_main(argc, argv));
	memset(&b, 0, sizeof(b));
	if (bench_parse(argc, argv, &b.o) == -1)
		return (2);
	if (bench_fd_limit(b.o.conns) == -1)
		return (2);
	signal(SIGPIPE, SIG_IGN);

	/* One probe connection picks the address that answers. */
	fd = peer_connect(b.o.host, b.o.port, SOCK_STREAM, b.o.timeout,
	    b.o.expect_close, &b.dst, &b.dstlen);
	if (fd == -1)
		return (1);
	peer_addr((struct sockaddr *)&b.dst, b.dstlen, b.addr, sizeof(b.addr));
	if (b.o.tls.on && bench_tls(&b, fd) == -1) {
		close(fd);
		goto out;
	}
	close(fd);

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
	status = bench_report_summary(&b);
out:
	bench_free(&b);
	return (status);
}
