/*
 * timer.c: the timers of one event loop, on a timerfd (see timer.h).
 *
 * A binary min-heap of deadlines, each timer knowing its slot, so that
 * moving or removing one is O(log n).  The timerfd is set to the heap's
 * top, with an absolute deadline, only when that comes closer than what
 * it is set to (see timers_arm()); sessions set their timers lazily
 * (session.c), so in the steady state nothing here runs at all.
 */
#include <sys/time.h>
#include <sys/timerfd.h>

/* removed */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "timer.h"

struct timers {
	struct timer	**heap;
	size_t		  n;
	size_t		  size;
	int		  fd;		/* timerfd; -1 when detached */
	struct event	 *ev;
	uint64_t	  armed;	/* the timerfd's deadline; 0: none */
	bool		  firing;	/* in timers_fire(): set it after */
};

static void	timers_fire(evutil_socket_t, short, void *);

/* An empty heap. */
struct timers *
timers_new_detached(void)
{
	struct timers	*ts;

	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return (NULL);
	ts->fd = -1;
	return (ts);
}

/* An empty heap behind a timerfd that base watches. */
struct timers *
timers_new(struct event_base *base)
{
	struct timers	*ts;

	if ((ts = timers_new_detached()) == NULL)
		return (NULL);
	ts->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ts->fd == -1 ||
	    (ts->ev = event_new(base, ts->fd, EV_READ | EV_PERSIST,
	    timers_fire, ts)) == NULL || event_add(ts->ev, NULL) == -1) {
		timers_free(ts);
		return (NULL);
	}
	return (ts);
}

/* Free ts; its timers must be gone. */
void
timers_free(struct timers *ts)
{
	if (ts == NULL)
		return;
	if (ts->ev != NULL)
		event_free(ts->ev);
	if (ts->fd != -1)
		close(ts->fd);
	free(ts->heap);
	free(ts);
}

/* A timer that is not set. */
void
timer_init(struct timer *t, void (*fn)(void *), void *arg)
{
	t->at = 0;
	t->slot = TIMER_IDLE;
	t->fn = fn;
	t->arg = arg;
}

/* Whether t is set. */
bool
timer_pending(const struct timer *t)
{
	return (t->slot != TIMER_IDLE);
}

/* Put t in slot i. */
static void
timers_place(struct timers *ts, size_t i, struct timer *t)
{
	ts->heap[i] = t;
	t->slot = i;
}

/* Move the timer in slot i towards the top while it is earlier. */
static void
timers_up(struct timers *ts, size_t i)
{
	struct timer	*t = ts->heap[i];
	size_t		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (ts->heap[parent]->at <= t->at)
			break;
		timers_place(ts, i, ts->heap[parent]);
		i = parent;
	}
	timers_place(ts, i, t);
}

/* Move the timer in slot i towards the leaves while it is later. */
static void
timers_down(struct timers *ts, size_t i)
{
	struct timer	*t = ts->heap[i];
	size_t		 child;

	while ((child = 2 * i + 1) < ts->n) {
		if (child + 1 < ts->n &&
		    ts->heap[child + 1]->at < ts->heap[child]->at)
			child++;
		if (t->at <= ts->heap[child]->at)
			break;
		timers_place(ts, i, ts->heap[child]);
		i = child;
	}
	timers_place(ts, i, t);
}

/*
 * Set the timerfd to the earliest deadline if that is earlier than what
 * it is set to.  A later one (the earliest timer went away) leaves it:
 * it fires early once, finds nothing due and is set again, which costs
 * less than a timerfd_settime() on every close of the oldest session.
 */
static void
timers_arm(struct timers *ts)
{
	struct itimerspec	 its;
	uint64_t		 at;

	if (ts->fd == -1 || ts->firing || ts->n == 0)
		return;
	at = ts->heap[0]->at;
	if (ts->armed != 0 && at >= ts->armed)
		return;
	memset(&its, 0, sizeof(its));
	/* 0 would disarm it: a deadline that has passed is due now. */
	if (at == 0)
		at = 1;
	its.it_value.tv_sec = (time_t)(at / 1000000);
	its.it_value.tv_nsec = (long)(at % 1000000) * 1000;
	if (timerfd_settime(ts->fd, TFD_TIMER_ABSTIME, &its, NULL) == -1) {
		log_warn("timerfd_settime");
		return;
	}
	ts->armed = at;
}

/* See timer.h. */
int
timer_at(struct timers *ts, struct timer *t, uint64_t at)
{
	struct timer	**heap;
	size_t		  size;

	if (timer_pending(t)) {
		t->at = at;
		timers_up(ts, t->slot);
		timers_down(ts, t->slot);
		timers_arm(ts);
		return (0);
	}
	if (ts->n == ts->size) {
		size = ts->size == 0 ? 64 : ts->size * 2;
		if ((heap = reallocarray(ts->heap, size,
		    sizeof(*heap))) == NULL)
			return (-1);
		ts->heap = heap;
		ts->size = size;
	}
	t->at = at;
	timers_place(ts, ts->n++, t);
	timers_up(ts, t->slot);
	timers_arm(ts);
	return (0);
}

/* See timer.h. */
int
timer_in(struct timers *ts, struct timer *t, uint64_t usec)
{
	return (timer_at(ts, t, timer_now() + usec));
}

/* See timer.h. */
void
timer_del(struct timers *ts, struct timer *t)
{
	size_t		 i = t->slot;
	struct timer	*last;

	if (!timer_pending(t))
		return;
	t->slot = TIMER_IDLE;
	last = ts->heap[--ts->n];
	if (last == t)
		return;
	timers_place(ts, i, last);
	timers_up(ts, i);
	timers_down(ts, last->slot);
	timers_arm(ts);
}

/* See timer.h. */
struct timer *
timers_expire(struct timers *ts, uint64_t now)
{
	struct timer	*t;

	if (ts->n == 0 || ts->heap[0]->at > now)
		return (NULL);
	t = ts->heap[0];
	timer_del(ts, t);
	return (t);
}

/*
 * The timerfd fired: run what is due.  A callback may set or remove any
 * timer, its own too; the timerfd is set once, after the last of them.
 */
static void
timers_fire(evutil_socket_t fd, short what, void *arg)
{
	struct timers	*ts = arg;
	struct timer	*t;
	uint64_t	 expirations, now;

	(void)what;
	if (read(fd, &expirations, sizeof(expirations)) == -1 &&
	    errno != EAGAIN)
		log_warn("timerfd read");
	ts->armed = 0;
	ts->firing = true;
	now = timer_now();
	while ((t = timers_expire(ts, now)) != NULL)
		t->fn(t->arg);
	ts->firing = false;
	timers_arm(ts);
}

/* Microseconds of CLOCK_MONOTONIC, the clock of MONOTONIC_USEC. */
uint64_t
timer_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/*
 * The same clock read at the last tick (a few milliseconds behind, and
 * without reading the TSC): for the time of every read of a session.
 */
uint64_t
timer_coarse(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* Whether a timeout is set; zero means "never". */
bool
timer_tv_isset(const struct timeval *tv)
{
	return (tv->tv_sec != 0 || tv->tv_usec != 0);
}
