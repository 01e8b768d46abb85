/*
 * listener_sock.c: the sockets of listeners: binding our own, which
 * listener a socket systemd passed serves, and why one could not be
 * opened.  Pure of listener.c's state: listener.c decides when.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "compat.h"
#include "config.h"
#include "listener_sock.h"
#include "systemd.h"

#define LISTENER_BACKLOG	4096	/* the kernel caps it at somaxconn */

/*
 * The listener of conf that a passed socket serves (echod(8), SOCKET
 * ACTIVATION): the one named like the socket (FileDescriptorName=), else
 * the one with its protocol and port, and its address unless either side
 * is a wildcard.
 */
const struct listener_conf *
listener_match(const struct conf *conf, const struct systemd_socket *s)
{
	const struct listener_conf	*lc;
	enum conf_proto			 proto;
	size_t				 i;

	proto = s->type == SOCK_DGRAM ? CONF_UDP : CONF_TCP;
	if ((lc = config_listener(conf, s->name)) != NULL &&
	    lc->protocol == proto)
		return (lc);
	for (i = 0; i < conf->nlisteners; i++) {
		lc = &conf->listeners[i];
		if (lc->protocol != proto ||
		    lc->port != addr_port(&s->ss))
			continue;
		if (lc->wildcard || addr_is_wildcard(&s->ss) ||
		    addr_same_host(&lc->ss, &s->ss))
			return (lc);
	}
	return (NULL);
}

/* Bind our own socket for lc; -1 with errno on failure. */
int
listener_bind(const struct listener_conf *lc)
{
	int	fd, on = 1, off = 0, saved, udp = lc->protocol == CONF_UDP;

	fd = socket(lc->ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	/*
	 * Not for UDP: there is no TIME_WAIT to step over, and on Linux it
	 * would let two datagram sockets share the port, so a second echod
	 * would silently take over instead of failing with EADDRINUSE.
	 */
	if (!udp &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/*
	 * reuse_port: sharing the port is asked for.  Linux lets a socket
	 * bind only if every socket already on the port has it too, all of
	 * one user, and spreads new connections (datagrams) among them.
	 */
	if (lc->reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	/* "::" serves IPv4 too, whatever net.ipv6.bindv6only says. */
	if (lc->ss.ss_family == AF_INET6 && lc->wildcard &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&lc->ss, lc->sslen) == -1)
		goto fail;
	if (!udp && listen(fd, LISTENER_BACKLOG) == -1)
		goto fail;
	return (fd);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

/* Why lc could not be opened, naming it and its endpoint. */
char *
listener_cause(const struct listener_conf *lc, int err)
{
	char	 endpoint[96], *cause;

	config_listener_endpoint(lc, endpoint, sizeof(endpoint));
	if (asprintf(&cause, "cannot listen on %s (%s): %s", lc->name,
	    endpoint, strerror(err)) == -1)
		return (NULL);
	return (cause);
}
