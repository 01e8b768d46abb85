/*
 * session_tls.c: the TLS path of a session (issue 16), from its handshake
 * to the end of its client's input: session_tls_*().
 *
 * A TLS session's bufferevent, an OpenSSL one, does all its I/O: the
 * handshake, then reading records into its input and writing its
 * output.  The session frames from the input into the output
 * with session_frame(), as a plain session's framed path does, and
 * stops and resumes reading with bufferevent_disable()/enable() where a
 * plain session deletes and adds its read event; the session's own read
 * event is never armed on a TLS socket, since libevent cannot mix it,
 * edge-triggered, with the bufferevent's.  The socket is the
 * bufferevent's once it is made: with BEV_OPT_CLOSE_ON_FREE, libevent
 * 2.1's OpenSSL bufferevent closes it and frees the SSL when it is freed
 * (after the callback it is freed in, if any, returns), whatever the BIO
 * says; so the BIO is told not to, and session_close() does not either.
 *
 * A plain session whose listener has a test instrument's key that the
 * direct path would not see takes this path too, with a socket
 * bufferevent (session_tls_plain()): s->bevio says the bufferevent does
 * the I/O, s->tls that it is TLS.
 *
 * The rest of a TLS session is any session's (session.c): session_enter(),
 * session_end() and session_close() know its bufferevent where they must
 * (session_enter_tls(), a close_notify, session_free_tls()), and what
 * needs OpenSSL is tls.c's.
 */
#include <sys/socket.h>

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "budget.h"
#include "log.h"
#include "session_int.h"
#include "timer.h"
#include "tls.h"

/*
 * A TLS session stops reading while more than this waits in its output
 * (SESSION_OWING), and reads again once all of it is written: as a plain
 * session owes one read's replies at most.
 */
#define SESSION_TLS_HIGH	(64 * 1024)

/*
 * The TLS failed or never came: close with reason, nothing echoed, and
 * count it for the warning of sessions_tick().
 */
void
session_tls_error(struct session *s, const char *why, const char *reason)
{
	s->tls_failed = true;
	session_tally_close(s, SESSION_TALLY_TLS, why, reason);
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
	if (session_script_frame(s, false) == -1)
		return;
	s->tls_kept = evbuffer_get_length(in);
	/* Replies that wait for their delay are owed as well. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) +
	    (s->delayed != NULL ? evbuffer_get_length(s->delayed) : 0) >
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
	if (s->state == SESSION_FLUSHING) {
		/* Not before the last delayed reply has gone out too. */
		if (s->dn == 0)
			session_end(s);
	}
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
		(void)session_script_begin(s);
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
		if (session_script_frame(s, true) == 0)
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
 * bev is s's and does its I/O, with the callbacks of this path, what it
 * holds counted for the budget.  Returns -1 when s is gone.
 */
static int
session_tls_bev(struct session *s, struct bufferevent *bev)
{
	s->bev = bev;
	s->bevio = true;
	bufferevent_setcb(bev, session_tls_read, session_tls_write,
	    session_tls_event, s);
	if (evbuffer_add_cb(bufferevent_get_input(bev), session_held,
	    s) == NULL || evbuffer_add_cb(bufferevent_get_output(bev),
	    session_held, s) == NULL || session_rate_start(s) == -1) {
		session_oom(s);
		return (-1);
	}
	return (0);
}

/*
 * Serve a plain session on this path, as if its TLS were done: a socket
 * bufferevent reads and writes, for a test instrument's keys that the
 * direct path would not see (session_script_bev()).  The session keeps
 * the socket (no BEV_OPT_CLOSE_ON_FREE), so session_close() closes it as
 * any plain session's.
 */
void
session_tls_plain(struct session *s)
{
	const struct timeval	*wr = &s->lc->write;
	struct bufferevent	*bev;

	if ((bev = bufferevent_socket_new(s->set->base, s->fd,
	    session_bev_options(s->lc))) == NULL) {
		session_oom(s);
		return;
	}
	if (session_tls_bev(s, bev) == -1)
		return;
	bufferevent_set_timeouts(bev, NULL, timer_tv_isset(wr) ? wr : NULL);
	if (s->state == SESSION_PROXY) {
		if (session_enter(s, SESSION_READING) == -1) {
			session_fail(s, "bufferevent_enable");
			return;
		}
	} else if (bufferevent_enable(bev, EV_READ) == -1) {
		session_fail(s, "bufferevent_enable");
		return;
	}
	session_arm(s);
	session_opened(s);
	(void)session_script_begin(s);
}

/*
 * Serve a TLS session: its handshake starts, within timeouts.handshake.
 * From here the bufferevent owns the socket and the SSL (see the top of
 * the file).
 */
void
session_tls_start(struct session *s)
{
	struct bufferevent	*bev;
	struct ssl_st		*ssl;

	if ((ssl = tls_ssl_socket(s->lc->tls, s->fd)) == NULL) {
		session_oom(s);
		return;
	}
	bev = bufferevent_openssl_socket_new(s->set->base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE |
	    session_bev_options(s->lc));
	if (bev == NULL) {
		/*
		 * It may have freed ssl and closed the socket, or not: better
		 * a leak or a second close() of a number not yet reused (this
		 * thread accepts nothing meanwhile) than a double free.
		 */
		session_oom(s);
		return;
	}
	s->tls = true;
	if (session_tls_bev(s, bev) == -1)
		return;
	/* A client that closes without a close_notify has only ended. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (s->state == SESSION_PROXY)
		session_enter(s, SESSION_HANDSHAKE);
	else
		s->state = SESSION_HANDSHAKE;	/* as accepted */
	s->quiet = timer_coarse();
	session_arm(s);
}
