/*
 * udp_delay.c: a UDP listener's replies waiting for their delay, in
 * order: a ring of UDP_DELAY_MAX records (address, control data, due
 * time) and one evbuffer with their bytes, both made at the first reply.
 * Bounded in count and bytes, so a flood costs a fixed amount of memory
 * and loses datagrams, as UDP may.  Pure: no socket, no timer; udp.c
 * sends what is due.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "udp_delay.h"

struct udp_delay_rec {
	uint64_t		 due;
	size_t			 len;
	struct sockaddr_storage	 name;
	socklen_t		 namelen;
	size_t			 ctllen;
	unsigned char		 ctl[UDP_DELAY_CTL];
};

/* See udp_delay.h. */
void
udp_delay_clear(struct udp_delay *q)
{
	if (q->bytes != NULL)
		evbuffer_free(q->bytes);
	free(q->ring);
	memset(q, 0, sizeof(*q));
}

/* See udp_delay.h. */
bool
udp_delay_push(struct udp_delay *q, uint64_t due, const struct msghdr *msg,
    const void *data, size_t len)
{
	struct udp_delay_rec	*r;

	if (q->n == UDP_DELAY_MAX || msg->msg_controllen > UDP_DELAY_CTL ||
	    msg->msg_namelen > sizeof(r->name) ||
	    q->held + len > UDP_DELAY_BYTES)
		return (false);
	if (q->ring == NULL &&
	    (q->ring = calloc(UDP_DELAY_MAX, sizeof(*q->ring))) == NULL)
		return (false);
	if (q->bytes == NULL && (q->bytes = evbuffer_new()) == NULL)
		return (false);
	if (evbuffer_add(q->bytes, data, len) == -1)
		return (false);
	/* Never before the reply ahead: order is kept. */
	if (q->n > 0 && due < q->ring[(q->head + q->n - 1) %
	    UDP_DELAY_MAX].due)
		due = q->ring[(q->head + q->n - 1) % UDP_DELAY_MAX].due;
	q->held += len;
	r = &q->ring[(q->head + q->n++) % UDP_DELAY_MAX];
	r->due = due;
	r->len = len;
	memcpy(&r->name, msg->msg_name, msg->msg_namelen);
	r->namelen = msg->msg_namelen;
	r->ctllen = msg->msg_controllen;
	if (r->ctllen > 0)
		memcpy(r->ctl, msg->msg_control, r->ctllen);
	return (true);
}

/* See udp_delay.h. */
uint64_t
udp_delay_due(const struct udp_delay *q)
{
	return (q->n == 0 ? UINT64_MAX : q->ring[q->head].due);
}

/* See udp_delay.h. */
size_t
udp_delay_pop(struct udp_delay *q, void *buf, struct msghdr *msg)
{
	struct udp_delay_rec	*r = &q->ring[q->head];

	evbuffer_remove(q->bytes, buf, r->len);
	memcpy(msg->msg_name, &r->name, r->namelen);
	msg->msg_namelen = r->namelen;
	msg->msg_controllen = r->ctllen;
	if (r->ctllen > 0)
		memcpy(msg->msg_control, r->ctl, r->ctllen);
	q->head = (q->head + 1) % UDP_DELAY_MAX;
	q->n--;
	q->held -= r->len;
	return (r->len);
}
