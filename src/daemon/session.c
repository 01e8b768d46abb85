/*
 * session.c: one TCP echo session below its reads: its changes of state
 * (session_enter(), session_moves[]), its buffers and writes, framing
 * from its bufferevent, its timer, its end (session_finish(),
 * session_end(), session_close()) and what its entries and warnings say.
 * The other session rooms call down into it; it calls none of them
 * (session_int.h).
 *
 * The bufferevent owns what a session has to keep: the input a framing
 * waits on, and the output the client has not taken, with the write event
 * and the write timeout.  It is created when a session first has to keep
 * bytes (session_buffers()), and given back after SESSION_RELEASE_USEC
 * without a read if nothing is buffered (session_tick(), sessions.c), as
 * memcached shrinks the buffers of quiet connections.  Reading is the
 * session's own (session_read.c).
 *
 * A partial write stops reading (SESSION_OWING): the rest waits in the
 * output, the bufferevent's write event (with the write timeout) takes
 * over, and reading resumes once the client has taken all of it, as
 * bench/ref-echo.c does.  So a client that never reads holds at most one
 * read's replies and is closed by the write timeout; and the read event is
 * never armed while the write event is (libevent cannot mix edge- and
 * level-triggered events on one descriptor).
 *
 * Timeouts are lazy: a read only notes the time.  The session's timer is
 * set for the earliest moment it could be idle (or could give its buffers
 * back: session_arm()), and when it fires it looks at the time of the last
 * read and sets itself again (session_tick()); a busy session costs no
 * timer work per message, where a read event with a timeout is re-added
 * to libevent's heap on every read.  The timers are the loop's (timer.c),
 * on a timerfd, so that its loop waits in epoll_wait() without a timeout.
 */
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <linux/sockios.h>

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "budget.h"
#include "config.h"
#include "framing.h"
#include "log.h"
#include "pool.h"
#include "session_int.h"
#include "slot.h"
#include "source.h"
#include "timer.h"
#include "tls.h"

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
 * A level-triggered read event (poll, select) stays ready while a part
 * of a PROXY header waits unread: look again this much later, not in a
 * loop, until the header is whole or proxy_timeout has passed.
 */
#define SESSION_PROXY_AGAIN_USEC	(20 * 1000)

/*
 * How often a scripted RST looks whether the client has had everything:
 * first soon, then less often the longer it waits (a client that stopped
 * reading would cost a wakeup every 2 ms for the whole write timeout).
 */
#define SESSION_RESET_POLL_USEC		(2 * 1000)
#define SESSION_RESET_POLL_MAX_USEC	(100 * 1000)

/* What session_enter() may change a state to (session_moves[from]). */
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
 * Free the bufferevent, and no longer count what it held: freeing it
 * runs no evbuffer callback.
 */
void
session_free_buffers(struct session *s)
{
	if (s->delayed != NULL) {
		evbuffer_remove_cb(s->delayed, session_held, s);
		evbuffer_free(s->delayed);
		s->delayed = NULL;
		free(s->dues);
		s->dues = NULL;
		s->dn = 0;
	}
	session_rate_stop(s);
	evbuffer_remove_cb(bufferevent_get_input(s->bev), session_held, s);
	evbuffer_remove_cb(bufferevent_get_output(s->bev), session_held, s);
	if (s->held > 0)
		budget_hold(s->set->share, -(int64_t)s->held);
	s->held = 0;
	bufferevent_free(s->bev);
	s->bev = NULL;
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
 * The one way a session ends: the close entry, the counters, the slot on
 * its listener, the configuration it held.  s is gone afterwards.
 */
void
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
	timer_del(s->set->timers, &s->stimer);
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
void
session_tally_close(struct session *s, enum session_tally_kind kind,
    const char *why, const char *reason)
{
	session_tally_from(s, kind, why);
	session_close(s, reason);
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
 * Every change of state, with what it changes in the events: the read
 * event armed only when reading (or lingering, or watching for the end
 * of input while waiting for memory), the session on its loop's waiting
 * list only while waiting, the idle timer off while replies wait (the
 * write timeout rules then) and once ending.  Returns -1 when the read
 * event could not be armed.
 */
int
session_enter(struct session *s, enum session_state to)
{
	struct event_base	*base = s->set->base;
	enum session_state	 from = s->state;
	int			 r = 0;

	assert(session_moves[from] & SESSION_TO(to));
	s->state = to;
	if (s->bevio || to == SESSION_HANDSHAKE)
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

/* Past the memory budget: read no more until sessions_wake(). */
void
session_wait(struct session *s)
{
	if (s->state != SESSION_WAITING)
		session_enter(s, SESSION_WAITING);
}

/* Out of memory for a session's buffers: it cannot go on. */
void
session_oom(struct session *s)
{
	log_warnx("session %" PRIu64 ": out of memory", s->id);
	session_close(s, "error");
}

/* A system call failed on the socket: nothing more can be done. */
void
session_fail(struct session *s, const char *call)
{
	log_debug("session %" PRIu64 ": %s: %s", s->id, call, strerror(errno));
	session_close(s, "error");
}

/*
 * A read of len bytes arrived, the first avail of them at data: note the
 * time and the count, and log its start, escaped, at debug level.
 */
void
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

/*
 * Replies wait in the output: stop reading, and have the bufferevent
 * write them when the socket takes more.
 */
void
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
int
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
int
session_flush(struct session *s)
{
	struct evbuffer	*out = bufferevent_get_output(s->bev);
	size_t		 len;
	int		 n;

	if ((len = evbuffer_get_length(out)) == 0 || s->bevio)
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

/*
 * A scripted RST (close_after's how = "reset"): a linger of 0 makes
 * close(2) send one, and throw away what the kernel has not delivered;
 * so first wait, no longer than the write timeout (or SESSION_LINGER_USEC),
 * for the client to have acknowledged every byte (SIOCOUTQ is 0), looking
 * after SESSION_RESET_POLL_USEC, then after half the time waited so far,
 * at most SESSION_RESET_POLL_MAX_USEC.  No close_notify before it.
 */
static void
session_reset_poll(void *arg)
{
	struct session	*s = arg;
	struct linger	 lg = { 1, 0 };
	uint64_t	 now = timer_now(), wait, next;
	int		 queued = 0;

	wait = session_usec(&s->lc->write);
	wait = now - (s->reset_by - (wait != 0 ? wait : SESSION_LINGER_USEC));
	next = wait / 2;
	if (next < SESSION_RESET_POLL_USEC)
		next = SESSION_RESET_POLL_USEC;
	if (next > SESSION_RESET_POLL_MAX_USEC)
		next = SESSION_RESET_POLL_MAX_USEC;
	if (now < s->reset_by && next > s->reset_by - now)
		next = s->reset_by - now;
	if (ioctl(s->fd, SIOCOUTQ, &queued) == 0 && queued > 0 &&
	    now < s->reset_by &&
	    timer_in(s->set->timers, &s->stimer, next) == 0)
		return;
	if (setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
		log_debug("session %" PRIu64 ": SO_LINGER: %s", s->id,
		    strerror(errno));
	s->tls_failed = true;
	session_close(s, s->reason);
}

static void
session_reset(struct session *s)
{
	uint64_t	 wait = session_usec(&s->lc->write);

	s->reset_by = timer_now() + (wait != 0 ? wait : SESSION_LINGER_USEC);
	timer_del(s->set->timers, &s->stimer);
	timer_init(&s->stimer, session_reset_poll, s);
	session_reset_poll(s);
}

/*
 * Everything owed has been written: close, unless the client may still be
 * sending.  Then send a FIN after the replies and linger (see
 * SESSION_LINGER_USEC; no longer than the idle timeout either): the close
 * entry comes when the client closes too, or when the linger is over.
 * A TLS session first sends a close_notify, so that the client can tell
 * the end from a cut, and keeps its bufferevent: it is the connection.
 */
void
session_end(struct session *s)
{
	uint64_t	 idle = session_idle_usec(s), linger = SESSION_LINGER_USEC;

	if (s->reset) {
		session_reset(s);
		return;
	}
	if (s->tls)
		tls_close_notify(bufferevent_openssl_get_ssl(s->bev));
	if (s->ended || shutdown(s->fd, SHUT_WR) == -1) {
		session_close(s, s->reason);
		return;
	}
	s->linger_left = SESSION_LINGER_BYTES;
	/* Nothing waits in the output, and the input is thrown away. */
	if (s->bev != NULL && !s->bevio)
		session_free_buffers(s);
	if (idle != 0 && idle < linger)
		linger = idle;
	if (session_enter(s, SESSION_LINGERING) == -1 ||
	    timer_in(s->set->timers, &s->timer, linger) == -1) {
		session_close(s, s->reason);
		return;
	}
	/* Bytes may be waiting already, with no new edge to tell of them. */
	if (!s->bevio)
		event_active(s->rd, EV_READ, 1);
}

/*
 * The session owes nothing more than what is queued: stop reading, and
 * end with reason as soon as the client has it.
 */
void
session_finish(struct session *s, const char *reason)
{
	s->reason = reason;
	session_enter(s, SESSION_FLUSHING);
	/* Replies wait for their delay: the write of the last one ends it. */
	if (s->dn > 0)
		return;
	if (s->bev != NULL) {
		if (session_flush(s) == -1)
			return;
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
			return;
	}
	session_end(s);
}

/* Frame what is in the input and queue the replies; eof: no more comes. */
int
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
	if (evbuffer_get_length(out) == 0 || s->bevio)
		to = s->set->scratch;
	before = evbuffer_get_length(to);
	st = framing_process(&s->framing, in, to, eof);
	added = evbuffer_get_length(to) - before;
	/*
	 * TLS: the replies of one read go to the output at once, which the
	 * bufferevent writes in as few records as its chains allow, not one
	 * record (and one write) per line.
	 */
	if (s->bevio && added > 0) {
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
 * The bufferevent's input or output changed: count what the session
 * holds, for the budget.
 */
void
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

/* The bufferevent, when the session first has bytes to keep. */
int
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
 * Set the timer for the first moment something may be due, measured from
 * the last read: the idle timeout, and while the session holds a
 * bufferevent, the next multiple of SESSION_RELEASE_USEC of quiet (a
 * multiple, since buffers that still hold bytes cannot be given back yet).
 */
void
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
	if (s->bev != NULL && !s->bevio) {
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
