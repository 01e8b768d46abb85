/*
 * session_int.h: what the session rooms share, and nothing else includes:
 * a session (struct session), the sessions of a loop (struct sessions),
 * its states, and the functions of one room that another calls.  The
 * rest of echod knows sessions from session.h alone, which sessions.c
 * implements; this header does not include it.
 *
 * The rooms, each calling only those below it:
 *
 *	sessions.c	the set of a loop's sessions: serving an accepted
 *			socket, each session's timer, the wake-up when
 *			memory drained, the close of them all, counters
 *	session_read.c	the read event and the read paths
 *	session_open.c	the PROXY header's arrival, and admission
 *	session_tls.c	the TLS path, from the handshake on
 *	session_script.c what a test instrument's keys make it do
 *	session.c	states, buffers, writing, framing, the end
 *	session_rate.c	its rate limits: libevent's buckets and groups
 *	session_log.c	what the entries and warnings say of a session
 *
 * sessions.c calls the other seven; session_read.c calls session_open.c,
 * session_open.c session_tls.c; sessions.c, session_open.c and
 * session_tls.c call session_script.c; every room above it calls
 * session.c; session_tls.c and session.c call session_rate.c;
 * sessions.c, session_open.c, session_tls.c and session.c call
 * session_log.c; session_rate.c and session_log.c call none.  No
 * callback calls up either: each room registers its own functions or a
 * lower room's.
 */
#ifndef ECHOD_SESSION_INT_H
#define ECHOD_SESSION_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conf.h"
#include "framing.h"
#include "log.h"
#include "sessions_stats.h"
#include "slot.h"
#include "source.h"
#include "timer.h"

struct budget_share;
struct bufferevent;
struct ev_token_bucket_cfg;
struct session_rate_group;
struct evbuffer;
struct evbuffer_cb_info;
struct pool;
struct slots;

/*
 * Bytes a loop's sessions read into; nothing stays there past a read,
 * and the direct path's replies to one read are at most this many.
 * Kept well under one TCP segment of loopback's 64 KiB MTU (an MSS of
 * 65483): a 64 KiB send is a full segment and a runt, which halved one
 * connection's throughput with megabytes in flight, while every size
 * from 16 to 56 KiB measured the same across bench/matrix's rows
 * (bench/readsize, bench/README.md).  Of those, the smallest that costs
 * nothing: what a client that never reads can hold is one read's replies.
 * A -D overrides it so that bench/readsize can build other sizes.
 */
#ifndef SESSIONS_BUFFER
#define SESSIONS_BUFFER	(32 * 1024)
#endif

/*
 * The framed path reads into the bufferevent's input, one read per
 * wakeup of an adaptive size: it doubles while reads fill it and halves
 * after SESSION_READ_SMALL reads in a row that used less than a quarter,
 * so a session that holds a long partial line between short reads keeps
 * a small chain, not 64 KiB.  Sizes are a little under powers of two so
 * that with evbuffer's chain header a chain is exactly 4 or 64 KiB, below
 * malloc's mmap threshold.  (The direct path reads into the loop's
 * buffer, SESSIONS_BUFFER bytes.)
 */
#define SESSION_READ_MIN	(4 * 1024 - 128)
#define SESSION_READ_MAX	(64 * 1024 - 128)
#define SESSION_READ_SMALL	8

/* Quiet this long, a session gives its buffers back. */
#define SESSION_RELEASE_USEC	(2 * 1000000)

/*
 * What a session is doing; session_enter() makes every change, and
 * session_moves[] says which are allowed.  Reading is the steady state;
 * the others say why not: a reply waits for the socket, the memory
 * budget is spent, the session is ending (with a reason) and sends what
 * it owes, or it has sent its FIN and reads only to throw away.
 */
enum session_state {
	SESSION_READING,	/* the read event is armed: the steady state */
	SESSION_OWING,		/* a reply waits: the write event, not the read */
	SESSION_WAITING,	/* past max_memory: the read event sees only EOF */
	SESSION_FLUSHING,	/* ending: what is owed goes out, then the end */
	SESSION_LINGERING,	/* FIN sent: reads to discard, until the end */
	SESSION_PROXY,		/* the PROXY header first: nothing is echoed */
	SESSION_HANDSHAKE	/* TLS: the bufferevent's handshake first */
};

/*
 * The sessions of one loop, and what they share: the loop and its
 * timers, the read buffer and scratch evbuffer (empty between two
 * callbacks), the counters the main loop sums, the loop's share of the
 * memory budget, and the pool the sessions come from, each with its read
 * event in the same object (pool.h: so that their pages go back to the
 * system when they close).
 */
struct sessions {
	struct event_base	*base;
	struct timers		*timers;
	struct budget_share	*share;
	struct pool		*pool;
	TAILQ_HEAD(, session)	 list;
	TAILQ_HEAD(, session)	 waiting;	/* for memory, oldest first */
	struct evbuffer		*scratch;
	char			*buf;		/* SESSIONS_BUFFER bytes */
	struct sessions_stats	 stats;
	unsigned int		 cell;		/* its listeners' counters */
};

struct session {
	TAILQ_ENTRY(session)	 entry;
	TAILQ_ENTRY(session)	 wentry;	/* waiting for memory */
	uint64_t		 id;
	struct bufferevent	*bev;		/* NULL until bytes are kept */
	struct event		*rd;		/* reading; after the session */
	struct timer		 timer;		/* idle timeout, release */
	struct timer		 stimer;	/* session_script.c's: delay,
						   close_after; a RST's wait */
	struct evbuffer		*delayed;	/* delay: replies not yet due */
	struct session_due	*dues;		/* their due times, a ring */
	unsigned int		 dhead;		/* the ring's first */
	unsigned int		 dn;		/* and how many */
	uint64_t		 close_at;	/* close_after's seconds */
	struct ev_token_bucket_cfg *rcfg;	/* rate: its buckets */
	struct session_rate_group *rgroup;	/* listener_rate: its group */
	uint64_t		 jitter;	/* the draws' state */
	evutil_socket_t		 fd;		/* bufferevent_getfd() is slow */
	struct conf		*conf;		/* as accepted; reloads keep it */
	const struct listener_conf *lc;		/* inside conf */
	struct slots		*slots;		/* the slot it holds */
	struct slot_cell	*cell;		/* its loop's counters of it */
	struct sessions		*set;		/* its loop's sessions */
	struct framing		 framing;
	enum session_state	 state;		/* see session_enter() */
	const char		*reason;	/* why, once ending */
	bool			 rdhup;		/* the client half-closed */
	bool			 proxied;	/* peer came in a PROXY header */
	bool			 admitted;	/* hold counts it (source.h) */
	bool			 silent;	/* refused: no close entry */
	bool			 again;		/* PROXY: the timer looks again */
	bool			 ended;		/* a read found the end of input */
	bool			 tls;		/* bev is TLS */
	bool			 bevio;		/* bev does the I/O: TLS, or
						   session_script_bev() */
	bool			 reset;		/* ends with a RST (scripted) */
	bool			 tls_failed;	/* no close_notify may follow */
	size_t			 tls_kept;	/* input framed before */
	size_t			 linger_left;	/* bytes it may still discard */
	size_t			 held;		/* bytes in the bufferevent */
	size_t			 rdsize;	/* bytes to read next time */
	unsigned int		 small;		/* reads in a row under 1/4 */
	uint64_t		 bytes_in;
	uint64_t		 lines;		/* close_after: lines counted */
	uint64_t		 reset_by;	/* a RST's wait ends then */
	uint64_t		 queued;	/* bytes ever put in the output */
	uint64_t		 start;		/* timer_now() at accept */
	uint64_t		 quiet;		/* timer_coarse() at the last read */
	union session_addr {			/* the client; formatted */
		struct sockaddr		 sa;	/* only for an entry */
		struct sockaddr_in	 sin;
		struct sockaddr_in6	 sin6;
	}			 peer;
	union session_addr	 proxy;		/* proxied: the balancer */
	struct source_hold	 hold;		/* admitted: its counts */
};

/*
 * delay: the replies of one read, the last len bytes of s->delayed not
 * in an earlier record, are sent at due (timer_now()'s clock).
 */
struct session_due {
	uint64_t	 due;
	size_t		 len;
};

/*
 * What the entries about a session say of it, formatted only when one is
 * written: inet_ntop() at every accept was a third of the user-space
 * cost of a connection that is not logged.
 */
struct session_names {
	char	id[24];
	char	addr[INET6_ADDRSTRLEN];
	char	port[8];
	char	remote[INET6_ADDRSTRLEN + 8];	/* "a:p" or "[a]:p" */
	char	paddr[INET6_ADDRSTRLEN];	/* the balancer's */
	char	pport[8];
	char	via[INET6_ADDRSTRLEN + 16];	/* " via a:p", or "" */
};

/* What the entries say of a session's TLS (session_fields_tls()). */
struct session_tls_names {
	char	client[LOG_PAYLOAD_MAX * 4 + 1];	/* escaped subject */
	char	text[LOG_PAYLOAD_MAX * 4 + 64];		/* for the message */
};

/* The warnings of sessions_tick(): what each counts (session_tally()). */
enum session_tally_kind {
	SESSION_TALLY_REFUSED,		/* over a per-source limit */
	SESSION_TALLY_PROXY,		/* closed for the PROXY header */
	SESSION_TALLY_TLS,		/* closed for the TLS */
	SESSION_TALLIES
};

/*
 * len bytes of replies went out or wait in the output: what the close
 * entry reports as sent (less what still waits then) and STATUS= as
 * echoed.
 */
static inline void
session_count(struct session *s, size_t len)
{
	s->queued += len;
	atomic_fetch_add_explicit(&s->set->stats.bytes, len,
	    memory_order_relaxed);
	slot_count(s->cell, SC_SENT, len);
}

/* The idle timeout in microseconds; 0: never. */
static inline uint64_t
session_usec(const struct timeval *tv)
{
	return ((uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec);
}

static inline uint64_t
session_idle_usec(const struct session *s)
{
	return (session_usec(&s->lc->idle));
}

/*
 * The read event: edge-triggered where the backend can be (epoll), with
 * EV_CLOSED to learn of a half-close that came with the last data.
 */
static inline short
session_read_flags(struct event_base *base)
{
	int	 need = EV_FEATURE_ET | EV_FEATURE_EARLY_CLOSE;

	if ((event_base_get_features(base) & need) == need)
		return (EV_READ | EV_PERSIST | EV_ET | EV_CLOSED);
	return (EV_READ | EV_PERSIST);
}

/*
 * Whether the sessions of lc take the bufferevent path from their start,
 * as TLS sessions do (session_tls_plain()): a delay queues every reply,
 * close_after counting bytes or lines cuts the input where the count is
 * reached, and libevent's rate limits meter only a bufferevent's own
 * reads and writes, none of which the direct path does.
 */
static inline bool
session_script_bev(const struct listener_conf *lc)
{
	return (lc->delay_usec != 0 || lc->jitter_usec != 0 ||
	    lc->rate.read != 0 || lc->rate.write != 0 ||
	    lc->listener_rate.read != 0 || lc->listener_rate.write != 0 ||
	    lc->close_after.kind == CONF_CLOSE_BYTES ||
	    lc->close_after.kind == CONF_CLOSE_MESSAGES);
}

/*
 * The options of a session's bufferevent: a listener_rate group's members
 * are suspended and resumed from the loop the group is on.
 */
static inline int
session_bev_options(const struct listener_conf *lc)
{
	return (lc->listener_rate.read != 0 || lc->listener_rate.write != 0 ?
	    BEV_OPT_THREADSAFE : 0);
}

/* session_read.c: the read event's callback (sessions.c sets it). */
void		 session_read(evutil_socket_t, short, void *);

/* session_open.c */
size_t		 session_proxy(struct session *, size_t *len);
bool		 session_admit(struct session *);
void		 session_proxy_error(struct session *, const char *);

/* session_tls.c */
void		 session_tls_start(struct session *);
void		 session_tls_error(struct session *, const char *why,
		    const char *reason);
void		 session_tls_plain(struct session *);

/* session_script.c */
int		 session_script_begin(struct session *);
int		 session_script_frame(struct session *, bool eof);

/* session.c: states and the end */
int		 session_enter(struct session *, enum session_state);
void		 session_wait(struct session *);
void		 session_finish(struct session *, const char *reason);
void		 session_end(struct session *);
void		 session_close(struct session *, const char *reason);
void		 session_tally_close(struct session *, enum session_tally_kind,
		    const char *why, const char *reason);
void		 session_oom(struct session *);
void		 session_fail(struct session *, const char *call);
/* session.c: buffers, writing, framing, the timer */
int		 session_buffers(struct session *);
void		 session_free_buffers(struct session *);
void		 session_held(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
void		 session_backlog(struct session *);
int		 session_write_out(struct session *);
int		 session_flush(struct session *);
int		 session_frame(struct session *, bool eof);
void		 session_arm(struct session *);
/* session.c: what is counted */
void		 session_received(struct session *, const void *,
		    size_t avail, size_t len);

/* session_rate.c */
int		 session_rate_start(struct session *);
void		 session_rate_stop(struct session *);
/* The loop of listener_rate's groups; free those left (sessions.c's). */
void		 session_rate_base(struct event_base *);
void		 session_rate_free_all(void);

/* session_log.c */
size_t		 session_fields(const struct session *, struct log_field *,
		    struct session_names *);
size_t		 session_fields_tls(struct session *, struct log_field *,
		    struct session_tls_names *);
void		 session_opened(struct session *);
void		 session_tally_from(const struct session *,
		    enum session_tally_kind, const char *why);
void		 session_tally(enum session_tally_kind, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
unsigned int	 session_tally_take(enum session_tally_kind, char *last,
		    size_t len);

#endif
