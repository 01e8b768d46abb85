/*
 * session_script.c: what a test instrument's keys make a session do
 * (echod.conf(5), TESTING; issue 18): speak first (banner), and hang up
 * as asked (close_after), with the close reason "scripted".
 *
 * close_after counts bytes or lines as they are framed, so its sessions
 * take the bufferevent path (session_script_bev()): the input is cut
 * where the count is reached, what is before the cut answered, the rest
 * thrown away.  after-reply answers the bytes or lines up to the count,
 * so the client reads exactly N bytes (raw) or the echo of N lines, and
 * then its EOF or RST; before-reply leaves out the reply that reached
 * it: N - 1 bytes, or the lines before the one holding byte N or the Nth
 * line.  seconds needs no count: a timer from the session's start, on
 * any path.  The end itself is session.c's: a FIN after what is owed
 * (session_finish()), or a RST once the client has had all of it
 * (s->reset; session_reset()).
 *
 * It sits between the TLS path and session.c: the rooms above call it
 * where a session starts to echo, and it calls only session.c and
 * session_log.c (session_int.h).
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "addr.h"
#include "banner.h"
#include "session_int.h"
#include "timer.h"

/*
 * The banner, rendered for this session (its client the real one, after
 * a PROXY header), at the head of its output: never framed, so no strip
 * rule touches it, and counted as sent.  A plain session sends it at
 * once; what the socket does not take waits as any reply.  Returns -1
 * when s is gone.
 */
static int
session_script_banner(struct session *s)
{
	const struct banner	*b = s->lc->banner;
	struct banner_vars	 v;
	struct evbuffer		*out;
	struct evbuffer_iovec	 vec;
	char			 addr[INET6_ADDRSTRLEN];
	size_t			 max = banner_max(b);

	addr_format(&s->peer.sa, addr, sizeof(addr), &v.port);
	v.host = s->conf->hostname;
	v.listener = s->lc->name;
	v.instance = s->conf->instance;
	v.addr = addr;
	if (s->bev == NULL && session_buffers(s) == -1)
		goto oom;
	out = bufferevent_get_output(s->bev);
	if (max == 0)
		return (0);
	if (evbuffer_reserve_space(out, (ev_ssize_t)max, &vec, 1) != 1)
		goto oom;
	vec.iov_len = banner_render(b, &v, vec.iov_base, vec.iov_len);
	if (evbuffer_commit_space(out, &vec, 1) == -1)
		goto oom;
	session_count(s, vec.iov_len);
	return (session_flush(s));
oom:
	session_oom(s);
	return (-1);
}

/*
 * close_after's count is reached (or its time has come): end as asked,
 * with what is owed (dropped first if before, for seconds).  s may be
 * gone after.
 */
static void
session_script_hangup(struct session *s, bool drop)
{
	const struct conf_close	*ca = &s->lc->close_after;
	struct evbuffer		*out;
	size_t			 owed;

	if (s->bev != NULL) {
		evbuffer_drain(bufferevent_get_input(s->bev),
		    evbuffer_get_length(bufferevent_get_input(s->bev)));
		out = bufferevent_get_output(s->bev);
		if (drop && (owed = evbuffer_get_length(out)) > 0) {
			/* Not sent after all: the close entry says so. */
			evbuffer_drain(out, owed);
			s->queued -= owed;
		}
	}
	s->reset = ca->how == CONF_HANGUP_RESET;
	session_finish(s, "scripted");
}

/* close_after's seconds are over. */
static void
session_script_tick(void *arg)
{
	struct session	*s = arg;

	/* Ending already, or not yet echoing: nothing to cut short. */
	if (s->state != SESSION_READING && s->state != SESSION_OWING &&
	    s->state != SESSION_WAITING)
		return;
	session_script_hangup(s, s->lc->close_after.before_reply);
}

/*
 * Where in the input (len bytes, the last got of them new) close_after's
 * count is reached: the bytes to answer before the end; len + 1 while it
 * is not.  The input holds no whole line: those were answered.
 */
static size_t
session_script_cut(struct session *s, struct evbuffer *in, size_t len)
{
	const struct conf_close	*ca = &s->lc->close_after;
	struct evbuffer_ptr	 p;
	size_t			 line = 0, need;

	if (ca->kind == CONF_CLOSE_BYTES) {
		if (s->bytes_in < ca->count)
			return (len + 1);
		/* Byte N is at len - (bytes_in - N) - 1. */
		return (len - (size_t)(s->bytes_in - ca->count) -
		    (ca->before_reply ? 1 : 0));
	}
	if (ca->kind != CONF_CLOSE_MESSAGES)
		return (len + 1);
	need = (size_t)(ca->count - s->lines);
	p = evbuffer_search(in, "\n", 1, NULL);
	while (p.pos != -1) {
		if (--need == 0)
			return (ca->before_reply ? line : (size_t)p.pos + 1);
		line = (size_t)p.pos + 1;
		s->lines++;
		if (evbuffer_ptr_set(in, &p, 1, EVBUFFER_PTR_ADD) == -1)
			break;
		p = evbuffer_search(in, "\n", 1, &p);
	}
	return (len + 1);
}

/*
 * Frame what the input of a session on the bufferevent path holds (eof:
 * no more comes), as session_frame(), and hang up where close_after
 * says.  Returns -1 when s is gone or ending.
 */
int
session_script_frame(struct session *s, bool eof)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	struct evbuffer	*tmp = s->set->scratch;
	size_t		 len = evbuffer_get_length(in), cut;

	if ((cut = session_script_cut(s, in, len)) > len)
		return (session_frame(s, eof));
	/*
	 * Only the bytes before the cut are framed.  The scratch buffer is
	 * empty between callbacks; the input's end is the bufferevent's to
	 * add to, frozen but while it reads, as session_write_out() thaws
	 * the output's front.
	 */
	evbuffer_unfreeze(in, 0);
	if (evbuffer_remove_buffer(in, tmp, cut) != (int)cut ||
	    evbuffer_drain(in, len - cut) == -1 ||
	    evbuffer_add_buffer(in, tmp) == -1) {
		evbuffer_freeze(in, 0);
		evbuffer_drain(tmp, evbuffer_get_length(tmp));
		session_oom(s);
		return (-1);
	}
	evbuffer_freeze(in, 0);
	/* after-reply: a last line cut at byte N is answered too. */
	if (session_frame(s, eof || !s->lc->close_after.before_reply) == -1)
		return (-1);
	session_script_hangup(s, false);
	return (-1);
}

/*
 * The session starts to echo, its PROXY header and its handshake done:
 * what comes before any reply, and close_after's clock.  Returns -1 when
 * s is gone.
 */
int
session_script_begin(struct session *s)
{
	const struct conf_close	*ca = &s->lc->close_after;

	if (s->lc->banner != NULL && session_script_banner(s) == -1)
		return (-1);
	if (ca->kind == CONF_CLOSE_SECONDS) {
		timer_init(&s->stimer, session_script_tick, s);
		if (timer_in(s->set->timers, &s->stimer,
		    session_usec(&ca->after)) == -1)
			log_warnx("session %" PRIu64 ": no timer", s->id);
	}
	return (0);
}
