/*
 * udpstat.h: the statistics of "echocli bench -u" (udpstat.c), pure:
 * fed the sequence numbers and times of the datagrams sent and of the
 * replies received, it counts loss, duplicates and reordering and keeps
 * round-trip times, jitter and IPDV.  Every definition is echocli(1)'s,
 * after RFC 3550, RFC 3393, RFC 4737 and RFC 5481.
 *
 * Times are nanoseconds since the start of the run.  Sequence numbers
 * count the datagrams sent from 0, in the order udpstat_sent() is told
 * of them.
 */
#ifndef ECHOCLI_UDPSTAT_H
#define ECHOCLI_UDPSTAT_H

#include <stddef.h>
#include <stdint.h>

struct hist;
struct udpstat;

/* What udpstat_received() made of a reply. */
enum udpstat_reply {
	UDPSTAT_NEW,		/* the first copy of a datagram sent */
	UDPSTAT_DUP,		/* a copy of one already received */
	UDPSTAT_UNSENT		/* a sequence number never sent */
};

/* The figures of a run so far. */
struct udpstat_sum {
	uint64_t	sent;
	uint64_t	received;	/* first copies */
	uint64_t	lost;		/* sent - received */
	uint64_t	duplicated;	/* copies after the first */
	uint64_t	reordered;	/* RFC 4737 Type-P-Reordered */
	double		jitter_ns;	/* RFC 3550 interarrival jitter */
	uint64_t	ipdv_pairs;	/* consecutive pairs both received */
	int64_t		ipdv_min_ns;	/* signed, over the pairs */
	int64_t		ipdv_max_ns;
	size_t		seconds;	/* of the per-second series */
	size_t		worst;		/* the second that lost most */
	uint64_t	worst_lost;
	uint64_t	worst_sent;
};

/* A new run's statistics, or NULL when out of memory. */
struct udpstat	*udpstat_new(void);
/* Free them; NULL is fine. */
void		 udpstat_free(struct udpstat *);
/*
 * The next datagram was sent at t: its sequence number is the count of
 * those sent before it.  -1 when out of memory (nothing is counted then).
 */
int		 udpstat_sent(struct udpstat *, uint64_t t);
/* The reply to datagram seq, sent at t_sent, arrived at t_recv. */
enum udpstat_reply udpstat_received(struct udpstat *, uint64_t seq,
		    uint64_t t_sent, uint64_t t_recv);
/* The figures so far. */
void		 udpstat_sum(const struct udpstat *, struct udpstat_sum *);
/* Of second k of the run (by send time): datagrams sent and lost. */
uint64_t	 udpstat_second_sent(const struct udpstat *, size_t k);
uint64_t	 udpstat_second_lost(const struct udpstat *, size_t k);
/* Round-trip times of the first copies, ns. */
const struct hist *udpstat_rtt(const struct udpstat *);
/* |IPDV| of the pairs, ns. */
const struct hist *udpstat_ipdv(const struct udpstat *);

#endif
