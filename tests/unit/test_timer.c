/*
 * test_timer.c: the timer heap against a plain model, and the timerfd
 * behind a real event loop.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <event2/event.h>

#include "timer.h"

#define TEST_SEED	0x71e4e4a1u
#define NTIMERS		300

/* A small deterministic generator, the same on every libc. */
static uint32_t
test_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (*s);
}

static void
noop(void *arg)
{
	(void)arg;
}

/* Everything set comes out once, earliest first. */
static void
test_order(void **state)
{
	struct timers	*ts;
	struct timer	 t[NTIMERS], *e;
	uint32_t	 seed = TEST_SEED;
	uint64_t	 last = 0;
	size_t		 i, n = 0;

	(void)state;
	assert_non_null(ts = timers_new_detached());
	for (i = 0; i < NTIMERS; i++) {
		timer_init(&t[i], noop, NULL);
		assert_false(timer_pending(&t[i]));
		/* Many equal deadlines too. */
		assert_int_equal(timer_at(ts, &t[i], test_rand(&seed) % 50),
		    0);
		assert_true(timer_pending(&t[i]));
	}
	while ((e = timers_expire(ts, UINT64_MAX)) != NULL) {
		assert_true(e->at >= last);
		assert_false(timer_pending(e));
		last = e->at;
		n++;
	}
	assert_int_equal(n, NTIMERS);
	timers_free(ts);
}

/* Random sets, moves, removals and expiries agree with a plain array. */
static void
test_model(void **state)
{
	struct timers	*ts;
	struct timer	 t[NTIMERS], *e;
	bool		 pending[NTIMERS] = { false };
	uint64_t	 at[NTIMERS], now = 0, best;
	uint32_t	 seed = TEST_SEED;
	size_t		 i, k, min, ops, moved = 0, removed = 0, expired = 0;

	(void)state;
	assert_non_null(ts = timers_new_detached());
	for (i = 0; i < NTIMERS; i++)
		timer_init(&t[i], noop, &t[i]);
	for (ops = 0; ops < 200000; ops++) {
		k = test_rand(&seed) % NTIMERS;
		switch (test_rand(&seed) % 4) {
		case 0:
		case 1:
			if (pending[k])
				moved++;
			at[k] = now + test_rand(&seed) % 1000;
			assert_int_equal(timer_at(ts, &t[k], at[k]), 0);
			pending[k] = true;
			break;
		case 2:
			if (pending[k])
				removed++;
			timer_del(ts, &t[k]);
			pending[k] = false;
			break;
		case 3:
			now += test_rand(&seed) % 20;
			/* The model's earliest pending timer, if due. */
			min = NTIMERS;
			best = UINT64_MAX;
			for (i = 0; i < NTIMERS; i++)
				if (pending[i] && at[i] < best) {
					best = at[i];
					min = i;
				}
			e = timers_expire(ts, now);
			if (min == NTIMERS || best > now) {
				assert_null(e);
				break;
			}
			assert_non_null(e);
			/* Ties may come in any order: compare deadlines. */
			assert_int_equal(e->at, best);
			k = (size_t)(e - t);
			assert_true(pending[k]);
			pending[k] = false;
			expired++;
			break;
		}
		for (i = 0; i < NTIMERS; i += 37)
			assert_int_equal(timer_pending(&t[i]), pending[i]);
	}
	/* The draw must reach every kind of change. */
	assert_true(moved > 1000 && removed > 1000 && expired > 1000);
	for (i = 0; i < NTIMERS; i++)
		timer_del(ts, &t[i]);
	assert_null(timers_expire(ts, UINT64_MAX));
	timers_free(ts);
}

/* What the loop test's callbacks record. */
struct fired {
	struct event_base	*base;
	struct timers		*ts;
	struct timer		*again;		/* set again once, if not NULL */
	int			 count;
	uint64_t		 when;
};

static void
on_fire(void *arg)
{
	struct fired	*f = arg;

	f->count++;
	f->when = timer_now();
	if (f->again != NULL) {
		timer_in(f->ts, f->again, 10000);
		f->again = NULL;
		return;
	}
	event_base_loopbreak(f->base);
}

/* Never fires: removed before its time. */
static void
on_never(void *arg)
{
	(void)arg;
	fail_msg("a removed timer fired");
}

/*
 * Behind a real loop: the timerfd wakes it at the deadline, not before, a
 * callback can set its own timer again, and a removed timer stays quiet.
 */
static void
test_loop(void **state)
{
	struct event_base	*base;
	struct timer		 t, never;
	struct fired		 f = { 0 };
	uint64_t		 start;

	(void)state;
	assert_non_null(base = event_base_new());
	assert_non_null(f.ts = timers_new(base));
	f.base = base;
	f.again = &t;
	timer_init(&t, on_fire, &f);
	timer_init(&never, on_never, NULL);
	start = timer_now();
	assert_int_equal(timer_in(f.ts, &t, 20000), 0);
	/* Earlier than t: the timerfd moves to it, then it is gone. */
	assert_int_equal(timer_in(f.ts, &never, 5000), 0);
	timer_del(f.ts, &never);
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(f.count, 2);
	/* 20 ms, then 10 ms more. */
	assert_true(f.when - start >= 30000);
	assert_false(timer_pending(&t));
	timers_free(f.ts);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_loop),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
