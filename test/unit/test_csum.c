/*
 * The page checksum routines (csum-impl.h: XXH3-64 of a 4096-byte page in
 * fewer instructions than XXH3_64bits() spends) against XXH3_64bits() of
 * the xxhash library itself, for every build this CPU runs: random pages,
 * pages of one byte value, pages not aligned, and a changed byte found at
 * every place that matters to the routine (block and stripe edges, the
 * last stripe). csum_buf() over odd sizes too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "csum.h"

#define NR	512	/* random pages */

typedef void (*pages_fn)(const void *p, size_t nr, uint64_t *out);
typedef size_t (*check_fn)(const void *p, size_t nr, const uint64_t *want);
typedef uint64_t (*buf_fn)(const void *p, size_t len);

struct build {
	const char *name, *cpu;
	pages_fn pages;
	check_fn check;
	buf_fn buf;
};

static const struct build builds[] = {
	{ "scalar", NULL, csum_pages_scalar, csum_check_pages_scalar, csum_buf_scalar },
	{ "avx2", "avx2", csum_pages_avx2, csum_check_pages_avx2, csum_buf_avx2 },
	{ "avx512", "avx512f", csum_pages_avx512, csum_check_pages_avx512, csum_buf_avx512 },
};

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* splitmix64: the same pages every run */
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int runs(const struct build *b)
{
	__builtin_cpu_init();
	if (b->cpu && !strcmp(b->cpu, "avx2"))
		return __builtin_cpu_supports("avx2");
	if (b->cpu)
		return __builtin_cpu_supports("avx512f");
	return 1;
}

/* @nr pages at @p: every build gives XXH3_64bits() of each. */
static void same_as_xxh3(const unsigned char *p, size_t nr)
{
	uint64_t *want = malloc(nr * sizeof(*want)), *got = malloc(nr * sizeof(*got));

	assert_non_null(want);
	assert_non_null(got);
	for (size_t i = 0; i < nr; i++)
		want[i] = XXH3_64bits(p + i * CSUM_PAGE, CSUM_PAGE);
	for (size_t k = 0; k < sizeof(builds) / sizeof(builds[0]); k++) {
		if (!runs(&builds[k]))
			continue;
		memset(got, 0, nr * sizeof(*got));
		builds[k].pages(p, nr, got);
		for (size_t i = 0; i < nr; i++)
			if (got[i] != want[i])
				fail_msg("%s: page %zu: %016llx, XXH3 says %016llx", builds[k].name, i,
					 (unsigned long long)got[i], (unsigned long long)want[i]);
		assert_int_equal(builds[k].check(p, nr, want), nr);
	}
	/* and the one picked for this machine */
	csum_pages(p, nr, got);
	assert_memory_equal(got, want, nr * sizeof(*got));
	assert_int_equal(csum_check_pages(p, nr, want), nr);
	free(want);
	free(got);
}

static void test_random_pages(void **state)
{
	unsigned char *p = aligned_alloc(4096, NR * CSUM_PAGE);

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < NR * CSUM_PAGE / 8; i++) {
		uint64_t v = rnd();

		memcpy(p + i * 8, &v, 8);
	}
	same_as_xxh3(p, NR);
	/* sparse pages: mostly zeros, a few random words (carries in the sums) */
	memset(p, 0, NR * CSUM_PAGE);
	for (size_t i = 0; i < NR * 8; i++) {
		uint64_t v = rnd();

		memcpy(p + (rnd() % (NR * CSUM_PAGE / 8)) * 8, &v, 8);
	}
	same_as_xxh3(p, NR);
	free(p);
}

/* Pages of one byte value each (0, 0xff, ...), and all-ones words that overflow every sum. */
static void test_uniform_pages(void **state)
{
	unsigned char *p = aligned_alloc(4096, 256 * CSUM_PAGE);

	(void)state;
	assert_non_null(p);
	for (int v = 0; v < 256; v++)
		memset(p + v * CSUM_PAGE, v, CSUM_PAGE);
	same_as_xxh3(p, 256);
	free(p);
}

/* The routines load without alignment: pages at every offset in a cache line. */
static void test_unaligned(void **state)
{
	unsigned char *m = aligned_alloc(4096, 5 * CSUM_PAGE);

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < 5 * CSUM_PAGE; i++)
		m[i] = (unsigned char)rnd();
	for (int off = 1; off < 64; off += 3)
		same_as_xxh3(m + off, 4);
	free(m);
}

/* A changed byte anywhere is found, and in the right page. */
static void test_damage_found(void **state)
{
	static const size_t at[] = { 0, 1, 7, 8, 63, 64, 1023, 1024, 2047, 2048, 3071, 3072, 4031, 4032, 4095 };
	unsigned char *p = aligned_alloc(4096, 3 * CSUM_PAGE);
	uint64_t want[3];

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < 3 * CSUM_PAGE; i++)
		p[i] = (unsigned char)rnd();
	for (int i = 0; i < 3; i++)
		want[i] = XXH3_64bits(p + i * CSUM_PAGE, CSUM_PAGE);
	for (size_t k = 0; k < sizeof(builds) / sizeof(builds[0]); k++) {
		if (!runs(&builds[k]))
			continue;
		for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
			for (int bit = 0; bit < 8; bit += 7) {
				p[CSUM_PAGE + at[j]] ^= 1 << bit;
				assert_int_equal(builds[k].check(p, 3, want), 1);
				p[CSUM_PAGE + at[j]] ^= 1 << bit;
			}
		}
		/* two pages swapped: both still hash to what they are, the first differs */
		assert_int_equal(builds[k].check(p + CSUM_PAGE, 2, want), 0);
		assert_int_equal(builds[k].check(p, 3, want), 3);
	}
	free(p);
}

/* csum_buf() is XXH3_64bits() at every length (each of its size classes, and odd ones). */
static void test_odd_sizes(void **state)
{
	static const size_t big[] = { 4095, 4096, 4097, 8191, 8192, 12345, 65535, 65536, 65537, 200001 };
	unsigned char *p = malloc(200001 + 1);

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < 200002; i++)
		p[i] = (unsigned char)rnd();
	for (size_t k = 0; k < sizeof(builds) / sizeof(builds[0]); k++) {
		if (!runs(&builds[k]))
			continue;
		for (size_t len = 0; len <= 1100; len++) {
			assert_true(builds[k].buf(p, len) == XXH3_64bits(p, len));
			assert_true(builds[k].buf(p + 1, len) == XXH3_64bits(p + 1, len));
		}
		for (size_t j = 0; j < sizeof(big) / sizeof(big[0]); j++)
			assert_true(builds[k].buf(p + 1, big[j]) == XXH3_64bits(p + 1, big[j]));
	}
	assert_true(csum_buf(p, 777) == XXH3_64bits(p, 777));
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_pages),
		cmocka_unit_test(test_uniform_pages),
		cmocka_unit_test(test_unaligned),
		cmocka_unit_test(test_damage_found),
		cmocka_unit_test(test_odd_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
