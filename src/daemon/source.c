/*
 * source.c: per-source connection limits (see source.h).
 *
 * The open connections are counted in a hash table with open addressing:
 * linear probing, and backward-shift deletion rather than tombstones, so
 * that the churn of short connections (every leave of a source's last
 * one is a deletion) never lengthens the probes; one array, no pointers,
 * no allocation but when it grows.  Chaining from a pool would cost a
 * pointer an entry and a cache miss a link for nothing in return.
 */
#include <sys/random.h>

#include <netinet/in.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ratelimit.h"
#include "source.h"

/* The table's first size; it doubles when more than half full. */
#define SOURCE_SLOTS_MIN	256

/* The scopes a hold counted in (source_hold.counted). */
#define SOURCE_GLOBAL		0x1
#define SOURCE_OWN		0x2

/* The scope over all listeners; a listener's is never 0. */
#define SOURCE_SCOPE_ALL	0

_Static_assert(sizeof(((struct source_hold *)0)->addr) == RATELIMIT_ADDRLEN,
    "a source is a rate limit's address");
_Static_assert(sizeof(struct source_hold) <= 48,
    "a hold is embedded in every session");

/* The connections one source holds open in one scope. */
struct source_entry {
	uint8_t		 addr[RATELIMIT_ADDRLEN];
	uint64_t	 scope;
	uint32_t	 hash;		/* of addr and scope: a home slot */
	uint32_t	 n;		/* 0: the slot is free */
};

static struct {
	pthread_mutex_t		 lock;
	uint64_t		 seed;		/* set once, before threads */
	struct source_entry	*slots;
	size_t			 mask;		/* slots - 1, a power of two */
	size_t			 used;
	struct ratelimit	*rl;
} sources = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* MurmurHash3's 64-bit finaliser, as ratelimit.c uses it. */
static uint64_t
source_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (h);
}

/* The tables, and the seed that keeps outsiders from aiming their
 * sources at one run of slots. */
int
sources_init(void)
{
	uint64_t	seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	sources.seed = seed;
	sources.slots = calloc(SOURCE_SLOTS_MIN, sizeof(*sources.slots));
	sources.rl = ratelimit_new(SOURCE_RATE_ENTRIES, 0);
	if (sources.slots == NULL || sources.rl == NULL) {
		sources_free();
		return (-1);
	}
	sources.mask = SOURCE_SLOTS_MIN - 1;
	sources.used = 0;
	return (0);
}

/* Free the tables; accepts tables never made. */
void
sources_free(void)
{
	free(sources.slots);
	sources.slots = NULL;
	sources.mask = sources.used = 0;
	ratelimit_free(sources.rl);
	sources.rl = NULL;
}

/* Whether one limit of either scope is on. */
bool
sources_wanted(const struct source_limits *global,
    const struct source_limits *own)
{
	return (global->conns != 0 || global->rate != 0 ||
	    own->conns != 0 || own->rate != 0);
}

/* Keep the first bits of b, zero the rest. */
static void
source_mask(uint8_t *b, size_t len, unsigned int bits)
{
	size_t	i = bits / 8;

	if (i >= len)
		return;
	b[i] &= (uint8_t)(0xff00u >> (bits % 8));
	memset(b + i + 1, 0, len - i - 1);
}

/* The source of sa into addr (IPv4 as ::ffff:a.b.c.d, so that a
 * dual-stack listener and an IPv4 one agree); false if not IP. */
static bool
source_addr(const struct sockaddr *sa, unsigned int prefix4,
    unsigned int prefix6, uint8_t addr[RATELIMIT_ADDRLEN])
{
	const struct sockaddr_in6	*sin6 = (const void *)sa;
	struct in_addr			 v4;

	if (addr_v4((const void *)sa, &v4)) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &v4, sizeof(v4));
		source_mask(addr + 12, sizeof(v4), prefix4 < 32 ? prefix4 : 32);
		return (true);
	}
	if (sa->sa_family != AF_INET6)
		return (false);
	memcpy(addr, &sin6->sin6_addr, RATELIMIT_ADDRLEN);
	/* Never ::ffff:0:0/96 now: those were IPv4 above. */
	source_mask(addr, RATELIMIT_ADDRLEN, prefix6 < 128 ? prefix6 : 128);
	return (true);
}

/* The scope of a listener, from its name: the same for its whole life,
 * reloads included, and never SOURCE_SCOPE_ALL. */
static uint64_t
source_scope(const char *name)
{
	uint64_t	h = sources.seed, w;
	size_t		len = strlen(name), i;

	for (i = 0; i + sizeof(w) <= len; i += sizeof(w)) {
		memcpy(&w, name + i, sizeof(w));
		h = source_mix(h ^ w);
	}
	w = 0;
	memcpy(&w, name + i, len - i);
	h = source_mix(h ^ w ^ sources.seed);
	return (h == SOURCE_SCOPE_ALL ? 1 : h);
}

/* The hash of an entry, keyed by the seed. */
static uint32_t
source_hash(const uint8_t *addr, uint64_t scope)
{
	uint64_t	a, b, h;

	memcpy(&a, addr, sizeof(a));
	memcpy(&b, addr + sizeof(a), sizeof(b));
	h = source_mix(sources.seed ^ a);
	h = source_mix(h ^ b);
	h = source_mix(h ^ scope ^ sources.seed);
	return ((uint32_t)h);
}

/* The slot of (addr, scope) if counted, else the free slot where it
 * would go. */
static struct source_entry *
source_find(const uint8_t *addr, uint64_t scope, uint32_t hash)
{
	struct source_entry	*e;
	size_t			 i;

	/* At most half full: the probe ends at a free slot. */
	for (i = hash & sources.mask;; i = (i + 1) & sources.mask) {
		e = &sources.slots[i];
		if (e->n == 0 || (e->hash == hash && e->scope == scope &&
		    memcmp(e->addr, addr, RATELIMIT_ADDRLEN) == 0))
			return (e);
	}
}

/*
 * Double the table.  It allocates under the lock, but at most
 * log2(2 * SOURCE_ENTRIES_MAX / SOURCE_SLOTS_MIN) times in the daemon's
 * life: the table never shrinks, its size is the high-water mark.
 */
static int
source_grow(void)
{
	struct source_entry	*old = sources.slots, *e;
	size_t			 n = sources.mask + 1, i, j;

	if ((e = calloc(2 * n, sizeof(*e))) == NULL)
		return (-1);
	sources.slots = e;
	sources.mask = 2 * n - 1;
	for (i = 0; i < n; i++) {
		if (old[i].n == 0)
			continue;
		for (j = old[i].hash & sources.mask; e[j].n != 0;
		    j = (j + 1) & sources.mask)
			;
		e[j] = old[i];
	}
	free(old);
	return (0);
}

/*
 * Free the slot of e, then move back each entry of the run after it that
 * may sit there (its home slot is not between the hole and itself): the
 * run stays unbroken, every probe still finds what it looks for.
 */
static void
source_delete(struct source_entry *e)
{
	size_t	hole = (size_t)(e - sources.slots), i, home;

	sources.used--;
	for (i = hole;;) {
		sources.slots[hole].n = 0;
		for (;;) {
			i = (i + 1) & sources.mask;
			if (sources.slots[i].n == 0)
				return;
			home = sources.slots[i].hash & sources.mask;
			if (((i - home) & sources.mask) >=
			    ((i - hole) & sources.mask))
				break;
		}
		sources.slots[hole] = sources.slots[i];
		hole = i;
	}
}

/* Take one token of each rate that is on, or none. */
static enum source_verdict
source_rates(const uint8_t *addr, uint64_t scope,
    const struct source_limits *global, const struct source_limits *own,
    uint64_t now)
{
	uint8_t		 gk[RATELIMIT_KEYLEN], ok[RATELIMIT_KEYLEN];
	uint64_t	 all = SOURCE_SCOPE_ALL;
	unsigned int	 gb = global->burst ? global->burst : 1;
	unsigned int	 ob = own->burst ? own->burst : 1;

	if (global->rate == 0 && own->rate == 0)
		return (SOURCE_OK);
	memcpy(gk, addr, RATELIMIT_ADDRLEN);
	memcpy(gk + RATELIMIT_ADDRLEN, &all, sizeof(all));
	memcpy(ok, addr, RATELIMIT_ADDRLEN);
	memcpy(ok + RATELIMIT_ADDRLEN, &scope, sizeof(scope));
	if (global->rate != 0 &&
	    !ratelimit_take(sources.rl, gk, now, global->rate, gb))
		return (SOURCE_TOO_FAST);
	if (own->rate != 0 &&
	    !ratelimit_take(sources.rl, ok, now, own->rate, ob)) {
		if (global->rate != 0)
			ratelimit_give(sources.rl, gk, gb);
		return (SOURCE_TOO_FAST);
	}
	return (SOURCE_OK);
}

/* Count one more connection of (addr, scope); room was made for it. */
static void
source_count(const uint8_t *addr, uint64_t scope, uint32_t hash)
{
	struct source_entry	*e = source_find(addr, scope, hash);

	if (e->n++ == 0) {
		memcpy(e->addr, addr, RATELIMIT_ADDRLEN);
		e->scope = scope;
		e->hash = hash;
		sources.used++;
	}
}

/*
 * Check every limit that is set, then take: the conns limits (and the
 * room for new entries) first, as they take nothing when checked, the
 * rates last, since a token is taken when checked.
 */
enum source_verdict
source_admit(const struct sockaddr *sa, unsigned int prefix4,
    unsigned int prefix6, const char *listener,
    const struct source_limits *global, const struct source_limits *own,
    uint64_t now_usec, struct source_hold *h)
{
	struct source_entry	*e;
	enum source_verdict	 v = SOURCE_OK;
	uint64_t		 scope = SOURCE_SCOPE_ALL;
	uint32_t		 ghash = 0, ohash = 0;
	size_t			 fresh = 0;

	memset(h, 0, sizeof(*h));
	if (!source_addr(sa, prefix4, prefix6, h->addr))
		return (SOURCE_OK);
	/* Hashing needs no lock: the seed is set before any thread. */
	if (own->conns != 0 || own->rate != 0)
		scope = source_scope(listener);
	if (global->conns != 0)
		ghash = source_hash(h->addr, SOURCE_SCOPE_ALL);
	if (own->conns != 0)
		ohash = source_hash(h->addr, scope);

	pthread_mutex_lock(&sources.lock);
	if (global->conns != 0) {
		e = source_find(h->addr, SOURCE_SCOPE_ALL, ghash);
		if (e->n >= global->conns)
			v = SOURCE_TOO_MANY;
		else if (e->n == 0)
			fresh++;
	}
	if (own->conns != 0 && v == SOURCE_OK) {
		e = source_find(h->addr, scope, ohash);
		if (e->n >= own->conns)
			v = SOURCE_TOO_MANY;
		else if (e->n == 0)
			fresh++;
	}
	if (v == SOURCE_OK && sources.used + fresh > SOURCE_ENTRIES_MAX)
		v = SOURCE_FULL;
	/* Out of memory to grow is full too: a refusal, not a crash. */
	if (v == SOURCE_OK && 2 * (sources.used + fresh) > sources.mask + 1 &&
	    source_grow() == -1)
		v = SOURCE_FULL;
	if (v == SOURCE_OK)
		v = source_rates(h->addr, scope, global, own, now_usec);
	if (v == SOURCE_OK) {
		if (global->conns != 0) {
			source_count(h->addr, SOURCE_SCOPE_ALL, ghash);
			h->counted |= SOURCE_GLOBAL;
		}
		if (own->conns != 0) {
			source_count(h->addr, scope, ohash);
			h->counted |= SOURCE_OWN;
		}
	}
	pthread_mutex_unlock(&sources.lock);

	h->scope = scope;
	return (v);
}

/* One connection of (addr, scope) less; its last one forgets it. */
static void
source_uncount(const uint8_t *addr, uint64_t scope, uint32_t hash)
{
	struct source_entry	*e = source_find(addr, scope, hash);

	/* Not counted would be a bug; never underflow for it. */
	if (e->n != 0 && --e->n == 0)
		source_delete(e);
}

/* Give back the counts of h; rate tokens are spent for good. */
void
source_leave(struct source_hold *h)
{
	uint32_t	ghash, ohash;

	if (h->counted == 0)
		return;
	ghash = source_hash(h->addr, SOURCE_SCOPE_ALL);
	ohash = source_hash(h->addr, h->scope);
	pthread_mutex_lock(&sources.lock);
	if (h->counted & SOURCE_GLOBAL)
		source_uncount(h->addr, SOURCE_SCOPE_ALL, ghash);
	if (h->counted & SOURCE_OWN)
		source_uncount(h->addr, h->scope, ohash);
	pthread_mutex_unlock(&sources.lock);
	h->counted = 0;
}

/* Entries in use. */
size_t
sources_count(void)
{
	size_t	n;

	pthread_mutex_lock(&sources.lock);
	n = sources.used;
	pthread_mutex_unlock(&sources.lock);
	return (n);
}
