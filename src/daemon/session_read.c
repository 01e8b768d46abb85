/*
 * session_read.c: a session's read event and its read paths: how the
 * bytes of one wakeup are read and answered.  What they change (a reply
 * kept, a state, the end) it leaves to session.c; a PROXY header's bytes
 * to session_open.c.
 *
 * Reading is the session's own, not its bufferevent's: one read per
 * wakeup, where libevent 2.1 would add an ioctl(FIONREAD) and stop at
 * 4 KiB, and the reply is written in the same callback: in the steady
 * state only the read event is armed, so an echo costs one read, one write
 * and no epoll registration.  The read event is edge-triggered, as in the
 * hand-written epoll servers (bench/ref-echo.c): the kernel need not poll
 * the socket again on every epoll_wait() only to find it drained, and a
 * read that fills the buffer, which may have left bytes behind, makes the
 * event active again at once.
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
 * until the client closes or a bound is reached (SESSION_LINGER_USEC,
 * session.c).
 *
 * The direct path and its helpers stay together in this file, static,
 * so that the compiler inlines them into session_read() as before.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/sock_diag.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "budget.h"
#include "framing.h"
#include "session_int.h"
#include "slot.h"

/* Replies one writev() of the direct path sends at most: stripped lines. */
#define SESSION_IOV		64

/*
 * A partial line up to this long is copied in front of the next read so
 * that the direct path frames it; a longer one stays in the input, where
 * framing.c searches each byte of it for the LF once.
 */
#define SESSION_CARRY_MAX	(4 * 1024)
_Static_assert(SESSIONS_BUFFER >= 4 * SESSION_CARRY_MAX,
    "the direct path reads after what it carries");

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

/* The socket is readable. */
void
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
