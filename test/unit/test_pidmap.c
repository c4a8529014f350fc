/* The pid -> index map: lookups, misses, replacement, growth, bad keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pidmap.h"

static void test_basic(void **state)
{
	struct pidmap m = { 0 };

	(void)state;
	assert_int_equal(pidmap_get(&m, 5), -1);
	assert_int_equal(pidmap_init(&m, 4), 0);
	assert_int_equal(pidmap_set(&m, 5, 0), 0);
	assert_int_equal(pidmap_set(&m, 4194304, 7), 0);
	assert_int_equal(pidmap_get(&m, 5), 0);
	assert_int_equal(pidmap_get(&m, 4194304), 7);
	assert_int_equal(pidmap_get(&m, 6), -1);
	assert_int_equal(pidmap_set(&m, 5, 9), 0);
	assert_int_equal(pidmap_get(&m, 5), 9);
	assert_int_equal(m.nr, 2);
	assert_int_equal(pidmap_set(&m, 0, 1), -1);
	assert_int_equal(pidmap_set(&m, -3, 1), -1);
	assert_int_equal(pidmap_get(&m, 0), -1);
	pidmap_free(&m);
}

static void test_grow(void **state)
{
	struct pidmap m = { 0 };

	(void)state;
	/* no init: the first set makes it; 100000 keys make it grow many times */
	for (int i = 1; i <= 100000; i++)
		assert_int_equal(pidmap_set(&m, i * 7, i), 0);
	for (int i = 1; i <= 100000; i++)
		assert_int_equal(pidmap_get(&m, i * 7), i);
	assert_int_equal(pidmap_get(&m, 8), -1);
	assert_true(m.cap >= 2 * m.nr);
	pidmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
