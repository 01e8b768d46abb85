/*
 * slot.h: connection slots, what max_connections counts.
 *
 * Accepting is not serving: a listener takes a slot for every connection
 * it accepts, and whoever ends the connection gives it back (a session
 * that closes, a hand-off or a set-up that failed, a connection still
 * queued at the stop), on whichever thread.  A slot counts against its
 * listener's limit and against the global one, and outlives its listener
 * if need be (a listener closed by a reload, its sessions still open).
 * The graceful stop waits here for the last one.
 */
#ifndef ECHOD_SLOT_H
#define ECHOD_SLOT_H

struct event;
struct slots;

/* A listener's slots; NULL without memory.  slots_unref() when done. */
struct slots	*slots_new(void);
void		 slots_unref(struct slots *);
/* Take one (the connection holds a reference on sl until released). */
void		 slot_take(struct slots *);
/* A connection that took a slot of sl has ended: the one way back. */
void		 slot_release(struct slots *);
/* Connections holding a slot of sl, and of every listener. */
unsigned int	 slots_count(const struct slots *);
unsigned int	 slots_open(void);
/*
 * For a graceful stop: activate drained (an event of the main loop) once
 * no slot is held, at once if none is, else from the slot_release() that
 * gives the last one back.  NULL: never again.
 */
void		 slots_drain(struct event *drained);

#endif
