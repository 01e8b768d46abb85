/*
 * listener_sock.h: the sockets of listeners (listener_sock.c), for
 * listener.c.
 */
#ifndef LISTENER_SOCK_H
#define LISTENER_SOCK_H

struct conf;
struct listener_conf;
struct systemd_socket;

/*
 * The listener of conf that a passed socket serves (echod(8), SOCKET
 * ACTIVATION), or NULL.
 */
const struct listener_conf *listener_match(const struct conf *,
		    const struct systemd_socket *);
/* Our own socket for lc, bound and listening; -1 with errno. */
int		 listener_bind(const struct listener_conf *);
/* Why lc could not be opened, naming it and its endpoint; NULL if out of
 * memory. */
char		*listener_cause(const struct listener_conf *, int);

#endif
