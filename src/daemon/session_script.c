/*
 * session_script.c: what a test instrument's keys make a session do
 * (echod.conf(5), TESTING; issue 18): speak first (banner), answer late
 * (delay, jitter), and hang up as asked (close_after), with the close
 * reason "scripted".
 *
 * A delay queues the replies of each read, in order, in s->delayed, with
 * a ring of (due, length) records beside it, and sends them from one
 * timer per session (s->stimer, on the loop's heap, set for the first
 * record due), never one per message.  Its sessions take the bufferevent
 * path (session_script_bev()), and a record due goes to the output, where
 * the bufferevent writes it: the write timeout applies from there, to a
 * client that does not read, never to the wait.  The bytes waiting count
 * in max_memory (session_held()), and count as owed for the output's high
 * mark (session_tls_read()), so a client that sends faster than its
 * replies go out is stopped as any.  A reply waits delay plus a uniform
 * draw from [0, jitter], from a splitmix64 sequence seeded per session
 * with (instance id << 32) ^ session id, logged at debug level; a due
 * time is never before the one ahead of it, so a large jitter against a
 * fast sender is clamped, and order kept.  When the ring is full
 * (SESSION_DUES) a read's replies join the last record, with its due.
 *
 * close_after counts bytes or lines as they are framed, so its sessions
 * take the bufferevent path (session_script_bev()): the input is cut
 * where the count is reached, what is before the cut answered, the rest
 * thrown away.  after-reply answers the bytes or lines up to the count,
 * so the client reads exactly N bytes (raw) or the echo of N lines, and
 * then its EOF or RST; before-reply leaves out the reply that reached
 * it: N - 1 bytes, or the lines before the one holding byte N or the Nth
 * line.  seconds needs no count: the same timer, from the session's
 * start, on any path.  The end itself is session.c's: a FIN after what
 * is owed (session_finish()), or a RST once the client has had all of it
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
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "addr.h"
#include "banner.h"
#include "framing.h"
#include "jitter.h"
#include "session_int.h"
#include "timer.h"

/* The records of a session's delayed replies, at most. */
#define SESSION_DUES	256

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

/* Set the timer for what comes first: a reply due, close_after's time. */
static void
session_script_arm(struct session *s)
{
	uint64_t	 at = s->close_at != 0 ? s->close_at : UINT64_MAX;

	if (s->dn > 0 && s->dues[s->dhead].due < at)
		at = s->dues[s->dhead].due;
	if (at == UINT64_MAX)
		timer_del(s->set->timers, &s->stimer);
	else if (timer_at(s->set->timers, &s->stimer, at) == -1)
		log_warnx("session %" PRIu64 ": no timer", s->id);
}

/*
 * Hand the replies due by now to the output, where the bufferevent writes
 * them.  Returns -1 when s is gone.
 */
static int
session_script_due(struct session *s, uint64_t now)
{
	struct evbuffer		*out = bufferevent_get_output(s->bev);
	struct session_due	*d;

	while (s->dn > 0 && (d = &s->dues[s->dhead])->due <= now) {
		if (evbuffer_remove_buffer(s->delayed, out, d->len) !=
		    (int)d->len) {
			session_oom(s);
			return (-1);
		}
		session_count(s, d->len);
		s->dhead = (s->dhead + 1) % SESSION_DUES;
		s->dn--;
	}
	session_script_arm(s);
	return (0);
}

/* Forget the replies waiting for their delay (before-reply's end). */
static void
session_script_drop(struct session *s)
{
	if (s->delayed != NULL)
		evbuffer_drain(s->delayed, evbuffer_get_length(s->delayed));
	s->dn = 0;
}

/*
 * Frame what the input holds into the delayed replies, the new ones due
 * delay plus a draw of jitter from now.  Returns -1 when s is gone or
 * ending.
 */
static int
session_script_delay(struct session *s, bool eof)
{
	const struct listener_conf *lc = s->lc;
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct session_due	*d;
	enum framing_status	 st;
	uint64_t		 due = timer_now() + lc->delay_usec;
	size_t			 before, added;

	if (s->delayed == NULL) {
		if ((s->delayed = evbuffer_new()) == NULL ||
		    evbuffer_add_cb(s->delayed, session_held, s) == NULL ||
		    (s->dues = calloc(SESSION_DUES, sizeof(*s->dues))) ==
		    NULL) {
			session_oom(s);
			return (-1);
		}
	}
	before = evbuffer_get_length(s->delayed);
	st = framing_process(&s->framing, in, s->delayed, eof);
	if ((added = evbuffer_get_length(s->delayed) - before) > 0) {
		if (lc->jitter_usec != 0)
			due += jitter_draw(&s->jitter, lc->jitter_usec);
		d = &s->dues[(s->dhead + s->dn - 1) % SESSION_DUES];
		/* Never before the reply ahead: order is kept. */
		if (s->dn > 0 && due < d->due)
			due = d->due;
		if (s->dn == SESSION_DUES) {
			d->len += added;
			d->due = due;
		} else {
			d = &s->dues[(s->dhead + s->dn++) % SESSION_DUES];
			d->due = due;
			d->len = added;
		}
		if (s->dn == 1)
			session_script_arm(s);
	}
	if (st == FRAMING_LINE_TOO_LONG) {
		session_finish(s, "line-too-long");
		return (-1);
	}
	return (0);
}

/* Frame the input: into the delayed replies with a delay, else at once. */
static int
session_script_answer(struct session *s, bool eof)
{
	if (s->lc->delay_usec != 0 || s->lc->jitter_usec != 0)
		return (session_script_delay(s, eof));
	return (session_frame(s, eof));
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
			/*
			 * Not sent after all: the close entry says so.  A
			 * socket bufferevent's output front is frozen (an
			 * OpenSSL one's is not): thawed to drain it.
			 */
			if (!s->tls)
				evbuffer_unfreeze(out, 1);
			if (evbuffer_drain(out, owed) == 0)
				s->queued -= owed;
			if (!s->tls)
				evbuffer_freeze(out, 1);
		}
	}
	if (drop)
		session_script_drop(s);
	s->reset = ca->how == CONF_HANGUP_RESET;
	session_finish(s, "scripted");
}

/*
 * The timer: replies due go out; after them, the end of a session that
 * waited for them, or close_after's seconds.
 */
static void
session_script_tick(void *arg)
{
	struct session	*s = arg;
	uint64_t	 now = timer_now();
	struct evbuffer	*out;

	if (s->dn > 0) {
		if (session_script_due(s, now) == -1)
			return;
		out = bufferevent_get_output(s->bev);
		/* Flushing with nothing written: no write callback comes. */
		if (s->state == SESSION_FLUSHING && s->dn == 0 &&
		    evbuffer_get_length(out) == 0) {
			session_end(s);
			return;
		}
	}
	if (s->close_at == 0 || now < s->close_at)
		return;
	s->close_at = 0;
	/* Ending already: nothing to cut short. */
	if (s->state == SESSION_READING || s->state == SESSION_OWING ||
	    s->state == SESSION_WAITING)
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
		return (session_script_answer(s, eof));
	/*
	 * Only the bytes before the cut are framed.  The scratch buffer is
	 * empty between callbacks.  A socket bufferevent's input end is its
	 * own to add to, frozen but while it reads, as session_write_out()
	 * thaws the output's front; an OpenSSL one never freezes it, and
	 * frozen it would fail every read from then on, the lingering
	 * session's too (its read event, level-triggered, would spin).
	 */
	if (!s->tls)
		evbuffer_unfreeze(in, 0);
	if (evbuffer_remove_buffer(in, tmp, cut) != (int)cut ||
	    evbuffer_drain(in, len - cut) == -1 ||
	    evbuffer_add_buffer(in, tmp) == -1) {
		if (!s->tls)
			evbuffer_freeze(in, 0);
		evbuffer_drain(tmp, evbuffer_get_length(tmp));
		session_oom(s);
		return (-1);
	}
	if (!s->tls)
		evbuffer_freeze(in, 0);
	/* after-reply: a last line cut at byte N is answered too. */
	if (session_script_answer(s, eof ||
	    !s->lc->close_after.before_reply) == -1)
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

	const struct listener_conf *lc = s->lc;
	uint64_t		 seed;

	if (lc->banner != NULL && session_script_banner(s) == -1)
		return (-1);
	timer_init(&s->stimer, session_script_tick, s);
	if (lc->jitter_usec != 0) {
		seed = ((uint64_t)strtoul(s->conf->instance, NULL, 16) << 32) ^
		    s->id;
		s->jitter = seed;
		log_debug("session %" PRIu64 ": jitter seed %016" PRIx64,
		    s->id, seed);
	}
	if (ca->kind == CONF_CLOSE_SECONDS) {
		s->close_at = timer_now() + session_usec(&ca->after);
		session_script_arm(s);
	}
	return (0);
}
