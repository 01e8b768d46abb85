/*
 * ratelimit.h: per-address token buckets in a table of fixed size.
 *
 * Each source address owns a bucket of `burst` tokens that refills at
 * `rate` tokens a second; a reply costs one token.  The table never grows:
 * it is set-associative, and an address that finds its set full takes the
 * place of the least recently used entry whose bucket has refilled (so
 * nothing is forgotten that mattered), or is refused when there is none:
 * a flood of spoofed sources costs a fixed amount of memory and can never
 * reset another source's limit by pushing it out.  Pure: no sockets, no libevent, no
 * clock; the caller passes the time, so tests control it.
 */
#ifndef ECHOD_RATELIMIT_H
#define ECHOD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A key is an address (IPv6; IPv4 as ::ffff:a.b.c.d) and then 8 bytes
 * of scope, so that one table can keep apart the same source counted
 * for different things (source.c: over all listeners, or on one);
 * udp.c leaves the scope zero.
 */
#define RATELIMIT_ADDRLEN	16
#define RATELIMIT_KEYLEN	(RATELIMIT_ADDRLEN + 8)
#define RATELIMIT_WAYS		8	/* entries per set */
#define RATELIMIT_ENTRIES	4096	/* what udp.c uses: 224 KiB */

struct ratelimit;		/* opaque */

/*
 * A table of at least RATELIMIT_WAYS entries, rounded up to a power of
 * two sets; seed keys the hash (0 picks a random one), so that outsiders
 * cannot aim their sources at one set.  NULL when out of memory.
 */
struct ratelimit	*ratelimit_new(size_t entries, uint64_t seed);
void			 ratelimit_free(struct ratelimit *);
/*
 * Whether one more reply may go to key at now_usec (any monotonic clock,
 * in microseconds), given rate tokens a second and a bucket of burst; if
 * so the token is taken.  rate and burst may change between calls (a
 * reload): the bucket is clamped to the new burst.
 */
bool			 ratelimit_take(struct ratelimit *, const uint8_t *key,
			    uint64_t now_usec, unsigned int rate,
			    unsigned int burst);
/*
 * Give back the token that ratelimit_take() just took for key, when
 * another limit refused what it was for: a refusal spends nothing.  A
 * key the table forgot since has nothing to give back (it was forgotten
 * with a full bucket, and comes back with one).
 */
void			 ratelimit_give(struct ratelimit *, const uint8_t *key,
			    unsigned int burst);
/* Entries in use, and the table's capacity. */
size_t			 ratelimit_used(const struct ratelimit *);
size_t			 ratelimit_size(const struct ratelimit *);

#endif
