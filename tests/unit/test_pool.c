/*
 * test_pool.c: the object pool gives zeroed, distinct, aligned objects,
 * and unmaps a slab once all of its objects are back.
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool.h"

#define TEST_N	5000

/* Objects are zeroed, aligned and do not overlap. */
static void
test_objects(void **state)
{
	struct pool	*p = pool_new(100);
	unsigned char	*o[TEST_N];
	size_t		 i, j;

	assert_non_null(p);
	for (i = 0; i < TEST_N; i++) {
		o[i] = pool_get(p);
		assert_non_null(o[i]);
		assert_int_equal((uintptr_t)o[i] % alignof(max_align_t), 0);
		for (j = 0; j < 100; j++)
			assert_int_equal(o[i][j], 0);
		memset(o[i], (int)(i & 0xff), 100);
	}
	assert_int_equal(pool_used(p), TEST_N);
	for (i = 0; i < TEST_N; i++)
		for (j = 0; j < 100; j++)
			assert_int_equal(o[i][j], i & 0xff);
	for (i = 0; i < TEST_N; i++)
		pool_put(p, o[i]);
	assert_int_equal(pool_used(p), 0);
	pool_free(p);
}

/* Slabs go back when emptied, all but one; a reused object is zeroed. */
static void
test_unmap(void **state)
{
	struct pool	*p = pool_new(400);
	void		*o[TEST_N], *again;
	size_t		 i, most;

	assert_non_null(p);
	for (i = 0; i < TEST_N; i++)
		assert_non_null(o[i] = pool_get(p));
	most = pool_slabs(p);
	assert_true(most >= TEST_N * 400 / (64 * 1024));
	/* Every other one back: no slab is empty yet. */
	for (i = 0; i < TEST_N; i += 2)
		pool_put(p, o[i]);
	assert_int_equal(pool_slabs(p), most);
	again = pool_get(p);
	assert_non_null(again);
	assert_true(((unsigned char *)again)[0] == 0 &&
	    memcmp(again, (char[400]){ 0 }, 400) == 0);
	pool_put(p, again);
	for (i = 1; i < TEST_N; i += 2)
		pool_put(p, o[i]);
	/* One slab kept for the next object, the rest unmapped. */
	assert_int_equal(pool_slabs(p), 1);
	assert_int_equal(pool_used(p), 0);
	pool_free(p);
	pool_free(NULL);
	pool_put(p = pool_new(8), NULL);
	pool_free(p);
}

/* Sizes that fill a slab oddly: tiny objects, one object per slab. */
static void
test_sizes(void **state)
{
	struct pool	*p;
	void		*a, *b;

	assert_non_null(p = pool_new(1));
	a = pool_get(p);
	b = pool_get(p);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	pool_put(p, a);
	pool_put(p, b);
	pool_free(p);
	assert_non_null(p = pool_new(40000));
	a = pool_get(p);
	b = pool_get(p);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(pool_slabs(p), 2);
	pool_put(p, a);
	pool_put(p, b);
	assert_int_equal(pool_slabs(p), 1);
	pool_free(p);
	assert_null(pool_new(100000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_sizes),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
