/*
 * budget.h: max_memory, the bytes all sessions of all loops hold
 * together (echod.conf(5), MEMORY).
 *
 * Each loop has a share: its count of what its sessions hold, written by
 * that loop's thread alone, and an event of that loop to activate when
 * the total is back under the budget.  Past the budget the total is
 * "over" until it drains to 7/8 of it, so that a total hovering at the
 * budget does not stop and wake the waiting sessions on every byte.
 */
#ifndef ECHOD_BUDGET_H
#define ECHOD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget_share;
struct event;

/* Room for n loops; -1 when out of memory.  budget_free() undoes it. */
int			 budget_init(unsigned int n);
void			 budget_free(void);
/* A loop's share; wake is activated when the total is back under. */
struct budget_share	*budget_join(struct event *wake);
/* The loop is going: its wake event is never activated again. */
void			 budget_leave(struct budget_share *);
/* Set the budget (start, reload), and look at the total. */
void			 budget_set(uint64_t);
/* The share's sessions hold delta bytes more (or fewer): count, compare. */
void			 budget_hold(struct budget_share *, int64_t delta);
/* Whether past the budget: one relaxed load, the read path's only cost. */
bool			 budget_over(void);
/* Bytes all sessions hold now, and may hold (max_memory). */
uint64_t		 budget_held(void);
uint64_t		 budget_limit(void);
/*
 * Once a second, on the main loop: two loops crossing the budget at once
 * may leave it "over" although it drained, and a wake-up may miss a
 * session that began to wait at that moment; look again, wake again.
 */
void			 budget_tick(void);

#endif
