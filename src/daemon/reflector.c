/*
 * reflector.c: the STAMP session-reflector of a UDP listener: timestamps,
 * TTL, error estimate and the stateful sessions.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timex.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "reflector.h"
#include "stamp.h"

#define REFLECTOR_WAYS		8	/* sessions per set */
#define REFLECTOR_KEYLEN	24	/* address, port, SSID, zeros */
#define REFLECTOR_EE_USEC	1000000ull	/* adjtimex() once a second */

struct reflector_session {
	uint8_t		 key[REFLECTOR_KEYLEN];
	bool		 used;
	uint32_t	 next;		/* the reflector's next number */
	uint64_t	 last;		/* usec of its last packet */
};

struct reflector {
	uint16_t		  ee;		/* the clock's error estimate */
	uint64_t		  ee_at;	/* usec it was read; 0: never */
	uint64_t		  seed, seed2;	/* the two set hashes */
	struct reflector_session *sessions;	/* on first stateful use */
};

/* A new reflector; see reflector.h. */
struct reflector *
reflector_new(void)
{
	struct reflector	*rf;

	if ((rf = calloc(1, sizeof(*rf))) == NULL)
		return (NULL);
	/* Unknown to whoever picks the sources: no aiming at one set. */
	if (getrandom(&rf->seed, sizeof(rf->seed), GRND_NONBLOCK) !=
	    sizeof(rf->seed) || getrandom(&rf->seed2, sizeof(rf->seed2),
	    GRND_NONBLOCK) != sizeof(rf->seed2)) {
		rf->seed = (uint64_t)time(NULL) ^ (uintptr_t)rf;
		rf->seed2 = rf->seed * 0x9e3779b97f4a7c15ull + 1;
	}
	return (rf);
}

/* Free a reflector and its sessions. */
void
reflector_free(struct reflector *rf)
{
	if (rf == NULL)
		return;
	free(rf->sessions);
	free(rf);
}

/* The receive timestamp and the TTL (IPv4, also on a dual-stack socket)
 * or hop limit (IPv6) of each datagram. */
int
reflector_sockopts(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	int			on = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) == -1)
		return (-1);
	if (ss.ss_family == AF_INET)
		return (setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on,
		    sizeof(on)));
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on,
	    sizeof(on)) == -1)
		return (-1);
	/* Refused on an IPv6-only socket, which gets no IPv4 anyway. */
	(void)setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	return (0);
}

/*
 * The error estimate of the realtime clock (RFC 4656 section 4.1.2):
 * synchronised unless the kernel says STA_UNSYNC or TIME_ERROR, and its
 * maxerror, the bound NTP daemons keep there, rounded up.  Read again
 * after a second: adjtimex() is a system call, and the figures move
 * slowly.  Refused (a system call filter), nothing is known.
 */
static uint16_t
reflector_ee(struct reflector *rf, uint64_t now)
{
	struct timex	tx;
	int		st;
	bool		sync;

	if (rf->ee_at != 0 && now - rf->ee_at < REFLECTOR_EE_USEC)
		return (rf->ee);
	memset(&tx, 0, sizeof(tx));	/* modes 0: read only */
	if ((st = adjtimex(&tx)) == -1)
		rf->ee = STAMP_EE_MAX;
	else {
		sync = st != TIME_ERROR && !(tx.status & STA_UNSYNC);
		rf->ee = stamp_ee_encode(sync, tx.maxerror > 0 ?
		    (uint64_t)tx.maxerror * 1000 : 0);
	}
	rf->ee_at = now;
	return (rf->ee);
}

/* The receive timestamp and TTL of a datagram from its control
 * messages; the time now and TTL 255 when the kernel gave none. */
static void
reflector_cmsgs(const struct msghdr *in, struct timespec *rx, uint8_t *ttl)
{
	struct cmsghdr	*c;
	bool		 have_rx = false;
	int		 v;

	/* None came (queued before IP_RECVTTL was set): 255, "cannot be
	 * determined" in RFC 5357 section 4.2.1, which STAMP follows. */
	*ttl = 255;
	for (c = CMSG_FIRSTHDR(in); c != NULL;
	    c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(*rx))) {
			memcpy(rx, CMSG_DATA(c), sizeof(*rx));
			have_rx = true;
		} else if (((c->cmsg_level == IPPROTO_IP &&
		    c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_HOPLIMIT)) &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v))) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			*ttl = v >= 0 && v <= 255 ? (uint8_t)v : 255;
		}
	}
	/* Queued before SO_TIMESTAMPNS was set (a reload to stamp). */
	if (!have_rx)
		clock_gettime(CLOCK_REALTIME, rx);
}

/* The session key of a packet: the source's address (IPv4 mapped, as
 * udp.c's), its port and the SSID. */
static void
reflector_key(const struct sockaddr_storage *ss, uint16_t ssid,
    uint8_t key[REFLECTOR_KEYLEN])
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	memset(key, 0, REFLECTOR_KEYLEN);
	if (ss->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		memcpy(key + 16, &sin->sin_port, 2);
	} else {
		memcpy(key, &sin6->sin6_addr, 16);
		memcpy(key + 16, &sin6->sin6_port, 2);
	}
	key[18] = ssid >> 8;
	key[19] = ssid & 0xff;
}

/*
 * How many leading octets of a key name its source: an IPv4 address
 * whole, an IPv6 one by its /64, which one host usually owns (as udp.c's
 * rate limit counts it), or a forger would get a fresh quota per address.
 */
static size_t
reflector_srclen(const uint8_t *key)
{
	static const uint8_t	v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return (memcmp(key, v4mapped, sizeof(v4mapped)) == 0 ? 16 : 8);
}

/* A 64-bit finaliser (MurmurHash3's fmix64), as ratelimit.c's. */
static uint64_t
reflector_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (h);
}

/* The hash of the source of key under seed. */
static uint64_t
reflector_hash(uint64_t seed, const uint8_t *key, size_t srclen)
{
	uint64_t	w, h = seed;
	size_t		i;

	for (i = 0; i < srclen; i += sizeof(w)) {
		memcpy(&w, key + i, sizeof(w));
		h = reflector_mix(h ^ w);
	}
	return (h);
}

/*
 * The reflector's next sequence number for the session of key, or -1
 * when there is no room for it (or the table cannot be allocated).
 *
 * A source's sessions live in two sets of REFLECTOR_WAYS, chosen by two
 * hashes of its address (never the same set): a lookup reads 16 slots,
 * and a new session goes to the less loaded set, which fills the table
 * far more evenly than one set would.  A source at REFLECTOR_PER_SOURCE
 * sessions replaces its own oldest: it can push out only itself.  Else a
 * new session takes a free slot, or the least recently used one of both
 * sets if idle REFLECTOR_IDLE_USEC; while none is, -1 (a flood of sources
 * cannot reset the count of a live session).
 */
static int64_t
reflector_next(struct reflector *rf, const uint8_t *key, uint64_t now)
{
	struct reflector_session	*set[2], *s, *lru = NULL, *free_s = NULL;
	struct reflector_session	*mine_old = NULL, *pick;
	size_t				 i, j, nsets, srclen, used[2] = { 0, 0 };
	size_t				 mine = 0, a, b;

	nsets = REFLECTOR_SESSIONS / REFLECTOR_WAYS;
	if (rf->sessions == NULL &&
	    (rf->sessions = calloc(REFLECTOR_SESSIONS,
	    sizeof(*rf->sessions))) == NULL)
		return (-1);
	srclen = reflector_srclen(key);
	a = reflector_hash(rf->seed, key, srclen) & (nsets - 1);
	/* Another set, whatever the second hash: always two choices. */
	b = (a + 1 + reflector_hash(rf->seed2, key, srclen) % (nsets - 1)) &
	    (nsets - 1);
	set[0] = rf->sessions + a * REFLECTOR_WAYS;
	set[1] = rf->sessions + b * REFLECTOR_WAYS;
	for (j = 0; j < 2; j++) {
		for (i = 0; i < REFLECTOR_WAYS; i++) {
			s = &set[j][i];
			if (!s->used)
				continue;
			used[j]++;
			if (memcmp(s->key, key, REFLECTOR_KEYLEN) == 0) {
				s->last = now;
				return (s->next++);
			}
			if (memcmp(s->key, key, srclen) == 0) {
				mine++;
				if (mine_old == NULL || s->last < mine_old->last)
					mine_old = s;
			}
			if (lru == NULL || s->last < lru->last)
				lru = s;
		}
	}
	/* A free slot in the less loaded set, if it has one. */
	for (j = used[1] < used[0] ? 1 : 0, i = 0; free_s == NULL && i < 2 *
	    REFLECTOR_WAYS; i++) {
		s = &set[(j + i / REFLECTOR_WAYS) % 2][i % REFLECTOR_WAYS];
		if (!s->used)
			free_s = s;
	}
	if (mine >= REFLECTOR_PER_SOURCE)
		pick = mine_old;
	else if (free_s != NULL)
		pick = free_s;
	else if (now - lru->last >= REFLECTOR_IDLE_USEC)
		pick = lru;
	else
		return (-1);
	memcpy(pick->key, key, REFLECTOR_KEYLEN);
	pick->used = true;
	pick->last = now;
	pick->next = 1;
	return (0);
}

/* The reply to one test packet; see reflector.h. */
size_t
reflector_answer(struct reflector *rf, const struct listener_conf *lc,
    uint8_t *buf, size_t len, size_t cap, const struct msghdr *in,
    const struct sockaddr_storage *peer, uint64_t now, bool *stateless)
{
	struct stamp_test	 t;
	struct stamp_reply	 r;
	struct timespec		 rx;
	uint8_t			 key[REFLECTOR_KEYLEN];
	int64_t			 seq;

	*stateless = false;
	if (stamp_test_parse(buf, len, &t) == -1)
		return (0);
	memset(&r, 0, sizeof(r));
	reflector_cmsgs(in, &rx, &r.sender_ttl);
	r.rx = stamp_ts_from_timespec(&rx);
	if (lc->stamp_stateful) {
		reflector_key(peer, t.ssid, key);
		/* No room: answered as a stateless reflector would (RFC
		 * 8762 section 4.3.1), rather than not at all. */
		if ((seq = reflector_next(rf, key, now)) == -1) {
			*stateless = true;
			r.seq = t.seq;
		} else
			r.seq = (uint32_t)seq;
	} else
		r.seq = t.seq;
	r.ee = reflector_ee(rf, now);
	r.ssid = t.ssid;
	r.sender_seq = t.seq;
	r.sender_ts = t.ts;
	r.sender_ee = t.ee;
	return (stamp_reflect(buf, len, cap, &r));
}

/* The transmit timestamp, as late as udp.c can write it. */
void
reflector_transmit(uint8_t *buf)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	stamp_reply_set_ts(buf, stamp_ts_from_timespec(&ts));
}
