/*
 * timer.h: the timers of one event loop, on a timerfd.
 *
 * libevent hands the time to its next timeout to epoll_wait(), so with any
 * timer pending (every session has an idle timeout) each sleep of the loop
 * arms and cancels a kernel hrtimer: 5-6 % of the CPU of a hand-written
 * epoll server at one connection, ping-pong, measured by giving it a 1 s
 * timeout.  Here a loop's timers are a binary heap behind one timerfd,
 * which is set only when the earliest deadline comes closer; in the
 * steady state the loop itself waits with no timeout at all.  (The rare
 * timeouts stay libevent's: a graceful stop's deadline, an accept pause,
 * the write timeout of a session whose replies wait.)
 *
 * One struct timers per event_base, used from that base's thread only.
 * Times are CLOCK_MONOTONIC microseconds (timer_now()).
 */
#ifndef ECHOD_TIMER_H
#define ECHOD_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct timeval;
struct timers;

/* A timer; embedded in what it times, set up with timer_init(). */
struct timer {
	uint64_t	  at;		/* deadline, when pending */
	size_t		  slot;		/* index in the heap; TIMER_IDLE */
	void		(*fn)(void *);
	void		 *arg;
};

#define TIMER_IDLE	SIZE_MAX

struct timers	*timers_new(struct event_base *);
void		 timers_free(struct timers *);

void		 timer_init(struct timer *, void (*)(void *), void *);
/* Run fn(arg) at (or soon after) at; a pending timer moves.  0 or -1. */
int		 timer_at(struct timers *, struct timer *, uint64_t);
/* The same, usec from now. */
int		 timer_in(struct timers *, struct timer *, uint64_t);
void		 timer_del(struct timers *, struct timer *);
bool		 timer_pending(const struct timer *);

/*
 * The heap alone, without the timerfd, for the unit tests: set or move,
 * remove, and take the earliest timer if it is due at now (else NULL).
 */
struct timers	*timers_new_detached(void);
struct timer	*timers_expire(struct timers *, uint64_t now);

/* Microseconds of CLOCK_MONOTONIC, the clock of MONOTONIC_USEC. */
uint64_t	 timer_now(void);
/*
 * The same clock read at the last tick, a few milliseconds behind and
 * without reading the TSC: the time of every read of a session.
 */
uint64_t	 timer_coarse(void);
/* Whether a timeout is set; zero means "never". */
bool		 timer_tv_isset(const struct timeval *);

#endif
