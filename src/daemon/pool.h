/*
 * pool.h: objects of one size, from pages that go back to the system.
 *
 * malloc() keeps the memory of freed objects when anything still lives on
 * their pages, and libevent's table of descriptors, allocated as sessions
 * first use a descriptor number and never freed, lives between them: after
 * 15 000 sessions closed, 7 MiB of their pages stayed (issue 12).  A pool
 * takes its objects from slabs of its own, mapped with mmap(2), and unmaps
 * a slab once every object on it is free.  One thread per pool: no locks.
 */
#ifndef ECHOD_POOL_H
#define ECHOD_POOL_H

#include <stddef.h>

struct pool;

/* A pool of objects of size bytes (aligned for any type); NULL: ENOMEM. */
struct pool	*pool_new(size_t size);
/* A zeroed object, or NULL when no memory can be had. */
void		*pool_get(struct pool *);
/* Give an object back; NULL is fine. */
void		 pool_put(struct pool *, void *);
/* Objects in use, and slabs mapped (for the tests). */
size_t		 pool_used(const struct pool *);
size_t		 pool_slabs(const struct pool *);
/* Free the pool; every object must have been given back.  NULL is fine. */
void		 pool_free(struct pool *);

#endif
