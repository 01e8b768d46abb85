/*
 * pool.c: objects of one size, from slabs that are unmapped when empty.
 *
 * A slab is POOL_SLAB bytes mapped at an address that is a multiple of
 * its size, so that an object finds its slab by masking its address.  It
 * starts with its header and a stack of the indices of its free objects,
 * then the objects (which hold no bookkeeping of the pool's, so that
 * AddressSanitizer and valgrind can watch them as they watch malloc()'s).
 * Slabs with a free object are on a list: a new object comes from the
 * first, a slab is mapped when none has room, and one whose last object
 * comes back is unmapped, unless it is the only one with room (so that
 * one object coming and going does not map and unmap a slab each time).
 */
#include <sys/mman.h>
#include <sys/queue.h>

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* Freed objects are unaddressable for the sanitizer and for valgrind. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN	1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_POISON(a, n)	ASAN_POISON_MEMORY_REGION((a), (n))
#define POOL_UNPOISON(a, n)	ASAN_UNPOISON_MEMORY_REGION((a), (n))
#else
#define POOL_POISON(a, n)	((void)(a), (void)(n))
#define POOL_UNPOISON(a, n)	((void)(a), (void)(n))
#endif
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define POOL_VALGRIND	1
#endif
#endif

#define POOL_SLAB	(64 * 1024)
#define POOL_ALIGN(n)	(((n) + alignof(max_align_t) - 1) & \
			    ~(alignof(max_align_t) - 1))

struct pool_slab {
	TAILQ_ENTRY(pool_slab)	 entry;		/* on the pool's list */
	size_t			 nfree;		/* entries of free[] */
	bool			 listed;
	uint16_t		 free[];	/* indices of free objects */
};

struct pool {
	TAILQ_HEAD(, pool_slab)	 room;		/* slabs with a free object */
	size_t			 size;		/* of an object, aligned */
	size_t			 head;		/* where a slab's objects start */
	size_t			 per_slab;
	size_t			 used;
	size_t			 slabs;
};

/* A new pool. */
struct pool *
pool_new(size_t size)
{
	struct pool	*p;
	size_t		 n;

	size = POOL_ALIGN(size == 0 ? 1 : size);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	TAILQ_INIT(&p->room);
	p->size = size;
	/* As many objects as fit after the header and their indices. */
	for (n = POOL_SLAB / size; n > 0; n--) {
		p->head = POOL_ALIGN(sizeof(struct pool_slab) +
		    n * sizeof(uint16_t));
		if (p->head + n * size <= POOL_SLAB)
			break;
	}
	if (n == 0 || n > UINT16_MAX) {
		free(p);
		return (NULL);
	}
	p->per_slab = n;
#ifdef POOL_VALGRIND
	VALGRIND_CREATE_MEMPOOL(p, 0, 1);
#endif
	return (p);
}

/* Map a slab aligned to its size: map twice as much, unmap the ends. */
static struct pool_slab *
pool_map(struct pool *p)
{
	struct pool_slab	*sl;
	uintptr_t		 a, start;
	char			*m;
	size_t			 i;

	m = mmap(NULL, 2 * POOL_SLAB, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return (NULL);
	a = (uintptr_t)m;
	start = (a + POOL_SLAB - 1) & ~(uintptr_t)(POOL_SLAB - 1);
	if (start > a)
		munmap(m, start - a);
	munmap((char *)start + POOL_SLAB, a + 2 * POOL_SLAB -
	    (start + POOL_SLAB));
	sl = (struct pool_slab *)start;
	/* The sanitizer's marks outlive munmap(): clear those of the place. */
	POOL_UNPOISON(sl, POOL_SLAB);
	/* The lowest index on top, so objects are handed out in order. */
	sl->nfree = p->per_slab;
	for (i = 0; i < p->per_slab; i++)
		sl->free[i] = (uint16_t)(p->per_slab - 1 - i);
	POOL_POISON((char *)sl + p->head, p->per_slab * p->size);
#ifdef POOL_VALGRIND
	VALGRIND_MAKE_MEM_NOACCESS((char *)sl + p->head,
	    p->per_slab * p->size);
#endif
	TAILQ_INSERT_HEAD(&p->room, sl, entry);
	sl->listed = true;
	p->slabs++;
	return (sl);
}

/* An object, zeroed. */
void *
pool_get(struct pool *p)
{
	struct pool_slab	*sl;
	void			*o;

	if ((sl = TAILQ_FIRST(&p->room)) == NULL && (sl = pool_map(p)) ==
	    NULL)
		return (NULL);
	o = (char *)sl + p->head + sl->free[--sl->nfree] * p->size;
	if (sl->nfree == 0) {
		TAILQ_REMOVE(&p->room, sl, entry);
		sl->listed = false;
	}
	p->used++;
	POOL_UNPOISON(o, p->size);
#ifdef POOL_VALGRIND
	VALGRIND_MEMPOOL_ALLOC(p, o, p->size);
#endif
	memset(o, 0, p->size);
	return (o);
}

/* Give o back to its slab; unmap the slab if it is empty now. */
void
pool_put(struct pool *p, void *o)
{
	struct pool_slab	*sl;

	if (o == NULL)
		return;
	sl = (struct pool_slab *)((uintptr_t)o & ~(uintptr_t)(POOL_SLAB - 1));
	sl->free[sl->nfree++] = (uint16_t)(((char *)o - (char *)sl -
	    p->head) / p->size);
	p->used--;
	POOL_POISON(o, p->size);
#ifdef POOL_VALGRIND
	VALGRIND_MEMPOOL_FREE(p, o);
#endif
	if (!sl->listed) {
		TAILQ_INSERT_HEAD(&p->room, sl, entry);
		sl->listed = true;
	}
	if (sl->nfree == p->per_slab && (TAILQ_FIRST(&p->room) != sl ||
	    TAILQ_NEXT(sl, entry) != NULL)) {
		TAILQ_REMOVE(&p->room, sl, entry);
		POOL_UNPOISON(sl, POOL_SLAB);
		munmap(sl, POOL_SLAB);
		p->slabs--;
	}
}

/* Objects handed out and not given back. */
size_t
pool_used(const struct pool *p)
{
	return (p->used);
}

/* Slabs mapped. */
size_t
pool_slabs(const struct pool *p)
{
	return (p->slabs);
}

/* Unmap what is left (every slab is on the list) and free the pool. */
void
pool_free(struct pool *p)
{
	struct pool_slab	*sl;

	if (p == NULL)
		return;
	while ((sl = TAILQ_FIRST(&p->room)) != NULL) {
		TAILQ_REMOVE(&p->room, sl, entry);
		POOL_UNPOISON(sl, POOL_SLAB);
		munmap(sl, POOL_SLAB);
	}
#ifdef POOL_VALGRIND
	VALGRIND_DESTROY_MEMPOOL(p);
#endif
	free(p);
}
