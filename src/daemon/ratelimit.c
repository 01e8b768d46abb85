/*
 * ratelimit.c: per-address token buckets in a bounded, set-associative
 * table.
 */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit.h"

/* Tokens are counted in millionths, so refills need no division. */
#define RATELIMIT_UNIT	1000000ull

struct ratelimit_entry {
	uint8_t		 key[RATELIMIT_KEYLEN];
	bool		 used;
	uint64_t	 last;		/* usec of the last request */
	uint64_t	 tokens;	/* in RATELIMIT_UNITs */
	uint64_t	 full;		/* usec when it has refilled */
};

struct ratelimit {
	uint64_t		 seed;
	size_t			 nsets;		/* a power of two */
	size_t			 nused;
	struct ratelimit_entry	*entries;	/* nsets * RATELIMIT_WAYS */
};

/* A 64-bit finaliser (MurmurHash3's fmix64): every input bit moves
 * every output bit. */
static uint64_t
ratelimit_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (h);
}

/* The set of key, keyed by the table's seed: every byte of the key
 * counts, or sources differing in one left out would share a set. */
static size_t
ratelimit_set(const struct ratelimit *rl, const uint8_t *key)
{
	uint64_t	w, h = rl->seed;
	size_t		i;

	_Static_assert(RATELIMIT_KEYLEN % sizeof(w) == 0,
	    "the key is hashed in whole words");
	for (i = 0; i < RATELIMIT_KEYLEN; i += sizeof(w)) {
		memcpy(&w, key + i, sizeof(w));
		h = ratelimit_mix(h ^ w);
	}
	h = ratelimit_mix(h ^ rl->seed);
	return ((size_t)h & (rl->nsets - 1));
}

/* A new, empty table; see ratelimit.h. */
struct ratelimit *
ratelimit_new(size_t entries, uint64_t seed)
{
	struct ratelimit	*rl;
	size_t			 nsets = 1;

	while (nsets * RATELIMIT_WAYS < entries)
		nsets *= 2;
	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return (NULL);
	rl->entries = calloc(nsets * RATELIMIT_WAYS, sizeof(*rl->entries));
	if (rl->entries == NULL) {
		free(rl);
		return (NULL);
	}
	rl->nsets = nsets;
	/* Not secret-grade, but unknown to whoever picks the sources. */
	if (seed == 0 && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	rl->seed = seed;
	return (rl);
}

/* Free a table; accepts NULL. */
void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->entries);
	free(rl);
}

/*
 * Whether e's bucket has refilled to the brim by now: then forgetting
 * it loses nothing, a new entry starts full anyway.  By the moment its
 * own rate and burst gave at its last request, never by the caller's:
 * keys of several limits share a table (source.c), and one of a slow
 * limit must not look refilled to the request of a fast one.
 */
static bool
ratelimit_full(const struct ratelimit_entry *e, uint64_t now)
{
	return (now >= e->full);
}

/* When e, just taken from at now, is full again. */
static void
ratelimit_refill_at(struct ratelimit_entry *e, uint64_t now, uint64_t cap,
    unsigned int rate)
{
	uint64_t	 deficit = cap > e->tokens ? cap - e->tokens : 0;

	if (deficit == 0)
		e->full = now;
	else if (rate == 0)
		e->full = UINT64_MAX;
	else
		e->full = now + (deficit + rate - 1) / rate;
}

/*
 * The entry of key: its own, else a free one of its set, else the least
 * recently used one whose bucket is full again, which key takes over
 * with a full bucket.  NULL when every entry of the set still counts a
 * drained bucket: forgetting one would hand that source a fresh burst,
 * so a spoofing flood could reset its victim's limit by evicting it.
 */
static struct ratelimit_entry *
ratelimit_lookup(struct ratelimit *rl, const uint8_t *key, uint64_t now,
    unsigned int burst)
{
	struct ratelimit_entry	*set, *e, *victim = NULL;
	uint64_t		 cap = (uint64_t)burst * RATELIMIT_UNIT;
	size_t			 i;

	set = &rl->entries[ratelimit_set(rl, key) * RATELIMIT_WAYS];
	for (i = 0; i < RATELIMIT_WAYS; i++) {
		e = &set[i];
		if (!e->used) {
			if (victim == NULL || victim->used)
				victim = e;
			continue;
		}
		if (memcmp(e->key, key, RATELIMIT_KEYLEN) == 0)
			return (e);
		if (!ratelimit_full(e, now))
			continue;
		if (victim == NULL || (victim->used && e->last < victim->last))
			victim = e;
	}
	if (victim == NULL)
		return (NULL);
	if (!victim->used)
		rl->nused++;
	memcpy(victim->key, key, RATELIMIT_KEYLEN);
	victim->used = true;
	victim->last = now;
	victim->tokens = cap;
	victim->full = now;
	return (victim);
}

/* Refill key's bucket for the time since its last request, then take
 * one token if there is one. */
bool
ratelimit_take(struct ratelimit *rl, const uint8_t *key, uint64_t now_usec,
    unsigned int rate, unsigned int burst)
{
	struct ratelimit_entry	*e;
	uint64_t		 cap, elapsed;

	cap = (uint64_t)burst * RATELIMIT_UNIT;
	/* A set of busy sources has no room: refuse, never forget one. */
	if ((e = ratelimit_lookup(rl, key, now_usec, burst)) == NULL)
		return (false);
	/* A clock that steps back refills nothing. */
	elapsed = now_usec > e->last ? now_usec - e->last : 0;
	/* rate tokens a second is rate units a microsecond. */
	if (rate != 0 && elapsed >= cap / rate)
		e->tokens = cap;
	else
		e->tokens += elapsed * rate;
	if (e->tokens > cap)
		e->tokens = cap;	/* a reload lowered udp_burst */
	e->last = now_usec;
	if (e->tokens < RATELIMIT_UNIT) {
		ratelimit_refill_at(e, now_usec, cap, rate);
		return (false);
	}
	e->tokens -= RATELIMIT_UNIT;
	ratelimit_refill_at(e, now_usec, cap, rate);
	return (true);
}

/* Put one token back into key's bucket, if key still has one. */
void
ratelimit_give(struct ratelimit *rl, const uint8_t *key, unsigned int burst)
{
	struct ratelimit_entry	*set, *e;
	uint64_t		 cap = (uint64_t)burst * RATELIMIT_UNIT;
	size_t			 i;

	set = &rl->entries[ratelimit_set(rl, key) * RATELIMIT_WAYS];
	for (i = 0; i < RATELIMIT_WAYS; i++) {
		e = &set[i];
		if (!e->used || memcmp(e->key, key, RATELIMIT_KEYLEN) != 0)
			continue;
		/* e->full stays: later than it is, which only keeps the
		 * entry a little longer. */
		e->tokens += RATELIMIT_UNIT;
		if (e->tokens > cap)
			e->tokens = cap;
		return;
	}
}

/* Entries holding an address. */
size_t
ratelimit_used(const struct ratelimit *rl)
{
	return (rl->nused);
}

/* Entries the table can hold. */
size_t
ratelimit_size(const struct ratelimit *rl)
{
	return (rl->nsets * RATELIMIT_WAYS);
}
