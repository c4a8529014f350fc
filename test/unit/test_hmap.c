// SPDX-License-Identifier: GPL-2.0-only
/* The 64-bit map behind the lookups by id and inode (criu/base/hmap.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hmap.h"

static void test_empty(void **state)
{
	struct hmap m = { 0 };

	(void)state;
	assert_null(hmap_get(&m, 0));
	assert_null(hmap_get(&m, 12345));
	hmap_free(&m);
}

/* Many keys, including 0 and ones that collide modulo the capacity, all found again. */
static void test_many(void **state)
{
	struct hmap m = { 0 };
	const int n = 100000;

	(void)state;
	for (int i = 0; i < n; i++)
		assert_int_equal(hmap_put(&m, (uint64_t)i * 4096, i + 1), 0);
	assert_int_equal(m.nr, n);
	for (int i = 0; i < n; i++) {
		uint64_t *v = hmap_get(&m, (uint64_t)i * 4096);

		assert_non_null(v);
		assert_int_equal(*v, i + 1);
	}
	assert_null(hmap_get(&m, 4096ULL * n));
	assert_null(hmap_get(&m, 1));
	hmap_free(&m);
	assert_int_equal(m.cap, 0);
}

static void test_get_or_put(void **state)
{
	struct hmap m = { 0 };
	uint64_t *v;
	int made;

	(void)state;
	v = hmap_get_or_put(&m, 7, 70, &made);
	assert_non_null(v);
	assert_true(made);
	assert_int_equal(*v, 70);
	*v = 71;
	v = hmap_get_or_put(&m, 7, 99, &made);
	assert_false(made);
	assert_int_equal(*v, 71);
	assert_int_equal(hmap_put(&m, 7, 72), 0);
	assert_int_equal(*hmap_get(&m, 7), 72);
	assert_int_equal(m.nr, 1);
	hmap_free(&m);
}

static void test_hash(void **state)
{
	(void)state;
	assert_int_not_equal(hash_u64(1), hash_u64(2));
	assert_int_equal(hash_bytes("abc", 3, 1), hash_bytes("abc", 3, 1));
	assert_int_not_equal(hash_bytes("abc", 3, 1), hash_bytes("abc", 3, 2));
	assert_int_not_equal(hash_bytes("abc", 3, 0), hash_bytes("abd", 3, 0));
	assert_int_not_equal(hash_bytes("", 0, 0), hash_bytes("\0", 1, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_get_or_put),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
