/*
 * source.h: per-source connection limits, over all listeners and on one.
 *
 * A source is a client's address masked to its netblock: prefix4 bits of
 * an IPv4 address (IPv4-mapped IPv6 included), prefix6 bits of an IPv6
 * one, since a host that owns a /64 could otherwise be as many sources
 * as it likes.  Every limit counts in a scope: over all listeners
 * (global) or on the connection's own listener (own).  conns bounds the
 * connections a source holds open, rate and burst the new connections it
 * may open a second (a token bucket, ratelimit.c).  A connection is
 * admitted only if every limit that is set allows it; then it takes its
 * counts and tokens.  A refusal takes nothing.
 *
 * Memory is bounded by what clients hold, never by what they send: a
 * source is counted only while it holds a connection in that scope (its
 * last one gone, it is forgotten), and in at most SOURCE_ENTRIES_MAX
 * entries (source, scope); when they are all in use a new source is
 * refused with SOURCE_FULL, and the sources already counted keep their
 * connections and may open more.  The rates live in a table of fixed
 * size that forgets only sources whose bucket is full again.
 *
 * Thread-safe: any worker may admit and any may leave, each at the cost
 * of one mutex lock.
 */
#ifndef ECHOD_SOURCE_H
#define ECHOD_SOURCE_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Entries (source, scope) counted at most: a connection makes two at
 * most, so 65536 connections from distinct sources, each limited over
 * all listeners and on its own, fill them.  The table is kept at most
 * half full (8 MiB at the cap) and never shrinks.
 */
#define SOURCE_ENTRIES_MAX	(1u << 17)
/* Buckets of the rates, over both scopes: 896 KiB, pages touched as
 * they are used. */
#define SOURCE_RATE_ENTRIES	16384

/* The limits of one scope; 0 turns that limit off.  A burst of 0 with a
 * rate counts as 1: a bucket must hold a token to let anything in. */
struct source_limits {
	unsigned int	 conns;		/* connections open at once */
	unsigned int	 rate;		/* new connections a second */
	unsigned int	 burst;		/* of them at once */
};

enum source_verdict {
	SOURCE_OK,
	SOURCE_TOO_MANY,	/* a conns limit is reached */
	/* A rate limit: no token left, or no room for the source's bucket
	 * (its set holds only drained ones: see ratelimit.h). */
	SOURCE_TOO_FAST,
	SOURCE_FULL		/* a new source, SOURCE_ENTRIES_MAX in use */
};

/*
 * What one admitted connection holds, to give it back: the caller keeps
 * it (in the session) from source_admit() to source_leave().  A zeroed
 * hold holds nothing.  The fields are source.c's.
 */
struct source_hold {
	uint8_t		 addr[16];	/* the source; IPv4 as ::ffff:a.b.c.d */
	uint64_t	 scope;		/* of the listener */
	uint8_t		 counted;	/* the scopes counted, at the admit */
};

/* The tables, once at start before any thread admits; -1 when out of
 * memory. */
int		 sources_init(void);
/* Free them at exit, after the last source_leave(). */
void		 sources_free(void);
/*
 * Whether any limit is set: when none is, the caller need not admit nor
 * leave at all, and per-source limits cost nothing.
 */
bool		 sources_wanted(const struct source_limits *global,
		    const struct source_limits *own);
/*
 * Admit a connection from sa on the listener named listener at now_usec
 * (any monotonic clock, in microseconds), under the limits global and
 * own; prefix4 and prefix6 are clamped to 32 and 128.  On SOURCE_OK, *h
 * holds what it took until source_leave(); otherwise *h holds nothing.
 * An address that is neither IPv4 nor IPv6 is admitted, uncounted.
 * Only the connections of a scope whose conns limit is set are counted
 * in it: a reload that sets one counts those admitted after it.
 */
enum source_verdict
		 source_admit(const struct sockaddr *sa, unsigned int prefix4,
		    unsigned int prefix6, const char *listener,
		    const struct source_limits *global,
		    const struct source_limits *own, uint64_t now_usec,
		    struct source_hold *h);
/*
 * The connection of h has ended: give back exactly what its admit took,
 * whatever the limits are now; the hold then holds nothing, so a second
 * call, or one on a refused or zeroed hold, does nothing.
 */
void		 source_leave(struct source_hold *h);
/* Entries (source, scope) in use. */
size_t		 sources_count(void);

#endif
