/*
 * session_open.c: how a session opens before it echoes: the arrival of
 * the PROXY header on a proxy_protocol listener (proxy.c parses it), and
 * the admission of the client, the one it names if any, by the
 * per-source limits (source.c).  session_proxy() says to the read event
 * (session_read.c) what it made of the bytes so far, and leaves it the
 * bytes that came with the header to answer.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <event2/event.h>

#include "addr.h"
#include "budget.h"
#include "framing.h"
#include "proxy.h"
#include "session_int.h"
#include "slot.h"
#include "source.h"
#include "timer.h"

/*
 * The header was wrong, incomplete or late: close, with nothing echoed,
 * and count it for the warning (the close entry says "proxy-error").
 */
void
session_proxy_error(struct session *s, const char *why)
{
	session_tally_close(s, SESSION_TALLY_PROXY, why, "proxy-error");
}

/*
 * Whether the per-source limits (source.h) take s, from the client it
 * now names; if not it is closed at once without an entry, as
 * max_connections refuses (the warning counts it).
 */
bool
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
size_t
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
	direct = s->lc->tls == NULL && !session_script_bev(s->lc) &&
	    framing_direct_ok(&s->framing) &&
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
	if (session_script_bev(s->lc)) {
		session_tls_plain(s);
		return (0);
	}
	if (session_enter(s, SESSION_READING) == -1) {
		session_fail(s, "event_add");
		return (0);
	}
	session_opened(s);
	if (session_script_begin(s) == -1)
		return (0);
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
