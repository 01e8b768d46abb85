/*
 * test_ratelimit.c: the per-address token buckets of UDP echo.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

#define TEST_SEED	0x5eed1234u
#define MSEC		1000ull		/* microseconds */
#define SEC		1000000ull

/* The key of IPv4 address 10.x.y.z, as udp.c builds it (::ffff:a.b.c.d,
 * scope zero). */
static const uint8_t *
test_key(uint8_t buf[RATELIMIT_KEYLEN], uint32_t n)
{
	memset(buf, 0, RATELIMIT_KEYLEN);
	buf[10] = buf[11] = 0xff;
	buf[12] = 10;
	buf[13] = (uint8_t)(n >> 16);
	buf[14] = (uint8_t)(n >> 8);
	buf[15] = (uint8_t)n;
	return buf;
}

/* How many of n requests at now are allowed. */
static unsigned int
test_takes(struct ratelimit *rl, const uint8_t *key, uint64_t now,
    unsigned int n, unsigned int rate, unsigned int burst)
{
	unsigned int	ok = 0;

	while (n-- > 0)
		if (ratelimit_take(rl, key, now, rate, burst))
			ok++;
	return ok;
}

/* A new source may send a burst at once, then one per 1/rate s. */
static void
test_burst_then_rate(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 k[RATELIMIT_KEYLEN];
	uint64_t		 t = 5 * SEC;
	int			 i;

	rl = ratelimit_new(64, TEST_SEED);
	assert_non_null(rl);
	test_key(k, 1);
	assert_int_equal(test_takes(rl, k, t, 150, 10, 100), 100);
	assert_false(ratelimit_take(rl, k, t, 10, 100));
	/* Half a token is not a token. */
	assert_false(ratelimit_take(rl, k, t + 50 * MSEC, 10, 100));
	/* Steady state: exactly one every 100 ms, however often asked. */
	for (i = 1; i <= 20; i++) {
		t += 100 * MSEC;
		assert_int_equal(test_takes(rl, k, t, 5, 10, 100), 1);
	}
	ratelimit_free(rl);
}

/* An idle bucket refills in proportion to time, up to burst only. */
static void
test_refill(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 k[RATELIMIT_KEYLEN];

	rl = ratelimit_new(64, TEST_SEED);
	assert_non_null(rl);
	test_key(k, 2);
	/* The clock may start at 0. */
	assert_int_equal(test_takes(rl, k, 0, 10, 4, 10), 10);
	assert_int_equal(test_takes(rl, k, 0, 10, 4, 10), 0);
	/* 4/s for 1.5 s: six tokens. */
	assert_int_equal(test_takes(rl, k, 1500 * MSEC, 10, 4, 10), 6);
	/* A long silence fills the bucket, and no further. */
	assert_int_equal(test_takes(rl, k, 3600 * SEC, 100, 4, 10), 10);
	/* A clock stepping back gives nothing. */
	assert_int_equal(test_takes(rl, k, 10 * SEC, 5, 4, 10), 0);
	/* A reload that lowers the burst clamps the bucket. */
	assert_int_equal(test_takes(rl, k, 7200 * SEC, 100, 4, 3), 3);
	/* Extreme settings do not overflow: full after a long time. */
	assert_int_equal(test_takes(rl, k, 9000 * SEC, 10, 1000000, 1000000),
	    10);
	ratelimit_free(rl);
}

/* One source running dry does not touch another. */
static void
test_sources_independent(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 a[RATELIMIT_KEYLEN], b[RATELIMIT_KEYLEN];

	rl = ratelimit_new(4096, 0);	/* random seed */
	assert_non_null(rl);
	test_key(a, 3);
	test_key(b, 4);
	assert_int_equal(test_takes(rl, a, SEC, 60, 1, 50), 50);
	assert_int_equal(test_takes(rl, b, SEC, 60, 1, 50), 50);
	assert_int_equal(test_takes(rl, a, 2 * SEC, 5, 1, 50), 1);
	/* IPv6 keys differing only in their last byte. */
	memset(a, 0x20, sizeof(a));
	memcpy(b, a, sizeof(b));
	b[15] ^= 1;
	assert_int_equal(test_takes(rl, a, SEC, 3, 1, 2), 2);
	assert_int_equal(test_takes(rl, b, SEC, 3, 1, 2), 2);
	assert_int_equal(ratelimit_used(rl), 4);
	/* The same address in another scope is another source: the
	 * scope bytes are part of the key and of its hash. */
	test_key(a, 5);
	test_key(b, 5);
	b[RATELIMIT_KEYLEN - 1] = 1;
	assert_int_equal(test_takes(rl, a, SEC, 3, 1, 2), 2);
	assert_int_equal(test_takes(rl, b, SEC, 3, 1, 2), 2);
	b[RATELIMIT_ADDRLEN] = 1;
	assert_int_equal(test_takes(rl, b, SEC, 3, 1, 2), 2);
	assert_int_equal(ratelimit_used(rl), 7);
	ratelimit_free(rl);
}

/* Keys differing in their scope alone spread over the sets: a hash that
 * left the scope out would put one address of every scope in one set. */
static void
test_scope_hashed(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 k[RATELIMIT_KEYLEN];
	uint32_t		 n, served = 0;

	rl = ratelimit_new(RATELIMIT_ENTRIES, TEST_SEED);
	assert_non_null(rl);
	/* One address in 200 scopes, burst 1 each, at one instant: a
	 * single set would hold RATELIMIT_WAYS of them and refuse the rest. */
	for (n = 0; n < 200; n++) {
		test_key(k, 7);
		memcpy(k + RATELIMIT_ADDRLEN, &n, sizeof(n));
		served += ratelimit_take(rl, k, SEC, 1, 1);
	}
	assert_int_equal(served, 200);
	assert_int_equal(ratelimit_used(rl), 200);
	ratelimit_free(rl);
}

/* A token given back can be taken again, once; giving never overfills
 * a bucket nor makes an entry for an unknown key. */
static void
test_give(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 k[RATELIMIT_KEYLEN], u[RATELIMIT_KEYLEN];

	rl = ratelimit_new(64, TEST_SEED);
	assert_non_null(rl);
	test_key(k, 8);
	assert_int_equal(test_takes(rl, k, SEC, 5, 1, 3), 3);
	ratelimit_give(rl, k, 3);
	assert_int_equal(test_takes(rl, k, SEC, 5, 1, 3), 1);
	/* A full bucket stays at its burst. */
	assert_int_equal(test_takes(rl, k, 100 * SEC, 1, 1, 3), 1);
	ratelimit_give(rl, k, 3);
	ratelimit_give(rl, k, 3);
	assert_int_equal(test_takes(rl, k, 100 * SEC, 5, 1, 3), 3);
	/* Nothing to give back to a key never seen. */
	test_key(u, 9);
	ratelimit_give(rl, u, 3);
	assert_int_equal(ratelimit_used(rl), 1);
	ratelimit_free(rl);
}

/* A flood of distinct sources never grows the table. */
static void
test_bounded(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 k[RATELIMIT_KEYLEN];
	uint32_t		 n, served = 0;

	rl = ratelimit_new(RATELIMIT_ENTRIES, TEST_SEED);
	assert_non_null(rl);
	assert_int_equal(ratelimit_size(rl), RATELIMIT_ENTRIES);
	/* rate 1/s, burst 1, a new source every microsecond. */
	for (n = 0; n < 200000; n++) {
		served += ratelimit_take(rl, test_key(k, n), n, 1, 1);
		assert_true(ratelimit_used(rl) <= RATELIMIT_ENTRIES);
	}
	/* The hash spreads sources over every set: nearly all are used,
	 * and no source got a reply by pushing a drained one out. */
	assert_true(ratelimit_used(rl) > RATELIMIT_ENTRIES * 9 / 10);
	assert_true(served <= RATELIMIT_ENTRIES);
	/* A second later every bucket is full again: new sources are
	 * served in the place of those entries. */
	assert_true(ratelimit_take(rl, test_key(k, n), n + SEC, 1, 1));
	/* Sizes round up to whole sets of a power of two. */
	ratelimit_free(rl);
	rl = ratelimit_new(1, TEST_SEED);
	assert_non_null(rl);
	assert_int_equal(ratelimit_size(rl), RATELIMIT_WAYS);
	ratelimit_free(rl);
	rl = ratelimit_new(RATELIMIT_WAYS * 3, TEST_SEED);
	assert_non_null(rl);
	assert_int_equal(ratelimit_size(rl), RATELIMIT_WAYS * 4);
	ratelimit_free(rl);
}

/*
 * A full set makes room only by forgetting a source whose bucket has
 * refilled: a spoofing flood cannot reset a drained source's limit by
 * pushing it out (found in review: a victim got 1000 replies where about
 * 105 were due).
 */
static void
test_eviction_never_resets_a_limit(void **state)
{
	struct ratelimit	*rl;
	uint8_t			 a[RATELIMIT_KEYLEN], k[RATELIMIT_KEYLEN];
	uint32_t		 i, round, extra = 0;

	/* One set of RATELIMIT_WAYS entries: every key shares it. */
	rl = ratelimit_new(RATELIMIT_WAYS, TEST_SEED);
	assert_non_null(rl);
	test_key(a, 1000);
	/* rate 1/s, burst 1: milliseconds refill nothing. */
	assert_true(ratelimit_take(rl, a, 0, 1, 1));
	assert_false(ratelimit_take(rl, a, 0, 1, 1));
	for (i = 1; i < RATELIMIT_WAYS; i++)
		assert_true(ratelimit_take(rl, test_key(k, i), i * MSEC, 1, 1));
	assert_int_equal(ratelimit_used(rl), RATELIMIT_WAYS);
	/* Every entry is drained: new sources are refused, a is kept. */
	for (round = 0; round < 100; round++) {
		for (i = 0; i < 50; i++)
			assert_false(ratelimit_take(rl, test_key(k, 100 + i),
			    (10 + round) * MSEC, 1, 1));
		extra += ratelimit_take(rl, a, (10 + round) * MSEC, 1, 1);
	}
	assert_int_equal(extra, 0);
	/* After a second the buckets are full again: the stalest entry
	 * (key 1) makes room for a new source, and a is still known. */
	assert_true(ratelimit_take(rl, test_key(k, 500), SEC + 2 * MSEC,
	    1, 1));
	assert_int_equal(ratelimit_used(rl), RATELIMIT_WAYS);
	assert_true(ratelimit_take(rl, a, SEC + 3 * MSEC, 1, 1));
	assert_false(ratelimit_take(rl, a, SEC + 4 * MSEC, 1, 1));
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_refill),
		cmocka_unit_test(test_sources_independent),
		cmocka_unit_test(test_scope_hashed),
		cmocka_unit_test(test_give),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_eviction_never_resets_a_limit),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
