/*
 * udp_delay.h: a UDP listener's replies waiting for their delay
 * (echod.conf(5), delay): a bounded queue, oldest first.
 */
#ifndef ECHOD_UDP_DELAY_H
#define ECHOD_UDP_DELAY_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many replies, and this many of their bytes, wait. */
#define UDP_DELAY_MAX		1024
#define UDP_DELAY_BYTES		(1024 * 1024)
/* The control data of a reply (its source address), at most. */
#define UDP_DELAY_CTL		64

struct evbuffer;
struct udp_delay_rec;

/* A queue, embedded in its listener's echo; all zero is empty. */
struct udp_delay {
	struct udp_delay_rec	*ring;		/* UDP_DELAY_MAX records */
	unsigned int		 head, n;
	size_t			 held;		/* bytes waiting */
	struct evbuffer		*bytes;		/* theirs, in order */
};

/* Forget what waits in q and give its memory back: empty again. */
void			 udp_delay_clear(struct udp_delay *);
/*
 * Queue the reply of len bytes at data, to msg's address with msg's
 * control data, to go at due (never before the one ahead of it).
 * false when the queue is full: the reply is dropped.
 */
bool			 udp_delay_push(struct udp_delay *, uint64_t due,
			    const struct msghdr *msg, const void *data,
			    size_t len);
/* When the first reply is due; UINT64_MAX with none. */
uint64_t		 udp_delay_due(const struct udp_delay *);
/*
 * Take the first reply: its bytes into buf (room for 65536), its address
 * into name (a struct sockaddr_storage) and its control data into ctl
 * (UDP_DELAY_CTL bytes), their lengths into msg; its length.
 */
size_t			 udp_delay_pop(struct udp_delay *, void *buf,
			    struct msghdr *msg);

#endif
