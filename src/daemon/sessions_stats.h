/*
 * sessions_stats.h: what the sessions of a loop count (session.h).  Its
 * own header, below every session room, because struct sessions holds it
 * (session_int.h) and worker.c sums it: session_int.h need not include
 * session.h, whose room is above it.
 */
#ifndef ECHOD_SESSIONS_STATS_H
#define ECHOD_SESSIONS_STATS_H

#include <stdatomic.h>

/* What a loop's sessions count; written by its thread, summed elsewhere. */
struct sessions_stats {
	atomic_uint_fast64_t	accepted;
	atomic_uint_fast64_t	bytes;		/* echoed back */
	atomic_uint_fast64_t	released;	/* buffers of quiet sessions */
	atomic_uint_fast64_t	closed;		/* sessions ended */
};

#endif
