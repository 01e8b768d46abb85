/*
 * reflector.h: the STAMP session-reflector (RFC 8762) of a UDP listener
 * with protocol = "stamp": what udp.c calls instead of echoing, once a
 * datagram has passed the reflection guard and the rate limit.
 *
 * The reply is built in place of the test packet (stamp.h): the receive
 * timestamp is the kernel's (SO_TIMESTAMPNS), the TTL or hop limit the
 * one the packet arrived with (IP_RECVTTL, IPV6_RECVHOPLIMIT), the error
 * estimate the kernel's view of the realtime clock (adjtimex(2): STA_UNSYNC
 * and maxerror, read at most once a second), and the transmit timestamp
 * is written by reflector_transmit() just before the reply is sent.
 *
 * Stateless, the reflector's sequence number is the sender's (RFC 8762
 * section 4.3.1); stateful, each session (source address and port, and
 * the RFC 8972 SSID) has its own count from 0, in a table of fixed size:
 * a source address (IPv6: its /64) holds at most REFLECTOR_PER_SOURCE
 * sessions, in two sets chosen by two hashes of it; a new session takes a
 * free slot of the less loaded one, else the least recently used slot of
 * the two if that one has been idle REFLECTOR_IDLE_USEC (a flood of
 * sources cannot reset the count of a live session).  With no room, the
 * packet is answered statelessly.
 */
#ifndef ECHOD_REFLECTOR_H
#define ECHOD_REFLECTOR_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REFLECTOR_SESSIONS	4096	/* stateful sessions of a listener */
#define REFLECTOR_PER_SOURCE	16	/* of one address, or IPv6 /64 */
#define REFLECTOR_IDLE_USEC	(30 * 1000000ull)

struct listener_conf;
struct reflector;		/* opaque */

/* A reflector with no sessions yet; NULL when out of memory. */
struct reflector	*reflector_new(void);
/* Free; accepts NULL. */
void			 reflector_free(struct reflector *);
/* Ask for the receive timestamp and the TTL of each datagram on fd;
 * -1 with errno if the kernel refuses. */
int			 reflector_sockopts(int fd);
/*
 * Turn the test packet of len bytes at buf (room for cap) that arrived
 * with the control messages of in from peer into the reply, for lc's
 * stamp_mode, at now_usec (monotonic).  Returns the reply's length, or 0
 * to drop it (shorter than a test packet); *stateless says whether a
 * stateful listener answered statelessly, for want of room for the
 * session.
 */
size_t			 reflector_answer(struct reflector *,
			    const struct listener_conf *, uint8_t *buf,
			    size_t len, size_t cap, const struct msghdr *in,
			    const struct sockaddr_storage *peer,
			    uint64_t now_usec, bool *stateless);
/* Write the transmit timestamp of the reply at buf: now. */
void			 reflector_transmit(uint8_t *buf);

#endif
