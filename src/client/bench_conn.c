/*
 * bench_conn.c: one connection of "echocli bench": connect, keep -p
 * messages in flight, check the replies, close (and with --churn start
 * over); and, for a loop, starting its connections and seeing that none
 * is left to run.  These are the callbacks of the hot path.
 *
 * A connection is a socket with two plain events, not a bufferevent:
 * replies are checked as they stream in, against the message the server
 * owes us, so nothing is buffered on input and one read buffer per loop
 * serves all its connections; the output buffer and the ring of send
 * times were sized for -p messages by bench.c.  The hot path is then one
 * recv and one send per batch, no allocation, and no epoll_ctl unless a
 * write is partial.
 *
 * Message n of connection id is size bytes: a pattern that depends on id,
 * then n in hexadecimal, then "\n".  The reply must be that message without
 * its first --strip bytes.
 *
 * With --proxy, a connection's first write is a PROXY header
 * (bench_proxy.c) and its first message, as a balancer sends them; the
 * header is not echoed.

 *
 * With --tls a connection is HANDSHAKING between CONNECTING and OPEN, and
 * then calls SSL_read and SSL_write where it called recv and send, on the
 * same socket and events: OpenSSL's WANT_READ is the read event, its
 * WANT_WRITE the write event.  Not a bufferevent_openssl: it would copy
 * every reply into an input buffer that the checks do not need, and the
 * state machine stays the one above with one state more.  The header of
 * --proxy goes before the handshake, in the clear, as a balancer's.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_conn.h"
#include "bench_proxy.h"
#include "bench_types.h"
#include "hist.h"
#include "tlscli.h"

#define BENCH_CONNECTING_MAX	256	/* handshakes in flight per loop */
#define BENCH_READS_MAX		4	/* recv calls per wakeup: fairness */
#define BENCH_STAMP_MAX		16	/* hex digits of the sequence number */
#define BENCH_RATE_TICK_US	1000	/* how often a rate-limited loop
					   wakes up to send again */

static void	bench_conn_stamp(const struct bench *, char *, uint64_t);
static void	bench_conn_flush(struct bench_conn *);
static void	bench_conn_failed(struct bench_conn *, int);
static void	bench_conn_scripted(struct bench_conn *);
static void	bench_conn_tls_failed(struct bench_conn *, int);
static void	bench_conn_opened(struct bench_conn *);
static void	bench_conn_handshake(struct bench_conn *, short);
static ssize_t	bench_conn_recv(struct bench_conn *, char *, size_t);
static void	bench_conn_wrong(struct bench_conn *, const char *, size_t);
static int	bench_conn_verify(struct bench_conn *, const char *, size_t);
static void	bench_conn_writecb(evutil_socket_t, short, void *);
static void	bench_conn_readcb(evutil_socket_t, short, void *);

/* Write the sequence number into a message (its last digits). */
static void
bench_conn_stamp(const struct bench *b, char *msg, uint64_t seq)
{
	size_t	k, i;

	k = b->o.size - 1 < BENCH_STAMP_MAX ? b->o.size - 1 : BENCH_STAMP_MAX;
	for (i = 0; i < k; i++) {
		msg[b->o.size - 2 - i] = "0123456789abcdef"[seq & 15];
		seq >>= 4;
	}
}

/* Open connection c (again, in churn mode). */
void
bench_conn_start(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	struct sockaddr_in	 src;
	struct timeval		 tv;
	int			 one = 1, fd;

	if (w->rate > 0 && b->o.churn && !bench_loop_rate_ok(w)) {
		bench_conn_park(c);
		return;
	}
	if (b->o.churn) {
		if (w->quota == 0)
			return;
		w->quota--;
		w->rate_sent++;
	}
	c->cycle_start = bench_now();
	c->inflight = c->ring_head = 0;
	c->send_seq = c->recv_seq = 0;
	c->recv_off = c->out_off = c->out_len = 0;
	memcpy(c->expect, w->pattern + c->id % BENCH_ALPHABET_LEN,
	    b->o.size - 1);
	c->expect[b->o.size - 1] = '\n';
	bench_conn_stamp(b, c->expect, 0);

	fd = socket(b->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		bench_conn_failed(c, errno);
		return;
	}
	c->fd = fd;
	c->state = BENCH_CONN_CONNECTING;
	w->open++;
	w->connecting++;
	/* Small messages must not wait for Nagle and delayed ACKs. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (b->per_source > 0) {
		/*
		 * The port is chosen at connect(), per destination, so
		 * each source address holds a whole port range.
		 */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002U +
		    c->id / b->per_source);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			bench_conn_failed(c, errno);
			return;
		}
	}
	if (connect(fd, (struct sockaddr *)&b->dst, b->dstlen) == -1 &&
	    errno != EINPROGRESS) {
		bench_conn_failed(c, errno);
		return;
	}
	event_assign(c->rev, w->base, fd, EV_READ | EV_PERSIST,
	    bench_conn_readcb, c);
	event_assign(c->wev, w->base, fd, EV_WRITE, bench_conn_writecb, c);
	tv.tv_sec = (time_t)b->o.timeout;
	tv.tv_usec = (suseconds_t)((b->o.timeout - (double)tv.tv_sec) * 1e6);
	event_add(c->wev, &tv);
}

/* Start handshakes until BENCH_CONNECTING_MAX are in flight. */
void
bench_conn_start_more(struct bench_loop *w)
{
	/* A connect that fails at once calls back here: no recursion. */
	if (w->starting)
		return;
	w->starting = true;
	while (!w->stopping && w->next_start < w->nconns &&
	    w->connecting < BENCH_CONNECTING_MAX)
		bench_conn_start(&w->conns[w->next_start++]);
	w->starting = false;
	if (w->t_connected == 0 && w->next_start == w->nconns &&
	    w->connecting == 0)
		w->t_connected = bench_now();
}

/* Whether no connection of w is left to run, now or later. */
bool
bench_conn_all_done(struct bench_loop *w)
{
	return (w->open == 0 && w->next_start == w->nconns &&
	    TAILQ_EMPTY(&w->waitq));
}

/* Leave w's event loop once no connection is left to run. */
void
bench_conn_check_done(struct bench_loop *w)
{
	if (bench_conn_all_done(w))
		event_base_loopbreak(w->base);
}

/* Close c, if open, and take it off the -r queue; it may start again. */
void
bench_conn_close(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;

	if (c->parked) {
		TAILQ_REMOVE(&w->waitq, c, wait_entry);
		c->parked = false;
	}
	if (c->state == BENCH_CONN_IDLE)
		return;
	if (c->state == BENCH_CONN_CONNECTING ||
	    c->state == BENCH_CONN_HANDSHAKING)
		w->connecting--;
	event_del(c->rev);
	event_del(c->wev);
	if (c->ssl != NULL) {
		/* A close_notify when all was said, as a real client's. */
		if (c->state == BENCH_CONN_OPEN && c->inflight == 0)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	c->state = BENCH_CONN_IDLE;
	w->open--;
}

/* Hold c back until the -r rate allows it to go on. */
void
bench_conn_park(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;
	struct timeval		 tv;

	if (!c->parked) {
		TAILQ_INSERT_TAIL(&w->waitq, c, wait_entry);
		c->parked = true;
	}
	if (!w->rate_armed) {
		tv.tv_sec = 0;
		tv.tv_usec = BENCH_RATE_TICK_US;
		evtimer_add(w->rate_ev, &tv);
		w->rate_armed = true;
	}
}

/* Queue messages until -p are in flight, then send them. */
void
bench_conn_fill(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	size_t			 size = b->o.size;
	uint64_t		 now = 0;
	char			*msg;

	if (c->state != BENCH_CONN_OPEN || w->stopping)
		return;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len);
		c->out_off = 0;
	}
	while (c->inflight < b->o.pipeline) {
		if (b->o.churn) {
			if (c->send_seq > 0)
				break;
		} else {
			if (w->quota == 0)
				break;
			if (w->rate > 0 && !bench_loop_rate_ok(w)) {
				bench_conn_park(c);
				break;
			}
			w->quota--;
			w->rate_sent++;
		}
		if (now == 0)
			now = bench_now();
		msg = c->out + c->out_len;
		memcpy(msg, w->pattern + c->id % BENCH_ALPHABET_LEN, size - 1);
		msg[size - 1] = '\n';
		bench_conn_stamp(b, msg, c->send_seq);
		c->sent_ns[(c->ring_head + c->inflight) % b->o.pipeline] =
		    b->o.churn ? c->cycle_start : now;
		c->inflight++;
		c->send_seq++;
		c->out_len += size;
		w->st.sent++;
	}
	/* With a write pending, the write callback sends the rest. */
	if (c->out_len > 0 && !event_pending(c->wev, EV_WRITE, NULL))
		bench_conn_flush(c);
	if (c->state == BENCH_CONN_OPEN && c->inflight == 0 && !c->parked) {
		/* Nothing owed and nothing left to send: -n is reached. */
		bench_conn_close(c);
		bench_conn_check_done(w);
	}
}

/*
 * Send what is queued; on a partial write wait for the socket.  TLS: an
 * SSL_write that wants to read first (a key update) is tried again when
 * the read callback calls bench_conn_fill().
 */
static void
bench_conn_flush(struct bench_conn *c)
{
	ssize_t	n;
	int	r, err;

	if (c->ssl != NULL) {
		ERR_clear_error();
		if ((r = SSL_write(c->ssl, c->out + c->out_off,
		    (int)c->out_len)) > 0)
			n = r;
		else if ((err = SSL_get_error(c->ssl, r)) ==
		    SSL_ERROR_WANT_WRITE) {
			event_add(c->wev, NULL);
			return;
		} else if (err == SSL_ERROR_WANT_READ)
			return;
		else {
			bench_conn_tls_failed(c, err);
			return;
		}
	} else if ((n = send(c->fd, c->out + c->out_off, c->out_len,
	    MSG_NOSIGNAL | MSG_DONTWAIT)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			bench_conn_failed(c, errno);
			return;
		}
		n = 0;
	}
	c->w->st.bytes_out += (size_t)n;
	c->out_off += (size_t)n;
	c->out_len -= (size_t)n;
	if (c->out_len > 0)
		event_add(c->wev, NULL);
	else
		c->out_off = 0;
}

/*
 * A TLS call on c failed with err (SSL_get_error()'s): keep the first
 * reason of the loop for the report, then as bench_conn_failed().
 */
static void
bench_conn_tls_failed(struct bench_conn *c, int err)
{
	struct bench_stats	*st = &c->w->st;
	char			*why;
	char			 buf[128];

	why = c->state == BENCH_CONN_OPEN ? st->close_why : st->connect_why;
	tlscli_reason(c->ssl, err, buf, sizeof(buf));
	if (why[0] == '\0')
		snprintf(why, sizeof(st->close_why), "%s", buf);
	bench_conn_failed(c, EPROTO);
}

/* c failed to connect (IDLE, CONNECTING, HANDSHAKING) or broke (OPEN). */
static void
bench_conn_failed(struct bench_conn *c, int error)
{
	struct bench_loop	*w = c->w;

	/*
	 * EOF (0) or a reset: the ways a server hangs up on purpose.  A
	 * reset can beat the handshake's end to us (echod's refuse): the
	 * server accepted, so that is a hang-up too, not a refusal.
	 */
	if (w->b->o.expect_close && ((c->state == BENCH_CONN_OPEN &&
	    (error == 0 || error == ECONNRESET || error == EPIPE)) ||
	    (c->state == BENCH_CONN_CONNECTING && error == ECONNRESET))) {
		bench_conn_scripted(c);
		return;
	}
	if (c->state == BENCH_CONN_OPEN) {
		w->st.closed_early++;
		w->st.unanswered += c->inflight;
		if (w->st.close_errno == 0)
			w->st.close_errno = error;
	} else {
		w->st.connect_errors++;
		if (w->st.connect_errno == 0)
			w->st.connect_errno = error;
	}
	bench_conn_close(c);
	/* A failed slot is not retried: the run ends sooner, non-zero. */
	bench_conn_start_more(w);
	bench_conn_check_done(w);
}

/*
 * --expect-close: the server hung up on c as it was told to.  Count it,
 * and what it cut, and connect again while the run wants messages.
 */
static void
bench_conn_scripted(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;

	w->st.scripted++;
	w->st.cut += c->inflight;
	bench_conn_close(c);
	if (!w->stopping && (w->b->o.churn || w->quota > 0))
		bench_conn_start(c);
	bench_conn_check_done(w);
}

/* A reply was not what we sent: count it, show the first, give up c. */
static void
bench_conn_wrong(struct bench_conn *c, const char *got, size_t len)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	size_t			 i, rlen, at;

	w->st.wrong++;
	if (!__atomic_exchange_n(&b->reported_wrong, true, __ATOMIC_RELAXED)) {
		rlen = b->o.size - b->o.strip;
		at = c->recv_off;
		for (i = 0; i < len && at + i < rlen; i++)
			if (got[i] != c->expect[b->o.strip + at + i])
				break;
		if (c->inflight == 0 || i == len || at + i == rlen)
			fprintf(stderr, "echocli bench: connection %u: %zu "
			    "bytes nobody asked for\n", c->id, len);
		else
			fprintf(stderr, "echocli bench: connection %u: "
			    "reply %" PRIu64 " differs at byte %zu: expected "
			    "0x%02x, got 0x%02x\n", c->id, c->recv_seq,
			    at + i, (unsigned char)c->expect[b->o.strip +
			    at + i], (unsigned char)got[i]);
	}
	/* The stream is out of step: nothing after this can be trusted. */
	if (c->inflight > 0)
		c->inflight--;
	w->st.unanswered += c->inflight;
	bench_conn_close(c);
	bench_conn_start_more(w);
	bench_conn_check_done(w);
}

/*
 * Check len bytes of replies against what is owed; count the complete
 * ones.  Returns -1 if c was closed because they were wrong.
 */
static int
bench_conn_verify(struct bench_conn *c, const char *buf, size_t len)
{
	struct bench_loop	*w = c->w;
	struct bench		*b = w->b;
	size_t			 rlen, m;
	uint64_t		 now = 0;

	rlen = b->o.size - b->o.strip;
	while (len > 0) {
		m = rlen - c->recv_off;
		if (m > len)
			m = len;
		if (c->inflight == 0 || memcmp(buf, c->expect + b->o.strip +
		    c->recv_off, m) != 0) {
			bench_conn_wrong(c, buf, len);
			return (-1);
		}
		c->recv_off += m;
		buf += m;
		len -= m;
		if (c->recv_off < rlen)
			break;
		/* A whole reply: one clock read serves the batch. */
		if (now == 0)
			w->t_last = now = bench_now();
		hist_record(w->hist, now - c->sent_ns[c->ring_head]);
		c->ring_head = (c->ring_head + 1) % b->o.pipeline;
		c->inflight--;
		c->recv_seq++;
		c->recv_off = 0;
		bench_conn_stamp(b, c->expect, c->recv_seq);
		__atomic_store_n(&w->st.msgs, w->st.msgs + 1,
		    __ATOMIC_RELAXED);
	}
	return (0);
}

/* The handshake ended, or the socket can take more of a partial write. */
static void
bench_conn_writecb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	struct bench_loop	*w = c->w;
	socklen_t		 len;
	int			 error = 0;

	if (c->state == BENCH_CONN_OPEN) {
		bench_conn_flush(c);
		return;
	}
	if (c->state == BENCH_CONN_HANDSHAKING) {
		bench_conn_handshake(c, what);
		return;
	}
	if (what & EV_TIMEOUT)
		error = ETIMEDOUT;
	else {
		len = sizeof(error);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
			error = errno;
	}
	if (error != 0) {
		bench_conn_failed(c, error);
		return;
	}
	/* The header goes out with the first message, in one send. */
	if (w->b->o.proxy != 0 && bench_proxy_header(w->b, c->fd, c->out,
	    &c->out_len) == -1) {
		bench_conn_failed(c, errno);
		return;
	}
	if (w->b->tls == NULL) {
		bench_conn_opened(c);
		return;
	}
	/* TLS: the header first, alone, in the clear (it fits a new socket). */
	if (c->out_len > 0) {
		if (send(fd, c->out, c->out_len, MSG_NOSIGNAL) !=
		    (ssize_t)c->out_len) {
			bench_conn_failed(c, errno != 0 ? errno : EAGAIN);
			return;
		}
		w->st.bytes_out += c->out_len;
		c->out_len = 0;
	}
	if ((c->ssl = tlscli_ssl_new(w->b->tls, &w->b->o.tls, w->b->o.host,
	    fd)) == NULL) {
		bench_conn_failed(c, ENOMEM);
		return;
	}
	c->state = BENCH_CONN_HANDSHAKING;
	bench_conn_handshake(c, 0);
}

/* The handshake is over (TCP's, and TLS's with --tls): c is open. */
static void
bench_conn_opened(struct bench_conn *c)
{
	struct bench_loop	*w = c->w;

	w->connecting--;
	c->state = BENCH_CONN_OPEN;
	w->st.connected++;
	/* Without the timeout the TLS handshake may have left on it. */
	event_del(c->rev);
	event_add(c->rev, NULL);
	bench_conn_start_more(w);
	bench_conn_fill(c);
}

/*
 * Take the TLS handshake of c a step further, after what happened on the
 * socket: it waits at most -t seconds for each of its reads and writes.
 */
static void
bench_conn_handshake(struct bench_conn *c, short what)
{
	struct bench		*b = c->w->b;
	struct timeval		 tv;
	int			 r, err;

	if (what & EV_TIMEOUT) {
		bench_conn_failed(c, ETIMEDOUT);
		return;
	}
	ERR_clear_error();
	if ((r = SSL_connect(c->ssl)) == 1) {
		event_del(c->wev);
		bench_conn_opened(c);
		return;
	}
	tv.tv_sec = (time_t)b->o.timeout;
	tv.tv_usec = (suseconds_t)((b->o.timeout - (double)tv.tv_sec) * 1e6);
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		event_del(c->wev);
		event_add(c->rev, &tv);
	} else if (err == SSL_ERROR_WANT_WRITE) {
		event_del(c->rev);
		event_add(c->wev, &tv);
	} else
		bench_conn_tls_failed(c, err);
}

/*
 * recv(2) on c, or SSL_read with --tls: bytes, 0 at the end, or -1 with
 * errno (EAGAIN: nothing now; EPROTO: closed, the reason kept).
 */
static ssize_t
bench_conn_recv(struct bench_conn *c, char *buf, size_t len)
{
	int	r, err;

	if (c->ssl == NULL)
		return (recv(c->fd, buf, len, 0));
	ERR_clear_error();
	if ((r = SSL_read(c->ssl, buf, (int)len)) > 0)
		return (r);
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		/* WANT_WRITE (a key update): the write event sends it. */
		if (err == SSL_ERROR_WANT_WRITE)
			event_add(c->wev, NULL);
		errno = EAGAIN;
		return (-1);
	}
	if (err == SSL_ERROR_ZERO_RETURN)
		return (0);
	bench_conn_tls_failed(c, err);
	errno = EPROTO;
	return (-1);
}

/* Replies arrived: verify them, then keep -p messages in flight. */
static void
bench_conn_readcb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	struct bench_loop	*w = c->w;
	ssize_t			 n;
	int			 i;

	if (c->state == BENCH_CONN_HANDSHAKING) {
		bench_conn_handshake(c, what);
		return;
	}
	for (i = 0; i < BENCH_READS_MAX; i++) {
		n = bench_conn_recv(c, w->rbuf, BENCH_READSZ);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* EPROTO: bench_conn_recv() closed it. */
			if (errno != EPROTO)
				bench_conn_failed(c, errno);
			return;
		}
		if (n == 0) {
			/* The server closed while we still expected data. */
			bench_conn_failed(c, 0);
			return;
		}
		w->st.bytes_in += (size_t)n;
		if (bench_conn_verify(c, w->rbuf, (size_t)n) == -1)
			return;
		/*
		 * A short read emptied the socket; SSL_read returns one
		 * record (16 KiB) at most, which says nothing of the socket:
		 * read on, up to the limit.
		 */
		if (n < BENCH_READSZ && c->ssl == NULL)
			break;
	}
	if (w->b->o.churn && c->inflight == 0) {
		/* One cycle done: close and go again. */
		bench_conn_close(c);
		if (!w->stopping)
			bench_conn_start(c);
		bench_conn_check_done(w);
		return;
	}
	if (w->stopping) {
		if (c->inflight == 0) {
			bench_conn_close(c);
			bench_conn_check_done(w);
		}
		return;
	}
	bench_conn_fill(c);
}
