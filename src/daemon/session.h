/*
 * session.h: TCP echo sessions, and the sessions of one event loop.
 *
 * A session owns one accepted connection: its framing state, the bytes it
 * has to keep, backpressure, timeouts and counters.  The sessions of a
 * loop (struct sessions) share its read buffer, its scratch evbuffer, its
 * timers, counters and share of the memory budget; a worker holds one.
 * Outside the session rooms (session_int.h) only these exist: making and
 * freeing the set, serving a connection, the forced close at the end of a
 * graceful stop, the wake-up when memory drained, and the counters.
 */
#ifndef ECHOD_SESSION_H
#define ECHOD_SESSION_H

#include <sys/socket.h>

#include <stdbool.h>

#include <event2/util.h>

#include "sessions_stats.h"

struct budget_share;
struct conf;
struct event_base;
struct listener_conf;
struct sessions;
struct slots;
struct timers;

/*
 * The sessions of loop base, with its timers and budget share; they
 * count into cell of their listeners' counters (slot.h).
 */
struct sessions	*sessions_new(struct event_base *, struct timers *,
		    struct budget_share *, unsigned int cell);
/* Free a set; its sessions must be gone.  NULL is fine. */
void		 sessions_free(struct sessions *);
const struct sessions_stats *
		 sessions_stats(const struct sessions *);
/*
 * Serve fd on the loop of ss (called on its thread), accepted with a slot
 * of sl (which the session holds until it closes), with the settings of
 * lc inside conf (a reference is taken).  On failure the connection is
 * closed and the slot released.
 */
void		 sessions_serve(struct sessions *, evutil_socket_t,
		    const struct sockaddr *, socklen_t, struct conf *,
		    const struct listener_conf *, struct slots *);
/*
 * Once a second (main loop): one warning for the connections every loop
 * refused over a per-source limit, one for those closed for their PROXY
 * header, since the last call.
 */
void		 sessions_tick(void);
/*
 * The loop listener_rate's groups live on (the main one, which outlives
 * the workers; session_rate.c), and, once every session is gone and that
 * loop has stopped, free the groups left.
 */
void		 sessions_rate_base(struct event_base *);
void		 sessions_rate_free(void);
/* End of a graceful stop: send what is owed, close every session. */
void		 sessions_close_all(struct sessions *, const char *reason);
/*
 * Under the memory budget again: let the first few sessions that wait
 * for memory read again.  Returns whether more are waiting.
 */
bool		 sessions_wake(struct sessions *);

#endif
