/*
 * session.h: one TCP echo session.
 *
 * A session owns one accepted connection: its bufferevent, framing state,
 * backpressure, timeouts and counters.  Outside this file only creation,
 * the count and the forced close at the end of a graceful stop exist.
 */
#ifndef ECHOD_SESSION_H
#define ECHOD_SESSION_H

#include <sys/socket.h>

#include <event2/util.h>

struct conf;
struct event_base;
struct listener;
struct listener_conf;

/*
 * Serve fd, accepted by listener l (whose slot the session holds until it
 * closes), with the settings of lc inside conf (a reference is taken).
 * On failure the connection is closed and the slot released.
 */
void		 session_create(struct event_base *, evutil_socket_t,
		    const struct sockaddr *, socklen_t, struct conf *,
		    const struct listener_conf *, struct listener *);
/* Open sessions. */
unsigned int	 session_count(void);
/* End of a graceful stop: send what is owed, close all with reason. */
void		 session_close_all(const char *reason);

#endif
