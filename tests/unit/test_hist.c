/*
 * test_hist.c: the latency histogram keeps its 1 % promise, its
 * percentiles match known distributions, and merging loses nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

/* Assert that got is within 1 % of want. */
static void
assert_within_1pct(uint64_t got, uint64_t want)
{
	double	err;

	err = ((double)got - (double)want) / (double)want;
	if (err < 0)
		err = -err;
	if (err > 0.01)
		fail_msg("%llu is %.4f%% away from %llu",
		    (unsigned long long)got, err * 100.0,
		    (unsigned long long)want);
}

/* An empty histogram reports zeros rather than garbage. */
static void
test_empty(void **state)
{
	struct hist	*h;

	h = hist_new();
	assert_non_null(h);
	assert_int_equal(hist_count(h), 0);
	assert_int_equal(hist_percentile(h, 50.0), 0);
	assert_int_equal(hist_max(h), 0);
	assert_int_equal(hist_min(h), 0);
	assert_true(hist_mean(h) == 0.0);
	hist_free(h);
	hist_free(NULL);
}

/* Values below 128 are counted exactly. */
static void
test_small_values_exact(void **state)
{
	struct hist	*h;
	uint64_t	 v;

	h = hist_new();
	for (v = 1; v <= 100; v++)
		hist_record(h, v);
	assert_int_equal(hist_percentile(h, 50.0), 50);
	assert_int_equal(hist_percentile(h, 90.0), 90);
	assert_int_equal(hist_percentile(h, 99.0), 99);
	assert_int_equal(hist_percentile(h, 100.0), 100);
	assert_int_equal(hist_percentile(h, 0.0), 1);
	hist_free(h);
}

/*
 * Any single value, from 1 to 2^63, comes back within 1 %: a huge
 * companion value keeps the clamp to the exact maximum out of the way.
 */
static void
test_relative_error_wide_range(void **state)
{
	struct hist	*h;
	uint64_t	 v, got, big = UINT64_MAX;
	double		 x;
	unsigned	 n = 0;

	h = hist_new();
	srandom(862);
	for (x = 1.0; x < 9.2e18; x *= 1.003) {
		/* Geometric steps plus a random offset inside the step. */
		v = (uint64_t)x + (uint64_t)(random() % (long)(x * 0.003 + 1));
		hist_reset(h);
		hist_record(h, v);
		hist_record(h, big);
		got = hist_percentile(h, 50.0);
		assert_true(got >= v);
		assert_within_1pct(got, v);
		n++;
	}
	assert_true(n > 10000);
	hist_free(h);
}

/* A uniform distribution of 1..100000 has its percentiles where expected. */
static void
test_uniform_percentiles(void **state)
{
	struct hist	*h;
	uint64_t	 v;

	h = hist_new();
	for (v = 100000; v >= 1; v--)
		hist_record(h, v);
	assert_int_equal(hist_count(h), 100000);
	assert_within_1pct(hist_percentile(h, 50.0), 50000);
	assert_within_1pct(hist_percentile(h, 90.0), 90000);
	assert_within_1pct(hist_percentile(h, 99.0), 99000);
	assert_within_1pct(hist_percentile(h, 99.9), 99900);
	assert_int_equal(hist_percentile(h, 100.0), 100000);
	assert_int_equal(hist_max(h), 100000);
	assert_int_equal(hist_min(h), 1);
	assert_true(hist_mean(h) > 50000.4 && hist_mean(h) < 50000.6);
	hist_free(h);
}

/* A bimodal distribution: the tail shows only in the high percentiles. */
static void
test_bimodal_tail(void **state)
{
	struct hist	*h;
	unsigned	 i;

	h = hist_new();
	for (i = 0; i < 1000; i++)
		hist_record(h, 50000);		/* 50 us */
	for (i = 0; i < 10; i++)
		hist_record(h, 20000000);	/* 20 ms */
	assert_within_1pct(hist_percentile(h, 50.0), 50000);
	assert_within_1pct(hist_percentile(h, 99.0), 50000);
	/* Rank 1009 of 1010 is in the tail. */
	assert_within_1pct(hist_percentile(h, 99.9), 20000000);
	assert_int_equal(hist_max(h), 20000000);
	assert_int_equal(hist_min(h), 50000);
	hist_free(h);
}

/* The maximum is exact, not the top of its bucket. */
static void
test_max_exact(void **state)
{
	struct hist	*h;

	h = hist_new();
	hist_record(h, 1000);
	hist_record(h, 123456789);
	assert_int_equal(hist_max(h), 123456789);
	assert_int_equal(hist_percentile(h, 100.0), 123456789);
	hist_record(h, UINT64_MAX);
	assert_true(hist_max(h) == UINT64_MAX);
	assert_true(hist_percentile(h, 100.0) == UINT64_MAX);
	hist_free(h);
}

/* Merging two halves gives the histogram of the whole. */
static void
test_merge(void **state)
{
	struct hist	*a, *b, *all, *empty;
	uint64_t	 v;
	double		 pct[] = { 1.0, 50.0, 90.0, 99.0, 99.9, 100.0 };
	size_t		 i;

	a = hist_new();
	b = hist_new();
	all = hist_new();
	empty = hist_new();
	srandom(7);
	for (i = 0; i < 50000; i++) {
		v = (uint64_t)(random() % 5000000) + 1;
		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_record(b, 999999999);
	hist_record(all, 999999999);
	hist_merge(a, empty);
	hist_merge(a, b);
	assert_int_equal(hist_count(a), hist_count(all));
	assert_int_equal(hist_min(a), hist_min(all));
	assert_int_equal(hist_max(a), 999999999);
	for (i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		assert_int_equal(hist_percentile(a, pct[i]),
		    hist_percentile(all, pct[i]));
	assert_true(hist_mean(a) > hist_mean(all) * 0.999999 &&
	    hist_mean(a) < hist_mean(all) * 1.000001);
	/* Into an empty one: the minimum must come from src. */
	hist_merge(empty, b);
	assert_int_equal(hist_min(empty), hist_min(b));
	assert_int_equal(hist_count(empty), hist_count(b));
	hist_free(a);
	hist_free(b);
	hist_free(all);
	hist_free(empty);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_small_values_exact),
		cmocka_unit_test(test_relative_error_wide_range),
		cmocka_unit_test(test_uniform_percentiles),
		cmocka_unit_test(test_bimodal_tail),
		cmocka_unit_test(test_max_exact),
		cmocka_unit_test(test_merge),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
