/*
 * listener.h: the sockets echod accepts on, its own or systemd's.
 *
 * Accepting is not serving: a listener owns its socket, the connection
 * limits and the back-off when descriptors run out; each accepted
 * connection is handed to workers_dispatch(), which gives it to a
 * worker's sessions_serve().  listeners_apply() turns a
 * configuration into the set of open listeners, at start and on every
 * reload, all or nothing.
 */
#ifndef ECHOD_LISTENER_H
#define ECHOD_LISTENER_H

#include <stddef.h>

struct conf;
struct event;
struct event_base;
struct listener;

/* What a successful listeners_apply() changed. */
struct listener_diff {
	unsigned int	added;		/* sockets opened */
	unsigned int	removed;	/* sockets closed */
	unsigned int	total;		/* listeners serving now */
};

/*
 * Serve conf: match systemd's sockets to its listeners, bind the others,
 * and only when every one is open close the ones conf no longer has and
 * switch new connections to conf.  On failure nothing changed: returns -1
 * with *cause allocated ("cannot listen on echo (tcp [::]:7): Address
 * already in use").
 */
int		 listeners_apply(struct event_base *, struct conf *,
		    struct listener_diff *, char **cause);
/*
 * Stop accepting everywhere and close every listener.  For a graceful
 * stop, drained (an event of the main loop, or NULL) is activated once
 * no connection is left open: at once if none is, else by the
 * slot_release() that gives the last slot back (slot.h).
 */
void		 listeners_close(struct event *drained);
/* Number of listeners serving. */
unsigned int	 listeners_count(void);
/* Connections accepted and not yet closed, over all listeners, those
 * still on their way to a worker included. */
unsigned int	 listeners_open(void);
/* "echo tcp [::]:7, strip tcp [::]:9999" for the start entry. */
void		 listeners_describe(char *, size_t);
/* Once a second: warnings about refused connections. */
void		 listeners_tick(void);

#endif
