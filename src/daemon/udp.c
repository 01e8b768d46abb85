/*
 * udp.c: datagram echo, the reflection guard and the per-source rate
 * limit; and a delay (echod.conf(5), delay, jitter): the replies of a
 * delay listener wait in its queue (udp_delay.c), checked and rate
 * limited on arrival, and one timer per listener sends those due.  A
 * reply that finds the queue full is dropped as one that finds the send
 * buffer full (reason "send"): both are a lack of room to send.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "jitter.h"
#include "log.h"
#include "ratelimit.h"
#include "reflector.h"
#include "slot.h"
#include "stamp.h"
#include "strip.h"
#include "timer.h"
#include "udp.h"
#include "udp_delay.h"

#define UDP_BATCH	32	/* datagrams per recvmmsg() and sendmmsg() */
#define UDP_ROUNDS	4	/* batches per read event: others get a turn */
#define UDP_SLOT	65536	/* > the largest max_datagram + 1 */
#define UDP_PORT_MIN	1024	/* lower source ports may be services */
#define UDP_LOG_USEC	(60 * 1000000ull)	/* one drop entry a minute */

/* Why a datagram got no answer. */
enum udp_drop {
	UDP_DROP_RATE,		/* its source used up its token bucket */
	UDP_DROP_PORT,		/* source port below UDP_PORT_MIN */
	UDP_DROP_ADDR,		/* from or to broadcast, multicast, 0/8 */
	UDP_DROP_SIZE,		/* over max_datagram, or truncated */
	UDP_DROP_SEND,		/* send buffer full, or the send failed */
	UDP_DROP_STAMP,		/* no STAMP test packet */
	UDP_NDROPS
};

static const char *const udp_drop_fields[UDP_NDROPS] = {
	"ECHOD_UDP_DROPPED_RATE",
	"ECHOD_UDP_DROPPED_PORT",
	"ECHOD_UDP_DROPPED_ADDRESS",
	"ECHOD_UDP_DROPPED_SIZE",
	"ECHOD_UDP_DROPPED_SEND",
	"ECHOD_UDP_DROPPED_STAMP"
};

/* Room for one IPv4 and one IPv6 packet-info message. */
union udp_cmsg {
	struct cmsghdr	hdr;
	/* Room for both packet infos and a little more (a passed socket
	 * may have other options on), so neither is ever cut off. */
	char		buf[CMSG_SPACE(sizeof(struct in_pktinfo)) +
			    CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			    CMSG_SPACE(64) +
			    /* STAMP: the receive time and the TTL */
			    CMSG_SPACE(sizeof(struct timespec)) +
			    CMSG_SPACE(sizeof(int))];
};

/*
 * Everything one batch needs, allocated once: nothing is allocated per
 * datagram.  The slots are large enough for any max_datagram; pages
 * the kernel never writes to stay virtual.
 */
struct udp {
	struct event		*ev;
	int			 fd;
	struct conf		*conf;		/* reference for lc */
	const struct listener_conf *lc;
	struct ratelimit	*rl;
	struct slot_cell	*cell;		/* the listener's counters */
	struct reflector	*rf;		/* protocol = "stamp" */
	struct udp_delay	 dq;		/* delay: replies not yet due */
	struct event		*dtimer;	/* for the first of them */
	uint64_t		 jitter;	/* the draws' state */
	unsigned char		*slots;		/* UDP_BATCH * UDP_SLOT */
	struct mmsghdr		 in[UDP_BATCH];
	struct iovec		 iin[UDP_BATCH];
	struct sockaddr_storage	 peer[UDP_BATCH];
	union udp_cmsg		 cin[UDP_BATCH];
	struct mmsghdr		 out[UDP_BATCH];
	struct iovec		 iout[UDP_BATCH];
	union udp_cmsg		 cout[UDP_BATCH];
};

/* Why a datagram got no answer, as echod_udp_datagrams_total says. */
static const enum slot_counter udp_drop_counters[UDP_NDROPS] = {
	[UDP_DROP_RATE] = SC_UDP_DROPPED_RATE,
	[UDP_DROP_PORT] = SC_UDP_DROPPED_GUARD,
	[UDP_DROP_ADDR] = SC_UDP_DROPPED_GUARD,
	[UDP_DROP_SIZE] = SC_UDP_DROPPED_SIZE,
	[UDP_DROP_SEND] = SC_UDP_DROPPED_SEND,
	[UDP_DROP_STAMP] = SC_UDP_DROPPED_STAMP
};

/* Counters of every UDP listener; the main loop alone touches them. */
static struct {
	unsigned int	 count;			/* struct udp alive */
	uint64_t	 dropped[UDP_NDROPS];	/* since start */
	uint64_t	 logged[UDP_NDROPS];	/* at the last entry */
	uint64_t	 stateless;		/* STAMP, no session room */
	uint64_t	 logged_stateless;
	uint64_t	 last_log;		/* usec of the last entry */
} udp_state;

static void	udp_read(evutil_socket_t, short, void *);
static void	udp_due(evutil_socket_t, short, void *);

/* Ask for each datagram's destination, so replies leave from it. */
static int
udp_sockopts(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	int			on = 1, off = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return (-1);
	/* A passed socket may allow broadcast (Broadcast=yes): an echo
	 * must never answer a whole subnet. */
	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &off, sizeof(off)) == -1)
		return (-1);
	if (ss.ss_family == AF_INET)
		return (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)));
	if (ss.ss_family != AF_INET6) {
		errno = EAFNOSUPPORT;
		return (-1);
	}
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
	    sizeof(on)) == -1)
		return (-1);
	/*
	 * IPv4 datagrams on a dual-stack socket: IP_PKTINFO adds the local
	 * address the kernel would answer from, which tells a directed
	 * broadcast from unicast.  Refused on an IPv6-only socket, which
	 * gets no IPv4 anyway.
	 */
	(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	return (0);
}

/* A new echo on fd; see udp.h. */
struct udp *
udp_new(struct event_base *base, int fd, struct slots *sl, char **cause)
{
	struct udp	*u;
	size_t		 i;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		goto fail;
	udp_state.count++;
	u->fd = fd;
	/* The main loop's cell: datagrams are answered there. */
	u->cell = slots_cell(sl, 0);
	if ((u->slots = malloc(UDP_BATCH * UDP_SLOT)) == NULL ||
	    (u->rl = ratelimit_new(RATELIMIT_ENTRIES, 0)) == NULL ||
	    (u->rf = reflector_new()) == NULL ||
	    udp_sockopts(fd) == -1)
		goto fail;
	u->ev = event_new(base, fd, EV_READ | EV_PERSIST, udp_read, u);
	u->dtimer = evtimer_new(base, udp_due, u);
	if (u->ev == NULL || u->dtimer == NULL)
		goto fail;
	for (i = 0; i < UDP_BATCH; i++) {
		u->iin[i].iov_base = u->slots + i * UDP_SLOT;
		u->iin[i].iov_len = CONF_UDP_DATAGRAM_DEFAULT + 1;
		u->in[i].msg_hdr.msg_iov = &u->iin[i];
		u->in[i].msg_hdr.msg_iovlen = 1;
		u->in[i].msg_hdr.msg_name = &u->peer[i];
		u->in[i].msg_hdr.msg_control = &u->cin[i];
	}
	return (u);
fail:
	if (asprintf(cause, "cannot serve datagram socket %d: %s", fd,
	    strerror(errno)) == -1)
		*cause = NULL;
	udp_free(u);
	return (NULL);
}

/* New datagrams are answered with lc's settings. */
void
udp_configure(struct udp *u, struct conf *conf,
    const struct listener_conf *lc)
{
	struct conf	*old = u->conf;
	size_t		 i, len;

	u->conf = config_ref(conf);
	u->lc = lc;
	/* One byte more than allowed: a longer datagram shows as such. */
	len = (size_t)lc->max_datagram + 1;
	if (len > UDP_SLOT)
		len = UDP_SLOT;
	for (i = 0; i < UDP_BATCH; i++)
		u->iin[i].iov_len = len;
	/* A seed per listener, logged: a run can be repeated. */
	u->jitter = ((uint64_t)strtoul(conf->instance, NULL, 16) << 32) ^
	    (uint64_t)u->fd;
	if (lc->jitter_usec != 0)
		log_debug("%s: jitter seed %016" PRIx64, lc->name, u->jitter);
	/* Left on if a reload makes it an echo again: they cost little. */
	if (lc->stamp && reflector_sockopts(u->fd) == -1)
		log_warn("STAMP on %s: receive timestamps and TTL", lc->name);
	config_unref(old);
}

/* Start answering. */
int
udp_enable(struct udp *u)
{
	return (event_add(u->ev, NULL));
}

/* Stop answering and free; the listener closes the socket. */
void
udp_free(struct udp *u)
{
	if (u == NULL)
		return;
	if (u->ev != NULL)
		event_free(u->ev);
	if (u->dtimer != NULL)
		event_free(u->dtimer);
	udp_delay_clear(&u->dq);
	ratelimit_free(u->rl);
	reflector_free(u->rf);
	free(u->slots);
	config_unref(u->conf);
	udp_state.count--;
	free(u);
}

/* UDP echo objects alive. */
unsigned int
udp_count(void)
{
	return (udp_state.count);
}

/* Datagrams dropped since start. */
uint64_t
udp_dropped(void)
{
	uint64_t	n = 0;
	int		i;

	for (i = 0; i < UDP_NDROPS; i++)
		n += udp_state.dropped[i];
	return (n);
}

/* Whether an IPv4 address (network order) may not be answered: 0/8,
 * multicast 224/4, reserved 240/4 with the limited broadcast. */
static bool
udp_bad_v4(in_addr_t addr)
{
	uint32_t	a = ntohl(addr);

	return ((a >> 24) == 0 || a >= 0xe0000000u);
}

/*
 * Check a datagram's source and make its rate-limit key (IPv4 as
 * ::ffff:a.b.c.d, so a dual-stack socket and an IPv4 one agree; the
 * scope zero: each socket has a table of its own).
 * Returns a drop cause, or UDP_NDROPS when the source may be answered.
 */
static enum udp_drop
udp_check_source(const struct sockaddr_storage *ss, socklen_t len,
    uint8_t key[RATELIMIT_KEYLEN])
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	in_addr_t			 v4;
	uint16_t			 port;

	memset(key, 0, RATELIMIT_KEYLEN);
	if (ss->ss_family == AF_INET && len >= sizeof(*sin)) {
		v4 = sin->sin_addr.s_addr;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &v4, sizeof(v4));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6 && len >= sizeof(*sin6)) {
		memcpy(key, &sin6->sin6_addr, RATELIMIT_ADDRLEN);
		port = ntohs(sin6->sin6_port);
		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			if (IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr) ||
			    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
				return (UDP_DROP_ADDR);
			goto port;
		}
		memcpy(&v4, key + 12, sizeof(v4));
	} else
		return (UDP_DROP_ADDR);
	if (udp_bad_v4(v4))
		return (UDP_DROP_ADDR);
port:
	/* 0 cannot be answered; the rest may be echo, chargen, ...:
	 * answering one service with another is a packet storm. */
	if (port < UDP_PORT_MIN)
		return (UDP_DROP_PORT);
	return (UDP_NDROPS);
}

/*
 * Find where a datagram was sent, refuse it if that was a broadcast or
 * multicast address (one request, many answers), and put the packet
 * info for the reply into out: the reply leaves from that address.
 * Returns the control length to send (0: none came, let the kernel
 * choose), or -1 to drop.
 */
static ssize_t
udp_check_dest(const struct msghdr *in, union udp_cmsg *out)
{
	struct cmsghdr		*c, *oc = &out->hdr;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;
	in_addr_t		 v4;
	bool			 have4 = false, have6 = false;

	for (c = CMSG_FIRSTHDR(in); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(pi))) {
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			have4 = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(pi6))) {
			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			have6 = true;
		}
	}
	memset(out, 0, sizeof(*out));
	if (have4) {
		/*
		 * ipi_addr is where it was sent, ipi_spec_dst the local
		 * address the kernel would answer from: they differ for a
		 * directed broadcast.  The interface is left to routing.
		 */
		if (udp_bad_v4(pi.ipi_addr.s_addr))
			return (-1);
		/* Queued before IP_PKTINFO was set (a passed socket): the
		 * kernel has no local address for it; let it choose. */
		if (pi.ipi_spec_dst.s_addr == INADDR_ANY)
			return (0);
		if (pi.ipi_addr.s_addr != pi.ipi_spec_dst.s_addr)
			return (-1);
		pi.ipi_ifindex = 0;
		pi.ipi_addr.s_addr = 0;
		oc->cmsg_level = IPPROTO_IP;
		oc->cmsg_type = IP_PKTINFO;
		oc->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(oc), &pi, sizeof(pi));
		return (CMSG_SPACE(sizeof(pi)));
	}
	if (have6) {
		if (IN6_IS_ADDR_MULTICAST(&pi6.ipi6_addr))
			return (-1);
		memcpy(&v4, &pi6.ipi6_addr.s6_addr[12], sizeof(v4));
		if (IN6_IS_ADDR_V4MAPPED(&pi6.ipi6_addr) && udp_bad_v4(v4))
			return (-1);
		/* The interface stays: link-local addresses need it. */
		oc->cmsg_level = IPPROTO_IPV6;
		oc->cmsg_type = IPV6_PKTINFO;
		oc->cmsg_len = CMSG_LEN(sizeof(pi6));
		memcpy(CMSG_DATA(oc), &pi6, sizeof(pi6));
		return (CMSG_SPACE(sizeof(pi6)));
	}
	return (0);
}

/*
 * Send the n replies of a batch.  A full send buffer drops the rest of
 * the batch: UDP is lossy, and queueing would make a flood cost memory.
 * Any other failure costs only the datagram it concerns.
 */
static void
udp_send(struct udp *u, unsigned int n)
{
	unsigned int	i = 0, j;
	int		r;

	while (i < n) {
		r = sendmmsg(u->fd, u->out + i, n - i, MSG_DONTWAIT);
		if (r > 0) {
			/* A short count: the next one failed; its error
			 * comes back when it is tried again. */
			slot_count(u->cell, SC_UDP_ECHOED, (unsigned int)r);
			for (j = i; j < i + (unsigned int)r; j++)
				slot_count(u->cell, SC_SENT,
				    u->iout[j].iov_len);
			i += (unsigned int)r;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS)) {
			udp_state.dropped[UDP_DROP_SEND] += n - i;
			slot_count(u->cell, SC_UDP_DROPPED_SEND, n - i);
			return;
		}
		log_debug("udp send on %s: %s", u->lc->name, strerror(errno));
		udp_state.dropped[UDP_DROP_SEND]++;
		slot_count(u->cell, SC_UDP_DROPPED_SEND, 1);
		i++;
	}
}

/* Set the delay's timer for the first reply due, if any. */
static void
udp_arm(struct udp *u)
{
	uint64_t	 at = udp_delay_due(&u->dq), now = timer_now();
	struct timeval	 tv = { 0, 0 };

	if (at == UINT64_MAX) {
		evtimer_del(u->dtimer);
		return;
	}
	if (at > now) {
		tv.tv_sec = (time_t)((at - now) / 1000000);
		tv.tv_usec = (suseconds_t)((at - now) % 1000000);
	}
	if (evtimer_add(u->dtimer, &tv) == -1)
		log_warnx("delay on %s: no timer", u->lc->name);
}

/*
 * Queue the n replies of a batch, each due delay plus a draw of jitter
 * from now; a full queue drops it.
 */
static void
udp_queue(struct udp *u, unsigned int n, uint64_t now)
{
	const struct listener_conf *lc = u->lc;
	unsigned int		 i;
	uint64_t		 due;

	for (i = 0; i < n; i++) {
		due = now + lc->delay_usec;
		if (lc->jitter_usec != 0)
			due += jitter_draw(&u->jitter, lc->jitter_usec);
		if (!udp_delay_push(&u->dq, due, &u->out[i].msg_hdr,
		    u->iout[i].iov_base, u->iout[i].iov_len)) {
			udp_state.dropped[UDP_DROP_SEND]++;
			slot_count(u->cell, SC_UDP_DROPPED_SEND, 1);
		}
	}
	udp_arm(u);
}

/*
 * The delay's timer: send the replies due, a batch at a time, from the
 * batch's buffers (free between two reads on this loop).
 */
static void
udp_due(evutil_socket_t fd, short what, void *arg)
{
	struct udp	*u = arg;
	struct msghdr	*out;
	uint64_t	 now = timer_now();
	unsigned int	 k = 0;

	(void)fd;
	(void)what;
	while (udp_delay_due(&u->dq) <= now) {
		out = &u->out[k].msg_hdr;
		memset(out, 0, sizeof(*out));
		out->msg_name = &u->peer[k];
		out->msg_control = &u->cout[k];
		out->msg_iov = &u->iout[k];
		out->msg_iovlen = 1;
		u->iout[k].iov_base = u->slots + k * UDP_SLOT;
		u->iout[k].iov_len = udp_delay_pop(&u->dq,
		    u->iout[k].iov_base, out);
		if (out->msg_controllen == 0)
			out->msg_control = NULL;
		if (++k == UDP_BATCH) {
			udp_send(u, k);
			k = 0;
		}
	}
	if (k > 0)
		udp_send(u, k);
	udp_arm(u);
}

/* The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:0:0/96). */
static const uint8_t udp_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Check and answer the n datagrams of a batch. */
static void
udp_answer(struct udp *u, unsigned int n)
{
	const struct listener_conf *lc = u->lc;
	struct msghdr		*in, *out;
	enum udp_drop		 why;
	uint8_t			 key[RATELIMIT_KEYLEN];
	uint64_t		 now = timer_now();
	unsigned int		 i, k = 0;
	unsigned char		*data;
	size_t			 len, drop;
	ssize_t			 ctl = 0;
	bool			 stateless;

	for (i = 0; i < n; i++) {
		in = &u->in[i].msg_hdr;
		len = u->in[i].msg_len;
		data = u->iin[i].iov_base;
		slot_count(u->cell, SC_RECEIVED, len);
		why = udp_check_source(&u->peer[i], in->msg_namelen, key);
		/* Part of it would be lost: RFC 862 wants all of it. */
		if (why == UDP_NDROPS &&
		    ((in->msg_flags & MSG_TRUNC) || len > lc->max_datagram))
			why = UDP_DROP_SIZE;
		/* Too short for a test packet: before it costs a token. */
		if (why == UDP_NDROPS && lc->stamp && len < STAMP_MIN)
			why = UDP_DROP_STAMP;
		/* Packet info cut off: the destination cannot be checked. */
		if (why == UDP_NDROPS && ((in->msg_flags & MSG_CTRUNC) ||
		    (ctl = udp_check_dest(in, &u->cout[k])) == -1))
			why = UDP_DROP_ADDR;
		if (why != UDP_NDROPS) {
			udp_state.dropped[why]++;
			slot_count(u->cell, udp_drop_counters[why], 1);
			continue;
		}
		/*
		 * An IPv6 host usually owns a whole /64: one bucket for it,
		 * or a forger would get a fresh one per address (IPv4-mapped
		 * keys keep all 128 bits, their address is in the low 32).
		 */
		if (memcmp(key, udp_v4mapped, sizeof(udp_v4mapped)) != 0)
			memset(key + 8, 0, 8);
		/* Last: only datagrams we would answer spend tokens. */
		if (!ratelimit_take(u->rl, key, now, lc->udp_rate,
		    lc->udp_burst)) {
			udp_state.dropped[UDP_DROP_RATE]++;
			slot_count(u->cell, SC_UDP_DROPPED_RATE, 1);
			continue;
		}
		if (lc->stamp) {
			len = reflector_answer(u->rf, lc, data, len, UDP_SLOT,
			    in, &u->peer[i], now, &stateless);
			if (stateless) {
				udp_state.stateless++;
				slot_count(u->cell, SC_STAMP_STATELESS, 1);
			}
			if (len == 0) {
				ratelimit_give(u->rl, key, lc->udp_burst);
				udp_state.dropped[UDP_DROP_STAMP]++;
				slot_count(u->cell, SC_UDP_DROPPED_STAMP, 1);
				continue;
			}
			drop = 0;
		} else
			drop = strip_message(lc->strip, data, len);
		u->iout[k].iov_base = data + drop;
		u->iout[k].iov_len = len - drop;
		out = &u->out[k].msg_hdr;
		out->msg_name = &u->peer[i];
		out->msg_namelen = in->msg_namelen;
		out->msg_iov = &u->iout[k];
		out->msg_iovlen = 1;
		out->msg_control = ctl > 0 ? &u->cout[k] : NULL;
		out->msg_controllen = (size_t)ctl;
		out->msg_flags = 0;
		k++;
	}
	/* STAMP's transmit timestamps: as late as they can be written. */
	for (i = 0; lc->stamp && i < k; i++)
		reflector_transmit(u->iout[i].iov_base);
	/* Behind those still waiting too, after a reload ended the delay. */
	if (k > 0 && (lc->delay_usec != 0 || lc->jitter_usec != 0 ||
	    u->dq.n > 0))
		udp_queue(u, k, now);
	else if (k > 0)
		udp_send(u, k);
}

/*
 * The socket is readable: answer up to UDP_ROUNDS batches, then return
 * to the loop even if more wait, so TCP and signals are not starved
 * (the event is level-triggered: it fires again at once).
 */
static void
udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct udp	*u = arg;
	struct msghdr	*in;
	int		 round, i, n;

	for (round = 0; round < UDP_ROUNDS; round++) {
		for (i = 0; i < UDP_BATCH; i++) {
			in = &u->in[i].msg_hdr;
			in->msg_namelen = sizeof(u->peer[i]);
			in->msg_controllen = sizeof(u->cin[i]);
			in->msg_flags = 0;
		}
		n = recvmmsg(fd, u->in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_debug("udp receive on %s: %s",
				    u->lc->name, strerror(errno));
			return;
		}
		udp_answer(u, (unsigned int)n);
		if (n < UDP_BATCH)
			return;
	}
}

/* Once a second: the drop entry, when there is news and a minute has
 * passed since the last one. */
void
udp_tick(void)
{
	struct log_field	 f[UDP_NDROPS + 2];
	char			 v[UDP_NDROPS + 2][24];
	uint64_t		 d[UDP_NDROPS], total = 0, now = timer_now();
	uint64_t		 sl;
	int			 i;

	if (udp_state.last_log != 0 && now - udp_state.last_log < UDP_LOG_USEC)
		return;
	for (i = 0; i < UDP_NDROPS; i++) {
		d[i] = udp_state.dropped[i] - udp_state.logged[i];
		total += d[i];
		snprintf(v[i], sizeof(v[i]), "%llu", (unsigned long long)d[i]);
		f[i].name = udp_drop_fields[i];
		f[i].value = v[i];
	}
	sl = udp_state.stateless - udp_state.logged_stateless;
	if (total == 0 && sl == 0)
		return;
	snprintf(v[UDP_NDROPS], sizeof(v[UDP_NDROPS]), "%llu",
	    (unsigned long long)total);
	f[UDP_NDROPS].name = "ECHOD_UDP_DROPPED";
	f[UDP_NDROPS].value = v[UDP_NDROPS];
	snprintf(v[UDP_NDROPS + 1], sizeof(v[UDP_NDROPS + 1]), "%llu",
	    (unsigned long long)sl);
	f[UDP_NDROPS + 1].name = "ECHOD_STAMP_STATELESS";
	f[UDP_NDROPS + 1].value = v[UDP_NDROPS + 1];
	log_entry(LOG_NOTICE, LOG_MSGID_UDP_DROPS, f, UDP_NDROPS + 2,
	    "dropped %llu UDP datagrams: %llu over the rate limit, "
	    "%llu from ports below %d, %llu from or to broadcast or "
	    "multicast addresses, %llu too large, %llu not sent, "
	    "%llu not STAMP test packets; answered %llu STAMP test packets "
	    "statelessly, without session room",
	    (unsigned long long)total,
	    (unsigned long long)d[UDP_DROP_RATE],
	    (unsigned long long)d[UDP_DROP_PORT], UDP_PORT_MIN,
	    (unsigned long long)d[UDP_DROP_ADDR],
	    (unsigned long long)d[UDP_DROP_SIZE],
	    (unsigned long long)d[UDP_DROP_SEND],
	    (unsigned long long)d[UDP_DROP_STAMP],
	    (unsigned long long)sl);
	memcpy(udp_state.logged, udp_state.dropped, sizeof(udp_state.logged));
	udp_state.logged_stateless = udp_state.stateless;
	udp_state.last_log = now;
}
