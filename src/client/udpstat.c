/*
 * udpstat.c: the statistics of "echocli bench -u" (see udpstat.h).
 *
 * A bit per datagram sent says whether its reply came: duplicates are
 * the replies whose bit is already set, and loss is what is left unset
 * at the end (1 bit a datagram: 10 million datagrams cost 1.25 MB).
 * Reordering follows RFC 4737 section 3: a reply is reordered when its
 * sequence number is lower than the next expected one, that is one
 * higher has already come; duplicates are taken out first, as that
 * section requires.  Jitter is RFC 3550 section 6.4.1's estimator over
 * the round-trip times in order of arrival.  IPDV (RFC 3393, RFC 5481
 * section 4.2) is the difference of the round-trip times of consecutive
 * sequence numbers, whatever their order of arrival: a ring of the last
 * UDPSTAT_RING replies finds a datagram's neighbours, so a pair whose
 * replies come further apart than that is not counted.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "udpstat.h"

#define UDPSTAT_RING	1024
#define UDPSTAT_NS	1000000000ull

/* A reply the IPDV ring remembers. */
struct udpstat_slot {
	uint64_t	seq1;		/* sequence number + 1; 0: empty */
	uint64_t	rtt;
};

struct udpstat {
	uint64_t		 sent;
	uint64_t		 received;
	uint64_t		 duplicated;
	uint64_t		 reordered;
	uint64_t		 next_exp;	/* RFC 4737's NextExp */
	uint64_t		*seen;		/* a bit per datagram sent */
	size_t			 seen_words;
	/* Second k: datagrams first[k] .. first[k + 1] - 1, recv[k] back. */
	uint64_t		*first;
	uint64_t		*recv;
	size_t			 nsec;
	size_t			 capsec;
	double			 jitter;
	uint64_t		 prev_rtt;
	int			 have_prev;
	uint64_t		 ipdv_pairs;
	int64_t			 ipdv_min;
	int64_t			 ipdv_max;
	struct hist		*rtt;
	struct hist		*ipdv;
	struct udpstat_slot	 ring[UDPSTAT_RING];
};

static int	udpstat_grow_seen(struct udpstat *, uint64_t);
static int	udpstat_grow_seconds(struct udpstat *, size_t);
static size_t	udpstat_second_of(const struct udpstat *, uint64_t);
static void	udpstat_pair(struct udpstat *, uint64_t, uint64_t);

/* A new run's statistics. */
struct udpstat *
udpstat_new(void)
{
	struct udpstat	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (NULL);
	if ((u->rtt = hist_new()) == NULL || (u->ipdv = hist_new()) == NULL) {
		udpstat_free(u);
		return (NULL);
	}
	return (u);
}

/* Free a run's statistics. */
void
udpstat_free(struct udpstat *u)
{
	if (u == NULL)
		return;
	hist_free(u->rtt);
	hist_free(u->ipdv);
	free(u->seen);
	free(u->first);
	free(u->recv);
	free(u);
}

/* Room in the bitmap for datagram seq: doubling, so rarely. */
static int
udpstat_grow_seen(struct udpstat *u, uint64_t seq)
{
	uint64_t	*p;
	size_t		 words;

	if (seq / 64 < u->seen_words)
		return (0);
	words = u->seen_words == 0 ? 1024 : u->seen_words * 2;
	while (words <= seq / 64)
		words *= 2;
	if ((p = realloc(u->seen, words * sizeof(*p))) == NULL)
		return (-1);
	memset(p + u->seen_words, 0, (words - u->seen_words) * sizeof(*p));
	u->seen = p;
	u->seen_words = words;
	return (0);
}

/* Room for second k of the series. */
static int
udpstat_grow_seconds(struct udpstat *u, size_t k)
{
	uint64_t	*f, *r;
	size_t		 cap;

	if (k < u->capsec)
		return (0);
	cap = u->capsec == 0 ? 64 : u->capsec * 2;
	while (cap <= k)
		cap *= 2;
	if ((f = realloc(u->first, cap * sizeof(*f))) == NULL)
		return (-1);
	u->first = f;
	if ((r = realloc(u->recv, cap * sizeof(*r))) == NULL)
		return (-1);
	u->recv = r;
	u->capsec = cap;
	return (0);
}

/* The next datagram, u->sent, was sent at t. */
int
udpstat_sent(struct udpstat *u, uint64_t t)
{
	size_t	k = (size_t)(t / UDPSTAT_NS);

	if (udpstat_grow_seen(u, u->sent) == -1)
		return (-1);
	if (k >= u->nsec) {
		if (udpstat_grow_seconds(u, k) == -1)
			return (-1);
		/* Seconds in which nothing was sent start here too. */
		for (; u->nsec <= k; u->nsec++) {
			u->first[u->nsec] = u->sent;
			u->recv[u->nsec] = 0;
		}
	}
	u->sent++;
	return (0);
}

/* The second in which datagram seq (< sent) was sent. */
static size_t
udpstat_second_of(const struct udpstat *u, uint64_t seq)
{
	size_t	lo = 0, hi = u->nsec, mid;

	/* The last second whose first datagram is at or before seq. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (u->first[mid] <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return (lo);
}

/* The IPDV of the pair (seq, seq + 1), whose round-trip times are given. */
static void
udpstat_pair(struct udpstat *u, uint64_t rtt_a, uint64_t rtt_b)
{
	int64_t		d = (int64_t)(rtt_b - rtt_a);

	if (u->ipdv_pairs == 0 || d < u->ipdv_min)
		u->ipdv_min = d;
	if (u->ipdv_pairs == 0 || d > u->ipdv_max)
		u->ipdv_max = d;
	u->ipdv_pairs++;
	hist_record(u->ipdv, (uint64_t)(d < 0 ? -d : d));
}

/* A reply arrived. */
enum udpstat_reply
udpstat_received(struct udpstat *u, uint64_t seq, uint64_t t_sent,
    uint64_t t_recv)
{
	struct udpstat_slot	*s;
	uint64_t		 rtt, bit;
	double			 d;

	if (seq >= u->sent)
		return (UDPSTAT_UNSENT);
	bit = (uint64_t)1 << (seq % 64);
	if (u->seen[seq / 64] & bit) {
		u->duplicated++;
		return (UDPSTAT_DUP);
	}
	u->seen[seq / 64] |= bit;
	u->received++;
	u->recv[udpstat_second_of(u, seq)]++;

	/* RFC 4737 section 3: below NextExp is reordered. */
	if (seq >= u->next_exp)
		u->next_exp = seq + 1;
	else
		u->reordered++;

	rtt = t_recv > t_sent ? t_recv - t_sent : 0;
	hist_record(u->rtt, rtt);

	/* RFC 3550 section 6.4.1: J += (|D(i-1,i)| - J) / 16. */
	if (u->have_prev) {
		d = fabs((double)rtt - (double)u->prev_rtt);
		u->jitter += (d - u->jitter) / 16.0;
	}
	u->prev_rtt = rtt;
	u->have_prev = 1;

	/* IPDV: each pair counts once, when its second reply comes. */
	if (seq > 0) {
		s = &u->ring[(seq - 1) % UDPSTAT_RING];
		if (s->seq1 == seq)
			udpstat_pair(u, s->rtt, rtt);
	}
	s = &u->ring[(seq + 1) % UDPSTAT_RING];
	if (s->seq1 == seq + 2)
		udpstat_pair(u, rtt, s->rtt);
	s = &u->ring[seq % UDPSTAT_RING];
	s->seq1 = seq + 1;
	s->rtt = rtt;
	return (UDPSTAT_NEW);
}

/* The figures so far. */
void
udpstat_sum(const struct udpstat *u, struct udpstat_sum *sum)
{
	uint64_t	lost;
	size_t		k;

	memset(sum, 0, sizeof(*sum));
	sum->sent = u->sent;
	sum->received = u->received;
	sum->lost = u->sent - u->received;
	sum->duplicated = u->duplicated;
	sum->reordered = u->reordered;
	sum->jitter_ns = u->jitter;
	sum->ipdv_pairs = u->ipdv_pairs;
	sum->ipdv_min_ns = u->ipdv_min;
	sum->ipdv_max_ns = u->ipdv_max;
	sum->seconds = u->nsec;
	/* The earliest of the seconds that lost most. */
	for (k = 0; k < u->nsec; k++) {
		lost = udpstat_second_lost(u, k);
		if (k == 0 || lost > sum->worst_lost) {
			sum->worst = k;
			sum->worst_lost = lost;
			sum->worst_sent = udpstat_second_sent(u, k);
		}
	}
}

/* Datagrams sent in second k. */
uint64_t
udpstat_second_sent(const struct udpstat *u, size_t k)
{
	if (k >= u->nsec)
		return (0);
	return ((k + 1 < u->nsec ? u->first[k + 1] : u->sent) - u->first[k]);
}

/* Datagrams sent in second k that no reply answered. */
uint64_t
udpstat_second_lost(const struct udpstat *u, size_t k)
{
	if (k >= u->nsec)
		return (0);
	return (udpstat_second_sent(u, k) - u->recv[k]);
}

/* Round-trip times of the first copies. */
const struct hist *
udpstat_rtt(const struct udpstat *u)
{
	return (u->rtt);
}

/* |IPDV| of the pairs. */
const struct hist *
udpstat_ipdv(const struct udpstat *u)
{
	return (u->ipdv);
}
