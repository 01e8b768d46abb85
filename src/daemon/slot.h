/*
 * slot.h: connection slots, what max_connections counts, and the
 * counters of a listener.
 *
 * Accepting is not serving: a listener takes a slot for every connection
 * it accepts, and whoever ends the connection gives it back (a session
 * that closes, a hand-off or a set-up that failed, a connection still
 * queued at the stop), on whichever thread.  A slot counts against its
 * listener's limit and against the global one, and outlives its listener
 * if need be (a listener closed by a reload, its sessions still open).
 * The graceful stop waits here for the last one.
 *
 * The same object holds what metrics.c serves of the listener: one cell
 * of counters per event loop, each written by its loop's thread alone
 * (a relaxed load and store, no locked instruction, no cache line shared
 * between workers) and summed by the main loop.  Every struct slots is on
 * one list of the main loop's until the main loop reaps it after its last
 * reference went: a listener removed by a reload keeps its series while
 * its sessions last; a reload never resets a counter.
 */
#ifndef ECHOD_SLOT_H
#define ECHOD_SLOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct event;
struct slots;

/* What a cell counts: echod_*_total of echod.conf(5), METRICS. */
enum slot_counter {
	SC_ACCEPTED,
	SC_RECEIVED,		/* bytes */
	SC_SENT,		/* bytes */
	SC_CLOSED_EOF,		/* in the order of slot_reasons[] */
	SC_CLOSED_TIMEOUT,
	SC_CLOSED_WRITE_TIMEOUT,
	SC_CLOSED_ERROR,
	SC_CLOSED_LINE_TOO_LONG,
	SC_CLOSED_SHUTDOWN,
	SC_CLOSED_PROXY_ERROR,
	SC_CLOSED_TLS_ERROR,
	SC_CLOSED_HANDSHAKE_TIMEOUT,
	SC_CLOSED_SCRIPTED,	/* close_after (issue 18) */
	SC_REFUSED_GLOBAL,	/* in the order of slot_limits[] */
	SC_REFUSED_LISTENER,
	SC_REFUSED_PER_SOURCE,
	SC_REFUSED_RATE,
	SC_REFUSED_PROXY_FROM,
	SC_REFUSED_REFUSE,	/* the listener's "refuse": on purpose */
	SC_UDP_ECHOED,		/* in the order of slot_udp_results[] */
	SC_UDP_DROPPED_RATE,
	SC_UDP_DROPPED_GUARD,
	SC_UDP_DROPPED_SIZE,
	SC_UDP_DROPPED_SEND,
	SC_UDP_DROPPED_STAMP,
	SC_STAMP_STATELESS,	/* answered so: no room for the session */
	SC_COUNT
};
#define SC_CLOSED_FIRST		SC_CLOSED_EOF
#define SC_CLOSED_LAST		SC_CLOSED_SCRIPTED
#define SC_REFUSED_FIRST	SC_REFUSED_GLOBAL
#define SC_REFUSED_LAST		SC_REFUSED_REFUSE
#define SC_UDP_FIRST		SC_UDP_ECHOED
#define SC_UDP_LAST		SC_UDP_DROPPED_STAMP

/* One loop's counters of one listener, on cache lines of their own. */
struct slot_cell {
	_Alignas(64) atomic_uint_fast64_t	 v[SC_COUNT];
};

/* The label values of the counters, by enum slot_counter. */
extern const char *const slot_reasons[];	/* from SC_CLOSED_FIRST */
extern const char *const slot_limits[];		/* from SC_REFUSED_FIRST */
extern const char *const slot_udp_results[];	/* from SC_UDP_FIRST */

/* Cells of every struct slots from now on: one per loop (worker.c). */
void		 slots_init(unsigned int ncells);
/* A listener's slots; NULL without memory.  slots_unref() when done. */
struct slots	*slots_new(void);
void		 slots_unref(struct slots *);
/* Name the series of sl (main loop): the listener's name, protocol. */
void		 slots_label(struct slots *, const char *name, bool udp);
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

/* Cell i of sl, for loop i alone to count into. */
struct slot_cell *slots_cell(struct slots *, unsigned int i);
/* The counter of a close reason ("eof"), or SC_COUNT if none. */
enum slot_counter slot_reason(const char *);
/*
 * Count n into c: its loop is the only writer, so a plain relaxed load
 * and store is exact and costs what an unsynchronised add does.
 */
static inline void
slot_count(struct slot_cell *c, enum slot_counter k, uint64_t n)
{
	atomic_store_explicit(&c->v[k], atomic_load_explicit(&c->v[k],
	    memory_order_relaxed) + n, memory_order_relaxed);
}

/* The series of one listener name and protocol, summed. */
struct slots_series {
	char		 name[65];
	bool		 udp;
	uint64_t	 sessions;	/* open now */
	uint64_t	 v[SC_COUNT];
};
/*
 * Main loop: free the slots nobody holds any more, keeping their counts
 * in a live slots of the same name and protocol if there is one (else
 * their series go).
 */
void		 slots_reap(void);
/*
 * Main loop: the series of every name and protocol, reaped first, into
 * an array to free(); their number, or -1 without memory.
 */
int		 slots_collect(struct slots_series **);
/* At exit, after the workers are gone: free every slots. */
void		 slots_free_all(void);

#endif
