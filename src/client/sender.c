/*
 * sender.c: "echocli stamp", a STAMP session-sender: paced test packets
 * to a session-reflector, and what their replies say (echocli(1)).
 *
 * With T1 the sender's transmit time, T2 the reflector's receive time,
 * T3 its transmit time and T4 the sender's receive time (RFC 8762
 * section 4): round trip (T4 - T1) - (T3 - T2), one way there T2 - T1,
 * back T4 - T3.  The one-way figures compare two clocks; their jitter
 * (RFC 3550 section 6.4.1, over successive differences) does not.
 */
#include <sys/socket.h>
#include <sys/timex.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "peer.h"
#include "sender.h"
#include "stamp.h"

#define SENDER_PORT		"862"
#define SENDER_COUNT_MAX	10000000
#define SENDER_BUF		65536

/* Options. */
struct sender_opts {
	const char	*host;
	const char	*port;
	unsigned long	 count;
	double		 interval;	/* seconds between packets */
	double		 wait;		/* for the last replies */
	bool		 json;
};

/* A direction's (or the round trip's) figures, in nanoseconds. */
struct sender_way {
	int64_t		 min, max;
	double		 sum;
	double		 jitter;	/* RFC 3550's J */
	int64_t		 prev;
	uint64_t	 n;
};

/* One run. */
struct sender {
	struct sender_opts	 o;
	int			 fd;
	char			 addr[64];
	unsigned int		 port;		/* numeric, as connected */
	uint8_t			*got;		/* a byte per sequence number */
	uint64_t		*sent_ts;	/* T1 of each sequence number */
	uint64_t		 sent, received, dups;
	uint64_t		 foreign;	/* short, or not what we sent */
	bool			 stateful;	/* a reply's numbers differ */
	uint32_t		 max_rseq;	/* the reflector's highest */
	struct hist		*rtt;
	struct sender_way	 there, back, round;
	double			 residence;	/* sum of T3 - T2 */
	uint16_t		 ee;		/* the reflector's, last seen */
	uint16_t		 own_ee;
};

static void
sender_usage(FILE *f)
{
	fprintf(f, "usage: echocli stamp [-c count] [-i interval] "
	    "[-t timeout] [--json] host [port]\n");
}

/* Seconds since an arbitrary start. */
static double
sender_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Our own clock's error estimate, as the reflector makes its own. */
static uint16_t
sender_own_ee(void)
{
	struct timex	tx;
	int		st;

	memset(&tx, 0, sizeof(tx));
	if ((st = adjtimex(&tx)) == -1)
		return (STAMP_EE_MAX);
	return (stamp_ee_encode(st != TIME_ERROR && !(tx.status & STA_UNSYNC),
	    tx.maxerror > 0 ? (uint64_t)tx.maxerror * 1000 : 0));
}

static int
sender_parse(int argc, char **argv, struct sender_opts *o)
{
	static const struct option	 longopts[] = {
		{ "count",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "interval",	required_argument,	NULL, 'i' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ NULL,		0,			NULL, 0 }
	};
	char	*end;
	int	 ch;

	o->count = 10;
	o->interval = 1;
	o->wait = 2;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hi:t:", longopts,
	    NULL)) != -1) {
		errno = 0;
		switch (ch) {
		case 'c':
			o->count = strtoul(optarg, &end, 10);
			if (*end != '\0' || end == optarg || errno != 0 ||
			    o->count < 1 || o->count > SENDER_COUNT_MAX) {
				fprintf(stderr, "echocli stamp: -c %s: not a "
				    "count from 1 to %d\n", optarg,
				    SENDER_COUNT_MAX);
				return (-1);
			}
			break;
		case 'i':
		case 't':
			*(ch == 'i' ? &o->interval : &o->wait) =
			    strtod(optarg, &end);
			if (*end != '\0' || end == optarg ||
			    !((ch == 'i' ? o->interval : o->wait) >= 0 &&
			    (ch == 'i' ? o->interval : o->wait) < 1e6)) {
				fprintf(stderr, "echocli stamp: -%c %s: not a "
				    "number of seconds\n", ch, optarg);
				return (-1);
			}
			break;
		case 'J':
			o->json = true;
			break;
		case 'h':
			sender_usage(stdout);
			exit(0);
		default:
			return (-1);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return (-1);
	o->host = argv[optind];
	o->port = argc - optind == 2 ? argv[optind + 1] : SENDER_PORT;
	return (0);
}

/* Add one figure to a way; jitter over successive differences. */
static void
sender_way_add(struct sender_way *w, int64_t v)
{
	double	d;

	if (w->n == 0 || v < w->min)
		w->min = v;
	if (w->n == 0 || v > w->max)
		w->max = v;
	if (w->n > 0) {
		d = fabs((double)(v - w->prev));
		w->jitter += (d - w->jitter) / 16;
	}
	w->prev = v;
	w->sum += (double)v;
	w->n++;
}

/* Send test packet number seq, timestamped now. */
static void
sender_send(struct sender *s, uint32_t seq)
{
	struct stamp_test	 t;
	struct timespec		 ts;
	uint8_t			 buf[STAMP_LEN];

	memset(&t, 0, sizeof(t));
	t.seq = seq;
	t.ee = s->own_ee;
	clock_gettime(CLOCK_REALTIME, &ts);
	t.ts = stamp_ts_from_timespec(&ts);
	s->sent_ts[seq] = t.ts;
	stamp_test_write(buf, &t);
	/* A refused send is a lost packet, as the network would lose it. */
	(void)send(s->fd, buf, sizeof(buf), 0);
	s->sent++;
}

/* Read every reply waiting. */
static void
sender_receive(struct sender *s)
{
	struct stamp_reply	 r;
	struct msghdr		 m;
	struct iovec		 iov;
	struct cmsghdr		*c;
	struct timespec		 ts;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(struct timespec))];
	}			 cbuf;
	static uint8_t		 buf[SENDER_BUF];
	bool			 have_ts;
	ssize_t			 n;
	uint64_t		 t4;
	int64_t			 rtt, res;

	for (;;) {
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		memset(&m, 0, sizeof(m));
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = &cbuf;
		m.msg_controllen = sizeof(cbuf);
		if ((n = recvmsg(s->fd, &m, MSG_DONTWAIT)) == -1)
			return;
		have_ts = false;
		for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS) {
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				have_ts = true;
			}
		}
		if (!have_ts)
			clock_gettime(CLOCK_REALTIME, &ts);
		t4 = stamp_ts_from_timespec(&ts);
		/* Ours only if it echoes a number and the timestamp we sent
		 * with it: a stale or forged reply rarely knows both. */
		if (stamp_reply_parse(buf, (size_t)n, &r) == -1 ||
		    r.sender_seq >= s->sent ||
		    r.sender_ts != s->sent_ts[r.sender_seq]) {
			s->foreign++;
			continue;
		}
		if (s->got[r.sender_seq]) {
			s->dups++;
			continue;
		}
		s->got[r.sender_seq] = 1;
		s->received++;
		if (r.seq != r.sender_seq)
			s->stateful = true;
		if (s->received == 1 || r.seq > s->max_rseq)
			s->max_rseq = r.seq;
		s->ee = r.ee;
		res = stamp_ts_diff_ns(r.ts, r.rx);
		rtt = stamp_ts_diff_ns(t4, r.sender_ts) - res;
		s->residence += (double)res;
		hist_record(s->rtt, rtt > 0 ? (uint64_t)rtt : 0);
		sender_way_add(&s->round, rtt);
		sender_way_add(&s->there, stamp_ts_diff_ns(r.rx, r.sender_ts));
		sender_way_add(&s->back, stamp_ts_diff_ns(t4, r.ts));
	}
}

/* Wait for replies until the monotonic time until. */
static void
sender_wait(struct sender *s, double until)
{
	struct pollfd	pfd;
	double		left;

	pfd.fd = s->fd;
	pfd.events = POLLIN;
	while ((left = until - sender_mono()) > 0) {
		if (poll(&pfd, 1, (int)ceil(left * 1000)) > 0)
			sender_receive(s);
		if (s->received == s->o.count && s->sent == s->o.count)
			return;
	}
	sender_receive(s);
}

/* An error estimate in words, for the report. */
static void
sender_ee_text(uint16_t ee, char *buf, size_t len)
{
	if (ee == STAMP_EE_MAX)
		snprintf(buf, len, "not known");
	else
		snprintf(buf, len, "%s, error at most %.6g s",
		    ee & STAMP_EE_S ? "synchronised" : "not synchronised",
		    stamp_ee_seconds(ee));
}

/* The losses each way, when the reflector's numbers tell them:
 * -1 when not known. */
static void
sender_losses(const struct sender *s, int64_t *there, int64_t *back)
{
	uint64_t	reached;

	*there = *back = -1;
	if (s->received == s->sent) {
		*there = *back = 0;
		return;
	}
	if (!s->stateful || s->received == 0)
		return;
	/* The reflector numbered max_rseq + 1 packets it answered. */
	reached = (uint64_t)s->max_rseq + 1;
	if (reached > s->sent || reached < s->received)
		return;
	*there = (int64_t)(s->sent - reached);
	*back = (int64_t)(reached - s->received);
}

static double
sender_us(double ns)
{
	return (ns / 1000);
}

static void
sender_report_text(const struct sender *s)
{
	const struct sender_way	*w;
	char			 ee[96], own[96];
	int64_t			 there, back;
	uint64_t		 lost = s->sent - s->received;

	sender_losses(s, &there, &back);
	printf("STAMP to %s port %u: %llu sent, %llu received, %llu lost",
	    s->addr, s->port, (unsigned long long)s->sent,
	    (unsigned long long)s->received, (unsigned long long)lost);
	if (there >= 0)
		printf(" (%lld on the way there, %lld on the way back)",
		    (long long)there, (long long)back);
	else
		printf(" (each way: not known, the reflector's numbers "
		    "are ours)");
	printf(", %llu duplicated, %llu foreign\n", (unsigned long long)s->dups,
	    (unsigned long long)s->foreign);
	if (s->received == 0)
		return;
	printf("round trip, less the reflector's %.1f us: min %.1f, "
	    "p50 %.1f, p90 %.1f, p99 %.1f, max %.1f us\n",
	    sender_us(s->residence / (double)s->received),
	    sender_us((double)hist_min(s->rtt)),
	    sender_us((double)hist_percentile(s->rtt, 50)),
	    sender_us((double)hist_percentile(s->rtt, 90)),
	    sender_us((double)hist_percentile(s->rtt, 99)),
	    sender_us((double)hist_max(s->rtt)));
	w = &s->there;
	printf("one way there: min %.1f, mean %.1f, max %.1f us\n",
	    sender_us((double)w->min), sender_us(w->sum / (double)w->n),
	    sender_us((double)w->max));
	w = &s->back;
	printf("one way back:  min %.1f, mean %.1f, max %.1f us\n",
	    sender_us((double)w->min), sender_us(w->sum / (double)w->n),
	    sender_us((double)w->max));
	sender_ee_text(s->ee, ee, sizeof(ee));
	sender_ee_text(s->own_ee, own, sizeof(own));
	printf("  one-way delays compare two clocks: they hold only if both "
	    "are synchronised\n  (reflector's clock: %s; ours: %s)\n", ee,
	    own);
	printf("jitter (RFC 3550): round trip %.1f, there %.1f, back %.1f us\n",
	    sender_us(s->round.jitter), sender_us(s->there.jitter),
	    sender_us(s->back.jitter));
}

static void
sender_json_way(const char *name, const struct sender_way *w)
{
	printf("\"%s\":{\"min_us\":%.3f,\"mean_us\":%.3f,\"max_us\":%.3f,"
	    "\"jitter_us\":%.3f}", name, sender_us((double)w->min),
	    w->n > 0 ? sender_us(w->sum / (double)w->n) : 0,
	    sender_us((double)w->max), sender_us(w->jitter));
}

static void
sender_json_ee(const char *name, uint16_t ee)
{
	printf("\"%s\":{\"synchronised\":%s,\"error_s\":%.9g,\"known\":%s}",
	    name, ee & STAMP_EE_S ? "true" : "false", stamp_ee_seconds(ee),
	    ee == STAMP_EE_MAX ? "false" : "true");
}

static void
sender_report_json(const struct sender *s)
{
	int64_t	there, back;

	sender_losses(s, &there, &back);
	/* The address is numeric: nothing in it needs escaping. */
	printf("{\"address\":\"%s\",\"port\":%u,\"sent\":%llu,"
	    "\"received\":%llu,\"lost\":%llu,", s->addr, s->port,
	    (unsigned long long)s->sent, (unsigned long long)s->received,
	    (unsigned long long)(s->sent - s->received));
	if (there >= 0)
		printf("\"lost_there\":%lld,\"lost_back\":%lld,",
		    (long long)there, (long long)back);
	else
		printf("\"lost_there\":null,\"lost_back\":null,");
	printf("\"duplicated\":%llu,\"foreign\":%llu,\"stateful\":%s,",
	    (unsigned long long)s->dups, (unsigned long long)s->foreign,
	    s->stateful ? "true" : "false");
	printf("\"rtt_us\":{\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
	    "\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f},",
	    sender_us((double)hist_min(s->rtt)),
	    sender_us((double)hist_percentile(s->rtt, 50)),
	    sender_us((double)hist_percentile(s->rtt, 90)),
	    sender_us((double)hist_percentile(s->rtt, 99)),
	    sender_us((double)hist_max(s->rtt)), sender_us(hist_mean(s->rtt)));
	printf("\"reflector_us\":%.3f,", s->received > 0 ?
	    sender_us(s->residence / (double)s->received) : 0);
	sender_json_way("round_trip", &s->round);
	printf(",");
	sender_json_way("there", &s->there);
	printf(",");
	sender_json_way("back", &s->back);
	printf(",");
	sender_json_ee("reflector_clock", s->ee);
	printf(",");
	sender_json_ee("sender_clock", s->own_ee);
	printf("}\n");
}

/* Run "echocli stamp"; see sender.h. */
int
sender_main(int argc, char **argv)
{
	struct sender		 s;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	double			 start, next;
	uint64_t		 i;
	int			 on = 1;

	memset(&s, 0, sizeof(s));
	if (sender_parse(argc, argv, &s.o) == -1) {
		sender_usage(stderr);
		return (2);
	}
	if ((s.got = calloc(s.o.count, 1)) == NULL ||
	    (s.sent_ts = calloc(s.o.count, sizeof(*s.sent_ts))) == NULL ||
	    (s.rtt = hist_new()) == NULL) {
		fprintf(stderr, "echocli stamp: out of memory\n");
		return (1);
	}
	s.fd = peer_connect(s.o.host, s.o.port, SOCK_DGRAM, 5, false, &ss, &sslen);
	if (s.fd == -1)
		return (1);
	peer_addr((struct sockaddr *)&ss, sslen, s.addr, sizeof(s.addr));
	/* The port used, a service name resolved. */
	s.port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	/* T4 from the kernel, as the reflector's T2. */
	(void)setsockopt(s.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	s.own_ee = sender_own_ee();
	s.ee = STAMP_EE_MAX;

	start = sender_mono();
	for (i = 0; i < s.o.count; i++) {
		next = start + (double)i * s.o.interval;
		sender_wait(&s, next);
		sender_send(&s, (uint32_t)i);
		sender_receive(&s);
	}
	sender_wait(&s, sender_mono() + s.o.wait);

	if (s.o.json)
		sender_report_json(&s);
	else
		sender_report_text(&s);
	close(s.fd);
	hist_free(s.rtt);
	free(s.sent_ts);
	free(s.got);
	return (s.received > 0 ? 0 : 1);
}
