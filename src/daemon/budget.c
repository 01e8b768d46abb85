/*
 * budget.c: max_memory over all loops (see budget.h).
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <event2/event.h>

#include "budget.h"

struct budget_share {
	atomic_uint_fast64_t	 held;		/* written by its loop only */
	struct event *_Atomic	 wake;		/* NULL once it left */
};

static struct {
	struct budget_share	*shares;
	unsigned int		 n;
	unsigned int		 used;		/* joined; the main thread's */
	atomic_uint_fast64_t	 limit;
	atomic_bool		 over;
} budget;

/* Room for n shares, taken by budget_join() before any loop runs. */
int
budget_init(unsigned int n)
{
	if ((budget.shares = calloc(n, sizeof(*budget.shares))) == NULL)
		return (-1);
	budget.n = n;
	budget.used = 0;
	return (0);
}

/* Free the shares; no loop may use them any more. */
void
budget_free(void)
{
	free(budget.shares);
	budget.shares = NULL;
	budget.n = budget.used = 0;
}

/* The next share, for the loop whose event wake is. */
struct budget_share *
budget_join(struct event *wake)
{
	struct budget_share	*sh;

	if (budget.used == budget.n)
		return (NULL);
	sh = &budget.shares[budget.used++];
	atomic_store(&sh->wake, wake);
	return (sh);
}

/* The share's loop is going away. */
void
budget_leave(struct budget_share *sh)
{
	if (sh != NULL)
		atomic_store(&sh->wake, NULL);
}

/* Whether past the budget. */
bool
budget_over(void)
{
	return (atomic_load_explicit(&budget.over, memory_order_relaxed));
}

/* The sum of every share. */
uint64_t
budget_held(void)
{
	uint64_t	 n = 0;
	unsigned int	 i;

	/* All n: one not joined yet holds 0 (loops join as others run). */
	for (i = 0; i < budget.n; i++)
		n += atomic_load_explicit(&budget.shares[i].held,
		    memory_order_relaxed);
	return (n);
}

/* Activate the wake event of every loop still there. */
static void
budget_wake(void)
{
	struct event	*ev;
	unsigned int	 i;

	for (i = 0; i < budget.n; i++)
		if ((ev = atomic_load(&budget.shares[i].wake)) != NULL)
			event_active(ev, 0, 0);
}

/*
 * Compare the total with the budget: over past it, back under only at
 * 7/8 of it; when back under, wake every loop.
 */
static void
budget_check(void)
{
	uint64_t	 held = budget_held(), limit;

	limit = atomic_load_explicit(&budget.limit, memory_order_relaxed);
	if (!budget_over()) {
		if (held > limit)
			atomic_store_explicit(&budget.over, true,
			    memory_order_relaxed);
		return;
	}
	if (held > limit - limit / 8)
		return;
	atomic_store_explicit(&budget.over, false, memory_order_relaxed);
	budget_wake();
}

/* The budget: max_memory. */
uint64_t
budget_limit(void)
{
	return (atomic_load_explicit(&budget.limit, memory_order_relaxed));
}

/* Set the budget and apply it. */
void
budget_set(uint64_t limit)
{
	atomic_store_explicit(&budget.limit, limit, memory_order_relaxed);
	budget_check();
}

/*
 * Only sh's loop writes sh's count: a load and a store, no locked add.
 * The total is looked at when the count grows while under the budget or
 * shrinks while over it; on the direct path, which holds nothing, never.
 */
void
budget_hold(struct budget_share *sh, int64_t delta)
{
	uint64_t	 held;

	held = atomic_load_explicit(&sh->held, memory_order_relaxed);
	atomic_store_explicit(&sh->held, held + (uint64_t)delta,
	    memory_order_relaxed);
	if ((delta > 0) != budget_over())
		budget_check();
}

/* See budget.h. */
void
budget_tick(void)
{
	budget_check();
	if (!budget_over())
		budget_wake();
}
