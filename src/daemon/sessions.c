/*
 * sessions.c: the sessions of one event loop (struct sessions): the set
 * made and freed, an accepted socket made a session (sessions_serve()),
 * each session's timer (session_tick()), the wake-up when memory
 * drained, the close of them all at the end of a graceful stop, the
 * counters, and the warnings of the main loop's tick.  The top of the
 * session rooms: worker.c and echod.c call it (session.h), and it calls
 * down into the others (session_int.h).
 *
 * A session comes from its loop's pool (pool.c) with its read event in
 * the same object, and holds a bufferevent only while it has bytes to
 * keep (session.c): a connection that only waits holds the session and
 * its read event, which matters at 100 000 idle connections.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "compat.h"
#include "config.h"
#include "framing.h"
#include "log.h"
#include "pool.h"
#include "session.h"
#include "session_int.h"
#include "slot.h"
#include "timer.h"

/*
 * Back under the memory budget, a loop lets this many waiting sessions
 * read, then looks again after their reads: not every session at once on
 * every byte freed (see sessions_wake()).
 */
#define SESSION_WAKE_BATCH	16

/* ECHOD_SESSION: unique across workers. */
static atomic_uint_fast64_t session_next_id = 1;

/* Where a session's read event is, in the same pool object. */
#define SESSION_EVENT_OFF	((sizeof(struct session) + \
				    _Alignof(max_align_t) - 1) & \
				    ~(_Alignof(max_align_t) - 1))

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
 * Quiet since s->quiet: give the buffers back if nothing is in them.
 * They come back when they are needed again.
 */
static void
session_release(struct session *s)
{
	/* A TLS session's bufferevent is its connection. */
	if (s->bev == NULL || s->bevio || (s->state != SESSION_READING &&
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
	/* Replies waiting for their delay: the session is not idle. */
	if (s->dn > 0)
		s->quiet = timer_coarse();
	quiet = timer_now() - s->quiet;
	idle_due = idle != 0 && quiet >= idle;
	/*
	 * An edge-triggered read stops short at a TCP urgent mark, and no
	 * new edge comes for what follows it.  Before calling a session
	 * quiet, look whether its socket still holds bytes (or the end of
	 * input); if so, read them now and look again in a second.
	 */
	if ((idle_due || quiet >= SESSION_RELEASE_USEC) &&
	    s->state == SESSION_READING && !s->bevio &&
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
	timer_init(&s->stimer, NULL, s);	/* its user sets it */
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
	if (s->state == SESSION_PROXY || (lc->tls == NULL &&
	    !session_script_bev(lc))) {
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
	if (session_script_bev(lc)) {
		session_tls_plain(s);
		return;
	}
	session_opened(s);
	(void)session_script_begin(s);
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
		if (!s->bevio)
			event_active(s->rd, EV_READ, 1);
	}
	return (TAILQ_FIRST(&ss->waiting) != NULL);
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

/* See session.h. */
void
sessions_rate_base(struct event_base *base)
{
	session_rate_base(base);
}

/* See session.h. */
void
sessions_rate_free(void)
{
	session_rate_free_all();
}
