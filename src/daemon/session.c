/*
 * session.c: TCP echo sessions, and the sessions of one event loop.
 *
 * One job, one file of about 1300 lines: a session's read paths, its
 * writes and its state change one another at every step (a partial write
 * stops reading, a long line ends the session, the memory budget stops
 * it), and split over two files each would call the other.  The parts, in
 * the order of the file: the end and the changes of state
 * (session_close(), session_enter()), writing, the timers, the read
 * paths, the callbacks, creation, and the set of a loop's sessions.
 *
 * The bufferevent owns what a session has to keep: the input a framing
 * waits on, and the output the client has not taken, with the write event
 * and the write timeout.  Reading is the session's own: one read per
 * wakeup, where libevent 2.1 would add an ioctl(FIONREAD) and stop at
 * 4 KiB, and the reply is written in the same callback: in the steady
 * state only the read event is armed, so an echo costs one read, one write
 * and no epoll registration.  The read event is edge-triggered, as in the
 * hand-written epoll servers (bench/ref-echo.c): the kernel need not poll
 * the socket again on every epoll_wait() only to find it drained, and a
 * read that fills the buffer, which may have left bytes behind, makes the
 * event active again at once.
 *
 * A partial write stops reading (SESSION_OWING): the rest waits in the
 * output, the bufferevent's write event (with the write timeout) takes
 * over, and reading resumes once the client has taken all of it, as
 * bench/ref-echo.c does.  So a client that never reads holds at most one
 * read's replies and is closed by the write timeout; and the read event is
 * never armed while the write event is (libevent cannot mix edge- and
 * level-triggered events on one descriptor).
 *
 * Four read paths.  A session that holds no more than a short partial
 * line (line framing, or raw once its strip rules are decided) reads into
 * its loop's buffer and answers from there: framing_direct() finds the
 * lines in place and the replies go out as iovecs into that buffer, with
 * no allocation, no copy, no evbuffer; only what the socket does not
 * take, and a partial line, is copied to wait.  A session holding a long
 * partial line reads into the bufferevent's input and frames from it with
 * evbuffer searches (framing.c).  Past the memory budget (max_memory,
 * budget.c), a session that holds nothing peeks and takes only what it
 * can answer at once, and one that holds bytes waits (SESSION_WAITING).
 * A session that echod ends while the client may still send (a line too
 * long) lingers: FIN after its replies, then it reads only to discard,
 * until the client closes or a bound is reached (SESSION_LINGER_USEC).
 *
 * The bufferevent is created when a session first has to keep bytes, and
 * given back after SESSION_RELEASE_USEC without a read (if nothing is
 * buffered), as memcached shrinks the buffers of quiet connections: a
 * connection that only waits holds the session and its read event, from
 * its loop's pool (pool.c), which matters at 100 000 idle connections.
 *
 * Timeouts are lazy: a read only notes the time.  The session's timer is
 * set for the earliest moment it could be idle (or could give its buffers
 * back), and when it fires it looks at the time of the last read and sets
 * itself again; a busy session costs no timer work per message, where a
 * read event with a timeout is re-added to libevent's heap on every read.
 * The timers are the loop's (timer.c), on a timerfd, so that its loop
 * waits in epoll_wait() without a timeout. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <linux/sock_diag.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "addr.h"
#include "budget.h"
#include "compat.h"
#include "config.h"
#include "framing.h"
#include "log.h"
#include "pool.h"
#include "proxy.h"
#include "session.h"
#include "slot.h"
#include "source.h"
#include "timer.h"
#include "tls.h"

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
/* Replies one writev() of the direct path sends at most: stripped lines. */
#define SESSION_IOV		64
/*
 * A partial line up to this long is copied in front of the next read so
 * that the direct path frames it; a longer one stays in the input, where
 * framing.c searches each byte of it for the LF once.
 */
#define SESSION_CARRY_MAX	(4 * 1024)
/* Quiet this long, a session gives its buffers back. */
#define SESSION_RELEASE_USEC	(2 * 1000000)
/*
 * A session that echod ends while the client may still be sending
 * (line-too-long) lingers, as httpd and nginx do: its replies are sent
 * and a FIN after them, and what still comes in is read and thrown away,
 * for this long or this many bytes at most.  A close() with unread input
 * would make the kernel answer with a reset and drop the replies it has
 * not yet delivered.
 */
#define SESSION_LINGER_USEC	(2 * 1000000)
#define SESSION_LINGER_BYTES	(4 * 1024 * 1024)
/*
 * Back under the memory budget, a loop lets this many waiting sessions
 * read, then looks again after their reads: not every session at once on
 * every byte freed (see session_wake()).
 */
#define SESSION_WAKE_BATCH	16
/*
 * A level-triggered read event (poll, select) stays ready while a part
 * of a PROXY header waits unread: look again this much later, not in a
 * loop, until the header is whole or proxy_timeout has passed.
 */
#define SESSION_PROXY_AGAIN_USEC	(20 * 1000)
/*
 * A TLS session stops reading while more than this waits in its output
 * (SESSION_OWING), and reads again once all of it is written: as a plain
 * session owes one read's replies at most.
 */
#define SESSION_TLS_HIGH	(64 * 1024)

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

#define SESSION_TO(st)	(1u << (st))
static const unsigned int session_moves[] = {
	[SESSION_READING] = SESSION_TO(SESSION_OWING) |
	    SESSION_TO(SESSION_WAITING) | SESSION_TO(SESSION_FLUSHING),
	[SESSION_OWING] = SESSION_TO(SESSION_READING) |
	    SESSION_TO(SESSION_FLUSHING),
	[SESSION_WAITING] = SESSION_TO(SESSION_READING) |
	    SESSION_TO(SESSION_FLUSHING),
	[SESSION_FLUSHING] = SESSION_TO(SESSION_LINGERING),
	[SESSION_LINGERING] = 0,
	[SESSION_PROXY] = SESSION_TO(SESSION_READING) |
	    SESSION_TO(SESSION_HANDSHAKE),
	[SESSION_HANDSHAKE] = SESSION_TO(SESSION_READING)
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
	bool			 tls;		/* bev is TLS, does the I/O */
	bool			 tls_failed;	/* no close_notify may follow */
	size_t			 tls_kept;	/* input framed before */
	size_t			 linger_left;	/* bytes it may still discard */
	size_t			 held;		/* bytes in the bufferevent */
	size_t			 rdsize;	/* bytes to read next time */
	unsigned int		 small;		/* reads in a row under 1/4 */
	uint64_t		 bytes_in;
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
 * What the sessions of every loop refused over a per-source limit, or
 * closed for their PROXY header or their TLS, since the last
 * sessions_tick(): each kind makes one warning a second at most, naming
 * the last one.  Only these rare paths take the lock.
 */
enum session_tally_kind {
	SESSION_TALLY_REFUSED,
	SESSION_TALLY_PROXY,
	SESSION_TALLY_TLS,
	SESSION_TALLIES
};
struct session_tally {
	pthread_mutex_t	 lock;
	unsigned int	 n;
	char		 last[256];
};
static struct session_tally session_tallies[SESSION_TALLIES] = {
	[SESSION_TALLY_REFUSED] = { .lock = PTHREAD_MUTEX_INITIALIZER },
	[SESSION_TALLY_PROXY] = { .lock = PTHREAD_MUTEX_INITIALIZER },
	[SESSION_TALLY_TLS] = { .lock = PTHREAD_MUTEX_INITIALIZER }
};

/* ECHOD_SESSION: unique across workers. */
static atomic_uint_fast64_t session_next_id = 1;

struct session_tls_names;

static void	session_read(evutil_socket_t, short, void *);
static void	session_proxy_error(struct session *, const char *);
static void	session_tick(void *);
static void	session_arm(struct session *);
static void	session_write(struct bufferevent *, void *);
static void	session_event(struct bufferevent *, short, void *);
static void	session_read_framed(struct session *, size_t);
static short	session_read_flags(struct event_base *);
static void	session_held(struct evbuffer *, const struct evbuffer_cb_info *,
		    void *);
static void	session_tls_start(struct session *);
static void	session_tls_error(struct session *, const char *,
		    const char *);
static int	session_enter_tls(struct session *, enum session_state,
		    enum session_state);
static void	session_free_tls(struct session *);
static size_t	session_fields_tls(struct session *, struct log_field *,
		    struct session_tls_names *);

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

/* "a:p" or "[a]:p" of sa into buf, and its address and port apart. */
static void
session_endpoint(const struct sockaddr *sa, char *addr, size_t addrlen,
    char *port, size_t portlen, char *buf, size_t len)
{
	uint16_t	 p;

	addr_format(sa, addr, addrlen, &p);
	snprintf(port, portlen, "%u", p);
	snprintf(buf, len, strchr(addr, ':') != NULL ? "[%s]:%u" : "%s:%u",
	    addr, p);
}

/*
 * The fields every entry about a session carries (echod(8)): the client,
 * and when a PROXY header named it, the balancer that connected.
 */
static size_t
session_fields(const struct session *s, struct log_field *f,
    struct session_names *nm)
{
	char	 balancer[INET6_ADDRSTRLEN + 8];

	session_endpoint(&s->peer.sa, nm->addr, sizeof(nm->addr), nm->port,
	    sizeof(nm->port), nm->remote, sizeof(nm->remote));
	snprintf(nm->id, sizeof(nm->id), "%" PRIu64, s->id);
	f[0] = (struct log_field){ "ECHOD_SESSION", nm->id };
	f[1] = (struct log_field){ "ECHOD_LISTENER", s->lc->name };
	f[2] = (struct log_field){ "ECHOD_REMOTE_ADDR", nm->addr };
	f[3] = (struct log_field){ "ECHOD_REMOTE_PORT", nm->port };
	nm->via[0] = '\0';
	if (!s->proxied)
		return (4);
	session_endpoint(&s->proxy.sa, nm->paddr, sizeof(nm->paddr),
	    nm->pport, sizeof(nm->pport), balancer, sizeof(balancer));
	snprintf(nm->via, sizeof(nm->via), " via %s", balancer);
	f[4] = (struct log_field){ "ECHOD_PROXY_ADDR", nm->paddr };
	f[5] = (struct log_field){ "ECHOD_PROXY_PORT", nm->pport };
	return (6);
}

/* Count one of kind, with what the warning says of the last one. */
static void
session_tally(enum session_tally_kind, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
session_tally(enum session_tally_kind kind, const char *fmt, ...)
{
	struct session_tally	*t = &session_tallies[kind];
	va_list			 ap;

	pthread_mutex_lock(&t->lock);
	t->n++;
	va_start(ap, fmt);
	vsnprintf(t->last, sizeof(t->last), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t->lock);
}

/* What kind counted since the last call, and its last words into last. */
static unsigned int
session_tally_take(enum session_tally_kind kind, char *last, size_t len)
{
	struct session_tally	*t = &session_tallies[kind];
	unsigned int		 n;

	pthread_mutex_lock(&t->lock);
	n = t->n;
	t->n = 0;
	snprintf(last, len, "%s", t->last);
	pthread_mutex_unlock(&t->lock);
	return (n);
}

/* See session.h. */
void
sessions_tick(void)
{
	char	 last[256];
	unsigned int	 n;

	if ((n = session_tally_take(SESSION_TALLY_REFUSED, last,
	    sizeof(last))) > 0)
		log_entry(LOG_WARNING, LOG_MSGID_LIMIT, NULL, 0, "refused %u "
		    "connection%s over a per-source limit; the last: %s", n,
		    n == 1 ? "" : "s", last);
	if ((n = session_tally_take(SESSION_TALLY_PROXY, last,
	    sizeof(last))) > 0)
		log_entry(LOG_WARNING, LOG_MSGID_PROXY, NULL, 0, "closed %u "
		    "connection%s for their PROXY header; the last: %s", n,
		    n == 1 ? "" : "s", last);
	if ((n = session_tally_take(SESSION_TALLY_TLS, last,
	    sizeof(last))) > 0)
		log_entry(LOG_WARNING, LOG_MSGID_TLS, NULL, 0, "closed %u "
		    "connection%s for their TLS; the last: %s", n,
		    n == 1 ? "" : "s", last);
}

/*
 * Free the bufferevent, and no longer count what it held: freeing it
 * runs no evbuffer callback.
 */
static void
session_free_buffers(struct session *s)
{
	evbuffer_remove_cb(bufferevent_get_input(s->bev), session_held, s);
	evbuffer_remove_cb(bufferevent_get_output(s->bev), session_held, s);
	if (s->held > 0)
		budget_hold(s->set->share, -(int64_t)s->held);
	s->held = 0;
	bufferevent_free(s->bev);
	s->bev = NULL;
}

/*
 * The one way a session ends: the close entry, the counters, the slot on
 * its listener, the configuration it held.  s is gone afterwards.
 */
static void
session_close(struct session *s, const char *reason)
{
	struct sessions_stats	*stats;
	struct log_field	 f[13], tf[3];
	struct session_names	 nm;
	struct session_tls_names tn;
	char			 in[24], out[24], usec[24];
	uint64_t		 sent, dur;
	size_t			 n, ntls = 0;

	/* What the TLS was, while it is there to ask. */
	if (s->tls && s->conf->log_connections && !s->silent)
		ntls = session_fields_tls(s, tf, &tn);
	sent = s->queued - (s->bev == NULL ? 0 :
	    evbuffer_get_length(bufferevent_get_output(s->bev)));
	dur = timer_now() - s->start;
	/*
	 * Give the slot back and close the socket before the entry is
	 * written: whoever reads "closed" may count on both.
	 */
	TAILQ_REMOVE(&s->set->list, s, entry);
	if (s->state == SESSION_WAITING)
		TAILQ_REMOVE(&s->set->waiting, s, wentry);
	/* Before the slot: its counters may go with it. */
	if (slot_reason(reason) != SC_COUNT)
		slot_count(s->cell, slot_reason(reason), 1);
	slot_release(s->slots);
	if (s->admitted)
		source_leave(&s->hold);
	event_del(s->rd);
	timer_del(s->set->timers, &s->timer);
	if (s->tls)
		session_free_tls(s);	/* and the socket with it */
	else {
		if (s->bev != NULL)
			session_free_buffers(s);
		close(s->fd);
	}
	if (s->conf->log_connections && !s->silent && log_conn_permit(false)) {
		n = session_fields(s, f, &nm);
		memcpy(f + n, tf, ntls * sizeof(*f));
		n += ntls;
		snprintf(in, sizeof(in), "%" PRIu64, s->bytes_in);
		snprintf(out, sizeof(out), "%" PRIu64, sent);
		snprintf(usec, sizeof(usec), "%" PRIu64, dur);
		f[n++] = (struct log_field){ "ECHOD_CLOSE_REASON", reason };
		f[n++] = (struct log_field){ "ECHOD_BYTES_IN", in };
		f[n++] = (struct log_field){ "ECHOD_BYTES_OUT", out };
		f[n++] = (struct log_field){ "ECHOD_DURATION_USEC", usec };
		log_entry(LOG_INFO, LOG_MSGID_CLOSE, f, n,
		    "connection from %s%s on %s closed (%s): %" PRIu64
		    " bytes in, %" PRIu64 " out, %.2f s%s",
		    nm.remote, nm.via, s->lc->name, reason, s->bytes_in, sent,
		    (double)dur / 1e6, ntls > 0 ? tn.text : "");
	}
	stats = &s->set->stats;
	config_unref(s->conf);
	pool_put(s->set->pool, s);
	/* Counted once freed: the main loop then gives the pages back. */
	atomic_fetch_add_explicit(&stats->closed, 1, memory_order_relaxed);
}

/*
 * Close s with reason, nothing echoed, and count it as kind for the
 * warning of sessions_tick(), which names the client and why.
 */
static void
session_tally_close(struct session *s, enum session_tally_kind kind,
    const char *why, const char *reason)
{
	char	 addr[INET6_ADDRSTRLEN], port[8], from[INET6_ADDRSTRLEN + 8];

	session_endpoint(&s->peer.sa, addr, sizeof(addr), port, sizeof(port),
	    from, sizeof(from));
	session_tally(kind, "from %s on %s: %s", from, s->lc->name, why);
	session_close(s, reason);
}

/*
 * Every change of state, with what it changes in the events: the read
 * event armed only when reading (or lingering, or watching for the end
 * of input while waiting for memory), the session on its loop's waiting
 * list only while waiting, the idle timer off while replies wait (the
 * write timeout rules then) and once ending.  Returns -1 when the read
 * event could not be armed.
 */
static int
session_enter(struct session *s, enum session_state to)
{
	struct event_base	*base = s->set->base;
	enum session_state	 from = s->state;
	int			 r = 0;

	assert(session_moves[from] & SESSION_TO(to));
	s->state = to;
	if (s->tls || to == SESSION_HANDSHAKE)
		return (session_enter_tls(s, from, to));
	if (from == SESSION_WAITING) {
		TAILQ_REMOVE(&s->set->waiting, s, wentry);
		event_del(s->rd);
		/* The read event keeps its callback; what it waits for changes. */
		event_assign(s->rd, base, s->fd, session_read_flags(base),
		    event_get_callback(s->rd), s);
	}
	switch (to) {
	case SESSION_READING:
		r = event_add(s->rd, NULL);
		if (from == SESSION_OWING || from == SESSION_PROXY) {
			/* Time waiting for the client to read is not idle. */
			s->quiet = timer_coarse();
			session_arm(s);
		}
		break;
	case SESSION_OWING:
	case SESSION_FLUSHING:
		event_del(s->rd);
		timer_del(s->set->timers, &s->timer);
		break;
	case SESSION_WAITING:
		/*
		 * The read event only watches for the end of the client's
		 * input (EV_CLOSED, where the backend can): a session whose
		 * client is done is read at once, as what it holds is then on
		 * its way out.  The idle timeout goes on: a session that
		 * waits that long is closed as idle.
		 */
		event_del(s->rd);
		TAILQ_INSERT_TAIL(&s->set->waiting, s, wentry);
		if (event_base_get_features(base) & EV_FEATURE_EARLY_CLOSE) {
			event_assign(s->rd, base, s->fd, EV_CLOSED |
			    EV_PERSIST | (session_read_flags(base) & EV_ET),
			    event_get_callback(s->rd), s);
			r = event_add(s->rd, NULL);
		}
		break;
	case SESSION_LINGERING:
	case SESSION_PROXY:
		r = event_add(s->rd, NULL);
		break;
	case SESSION_HANDSHAKE:
		break;
	}
	return (r);
}

/* Out of memory for a session's buffers: it cannot go on. */
static void
session_oom(struct session *s)
{
	log_warnx("session %" PRIu64 ": out of memory", s->id);
	session_close(s, "error");
}

/* A system call failed on the socket: nothing more can be done. */
static void
session_fail(struct session *s, const char *call)
{
	log_debug("session %" PRIu64 ": %s: %s", s->id, call, strerror(errno));
	session_close(s, "error");
}

/*
 * len bytes of replies went out or wait in the output: what the close
 * entry reports as sent (less what still waits then) and STATUS= as
 * echoed.
 */
static void
session_count(struct session *s, size_t len)
{
	s->queued += len;
	atomic_fetch_add_explicit(&s->set->stats.bytes, len,
	    memory_order_relaxed);
	slot_count(s->cell, SC_SENT, len);
}

/*
 * Replies wait in the output: stop reading, and have the bufferevent
 * write them when the socket takes more.
 */
static void
session_backlog(struct session *s)
{
	/* Ending, it flushes anyway; owing, it already waits. */
	if (s->state == SESSION_READING)
		session_enter(s, SESSION_OWING);
	bufferevent_enable(s->bev, EV_WRITE);
}

/*
 * Write what waits in the bufferevent's output now, as much as the socket
 * takes: the one place that writes the output outside the bufferevent.
 * A socket bufferevent keeps its output front-frozen, so it is thawed
 * for the write, as bufferevent_writecb() does around its own.  Returns
 * evbuffer_write()'s result.
 */
static int
session_write_out(struct session *s)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	int		 n;

	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, s->fd);
	evbuffer_freeze(out, 1);
	return (n);
}

/*
 * Send what is queued now, if the socket takes it; otherwise let the
 * bufferevent write it when the socket is writable.  Returns -1 when the
 * session had to be closed.
 */
static int
session_flush(struct session *s)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	size_t		 len;
	int		 n;

	if ((len = evbuffer_get_length(out)) == 0 || s->tls)
		return (0);		/* TLS: the bufferevent writes */
	/* Unless already waiting for the socket: writing would only fail. */
	if (!(bufferevent_get_enabled(s->bev) & EV_WRITE)) {
		n = session_write_out(s);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			session_fail(s, "write");
			return (-1);
		}
		if ((len = evbuffer_get_length(out)) == 0)
			return (0);
	}
	session_backlog(s);
	return (0);
}

/* The idle timeout in microseconds; 0: never. */
static uint64_t
session_usec(const struct timeval *tv)
{
	return ((uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec);
}

static uint64_t
session_idle_usec(const struct session *s)
{
	return (session_usec(&s->lc->idle));
}

/*
 * Everything owed has been written: close, unless the client may still be
 * sending.  Then send a FIN after the replies and linger (see
 * SESSION_LINGER_USEC; no longer than the idle timeout either): the close
 * entry comes when the client closes too, or when the linger is over.
 * A TLS session first sends a close_notify, so that the client can tell
 * the end from a cut, and keeps its bufferevent: it is the connection.
 */
static void
session_end(struct session *s)
{
	uint64_t	 idle = session_idle_usec(s), linger = SESSION_LINGER_USEC;

	if (s->tls)
		tls_close_notify(bufferevent_openssl_get_ssl(s->bev));
	if (s->ended || shutdown(s->fd, SHUT_WR) == -1) {
		session_close(s, s->reason);
		return;
	}
	s->linger_left = SESSION_LINGER_BYTES;
	/* Nothing waits in the output, and the input is thrown away. */
	if (s->bev != NULL && !s->tls)
		session_free_buffers(s);
	if (idle != 0 && idle < linger)
		linger = idle;
	if (session_enter(s, SESSION_LINGERING) == -1 ||
	    timer_in(s->set->timers, &s->timer, linger) == -1) {
		session_close(s, s->reason);
		return;
	}
	/* Bytes may be waiting already, with no new edge to tell of them. */
	if (!s->tls)
		event_active(s->rd, EV_READ, 1);
}

/*
 * The session owes nothing more than what is queued: stop reading, and
 * end with reason as soon as the client has it.
 */
static void
session_finish(struct session *s, const char *reason)
{
	s->reason = reason;
	session_enter(s, SESSION_FLUSHING);
	if (s->bev != NULL) {
		if (session_flush(s) == -1)
			return;
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
			return;
	}
	session_end(s);
}

/* Frame what is in the input and queue the replies; eof: no more comes. */
static int
session_frame(struct session *s, bool eof)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer		*out = bufferevent_get_output(s->bev);
	struct evbuffer		*to = out;
	enum framing_status	 st;
	size_t			 before, added;
	int			 n;

	/*
	 * Nothing waiting to go out (the steady state): frame into the
	 * loop's scratch buffer and write from it, so the bufferevent's
	 * output, and the callbacks it runs on every change, is touched
	 * only when the socket does not take a whole reply.
	 */
	if (evbuffer_get_length(out) == 0 || s->tls)
		to = s->set->scratch;
	before = evbuffer_get_length(to);
	st = framing_process(&s->framing, in, to, eof);
	added = evbuffer_get_length(to) - before;
	/*
	 * TLS: the replies of one read go to the output at once, which the
	 * bufferevent writes in as few records as its chains allow, not one
	 * record (and one write) per line.
	 */
	if (s->tls && added > 0) {
		if (evbuffer_add_buffer(out, to) == -1) {
			evbuffer_drain(to, evbuffer_get_length(to));
			session_oom(s);
			return (-1);
		}
	} else if (to != out && added > 0) {
		n = evbuffer_write(to, s->fd);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			/* The scratch buffer is the loop's: leave it empty. */
			evbuffer_drain(to, evbuffer_get_length(to));
			session_fail(s, "write");
			return (-1);
		}
		/* The rest waits in the output for the socket. */
		if (evbuffer_get_length(to) > 0) {
			evbuffer_add_buffer(out, to);
			session_backlog(s);
		}
	}
	session_count(s, added);
	if (st == FRAMING_LINE_TOO_LONG) {
		session_finish(s, "line-too-long");
		return (-1);
	}
	return (0);
}

/*
 * A read of len bytes arrived, the first avail of them at data: note the
 * time and the count, and log its start, escaped, at debug level.
 */
static void
session_received(struct session *s, const void *data, size_t avail,
    size_t len)
{
	char	 text[LOG_PAYLOAD_MAX * 4 + 1];

	s->quiet = timer_coarse();
	s->bytes_in += len;
	slot_count(s->cell, SC_RECEIVED, len);
	if (log_getlevel() < LOG_DEBUG)
		return;
	log_debug("session %" PRIu64 " received %zu bytes: %s", s->id, len,
	    log_escape(text, sizeof(text), data,
	    avail < LOG_PAYLOAD_MAX ? avail : LOG_PAYLOAD_MAX));
}

/* Size the next read from how much of this one's room was used. */
static void
session_adapt(struct session *s, size_t got, size_t room)
{
	if (got == room) {
		s->small = 0;
		if (s->rdsize < SESSION_READ_MAX)
			s->rdsize = (s->rdsize + 128) * 2 - 128;
	} else if (got >= s->rdsize / 4)
		s->small = 0;
	else if (++s->small >= SESSION_READ_SMALL) {
		s->small = 0;
		if (s->rdsize > SESSION_READ_MIN)
			s->rdsize = (s->rdsize + 128) / 2 - 128;
	}
}

/* The bufferevent, when the session first has bytes to keep. */
static int
session_buffers(struct session *s)
{
	const struct timeval	*wr = &s->lc->write;

	/* Not BEV_OPT_CLOSE_ON_FREE: the session outlives its buffers. */
	s->bev = bufferevent_socket_new(s->set->base, s->fd, 0);
	if (s->bev == NULL)
		return (-1);
	bufferevent_setcb(s->bev, NULL, session_write, session_event, s);
	/* Every change of what it holds, the bufferevent's writes too. */
	if (evbuffer_add_cb(bufferevent_get_input(s->bev), session_held,
	    s) == NULL || evbuffer_add_cb(bufferevent_get_output(s->bev),
	    session_held, s) == NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
		return (-1);
	}
	bufferevent_set_timeouts(s->bev, NULL, timer_tv_isset(wr) ? wr : NULL);
	/* Steady state: nothing queued, no write event (it starts enabled). */
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	/* The bufferevent never reads; session_read() fills its input. */
	evbuffer_unfreeze(bufferevent_get_input(s->bev), 0);
	session_arm(s);
	return (0);
}

/*
 * Quiet since s->quiet: give the buffers back if nothing is in them.
 * They come back when they are needed again.
 */
static void
session_release(struct session *s)
{
	/* A TLS session's bufferevent is its connection. */
	if (s->bev == NULL || s->tls || (s->state != SESSION_READING &&
	    s->state != SESSION_WAITING) ||
	    evbuffer_get_length(bufferevent_get_input(s->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) != 0)
		return;
	session_free_buffers(s);
	s->rdsize = SESSION_READ_MIN;
	s->small = 0;
	atomic_fetch_add_explicit(&s->set->stats.released, 1,
	    memory_order_relaxed);
}

/*
 * Set the timer for the first moment something may be due, measured from
 * the last read: the idle timeout, and while the session holds a
 * bufferevent, the next multiple of SESSION_RELEASE_USEC of quiet (a
 * multiple, since buffers that still hold bytes cannot be given back yet).
 */
static void
session_arm(struct session *s)
{
	struct timers	*ts = s->set->timers;
	uint64_t	 idle = session_idle_usec(s), at = UINT64_MAX, rel;

	if (s->state == SESSION_PROXY || s->state == SESSION_HANDSHAKE) {
		/*
		 * The whole header within proxy_timeout of the accept; the
		 * handshake within its timeout of its start (s->quiet).
		 */
		at = s->state == SESSION_PROXY ? s->start +
		    session_usec(&s->lc->proxy_timeout) : s->quiet +
		    session_usec(&s->lc->handshake);
		if (s->state == SESSION_PROXY && s->again &&
		    timer_now() + SESSION_PROXY_AGAIN_USEC < at)
			at = timer_now() + SESSION_PROXY_AGAIN_USEC;
		if (timer_at(ts, &s->timer, at) == -1)
			log_warnx("session %" PRIu64 ": no timer", s->id);
		return;
	}
	if (idle != 0)
		at = s->quiet + idle;
	/* A TLS session's bufferevent is its connection: never given back. */
	if (s->bev != NULL && !s->tls) {
		rel = s->quiet + ((timer_now() - s->quiet) /
		    SESSION_RELEASE_USEC + 1) * SESSION_RELEASE_USEC;
		if (rel < at)
			at = rel;
	}
	if (at == UINT64_MAX)
		timer_del(ts, &s->timer);
	else if (timer_at(ts, &s->timer, at) == -1)
		log_warnx("session %" PRIu64 ": no timer", s->id);
}

/*
 * The timer: close an idle session, give back unused buffers.  The time
 * of the last read is the coarse clock's, at most a tick behind this one:
 * a session may be closed a few milliseconds early, never late, and a
 * deadline that has come always finds the session due.
 */
static void
session_tick(void *arg)
{
	struct session	*s = arg;
	uint64_t	 idle = session_idle_usec(s), quiet;
	bool		 idle_due;
	char		 c;

	if (s->state == SESSION_LINGERING) {
		session_close(s, s->reason);
		return;
	}
	if (s->state == SESSION_PROXY) {
		if (s->again && timer_now() < s->start +
		    session_usec(&s->lc->proxy_timeout)) {
			/* Level-triggered: ready again at once if bytes wait. */
			s->again = false;
			if (event_add(s->rd, NULL) == -1)
				session_fail(s, "event_add");
			else
				session_arm(s);
			return;
		}
		session_proxy_error(s, "no whole header within proxy_timeout");
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		session_tls_error(s, "no handshake within timeouts.handshake",
		    "handshake-timeout");
		return;
	}
	quiet = timer_now() - s->quiet;
	idle_due = idle != 0 && quiet >= idle;
	/*
	 * An edge-triggered read stops short at a TCP urgent mark, and no
	 * new edge comes for what follows it.  Before calling a session
	 * quiet, look whether its socket still holds bytes (or the end of
	 * input); if so, read them now and look again in a second.
	 */
	if ((idle_due || quiet >= SESSION_RELEASE_USEC) &&
	    s->state == SESSION_READING && !s->tls &&
	    recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) != -1) {
		event_active(s->rd, EV_READ, 1);
		if (timer_in(s->set->timers, &s->timer,
		    1000000) == -1)
			log_warnx("session %" PRIu64 ": no timer", s->id);
		return;
	}
	if (idle_due) {
		session_close(s, "timeout");
		return;
	}
	if (quiet >= SESSION_RELEASE_USEC)
		session_release(s);
	session_arm(s);
}

/*
 * After a read of r bytes into room: on an edge-triggered event, bytes
 * may be left that no new edge will announce (the read filled its room,
 * or was interrupted), or an end of input that only another read can show
 * (the client half-closed: EV_CLOSED came).  Then run the callback again,
 * after the events already active; the loop polls again at least every
 * millisecond (worker.c), so a fast sender cannot starve the others.
 * errno is kept.
 */
static void
session_more(struct session *s, ssize_t r, size_t room)
{
	int	 saved = errno;

	if ((r > 0 && ((size_t)r == room || s->rdhup)) ||
	    (r == -1 && errno == EINTR))
		event_active(s->rd, EV_READ, 1);
	errno = saved;
}

/*
 * A read returned r <= 0: the end of input (what is owed, a last line
 * too, goes back before the close), nothing yet, or an error.
 */
static void
session_read_none(struct session *s, ssize_t r)
{
	if (r == -1) {
		if (errno != EAGAIN && errno != EINTR)
			session_fail(s, "read");
		return;
	}
	s->ended = true;
	if (s->bev == NULL)
		session_close(s, "eof");
	else if (session_frame(s, true) == 0)
		session_finish(s, "eof");
}

/*
 * Send the replies in iov[0..n), or queue them behind replies still
 * waiting; what the socket does not take waits in the output.  Returns -1
 * when the session had to be closed.
 */
static int
session_send(struct session *s, struct iovec *iov, size_t n)
{
	struct evbuffer	*out;
	size_t		 i, len = 0;
	ssize_t		 w = 0;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (s->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		/* send() costs the kernel less than a writev() of one. */
		w = n == 1 ? send(s->fd, iov[0].iov_base, len, 0) :
		    writev(s->fd, iov, (int)n);
		if (w == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				session_fail(s, "write");
				return (-1);
			}
			w = 0;
		}
		if ((size_t)w == len) {
			session_count(s, len);
			return (0);
		}
	}
	if (s->bev == NULL && session_buffers(s) == -1)
		goto oom;
	out = bufferevent_get_output(s->bev);
	for (i = 0; i < n; i++) {
		if ((size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			continue;
		}
		if (evbuffer_add(out, (char *)iov[i].iov_base + w,
		    iov[i].iov_len - (size_t)w) == -1)
			goto oom;
		w = 0;
	}
	session_count(s, len);
	session_backlog(s);
	return (0);
oom:
	session_oom(s);
	return (-1);
}

/*
 * Frame the len bytes at p, in the loop's buffer, and send their replies
 * with one writev() (more only for more than SESSION_IOV stripped lines);
 * a new partial line is kept in the input.
 */
static void
session_direct_lines(struct session *s, char *p, size_t len)
{
	struct iovec		 iov[SESSION_IOV];
	enum framing_status	 st = FRAMING_OK;
	size_t			 pos, n, used;

	for (pos = 0; pos < len; pos += used) {
		n = SESSION_IOV;
		st = framing_direct(&s->framing, p + pos, len - pos,
		    iov, &n, &used);
		if (n > 0 && session_send(s, iov, n) == -1)
			return;
		if (used == 0 || st != FRAMING_OK)
			break;
	}
	if (st == FRAMING_LINE_TOO_LONG) {
		session_finish(s, "line-too-long");
		return;
	}
	/* A partial line: the input holds it until its LF comes. */
	if (pos < len && ((s->bev == NULL && session_buffers(s) == -1) ||
	    evbuffer_add(bufferevent_get_input(s->bev), p + pos,
	    len - pos) == -1))
		session_oom(s);
}

/*
 * The direct path (see the top of the file): the held partial line, if
 * any, copied to the front of the loop's buffer and one recv() after
 * it, then framed and answered from there.
 */
static void
session_direct(struct session *s, size_t held)
{
	char			*buf = s->set->buf;
	struct evbuffer		*in = NULL;
	ssize_t			 r;

	if (held > 0) {
		in = bufferevent_get_input(s->bev);
		evbuffer_copyout(in, buf, held);
	}
	r = recv(s->fd, buf + held, SESSIONS_BUFFER - held, 0);
	session_more(s, r, SESSIONS_BUFFER - held);
	if (r <= 0) {
		session_read_none(s, r);
		return;
	}
	if (in != NULL)
		evbuffer_drain(in, held);
	session_received(s, buf + held, (size_t)r, (size_t)r);
	session_direct_lines(s, buf, held + (size_t)r);
}

/*
 * Every other session: one readv() into the bufferevent's input, then
 * frame and answer what the framing allows, right away.
 */
static void
session_read_framed(struct session *s, size_t most)
{
	struct evbuffer		*in;
	struct evbuffer_iovec	 v[2];
	ssize_t			 r;
	size_t			 left, room;
	int			 n, i;

	if (s->bev == NULL && session_buffers(s) == -1) {
		session_oom(s);
		return;
	}
	in = bufferevent_get_input(s->bev);
	if ((n = evbuffer_reserve_space(in, (ev_ssize_t)s->rdsize, v,
	    2)) <= 0) {
		session_oom(s);
		return;
	}
	/* most: no more than that (0: as much as reserved). */
	for (i = 0, room = 0; i < n; i++) {
		if (most != 0 && room + v[i].iov_len > most)
			v[i].iov_len = most - room;
		room += v[i].iov_len;
	}
	r = readv(s->fd, (struct iovec *)v, n);
	session_more(s, r, room);
	if (r <= 0) {
		evbuffer_commit_space(in, v, 0);
		session_read_none(s, r);
		return;
	}
	for (i = 0, left = (size_t)r; i < n; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	session_received(s, v[0].iov_base, v[0].iov_len, (size_t)r);
	evbuffer_commit_space(in, v, n);
	if (most == 0)
		session_adapt(s, (size_t)r, room);
	session_frame(s, false);
}

/*
 * A lingering session: read what the client still sends and throw it
 * away, until it closes, errs or has sent SESSION_LINGER_BYTES.
 */
static void
session_discard(struct session *s)
{
	size_t	 room = s->linger_left;
	ssize_t	 r;

	if (room > SESSIONS_BUFFER)
		room = SESSIONS_BUFFER;
	r = recv(s->fd, s->set->buf, room, 0);
	session_more(s, r, room);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0) {
		s->bytes_in += (size_t)r;
		slot_count(s->cell, SC_RECEIVED, (size_t)r);
		s->linger_left -= (size_t)r;
		if (s->linger_left > 0)
			return;
	}
	session_close(s, s->reason);
}

/* Past the memory budget: read no more until sessions_wake(). */
static void
session_wait(struct session *s)
{
	if (s->state != SESSION_WAITING)
		session_enter(s, SESSION_WAITING);
}

/* See session.h. */
bool
sessions_wake(struct sessions *ss)
{
	struct session	*s;
	int		 n;

	for (n = 0; n < SESSION_WAKE_BATCH &&
	    (s = TAILQ_FIRST(&ss->waiting)) != NULL; n++) {
		if (session_enter(s, SESSION_READING) == -1) {
			session_fail(s, "event_add");
			continue;
		}
		/* Bytes may be waiting, with no new edge to tell of them. */
		if (!s->tls)
			event_active(s->rd, EV_READ, 1);
	}
	return (TAILQ_FIRST(&ss->waiting) != NULL);
}

/*
 * The bufferevent's input or output changed: count what the session
 * holds, for the budget.
 */
static void
session_held(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct session	*s = arg;
	int64_t		 delta;

	(void)b;
	delta = (int64_t)info->n_added - (int64_t)info->n_deleted;
	if (delta == 0)
		return;
	s->held += (size_t)delta;
	budget_hold(s->set->share, delta);
}

/*
 * How much a send() on the socket takes now, at least: half of what its
 * send buffer has left (the kernel counts each packet's overhead too).
 * Asked only past the memory budget; 0 when it cannot tell.
 */
static size_t
session_sendroom(struct session *s)
{
	uint32_t	 mi[SK_MEMINFO_VARS];
	socklen_t	 len = sizeof(mi);

	if (getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == -1 ||
	    len < sizeof(mi[0]) * (SK_MEMINFO_WMEM_QUEUED + 1) ||
	    mi[SK_MEMINFO_WMEM_QUEUED] >= mi[SK_MEMINFO_SNDBUF])
		return (0);
	return ((mi[SK_MEMINFO_SNDBUF] - mi[SK_MEMINFO_WMEM_QUEUED]) / 2);
}

/*
 * Past the memory budget, a session that holds nothing is still served,
 * but must not start to hold: it looks at what waits in the socket with
 * MSG_PEEK, no more than its send buffer has room for, sends the replies
 * to the complete lines (line framing) or to the bytes (raw) in view,
 * and then takes from the socket only what the replies sent answer.  A
 * partial line, and lines whose replies the socket did not take, stay in
 * the kernel's buffers, which are not echod's memory.  Only a line whose
 * reply the socket took a part of is taken whole, and the rest of its
 * reply kept (the session then holds bytes, and waits for its client to
 * read them as any other).  Four system calls where the direct path has
 * two, but only past the budget.
 */
static void
session_peek(struct session *s)
{
	char			*buf = s->set->buf, *p, *lf;
	struct iovec		 iov[SESSION_IOV];
	struct evbuffer		*out;
	enum framing_status	 st;
	size_t			 room, n, used, i, total = 0, take, keep = 0;
	ssize_t			 r, w, sent;

	if ((room = session_sendroom(s)) > SESSIONS_BUFFER)
		room = SESSIONS_BUFFER;
	if (room == 0) {
		/* The client does not read: nothing can be answered. */
		session_wait(s);
		return;
	}
	r = recv(s->fd, buf, room, MSG_PEEK);
	if (r <= 0) {
		session_more(s, r, room);
		session_read_none(s, r);
		return;
	}
	n = SESSION_IOV;
	st = framing_direct(&s->framing, buf, (size_t)r, iov, &n, &used);
	if (used == 0 && st == FRAMING_OK) {
		/*
		 * No complete line in view.  A line longer than the view can
		 * only wait for memory; a shorter one, for its next bytes
		 * (a new edge).  The framing now knows a partial line without
		 * an LF: the same bytes the next read gets first.
		 */
		if ((size_t)r == room)
			session_wait(s);
		return;
	}
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	w = 0;
	if (total > 0) {
		w = n == 1 ? send(s->fd, iov[0].iov_base, total, 0) :
		    writev(s->fd, iov, (int)n);
		if (w == -1 && errno != EAGAIN && errno != EINTR) {
			session_fail(s, "write");
			return;
		}
		if (w == -1)
			w = 0;
	}
	/* What the replies sent answer: take that much, keep the rest. */
	take = used;
	sent = w;
	if ((size_t)w < total) {
		for (i = 0; (size_t)w >= iov[i].iov_len; i++)
			w -= (ssize_t)iov[i].iov_len;
		p = (char *)iov[i].iov_base + w;
		if (s->framing.kind == FRAMING_RAW)
			take = (size_t)(p - buf);
		else if (w == 0)
			/* Replies end with their line's LF. */
			take = i == 0 ? 0 : (size_t)((char *)iov[i - 1].iov_base +
			    iov[i - 1].iov_len - buf);
		else {
			/* The line p is in ends at the next LF. */
			lf = memchr(p, '\n', (size_t)(buf + used - p));
			take = (size_t)(lf + 1 - buf);
			keep = (size_t)(lf + 1 - p);
		}
		total = (size_t)sent + keep;
		st = FRAMING_OK;
	}
	if (take > 0 && recv(s->fd, buf, take, MSG_TRUNC) != (ssize_t)take) {
		session_fail(s, "recv");
		return;
	}
	if (take > 0)
		session_received(s, buf, take, take);
	if (keep > 0) {
		if (s->bev == NULL && session_buffers(s) == -1) {
			session_oom(s);
			return;
		}
		out = bufferevent_get_output(s->bev);
		if (evbuffer_add(out, p, keep) == -1) {
			session_oom(s);
			return;
		}
		session_count(s, total);
		session_backlog(s);
		return;
	}
	session_count(s, total);
	if (st == FRAMING_LINE_TOO_LONG) {
		session_finish(s, "line-too-long");
		return;
	}
	if (take < used) {
		/* The socket is full: wait, holding nothing. */
		session_wait(s);
		return;
	}
	/* More may wait: the rest of the view, or beyond it. */
	if (take < (size_t)r || (size_t)r == room || s->rdhup)
		event_active(s->rd, EV_READ, 1);
}

/*
 * Past the memory budget, a session holding a partial line may still
 * take the rest of it, up to its LF, which gives back what it holds;
 * with no LF in view it waits (for a new edge, or for memory when the
 * view is full).  Any other session that holds bytes waits.
 */
static void
session_complete(struct session *s)
{
	char	*buf = s->set->buf, *lf;
	ssize_t	 r;

	if (s->framing.kind != FRAMING_LINE ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > 0) {
		session_wait(s);
		return;
	}
	r = recv(s->fd, buf, SESSIONS_BUFFER, MSG_PEEK);
	if (r <= 0) {
		session_more(s, r, SESSIONS_BUFFER);
		session_read_none(s, r);
		return;
	}
	if ((lf = memchr(buf, '\n', (size_t)r)) != NULL)
		session_read_framed(s, (size_t)(lf + 1 - buf));
	else if (r == SESSIONS_BUFFER)
		session_wait(s);
}

/* Past the memory budget: see session_complete() and session_peek(). */
static void
session_read_over(struct session *s)
{
	if (s->held > 0)
		session_complete(s);
	else if (framing_direct_ok(&s->framing))
		session_peek(s);
	else
		/* Raw, rules undecided: they keep at most their window. */
		session_read_framed(s, 0);
}

/*
 * The header was wrong, incomplete or late: close, with nothing echoed,
 * and count it for the warning (the close entry says "proxy-error").
 */
static void
session_proxy_error(struct session *s, const char *why)
{
	session_tally_close(s, SESSION_TALLY_PROXY, why, "proxy-error");
}

/*
 * Whether the per-source limits (source.h) take s, from the client it
 * now names; if not it is closed at once without an entry, as
 * max_connections refuses (the warning counts it).
 */
static bool
session_admit(struct session *s)
{
	const struct source_limits	*g = &s->conf->per_source;
	const struct source_limits	*o = &s->lc->per_source;
	enum source_verdict		 v;
	char				 addr[INET6_ADDRSTRLEN];
	const char			*what;
	uint16_t			 port;

	if (!sources_wanted(g, o))
		return (true);
	v = source_admit(&s->peer.sa, s->conf->source_prefix4,
	    s->conf->source_prefix6, s->lc->name, g, o, timer_now(),
	    &s->hold);
	if (v == SOURCE_OK) {
		s->admitted = true;
		return (true);
	}
	switch (v) {
	case SOURCE_TOO_MANY:
		what = "max_connections_per_source";
		break;
	case SOURCE_TOO_FAST:
		what = "max_new_connections_per_source";
		break;
	default:
		what = "the table of sources is full";
		break;
	}
	/* A refusal, not a close ("refused" has no close counter). */
	slot_count(s->cell, v == SOURCE_TOO_FAST ? SC_REFUSED_RATE :
	    SC_REFUSED_PER_SOURCE, 1);
	addr_format(&s->peer.sa, addr, sizeof(addr), &port);
	session_tally(SESSION_TALLY_REFUSED, "%s on %s: %s", addr,
	    s->lc->name, what);
	s->silent = true;
	session_close(s, "refused");
	return (false);
}

/* The open entry: the session is served from now on. */
static void
session_opened(struct session *s)
{
	struct log_field	 f[9];
	struct session_names	 nm;
	struct session_tls_names tn;
	size_t			 n;

	if (!s->conf->log_connections || !log_conn_permit(true))
		return;
	n = session_fields(s, f, &nm);
	tn.text[0] = '\0';
	if (s->tls)
		n += session_fields_tls(s, f + n, &tn);
	log_entry(LOG_INFO, LOG_MSGID_OPEN, f, n,
	    "connection from %s%s on %s%s", nm.remote, nm.via, s->lc->name,
	    tn.text);
}

/*
 * A session of a proxy_protocol listener: look at what came so far
 * (MSG_PEEK: nothing is taken before the header is whole and valid),
 * and once the header is, take its bytes, make the client it names the
 * session's, and read what follows as any session.  Until then each new
 * segment is a new edge of the read event.
 *
 * A balancer sends the header and the first data together: on the
 * direct path, when no per-source limit may refuse the client, one
 * recv() takes both and what follows the header is answered at once, as
 * session_direct() would (a recv() and a pass of the loop less for
 * every connection).  Otherwise exactly the header is taken and the
 * session reads on as any.
 *
 * Returns 0 when nothing more is to be done now (the header is not whole
 * yet, s is gone, or it reads on); otherwise the bytes that one recv()
 * put in the loop's buffer, the header's *len first: the caller answers
 * the rest.
 */
static size_t
session_proxy(struct session *s, size_t *len)
{
	struct proxy_header	 h;
	char			*buf = s->set->buf;
	ssize_t			 r;
	bool			 direct;

	r = recv(s->fd, buf, PROXY_HEADER_MAX, MSG_PEEK);
	/*
	 * Closed before a byte, or reset (many checkers close so): a port
	 * check, nothing to warn of.
	 */
	if (r == 0 || (r == -1 && errno == ECONNRESET)) {
		session_close(s, "eof");
		return (0);
	}
	if (r == -1) {
		if (errno == EINTR)
			event_active(s->rd, EV_READ, 1);
		else if (errno != EAGAIN)
			session_fail(s, "read");
		return (0);
	}
	switch (proxy_parse(buf, (size_t)r, s->lc->proxy_protocol, &h)) {
	case PROXY_MORE:
		if (s->rdhup)
			session_proxy_error(s, "closed within the header");
		else if (!(session_read_flags(s->set->base) & EV_ET)) {
			event_del(s->rd);
			s->again = true;
			session_arm(s);
		}
		return (0);
	case PROXY_BAD:
		session_proxy_error(s, h.error);
		return (0);
	case PROXY_DONE:
		break;
	}
	/*
	 * A refusal must find the data behind the header still unread, as
	 * it always did: only where none can come is it taken now; and on a
	 * TLS listener what follows is the handshake, the bufferevent's.
	 */
	direct = s->lc->tls == NULL && framing_direct_ok(&s->framing) &&
	    !budget_over() &&
	    !sources_wanted(&s->conf->per_source, &s->lc->per_source);
	if (direct)
		r = recv(s->fd, buf, SESSIONS_BUFFER, 0);
	else
		r = recv(s->fd, buf, h.len, MSG_TRUNC);
	/* What was peeked is there: less is a broken socket. */
	if (r < (ssize_t)h.len || (!direct && r != (ssize_t)h.len)) {
		session_fail(s, "recv");
		return (0);
	}
	/* LOCAL, UNKNOWN: the balancer's own connection (a health check). */
	if (!h.local) {
		memcpy(&s->proxy, &s->peer, sizeof(s->proxy));
		memset(&s->peer, 0, sizeof(s->peer));
		memcpy(&s->peer, &h.src, h.srclen < sizeof(s->peer) ?
		    h.srclen : sizeof(s->peer));
		s->proxied = true;
	}
	if (!session_admit(s))
		return (0);
	/* A balancer sends the header first, then the client's handshake. */
	if (s->lc->tls != NULL) {
		session_tls_start(s);
		return (0);
	}
	if (session_enter(s, SESSION_READING) == -1) {
		session_fail(s, "event_add");
		return (0);
	}
	session_opened(s);
	if (direct && (size_t)r > h.len) {
		*len = h.len;
		return ((size_t)r);
	}
	/*
	 * Read on at once: what came after the header, or an end of input
	 * or reset behind it (a balancer's check), has no new edge to come.
	 */
	event_active(s->rd, EV_READ, 1);
	return (0);
}

/* The socket is readable. */
static void
session_read(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	size_t		 held = 0, r, hlen;

	(void)fd;
	if (what & EV_CLOSED)
		s->rdhup = true;
	if (s->state == SESSION_LINGERING) {
		session_discard(s);
		return;
	}
	if (s->state == SESSION_PROXY) {
		/* What came with the header, on the direct path: answer it. */
		if ((r = session_proxy(s, &hlen)) == 0)
			return;
		/* Read on if the buffer filled, or for the end of input. */
		session_more(s, (ssize_t)r, SESSIONS_BUFFER);
		session_received(s, s->set->buf + hlen, r - hlen, r - hlen);
		session_direct_lines(s, s->set->buf + hlen, r - hlen);
		return;
	}
	/* Waiting for memory, the client ended its input: read it now. */
	if (s->state == SESSION_WAITING &&
	    session_enter(s, SESSION_READING) == -1) {
		session_fail(s, "event_add");
		return;
	}
	/*
	 * The only cost of the budget under it: one load.  A session whose
	 * client ended its input is read past it: what it holds then goes
	 * out, and it ends.
	 */
	if (budget_over() && !s->rdhup) {
		session_read_over(s);
		return;
	}
	/* Reading, nothing waits in the output (session_enter()). */
	if (s->bev != NULL)
		held = evbuffer_get_length(bufferevent_get_input(s->bev));
	if (framing_direct_ok(&s->framing) && held <= SESSION_CARRY_MAX)
		session_direct(s, held);
	else
		session_read_framed(s, 0);
}

/* The bufferevent wrote everything that waited. */
static void
session_write(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	/* The low mark is 0: called only when the output is empty. */
	if (s->state == SESSION_FLUSHING) {
		session_end(s);
		return;
	}
	/* Back to the steady state: replies are written inline. */
	bufferevent_disable(bev, EV_WRITE);
	if (s->state == SESSION_OWING && session_enter(s,
	    SESSION_READING) == -1)
		session_fail(s, "event_add");
}

/* The bufferevent could not write: an error or the write timeout. */
static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct session	*s = arg;

	if (what & BEV_EVENT_ERROR) {
		log_debug("session %" PRIu64 ": %s", s->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		session_close(s, "error");
	} else if (what & BEV_EVENT_TIMEOUT)
		session_close(s, "write-timeout");
}

/*
 * TLS sessions (issue 16).  Their bufferevent, an OpenSSL one, does all
 * their I/O: the handshake, then reading records into its input and
 * writing its output.  The session frames from the input into the output
 * with session_frame(), as a plain session's framed path does, and
 * stops and resumes reading with bufferevent_disable()/enable() where a
 * plain session deletes and adds its read event; the session's own read
 * event is never armed on a TLS socket, since libevent cannot mix it,
 * edge-triggered, with the bufferevent's.  The socket is the
 * bufferevent's once it is made: with BEV_OPT_CLOSE_ON_FREE, libevent
 * 2.1's OpenSSL bufferevent closes it and frees the SSL when it is freed
 * (after the callback it is freed in, if any, returns), whatever the BIO
 * says; so the BIO is told not to, and session_close() does not either.
 */

/* The fields an entry has of a session's TLS, and its message's words. */
static size_t
session_fields_tls(struct session *s, struct log_field *f,
    struct session_tls_names *tn)
{
	struct ssl_st	*ssl;
	const char	*v, *c;
	size_t		 n = 0;

	tn->text[0] = '\0';
	if (s->bev == NULL || (ssl = bufferevent_openssl_get_ssl(s->bev)) ==
	    NULL || !tls_established(ssl))
		return (0);
	v = tls_version_name(ssl);
	c = tls_cipher_name(ssl);
	tls_client_subject(ssl, tn->client, sizeof(tn->client));
	f[n++] = (struct log_field){ "ECHOD_TLS_VERSION", v };
	f[n++] = (struct log_field){ "ECHOD_TLS_CIPHER", c };
	if (tn->client[0] != '\0')
		f[n++] = (struct log_field){ "ECHOD_TLS_CLIENT", tn->client };
	snprintf(tn->text, sizeof(tn->text), ", %s %s%s%s", v, c,
	    tn->client[0] != '\0' ? ", client " : "", tn->client);
	return (n);
}

/*
 * The TLS failed or never came: close with reason, nothing echoed, and
 * count it for the warning of sessions_tick().
 */
static void
session_tls_error(struct session *s, const char *why, const char *reason)
{
	s->tls_failed = true;
	session_tally_close(s, SESSION_TALLY_TLS, why, reason);
}

/* The read side of a TLS session: the reads stop or go on. */
static int
session_enter_tls(struct session *s, enum session_state from,
    enum session_state to)
{
	int	 r = 0;

	if (from == SESSION_PROXY)
		event_del(s->rd);
	if (from == SESSION_WAITING)
		TAILQ_REMOVE(&s->set->waiting, s, wentry);
	switch (to) {
	case SESSION_READING:
	case SESSION_LINGERING:
		r = bufferevent_enable(s->bev, EV_READ);
		if (from == SESSION_OWING || from == SESSION_HANDSHAKE) {
			/* Time waiting for the client is not idle. */
			s->quiet = timer_coarse();
			session_arm(s);
		}
		break;
	case SESSION_OWING:
	case SESSION_FLUSHING:
		r = bufferevent_disable(s->bev, EV_READ);
		timer_del(s->set->timers, &s->timer);
		break;
	case SESSION_WAITING:
		/* The idle timeout goes on, as for a plain session. */
		r = bufferevent_disable(s->bev, EV_READ);
		TAILQ_INSERT_TAIL(&s->set->waiting, s, wentry);
		break;
	case SESSION_PROXY:
	case SESSION_HANDSHAKE:
		break;
	}
	return (r);
}

/*
 * Records came in: frame what the input holds, as a plain session's
 * framed path, and stop reading while more than SESSION_TLS_HIGH waits
 * to go out or the memory budget is spent.  The bufferevent reads at most
 * about 16 KiB between two calls, and only when OpenSSL holds no
 * decrypted bytes does it call, so a stop leaves nothing behind in
 * OpenSSL that no readable socket would announce.
 */
static void
session_tls_read(struct bufferevent *bev, void *arg)
{
	struct session		*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 at;
	char			 head[LOG_PAYLOAD_MAX];
	size_t			 len = evbuffer_get_length(in), got;
	ev_ssize_t		 n = 0;

	if (s->state == SESSION_LINGERING) {
		got = len < s->linger_left ? len : s->linger_left;
		evbuffer_drain(in, len);
		s->bytes_in += len;
		s->linger_left -= got;
		if (s->linger_left == 0)
			session_close(s, s->reason);
		return;
	}
	if (s->state != SESSION_READING || len <= s->tls_kept)
		return;
	got = len - s->tls_kept;
	if (log_getlevel() >= LOG_DEBUG && evbuffer_ptr_set(in, &at,
	    s->tls_kept, EVBUFFER_PTR_SET) == 0 &&
	    (n = evbuffer_copyout_from(in, &at, head, sizeof(head))) < 0)
		n = 0;
	session_received(s, head, (size_t)n, got);
	if (session_frame(s, false) == -1)
		return;
	s->tls_kept = evbuffer_get_length(in);
	if (evbuffer_get_length(bufferevent_get_output(bev)) >
	    SESSION_TLS_HIGH)
		session_enter(s, SESSION_OWING);
	else if (budget_over())
		session_wait(s);
}

/* All of a TLS session's output is written. */
static void
session_tls_write(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	(void)bev;
	if (s->state == SESSION_FLUSHING)
		session_end(s);
	else if (s->state == SESSION_OWING &&
	    session_enter(s, SESSION_READING) == -1)
		session_fail(s, "bufferevent_enable");
}

/* The handshake is done, the client has ended, or the TLS has failed. */
static void
session_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct session		*s = arg;
	const struct timeval	*wr = &s->lc->write;
	const char		*why = NULL, *r;
	unsigned long		 e;

	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_set_timeouts(bev, NULL, timer_tv_isset(wr) ? wr :
		    NULL);
		if (session_enter(s, SESSION_READING) == -1) {
			session_fail(s, "bufferevent_enable");
			return;
		}
		session_opened(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		session_close(s, "write-timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Closed before a handshake: a port check, no warning. */
		if (s->state != SESSION_READING &&
		    s->state != SESSION_WAITING) {
			session_close(s, s->reason != NULL ? s->reason : "eof");
			return;
		}
		s->ended = true;
		if (session_frame(s, true) == 0)
			session_finish(s, "eof");
		return;
	}
	/*
	 * The first error OpenSSL queued says why, the others where; they
	 * come out last first, and with SSL_get_error()'s code (no reason).
	 */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if ((r = tls_reason(e)) != NULL)
			why = r;
	}
	if (why == NULL) {
		log_debug("session %" PRIu64 ": %s", s->id,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		s->tls_failed = true;
		session_close(s, "error");
		return;
	}
	session_tls_error(s, why, "tls-error");
}

/*
 * Serve a TLS session: its handshake starts, within timeouts.handshake.
 * From here the bufferevent owns the socket and the SSL (see above).
 */
static void
session_tls_start(struct session *s)
{
	struct bufferevent	*bev;
	struct ssl_st		*ssl;

	if ((ssl = tls_ssl_socket(s->lc->tls, s->fd)) == NULL) {
		session_oom(s);
		return;
	}
	bev = bufferevent_openssl_socket_new(s->set->base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/*
		 * It may have freed ssl and closed the socket, or not: better
		 * a leak or a second close() of a number not yet reused (this
		 * thread accepts nothing meanwhile) than a double free.
		 */
		session_oom(s);
		return;
	}
	s->bev = bev;
	s->tls = true;
	bufferevent_setcb(bev, session_tls_read, session_tls_write,
	    session_tls_event, s);
	/* A client that closes without a close_notify has only ended. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (evbuffer_add_cb(bufferevent_get_input(bev), session_held,
	    s) == NULL || evbuffer_add_cb(bufferevent_get_output(bev),
	    session_held, s) == NULL) {
		session_oom(s);
		return;
	}
	if (s->state == SESSION_PROXY)
		session_enter(s, SESSION_HANDSHAKE);
	else
		s->state = SESSION_HANDSHAKE;	/* as accepted */
	s->quiet = timer_coarse();
	session_arm(s);
}

/*
 * Free a TLS session's bufferevent and SSL, after a close_notify when the
 * TLS is sound and nothing waits before it (a graceful stop's last
 * sessions too).
 */
static void
session_free_tls(struct session *s)
{
	if (s->bev == NULL)
		return;
	tls_last_notify(bufferevent_openssl_get_ssl(s->bev), !s->tls_failed &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) == 0);
	session_free_buffers(s);
}

/*
 * The read event: edge-triggered where the backend can be (epoll), with
 * EV_CLOSED to learn of a half-close that came with the last data.
 */
static short
session_read_flags(struct event_base *base)
{
	int	 need = EV_FEATURE_ET | EV_FEATURE_EARLY_CLOSE;

	if ((event_base_get_features(base) & need) == need)
		return (EV_READ | EV_PERSIST | EV_ET | EV_CLOSED);
	return (EV_READ | EV_PERSIST);
}

/* Where a session's read event is, in the same pool object. */
#define SESSION_EVENT_OFF	((sizeof(struct session) + \
				    _Alignof(max_align_t) - 1) & \
				    ~(_Alignof(max_align_t) - 1))

/* Serve an accepted connection. */
void
sessions_serve(struct sessions *ss, evutil_socket_t fd,
    const struct sockaddr *sa, socklen_t salen, struct conf *conf,
    const struct listener_conf *lc, struct slots *sl)
{
	struct session		*s;

	if ((s = pool_get(ss->pool)) != NULL) {
		s->rd = (struct event *)((char *)s + SESSION_EVENT_OFF);
		if (event_assign(s->rd, ss->base, fd,
		    session_read_flags(ss->base), session_read, s) == -1) {
			pool_put(ss->pool, s);
			s = NULL;
		}
	}
	if (s == NULL) {
		log_warnx("cannot serve a connection on %s: out of memory",
		    lc->name);
		close(fd);
		slot_release(sl);
		return;
	}
	timer_init(&s->timer, session_tick, s);
	s->id = atomic_fetch_add(&session_next_id, 1);
	s->set = ss;
	s->fd = fd;
	s->conf = config_ref(conf);
	s->lc = lc;
	s->slots = sl;
	s->cell = slots_cell(sl, ss->cell);
	s->start = timer_now();
	s->quiet = timer_coarse();
	s->rdsize = SESSION_READ_MIN;
	memcpy(&s->peer, sa, salen < sizeof(s->peer) ? salen :
	    sizeof(s->peer));
	framing_init(&s->framing, lc->framing, lc->strip, conf->max_line);
	/* Behind a balancer the client is known once its header is in. */
	if (lc->proxy_protocol != 0)
		s->state = SESSION_PROXY;

	/* TLS: the bufferevent watches the socket, once admitted. */
	if (s->state == SESSION_PROXY || lc->tls == NULL) {
		event_add(s->rd, NULL);
		session_arm(s);
	}

	TAILQ_INSERT_TAIL(&ss->list, s, entry);
	atomic_fetch_add_explicit(&ss->stats.accepted, 1,
	    memory_order_relaxed);
	slot_count(s->cell, SC_ACCEPTED, 1);
	if (s->state == SESSION_PROXY || !session_admit(s))
		return;
	if (lc->tls != NULL) {
		session_tls_start(s);
		return;
	}
	session_opened(s);
}

/*
 * The graceful stop's deadline: one last attempt to send what each
 * session owes, then close it; a lingering one too (echod(8), SIGNALS:
 * every session left is closed as "shutdown").
 */
void
sessions_close_all(struct sessions *ss, const char *reason)
{
	struct session	*s, *tmp;

	TAILQ_FOREACH_SAFE(s, &ss->list, entry, tmp) {
		/* TLS: session_close() sends its close_notify. */
		if (s->bev == NULL || s->tls) {
			session_close(s, reason);
			continue;
		}
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
			(void)session_write_out(s);
		session_close(s, reason);
	}
}

/* The sessions of the loop base, whose timers are timers. */
struct sessions *
sessions_new(struct event_base *base, struct timers *timers,
    struct budget_share *share, unsigned int cell)
{
	struct sessions	*ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return (NULL);
	ss->base = base;
	ss->timers = timers;
	ss->share = share;
	ss->cell = cell;
	TAILQ_INIT(&ss->list);
	TAILQ_INIT(&ss->waiting);
	ss->pool = pool_new(SESSION_EVENT_OFF + event_get_struct_event_size());
	ss->scratch = evbuffer_new();
	ss->buf = malloc(SESSIONS_BUFFER);
	if (ss->pool == NULL || ss->scratch == NULL || ss->buf == NULL) {
		sessions_free(ss);
		return (NULL);
	}
	return (ss);
}

/* Free what sessions_new() made; the sessions must be gone. */
void
sessions_free(struct sessions *ss)
{
	if (ss == NULL)
		return;
	pool_free(ss->pool);
	if (ss->scratch != NULL)
		evbuffer_free(ss->scratch);
	free(ss->buf);
	free(ss);
}

/* The counters of ss, for the main loop to sum. */
const struct sessions_stats *
sessions_stats(const struct sessions *ss)
{
	return (&ss->stats);
}
