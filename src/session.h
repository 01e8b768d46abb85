/*
 * session.h: one TCP echo session.
 *
 * A session owns one accepted connection: its bufferevent, framing state,
 * backpressure, timeouts and counters.  Outside session.c only creation
 * and the forced close at the end of a graceful stop exist.
 */
#ifndef ECHOD_SESSION_H
#define ECHOD_SESSION_H

#include <sys/socket.h>

#include <stdbool.h>

#include <event2/util.h>

struct conf;
struct listener;
struct listener_conf;
struct worker;

/*
 * Serve fd on worker w (called on w's thread), accepted by listener l
 * (whose slot the session holds until it closes), with the settings of lc
 * inside conf (a reference is taken).  On failure the connection is
 * closed and the slot released.
 */
void		 session_create(struct worker *, evutil_socket_t,
		    const struct sockaddr *, socklen_t, struct conf *,
		    const struct listener_conf *, struct listener *);
/* End of a graceful stop: send what is owed, close every session of w. */
void		 session_close_all(struct worker *, const char *reason);
/*
 * Under the memory budget again: let the first few sessions of w that
 * wait for memory read again.  Returns whether more are waiting.
 */
bool		 session_wake(struct worker *);

#endif
