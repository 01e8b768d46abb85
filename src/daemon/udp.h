/*
 * udp.h: RFC 862 echo over UDP, safe to expose.
 *
 * Each datagram is one message: the strip rules apply to it and what is
 * left goes back to the sender, from the address the request was sent to.
 * An echo server is a reflector, so a datagram gets no answer when its
 * source could be another service (port below 1024: echo/chargen loops),
 * a broadcast or multicast address, when it was sent to a broadcast or
 * multicast address, when it is larger than max_datagram, or when its
 * source address has used up its token bucket (udp_rate, udp_burst).
 * Dropped datagrams are counted by cause, for STATUS= and for one log
 * entry a minute at most.
 *
 * The listener owns the socket (its own or systemd's); a struct udp reads
 * and answers on it, on the main loop, until udp_free().
 */
#ifndef ECHOD_UDP_H
#define ECHOD_UDP_H

#include <stdint.h>

struct conf;
struct event_base;
struct listener_conf;
struct slots;
struct udp;

/*
 * Echo on the bound datagram socket fd, once configured and enabled,
 * counting into sl's main-loop cell (slot.h); asks the kernel for the
 * destination address of each datagram.  NULL with *cause allocated on
 * failure.  fd is not closed by udp_free(); sl must outlive it.
 */
struct udp	*udp_new(struct event_base *, int fd, struct slots *sl,
		    char **cause);
/* Answer datagrams from now on with lc, holding a reference to conf. */
void		 udp_configure(struct udp *, struct conf *,
		    const struct listener_conf *);
/* Start reading; -1 if the event cannot be added. */
int		 udp_enable(struct udp *);
/* Stop reading and free; accepts NULL. */
void		 udp_free(struct udp *);
/* UDP echo objects in use. */
unsigned int	 udp_count(void);
/* Datagrams dropped since start, every cause and listener together. */
uint64_t	 udp_dropped(void);
/* Once a second: at most once a minute, log what was dropped since the
 * last such entry. */
void		 udp_tick(void);

#endif
